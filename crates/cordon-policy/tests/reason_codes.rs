//! One test per reason code in CSC's registry, each built from a contract that passes every check
//! and one change that must produce exactly that code; and the approval short-circuit, fixed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::contract::{ApprovalMode, EffectType, NetworkMode, RiskClass};
use cordon_core::{Contract, Policy, ReasonCode, Verdict};
use cordon_policy::{evaluate, Judgement};
use serde_json::json;

fn policy() -> Policy {
    serde_json::from_value(json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "unit",
        "allow_commands": ["git", "curl", "ls"],
        "deny_argv_prefixes": [["git", "push"]],
        "allowed_effect_types": ["observe", "fetch_external"],
        "manual_approval_for_classified_effect_types": ["financial_action"],
        "allowed_risk_classes": ["low", "medium"],
        "max_timeout_sec": 60,
        "network": "allowlisted",
        "allow_secret_refs": false,
        "require_write_paths_empty": false,
        "allowed_cwd_prefixes": ["/workspace"],
        "allowed_read_prefixes": ["/workspace"],
        "allowed_write_prefixes": ["/workspace/out"],
        "allowed_egress_hosts": ["api.stripe.com"]
    }))
    .unwrap()
}

fn contract() -> Contract {
    serde_json::from_value(json!({
        "version": "csc.v0.1",
        "contract_id": "contract-unit-0001",
        "intent": "look",
        "actor": {"agent_id": "a", "session_id": "s", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "cmd_1",
            "exec": {"argv": ["git", "status"]},
            "cwd": "/workspace/repo",
            "read_paths": ["/workspace/repo/**"],
            "write_paths": ["/workspace/out/report.txt"],
            "network": "deny",
            "env_allow": [],
            "secret_refs": [],
            "timeout_sec": 10,
            "proposed_effect_type": "observe"
        }],
        "risk_class": "low",
        "approval_mode": "policy_only",
        "justification": "unit test"
    }))
    .unwrap()
}

fn judge(change: impl FnOnce(&mut Contract, &mut Policy)) -> Judgement {
    let (mut c, mut p) = (contract(), policy());
    change(&mut c, &mut p);
    evaluate(&c, &p)
}

fn assert_code(j: &Judgement, verdict: Verdict, code: ReasonCode) {
    assert_eq!((j.verdict, j.reason_code), (verdict, code), "{j:?}");
}

#[test]
fn allow() {
    assert_code(&judge(|_, _| {}), Verdict::Allow, ReasonCode::Allow);
}

#[test]
fn risk_class_not_allowed() {
    assert_code(
        &judge(|c, _| c.risk_class = RiskClass::High),
        Verdict::Deny,
        ReasonCode::RiskClassNotAllowed,
    );
}

#[test]
fn command_not_allowed_is_exact_string_match() {
    let j = judge(|c, _| c.commands[0].exec.as_mut().unwrap().argv[0] = "/usr/bin/git".into());
    assert_code(&j, Verdict::Deny, ReasonCode::CommandNotAllowed);
    assert_eq!(j.reason, "command not allowed: /usr/bin/git");
}

#[test]
fn argv_prefix_denied() {
    let j = judge(|c, _| {
        c.commands[0].exec.as_mut().unwrap().argv =
            vec!["git".into(), "push".into(), "origin".into()]
    });
    assert_code(&j, Verdict::Deny, ReasonCode::ArgvPrefixDenied);
    assert_eq!(j.reason, "argv prefix denied: ['git', 'push', 'origin']");
}

#[test]
fn effect_type_not_allowed() {
    let j = judge(|c, _| c.commands[0].proposed_effect_type = EffectType::Deploy);
    assert_code(&j, Verdict::Deny, ReasonCode::EffectTypeNotAllowed);
}

#[test]
fn timeout_exceeds_policy() {
    assert_code(
        &judge(|c, _| c.commands[0].timeout_sec = 61),
        Verdict::Deny,
        ReasonCode::TimeoutExceedsPolicy,
    );
    assert_code(
        &judge(|c, _| c.commands[0].timeout_sec = 60),
        Verdict::Allow,
        ReasonCode::Allow,
    );
}

#[test]
fn network_exceeds_policy() {
    assert_code(
        &judge(|c, _| c.commands[0].network = NetworkMode::Full),
        Verdict::Deny,
        ReasonCode::NetworkExceedsPolicy,
    );
    assert_code(
        &judge(|c, _| c.commands[0].network = NetworkMode::Allowlisted),
        Verdict::Allow,
        ReasonCode::Allow,
    );
}

#[test]
fn secret_ref_not_allowed() {
    let j = judge(|c, _| c.commands[0].secret_refs = vec!["github_token".into()]);
    assert_code(&j, Verdict::Deny, ReasonCode::SecretRefNotAllowed);
    assert_eq!(j.reason, "secret refs not allowed");
    let allowed = judge(|c, p| {
        c.commands[0].secret_refs = vec!["github_token".into()];
        p.allow_secret_refs = true;
    });
    assert_code(&allowed, Verdict::Allow, ReasonCode::Allow);
}

#[test]
fn cwd_not_allowed_including_prefix_collisions() {
    assert_code(
        &judge(|c, _| c.commands[0].cwd = "/workspace-evil".into()),
        Verdict::Deny,
        ReasonCode::CwdNotAllowed,
    );
    assert_code(
        &judge(|c, _| c.commands[0].cwd = "/tmp".into()),
        Verdict::Deny,
        ReasonCode::CwdNotAllowed,
    );
}

#[test]
fn path_not_absolute() {
    let j = judge(|c, _| c.commands[0].read_paths = vec!["workspace/repo".into()]);
    assert_code(&j, Verdict::Deny, ReasonCode::PathNotAbsolute);
    assert_eq!(j.reason, "path must be absolute: workspace/repo");
}

#[test]
fn read_scope_denied() {
    let j = judge(|c, _| c.commands[0].read_paths.push("/etc/shadow".into()));
    assert_code(&j, Verdict::Deny, ReasonCode::ReadScopeDenied);
    assert_eq!(j.reason, "read path not allowed: /etc/shadow");
}

#[test]
fn write_paths_not_empty_is_checked_before_write_scopes() {
    let j = judge(|c, p| {
        p.require_write_paths_empty = true;
        c.commands[0].write_paths = vec!["/etc/passwd".into()];
    });
    assert_code(&j, Verdict::Deny, ReasonCode::WritePathsNotEmpty);
}

#[test]
fn write_scope_denied() {
    let j = judge(|c, _| c.commands[0].write_paths = vec!["/workspace/repo/src".into()]);
    assert_code(&j, Verdict::Deny, ReasonCode::WriteScopeDenied);
    assert_eq!(j.reason, "write path not allowed: /workspace/repo/src");
}

#[test]
fn approval_required_by_approval_mode() {
    for mode in [
        ApprovalMode::HumanRequired,
        ApprovalMode::DualControlRequired,
    ] {
        assert_code(
            &judge(|c, _| c.approval_mode = mode),
            Verdict::NeedsApproval,
            ReasonCode::ApprovalRequired,
        );
    }
}

fn stripe_call(c: &mut Contract) {
    let cmd = &mut c.commands[0];
    cmd.exec.as_mut().unwrap().argv =
        vec!["curl".into(), "https://api.stripe.com/v1/charges".into()];
    cmd.proposed_effect_type = EffectType::FetchExternal;
    cmd.network = NetworkMode::Allowlisted;
}

#[test]
fn approval_required_by_classified_effect() {
    let j = judge(|c, _| stripe_call(c));
    assert_code(&j, Verdict::NeedsApproval, ReasonCode::ApprovalRequired);
    assert_eq!(
        j.reason,
        "classified effect type requires approval: financial_action"
    );
    assert_eq!(j.classified_effects[0].effect_type, "financial_action");
}

#[test]
fn effect_reclassified_is_never_emitted() {
    // curl proposed as `observe` is classified `fetch_external`: CSC records the classification
    // and decides on the proposed type; the registry's EFFECT_RECLASSIFIED is never produced.
    let j = judge(|c, _| {
        c.commands[0].exec.as_mut().unwrap().argv =
            vec!["curl".into(), "https://example.org".into()];
    });
    assert_code(&j, Verdict::Allow, ReasonCode::Allow);
    assert_eq!(j.classified_effects[0].effect_type, "fetch_external");
    assert_ne!(j.reason_code, ReasonCode::EffectReclassified);
}

// csc-runner returns needs_approval at the first approval trigger, before the same command's
// remaining checks and before later commands. cordon keeps checking: a denial always wins.

#[test]
fn approval_trigger_does_not_hide_a_denial_of_the_same_command() {
    for (what, change) in [
        (
            "timeout",
            Box::new(|c: &mut Contract| c.commands[0].timeout_sec = 86_400)
                as Box<dyn Fn(&mut Contract)>,
        ),
        (
            "network",
            Box::new(|c: &mut Contract| c.commands[0].network = NetworkMode::Full),
        ),
        (
            "secrets",
            Box::new(|c: &mut Contract| c.commands[0].secret_refs = vec!["stripe_key".into()]),
        ),
        (
            "cwd",
            Box::new(|c: &mut Contract| c.commands[0].cwd = "/".into()),
        ),
        (
            "read",
            Box::new(|c: &mut Contract| c.commands[0].read_paths = vec!["/etc".into()]),
        ),
        (
            "write",
            Box::new(|c: &mut Contract| c.commands[0].write_paths = vec!["/etc/x".into()]),
        ),
    ] {
        let j = judge(|c, _| {
            stripe_call(c);
            change(c);
        });
        assert_eq!(j.verdict, Verdict::Deny, "{what}: {j:?}");
    }
}

#[test]
fn approval_trigger_does_not_hide_a_denial_of_a_later_command() {
    let j = judge(|c, _| {
        stripe_call(c);
        let mut second = c.commands[0].clone();
        second.id = "cmd_2".into();
        second.exec.as_mut().unwrap().argv = vec!["rm".into(), "-rf".into(), "/workspace".into()];
        c.commands.push(second);
    });
    assert_code(&j, Verdict::Deny, ReasonCode::CommandNotAllowed);
}

#[test]
fn csc_bypass_probe_is_denied() {
    // derived/probes/c-bypass2.json under regulated-restricted: csc-runner says NEEDS APPROVAL and,
    // given an approval, runs both commands. Its first command exceeds the timeout.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/csc");
    let contract =
        Contract::parse(&std::fs::read(dir.join("derived/probes/c-bypass2.json")).unwrap())
            .unwrap();
    let policy =
        cordon_policy::load_file(&dir.join("examples/policies/regulated-restricted.yaml")).unwrap();
    let j = evaluate(&contract, &policy.policy);
    assert_code(&j, Verdict::Deny, ReasonCode::TimeoutExceedsPolicy);
}
