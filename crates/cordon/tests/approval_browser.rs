//! The approval page in a real browser: a `cordon run` of an ask contract waits, `cordon serve`
//! starts, headless Chromium (Debian's package, driven by playwright-core from tests/browser)
//! opens the printed address, clicks Approve, and the command runs with the approver in its
//! receipt. One argument carries a RIGHT-TO-LEFT OVERRIDE: the browser shows it as an escape, and
//! lays every argument out in its own box, left to right, none over another. Screenshots are
//! kept under target/test-artifacts/.
//!
//! Needs /usr/bin/chromium and `npm ci` in tests/browser (scripts/test does both); without them
//! the test fails, naming what is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use approval_support::{text, wait, Home};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn clicking_approve_in_chromium_runs_the_command() {
    let chromium = std::env::var("CORDON_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let browser_dir = repo().join("tests/browser");
    cordon_testkit::require(
        Path::new(&chromium).exists(),
        &chromium,
        "run scripts/test, or apt-get install chromium",
    );
    cordon_testkit::require(
        browser_dir.join("node_modules/playwright-core").exists(),
        "tests/browser/node_modules",
        "run scripts/test, or `npm ci` in tests/browser",
    );
    cordon_testkit::require(
        Command::new("node").arg("--version").output().is_ok(),
        "node",
        "run scripts/test, or apt-get install nodejs",
    );

    let home = Home::new();
    // Shown raw, `evil<RLO>fdp.exe` reads `evilexe.pdf`, and could pull the next word in.
    let contract = home.contract(
        "browser",
        &["browser-run", "evil\u{202e}fdp.exe", "next"],
        false,
    );
    let policy = home.p("policy.json");
    let receipt_path = home.p("browser.receipt.json");
    let run = home.spawn(&[
        "run",
        &contract,
        &policy,
        "--approval-timeout",
        "60",
        "--receipt",
        &receipt_path,
    ]);
    let id = home.wait_for_request();

    let (mut serve, url) = approval_support::serve(&home);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let shots = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    let node = Command::new("node")
        .arg(browser_dir.join("approve.mjs"))
        .args([url.as_str(), id.as_str(), shots.to_str().unwrap()])
        .env("CORDON_CHROMIUM", &chromium)
        .output()
        .unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(
        node.status.code(),
        Some(0),
        "the browser script failed: {}{}",
        text(&node.stdout),
        text(&node.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(text(&node.stdout).lines().last().unwrap()).unwrap();
    assert!(
        result["note"]
            .as_str()
            .unwrap()
            .contains(&format!("approved {id} as alice")),
        "{result}"
    );
    assert!(
        result["argv"].as_str().unwrap().contains("browser-run"),
        "{result}"
    );
    assert!(shots.join("approve.png").metadata().unwrap().len() > 1000);
    // What the browser drew: each argument in its own box, the override as an escape, the boxes
    // left to right and apart.
    let args = result["args"].as_array().unwrap();
    let texts: Vec<&str> = args.iter().map(|a| a["text"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["echo", "browser-run", "evil\\u{202e}fdp.exe", "next"],
        "{result}"
    );
    for pair in args.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let right_of_a = a["x"].as_f64().unwrap() + a["width"].as_f64().unwrap();
        let same_row = (a["y"].as_f64().unwrap() - b["y"].as_f64().unwrap()).abs() < 1.0;
        assert!(
            !same_row || b["x"].as_f64().unwrap() >= right_of_a,
            "{} overlaps {}: {result}",
            b["text"],
            a["text"]
        );
    }

    let out = wait(run, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("browser-run"));
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt_path).unwrap()).unwrap();
    assert_eq!(
        receipt["x-cordon"]["approval"]["approvals"][0]["approver"],
        "alice"
    );
    assert_eq!(receipt["x-cordon"]["approval"]["request_id"], id.as_str());
}
