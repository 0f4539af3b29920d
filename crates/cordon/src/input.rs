//! Input files for the CLI: read with a cap, every failure one sentence naming the file.

use std::path::Path;

use cordon_policy::input::read_capped;

use crate::exit::CliError;

/// Reads `path`, at most `max_bytes`; `what` names the file's role ("contract", "approval", ...).
pub fn read_input(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>, CliError> {
    read_capped(path, max_bytes).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: failed to read {what} file: {e}",
            path.display()
        ))
    })
}
