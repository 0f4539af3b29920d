//! `cordon verify-receipt RECEIPT --public-key PUB --key-id ID`: one receipt, csc-runner compatible.
//!
//! Same checks, order and messages as `csc verify-receipt` (`VALID — receipt signature verified`,
//! `INVALID — <reason>`), with strict Ed25519. Exit 0 valid, 1 invalid; a file that cannot be read
//! or parsed is an input error (65), never a verdict.

use std::path::PathBuf;

use cordon_journal::keys;

use crate::exit::{self, CliError};
use crate::input::read_input;

const MAX_RECEIPT: u64 = 16 << 20;
const MAX_KEY: u64 = 64 << 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The signed receipt (JSON).
    pub receipt: PathBuf,
    /// Raw 32-byte Ed25519 public key.
    #[arg(long)]
    pub public_key: PathBuf,
    /// The key id the receipt must name.
    #[arg(long)]
    pub key_id: String,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let bytes = read_input(&args.receipt, MAX_RECEIPT, "receipt")?;
    let receipt: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: the receipt is not JSON: {e}",
            args.receipt.display()
        ))
    })?;
    let key_bytes = read_input(&args.public_key, MAX_KEY, "public key")?;
    let key = keys::parse_public_key(&key_bytes)
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", args.public_key.display())))?;
    match cordon_journal::verify_receipt(&receipt, &args.key_id, &key) {
        Ok(_) => {
            crate::output::say_out!("VALID — receipt signature verified");
            Ok(exit::OK)
        }
        Err(e) => {
            crate::output::say_out!("INVALID — {e}");
            Ok(exit::DENY)
        }
    }
}
