//! Journal throughput: group-commit appends of signed entries, whole-journal verification, and an
//! inclusion proof in a 1,000,000-entry journal. Method and figures: docs/journal.md.

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup: a panic is the report

use std::hint::black_box;
use std::time::Duration;

use cordon_journal::{verify_journal, Journal, KeyRing, Signer, VerifyOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::{json, Value};

fn signer() -> Signer {
    Signer::from_bytes(&[5u8; 32], "bench-key").unwrap()
}

/// A realistic entry: a CSC receipt body (~600 bytes signed).
fn receipt(i: u64) -> Value {
    json!({
        "receipt_version": "csc.receipt.v0.1",
        "contract_id": format!("contract_{i}"),
        "execution_id": format!("exec_{i}"),
        "contract_sha256": format!("{:064x}", i),
        "status": "success",
        "started_at": "2026-01-01T00:00:00.000000+00:00",
        "ended_at": "2026-01-01T00:00:01.000000+00:00",
        "policy_profile": "dev-readonly",
        "policy_sha256": format!("{:064x}", 7),
        "exit_code": 0,
        "stdout_hash": format!("sha256:{:064x}", i),
        "stderr_hash": format!("sha256:{:064x}", 0),
        "artifacts": [],
        "effect_summary": {"files_written": 0, "network_used": false, "secrets_used": 0},
        "completed_command_ids": ["cmd_1"],
        "failed_command_id": null,
        "error": "",
    })
}

const BATCH: u64 = 1000;

fn append(c: &mut Criterion) {
    let s = signer();
    let entries: Vec<Value> = (0..BATCH).map(receipt).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), "bench.example/journal").unwrap();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    // Signing (position binding + CSC signature) happens under the lock, inside the measurement.
    g.bench_function("signed_batch_1000_group_commit", |b| {
        b.iter(|| black_box(j.append_signed_batch(&entries, &s).unwrap().len()))
    });
    // One fsync per entry, for comparison: what group commit saves.
    g.throughput(Throughput::Elements(1));
    g.bench_function("signed_single_fsync_each", |b| {
        b.iter(|| black_box(j.append_signed(&entries[0], &s).unwrap().index))
    });
    g.finish();
}

/// Where an append's time goes: the Ed25519 signature alone, and a whole CSC signature.
fn parts(c: &mut Criterion) {
    let s = signer();
    let key = cordon_journal::keys::parse_private_key(&[5u8; 32]).unwrap();
    let entry = receipt(1);
    let bytes = cordon_core::canonical::to_vec(&entry).unwrap();
    let mut g = c.benchmark_group("parts");
    g.bench_function("ed25519_sign_700_bytes", |b| {
        b.iter(|| black_box(ed25519_dalek::Signer::sign(&key, black_box(&bytes))))
    });
    g.bench_function("ed25519_verify_strict_700_bytes", |b| {
        let sig = ed25519_dalek::Signer::sign(&key, &bytes);
        let vk = key.verifying_key();
        b.iter(|| black_box(vk.verify_strict(black_box(&bytes), &sig).is_ok()))
    });
    g.bench_function("csc_sign_receipt", |b| {
        b.iter(|| {
            black_box(cordon_journal::signing::sign_at(&entry, &s, "2026-01-01T00:00:00Z").unwrap())
        })
    });
    g.bench_function("canonical_receipt", |b| {
        b.iter(|| black_box(cordon_core::canonical::to_vec(black_box(&entry)).unwrap()))
    });
    g.finish();
}

const VERIFY_N: u64 = 20_000;

fn verify(c: &mut Criterion) {
    let s = signer();
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), "bench.example/journal").unwrap();
    for chunk in 0..VERIFY_N / BATCH {
        let entries: Vec<Value> = (chunk * BATCH..(chunk + 1) * BATCH).map(receipt).collect();
        j.append_signed_batch(&entries, &s).unwrap();
        j.write_checkpoint(&s).unwrap();
    }
    let full = VerifyOptions {
        ring: KeyRing::single("bench-key", s.verifying_key()),
        trusted_checkpoint: None,
        fast: false,
    };
    let v = verify_journal(dir.path(), &full).unwrap();
    assert_eq!(v.verdict, cordon_journal::Outcome::Valid, "{v:#?}");
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(VERIFY_N));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("full_20000_entries", |b| {
        b.iter(|| black_box(verify_journal(dir.path(), &full).unwrap().entries))
    });
    // Entries covered by a checkpoint signed by a current key are authenticated by that signature.
    let fast = VerifyOptions {
        fast: true,
        ..full.clone()
    };
    assert_eq!(
        verify_journal(dir.path(), &fast).unwrap().verdict,
        cordon_journal::Outcome::Valid
    );
    g.bench_function("fast_20000_entries", |b| {
        b.iter(|| black_box(verify_journal(dir.path(), &fast).unwrap().entries))
    });
    // Everything except the per-entry Ed25519 check: parse, canonical form, positions, links,
    // tree and checkpoints (checkpoint signatures still checked).
    let tree_only = VerifyOptions {
        ring: KeyRing::new(),
        trusted_checkpoint: None,
        fast: false,
    };
    g.bench_function("without_entry_signatures_20000_entries", |b| {
        b.iter(|| black_box(verify_journal(dir.path(), &tree_only).unwrap().entries))
    });
    g.finish();
}

const BIG: u64 = 1_000_000;

fn proof_in_a_million(c: &mut Criterion) {
    // Entries are pre-signed placeholders (~120 bytes): the proof cost does not depend on content,
    // and signing a million entries would only slow the setup.
    let dir = tempfile::tempdir().unwrap();
    let s = signer();
    let mut j = Journal::create(dir.path(), "bench.example/journal").unwrap();
    let chunk = 50_000;
    for start in (0..BIG).step_by(chunk) {
        let entries: Vec<Value> = (start..start + chunk as u64)
            .map(|i| json!({"n": i, "signature": {"algorithm": "ed25519", "key_id": "bench-key", "signed_at": "", "signature": ""}}))
            .collect();
        j.append_presigned(&entries).unwrap();
    }
    j.write_checkpoint(&s).unwrap();
    let entries_bytes = std::fs::metadata(dir.path().join("entries.jsonl"))
        .unwrap()
        .len();
    eprintln!("1M-entry journal: entries.jsonl is {entries_bytes} bytes");
    let mut g = c.benchmark_group("proof");
    g.bench_function("inclusion_proof_1M", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7_919) % BIG;
            black_box(j.inclusion_proof(i, BIG).unwrap().len())
        })
    });
    g.bench_function("tlog_proof_bundle_1M", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7_919) % BIG;
            black_box(j.proof_bundle(i, None).unwrap().len())
        })
    });
    // From a cold handle: open (lock, index check) plus one bundle.
    g.bench_function("open_and_bundle_1M", |b| {
        b.iter_batched(
            || (),
            |()| {
                let j = Journal::open_existing(dir.path()).unwrap();
                black_box(j.proof_bundle(123_456, None).unwrap().len())
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, parts, append, verify, proof_in_a_million);
criterion_main!(benches);
