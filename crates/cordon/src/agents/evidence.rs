//! What a hook leaves in the journal: a signed decision record for every tool call it judged
//! (denials most of all: they are the only trace of a command that never ran), and a signed
//! outcome entry for every tool call the agent reports as finished.
//!
//! The journal and the key are the config home's (`journal/`, `keys/`). A hook whose decision
//! cannot be recorded gives no decision: the error becomes a denial, so an agent cannot work
//! unrecorded by deleting the key.
//!
//! A decision record names the secrets the policy grants the text (names and rules). An outcome
//! entry quotes what the agent reported (the command, the first line of an error), so it is
//! redacted of every value the secret store holds before it is signed
//! (`SecretsPlace::record_redactor`); a store that cannot be read leaves the entry unwritten
//! rather than unredacted.
//!
//! Durability (docs/journal.md, "Durability of hook records"): a one-shot hook syncs its record
//! before it answers. The gateway's recorder defers the sync ([`Recorder::deferring`]): the record
//! is written before the answer, so no process crash can lose it, and the gateway's flusher syncs
//! it right after; a power cut in between can lose it. That is safe because a hook record claims
//! nothing ran: an allowed command runs only under `cordon exec`, which syncs its own decision
//! record to the journal before the command starts.

use std::time::{Duration, Instant};

use cordon_core::hash::sha256_hex;
use cordon_governor::ledger::RecordSubject;
use cordon_journal::record::{self, Decision};
use cordon_journal::{time_fmt, Journal, Signer};
use serde_json::{json, Value};

use super::{Action, HookError, ToolOutcome, ToolRequest, Verdict};
use crate::home::Home;

/// `event_version` of the entry a finished tool call leaves.
pub const TOOL_OUTCOME_VERSION: &str = "cordon.tool-outcome.v1";

/// The sandbox profile named in the decision record of text that will run under `cordon exec`.
pub const EXEC_PROFILE: &str = "cordon-exec";

/// The config home, or an error saying how to make one.
pub fn home() -> Result<Home, HookError> {
    Home::from_env().ok_or_else(|| {
        HookError("no config home: set CORDON_HOME or HOME, then run `cordon init`".into())
    })
}

/// The home's signing key (`Home::signing_key`).
pub fn signer(home: &Home) -> Result<Signer, HookError> {
    let (pem, key_id) = home.signing_key()?;
    Signer::from_file(&pem, key_id)
        .map_err(|e| HookError(format!("the signing key is not usable: {e}")))
}

/// An open journal and the key that signs into it: what a long-running gateway keeps, and what
/// a one-shot hook opens for its single entry.
pub struct Recorder {
    journal: Journal,
    signer: Signer,
    /// The home's secret store, whose values an outcome entry is redacted of.
    secrets: cordon_governor::SecretsPlace,
    /// With deferred syncs: the longest a written record may wait for its sync before the next
    /// append syncs it first.
    defer_up_to: Option<Duration>,
    /// When the oldest record not yet synced was written.
    unsynced_since: Option<Instant>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("journal", &self.journal.dir())
            .field("key_id", &self.signer.key_id())
            .finish()
    }
}

impl Recorder {
    /// The config home's journal and key.
    pub fn open() -> Result<Recorder, HookError> {
        let home = home()?;
        let signer = signer(&home)?;
        let journal = Journal::open(&home.journal_dir()).map_err(|e| {
            HookError(format!(
                "the journal cannot be opened, so the decision cannot be recorded: {e}"
            ))
        })?;
        Ok(Recorder {
            journal,
            signer,
            secrets: home.secrets_place(),
            defer_up_to: None,
            unsynced_since: None,
        })
    }

    /// This recorder writes each entry before it returns but leaves the sync to its owner (the
    /// gateway's flusher: [`start_sync`](Recorder::start_sync), [`synced`](Recorder::synced),
    /// [`flush`](Recorder::flush)); an entry that has waited longer than `bound` is synced by
    /// the next append before anything else is written.
    pub fn deferring(mut self, bound: Duration) -> Recorder {
        self.defer_up_to = Some(bound);
        self
    }

    /// Appends the decision record for `verdict`.
    pub fn decision(&mut self, request: &ToolRequest, verdict: &Verdict) -> Result<(), HookError> {
        let entry = record::decision_record(&decision_of(request, verdict))
            .map_err(|e| HookError(format!("cannot build the decision record: {e}")))?;
        self.append(&entry).map_err(|e| {
            HookError(format!(
                "the decision record cannot be appended to the journal: {e}"
            ))
        })
    }

    /// Appends what the agent reported about a finished tool call.
    pub fn outcome(&mut self, outcome: &ToolOutcome) -> Result<(), HookError> {
        let mut entry = outcome_entry(outcome);
        let redactor = self.secrets.record_redactor().map_err(|why| {
            HookError(format!(
                "the tool outcome is not recorded, because the secret store cannot be read to redact it: {why}"
            ))
        })?;
        if let Some(redactor) = redactor {
            redactor.redact_json(&mut entry);
        }
        self.append(&entry)
            .map_err(|e| HookError(format!("the journal refused the entry: {e}")))
    }

    /// Whether entries wait for their sync.
    pub fn has_unsynced(&self) -> bool {
        self.unsynced_since.is_some()
    }

    /// What a sync started now covers: [`Sync::run`] it without holding this recorder, then
    /// report it with [`synced`](Recorder::synced).
    pub fn start_sync(&self) -> Result<Sync, HookError> {
        Ok(Sync {
            data: self.journal.data_sync().map_err(sync_failed)?,
            through: self.journal.written_end(),
            started: Instant::now(),
        })
    }

    /// Every entry `sync` covered is durable. Once `index_every` entries wait for the index,
    /// it is extended (and synced) too.
    pub fn synced(&mut self, sync: &Sync, index_every: u64) -> Result<(), HookError> {
        self.unsynced_since = if self.journal.written_end() <= sync.through {
            None
        } else {
            // Written meanwhile: none of those is older than the sync's start.
            Some(sync.started)
        };
        if self.journal.unflushed() >= index_every {
            self.flush()?;
        }
        Ok(())
    }

    /// Syncs every entry written so far and extends the index over them (one data sync for
    /// all of them: group commit).
    pub fn flush(&mut self) -> Result<(), HookError> {
        self.journal.flush().map_err(sync_failed)?;
        self.unsynced_since = None;
        Ok(())
    }

    fn append(&mut self, entry: &Value) -> Result<(), cordon_journal::JournalError> {
        let Some(bound) = self.defer_up_to else {
            self.journal.append_signed(entry, &self.signer)?;
            return Ok(());
        };
        // The flusher fell behind (a slow disk): no new record before the late ones are synced.
        if self.unsynced_since.is_some_and(|t| t.elapsed() > bound) {
            self.journal.flush()?;
            self.unsynced_since = None;
        }
        self.journal
            .append_signed_deferred(std::slice::from_ref(entry), &self.signer)?;
        self.unsynced_since.get_or_insert_with(Instant::now);
        Ok(())
    }
}

/// A data sync of the journal, taken under the recorder and run outside it.
#[derive(Debug)]
pub struct Sync {
    data: cordon_journal::store::DataSync,
    /// The entries file's length when it was taken: everything before is covered.
    through: u64,
    started: Instant,
}

impl Sync {
    /// `fdatasync(2)`: everything written before [`Recorder::start_sync`] is on disk after it.
    pub fn run(&self) -> Result<(), HookError> {
        self.data.sync().map_err(sync_failed)
    }
}

fn sync_failed(e: cordon_journal::JournalError) -> HookError {
    HookError(format!("the journal cannot be synced to disk: {e}"))
}

/// The decision record of a hook decision (unsigned; ids and times are the journal's business).
pub fn decision_of(request: &ToolRequest, verdict: &Verdict) -> Decision {
    let (tool, subject) = match &request.action {
        Action::Shell { command } => ("shell", json!({"command": command})),
        Action::Write { tool, paths } => (tool.as_str(), json!({"paths": paths})),
    };
    // Text that cannot be a contract (too many commands, an empty argument) is still pinned: by
    // the hash of what the agent asked.
    let contract_sha256 = verdict
        .contract_sha256
        .clone()
        .unwrap_or_else(|| sha256_hex(subject.to_string().as_bytes()));
    let mut details = json!({
        "adapter": request.agent.name(),
        "tool": tool,
        "request": subject,
        "cwd": request.cwd,
    });
    if let Some(id) = &request.tool_use_id {
        details["tool_use_id"] = Value::String(id.clone());
    }
    if let Some(run_as) = &verdict.run_as {
        details["run_as"] = Value::String(run_as.clone());
    }
    if !verdict.secrets.is_empty() {
        // Names and the rule that granted each: the run resolves the values, after its gate.
        details["secrets"] = json!({"grants": verdict.secrets});
    }
    cordon_governor::ledger::decision_of(
        &verdict.decision,
        RecordSubject {
            contract_id: format!("hook:{}", request.agent.name()),
            contract_sha256,
            actor: request.agent.name().to_string(),
            session_id: request.harness_session.clone(),
            sandbox_profile: verdict.run_as.as_ref().map(|_| EXEC_PROFILE.to_string()),
            details,
        },
    )
}

/// Appends what the agent reported about a finished tool call to the home's journal.
pub fn record_outcome(outcome: &ToolOutcome) -> Result<(), HookError> {
    Recorder::open()?.outcome(outcome)
}

/// The (unsigned) journal entry for a finished tool call.
fn outcome_entry(outcome: &ToolOutcome) -> Value {
    json!({
        "event_version": TOOL_OUTCOME_VERSION,
        "event_id": format!("out_{}", &record::new_record_id()[4..]),
        "recorded_at": time_fmt::now(),
        "actor": outcome.agent.name(),
        "session_id": outcome.harness_session,
        "tool_use_id": outcome.tool_use_id,
        "tool": outcome.tool,
        "command": outcome.command,
        "interrupted": outcome.interrupted,
        "exit_code": outcome.exit_code,
        "stdout_bytes": outcome.stdout_bytes,
        "stderr_bytes": outcome.stderr_bytes,
        "error": outcome.error,
    })
}
