//! The governor's one error type. Every variant is one sentence for a person; the binary maps the
//! variant to its exit code.

/// Why a request could not be governed. Anything that fails on the way to running a command
/// is a refusal: no variant means "run it anyway".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The caller's options were wrong (the binary's exit 64).
    #[error("{0}")]
    Usage(String),
    /// An input (a policy, a contract, a key) was missing, unreadable or invalid (exit 65).
    #[error("{0}")]
    InvalidInput(String),
    /// The run cannot be recorded, so it must not start (exit 126).
    #[error("{0}")]
    Unrecordable(String),
    /// Something inside cordon failed; the request is refused (exit 70).
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;
