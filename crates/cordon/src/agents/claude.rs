//! Claude Code's hook protocol, which Codex copied: `PreToolUse` / `PostToolUse` JSON on stdin,
//! `hookSpecificOutput.permissionDecision` on stdout.
//!
//! The differences that matter: Codex rejects `ask` and a plain `allow` (it accepts only a denial
//! with a reason, or an allow that rewrites the input), so the core never hands Codex an ask, and
//! an allow without a rewrite prints nothing, which both agents read as "no objection".

use serde_json::{json, Value};

use super::{
    cwd_or_current, file_tools, json_reply, opt_str, req_object, req_str, silent_reply, Action,
    Agent, Answer, Event, FileAccess, HookError, Input, Reply, ToolOutcome, ToolRequest,
};

/// Codex's file-editing tool: a patch in its own format (`*** Update File: path` …).
const CODEX_PATCH_TOOL: &str = "apply_patch";

/// The files a Codex `apply_patch` call changes: its patch is `command` (or `input`, as some
/// Codex releases send it); a patch that names no file is an error.
fn codex_patch(input: &Input) -> Result<Action, HookError> {
    let field = |key: &str| opt_str(input, key).map_err(|e| HookError(format!("tool_input: {e}")));
    let patch = match field("command")? {
        Some(patch) => patch,
        None => {
            field("input")?.ok_or_else(|| HookError("tool_input: `command` is missing".into()))?
        }
    };
    let targets = file_tools::patch_targets(&patch);
    if targets.is_empty() {
        return Err(HookError(
            "tool_input: the patch names no file to add, update, delete or move".into(),
        ));
    }
    Ok(Action::File {
        tool: CODEX_PATCH_TOOL.to_string(),
        access: FileAccess::Write,
        targets,
    })
}

/// What one of Claude Code's file tools names, from its input: `file_path` (`Read`, `Write`,
/// `Edit`, `MultiEdit`), `notebook_path`, `path` (`LS`; `Grep` and `Glob`, where it is optional
/// and means the cwd), `Glob`'s `pattern` under it, and `WebFetch`'s `url`. `None` for a tool
/// that is not a file tool.
fn file_action(tool: &str, input: &Input) -> Result<Option<Action>, HookError> {
    let Some(access) = FileAccess::of_claude_code_tool(tool) else {
        return Ok(None);
    };
    let required =
        |key: &str| req_str(input, key).map_err(|e| HookError(format!("tool_input: {e}")));
    let optional =
        |key: &str| opt_str(input, key).map_err(|e| HookError(format!("tool_input: {e}")));
    let target = match tool {
        "NotebookEdit" => required("notebook_path")?,
        "LS" => required("path")?,
        "Grep" => optional("path")?.unwrap_or_else(|| ".".into()),
        "Glob" => {
            let dir = optional("path")?.unwrap_or_else(|| ".".into());
            file_tools::glob_base(&dir, &required("pattern")?)?
        }
        "WebFetch" => required("url")?,
        _ => required("file_path")?,
    };
    Ok(Some(Action::File {
        tool: tool.to_string(),
        access,
        targets: vec![target],
    }))
}

pub fn parse(agent: Agent, input: &Input) -> Result<Event, HookError> {
    let event = req_str(input, "hook_event_name")?;
    let tool = req_str(input, "tool_name")?;
    let harness_session = opt_str(input, "session_id")?.unwrap_or_default();
    let tool_use_id = opt_str(input, "tool_use_id")?;
    match event.as_str() {
        "PreToolUse" => before(agent, input, tool, harness_session, tool_use_id),
        "PostToolUse" | "PostToolUseFailure" => {
            Ok(after(agent, input, tool, harness_session, tool_use_id))
        }
        other => Err(HookError(format!(
            "cordon answers PreToolUse and PostToolUse, not `{other}`"
        ))),
    }
}

/// `PreToolUse`: the shell text or the file a tool is about to write.
fn before(
    agent: Agent,
    input: &Input,
    tool: String,
    harness_session: String,
    tool_use_id: Option<String>,
) -> Result<Event, HookError> {
    let tool_input = req_object(input, "tool_input")?;
    let action = if tool == "Bash" {
        Action::Shell {
            command: req_str(tool_input, "command")
                .map_err(|e| HookError(format!("tool_input: {e}")))?,
        }
    } else if agent == Agent::Codex && tool == CODEX_PATCH_TOOL {
        codex_patch(tool_input)?
    } else if let Some(action) = file_action(&tool, tool_input)? {
        action
    } else {
        return Err(HookError(format!(
            "cordon does not judge the tool `{tool}`; hook it only on Bash and the file tools (Read, Write, Edit, MultiEdit, NotebookEdit, Grep, Glob, LS, WebFetch)"
        )));
    };
    let workspace = match agent {
        Agent::ClaudeCode => std::env::var("CLAUDE_PROJECT_DIR")
            .ok()
            .filter(|d| !d.is_empty()),
        _ => None,
    };
    Ok(Event::Before(ToolRequest {
        agent,
        harness_session,
        tool_use_id,
        cwd: cwd_or_current(opt_str(input, "cwd")?)?,
        workspace,
        action,
    }))
}

/// `PostToolUse` and `PostToolUseFailure`: how a tool call ended.
fn after(
    agent: Agent,
    input: &Input,
    tool: String,
    harness_session: String,
    tool_use_id: Option<String>,
) -> Event {
    let tool_input = input.get("tool_input").and_then(Value::as_object);
    let response = input.get("tool_response");
    let text_len = |key: &str| {
        response
            .and_then(|r| r.get(key))
            .and_then(Value::as_str)
            .map(|s| s.len() as u64)
    };
    // PostToolUseFailure's `error` carries the command's output after its first line
    // ("Exit code 2"); only that first line is kept, the journal records sizes, not output.
    let error = opt_str(input, "error").ok().flatten().map(|e| {
        e.lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect::<String>()
    });
    let failure_code = error
        .as_deref()
        .and_then(|e| e.strip_prefix("Exit code "))
        .and_then(|n| n.trim().parse::<i64>().ok());
    Event::After(ToolOutcome {
        agent,
        harness_session,
        tool_use_id,
        tool,
        command: tool_input
            .and_then(|t| t.get("command"))
            .and_then(Value::as_str)
            .map(str::to_string),
        interrupted: response
            .and_then(|r| r.get("interrupted"))
            .and_then(Value::as_bool),
        exit_code: response
            .and_then(|r| r.get("exit_code").or_else(|| r.get("exitCode")))
            .and_then(Value::as_i64)
            .or(failure_code),
        stdout_bytes: text_len("stdout"),
        stderr_bytes: text_len("stderr"),
        error,
    })
}

pub fn render(answer: &Answer, input: &Input) -> Reply {
    let decision = |decision: &str, reason: &str| {
        json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": decision,
                "permissionDecisionReason": reason,
            }
        })
    };
    match answer {
        Answer::Deny { reason } => json_reply(&decision("deny", reason)),
        Answer::Ask { reason } => json_reply(&decision("ask", reason)),
        Answer::Allow { run_as: None, .. } => silent_reply(),
        Answer::Allow {
            run_as: Some(command),
            reason,
        } => {
            // The whole tool input goes back (the agent replaces it, it does not merge), with
            // only the command changed.
            let mut updated = input
                .get("tool_input")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            updated.insert("command".into(), Value::String(command.clone()));
            let mut out = decision(
                "allow",
                &format!("{reason} It runs in cordon's sandbox and leaves a receipt."),
            );
            out["hookSpecificOutput"]["updatedInput"] = Value::Object(updated);
            json_reply(&out)
        }
    }
}
