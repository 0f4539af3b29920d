//! Escape catalogue item 39: a repository made or changed during the run, outside the protected
//! ones, whose configuration or hooks make git run a program later, outside any sandbox, the next
//! time the user (or their prompt) runs git there: `core.fsmonitor` in `sub/.git/config`, a hook
//! in `sub/.git/hooks`, a bare repository's `core.pager`, a `.git` file naming a git directory
//! the command wrote or one outside the workspace, a `core.worktree` outside it. After the run, what would run a program is moved
//! aside (`*.refused-by-cordon`) and the report says so; what `git init`, `git clone`, `git remote
//! add` and `git config user.*` write is left alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use cordon_sandbox::{Confinement, Envelope, Mode, PlannedCommand, RunReport};

fn skip() -> bool {
    if skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode") {
        return true;
    }
    let git = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    cordon_testkit::require(git, "git", "scripts/test installs it (apt-get install git)");
    false
}

struct Fixture {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    outside: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = canon(dir.path());
        let (ws, outside) = (root.join("ws"), root.join("outside"));
        std::fs::create_dir_all(&ws).unwrap();
        // A git directory outside the workspace, as the agent's own file tools could write one.
        git(&root, &["init", "-q", "--bare", "outside"]);
        git(
            &outside,
            &["config", "core.pager", "touch ../pwned-outside"],
        );
        Fixture {
            _dir: dir,
            ws,
            outside,
        }
    }

    fn confinement(&self, mode: Mode) -> Confinement {
        let envelope = Envelope::builder(&self.ws).build().unwrap();
        let mut c = Confinement::within(envelope);
        c.mode = mode;
        c
    }

    /// Runs `sh -c script` in the workspace; returns the exit code, its output and the report.
    fn sh(&self, mode: Mode, script: &str) -> (i32, String, RunReport) {
        let command = PlannedCommand::new("sh", ["/bin/sh", "-c", script], &self.ws).env(vec![
            ("HOME".into(), self.ws.clone().into_os_string()),
            ("PATH".into(), cordon_sandbox::DEFAULT_PATH.into()),
        ]);
        run_one(command, &self.confinement(mode))
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }

    /// The markers a planted program left in the workspace when the user's git ran it.
    fn pwned(&self) -> Vec<String> {
        std::fs::read_dir(&self.ws)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("pwned"))
            .collect()
    }
}

/// Runs git outside any sandbox, as the user would after the run.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_PAGER", "")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the agent plants: a monitor in a new repository, a hook in another, a pager in a bare
/// repository, a `.git` file naming a git directory it wrote, one naming a git directory outside
/// the workspace, and a monitor reached through a link; and a plain repository and an app's own
/// `config` file, which must be left alone.
fn plant(ws: &Path, outside: &Path) -> String {
    format!(
        "set -e
         git init -q mon && git -C mon config core.fsmonitor 'touch ../pwned-mon'
         git init -q hooked && printf '#!/bin/sh\\ntouch ../pwned-hook\\n' > hooked/.git/hooks/post-checkout
         chmod +x hooked/.git/hooks/post-checkout
         git init -q --bare bare.git && git -C bare.git config core.pager 'touch ../pwned-bare'
         git init -q --bare evil && git -C evil config core.fsmonitor 'touch ../pwned-ptr'
         mkdir ptr && echo 'gitdir: ../evil' > ptr/.git
         mkdir far && echo 'gitdir: {outside}' > far/.git
         git init -q linked && ln -s .git/config linked/cfg && printf '[core]\\n\\tfsmonitor = touch ../pwned-link\\n' >> linked/cfg
         git init -q wt && git -C wt config core.worktree {outside}
         git init -q wt2 && git -C wt2 config core.worktree ..
         git init -q b && mkdir -p common/objects common/refs && printf '[core]\n\tfsmonitor = touch ../pwned-common\n' > common/config && D=.git && echo ../../common > b/$D/commondir
         git init -q c && ln -s .. c-up && git -C c config core.worktree {ws}/c-up/..
         git init -q q1 && printf '\tworktree = \"../../../\"\n' >> q1/.git/config
         git init -q q2 && printf '\tworktree = ../../.. ;/../ws\n' >> q2/.git/config
         mkdir h && echo 'gitdir: {outside}-later' > h/$D
         git init -q fine && git -C fine config merge.conflictStyle diff3 && git -C fine config rerere.enabled true
         git init -q plain && git -C plain config user.name agent && git -C plain remote add origin https://example.com/x.git
         mkdir app && printf 'fsmonitor = 1\\n' > app/config && echo ref > app/HEAD.txt
         echo planted",
        outside = outside.display(),
        ws = ws.display(),
    )
}

#[test]
fn cat39_a_repository_made_during_the_run_cannot_plant_a_program_git_runs() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (code, out, report) = f.sh(Mode::Hardened, &plant(&f.ws, &f.outside));
    assert_eq!((code, out.trim_end()), (0, "planted"), "{out}");
    let notes = report.enforcement.protected_metadata.after_run.join("\n");

    // What would run a program was moved aside, and the report says where.
    for (moved, aside) in [
        ("mon/.git/config", "mon/.git/config.refused-by-cordon"),
        ("hooked/.git/hooks", "hooked/.git/hooks.refused-by-cordon"),
        ("bare.git/config", "bare.git/config.refused-by-cordon"),
        ("evil/config", "evil/config.refused-by-cordon"),
        ("far/.git", "far/.git.refused-by-cordon"),
        ("linked/.git/config", "linked/.git/config.refused-by-cordon"),
        ("wt/.git/config", "wt/.git/config.refused-by-cordon"),
        ("common/config", "common/config.refused-by-cordon"),
        ("c/.git/config", "c/.git/config.refused-by-cordon"),
        ("q1/.git/config", "q1/.git/config.refused-by-cordon"),
        ("q2/.git/config", "q2/.git/config.refused-by-cordon"),
        ("h/.git", "h/.git.refused-by-cordon"),
    ] {
        assert!(!f.path(moved).exists(), "{moved} is still there\n{notes}");
        assert!(f.path(aside).exists(), "{aside} is missing\n{notes}");
        assert!(
            notes.contains(&path_str(&f.path(moved))),
            "{moved} not noted:\n{notes}"
        );
    }
    assert!(notes.contains("core.fsmonitor"), "{notes}");
    // Nothing outside the workspace was changed.
    assert!(f.outside.join("config").exists());

    // The user's git in each of them now runs nothing.
    for dir in ["mon", "hooked", "ptr", "linked", "plain", "b"] {
        git(&f.path(dir), &["status", "--short"]);
    }
    git(&f.path("hooked"), &["checkout", "-q", "-b", "other"]);
    git(&f.path("bare.git"), &["log", "--oneline", "--all"]);
    let pwned = f.pwned();
    assert!(pwned.is_empty(), "{pwned:?}\n{notes}");

    // What git init, remote add and config user.* wrote is untouched, and so is an app's own
    // file named config.
    let plain = std::fs::read_to_string(f.path("plain/.git/config")).unwrap();
    assert!(
        plain.contains("name = agent") && plain.contains("example.com"),
        "{plain}"
    );
    assert!(f.path("plain/.git/hooks").is_dir());
    // A worktree that stays in the workspace is left as git wrote it.
    let wt2 = std::fs::read_to_string(f.path("wt2/.git/config")).unwrap();
    assert!(wt2.contains("worktree = .."), "{wt2}");
    assert_eq!(
        std::fs::read_to_string(f.path("app/config")).unwrap(),
        "fsmonitor = 1\n"
    );
    for left in ["/plain/", "/app/", "/wt2/", "/fine/"] {
        assert!(!notes.contains(left), "{left}: {notes}");
    }
}

#[test]
fn cat39_positive_control_in_local_mode_the_planted_monitor_runs() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (code, out, _) = f.sh(Mode::Local, &plant(&f.ws, &f.outside));
    assert_eq!(code, 0, "{out}");
    assert!(f.path("mon/.git/config").exists());
    // The attack this test guards against: the user's next git command runs the monitor.
    git(&f.path("mon"), &["status", "--short"]);
    assert!(f.path("pwned-mon").exists(), "the monitor did not run");
}

/// A second name for a file git reads, made in one run to write it under an unwatched name in
/// the next, is refused; more touched directories than the broker keeps open are still found.
#[test]
fn cat39_hard_links_to_git_files_are_refused_and_many_touched_directories_are_all_checked() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    let (code, out, _) = f.sh(
        Mode::Hardened,
        "git init -q d && G=.git && ln d/$G/config notes.txt; echo \"ln=$?\"; ln d/$G/HEAD head.txt; echo \"ln=$?\"",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("ln=1").count(), 2, "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    // Positive control: an ordinary file links.
    let (code, out, _) = f.sh(Mode::Hardened, "echo x > a && ln a b && echo linked");
    assert_eq!((code, out.trim_end()), (0, "linked"), "{out}");

    // Three hundred directories holding a file named `config`, then the real attack.
    let (code, out, report) = f.sh(
        Mode::Hardened,
        "mkdir -p many && for i in $(seq 1 300); do mkdir -p many/$i; : > many/$i/config; done
         git init -q e && git -C e config core.fsmonitor 'touch ../pwned-many' && echo done",
    );
    assert_eq!((code, out.trim_end()), (0, "done"), "{out}");
    let notes = report.enforcement.protected_metadata.after_run.join("\n");
    assert!(
        f.path("e/.git/config.refused-by-cordon").exists(),
        "{notes}"
    );
    git(&f.path("e"), &["status", "--short"]);
    assert!(!f.path("pwned-many").exists());
}

/// Red-team round fourteen: places where the checks after the run read git's files otherwise
/// than git does, or took a new repository for a protected one. Each plants a monitor (or an
/// `exec`) that the user's next plain git command would run; each must be moved aside.
#[test]
fn cat39_round_fourteen_git_is_read_as_git_reads_it_and_protected_repositories_by_identity() {
    if skip() {
        return;
    }
    let f = Fixture::new();
    // The user's repositories when the run starts: the workspace's own, and a nested one.
    git(&f.ws, &["init", "-q", "-b", "main"]);
    git(
        &f.ws,
        &[
            "-c",
            "user.name=u",
            "-c",
            "user.email=u@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ],
    );
    std::fs::create_dir_all(f.path("vendor")).unwrap();
    git(&f.path("vendor"), &["init", "-q", "lib"]);
    let before = std::fs::read(f.path(".git/config")).unwrap();
    let script = r#"set -e
mon() { git -C "$1" config core.fsmonitor "touch $PWD/pwned-$2"; }
# A NUL in a subsection: git names the key remote.origin.uploadpack.
git init -q nul && printf '[remote "origin.uploadpack\0"]\n\turl = touch ../pwned-nul\n' >> nul/.git/config
cp .git/config c.new && printf '[remote "o.uploadpack\0"]\n\turl = x\n' >> c.new && { mv c.new .git/config 2>/dev/null || echo nul-refused; }
# A commondir git reads as `common ` (trailing space), which cordon read as `common`.
mkdir -p common/objects common/refs 'common /objects' 'common /refs'
printf '[core]\n\tfsmonitor = touch ../pwned-space\n' > 'common /config'
git init -q --bare sp && printf '../common \n' > sp/commondir
mkdir spco && echo 'gitdir: ../sp' > spco/.git
# A common directory written before the pointer that leads to it.
mkdir -p early/objects early/refs && printf '[core]\n\tfsmonitor = touch ../pwned-early\n' > early/config
git init -q --bare eg && echo ../early > eg/commondir
# A commondir over 4 KiB: git strips the newlines that end it.
mkdir -p long/objects long/refs && printf '[core]\n\tfsmonitor = touch ../pwned-long\n' > long/config
git init -q --bare lg && { printf '../long'; head -c 5000 /dev/zero | tr '\0' '\n'; } > lg/commondir
# A .git file over 4 KiB that leads outside the workspace.
mkdir far2 && { printf 'gitdir: %s' "$OUTSIDE"; head -c 5000 /dev/zero | tr '\0' '\n'; } > far2/.git
# Two links to one git directory outside the workspace.
mkdir l1 l2 && ln -s "$OUTSIDE" l1/.git && ln -s "$OUTSIDE" l2/.git
# The nested repository's parent renamed aside, a new repository made at its path: the rename
# is refused (EBUSY) since round seventeen; without the broker it goes through, and the new
# repository's monitor is moved aside after the run.
if mv vendor vendor.old 2>/dev/null; then git init -q vendor/lib && mon vendor/lib nested; else echo parent-pinned; fi
# A rebase stopped with an exec still to run, in the protected repository.
git -c user.name=a -c user.email=a@example.invalid commit -q --allow-empty -m two
git -c sequence.editor="sed -i '1i break'" -c user.name=a -c user.email=a@example.invalid rebase -q -i HEAD~1 --exec 'touch pwned-exec' >/dev/null 2>&1 || true
echo planted"#;
    let script = script.replace("$OUTSIDE", &path_str(&f.outside));
    let (code, out, report) = f.sh(Mode::Hardened, &script);
    assert_eq!(code, 0, "{out}");
    let broker = report.enforcement.write_broker.enforced;
    let expected: &[&str] = if broker {
        &["nul-refused", "parent-pinned", "planted"]
    } else {
        &["nul-refused", "planted"]
    };
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "{out}");
    assert_eq!(std::fs::read(f.path(".git/config")).unwrap(), before);
    let notes = report.enforcement.protected_metadata.after_run.join("\n");
    for moved in [
        "nul/.git/config",
        "common /config",
        "early/config",
        "long/config",
        "far2/.git",
        "l1/.git",
        "l2/.git",
        ".git/rebase-merge",
    ]
    .into_iter()
    .chain((!broker).then_some("vendor/lib/.git/config"))
    {
        assert!(!f.path(moved).exists(), "{moved} is still there\n{notes}");
        assert!(
            notes.contains(&path_str(&f.path(moved))),
            "{moved} not noted:\n{notes}"
        );
    }
    // The user's plain git runs nothing of the command's.
    for dir in ["nul", "spco", "vendor/lib"] {
        let _ = Command::new("git")
            .args(["status", "--short"])
            .current_dir(f.path(dir))
            .env("HOME", &f.ws)
            .output()
            .unwrap();
    }
    let pwned = f.pwned();
    assert!(pwned.is_empty(), "{pwned:?}\n{notes}");
    // The protected nested repository stayed where it was (or, without the broker, moved with
    // its parent), untouched.
    let kept = if broker {
        "vendor/lib/.git/config"
    } else {
        "vendor.old/lib/.git/config"
    };
    assert!(f.path(kept).is_file());
}

/// Round fourteen again: the search after the run, when more directories were touched than
/// the broker keeps open, held one descriptor per queued directory and silently skipped the
/// rest once they ran out. With this process's limit lowered to 512, a repository behind 900
/// directories is still found.
#[test]
fn cat39_the_search_after_the_run_does_not_run_out_of_descriptors() {
    if skip() {
        return;
    }
    // This test runs in a process of its own (nextest), so the lower limit affects nothing else.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, 512, hard).unwrap();
    let f = Fixture::new();
    let (code, out, report) = f.sh(
        Mode::Hardened,
        "for i in $(seq 1 300); do mkdir -p t/$i; : > t/$i/config; done
         mkdir big && cd big && for i in $(seq 1 900); do mkdir d$i; done
         git init -q zz && git -C zz config core.fsmonitor 'touch ../../pwned-wide' && echo done",
    );
    assert_eq!((code, out.trim_end()), (0, "done"), "{out}");
    let notes = report.enforcement.protected_metadata.after_run.join("\n");
    assert!(
        f.path("big/zz/.git/config.refused-by-cordon").exists(),
        "{notes}"
    );
}
