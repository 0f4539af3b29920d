//! Secret grants: which secrets each command of a decision receives, under which environment
//! variable, and what granted them (docs/secrets.md, "Grants").
//!
//! - A native rule grants with `secrets: {GH_TOKEN: github}` (the variable the command reads →
//!   the store's name for the secret) to every command it matches. The rule's outcome still
//!   decides: an `ask` rule's grant reaches the command only once a person approved it.
//! - A CSC contract asks with `secret_refs: [GH_TOKEN]` (variable and secret of one name) or
//!   `[GH_TOKEN=github]`, and gets them when its policy has `allow_secret_refs: true`.
//!
//! These are pure functions of a decision. The caller calls them only after the gate let the
//! commands run; resolving and injecting the values is cordon-secrets' job. A grant never names a
//! value, so a grant can go in any record.

use std::collections::BTreeMap;

use cordon_core::contract::Contract;
use cordon_core::policy::Policy;
use cordon_core::secret::{is_env_name, is_secret_name};
use serde::{Deserialize, Serialize};

use crate::native::{CompiledPolicy, Decision, RuleOutcome};

/// One secret one command receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGrant {
    /// The environment variable the command reads.
    pub env: String,
    /// The store's name for the secret.
    pub secret: String,
    /// What granted it: `rule <id>`, or `contract secret_refs`.
    pub granted_by: String,
}

/// The grants of one contract command (`c1`, `c2`, … in a synthesized contract, in the order of
/// the decision's commands). Commands with no grant are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandGrants {
    pub command_id: String,
    pub grants: Vec<SecretGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("the decision was made under policy {decided}, not under {given}; grants come from the policy that decided")]
    PolicyMismatch { decided: String, given: String },
    /// `first` and `second` say which secret and what granted it: "`github` by rule gh".
    #[error("command {command_id}: the environment variable `{env}` is granted {first} and {second}; a variable carries one secret")]
    Conflict {
        command_id: String,
        env: String,
        first: String,
        second: String,
    },
    #[error("command {command_id}: the secret reference `{reference}` is not `NAME` or `VARIABLE=NAME` (a variable of letters, digits and `_`; a name of letters, digits, `_`, `-` and `.`)")]
    InvalidReference {
        command_id: String,
        reference: String,
    },
    #[error("command {command_id} declares secret references, and the policy does not allow them")]
    NotAllowed { command_id: String },
}

/// What loading a native policy checks about a rule's `secrets`: well-formed names, and an
/// outcome under which the matched command itself runs.
pub(crate) fn check_rule_secrets(
    outcome: &RuleOutcome,
    secrets: &BTreeMap<String, String>,
) -> Result<(), String> {
    if secrets.is_empty() {
        return Ok(());
    }
    match outcome {
        RuleOutcome::Deny => return Err("`secrets` on a deny rule would grant nothing".into()),
        RuleOutcome::Redirect => {
            return Err(
                "`secrets` is not for outcome `redirect`: another command runs instead".into(),
            )
        }
        RuleOutcome::Allow | RuleOutcome::Ask | RuleOutcome::AllowWithCheckpoint => {}
    }
    for (env, secret) in secrets {
        if !is_env_name(env) {
            return Err(format!(
                "`secrets`: `{env}` is not an environment variable name (letters, digits and `_`)"
            ));
        }
        if !is_secret_name(secret) {
            return Err(format!(
                "`secrets`: `{secret}` is not a secret name (1 to 64 letters, digits, `_`, `-` or `.`)"
            ));
        }
    }
    Ok(())
}

/// The grants of a native decision: for each command, the `secrets` of every rule that matched
/// it, in policy order. A redirected command gets none (the command that runs is another one).
pub fn native_grants(
    decision: &Decision,
    policy: &CompiledPolicy,
) -> Result<Vec<CommandGrants>, GrantError> {
    if decision.policy_sha256 != policy.sha256 {
        return Err(GrantError::PolicyMismatch {
            decided: decision.policy_sha256.clone(),
            given: policy.sha256.clone(),
        });
    }
    let mut out = Vec::new();
    for (i, judgement) in decision.commands.iter().enumerate() {
        let command_id = format!("c{}", i + 1);
        if judgement.redirect_argv.is_some() {
            continue;
        }
        let mut grants = Vec::new();
        for hit in &judgement.hits {
            let Some(rule) = policy.rules.iter().find(|r| r.id == hit.rule) else {
                continue;
            };
            for (env, secret) in &rule.secrets {
                let grant = SecretGrant {
                    env: env.clone(),
                    secret: secret.clone(),
                    granted_by: format!("rule {}", rule.id),
                };
                add(&mut grants, grant, &command_id)?;
            }
        }
        if !grants.is_empty() {
            out.push(CommandGrants { command_id, grants });
        }
    }
    Ok(out)
}

/// The grants of a CSC contract's `secret_refs`, under a policy that allows them.
pub fn contract_grants(
    contract: &Contract,
    policy: &Policy,
) -> Result<Vec<CommandGrants>, GrantError> {
    let mut out = Vec::new();
    for command in &contract.commands {
        if command.secret_refs.is_empty() {
            continue;
        }
        if !policy.allow_secret_refs {
            return Err(GrantError::NotAllowed {
                command_id: command.id.clone(),
            });
        }
        let mut grants = Vec::new();
        for reference in &command.secret_refs {
            let (env, secret) = reference
                .split_once('=')
                .unwrap_or((reference.as_str(), reference.as_str()));
            if !is_env_name(env) || !is_secret_name(secret) {
                return Err(GrantError::InvalidReference {
                    command_id: command.id.clone(),
                    reference: reference.clone(),
                });
            }
            let grant = SecretGrant {
                env: env.to_string(),
                secret: secret.to_string(),
                granted_by: "contract secret_refs".to_string(),
            };
            add(&mut grants, grant, &command.id)?;
        }
        out.push(CommandGrants {
            command_id: command.id.clone(),
            grants,
        });
    }
    Ok(out)
}

/// Adds `grant` unless the same variable already carries the same secret; a variable granted
/// two secrets is an error.
fn add(
    grants: &mut Vec<SecretGrant>,
    grant: SecretGrant,
    command_id: &str,
) -> Result<(), GrantError> {
    match grants.iter().find(|g| g.env == grant.env) {
        Some(g) if g.secret == grant.secret => Ok(()),
        Some(g) => Err(GrantError::Conflict {
            command_id: command_id.to_string(),
            first: format!("`{}` by {}", g.secret, g.granted_by),
            second: format!("`{}` by {}", grant.secret, grant.granted_by),
            env: grant.env,
        }),
        None => {
            grants.push(grant);
            Ok(())
        }
    }
}
