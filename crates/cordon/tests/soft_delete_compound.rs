//! Soft delete of `rm` inside compound shell text, through the built binary (issue 8).
//!
//! Under the checkpoint outcome a text such as `make && rm -rf out; echo done` runs as one
//! `bash -c` in the sandbox; its `rm` reaches cordon's soft-delete service through the shim that
//! cordon puts first in `PATH` (and, for `/bin/rm` written in the text, a bash function), at the
//! moment the shell reaches it. Each test runs in local and hardened mode (hardened is skipped,
//! visibly, where the kernel cannot run it). Every attack has a positive control: the same
//! action moves or deletes when the scope (or the outcome) grants it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod tree_support;
use tree_support::tree;

const MODES: [&str; 2] = ["local", "hardened"];

fn policy(outcome: &str) -> String {
    format!(
        "cordon_policy: 1
name: soft-delete-test
default: deny
rules:
  - id: files
    outcome: {outcome}
    reason: it changes files
    match: {{command: [rm, mkdir, echo, 'false', 'true', bash, make, touch, env, cat, ls, test, ln, wc, python3]}}
"
    )
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    /// The workspace the commands run in (their write scope).
    w: PathBuf,
    /// A sibling of the workspace, outside its scope.
    outside: PathBuf,
    /// The workspace's parent: a scope that holds both (cordon's home lies outside it).
    space: PathBuf,
    mode: &'static str,
}

/// What one `cordon exec` did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    receipt: Value,
}

impl Run {
    /// The soft-delete calls the service answered for the (only) command.
    fn calls(&self) -> Vec<Value> {
        self.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["calls"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn trash_ids(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter_map(|c| c["trash"].as_str().map(String::from))
            .collect()
    }
}

impl Env {
    fn new(mode: &'static str, outcome: &str) -> Env {
        Env::in_dir(tempfile::tempdir().unwrap(), mode, outcome)
    }

    /// Outside `/tmp`, as a user's workspace is: its hardened commands see a `/tmp` of their own.
    fn outside_tmp(mode: &'static str, outcome: &str) -> Env {
        let dir =
            tempfile::tempdir_in(cordon_testkit::outside_tmp(env!("CARGO_TARGET_TMPDIR"))).unwrap();
        Env::in_dir(dir, mode, outcome)
    }

    fn in_dir(dir: tempfile::TempDir, mode: &'static str, outcome: &str) -> Env {
        let root = dir.path().canonicalize().unwrap();
        let home = root.join("home");
        let w = root.join("space/w");
        let outside = root.join("space/outside");
        fs::create_dir_all(&w).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("x"), b"precious\n").unwrap();
        fs::write(root.join("policy.yaml"), policy(outcome)).unwrap();
        let env = Env {
            space: root.join("space"),
            _dir: dir,
            root,
            home,
            w,
            outside,
            mode,
        };
        let out = env.cordon(&["init"]);
        assert!(out.status.success(), "init: {}", text(&out.stderr));
        env
    }

    fn cordon(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(args)
            .env("CORDON_HOME", &self.home)
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .output()
            .unwrap()
    }

    /// `cordon exec --shell TEXT` in `cwd` (the workspace unless given).
    fn shell_in(&self, cwd: &Path, script: &str) -> Run {
        let receipt = self.root.join("receipt.json");
        let _ = fs::remove_file(&receipt);
        let policy = self.root.join("policy.yaml");
        let out = self.cordon(&[
            "exec",
            "--mode",
            self.mode,
            "--policy",
            policy.to_str().unwrap(),
            "--cwd",
            cwd.to_str().unwrap(),
            "--workspace",
            cwd.to_str().unwrap(),
            "--receipt",
            receipt.to_str().unwrap(),
            "--shell",
            script,
        ]);
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
            receipt: fs::read(&receipt)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null),
        }
    }

    fn shell(&self, text: &str) -> Run {
        self.shell_in(&self.w, text)
    }

    fn trash_list(&self) -> String {
        let out = self.cordon(&["trash", "list"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Whether this mode cannot run here (hardened on a kernel without Landlock); says so.
    fn unavailable(&self) -> bool {
        if self.mode != "hardened" {
            return false;
        }
        // A command with a write scope: under the checkpoint outcome a command that writes
        // nothing is refused (there would be nothing to restore), which is no probe of the kernel.
        let probe = self.shell("touch .probe");
        let _ = fs::remove_file(self.w.join(".probe"));
        if probe.code == 0 {
            return false;
        }
        cordon_testkit::allow_skip(
            "landlock",
            &format!("hardened mode cannot run here: {}", probe.stderr),
        )
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn has_make() -> bool {
    cordon_testkit::require(
        Command::new("make").arg("--version").output().is_ok(),
        "make",
        "run scripts/test, or apt-get install make",
    );
    true
}

#[test]
fn rm_inside_a_compound_text_moves_to_the_trash_and_restores_byte_for_byte() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        let d = env.w.join("d");
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("sub/blob"), [0u8, 159, 146, 150, 10]).unwrap();
        fs::set_permissions(d.join("sub/blob"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(d.join(".hidden"), b"dot\n").unwrap();
        symlink("sub/blob", d.join("link")).unwrap();

        let run = env.shell("echo x > d/f && rm -rf d && echo done");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(run.stdout, "done\n", "[{mode}]");
        assert!(!d.exists(), "[{mode}] d is still in the tree");
        let ids = run.trash_ids();
        assert_eq!(ids.len(), 1, "[{mode}] {}", run.receipt);
        assert!(env.trash_list().contains(&ids[0]), "[{mode}]");
        // The receipt names the call: argv, exit status, what moved.
        let call = &run.calls()[0];
        assert_eq!(
            call["argv"],
            serde_json::json!(["rm", "-rf", "d"]),
            "[{mode}]"
        );
        assert_eq!(call["exit_code"], 0);
        assert_eq!(call["moved"][0], d.to_str().unwrap());

        let out = env.cordon(&["trash", "restore", &ids[0]]);
        assert!(out.status.success(), "[{mode}] {}", text(&out.stderr));
        let restored = tree(&d);
        assert_eq!(restored[b"f".as_slice()].2, b"x\n", "[{mode}]");
        assert_eq!(
            restored[b"sub/blob".as_slice()],
            ('f', 0o640, vec![0u8, 159, 146, 150, 10])
        );
        assert_eq!(restored[b".hidden".as_slice()].2, b"dot\n");
        assert_eq!(restored[b"link".as_slice()], ('l', 0, b"sub/blob".to_vec()));
    }
}

/// Scratch files a hardened command made in its workspace's own `/tmp` (where its TMPDIR lies
/// too) are removed by the shim itself: nothing there is the user's to roll back, and the
/// service, outside the sandbox, would refuse them as outside the scope (`rm -rf /tmp/build`
/// failed so). The shim learns that `/tmp` is the workspace's own from the mount table, never from
/// the environment: `TMPDIR=. rm -rf keep` still goes to the trash. A text that also names a
/// workspace file goes to the service whole; a link from `/tmp` into the workspace, named with a
/// trailing `/`, is not scratch (refused, and the workspace keeps its file).
#[test]
fn scratch_files_in_the_workspaces_tmp_are_removed_and_workspace_files_still_go_to_the_trash() {
    let env = Env::outside_tmp("hardened", "allow_with_checkpoint");
    if env.unavailable() {
        return;
    }
    let build = format!("/tmp/build-{}", std::process::id());
    let run = env.shell(&format!(
        "mkdir -p {build}/sub && echo x > {build}/sub/f && touch \"$TMPDIR/t\" \
         && rm -rf {build} \"$TMPDIR/t\" && ls {build} \"$TMPDIR/t\" 2>&1 | wc -l"
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "2", "{}", run.stderr);
    assert!(run.calls().is_empty(), "{}", run.receipt);
    // A text that is one `rm` alone runs in the sandbox too: cordon, outside it, would find the
    // host's `/tmp` there (it blocked `rm -r /tmp/x` with 126: working day fourteen).
    let alone = format!("{build}-alone");
    let made = env.shell(&format!("mkdir -p {alone}/d && touch {alone}/d/f"));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let run = env.shell(&format!("rm -r {alone}"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = env.shell(&format!("test -e {alone} && echo there || echo gone"));
    assert_eq!(run.stdout.trim(), "gone", "{}", run.stderr);

    fs::write(env.w.join("keep"), b"mine\n").unwrap();
    let run = env.shell("TMPDIR=. rm -f keep; echo rc=$?");
    assert_eq!(run.calls().len(), 1, "{}", run.receipt);
    assert!(!env.w.join("keep").exists(), "{}", run.stderr);
    assert_eq!(run.trash_ids().len(), 1, "{}", run.receipt);

    fs::write(env.w.join("keep"), b"mine\n").unwrap();
    let run = env.shell(&format!("touch {build}-t && rm {build}-t keep; echo rc=$?"));
    assert_eq!(run.calls().len(), 1, "{}", run.receipt);

    fs::create_dir_all(env.w.join("src")).unwrap();
    fs::write(env.w.join("src/main.rs"), b"fn main() {}\n").unwrap();
    let run = env.shell(&format!(
        "ln -s {} {build}-ws && rm -rf {build}-ws/; echo rc=$?",
        env.w.join("src").display()
    ));
    assert_eq!(run.calls().len(), 1, "{}", run.receipt);
    assert_eq!(
        fs::read(env.w.join("src/main.rs")).ok().as_deref(),
        Some(b"fn main() {}\n".as_slice()),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

/// The service serves only the command it was made for: a request without that command's
/// token (as another run's process would send, having found the socket in `/proc/PID/net/unix`;
/// red-team round twelve moved a file of another workspace so) is refused, moves nothing and is
/// not recorded as the command's call. Control: the shim, which has the token, moves the file.
#[test]
fn a_request_without_the_commands_token_moves_nothing() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::write(env.w.join("victim.txt"), b"keep\n").unwrap();
        let forged = "import json, os, socket; \
            s = socket.socket(socket.AF_UNIX); s.connect(os.environ['CORDON_TRASH_SOCKET']); \
            s.sendall(json.dumps({'argv': [list(b'rm'), list(b'victim.txt')], \
              'cwd': list(os.getcwd().encode()), 'token': 'forged'}).encode() + b'\\n'); \
            print(s.recv(4096).decode().strip())";
        let run = env.shell(&format!("python3 -c \"{forged}\""));
        assert!(
            run.stdout.contains("did not come from the command"),
            "[{mode}] {}{}",
            run.stdout,
            run.stderr
        );
        assert!(
            env.w.join("victim.txt").exists(),
            "[{mode}] the forged call moved it"
        );
        assert!(run.calls().is_empty(), "[{mode}] {}", run.receipt);

        let run = env.shell("true && rm victim.txt");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert!(!env.w.join("victim.txt").exists(), "[{mode}]");
        assert_eq!(run.trash_ids().len(), 1, "[{mode}] {}", run.receipt);
    }
}

#[test]
fn sequence_semantics_hold_an_rm_that_is_not_reached_moves_nothing() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::create_dir_all(env.w.join("d")).unwrap();
        fs::write(env.w.join("d/f"), b"keep\n").unwrap();
        let before = tree(&env.w);
        let run = env.shell("false && rm -rf d; echo \"st=$?\"");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(run.stdout, "st=1\n", "[{mode}]");
        assert_eq!(tree(&env.w), before, "[{mode}] something moved");
        assert!(run.calls().is_empty(), "[{mode}]");
        assert!(
            !env.trash_list().contains("tr-"),
            "[{mode}] something went to the trash"
        );

        // rm's own statuses pass through `$?`: a missing operand fails, unless -f.
        let run = env.shell("rm nothere; echo \"a=$?\"; rm -f nothere; echo \"b=$?\"");
        assert_eq!(run.stdout, "a=1\nb=0\n", "[{mode}] {}", run.stderr);
        assert!(
            run.stderr.contains("No such file or directory"),
            "[{mode}] {}",
            run.stderr
        );
        // Positive control: reached, it moves.
        let run = env.shell("true && rm -rf d; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=0\n", "[{mode}] {}", run.stderr);
        assert!(!env.w.join("d").exists(), "[{mode}]");
    }
}

#[test]
fn every_way_of_naming_rm_reaches_the_trash() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        for name in ["a", "b", "c", "e", "g", "h"] {
            fs::write(env.w.join(name), name).unwrap();
        }
        let run = env.shell(
            "/bin/rm a && \\rm b && command rm c && env rm e && bash -c 'rm g' && (/usr/bin/rm h) && echo ok",
        );
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(run.stdout, "ok\n", "[{mode}]");
        let moved: Vec<String> = run
            .calls()
            .iter()
            .map(|c| c["moved"][0].as_str().unwrap_or("").to_string())
            .collect();
        let expected: Vec<String> = ["a", "b", "c", "e", "g", "h"]
            .iter()
            .map(|n| env.w.join(n).display().to_string())
            .collect();
        assert_eq!(moved, expected, "[{mode}] {}", run.receipt);
        for id in run.trash_ids() {
            let out = env.cordon(&["trash", "restore", &id]);
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        assert_eq!(fs::read(env.w.join("h")).unwrap(), b"h");
    }
}

#[test]
fn find_exec_rm_run_by_make_reaches_the_trash() {
    if !has_make() {
        return;
    }
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::create_dir_all(env.w.join("sub")).unwrap();
        fs::write(env.w.join("a.o"), b"a").unwrap();
        fs::write(env.w.join("sub/b.o"), b"b").unwrap();
        fs::write(env.w.join("keep.c"), b"c").unwrap();
        fs::write(
            env.w.join("Makefile"),
            "clean:\n\tfind . -name '*.o' -exec rm {} +\n",
        )
        .unwrap();
        let run = env.shell("make -s clean && echo cleaned");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(run.stdout, "cleaned\n");
        assert!(!env.w.join("a.o").exists() && !env.w.join("sub/b.o").exists());
        assert!(env.w.join("keep.c").exists());
        assert_eq!(run.trash_ids().len(), 1, "[{mode}] {}", run.receipt);
    }
}

#[test]
fn an_absolute_rm_that_the_shell_does_not_run_itself_is_refused_before_anything_runs() {
    // Local mode has no mount namespace to put the shim over /bin/rm, so such a text is refused.
    let env = Env::new("local", "allow_with_checkpoint");
    fs::write(env.w.join("a"), b"a").unwrap();
    let run = env.shell("touch marker; bash -c '/bin/rm a'");
    assert_eq!(run.code, 126, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("would delete instead of moving to the trash"),
        "{}",
        run.stderr
    );
    assert!(env.w.join("a").exists() && !env.w.join("marker").exists());
    // Control: the same text with a plain `rm` runs and moves.
    let run = env.shell("touch marker; bash -c 'rm a'");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!env.w.join("a").exists() && env.w.join("marker").exists());
}

#[test]
fn in_hardened_mode_an_absolute_rm_run_by_any_program_reaches_the_trash() {
    let env = Env::new("hardened", "allow_with_checkpoint");
    if env.unavailable() {
        return;
    }
    for (i, text) in [
        "bash -c '/bin/rm a0'",
        "command /usr/bin/rm a1",
        "sh -c '/bin/rm -f a2'",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("a{i}");
        fs::write(env.w.join(&name), name.as_bytes()).unwrap();
        let run = env.shell(&format!("{text} && echo done"));
        assert_eq!(run.code, 0, "{text}: {}", run.stderr);
        assert!(!env.w.join(&name).exists(), "{text}");
        assert_eq!(run.trash_ids().len(), 1, "{text}: {}", run.receipt);
        let soft = &run.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"];
        assert_eq!(soft["escaped"].as_array().map(Vec::len), Some(0), "{soft}");
        assert!(
            soft["substituted"].as_array().is_some_and(|a| a
                .iter()
                .any(|p| p.as_str().is_some_and(|p| p.ends_with("/rm")))),
            "{soft}"
        );
    }
}

#[test]
fn an_option_the_trash_cannot_honour_is_refused_and_removes_nothing() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::write(env.w.join("a"), b"a").unwrap();
        let run = env.shell("rm -i a; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=1\n", "[{mode}] {}", run.stderr);
        assert!(
            run.stderr.contains("option '-i' is not supported"),
            "{}",
            run.stderr
        );
        assert!(env.w.join("a").exists());
    }
}

#[test]
fn a_target_outside_the_write_scope_is_not_moved() {
    if !has_make() {
        return;
    }
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        // The text is judged as `make clean` in w/ (scope: w/); the Makefile reaches outside.
        fs::write(env.w.join("Makefile"), "clean:\n\trm -rf ../outside\n").unwrap();
        let before = tree(&env.outside);
        let run = env.shell("make -s clean; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=2\n", "[{mode}] {}", run.stderr);
        assert!(
            run.stderr.contains("outside the command's write scope"),
            "[{mode}] {}",
            run.stderr
        );
        assert_eq!(tree(&env.outside), before, "[{mode}] outside changed");
        // Positive control: run from the parent, whose scope holds `outside`, it moves.
        fs::write(env.space.join("Makefile"), "clean:\n\trm -rf outside\n").unwrap();
        let run = env.shell_in(&env.space, "make -s clean; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=0\n", "[{mode}] {}", run.stderr);
        assert!(
            !env.outside.exists(),
            "[{mode}] the control did not move it"
        );
    }
}

#[test]
fn a_symlink_pointing_outside_is_not_followed() {
    if !has_make() {
        return;
    }
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        symlink(&env.outside, env.w.join("d")).unwrap();
        fs::write(env.w.join("Makefile"), "clean:\n\trm -f d/x\n").unwrap();
        let before = tree(&env.outside);
        let run = env.shell("make -s clean; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=2\n", "[{mode}] {}", run.stderr);
        assert_eq!(tree(&env.outside), before, "[{mode}] outside changed");
        // Removing the link itself is inside the scope and moves only the link.
        let run = env.shell("rm d && echo ok");
        assert_eq!(run.stdout, "ok\n", "[{mode}] {}", run.stderr);
        assert!(fs::symlink_metadata(env.w.join("d")).is_err());
        assert_eq!(tree(&env.outside), before);
        // Positive control: with `outside` in the scope, the same path is moved.
        symlink(&env.outside, env.w.join("d")).unwrap();
        fs::write(env.space.join("Makefile"), "clean:\n\trm -f w/d/x\n").unwrap();
        let run = env.shell_in(&env.space, "make -s clean; echo \"st=$?\"");
        assert_eq!(run.stdout, "st=0\n", "[{mode}] {}", run.stderr);
        assert!(
            !env.outside.join("x").exists(),
            "[{mode}] the control did not move it"
        );
    }
}

#[test]
fn a_directory_swapped_for_a_symlink_during_rm_never_moves_anything_outside() {
    if !has_make() {
        return;
    }
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::create_dir_all(env.w.join("d")).unwrap();
        // One process swaps d between a directory and a link to ../outside as fast as it can;
        // the other keeps asking to remove d/x. `unlink` and `mv` are not `rm`: they are real.
        fs::write(
            env.w.join("Makefile"),
            "race:\n\
             \t( i=0; while [ $$i -lt 400 ]; do mv -T d d.real; ln -s ../outside d; unlink d; mv -T d.real d; i=$$((i+1)); done ) & \
             i=0; while [ $$i -lt 40 ]; do touch d/x 2>/dev/null; rm -f d/x 2>/dev/null; i=$$((i+1)); done; wait; true\n",
        )
        .unwrap();
        let before = tree(&env.outside);
        let run = env.shell("make -s race");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(tree(&env.outside), before, "[{mode}] outside changed");
        assert!(
            !run.calls().is_empty(),
            "[{mode}] rm never reached the service"
        );
        for call in run.calls() {
            for moved in call["moved"].as_array().unwrap() {
                let moved = moved.as_str().unwrap();
                assert!(
                    moved.starts_with(env.w.to_str().unwrap()),
                    "[{mode}] moved {moved}"
                );
            }
        }
    }
}

#[test]
fn without_a_checkpoint_rm_really_deletes() {
    if !has_make() {
        return;
    }
    for mode in MODES {
        let env = Env::new(mode, "allow");
        if env.unavailable() {
            continue;
        }
        fs::create_dir_all(env.w.join("d")).unwrap();
        fs::write(env.w.join("d/f"), b"x").unwrap();
        // Through make, so that the scope is the workspace and hardened mode may remove `d`.
        fs::write(env.w.join("Makefile"), "clean:\n\trm -rf d\n").unwrap();
        let run = env.shell("make -s clean && echo done");
        assert_eq!(run.code, 0, "[{mode}] {}", run.stderr);
        assert_eq!(run.stdout, "done\n");
        assert!(!env.w.join("d").exists());
        assert!(
            run.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"].is_null(),
            "[{mode}] {}",
            run.receipt
        );
        assert!(
            !env.trash_list().contains("tr-"),
            "[{mode}] something went to the trash"
        );
    }
}

#[test]
fn a_path_the_hardened_sandbox_keeps_read_only_is_not_moved_for_it() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::create_dir_all(env.w.join(".git/hooks")).unwrap();
        fs::write(env.w.join(".git/hooks/pre-commit"), b"#!/bin/sh\n").unwrap();
        fs::write(env.w.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
        let run = env.shell("touch x && rm -rf .git; echo \"st=$?\"");
        if mode == "hardened" {
            // The sandbox pins .git and mounts its hooks read-only (a contract that names `.git`
            // does not override that; one naming `.git/hooks` itself would): the command could
            // not remove them, so the service does not remove them for the command.
            assert_eq!(run.stdout, "st=1\n", "[{mode}] {}", run.stderr);
            assert!(run.stderr.contains("read-only"), "[{mode}] {}", run.stderr);
            assert!(env.w.join(".git/hooks/pre-commit").exists());
            // The plain form, which runs in the sandbox too (its shim asks the service).
            let out = env.cordon(&[
                "exec",
                "--mode",
                mode,
                "--policy",
                env.root.join("policy.yaml").to_str().unwrap(),
                "--cwd",
                env.w.to_str().unwrap(),
                "--",
                "rm",
                "-rf",
                ".git",
            ]);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains("read-only"),
                "{}",
                text(&out.stderr)
            );
            assert!(env.w.join(".git/hooks/pre-commit").exists());
        } else {
            // Control: unconfined, nothing is protected, and the same text moves it.
            assert_eq!(run.stdout, "st=0\n", "[{mode}] {}", run.stderr);
            assert!(!env.w.join(".git/hooks").exists());
        }
    }
}

/// Red-team round twenty-two: the soft-delete service, outside the sandbox, moved what the
/// command itself could not remove: a host's socket the sandbox covers in the workspace, and a
/// hooks directory the user's git configuration names (read-only in the envelope). The
/// compound form and the plain one leave both; a file beside them still moves (control).
#[test]
fn what_the_sandbox_mounts_over_or_keeps_read_only_is_not_moved_for_it() {
    let env = Env::outside_tmp("hardened", "allow_with_checkpoint");
    if env.unavailable() {
        return;
    }
    let user = env.root.join("user");
    fs::create_dir_all(&user).unwrap();
    fs::create_dir_all(env.w.join("run")).unwrap();
    fs::create_dir_all(env.w.join("tools/hooks")).unwrap();
    fs::write(env.w.join("tools/hooks/pre-commit"), "#!/bin/sh\n").unwrap();
    fs::write(env.w.join("run/notes.txt"), "x\n").unwrap();
    fs::write(
        user.join(".gitconfig"),
        format!(
            "[core]\n\thooksPath = {}\n",
            env.w.join("tools/hooks").display()
        ),
    )
    .unwrap();
    let _server = std::os::unix::net::UnixListener::bind(env.w.join("run/app.sock")).unwrap();
    let policy = env.root.join("policy.yaml");
    // Under the test's policy, or (`None`) under the default pack, whose credentials are closed.
    let exec_under = |policy: Option<&Path>, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cordon"));
        command.args(["exec", "--mode", "hardened"]);
        if let Some(policy) = policy {
            command.arg("--policy").arg(policy);
        }
        command
            .arg("--cwd")
            .arg(&env.w)
            .arg("--workspace")
            .arg(&env.w)
            .args(args)
            .env("HOME", &user)
            .env("CORDON_HOME", &env.home)
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .output()
            .unwrap()
    };
    let exec = |args: &[&str]| exec_under(Some(&policy), args);
    for args in [
        &["--shell", "true; rm -f run/app.sock"][..],
        &["--shell", "true; rm -r tools/hooks"],
        &["--", "rm", "-f", "run/app.sock"],
        &["--", "rm", "-r", "tools/hooks"],
    ] {
        let out = exec(args);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(
            said.contains("which the sandbox keeps in place"),
            "{args:?}: {said}"
        );
        assert!(
            fs::symlink_metadata(env.w.join("run/app.sock")).is_ok(),
            "{args:?}"
        );
        assert!(env.w.join("tools/hooks/pre-commit").exists(), "{args:?}");
    }
    let out = exec(&["--", "rm", "run/notes.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!env.w.join("run/notes.txt").exists());
    // Round twenty-three: a refused target was recorded by the checkpoint before the checks
    // refused it, so the store held a copy of the credential.
    // (Under the default pack, whose credentials are closed; the script hides the `rm` from the
    // front end.)
    fs::write(env.w.join(".env"), "TOKEN=SECRET-IN-ENV\n").unwrap();
    fs::write(env.w.join("x.sh"), "rm -f .env\n").unwrap();
    let out = exec_under(None, &["--shell", "bash x.sh"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("a credential the sandbox keeps closed"),
        "{}",
        text(&out.stderr)
    );
    assert!(env.w.join(".env").exists());
    for (path, (_, _, bytes)) in tree(&env.home) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET-IN-ENV"),
            "{}",
            String::from_utf8_lossy(&path)
        );
    }
}

#[test]
fn an_rm_that_escapes_the_shim_is_flagged_in_the_receipt() {
    if !has_make() {
        return;
    }
    let env = Env::new("hardened", "allow_with_checkpoint");
    if env.unavailable() {
        return;
    }
    // make runs its recipe with /bin/sh, not the text's bash: its `/bin/rm` reaches the shim
    // only because the sandbox mounts the shim over the system's rm.
    fs::write(env.w.join("gone"), b"g").unwrap();
    fs::write(env.w.join("Makefile"), "clean:\n\t/bin/rm -f gone\n").unwrap();
    let run = env.shell("make -s clean && echo done");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!env.w.join("gone").exists());
    assert_eq!(run.trash_ids().len(), 1, "{}", run.receipt);
    let escaped = &run.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["escaped"];
    assert_eq!(escaped.as_array().map(Vec::len), Some(0), "{}", run.receipt);

    // A real rm the sandbox did not replace (a copy made before the run, under another
    // directory) really deletes; the process record flags it.
    let tools = env.w.join("tools");
    fs::create_dir(&tools).unwrap();
    fs::copy("/usr/bin/rm", tools.join("rm")).unwrap();
    fs::write(env.w.join("gone"), b"g").unwrap();
    fs::write(env.w.join("Makefile"), "clean:\n\ttools/rm -f gone\n").unwrap();
    let run = env.shell("make -s clean && echo done");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!env.w.join("gone").exists());
    let escaped = &run.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["escaped"];
    assert!(
        escaped[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("tools/rm")),
        "{}",
        run.receipt
    );
    assert!(
        run.stderr.contains("ran outside the trash"),
        "{}",
        run.stderr
    );
    // The checkpoint still holds it: rollback brings it back.
    let id = run.receipt["x-cordon"]["checkpoint"]["id"]
        .as_str()
        .unwrap();
    let out = env.cordon(&["rollback", id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(env.w.join("gone")).unwrap(), b"g");
}

#[test]
fn a_command_that_removes_the_socket_file_does_not_hang_cordon() {
    if !has_make() {
        return;
    }
    // Local mode: the command may unlink the socket's file; cordon must still stop its service.
    let env = Env::new("local", "allow_with_checkpoint");
    fs::write(
        env.w.join("Makefile"),
        "clean:\n\tunlink \"$$CORDON_TRASH_SOCKET\"\n\trm -f x; echo \"st=$$?\"\n",
    )
    .unwrap();
    fs::write(env.w.join("x"), b"x").unwrap();
    let policy = env.root.join("policy.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args([
            "exec",
            "--mode",
            "local",
            "--policy",
            policy.to_str().unwrap(),
        ])
        .args([
            "--cwd",
            env.w.to_str().unwrap(),
            "--workspace",
            env.w.to_str().unwrap(),
        ])
        .args(["--shell", "make -s clean"])
        .env("CORDON_HOME", &env.home)
        .env_remove("CORDON_JOURNAL")
        .env_remove("CORDON_SESSION")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("cordon did not finish after its service's socket was removed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(status.success(), "{status}");
    // Without its service the shim removes nothing (it never falls back to deleting).
    assert_eq!(stdout, "st=1\n");
    assert!(env.w.join("x").exists());
}

#[test]
fn an_empty_operand_names_nothing_not_the_working_directory() {
    for mode in MODES {
        let env = Env::new(mode, "allow_with_checkpoint");
        if env.unavailable() {
            continue;
        }
        fs::write(env.w.join("a"), b"a").unwrap();
        let before = tree(&env.w);
        let run = env.shell("rm -r ''; echo \"a=$?\"; rm -rf ''; echo \"b=$?\"");
        assert_eq!(run.stdout, "a=1\nb=0\n", "[{mode}] {}", run.stderr);
        assert!(
            run.stderr.contains("cannot remove '': No such file"),
            "{}",
            run.stderr
        );
        assert_eq!(tree(&env.w), before, "[{mode}] something moved");
        // Control: a real operand moves.
        let run = env.shell("rm -r a; echo \"c=$?\"");
        assert_eq!(run.stdout, "c=0\n", "[{mode}] {}", run.stderr);
        assert!(!env.w.join("a").exists());
    }
}

#[test]
fn the_manifest_names_the_command_the_session_and_the_hashes() {
    let env = Env::new("local", "allow_with_checkpoint");
    let out = env.cordon(&["session", "start", "--cwd", env.w.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let session = text(&out.stdout).trim().to_string();
    fs::write(env.w.join("f"), b"bytes\n").unwrap();
    fs::set_permissions(env.w.join("f"), fs::Permissions::from_mode(0o600)).unwrap();
    let policy = env.root.join("policy.yaml");
    let receipt = env.root.join("receipt.json");
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["exec", "--policy", policy.to_str().unwrap()])
        .args([
            "--cwd",
            env.w.to_str().unwrap(),
            "--workspace",
            env.w.to_str().unwrap(),
        ])
        .args(["--receipt", receipt.to_str().unwrap()])
        .args(["--shell", "true && rm f"])
        .env("CORDON_HOME", &env.home)
        .env("CORDON_SESSION", &session)
        .env_remove("CORDON_JOURNAL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let receipt: Value = serde_json::from_slice(&fs::read(&receipt).unwrap()).unwrap();
    let id = receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["calls"][0]["trash"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest: Value = serde_json::from_slice(
        &fs::read(env.home.join("state/trash").join(&id).join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["session"], session.as_str());
    assert_eq!(manifest["command"], serde_json::json!(["rm", "f"]));
    assert_eq!(manifest["state"], "complete");
    let entry = &manifest["items"][0]["entries"][0];
    assert_eq!(entry["mode"], 0o600);
    assert_eq!(entry["size"], 6);
    assert_eq!(entry["sha256"], cordon_core::hash::sha256_hex(b"bytes\n"));
    // The session lists the run's checkpoint.
    let out = env.cordon(&["session", "show", &session]);
    let checkpoint = receipt["x-cordon"]["checkpoint"]["id"].as_str().unwrap();
    assert!(
        text(&out.stdout).contains(checkpoint),
        "{}",
        text(&out.stdout)
    );
}

/// Red-team round eight: a hardened command's soft deletes are carried out by cordon, outside the
/// sandbox, so they may reach no further than the command itself could. A script under the
/// default pack (checkpointed as code cordon cannot see) asks the service to remove a cache
/// (the command sees its own layer over it, not the user's cache) and a directory holding a
/// credential the sandbox keeps closed. Control: a plain workspace file moves.
#[test]
fn a_hardened_soft_delete_reaches_neither_the_real_cache_nor_a_closed_credential() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let home = root.join("home");
    let ws = home.join("ws");
    let cache = home.join(".cache/go-build/obj");
    fs::create_dir_all(&cache).unwrap();
    fs::write(cache.join("entry"), b"cached\n").unwrap();
    fs::create_dir_all(ws.join("config")).unwrap();
    fs::write(ws.join("config/secrets.yaml"), b"token: MARKER\n").unwrap();
    fs::write(ws.join("notes.txt"), b"notes\n").unwrap();
    fs::write(ws.join("del.sh"), "rm -rf \"$1\"; echo \"st=$?\"\n").unwrap();
    let cordon = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(args)
            .current_dir(&ws)
            .env("HOME", &home)
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env("CORDON_GATEWAY", "off")
            .env_remove("CORDON_HOME")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .output()
            .unwrap()
    };
    let delete = |target: &Path| {
        let out = cordon(&[
            "exec",
            "--mode",
            "hardened",
            "--shell",
            &format!("bash del.sh '{}'", target.display()),
        ]);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, stderr) = delete(&ws.join("notes.txt"));
    if code != Some(0) && stderr.contains("hardened mode") {
        cordon_testkit::allow_skip(
            "landlock",
            &format!("hardened mode cannot run here: {stderr}"),
        );
        return;
    }
    // Control: checkpointed, and the workspace file moves to the trash.
    assert_eq!(stdout, "st=0\n", "{stderr}");
    assert!(stderr.contains("checkpoint"), "{stderr}");
    assert!(!ws.join("notes.txt").exists(), "{stderr}");

    let (_, stdout, stderr) = delete(&cache);
    assert_eq!(stdout, "st=1\n", "{stderr}");
    assert!(
        stderr.contains("lies outside the command's write scope"),
        "{stderr}"
    );
    assert_eq!(fs::read(cache.join("entry")).unwrap(), b"cached\n");

    let (_, stdout, stderr) = delete(&ws.join("config"));
    assert_eq!(stdout, "st=1\n", "{stderr}");
    assert!(
        stderr.contains("secrets.yaml, a credential the sandbox keeps closed"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(ws.join("config/secrets.yaml")).unwrap(),
        b"token: MARKER\n"
    );
}
