//! Runs `tests/independence.py` (Python + `cryptography`, written from the specs) over a journal
//! cordon wrote: it must agree on the tree root, every signature and every checkpoint, accept a
//! proof bundle, and reject a tampered journal. Skipped, visibly, when python3 or `cryptography`
//! is missing (CI installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use common::*;
use serde_json::{json, Value};

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn run(dir: &Path, key: &Path, bundle: Option<&Path>) -> (bool, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/independence.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(dir).arg(key);
    if let Some(b) = bundle {
        cmd.arg(b);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no output; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), serde_json::from_str(last).unwrap())
}

#[test]
fn python_recomputes_the_root_and_verifies_checkpoints_and_a_proof() {
    cordon_testkit::require(
        python_ready(),
        "python3 with the `cryptography` package",
        "run scripts/test, or python3 -m pip install cryptography",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut j = new_journal(dir.path());
    let s = signer();
    populate(&mut j, &s, 7, true);
    // Non-ASCII, escapes and nulls must canonicalize the same way in both languages.
    j.append_signed(
        &json!({"text": "é 😀 \u{1} \"q\" \n", "none": null, "n": -3}),
        &s,
    )
    .unwrap();
    j.write_checkpoint(&s).unwrap();
    let key = dir.path().join("key.pub");
    std::fs::write(&key, s.verifying_key().as_bytes()).unwrap();
    let bundle = dir.path().join("entry.tlog-proof");
    std::fs::write(&bundle, j.proof_bundle(4, None).unwrap()).unwrap();

    let (ok, report) = run(dir.path(), &key, Some(&bundle));
    assert!(ok, "{report}");
    assert_eq!(report["entries"], json!(j.len()));
    assert_eq!(
        report["root"],
        json!(STANDARD.encode(j.root_at(j.len()).unwrap()))
    );
    assert_eq!(report["checkpoints"], json!(8));
    assert_eq!(report["bundle_index"], json!(4));

    // The same script rejects a flipped byte, so agreement above is not vacuous.
    let mut l = lines(dir.path());
    let at = l[2].iter().position(|b| *b == b':').unwrap() + 3;
    l[2][at] ^= 0x01;
    write_lines(dir.path(), &l);
    let (ok, report) = run(dir.path(), &key, None);
    assert!(!ok, "{report}");
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("entry 2: invalid signature"),
        "{problems}"
    );
    assert!(problems.contains("root mismatch"), "{problems}");
}
