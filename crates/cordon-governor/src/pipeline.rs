//! `govern`: the governed-execution pipeline, one step per call, each returning a type.
//!
//! resolve approval → record decision → refuse? → resolve secrets → snapshot → plan confinement →
//! execute → build receipt → record receipt → seal.
//!
//! Every decision is evidence, recorded before anything runs; if it cannot be, nothing runs. A
//! refusal starts nothing and gets a blocked receipt for the caller (the journal's evidence of it
//! is its decision record). A run that cannot start as planned (a kernel that cannot enforce
//! hardened mode, an envelope that cannot be built, a path whose real target the policy denies, a
//! snapshot that failed, a mode the command cannot run in, a sandbox that refuses) is blocked,
//! with exit 126 and one sentence; the commands before it keep their entries. So is a run whose
//! granted secrets do not all resolve: they are resolved after the decision and any approval, all
//! of them before the first command starts (crate::secrets).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use cordon_core::receipt::{ExecutionReceipt, ReceiptStatus};
use cordon_core::Outcome;
use cordon_journal::record::Appended;
use cordon_sandbox::{CommandReport, CommandStatus};
use serde_json::Value;
use time::OffsetDateTime;

use crate::analysis::Probe;
use crate::approval::{self, ApprovalDesk, ApprovalOptions, Resolution};
use crate::confinement::{self, ResolverOverrides};
use crate::envelope::{EnvelopeInForce, EnvelopeSource};
use crate::error::Result;
use crate::executor::Executor;
use crate::extension::{CommandEntry, CordonExtension, EgressNote, SandboxNote};
use crate::ledger::{
    decision_of, DecisionRecorded, Ledger, ReceiptRecorded, RecordSubject, HARDENED_NEEDS_SIGNING,
};
use crate::mode::{Mode, ModeChoice, ModeNote};
use crate::notice::{Notice, Notices};
use crate::receipt;
use crate::request::RunRequest;
use crate::secrets::{self, RunSecrets, SecretsPlace};
use crate::snapshot::{self, DeleteScope, Snapshot, SnapshotPlaces, Taking};
use crate::status;

/// How to govern a request.
#[derive(Clone)]
pub struct Options {
    pub mode: Mode,
    /// Whether the mode was named by the caller or is the default (the receipt says which).
    pub mode_choice: ModeChoice,
    /// What a hardened run's envelope is made from; built once per run (a hardened run without
    /// it is blocked).
    pub envelope: Option<EnvelopeSource>,
    /// Whether this kernel can confine a hardened run ([`SystemProbe`] in the binary).
    pub kernel: Arc<dyn Probe + Send + Sync>,
    pub approval: ApprovalOptions,
    /// The home's approval desk; `None` without a home (an ask can then not be approved).
    pub desk: Option<ApprovalDesk>,
    /// Where snapshots go; `None` without a home (a snapshot can then not be taken).
    pub snapshots: Option<SnapshotPlaces>,
    /// The cordon session the run belongs to (snapshots and soft deletes are attributed to it).
    pub session: Option<String>,
    /// The workspace the command runs for (what the policy calls `{workspace}`): a snapshot
    /// scope that resolves outside it is announced, and rolling it back needs consent.
    pub workspace: Option<PathBuf>,
    /// Names the egress proxy resolves itself, for commands with a host list (hardened mode).
    pub resolver_overrides: ResolverOverrides,
    /// The home's secret store; `None` without a home (a run granted a secret is then blocked).
    pub secrets: Option<SecretsPlace>,
    pub notices: Notices,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mode", &self.mode)
            .field("mode_choice", &self.mode_choice)
            .field("envelope", &self.envelope)
            .field("approval", &self.approval)
            .field("session", &self.session)
            .field("workspace", &self.workspace)
            .field("resolver_overrides", &self.resolver_overrides)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// What the receipt says about the mode.
    pub fn mode_note(&self) -> ModeNote {
        ModeNote {
            mode: self.mode,
            chosen: self.mode_choice,
        }
    }
}

/// The `x-cordon` every record and receipt of `request` carries, with the mode it was governed in.
fn extension_of(request: &RunRequest, options: &Options) -> CordonExtension {
    let mut extension = CordonExtension::of(request);
    extension.mode = Some(options.mode_note());
    extension
}

/// How a governed request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conclusion {
    /// The decision refused it (deny, or an ask nobody answered): nothing ran.
    Refused(Outcome),
    /// Blocked before or while starting (an approval refused, a run that cannot be recorded or
    /// confined): nothing more ran. One sentence.
    Blocked(String),
    /// The commands ran; the last one's exit code (negative when it was killed by a signal).
    Ran(i32),
}

impl Conclusion {
    /// The exit status the caller ends with (DESIGN.md, "CLI surface").
    pub fn exit_code(&self) -> u8 {
        match self {
            Conclusion::Refused(Outcome::Ask) => status::NEEDS_APPROVAL,
            Conclusion::Refused(_) => status::DENY,
            Conclusion::Blocked(_) => status::BLOCKED,
            Conclusion::Ran(code) => status::of_process(*code),
        }
    }
}

/// What governing produced.
#[derive(Debug, Clone)]
pub struct Governed {
    pub conclusion: Conclusion,
    /// The receipt, signed when the ledger has a key: for the caller to hand on.
    pub receipt: Value,
    /// The journal holds this run's evidence (a refusal's decision record, a run's receipt).
    pub journaled: bool,
    /// Something failed after the receipt was made (the journal refused it, the tree head
    /// could not be written): hand the receipt on, then fail with this sentence.
    pub fault: Option<String>,
}

/// Governs `request`: see the module docs.
pub fn govern(
    request: &RunRequest,
    options: &Options,
    ledger: &mut Ledger,
    executor: &mut dyn Executor,
) -> Result<Governed> {
    // A hardened run is recorded or does not start, however the ledger was made.
    if options.mode == Mode::Hardened && matches!(ledger, Ledger::Unsigned) {
        return govern_unrecorded(request, options, HARDENED_NEEDS_SIGNING, executor);
    }
    govern_steps(request, options, ledger, executor)
}

/// The steps of [`govern`], in order.
fn govern_steps(
    request: &RunRequest,
    options: &Options,
    ledger: &mut Ledger,
    executor: &mut dyn Executor,
) -> Result<Governed> {
    let approval = approval::resolve(
        request,
        &options.approval,
        options.desk.as_ref(),
        &options.notices,
    );
    let mut extension = extension_of(request, options);
    extension.approval = approval.evidence();
    extension.egress = EgressNote::of(request, options.mode, &options.resolver_overrides);
    let record = match record_decision(request, options, ledger, &approval, &extension) {
        Ok(record) => record,
        Err(why) => return block_unrecorded(request, options, ledger, &why),
    };
    if let Some(conclusion) = refusal(request, &approval) {
        return refuse(
            request,
            options,
            ledger,
            record.as_ref(),
            conclusion,
            &extension,
        );
    }
    // After the gate and any approval, before anything starts: a failure runs nothing, and
    // the journal gets the blocked run's receipt.
    let secrets = match secrets::prepare(request, options.secrets.as_ref()) {
        Ok(secrets) => secrets,
        Err(why) => {
            let mut run = Run::new();
            run.block(request.first_command_id(), why, &options.notices);
            let none = RunSecrets::default();
            let (receipt, conclusion) =
                build_receipt(request, options, ledger, run, extension, &none);
            return record_and_seal(ledger, receipt, record.as_ref(), conclusion);
        }
    };
    executor.filter_output(secrets.output_filter());
    let run = run_commands(
        request,
        options,
        ledger,
        approval.granted(),
        executor,
        &secrets,
    );
    let (receipt, conclusion) = build_receipt(request, options, ledger, run, extension, &secrets);
    record_and_seal(ledger, receipt, record.as_ref(), conclusion)
}

/// [`govern`] when the ledger could not be opened ([`crate::Error::Unrecordable`], `why`): a
/// refusal's own answer stands, unrecorded, and no approval is sought (nothing may run
/// unrecorded); a request that would run is blocked.
pub fn govern_unrecorded(
    request: &RunRequest,
    options: &Options,
    why: &str,
    executor: &mut dyn Executor,
) -> Result<Governed> {
    if !request.decision.runs() {
        (options.notices)(Notice::Unrecorded(why.to_string()));
        let options = Options {
            approval: ApprovalOptions::none(),
            desk: None,
            ..options.clone()
        };
        // Nothing runs (no approval is sought), so nothing needs recording.
        return govern_steps(request, &options, &mut Ledger::Unsigned, executor);
    }
    (options.notices)(Notice::Blocked(why.to_string()));
    let receipt = receipt::blocked_now(request, options.mode, why, &extension_of(request, options));
    Ok(Governed {
        conclusion: Conclusion::Blocked(why.to_string()),
        receipt: receipt.to_value(),
        journaled: false,
        fault: None,
    })
}

/// Records the decision before anything runs. `Ok(None)` without a journal, or for a refusal the
/// journal refused (its own answer stands); `Err` when a run's decision cannot be recorded.
fn record_decision(
    request: &RunRequest,
    options: &Options,
    ledger: &mut Ledger,
    approval: &Resolution,
    extension: &CordonExtension,
) -> std::result::Result<Option<Appended>, String> {
    let contract = &request.contract;
    let runs = request.decision.runs() || approval.granted();
    let subject = RecordSubject {
        contract_id: contract.contract_id.clone(),
        contract_sha256: request.contract_sha256.clone(),
        actor: contract.actor.agent_id.clone(),
        session_id: contract.actor.session_id.clone(),
        sandbox_profile: runs.then(|| options.mode.profile().to_string()),
        details: extension.to_value().unwrap_or(Value::Null),
    };
    match ledger.record_decision(&decision_of(&request.decision, subject)) {
        DecisionRecorded::NotJournaled => Ok(None),
        DecisionRecorded::Appended(appended) => Ok(Some(appended)),
        DecisionRecorded::Failed(e) if !request.decision.runs() => {
            (options.notices)(Notice::Unrecorded(e));
            Ok(None)
        }
        DecisionRecorded::Failed(e) => Err(format!(
            "the decision record cannot be appended to the journal, so the run cannot be recorded: {e}"
        )),
    }
}

/// A run whose decision could not be recorded: blocked, its receipt signed on its own.
fn block_unrecorded(
    request: &RunRequest,
    options: &Options,
    ledger: &Ledger,
    why: &str,
) -> Result<Governed> {
    (options.notices)(Notice::Blocked(why.to_string()));
    let mut receipt =
        receipt::blocked_now(request, options.mode, why, &extension_of(request, options));
    receipt.signing_key_id = ledger.key_id();
    Ok(Governed {
        conclusion: Conclusion::Blocked(why.to_string()),
        receipt: ledger.sign(receipt.to_value())?,
        journaled: false,
        fault: None,
    })
}

/// Whether the request stops here: a denial, an ask without an approval, a refused approval.
fn refusal(request: &RunRequest, approval: &Resolution) -> Option<Conclusion> {
    match (request.decision.outcome, approval) {
        (Outcome::Deny, _) => Some(Conclusion::Refused(Outcome::Deny)),
        (Outcome::Ask, Resolution::Granted(_)) => None,
        (Outcome::Ask, Resolution::Refused(why)) => Some(Conclusion::Blocked(why.clone())),
        (Outcome::Ask, _) => Some(Conclusion::Refused(Outcome::Ask)),
        _ => None,
    }
}

/// A refusal's receipt: blocked, linked to the decision record, signed on its own (nothing ran,
/// so the journal holds no receipt), and the journal sealed.
fn refuse(
    request: &RunRequest,
    options: &Options,
    ledger: &mut Ledger,
    record: Option<&Appended>,
    conclusion: Conclusion,
    extension: &CordonExtension,
) -> Result<Governed> {
    let why = match &conclusion {
        Conclusion::Blocked(why) => why.clone(),
        _ => request.decision.sentence.clone(),
    };
    let mut receipt = receipt::blocked_now(request, options.mode, &why, extension);
    receipt.exit_code = None;
    receipt.signing_key_id = ledger.key_id();
    let receipt = ledger.link_and_sign(receipt.to_value(), record)?;
    Ok(Governed {
        conclusion,
        receipt,
        journaled: record.is_some(),
        fault: ledger.seal().err().map(|e| e.to_string()),
    })
}

/// What running the commands left.
struct Run {
    started: SystemTime,
    entries: Vec<CommandEntry>,
    completed: Vec<String>,
    last: Option<CommandReport>,
    /// The command that could not start, and why.
    blocked: Option<(String, String)>,
    snapshot: Option<Snapshot>,
}

impl Run {
    fn new() -> Run {
        Run {
            started: SystemTime::now(),
            entries: Vec::new(),
            completed: Vec::new(),
            last: None,
            blocked: None,
            snapshot: None,
        }
    }

    /// The command `id` could not start, for `why` (said now, as a notice).
    fn block(&mut self, id: String, why: String, notices: &Notices) {
        notices(Notice::Blocked(why.clone()));
        self.blocked = Some((id, why));
    }
}

/// Builds the envelope (hardened mode), snapshots, then plans, confines and executes each command
/// in turn until one does not succeed. `approved`: a person approved this run.
fn run_commands(
    request: &RunRequest,
    options: &Options,
    ledger: &Ledger,
    approved: bool,
    executor: &mut dyn Executor,
    secrets: &RunSecrets,
) -> Run {
    let mut run = Run::new();
    // A runner's sentence reaches the agent on stderr: redacted like the output.
    let block = |run: &mut Run, id: String, why: String| {
        run.block(id, secrets.redact_text(&why), &options.notices);
    };
    let envelope = match confine_to(options, ledger) {
        Ok(envelope) => envelope,
        Err(why) => {
            block(&mut run, request.first_command_id(), why);
            return run;
        }
    };
    let places = options.snapshots.as_ref();
    let taking = Taking {
        session: options.session.as_deref(),
        workspace: options.workspace.as_deref(),
        signer: ledger.signer(),
        observe: options.mode == Mode::Hardened
            && options.kernel.write_broker_unavailable().is_none(),
        layered: envelope
            .as_ref()
            .filter(|e| e.envelope.layers.is_some())
            .map_or(&[], |e| e.envelope.caches.as_slice()),
        writable_workspace: envelope.as_ref().and_then(EnvelopeInForce::workspace),
        writable: envelope
            .as_ref()
            .map_or(&[], |e| e.envelope.write.as_slice()),
    };
    match snapshot::take(request, places, taking, &options.notices) {
        Ok(taken) => run.snapshot = taken,
        Err(why) => {
            block(&mut run, request.first_command_id(), why);
            return run;
        }
    }
    let confinement = Confining {
        envelope: envelope.as_ref(),
        approved,
    };
    let observer = run.snapshot.as_ref().and_then(Snapshot::observer);
    let observing = observer.is_some();
    if observing {
        executor.observe_writes(observer);
    }
    for command in &request.contract.commands {
        let granted = secrets.of(&command.id);
        match run_one(
            command,
            request,
            options,
            run.snapshot.as_ref(),
            &confinement,
            granted,
            executor,
        ) {
            Ok((report, entry)) => {
                run.entries.push(entry);
                let ok = report.status == CommandStatus::Success;
                if ok {
                    run.completed.push(report.id.clone());
                }
                run.last = Some(report);
                if !ok {
                    break;
                }
            }
            Err(why) => {
                block(&mut run, command.id.clone(), why);
                break;
            }
        }
    }
    if observing {
        executor.observe_writes(None);
    }
    if let Some(taken) = run.snapshot.as_mut() {
        taken.finish(&options.notices);
    }
    run
}

/// The envelope a hardened run is confined to, built once for all its commands; `None` in local
/// mode. `Err` is one sentence: the kernel cannot enforce hardened mode here, or the envelope
/// cannot be built.
fn confine_to(
    options: &Options,
    ledger: &Ledger,
) -> std::result::Result<Option<EnvelopeInForce>, String> {
    if options.mode != Mode::Hardened {
        return Ok(None);
    }
    if let Some(why) = options.kernel.hardened_unavailable() {
        return Err(format!(
            "hardened mode cannot run on this kernel: {why}; local mode runs without kernel enforcement when it is asked for by name (--mode local), and its receipt says so"
        ));
    }
    let source = options
        .envelope
        .as_ref()
        .ok_or("hardened mode needs the policy's envelope, and the caller gave none")?;
    // The secret store and its key are closed like the signing key, wherever they are kept.
    let private: Vec<&std::path::Path> = options
        .secrets
        .iter()
        .flat_map(|place| [place.store.path(), place.store.key_path()])
        .collect();
    EnvelopeInForce::build(source, ledger, &private).map(Some)
}

/// What every command of a run is confined with.
struct Confining<'a> {
    envelope: Option<&'a EnvelopeInForce>,
    approved: bool,
}

/// One command: a soft delete under a snapshot, or planned, confined and executed with the
/// secrets granted to it (`granted`) in its environment, and in no other command's.
fn run_one(
    command: &cordon_core::contract::Command,
    request: &RunRequest,
    options: &Options,
    snapshot: Option<&Snapshot>,
    confining: &Confining<'_>,
    granted: &[cordon_secrets::ResolvedSecret],
    executor: &mut dyn Executor,
) -> std::result::Result<(CommandReport, CommandEntry), String> {
    let within = match confining.envelope {
        Some(envelope) => DeleteScope::Envelope(&envelope.envelope),
        None => DeleteScope::Declared,
    };
    // Under a snapshot, a plain `rm` moves its targets to the trash instead.
    if let Some(done) = snapshot::soft_delete(snapshot, command, within, &options.notices) {
        return Ok(done);
    }
    let (mut plan, mut confinement) = confinement::plan(
        command,
        request,
        options.mode,
        confining.envelope,
        confining.approved,
        &options.resolver_overrides,
    )?;
    for planned in &mut plan.commands {
        cordon_secrets::inject(&mut planned.env, granted);
    }
    // Under a snapshot, any `rm` the command reaches becomes a soft delete.
    let service =
        snapshot::serve_soft_deletes(snapshot, command, within, &mut plan, &mut confinement)?;
    let executed = executor.execute(&plan, &confinement)?;
    // What the sandbox could not protect (a search cut short), and what it changed after the
    // command so that git runs nothing it chose (a repository's config or hooks moved aside, a
    // worktree's commondir put back), are the user's to know at once.
    for note in protected_notes(&executed.enforcement, "warnings") {
        (options.notices)(Notice::ProtectionIncomplete(note));
    }
    for note in protected_notes(&executed.enforcement, "after_run") {
        (options.notices)(Notice::RepairedAfterRun(note));
    }
    for note in enforcement_notes(&executed.enforcement, "write_broker", "git_config_refused") {
        (options.notices)(Notice::ConfigRewriteRefused(note));
    }
    let broker = &executed.enforcement["write_broker"];
    let refused = broker["refused_total"].as_u64().unwrap_or(0);
    let configs = broker["git_config_refused"].as_array().map_or(0, Vec::len) as u64;
    // `git gc` updating the files only a dumb HTTP server reads changed no setting (round
    // twenty-one: every `git gc` warned); git itself says it could not update `info/refs`.
    let server_info = broker["git_server_info_refused"].as_u64().unwrap_or(0);
    if refused > configs + server_info {
        let first = broker["refused"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["path"].as_str())
            .find(|p| {
                !p.ends_with("/config")
                    && !p.ends_with("/config.worktree")
                    && !cordon_sandbox::git_server_info(p.as_bytes())
            })
            .unwrap_or("?")
            .to_string();
        (options.notices)(Notice::ProtectedWritesRefused {
            count: refused - configs - server_info,
            first,
        });
    }
    let stopped = executed.enforcement["process"]["background_stopped"]
        .as_u64()
        .unwrap_or(0);
    if stopped > 0 {
        (options.notices)(Notice::BackgroundStopped(stopped));
    }
    // Only where something failed, or the command said it was refused: a path named beyond the
    // envelope is often one a command may do without (a module cache `go test` never needed),
    // and a note after a success misleads (working day eighteen: 13 of 17 notes were wrong). Not
    // the exit alone: a pipe's last command can hide the refusal (`cat ~/x | head`).
    let report = &executed.report;
    let refused_said = [&b"Permission denied"[..], b"Operation not permitted"]
        .iter()
        .any(|says| {
            report
                .stderr
                .captured
                .windows(says.len())
                .any(|w| w == *says)
        });
    let failed = report.exit_code != 0 || report.segments.iter().any(|s| s.exit_code != 0);
    if let (Some(envelope), true) = (confining.envelope, failed || refused_said) {
        let mut beyond = envelope.beyond_reach(command, confining.approved);
        // With the workspace's own `/tmp` mounted over the host's, a path under `/tmp` was the
        // command's to write (red-team round nineteen: `tar czf /tmp/a.tgz a` succeeded, and the
        // note said the kernel refused it).
        if executed.enforcement["envelope"]["tmp"].is_string() {
            beyond.retain(|p| !p.starts_with("/tmp"));
        }
        if !beyond.is_empty() {
            (options.notices)(Notice::BeyondTheEnvelope(
                beyond.iter().map(|p| p.display().to_string()).collect(),
            ));
        }
        // A tracked credential the user changed is sealed: git fails on it with a bare
        // "Permission denied" (working day twenty: `git diff`, `git stash` and `git add -A`
        // in a project that commits a `.env`). Named where the command's errors name it.
        let stderr = String::from_utf8_lossy(&report.stderr.captured);
        let sealed: Vec<String> = executed.enforcement["protected_metadata"]["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["how"] == "sealed")
            .filter_map(|p| p["path"].as_str())
            .filter(|path| {
                Path::new(path)
                    .file_name()
                    .is_some_and(|name| stderr.contains(&*name.to_string_lossy()))
            })
            .map(str::to_string)
            .collect();
        if !sealed.is_empty() {
            (options.notices)(Notice::SealedCredentials(sealed));
        }
    }
    let mut entry = CommandEntry::of(&executed.report, Some(executed.enforcement));
    entry.soft_delete =
        service.map(|s| snapshot::finish_soft_deletes(s, &executed.report, &options.notices));
    Ok((executed.report, entry))
}

/// One list of sentences of the sandbox's report on protected paths: `warnings` (what it could
/// not protect) or `after_run` (what it changed, or could not check, after the run).
fn protected_notes(enforcement: &serde_json::Value, list: &str) -> Vec<String> {
    enforcement_notes(enforcement, "protected_metadata", list)
}

/// One list of sentences of one part of the sandbox's report.
fn enforcement_notes(enforcement: &serde_json::Value, part: &str, list: &str) -> Vec<String> {
    enforcement[part][list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(str::to_string)
        .collect()
}

/// The receipt of what ran, and how it ended.
fn build_receipt(
    request: &RunRequest,
    options: &Options,
    ledger: &Ledger,
    run: Run,
    mut extension: CordonExtension,
    secrets: &RunSecrets,
) -> (ExecutionReceipt, Conclusion) {
    if let (Some(note), Some(taken)) = (extension.checkpoint.as_mut(), run.snapshot.as_ref()) {
        note.id = Some(taken.id.clone());
        note.taken = taken.summary.clone();
        note.incomplete = taken.failure.clone();
    }
    let profiled = !run.entries.is_empty();
    // The commands that started with their secrets in their environment.
    let injected: Vec<String> = run
        .entries
        .iter()
        .filter(|e| e.supervised.is_some())
        .map(|e| e.id.clone())
        .collect();
    extension.sandbox = Some(SandboxNote {
        commands: run.entries,
    });
    let started = OffsetDateTime::from(run.started);
    let ended = OffsetDateTime::from(SystemTime::now());
    let mut receipt = receipt::base(request, options.mode, started, ended, &extension);
    receipt.completed_command_ids = Some(run.completed);
    receipt.artifacts = Some(Vec::new());
    receipt.effect_summary = Some(receipt::effect_summary(request));
    receipt.signing_key_id = ledger.key_id();
    if profiled {
        // The profile the commands ran under; what it enforced is in `x-cordon.sandbox`.
        receipt.sandbox_profile_id = Some(options.mode.profile().to_string());
    }
    let conclusion = if let Some((id, why)) = run.blocked {
        receipt.status = ReceiptStatus::Blocked;
        receipt.exit_code = Some(i32::from(status::BLOCKED));
        receipt.failed_command_id = Some(id);
        receipt.error = Some(why.clone());
        Conclusion::Blocked(why)
    } else if let Some(last) = &run.last {
        receipt::conclude(&mut receipt, last);
        tell_how_it_ended(last, secrets, &options.notices);
        Conclusion::Ran(last.exit_code)
    } else {
        receipt.status = ReceiptStatus::Success;
        receipt.error = Some(String::new());
        Conclusion::Ran(0)
    };
    // Before signing: the recorded argv and runner messages redacted, the grants and counts set.
    secrets.seal(&mut receipt.extension, &mut receipt.error, &injected);
    (receipt, conclusion)
}

/// Says why the last command did not complete, when the runner (not the command) knows why; a
/// command's own failure already spoke on its stderr.
fn tell_how_it_ended(last: &CommandReport, secrets: &RunSecrets, notices: &Notices) {
    match last.status {
        CommandStatus::Success => {}
        CommandStatus::Blocked => {
            let why = last
                .error
                .as_deref()
                .unwrap_or("the sandbox refused to start the command");
            notices(Notice::Blocked(secrets.redact_text(why)))
        }
        CommandStatus::Failed | CommandStatus::TimedOut => {
            if let Some(why) = &last.error {
                notices(Notice::DidNotComplete {
                    command: last.id.clone(),
                    why: secrets.redact_text(why),
                });
            }
        }
    }
}

/// Records the receipt and seals the journal. The command already ran: a journal that refuses
/// the receipt is a fault the caller reports after handing the signed receipt on.
fn record_and_seal(
    ledger: &mut Ledger,
    receipt: ExecutionReceipt,
    record: Option<&Appended>,
    conclusion: Conclusion,
) -> Result<Governed> {
    let (receipt, journaled, fault) = match ledger.record_receipt(receipt.to_value(), record)? {
        ReceiptRecorded::Journaled(receipt) => (receipt, true, None),
        ReceiptRecorded::SignedAlone(receipt) => (receipt, false, None),
        ReceiptRecorded::Refused { receipt, why } => {
            let fault = format!("the run's receipt could not be appended to the journal: {why}");
            return Ok(Governed {
                conclusion,
                receipt,
                journaled: false,
                fault: Some(fault),
            });
        }
    };
    Ok(Governed {
        conclusion,
        receipt,
        journaled,
        fault: fault.or_else(|| ledger.seal().err().map(|e| e.to_string())),
    })
}
