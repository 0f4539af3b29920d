//! `cordon verify [JOURNAL] [--public-key PUB [--key-id ID] | --key-ring F] [--trusted-checkpoint F]
//! [--witness-key VKEY]… [--json] [--fast]` and `cordon verify --witness URL ORIGIN --public-key PUB`.
//!
//! Checks a whole journal (see `cordon_journal::verify`), held to the cosigned checkpoints it
//! keeps from its witness (`JOURNAL/witnessed/`, checked with `--witness-key` or the home's
//! witness.json). With `--witness`, checks a machine's whole history from the witness's mirror
//! alone, against the witness's latest cosigned checkpoint. Prints findings for a person, then, as
//! the last line, the JSON verdict. Exit 0 valid, 1 invalid, 2 undecidable.

use std::path::{Path, PathBuf};

use cordon_journal::keys::{self, KeyRing};
use cordon_journal::verify::verify_witnessed;
use cordon_journal::witness::client::{verify_from_witness, WITNESSED_DIR};
use cordon_journal::witness::WitnessKey;
use cordon_journal::{JournalError, Outcome, Verdict, VerifyOptions};

use crate::exit::{self, CliError};
use crate::input::read_input;
use crate::output;
use crate::witnessing::{check_url, parse_witness_key, WitnessTarget};

const VALID: u8 = 0;
const INVALID: u8 = 1;
const UNDECIDABLE: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal directory; default: the config home's journal, checked with the home's key.
    /// With --witness: the origin of the log to verify from the witness's mirror.
    #[arg(value_name = "JOURNAL|ORIGIN")]
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
    /// A witness's verifier key (repeatable): the journal's kept cosigned checkpoints by this
    /// witness are held as trusted. Default: `key` in the home's witness.json.
    #[arg(long = "witness-key", value_name = "VKEY")]
    pub witness_keys: Vec<String>,
    /// Verify the log ORIGIN from this witness's mirror alone (its entries and its latest
    /// cosigned checkpoint); needs the machine's key (--public-key or --key-ring), never the
    /// witness's word for it.
    #[arg(long, value_name = "URL", requires = "journal", conflicts_with_all = ["trusted_checkpoint", "fast"])]
    pub witness: Option<String>,
    /// Print only the JSON verdict.
    #[arg(long)]
    pub json: bool,
    /// Let a checkpoint signed by a current key stand in for the per-entry signatures it covers
    /// (about 10x faster on large journals); any failure triggers a full verification.
    #[arg(long)]
    pub fast: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    if args.witness.is_some() {
        return from_witness(&args);
    }
    let ring = load_ring(&args)?;
    let witnesses = witness_keys(&args)?;
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
    let mut verdict = verify_witnessed(
        &journal,
        &VerifyOptions {
            ring,
            trusted_checkpoint,
            fast: args.fast,
        },
        &witnesses,
    )
    .map_err(|e| CliError::invalid_input(e.to_string()))?;
    let kept = kept_cosignatures(&journal);
    if witnesses.is_empty() && kept > 0 {
        verdict.notes.push(format!(
            "{kept} cosigned checkpoint(s) are kept in {WITNESSED_DIR}/ but no witness key was given (--witness-key or witness.json), so they were not checked"
        ));
    }
    render(&verdict, args.json)
}

/// The rendering of a verdict: findings for a person, the JSON verdict last; the exit code is
/// the verdict.
fn render(verdict: &Verdict, json_only: bool) -> Result<u8, CliError> {
    // The whole answer at once: a reader that stops early (`| head -1`) gets no panic, and the
    // exit code is still the verdict.
    let mut text = String::new();
    if !json_only {
        let label = match verdict.verdict {
            Outcome::Valid => "VALID",
            Outcome::Invalid => "INVALID",
            Outcome::Undecidable => "UNDECIDABLE",
        };
        text.push_str(&format!(
            "{label} — {} entries ({} decisions, {} receipts), {} checkpoints matched",
            verdict.entries, verdict.decisions, verdict.receipts, verdict.checkpoints_matched
        ));
        if verdict.witnessed_checkpoints > 0 {
            text.push_str(&format!(
                ", held to {} cosigned checkpoint(s)",
                verdict.witnessed_checkpoints
            ));
        }
        text.push('\n');
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
    let json = serde_json::to_string(verdict)
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

/// `cordon verify --witness URL ORIGIN`: the log rebuilt from the mirror in a scratch directory
/// and verified against the witness's latest cosigned checkpoint.
fn from_witness(args: &Args) -> Result<u8, CliError> {
    let (Some(url), Some(origin)) = (&args.witness, &args.journal) else {
        return Err(CliError::usage(
            "--witness URL needs the ORIGIN of the log to verify",
        ));
    };
    let origin = origin
        .to_str()
        .ok_or_else(|| CliError::usage("the ORIGIN of a log is UTF-8 text (cordon.journal/…)"))?;
    if args.public_key.is_none() && args.key_ring.is_none() {
        return Err(CliError::usage(
            "cordon verify --witness needs the machine's key (--public-key PUB or --key-ring F): the witness's word for it proves nothing",
        ));
    }
    let ring = load_ring(args)?;
    let witness = match witness_keys(args)?.as_slice() {
        [one] => one.clone(),
        [] => return Err(CliError::usage(
            "cordon verify --witness needs the witness's key (--witness-key VKEY or witness.json)",
        )),
        _ => {
            return Err(CliError::usage(
                "cordon verify --witness takes one --witness-key: the witness named by --witness",
            ))
        }
    };
    check_url(url)?;
    let scratch = tempfile::Builder::new()
        .prefix("cordon-verify-")
        .tempdir()
        .map_err(|e| CliError::internal(format!("cannot create a scratch directory: {e}")))?;
    let verdict =
        verify_from_witness(url, origin, &ring, &witness, scratch.path()).map_err(|e| match e {
            JournalError::Transport { .. } | JournalError::Database(_) => CliError {
                code: exit::UNAVAILABLE,
                message: e.to_string(),
            },
            JournalError::Refused { .. } => CliError {
                code: INVALID,
                message: e.to_string(),
            },
            other => CliError::invalid_input(other.to_string()),
        })?;
    render(&verdict, args.json)
}

/// `--witness-key`s, else the key in the home's witness.json, else none.
fn witness_keys(args: &Args) -> Result<Vec<WitnessKey>, CliError> {
    if !args.witness_keys.is_empty() {
        return args
            .witness_keys
            .iter()
            .map(|k| parse_witness_key(k))
            .collect();
    }
    let configured = match crate::home::Home::from_env() {
        Some(home) => WitnessTarget::configured(&home)?,
        None => None,
    };
    Ok(configured.into_iter().map(|w| w.key).collect())
}

/// How many cosigned checkpoints the journal keeps.
fn kept_cosignatures(journal: &Path) -> usize {
    std::fs::read_dir(journal.join(WITNESSED_DIR))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "checkpoint"))
                .count()
        })
        .unwrap_or(0)
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
