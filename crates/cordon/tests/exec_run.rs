//! `cordon exec` runs what it decides, through `cordon run`'s execution: allow runs, deny and ask
//! start nothing, a redirect runs its replacement (never with a wider scope), a checkpointed run
//! is marked, and every decision leaves the agent's text and the synthesized contract in the
//! journal and the receipt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

/// A workspace and a config home side by side (the home outside the workspace, as it must be).
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    ws: PathBuf,
    home: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let ws = root.join("ws");
    std::fs::create_dir(&ws).unwrap();
    Setup {
        home: root.join("home"),
        ws,
        root,
        _dir: dir,
    }
}

impl Setup {
    fn exec(&self, args: &[&str]) -> Output {
        self.exec_in(&self.ws, &self.home, args)
    }

    fn exec_in(&self, cwd: &Path, home: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .arg("exec")
            .args(args)
            .env("CORDON_HOME", home)
            .env("HOME", self.root.join("user"))
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Every entry of the home's journal.
    fn journal(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.home.join("journal/entries.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn decisions(&self) -> Vec<Value> {
        self.journal()
            .into_iter()
            .filter(|e| e.get("decided_at").is_some())
            .collect()
    }

    fn receipts(&self) -> Vec<Value> {
        self.journal()
            .into_iter()
            .filter(|e| e.get("receipt_version").is_some())
            .collect()
    }

    fn policy(&self, name: &str, rules: &str) -> String {
        let path = self.root.join(name);
        std::fs::write(
            &path,
            format!("cordon_policy: 1\nname: {name}\ndefault: deny\nrules:\n{rules}"),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    }
}

fn out(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn err(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Allows local work, so the tests' own rules decide the rest.
const LOCAL_WORK: &str = "  - id: local\n    outcome: allow\n    reason: local work\n    match: {effects: [observe, transform_local]}\n";

#[test]
fn an_allowed_text_runs_and_leaves_its_text_and_contract_in_the_journal() {
    let s = setup();
    let text = "echo hello > greeting.txt && cat greeting.txt | tr a-z A-Z";
    let o = s.exec(&["--shell", text]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // Stdout is the command's own output: no receipt, no decision line.
    assert_eq!(out(&o), "HELLO\n");
    assert_eq!(
        std::fs::read_to_string(s.ws.join("greeting.txt")).unwrap(),
        "hello\n"
    );

    let decisions = s.decisions();
    assert_eq!(decisions.len(), 1);
    let front_end = &decisions[0]["details"]["front_end"];
    // `>` empties whatever greeting.txt held: an overwrite, snapshotted first.
    assert_eq!(decisions[0]["outcome"], "allow_with_checkpoint");
    assert_eq!(front_end["text"], text);
    assert_eq!(front_end["launch"], "shell");
    let synthesized = &front_end["synthesized_contract"];
    assert_eq!(synthesized["commands"].as_array().unwrap().len(), 3);
    assert_eq!(synthesized["commands"][0]["exec"]["argv"][0], "echo");

    let receipts = s.receipts();
    assert_eq!(receipts.len(), 1);
    let receipt = &receipts[0];
    assert_eq!(receipt["status"], "success");
    assert_eq!(receipt["x-cordon"]["front_end"]["text"], text);
    assert_eq!(
        receipt["x-cordon"]["front_end"]["synthesized_contract_sha256"],
        front_end["synthesized_contract_sha256"]
    );
    // What ran: the text under bash, with the union of the parts' write scopes.
    assert_eq!(receipt["contract_sha256"], decisions[0]["contract_sha256"]);
    assert!(receipt["x-cordon"]["sandbox"].is_object());

    // The journal the first use created verifies with the key it created.
    let key = std::fs::read_dir(s.home.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pub"))
        .unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["verify", "--json", "--public-key"])
        .arg(&key)
        .arg(s.home.join("journal"))
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", err(&verify));
    assert!(
        out(&verify).contains("\"verdict\":\"valid\""),
        "{}",
        out(&verify)
    );
}

#[test]
fn a_plain_command_runs_without_a_shell_and_passes_its_exit_code_through() {
    let s = setup();
    // No shell: `$HOME` stays literal when the agent gives an argv.
    let o = s.exec(&["--", "echo", "$HOME"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "$HOME\n");
    // A text that is one plain command runs as its argv.
    let o = s.exec(&["--shell", "false"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let receipts = s.receipts();
    let last = receipts.last().unwrap();
    assert_eq!(last["exit_code"], 1);
    assert_eq!(last["status"], "failed");
    assert_eq!(last["x-cordon"]["front_end"]["launch"], "argv");
    // cd is tracked, and the text runs where it says.
    std::fs::create_dir(s.ws.join("sub")).unwrap();
    let o = s.exec(&["--shell", "cd sub && pwd"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o).trim(), s.ws.join("sub").to_str().unwrap());
}

#[test]
fn a_denied_text_starts_nothing_and_its_decision_is_recorded() {
    let s = setup();
    // Positive control: the same first part alone runs and creates the marker.
    let control = s.exec(&["--shell", "touch control"]);
    assert_eq!(control.status.code(), Some(0), "{}", err(&control));
    assert!(s.ws.join("control").exists());

    let text = "touch marker; cat ~/.ssh/id_rsa";
    let o = s.exec(&["--shell", text]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(!s.ws.join("marker").exists(), "a denied text started");
    assert!(err(&o).contains("Denied:"), "{}", err(&o));
    let decisions = s.decisions();
    let last = decisions.last().unwrap();
    assert_eq!(last["outcome"], "deny");
    assert_eq!(last["details"]["front_end"]["text"], text);
    assert!(last["reason_codes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "RULE_DENIED"));
    // A denial leaves a decision record and no receipt of a run.
    assert_eq!(s.receipts().len(), 1);
}

#[test]
fn an_asked_text_reaches_approval_and_does_not_run_unapproved() {
    let s = setup();
    let o = s.exec(&["--shell", "touch marker && git push"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(!s.ws.join("marker").exists(), "an asked text started");
    assert!(err(&o).contains("Needs approval:"), "{}", err(&o));
    let decisions = s.decisions();
    assert_eq!(decisions.last().unwrap()["outcome"], "ask");
    assert!(s.receipts().is_empty());
}

#[test]
fn a_redirect_runs_the_replacement_and_keeps_the_original() {
    let s = setup();
    std::fs::write(s.ws.join(".hidden"), "").unwrap();
    let rules = format!(
        "{LOCAL_WORK}  - id: show-all\n    outcome: redirect\n    reason: hidden files matter\n    match: {{command: [ls]}}\n    unless: {{flags_any: [-a]}}\n    redirect: {{argv: [ls, -a, \"{{rest:1}}\"]}}\n"
    );
    let policy = s.policy("redirecting", &rules);
    // Positive control: without the rule, `ls` does not list the hidden file.
    let plain = s.policy("plain", LOCAL_WORK);
    let o = s.exec(&["--policy", &plain, "--shell", "ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!out(&o).contains(".hidden"));

    let o = s.exec(&["--policy", &policy, "--shell", "ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).contains(".hidden"),
        "the replacement did not run: {}",
        out(&o)
    );
    assert!(
        err(&o).contains("running `ls -a` instead"),
        "the agent was not told: {}",
        err(&o)
    );
    let receipt = s.receipts().pop().unwrap();
    let front_end = &receipt["x-cordon"]["front_end"];
    assert_eq!(front_end["text"], "ls");
    assert_eq!(front_end["redirect"]["original"], serde_json::json!(["ls"]));
    assert_eq!(
        front_end["redirect"]["replacement"],
        serde_json::json!(["ls", "-a"])
    );
    let decision = s.decisions().pop().unwrap();
    assert_eq!(decision["outcome"], "redirect");
    assert_eq!(
        decision["details"]["front_end"]["synthesized_contract"]["commands"][0]["exec"]["argv"],
        serde_json::json!(["ls"])
    );
}

#[test]
fn a_redirect_never_widens_the_scope() {
    let s = setup();
    let outside = s.root.join("outside");
    let outside = outside.to_str().unwrap();
    // Widening: the replacement writes a path the original does not.
    let widening = s.policy(
        "widening",
        &format!(
            "{LOCAL_WORK}  - id: touch-more\n    outcome: redirect\n    reason: touch one more file\n    match: {{command: [touch]}}\n    unless: {{flags_any: [-a]}}\n    redirect: {{argv: [touch, -a, \"{{rest:1}}\", \"{outside}\"]}}\n"
        ),
    );
    // Positive control: the same rule without the extra path runs its replacement.
    let narrow = s.policy(
        "narrow",
        &format!(
            "{LOCAL_WORK}  - id: touch-same\n    outcome: redirect\n    reason: touch access times only\n    match: {{command: [touch]}}\n    unless: {{flags_any: [-a]}}\n    redirect: {{argv: [touch, -a, \"{{rest:1}}\"]}}\n"
        ),
    );
    let o = s.exec(&["--policy", &narrow, "--shell", "touch inside"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(s.ws.join("inside").exists());

    let o = s.exec(&["--policy", &widening, "--shell", "touch again"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(!Path::new(outside).exists(), "a redirect widened the scope");
    assert!(!s.ws.join("again").exists(), "a refused redirect ran");
    let decision = s.decisions().pop().unwrap();
    assert_eq!(decision["outcome"], "ask");
    assert!(decision["reason_codes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "REDIRECT_REFUSED"));
}

#[test]
fn a_redirect_inside_a_compound_text_is_asked_not_run() {
    let s = setup();
    let policy = s.policy(
        "narrow",
        &format!(
            "{LOCAL_WORK}  - id: touch-same\n    outcome: redirect\n    reason: touch access times only\n    match: {{command: [touch]}}\n    unless: {{flags_any: [-a]}}\n    redirect: {{argv: [touch, -a, \"{{rest:1}}\"]}}\n"
        ),
    );
    let o = s.exec(&["--policy", &policy, "--shell", "touch one && echo done"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(!s.ws.join("one").exists());
    assert!(err(&o).contains("cannot run in its place"), "{}", err(&o));
}

#[test]
fn a_checkpointed_run_is_marked_in_its_receipt() {
    let s = setup();
    std::fs::write(s.ws.join("old.txt"), "x").unwrap();
    let receipt_path = s.root.join("receipt.json");
    let o = s.exec(&[
        "--receipt",
        receipt_path.to_str().unwrap(),
        "--shell",
        "rm old.txt",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("Allowed with a checkpoint"), "{}", err(&o));
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt_path).unwrap()).unwrap();
    assert_eq!(receipt["x-cordon"]["checkpoint"]["requested"], true);
    let scope = receipt["x-cordon"]["checkpoint"]["write_scope"].to_string();
    assert!(scope.contains("old.txt"), "{scope}");
    assert_eq!(receipt["x-cordon"]["front_end"]["text"], "rm old.txt");
    let decision = s.decisions().pop().unwrap();
    assert_eq!(decision["outcome"], "allow_with_checkpoint");
    assert_eq!(decision["details"]["checkpoint"]["requested"], true);
    // Control: a plain allow is not marked.
    let o = s.exec(&["--receipt", receipt_path.to_str().unwrap(), "--shell", "ls"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let receipt: Value =
        serde_json::from_str(&std::fs::read_to_string(&receipt_path).unwrap()).unwrap();
    assert!(receipt["x-cordon"].get("checkpoint").is_none());
}

#[test]
fn explicit_key_and_journal_work_as_in_run() {
    let s = setup();
    let keys = s.root.join("keys");
    let keygen = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["keygen", "--key-id", "k1", "--out-dir"])
        .arg(&keys)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", err(&keygen));
    let journal = s.root.join("j");
    let receipt = s.root.join("r.json");
    let o = s.exec(&[
        "--signing-key",
        keys.join("k1.pem").to_str().unwrap(),
        "--key-id",
        "k1",
        "--journal",
        journal.to_str().unwrap(),
        "--receipt",
        receipt.to_str().unwrap(),
        "--shell",
        "echo signed",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "signed\n");
    let verify = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .args(["verify-receipt", "--key-id", "k1", "--public-key"])
        .arg(keys.join("k1.pub"))
        .arg(&receipt)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", err(&verify));
    let entries = std::fs::read_to_string(journal.join("entries.jsonl")).unwrap();
    assert_eq!(entries.lines().count(), 2, "{entries}");
    assert!(s.decisions().is_empty(), "the home journal was used");
}

#[test]
fn a_home_inside_the_workspace_stays_closed_and_the_run_goes_on() {
    let s = setup();
    if hardened_unavailable(&s) {
        return;
    }
    // The home (its key, journal and policy) inside the workspace every command may write: the
    // envelope closes it, so the run goes on and the command cannot reach it.
    let inside = s.ws.join(".cordon");
    let o = s.exec_in(&s.ws, &inside, &["--shell", "touch marker"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(s.ws.join("marker").exists());
    let o = s.exec_in(&s.ws, &inside, &["--shell", "cat .cordon/policy.yaml"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(
        err(&o).trim(),
        "cat: .cordon/policy.yaml: Permission denied",
        "{}",
        err(&o)
    );
    let o = s.exec_in(
        &s.ws,
        &inside,
        &["--shell", "echo evil > .cordon/approvers"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("Permission denied"), "{}", err(&o));
    assert!(!inside.join("approvers").exists());
    // Control: named local mode reaches it (nothing confines it there).
    let o = s.exec_in(
        &s.ws,
        &inside,
        &["--mode", "local", "--shell", "cat .cordon/policy.yaml"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains("cordon_policy: 1"), "{}", out(&o));
}

#[test]
fn first_use_creates_policy_key_and_journal_once() {
    let s = setup();
    let o = s.exec(&["--shell", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let said = err(&o);
    assert_eq!(said.matches("first use").count(), 1, "{said}");
    assert!(
        said.contains("signing key") && said.contains("journal"),
        "{said}"
    );
    assert!(s.home.join("policy.yaml").exists());
    assert!(s.home.join("journal/journal.json").exists());
    let keys: Vec<_> = std::fs::read_dir(s.home.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pem"))
        .collect();
    assert_eq!(keys.len(), 1);
    let o = s.exec(&["--shell", "true"]);
    assert!(!err(&o).contains("first use"), "{}", err(&o));
    assert_eq!(s.decisions().len(), 2);
}

#[test]
fn hardened_mode_confines_what_runs_to_the_judged_scope() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = setup();
    // A workspace program (allowed by the pack) that writes next to the workspace: its facts
    // grant it the workspace only.
    let script = s.ws.join("w.sh");
    std::fs::write(&script, "#!/bin/sh\necho x > ../escape\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Positive control: in local mode nothing confines it.
    let o = s.exec(&["--mode", "local", "--shell", "./w.sh"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(s.root.join("escape").exists());
    std::fs::remove_file(s.root.join("escape")).unwrap();

    let o = s.exec(&["--mode", "hardened", "--shell", "./w.sh"]);
    if o.status.code() == Some(126)
        && !err(&o).contains("signing key")
        && cordon_testkit::allow_skip(
            "landlock",
            &format!("hardened mode cannot run here: {}", err(&o)),
        )
    {
        return;
    }
    assert!(
        !s.root.join("escape").exists(),
        "hardened mode let it escape"
    );
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("./w.sh: 2: cannot create ../escape: Permission denied"),
        "{}",
        err(&o)
    );
    let receipt = s.receipts().pop().unwrap();
    assert_eq!(receipt["execution_mode"], "hardened");
    // The default is hardened: the same text without `--mode` is confined the same way.
    let o = s.exec(&["--shell", "./w.sh"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(!s.root.join("escape").exists());
    let receipt = s.receipts().pop().unwrap();
    assert_eq!(receipt["execution_mode"], "hardened");
    assert_eq!(
        receipt["x-cordon"]["mode"],
        json!({"mode": "hardened", "chosen": "default"})
    );
}

#[test]
fn a_cedar_policy_file_decides_what_runs() {
    let s = setup();
    let cedar = s.root.join("agent.cedar");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../cordon-policy/data/cedar/coding-agent.cedar"
        ),
        &cedar,
    )
    .unwrap();
    let cedar = cedar.to_str().unwrap();
    let o = s.exec(&["--policy", cedar, "--shell", "echo from-cedar"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "from-cedar\n");
    let o = s.exec(&[
        "--policy",
        cedar,
        "--shell",
        "touch marker; cat ~/.ssh/id_rsa",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(!s.ws.join("marker").exists());
    let decision = s.decisions().pop().unwrap();
    assert_eq!(decision["outcome"], "deny");
    assert_eq!(decision["policy_profile"], "agent");
    // A permit without an outcome fails validation: invalid input, nothing runs.
    let bad = s.root.join("bad.cedar");
    std::fs::write(&bad, "permit(principal, action, resource);").unwrap();
    let o = s.exec(&["--policy", bad.to_str().unwrap(), "--shell", "touch marker"]);
    assert_eq!(o.status.code(), Some(65), "{}", err(&o));
    assert!(!s.ws.join("marker").exists());
}

/// Whether hardened mode cannot run here (only when CORDON_TEST_ALLOW_SKIP allows it; otherwise
/// the test fails).
fn hardened_unavailable(s: &Setup) -> bool {
    let o = s.exec(&["--mode", "hardened", "--shell", "true"]);
    o.status.code() != Some(0)
        && cordon_testkit::allow_skip(
            "landlock",
            &format!("hardened mode cannot run here: {}", err(&o)),
        )
}

/// The envelope each command of a hardened receipt ran in.
fn envelopes(receipt: &Value) -> Vec<Value> {
    receipt["x-cordon"]["sandbox"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["enforcement"]["envelope"].clone())
        .collect()
}

#[test]
fn hardened_mode_creates_new_files_in_the_workspace_without_grants() {
    let s = setup();
    if hardened_unavailable(&s) {
        return;
    }
    std::fs::write(s.ws.join("a.txt"), "one\n").unwrap();
    std::fs::create_dir(s.ws.join("sub")).unwrap();
    let ws = s.ws.to_str().unwrap().to_string();
    // (text, what must exist afterwards)
    let cases = [
        (
            "ls && cat a.txt | wc -l && echo new > b.txt && cat b.txt",
            "b.txt",
        ),
        ("mkdir newdir", "newdir"),
        ("touch x", "x"),
        ("cp a.txt c.txt", "c.txt"),
        ("echo x > sub/new.txt", "sub/new.txt"),
        ("mv a.txt d.txt", "d.txt"),
    ];
    for (text, made) in cases {
        let o = s.exec(&["--shell", text]);
        assert_eq!(o.status.code(), Some(0), "{text}: {}", err(&o));
        assert!(s.ws.join(made).exists(), "{text}");
        let receipt = s.receipts().pop().unwrap();
        assert_eq!(receipt["execution_mode"], "hardened", "{text}");
        // The envelope writes the workspace; nothing is granted beyond it, file by file (a
        // checkpointed `mv` has the soft-delete service's shim granted by path, nothing else).
        for envelope in envelopes(&receipt) {
            assert_eq!(envelope["enforced"], true, "{text}: {envelope}");
            assert_eq!(envelope["write"][0], json!(ws), "{text}: {envelope}");
            let judged: Vec<&Value> = envelope["grants"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["made_on"] != "path")
                .collect();
            assert!(judged.is_empty(), "{text}: {envelope}");
        }
        // The decision judged the names as written.
        let decision = s.decisions().pop().unwrap();
        assert!(decision["details"]["front_end"].get("absent").is_none());
    }
    assert_eq!(out(&s.exec(&["--shell", "cat b.txt"])), "new\n");
    // Into a directory that does not exist: the command's own error, not a refusal.
    let o = s.exec(&["--shell", "echo x > nodir/new.txt"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("No such file or directory"), "{}", err(&o));
    assert!(!err(&o).contains("cordon: blocked"), "{}", err(&o));
}

#[test]
fn a_run_whose_envelope_cannot_be_built_says_why_on_stderr() {
    let s = setup();
    if hardened_unavailable(&s) {
        return;
    }
    // The workspace inside cordon's own home, which the envelope never opens.
    let inside = s.home.join("state");
    let o = s.exec_in(&inside, &s.home, &["--shell", "true"]);
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
    // The receipt is only in the journal (no --receipt), and stderr still says why, once.
    assert_eq!(out(&o), "");
    let said = err(&o);
    let line = said
        .lines()
        .find(|l| l.starts_with("cordon: blocked: "))
        .unwrap_or_else(|| panic!("nothing said: {said:?}"));
    assert!(
        line.starts_with("cordon: blocked: the policy's envelope cannot be built: ")
            && line.contains("is never granted"),
        "{said}"
    );
    assert_eq!(said.matches("blocked").count(), 1, "{said}");
    let receipt = s.receipts().pop().unwrap();
    assert_eq!(receipt["status"], "blocked");
    assert!(receipt["error"].as_str().unwrap().contains("never granted"));
    // Control: the same text in the workspace runs.
    let o = s.exec(&["--shell", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
}

#[test]
fn a_command_that_cannot_start_says_why_on_stderr() {
    let s = setup();
    // A workspace program without its execute bit: allowed, but the runner cannot start it.
    std::fs::write(s.ws.join("tool.sh"), "#!/bin/sh\necho ran\n").unwrap();
    let o = s.exec(&["--shell", "./tool.sh"]);
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
    assert_eq!(out(&o), "");
    let said = err(&o);
    assert!(
        said.lines()
            .any(|l| l.starts_with("cordon: command c1 did not complete: ")
                && l.contains("Permission denied")),
        "{said}"
    );
    // Control: with the bit set it runs, and nothing more is said.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(s.ws.join("tool.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = s.exec(&["--shell", "./tool.sh"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "ran\n");
    assert!(!err(&o).contains("did not complete"), "{}", err(&o));
}
