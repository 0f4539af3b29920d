//! `cordon exec --shell 'TEXT'` / `cordon exec -- ARGV…`: the agent-facing front end. It turns
//! what the agent wrote into facts and a CSC contract and decides under the policy in force (the
//! default pack unless `--policy` names another).
//!
//! NOT YET RUN: executing the decided contract must go through the same code path as `cordon run`
//! (sandbox, receipt, journal), and `cmd/run.rs` only offers `run(Args)` over a contract *file*
//! judged by the CSC engine. Until run.rs exposes its execution half over an already-made decision
//! (e.g. `pub fn execute(gate: &Gate, mode, receipt) -> Result<u8, CliError>`, with the gate able
//! to carry a native decision and its policy digest), `exec` decides and prints the decision and
//! never starts the command; it says so on stderr. Exit codes are the decision's: 0 allow (also
//! allow_with_checkpoint), 1 deny, 2 needs approval, 3 redirect.

use cordon_core::Outcome;
use cordon_policy::facts::display_argv;
use serde::Serialize;

use super::explain::{self, Request};
use crate::exit::{self, CliError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Local,
    Hardened,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: Request,
    /// How the command would be confined once execution is wired (see the module docs).
    #[arg(long, value_enum, default_value = "local")]
    pub mode: ModeArg,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let analysis = explain::analyse(&args.request)?;
    let decision = &analysis.decision;
    if args.request.json {
        #[derive(Serialize)]
        struct ExecDecision<'a> {
            outcome: Outcome,
            decision: &'a cordon_core::Verdict,
            reason_codes: Vec<&'static str>,
            sentence: &'a str,
            policy: &'a str,
            policy_sha256: &'a str,
            contract_sha256: Option<String>,
            redirects: Vec<(String, String)>,
            executed: bool,
        }
        let redirects = decision
            .commands
            .iter()
            .filter_map(|c| {
                c.redirect_argv
                    .as_ref()
                    .map(|to| (c.facts.display(), display_argv(to)))
            })
            .collect();
        let out = ExecDecision {
            outcome: decision.outcome,
            decision: &decision.decision,
            reason_codes: decision.reason_codes.iter().map(|c| c.as_str()).collect(),
            sentence: &decision.sentence,
            policy: &decision.policy_name,
            policy_sha256: &decision.policy_sha256,
            contract_sha256: analysis.contract.as_ref().map(|c| c.sha256()),
            redirects,
            executed: false,
        };
        let text = serde_json::to_string(&out)
            .map_err(|e| CliError::internal(format!("cannot serialize the decision: {e}")))?;
        println!("{text}");
    } else {
        println!(
            "{} — {}",
            decision.outcome.as_str().to_uppercase(),
            decision.sentence
        );
    }
    if matches!(
        decision.outcome,
        Outcome::Allow | Outcome::AllowWithCheckpoint | Outcome::Redirect
    ) {
        eprintln!(
            "cordon exec: decision only: running is not wired to `cordon run` yet ({} mode requested); the command was not started",
            match args.mode {
                ModeArg::Local => "local",
                ModeArg::Hardened => "hardened",
            }
        );
    }
    Ok(match decision.outcome {
        Outcome::Allow | Outcome::AllowWithCheckpoint => exit::OK,
        Outcome::Deny => exit::DENY,
        Outcome::Ask => exit::NEEDS_APPROVAL,
        Outcome::Redirect => exit::REDIRECT,
    })
}
