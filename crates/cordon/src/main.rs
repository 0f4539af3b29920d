//! `cordon`: bounded, audited command execution for AI agents.
//!
//! The binary is deliberately thin: it parses arguments, reads files, and wires the library crates
//! together. Policy logic lives in `cordon-policy`, enforcement in `cordon-sandbox`, evidence in
//! `cordon-journal`.

mod approvals;
mod cmd;
mod exit;
mod gateway;
mod governing;
mod home;
mod hook;
mod input;
mod rm_shim;
mod sessions;
mod web;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Started as `rm` through a checkpointed command's shim: soft delete, nothing else.
    if rm_shim::started_as_rm() {
        return ExitCode::from(rm_shim::shim_main());
    }
    let cli = match cmd::Cli::parse_args() {
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
    match cmd::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("cordon: {}", err.message);
            ExitCode::from(err.code)
        }
    }
}
