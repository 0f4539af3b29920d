//! `cordon mcp` against an independent client: the Python `mcp` package (2.x), installed by
//! .ci/run into tests/mcp/.venv. It initializes, lists the tools and calls each, a denied
//! command included; tests/mcp/client.py prints what it saw and this test checks it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn python_mcp_client_lists_and_calls_every_tool() {
    let python = repo().join("tests/mcp/.venv/bin/python");
    cordon_testkit::require(
        python.exists(),
        "the Python mcp client (tests/mcp/.venv)",
        "run scripts/test, which installs it there",
    );
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let home = dir.path().join("cordon-home");
    let out = Command::new(&python)
        .arg(repo().join("tests/mcp/client.py"))
        .arg(env!("CARGO_BIN_EXE_cordon"))
        .arg(&work)
        .env("CORDON_HOME", &home)
        .env("HOME", "/home/agent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed: {stderr}");
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();

    assert_eq!(seen["server"], "cordon");
    assert_eq!(
        seen["tools"],
        serde_json::json!(["check_command", "list_pending_approvals", "run_command"])
    );
    let schema = &seen["schemas"]["run_command"]["properties"];
    for field in ["command", "argv", "cwd"] {
        assert!(
            schema.get(field).is_some(),
            "run_command schema lacks {field}"
        );
    }

    let call = |key: &str| seen[key].clone();
    let allow = call("check_allow");
    assert_eq!(allow["is_error"], false, "{allow}");
    assert_eq!(allow["structured"]["outcome"], "allow");
    let deny = call("check_deny");
    assert_eq!(deny["structured"]["outcome"], "deny", "{deny}");
    assert!(deny["structured"]["reason"]
        .as_str()
        .unwrap()
        .contains("credentials"));
    assert_eq!(call("check_argv")["structured"]["outcome"], "deny");
    let bad = call("check_bad");
    assert_eq!(bad["is_error"], true, "{bad}");
    assert!(bad["structured"]["error"]
        .as_str()
        .unwrap()
        .contains("command"));

    // Allowed: it ran, in the sandbox, and its receipt is in the journal.
    let ran = call("run_allow");
    assert_eq!(ran["is_error"], false, "{ran}");
    let ran = &ran["structured"];
    assert_eq!(ran["outcome"], "allow");
    assert_eq!(ran["exit_code"], 0, "{ran}");
    assert_eq!(ran["stdout"], "hello from cordon\n");
    // Positive control for the marker check below: a command that ran leaves its file in `work`.
    assert!(work.join("allowed-marker").exists());
    let receipt_id = ran["receipt_id"].as_str().unwrap();
    let journal = std::fs::read_to_string(home.join("journal/entries.jsonl")).unwrap();
    let receipt: serde_json::Value = journal
        .lines()
        .find(|l| l.contains(&format!("\"execution_id\":\"{receipt_id}\"")))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("receipt {receipt_id} not in the journal"));
    // `cordon mcp` runs hardened by default: the kernel enforced the contract.
    assert_eq!(receipt["execution_mode"], "hardened", "{receipt}");

    let argv = call("run_argv");
    assert_eq!(argv["structured"]["stdout"], "via argv\n", "{argv}");
    assert_eq!(argv["structured"]["exit_code"], 0);

    // Denied: an error result with the reason, and nothing ran.
    let denied = call("run_deny");
    assert_eq!(denied["is_error"], true, "{denied}");
    assert_eq!(denied["structured"]["outcome"], "deny");
    assert!(denied["structured"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("Denied"));
    assert!(!work.join("denied-marker").exists());

    let asked = call("run_ask");
    assert_eq!(asked["is_error"], true, "{asked}");
    assert_eq!(asked["structured"]["outcome"], "ask");

    let approvals = call("approvals");
    assert_eq!(approvals["is_error"], false, "{approvals}");
    assert!(approvals["structured"]["pending"].is_array(), "{approvals}");
}
