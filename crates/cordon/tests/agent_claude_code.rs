//! The real harness: the real Claude Code CLI (npm `@anthropic-ai/claude-code`, installed by
//! .ci/run into tests/agents/) with cordon installed as its hook, talking to a scripted model on
//! loopback (tests/agents/scripted_model.py) instead of the network.
//!
//! The scripted model asks for a Bash call of an allowed command, then of a denied one. The
//! allowed one must have run through `cordon exec` (its receipt is in the journal, its effect in
//! the project); the denied one must never have run (its marker file does not exist) and Claude
//! must have been told why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use serde_json::Value;

mod agent_support;
use agent_support::{
    assert_allowed_ran_hardened, assert_denied_never_ran, journal_entries, repo, scripted_model,
    CORDON,
};

const ALLOWED: &str = "echo hello-from-claude > allowed.txt";
const DENIED: &str = "touch denied-marker; cat ~/.ssh/id_rsa";

#[test]
fn claude_code_runs_allowed_commands_sandboxed_and_never_runs_denied_ones() {
    let claude = repo().join("tests/agents/node_modules/.bin/claude");
    cordon_testkit::require(
        claude.exists(),
        "Claude Code (tests/agents/node_modules)",
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
            .current_dir(&project);
    };

    let mut install = Command::new(CORDON);
    install.args(["install", "claude-code", "--project"]);
    env(&mut install);
    let out = install.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let log = dir.path().join("model.log");
    let model = scripted_model(&log, ALLOWED, DENIED);
    let mut run = Command::new(&claude);
    run.args([
        "-p",
        "Run the scripted commands.",
        "--output-format",
        "json",
    ])
    .env(
        "ANTHROPIC_BASE_URL",
        format!("http://127.0.0.1:{}", model.port),
    )
    .env("ANTHROPIC_API_KEY", "sk-scripted-not-a-key")
    .env("DISABLE_AUTOUPDATER", "1")
    .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    .env("DISABLE_TELEMETRY", "1")
    .env("DISABLE_ERROR_REPORTING", "1")
    .env_remove("CLAUDE_PROJECT_DIR")
    .stdin(Stdio::null());
    env(&mut run);
    let out = run.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "claude failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(result["result"], "done", "{result}");

    // The allowed command ran through cordon, hardened; the denied one never ran, and Claude was told why.
    let entries = journal_entries(&cordon_home);
    assert_allowed_ran_hardened(
        &entries,
        &project,
        "claude-code",
        ALLOWED,
        "hello-from-claude",
    );
    assert_denied_never_ran(&entries, &project, "claude-code", DENIED);
    assert_eq!(
        result["permission_denials"][0]["tool_input"]["command"],
        DENIED
    );
    let sent = std::fs::read_to_string(&log).unwrap();
    assert!(
        sent.contains("Denied: `cat ") && sent.contains("it touches credentials"),
        "the model never saw the denial"
    );

    // PostToolUse left the outcome of the allowed call, and the whole journal verifies.
    assert!(entries
        .iter()
        .any(|e| e["event_version"] == "cordon.tool-outcome.v1"));
    let mut verify = Command::new(CORDON);
    verify.arg("verify");
    env(&mut verify);
    let out = verify.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
