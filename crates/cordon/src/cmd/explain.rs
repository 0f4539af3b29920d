//! `cordon explain --shell 'TEXT'` (or `-- ARGV…`): the parse, the synthesized contract, the rules
//! that matched, the outcome, and the smallest policy change that would allow it. Runs nothing.

use std::path::PathBuf;
use std::sync::Arc;

use cordon_core::{Contract, Outcome, ReasonCode};
use cordon_policy::facts::{self, Facts};
use cordon_policy::knowledge::Knowledge;
use cordon_policy::native::{self, suggest, CordonReason, Decision};
use cordon_policy::shell::{self, Session};
use cordon_policy::synth::{self, Requester};
use serde::Serialize;

use super::out;
use super::policy::{self as policy_cmd, PolicyInForce};
use crate::exit::{self, CliError};
use cordon_governor::PolicyRef;

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
    /// The text is judged for a hardened run, where the kernel grants rights on existing paths
    /// only: a write target that does not exist yet is judged (and granted) through its nearest
    /// existing ancestor as well as by name (`facts::grant_creations`). Set by `exec --mode
    /// hardened` and by hooks that rewrite to it; a local run grants nothing, so it judges names.
    #[arg(skip)]
    pub hardened: bool,
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
    /// The engine's decision, with its judgement of every command (`explain` shows them).
    #[serde(rename = "decision")]
    pub native: Decision,
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
    /// The policy the decision was made under, as receipts name it.
    #[serde(skip)]
    pub policy: PolicyRef,
}

impl Analysis {
    /// The decision every front end acts on and records.
    pub fn decision(&self) -> cordon_governor::Decision {
        cordon_governor::Decision::from_native(
            &self.native,
            self.csc_reason_code,
            self.policy.clone(),
        )
    }
}

pub fn analyse(request: &Request) -> Result<Analysis, CliError> {
    analyse_with(request, None)
}

/// `analyse` for a client whose `$HOME` is `home` rather than this process's (the gateway judges
/// for an `exec` client, whose `~` is its own). The policy comes from the gateway's cache when
/// this process is the gateway, else from disk, so both give one answer.
pub fn analyse_with(request: &Request, home: Option<&str>) -> Result<Analysis, CliError> {
    let (session, front) = front(request, home)?;
    let Front {
        text,
        script,
        facts,
        contract,
        contract_error,
    } = front;
    let knowledge = Knowledge::builtin();
    let cache = crate::gateway::policy_cache();
    let policy = match cache {
        Some(cache) => cache.policy_in_force(request.policy.as_deref())?,
        None => Arc::new(policy_cmd::policy_in_force(request.policy.as_deref())?),
    };
    let (native, csc_reason_code) = match policy.as_ref() {
        PolicyInForce::Native(loaded) => {
            let compiled = match cache {
                Some(cache) => cache.compiled(
                    loaded,
                    &policy_cmd::context(&session, request.workspace.as_deref())?,
                )?,
                None => Arc::new(policy_cmd::compile(
                    loaded,
                    &session,
                    request.workspace.as_deref(),
                )?),
            };
            (
                native::decide_facts(&facts, &compiled, &session, knowledge),
                None,
            )
        }
        PolicyInForce::Cedar(cedar) => {
            let context = policy_cmd::context(&session, request.workspace.as_deref())?;
            let engine = match cache {
                Some(cache) => cache.cedar(cedar, &context)?,
                None => Arc::new(
                    cordon_policy::cedar::CedarEngine::new(&cedar.text, &context)
                        .map_err(|e| CliError::invalid_input(format!("{}: {e}", cedar.name)))?,
                ),
            };
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
        native,
        csc_reason_code,
        contract,
        contract_error,
        script,
        policy: policy_ref(&policy),
    })
}

/// What the text is, before any policy: the parse, the facts and the synthesized contract.
/// Deterministic, and cheap next to loading a policy, so an `exec` client works it out itself
/// and only asks the gateway for the decision.
#[derive(Debug)]
pub struct Front {
    pub text: String,
    pub script: shell::Script,
    pub facts: Facts,
    pub contract: Option<Contract>,
    pub contract_error: Option<String>,
}

/// The parse, facts and contract for the request, with `$HOME` = `home` when given.
pub fn front(request: &Request, home: Option<&str>) -> Result<(Session, Front), CliError> {
    let mut session = policy_cmd::session(request.cwd.as_deref())?;
    if let Some(home) = home {
        session.home = home.to_string();
    }
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
    let mut facts = facts::of_script(&script, &session, Knowledge::builtin());
    // A write target that does not exist yet is judged together with the existing directory the
    // sandbox grants instead (the kernel grants rights on existing paths only).
    if request.hardened {
        facts::grant_creations(&mut facts, |path| {
            std::path::Path::new(path).symlink_metadata().is_ok()
        });
        // A program installed in the home directory (`~/.cargo/bin/cargo`) is looked up on the
        // PATH the sandbox will pass, and its toolchain's install tree is judged and granted.
        let path = std::env::var("PATH").unwrap_or_else(|_| cordon_sandbox::DEFAULT_PATH.into());
        facts::grant_toolchains(
            &mut facts,
            &session.home,
            cordon_policy::toolchains::Toolchains::builtin(),
            |c| cordon_policy::toolchains::locate(&c.program, &c.cwd, &path),
            |p| std::path::Path::new(p).exists(),
        );
    }
    let (contract, contract_error) = match synth::contract(&text, &facts, &Requester::default()) {
        Ok(contract) => (Some(contract), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok((
        session,
        Front {
            text,
            script,
            facts,
            contract,
            contract_error,
        },
    ))
}

/// How receipts and decision records name the policy in force.
pub fn policy_ref(policy: &PolicyInForce) -> PolicyRef {
    match policy {
        PolicyInForce::Native(p) => PolicyRef {
            name: p.policy.name.clone(),
            sha256: p.sha256.clone(),
            schema_version: None,
            env_allow: Vec::new(),
        },
        PolicyInForce::Csc(p) => PolicyRef::of_csc(p),
        PolicyInForce::Cedar(p) => PolicyRef {
            name: p.name.clone(),
            sha256: p.sha256.clone(),
            schema_version: None,
            env_allow: Vec::new(),
        },
    }
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
    let suggestions = suggest::suggestions(&analysis.native);
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
        return out::answer(&format!("{text}\n"), exit::OK);
    }
    out::answer(&render_explanation(&analysis, &suggestions), exit::OK)
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

fn render_explanation(analysis: &Analysis, suggestions: &[String]) -> String {
    let mut out = String::new();
    // One line of the explanation, newline included.
    macro_rules! say {
        ($out:ident, $($arg:tt)*) => {{
            $out.push_str(&format!($($arg)*));
            $out.push('\n');
        }};
    }
    let decision = &analysis.native;
    say!(out, "text:     {}", analysis.text);
    say!(out, "cwd:      {}", analysis.cwd);
    say!(
        out,
        "policy:   {} (sha256 {})",
        decision.policy_name,
        decision.policy_sha256
    );
    for problem in &analysis.facts.unresolved {
        say!(out, "problem:  {problem}");
    }
    say!(out, "commands:");
    for (i, facts) in analysis.facts.commands.iter().enumerate() {
        let judgement = decision.commands.get(i);
        let outcome = judgement.map_or("-", |j| j.outcome.as_str());
        say!(out, "  {}. {}   [{}]", i + 1, facts.display(), outcome);
        if !facts.wrappers.is_empty() {
            say!(out, "     via:      {}", facts.wrappers.join(" → "));
        }
        say!(out, "     cwd:      {}", facts.cwd);
        say!(
            out,
            "     effect:   {}   network: {}   destructive: {}   known: {}",
            facts.effect,
            yes_no(facts.network),
            yes_no(facts.destructive),
            yes_no(facts.known)
        );
        say!(out, "     reads:    {}", list(&facts.reads));
        say!(out, "     writes:   {}", list(&facts.writes));
        for why in &facts.unresolved {
            say!(out, "     unresolved: {why}");
        }
        if let Some(judgement) = judgement {
            for hit in &judgement.hits {
                say!(
                    out,
                    "     rule:     {} → {} ({})",
                    hit.rule,
                    hit.outcome.as_str(),
                    hit.reason
                );
            }
            if judgement.hits.is_empty() {
                say!(out, "     rule:     none matched (default)");
            }
            if let Some(argv) = &judgement.redirect_argv {
                say!(out, "     runs as:  {}", facts::display_argv(argv));
            }
        }
    }
    let codes: Vec<&str> = decision.reason_codes.iter().map(|c| c.as_str()).collect();
    say!(
        out,
        "outcome:  {} ({}) — {}",
        decision.outcome.as_str(),
        codes.join(", "),
        decision.sentence
    );
    match (&analysis.contract, &analysis.contract_error) {
        (Some(contract), _) => {
            let json = serde_json::to_string_pretty(contract).unwrap_or_default();
            say!(out, "contract ({}):", contract.sha256());
            for line in json.lines() {
                say!(out, "  {line}");
            }
        }
        (None, Some(error)) => say!(out, "contract: none — {error}"),
        (None, None) => {}
    }
    if suggestions.is_empty() {
        say!(out, "to allow: nothing to change");
    } else {
        for suggestion in suggestions {
            say!(out, "to allow: {suggestion}");
        }
    }
    out
}
