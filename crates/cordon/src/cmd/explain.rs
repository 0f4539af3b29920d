//! `cordon explain --shell 'TEXT'` (or `-- ARGV…`): the parse, the synthesized contract, the rules
//! that matched, the outcome, and the smallest policy change that would allow it. Runs nothing.

use std::path::PathBuf;

use cordon_core::{Contract, Outcome, ReasonCode};
use cordon_policy::facts::{self, Facts};
use cordon_policy::knowledge::Knowledge;
use cordon_policy::native::{self, suggest, CordonReason, Decision};
use cordon_policy::shell;
use cordon_policy::synth::{self, Requester};
use serde::Serialize;

use super::policy::{self as policy_cmd, PolicyInForce};
use crate::exit::{self, CliError};

/// What to judge and under which policy; shared by `exec` and `explain`.
#[derive(Debug, clap::Args)]
pub struct Request {
    /// Shell text as the agent wrote it (parsed with a bash grammar).
    #[arg(long, conflicts_with = "argv")]
    pub shell: Option<String>,
    /// A policy file (native rules or a CSC profile); default: the config home's policy, else the built-in pack.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The directory the text runs in (default: the current directory).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// What `{workspace}` means in the policy (default: the cwd).
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The command to judge, when not given as shell text.
    #[arg(last = true)]
    pub argv: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: Request,
}

/// Everything cordon worked out about one request.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub text: String,
    pub cwd: String,
    pub facts: Facts,
    pub decision: Decision,
    /// The CSC code when the policy is a CSC profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csc_reason_code: Option<ReasonCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<Contract>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_error: Option<String>,
    /// The parse, for `exec` to decide how the text is started (`cordon_policy::launch`).
    #[serde(skip)]
    pub script: shell::Script,
    /// The policy the decision was made under.
    #[serde(skip)]
    pub policy: PolicyInForce,
}

pub fn analyse(request: &Request) -> Result<Analysis, CliError> {
    let session = policy_cmd::session(request.cwd.as_deref())?;
    let (text, script) = match (&request.shell, request.argv.is_empty()) {
        (Some(text), true) => (text.clone(), shell::parse(text, &session)),
        (None, false) => (
            facts::display_argv(&request.argv),
            shell::from_argv(&request.argv, &session),
        ),
        (Some(_), false) => {
            return Err(CliError::usage(
                "give either --shell TEXT or -- ARGV…, not both",
            ))
        }
        (None, true) => {
            return Err(CliError::usage(
                "nothing to judge: give --shell TEXT or -- ARGV…",
            ))
        }
    };
    let knowledge = Knowledge::builtin();
    let facts = facts::of_script(&script, &session, knowledge);
    let (contract, contract_error) = match synth::contract(&text, &facts, &Requester::default()) {
        Ok(contract) => (Some(contract), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let policy = policy_cmd::policy_in_force(request.policy.as_deref())?;
    let (decision, csc_reason_code) = match &policy {
        PolicyInForce::Native(loaded) => {
            let compiled = policy_cmd::compile(loaded, &session, request.workspace.as_deref())?;
            (
                native::decide_facts(&facts, &compiled, &session, knowledge),
                None,
            )
        }
        PolicyInForce::Cedar(cedar) => {
            let context = policy_cmd::context(&session, request.workspace.as_deref())?;
            let engine = cordon_policy::cedar::CedarEngine::new(&cedar.text, &context)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", cedar.name)))?;
            (engine.decision(&facts, &cedar.name), None)
        }
        PolicyInForce::Csc(loaded) => csc_decision(
            &facts,
            contract.as_ref(),
            contract_error.as_deref(),
            &policy,
            loaded,
        ),
    };
    Ok(Analysis {
        text,
        cwd: session.cwd.clone(),
        facts,
        decision,
        csc_reason_code,
        contract,
        contract_error,
        script,
        policy,
    })
}

/// A CSC profile judges the synthesized contract with the CSC engine; what the front end could
/// not resolve is asked first, whatever the profile says.
fn csc_decision(
    facts: &Facts,
    contract: Option<&Contract>,
    contract_error: Option<&str>,
    policy: &PolicyInForce,
    loaded: &cordon_core::policy::LoadedPolicy,
) -> (Decision, Option<ReasonCode>) {
    let unresolved: Vec<String> = facts
        .unresolved
        .iter()
        .cloned()
        .chain(facts.commands.iter().flat_map(|c| {
            c.unresolved
                .iter()
                .map(|u| format!("`{}`: {u}", c.display()))
        }))
        .collect();
    let make = |outcome: Outcome, codes: Vec<CordonReason>, sentence: String| Decision {
        outcome,
        decision: outcome.verdict(),
        reason_codes: codes,
        sentence,
        commands: Vec::new(),
        unresolved: facts.unresolved.clone(),
        policy_name: policy.name().to_string(),
        policy_sha256: policy.sha256().to_string(),
    };
    let judgement = match contract {
        Some(contract) => cordon_policy::evaluate(contract, &loaded.policy),
        None => {
            let why = contract_error.unwrap_or("the text cannot be written as a contract");
            return (
                make(
                    Outcome::Deny,
                    vec![CordonReason::ContractUnrepresentable],
                    format!("Denied: {why}."),
                ),
                None,
            );
        }
    };
    let outcome = judgement.outcome();
    if !unresolved.is_empty() && outcome != Outcome::Deny {
        let sentence = format!(
            "Needs approval: the text cannot be judged before it runs: {}.",
            unresolved.join("; ")
        );
        return (
            make(
                Outcome::Ask,
                vec![CordonReason::UnresolvedCommand],
                sentence,
            ),
            Some(judgement.reason_code),
        );
    }
    let label = match outcome {
        Outcome::Allow => "Allowed",
        Outcome::Deny => "Denied",
        _ => "Needs approval",
    };
    (
        make(
            outcome,
            Vec::new(),
            format!("{label}: {} (CSC profile).", judgement.reason),
        ),
        Some(judgement.reason_code),
    )
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let analysis = analyse(&args.request)?;
    let suggestions = suggest::suggestions(&analysis.decision);
    if args.request.json {
        #[derive(Serialize)]
        struct Explained<'a> {
            #[serde(flatten)]
            analysis: &'a Analysis,
            suggestions: &'a [String],
        }
        let text = serde_json::to_string_pretty(&Explained {
            analysis: &analysis,
            suggestions: &suggestions,
        })
        .map_err(|e| CliError::internal(format!("cannot serialize the explanation: {e}")))?;
        println!("{text}");
        return Ok(exit::OK);
    }
    print_explanation(&analysis, &suggestions);
    Ok(exit::OK)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

fn print_explanation(analysis: &Analysis, suggestions: &[String]) {
    let decision = &analysis.decision;
    println!("text:     {}", analysis.text);
    println!("cwd:      {}", analysis.cwd);
    println!(
        "policy:   {} (sha256 {})",
        decision.policy_name, decision.policy_sha256
    );
    for problem in &analysis.facts.unresolved {
        println!("problem:  {problem}");
    }
    println!("commands:");
    for (i, facts) in analysis.facts.commands.iter().enumerate() {
        let judgement = decision.commands.get(i);
        let outcome = judgement.map_or("-", |j| j.outcome.as_str());
        println!("  {}. {}   [{}]", i + 1, facts.display(), outcome);
        if !facts.wrappers.is_empty() {
            println!("     via:      {}", facts.wrappers.join(" → "));
        }
        println!("     cwd:      {}", facts.cwd);
        println!(
            "     effect:   {}   network: {}   destructive: {}   known: {}",
            facts.effect,
            yes_no(facts.network),
            yes_no(facts.destructive),
            yes_no(facts.known)
        );
        println!("     reads:    {}", list(&facts.reads));
        println!("     writes:   {}", list(&facts.writes));
        for why in &facts.unresolved {
            println!("     unresolved: {why}");
        }
        if let Some(judgement) = judgement {
            for hit in &judgement.hits {
                println!(
                    "     rule:     {} → {} ({})",
                    hit.rule,
                    hit.outcome.as_str(),
                    hit.reason
                );
            }
            if judgement.hits.is_empty() {
                println!("     rule:     none matched (default)");
            }
            if let Some(argv) = &judgement.redirect_argv {
                println!("     runs as:  {}", facts::display_argv(argv));
            }
        }
    }
    let codes: Vec<&str> = decision.reason_codes.iter().map(|c| c.as_str()).collect();
    println!(
        "outcome:  {} ({}) — {}",
        decision.outcome.as_str(),
        codes.join(", "),
        decision.sentence
    );
    match (&analysis.contract, &analysis.contract_error) {
        (Some(contract), _) => {
            let json = serde_json::to_string_pretty(contract).unwrap_or_default();
            println!("contract ({}):", contract.sha256());
            for line in json.lines() {
                println!("  {line}");
            }
        }
        (None, Some(error)) => println!("contract: none — {error}"),
        (None, None) => {}
    }
    if suggestions.is_empty() {
        println!("to allow: nothing to change");
    } else {
        for suggestion in suggestions {
            println!("to allow: {suggestion}");
        }
    }
}
