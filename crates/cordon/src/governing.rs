//! The binary's side of the pipeline: builds the governor's options from the home and the command
//! line, hands notices to stderr, writes the receipt where it belongs, and ends with the status.
//! `cordon run` and `cordon exec` both come through here, so they cannot drift apart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cordon_core::Outcome;
use cordon_governor::approval::DEFAULT_TIMEOUT_SECS;
use cordon_governor::{
    ApprovalOptions, Conclusion, Error, Ledger, Mode, Notice, Options, RunRequest, Sandbox,
};
use serde_json::Value;

use crate::exit::{self, CliError};
use crate::home::Home;

/// The governor's error as the command line reports it.
pub fn cli_error(error: Error) -> CliError {
    match error {
        Error::Usage(why) => CliError::usage(why),
        Error::InvalidInput(why) => CliError::invalid_input(why),
        Error::Unrecordable(why) => CliError {
            code: exit::BLOCKED,
            message: format!("blocked: {why}"),
        },
        Error::Internal(why) => CliError::internal(why),
    }
}

/// `--approval` files and `--approval-timeout`; without a timeout, `CORDON_APPROVAL_TIMEOUT`
/// (seconds), else the default wait.
pub fn approval_options(files: Vec<PathBuf>, timeout_secs: Option<u64>) -> ApprovalOptions {
    let secs = timeout_secs.unwrap_or_else(|| {
        std::env::var("CORDON_APPROVAL_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
    });
    ApprovalOptions {
        files,
        timeout: Duration::from_secs(secs),
    }
}

/// The options for a run in `mode`, with the home's approval desk and snapshot places, and
/// notices written to stderr as they come.
pub fn options(mode: Mode, approval: ApprovalOptions, session: Option<String>) -> Options {
    let home = Home::from_env();
    Options {
        mode,
        approval,
        desk: home.as_ref().map(Home::approval_desk),
        snapshots: home.as_ref().map(Home::snapshot_places),
        session,
        notices: Arc::new(|notice: Notice| eprintln!("{}", notice.line())),
    }
}

/// Where the receipt goes and what the caller says itself.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Write the receipt here (atomically); else print it as the last line of stdout.
    pub receipt_path: Option<&'a Path>,
    /// With no receipt file, a receipt the journal holds stays out of stdout: `cordon exec`'s
    /// stdout is the command's own output, which the agent reads.
    pub journal_only: bool,
}

/// Governs `request` (or refuses it when `ledger` could not be opened), delivers the receipt and
/// returns the exit status.
pub fn carry_out(
    request: &RunRequest,
    options: &Options,
    ledger: Result<Ledger, Error>,
    delivery: Delivery<'_>,
) -> Result<u8, CliError> {
    let mut sandbox = Sandbox::default();
    let governed = match ledger {
        Ok(mut ledger) => cordon_governor::govern(request, options, &mut ledger, &mut sandbox),
        Err(Error::Unrecordable(why)) => {
            cordon_governor::govern_unrecorded(request, options, &why, &mut sandbox)
        }
        Err(other) => return Err(cli_error(other)),
    }
    .map_err(cli_error)?;
    // `exec` told the agent its decision before this, and a refused approval said why; `run`
    // says a refusal here.
    if let (Conclusion::Refused(outcome), false) = (&governed.conclusion, delivery.journal_only) {
        let what = if *outcome == Outcome::Deny {
            "denied"
        } else {
            "needs approval"
        };
        eprintln!("cordon run: {what}: {}", request.decision.sentence);
    }
    let quiet = governed.journaled && delivery.journal_only && delivery.receipt_path.is_none();
    if !quiet {
        write_receipt(&governed.receipt, delivery.receipt_path)?;
    }
    match governed.fault {
        Some(fault) => Err(CliError::internal(fault)),
        None => Ok(governed.conclusion.exit_code()),
    }
}

/// Writes a receipt as one line of canonical JSON to `path` (atomically: a reader never sees half
/// a receipt), or prints it as the last line of stdout.
pub fn write_receipt(receipt: &Value, path: Option<&Path>) -> Result<(), CliError> {
    let text = cordon_core::canonical::to_string(receipt)
        .map_err(|e| CliError::internal(format!("cannot serialize the receipt: {e}")))?;
    match path {
        Some(path) => cordon_core::file::write_atomically(path, format!("{text}\n").as_bytes())
            .map_err(|e| {
                CliError::internal(format!("{}: cannot write the receipt: {e}", path.display()))
            }),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// The signing key and journal `cordon run` and `cordon exec` were given, as a ledger.
pub fn ledger(
    signing_key: Option<&Path>,
    key_id: Option<&str>,
    journal: Option<&Path>,
    mode: Mode,
) -> Result<Ledger, Error> {
    let key = match (signing_key, key_id) {
        (Some(path), Some(id)) => Some((path, id)),
        (None, None) => None,
        _ => {
            return Err(Error::Usage(
                "--signing-key and --key-id go together".into(),
            ))
        }
    };
    Ledger::open(key, journal, mode)
}

/// `--journal`, else `CORDON_JOURNAL`.
pub fn journal_named(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CORDON_JOURNAL").map(PathBuf::from))
}
