//! Deciding: every simple command is judged on its own, and the text gets the most severe
//! outcome of its parts. Anything unresolved is asked, never allowed.

use cordon_core::contract::Contract;
use cordon_core::decision::{self, ClassifiedEffect, PolicyDecision};
use cordon_core::{Outcome, ReasonCode};
use serde::Serialize;
use time::OffsetDateTime;

use super::matcher::{CompiledPolicy, CompiledRule};
use super::{severity, CordonReason, RedirectSpec};
use crate::enforcement::Enforcement;
use crate::facts::{self, display_argv, loopback, CommandFacts, Facts};
use crate::knowledge::Knowledge;
use crate::shell::{self, pathutil, Session};

/// A rule that matched a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RuleHit {
    pub rule: String,
    pub outcome: Outcome,
    pub reason: String,
}

/// The judgement of one simple command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CommandJudgement {
    pub facts: CommandFacts,
    pub outcome: Outcome,
    pub reason_codes: Vec<CordonReason>,
    /// Every rule that matched, in policy order.
    pub hits: Vec<RuleHit>,
    /// For a redirect: what runs instead. The original stays in `facts.argv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_argv: Option<Vec<String>>,
    pub sentence: String,
}

/// The decision on a whole text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Decision {
    /// cordon's outcome; the CSC verdict a CSC peer sees is `outcome.verdict()`.
    pub outcome: Outcome,
    pub reason_codes: Vec<CordonReason>,
    /// One sentence a person reads.
    pub sentence: String,
    pub commands: Vec<CommandJudgement>,
    /// Problems with the text as a whole.
    pub unresolved: Vec<String>,
    pub policy_name: String,
    pub policy_sha256: String,
}

/// Parses `text`, derives facts with the built-in knowledge base, and decides, assuming local
/// mode (nothing but this judgement stands between the text and the machine).
pub fn decide(text: &str, session: &Session, policy: &CompiledPolicy) -> (Facts, Decision) {
    decide_under(text, session, policy, Enforcement::Local)
}

/// As [`decide`], assuming the enforcement the caller will start the text under.
pub fn decide_under(
    text: &str,
    session: &Session,
    policy: &CompiledPolicy,
    enforcement: Enforcement,
) -> (Facts, Decision) {
    let knowledge = Knowledge::builtin();
    let script = shell::parse(text, session);
    let mut facts = facts::of_script(&script, session, knowledge);
    facts::assume(&mut facts, enforcement);
    let decision = decide_facts(&facts, policy, session, knowledge);
    (facts, decision)
}

/// Decides on facts already derived.
pub fn decide_facts(
    facts: &Facts,
    policy: &CompiledPolicy,
    session: &Session,
    knowledge: &Knowledge,
) -> Decision {
    let commands: Vec<CommandJudgement> = facts
        .commands
        .iter()
        .map(|f| judge(f, policy, session, knowledge))
        .collect();
    // With no command the text is either unresolved (asked below) or runs nothing (denied).
    let mut outcome = commands
        .iter()
        .map(|c| c.outcome)
        .max_by_key(|o| severity(*o))
        .unwrap_or(Outcome::Allow);
    let mut reason_codes = codes_at(&commands, outcome);
    let bounded = reason_codes.contains(&CordonReason::EnvelopeBounded);
    let own_loopback = commands.iter().any(|c| {
        c.facts.enforcement.confines() && c.facts.tags.iter().any(|t| t == loopback::LOOPBACK)
    });
    let mut sentence = match outcome {
        Outcome::Allow if commands.len() > 1 && bounded => format!(
            "Allowed (hardened mode): each of the {} commands is allowed; what cordon cannot judge in full, the kernel confines to the policy's envelope with no network{}.",
            commands.len(),
            if own_loopback { " but the run's own loopback" } else { "" }
        ),
        Outcome::Allow if commands.len() > 1 && own_loopback => format!(
            "Allowed (hardened mode): each of the {} commands is allowed, and the network they use reaches only the run's own loopback, which the sandbox keeps private.",
            commands.len()
        ),
        Outcome::Allow if commands.len() > 1 => {
            format!(
                "Allowed: each of the {} commands is allowed by the policy.",
                commands.len()
            )
        }
        _ => commands
            .iter()
            .find(|c| c.outcome == outcome)
            .map(|c| c.sentence.clone())
            .unwrap_or_default(),
    };
    if !facts.unresolved.is_empty() && severity(outcome) < severity(Outcome::Ask) {
        if facts.enforcement.confines() {
            // Whatever the text hides still runs inside the envelope, with no network.
            outcome = Outcome::AllowWithCheckpoint;
            reason_codes = vec![CordonReason::EnvelopeBounded];
            sentence = format!(
                "Allowed with a checkpoint (hardened mode): the text cannot be judged in full ({}), but the kernel confines it to the policy's envelope with no network; what it may change is snapshotted first.",
                facts.unresolved.join("; ")
            );
        } else {
            outcome = Outcome::Ask;
            reason_codes = vec![CordonReason::UnresolvedCommand];
            sentence = format!(
                "Needs approval: the text cannot be judged before it runs: {}.",
                facts.unresolved.join("; ")
            );
        }
    }
    if commands.is_empty() && facts.unresolved.is_empty() {
        outcome = Outcome::Deny;
        reason_codes = vec![CordonReason::NothingToRun];
        sentence = "Denied: the text runs no command.".to_string();
    }
    // A rule whose globs could not be built was not really evaluated: fail closed.
    if let Some(why) = policy.unusable() {
        outcome = Outcome::Deny;
        reason_codes = vec![CordonReason::RuleDenied];
        sentence = format!("Denied: the policy cannot be used: {why}.");
    }
    let policy = (policy.name.as_str(), policy.sha256.as_str());
    Decision::new(outcome, reason_codes, sentence, commands, facts, policy)
}

impl Decision {
    /// The decision on `facts` with `outcome`, under the policy named `policy` (name, SHA-256).
    pub(crate) fn new(
        outcome: Outcome,
        reason_codes: Vec<CordonReason>,
        sentence: String,
        commands: Vec<CommandJudgement>,
        facts: &Facts,
        policy: (&str, &str),
    ) -> Decision {
        Decision {
            outcome,
            reason_codes,
            sentence,
            commands,
            unresolved: facts.unresolved.clone(),
            policy_name: policy.0.to_string(),
            policy_sha256: policy.1.to_string(),
        }
    }
}

/// The reason codes of the commands judged `outcome`, each once, in the order they first appear.
pub(crate) fn codes_at(commands: &[CommandJudgement], outcome: Outcome) -> Vec<CordonReason> {
    let mut reason_codes: Vec<CordonReason> = Vec::new();
    for command in commands.iter().filter(|c| c.outcome == outcome) {
        for code in &command.reason_codes {
            if !reason_codes.contains(code) {
                reason_codes.push(*code);
            }
        }
    }
    reason_codes
}

fn hits_for<'p>(
    facts: &CommandFacts,
    policy: &'p CompiledPolicy,
    redirects: bool,
) -> Vec<&'p CompiledRule> {
    policy
        .rules
        .iter()
        .filter(|r| redirects || r.outcome != Outcome::Redirect)
        .filter(|r| r.applies(facts))
        .collect()
}

fn worst(hits: &[&CompiledRule], default: Outcome) -> Outcome {
    hits.iter()
        .map(|r| r.outcome)
        .max_by_key(|o| severity(*o))
        .unwrap_or(default)
}

/// The reason code of a rule's outcome.
pub(crate) fn code_for(outcome: Outcome) -> CordonReason {
    match outcome {
        Outcome::Allow => CordonReason::RuleAllowed,
        Outcome::AllowWithCheckpoint => CordonReason::RuleCheckpointed,
        Outcome::Redirect => CordonReason::RuleRedirected,
        Outcome::Ask => CordonReason::RuleAsked,
        Outcome::Deny => CordonReason::RuleDenied,
    }
}

fn judge(
    facts: &CommandFacts,
    policy: &CompiledPolicy,
    session: &Session,
    knowledge: &Knowledge,
) -> CommandJudgement {
    let hits = hits_for(facts, policy, true);
    let mut outcome = worst(&hits, policy.default);
    let mut reason_codes = vec![if hits.is_empty() {
        CordonReason::NoRuleMatched
    } else {
        code_for(outcome)
    }];
    let shown = facts.display();
    let deciding = hits.iter().find(|r| r.outcome == outcome);
    let mut sentence = match (outcome, deciding) {
        (_, None) => format!(
            "{}: no rule covers `{shown}`, and the policy's default is {}.",
            label(outcome),
            outcome.as_str()
        ),
        // Nothing named to write (a script, computed targets): in a hardened run the checkpoint
        // records what the command changes in the workspace as it goes (a person read "nothing
        // is snapshotted … so it can be rolled back" as a contradiction, red-team round five).
        // So it does for every hardened run, whatever the text names: a path it names in the
        // command's own `/tmp` is scratch, not snapshotted, and the sentence must not say so.
        (Outcome::AllowWithCheckpoint, Some(rule))
            if facts.writes.is_empty()
                || matches!(facts.enforcement, Enforcement::Hardened { .. }) =>
        {
            format!(
            "Allowed with a checkpoint: what `{shown}` changes in the workspace is recorded before it changes, so it can be rolled back ({}, rule {}).",
            trim_period(&rule.reason),
            rule.id
        )
        }
        (Outcome::AllowWithCheckpoint, Some(rule)) => format!(
            "Allowed with a checkpoint: {} is snapshotted before `{shown}` runs, so it can be rolled back ({}, rule {}).",
            scope_text(&facts.writes),
            trim_period(&rule.reason),
            rule.id
        ),
        (_, Some(rule)) => {
            let on = rule
                .named_path(facts)
                .filter(|path| !shown.contains(path.as_str()))
                .map_or_else(String::new, |path| format!(" ({path})"));
            format!("{}: `{shown}`{on}: {} (rule {}).", label(outcome), trim_period(&rule.reason), rule.id)
        }
    };

    let bounded = facts.enforcement.confines()
        && matches!(outcome, Outcome::Allow | Outcome::AllowWithCheckpoint);
    if !facts.unresolved.is_empty() && bounded {
        // Hardened mode with no network: what cordon cannot see still lands in the envelope. A
        // command that can neither write nor run code stays allowed; any other is snapshotted.
        if !facts.read_only && outcome == Outcome::Allow {
            outcome = Outcome::AllowWithCheckpoint;
            reason_codes = vec![CordonReason::EnvelopeBounded];
        } else {
            reason_codes.push(CordonReason::EnvelopeBounded);
        }
        let how = if outcome == Outcome::Allow {
            "Allowed (hardened mode)"
        } else {
            "Allowed with a checkpoint (hardened mode)"
        };
        sentence = format!(
            "{how}: `{shown}` cannot be judged in full ({}), but the kernel confines it to the policy's envelope with no network{}.",
            facts.unresolved.join("; "),
            if outcome == Outcome::Allow { "" } else { "; what it may change is snapshotted first" }
        );
    } else if !facts.unresolved.is_empty() && severity(outcome) <= severity(Outcome::Ask) {
        // Unresolved is the first thing a person must know; a rule that also asks is kept as a code.
        let rule_asked = outcome == Outcome::Ask && !hits.is_empty();
        outcome = Outcome::Ask;
        reason_codes = vec![CordonReason::UnresolvedCommand];
        if rule_asked {
            reason_codes.push(CordonReason::RuleAsked);
        }
        sentence = format!(
            "Needs approval: `{shown}` cannot be judged before it runs: {}.",
            facts.unresolved.join("; ")
        );
    } else if !facts.unresolved.is_empty() {
        reason_codes.push(CordonReason::UnresolvedCommand);
    }

    let mut redirect_argv = None;
    if outcome == Outcome::Redirect {
        let rule = hits.iter().find(|r| r.outcome == Outcome::Redirect);
        match rule.and_then(|r| r.redirect.as_ref().map(|spec| (r, spec))) {
            Some((rule, spec)) => match check_redirect(facts, spec, policy, session, knowledge) {
                Ok(replacement) => {
                    sentence = format!(
                        "Redirected: `{shown}` runs as `{}` instead: {} (rule {}).",
                        display_argv(&replacement),
                        trim_period(&rule.reason),
                        rule.id
                    );
                    redirect_argv = Some(replacement);
                }
                Err(why) => {
                    outcome = Outcome::Ask;
                    reason_codes = vec![CordonReason::RedirectRefused];
                    sentence = format!(
                        "Needs approval: rule {} would redirect `{shown}`, but {why}.",
                        rule.id
                    );
                }
            },
            None => {
                outcome = Outcome::Ask;
                reason_codes = vec![CordonReason::RedirectRefused];
                sentence = format!(
                    "Needs approval: `{shown}` matched a redirect rule without a replacement."
                );
            }
        }
    }

    CommandJudgement {
        facts: facts.clone(),
        outcome,
        reason_codes,
        hits: hits
            .iter()
            .map(|r| RuleHit {
                rule: r.id.clone(),
                outcome: r.outcome,
                reason: r.reason.clone(),
            })
            .collect(),
        redirect_argv,
        sentence,
    }
}

/// How a sentence names an outcome.
pub(crate) fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Allow => "Allowed",
        Outcome::Deny => "Denied",
        Outcome::Ask => "Needs approval",
        Outcome::Redirect => "Redirected",
        Outcome::AllowWithCheckpoint => "Allowed with a checkpoint",
    }
}

fn trim_period(text: &str) -> &str {
    text.trim().trim_end_matches('.')
}

fn scope_text(writes: &[String]) -> String {
    if writes.is_empty() {
        "nothing".to_string()
    } else {
        writes
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Expands a redirect template against the original argv.
pub fn expand_template(spec: &RedirectSpec, argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for element in &spec.argv {
        if let Some(n) = element
            .strip_prefix("{rest:")
            .and_then(|r| r.strip_suffix('}'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            out.extend(
                argv.iter()
                    .skip(n)
                    .filter(|a| !spec.drop.contains(a))
                    .cloned(),
            );
        } else if let Some(n) = element
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .and_then(|n| n.parse::<usize>().ok())
        {
            if let Some(a) = argv.get(n) {
                out.push(a.clone());
            }
        } else {
            out.push(element.clone());
        }
    }
    out
}

/// The replacement argv if the redirect keeps within the original's scope and is itself allowed.
fn check_redirect(
    original: &CommandFacts,
    spec: &RedirectSpec,
    policy: &CompiledPolicy,
    session: &Session,
    knowledge: &Knowledge,
) -> Result<Vec<String>, String> {
    let replacement = expand_template(spec, &original.argv);
    if replacement.is_empty() {
        return Err("the replacement is empty".to_string());
    }
    let here = Session {
        cwd: original.cwd.clone(),
        home: session.home.clone(),
    };
    let script = shell::from_argv(&replacement, &here);
    if !script.is_fully_resolved() || script.commands.len() != 1 {
        return Err("the replacement cannot be judged statically".to_string());
    }
    let new = facts::of_command(&script.commands[0], &here, knowledge);
    let within =
        |path: &String, scope: &[&String]| scope.iter().any(|s| pathutil::is_within(path, s));
    let original_writes: Vec<&String> = original.writes.iter().collect();
    let original_scope: Vec<&String> = original
        .reads
        .iter()
        .chain(&original.writes)
        .chain(std::iter::once(&original.cwd))
        .collect();
    if let Some(extra) = new.writes.iter().find(|w| !within(w, &original_writes)) {
        return Err(format!(
            "the replacement writes `{extra}`, which the original does not"
        ));
    }
    if let Some(extra) = new.reads.iter().find(|r| !within(r, &original_scope)) {
        return Err(format!(
            "the replacement reads `{extra}`, which the original does not"
        ));
    }
    if new.network && !original.network {
        return Err("the replacement uses the network and the original does not".to_string());
    }
    if new.privileged && !original.privileged || new.inline_code && !original.inline_code {
        return Err("the replacement needs more privilege than the original".to_string());
    }
    let hits = hits_for(&new, policy, false);
    let verdict = worst(&hits, policy.default);
    if !matches!(verdict, Outcome::Allow | Outcome::AllowWithCheckpoint) {
        return Err(format!(
            "the replacement `{}` is not itself allowed ({})",
            new.display(),
            verdict.as_str()
        ));
    }
    Ok(replacement)
}

impl Decision {
    /// The enforcement the decision assumed (recorded in each command's facts; local when the
    /// text ran no command).
    pub fn enforcement(&self) -> Enforcement {
        self.commands
            .first()
            .map(|c| c.facts.enforcement)
            .unwrap_or_default()
    }

    /// The CSC-shaped PolicyDecision for this decision on `contract`: CSC's verdict and CSC
    /// reason codes, cordon's outcome, and the sentence.
    pub fn to_policy_decision(
        &self,
        contract: &Contract,
        contract_sha256: &str,
        now: OffsetDateTime,
    ) -> PolicyDecision {
        let csc_code = match self.outcome {
            Outcome::Allow | Outcome::Redirect | Outcome::AllowWithCheckpoint => ReasonCode::Allow,
            Outcome::Ask => ReasonCode::ApprovalRequired,
            Outcome::Deny => ReasonCode::CommandNotAllowed,
        };
        PolicyDecision {
            contract_id: contract.contract_id.clone(),
            contract_sha256: Some(contract_sha256.to_string()),
            decision: self.outcome.verdict(),
            policy_profile: self.policy_name.clone(),
            classified_effects: contract
                .commands
                .iter()
                .map(|c| ClassifiedEffect {
                    command_id: c.id.clone(),
                    effect_type: c.proposed_effect_type.as_str().to_string(),
                })
                .collect(),
            reasons: vec![self.sentence.clone()],
            reason_codes: vec![csc_code],
            expires_at: decision::expiry_from(now),
            outcome: Some(self.outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_splice_and_drop() {
        let spec = RedirectSpec {
            argv: vec![
                "git".into(),
                "push".into(),
                "--force-with-lease".into(),
                "{rest:2}".into(),
            ],
            drop: vec!["--force".into(), "-f".into()],
        };
        let argv: Vec<String> = ["git", "push", "--force", "origin", "main"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            expand_template(&spec, &argv),
            vec!["git", "push", "--force-with-lease", "origin", "main"]
        );
    }
}
