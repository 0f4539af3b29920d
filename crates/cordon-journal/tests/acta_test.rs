//! Acta -03: the agent-evidence-vectors receipt-signature corpus (both key sets), and cordon's own
//! exported receipts verifying, chained, under the same verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use cordon_journal::acta;
use cordon_journal::record;
use cordon_journal::Outcome;
use serde_json::{json, Value};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/acta-03-receipt-signature-corpus")
}

fn load(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

fn outcome(s: &str) -> Outcome {
    match s {
        "valid" => Outcome::Valid,
        "invalid" => Outcome::Invalid,
        _ => Outcome::Undecidable,
    }
}

#[test]
fn the_receipt_signature_corpus_passes_with_and_without_windows() {
    let dir = corpus();
    let manifest = load(&dir.join("MANIFEST.json"));
    let with = load(&dir.join("keys/jwks.json"));
    let without = load(&dir.join("keys/jwks-no-window.json"));
    let vectors = manifest["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 25);
    let mut passed = 0;
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let receipt = load(&dir.join(v["file"].as_str().unwrap()));
        let chain: Vec<Value> = v["context"]["chain"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|p| load(&dir.join(p.as_str().unwrap())))
                    .collect()
            })
            .unwrap_or_default();
        for (keys, expected) in [
            (&with, &v["expected"]),
            (
                &without,
                v.get("expectedWithoutWindows").unwrap_or(&v["expected"]),
            ),
        ] {
            let got = acta::verify(&receipt, keys, &chain);
            assert_eq!(
                (got.verdict, got.code),
                (
                    outcome(expected["verdict"].as_str().unwrap()),
                    expected["code"].as_str()
                ),
                "{id}: {} ({})",
                got.reason,
                v["cites"]
            );
        }
        // Our JCS reproduces the exact signed bytes the corpus publishes for members that verify
        // (a rejected member may publish the bytes its faulty producer signed, e.g. a pre-hash).
        if let (Some(hexed), "valid") = (
            v["signedInputHex"].as_str(),
            v["expected"]["verdict"].as_str().unwrap(),
        ) {
            assert_eq!(
                hex::encode(acta::jcs(&receipt["payload"]).unwrap()),
                hexed,
                "{id}"
            );
        }
        passed += 1;
    }
    assert_eq!(passed, 25);
}

#[test]
fn exported_decisions_verify_as_a_chain_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 4, false);
    let records: Vec<Value> = lines(dir.path())
        .iter()
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .filter(|v| v["record_version"] == json!(record::DECISION_RECORD_VERSION))
        .collect();
    let jwks = acta::jwks_for(&s);
    let mut exported: Vec<Value> = Vec::new();
    for r in &records {
        let e = acta::export_decision(r, &s, exported.last()).unwrap();
        assert_eq!(e["payload"]["issuer_id"], e["signature"]["kid"]);
        assert!(e["payload"]["issued_at"].as_str().unwrap().ends_with('Z'));
        let got = acta::verify(&e, &jwks, &exported);
        assert_eq!(got.verdict, Outcome::Valid, "{}", got.reason);
        exported.push(e);
    }
    assert!(
        exported[0]["payload"].get("previousReceiptHash").is_none(),
        "genesis omits the link"
    );
    assert_eq!(exported[2]["payload"]["decision"], "deny");
    // A dropped receipt breaks the chain; an edited payload breaks the signature.
    let got = acta::verify(&exported[2], &jwks, &exported[..1]);
    assert_eq!(got.code, Some("chain_link_mismatch"));
    let mut edited = exported[1].clone();
    edited["payload"]["decision"] = json!("deny");
    assert_eq!(
        acta::verify(&edited, &jwks, &exported[..1]).code,
        Some("signature_invalid")
    );
    assert!(
        acta::export_decision(&json!({"receipt_version": "csc.receipt.v0.1"}), &s, None).is_err()
    );
}
