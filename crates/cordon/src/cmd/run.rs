//! `cordon run CONTRACT POLICY [--mode local|hardened] [--signing-key K --key-id ID]
//! [--journal DIR] [--receipt F]`: decide, run what was allowed, and leave evidence.
//!
//! The policy gate is the same one `check` uses; a contract it does not allow never starts a
//! process and gets a blocked receipt. An allowed contract is mapped onto the sandbox's plain types
//! here (the sandbox knows nothing about contracts): each command becomes its own sandbox run with
//! its own scope, so one command's write scope never leaks to the next. Scope patterns are reduced
//! to their literal prefix (`/repo/**` → `/repo`), which the sandbox resolves (symlinks followed,
//! `..` refused) before granting. In hardened mode the command's cwd is readable, as in CSC.
//!
//! What the kernel actually enforced goes into the receipt under `x-cordon.sandbox`, one entry per
//! command (docs/sandbox.md describes the fields).
//!
//! Evidence (docs/journal.md, "cordon run"): with a journal, every decision (denials and
//! needs-approval included) is appended as a signed decision record *before* anything runs, the
//! run's receipt is linked to it, signed and appended, and a checkpoint is written at the end. A
//! run that cannot be recorded does not start: hardened mode without a usable key, a journal that
//! cannot be opened, or a record that cannot be appended all block with exit 126. With a key but no
//! journal, the receipt alone is signed. Without either, local mode writes an unsigned receipt.
//! The private key and the journal must lie outside every scope the contract would grant.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cordon_core::contract::{Command, NetworkMode};
use cordon_core::receipt::{
    EffectSummary, ExecutionMode, ExecutionReceipt, ReceiptStatus, RECEIPT_VERSION,
};
use cordon_core::Verdict;
use cordon_journal::{record, Journal, Signer};
use cordon_sandbox::{
    CommandReport, CommandStatus, Confinement, Network, Plan, PlannedCommand, RunOptions,
};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::exit::{self, CliError};
use crate::gate::{self, Gate};

/// Exit code for a command that was blocked before or while starting (CSC: 126).
const BLOCKED: u8 = 126;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ModeArg {
    Local,
    Hardened,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command contract (CSC v0.1 JSON).
    pub contract: PathBuf,
    /// The policy profile (CSC v0.1 YAML or JSON).
    pub policy: PathBuf,
    /// `hardened` confines every command with Landlock, seccomp and namespaces, or refuses to run.
    #[arg(long, value_enum, default_value = "local")]
    pub mode: ModeArg,
    /// Write the receipt here (atomically) instead of printing it as the last line of stdout.
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Private key to sign decision records, receipts and checkpoints (PKCS#8 PEM, 32-byte seed,
    /// or 64-byte seed and public key). Required in hardened mode.
    #[arg(long, requires = "key_id")]
    pub signing_key: Option<PathBuf>,
    /// Key id the signatures name (what `verify-receipt --key-id` expects).
    #[arg(long, requires = "signing_key")]
    pub key_id: Option<String>,
    /// Journal directory (created if missing); default: the `CORDON_JOURNAL` environment variable,
    /// else none. Needs a signing key.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// A pre-signed approval (`cordon approve --contract … --out F`); repeat for dual control.
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// Seconds to wait for an approver when the policy asks; 0 does not ask (exit 2). Default:
    /// `CORDON_APPROVAL_TIMEOUT`, else 120.
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
}

/// Sandbox profile ids written into receipts and decision records.
pub const PROFILE_LOCAL: &str = "cordon-local-v1";
pub const PROFILE_HARDENED: &str = "cordon-hardened-v1";

/// Where a run's evidence goes: a signer, and a journal when one is configured.
#[derive(Debug, Default)]
pub struct Evidence {
    pub signer: Option<Signer>,
    /// The private key file, resolved (for the scope check).
    pub key_path: Option<PathBuf>,
    pub journal: Option<Journal>,
    /// The journal directory, resolved (for the scope check).
    pub journal_dir: Option<PathBuf>,
    /// With a journal and no receipt file, keep the receipt out of stdout: `cordon exec`'s
    /// stdout is the command's own output, which the agent reads.
    pub receipt_in_journal_only: bool,
    /// How an approval may be obtained when the policy asks (crate::approvals).
    pub approval: crate::approvals::Options,
}

/// Why evidence could not be set up.
#[derive(Debug)]
pub enum EvidenceError {
    /// The command line was wrong (exit 64).
    Usage(String),
    /// The run cannot be recorded, so it must not start (exit 126).
    Unrecordable(String),
}

impl Evidence {
    /// Loads the key and opens (or creates) the journal. Hardened mode requires a key; a journal
    /// requires a key.
    pub fn load(
        signing_key: Option<&Path>,
        key_id: Option<&str>,
        journal: Option<&Path>,
        mode: ModeArg,
    ) -> Result<Evidence, EvidenceError> {
        let mut evidence = Evidence::default();
        match (signing_key, key_id) {
            (Some(path), Some(id)) => {
                let signer = Signer::from_file(path, id).map_err(|e| {
                    EvidenceError::Unrecordable(format!("the signing key is not usable: {e}"))
                })?;
                evidence.key_path = Some(std::fs::canonicalize(path).map_err(|e| {
                    EvidenceError::Unrecordable(format!("{}: {e}", path.display()))
                })?);
                evidence.signer = Some(signer);
            }
            (None, None) => {}
            _ => {
                return Err(EvidenceError::Usage(
                    "--signing-key and --key-id go together".into(),
                ))
            }
        }
        if evidence.signer.is_none() {
            if mode == ModeArg::Hardened {
                return Err(EvidenceError::Unrecordable(
                    "hardened mode requires signing (--signing-key K --key-id ID): a run that cannot be recorded does not start".into(),
                ));
            }
            if let Some(dir) = journal {
                return Err(EvidenceError::Usage(format!(
                    "{}: a journal needs a signing key (--signing-key K --key-id ID)",
                    dir.display()
                )));
            }
            return Ok(evidence);
        }
        if let Some(dir) = journal {
            let j = Journal::open(dir).map_err(|e| {
                EvidenceError::Unrecordable(format!(
                    "the journal cannot be opened, so the run cannot be recorded: {e}"
                ))
            })?;
            evidence.journal_dir =
                Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
            evidence.journal = Some(j);
        }
        Ok(evidence)
    }

    /// Refuses a run whose granted scopes would expose the private key (read or write) or the
    /// journal (write). Checked in both modes; only hardened mode makes the kernel enforce it.
    pub fn check_scopes(&self, gate: &Gate, mode: ModeArg) -> Result<(), String> {
        let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        for command in &gate.contract.commands {
            let mut readable: Vec<PathBuf> = command
                .read_paths
                .iter()
                .map(|p| resolve(&literal_prefix(p)))
                .collect();
            readable.push(resolve(Path::new(&command.cwd)));
            if mode == ModeArg::Hardened {
                // The sandbox grants these to every hardened run: a key below one is readable inside.
                readable.extend(
                    cordon_sandbox::SYSTEM_DIRS
                        .iter()
                        .map(|d| resolve(Path::new(d))),
                );
            }
            let writable: Vec<PathBuf> = command
                .write_paths
                .iter()
                .map(|p| resolve(&literal_prefix(p)))
                .collect();
            if let Some(key) = &self.key_path {
                if let Some(scope) = readable
                    .iter()
                    .chain(&writable)
                    .find(|s| key.starts_with(s))
                {
                    return Err(format!(
                        "command {}: the signing key {} lies inside the granted scope {}; keep the key outside every read and write scope",
                        command.id,
                        key.display(),
                        scope.display()
                    ));
                }
            }
            if let Some(journal) = &self.journal_dir {
                if let Some(scope) = writable.iter().find(|s| journal.starts_with(s)) {
                    return Err(format!(
                        "command {}: the journal {} lies inside the writable scope {}; keep it outside every write scope",
                        command.id,
                        journal.display(),
                        scope.display()
                    ));
                }
            }
        }
        Ok(())
    }

    fn key_id(&self) -> Option<String> {
        self.signer.as_ref().map(|s| s.key_id().to_string())
    }
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let gate = gate::decide_files(&args.contract, &args.policy)?;
    let journal = args
        .journal
        .clone()
        .or_else(|| std::env::var_os("CORDON_JOURNAL").map(PathBuf::from));
    let evidence = Evidence::load(
        args.signing_key.as_deref(),
        args.key_id.as_deref(),
        journal.as_deref(),
        args.mode,
    )
    .map(|evidence| Evidence {
        approval: crate::approvals::Options::new(args.approvals, args.approval_timeout),
        ..evidence
    });
    execute_with(&gate, args.mode, evidence, args.receipt.as_deref())
}

/// [`execute`] once the evidence is set up, or the answer when it could not be: a run that
/// cannot be recorded does not start (126), while a refusal's own answer stands.
pub fn execute_with(
    gate: &Gate,
    mode: ModeArg,
    evidence: Result<Evidence, EvidenceError>,
    receipt_path: Option<&Path>,
) -> Result<u8, CliError> {
    let mut evidence = match evidence {
        Ok(evidence) => evidence,
        Err(EvidenceError::Usage(why)) => return Err(CliError::usage(why)),
        // A refusal starts nothing either way, so its own answer (exit 1 or 2) stands.
        Err(EvidenceError::Unrecordable(why)) if gate.decision.decision != Verdict::Allow => {
            eprintln!("cordon: this decision is not recorded: {why}");
            // Nothing may run unrecorded, so an approval is not even sought.
            Evidence {
                approval: crate::approvals::Options::none(),
                ..Evidence::default()
            }
        }
        Err(EvidenceError::Unrecordable(why)) => {
            eprintln!("cordon: blocked: {why}");
            let now = OffsetDateTime::now_utc();
            let mut receipt = base_receipt(gate, mode, now, now);
            receipt.status = ReceiptStatus::Blocked;
            receipt.exit_code = Some(i32::from(BLOCKED));
            receipt.error = Some(why);
            write_receipt(&receipt, receipt_path)?;
            return Ok(BLOCKED);
        }
    };
    execute(gate, mode, &mut evidence, receipt_path)
}

fn profile(mode: ModeArg) -> &'static str {
    match mode {
        ModeArg::Local => PROFILE_LOCAL,
        ModeArg::Hardened => PROFILE_HARDENED,
    }
}

/// The decision record for a gate decision.
fn decision_of(gate: &Gate, mode: ModeArg) -> record::Decision {
    let allowed = gate.decision.decision == Verdict::Allow;
    record::Decision {
        contract_id: gate.contract.contract_id.clone(),
        contract_sha256: gate.contract_sha256.clone(),
        policy_profile: gate.policy.name.clone(),
        policy_digest: format!("sha256:{}", gate.policy.sha256),
        outcome: gate.outcome.as_str().to_string(),
        reason_codes: gate.reason_codes.clone(),
        reason: gate.sentence.clone(),
        actor: gate.contract.actor.agent_id.clone(),
        session_id: gate.contract.actor.session_id.clone(),
        sandbox_profile: allowed.then(|| profile(mode).to_string()),
        details: gate.record_details(),
    }
}

/// Records the decision, runs what it allows, and records the receipt: the execution half of
/// `cordon run`, for any front end that already holds a gate decision.
pub fn execute(
    gate: &Gate,
    mode: ModeArg,
    evidence: &mut Evidence,
    receipt_path: Option<&Path>,
) -> Result<u8, CliError> {
    // When the policy asks, a person answers first (crate::approvals); the answer is evidence too.
    let approval = crate::approvals::resolve(gate, &evidence.approval);
    let now = OffsetDateTime::now_utc();
    // Every decision is evidence, recorded before anything runs; if it cannot be, nothing runs.
    let record = match (&mut evidence.journal, &evidence.signer) {
        (Some(journal), Some(signer)) => {
            let decision = approval.decorate(decision_of(gate, mode), profile(mode));
            let appended =
                record::decision_record(&decision).and_then(|r| journal.append_signed(&r, signer));
            match appended {
                Ok(a) => Some(a),
                // A refusal starts nothing either way, so its own answer stands.
                Err(e) if gate.decision.decision != Verdict::Allow => {
                    eprintln!("cordon run: this decision is not recorded: {e}");
                    None
                }
                Err(e) => {
                    let why = format!(
                        "the decision record cannot be appended to the journal, so the run cannot be recorded: {e}"
                    );
                    eprintln!("cordon run: blocked: {why}");
                    let mut receipt = base_receipt(gate, mode, now, now);
                    receipt.status = ReceiptStatus::Blocked;
                    receipt.exit_code = Some(i32::from(BLOCKED));
                    receipt.error = Some(why);
                    receipt.signing_key_id = evidence.key_id();
                    let value = sign_standalone(receipt.to_value(), evidence)?;
                    write_value(&value, receipt_path)?;
                    return Ok(BLOCKED);
                }
            }
        }
        _ => None,
    };

    let refused = match gate.decision.decision {
        Verdict::Allow => None,
        Verdict::Deny => Some(exit::DENY),
        Verdict::NeedsApproval => approval.refusal(exit::NEEDS_APPROVAL, BLOCKED),
    };
    if let Some(code) = refused {
        // The decision record is the journal's evidence of a refusal; the blocked receipt goes
        // to the caller only (nothing ran, so the journal holds no receipt of a run).
        let mut receipt = base_receipt(gate, mode, now, now);
        receipt.status = ReceiptStatus::Blocked;
        receipt.error = Some(
            approval
                .refused()
                .unwrap_or_else(|| gate.decision.reasons.join("; ")),
        );
        approval.attach(&mut receipt.extension);
        // `exec` (the one front end that keeps receipts in the journal) told the agent its
        // decision before this, and a refused approval said why; `run` says it here.
        if !evidence.receipt_in_journal_only && approval.refused().is_none() {
            let what = if code == exit::DENY {
                "denied"
            } else {
                "needs approval"
            };
            let why = receipt.error.as_deref().unwrap_or_default();
            eprintln!("cordon run: {what}: {why}");
        }
        receipt.signing_key_id = evidence.key_id();
        let mut value = receipt.to_value();
        if let Some(rec) = &record {
            record::link_decision(&mut value, rec)
                .map_err(|e| CliError::internal(e.to_string()))?;
        }
        let value = sign_standalone(value, evidence)?;
        if record.is_none() || !quiet_receipt(evidence, receipt_path) {
            write_value(&value, receipt_path)?;
        }
        checkpoint(evidence)?;
        return Ok(code);
    }

    let scope_problem = evidence.check_scopes(gate, mode).err();
    let started = SystemTime::now();
    let mut reports: Vec<Value> = Vec::new();
    let mut completed: Vec<String> = Vec::new();
    let mut last: Option<CommandReport> = None;
    let mut blocked: Option<(String, String)> = None;
    if let Some(why) = scope_problem {
        eprintln!("cordon run: blocked: {why}");
        let first = gate
            .contract
            .commands
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        blocked = Some((first, why));
    }
    // Allow-with-checkpoint: snapshot the write scope before anything runs, or run nothing.
    let taken = match blocked {
        Some(_) => None,
        None => crate::checkpointing::before_run(gate).unwrap_or_else(|why| {
            eprintln!("cordon run: blocked: {why}");
            let first = gate.contract.commands.first().map(|c| c.id.clone());
            blocked = Some((first.unwrap_or_default(), why));
            None
        }),
    };
    let options = RunOptions::default();
    for command in &gate.contract.commands {
        if blocked.is_some() {
            break;
        }
        // Under a checkpoint, a plain `rm` moves its targets to the trash instead.
        let hardened = mode == ModeArg::Hardened;
        if let Some((result, entry)) =
            crate::checkpointing::soft_delete(taken.as_ref(), command, hardened)
        {
            reports.push(entry);
            let ok = result.status == CommandStatus::Success;
            if ok {
                completed.push(result.id.clone());
            }
            last = Some(result);
            if !ok {
                break;
            }
            continue;
        }
        let (mut plan, mut confinement) = match map_command(command, gate, mode) {
            Ok(mapped) => mapped,
            Err(why) => {
                // Said here as well as in the receipt: with the receipt only in the journal,
                // stderr is the one place a person sees why nothing ran.
                eprintln!("cordon: blocked: {why}");
                blocked = Some((command.id.clone(), why));
                break;
            }
        };
        // Under a checkpoint, any `rm` the command reaches becomes a soft delete.
        let soft_deletes = match crate::checkpointing::serve_soft_deletes(
            taken.as_ref(),
            command,
            hardened,
            &mut plan,
            &mut confinement,
        ) {
            Ok(service) => service,
            Err(why) => {
                eprintln!("cordon: blocked: {why}");
                blocked = Some((command.id.clone(), why));
                break;
            }
        };
        let report = match cordon_sandbox::run(&plan, &confinement, &options) {
            Ok(report) => report,
            Err(e) => {
                let why = format!("sandbox: {e}");
                eprintln!("cordon: blocked: {why}");
                blocked = Some((command.id.clone(), why));
                break;
            }
        };
        let Some(result) = report.commands.into_iter().next() else {
            return Err(CliError::internal("the sandbox returned no command report"));
        };
        let soft_delete =
            soft_deletes.map(|s| crate::checkpointing::finish_soft_deletes(s, &result));
        let mut entry = json!({
            "id": result.id,
            "status": result.status,
            "exit_code": result.exit_code,
            "duration_ms": result.duration.as_secs_f64() * 1000.0,
            "segments": result.segments,
            "processes": result.processes,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "error": result.error,
            "enforcement": report.enforcement,
        });
        if let Some(soft_delete) = soft_delete {
            entry["soft_delete"] = soft_delete;
        }
        reports.push(entry);
        let ok = result.status == CommandStatus::Success;
        if ok {
            completed.push(result.id.clone());
        }
        last = Some(result);
        if !ok {
            break;
        }
    }
    let ended = SystemTime::now();

    let mut receipt = base_receipt(gate, mode, started.into(), ended.into());
    receipt.completed_command_ids = Some(completed);
    receipt.artifacts = Some(Vec::new());
    receipt.effect_summary = Some(effect_summary(gate));
    receipt.signing_key_id = evidence.key_id();
    if !reports.is_empty() {
        // The profile the commands ran under; what it enforced is in `x-cordon.sandbox`.
        receipt.sandbox_profile_id = Some(profile(mode).to_string());
    }
    let mut extension = receipt.extension.take().unwrap_or_else(|| json!({}));
    extension["sandbox"] = json!({ "commands": reports });
    crate::checkpointing::annotate(&mut extension, taken.as_ref());
    approval.extend(&mut extension);
    receipt.extension = Some(extension);
    let code = if let Some((id, why)) = blocked {
        receipt.status = ReceiptStatus::Blocked;
        receipt.exit_code = Some(i32::from(BLOCKED));
        receipt.failed_command_id = Some(id);
        receipt.error = Some(why);
        BLOCKED
    } else if let Some(result) = &last {
        receipt.exit_code = Some(result.exit_code);
        receipt.stdout_hash = Some(format!("sha256:{}", result.stdout.sha256));
        receipt.stderr_hash = Some(format!("sha256:{}", result.stderr.sha256));
        receipt.stdout_truncated = result.stdout.truncated;
        receipt.stderr_truncated = result.stderr.truncated;
        match result.status {
            CommandStatus::Success => {
                receipt.status = ReceiptStatus::Success;
                receipt.error = Some(String::new());
            }
            CommandStatus::Blocked => {
                eprintln!(
                    "cordon: blocked: {}",
                    result
                        .error
                        .as_deref()
                        .unwrap_or("the sandbox refused to start the command")
                );
                receipt.status = ReceiptStatus::Blocked;
                receipt.failed_command_id = Some(result.id.clone());
                receipt.error = result.error.clone();
            }
            CommandStatus::Failed | CommandStatus::TimedOut => {
                // A runner message (it could not start, its cwd is gone, it timed out) is said
                // here too; a command's own failure already spoke on its stderr.
                if let Some(why) = &result.error {
                    eprintln!("cordon: command {} did not complete: {why}", result.id);
                }
                receipt.status = ReceiptStatus::Failed;
                receipt.failed_command_id = Some(result.id.clone());
                // A runner message, never the command's stderr (CSC copies stderr into the receipt).
                receipt.error = Some(result.error.clone().unwrap_or_else(|| {
                    format!("command {} exited with {}", result.id, result.exit_code)
                }));
            }
        }
        process_exit_code(result.exit_code)
    } else {
        receipt.status = ReceiptStatus::Success;
        receipt.error = Some(String::new());
        exit::OK
    };

    let mut value = receipt.to_value();
    let recorded = match (&record, &mut evidence.journal, &evidence.signer) {
        (Some(rec), Some(journal), Some(signer)) => {
            record::link_decision(&mut value, rec)
                .map_err(|e| CliError::internal(e.to_string()))?;
            match journal.append_signed(&value, signer) {
                Ok(stored) => Ok(stored.entry),
                Err(e) => Err((value, e)),
            }
        }
        _ => Ok(sign_standalone(value, evidence)?),
    };
    match recorded {
        Ok(signed) => {
            if record.is_none() || !quiet_receipt(evidence, receipt_path) {
                write_value(&signed, receipt_path)?;
            }
            checkpoint(evidence)?;
            Ok(code)
        }
        Err((value, e)) => {
            // The command already ran: hand the caller a signed receipt, then fail loudly.
            let signed = sign_standalone(value, evidence)?;
            write_value(&signed, receipt_path)?;
            Err(CliError::internal(format!(
                "the run's receipt could not be appended to the journal: {e}"
            )))
        }
    }
}

/// Whether the receipt stays out of stdout because the journal holds it (see
/// [`Evidence::receipt_in_journal_only`]).
fn quiet_receipt(evidence: &Evidence, receipt_path: Option<&Path>) -> bool {
    receipt_path.is_none() && evidence.receipt_in_journal_only && evidence.journal.is_some()
}

/// Signs a receipt on its own (CSC style) when there is a key; unsigned otherwise.
fn sign_standalone(value: Value, evidence: &Evidence) -> Result<Value, CliError> {
    match &evidence.signer {
        Some(signer) => cordon_journal::sign_receipt(&value, signer)
            .map_err(|e| CliError::internal(format!("cannot sign the receipt: {e}"))),
        None => Ok(value),
    }
}

/// Writes a checkpoint of the journal as it is now (every run ends with one).
fn checkpoint(evidence: &mut Evidence) -> Result<(), CliError> {
    if let (Some(journal), Some(signer)) = (&mut evidence.journal, &evidence.signer) {
        journal
            .write_checkpoint(signer)
            .map_err(|e| CliError::internal(format!("cannot write the journal checkpoint: {e}")))?;
    }
    Ok(())
}

/// Maps one contract command onto a one-command sandbox plan and its confinement, or says why it
/// cannot run in this mode.
fn map_command(
    command: &Command,
    gate: &Gate,
    mode: ModeArg,
) -> Result<(Plan, Confinement), String> {
    let pipeline: Vec<Vec<OsString>> = command
        .argvs()
        .map(|argv| argv.iter().map(OsString::from).collect())
        .collect();
    let policy_env: &[String] = &gate.policy.env_allow;
    // A name passes only when the contract asks for it and the policy permits it.
    let allowed: Vec<&str> = command
        .env_allow
        .iter()
        .filter(|n| policy_env.contains(n))
        .map(String::as_str)
        .collect();
    let env = cordon_sandbox::scrubbed_env(&allowed, |name| std::env::var_os(name));
    let planned = PlannedCommand {
        id: command.id.clone(),
        pipeline,
        cwd: PathBuf::from(&command.cwd),
        timeout: Duration::from_secs(u64::from(command.timeout_sec)),
        env,
    };
    let mut confinement = match mode {
        ModeArg::Local => Confinement::local(),
        ModeArg::Hardened => Confinement::hardened(),
    };
    if mode == ModeArg::Hardened {
        confinement.network = match command.network {
            NetworkMode::Deny => Network::Deny,
            NetworkMode::Full => Network::Allow,
            NetworkMode::Allowlisted => {
                return Err(format!(
                    "command {}: hardened mode cannot enforce a host allowlist (network: allowlisted); declare deny or full",
                    command.id
                ))
            }
        };
        confinement.read_paths = command
            .read_paths
            .iter()
            .map(|p| literal_prefix(p))
            .collect();
        confinement.read_paths.push(PathBuf::from(&command.cwd));
        confinement.write_paths = command
            .write_paths
            .iter()
            .map(|p| literal_prefix(p))
            .collect();
    }
    Ok((
        Plan {
            commands: vec![planned],
        },
        confinement,
    ))
}

/// The literal directory prefix of a scope pattern: every component up to the first one with a
/// glob character (`/repo/**` → `/repo`, `/a/*.txt` → `/a`).
pub(crate) fn literal_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    for component in Path::new(pattern).components() {
        let text = component.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            break;
        }
        prefix.push(component);
    }
    prefix
}

fn base_receipt(
    gate: &Gate,
    mode: ModeArg,
    started: OffsetDateTime,
    ended: OffsetDateTime,
) -> ExecutionReceipt {
    let policy = &gate.policy;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    ExecutionReceipt {
        receipt_version: RECEIPT_VERSION.to_string(),
        contract_id: gate.contract.contract_id.clone(),
        // Unique per execution (CSC's is deterministic and collides across runs).
        execution_id: format!(
            "exec_{}_{nanos:x}_{}",
            gate.contract.contract_id,
            std::process::id()
        ),
        contract_sha256: gate.contract_sha256.clone(),
        status: ReceiptStatus::Blocked,
        started_at: cordon_core::time::rfc3339(started),
        ended_at: cordon_core::time::rfc3339(ended),
        policy_profile: policy.name.clone(),
        exit_code: None,
        stdout_hash: None,
        stderr_hash: None,
        stdout_truncated: false,
        stderr_truncated: false,
        artifacts: None,
        policy_schema_version: policy.schema_version.clone(),
        policy_sha256: Some(policy.sha256.clone()),
        runner_version: Some(format!("cordon {}", env!("CARGO_PKG_VERSION"))),
        execution_mode: Some(match mode {
            ModeArg::Local => ExecutionMode::Local,
            ModeArg::Hardened => ExecutionMode::Hardened,
        }),
        sandbox_profile_id: None,
        signing_key_id: None,
        effect_summary: None,
        completed_command_ids: None,
        failed_command_id: None,
        error: None,
        signature: None,
        // What the front end recorded (the agent's text, the synthesized contract, a redirect,
        // a checkpoint request); the sandbox report is added once the commands ran.
        extension: Some(gate.record_details()).filter(|d| !d.is_null()),
    }
}

/// CSC's declarative summary (what was declared, not observed).
fn effect_summary(gate: &Gate) -> EffectSummary {
    let commands = &gate.contract.commands;
    EffectSummary {
        files_written: 0,
        network_used: commands.iter().any(|c| c.network != NetworkMode::Deny),
        secrets_used: commands.iter().map(|c| c.secret_refs.len() as u64).sum(),
    }
}

/// A shell-style process exit code: negative (signalled) codes become 128 + signal.
fn process_exit_code(code: i32) -> u8 {
    let code = if code < 0 { 128 - code } else { code };
    u8::try_from(code).unwrap_or(u8::MAX)
}

fn write_receipt(receipt: &ExecutionReceipt, path: Option<&Path>) -> Result<(), CliError> {
    write_value(&receipt.to_value(), path)
}

/// Writes a receipt as one line of canonical JSON to `path` (temporary file, fsync, rename: a
/// reader never sees half a receipt), or prints it as the last line of stdout.
fn write_value(receipt: &Value, path: Option<&Path>) -> Result<(), CliError> {
    let text = cordon_core::canonical::to_string(receipt)
        .map_err(|e| CliError::internal(format!("cannot serialize the receipt: {e}")))?;
    match path {
        Some(path) => write_atomically(path, format!("{text}\n").as_bytes()).map_err(|e| {
            CliError::internal(format!("{}: cannot write the receipt: {e}", path.display()))
        }),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let parent = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => {
            std::fs::create_dir_all(parent)?;
            parent.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "receipt".into());
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefix_strips_globs() {
        assert_eq!(
            literal_prefix("/workspace/repo/**"),
            PathBuf::from("/workspace/repo")
        );
        assert_eq!(literal_prefix("/a/*.txt"), PathBuf::from("/a"));
        assert_eq!(literal_prefix("/a/b"), PathBuf::from("/a/b"));
        assert_eq!(literal_prefix("/a/b/"), PathBuf::from("/a/b"));
        assert_eq!(literal_prefix("/**"), PathBuf::from("/"));
        assert_eq!(literal_prefix("/a/b?c/d"), PathBuf::from("/a"));
    }

    #[test]
    fn signalled_codes_map_to_128_plus_signal() {
        assert_eq!(process_exit_code(0), 0);
        assert_eq!(process_exit_code(124), 124);
        assert_eq!(process_exit_code(-9), 137);
        assert_eq!(process_exit_code(-13), 141);
    }
}
