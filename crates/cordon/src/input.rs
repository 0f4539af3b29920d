//! Input files for the CLI: read with a cap, every failure one sentence naming the file.

use std::path::Path;

use cordon_core::limits::MAX_CONTRACT_BYTES;
use cordon_core::policy::LoadedPolicy;
use cordon_core::{Contract, PolicyDecision};
use cordon_governor::RunRequest;
use cordon_policy::input::read_capped;

use crate::exit::CliError;

/// Reads `path`, at most `max_bytes`; `what` names the file's role ("contract", "approval", ...).
pub fn read_input(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>, CliError> {
    read_capped(path, max_bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: failed to read {what} file: {e}",
            path.display()
        ))
    })
}

/// A contract judged under a CSC profile: the request to run it, the CSC PolicyDecision, and the
/// profile (a hardened run's envelope is made from it).
pub struct JudgedFiles {
    pub request: RunRequest,
    pub decision: PolicyDecision,
    pub policy: LoadedPolicy,
}

/// Loads a contract and a CSC profile and judges the one under the other. Any problem with
/// either file is invalid input (exit 65), never a decision: a contract cordon cannot read is not
/// a contract it may allow, and a host list cordon cannot enforce (`allowed_egress_hosts`, for a
/// command that declares `network: allowlisted`) is not a list it may run under. Shared by
/// `check` and `run`, so they cannot disagree.
pub fn judge_files(contract_path: &Path, policy_path: &Path) -> Result<JudgedFiles, CliError> {
    let bytes = read_input(contract_path, MAX_CONTRACT_BYTES, "contract")?;
    let contract = Contract::parse(&bytes)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", contract_path.display())))?;
    let policy = cordon_policy::load_file(policy_path)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", policy_path.display())))?;
    let (request, decision) = cordon_governor::judge_contract(contract, &policy)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", policy_path.display())))?;
    Ok(JudgedFiles {
        request,
        decision,
        policy,
    })
}
