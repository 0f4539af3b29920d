//! Exit codes: the contract between cordon and the programs that call it (DESIGN.md, "CLI surface").

pub use cordon_governor::status::{BLOCKED, DENY, NEEDS_APPROVAL, OK};
/// The command line itself was wrong (sysexits EX_USAGE).
pub const USAGE: u8 = 64;
/// An input file was missing, unreadable, malformed or invalid (sysexits EX_DATAERR).
pub const INVALID_INPUT: u8 = 65;
/// A service cordon needs (a witness, its database) could not be reached or failed (sysexits
/// EX_UNAVAILABLE).
pub const UNAVAILABLE: u8 = 69;
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
