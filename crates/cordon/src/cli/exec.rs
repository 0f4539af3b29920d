//! `cordon exec --shell 'TEXT'` / `cordon exec -- ARGV…`: the agent-facing front end. It turns
//! what the agent wrote into facts and a CSC contract, decides under the policy in force (the
//! config home's `policy.yaml`, the default pack on first use, or `--policy`), and then runs the
//! decision through the same pipeline as `cordon run` (`cordon_governor::govern`): the same sandbox,
//! receipt and journal, so the two cannot drift apart.
//!
//! What runs is the contract `cordon_policy::launch` builds: the argv itself, or `bash -c TEXT`
//! for text that needs a shell, under the union of the parts' scopes. What the agent wrote and the
//! per-command contract the policy judged are recorded next to it (`x-cordon.front_end`) in the
//! decision record and the receipt.
//!
//! Outcomes: allow runs; deny starts nothing (exit 1); ask reaches `execute` as a needs-approval
//! decision, whose approval wait decides (runs when approved; 126 when denied or unanswered; 2
//! with no wait); redirect runs the replacement argv instead and says so on stderr;
//! allow_with_checkpoint runs with the receipt marked `checkpoint.requested`. Exit codes are
//! `cordon run`'s: the command's own exit code when it ran, 126 when it was blocked (it could not
//! be recorded, or a granted scope would expose the signing key or the journal).
//!
//! The policy may be native rules, a CSC profile (which judges the synthesized contract) or Cedar
//! policies (`*.cedar`); `cordon_governor::analyse` gives all three the native decision's shape.
//! With a `cordon serve` gateway up, the decision comes from it, on its cached policy
//! (`gateway::client::analyse_for_exec`, which says when it falls back to deciding here); the
//! command always runs in this process, under this process's sandbox.
//!
//! Sessions: under `--session ID` or `CORDON_SESSION` the session's cwd, policy and journal apply
//! where no option says otherwise, and its id is the contract's `actor.session_id`
//! (`crate::sessions`); an unknown or ended session blocks (126).
//!
//! Evidence: with no `--signing-key`, the config home's key signs and its journal records every
//! decision; the receipt then stays in the journal (stdout is the command's output) unless
//! `--receipt F` names a file.
//!
//! Network: a hardened run whose rules grant hosts (`hosts:`) reaches those hosts and nothing
//! else, through cordon's egress proxy: the contract that runs declares `network: allowlisted`,
//! the decision record names the list (`x-cordon.egress`), and the receipt lists every
//! connection. `--egress-resolve NAME=ADDRESS` has the proxy resolve a name itself.

use std::path::PathBuf;
use std::sync::Arc;

use cordon_core::{Outcome, Verdict};
use cordon_governor::policies::{LoadEachTime, PolicySource as _};
use cordon_governor::{
    Decision, EnvelopeSource, Error, FrontEnd, Ledger, Mode, RedirectRecord, RunRequest,
};
use cordon_policy::launch::{self, LaunchError, Request as LaunchRequest};
use cordon_policy::native::CordonReason;
use serde::Serialize;

use cordon_governor::Analysis;

use crate::exit::{self, CliError};
use crate::governing::{self, RunArgs};
use crate::home::{self, Home};
use crate::judging::JudgeArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: JudgeArgs,
    #[command(flatten)]
    pub how: RunArgs,
    /// Run under this session (default: `CORDON_SESSION`): its cwd, policy and journal apply
    /// where no option says otherwise, and the receipt names it. Unknown or ended: blocked (126).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

pub fn run(mut args: Args) -> Result<u8, CliError> {
    args.how.resolver_overrides()?;
    let policy_named = args.request.policy.is_some();
    let session = crate::sessions::apply_to_exec(
        args.session.as_deref(),
        &mut args.request.cwd,
        &mut args.request.policy,
        &mut args.how.journal,
    )?;
    let home = home::first_use()?;
    let (mode, _) = args.how.mode();
    // Judged for the mode it runs in: hardened, the kernel confines it to the envelope.
    args.request.hardened = mode == Mode::Hardened;
    let analysis = crate::gateway::client::analyse_for_exec(
        &args.request,
        crate::gateway::client::ExecPolicy {
            session: session.as_deref(),
            named_on_command_line: policy_named,
        },
    )?;
    let request = match request_for(&args.request, &analysis, session.clone()) {
        Ok(request) => request,
        Err(refusal) => {
            // Nothing that could run or be recorded as a contract: a denial, said once.
            report(&args, &refusal, None, false)?;
            return Ok(exit::DENY);
        }
    };
    let ran_instead = request
        .front_end
        .as_ref()
        .and_then(|f| f.redirect.as_ref())
        .map(|r| r.replacement.clone());
    report(&args, &request.decision, ran_instead, true)?;
    let ledger = ledger(&args, home.as_ref());
    let envelope = match mode {
        Mode::Hardened => Some(envelope_source(&args.request, &analysis)?),
        Mode::Local => None,
    };
    // What the policy called `{workspace}`: a checkpoint scope outside it is announced.
    let context = cordon_governor::analysis::context(&args.request.request()?)
        .map_err(governing::cli_error)?;
    let workspace = Some(PathBuf::from(context.workspace));
    governing::carry_out(
        &request, &args.how, session, workspace, ledger, true, envelope,
    )
}

/// What the run's envelope is made from: the policy that decided (loaded here again when a
/// gateway decided, and then it must be the same policy), the workspace the policy called
/// `{workspace}`, `~`, and cordon's home.
fn envelope_source(judge: &JudgeArgs, analysis: &Analysis) -> Result<EnvelopeSource, CliError> {
    let request = judge.request()?;
    let policy = match &analysis.policy_in_force {
        Some(policy) => Arc::clone(policy),
        None => {
            let policy = LoadEachTime
                .policy(&request.policy)
                .map_err(governing::cli_error)?;
            if policy.sha256() != analysis.policy.sha256 {
                return Err(CliError {
                    code: exit::BLOCKED,
                    message: format!(
                        "blocked: the policy {} changed after the gateway judged the command; run it again",
                        policy.name()
                    ),
                });
            }
            policy
        }
    };
    let context = cordon_governor::analysis::context(&request).map_err(governing::cli_error)?;
    let home = PathBuf::from(&request.home);
    Ok(EnvelopeSource {
        policy,
        workspace: PathBuf::from(context.workspace),
        cordon_home: governing::cordon_home(&home),
        home,
    })
}

/// What `cordon exec` would run for `request` (shell text or an argv) under the session `flag`
/// names (else `CORDON_SESSION`) in `mode`, worked out as `exec` works it out: the session fills
/// in the cwd and policy the command line left unsaid, the text is judged for the mode, and the
/// launch plan makes the contract. `cordon explain --json` prints it and `cordon approve --shell`
/// signs it, so an approval of either is an approval of what `exec` runs. The inner `Err` is a
/// denial with nothing to run.
pub fn planned(
    request: &mut JudgeArgs,
    flag: Option<&str>,
    mode: Mode,
) -> Result<(Analysis, Result<RunRequest, Box<Decision>>), CliError> {
    let session =
        crate::sessions::apply_to_exec(flag, &mut request.cwd, &mut request.policy, &mut None)?;
    request.hardened = mode == Mode::Hardened;
    let analysis = crate::judging::analyse(request)?;
    let run = request_for(request, &analysis, session);
    Ok((analysis, run))
}

/// The request to run: the contract that runs, the decision, and the front end's record. `Err`
/// is a denial that has nothing to run.
fn request_for(
    request: &JudgeArgs,
    analysis: &Analysis,
    session: Option<String>,
) -> Result<RunRequest, Box<Decision>> {
    let launch_request = match &request.shell {
        Some(text) => LaunchRequest::Text(text),
        None => LaunchRequest::Argv(&request.argv),
    };
    let plan = launch::plan(
        launch_request,
        &analysis.script,
        &analysis.facts,
        &analysis.native,
        &analysis.cwd,
        &crate::sessions::requester(session.as_deref()),
    )
    .map_err(|e| {
        let code = match e {
            LaunchError::Empty => CordonReason::NothingToRun,
            LaunchError::Invalid(_) => CordonReason::ContractUnrepresentable,
        };
        Box::new(Decision::deny(
            code,
            &e.to_string(),
            analysis.policy.clone(),
        ))
    })?;
    let mut decision = analysis.decision();
    if let Some(why) = &plan.refused_redirect {
        decision = Decision::new(
            Outcome::Ask,
            vec![cordon_governor::Reason::Cordon(
                CordonReason::RedirectRefused,
            )],
            format!("Needs approval: {why}."),
            decision.policy,
        );
    }
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
    // The secrets the policy grants the text, as it runs: names and rules; the values are
    // resolved only after the decision and any approval.
    let secrets = analysis.secrets.for_run();
    let run = RunRequest::new(plan.contract, decision, Some(front_end)).with_secrets(secrets);
    // A hardened run reaches the hosts its rules list, through the egress proxy, and no others.
    Ok(if request.hardened {
        run.with_network(&analysis.egress.grant)
    } else {
        run
    })
}

/// Tells the agent the decision on stderr: every outcome but a plain allow gets its sentence (a
/// redirect names what runs instead); `--json` adds one machine-readable line.
fn report(
    args: &Args,
    decision: &Decision,
    ran_instead: Option<Vec<String>>,
    will_execute: bool,
) -> Result<(), CliError> {
    // The sentence quotes the agent's text: shown with its misleading characters escaped.
    use cordon_core::display::visible;
    if decision.outcome != Outcome::Allow {
        crate::output::say!("cordon: {}", visible(&decision.sentence));
    }
    if let Some(argv) = &ran_instead {
        crate::output::say!(
            "cordon: running `{}` instead of what was asked",
            visible(&cordon_policy::facts::display_argv(argv))
        );
    }
    if args.request.json {
        /// What the agent is told, as one JSON line on stderr.
        #[derive(Serialize)]
        struct Told<'a> {
            outcome: Outcome,
            codes: Vec<String>,
            sentence: &'a str,
            /// The argv that runs in place of the agent's command, for a redirect.
            #[serde(skip_serializing_if = "Option::is_none")]
            ran_instead: Option<Vec<String>>,
            executes: bool,
        }
        let executes = will_execute && decision.verdict() == Verdict::Allow;
        let told = Told {
            outcome: decision.outcome,
            codes: decision.code_strings(),
            sentence: &decision.sentence,
            ran_instead,
            executes,
        };
        let text = serde_json::to_string(&told)
            .map_err(|e| CliError::internal(format!("cannot serialize the decision: {e}")))?;
        crate::output::say!("{text}");
    }
    Ok(())
}

/// The signer and journal: `--signing-key` (with `--journal` or `CORDON_JOURNAL`), else the
/// config home's key and journal, else none (local mode only, unsigned receipt).
fn ledger(args: &Args, home: Option<&Home>) -> Result<Ledger, Error> {
    let how = &args.how;
    let (mode, _) = how.mode();
    let explicit_journal = governing::journal_named(how.journal.as_deref());
    match (&how.signing_key, &how.key_id, home) {
        (Some(key), Some(id), _) => {
            governing::ledger(Some(key), Some(id), explicit_journal.as_deref(), mode)
        }
        (None, None, Some(home)) => {
            let (key, id) = home.signing_key().map_err(|e| {
                Error::Unrecordable(format!("the config home cannot sign: {}", e.message))
            })?;
            let journal = explicit_journal.unwrap_or_else(|| home.journal_dir());
            Ledger::open(Some((&key, &id)), Some(&journal), mode)
        }
        _ => governing::ledger(None, None, explicit_journal.as_deref(), mode),
    }
}
