//! `cordon verify-acta` graded by the agent-evidence-vectors package's own harness (PyPI 0.27.0,
//! installed by bench/acta-venv.sh), not by our reading of its corpus. A verifier that accepts
//! everything is run through the same harness as the positive control: it must be failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn harness() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CORDON_AEV") {
        let p = PathBuf::from(p);
        // A wrong path is a misconfiguration, not a missing tool: fail instead of skipping.
        assert!(p.is_file(), "CORDON_AEV={} is not a file", p.display());
        return Ok(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/.venv-acta/bin/agent-evidence-vectors");
    if venv.is_file() {
        Ok(venv)
    } else {
        Err(
            "agent-evidence-vectors is not installed (run bench/acta-venv.sh or set CORDON_AEV)"
                .into(),
        )
    }
}

/// Runs the harness on the receipt-signature corpus with `verifier`; returns its totals line.
fn grade(harness: &Path, verifier: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap(); // it writes conformance-report.json into its cwd
    let out = Command::new(harness)
        .args([
            "--corpus",
            "vectors-receipt-signature",
            "--verifier",
            verifier,
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let totals = stdout
        .lines()
        .find(|l| l.starts_with("totals:"))
        .unwrap_or_else(|| {
            panic!(
                "no totals line from the harness; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .to_string();
    (out.status.success(), totals)
}

#[test]
fn the_package_harness_passes_cordon_verify_acta_on_every_vector() {
    let harness = harness().unwrap_or_else(|why| panic!("{why}; scripts/test installs it"));
    let verifier = format!("{} verify-acta", env!("CARGO_BIN_EXE_cordon"));
    let (_, totals) = grade(&harness, &verifier);
    assert!(
        totals.starts_with("totals: 25 vectors, 25 pass,") && totals.contains(" 0 fail"),
        "{totals}"
    );

    // Positive control: a verifier that calls everything valid must be failed by the same harness.
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        script.path(),
        "#!/bin/sh\ncat >/dev/null\necho '{\"verdict\":\"valid\",\"code\":\"ok\"}'\n",
    )
    .unwrap();
    let (_, totals) = grade(&harness, &format!("sh {}", script.path().display()));
    assert!(
        !totals.contains(" 0 fail"),
        "a verifier that accepts everything passed: {totals}"
    );
}
