//! `cordon trash list|restore|purge`: what checkpointed `rm` commands moved aside.
//!
//! A restore runs with the person's authority, so it trusts only an item whose manifest is
//! signed with the home's key (or a key named with `--public-key`), checks every payload entry
//! against it, and resolves every destination through directory handles without following a
//! link before it creates anything (`cordon_checkpoint::trash::restore_verified`). `list` marks
//! every item that does not verify as untrusted, so a forged item never looks like the others.
//! An item trashed before manifests were signed is listed as untrusted and never restored; its
//! files stay in its `payload/` until purged.
//!
//! A restore never overwrites: if the original path is taken, the item comes back beside it as
//! `<name>.restored-<id>` and the output says so.

use cordon_checkpoint::trash::{self, RestoreOptions};
use cordon_checkpoint::Error;
use serde_json::json;

use crate::exit::{self, CliError};
use crate::home::Home;
use crate::trusting::{self, TrustArgs};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// List trash items, oldest first (untrusted ones marked: they are never restored).
    List {
        #[command(flatten)]
        trust: TrustArgs,
        #[arg(long)]
        json: bool,
    },
    /// Put an item's paths back where they were (or beside them, if taken).
    Restore {
        id: String,
        /// Restore setuid and setgid bits on files (cleared otherwise, and listed).
        #[arg(long)]
        restore_setid: bool,
        #[command(flatten)]
        trust: TrustArgs,
        #[arg(long)]
        json: bool,
    },
    /// Delete items for good.
    Purge {
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Every item.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = Home::from_env()
        .ok_or_else(|| CliError::usage("no cordon home: set CORDON_HOME or HOME"))?;
    let dir = home.trash_dir();
    match args {
        Args::List { trust, json } => {
            let keys = trusting::key_ring(&home, &trust)?;
            let items = trash::list_verified(&dir, &keys).map_err(|e| refusal(&home, "", e))?;
            if json {
                crate::output::say_out!("{}", json!(items));
                return Ok(exit::OK);
            }
            for item in &items {
                let m = &item.manifest;
                let paths: Vec<&str> = m.items.iter().map(|i| i.original.as_str()).collect();
                let mark = match &item.untrusted {
                    Some(why) => format!("UNTRUSTED (never restored: {why})  "),
                    None => String::new(),
                };
                crate::output::say_out!(
                    "{}  {mark}{}  {}  [{}]",
                    m.id,
                    m.created_at,
                    m.command.join(" "),
                    paths.join(", ")
                );
            }
        }
        Args::Restore {
            id,
            restore_setid,
            trust,
            json,
        } => {
            let keys = trusting::key_ring(&home, &trust)?;
            let options = RestoreOptions {
                setid: restore_setid,
            };
            let restored = trash::restore_verified(&dir, &id, &keys, options)
                .map_err(|e| refusal(&home, &id, e))?;
            if json {
                crate::output::say_out!("{}", json!(restored));
                return Ok(exit::OK);
            }
            for r in &restored {
                if r.beside {
                    crate::output::say_out!(
                        "restored {} beside the original, as {} (something now exists at {})",
                        r.original,
                        r.restored_to,
                        r.original
                    );
                } else {
                    crate::output::say_out!("restored {}", r.restored_to);
                }
                for path in &r.setid_cleared {
                    crate::output::say_out!(
                        "setuid/setgid bits not restored on {path} (--restore-setid restores them)"
                    );
                }
                for path in &r.not_restored {
                    crate::output::say_out!("not restored: {path} (a device node or socket)");
                }
            }
        }
        Args::Purge { id, all } => {
            let ids: Vec<String> = if all {
                trash::list(&dir)
                    .map_err(|e| refusal(&home, "", e))?
                    .into_iter()
                    .map(|m| m.id)
                    .collect()
            } else {
                id.into_iter().collect()
            };
            for id in &ids {
                trash::purge(&dir, id).map_err(|e| refusal(&home, id, e))?;
                crate::output::say_out!("purged {id}");
            }
        }
    }
    Ok(exit::OK)
}

/// An item that failed, as the command line reports it: what cordon will not restore is
/// "restore refused" (exit 1), and nothing was created.
fn refusal(home: &Home, id: &str, error: Error) -> CliError {
    let refused = |why: String| CliError {
        code: exit::DENY,
        message: format!("restore refused: {why}"),
    };
    match error {
        Error::NotFound { .. } => CliError::invalid_input(error.to_string()),
        Error::Untrusted { .. } => refused(format!(
            "{error} (only items signed with this home's key are restored, never one trashed before items were signed; `cordon trash list` marks each untrusted one and why, and its files are in {})",
            home.trash_dir().join(id).join("payload").display()
        )),
        Error::Collision { .. }
        | Error::Damaged { .. }
        | Error::OutsideScope { .. } => refused(format!("{error}; nothing was restored")),
        other => CliError::internal(other.to_string()),
    }
}
