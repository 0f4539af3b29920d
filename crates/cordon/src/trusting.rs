//! The keys `cordon rollback` and `cordon trash` trust: the config home's, which signs every
//! checkpoint and trash item a run makes, and a key the person names (`--public-key PUB
//! --key-id ID`) for runs they signed with another key (`--signing-key`). Nothing in the
//! checkpoint store or the trash can add a key: an agent may have written there.

use std::path::PathBuf;

use cordon_journal::keys;
use cordon_journal::KeyRing;

use crate::exit::CliError;
use crate::home::Home;
use crate::input::read_input;

/// `--public-key PUB --key-id ID`: one more key to trust.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustArgs {
    /// Also trust this raw 32-byte Ed25519 public key (the one a run's `--signing-key` used).
    #[arg(long, requires = "key_id", value_name = "PUB")]
    pub public_key: Option<PathBuf>,
    /// The key id `--public-key` signs under.
    #[arg(long, requires = "public_key", value_name = "ID")]
    pub key_id: Option<String>,
}

/// The home's key and the one named. `Err` (invalid input) when neither is there, or the named
/// key cannot be read: with no key nothing could be trusted.
pub fn key_ring(home: &Home, args: &TrustArgs) -> Result<KeyRing, CliError> {
    let named = match (&args.public_key, &args.key_id) {
        (Some(path), Some(id)) => {
            let bytes = read_input(path, 64 << 10, "public key")?;
            let key = keys::parse_public_key(&bytes)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?;
            Some((id.clone(), key))
        }
        _ => None,
    };
    let mut ring = match (home.key_ring(), &named) {
        (Ok(ring), _) => ring,
        (Err(_), Some(_)) => KeyRing::new(),
        (Err(e), None) => {
            return Err(CliError::invalid_input(format!(
                "{}; only what that key signed is rolled back or restored",
                e.message
            )))
        }
    };
    if let Some((id, key)) = named {
        ring.insert(id, key, None, None);
    }
    Ok(ring)
}
