//! A command's answer on stdout, for a reader that may go away early.
//!
//! `cordon verify | head -1` closes the pipe after one line. Rust ignores SIGPIPE, so `println!`
//! would panic on the next write. What the reader took is all it wanted: the command writes its
//! whole answer at once and, when the pipe is gone, ends quietly with the status it would have had.

use std::io::Write as _;

use crate::exit::CliError;

/// Writes `text` to stdout and returns `code`; a closed pipe is not an error.
pub fn answer(text: &str, code: u8) -> Result<u8, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(code),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code),
        Err(e) => Err(CliError::internal(format!("cannot write to stdout: {e}"))),
    }
}
