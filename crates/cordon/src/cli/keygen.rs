//! `cordon keygen [--out-dir D] [--key-id ID]`: a new Ed25519 signing key.
//!
//! Writes `<ID>.pem` (PKCS#8, mode 0600), `<ID>.pub` (raw 32 bytes, what `--public-key` and
//! csc-runner read), `<ID>.keyid`, and `<ID>.keyring.json` (a key ring holding this key, valid from
//! now on, for `cordon verify --key-ring`). Never overwrites an existing key.

use std::path::PathBuf;

use cordon_journal::keys::{self, KeyRing};

use crate::exit::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the key files (created if missing).
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Key id to sign under; default `ed25519-` and 16 hex digits of the public key's SHA-256.
    #[arg(long)]
    pub key_id: Option<String>,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let g = keys::generate(&args.out_dir, args.key_id.as_deref())
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    let public =
        keys::read_public_key(&g.public_key_path).map_err(|e| CliError::internal(e.to_string()))?;
    let mut ring = KeyRing::new();
    ring.insert(
        g.key_id.clone(),
        public,
        Some(time::OffsetDateTime::now_utc()),
        None,
    );
    let ring_path = args.out_dir.join(format!("{}.keyring.json", g.key_id));
    let text = ring
        .to_json()
        .map_err(|e| CliError::internal(e.to_string()))?;
    std::fs::write(&ring_path, text + "\n").map_err(|e| {
        CliError::internal(format!(
            "{}: cannot write the key ring: {e}",
            ring_path.display()
        ))
    })?;
    crate::output::say_out!("key id:      {}", g.key_id);
    crate::output::say_out!(
        "private key: {} (PKCS#8 PEM, mode 0600; keep it secret)",
        g.private_key_path.display()
    );
    crate::output::say_out!(
        "public key:  {} (raw 32 bytes; base64 {})",
        g.public_key_path.display(),
        g.public_key_b64
    );
    crate::output::say_out!("key ring:    {}", ring_path.display());
    Ok(exit::OK)
}
