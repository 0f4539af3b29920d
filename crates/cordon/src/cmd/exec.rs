//! `cordon exec --shell 'TEXT'` / `cordon exec -- ARGV…`: the agent-facing front end. It turns
//! what the agent wrote into facts and a CSC contract, decides under the policy in force (the
//! config home's `policy.yaml`, the default pack on first use, or `--policy`), and then runs the
//! decision through `cordon run`'s own execution (`run::execute`): the same sandbox, receipt and
//! journal, so the two cannot drift apart.
//!
//! What runs is the contract `cordon_policy::launch` builds: the argv itself, or `bash -c TEXT`
//! for text that needs a shell, under the union of the parts' scopes. What the agent wrote and the
//! per-command contract the policy judged are recorded next to it (`x-cordon.front_end`) in the
//! decision record and the receipt.
//!
//! Outcomes: allow runs; deny starts nothing (exit 1); ask reaches `execute` as a needs-approval
//! verdict, whose approval wait decides (runs when approved; 126 when denied or unanswered; 2
//! with no wait); redirect runs the replacement argv instead and says so on stderr;
//! allow_with_checkpoint runs with the receipt marked `checkpoint.requested`. Exit codes are
//! `cordon run`'s: the command's own exit code when it ran, 126 when it was blocked (it could not
//! be recorded, or a granted scope would expose the signing key or the journal).
//!
//! The policy may be native rules, a CSC profile (which judges the synthesized contract) or Cedar
//! policies (`*.cedar`); `explain::analyse` gives all three the native decision's shape. With a
//! `cordon serve` gateway up, the decision comes from it, on its cached policy
//! (`gateway::analyse_for_exec`, which says when it falls back to deciding here); the command
//! always runs in this process, under this process's sandbox.
//!
//! Sessions: under `--session ID` or `CORDON_SESSION` the session's cwd, policy and journal apply
//! where no option says otherwise, and its id is the contract's `actor.session_id`
//! (`crate::sessions`); an unknown or ended session blocks (126).
//!
//! Evidence: with no `--signing-key`, the config home's key signs and its journal records every
//! decision; the receipt then stays in the journal (stdout is the command's output) unless
//! `--receipt F` names a file.

use std::path::PathBuf;

use cordon_core::{Outcome, Verdict};
use cordon_policy::launch::{self, LaunchError, Request as LaunchRequest};
use cordon_policy::native::CordonReason;
use serde::Serialize;
use time::OffsetDateTime;

use super::explain::{Analysis, Request};
use super::run::{self, Evidence, EvidenceError, ModeArg};
use crate::exit::{self, CliError};
use crate::gate::{self, FrontEnd, Gate, RedirectRecord};
use crate::home::{self, Home};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: Request,
    /// `hardened` confines the command with Landlock, seccomp and namespaces, or refuses to run.
    #[arg(long, value_enum, default_value = "local")]
    pub mode: ModeArg,
    /// Write the receipt here (atomically); default: the journal only (or stdout without one).
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Private key to sign with instead of the config home's (PKCS#8 PEM or raw seed).
    #[arg(long, requires = "key_id")]
    pub signing_key: Option<PathBuf>,
    /// Key id the signatures name (with `--signing-key`).
    #[arg(long, requires = "signing_key")]
    pub key_id: Option<String>,
    /// Journal directory; default: `CORDON_JOURNAL`, else the config home's journal when its key
    /// signs.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// A pre-signed approval for an asked request (as `cordon run --approval`); repeatable.
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// Seconds to wait for an approver when the policy asks; 0 does not ask (exit 2). Default:
    /// `CORDON_APPROVAL_TIMEOUT`, else `cordon run`'s default.
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
    /// Run under this session (default: `CORDON_SESSION`): its cwd, policy and journal apply
    /// where no option says otherwise, and the receipt names it. Unknown or ended: blocked (126).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

pub fn run(mut args: Args) -> Result<u8, CliError> {
    let session = crate::sessions::apply_to_exec(
        args.session.as_deref(),
        &mut args.request.cwd,
        &mut args.request.policy,
        &mut args.journal,
    )?;
    let home = home::first_use()?;
    // A hardened run can only be granted existing paths, so it is judged on what it is granted.
    args.request.hardened = args.mode == ModeArg::Hardened;
    let analysis = crate::gateway::analyse_for_exec(&args.request)?;
    let gate = match gate_for(&args.request, &analysis, session) {
        Ok(gate) => gate,
        Err(refusal) => {
            // Nothing that could run or be recorded as a contract: a denial, said once.
            report(&args, &refusal, false)?;
            return Ok(exit::DENY);
        }
    };
    report(&args, &Told::of(&gate), true)?;
    let evidence = evidence(&args, home.as_ref());
    run::execute_with(&gate, args.mode, evidence, args.receipt.as_deref())
}

/// Builds the gate: the contract that runs, the native (or CSC) decision, and the front end's
/// record. `Err` is a denial that has nothing to run.
fn gate_for(request: &Request, analysis: &Analysis, session: Option<String>) -> Result<Gate, Told> {
    let mut decision = analysis.decision.clone();
    let launch_request = match &request.shell {
        Some(text) => LaunchRequest::Text(text),
        None => LaunchRequest::Argv(&request.argv),
    };
    let plan = launch::plan(
        launch_request,
        &analysis.script,
        &analysis.facts,
        &decision,
        &analysis.cwd,
        &crate::sessions::requester(session.as_deref()),
    )
    .map_err(|e| {
        let code = match e {
            LaunchError::Empty => CordonReason::NothingToRun,
            LaunchError::Invalid(_) => CordonReason::ContractUnrepresentable,
        };
        Told {
            outcome: Outcome::Deny,
            codes: vec![code.as_str().to_string()],
            sentence: format!("Denied: {e}."),
            ran_instead: None,
        }
    })?;
    if let Some(why) = &plan.refused_redirect {
        decision.outcome = Outcome::Ask;
        decision.decision = Verdict::NeedsApproval;
        decision.reason_codes = vec![CordonReason::RedirectRefused];
        decision.sentence = format!("Needs approval: {why}.");
    }
    let policy = analysis.policy.clone();
    let contract_sha256 = plan.contract.sha256();
    let mut csc =
        decision.to_policy_decision(&plan.contract, &contract_sha256, OffsetDateTime::now_utc());
    // The CSC-shaped codes are CSC's three; the record keeps cordon's own, which say more.
    let mut codes: Vec<String> = decision
        .reason_codes
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    // Only a CSC profile's analysis carries a CSC code.
    if let Some(csc_code) = analysis.csc_reason_code {
        codes.push(csc_code.as_str().to_string());
    }
    if codes.is_empty() {
        codes.push(format!("EXEC_{}", decision.outcome.as_str().to_uppercase()));
    }
    csc.outcome = Some(decision.outcome);
    let front_end = FrontEnd {
        text: analysis.text.clone(),
        request: if request.shell.is_some() {
            "shell"
        } else {
            "argv"
        },
        launch: plan.launch,
        synthesized_contract_sha256: analysis.contract.as_ref().map(|c| c.sha256()),
        synthesized_contract: analysis.contract.clone(),
        synthesized_contract_error: analysis.contract_error.clone(),
        redirect: plan.redirect.map(|(original, replacement)| RedirectRecord {
            original,
            replacement,
        }),
        session,
        absent: analysis
            .facts
            .commands
            .iter()
            .flat_map(|c| c.absent.iter().cloned())
            .fold(Vec::new(), |mut all, path| {
                if !all.contains(&path) {
                    all.push(path);
                }
                all
            }),
    };
    Ok(gate::from_front_end(
        plan.contract,
        policy,
        csc,
        codes,
        decision.sentence.clone(),
        front_end,
    ))
}

/// What the agent is told on stderr (and, with `--json`, as one JSON line there too).
#[derive(Debug, Serialize)]
struct Told {
    outcome: Outcome,
    codes: Vec<String>,
    sentence: String,
    /// The argv that runs in place of the agent's command, for a redirect.
    #[serde(skip_serializing_if = "Option::is_none")]
    ran_instead: Option<Vec<String>>,
}

impl Told {
    fn of(gate: &Gate) -> Told {
        Told {
            outcome: gate.outcome,
            codes: gate.reason_codes.clone(),
            sentence: gate.sentence.clone(),
            ran_instead: gate
                .front_end
                .as_ref()
                .and_then(|f| f.redirect.as_ref())
                .map(|r| r.replacement.clone()),
        }
    }
}

/// Tells the agent the decision on stderr: every outcome but a plain allow gets its sentence (a
/// redirect names what runs instead); `--json` adds one machine-readable line.
fn report(args: &Args, told: &Told, will_execute: bool) -> Result<(), CliError> {
    if told.outcome != Outcome::Allow {
        eprintln!("cordon: {}", told.sentence);
    }
    if let Some(argv) = &told.ran_instead {
        eprintln!(
            "cordon: running `{}` instead of what was asked",
            cordon_policy::facts::display_argv(argv)
        );
    }
    if args.request.json {
        #[derive(Serialize)]
        struct Line<'a> {
            #[serde(flatten)]
            told: &'a Told,
            executes: bool,
        }
        let executes = will_execute && told.outcome.verdict() == Verdict::Allow;
        let text = serde_json::to_string(&Line { told, executes })
            .map_err(|e| CliError::internal(format!("cannot serialize the decision: {e}")))?;
        eprintln!("{text}");
    }
    Ok(())
}

/// The signer and journal: `--signing-key` (with `--journal` or `CORDON_JOURNAL`), else the
/// config home's key and journal, else none (local mode only, unsigned receipt).
fn evidence(args: &Args, home: Option<&Home>) -> Result<Evidence, EvidenceError> {
    let explicit_journal = args
        .journal
        .clone()
        .or_else(|| std::env::var_os("CORDON_JOURNAL").map(PathBuf::from));
    let loaded = match (&args.signing_key, &args.key_id, home) {
        (Some(key), Some(id), _) => {
            Evidence::load(Some(key), Some(id), explicit_journal.as_deref(), args.mode)
        }
        (None, None, Some(home)) => {
            let (key, id) = home.signing_key().map_err(|e| {
                EvidenceError::Unrecordable(format!("the config home cannot sign: {}", e.message))
            })?;
            let journal = explicit_journal.unwrap_or_else(|| home.journal_dir());
            Evidence::load(Some(&key), Some(&id), Some(&journal), args.mode)
        }
        _ => Evidence::load(None, None, explicit_journal.as_deref(), args.mode),
    };
    loaded.map(|mut evidence| {
        evidence.receipt_in_journal_only = true;
        evidence.approval =
            crate::approvals::Options::new(args.approvals.clone(), args.approval_timeout);
        evidence
    })
}
