//! The policy gate as the CLI runs it: read the contract and the policy, decide. Shared by every
//! command that decides (`check`, `run`), so they cannot disagree.

use std::path::Path;

use cordon_core::limits::MAX_CONTRACT_BYTES;
use cordon_core::policy::LoadedPolicy;
use cordon_core::{Contract, PolicyDecision};
use time::OffsetDateTime;

use crate::exit::CliError;
use crate::input::read_input;

/// A contract, the policy it was judged under, and the decision.
#[derive(Debug, Clone)]
pub struct Gate {
    pub contract: Contract,
    pub contract_sha256: String,
    pub policy: LoadedPolicy,
    pub decision: PolicyDecision,
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

/// Decides on an already-loaded contract and policy.
pub fn decide(contract: Contract, policy: LoadedPolicy) -> Gate {
    let contract_sha256 = contract.sha256();
    let judgement = cordon_policy::evaluate(&contract, &policy.policy);
    let decision = judgement.into_decision(
        &contract,
        &contract_sha256,
        &policy,
        OffsetDateTime::now_utc(),
    );
    Gate {
        contract,
        contract_sha256,
        policy,
        decision,
    }
}
