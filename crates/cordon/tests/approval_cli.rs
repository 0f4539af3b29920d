//! Human approvals end to end through the `cordon` binary: the waiting run, answers from another
//! terminal, pre-signed approval files, and the attacks on them (replay in another process,
//! another contract, expired, future-dated, tampered, unknown key, dual control by one person,
//! concurrent consumers). Each attack sits next to the positive control that shows the same setup
//! runs when the approval is honest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::time::Duration;

use approval_support::{receipt, text, wait, Home};
use cordon_approval::{Grant, Scope, SignedApproval};
use cordon_core::approval::ApprovalMethod;
use cordon_core::Contract;
use serde_json::Value;
use time::OffsetDateTime;

const BLOCKED: i32 = 126;

fn presign(home: &Home, contract: &str, out: &str, extra: &[&str]) -> String {
    let path = home.p(out);
    let mut args = vec!["approve", "--contract", contract, "--out", &path];
    args.extend_from_slice(extra);
    home.ok(&args);
    path
}

/// Signs with the crate directly: for artifacts the CLI would never make.
fn sign_raw(
    key_path: &std::path::Path,
    identity: &str,
    contract: &str,
    approved_at: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> SignedApproval {
    let contract = Contract::parse(&std::fs::read(contract).unwrap()).unwrap();
    let key = cordon_journal::keys::parse_private_key(&std::fs::read(key_path).unwrap()).unwrap();
    SignedApproval::sign(
        &Grant {
            identity: identity.into(),
            method: ApprovalMethod::Cli,
            contract_sha256: contract.sha256(),
            scope: Scope::Once,
            approved_at,
            expires_at,
            request_id: None,
            reason: None,
        },
        &key,
    )
    .unwrap()
}

fn run_with(home: &Home, contract: &str, approvals: &[&str]) -> std::process::Output {
    let policy = home.p("policy.json");
    let mut args = vec!["run", contract, policy.as_str(), "--approval-timeout", "0"];
    for a in approvals {
        args.push("--approval");
        args.push(a);
    }
    home.run(&args)
}

#[test]
fn an_approval_from_another_terminal_runs_the_command_and_the_evidence_names_the_approver() {
    let home = Home::new();
    let contract = home.contract("push", &["approved-run"], false);
    let policy = home.p("policy.json");
    let receipt_path = home.p("receipt.json");
    let key = home.alice_key().display().to_string();
    let journal = home.p("home/journal");
    let child = home.spawn(&[
        "run",
        &contract,
        &policy,
        "--approval-timeout",
        "30",
        "--receipt",
        &receipt_path,
        "--signing-key",
        &key,
        "--key-id",
        "alice-key",
        "--journal",
        &journal,
    ]);
    let id = home.wait_for_request();
    let pending = home.pending();
    assert_eq!(pending[0]["summary"][0]["argv"][0][1], "approved-run");
    let answer = home.ok(&["approve", &id]);
    assert!(
        text(&answer.stdout).contains("as alice"),
        "{}",
        text(&answer.stdout)
    );
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("approved-run"));

    let r = receipt(std::path::Path::new(&receipt_path));
    assert_eq!(r["status"], "success");
    let approval = &r["x-cordon"]["approval"];
    assert_eq!(approval["state"], "approved");
    assert_eq!(approval["request_id"], id.as_str());
    assert_eq!(approval["approvals"][0]["approver"], "alice");
    assert!(approval["approvals"][0]["approval_id"]
        .as_str()
        .unwrap()
        .starts_with("apr_"));
    // The journal's decision record carries the same approval.
    let entries = std::fs::read_to_string(home.path("home/journal/entries.jsonl")).unwrap();
    let decision: Value = entries
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["record_version"].is_string())
        .unwrap();
    assert_eq!(
        decision["details"]["approval"]["approvals"][0]["approver"],
        "alice"
    );
    assert_eq!(
        decision["details"]["approval"]["approvals"][0]["approval_id"],
        approval["approvals"][0]["approval_id"]
    );
    // And the journal still verifies.
    home.ok(&["verify"]);
}

#[test]
fn a_denial_or_no_answer_blocks_with_126() {
    let home = Home::new();
    let contract = home.contract("deny", &["must-not-run"], false);
    let policy = home.p("policy.json");
    let child = home.spawn(&["run", &contract, &policy, "--approval-timeout", "30"]);
    let id = home.wait_for_request();
    home.ok(&["deny", &id, "--reason", "not today"]);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(!text(&out.stdout).contains("must-not-run\n"));
    assert!(
        text(&out.stderr).contains("was denied by"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("not today"));

    // No answer within the wait: denied, and the request is no longer pending.
    let out = home.run(&["run", &contract, &policy, "--approval-timeout", "1"]);
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(
        text(&out.stderr).contains("got no approval within 1 s"),
        "{}",
        text(&out.stderr)
    );
    assert!(home.pending().is_empty());

    // Not waiting at all keeps the gate's answer: needs approval (2), nothing filed.
    let out = home.run(&["run", &contract, &policy, "--approval-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(home.pending().is_empty());
}

#[test]
fn a_single_use_approval_cannot_be_replayed_in_a_second_process() {
    let home = Home::new();
    let contract = home.contract("once", &["once-run"], false);
    let approval = presign(&home, &contract, "once.approval.json", &[]);
    let first = run_with(&home, &contract, &[&approval]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("once-run"));
    let replay = run_with(&home, &contract, &[&approval]);
    assert_eq!(replay.status.code(), Some(BLOCKED));
    assert!(
        text(&replay.stderr).contains("was already used"),
        "{}",
        text(&replay.stderr)
    );
    assert!(!text(&replay.stdout).contains("once-run\n"));
}

#[test]
fn an_approval_for_contract_a_does_not_run_contract_b() {
    let home = Home::new();
    let a = home.contract("a", &["from-a"], false);
    let b = home.contract("b", &["from-b"], false);
    let approval = presign(&home, &a, "a.approval.json", &[]);
    let out = run_with(&home, &b, &[&approval]);
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(
        text(&out.stderr).contains("does not cover this contract"),
        "{}",
        text(&out.stderr)
    );
    // Positive control: the same approval runs A (and was not consumed by the refusal).
    let out = run_with(&home, &a, &[&approval]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn expired_and_future_dated_approvals_are_refused() {
    let home = Home::new();
    let contract = home.contract("time", &["timely"], false);
    let now = OffsetDateTime::now_utc();
    let cases = [
        (
            "expired",
            now - time::Duration::hours(2),
            now - time::Duration::hours(1),
            "expired at",
        ),
        (
            "future",
            now + time::Duration::hours(1),
            now + time::Duration::hours(2),
            "dated in the future",
        ),
    ];
    for (name, at, until, expected) in cases {
        let signed = sign_raw(&home.alice_key(), "alice", &contract, at, until);
        let path = home.p(&format!("{name}.approval.json"));
        std::fs::write(&path, signed.to_json().unwrap()).unwrap();
        let out = run_with(&home, &contract, &[&path]);
        assert_eq!(out.status.code(), Some(BLOCKED), "{name}");
        assert!(
            text(&out.stderr).contains(expected),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    // Positive control: signed the same way, valid now.
    let signed = sign_raw(
        &home.alice_key(),
        "alice",
        &contract,
        now,
        now + time::Duration::minutes(5),
    );
    let path = home.p("valid.approval.json");
    std::fs::write(&path, signed.to_json().unwrap()).unwrap();
    let out = run_with(&home, &contract, &[&path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn tampered_approvals_and_unknown_keys_are_refused() {
    let home = Home::new();
    let contract = home.contract("tamper", &["tamper-run"], false);
    let approval = presign(&home, &contract, "t.approval.json", &[]);
    let mut value: Value = serde_json::from_slice(&std::fs::read(&approval).unwrap()).unwrap();
    value["approval"]["expires_at"] = "2099-01-01T00:00:00.000000+00:00".into();
    let tampered = home.p("tampered.json");
    std::fs::write(&tampered, value.to_string()).unwrap();
    let out = run_with(&home, &contract, &[&tampered]);
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(
        text(&out.stderr).contains("signature does not verify"),
        "{}",
        text(&out.stderr)
    );

    // Mallory's key is not in the approvers file: the CLI will not sign with it, and an
    // approval made with it anyway is refused.
    let mallory_key = home.path("mallory/mallory-key.pem");
    let refused = home.run(&[
        "approve",
        "--contract",
        &contract,
        "--out",
        &home.p("m.json"),
        "--key",
        mallory_key.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(64), "{}", text(&refused.stderr));
    let now = OffsetDateTime::now_utc();
    let forged = sign_raw(
        &mallory_key,
        "alice",
        &contract,
        now,
        now + time::Duration::minutes(5),
    );
    let forged_path = home.p("forged.json");
    std::fs::write(&forged_path, forged.to_json().unwrap()).unwrap();
    let out = run_with(&home, &contract, &[&forged_path]);
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(
        text(&out.stderr).contains("not a trusted approver"),
        "{}",
        text(&out.stderr)
    );

    // Positive control: the untampered original still runs.
    let out = run_with(&home, &contract, &[&approval]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn dual_control_needs_two_distinct_approvers() {
    let home = Home::new();
    let contract = home.contract("dual", &["dual-run"], true);
    let bob_key = home.p("bob/bob-key.pem");

    // Files: alice twice is one approver.
    let a1 = presign(&home, &contract, "a1.json", &[]);
    let a2 = presign(&home, &contract, "a2.json", &[]);
    let out = run_with(&home, &contract, &[&a1, &a2]);
    assert_eq!(out.status.code(), Some(BLOCKED));
    assert!(
        text(&out.stderr).contains("two distinct approvers"),
        "{}",
        text(&out.stderr)
    );
    // One approval alone is not enough either.
    let out = run_with(&home, &contract, &[&a1]);
    assert_eq!(out.status.code(), Some(BLOCKED));

    // A pending request: alice answers, then tries again, and it still waits for a second person.
    let policy = home.p("policy.json");
    let receipt_path = home.p("dual.receipt.json");
    let child = home.spawn(&[
        "run",
        &contract,
        &policy,
        "--approval-timeout",
        "30",
        "--receipt",
        &receipt_path,
    ]);
    let id = home.wait_for_request();
    let first = home.ok(&["approve", &id]);
    assert!(text(&first.stdout).contains("needs one more approver"));
    let again = home.run(&["approve", &id]);
    assert_eq!(again.status.code(), Some(65), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("alice already answered"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        home.pending().len(),
        1,
        "still pending after the same approver twice"
    );
    // Positive control: bob is the second approver.
    home.ok(&["approve", &id, "--key", &bob_key]);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = receipt(std::path::Path::new(&receipt_path));
    let approvers: Vec<&str> = r["x-cordon"]["approval"]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approver"].as_str().unwrap())
        .collect();
    assert_eq!(approvers, ["alice", "bob"]);

    // Files from alice and bob: runs (positive control for the file path).
    let b1 = presign(&home, &contract, "b1.json", &["--key", &bob_key]);
    let out = run_with(&home, &contract, &[&a1, &b1]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn concurrent_consumers_of_one_single_use_approval_exactly_one_wins() {
    let home = Home::new();
    let contract = home.contract("race", &["race-run"], false);
    let approval = presign(&home, &contract, "race.approval.json", &[]);
    let policy = home.p("policy.json");
    let children: Vec<_> = (0..6)
        .map(|_| {
            home.spawn(&[
                "run",
                &contract,
                &policy,
                "--approval-timeout",
                "0",
                "--approval",
                &approval,
            ])
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| wait(c, Duration::from_secs(60)))
        .collect();
    let winners = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0))
        .count();
    let replays = outputs
        .iter()
        .filter(|o| {
            o.status.code() == Some(BLOCKED) && text(&o.stderr).contains("was already used")
        })
        .count();
    assert_eq!(
        (winners, replays),
        (1, 5),
        "{:?}",
        outputs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
    );
}

#[test]
fn a_window_approval_given_once_covers_later_runs_of_the_same_contract_only() {
    let home = Home::new();
    let contract = home.contract("window", &["window-run"], false);
    let other = home.contract("other", &["other-run"], false);
    let policy = home.p("policy.json");
    let child = home.spawn(&["run", &contract, &policy, "--approval-timeout", "30"]);
    let id = home.wait_for_request();
    home.ok(&["approve", &id, "--scope", "window:10m"]);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Later runs of the same contract need no new answer...
    for _ in 0..2 {
        let out = home.run(&["run", &contract, &policy, "--approval-timeout", "0"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    // ...but another contract does.
    let out = home.run(&["run", &other, &policy, "--approval-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_pattern_approval_covers_matching_command_lines_with_the_same_envelope_only() {
    let home = Home::new();
    let first = home.contract("deploy_a", &["deploy", "alpha"], false);
    let policy = home.p("policy.json");
    let child = home.spawn(&["run", &first, &policy, "--approval-timeout", "30"]);
    let id = home.wait_for_request();
    home.ok(&["approve", &id, "--scope", "pattern:echo deploy *"]);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Positive control: another contract whose command line matches, same envelope.
    let beta = home.contract("deploy_b", &["deploy", "beta"], false);
    let out = home.run(&["run", &beta, &policy, "--approval-timeout", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("deploy beta"));
    // A command line outside the pattern still needs an answer.
    let other = home.contract("undeploy", &["undeploy", "beta"], false);
    let out = home.run(&["run", &other, &policy, "--approval-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn cordon_exec_of_an_ask_command_waits_for_an_approval_and_records_it() {
    cordon_testkit::require(
        std::process::Command::new("git")
            .arg("--version")
            .output()
            .is_ok(),
        "git",
        "apt-get install git",
    );
    let home = Home::new();
    let spawn = || {
        home.command(&[
            "exec",
            "--approval-timeout",
            "30",
            "--shell",
            "git push origin main",
        ])
        .current_dir(home.ws())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    // Denied: nothing runs.
    let child = spawn();
    let id = home.wait_for_request();
    home.ok(&["deny", &id]);
    let out = wait(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("not a git repository"));

    // Approved: git itself runs (and fails: the workspace is not a repository).
    let child = spawn();
    let id = home.wait_for_request();
    home.ok(&["approve", &id]);
    let out = wait(child, Duration::from_secs(30));
    assert!(
        text(&out.stderr).contains("approved by alice"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("not a git repository"),
        "git ran: {}",
        text(&out.stderr)
    );
    let entries = std::fs::read_to_string(home.path("home/journal/entries.jsonl")).unwrap();
    let approved = entries
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["record_version"].is_string())
        .filter_map(|e| {
            e["details"]["approval"]["approvals"][0]["approver"]
                .as_str()
                .map(str::to_string)
        })
        .collect::<Vec<_>>();
    assert_eq!(approved, ["alice"]);
}

#[test]
fn a_restart_means_deny_an_answer_to_a_dead_run_authorizes_nothing_later() {
    let home = Home::new();
    let contract = home.contract("restart", &["after-restart"], false);
    let policy = home.p("policy.json");
    let mut child = home.spawn(&["run", &contract, &policy, "--approval-timeout", "30"]);
    let id = home.wait_for_request();
    child.kill().unwrap();
    child.wait().unwrap();
    // The answer arrives after the waiting run died.
    home.ok(&["approve", &id]);
    // A new run of the same contract does not pick it up: it needs its own answer.
    let out = home.run(&["run", &contract, &policy, "--approval-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = home.run(&["run", &contract, &policy, "--approval-timeout", "1"]);
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("after-restart\n"));
}
