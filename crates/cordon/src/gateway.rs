//! The gateway: `cordon serve` answers hook decisions on the home's Unix socket
//! (`state/gateway.sock`, mode 0600), so a hook process does not open the journal and load the
//! key for every tool call.
//!
//! The gateway decides with the very same function the hook runs in process (`hook::decide`) and
//! records through the same `Recorder`, so the two paths cannot give different answers; a test
//! plays one session both ways and compares verdicts and journals. A hook uses the gateway when
//! the socket accepts a connection and decides in process when it does not. Once connected,
//! any failure (a closed connection, a garbled or late reply) is a denial, not a fallback:
//! the gateway may already have recorded the decision.
//!
//! Wire format: one JSON object per line each way. Request `{"decide": {"request": ToolRequest,
//! "settings": Settings}}` or `{"outcome": ToolOutcome}`; reply `{"verdict": Verdict}`,
//! `{"recorded": true}` or `{"error": "sentence"}`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::home::Home;
use crate::hook::evidence::Recorder;
use crate::hook::{self, HookError, Settings, ToolOutcome, ToolRequest, Verdict};

/// Longest request line the gateway reads (a hook input is capped at 4 MiB; its request is
/// smaller, since file contents are not forwarded).
const MAX_LINE_BYTES: u64 = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GatewayRequest {
    Decide {
        request: ToolRequest,
        settings: Settings,
    },
    Outcome(ToolOutcome),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GatewayReply {
    Verdict(Verdict),
    Recorded(bool),
    Error(String),
}

/// A bound gateway socket, ready to serve.
#[derive(Debug)]
pub struct Gateway {
    listener: UnixListener,
    path: PathBuf,
    recorder: Arc<Mutex<Option<Recorder>>>,
}

impl Gateway {
    /// Binds the home's socket. A socket left behind by a gateway that is gone is replaced; one
    /// that still answers means another gateway runs, which is an error.
    pub fn bind(home: &Home) -> Result<Gateway, String> {
        let path = home.gateway_socket();
        if let Some(dir) = path.parent() {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(format!(
                    "{}: another gateway is already answering there",
                    path.display()
                ));
            }
            std::fs::remove_file(&path)
                .map_err(|e| format!("{}: cannot remove the stale socket: {e}", path.display()))?;
        }
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("{}: cannot listen: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: cannot restrict the socket: {e}", path.display()))?;
        Ok(Gateway {
            listener,
            path,
            recorder: Arc::new(Mutex::new(None)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until the listener fails; one thread per connection.
    pub fn serve(self) -> Result<(), String> {
        for stream in self.listener.incoming() {
            let stream = stream.map_err(|e| format!("accept failed: {e}"))?;
            let recorder = Arc::clone(&self.recorder);
            std::thread::spawn(move || connection(stream, &recorder));
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn connection(stream: UnixStream, recorder: &Mutex<Option<Recorder>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(std::io::Read::take(stream, u64::MAX));
    loop {
        reader.get_mut().set_limit(MAX_LINE_BYTES);
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = match serde_json::from_str::<GatewayRequest>(&line) {
            Ok(request) => answer(request, recorder),
            Err(e) => GatewayReply::Error(format!("the gateway request is malformed: {e}")),
        };
        let Ok(mut text) = serde_json::to_string(&reply) else {
            return;
        };
        text.push('\n');
        if writer.write_all(text.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(request: GatewayRequest, recorder: &Mutex<Option<Recorder>>) -> GatewayReply {
    let with_recorder = |f: &mut dyn FnMut(&mut Recorder) -> Result<(), HookError>| {
        let mut guard = recorder
            .lock()
            .map_err(|_| HookError("the gateway's journal is unusable".into()))?;
        if guard.is_none() {
            *guard = Some(Recorder::open()?);
        }
        match guard.as_mut() {
            Some(r) => f(r),
            None => Err(HookError("the gateway's journal is unusable".into())),
        }
    };
    let result = match request {
        GatewayRequest::Decide { request, settings } => {
            hook::decide(&request, &settings).and_then(|verdict| {
                with_recorder(&mut |r| r.decision(&request, &verdict))?;
                Ok(GatewayReply::Verdict(verdict))
            })
        }
        GatewayRequest::Outcome(outcome) => {
            with_recorder(&mut |r| r.outcome(&outcome)).map(|()| GatewayReply::Recorded(true))
        }
    };
    result.unwrap_or_else(|e| GatewayReply::Error(e.0))
}

/// Asks the running gateway, if any. `None` when no gateway accepts a connection (decide in
/// process then); once connected, every failure is an error.
pub fn decide(request: &ToolRequest, settings: &Settings) -> Option<Result<Verdict, HookError>> {
    let stream = connect(settings)?;
    let reply = exchange(
        stream,
        &GatewayRequest::Decide {
            request: request.clone(),
            settings: settings.clone(),
        },
    );
    Some(reply.and_then(|reply| match reply {
        GatewayReply::Verdict(verdict) => Ok(verdict),
        GatewayReply::Error(why) => Err(HookError(why)),
        GatewayReply::Recorded(_) => Err(HookError("the gateway answered out of turn".into())),
    }))
}

/// Records an outcome through the running gateway, if any (`None`: record in process).
pub fn record_outcome(outcome: &ToolOutcome, settings: &Settings) -> Option<Result<(), HookError>> {
    let stream = connect(settings)?;
    let reply = exchange(stream, &GatewayRequest::Outcome(outcome.clone()));
    Some(reply.and_then(|reply| match reply {
        GatewayReply::Recorded(_) => Ok(()),
        GatewayReply::Error(why) => Err(HookError(why)),
        GatewayReply::Verdict(_) => Err(HookError("the gateway answered out of turn".into())),
    }))
}

fn connect(settings: &Settings) -> Option<UnixStream> {
    if std::env::var_os("CORDON_GATEWAY").is_some_and(|v| v == "off") {
        return None;
    }
    let home = Home::from_env()?;
    let stream = UnixStream::connect(home.gateway_socket()).ok()?;
    let _ = stream.set_read_timeout(Some(settings.timeout));
    let _ = stream.set_write_timeout(Some(settings.timeout));
    Some(stream)
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
