//! `govern` in process: no command starts. A fake executor records every plan it is handed and
//! answers with a canned report, so each test can say exactly what would have run, under which
//! confinement, and what the receipt, the journal and the notices say about it.
//!
//! Every outcome × mode × ledger, and the four ways a run is stopped on its way: an approval
//! refused, a snapshot that cannot be taken, a sandbox that refuses, a journal that cannot be
//! written. Each refusal has its positive control in the matrix: the same request with the
//! obstacle removed runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cordon_core::contract::NetworkMode;
use cordon_core::hosts::HostList;
use cordon_core::{Contract, Outcome};
use cordon_governor::approval::ApprovalDesk;
use cordon_governor::{
    govern, govern_unrecorded, judge_contract, ApprovalOptions, Conclusion, Decision,
    EnvelopeSource, Error, Executed, Executor, Governed, Ledger, Mode, ModeChoice, Notice, Options,
    PolicyInForce, PolicyRef, Probe, RunRequest, SecretsPlace, SnapshotPlaces,
};
use cordon_policy::egress::NetworkGrant;
use cordon_policy::native::LoadedNativePolicy;
use cordon_sandbox::{
    CommandReport, CommandStatus, Confinement, Egress, Network, OutputFilter, Plan, ProcessRecord,
    ProcessTree, StreamReport, WriteObserver,
};
use serde_json::{json, Value};

const KEY_ID: &str = "pipeline-key";
const TOKEN: &str = "ghp_pipeline-token-0123456789";
const MARK: &str = "[REDACTED:github]";

/// A kernel that can confine a hardened run, or says what it lacks.
struct Kernel(Option<&'static str>);

impl Probe for Kernel {
    fn hardened_unavailable(&self) -> Option<String> {
        self.0.map(str::to_string)
    }

    /// A hardened run's checkpoint is a full snapshot here: the observed one needs the real
    /// sandbox (crates/cordon/tests/observed_checkpoint_cli.rs).
    fn write_broker_unavailable(&self) -> Option<String> {
        Some("the test kernel runs no write broker".into())
    }
}

/// A workspace, a key, a home for approvals and snapshots, and a place for the journal, all in
/// one temporary directory.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("ws")).unwrap();
        std::fs::write(root.join("ws/file.txt"), "kept").unwrap();
        cordon_journal::keys::generate(&root.join("keys"), Some(KEY_ID)).unwrap();
        World { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    fn ws(&self) -> PathBuf {
        self.root().join("ws")
    }

    fn key(&self) -> PathBuf {
        self.root().join(format!("keys/{KEY_ID}.pem"))
    }

    fn public_key(&self) -> ed25519_dalek::VerifyingKey {
        let bytes = std::fs::read(self.root().join(format!("keys/{KEY_ID}.pub"))).unwrap();
        cordon_journal::keys::parse_public_key(&bytes).unwrap()
    }

    fn journal(&self) -> PathBuf {
        self.root().join("journal")
    }

    fn desk(&self) -> ApprovalDesk {
        ApprovalDesk {
            approvers: self.root().join("home/approvers"),
            store: self.root().join("home/state/approvals.db"),
            channels: self.root().join("home/approvals.json"),
            store_url: None,
            machine: "test-machine".into(),
        }
    }

    fn places(&self) -> SnapshotPlaces {
        SnapshotPlaces {
            checkpoints: self.root().join("home/state/checkpoints"),
            trash: self.root().join("home/state/trash"),
            runs: self.root().join("home/state/run"),
            sessions: self.root().join("home/state/sessions"),
        }
    }

    fn ledger(&self, kind: LedgerKind, mode: Mode) -> Result<Ledger, Error> {
        let key = self.key();
        let key = Some((key.as_path(), KEY_ID));
        match kind {
            LedgerKind::Unsigned => Ledger::open(None, None, mode),
            LedgerKind::Signed => Ledger::open(key, None, mode),
            LedgerKind::Journaled => Ledger::open(key, Some(&self.journal()), mode),
        }
    }

    /// A one-command contract that writes the workspace.
    fn request(&self, outcome: Outcome) -> RunRequest {
        let ws = self.ws().display().to_string();
        let contract = json!({
            "version": "csc.v0.1",
            "contract_id": "c_pipeline_test",
            "intent": "test",
            "actor": {"agent_id": "agent:test", "session_id": "s-7", "initiating_user": "u", "delegation_scope": "d"},
            "commands": [{
                "id": "cmd_1",
                "exec": {"argv": ["/usr/bin/touch", format!("{ws}/new.txt")]},
                "cwd": ws,
                "read_paths": [format!("{ws}/**")],
                "write_paths": [format!("{ws}/**")],
                "network": "deny",
                "env_allow": [],
                "secret_refs": [],
                "timeout_sec": 10,
                "proposed_effect_type": "transform_local"
            }],
            "risk_class": "low",
            "approval_mode": "policy_only",
            "expected_outputs": [],
            "justification": "test"
        });
        let contract = Contract::parse(contract.to_string().as_bytes()).unwrap();
        let decision = Decision::new(
            outcome,
            Vec::new(),
            format!("Decided: {}.", outcome.as_str()),
            PolicyRef::named("pipeline-test", &"ab".repeat(32)),
        );
        RunRequest::new(contract, decision, None)
    }

    fn options(&self, mode: Mode, notices: &Heard) -> Options {
        let heard = Arc::clone(&notices.0);
        Options {
            mode,
            mode_choice: ModeChoice::Named,
            envelope: Some(self.envelope()),
            kernel: Arc::new(Kernel(None)),
            approval: ApprovalOptions::none(),
            desk: Some(self.desk()),
            snapshots: Some(self.places()),
            session: None,
            workspace: Some(self.ws()),
            resolver_overrides: Default::default(),
            secrets: Some(self.secrets()),
            notices: Arc::new(move |n: Notice| heard.lock().unwrap().push(n)),
        }
    }

    /// The default pack's envelope for the workspace, with a home of its own.
    fn envelope(&self) -> EnvelopeSource {
        EnvelopeSource {
            policy: Arc::new(PolicyInForce::Native(
                LoadedNativePolicy::default_pack().unwrap(),
            )),
            workspace: self.ws(),
            home: self.root().join("user"),
            cordon_home: self.root().join("home"),
        }
    }

    /// The home's secret store; `env:` references see only `CORDON_TEST_TOKEN`.
    fn secrets(&self) -> SecretsPlace {
        SecretsPlace {
            store: cordon_secrets::SecretStore::new(
                self.root().join("home/secrets/store"),
                self.root().join("home/keys/secrets.key"),
            ),
            home: self.root(),
            env: Arc::new(|name: &str| (name == "CORDON_TEST_TOKEN").then(|| TOKEN.into())),
        }
    }

    fn entries(&self) -> Vec<Value> {
        std::fs::read_to_string(self.journal().join("entries.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn tree_heads(&self) -> usize {
        std::fs::read_dir(self.journal().join("checkpoints"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn verify_journal(&self) -> cordon_journal::Verdict {
        cordon_journal::verify_journal(
            &self.journal(),
            &cordon_journal::VerifyOptions {
                ring: cordon_journal::KeyRing::single(KEY_ID.to_string(), self.public_key()),
                trusted_checkpoint: None,
                fast: false,
            },
        )
        .unwrap()
    }

    /// Breaks the journal the way a full or read-only disk would: its lock can no longer be
    /// opened for writing (even by root), so no append or tree head succeeds.
    fn break_journal(journal: &Path) {
        let lock = journal.join("lock");
        let _ = std::fs::remove_file(&lock);
        std::fs::create_dir(&lock).unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LedgerKind {
    Unsigned,
    Signed,
    Journaled,
}

/// The notices the pipeline gave.
#[derive(Default)]
struct Heard(Arc<Mutex<Vec<Notice>>>);

impl Heard {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(Notice::line).collect()
    }
}

/// What the fake executor answers.
#[derive(Clone)]
enum Answer {
    Exit(i32),
    Refuse(String),
    Blocked(String),
}

/// Records every plan and confinement, runs nothing.
struct Recording {
    answer: Answer,
    seen: Vec<(Plan, Confinement)>,
    /// Runs while "executing" (e.g. to break the journal after the decision was recorded).
    during: Option<Box<dyn FnMut()>>,
    /// The output filter the pipeline set.
    filter: Option<Arc<dyn OutputFilter>>,
}

impl Recording {
    fn new(answer: Answer) -> Recording {
        Recording {
            answer,
            seen: Vec::new(),
            during: None,
            filter: None,
        }
    }
}

/// What a command that leaks `GH_TOKEN` leaves: it prints it, and the exec recorder saw it
/// expanded into an argv. `None` when the command has no `GH_TOKEN`.
fn leak(plan: &Plan) -> Option<(Vec<u8>, ProcessTree)> {
    let (_, value) = plan.commands[0]
        .env
        .iter()
        .find(|(name, _)| name == "GH_TOKEN")?;
    let value = value.to_str().unwrap().to_string();
    let printed = format!("token: {value}\n").into_bytes();
    let tree = ProcessTree {
        mechanism: "seccomp-user-notif".into(),
        complete: true,
        processes: vec![ProcessRecord {
            pid: 2,
            ppid: 1,
            path: "/usr/bin/curl".into(),
            argv: vec![
                "curl".into(),
                "-H".into(),
                format!("Authorization: {value}"),
            ],
            argv_truncated: false,
            argv_read: true,
            path_found: true,
        }],
        truncated: false,
        dropped: 0,
        notes: Vec::new(),
    };
    Some((printed, tree))
}

fn stream(bytes: &[u8]) -> StreamReport {
    StreamReport {
        sha256: cordon_core::hash::sha256_hex(bytes),
        captured_bytes: bytes.len() as u64,
        total_bytes: bytes.len() as u64,
        truncated: false,
        captured: bytes.to_vec(),
    }
}

impl Executor for Recording {
    fn execute(&mut self, plan: &Plan, confinement: &Confinement) -> Result<Executed, String> {
        self.seen.push((plan.clone(), confinement.clone()));
        if let Some(during) = self.during.as_mut() {
            during();
        }
        let (status, exit_code, error) = match &self.answer {
            Answer::Refuse(why) => return Err(why.clone()),
            Answer::Exit(0) => (CommandStatus::Success, 0, None),
            Answer::Exit(code) => (CommandStatus::Failed, *code, None),
            Answer::Blocked(why) => (CommandStatus::Blocked, 126, Some(why.clone())),
        };
        let now = SystemTime::now();
        let (printed, processes) = match leak(plan) {
            Some((printed, tree)) => (printed, Some(tree)),
            None => (b"out\n".to_vec(), None),
        };
        // As the supervisor does: the filter sees the stream before it is captured.
        let stdout = match &self.filter {
            Some(filter) => {
                let mut stream = filter.stream();
                let mut out = Vec::new();
                stream.push(&printed, &mut out);
                stream.finish(&mut out);
                out
            }
            None => printed,
        };
        Ok(Executed {
            report: CommandReport {
                id: plan.commands[0].id.clone(),
                status,
                exit_code,
                segments: Vec::new(),
                stdout: stream(&stdout),
                stderr: stream(b""),
                started_at: now,
                ended_at: now,
                duration: Duration::from_millis(3),
                error,
                processes,
            },
            enforcement: json!({"mode": confinement.mode}),
        })
    }

    fn filter_output(&mut self, filter: Option<Arc<dyn OutputFilter>>) {
        self.filter = filter;
    }

    fn observe_writes(&mut self, observer: Option<Arc<dyn WriteObserver>>) {
        assert!(
            observer.is_none(),
            "the test kernel runs no write broker, so nothing may be observed"
        );
    }
}

/// Governs as the binary does: a ledger that cannot be opened takes the unrecorded path.
fn run(
    request: &RunRequest,
    options: &Options,
    ledger: Result<Ledger, Error>,
    executor: &mut Recording,
) -> Governed {
    match ledger {
        Ok(mut ledger) => govern(request, options, &mut ledger, executor).unwrap(),
        Err(Error::Unrecordable(why)) => {
            govern_unrecorded(request, options, &why, executor).unwrap()
        }
        Err(other) => panic!("{other}"),
    }
}

const OUTCOMES: [Outcome; 5] = [
    Outcome::Allow,
    Outcome::AllowWithCheckpoint,
    Outcome::Redirect,
    Outcome::Ask,
    Outcome::Deny,
];
const MODES: [Mode; 2] = [Mode::Local, Mode::Hardened];
const LEDGERS: [LedgerKind; 3] = [
    LedgerKind::Unsigned,
    LedgerKind::Signed,
    LedgerKind::Journaled,
];

#[test]
fn every_outcome_in_every_mode_under_every_ledger() {
    for outcome in OUTCOMES {
        for mode in MODES {
            for kind in LEDGERS {
                let case = format!("{outcome:?} × {mode:?} × {kind:?}");
                one_case(outcome, mode, kind, &case);
            }
        }
    }
}

fn one_case(outcome: Outcome, mode: Mode, kind: LedgerKind, case: &str) {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(outcome);
    let options = world.options(mode, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = run(&request, &options, world.ledger(kind, mode), &mut executor);
    let receipt = &governed.receipt;
    // Hardened mode cannot be recorded without a key: nothing that would run may start.
    let unrecordable = mode == Mode::Hardened && kind == LedgerKind::Unsigned;
    let runs = matches!(
        outcome,
        Outcome::Allow | Outcome::AllowWithCheckpoint | Outcome::Redirect
    );
    // Nor can a snapshot be signed without one, and an unsigned one could never be rolled back.
    let unsignable =
        outcome == Outcome::AllowWithCheckpoint && kind == LedgerKind::Unsigned && !unrecordable;

    let expected = match outcome {
        _ if runs && unrecordable => Conclusion::Blocked(
            "hardened mode requires signing (--signing-key K --key-id ID): a run that cannot be recorded does not start".into(),
        ),
        _ if unsignable => Conclusion::Blocked(
            "the checkpoint this outcome requires could not be taken, so nothing ran: no signing key was given, and rollback trusts only a checkpoint signed with one".into(),
        ),
        Outcome::Deny => Conclusion::Refused(Outcome::Deny),
        Outcome::Ask => Conclusion::Refused(Outcome::Ask),
        _ => Conclusion::Ran(0),
    };
    assert_eq!(governed.conclusion, expected, "{case}");
    assert_eq!(
        governed.conclusion.exit_code(),
        match &expected {
            Conclusion::Refused(Outcome::Deny) => 1,
            Conclusion::Refused(_) => 2,
            Conclusion::Blocked(_) => 126,
            Conclusion::Ran(_) => 0,
        },
        "{case}"
    );
    assert_eq!(governed.fault, None, "{case}");

    // What ran: exactly one plan when the outcome runs and the run can be recorded, else none.
    let ran = runs && !unrecordable && !unsignable;
    assert_eq!(executor.seen.len(), usize::from(ran), "{case}");
    if let Some((plan, confinement)) = executor.seen.first() {
        assert_eq!(plan.commands[0].id, "cmd_1", "{case}");
        // Hardened: the envelope's write root is the workspace; nothing is granted by path and
        // the workspace the contract names needs no grant beyond it.
        let (expected_mode, write_roots) = match mode {
            Mode::Local => (cordon_sandbox::Mode::Local, Vec::new()),
            Mode::Hardened => (cordon_sandbox::Mode::Hardened, vec![world.ws()]),
        };
        assert_eq!(confinement.mode, expected_mode, "{case}");
        assert_eq!(confinement.envelope.write, write_roots, "{case}");
        assert!(confinement.write_paths.is_empty(), "{case}");
        assert!(confinement.grants.is_empty(), "{case}");
    }

    // The receipt.
    let status = if ran { "success" } else { "blocked" };
    assert_eq!(receipt["status"], status, "{case}");
    assert_eq!(receipt["execution_mode"], mode.as_str(), "{case}");
    assert_eq!(
        receipt["contract_sha256"], request.contract_sha256,
        "{case}"
    );
    if ran {
        assert_eq!(receipt["sandbox_profile_id"], mode.profile(), "{case}");
        assert_eq!(receipt["x-cordon"]["sandbox"]["commands"][0]["id"], "cmd_1");
        assert_eq!(receipt["completed_command_ids"], json!(["cmd_1"]), "{case}");
    } else if unsignable {
        // Blocked at the snapshot, after the pipeline began running: nothing completed.
        assert!(receipt.get("sandbox_profile_id").is_none(), "{case}");
        assert_eq!(receipt["completed_command_ids"], json!([]), "{case}");
        assert_eq!(receipt["failed_command_id"], "cmd_1", "{case}");
    } else {
        assert!(receipt.get("sandbox_profile_id").is_none(), "{case}");
        assert!(receipt.get("completed_command_ids").is_none(), "{case}");
    }
    let signed = kind != LedgerKind::Unsigned && !unrecordable;
    match signed {
        true => {
            cordon_journal::verify_receipt(receipt, KEY_ID, &world.public_key())
                .unwrap_or_else(|e| panic!("{case}: {e}"));
        }
        false => assert!(receipt.get("signature").is_none(), "{case}"),
    }

    // The snapshot, for the outcome that asks for one and runs.
    let snapshot = &receipt["x-cordon"]["checkpoint"];
    if outcome == Outcome::AllowWithCheckpoint && ran {
        assert_eq!(snapshot["requested"], true, "{case}");
        let id = snapshot["id"].as_str().unwrap();
        let ws = world.ws().display().to_string();
        assert!(heard
            .lines()
            .contains(&format!("cordon: checkpoint {id} taken (2 entries) of {ws}; undo with `cordon rollback {id}`")), "{case}: {:?}", heard.lines());
        // Signed with the ledger's key, and bound into the receipt by its hash.
        let taken = &snapshot["taken"];
        assert_eq!(taken["signed_by"], KEY_ID, "{case}");
        assert_eq!(
            taken["manifest_sha256"].as_str().map(str::len),
            Some(64),
            "{case}"
        );
        assert_eq!(taken["scopes"], json!([ws]), "{case}");
        assert_eq!(taken["workspace"], json!(ws), "{case}");
        assert_eq!(taken["outside_workspace"], json!([]), "{case}");
    } else if outcome != Outcome::AllowWithCheckpoint {
        assert!(snapshot.is_null(), "{case}: {snapshot}");
    }

    // The journal: the decision record always, the receipt of a run, a tree head after each.
    assert_eq!(governed.journaled, kind == LedgerKind::Journaled, "{case}");
    if kind == LedgerKind::Journaled {
        let entries = world.entries();
        assert_eq!(entries.len(), if ran { 2 } else { 1 }, "{case}");
        assert_eq!(entries[0]["record_version"], "cordon.decision.v1", "{case}");
        assert_eq!(entries[0]["outcome"], outcome.as_str(), "{case}");
        assert_eq!(
            entries[0]["reason_codes"],
            json!([csc_code(outcome)]),
            "{case}"
        );
        let profile = runs.then(|| mode.profile());
        assert_eq!(entries[0]["sandbox_profile"], json!(profile), "{case}");
        let link = &receipt["decision_record"];
        assert_eq!(link["record_id"], entries[0]["record_id"], "{case}");
        if ran {
            assert_eq!(&entries[1], receipt, "{case}");
        }
        assert_eq!(world.tree_heads(), 1, "{case}");
        let verdict = world.verify_journal();
        assert_eq!(
            verdict.verdict,
            cordon_journal::Outcome::Valid,
            "{case}: {verdict:?}"
        );
    } else {
        assert!(!world.journal().exists(), "{case}");
    }
}

/// The code a decision without an engine code carries: CSC's for its outcome.
fn csc_code(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ask => "APPROVAL_REQUIRED",
        Outcome::Deny => "COMMAND_NOT_ALLOWED",
        _ => "ALLOW",
    }
}

#[test]
fn a_refused_approval_runs_nothing_and_says_why_in_the_record() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Ask);
    let mut options = world.options(Mode::Local, &heard);
    let forged = world.root().join("forged-approval.json");
    std::fs::write(&forged, "{\"not\": \"an approval\"}").unwrap();
    options.approval.files = vec![forged.clone()];
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);

    let Conclusion::Blocked(why) = &governed.conclusion else {
        panic!("{:?}", governed.conclusion);
    };
    assert!(why.starts_with(&format!("{}: ", forged.display())), "{why}");
    assert_eq!(governed.conclusion.exit_code(), 126);
    assert!(executor.seen.is_empty(), "an unapproved command ran");
    assert_eq!(governed.receipt["status"], "blocked");
    assert_eq!(governed.receipt["error"], json!(why));
    assert_eq!(governed.receipt["x-cordon"]["approval"]["state"], "refused");
    let entries = world.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["details"]["approval"]["state"], "refused");
    assert_eq!(entries[0]["sandbox_profile"], Value::Null);
    assert_eq!(heard.lines(), [format!("cordon: blocked: {why}")]);
}

#[test]
fn a_valid_approval_lets_an_asked_command_run_once() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Ask);
    // The approver's key is trusted by the home; the approval is bound to this contract.
    let signing =
        cordon_journal::keys::parse_private_key(&std::fs::read(world.key()).unwrap()).unwrap();
    let mut ring = cordon_approval::ApproverRing::default();
    ring.insert("alice", signing.verifying_key()).unwrap();
    std::fs::create_dir_all(world.root().join("home")).unwrap();
    std::fs::write(world.desk().approvers, ring.to_text()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let grant = cordon_approval::Grant {
        identity: "alice".into(),
        method: cordon_core::approval::ApprovalMethod::Cli,
        contract_sha256: request.contract_sha256.clone(),
        scope: cordon_approval::Scope::Once,
        approved_at: now,
        expires_at: now + time::Duration::minutes(5),
        request_id: None,
        reason: None,
    };
    let signed = cordon_approval::SignedApproval::sign(&grant, &signing).unwrap();
    let file = world.root().join("approval.json");
    std::fs::write(&file, signed.to_json().unwrap()).unwrap();
    let mut options = world.options(Mode::Local, &heard);
    options.approval.files = vec![file];

    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(executor.seen.len(), 1);
    assert_eq!(
        governed.receipt["x-cordon"]["approval"]["state"],
        "approved"
    );
    assert_eq!(
        governed.receipt["x-cordon"]["approval"]["approvals"][0]["approver"],
        "alice"
    );
    assert_eq!(world.entries()[0]["sandbox_profile"], "cordon-local-v1");
    assert_eq!(heard.lines(), ["cordon: approved by alice"]);

    // Single use: the same approval cannot authorize a second execution.
    let mut again = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut again);
    assert!(matches!(governed.conclusion, Conclusion::Blocked(_)));
    assert!(again.seen.is_empty(), "a used approval ran a command again");
}

#[test]
fn a_snapshot_that_cannot_be_taken_runs_nothing() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::AllowWithCheckpoint);
    let mut options = world.options(Mode::Local, &heard);
    // No home: nowhere to keep the snapshot.
    options.snapshots = None;
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);

    let why = "the checkpoint this outcome requires could not be taken, so nothing ran: no cordon home (set CORDON_HOME or HOME)";
    assert_eq!(governed.conclusion, Conclusion::Blocked(why.into()));
    assert!(
        executor.seen.is_empty(),
        "a command ran without its snapshot"
    );
    let receipt = &governed.receipt;
    assert_eq!(receipt["status"], "blocked");
    assert_eq!(receipt["exit_code"], 126);
    assert_eq!(receipt["failed_command_id"], "cmd_1");
    assert_eq!(receipt["error"], why);
    assert_eq!(receipt["x-cordon"]["sandbox"]["commands"], json!([]));
    assert!(receipt["x-cordon"]["checkpoint"]["id"].is_null());
    // The blocked run is journaled like any run: the record, then the receipt.
    assert_eq!(world.entries().len(), 2);
    assert_eq!(heard.lines(), [format!("cordon: blocked: {why}")]);

    // A session that does not exist is refused too, before anything is copied.
    let mut options = world.options(Mode::Local, &heard);
    options.session = Some("x-no-such-session".into());
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = run(&request, &options, Ok(Ledger::Unsigned), &mut executor);
    let Conclusion::Blocked(why) = &governed.conclusion else {
        panic!("{:?}", governed.conclusion);
    };
    assert!(why.contains("CORDON_SESSION: "), "{why}");
    assert!(executor.seen.is_empty());
}

#[test]
fn snapshots_and_trash_items_are_signed_with_the_ledgers_key_and_scopes_outside_are_announced() {
    let world = World::new();
    let heard = Heard::default();
    let keys = cordon_journal::KeyRing::single(KEY_ID, world.public_key());
    // The workspace is elsewhere: the scope the contract writes lies outside it.
    let elsewhere = world.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let mut options = world.options(Mode::Local, &heard);
    options.workspace = Some(elsewhere.clone());
    let request = world.request(Outcome::AllowWithCheckpoint);
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Signed, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    let taken = &governed.receipt["x-cordon"]["checkpoint"]["taken"];
    let id = taken["id"].as_str().unwrap();
    let ws = world.ws().display().to_string();
    assert_eq!(taken["outside_workspace"], json!([ws]));
    assert!(
        heard.lines().contains(&format!(
            "cordon: warning: checkpoint {id} covers {ws}, outside the workspace {}; `cordon rollback {id}` will touch it only with --yes",
            elsewhere.display()
        )),
        "{:?}",
        heard.lines()
    );
    // The manifest verifies with the ledger's key, and a rollback of it asks for consent.
    let store = cordon_checkpoint::Store::open(&world.places().checkpoints).unwrap();
    let verified = cordon_checkpoint::rollback::verify(&store, id, &keys).unwrap();
    assert_eq!(verified.signed_by(), Some(KEY_ID));
    assert_eq!(verified.manifest_sha256(), taken["manifest_sha256"]);
    assert_eq!(verified.outside_workspace(), vec![world.ws().as_path()]);

    // A plain `rm` under the snapshot: its trash item is signed with the same key.
    let mut request = world.request(Outcome::AllowWithCheckpoint);
    request.contract.commands[0].exec = Some(cordon_core::contract::Exec {
        argv: vec!["rm".into(), format!("{ws}/file.txt")],
    });
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Signed, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert!(executor.seen.is_empty(), "a plain rm is cordon's own move");
    let trash_id = governed.receipt["x-cordon"]["sandbox"]["commands"][0]["soft_delete"]["trash"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let items = cordon_checkpoint::trash::list_verified(&world.places().trash, &keys).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].manifest.id, trash_id);
    assert_eq!(items[0].untrusted, None);
}

#[test]
fn a_sandbox_that_refuses_blocks_with_its_reason() {
    for mode in MODES {
        let world = World::new();
        let heard = Heard::default();
        let request = world.request(Outcome::Allow);
        let options = world.options(mode, &heard);
        let why = "sandbox: Landlock is not available";
        let mut executor = Recording::new(Answer::Refuse(why.into()));
        let ledger = world.ledger(LedgerKind::Signed, mode);
        let governed = run(&request, &options, ledger, &mut executor);
        assert_eq!(
            governed.conclusion,
            Conclusion::Blocked(why.into()),
            "{mode:?}"
        );
        assert_eq!(governed.conclusion.exit_code(), 126);
        assert_eq!(governed.receipt["status"], "blocked");
        assert_eq!(governed.receipt["failed_command_id"], "cmd_1");
        assert_eq!(governed.receipt["error"], why);
        assert_eq!(heard.lines(), [format!("cordon: blocked: {why}")]);

        // The sandbox started the command and then refused it (a report that says blocked).
        let heard = Heard::default();
        let options = world.options(mode, &heard);
        let mut executor = Recording::new(Answer::Blocked("seccomp: not enforced".into()));
        let ledger = world.ledger(LedgerKind::Signed, mode);
        let governed = run(&request, &options, ledger, &mut executor);
        assert_eq!(governed.conclusion, Conclusion::Ran(126));
        assert_eq!(governed.receipt["status"], "blocked");
        assert_eq!(governed.receipt["error"], "seccomp: not enforced");
        assert_eq!(heard.lines(), ["cordon: blocked: seccomp: not enforced"]);
    }
}

#[test]
fn a_failed_command_ends_the_run_with_its_own_exit_code() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let options = world.options(Mode::Local, &heard);
    let mut executor = Recording::new(Answer::Exit(3));
    let governed = run(&request, &options, Ok(Ledger::Unsigned), &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(3));
    assert_eq!(governed.conclusion.exit_code(), 3);
    assert_eq!(governed.receipt["status"], "failed");
    assert_eq!(governed.receipt["error"], "command cmd_1 exited with 3");
    assert_eq!(governed.receipt["completed_command_ids"], json!([]));
}

#[test]
fn a_journal_that_cannot_be_written_stops_a_run_before_it_starts() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let options = world.options(Mode::Local, &heard);
    let mut ledger = world.ledger(LedgerKind::Journaled, Mode::Local).unwrap();
    World::break_journal(&world.journal());
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = govern(&request, &options, &mut ledger, &mut executor).unwrap();

    let Conclusion::Blocked(why) = &governed.conclusion else {
        panic!("{:?}", governed.conclusion);
    };
    assert!(
        why.starts_with("the decision record cannot be appended to the journal, so the run cannot be recorded: "),
        "{why}"
    );
    assert!(executor.seen.is_empty(), "an unrecorded command ran");
    // The caller still gets a receipt, signed on its own.
    assert_eq!(governed.receipt["status"], "blocked");
    assert!(!governed.journaled);
    cordon_journal::verify_receipt(&governed.receipt, KEY_ID, &world.public_key()).unwrap();
    assert!(world.entries().is_empty());
}

#[test]
fn a_refusal_the_journal_cannot_take_keeps_its_own_answer_and_reports_the_fault() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Deny);
    let options = world.options(Mode::Local, &heard);
    let mut ledger = world.ledger(LedgerKind::Journaled, Mode::Local).unwrap();
    World::break_journal(&world.journal());
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = govern(&request, &options, &mut ledger, &mut executor).unwrap();
    assert_eq!(governed.conclusion, Conclusion::Refused(Outcome::Deny));
    assert!(!governed.journaled);
    assert!(heard.lines()[0].starts_with("cordon: this decision is not recorded: "));
    // The tree head cannot be written either: the caller fails loudly after the receipt.
    assert!(governed
        .fault
        .as_deref()
        .is_some_and(|f| f.starts_with("cannot write the journal checkpoint: ")));
}

#[test]
fn a_receipt_the_journal_refuses_after_the_run_is_handed_back_signed_with_a_fault() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let options = world.options(Mode::Local, &heard);
    let mut ledger = world.ledger(LedgerKind::Journaled, Mode::Local).unwrap();
    let journal = world.journal();
    let mut executor = Recording::new(Answer::Exit(0));
    executor.during = Some(Box::new(move || World::break_journal(&journal)));
    let governed = govern(&request, &options, &mut ledger, &mut executor).unwrap();

    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(executor.seen.len(), 1);
    assert!(!governed.journaled);
    assert!(
        governed.fault.as_deref().is_some_and(
            |f| f.starts_with("the run's receipt could not be appended to the journal: ")
        )
    );
    // Signed on its own, and still naming the decision record that authorised it.
    cordon_journal::verify_receipt(&governed.receipt, KEY_ID, &world.public_key()).unwrap();
    assert_eq!(
        governed.receipt["decision_record"]["record_id"],
        world.entries()[0]["record_id"]
    );
}

#[test]
fn a_key_or_journal_inside_the_workspace_is_closed_by_the_envelope() {
    let world = World::new();
    let heard = Heard::default();
    // The key and the journal inside the workspace every hardened command may write.
    let keys = world.ws().join("keys");
    cordon_journal::keys::generate(&keys, Some(KEY_ID)).unwrap();
    let key = keys.join(format!("{KEY_ID}.pem"));
    let journal = world.ws().join("journal");
    let request = world.request(Outcome::Allow);
    let options = world.options(Mode::Hardened, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&key, KEY_ID)), Some(&journal), Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    let (_, confinement) = &executor.seen[0];
    let never = &confinement.envelope.never;
    assert!(never.contains(&key), "{never:?}");
    assert!(never.contains(&journal), "{never:?}");
    // Control: a key kept elsewhere is closed too, but nothing in the workspace is.
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&world.key(), KEY_ID)), None, Mode::Hardened);
    run(&request, &options, ledger, &mut executor);
    let never = &executor.seen[0].1.envelope.never;
    assert!(never.contains(&world.key()), "{never:?}");
    assert!(
        !never.iter().any(|n| n.starts_with(world.ws())),
        "{never:?}"
    );
}

#[test]
fn a_kernel_that_cannot_confine_blocks_a_hardened_run_and_names_local_mode() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let mut options = world.options(Mode::Hardened, &heard);
    options.kernel = Arc::new(Kernel(Some(
        "this kernel offers Landlock ABI 2, below the 3 it needs",
    )));
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&world.key(), KEY_ID)), None, Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(
        governed.conclusion,
        Conclusion::Blocked(
            "hardened mode cannot run on this kernel: this kernel offers Landlock ABI 2, below the 3 it needs; local mode runs without kernel enforcement when it is asked for by name (--mode local), and its receipt says so".into()
        )
    );
    assert!(executor.seen.is_empty());
    assert_eq!(governed.receipt["status"], "blocked");
    // Control: the same kernel runs local mode, named, and the receipt says it was named.
    let options = Options {
        mode: Mode::Local,
        ..options
    };
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&world.key(), KEY_ID)), None, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(
        governed.receipt["x-cordon"]["mode"],
        json!({"mode": "local", "chosen": "named"})
    );
}

#[test]
fn a_workspace_inside_the_journal_is_blocked_with_the_envelopes_sentence() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let mut options = world.options(Mode::Hardened, &heard);
    let journal = world.root().join("journal");
    let inside = journal.join("ws");
    std::fs::create_dir_all(&inside).unwrap();
    if let Some(source) = options.envelope.as_mut() {
        source.workspace = inside.clone();
    }
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&world.key(), KEY_ID)), Some(&journal), Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    let Conclusion::Blocked(why) = &governed.conclusion else {
        panic!("{:?}", governed.conclusion);
    };
    assert!(
        why.starts_with("the policy's envelope cannot be built: ")
            && why.contains("is never granted"),
        "{why}"
    );
    assert!(executor.seen.is_empty());
    assert_eq!(governed.receipt["status"], "blocked");
    // A hardened run with no envelope to build is blocked too, and says so.
    options.envelope = None;
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = Ledger::open(Some((&world.key(), KEY_ID)), None, Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(
        governed.conclusion,
        Conclusion::Blocked(
            "hardened mode needs the policy's envelope, and the caller gave none".into()
        )
    );
}

#[test]
fn a_journal_needs_a_signer_and_hardened_mode_needs_a_key() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Ledger::open(None, Some(dir.path()), Mode::Local).unwrap_err(),
        Error::Usage(format!(
            "{}: a journal needs a signing key (--signing-key K --key-id ID)",
            dir.path().display()
        ))
    );
    assert!(matches!(
        Ledger::open(None, None, Mode::Hardened),
        Err(Error::Unrecordable(_))
    ));
    assert!(matches!(
        Ledger::open(None, None, Mode::Local),
        Ok(Ledger::Unsigned)
    ));
}

#[test]
fn a_hardened_run_handed_an_unsigned_ledger_is_blocked_all_the_same() {
    let world = World::new();
    let heard = Heard::default();
    let request = world.request(Outcome::Allow);
    let options = world.options(Mode::Hardened, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = govern(&request, &options, &mut Ledger::Unsigned, &mut executor).unwrap();
    assert_eq!(
        governed.conclusion,
        Conclusion::Blocked(cordon_governor::ledger::HARDENED_NEEDS_SIGNING.into())
    );
    assert!(
        executor.seen.is_empty(),
        "an unrecorded hardened run started"
    );
    // The positive control: the same request in local mode runs.
    let options = world.options(Mode::Local, &heard);
    let governed = govern(&request, &options, &mut Ledger::Unsigned, &mut executor).unwrap();
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(executor.seen.len(), 1);
}

/// `world.request(Allow)` with its command declaring `network: allowlisted`, and `allowlist` as
/// the request's list.
fn allowlisted_request(world: &World, allowlist: Option<HostList>) -> RunRequest {
    let plain = world.request(Outcome::Allow);
    let mut contract = plain.contract.clone();
    contract.commands[0].network = NetworkMode::Allowlisted;
    let mut request = RunRequest::new(contract, plain.decision, None);
    request.allowlist = allowlist;
    request
}

#[test]
fn a_hardened_allowlisted_command_runs_behind_the_proxy_and_the_record_names_the_list() {
    let world = World::new();
    let heard = Heard::default();
    let list = HostList::parse(["allowed.test:8443"]).unwrap();
    let request = allowlisted_request(&world, Some(list.clone()));
    let mut options = world.options(Mode::Hardened, &heard);
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    options.resolver_overrides = [("allowed.test".to_string(), vec![loopback])].into();
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);

    assert_eq!(
        governed.conclusion,
        Conclusion::Ran(0),
        "{:?}",
        heard.lines()
    );
    let (_, confinement) = &executor.seen[0];
    let mut expected = Egress::new(list);
    expected = expected.resolve("allowed.test", loopback).unwrap();
    assert_eq!(confinement.network, Network::Proxied(expected));
    let named = json!({
        "allowlist": ["allowed.test:8443"],
        "commands": ["cmd_1"],
        "resolver_overrides": ["allowed.test=127.0.0.1"],
    });
    let entries = world.entries();
    assert_eq!(
        entries[0]["details"]["egress"], named,
        "the decision record"
    );
    assert_eq!(governed.receipt["x-cordon"]["egress"], named, "the receipt");

    // The control: the same request in local mode enforces no list, and says none.
    let options = world.options(Mode::Local, &heard);
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(executor.seen[1].1.network, Network::Allow);
    assert_eq!(governed.receipt["x-cordon"]["egress"], Value::Null);
    assert_eq!(world.entries()[2]["details"]["egress"], Value::Null);
}

#[test]
fn an_allowlisted_command_with_no_list_in_force_is_blocked() {
    let world = World::new();
    let heard = Heard::default();
    let request = allowlisted_request(&world, None);
    let options = world.options(Mode::Hardened, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Signed, Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    let why =
        "command cmd_1: it declares network: allowlisted, and no host list is in force for it";
    assert_eq!(governed.conclusion, Conclusion::Blocked(why.into()));
    assert!(executor.seen.is_empty(), "a command ran without its list");
    assert_eq!(governed.receipt["error"], why);
    // The control: an empty list is a list (it refuses every connection), and the command runs.
    let request = allowlisted_request(&world, Some(HostList::default()));
    let ledger = world.ledger(LedgerKind::Signed, Mode::Hardened);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(
        executor.seen[0].1.network,
        Network::Proxied(Egress::new(HostList::default()))
    );
}

#[test]
fn a_host_grant_makes_every_network_command_allowlisted_and_changes_the_contract_hash() {
    let world = World::new();
    let plain = world.request(Outcome::Allow);
    let mut contract = plain.contract.clone();
    let mut second = contract.commands[0].clone();
    second.id = "cmd_2".into();
    contract.commands[0].network = NetworkMode::Full;
    contract.commands.push(second);
    let request = RunRequest::new(contract, plain.decision, None);
    let list = HostList::parse(["registry.npmjs.org"]).unwrap();

    let granted = request
        .clone()
        .with_network(&NetworkGrant::Hosts(list.clone()));
    let modes: Vec<NetworkMode> = granted
        .contract
        .commands
        .iter()
        .map(|c| c.network)
        .collect();
    assert_eq!(modes, [NetworkMode::Allowlisted, NetworkMode::Deny]);
    assert_eq!(granted.allowlist, Some(list));
    assert_ne!(granted.contract_sha256, request.contract_sha256);
    assert_eq!(granted.contract_sha256, granted.contract.sha256());
    for unchanged in [NetworkGrant::Deny, NetworkGrant::Full] {
        let same = request.clone().with_network(&unchanged);
        assert_eq!(same.contract, request.contract);
        assert_eq!(same.allowlist, None);
    }
}

#[test]
fn a_loopback_grant_makes_every_network_command_deny_for_the_sandboxs_own_loopback() {
    let world = World::new();
    let plain = world.request(Outcome::Allow);
    let mut contract = plain.contract.clone();
    let mut second = contract.commands[0].clone();
    second.id = "cmd_2".into();
    contract.commands[0].network = NetworkMode::Full;
    contract.commands.push(second);
    let request = RunRequest::new(contract, plain.decision, None);

    let granted = request.clone().with_network(&NetworkGrant::Loopback);
    let modes: Vec<NetworkMode> = granted
        .contract
        .commands
        .iter()
        .map(|c| c.network)
        .collect();
    // What the kernel enforces is no network: a hardened run with none gets a loopback of its
    // own, so the host's loopback services stay out of reach. The host's network (`Full`) would
    // reach them.
    assert_eq!(modes, [NetworkMode::Deny, NetworkMode::Deny]);
    assert_eq!(granted.allowlist, None);
    assert_ne!(granted.contract_sha256, request.contract_sha256);
    assert_eq!(granted.contract_sha256, granted.contract.sha256());
}

/// A CSC profile whose `allowed_egress_hosts` are `hosts`.
fn csc_profile(hosts: &[&str]) -> cordon_core::policy::LoadedPolicy {
    let profile = json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "egress-profile",
        "allow_commands": ["/usr/bin/touch"],
        "allowed_effect_types": ["transform_local"],
        "allowed_risk_classes": ["low"],
        "max_timeout_sec": 60,
        "network": "allowlisted",
        "allow_secret_refs": false,
        "allowed_cwd_prefixes": ["/"],
        "allowed_read_prefixes": ["/"],
        "allowed_egress_hosts": hosts,
    });
    cordon_policy::load_bytes(profile.to_string().as_bytes()).unwrap()
}

#[test]
fn a_csc_profiles_egress_hosts_become_the_list_of_its_allowlisted_commands() {
    let world = World::new();
    let allowlisted = allowlisted_request(&world, None).contract;
    let (request, _) =
        judge_contract(allowlisted.clone(), &csc_profile(&["pypi.test:8443"])).unwrap();
    assert_eq!(
        request.allowlist,
        Some(HostList::parse(["pypi.test:8443"]).unwrap())
    );

    let bad = csc_profile(&["*"]);
    let error = judge_contract(allowlisted, &bad).unwrap_err();
    assert_eq!(
        error,
        Error::InvalidInput(
            "allowed_egress_hosts: host \"*\": `*` alone would allow every host; use network: full instead".into()
        )
    );
    // The control: a contract that asks for no list is judged under the same profile.
    let denied = world.request(Outcome::Allow).contract;
    let (request, _) = judge_contract(denied, &bad).unwrap();
    assert_eq!(request.allowlist, None);
}

impl World {
    /// Two commands (`cmd_1`, `cmd_2`); the decision grants `GH_TOKEN` (the secret `github`) to
    /// `cmd_1` only.
    fn granted_request(&self, outcome: Outcome, redact: bool) -> RunRequest {
        let one = self.request(outcome);
        let mut contract = one.contract.clone();
        let mut second = contract.commands[0].clone();
        second.id = "cmd_2".into();
        contract.commands.push(second);
        let grants = vec![cordon_policy::grants::CommandGrants {
            command_id: "cmd_1".into(),
            grants: vec![cordon_policy::grants::SecretGrant {
                env: "GH_TOKEN".into(),
                secret: "github".into(),
                granted_by: "rule test".into(),
            }],
        }];
        RunRequest::new(contract, one.decision, None).with_secrets(cordon_governor::SecretGrants {
            commands: grants,
            redact,
        })
    }

    /// Stores the secret `github`: the token itself, or a reference.
    fn store_github(&self, reference: Option<&str>) {
        use cordon_secrets::{Reference, SecretName, SecretValue, StoredSecret};
        let secret = match reference {
            Some(text) => StoredSecret::Reference(Reference::parse(text).unwrap()),
            None => StoredSecret::Value(SecretValue::new("github", TOKEN.into()).unwrap()),
        };
        self.secrets()
            .store
            .set(&SecretName::new("github").unwrap(), secret)
            .unwrap();
    }

    fn journal_bytes(&self) -> String {
        std::fs::read_to_string(self.journal().join("entries.jsonl")).unwrap_or_default()
    }
}

fn env_of(plan: &Plan, name: &str) -> Option<String> {
    plan.commands[0]
        .env
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.to_string_lossy().into_owned())
}

#[test]
fn a_granted_secret_reaches_its_command_only_and_every_record_is_redacted() {
    for mode in MODES {
        let world = World::new();
        world.store_github(None);
        let heard = Heard::default();
        let request = world.granted_request(Outcome::Allow, true);
        let options = world.options(mode, &heard);
        let mut executor = Recording::new(Answer::Exit(0));
        let ledger = world.ledger(LedgerKind::Journaled, mode);
        let governed = run(&request, &options, ledger, &mut executor);
        assert_eq!(governed.conclusion, Conclusion::Ran(0), "{mode:?}");
        assert!(executor.filter.is_some(), "no output filter was set");
        let (first, second) = (&executor.seen[0].0, &executor.seen[1].0);
        assert_eq!(env_of(first, "GH_TOKEN").as_deref(), Some(TOKEN));
        assert_eq!(
            env_of(second, "GH_TOKEN"),
            None,
            "cmd_2 received cmd_1's secret"
        );

        let receipt = &governed.receipt;
        let text = receipt.to_string();
        assert!(!text.contains(TOKEN), "{mode:?}: {text}");
        let cmd_1 = &receipt["x-cordon"]["sandbox"]["commands"][0];
        assert_eq!(
            cmd_1["processes"]["processes"][0]["argv"][2],
            format!("Authorization: {MARK}")
        );
        assert_eq!(
            cmd_1["stdout"]["sha256"],
            cordon_core::hash::sha256_hex(format!("token: {MARK}\n").as_bytes())
        );
        assert_eq!(
            receipt["x-cordon"]["secrets"],
            json!({
                "grants": [{"command_id": "cmd_1", "env": "GH_TOKEN", "secret": "github",
                            "granted_by": "rule test", "injected": true}],
                "redaction": {"state": "on", "secrets": 1, "output": 1, "records": 1},
            })
        );
        let journal = world.journal_bytes();
        assert!(
            !journal.contains(TOKEN),
            "{mode:?}: the journal holds the value"
        );
        let decision: Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
        assert_eq!(
            decision["details"]["secrets"]["grants"][0]["granted_by"],
            "rule test"
        );
    }
}

/// The positive control of the test above: with redaction off, the same fake leak reaches the
/// receipt and the journal, and the test sees it.
#[test]
fn with_redaction_off_the_same_leak_is_seen() {
    let world = World::new();
    world.store_github(None);
    let heard = Heard::default();
    let request = world.granted_request(Outcome::Allow, false);
    let options = world.options(Mode::Local, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert!(executor.filter.is_none());
    assert!(governed.receipt.to_string().contains(TOKEN));
    assert!(world.journal_bytes().contains(TOKEN));
    assert_eq!(
        governed.receipt["x-cordon"]["secrets"]["redaction"]["state"],
        "off"
    );
}

#[test]
fn a_secret_that_does_not_resolve_blocks_the_run_before_anything_starts() {
    let world = World::new();
    world.store_github(Some("env:CORDON_TEST_MISSING"));
    let heard = Heard::default();
    let request = world.granted_request(Outcome::Allow, true);
    let options = world.options(Mode::Local, &heard);
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    let why = "command cmd_1: the secret `github` could not be resolved: cordon's environment has no `CORDON_TEST_MISSING`";
    assert_eq!(governed.conclusion, Conclusion::Blocked(why.into()));
    assert_eq!(governed.conclusion.exit_code(), 126);
    assert!(executor.seen.is_empty(), "a command started");
    assert_eq!(heard.lines(), [format!("cordon: blocked: {why}")]);
    assert_eq!(governed.receipt["status"], "blocked");
    assert_eq!(governed.receipt["failed_command_id"], "cmd_1");
    assert_eq!(governed.receipt["error"], why);
    assert!(governed.journaled);

    // Positive control: a reference that resolves runs both commands.
    world.store_github(Some("env:CORDON_TEST_TOKEN"));
    let mut executor = Recording::new(Answer::Exit(0));
    let ledger = world.ledger(LedgerKind::Journaled, Mode::Local);
    let governed = run(&request, &options, ledger, &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert_eq!(executor.seen.len(), 2);

    // Without a home there is no store: a granted run is blocked, saying so.
    let options = Options {
        secrets: None,
        ..world.options(Mode::Local, &Heard::default())
    };
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = run(&request, &options, Ok(Ledger::Unsigned), &mut executor);
    assert!(
        matches!(&governed.conclusion, Conclusion::Blocked(why) if why.contains("no cordon home")),
        "{:?}",
        governed.conclusion
    );
    assert!(executor.seen.is_empty());
}

/// A `cmd:` reference runs a program with the user's authority: it must not run for a request
/// that is denied or still waits for a person, only once the decision lets the run start.
#[test]
fn a_reference_is_resolved_only_after_the_decision_and_any_approval() {
    let world = World::new();
    let marker = world.root().join("resolved");
    world.store_github(Some(&format!(
        "cmd:sh -c 'touch {}; echo ghp_from-a-program-123'",
        marker.display()
    )));
    for outcome in [Outcome::Deny, Outcome::Ask] {
        let request = world.granted_request(outcome, true);
        let options = world.options(Mode::Local, &Heard::default());
        let mut executor = Recording::new(Answer::Exit(0));
        let governed = run(&request, &options, Ok(Ledger::Unsigned), &mut executor);
        assert!(
            matches!(governed.conclusion, Conclusion::Refused(_)),
            "{outcome:?}"
        );
        assert!(
            !marker.exists(),
            "{outcome:?}: the reference ran before the gate"
        );
    }
    // Positive control: allowed, the reference runs (once) and the run starts.
    let request = world.granted_request(Outcome::Allow, true);
    let options = world.options(Mode::Local, &Heard::default());
    let mut executor = Recording::new(Answer::Exit(0));
    let governed = run(&request, &options, Ok(Ledger::Unsigned), &mut executor);
    assert_eq!(governed.conclusion, Conclusion::Ran(0));
    assert!(marker.exists());
    assert_eq!(
        env_of(&executor.seen[0].0, "GH_TOKEN").as_deref(),
        Some("ghp_from-a-program-123")
    );
}
