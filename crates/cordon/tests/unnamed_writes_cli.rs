//! Red team, round 3, through the built binary under the default pack: writes the front end cannot
//! name, because their target is computed at run time (`for f in *.rs; do cp "$f" "$f.bak";
//! done`, `mkdir -p $OUT`) or lies in a file it cannot read (`sh del.sh`, `BASH_ENV=f bash -c
//! true`, a Makefile's recipe), are bounded by the envelope in hardened mode: they run with a
//! checkpoint of the envelope's writable workspace, and `cordon rollback` puts the workspace back.
//! Before, the first kind was blocked (126, "no write scope was declared") and the second ran
//! with a plain allow and no checkpoint. Local mode is unchanged: what cannot be resolved is
//! asked, and nothing runs.
//!
//! Every test runs in its own `CORDON_HOME` (initialized with the default pack, so checkpoints
//! are signed) and a workspace `w/`. Trees are compared byte for byte (tests/tree_support). The
//! hardened runs need the sandbox and its write broker (Linux 5.14 with Landlock and seccomp
//! user notification); without them the runs are blocked and the tests fail saying so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

mod tree_support;
use tree_support::{text, tree, Tree};

struct Env {
    _dir: tempfile::TempDir,
    home: PathBuf,
    w: PathBuf,
}

struct Exec {
    code: i32,
    receipt: Value,
    stderr: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        let w = root.join("w");
        fs::create_dir_all(w.join("ctl")).unwrap();
        fs::create_dir_all(w.join("data")).unwrap();
        fs::write(w.join("ctl/a.rs"), b"fn a() {}\n").unwrap();
        fs::write(w.join("ctl/b.rs"), b"fn b() {}\n").unwrap();
        fs::write(w.join("ctl/old.bak"), b"old\n").unwrap();
        fs::write(w.join("notes.txt"), b"the user's notes\n").unwrap();
        fs::write(w.join("data/x"), b"data\n").unwrap();
        // Written by an earlier, separate text: content the front end never reads.
        fs::write(w.join("del.sh"), b"rm -rf data\nrm -f notes.txt\n").unwrap();
        fs::write(w.join("benv.sh"), b"rm -rf data\n").unwrap();
        fs::write(w.join("Mk"), b"all:\n\trm -rf data\n").unwrap();
        fs::set_permissions(w.join("del.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        // A repository with one commit, for `git archive HEAD`.
        for args in [
            &["init", "-q", "."][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "init",
            ],
        ] {
            let out = Command::new("git").args(args).current_dir(&w).output();
            let out = out.expect("git is needed to make the test repository");
            assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
        }
        let env = Env { _dir: dir, home, w };
        let out = env.cordon(&["init"]);
        assert!(out.status.success(), "init: {}", text(&out.stderr));
        env
    }

    fn cordon(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(args)
            .current_dir(&self.w)
            .env("CORDON_HOME", &self.home)
            .env("CORDON_GATEWAY", "off")
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .output()
            .unwrap()
    }

    /// `cordon exec --mode MODE --shell TEXT` in `w/`, under the home's policy (the pack).
    fn exec(&self, mode: &str, shell: &str) -> Exec {
        let receipt = self.w.parent().unwrap().join("receipt.json");
        let _ = fs::remove_file(&receipt);
        let w = self.w.to_str().unwrap();
        let out = self.cordon(&[
            "exec",
            "--mode",
            mode,
            "--cwd",
            w,
            "--workspace",
            w,
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
}

/// Runs `shell` hardened in a fresh workspace: it must exit 0 with a checkpoint whose scope is
/// the workspace, and a rollback must bring back the tree it started from. Returns the tree
/// the command left, for the caller's positive control.
fn runs_checkpointed_and_rolls_back(shell: &str) -> (Tree, Tree) {
    let env = Env::new();
    let before = tree(&env.w);
    let run = env.exec("hardened", shell);
    assert_eq!(run.code, 0, "{shell:?}: {}", run.stderr);
    let checkpoint = &run.receipt["x-cordon"]["checkpoint"];
    assert_eq!(checkpoint["requested"], true, "{shell:?}: {checkpoint}");
    assert_eq!(
        checkpoint["taken"]["scopes"],
        serde_json::json!([env.w.to_str().unwrap()]),
        "{shell:?}: the checkpoint covers the envelope's writable workspace: {checkpoint}"
    );
    let after = tree(&env.w);
    let id = tree_support::checkpoint_id(&run.receipt);
    let out = env.cordon(&["rollback", &id]);
    assert!(
        out.status.success(),
        "{shell:?}: rollback {id}: {}",
        text(&out.stderr)
    );
    let back = tree(&env.w);
    let differ: Vec<String> = before
        .keys()
        .chain(back.keys())
        .filter(|p| before.get(*p) != back.get(*p))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert!(
        differ.is_empty(),
        "{shell:?}: after the rollback these paths differ: {differ:?}"
    );
    (before, after)
}

/// Each text the red team saw blocked now runs, checkpointed, and rolls back; with `cd DIR &&`
/// in front too.
#[test]
fn computed_write_targets_run_with_a_checkpoint_of_the_workspace() {
    for (shell, changes) in [
        (r#"for f in ctl/*.rs; do cp "$f" "$f.bak"; done"#, true),
        ("OUT=build; mkdir -p $OUT", true),
        (r#"touch "$(date +%s).log""#, true),
        (r#"find . -name "*.txt" | xargs -I{} cp {} {}.bak"#, true),
        ("mkdir -p $(dirname a/b)", true),
        ("d=ctl; rm -f $d/*.bak", true),
        ("git archive HEAD | tar xO", false),
        (
            r#"cd ctl && for f in *.rs; do cp "$f" "$f.bak"; done"#,
            true,
        ),
        ("cd ctl && d=.; rm -f $d/*.bak", true),
    ] {
        let (before, after) = runs_checkpointed_and_rolls_back(shell);
        // Positive control: the command did change the workspace.
        assert_eq!(before != after, changes, "{shell:?}");
    }
}

/// Content the front end cannot read deleted data with a plain allow and no checkpoint; it now
/// runs with one, and the rollback brings the data back.
#[test]
fn scripts_and_recipes_cordon_cannot_read_run_with_a_checkpoint() {
    for shell in [
        "sh del.sh",
        "bash del.sh",
        "./del.sh",
        "BASH_ENV=benv.sh bash -c true",
        "make -f Mk",
    ] {
        let (before, after) = runs_checkpointed_and_rolls_back(shell);
        // Positive control: the script deleted `data/`.
        assert!(before.contains_key(b"data/x".as_slice()), "{shell:?}");
        assert!(
            !after.contains_key(b"data/x".as_slice()),
            "{shell:?}: the script did not run"
        );
    }
}

/// Local mode is unchanged: a computed write target is asked (2 with no wait), and nothing ran.
#[test]
fn local_mode_still_asks_for_a_computed_write_target() {
    let env = Env::new();
    let before = tree(&env.w);
    let run = env.exec("local", "d=ctl; rm -f $d/*.bak");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("Needs approval"), "{}", run.stderr);
    assert_eq!(before, tree(&env.w), "nothing ran");
}
