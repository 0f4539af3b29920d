//! `cordon run CONTRACT POLICY [--mode local|hardened] [--signing-key K --key-id ID]
//! [--journal DIR] [--receipt F]`: decide with the CSC engine, run what was allowed, and leave
//! evidence. The pipeline is `cordon_governor::govern` (docs/architecture.md); this command reads
//! its arguments and the two files, and says a refusal in its own words.
//!
//! Mode: hardened unless `--mode local` names local. A hardened run is confined to the CSC
//! profile's envelope (`cordon_governor::envelope`): each command's declared scopes, judged on
//! their real paths against the profile's prefixes, and never the credentials, cordon's home or
//! the key and journal.
//!
//! Evidence (docs/journal.md, "cordon run"): with a journal, every decision is appended as a
//! signed decision record before anything runs, the run's receipt is linked to it, signed and
//! appended, and a checkpoint is written at the end. A run that cannot be recorded does not
//! start: hardened mode without a usable key, a journal that cannot be opened, or a record that
//! cannot be appended all block with exit 126. Hardened mode signs with `--signing-key`, else the
//! config home's key; with a key but no journal, the receipt alone is signed. Local mode without
//! a key writes an unsigned receipt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_governor::{EnvelopeSource, Error, Ledger, Mode, PolicyInForce};

use crate::exit::CliError;
use crate::governing::{self, RunArgs};
use crate::home;

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
    args.how.resolver_overrides()?;
    let judged = crate::input::judge_files(&args.contract, &args.policy)?;
    let how = args.how;
    let (mode, _) = how.mode();
    let journal = governing::journal_named(how.journal.as_deref());
    let ledger = ledger(&how, journal.as_deref(), mode);
    // A run under `CORDON_SESSION` attributes its snapshots to that session.
    let session = std::env::var(crate::sessions::ENV).ok();
    let home = PathBuf::from(cordon_core::user::home());
    let envelope = EnvelopeSource {
        policy: Arc::new(PolicyInForce::Csc(Box::new(judged.policy))),
        workspace: std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?,
        cordon_home: governing::cordon_home(&home),
        home,
    };
    governing::carry_out(
        &judged.request,
        &how,
        session,
        ledger,
        false,
        Some(envelope),
    )
}

/// The signer and journal: `--signing-key`, else in hardened mode the config home's key (created
/// on first use), else none (local mode, unsigned receipt).
fn ledger(how: &RunArgs, journal: Option<&Path>, mode: Mode) -> Result<Ledger, Error> {
    if how.signing_key.is_some() || how.key_id.is_some() || mode == Mode::Local {
        return governing::ledger(
            how.signing_key.as_deref(),
            how.key_id.as_deref(),
            journal,
            mode,
        );
    }
    let home = home::first_use().map_err(|e| Error::Unrecordable(e.message))?;
    let Some(home) = home else {
        return governing::ledger(None, None, journal, mode);
    };
    let (key, id) = home
        .signing_key()
        .map_err(|e| Error::Unrecordable(format!("the config home cannot sign: {}", e.message)))?;
    Ledger::open(Some((&key, &id)), journal, mode)
}
