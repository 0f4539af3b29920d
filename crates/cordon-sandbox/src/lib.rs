//! Linux enforcement primitives and the supervisor for cordon.
//!
//! This crate runs a [`Plan`] (commands, possibly pipelines) under a [`Confinement`] (paths,
//! network, limits) and returns a [`RunReport`] with each command's exit code, capped output
//! hashes and timings, plus an [`EnforcementReport`] that says what the kernel *actually*
//! enforced, built from acknowledgements the children send after confining themselves.
//!
//! A proxied network ([`Network::Proxied`]) runs the commands in a network namespace whose only
//! way out is cordon's egress proxy ([`egress`]), which checks every destination against a host
//! list and reports every connection.
//!
//! It knows nothing about contracts or policies: the policy layer decides whether to run and with
//! which capability set; this crate makes the kernel enforce that set, or refuses to run
//! ([`Error::Unenforceable`]) when it cannot. It is the only crate in the workspace with `unsafe`,
//! all of it at the syscall boundary, each block with a `SAFETY` line.
//!
//! ```no_run
//! use cordon_sandbox::{run, Confinement, Plan, PlannedCommand, RunOptions};
//! let plan = Plan { commands: vec![PlannedCommand::new("c1", ["/bin/true"], "/")] };
//! let report = run(&plan, &Confinement::hardened(), &RunOptions::default())?;
//! assert_eq!(report.exit_code, 0);
//! # Ok::<(), cordon_sandbox::Error>(())
//! ```

mod broker;
mod capture;
mod cgroup;
mod child;
pub mod egress;
mod env;
mod envelope;
mod error;
mod filesystem;
mod git_index;
mod history;
mod host_sockets;
mod kernel;
mod layers;
mod netns_pool;
mod plan;
mod processes;
mod protect;
mod report;
mod repos;
mod resolve;
mod scope;
mod search;
mod seccomp;
mod spawn;
mod supervisor;

pub use broker::{
    fd_path, git_server_info, Applied, ChangeKind, EntryRef, NameChange, ObserverError, Victim,
    WriteObserver, MAX_REPORTED_REFUSALS,
};
pub use capture::{OutputFilter, StreamFilter};
pub use egress::{ConnectionRecord, Egress, EgressReport};
pub use env::{is_forbidden_env_name, scrubbed_env, DEFAULT_PATH};
pub use envelope::{
    repository_work_tree, Envelope, EnvelopeBuilder, Grant, GrantAccess, MAX_CARVED_ENTRIES,
};
pub use error::Error;
pub use filesystem::{MIN_LANDLOCK_ABI, SYSTEM_DIRS};
pub use kernel::{doctor, effective_capabilities, landlock_abi, Guarantee, KernelReport};
pub use plan::{
    Confinement, Limits, Mode, Network, NetworkPolicy, Plan, PlannedCommand, RunOptions, Substitute,
};
pub use processes::{
    MAX_ARGS as MAX_RECORDED_ARGS, MAX_ARGV_BYTES as MAX_RECORDED_ARGV_BYTES,
    MAX_PROCESSES as MAX_RECORDED_PROCESSES, MAX_TREE_ARGV_BYTES as MAX_RECORDED_TREE_ARGV_BYTES,
};
pub use protect::{Protected, PROTECTED_NAMES};
pub use report::{
    BrokerRefusal, BrokerReport, CacheLayerReport, CgroupReport, CommandReport, CommandStatus,
    EnforcementReport, EnvReport, EnvelopeReport, GrantReport, LandlockReport, NetworkReport,
    ProcessRecord, ProcessReport, ProcessTree, ProtectedPath, ProtectedReport, Protection,
    RlimitReport, RunReport, SeccompReport, SegmentReport, StreamReport,
};
pub use repos::{git_config_entries, programs_named, ConfigEntry as GitConfigEntry};
pub use resolve::{resolve_as_far_as_exists, resolve_real, FileKind, RealPath, MAX_SYMLINKS};
pub use scope::resolve_scope;
pub use search::{
    is_python_venv, MAX_SEARCHED_DIRS, PUBLIC_CERTIFICATE_BUNDLES, PYTHON_VENV_MARKER,
    SEARCH_SKIPPED,
};
pub use supervisor::{run, tmp_is_the_workspaces_own};

/// Why this kernel cannot run the write broker, if it cannot (seccomp user notification and
/// `SECCOMP_ADDFD_FLAG_SEND`, Linux 5.14). A caller that would hand a run a
/// [`WriteObserver`] asks first: such a run is refused without the broker.
pub fn write_broker_unavailable() -> Option<String> {
    broker::unavailable()
}
