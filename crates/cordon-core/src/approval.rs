//! The ApprovalArtifact, as `csc.approval.v0.1.schema.json` defines it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{self, JsonError};
use crate::schema::{Schema, SchemaError};

pub const APPROVAL_VERSION: &str = "csc.approval.v0.1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub approval_version: String,
    pub approval_id: String,
    pub contract_sha256: String,
    pub approver: Approver,
    pub approved_at: String,
    pub expires_at: String,
    pub scope: ApprovalScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approver {
    pub identity: String,
    pub method: ApprovalMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMethod {
    Manual,
    Cli,
    Api,
    Ticket,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalScope {
    SingleExecution,
    TimeWindow,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApprovalError {
    #[error("approval {0}")]
    Json(#[from] JsonError),
    #[error("approval is invalid: {0}")]
    Schema(#[from] SchemaError),
    #[error("approval is invalid: {0}")]
    Shape(String),
}

impl Approval {
    pub fn parse(bytes: &[u8]) -> Result<Approval, ApprovalError> {
        let value: Value = json::parse_strict(bytes)?;
        Schema::Approval.validate(&value)?;
        serde_json::from_value(value).map_err(|e| ApprovalError::Shape(e.to_string()))
    }
}
