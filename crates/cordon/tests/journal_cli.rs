//! The journal commands, run as a user runs them: keygen, verify-receipt, verify, journal proof,
//! journal checkpoint, journal verify-proof.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cordon_journal::record;
use cordon_journal::{Journal, Signer};
use serde_json::{json, Value};

fn cordon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn last_json(o: &Output) -> Value {
    serde_json::from_str(stdout(o).lines().last().unwrap()).unwrap()
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cordon-journal/tests/vectors/csc")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// keygen into `dir`, returning (pem, pub).
fn keygen(dir: &Path, id: &str) -> (PathBuf, PathBuf) {
    let o = cordon(&["keygen", "--out-dir", s(dir), "--key-id", id]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    (dir.join(format!("{id}.pem")), dir.join(format!("{id}.pub")))
}

/// A journal with two runs (one allowed with a receipt, one denied), and a checkpoint written by the CLI.
fn journal_with_runs(dir: &Path, pem: &Path, id: &str) -> PathBuf {
    let jdir = dir.join("journal");
    let signer = Signer::from_file(pem, id).unwrap();
    let mut j = Journal::create(&jdir, "cli.test/journal").unwrap();
    for (i, outcome) in ["allow", "deny"].iter().enumerate() {
        let d = record::Decision {
            contract_id: format!("c{i}"),
            contract_sha256: "ab".repeat(32),
            policy_profile: "p".into(),
            policy_digest: format!("sha256:{}", "cd".repeat(32)),
            outcome: serde_json::from_value(serde_json::json!(outcome)).unwrap(),
            reason_codes: vec!["X".into()],
            reason: "r".into(),
            actor: "a".into(),
            session_id: "s".into(),
            sandbox_profile: None,
            details: Value::Null,
        };
        let rec = j
            .append_signed(&record::decision_record(&d).unwrap(), &signer)
            .unwrap();
        if *outcome == "allow" {
            let mut receipt = json!({"receipt_version": "csc.receipt.v0.1", "contract_id": "c0", "contract_sha256": "ab".repeat(32), "status": "success"});
            record::link_decision(&mut receipt, &rec).unwrap();
            j.append_signed(&receipt, &signer).unwrap();
        }
    }
    let o = cordon(&[
        "journal",
        "checkpoint",
        "--journal",
        s(&jdir),
        "--signing-key",
        s(pem),
        "--key-id",
        id,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).starts_with("cli.test/journal\n3\n"),
        "{}",
        stdout(&o)
    );
    jdir
}

#[test]
fn keygen_writes_a_private_key_only_its_owner_can_read_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (pem, public) = keygen(dir.path(), "k1");
    assert_eq!(
        fs::metadata(&pem).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(fs::read_to_string(&pem)
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(fs::read(&public).unwrap().len(), 32);
    assert_eq!(
        fs::read_to_string(dir.path().join("k1.keyid")).unwrap(),
        "k1\n"
    );
    let o = cordon(&["keygen", "--out-dir", s(dir.path()), "--key-id", "k1"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn verify_receipt_accepts_csc_runner_receipts_with_its_messages() {
    let key = vectors().join("pubkey-for-signed.local-and-hard.raw");
    for name in ["hard.json", "signed.local.json"] {
        let o = cordon(&[
            "verify-receipt",
            s(&vectors().join(name)),
            "--public-key",
            s(&key),
            "--key-id",
            "test-k1",
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}");
        assert_eq!(stdout(&o), "VALID — receipt signature verified\n");
    }
    let o = cordon(&[
        "verify-receipt",
        s(&vectors().join("hard.json")),
        "--public-key",
        s(&key),
        "--key-id",
        "other",
    ]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(1), "INVALID — unknown key_id: 'test-k1'\n".to_string())
    );

    let dir = tempfile::tempdir().unwrap();
    let mut receipt: Value =
        serde_json::from_slice(&fs::read(vectors().join("hard.json")).unwrap()).unwrap();
    receipt["exit_code"] = json!(1);
    let tampered = dir.path().join("t.json");
    fs::write(&tampered, receipt.to_string()).unwrap();
    let o = cordon(&[
        "verify-receipt",
        s(&tampered),
        "--public-key",
        s(&key),
        "--key-id",
        "test-k1",
    ]);
    assert_eq!(
        (o.status.code(), stdout(&o)),
        (Some(1), "INVALID — invalid signature\n".to_string())
    );

    let o = cordon(&[
        "verify-receipt",
        s(&dir.path().join("missing.json")),
        "--public-key",
        s(&key),
        "--key-id",
        "k",
    ]);
    assert_eq!(o.status.code(), Some(65));
}

#[test]
fn verify_reports_valid_then_names_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, public) = keygen(dir.path(), "k1");
    let jdir = journal_with_runs(dir.path(), &pem, "k1");

    let o = cordon(&["verify", s(&jdir), "--public-key", s(&public)]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o)
        .starts_with("VALID — 3 entries (2 decisions, 1 receipts), 1 checkpoints matched"));
    let v = last_json(&o);
    assert_eq!(
        (v["verdict"].as_str(), v["entries"].as_u64()),
        (Some("valid"), Some(3))
    );

    let o = cordon(&[
        "verify",
        s(&jdir),
        "--key-ring",
        s(&dir.path().join("k1.keyring.json")),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 1);

    // A key id the journal does not use: nothing can be checked, so undecidable, not valid.
    let o = cordon(&[
        "verify",
        s(&jdir),
        "--public-key",
        s(&public),
        "--key-id",
        "k2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert_eq!(last_json(&o)["verdict"], "undecidable");

    // Flip one byte of the receipt (entry 1).
    let path = jdir.join("entries.jsonl");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replacen("\"success\"", "\"suckess\"", 1);
    fs::write(&path, text).unwrap();
    let o = cordon(&["verify", s(&jdir), "--public-key", s(&public)]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("entry 1: bad_signature — invalid signature"),
        "{}",
        stdout(&o)
    );
    let v = last_json(&o);
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["failures"][0]["entry"], 1);

    // No key at all is a usage error, not a verdict.
    let o = cordon(&["verify", s(&jdir)]);
    assert_eq!(o.status.code(), Some(64));
}

#[test]
fn a_trusted_checkpoint_catches_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, public) = keygen(dir.path(), "k1");
    let jdir = journal_with_runs(dir.path(), &pem, "k1");
    let kept = dir.path().join("kept.checkpoint");
    let cp = cordon(&[
        "journal",
        "checkpoint",
        "--journal",
        s(&jdir),
        "--signing-key",
        s(&pem),
    ]);
    fs::write(&kept, cp.stdout).unwrap();
    // Cut the last entry and delete every checkpoint that would reveal it.
    let path = jdir.join("entries.jsonl");
    let text = fs::read_to_string(&path).unwrap();
    let keep: Vec<&str> = text.split_inclusive('\n').take(2).collect();
    fs::write(&path, keep.concat()).unwrap();
    fs::remove_dir_all(jdir.join("checkpoints")).unwrap();
    fs::create_dir(jdir.join("checkpoints")).unwrap();
    let o = cordon(&["verify", s(&jdir), "--public-key", s(&public)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "invisible without the kept checkpoint"
    );
    let o = cordon(&[
        "verify",
        s(&jdir),
        "--public-key",
        s(&public),
        "--trusted-checkpoint",
        s(&kept),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = last_json(&o);
    assert_eq!(
        (
            v["failures"][0]["code"].as_str(),
            v["failures"][0]["entry"].as_u64()
        ),
        (Some("truncated"), Some(2))
    );
}

#[test]
fn journal_proof_writes_a_bundle_that_verifies_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, public) = keygen(dir.path(), "k1");
    let jdir = journal_with_runs(dir.path(), &pem, "k1");
    let o = cordon(&["journal", "proof", "1", "--journal", s(&jdir)]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bundle = stdout(&o);
    assert!(bundle.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    assert!(bundle.contains("\nindex 1\n"));
    let path = dir.path().join("e1.tlog-proof");
    fs::write(&path, &bundle).unwrap();
    let o = cordon(&[
        "journal",
        "verify-proof",
        s(&path),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert_eq!(
        stdout(&o),
        "VALID — entry 1 is in cli.test/journal at tree size 3\n"
    );
    fs::write(&path, bundle.replace("\nindex 1\n", "\nindex 2\n")).unwrap();
    let o = cordon(&[
        "journal",
        "verify-proof",
        s(&path),
        "--public-key",
        s(&public),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = cordon(&["journal", "proof", "3", "--journal", s(&jdir)]);
    assert_eq!(o.status.code(), Some(65));
}

#[test]
fn verify_acta_speaks_the_corpus_contract_on_every_member() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cordon-journal/tests/vectors/acta-03-receipt-signature-corpus");
    let dir = dir.canonicalize().unwrap();
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("MANIFEST.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for v in manifest["vectors"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        for (keys, expected) in [
            ("keys/jwks.json", &v["expected"]),
            (
                "keys/jwks-no-window.json",
                v.get("expectedWithoutWindows").unwrap_or(&v["expected"]),
            ),
        ] {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordon"));
            cmd.arg("verify-acta")
                .arg(dir.join(v["file"].as_str().unwrap()))
                .env("AEV_RECEIPT_JWKS", dir.join(keys));
            cmd.env_remove("AEV_RECEIPT_CONTEXT");
            if let Some(chain) = v["context"]["chain"].as_array() {
                let paths: Vec<String> = chain
                    .iter()
                    .map(|p| dir.join(p.as_str().unwrap()).display().to_string())
                    .collect();
                let ctx = tmp.path().join(format!("{id}.json"));
                fs::write(&ctx, json!({"chain": paths}).to_string()).unwrap();
                cmd.env("AEV_RECEIPT_CONTEXT", &ctx);
            }
            let o = cmd.output().unwrap();
            let got = last_json(&o);
            assert_eq!(
                (&got["verdict"], &got["code"]),
                (&expected["verdict"], &expected["code"]),
                "{id} {keys}"
            );
            let code = match expected["verdict"].as_str().unwrap() {
                "valid" => 0,
                "invalid" => 1,
                _ => 2,
            };
            assert_eq!(o.status.code(), Some(code), "{id} {keys}");
        }
    }
}

#[test]
fn export_acta_emits_a_chain_that_verify_acta_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, _) = keygen(dir.path(), "k1");
    let jdir = journal_with_runs(dir.path(), &pem, "k1");
    let o = cordon(&[
        "export",
        "--format",
        "acta",
        "--journal",
        s(&jdir),
        "--signing-key",
        s(&pem),
        "--key-id",
        "k1",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let receipts: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(receipts.len(), 2, "one per decision record");
    let signer = Signer::from_file(&pem, "k1").unwrap();
    let jwks = dir.path().join("jwks.json");
    fs::write(&jwks, cordon_journal::acta::jwks_for(&signer).to_string()).unwrap();
    let mut chain = Vec::new();
    for (i, r) in receipts.iter().enumerate() {
        let path = dir.path().join(format!("r{i}.json"));
        fs::write(&path, r.to_string()).unwrap();
        let ctx = dir.path().join(format!("c{i}.json"));
        fs::write(&ctx, json!({"chain": chain}).to_string()).unwrap();
        let o = cordon(&[
            "verify-acta",
            s(&path),
            "--jwks",
            s(&jwks),
            "--context",
            s(&ctx),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert_eq!(last_json(&o), json!({"verdict": "valid", "code": null}));
        chain.push(path.display().to_string());
    }
}
