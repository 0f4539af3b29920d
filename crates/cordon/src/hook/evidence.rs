//! What a hook leaves in the journal: a signed decision record for every tool call it judged
//! (denials most of all: they are the only trace of a command that never ran), and a signed
//! outcome entry for every tool call the agent reports as finished.
//!
//! The journal and the key are the config home's (`journal/`, `keys/`). A hook whose decision
//! cannot be recorded gives no decision: the error becomes a denial, so an agent cannot work
//! unrecorded by deleting the key.

use cordon_core::hash::sha256_hex;
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
        Ok(Recorder { journal, signer })
    }

    /// Appends the decision record for `verdict`.
    pub fn decision(&mut self, request: &ToolRequest, verdict: &Verdict) -> Result<(), HookError> {
        let entry = record::decision_record(&decision_of(request, verdict))
            .map_err(|e| HookError(format!("cannot build the decision record: {e}")))?;
        self.journal
            .append_signed(&entry, &self.signer)
            .map_err(|e| {
                HookError(format!(
                    "the decision record cannot be appended to the journal: {e}"
                ))
            })?;
        Ok(())
    }

    /// Appends what the agent reported about a finished tool call.
    pub fn outcome(&mut self, outcome: &ToolOutcome) -> Result<(), HookError> {
        let entry = outcome_entry(outcome);
        self.journal
            .append_signed(&entry, &self.signer)
            .map_err(|e| HookError(format!("the journal refused the entry: {e}")))?;
        Ok(())
    }
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
    let mut reason_codes = verdict.reason_codes.clone();
    if reason_codes.is_empty() {
        reason_codes.push(format!("HOOK_{}", verdict.outcome.as_str().to_uppercase()));
    }
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
    Decision {
        contract_id: format!("hook:{}", request.agent.name()),
        contract_sha256,
        policy_profile: verdict.policy_name.clone(),
        policy_digest: format!("sha256:{}", verdict.policy_sha256),
        outcome: verdict.outcome.as_str().to_string(),
        reason_codes,
        reason: verdict.sentence.clone(),
        actor: request.agent.name().to_string(),
        session_id: request.session_id.clone(),
        sandbox_profile: verdict.run_as.as_ref().map(|_| EXEC_PROFILE.to_string()),
        details,
    }
}

/// Appends the decision record for `verdict` to the home's journal.
pub fn record_decision(request: &ToolRequest, verdict: &Verdict) -> Result<(), HookError> {
    Recorder::open()?.decision(request, verdict)
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
        "session_id": outcome.session_id,
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
