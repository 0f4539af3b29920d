//! `cordon verify [JOURNAL] [--public-key PUB [--key-id ID] | --key-ring F] [--trusted-checkpoint F] [--json] [--fast]`.
//!
//! Checks a whole journal (see `cordon_journal::verify`). Prints findings for a person, then, as the
//! last line, the JSON verdict. Exit 0 valid, 1 invalid, 2 undecidable.

use std::path::PathBuf;

use cordon_journal::keys::{self, KeyRing};
use cordon_journal::{verify_journal, Outcome, VerifyOptions};

use crate::exit::CliError;
use crate::input::read_input;

/// Where `cordon` keeps its journal when no directory is named.
pub const DEFAULT_JOURNAL: &str = ".cordon/journal";

const VALID: u8 = 0;
const INVALID: u8 = 1;
const UNDECIDABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal directory.
    #[arg(default_value = DEFAULT_JOURNAL)]
    pub journal: PathBuf,
    /// Raw 32-byte Ed25519 public key that signed the journal.
    #[arg(long, conflicts_with = "key_ring")]
    pub public_key: Option<PathBuf>,
    /// The key id for --public-key; without it the key is accepted under any key id.
    #[arg(long, requires = "public_key")]
    pub key_id: Option<String>,
    /// A key ring (cordon.keyring.v1 JSON) with validity windows, for rotated keys.
    #[arg(long)]
    pub key_ring: Option<PathBuf>,
    /// A checkpoint kept from an earlier verification: proves nothing it covered was removed or changed.
    #[arg(long)]
    pub trusted_checkpoint: Option<PathBuf>,
    /// Print only the JSON verdict.
    #[arg(long)]
    pub json: bool,
    /// Let a checkpoint signed by a current key stand in for the per-entry signatures it covers
    /// (about 10x faster on large journals); any failure triggers a full verification.
    #[arg(long)]
    pub fast: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let ring = load_ring(&args)?;
    let trusted_checkpoint = match &args.trusted_checkpoint {
        Some(p) => {
            let bytes = read_input(p, 64 << 10, "trusted checkpoint")?;
            Some(String::from_utf8(bytes).map_err(|_| {
                CliError::invalid_input(format!(
                    "{}: the trusted checkpoint is not UTF-8 text",
                    p.display()
                ))
            })?)
        }
        None => None,
    };
    if !args.journal.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal (no {} found)",
            args.journal.display(),
            cordon_journal::store::META_FILE
        )));
    }
    let verdict = verify_journal(
        &args.journal,
        &VerifyOptions {
            ring,
            trusted_checkpoint,
            fast: args.fast,
        },
    )
    .map_err(|e| CliError::invalid_input(e.to_string()))?;
    if !args.json {
        let label = match verdict.verdict {
            Outcome::Valid => "VALID",
            Outcome::Invalid => "INVALID",
            Outcome::Undecidable => "UNDECIDABLE",
        };
        println!(
            "{label} — {} entries ({} decisions, {} receipts), {} checkpoints matched",
            verdict.entries, verdict.decisions, verdict.receipts, verdict.checkpoints_matched
        );
        for f in verdict.failures.iter().chain(&verdict.undecided) {
            let place = match (f.entry, &f.checkpoint) {
                (Some(e), Some(c)) => format!("entry {e} (checkpoint {c})"),
                (Some(e), None) => format!("entry {e}"),
                (None, Some(c)) => format!("checkpoint {c}"),
                (None, None) => "journal".to_string(),
            };
            println!("  {place}: {} — {}", f.code, f.reason);
        }
        for n in &verdict.notes {
            println!("  note: {n}");
        }
    }
    let json = serde_json::to_string(&verdict)
        .map_err(|e| CliError::internal(format!("cannot serialize the verdict: {e}")))?;
    println!("{json}");
    Ok(match verdict.verdict {
        Outcome::Valid => VALID,
        Outcome::Invalid => INVALID,
        Outcome::Undecidable => UNDECIDABLE,
    })
}

fn load_ring(args: &Args) -> Result<KeyRing, CliError> {
    if let Some(p) = &args.key_ring {
        let bytes = read_input(p, 1 << 20, "key ring")?;
        return KeyRing::from_json(&bytes)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", p.display())));
    }
    if let Some(p) = &args.public_key {
        let bytes = read_input(p, 64 << 10, "public key")?;
        let key = keys::parse_public_key(&bytes)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", p.display())))?;
        return Ok(match &args.key_id {
            Some(id) => KeyRing::single(id.clone(), key),
            None => KeyRing::any_id(key),
        });
    }
    Err(CliError::usage(
        "cordon verify needs --public-key PUB or --key-ring F to check signatures",
    ))
}
