//! The envelope under attack (escape catalogue items 29-32, sandboxing.md): what the kernel
//! enforces is the policy's envelope judged on real paths, so `/proc/self/root|cwd|fd` paths,
//! relative and absolute links (made in one run and used in the next), links into cordon's home,
//! into `.git` and into home dotfiles, and grants beyond the envelope reach nothing it closes.
//! Every attack checks the exact errno (or the run's exact refusal), with a positive control that
//! the same action succeeds where the envelope allows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::*;
use cordon_sandbox::{
    resolve_real, run, Confinement, Envelope, Error, Grant, GrantAccess, Plan, PlannedCommand,
    RunReport,
};

const EACCES: i32 = libc::EACCES;
const EROFS: i32 = libc::EROFS;

/// A home directory with a project (the workspace), credentials, cordon's own home, shell
/// start-up files and a file to delete.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = canon(dir.path());
        for d in [
            "project/src",
            ".ssh",
            ".aws",
            ".config/cordon/keys",
            ".config/cordon/journal",
            ".config/cordon/state",
            "shared",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        for (f, text) in [
            (".ssh/id_ed25519", "ssh-secret"),
            (".aws/credentials", "aws-secret"),
            (".config/cordon/policy.yaml", "policy"),
            (".config/cordon/keys/signing.pem", "key"),
            (".config/cordon/journal/entries", "journal"),
            (".config/cordon/approvers", "alice KEY"),
            (".bashrc", "# rc"),
            (".npmrc", "//registry.example/:_authToken=npm-secret"),
            (".gitconfig", "[user]"),
            ("victim", "keep me"),
            ("shared/data.txt", "shared"),
            ("project/src/main.rs", "fn main() {}"),
        ] {
            std::fs::write(home.join(f), text).unwrap();
        }
        Home { _dir: dir, home }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    fn project(&self) -> PathBuf {
        self.path("project")
    }

    fn envelope(&self, workspace: &Path) -> Envelope {
        Envelope::builder(workspace)
            .home(&self.home)
            .cordon_home(self.path(".config/cordon"))
            .never([".ssh", ".aws", ".npmrc"].map(|n| self.path(n)))
            .read_only([".bashrc", ".bash_profile", ".profile", ".gitconfig"].map(|n| self.path(n)))
            .build()
            .unwrap()
    }

    /// The envelope for the project, plus read of the probe binary.
    fn confinement(&self) -> Confinement {
        with_probe(Confinement::within(self.envelope(&self.project())))
    }
}

fn with_probe(c: Confinement) -> Confinement {
    c.grant(Grant {
        target: resolve_real(PROBE, "/").unwrap(),
        access: GrantAccess::Read,
    })
}

/// Runs the probe with `args` in `cwd`; returns its verdict line and the report.
fn probe_at(conf: &Confinement, cwd: &Path, args: &[&str]) -> (String, RunReport) {
    let argv = std::iter::once(PROBE).chain(args.iter().copied());
    let plan = Plan {
        commands: vec![PlannedCommand::new("p", argv, cwd)],
    };
    let report = run(&plan, conf, &quiet()).unwrap();
    let line = String::from_utf8_lossy(&report.commands[0].stdout.captured)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    (line, report)
}

/// Runs `sh -c script` in `cwd`; returns the exit code and stdout+stderr.
fn sh(conf: &Confinement, cwd: &Path, script: &str) -> (i32, String) {
    let (code, out, _) = sh_in(conf, cwd, script);
    (code, out)
}

fn s(p: &Path) -> String {
    path_str(p)
}

#[test]
fn cat29_proc_self_root_cwd_and_fd_paths_reach_nothing_the_envelope_closes() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.confinement();
    let ws = h.project();
    let creds = h.path(".aws/credentials");
    // Positive controls: the credential is readable outside the sandbox, and the same /proc
    // spellings reach a workspace file inside it.
    assert_eq!(probe_bare(&["read", &s(&creds)]), "ok");
    let inside = format!("/proc/self/root{}", s(&ws.join("src/main.rs")));
    assert_eq!(probe_at(&conf, &ws, &["read", &inside]).0, "ok");
    assert_eq!(
        probe_at(&conf, &ws, &["read", "/proc/self/cwd/src/main.rs"]).0,
        "ok"
    );
    for attack in [
        format!("/proc/self/root{}", s(&creds)),
        format!("/proc/thread-self/root{}", s(&h.path(".ssh/id_ed25519"))),
        "/proc/self/cwd/../.aws/credentials".to_string(),
        "/proc/self/cwd/../.config/cordon/keys/signing.pem".to_string(),
    ] {
        let (line, _) = probe_at(&conf, &ws, &["read", &attack]);
        assert_eq!(errno_of(&line), Some(EACCES), "{attack}: {line}");
    }
    let (line, _) = probe_at(&conf, &ws, &["append", "/proc/self/cwd/../.bashrc"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");

    // A grant beyond the envelope named through /proc is judged on the real path: a grant that
    // lands on a credential refuses the run; /proc/self/fd of cordon itself is refused outright.
    let real = resolve_real(format!("/proc/self/root{}", s(&creds)), &ws).unwrap();
    assert_eq!(real.path(), creds);
    let refused = h.confinement().grant(Grant {
        target: real,
        access: GrantAccess::Read,
    });
    let plan = Plan {
        commands: vec![PlannedCommand::new("p", [PROBE, "read", &s(&creds)], &ws)],
    };
    match run(&plan, &refused, &quiet()) {
        Err(Error::NeverGranted { path, never }) => {
            assert_eq!(path, creds);
            assert_eq!(never, h.path(".aws"));
        }
        other => panic!("expected NeverGranted, got {other:?}"),
    }
    let err = resolve_real("/proc/self/fd/0", &ws).unwrap_err();
    assert!(err.to_string().contains("cordon's own process"), "{err}");
    let err = resolve_real("/dev/fd/1", &ws).unwrap_err();
    assert!(err.to_string().contains("cordon's own process"), "{err}");
    // Positive control: a grant through /proc of a file outside the envelope that is not closed
    // is made, and reads.
    let shared = resolve_real(
        format!("/proc/self/root{}", s(&h.path("shared/data.txt"))),
        &ws,
    )
    .unwrap();
    let granted = h.confinement().grant(Grant {
        target: shared,
        access: GrantAccess::Read,
    });
    let (line, report) = probe_at(&granted, &ws, &["read", &s(&h.path("shared/data.txt"))]);
    assert_eq!(line, "ok");
    let g = &report.enforcement.envelope.grants;
    assert!(
        g.iter()
            .any(|g| g.path == h.path("shared/data.txt") && g.made_on == "descriptor"),
        "{g:?}"
    );
}

#[test]
fn cat30_a_relative_link_made_in_one_run_cannot_reach_cordons_home_in_the_next() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.confinement();
    let ws = h.project();
    std::fs::write(ws.join("evil.yaml"), "evil").unwrap();
    // Run 1: allowed by the envelope (a directory and a symlink in the workspace).
    let (code, out) = sh(
        &conf,
        &ws,
        "mkdir -p sub && ln -s ../../.config/cordon sub/c && ln -s ../src sub/s",
    );
    assert_eq!(code, 0, "{out}");
    // Run 2: the link leads into cordon's home; its target is judged by the kernel.
    for (action, target) in [
        ("append", "sub/c/policy.yaml"),
        ("write", "sub/c/policy.yaml"),
        ("read", "sub/c/keys/signing.pem"),
        ("truncate", "sub/c/journal/entries"),
        ("append", "sub/c/approvers"),
        ("write", "sub/c/state/gateway.sock"),
    ] {
        let (line, _) = probe_at(&conf, &ws, &[action, target]);
        assert_eq!(errno_of(&line), Some(EACCES), "{action} {target}: {line}");
    }
    let (code, out) = sh(&conf, &ws, "cp evil.yaml sub/c/policy.yaml");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    assert_eq!(
        std::fs::read_to_string(h.path(".config/cordon/policy.yaml")).unwrap(),
        "policy"
    );
    assert_eq!(
        std::fs::read_to_string(h.path(".config/cordon/journal/entries")).unwrap(),
        "journal"
    );
    // Positive control: the other link, into the workspace, is written through.
    let (line, _) = probe_at(&conf, &ws, &["write", "sub/s/new.rs"]);
    assert_eq!(line, "ok");
    assert!(ws.join("src/new.rs").exists());
}

#[test]
fn cat30_absolute_links_into_credentials_and_home_dotfiles_reach_nothing() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.confinement();
    let ws = h.project();
    let links = [
        ("k", h.path(".ssh")),
        ("a", h.path(".aws/credentials")),
        ("rc", h.path(".bashrc")),
        ("gc", h.path(".gitconfig")),
        ("up", h.home.clone()),
        ("shared", h.path("shared")),
    ];
    for (name, target) in &links {
        std::os::unix::fs::symlink(target, ws.join(name)).unwrap();
    }
    for (action, target, errno) in [
        ("read", "k/id_ed25519", EACCES),
        ("write", "k/authorized_keys", EACCES),
        ("read", "a", EACCES),
        ("append", "rc", EACCES),
        ("append", "gc", EACCES),
        ("unlink", "up/victim", EACCES),
        ("write", "up/.bash_profile", EACCES),
        ("write", "up/.profile", EACCES),
        ("mkdir", "up/.ssh2", EACCES),
        ("read", "up/.ssh/id_ed25519", EACCES),
    ] {
        let (line, _) = probe_at(&conf, &ws, &[action, target]);
        assert_eq!(errno_of(&line), Some(errno), "{action} {target}: {line}");
    }
    assert!(h.path("victim").exists());
    assert!(!h.path(".bash_profile").exists());
    assert_eq!(std::fs::read_to_string(h.path(".bashrc")).unwrap(), "# rc");
    // Positive controls: outside the sandbox the same links reach the files; inside, `ls ~`
    // lists the home (names, not contents).
    assert_eq!(probe_bare(&["read", &s(&ws.join("a"))]), "ok");
    let (code, out) = sh(&conf, &ws, &format!("ls -a {}", s(&h.home)));
    assert_eq!(code, 0, "{out}");
    for name in ["project", ".ssh", ".bashrc", "victim"] {
        assert!(out.lines().any(|l| l == name), "{name} in {out}");
    }
    let (line, _) = probe_at(&conf, &ws, &["readdir", "up"]);
    assert_eq!(line, "ok");
    // Reading through a link to a directory the envelope does not grant fails too.
    let (line, _) = probe_at(&conf, &ws, &["read", "shared/data.txt"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
}

#[test]
fn cat30_links_into_git_metadata_and_commondir_stay_read_only() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    let git = ws.join(".git");
    let wt = git.join("worktrees/feature");
    std::fs::create_dir_all(git.join("hooks")).unwrap();
    std::fs::create_dir_all(git.join("objects")).unwrap();
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::write(git.join("config"), "[core]\n").unwrap();
    std::fs::write(wt.join("commondir"), "../..\n").unwrap();
    std::fs::write(wt.join("HEAD"), "ref: refs/heads/feature\n").unwrap();
    std::os::unix::fs::symlink(".git/hooks", ws.join("hooks-link")).unwrap();
    std::os::unix::fs::symlink(".git/worktrees/feature/commondir", ws.join("cd-link")).unwrap();
    std::os::unix::fs::symlink(".git/objects", ws.join("objects-link")).unwrap();
    let conf = h.confinement();
    for (action, target) in [
        ("write", "hooks-link/pre-commit"),
        ("write", ".git/worktrees/feature/commondir"),
        ("append", "cd-link"),
        ("truncate", "cd-link"),
        ("append", ".git/config"),
    ] {
        let (line, _) = probe_at(&conf, &ws, &[action, target]);
        assert_eq!(errno_of(&line), Some(EROFS), "{action} {target}: {line}");
    }
    // The worktree's git directory cannot be swapped for one with another commondir either.
    let (line, _) = probe_at(
        &conf,
        &ws,
        &["rename", ".git/worktrees", ".git/worktrees.aside"],
    );
    assert_eq!(errno_of(&line), Some(libc::EBUSY), "{line}");
    let (line, _) = probe_at(
        &conf,
        &ws,
        &["rename", ".git/worktrees/feature", ".git/worktrees/other"],
    );
    assert_eq!(errno_of(&line), Some(libc::EBUSY), "{line}");
    assert_eq!(
        std::fs::read_to_string(wt.join("commondir")).unwrap(),
        "../..\n"
    );
    // Positive controls: git's objects, through a link too, and a new worktree's directory.
    let (line, _) = probe_at(&conf, &ws, &["write", "objects-link/ab"]);
    assert_eq!(line, "ok");
    let (line, _) = probe_at(&conf, &ws, &["mkdir", ".git/worktrees/second"]);
    assert_eq!(line, "ok");
}

#[test]
fn cat31_a_home_workspace_is_granted_around_credentials_cordons_home_and_start_up_files() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = with_probe(Confinement::within(h.envelope(&h.home)));
    let home = h.home.clone();
    // Positive controls: existing files and directories of the home are granted one by one.
    let (line, report) = probe_at(&conf, &home, &["write", "project/src/lib.rs"]);
    assert_eq!(line, "ok");
    assert_eq!(probe_at(&conf, &home, &["append", "victim"]).0, "ok");
    assert_eq!(probe_at(&conf, &home, &["readdir", "."]).0, "ok");
    let e = &report.enforcement.envelope;
    assert!(e.enforced);
    // Cordon's home and the credentials, which exist, are mounted over, so `~/.config` keeps its
    // rights; the home is granted around the stand-in two levels down (`.config` could be renamed
    // with it). The start-up files are kept by the mount namespace and the write broker.
    assert_eq!(e.carved, vec![home.clone()]);
    for stood_in in [".ssh", ".aws", ".npmrc", ".config/cordon"] {
        assert!(
            e.stand_ins.contains(&home.join(stood_in)),
            "{stood_in}: {e:?}"
        );
    }
    assert!(e.never.contains(&home.join(".config/cordon")));
    for (action, target) in [
        ("read", ".ssh/id_ed25519"),
        ("read", ".aws/credentials"),
        ("append", ".config/cordon/policy.yaml"),
        ("read", ".config/cordon/keys/signing.pem"),
        ("write", ".config/cordon/approvers"),
        ("mkdir", ".config/cordon/new"),
        ("rename", ".ssh"),
    ] {
        let (line, _) = probe_at(&conf, &home, &[action, target, "project/ssh"]);
        assert!(
            matches!(errno_of(&line), Some(EACCES | libc::EBUSY)),
            "{action} {target}: {line}"
        );
    }
    // The start-up files: read-only where they exist, not to be made where they do not.
    for (action, target) in [
        ("append", ".bashrc"),
        ("write", ".bash_profile"),
        ("unlink", ".gitconfig"),
        ("rename", ".gitconfig"),
    ] {
        let (line, _) = probe_at(&conf, &home, &[action, target, "project/gitconfig"]);
        assert!(
            matches!(errno_of(&line), Some(EROFS | libc::EBUSY | EACCES)),
            "{action} {target}: {line}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# rc"
    );
    assert!(home.join(".gitconfig").exists());
    // `.ssh` exists, so the closed stand-in directory is mounted over it: nothing opens there.
    let (line, _) = probe_at(&conf, &home, &["write", ".ssh/authorized_keys"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let (line, _) = probe_at(&conf, &home, &["readdir", ".ssh"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    assert!(!home.join(".ssh/authorized_keys").exists());
    // The price of granting around the stand-in: nothing new directly in the home (documented).
    let (line, _) = probe_at(&conf, &home, &["write", "new-notes.txt"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    assert!(!home.join(".bash_profile").exists());
    assert_eq!(
        std::fs::read_to_string(home.join(".config/cordon/policy.yaml")).unwrap(),
        "policy"
    );
}

#[test]
fn cat32_a_grant_is_made_on_the_file_that_was_judged_not_on_the_path_later() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    std::os::unix::fs::symlink(h.path("shared"), ws.join("data")).unwrap();
    // The policy judges the real path (`shared`), and the grant is made on that descriptor.
    let judged = resolve_real("data", &ws).unwrap();
    assert_eq!(judged.path(), h.path("shared"));
    // Then the link is swapped to point at the credentials.
    std::fs::remove_file(ws.join("data")).unwrap();
    std::os::unix::fs::symlink(h.path(".aws"), ws.join("data")).unwrap();
    let conf = h.confinement().grant(Grant {
        target: judged,
        access: GrantAccess::Read,
    });
    let (line, _) = probe_at(&conf, &ws, &["read", "data/credentials"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    // Positive control: what was judged is what is granted.
    let (line, report) = probe_at(&conf, &ws, &["read", &s(&h.path("shared/data.txt"))]);
    assert_eq!(line, "ok");
    assert!(report
        .enforcement
        .landlock
        .read_paths
        .contains(&h.path("shared")));
}

#[test]
fn the_receipt_lists_the_envelope_that_was_enforced() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let (line, report) = probe_at(&h.confinement(), &h.project(), &["read", "src/main.rs"]);
    assert_eq!(line, "ok");
    let e = &report.enforcement.envelope;
    assert!(e.enforced, "{e:?}");
    assert_eq!(e.write[0], h.project());
    assert_eq!(
        e.write.len(),
        2,
        "the workspace and the private TMPDIR: {e:?}"
    );
    assert_eq!(e.list, vec![h.home.clone()]);
    for n in [".ssh", ".aws", ".npmrc", ".config/cordon"] {
        assert!(e.never.contains(&h.path(n)), "{n} in {:?}", e.never);
    }
    for n in [".bashrc", ".bash_profile", ".gitconfig"] {
        assert!(e.read_only.contains(&h.path(n)), "{n} in {:?}", e.read_only);
    }
    assert_eq!(e.stand_ins, vec![h.path(".npmrc")]);
    assert!(e.carved.is_empty());
    let json = serde_json::to_value(&report.enforcement).unwrap();
    assert_eq!(json["envelope"]["list"][0], s(&h.home));
    assert_eq!(json["landlock"]["list_paths"][0], s(&h.home));
    // Local mode enforces no envelope and says so.
    let plan = Plan {
        commands: vec![PlannedCommand::new("t", ["/bin/true"], "/")],
    };
    let local = run(&plan, &Confinement::local(), &quiet()).unwrap();
    assert!(!local.enforcement.envelope.enforced);
    assert_eq!(
        local.enforcement.envelope.notes,
        vec!["not requested (local mode)".to_string()]
    );
}

#[test]
fn a_closed_file_that_exists_reads_as_empty_and_cannot_be_written() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let conf = h.confinement();
    let ws = h.project();
    let npmrc = h.path(".npmrc");
    // Positive control: outside the sandbox the token is there.
    assert!(std::fs::read_to_string(&npmrc)
        .unwrap()
        .contains("npm-secret"));
    let (code, out) = sh(
        &conf,
        &ws,
        &format!("cat {} && echo read-nothing", s(&npmrc)),
    );
    assert_eq!((code, out.as_str()), (0, "read-nothing\n"));
    // Landlock answers first: the stand-in is granted read only.
    let (line, report) = probe_at(&conf, &ws, &["append", &s(&npmrc)]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    // Removing it needs the home directory's write rights, which the envelope does not give.
    let (line, _) = probe_at(&conf, &ws, &["unlink", &s(&npmrc)]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let pm = &report.enforcement.protected_metadata;
    assert!(pm
        .paths
        .iter()
        .any(|p| p.path == npmrc && p.how == cordon_sandbox::Protection::Emptied));
    // A start-up file is readable (git reads ~/.gitconfig) and never written.
    let (line, _) = probe_at(&conf, &ws, &["read", &s(&h.path(".gitconfig"))]);
    assert_eq!(line, "ok");
    let (line, _) = probe_at(&conf, &ws, &["append", &s(&h.path(".gitconfig"))]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    assert_eq!(
        std::fs::read_to_string(h.path(".gitconfig")).unwrap(),
        "[user]"
    );
}

#[test]
fn a_closed_file_in_no_listed_directory_stays_closed_and_costs_no_mount_namespace() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    // A CSC profile: no workspace, nothing listed; the contract's scope is granted on its own.
    let key = h.path("shared/signing.pem");
    std::fs::write(&key, "key").unwrap();
    let envelope = Envelope::without_workspace()
        .cordon_home(h.path(".config/cordon"))
        .never([".ssh", ".aws", ".npmrc", "shared/signing.pem"].map(|n| h.path(n)))
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope)).grant(Grant {
        target: resolve_real(h.project(), "/").unwrap(),
        access: GrantAccess::Read,
    });
    let (line, report) = probe_at(&conf, &h.project(), &["read", &s(&h.path(".npmrc"))]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let (line, _) = probe_at(&conf, &h.project(), &["read", &s(&key)]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let e = &report.enforcement;
    no_stand_in_and_no_mount_namespace(e);
    // Positive control: the contract's scope is readable, and with the home listed (a workspace
    // envelope) the same closed file is stood in for, in a mount namespace.
    let (line, _) = probe_at(
        &conf,
        &h.project(),
        &["read", &s(&h.path("project/src/main.rs"))],
    );
    assert_eq!(line, "ok");
    let (line, report) = probe_at(
        &h.confinement(),
        &h.project(),
        &["read", &s(&h.path(".npmrc"))],
    );
    assert_eq!(line, "ok");
    let e = &report.enforcement;
    assert_eq!(e.envelope.stand_ins, vec![h.path(".npmrc")]);
    assert!(
        e.namespaces.iter().any(|n| n == "mnt"),
        "{:?}",
        e.namespaces
    );
}

#[test]
fn files_named_like_credentials_in_the_workspace_read_as_empty() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    std::fs::create_dir_all(ws.join("config")).unwrap();
    std::fs::write(ws.join(".env"), "API_KEY=env-secret").unwrap();
    std::fs::write(ws.join("config/.env.local"), "API_KEY=local-secret").unwrap();
    std::fs::write(ws.join(".env.example"), "API_KEY=").unwrap();
    let envelope = Envelope::builder(&ws)
        .home(&h.home)
        .never_names([".env", ".env.local", "*.pem"])
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    // Positive control: outside the sandbox, and an ordinary file inside it, read as written.
    assert_eq!(probe_bare(&["read", &s(&ws.join(".env"))]), "ok");
    let (code, out) = sh(
        &conf,
        &ws,
        "cat .env config/.env.local; echo; cat .env.example src/main.rs",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "\nAPI_KEY=fn main() {}");
    // Only the stand-in's own read rule applies to it (EACCES), and its mount is read-only.
    let (line, report) = probe_at(&conf, &ws, &["append", ".env"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let stood_in = &report.enforcement.envelope.stand_ins;
    assert!(stood_in.contains(&ws.join(".env")), "{stood_in:?}");
    assert!(
        stood_in.contains(&ws.join("config/.env.local")),
        "{stood_in:?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join(".env")).unwrap(),
        "API_KEY=env-secret"
    );
    // A glob with a slash is refused when the envelope is built.
    let err = Envelope::builder(&ws)
        .never_names(["config/.env"])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("has a slash"), "{err}");
}

/// The search for files named like credentials has no depth limit, follows a link by such a
/// name to its target, and leaves a file to git whose exact contents the repository stores: an
/// empty stand-in would be committed over it (red-team round 3: `git commit -a` did). An index
/// entry alone proves nothing, since commands write the index (round 4: `git add -N .env`).
#[test]
fn credentials_are_found_at_any_depth_and_files_git_holds_are_left_to_git() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&ws)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "."]);
    std::fs::create_dir_all(ws.join("tests/fixtures")).unwrap();
    std::fs::write(ws.join("tests/fixtures/cert.pem"), "FIXTURE").unwrap();
    std::fs::write(ws.join("tests/fixtures/changed.pem"), "COMMITTED").unwrap();
    std::fs::write(ws.join(".gitignore"), ".env\nsecrets/\n").unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "fixtures"]);
    // Changed since the commit: what the file holds now is not in the repository.
    std::fs::write(ws.join("tests/fixtures/changed.pem"), "CHANGED-SECRET").unwrap();
    let deep = ws.join("services/api/config/env/prod/app");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join(".env"), "DEEP=secret").unwrap();
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::write(ws.join("secrets/real.txt"), "LINKED=secret").unwrap();
    std::os::unix::fs::symlink("../secrets/real.txt", ws.join("services/.env")).unwrap();
    // An entry a command could have made: intent to add (the empty blob's id).
    git(&["add", "-N", "-f", "services/api/config/env/prod/app/.env"]);
    // Inside a protected directory (red-team round 4: `.devcontainer/.env` read in full).
    std::fs::create_dir_all(ws.join(".devcontainer")).unwrap();
    std::fs::write(ws.join(".devcontainer/.env"), "DEVC=secret").unwrap();
    // A fixture not yet committed is a file like any other: stood in for (the control).
    std::fs::write(ws.join("tests/fixtures/new.pem"), "NEW").unwrap();
    let envelope = Envelope::builder(&ws)
        .home(&h.home)
        .never_names([".env", "*.pem"])
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    let (code, out) = sh(
        &conf,
        &ws,
        "cat services/api/config/env/prod/app/.env services/.env secrets/real.txt tests/fixtures/new.pem .devcontainer/.env; echo; cat tests/fixtures/cert.pem; echo; \
         cat tests/fixtures/changed.pem 2>&1 | grep -c 'Permission denied'; \
         git status --porcelain tests; \
         git -c user.name=t -c user.email=t@t commit -qam wip 2>/dev/null || echo refused",
    );
    assert_eq!(code, 0, "{out}");
    // The committed fixture reads as written and leaves `git status` clean; the untracked one is
    // stood in for; the changed one is sealed, so the commit that would have emptied it fails;
    // so is the one `git add -N` entered (its entry holds no contents of its), and reading it
    // says so (stderr follows stdout here).
    assert_eq!(
        out,
        "\nFIXTURE\n1\n M tests/fixtures/changed.pem\n?? tests/fixtures/new.pem\nrefused\n\
         cat: services/api/config/env/prod/app/.env: Permission denied\n"
    );
    let committed = std::process::Command::new("git")
        .args(["show", "HEAD:tests/fixtures/changed.pem"])
        .current_dir(&ws)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&committed.stdout), "COMMITTED");
    // A file left readable gets no second name (red-team round six linked a committed `.env`,
    // then read what the user wrote into it later); any other file does (the control).
    let (line, _) = probe_at(&conf, &ws, &["link", "tests/fixtures/cert.pem", "copy.txt"]);
    assert_eq!(errno_of(&line), Some(libc::EPERM), "{line}");
    let (line, _) = probe_at(&conf, &ws, &["link", ".gitignore", "copy.txt"]);
    assert!(line.starts_with("ok"), "{line}");
    // Nor a credential's name for a file that has another (round seven: `.env` renamed away,
    // then linked back as `.env`), by a link or by a rename of a file with two names.
    let (line, _) = probe_at(&conf, &ws, &["link", "copy.txt", "tests/fixtures/x.pem"]);
    assert_eq!(errno_of(&line), Some(libc::EPERM), "{line}");
    let (line, _) = probe_at(&conf, &ws, &["rename", "copy.txt", "tests/fixtures/x.pem"]);
    assert_eq!(errno_of(&line), Some(libc::EPERM), "{line}");
    // Controls: a file with one name takes a credential's name (`mv .env.tmp .env`).
    std::fs::write(ws.join("single.txt"), "s").unwrap();
    let (line, _) = probe_at(
        &conf,
        &ws,
        &["rename", "single.txt", "tests/fixtures/y.pem"],
    );
    assert!(line.starts_with("ok"), "{line}");
    let (_, report) = probe_at(&conf, &ws, &["read", "tests/fixtures/cert.pem"]);
    let stood_in = &report.enforcement.envelope.stand_ins;
    for closed in [
        deep.join(".env"),
        ws.join("secrets/real.txt"),
        ws.join("tests/fixtures/new.pem"),
        ws.join("tests/fixtures/changed.pem"),
        ws.join(".devcontainer/.env"),
    ] {
        assert!(stood_in.contains(&closed), "{closed:?} in {stood_in:?}");
    }
    assert!(!stood_in.contains(&ws.join("tests/fixtures/cert.pem")));
    let notes = &report.enforcement.protected_metadata.notes;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("cert.pem is named like a credential but git already stores")),
        "{notes:?}"
    );
}

/// A directory holding a stand-in cannot be renamed (EXDEV, so `mv` copies): renamed, it would
/// carry the real file behind the stand-in to a name the next run's search skips (red-team round
/// 4: `mv services target`).
#[test]
fn a_directory_holding_a_stood_in_secret_stays_where_it_is() {
    require_broker!();
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    std::fs::create_dir_all(ws.join("services/api")).unwrap();
    std::fs::write(ws.join("services/api/.env"), "DB_PASS=deep").unwrap();
    std::fs::create_dir_all(ws.join("plain/sub")).unwrap();
    std::fs::write(ws.join("plain/sub/notes.txt"), "notes").unwrap();
    let envelope = Envelope::builder(&ws)
        .home(&h.home)
        .never_names([".env"])
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    let (_, out) = sh(
        &conf,
        &ws,
        "mv services target 2>/dev/null; mv services/api api 2>/dev/null; \
         echo \"[$(cat target/api/.env)]\"; ls services/api -A; \
         mv plain moved && cat moved/sub/notes.txt",
    );
    // The copies hold the stand-in's emptiness; the originals stay, behind their stand-in.
    assert_eq!(out, "[]\n.env\nnotes", "{out}");
    assert_eq!(
        std::fs::read_to_string(ws.join("services/api/.env")).unwrap(),
        "DB_PASS=deep"
    );
    assert!(ws.join("moved/sub/notes.txt").exists());
    // The refusal itself, by the syscall: EXDEV for the holder, success for the plain one
    // (the positive control).
    let (line, _) = probe_at(&conf, &ws, &["rename", "services", "elsewhere"]);
    assert_eq!(errno_of(&line), Some(libc::EXDEV), "{line}");
    let (line, _) = probe_at(&conf, &ws, &["rename", "moved", "plain"]);
    assert!(line.starts_with("ok"), "{line}");
}

#[test]
fn cordons_home_inside_the_workspace_is_closed_and_the_workspace_stays_writable() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    let cordon_home = ws.join(".cordon");
    std::fs::create_dir_all(cordon_home.join("keys")).unwrap();
    std::fs::write(cordon_home.join("policy.yaml"), "policy").unwrap();
    std::fs::write(cordon_home.join("keys/signing.pem"), "key").unwrap();
    let envelope = Envelope::builder(&ws)
        .home(&h.home)
        .cordon_home(&cordon_home)
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    // Positive control: a new file directly in the workspace (no granting around needed).
    let (line, report) = probe_at(&conf, &ws, &["write", "new.txt"]);
    assert_eq!(line, "ok");
    assert!(report.enforcement.envelope.carved.is_empty());
    assert_eq!(
        report.enforcement.envelope.stand_ins,
        vec![cordon_home.clone()]
    );
    for (action, target) in [
        ("read", ".cordon/policy.yaml"),
        ("append", ".cordon/policy.yaml"),
        ("read", ".cordon/keys/signing.pem"),
        ("readdir", ".cordon"),
        ("write", ".cordon/approvers"),
    ] {
        let (line, _) = probe_at(&conf, &ws, &[action, target]);
        assert_eq!(errno_of(&line), Some(EACCES), "{action} {target}: {line}");
    }
    // It cannot be moved aside and replaced: it is a mount point.
    let (line, _) = probe_at(&conf, &ws, &["rename", ".cordon", "aside"]);
    assert_eq!(errno_of(&line), Some(libc::EBUSY), "{line}");
    assert_eq!(
        std::fs::read_to_string(cordon_home.join("policy.yaml")).unwrap(),
        "policy"
    );
}

/// A closed path two levels down in the workspace (a journal kept in `audit/`) is mounted over,
/// and the mount point cannot be renamed; the directory holding it could be, which would leave
/// the real journal under a new name that the next run does not close. So the workspace is
/// granted around it down to the hole's parent.
#[test]
fn a_directory_holding_a_closed_path_cannot_be_moved_from_under_its_name() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    let journal = ws.join("audit/journal");
    std::fs::create_dir_all(&journal).unwrap();
    std::fs::write(journal.join("entries.jsonl"), "entries").unwrap();
    std::fs::write(ws.join("audit/notes.txt"), "notes").unwrap();
    let envelope = Envelope::builder(&ws)
        .home(&h.home)
        .cordon_home(h.path(".config/cordon"))
        .never([journal.clone()])
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    let (line, report) = probe_at(&conf, &ws, &["rename", "audit", "moved"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    assert_eq!(report.enforcement.envelope.stand_ins, vec![journal.clone()]);
    assert!(
        report.enforcement.envelope.carved.contains(&ws),
        "{:?}",
        report.enforcement.envelope
    );
    // The journal itself stays closed and cannot be moved (a mount point).
    let (line, _) = probe_at(&conf, &ws, &["read", "audit/journal/entries.jsonl"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let (line, _) = probe_at(&conf, &ws, &["rename", "audit/journal", "audit/moved"]);
    assert_eq!(errno_of(&line), Some(libc::EBUSY), "{line}");
    // Positive controls: the hole's parent and the rest of the workspace stay writable, and a
    // rename there works.
    let (line, _) = probe_at(
        &conf,
        &ws,
        &["rename", "audit/notes.txt", "audit/renamed.txt"],
    );
    assert_eq!(line, "ok");
    let (line, _) = probe_at(&conf, &ws, &["write", "src/new.rs"]);
    assert_eq!(line, "ok");
    assert!(journal.join("entries.jsonl").exists());
    assert!(!ws.join("moved").exists());
}

#[test]
fn closed_paths_nested_in_a_closed_directory_are_hidden_with_it() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    let ws = h.project();
    let cordon_home = ws.join(".cordon");
    std::fs::create_dir_all(cordon_home.join("state/.git/hooks")).unwrap();
    std::fs::write(cordon_home.join("state/.env"), "SECRET=1").unwrap();
    std::fs::write(cordon_home.join("policy.yaml"), "policy").unwrap();
    let envelope = Envelope::builder(&ws)
        .cordon_home(&cordon_home)
        .never([cordon_home.join("policy.yaml")])
        .never_names([".env"])
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope));
    // The command runs (no mount is attempted inside the hidden directory) and sees nothing.
    let (line, report) = probe_at(&conf, &ws, &["read", ".cordon/policy.yaml"]);
    assert_eq!(errno_of(&line), Some(EACCES), "{line}");
    let paths = &report.enforcement.protected_metadata.paths;
    assert!(
        !paths
            .iter()
            .any(|p| p.path.starts_with(&cordon_home) && p.path != cordon_home),
        "{paths:?}"
    );
    assert_eq!(probe_at(&conf, &ws, &["write", "ok.txt"]).0, "ok");
}

#[test]
fn cordons_home_inside_a_read_only_scope_is_granted_around_without_a_mount_namespace() {
    if landlock_missing() {
        return;
    }
    let h = Home::new();
    // A CSC contract that reads a directory holding cordon's home (as the benchmark's does).
    let scope = h.path("scope");
    let cordon_home = scope.join("home");
    std::fs::create_dir_all(cordon_home.join("keys")).unwrap();
    std::fs::write(cordon_home.join("keys/signing.pem"), "key").unwrap();
    std::fs::write(cordon_home.join("policy.yaml"), "policy").unwrap();
    std::fs::write(scope.join("contract.json"), "{}").unwrap();
    let envelope = Envelope::without_workspace()
        .cordon_home(&cordon_home)
        .build()
        .unwrap();
    let conf = with_probe(Confinement::within(envelope)).grant(Grant {
        target: resolve_real(&scope, "/").unwrap(),
        access: GrantAccess::Read,
    });
    for (action, target) in [
        ("read", cordon_home.join("keys/signing.pem")),
        ("read", cordon_home.join("policy.yaml")),
        ("write", cordon_home.join("approvers")),
    ] {
        let (line, report) = probe_at(&conf, &scope, &[action, &s(&target)]);
        assert_eq!(errno_of(&line), Some(EACCES), "{action} {target:?}: {line}");
        let e = &report.enforcement;
        assert!(
            e.envelope.carved.contains(&scope),
            "{:?}",
            e.envelope.carved
        );
        no_stand_in_and_no_mount_namespace(e);
    }
    // Positive controls: the rest of the scope reads, and its names (the home's included) list.
    let (line, _) = probe_at(&conf, &scope, &["read", &s(&scope.join("contract.json"))]);
    assert_eq!(line, "ok");
    let (line, _) = probe_at(&conf, &scope, &["readdir", &s(&scope)]);
    assert!(line.starts_with("ok"), "{line}");
    // Outside the sandbox the key reads: the refusal is the envelope's.
    assert_eq!(
        probe_bare(&["read", &s(&cordon_home.join("keys/signing.pem"))]),
        "ok"
    );
}

/// The run mounted no stand-in and made no mount namespace.
/// Nothing was stood in for, and no mount namespace was made for it: one is made only when the
/// host has Unix sockets to cover (`host_sockets.rs`), and then nothing else is mounted.
fn no_stand_in_and_no_mount_namespace(e: &cordon_sandbox::EnforcementReport) {
    assert!(
        e.envelope.stand_ins.is_empty(),
        "{:?}",
        e.envelope.stand_ins
    );
    if e.envelope.unix_sockets_closed.is_empty() {
        assert!(
            !e.namespaces.iter().any(|n| n == "mnt"),
            "{:?}",
            e.namespaces
        );
    }
    assert!(
        e.protected_metadata
            .paths
            .iter()
            .all(|p| p.how == cordon_sandbox::Protection::Unreachable),
        "{:?}",
        e.protected_metadata.paths
    );
}

/// Runs git outside any sandbox, as the user set the repositories up.
fn host_git(dir: &Path, args: &str) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "git -c user.name=u -c user.email=u@example.invalid {args}"
        ))
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args}");
}

/// A workspace whose repository's git directory lies outside it (a linked worktree, a
/// subdirectory of a repository) gets that git directory: git works there and commits, while
/// the directory's hooks and config stay protected. A `.git` file the agent wrote, naming a
/// repository whose records do not lead back to the workspace, grants nothing (working day
/// fourteen: "every git command fails with not a git repository").
#[test]
fn a_workspace_that_is_a_worktree_or_a_subdirectory_gets_its_repositorys_git_directory() {
    if skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode") {
        return;
    }
    let h = Home::new();
    let main = h.path("main");
    std::fs::create_dir_all(main.join("sub")).unwrap();
    std::fs::write(main.join("sub/s"), "s\n").unwrap();
    host_git(&main, "init -q -b main && git add . && git -c user.name=u -c user.email=u@example.invalid commit -qm one");
    host_git(&main, "worktree add -q ../wt -b feat");
    let commit = "echo x > f && git add f && git -c user.name=a -c user.email=a@example.invalid commit -qm agent && git log --format=%s -1";
    for workspace in [h.path("wt"), main.join("sub")] {
        let conf = Confinement::within(h.envelope(&workspace));
        let (code, out) = sh(&conf, &workspace, commit);
        assert_eq!(
            (code, out.as_str()),
            (0, "agent\n"),
            "{}",
            workspace.display()
        );
        // The git directory's hooks and config stay the user's.
        let (_, out) = sh(
            &conf,
            &workspace,
            &format!(
                "echo pwn > {hooks}/pre-commit || echo hook-refused; echo '[core]' >> {git}/config || echo config-refused",
                hooks = s(&main.join(".git/hooks")),
                git = s(&main.join(".git")),
            ),
        );
        assert!(
            out.contains("hook-refused") && out.contains("config-refused"),
            "{out}"
        );
    }
    assert!(!main.join(".git/hooks/pre-commit").exists());
    // A `.git` file naming a repository whose records do not name the workspace.
    let other = h.path("project");
    std::fs::write(
        other.join(".git"),
        format!("gitdir: {}\n", s(&main.join(".git/worktrees/wt"))),
    )
    .unwrap();
    let envelope = h.envelope(&other);
    assert!(
        !envelope.write.iter().any(|w| w.starts_with(&main)),
        "{:?}",
        envelope.write
    );
    // Positive control: the worktree's own envelope has it.
    assert!(h.envelope(&h.path("wt")).write.contains(&main.join(".git")));
    // Red-team round fifteen: records forged inside a directory the command wrote (a worktree's
    // `gitdir` and `commondir`, the common directory a link to another repository) grant
    // nothing: git keeps a worktree's records in its common directory's `worktrees`.
    let forged = h.path("project/forged");
    std::fs::create_dir_all(forged.join("adm")).unwrap();
    std::fs::create_dir_all(forged.join("sub")).unwrap();
    std::os::unix::fs::symlink(main.join(".git"), forged.join("cd")).unwrap();
    std::fs::write(forged.join("adm/commondir"), "../cd\n").unwrap();
    std::fs::write(forged.join("adm/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(
        forged.join("adm/gitdir"),
        format!("{}\n", s(&forged.join("sub/.git"))),
    )
    .unwrap();
    std::fs::write(forged.join("sub/.git"), "gitdir: ../adm\n").unwrap();
    let envelope = h.envelope(&forged.join("sub"));
    assert!(
        !envelope.write.iter().any(|w| w.starts_with(&main)),
        "{:?}",
        envelope.write
    );
    // A home kept as a repository (dotfiles) is no workspace's repository: its history holds the
    // start-up files a commit could bring back.
    host_git(&h.home, "init -q");
    std::fs::remove_file(other.join(".git")).unwrap();
    let envelope = h.envelope(&other);
    assert!(
        !envelope.write.iter().any(|w| w.ends_with(".git")),
        "{:?}",
        envelope.write
    );
    // Nor through a worktree of it, git's own records and all.
    std::fs::write(h.home.join("dot"), "x\n").unwrap();
    host_git(&h.home, "add dot && git -c user.name=u -c user.email=u@example.invalid commit -qm dot && git worktree add -q dotwt");
    let envelope = h.envelope(&h.path("dotwt"));
    assert!(
        !envelope.write.contains(&h.home.join(".git")),
        "{:?}",
        envelope.write
    );
}
