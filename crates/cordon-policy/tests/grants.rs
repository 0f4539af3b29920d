//! Secret grants: a native rule's `secrets` reach exactly the commands the rule matched, under
//! the variable it names; CSC `secret_refs` map onto the same grants; conflicts and malformed
//! grants are refused, at load when they can be and at decision time otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::contract::Contract;
use cordon_core::policy::Policy;
use cordon_core::Outcome;
use cordon_policy::grants::{
    contract_grants, native_grants, CommandGrants, GrantError, SecretGrant,
};
use cordon_policy::native::{self, CompiledPolicy, Context, Decision, LoadedNativePolicy};
use cordon_policy::shell::Session;
use serde_json::json;

const WORKSPACE: &str = "/srv/project";
const HOME: &str = "/home/agent";

const POLICY: &str = r#"
cordon_policy: 1
name: grants
rules:
  - id: gh-in-workspace
    outcome: allow
    reason: gh may act on the workspace's repository
    match: {program: [gh], cwd: ["{workspace}/**"]}
    secrets: {GH_TOKEN: github}
  - id: npm-publish
    outcome: ask
    reason: publishing a package needs a person's approval
    match: {argv_skip_options: [npm, publish, …]}
    secrets: {NPM_TOKEN: npm-registry}
  - id: force-push
    outcome: redirect
    reason: a force push must not overwrite others' work
    match: {command: [git push], flags_any: [--force]}
    redirect: {argv: [git, push, --force-with-lease, "{rest:2}"], drop: [--force]}
  - id: git-push
    outcome: allow
    reason: pushes use the deploy key
    match: {command: [git push]}
    secrets: {GIT_TOKEN: github}
  - id: everything-else
    outcome: allow
    reason: the rest is allowed in this test
    match: {}
"#;

fn compile(yaml: &str) -> CompiledPolicy {
    let loaded = LoadedNativePolicy::parse(yaml.as_bytes()).unwrap();
    let context = Context {
        workspace: WORKSPACE.into(),
        home: HOME.into(),
    };
    CompiledPolicy::compile(&loaded, &context).unwrap()
}

fn decide_in(cwd: &str, text: &str, policy: &CompiledPolicy) -> Decision {
    let session = Session {
        cwd: cwd.into(),
        home: HOME.into(),
    };
    native::decide(text, &session, policy).1
}

fn grants(text: &str) -> (Outcome, Vec<CommandGrants>) {
    let policy = compile(POLICY);
    let decision = decide_in(WORKSPACE, text, &policy);
    (decision.outcome, native_grants(&decision, &policy).unwrap())
}

fn grant(id: &str, env: &str, secret: &str, rule: &str) -> CommandGrants {
    CommandGrants {
        command_id: id.into(),
        grants: vec![SecretGrant {
            env: env.into(),
            secret: secret.into(),
            granted_by: format!("rule {rule}"),
        }],
    }
}

#[test]
fn a_rule_grants_its_secret_to_the_command_it_matches_only() {
    let (outcome, got) = grants("gh pr create --fill");
    assert_eq!(outcome, Outcome::Allow);
    assert_eq!(
        got,
        vec![grant("c1", "GH_TOKEN", "github", "gh-in-workspace")]
    );

    // The same text with another command first: only the `gh` command gets it.
    let (_, got) = grants("printenv GH_TOKEN; gh pr view 1");
    assert_eq!(
        got,
        vec![grant("c2", "GH_TOKEN", "github", "gh-in-workspace")]
    );

    // Commands no granting rule matches get nothing.
    for text in ["printenv GH_TOKEN", "env", "npm test", "echo $GH_TOKEN"] {
        let (outcome, got) = grants(text);
        assert_eq!(outcome, Outcome::Allow, "{text}");
        assert!(got.is_empty(), "{text}: {got:?}");
    }
}

#[test]
fn a_grant_follows_the_rules_match_including_its_directory() {
    let policy = compile(POLICY);
    let outside = decide_in("/srv/elsewhere", "gh pr create", &policy);
    assert_eq!(outside.outcome, Outcome::Allow, "{}", outside.sentence);
    assert!(native_grants(&outside, &policy).unwrap().is_empty());
    // Positive control: the same command in the workspace is granted.
    let inside = decide_in(WORKSPACE, "gh pr create", &policy);
    assert_eq!(native_grants(&inside, &policy).unwrap().len(), 1);
}

#[test]
fn an_asking_rule_still_asks_and_names_its_grant() {
    let (outcome, got) = grants("npm --prefix web publish --tag beta");
    assert_eq!(outcome, Outcome::Ask);
    assert_eq!(
        got,
        vec![grant("c1", "NPM_TOKEN", "npm-registry", "npm-publish")]
    );
}

#[test]
fn a_redirected_command_gets_no_grant() {
    let (outcome, got) = grants("git push --force origin main");
    assert_eq!(outcome, Outcome::Redirect);
    assert!(got.is_empty(), "{got:?}");
    // Positive control: the plain push matches the same granting rule and gets it.
    let (outcome, got) = grants("git push origin main");
    assert_eq!(outcome, Outcome::Allow);
    assert_eq!(got, vec![grant("c1", "GIT_TOKEN", "github", "git-push")]);
}

#[test]
fn two_rules_granting_one_variable_two_secrets_is_an_error() {
    let conflicting = POLICY.replace(
        "  - id: everything-else\n    outcome: allow\n    reason: the rest is allowed in this test\n    match: {}\n",
        "  - id: everything-else\n    outcome: allow\n    reason: the rest is allowed in this test\n    match: {}\n    secrets: {GH_TOKEN: other}\n",
    );
    assert_ne!(conflicting, POLICY);
    let policy = compile(&conflicting);
    let decision = decide_in(WORKSPACE, "gh pr create", &policy);
    let err = native_grants(&decision, &policy).unwrap_err();
    assert_eq!(
        err.to_string(),
        "command c1: the environment variable `GH_TOKEN` is granted `github` by rule gh-in-workspace and `other` by rule everything-else; a variable carries one secret"
    );
}

#[test]
fn grants_come_only_from_the_policy_that_decided() {
    let policy = compile(POLICY);
    let decision = decide_in(WORKSPACE, "gh pr create", &policy);
    let other = compile(&POLICY.replace("name: grants", "name: other"));
    assert!(matches!(
        native_grants(&decision, &other),
        Err(GrantError::PolicyMismatch { .. })
    ));
}

#[test]
fn malformed_grants_are_refused_when_the_policy_loads() {
    let base =
        "cordon_policy: 1\nname: t\nrules:\n  - id: r\n    reason: r\n    match: {program: [gh]}\n";
    for (outcome, secrets, expected) in [
        (
            "allow",
            "{GH-TOKEN: github}",
            "`GH-TOKEN` is not an environment variable name",
        ),
        ("allow", "{GH_TOKEN: \"a b\"}", "`a b` is not a secret name"),
        (
            "deny",
            "{GH_TOKEN: github}",
            "`secrets` on a deny rule would grant nothing",
        ),
    ] {
        let text = format!("{base}    outcome: {outcome}\n    secrets: {secrets}\n");
        let err = LoadedNativePolicy::parse(text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains(expected) && err.to_string().contains("rule `r`"),
            "{secrets}: {err}"
        );
    }
    // Positive control: the well-formed grant loads.
    let good = format!("{base}    outcome: allow\n    secrets: {{GH_TOKEN: github}}\n");
    assert!(LoadedNativePolicy::parse(good.as_bytes()).is_ok());
}

fn contract(secret_refs: serde_json::Value) -> Contract {
    Contract::from_value(json!({
        "version": "csc.v0.1",
        "contract_id": "contract-gh-001",
        "intent": "open a pull request",
        "actor": {"agent_id": "a", "session_id": "s", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [
            {"id": "c1", "exec": {"argv": ["gh", "pr", "create"]}, "cwd": WORKSPACE,
             "read_paths": [], "write_paths": [], "network": "full", "env_allow": [],
             "secret_refs": secret_refs, "timeout_sec": 30, "proposed_effect_type": "fetch_external"},
            {"id": "c2", "exec": {"argv": ["git", "status"]}, "cwd": WORKSPACE,
             "read_paths": [], "write_paths": [], "network": "deny", "env_allow": [],
             "secret_refs": [], "timeout_sec": 30, "proposed_effect_type": "observe"}
        ],
        "risk_class": "high",
        "approval_mode": "policy_only",
        "justification": "test"
    }))
    .unwrap()
}

fn csc_policy(allow_secret_refs: bool) -> Policy {
    serde_json::from_value(json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "p",
        "allow_commands": ["gh", "git"],
        "allowed_effect_types": ["observe", "fetch_external"],
        "allowed_risk_classes": ["high"],
        "max_timeout_sec": 60,
        "network": "full",
        "allow_secret_refs": allow_secret_refs,
        "allowed_cwd_prefixes": [WORKSPACE],
        "allowed_read_prefixes": [WORKSPACE]
    }))
    .unwrap()
}

#[test]
fn csc_secret_refs_map_onto_the_same_grants() {
    let got = contract_grants(
        &contract(json!(["GH_TOKEN", "NPM_TOKEN=npm-registry"])),
        &csc_policy(true),
    )
    .unwrap();
    let by = "contract secret_refs".to_string();
    assert_eq!(
        got,
        vec![CommandGrants {
            command_id: "c1".into(),
            grants: vec![
                SecretGrant {
                    env: "GH_TOKEN".into(),
                    secret: "GH_TOKEN".into(),
                    granted_by: by.clone()
                },
                SecretGrant {
                    env: "NPM_TOKEN".into(),
                    secret: "npm-registry".into(),
                    granted_by: by
                },
            ],
        }]
    );
}

#[test]
fn csc_secret_refs_are_refused_when_not_allowed_or_malformed() {
    assert_eq!(
        contract_grants(&contract(json!(["GH_TOKEN"])), &csc_policy(false)),
        Err(GrantError::NotAllowed {
            command_id: "c1".into()
        })
    );
    for bad in ["GH TOKEN", "GH_TOKEN=a/b", "=github", "1X"] {
        assert!(
            matches!(
                contract_grants(&contract(json!([bad])), &csc_policy(true)),
                Err(GrantError::InvalidReference { .. })
            ),
            "{bad}"
        );
    }
    // A contract without references needs no permission.
    assert_eq!(
        contract_grants(&contract(json!([])), &csc_policy(false)),
        Ok(Vec::new())
    );
}
