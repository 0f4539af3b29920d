//! Human approvals that cannot be forged, stretched or replayed.
//!
//! When the policy says ask, a person answers. This crate turns that answer into evidence a runner
//! can check without trusting the channel it came through (terminal, web page, chat):
//!
//! - [`artifact`]: a CSC approval (`csc.approval.v0.1`) wrapped with a scope, a random nonce and an
//!   Ed25519 signature by the approver's own key. Every scope is bound to what was approved: the
//!   contract hash, or for a pattern scope the contract's envelope hash plus the approver's glob.
//! - [`ring`]: the approvers a home trusts (identity and public key). A key not listed signs nothing.
//! - [`store`]: the [`ApprovalStore`] trait and the durable SQLite state (WAL) shared by every
//!   process: pending requests, answers, and consumed approvals. Consuming a single-use approval
//!   is one `BEGIN IMMEDIATE` transaction against a unique constraint, so a replay fails in any
//!   process, before or after a restart.
//! - [`pg_store`]: the same store on PostgreSQL for a team: requests from every machine, an
//!   approval consumed exactly once across machines; [`location`] chooses between the two.
//! - [`webhook`]: a Slack-compatible Block Kit notice of a pending request, secrets redacted,
//!   delivered with exponential backoff.
//!
//! The crate takes paths and keys; where they live in cordon's home is the binary's business.

pub mod artifact;
pub mod location;
pub mod pg_store;
pub mod redact;
pub mod ring;
pub mod store;
pub mod webhook;

pub use artifact::{distinct_approvers, Grant, Scope, SignedApproval, Verified};
pub use location::StoreLocation;
pub use pg_store::PgStore;
pub use ring::ApproverRing;
pub use store::{machine_name, ApprovalStore, Request, RequestState, Store};

/// Why an approval was refused, or the approval state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The artifact is not well formed (bad JSON, schema, encoding).
    #[error("the approval is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify: the artifact was altered or signed by another key.
    #[error(
        "the approval's signature does not verify (altered, or not signed by the key it names)"
    )]
    BadSignature,
    /// The signing key is not in the approver key ring.
    #[error("the approval is signed by a key that is not a trusted approver")]
    UnknownKey,
    /// The key is trusted, but under another identity than the one the approval claims.
    #[error("the approval claims approver {claimed:?} but its key belongs to {listed:?}")]
    IdentityMismatch { claimed: String, listed: String },
    #[error("the approval expired at {0}")]
    Expired(String),
    #[error("the approval is dated in the future ({0})")]
    NotYetValid(String),
    /// The approval authorizes something else.
    #[error("the approval does not cover this contract: {0}")]
    WrongContract(String),
    /// A single-use approval that was already consumed.
    #[error("approval {0} was already used; a single-use approval cannot be replayed")]
    Replayed(String),
    /// Dual control was required and the approvals do not come from two distinct approvers.
    #[error("dual control needs two distinct approvers (distinct identities and keys): {0}")]
    NotDistinct(String),
    #[error("the approver key ring {path}: {why}")]
    Ring { path: String, why: String },
    #[error("the approval store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("the approval store: {0}")]
    StoreState(String),
    /// The shared (PostgreSQL) approval database failed or could not be reached: one sentence
    /// naming the database and what could not be done. The caller denies.
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    Io(String),
}
