//! The approver's keys: the home's signing key is the default approver key.

use std::path::{Path, PathBuf};

pub use cordon_governor::approval::unix_now;

use crate::home::Home;

/// The home's signing key, the default approver key.
pub fn home_key(home: &Home) -> Result<PathBuf, String> {
    home.signing_key()
        .map(|(pem, _)| pem)
        .map_err(|e| format!("{}; or pass --key", e.message))
}

/// Reads an approver's private key.
pub fn read_key(path: &Path) -> Result<ed25519_dalek::SigningKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    cordon_journal::keys::parse_private_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
