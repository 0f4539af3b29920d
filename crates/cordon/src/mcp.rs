//! The MCP server `cordon mcp` runs on stdio, so any MCP client (every agent in
//! docs/integrations.md can be one) runs commands through cordon instead of its own shell.
//!
//! Tools:
//! - `check_command`: decide only, nothing runs;
//! - `run_command`: decide, and when allowed run it in the sandbox with a receipt;
//! - `list_pending_approvals`: the approval requests waiting for a person.
//!
//! `run_command` runs the command by starting this same binary as `cordon exec … --receipt FILE`
//! with pipes for its output: the exact path a person or a hook takes, so the MCP server has no
//! execution code of its own to get wrong, and a crash of the command cannot take the server
//! down. The decision shown to the client is the one `exec` reports in its receipt.
//!
//! stdout is the JSON-RPC channel: nothing else is ever printed there.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::AsyncReadExt as _;

use cordon_governor::{Mode, Probe as _};

use crate::judging::{self, JudgeArgs};

/// Output kept per stream and returned to the client; the rest is counted, not kept.
const MAX_OUTPUT_BYTES: usize = 256 << 10;

/// How long `run_command` waits for `cordon exec` before killing it (exec enforces the contract's
/// own timeout inside; this only bounds a stuck child).
const RUN_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// What to judge or run: shell text, or an argv run without a shell.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CommandRequest {
    /// Shell text as you would type it in bash, e.g. `cd web && npm test`.
    #[serde(default)]
    pub command: Option<String>,
    /// Alternatively the program and its arguments, e.g. ["git", "status"].
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// The absolute directory it runs in; default: the server's working directory.
    #[serde(default)]
    pub cwd: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CordonMcp {
    tool_router: ToolRouter<Self>,
    cordon: PathBuf,
    policy: Option<PathBuf>,
    approval_timeout: u64,
    mode: Mode,
}

/// A tool failure the client reads as an error result (never a protocol error: the model should
/// see the sentence).
fn failure(message: impl Into<String>) -> CallToolResult {
    CallToolResult::structured_error(json!({"outcome": "deny", "error": message.into()}))
}

impl CordonMcp {
    fn request(&self, req: &CommandRequest) -> Result<JudgeArgs, String> {
        let (shell, argv) = match (&req.command, &req.argv) {
            (Some(text), None) => (Some(text.clone()), Vec::new()),
            (None, Some(argv)) if !argv.is_empty() => (None, argv.clone()),
            (Some(_), Some(_)) => return Err("give either `command` or `argv`, not both".into()),
            _ => return Err("give `command` (shell text) or `argv` (a non-empty list)".into()),
        };
        if let Some(cwd) = &req.cwd {
            if !std::path::Path::new(cwd).is_absolute() {
                return Err(format!("`cwd` must be an absolute path, got {cwd:?}"));
            }
        }
        Ok(JudgeArgs {
            shell,
            policy: self.policy.clone(),
            cwd: req.cwd.as_ref().map(PathBuf::from),
            workspace: None,
            json: false,
            argv,
            // Judged as `run_command` will run it: a hardened run grants new files through their
            // directory, and the decision must cover that.
            hardened: self.mode == Mode::Hardened,
        })
    }

    /// The decision on a request, as the hook would make it: a command that would run in
    /// hardened mode on a kernel that cannot confine it is denied here too.
    fn decide(&self, req: &CommandRequest) -> Result<Value, String> {
        let request = self.request(req)?;
        let analysis = judging::analyse(&request).map_err(|e| e.message)?;
        let mut decision = analysis.decision();
        if decision.runs() && self.mode == Mode::Hardened {
            if let Some(why) = cordon_governor::SystemProbe.hardened_unavailable() {
                decision = decision.unconfinable(&why);
            }
        }
        Ok(json!({
            "command": analysis.text,
            "cwd": analysis.cwd,
            "outcome": decision.outcome.as_str(),
            "reason": decision.sentence,
            "reason_codes": decision.code_strings(),
            "policy": decision.policy.name,
            "policy_sha256": decision.policy.sha256,
        }))
    }
}

#[tool_router]
impl CordonMcp {
    pub fn new(
        cordon: PathBuf,
        policy: Option<PathBuf>,
        approval_timeout: u64,
        mode: Mode,
    ) -> Self {
        Self {
            tool_router: Self::tool_router(),
            cordon,
            policy,
            approval_timeout,
            mode,
        }
    }

    /// Decide only.
    #[tool(
        description = "Ask cordon whether a command may run under the policy in force, without running it. Returns outcome (allow, deny, ask, redirect, allow_with_checkpoint) and the reason."
    )]
    async fn check_command(&self, Parameters(req): Parameters<CommandRequest>) -> CallToolResult {
        match self.decide(&req) {
            Ok(decision) => CallToolResult::structured(decision),
            Err(e) => failure(e),
        }
    }

    /// Decide, and run in the sandbox when allowed.
    #[tool(
        description = "Run a command through cordon: the policy decides, an allowed command runs in cordon's sandbox and leaves a signed receipt. Returns stdout, stderr, exit_code, outcome, reason and receipt_id. A denied or asked command does not run."
    )]
    async fn run_command(&self, Parameters(req): Parameters<CommandRequest>) -> CallToolResult {
        let decision = match self.decide(&req) {
            Ok(decision) => decision,
            Err(e) => return failure(e),
        };
        match self.run(&req).await {
            Ok(mut ran) => {
                for key in [
                    "outcome",
                    "reason",
                    "reason_codes",
                    "policy",
                    "policy_sha256",
                ] {
                    ran[key] = decision[key].clone();
                }
                let refused = !matches!(
                    decision["outcome"].as_str(),
                    Some("allow" | "allow_with_checkpoint" | "redirect")
                );
                if refused {
                    CallToolResult::structured_error(ran)
                } else {
                    CallToolResult::structured(ran)
                }
            }
            Err(e) => failure(e),
        }
    }

    /// Pending approval requests.
    #[tool(
        description = "List the approval requests waiting for a person (commands the policy says to ask about)."
    )]
    async fn list_pending_approvals(&self) -> CallToolResult {
        match pending_approvals() {
            Ok(pending) => CallToolResult::structured(json!({ "pending": pending })),
            Err(e) => failure(e),
        }
    }
}

/// The pending requests in the home's approval store (none when there is no store yet).
fn pending_approvals() -> Result<Vec<Value>, String> {
    let home = crate::home::Home::from_env().ok_or("no config home (set CORDON_HOME or HOME)")?;
    let desk = home.approval_desk();
    let location = desk.location()?;
    if matches!(&location, cordon_approval::StoreLocation::Sqlite(db) if !db.exists()) {
        return Ok(Vec::new());
    }
    let mut store = desk.open_store()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let requests = store
        .requests(true, 100, now)
        .map_err(|e| format!("cannot read the approval requests: {e}"))?;
    Ok(requests
        .into_iter()
        .map(|r| {
            json!({
                "id": r.id,
                "session_id": r.session_id,
                "reason": r.reason,
                "commands": r.summary,
                "contract_sha256": r.contract_sha256,
                "required_approvers": r.required_approvers,
                "created_at": r.created_at,
                "deadline": r.deadline,
            })
        })
        .collect())
}

impl CordonMcp {
    /// Runs `cordon exec` as a child and collects its output and receipt.
    async fn run(&self, req: &CommandRequest) -> Result<Value, String> {
        // A private directory (mode 0700) for the receipt, removed when dropped.
        let dir = tempfile::Builder::new()
            .prefix("cordon-mcp-")
            .tempdir()
            .map_err(|e| format!("cannot create a directory for the receipt: {e}"))?;
        let receipt_path = dir.path().join("receipt.json");
        let mut command = tokio::process::Command::new(&self.cordon);
        command
            .arg("exec")
            .arg("--receipt")
            .arg(&receipt_path)
            .arg("--approval-timeout")
            .arg(self.approval_timeout.to_string())
            .arg("--mode")
            .arg(self.mode.as_str());
        if let Some(policy) = &self.policy {
            command.arg("--policy").arg(policy);
        }
        if let Some(cwd) = &req.cwd {
            command.arg("--cwd").arg(cwd).current_dir(cwd);
        }
        match (&req.command, &req.argv) {
            (Some(text), _) => {
                command.arg("--shell").arg(text);
            }
            (None, Some(argv)) => {
                command.arg("--").args(argv);
            }
            (None, None) => return Err("nothing to run".into()),
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start cordon exec: {e}"))?;
        let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("cordon exec's output pipes are missing".into());
        };
        let collect = async move {
            let (o, e) = tokio::join!(read_capped(&mut out), read_capped(&mut err));
            let status = child.wait().await;
            (o, e, status)
        };
        let (stdout, stderr, status) = tokio::time::timeout(RUN_DEADLINE, collect)
            .await
            .map_err(|_| "cordon exec did not finish in time and was killed".to_string())?;
        let status = status.map_err(|e| format!("cordon exec failed: {e}"))?;
        let receipt: Option<Value> = std::fs::read(&receipt_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(json!({
            "stdout": stdout.0,
            "stdout_truncated": stdout.1,
            "stderr": stderr.0,
            "stderr_truncated": stderr.1,
            "exit_code": status.code(),
            "receipt_id": receipt.as_ref().and_then(|r| r.get("execution_id")).cloned(),
            "status": receipt.as_ref().and_then(|r| r.get("status")).cloned(),
        }))
    }
}

/// Reads a stream to its end, keeping the first [`MAX_OUTPUT_BYTES`] (as lossy UTF-8).
async fn read_capped(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (String, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CordonMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cordon", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Run shell commands through cordon: check_command decides, run_command decides and runs allowed commands in a sandbox with a signed receipt.",
            )
    }
}
