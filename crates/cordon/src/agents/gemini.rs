//! Gemini CLI's hook protocol: `BeforeTool` / `AfterTool` JSON on stdin; a top-level `decision`
//! (`allow`, `deny`, `ask`) and `reason` on stdout, and `hookSpecificOutput.tool_input`, which
//! Gemini merges over the model's arguments (the rewrite).

use std::path::Path;

use serde_json::{json, Value};

use super::{
    cwd_or_current, file_tools, json_reply, opt_str, req_object, req_str, silent_reply, Action,
    Agent, Answer, Event, FileAccess, HookError, Input, Reply, ToolOutcome, ToolRequest,
};

/// Gemini's shell tool.
const SHELL_TOOL: &str = "run_shell_command";
/// What one of Gemini's file tools names, from its arguments, or `None` for another tool. The
/// members were renamed across Gemini releases (`absolute_path` → `file_path`, `path` →
/// `dir_path`), so each name any release used is read; a member present with another type is an
/// error, and so is a tool that names nothing.
fn file_action(tool: &str, input: &Input) -> Result<Option<Action>, HookError> {
    let first = |keys: &[&str]| -> Result<Option<String>, HookError> {
        for key in keys {
            if let Some(value) =
                opt_str(input, key).map_err(|e| HookError(format!("tool_input: {e}")))?
            {
                return Ok(Some(value));
            }
        }
        Ok(None)
    };
    let required = |keys: &[&str]| {
        first(keys)?.ok_or_else(|| HookError(format!("tool_input: `{}` is missing", keys[0])))
    };
    let (access, targets) = match tool {
        "read_file" => (
            FileAccess::Read,
            vec![required(&["file_path", "absolute_path", "path"])?],
        ),
        "write_file" | "replace" => (FileAccess::Write, vec![required(&["file_path"])?]),
        "list_directory" => (FileAccess::List, vec![required(&["dir_path", "path"])?]),
        "search_file_content" => (
            FileAccess::Search,
            vec![first(&["dir_path", "path"])?.unwrap_or_else(|| ".".into())],
        ),
        "glob" => {
            let dir = first(&["dir_path", "path"])?.unwrap_or_else(|| ".".into());
            let pattern = required(&["pattern"])?;
            (
                FileAccess::List,
                vec![file_tools::glob_base(&dir, &pattern)?],
            )
        }
        "read_many_files" => {
            let mut targets = Vec::new();
            for key in ["paths", "include"] {
                targets.extend(string_list(input, key)?);
            }
            let targets = targets
                .iter()
                .map(|entry| file_tools::glob_base(".", entry))
                .collect::<Result<_, _>>()?;
            (FileAccess::Search, targets)
        }
        "web_fetch" => {
            let urls = match first(&["url"])? {
                Some(url) => vec![url],
                None => file_tools::urls_in(&required(&["prompt"])?),
            };
            (FileAccess::Fetch, urls)
        }
        _ => return Ok(None),
    };
    if targets.is_empty() {
        return Err(HookError(format!(
            "tool_input: `{tool}` names no file or URL"
        )));
    }
    Ok(Some(Action::File {
        tool: tool.to_string(),
        access,
        targets,
    }))
}

/// An optional member that is a list of strings.
fn string_list(input: &Input, key: &str) -> Result<Vec<String>, HookError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| HookError(format!("tool_input: `{key}` must hold only strings")))
            })
            .collect(),
        Some(_) => Err(HookError(format!("tool_input: `{key}` must be a list"))),
    }
}

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
            // The project: `GEMINI_PROJECT_DIR`, else the session's directory. The shell tool's
            // `dir_path` moves where a command runs, never what it may write (red-team round
            // sixteen: `dir_path=~/.local/bin` made that directory the writable workspace).
            let session_dir = cwd.clone();
            let project = std::env::var("GEMINI_PROJECT_DIR")
                .ok()
                .filter(|d| !d.is_empty());
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
            } else if let Some(action) = file_action(&tool, tool_input)? {
                action
            } else {
                return Err(HookError(format!(
                    "cordon does not judge the tool `{tool}`; hook it only on run_shell_command and the file tools (read_file, write_file, replace, read_many_files, glob, search_file_content, list_directory, web_fetch)"
                )));
            };
            // Named when it is not the directory the command runs in (the default).
            let workspace = project.or((cwd != session_dir).then_some(session_dir));
            Ok(Event::Before(ToolRequest {
                agent: Agent::Gemini,
                harness_session,
                tool_use_id: None,
                cwd,
                workspace,
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
