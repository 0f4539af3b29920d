//! The ExecutionReceipt, as `csc.execution-receipt.v0.1.schema.json` defines it, plus the
//! `signature` object CSC signs with and cordon's extension key.
//!
//! CSC's schema forbids unknown properties, so a signed receipt (from csc-runner or cordon) never
//! validates against it as is. [`ExecutionReceipt::schema_view`] strips `signature` and `x-cordon`,
//! which is the document the schema describes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema::{Schema, SchemaError};

pub const RECEIPT_VERSION: &str = "csc.receipt.v0.1";

/// The extension key cordon adds to receipts: the enforcement report, the decision record link,
/// and other evidence CSC has no field for. Documented in docs/csc-compatibility.md.
pub const EXTENSION_KEY: &str = "x-cordon";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Success,
    Failed,
    Blocked,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    Local,
    Hardened,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectSummary {
    pub files_written: u64,
    pub network_used: bool,
    pub secrets_used: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutionReceipt {
    pub receipt_version: String,
    pub contract_id: String,
    pub execution_id: String,
    pub contract_sha256: String,
    pub status: ReceiptStatus,
    pub started_at: String,
    pub ended_at: String,
    pub policy_profile: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_hash: Option<String>,
    /// Present only when true, as csc-runner writes it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdout_truncated: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stderr_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Vec<Artifact>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_schema_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_mode: Option<ExecutionMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_profile_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect_summary: Option<EffectSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_command_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_command_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Value>,
    #[serde(rename = "x-cordon", default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ExecutionReceipt {
    /// The receipt as a JSON object, ready for a signer.
    pub fn to_value(&self) -> Value {
        // Plain data; serialization cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The receipt without `signature` and `x-cordon`: the document CSC's schema describes.
    pub fn schema_view(receipt: &Value) -> Value {
        let mut view = receipt.clone();
        if let Some(map) = view.as_object_mut() {
            map.remove("signature");
            map.remove(EXTENSION_KEY);
        }
        view
    }

    /// Validates the schema view of `receipt` against the CSC receipt schema.
    pub fn validate(receipt: &Value) -> Result<(), SchemaError> {
        Schema::Receipt.validate(&Self::schema_view(receipt))
    }
}
