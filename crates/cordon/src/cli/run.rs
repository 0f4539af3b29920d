//! `cordon run CONTRACT POLICY [--mode local|hardened] [--signing-key K --key-id ID]
//! [--journal DIR] [--receipt F]`: decide with the CSC engine, run what was allowed, and leave
//! evidence. The pipeline is `cordon_governor::govern` (docs/architecture.md); this command reads
//! its arguments and the two files, and says a refusal in its own words.
//!
//! Evidence (docs/journal.md, "cordon run"): with a journal, every decision is appended as a
//! signed decision record before anything runs, the run's receipt is linked to it, signed and
//! appended, and a checkpoint is written at the end. A run that cannot be recorded does not
//! start: hardened mode without a usable key, a journal that cannot be opened, or a record that
//! cannot be appended all block with exit 126. With a key but no journal, the receipt alone is
//! signed. Without either, local mode writes an unsigned receipt.

use std::path::PathBuf;

use crate::exit::CliError;
use crate::governing::{self, RunArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command contract (CSC v0.1 JSON).
    pub contract: PathBuf,
    /// The policy profile (CSC v0.1 YAML or JSON).
    pub policy: PathBuf,
    #[command(flatten)]
    pub how: RunArgs,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let (request, _) = crate::input::judge_files(&args.contract, &args.policy)?;
    let how = args.how;
    let journal = governing::journal_named(how.journal.as_deref());
    let ledger = governing::ledger(
        how.signing_key.as_deref(),
        how.key_id.as_deref(),
        journal.as_deref(),
        how.mode,
    );
    // A run under `CORDON_SESSION` attributes its snapshots to that session.
    let session = std::env::var(crate::sessions::ENV).ok();
    // The workspace a run's checkpoint is for: where it was started.
    let workspace = std::env::current_dir()
        .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?;
    governing::carry_out(&request, &how, session, Some(workspace), ledger, false)
}
