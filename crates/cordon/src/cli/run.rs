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

use cordon_governor::Mode;

use super::mode_parser;
use crate::exit::CliError;
use crate::governing::{self, Delivery};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The command contract (CSC v0.1 JSON).
    pub contract: PathBuf,
    /// The policy profile (CSC v0.1 YAML or JSON).
    pub policy: PathBuf,
    /// `hardened` confines every command with Landlock, seccomp and namespaces, or refuses to run.
    #[arg(long, value_parser = mode_parser(), default_value = "local")]
    pub mode: Mode,
    /// Write the receipt here (atomically) instead of printing it as the last line of stdout.
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Private key to sign decision records, receipts and checkpoints (PKCS#8 PEM, 32-byte seed,
    /// or 64-byte seed and public key). Required in hardened mode.
    #[arg(long, requires = "key_id")]
    pub signing_key: Option<PathBuf>,
    /// Key id the signatures name (what `verify-receipt --key-id` expects).
    #[arg(long, requires = "signing_key")]
    pub key_id: Option<String>,
    /// Journal directory (created if missing); default: the `CORDON_JOURNAL` environment variable,
    /// else none. Needs a signing key.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// A pre-signed approval (`cordon approve --contract … --out F`); repeat for dual control.
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// Seconds to wait for an approver when the policy asks; 0 does not ask (exit 2). Default:
    /// `CORDON_APPROVAL_TIMEOUT`, else 120.
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let (request, _) = crate::input::judge_files(&args.contract, &args.policy)?;
    let journal = governing::journal_named(args.journal.as_deref());
    let ledger = governing::ledger(
        args.signing_key.as_deref(),
        args.key_id.as_deref(),
        journal.as_deref(),
        args.mode,
    );
    // A run under `CORDON_SESSION` attributes its snapshots to that session.
    let session = std::env::var(crate::sessions::ENV).ok();
    let options = governing::options(
        args.mode,
        governing::approval_options(args.approvals, args.approval_timeout),
        session,
    );
    governing::carry_out(
        &request,
        &options,
        ledger,
        Delivery {
            receipt_path: args.receipt.as_deref(),
            journal_only: false,
        },
    )
}
