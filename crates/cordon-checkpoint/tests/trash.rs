#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The soft-delete trash: moves stay inside the write scope, restores never overwrite, and a
//! tampered item is refused.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::{Path, PathBuf};

use cordon_checkpoint::trash::{self, Closed, SoftDelete};
use cordon_checkpoint::Error;
use cordon_core::name_glob::NameGlobs;

fn request(targets: Vec<PathBuf>, roots: Vec<PathBuf>) -> SoftDelete {
    SoftDelete {
        targets,
        allowed_roots: roots,
        recursive: true,
        force: false,
        command: vec!["rm".into(), "-r".into()],
        session: Some("s-test".into()),
        cwd: PathBuf::from("/"),
        ..SoftDelete::default()
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let ws = root.join("ws");
    fs::create_dir_all(ws.join("d")).unwrap();
    fs::write(ws.join("d/f"), b"data").unwrap();
    (dir, ws, root.join("trash"))
}

#[test]
fn a_target_outside_the_scope_refuses_the_whole_request() {
    let (_dir, ws, trash_dir) = setup();
    let outside = ws.parent().unwrap().join("outside");
    fs::write(&outside, b"keep").unwrap();
    let err = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("d"), outside.clone()], vec![ws.clone()]),
    )
    .unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(
        outside.exists() && ws.join("d/f").exists(),
        "something moved"
    );
    // Control: the in-scope target alone is moved.
    let o = trash::soft_delete(&trash_dir, &request(vec![ws.join("d")], vec![ws.clone()])).unwrap();
    assert!(o.manifest.is_some() && !ws.join("d").exists());
}

#[test]
fn a_target_reached_through_a_symlinked_directory_is_judged_where_it_really_is() {
    let (_dir, ws, trash_dir) = setup();
    let outside = ws.parent().unwrap().join("outside-dir");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim"), b"keep").unwrap();
    symlink(&outside, ws.join("escape")).unwrap();
    let err = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("escape/victim")], vec![ws.clone()]),
    )
    .unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(outside.join("victim").exists());
    // Removing the link itself is inside the scope, and moves only the link.
    trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("escape")], vec![ws.clone()]),
    )
    .unwrap();
    assert!(outside.join("victim").exists() && !ws.join("escape").exists());
}

#[test]
fn a_tampered_item_is_not_restored() {
    let (_dir, ws, trash_dir) = setup();
    let o = trash::soft_delete(&trash_dir, &request(vec![ws.join("d")], vec![ws.clone()])).unwrap();
    let id = o.manifest.unwrap().id;
    let payload: &Path = &trash_dir.join(&id).join("payload/0/f");
    fs::write(payload, b"tampered").unwrap();
    let err = trash::restore(&trash_dir, &id).unwrap_err();
    assert!(matches!(err, Error::Damaged { .. }), "{err}");
    assert!(!ws.join("d").exists());
    // Control: put the bytes back and it restores.
    fs::write(payload, b"data").unwrap();
    trash::restore(&trash_dir, &id).unwrap();
    assert_eq!(fs::read(ws.join("d/f")).unwrap(), b"data");
}

#[test]
fn ids_cannot_escape_the_trash() {
    let (_dir, _ws, trash_dir) = setup();
    for id in ["../x", "a/b", "", "."] {
        assert!(
            matches!(trash::purge(&trash_dir, id), Err(Error::NotFound { .. })),
            "{id}"
        );
    }
}

#[test]
fn restore_refuses_a_directory_that_became_a_symlink() {
    let (_dir, ws, trash_dir) = setup();
    let o =
        trash::soft_delete(&trash_dir, &request(vec![ws.join("d/f")], vec![ws.clone()])).unwrap();
    let id = o.manifest.unwrap().id;
    let elsewhere = ws.parent().unwrap().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::remove_dir(ws.join("d")).unwrap();
    symlink(&elsewhere, ws.join("d")).unwrap();
    let err = trash::restore(&trash_dir, &id).unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(!elsewhere.join("f").exists());
    // Control: with the directory back, the restore works.
    fs::remove_file(ws.join("d")).unwrap();
    fs::create_dir(ws.join("d")).unwrap();
    trash::restore(&trash_dir, &id).unwrap();
    assert_eq!(fs::read(ws.join("d/f")).unwrap(), b"data");
}

#[test]
fn a_protected_path_is_refused_when_the_sandbox_protects_it() {
    let (_dir, ws, trash_dir) = setup();
    fs::create_dir_all(ws.join("proj/.git/hooks")).unwrap();
    fs::write(ws.join("proj/.git/hooks/pre-commit"), b"#!/bin/sh\n").unwrap();
    fs::write(ws.join("proj/.git/HEAD"), b"ref\n").unwrap();
    fs::create_dir_all(ws.join("proj/.claude")).unwrap();
    fs::write(ws.join("proj/.claude/settings.json"), b"{}").unwrap();
    fs::create_dir_all(ws.join(".claude")).unwrap();
    let protected = vec![PathBuf::from(".git/hooks"), PathBuf::from(".claude")];
    for target in [
        ".claude",
        "proj",
        "proj/.claude",
        "proj/.claude/settings.json",
        "proj/.git",
        "proj/.git/hooks",
        "proj/.git/hooks/pre-commit",
    ] {
        let err = trash::soft_delete(
            &trash_dir,
            &SoftDelete {
                protected: protected.clone(),
                ..request(vec![ws.join(target)], vec![ws.clone()])
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::OutsideScope { .. }), "{target}: {err}");
        assert!(err.to_string().contains("read-only"), "{err}");
    }
    assert!(ws.join("proj/.git/hooks/pre-commit").exists());
    // A path inside `.git` that is not protected moves.
    let o = trash::soft_delete(
        &trash_dir,
        &SoftDelete {
            protected: protected.clone(),
            ..request(vec![ws.join("proj/.git/HEAD")], vec![ws.clone()])
        },
    )
    .unwrap();
    assert!(o.manifest.is_some() && !ws.join("proj/.git/HEAD").exists());
    // Control: unconfined (nothing protected), the same target moves.
    let o = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("proj/.git/hooks")], vec![ws.clone()]),
    )
    .unwrap();
    assert!(o.manifest.is_some() && !ws.join("proj/.git/hooks").exists());
}

/// Red-team round fourteen: the service removed `.git/worktrees` and `.git/modules`, which the
/// sandbox pins, so the command could make a worktree's or a submodule's git directory again at
/// the protected one's path. Those containers, and a protected name in any git directory, are
/// refused; a linked worktree's own directory and a checkout's `.git` file may go, as the write
/// broker lets them.
#[test]
fn the_pinned_containers_of_git_directories_are_refused_and_a_worktree_may_go() {
    let (_dir, ws, trash_dir) = setup();
    let git = ws.join("proj/.git");
    for dir in ["worktrees/wt1", "modules/libs/dep/hooks", "objects"] {
        fs::create_dir_all(git.join(dir)).unwrap();
    }
    fs::write(git.join("worktrees/wt1/commondir"), b"../..\n").unwrap();
    fs::write(git.join("modules/libs/dep/config"), b"[core]\n").unwrap();
    fs::create_dir_all(ws.join("wt1")).unwrap();
    fs::write(ws.join("wt1/.git"), b"gitdir: ../proj/.git/worktrees/wt1\n").unwrap();
    let protected: Vec<PathBuf> = [".git/hooks", ".git/config", ".git/commondir", ".claude"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let delete = |target: &str| {
        trash::soft_delete(
            &trash_dir,
            &SoftDelete {
                protected: protected.clone(),
                recursive: true,
                ..request(vec![ws.join(target)], vec![ws.clone()])
            },
        )
    };
    for target in [
        "proj/.git/worktrees",
        "proj/.git/modules",
        "proj/.git/modules/libs",
        "proj/.git/modules/libs/dep/config",
    ] {
        let err = delete(target).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{target}: {err}");
        assert!(ws.join(target).exists(), "{target}");
    }
    // What the broker lets the command remove goes here too.
    for target in ["proj/.git/worktrees/wt1", "wt1/.git", "proj/.git/objects"] {
        let o = delete(target).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(
            o.manifest.is_some() && !ws.join(target).exists(),
            "{target}"
        );
    }
}

/// The service refuses what the sandbox protects, and no more: the sandbox protects the names
/// at a writable root and at project roots (directories holding `.git`), so a project the agent
/// made may go whole with its `.git`, and a `.vscode` elsewhere, or anything in a directory the
/// search skips, is the agent's to remove. What holds a project's other protected names, and
/// the writable root's own `.git`, are refused.
#[test]
fn a_whole_project_below_the_root_may_go_and_only_what_the_sandbox_protects_is_refused() {
    let (_dir, ws, trash_dir) = setup();
    for dir in [
        "vendor/clone/.git/hooks",
        "vendor/clone/src",
        "scratch/.vscode",
        "scratch/deep/.claude",
        "node_modules/pkg/.git",
        "node_modules/pkg/.vscode",
        "trusted/.git",
        "trusted/.vscode",
        "locked/proj/.git",
        "locked/proj/.vscode",
        ".git/objects",
    ] {
        fs::create_dir_all(ws.join(dir)).unwrap();
    }
    fs::write(
        ws.join("vendor/clone/.git/hooks/pre-commit"),
        b"#!/bin/sh\n",
    )
    .unwrap();
    fs::write(ws.join("vendor/clone/.git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    fs::write(ws.join("scratch/.mcp.json"), b"{}").unwrap();
    let protected: Vec<PathBuf> = [
        ".git/hooks",
        ".git/config",
        ".claude",
        ".vscode",
        ".mcp.json",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    let delete = |target: &Path| {
        trash::soft_delete(
            &trash_dir,
            &SoftDelete {
                protected: protected.clone(),
                recursive: true,
                closed: Closed {
                    unsearched: vec!["node_modules".into(), ".git".into()],
                    ..Closed::default()
                },
                ..request(vec![target.to_path_buf()], vec![ws.clone()])
            },
        )
    };
    for target in ["vendor", "scratch/deep/.claude", "scratch", "node_modules"] {
        let o = delete(&ws.join(target)).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert!(
            o.manifest.is_some() && !ws.join(target).exists(),
            "{target}"
        );
    }
    for (target, named) in [
        ("trusted", ".vscode"),
        ("trusted/.vscode", ".vscode"),
        ("locked", ".vscode"),
    ] {
        let err = delete(&ws.join(target)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("holds {named}, which")),
            "{target}: {err}"
        );
        assert!(ws.join(target).exists(), "{target}");
    }
    // The writable root itself holds its own repository's `.git`.
    let err = delete(&ws).unwrap_err();
    assert!(err.to_string().contains("holds .git, which"), "{err}");
    // A root that is a git directory (a subdirectory workspace's repository): its protected
    // names are refused below it as in any git directory; its objects may go.
    fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    let as_root = |target: &str| {
        trash::soft_delete(
            &trash_dir,
            &SoftDelete {
                protected: protected.clone(),
                recursive: true,
                ..request(vec![ws.join(target)], vec![ws.join(".git")])
            },
        )
    };
    let err = as_root(".git/hooks").unwrap_err();
    assert!(err.to_string().contains("holds hooks, which"), "{err}");
    assert!(ws.join(".git/hooks").exists());
    as_root(".git/objects").unwrap();
    assert!(!ws.join(".git/objects").exists());
    // Control: unconfined, the same targets move.
    let o = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("trusted")], vec![ws.clone()]),
    )
    .unwrap();
    assert!(o.manifest.is_some() && !ws.join("trusted").exists());
}

#[test]
fn what_the_sandbox_keeps_closed_is_refused_when_it_is_closed() {
    let (_dir, ws, trash_dir) = setup();
    fs::create_dir_all(ws.join("config")).unwrap();
    fs::write(ws.join("config/secrets.yaml"), b"token: s3cret").unwrap();
    fs::write(ws.join("config/app.yaml"), b"port: 1").unwrap();
    fs::create_dir_all(ws.join("node_modules/pkg/test")).unwrap();
    fs::write(ws.join("node_modules/pkg/test/key.pem"), b"fixture").unwrap();
    fs::create_dir_all(ws.join("home/.cordon")).unwrap();
    fs::write(ws.join("home/.cordon/signing.pem"), b"key").unwrap();
    // A Python virtual environment by another name than `.venv` (pip's CA bundle in it), and a
    // directory that only looks like one (a directory named `pyvenv.cfg`).
    fs::create_dir_all(ws.join("venv/lib/certifi")).unwrap();
    fs::write(ws.join("venv/pyvenv.cfg"), b"home = /usr/bin\n").unwrap();
    fs::write(ws.join("venv/lib/certifi/cacert.pem"), b"public").unwrap();
    fs::create_dir_all(ws.join("fake/pyvenv.cfg")).unwrap();
    fs::write(ws.join("fake/server.pem"), b"private").unwrap();
    // A public certificate bundle by its exact name is no credential (working day twenty-one).
    fs::create_dir_all(ws.join("env/certifi")).unwrap();
    fs::write(ws.join("env/certifi/cacert.pem"), b"public").unwrap();
    let closed = Closed {
        paths: vec![ws.join("home/.cordon")],
        names: NameGlobs::new(&["secrets.*", "*.pem"]).unwrap(),
        unsearched: vec!["node_modules".into(), ".git".into()],
        unsearched_venv: Some(|dir: &Path| {
            dir.file_name().is_some_and(|n| n == "venv") && dir.join("pyvenv.cfg").is_file()
        }),
        open_names: vec!["cacert.pem".into()],
    };
    let with_closed = |target: &str| SoftDelete {
        closed: closed.clone(),
        ..request(vec![ws.join(target)], vec![ws.clone()])
    };
    for (target, named) in [
        ("config/secrets.yaml", "config/secrets.yaml"),
        ("config", "config/secrets.yaml"),
        ("home/.cordon/signing.pem", "home/.cordon"),
        ("home/.cordon", "home/.cordon"),
        ("home", "home/.cordon"),
        ("fake", "fake/server.pem"),
    ] {
        let err = trash::soft_delete(&trash_dir, &with_closed(target)).unwrap_err();
        assert!(matches!(err, Error::OutsideScope { .. }), "{target}: {err}");
        assert!(
            err.to_string().contains(
                &format!("{} , a credential", ws.join(named).display()).replace(" ,", ",")
            ),
            "{target}: {err}"
        );
    }
    assert_eq!(
        fs::read(ws.join("config/secrets.yaml")).unwrap(),
        b"token: s3cret"
    );
    assert!(ws.join("home/.cordon/signing.pem").exists());
    // What the search does not enter is not closed by its name, and what is not closed moves.
    for target in [
        "node_modules",
        "config/app.yaml",
        "venv/lib/certifi/cacert.pem",
        "venv",
        "env",
    ] {
        let o = trash::soft_delete(&trash_dir, &with_closed(target)).unwrap();
        assert!(
            o.manifest.is_some() && !ws.join(target).exists(),
            "{target}"
        );
    }
    // Control: unconfined (nothing closed), the same directory moves.
    let o = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("config")], vec![ws.clone()]),
    )
    .unwrap();
    assert!(o.manifest.is_some() && !ws.join("config").exists());
}

#[test]
fn a_scope_root_and_an_absolute_link_inside_the_scope_are_removable() {
    let (_dir, ws, trash_dir) = setup();
    // The root itself (a file scope).
    fs::write(ws.join("single"), b"s").unwrap();
    let o = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("single")], vec![ws.join("single")]),
    )
    .unwrap();
    assert!(o.manifest.is_some() && !ws.join("single").exists());
    // Through an absolute symlink that stays inside the scope.
    symlink(ws.join("d"), ws.join("abs")).unwrap();
    let o = trash::soft_delete(
        &trash_dir,
        &request(vec![ws.join("abs/f")], vec![ws.clone()]),
    )
    .unwrap();
    assert_eq!(
        o.manifest.unwrap().items[0].original,
        ws.join("d/f").to_str().unwrap()
    );
    assert!(!ws.join("d/f").exists());
}

#[test]
fn a_missing_target_reports_like_rm_and_force_silences_it() {
    let (_dir, ws, trash_dir) = setup();
    // The scope names a path that does not exist (yet): `rm` of it is "No such file".
    let o = trash::soft_delete(
        &trash_dir,
        &SoftDelete {
            recursive: false,
            ..request(vec![ws.join("gone")], vec![ws.join("gone")])
        },
    )
    .unwrap();
    assert!(o.manifest.is_none());
    assert_eq!(o.errors.len(), 1);
    assert!(
        o.errors[0].contains("No such file or directory"),
        "{:?}",
        o.errors
    );
    let o = trash::soft_delete(
        &trash_dir,
        &SoftDelete {
            force: true,
            ..request(vec![ws.join("gone")], vec![ws.join("gone")])
        },
    )
    .unwrap();
    assert!(o.errors.is_empty() && o.manifest.is_none());
}

// Issue 24: restore trusts only what cordon signed, and never follows what the agent planted.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{home_key, other_key};
use trash::RestoreOptions;

fn signed_delete(trash_dir: &Path, targets: Vec<PathBuf>, roots: Vec<PathBuf>) -> String {
    let (signer, _) = home_key();
    let o = trash::soft_delete_signed(trash_dir, &request(targets, roots), &signer).unwrap();
    let manifest = o.manifest.unwrap();
    assert!(manifest.signature.is_some());
    manifest.id
}

#[test]
fn a_forged_trash_item_is_not_restored_and_is_listed_as_untrusted() {
    let (_dir, ws, trash_dir) = setup();
    let (_, keys) = home_key();
    let ssh = ws.parent().unwrap().join("home/.ssh");
    fs::create_dir_all(&ssh).unwrap();
    let target = ssh.join("authorized_keys2");
    // 1. Written by hand: a manifest naming the key file, with a payload that matches it.
    let forged_id = "tr-20260101T000000-forged00";
    let item = trash_dir.join(forged_id);
    fs::create_dir_all(item.join("payload")).unwrap();
    let key = b"ssh-ed25519 AAAA agent@evil\n";
    fs::write(item.join("payload/0"), key).unwrap();
    fs::set_permissions(item.join("payload/0"), fs::Permissions::from_mode(0o600)).unwrap();
    let manifest = serde_json::json!({
        "type": "cordon.trash/1", "id": forged_id, "created_at": "2026-01-01T00:00:00Z",
        "command": ["rm", "x"], "session": null, "cwd": "/", "state": "complete",
        "items": [{
            "original": target.to_str().unwrap(),
            "original_hex": hex::encode(target.to_str().unwrap()),
            "anchor_hex": hex::encode(ssh.to_str().unwrap()),
            "payload": "0",
            "entries": [{"path": "", "path_hex": "", "kind": "file", "mode": 0o600,
                         "size": key.len(), "target": null,
                         "sha256": hex::encode(sha2::Digest::finalize(
                             <sha2::Sha256 as sha2::Digest>::new_with_prefix(key)))}]
        }]
    });
    fs::write(
        item.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    // 2. Made by cordon's own code, but signed with a key that is not the home's.
    fs::write(&target, key).unwrap();
    let (agent_key, _) = other_key();
    let resigned = trash::soft_delete_signed(
        &trash_dir,
        &request(vec![target.clone()], vec![ssh.clone()]),
        &agent_key,
    )
    .unwrap()
    .manifest
    .unwrap()
    .id;
    assert!(!target.exists());
    for id in [forged_id, resigned.as_str()] {
        let err =
            trash::restore_verified(&trash_dir, id, &keys, RestoreOptions::default()).unwrap_err();
        assert!(matches!(err, Error::Untrusted { .. }), "{id}: {err}");
        assert!(!target.exists(), "{id}: the key was installed");
    }
    // Both are listed, flagged, instead of looking like any other item.
    let listed = trash::list_verified(&trash_dir, &keys).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|l| l.untrusted.is_some()), "{listed:?}");
    // Control: an item cordon made with the home's key restores.
    let genuine = signed_delete(&trash_dir, vec![ws.join("d")], vec![ws.clone()]);
    let listed = trash::list_verified(&trash_dir, &keys).unwrap();
    let mine = listed.iter().find(|l| l.manifest.id == genuine).unwrap();
    assert_eq!(mine.untrusted, None);
    trash::restore_verified(&trash_dir, &genuine, &keys, RestoreOptions::default()).unwrap();
    assert_eq!(fs::read(ws.join("d/f")).unwrap(), b"data");
}

#[test]
fn a_parent_turned_into_a_link_refuses_the_restore_and_creates_nothing() {
    let (_dir, ws, trash_dir) = setup();
    let (_, keys) = home_key();
    fs::create_dir_all(ws.join("a/b")).unwrap();
    fs::write(ws.join("a/b/f"), b"mine").unwrap();
    let id = signed_delete(&trash_dir, vec![ws.join("a/b/f")], vec![ws.clone()]);
    // The agent replaces `a` with a link to a directory outside, where `b` does not exist.
    let outside = ws.parent().unwrap().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::remove_dir_all(ws.join("a")).unwrap();
    symlink(&outside, ws.join("a")).unwrap();
    let err =
        trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "created outside"
    );
    // Control: with the link gone, the missing directories are made and the file comes back.
    fs::remove_file(ws.join("a")).unwrap();
    trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions::default()).unwrap();
    assert_eq!(fs::read(ws.join("a/b/f")).unwrap(), b"mine");
}

#[test]
fn every_item_is_checked_before_any_directory_is_created() {
    let (_dir, ws, trash_dir) = setup();
    let (_, keys) = home_key();
    fs::create_dir_all(ws.join("x/y")).unwrap();
    fs::write(ws.join("x/y/f1"), b"1").unwrap();
    fs::write(ws.join("z"), b"z").unwrap();
    let id = signed_delete(
        &trash_dir,
        vec![ws.join("x"), ws.join("z")],
        vec![ws.clone()],
    );
    // `z` and its beside-name are both taken: the second item cannot go back.
    fs::write(ws.join("z"), b"new z").unwrap();
    fs::write(ws.join(format!("z.restored-{id}")), b"taken").unwrap();
    let err =
        trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Collision { .. }), "{err}");
    assert!(
        !ws.join("x").exists(),
        "the first item was restored before the check"
    );
    // Control: once the name is free, both come back.
    fs::remove_file(ws.join(format!("z.restored-{id}"))).unwrap();
    let restored =
        trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions::default()).unwrap();
    assert_eq!(fs::read(ws.join("x/y/f1")).unwrap(), b"1");
    assert!(restored.iter().any(|r| r.beside));
}

#[test]
fn restore_clears_setid_bits_unless_asked_and_never_waits_on_a_fifo() {
    let (_dir, ws, trash_dir) = setup();
    let (_, keys) = home_key();
    fs::write(ws.join("d/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(ws.join("d/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    nix::unistd::mkfifo(
        &ws.join("d/pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let mode = |p: &Path| {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    };
    let id = signed_delete(&trash_dir, vec![ws.join("d")], vec![ws.clone()]);
    let restored =
        trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions::default()).unwrap();
    assert_eq!(mode(&ws.join("d/tool")), 0o755);
    assert_eq!(restored[0].setid_cleared.len(), 1);
    assert!(fs::symlink_metadata(ws.join("d/pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    // Control: asked for, the bit comes back.
    fs::set_permissions(ws.join("d/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    let id = signed_delete(&trash_dir, vec![ws.join("d")], vec![ws.clone()]);
    trash::restore_verified(&trash_dir, &id, &keys, RestoreOptions { setid: true }).unwrap();
    assert_eq!(mode(&ws.join("d/tool")), 0o4755);
}
