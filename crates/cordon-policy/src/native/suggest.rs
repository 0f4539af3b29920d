//! "What would it take to allow this?": the smallest policy change, per command, that `cordon
//! explain` prints. Suggestions are at the granularity users asked for (program and subcommand,
//! never the exact argv), and never for what no policy may allow (unresolved commands).

use cordon_core::Outcome;

use super::decide::Decision;

/// One suggestion per command that is not allowed outright, in the order the commands run.
pub fn suggestions(decision: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    for problem in &decision.unresolved {
        out.push(format!("no policy change can allow this text: {problem}; rewrite it so every command is written out"));
    }
    for judgement in &decision.commands {
        let facts = &judgement.facts;
        let shown = facts.display();
        if !facts.unresolved.is_empty() {
            out.push(format!(
                "`{shown}` cannot be allowed by any policy ({}); write the command out literally",
                facts.unresolved.join("; ")
            ));
            continue;
        }
        let command = facts.command_path.join(" ");
        match judgement.outcome {
            Outcome::Allow => {}
            Outcome::AllowWithCheckpoint | Outcome::Redirect => out.push(format!(
                "`{shown}` already runs ({}); to run it without that, add `unless: {{command: [\"{command}\"]}}` to rule {}",
                judgement.outcome.as_str(),
                judgement.hits.iter().find(|h| h.outcome == judgement.outcome).map_or("?", |h| h.rule.as_str()),
            )),
            Outcome::Ask | Outcome::Deny if judgement.hits.iter().all(|h| h.outcome == Outcome::Allow) => {
                out.push(format!(
                    "no rule allows `{shown}`; add:\n  - id: allow-{}\n    outcome: allow\n    reason: <why this is safe>\n    match: {{command: [\"{command}\"]}}",
                    command.replace(' ', "-").replace('/', "_")
                ));
            }
            Outcome::Ask | Outcome::Deny => {
                for hit in judgement.hits.iter().filter(|h| h.outcome != Outcome::Allow) {
                    out.push(format!(
                        "rule {} ({}) matches `{shown}`; to allow it, add to that rule `unless: {{command: [\"{command}\"]}}`{}",
                        hit.rule,
                        hit.outcome.as_str(),
                        if judgement.hits.iter().any(|h| h.outcome == Outcome::Allow) {
                            String::new()
                        } else {
                            format!(" and add an allow rule matching `{command}`")
                        }
                    ));
                }
            }
        }
    }
    out
}
