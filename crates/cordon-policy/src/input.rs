//! Reading input files with a size cap, so a hostile or mistaken path never makes cordon read
//! gigabytes or block on a FIFO, and a file that grows while it is read is still caught.

use std::fs::OpenOptions;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(String),
    #[error("it is a directory, expected a file")]
    Directory,
    #[error("it is not a regular file")]
    NotRegular,
    #[error("it is larger than the limit of {0} bytes")]
    TooLarge(u64),
}

/// Reads all of `path`, or fails if it holds more than `max_bytes`.
pub fn read_capped(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. It does
    // not change reads of regular files, and anything else is refused below.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| ReadError::Io(io_reason(&e)))?;
    let meta = file.metadata().map_err(|e| ReadError::Io(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge(max_bytes));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the cap, so growth after `metadata` is seen.
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Io(io_reason(&e)))?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge(max_bytes));
    }
    Ok(bytes)
}

/// The OS reason in lower case, without Rust's "(os error N)" suffix.
pub fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => {
            let text = err.to_string();
            let text = text
                .find(" (os error")
                .map_or(text.as_str(), |i| &text[..i]);
            text.to_lowercase()
        }
    }
}
