//! `cordon`: bounded, audited command execution for AI agents.
//!
//! The binary is deliberately thin: it parses arguments, reads files, renders answers, and wires
//! the library crates together (docs/architecture.md). The pipeline lives in `cordon-governor`,
//! policy logic in `cordon-policy`, enforcement in `cordon-sandbox`, evidence in `cordon-journal`.
//!
//! Modules: `cli/` (one per subcommand: arguments and rendering only; none imports another),
//! `agents/` (one file per agent's hook protocol and the decision core they share), `gateway/`
//! (`cordon serve`'s socket: `server`, `client`, `wire`), `mcp`, `web`, `install`, and the
//! helpers they share (`governing`, `judging`, `approving`, `sessions`, `home`, `input`,
//! `output`, `exit`, `rm_shim`, `trusting`, `witnessing`).

/// With musl, mimalloc: musl's allocator cost a run more than musl's start-up saved.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agents;
mod approving;
mod cli;
mod exit;
mod gateway;
mod governing;
mod home;
mod input;
mod install;
mod judging;
mod mcp;
mod output;
mod rm_shim;
mod sessions;
mod trusting;
mod web;
mod witnessing;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Started as `rm` through a checkpointed command's shim: soft delete, nothing else.
    if rm_shim::started_as_rm() {
        return ExitCode::from(rm_shim::shim_main());
    }
    let cli = match cli::Cli::parse_args() {
        Ok(cli) => cli,
        Err(err) => {
            // clap exits 2 on a usage error, which cordon reserves for "needs approval".
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match cli::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            crate::output::say!("cordon: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}
