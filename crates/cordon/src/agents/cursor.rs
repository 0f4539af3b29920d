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
    cwd_or_current, json_reply, opt_str, req_str, Action, Agent, Answer, Event, FileAccess,
    HookError, Input, Reply, ToolOutcome, ToolRequest,
};

pub fn parse(input: &Input) -> Result<Event, HookError> {
    let event = req_str(input, "hook_event_name")?;
    let harness_session = opt_str(input, "conversation_id")?.unwrap_or_default();
    let tool_use_id = opt_str(input, "generation_id")?;
    match event.as_str() {
        "beforeShellExecution" => {
            let workspace = workspace_root(input)?;
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
        // The agent reading a file into its context: judged like `Read`.
        READ_EVENT => Ok(Event::Before(ToolRequest {
            agent: Agent::Cursor,
            harness_session,
            tool_use_id,
            cwd: cwd_or_current(opt_str(input, "cwd")?)?,
            workspace: workspace_root(input)?,
            action: Action::File {
                tool: READ_EVENT.to_string(),
                access: FileAccess::Read,
                targets: vec![req_str(input, "file_path")?],
            },
        })),
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
            "cordon answers beforeShellExecution, beforeReadFile and afterShellExecution, not `{other}`"
        ))),
    }
}

/// The event of Cursor reading a file for the agent.
pub const READ_EVENT: &str = "beforeReadFile";

/// The first of `workspace_roots`: what `{workspace}` means.
fn workspace_root(input: &Input) -> Result<Option<String>, HookError> {
    match input.get("workspace_roots") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(roots)) => match roots.first() {
            None => Ok(None),
            Some(Value::String(root)) => Ok(Some(root.clone())),
            Some(_) => Err(HookError("`workspace_roots` must hold strings".into())),
        },
        Some(_) => Err(HookError("`workspace_roots` must be an array".into())),
    }
}

/// The answer to `beforeReadFile`, which knows only allow and deny: what the policy asks about
/// is denied, with the reason.
pub fn render_read(answer: &Answer) -> Reply {
    match answer {
        Answer::Ask { reason } => render(
            &Answer::Deny {
                reason: format!(
                    "{reason} Cursor cannot ask before reading a file, so cordon denies it; read it yourself if it should be read."
                ),
            },
            None,
        ),
        other => render(other, None),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_read_the_policy_asks_about_is_denied_with_the_reason() {
        let reply = render_read(&Answer::Ask {
            reason: "Needs approval: x.".into(),
        });
        let v: Value = serde_json::from_str(&reply.stdout).unwrap();
        assert_eq!(v["permission"], "deny");
        let message = v["agent_message"].as_str().unwrap();
        assert!(
            message.starts_with("Needs approval: x. Cursor cannot ask"),
            "{message}"
        );
        // Positive control: an allow stays an allow.
        let reply = render_read(&Answer::Allow {
            run_as: None,
            reason: "Allowed.".into(),
        });
        let v: Value = serde_json::from_str(&reply.stdout).unwrap();
        assert_eq!(v["permission"], "allow");
    }
}
