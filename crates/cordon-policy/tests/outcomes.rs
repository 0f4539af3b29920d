//! The five outcomes, their precedence, redirects that never widen scope, the default, the digest,
//! and the errors a malformed native policy gets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::native::{self, CompiledPolicy, Context, CordonReason, LoadedNativePolicy};
use cordon_policy::shell::Session;

fn session() -> Session {
    Session {
        cwd: "/work/project".into(),
        home: "/home/agent".into(),
    }
}

fn compile(yaml: &str) -> CompiledPolicy {
    let loaded = LoadedNativePolicy::parse(yaml.as_bytes()).unwrap();
    CompiledPolicy::compile(
        &loaded,
        &Context {
            workspace: "/work/project".into(),
            home: "/home/agent".into(),
        },
    )
    .unwrap()
}

const FIVE: &str = r#"
cordon_policy: 1
name: five
rules:
  - {id: local, outcome: allow, reason: local work, match: {known: true, effects: [observe, transform_local, mutate_repo]}}
  - {id: rm-checkpoint, outcome: allow_with_checkpoint, reason: deletions can be rolled back, match: {destructive: true}}
  - id: lease
    outcome: redirect
    reason: a force push must not overwrite others' work
    match: {command: [git push], flags_any: [--force, -f]}
    redirect: {argv: [git, push, --force-with-lease, "{rest:2}"], drop: [--force, -f]}
  - {id: push, outcome: allow, reason: pushes are fine here, match: {command: [git push]}}
  - {id: secrets, outcome: deny, reason: credentials, match: {paths: ["~/.ssh/**"]}}
  - {id: net, outcome: ask, reason: network, match: {network: true}, unless: {command: [git push]}}
"#;

#[test]
fn each_outcome_is_reachable_with_its_code_and_sentence() {
    let policy = compile(FIVE);
    let cases = [
        (
            "git status",
            Outcome::Allow,
            CordonReason::RuleAllowed,
            "Allowed",
        ),
        (
            "rm -rf build",
            Outcome::AllowWithCheckpoint,
            CordonReason::RuleCheckpointed,
            "snapshotted",
        ),
        (
            "git push --force origin main",
            Outcome::Redirect,
            CordonReason::RuleRedirected,
            "--force-with-lease",
        ),
        (
            "curl https://x.example",
            Outcome::Ask,
            CordonReason::RuleAsked,
            "Needs approval",
        ),
        (
            "cat ~/.ssh/id_rsa",
            Outcome::Deny,
            CordonReason::RuleDenied,
            "Denied",
        ),
        (
            "frobnicate",
            Outcome::Deny,
            CordonReason::NoRuleMatched,
            "default is deny",
        ),
        (
            "git $sub",
            Outcome::Ask,
            CordonReason::UnresolvedCommand,
            "cannot be judged",
        ),
        (
            "eval ls",
            Outcome::Deny,
            CordonReason::NoRuleMatched,
            "default is deny",
        ),
        (
            "# only a comment",
            Outcome::Deny,
            CordonReason::NothingToRun,
            "runs no command",
        ),
    ];
    for (text, outcome, code, words) in cases {
        let (_, decision) = native::decide(text, &session(), &policy);
        assert_eq!(decision.outcome, outcome, "{text}: {}", decision.sentence);
        assert!(
            decision.reason_codes.contains(&code),
            "{text}: {:?}",
            decision.reason_codes
        );
        assert!(
            decision.sentence.contains(words),
            "{text}: {}",
            decision.sentence
        );
    }
}

#[test]
fn a_redirect_keeps_the_original_and_names_the_replacement() {
    let (_, decision) = native::decide("git push -f origin main", &session(), &compile(FIVE));
    let judgement = &decision.commands[0];
    assert_eq!(
        judgement.facts.argv,
        vec!["git", "push", "-f", "origin", "main"]
    );
    assert_eq!(
        judgement.redirect_argv.as_deref().unwrap(),
        ["git", "push", "--force-with-lease", "origin", "main"]
    );
}

#[test]
fn a_redirect_that_would_widen_the_scope_is_refused() {
    let widening = r#"
cordon_policy: 1
name: widen
rules:
  - {id: all, outcome: allow, reason: all}
  - id: to-home
    outcome: redirect
    reason: move deletions to a trash directory
    match: {program: [rm]}
    redirect: {argv: [cp, -r, "{rest:2}", /home/agent/trash]}
  - id: to-network
    outcome: redirect
    reason: fetch instead
    match: {program: [touch]}
    redirect: {argv: [curl, -o, "{1}", https://x.example]}
"#;
    let policy = compile(widening);
    for text in ["rm -rf build", "touch a.txt"] {
        let (_, decision) = native::decide(text, &session(), &policy);
        assert_eq!(
            decision.outcome,
            Outcome::Ask,
            "{text}: {}",
            decision.sentence
        );
        assert_eq!(
            decision.reason_codes,
            vec![CordonReason::RedirectRefused],
            "{text}"
        );
        assert!(decision.commands[0].redirect_argv.is_none());
    }
}

#[test]
fn a_redirect_to_a_command_the_policy_does_not_allow_is_refused() {
    let policy = compile(&FIVE.replace("  - {id: push, outcome: allow, reason: pushes are fine here, match: {command: [git push]}}\n", "  - {id: push, outcome: ask, reason: pushes need a person, match: {command: [git push]}, unless: {flags_any: [--force, -f]}}\n  - {id: lease-ask, outcome: ask, reason: even lease pushes are asked, match: {flags_any: [--force-with-lease]}}\n"));
    let (_, decision) = native::decide("git push --force", &session(), &policy);
    assert_eq!(decision.outcome, Outcome::Ask, "{}", decision.sentence);
    assert_eq!(decision.reason_codes, vec![CordonReason::RedirectRefused]);
}

#[test]
fn precedence_is_deny_ask_redirect_checkpoint_allow_across_parts() {
    let policy = compile(FIVE);
    let outcome = |t: &str| native::decide(t, &session(), &policy).1.outcome;
    assert_eq!(
        outcome("git status && rm -rf build"),
        Outcome::AllowWithCheckpoint
    );
    assert_eq!(
        outcome("rm -rf build && git push --force"),
        Outcome::Redirect
    );
    assert_eq!(
        outcome("git push --force; curl https://x.example"),
        Outcome::Ask
    );
    assert_eq!(
        outcome("curl https://x.example | cat ~/.ssh/id_rsa"),
        Outcome::Deny
    );
    // Within one command, a later deny beats an earlier allow: order never weakens a deny.
    assert_eq!(outcome("cat ~/.ssh/config"), Outcome::Deny);
}

#[test]
fn the_digest_covers_the_whole_policy() {
    let a = LoadedNativePolicy::parse(FIVE.as_bytes()).unwrap();
    let b =
        LoadedNativePolicy::parse(FIVE.replace("local work", "local  work").as_bytes()).unwrap();
    let c = LoadedNativePolicy::parse(
        format!("{FIVE}description: x\n")
            .replace("rules:", "rules:")
            .as_bytes(),
    );
    assert_ne!(a.sha256, b.sha256, "a reason change must change the digest");
    assert!(c.is_ok());
    assert_ne!(
        a.sha256,
        c.unwrap().sha256,
        "a description change must change the digest"
    );
    let reordered = LoadedNativePolicy::parse(
        "cordon_policy: 1\nrules:\n  - {reason: local work, id: local, outcome: allow}\nname: x\n"
            .as_bytes(),
    )
    .unwrap();
    let same = LoadedNativePolicy::parse(
        "name: x\ncordon_policy: 1\nrules:\n  - {id: local, outcome: allow, reason: local work}\n"
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(reordered.sha256, same.sha256, "key order is not meaning");
}

#[test]
fn malformed_policies_get_one_clear_sentence() {
    let cases = [
        ("cordon_policy: 2\nname: x\nrules: []\n", "version 2 is not supported"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: allow, reason: r}\n  - {id: a, outcome: deny, reason: r}\n", "ids must be unique"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: redirect, reason: r}\n", "needs a `redirect"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: deny, reason: r, match: {paths: [\"a[\"]}}\n", "is invalid"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: maybe, reason: r}\n", "unknown variant"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: allow, reason: r, match: {progam: [x]}}\n", "unknown field `progam`"),
        ("cordon_policy: 1\nname: x\ndefault: allow\nrules: []\n", "unknown variant `allow`"),
        ("cordon_policy: 1\nname: x\nrules:\n  - {id: a, outcome: allow, reason: r, match: {network: yes}}\n", "ambiguous YAML"),
    ];
    for (text, expected) in cases {
        let err = LoadedNativePolicy::parse(text.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn the_default_is_deny_unless_the_policy_says_ask() {
    let deny = compile("cordon_policy: 1\nname: x\nrules: []\n");
    let ask = compile("cordon_policy: 1\nname: x\ndefault: ask\nrules: []\n");
    assert_eq!(
        native::decide("ls", &session(), &deny).1.outcome,
        Outcome::Deny
    );
    assert_eq!(
        native::decide("ls", &session(), &ask).1.outcome,
        Outcome::Ask
    );
}

#[test]
fn decisions_map_onto_csc_policy_decisions() {
    use cordon_policy::synth::{self, Requester};
    let policy = compile(FIVE);
    for (text, code) in [
        ("git status", "ALLOW"),
        ("curl https://x.example", "APPROVAL_REQUIRED"),
        ("cat ~/.ssh/id_rsa", "COMMAND_NOT_ALLOWED"),
    ] {
        let (facts, decision) = native::decide(text, &session(), &policy);
        let contract = synth::contract(text, &facts, &Requester::default()).unwrap();
        let csc = decision.to_policy_decision(
            &contract,
            &contract.sha256(),
            time::OffsetDateTime::now_utc(),
        );
        let value = serde_json::to_value(&csc).unwrap();
        cordon_core::Schema::CordonPolicyDecision
            .validate(&value)
            .unwrap();
        assert_eq!(csc.reason_codes[0].as_str(), code);
        assert_eq!(csc.outcome, Some(decision.outcome));
    }
}
