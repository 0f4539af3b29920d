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
use agent_support::{assert_hardened, repo, scripted_model, CORDON};

const ALLOWED: &str = "echo hello-from-claude > allowed.txt";
const DENIED: &str = "touch denied-marker; cat ~/.ssh/id_rsa";

#[test]
fn claude_code_runs_allowed_commands_sandboxed_and_never_runs_denied_ones() {
    let claude = repo().join("tests/agents/node_modules/.bin/claude");
    if !claude.exists() {
        println!(
            "SKIP: Claude Code is not installed in tests/agents (.ci/run runs `npm ci` there)"
        );
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

    // The allowed command ran, and it ran through cordon: the journal holds the hook's allow,
    // exec's own decision and the receipt of the run, which names the text it ran.
    assert_eq!(
        std::fs::read_to_string(project.join("allowed.txt")).unwrap(),
        "hello-from-claude\n"
    );
    let entries: Vec<Value> = std::fs::read_to_string(cordon_home.join("journal/entries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hook_decision = |command: &str| {
        entries
            .iter()
            .find(|e| e["actor"] == "claude-code" && e["details"]["request"]["command"] == command)
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
        receipt.to_string().contains("hello-from-claude"),
        "{receipt}"
    );

    // The denied command never ran, and Claude was told why.
    assert!(!project.join("denied-marker").exists());
    assert_eq!(hook_decision(DENIED)["outcome"], "deny");
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
