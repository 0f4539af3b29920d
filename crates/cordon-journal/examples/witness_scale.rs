//! Team scale for the witness: MACHINES journals of ENTRIES entries each are pushed concurrently
//! into one witness (its own process, on PostgreSQL), then the mirror is searched.
//!
//! `cargo run --release -p cordon-journal --example witness_scale -- DB_URL [MACHINES] [ENTRIES]`
//! (`scripts/witness-bench` starts a database and runs the full scale: 20 × 50,000.)
//!
//! Reports entries/s into the witness (wall time of the concurrent pushes), the witness process's
//! CPU per entry and PostgreSQL's (from /proc), and the median time of each audit query.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool: a panic is the report

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cordon_journal::record::{self, Decision};
use cordon_journal::witness::client::push_journal;
use cordon_journal::witness::server::WitnessServer;
use cordon_journal::witness::{Query, QueryKind, WitnessDb, WitnessKey};
use cordon_journal::{Journal, Signer};
use serde_json::{json, Value};

const WITNESS: &str = "witness.bench/cordon";

fn witness_signer() -> Signer {
    Signer::from_bytes(&[42u8; 32], "witness").unwrap()
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every process named `postgres` (the server and its backends).
fn postgres_cpu() -> f64 {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_of)
        .sum()
}

fn entries(machine: usize, n: usize) -> Vec<Value> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let outcome = if i % 10 == 9 { "deny" } else { "allow" };
        let details = if i % 20 == 3 {
            json!({"front_end": {"text": format!("make deploy-{i}")}, "approval": {"state": "approved", "approvals": [{"approver": format!("approver{}", i % 3)}]}})
        } else {
            json!({"front_end": {"text": format!("cargo test --package p{}", i % 7)}})
        };
        let d = Decision {
            contract_id: format!("c{machine}_{i}"),
            contract_sha256: format!("{:064x}", i),
            policy_profile: "team".into(),
            policy_digest: format!("sha256:{:064x}", 7),
            outcome: if outcome == "deny" {
                cordon_core::Outcome::Deny
            } else {
                cordon_core::Outcome::Allow
            },
            reason_codes: vec!["RULE".into()],
            reason: "the team policy".into(),
            actor: format!(
                "agent:{}",
                ["claude", "codex", "gemini", "cursor", "ci"][i % 5]
            ),
            session_id: format!("s{}", i / 50),
            sandbox_profile: None,
            details,
        };
        out.push(record::decision_record(&d).unwrap());
        if outcome == "allow" && out.len() < n {
            // The receipt is linked after the decision is appended (below), by position.
            out.push(json!({"receipt_version": "csc.receipt.v0.1", "contract_id": format!("c{machine}_{i}"),
                "execution_id": format!("x{i}"), "contract_sha256": format!("{:064x}", i),
                "status": "success", "started_at": cordon_journal::time_fmt::now(),
                "ended_at": cordon_journal::time_fmt::now(), "policy_profile": "team"}));
        }
        i += 1;
    }
    out
}

fn prepare(dir: &std::path::Path, machine: usize, n: usize, key: &Signer) -> Journal {
    let mut journal = Journal::create(dir, &format!("bench.example/m{machine:02}")).unwrap();
    let mut values = entries(machine, n);
    for chunk in values.chunks_mut(1000) {
        // Link each receipt to the decision before it once that decision has its position.
        let first = journal.len();
        for k in 0..chunk.len() {
            if chunk[k].get("receipt_version").is_some() && k > 0 {
                let rid = chunk[k - 1]["record_id"].clone();
                chunk[k]["decision_record"] =
                    json!({"record_id": rid, "index": first + k as u64 - 1, "leaf_hash": ""});
            }
        }
        journal.append_signed_batch(chunk, key).unwrap();
    }
    journal
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let server = WitnessServer::start(
            "127.0.0.1:0",
            &args[2],
            WITNESS,
            Arc::new(witness_signer()),
            4,
        )
        .unwrap();
        println!("{}", server.url());
        server.wait();
        return;
    }
    let db_url = args
        .get(1)
        .expect("usage: witness_scale DB_URL [MACHINES] [ENTRIES]")
        .clone();
    let machines: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    let per: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let home = tempfile::tempdir().unwrap();
    let key = Signer::from_bytes(&[7u8; 32], "machine").unwrap();

    let t = Instant::now();
    let journals: Vec<Journal> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..machines)
            .map(|m| {
                let (dir, key) = (home.path().join(format!("m{m:02}")), &key);
                s.spawn(move || prepare(&dir, m, per, key))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    println!(
        "prepared {machines} journals x {per} signed entries in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["serve", &db_url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    let witness = WitnessKey {
        name: WITNESS.into(),
        key: witness_signer().verifying_key(),
    };

    let (w0, pg0) = (cpu_of(child.id()), postgres_cpu());
    let t = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = journals
            .into_iter()
            .enumerate()
            .map(|(m, mut j)| {
                let (url, witness, key) = (&url, &witness, &key);
                s.spawn(move || {
                    push_journal(
                        &mut j,
                        key,
                        url,
                        witness,
                        &format!("host-{m:02}"),
                        None,
                        10_000,
                    )
                    .unwrap()
                    .entries_sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let wall = t.elapsed().as_secs_f64();
    let (wcpu, pgcpu) = (cpu_of(child.id()) - w0, postgres_cpu() - pg0);
    println!(
        "pushed {total} entries from {machines} machines concurrently in {wall:.1} s: {:.0} entries/s into the witness",
        total as f64 / wall
    );
    println!(
        "witness process CPU {wcpu:.1} s = {:.1} us/entry; PostgreSQL CPU {pgcpu:.1} s = {:.1} us/entry",
        wcpu * 1e6 / total as f64,
        pgcpu * 1e6 / total as f64
    );
    let _ = child.kill();
    let _ = child.wait();

    let mut db = WitnessDb::connect(&db_url).unwrap();
    let t = Instant::now();
    db.analyze().unwrap();
    println!(
        "ANALYZE of the mirror (what autovacuum does after a bulk load): {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let week_ago =
        cordon_journal::time_fmt::format(time::OffsetDateTime::now_utc() - time::Duration::days(7));
    let queries = [
        (
            "commands agent:claude ran on host-03 in the last week",
            QueryKind::Commands,
            Query {
                agent: Some("agent:claude".into()),
                machine: Some("host-03".into()),
                since: Some(week_ago.clone()),
                ..Default::default()
            },
        ),
        (
            "every denial (newest 1,000)",
            QueryKind::Denials,
            Query::default(),
        ),
        (
            "every approval by approver1 (newest 1,000)",
            QueryKind::Approvals,
            Query {
                approver: Some("approver1".into()),
                ..Default::default()
            },
        ),
    ];
    for (label, kind, q) in queries {
        let _ = db.query(kind, &q).unwrap();
        let mut times = Vec::new();
        let mut hits = 0;
        for _ in 0..7 {
            let t = Instant::now();
            hits = db.query(kind, &q).unwrap().len();
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        println!(
            "query over {total} mirrored entries, {label}: {hits} hits, median {:.1} ms",
            median(times)
        );
    }
    std::thread::sleep(Duration::from_millis(10));
}
