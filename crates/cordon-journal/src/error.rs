//! The one error type of this crate.
//!
//! Receipt-verification failures keep csc-runner's wording (`missing signature`,
//! `unsupported algorithm: 'x'`, `unknown key_id: 'k'`, `invalid signature`) because tools and
//! people compare those strings across implementations.

use std::path::PathBuf;

/// Everything that can go wrong while signing, storing, proving or verifying.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file or directory could not be read or written.
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },

    /// A key file or key ring is malformed.
    #[error("{0}")]
    Key(String),

    /// The receipt has no `signature` object.
    #[error("missing signature")]
    MissingSignature,
    /// `signature.algorithm` is not `ed25519`.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// `signature.key_id` is absent or empty.
    #[error("missing key_id")]
    MissingKeyId,
    /// `signature.signature` is absent or not standard, padded base64.
    #[error("malformed signature value")]
    MalformedSignature,
    /// No public key is known under this id.
    #[error("unknown key_id: {0}")]
    UnknownKeyId(String),
    /// The key ring holds the key, but not for the instant the receipt claims it was signed.
    #[error("key {key_id} was not valid at signed_at {signed_at}")]
    KeyNotValidAt { key_id: String, signed_at: String },
    /// The Ed25519 check failed.
    #[error("invalid signature")]
    InvalidSignature,

    /// The value to sign or append is not what the format requires.
    #[error("{0}")]
    InvalidEntry(String),

    /// A checkpoint, signed note or proof bundle does not parse.
    #[error("{0}")]
    Format(String),

    /// A Merkle proof does not check out, or cannot be produced for these sizes.
    #[error("{0}")]
    Proof(String),

    /// The journal on disk contradicts itself in a way a writer must not paper over.
    #[error("{0}")]
    Corrupt(String),

    /// The witness refused a push: `code` is stable (docs/fleet.md), `reason` one sentence.
    #[error("the witness refused the checkpoint: {reason}")]
    Refused { code: String, reason: String },
    /// The push did not start where the witness stopped; push again from `witnessed_size`.
    #[error("the witness holds checkpoint size {witnessed_size} for this log, not {claimed}; push again from there")]
    Stale {
        witnessed_size: u64,
        claimed: u64,
        /// The witness's latest cosigned checkpoint, if it has one.
        checkpoint: Option<String>,
    },
    /// The witness's database failed: one sentence naming it and what could not be done.
    #[error("{0}")]
    Database(String),
    /// The witness could not be reached or answered something that is not the protocol.
    #[error("the witness at {url}: {reason}")]
    Transport { url: String, reason: String },
}

impl From<cordon_pg::DbError> for JournalError {
    fn from(e: cordon_pg::DbError) -> Self {
        JournalError::Database(e.to_string())
    }
}

impl JournalError {
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        let text = err.to_string();
        let reason = match text.find(" (os error") {
            Some(i) => text[..i].to_lowercase(),
            None => text.to_lowercase(),
        };
        JournalError::Io {
            path: path.into(),
            reason,
        }
    }
}

/// Python's `repr()` of a string, as csc-runner's messages quote values with it.
pub(crate) use cordon_core::pyrepr::py_repr;
