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
use agent_support::{
    assert_allowed_ran_hardened, assert_denied_never_ran, journal_entries, repo, scripted_model,
    CORDON,
};

const ALLOWED: &str = "echo hello-from-gemini > allowed.txt";
const DENIED: &str = "touch denied-marker; cat ~/.ssh/id_rsa";

#[test]
fn gemini_runs_allowed_commands_sandboxed_and_never_runs_denied_ones() {
    let gemini = repo().join("tests/agents/node_modules/.bin/gemini");
    cordon_testkit::require(
        gemini.exists(),
        "Gemini CLI (tests/agents/node_modules)",
        "run scripts/test, or `npm ci` in tests/agents",
    );
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

    // The allowed command ran through cordon, hardened; the denied one never ran, and Gemini passed the reason to the model.
    let entries = journal_entries(&cordon_home);
    assert_allowed_ran_hardened(&entries, &project, "gemini", ALLOWED, "hello-from-gemini");
    assert_denied_never_ran(&entries, &project, "gemini", DENIED);
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
