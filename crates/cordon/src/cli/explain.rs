//! `cordon explain --shell 'TEXT'` (or `-- ARGV…`): the parse, the synthesized contract, the rules
//! that matched, the outcome, and the smallest policy change that would allow it. Runs nothing.
//!
//! The outcome is `cordon exec`'s for the same text, so it assumes the same mode: hardened (the
//! kernel confines what runs to the policy's envelope) unless `--mode local` names local. The
//! explanation says which.

use cordon_governor::{Analysis, Mode, Probe as _};
use cordon_policy::facts;
use cordon_policy::native::suggest;
use serde::Serialize;

use crate::exit::{self, CliError};
use crate::governing::mode_parser;
use crate::judging::{self, JudgeArgs};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub request: JudgeArgs,
    /// The mode the outcome assumes, as `cordon exec` would run it: `hardened` (the default; the
    /// kernel confines what runs to the policy's envelope) or `local`.
    #[arg(long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
}

pub fn run(mut args: Args) -> Result<u8, CliError> {
    args.request.hardened = args.mode.unwrap_or(Mode::Hardened) == Mode::Hardened;
    let analysis = judging::analyse(&args.request)?;
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
        return output::answer(&format!("{text}\n"), exit::OK);
    }
    output::answer(&render_explanation(&analysis, &suggestions), exit::OK)
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
