//! cordon's home: one directory holding everything a user's cordon keeps between runs.
//!
//! `$CORDON_HOME`, else `$XDG_CONFIG_HOME/cordon`, else `~/.config/cordon`. Every subsystem finds its
//! files here by name, so tests point `CORDON_HOME` at a temporary directory and get a whole, isolated
//! installation. The layout:
//!
//! ```text
//! policy.yaml          the policy in force when no --policy is given
//! keys/                signing key (PKCS#8 PEM), raw public key, key id
//! journal/             the signed, append-only journal
//! state/approvals.db   pending approval requests and consumed approvals (SQLite)
//! state/sessions/      one file per agent session
//! state/checkpoints/   content-addressed snapshots and their SQLite index
//! state/trash/         soft-deleted files and their manifests
//! state/gateway.sock   the `cordon serve` Unix socket
//! ```

// Some paths are for subsystems still landing (approvals, sessions, checkpoints, the gateway).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The resolved home directory and the paths inside it. Creating it is the caller's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home from the environment, or `None` when there is no `$HOME` to put it under.
    pub fn from_env() -> Option<Home> {
        if let Some(dir) = std::env::var_os("CORDON_HOME").filter(|d| !d.is_empty()) {
            return Some(Home::at(PathBuf::from(dir)));
        }
        if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
            return Some(Home::at(PathBuf::from(dir).join("cordon")));
        }
        std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .map(|h| Home::at(PathBuf::from(h).join(".config").join("cordon")))
    }

    pub fn at(root: PathBuf) -> Home {
        Home { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn policy(&self) -> PathBuf {
        self.root.join("policy.yaml")
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn approvals_db(&self) -> PathBuf {
        self.state_dir().join("approvals.db")
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.state_dir().join("sessions")
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.state_dir().join("checkpoints")
    }

    pub fn trash_dir(&self) -> PathBuf {
        self.state_dir().join("trash")
    }

    pub fn gateway_socket(&self) -> PathBuf {
        self.state_dir().join("gateway.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_lives_under_the_root() {
        let home = Home::at(PathBuf::from("h"));
        for path in [
            home.policy(),
            home.keys_dir(),
            home.journal_dir(),
            home.approvals_db(),
            home.sessions_dir(),
            home.checkpoints_dir(),
            home.trash_dir(),
            home.gateway_socket(),
        ] {
            assert!(path.starts_with("h"), "{}", path.display());
        }
    }
}
