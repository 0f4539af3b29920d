//! `cordon serve`'s gateway: the socket, the connections, the journal it keeps open and syncs in
//! groups, and the policy cache every decision it makes goes through (module docs of
//! [`crate::gateway`]).
//!
//! Hostile clients: every connection is admitted by [`peer::admit`] before it is read (same uid,
//! not inside a sandbox). Requests name no policy: a decision uses the home's policy, an
//! analysis the policy of the session it names, else the home's. An outcome is recorded only for
//! a decision this gateway made ([`DecisionsMade`]), linked to it. No lock is held while a file is
//! opened or read (the one exception is the journal append itself, to the file the recorder
//! holds open); the policy is opened with `O_NOFOLLOW | O_NONBLOCK` and must be a regular file
//! (`fstat`), so a FIFO or a link is refused at once. An error reply never carries what a file
//! holds: a policy that does not load is named, and the reason goes to `cordon serve`'s stderr.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cordon_governor::policies::{self, CedarPolicyFile, PolicySource};
use cordon_governor::{AnalysisRequest, Error, PolicyChoice, PolicyInForce, Written};
use cordon_policy::cedar::CedarEngine;
use cordon_policy::native::{CompiledPolicy, Context, LoadedNativePolicy};

use super::peer;
use super::wire::{
    ExecAnalysis, ExecAnalysisRequest, GatewayReply, GatewayRequest, MAX_LINE_BYTES,
};
use crate::agents::evidence::{self, DecidedCall, DecisionsMade, Recorder};
use crate::agents::{self, HookError};
use crate::home::Home;

/// The longest a hook record the gateway wrote may stay unsynced before the next record waits
/// for its sync (the flusher normally syncs it within a millisecond or two).
pub const MAX_UNSYNCED: Duration = Duration::from_millis(10);

/// A bound gateway socket, ready to serve.
#[derive(Debug)]
pub struct Gateway {
    listener: UnixListener,
    path: PathBuf,
    journaling: Arc<Journaling>,
    policies: Arc<PolicyCache>,
}

/// The gateway's open journal, shared by its connections, and the flusher's wake-up call.
#[derive(Debug)]
struct Journaling {
    recorder: Mutex<Option<Recorder>>,
    /// The decisions this gateway recorded: the only ones an outcome may be linked to.
    decisions: Mutex<DecisionsMade>,
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
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("{}: cannot listen: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: cannot restrict the socket: {e}", path.display()))?;
        let (wake_flusher, wake) = mpsc::channel();
        let journaling = Arc::new(Journaling {
            recorder: Mutex::new(None),
            decisions: Mutex::new(DecisionsMade::default()),
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
            policies: Arc::new(PolicyCache::default()),
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
            let policies = Arc::clone(&self.policies);
            std::thread::spawn(move || connection(stream, &journaling, &policies));
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
            crate::output::say!("cordon serve: {e}; the journal will be reopened");
            *guard = None;
            None
        }
    }
}

fn connection(stream: UnixStream, journaling: &Journaling, policies: &PolicyCache) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    if let Err(why) = peer::admit(&stream) {
        crate::output::say!("cordon serve: gateway: refused a connection: {why}");
        // One line saying so, then the connection closes unread.
        let _ = writer.set_write_timeout(Some(Duration::from_millis(100)));
        if let Ok(mut text) = serde_json::to_string(&GatewayReply::Error(format!("refused: {why}")))
        {
            text.push('\n');
            let _ = writer.write_all(text.as_bytes());
        }
        return;
    }
    let mut reader = BufReader::new(std::io::Read::take(stream, u64::MAX));
    loop {
        reader.get_mut().set_limit(MAX_LINE_BYTES);
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let unsynced = Cell::new(false);
        let reply = match serde_json::from_str::<GatewayRequest>(&line) {
            Ok(request) => answer(request, journaling, policies, &unsynced),
            // serde's message quotes at most the request itself (an unknown field, a value of
            // the wrong type), never a file.
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

impl Journaling {
    /// Runs `f` on the open journal, opening it first when needed. Opening reads the key and
    /// repairs the journal, so it happens without the lock; the append `f` makes is the only
    /// file I/O done under it. `unsynced` is set when a record now waits for the flusher.
    fn with_recorder<T>(
        &self,
        unsynced: &Cell<bool>,
        f: impl FnOnce(&mut Recorder) -> Result<T, HookError>,
    ) -> Result<T, HookError> {
        let unusable = || HookError("the gateway's journal is unusable".into());
        let open = self.recorder.lock().map_err(|_| unusable())?.is_some();
        let opened = if open {
            None
        } else {
            Some(self.open_recorder()?)
        };
        let mut guard = self.recorder.lock().map_err(|_| unusable())?;
        if guard.is_none() {
            *guard = opened;
        }
        let recorder = guard.as_mut().ok_or_else(unusable)?;
        let result = f(recorder);
        unsynced.set(recorder.has_unsynced());
        result
    }

    fn open_recorder(&self) -> Result<Recorder, HookError> {
        let recorder = Recorder::open()?;
        Ok(if self.sync_before_answer {
            recorder
        } else {
            recorder.deferring(MAX_UNSYNCED)
        })
    }
}

/// Answers one request; `unsynced` is set when it wrote a record that waits for the flusher.
fn answer(
    request: GatewayRequest,
    journaling: &Journaling,
    policies: &PolicyCache,
    unsynced: &Cell<bool>,
) -> GatewayReply {
    let lost = || HookError("the gateway's record of its decisions is unusable".into());
    let result = match request {
        GatewayRequest::Decide { request, settings } => {
            // `settings.policy` never crosses the wire: the home's policy decides.
            agents::decide(&request, &settings, policies).and_then(|verdict| {
                let link =
                    journaling.with_recorder(unsynced, |r| r.decision(&request, &verdict))?;
                journaling
                    .decisions
                    .lock()
                    .map_err(|_| lost())?
                    .remember(DecidedCall::of(&request, &verdict), link);
                Ok(GatewayReply::Verdict(Box::new(verdict)))
            })
        }
        GatewayRequest::Outcome(outcome) => {
            let decision = journaling
                .decisions
                .lock()
                .map_err(|_| lost())
                .and_then(|made| {
                    made.find(&outcome)
                        .ok_or_else(|| evidence::no_decision(&outcome))
                });
            decision.and_then(|link| {
                journaling
                    .with_recorder(unsynced, |r| r.outcome(&outcome, &link))
                    .map(|()| GatewayReply::Recorded(true))
            })
        }
        GatewayRequest::Analyse(request) => {
            return analyse_for_client(request, policies)
                .unwrap_or_else(|e| GatewayReply::Error(e.to_string()));
        }
    };
    result.unwrap_or_else(|e| GatewayReply::Error(e.0))
}

/// Most distinct (policy, workspace, home) compilations kept; past it the cache starts over.
const MAX_COMPILED: usize = 64;

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
    fn of(meta: &std::fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// A policy file opened the one way the gateway opens files: not through a final symbolic link
/// (`O_NOFOLLOW`), without waiting for a writer (`O_NONBLOCK`: a FIFO opens at once), and then
/// only if `fstat` says it is a regular file. Its identity and its bytes come from the same
/// descriptor.
struct PolicyFile {
    file: File,
    identity: FileIdentity,
}

impl PolicyFile {
    fn open(path: &Path) -> Result<PolicyFile, Error> {
        use nix::fcntl::OFlag;
        let named = |what: &str| Error::InvalidInput(format!("{}: {what}", path.display()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC).bits())
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == nix::errno::Errno::ELOOP as i32 => named(
                    "the policy in force is a symbolic link; the gateway reads regular files only",
                ),
                _ => named(&format!(
                    "the policy in force cannot be opened ({})",
                    e.kind()
                )),
            })?;
        let meta = file.metadata().map_err(|e| {
            named(&format!(
                "the policy in force cannot be examined ({})",
                e.kind()
            ))
        })?;
        if !meta.file_type().is_file() {
            return Err(named(
                "the policy in force is not a regular file; the gateway reads regular files only",
            ));
        }
        Ok(PolicyFile {
            file,
            identity: FileIdentity::of(&meta),
        })
    }

    /// The bytes, no more than a policy may hold.
    fn read(self, path: &Path) -> Result<Vec<u8>, Error> {
        let mut bytes = Vec::new();
        let limit = cordon_core::limits::MAX_POLICY_BYTES;
        self.file
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "{}: the policy in force cannot be read ({})",
                    path.display(),
                    e.kind()
                ))
            })?;
        if bytes.len() as u64 > limit {
            return Err(Error::InvalidInput(format!(
                "{}: the policy in force is larger than {limit} bytes",
                path.display()
            )));
        }
        Ok(bytes)
    }
}

fn lock_failed() -> Error {
    Error::Internal("the gateway's policy cache is unusable".into())
}

impl PolicySource for PolicyCache {
    /// The policy in force, from the cache when the file is the one loaded before.
    fn policy(&self, choice: &PolicyChoice) -> Result<Arc<PolicyInForce>, Error> {
        match choice {
            PolicyChoice::File(path) => self.file(path),
            PolicyChoice::Builtin => self.builtin(),
        }
    }

    fn compiled(
        &self,
        policy: &LoadedNativePolicy,
        context: &Context,
    ) -> Result<Arc<CompiledPolicy>, Error> {
        let key = compile_key(&policy.sha256, context);
        cached(&self.compiled, key, || policies::compile(policy, context))
    }

    fn cedar(
        &self,
        policy: &CedarPolicyFile,
        context: &Context,
    ) -> Result<Arc<CedarEngine>, Error> {
        let key = compile_key(&policy.sha256, context);
        cached(&self.cedar, key, || {
            policies::validate_cedar(policy, context)
        })
    }
}

/// The value `make` builds for `key`, from `map` when it holds it; past [`MAX_COMPILED`]
/// entries the map starts over.
fn cached<T>(
    map: &Mutex<HashMap<CompileKey, Arc<T>>>,
    key: CompileKey,
    make: impl FnOnce() -> Result<T, Error>,
) -> Result<Arc<T>, Error> {
    if let Some(hit) = map.lock().map_err(|_| lock_failed())?.get(&key) {
        return Ok(Arc::clone(hit));
    }
    let made = Arc::new(make()?);
    let mut map = map.lock().map_err(|_| lock_failed())?;
    if map.len() >= MAX_COMPILED {
        map.clear();
    }
    map.insert(key, Arc::clone(&made));
    Ok(made)
}

impl PolicyCache {
    fn builtin(&self) -> Result<Arc<PolicyInForce>, Error> {
        if let Some(policy) = self.builtin.get() {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(PolicyInForce::Native(policies::builtin_pack()?));
        Ok(Arc::clone(self.builtin.get_or_init(|| policy)))
    }

    /// The policy at `path`: from the cache while the file is the one loaded before, else read
    /// and loaded. Opening, reading and parsing happen with no lock held; the lock only guards
    /// the map.
    fn file(&self, path: &Path) -> Result<Arc<PolicyInForce>, Error> {
        let opened = PolicyFile::open(path)?;
        let identity = opened.identity;
        if let Some(cached) = self.files.lock().map_err(|_| lock_failed())?.get(path) {
            if cached.identity == identity {
                return Ok(Arc::clone(&cached.policy));
            }
        }
        let bytes = opened.read(path)?;
        let digest = cordon_core::hash::sha256_hex(&bytes);
        // Touched, copied over or renamed: the same bytes keep the compiled policy.
        let same_bytes = self
            .files
            .lock()
            .map_err(|_| lock_failed())?
            .get(path)
            .filter(|cached| cached.digest == digest)
            .map(|cached| Arc::clone(&cached.policy));
        let policy = match same_bytes {
            Some(policy) => policy,
            None => Arc::new(policies::policy_from_bytes(path, &bytes).map_err(|e| {
                // What the parser quotes comes from the file: it goes to the person running
                // `cordon serve`, never into a reply.
                crate::output::say!("cordon serve: gateway: {e}");
                Error::InvalidInput(format!(
                    "{}: the policy in force does not load; `cordon policy test {}` says why",
                    path.display(),
                    path.display()
                ))
            })?),
        };
        let mut files = self.files.lock().map_err(|_| lock_failed())?;
        if files.len() >= MAX_COMPILED && !files.contains_key(path) {
            files.clear();
        }
        files.insert(
            path.to_path_buf(),
            CachedFile {
                identity,
                digest,
                policy: Arc::clone(&policy),
            },
        );
        Ok(policy)
    }
}

/// The gateway's side of `cordon exec`: the same analysis the client would make, from the cache,
/// under the policy of the session the request names, else the home's, with `~` this user's
/// home.
fn analyse_for_client(
    request: ExecAnalysisRequest,
    policies: &PolicyCache,
) -> Result<GatewayReply, Error> {
    let analysis = cordon_governor::analyse(
        &AnalysisRequest {
            written: match request.shell {
                Some(text) => Written::Shell(text),
                None => Written::Argv(request.argv),
            },
            cwd: request.cwd.to_string_lossy().into_owned(),
            home: cordon_core::user::home(),
            workspace: request.workspace,
            policy: policy_in_force(request.session.as_deref())?,
            hardened: request.hardened,
        },
        policies,
    )?;
    Ok(GatewayReply::Analysis(Box::new(ExecAnalysis {
        facts: analysis.facts,
        decision: analysis.native,
        csc_reason_code: analysis.csc_reason_code,
        egress: analysis.egress,
        contract: analysis.contract,
        policy: analysis.policy,
        secrets: analysis.secrets,
    })))
}

/// The policy the gateway judges under: the named session's, else the home's `policy.yaml`,
/// else the built-in pack (as `cordon exec` chooses when no `--policy` is given).
fn policy_in_force(session: Option<&str>) -> Result<PolicyChoice, Error> {
    let home =
        Home::from_env().ok_or_else(|| Error::Internal("the gateway has no config home".into()))?;
    if let Some(id) = session {
        let session = cordon_checkpoint::session::get(&home.sessions_dir(), id)
            .map_err(|_| Error::InvalidInput(format!("there is no session {id:?}")))?;
        if session.ended_at.is_some() {
            return Err(Error::InvalidInput(format!("session {id:?} has ended")));
        }
        if let Some(policy) = session.policy {
            return Ok(PolicyChoice::File(PathBuf::from(policy)));
        }
    }
    let policy = home.policy();
    Ok(if policy.exists() {
        PolicyChoice::File(policy)
    } else {
        PolicyChoice::Builtin
    })
}
