//! Attacks on a journal at rest. Each must be caught, with the entry (or checkpoint) named and a
//! stable reason code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::fs;
use std::path::Path;

use common::*;
use cordon_journal::verify::Finding;
use cordon_journal::{verify_journal, Journal, Outcome, Verdict, VerifyOptions};
use serde_json::{json, Value};

/// 6 runs → entries: D0 R0 D1 R1 D2(deny) D3 R3 D4 R4 D5(deny) = 10 entries, checkpoint per run.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    populate(&mut j, &signer(), 6, true);
    assert_eq!(j.len(), 10);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    dir
}

/// Full verification; fast verification must reach the same verdict with the same findings.
fn verify(dir: &Path) -> Verdict {
    let full = verify_journal(dir, &opts()).unwrap();
    let fast = verify_journal(
        dir,
        &VerifyOptions {
            fast: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(
        (fast.verdict, &fast.failures, &fast.undecided),
        (full.verdict, &full.failures, &full.undecided)
    );
    full
}

fn has(v: &Verdict, entry: Option<u64>, code: &str) -> bool {
    v.failures
        .iter()
        .any(|f: &Finding| f.entry == entry && f.code == code)
}

fn assert_caught(v: &Verdict, entry: Option<u64>, code: &str) {
    assert_eq!(v.verdict, Outcome::Invalid, "{v:#?}");
    assert!(
        has(v, entry, code),
        "expected {code} at {entry:?}: {:#?}",
        v.failures
    );
}

/// Replaces one byte inside the value of `field` on line `index`, keeping the JSON valid.
fn flip_in_field(dir: &Path, index: usize, field: &str) {
    let mut l = lines(dir);
    let text = String::from_utf8(l[index].clone()).unwrap();
    let key = format!("\"{field}\":\"");
    let at = text
        .find(&key)
        .unwrap_or_else(|| panic!("{field} not in {text}"))
        + key.len();
    let mut bytes = l[index].clone();
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    l[index] = bytes;
    write_lines(dir, &l);
}

fn rewrite_entry(dir: &Path, index: usize, f: impl FnOnce(&mut Value)) {
    let mut l = lines(dir);
    let mut v: Value = serde_json::from_slice(&l[index]).unwrap();
    f(&mut v);
    let mut line = cordon_core::canonical::to_vec(&v).unwrap();
    line.push(b'\n');
    l[index] = line;
    write_lines(dir, &l);
}

#[test]
fn flipping_a_byte_in_a_decision_record_is_caught() {
    let dir = fixture();
    flip_in_field(dir.path(), 0, "reason");
    let v = verify(dir.path());
    assert_caught(&v, Some(0), "bad_signature");
    assert!(v.failures.iter().any(|f| f.code == "checkpoint_mismatch"));
}

#[test]
fn flipping_a_byte_in_a_receipt_is_caught() {
    let dir = fixture();
    flip_in_field(dir.path(), 3, "stdout_hash");
    assert_caught(&verify(dir.path()), Some(3), "bad_signature");
}

#[test]
fn flipping_a_byte_in_a_denial_is_caught() {
    let dir = fixture();
    flip_in_field(dir.path(), 4, "outcome");
    assert_caught(&verify(dir.path()), Some(4), "bad_signature");
}

#[test]
fn flipping_a_byte_in_a_signature_is_caught() {
    let dir = fixture();
    let mut l = lines(dir.path());
    let text = String::from_utf8(l[6].clone()).unwrap();
    let at = text.find("\"signature\":\"").unwrap() + 14;
    l[6][at] = if l[6][at] == b'A' { b'B' } else { b'A' };
    write_lines(dir.path(), &l);
    assert_caught(&verify(dir.path()), Some(6), "bad_signature");
}

#[test]
fn breaking_the_json_or_its_canonical_form_is_caught() {
    let dir = fixture();
    let mut l = lines(dir.path());
    l[2][0] = b'[';
    write_lines(dir.path(), &l);
    assert_caught(&verify(dir.path()), Some(2), "malformed_entry");

    let dir = fixture();
    let mut l = lines(dir.path());
    // Same JSON value, different bytes: a space after the first colon.
    let text = String::from_utf8(l[5].clone())
        .unwrap()
        .replacen("\":", "\": ", 1);
    l[5] = text.into_bytes();
    write_lines(dir.path(), &l);
    let v = verify(dir.path());
    assert_caught(&v, Some(5), "non_canonical_entry");
    assert!(
        !has(&v, Some(5), "bad_signature"),
        "the signed value itself is intact"
    );
}

#[test]
fn flipping_a_byte_in_a_checkpoint_is_caught() {
    let dir = fixture();
    let files = Journal::open(dir.path())
        .unwrap()
        .checkpoint_files()
        .unwrap();
    let path = &files[3];
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let root = lines[2].clone();
    lines[2] = format!(
        "{}{}",
        if root.starts_with('A') { "B" } else { "A" },
        &root[1..]
    );
    fs::write(path, lines.join("\n") + "\n").unwrap();
    let v = verify(dir.path());
    assert_eq!(v.verdict, Outcome::Invalid);
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(v.failures.iter().any(|f| f.code == "checkpoint_bad_signature" && f.checkpoint.as_deref() == Some(&name)), "{v:#?}");
}

#[test]
fn deleting_an_entry_is_caught_at_its_position() {
    let dir = fixture();
    let mut l = lines(dir.path());
    l.remove(3);
    write_lines(dir.path(), &l);
    let v = verify(dir.path());
    assert_caught(&v, Some(3), "position_mismatch");
    assert!(
        v.failures.iter().any(|f| f.reason.contains("deleted")),
        "{v:#?}"
    );
}

#[test]
fn deleting_the_last_entry_is_caught_by_the_checkpoint() {
    let dir = fixture();
    let l = lines(dir.path());
    write_lines(dir.path(), &l[..9]);
    assert_caught(&verify(dir.path()), Some(9), "checkpoint_beyond_journal");
}

#[test]
fn inserting_a_copy_of_an_entry_is_caught() {
    let dir = fixture();
    let mut l = lines(dir.path());
    let copy = l[2].clone();
    l.insert(3, copy);
    write_lines(dir.path(), &l);
    let v = verify(dir.path());
    assert_caught(&v, Some(3), "position_mismatch");
    assert!(v
        .failures
        .iter()
        .any(|f| f.code == "duplicate_record_id" && f.entry == Some(3)));
}

#[test]
fn inserting_an_entry_signed_by_another_key_is_caught() {
    let dir = fixture();
    let mut l = lines(dir.path());
    // A forger builds a well-formed entry for position 3 with its own key under our key id.
    let mut forged: Value = serde_json::from_slice(&l[3]).unwrap();
    forged["exit_code"] = json!(0);
    forged["stdout_hash"] = json!(format!("sha256:{:064x}", 7));
    let forged =
        cordon_journal::signing::sign_at(&forged, &other_signer(), "2026-01-01T00:00:00Z").unwrap();
    let mut line = cordon_core::canonical::to_vec(&forged).unwrap();
    line.push(b'\n');
    l.insert(3, line);
    write_lines(dir.path(), &l);
    assert_caught(&verify(dir.path()), Some(3), "bad_signature");
}

#[test]
fn reordering_entries_is_caught() {
    let dir = fixture();
    let mut l = lines(dir.path());
    l.swap(5, 6);
    write_lines(dir.path(), &l);
    let v = verify(dir.path());
    assert_caught(&v, Some(5), "position_mismatch");
    assert_caught(&v, Some(6), "position_mismatch");
}

#[test]
fn truncating_the_journal_is_caught_by_stored_checkpoints() {
    let dir = fixture();
    let l = lines(dir.path());
    write_lines(dir.path(), &l[..6]);
    let v = verify(dir.path());
    assert_caught(&v, Some(6), "checkpoint_beyond_journal");
}

#[test]
fn truncating_and_deleting_newer_checkpoints_is_caught_by_a_trusted_checkpoint() {
    let dir = fixture();
    let trusted = Journal::open(dir.path())
        .unwrap()
        .latest_checkpoint()
        .unwrap()
        .unwrap();
    let l = lines(dir.path());
    write_lines(dir.path(), &l[..6]);
    for p in cordon_journal::store::checkpoint_files(dir.path()).unwrap() {
        let size: u64 = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .split('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if size > 6 {
            fs::remove_file(p).unwrap();
        }
    }
    // Without the auditor's checkpoint the cut is invisible, and the verdict says so.
    let v = verify(dir.path());
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert!(!v.extends_trusted);
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("not that nothing was removed")),
        "{v:#?}"
    );
    // With it, the truncation is proven and located.
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring: ring(),
            trusted_checkpoint: Some(trusted),
            fast: false,
        },
    )
    .unwrap();
    assert_caught(&v, Some(6), "truncated");
}

#[test]
fn rolling_back_to_an_older_snapshot_is_caught_by_a_trusted_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 3, true);
    copy_dir(dir.path(), snapshot.path());
    populate(&mut j, &s, 3, true);
    let (_, trusted) = j.write_checkpoint(&s).unwrap();
    drop(j);
    // Restore the old snapshot wholesale: entries, index and its (valid, older) checkpoints.
    fs::remove_dir_all(dir.path()).unwrap();
    copy_dir(snapshot.path(), dir.path());
    assert_eq!(verify(dir.path()).verdict, Outcome::Valid);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring: ring(),
            trusted_checkpoint: Some(trusted.clone()),
            fast: false,
        },
    )
    .unwrap();
    assert_caught(&v, Some(5), "truncated");
    // Rollback then new appends (a fork): the journal is long enough again, but not the same tree.
    let mut j = Journal::open(dir.path()).unwrap();
    populate(&mut j, &s, 4, true);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring: ring(),
            trusted_checkpoint: Some(trusted),
            fast: false,
        },
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Invalid);
    assert!(
        v.failures
            .iter()
            .any(|f| f.code == "trusted_checkpoint_mismatch" && f.entry == Some(0)),
        "{v:#?}"
    );
}

#[test]
fn successive_checkpoints_are_proven_consistent() {
    let dir = fixture();
    let v = verify(dir.path());
    let stored = cordon_journal::store::checkpoint_files(dir.path())
        .unwrap()
        .len() as u64;
    assert_eq!(v.consistency_checked, stored - 1, "{v:#?}");
}

#[test]
fn a_rewritten_history_checkpointed_again_is_caught_by_the_consistency_proof() {
    // The original history, with a checkpoint after every run.
    let original = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(original.path());
    populate(&mut j, &s, 3, true);
    let (old_cp, _) = j.write_checkpoint(&s).unwrap();
    assert_eq!(old_cp.size, 5);
    drop(j);
    // Someone with the key rewrites it from scratch, longer, and checkpoints the new history…
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    populate(&mut j, &s, 4, false);
    let (new_cp, _) = j.write_checkpoint(&s).unwrap();
    assert_eq!(new_cp.size, 7);
    drop(j);
    // …but a checkpoint of the old history survives next to it (a mirror, a backup, a witness).
    let old_file = cordon_journal::store::checkpoint_files(original.path())
        .unwrap()
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("00000000000000000004-")
        })
        .unwrap();
    fs::copy(
        &old_file,
        dir.path()
            .join("checkpoints")
            .join(old_file.file_name().unwrap()),
    )
    .unwrap();
    let v = verify(dir.path());
    assert_eq!(v.verdict, Outcome::Invalid);
    let finding = v
        .failures
        .iter()
        .find(|f| f.code == "checkpoint_inconsistent")
        .unwrap_or_else(|| panic!("no checkpoint_inconsistent: {v:#?}"));
    assert_eq!(
        finding.checkpoint.as_deref(),
        Some(&*old_file.file_name().unwrap().to_string_lossy())
    );
    assert!(
        finding.reason.contains("size 4") && finding.reason.contains("size 7"),
        "{}",
        finding.reason
    );
    // Positive control: without the stale checkpoint the rewritten journal is self-consistent.
    fs::remove_file(
        dir.path()
            .join("checkpoints")
            .join(old_file.file_name().unwrap()),
    )
    .unwrap();
    assert_eq!(verify(dir.path()).verdict, Outcome::Valid);
}

#[test]
fn putting_back_an_older_checkpoint_under_a_newer_name_is_caught() {
    let dir = fixture();
    let files = cordon_journal::store::checkpoint_files(dir.path()).unwrap();
    let older = fs::read_to_string(&files[2]).unwrap();
    fs::write(files.last().unwrap(), older).unwrap();
    let v = verify(dir.path());
    assert_eq!(v.verdict, Outcome::Invalid);
    assert!(
        v.failures.iter().any(|f| f.code == "checkpoint_misnamed"),
        "{v:#?}"
    );
}

#[test]
fn swapping_the_public_key_is_caught() {
    // The auditor's key is not the one that signed: nothing verifies.
    let dir = fixture();
    let wrong = cordon_journal::KeyRing::single("test-key", other_signer().verifying_key());
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring: wrong,
            trusted_checkpoint: None,
            fast: false,
        },
    )
    .unwrap();
    assert_caught(&v, Some(0), "bad_signature");
    // Its checkpoints carry no signature by a key the auditor holds: not accepted.
    assert_eq!(v.checkpoints_matched, 0);
    assert!(
        v.undecided
            .iter()
            .any(|f| f.code == "unknown_key" && f.checkpoint.is_some()),
        "{v:#?}"
    );

    // An attacker re-signs a rewritten journal with their own key under the same key id and origin.
    let forged_dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(forged_dir.path(), "test.example/journal").unwrap();
    populate(&mut j, &other_signer(), 6, true);
    let v = verify(forged_dir.path());
    assert_caught(&v, Some(0), "bad_signature");
    assert_eq!(v.failures.len(), 10, "every entry fails: {v:#?}");
    assert!(v.failures.iter().all(|f| f.code == "bad_signature"));
    assert_eq!(v.checkpoints_matched, 0);
}

#[test]
fn a_signature_member_moved_inside_the_payload_is_caught() {
    // The signature object moved into a nested member: the entry has no signature of its own.
    let dir = fixture();
    rewrite_entry(dir.path(), 1, |v| {
        let sig = v.as_object_mut().unwrap().remove("signature").unwrap();
        v["decision_record"]["signature"] = sig;
    });
    let v = verify(dir.path());
    assert_caught(&v, Some(1), "bad_signature");
    assert!(
        v.failures
            .iter()
            .any(|f| f.entry == Some(1) && f.reason == "missing signature"),
        "{v:#?}"
    );

    // A second signature member smuggled inside the signed payload changes the payload.
    let dir = fixture();
    rewrite_entry(dir.path(), 2, |v| {
        let sig = v["signature"].clone();
        v["log_position"]["signature"] = sig;
    });
    let v = verify(dir.path());
    assert_caught(&v, Some(2), "bad_signature");
    assert!(
        v.failures
            .iter()
            .any(|f| f.entry == Some(2) && f.reason == "invalid signature"),
        "{v:#?}"
    );

    // An extra member inside the signature object is authenticated too (CSC signs it).
    let dir = fixture();
    rewrite_entry(dir.path(), 0, |v| {
        v["signature"]["note"] = json!("added later");
    });
    assert_caught(&verify(dir.path()), Some(0), "bad_signature");
}

#[test]
fn replacing_an_entry_with_one_from_a_fork_is_caught_by_the_chain() {
    // Two copies of one journal grow apart; entry 4 of the other copy is validly signed, for the
    // same origin and the same index, but it follows a different entry 3.
    let dir = tempfile::tempdir().unwrap();
    let fork = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(dir.path());
    j.append_signed_batch(&[json!({"n": 0}), json!({"n": 1}), json!({"n": 2})], &s)
        .unwrap();
    copy_dir(dir.path(), fork.path());
    j.append_signed_batch(&[json!({"n": 3}), json!({"n": 4})], &s)
        .unwrap();
    let mut f = Journal::open(fork.path()).unwrap();
    f.append_signed_batch(&[json!({"n": "3 elsewhere"}), json!({"n": 4})], &s)
        .unwrap();
    let mut l = lines(dir.path());
    l[4] = lines(fork.path())[4].clone();
    write_lines(dir.path(), &l);
    let v = verify(dir.path());
    assert_caught(&v, Some(4), "chain_mismatch");
    assert_eq!(v.failures.len(), 1, "{v:#?}");
}

#[test]
fn replacing_the_origin_is_caught() {
    let dir = fixture();
    let meta = dir.path().join("journal.json");
    let text = fs::read_to_string(&meta)
        .unwrap()
        .replace("test.example/journal", "other.example/journal");
    fs::write(&meta, text).unwrap();
    let v = verify(dir.path());
    assert_caught(&v, Some(0), "position_mismatch");
    assert!(v.failures.iter().any(|f| f.code == "checkpoint_origin"));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), target).unwrap();
        }
    }
}
