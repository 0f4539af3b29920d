//! The policy profile, exactly as `csc.policy.v0.1.schema.json` defines it, plus cordon's
//! extension key `x-cordon`.
//!
//! Parsing YAML into a JSON value is `cordon-policy`'s job; this module takes the parsed document,
//! validates it, and computes the digest that every decision and receipt pins.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conform;
use crate::contract::{EffectType, NetworkMode, RiskClass};
use crate::hash;
use crate::schema::{Schema, SchemaError};

pub const POLICY_SCHEMA_VERSION: &str = "csc.policy.v0.1";

/// The one top-level key cordon adds to CSC policies. CSC's schema forbids unknown keys, so this
/// key is removed before schema validation and validated on its own; the digest covers it too.
pub const EXTENSION_KEY: &str = "x-cordon";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub policy_schema_version: String,
    pub name: String,
    pub allow_commands: Vec<String>,
    #[serde(default)]
    pub deny_argv_prefixes: Vec<Vec<String>>,
    pub allowed_effect_types: Vec<EffectType>,
    /// May name extension effect types, such as `financial_action`.
    #[serde(default)]
    pub manual_approval_for_classified_effect_types: Vec<String>,
    pub allowed_risk_classes: Vec<RiskClass>,
    #[serde(deserialize_with = "crate::contract::integral_u64")]
    pub max_timeout_sec: u64,
    pub network: NetworkMode,
    pub allow_secret_refs: bool,
    #[serde(default)]
    pub require_write_paths_empty: bool,
    pub allowed_cwd_prefixes: Vec<String>,
    pub allowed_read_prefixes: Vec<String>,
    #[serde(default)]
    pub allowed_write_prefixes: Vec<String>,
    /// Used by CSC only in its effect-classification heuristic; nothing in CSC enforces egress.
    #[serde(default)]
    pub allowed_egress_hosts: Vec<String>,
    #[serde(rename = "x-cordon", default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Extension>,
}

/// cordon's additions to a CSC policy. Every field is optional and absent means CSC's behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Environment variable names a contract's `env_allow` may pass to the command. CSC lets the
    /// agent pass any variable it names; under cordon, a name not listed here never passes.
    #[serde(default)]
    pub env_allow: Vec<String>,
}

/// A validated policy with the digest of the document it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// `policy_sha256`: SHA-256 of the canonical JSON of the parsed document, as written.
    pub sha256: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PolicyError {
    #[error("policy schema validation failed: {0}")]
    Schema(#[from] SchemaError),
    #[error("policy schema validation failed: field `{field}`: {message}")]
    Field { field: String, message: String },
    #[error("policy cannot be hashed: {0}")]
    Hash(String),
}

impl LoadedPolicy {
    /// Validates a parsed policy document and computes its digest.
    pub fn from_value(document: Value) -> Result<LoadedPolicy, PolicyError> {
        let sha256 =
            hash::canonical_sha256(&document).map_err(|e| PolicyError::Hash(e.to_string()))?;
        let mut csc_part = document;
        let extension = match csc_part.as_object_mut() {
            Some(map) => map.remove(EXTENSION_KEY),
            None => None,
        };
        // The fast check decides validity; the schema validator, slow to start, only explains.
        if !conform::policy(&csc_part) {
            Schema::Policy.validate(&csc_part)?;
            return Err(PolicyError::Field {
                field: String::new(),
                message: "does not conform to the csc.policy.v0.1 schema".into(),
            });
        }
        let mut policy: Policy =
            serde_json::from_value(csc_part).map_err(|e| PolicyError::Field {
                field: String::new(),
                message: e.to_string(),
            })?;
        if let Some(ext) = extension {
            policy.extension =
                Some(serde_json::from_value(ext).map_err(|e| PolicyError::Field {
                    field: EXTENSION_KEY.to_string(),
                    message: e.to_string(),
                })?);
        }
        Ok(LoadedPolicy { policy, sha256 })
    }
}
