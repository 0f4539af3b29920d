//! The "build receipt" step: the CSC receipt of a run, refused, blocked or finished.

use std::time::SystemTime;

use cordon_core::contract::NetworkMode;
use cordon_core::receipt::{
    EffectSummary, ExecutionMode, ExecutionReceipt, ReceiptStatus, RECEIPT_VERSION,
};
use cordon_sandbox::{CommandReport, CommandStatus};
use time::OffsetDateTime;

use crate::extension::CordonExtension;
use crate::mode::Mode;
use crate::request::RunRequest;
use crate::status;

/// A receipt with everything the request and the mode determine; the status says blocked until
/// the run says otherwise.
pub fn base(
    request: &RunRequest,
    mode: Mode,
    started: OffsetDateTime,
    ended: OffsetDateTime,
    extension: &CordonExtension,
) -> ExecutionReceipt {
    let policy = &request.decision.policy;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    ExecutionReceipt {
        receipt_version: RECEIPT_VERSION.to_string(),
        contract_id: request.contract.contract_id.clone(),
        // Unique per execution (CSC's is deterministic and collides across runs).
        execution_id: format!(
            "exec_{}_{nanos:x}_{}",
            request.contract.contract_id,
            std::process::id()
        ),
        contract_sha256: request.contract_sha256.clone(),
        status: ReceiptStatus::Blocked,
        started_at: cordon_core::time::rfc3339(started),
        ended_at: cordon_core::time::rfc3339(ended),
        policy_profile: policy.name.clone(),
        exit_code: None,
        stdout_hash: None,
        stderr_hash: None,
        stdout_truncated: false,
        stderr_truncated: false,
        artifacts: None,
        policy_schema_version: policy.schema_version.clone(),
        policy_sha256: Some(policy.sha256.clone()),
        runner_version: Some(format!("cordon {}", env!("CARGO_PKG_VERSION"))),
        execution_mode: Some(match mode {
            Mode::Local => ExecutionMode::Local,
            Mode::Hardened => ExecutionMode::Hardened,
        }),
        sandbox_profile_id: None,
        signing_key_id: None,
        effect_summary: None,
        completed_command_ids: None,
        failed_command_id: None,
        error: None,
        signature: None,
        extension: extension.to_value(),
    }
}

/// A receipt for a run that was blocked before anything ran, at one instant.
pub fn blocked_now(
    request: &RunRequest,
    mode: Mode,
    why: &str,
    extension: &CordonExtension,
) -> ExecutionReceipt {
    let now = OffsetDateTime::now_utc();
    let mut receipt = base(request, mode, now, now, extension);
    receipt.exit_code = Some(i32::from(status::BLOCKED));
    receipt.error = Some(why.to_string());
    receipt
}

/// CSC's declarative summary (what was declared, not observed).
pub fn effect_summary(request: &RunRequest) -> EffectSummary {
    let commands = &request.contract.commands;
    EffectSummary {
        files_written: 0,
        network_used: commands.iter().any(|c| c.network != NetworkMode::Deny),
        secrets_used: commands.iter().map(|c| c.secret_refs.len() as u64).sum(),
    }
}

/// Fills in how the last command ended.
pub fn conclude(receipt: &mut ExecutionReceipt, last: &CommandReport) {
    receipt.exit_code = Some(last.exit_code);
    receipt.stdout_hash = Some(format!("sha256:{}", last.stdout.sha256));
    receipt.stderr_hash = Some(format!("sha256:{}", last.stderr.sha256));
    receipt.stdout_truncated = last.stdout.truncated;
    receipt.stderr_truncated = last.stderr.truncated;
    match last.status {
        CommandStatus::Success => {
            receipt.status = ReceiptStatus::Success;
            receipt.error = Some(String::new());
        }
        CommandStatus::Blocked => {
            receipt.status = ReceiptStatus::Blocked;
            receipt.failed_command_id = Some(last.id.clone());
            receipt.error = last.error.clone();
        }
        CommandStatus::Failed | CommandStatus::TimedOut => {
            receipt.status = ReceiptStatus::Failed;
            receipt.failed_command_id = Some(last.id.clone());
            // A runner message, never the command's stderr (CSC copies stderr into the receipt).
            receipt.error =
                Some(last.error.clone().unwrap_or_else(|| {
                    format!("command {} exited with {}", last.id, last.exit_code)
                }));
        }
    }
}
