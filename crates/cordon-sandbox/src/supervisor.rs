//! The supervisor: spawns each command's processes, relays and captures their output, enforces the
//! deadline, kills the whole tree, and reports what happened and what was enforced.
//!
//! # Process model
//! `spawn.rs` forks with `clone3`, straight into the command's cgroup; the child applies the
//! confinement prepared here (see `child.rs`), acknowledges it, and execs. We measured this
//! against re-exec'ing a helper binary: the hook costs one fork and no extra exec of a Rust binary
//! (docs/sandbox.md has the figures).
//!
//! # Waiting
//! One thread, one `poll(2)`: both output pipes plus a pidfd per process, with the deadline as the
//! timeout. No reader threads means nothing to join when a pipe is held open by something we could
//! not kill; the loop simply stops at the drain deadline.
//!
//! # Killing the tree
//! A new session and a process-group kill miss a `setsid` daemon that double-forked away. We use,
//! in order of preference:
//! 1. **cgroup v2 `cgroup.kill`** when this process can create a child cgroup (root, or a
//!    delegated subtree): membership is inherited and the kill is atomic. We then wait until the
//!    cgroup is empty, so no process and no pipe outlives the command. A process can leave its
//!    cgroup only by writing the hierarchy, which Landlock forbids in hardened mode; a local-mode
//!    command runs with the user's rights and can. So the supervisor is a subreaper here too:
//!    a process that left and whose parent died is handed to us, and once the cgroup is empty
//!    every child of ours from a command's session that belongs to no live command cgroup of
//!    this process is killed with its descendants ([`kill_strays`]).
//! 2. Otherwise **`PR_SET_CHILD_SUBREAPER` + scan**: orphans are re-parented to the supervisor
//!    instead of init, so every descendant stays findable through `/proc/*/stat` parent links;
//!    we SIGKILL the segments' process groups and every descendant, repeatedly until none is
//!    left (a killed process cannot fork, so this converges), and reap what was re-parented to us.
//!    This assumes the supervisor's process has no other children that double-fork (true of the
//!    `cordon` CLI).
//!
//! A pid namespace would also do it, but needs privileges or a user namespace (unavailable in
//! Docker and on Ubuntu 24.04 by default), makes the command pid 1 (which ignores default-action
//! signals such as SIGPIPE, changing exit codes), and needs an extra init process. It is not used.
//!
//! The tree is killed on timeout and also when every segment has exited: background processes do
//! not outlive a bounded command. Each direct child also carries `PR_SET_PDEATHSIG(SIGKILL)`, so a
//! supervisor that is itself killed does not leave the command running.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest as _;

use crate::broker::Broker;
use crate::capture::{Capture, Filtered};
use crate::cgroup::{self, CommandCgroup};
use crate::child::{self, applied, Ack, ChildSetup, Netns};
use crate::egress::ProxiedNetwork;
use crate::env::filter_env;
use crate::filesystem::{self, FsPlan, TcpGrant};
use crate::kernel::{self, CgroupV2};
use crate::plan::{Confinement, Mode, Network, NetworkPolicy, Plan, PlannedCommand, RunOptions};
use crate::processes::{pollin, Recorder};
use crate::protect::StandIn;
use crate::report::{
    BrokerReport, CgroupReport, CommandReport, CommandStatus, EnforcementReport, EnvReport,
    EnvelopeReport, LandlockReport, NetworkReport, ProcessReport, ProcessTree, ProtectedReport,
    RlimitReport, RunReport, SeccompReport, SegmentReport,
};
use crate::seccomp::{self, Filters, Sockets};
use crate::spawn::{self, ChildProcess, SpawnRequest};
use crate::Error;

/// How long after the deadline (or after the last segment exited) output may still drain.
const DRAIN_GRACE: Duration = Duration::from_millis(900);

static TMP_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Held (shared) while a child is between fork and exec; the fallback descendant scan takes it
/// exclusively, so it never mistakes another run's half-spawned child for an orphan.
static SPAWN_LOCK: RwLock<()> = RwLock::new(());

/// Segment pids currently supervised in this process, by any run; never treated as orphans.
static SUPERVISED: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// This process's cgroup v2 directory, looked up once: reading mountinfo and /proc/self/cgroup on
/// every run would cost more than the run's own cgroup.
static CGROUP_PARENT: OnceLock<Option<CgroupV2>> = OnceLock::new();

/// Set once creating a command cgroup was refused (not writable): later runs in this process go
/// straight to the subreaper fallback instead of asking again.
static CGROUP_REFUSED: AtomicBool = AtomicBool::new(false);

fn supervised() -> std::sync::MutexGuard<'static, Vec<libc::pid_t>> {
    SUPERVISED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `plan` under `confinement`. Returns `Err` only when nothing could be started safely
/// (including when hardened mode cannot be enforced here); command failures are in the report.
#[must_use = "the report says what ran and what was enforced; a receipt must be built from it"]
pub fn run(
    plan: &Plan,
    confinement: &Confinement,
    options: &RunOptions,
) -> Result<RunReport, Error> {
    validate(plan)?;
    let mut prepared = Prepared::new(plan, confinement, options)?;
    let mut commands = Vec::new();
    let mut completed = Vec::new();
    let mut failed = None;
    let mut exit_code = 0;
    for command in &plan.commands {
        let report = prepared.run_command(command, options);
        exit_code = report.exit_code;
        let ok = report.status == CommandStatus::Success;
        if ok {
            completed.push(command.id.clone());
        } else {
            failed = Some(command.id.clone());
        }
        commands.push(report);
        if !ok {
            break;
        }
    }
    let enforcement = prepared.finish();
    Ok(RunReport {
        commands,
        completed_command_ids: completed,
        failed_command_id: failed,
        exit_code,
        enforcement,
    })
}

fn validate(plan: &Plan) -> Result<(), Error> {
    for c in &plan.commands {
        if c.pipeline.is_empty() || c.pipeline.iter().any(Vec::is_empty) {
            return Err(Error::InvalidPlan(format!(
                "command {:?} has an empty argv",
                c.id
            )));
        }
        let has_nul = |s: &OsString| s.as_encoded_bytes().contains(&0);
        if c.pipeline.iter().flatten().any(has_nul) {
            return Err(Error::InvalidPlan(format!(
                "command {:?} has a NUL byte in its argv",
                c.id
            )));
        }
        if c.env.iter().any(|(n, v)| has_nul(n) || has_nul(v)) {
            return Err(Error::InvalidPlan(format!(
                "command {:?} has a NUL byte in its env",
                c.id
            )));
        }
    }
    Ok(())
}

/// The run's private temporary directory, and the stand-ins mounted over closed paths that exist
/// (`envelope.rs`), outside it so the command cannot write them; what the run made is removed on
/// drop.
struct PrivateTmp {
    dir: PathBuf,
    /// The empty read-only file mounted over a closed file.
    empty: PathBuf,
    /// The empty mode-000 directory mounted over a closed directory.
    empty_dir: PathBuf,
    /// The empty mode-000 file mounted over a credential git tracks with other contents.
    sealed: PathBuf,
    /// The stand-ins were made for this run (beside `dir`), not the user's kept pair.
    own_stand_ins: bool,
}

impl PrivateTmp {
    /// Makes the run's TMPDIR in `parent`: the system's temporary directory, or the workspace's
    /// own `/tmp` ([`WorkspaceTmp`]). The stand-ins, when the user's kept set cannot be used, are
    /// made in the system's temporary directory either way, never where the command may write.
    fn create(parent: &std::path::Path) -> Result<Self, Error> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "cordon-{}-{}-{nanos:08x}",
            std::process::id(),
            TMP_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let dir = parent.join(&name);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("creating private TMPDIR {}", dir.display()), e))?;
        if let Some([empty, empty_dir, sealed]) = kept_stand_ins(&std::env::temp_dir()) {
            return Ok(PrivateTmp {
                dir,
                empty,
                empty_dir,
                sealed,
                own_stand_ins: false,
            });
        }
        let beside = |suffix: &str| std::env::temp_dir().join(format!("{name}{suffix}"));
        let tmp = PrivateTmp {
            empty: beside(".empty"),
            empty_dir: beside(".closed"),
            sealed: beside(".sealed"),
            dir,
            own_stand_ins: true,
        };
        for (path, stand_in) in [
            (&tmp.empty_dir, StandIn::ClosedDir),
            (&tmp.empty, StandIn::EmptyFile),
            (&tmp.sealed, StandIn::SealedFile),
        ] {
            make_stand_in(path, stand_in)
                .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        }
        Ok(tmp)
    }
}

/// Makes one stand-in as [`StandIn::fits`] checks it: an empty directory of mode 000, an empty
/// read-only file, or an empty file of mode 000.
fn make_stand_in(path: &std::path::Path, stand_in: StandIn) -> std::io::Result<()> {
    let file = |mode| {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map(drop)
    };
    match stand_in {
        StandIn::ClosedDir => fs::DirBuilder::new().mode(0o000).create(path),
        StandIn::EmptyFile => file(0o444),
        StandIn::SealedFile => file(0o000),
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        if self.own_stand_ins {
            let _ = fs::remove_file(&self.empty);
            let _ = fs::remove_file(&self.sealed);
            let _ = fs::remove_dir(&self.empty_dir);
        }
    }
}

/// Whether the calling process's `/tmp` is its workspace's own ([`WorkspaceTmp`]): the last mount
/// on `/tmp` in its mount namespace has a `cordon-tmp-UID/HASH` directory for its root, as
/// `/proc/self/mountinfo` says. Only cordon can have mounted it (a hardened command may mount
/// nothing), so unlike an environment variable the command cannot forge it. For cordon's `rm`
/// shim: what lies there is the command's scratch.
pub fn tmp_is_the_workspaces_own() -> bool {
    let Ok(table) = fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // The last mount on `/tmp` is the one its path reaches.
    let root = table.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        (fields.get(4) == Some(&"/tmp")).then(|| fields.get(3).copied())?
    });
    root.is_some_and(|root| {
        let mut parts = root.rsplit('/');
        let (Some(hash), Some(base)) = (parts.next(), parts.next()) else {
            return false;
        };
        hash.len() == 16
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && base
                .strip_prefix("cordon-tmp-")
                .is_some_and(|uid| !uid.is_empty() && uid.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// A workspace's own `/tmp`: a directory of this user's, one per workspace, under the system's
/// temporary directory (`cordon-tmp-UID/HASH`), which the command's mount namespace has over
/// `/tmp`. It is kept between commands and runs, as `/tmp` is, so a file one command writes to
/// `/tmp/x` the next one reads; the host's `/tmp` (other programs' files and sockets) stays out
/// of sight, and nothing the command writes there reaches it.
struct WorkspaceTmp {
    /// The directory, as cordon sees it (granted read and write; the run's TMPDIR is made in it).
    dir: PathBuf,
    /// `/tmp`, resolved: where the command sees `dir`.
    seen_at: PathBuf,
}

impl WorkspaceTmp {
    /// The workspace's own `/tmp` for a hardened run in `confinement`'s workspace envelope
    /// (`None` for an envelope that is no workspace's), or why there is none: `/tmp` is missing,
    /// a path the commands use lies in `/tmp` (a workspace under `/tmp` would vanish under the
    /// mount), or the directory cannot be made as it must be (this user's, not a link, closed to
    /// others).
    fn for_run(plan: &Plan, confinement: &Confinement) -> Option<Result<WorkspaceTmp, String>> {
        let workspace = confinement.envelope.private_tmp.as_ref()?;
        Some(WorkspaceTmp::make(plan, confinement, workspace))
    }

    fn make(
        plan: &Plan,
        confinement: &Confinement,
        workspace: &std::path::Path,
    ) -> Result<WorkspaceTmp, String> {
        let seen_at = fs::canonicalize("/tmp").map_err(|e| format!("/tmp: {e}"))?;
        let envelope = &confinement.envelope;
        // The envelope's roots and the grants are real paths already; what the caller names by
        // path, and the working directories, are resolved here.
        let real: Vec<PathBuf> = confinement
            .read_paths
            .iter()
            .chain(&confinement.write_paths)
            .chain(plan.commands.iter().map(|c| &c.cwd))
            .map(|p| fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let used = envelope
            .read
            .iter()
            .chain(&envelope.write)
            .chain(&envelope.list)
            .chain(&real)
            .map(PathBuf::as_path)
            .chain(confinement.grants.iter().map(|g| g.target.path()));
        for path in used {
            if path.starts_with(&seen_at) || seen_at.starts_with(path) {
                return Err(format!(
                    "{} lies in /tmp, which the mount would hide",
                    path.display()
                ));
            }
        }
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() };
        let base = std::env::temp_dir().join(format!("cordon-tmp-{uid}"));
        own_directory(&base, 0o700, uid)?;
        let digest = sha2::Sha256::digest(workspace.as_os_str().as_encoded_bytes());
        let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = base.join(key);
        own_directory(&dir, 0o1777, uid)?;
        Ok(WorkspaceTmp { dir, seen_at })
    }
}

/// Makes `dir` with `mode` unless it exists, then checks that it is a directory of `uid`'s, not
/// a link, that no one else may enter or change (its parent's mode keeps others out of a `1777`
/// one). Another user who made it first denies the workspace its `/tmp`, nothing more.
fn own_directory(dir: &std::path::Path, mode: u32, uid: u32) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", dir.display()))?,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o7777 != mode {
        return Err(format!(
            "{} is not a directory of this user's with mode {mode:o}",
            dir.display()
        ));
    }
    Ok(())
}

/// The host's Unix sockets a hardened command must not reach (`host_sockets.rs`). Those in a
/// path the caller granted by name (`read_paths`, `write_paths`: cordon's own soft-delete service),
/// under a write grant beyond the envelope (connecting is writing: the kernel asks for write
/// permission on the socket), and in the run's private TMPDIR stay reachable; a read grant opens
/// none. A table that cannot be read, or lists more than can be covered, is an error: the run
/// would otherwise start with sockets open.
fn closed_host_sockets(
    confinement: &Confinement,
    tmp: &std::path::Path,
) -> Result<crate::host_sockets::Selection, Error> {
    let reachable: Vec<PathBuf> = confinement
        .read_paths
        .iter()
        .chain(&confinement.write_paths)
        .map(PathBuf::as_path)
        .chain(
            confinement
                .grants
                .iter()
                .filter(|g| g.access == crate::envelope::GrantAccess::Write)
                .map(|g| g.target.path()),
        )
        .chain([tmp])
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
        .collect();
    crate::host_sockets::find(&reachable).map_err(|detail| Error::Unenforceable {
        feature:
            "closing the host's Unix sockets (Landlock before ABI 9 does not govern connect())",
        detail,
    })
}

/// The stand-ins every run of this user shares, `[empty file, closed directory, sealed file]`,
/// in `$TMPDIR/cordon-stand-ins-UID` (mode 0700), made by the first run that needs them. Nothing
/// writes them (they are mounted read-only, and no envelope grants their directory), so one set
/// serves every run; making and removing a set per run cost about 0.15 ms (removing a
/// directory on ext4 mounted with `discard` waits for the disk). `None` when the set is not
/// exactly as made (owner, mode, an empty regular file, a directory, no link): the run makes its
/// own.
fn kept_stand_ins(temp_dir: &std::path::Path) -> Option<[PathBuf; 3]> {
    use std::os::unix::fs::MetadataExt;
    let uid = nix::unistd::geteuid().as_raw();
    let base = temp_dir.join(format!("cordon-stand-ins-{uid}"));
    let is = |path: &PathBuf, stand_in: StandIn| {
        fs::symlink_metadata(path).is_ok_and(|m| stand_in.fits(m.mode(), m.uid(), m.len(), uid))
    };
    let base_ready = || {
        fs::symlink_metadata(&base)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o7777 == 0o700)
    };
    let set = [
        (base.join("empty"), StandIn::EmptyFile),
        (base.join("closed"), StandIn::ClosedDir),
        (base.join("sealed"), StandIn::SealedFile),
    ];
    let ready = || base_ready() && set.iter().all(|(path, stand_in)| is(path, *stand_in));
    if !ready() {
        // Made by the first run that finds them missing. Each step may lose a race with another
        // run making the same thing; the check that follows decides.
        let _ = fs::DirBuilder::new().mode(0o700).create(&base);
        if base_ready() {
            for (path, stand_in) in &set {
                let _ = make_stand_in(path, *stand_in);
            }
        }
    }
    let ready = ready();
    let [(empty, _), (closed, _), (sealed, _)] = set;
    ready.then_some([empty, closed, sealed])
}

/// Whether the run's execs are recorded, and if not, why (said in every command's report).
enum RecordPlan {
    On,
    Off(String),
}

/// The write broker of a hardened run, or why there is none (said in the report).
enum BrokerPlan {
    On(Box<Broker>),
    Off(String),
}

/// Starts mounting the workspace's layers over the envelope's caches (`layers.rs`); `None` when
/// the envelope has no layers or no cache to layer.
fn begin_cache_layers(
    fs: &FsPlan,
    confinement: &Confinement,
    has_sys_admin: bool,
    egress_userns: Option<&OwnedFd>,
) -> Option<crate::layers::Mounting> {
    use crate::layers::Owner;
    let dir = confinement.envelope.layers.as_ref()?;
    if fs.layered.is_empty() {
        return None;
    }
    let owner = match (has_sys_admin, egress_userns) {
        (true, _) => Owner::Privileged,
        (false, Some(userns)) => Owner::Join(userns.as_raw_fd()),
        (false, None) => {
            // SAFETY: geteuid/getegid have no preconditions.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            Owner::OwnUserns {
                uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            }
        }
    };
    Some(crate::layers::begin(&fs.layered, dir, &owner))
}

/// Grants the mounted layers in the ruleset, before the write broker's worker restricts itself
/// with it. A cache whose layer could not be made stays read-only, noted in the report.
fn with_cache_layers(
    mut fs: FsPlan,
    mounting: crate::layers::Mounting,
) -> Result<(FsPlan, Option<crate::layers::CacheLayers>), Error> {
    let started = mounting.finish();
    fs.envelope.notes.extend(started.notes);
    let Some(layers) = started.layers else {
        return Ok((fs, None));
    };
    fs.ruleset = layers.grant(fs.ruleset, filesystem::abi_from(kernel::landlock_abi()))?;
    for layer in layers.reports() {
        fs.envelope.write.push(layer.cache.clone());
        fs.report.write_paths.push(layer.cache.clone());
        fs.envelope.cache_layers.push(layer.clone());
    }
    Ok((fs, Some(layers)))
}

impl BrokerPlan {
    fn broker(&mut self) -> Option<&mut Broker> {
        match self {
            BrokerPlan::On(b) => Some(b),
            BrokerPlan::Off(_) => None,
        }
    }

    /// Hardened runs get a broker where the kernel can run one; a checkpoint observer needs one.
    /// `found`: where `protect.rs` found the protected names at run start.
    /// `own_tmp`: where the command sees its workspace's own `/tmp`, which Landlock grants by the
    /// directory's own name; the broker judges the names the command's namespace gives.
    fn new(
        confinement: &Confinement,
        fs: Option<&FsPlan>,
        found: Option<&crate::protect::Protected>,
        observer: Option<&std::sync::Arc<dyn crate::WriteObserver>>,
        own_tmp: Option<&std::path::Path>,
    ) -> Result<BrokerPlan, Error> {
        let unenforceable = |detail: String| Error::Unenforceable {
            feature: "the write broker a checkpoint observer relies on",
            detail,
        };
        let Some(fs) = fs else {
            if observer.is_some() {
                return Err(unenforceable("it runs only in hardened mode".into()));
            }
            return Ok(BrokerPlan::Off("not requested (local mode)".into()));
        };
        if let Some(why) = crate::broker::unavailable() {
            if observer.is_some() {
                return Err(unenforceable(why));
            }
            return Ok(BrokerPlan::Off(format!(
                "not enforced: {why}; protected names that do not exist at the start can be created"
            )));
        }
        let ruleset = fs.ruleset.try_clone().map_err(|e| {
            Error::io(
                "duplicating the Landlock ruleset fd for the write broker",
                e,
            )
        })?;
        Ok(BrokerPlan::On(Box::new(Broker::new(
            found.cloned().unwrap_or_default(),
            crate::broker::Writable {
                roots: fs.write_roots.clone(),
                granted: fs
                    .report
                    .write_paths
                    .iter()
                    .cloned()
                    .chain(own_tmp.map(std::path::Path::to_path_buf))
                    .collect(),
            },
            ruleset,
            observer.cloned(),
            confinement.limits.file_size_bytes,
            confinement.envelope.never_name_matcher().ok(),
            confinement.envelope.remotes_added.clone(),
        ))))
    }
}

/// Tree-kill strategy chosen for the run.
enum TreeKill {
    Cgroup(CgroupV2),
    Subreaper,
}

/// Everything prepared once per run, plus what the children acknowledged.
struct Prepared {
    mode: Mode,
    network: Network,
    limits: crate::plan::Limits,
    fs: Option<FsPlan>,
    filters: Option<Filters>,
    /// Hardened with the network denied: the filter for a command whose namespace is its own
    /// and whose `lo` is up (its private loopback); `filters` is the fallback without them.
    loopback_filters: Option<Filters>,
    netns_plan: NetnsPlan,
    /// A proxied hardened run: the command's namespace and the egress proxy serving it.
    egress: Option<ProxiedNetwork>,
    /// Hardened mode: metadata inside writable roots to mount read-only (`protect.rs`).
    protect: Option<crate::protect::ProtectPlan>,
    /// Hardened mode: the protected repositories' refs when the run started (`history.rs`).
    history: Vec<crate::history::AtStart>,
    /// Hardened mode: the layers mounted over the caches, which every command joins.
    layers: Option<crate::layers::CacheLayers>,
    /// The uid/gid maps for a user namespace the mount namespace needs when unprivileged.
    protect_userns: Option<(Vec<u8>, Vec<u8>)>,
    may_drop_bounding: bool,
    cap_last: u32,
    tree_kill: TreeKill,
    tmp: PrivateTmp,
    /// For a hardened run in a workspace's envelope: its own `/tmp`, mounted over `/tmp` for
    /// every command, or why there is none.
    workspace_tmp: Option<Result<WorkspaceTmp, String>>,
    /// AND of every acknowledgement; starts all-ones.
    observed: u32,
    confined: u32,
    /// How many commands ran with a private loopback (`applied::LOOPBACK`).
    with_loopback: u32,
    /// Processes stopped because they outlived their command's foreground ([`ProcessReport`]).
    background_stopped: u32,
    /// Each command mounts a `/dev/shm` of its own (`Envelope::private_shm`).
    private_shm: bool,
    env: EnvReport,
    cgroup: CgroupReport,
    /// The first command's cgroup, created while choosing the tree-kill strategy.
    first_cgroup: Option<CommandCgroup>,
    notes: Vec<String>,
    /// Names the host's socket table lists that lead to no socket (`host_sockets::Selection`).
    unresolved_sockets: Vec<PathBuf>,
    record: RecordPlan,
    broker: BrokerPlan,
    /// The filter of the seccomp listener every segment installs, if any: the exec recorder's,
    /// or the write broker's (which also records execs when recording is on).
    listener: Option<seccompiler::BpfProgram>,
    /// `NetnsPlan::Direct` with a cgroup per command: each segment joins a kept empty namespace
    /// leased to it (`netns_pool.rs`) rather than creating one, where a lease can be had.
    kept_netns: bool,
    /// The current command's leases: left for reuse once its cgroup is seen empty, else marked
    /// for replacement (dropped).
    leases: Vec<crate::netns_pool::Lease>,
}

#[derive(Clone)]
enum NetnsPlan {
    None,
    Direct,
    ViaUserns {
        uid_map: Vec<u8>,
        gid_map: Vec<u8>,
    },
    /// Join the egress proxy's namespace (`Prepared::egress`).
    Join,
}

impl Prepared {
    fn new(plan: &Plan, confinement: &Confinement, options: &RunOptions) -> Result<Self, Error> {
        let (use_cgroup, record) = (options.use_cgroup, options.record_processes);
        let hardened = confinement.mode == Mode::Hardened;
        let workspace_tmp = hardened
            .then(|| WorkspaceTmp::for_run(plan, confinement))
            .flatten();
        let own_tmp = workspace_tmp.as_ref().and_then(|w| w.as_ref().ok());
        let tmp = match own_tmp {
            Some(own) => PrivateTmp::create(&own.dir)?,
            None => PrivateTmp::create(&std::env::temp_dir())?,
        };
        // What the command may write as its temporary space: the workspace's own `/tmp`, which
        // holds the run's TMPDIR, or that TMPDIR alone.
        let tmp_root = match own_tmp {
            Some(own) => own.dir.clone(),
            None => tmp.dir.clone(),
        };
        let deny = confinement.network == Network::Deny;
        let has_sys_admin = kernel::has_capability(kernel::CAP_SYS_ADMIN);
        let egress = match (&confinement.network, hardened) {
            (Network::Proxied(egress), true) => {
                let _no_scan = SPAWN_LOCK.read().unwrap_or_else(|e| e.into_inner());
                Some(ProxiedNetwork::start(egress.clone(), has_sys_admin)?)
            }
            _ => None,
        };
        // Denied: the command gets a network namespace of its own whose only interface is `lo`
        // (its private loopback), so TCP is not Landlock's to restrict there; where the
        // namespace cannot be had, seccomp's Unix-only filter refuses every IP socket.
        let (tcp, sockets) = match (&confinement.network, &egress) {
            (Network::Deny, _) if hardened => (TcpGrant::Unrestricted, Sockets::UnixOnly),
            (Network::Deny, _) => (TcpGrant::Nothing, Sockets::UnixOnly),
            (Network::Proxied(_), Some(e)) => (TcpGrant::ConnectTo(e.port()), Sockets::UnixAndTcp),
            _ => (TcpGrant::Unrestricted, Sockets::Any),
        };
        // A workspace's own `/dev/shm` needs a mount namespace the child can always make: with
        // `CAP_SYS_ADMIN` only (a user namespace may be refused, and `/dev/shm` must never be
        // granted without the private mount over it).
        let private_shm = hardened && confinement.envelope.private_shm && has_sys_admin;
        let (fs, filters) = if hardened {
            let fs = filesystem::build(
                kernel::landlock_abi(),
                &filesystem::FsRequest {
                    envelope: &confinement.envelope,
                    read_paths: &confinement.read_paths,
                    write_paths: &confinement.write_paths,
                    grants: &confinement.grants,
                    tmp: &tmp_root,
                    stand_in: &tmp.empty,
                    tcp,
                    resolves: !deny,
                },
            )?;
            if kernel::seccomp_actions().is_none() {
                return Err(Error::Unenforceable {
                    feature: "seccomp filters",
                    detail: "the kernel lacks CONFIG_SECCOMP_FILTER".into(),
                });
            }
            (Some(fs), Some(seccomp::build(sockets)?))
        } else {
            (None, None)
        };
        let loopback_filters = match hardened && deny {
            true => Some(seccomp::build(Sockets::PrivateLoopback)?),
            false => None,
        };
        let record = if !record {
            RecordPlan::Off("recording was not requested".into())
        } else if let Some(why) = crate::processes::unavailable() {
            RecordPlan::Off(why)
        } else if hardened || has_sys_admin {
            RecordPlan::On
        } else {
            RecordPlan::Off("local mode without CAP_SYS_ADMIN: installing the recorder would need no_new_privs, which local mode does not impose".into())
        };
        let netns_plan = if hardened && deny {
            if has_sys_admin {
                NetnsPlan::Direct
            } else {
                // SAFETY: geteuid/getegid have no preconditions.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                NetnsPlan::ViaUserns {
                    uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                    gid_map: format!("{gid} {gid} 1\n").into_bytes(),
                }
            }
        } else if egress.is_some() {
            NetnsPlan::Join
        } else {
            NetnsPlan::None
        };
        // The layers are mounted by a helper while the protected names are sought.
        let mounting = fs.as_ref().and_then(|fs| {
            let egress_userns = egress.as_ref().and_then(|e| e.userns.as_ref());
            begin_cache_layers(fs, confinement, has_sys_admin, egress_userns)
        });
        let envelope = &confinement.envelope;
        let not_searched: Vec<PathBuf> = envelope
            .caches
            .iter()
            .chain(&envelope.read)
            .chain(&envelope.never)
            .cloned()
            .collect();
        let host_sockets = match &fs {
            Some(_) => closed_host_sockets(confinement, &tmp_root)?,
            None => crate::host_sockets::Selection::default(),
        };
        let mut protect = match &fs {
            Some(fs) => Some(crate::protect::plan(&crate::protect::Request {
                write_roots: &fs.searched_roots,
                tmp: &tmp_root,
                substitutes: &confinement.substitutes,
                stand_ins: &fs.stand_ins,
                convenience_stand_ins: &fs.convenience_stand_ins,
                read_only: &fs.kept_read_only,
                host_sockets: &host_sockets.sockets,
                never_names: &confinement.envelope.never_names,
                search_memory: confinement.envelope.search_memory.as_deref(),
                not_searched: &not_searched,
                stand_in: &tmp.empty,
                stand_in_dir: &tmp.empty_dir,
                stand_in_sealed: &tmp.sealed,
            })?),
            None => None,
        };
        // The protected repositories' refs as the run starts, for the check of what it commits
        // at protected paths (`history.rs`).
        let history = match (&fs, &protect) {
            (Some(fs), Some(p)) => crate::history::record(
                &p.protected.git_dirs,
                &fs.write_roots,
                &p.protected.stood_in,
            ),
            _ => Vec::new(),
        };
        // The workspace's own `/tmp` is mounted last, over everything the plan mounts from the
        // host's `/tmp` (the stand-ins), and only where a mount namespace is certain: as root, or
        // where the protection needs one anyway (without one the run would otherwise fail where
        // it ran before; its TMPDIR is then the directory itself, by its own name).
        let workspace_tmp = match (workspace_tmp, protect.as_mut()) {
            (Some(Ok(own)), Some(p)) if has_sys_admin || p.targets.iter().any(|t| !t.optional) => {
                p.targets
                    .push(crate::protect::tmp_cover(&own.dir, &own.seen_at)?);
                Some(Ok(own))
            }
            (Some(Ok(_)), _) => Some(Err(
                "no mount namespace is certain here without root".to_string()
            )),
            (other, _) => other,
        };
        let (fs, layers) = match (fs, mounting) {
            (Some(fs), Some(mounting)) => {
                let (fs, layers) = with_cache_layers(fs, mounting)?;
                (Some(fs), layers)
            }
            (fs, _) => (fs, None),
        };
        let broker = BrokerPlan::new(
            confinement,
            fs.as_ref(),
            protect.as_ref().map(|p| &p.protected),
            options.write_observer.as_ref(),
            workspace_tmp
                .as_ref()
                .and_then(|w| w.as_ref().ok())
                .map(|own| own.seen_at.as_path()),
        )?;
        let listener = match (&record, &broker) {
            (record, BrokerPlan::On(_)) => {
                Some(crate::broker::program(matches!(record, RecordPlan::On))?)
            }
            (RecordPlan::On, BrokerPlan::Off(_)) => Some(crate::processes::filter()),
            (RecordPlan::Off(_), BrokerPlan::Off(_)) => None,
        };
        let joins_userns = egress.as_ref().is_some_and(|e| e.userns.is_some());
        let protect_userns = match (&netns_plan, has_sys_admin || joins_userns) {
            (_, true) | (NetnsPlan::ViaUserns { .. }, _) => None,
            _ => {
                // SAFETY: geteuid/getegid have no preconditions.
                let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                Some((
                    format!("{uid} {uid} 1\n").into_bytes(),
                    format!("{gid} {gid} 1\n").into_bytes(),
                ))
            }
        };
        // No mkdir/rmdir probe: the first command's own cgroup is created now, and whether that
        // works is the answer. When it is refused, the run falls back to the subreaper, as a
        // failed probe did.
        let parent = if use_cgroup && !CGROUP_REFUSED.load(Ordering::Relaxed) {
            CGROUP_PARENT.get_or_init(kernel::cgroup_v2).as_ref()
        } else {
            None
        };
        let first_cgroup = match parent {
            Some(p) => {
                let created = CommandCgroup::create(p, &confinement.limits)?;
                if created.is_none() {
                    CGROUP_REFUSED.store(true, Ordering::Relaxed);
                }
                created
            }
            None => None,
        };
        // Either way orphans must come to us: the scan needs them, and so does finding a
        // process that moved itself out of its command's cgroup (module docs).
        become_subreaper();
        let tree_kill = match (parent, &first_cgroup) {
            (Some(p), Some(_)) => TreeKill::Cgroup(p.clone()),
            _ => TreeKill::Subreaper,
        };
        // A kept namespace is reused only after a command whose tree was seen gone, which
        // takes a cgroup; with the subreaper each segment creates a namespace of its own.
        let kept_netns = matches!(
            (&netns_plan, &tree_kill),
            (NetnsPlan::Direct, TreeKill::Cgroup(_))
        );
        let cgroup = match &tree_kill {
            TreeKill::Cgroup(c) => CgroupReport {
                status: "per-command cgroup v2 (tree kill)".into(),
                path: Some(c.dir.clone()),
                ..CgroupReport::default()
            },
            TreeKill::Subreaper => CgroupReport {
                status: "no writable cgroup v2".into(),
                ..CgroupReport::default()
            },
        };
        Ok(Prepared {
            mode: confinement.mode,
            network: confinement.network.clone(),
            limits: confinement.limits,
            fs,
            filters,
            loopback_filters,
            netns_plan,
            egress,
            protect,
            history,
            protect_userns,
            layers,
            may_drop_bounding: kernel::has_capability(kernel::CAP_SETPCAP),
            cap_last: if hardened { kernel::cap_last_cap() } else { 0 },
            tree_kill,
            tmp,
            workspace_tmp,
            observed: u32::MAX,
            confined: 0,
            with_loopback: 0,
            background_stopped: 0,
            private_shm,
            env: EnvReport {
                policy: "built from nothing: PATH plus allowed names; loader, shell, interpreter and git injection names always dropped".into(),
                ..EnvReport::default()
            },
            cgroup,
            first_cgroup,
            notes: Vec::new(),
            unresolved_sockets: host_sockets.unresolved,
            record,
            broker,
            listener,
            kept_netns,
            leases: Vec::new(),
        })
    }

    /// How a hardened run's denied network was enforced: a network namespace per command with
    /// its own loopback, and seccomp's socket filter (Unix sockets, and IP sockets only inside
    /// that private namespace).
    fn denied_methods(
        &self,
        seen: impl Fn(u32) -> bool,
        any: bool,
        seccomp: &SeccompReport,
        methods: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) {
        if seen(applied::NETNS) {
            methods.push("netns".to_string());
        } else if any {
            notes.push(match self.netns_plan {
                NetnsPlan::ViaUserns { .. } => "no network namespace: this process may not create a user namespace; seccomp allows Unix sockets only instead".to_string(),
                _ => "no network namespace: the kernel refused to create one; seccomp allows Unix sockets only instead".to_string(),
            });
        }
        if seen(applied::LOOPBACK) {
            methods.push("private-loopback".to_string());
        } else if any {
            notes.push(format!(
                "{} of {} commands had a private loopback (a namespace of their own with `lo` up); the others could open Unix sockets only",
                self.with_loopback, self.confined
            ));
        }
        if seccomp.enforced {
            methods.push("seccomp-socket".into());
        }
    }

    fn rlimits(&self) -> Vec<(crate::child::RlimitResource, libc::rlim_t, libc::rlim_t)> {
        let l = &self.limits;
        let mut v = Vec::new();
        if let Some(n) = l.cpu_seconds {
            // Soft limit sends SIGXCPU, the hard limit one second later SIGKILL.
            v.push((libc::RLIMIT_CPU, n, n.saturating_add(1)));
        }
        for (res, value) in [
            (libc::RLIMIT_AS, l.address_space_bytes),
            (libc::RLIMIT_NPROC, l.nproc),
            (libc::RLIMIT_FSIZE, l.file_size_bytes),
        ] {
            if let Some(n) = value {
                v.push((res, n, n));
            }
        }
        v
    }

    fn child_setup(
        &self,
        ack: OwnedFd,
        cgroup: Option<&CommandCgroup>,
        recorder: Option<&Recorder>,
        lease: Option<&crate::netns_pool::Lease>,
    ) -> Result<ChildSetup, Error> {
        let hardened = self.mode == Mode::Hardened;
        let landlock = match &self.fs {
            Some(fs) => Some(
                fs.ruleset
                    .try_clone()
                    .map_err(|e| Error::io("duplicating the Landlock ruleset fd", e))?,
            ),
            None => None,
        };
        let cgroup_procs = match cgroup {
            Some(c) => Some(
                c.procs
                    .try_clone()
                    .map_err(|e| Error::io("duplicating the cgroup.procs fd", e))?,
            ),
            None => None,
        };
        Ok(ChildSetup {
            ack,
            // SAFETY: getpid has no preconditions.
            supervisor_pid: unsafe { libc::getpid() },
            cgroup_procs,
            joined_cgroup_at_clone: false,
            netns: match &self.netns_plan {
                NetnsPlan::None => Netns::None,
                NetnsPlan::Direct => match lease {
                    Some(kept) => Netns::Join {
                        userns: None,
                        netns: kept.netns.as_raw_fd(),
                    },
                    None => Netns::Direct,
                },
                // The command joins the layer helper's user namespace first, and holds every
                // capability in it: a network namespace needs no user namespace of its own.
                NetnsPlan::ViaUserns { .. }
                    if self.layers.as_ref().is_some_and(|l| l.userns.is_some()) =>
                {
                    Netns::Direct
                }
                NetnsPlan::ViaUserns { uid_map, gid_map } => Netns::ViaUserns {
                    uid_map: uid_map.clone(),
                    gid_map: gid_map.clone(),
                },
                NetnsPlan::Join => match &self.egress {
                    Some(e) => Netns::Join {
                        userns: e.userns.as_ref().map(|fd| fd.as_raw_fd()),
                        netns: e.netns.as_raw_fd(),
                    },
                    None => {
                        return Err(Error::InvalidPlan(
                            "a proxied run without its namespace".into(),
                        ))
                    }
                },
            },
            rlimits: if hardened { self.rlimits() } else { Vec::new() },
            hardened,
            may_drop_bounding: self.may_drop_bounding,
            cap_last: self.cap_last,
            landlock,
            seccomp: self
                .filters
                .as_ref()
                .map(|f| f.programs.clone())
                .unwrap_or_default(),
            // The egress proxy's namespace (`NetnsPlan::Join`) is not the command's own.
            private_loopback: self.loopback_filters.is_some()
                && matches!(
                    self.netns_plan,
                    NetnsPlan::Direct | NetnsPlan::ViaUserns { .. }
                ),
            loopback_seccomp: self
                .loopback_filters
                .as_ref()
                .map(|f| f.programs.clone())
                .unwrap_or_default(),
            record: match (&self.listener, recorder) {
                (Some(program), Some(r)) => Some((program.clone(), r.child_end()?)),
                _ => None,
            },
            brokers_writes: matches!(self.broker, BrokerPlan::On(_)),
            private_shm: match (&self.fs, self.private_shm) {
                (Some(fs), true) => {
                    // Another descriptor of the same ruleset: the child adds its `/dev/shm`'s
                    // rule through it before it restricts itself.
                    let ruleset = fs
                        .ruleset
                        .try_clone()
                        .map_err(|e| Error::io("duplicating the Landlock ruleset fd", e))?;
                    let fd: Option<OwnedFd> = ruleset.into();
                    fd.map(|ruleset| child::PrivateShm {
                        ruleset,
                        access: fs.write_access,
                    })
                }
                _ => None,
            },
            protect: match &self.protect {
                Some(p) if !p.targets.is_empty() => Some(child::Protect {
                    targets: p.targets.clone(),
                    userns_maps: self.protect_userns.clone(),
                }),
                _ => None,
            },
            layers: self.layers.as_ref().map(|l| child::Layers {
                userns: l.userns.as_ref().map(|u| u.as_raw_fd()),
                mntns: l.mntns.as_raw_fd(),
            }),
        })
    }

    fn run_command(&mut self, command: &PlannedCommand, options: &RunOptions) -> CommandReport {
        let started_at = SystemTime::now();
        let start = Instant::now();
        let mut report = CommandReport {
            id: command.id.clone(),
            status: CommandStatus::Blocked,
            exit_code: 126,
            segments: Vec::new(),
            stdout: Capture::new(0).finish(),
            stderr: Capture::new(0).finish(),
            started_at,
            ended_at: started_at,
            duration: Duration::ZERO,
            error: None,
            processes: None,
        };
        let result = self.execute(command, options, start, &mut report);
        if let Err(e) = result {
            report.status = CommandStatus::Blocked;
            report.exit_code = 126;
            report.error = Some(e.to_string());
        }
        report.ended_at = SystemTime::now();
        report.duration = start.elapsed();
        report
    }

    fn execute(
        &mut self,
        command: &PlannedCommand,
        options: &RunOptions,
        start: Instant,
        report: &mut CommandReport,
    ) -> Result<(), Error> {
        if !command.cwd.is_dir() {
            report.error = Some(format!(
                "cwd {} does not exist or is not a directory",
                command.cwd.display()
            ));
            return Ok(());
        }
        let deadline = start + command.timeout;
        let mut recorder = match &self.listener {
            Some(_) => Some(Recorder::start()?),
            None => None,
        };
        let cgroup = match &self.tree_kill {
            TreeKill::Cgroup(parent) => match self.first_cgroup.take() {
                Some(c) => Some(c),
                None => CommandCgroup::create(parent, &self.limits)?,
            },
            TreeKill::Subreaper => None,
        };
        if cgroup.is_none() && matches!(self.tree_kill, TreeKill::Cgroup(_)) {
            // The parent stopped accepting children mid-run: the descendant scan needs orphans
            // re-parented to this process, so switch strategy rather than kill with neither.
            become_subreaper();
            self.tree_kill = TreeKill::Subreaper;
            self.cgroup.status = "no writable cgroup v2".into();
            self.cgroup.notes.push(format!(
                "creating the cgroup for command {:?} was refused; it and later commands used the subreaper",
                command.id
            ));
        }
        if let Some(c) = &cgroup {
            if c.memory_max.is_some() || c.pids_max.is_some() {
                self.cgroup.status = "per-command cgroup v2 (tree kill and limits)".into();
            }
            self.cgroup.memory_max = c.memory_max;
            self.cgroup.pids_max = c.pids_max;
            for n in &c.notes {
                if !self.cgroup.notes.contains(n) {
                    self.cgroup.notes.push(n.clone());
                }
            }
        }

        let (mut env, dropped) = filter_env(&command.env);
        env.retain(|(n, _)| n != "TMPDIR");
        let tmpdir = match (self.own_tmp(), self.tmp.dir.file_name()) {
            (Some(own), Some(name)) => own.seen_at.join(name),
            _ => self.tmp.dir.clone(),
        };
        env.push(("TMPDIR".into(), tmpdir.into_os_string()));
        if let Some(egress) = &self.egress {
            // After the filter: these name cordon's proxy, whatever the caller passed.
            for (name, value) in egress.env() {
                env.retain(|(n, _)| *n != name);
                env.push((name, value));
            }
        }
        for (name, _) in &env {
            let name = name.to_string_lossy().into_owned();
            if !self.env.passed.contains(&name) {
                self.env.passed.push(name);
            }
        }
        for name in dropped {
            if !self.env.dropped.contains(&name) {
                self.env.dropped.push(name);
            }
        }

        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let mut procs: Vec<Proc> = Vec::new();
        let mut next_stdin: Option<OwnedFd> = None;
        let mut blocked: Option<String> = None;
        let last = command.pipeline.len() - 1;
        for (i, argv) in command.pipeline.iter().enumerate() {
            let stdin = next_stdin.take();
            // A failure here must not leave earlier segments running: record it and fall through
            // to the tree kill below.
            let prepared = (|| -> Result<_, Error> {
                let stdin = match stdin {
                    Some(fd) => fd,
                    None => fs::File::open("/dev/null")
                        .map_err(|e| Error::io("opening /dev/null", e))?
                        .into(),
                };
                let stdout = if i == last {
                    dup(&out_w)?
                } else {
                    let (r, w) = pipe()?;
                    next_stdin = Some(r);
                    w
                };
                let stderr = dup(&err_w)?;
                let request = SpawnRequest::new(argv, &env, &command.cwd, [stdin, stdout, stderr])
                    .map_err(|e| Error::io("preparing the command's argv and env", e))?;
                let (ack_r, ack_w) = pipe()?;
                let lease = match self.netns_plan {
                    NetnsPlan::Direct if self.kept_netns => crate::netns_pool::lease(),
                    _ => None,
                };
                let setup =
                    self.child_setup(ack_w, cgroup.as_ref(), recorder.as_ref(), lease.as_ref())?;
                Ok((request, ack_r, setup, lease))
            })();
            let (request, ack_r, mut setup) = match prepared {
                Ok((request, ack_r, setup, lease)) => {
                    // Held until the command's tree is gone (see `leases`).
                    self.leases.extend(lease);
                    (request, ack_r, setup)
                }
                Err(e) => {
                    blocked = Some(format!("preparing segment {i}: {e}"));
                    break;
                }
            };
            let (spawned, ack, exec_errno) = {
                let _spawning = SPAWN_LOCK.read().unwrap_or_else(|e| e.into_inner());
                let spawned = spawn::spawn(
                    &request,
                    &mut setup,
                    cgroup.as_ref().map(|c| c.dir_fd.as_raw_fd()),
                );
                // Closes our copies of the child's stdio, ack and ruleset fds, so the ack pipe
                // reaches EOF at the child's exec or exit.
                drop(setup);
                drop(request);
                let (ack, exec_errno) = read_ack(ack_r, recorder.as_mut(), self.broker.broker());
                if let Ok((child, _)) = &spawned {
                    supervised().push(child.id() as libc::pid_t);
                }
                (spawned, ack, exec_errno)
            };
            let argv0 = argv[0].to_string_lossy().into_owned();
            match (spawned, ack, exec_errno) {
                (Err(e), _, _) => {
                    blocked = Some(format!("{argv0}: could not start a process: {e}"));
                }
                (Ok((child, pidfd)), Ack::Applied(flags), None) => {
                    self.observe(flags);
                    procs.push(Proc::running(argv0, child, pidfd));
                }
                (Ok((mut child, _)), Ack::Applied(flags), Some(errno)) => {
                    // Confinement applied, then exec itself failed (not found, permission).
                    self.observe(flags);
                    let _ = child.wait();
                    forget_supervised(&child);
                    procs.push(Proc::exec_failed(
                        argv0,
                        &io::Error::from_raw_os_error(errno),
                    ));
                }
                (Ok((mut child, _)), Ack::Missing, Some(errno)) => {
                    // stdio or chdir failed before the confinement step; map like an exec failure.
                    let _ = child.wait();
                    forget_supervised(&child);
                    procs.push(Proc::exec_failed(
                        argv0,
                        &io::Error::from_raw_os_error(errno),
                    ));
                }
                (Ok((mut child, _)), Ack::Missing, None) => {
                    child.kill();
                    let _ = child.wait();
                    forget_supervised(&child);
                    blocked = Some(format!(
                        "{argv0}: the child did not acknowledge its confinement"
                    ));
                }
                (Ok((mut child, _)), Ack::Failed { step, errno }, _) => {
                    child.kill();
                    let _ = child.wait();
                    forget_supervised(&child);
                    blocked = Some(format!(
                        "{argv0}: sandbox setup failed while {}: {}",
                        step.describe(),
                        io::Error::from_raw_os_error(errno)
                    ));
                }
            }
            if blocked.is_some() {
                break;
            }
        }
        drop(next_stdin);
        drop(out_w);
        drop(err_w);

        let mut out = Capture::new(options.stdout_cap);
        let mut err = Capture::new(options.stderr_cap);
        let timed_out = if blocked.is_some() {
            self.kill_tree(cgroup.as_ref(), &procs);
            reap_all(&mut procs);
            false
        } else {
            self.supervise(
                &mut procs,
                cgroup.as_ref(),
                recorder.as_mut(),
                out_r,
                err_r,
                deadline,
                options,
                &mut out,
                &mut err,
            )?
        };
        let mut tree_seen_gone = false;
        if let Some(c) = &cgroup {
            c.kill();
            tree_seen_gone = c.wait_empty(Instant::now() + Duration::from_secs(1));
            // Every member is gone, so every orphan of the tree has been handed to us.
            kill_strays(&procs);
        }
        drop(cgroup);
        // Kept namespaces are left for reuse only when the tree was seen gone (only hardened runs
        // lease them, and there Landlock keeps every process inside its cgroup); otherwise they
        // are dropped, which marks them for replacement.
        let leases = std::mem::take(&mut self.leases);
        if tree_seen_gone {
            leases
                .into_iter()
                .for_each(crate::netns_pool::Lease::release_clean);
        }
        // The tree is gone: no exec can be pending, so the recorder has seen everything.
        let tree = recorder.map(|r| r.finish(self.broker.broker()));
        if let Some(broker) = self.broker.broker() {
            broker.command_ended();
        }
        report.processes = Some(match (tree, &self.record) {
            (Some(tree), RecordPlan::On) => tree,
            (_, RecordPlan::Off(why)) => ProcessTree {
                mechanism: "none".into(),
                notes: vec![why.clone()],
                ..ProcessTree::default()
            },
            (None, RecordPlan::On) => ProcessTree::default(),
        });

        report.stdout = out.finish();
        report.stderr = err.finish();
        report.segments = procs
            .iter()
            .map(|p| SegmentReport {
                argv0: p.argv0.clone(),
                pid: p.pid,
                exit_code: p.exit_code.unwrap_or(-libc::SIGKILL),
                signal: p.signal,
            })
            .collect();
        if let Some(why) = blocked {
            report.status = CommandStatus::Blocked;
            report.exit_code = 126;
            report.error = Some(why);
            return Ok(());
        }
        if timed_out {
            report.status = CommandStatus::TimedOut;
            report.exit_code = 124;
            report.error = Some(format!("command timed out after {:?}", command.timeout));
            return Ok(());
        }
        let codes: Vec<i32> = report.segments.iter().map(|s| s.exit_code).collect();
        report.exit_code = codes.iter().copied().find(|&c| c != 0).unwrap_or(0);
        report.status = if report.exit_code == 0 {
            CommandStatus::Success
        } else {
            CommandStatus::Failed
        };
        if let Some(p) = procs.iter().find(|p| p.error.is_some()) {
            report.error = p.error.clone();
        }
        Ok(())
    }

    fn observe(&mut self, flags: u32) {
        self.observed &= flags;
        self.confined += 1;
        if flags & applied::LOOPBACK != 0 {
            self.with_loopback += 1;
        }
    }

    /// The poll loop: relay and capture output, reap segments, enforce the deadline, and answer
    /// the exec recorder.
    #[allow(clippy::too_many_arguments)]
    fn supervise(
        &mut self,
        procs: &mut [Proc],
        cgroup: Option<&CommandCgroup>,
        mut recorder: Option<&mut Recorder>,
        out_r: OwnedFd,
        err_r: OwnedFd,
        deadline: Instant,
        options: &RunOptions,
        out: &mut Capture,
        err: &mut Capture,
    ) -> Result<bool, Error> {
        let mut streams: [(Option<fs::File>, bool); 2] = [
            (Some(fs::File::from(out_r)), false),
            (Some(fs::File::from(err_r)), true),
        ];
        let filter = options.output_filter.as_deref();
        let mut filtered = [Filtered::new(filter), Filtered::new(filter)];
        let mut timed_out = false;
        let mut tree_killed = false;
        let mut drain_deadline: Option<Instant> = None;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let all_exited = procs.iter().all(|p| p.child.is_none());
            if all_exited && !tree_killed {
                // Background processes do not outlive the command: counted, for the user to be
                // told (working day fifteen: a server started with `&` was gone, silently, when
                // the next command called it).
                if let Some(c) = cgroup {
                    // git's own background maintenance (`git maintenance run --auto`, detached
                    // after a fetch or a commit) is not the command's work to be told of.
                    let left = c.members().into_iter().filter(|pid| !is_git(*pid)).count();
                    let left = u32::try_from(left).unwrap_or(u32::MAX);
                    self.background_stopped = self.background_stopped.saturating_add(left);
                }
                self.kill_tree(cgroup, procs);
                tree_killed = true;
                drain_deadline.get_or_insert(Instant::now() + DRAIN_GRACE);
            }
            let streams_open = streams.iter().any(|(s, _)| s.is_some());
            if all_exited && !streams_open {
                break;
            }
            let now = Instant::now();
            if !timed_out && !all_exited && now >= deadline {
                timed_out = true;
                self.kill_tree(cgroup, procs);
                tree_killed = true;
                drain_deadline = Some(now + DRAIN_GRACE);
            }
            if let Some(d) = drain_deadline {
                if now >= d {
                    if !all_exited {
                        // Killed processes that still have not exited: kill again, then reap.
                        self.kill_tree(cgroup, procs);
                        reap_all(procs);
                    }
                    break;
                }
            }
            let wake = match drain_deadline {
                Some(d) => d,
                None => deadline,
            };
            let mut fds: Vec<libc::pollfd> = Vec::with_capacity(2 + procs.len());
            let mut owners: Vec<Owner> = Vec::new();
            for (i, (s, _)) in streams.iter().enumerate() {
                if let Some(f) = s {
                    fds.push(pollin(f.as_raw_fd()));
                    owners.push(Owner::Stream(i));
                }
            }
            let mut needs_tick = false;
            for (i, p) in procs.iter().enumerate() {
                if p.child.is_some() {
                    match &p.pidfd {
                        Some(fd) => {
                            fds.push(pollin(fd.as_raw_fd()));
                            owners.push(Owner::Proc(i));
                        }
                        None => needs_tick = true,
                    }
                }
            }
            let recorder_from = fds.len();
            if let Some(r) = recorder.as_deref() {
                r.poll_fds(&mut fds);
            }
            let mut timeout = wake.saturating_duration_since(Instant::now());
            if needs_tick {
                timeout = timeout.min(Duration::from_millis(5));
            }
            let ms = libc::c_int::try_from(timeout.as_millis().saturating_add(1))
                .unwrap_or(libc::c_int::MAX);
            // SAFETY: `fds` is a live, correctly sized array of pollfd for the duration of the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::io("poll", e));
            }
            if let Some(r) = recorder.as_deref_mut() {
                r.serve(&fds[recorder_from..], self.broker.broker());
            }
            for (pfd, owner) in fds.iter().zip(&owners) {
                if pfd.revents == 0 {
                    continue;
                }
                match *owner {
                    Owner::Stream(i) => {
                        let (slot, is_err) = &mut streams[i];
                        let Some(file) = slot.as_mut() else { continue };
                        let released = match file.read(&mut buf) {
                            Ok(0) => {
                                *slot = None;
                                filtered[i].finish()
                            }
                            Ok(k) => filtered[i].pass(&buf[..k]),
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(_) => {
                                *slot = None;
                                filtered[i].finish()
                            }
                        };
                        let sink = if *is_err { &mut *err } else { &mut *out };
                        deliver(released, sink, options.passthrough.then_some(*is_err));
                    }
                    Owner::Proc(i) => procs[i].try_reap(),
                }
            }
            if needs_tick {
                for p in procs.iter_mut().filter(|p| p.pidfd.is_none()) {
                    p.try_reap();
                }
            }
        }
        // A stream still open at the drain deadline: release what its filter held back.
        for (i, sink) in [out, err].into_iter().enumerate() {
            deliver(
                filtered[i].finish(),
                sink,
                options.passthrough.then_some(i == 1),
            );
        }
        Ok(timed_out)
    }

    fn kill_tree(&self, cgroup: Option<&CommandCgroup>, procs: &[Proc]) {
        for p in procs {
            if let (Some(pid), Some(_)) = (p.pid, &p.child) {
                // Each segment leads its own session and process group.
                // SAFETY: kill(2) on a process group we created; no memory.
                unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            }
        }
        match cgroup {
            Some(c) => c.kill(),
            None => kill_descendants(procs),
        }
    }

    fn finish(mut self) -> EnforcementReport {
        let egress = self.egress.take().map(|e| e.proxy.finish());
        let git_settled = self.settle_repositories();
        let any = self.confined > 0;
        let seen = |bit: u32| any && self.observed & bit == bit;
        let hardened = self.mode == Mode::Hardened;
        let landlock = match &self.fs {
            Some(fs) => {
                let mut r = fs.report.clone();
                r.enforced = seen(applied::LANDLOCK);
                r.status = if r.enforced {
                    "fully_enforced".into()
                } else if !any {
                    "not applied: no process started".into()
                } else {
                    "not enforced".into()
                };
                r
            }
            None => LandlockReport {
                status: "not requested (local mode)".into(),
                abi: kernel::landlock_abi(),
                ..LandlockReport::default()
            },
        };
        // What was enforced is the loosest filter any command ran under.
        let filters = match (&self.loopback_filters, self.with_loopback) {
            (Some(loopback), 1..) => Some(loopback),
            _ => self.filters.as_ref(),
        };
        let seccomp = match filters {
            Some(f) => {
                let mut r = f.report.clone();
                r.enforced = seen(applied::SECCOMP);
                r
            }
            None => SeccompReport::default(),
        };
        let mut methods = Vec::new();
        let mut notes = self.notes.clone();
        if hardened && matches!(self.network, Network::Proxied(_)) {
            self.proxied_methods(&landlock, &seccomp, &mut methods, &mut notes);
        }
        if hardened && self.network == Network::Deny {
            self.denied_methods(seen, any, &seccomp, &mut methods, &mut notes);
        }
        let mut namespaces = Vec::new();
        if seen(applied::USERNS) {
            namespaces.push("user".to_string());
        }
        if seen(applied::NETNS) {
            namespaces.push("net".to_string());
        }
        if seen(applied::MOUNTNS) || seen(applied::LAYERS) {
            namespaces.push("mnt".to_string());
        }
        let write_broker = self.broker_report(seen(applied::BROKER), any);
        let protected_metadata = match &self.protect {
            Some(p) => {
                let mut r = p.report.clone();
                // The command's processes are gone: a worktree it made is checked now, and so
                // is every repository in which it changed what git reads.
                r.after_run
                    .extend(crate::protect::settle_new_worktrees(&p.protected));
                r.after_run.extend(git_settled);
                let names: Vec<&str> = crate::protect::Protected::project_names().collect();
                r.after_run
                    .extend(crate::history::settle(&self.history, &names));
                if p.targets.is_empty() {
                    r.status =
                        "nothing to protect: no protected name exists in a writable root".into();
                } else if any && !seen(applied::PROTECTED) && p.targets.iter().all(|t| t.optional) {
                    r.status = "stand-ins not mounted: no mount namespace could be made; the closed files outside the granted roots stay unreadable (EACCES) instead of reading as empty, and the host's Unix sockets stay reachable by path (Landlock governs connect() only from ABI 9)".into();
                    r.paths.clear();
                } else {
                    r.enforced = seen(applied::PROTECTED);
                    r.status = if r.enforced {
                        "read-only bind mounts in a private mount namespace".into()
                    } else if !any {
                        "not applied: no process started".into()
                    } else {
                        "not enforced".into()
                    };
                }
                r
            }
            None => ProtectedReport {
                status: "not requested (local mode)".into(),
                ..ProtectedReport::default()
            },
        };
        let envelope = match &self.fs {
            Some(fs) => {
                let mut r = fs.envelope.clone();
                r.enforced = landlock.enforced;
                // Files found by name in the workspace, and files outside every root where a
                // mount namespace could be had, were stood in for as well.
                let emptied = protected_metadata.paths.iter();
                let stood_in = |p: &&crate::report::ProtectedPath| {
                    matches!(
                        p.how,
                        crate::report::Protection::Emptied | crate::report::Protection::Sealed
                    )
                };
                for p in emptied.filter(stood_in) {
                    if !r.stand_ins.contains(&p.path) {
                        r.stand_ins.push(p.path.clone());
                    }
                }
                r.unix_sockets_closed = protected_metadata
                    .paths
                    .iter()
                    .filter(|p| p.how == crate::report::Protection::Unreachable)
                    .map(|p| p.path.clone())
                    .collect();
                r.unix_socket_names_unresolved = self.unresolved_sockets.clone();
                match &self.workspace_tmp {
                    Some(Ok(own)) if protected_metadata.enforced => r.tmp = Some(own.dir.clone()),
                    Some(Err(why)) => r.notes.push(format!(
                        "the commands saw the host's /tmp, where they may write nothing but their TMPDIR: {why}"
                    )),
                    Some(Ok(_)) | None => {}
                }
                r
            }
            None => EnvelopeReport {
                notes: vec!["not requested (local mode)".into()],
                ..EnvelopeReport::default()
            },
        };
        EnforcementReport {
            mode: self.mode,
            processes_confined: self.confined,
            landlock,
            network: NetworkReport {
                policy: if hardened {
                    self.network.policy()
                } else {
                    NetworkPolicy::Allow
                },
                methods,
                notes,
                egress,
            },
            seccomp,
            namespaces,
            process: ProcessReport {
                new_session: seen(applied::SESSION),
                no_new_privs: seen(applied::NO_NEW_PRIVS),
                capabilities_cleared: seen(applied::CAPS_CLEARED),
                bounding_set_cleared: seen(applied::BOUNDING_CLEARED),
                securebits_locked: seen(applied::SECUREBITS),
                inherited_fds_closed: seen(applied::FDS_CLOEXEC),
                stdin: "/dev/null".into(),
                background_stopped: self.background_stopped,
            },
            rlimits: RlimitReport {
                applied: seen(applied::RLIMITS),
                requested: self.limits,
                notes: rlimit_notes(&self.limits),
            },
            cgroup: CgroupReport {
                status: if matches!(self.tree_kill, TreeKill::Cgroup(_))
                    && !seen(applied::CGROUP)
                    && any
                {
                    "not joined".into()
                } else {
                    self.cgroup.status.clone()
                },
                ..self.cgroup.clone()
            },
            env: self.env.clone(),
            tree_kill: match self.tree_kill {
                TreeKill::Cgroup(_) => "cgroup.kill".into(),
                TreeKill::Subreaper => "subreaper + descendant scan".into(),
            },
            private_tmp: Some(self.tmp.dir.clone()),
            protected_metadata: with_broker_note(protected_metadata, write_broker.enforced),
            envelope,
            write_broker,
        }
    }

    /// The write broker's part of the report: enforced when every confined process installed
    /// the mediating listener.
    /// After the run: moves aside what would make git run a program in the repositories whose
    /// metadata the commands changed (`repos.rs`); the notes say what moved.
    fn settle_repositories(&mut self) -> Vec<String> {
        let BrokerPlan::On(broker) = &mut self.broker else {
            return Vec::new();
        };
        let touched = broker.take_git_touched();
        let (protected, protected_paths) = self
            .protect
            .as_ref()
            .map(|p| {
                (
                    p.protected.git_dir_ids.clone(),
                    p.protected.git_dirs.clone(),
                )
            })
            .unwrap_or_default();
        let (roots, searched) = self
            .fs
            .as_ref()
            .map(|fs| (fs.write_roots.clone(), fs.searched_roots.clone()))
            .unwrap_or_default();
        let layer_devices = self
            .layers
            .as_ref()
            .map(crate::layers::CacheLayers::devices)
            .unwrap_or_default();
        let places = crate::repos::Places {
            protected: &protected,
            protected_paths: &protected_paths,
            roots: &roots,
            searched: &searched,
            ignored: std::slice::from_ref(&self.tmp.dir),
            scratch: self.own_tmp().and_then(|own| {
                use std::os::unix::fs::MetadataExt as _;
                fs::metadata(&own.dir).ok().map(|m| (m.dev(), m.ino()))
            }),
            layers: &layer_devices,
        };
        crate::repos::settle(&touched, &places)
    }

    fn broker_report(&self, installed: bool, any: bool) -> BrokerReport {
        match &self.broker {
            BrokerPlan::On(broker) => {
                let mut r = broker.report();
                r.enforced = installed;
                r.status = if installed {
                    "entry-changing syscalls performed by the supervisor's restricted worker; protected names refused with EROFS".into()
                } else if !any {
                    "not applied: no process started".into()
                } else {
                    "not enforced".into()
                };
                r
            }
            BrokerPlan::Off(why) => BrokerReport {
                status: why.clone(),
                ..BrokerReport::default()
            },
        }
    }
}

/// The bind mounts' report says that names absent at the start can be created; with the write
/// broker enforced they cannot, and the note says so instead.
fn with_broker_note(mut report: ProtectedReport, broker_enforced: bool) -> ProtectedReport {
    const GAP: &str = "; paths created during the run";
    if broker_enforced {
        for note in &mut report.notes {
            if let Some(at) = note.find(GAP) {
                note.truncate(at);
                note.push_str(
                    "; protected names created during the run are refused by the write broker (see write_broker); a repository created during the run (`git init`) is not protected",
                );
            }
        }
    }
    report
}

impl Prepared {
    /// The workspace's own `/tmp`, where the commands have one.
    fn own_tmp(&self) -> Option<&WorkspaceTmp> {
        self.workspace_tmp.as_ref().and_then(|w| w.as_ref().ok())
    }

    /// What confined a proxied run's network, as every process acknowledged it.
    fn proxied_methods(
        &self,
        landlock: &LandlockReport,
        seccomp: &SeccompReport,
        methods: &mut Vec<String>,
        notes: &mut Vec<String>,
    ) {
        let any = self.confined > 0;
        if any && self.observed & applied::NETNS == applied::NETNS {
            methods.push("netns".into());
        }
        if landlock.enforced && !landlock.handled_net.is_empty() {
            methods.push("landlock-net".into());
        } else if landlock.enforced {
            notes.push(format!(
                "Landlock ABI {} has no network rules: the network namespace alone keeps TCP to the proxy",
                landlock.abi
            ));
        }
        if seccomp.enforced {
            methods.push("seccomp-socket".into());
        }
        methods.push("egress-proxy".into());
    }
}

/// Makes orphaned descendants re-parent to this process, for the descendant-scan tree kill.
fn become_subreaper() {
    // SAFETY: prctl with integer arguments; affects only this process's orphans.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

fn rlimit_notes(limits: &crate::plan::Limits) -> Vec<String> {
    let mut notes = Vec::new();
    // SAFETY: geteuid has no preconditions.
    if limits.nproc.is_some() && unsafe { libc::geteuid() } == 0 {
        notes.push(
            "RLIMIT_NPROC does not bind uid 0 of the initial user namespace (kernel exemption); only a cgroup pids.max bounds forks"
                .into(),
        );
    }
    notes
}

enum Owner {
    Stream(usize),
    Proc(usize),
}

/// One pipeline segment as the supervisor tracks it.
struct Proc {
    argv0: String,
    pid: Option<u32>,
    child: Option<ChildProcess>,
    pidfd: Option<OwnedFd>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    error: Option<String>,
}

impl Proc {
    fn running(argv0: String, child: ChildProcess, pidfd: Option<OwnedFd>) -> Self {
        let pid = child.id();
        Proc {
            argv0,
            pid: Some(pid),
            pidfd: pidfd.or_else(|| pidfd_open(pid)),
            child: Some(child),
            exit_code: None,
            signal: None,
            error: None,
        }
    }

    fn exec_failed(argv0: String, e: &io::Error) -> Self {
        // CSC: 127 when the program is not found, 126 when it cannot be executed.
        let code = match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => 127,
            _ => 126,
        };
        Proc {
            error: Some(format!("{argv0}: {e}")),
            argv0,
            pid: None,
            child: None,
            pidfd: None,
            exit_code: Some(code),
            signal: None,
        }
    }

    fn try_reap(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(Some(status)) = child.try_wait() {
            self.record(status);
        }
    }

    fn reap_blocking(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Ok(status) = child.wait() {
            self.record(status);
        }
    }

    fn record(&mut self, status: std::process::ExitStatus) {
        if let Some(pid) = self.pid {
            supervised().retain(|p| *p != pid as libc::pid_t);
        }
        self.signal = status.signal();
        self.exit_code = Some(match (status.code(), status.signal()) {
            (Some(c), _) => c,
            (None, Some(s)) => -s,
            (None, None) => 1,
        });
        self.child = None;
        self.pidfd = None;
    }
}

fn reap_all(procs: &mut [Proc]) {
    for p in procs {
        if let Some(child) = p.child.as_mut() {
            child.kill();
        }
        p.reap_blocking();
    }
}

/// Fallback tree kill: SIGKILL every descendant of the segments and every orphan re-parented to
/// us (we are a subreaper), until none is left, then reap those orphans. Segments of other runs in
/// this process and children between fork and exec (under `SPAWN_LOCK`) are never touched; any
/// other child of this process is (the documented single-spawner assumption).
/// Whether the process `pid` runs git (its `comm`).
fn is_git(pid: libc::pid_t) -> bool {
    fs::read(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm == b"git\n")
}

fn kill_descendants(procs: &[Proc]) {
    kill_subtrees(&segment_pids(procs), true);
}

fn segment_pids(procs: &[Proc]) -> Vec<libc::pid_t> {
    procs
        .iter()
        .filter_map(|p| p.pid)
        .map(|p| p as libc::pid_t)
        .collect()
}

/// After a command cgroup emptied: kills, with their descendants, the children of this process
/// that came from a command (another session than ours: every segment leads a session of its own,
/// and no process can join ours again) and are neither a segment of a run here nor a member of a
/// live command cgroup of this process: processes that moved themselves out of their cgroup and
/// were handed to us when their parent died. Children this process started itself share its
/// session and are left alone. Zombies among the strays' kind are reaped. Costs one read of
/// `/proc/self/task/*/children` when there is nothing to do.
fn kill_strays(procs: &[Proc]) {
    // No segment may be between its spawn and its entry in `supervised()` while we look: one
    // that already exited would otherwise look like a stray, and be reaped from under its run.
    let no_spawns = SPAWN_LOCK.write().unwrap_or_else(|e| e.into_inner());
    let segments = segment_pids(procs);
    let others = supervised().clone();
    // SAFETY: getsid(0) has no preconditions.
    let our_session = unsafe { libc::getsid(0) };
    let mut strays = Vec::new();
    for pid in children_of_this_process() {
        if segments.contains(&pid) || others.contains(&pid) {
            continue;
        }
        // SAFETY: getsid on a pid; no memory. A pid that is gone answers -1.
        let session = unsafe { libc::getsid(pid) };
        if session == our_session || session == -1 {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid on a specific child pid with a valid status pointer.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            continue;
        }
        if !cgroup::is_in_live_command_cgroup(pid) {
            strays.push(pid);
        }
    }
    drop(no_spawns);
    if !strays.is_empty() {
        kill_subtrees(&strays, false);
    }
}

/// The children of every thread of this process (orphans are handed to one of them).
fn children_of_this_process() -> Vec<libc::pid_t> {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<libc::pid_t>>()
        })
        .collect()
}

/// SIGKILLs `roots` and every descendant, and with `adopt_orphans` every other child of ours that
/// is not a supervised segment, until none is left; reaps the children of ours among them.
fn kill_subtrees(roots: &[libc::pid_t], adopt_orphans: bool) {
    let _no_spawns = SPAWN_LOCK.write().unwrap_or_else(|e| e.into_inner());
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let give_up = Instant::now() + Duration::from_secs(1);
    loop {
        let table = process_table();
        let others = supervised().clone();
        // An orphan keeps no trace of where it came from (a double fork through a `setsid`
        // middle process leaves a session id of a dead pid), so every child of ours that is not a
        // supervised segment counts as an orphan of the run.
        let is_orphan_of_ours = |e: &ProcEntry| {
            adopt_orphans && e.ppid == me && !roots.contains(&e.pid) && !others.contains(&e.pid)
        };
        // Segments are killed through their process groups and reaped by their `Proc`, so they
        // are never targets here; strays are.
        let mut targets: Vec<libc::pid_t> = if adopt_orphans {
            Vec::new()
        } else {
            roots.to_vec()
        };
        let mut frontier: Vec<libc::pid_t> = roots.to_vec();
        for e in table.iter().filter(|e| is_orphan_of_ours(e)) {
            frontier.push(e.pid);
            targets.push(e.pid);
        }
        while let Some(parent) = frontier.pop() {
            for e in &table {
                if e.ppid == parent && !targets.contains(&e.pid) {
                    targets.push(e.pid);
                    frontier.push(e.pid);
                }
            }
        }
        let alive = table.iter().any(|e| targets.contains(&e.pid) && !e.zombie);
        for &pid in &targets {
            // SAFETY: kill(2) on a descendant found via /proc; no memory.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        // Our children among the targets are reaped here (segments are not among them).
        for e in table
            .iter()
            .filter(|e| e.ppid == me && targets.contains(&e.pid))
        {
            let mut status = 0;
            // SAFETY: waitpid on a specific child pid with a valid status pointer.
            unsafe { libc::waitpid(e.pid, &mut status, libc::WNOHANG) };
        }
        if !alive || Instant::now() >= give_up {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

struct ProcEntry {
    pid: libc::pid_t,
    ppid: libc::pid_t,
    zombie: bool,
}

/// Every process's parent, group, session and zombie state, from `/proc/*/stat`.
fn process_table() -> Vec<ProcEntry> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: libc::pid_t = e.file_name().to_str()?.parse().ok()?;
        let stat = fs::read_to_string(e.path().join("stat")).ok()?;
        // The command name may contain spaces and parentheses; fields resume after the last ')'.
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut fields = rest.split(' ');
        let state = fields.next()?;
        let ppid = fields.next()?.parse().ok()?;
        Some(ProcEntry {
            pid,
            ppid,
            zombie: state == "Z",
        })
    })
    .collect()
}

/// Captures output that passed the filter and, when `relay_as_err` is set, relays it to our
/// stderr (`Some(true)`) or stdout (`Some(false)`).
fn deliver(bytes: &[u8], sink: &mut Capture, relay_as_err: Option<bool>) {
    if bytes.is_empty() {
        return;
    }
    sink.push(bytes);
    if let Some(is_err) = relay_as_err {
        relay(is_err, bytes);
    }
}

fn relay(is_err: bool, chunk: &[u8]) {
    // A closed or full caller stream must not stop supervision.
    if is_err {
        let _ = io::stderr().lock().write_all(chunk);
    } else {
        let mut out = io::stdout().lock();
        let _ = out.write_all(chunk);
        let _ = out.flush();
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two fds into a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::io("pipe2", io::Error::last_os_error()));
    }
    // SAFETY: both fds were just returned by pipe2 and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, Error> {
    fd.as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io("dup", e))
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open with integer arguments; returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the fd was just returned by pidfd_open and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads the child's acknowledgement until EOF (the pipe closes at exec or exit), and the errno
/// of a failed exec if the child reported one after it. Answers the recorder meanwhile: the
/// child's exec, and any exec of the segments already running, waits for it.
fn read_ack(
    fd: OwnedFd,
    mut recorder: Option<&mut Recorder>,
    mut broker: Option<&mut Broker>,
) -> (Ack, Option<i32>) {
    let mut file = fs::File::from(fd);
    let mut bytes = Vec::with_capacity(16);
    let mut chunk = [0u8; 64];
    let mut fds = Vec::with_capacity(4);
    loop {
        fds.clear();
        fds.push(pollin(file.as_raw_fd()));
        if let Some(r) = recorder.as_deref() {
            r.poll_fds(&mut fds);
        }
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return (Ack::Missing, None);
        }
        if let Some(r) = recorder.as_deref_mut() {
            r.serve(&fds[1..], broker.as_deref_mut());
        }
        if fds[0].revents == 0 {
            continue;
        }
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => bytes.extend_from_slice(&chunk[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return (Ack::Missing, None),
        }
    }
    let exec_errno = child::exec_error(&bytes);
    // An error record may follow an earlier one only if a step failed; report the first failure.
    if let Some(chunk) = bytes.chunks(8).find(|c| c.first() == Some(&b'E')) {
        return (child::decode(chunk), exec_errno);
    }
    (child::decode(&bytes), exec_errno)
}

/// A segment that never ran its command is no longer supervised (it was reaped here).
fn forget_supervised(child: &ChildProcess) {
    supervised().retain(|p| *p != child.id() as libc::pid_t);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_kept_stand_ins_are_used_only_while_exactly_as_made() {
        let t = tempfile::tempdir().unwrap();
        let [empty, closed, sealed] = kept_stand_ins(t.path()).unwrap();
        assert_eq!(fs::metadata(&empty).unwrap().len(), 0);
        for no_access in [&closed, &sealed] {
            assert_eq!(
                fs::metadata(no_access).unwrap().permissions().mode() & 0o7777,
                0
            );
        }
        // The next run finds the same set.
        assert_eq!(
            kept_stand_ins(t.path()),
            Some([empty.clone(), closed.clone(), sealed.clone()])
        );
        // A sealed file someone may read: not served to any run.
        fs::set_permissions(&sealed, fs::Permissions::from_mode(0o444)).unwrap();
        assert_eq!(kept_stand_ins(t.path()), None);
        fs::remove_file(&sealed).unwrap();
        assert!(kept_stand_ins(t.path()).is_some(), "remade once removed");

        // Something written into the empty file: not served to any run.
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&empty, "secret").unwrap();
        fs::set_permissions(&empty, fs::Permissions::from_mode(0o444)).unwrap();
        assert_eq!(kept_stand_ins(t.path()), None);
        fs::remove_file(&empty).unwrap();
        assert!(kept_stand_ins(t.path()).is_some(), "remade once removed");

        // A link where the closed directory was, or a directory others may enter: not used.
        fs::remove_dir(&closed).unwrap();
        std::os::unix::fs::symlink(t.path(), &closed).unwrap();
        assert_eq!(kept_stand_ins(t.path()), None);
        fs::remove_file(&closed).unwrap();
        assert!(kept_stand_ins(t.path()).is_some());
        let base = closed.parent().unwrap();
        fs::set_permissions(base, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(kept_stand_ins(t.path()), None);
    }

    #[test]
    fn a_file_in_place_of_the_kept_pairs_directory_is_not_used() {
        let t = tempfile::tempdir().unwrap();
        // A file where the pair's directory would be.
        let uid = nix::unistd::geteuid().as_raw();
        fs::write(t.path().join(format!("cordon-stand-ins-{uid}")), "").unwrap();
        assert_eq!(kept_stand_ins(t.path()), None);
    }
}
