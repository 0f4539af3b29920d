//! What the checkpoint tests share: a tree comparison, a project fixture, and keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cordon_checkpoint::{KeyRing, Signer};

/// Everything that must come back: path → (kind, mode, bytes or link target).
pub type Tree = BTreeMap<Vec<u8>, (char, u32, Vec<u8>)>;

pub fn tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, path: &Path, out: &mut Tree) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .as_os_str()
        .as_bytes()
        .to_vec();
    let mode = meta.mode() & 0o7777;
    let t = meta.file_type();
    if t.is_symlink() {
        let target = fs::read_link(path).unwrap();
        out.insert(rel, ('l', 0, target.as_os_str().as_bytes().to_vec()));
    } else if t.is_dir() {
        out.insert(rel, ('d', mode, Vec::new()));
        for e in fs::read_dir(path).unwrap() {
            walk(root, &e.unwrap().path(), out);
        }
    } else if t.is_file() {
        out.insert(rel, ('f', mode, fs::read(path).unwrap()));
    } else {
        out.insert(rel, ('s', mode, Vec::new()));
    }
}

/// A project with dotfiles, `.git`, a symlink, an empty directory, odd modes and hostile names.
pub fn project(root: &Path) {
    fs::create_dir_all(root.join("src/nested/deeper")).unwrap();
    fs::create_dir_all(root.join(".git/refs/heads")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    fs::create_dir_all(root.join("dir with spaces/inner dir")).unwrap();
    fs::write(root.join("src/main.rs"), b"fn main() {}\n").unwrap();
    fs::write(root.join("src/nested/deeper/data.bin"), [0u8, 1, 2, 255]).unwrap();
    fs::write(root.join(".env"), b"SECRET=1\n").unwrap();
    fs::write(root.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    fs::write(root.join(".git/refs/heads/main"), b"0123abcd\n").unwrap();
    fs::write(root.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("readonly.txt"), b"keep\n").unwrap();
    fs::set_permissions(root.join("readonly.txt"), fs::Permissions::from_mode(0o444)).unwrap();
    fs::write(root.join("dir with spaces/a file.txt"), b"spaced\n").unwrap();
    symlink("src/main.rs", root.join("link")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    fs::write(root.join("new\nline"), b"newline name\n").unwrap();
    fs::write(root.join(OsStr::from_bytes(b"bad\xffutf8")), b"latin1\n").unwrap();
    fs::write(root.join("same-a"), b"duplicate content\n").unwrap();
    fs::write(root.join("same-b"), b"duplicate content\n").unwrap();
}

/// The home's key (a fixed seed, so failures reproduce) and the ring that accepts it.
pub fn home_key() -> (Signer, KeyRing) {
    key(7, "home-key")
}

/// Another key: what an agent that cannot read the home's key could sign with.
pub fn other_key() -> (Signer, KeyRing) {
    key(9, "home-key")
}

fn key(seed: u8, id: &str) -> (Signer, KeyRing) {
    let signer = Signer::from_bytes(&[seed; 32], id).unwrap();
    let ring = KeyRing::single(id, signer.verifying_key());
    (signer, ring)
}

/// Names in `dir` that start with `.cordon-rollback`: a staging area left behind.
pub fn staging_left(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".cordon-rollback")
        })
        .map(|e| e.path())
        .collect()
}
