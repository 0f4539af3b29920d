//! Secrets in the pipeline (docs/secrets.md, "Integration"): which secrets a decision grants to
//! the commands that run, their resolution after the gate, and what the records say of them.
//!
//! - At decide time, [`SecretGrants`] travel in the [`RunRequest`]: names and the rule that
//!   granted each, never a value. A grant that cannot be given as written is a denial then
//!   ([`for_launch`], [`checked`]).
//! - After the decision and any approval, [`prepare`] loads the store and resolves every grant of
//!   every command before the first one starts; any failure blocks the run with one sentence.
//! - [`RunSecrets`] then puts each command's values into its environment only, is the executor's
//!   output filter, and redacts the receipt's `x-cordon` (the exec recorder's argv above all)
//!   before it is signed, recording how many redactions were made and which grants applied.
//!
//! The redactor covers every value resolved for the run and every value the store holds (not
//! its references), so a value one command left in a file is redacted when a later command of
//! the run prints it. A run with no grant reads the store too when it exists, for the same
//! reason across runs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use cordon_policy::grants::{CommandGrants, SecretGrant};
use cordon_sandbox::OutputFilter;
use cordon_secrets::{
    Redactor, ResolveContext, ResolvedSecret, SecretName, SecretStore, Secrets,
    DEFAULT_COMMAND_TIMEOUT,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::RunRequest;

/// What a decision grants: for each command of the contract that runs, the secrets it receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGrants {
    pub commands: Vec<CommandGrants>,
    /// Whether output and records are redacted of the run's secrets: always, unless a native
    /// policy says `redact_secrets: false` (the tests' positive control).
    pub redact: bool,
}

impl Default for SecretGrants {
    fn default() -> Self {
        SecretGrants {
            commands: Vec::new(),
            redact: true,
        }
    }
}

impl SecretGrants {
    pub fn is_empty(&self) -> bool {
        self.commands.iter().all(|c| c.grants.is_empty())
    }

    /// The grants of the contract command `id`.
    pub fn of(&self, id: &str) -> &[SecretGrant] {
        self.commands
            .iter()
            .find(|c| c.command_id == id)
            .map(|c| c.grants.as_slice())
            .unwrap_or_default()
    }
}

/// Refuses grants whose variable the sandbox never passes or cordon sets itself, before
/// anything is resolved.
pub fn checked(commands: Vec<CommandGrants>) -> Result<Vec<CommandGrants>, String> {
    for command in &commands {
        for grant in &command.grants {
            cordon_secrets::check_env_name(&grant.env)
                .map_err(|e| format!("command {}: {e}", command.command_id))?;
        }
    }
    Ok(commands)
}

/// The grants of the one command `cordon exec` runs, from those of the commands its text was
/// judged as (`judged`, by `c1`, `c2`, … of the decision; `parts` names each command in order).
///
/// A text of several commands runs as a whole under bash, so a variable given to it reaches every
/// part: a grant is given only when every part was granted the same secrets, and is refused
/// otherwise, naming a part that would receive what was not granted to it.
pub fn for_launch(judged: &[CommandGrants], parts: &[String]) -> Result<Vec<SecretGrant>, String> {
    let judged = checked(judged.to_vec())?;
    let grants_of = |i: usize| -> &[SecretGrant] {
        let id = format!("c{}", i + 1);
        judged
            .iter()
            .find(|c| c.command_id == id)
            .map(|c| c.grants.as_slice())
            .unwrap_or_default()
    };
    if parts.len() <= 1 {
        return Ok(grants_of(0).to_vec());
    }
    let holds = |i: usize, grant: &SecretGrant| {
        grants_of(i)
            .iter()
            .any(|g| g.env == grant.env && g.secret == grant.secret)
    };
    let mut merged: Vec<SecretGrant> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        for grant in grants_of(i) {
            if let Some(other) = (0..parts.len()).find(|&j| !holds(j, grant)) {
                return Err(format!(
                    "the secret `{}` is granted to `{part}` (as `{}`, by {}), but the text runs as a whole under bash, where `{}` would receive it too; run `{part}` on its own",
                    grant.secret, grant.env, grant.granted_by, parts[other],
                ));
            }
            // Every part holds it: one grant, naming every rule that gave it.
            match merged.iter_mut().find(|g| g.env == grant.env) {
                Some(g) if !g.granted_by.split(", ").any(|by| by == grant.granted_by) => {
                    g.granted_by = format!("{}, {}", g.granted_by, grant.granted_by);
                }
                Some(_) => {}
                None => merged.push(grant.clone()),
            }
        }
    }
    Ok(merged)
}

/// cordon's own environment as `env:` references read it: a variable's value, if set.
pub type Environment = Arc<dyn Fn(&str) -> Option<OsString> + Send + Sync>;

/// Where the secret store is, and what resolving a reference may use.
#[derive(Clone)]
pub struct SecretsPlace {
    pub store: SecretStore,
    /// The user's home: `~/` in `file:` references, and where `cmd:` references run.
    pub home: PathBuf,
    /// cordon's own environment, for `env:` references (passed in, never read here).
    pub env: Environment,
}

impl std::fmt::Debug for SecretsPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsPlace")
            .field("store", &self.store)
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl SecretsPlace {
    /// The store's content; an empty store when it does not exist.
    pub fn load(&self) -> Result<Secrets, String> {
        self.store.load().map_err(|e| e.to_string())
    }

    /// Whether the store or its key is there (a run then reads it, to redact its values).
    fn in_use(&self) -> bool {
        self.store.path().exists() || self.store.key_path().exists()
    }

    fn context(&self) -> ResolveContext<'_> {
        ResolveContext {
            env: &*self.env,
            home: self.home.clone(),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    /// A redactor for records written after a run, by a process that did not run it (a hook's
    /// tool-outcome entry): every stored value, and the `env:` and `file:` references resolved
    /// now. `cmd:` references are not run for a record (a password manager on every tool call);
    /// their values are redacted only where the run itself redacted them. `None` when the store
    /// holds nothing to redact.
    pub fn record_redactor(&self) -> Result<Option<Redactor>, String> {
        if !self.in_use() {
            return Ok(None);
        }
        let secrets = self.load()?;
        let context = self.context();
        let mut values = Vec::new();
        for (name, kind) in secrets.list() {
            if kind == "cmd" {
                continue;
            }
            // A reference that does not resolve now has no value to leak now.
            if let Ok(value) = secrets.resolve(name.as_str(), &context) {
                values.push((name, value));
            }
        }
        let pairs: Vec<(&str, &[u8])> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.expose()))
            .collect();
        if pairs.is_empty() {
            return Ok(None);
        }
        Redactor::new(pairs).map(Some).map_err(|e| e.to_string())
    }
}

/// The secrets of one run, resolved: each command's values, and the redactor.
#[derive(Debug, Default)]
pub struct RunSecrets {
    resolved: BTreeMap<String, Vec<ResolvedSecret>>,
    /// Grants as recorded (`x-cordon.secrets.grants`).
    grants: Vec<GrantNote>,
    /// `None` when there is nothing to redact, or the policy turned redaction off.
    redactor: Option<Redactor>,
    /// The policy turned redaction off.
    unredacted: bool,
    /// The store was read for this run.
    store_read: bool,
}

/// One grant as records show it: names and the rule, never a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantNote {
    pub command_id: String,
    pub env: String,
    pub secret: String,
    pub granted_by: String,
    /// In a receipt: whether the command started with it in its environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub injected: Option<bool>,
}

/// `x-cordon.secrets`: what was granted (decision records and receipts) and, once a run ended,
/// how its output and records were redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretsNote {
    pub grants: Vec<GrantNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redaction: Option<RedactionNote>,
}

/// How a run's output and records were redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedactionNote {
    /// `on`, or `off` when the policy said `redact_secrets: false`.
    pub state: &'static str,
    /// How many secrets' values it looked for (resolved and stored).
    pub secrets: usize,
    /// Replacements in the commands' stdout and stderr.
    pub output: u64,
    /// Replacements in this receipt's `x-cordon` and `error` (recorded argv, runner messages).
    pub records: u64,
}

impl SecretsNote {
    /// What a request's decision grants, for its decision record; `None` when nothing.
    pub fn decided(grants: &SecretGrants) -> Option<SecretsNote> {
        let grants = notes(grants);
        (!grants.is_empty()).then_some(SecretsNote {
            grants,
            redaction: None,
        })
    }
}

fn notes(grants: &SecretGrants) -> Vec<GrantNote> {
    grants
        .commands
        .iter()
        .flat_map(|c| {
            c.grants.iter().map(|g| GrantNote {
                command_id: c.command_id.clone(),
                env: g.env.clone(),
                secret: g.secret.clone(),
                granted_by: g.granted_by.clone(),
                injected: None,
            })
        })
        .collect()
}

/// Resolves every grant of `request`, for every command, before the first starts, and builds
/// the run's redactor. `Err` is one sentence, and nothing may run: no store where grants need
/// one, a store that cannot be read, a secret that does not resolve.
pub fn prepare(request: &RunRequest, place: Option<&SecretsPlace>) -> Result<RunSecrets, String> {
    let grants = &request.secrets;
    let place = match place {
        Some(place) if !grants.is_empty() || place.in_use() => place,
        Some(_) => return Ok(RunSecrets::default()),
        None if grants.is_empty() => return Ok(RunSecrets::default()),
        None => {
            return Err(
                "the policy grants this run a secret, and there is no cordon home to read the secret store from".into(),
            )
        }
    };
    let secrets = place.load()?;
    let context = place.context();
    let mut resolved = BTreeMap::new();
    let mut all: Vec<ResolvedSecret> = Vec::new();
    for command in &request.contract.commands {
        let wanted = grants
            .of(&command.id)
            .iter()
            .map(|g| (g.env.as_str(), g.secret.as_str()));
        let values = cordon_secrets::resolve_grants(&secrets, wanted, &context)
            .map_err(|e| format!("command {}: {e}", command.id))?;
        all.extend(values.iter().cloned());
        resolved.insert(command.id.clone(), values);
    }
    let redactor = if grants.redact {
        redactor_over(&all, &secrets)?
    } else {
        None
    };
    Ok(RunSecrets {
        resolved,
        grants: notes(grants),
        redactor,
        unredacted: !grants.redact,
        store_read: true,
    })
}

/// One redactor for every value resolved for the run and every value the store holds.
fn redactor_over(
    resolved: &[ResolvedSecret],
    secrets: &Secrets,
) -> Result<Option<Redactor>, String> {
    let mut pairs: Vec<(&SecretName, &[u8])> = Vec::new();
    let resolved = resolved.iter().map(|r| (&r.secret, r.value.expose()));
    let stored = secrets.stored_values().map(|(n, v)| (n, v.expose()));
    for (name, value) in resolved.chain(stored) {
        if !pairs.iter().any(|(n, _)| *n == name) {
            pairs.push((name, value));
        }
    }
    if pairs.is_empty() {
        return Ok(None);
    }
    Redactor::new(pairs.into_iter().map(|(n, v)| (n.as_str(), v)))
        .map(Some)
        .map_err(|e| e.to_string())
}

impl RunSecrets {
    /// What the command `id` receives.
    pub fn of(&self, id: &str) -> &[ResolvedSecret] {
        self.resolved.get(id).map(Vec::as_slice).unwrap_or_default()
    }

    /// The executor's output filter: every stream of every command redacted before it is relayed
    /// or captured. `None`: nothing to redact (or redaction is off).
    pub fn output_filter(&self) -> Option<Arc<dyn OutputFilter>> {
        self.redactor
            .as_ref()
            .map(|r| Arc::new(r.clone()) as Arc<dyn OutputFilter>)
    }

    /// `text` redacted (a runner's message that reaches the agent on stderr).
    pub fn redact_text(&self, text: &str) -> String {
        match &self.redactor {
            Some(r) => r.redact_text(text),
            None => text.to_string(),
        }
    }

    /// The receipt's `x-cordon` (`extension`) and `error` redacted, and `x-cordon.secrets` set:
    /// the grants, which of them were injected (the commands in `started`), and the counts.
    /// Call once, after the run and before signing.
    pub fn seal(
        &self,
        extension: &mut Option<Value>,
        error: &mut Option<String>,
        started: &[String],
    ) {
        let output = self.redactor.as_ref().map_or(0, Redactor::redactions);
        if let Some(redactor) = &self.redactor {
            if let Some(value) = extension.as_mut() {
                redactor.redact_json(value);
            }
            if let Some(text) = error.as_mut() {
                *text = redactor.redact_text(text);
            }
        }
        if !self.store_read {
            return;
        }
        let records = self.redactor.as_ref().map_or(0, Redactor::redactions) - output;
        let grants = self
            .grants
            .iter()
            .map(|g| GrantNote {
                injected: Some(started.contains(&g.command_id)),
                ..g.clone()
            })
            .collect();
        let note = SecretsNote {
            grants,
            redaction: Some(RedactionNote {
                state: if self.unredacted { "off" } else { "on" },
                secrets: self.redactor.as_ref().map_or(0, Redactor::secrets),
                output,
                records,
            }),
        };
        let object = extension.get_or_insert_with(|| Value::Object(Default::default()));
        if let (Value::Object(map), Ok(note)) = (object, serde_json::to_value(note)) {
            map.insert("secrets".into(), note);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn grant(env: &str, secret: &str, by: &str) -> SecretGrant {
        SecretGrant {
            env: env.into(),
            secret: secret.into(),
            granted_by: by.into(),
        }
    }

    fn judged(per_command: &[&[SecretGrant]]) -> Vec<CommandGrants> {
        per_command
            .iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .map(|(i, g)| CommandGrants {
                command_id: format!("c{}", i + 1),
                grants: g.to_vec(),
            })
            .collect()
    }

    fn parts(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn one_command_gets_its_own_grants() {
        let gh = grant("GH_TOKEN", "github", "rule gh");
        let got = for_launch(
            &judged(&[std::slice::from_ref(&gh)]),
            &parts(&["gh pr view"]),
        );
        assert_eq!(got, Ok(vec![gh]));
        assert_eq!(for_launch(&[], &parts(&["ls"])), Ok(Vec::new()));
    }

    #[test]
    fn a_text_gets_a_grant_only_when_every_part_has_it() {
        let gh = grant("GH_TOKEN", "github", "rule gh");
        let all = grant("GH_TOKEN", "github", "rule all");
        let got = for_launch(
            &judged(&[&[gh.clone(), all.clone()], std::slice::from_ref(&all)]),
            &parts(&["gh pr view", "printenv GH_TOKEN"]),
        );
        assert_eq!(
            got,
            Ok(vec![grant("GH_TOKEN", "github", "rule gh, rule all")])
        );

        let refused = for_launch(
            &judged(&[std::slice::from_ref(&gh), &[]]),
            &parts(&["gh pr view 1", "printenv GH_TOKEN"]),
        );
        assert_eq!(
            refused,
            Err("the secret `github` is granted to `gh pr view 1` (as `GH_TOKEN`, by rule gh), but the text runs as a whole under bash, where `printenv GH_TOKEN` would receive it too; run `gh pr view 1` on its own".into())
        );
        // Whichever part holds it, and whatever the order.
        let refused = for_launch(
            &judged(&[&[], std::slice::from_ref(&gh)]),
            &parts(&["printenv GH_TOKEN", "gh pr view 1"]),
        );
        assert!(refused
            .unwrap_err()
            .contains("where `printenv GH_TOKEN` would receive it"));
        // Another secret under the same variable is not the same grant.
        let other = grant("GH_TOKEN", "github-ci", "rule ci");
        assert!(for_launch(&judged(&[&[gh], &[other]]), &parts(&["a", "b"])).is_err());
    }

    #[test]
    fn a_variable_the_sandbox_never_passes_is_refused() {
        for env in ["LD_PRELOAD", "BASH_ENV", "PATH", "TMPDIR"] {
            let got = for_launch(&judged(&[&[grant(env, "x", "rule r")]]), &parts(&["ls"]));
            assert!(got.unwrap_err().contains(env), "{env}");
        }
    }
}
