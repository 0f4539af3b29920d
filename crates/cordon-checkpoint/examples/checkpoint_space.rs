//! Times a checkpoint and a rollback of a generated tree and measures the space they use.
//!
//! `cargo run --release -p cordon-checkpoint --example checkpoint_space -- DIR [FILES] [BYTES]`
//!
//! Builds `DIR/tree` (FILES files of BYTES distinct bytes each, 100 per directory), snapshots it
//! into `DIR/store`, snapshots it again unchanged (everything deduplicated), deletes the whole tree
//! and rolls it back, then changes 1% of the files and rolls back again. Space is the drop in the
//! filesystem's free blocks (`statvfs`), so copy-on-write clones count for what they really cost;
//! `store_logical_bytes` is what the objects would take as plain copies. bench/checkpoint-space.sh runs
//! it on the work tree's filesystem and on an XFS image with reflink; docs/checkpoints.md has the
//! figures.

mod common;

use std::fs;
use std::path::Path;
use std::time::Instant;

use cordon_checkpoint::{rollback, snapshot, Request, RollbackOptions, Store};

fn free_bytes(dir: &Path) -> u64 {
    nix::unistd::sync();
    nix::sys::statvfs::statvfs(dir)
        .map(|s| s.blocks_available() * s.fragment_size())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: checkpoint_space DIR [FILES] [BYTES]")?;
    let files: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let bytes: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4096);
    let dir = Path::new(&dir);
    let tree = dir.join("tree");
    let store_dir = dir.join("store");
    let _ = fs::remove_dir_all(&tree);
    let _ = fs::remove_dir_all(&store_dir);
    for i in 0..files {
        let sub = tree.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            fs::create_dir_all(&sub)?;
        }
        fs::write(
            sub.join(format!("f{i:05}.txt")),
            common::content(0, i, bytes),
        )?;
    }
    let store = Store::open(&store_dir)?;
    let request = Request {
        scopes: vec![tree.clone()],
        label: "bench".into(),
        ..Request::default()
    };

    let free0 = free_bytes(dir);
    let t = Instant::now();
    let first = snapshot(&store, &request)?;
    let snapshot_ms = t.elapsed().as_secs_f64() * 1e3;
    let free1 = free_bytes(dir);

    let t = Instant::now();
    let second = snapshot(&store, &request)?;
    let snapshot_unchanged_ms = t.elapsed().as_secs_f64() * 1e3;
    let free2 = free_bytes(dir);

    fs::remove_dir_all(&tree)?;
    let t = Instant::now();
    rollback(&store, &first.id, RollbackOptions::default())?;
    let rollback_deleted_ms = t.elapsed().as_secs_f64() * 1e3;

    for i in (0..files).step_by(100) {
        let path = tree
            .join(format!("d{:03}", i / 100))
            .join(format!("f{i:05}.txt"));
        fs::write(path, b"changed")?;
    }
    let t = Instant::now();
    rollback(&store, &first.id, RollbackOptions::default())?;
    let rollback_one_percent_ms = t.elapsed().as_secs_f64() * 1e3;

    let method = if first.reflinked > 0 {
        "reflink"
    } else {
        "copy"
    };
    println!(
        "{}",
        serde_json::json!({
            "files": files,
            "file_bytes": bytes,
            "method": method,
            "reflinked": first.reflinked,
            "copied": first.copied,
            "snapshot_ms": snapshot_ms,
            "snapshot_space_bytes": free0.saturating_sub(free1),
            "store_logical_bytes": first.bytes,
            "snapshot_unchanged_ms": snapshot_unchanged_ms,
            "snapshot_unchanged_deduplicated": second.deduplicated,
            "snapshot_unchanged_space_bytes": free1.saturating_sub(free2),
            "rollback_deleted_tree_ms": rollback_deleted_ms,
            "rollback_one_percent_changed_ms": rollback_one_percent_ms,
        })
    );
    Ok(())
}
