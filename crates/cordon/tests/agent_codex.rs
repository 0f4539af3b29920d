//! The real harness for Codex: the real Codex CLI (npm `@openai/codex`, installed by .ci/run
//! into tests/agents/) with cordon installed as its hook (`cordon install codex`, user scope under
//! `CODEX_HOME`), its model a custom provider pointing at the scripted Responses API on loopback
//! (tests/agents/scripted_model.py).
//!
//! Two Codex switches are needed, both for reasons outside cordon: `--dangerously-bypass-hook-trust`
//! because Codex runs a hook only after a person has reviewed it in its TUI (a test cannot), and
//! `--dangerously-bypass-approvals-and-sandbox` because Codex's own bubblewrap sandbox cannot start
//! from a temporary CODEX_HOME (it refuses to create its helper under /tmp); cordon's sandbox is the
//! one under test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

mod agent_support;
use agent_support::{
    assert_allowed_ran_hardened, assert_denied_never_ran, journal_entries, repo, scripted_model,
    CORDON,
};

const ALLOWED: &str = "echo hello-from-codex > allowed.txt";
const DENIED: &str = "touch denied-marker; cat ~/.ssh/id_rsa";

#[test]
fn codex_runs_allowed_commands_sandboxed_and_never_runs_denied_ones() {
    let codex = repo().join("tests/agents/node_modules/.bin/codex");
    cordon_testkit::require(
        codex.exists(),
        "Codex (tests/agents/node_modules)",
        "run scripts/test, or `npm ci` in tests/agents",
    );
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let user = dir.path().join("user");
    let codex_home = user.join(".codex");
    let cordon_home = dir.path().join("cordon-home");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(&codex_home).unwrap();
    let env = |cmd: &mut Command| {
        cmd.env("HOME", &user)
            .env("CODEX_HOME", &codex_home)
            .env("CORDON_HOME", &cordon_home)
            .env("CORDON_GATEWAY", "off")
            .current_dir(&project);
    };

    let mut install = Command::new(CORDON);
    install.args(["install", "codex"]);
    env(&mut install);
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(codex_home.join("hooks.json").exists());

    let log = dir.path().join("model.log");
    let model = scripted_model(&log, ALLOWED, DENIED);
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"scripted\"\nmodel_provider = \"scripted\"\n\n[model_providers.scripted]\nname = \"scripted\"\nbase_url = \"http://127.0.0.1:{}/v1\"\nwire_api = \"responses\"\nenv_key = \"SCRIPTED_API_KEY\"\n",
            model.port
        ),
    )
    .unwrap();
    let mut run = Command::new(&codex);
    run.args([
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-hook-trust",
        "--dangerously-bypass-approvals-and-sandbox",
        "Run the scripted commands.",
    ])
    .env("SCRIPTED_API_KEY", "not-a-key")
    .stdin(Stdio::null());
    env(&mut run);
    let out = run.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "codex failed: {stdout}\n{stderr}");

    // The allowed command ran through cordon, hardened; the denied one never ran, and Codex passed the reason to the model.
    let entries = journal_entries(&cordon_home);
    assert_allowed_ran_hardened(&entries, &project, "codex", ALLOWED, "hello-from-codex");
    assert_denied_never_ran(&entries, &project, "codex", DENIED);
    let sent = std::fs::read_to_string(&log).unwrap();
    assert!(
        sent.contains("Command blocked by PreToolUse hook: Denied: `cat "),
        "the model never saw the denial"
    );
    let mut verify = Command::new(CORDON);
    verify.arg("verify");
    env(&mut verify);
    assert_eq!(verify.output().unwrap().status.code(), Some(0));
}
