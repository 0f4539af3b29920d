//! Cursor's hook protocol: `beforeShellExecution` / `afterShellExecution` JSON on stdin (the
//! command at the top level), `{"permission": "allow" | "deny" | "ask", "user_message",
//! "agent_message"}` on stdout.
//!
//! `beforeShellExecution` cannot rewrite the command. An allow would let the text run as written,
//! outside cordon's sandbox and without a receipt, so cordon allows only the text already in its
//! `cordon exec --shell '…'` form, and answers anything else it would allow with a denial that
//! tells the agent the exact command to run instead. The agent's next attempt is then allowed.

use serde_json::{json, Value};

use super::{
    cwd_or_current, json_reply, opt_str, req_str, Action, Agent, Answer, Event, HookError, Input,
    Reply, ToolOutcome, ToolRequest,
};

pub fn parse(input: &Input) -> Result<Event, HookError> {
    let event = req_str(input, "hook_event_name")?;
    let harness_session = opt_str(input, "conversation_id")?.unwrap_or_default();
    let tool_use_id = opt_str(input, "generation_id")?;
    match event.as_str() {
        "beforeShellExecution" => {
            let workspace = match input.get("workspace_roots") {
                None | Some(Value::Null) => None,
                Some(Value::Array(roots)) => match roots.first() {
                    None => None,
                    Some(Value::String(root)) => Some(root.clone()),
                    Some(_) => return Err(HookError("`workspace_roots` must hold strings".into())),
                },
                Some(_) => return Err(HookError("`workspace_roots` must be an array".into())),
            };
            Ok(Event::Before(ToolRequest {
                agent: Agent::Cursor,
                harness_session,
                tool_use_id,
                cwd: cwd_or_current(opt_str(input, "cwd")?)?,
                workspace,
                action: Action::Shell {
                    command: req_str(input, "command")?,
                },
            }))
        }
        "afterShellExecution" => Ok(Event::After(ToolOutcome {
            agent: Agent::Cursor,
            harness_session,
            tool_use_id,
            tool: "shell".into(),
            command: opt_str(input, "command").ok().flatten(),
            interrupted: None,
            exit_code: None,
            stdout_bytes: input
                .get("output")
                .and_then(Value::as_str)
                .map(|s| s.len() as u64),
            stderr_bytes: None,
            error: None,
        })),
        other => Err(HookError(format!(
            "cordon answers beforeShellExecution and afterShellExecution, not `{other}`"
        ))),
    }
}

/// Renders an answer; `command` is the text as the agent wrote it.
pub fn render(answer: &Answer, command: Option<&str>) -> Reply {
    let permission = |permission: &str, message: &str| json!({"permission": permission, "user_message": message, "agent_message": message});
    match answer {
        Answer::Deny { reason } => json_reply(&permission("deny", reason)),
        Answer::Ask { reason } => json_reply(&permission("ask", reason)),
        Answer::Allow {
            run_as: None,
            reason,
        } => json_reply(&permission("allow", reason)),
        Answer::Allow {
            run_as: Some(run_as),
            reason,
        } => {
            if command == Some(run_as.as_str()) {
                json_reply(&permission(
                    "allow",
                    &format!("{reason} It runs in cordon's sandbox and leaves a receipt."),
                ))
            } else {
                json_reply(&permission(
                    "deny",
                    &format!(
                        "{reason} Cursor cannot hand it to cordon's sandbox itself: run exactly this instead: {run_as}"
                    ),
                ))
            }
        }
    }
}
