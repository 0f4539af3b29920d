//! The evidence the previous release wrote still verifies with this build.
//!
//! `testdata/previous-release/` was written by the `cordon` binary of commit 0cd4f63 (before the
//! pipeline moved into `cordon-governor`; testdata/README.md says how): a journal holding the
//! decision records of an allowed, a denied and an asked `cordon run`, the receipt of the allowed
//! run, an allowed and a denied `cordon exec` (record and receipt), a hook's decision and the
//! outcome the agent reported, with a checkpoint after every run; and a receipt signed on its own.
//! Each check has a positive control: one changed byte makes the same check fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const KEY_ID: &str = "legacy-key";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/previous-release")
}

fn cordon(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .env_remove("CORDON_JOURNAL")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the fixture journal in a temporary directory: verifying may not touch the original.
fn journal_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir_all(journal.join("checkpoints")).unwrap();
    for name in ["journal.json", "entries.jsonl"] {
        std::fs::copy(fixtures().join("journal").join(name), journal.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(fixtures().join("journal/checkpoints")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            journal.join("checkpoints").join(entry.file_name()),
        )
        .unwrap();
    }
    (dir, journal)
}

fn last_checkpoint() -> PathBuf {
    let mut names: Vec<PathBuf> = std::fs::read_dir(fixtures().join("journal/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names.pop().unwrap()
}

fn verify(journal: &Path, trusted: Option<&Path>) -> (Option<i32>, Value) {
    let public = fixtures().join("legacy-key.pub");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "verify".as_ref(),
        journal.as_os_str(),
        "--public-key".as_ref(),
        public.as_os_str(),
    ];
    if let Some(checkpoint) = trusted {
        args.extend(["--trusted-checkpoint".as_ref(), checkpoint.as_os_str()]);
    }
    let out = cordon(&args);
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let verdict = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("no JSON verdict ({e}): {stdout}{}", text(&out.stderr)));
    (out.status.code(), verdict)
}

fn verify_receipt(receipt: &Path) -> Output {
    let public = fixtures().join("legacy-key.pub");
    cordon(&[
        "verify-receipt".as_ref(),
        receipt.as_os_str(),
        "--public-key".as_ref(),
        public.as_os_str(),
        "--key-id".as_ref(),
        KEY_ID.as_ref(),
    ])
}

fn entries(journal: &Path) -> Vec<Value> {
    std::fs::read_to_string(journal.join("entries.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn the_previous_releases_journal_verifies_whole() {
    let (_dir, journal) = journal_copy();
    let (code, verdict) = verify(&journal, Some(&last_checkpoint()));
    assert_eq!(code, Some(0), "{verdict}");
    assert_eq!(verdict["verdict"], "valid");
    assert_eq!(verdict["entries"], 9);
    assert_eq!(verdict["decisions"], 6);
    assert_eq!(verdict["receipts"], 2);
    assert_eq!(verdict["other_entries"], 1);
    assert_eq!(verdict["checkpoints_matched"], 5);
    assert_eq!(verdict["failures"], serde_json::json!([]));
    // What the journal holds: the three CSC outcomes, the front end's, and the hook's.
    let outcomes: Vec<String> = entries(&journal)
        .iter()
        .filter_map(|e| e["outcome"].as_str().map(str::to_string))
        .collect();
    assert_eq!(outcomes, ["allow", "deny", "ask", "allow", "deny", "allow"]);
}

#[test]
fn one_changed_byte_in_the_previous_releases_journal_is_found() {
    let (_dir, journal) = journal_copy();
    let path = journal.join("entries.jsonl");
    let edited = std::fs::read_to_string(&path).unwrap().replacen(
        "command not allowed: /bin/rm",
        "command not allowed: /bin/rn",
        1,
    );
    std::fs::write(&path, edited).unwrap();
    let (code, verdict) = verify(&journal, None);
    assert_eq!(code, Some(1), "{verdict}");
    assert_eq!(verdict["verdict"], "invalid");
}

#[test]
fn the_previous_releases_receipts_verify_alone() {
    let out = verify_receipt(&fixtures().join("standalone-receipt.json"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "VALID — receipt signature verified\n");
    // The receipts inside the journal are CSC receipts too.
    let (dir, journal) = journal_copy();
    let receipts: Vec<Value> = entries(&journal)
        .into_iter()
        .filter(|e| e.get("receipt_version").is_some())
        .collect();
    assert_eq!(receipts.len(), 2);
    for (i, receipt) in receipts.iter().enumerate() {
        let path = dir.path().join(format!("receipt-{i}.json"));
        std::fs::write(&path, receipt.to_string()).unwrap();
        let out = verify_receipt(&path);
        assert_eq!(
            out.status.code(),
            Some(0),
            "receipt {i}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn one_changed_byte_in_the_previous_releases_receipt_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("receipt.json");
    let edited = std::fs::read_to_string(fixtures().join("standalone-receipt.json"))
        .unwrap()
        .replacen("\"exit_code\":0", "\"exit_code\":1", 1);
    std::fs::write(&path, edited).unwrap();
    let out = verify_receipt(&path);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "INVALID — invalid signature\n");
}
