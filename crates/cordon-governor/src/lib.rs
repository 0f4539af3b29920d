//! The governed-execution pipeline: what happens between a decision and its evidence.
//!
//! [`govern`] reads top to bottom, one step per call, each returning a type:
//!
//! ```text
//! resolve approval → record decision → refuse? → resolve secrets → snapshot → plan confinement →
//! execute → build receipt → record receipt → seal
//! ```
//!
//! | step | where |
//! |---|---|
//! | resolve approval | [`approval::resolve`] |
//! | record decision | [`Ledger::record_decision`], built by [`ledger::decision_of`] |
//! | resolve secrets, inject, redact | [`secrets::prepare`], [`secrets::RunSecrets`] |
//! | snapshot (allow with checkpoint) | [`snapshot::take`], soft deletes in [`snapshot`] and [`trash_service`] |
//! | plan confinement | [`confinement::plan`], the envelope and its grants in [`envelope`] |
//! | execute | [`Executor`] ([`executor::Sandbox`] is the real one) |
//! | build receipt | [`receipt`], the `x-cordon` extension in [`extension`] |
//! | record receipt, seal | [`Ledger::record_receipt`], [`Ledger::seal`] |
//!
//! Before it, [`analyse`] is the decide step for what an agent writes (shell text or an argv);
//! `cordon run` judges a CSC contract with [`judge_contract`].
//!
//! The request carries one [`Decision`] (outcome, reason codes, sentence, policy) that every front
//! end builds the same way. Evidence goes to a [`Ledger`]: unsigned, signed, or journaled. This
//! crate parses no command line and prints nothing: what a person should read now goes to the
//! caller's [`Notices`], and the caller writes the receipt where it belongs.

pub mod analysis;
pub mod approval;
pub mod confinement;
pub mod decision;
pub mod envelope;
pub mod error;
pub mod executor;
pub mod extension;
pub mod ledger;
pub mod mode;
pub mod notice;
pub mod pipeline;
pub mod policies;
pub mod receipt;
pub mod request;
pub mod secrets;
pub mod snapshot;
pub mod status;
pub mod trash_service;

pub use analysis::{
    analyse, Analysis, AnalysisRequest, FileToolCall, Probe, SecretsJudged, SystemProbe, Written,
};
pub use approval::{ApprovalDesk, ApprovalOptions};
pub use confinement::ResolverOverrides;
pub use decision::{Decision, PolicyRef, Reason};
pub use envelope::{EnvelopeInForce, EnvelopeSource};
pub use error::{Error, Result};
pub use executor::{Executed, Executor, Sandbox};
pub use ledger::Ledger;
pub use mode::{Mode, ModeChoice, ModeNote};
pub use notice::{Notice, Notices};
pub use pipeline::{govern, govern_unrecorded, Conclusion, Governed, Options};
pub use policies::{PolicyChoice, PolicyInForce, PolicySource};
pub use request::{judge_contract, FrontEnd, RedirectRecord, RunRequest};
pub use secrets::{SecretGrants, SecretsPlace};
pub use snapshot::SnapshotPlaces;
