//! What a run did, and what the kernel actually enforced while it did it.
//!
//! The enforcement report is built from acknowledgements each child process sends after it has
//! applied its confinement and just before `execve`, not from what the supervisor meant to apply.
//! A receipt that copies it therefore records reality: a mechanism that was skipped or fell back
//! shows up as such, with the reason.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::egress::EgressReport;
use crate::plan::{Limits, Mode, NetworkPolicy};

/// The outcome of a whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// One entry per command that was attempted, in order.
    pub commands: Vec<CommandReport>,
    /// Ids of commands that finished with exit code 0.
    pub completed_command_ids: Vec<String>,
    /// Id of the command that stopped the plan, if any.
    pub failed_command_id: Option<String>,
    /// The plan's exit code: the failing command's, else the last command's (0 for an empty plan).
    pub exit_code: i32,
    pub enforcement: EnforcementReport,
}

/// How one command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    Success,
    Failed,
    TimedOut,
    /// The sandbox could not be set up in the child, or the cwd was unusable; the program never ran.
    Blocked,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommandReport {
    pub id: String,
    pub status: CommandStatus,
    /// CSC rules: 124 timeout, 126 blocked/permission, 127 not found, `-signal` when signalled;
    /// a pipeline's code is its first non-zero segment code, else the last segment's.
    pub exit_code: i32,
    pub segments: Vec<SegmentReport>,
    pub stdout: StreamReport,
    pub stderr: StreamReport,
    pub started_at: SystemTime,
    pub ended_at: SystemTime,
    pub duration: Duration,
    /// A short human sentence when the command did not succeed for a reason other than its own exit.
    pub error: Option<String>,
    /// Every program the command's processes executed, as the supervisor observed it
    /// (`processes.rs`); `None` only for a command that was not run by the supervisor.
    pub processes: Option<ProcessTree>,
}

/// The programs a command executed: one record per successful-or-attempted `execve`/`execveat`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessTree {
    /// `"seccomp-user-notif"` when recorded, `"none"` when not.
    pub mechanism: String,
    /// True when every exec of every process of the command passed through the recorder.
    pub complete: bool,
    pub processes: Vec<ProcessRecord>,
    /// More execs happened than the cap keeps; `dropped` counts them.
    pub truncated: bool,
    pub dropped: u64,
    /// Why recording is missing or partial.
    pub notes: Vec<String>,
}

/// One observed exec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessRecord {
    /// The process (thread group) id that called exec; it keeps this pid in the new program.
    pub pid: u32,
    /// Its parent at the time of the exec.
    pub ppid: u32,
    /// The path argument (lossy UTF-8); for `execveat` with an empty path, `fd:N`.
    pub path: String,
    /// The argv as read from the caller's memory at the time of the call (lossy UTF-8).
    pub argv: Vec<String>,
    /// The argv was cut at the per-process cap (arguments or bytes).
    pub argv_truncated: bool,
    /// False when the argv could not be read (the memory was unreadable, or a foreign ABI).
    pub argv_read: bool,
    /// Whether the path named an existing file when the call was made, as the caller sees its
    /// filesystem. False is almost always a failed attempt (a shell or `execvp` trying each
    /// `PATH` entry); it is kept, because a file created in between could still have run.
    pub path_found: bool,
}

/// One pipeline segment.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentReport {
    pub argv0: String,
    pub pid: Option<u32>,
    pub exit_code: i32,
    /// Set when the process was killed by a signal.
    pub signal: Option<i32>,
}

/// A captured stream: the first `cap` bytes are kept and hashed; the rest is drained and counted.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Lowercase hex SHA-256 of the captured prefix.
    pub sha256: String,
    pub captured_bytes: u64,
    pub total_bytes: u64,
    pub truncated: bool,
    /// The captured prefix itself (not serialized: receipts carry hashes, not output).
    #[serde(skip)]
    pub captured: Vec<u8>,
}

/// What was enforced for the run, as observed.
#[derive(Debug, Clone, Serialize)]
pub struct EnforcementReport {
    pub mode: Mode,
    /// Processes that acknowledged their confinement before exec.
    pub processes_confined: u32,
    pub landlock: LandlockReport,
    pub network: NetworkReport,
    pub seccomp: SeccompReport,
    /// Namespaces every confined process entered (`"net"`, `"user"`).
    pub namespaces: Vec<String>,
    pub process: ProcessReport,
    pub rlimits: RlimitReport,
    pub cgroup: CgroupReport,
    pub env: EnvReport,
    /// How the process tree is killed on timeout and after the command exits.
    pub tree_kill: String,
    /// The run's private temporary directory (`TMPDIR`), removed afterwards.
    pub private_tmp: Option<PathBuf>,
    /// Metadata inside writable roots (git hooks and config, agent settings) made read-only.
    pub protected_metadata: ProtectedReport,
    /// The envelope: what every command could reach, and what it never could.
    pub envelope: EnvelopeReport,
    /// The write broker: protected names refused whether or not they existed at the start, and
    /// the copy-on-first-write hook (`broker/mod.rs`).
    pub write_broker: BrokerReport,
}

/// What the write broker enforced for the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BrokerReport {
    /// True when every confined process had its entry-changing syscalls mediated.
    pub enforced: bool,
    /// How, or why not.
    pub status: String,
    /// Directories (project roots and git directories, by inode) whose protected names were
    /// refused.
    pub protected_directories: usize,
    /// Calls the broker answered.
    pub mediated_calls: u64,
    /// Calls refused because they named a protected entry (the first
    /// [`crate::MAX_REPORTED_REFUSALS`]), and how many there were in all.
    pub refused: Vec<BrokerRefusal>,
    pub refused_total: u64,
    /// Of those, refusals of git's files for dumb HTTP servers in a protected `info` directory
    /// (`info/refs`, its temporary, `info/rev-cache`), which every `git gc` and `git repack`
    /// tries to update: nothing reads them but a web server, so no setting changed.
    #[serde(skip_serializing_if = "is_zero")]
    pub git_server_info_refused: u64,
    /// A checkpoint observer was told of every change before it was made.
    pub observer: bool,
    pub notes: Vec<String>,
    /// Protected git configs a command rewrote (git's `config.lock` renamed over them), each
    /// after the broker checked that the new text sets nothing that runs a program which the
    /// old text did not set (`broker/config.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub git_config_written: Vec<PathBuf>,
    /// Such rewrites refused, one sentence each: which config, and the key that was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub git_config_refused: Vec<String>,
}

/// One refused call: who, which syscall family, and the path as the command wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerRefusal {
    pub pid: u32,
    pub call: String,
    pub path: String,
}

/// Paths inside writable roots that hardened mode protects with bind mounts (`protect.rs`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProtectedReport {
    /// True when every confined process had all of `paths` mounted as stated.
    pub enforced: bool,
    /// How, or why not (`"nothing to protect"`, `"not requested (local mode)"`).
    pub status: String,
    pub paths: Vec<ProtectedPath>,
    /// Protected names left writable because a write grant names them or a path inside them.
    pub granted: Vec<PathBuf>,
    /// Where the agent, editor and shell names are protected: the writable roots and the
    /// project roots (directories holding `.git`) below them.
    pub project_roots: Vec<PathBuf>,
    /// Where the git names are protected: git directories, linked worktrees', submodules'.
    pub git_dirs: Vec<PathBuf>,
    /// Files the protected repositories' configuration includes (`include.path`), inside a
    /// writable root: read-only when they exist, and not to be made when they do not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<PathBuf>,
    /// What is not covered: absent names, symlinks, files git tracks.
    pub notes: Vec<String>,
    /// What the user must see before trusting the run: a search that stopped at its cap. One
    /// sentence each; the governor prints them as warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the supervisor changed, or could not check, once the commands were gone, so that git
    /// runs nothing they chose: a new worktree's `commondir` put back, a repository's config or
    /// hooks moved aside (`repos.rs`). One sentence each, for the user to see.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after_run: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedPath {
    pub path: PathBuf,
    pub how: Protection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// Bind-mounted read-only over itself: writes fail with EROFS, rename and removal with EBUSY.
    ReadOnly,
    /// Bind-mounted read-write over itself (a `.git` directory): writable, but it cannot be
    /// renamed or removed (EBUSY), so it cannot be swapped for another one.
    Pinned,
    /// A program with a replacement bind-mounted read-only over it
    /// ([`crate::plan::Substitute`]).
    Substituted,
    /// A closed file of the envelope with an empty read-only file mounted over it.
    Emptied,
    /// A file named like a credential that git tracks, holding other contents than the
    /// repository does: a stand-in nobody may open (mode 000) is mounted over it, so git fails
    /// loudly instead of committing an empty file over it.
    Sealed,
    /// A host process's Unix socket, with a file nobody may open mounted over it: `connect()`
    /// fails with `EACCES` (`host_sockets.rs`).
    Unreachable,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LandlockReport {
    pub enforced: bool,
    /// The kernel's Landlock ABI version (0 when absent).
    pub abi: u8,
    /// Always `"fully_enforced"` when `enforced`; partial rulesets are refused.
    pub status: String,
    pub handled_fs: Vec<String>,
    pub handled_net: Vec<String>,
    pub scopes: Vec<String>,
    /// Paths granted read+execute (resolved), including the system paths exec needs.
    pub read_paths: Vec<PathBuf>,
    /// Paths granted read+write+execute (resolved), including the private TMPDIR.
    pub write_paths: Vec<PathBuf>,
    /// Directories granted listing only (the home directory; roots granted around a never path).
    pub list_paths: Vec<PathBuf>,
    /// Device files granted read+write.
    pub devices: Vec<PathBuf>,
}

/// The envelope the run was confined to (`envelope.rs`), as granted: real paths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvelopeReport {
    /// True when Landlock enforced it for every process (the same as `landlock.enforced`).
    pub enforced: bool,
    /// The envelope's read roots (beyond the system paths in `landlock.read_paths`).
    pub read: Vec<PathBuf>,
    /// Its write roots, with the private TMPDIR (or the workspace's own `/tmp` that holds it).
    pub write: Vec<PathBuf>,
    /// The workspace's own directory that every command saw as `/tmp` (mounted over it in its
    /// mount namespace, kept between runs); absent when the host's `/tmp` was left in place, and
    /// `notes` say why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmp: Option<PathBuf>,
    /// Its list-only directories.
    pub list: Vec<PathBuf>,
    /// Paths closed whatever a grant or a link says, as written and as resolved.
    pub never: Vec<PathBuf>,
    /// Paths never written (nor created), though readable, as written and as resolved.
    pub read_only: Vec<PathBuf>,
    /// Closed files that existed: an empty read-only file was mounted over each, so reading one
    /// gives nothing (a program that reads its configuration at start still starts) and writing
    /// fails (EROFS).
    pub stand_ins: Vec<PathBuf>,
    /// Granted roots with a never path beneath: made list-only, their other entries granted one
    /// by one (in `landlock.*_paths`).
    pub carved: Vec<PathBuf>,
    /// The host's Unix sockets the command could not connect to: below Landlock ABI 9, a file
    /// nobody may open was mounted over each (`host_sockets.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unix_sockets_closed: Vec<PathBuf>,
    /// Names the host's socket table lists that lead to no socket now: relative, bound through
    /// `/proc/self`, or whose directory is gone (a renamed directory's socket may be reachable
    /// under its new name), or a temporary name linked into place (its socket is in
    /// `unix_sockets_closed` when it stayed in the same directory).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unix_socket_names_unresolved: Vec<PathBuf>,
    /// Grants beyond the envelope.
    pub grants: Vec<GrantReport>,
    /// The caches written through the workspace's layer (in `write`): what commands wrote there
    /// is in the layer, and the cache is as the user's own tools left it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_layers: Vec<CacheLayerReport>,
    /// What was left out, and why.
    pub notes: Vec<String>,
}

/// A cache and the layer over it (`layers.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheLayerReport {
    /// The cache, as the user's own tools see it (read-only to commands).
    pub cache: PathBuf,
    /// The workspace's layer over it, where commands' writes went.
    pub layer: PathBuf,
}

/// One grant beyond the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantReport {
    /// The real path granted.
    pub path: PathBuf,
    pub access: crate::GrantAccess,
    /// `"descriptor"` when made on the file the caller resolved and judged; `"path"` when the
    /// sandbox resolved a path it was handed.
    pub made_on: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    pub policy: NetworkPolicy,
    /// Mechanisms in force for every process: `"netns"`, `"private-loopback"`, `"landlock-net"`,
    /// `"seccomp-socket"`, and `"egress-proxy"` for a proxied run.
    pub methods: Vec<String>,
    /// Why a mechanism is missing (e.g. the network namespace could not be created).
    pub notes: Vec<String>,
    /// A proxied run: the list in force and every connection the proxy decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressReport>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SeccompReport {
    pub enforced: bool,
    pub arch: String,
    /// Foreign-architecture syscalls (i386 `int 0x80`) kill the process.
    pub arch_checked: bool,
    /// x32 syscall numbers (`nr | 0x40000000`) kill the process.
    pub x32_killed: bool,
    /// Syscalls that fail with EPERM.
    pub denied_eperm: Vec<String>,
    /// Syscalls that fail with ENOSYS (so libc falls back to an older, filterable call).
    pub denied_enosys: Vec<String>,
    /// Syscalls denied only for some arguments, with the condition.
    pub conditional: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessReport {
    pub new_session: bool,
    pub no_new_privs: bool,
    /// Effective, permitted, inheritable and ambient sets verified empty after dropping.
    pub capabilities_cleared: bool,
    /// Bounding set emptied (needs CAP_SETPCAP; false when there were no capabilities to drop).
    pub bounding_set_cleared: bool,
    /// SECBIT_NOROOT and friends set and locked so a uid-0 exec regains nothing.
    pub securebits_locked: bool,
    /// Every fd above 2 closed at exec (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`).
    pub inherited_fds_closed: bool,
    pub stdin: String,
    /// Processes still running when a command's last foreground process exited, stopped then
    /// (counted where the command has a cgroup): background work does not outlive a command.
    #[serde(skip_serializing_if = "is_zero")]
    pub background_stopped: u32,
}

fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

#[derive(Debug, Clone, Serialize)]
pub struct RlimitReport {
    pub applied: bool,
    pub requested: Limits,
    /// Where a requested limit does not bind (e.g. RLIMIT_NPROC for uid 0).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CgroupReport {
    /// `"enforced"`, or why not (`"no writable cgroup v2"`).
    pub status: String,
    pub path: Option<PathBuf>,
    pub memory_max: Option<u64>,
    pub pids_max: Option<u64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvReport {
    pub policy: String,
    /// Names passed to at least one command (values are never reported).
    pub passed: Vec<String>,
    /// Names dropped because they are on the injection list.
    pub dropped: Vec<String>,
}
