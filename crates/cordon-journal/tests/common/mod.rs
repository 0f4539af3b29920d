//! Shared fixtures: a deterministic key and a journal holding decision records and linked receipts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::Path;

use cordon_journal::record::{self, Decision};
use cordon_journal::{Journal, KeyRing, Signer, VerifyOptions};
use serde_json::{json, Value};

pub fn signer() -> Signer {
    let seed: Vec<u8> = (0u8..32).collect();
    Signer::from_bytes(&seed, "test-key").unwrap()
}

pub fn other_signer() -> Signer {
    Signer::from_bytes(&[7u8; 32], "test-key").unwrap()
}

pub fn ring() -> KeyRing {
    KeyRing::single("test-key", signer().verifying_key())
}

pub fn opts() -> VerifyOptions {
    VerifyOptions {
        ring: ring(),
        trusted_checkpoint: None,
        fast: false,
    }
}

pub fn decision(i: usize, outcome: &str) -> Decision {
    Decision {
        contract_id: format!("contract_{i}"),
        contract_sha256: format!("{:064x}", i + 1),
        policy_profile: "dev-readonly".into(),
        policy_digest: format!("sha256:{:064x}", 99),
        outcome: serde_json::from_value(serde_json::json!(outcome)).unwrap(),
        reason_codes: vec![if outcome == "deny" {
            "COMMAND_NOT_ALLOWED"
        } else {
            "ALLOWED"
        }
        .into()],
        reason: "fixture".into(),
        actor: "agent:test".into(),
        session_id: "session-1".into(),
        sandbox_profile: Some("hardened-default".into()),
        details: Value::Null,
    }
}

pub fn receipt(i: usize) -> Value {
    json!({
        "receipt_version": "csc.receipt.v0.1",
        "contract_id": format!("contract_{i}"),
        "execution_id": format!("exec_{i}"),
        "contract_sha256": format!("{:064x}", i + 1),
        "status": "success",
        "started_at": "2026-01-01T00:00:00.000000+00:00",
        "ended_at": "2026-01-01T00:00:01.000000+00:00",
        "policy_profile": "dev-readonly",
        "exit_code": 0,
        "stdout_hash": format!("sha256:{:064x}", 0),
        "stderr_hash": format!("sha256:{:064x}", 0),
        "failed_command_id": null,
        "error": "",
    })
}

/// Appends `runs` runs: a decision record, then (for allowed ones) a linked receipt; every third
/// run is a denial with no receipt. Writes a checkpoint after every run when `checkpoint_every_run`.
pub fn populate(j: &mut Journal, s: &Signer, runs: usize, checkpoint_every_run: bool) {
    for i in 0..runs {
        let outcome = if i % 3 == 2 { "deny" } else { "allow" };
        let rec = j
            .append_signed(&record::decision_record(&decision(i, outcome)).unwrap(), s)
            .unwrap();
        if outcome == "allow" {
            let mut r = receipt(i);
            record::link_decision(&mut r, &rec).unwrap();
            j.append_signed(&r, s).unwrap();
        }
        if checkpoint_every_run {
            j.write_checkpoint(s).unwrap();
        }
    }
}

pub fn new_journal(dir: &Path) -> Journal {
    Journal::create(dir, "test.example/journal").unwrap()
}

pub fn lines(dir: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(dir.join("entries.jsonl")).unwrap();
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(|l| l.to_vec())
        .collect()
}

pub fn write_lines(dir: &Path, lines: &[Vec<u8>]) {
    std::fs::write(dir.join("entries.jsonl"), lines.concat()).unwrap();
}
