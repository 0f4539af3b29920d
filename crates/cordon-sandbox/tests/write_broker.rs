//! The write broker (`src/broker/`): in hardened mode a protected name cannot be created, changed
//! or removed, whether or not it exists when the run starts, by any syscall or path; the broker
//! itself can do nothing the command could not; and everyday work keeps working through it.
//! Every attack asserts the exact errno and has a positive control: the same call, on an
//! ordinary name, succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use cordon_sandbox::{run, Confinement, Plan, PlannedCommand};

const EROFS: i32 = libc::EROFS;

/// A workspace whose git directory has a linked worktree's git directory `x` (without its
/// `commondir`) and no `hooks`; nothing else protected exists.
fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let git = ws.path().join(".git");
    std::fs::create_dir_all(git.join("objects")).unwrap();
    std::fs::create_dir_all(git.join("worktrees/x")).unwrap();
    std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(git.join("worktrees/x/HEAD"), "ref: refs/heads/x\n").unwrap();
    std::fs::write(ws.path().join("file.txt"), "content\n").unwrap();
    ws
}

/// Protected names absent from [`workspace`] when the run starts (the bind mounts' preparation
/// makes an empty `.git/hooks` to mount over, `protect.rs`; a worktree's git directory gets none).
const TARGETS: &[&str] = &[
    ".git/commondir",
    ".git/worktrees/x/commondir",
    ".git/worktrees/x/hooks",
    ".git/hooks",
    ".claude/settings.json",
    ".vscode/tasks.json",
    ".envrc",
    ".mcp.json",
    ".pre-commit-config.yaml",
    ".devcontainer/devcontainer.json",
    ".roo/mcp.json",
];

/// Asserts the command made nothing by that name (an empty `.git/hooks` is the preparation's).
fn not_made(w: &Path, target: &str) {
    let path = w.join(target);
    if target == ".git/hooks" {
        let entries = std::fs::read_dir(&path).map(Iterator::count).unwrap_or(0);
        assert_eq!(entries, 0, "{target} has entries");
    } else {
        assert!(std::fs::symlink_metadata(&path).is_err(), "{target} exists");
    }
}

fn at(w: &Path, rel: &str) -> String {
    path_str(&w.join(rel))
}

/// Runs the probe in `cwd`.
fn probe_at(conf: &Confinement, cwd: &Path, args: &[&str]) -> Outcome {
    let argv: Vec<&str> = [PROBE].iter().chain(args).copied().collect();
    let plan = Plan {
        commands: vec![PlannedCommand::new("probe", argv, cwd)],
    };
    let report = run(&plan, conf, &quiet()).unwrap();
    let c = &report.commands[0];
    let line = String::from_utf8_lossy(&c.stdout.captured)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    Outcome {
        line,
        exit_code: c.exit_code,
        report,
    }
}

/// Asserts the probe was refused with `errno`, naming the case.
fn refused(o: &Outcome, errno: i32, case: &str) {
    assert_eq!(o.errno(), Some(errno), "{case}: {}", o.describe());
}

fn succeeded(o: &Outcome, case: &str) {
    assert!(o.ok(), "{case} (positive control): {}", o.describe());
}

#[test]
fn protected_names_absent_at_start_cannot_be_opened_made_or_linked_into_being() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);
    let file = at(w, "file.txt");
    for (i, target) in TARGETS.iter().enumerate() {
        let plain = at(w, &format!("plain-{i}"));
        for (action, first) in [
            ("write", None),
            ("mkdir", None),
            ("mkfifo", None),
            ("symlink", Some("anything")),
            ("link", Some(file.as_str())),
        ] {
            let call = |path: &str| {
                let mut args = vec![action];
                args.extend(first);
                args.push(path);
                probe_in(&conf, &args)
            };
            refused(&call(&at(w, target)), EROFS, &format!("{action} {target}"));
            // Positive control: the same call on an ordinary name.
            succeeded(
                &call(&format!("{plain}-{action}")),
                &format!("{action} {plain}"),
            );
        }
    }
    for target in TARGETS {
        not_made(w, target);
    }
}

#[test]
fn protected_names_cannot_be_renamed_onto_or_reached_through_links_or_proc() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);
    for (i, target) in TARGETS.iter().enumerate() {
        let t = at(w, target);
        // Rename onto it (`mv x .envrc`, `git`'s lockfile rename onto `commondir`).
        let src = at(w, &format!("src-{i}"));
        succeeded(
            &probe_in(&conf, &["write", &src]),
            "write the rename source",
        );
        let o = probe_in(&conf, &["rename", &src, &t]);
        refused(&o, EROFS, &format!("rename onto {target}"));
        let moved = at(w, &format!("moved-{i}"));
        succeeded(
            &probe_in(&conf, &["rename", &src, &moved]),
            "rename to an ordinary name",
        );

        // O_CREAT through a dangling symlink with an ordinary name that points at it.
        let link = at(w, &format!("dangling-{i}"));
        succeeded(
            &probe_in(&conf, &["symlink", &t, &link]),
            "plant a dangling link",
        );
        let o = probe_in(&conf, &["write", &link]);
        refused(
            &o,
            EROFS,
            &format!("create {target} through a dangling link"),
        );
        let ok_link = at(w, &format!("dangling-ok-{i}"));
        let made = format!("made-through-link-{i}");
        succeeded(
            &probe_in(&conf, &["symlink", &at(w, &made), &ok_link]),
            "plant a link",
        );
        succeeded(
            &probe_in(&conf, &["write", &ok_link]),
            "create through a dangling link",
        );
        assert!(w.join(&made).is_file());

        // Through /proc/self/cwd, and relative to the cwd.
        let via_proc = format!("/proc/self/cwd/{target}");
        refused(&probe_at(&conf, w, &["write", &via_proc]), EROFS, &via_proc);
        refused(&probe_at(&conf, w, &["write", target]), EROFS, target);
        let ok_proc = format!("/proc/self/cwd/proc-made-{i}");
        succeeded(&probe_at(&conf, w, &["write", &ok_proc]), &ok_proc);

        // Relative to a directory fd (openat), where that directory exists.
        let (dir, name) = target.rsplit_once('/').unwrap_or((".", target));
        if w.join(dir).is_dir() {
            let o = probe_at(&conf, w, &["openat-dirfd", dir, name]);
            refused(&o, EROFS, &format!("openat(dirfd) {target}"));
            let made = format!("dirfd-made-{i}");
            succeeded(
                &probe_at(&conf, w, &["openat-dirfd", dir, &made]),
                "openat(dirfd)",
            );
        }
    }
    for target in TARGETS {
        not_made(w, target);
    }
}

#[test]
fn a_second_thread_racing_the_path_buffer_never_creates_a_protected_name() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);
    for target in [".git/commondir", ".envrc"] {
        let o = probe_in(
            &conf,
            &["race-create", &at(w, target), &at(w, "decoy"), "3000"],
        );
        assert!(o.ok(), "{}", o.describe());
        let count = |key: &str| -> u32 {
            o.line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        // Both paths were tried (the race is real: the control, the decoy, was created), and
        // the protected one was refused every time it was read.
        assert!(count("created") > 0, "{}", o.line);
        assert!(count("refused") > 0, "{}", o.line);
        assert_eq!(count("other"), 0, "{}", o.line);
        assert!(
            std::fs::symlink_metadata(w.join(target)).is_err(),
            "{target} exists"
        );
        assert!(w.join("decoy").is_file());
    }
    // Positive control: without the broker (local mode) the same race creates the name, so the
    // flipping thread does reach the kernel with the protected path. Unmediated opens are fast
    // enough to finish before a loaded machine schedules the flipper: a few tries.
    let mut tries = Vec::new();
    while !w.join(".envrc").exists() && tries.len() < 10 {
        let o = probe_in(
            &Confinement::local(),
            &["race-create", &at(w, ".envrc"), &at(w, "decoy"), "20000"],
        );
        assert!(o.ok(), "{}", o.describe());
        tries.push(o.line);
    }
    assert!(w.join(".envrc").is_file(), "{tries:?}");
}

#[test]
fn existing_protected_names_cannot_be_removed_or_replaced_and_the_report_lists_refusals() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    std::fs::write(w.join(".git/worktrees/x/commondir"), "../..\n").unwrap();
    std::fs::write(w.join(".envrc"), "export A=1\n").unwrap();
    let conf = hardened().write(w);
    refused(
        &probe_in(&conf, &["unlink", &at(w, ".envrc")]),
        EROFS,
        "unlink .envrc",
    );
    for target in [".git/worktrees/x/commondir", ".envrc"] {
        let t = at(w, target);
        refused(
            &probe_in(&conf, &["append", &t]),
            EROFS,
            &format!("append {target}"),
        );
        refused(
            &probe_in(&conf, &["truncate", &t]),
            EROFS,
            &format!("truncate {target}"),
        );
        let aside = at(w, "aside");
        refused(
            &probe_in(&conf, &["rename", &t, &aside]),
            EROFS,
            &format!("rename {target}"),
        );
    }
    // A linked worktree's git directory, and what is in it, may be removed (`git worktree
    // remove`) but not made again with a `commondir` of the command's choosing.
    let commondir = at(w, ".git/worktrees/x/commondir");
    succeeded(
        &probe_in(&conf, &["unlink", &commondir]),
        "unlink commondir",
    );
    refused(
        &probe_in(&conf, &["write", &commondir]),
        EROFS,
        "commondir made again",
    );
    let (code, out, _) = sh_in(&conf, w, "rm -rf .git/worktrees/x; mkdir .git/worktrees/x");
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    // Control: an ordinary file beside them is removed.
    succeeded(
        &probe_in(&conf, &["unlink", &at(w, "file.txt")]),
        "unlink file.txt",
    );
    assert_eq!(
        std::fs::read_to_string(w.join(".envrc")).unwrap(),
        "export A=1\n"
    );

    let o = probe_in(&conf, &["write", &at(w, ".mcp.json")]);
    refused(&o, EROFS, ".mcp.json");
    let broker = &o.report.enforcement.write_broker;
    assert!(broker.enforced, "{broker:?}");
    assert_eq!(broker.refused_total, 1, "{broker:?}");
    assert_eq!(broker.refused[0].call, "open");
    assert!(broker.refused[0].path.ends_with("/.mcp.json"), "{broker:?}");
    assert!(broker.protected_directories >= 2, "{broker:?}");
}

#[test]
fn the_broker_writes_nothing_the_command_could_not() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let outside = tempfile::tempdir().unwrap();
    let o_path = path_str(outside.path());
    let conf = hardened().write(w);
    let granted = hardened().write(w).write(outside.path());
    let out_file = format!("{o_path}/new");
    // Outside the writable roots: Landlock refuses the worker as it refuses the command.
    refused(
        &probe_in(&conf, &["write", &out_file]),
        libc::EACCES,
        "write outside",
    );
    refused(
        &probe_in(&conf, &["mkdir", &out_file]),
        libc::EACCES,
        "mkdir outside",
    );
    succeeded(
        &probe_in(&granted, &["write", &out_file]),
        "write outside, granted",
    );
    // Through another process's root (/proc/1/root): refused like any other process's /proc.
    let via_init = format!("/proc/1/root{}", at(w, "via-init"));
    refused(
        &probe_in(&conf, &["write", &via_init]),
        libc::EACCES,
        "/proc/1/root",
    );
    let via_self = format!("/proc/self/root{}", at(w, "via-self"));
    succeeded(&probe_in(&conf, &["write", &via_self]), "/proc/self/root");
    // Through a symlink in the workspace to the outside.
    std::os::unix::fs::symlink(outside.path(), w.join("out-link")).unwrap();
    let o = probe_in(&conf, &["write", &at(w, "out-link/x")]);
    refused(&o, libc::EACCES, "write through a link to the outside");
    // A hard link of a file outside the writable roots into the workspace (Landlock's refer).
    let o = probe_in(&conf, &["link", &out_file, &at(w, "hard")]);
    refused(&o, libc::EXDEV, "hard link from the outside");
    // The command's umask applies to what the broker creates; O_CLOEXEC is kept (and only then).
    let o = probe_in(&conf, &["umask-create", "077", &at(w, "private")]);
    assert_eq!(o.line, "ok mode=600", "{}", o.describe());
    let o = probe_in(&conf, &["umask-create", "022", &at(w, "shared")]);
    assert_eq!(o.line, "ok mode=644", "{}", o.describe());
    let o = probe_in(&conf, &["open-cloexec", &at(w, "cloexec")]);
    assert!(o.line.starts_with("ok cloexec=1 "), "{}", o.describe());
    let o = probe_in(&conf, &["open-no-cloexec", &at(w, "inherit")]);
    assert!(o.line.starts_with("ok cloexec=0 "), "{}", o.describe());
    // openat2 keeps its flags where a filter cannot read them: ENOSYS, and libc falls back.
    refused(
        &probe_in(&conf, &["openat2", &at(w, "o2")]),
        libc::ENOSYS,
        "openat2",
    );
}

#[test]
fn the_broker_has_no_capabilities_the_command_lacks() {
    require_broker!();
    if !is_root() {
        cordon_testkit::kernel_skip!("root", "planting files owned by another user needs root");
    }
    let ws = workspace();
    let w = ws.path();
    // A read-only file: root without CAP_DAC_OVERRIDE may not write it.
    std::fs::write(w.join("readonly"), "keep\n").unwrap();
    std::fs::set_permissions(w.join("readonly"), std::fs::Permissions::from_mode(0o444)).unwrap();
    // A directory the command may not search (another owner, 0700) holding one it may write.
    let locked = w.join("locked");
    std::fs::create_dir_all(locked.join("open")).unwrap();
    std::fs::set_permissions(locked.join("open"), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&locked, Some(4242), Some(4242)).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let conf = hardened().write(w);
    refused(
        &probe_in(&conf, &["append", &at(w, "readonly")]),
        libc::EACCES,
        "write 0444",
    );
    refused(
        &probe_in(&conf, &["truncate", &at(w, "readonly")]),
        libc::EACCES,
        "truncate 0444",
    );
    let deep = at(w, "locked/open/f");
    refused(
        &probe_in(&conf, &["write", &deep]),
        libc::EACCES,
        "create below a 0700 dir",
    );
    assert_eq!(
        std::fs::read_to_string(w.join("readonly")).unwrap(),
        "keep\n"
    );
    assert!(!locked.join("open/f").exists());
    // Positive controls: local mode (root with its capabilities, no broker) does both.
    let local = Confinement::local();
    succeeded(
        &probe_in(&local, &["append", &at(w, "readonly")]),
        "local write 0444",
    );
    succeeded(
        &probe_in(&local, &["write", &deep]),
        "local create below 0700",
    );
    assert_eq!(std::fs::metadata(&locked).unwrap().uid(), 4242);
}

/// `git` for the tests that need it, or a failure that says it is missing.
fn require_git() {
    let found = std::process::Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    cordon_testkit::require(found, "git", "apt-get install git");
}

#[test]
fn everyday_file_work_runs_through_the_broker() {
    require_broker!();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    // An archive made outside the sandbox, unpacked inside.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("pkg/lib")).unwrap();
    std::fs::write(src.path().join("pkg/lib/mod.txt"), "module\n").unwrap();
    std::os::unix::fs::symlink("lib/mod.txt", src.path().join("pkg/link")).unwrap();
    let tar = std::process::Command::new("tar")
        .args([
            "cf",
            &at(w, "archive.tar"),
            "-C",
            &path_str(src.path()),
            "pkg",
        ])
        .status()
        .unwrap();
    assert!(tar.success());
    let conf = hardened().write(w);
    let script = r#"set -e
printf 'hello\n' > a.txt
sed -i 's/hello/bye/' a.txt
printf 'new\n' > b.txt
mv b.txt a.txt
gzip -k a.txt && gunzip -c a.txt.gz > copy.txt
tar xf archive.tar
mkdir -p node_modules/.staging/dep-1a2b node_modules/dep
echo 'module.exports = 1' > node_modules/.staging/dep-1a2b/index.js
mv -T node_modules/.staging/dep-1a2b node_modules/dep
mkfifo pipe
cat pipe > from-pipe & echo through > pipe; wait
ln -s a.txt soft && ln a.txt hard && rm hard
mkdir empty && rmdir empty
mkdir -p d/./e/. && { rmdir d/e/. 2>/dev/null || rmdir d/e d; }
mkdir -p pkg2 && tar cf dot.tar -C pkg2 . && mkdir unpacked && tar xf dot.tar -C unpacked
: > truncated && echo longer > truncated && truncate -s 2 truncated
cat a.txt copy.txt from-pipe pkg/link node_modules/dep/index.js truncated"#;
    let (code, out, report) = sh_in(&conf, w, script);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out, "new\nnew\nthrough\nmodule\nmodule.exports = 1\nlo",
        "{out}"
    );
    assert!(std::fs::symlink_metadata(w.join("soft"))
        .unwrap()
        .file_type()
        .is_symlink());
    // `.` names a directory that exists (a tar archive's `./` entry), and `d/.` never makes `d`.
    assert!(w.join("unpacked").is_dir() && !w.join("d").exists());
    let o = probe_in(&conf, &["mkdir", &at(w, "missing/.")]);
    refused(&o, libc::ENOENT, "mkdir missing/.");
    assert!(!w.join("missing").exists());
    refused(
        &probe_in(&conf, &["mkdir", &at(w, ".")]),
        libc::EEXIST,
        "mkdir .",
    );
    assert!(!w.join("node_modules/.staging/dep-1a2b").exists());
    let broker = &report.enforcement.write_broker;
    assert!(broker.enforced && broker.mediated_calls > 20, "{broker:?}");
    assert_eq!(broker.refused_total, 0, "{broker:?}");

    // O_TMPFILE, then linkat through /proc/self/fd or with AT_EMPTY_PATH; renameat2's
    // exchange; mknod of a regular file.
    for (name, how) in [("tmp-proc", "via-proc"), ("tmp-empty", "empty-path")] {
        let o = probe_in(&conf, &["tmpfile-link", &path_str(w), name, how]);
        succeeded(&o, name);
        assert_eq!(std::fs::read_to_string(w.join(name)).unwrap(), "tmp");
    }
    let o = probe_in(
        &conf,
        &["rename-exchange", &at(w, "a.txt"), &at(w, "copy.txt")],
    );
    succeeded(&o, "RENAME_EXCHANGE");
    succeeded(
        &probe_in(&conf, &["mknod-reg", &at(w, "node")]),
        "mknod S_IFREG",
    );
    assert!(w.join("node").is_file());
}

#[test]
fn git_init_add_commit_stash_and_worktree_add_run_through_the_broker() {
    require_broker!();
    require_git();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    let conf = hardened().write(w);
    let git = "git -c user.name=cordon -c user.email=cordon@example.invalid";
    // A repository made during the run: git writes its own hooks and config.
    let (code, out, _) = sh_in(
        &conf,
        w,
        &format!("set -e; git init -q; echo a > f; git add f; {git} commit -qm one"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(w.join(".git/config").is_file() && w.join(".git/hooks").is_dir());
    // The next run finds it protected, and everyday git still works.
    let script = format!(
        "set -e
echo b > f; {git} commit -qam two
echo c > f; {git} stash -q; {git} stash pop -q; {git} commit -qam three
{git} worktree add -q wt
git log --format=%s"
    );
    let (code, out, report) = sh_in(&conf, w, &script);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().take(3).collect::<Vec<_>>(),
        ["three", "two", "one"]
    );
    assert!(w.join(".git/worktrees/wt/commondir").is_file(), "{out}");
    assert_eq!(report.enforcement.write_broker.refused_total, 0);
    // What it may not do: point git elsewhere or add hooks.
    let (code, out, report) = sh_in(
        &conf,
        w,
        "echo /tmp/evil > .git/commondir || echo refused; git config core.hooksPath x || echo refused",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("refused").count(), 2, "{out}");
    assert!(!w.join(".git/commondir").exists());
    assert!(report.enforcement.write_broker.refused_total >= 2);
}

/// A repository made outside the sandbox, as the user's: one commit on `main`, a remote
/// branch to track, and an alias the user set (a key that runs a program).
fn users_repository(w: &Path) {
    let git = |args: &str| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "git -c user.name=u -c user.email=u@example.invalid {args}"
            ))
            .current_dir(w)
            .status()
            .unwrap();
        assert!(status.success(), "git {args}");
    };
    git("init -q -b main");
    std::fs::write(w.join("f"), "a\n").unwrap();
    git("add f");
    git("commit -qm one");
    git("update-ref refs/remotes/origin/main HEAD");
    git("remote add origin https://example.invalid/r.git");
    git("config alias.lg '!git log --oneline'");
}

#[test]
fn git_config_rewrites_that_run_nothing_go_through() {
    require_broker!();
    require_git();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    users_repository(w);
    let conf = hardened().write(w);
    let script = "set -e
git remote add upstream https://example.invalid/up.git
git branch feature
git branch -u origin/main feature >/dev/null
git config user.email agent@example.invalid
git checkout -q -b topic --track origin/main
git branch -D feature >/dev/null
git config extensions.worktreeConfig true
git config --worktree user.name agent
git remote -v | head -1
git config --get branch.topic.merge
git config --get user.name";
    let (code, out, report) = sh_in(&conf, w, script);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "origin\thttps://example.invalid/r.git (fetch)",
            "refs/heads/main",
            "agent"
        ],
        "{out}"
    );
    // On the host, as the user's git will read it: the changes, the user's alias kept, the
    // deleted branch's section gone, and no lock left behind.
    let config = std::fs::read_to_string(w.join(".git/config")).unwrap();
    for kept in [
        "url = https://example.invalid/r.git",
        "url = https://example.invalid/up.git",
        "email = agent@example.invalid",
        "[branch \"topic\"]",
        "lg = !git log --oneline",
    ] {
        assert!(config.contains(kept), "{kept}: {config}");
    }
    assert!(!config.contains("\"feature\""), "{config}");
    assert!(!w.join(".git/config.lock").exists());
    let worktree = std::fs::read_to_string(w.join(".git/config.worktree")).unwrap();
    assert!(worktree.contains("name = agent"), "{worktree}");
    let broker = &report.enforcement.write_broker;
    assert_eq!(broker.refused_total, 0, "{broker:?}");
    assert!(broker.git_config_refused.is_empty(), "{broker:?}");
    assert!(
        broker
            .git_config_written
            .contains(&canon(w).join(".git/config.worktree")),
        "{broker:?}"
    );
    assert!(broker.git_config_written.len() >= 7, "{broker:?}");
    // Where the user's next push goes stays where it was: an existing remote keeps its URL.
    let (_, out, report) = sh_in(
        &conf,
        w,
        "git remote set-url origin https://evil.invalid/r.git 2>/dev/null || echo refused; git remote get-url origin; git remote add up3 https://evil.invalid/x.git; git config branch.main.pushRemote up3 2>/dev/null || echo refused",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["refused", "https://example.invalid/r.git", "refused"],
        "{out}"
    );
    let refusals = report
        .enforcement
        .write_broker
        .git_config_refused
        .join("\n");
    assert!(refusals.contains("remote.origin.url"), "{refusals}");
    // Nor may a branch be sent to the remote a command added (red-team round twenty-one).
    assert!(
        refusals.contains("branch.main.pushremote to up3, a remote a command added"),
        "{refusals}"
    );
}

#[test]
fn git_config_rewrites_that_would_run_something_are_refused() {
    require_broker!();
    require_git();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    users_repository(w);
    let before = std::fs::read(w.join(".git/config")).unwrap();
    let conf = hardened().write(w);
    // Each line tries to make the user's next git run something; each must fail and leave the
    // config as it was. The last line is the positive control: an inert key goes through.
    let script = r#"try() { if "$@" 2>/dev/null; then echo "through: $*"; else echo refused; fi; }
try git config core.hooksPath .h
try git config core.fsmonitor 'touch pwned'
try git config core.pager 'sh -c pwned'
try git config include.path ../evil.cfg
try git config alias.lg '!pwned'
try git config alias.st '!pwned'
try git config filter.x.clean pwned
try git config remote.up.uploadpack pwned
try git config core.worktree /
try git config core.worktree sub
try sh -c 'printf "[core]\n\thooksPath = .h\n" > .git/config.lock && mv .git/config.lock .git/config'
rm -f .git/config.lock
try sh -c 'cp .git/config c.lock && printf "[user]\n\tname = a \\\\\n[core]\n\thooksPath = .h\n" >> c.lock && mv c.lock .git/config'
try sh -c 'ln -s .git g && cp .git/config x.lock && printf "[core]\n\tpager = x\n" >> x.lock && mv x.lock g/config'
try python3 -c '
import os
f = open(".git/config.lock", "w")
f.write(open(".git/config").read())
f.flush()
os.rename(".git/config.lock", ".git/config")
f.write("[core]\n\thooksPath = .h\n")
f.close()
print(open(".git/config").read().count("hooksPath"))
'
git config user.name control && echo control"#;
    let (code, out, report) = sh_in(&conf, w, script);
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.iter().filter(|l| **l == "refused").count(),
        13,
        "{out}"
    );
    // The descriptor held across the rename wrote to the lock's file, which is not the config.
    assert!(lines.contains(&"0"), "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("through: python3")),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"control"), "{out}");
    let after = std::fs::read_to_string(w.join(".git/config")).unwrap();
    assert!(after.starts_with(std::str::from_utf8(&before).unwrap().trim_end_matches('\n')));
    for never in [
        "hooksPath",
        "pwned",
        "pager",
        "include",
        "uploadpack",
        "worktree",
    ] {
        assert!(!after.contains(never), "{never}: {after}");
    }
    assert!(after.contains("lg = !git log --oneline") && after.contains("name = control"));
    // A file the command may not read does not become the config, though it sets nothing
    // that runs: the supervisor reads the new text only where the command could.
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.cfg");
    std::fs::write(
        &secret,
        "[remote \"origin\"]\n\turl = https://example.invalid/r.git\n[user]\n\tname = hidden-value\n",
    )
    .unwrap();
    let script = format!(
        "mv {} .git/config 2>/dev/null || echo refused; git config user.name",
        path_str(&secret)
    );
    let (_, out, _) = sh_in(&conf, w, &script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["refused", "control"],
        "{out}"
    );
    assert!(secret.exists());
    // Positive control: the same file, where the command may read and move it, goes through.
    let (_, out, _) = sh_in(&hardened().write(w).write(outside.path()), w, &script);
    assert_eq!(out.trim(), "hidden-value", "{out}");

    let broker = &report.enforcement.write_broker;
    let refusals = broker.git_config_refused.join("\n");
    for key in [
        "core.hookspath",
        "core.fsmonitor",
        "core.pager",
        "include.path",
        "alias.lg",
        "alias.st",
        "filter.x.clean",
        "remote.up.uploadpack",
        "core.worktree",
        "is not one cordon can read for certain",
    ] {
        assert!(refusals.contains(key), "{key}: {refusals}");
    }
}

#[test]
fn linked_worktrees_can_be_removed_and_pruned_but_not_made_again_with_a_pointer() {
    require_broker!();
    require_git();
    let ws = tempfile::tempdir().unwrap();
    let w = ws.path();
    users_repository(w);
    for wt in ["wt", "gone"] {
        let status = std::process::Command::new("git")
            .args(["worktree", "add", "-q", wt])
            .current_dir(w)
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::remove_dir_all(w.join("gone")).unwrap();
    let conf = hardened().write(w);
    // Inside a worktree's git directory only removal goes through: no commondir, config or
    // hooks may be written there first.
    let (code, out, _) = sh_in(
        &conf,
        w,
        "for f in commondir config hooks/post-checkout; do
           echo /tmp 2>/dev/null > .git/worktrees/wt/$f && echo \"wrote $f\"
         done
         git worktree remove wt && git worktree prune && git worktree list | wc -l
         mkdir .git/worktrees/wt 2>/dev/null || echo refused",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1", "refused"], "{out}");
    assert!(!w.join("wt").exists() && !w.join(".git/worktrees/wt").exists());
    assert!(!w.join(".git/worktrees/gone").exists());
    // The main repository's protected names stay: removal is only a linked worktree's.
    let (_, out, _) = sh_in(
        &conf,
        w,
        "rm -f .git/config 2>/dev/null || echo refused; rm -rf .git/hooks 2>/dev/null || echo refused",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["refused", "refused"],
        "{out}"
    );
    assert!(w.join(".git/config").is_file() && w.join(".git/hooks").is_dir());
}

#[test]
fn read_only_work_never_reaches_the_broker() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let conf = hardened().write(w);
    let (code, out, report) = sh_in(
        &conf,
        w,
        "cat file.txt; ls -la .git >/dev/null; grep -c content file.txt; wc -l < file.txt",
    );
    assert_eq!(code, 0, "{out}");
    let broker = &report.enforcement.write_broker;
    // `>/dev/null` is the one open for writing.
    assert_eq!(broker.mediated_calls, 1, "{broker:?}");
    let o = probe_in(&conf, &["read", &at(w, "file.txt")]);
    succeeded(&o, "read");
    assert_eq!(o.report.enforcement.write_broker.mediated_calls, 0);
}

/// Runs `cordon-sandbox-run --hardened --write W --report -- ARGV` as `nobody` in `w`.
fn as_nobody(w: &Path, argv: &[&str]) -> (String, serde_json::Value) {
    cordon_testkit::require(
        Path::new("/usr/bin/setpriv").exists(),
        "setpriv",
        "apt-get install util-linux",
    );
    let out = std::process::Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_cordon-sandbox-run"))
        .args([
            "--hardened",
            "--read",
            PROBE,
            "--write",
            &path_str(w),
            "--report",
            "--",
        ])
        .args(argv)
        .current_dir(w)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let at = stderr
        .find('{')
        .unwrap_or_else(|| panic!("no report: {stderr}"));
    let report = serde_json::from_str(&stderr[at..]).unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (line, report)
}

#[test]
fn an_unprivileged_supervisor_brokers_too() {
    require_broker!();
    if !is_root() {
        cordon_testkit::kernel_skip!("root", "dropping to nobody needs root");
    }
    let ws = workspace();
    let w = ws.path();
    for entry in [
        "",
        ".git",
        ".git/objects",
        ".git/worktrees",
        ".git/worktrees/x",
    ] {
        std::os::unix::fs::chown(w.join(entry), Some(65534), Some(65534)).unwrap();
    }
    let (line, report) = as_nobody(w, &[PROBE, "write", ".git/commondir"]);
    assert_eq!(errno_of(&line), Some(EROFS), "{line} {report}");
    let broker = &report["enforcement"]["write_broker"];
    assert_eq!(broker["enforced"], true, "{broker}");
    // The mount namespace here belongs to a user namespace the command made.
    let namespaces = &report["enforcement"]["namespaces"];
    assert!(namespaces.to_string().contains("mnt"), "{namespaces}");
    // The pinned `.git` stays busy, and an ordinary file is made (owned by nobody).
    let (line, _) = as_nobody(w, &[PROBE, "rename", ".git", "aside"]);
    assert_eq!(errno_of(&line), Some(libc::EBUSY), "{line}");
    let (line, _) = as_nobody(w, &[PROBE, "write", "made-by-nobody"]);
    assert_eq!(line, "ok");
    assert_eq!(
        std::fs::metadata(w.join("made-by-nobody")).unwrap().uid(),
        65534
    );
    assert!(!w.join(".git/commondir").exists());
}

/// A key (mode 0600) in a directory outside the workspace `w`, and `w/link` pointing at it: the
/// target of the metadata attacks, by path and through a link.
fn outside_key_linked_from(w: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("id_ed25519");
    std::fs::write(&secret, "key").unwrap();
    std::fs::set_permissions(&secret, PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret, w.join("link")).unwrap();
    (outside, secret)
}

#[test]
fn modes_change_only_inside_the_writable_roots() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let (outside, secret) = outside_key_linked_from(w);
    let s = path_str(&secret);
    let conf = hardened().write(w);
    // Landlock governs no modes: without the broker the kernel would let the owner do this.
    for probe in ["chmod", "fchmodat"] {
        for target in [s.as_str(), &at(w, "link")] {
            let o = probe_in(&conf, &[probe, target, "644"]);
            refused(&o, libc::EACCES, &format!("{probe} {target}"));
        }
        // A protected name inside the workspace is refused as a write to it would be.
        let o = probe_in(&conf, &[probe, &at(w, ".git/hooks"), "777"]);
        refused(&o, EROFS, &format!("{probe} .git/hooks"));
    }
    // By descriptor: a file the command may read (its directory granted for reading) but not
    // write keeps its mode too.
    let readable = hardened().write(w).read(outside.path());
    let o = probe_in(&readable, &["fchmod", &s, "644"]);
    refused(&o, libc::EACCES, "fchmod of a file opened for reading");
    assert_eq!(std::fs::metadata(&secret).unwrap().mode() & 0o7777, 0o600);
    // Positive controls: a file in the workspace changes, through the broker; the same call on
    // the outside file works with that directory granted, and outside the sandbox.
    for probe in ["chmod", "fchmod", "fchmodat"] {
        let o = probe_in(&conf, &[probe, &at(w, "file.txt"), "640"]);
        assert_eq!(o.line, "ok mode=640", "{probe}: {}", o.describe());
    }
    // An inode no path reaches (a pipe) keeps its kernel answer.
    succeeded(&probe_in(&conf, &["fchmod-pipe"]), "fchmod of a pipe");
    let granted = hardened().write(w).write(outside.path());
    let o = probe_in(&granted, &["chmod", &s, "640"]);
    assert_eq!(o.line, "ok mode=640", "{}", o.describe());
    assert_eq!(probe_bare(&["chmod", &s, "600"]), "ok mode=600");
}

/// An owner change Landlock does not govern either: without `CAP_CHOWN` no owner can change, but
/// `chown` to the owner a file has already clears its set-user-ID bit (red-team round 4:
/// `chown root:root` of a set-user-ID program outside the workspace, as root). It goes through
/// the broker, placed like a mode change.
#[test]
fn owners_change_only_inside_the_writable_roots() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let outside = tempfile::tempdir().unwrap();
    let program = outside.path().join("suid-program");
    std::fs::write(&program, "#!/bin/sh\n").unwrap();
    let p = path_str(&program);
    // Set outside the sandbox; the test runs where it may (as root, or owning the file).
    assert_eq!(probe_bare(&["chmod", &p, "4755"]), "ok mode=4755");
    std::os::unix::fs::symlink(&program, w.join("link")).unwrap();
    let conf = hardened().write(w);
    for attack in [["chown", p.as_str()], ["chown", &at(w, "link")]] {
        refused(&probe_in(&conf, &attack), libc::EACCES, &attack.join(" "));
    }
    let readable = hardened().write(w).read(outside.path());
    refused(
        &probe_in(&readable, &["fchown", &p]),
        libc::EACCES,
        "fchown of a file opened for reading",
    );
    refused(
        &probe_in(&conf, &["chown", &at(w, ".git/hooks")]),
        EROFS,
        "chown .git/hooks",
    );
    assert_eq!(std::fs::metadata(&program).unwrap().mode() & 0o7777, 0o4755);
    // Positive controls: the workspace's own files (a link's own owner too); the outside file
    // with its directory granted for writing, where the bit goes as it does outside the sandbox.
    for control in [
        ["chown", &at(w, "file.txt")],
        ["fchown", &at(w, "file.txt")],
    ] {
        succeeded(&probe_in(&conf, &control), &control.join(" "));
    }
    succeeded(
        &probe_in(&conf, &["lchown", &at(w, "link")]),
        "lchown of the link",
    );
    assert_eq!(std::fs::metadata(&program).unwrap().mode() & 0o7777, 0o4755);
    let granted = hardened().write(w).write(outside.path());
    let o = probe_in(&granted, &["chown", &p]);
    assert_eq!(o.line, "ok mode=755", "{}", o.describe());
}

/// Inode flags (`chattr`) are refused everywhere by the seccomp filter, inside the workspace too:
/// the broker does not mediate them, and no everyday work sets them (red-team round 4 set
/// no-dump and no-atime on files outside the envelope).
#[test]
fn inode_flags_cannot_be_set() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("backed-up");
    std::fs::write(&file, "data").unwrap();
    let f = path_str(&file);
    let conf = hardened().write(w).read(outside.path());
    for probe in ["set-inode-flags", "file-setattr"] {
        for target in [f.as_str(), &at(w, "file.txt")] {
            refused(&probe_in(&conf, &[probe, target]), libc::EPERM, probe);
        }
    }
    // Positive control: outside the sandbox the same call sets the flag (on a file system
    // that has it: ext4, tmpfs since 6.0).
    assert_eq!(probe_bare(&["set-inode-flags", &f]), "ok nodump=true");
}

/// Times and extended attributes are metadata Landlock does not govern either, and a POSIX ACL is
/// a mode change by another name: `setxattr(system.posix_acl_access)` opened `~/.ssh`'s key to
/// everyone where `chmod` could not. They go through the broker, which places the file as for
/// `chmod`.
#[test]
fn times_and_extended_attributes_change_only_inside_the_writable_roots() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let (outside, secret) = outside_key_linked_from(w);
    let s = path_str(&secret);
    // An attribute the outside file already has, for the removal to try.
    assert_eq!(
        probe_bare(&["setxattr", &s, "user.origin", "user"]),
        "ok value=user",
        "extended attributes on the test's filesystem"
    );
    let mtime_before = std::fs::metadata(&secret).unwrap().mtime();
    let conf = hardened().write(w);
    let link = at(w, "link");
    let attacks: &[&[&str]] = &[
        &["utimensat", &s],
        &["utimensat", &link],
        &["utimes", &s],
        &["setxattr", &s, "user.planted", "agent"],
        &["setxattr", &link, "user.planted", "agent"],
        &["removexattr", &s, "user.origin"],
        &["set-acl", &s, "666"],
        &["set-acl", &link, "666"],
    ];
    for attack in attacks {
        refused(&probe_in(&conf, attack), libc::EACCES, &attack.join(" "));
    }
    // By descriptor: the file is readable (its directory granted for reading), not writable.
    let readable = hardened().write(w).read(outside.path());
    for attack in [
        ["futimens", &s, "", ""],
        ["fsetxattr", &s, "user.planted", "agent"],
    ] {
        refused(
            &probe_in(&readable, &attack),
            libc::EACCES,
            &attack.join(" "),
        );
    }
    // A protected name inside the workspace is refused as a write to it would be.
    let hooks = at(w, ".git/hooks");
    for attack in [
        ["utimensat", hooks.as_str(), ""],
        ["set-acl", hooks.as_str(), "777"],
    ] {
        refused(&probe_in(&conf, &attack), EROFS, &attack.join(" "));
    }
    // The call that sets an attribute by directory fd and flags struct is not there to go around.
    refused(
        &probe_in(&conf, &["setxattrat", &at(w, "file.txt")]),
        libc::ENOSYS,
        "setxattrat",
    );
    let after = std::fs::metadata(&secret).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o600);
    assert_eq!(after.mtime(), mtime_before);
    assert_eq!(
        probe_bare(&["setxattr", &s, "user.origin", "user"]),
        "ok value=user"
    );
    assert!(
        probe_bare(&["setxattr", &s, "user.check", "x"]).starts_with("ok"),
        "the outside file is still the test's to change"
    );
    // Positive controls: the workspace's own file, through the broker (a symlink's own times
    // too); the outside file with its directory granted for writing; and outside the sandbox.
    let file = at(w, "file.txt");
    for control in [
        vec!["utimensat", file.as_str()],
        vec!["utimensat-nofollow", link.as_str()],
        vec!["utimes", file.as_str()],
        vec!["futimens", file.as_str()],
    ] {
        let o = probe_in(&conf, &control);
        assert_eq!(o.line, "ok mtime=1", "{control:?}: {}", o.describe());
    }
    for control in ["setxattr", "fsetxattr"] {
        let o = probe_in(&conf, &[control, &file, "user.k", "v"]);
        assert_eq!(o.line, "ok value=v", "{control}: {}", o.describe());
    }
    succeeded(
        &probe_in(&conf, &["removexattr", &file, "user.k"]),
        "removexattr",
    );
    let o = probe_in(&conf, &["set-acl", &file, "640"]);
    assert_eq!(o.line, "ok mode=640", "{}", o.describe());
    let granted = hardened().write(w).write(outside.path());
    let o = probe_in(&granted, &["set-acl", &s, "640"]);
    assert_eq!(o.line, "ok mode=640", "{}", o.describe());
    let o = probe_in(&granted, &["utimensat", &s]);
    assert_eq!(o.line, "ok mtime=1", "{}", o.describe());
    assert_eq!(probe_bare(&["set-acl", &s, "666"]), "ok mode=666");
}
