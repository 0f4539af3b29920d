//! Writing a file so that a reader sees the old version or the new one, never half of one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// How much of a finished write a power cut may take back. Either way a reader, or a crash of
/// any process, sees the old file or the new one whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The content is on disk before it takes the name, so a power cut leaves the old file or the
    /// new one, never a torn one. The rename itself reaches the disk with the file system's next
    /// commit (seconds), so a power cut right after the call may leave the old file: one cache
    /// flush per write. For copies whose record of truth lives elsewhere (a receipt file: the
    /// journal is the record that survives a power cut).
    Atomic,
    /// As `Atomic`, and the directory is synced after the rename: once the call returns, the new
    /// file survives a power cut. Two cache flushes. For state that must not silently revert
    /// (policy, approvers, settings).
    Durable,
}

/// Writes `bytes` to `path` atomically: a new file in the same directory (created with it when
/// missing), synced, then renamed over `path`, and with [`Durability::Durable`] the directory
/// synced so the rename survives a power cut. A file that already exists keeps its permissions; a
/// new one gets the process's default (`0666` less the umask). On failure the temporary file is
/// removed and `path` is untouched.
pub fn write_atomically(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.to_path_buf()
        }
        None => PathBuf::from("."),
    };
    let (tmp, mut file) = create_beside(&dir, path)?;
    let written = (|| {
        if let Ok(meta) = std::fs::metadata(path) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return written;
    }
    if durability == Durability::Durable {
        // A directory that cannot be synced (some file systems refuse) still holds the rename.
        if let Ok(dir) = std::fs::File::open(&dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// A new file `.<name>.<pid>.<n>.tmp` in `dir`; `create_new` makes a name another writer took a
/// collision to retry, never a file to share.
fn create_beside(dir: &Path, path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let mut attempt: u32 = 0;
    loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 1000 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const BOTH: [Durability; 2] = [Durability::Atomic, Durability::Durable];

    #[test]
    fn replaces_whole_keeps_the_mode_and_leaves_no_temporary_file() {
        for durability in BOTH {
            replaces_whole_keeps_the_mode_and_leaves_no_temporary_file_with(durability);
        }
    }

    fn replaces_whole_keeps_the_mode_and_leaves_no_temporary_file_with(durability: Durability) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/f.json");
        write_atomically(&path, b"one", durability).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, b"two", durability).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.json"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        for durability in BOTH {
            a_failed_write_leaves_the_old_file_with(durability);
        }
    }

    fn a_failed_write_leaves_the_old_file_with(durability: Durability) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomically(&path, b"old", durability).unwrap();
        // A directory cannot be renamed over by a file: the write fails, the target stays.
        let target = dir.path().join("d");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), b"").unwrap();
        assert!(write_atomically(&target, b"new", durability).is_err());
        assert!(target.is_dir());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
