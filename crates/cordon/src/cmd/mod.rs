//! One module per subcommand. Each exposes an `Args` struct (clap) and `run(args) -> Result<u8, CliError>`.
//! To add a command: add a module, a variant to `Command`, and an arm to `dispatch`.

use clap::{Parser, Subcommand};

use crate::exit::CliError;

mod check;

#[derive(Debug, Parser)]
#[command(name = "cordon", version, about = "Bounded, audited command execution for AI agents")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide whether a CSC contract may run under a policy, without running it.
    Check(check::Args),
}

pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Check(args) => check::run(args),
    }
}
