//! The decision a policy gives a contract: CSC's three-valued `decision`, cordon's five-valued
//! `outcome`, and the reasons for both.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::reason::ReasonCode;
use crate::time as ctime;

/// CSC's decision values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
    NeedsApproval,
}

/// cordon's five outcomes (DESIGN.md, "Decisions"). Each maps onto one CSC verdict.
///
/// Declared from the least to the most severe, so the order is the precedence: where several
/// judgements meet, the most severe wins by `max` (deny > ask > redirect > allow_with_checkpoint
/// > allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    /// Snapshot the write scope first, so the change can be rolled back.
    AllowWithCheckpoint,
    /// Run a named safer command instead.
    Redirect,
    /// A human must approve first.
    Ask,
    Deny,
}

impl Outcome {
    /// The CSC verdict a CSC peer sees for this outcome.
    pub fn verdict(self) -> Verdict {
        match self {
            Outcome::Allow | Outcome::Redirect | Outcome::AllowWithCheckpoint => Verdict::Allow,
            Outcome::Deny => Verdict::Deny,
            Outcome::Ask => Verdict::NeedsApproval,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Ask => "ask",
            Outcome::Redirect => "redirect",
            Outcome::AllowWithCheckpoint => "allow_with_checkpoint",
        }
    }
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::NeedsApproval => "needs_approval",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifiedEffect {
    pub command_id: String,
    pub effect_type: String,
}

/// A PolicyDecision as `csc.policy-decision.v0.1` defines it, plus `outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDecision {
    pub contract_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_sha256: Option<String>,
    pub decision: Verdict,
    pub policy_profile: String,
    #[serde(default)]
    pub classified_effects: Vec<ClassifiedEffect>,
    pub reasons: Vec<String>,
    pub reason_codes: Vec<ReasonCode>,
    pub expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// How long a decision stays good. A decision is about a contract *and* a moment: policies,
/// approvals and the world change, so a consumer holding an old decision must ask again.
pub const DECISION_LIFETIME_SECS: i64 = 300;

/// `expires_at` for a decision made at `now`.
pub fn expiry_from(now: OffsetDateTime) -> String {
    ctime::rfc3339(now + time::Duration::seconds(DECISION_LIFETIME_SECS))
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn the_most_severe_outcome_is_the_greatest() {
        let all = [
            Outcome::Deny,
            Outcome::Allow,
            Outcome::Ask,
            Outcome::AllowWithCheckpoint,
            Outcome::Redirect,
        ];
        assert_eq!(all.iter().max(), Some(&Outcome::Deny));
        let mut sorted = all;
        sorted.sort();
        assert_eq!(
            sorted.map(Outcome::as_str),
            ["allow", "allow_with_checkpoint", "redirect", "ask", "deny"]
        );
    }
}
