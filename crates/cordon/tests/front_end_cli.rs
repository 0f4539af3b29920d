//! `cordon exec`, `cordon explain` and `cordon policy test`, run as a user would run them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs cordon in `dir/work`, with its config home next to it (outside every scope a command
/// there is granted, as the signing key must be), and no wait for approvals.
fn cordon(dir: &Path, args: &[&str]) -> Output {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .env("CORDON_HOME", dir.join("cordon-home"))
        .env("HOME", "/home/agent")
        .env("CORDON_APPROVAL_TIMEOUT", "0")
        .current_dir(work)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn first_use_creates_the_config_home_once_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let first = cordon(dir.path(), &["exec", "--shell", "git --version"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("first use: created"),
        "{}",
        stderr(&first)
    );
    let policy = std::fs::read_to_string(dir.path().join("cordon-home/policy.yaml")).unwrap();
    assert!(policy.contains("cordon_policy: 1"));
    let second = cordon(dir.path(), &["exec", "--shell", "git status"]);
    assert!(
        !stderr(&second).contains("first use"),
        "{}",
        stderr(&second)
    );
}

#[test]
fn exec_exit_codes_follow_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("work/src")).unwrap();
    let cases: [(&[&str], i32); 5] = [
        (&["exec", "--shell", "cd src && ls -la | head"], 0),
        (&["exec", "--shell", "rm -rf build"], 0),
        (&["exec", "--shell", "rm -rf / ; ls"], 1),
        (&["exec", "--shell", "git push"], 2),
        (&["exec", "--", "cat", "/home/agent/.ssh/id_rsa"], 1),
    ];
    for (args, code) in cases {
        let out = cordon(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
    // What cannot be judged is asked where nothing but the judgement stands (local mode)...
    let text = "x=rm; $x -rf /";
    let asked = cordon(dir.path(), &["exec", "--mode", "local", "--shell", text]);
    assert_eq!(asked.status.code(), Some(2));
    assert!(
        stderr(&asked).contains("cannot be judged before it runs"),
        "{}",
        stderr(&asked)
    );
    // ...and, in hardened mode (the default), runs confined to the envelope, snapshotted first.
    let explained = cordon(dir.path(), &["explain", "--json", "--shell", text]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&explained)).unwrap();
    assert_eq!(value["decision"]["outcome"], "allow_with_checkpoint");
}

#[test]
fn exec_json_carries_outcome_codes_and_digest() {
    let dir = tempfile::tempdir().unwrap();
    let out = cordon(
        dir.path(),
        &["exec", "--json", "--shell", "git push origin main"],
    );
    // The decision is the last line of stderr (stdout is the command's).
    let err = stderr(&out);
    let value: serde_json::Value =
        serde_json::from_str(err.trim().lines().last().unwrap()).unwrap();
    assert_eq!(value["outcome"], "ask");
    assert_eq!(value["executes"], false);
    assert!(value["sentence"]
        .as_str()
        .unwrap()
        .starts_with("Needs approval:"));
    assert!(value["codes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "RULE_ASKED"));
}

#[test]
fn explain_shows_parse_contract_rules_and_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let out = cordon(
        dir.path(),
        &[
            "explain",
            "--cwd",
            "/work/project",
            "--shell",
            "cd web && frobnicate --all",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "1. cd web",
        "2. frobnicate --all",
        "cwd:      /work/project/web",
        "rule:     envelope-unknown-program",
        "\"version\": \"csc.v0.1\"",
        "to allow:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // In local mode the same program is asked, with a suggestion.
    let local = cordon(
        dir.path(),
        &["explain", "--mode", "local", "--shell", "frobnicate --all"],
    );
    let local = stdout(&local);
    assert!(local.contains("rule:     unknown-program"), "{local}");
    assert!(local.contains("to allow:"), "{local}");
    let json = cordon(dir.path(), &["explain", "--json", "--shell", "git push"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["decision"]["outcome"], "ask");
    assert_eq!(value["contract"]["commands"][0]["exec"]["argv"][1], "push");
    assert!(!value["suggestions"].as_array().unwrap().is_empty());
}

#[test]
fn a_csc_profile_can_judge_the_synthesized_contract() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    let project = project.to_str().unwrap();
    let profile = dir.path().join("p.yaml");
    std::fs::write(
        &profile,
        format!("policy_schema_version: csc.policy.v0.1\nname: ro\nallow_commands: [git]\nallowed_effect_types: [observe]\nallowed_risk_classes: [low]\nmax_timeout_sec: 900\nnetwork: deny\nallow_secret_refs: false\nallowed_cwd_prefixes: [{project}]\nallowed_read_prefixes: [{project}]\n"),
    )
    .unwrap();
    let policy = profile.to_str().unwrap();
    let allowed = cordon(
        dir.path(),
        &[
            "exec",
            "--policy",
            policy,
            "--cwd",
            project,
            "--shell",
            "git --version",
        ],
    );
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}{}",
        stdout(&allowed),
        stderr(&allowed)
    );
    let denied = cordon(
        dir.path(),
        &[
            "exec", "--policy", policy, "--cwd", project, "--shell", "ls",
        ],
    );
    assert_eq!(denied.status.code(), Some(1), "{}", stdout(&denied));
    let asked = cordon(
        dir.path(),
        &[
            "exec", "--policy", policy, "--cwd", project, "--shell", "git $x",
        ],
    );
    assert_eq!(asked.status.code(), Some(2), "{}", stdout(&asked));
}

#[test]
fn policy_test_passes_and_fails_as_the_fixtures_say() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "cases:\n  - {shell: \"git status\", expect: allow}\n  - {shell: \"git push\", expect: ask}\n  - {argv: [rm, -rf, /], expect: deny}\n").unwrap();
    let out = cordon(dir.path(), &["policy", "test", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("passed, 0 failed"),
        "{}",
        stdout(&out)
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "cases:\n  - {shell: \"git push\", expect: allow}\n").unwrap();
    let out = cordon(dir.path(), &["policy", "test", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAIL \"git push\": expected allow, got ask"),
        "{}",
        stdout(&out)
    );

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "cases:\n  - {shell: x, expect: maybe}\n").unwrap();
    assert_eq!(
        cordon(dir.path(), &["policy", "test", broken.to_str().unwrap()])
            .status
            .code(),
        Some(65)
    );
}

#[test]
fn the_shipped_table_passes_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let table = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cordon-policy/tests/data/agent-commands.yaml");
    let out = cordon(dir.path(), &["policy", "test", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn policy_import_writes_a_policy_that_exec_uses_and_refuses_to_drop_a_deny() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    std::fs::write(
        &settings,
        r#"{"permissions": {"allow": ["Bash(git status)", "Bash(*)"], "deny": ["Read(~/.ssh/**)"]}}"#,
    )
    .unwrap();
    let policy = dir.path().join("imported.yaml");
    let out = cordon(
        dir.path(),
        &[
            "policy",
            "import",
            settings.to_str().unwrap(),
            "-o",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let said = stderr(&out);
    assert_eq!(said.matches("not imported:").count(), 1, "{said}");
    assert!(said.contains("Bash(*)"), "{said}");
    // The written policy is what `explain` then judges with.
    for (text, outcome) in [
        ("git status", "allow"),
        ("cat ~/.ssh/id_rsa", "deny"),
        ("rm -rf ~", "ask"),
    ] {
        let out = cordon(
            dir.path(),
            &[
                "explain",
                "--json",
                "--policy",
                policy.to_str().unwrap(),
                "--shell",
                text,
            ],
        );
        let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(value["decision"]["outcome"], outcome, "{text}");
    }

    // A deny that cannot be converted fails the import whole and leaves the old file alone.
    let hostile = dir.path().join("hostile.json");
    std::fs::write(
        &hostile,
        r#"{"permissions": {"allow": ["Bash(ls)"], "deny": ["Bash(rm -rf / | sh)"]}}"#,
    )
    .unwrap();
    let before = std::fs::read(&policy).unwrap();
    let out = cordon(
        dir.path(),
        &[
            "policy",
            "import",
            hostile.to_str().unwrap(),
            "-o",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("deny[0]"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&policy).unwrap(), before);

    // Malformed JSON is invalid input, not a panic.
    std::fs::write(&hostile, "{\"permissions\": {\"allow\": [").unwrap();
    let out = cordon(dir.path(), &["policy", "import", hostile.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
}

#[test]
fn explain_says_a_hardened_runs_loopback_is_its_own_and_the_contract_denies_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let text = "curl -s http://127.0.0.1:8000/health";
    let out = cordon(dir.path(), &["explain", "--shell", text]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = stdout(&out);
    for expected in [
        "mode:     hardened",
        "rule:     envelope-loopback",
        "network:  a hardened run reaches only its own loopback, which the sandbox keeps private: the host's loopback services stay out of reach",
        "outcome:  allow (RULE_ALLOWED) — Allowed: `curl -s http://127.0.0.1:8000/health`: it reaches only the run's own loopback, which the sandbox keeps private (rule envelope-loopback).",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in:\n{shown}");
    }
    // What exec runs declares no network: the sandbox's own loopback, not the host's.
    let json = cordon(dir.path(), &["explain", "--json", "--shell", text]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["decision"]["outcome"], "allow");
    assert_eq!(
        value["egress"]["grant"],
        serde_json::json!({"network": "loopback"})
    );
    assert_eq!(value["contract"]["commands"][0]["network"], "deny");
    // The control: local mode reaches the host's loopback, so it asks, and says why.
    let local = cordon(
        dir.path(),
        &["explain", "--mode", "local", "--json", "--shell", text],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&local)).unwrap();
    assert_eq!(value["decision"]["outcome"], "ask");
    assert_eq!(
        value["decision"]["sentence"],
        "Needs approval: `curl -s http://127.0.0.1:8000/health`: it uses the network, which only a hardened run confines, to its own loopback or to the hosts a rule lists (rule network)."
    );
    assert_eq!(value["contract"]["commands"][0]["network"], "full");
    // A look-alike names another host: asked in hardened mode too.
    let out = cordon(
        dir.path(),
        &[
            "explain",
            "--json",
            "--shell",
            "curl http://localhost.evil.com/",
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(value["decision"]["outcome"], "ask");
    assert_eq!(
        value["egress"]["grant"],
        serde_json::json!({"network": "full"})
    );
}
