//! `cordon check` as a user and a program see it: exit codes, the one-line and JSON forms, and a
//! clear exit 65 (never a panic, never a decision) for every kind of bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cordon_core::Schema;
use serde_json::Value;

fn data(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/csc")
        .join(relative)
}

fn cordon(args: &[&OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .output()
        .unwrap()
}

fn check(contract: &Path, policy: &Path, json: bool) -> Output {
    let mut args = vec![
        OsStr::new("check"),
        contract.as_os_str(),
        policy.as_os_str(),
    ];
    if json {
        args.push(OsStr::new("--json"));
    }
    cordon(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const GIT: &str = "examples/contracts/git-status.json";
const READONLY: &str = "examples/policies/dev-readonly.yaml";
const RESTRICTED: &str = "examples/policies/regulated-restricted.yaml";

#[test]
fn allow_deny_and_needs_approval_exit_0_1_2() {
    let allow = check(&data(GIT), &data(READONLY), false);
    assert_eq!(allow.status.code(), Some(0), "{}", stderr(&allow));
    assert_eq!(
        stdout(&allow),
        "ALLOW — contract satisfies v0.1 policy checks (ALLOW)\n"
    );

    let deny = check(&data(GIT), &data(RESTRICTED), false);
    assert_eq!(deny.status.code(), Some(1));
    assert_eq!(
        stdout(&deny),
        "DENY — command not allowed: git (COMMAND_NOT_ALLOWED)\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut contract: Value = serde_json::from_slice(&std::fs::read(data(GIT)).unwrap()).unwrap();
    contract["approval_mode"] = "human_required".into();
    let path = dir.path().join("c.json");
    std::fs::write(&path, contract.to_string()).unwrap();
    let ask = check(&path, &data(READONLY), false);
    assert_eq!(ask.status.code(), Some(2));
    assert!(
        stdout(&ask).starts_with("NEEDS APPROVAL — contract approval mode requires approval"),
        "{}",
        stdout(&ask)
    );
}

#[test]
fn json_output_is_a_csc_policy_decision_plus_outcome() {
    for (policy, outcome) in [(READONLY, "allow"), (RESTRICTED, "deny")] {
        let out = check(&data(GIT), &data(policy), true);
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "one JSON object on one line");
        let decision: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(decision["outcome"], outcome);
        assert_eq!(
            decision["contract_sha256"],
            "2c8487847d601deb81882f5b55a520313b06d7a137a122bee1f5748320c0afd3"
        );
        assert!(decision["expires_at"].is_string());
        Schema::CordonPolicyDecision.validate(&decision).unwrap();
        // Without its one added field it is valid under CSC's own, unmodified schema.
        assert!(
            Schema::PolicyDecision.validate(&decision).is_err(),
            "outcome is not in CSC's schema"
        );
        let mut csc_view = decision.clone();
        csc_view.as_object_mut().unwrap().remove("outcome");
        Schema::PolicyDecision.validate(&csc_view).unwrap();
    }
}

/// Each bad input: exit 65, one line on stderr naming the file, nothing on stdout.
fn assert_invalid(out: &Output, file: &Path, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(65), "stderr: {err}");
    assert!(
        stdout(out).is_empty(),
        "no decision may be printed: {}",
        stdout(out)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn bad_contracts_exit_65_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let good: Value = serde_json::from_slice(&std::fs::read(data(GIT)).unwrap()).unwrap();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "malformed.json",
            b"{\"version\": ".to_vec(),
            vec!["not valid JSON"],
        ),
        (
            "not-utf8.json",
            b"{\"version\": \"\xff\"}".to_vec(),
            vec!["UTF-8"],
        ),
        (
            "duplicate.json",
            br#"{"version": "csc.v0.1", "version": "csc.v0.1"}"#.to_vec(),
            vec!["duplicate key"],
        ),
        (
            "wrong-type.json",
            with(&|v| v["commands"][0]["timeout_sec"] = "10".into()),
            vec!["commands[0].timeout_sec", "integer"],
        ),
        (
            "unknown-field.json",
            with(&|v| v["extra"] = true.into()),
            vec!["extra"],
        ),
        (
            "relative-cwd.json",
            with(&|v| v["commands"][0]["cwd"] = "repo".into()),
            vec!["commands[0].cwd"],
        ),
        (
            "short-id.json",
            with(&|v| v["contract_id"] = "x".into()),
            vec!["contract_id"],
        ),
        ("array.json", b"[1, 2]".to_vec(), vec!["object"]),
        (
            "too-many-args.json",
            with(&|v| v["commands"][0]["exec"]["argv"] = vec!["git"; 201].into()),
            vec!["commands[0].exec.argv", "limit is 200"],
        ),
        (
            "huge-arg.json",
            with(&|v| v["commands"][0]["exec"]["argv"][1] = "a".repeat(128 * 1024 + 1).into()),
            vec!["commands[0].exec.argv[1]", "131072 bytes"],
        ),
        (
            "dup-ids.json",
            with(&|v| {
                let c = v["commands"][0].clone();
                v["commands"].as_array_mut().unwrap().push(c);
            }),
            vec!["commands[1].id", "unique"],
        ),
        (
            "nul.json",
            with(&|v| v["commands"][0]["exec"]["argv"][1] = "a\0b".into()),
            vec!["NUL"],
        ),
    ];
    for (name, bytes, needles) in cases {
        let path = write(dir.path(), name, &bytes);
        assert_invalid(&check(&path, &data(READONLY), false), &path, &needles);
    }
}

#[test]
fn oversized_missing_and_unreadable_files_exit_65() {
    let dir = tempfile::tempdir().unwrap();
    let big = write(dir.path(), "big.json", &vec![b' '; 1024 * 1024 + 1]);
    assert_invalid(
        &check(&big, &data(READONLY), false),
        &big,
        &["larger than the limit of 1048576 bytes"],
    );
    let big_policy = write(dir.path(), "big.yaml", &vec![b'#'; 512 * 1024 + 1]);
    assert_invalid(
        &check(&data(GIT), &big_policy, false),
        &big_policy,
        &["larger than the limit of 524288 bytes"],
    );

    let missing = dir.path().join("missing.json");
    assert_invalid(
        &check(&missing, &data(READONLY), false),
        &missing,
        &["failed to read", "no such file"],
    );
    let missing_policy = dir.path().join("missing.yaml");
    assert_invalid(
        &check(&data(GIT), &missing_policy, false),
        &missing_policy,
        &["failed to read policy file"],
    );

    // Root reads any mode-000 file, so a directory and a FIFO stand in for "unreadable";
    // the FIFO must be refused without blocking on it.
    assert_invalid(
        &check(dir.path(), &data(READONLY), false),
        dir.path(),
        &["directory"],
    );
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert_invalid(
        &check(&fifo, &data(READONLY), false),
        &fifo,
        &["not a regular file"],
    );
}

#[test]
fn bad_policies_exit_65_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(data(READONLY)).unwrap();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "malformed.yaml",
            "allow_commands: [git\n".into(),
            vec!["invalid YAML"],
        ),
        (
            "dup.yaml",
            format!("{good}name: again\n"),
            vec!["duplicate key", "name"],
        ),
        (
            "list.yaml",
            "- a\n- b\n".into(),
            vec!["must contain a YAML mapping"],
        ),
        ("empty.yaml", "".into(), vec!["must contain a YAML mapping"]),
        (
            "yes.yaml",
            good.replace("- git", "- yes"),
            vec!["allow_commands", "YAML 1.1", "quote it"],
        ),
        (
            "off.yaml",
            good.replace("allow_secret_refs: false", "allow_secret_refs: off"),
            vec!["allow_secret_refs", "true or false"],
        ),
        (
            "octal.yaml",
            good.replace("max_timeout_sec: 30", "max_timeout_sec: 030"),
            vec!["max_timeout_sec", "24", "30"],
        ),
        (
            "type.yaml",
            good.replace("max_timeout_sec: 30", "max_timeout_sec: thirty"),
            vec![
                "policy schema validation failed",
                "max_timeout_sec",
                "integer",
            ],
        ),
        (
            "unknown.yaml",
            format!("{good}allow_everything: true\n"),
            vec!["allow_everything"],
        ),
        ("control.yaml", "name: \u{0}".into(), vec!["invalid YAML"]),
    ];
    for (name, text, needles) in cases {
        let path = write(dir.path(), name, text.as_bytes());
        assert_invalid(&check(&data(GIT), &path, false), &path, &needles);
    }
    let latin1 = write(dir.path(), "latin1.yaml", b"name: caf\xe9\n");
    assert_invalid(&check(&data(GIT), &latin1, false), &latin1, &["UTF-8"]);
}

#[test]
fn usage_errors_exit_64() {
    assert_eq!(cordon(&[OsStr::new("check")]).status.code(), Some(64));
    assert_eq!(
        cordon(&[OsStr::new("check"), OsStr::new("--frobnicate")])
            .status
            .code(),
        Some(64)
    );
    assert_eq!(cordon(&[OsStr::new("--help")]).status.code(), Some(0));
}
