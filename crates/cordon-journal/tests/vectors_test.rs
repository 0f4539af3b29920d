//! Published vectors: CSC signing (byte-exact), csc-runner's own receipts, RFC 9162 proofs
//! (transparency-dev), the C2SP signed-note example, Ed25519 Wycheproof under strict verification,
//! and RFC 8032 / SUPERCOP known answers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cordon_journal::keys::{self, verify_ed25519};
use cordon_journal::merkle::{self, Hash};
use cordon_journal::note::{self, Note};
use cordon_journal::{signing, JournalError, Signer};
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn csc_signing_vectors_are_byte_exact() {
    let v = json(&vectors().join("csc/signing-vectors.json"));
    let seed = hex::decode(v["private_key_seed_hex"].as_str().unwrap()).unwrap();
    let key_id = v["key_id"].as_str().unwrap();
    let signer = Signer::from_bytes(&seed, key_id).unwrap();
    assert_eq!(
        hex::encode(signer.verifying_key().as_bytes()),
        v["public_key_raw_hex"].as_str().unwrap()
    );
    let cases = v["vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let label = case["label"].as_str().unwrap();
        let expected = &case["signed_receipt"];
        let signed_at = expected["signature"]["signed_at"].as_str().unwrap();
        let signed = signing::sign_at(&case["unsigned_receipt"], &signer, signed_at).unwrap();
        assert_eq!(&signed, expected, "{label}");
        let payload = signing::signing_payload(signed.as_object().unwrap()).unwrap();
        assert_eq!(
            std::str::from_utf8(&payload).unwrap(),
            case["signing_payload_utf8"].as_str().unwrap(),
            "{label}"
        );
        assert_eq!(
            cordon_core::hash::sha256_hex(&payload),
            case["signing_payload_sha256"].as_str().unwrap(),
            "{label}"
        );
        assert_eq!(
            signed["signature"]["signature"], case["signature_b64"],
            "{label}"
        );
        signing::verify_receipt(expected, key_id, &signer.verifying_key()).unwrap();
    }
}

#[test]
fn csc_runner_observed_receipts_verify() {
    let dir = vectors().join("csc");
    let key = keys::read_public_key(&dir.join("pubkey-for-signed.local-and-hard.raw")).unwrap();
    for name in ["hard.json", "signed.local.json"] {
        let receipt = json(&dir.join(name));
        let ok = signing::verify_receipt(&receipt, "test-k1", &key).unwrap();
        assert_eq!(ok.key_id, "test-k1");
        // Same receipt, wrong key id: csc-runner's message.
        let err = signing::verify_receipt(&receipt, "other", &key).unwrap_err();
        assert_eq!(err.to_string(), "unknown key_id: 'test-k1'", "{name}");
        // One changed field breaks it.
        let mut tampered = receipt.clone();
        tampered["exit_code"] = Value::from(1);
        assert_eq!(
            signing::verify_receipt(&tampered, "test-k1", &key)
                .unwrap_err()
                .to_string(),
            "invalid signature"
        );
        // Dropping the null (as canonicalization.md wrongly says) breaks it: nulls are signed.
        let mut no_null = receipt.clone();
        no_null.as_object_mut().unwrap().remove("failed_command_id");
        assert!(matches!(
            signing::verify_receipt(&no_null, "test-k1", &key),
            Err(JournalError::InvalidSignature)
        ));
    }
    // writesub.json was signed with the same key under key id "k".
    let other = json(&dir.join("writesub.json"));
    assert_eq!(
        signing::verify_receipt(&other, "test-k1", &key)
            .unwrap_err()
            .to_string(),
        "unknown key_id: 'k'"
    );
    signing::verify_receipt(&other, "k", &key).unwrap();
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap_or("")).unwrap()
}

fn hash(v: &Value) -> Option<Hash> {
    b64(v).try_into().ok()
}

fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(vec![]),
        Value::Array(a) => a.iter().map(hash).collect(),
        _ => None,
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Vectors where our answer differs from transparency-dev's on purpose: their hashes are not 32
/// bytes ("don't care" placeholders), which we refuse to parse as SHA-256 values, while the Go
/// library compares them as opaque bytes.
const NON_SHA256_PLACEHOLDERS: &[&str] =
    &["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

fn deviation(f: &Path) -> bool {
    NON_SHA256_PLACEHOLDERS.iter().any(|d| f.ends_with(d))
}
#[test]
fn rfc9162_inclusion_vectors() {
    let mut files = Vec::new();
    json_files(
        &vectors().join("rfc6962-merkle-transparency-dev/inclusion"),
        &mut files,
    );
    assert!(files.len() > 50, "{}", files.len());
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for f in files {
        let v = json(&f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let index = v["leafIdx"].as_u64().unwrap();
        let size = v["treeSize"].as_u64().unwrap();
        let got = match (hash(&v["leafHash"]), hash(&v["root"]), proof(&v["proof"])) {
            (Some(leaf), Some(root), Some(p)) => {
                merkle::verify_inclusion(index, size, &leaf, &p, &root).is_ok()
            }
            _ => false,
        };
        if deviation(&f) {
            assert!(
                !got && !want_err,
                "deviation no longer applies: {}",
                f.display()
            );
        } else if got == want_err {
            // accepted an invalid proof, or rejected a valid one
            mismatches.push(f.display().to_string());
        }
        checked += 1;
    }
    eprintln!("inclusion vectors checked: {checked}");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn rfc9162_consistency_vectors() {
    let mut files = Vec::new();
    json_files(
        &vectors().join("rfc6962-merkle-transparency-dev/consistency"),
        &mut files,
    );
    assert!(files.len() > 50, "{}", files.len());
    let mut mismatches = Vec::new();
    for f in files {
        let v = json(&f);
        let want_err = v["wantErr"].as_bool().unwrap();
        let s1 = v["size1"].as_u64().unwrap();
        let s2 = v["size2"].as_u64().unwrap();
        let got = match (hash(&v["root1"]), hash(&v["root2"]), proof(&v["proof"])) {
            (Some(r1), Some(r2), Some(p)) => {
                merkle::verify_consistency(s1, s2, &p, &r1, &r2).is_ok()
            }
            _ => false,
        };
        if deviation(&f) {
            assert!(
                !got && !want_err,
                "deviation no longer applies: {}",
                f.display()
            );
        } else if got == want_err {
            // accepted an invalid proof, or rejected a valid one
            mismatches.push(f.display().to_string());
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// The transparency-dev vectors come from the 8-leaf RFC 6962 test tree; regenerate every proof
/// from its leaves and compare with the happy-path vectors.
#[test]
fn rfc6962_tree_roots_and_generated_proofs_match_vectors() {
    let leaves_hex = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    let leaves: Vec<Hash> = leaves_hex
        .iter()
        .map(|h| merkle::leaf_hash(&hex::decode(h).unwrap()))
        .collect();
    assert_eq!(
        hex::encode(merkle::mth(&leaves)),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    let mut files = Vec::new();
    json_files(
        &vectors().join("rfc6962-merkle-transparency-dev"),
        &mut files,
    );
    let mut matched = 0;
    for f in files.iter().filter(|f| f.ends_with("happy-path.json")) {
        let v = json(f);
        if v.get("leafIdx").is_some() {
            let (i, n) = (
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
            );
            if n as usize > leaves.len() || hash(&v["leafHash"]) != Some(leaves[i as usize]) {
                continue;
            }
            assert_eq!(
                merkle::inclusion_proof(&leaves[..], i, n).unwrap(),
                proof(&v["proof"]).unwrap(),
                "{}",
                f.display()
            );
            assert_eq!(Some(merkle::mth(&leaves[..n as usize])), hash(&v["root"]));
        } else {
            let (a, b) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
            if a == 0
                || b as usize > leaves.len()
                || hash(&v["root2"]) != Some(merkle::mth(&leaves[..b as usize]))
            {
                continue;
            }
            assert_eq!(
                merkle::consistency_proof(&leaves[..], a, b).unwrap(),
                proof(&v["proof"]).unwrap(),
                "{}",
                f.display()
            );
        }
        matched += 1;
    }
    assert!(
        matched >= 5,
        "only {matched} happy paths matched the 8-leaf tree"
    );
}

#[test]
fn c2sp_signed_note_example_verifies() {
    let dir = vectors().join("c2sp-signed-note");
    let vkey = fs::read_to_string(dir.join("example.vkey")).unwrap();
    let (name, key) = note::parse_vkey(&vkey).unwrap();
    assert_eq!(name, "example.com/foo");
    assert_eq!(note::vkey(&name, &key), vkey.trim_end());
    let text = fs::read_to_string(dir.join("example.note")).unwrap();
    let n = Note::parse(&text).unwrap();
    assert_eq!(n.text, "This is an example message.\n");
    assert!(n.verified_by(&name, &key));
    assert!(!n.verified_by("example.com/bar", &key));
    let tampered = Note::parse(&text.replace("example message", "example massage")).unwrap();
    assert!(!tampered.verified_by(&name, &key));
    // The checkpoint example parses (no public key is published for it).
    let cp_text = fs::read_to_string(dir.join("checkpoint-example.txt")).unwrap();
    let cp_note = Note::parse(&cp_text).unwrap();
    let cp = cordon_journal::Checkpoint::parse_body(&cp_note.text).unwrap();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(cp.body(), cp_note.text);
    assert_eq!(cp_note.signatures.len(), 2);
}

#[test]
fn wycheproof_ed25519_under_strict_verification() {
    let v = json(&vectors().join("ed25519-wycheproof/ed25519_test.json"));
    let (mut valid, mut invalid) = (0, 0);
    for group in v["testGroups"].as_array().unwrap() {
        let pk = hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap();
        let key = keys::parse_public_key(&pk);
        for t in group["tests"].as_array().unwrap() {
            let msg = hex::decode(t["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(t["sig"].as_str().unwrap()).unwrap();
            let ok = key
                .as_ref()
                .map(|k| verify_ed25519(k, &msg, &sig))
                .unwrap_or(false);
            let want = t["result"].as_str().unwrap() == "valid";
            assert_eq!(
                ok, want,
                "tcId {} ({}) flags {}",
                t["tcId"], t["comment"], t["flags"]
            );
            if want {
                valid += 1
            } else {
                invalid += 1
            }
        }
    }
    assert_eq!((valid, invalid), (88, 63));
}

#[test]
fn rfc8032_and_supercop_known_answers() {
    let dir = vectors().join("ed25519-rfc8032-djb-sign-input");
    let subset = json(&dir.join("rfc8032-section-7.1-subset.json"));
    let tests = subset["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4);
    let check = |seed: &[u8], public: &[u8], msg: &[u8], sig: &[u8]| {
        let signer = Signer::from_bytes(seed, "kat").unwrap();
        assert_eq!(signer.verifying_key().as_bytes(), public);
        let key = keys::parse_public_key(public).unwrap();
        assert!(verify_ed25519(&key, msg, sig));
        let mut bad = sig.to_vec();
        bad[0] ^= 1;
        assert!(!verify_ed25519(&key, msg, &bad));
        // Deterministic signing reproduces the signature, through a signed note body.
        use ed25519_dalek::Signer as _;
        let sk = keys::parse_private_key(seed).unwrap();
        assert_eq!(sk.sign(msg).to_bytes().as_slice(), sig);
    };
    for t in tests {
        let h = |k: &str| hex::decode(t[k].as_str().unwrap()).unwrap();
        check(
            &h("secret_key"),
            &h("public_key"),
            &h("message"),
            &h("signature"),
        );
    }
    let input = fs::read_to_string(dir.join("TESTVECTORS.sign.input")).unwrap();
    let mut lines = 0;
    for line in input.lines() {
        let f: Vec<&str> = line.split(':').collect();
        let sk = hex::decode(f[0]).unwrap();
        let pk = hex::decode(f[1]).unwrap();
        let msg = hex::decode(f[2]).unwrap();
        let sm = hex::decode(f[3]).unwrap();
        check(&sk[..32], &pk, &msg, &sm[..64]);
        // The 64-byte seed‖public form loads to the same key.
        assert_eq!(
            keys::parse_private_key(&sk)
                .unwrap()
                .verifying_key()
                .as_bytes(),
            pk.as_slice()
        );
        lines += 1;
    }
    assert_eq!(lines, 128);
}
