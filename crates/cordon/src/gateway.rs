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
//! `cordon exec` asks the gateway only for the decision (`{"analyse": …}`); it parses the text
//! itself, checks that the gateway judged the same facts, and then runs the command in its own
//! process, since the sandbox is per process. An analysis records nothing, so unlike a hook's
//! decision any failure after connecting (no reply within `EXEC_TIMEOUT`, a closed connection,
//! a reply that does not parse or judged other facts) falls back to deciding in process: that is
//! still the policy's own decision, so it is not fail-open, and nothing the socket sent is used.
//! `CORDON_GATEWAY=require` makes every such failure a denial instead (and proves, in tests and
//! benchmarks, which path was taken); `CORDON_GATEWAY=off` never connects. The socket is used
//! only when it is a socket owned by this user; anything else is refused, with a note on stderr.
//!
//! Group commit: the gateway writes each hook record to the journal before it answers, and a
//! flusher thread syncs it right after, one data sync for every record written meanwhile; a
//! record left unsynced longer than `MAX_UNSYNCED` (the flusher fell behind a slow disk) is
//! synced before the next one is written. A crash of any process loses nothing that was
//! answered; a power cut can lose the last few milliseconds of hook records, which never claim
//! that anything ran (docs/journal.md, "Durability of hook records"). A sync that fails drops
//! the open journal: the next request reopens it, which syncs what was written, or is denied.
//!
//! Policy cache: the gateway keeps each policy file loaded and compiled, keyed by the file's
//! identity (path, device, inode, length, mtime). When the identity changes the file is read and
//! its SHA-256 compared: the same bytes keep the cached policy, other bytes are loaded afresh, so
//! an edited policy applies from the next request on and a stale one is never served.
//!
//! Wire format: one JSON object per line each way. Request `{"decide": {"request": ToolRequest,
//! "settings": Settings}}`, `{"outcome": ToolOutcome}` or `{"analyse": ExecRequest}`; reply
//! `{"verdict": Verdict}`, `{"recorded": true}`, `{"analysis": ExecAnalysis}` or
//! `{"error": "sentence"}`.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cordon_core::{Contract, ReasonCode};
use cordon_policy::cedar::CedarEngine;
use cordon_policy::facts::Facts;
use cordon_policy::native::{CompiledPolicy, Context, Decision};
use serde::{Deserialize, Serialize};

use crate::cmd::explain::{self, Analysis, Request};
use crate::cmd::policy::{self as policy_cmd, CedarPolicyFile, PolicyInForce};
use crate::exit::CliError;
use crate::home::Home;
use crate::hook::evidence::Recorder;
use crate::hook::{self, HookError, Settings, ToolOutcome, ToolRequest, Verdict};
use cordon_governor::PolicyRef;

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
    Analyse(ExecRequest),
}

/// What `cordon exec` asks: its request with paths made absolute, and its `$HOME`.
#[derive(Debug, Serialize, Deserialize)]
struct ExecRequest {
    shell: Option<String>,
    argv: Vec<String>,
    policy: Option<PathBuf>,
    cwd: PathBuf,
    workspace: Option<PathBuf>,
    home: String,
    /// Judged for a hardened run (`explain::Request::hardened`).
    #[serde(default)]
    hardened: bool,
}

/// The gateway's analysis: the facts it judged (for the client to check) and the decision.
#[derive(Debug, Serialize, Deserialize)]
struct ExecAnalysis {
    facts: Facts,
    /// The engine's decision (the client plans the launch from its per-command judgements).
    decision: Decision,
    csc_reason_code: Option<ReasonCode>,
    contract: Option<Contract>,
    policy: PolicyRef,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum GatewayReply {
    Verdict(Verdict),
    Recorded(bool),
    Analysis(Box<ExecAnalysis>),
    Error(String),
}

/// The longest a hook record the gateway wrote may stay unsynced before the next record waits
/// for its sync (the flusher normally syncs it within a millisecond or two).
pub const MAX_UNSYNCED: Duration = Duration::from_millis(10);

/// A bound gateway socket, ready to serve.
#[derive(Debug)]
pub struct Gateway {
    listener: UnixListener,
    path: PathBuf,
    journaling: Arc<Journaling>,
}

/// The gateway's open journal, shared by its connections, and the flusher's wake-up call.
#[derive(Debug)]
struct Journaling {
    recorder: Mutex<Option<Recorder>>,
    wake_flusher: Mutex<Sender<()>>,
    /// `CORDON_GATEWAY_SYNC=before-answer`: every record synced before its answer, as a one-shot
    /// hook does (for a deployment that wants it, and as the benchmark's baseline).
    sync_before_answer: bool,
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
        POLICY_CACHE.get_or_init(PolicyCache::default);
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("{}: cannot listen: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: cannot restrict the socket: {e}", path.display()))?;
        let (wake_flusher, wake) = mpsc::channel();
        let journaling = Arc::new(Journaling {
            recorder: Mutex::new(None),
            wake_flusher: Mutex::new(wake_flusher),
            sync_before_answer: std::env::var_os("CORDON_GATEWAY_SYNC")
                .is_some_and(|v| v == "before-answer"),
        });
        let flushing = Arc::clone(&journaling);
        std::thread::Builder::new()
            .name("cordon-flusher".into())
            .spawn(move || flusher(&flushing, &wake))
            .map_err(|e| format!("cannot start the journal flusher: {e}"))?;
        Ok(Gateway {
            listener,
            path,
            journaling,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves until the listener fails; one thread per connection.
    pub fn serve(self) -> Result<(), String> {
        for stream in self.listener.incoming() {
            let stream = stream.map_err(|e| format!("accept failed: {e}"))?;
            let journaling = Arc::clone(&self.journaling);
            std::thread::spawn(move || connection(stream, &journaling));
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Records written past the journal's index before the flusher extends it (the index is derived
/// data; any other writer extends it too, after syncing).
const INDEX_EVERY: u64 = 64;

/// With no record for this long, the flusher extends the index over what is left.
const INDEX_WHEN_IDLE: Duration = Duration::from_millis(200);

/// Syncs the records the connections wrote: woken after each one, it syncs everything written
/// so far at once, so records that arrive during a sync share the next one. The data sync runs
/// without holding the recorder, so decisions go on while the disk works.
fn flusher(journaling: &Journaling, wake: &Receiver<()>) {
    loop {
        match wake.recv_timeout(INDEX_WHEN_IDLE) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                with_open_recorder(journaling, Recorder::flush);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while wake.try_recv().is_ok() {}
        let Some(sync) = with_open_recorder(journaling, |r| r.start_sync()) else {
            continue;
        };
        let synced = sync.run();
        with_open_recorder(journaling, |r| {
            synced.clone()?;
            r.synced(&sync, INDEX_EVERY)
        });
    }
}

/// Runs `f` on the gateway's open journal, if it is open. A failure drops it: reopening
/// repairs the journal, which syncs what was written, or fails, and then every decision is
/// denied until it can record again.
fn with_open_recorder<T>(
    journaling: &Journaling,
    f: impl FnOnce(&mut Recorder) -> Result<T, HookError>,
) -> Option<T> {
    let mut guard = journaling.recorder.lock().ok()?;
    let recorder = guard.as_mut()?;
    match f(recorder) {
        Ok(value) => Some(value),
        Err(e) => {
            eprintln!("cordon serve: {e}; the journal will be reopened");
            *guard = None;
            None
        }
    }
}

fn connection(stream: UnixStream, journaling: &Journaling) {
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
        let unsynced = std::cell::Cell::new(false);
        let reply = match serde_json::from_str::<GatewayRequest>(&line) {
            Ok(request) => answer(request, journaling, &unsynced),
            Err(e) => GatewayReply::Error(format!("the gateway request is malformed: {e}")),
        };
        let written = serde_json::to_string(&reply).is_ok_and(|mut text| {
            text.push('\n');
            writer.write_all(text.as_bytes()).is_ok()
        });
        // The answer goes out first; the flusher, woken now, syncs while the hook prints it. A
        // flusher that is gone cannot sync: the next append then finds the record late and
        // syncs it itself.
        if unsynced.get() {
            if let Ok(wake) = journaling.wake_flusher.lock() {
                let _ = wake.send(());
            }
        }
        if !written {
            return;
        }
    }
}

/// Answers one request; `unsynced` is set when it wrote a record that waits for the flusher.
fn answer(
    request: GatewayRequest,
    journaling: &Journaling,
    unsynced: &std::cell::Cell<bool>,
) -> GatewayReply {
    let with_recorder = |f: &mut dyn FnMut(&mut Recorder) -> Result<(), HookError>| {
        let mut guard = journaling
            .recorder
            .lock()
            .map_err(|_| HookError("the gateway's journal is unusable".into()))?;
        if guard.is_none() {
            let recorder = Recorder::open()?;
            *guard = Some(if journaling.sync_before_answer {
                recorder
            } else {
                recorder.deferring(MAX_UNSYNCED)
            });
        }
        let result = match guard.as_mut() {
            Some(r) => f(r),
            None => Err(HookError("the gateway's journal is unusable".into())),
        };
        unsynced.set(guard.as_ref().is_some_and(Recorder::has_unsynced));
        result
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
        GatewayRequest::Analyse(request) => {
            return analyse_for_client(request).unwrap_or_else(|e| GatewayReply::Error(e.message));
        }
    };
    result.unwrap_or_else(|e| GatewayReply::Error(e.0))
}

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
        GatewayReply::Verdict(verdict) => Ok(verdict),
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
    if std::env::var_os("CORDON_GATEWAY").is_some_and(|v| v == "off") {
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
const EXEC_TIMEOUT: Duration = Duration::from_secs(2);

/// Most distinct (policy, workspace, home) compilations kept; past it the cache starts over.
const MAX_COMPILED: usize = 64;

static POLICY_CACHE: OnceLock<PolicyCache> = OnceLock::new();

/// The policy cache, in the gateway process only (a one-shot process loads once anyway).
pub fn policy_cache() -> Option<&'static PolicyCache> {
    POLICY_CACHE.get()
}

/// Policies loaded and compiled once, reused while their file is unchanged.
#[derive(Default)]
pub struct PolicyCache {
    files: Mutex<HashMap<PathBuf, CachedFile>>,
    builtin: OnceLock<Arc<PolicyInForce>>,
    compiled: Mutex<HashMap<CompileKey, Arc<CompiledPolicy>>>,
    cedar: Mutex<HashMap<CompileKey, Arc<CedarEngine>>>,
}

impl std::fmt::Debug for PolicyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyCache")
    }
}

/// A compilation is the policy's digest with what `{workspace}` and `{home}` mean.
type CompileKey = (String, String, String);

fn compile_key(sha256: &str, context: &Context) -> CompileKey {
    (
        sha256.to_string(),
        context.workspace.clone(),
        context.home.clone(),
    )
}

struct CachedFile {
    identity: FileIdentity,
    /// SHA-256 of the bytes the policy was loaded from.
    digest: String,
    policy: Arc<PolicyInForce>,
}

/// What changes when a file is replaced or written: a rename gives a new inode, a write a new
/// length or mtime (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<FileIdentity> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        })
    }
}

fn lock_failed() -> CliError {
    CliError::internal("the gateway's policy cache is unusable")
}

impl PolicyCache {
    /// The policy in force, as `policy::policy_in_force` finds it, from the cache when the file
    /// is the one loaded before.
    pub fn policy_in_force(&self, explicit: Option<&Path>) -> Result<Arc<PolicyInForce>, CliError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None => match crate::home::first_use()? {
                Some(home) if home.policy().exists() => home.policy(),
                _ => return self.builtin(),
            },
        };
        self.file(&path)
    }

    fn builtin(&self) -> Result<Arc<PolicyInForce>, CliError> {
        if let Some(policy) = self.builtin.get() {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(PolicyInForce::Native(policy_cmd::builtin_pack()?));
        Ok(Arc::clone(self.builtin.get_or_init(|| policy)))
    }

    fn file(&self, path: &Path) -> Result<Arc<PolicyInForce>, CliError> {
        let Some(before) = FileIdentity::of(path) else {
            // Missing or unreadable: the loader says why, exactly as in process.
            return policy_cmd::load_policy_file(path).map(Arc::new);
        };
        let mut files = self.files.lock().map_err(|_| lock_failed())?;
        if let Some(cached) = files.get_mut(path) {
            if cached.identity == before {
                return Ok(Arc::clone(&cached.policy));
            }
            // Touched, copied over or renamed: the same bytes keep the compiled policy.
            if digest(path).as_deref() == Some(cached.digest.as_str())
                && FileIdentity::of(path) == Some(before)
            {
                cached.identity = before;
                return Ok(Arc::clone(&cached.policy));
            }
        }
        files.remove(path);
        let digest_before = digest(path);
        let policy = Arc::new(policy_cmd::load_policy_file(path)?);
        // Cached only when nothing moved while it loaded; otherwise the next request loads again.
        if let Some(digest) = digest_before {
            if FileIdentity::of(path) == Some(before) {
                files.insert(
                    path.to_path_buf(),
                    CachedFile {
                        identity: before,
                        digest,
                        policy: Arc::clone(&policy),
                    },
                );
            }
        }
        Ok(policy)
    }

    /// A native policy compiled for one workspace and home.
    pub fn compiled(
        &self,
        policy: &cordon_policy::native::LoadedNativePolicy,
        context: &Context,
    ) -> Result<Arc<CompiledPolicy>, CliError> {
        let key = compile_key(&policy.sha256, context);
        if let Some(hit) = self.compiled.lock().map_err(|_| lock_failed())?.get(&key) {
            return Ok(Arc::clone(hit));
        }
        let compiled = Arc::new(
            CompiledPolicy::compile(policy, context)
                .map_err(|e| CliError::invalid_input(e.to_string()))?,
        );
        let mut map = self.compiled.lock().map_err(|_| lock_failed())?;
        if map.len() >= MAX_COMPILED {
            map.clear();
        }
        map.insert(key, Arc::clone(&compiled));
        Ok(compiled)
    }

    /// A Cedar policy set validated for one workspace and home.
    pub fn cedar(
        &self,
        policy: &CedarPolicyFile,
        context: &Context,
    ) -> Result<Arc<CedarEngine>, CliError> {
        let key = compile_key(&policy.sha256, context);
        if let Some(hit) = self.cedar.lock().map_err(|_| lock_failed())?.get(&key) {
            return Ok(Arc::clone(hit));
        }
        let engine = Arc::new(
            CedarEngine::new(&policy.text, context)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", policy.name)))?,
        );
        let mut map = self.cedar.lock().map_err(|_| lock_failed())?;
        if map.len() >= MAX_COMPILED {
            map.clear();
        }
        map.insert(key, Arc::clone(&engine));
        Ok(engine)
    }
}

/// SHA-256 of a policy file's bytes (no more than the loader accepts, plus one).
fn digest(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(cordon_core::limits::MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    Some(cordon_core::hash::sha256_hex(&bytes))
}

/// The gateway's side of `cordon exec`: the same analysis the client would make, from the cache.
fn analyse_for_client(request: ExecRequest) -> Result<GatewayReply, CliError> {
    let analysis = explain::analyse_with(
        &Request {
            shell: request.shell,
            policy: request.policy,
            cwd: Some(request.cwd),
            workspace: request.workspace,
            json: false,
            argv: request.argv,
            hardened: request.hardened,
        },
        Some(&request.home),
    )?;
    Ok(GatewayReply::Analysis(Box::new(ExecAnalysis {
        facts: analysis.facts,
        decision: analysis.native,
        csc_reason_code: analysis.csc_reason_code,
        contract: analysis.contract,
        policy: analysis.policy,
    })))
}

/// `cordon exec`'s analysis: from the gateway when one answers, else in process (see the
/// module docs for which failures fall back and why).
pub fn analyse_for_exec(request: &Request) -> Result<Analysis, CliError> {
    let mode = std::env::var("CORDON_GATEWAY").unwrap_or_default();
    if mode == "off" {
        return explain::analyse(request);
    }
    let required = mode == "require";
    match ask_for_analysis(request) {
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
            eprintln!("cordon: {why}; deciding in process");
        }
    }
    explain::analyse(request)
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
        code: 126,
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

fn ask_for_analysis(request: &Request) -> Result<Option<Analysis>, Fallback> {
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
    let (session, front) =
        explain::front(request, None).map_err(|e| Fallback::Refused(e.message))?;
    let cwd_now = std::env::current_dir().map_err(|e| Fallback::Refused(e.to_string()))?;
    let wire = ExecRequest {
        shell: request.shell.clone(),
        argv: request.argv.clone(),
        policy: request.policy.as_deref().map(|p| cwd_now.join(p)),
        cwd: PathBuf::from(&session.cwd),
        // Resolved against `cwd` by the analysis itself, as in process.
        workspace: request.workspace.clone(),
        home: session.home.clone(),
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
    // The gateway must have judged exactly what this process parsed.
    if answer.facts != front.facts || answer.contract != front.contract {
        return Err(failed("judged other facts than this request's".into()));
    }
    Ok(Some(Analysis {
        text: front.text,
        cwd: session.cwd,
        facts: front.facts,
        native: answer.decision,
        csc_reason_code: answer.csc_reason_code,
        contract: front.contract,
        contract_error: front.contract_error,
        script: front.script,
        policy: answer.policy,
    }))
}
