//! Loading a policy file: read (capped), decode, parse YAML without version ambiguity, require a
//! mapping, validate, digest. Errors carry the substrings CSC's loader conformance cases expect:
//! `failed to read`, `invalid YAML`, `duplicate key`, `must contain a YAML mapping`.

use std::path::Path;

use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_core::policy::{LoadedPolicy, PolicyError};
use serde_json::Value;

use crate::input::{read_capped, ReadError};
use crate::yaml::{self, YamlError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read policy file: {0}")]
    Read(String),
    #[error("policy file is larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    #[error("policy file is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("{0}")]
    Yaml(#[from] YamlError),
    #[error("policy file must contain a YAML mapping, found {0}")]
    NotMapping(&'static str),
    #[error("{0}")]
    Policy(#[from] PolicyError),
}

/// Reads and loads the policy at `path`.
pub fn load_file(path: &Path) -> Result<LoadedPolicy, LoadError> {
    let bytes = read_capped(path, MAX_POLICY_BYTES).map_err(|e| match e {
        ReadError::TooLarge(_) => LoadError::TooLarge,
        other => LoadError::Read(other.to_string()),
    })?;
    load_bytes(&bytes)
}

/// Loads a policy from the bytes of a policy file (YAML, or JSON, which is YAML).
pub fn load_bytes(bytes: &[u8]) -> Result<LoadedPolicy, LoadError> {
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(LoadError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::NotUtf8(e.valid_up_to()))?;
    let document = yaml::parse(text)?;
    let kind = match &document {
        Value::Object(_) => None,
        Value::Null => Some("an empty document"),
        Value::Array(_) => Some("a list"),
        Value::String(_) => Some("text"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
    };
    if let Some(kind) = kind {
        return Err(LoadError::NotMapping(kind));
    }
    Ok(LoadedPolicy::from_value(document)?)
}
