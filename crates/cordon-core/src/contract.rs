//! The CommandContract: what an agent asks to run, where, and with which reads, writes, network
//! and secrets. Exactly as `csc.contract.v0.1.schema.json` defines it.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::conform;
use crate::hash;
use crate::json::{self, JsonError};
use crate::limits;
use crate::schema::{Schema, SchemaError};

pub const CONTRACT_VERSION: &str = "csc.v0.1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub version: String,
    pub contract_id: String,
    pub intent: String,
    pub actor: Actor,
    pub commands: Vec<Command>,
    pub risk_class: RiskClass,
    pub approval_mode: ApprovalMode,
    /// Optional in the schema; csc-runner materializes `[]` when absent, and that default is hashed.
    #[serde(default)]
    pub expected_outputs: Vec<String>,
    pub justification: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub agent_id: String,
    pub session_id: String,
    pub initiating_user: String,
    pub delegation_scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Exec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<Pipeline>,
    pub cwd: String,
    pub read_paths: Vec<String>,
    pub write_paths: Vec<String>,
    pub network: NetworkMode,
    pub env_allow: Vec<String>,
    pub secret_refs: Vec<String>,
    /// The schema says integer; JSON Schema counts `10.0` as an integer, so it is accepted and
    /// hashed as `10`, as csc-runner does.
    #[serde(deserialize_with = "integral_u32")]
    pub timeout_sec: u32,
    pub proposed_effect_type: EffectType,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exec {
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub segments: Vec<Exec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskClass {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    PolicyOnly,
    HumanRequired,
    DualControlRequired,
}

/// Network access, ordered from least to most: `Deny < Allowlisted < Full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    Deny,
    Allowlisted,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectType {
    Observe,
    TransformLocal,
    FetchExternal,
    MutateRepo,
    Deploy,
    TouchSecrets,
}

macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_names!(RiskClass { Low => "low", Medium => "medium", High => "high", Critical => "critical" });
wire_names!(ApprovalMode {
    PolicyOnly => "policy_only",
    HumanRequired => "human_required",
    DualControlRequired => "dual_control_required",
});
wire_names!(NetworkMode { Deny => "deny", Allowlisted => "allowlisted", Full => "full" });
wire_names!(EffectType {
    Observe => "observe",
    TransformLocal => "transform_local",
    FetchExternal => "fetch_external",
    MutateRepo => "mutate_repo",
    Deploy => "deploy",
    TouchSecrets => "touch_secrets",
});

/// Why a document is not an acceptable contract. Every variant names the field at fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ContractError {
    #[error(
        "contract is larger than the limit of {} bytes",
        limits::MAX_CONTRACT_BYTES
    )]
    TooLarge,
    #[error("contract {0}")]
    Json(#[from] JsonError),
    #[error("contract is invalid: {0}")]
    Schema(#[from] SchemaError),
    #[error("contract is invalid: field `{field}`: {message}")]
    Field { field: String, message: String },
}

impl Command {
    /// The argv vectors this command executes: one for `exec`, one per segment for `pipeline`.
    pub fn argvs(&self) -> impl Iterator<Item = &[String]> {
        let exec = self.exec.as_ref().map(|e| e.argv.as_slice());
        let segments = self
            .pipeline
            .iter()
            .flat_map(|p| p.segments.iter().map(|s| s.argv.as_slice()));
        exec.into_iter().chain(segments)
    }

    /// The first argv vector; a validated contract always has one.
    pub fn first_argv(&self) -> &[String] {
        self.argvs().next().unwrap_or(&[])
    }
}

impl Contract {
    /// Parses and validates contract bytes: size, UTF-8, strict JSON, the CSC schema, then the
    /// runner limits and the invariants the schema cannot state.
    pub fn parse(bytes: &[u8]) -> Result<Contract, ContractError> {
        if bytes.len() as u64 > limits::MAX_CONTRACT_BYTES {
            return Err(ContractError::TooLarge);
        }
        let value = json::parse_strict(bytes)?;
        Contract::from_value(value)
    }

    /// Validates an already-parsed JSON value as a contract.
    pub fn from_value(value: Value) -> Result<Contract, ContractError> {
        // The fast check decides validity; the schema validator, slow to start, only explains.
        if !conform::contract(&value) {
            Schema::Contract.validate(&value)?;
            return Err(ContractError::Field {
                field: String::new(),
                message: "does not conform to the csc.contract.v0.1 schema".into(),
            });
        }
        let contract: Contract =
            serde_json::from_value(value).map_err(|e| ContractError::Field {
                field: String::new(),
                message: e.to_string(),
            })?;
        contract.check_limits()?;
        Ok(contract)
    }

    fn check_limits(&self) -> Result<(), ContractError> {
        let field_err = |field: String, message: String| ContractError::Field { field, message };
        if self.commands.len() > limits::MAX_COMMANDS {
            return Err(field_err(
                "commands".into(),
                format!(
                    "has {} commands, the limit is {}",
                    self.commands.len(),
                    limits::MAX_COMMANDS
                ),
            ));
        }
        if self.justification.chars().count() > limits::MAX_JUSTIFICATION_CHARS {
            return Err(field_err(
                "justification".into(),
                format!(
                    "is longer than {} characters",
                    limits::MAX_JUSTIFICATION_CHARS
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, command) in self.commands.iter().enumerate() {
            // Receipts list completed ids with `uniqueItems`; duplicates would make them invalid.
            if !seen.insert(command.id.as_str()) {
                return Err(field_err(
                    format!("commands[{i}].id"),
                    format!(
                        "duplicates the id {:?} of an earlier command; command ids must be unique",
                        command.id
                    ),
                ));
            }
            match (&command.exec, &command.pipeline) {
                (Some(_), None) => {}
                (None, Some(p)) if p.segments.len() > limits::MAX_PIPELINE_SEGMENTS => {
                    return Err(field_err(
                        format!("commands[{i}].pipeline.segments"),
                        format!(
                            "has {} segments, the limit is {}",
                            p.segments.len(),
                            limits::MAX_PIPELINE_SEGMENTS
                        ),
                    ));
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(field_err(
                        format!("commands[{i}]"),
                        "must have exactly one of `exec` or `pipeline`".into(),
                    ))
                }
            }
            for (j, argv) in command.argvs().enumerate() {
                let at = match &command.pipeline {
                    Some(_) => format!("commands[{i}].pipeline.segments[{j}].argv"),
                    None => format!("commands[{i}].exec.argv"),
                };
                if argv.len() > limits::MAX_ARGV_ELEMENTS {
                    return Err(field_err(
                        at,
                        format!(
                            "has {} elements, the limit is {}",
                            argv.len(),
                            limits::MAX_ARGV_ELEMENTS
                        ),
                    ));
                }
                if let Some(k) = argv
                    .iter()
                    .position(|a| a.len() > limits::MAX_ARGV_ELEMENT_BYTES)
                {
                    return Err(field_err(
                        format!("{at}[{k}]"),
                        format!("is larger than {} bytes", limits::MAX_ARGV_ELEMENT_BYTES),
                    ));
                }
                if let Some(k) = argv.iter().position(|a| a.contains('\0')) {
                    return Err(field_err(
                        format!("{at}[{k}]"),
                        "contains a NUL byte".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The contract as CSC hashes it: the normalized model, `expected_outputs` materialized.
    pub fn normalized(&self) -> Value {
        // Serializing plain structs of strings, integers and enums cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// `contract_sha256`: SHA-256 of the canonical JSON of the normalized contract, bare hex.
    pub fn sha256(&self) -> String {
        let normalized = self.normalized();
        // The normalized contract holds no floats, so canonicalization cannot fail.
        hash::canonical_sha256(&normalized).unwrap_or_default()
    }
}

fn integral_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    use serde::de::Error as _;
    let n = integral_u64(deserializer)?;
    u32::try_from(n).map_err(|_| D::Error::custom("integer out of range"))
}

/// A whole number, written as an integer or (as JSON Schema allows) with a zero fraction.
pub(crate) fn integral_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    use serde::de::Error as _;
    let n = serde_json::Number::deserialize(deserializer)?;
    if let Some(u) = n.as_u64() {
        return Ok(u);
    }
    match n.as_f64() {
        // 2^64 is exactly representable; anything below it with a zero fraction converts exactly.
        Some(f) if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) => {
            Ok(f as u64)
        }
        _ => Err(D::Error::custom(format!(
            "expected a whole number that fits in 64 bits, found {n}"
        ))),
    }
}
