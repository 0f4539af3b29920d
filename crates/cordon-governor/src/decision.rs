//! The one decision every front end builds and every record carries.
//!
//! The engines answer in their own shapes: the CSC engine a `PolicyDecision` (three verdicts, CSC's
//! reason codes), the native and Cedar engines a `native::Decision` (five outcomes, cordon's codes
//! and a judgement per command, which `cordon explain` shows). A [`Decision`] is what is left of
//! either once it is made: the outcome, the reason codes, one sentence, and the policy it was made
//! under. `cordon run`, `cordon exec`, the hooks, MCP and the gateway build it the same way
//! ([`Decision::from_native`], [`Decision::from_csc`]) and differ only in how they render it.

use std::fmt;

use cordon_core::policy::LoadedPolicy;
use cordon_core::{Outcome, PolicyDecision, ReasonCode, Verdict};
use cordon_policy::native::{self, CordonReason};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stable reason code: one of CSC's registry or one of cordon's. Serialized as the code string
/// (`COMMAND_NOT_ALLOWED`, `RULE_DENIED`); the two registries never share a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Csc(ReasonCode),
    Cordon(CordonReason),
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Csc(code) => code.as_str(),
            Reason::Cordon(code) => code.as_str(),
        }
    }

    /// The code named `text`, from either registry.
    pub fn parse(text: &str) -> Option<Reason> {
        ReasonCode::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .map(Reason::Csc)
            .or_else(|| {
                CordonReason::ALL
                    .into_iter()
                    .find(|c| c.as_str() == text)
                    .map(Reason::Cordon)
            })
    }

    /// CSC's code for an outcome whose engine gave none: what a CSC peer is told.
    pub fn csc_for(outcome: Outcome) -> Reason {
        Reason::Csc(match outcome.verdict() {
            Verdict::Allow => ReasonCode::Allow,
            Verdict::NeedsApproval => ReasonCode::ApprovalRequired,
            Verdict::Deny => ReasonCode::CommandNotAllowed,
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Reason, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reason::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown reason code {text:?}")))
    }
}

/// The policy a decision was made under, as receipts and decision records name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub name: String,
    /// SHA-256 of the whole policy document (the digest pinned in every receipt).
    pub sha256: String,
    /// CSC's `policy_schema_version`, for a CSC profile; a native or Cedar policy has none.
    pub schema_version: Option<String>,
    /// Environment names the policy lets through to the command (CSC extension `env_allow`).
    pub env_allow: Vec<String>,
}

impl PolicyRef {
    pub fn of_csc(policy: &LoadedPolicy) -> PolicyRef {
        PolicyRef {
            name: policy.policy.name.clone(),
            sha256: policy.sha256.clone(),
            schema_version: Some(policy.policy.policy_schema_version.clone()),
            env_allow: policy
                .policy
                .extension
                .as_ref()
                .map(|e| e.env_allow.clone())
                .unwrap_or_default(),
        }
    }

    /// A native or Cedar policy: a name and a digest.
    pub fn named(name: &str, sha256: &str) -> PolicyRef {
        PolicyRef {
            name: name.to_string(),
            sha256: sha256.to_string(),
            schema_version: None,
            env_allow: Vec::new(),
        }
    }
}

/// A decision: the outcome, why (codes and one sentence), and under which policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// Never empty: the engine's codes, else CSC's code for the outcome.
    pub reason_codes: Vec<Reason>,
    /// One sentence a person reads.
    pub sentence: String,
    pub policy: PolicyRef,
}

impl Decision {
    /// A decision, with CSC's code for the outcome when `reason_codes` is empty.
    pub fn new(
        outcome: Outcome,
        mut reason_codes: Vec<Reason>,
        sentence: String,
        policy: PolicyRef,
    ) -> Decision {
        if reason_codes.is_empty() {
            reason_codes.push(Reason::csc_for(outcome));
        }
        Decision {
            outcome,
            reason_codes,
            sentence,
            policy,
        }
    }

    /// The native or Cedar engine's decision, and the CSC engine's code when a CSC profile
    /// judged the synthesized contract.
    pub fn from_native(
        decision: &native::Decision,
        csc_code: Option<ReasonCode>,
        policy: PolicyRef,
    ) -> Decision {
        let codes = decision
            .reason_codes
            .iter()
            .copied()
            .map(Reason::Cordon)
            .chain(csc_code.map(Reason::Csc))
            .collect();
        Decision::new(decision.outcome, codes, decision.sentence.clone(), policy)
    }

    /// The CSC engine's decision on a contract.
    pub fn from_csc(decision: &PolicyDecision, policy: PolicyRef) -> Decision {
        let outcome = decision.outcome.unwrap_or(match decision.decision {
            Verdict::Allow => Outcome::Allow,
            Verdict::Deny => Outcome::Deny,
            Verdict::NeedsApproval => Outcome::Ask,
        });
        let codes = decision
            .reason_codes
            .iter()
            .copied()
            .map(Reason::Csc)
            .collect();
        Decision::new(outcome, codes, decision.reasons.join("; "), policy)
    }

    /// A denial for `why`, under `policy`.
    pub fn deny(code: CordonReason, why: &str, policy: PolicyRef) -> Decision {
        Decision::new(
            Outcome::Deny,
            vec![Reason::Cordon(code)],
            format!("Denied: {why}."),
            policy,
        )
    }

    /// This decision for a command that would run in hardened mode on a kernel that cannot
    /// confine it (`why`): a denial, rather than a run without the confinement it was judged for.
    pub fn unconfinable(self, why: &str) -> Decision {
        Decision::new(
            Outcome::Deny,
            vec![Reason::Cordon(CordonReason::HardenedUnavailable)],
            format!(
                "Denied: the policy allows it, but cordon runs allowed commands in hardened mode and {why}, so hardened runs are blocked on this machine; `cordon install <agent> --mode local` runs them without kernel enforcement."
            ),
            self.policy,
        )
    }

    /// The CSC verdict a CSC peer sees.
    pub fn verdict(&self) -> Verdict {
        self.outcome.verdict()
    }

    /// Whether the outcome lets the command run (allow, redirect, allow with a checkpoint).
    pub fn runs(&self) -> bool {
        self.verdict() == Verdict::Allow
    }

    /// The codes as strings, for records and wire formats.
    pub fn code_strings(&self) -> Vec<String> {
        self.reason_codes
            .iter()
            .map(|c| c.as_str().to_string())
            .collect()
    }

    /// The stricter of two decisions (the first on a tie).
    pub fn stricter(self, other: Decision) -> Decision {
        if other.outcome > self.outcome {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_serialize_to_their_registry_names_and_back() {
        for code in ReasonCode::ALL {
            let text = serde_json::to_value(Reason::Csc(code)).unwrap();
            assert_eq!(text, code.as_str());
            assert_eq!(
                serde_json::from_value::<Reason>(text).unwrap(),
                Reason::Csc(code)
            );
        }
        for code in CordonReason::ALL {
            let text = serde_json::to_value(Reason::Cordon(code)).unwrap();
            assert_eq!(text, code.as_str());
            assert_eq!(
                serde_json::from_value::<Reason>(text).unwrap(),
                Reason::Cordon(code)
            );
        }
        assert!(serde_json::from_value::<Reason>("MADE_UP".into()).is_err());
    }

    #[test]
    fn a_decision_without_codes_gets_cscs_code_for_its_outcome() {
        let policy = PolicyRef::named("p", &"0".repeat(64));
        for (outcome, code) in [
            (Outcome::Allow, "ALLOW"),
            (Outcome::AllowWithCheckpoint, "ALLOW"),
            (Outcome::Redirect, "ALLOW"),
            (Outcome::Ask, "APPROVAL_REQUIRED"),
            (Outcome::Deny, "COMMAND_NOT_ALLOWED"),
        ] {
            let d = Decision::new(outcome, Vec::new(), String::new(), policy.clone());
            assert_eq!(d.code_strings(), [code], "{outcome:?}");
        }
    }

    #[test]
    fn the_stricter_decision_wins() {
        let policy = PolicyRef::named("p", &"0".repeat(64));
        let allow = Decision::new(Outcome::Allow, Vec::new(), "a".into(), policy.clone());
        let ask = Decision::new(Outcome::Ask, Vec::new(), "b".into(), policy);
        assert_eq!(allow.clone().stricter(ask.clone()).sentence, "b");
        assert_eq!(ask.clone().stricter(allow).sentence, "b");
    }
}
