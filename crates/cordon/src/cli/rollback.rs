//! `cordon rollback ID`: put a checkpoint's scope back exactly; `cordon rollback --list`.
//!
//! The rollback is two-phase and journaled (docs/checkpoints.md): if it is interrupted, running
//! the same command again finishes it. It refuses, touching nothing, when a scope's parent now
//! resolves elsewhere or its root has become a symlink.

use cordon_checkpoint::{Error, RollbackOptions, Store};
use serde_json::json;

use crate::exit::{self, CliError};
use crate::home::Home;

/// Test hook: pause after this many steps so a test can kill the process mid-rollback. Only
/// honoured in debug builds.
const PAUSE_ENV: &str = "CORDON_TEST_ROLLBACK_PAUSE_AFTER";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint id (as printed when it was taken, or by `--list`).
    #[arg(required_unless_present = "list")]
    pub id: Option<String>,
    /// List the checkpoints instead.
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = Home::from_env()
        .ok_or_else(|| CliError::usage("no cordon home: set CORDON_HOME or HOME"))?;
    let store =
        Store::open(&home.checkpoints_dir()).map_err(|e| CliError::internal(e.to_string()))?;
    if args.list {
        let all =
            cordon_checkpoint::list(&store, None).map_err(|e| CliError::internal(e.to_string()))?;
        if args.json {
            println!("{}", json!(all));
        } else {
            for c in &all {
                println!(
                    "{}  {}  {} entries  {} bytes  {}  [{}]",
                    c.id,
                    c.created_at,
                    c.entries,
                    c.bytes,
                    c.label,
                    c.scopes.join(", ")
                );
            }
        }
        return Ok(exit::OK);
    }
    let id = args.id.unwrap_or_default();
    let pause_after_steps = if cfg!(debug_assertions) {
        std::env::var(PAUSE_ENV).ok().and_then(|v| v.parse().ok())
    } else {
        None
    };
    match cordon_checkpoint::rollback(&store, &id, RollbackOptions { pause_after_steps }) {
        Ok(report) => {
            if args.json {
                println!("{}", json!(report));
            } else {
                println!(
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
            }
            Ok(exit::OK)
        }
        Err(e @ Error::NotFound { .. }) => Err(CliError::invalid_input(e.to_string())),
        Err(e @ Error::OutsideScope { .. }) => Err(CliError {
            code: exit::DENY,
            message: format!("rollback refused: {e}"),
        }),
        Err(e) => Err(CliError::internal(format!(
            "rollback of {id} failed: {e}; run the same command again to finish it"
        ))),
    }
}
