//! `cordon explain --shell 'TEXT'` (or `-- ARGV…`): the parse, the synthesized contract, the rules
//! that matched, the hosts each command may reach, the outcome, and the smallest policy change
//! that would allow it. Runs nothing.
//!
//! The outcome is `cordon exec`'s for the same text, so it assumes the same mode: hardened (the
//! kernel confines what runs to the policy's envelope, and a host list answers the rules that
//! ask only about the network) unless `--mode local` names local. The explanation says which.
//!
//! It also names the contract `cordon exec` runs for the same text (`cli::exec::planned`, the same
//! session, cwd and mode resolution): `--json` prints it whole as `contract` (the judged one is
//! `synthesized_contract`), so an approval signed for it is accepted by `exec`.

use cordon_governor::{Analysis, Decision, Mode, Probe as _, RunRequest};
use cordon_policy::egress::{CommandHosts, NetworkGrant};
use cordon_policy::facts;
use cordon_policy::native::suggest;
use serde::Serialize;

use crate::exit::{self, CliError};
use crate::governing::mode_parser;
use crate::judging::JudgeArgs;
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: JudgeArgs,
    /// The mode the outcome assumes, as `cordon exec` would run it: `hardened` (the default; the
    /// kernel confines what runs to the policy's envelope) or `local`.
    #[arg(long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Explain as `cordon exec --session ID` would run it (default: `CORDON_SESSION`): the
    /// session's cwd and policy where no option says otherwise, and its id in the contract.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

pub fn run(mut args: Args) -> Result<u8, CliError> {
    let mode = args.mode.unwrap_or(Mode::Hardened);
    let (analysis, planned) =
        crate::cli::exec::planned(&mut args.request, args.session.as_deref(), mode)?;
    let suggestions = suggest::suggestions(&analysis.native);
    if args.request.json {
        let text = explained_json(&analysis, &planned, &suggestions)?;
        return output::answer(&format!("{text}\n"), exit::OK);
    }
    let mut text = render_explanation(&analysis, &suggestions);
    text.push_str(&cordon_core::display::visible(&match &planned {
        Ok(run) => format!(
            "exec runs: contract {} (sha256 {}); `explain --json` prints it, `approve --shell` signs it",
            run.contract.contract_id, run.contract_sha256
        ),
        Err(refusal) => format!("exec runs: nothing ({})", refusal.sentence),
    }));
    text.push('\n');
    output::answer(&text, exit::OK)
}

/// The explanation as JSON. `contract` is the contract `cordon exec` runs for the same text, byte
/// for byte (so an approval signed for it is accepted by `exec`), with its `contract_sha256`;
/// the per-command contract the policy judged is `synthesized_contract`. When nothing would run,
/// `contract` is null and `refused` says why.
fn explained_json(
    analysis: &Analysis,
    planned: &Result<RunRequest, Box<Decision>>,
    suggestions: &[String],
) -> Result<String, CliError> {
    #[derive(Serialize)]
    struct Explained<'a> {
        #[serde(flatten)]
        analysis: &'a Analysis,
        suggestions: &'a [String],
    }
    let failed =
        |e: serde_json::Error| CliError::internal(format!("cannot serialize the explanation: {e}"));
    let mut value = serde_json::to_value(Explained {
        analysis,
        suggestions,
    })
    .map_err(failed)?;
    if let Some(object) = value.as_object_mut() {
        if let Some(synthesized) = object.remove("contract") {
            object.insert("synthesized_contract".into(), synthesized);
        }
        match planned {
            Ok(run) => {
                let contract = serde_json::to_value(&run.contract).map_err(failed)?;
                object.insert("contract".into(), contract);
                object.insert("contract_sha256".into(), run.contract_sha256.clone().into());
            }
            Err(refusal) => {
                object.insert("contract".into(), serde_json::Value::Null);
                object.insert("refused".into(), refusal.sentence.clone().into());
            }
        }
    }
    serde_json::to_string_pretty(&value).map_err(failed)
}

/// What the outcome assumes about how the text runs.
fn mode_line(mode: Mode) -> &'static str {
    match mode {
        Mode::Hardened => {
            "hardened (the outcome assumes the kernel confines what runs to the policy's envelope, as `cordon exec` runs it)"
        }
        Mode::Local => "local (the outcome assumes nothing but this judgement: no kernel confinement)",
    }
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

// One line of the explanation, newline included; what the agent wrote in it is shown with every
// misleading character as a visible escape (`cordon_core::display::visible`).
macro_rules! say {
    ($out:ident, $($arg:tt)*) => {{
        $out.push_str(&cordon_core::display::visible(&format!($($arg)*)));
        $out.push('\n');
    }};
}

fn render_explanation(analysis: &Analysis, suggestions: &[String]) -> String {
    let mut out = String::new();
    let decision = &analysis.native;
    say!(out, "text:     {}", analysis.text);
    say!(out, "cwd:      {}", analysis.cwd);
    say!(out, "mode:     {}", mode_line(analysis.mode));
    if analysis.mode == Mode::Hardened {
        if let Some(why) = cordon_governor::SystemProbe.hardened_unavailable() {
            say!(out, "kernel:   {why}: `cordon exec` would be blocked here unless --mode local names local mode");
        }
    }
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
        out.push_str(&render_command(i, facts, decision.commands.get(i)));
        out.push_str(&render_hosts(facts, analysis.egress.commands.get(i)));
    }
    say!(
        out,
        "network:  {}",
        network_sentence(&analysis.egress.grant)
    );
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

/// The hosts one command's rules grant, when it uses the network or a rule grants it some.
fn render_hosts(
    facts: &cordon_policy::facts::CommandFacts,
    hosts: Option<&CommandHosts>,
) -> String {
    let mut out = String::new();
    match hosts.and_then(|h| h.hosts.as_ref()) {
        Some(list) if list.is_empty() => {
            say!(out, "     hosts:    none (its rules grant an empty list)")
        }
        Some(list) => say!(out, "     hosts:    {}", list.to_strings().join(", ")),
        None if facts.network => say!(out, "     hosts:    no rule lists any"),
        None => {}
    }
    if let Some(answered) = hosts.map(|h| &h.answered).filter(|a| !a.is_empty()) {
        say!(
            out,
            "     answered: {} (a hardened run reaches only the listed hosts)",
            answered.join(", ")
        );
    }
    out
}

/// What a hardened run of the whole text may reach.
fn network_sentence(grant: &NetworkGrant) -> String {
    match grant {
        NetworkGrant::Deny => "none (no command uses it)".to_string(),
        NetworkGrant::Loopback => {
            "a hardened run reaches only its own loopback, which the sandbox keeps private: the host's loopback services stay out of reach".to_string()
        }
        NetworkGrant::Hosts(list) if list.is_empty() => {
            "a hardened run reaches no host: its rules grant an empty list".to_string()
        }
        NetworkGrant::Hosts(list) => format!(
            "a hardened run reaches only {}, through cordon's egress proxy",
            list.to_strings().join(", ")
        ),
        NetworkGrant::Full => {
            "a hardened run gets the host's network: a command uses it and no rule lists its hosts"
                .to_string()
        }
    }
}

/// One command of the explanation: its facts, and the rules that judged it.
fn render_command(
    i: usize,
    facts: &cordon_policy::facts::CommandFacts,
    judgement: Option<&cordon_policy::native::CommandJudgement>,
) -> String {
    let mut out = String::new();
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
    out
}
