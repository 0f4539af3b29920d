//! The gateway's clients: a hook asks it for a decision and records an outcome through it;
//! `cordon exec` asks it for an analysis (module docs of [`crate::gateway`]).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cordon_governor::{Analysis, Mode, Written};
use cordon_policy::enforcement::Enforcement;
use cordon_policy::facts;

use super::wire::{ExecAnalysisRequest, GatewayReply, GatewayRequest, MAX_LINE_BYTES};
use crate::agents::{HookError, Settings, ToolOutcome, ToolRequest, Verdict};
use crate::exit::CliError;
use crate::home::Home;
use crate::judging::{self, JudgeArgs};

/// Asks the running gateway, if any. `None` when no gateway accepts a connection (decide in
/// process then); once connected, every failure is an error.
/// The whole exchange, connection included, ends within `settings.timeout`, so the hook needs no
/// helper thread to keep its own deadline.
pub fn decide(request: &ToolRequest, settings: &Settings) -> Option<Result<Verdict, HookError>> {
    let deadline = Instant::now() + settings.timeout;
    let stream = connect(settings)?;
    let reply = exchange_within(
        stream,
        &GatewayRequest::Decide {
            request: request.clone(),
            settings: settings.clone(),
        },
        deadline,
        settings.timeout,
    );
    Some(reply.and_then(|reply| match reply {
        GatewayReply::Verdict(verdict) => Ok(*verdict),
        GatewayReply::Error(why) => Err(HookError(why)),
        GatewayReply::Recorded(_) | GatewayReply::Analysis(_) => {
            Err(HookError("the gateway answered out of turn".into()))
        }
    }))
}

/// Records an outcome through the running gateway, if any (`None`: record in process).
pub fn record_outcome(outcome: &ToolOutcome, settings: &Settings) -> Option<Result<(), HookError>> {
    let deadline = Instant::now() + settings.timeout;
    let stream = connect(settings)?;
    let reply = exchange_within(
        stream,
        &GatewayRequest::Outcome(outcome.clone()),
        deadline,
        settings.timeout,
    );
    Some(reply.and_then(|reply| match reply {
        GatewayReply::Recorded(_) => Ok(()),
        GatewayReply::Error(why) => Err(HookError(why)),
        GatewayReply::Verdict(_) | GatewayReply::Analysis(_) => {
            Err(HookError("the gateway answered out of turn".into()))
        }
    }))
}

fn connect(settings: &Settings) -> Option<UnixStream> {
    // The gateway decides under the home's policy only; a hook given `--policy` decides here.
    if settings.policy.is_some() || std::env::var_os("CORDON_GATEWAY").is_some_and(|v| v == "off") {
        return None;
    }
    let home = Home::from_env()?;
    let socket = home.gateway_socket();
    // Another user's socket is not asked; the hook decides in process then.
    trusted_socket(&socket).ok()??;
    connect_within(&socket, settings.timeout).ok()
}

/// Connects to a Unix socket, giving up after `timeout`: a gateway whose backlog is full (it
/// stopped accepting) must not hold the hook. Linux bounds a Unix stream connect by the socket's
/// send timeout, which `UnixStream::connect` gives no way to set first.
fn connect_within(socket: &Path, timeout: Duration) -> nix::Result<UnixStream> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
    use nix::sys::time::{TimeVal, TimeValLike as _};
    use std::os::fd::AsRawFd as _;

    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let millis = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
    socket::setsockopt(&fd, sockopt::SendTimeout, &TimeVal::milliseconds(millis))?;
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(socket)?)?;
    Ok(UnixStream::from(fd))
}

/// One request and its reply line, all of it by `deadline` however the gateway spreads its
/// reply (each read waits only for what time is left).
fn exchange_within(
    mut stream: UnixStream,
    request: &GatewayRequest,
    deadline: Instant,
    timeout: Duration,
) -> Result<GatewayReply, HookError> {
    let late = || HookError(format!("no decision within {} ms", timeout.as_millis()));
    let lost = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => late(),
        _ => HookError(format!("the gateway connection failed: {e}")),
    };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(late)
    };
    let mut line = serde_json::to_string(request)
        .map_err(|e| HookError(format!("cannot encode the gateway request: {e}")))?;
    line.push('\n');
    stream.set_write_timeout(Some(left()?)).map_err(lost)?;
    stream.write_all(line.as_bytes()).map_err(lost)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    loop {
        stream.set_read_timeout(Some(left()?)).map_err(lost)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(lost(e)),
        };
        let start = reply.len();
        reply.extend_from_slice(&chunk[..n]);
        if let Some(end) = reply[start..].iter().position(|b| *b == b'\n') {
            reply.truncate(start + end);
            break;
        }
        if n == 0 || reply.len() as u64 > MAX_LINE_BYTES {
            break;
        }
    }
    serde_json::from_slice(&reply)
        .map_err(|e| HookError(format!("the gateway's reply is malformed: {e}")))
}

fn exchange(mut stream: UnixStream, request: &GatewayRequest) -> Result<GatewayReply, HookError> {
    let lost = |e: std::io::Error| HookError(format!("the gateway connection failed: {e}"));
    let mut line = serde_json::to_string(request)
        .map_err(|e| HookError(format!("cannot encode the gateway request: {e}")))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).map_err(lost)?;
    let mut reply = String::new();
    BufReader::new(std::io::Read::take(&stream, MAX_LINE_BYTES))
        .read_line(&mut reply)
        .map_err(lost)?;
    serde_json::from_str(&reply)
        .map_err(|e| HookError(format!("the gateway's reply is malformed: {e}")))
}

/// How long `cordon exec` waits for the gateway's analysis before deciding in process.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(2);

/// Which policy `cordon exec` runs under, as far as the gateway can know it: the session's (the
/// gateway reads it from the session), or one named with `--policy`, which the gateway never
/// takes from a client.
#[derive(Debug, Clone, Copy)]
pub struct ExecPolicy<'a> {
    pub session: Option<&'a str>,
    /// `--policy` was given on the command line (not filled in from the session).
    pub named_on_command_line: bool,
}

/// `cordon exec`'s analysis: from the gateway when one answers, else in process (see the
/// module docs for which failures fall back and why).
pub fn analyse_for_exec(request: &JudgeArgs, policy: ExecPolicy<'_>) -> Result<Analysis, CliError> {
    let mode = std::env::var("CORDON_GATEWAY").unwrap_or_default();
    if mode == "off" {
        return judging::analyse(request);
    }
    let required = mode == "require";
    if policy.named_on_command_line {
        if required {
            return Err(blocked(
                "CORDON_GATEWAY=require, and the gateway judges only under the policy of the session or home it serves, never a --policy a client names".into(),
            ));
        }
        return judging::analyse(request);
    }
    match ask_for_analysis(request, policy.session) {
        Ok(Some(analysis)) => return Ok(analysis),
        Ok(None) if required => {
            return Err(blocked(
                "CORDON_GATEWAY=require, and no gateway is listening".into(),
            ))
        }
        Ok(None) => {}
        Err(Fallback::Refused(why)) if required => return Err(blocked(why)),
        Err(Fallback::Failed(why)) if required => return Err(blocked(why)),
        // The gateway judged and found the request unusable (bad policy, bad input): deciding in
        // process gives the same error with its own exit code.
        Err(Fallback::Refused(_)) => {}
        Err(Fallback::Failed(why)) => {
            crate::output::say!("cordon: {why}; deciding in process");
        }
    }
    judging::analyse(request)
}

/// `Ok(None)` when there is no socket; an error when what is there is not a socket of this user.
fn trusted_socket(socket: &Path) -> Result<Option<()>, String> {
    let Ok(meta) = std::fs::symlink_metadata(socket) else {
        return Ok(None);
    };
    if !meta.file_type().is_socket() {
        return Err("not a socket".into());
    }
    // Linux owns /proc/self by the process's effective uid.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .map_err(|e| format!("cannot tell this process's user: {e}"))?;
    if meta.uid() != uid {
        return Err(format!(
            "owned by uid {}, not this user ({uid}); not used",
            meta.uid()
        ));
    }
    Ok(Some(()))
}

/// Under `CORDON_GATEWAY=require`: nothing starts (exit 126, as a run that cannot start).
fn blocked(why: String) -> CliError {
    CliError {
        code: crate::exit::BLOCKED,
        message: format!("Blocked: {why}."),
    }
}

/// Why the gateway's analysis is not used.
enum Fallback {
    /// The gateway answered with an error of the request's own.
    Refused(String),
    /// The socket or the reply cannot be trusted or used.
    Failed(String),
}

fn ask_for_analysis(args: &JudgeArgs, session: Option<&str>) -> Result<Option<Analysis>, Fallback> {
    let Some(home) = Home::from_env() else {
        return Ok(None);
    };
    let socket = home.gateway_socket();
    let failed =
        |why: String| Fallback::Failed(format!("the gateway at {}: {why}", socket.display()));
    if trusted_socket(&socket).map_err(failed)?.is_none() {
        return Ok(None);
    }
    let Ok(stream) = UnixStream::connect(&socket) else {
        return Ok(None);
    };
    let request = args.request().map_err(|e| Fallback::Refused(e.message))?;
    let front = cordon_governor::analysis::front(&request);
    let (shell, argv) = match &request.written {
        Written::Shell(text) => (Some(text.clone()), Vec::new()),
        Written::Argv(argv) => (None, argv.clone()),
        // `exec` judges text or an argv; a file tool's call is a hook's, decided by the gateway
        // through `agents::decide`.
        Written::FileTool(_) => {
            return Err(Fallback::Refused(
                "cordon exec runs shell text or an argv, not an agent's file tool".into(),
            ))
        }
    };
    let wire = ExecAnalysisRequest {
        shell,
        argv,
        session: session.map(str::to_string),
        cwd: PathBuf::from(&request.cwd),
        // Resolved against `cwd` by the analysis itself, as in process.
        workspace: request.workspace.clone(),
        hardened: request.hardened,
    };
    let _ = stream.set_read_timeout(Some(EXEC_TIMEOUT));
    let _ = stream.set_write_timeout(Some(EXEC_TIMEOUT));
    let reply = exchange(stream, &GatewayRequest::Analyse(wire)).map_err(|e| failed(e.0))?;
    let answer = match reply {
        GatewayReply::Analysis(answer) => answer,
        GatewayReply::Error(why) => return Err(Fallback::Refused(why)),
        GatewayReply::Verdict(_) | GatewayReply::Recorded(_) => {
            return Err(failed("answered out of turn".into()))
        }
    };
    // The gateway must have judged exactly what this process parsed. (The policy is the one
    // this process would use by construction: the session's, else the policy of the home the
    // socket lives in.)
    // The facts it returns record the enforcement its decision assumed; a local request's
    // decision assumes none.
    let mut judged = answer.facts.clone();
    facts::assume(&mut judged, Enforcement::Local);
    let assumed_hardened = answer.facts.enforcement != Enforcement::Local;
    if judged != front.facts
        || answer.contract != front.contract
        || (assumed_hardened && !request.hardened)
    {
        return Err(failed("judged other facts than this request's".into()));
    }
    Ok(Some(Analysis {
        text: front.text,
        cwd: request.cwd,
        facts: answer.facts,
        native: answer.decision,
        csc_reason_code: answer.csc_reason_code,
        egress: answer.egress,
        contract: front.contract,
        contract_error: front.contract_error,
        script: front.script,
        policy: answer.policy,
        policy_in_force: None,
        mode: if request.hardened {
            Mode::Hardened
        } else {
            Mode::Local
        },
        secrets: answer.secrets,
    }))
}
