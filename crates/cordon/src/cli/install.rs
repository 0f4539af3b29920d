//! `cordon install <agent> [--project | --user] [--uninstall]`: the arguments and what is said;
//! the editing of the agent's configuration is `crate::install`.

use std::path::PathBuf;

use cordon_governor::Mode;

use crate::agents::{Agent, OnAsk};
use crate::exit::{self, CliError};
use crate::governing::mode_parser;
use crate::install::{self, Change};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent whose configuration to change.
    #[arg(value_enum)]
    pub agent: Agent,
    /// The project's configuration (in the current directory, or `--dir`).
    #[arg(long, conflicts_with = "user")]
    pub project: bool,
    /// The user's configuration (the default).
    #[arg(long)]
    pub user: bool,
    /// The project directory for `--project` (default: the current directory).
    #[arg(long, requires = "project")]
    pub dir: Option<PathBuf>,
    /// Remove cordon's hook instead.
    #[arg(long)]
    pub uninstall: bool,
    /// What the hook does when the policy asks (see `cordon hook --help`); default `agent`.
    #[arg(long, value_enum, conflicts_with = "uninstall")]
    pub on_ask: Option<OnAsk>,
    /// How the hook runs allowed commands (see `cordon hook --help`): `hardened` (the default:
    /// Landlock and seccomp enforce the judged scope, and a kernel that cannot is told so) or
    /// `local` (no kernel enforcement). Written into the hook command.
    #[arg(
        long,
        value_parser = mode_parser(),
        default_value = "hardened",
        conflicts_with = "uninstall"
    )]
    pub mode: Mode,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let project = if args.project {
        Some(match &args.dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|e| {
                CliError::internal(format!("cannot read the current directory: {e}"))
            })?,
        })
    } else {
        None
    };
    let on_ask = (!args.uninstall).then_some((args.on_ask, args.mode));
    let change = install::change(args.agent, project.as_deref(), on_ask)?;
    let path = change.path.display();
    match &change {
        Change {
            unchanged: true, ..
        } => {
            let state = if args.uninstall {
                "without cordon's hook"
            } else {
                "set up"
            };
            crate::output::say_out!("{path}: already {state} — nothing changed");
            return Ok(exit::OK);
        }
        Change { backup, .. } => {
            let verb = if args.uninstall {
                "removed cordon's hook from"
            } else {
                "installed cordon's hook in"
            };
            crate::output::say_out!("{verb} {path}");
            if let Some(backup) = backup {
                crate::output::say_out!("previous version kept as {}", backup.display());
            }
        }
    }
    if !args.uninstall && args.agent == Agent::Codex {
        crate::output::say_out!("Codex runs hooks only once you have reviewed and trusted them: start codex and accept the hook.");
    }
    Ok(exit::OK)
}
