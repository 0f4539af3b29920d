//! Where a run's evidence goes: nowhere but the caller (unsigned), a signed receipt, or a signed
//! journal. "A journal needs a signer" is the type: [`Ledger::Journaled`] holds both.
//!
//! Every decision is recorded before anything runs ([`Ledger::record_decision`]); a run's receipt
//! is linked to its decision record, signed and appended ([`Ledger::record_receipt`]); every run
//! ends with a signed tree head of the journal ([`Ledger::seal`]). docs/journal.md, "cordon run".

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_journal::record::{self, Appended};
use cordon_journal::{Journal, Signer};
use serde_json::Value;

use crate::decision::Decision;
use crate::error::{Error, Result};
use crate::mode::Mode;

/// A signing key and the file it came from (resolved: the scope check compares it to the scopes
/// a contract would grant). Shared, because the snapshot and the soft-delete service sign their
/// manifests with it too, the service from its own thread.
#[derive(Debug)]
pub struct SigningKey {
    pub signer: Arc<Signer>,
    pub file: PathBuf,
}

/// An open journal and its directory (resolved, for the scope check).
#[derive(Debug)]
pub struct OpenJournal {
    pub journal: Journal,
    pub dir: PathBuf,
}

/// Where evidence goes.
#[derive(Debug)]
pub enum Ledger {
    /// Nothing is signed: the receipt goes to the caller only (local mode without a key).
    Unsigned,
    /// Receipts are signed on their own (CSC style); nothing is journaled.
    Signed(SigningKey),
    /// Decisions and receipts are signed into the journal, which is sealed after every run.
    Journaled(SigningKey, Box<OpenJournal>),
}

/// Why a hardened run without a key does not start.
pub const HARDENED_NEEDS_SIGNING: &str = "hardened mode requires signing (--signing-key K --key-id ID): a run that cannot be recorded does not start";

/// Where a decision record went.
#[derive(Debug)]
pub enum DecisionRecorded {
    /// The ledger keeps no journal.
    NotJournaled,
    Appended(Appended),
    /// The journal refused the record: one sentence.
    Failed(String),
}

impl Ledger {
    /// Loads the key and opens (or creates) the journal. Hardened mode requires a key; a journal
    /// requires a key. `Usage` for options that do not go together; `Unrecordable` when a run
    /// under these options could not be recorded, so it must not start.
    pub fn open(key: Option<(&Path, &str)>, journal: Option<&Path>, mode: Mode) -> Result<Ledger> {
        let Some((key_file, key_id)) = key else {
            if mode == Mode::Hardened {
                return Err(Error::Unrecordable(HARDENED_NEEDS_SIGNING.into()));
            }
            if let Some(dir) = journal {
                return Err(Error::Usage(format!(
                    "{}: a journal needs a signing key (--signing-key K --key-id ID)",
                    dir.display()
                )));
            }
            return Ok(Ledger::Unsigned);
        };
        let signer = Signer::from_file(key_file, key_id)
            .map_err(|e| Error::Unrecordable(format!("the signing key is not usable: {e}")))?;
        let file = std::fs::canonicalize(key_file)
            .map_err(|e| Error::Unrecordable(format!("{}: {e}", key_file.display())))?;
        let key = SigningKey {
            signer: Arc::new(signer),
            file,
        };
        let Some(dir) = journal else {
            return Ok(Ledger::Signed(key));
        };
        let opened = Journal::open(dir).map_err(|e| {
            Error::Unrecordable(format!(
                "the journal cannot be opened, so the run cannot be recorded: {e}"
            ))
        })?;
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        Ok(Ledger::Journaled(
            key,
            Box::new(OpenJournal {
                journal: opened,
                dir,
            }),
        ))
    }

    fn key(&self) -> Option<&SigningKey> {
        match self {
            Ledger::Unsigned => None,
            Ledger::Signed(key) | Ledger::Journaled(key, _) => Some(key),
        }
    }

    /// The key that signs receipts, and the manifests of the run's checkpoint and trash items.
    pub fn signer(&self) -> Option<&Arc<Signer>> {
        self.key().map(|k| &k.signer)
    }

    /// The key id signatures name.
    pub fn key_id(&self) -> Option<String> {
        self.key().map(|k| k.signer.key_id().to_string())
    }

    /// The private key's file (resolved), which no scope may grant.
    pub fn key_file(&self) -> Option<&Path> {
        self.key().map(|k| k.file.as_path())
    }

    /// The journal's directory (resolved), which no write scope may grant.
    pub fn journal_dir(&self) -> Option<&Path> {
        match self {
            Ledger::Journaled(_, journal) => Some(&journal.dir),
            _ => None,
        }
    }

    pub fn is_journaled(&self) -> bool {
        matches!(self, Ledger::Journaled(..))
    }

    /// Signs and appends a decision record before anything runs.
    pub fn record_decision(&mut self, decision: &record::Decision) -> DecisionRecorded {
        let Ledger::Journaled(key, journal) = self else {
            return DecisionRecorded::NotJournaled;
        };
        match record::decision_record(decision)
            .and_then(|r| journal.journal.append_signed(&r, &key.signer))
        {
            Ok(appended) => DecisionRecorded::Appended(appended),
            Err(e) => DecisionRecorded::Failed(e.to_string()),
        }
    }

    /// Signs a receipt on its own (CSC style) when there is a key; unsigned otherwise.
    pub fn sign(&self, receipt: Value) -> Result<Value> {
        match self.key() {
            Some(key) => cordon_journal::sign_receipt(&receipt, &key.signer)
                .map_err(|e| Error::Internal(format!("cannot sign the receipt: {e}"))),
            None => Ok(receipt),
        }
    }

    /// Points a receipt at its decision record (when there is one) and signs it on its own: the
    /// receipt of a refusal, which goes to the caller and never into the journal.
    pub fn link_and_sign(&self, mut receipt: Value, decision: Option<&Appended>) -> Result<Value> {
        if let Some(record) = decision {
            record::link_decision(&mut receipt, record)
                .map_err(|e| Error::Internal(e.to_string()))?;
        }
        self.sign(receipt)
    }

    /// Records the receipt of a run: linked to its decision record, signed and appended when the
    /// record is in the journal, else signed on its own.
    pub fn record_receipt(
        &mut self,
        receipt: Value,
        decision: Option<&Appended>,
    ) -> Result<ReceiptRecorded> {
        let (Ledger::Journaled(key, journal), Some(record)) = (&mut *self, decision) else {
            return Ok(ReceiptRecorded::SignedAlone(self.sign(receipt)?));
        };
        let mut linked = receipt;
        record::link_decision(&mut linked, record).map_err(|e| Error::Internal(e.to_string()))?;
        match journal.journal.append_signed(&linked, &key.signer) {
            Ok(stored) => Ok(ReceiptRecorded::Journaled(stored.entry)),
            Err(e) => Ok(ReceiptRecorded::Refused {
                receipt: self.sign(linked)?,
                why: e.to_string(),
            }),
        }
    }

    /// Writes a signed tree head of the journal as it is now (every run ends with one).
    pub fn seal(&mut self) -> Result<()> {
        if let Ledger::Journaled(key, journal) = self {
            journal.journal.write_checkpoint(&key.signer).map_err(|e| {
                Error::Internal(format!("cannot write the journal checkpoint: {e}"))
            })?;
        }
        Ok(())
    }
}

/// Where a run's receipt went.
#[derive(Debug)]
pub enum ReceiptRecorded {
    /// Signed and appended to the journal (the entry as stored).
    Journaled(Value),
    /// Signed on its own, or unsigned without a key.
    SignedAlone(Value),
    /// The journal refused it: the receipt signed on its own, and the journal's sentence.
    Refused { receipt: Value, why: String },
}

/// Who and what a decision record is about, besides the decision itself.
#[derive(Debug, Clone)]
pub struct RecordSubject {
    pub contract_id: String,
    /// The contract's hash; a hook pins text that is no contract by the hash of what was asked.
    pub contract_sha256: String,
    pub actor: String,
    pub session_id: String,
    /// The sandbox profile the command would run under; `None` for a decision that runs nothing.
    pub sandbox_profile: Option<String>,
    /// The record's `details` (`Value::Null` for none).
    pub details: Value,
}

/// The decision record of `decision` about `subject`: the one place a record is built, for a run
/// and for a hook alike.
pub fn decision_of(decision: &Decision, subject: RecordSubject) -> record::Decision {
    record::Decision {
        contract_id: subject.contract_id,
        contract_sha256: subject.contract_sha256,
        policy_profile: decision.policy.name.clone(),
        policy_digest: format!("sha256:{}", decision.policy.sha256),
        outcome: decision.outcome,
        reason_codes: decision.code_strings(),
        reason: decision.sentence.clone(),
        actor: subject.actor,
        session_id: subject.session_id,
        sandbox_profile: subject.sandbox_profile,
        details: subject.details,
    }
}
