//! Commands that print a lot end quietly when their reader goes away (`cordon verify | head -1`):
//! no panic, the exit code they would have had. Each command runs with a stdout pipe whose reading
//! end is already closed, so its first write fails with EPIPE; the positive control runs the same
//! command with the pipe open and shows that it does print there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};

fn cordon(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
    c.env("CORDON_HOME", home).env("CORDON_GATEWAY", "off");
    c
}

/// Runs `args` with stdout a pipe nobody reads; returns the exit code and stderr.
fn with_closed_stdout(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cordon(home)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `args` with stdout read to the end; returns the exit code and stdout.
fn with_open_stdout(home: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = cordon(home)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    (child.wait().unwrap().code(), text)
}

/// A home whose journal holds a few hook decisions and a checkpoint.
fn home_with_entries() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let status = cordon(home.path()).arg("init").output().unwrap().status;
    assert!(status.success());
    for text in ["ls", "cat ~/.ssh/id_rsa", "git status"] {
        let event = serde_json::json!({
            "session_id": "s", "cwd": home.path(), "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": text}, "tool_use_id": "t",
        });
        let mut child = cordon(home.path())
            .args(["hook", "claude-code"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut child.stdin.take().unwrap(),
            event.to_string().as_bytes(),
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
    }
    home
}

#[test]
fn verify_approvals_and_journal_end_quietly_on_a_closed_pipe() {
    let home = home_with_entries();
    let journal = home.path().join("journal");
    let key = std::fs::read_dir(home.path().join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pem"))
        .unwrap();
    let (journal, key) = (journal.to_str().unwrap(), key.to_str().unwrap());
    let checkpoint = [
        "journal",
        "checkpoint",
        "--journal",
        journal,
        "--signing-key",
        key,
    ];
    let cases: [(&[&str], i32); 6] = [
        (&["verify"], 0),
        (&["verify", "--json"], 0),
        (&["approvals", "list"], 0),
        (&["approvals", "list", "--json"], 0),
        (&checkpoint, 0),
        (&["journal", "proof", "1", "--journal", journal], 0),
    ];
    for (args, code) in cases {
        // Positive control: with a reader, the command prints.
        let (open_code, printed) = with_open_stdout(home.path(), args);
        assert_eq!(open_code, Some(code), "{args:?}");
        assert!(!printed.is_empty(), "{args:?} printed nothing");
        let (closed_code, stderr) = with_closed_stdout(home.path(), args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(closed_code, Some(code), "{args:?}: {stderr}");
    }
}
