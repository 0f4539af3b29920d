//! What is known to hold a command in when it runs, as the decision assumes it.
//!
//! In local mode nothing does: cordon's judgement of the text is the only defence, so whatever
//! it cannot resolve must be asked. In hardened mode the kernel confines the command to the
//! policy's envelope (docs/sandbox.md): it reads the system, the workspace and the toolchains,
//! writes the workspace, a private temporary directory and named caches, never reaches
//! credentials, cordon's home or shell start-up files, and reaches no network unless the policy
//! lists hosts. A command whose reach that envelope bounds then needs no person, even when
//! cordon cannot see everything it does (an unknown program, `python -c`, `find | xargs grep`).
//!
//! The caller says which holds (it is the one that starts the sandbox); the policy never guesses.
//! A decision records what it assumed in every command's facts, so `cordon explain` can say it.

use serde::{Deserialize, Serialize};

/// The enforcement a decision assumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Enforcement {
    /// Nothing but cordon's judgement: what it cannot resolve is asked.
    #[default]
    Local,
    /// The kernel enforces the policy's envelope around the command.
    Hardened {
        /// The envelope lets the command reach some host (the policy lists hosts, reached
        /// through cordon's proxy). A command cordon cannot see into could then push or publish
        /// to such a host, so it is no longer bounded.
        reaches_network: bool,
    },
}

impl Enforcement {
    /// Hardened mode with an envelope that reaches no network: everything the command can
    /// do lands in the envelope, which the kernel enforces whatever the text says.
    pub fn confines(self) -> bool {
        matches!(
            self,
            Enforcement::Hardened {
                reaches_network: false
            }
        )
    }

    /// The mode's name, as `cordon explain` shows it.
    pub fn mode(self) -> &'static str {
        match self {
            Enforcement::Local => "local",
            Enforcement::Hardened { .. } => "hardened",
        }
    }
}
