//! The grants beyond the envelope (`cordon_governor::envelope`), in process on a real file
//! system, nothing started: every path a command names is resolved, and only what a person
//! approved as written (or a CSC profile's prefixes allow, on the real path) is granted. Each
//! refusal has its control: the same path granted where the rule allows it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_core::contract::Command;
use cordon_core::policy::LoadedPolicy;
use cordon_governor::{EnvelopeInForce, EnvelopeSource, Ledger, Mode, PolicyInForce};
use cordon_policy::native::LoadedNativePolicy;
use cordon_sandbox::GrantAccess;
use serde_json::json;

/// A home with the workspace `~/ws`, credentials, a start-up file, a project next door and a
/// key kept outside cordon's home.
struct World {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in [
            "user/ws/.git/hooks",
            "user/ws/src",
            "user/.ssh",
            "other",
            "keys",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in [
            "user/ws/.git/hooks/pre-commit",
            "user/.ssh/config",
            "user/.bashrc",
            "other/notes.txt",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        cordon_journal::keys::generate(&root.join("keys"), Some("k")).unwrap();
        World { _dir: dir, root }
    }

    fn p(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn ws(&self) -> PathBuf {
        self.p("user/ws")
    }

    fn source(&self, policy: PolicyInForce) -> EnvelopeSource {
        EnvelopeSource {
            policy: Arc::new(policy),
            workspace: self.ws(),
            home: self.p("user"),
            cordon_home: self.p("user/.config/cordon"),
        }
    }

    /// The default pack's envelope, with the signing key `keys/k.pem` closed too.
    fn default_pack(&self) -> EnvelopeInForce {
        let pack = PolicyInForce::Native(LoadedNativePolicy::default_pack().unwrap());
        EnvelopeInForce::build(&self.source(pack), &self.ledger(), &[]).unwrap()
    }

    /// A CSC profile that may read the workspace and `other`, and write the workspace.
    fn csc(&self) -> EnvelopeInForce {
        let ws = self.ws().display().to_string();
        let other = self.p("other").display().to_string();
        let profile = json!({
            "policy_schema_version": "csc.policy.v0.1",
            "name": "t",
            "allow_commands": ["cat"],
            "allowed_effect_types": ["observe", "transform_local"],
            "allowed_risk_classes": ["low"],
            "max_timeout_sec": 30,
            "network": "deny",
            "allow_secret_refs": false,
            "allowed_cwd_prefixes": [ws],
            "allowed_read_prefixes": [ws, other],
            "allowed_write_prefixes": [ws],
        });
        let loaded = LoadedPolicy::from_value(profile).unwrap();
        let source = self.source(PolicyInForce::Csc(Box::new(loaded)));
        EnvelopeInForce::build(&source, &self.ledger(), &[]).unwrap()
    }

    fn ledger(&self) -> Ledger {
        Ledger::open(Some((&self.p("keys/k.pem"), "k")), None, Mode::Hardened).unwrap()
    }

    fn command(&self, reads: &[&Path], writes: &[&Path]) -> Command {
        let text = |paths: &[&Path]| -> Vec<String> {
            paths.iter().map(|p| p.display().to_string()).collect()
        };
        serde_json::from_value(json!({
            "id": "c1",
            "exec": {"argv": ["true"]},
            "cwd": self.ws(),
            "read_paths": text(reads),
            "write_paths": text(writes),
            "network": "deny",
            "env_allow": [],
            "secret_refs": [],
            "timeout_sec": 10,
            "proposed_effect_type": "transform_local"
        }))
        .unwrap()
    }
}

/// What `command` is granted, as (real path, access).
fn granted(e: &EnvelopeInForce, command: &Command, approved: bool) -> Vec<(PathBuf, GrantAccess)> {
    e.grants_for(command, approved)
        .unwrap()
        .into_iter()
        .map(|g| (g.target.path().to_path_buf(), g.access))
        .collect()
}

fn read(path: &Path) -> (PathBuf, GrantAccess) {
    (path.to_path_buf(), GrantAccess::Read)
}

fn write(path: &Path) -> (PathBuf, GrantAccess) {
    (path.to_path_buf(), GrantAccess::Write)
}

#[test]
fn inside_the_envelope_nothing_is_granted_and_the_key_is_closed() {
    let w = World::new();
    let e = w.default_pack();
    // The workspace, and the home's `~/.cache`, which the envelope makes on a fresh home (and
    // `~/.npm` where npm is installed).
    let npm = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join("npm").is_file()));
    let mut written = vec![w.ws(), w.p("user/.cache")];
    if npm {
        written.push(w.p("user/.npm"));
    }
    assert_eq!(e.envelope.write, written);
    assert!(e.envelope.never.contains(&w.p("keys/k.pem")));
    assert!(e.envelope.never.contains(&w.p("user/.ssh")));
    let c = w.command(&[&w.ws().join("src")], &[&w.ws().join("src/new.rs")]);
    assert_eq!(granted(&e, &c, true), []);
}

#[test]
fn an_allowed_text_gets_nothing_beyond_the_envelope_and_an_approved_one_what_it_named() {
    let w = World::new();
    let e = w.default_pack();
    let notes = w.p("other/notes.txt");
    let new_file = w.p("other/new.txt");
    let c = w.command(&[&notes], &[&new_file]);
    assert_eq!(granted(&e, &c, false), []);
    // Control: approved, the file named and the directory a new file is made in.
    assert_eq!(granted(&e, &c, true), [read(&notes), write(&w.p("other"))]);
    // A new file two levels down would need its grandparent: never granted, even approved.
    let deep = w.command(&[], &[&w.p("other/a/b.txt")]);
    assert_eq!(granted(&e, &deep, true), []);
}

#[test]
fn a_link_or_a_proc_path_is_judged_where_it_leads_and_an_approval_does_not_follow_it() {
    let w = World::new();
    let e = w.default_pack();
    symlink(w.p("other"), w.ws().join("lnk")).unwrap();
    let through_link = w.ws().join("lnk/notes.txt");
    let through_proc = PathBuf::from(format!(
        "/proc/self/root{}",
        w.p("other/notes.txt").display()
    ));
    for path in [through_link, through_proc] {
        let c = w.command(&[&path], &[&path]);
        assert_eq!(granted(&e, &c, true), [], "{}", path.display());
    }
    // A link inside the workspace into the workspace needs nothing either.
    symlink(w.ws().join("src"), w.ws().join("s")).unwrap();
    let c = w.command(&[], &[&w.ws().join("s/x.rs")]);
    assert_eq!(granted(&e, &c, false), []);
    // `/dev/stdin` is cordon's own descriptor here; nothing is granted on it.
    let c = w.command(&[&PathBuf::from("/dev/stdin")], &[]);
    assert_eq!(granted(&e, &c, true), []);
}

#[test]
fn read_only_names_open_only_to_an_approval_of_the_name_and_never_paths_to_nothing() {
    let w = World::new();
    let e = w.default_pack();
    let hook = w.ws().join(".git/hooks/pre-commit");
    let c = w.command(&[], &[&hook]);
    assert_eq!(granted(&e, &c, false), []);
    assert_eq!(granted(&e, &c, true), [write(&hook)]);
    // Through a link, even approved: the person saw the link.
    symlink(w.ws().join(".git/hooks"), w.ws().join("h")).unwrap();
    let c = w.command(&[], &[&w.ws().join("h/pre-commit")]);
    assert_eq!(granted(&e, &c, true), []);
    // Never paths: the credentials, the key, even approved and named as they are.
    for closed in [w.p("user/.ssh/config"), w.p("keys/k.pem")] {
        let c = w.command(&[&closed], &[&closed]);
        assert_eq!(granted(&e, &c, true), [], "{}", closed.display());
    }
    // A start-up file: the envelope reads it already, and nothing writes it, approved or not.
    let bashrc = w.p("user/.bashrc");
    assert!(e.envelope.read.contains(&bashrc));
    let c = w.command(&[&bashrc], &[&bashrc]);
    assert_eq!(granted(&e, &c, true), []);
}

#[test]
fn a_csc_profile_grants_its_prefixes_on_the_real_path_and_refuses_a_missing_scope() {
    let w = World::new();
    let e = w.csc();
    // No workspace: the declared scopes are what is granted.
    assert!(e.envelope.write.is_empty());
    let notes = w.p("other/notes.txt");
    let c = w.command(&[&w.ws(), &notes], &[&w.ws().join("src")]);
    assert_eq!(
        granted(&e, &c, false),
        [read(&w.ws()), read(&notes), write(&w.ws().join("src"))]
    );
    // A declared read scope whose real path leaves the prefixes: not granted.
    symlink(w.p("user/.bashrc"), w.ws().join("rc")).unwrap();
    let c = w.command(&[&w.ws().join("rc")], &[]);
    assert_eq!(granted(&e, &c, false), [read(&w.ws())]);
    // A declared write path that does not exist, under no other declared one: refused.
    let missing = w.ws().join("out/report.xml");
    let c = w.command(&[], &[&missing]);
    let err = e.grants_for(&c, false).unwrap_err();
    assert_eq!(
        err,
        format!(
            "command c1: the declared write path {} does not exist and is not under another declared write path; cordon grants a contract's scopes as declared",
            missing.display()
        )
    );
    // Control: under another declared write path, it is that one's (the cwd is readable, as
    // in CSC).
    let c = w.command(&[], &[&w.ws().join("src"), &w.ws().join("src/new/x.rs")]);
    assert_eq!(
        granted(&e, &c, false),
        [read(&w.ws()), write(&w.ws().join("src"))]
    );
}

/// Every name the sandbox keeps read-only at a project root is one the default pack asks before
/// writing (rule `agent-and-git-metadata`): the agent's own file tools run unconfined, so the
/// pack is all that stands between them and these names (red-team round five found the pack a
/// round behind the sandbox).
#[test]
fn the_pack_asks_before_writing_every_name_the_sandbox_protects() {
    let pack = cordon_policy::native::DEFAULT_PACK;
    let rule = pack
        .split("  - id: ")
        .find(|r| r.starts_with("agent-and-git-metadata"))
        .expect("the rule is in the pack");
    let missing: Vec<&str> = cordon_sandbox::PROTECTED_NAMES
        .iter()
        .copied()
        // Credential directories: the pack's `credentials` rule judges them by where they are.
        .filter(|name| !matches!(*name, ".aws" | ".ssh"))
        .filter(|name| !rule.contains(&format!("\"**/{name}\"")))
        .collect();
    // The git names too (red-team round sixteen: `.git/remotes` was protected in the sandbox and
    // written by the agent's Write tool).
    assert!(missing.is_empty(), "not asked by the pack: {missing:?}");
}
