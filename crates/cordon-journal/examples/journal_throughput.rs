//! Throughput on a shared machine: wall time *and* CPU time (getrusage) for appends and
//! verification, so the figure for "one core" does not depend on what else the machine runs.
//!
//! `cargo run --release -p cordon-journal --example journal_throughput [ENTRIES]`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: a panic is the report

use std::time::{Duration, Instant};

use cordon_journal::{verify_journal, Journal, KeyRing, Outcome, Signer, VerifyOptions};
use nix::sys::resource::{getrusage, UsageWho};
use serde_json::{json, Value};

fn cpu() -> Duration {
    let u = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let t =
        |tv: nix::sys::time::TimeVal| Duration::new(tv.tv_sec() as u64, tv.tv_usec() as u32 * 1000);
    t(u.user_time()) + t(u.system_time())
}

fn receipt(i: u64) -> Value {
    json!({
        "receipt_version": "csc.receipt.v0.1", "contract_id": format!("contract_{i}"),
        "execution_id": format!("exec_{i}"), "contract_sha256": format!("{:064x}", i),
        "status": "success", "started_at": "2026-01-01T00:00:00.000000+00:00",
        "ended_at": "2026-01-01T00:00:01.000000+00:00", "policy_profile": "dev-readonly",
        "policy_sha256": format!("{:064x}", 7), "exit_code": 0,
        "stdout_hash": format!("sha256:{:064x}", i), "stderr_hash": format!("sha256:{:064x}", 0),
        "artifacts": [], "effect_summary": {"files_written": 0, "network_used": false, "secrets_used": 0},
        "completed_command_ids": ["cmd_1"], "failed_command_id": null, "error": "",
    })
}

fn measure<T>(label: &str, n: u64, f: impl FnOnce() -> T) -> T {
    let (w0, c0) = (Instant::now(), cpu());
    let out = f();
    let (wall, cpu) = (w0.elapsed(), cpu() - c0);
    println!(
        "{label:<40} {n:>8} entries  wall {:>8.1} ms = {:>9.0}/s   cpu {:>8.1} ms = {:>9.0}/s per cpu-second",
        wall.as_secs_f64() * 1e3,
        n as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e3,
        n as f64 / cpu.as_secs_f64()
    );
    out
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let batch = 1000u64;
    let s = Signer::from_bytes(&[5u8; 32], "bench-key").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), "bench.example/journal").unwrap();
    let batches: Vec<Vec<Value>> = (0..n / batch)
        .map(|b| (b * batch..(b + 1) * batch).map(receipt).collect())
        .collect();
    measure("append, batches of 1000 (group commit)", n, || {
        for b in &batches {
            j.append_signed_batch(b, &s).unwrap();
            j.write_checkpoint(&s).unwrap();
        }
    });
    let full = VerifyOptions {
        ring: KeyRing::single("bench-key", s.verifying_key()),
        trusted_checkpoint: None,
        fast: false,
    };
    let v = measure("verify, every signature", n, || {
        verify_journal(dir.path(), &full).unwrap()
    });
    assert_eq!(v.verdict, Outcome::Valid);
    let fast = VerifyOptions {
        fast: true,
        ..full.clone()
    };
    let v = measure("verify --fast (checkpoint-covered)", n, || {
        verify_journal(dir.path(), &fast).unwrap()
    });
    assert_eq!(v.verdict, Outcome::Valid);
}
