#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Roll back after each kind of damage and compare the tree byte for byte: the set of paths, each
//! file's bytes and mode, each directory's mode, each symlink's target. Each attack has a positive
//! control: the damaged tree differs from the snapshot before the rollback.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cordon_checkpoint::{rollback, snapshot, Error, Request, RollbackOptions, Store};

/// Everything that must come back: path → (kind, mode, bytes or link target).
type Tree = BTreeMap<Vec<u8>, (char, u32, Vec<u8>)>;

fn tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, path: &Path, out: &mut Tree) {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return,
    };
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec();
    let mode = meta.mode() & 0o7777;
    if meta.file_type().is_symlink() {
        let t = fs::read_link(path).unwrap();
        out.insert(rel, ('l', 0, t.as_os_str().as_bytes().to_vec()));
    } else if meta.is_dir() {
        out.insert(rel, ('d', mode, Vec::new()));
        for e in fs::read_dir(path).unwrap() {
            walk(root, &e.unwrap().path(), out);
        }
    } else {
        out.insert(rel, ('f', mode, fs::read(path).unwrap()));
    }
}

/// A project with dotfiles, `.git`, a symlink, an empty directory, odd modes and hostile names.
fn project(root: &Path) {
    fs::create_dir_all(root.join("src/nested/deeper")).unwrap();
    fs::create_dir_all(root.join(".git/refs/heads")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::write(root.join("src/main.rs"), b"fn main() {}\n").unwrap();
    fs::write(root.join("src/nested/deeper/data.bin"), [0u8, 1, 2, 255]).unwrap();
    fs::write(root.join(".env"), b"SECRET=1\n").unwrap();
    fs::write(root.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    fs::write(root.join(".git/refs/heads/main"), b"0123abcd\n").unwrap();
    fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("readonly.txt"), b"keep\n").unwrap();
    fs::set_permissions(root.join("readonly.txt"), fs::Permissions::from_mode(0o444)).unwrap();
    symlink("src/main.rs", root.join("link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::write(root.join("new\nline"), b"newline name\n").unwrap();
    fs::write(root.join(OsStr::from_bytes(b"bad\xffutf8")), b"latin1\n").unwrap();
    fs::write(root.join("same-a"), b"duplicate content\n").unwrap();
    fs::write(root.join("same-b"), b"duplicate content\n").unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Store,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    fs::create_dir(&root).unwrap();
    project(&root);
    let store = Store::open(&dir.path().join("store")).unwrap();
    Fixture {
        _dir: dir,
        root,
        store,
    }
}

fn check_damage_is_undone(damage: impl FnOnce(&Path)) {
    let f = fixture();
    let before = tree(&f.root);
    let summary = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            label: "test".into(),
            ..Request::default()
        },
    )
    .unwrap();
    damage(&f.root);
    // Positive control: the damage is visible, so the comparison below can fail.
    assert_ne!(tree(&f.root), before, "the damage did not change the tree");
    rollback(&f.store, &summary.id, RollbackOptions::default()).unwrap();
    assert_eq!(tree(&f.root), before);
    // No staging area is left behind.
    let leftovers: Vec<_> = fs::read_dir(f.root.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".cordon-rollback")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn rm_rf_of_a_tree() {
    check_damage_is_undone(|r| {
        fs::remove_dir_all(r.join("src")).unwrap();
    });
}

#[test]
fn rm_rf_of_the_scope_root_itself() {
    check_damage_is_undone(|r| {
        fs::set_permissions(r.join("readonly.txt"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_dir_all(r).unwrap();
    });
}

#[test]
fn edits_in_place() {
    check_damage_is_undone(|r| {
        fs::write(r.join("src/main.rs"), b"fn main() { evil() }\n").unwrap();
        fs::write(r.join(".env"), b"").unwrap();
    });
}

#[test]
fn renames() {
    check_damage_is_undone(|r| {
        fs::rename(r.join("src"), r.join("source")).unwrap();
        fs::rename(r.join("same-a"), r.join("same-c")).unwrap();
    });
}

#[test]
fn new_files_and_directories_are_removed() {
    check_damage_is_undone(|r| {
        fs::create_dir_all(r.join("build/out")).unwrap();
        fs::write(r.join("build/out/a.o"), b"obj").unwrap();
        fs::write(r.join(".new-dotfile"), b"x").unwrap();
        fs::write(r.join("empty/now-full"), b"x").unwrap();
    });
}

#[test]
fn permission_changes() {
    check_damage_is_undone(|r| {
        fs::set_permissions(r.join("run.sh"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(r.join("readonly.txt"), fs::Permissions::from_mode(0o666)).unwrap();
        fs::set_permissions(r.join("src"), fs::Permissions::from_mode(0o500)).unwrap();
    });
}

#[test]
fn symlink_swaps() {
    check_damage_is_undone(|r| {
        fs::remove_file(r.join("link")).unwrap();
        symlink("/etc/passwd", r.join("link")).unwrap();
        fs::remove_file(r.join("src/main.rs")).unwrap();
        symlink("/etc/shadow", r.join("src/main.rs")).unwrap();
        fs::remove_dir_all(r.join("empty")).unwrap();
        symlink("/", r.join("empty")).unwrap();
    });
}

#[test]
fn changes_under_git() {
    check_damage_is_undone(|r| {
        fs::write(r.join(".git/HEAD"), b"ref: refs/heads/evil\n").unwrap();
        fs::remove_dir_all(r.join(".git/refs")).unwrap();
        fs::write(r.join(".git/config"), b"[core]\n\thooksPath = /tmp/x\n").unwrap();
    });
}

#[test]
fn hostile_names_round_trip() {
    check_damage_is_undone(|r| {
        fs::remove_file(r.join("new\nline")).unwrap();
        fs::remove_file(r.join(OsStr::from_bytes(b"bad\xffutf8"))).unwrap();
    });
}

#[test]
fn file_mtimes_come_back() {
    let f = fixture();
    let mtime = |p: &Path| {
        fs::symlink_metadata(p).unwrap().mtime_nsec()
            + fs::symlink_metadata(p).unwrap().mtime() * 1_000_000_000
    };
    let before = mtime(&f.root.join("src/main.rs"));
    let s = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(f.root.join("src/main.rs"), b"changed").unwrap();
    assert_ne!(mtime(&f.root.join("src/main.rs")), before);
    rollback(&f.store, &s.id, RollbackOptions::default()).unwrap();
    assert_eq!(mtime(&f.root.join("src/main.rs")), before);
}

#[test]
fn content_is_deduplicated_across_checkpoints() {
    let f = fixture();
    let first = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    // `same-a` and `same-b` share one object already in the first checkpoint.
    assert_eq!(first.deduplicated, 1);
    let second = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    let files = first.reflinked + first.copied + first.deduplicated;
    assert_eq!(
        second.deduplicated, files,
        "every file of an unchanged tree is already stored"
    );
    assert_eq!(second.reflinked + second.copied, 0);
}

#[test]
fn a_scope_that_did_not_exist_is_removed_with_missing_parents() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let scope = dir.path().join("a/b/c");
    let s = snapshot(
        &store,
        &Request {
            scopes: vec![scope.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    fs::create_dir_all(&scope).unwrap();
    fs::write(scope.join("f"), b"x").unwrap();
    rollback(&store, &s.id, RollbackOptions::default()).unwrap();
    assert!(!dir.path().join("a").exists());
}

#[test]
fn a_file_scope_is_restored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let file = dir.path().join("config.toml");
    fs::write(&file, b"a = 1\n").unwrap();
    let s = snapshot(
        &store,
        &Request {
            scopes: vec![file.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    rollback(&store, &s.id, RollbackOptions::default()).unwrap();
    assert_eq!(fs::read(&file).unwrap(), b"a = 1\n");
}

#[test]
fn refuses_a_scope_root_that_became_a_symlink() {
    let f = fixture();
    let outside = f.root.parent().unwrap().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim"), b"untouched").unwrap();
    let s = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    fs::set_permissions(
        f.root.join("readonly.txt"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fs::remove_dir_all(&f.root).unwrap();
    symlink(&outside, &f.root).unwrap();
    let err = rollback(&f.store, &s.id, RollbackOptions::default()).unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(err.to_string().contains("now a symlink"), "{err}");
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"untouched");
    assert!(fs::symlink_metadata(&f.root)
        .unwrap()
        .file_type()
        .is_symlink());
    // Positive control: once the link is gone, the same rollback succeeds.
    fs::remove_file(&f.root).unwrap();
    rollback(&f.store, &s.id, RollbackOptions::default()).unwrap();
    assert!(f.root.join("src/main.rs").is_file());
}

#[test]
fn refuses_a_scope_whose_parent_moved() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let parent = dir.path().join("p");
    fs::create_dir_all(parent.join("repo")).unwrap();
    fs::write(parent.join("repo/f"), b"x").unwrap();
    let s = snapshot(
        &store,
        &Request {
            scopes: vec![parent.join("repo")],
            ..Request::default()
        },
    )
    .unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(elsewhere.join("repo")).unwrap();
    fs::rename(&parent, dir.path().join("p-old")).unwrap();
    symlink(&elsewhere, &parent).unwrap();
    let err = rollback(&store, &s.id, RollbackOptions::default()).unwrap_err();
    assert!(matches!(err, Error::OutsideScope { .. }), "{err}");
    assert!(!elsewhere.join("repo/f").exists());
}

#[test]
fn symlinks_inside_the_scope_are_not_followed_when_snapshotting() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let root = dir.path().join("repo");
    fs::create_dir(&root).unwrap();
    let outside = dir.path().join("secret");
    fs::write(&outside, b"do not copy me").unwrap();
    symlink(&outside, root.join("link")).unwrap();
    let s = snapshot(
        &store,
        &Request {
            scopes: vec![root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.reflinked + s.copied + s.deduplicated,
        0,
        "the link's target was stored"
    );
}

#[test]
fn an_empty_scope_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = snapshot(&store, &Request::default()).unwrap_err();
    assert!(err.to_string().contains("no write scope"), "{err}");
}

#[test]
fn unknown_checkpoint_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(matches!(
        rollback(&store, "ck-nope", RollbackOptions::default()),
        Err(Error::NotFound { .. })
    ));
}

/// On a filesystem with reflink (XFS, btrfs: CI mounts a small XFS image and points `TMPDIR` at
/// it), every file is stored as a clone and restored from one; elsewhere, as copies.
#[test]
fn files_are_cloned_where_the_filesystem_can_and_copied_where_it_cannot() {
    let f = fixture();
    let probe = f.root.parent().unwrap().join("probe");
    let can_clone = reflink_copy::reflink(f.root.join("run.sh"), &probe).is_ok();
    let s = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    let stored = s.reflinked + s.copied;
    assert!(stored > 0);
    if can_clone {
        assert_eq!((s.reflinked, s.copied), (stored, 0), "{s:?}");
    } else {
        assert_eq!((s.reflinked, s.copied), (0, stored), "{s:?}");
    }
    fs::remove_dir_all(f.root.join("src")).unwrap();
    rollback(&f.store, &s.id, RollbackOptions::default()).unwrap();
    assert_eq!(
        fs::read(f.root.join("src/main.rs")).unwrap(),
        b"fn main() {}\n"
    );
    if !can_clone {
        // The copy path was checked; the clone path needs TMPDIR on XFS or btrfs, which
        // scripts/test provides in its second run of this crate (where this skip is not allowed).
        cordon_testkit::kernel_skip!(
            "reflink",
            "the temporary directory's filesystem has no reflink; checked the copy path only"
        );
    }
}

#[test]
fn checkpoints_are_listed_by_session_and_garbage_collection_keeps_live_objects() {
    let f = fixture();
    let mine = snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            session: Some("s-1".into()),
            ..Request::default()
        },
    )
    .unwrap();
    snapshot(
        &f.store,
        &Request {
            scopes: vec![f.root.clone()],
            ..Request::default()
        },
    )
    .unwrap();
    let listed = cordon_checkpoint::list(&f.store, Some("s-1")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, mine.id);
    assert_eq!(
        listed[0].scopes,
        vec![f.root.to_string_lossy().into_owned()]
    );
    assert_eq!(cordon_checkpoint::list(&f.store, None).unwrap().len(), 2);
    // A stray object is collected; every referenced one survives, so a rollback still works.
    let stray = f.store.object_path(&"ab".repeat(32));
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, b"stray").unwrap();
    assert_eq!(f.store.collect_garbage().unwrap(), 1);
    assert!(!stray.exists());
    fs::remove_dir_all(f.root.join("src")).unwrap();
    rollback(&f.store, &mine.id, RollbackOptions::default()).unwrap();
    assert!(f.root.join("src/main.rs").is_file());
}

#[test]
fn a_scope_that_holds_the_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let store = Store::open(&root.join("home/state/checkpoints")).unwrap();
    fs::write(root.join("file"), b"x").unwrap();
    let err = snapshot(
        &store,
        &Request {
            scopes: vec![root.clone()],
            ..Request::default()
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("lies inside the write scope"),
        "{err}"
    );
    // Control: a sibling scope is fine.
    fs::create_dir(root.join("ws")).unwrap();
    snapshot(
        &store,
        &Request {
            scopes: vec![root.join("ws")],
            ..Request::default()
        },
    )
    .unwrap();
}
