//! The real harness for Gemini CLI: the real CLI (npm `@google/gemini-cli`, installed by .ci/run
//! into tests/agents/) with cordon installed as its user hook (`cordon install gemini`), its model
//! the scripted Gemini API on loopback (tests/agents/scripted_model.py) reached through
//! `GOOGLE_GEMINI_BASE_URL`.
//!
//! Gemini CLI runs a shell tool without asking only in `--approval-mode yolo`, and only in a trusted
//! folder; the test turns its folder trust off and picks API-key auth in the temporary user
//! settings. cordon's hook is what decides.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use serde_json::Value;

mod agent_support;
use agent_support::{assert_hardened, repo, scripted_model, CORDON};

const ALLOWED: &str = "echo hello-from-gemini > allowed.txt";
const DENIED: &str = "touch denied-marker; cat ~/.ssh/id_rsa";

#[test]
fn gemini_runs_allowed_commands_sandboxed_and_never_runs_denied_ones() {
    let gemini = repo().join("tests/agents/node_modules/.bin/gemini");
    if !gemini.exists() {
        println!("SKIP: Gemini CLI is not installed in tests/agents (.ci/run runs `npm ci` there)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let user = dir.path().join("user");
    let cordon_home = dir.path().join("cordon-home");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&user).unwrap();
    let env = |cmd: &mut Command| {
        cmd.env("HOME", &user)
            .env("CORDON_HOME", &cordon_home)
            .env("CORDON_GATEWAY", "off")
            .env_remove("GEMINI_PROJECT_DIR")
            .current_dir(&project);
    };

    let mut install = Command::new(CORDON);
    install.args(["install", "gemini"]);
    env(&mut install);
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The user's own settings next to cordon's hook: API-key auth, no folder-trust prompt.
    let settings_path = user.join(".gemini/settings.json");
    let mut settings: Value =
        serde_json::from_str(&std::fs::read_to_string(&settings_path).unwrap()).unwrap();
    settings["security"] = serde_json::json!({
        "auth": {"selectedType": "gemini-api-key"},
        "folderTrust": {"enabled": false},
    });
    std::fs::write(&settings_path, settings.to_string()).unwrap();

    let log = dir.path().join("model.log");
    let model = scripted_model(&log, ALLOWED, DENIED);
    let mut run = Command::new(&gemini);
    run.args([
        "-p",
        "Run the scripted commands.",
        "--approval-mode",
        "yolo",
    ])
    .env("GEMINI_API_KEY", "not-a-key")
    .env(
        "GOOGLE_GEMINI_BASE_URL",
        format!("http://127.0.0.1:{}", model.port),
    )
    .stdin(Stdio::null());
    env(&mut run);
    let out = run.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gemini failed: {stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "done", "{stderr}");

    // The allowed command ran through cordon exec: its effect, the hook's allow, the receipt.
    assert_eq!(
        std::fs::read_to_string(project.join("allowed.txt")).unwrap(),
        "hello-from-gemini\n"
    );
    let entries: Vec<Value> = std::fs::read_to_string(cordon_home.join("journal/entries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hook_decision = |command: &str| {
        entries
            .iter()
            .find(|e| e["actor"] == "gemini" && e["details"]["request"]["command"] == command)
            .unwrap_or_else(|| panic!("no hook decision for {command}"))
    };
    assert_eq!(hook_decision(ALLOWED)["outcome"], "allow");
    let receipt = entries
        .iter()
        .find(|e| e["receipt_version"].is_string())
        .expect("no receipt in the journal");
    assert_eq!(receipt["status"], "success", "{receipt}");
    // The hook's rewrite runs it hardened (a new file, created under the kernel's grant of
    // the directory it lands in), and the receipt says Landlock and seccomp enforced it.
    assert_hardened(receipt);
    assert!(
        receipt.to_string().contains("hello-from-gemini"),
        "{receipt}"
    );

    // The denied command never ran, and Gemini passed the reason to the model.
    assert!(!project.join("denied-marker").exists());
    assert_eq!(hook_decision(DENIED)["outcome"], "deny");
    let sent = std::fs::read_to_string(&log).unwrap();
    assert!(
        sent.contains("Denied: `cat ") && sent.contains("it touches credentials"),
        "the model never saw the denial"
    );
    let mut verify = Command::new(CORDON);
    verify.arg("verify");
    env(&mut verify);
    assert_eq!(verify.output().unwrap().status.code(), Some(0));
}
