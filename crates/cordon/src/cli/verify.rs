//! `cordon verify [JOURNAL] [--public-key PUB [--key-id ID] | --key-ring F] [--trusted-checkpoint F] [--json] [--fast]`.
//!
//! Checks a whole journal (see `cordon_journal::verify`). Prints findings for a person, then, as the
//! last line, the JSON verdict. Exit 0 valid, 1 invalid, 2 undecidable.

use std::path::PathBuf;

use cordon_journal::keys::{self, KeyRing};
use cordon_journal::{verify_journal, Outcome, VerifyOptions};

use crate::exit::CliError;
use crate::input::read_input;
use crate::output;

const VALID: u8 = 0;
const INVALID: u8 = 1;
const UNDECIDABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal directory; default: the config home's journal, checked with the home's key.
    pub journal: Option<PathBuf>,
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
    let journal = match &args.journal {
        Some(dir) => dir.clone(),
        None => crate::home::Home::from_env()
            .ok_or_else(|| {
                CliError::usage("no journal named and no config home (set CORDON_HOME or HOME)")
            })?
            .journal_dir(),
    };
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
    if !journal.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal (no {} found)",
            journal.display(),
            cordon_journal::store::META_FILE
        )));
    }
    let verdict = verify_journal(
        &journal,
        &VerifyOptions {
            ring,
            trusted_checkpoint,
            fast: args.fast,
        },
    )
    .map_err(|e| CliError::invalid_input(e.to_string()))?;
    // The whole answer at once: a reader that stops early (`| head -1`) gets no panic, and the
    // exit code is still the verdict.
    let mut text = String::new();
    if !args.json {
        let label = match verdict.verdict {
            Outcome::Valid => "VALID",
            Outcome::Invalid => "INVALID",
            Outcome::Undecidable => "UNDECIDABLE",
        };
        text.push_str(&format!(
            "{label} — {} entries ({} decisions, {} receipts), {} checkpoints matched\n",
            verdict.entries, verdict.decisions, verdict.receipts, verdict.checkpoints_matched
        ));
        for f in verdict.failures.iter().chain(&verdict.undecided) {
            let place = match (f.entry, &f.checkpoint) {
                (Some(e), Some(c)) => format!("entry {e} (checkpoint {c})"),
                (Some(e), None) => format!("entry {e}"),
                (None, Some(c)) => format!("checkpoint {c}"),
                (None, None) => "journal".to_string(),
            };
            text.push_str(&format!("  {place}: {} — {}\n", f.code, f.reason));
        }
        for n in &verdict.notes {
            text.push_str(&format!("  note: {n}\n"));
        }
    }
    let json = serde_json::to_string(&verdict)
        .map_err(|e| CliError::internal(format!("cannot serialize the verdict: {e}")))?;
    text.push_str(&json);
    text.push('\n');
    output::answer(
        &text,
        match verdict.verdict {
            Outcome::Valid => VALID,
            Outcome::Invalid => INVALID,
            Outcome::Undecidable => UNDECIDABLE,
        },
    )
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
    if args.journal.is_none() {
        return home_ring();
    }
    Err(CliError::usage(
        "cordon verify needs --public-key PUB or --key-ring F to check signatures",
    ))
}

/// The config home's signing key (what `cordon init` made), under its key id.
fn home_ring() -> Result<KeyRing, CliError> {
    let home = crate::home::Home::from_env()
        .ok_or_else(|| CliError::usage("no config home (set CORDON_HOME or HOME)"))?;
    // No key, or several, is a usage problem here: the person can name the key instead.
    home.signing_key()
        .map_err(|e| CliError::usage(format!("{}; or give --public-key PUB", e.message)))?;
    home.key_ring()
}
