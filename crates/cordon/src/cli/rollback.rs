//! `cordon rollback ID [--yes] [--restore-setid]`: put a checkpoint's scopes back exactly;
//! `cordon rollback --list`.
//!
//! A rollback runs with the person's authority after an agent had the workspace, so it trusts
//! only a checkpoint whose manifest is signed with the home's key (or a key named with
//! `--public-key`), verified before anything is touched (`cordon_checkpoint::rollback::verify`).
//! It says which scopes it will touch, as they resolved when the checkpoint was taken, and it
//! touches a scope outside the workspace the checkpoint was taken for (a link led there) only
//! with `--yes`. Anything it will not trust or do is "rollback refused" (exit 1) with one
//! sentence, and nothing changed. A checkpoint made before manifests were signed is refused
//! like any unsigned one, with where to inspect it.
//!
//! The rollback is two-phase and journaled (docs/checkpoints.md): if it is interrupted, running
//! the same command again finishes it.

use cordon_checkpoint::rollback::{self, Verified};
use cordon_checkpoint::{Error, RollbackConsent, RollbackOptions, Store};
use serde_json::json;

use crate::exit::{self, CliError};
use crate::home::Home;
use crate::trusting::{self, TrustArgs};

/// Test hook: pause after this many steps so a test can kill the process mid-rollback. Only
/// honoured in debug builds.
const PAUSE_ENV: &str = "CORDON_TEST_ROLLBACK_PAUSE_AFTER";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint id (as printed when it was taken, or by `--list`).
    #[arg(required_unless_present = "list")]
    pub id: Option<String>,
    /// List the checkpoints (and those refused, with why) instead.
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    /// Also roll back scopes outside the workspace the checkpoint was taken for; without it such
    /// a rollback is refused and nothing changes.
    #[arg(long, conflicts_with = "list")]
    pub yes: bool,
    /// Restore setuid and setgid bits on files (cleared otherwise, and listed).
    #[arg(long, conflicts_with = "list")]
    pub restore_setid: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = Home::from_env()
        .ok_or_else(|| CliError::usage("no cordon home: set CORDON_HOME or HOME"))?;
    let keys = trusting::key_ring(&home, &args.trust)?;
    let store =
        Store::open(&home.checkpoints_dir()).map_err(|e| CliError::internal(e.to_string()))?;
    if let Some(aside) = store.index_recovered() {
        crate::output::say!(
            "cordon: the checkpoint index was not a database; it was moved aside to {} and is rebuilt from the signed manifests",
            aside.display()
        );
    }
    if args.list {
        return list(&store, &keys, args.json);
    }
    let id = args.id.clone().unwrap_or_default();
    let verified = rollback::verify(&store, &id, &keys).map_err(|e| refusal(&home, &id, e))?;
    announce(&verified);
    let consent = RollbackConsent {
        outside_workspace: args.yes,
        setid: args.restore_setid,
    };
    let pause_after_steps = if cfg!(debug_assertions) {
        std::env::var(PAUSE_ENV).ok().and_then(|v| v.parse().ok())
    } else {
        None
    };
    let report = rollback::apply(
        &store,
        &verified,
        consent,
        RollbackOptions { pause_after_steps },
    )
    .map_err(|e| refusal(&home, &id, e))?;
    if args.json {
        crate::output::say_out!("{}", json!(report));
        return Ok(exit::OK);
    }
    crate::output::say_out!(
        "rolled back to {}: {} ({} entries restored{})",
        report.checkpoint,
        report.scopes.join(", "),
        report.restored_entries,
        if report.resumed {
            ", finishing an interrupted rollback"
        } else {
            ""
        }
    );
    for path in &report.setid_cleared {
        crate::output::say_out!(
            "setuid/setgid bits not restored on {path} (--restore-setid restores them)"
        );
    }
    for path in &report.not_recreated {
        crate::output::say_out!("not recreated: {path} (a FIFO, socket or device node)");
    }
    Ok(exit::OK)
}

/// Says what the rollback will touch (stderr, so `--json` stays one object): every scope as it
/// resolved when the checkpoint was taken, and which lie outside its workspace.
fn announce(verified: &Verified) {
    let workspace = verified
        .workspace()
        .map(|w| w.display().to_string())
        .unwrap_or_else(|| "(none recorded)".into());
    let scopes: Vec<String> = verified
        .scopes()
        .iter()
        .map(|s| {
            let path = s.path.display();
            if s.outside_workspace {
                format!("{path} (outside the workspace {workspace})")
            } else {
                path.to_string()
            }
        })
        .collect();
    crate::output::say!(
        "cordon: checkpoint {} (signed by {}) covers {}",
        verified.id(),
        verified.signed_by().unwrap_or("?"),
        scopes.join(", ")
    );
}

/// A checkpoint or index that failed, as the command line reports it: what cordon will not do
/// is "rollback refused" (exit 1); a rollback that failed on its way is internal (a rerun
/// finishes it).
fn refusal(home: &Home, id: &str, error: Error) -> CliError {
    let refused = |why: String| CliError {
        code: exit::DENY,
        message: format!("rollback refused: {why}"),
    };
    match error {
        Error::NotFound { .. } => CliError::invalid_input(error.to_string()),
        Error::Untrusted { .. } => refused(format!(
            "{error} (only checkpoints signed with this home's key are rolled back, never one taken before checkpoints were signed; `cordon rollback --list` shows each refused one and why, and its manifest is {})",
            home.checkpoints_dir()
                .join("manifests")
                .join(format!("{id}.jsonl"))
                .display()
        )),
        Error::NeedsConsent { .. } => refused(format!(
            "{error}: rerun with --yes to roll those back too"
        )),
        Error::Damaged { .. } => refused(format!(
            "{error}; the checkpoint cannot be restored, and nothing was changed"
        )),
        Error::OutsideScope { .. } => refused(error.to_string()),
        other => CliError::internal(format!(
            "rollback of {id} failed: {other}; run the same command again to finish it"
        )),
    }
}

/// `--list`: the checkpoints whose manifests verify, then those refused with why.
fn list(store: &Store, keys: &cordon_journal::KeyRing, json: bool) -> Result<u8, CliError> {
    let listing = cordon_checkpoint::list_verified(store, keys, None)
        .map_err(|e| CliError::internal(e.to_string()))?;
    if listing.index_rebuilt {
        crate::output::say!("cordon: the checkpoint index disagreed with the signed manifests and was rebuilt from them");
    }
    if json {
        crate::output::say_out!("{}", json!(listing));
        return Ok(exit::OK);
    }
    for c in &listing.checkpoints {
        crate::output::say_out!(
            "{}  {}  {} entries  {} bytes  {}  [{}]",
            c.id,
            c.created_at,
            c.entries,
            c.bytes,
            c.label,
            c.scopes.join(", ")
        );
    }
    for r in &listing.refused {
        crate::output::say_out!("{}  REFUSED (never rolled back): {}", r.id, r.reason);
    }
    Ok(exit::OK)
}
