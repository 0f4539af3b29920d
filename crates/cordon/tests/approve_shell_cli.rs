//! Pre-approving shell text: `cordon explain --json` prints the contract `cordon exec` runs, so an
//! approval signed for it (`cordon approve --contract`) is accepted by `exec`; and `cordon approve
//! --shell TEXT` signs that contract directly. Each approval covers its text in its directory
//! only: another text or another cwd is still asked.
//!
//! The text is `git push origin main` in a directory that is not a repository: the default pack
//! asks before a push, and once approved git runs and says it found no repository, which shows it
//! ran (and pushes nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;

use std::process::Output;

use approval_support::{text, Home};
use serde_json::Value;

const TEXT: &str = "git push origin main";
const USAGE: i32 = 64;
const INVALID: i32 = 65;
const BLOCKED: i32 = 126;
/// `exec`'s exit when the policy asks and it may not wait.
const ASKED: i32 = 2;

fn require_git() {
    cordon_testkit::require(
        std::process::Command::new("git")
            .arg("--version")
            .output()
            .is_ok(),
        "git",
        "apt-get install git",
    );
}

/// `cordon ARGS` in the workspace.
fn in_ws(home: &Home, args: &[&str]) -> Output {
    home.command(args).current_dir(home.ws()).output().unwrap()
}

/// `cordon exec` of `text` that may not wait for a person, with `extra` options.
fn exec(home: &Home, extra: &[&str], text: &str) -> Output {
    let mut args = vec!["exec", "--approval-timeout", "0"];
    args.extend_from_slice(extra);
    args.extend(["--shell", text]);
    in_ws(home, &args)
}

/// Git ran (and found no repository): the approval let the text run.
fn assert_ran(out: &Output) {
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not a git repository"),
        "git did not run: {stderr}"
    );
    assert!(stderr.contains("approved by alice"), "{stderr}");
}

fn assert_asked(out: &Output) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(ASKED), "{stderr}");
    assert!(stderr.contains("Needs approval"), "{stderr}");
    assert!(
        !stderr.contains("not a git repository"),
        "git ran: {stderr}"
    );
}

#[test]
fn an_approval_of_the_explained_contract_is_accepted_by_exec() {
    require_git();
    let home = Home::new();
    // Before any approval the text is asked, so what follows is the approval's doing.
    assert_asked(&exec(&home, &[], TEXT));

    let out = in_ws(&home, &["explain", "--json", "--shell", TEXT]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(explained["decision"]["outcome"], "ask");
    let contract = &explained["contract"];
    assert_eq!(contract["commands"][0]["exec"]["argv"][0], "git");
    let sha = explained["contract_sha256"].as_str().unwrap().to_string();
    // The text form names the same contract.
    let out = in_ws(&home, &["explain", "--shell", TEXT]);
    let told = format!(
        "exec runs: contract {} (sha256 {sha})",
        contract["contract_id"].as_str().unwrap()
    );
    assert!(text(&out.stdout).contains(&told), "{}", text(&out.stdout));
    let file = home.path("explained.json");
    std::fs::write(&file, contract.to_string()).unwrap();
    let approval = home.p("approval.json");
    let out = home.ok(&[
        "approve",
        "--contract",
        file.to_str().unwrap(),
        "--out",
        &approval,
    ]);
    assert!(
        text(&out.stdout).contains(contract["contract_id"].as_str().unwrap()),
        "{}",
        text(&out.stdout)
    );

    // Another text is not covered by it: asked without it, refused with it.
    assert_asked(&exec(&home, &[], "git push origin dev"));
    let out = exec(&home, &["--approval", &approval], "git push origin dev");
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("not a git repository"));

    let out = exec(&home, &["--approval", &approval], TEXT);
    assert_ran(&out);
    // The journal's decision record pins the very contract that was explained.
    let journal = std::fs::read_to_string(home.path("home/journal/entries.jsonl")).unwrap();
    assert!(
        journal.contains(&sha),
        "the run's records do not name {sha}"
    );
}

#[test]
fn approve_shell_covers_its_text_in_its_directory_only() {
    require_git();
    let home = Home::new();
    std::fs::create_dir_all(home.ws().join("sub")).unwrap();
    let out = in_ws(
        &home,
        &["approve", "--shell", TEXT, "--scope", "window:10m"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("kept in the approval store"));

    assert_asked(&exec(&home, &[], "git push origin dev"));
    let sub = home.ws().join("sub");
    assert_asked(&exec(&home, &["--cwd", sub.to_str().unwrap()], TEXT));
    // A window approval covers every run of the same contract until it ends.
    for _ in 0..2 {
        assert_ran(&exec(&home, &[], TEXT));
    }
}

#[test]
fn a_single_use_approval_of_a_text_travels_as_a_file() {
    require_git();
    let home = Home::new();
    let out = in_ws(&home, &["approve", "--shell", TEXT]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("a single-use approval (--scope once) travels as a file"),
        "{}",
        text(&out.stderr)
    );
    // Nothing was stored: the text is still asked.
    assert_asked(&exec(&home, &[], TEXT));

    let approval = home.p("once.json");
    let out = in_ws(&home, &["approve", "--shell", TEXT, "--out", &approval]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_ran(&exec(&home, &["--approval", &approval], TEXT));
    // Used once, it is spent.
    let out = exec(&home, &["--approval", &approval], TEXT);
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("not a git repository"));
}

#[test]
fn a_denied_text_cannot_be_approved() {
    let home = Home::new();
    let out = in_ws(
        &home,
        &[
            "approve",
            "--shell",
            "cat ~/.ssh/id_rsa",
            "--scope",
            "window:10m",
        ],
    );
    assert_eq!(out.status.code(), Some(INVALID), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("the policy denies this text"),
        "{}",
        text(&out.stderr)
    );
}
