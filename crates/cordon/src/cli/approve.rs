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

use cordon_core::Outcome;
use cordon_governor::Mode;

use crate::approving::{answer, home, open_store, unix_now, Approver};
use crate::exit::{self, CliError};
use crate::home::Home;
use crate::judging::JudgeArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pending request to approve (see `cordon approvals list`).
    #[arg(
        required_unless_present_any = ["contract", "shell"],
        conflicts_with_all = ["contract", "shell"]
    )]
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
    /// Where to write the pre-signed approval (`cordon run|exec --approval F`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pre-sign an approval for the contract `cordon exec --shell TEXT` runs (the same policy,
    /// cwd, session and mode resolution as `exec`). A single-use approval (`--scope once`) is
    /// written to `--out`; a reusable one is kept in the approval store, where `exec` finds it.
    #[arg(long, conflicts_with = "contract")]
    pub shell: Option<String>,
    /// With --shell: the directory the text runs in (default: the current directory).
    #[arg(long, requires = "shell")]
    pub cwd: Option<PathBuf>,
    /// With --shell: what `{workspace}` means in the policy (default: the cwd).
    #[arg(long, requires = "shell")]
    pub workspace: Option<PathBuf>,
    /// With --shell: the policy `exec` would use (default: the config home's, else the pack).
    #[arg(long, requires = "shell")]
    pub policy: Option<PathBuf>,
    /// With --shell: the mode `exec` would run it in (default hardened).
    #[arg(long, requires = "shell", value_parser = crate::governing::mode_parser())]
    pub mode: Option<cordon_governor::Mode>,
    /// With --shell: the session `exec` would run it under (default: `CORDON_SESSION`).
    #[arg(long, requires = "shell", value_name = "ID")]
    pub session: Option<String>,
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
    if args.shell.is_some() {
        return approve_text(&home, &approver, args);
    }
    if let Some(path) = &args.contract {
        let out = args
            .out
            .as_ref()
            .ok_or_else(|| CliError::usage("--contract needs --out FILE"))?;
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
        crate::output::say_out!(
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
    if args.out.is_some() {
        return Err(CliError::usage(
            "--out writes a pre-signed approval: give it with --contract FILE or --shell TEXT",
        ));
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
    crate::output::say_out!("{state}");
    Ok(exit::OK)
}

/// `cordon approve --shell TEXT`: signs the contract `cordon exec --shell TEXT` would run, then
/// writes it to `--out` or keeps a reusable one in the approval store.
fn approve_text(home: &Home, approver: &Approver, args: Args) -> Result<u8, CliError> {
    let mut request = JudgeArgs {
        shell: args.shell.clone(),
        policy: args.policy.clone(),
        cwd: args.cwd.clone(),
        workspace: args.workspace.clone(),
        json: false,
        argv: Vec::new(),
        hardened: false,
    };
    let mode = args.mode.unwrap_or(Mode::Hardened);
    let (analysis, planned) =
        crate::cli::exec::planned(&mut request, args.session.as_deref(), mode)?;
    let run = planned.map_err(|refusal| {
        CliError::invalid_input(format!("nothing to approve: {}", refusal.sentence))
    })?;
    if run.decision.outcome == Outcome::Deny {
        return Err(CliError::invalid_input(format!(
            "the policy denies this text, and an approval cannot make a denied text run: {}",
            run.decision.sentence
        )));
    }
    let (signed, verified) = approver.sign(
        &run.contract,
        &args.scope,
        args.expires.as_deref(),
        None,
        args.reason,
        ApprovalMethod::Cli,
    )?;
    if verified.single_use && args.out.is_none() {
        return Err(CliError::usage(
            "a single-use approval (--scope once) travels as a file: add --out FILE and run `cordon exec --approval FILE --shell TEXT`, or give a reusable --scope (window:DURATION, session, pattern:GLOB) to keep it in the approval store",
        ));
    }
    let place = match &args.out {
        Some(out) => {
            let text = signed
                .to_json()
                .map_err(|e| CliError::internal(e.to_string()))?;
            std::fs::write(out, text + "\n")
                .map_err(|e| CliError::internal(format!("{}: {e}", out.display())))?;
            format!("written to {}", out.display())
        }
        None => {
            let mut store = open_store(home)?;
            store
                .add_standing(&signed, &verified, unix_now())
                .map_err(|e| CliError::internal(e.to_string()))?;
            "kept in the approval store".to_string()
        }
    };
    if analysis.decision().outcome != Outcome::Ask {
        crate::output::say!(
            "cordon: the policy does not ask before this text ({}), so exec will not need the approval",
            analysis.decision().outcome.as_str()
        );
    }
    crate::output::say_out!(
        "approval {} for contract {} (sha256 {}) in {} by {} ({}, until {}) {place}",
        verified.approval_id,
        run.contract.contract_id,
        run.contract_sha256,
        analysis.cwd,
        verified.identity,
        verified.scope,
        verified.expires_at,
    );
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
    crate::output::say_out!("denied {} as {by}", args.id);
    Ok(exit::OK)
}
