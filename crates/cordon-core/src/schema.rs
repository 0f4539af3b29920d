//! Validation against the five CSC v0.1 JSON Schemas, embedded verbatim from upstream
//! (`schemas/`, Apache-2.0, see `schemas/LICENSE`).
//!
//! The schemas are the contract with every other CSC implementation, so cordon follows them even
//! where csc-runner is laxer (it validates contracts with pydantic only; see
//! docs/csc-compatibility.md). Validators are compiled once per process, on first use.

use std::fmt;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

/// One of the protocol's schemas, plus cordon's extended decision schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Contract,
    Policy,
    PolicyDecision,
    Receipt,
    Approval,
    /// CSC's PolicyDecision plus the `outcome` field for cordon's five outcomes.
    CordonPolicyDecision,
}

impl Schema {
    fn source(self) -> &'static str {
        match self {
            Schema::Contract => include_str!("../schemas/csc.contract.v0.1.schema.json"),
            Schema::Policy => include_str!("../schemas/csc.policy.v0.1.schema.json"),
            Schema::PolicyDecision => {
                include_str!("../schemas/csc.policy-decision.v0.1.schema.json")
            }
            Schema::Receipt => include_str!("../schemas/csc.execution-receipt.v0.1.schema.json"),
            Schema::Approval => include_str!("../schemas/csc.approval.v0.1.schema.json"),
            Schema::CordonPolicyDecision => {
                include_str!("../schemas/cordon.policy-decision.v0.1.schema.json")
            }
        }
    }

    fn cell(self) -> &'static OnceLock<Result<Validator, String>> {
        static CONTRACT: OnceLock<Result<Validator, String>> = OnceLock::new();
        static POLICY: OnceLock<Result<Validator, String>> = OnceLock::new();
        static DECISION: OnceLock<Result<Validator, String>> = OnceLock::new();
        static RECEIPT: OnceLock<Result<Validator, String>> = OnceLock::new();
        static APPROVAL: OnceLock<Result<Validator, String>> = OnceLock::new();
        static CORDON_DECISION: OnceLock<Result<Validator, String>> = OnceLock::new();
        match self {
            Schema::Contract => &CONTRACT,
            Schema::Policy => &POLICY,
            Schema::PolicyDecision => &DECISION,
            Schema::Receipt => &RECEIPT,
            Schema::Approval => &APPROVAL,
            Schema::CordonPolicyDecision => &CORDON_DECISION,
        }
    }

    fn validator(self) -> Result<&'static Validator, SchemaError> {
        let compiled = self.cell().get_or_init(|| {
            let schema: Value = serde_json::from_str(self.source()).map_err(|e| e.to_string())?;
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| e.to_string())
        });
        compiled.as_ref().map_err(|reason| SchemaError::Unusable {
            schema: self,
            reason: reason.clone(),
        })
    }

    /// Validates `instance`; on failure returns every violation, in the validator's order.
    pub fn validate(self, instance: &Value) -> Result<(), SchemaError> {
        let validator = self.validator()?;
        let violations: Vec<Violation> = validator
            .iter_errors(instance)
            .map(|e| Violation {
                field: field_path(e.instance_path().as_str()),
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(SchemaError::Invalid {
                schema: self,
                violations,
            })
        }
    }

    /// Whether `instance` is valid; cheaper than `validate` when the reasons are not needed.
    pub fn is_valid(self, instance: &Value) -> Result<bool, SchemaError> {
        Ok(self.validator()?.is_valid(instance))
    }

    pub fn name(self) -> &'static str {
        match self {
            Schema::Contract => "csc.contract.v0.1",
            Schema::Policy => "csc.policy.v0.1",
            Schema::PolicyDecision => "csc.policy-decision.v0.1",
            Schema::Receipt => "csc.execution-receipt.v0.1",
            Schema::Approval => "csc.approval.v0.1",
            Schema::CordonPolicyDecision => "cordon.policy-decision.v0.1",
        }
    }
}

/// One schema violation: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted field path, e.g. `commands[0].timeout_sec`; empty for the document itself.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "field `{}`: {}", self.field, self.message)
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    #[error("{}", describe(*schema, violations))]
    Invalid {
        schema: Schema,
        violations: Vec<Violation>,
    },
    /// The embedded schema itself failed to compile: a build defect, reported rather than ignored.
    #[error("the embedded {} schema cannot be used: {reason}", schema.name())]
    Unusable { schema: Schema, reason: String },
}

fn describe(schema: Schema, violations: &[Violation]) -> String {
    let first = violations
        .first()
        .map(ToString::to_string)
        .unwrap_or_else(|| "invalid".to_string());
    match violations.len() {
        0 | 1 => format!("{first} (schema {})", schema.name()),
        n => format!(
            "{first} (schema {}; {} more problem{})",
            schema.name(),
            n - 1,
            if n == 2 { "" } else { "s" }
        ),
    }
}

/// `/commands/0/timeout_sec` → `commands[0].timeout_sec`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let part = raw.replace("~1", "/").replace("~0", "~");
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        for schema in [
            Schema::Contract,
            Schema::Policy,
            Schema::PolicyDecision,
            Schema::Receipt,
            Schema::Approval,
            Schema::CordonPolicyDecision,
        ] {
            assert!(schema.validator().is_ok(), "{}", schema.name());
        }
    }

    #[test]
    fn field_paths_read_like_code() {
        assert_eq!(field_path(""), "");
        assert_eq!(
            field_path("/commands/0/exec/argv/2"),
            "commands[0].exec.argv[2]"
        );
        assert_eq!(field_path("/a~1b"), "a/b");
    }
}
