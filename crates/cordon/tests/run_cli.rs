//! `cordon run` and `cordon doctor` end to end: a contract the policy refuses never starts a
//! process; an allowed one runs, passes its output through and leaves a schema-valid receipt whose
//! `x-cordon.sandbox` entry says what was enforced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use cordon_core::receipt::ExecutionReceipt;
use serde_json::{json, Value};

/// The binary, with a config home of its own (a hardened run with no `--signing-key` signs with
/// the config home's key, made on first use), never the user's.
fn cordon(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .env("CORDON_HOME", home.path().join("cordon"))
        .output()
        .unwrap()
}

fn policy(dir: &Path, allow: &[&str], write: bool) -> String {
    let ws = dir.display().to_string();
    let p = json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "run-test",
        "allow_commands": allow,
        "allowed_effect_types": ["observe", "transform_local", "mutate_repo"],
        "allowed_risk_classes": ["low"],
        "max_timeout_sec": 30,
        "network": "deny",
        "allow_secret_refs": false,
        "require_write_paths_empty": !write,
        "allowed_cwd_prefixes": [ws],
        "allowed_read_prefixes": [ws],
        "allowed_write_prefixes": [ws],
        "x-cordon": { "env_allow": ["CORDON_TEST_VISIBLE"] }
    });
    let path = dir.join("policy.json");
    std::fs::write(&path, p.to_string()).unwrap();
    path.display().to_string()
}

fn contract(dir: &Path, argv: &[&str], write_paths: &[String]) -> String {
    let ws = dir.display().to_string();
    let c = json!({
        "version": "csc.v0.1",
        "contract_id": "c_run_test",
        "intent": "test",
        "actor": {"agent_id": "a", "session_id": "s", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "cmd_1",
            "exec": {"argv": argv},
            "cwd": ws,
            "read_paths": [format!("{ws}/**")],
            "write_paths": write_paths,
            "network": "deny",
            "env_allow": ["CORDON_TEST_VISIBLE", "CORDON_TEST_HIDDEN"],
            "secret_refs": [],
            "timeout_sec": 10,
            "proposed_effect_type": if write_paths.is_empty() { "observe" } else { "transform_local" }
        }],
        "risk_class": "low",
        "approval_mode": "policy_only",
        "expected_outputs": [],
        "justification": "test"
    });
    let path = dir.join("contract.json");
    std::fs::write(&path, c.to_string()).unwrap();
    path.display().to_string()
}

fn receipt(path: &Path) -> Value {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    ExecutionReceipt::validate(&v)
        .unwrap_or_else(|e| panic!("receipt does not validate: {e}\n{v}"));
    v
}

/// Whether hardened mode runs here; false only when CORDON_TEST_ALLOW_SKIP allows its absence.
fn hardened_available() -> bool {
    let abi = cordon_sandbox::landlock_abi();
    abi >= cordon_sandbox::MIN_LANDLOCK_ABI
        || !cordon_testkit::allow_skip("landlock", &format!("the kernel offers Landlock ABI {abi}"))
}

#[test]
fn allowed_contract_runs_passes_output_through_and_writes_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let c = contract(&ws, &["/bin/echo", "hello"], &[]);
    let p = policy(&ws, &["/bin/echo"], false);
    let r = ws.join("out/receipt.json");
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--mode",
        "local",
        "--receipt",
        r.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    let v = receipt(&r);
    assert_eq!(v["status"], "success");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["execution_mode"], "local");
    assert_eq!(v["completed_command_ids"], json!(["cmd_1"]));
    // sha256("hello\n")
    assert_eq!(
        v["stdout_hash"],
        "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    let e = &v["x-cordon"]["sandbox"]["commands"][0]["enforcement"];
    assert_eq!(e["mode"], "local");
    assert_eq!(e["landlock"]["enforced"], false);
    // Local mode runs only when named, and the receipt says so.
    assert_eq!(
        v["x-cordon"]["mode"],
        json!({"mode": "local", "chosen": "named"})
    );
}

#[test]
fn run_is_hardened_by_default_and_signs_with_the_config_homes_key() {
    if !hardened_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let c = contract(&ws, &["/bin/echo", "hello"], &[]);
    let p = policy(&ws, &["/bin/echo"], false);
    let home = ws.join("cordon-home");
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["run", &c, &p])
        .env("CORDON_HOME", &home)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.starts_with("hello\n"), "{stdout}");
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["execution_mode"], "hardened");
    assert_eq!(
        v["x-cordon"]["mode"],
        json!({"mode": "hardened", "chosen": "default"})
    );
    let e = &v["x-cordon"]["sandbox"]["commands"][0]["enforcement"];
    assert_eq!(e["landlock"]["enforced"], true);
    assert_eq!(e["envelope"]["enforced"], true);
    // A CSC profile's envelope has no workspace: only the declared scopes are granted.
    assert_eq!(e["envelope"]["write"].as_array().unwrap().len(), 1, "{e}");
    // Signed by the key the config home made on first use.
    let key_id = v["signing_key_id"].as_str().unwrap();
    let public = home.join(format!("keys/{key_id}.pub"));
    let r = ws.join("r.json");
    std::fs::write(&r, stdout.lines().last().unwrap()).unwrap();
    let verify = cordon(&[
        "verify-receipt",
        r.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--key-id",
        key_id,
    ]);
    assert_eq!(verify.status.code(), Some(0));
}

#[test]
fn refused_contract_never_starts_a_process() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let marker = ws.join("created");
    let c = contract(&ws, &["/usr/bin/touch", marker.to_str().unwrap()], &[]);
    let p = policy(&ws, &["/bin/echo"], false);
    let r = ws.join("receipt.json");
    let out = cordon(&[
        "run",
        &c,
        &p,
        "--receipt",
        r.to_str().unwrap(),
        "--mode",
        "hardened",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!marker.exists(), "a denied command ran");
    // Said on stderr too, not only in the receipt.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.lines()
            .any(|l| l.starts_with("cordon run: denied: ") && l.contains("command not allowed")),
        "{said}"
    );
    let v = receipt(&r);
    assert_eq!(v["status"], "blocked");
    assert_eq!(v["started_at"], v["ended_at"]);
    assert!(v.get("exit_code").is_none());
    assert!(v["error"].as_str().unwrap().contains("command not allowed"));
}

#[test]
fn hardened_run_enforces_the_scope_and_reports_it() {
    if !hardened_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let out_dir = ws.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Writable folder under a read-only one (CSC's bind-order bug), via a shell.
    let script = format!("touch {0}/x && cat /etc/shadow", out_dir.display());
    let c = contract(
        &ws,
        &["/bin/sh", "-c", &script],
        &[format!("{}/**", out_dir.display())],
    );
    let p = policy(&ws, &["/bin/sh"], true);
    let r = ws.join("receipt.json");
    // Hardened mode requires signing; the key lives outside every granted scope.
    let keys = tempfile::tempdir().unwrap();
    let out = cordon(&[
        "keygen",
        "--out-dir",
        keys.path().to_str().unwrap(),
        "--key-id",
        "k",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let key = keys.path().join("k.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args([
            "run",
            &c,
            &p,
            "--mode",
            "hardened",
            "--signing-key",
            key.to_str().unwrap(),
            "--key-id",
            "k",
            "--receipt",
            r.to_str().unwrap(),
        ])
        .env("CORDON_TEST_VISIBLE", "1")
        .env("CORDON_TEST_HIDDEN", "1")
        .output()
        .unwrap();
    assert!(
        out_dir.join("x").exists(),
        "write under the read-only parent failed"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "cat /etc/shadow must fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    let v = receipt(&r);
    assert_eq!(v["status"], "failed");
    assert_eq!(v["failed_command_id"], "cmd_1");
    assert_eq!(v["signing_key_id"], "k");
    assert_eq!(v["sandbox_profile_id"], "cordon-hardened-v1");
    let e = &v["x-cordon"]["sandbox"]["commands"][0]["enforcement"];
    assert_eq!(e["mode"], "hardened");
    assert_eq!(e["landlock"]["enforced"], true);
    assert_eq!(e["landlock"]["status"], "fully_enforced");
    assert_eq!(e["seccomp"]["enforced"], true);
    assert_eq!(e["process"]["capabilities_cleared"], true);
    assert!(e["network"]["methods"]
        .as_array()
        .unwrap()
        .contains(&json!("seccomp-socket")));
    // Only the name the policy permits passes.
    let passed = e["env"]["passed"].as_array().unwrap();
    assert!(passed.contains(&json!("CORDON_TEST_VISIBLE")));
    assert!(!passed.contains(&json!("CORDON_TEST_HIDDEN")));
}

#[test]
fn doctor_json_reports_modes() {
    let out = cordon(&["doctor", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["modes"]["local"], true);
    let hardened = v["modes"]["hardened"].as_bool().unwrap();
    assert_eq!(out.status.code(), Some(if hardened { 0 } else { 1 }));
    assert_eq!(v["landlock_abi"], u64::from(cordon_sandbox::landlock_abi()));
    let text = cordon(&["doctor"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Landlock ABI"));
}

#[test]
fn a_declared_write_path_that_does_not_exist_is_refused_with_its_name() {
    if !hardened_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let missing = ws.join("missing/out.txt");
    let script = format!("echo x > {}", missing.display());
    let c = contract(
        &ws,
        &["/bin/sh", "-c", &script],
        &[missing.display().to_string()],
    );
    let p = policy(&ws, &["/bin/sh"], true);
    let keys = tempfile::tempdir().unwrap();
    let out = cordon(&[
        "keygen",
        "--out-dir",
        keys.path().to_str().unwrap(),
        "--key-id",
        "k",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let key = keys.path().join("k.pem");
    let run = |r: &Path| {
        cordon(&[
            "run",
            &c,
            &p,
            "--mode",
            "hardened",
            "--signing-key",
            key.to_str().unwrap(),
            "--key-id",
            "k",
            "--receipt",
            r.to_str().unwrap(),
        ])
    };
    // A contract's scope is what was judged: cordon does not create it, nor widen it.
    let r = ws.join("blocked.json");
    let out = run(&r);
    assert_eq!(out.status.code(), Some(126));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.starts_with("cordon: blocked: ") && said.contains(&missing.display().to_string()),
        "{said}"
    );
    assert!(!ws.join("missing").exists());
    assert_eq!(receipt(&r)["status"], "blocked");
    // Control: once the path exists, the same contract runs.
    std::fs::create_dir(ws.join("missing")).unwrap();
    std::fs::write(&missing, "").unwrap();
    let out = run(&ws.join("ran.json"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&missing).unwrap(), "x\n");
}
