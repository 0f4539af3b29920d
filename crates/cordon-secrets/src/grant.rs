//! From grants to a command's environment: resolve each granted secret after the gate, put it
//! into that command's environment only, and build the redactor for everything returned.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};

use crate::redact::Redactor;
use crate::reference::ResolveContext;
use crate::store::Secrets;
use cordon_core::secret::is_env_name;

use crate::value::{SecretName, SecretValue};
use crate::SecretsError;

/// Names cordon sets itself: a grant may not replace them.
const RESERVED_ENV_NAMES: &[&str] = &["PATH", "TMPDIR"];

/// A secret resolved for one command: the variable it goes into, the store's name, the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSecret {
    pub env: String,
    pub secret: SecretName,
    pub value: SecretValue,
}

/// Whether a secret may be passed in the environment variable `name`: a well-formed name that
/// the sandbox does not drop (`LD_PRELOAD`, `BASH_ENV`, …) and that cordon does not set itself.
pub fn check_env_name(name: &str) -> Result<(), SecretsError> {
    if !is_env_name(name) {
        return Err(SecretsError::InvalidEnvName(name.to_string()));
    }
    if cordon_sandbox::is_forbidden_env_name(OsStr::new(name)) || RESERVED_ENV_NAMES.contains(&name)
    {
        return Err(SecretsError::ForbiddenEnvName(name.to_string()));
    }
    Ok(())
}

/// Resolves `(environment variable, secret name)` grants for one command, in order. Each
/// secret is resolved once (a `cmd:` reference runs once) however many variables carry it.
/// Any failure is the caller's denial, and nothing runs: an unknown secret, a reference that
/// does not resolve, a bad or forbidden variable name, or one variable granted two secrets.
pub fn resolve_grants<'a, I>(
    secrets: &Secrets,
    grants: I,
    context: &ResolveContext,
) -> Result<Vec<ResolvedSecret>, SecretsError>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut resolved: Vec<ResolvedSecret> = Vec::new();
    let mut values: BTreeMap<SecretName, SecretValue> = BTreeMap::new();
    for (env, secret) in grants {
        check_env_name(env)?;
        let secret = SecretName::new(secret)?;
        if let Some(earlier) = resolved.iter().find(|r| r.env == env) {
            if earlier.secret == secret {
                continue;
            }
            return Err(SecretsError::GrantConflict {
                env: env.to_string(),
                first: earlier.secret.to_string(),
                second: secret.to_string(),
            });
        }
        let value = match values.get(&secret) {
            Some(value) => value.clone(),
            None => {
                let value = secrets.resolve(secret.as_str(), context)?;
                values.insert(secret.clone(), value.clone());
                value
            }
        };
        resolved.push(ResolvedSecret {
            env: env.to_string(),
            secret,
            value,
        });
    }
    Ok(resolved)
}

/// Puts each resolved secret into `env` (a command's complete environment), replacing a
/// variable of the same name.
pub fn inject(env: &mut Vec<(OsString, OsString)>, resolved: &[ResolvedSecret]) {
    for secret in resolved {
        env.retain(|(name, _)| name.as_os_str() != OsStr::new(&secret.env));
        env.push((OsString::from(&secret.env), secret.value.to_os_string()));
    }
}

/// The redactor for every secret resolved for a run (all its commands: one command can leave a
/// value where another reads it), each replaced by its store name.
pub fn redactor_for(resolved: &[ResolvedSecret]) -> Result<Redactor, SecretsError> {
    let mut seen: Vec<&SecretName> = Vec::new();
    let mut pairs = Vec::new();
    for r in resolved {
        if !seen.contains(&&r.secret) {
            seen.push(&r.secret);
            pairs.push((r.secret.as_str(), r.value.expose()));
        }
    }
    Redactor::new(pairs)
}
