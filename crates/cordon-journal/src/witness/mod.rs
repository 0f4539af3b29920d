//! A witness for every machine's journal: an independent service that remembers, per log (origin
//! and key), the latest checkpoint it accepted and a mirror of every entry pushed to it, and
//! cosigns a new checkpoint only when it extends the old one.
//!
//! Why: the journal's checkpoints are signed by a key that lives on the machine. Whoever becomes
//! root there can rewrite the journal and re-sign every checkpoint; only a checkpoint kept
//! elsewhere catches that. The witness is that elsewhere. After each push the machine keeps the
//! cosigned checkpoint (`DIR/witnessed/`), and verification holds the journal to it; the witness
//! refuses any later checkpoint that does not extend it, so a rewritten history can no longer be
//! cosigned, and whole-history verification can run from the witness's mirror alone.
//!
//! - [`cosign`]: C2SP `tlog-cosignature` (Ed25519 `cosignature/v1`) lines and witness keys.
//! - [`check`]: what a push must satisfy (pure).
//! - [`db`]: the PostgreSQL storage (state per log, the mirror, indexed search columns).
//! - [`server`]: the HTTP service (`cordon witness serve`).
//! - [`client`]: the machine side: push a journal, keep the cosigned checkpoint, fetch a log.
//!
//! The wire format is in `docs/fleet.md`.

pub mod check;
pub mod client;
pub mod cosign;
pub mod db;
pub mod server;

use std::sync::Arc;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

pub use check::{check_push, rotation_text, Accepted};
pub use cosign::WitnessKey;
pub use db::{Hit, Query, QueryKind, WitnessDb};

use crate::error::JournalError;
use crate::keys::Signer;
use crate::merkle::Hash;

/// One push: the entries after the witnessed checkpoint, the new checkpoint, and the RFC 9162
/// consistency proof between the two (JSON, `POST /v1/push`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Push {
    pub origin: String,
    /// The machine's name, recorded at first contact (search answers "on host Y" with it).
    pub machine: String,
    /// Standard base64 of the log's raw 32-byte Ed25519 public key.
    pub public_key: String,
    /// The size of the last checkpoint the witness cosigned for this log (0 the first time).
    pub old_size: u64,
    /// Standard base64 hashes of the consistency proof from `old_size` to the new size.
    pub consistency: Vec<String>,
    /// The new checkpoint, a signed note by the log's key.
    pub checkpoint: String,
    /// Journal lines `old_size..new size`, without their newlines.
    pub entries: Vec<String>,
    /// A key change: a rotation statement signed by the old key ([`rotation_text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<String>,
}

/// The witness's answer to an accepted push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosigned {
    /// The pushed checkpoint with the witness's cosignature line added.
    pub checkpoint: String,
    pub size: u64,
}

/// What the witness keeps per log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    pub origin: String,
    pub machine: String,
    /// The log's current key.
    pub key: VerifyingKey,
    pub size: u64,
    pub root: Hash,
    /// The compact range of the tree at `size` ([`crate::merkle::TreeBuilder::frontier`]).
    pub frontier: Vec<Hash>,
    /// The payload hash of the last entry, which the next entry's `log_position` must name.
    pub last_payload: Option<Hash>,
    /// The latest accepted checkpoint, as the log signed it.
    pub checkpoint: String,
    /// The same, with the witness's cosignature.
    pub cosigned: String,
}

/// A key change the witness accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The first entry signed by the new key.
    pub at_size: u64,
    pub old_key: VerifyingKey,
    pub new_key: VerifyingKey,
    /// The statement, signed by the old key.
    pub statement: String,
}

/// One mirrored entry: its line (the source of truth) and the columns search uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorRow {
    pub index: u64,
    pub line: String,
    pub kind: &'static str,
    /// RFC 3339: a decision's `decided_at`, a receipt's `started_at`, else its `signed_at`.
    pub at: Option<String>,
    pub actor: Option<String>,
    pub session_id: Option<String>,
    /// A decision's outcome, a receipt's status.
    pub outcome: Option<String>,
    /// The command text the agent gave (`front_end.text`), else the contract id.
    pub command: Option<String>,
    /// Approver identities, comma-separated.
    pub approvers: Option<String>,
    /// A decision's id, or the decision a receipt links to.
    pub record_id: Option<String>,
    pub contract_sha256: Option<String>,
}

/// The witness: its identity, its key, its database.
#[derive(Debug)]
pub struct Witness {
    name: String,
    signer: Arc<Signer>,
    db: WitnessDb,
}

impl Witness {
    /// A witness named `name` (a schema-less URL, e.g. `witness.example.org/cordon`) signing with
    /// `signer`, keeping its state in `db`.
    pub fn new(name: &str, signer: Arc<Signer>, db: WitnessDb) -> Result<Witness, JournalError> {
        if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
            return Err(JournalError::Format(format!(
                "a witness name must be non-empty and contain no spaces or '+': {name:?}"
            )));
        }
        Ok(Witness {
            name: name.to_string(),
            signer,
            db,
        })
    }

    /// The key verifiers configure for this witness.
    pub fn key(&self) -> WitnessKey {
        WitnessKey {
            name: self.name.clone(),
            key: self.signer.verifying_key(),
        }
    }

    pub fn db(&mut self) -> &mut WitnessDb {
        &mut self.db
    }

    /// Checks a push, stores it, and cosigns its checkpoint at `now` (Unix seconds). A refusal
    /// stores nothing; a push racing another for the same log is [`JournalError::Stale`].
    pub fn push(&mut self, push: &Push, now: u64) -> Result<Cosigned, JournalError> {
        let witnessed = self.db.log_state(&push.origin)?;
        let mut accepted = check_push(witnessed.as_ref(), push)?;
        let cosigned = cosign::cosign(&push.checkpoint, &self.name, &self.signer, now)?;
        accepted.state.cosigned = cosigned.clone();
        self.db
            .commit(&accepted, witnessed.is_none(), push.old_size)?;
        Ok(Cosigned {
            checkpoint: cosigned,
            size: accepted.state.size,
        })
    }
}
