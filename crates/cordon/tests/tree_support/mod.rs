//! Byte-for-byte snapshots of a directory tree, for the checkpoint and rollback tests: the set of
//! paths, each file's bytes and mode, each directory's mode, each symlink's target.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;

/// Relative path → (kind `f`/`d`/`l`, permission bits, bytes or link target).
pub type Tree = BTreeMap<Vec<u8>, (char, u32, Vec<u8>)>;

/// Every path below `root` (not following links) with its kind, mode and bytes or target.
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
    if meta.file_type().is_symlink() {
        let t = fs::read_link(path).unwrap();
        out.insert(rel, ('l', 0, t.as_os_str().as_bytes().to_vec()));
    } else if meta.is_dir() {
        out.insert(rel, ('d', meta.mode() & 0o7777, Vec::new()));
        for e in fs::read_dir(path).unwrap() {
            walk(root, &e.unwrap().path(), out);
        }
    } else {
        out.insert(rel, ('f', meta.mode() & 0o7777, fs::read(path).unwrap()));
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The checkpoint a receipt names.
pub fn checkpoint_id(receipt: &Value) -> String {
    receipt["x-cordon"]["checkpoint"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no checkpoint id in {receipt}"))
        .to_string()
}
