//! Exit codes: the contract between cordon and the programs that call it (DESIGN.md, "CLI surface").

/// Allowed, or the command succeeded.
pub const OK: u8 = 0;
/// Denied by policy.
pub const DENY: u8 = 1;
/// The policy requires a human approval first.
pub const NEEDS_APPROVAL: u8 = 2;
/// The policy redirects to a safer command (DESIGN.md's code for `check`). No command returns it yet:
/// CSC profiles never redirect, and `exec` runs the replacement and returns its code.
#[allow(dead_code)]
pub const REDIRECT: u8 = 3;
/// The command line itself was wrong (sysexits EX_USAGE).
pub const USAGE: u8 = 64;
/// An input file was missing, unreadable, malformed or invalid (sysexits EX_DATAERR).
pub const INVALID_INPUT: u8 = 65;
/// cordon failed internally; the request is treated as denied (sysexits EX_SOFTWARE).
pub const INTERNAL: u8 = 70;

/// An error that ends a command, with the exit code it maps to and one sentence for a person.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: USAGE,
            message: message.into(),
        }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        CliError {
            code: INVALID_INPUT,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        CliError {
            code: INTERNAL,
            message: message.into(),
        }
    }
}
