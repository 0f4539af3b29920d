//! What to run and under which confinement: plain data, built by the caller.
//!
//! The sandbox knows nothing about contracts or policies. A caller maps whatever it decided onto a
//! [`Plan`] (the commands) and a [`Confinement`] (the capability set), and gets back a
//! [`crate::RunReport`] that says what happened and what the kernel actually enforced.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::broker::WriteObserver;
use crate::egress::Egress;
use crate::envelope::{Envelope, Grant};

/// Commands run in order; the first failure stops the plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub commands: Vec<PlannedCommand>,
}

/// One command: a single argv, or a pipeline of argvs joined by real OS pipes.
#[derive(Debug, Clone)]
pub struct PlannedCommand {
    /// The caller's id for this command; reports are keyed by it.
    pub id: String,
    /// One or more argvs; more than one is a pipeline (`a | b | c`).
    pub pipeline: Vec<Vec<OsString>>,
    /// Working directory; must exist.
    pub cwd: PathBuf,
    /// Wall-clock limit for the whole pipeline; the whole process tree dies when it passes.
    pub timeout: Duration,
    /// The complete environment, already built (see [`crate::scrubbed_env`]). Forbidden names are
    /// dropped again by the supervisor; `TMPDIR` is set to the run's private directory.
    pub env: Vec<(OsString, OsString)>,
}

impl PlannedCommand {
    /// A single-argv command with the scrubbed default environment and a 60 s timeout.
    pub fn new<I, S>(id: impl Into<String>, argv: I, cwd: impl Into<PathBuf>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        PlannedCommand {
            id: id.into(),
            pipeline: vec![argv.into_iter().map(Into::into).collect()],
            cwd: cwd.into(),
            timeout: Duration::from_secs(60),
            env: crate::scrubbed_env(&[], |name| std::env::var_os(name)),
        }
    }

    /// Appends a pipeline segment: `self | argv`.
    #[must_use]
    pub fn pipe<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.pipeline
            .push(argv.into_iter().map(Into::into).collect());
        self
    }

    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    #[must_use]
    pub fn env(mut self, env: Vec<(OsString, OsString)>) -> Self {
        self.env = env;
        self
    }
}

/// Local runs supervise only (capture, timeout, tree kill, scrubbed env); hardened runs are
/// confined by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Local,
    Hardened,
}

/// Whether the commands may use the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// No IP (or any non-Unix) sockets at all.
    Deny,
    /// Only through cordon's egress proxy, to the hosts its list names (`egress/`). Hardened
    /// mode only; a run that cannot get its network namespace is refused.
    Proxied(Egress),
    /// The host's network, unfiltered.
    Allow,
}

impl Network {
    /// The kind of network, as a report names it.
    pub fn policy(&self) -> NetworkPolicy {
        match self {
            Network::Deny => NetworkPolicy::Deny,
            Network::Proxied(_) => NetworkPolicy::Proxied,
            Network::Allow => NetworkPolicy::Allow,
        }
    }
}

/// [`Network`] without its list: what a report says was in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkPolicy {
    Deny,
    Proxied,
    Allow,
}

/// Resource limits. rlimits apply per process (`nproc` per user id, as the kernel counts it);
/// `memory_bytes` and `pids` are cgroup v2 limits on the whole tree, applied only where a writable
/// cgroup v2 with those controllers exists (the report says whether they were).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub cpu_seconds: Option<u64>,
    pub address_space_bytes: Option<u64>,
    pub nproc: Option<u64>,
    pub file_size_bytes: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
}

impl Default for Limits {
    /// CSC's defaults for CPU and file size; a larger address space (4 GiB) because modern
    /// runtimes reserve far more virtual memory than they use; `nproc` 1024 because the kernel
    /// counts every process of the user id, not just this run's.
    fn default() -> Self {
        Limits {
            cpu_seconds: Some(300),
            address_space_bytes: Some(4 << 30),
            nproc: Some(1024),
            file_size_bytes: Some(100 << 20),
            memory_bytes: Some(1 << 30),
            pids: Some(256),
        }
    }
}

impl Limits {
    /// For an agent's everyday work in a workspace (`cordon exec`, the hooks, MCP). No per-process
    /// CPU or address-space rlimit: the command's timeout bounds its time; runtimes reserve far
    /// more virtual memory than they use (Node's WebAssembly reserves about 10 GiB per
    /// instance, so under CSC's 4 GiB every `fetch()` failed, and so did AddressSanitizer).
    /// `RLIMIT_NPROC` counts every process and thread of the user id, a desktop's browsers among
    /// them, so CSC's 1024 could refuse a fork to a command that made none; 16384 still bounds a
    /// fork bomb where no cgroup does. Files up to 16 GiB (a debug build's binaries pass
    /// 100 MiB). The tree is bounded by its cgroup where the controllers are delegated: memory up
    /// to half the machine's, 4096 tasks.
    pub fn for_workspace() -> Limits {
        // SAFETY: sysconf with integer names only.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        let physical = u64::try_from(pages)
            .ok()
            .zip(u64::try_from(page).ok())
            .map(|(pages, page)| pages.saturating_mul(page))
            .filter(|bytes| *bytes > 0)
            .unwrap_or(16 << 30);
        Limits {
            cpu_seconds: None,
            address_space_bytes: None,
            nproc: Some(16384),
            file_size_bytes: Some(16 << 30),
            memory_bytes: Some(physical / 2),
            pids: Some(4096),
        }
    }
}

/// The capability set the kernel enforces in hardened mode.
#[derive(Debug, Clone)]
pub struct Confinement {
    pub mode: Mode,
    /// What every command may reach, and what it never may ([`Envelope`]).
    pub envelope: Envelope,
    /// Grants beyond the envelope on files the caller resolved and judged ([`crate::resolve_real`]).
    pub grants: Vec<Grant>,
    /// Readable (and executable) trees beyond the envelope, by path: resolved with
    /// [`crate::resolve_scope`] when the run is prepared. Prefer [`Confinement::grants`], made on
    /// the file that was judged.
    pub read_paths: Vec<PathBuf>,
    /// Writable (and readable) trees beyond the envelope, by path; may sit below a read-only one.
    /// An explicit grant of a protected name (`.git/hooks`) leaves it writable.
    pub write_paths: Vec<PathBuf>,
    pub network: Network,
    pub limits: Limits,
    /// Programs replaced inside the command's mount namespace (hardened mode): each `program`
    /// has `with` bind-mounted read-only over it, so every name and path that reaches the
    /// program runs the replacement. Used for cordon's soft-delete `rm` under a checkpoint.
    pub substitutes: Vec<Substitute>,
}

/// One program replaced for the command: see [`Confinement::substitutes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitute {
    /// The program's file (symlinks are followed when the run is planned).
    pub program: PathBuf,
    /// The regular file mounted over it.
    pub with: PathBuf,
}

impl Confinement {
    /// Supervision only: no kernel confinement.
    pub fn local() -> Self {
        Confinement {
            mode: Mode::Local,
            envelope: Envelope::default(),
            grants: Vec::new(),
            read_paths: Vec::new(),
            write_paths: Vec::new(),
            network: Network::Allow,
            limits: Limits::default(),
            substitutes: Vec::new(),
        }
    }

    /// Kernel confinement with nothing granted beyond what exec needs, and no network.
    pub fn hardened() -> Self {
        Confinement {
            mode: Mode::Hardened,
            network: Network::Deny,
            ..Confinement::local()
        }
    }

    /// Kernel confinement within `envelope`, and no network. A workspace's envelope gets the
    /// limits of everyday work ([`Limits::for_workspace`]); any other keeps CSC's.
    pub fn within(envelope: Envelope) -> Self {
        let limits = match envelope.private_tmp {
            Some(_) => Limits::for_workspace(),
            None => Limits::default(),
        };
        Confinement {
            envelope,
            limits,
            ..Confinement::hardened()
        }
    }

    /// A grant beyond the envelope, on a resolved file.
    #[must_use]
    pub fn grant(mut self, grant: Grant) -> Self {
        self.grants.push(grant);
        self
    }

    #[must_use]
    pub fn read(mut self, path: impl Into<PathBuf>) -> Self {
        self.read_paths.push(path.into());
        self
    }

    #[must_use]
    pub fn write(mut self, path: impl Into<PathBuf>) -> Self {
        self.write_paths.push(path.into());
        self
    }

    #[must_use]
    pub fn network(mut self, network: Network) -> Self {
        self.network = network;
        self
    }

    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// How the supervisor handles output, and who else is told of what the commands change.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Copy the commands' stdout/stderr to ours as they arrive.
    pub passthrough: bool,
    /// Bytes of stdout kept and hashed per command (CSC: 10 MiB).
    pub stdout_cap: usize,
    /// Bytes of stderr kept and hashed per command (CSC: 1 MiB).
    pub stderr_cap: usize,
    /// Use a per-command cgroup v2 for tree kill and limits when one can be created. Only tests of
    /// the subreaper fallback turn this off.
    pub use_cgroup: bool,
    /// Record every exec of the command's processes (`processes.rs`) into its report.
    pub record_processes: bool,
    /// Rewrites each stream of each command before it is relayed or captured (secret
    /// redaction), so the captured bytes and their hash are what the caller saw.
    pub output_filter: Option<Arc<dyn crate::OutputFilter>>,
    /// Told by the write broker, before each change, of every existing file a hardened command
    /// overwrites, truncates, removes or renames over, and afterwards of every entry it creates
    /// or moves ([`crate::WriteObserver`]): the copy-on-first-write hook of a checkpoint. Only
    /// hardened mode has a broker; a local run with an observer is refused.
    pub write_observer: Option<Arc<dyn WriteObserver>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            passthrough: true,
            stdout_cap: 10 << 20,
            stderr_cap: 1 << 20,
            use_cgroup: true,
            record_processes: true,
            output_filter: None,
            write_observer: None,
        }
    }
}
