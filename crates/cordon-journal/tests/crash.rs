//! kill -9 at random instants. Writers are this test binary re-executed in "writer mode"
//! (`crash_writer_process`), two at a time on the same journal, each printing `ACK index pid seq`
//! after every append that returned. After every kill, verification must pass (an unterminated
//! last line is allowed: it was never acknowledged) and every acknowledged entry must be present,
//! at its index, with its content. Some batches are deferred appends (written, synced later by a
//! flush or by the other writer): a kill -9 must not lose those either.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cordon_journal::{verify_journal, Journal, Outcome};
use serde_json::{json, Value};

const ROUNDS: usize = 200;
/// A fresh journal every this many rounds keeps each verification small (debug-build Ed25519 is
/// slow); recovery across crashes is still exercised within each journal's rounds.
const ROUNDS_PER_JOURNAL: usize = 2;

/// Writer mode: does nothing unless started by `kill_dash_nine_never_loses_an_acknowledged_entry`.
#[test]
fn crash_writer_process() {
    let Ok(dir) = std::env::var("CORDON_CRASH_WRITER_DIR") else {
        return;
    };
    let mut j = Journal::open(Path::new(&dir)).unwrap();
    let s = signer();
    let pid = std::process::id();
    let mut seq = 0u64;
    loop {
        let n = 1 + seq % 5;
        // Every few batches one large entry, so that some kills land inside a multi-page write()
        // and leave a torn tail.
        let pad = if seq % 4 == 1 {
            "x".repeat(48 * 1024)
        } else {
            String::new()
        };
        let batch: Vec<Value> = (0..n)
            .map(|k| json!({"writer": pid, "seq": seq + k, "pad": pad}))
            .collect();
        // Some batches deferred, as the gateway writes them: written, not yet synced, and still
        // acknowledged, because a kill -9 must not lose them either (only a power cut may).
        let deferred = seq % 7 < 3;
        let appended = if deferred {
            j.append_signed_deferred(&batch, &s).unwrap()
        } else {
            j.append_signed_batch(&batch, &s).unwrap()
        };
        for (k, a) in appended.iter().enumerate() {
            println!("ACK {} {pid} {}", a.index, seq + k as u64);
        }
        seq += n;
        if seq.is_multiple_of(3) {
            j.write_checkpoint(&s).unwrap();
        }
        if seq.is_multiple_of(5) {
            j.flush().unwrap();
        }
    }
}

fn spawn_writer(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CORDON_CRASH_WRITER_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// xorshift64*, seeded from the clock and printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn kill_dash_nine_never_loses_an_acknowledged_entry() {
    let seed = std::env::var("CORDON_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed: {seed} (set CORDON_CRASH_SEED to replay)");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut kills = 0usize;
    let mut acked_total = 0usize;
    let mut trimmed_total = 0u64;
    let mut torn_seen = 0usize;
    let mut root = tempfile::tempdir().unwrap();
    let mut acked: HashMap<u64, (u64, u64)> = HashMap::new();
    for round in 0..ROUNDS {
        if round % ROUNDS_PER_JOURNAL == 0 {
            root = tempfile::tempdir().unwrap();
            new_journal(root.path());
            acked.clear();
        }
        let dir = root.path();
        let mut writers = [spawn_writer(dir), spawn_writer(dir)];
        // Let them start (open, repair, append) and die at independent random instants.
        let t0 = Instant::now();
        let deadlines = [
            Duration::from_micros(5_000 + rng.next() % 85_000),
            Duration::from_micros(5_000 + rng.next() % 85_000),
        ];
        let mut order = [0usize, 1];
        if deadlines[1] < deadlines[0] {
            order.swap(0, 1);
        }
        for &w in &order {
            if let Some(rest) = deadlines[w].checked_sub(t0.elapsed()) {
                std::thread::sleep(rest);
            }
            writers[w].kill().unwrap(); // SIGKILL
            kills += 1;
        }
        for w in &mut writers {
            w.wait().unwrap();
            let out = BufReader::new(w.stdout.take().unwrap());
            for line in out.lines() {
                let line = line.unwrap();
                // The test harness prints "test crash_writer_process ... " before the first line.
                let Some(at) = line.find("ACK ") else {
                    continue;
                };
                let parts: Vec<&str> = line[at..].split(' ').collect();
                if parts.len() == 4 && parts[0] == "ACK" {
                    let index: u64 = parts[1].parse().unwrap();
                    let pid: u64 = parts[2].parse().unwrap();
                    let seq: u64 = parts[3].parse().unwrap();
                    assert!(
                        acked.insert(index, (pid, seq)).is_none(),
                        "index {index} acknowledged twice"
                    );
                    acked_total += 1;
                }
            }
        }
        // Verification passes right after the kills, before any writer repaired anything.
        let v = verify_journal(dir, &opts()).unwrap();
        assert_eq!(
            v.verdict,
            Outcome::Valid,
            "round {round} seed {seed}: {v:#?}"
        );
        if v.torn_tail_bytes > 0 {
            torn_seen += 1;
        }
        // Every acknowledged entry is there, at its index, with its content.
        let l = lines(dir);
        for (&index, &(pid, seq)) in &acked {
            let line = l
                .get(index as usize)
                .unwrap_or_else(|| panic!("round {round}: acknowledged entry {index} is missing"));
            let value: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                panic!("round {round}: acknowledged entry {index} is not whole: {e}")
            });
            assert_eq!(
                (value["writer"].as_u64(), value["seq"].as_u64()),
                (Some(pid), Some(seq)),
                "round {round} index {index}"
            );
        }
        // A writer reopening repairs the tail and can go on.
        let j = Journal::open(dir).unwrap();
        trimmed_total += j.trimmed_bytes();
        assert!(j.len() >= acked.keys().max().map_or(0, |m| m + 1));
    }
    eprintln!(
        "{kills} kills in {ROUNDS} rounds, {acked_total} acknowledged entries checked, {torn_seen} torn tails seen, \
         {trimmed_total} torn bytes trimmed, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 200);
    assert!(
        acked_total > ROUNDS,
        "the writers barely wrote: {acked_total} acknowledgements"
    );
}
