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
//! An outcome is evidence only about a call cordon decided: every outcome entry names the decision
//! record of its call (`decision_record`, as a receipt does), and `cordon verify` flags one that
//! does not. The gateway links an outcome only to a decision it made itself ([`DecisionsMade`]);
//! a one-shot hook looks for the decision in the journal ([`Recorder::find_decision`]). An
//! outcome that matches no decision is not recorded.
//!
//! Durability (docs/journal.md, "Durability of hook records"): a one-shot hook syncs its record
//! before it answers. The gateway's recorder defers the sync ([`Recorder::deferring`]): the record
//! is written before the answer, so no process crash can lose it, and the gateway's flusher syncs
//! it right after; a power cut in between can lose it. That is safe because a hook record claims
//! nothing ran: an allowed command runs only under `cordon exec`, which syncs its own decision
//! record to the journal before the command starts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cordon_core::hash::sha256_hex;
use cordon_governor::ledger::RecordSubject;
use cordon_journal::record::{self, Appended, Decision};
use cordon_journal::{time_fmt, Journal, Signer};
use serde_json::{json, Value};

use super::{Action, HookError, ToolOutcome, ToolRequest, Verdict};
use crate::home::Home;

/// `event_version` of the entry a finished tool call leaves.
pub const TOOL_OUTCOME_VERSION: &str = record::TOOL_OUTCOME_VERSION;

/// How far back a one-shot hook looks in the journal for the decision an outcome belongs to.
const DECISION_SEARCH_DEPTH: u64 = 4096;

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

    /// Appends the decision record for `verdict`; returns where it landed, for its outcome.
    pub fn decision(
        &mut self,
        request: &ToolRequest,
        verdict: &Verdict,
    ) -> Result<DecisionLink, HookError> {
        let entry = record::decision_record(&decision_of(request, verdict))
            .map_err(|e| HookError(format!("cannot build the decision record: {e}")))?;
        let appended = self.append(&entry).map_err(|e| {
            HookError(format!(
                "the decision record cannot be appended to the journal: {e}"
            ))
        })?;
        DecisionLink::of(&appended)
    }

    /// Appends what the agent reported about a finished tool call, linked to the decision that
    /// let it run.
    pub fn outcome(
        &mut self,
        outcome: &ToolOutcome,
        decision: &DecisionLink,
    ) -> Result<(), HookError> {
        let mut entry = outcome_entry(outcome);
        entry[record::DECISION_LINK] = json!({
            "record_id": decision.record_id,
            "index": decision.index,
            "leaf_hash": decision.leaf_hash,
        });
        let redactor = self.secrets.record_redactor().map_err(|why| {
            HookError(format!(
                "the tool outcome is not recorded, because the secret store cannot be read to redact it: {why}"
            ))
        })?;
        if let Some(redactor) = redactor {
            redactor.redact_json(&mut entry);
        }
        self.append(&entry)
            .map(|_| ())
            .map_err(|e| HookError(format!("the journal refused the entry: {e}")))
    }

    /// The newest decision record in the journal's last [`DECISION_SEARCH_DEPTH`] entries for
    /// the call `outcome` reports (see [`DecidedCall::matches`]).
    pub fn find_decision(&self, outcome: &ToolOutcome) -> Option<DecisionLink> {
        let len = self.journal.len();
        (len.saturating_sub(DECISION_SEARCH_DEPTH)..len)
            .rev()
            .find_map(|index| {
                let line = self.journal.read_entry(index).ok()?;
                let entry: Value = serde_json::from_slice(&line).ok()?;
                if !DecidedCall::from_record(&entry)?.matches(outcome) {
                    return None;
                }
                Some(DecisionLink {
                    record_id: entry["record_id"].as_str()?.to_string(),
                    index,
                    leaf_hash: hex::encode(cordon_journal::merkle::leaf_hash(&line)),
                })
            })
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

    fn append(&mut self, entry: &Value) -> Result<Appended, cordon_journal::JournalError> {
        let Some(bound) = self.defer_up_to else {
            return self.journal.append_signed(entry, &self.signer);
        };
        // The flusher fell behind (a slow disk): no new record before the late ones are synced.
        if self.unsynced_since.is_some_and(|t| t.elapsed() > bound) {
            self.journal.flush()?;
            self.unsynced_since = None;
        }
        let appended = self
            .journal
            .append_signed_deferred(std::slice::from_ref(entry), &self.signer)?
            .pop()
            .ok_or_else(|| {
                cordon_journal::JournalError::Corrupt("an append returned nothing".into())
            })?;
        self.unsynced_since.get_or_insert_with(Instant::now);
        Ok(appended)
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
        Action::File {
            tool,
            access,
            targets,
        } => (tool.as_str(), json!({"access": access, "targets": targets})),
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
    if !verdict.resolved.is_empty() {
        // The real paths the file tool's targets reach: what was judged.
        details["resolved"] = json!(verdict.resolved);
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

/// Appends what the agent reported about a finished tool call to the home's journal, linked to
/// the decision record of that call; with no such record, nothing is written.
pub fn record_outcome(outcome: &ToolOutcome) -> Result<(), HookError> {
    let mut recorder = Recorder::open()?;
    let decision = recorder
        .find_decision(outcome)
        .ok_or_else(|| no_decision(outcome))?;
    recorder.outcome(outcome, &decision)
}

/// Why an outcome is not recorded: cordon decided no such call.
pub fn no_decision(outcome: &ToolOutcome) -> HookError {
    HookError(format!(
        "cordon decided no {} call {}in this session, so its outcome is not evidence of anything",
        outcome.agent.name(),
        outcome
            .tool_use_id
            .as_deref()
            .map(|id| format!("{id:?} "))
            .unwrap_or_default()
    ))
}

/// Where a decision record landed: what an outcome entry names (`decision_record`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionLink {
    pub record_id: String,
    pub index: u64,
    pub leaf_hash: String,
}

impl DecisionLink {
    fn of(appended: &Appended) -> Result<DecisionLink, HookError> {
        Ok(DecisionLink {
            record_id: appended
                .record_id
                .clone()
                .ok_or_else(|| HookError("the journal lost the decision record's id".into()))?,
            index: appended.index,
            leaf_hash: appended.leaf_hash.clone(),
        })
    }
}

/// A call cordon decided, as far as an outcome can name it: the agent, its harness session, its
/// tool use id, and the commands the agent may have run (the text it asked about, and cordon's
/// rewrite of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedCall {
    agent: String,
    harness_session: String,
    tool_use_id: Option<String>,
    commands: Vec<String>,
}

impl DecidedCall {
    pub fn of(request: &ToolRequest, verdict: &Verdict) -> DecidedCall {
        let mut commands = Vec::new();
        if let Action::Shell { command } = &request.action {
            commands.push(command.clone());
        }
        commands.extend(verdict.run_as.clone());
        DecidedCall {
            agent: request.agent.name().to_string(),
            harness_session: request.harness_session.clone(),
            tool_use_id: request.tool_use_id.clone(),
            commands,
        }
    }

    /// The call a hook's decision record names (`None` for any other entry).
    fn from_record(entry: &Value) -> Option<DecidedCall> {
        if entry["record_version"] != record::DECISION_RECORD_VERSION {
            return None;
        }
        let details = &entry["details"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        Some(DecidedCall {
            agent: text(&details["adapter"])?,
            harness_session: text(&entry["session_id"])?,
            tool_use_id: text(&details["tool_use_id"]),
            commands: [&details["request"]["command"], &details["run_as"]]
                .into_iter()
                .filter_map(text)
                .collect(),
        })
    }

    /// The same agent, harness session and tool use id (both absent counts as the same), and,
    /// when the outcome names the command that ran, one of this call's commands.
    pub fn matches(&self, outcome: &ToolOutcome) -> bool {
        self.agent == outcome.agent.name()
            && self.harness_session == outcome.harness_session
            && self.tool_use_id == outcome.tool_use_id
            && outcome
                .command
                .as_ref()
                .is_none_or(|ran| self.commands.contains(ran))
    }
}

/// (agent, harness session, tool use id): what an outcome names its call by.
type CallKey = (String, String, Option<String>);

/// The decisions a long-running gateway made, so that an outcome is recorded only for one of
/// them. Bounded: past [`DecisionsMade::CAPACITY`] calls the oldest half is forgotten, and an
/// outcome reported that late is not recorded.
#[derive(Debug, Default)]
pub struct DecisionsMade {
    /// Keyed by (agent, harness session, tool use id); newest last.
    calls: HashMap<CallKey, Vec<(u64, DecidedCall, DecisionLink)>>,
    /// Decisions remembered so far (the number of the newest).
    made: u64,
    /// Decisions held now.
    held: usize,
}

impl DecisionsMade {
    pub const CAPACITY: usize = 8192;

    pub fn remember(&mut self, call: DecidedCall, link: DecisionLink) {
        self.made += 1;
        if self.held >= Self::CAPACITY {
            let oldest_kept = self.made.saturating_sub(Self::CAPACITY as u64 / 2);
            self.calls.retain(|_, calls| {
                calls.retain(|(n, _, _)| *n >= oldest_kept);
                !calls.is_empty()
            });
            self.held = self.calls.values().map(Vec::len).sum();
        }
        self.held += 1;
        let key = (
            call.agent.clone(),
            call.harness_session.clone(),
            call.tool_use_id.clone(),
        );
        self.calls
            .entry(key)
            .or_default()
            .push((self.made, call, link));
    }

    /// The newest decision made for the call `outcome` reports.
    pub fn find(&self, outcome: &ToolOutcome) -> Option<DecisionLink> {
        let key = (
            outcome.agent.name().to_string(),
            outcome.harness_session.clone(),
            outcome.tool_use_id.clone(),
        );
        self.calls
            .get(&key)?
            .iter()
            .rev()
            .find(|(_, call, _)| call.matches(outcome))
            .map(|(_, _, link)| link.clone())
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::agents::Agent;

    fn outcome(session: &str, id: Option<&str>, command: Option<&str>) -> ToolOutcome {
        ToolOutcome {
            agent: Agent::ClaudeCode,
            harness_session: session.into(),
            tool_use_id: id.map(str::to_string),
            tool: "Bash".into(),
            command: command.map(str::to_string),
            interrupted: None,
            exit_code: Some(0),
            stdout_bytes: None,
            stderr_bytes: None,
            error: None,
        }
    }

    fn call(session: &str, id: Option<&str>, command: &str, run_as: Option<&str>) -> DecidedCall {
        DecidedCall {
            agent: "claude-code".into(),
            harness_session: session.into(),
            tool_use_id: id.map(str::to_string),
            commands: std::iter::once(command.to_string())
                .chain(run_as.map(str::to_string))
                .collect(),
        }
    }

    fn link(n: u64) -> DecisionLink {
        DecisionLink {
            record_id: format!("dec_{n}"),
            index: n,
            leaf_hash: "00".into(),
        }
    }

    #[test]
    fn an_outcome_finds_only_the_decision_of_its_own_call() {
        let mut made = DecisionsMade::default();
        made.remember(call("s", Some("t1"), "ls", Some("cordon exec ls")), link(1));
        made.remember(call("s", Some("t1"), "rm -rf /", None), link(2));
        made.remember(call("s", None, "echo", None), link(3));
        let find = |o: ToolOutcome| made.find(&o).map(|l| l.index);
        assert_eq!(
            find(outcome("s", Some("t1"), Some("cordon exec ls"))),
            Some(1)
        );
        assert_eq!(find(outcome("s", Some("t1"), Some("ls"))), Some(1));
        assert_eq!(find(outcome("s", Some("t1"), Some("rm -rf /"))), Some(2));
        // The newest decision of the call when the agent names no command.
        assert_eq!(find(outcome("s", Some("t1"), None)), Some(2));
        assert_eq!(find(outcome("s", None, Some("echo"))), Some(3));
        // Another session, another id, another command, another agent: none.
        assert_eq!(find(outcome("other", Some("t1"), Some("ls"))), None);
        assert_eq!(find(outcome("s", Some("t2"), Some("ls"))), None);
        assert_eq!(find(outcome("s", Some("t1"), Some("cat x"))), None);
        let mut codex = outcome("s", Some("t1"), Some("ls"));
        codex.agent = Agent::Codex;
        assert_eq!(find(codex), None);
    }

    #[test]
    fn the_oldest_half_is_forgotten_past_capacity() {
        let mut made = DecisionsMade::default();
        for n in 0..(DecisionsMade::CAPACITY as u64 + 10) {
            made.remember(call("s", Some(&format!("t{n}")), "ls", None), link(n));
        }
        assert!(made.held <= DecisionsMade::CAPACITY);
        assert_eq!(made.find(&outcome("s", Some("t0"), None)), None);
        let last = DecisionsMade::CAPACITY as u64 + 9;
        assert_eq!(
            made.find(&outcome("s", Some(&format!("t{last}")), None)),
            Some(link(last))
        );
    }
}
