//! The CSC v0.1 protocol core: contracts, policies, decisions, receipts and approvals as the CSC
//! schemas define them, the canonical JSON every hash and signature is computed over, and the
//! reason codes decisions carry.
//!
//! Besides the protocol, the small helpers every crate shares live here once: atomic file writes
//! ([`file`]), Python's `repr()` for csc-runner's messages ([`pyrepr`]), the `$HOME` fallback
//! ([`user`]) and agent text made safe for a person to read ([`display::visible`]).
//!
//! Apart from [`file`], this crate is pure: it parses and validates what its callers hand it, it
//! does no I/O, and it has no `unsafe`.

pub mod approval;
pub mod canonical;
pub mod conform;
pub mod contract;
pub mod decision;
pub mod display;
pub mod file;
pub mod hash;
pub mod hosts;
pub mod json;
pub mod limits;
pub mod name_glob;
pub mod policy;
pub mod pyrepr;
pub mod reason;
pub mod receipt;
pub mod schema;
pub mod secret;
pub mod time;
pub mod user;

pub use approval::Approval;
pub use contract::{Command, Contract, ContractError, EffectType, NetworkMode, RiskClass};
pub use decision::{ClassifiedEffect, Outcome, PolicyDecision, Verdict};
pub use policy::{LoadedPolicy, Policy, PolicyError};
pub use reason::ReasonCode;
pub use receipt::ExecutionReceipt;
pub use schema::Schema;
