#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The soft-delete trash: moves stay inside the write scope, restores never overwrite, and a
//! tampered item is refused.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use cordon_checkpoint::trash::{self, SoftDelete};
use cordon_checkpoint::Error;

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
    let protected = vec![PathBuf::from(".git/hooks"), PathBuf::from(".claude")];
    for target in [
        "proj",
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
