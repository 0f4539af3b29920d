//! `cordon run` with signing and a journal, end to end through the built binary: every decision
//! becomes a signed record before anything runs, the run's receipt is linked, signed, appended and
//! checkpointed, and `cordon verify` / `cordon verify-receipt` (and csc-runner's, when installed)
//! accept the result. A run that cannot be recorded does not start, and the private key is never
//! inside a scope the sandbox grants.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// The binary, with a config home of its own (a hardened run with no `--signing-key` signs with
/// the config home's key, made on first use), never the user's.
fn cordon(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .env_remove("CORDON_JOURNAL")
        .env("CORDON_HOME", home.path().join("cordon"))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether hardened mode runs here; false only when CORDON_TEST_ALLOW_SKIP allows its absence.
fn hardened_available() -> bool {
    let abi = cordon_sandbox::landlock_abi();
    abi >= cordon_sandbox::MIN_LANDLOCK_ABI
        || !cordon_testkit::allow_skip("landlock", &format!("the kernel offers Landlock ABI {abi}"))
}

/// A workspace `ws` and, next to it (never inside), a key directory and a journal.
struct Setup {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    key: String,
    public: String,
    journal: String,
}

const KEY_ID: &str = "run-test-key";

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let ws = root.join("ws");
    std::fs::create_dir(&ws).unwrap();
    let keys = root.join("keys");
    let out = cordon(&[
        "keygen",
        "--out-dir",
        keys.to_str().unwrap(),
        "--key-id",
        KEY_ID,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    Setup {
        ws,
        key: keys.join(format!("{KEY_ID}.pem")).display().to_string(),
        public: keys.join(format!("{KEY_ID}.pub")).display().to_string(),
        journal: root.join("journal").display().to_string(),
        _dir: dir,
    }
}

fn policy(s: &Setup) -> String {
    let ws = s.ws.display().to_string();
    let p = json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "run-evidence-test",
        "allow_commands": ["/bin/echo", "/usr/bin/touch", "/bin/cat"],
        "allowed_effect_types": ["observe", "transform_local"],
        "allowed_risk_classes": ["low"],
        "max_timeout_sec": 30,
        "network": "deny",
        "allow_secret_refs": false,
        "require_write_paths_empty": false,
        "allowed_cwd_prefixes": [ws],
        "allowed_read_prefixes": ["/"],
        "allowed_write_prefixes": [ws],
    });
    let path = s.ws.join("policy.json");
    std::fs::write(&path, p.to_string()).unwrap();
    path.display().to_string()
}

/// A one-command contract; `read_paths` defaults to the workspace.
fn contract(s: &Setup, name: &str, argv: &[&str], read: &[String], write: bool) -> String {
    let ws = s.ws.display().to_string();
    let read: Vec<String> = if read.is_empty() {
        vec![format!("{ws}/**")]
    } else {
        read.to_vec()
    };
    let write_paths: Vec<String> = if write {
        vec![format!("{ws}/**")]
    } else {
        vec![]
    };
    let c = json!({
        "version": "csc.v0.1",
        "contract_id": "c_run_evidence",
        "intent": "test",
        "actor": {"agent_id": "agent:test", "session_id": "s-42", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "cmd_1",
            "exec": {"argv": argv},
            "cwd": ws,
            "read_paths": read,
            "write_paths": write_paths,
            "network": "deny",
            "env_allow": [],
            "secret_refs": [],
            "timeout_sec": 10,
            "proposed_effect_type": if write { "transform_local" } else { "observe" }
        }],
        "risk_class": "low",
        "approval_mode": "policy_only",
        "expected_outputs": [],
        "justification": "test"
    });
    let path = s.ws.join(name);
    std::fs::write(&path, c.to_string()).unwrap();
    path.display().to_string()
}

fn journal_lines(s: &Setup) -> Vec<Value> {
    std::fs::read_to_string(Path::new(&s.journal).join("entries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify_journal(s: &Setup) -> Value {
    let out = cordon(&["verify", &s.journal, "--public-key", &s.public]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

fn checkpoints(s: &Setup) -> usize {
    std::fs::read_dir(Path::new(&s.journal).join("checkpoints"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn mode() -> &'static str {
    if hardened_available() {
        "hardened"
    } else {
        "local"
    }
}

#[test]
fn signed_run_is_journaled_checkpointed_and_verifies() {
    let s = setup();
    let p = policy(&s);
    let c = contract(&s, "c.json", &["/bin/echo", "hello"], &[], false);
    let r = s.ws.join("out/receipt.json");
    let mode = mode();
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        mode,
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--journal",
        &s.journal,
        "--receipt",
        r.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");

    // The journal: the decision record, then the receipt that points at it; one checkpoint.
    let lines = journal_lines(&s);
    assert_eq!(lines.len(), 2);
    let rec = &lines[0];
    assert_eq!(rec["record_version"], "cordon.decision.v1");
    assert_eq!(rec["outcome"], "allow");
    assert_eq!(rec["actor"], "agent:test");
    assert_eq!(rec["session_id"], "s-42");
    assert_eq!(rec["signature"]["key_id"], KEY_ID);
    assert_eq!(rec["sandbox_profile"], format!("cordon-{mode}-v1"));
    let receipt: Value = serde_json::from_slice(&std::fs::read(&r).unwrap()).unwrap();
    assert_eq!(
        receipt, lines[1],
        "--receipt holds exactly the journaled receipt"
    );
    assert_eq!(receipt["status"], "success");
    assert_eq!(receipt["signing_key_id"], KEY_ID);
    assert_eq!(receipt["signature"]["key_id"], KEY_ID);
    assert_eq!(receipt["sandbox_profile_id"], format!("cordon-{mode}-v1"));
    assert_eq!(receipt["decision_record"]["record_id"], rec["record_id"]);
    assert_eq!(receipt["decision_record"]["index"], 0);
    assert_eq!(receipt["contract_sha256"], rec["contract_sha256"]);
    assert_eq!(
        receipt["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["mode"],
        mode
    );
    assert_eq!(checkpoints(&s), 1);
    // The receipt was written atomically: no temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(s.ws.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["receipt.json"]);

    let v = verify_journal(&s);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["entries"], 2);
    assert_eq!(v["decisions"], 1);
    assert_eq!(v["receipts"], 1);
    assert_eq!(v["checkpoints_matched"], 1);
    assert_eq!(v["checkpointed_size"], 2);

    let out = cordon(&[
        "verify-receipt",
        r.to_str().unwrap(),
        "--public-key",
        &s.public,
        "--key-id",
        KEY_ID,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("VALID"));

    // A second run extends the same journal and adds a checkpoint; it still verifies.
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        mode,
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--journal",
        &s.journal,
        "--receipt",
        r.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(journal_lines(&s).len(), 4);
    assert_eq!(checkpoints(&s), 2);
    let v = verify_journal(&s);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["checkpoints_matched"], 2);
}

#[test]
fn signed_receipt_without_a_journal_and_unsigned_local_runs_still_work() {
    let s = setup();
    let p = policy(&s);
    let c = contract(&s, "c.json", &["/bin/echo", "hi"], &[], false);
    let r = s.ws.join("receipt.json");
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--receipt",
        r.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let receipt: Value = serde_json::from_slice(&std::fs::read(&r).unwrap()).unwrap();
    assert!(receipt.get("decision_record").is_none());
    assert!(!Path::new(&s.journal).exists());
    let out = cordon(&[
        "verify-receipt",
        r.to_str().unwrap(),
        "--public-key",
        &s.public,
        "--key-id",
        KEY_ID,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Local mode without a key: unsigned, as before.
    let out = cordon(&["run", &c, &p, "--mode", "local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert!(last.get("signature").is_none());
    assert_eq!(last["status"], "success");

    // A journal without a key is a usage error: it could not be signed.
    let out = cordon(&["run", &c, &p, "--mode", "local", "--journal", &s.journal]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("signing key"));
}

#[test]
fn a_denial_is_a_signed_decision_record_and_no_receipt_of_a_run() {
    let s = setup();
    let p = policy(&s);
    let marker = s.ws.join("created");
    let c = contract(
        &s,
        "c.json",
        &["/usr/bin/rm", "-rf", marker.to_str().unwrap()],
        &[],
        true,
    );
    std::fs::write(&marker, "still here").unwrap();
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        mode(),
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--journal",
        &s.journal,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(marker.exists(), "a denied command ran");

    let lines = journal_lines(&s);
    assert_eq!(lines.len(), 1, "only the decision record: {lines:?}");
    let rec = &lines[0];
    assert_eq!(rec["record_version"], "cordon.decision.v1");
    assert_eq!(rec["outcome"], "deny");
    assert!(!rec["reason_codes"].as_array().unwrap().is_empty());
    assert!(rec["sandbox_profile"].is_null());
    assert_eq!(checkpoints(&s), 1);
    let v = verify_journal(&s);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(
        (v["decisions"].clone(), v["receipts"].clone()),
        (json!(1), json!(0))
    );

    // The caller still gets a (signed) blocked receipt that names the record.
    let last: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "blocked");
    assert_eq!(last["decision_record"]["record_id"], rec["record_id"]);
    assert_eq!(last["signature"]["key_id"], KEY_ID);
}

#[test]
fn hardened_without_a_usable_key_or_journal_is_blocked_and_starts_nothing() {
    if !hardened_available() {
        return;
    }
    let s = setup();
    let p = policy(&s);
    let marker = s.ws.join("marker");
    let c = contract(
        &s,
        "c.json",
        &["/usr/bin/touch", marker.to_str().unwrap()],
        &[],
        true,
    );

    // No key at all: no `--signing-key`, and no config home to take one from.
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", &c, &p, "--mode", "hardened"])
        .env_remove("CORDON_JOURNAL")
        .env_remove("CORDON_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("HOME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("hardened mode requires signing"));
    assert!(!marker.exists(), "the command started without a key");

    // A key file that is not a key.
    let bad = s.ws.parent().unwrap().join("bad.pem");
    std::fs::write(&bad, "not a key").unwrap();
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        "hardened",
        "--signing-key",
        bad.to_str().unwrap(),
        "--key-id",
        KEY_ID,
    ]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("signing key is not usable"));
    assert!(!marker.exists(), "the command started with an unusable key");

    // A journal that cannot be opened (a plain file where the directory should be).
    let not_a_dir = s.ws.parent().unwrap().join("journal-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        "hardened",
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--journal",
        not_a_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("journal cannot be opened"));
    assert!(!marker.exists(), "the command started without a journal");

    // Positive control: the same contract with a key and a journal runs and creates the marker.
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        "hardened",
        "--signing-key",
        &s.key,
        "--key-id",
        KEY_ID,
        "--journal",
        &s.journal,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(marker.exists(), "positive control: the command did not run");
}

#[test]
fn the_private_key_is_never_readable_inside_a_hardened_run() {
    if !hardened_available() {
        return;
    }
    let s = setup();
    let p = policy(&s);
    let secret_marker = "PRIVATE KEY";
    std::fs::write(s.ws.join("readme.txt"), "workspace file\n").unwrap();
    let args = |c: &str| -> Vec<String> {
        [
            "run",
            c,
            &p,
            "--mode",
            "hardened",
            "--signing-key",
            &s.key,
            "--key-id",
            KEY_ID,
            "--journal",
            &s.journal,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let run = |c: &str| {
        let a = args(c);
        cordon(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // Positive control: a file inside the granted scope is readable.
    let c = contract(&s, "ok.json", &["/bin/cat", "readme.txt"], &[], false);
    let out = run(&c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The receipt follows as the last line of stdout.
    assert!(text(&out.stdout).starts_with("workspace file\n"));

    // The key outside the scope: the envelope closes it. It lies in no listed directory, so no
    // stand-in goes over it (a CSC profile lists nothing): the kernel refuses the open.
    let c = contract(&s, "steal.json", &["/bin/cat", &s.key], &[], false);
    let out = run(&c);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Permission denied"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().count(), 1, "only the receipt");
    assert!(!text(&out.stdout).contains(secret_marker));

    // A contract that declares the key's directory as a read scope gets that directory, and the
    // key in it is still closed.
    let key_dir = Path::new(&s.key).parent().unwrap().display().to_string();
    let c = contract(
        &s,
        "declare.json",
        &["/bin/cat", &s.key],
        &[format!("{key_dir}/**")],
        false,
    );
    let out = run(&c);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1, "only the receipt");
    assert!(!text(&out.stdout).contains(secret_marker));
    let receipt: Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let envelope = &receipt["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["envelope"];
    assert!(
        envelope["stand_ins"]
            .as_array()
            .unwrap()
            .contains(&json!(s.key)),
        "{envelope}"
    );
    // Every attempt is on the record, and the journal still verifies.
    let v = verify_journal(&s);
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["receipts"], 3);
}

/// csc-runner 0.5.2's `csc`, from `CORDON_CSC` or `bench/.venv` (bench/csc-venv.sh creates it).
fn csc_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CORDON_CSC") {
        let p = PathBuf::from(p);
        // A wrong path is a misconfiguration, not a missing tool: fail instead of skipping.
        assert!(p.is_file(), "CORDON_CSC={} is not a file", p.display());
        return Ok(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/.venv/bin/csc");
    if venv.is_file() {
        Ok(venv)
    } else {
        Err("csc-runner is not installed (run bench/csc-venv.sh or set CORDON_CSC)".into())
    }
}

#[test]
fn csc_runner_verifies_receipts_from_cordon_run() {
    let csc = csc_binary().unwrap_or_else(|why| panic!("{why}; scripts/test installs it"));
    let s = setup();
    let p = policy(&s);
    let c = contract(&s, "c.json", &["/bin/echo", "interop"], &[], false);
    for (name, journal) in [("journaled", true), ("standalone", false)] {
        let r = s.ws.join(format!("{name}.json"));
        let mut args = vec![
            "run",
            &c,
            &p,
            "--mode",
            mode(),
            "--signing-key",
            &s.key,
            "--key-id",
            KEY_ID,
            "--receipt",
            r.to_str().unwrap(),
        ];
        if journal {
            args.extend(["--journal", &s.journal]);
        }
        let out = cordon(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let out = Command::new(&csc)
            .args([
                "verify-receipt",
                r.to_str().unwrap(),
                "--public-key",
                &s.public,
                "--key-id",
                KEY_ID,
            ])
            .output()
            .unwrap();
        let stdout = text(&out.stdout);
        assert!(
            stdout.starts_with("VALID"),
            "csc verify-receipt on the {name} receipt: {stdout}{}",
            text(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0));
        // Negative control: csc rejects the same receipt under another key id.
        let out = Command::new(&csc)
            .args([
                "verify-receipt",
                r.to_str().unwrap(),
                "--public-key",
                &s.public,
                "--key-id",
                "other",
            ])
            .output()
            .unwrap();
        assert!(
            text(&out.stdout).starts_with("INVALID"),
            "{}",
            text(&out.stdout)
        );
    }
}
