//! `cordon export --format acta [--journal DIR] --signing-key K --key-id KID`: the journal's
//! decision records as Veritas Acta draft -03 envelope receipts, one JSON line each, chained with
//! `previousReceiptHash` in journal order. Verify the journal first: export re-signs, it does not
//! vouch.

use std::path::PathBuf;

use cordon_journal::{acta, Journal, Signer};
use serde_json::Value;

use crate::exit::{self, CliError};
use crate::home::DEFAULT_JOURNAL;
use crate::input::read_input;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// draft-farley-acta-signed-receipts-03, envelope shape.
    Acta,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub format: Format,
    #[arg(long, default_value = DEFAULT_JOURNAL)]
    pub journal: PathBuf,
    /// Private key for the Acta signatures (PKCS#8 PEM, 32-byte seed, or 64-byte seed and public key).
    #[arg(long)]
    pub signing_key: PathBuf,
    /// Becomes both `kid` and `issuer_id`, as -03 requires.
    #[arg(long)]
    pub key_id: String,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let Format::Acta = args.format;
    let bytes = read_input(&args.signing_key, 64 << 10, "signing key")?;
    let signer = Signer::from_bytes(&bytes, args.key_id.clone())
        .map_err(|e| CliError::invalid_input(format!("{}: {e}", args.signing_key.display())))?;
    if !args.journal.join(cordon_journal::store::META_FILE).exists() {
        return Err(CliError::invalid_input(format!(
            "{}: not a cordon journal",
            args.journal.display()
        )));
    }
    let j = Journal::open_existing(&args.journal)
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    let mut previous: Option<Value> = None;
    for i in 0..j.len() {
        let line = j
            .read_entry(i)
            .map_err(|e| CliError::invalid_input(e.to_string()))?;
        let Ok(record) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if record.get("record_version").and_then(Value::as_str)
            != Some(cordon_journal::record::DECISION_RECORD_VERSION)
        {
            continue;
        }
        let receipt = acta::export_decision(&record, &signer, previous.as_ref())
            .map_err(|e| CliError::invalid_input(format!("entry {i}: {e}")))?;
        let text =
            serde_json::to_string(&receipt).map_err(|e| CliError::internal(e.to_string()))?;
        crate::output::say_out!("{text}");
        previous = Some(receipt);
    }
    Ok(exit::OK)
}
