//! cordon's reason codes for native decisions. They sit next to CSC's fifteen (which stay exactly
//! as CSC defines them, in `cordon_core::ReasonCode`) and never reuse a CSC name, so a consumer can
//! tell which registry a code comes from. Stable API: codes are added, never renamed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CordonReason {
    /// A rule allowed the command.
    RuleAllowed,
    /// A rule allowed the command once its write scope is snapshotted.
    RuleCheckpointed,
    /// A rule replaced the command with a safer one.
    RuleRedirected,
    /// A rule requires a human approval.
    RuleAsked,
    /// A rule denied the command.
    RuleDenied,
    /// No rule matched; the policy's default (deny, or ask) applied.
    NoRuleMatched,
    /// The command cannot be judged before it runs (`eval`, `$x`, a parse error): asked, never allowed.
    UnresolvedCommand,
    /// A redirect was refused: its replacement would widen the scope or is not itself allowed.
    RedirectRefused,
    /// The text runs no command at all.
    NothingToRun,
    /// The text cannot be written as a CSC contract (too many commands, an empty argument).
    ContractUnrepresentable,
    /// The command could not be judged in full, and runs because the kernel confines it to the
    /// policy's envelope (hardened mode, no network): what it cannot reach needs no person.
    EnvelopeBounded,
    /// The policy allows it, but it would run in hardened mode and this kernel cannot confine
    /// it (Landlock ABI below 3, no seccomp filters): denied rather than run unconfined.
    HardenedUnavailable,
    /// A secret the policy grants cannot be given as written: one variable granted two secrets,
    /// a variable cordon never passes, or a grant to one part of a text that runs as a whole
    /// (every part would receive it).
    SecretGrantRefused,
    /// An agent's own search tool (`Grep`, `read_many_files`) would read the contents of a place
    /// the envelope never opens (credentials, cordon's home) beneath the directory it searches.
    SearchReachesCredentials,
    /// An agent's own file tool would read or write cordon's home (its policy, journal, state,
    /// checkpoints, keys), which the envelope never opens (red-team round twenty-two read a
    /// checkpoint's copy of a file the agent could not read itself).
    ToolReachesCordonHome,
}

impl CordonReason {
    pub const ALL: [CordonReason; 15] = [
        CordonReason::RuleAllowed,
        CordonReason::RuleCheckpointed,
        CordonReason::RuleRedirected,
        CordonReason::RuleAsked,
        CordonReason::RuleDenied,
        CordonReason::NoRuleMatched,
        CordonReason::UnresolvedCommand,
        CordonReason::RedirectRefused,
        CordonReason::NothingToRun,
        CordonReason::ContractUnrepresentable,
        CordonReason::EnvelopeBounded,
        CordonReason::HardenedUnavailable,
        CordonReason::SecretGrantRefused,
        CordonReason::SearchReachesCredentials,
        CordonReason::ToolReachesCordonHome,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CordonReason::RuleAllowed => "RULE_ALLOWED",
            CordonReason::RuleCheckpointed => "RULE_CHECKPOINTED",
            CordonReason::RuleRedirected => "RULE_REDIRECTED",
            CordonReason::RuleAsked => "RULE_ASKED",
            CordonReason::RuleDenied => "RULE_DENIED",
            CordonReason::NoRuleMatched => "NO_RULE_MATCHED",
            CordonReason::UnresolvedCommand => "UNRESOLVED_COMMAND",
            CordonReason::RedirectRefused => "REDIRECT_REFUSED",
            CordonReason::NothingToRun => "NOTHING_TO_RUN",
            CordonReason::ContractUnrepresentable => "CONTRACT_UNREPRESENTABLE",
            CordonReason::EnvelopeBounded => "ENVELOPE_BOUNDED",
            CordonReason::HardenedUnavailable => "HARDENED_UNAVAILABLE",
            CordonReason::SecretGrantRefused => "SECRET_GRANT_REFUSED",
            CordonReason::SearchReachesCredentials => "SEARCH_REACHES_CREDENTIALS",
            CordonReason::ToolReachesCordonHome => "TOOL_REACHES_CORDON_HOME",
        }
    }
}

impl std::fmt::Display for CordonReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_core::ReasonCode;

    #[test]
    fn names_are_stable_and_never_collide_with_csc() {
        for code in CordonReason::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(
                ReasonCode::ALL
                    .iter()
                    .all(|csc| csc.as_str() != code.as_str()),
                "{code}"
            );
        }
        assert_eq!(ReasonCode::ALL.len(), 15);
    }
}
