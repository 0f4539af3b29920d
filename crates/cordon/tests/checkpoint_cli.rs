//! Checkpoints, rollback, soft delete, sessions and process records through the built binary.
//!
//! Every test runs in its own `CORDON_HOME` (initialized with `cordon init`, so runs are signed and
//! journaled) and a workspace `w/` holding a project `proj/` with dotfiles, `.git`, modes and a
//! symlink. Trees are compared byte for byte: the set of paths, each file's bytes and mode, each
//! directory's mode, each symlink's target. Each attack checks first that the damage is visible
//! (the positive control), so a comparison that could not fail would be caught.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod tree_support;
use tree_support::{checkpoint_id, text, tree};

const POLICY: &str = "cordon_policy: 1
name: checkpoint-test
default: deny
rules:
  - id: risky
    outcome: allow_with_checkpoint
    reason: it changes files
    match: {command: [rm, mv, chmod, ln, touch, mkdir, cp]}
";

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    w: PathBuf,
    proj: PathBuf,
    policy: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        let w = root.join("w");
        let proj = w.join("proj");
        fs::create_dir_all(proj.join("src/deep")).unwrap();
        fs::create_dir_all(proj.join(".git/refs/heads")).unwrap();
        fs::create_dir_all(proj.join("empty")).unwrap();
        fs::write(proj.join("src/main.rs"), b"fn main() {}\n").unwrap();
        fs::write(proj.join("src/deep/blob"), [0u8, 159, 146, 150]).unwrap();
        fs::write(proj.join(".env"), b"TOKEN=1\n").unwrap();
        fs::write(proj.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
        fs::write(proj.join(".git/refs/heads/main"), b"abc123\n").unwrap();
        fs::write(proj.join("a.txt"), b"alpha\n").unwrap();
        fs::write(proj.join("run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(proj.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("src/main.rs", proj.join("link")).unwrap();
        let policy = root.join("policy.yaml");
        fs::write(&policy, POLICY).unwrap();
        let env = Env {
            _dir: dir,
            home,
            w,
            proj,
            policy,
        };
        let out = env.cordon(&["init"]);
        assert!(out.status.success(), "init: {}", text(&out.stderr));
        env
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
        c.args(args)
            .env("CORDON_HOME", &self.home)
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .env_remove("CORDON_TEST_ROLLBACK_PAUSE_AFTER");
        c
    }

    fn cordon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `cordon exec` under the test policy in `w/`, in local mode (these tests are about the
    /// checkpoint: chmod -R of a project also meets hardened mode's read-only `.git/hooks`);
    /// returns the exit code, the receipt, stderr.
    fn exec(&self, extra_env: &[(&str, &str)], request: &[&str]) -> (i32, Value, String) {
        let receipt = self.w.parent().unwrap().join("receipt.json");
        let _ = fs::remove_file(&receipt);
        let mut args = vec![
            "exec",
            "--mode",
            "local",
            "--policy",
            self.policy.to_str().unwrap(),
            "--cwd",
            self.w.to_str().unwrap(),
            "--workspace",
            self.w.to_str().unwrap(),
            "--receipt",
            receipt.to_str().unwrap(),
        ];
        args.extend_from_slice(request);
        let mut c = self.command(&args);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let value = fs::read(&receipt)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), value, text(&out.stderr))
    }
}

#[test]
fn rollback_undoes_a_shell_text_that_deletes_edits_renames_chmods_and_swaps_links() {
    let env = Env::new();
    let before = tree(&env.proj);
    // The link is re-pointed inside the workspace: the front end counts a link's target among
    // the writes, and a target outside the workspace would put it in the checkpoint's scope
    // (rollback_trust_cli covers that announcement and its --yes).
    let shell = "rm -rf proj/src && mv proj/a.txt proj/b.txt && chmod 600 proj/run.sh \
                && mkdir proj/new && touch proj/new/file && ln -sfn .env proj/link \
                && cp proj/.env proj/.git/HEAD";
    let (code, receipt, stderr) = env.exec(&[], &["--shell", shell]);
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    let after = tree(&env.proj);
    assert_ne!(
        after, before,
        "positive control: the command changed the tree"
    );
    assert!(after.contains_key(b"new/file".as_slice()));
    let out = env.cordon(&["rollback", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tree(&env.proj), before);
}

#[test]
fn rm_becomes_a_soft_delete_that_trash_restore_undoes() {
    let env = Env::new();
    let before = tree(&env.proj);
    let (code, receipt, stderr) = env.exec(&[], &["--", "rm", "-rf", "proj/src", "proj/.env"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!env.proj.join("src").exists() && !env.proj.join(".env").exists());
    let command = &receipt["x-cordon"]["sandbox"]["commands"][0];
    let trash_id = command["soft_delete"]["trash"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let items = command["soft_delete"]["trash"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // The manifest records hashes and modes of what was moved.
    let main_rs = items[0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "main.rs")
        .unwrap();
    assert_eq!(main_rs["mode"], 0o644);
    assert_eq!(
        main_rs["sha256"],
        cordon_core::hash::sha256_hex(b"fn main() {}\n")
    );
    // The trash lives in cordon's home, outside the workspace.
    assert!(env
        .home
        .join("state/trash")
        .join(&trash_id)
        .join("manifest.json")
        .is_file());
    let list = env.cordon(&["trash", "list"]);
    assert!(text(&list.stdout).contains(&trash_id));

    let out = env.cordon(&["trash", "restore", &trash_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(tree(&env.proj), before);
    assert!(!text(&env.cordon(&["trash", "list"]).stdout).contains(&trash_id));
}

#[test]
fn trash_restore_never_overwrites_a_path_that_was_recreated() {
    let env = Env::new();
    let (code, receipt, stderr) = env.exec(&[], &["--", "rm", "proj/a.txt"]);
    assert_eq!(code, 0, "{stderr}");
    let trash_id = receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["trash"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    fs::write(env.proj.join("a.txt"), b"new content\n").unwrap();
    let out = env.cordon(&["trash", "restore", &trash_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("beside"), "{said}");
    assert_eq!(fs::read(env.proj.join("a.txt")).unwrap(), b"new content\n");
    let beside = env.proj.join(format!("a.txt.restored-{trash_id}"));
    assert_eq!(fs::read(beside).unwrap(), b"alpha\n");
}

#[test]
fn rm_of_a_directory_without_r_fails_like_rm_and_moves_nothing() {
    let env = Env::new();
    let before = tree(&env.proj);
    let (code, _, stderr) = env.exec(&[], &["--", "rm", "proj/src"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("Is a directory"), "{stderr}");
    assert_eq!(tree(&env.proj), before);
}

/// Runs `cordon rollback ID` paused after `step` steps, SIGKILLs it, and returns whether it paused.
fn rollback_killed_at(env: &Env, id: &str, step: u64) -> bool {
    let mut child = env
        .command(&["rollback", id])
        .env("CORDON_TEST_ROLLBACK_PAUSE_AFTER", step.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut paused = false;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("rollback paused") {
            paused = true;
            break;
        }
    }
    if paused {
        child.kill().unwrap(); // SIGKILL
    }
    let _ = child.wait();
    paused
}

#[test]
fn a_rollback_killed_at_any_step_leaves_before_or_after_and_a_rerun_finishes() {
    let env = Env::new();
    // A command whose write scope is the whole project: the checkpoint covers `proj`.
    let (code, receipt, stderr) = env.exec(&[], &["--", "chmod", "-R", "go-w", "proj"]);
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    assert_eq!(
        receipt["x-cordon"]["checkpoint"]["taken"]["scopes"],
        serde_json::json!([env.proj.to_str().unwrap()])
    );
    let original = tree(&env.proj);
    let entries = receipt["x-cordon"]["checkpoint"]["taken"]["entries"]
        .as_u64()
        .unwrap();
    // Staging is 1 + entries + 1 steps, then swap, journal, cleanup: try every boundary.
    let mut steps: Vec<u64> = vec![
        1,
        2,
        entries / 2,
        entries + 1,
        entries + 2,
        entries + 3,
        entries + 4,
    ];
    steps.dedup();
    let mut paused_after_swap = false;
    for step in steps {
        // Damage the tree again (as the command might have).
        fs::remove_dir_all(env.proj.join("src")).unwrap_or(());
        fs::write(env.proj.join("a.txt"), format!("damaged at step {step}\n")).unwrap();
        fs::write(env.proj.join("created-later"), b"x").unwrap();
        let damaged = tree(&env.proj);
        assert_ne!(damaged, original, "positive control");

        let paused = rollback_killed_at(&env, &id, step);
        let now = tree(&env.proj);
        assert!(
            now == damaged || now == original,
            "step {step}: the tree is neither as before nor as after the rollback"
        );
        if paused && now == original {
            paused_after_swap = true;
        }
        let out = env.cordon(&["rollback", &id]);
        assert!(out.status.success(), "step {step}: {}", text(&out.stderr));
        assert_eq!(
            tree(&env.proj),
            original,
            "step {step}: the rerun did not finish"
        );
        let leftovers = fs::read_dir(&env.w)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".cordon-rollback")
            })
            .count();
        assert_eq!(leftovers, 0, "step {step}: staging left behind");
    }
    assert!(
        paused_after_swap,
        "no kill landed between the swap and the journal update"
    );
}

#[test]
fn a_checkpoint_that_cannot_be_taken_runs_nothing() {
    let env = Env::new();
    // The store's directory is a file: the snapshot fails.
    fs::create_dir_all(env.home.join("state")).unwrap();
    fs::write(env.home.join("state/checkpoints"), b"not a directory").unwrap();
    let (code, receipt, stderr) = env.exec(&[], &["--", "touch", "proj/new-file"]);
    assert_eq!(code, 126, "{stderr}");
    assert!(stderr.contains("checkpoint"), "{stderr}");
    assert!(
        !env.proj.join("new-file").exists(),
        "the command ran without its checkpoint"
    );
    assert_eq!(receipt["status"], "blocked");
    // Control: with a usable store the same command runs.
    fs::remove_file(env.home.join("state/checkpoints")).unwrap();
    let (code, _, stderr) = env.exec(&[], &["--", "touch", "proj/new-file"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(env.proj.join("new-file").exists());
}

#[test]
fn rollback_refuses_a_scope_that_became_a_symlink() {
    let env = Env::new();
    let (code, receipt, stderr) = env.exec(&[], &["--", "chmod", "-R", "go-w", "proj"]);
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    let outside = env.w.parent().unwrap().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("keep"), b"keep").unwrap();
    fs::remove_dir_all(&env.proj).unwrap();
    symlink(&outside, &env.proj).unwrap();
    let out = env.cordon(&["rollback", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rollback refused"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(tree(&outside).len(), 2, "the symlink's target was touched");
    // Control: without the link the rollback works.
    fs::remove_file(&env.proj).unwrap();
    assert!(env.cordon(&["rollback", &id]).status.success());
    assert!(env.proj.join("src/main.rs").is_file());
}

#[test]
fn sessions_carry_their_checkpoints() {
    let env = Env::new();
    let out = env.cordon(&["session", "start", "--cwd", env.w.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let session = text(&out.stdout).trim().to_string();
    let (code, receipt, stderr) =
        env.exec(&[("CORDON_SESSION", &session)], &["--", "touch", "proj/x"]);
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    assert_eq!(
        receipt["x-cordon"]["checkpoint"]["taken"]["session"],
        session.as_str()
    );
    let shown = env.cordon(&["session", "show", &session, "--json"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["session"]["cwd"], env.w.to_str().unwrap());
    assert_eq!(shown["checkpoints"][0]["id"], id.as_str());
    assert!(env.cordon(&["session", "end", &session]).status.success());
    let shown = env.cordon(&["session", "show", &session, "--json"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert!(shown["session"]["ended_at"].is_string());

    // A session that does not exist is refused before anything runs (control: the one above ran).
    let (code, _, stderr) = env.exec(&[("CORDON_SESSION", "s-nope")], &["--", "touch", "proj/y"]);
    assert_eq!(code, 126, "{stderr}");
    assert!(!env.proj.join("y").exists());
}

#[test]
fn the_receipt_lists_every_process_with_parent_links() {
    // Local mode records when cordon holds CAP_SYS_ADMIN (root); hardened mode always does.
    // SAFETY-free check: root is uid 0.
    if !fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    {
        cordon_testkit::kernel_skip!("root", "local-mode process recording needs root");
    }
    let env = Env::new();
    fs::write(
        &env.policy,
        format!("{POLICY}  - id: shells\n    outcome: allow\n    reason: test\n    match: {{command: [sh, echo, 'true']}}\n"),
    )
    .unwrap();
    // `true` is a builtin: it keeps each `sh` from exec'ing its last command in place.
    let script = "/bin/sh -c '/bin/sh -c \"/bin/echo leaf; true\"; true'; true";
    let (code, receipt, stderr) = env.exec(&[], &["--", "/bin/sh", "-c", script]);
    assert_eq!(code, 0, "{stderr}");
    let tree = &receipt["x-cordon"]["sandbox"]["commands"][0]["processes"];
    assert_eq!(tree["mechanism"], "seccomp-user-notif", "{tree}");
    let p = tree["processes"].as_array().unwrap();
    assert_eq!(p.len(), 4, "{tree}");
    assert_eq!(p[3]["argv"], serde_json::json!(["/bin/echo", "leaf"]));
    for level in 1..4 {
        assert_eq!(
            p[level]["ppid"],
            p[level - 1]["pid"],
            "level {level}: {tree}"
        );
    }
}
