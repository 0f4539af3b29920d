//! The CSC decision engine: CSC's check order and reason codes, with its approval short-circuit
//! fixed (docs/csc-compatibility.md).
//!
//! csc-runner returns `needs_approval` the moment a command's classified effect is on the
//! manual-approval list, before that command's timeout, network, secret and path checks and before
//! any later command is looked at; an approval then runs commands the policy would deny. Here an
//! approval trigger is remembered and evaluation goes on: any denial, of the same command or a
//! later one, wins. Decisions on contracts without such a trigger are exactly csc-runner's.

use cordon_core::contract::{ApprovalMode, Command, Contract};
use cordon_core::decision::{self, ClassifiedEffect, Outcome, PolicyDecision, Verdict};
use cordon_core::policy::{LoadedPolicy, Policy};
use cordon_core::ReasonCode;
use time::OffsetDateTime;

use crate::paths;

/// The result of evaluating a contract, before it is stamped with a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason_code: ReasonCode,
    /// One sentence, csc-runner's wording.
    pub reason: String,
    /// The effects classified up to the point evaluation stopped (CSC semantics).
    pub classified_effects: Vec<ClassifiedEffect>,
}

impl Judgement {
    fn deny(code: ReasonCode, reason: String, effects: Vec<ClassifiedEffect>) -> Judgement {
        Judgement {
            verdict: Verdict::Deny,
            reason_code: code,
            reason,
            classified_effects: effects,
        }
    }

    /// The five-way outcome. The CSC engine yields only allow, deny and ask.
    pub fn outcome(&self) -> Outcome {
        match self.verdict {
            Verdict::Allow => Outcome::Allow,
            Verdict::Deny => Outcome::Deny,
            Verdict::NeedsApproval => Outcome::Ask,
        }
    }

    /// The PolicyDecision object for this judgement, made at `now`.
    pub fn into_decision(
        self,
        contract: &Contract,
        contract_sha256: &str,
        policy: &LoadedPolicy,
        now: OffsetDateTime,
    ) -> PolicyDecision {
        let outcome = self.outcome();
        PolicyDecision {
            contract_id: contract.contract_id.clone(),
            contract_sha256: Some(contract_sha256.to_string()),
            decision: self.verdict,
            policy_profile: policy.policy.name.clone(),
            classified_effects: self.classified_effects,
            reasons: vec![self.reason],
            reason_codes: vec![self.reason_code],
            expires_at: decision::expiry_from(now),
            outcome: Some(outcome),
        }
    }
}

/// Evaluates `contract` under `policy`. Pure and total: every contract gets a judgement.
pub fn evaluate(contract: &Contract, policy: &Policy) -> Judgement {
    let mut effects: Vec<ClassifiedEffect> = Vec::with_capacity(contract.commands.len());

    if !policy.allowed_risk_classes.contains(&contract.risk_class) {
        return Judgement::deny(
            ReasonCode::RiskClassNotAllowed,
            format!("risk class not allowed: {}", contract.risk_class),
            effects,
        );
    }

    // The first approval trigger, kept while the remaining checks run.
    let mut approval: Option<(String, usize)> = None;

    for command in &contract.commands {
        for argv in command.argvs() {
            let executable = argv.first().map(String::as_str).unwrap_or("");
            if !policy.allow_commands.iter().any(|c| c == executable) {
                return Judgement::deny(
                    ReasonCode::CommandNotAllowed,
                    format!("command not allowed: {executable}"),
                    effects,
                );
            }
            if policy
                .deny_argv_prefixes
                .iter()
                .any(|p| argv.starts_with(p))
            {
                return Judgement::deny(
                    ReasonCode::ArgvPrefixDenied,
                    format!("argv prefix denied: {}", py_repr_list(argv)),
                    effects,
                );
            }
        }

        let classified = classify_effect(command, policy);
        effects.push(ClassifiedEffect {
            command_id: command.id.clone(),
            effect_type: classified.clone(),
        });

        if !policy
            .allowed_effect_types
            .contains(&command.proposed_effect_type)
        {
            return Judgement::deny(
                ReasonCode::EffectTypeNotAllowed,
                format!(
                    "proposed effect type not allowed: {}",
                    command.proposed_effect_type
                ),
                effects,
            );
        }
        if approval.is_none()
            && policy
                .manual_approval_for_classified_effect_types
                .contains(&classified)
        {
            approval = Some((
                format!("classified effect type requires approval: {classified}"),
                effects.len(),
            ));
        }
        if let Some(denial) = check_command(command, policy) {
            let (code, reason) = denial;
            return Judgement::deny(code, reason, effects);
        }
    }

    if let Some((reason, classified_so_far)) = approval {
        // Report the effects CSC would have reported at the trigger, so decisions on contracts
        // that pass every check stay identical to csc-runner's.
        effects.truncate(classified_so_far);
        return Judgement {
            verdict: Verdict::NeedsApproval,
            reason_code: ReasonCode::ApprovalRequired,
            reason,
            classified_effects: effects,
        };
    }

    if matches!(
        contract.approval_mode,
        ApprovalMode::HumanRequired | ApprovalMode::DualControlRequired
    ) {
        return Judgement {
            verdict: Verdict::NeedsApproval,
            reason_code: ReasonCode::ApprovalRequired,
            reason: format!(
                "contract approval mode requires approval: {}",
                contract.approval_mode
            ),
            classified_effects: effects,
        };
    }

    Judgement {
        verdict: Verdict::Allow,
        reason_code: ReasonCode::Allow,
        reason: "contract satisfies v0.1 policy checks".to_string(),
        classified_effects: effects,
    }
}

/// Steps e–k of CSC's order: timeout, network, secrets, cwd, reads, writes.
fn check_command(command: &Command, policy: &Policy) -> Option<(ReasonCode, String)> {
    if u64::from(command.timeout_sec) > policy.max_timeout_sec {
        return Some((
            ReasonCode::TimeoutExceedsPolicy,
            format!("timeout too large: {}", command.timeout_sec),
        ));
    }
    if command.network > policy.network {
        return Some((
            ReasonCode::NetworkExceedsPolicy,
            format!("network mode exceeds policy maximum: {}", command.network),
        ));
    }
    if !command.secret_refs.is_empty() && !policy.allow_secret_refs {
        return Some((
            ReasonCode::SecretRefNotAllowed,
            "secret refs not allowed".to_string(),
        ));
    }
    if let Some(denial) = check_path(
        &command.cwd,
        &policy.allowed_cwd_prefixes,
        ReasonCode::CwdNotAllowed,
        "cwd",
    ) {
        return Some(denial);
    }
    for path in &command.read_paths {
        if let Some(denial) = check_path(
            path,
            &policy.allowed_read_prefixes,
            ReasonCode::ReadScopeDenied,
            "read path",
        ) {
            return Some(denial);
        }
    }
    if policy.require_write_paths_empty && !command.write_paths.is_empty() {
        return Some((
            ReasonCode::WritePathsNotEmpty,
            "writes not allowed in this profile".to_string(),
        ));
    }
    for path in &command.write_paths {
        if let Some(denial) = check_path(
            path,
            &policy.allowed_write_prefixes,
            ReasonCode::WriteScopeDenied,
            "write path",
        ) {
            return Some(denial);
        }
    }
    None
}

fn check_path(
    path: &str,
    prefixes: &[String],
    code: ReasonCode,
    what: &str,
) -> Option<(ReasonCode, String)> {
    match paths::is_under_any(path, prefixes) {
        Ok(true) => None,
        Ok(false) => Some((code, format!("{what} not allowed: {path}"))),
        Err(paths::NotAbsolute) => Some((
            ReasonCode::PathNotAbsolute,
            format!("path must be absolute: {path}"),
        )),
    }
}

/// CSC's effect classifier: only `curl` as the first argv of the first vector is looked at.
/// A host from `allowed_egress_hosts` that contains "stripe" and appears anywhere in the joined
/// argv makes it a `financial_action`; otherwise curl is `fetch_external`; anything else keeps
/// the agent's proposed effect.
pub fn classify_effect(command: &Command, policy: &Policy) -> String {
    let argv = command.first_argv();
    if argv.first().map(String::as_str) == Some("curl") {
        let joined = argv.join(" ");
        let financial = policy
            .allowed_egress_hosts
            .iter()
            .any(|host| joined.contains(host.as_str()) && host.contains("stripe"));
        return if financial {
            "financial_action"
        } else {
            "fetch_external"
        }
        .to_string();
    }
    command.proposed_effect_type.as_str().to_string()
}

/// Python's `repr()` of a list of strings, as csc-runner puts it in reason text.
pub use cordon_core::pyrepr::py_repr_list;
