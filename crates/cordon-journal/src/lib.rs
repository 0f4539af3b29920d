//! Evidence for cordon: signed receipts and decision records in a tamper-evident journal that
//! anyone can verify offline.
//!
//! Everything here uses public formats so that an auditor needs the public key and the specs, not
//! cordon: CSC Ed25519 receipt signatures ([`signing`]), an RFC 9162 Merkle log ([`merkle`]) of
//! canonical JSON lines ([`store`]), C2SP signed-note checkpoints ([`note`]) and
//! `c2sp.org/tlog-proof` bundles ([`proof`]). [`verify`] checks a whole journal.
//!
//! A run records itself like this:
//!
//! ```no_run
//! # fn main() -> Result<(), cordon_journal::JournalError> {
//! use cordon_journal::{record, Journal, Signer};
//! # let signer: Signer = unimplemented!();
//! # let decision: record::Decision = unimplemented!();
//! # let mut receipt = serde_json::json!({});
//! let mut journal = Journal::open(std::path::Path::new(".cordon/journal"))?;
//! let rec = journal.append_signed(&record::decision_record(&decision)?, &signer)?;
//! // ... run the command, build the CSC receipt ...
//! record::link_decision(&mut receipt, &rec)?;
//! let stored = journal.append_signed(&receipt, &signer)?;   // stored.entry is the signed receipt
//! journal.write_checkpoint(&signer)?;
//! # Ok(()) }
//! ```

pub mod acta;
pub mod error;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod proof;
pub mod record;
pub mod signing;
pub mod store;
pub mod time_fmt;
pub mod verify;
pub mod witness;

pub use error::JournalError;
pub use keys::{KeyRing, Signer};
pub use note::Checkpoint;
pub use record::{Appended, Decision};
pub use signing::{sign_receipt, verify_receipt, verify_with_ring};
pub use store::Journal;
pub use verify::{verify_journal, Outcome, Verdict, VerifyOptions};
