//! The CSC reason-code registry (docs/reason-codes.md): stable API, one code per v0.1 decision.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    RiskClassNotAllowed,
    CommandNotAllowed,
    ArgvPrefixDenied,
    NetworkExceedsPolicy,
    WriteScopeDenied,
    ReadScopeDenied,
    CwdNotAllowed,
    EffectTypeNotAllowed,
    TimeoutExceedsPolicy,
    SecretRefNotAllowed,
    PathNotAbsolute,
    WritePathsNotEmpty,
    ApprovalRequired,
    Allow,
    /// In the registry but never emitted by CSC's engine, nor by cordon's CSC engine.
    EffectReclassified,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 15] = [
        ReasonCode::RiskClassNotAllowed,
        ReasonCode::CommandNotAllowed,
        ReasonCode::ArgvPrefixDenied,
        ReasonCode::NetworkExceedsPolicy,
        ReasonCode::WriteScopeDenied,
        ReasonCode::ReadScopeDenied,
        ReasonCode::CwdNotAllowed,
        ReasonCode::EffectTypeNotAllowed,
        ReasonCode::TimeoutExceedsPolicy,
        ReasonCode::SecretRefNotAllowed,
        ReasonCode::PathNotAbsolute,
        ReasonCode::WritePathsNotEmpty,
        ReasonCode::ApprovalRequired,
        ReasonCode::Allow,
        ReasonCode::EffectReclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::RiskClassNotAllowed => "RISK_CLASS_NOT_ALLOWED",
            ReasonCode::CommandNotAllowed => "COMMAND_NOT_ALLOWED",
            ReasonCode::ArgvPrefixDenied => "ARGV_PREFIX_DENIED",
            ReasonCode::NetworkExceedsPolicy => "NETWORK_EXCEEDS_POLICY",
            ReasonCode::WriteScopeDenied => "WRITE_SCOPE_DENIED",
            ReasonCode::ReadScopeDenied => "READ_SCOPE_DENIED",
            ReasonCode::CwdNotAllowed => "CWD_NOT_ALLOWED",
            ReasonCode::EffectTypeNotAllowed => "EFFECT_TYPE_NOT_ALLOWED",
            ReasonCode::TimeoutExceedsPolicy => "TIMEOUT_EXCEEDS_POLICY",
            ReasonCode::SecretRefNotAllowed => "SECRET_REF_NOT_ALLOWED",
            ReasonCode::PathNotAbsolute => "PATH_NOT_ABSOLUTE",
            ReasonCode::WritePathsNotEmpty => "WRITE_PATHS_NOT_EMPTY",
            ReasonCode::ApprovalRequired => "APPROVAL_REQUIRED",
            ReasonCode::Allow => "ALLOW",
            ReasonCode::EffectReclassified => "EFFECT_RECLASSIFIED",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_match_the_registry() {
        for code in ReasonCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
