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
//! down. What it reports is what that run did: the decision `exec` applied (its `--json` line),
//! the receipt's status and id, and the exit code; nothing is decided twice.
//!
//! The client's session: the server starts one cordon session (`cordon session start`) the
//! first time it runs something, and every run names it (`exec --session`), so the approval
//! requests its runs file carry its id. `list_pending_approvals` lists those requests only,
//! redacted as the approval webhook redacts its message (`cordon_approval::redact`): a client
//! sees neither another session's requests nor the credentials in its own.
//!
//! stdout is the JSON-RPC channel: nothing else is ever printed there. Every line read from stdin
//! that is not JSON is answered with a JSON-RPC parse error (-32700) rather than ignored
//! ([`serve_stdio`]); well-formed JSON of the wrong shape gets rmcp's invalid-request error.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

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
    /// The absolute directory it runs in; default: the server's workspace. It does not move the
    /// workspace: what the command may write is the server's workspace, wherever it runs.
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
    /// The workspace every command of this client is judged and confined for: fixed when the
    /// server starts, never taken from a request (red-team round sixteen: a `cwd` of
    /// `~/.local/bin` made that directory the writable workspace, and a `git` written there ran
    /// on the user's next `git`).
    workspace: PathBuf,
    /// The cordon session of this client, once it ran something.
    session: Arc<Mutex<Option<String>>>,
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
            workspace: Some(self.workspace.clone()),
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
        workspace: PathBuf,
    ) -> Self {
        Self {
            tool_router: Self::tool_router(),
            cordon,
            policy,
            approval_timeout,
            mode,
            workspace,
            session: Arc::new(Mutex::new(None)),
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
        description = "Run a command through cordon: the policy decides, an allowed command runs in cordon's sandbox and leaves a signed receipt. Returns stdout, stderr, exit_code, status, receipt_id, and the outcome and reason of the decision the run applied. A denied or asked command does not run."
    )]
    async fn run_command(&self, Parameters(req): Parameters<CommandRequest>) -> CallToolResult {
        if let Err(e) = self.request(&req) {
            return failure(e);
        }
        match self.run(&req).await {
            // A run that started nothing (denied, asked and not approved, blocked) is an error
            // result: the model must not read it as the command's own output.
            Ok(ran) if ran["ran"] == true => CallToolResult::structured(ran),
            Ok(ran) => CallToolResult::structured_error(ran),
            Err(e) => failure(e),
        }
    }

    /// Pending approval requests.
    #[tool(
        description = "List the approval requests waiting for a person (commands the policy says to ask about)."
    )]
    async fn list_pending_approvals(&self) -> CallToolResult {
        let session = self.session.lock().ok().and_then(|s| s.clone());
        let Some(session) = session else {
            // This client has run nothing, so nothing of its own can be waiting.
            return CallToolResult::structured(json!({ "pending": [] }));
        };
        match pending_approvals(&session) {
            Ok(pending) => CallToolResult::structured(json!({ "pending": pending })),
            Err(e) => failure(e),
        }
    }
}

/// The pending requests of `session` in the home's approval store (none when there is no store
/// yet), with the command lines, directory and reason redacted as the webhook's message is.
fn pending_approvals(session: &str) -> Result<Vec<Value>, String> {
    use cordon_approval::redact::redact;
    let home = crate::home::Home::from_env().ok_or("no config home (set CORDON_HOME or HOME)")?;
    let desk = home.approval_desk();
    let location = desk.location()?;
    if matches!(&location, cordon_approval::StoreLocation::Sqlite(db) if !db.exists()) {
        return Ok(Vec::new());
    }
    let mut store = desk.open_store()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let requests = store
        .requests(true, 1000, now)
        .map_err(|e| format!("cannot read the approval requests: {e}"))?;
    let text = |v: &Value| v.as_str().map(redact);
    Ok(requests
        .into_iter()
        .filter(|r| r.session_id == session)
        .map(|r| {
            let commands: Vec<Value> = r
                .summary
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    json!({
                        "line": text(&c["line"]),
                        "cwd": text(&c["cwd"]),
                        "network": c["network"],
                    })
                })
                .collect();
            json!({
                "id": r.id,
                "session_id": r.session_id,
                "reason": redact(&r.reason),
                "commands": commands,
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
        let session = self.session()?;
        let mut command = tokio::process::Command::new(&self.cordon);
        // The session carries the policy (`--policy` at `cordon mcp`), so the gateway can judge.
        command
            .arg("exec")
            .arg("--json")
            .arg("--session")
            .arg(&session)
            .arg("--receipt")
            .arg(&receipt_path)
            .arg("--approval-timeout")
            .arg(self.approval_timeout.to_string())
            .arg("--mode")
            .arg(self.mode.as_str())
            .arg("--workspace")
            .arg(&self.workspace)
            .current_dir(&self.workspace);
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
        let (told, stderr_text) = exec_told(&stderr.0);
        let run_status = receipt.as_ref().and_then(|r| r.get("status")).cloned();
        // Ran: the receipt says so (a refusal, an unanswered request and a block all leave a
        // `blocked` receipt; an approved request runs and says how it ended).
        let ran = run_status
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|status| status != "blocked");
        Ok(json!({
            "ran": ran,
            "outcome": told["outcome"],
            "reason": told["sentence"],
            "reason_codes": told["codes"],
            "stdout": stdout.0,
            "stdout_truncated": stdout.1,
            "stderr": stderr_text,
            "stderr_truncated": stderr.1,
            "exit_code": status.code(),
            "receipt_id": receipt.as_ref().and_then(|r| r.get("execution_id")).cloned(),
            "status": run_status,
        }))
    }

    /// This client's cordon session: started the first time it is needed, with the server's
    /// directory, its `--policy` and the journal in force.
    fn session(&self) -> Result<String, String> {
        let mut slot = self
            .session
            .lock()
            .map_err(|_| "the MCP server's session is unusable".to_string())?;
        if let Some(id) = slot.as_ref() {
            return Ok(id.clone());
        }
        let home = crate::home::first_use()
            .map_err(|e| e.message)?
            .ok_or("no config home for the session (set CORDON_HOME or HOME)")?;
        let policy = self
            .policy
            .as_ref()
            .map(std::path::absolute)
            .transpose()
            .map_err(|e| format!("the policy path cannot be made absolute: {e}"))?;
        let new = cordon_checkpoint::session::NewSession {
            cwd: std::env::current_dir().ok(),
            policy,
            journal: std::env::var_os("CORDON_JOURNAL").map(PathBuf::from),
        };
        let session = cordon_checkpoint::session::start(&home.sessions_dir(), &new)
            .map_err(|e| format!("cannot start a session for this client: {e}"))?;
        *slot = Some(session.id.clone());
        Ok(session.id)
    }
}

/// What `cordon exec --json` told about its decision (its first stderr line, written before the
/// command starts, so the command's own output cannot stand in for it), and the rest of stderr.
fn exec_told(stderr: &str) -> (Value, String) {
    let mut start = 0;
    for line in stderr.split_inclusive('\n') {
        let text = line.trim_end_matches('\n');
        if let Ok(told @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            if told.get("outcome").is_some() && told.get("executes").is_some() {
                let rest = format!("{}{}", &stderr[..start], &stderr[start + line.len()..]);
                return (told, rest);
            }
        }
        // Only exec's own notes (`cordon: …`) come before its decision line.
        if !text.starts_with("cordon") {
            break;
        }
        start += line.len();
    }
    (Value::Null, stderr.to_string())
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

/// Longest JSON-RPC line read from stdin; a longer one is answered with a parse error.
const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Serves `server` on stdin and stdout. Between stdin and rmcp sits a filter: a line that is not
/// JSON gets a JSON-RPC parse error (-32700, `id` null) and goes no further; every other line is
/// handed to rmcp unchanged. rmcp's output and those errors share stdout, one whole line at a
/// time.
pub async fn serve_stdio(server: CordonMcp) -> Result<(), String> {
    use rmcp::ServiceExt as _;
    let (rmcp_side, filter_side) = tokio::io::duplex(1 << 20);
    let (from_rmcp, to_rmcp) = tokio::io::split(filter_side);
    let (errors, errors_out) = tokio::sync::mpsc::channel::<String>(64);
    let output = tokio::spawn(write_output(from_rmcp, errors_out));
    tokio::spawn(filter_input(tokio::io::stdin(), to_rmcp, errors));
    let running = server
        .serve(rmcp_side)
        .await
        .map_err(|e| format!("MCP initialization failed: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("the MCP server failed: {e}"))?;
    let _ = output.await;
    Ok(())
}

/// The JSON-RPC 2.0 parse error for a line that is not JSON.
fn parse_error(why: &str) -> String {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("Parse error: {why}")}}).to_string()
}

async fn filter_input(
    stdin: impl tokio::io::AsyncRead + Unpin,
    mut to_rmcp: impl tokio::io::AsyncWrite + Unpin,
    errors: tokio::sync::mpsc::Sender<String>,
) {
    let mut reader = tokio::io::BufReader::new(stdin);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_MESSAGE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.len() > MAX_MESSAGE_BYTES && line.last() != Some(&b'\n') {
            // Skip the rest of the oversized line, then say so.
            let mut rest = Vec::new();
            if reader.read_until(b'\n', &mut rest).await.is_err() {
                break;
            }
            let _ = errors
                .send(parse_error("the message is larger than 4 MiB"))
                .await;
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(_) => {
                if to_rmcp.write_all(text).await.is_err() || to_rmcp.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
            Err(e) => {
                let _ = errors.send(parse_error(&format!("not JSON ({e})"))).await;
            }
        }
    }
    // End of input: rmcp sees it too and the server stops.
    let _ = to_rmcp.shutdown().await;
}

async fn write_output(
    from_rmcp: impl tokio::io::AsyncRead + Unpin,
    mut errors: tokio::sync::mpsc::Receiver<String>,
) {
    let mut stdout = tokio::io::stdout();
    let mut lines = tokio::io::BufReader::new(from_rmcp).lines();
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => line,
                _ => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(error) => error,
                None => {
                    errors_open = false;
                    continue;
                }
            },
        };
        let written = stdout.write_all(line.as_bytes()).await.is_ok()
            && stdout.write_all(b"\n").await.is_ok()
            && stdout.flush().await.is_ok();
        if !written {
            break;
        }
    }
}
