//! Escape catalogue item 6 (and the rename half of item 7): metadata inside a writable root that
//! other programs later execute or obey (`.git/hooks`, `.git/config`, agent and editor settings)
//! is read-only in hardened mode, while the rest of the workspace, `.git/objects` and the index
//! stay writable. Every attack asserts the exact errno; every one has a control that succeeds,
//! either elsewhere in the workspace, with the path explicitly granted, or in local mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::Path;

use common::*;
use cordon_sandbox::{run, Confinement, Plan, PlannedCommand, Protection, PROTECTED_NAMES};

const EROFS: i32 = libc::EROFS;
const EBUSY: i32 = libc::EBUSY;
const EPERM: i32 = libc::EPERM;
const EXDEV: i32 = libc::EXDEV;

fn skip() -> bool {
    skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "protected metadata")
}

/// A workspace with a git directory holding an existing hook, a config, objects and an index.
fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let git = ws.path().join(".git");
    std::fs::create_dir_all(git.join("hooks")).unwrap();
    std::fs::create_dir_all(git.join("objects")).unwrap();
    std::fs::write(git.join("hooks/pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::write(git.join("config"), "[core]\n").unwrap();
    std::fs::write(git.join("index"), "").unwrap();
    ws
}

fn p(base: &Path, rel: &str) -> String {
    path_str(&base.join(rel))
}

#[test]
fn cat6_git_hooks_and_config_are_read_only_inside_a_writable_root() {
    if skip() {
        return;
    }
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);

    // Positive controls: the rest of the workspace and git's own data stay writable.
    for target in [
        "src.txt",
        ".git/objects/ab",
        ".git/index",
        ".git/COMMIT_EDITMSG",
    ] {
        let o = probe_in(&conf, &["write", &p(w, target)]);
        assert_eq!(o.line, "ok", "{target}: {}", o.describe());
    }

    // A new hook, an existing hook, and the config: EROFS.
    let o = probe_in(&conf, &["write", &p(w, ".git/hooks/post-checkout")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["write", &p(w, ".git/hooks/pre-commit")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["append", &p(w, ".git/config")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["truncate", &p(w, ".git/config")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["unlink", &p(w, ".git/hooks/pre-commit")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());

    // Renaming a protected name: EROFS from the write broker, which refuses the name itself.
    // Renaming the pinned `.git` (a mount point): EBUSY. This covers `mv .git .git.aside`
    // (item 7): the pinned `.git` cannot be swapped for a directory with hooks of the command's
    // choosing.
    for (from, to, errno) in [
        (".git/hooks", ".git/hooks.aside", EROFS),
        (".git", ".git.aside", EBUSY),
        (".git/config", ".git/config.aside", EROFS),
        (".git/hooks", "hooks.aside", EROFS),
    ] {
        let o = probe_in(&conf, &["rename", &p(w, from), &p(w, to)]);
        assert_eq!(o.errno(), Some(errno), "{from}: {}", o.describe());
    }
    // Out of the pinned `.git` mount, a rename crosses mounts: EXDEV.
    assert_eq!(
        probe_in(&conf, &["write", &p(w, ".git/description")]).line,
        "ok"
    );
    let o = probe_in(
        &conf,
        &["rename", &p(w, ".git/description"), &p(w, "description")],
    );
    assert_eq!(o.errno(), Some(EXDEV), "{}", o.describe());
    let (code, out, _) = sh_in(&conf, w, "mv .git/hooks hooks.aside");
    assert_ne!(code, 0, "{out}");
    assert!(w.join(".git/hooks/pre-commit").exists());
    // A new config renamed over the protected one (how `git config` writes): EROFS.
    assert_eq!(
        probe_in(&conf, &["write", &p(w, ".git/config.lock")]).line,
        "ok"
    );
    let o = probe_in(
        &conf,
        &["rename", &p(w, ".git/config.lock"), &p(w, ".git/config")],
    );
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["unlink", &p(w, ".git/config")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());

    // `rm -rf` fails and leaves the hook in place.
    let (code, out, _) = sh_in(&conf, w, "rm -rf .git/hooks");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");

    // The command cannot take the protection away: umount2 is denied by seccomp.
    let o = probe_in(&conf, &["umount2", &p(w, ".git/hooks")]);
    assert_eq!(o.errno(), Some(EPERM), "{}", o.describe());

    // Nothing changed on the host, and the mounts did not leak out of the child's namespace.
    assert_eq!(
        std::fs::read_to_string(w.join(".git/hooks/pre-commit")).unwrap(),
        "#!/bin/sh\nexit 0\n"
    );
    assert_eq!(
        std::fs::read_to_string(w.join(".git/config")).unwrap(),
        "[core]\n"
    );
    assert!(!w.join(".git/hooks/post-checkout").exists());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(&p(w, ".git")), "{mountinfo}");

    // The receipt says what was enforced, and how.
    let report = &o.report.enforcement;
    let pm = &report.protected_metadata;
    assert!(pm.enforced, "{pm:?}");
    let root = canon(w);
    let how = |rel: &str| {
        pm.paths
            .iter()
            .find(|x| x.path == root.join(rel))
            .map(|x| x.how)
    };
    assert_eq!(how(".git"), Some(Protection::Pinned));
    assert_eq!(how(".git/hooks"), Some(Protection::ReadOnly));
    assert_eq!(how(".git/config"), Some(Protection::ReadOnly));
    assert!(report.namespaces.iter().any(|n| n == "mnt"), "{report:?}");
}

#[test]
fn cat6_controls_an_explicit_grant_and_local_mode_leave_the_paths_writable() {
    if skip() {
        return;
    }
    let ws = workspace();
    let w = ws.path();
    // Positive control: the same write the protection refuses succeeds when the hooks directory
    // is granted explicitly, so the EROFS above comes from the protection, not from elsewhere.
    let granted = hardened().write(w).write(w.join(".git/hooks"));
    let o = probe_in(&granted, &["write", &p(w, ".git/hooks/post-checkout")]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    let pm = &o.report.enforcement.protected_metadata;
    assert_eq!(pm.granted, vec![canon(w).join(".git/hooks")]);
    assert!(pm
        .paths
        .iter()
        .any(|x| x.path == canon(w).join(".git/config")));
    // Still protected next to the grant.
    let o = probe_in(&granted, &["append", &p(w, ".git/config")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());

    // Local mode changes nothing.
    let local = Confinement::local();
    let o = probe_in(&local, &["write", &p(w, ".git/hooks/pre-push")]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    let o = probe_in(&local, &["append", &p(w, ".git/config")]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    let pm = &o.report.enforcement.protected_metadata;
    assert!(!pm.enforced && pm.paths.is_empty(), "{pm:?}");
    assert!(!o.report.enforcement.namespaces.iter().any(|n| n == "mnt"));
}

#[test]
fn cat6_agent_settings_at_the_root_and_in_nested_repositories_are_read_only() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    std::fs::create_dir_all(w.join(".claude/commands")).unwrap();
    std::fs::write(w.join(".claude/commands/review.md"), "review").unwrap();
    std::fs::create_dir_all(w.join(".vscode")).unwrap();
    std::fs::write(w.join(".envrc"), "").unwrap();
    std::fs::create_dir_all(w.join("vendor/lib/.git/hooks")).unwrap();
    std::fs::create_dir_all(w.join("vendor/lib/.codex")).unwrap();
    let conf = hardened().write(w);

    assert_eq!(
        probe_in(&conf, &["write", &p(w, "vendor/lib/main.rs")]).line,
        "ok"
    );
    for target in [
        ".claude/commands/review.md",
        ".claude/commands/new.md",
        ".claude/settings.json",
        ".vscode/tasks.json",
        ".envrc",
        "vendor/lib/.git/hooks/pre-commit",
        "vendor/lib/.codex/config.toml",
    ] {
        let o = probe_in(&conf, &["write", &p(w, target)]);
        assert_eq!(o.errno(), Some(EROFS), "{target}: {}", o.describe());
    }
    for (dir, errno) in [
        (".claude", EROFS),
        (".vscode", EROFS),
        ("vendor/lib/.git", EBUSY),
    ] {
        let o = probe_in(&conf, &["rename", &p(w, dir), &p(w, "aside")]);
        assert_eq!(o.errno(), Some(errno), "{dir}: {}", o.describe());
    }
    let o = probe_in(&conf, &["mkdir", &p(w, ".claude/agents")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());

    // A protected name that does not exist when the run starts cannot be created either (the
    // write broker; tests/write_broker.rs attacks it in every form), and the report says so.
    let o = probe_in(&conf, &["mkdir", &p(w, ".codex")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let pm = &o.report.enforcement.protected_metadata;
    assert!(
        pm.notes
            .iter()
            .any(|n| n.contains("created during the run are refused by the write broker")),
        "{pm:?}"
    );
    assert!(PROTECTED_NAMES.contains(&".codex"));
}

/// The settings editors, REPLs, debuggers and Mercurial read from a project and obey with the
/// user's authority (red-team rounds eight and ten wrote each): read-only where they exist, and
/// the single names refused when absent. Control: a plain file beside them is written.
#[test]
fn editor_repl_and_mercurial_settings_are_read_only() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let existing = [
        ".nvim.lua",
        ".exrc",
        ".dir-locals.el",
        ".pdbrc",
        ".Rprofile",
        ".irbrc",
        ".hg/hgrc",
    ];
    std::fs::create_dir_all(w.join(".hg")).unwrap();
    for name in existing {
        std::fs::write(w.join(name), "").unwrap();
    }
    let conf = hardened().write(w);
    assert_eq!(probe_in(&conf, &["write", &p(w, "notes.txt")]).line, "ok");
    for name in existing {
        let o = probe_in(&conf, &["append", &p(w, name)]);
        assert_eq!(o.errno(), Some(EROFS), "{name}: {}", o.describe());
    }
    for absent in [".pryrc", ".pdbrc.py", ".nvimrc", ".lazy.lua"] {
        let o = probe_in(&conf, &["write", &p(w, absent)]);
        assert_eq!(o.errno(), Some(EROFS), "{absent}: {}", o.describe());
    }
}

#[test]
fn cat6_git_keeps_working_inside_a_protected_repository() {
    if skip() {
        return;
    }
    cordon_testkit::require(
        std::process::Command::new("git")
            .arg("--version")
            .output()
            .is_ok(),
        "git",
        "apt-get install git",
    );
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let conf = hardened().write(w);
    let git = "git -c user.name=cordon -c user.email=cordon@example.invalid";
    // Positive control: a repository created inside the sandbox (nothing to protect at start).
    let (code, out, report) = sh_in(
        &conf,
        w,
        &format!("git init -q && echo a > f && git add f && {git} commit -qm one"),
    );
    assert_eq!(code, 0, "{out}");
    // Nothing protected but the host's sockets, which are covered in every hardened run.
    assert!(
        report
            .enforcement
            .protected_metadata
            .paths
            .iter()
            .all(|p| p.how == Protection::Unreachable),
        "{:?}",
        report.enforcement.protected_metadata.paths
    );

    // Second run: the repository now exists and is protected, and commits still work.
    let (code, out, report) = sh_in(
        &conf,
        w,
        &format!("echo b > f && git add f && {git} commit -qm two && git log --format=%s"),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().take(2).collect::<Vec<_>>(), ["two", "one"]);
    assert!(report.enforcement.protected_metadata.enforced);

    // What it cannot do: install a hook or change the config.
    let (code, out, _) = sh_in(
        &conf,
        w,
        "echo 'touch pwned' > .git/hooks/pre-commit || exit 3; exit 0",
    );
    assert_eq!(code, 3, "{out}");
    let (code, out, _) = sh_in(&conf, w, "git config core.hooksPath /tmp/evil");
    assert_ne!(code, 0, "{out}");
    assert!(!std::fs::read_to_string(w.join(".git/config"))
        .unwrap()
        .contains("hooksPath"));
    assert!(!w.join(".git/hooks/pre-commit").exists());
}

#[test]
fn cat6_a_git_directory_without_hooks_gets_an_empty_protected_one() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    std::fs::create_dir_all(w.join(".git/objects")).unwrap();
    std::fs::write(w.join(".git/config"), "[core]\n").unwrap();
    let conf = hardened().write(w);
    let o = probe_in(&conf, &["write", &p(w, ".git/hooks/pre-commit")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["mkdir", &p(w, ".git/hooks/sub")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    assert!(w.join(".git/hooks").is_dir());
    assert_eq!(std::fs::read_dir(w.join(".git/hooks")).unwrap().count(), 0);
    // Positive control: a sibling that is not protected can be created.
    let o = probe_in(&conf, &["mkdir", &p(w, ".git/logs")]);
    assert_eq!(o.line, "ok", "{}", o.describe());
}

#[test]
fn cat6_a_cwd_inside_a_protected_path_does_not_bypass_the_mount() {
    if skip() {
        return;
    }
    let ws = workspace();
    let w = ws.path();
    let hooks = w.join(".git/hooks");
    // The process starts in `.git/hooks`, entered before the mount was made; relative writes
    // must still hit the read-only mount.
    let plan = |args: &[&str]| Plan {
        commands: vec![PlannedCommand::new(
            "p",
            [PROBE].iter().chain(args).copied(),
            &hooks,
        )],
    };
    let r = run(
        &plan(&["write", "pre-push"]),
        &hardened().write(w),
        &quiet(),
    )
    .unwrap();
    let line = String::from_utf8_lossy(&r.commands[0].stdout.captured).to_string();
    assert_eq!(errno_of(line.trim()), Some(EROFS), "{line}");
    // Positive control: the same relative write, granted.
    let granted = hardened().write(w).write(&hooks);
    let r = run(&plan(&["write", "pre-push"]), &granted, &quiet()).unwrap();
    let line = String::from_utf8_lossy(&r.commands[0].stdout.captured).to_string();
    assert_eq!(line.trim(), "ok");
}

/// The paths are found once per run, so a command may not carry a protected path away: renaming
/// a nested repository (or a directory holding one) is refused with EBUSY (red-team round
/// seventeen renamed one aside and made a new one at its path), and the next command finds it
/// protected where it was. Where the write broker is not available the rename goes through, and
/// a later command whose protected path has gone is blocked instead (fail closed).
#[test]
fn cat6_a_protected_repository_is_not_carried_away_during_a_run() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    std::fs::create_dir_all(w.join("sub/.git/hooks")).unwrap();
    std::fs::create_dir_all(w.join("plain")).unwrap();
    let plan = Plan {
        commands: vec![
            PlannedCommand::new("mv", ["/bin/mv", "sub", "moved"], w),
            PlannedCommand::new("after", [PROBE, "write", "moved/file"], w),
        ],
    };
    let r = run(&plan, &hardened().write(w), &quiet()).unwrap();
    if r.enforcement.write_broker.enforced {
        assert_ne!(r.commands[0].exit_code, 0, "{:?}", r.commands[0].error);
        assert!(w.join("sub/.git/hooks").is_dir() && !w.join("moved").exists());
    } else {
        assert_eq!(r.commands[0].exit_code, 0, "{:?}", r.commands[0].error);
        let c = &r.commands[1];
        assert_eq!(c.status, cordon_sandbox::CommandStatus::Blocked);
        assert!(
            c.error
                .as_deref()
                .is_some_and(|e| e.contains("bind-mounting protected metadata")),
            "{:?}",
            c.error
        );
        assert!(!w.join("moved/file").exists());
    }
    // Control: a directory that holds no repository renames.
    let plain = Plan {
        commands: vec![PlannedCommand::new(
            "plain",
            ["/bin/mv", "plain", "renamed"],
            w,
        )],
    };
    let r = run(&plain, &hardened().write(w), &quiet()).unwrap();
    assert_eq!(r.commands[0].exit_code, 0, "{:?}", r.commands[0].error);
    assert!(w.join("renamed").is_dir());
}

#[test]
fn cat6_submodule_hooks_under_git_modules_are_read_only() {
    if skip() {
        return;
    }
    let ws = workspace();
    let w = ws.path();
    let module = w.join(".git/modules/libs/dep");
    std::fs::create_dir_all(module.join("hooks")).unwrap();
    std::fs::create_dir_all(module.join("objects")).unwrap();
    std::fs::write(module.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(module.join("config"), "[core]\n").unwrap();
    let conf = hardened().write(w);
    // Positive control: the submodule's objects stay writable.
    let o = probe_in(&conf, &["write", &p(w, ".git/modules/libs/dep/objects/x")]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    let o = probe_in(
        &conf,
        &["write", &p(w, ".git/modules/libs/dep/hooks/post-merge")],
    );
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(&conf, &["append", &p(w, ".git/modules/libs/dep/config")]);
    assert_eq!(o.errno(), Some(EROFS), "{}", o.describe());
    let o = probe_in(
        &conf,
        &[
            "rename",
            &p(w, ".git/modules/libs/dep"),
            &p(w, ".git/modules/libs/aside"),
        ],
    );
    assert_eq!(o.errno(), Some(EBUSY), "{}", o.describe());
}

#[test]
fn cat6_a_worktree_made_during_the_run_keeps_the_commondir_git_writes() {
    if skip() {
        return;
    }
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);
    // The attack: make a worktree's git directory during the run (git itself would), then point
    // its commondir at a directory the command wrote, whose config git would obey.
    let (code, out, report) = sh_in(
        &conf,
        w,
        "mkdir -p evil .git/worktrees/wtx && printf '[core]\\n\\tfsmonitor = touch pwned\\n' > evil/config \
         && printf '../../../evil\\n' > .git/worktrees/wtx/commondir \
         && printf '%s/.git\\n' \"$PWD/wtx\" > .git/worktrees/wtx/gitdir",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(w.join(".git/worktrees/wtx/commondir")).unwrap(),
        "../..\n"
    );
    assert!(
        report
            .enforcement
            .protected_metadata
            .after_run
            .iter()
            .any(|n| n.contains("wtx") && n.contains("put back")),
        "{:?}",
        report.enforcement.protected_metadata.after_run
    );
    // A symlink in its place is replaced, not followed: the file it points at is untouched.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("target"), "keep\n").unwrap();
    let (code, out, _) = sh_in(
        &conf,
        w,
        &format!(
            "mkdir -p .git/worktrees/wty && ln -s {} .git/worktrees/wty/commondir",
            p(outside.path(), "target")
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        std::fs::read_to_string(outside.path().join("target")).unwrap(),
        "keep\n"
    );
    let meta = std::fs::symlink_metadata(w.join(".git/worktrees/wty/commondir")).unwrap();
    assert!(meta.is_file());
    // The control: what git writes is left as it is, and no note is made.
    let (code, out, report) = sh_in(
        &conf,
        w,
        "mkdir -p .git/worktrees/wtz && printf '../..\\n' > .git/worktrees/wtz/commondir",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        !report
            .enforcement
            .protected_metadata
            .after_run
            .iter()
            .any(|n| n.contains("wtz")),
        "{:?}",
        report.enforcement.protected_metadata.after_run
    );
}
