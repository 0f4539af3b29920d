//! The crate's one error type.
//!
//! Errors name what could not be enforced and what the person can do about it: a hardened run that
//! cannot get a kernel feature it needs is refused with [`Error::Unenforceable`], never run weaker.

use std::io;
use std::path::PathBuf;

/// Everything that can stop a plan from being prepared or supervised.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scope path was relative; scopes must be absolute so they mean the same thing in every cwd.
    #[error("scope path {path:?} is not absolute; give an absolute path")]
    ScopeNotAbsolute { path: PathBuf },
    /// A scope path contained `..`; such paths are refused before anything is granted.
    #[error("scope path {path:?} contains `..`; write the path without parent references")]
    ScopeParentReference { path: PathBuf },
    /// A scope path could not be resolved (missing, or a broken symlink).
    #[error("scope path {path:?} cannot be resolved: {source}")]
    ScopeUnresolvable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A path could not be resolved to a real file (missing, a loop, or a `/proc` link of cordon's
    /// own process); nothing is granted on it.
    #[error("{path:?} cannot be resolved to a real file: {why}")]
    Unresolvable { path: PathBuf, why: String },
    /// A grant would open a path the envelope keeps closed whatever a contract, an approval or a
    /// link says: credentials, cordon's own home, shell start-up files.
    #[error("{path:?} is never granted: it is or lies inside {never:?}, which the envelope keeps closed (credentials, cordon's home, shell start-up files) whatever a contract, an approval or a link says")]
    NeverGranted { path: PathBuf, never: PathBuf },
    /// The envelope itself cannot be built (e.g. the workspace is missing or lies inside a closed
    /// path).
    #[error("envelope: {0}")]
    Envelope(String),
    /// The kernel lacks a feature the requested confinement needs; the run is blocked.
    #[error("hardened mode needs {feature}, which is not available here: {detail}")]
    Unenforceable {
        feature: &'static str,
        detail: String,
    },
    /// The plan itself is malformed (empty argv, NUL bytes, no commands).
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// Building the Landlock ruleset failed in the supervisor, before any process started.
    #[error("landlock ruleset for {context}: {source}")]
    Landlock {
        context: String,
        #[source]
        source: landlock::RulesetError,
    },
    /// Compiling the seccomp filter failed in the supervisor, before any process started.
    #[error("seccomp filter: {0}")]
    Seccomp(String),
    /// An operating-system call in the supervisor failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
