//! A command's answer on stdout, for a reader that may go away early.
//!
//! `cordon verify | head -1` closes the pipe after one line. Rust ignores SIGPIPE, so `println!`
//! would panic on the next write. What the reader took is all it wanted: the command writes its
//! whole answer at once and, when the pipe is gone, ends quietly with the status it would have had.

use std::io::Write as _;

use crate::exit::CliError;

/// `eprintln!` that never panics: a reader that closed stderr early (`cordon exec … 2>&1 |
/// head -1`) loses the line, and cordon goes on with the run instead of aborting in the middle
/// of it (red-team round six: the decision was journaled, the command never ran).
macro_rules! say {
    () => {
        $crate::output::line(&mut ::std::io::stderr().lock(), ::std::format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(&mut ::std::io::stderr().lock(), ::std::format_args!($($arg)*))
    };
}
pub(crate) use say;

/// `println!` that never panics, for the same reason, on stdout.
macro_rules! say_out {
    () => {
        $crate::output::line(&mut ::std::io::stdout().lock(), ::std::format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(&mut ::std::io::stdout().lock(), ::std::format_args!($($arg)*))
    };
}
pub(crate) use say_out;

/// Writes one line; a closed or failing stream loses it (nothing a reader of it could be told).
pub fn line(stream: &mut dyn std::io::Write, args: std::fmt::Arguments<'_>) {
    let _ = writeln!(stream, "{args}");
}

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
