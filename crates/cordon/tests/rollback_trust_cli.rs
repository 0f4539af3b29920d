//! Issue 24 through the built binary: `cordon rollback` and `cordon trash restore` run with the
//! person's authority after an agent had the workspace, so they trust only what the home's key
//! signed and never follow what the agent planted.
//!
//! Each test gives the person a home of their own (`HOME`, so `~/.ssh` and `~/victim` are
//! temporary) and cordon its own (`CORDON_HOME`, initialized, so runs are signed). The agent's
//! preparation goes through `cordon exec` where the envelope lets an agent do it (links and
//! renames in the workspace); what the envelope already keeps from the agent (cordon's home:
//! the trash, the checkpoint store) is written directly, since the point is that rollback and
//! restore hold even if that protection failed. Every attack checks the exact refusal and that
//! nothing changed, and has a positive control: the untouched checkpoint or item comes back
//! exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cordon_journal::Signer;
use serde_json::Value;

mod tree_support;
use tree_support::{checkpoint_id, text, tree, Tree};

const POLICY: &str = "cordon_policy: 1
name: trust-test
default: deny
rules:
  - id: risky
    outcome: allow_with_checkpoint
    reason: it changes files
    match: {command: [rm, mv, chmod, touch, cp]}
  - id: harmless
    outcome: allow
    reason: the agent's preparation
    match: {command: [ln, mkdir]}
";

/// A key the agent made itself.
fn agent_key() -> Signer {
    Signer::from_bytes(&[7u8; 32], "agent").unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    /// The person's home (`HOME`).
    person: PathBuf,
    /// cordon's home (`CORDON_HOME`).
    home: PathBuf,
    /// The workspace, holding the project `proj/`.
    w: PathBuf,
    proj: PathBuf,
    victim: PathBuf,
    policy: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let person = root.join("person");
        let home = root.join("cordon-home");
        let w = person.join("w");
        let proj = w.join("proj");
        let victim = person.join("victim");
        fs::create_dir_all(proj.join("src/deep")).unwrap();
        fs::create_dir_all(proj.join(".git")).unwrap();
        fs::write(proj.join("src/main.rs"), b"fn main() {}\n").unwrap();
        fs::write(proj.join("src/deep/blob"), [0u8, 159, 146, 150]).unwrap();
        fs::write(proj.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
        fs::write(proj.join("a.txt"), b"alpha\n").unwrap();
        fs::write(proj.join("run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(proj.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("keep"), b"the person's file\n").unwrap();
        let policy = root.join("policy.yaml");
        fs::write(&policy, POLICY).unwrap();
        let env = Env {
            _dir: dir,
            person,
            home,
            w,
            proj,
            victim,
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
            .env("HOME", &self.person)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .env_remove("CORDON_TEST_ROLLBACK_PAUSE_AFTER");
        c
    }

    fn cordon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `cordon exec` (local mode) in the workspace under the test policy; the exit code, the
    /// receipt and stderr.
    fn exec(&self, request: &[&str]) -> (i32, Value, String) {
        self.exec_with(&[], request)
    }

    fn exec_with(&self, options: &[&str], request: &[&str]) -> (i32, Value, String) {
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
        args.extend_from_slice(options);
        args.extend_from_slice(request);
        let out = self.cordon(&args);
        let value = fs::read(&receipt)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), value, text(&out.stderr))
    }

    /// A checkpoint of the whole project, taken before `chmod -R go-w proj` (which changes
    /// nothing the tests look at), and the project as it was.
    fn checkpoint_of_proj(&self) -> (String, Tree) {
        let before = tree(&self.proj);
        let (code, receipt, stderr) = self.exec(&["--", "chmod", "-R", "go-w", "proj"]);
        assert_eq!(code, 0, "{stderr}");
        (checkpoint_id(&receipt), before)
    }

    /// What an agent does to the project after the checkpoint.
    fn damage(&self) -> Tree {
        fs::remove_dir_all(self.proj.join("src")).unwrap();
        fs::write(self.proj.join("a.txt"), b"damaged\n").unwrap();
        fs::write(self.proj.join("planted"), b"x").unwrap();
        tree(&self.proj)
    }

    fn store(&self) -> PathBuf {
        self.home.join("state/checkpoints")
    }

    fn manifest(&self, id: &str) -> PathBuf {
        self.store().join("manifests").join(format!("{id}.jsonl"))
    }

    fn trash(&self) -> PathBuf {
        self.home.join("state/trash")
    }

    /// `cordon rollback …`: the exit code, stdout and stderr.
    fn rollback(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["rollback"];
        all.extend_from_slice(args);
        let out = self.cordon(&all);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// `cordon trash …`: the exit code, stdout and stderr.
    fn trash_cmd(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["trash"];
        all.extend_from_slice(args);
        let out = self.cordon(&all);
        (
            out.status.code().unwrap_or(-1),
            text(&out.stdout),
            text(&out.stderr),
        )
    }

    /// Any staging directory a rollback left beside a scope.
    fn staging_left(&self) -> Vec<PathBuf> {
        [&self.w, &self.person]
            .iter()
            .flat_map(|d| fs::read_dir(d).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".cordon-rollback")
            })
            .collect()
    }
}

fn trash_id(receipt: &Value) -> String {
    receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["trash"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trash item in {receipt}"))
        .to_string()
}

fn hex_of(path: &Path) -> String {
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rewrites a checkpoint manifest: `edit` changes its header and entries, then the seal is made
/// again with `signer`, or kept as it was when `signer` is `None`.
fn forge_manifest(path: &Path, id: &str, signer: Option<&Signer>, edit: impl Fn(&mut [Value])) {
    let original = fs::read_to_string(path).unwrap();
    let mut lines: Vec<Value> = original
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
            let object = serde_json::json!({
                "type": "cordon.checkpoint.seal/1",
                "id": id,
                "manifest_sha256": cordon_core::hash::sha256_hex(&body),
            });
            serde_json::json!({"seal": cordon_journal::sign_receipt(&object, signer).unwrap()})
        }
        None => seal,
    };
    body.extend(serde_json::to_vec(&seal).unwrap());
    body.push(b'\n');
    fs::write(path, body).unwrap();
}

#[test]
fn an_untouched_checkpoint_rolls_back_exactly_and_says_what_it_covers() {
    let env = Env::new();
    let (id, before) = env.checkpoint_of_proj();
    let damaged = env.damage();
    assert_ne!(damaged, before, "positive control: the damage is visible");
    let (code, stdout, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cordon: checkpoint {id} (signed by {}) covers {}",
            key_id(&env),
            env.proj.display()
        )),
        "{stderr}"
    );
    assert!(
        stdout.starts_with(&format!("rolled back to {id}")),
        "{stdout}"
    );
    assert_eq!(tree(&env.proj), before);
    assert!(env.staging_left().is_empty());
}

/// The home's key id (`keys/<id>.pem`).
fn key_id(env: &Env) -> String {
    fs::read_dir(env.home.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pem"))
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap()
}

#[test]
fn a_replaced_index_reusing_the_shown_id_cannot_point_the_rollback_at_the_victim() {
    let env = Env::new();
    let (id, before) = env.checkpoint_of_proj();
    let victim_before = tree(&env.victim);
    let damaged = env.damage();
    assert_ne!(damaged, before, "positive control: the damage is visible");
    // The agent replaces the index with one whose row for the id the person was shown names
    // `~/victim` as the scope.
    let index = env.store().join("index.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", index.display()));
    }
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
        [&id],
    )
    .unwrap();
    db.execute(
        "INSERT INTO scopes VALUES (?1, 0, ?2, 'dir')",
        rusqlite::params![id, env.victim.as_os_str().as_bytes()],
    )
    .unwrap();
    drop(db);

    // The manifest decides: the rollback announces and restores the project, never the victim.
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("covers {}\n", env.proj.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(env.victim.to_str().unwrap()), "{stderr}");
    assert_eq!(tree(&env.victim), victim_before, "the victim was touched");
    assert_eq!(tree(&env.proj), before);
    // The index was rewritten from the manifest.
    let (code, stdout, _) = env.rollback(&["--list"]);
    assert_eq!(code, 0);
    let line = stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(
        line.ends_with(&format!("[{}]", env.proj.display())),
        "{line}"
    );
}

#[test]
fn a_manifest_resigned_with_another_key_is_refused_and_nothing_changes() {
    let env = Env::new();
    let (id, before) = env.checkpoint_of_proj();
    let victim_before = tree(&env.victim);
    let path = env.manifest(&id);
    let original = fs::read(&path).unwrap();
    let damaged = env.damage();
    let agent = agent_key();
    let point_at_victim = |lines: &mut [Value]| {
        lines[0]["scopes"][0]["path"] = Value::String(hex_of(&env.victim));
    };
    type Attack<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Attack<'_>, &str)> = vec![
        (
            "re-signed with the agent's key",
            Box::new(|| forge_manifest(&path, &id, Some(&agent), |_| {})),
            "its signature does not verify",
        ),
        (
            "scope pointed at the victim, re-signed with the agent's key",
            Box::new(|| forge_manifest(&path, &id, Some(&agent), point_at_victim)),
            "its signature does not verify",
        ),
        (
            "scope pointed at the victim under the original seal",
            Box::new(|| forge_manifest(&path, &id, None, point_at_victim)),
            "its manifest was changed after it was sealed",
        ),
    ];
    for (case, attack, said) in cases {
        fs::write(&path, &original).unwrap();
        attack();
        let (code, _, stderr) = env.rollback(&[&id]);
        assert_eq!(code, 1, "{case}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "rollback refused: checkpoint {id} is not trusted, so nothing was changed: {said}"
            )),
            "{case}: {stderr}"
        );
        assert_eq!(tree(&env.victim), victim_before, "{case}");
        assert_eq!(tree(&env.proj), damaged, "{case}");
        assert!(env.staging_left().is_empty(), "{case}");
        // Listed as refused, never as a checkpoint.
        let (_, stdout, _) = env.rollback(&["--list"]);
        assert!(
            stdout.contains(&format!("{id}  REFUSED (never rolled back): ")),
            "{case}: {stdout}"
        );
    }
    // Control: the manifest as cordon wrote it rolls back exactly.
    fs::write(&path, &original).unwrap();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&env.proj), before);
}

#[test]
fn an_object_swapped_for_other_bytes_is_refused_and_nothing_changes() {
    let env = Env::new();
    let (id, before) = env.checkpoint_of_proj();
    let damaged = env.damage();
    let object = {
        let sha = cordon_core::hash::sha256_hex(b"fn main() {}\n");
        env.store().join("objects").join(&sha[..2]).join(&sha[2..])
    };
    let original = fs::read(&object).unwrap();
    fs::set_permissions(&object, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&object, b"fn main() {rm()}").unwrap();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("rollback refused: object "), "{stderr}");
    assert!(
        stderr.contains("is damaged") && stderr.contains("nothing was changed"),
        "{stderr}"
    );
    assert_eq!(tree(&env.proj), damaged);
    assert!(env.staging_left().is_empty());
    // Control: with its bytes back the same rollback restores exactly.
    fs::write(&object, original).unwrap();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&env.proj), before);
}

#[test]
fn an_index_deleted_or_overwritten_is_rebuilt_from_the_signed_manifests() {
    let env = Env::new();
    let (id, before) = env.checkpoint_of_proj();
    let index = env.store().join("index.db");
    // Deleted: the listing rebuilds it, and the rollback works.
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", index.display()));
    }
    let (code, stdout, stderr) = env.rollback(&["--list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with(&id), "{stdout}");
    assert!(
        stderr.contains("the checkpoint index disagreed with the signed manifests and was rebuilt"),
        "{stderr}"
    );
    env.damage();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&env.proj), before);
    // Overwritten with garbage: moved aside when the store opens, and the rollback still works.
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", index.display()));
    }
    fs::write(&index, vec![b'x'; 8192]).unwrap();
    env.damage();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the checkpoint index was not a database; it was moved aside to "),
        "{stderr}"
    );
    assert_eq!(tree(&env.proj), before);
}

#[test]
fn a_link_to_the_victim_is_announced_as_its_true_scope_and_rollback_asks_for_yes() {
    let env = Env::new();
    let victim = env.victim.display().to_string();
    // The agent plants `vlink → ~/victim` in the workspace.
    let (code, _, stderr) = env.exec(&["--", "ln", "-s", &victim, "vlink"]);
    assert_eq!(code, 0, "{stderr}");
    // Then `rm -rf vlink`: the checkpoint covers the link and what it leads to, and says so.
    let (code, receipt, stderr) = env.exec(&["--", "rm", "-rf", "vlink"]);
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    let vlink = env.w.join("vlink").display().to_string();
    let taken = &receipt["x-cordon"]["checkpoint"]["taken"];
    // Every scope as resolved, in path order: what the link leads to, and the link.
    assert_eq!(
        taken["scopes"],
        serde_json::json!([victim, vlink]),
        "{taken}"
    );
    assert_eq!(taken["outside_workspace"], serde_json::json!([victim]));
    assert!(
        stderr.contains(&format!("cordon: checkpoint {id} taken (")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(" of {victim}, {vlink}; ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "cordon: warning: checkpoint {id} covers {victim}, outside the workspace {}; `cordon rollback {id}` will touch it only with --yes",
            env.w.display()
        )),
        "{stderr}"
    );
    // Later the person writes a file in `~/victim`. The rollback without --yes refuses,
    // touching nothing.
    fs::write(env.victim.join("written later"), b"mine\n").unwrap();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{victim} (outside the workspace {})",
            env.w.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "rollback refused: {victim} lies outside the workspace {} the checkpoint was taken for; nothing was changed, and rolling it back needs explicit consent: rerun with --yes to roll those back too",
            env.w.display()
        )),
        "{stderr}"
    );
    assert!(
        env.victim.join("written later").exists(),
        "touched without --yes"
    );
    assert!(fs::symlink_metadata(env.w.join("vlink")).is_err());
    assert!(env.staging_left().is_empty());
    // Control: with --yes the person agrees, and both scopes come back as they were.
    let (code, _, stderr) = env.rollback(&[&id, "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(fs::read_link(env.w.join("vlink")).unwrap(), env.victim);
    assert!(!env.victim.join("written later").exists());
    assert!(env.victim.join("keep").exists());
}

/// A trash item for `~/.ssh/authorized_keys2` holding the agent's key, made from a genuine
/// item's manifest (`genuine`) with its paths, payload and hashes changed; `sign` decides its
/// signature. Returns the forged item's id.
fn forge_trash_item(env: &Env, genuine: &Value, id: &str, sign: Option<&Signer>) -> String {
    let target = env.person.join(".ssh/authorized_keys2");
    let key = b"ssh-ed25519 AAAA agent@elsewhere\n";
    let mut manifest = genuine.clone();
    manifest["id"] = Value::String(id.into());
    let item = &mut manifest["items"][0];
    item["original"] = Value::String(target.display().to_string());
    item["original_hex"] = Value::String(hex_of(&target));
    item["anchor_hex"] = Value::String(hex_of(&env.person));
    item["entries"] = serde_json::json!([{
        "path": "", "path_hex": "", "kind": "file", "mode": 0o600,
        "size": key.len(), "sha256": cordon_core::hash::sha256_hex(key), "target": null
    }]);
    let payload_name = item["payload"].as_str().unwrap().to_string();
    let manifest = match sign {
        Some(signer) => {
            manifest.as_object_mut().unwrap().remove("signature");
            cordon_journal::sign_receipt(&manifest, signer).unwrap()
        }
        // Unsigned, or the genuine item's signature kept over the edited manifest.
        None => manifest,
    };
    let dir = env.trash().join(id);
    fs::create_dir_all(dir.join("payload")).unwrap();
    // Consistent with its own manifest, as an agent would make it: only the signature tells.
    let payload = dir.join("payload").join(payload_name);
    fs::write(&payload, key).unwrap();
    fs::set_permissions(&payload, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    id.to_string()
}

#[test]
fn a_forged_trash_item_naming_authorized_keys2_is_marked_untrusted_and_never_restored() {
    let env = Env::new();
    // A genuine item, made by `rm` under the checkpoint outcome.
    let (code, receipt, stderr) = env.exec(&["--", "rm", "proj/a.txt"]);
    assert_eq!(code, 0, "{stderr}");
    let genuine_id = trash_id(&receipt);
    let genuine: Value = serde_json::from_slice(
        &fs::read(env.trash().join(&genuine_id).join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(
        genuine["signature"].is_object(),
        "the genuine item is signed"
    );
    let mut unsigned = genuine.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    let agent = agent_key();
    let forged = [
        (
            forge_trash_item(&env, &unsigned, "tr-20260101T000000-00000001", None),
            "it is not signed",
        ),
        (
            forge_trash_item(&env, &unsigned, "tr-20260101T000000-00000002", Some(&agent)),
            "its signature does not verify",
        ),
        (
            forge_trash_item(&env, &genuine, "tr-20260101T000000-00000003", None),
            "its signature does not verify",
        ),
    ];
    let (code, listed, stderr) = env.trash_cmd(&["list"]);
    assert_eq!(code, 0, "{stderr}");
    for (id, said) in &forged {
        let line = listed.lines().find(|l| l.starts_with(id.as_str())).unwrap();
        assert!(
            line.contains(&format!("UNTRUSTED (never restored: trash item {id} is not trusted, so nothing was changed: {said}")),
            "{line}"
        );
        assert!(line.contains("authorized_keys2"), "{line}");
        let (code, stdout, stderr) = env.trash_cmd(&["restore", id]);
        assert_eq!(code, 1, "{id}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "restore refused: trash item {id} is not trusted, so nothing was changed: {said}"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("cordon trash list"), "{stderr}");
        assert!(
            !env.person.join(".ssh").exists(),
            "{id}: the restore created ~/.ssh"
        );
    }
    let genuine_line = listed.lines().find(|l| l.starts_with(&genuine_id)).unwrap();
    assert!(!genuine_line.contains("UNTRUSTED"), "{genuine_line}");
    // Control: the genuine item restores.
    let (code, stdout, stderr) = env.trash_cmd(&["restore", &genuine_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        format!("restored {}\n", env.proj.join("a.txt").display())
    );
    assert_eq!(fs::read(env.proj.join("a.txt")).unwrap(), b"alpha\n");
}

#[test]
fn a_restore_through_a_parent_turned_into_a_link_creates_nothing() {
    let env = Env::new();
    let outside = env.person.join("outside");
    fs::create_dir(&outside).unwrap();
    let (code, receipt, stderr) = env.exec(&["--", "rm", "-rf", "proj/src/deep"]);
    assert_eq!(code, 0, "{stderr}");
    let id = trash_id(&receipt);
    // The agent turns `proj/src` into a link to a directory outside the workspace.
    let (code, _, stderr) = env.exec(&["--", "mv", "proj/src", "proj/src.real"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = env.exec(&["--", "ln", "-s", outside.to_str().unwrap(), "proj/src"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = env.trash_cmd(&["restore", &id]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("restore refused: refusing to touch "),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was restored"), "{stderr}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "the restore created something through the link"
    );
    // Control: with the real directory back in place, the same item restores.
    fs::remove_file(env.proj.join("src")).unwrap();
    fs::rename(env.proj.join("src.real"), env.proj.join("src")).unwrap();
    let (code, _, stderr) = env.trash_cmd(&["restore", &id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fs::read(env.proj.join("src/deep/blob")).unwrap(),
        [0u8, 159, 146, 150]
    );
}

#[test]
fn checkpoints_and_items_from_before_signing_are_refused_with_where_to_inspect_them() {
    let env = Env::new();
    let before = tree(&env.proj);
    // What the previous build wrote: an unsigned checkpoint and an unsigned trash item.
    let store = cordon_checkpoint::Store::open(&env.store()).unwrap();
    let old = cordon_checkpoint::snapshot(
        &store,
        &cordon_checkpoint::Request {
            scopes: vec![env.proj.clone()],
            ..cordon_checkpoint::Request::default()
        },
    )
    .unwrap();
    drop(store);
    let item = cordon_checkpoint::trash::soft_delete(
        &env.trash(),
        &cordon_checkpoint::trash::SoftDelete {
            targets: vec![env.proj.join("run.sh")],
            allowed_roots: vec![env.proj.clone()],
            command: vec!["rm".into(), "run.sh".into()],
            cwd: env.proj.clone(),
            ..cordon_checkpoint::trash::SoftDelete::default()
        },
    )
    .unwrap()
    .manifest
    .unwrap();
    let damaged = env.damage();
    let (code, _, stderr) = env.rollback(&[&old.id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "rollback refused: checkpoint {} is not trusted, so nothing was changed: its manifest is not signed (only checkpoints signed with this home's key are rolled back",
            old.id
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&env.manifest(&old.id).display().to_string()),
        "{stderr}"
    );
    assert_eq!(tree(&env.proj), damaged);
    let (code, _, stderr) = env.trash_cmd(&["restore", &item.id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "restore refused: trash item {} is not trusted, so nothing was changed: it is not signed",
            item.id
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            &env.trash()
                .join(&item.id)
                .join("payload")
                .display()
                .to_string()
        ),
        "{stderr}"
    );
    assert!(!env.proj.join("run.sh").exists());

    // Control: a checkpoint this build makes is signed and comes back. One signed with another
    // key (`--signing-key`) is refused until the person names that key.
    let other = tempfile::tempdir().unwrap();
    let made = cordon_journal::keys::generate(other.path(), Some("other")).unwrap();
    let at_checkpoint = tree(&env.proj);
    let key = made.private_key_path.to_str().unwrap();
    let (code, receipt, stderr) = env.exec_with(
        &["--signing-key", key, "--key-id", "other"],
        &["--", "chmod", "-R", "go-w", "proj"],
    );
    assert_eq!(code, 0, "{stderr}");
    let id = checkpoint_id(&receipt);
    fs::write(env.proj.join("a.txt"), b"damaged again\n").unwrap();
    let (code, _, stderr) = env.rollback(&[&id]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "rollback refused: checkpoint {id} is not trusted, so nothing was changed: its signature does not verify"
        )),
        "{stderr}"
    );
    let public = made.public_key_path.to_str().unwrap();
    let (code, _, stderr) = env.rollback(&[&id, "--public-key", public, "--key-id", "other"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&env.proj), at_checkpoint);
    assert_ne!(
        at_checkpoint, before,
        "the checkpoint rolled back is the later one"
    );
}
