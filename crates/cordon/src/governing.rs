//! The binary's side of the pipeline: builds the governor's options from the home and the command
//! line, hands notices to stderr, writes the receipt where it belongs, and ends with the status.
//! `cordon run` and `cordon exec` both come through here, so they cannot drift apart.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cordon_core::file::Durability;
use cordon_core::hosts::Host;
use cordon_core::Outcome;
use cordon_governor::approval::DEFAULT_TIMEOUT_SECS;
use cordon_governor::{
    ApprovalOptions, Conclusion, EnvelopeSource, Error, Ledger, Mode, ModeChoice, Notice, Options,
    ResolverOverrides, RunRequest, Sandbox,
};
use serde_json::Value;

use crate::exit::{self, CliError};
use crate::home::Home;

/// How `cordon run` and `cordon exec` run and where their evidence goes.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// `hardened` (the default) confines every command to the policy's envelope with Landlock,
    /// seccomp and namespaces, or refuses to run and says what the kernel lacks; `local` runs
    /// without kernel enforcement, only when named, and the receipt says so.
    #[arg(long, value_parser = mode_parser())]
    pub mode: Option<Mode>,
    /// Write the receipt here (atomically). Default: `run` prints it as the last line of stdout;
    /// `exec` leaves it in the journal (stdout without one).
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// Private key to sign decision records, receipts and checkpoints (PKCS#8 PEM, 32-byte seed,
    /// or 64-byte seed and public key). Default: the config home's key (hardened mode needs one;
    /// `exec` signs with it in either mode).
    #[arg(long, requires = "key_id")]
    pub signing_key: Option<PathBuf>,
    /// Key id the signatures name (what `verify-receipt --key-id` expects).
    #[arg(long, requires = "signing_key")]
    pub key_id: Option<String>,
    /// Journal directory (created if missing); default: the `CORDON_JOURNAL` environment
    /// variable, else none for `run`, and for `exec` the config home's journal when its key
    /// signs. Needs a signing key.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// A pre-signed approval (`cordon approve --contract … --out F`); repeat for dual control.
    #[arg(long = "approval", value_name = "FILE")]
    pub approvals: Vec<PathBuf>,
    /// Seconds to wait for an approver when the policy asks; 0 does not ask (exit 2). Default:
    /// `CORDON_APPROVAL_TIMEOUT`, else 120.
    #[arg(long, value_name = "SECS")]
    pub approval_timeout: Option<u64>,
    /// Have the egress proxy resolve NAME to ADDRESS itself instead of asking DNS (repeatable;
    /// hardened runs only). The address counts as listed for that name, loopback included: for
    /// tests and registries at fixed addresses, never set by cordon itself.
    #[arg(long = "egress-resolve", value_name = "NAME=ADDRESS")]
    pub egress_resolve: Vec<String>,
}

impl RunArgs {
    /// `--egress-resolve` as the proxy's resolver overrides; a malformed one, or one given to a
    /// local run (which has no proxy), is a usage error.
    pub fn resolver_overrides(&self) -> Result<ResolverOverrides, CliError> {
        let mut overrides = ResolverOverrides::new();
        if !self.egress_resolve.is_empty() && self.mode().0 != Mode::Hardened {
            return Err(CliError::usage(
                "--egress-resolve applies to hardened runs only, whose egress proxy resolves names; --mode local has no proxy",
            ));
        }
        for entry in &self.egress_resolve {
            let bad = |why: &str| CliError::usage(format!("--egress-resolve {entry:?}: {why}"));
            let (name, address) = entry
                .split_once('=')
                .ok_or_else(|| bad("expected NAME=ADDRESS"))?;
            let address: IpAddr = address
                .parse()
                .map_err(|_| bad("the address is not an IP address"))?;
            let Ok(Host::Name(name)) = Host::parse(name) else {
                return Err(bad("the name is not a DNS name"));
            };
            overrides.entry(name).or_default().push(address);
        }
        Ok(overrides)
    }
}

/// Parses `--mode local|hardened` (the possible values show in `--help`).
pub fn mode_parser() -> impl clap::builder::TypedValueParser<Value = cordon_governor::Mode> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["local", "hardened"])
        .try_map(|text| text.parse::<cordon_governor::Mode>())
}

impl RunArgs {
    /// The mode the run uses, and whether it was named: hardened unless `--mode local` names
    /// local (a kernel that cannot enforce hardened mode blocks the run and says what it lacks).
    pub fn mode(&self) -> (Mode, ModeChoice) {
        match self.mode {
            Some(mode) => (mode, ModeChoice::Named),
            None => (Mode::Hardened, ModeChoice::Default),
        }
    }
}

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

/// The options for a run in `mode` for `workspace`, with the home's approval desk and snapshot
/// places, the envelope's source, the egress proxy's resolver overrides, and notices written to
/// stderr as they come.
pub fn options(
    (mode, mode_choice): (Mode, ModeChoice),
    approval: ApprovalOptions,
    session: Option<String>,
    workspace: Option<PathBuf>,
    envelope: Option<EnvelopeSource>,
    resolver_overrides: ResolverOverrides,
) -> Options {
    let home = Home::from_env();
    Options {
        mode,
        mode_choice,
        envelope,
        kernel: Arc::new(cordon_governor::SystemProbe),
        approval,
        desk: home.as_ref().map(Home::approval_desk),
        snapshots: home.as_ref().map(Home::snapshot_places),
        session,
        workspace,
        resolver_overrides,
        secrets: home.as_ref().map(Home::secrets_place),
        notices: Arc::new(|notice: Notice| crate::output::say!("{}", notice.line())),
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

/// Governs `request` as `how` says, under `session`, for `workspace` and within the envelope
/// `envelope` defines (hardened mode needs it; a hardened run without one is blocked), or refuses
/// it when `ledger` could not be opened; delivers the receipt and returns the exit status.
/// `journal_only`: see [`Delivery::journal_only`].
pub fn carry_out(
    request: &RunRequest,
    how: &RunArgs,
    session: Option<String>,
    workspace: Option<PathBuf>,
    ledger: Result<Ledger, Error>,
    journal_only: bool,
    envelope: Option<EnvelopeSource>,
) -> Result<u8, CliError> {
    let approval = approval_options(how.approvals.clone(), how.approval_timeout);
    let options = options(
        how.mode(),
        approval,
        session,
        workspace,
        envelope,
        how.resolver_overrides()?,
    );
    let delivery = Delivery {
        receipt_path: how.receipt.as_deref(),
        journal_only,
    };
    deliver(request, &options, ledger, delivery)
}

/// [`carry_out`] with the options made.
fn deliver(
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
        crate::output::say!("cordon run: {what}: {}", request.decision.sentence);
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

/// Writes a receipt as one line of canonical JSON to `path` (atomically: a reader, or what a power
/// cut leaves, never holds half a receipt), or prints it as the last line of stdout. The file is
/// the caller's copy, like stdout: its content is synced before it takes its name, and the name
/// reaches the disk with the file system's next commit. The record that survives a power cut the
/// moment the run returns is the journal's (`--journal`, docs/journal.md), so the rename costs no
/// second cache flush.
pub fn write_receipt(receipt: &Value, path: Option<&Path>) -> Result<(), CliError> {
    let text = cordon_core::canonical::to_string(receipt)
        .map_err(|e| CliError::internal(format!("cannot serialize the receipt: {e}")))?;
    match path {
        Some(path) => cordon_core::file::write_atomically(
            path,
            format!("{text}\n").as_bytes(),
            Durability::Atomic,
        )
        .map_err(|e| {
            CliError::internal(format!("{}: cannot write the receipt: {e}", path.display()))
        }),
        None => {
            crate::output::say_out!("{text}");
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

/// cordon's own home as the envelope closes it: the config home, else where it would be.
pub fn cordon_home(home: &Path) -> PathBuf {
    Home::from_env()
        .map(|h| h.root().to_path_buf())
        .unwrap_or_else(|| home.join(".config").join("cordon"))
}

/// `--journal`, else `CORDON_JOURNAL`.
pub fn journal_named(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("CORDON_JOURNAL").map(PathBuf::from))
}
