//! `cordon verify-acta RECEIPT [--jwks F] [--context F]`: verify one Veritas Acta draft -03 receipt.
//!
//! Speaks the `agent-evidence-vectors` verifier contract: the key set and optional context come from
//! `--jwks`/`--context` or the `AEV_RECEIPT_JWKS`/`AEV_RECEIPT_CONTEXT` environment variables; the
//! last stdout line is `{"verdict": "valid"|"invalid"|"undecidable", "code": …}`; exit 0, 1 or 2.

use std::path::{Path, PathBuf};

use cordon_journal::{acta, Outcome};
use serde_json::{json, Value};

use crate::exit::CliError;
use crate::input::read_input;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The receipt (JSON, envelope shape).
    pub receipt: PathBuf,
    /// JWKS key set (default: $AEV_RECEIPT_JWKS).
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// Context file `{"chain": [paths of earlier receipts, first to last], …}` (default: $AEV_RECEIPT_CONTEXT).
    #[arg(long)]
    pub context: Option<PathBuf>,
}

fn load(path: &Path, what: &str) -> Result<Value, CliError> {
    let bytes = read_input(path, 16 << 20, what)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        CliError::invalid_input(format!("{}: the {what} is not JSON: {e}", path.display()))
    })
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let answer = |verdict: Outcome, code: Option<&str>, reason: &str| -> Result<u8, CliError> {
        if !reason.is_empty() {
            crate::output::say_out!("{reason}");
        }
        crate::output::say_out!("{}", json!({"verdict": verdict, "code": code}));
        Ok(match verdict {
            Outcome::Valid => 0,
            Outcome::Invalid => 1,
            Outcome::Undecidable => 2,
        })
    };
    let jwks_path = args
        .jwks
        .or_else(|| std::env::var_os("AEV_RECEIPT_JWKS").map(PathBuf::from));
    let Some(jwks_path) = jwks_path else {
        return answer(
            Outcome::Undecidable,
            Some("no_key_set"),
            "no key set: pass --jwks or set AEV_RECEIPT_JWKS",
        );
    };
    let jwks = load(&jwks_path, "key set")?;
    let receipt = match load(&args.receipt, "receipt") {
        Ok(r) => r,
        Err(e) => return answer(Outcome::Undecidable, Some("malformed_receipt"), &e.message),
    };
    let context_path = args
        .context
        .or_else(|| std::env::var_os("AEV_RECEIPT_CONTEXT").map(PathBuf::from));
    let mut chain = Vec::new();
    if let Some(p) = context_path {
        let context = load(&p, "context")?;
        for item in context
            .get("chain")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(path) = item.as_str() else {
                return Err(CliError::invalid_input(format!(
                    "{}: chain entries must be paths",
                    p.display()
                )));
            };
            chain.push(load(Path::new(path), "chained receipt")?);
        }
    }
    let v = acta::verify(&receipt, &jwks, &chain);
    answer(v.verdict, v.code, &v.reason)
}
