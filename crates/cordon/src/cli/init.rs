//! `cordon init`: create the config home with everything a first run needs: the default policy
//! pack as `policy.yaml`, a signing key in `keys/`, and an empty journal in `journal/`.
//!
//! What exists already is kept (an edited policy, a key that signed earlier entries, a journal
//! with history): running it again only fills in what is missing. `cordon install` calls it too,
//! so a user who starts with installing a hook is never left with a hook that cannot record.

use crate::exit::{self, CliError};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<u8, CliError> {
    let home = crate::home::ensure(true)?;
    crate::output::say_out!("cordon home: {}", home.root().display());
    Ok(exit::OK)
}
