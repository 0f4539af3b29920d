//! `cordon journal proof|checkpoint|verify-proof`: inclusion proofs and checkpoints on demand.

use std::path::PathBuf;

use cordon_journal::keys::{self, KeyRing};
use cordon_journal::{proof, Journal, Signer};

use crate::exit::{self, CliError};
use crate::home::DEFAULT_JOURNAL;
use crate::input::read_input;
use crate::output;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Print a c2sp.org/tlog-proof@v1 bundle proving entry N is in the latest checkpoint.
    Proof {
        /// Zero-based entry index.
        index: u64,
        #[arg(long, default_value = DEFAULT_JOURNAL)]
        journal: PathBuf,
    },
    /// Sign and store a checkpoint of the journal as it is now, and print it.
    Checkpoint {
        #[arg(long, default_value = DEFAULT_JOURNAL)]
        journal: PathBuf,
        /// Private key: PKCS#8 PEM, 32-byte seed, or 64-byte seed and public key.
        #[arg(long)]
        signing_key: PathBuf,
        /// Key id (not part of the checkpoint; notes name keys by origin and key hash).
        #[arg(long, default_value = "checkpoint")]
        key_id: String,
    },
    /// Check a proof bundle offline against the log's public key. Exit 0 valid, 1 invalid.
    VerifyProof {
        bundle: PathBuf,
        /// Raw 32-byte Ed25519 public key of the log.
        #[arg(long)]
        public_key: PathBuf,
    },
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args {
        Args::Proof { index, journal } => {
            let j = open(&journal)?;
            let bundle = j
                .proof_bundle(index, None)
                .map_err(|e| CliError::invalid_input(e.to_string()))?;
            output::answer(&bundle, exit::OK)
        }
        Args::Checkpoint {
            journal,
            signing_key,
            key_id,
        } => {
            let bytes = read_input(&signing_key, 64 << 10, "signing key")?;
            let signer = Signer::from_bytes(&bytes, key_id)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", signing_key.display())))?;
            let mut j = open(&journal)?;
            let (_, text) = j
                .write_checkpoint(&signer)
                .map_err(|e| CliError::internal(e.to_string()))?;
            output::answer(&text, exit::OK)
        }
        Args::VerifyProof { bundle, public_key } => {
            let text = read_input(&bundle, 64 << 20, "proof bundle")?;
            let text = String::from_utf8(text).map_err(|_| {
                CliError::invalid_input(format!(
                    "{}: the bundle is not UTF-8 text",
                    bundle.display()
                ))
            })?;
            let key_bytes = read_input(&public_key, 64 << 10, "public key")?;
            let key = keys::parse_public_key(&key_bytes)
                .map_err(|e| CliError::invalid_input(format!("{}: {e}", public_key.display())))?;
            match proof::verify(&text, None, &KeyRing::any_id(key)) {
                Ok(p) => output::answer(
                    &format!(
                        "VALID — entry {} is in {} at tree size {}\n",
                        p.index, p.checkpoint.origin, p.checkpoint.size
                    ),
                    exit::OK,
                ),
                Err(e) => output::answer(&format!("INVALID — {e}\n"), exit::DENY),
            }
        }
    }
}

fn open(dir: &std::path::Path) -> Result<Journal, CliError> {
    if !dir.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal",
            dir.display()
        )));
    }
    Journal::open_existing(dir).map_err(|e| CliError::invalid_input(e.to_string()))
}
