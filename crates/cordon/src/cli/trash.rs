//! `cordon trash list|restore|purge`: what checkpointed `rm` commands moved aside.
//!
//! A restore never overwrites: if the original path is taken, the item comes back beside it as
//! `<name>.restored-<id>` and the output says so.

use cordon_checkpoint::{trash, Error};
use serde_json::json;

use crate::exit::{self, CliError};
use crate::home::Home;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// List trash items, oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Put an item's paths back where they were (or beside them, if taken).
    Restore {
        id: String,
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
    let fail = |e: Error| match e {
        Error::NotFound { .. } => CliError::invalid_input(e.to_string()),
        Error::Collision { .. } | Error::Damaged { .. } => CliError {
            code: exit::DENY,
            message: format!("restore refused: {e}"),
        },
        other => CliError::internal(other.to_string()),
    };
    match args {
        Args::List { json } => {
            let items = trash::list(&dir).map_err(fail)?;
            if json {
                println!("{}", json!(items));
            } else {
                for m in &items {
                    let paths: Vec<&str> = m.items.iter().map(|i| i.original.as_str()).collect();
                    println!(
                        "{}  {}  {}  [{}]",
                        m.id,
                        m.created_at,
                        m.command.join(" "),
                        paths.join(", ")
                    );
                }
            }
        }
        Args::Restore { id, json } => {
            let restored = trash::restore(&dir, &id).map_err(fail)?;
            if json {
                println!("{}", json!(restored));
            } else {
                for r in &restored {
                    if r.beside {
                        println!(
                            "restored {} beside the original, as {} (something now exists at {})",
                            r.original, r.restored_to, r.original
                        );
                    } else {
                        println!("restored {}", r.restored_to);
                    }
                }
            }
        }
        Args::Purge { id, all } => {
            let ids: Vec<String> = if all {
                trash::list(&dir)
                    .map_err(fail)?
                    .into_iter()
                    .map(|m| m.id)
                    .collect()
            } else {
                id.into_iter().collect()
            };
            for id in &ids {
                trash::purge(&dir, id).map_err(fail)?;
                println!("purged {id}");
            }
        }
    }
    Ok(exit::OK)
}
