//! `govern`: the governed-execution pipeline, one step per call, each returning a type.
//!
//! resolve approval → record decision → refuse? → snapshot → plan confinement → execute →
//! build receipt → record receipt → seal.
//!
//! Every decision is evidence, recorded before anything runs; if it cannot be, nothing runs. A
//! refusal starts nothing and gets a blocked receipt for the caller (the journal's evidence of it
//! is its decision record). A run that cannot start as planned (a scope that would expose the key
//! or the journal, a snapshot that failed, a mode the command cannot run in, a sandbox that
//! refuses) is blocked, with exit 126 and one sentence; the commands before it keep their entries.

use std::path::PathBuf;
use std::time::SystemTime;

use cordon_core::receipt::{ExecutionReceipt, ReceiptStatus};
use cordon_core::Outcome;
use cordon_journal::record::Appended;
use cordon_sandbox::{CommandReport, CommandStatus};
use serde_json::Value;
use time::OffsetDateTime;

use crate::approval::{self, ApprovalDesk, ApprovalOptions, Resolution};
use crate::confinement;
use crate::error::Result;
use crate::executor::Executor;
use crate::extension::{CommandEntry, CordonExtension, SandboxNote};
use crate::ledger::{
    decision_of, DecisionRecorded, Ledger, ReceiptRecorded, RecordSubject, HARDENED_NEEDS_SIGNING,
};
use crate::mode::Mode;
use crate::notice::{Notice, Notices};
use crate::receipt;
use crate::request::RunRequest;
use crate::snapshot::{self, Snapshot, SnapshotPlaces, Taking};
use crate::status;

/// How to govern a request.
#[derive(Clone)]
pub struct Options {
    pub mode: Mode,
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
    pub notices: Notices,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("mode", &self.mode)
            .field("approval", &self.approval)
            .field("session", &self.session)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
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
    let mut extension = CordonExtension::of(request);
    extension.approval = approval.evidence();
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
    let run = run_commands(request, options, ledger, executor);
    let (receipt, conclusion) = build_receipt(request, options, ledger, run, extension);
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
    let receipt = receipt::blocked_now(request, options.mode, why, &CordonExtension::of(request));
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
        receipt::blocked_now(request, options.mode, why, &CordonExtension::of(request));
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

/// Snapshot, then plan, confine and execute each command in turn until one does not succeed.
fn run_commands(
    request: &RunRequest,
    options: &Options,
    ledger: &Ledger,
    executor: &mut dyn Executor,
) -> Run {
    let mut run = Run {
        started: SystemTime::now(),
        entries: Vec::new(),
        completed: Vec::new(),
        last: None,
        blocked: None,
        snapshot: None,
    };
    let block = |run: &mut Run, id: String, why: String| {
        (options.notices)(Notice::Blocked(why.clone()));
        run.blocked = Some((id, why));
    };
    if let Err(why) = confinement::check_scopes(
        request,
        options.mode,
        ledger.key_file(),
        ledger.journal_dir(),
    ) {
        block(&mut run, request.first_command_id(), why);
        return run;
    }
    let places = options.snapshots.as_ref();
    let taking = Taking {
        session: options.session.as_deref(),
        workspace: options.workspace.as_deref(),
        signer: ledger.signer(),
    };
    match snapshot::take(request, places, taking, &options.notices) {
        Ok(taken) => run.snapshot = taken,
        Err(why) => {
            block(&mut run, request.first_command_id(), why);
            return run;
        }
    }
    for command in &request.contract.commands {
        match run_one(command, request, options, run.snapshot.as_ref(), executor) {
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
    run
}

/// One command: a soft delete under a snapshot, or planned, confined and executed.
fn run_one(
    command: &cordon_core::contract::Command,
    request: &RunRequest,
    options: &Options,
    snapshot: Option<&Snapshot>,
    executor: &mut dyn Executor,
) -> std::result::Result<(CommandReport, CommandEntry), String> {
    let hardened = options.mode == Mode::Hardened;
    // Under a snapshot, a plain `rm` moves its targets to the trash instead.
    if let Some(done) = snapshot::soft_delete(snapshot, command, hardened, &options.notices) {
        return Ok(done);
    }
    let (mut plan, mut confinement) = confinement::plan(command, request, options.mode)?;
    // Under a snapshot, any `rm` the command reaches becomes a soft delete.
    let service =
        snapshot::serve_soft_deletes(snapshot, command, hardened, &mut plan, &mut confinement)?;
    let executed = executor.execute(&plan, &confinement)?;
    let mut entry = CommandEntry::of(&executed.report, Some(executed.enforcement));
    entry.soft_delete =
        service.map(|s| snapshot::finish_soft_deletes(s, &executed.report, &options.notices));
    Ok((executed.report, entry))
}

/// The receipt of what ran, and how it ended.
fn build_receipt(
    request: &RunRequest,
    options: &Options,
    ledger: &Ledger,
    run: Run,
    mut extension: CordonExtension,
) -> (ExecutionReceipt, Conclusion) {
    if let (Some(note), Some(taken)) = (extension.checkpoint.as_mut(), run.snapshot.as_ref()) {
        note.id = Some(taken.summary.id.clone());
        note.taken = Some(taken.summary.clone());
    }
    let profiled = !run.entries.is_empty();
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
        tell_how_it_ended(last, &options.notices);
        Conclusion::Ran(last.exit_code)
    } else {
        receipt.status = ReceiptStatus::Success;
        receipt.error = Some(String::new());
        Conclusion::Ran(0)
    };
    (receipt, conclusion)
}

/// Says why the last command did not complete, when the runner (not the command) knows why; a
/// command's own failure already spoke on its stderr.
fn tell_how_it_ended(last: &CommandReport, notices: &Notices) {
    match last.status {
        CommandStatus::Success => {}
        CommandStatus::Blocked => {
            notices(Notice::Blocked(last.error.clone().unwrap_or_else(|| {
                "the sandbox refused to start the command".into()
            })))
        }
        CommandStatus::Failed | CommandStatus::TimedOut => {
            if let Some(why) = &last.error {
                notices(Notice::DidNotComplete {
                    command: last.id.clone(),
                    why: why.clone(),
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
