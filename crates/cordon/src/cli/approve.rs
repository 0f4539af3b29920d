//! `cordon approve ID [--scope once|window:DURATION|session|pattern:GLOB] [--identity NAME] [--key K]`,
//! `cordon approve --contract FILE --out F …` (a pre-signed approval for `cordon run --approval F`),
//! and `cordon deny ID [--reason TEXT]`: answering from another terminal.
//!
//! The approver signs with their own key (default: the home's key), which must be listed in the
//! home's `approvers` file; the identity is the one listed for the key. The approval is checked
//! here as the runner will check it (so a mistake shows now, not as a silent wait), and the
//! contract shown to the approver is re-hashed so that what is signed is what was shown.
//! Denying needs no key: a denial only ever takes permission away.

use std::path::PathBuf;

use cordon_core::approval::ApprovalMethod;
use cordon_core::Contract;

use crate::approving::{answer, home, open_store, unix_now, Approver};
use crate::exit::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pending request to approve (see `cordon approvals list`).
    #[arg(required_unless_present = "contract", conflicts_with = "contract")]
    pub id: Option<String>,
    /// once (default), window:DURATION (e.g. window:30m), session, or pattern:GLOB (e.g.
    /// 'pattern:git push origin *', matched against each whole command line).
    #[arg(long, default_value = "once")]
    pub scope: String,
    /// How long the approval stays valid (e.g. 10m, 8h); default 10m for once, 8h for session
    /// and pattern, the window's own length for window.
    #[arg(long)]
    pub expires: Option<String>,
    /// The approver's identity; default: the one the approvers file lists for the key.
    #[arg(long)]
    pub identity: Option<String>,
    /// The approver's private key; default: the one key in the home's keys/.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Why (kept in the approval).
    #[arg(long)]
    pub reason: Option<String>,
    /// Pre-sign an approval for this contract instead of answering a request.
    #[arg(long, requires = "out")]
    pub contract: Option<PathBuf>,
    /// Where to write the pre-signed approval.
    #[arg(long, requires = "contract")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DenyArgs {
    /// The pending request to deny.
    pub id: String,
    /// Why (shown to the waiting run).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Who denies; default: `$USER`.
    #[arg(long)]
    pub identity: Option<String>,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = home()?;
    let approver = Approver::load(&home, args.key.as_deref(), args.identity.as_deref())?;
    if let (Some(path), Some(out)) = (&args.contract, &args.out) {
        let bytes =
            crate::input::read_input(path, cordon_core::limits::MAX_CONTRACT_BYTES, "contract")?;
        let contract = Contract::parse(&bytes)
            .map_err(|e| CliError::invalid_input(format!("{}: {e}", path.display())))?;
        let (signed, verified) = approver.sign(
            &contract,
            &args.scope,
            args.expires.as_deref(),
            None,
            args.reason,
            ApprovalMethod::Cli,
        )?;
        let text = signed
            .to_json()
            .map_err(|e| CliError::internal(e.to_string()))?;
        std::fs::write(out, text + "\n")
            .map_err(|e| CliError::internal(format!("{}: {e}", out.display())))?;
        println!(
            "approval {} for contract {} by {} ({}, until {}) written to {}",
            verified.approval_id,
            contract.contract_id,
            verified.identity,
            verified.scope,
            verified.expires_at,
            out.display()
        );
        return Ok(exit::OK);
    }
    let id = args.id.unwrap_or_default();
    let mut store = open_store(&home)?;
    let state = answer(
        store.as_mut(),
        &approver,
        &id,
        &args.scope,
        args.expires.as_deref(),
        args.reason,
        ApprovalMethod::Cli,
    )?;
    println!("{state}");
    Ok(exit::OK)
}

pub fn deny(args: DenyArgs) -> Result<u8, CliError> {
    let home = home()?;
    let mut store = open_store(&home)?;
    let by = args
        .identity
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    store
        .deny(&args.id, &by, &args.reason, unix_now())
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    println!("denied {} as {by}", args.id);
    Ok(exit::OK)
}
