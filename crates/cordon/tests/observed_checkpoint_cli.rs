//! Observed checkpoints through the built binary (issue 23): `cordon exec` in hardened mode under
//! `allow_with_checkpoint` records what the command changes as the write broker changes it, and
//! `cordon rollback` puts the workspace back exactly.
//!
//! Every test runs in its own `CORDON_HOME` (initialized, so checkpoints are signed) and a
//! workspace `w/` holding a project `proj/`. Trees are compared byte for byte: the set of paths,
//! each file's bytes and mode, each directory's mode, each symlink's target. Each test checks
//! first that the damage is visible (the positive control). These tests need the write broker
//! (Linux 5.14, seccomp user notification); without it they fail saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod tree_support;
use tree_support::{text, tree, Tree};

/// Every command the tests run is allowed with a checkpoint.
const POLICY: &str = "cordon_policy: 1
name: observed-checkpoint-test
default: deny
rules:
  - id: everything
    outcome: allow_with_checkpoint
    reason: it changes files
    match: {}
";

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    w: PathBuf,
    proj: PathBuf,
    policy: PathBuf,
}

/// What one `cordon exec` did.
struct Exec {
    code: i32,
    receipt: Value,
    stderr: String,
}

impl Exec {
    fn checkpoint(&self) -> &Value {
        &self.receipt["x-cordon"]["checkpoint"]
    }

    fn checkpoint_id(&self) -> String {
        tree_support::checkpoint_id(&self.receipt)
    }

    /// The write broker's report for the first command that ran in the sandbox.
    fn broker(&self) -> &Value {
        self.receipt["x-cordon"]["sandbox"]["commands"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| &c["enforcement"]["write_broker"])
            .find(|b| !b.is_null())
            .unwrap_or(&Value::Null)
    }
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        let w = root.join("w");
        let proj = w.join("proj");
        fs::create_dir_all(proj.join("src/deep")).unwrap();
        fs::create_dir_all(proj.join("empty")).unwrap();
        fs::create_dir_all(proj.join("vendor")).unwrap();
        // Hardened mode bind-mounts a `.git` over itself (and its hooks read-only): changes
        // through that mount are recorded like any other. The sandbox gives a `.git` without
        // `hooks` an empty one before the run, outside any checkpoint: this one has it already.
        fs::create_dir_all(proj.join(".git/refs/heads")).unwrap();
        fs::create_dir_all(proj.join(".git/hooks")).unwrap();
        fs::write(proj.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
        fs::write(proj.join("src/main.rs"), b"fn main() {}\n").unwrap();
        fs::write(proj.join("src/deep/blob"), [0u8, 159, 146, 150]).unwrap();
        fs::write(proj.join("a.txt"), b"alpha\n").unwrap();
        fs::write(proj.join("b.txt"), b"bravo\n").unwrap();
        fs::write(proj.join("notes.txt"), b"one\ntwo\n").unwrap();
        fs::set_permissions(proj.join("notes.txt"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(proj.join("run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(proj.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("src/main.rs", proj.join("link")).unwrap();
        // Files no command touches: an observed checkpoint does not copy them.
        for i in 0..200 {
            fs::write(proj.join(format!("vendor/v{i}.txt")), format!("{i}\n")).unwrap();
        }
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

    fn cordon(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(args)
            .env("CORDON_HOME", &self.home)
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .output()
            .unwrap()
    }

    /// `cordon exec --mode MODE --shell TEXT` in `w/`.
    fn exec(&self, mode: &str, shell: &str) -> Exec {
        let receipt = self.w.parent().unwrap().join("receipt.json");
        let _ = fs::remove_file(&receipt);
        let out = self.cordon(&[
            "exec",
            "--mode",
            mode,
            "--policy",
            self.policy.to_str().unwrap(),
            "--cwd",
            self.w.to_str().unwrap(),
            "--workspace",
            self.w.to_str().unwrap(),
            "--receipt",
            receipt.to_str().unwrap(),
            "--shell",
            shell,
        ]);
        let receipt = fs::read(&receipt)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        Exec {
            code: out.status.code().unwrap_or(-1),
            receipt,
            stderr: text(&out.stderr),
        }
    }

    /// Writes an executable script into `w/` (an unknown command: its checkpoint's scope is the
    /// whole workspace).
    fn script(&self, name: &str, body: &str) {
        let path = self.w.join(name);
        fs::write(&path, format!("#!/bin/sh\nset -e\n{body}")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The paths whose state differs between two trees, as text (empty when they are the same).
fn differences(expected: &Tree, found: &Tree) -> Vec<String> {
    let mut paths: Vec<&Vec<u8>> = expected.keys().chain(found.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| expected.get(*p) != found.get(*p))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

fn assert_same_tree(expected: &Tree, root: &Path, what: &str) {
    let differ = differences(expected, &tree(root));
    assert!(differ.is_empty(), "{what}: these paths differ: {differ:?}");
}

/// Fails with one sentence when this kernel ran the command without the write broker.
fn assert_observed(run: &Exec) {
    let broker = run.broker();
    assert_eq!(
        broker["enforced"], true,
        "the write broker did not run here (it needs Linux 5.14 with seccomp user notification): {broker}\n{}",
        run.stderr
    );
    assert_eq!(broker["observer"], true, "{broker}");
    assert_eq!(
        run.checkpoint()["taken"]["coverage"],
        "observed",
        "{}",
        run.checkpoint()
    );
}

fn rollback(env: &Env, id: &str) {
    let out = env.cordon(&["rollback", id]);
    assert!(out.status.success(), "rollback {id}: {}", text(&out.stderr));
}

#[test]
fn mv_over_a_file_rm_rf_of_a_tree_and_sed_i_roll_back_exactly_from_an_observed_checkpoint() {
    let shell = "mv proj/a.txt proj/b.txt && rm -rf proj/src && sed -i 's/one/ONE/' proj/notes.txt";
    // Control: local mode takes a full snapshot before the run, and rolls back as exactly.
    for mode in ["hardened", "local"] {
        let env = Env::new();
        let before = tree(&env.w);
        let run = env.exec(mode, shell);
        assert_eq!(run.code, 0, "{mode}: {}", run.stderr);
        if mode == "hardened" {
            assert_observed(&run);
        } else {
            assert_ne!(run.checkpoint()["taken"]["coverage"], "observed");
        }
        // Positive control: the command did the damage.
        assert!(!env.proj.join("a.txt").exists() && !env.proj.join("src").exists());
        assert_eq!(fs::read(env.proj.join("b.txt")).unwrap(), b"alpha\n");
        assert_eq!(fs::read(env.proj.join("notes.txt")).unwrap(), b"ONE\ntwo\n");
        rollback(&env, &run.checkpoint_id());
        assert_same_tree(&before, &env.w, mode);
    }
}

#[test]
fn an_unknown_program_is_observed_in_the_whole_workspace_and_rolled_back_exactly() {
    let env = Env::new();
    env.script(
        "damage.sh",
        "cd proj
mv a.txt b.txt
printf 'changed\\n' > notes.txt
rm -r src/deep
mv src source
mkdir -p fresh/dir && echo f > fresh/dir/f
ln -sfn vendor link
rmdir empty
truncate -s 2 run.sh
cp -r source copy
printf 'ref: refs/heads/evil\\n' > .git/HEAD
echo evil > .git/refs/heads/evil
",
    );
    let before = tree(&env.w);
    let run = env.exec("hardened", "./damage.sh");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_observed(&run);
    assert_eq!(
        run.checkpoint()["taken"]["scopes"][0],
        env.w.to_str().unwrap(),
        "an unknown program's checkpoint covers the whole workspace"
    );
    // What it costs is what the command changed, not the 200 files nobody touched.
    let entries = run.checkpoint()["taken"]["entries"].as_u64().unwrap();
    assert!(entries < 60, "{entries} entries: {}", run.checkpoint());
    assert!(
        !differences(&before, &tree(&env.w)).is_empty(),
        "positive control: the script changed the tree"
    );
    rollback(&env, &run.checkpoint_id());
    assert_same_tree(&before, &env.w, "after rollback");
}

#[test]
fn a_change_the_checkpoint_cannot_record_is_refused() {
    let env = Env::new();
    // A file reached through /proc/self/fd names no entry, so the recorder (keyed by name)
    // cannot record it: the broker refuses the write.
    env.script(
        "viafd.sh",
        "exec 3<proj/notes.txt\nprintf 'evil\\n' > /proc/self/fd/3\n",
    );
    let before = tree(&env.w);
    let run = env.exec("hardened", "./viafd.sh");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot create /proc/self/fd/3: Operation not permitted"),
        "{}",
        run.stderr
    );
    let notes = run.broker()["notes"].to_string();
    assert!(
        notes.contains(
            "the checkpoint keys by name, and a file reached through /proc/PID/fd names none"
        ),
        "{notes}"
    );
    assert_same_tree(&before, &env.w, "nothing was written");

    // Control: the same write by name is recorded, made, and rolled back.
    env.script("byname.sh", "printf 'evil\\n' > proj/notes.txt\n");
    let before = tree(&env.w);
    let run = env.exec("hardened", "./byname.sh");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_observed(&run);
    assert_eq!(fs::read(env.proj.join("notes.txt")).unwrap(), b"evil\n");
    rollback(&env, &run.checkpoint_id());
    assert_same_tree(&before, &env.w, "after rollback");
}

#[test]
fn a_text_that_changes_modes_gets_a_full_snapshot_and_its_modes_back() {
    // The write broker does not mediate chmod, so an observed checkpoint could not put the mode
    // back: a text that runs chmod (or chown, touch, …) is snapshotted whole before it runs.
    let env = Env::new();
    let before = tree(&env.w);
    let run = env.exec(
        "hardened",
        "chmod 600 proj/run.sh && mv proj/a.txt proj/b.txt",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.broker()["enforced"], true, "{}", run.broker());
    assert_eq!(run.broker()["observer"], false, "{}", run.broker());
    assert_eq!(
        run.checkpoint()["taken"]["coverage"],
        "whole_scope",
        "{}",
        run.checkpoint()
    );
    let mode = fs::metadata(env.proj.join("run.sh")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600, "positive control: the mode changed");
    rollback(&env, &run.checkpoint_id());
    assert_same_tree(&before, &env.w, "after rollback");
}
