//! The policy gate as the CLI runs it: a contract, the policy it was judged under, and the
//! decision. Shared by every command that decides (`check`, `run`, `exec`), so they cannot
//! disagree, and the one thing `cmd::run::execute` needs to record and run a decision.
//!
//! A gate comes from one of two judges. The CSC engine judges a contract file (`check`, `run`)
//! and gives a verdict; the front end (`exec`) judges what an agent wrote with native rules and
//! gives one of five outcomes, and then the contract in the gate is the one that *runs* (see
//! `cordon_policy::launch`), while what the agent wrote and the per-command contract it was judged
//! on travel in [`FrontEnd`] into the receipt and the decision record.

use std::path::Path;

use cordon_core::limits::MAX_CONTRACT_BYTES;
use cordon_core::policy::LoadedPolicy;
use cordon_core::{Contract, Outcome, PolicyDecision, Verdict};
use serde::Serialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::exit::CliError;
use crate::input::read_input;

/// The policy a decision was made under, as receipts and decision records name it.
#[derive(Debug, Clone)]
pub struct PolicyRef {
    pub name: String,
    /// SHA-256 of the whole policy document (the digest pinned in every receipt).
    pub sha256: String,
    /// CSC's `policy_schema_version`, for a CSC profile; a native policy has none.
    pub schema_version: Option<String>,
    /// Environment names the policy lets through to the command (CSC extension `env_allow`).
    pub env_allow: Vec<String>,
}

impl PolicyRef {
    pub fn of_csc(policy: &LoadedPolicy) -> PolicyRef {
        PolicyRef {
            name: policy.policy.name.clone(),
            sha256: policy.sha256.clone(),
            schema_version: Some(policy.policy.policy_schema_version.clone()),
            env_allow: policy
                .policy
                .extension
                .as_ref()
                .map(|e| e.env_allow.clone())
                .unwrap_or_default(),
        }
    }
}

/// A redirect as recorded: what the agent asked for and what ran instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedirectRecord {
    pub original: Vec<String>,
    pub replacement: Vec<String>,
}

/// What the agent wrote and what the front end made of it (recorded as `x-cordon.front_end`).
#[derive(Debug, Clone, Serialize)]
pub struct FrontEnd {
    /// The shell text, or the argv shell-quoted, exactly as the agent gave it.
    pub text: String,
    /// `shell` for `--shell TEXT`, `argv` for `-- ARGV…`.
    pub request: &'static str,
    /// How the contract that runs starts: `argv` (no shell) or `shell` (`bash -c TEXT`).
    pub launch: cordon_policy::launch::Launch,
    /// The per-command contract the policy judged (absent when the text cannot be one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract: Option<Contract>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract_sha256: Option<String>,
    /// Why there is no synthesized contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<RedirectRecord>,
    /// The cordon session the run belongs to (`--session` or `CORDON_SESSION`), also the
    /// contract's `actor.session_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Paths the text names that did not exist when it was judged: a hardened run is granted
    /// them through their nearest existing directory, which `synthesized_contract` shows and
    /// the policy judged too (`cordon_policy::facts::grant_creations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
}

/// A contract, the policy it was judged under, and the decision.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The contract that runs if the decision allows it.
    pub contract: Contract,
    pub contract_sha256: String,
    pub policy: PolicyRef,
    /// The CSC-shaped decision (its `decision` is the verdict `execute` acts on).
    pub decision: PolicyDecision,
    /// cordon's five-way outcome. `AllowWithCheckpoint` means the write scope
    /// ([`Gate::write_scope`]) must be snapshotted before the run.
    pub outcome: Outcome,
    /// Stable reason codes for the decision record: cordon's for a front-end decision, CSC's
    /// for a contract judged by the CSC engine.
    pub reason_codes: Vec<String>,
    /// The one sentence a person reads.
    pub sentence: String,
    /// Present when the gate came from the agent front end (`cordon exec`).
    pub front_end: Option<FrontEnd>,
}

impl Gate {
    /// Whether the run must be checkpointed (its write scope snapshotted) before it starts.
    pub fn checkpoint_requested(&self) -> bool {
        self.outcome == Outcome::AllowWithCheckpoint
    }

    /// Every path pattern the run may write: what a checkpoint snapshots.
    pub fn write_scope(&self) -> Vec<&str> {
        let mut scope: Vec<&str> = Vec::new();
        for path in self.contract.commands.iter().flat_map(|c| &c.write_paths) {
            if !scope.contains(&path.as_str()) {
                scope.push(path);
            }
        }
        scope
    }

    /// The `x-cordon` fields every receipt and decision record of this gate carries: the front
    /// end's record and the checkpoint request. `Value::Null` when there are none.
    pub fn record_details(&self) -> Value {
        let mut details = Map::new();
        if let Some(front_end) = &self.front_end {
            if let Ok(value) = serde_json::to_value(front_end) {
                details.insert("front_end".into(), value);
            }
        }
        if self.checkpoint_requested() {
            details.insert(
                "checkpoint".into(),
                json!({"requested": true, "write_scope": self.write_scope()}),
            );
        }
        if details.is_empty() {
            Value::Null
        } else {
            Value::Object(details)
        }
    }
}

/// Loads both files and decides. Any problem with either file is invalid input (exit 65), never
/// a decision: a contract cordon cannot read is not a contract it may allow.
pub fn decide_files(contract_path: &Path, policy_path: &Path) -> Result<Gate, CliError> {
    let bytes = read_input(contract_path, MAX_CONTRACT_BYTES, "contract")?;
    let contract = Contract::parse(&bytes)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", contract_path.display())))?;
    let policy = cordon_policy::load_file(policy_path)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", policy_path.display())))?;
    Ok(decide(contract, policy))
}

/// Decides on an already-loaded contract and policy with the CSC engine.
pub fn decide(contract: Contract, policy: LoadedPolicy) -> Gate {
    let contract_sha256 = contract.sha256();
    let judgement = cordon_policy::evaluate(&contract, &policy.policy);
    let decision = judgement.into_decision(
        &contract,
        &contract_sha256,
        &policy,
        OffsetDateTime::now_utc(),
    );
    let outcome = decision.outcome.unwrap_or(match decision.decision {
        Verdict::Allow => Outcome::Allow,
        Verdict::Deny => Outcome::Deny,
        Verdict::NeedsApproval => Outcome::Ask,
    });
    let mut reason_codes: Vec<String> = decision
        .reason_codes
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    if reason_codes.is_empty() {
        let fallback = if decision.decision == Verdict::Allow {
            "ALLOWED"
        } else {
            "DENIED"
        };
        reason_codes.push(fallback.to_string());
    }
    Gate {
        sentence: decision.reasons.join("; "),
        contract,
        contract_sha256,
        policy: PolicyRef::of_csc(&policy),
        decision,
        outcome,
        reason_codes,
        front_end: None,
    }
}

/// A gate for a decision the front end already made: `contract` is what runs, `decision` the
/// CSC-shaped form of the front end's decision, `codes` and `sentence` its own.
pub fn from_front_end(
    contract: Contract,
    policy: PolicyRef,
    decision: PolicyDecision,
    codes: Vec<String>,
    sentence: String,
    front_end: FrontEnd,
) -> Gate {
    let outcome = decision.outcome.unwrap_or(match decision.decision {
        Verdict::Allow => Outcome::Allow,
        Verdict::Deny => Outcome::Deny,
        Verdict::NeedsApproval => Outcome::Ask,
    });
    Gate {
        contract_sha256: contract.sha256(),
        contract,
        policy,
        decision,
        outcome,
        reason_codes: codes,
        sentence,
        front_end: Some(front_end),
    }
}
