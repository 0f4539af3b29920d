//! The policy in force: native rules, a CSC profile, or Cedar policies, loaded from a file or the
//! built-in pack, and where loaded policies come from ([`PolicySource`]): read for each request by
//! a one-shot process ([`LoadEachTime`]), or kept by the gateway in its cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_core::policy::LoadedPolicy;
use cordon_policy::cedar::CedarEngine;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};

use crate::decision::PolicyRef;
use crate::error::{Error, Result};

/// A policy as loaded from a file: native rules, a plain CSC profile, or Cedar policies.
#[derive(Debug, Clone)]
pub enum PolicyInForce {
    Native(LoadedNativePolicy),
    Csc(Box<LoadedPolicy>),
    Cedar(CedarPolicyFile),
}

/// A Cedar policy set as read from a `.cedar` file. It is validated against cordon's schema when
/// it is compiled for a workspace (`{workspace}` and `{home}` expand first).
#[derive(Debug, Clone)]
pub struct CedarPolicyFile {
    /// The file's stem: Cedar policy sets have no name of their own.
    pub name: String,
    pub text: String,
    /// SHA-256 of the text as written.
    pub sha256: String,
}

/// Which policy a request is judged under: a file (`--policy`, or the home's `policy.yaml`), or
/// the built-in pack when there is neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChoice {
    File(PathBuf),
    Builtin,
}

impl PolicyInForce {
    pub fn name(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.policy.name,
            PolicyInForce::Csc(p) => &p.policy.name,
            PolicyInForce::Cedar(p) => &p.name,
        }
    }

    pub fn sha256(&self) -> &str {
        match self {
            PolicyInForce::Native(p) => &p.sha256,
            PolicyInForce::Csc(p) => &p.sha256,
            PolicyInForce::Cedar(p) => &p.sha256,
        }
    }

    /// How receipts and decision records name this policy.
    pub fn reference(&self) -> PolicyRef {
        match self {
            PolicyInForce::Csc(p) => PolicyRef::of_csc(p),
            other => PolicyRef::named(other.name(), other.sha256()),
        }
    }
}

/// The policy pack cordon ships.
pub fn builtin_pack() -> Result<LoadedNativePolicy> {
    LoadedNativePolicy::default_pack()
        .map_err(|e| Error::Internal(format!("the built-in policy pack is invalid: {e}")))
}

/// Loads `path` as Cedar policies when it is named `*.cedar`, as a native policy when it has
/// `cordon_policy:`, else as a CSC profile.
pub fn load_policy_file(path: &Path) -> Result<PolicyInForce> {
    let bytes = cordon_policy::input::read_capped(path, MAX_POLICY_BYTES).map_err(|e| {
        Error::InvalidInput(format!(
            "{}: failed to read policy file: {e}",
            path.display()
        ))
    })?;
    policy_from_bytes(path, &bytes)
}

/// [`load_policy_file`] on bytes already read from `path` (the gateway reads them itself, from a
/// descriptor it checked is a regular file); `path` names the policy and picks its format.
pub fn policy_from_bytes(path: &Path, bytes: &[u8]) -> Result<PolicyInForce> {
    let invalid =
        |e: &dyn std::fmt::Display| Error::InvalidInput(format!("{}: {e}", path.display()));
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::InvalidInput(format!(
            "{}: policy file is not valid UTF-8 (first bad byte at offset {})",
            path.display(),
            e.valid_up_to()
        ))
    })?;
    if path.extension().is_some_and(|x| x == "cedar") {
        return Ok(PolicyInForce::Cedar(CedarPolicyFile {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "cedar".into()),
            text: text.to_string(),
            sha256: cordon_core::hash::sha256_hex(text.as_bytes()),
        }));
    }
    let document = native::policy_document(text).map_err(|e| invalid(&e))?;
    if native::is_native(&document) {
        let loaded = LoadedNativePolicy::from_document(document, text).map_err(|e| invalid(&e))?;
        Ok(PolicyInForce::Native(loaded))
    } else {
        let loaded = cordon_policy::load_bytes(bytes).map_err(|e| invalid(&e))?;
        Ok(PolicyInForce::Csc(Box::new(loaded)))
    }
}

/// Where loaded and compiled policies come from.
pub trait PolicySource {
    /// The policy `choice` names.
    fn policy(&self, choice: &PolicyChoice) -> Result<Arc<PolicyInForce>>;
    /// A native policy compiled for one workspace and home.
    fn compiled(
        &self,
        policy: &LoadedNativePolicy,
        context: &Context,
    ) -> Result<Arc<CompiledPolicy>>;
    /// A Cedar policy set validated for one workspace and home.
    fn cedar(&self, policy: &CedarPolicyFile, context: &Context) -> Result<Arc<CedarEngine>>;
}

/// Loads and compiles for every request: a one-shot process needs each policy once.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadEachTime;

impl PolicySource for LoadEachTime {
    fn policy(&self, choice: &PolicyChoice) -> Result<Arc<PolicyInForce>> {
        Ok(Arc::new(match choice {
            PolicyChoice::File(path) => load_policy_file(path)?,
            PolicyChoice::Builtin => PolicyInForce::Native(builtin_pack()?),
        }))
    }

    fn compiled(
        &self,
        policy: &LoadedNativePolicy,
        context: &Context,
    ) -> Result<Arc<CompiledPolicy>> {
        compile(policy, context).map(Arc::new)
    }

    fn cedar(&self, policy: &CedarPolicyFile, context: &Context) -> Result<Arc<CedarEngine>> {
        validate_cedar(policy, context).map(Arc::new)
    }
}

/// Compiles a native policy for a workspace and home.
pub fn compile(policy: &LoadedNativePolicy, context: &Context) -> Result<CompiledPolicy> {
    CompiledPolicy::compile(policy, context).map_err(|e| Error::InvalidInput(e.to_string()))
}

/// Validates a Cedar policy set for a workspace and home.
pub fn validate_cedar(policy: &CedarPolicyFile, context: &Context) -> Result<CedarEngine> {
    CedarEngine::new(&policy.text, context)
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", policy.name)))
}
