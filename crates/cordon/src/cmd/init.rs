//! `cordon init`: create the config home with everything a first run needs: the default policy
//! pack as `policy.yaml`, a signing key in `keys/`, and an empty journal in `journal/`.
//!
//! What exists already is kept (an edited policy, a key that signed earlier entries, a journal
//! with history): running it again only fills in what is missing. `cordon install` calls it too,
//! so a user who starts with installing a hook is never left with a hook that cannot record.

use crate::exit::{self, CliError};
use crate::home::Home;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<u8, CliError> {
    let home = ensure_home(true)?;
    println!("cordon home: {}", home.root().display());
    Ok(exit::OK)
}

/// Creates whatever part of the home is missing (`Home::ensure`); `verbose` says what was created
/// on stdout, otherwise on stderr (install's output is about the agent's file).
pub fn ensure_home(verbose: bool) -> Result<Home, CliError> {
    let home = Home::from_env().ok_or_else(|| {
        CliError::usage(
            "no config home: set CORDON_HOME (or HOME) to say where cordon keeps its files",
        )
    })?;
    let created = home.ensure()?;
    for part in created.parts() {
        if verbose {
            println!("created {part}");
        } else {
            eprintln!("cordon: created {part} in {}", home.root().display());
        }
    }
    Ok(home)
}
