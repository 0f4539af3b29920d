//! The journal as storage: appends, group commit, index, proofs, torn tails, concurrent writers,
//! key rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::fs;

use common::*;
use cordon_journal::merkle::{self, Hash};
use cordon_journal::{
    proof, record, verify_journal, Journal, JournalError, KeyRing, Outcome, Signer, VerifyOptions,
};
use serde_json::{json, Value};

#[test]
fn a_populated_journal_verifies_and_counts_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    populate(&mut j, &signer(), 9, true);
    assert_eq!(j.len(), 15); // 9 decisions + 6 receipts
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!((v.entries, v.decisions, v.receipts), (15, 9, 6));
    assert_eq!(v.checkpoints_matched, 9);
    assert_eq!(v.checkpointed_size, Some(15));
    assert_eq!(v.unbound_entries, 0);
    let fast = verify_journal(
        dir.path(),
        &VerifyOptions {
            fast: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(fast.verdict, Outcome::Valid, "{fast:#?}");
    assert!(
        fast.notes
            .iter()
            .any(|n| n.starts_with("fast: entries 0..14")),
        "{fast:#?}"
    );
    // Every line is canonical JSON and carries its position.
    for (i, line) in lines(dir.path()).iter().enumerate() {
        let value: Value = serde_json::from_slice(line).unwrap();
        assert_eq!(
            cordon_core::canonical::to_vec(&value).unwrap(),
            line[..line.len() - 1]
        );
        assert_eq!(value["log_position"]["index"], json!(i));
    }
}

#[test]
fn disk_proofs_equal_in_memory_proofs_for_every_index_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    let entries: Vec<Value> = (0..37).map(|i| json!({"n": i})).collect();
    j.append_signed_batch(&entries, &s).unwrap();
    let leaves: Vec<Hash> = lines(dir.path())
        .iter()
        .map(|l| merkle::leaf_hash(&l[..l.len() - 1]))
        .collect();
    for n in 1..=37u64 {
        assert_eq!(j.root_at(n).unwrap(), merkle::mth(&leaves[..n as usize]));
        for i in 0..n {
            assert_eq!(
                j.inclusion_proof(i, n).unwrap(),
                merkle::inclusion_proof(&leaves[..], i, n).unwrap()
            );
        }
        for m in 1..=n {
            assert_eq!(
                j.consistency_proof(m, n).unwrap(),
                merkle::consistency_proof(&leaves[..], m, n).unwrap()
            );
        }
    }
    assert!(j.inclusion_proof(37, 37).is_err());
    assert!(j.inclusion_proof(0, 38).is_err());
}

#[test]
fn a_proof_bundle_verifies_offline_and_fails_when_altered() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 5, false);
    assert!(
        matches!(j.proof_bundle(0, None), Err(JournalError::Proof(_))),
        "no checkpoint yet"
    );
    j.write_checkpoint(&s).unwrap();
    for i in 0..j.len() {
        let bundle = j.proof_bundle(i, None).unwrap();
        assert!(bundle.starts_with("c2sp.org/tlog-proof@v1\nextra "));
        let proven = proof::verify(&bundle, None, &ring()).unwrap();
        assert_eq!(proven.index, i);
        assert_eq!(proven.checkpoint.size, j.len());
        // The entry itself, given separately, is what the leaf hash covers.
        let entry = j.read_entry(i).unwrap();
        proof::verify(&bundle, Some(&entry), &ring()).unwrap();
        let mut other = entry.clone();
        other[10] ^= 1;
        assert!(proof::verify(&bundle, Some(&other), &ring()).is_err());
        // Wrong key: the checkpoint is not accepted.
        let wrong = KeyRing::single("test-key", other_signer().verifying_key());
        assert!(proof::verify(&bundle, None, &wrong).is_err());
        // Claiming another index fails.
        let moved = bundle.replacen(
            &format!("\nindex {i}\n"),
            &format!("\nindex {}\n", (i + 1) % j.len()),
            1,
        );
        assert!(proof::verify(&moved, None, &ring()).is_err());
    }
    j.append_signed(&json!({"late": true}), &s).unwrap();
    assert!(
        j.proof_bundle(j.len() - 1, None).is_err(),
        "not covered by the latest checkpoint"
    );
}

#[test]
fn a_torn_tail_is_ignored_by_verify_and_trimmed_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 3, true);
    let before = j.len();
    drop(j);
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("entries.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"half\":\"a line cut by a cr").unwrap();
    drop(f);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!(v.torn_tail_bytes, 27);
    let mut j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.trimmed_bytes(), 27);
    assert_eq!(j.len(), before);
    j.append_signed(&json!({"after": "crash"}), &s).unwrap();
    j.write_checkpoint(&s).unwrap();
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!((v.entries, v.torn_tail_bytes), (before + 1, 0));
}

#[test]
fn the_index_is_rebuilt_from_the_entries_when_lost_or_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    j.append_signed_batch(&(0..100).map(|i| json!({"i": i})).collect::<Vec<_>>(), &s)
        .unwrap();
    let root = j.root_at(100).unwrap();
    let proof = j.inclusion_proof(41, 100).unwrap();
    drop(j);
    // Lose the node file's tail and part of an offset record (a crash between index writes).
    let nodes = dir.path().join("index/nodes");
    let len = fs::metadata(&nodes).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&nodes)
        .unwrap()
        .set_len(len - 32 * 7 - 5)
        .unwrap();
    let offsets = dir.path().join("index/offsets");
    let len = fs::metadata(&offsets).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&offsets)
        .unwrap()
        .set_len(len - 8 * 3 - 3)
        .unwrap();
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.len(), 100);
    assert_eq!(j.root_at(100).unwrap(), root);
    assert_eq!(j.inclusion_proof(41, 100).unwrap(), proof);
    drop(j);
    // Lose the whole index.
    fs::remove_dir_all(dir.path().join("index")).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.root_at(100).unwrap(), root);
    assert_eq!(j.inclusion_proof(41, 100).unwrap(), proof);
}

#[test]
fn a_writer_refuses_a_journal_truncated_behind_its_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    j.append_signed_batch(
        &(0..10).map(|i| json!({"i": i})).collect::<Vec<_>>(),
        &signer(),
    )
    .unwrap();
    drop(j);
    let l = lines(dir.path());
    write_lines(dir.path(), &l[..7]);
    let err = Journal::open(dir.path()).unwrap_err();
    assert!(matches!(err, JournalError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn concurrent_writers_in_separate_handles_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    new_journal(dir.path());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut j = Journal::open(&path).unwrap();
                let s = signer();
                let mut got = Vec::new();
                for k in 0..40 {
                    let a = if k % 5 == 0 {
                        j.append_signed_batch(
                            &[
                                json!({"t": t, "k": k}),
                                json!({"t": t, "k": k, "second": true}),
                            ],
                            &s,
                        )
                        .unwrap()
                    } else {
                        vec![j.append_signed(&json!({"t": t, "k": k}), &s).unwrap()]
                    };
                    got.extend(a.into_iter().map(|a| a.index));
                    if k % 10 == 0 {
                        j.write_checkpoint(&s).unwrap();
                    }
                }
                got
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..192).collect::<Vec<u64>>());
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!(v.entries, 192);
}

#[test]
fn presigned_csc_receipts_are_kept_verbatim_and_verify_unbound() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let vectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/csc");
    let receipt: Value =
        serde_json::from_slice(&fs::read(vectors.join("hard.json")).unwrap()).unwrap();
    let a = j.append_presigned(std::slice::from_ref(&receipt)).unwrap();
    assert_eq!(a[0].index, 0);
    assert!(j.append_presigned(&[json!({"unsigned": true})]).is_err());
    j.write_checkpoint(&signer()).unwrap();
    let key = cordon_journal::keys::read_public_key(
        &vectors.join("pubkey-for-signed.local-and-hard.raw"),
    )
    .unwrap();
    let mut ring = ring();
    ring.insert("test-k1", key, None, None);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring,
            trusted_checkpoint: None,
            fast: false,
        },
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!(v.unbound_entries, 1);
    // Without csc-runner's key the receipt cannot be judged: undecidable, naming the entry.
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Undecidable, "{v:#?}");
    assert_eq!(v.undecided[0].entry, Some(0));
    assert_eq!(v.undecided[0].code, "unknown_key");
}

#[test]
fn rotated_keys_keep_old_entries_valid_and_windows_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let old = Signer::from_bytes(&[1u8; 32], "k-2026a").unwrap();
    let new = Signer::from_bytes(&[2u8; 32], "k-2026b").unwrap();
    j.append_signed(&json!({"by": "old"}), &old).unwrap();
    j.write_checkpoint(&old).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let switch = time::OffsetDateTime::now_utc();
    std::thread::sleep(std::time::Duration::from_millis(20));
    j.append_signed(&json!({"by": "new"}), &new).unwrap();
    j.write_checkpoint(&new).unwrap();
    let mut ring = KeyRing::new();
    ring.insert("k-2026a", old.verifying_key(), None, Some(switch));
    ring.insert("k-2026b", new.verifying_key(), Some(switch), None);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring: ring.clone(),
            trusted_checkpoint: None,
            fast: false,
        },
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    // Fast mode trusts only the checkpoint by the current key, which covers both entries.
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring,
            trusted_checkpoint: None,
            fast: true,
        },
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert!(
        v.notes.iter().any(|n| n.starts_with("fast: entries 0..1 ")),
        "{v:#?}"
    );
    // A ring that retired the old key before it signed entry 0 rejects that entry.
    let mut ring = KeyRing::new();
    ring.insert(
        "k-2026a",
        old.verifying_key(),
        None,
        Some(switch - time::Duration::hours(1)),
    );
    ring.insert("k-2026b", new.verifying_key(), Some(switch), None);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring,
            trusted_checkpoint: None,
            fast: false,
        },
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Invalid);
    assert_eq!(
        (v.failures[0].entry, v.failures[0].code),
        (Some(0), "key_not_valid")
    );
    // ... in fast mode too: the window is checked on the authenticated signed_at.
    let mut ring = KeyRing::new();
    ring.insert(
        "k-2026a",
        old.verifying_key(),
        None,
        Some(switch - time::Duration::hours(1)),
    );
    ring.insert("k-2026b", new.verifying_key(), Some(switch), None);
    let v = verify_journal(
        dir.path(),
        &VerifyOptions {
            ring,
            trusted_checkpoint: None,
            fast: true,
        },
    )
    .unwrap();
    assert_eq!(
        (v.failures[0].entry, v.failures[0].code),
        (Some(0), "key_not_valid")
    );
}

#[test]
fn decision_links_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    let rec = j
        .append_signed(&record::decision_record(&decision(0, "allow")).unwrap(), &s)
        .unwrap();
    // A receipt for another contract, linked to this record.
    let mut r = receipt(5);
    record::link_decision(&mut r, &rec).unwrap();
    j.append_signed(&r, &s).unwrap();
    // A receipt naming a record that does not exist.
    let mut r = receipt(0);
    r["decision_record"] = json!({"record_id": "dec_nope", "index": 0, "leaf_hash": rec.leaf_hash});
    j.append_signed(&r, &s).unwrap();
    // A second record reusing the id.
    let dup = record::decision_record_at(
        &decision(0, "deny"),
        rec.record_id.as_deref().unwrap(),
        "2026-01-01T00:00:00Z",
    )
    .unwrap();
    j.append_signed(&dup, &s).unwrap();
    j.write_checkpoint(&s).unwrap();
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Invalid);
    let got: Vec<(Option<u64>, &str)> = v.failures.iter().map(|f| (f.entry, f.code)).collect();
    assert_eq!(
        got,
        vec![
            (Some(1), "broken_link"),
            (Some(2), "broken_link"),
            (Some(3), "duplicate_record_id")
        ],
        "{v:#?}"
    );
}

#[test]
fn verify_with_no_key_is_undecidable_not_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    populate(&mut j, &signer(), 2, true);
    let v = verify_journal(dir.path(), &VerifyOptions::default()).unwrap();
    assert_eq!(v.verdict, Outcome::Undecidable, "{v:#?}");
}

#[test]
fn a_large_batch_is_signed_in_parallel_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    j.append_signed(&json!({"first": true}), &s).unwrap();
    let appended = j
        .append_signed_batch(&(0..300).map(|i| json!({"i": i})).collect::<Vec<_>>(), &s)
        .unwrap();
    assert_eq!(appended.first().unwrap().index, 1);
    assert_eq!(appended.last().unwrap().index, 300);
    j.append_signed(&json!({"last": true}), &s).unwrap();
    j.write_checkpoint(&s).unwrap();
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!(v.entries, 302);
}

fn offsets_len(dir: &std::path::Path) -> u64 {
    fs::metadata(dir.join("index/offsets")).unwrap().len()
}

#[test]
fn deferred_entries_are_bound_like_synced_ones_and_indexed_only_after_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 2, false);
    let indexed = j.len();
    let a = j
        .append_signed_deferred(&[json!({"d": 0}), json!({"d": 1})], &s)
        .unwrap();
    let b = j.append_signed_deferred(&[json!({"d": 2})], &s).unwrap();
    assert_eq!(
        [a[0].index, a[1].index, b[0].index],
        [indexed, indexed + 1, indexed + 2]
    );
    assert_eq!(j.unflushed(), 3);
    // Written (another process sees the lines), but the index does not cover them yet: a power
    // cut must not leave an index claiming lines the disk may not hold.
    assert_eq!(lines(dir.path()).len() as u64, indexed + 3);
    assert_eq!(offsets_len(dir.path()), indexed * 8);
    assert_eq!(j.flush().unwrap(), 3);
    assert_eq!((j.unflushed(), j.len()), (0, indexed + 3));
    assert_eq!(offsets_len(dir.path()), (indexed + 3) * 8);
    assert_eq!(j.flush().unwrap(), 0, "nothing left: a flush costs nothing");
    // A synced append continues the chain after them.
    let c = j.append_signed(&json!({"after": "flush"}), &s).unwrap();
    assert_eq!(c.index, indexed + 3);
    assert_eq!(
        j.read_entry(b[0].index).unwrap(),
        cordon_core::canonical::to_vec(&b[0].entry).unwrap()
    );
    j.write_checkpoint(&s).unwrap();
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
    assert_eq!(v.entries, indexed + 4);
}

#[test]
fn another_writer_syncs_and_indexes_deferred_entries_before_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut gateway = new_journal(dir.path());
    gateway
        .append_signed_deferred(&[json!({"hook": "allow"})], &s)
        .unwrap();
    // `cordon exec` in another process: its synced append lands after the deferred one.
    let mut exec = Journal::open(dir.path()).unwrap();
    assert_eq!(exec.len(), 1, "opening indexed the deferred entry");
    let run = exec.append_signed(&json!({"exec": "receipt"}), &s).unwrap();
    assert_eq!(run.index, 1);
    // The deferred writer notices and goes on after both.
    let next = gateway
        .append_signed_deferred(&[json!({"hook": "deny"})], &s)
        .unwrap();
    assert_eq!(next[0].index, 2);
    assert_eq!(gateway.unflushed(), 1);
    gateway.flush().unwrap();
    exec.refresh().unwrap();
    assert_eq!(exec.len(), 3);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
}

#[test]
fn deferred_entries_survive_a_writer_that_never_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(dir.path());
    j.append_signed_deferred(&[json!({"a": 1}), json!({"a": 2})], &s)
        .unwrap();
    // As after kill -9: the process is gone, its written lines are the kernel's.
    drop(j);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!((v.verdict, v.entries), (Outcome::Valid, 2), "{v:#?}");
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!((j.len(), j.trimmed_bytes()), (2, 0));
    assert_eq!(offsets_len(dir.path()), 16);
}

#[test]
fn what_a_power_cut_leaves_of_unsynced_lines_is_cut_and_synced_lines_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(dir.path());
    populate(&mut j, &s, 3, true);
    let synced = j.len();
    j.append_signed_deferred(&[json!({"lost": 1}), json!({"lost": 2})], &s)
        .unwrap();
    drop(j);
    // A file system that does not order data writes can keep the new length and lose the first
    // unsynced page: zeros where the first deferred line was, the second one intact after it.
    let mut l = lines(dir.path());
    let first = l[synced as usize].len();
    l[synced as usize] = [vec![0u8; first - 1], b"\n".to_vec()].concat();
    write_lines(dir.path(), &l);
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.len(), synced);
    assert_eq!(
        j.trimmed_bytes(),
        (first + l[synced as usize + 1].len()) as u64
    );
    drop(j);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!((v.verdict, v.entries), (Outcome::Valid, synced), "{v:#?}");
    // Positive control: the same damage to an indexed (synced) line is not cut, it is reported.
    let mut l = lines(dir.path());
    let len = l[1].len();
    l[1] = [vec![0u8; len - 1], b"\n".to_vec()].concat();
    write_lines(dir.path(), &l);
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!((j.len(), j.trimmed_bytes()), (synced, 0));
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Invalid, "{v:#?}");
}

/// Overwrites `index/nodes` from node `from` on with bytes a power cut could leave of unsynced
/// pages (here: a pattern, so that a believed node gives a wrong root).
fn scramble_nodes_from(dir: &std::path::Path, from: u64) {
    use std::os::unix::fs::FileExt as _;
    let path = dir.join("index/nodes");
    let len = fs::metadata(&path).unwrap().len();
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    let garbage = vec![0xA5u8; (len - from * 32) as usize];
    file.write_all_at(&garbage, from * 32).unwrap();
}

fn durable_mark(dir: &std::path::Path) -> u64 {
    let bytes = fs::read(dir.join("index/durable")).unwrap();
    u64::from_le_bytes(bytes[..8].try_into().unwrap())
}

/// What the first writer after a reboot finds: the stamp of the boot that wrote the index.
const EARLIER_BOOT: &str = "00000000-0000-4000-8000-000000000000";

/// A journal of four runs (none checkpointed) whose node file then holds what a power cut could
/// leave of unsynced pages; its size, its true root and entry 2's inclusion proof.
fn four_runs_then_scrambled_nodes(dir: &std::path::Path) -> (u64, Hash, Vec<Hash>) {
    let mut j = new_journal(dir);
    populate(&mut j, &signer(), 4, false);
    let n = j.len();
    let root = j.root_at(n).unwrap();
    let proof = j.inclusion_proof(2, n).unwrap();
    drop(j);
    scramble_nodes_from(dir, 0);
    (n, root, proof)
}

#[test]
fn after_a_reboot_the_index_past_its_synced_prefix_is_rederived_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let (n, root, proof) = four_runs_then_scrambled_nodes(dir.path());
    // Appends sync the entries, not the index: fewer than DURABLE_EVERY entries, none of the
    // index is marked durable.
    assert!(n < cordon_journal::store::DURABLE_EVERY);
    assert_eq!(durable_mark(dir.path()), 0);
    // The machine came back in a new boot.
    fs::write(dir.path().join("index/boot"), EARLIER_BOOT).unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.len(), n);
    assert_eq!(j.root_at(n).unwrap(), root);
    assert_eq!(j.inclusion_proof(2, n).unwrap(), proof);
    // Re-derived, synced and stamped: the next open believes it, and it goes on from there.
    assert_eq!(durable_mark(dir.path()), n);
    assert_ne!(
        fs::read(dir.path().join("index/boot")).unwrap(),
        EARLIER_BOOT.as_bytes()
    );
    j.write_checkpoint(&s).unwrap();
    populate(&mut j, &s, 1, true);
    drop(j);
    let v = verify_journal(dir.path(), &opts()).unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:#?}");
}

#[test]
fn control_in_the_same_boot_the_index_is_believed_as_written() {
    // The same damage without a reboot is believed (the page cache cannot lose what a process
    // wrote): the check above is what stands between such damage and a wrong signed root.
    let dir = tempfile::tempdir().unwrap();
    let (n, root, _) = four_runs_then_scrambled_nodes(dir.path());
    let j = Journal::open(dir.path()).unwrap();
    assert_ne!(j.root_at(n).unwrap(), root);
}

#[test]
fn the_index_is_synced_every_durable_every_entries_and_that_prefix_survives_a_reboot() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(dir.path());
    let every = cordon_journal::store::DURABLE_EVERY;
    let batch: Vec<Value> = (0..every - 1).map(|i| json!({"i": i})).collect();
    j.append_signed_batch(&batch, &s).unwrap();
    assert_eq!(durable_mark(dir.path()), 0);
    // The append that crosses the multiple syncs the index and marks it.
    j.append_signed_batch(&[json!({"i": "x"}), json!({"i": "y"})], &s)
        .unwrap();
    assert_eq!(durable_mark(dir.path()), every + 1);
    j.append_signed_batch(&[json!({"i": "z"})], &s).unwrap();
    let n = j.len();
    let root = j.root_at(n).unwrap();
    drop(j);
    // After a reboot, the nodes past the durable prefix are garbage and the prefix is intact:
    // only the tail is re-derived.
    let marked = durable_mark(dir.path());
    scramble_nodes_from(dir.path(), 2 * marked - u64::from(marked.count_ones()));
    fs::write(dir.path().join("index/boot"), EARLIER_BOOT).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.root_at(n).unwrap(), root);
    assert_eq!(durable_mark(dir.path()), n);
}

#[test]
fn a_journal_from_before_the_durable_mark_is_believed_whole_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = new_journal(dir.path());
    populate(&mut j, &s, 3, true);
    let n = j.len();
    let root = j.root_at(n).unwrap();
    drop(j);
    // Earlier versions synced the index on every append and wrote neither file.
    fs::remove_file(dir.path().join("index/durable")).unwrap();
    fs::remove_file(dir.path().join("index/boot")).unwrap();
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.root_at(n).unwrap(), root);
    assert_eq!(durable_mark(dir.path()), n);
    assert!(dir.path().join("index/boot").exists());
}
