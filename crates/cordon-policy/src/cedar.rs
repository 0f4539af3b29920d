//! Cedar as an alternative decision engine over the same facts as the native rules
//! (docs/front-end.md, "Cedar"). Built with the `cedar` feature.
//!
//! Cedar decides allow or deny; cordon needs five outcomes. The mapping: a `forbid` that applies is
//! deny; a `permit` that applies gives the outcome named by its `@outcome` annotation (`allow`,
//! `ask`, `allow_with_checkpoint`); the most severe applicable policy wins, and with none the
//! outcome is deny — exactly the native engine's precedence and default. Each simple command is
//! asked as several requests: `exec` on the program with the command's facts as context, `read`
//! and `write` on each path, `connect` on each host. Unresolved commands are asked, as natively.
//! Policies are validated against the schema (`data/cedar/schema.cedarschema`) when loaded.

use std::str::FromStr as _;

use cedar_policy::{
    Authorizer, Context as CedarContext, Decision as CedarDecision, Entities, EntityId,
    EntityTypeName, EntityUid, PolicySet, Request, Schema, ValidationMode, Validator,
};
use cordon_core::Outcome;
use serde_json::json;

use crate::facts::{CommandFacts, Facts};
use crate::native::{
    code_for, codes_at, label, severity, CommandJudgement, Context, CordonReason, Decision,
};

/// The schema every Cedar policy set is validated against.
pub const SCHEMA: &str = include_str!("../data/cedar/schema.cedarschema");
/// The Cedar rendering of the core of the default pack.
pub const CODING_AGENT_POLICIES: &str = include_str!("../data/cedar/coding-agent.cedar");

#[derive(Debug, thiserror::Error)]
pub enum CedarError {
    #[error("cedar schema: {0}")]
    Schema(String),
    #[error("cedar policies do not parse: {0}")]
    Parse(String),
    #[error("cedar policies do not validate against the schema: {0}")]
    Validation(String),
    #[error("cedar policy `{0}`: a permit needs @outcome(\"allow\" | \"ask\" | \"allow_with_checkpoint\")")]
    Outcome(String),
}

/// A validated Cedar policy set, ready to judge facts.
pub struct CedarEngine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    /// SHA-256 of the policy text as given (before `{workspace}`/`{home}` expansion).
    pub sha256: String,
}

fn uid(kind: &str, id: &str) -> Option<EntityUid> {
    let name = EntityTypeName::from_str(kind).ok()?;
    Some(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

fn permit_outcome(annotation: Option<&str>) -> Option<Outcome> {
    match annotation {
        Some("allow") => Some(Outcome::Allow),
        Some("ask") => Some(Outcome::Ask),
        Some("allow_with_checkpoint") => Some(Outcome::AllowWithCheckpoint),
        _ => None,
    }
}

impl CedarEngine {
    pub fn new(policy_text: &str, context: &Context) -> Result<CedarEngine, CedarError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| CedarError::Schema(e.to_string()))?;
        let expanded = policy_text
            .replace("{workspace}", &context.workspace)
            .replace("{home}", &context.home);
        let policies =
            PolicySet::from_str(&expanded).map_err(|e| CedarError::Parse(e.to_string()))?;
        let validation =
            Validator::new(schema.clone()).validate(&policies, ValidationMode::default());
        if !validation.validation_passed() {
            let errors: Vec<String> = validation
                .validation_errors()
                .map(|e| e.to_string())
                .collect();
            return Err(CedarError::Validation(errors.join("; ")));
        }
        for policy in policies.policies() {
            let is_permit = policy.effect() == cedar_policy::Effect::Permit;
            if is_permit && permit_outcome(policy.annotation("outcome")).is_none() {
                let name = policy
                    .annotation("id")
                    .map_or_else(|| policy.id().to_string(), str::to_string);
                return Err(CedarError::Outcome(name));
            }
        }
        Ok(CedarEngine {
            schema,
            policies,
            authorizer: Authorizer::new(),
            sha256: cordon_core::hash::sha256_hex(policy_text.as_bytes()),
        })
    }

    /// The outcome of one request's satisfied policies, or `None` when none applied. Evaluation
    /// errors and malformed requests are deny: the engine fails closed.
    fn ask(
        &self,
        action: &str,
        resource: (&str, &str),
        context: serde_json::Value,
    ) -> Option<Outcome> {
        let (Some(principal), Some(action_uid), Some(resource)) = (
            uid("Agent", "agent"),
            uid("Action", action),
            uid(resource.0, resource.1),
        ) else {
            return Some(Outcome::Deny);
        };
        let Ok(context) = CedarContext::from_json_value(context, Some((&self.schema, &action_uid)))
        else {
            return Some(Outcome::Deny);
        };
        let Ok(request) =
            Request::new(principal, action_uid, resource, context, Some(&self.schema))
        else {
            return Some(Outcome::Deny);
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &Entities::empty());
        if response.diagnostics().errors().next().is_some() {
            return Some(Outcome::Deny);
        }
        let mut worst: Option<Outcome> = None;
        for id in response.diagnostics().reason() {
            let outcome = match (response.decision(), self.policies.policy(id)) {
                (CedarDecision::Deny, _) => Outcome::Deny,
                (CedarDecision::Allow, Some(policy)) => {
                    permit_outcome(policy.annotation("outcome")).unwrap_or(Outcome::Deny)
                }
                (CedarDecision::Allow, None) => Outcome::Deny,
            };
            if worst.is_none_or(|w| severity(outcome) > severity(w)) {
                worst = Some(outcome);
            }
        }
        worst
    }

    /// The outcome for one simple command.
    pub fn judge(&self, facts: &CommandFacts) -> Outcome {
        let command = facts.command_path.join(" ");
        let exec_context = json!({
            "command": command,
            "program": facts.program,
            "argv": facts.argv,
            "flags": facts.flags,
            "effect": facts.effect.as_str(),
            "network": facts.network,
            "destructive": facts.destructive,
            "known": facts.known,
            "inline_code": facts.inline_code,
            "privileged": facts.privileged,
            "tags": facts.tags,
            "confined": facts.enforcement.confines(),
        });
        let mut outcomes = vec![self.ask("exec", ("Program", &facts.program), exec_context)];
        for path in &facts.reads {
            outcomes.push(self.ask(
                "read",
                ("Path", path),
                json!({"path": path, "command": command}),
            ));
        }
        for path in &facts.writes {
            outcomes.push(self.ask(
                "write",
                ("Path", path),
                json!({"path": path, "command": command}),
            ));
        }
        let unnamed = ["*".to_string()];
        let hosts: &[String] = if facts.network && facts.hosts.is_empty() {
            &unnamed
        } else {
            &facts.hosts
        };
        for host in hosts {
            outcomes.push(self.ask(
                "connect",
                ("Host", host),
                json!({"host": host, "command": command}),
            ));
        }
        let mut outcome = outcomes
            .into_iter()
            .flatten()
            .max_by_key(|o| severity(*o))
            .unwrap_or(Outcome::Deny);
        if !facts.unresolved.is_empty() && severity(outcome) < severity(Outcome::Ask) {
            outcome = unresolved_outcome(outcome, facts.enforcement.confines(), facts.read_only);
        }
        outcome
    }

    /// The whole decision, in the native engine's shape (so `exec` and `explain` treat both
    /// engines alike): per-command outcomes, cordon's reason codes and a sentence. Cedar names no
    /// rule, so the sentence says the Cedar policy decided; redirects are not expressible here.
    pub fn decision(&self, facts: &Facts, policy_name: &str) -> Decision {
        let commands: Vec<CommandJudgement> = facts
            .commands
            .iter()
            .map(|f| {
                let outcome = self.judge(f);
                let code = if !f.unresolved.is_empty() && outcome == Outcome::Ask {
                    CordonReason::UnresolvedCommand
                } else if !f.unresolved.is_empty() {
                    CordonReason::EnvelopeBounded
                } else {
                    code_for(outcome)
                };
                let why = if code == CordonReason::UnresolvedCommand {
                    format!(
                        "it cannot be judged before it runs: {}",
                        f.unresolved.join("; ")
                    )
                } else {
                    "the Cedar policy decides so".to_string()
                };
                CommandJudgement {
                    sentence: format!("{}: `{}`: {why}.", label(outcome), f.display()),
                    facts: f.clone(),
                    outcome,
                    reason_codes: vec![code],
                    hits: Vec::new(),
                    redirect_argv: None,
                }
            })
            .collect();
        let outcome = self.decide(facts);
        let mut reason_codes = codes_at(&commands, outcome);
        let sentence = match commands.iter().find(|c| c.outcome == outcome) {
            Some(c) => c.sentence.clone(),
            None if facts.commands.is_empty() && facts.unresolved.is_empty() => {
                reason_codes = vec![CordonReason::NothingToRun];
                "Denied: the text runs no command.".to_string()
            }
            None => {
                reason_codes = vec![CordonReason::UnresolvedCommand];
                format!(
                    "{}: the text cannot be judged before it runs: {}.",
                    label(outcome),
                    facts.unresolved.join("; ")
                )
            }
        };
        let policy = (policy_name, self.sha256.as_str());
        Decision::new(outcome, reason_codes, sentence, commands, facts, policy)
    }

    /// The outcome for a whole text: the most severe part; unresolved text is asked; a text that
    /// runs nothing is denied. The same composition as the native engine.
    pub fn decide(&self, facts: &Facts) -> Outcome {
        let mut outcome = facts
            .commands
            .iter()
            .map(|c| self.judge(c))
            .max_by_key(|o| severity(*o))
            .unwrap_or(Outcome::Deny);
        if !facts.unresolved.is_empty() && severity(outcome) < severity(Outcome::Ask) {
            outcome = unresolved_outcome(outcome, facts.enforcement.confines(), false);
        }
        outcome
    }
}

/// What an unresolved command (or text) gets where its policies allowed it: asked in local mode;
/// in hardened mode with no network the envelope bounds it, as in the native engine.
fn unresolved_outcome(outcome: Outcome, confined: bool, read_only: bool) -> Outcome {
    match (confined, outcome) {
        (true, Outcome::Allow) if read_only => Outcome::Allow,
        (true, Outcome::Allow | Outcome::AllowWithCheckpoint) => Outcome::AllowWithCheckpoint,
        _ => Outcome::Ask,
    }
}
