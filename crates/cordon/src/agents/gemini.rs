//! Gemini CLI's hook protocol: `BeforeTool` / `AfterTool` JSON on stdin; a top-level `decision`
//! (`allow`, `deny`, `ask`) and `reason` on stdout, and `hookSpecificOutput.tool_input`, which
//! Gemini merges over the model's arguments (the rewrite).

use std::path::Path;

use serde_json::{json, Value};

use super::{
    cwd_or_current, json_reply, opt_str, req_object, req_str, silent_reply, Action, Agent, Answer,
    Event, HookError, Input, Reply, ToolOutcome, ToolRequest,
};

/// Gemini's shell tool.
const SHELL_TOOL: &str = "run_shell_command";
/// Gemini's file-writing tools (both name the file `file_path`).
const WRITE_TOOLS: &[&str] = &["write_file", "replace"];

pub fn parse(input: &Input) -> Result<Event, HookError> {
    let event = req_str(input, "hook_event_name")?;
    let tool = req_str(input, "tool_name")?;
    let harness_session = opt_str(input, "session_id")?.unwrap_or_default();
    match event.as_str() {
        "BeforeTool" => {
            let tool_input = req_object(input, "tool_input")?;
            let field = |key: &str| {
                req_str(tool_input, key).map_err(|e| HookError(format!("tool_input: {e}")))
            };
            let mut cwd = cwd_or_current(opt_str(input, "cwd")?)?;
            let action = if tool == SHELL_TOOL {
                // The shell tool may run in a subdirectory of the project.
                if let Some(dir) = opt_str(tool_input, "dir_path")
                    .map_err(|e| HookError(format!("tool_input: {e}")))?
                    .filter(|d| !d.is_empty())
                {
                    cwd = Path::new(&cwd).join(dir).to_string_lossy().into_owned();
                }
                Action::Shell {
                    command: field("command")?,
                }
            } else if WRITE_TOOLS.contains(&tool.as_str()) {
                Action::Write {
                    tool: tool.clone(),
                    paths: vec![field("file_path")?],
                }
            } else {
                return Err(HookError(format!(
                    "cordon does not judge the tool `{tool}`; hook it only on run_shell_command, write_file and replace"
                )));
            };
            Ok(Event::Before(ToolRequest {
                agent: Agent::Gemini,
                harness_session,
                tool_use_id: None,
                cwd,
                workspace: std::env::var("GEMINI_PROJECT_DIR")
                    .ok()
                    .filter(|d| !d.is_empty()),
                action,
            }))
        }
        "AfterTool" => {
            let tool_input = input.get("tool_input").and_then(Value::as_object);
            Ok(Event::After(ToolOutcome {
                agent: Agent::Gemini,
                harness_session,
                tool_use_id: None,
                tool,
                command: tool_input
                    .and_then(|t| t.get("command"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                interrupted: None,
                exit_code: None,
                stdout_bytes: None,
                stderr_bytes: None,
                error: None,
            }))
        }
        other => Err(HookError(format!(
            "cordon answers BeforeTool and AfterTool, not `{other}`"
        ))),
    }
}

pub fn render(answer: &Answer) -> Reply {
    match answer {
        Answer::Deny { reason } => json_reply(&json!({"decision": "deny", "reason": reason})),
        Answer::Ask { reason } => json_reply(&json!({"decision": "ask", "reason": reason})),
        Answer::Allow { run_as: None, .. } => silent_reply(),
        Answer::Allow {
            run_as: Some(command),
            reason,
        } => json_reply(&json!({
            "decision": "allow",
            "reason": format!("{reason} It runs in cordon's sandbox and leaves a receipt."),
            "hookSpecificOutput": {
                "hookEventName": "BeforeTool",
                "tool_input": {"command": command},
            },
        })),
    }
}
