#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Rollback trusts only what cordon signed (issue 24). Each attack is done the way an agent that
//! reached cordon's store could do it (by writing files in it directly), and each has a positive
//! control: the untouched checkpoint rolls back exactly.

mod common;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use cordon_checkpoint::rollback::{self, Consent, Options};
use cordon_checkpoint::{snapshot, snapshot_signed, Error, Request, Signer, Store, Summary};
use serde_json::Value;
use sha2::{Digest, Sha256};

use common::{home_key, other_key, project, staging_left, tree};

struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    ws: PathBuf,
    victim: PathBuf,
    store_dir: PathBuf,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let ws = base.join("ws");
    fs::create_dir(&ws).unwrap();
    project(&ws);
    let victim = base.join("victim");
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("keep"), b"the person's file\n").unwrap();
    let store_dir = base.join("home/state/checkpoints");
    let store = Store::open(&store_dir).unwrap();
    Fixture {
        _dir: dir,
        base,
        ws,
        victim,
        store_dir,
        store,
    }
}

impl Fixture {
    fn checkpoint(&self, signer: &Signer) -> Summary {
        snapshot_signed(
            &self.store,
            &Request {
                scopes: vec![self.ws.clone()],
                workspace: Some(self.ws.clone()),
                label: "test".into(),
                ..Request::default()
            },
            signer,
        )
        .unwrap()
    }

    fn manifest(&self, id: &str) -> PathBuf {
        self.store_dir.join("manifests").join(format!("{id}.jsonl"))
    }

    fn reopen(&mut self) {
        self.store = Store::open(&self.store_dir).unwrap();
    }
}

fn damage(ws: &Path) {
    fs::remove_dir_all(ws.join("src")).unwrap();
    fs::write(ws.join(".env"), b"SECRET=stolen\n").unwrap();
    fs::write(ws.join("planted"), b"x").unwrap();
}

fn roll_back(f: &Fixture, id: &str, consent: Consent) -> cordon_checkpoint::Result<()> {
    let (_, keys) = home_key();
    let verified = rollback::verify(&f.store, id, &keys)?;
    rollback::apply(&f.store, &verified, consent, Options::default()).map(|_| ())
}

#[test]
fn an_untouched_signed_checkpoint_rolls_back_exactly() {
    let f = fixture();
    let (signer, keys) = home_key();
    let before = tree(&f.ws);
    let s = f.checkpoint(&signer);
    assert_eq!(s.signed_by.as_deref(), Some("home-key"));
    assert_eq!(s.scopes, vec![f.ws.to_string_lossy().into_owned()]);
    assert!(s.outside_workspace.is_empty());
    damage(&f.ws);
    assert_ne!(tree(&f.ws), before, "positive control: the damage shows");
    let verified = rollback::verify(&f.store, &s.id, &keys).unwrap();
    assert_eq!(verified.scopes()[0].path, f.ws);
    assert!(verified.outside_workspace().is_empty());
    assert_eq!(verified.manifest_sha256(), s.manifest_sha256);
    rollback::apply(&f.store, &verified, Consent::default(), Options::default()).unwrap();
    assert_eq!(tree(&f.ws), before);
    assert!(staging_left(&f.base).is_empty());
}

#[test]
fn a_replaced_index_that_reuses_the_id_cannot_redirect_the_rollback() {
    let mut f = fixture();
    let (signer, _) = home_key();
    let before = tree(&f.ws);
    let victim_before = tree(&f.victim);
    let s = f.checkpoint(&signer);
    damage(&f.ws);
    // The agent replaces the index with one whose row for the same id names the victim.
    let index = f.store_dir.join("index.db");
    drop(std::mem::replace(
        &mut f.store,
        Store::open(&f.base.join("scratch")).unwrap(),
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", index.display()));
    }
    {
        let db = rusqlite::Connection::open(&index).unwrap();
        db.execute_batch(
            "CREATE TABLE checkpoints (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, session TEXT,
               label TEXT NOT NULL, entries INTEGER NOT NULL, bytes INTEGER NOT NULL,
               reflinked INTEGER NOT NULL, copied INTEGER NOT NULL, deduplicated INTEGER NOT NULL);
             CREATE TABLE scopes (checkpoint TEXT NOT NULL, idx INTEGER NOT NULL, path BLOB NOT NULL,
               kind TEXT NOT NULL, PRIMARY KEY (checkpoint, idx));",
        )
        .unwrap();
        db.execute(
            "INSERT INTO checkpoints VALUES (?1, '2026-01-01T00:00:00Z', NULL, 'x', 1, 0, 0, 0, 0)",
            [&s.id],
        )
        .unwrap();
        db.execute(
            "INSERT INTO scopes VALUES (?1, 0, ?2, 'dir')",
            rusqlite::params![s.id, f.victim.to_str().unwrap().as_bytes()],
        )
        .unwrap();
    }
    f.reopen();
    // The index is only a cache: the manifest decides, and the row is rewritten from it.
    let (_, keys) = home_key();
    let verified = rollback::verify(&f.store, &s.id, &keys).unwrap();
    assert!(verified.index_rebuilt);
    assert_eq!(verified.scopes()[0].path, f.ws);
    rollback::apply(&f.store, &verified, Consent::default(), Options::default()).unwrap();
    assert_eq!(tree(&f.victim), victim_before, "the victim was touched");
    assert_eq!(tree(&f.ws), before);
    let listed = cordon_checkpoint::list(&f.store, None).unwrap();
    assert_eq!(listed[0].scopes, vec![f.ws.to_string_lossy().into_owned()]);
}

/// Rewrites a manifest: `edit` changes its header and entries (as JSON values), then the seal
/// is made again with `signer`, or kept as it was when `signer` is `None`.
fn forge(path: &Path, id: &str, signer: Option<&Signer>, edit: impl Fn(&mut Vec<Value>)) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seal = lines.pop().unwrap();
    edit(&mut lines);
    let mut body = Vec::new();
    for line in &lines {
        body.extend(serde_json::to_vec(line).unwrap());
        body.push(b'\n');
    }
    let seal = match signer {
        Some(signer) => {
            let sha = hex::encode(Sha256::digest(&body));
            let object = serde_json::json!({
                "type": "cordon.checkpoint.seal/1", "id": id, "manifest_sha256": sha
            });
            serde_json::json!({"seal": cordon_journal::sign_receipt(&object, signer).unwrap()})
        }
        None => seal,
    };
    body.extend(serde_json::to_vec(&seal).unwrap());
    body.push(b'\n');
    fs::write(path, body).unwrap();
}

fn point_at(victim: &Path) -> impl Fn(&mut Vec<Value>) + '_ {
    move |lines: &mut Vec<Value>| {
        lines[0]["scopes"][0]["path"] = Value::String(hex::encode(victim.to_str().unwrap()));
    }
}

#[test]
fn a_manifest_resigned_with_another_key_or_edited_under_its_seal_is_refused() {
    let f = fixture();
    let (signer, _) = home_key();
    let (agent_key, _) = other_key();
    let before = tree(&f.ws);
    let victim_before = tree(&f.victim);
    let s = f.checkpoint(&signer);
    let path = f.manifest(&s.id);
    let original = fs::read(&path).unwrap();
    damage(&f.ws);
    let damaged = tree(&f.ws);
    type Attack<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Attack<'_>, &str)> = vec![
        (
            "unchanged, re-signed with another key",
            Box::new(|| forge(&path, &s.id, Some(&agent_key), |_| {})),
            "signature does not verify",
        ),
        (
            "scope pointed at the victim, re-signed with another key",
            Box::new(|| forge(&path, &s.id, Some(&agent_key), point_at(&f.victim))),
            "signature does not verify",
        ),
        (
            "scope pointed at the victim, seal kept",
            Box::new(|| forge(&path, &s.id, None, point_at(&f.victim))),
            "changed after it was sealed",
        ),
        (
            "seal removed",
            Box::new(|| {
                let text = String::from_utf8(original.clone()).unwrap();
                let mut lines: Vec<&str> = text.lines().collect();
                lines.pop();
                fs::write(&path, format!("{}\n{{\"seal\":null}}\n", lines.join("\n"))).unwrap();
            }),
            "not signed",
        ),
    ];
    for (case, attack, said) in cases {
        fs::write(&path, &original).unwrap();
        attack();
        let err = roll_back(&f, &s.id, Consent::default()).unwrap_err();
        assert!(matches!(err, Error::Untrusted { .. }), "{case}: {err}");
        assert!(err.to_string().contains(said), "{case}: {err}");
        assert!(
            err.to_string().contains("nothing was changed"),
            "{case}: {err}"
        );
        assert_eq!(tree(&f.victim), victim_before, "{case}");
        assert_eq!(tree(&f.ws), damaged, "{case}");
    }
    // Control: the manifest as cordon wrote it verifies and rolls back exactly.
    fs::write(&path, &original).unwrap();
    roll_back(&f, &s.id, Consent::default()).unwrap();
    assert_eq!(tree(&f.ws), before);
}

#[test]
fn a_seal_taken_from_another_checkpoint_is_refused() {
    let f = fixture();
    let (signer, _) = home_key();
    let first = f.checkpoint(&signer);
    let second = f.checkpoint(&signer);
    // The second checkpoint's whole (validly signed) manifest, under the first one's id.
    fs::copy(f.manifest(&second.id), f.manifest(&first.id)).unwrap();
    let err = roll_back(&f, &first.id, Consent::default()).unwrap_err();
    assert!(err.to_string().contains("another checkpoint"), "{err}");
    // Control: the second one, under its own id, verifies.
    roll_back(&f, &second.id, Consent::default()).unwrap();
}

#[test]
fn an_object_swapped_for_other_bytes_is_refused_and_nothing_changes() {
    let f = fixture();
    let (signer, _) = home_key();
    let before = tree(&f.ws);
    let s = f.checkpoint(&signer);
    damage(&f.ws);
    let damaged = tree(&f.ws);
    let hash = hex::encode(Sha256::digest(b"fn main() {}\n"));
    let object = f.store.object_path(&hash);
    fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).unwrap();
    // Same length, other bytes: only the hash can tell.
    fs::write(&object, b"fn evil() {}\n").unwrap();
    let err = roll_back(&f, &s.id, Consent::default()).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    assert!(err.to_string().contains(&hash), "{err}");
    assert_eq!(tree(&f.ws), damaged, "the scope changed");
    assert!(staging_left(&f.base).is_empty(), "staging left behind");
    // A symlink in its place is not followed either.
    fs::remove_file(&object).unwrap();
    symlink(f.ws.join("run.sh"), &object).unwrap();
    assert!(matches!(
        roll_back(&f, &s.id, Consent::default()).unwrap_err(),
        Error::Damaged { .. }
    ));
    assert_eq!(tree(&f.ws), damaged);
    // Control: with the object's bytes back, the rollback is exact.
    fs::remove_file(&object).unwrap();
    fs::write(&object, b"fn main() {}\n").unwrap();
    roll_back(&f, &s.id, Consent::default()).unwrap();
    assert_eq!(tree(&f.ws), before);
}

#[test]
fn a_deleted_or_unreadable_index_is_rebuilt_from_the_manifests() {
    let mut f = fixture();
    let (signer, keys) = home_key();
    let before = tree(&f.ws);
    let s = f.checkpoint(&signer);
    let index = f.store_dir.join("index.db");
    let wipe = |garbage: Option<&[u8]>| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{suffix}", index.display()));
        }
        if let Some(bytes) = garbage {
            fs::write(&index, bytes).unwrap();
        }
    };
    drop(std::mem::replace(
        &mut f.store,
        Store::open(&f.base.join("scratch")).unwrap(),
    ));
    wipe(None);
    f.reopen();
    assert!(cordon_checkpoint::list(&f.store, None).unwrap().is_empty());
    let listing = cordon_checkpoint::list_verified(&f.store, &keys, None).unwrap();
    assert!(listing.index_rebuilt);
    assert_eq!(listing.checkpoints.len(), 1);
    assert_eq!(listing.checkpoints[0].id, s.id);
    assert_eq!(cordon_checkpoint::list(&f.store, None).unwrap().len(), 1);
    damage(&f.ws);
    roll_back(&f, &s.id, Consent::default()).unwrap();
    assert_eq!(tree(&f.ws), before);

    // Garbage instead of a database: moved aside on open, and the rollback still works.
    drop(std::mem::replace(
        &mut f.store,
        Store::open(&f.base.join("scratch")).unwrap(),
    ));
    wipe(Some(&[0x5a; 8192]));
    f.reopen();
    assert!(f.store.index_recovered().is_some());
    damage(&f.ws);
    roll_back(&f, &s.id, Consent::default()).unwrap();
    assert_eq!(tree(&f.ws), before);
}

#[test]
fn a_forged_manifest_is_listed_as_refused_and_a_missing_one_is_not_rolled_back() {
    let f = fixture();
    let (signer, keys) = home_key();
    let (agent_key, _) = other_key();
    let genuine = f.checkpoint(&signer);
    // The agent's own checkpoint of the victim, signed with its key, and one unsigned.
    let forged = snapshot_signed(
        &f.store,
        &Request {
            scopes: vec![f.victim.clone()],
            ..Request::default()
        },
        &agent_key,
    )
    .unwrap();
    let unsigned = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.victim.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    let listing = cordon_checkpoint::list_verified(&f.store, &keys, None).unwrap();
    let ids: Vec<&str> = listing.checkpoints.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec![genuine.id.as_str()]);
    let refused: Vec<&str> = listing.refused.iter().map(|r| r.id.as_str()).collect();
    assert!(refused.contains(&forged.id.as_str()) && refused.contains(&unsigned.id.as_str()));
    // The index now holds only what verified.
    assert_eq!(cordon_checkpoint::list(&f.store, None).unwrap().len(), 1);
    for id in [&forged.id, &unsigned.id] {
        assert!(matches!(
            roll_back(&f, id, Consent::default()).unwrap_err(),
            Error::Untrusted { .. }
        ));
    }
    // A manifest deleted while the index names it: refused with a sentence, not "not found".
    fs::remove_file(f.manifest(&genuine.id)).unwrap();
    let err = roll_back(&f, &genuine.id, Consent::default()).unwrap_err();
    assert!(err.to_string().contains("holds no manifest"), "{err}");
    assert!(matches!(
        roll_back(&f, "ck-20990101T000000-00000000", Consent::default()).unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[test]
fn an_unsigned_checkpoint_is_refused_by_the_verified_rollback_only() {
    let f = fixture();
    let before = tree(&f.ws);
    let s = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.ws.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    assert_eq!(s.signed_by, None);
    damage(&f.ws);
    let err = roll_back(&f, &s.id, Consent::default()).unwrap_err();
    assert!(err.to_string().contains("not signed"), "{err}");
    // Control: the unsigned entry point (for callers without a key) still rolls it back.
    cordon_checkpoint::rollback(&f.store, &s.id, Options::default()).unwrap();
    assert_eq!(tree(&f.ws), before);
}

#[test]
fn a_scope_outside_the_workspace_through_a_link_is_announced_and_needs_consent() {
    let f = fixture();
    let (signer, keys) = home_key();
    symlink(&f.victim, f.ws.join("vlink")).unwrap();
    let s = snapshot_signed(
        &f.store,
        &Request {
            // What `rm -rf vlink` declares: the link, inside the workspace.
            scopes: vec![f.ws.join("vlink")],
            workspace: Some(f.ws.clone()),
            ..Request::default()
        },
        &signer,
    )
    .unwrap();
    // The true scope is announced: the link and what it leads to, outside the workspace.
    let victim = f.victim.to_string_lossy().into_owned();
    assert!(s.scopes.contains(&victim), "{:?}", s.scopes);
    assert!(s
        .scopes
        .contains(&f.ws.join("vlink").to_string_lossy().into_owned()));
    assert_eq!(s.outside_workspace, vec![victim.clone()]);
    // Later, the person creates a file in the victim directory.
    fs::write(f.victim.join("written later"), b"mine\n").unwrap();
    let verified = rollback::verify(&f.store, &s.id, &keys).unwrap();
    assert_eq!(verified.outside_workspace(), vec![f.victim.as_path()]);
    let err =
        rollback::apply(&f.store, &verified, Consent::default(), Options::default()).unwrap_err();
    assert!(matches!(err, Error::NeedsConsent { .. }), "{err}");
    assert!(err.to_string().contains(&victim), "{err}");
    assert!(
        f.victim.join("written later").exists(),
        "touched without consent"
    );
    assert!(staging_left(&f.base).is_empty());
    // Control: with consent the rollback covers the victim too.
    let consent = Consent {
        outside_workspace: true,
        ..Consent::default()
    };
    rollback::apply(&f.store, &verified, consent, Options::default()).unwrap();
    assert!(!f.victim.join("written later").exists());
    assert!(f.victim.join("keep").exists());
}

#[test]
fn setuid_and_setgid_bits_come_back_only_when_asked() {
    let f = fixture();
    let (signer, keys) = home_key();
    for (name, mode) in [("suid", 0o4755), ("sgid", 0o2755)] {
        fs::write(f.ws.join(name), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(f.ws.join(name), fs::Permissions::from_mode(mode)).unwrap();
    }
    let s = f.checkpoint(&signer);
    let mode = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(f.ws.join(name)).unwrap().mode() & 0o7777
    };
    let clear = || {
        for name in ["suid", "sgid"] {
            fs::set_permissions(f.ws.join(name), fs::Permissions::from_mode(0o600)).unwrap();
        }
    };
    clear();
    let verified = rollback::verify(&f.store, &s.id, &keys).unwrap();
    let report =
        rollback::apply(&f.store, &verified, Consent::default(), Options::default()).unwrap();
    assert_eq!((mode("suid"), mode("sgid")), (0o755, 0o755));
    assert_eq!(report.setid_cleared.len(), 2, "{:?}", report.setid_cleared);
    // Control: asked for, they come back.
    clear();
    let consent = Consent {
        setid: true,
        ..Consent::default()
    };
    rollback::apply(&f.store, &verified, consent, Options::default()).unwrap();
    assert_eq!((mode("suid"), mode("sgid")), (0o4755, 0o2755));
}

#[test]
fn fifos_and_sockets_are_recorded_not_recreated_and_never_block() {
    let f = fixture();
    let (signer, keys) = home_key();
    nix::unistd::mkfifo(
        &f.ws.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(f.ws.join("sock")).unwrap();
    // Taking the checkpoint does not open the FIFO (it would wait for a writer forever).
    let s = f.checkpoint(&signer);
    // A file replaced by a FIFO after the checkpoint: the rollback does not open it either.
    fs::remove_file(f.ws.join(".env")).unwrap();
    nix::unistd::mkfifo(
        &f.ws.join(".env"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let verified = rollback::verify(&f.store, &s.id, &keys).unwrap();
    let report =
        rollback::apply(&f.store, &verified, Consent::default(), Options::default()).unwrap();
    assert_eq!(fs::read(f.ws.join(".env")).unwrap(), b"SECRET=1\n");
    let mut not = report.not_recreated.clone();
    not.sort();
    assert_eq!(
        not,
        vec![
            f.ws.join("pipe").to_string_lossy().into_owned(),
            f.ws.join("sock").to_string_lossy().into_owned()
        ]
    );
    assert!(!f.ws.join("pipe").exists() && !f.ws.join("sock").exists());
}
