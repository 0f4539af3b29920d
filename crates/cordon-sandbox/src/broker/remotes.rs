//! The broker's record of the remote URLs commands added to protected repositories.
//!
//! `git remote add` is allowed through a protected config (`config.rs`): a new remote sends
//! nothing anywhere by itself. What does is a branch set to pull from or push to it, which the
//! user's next plain `git pull` or `git push` then follows, outside any sandbox (red-team round
//! twenty-one: the remote added in one command, the branch pointed at it in the next, or in the
//! next run). So every URL a command gives a new remote is written down here, in a file inside
//! cordon's home that no command can reach, and a branch may not be sent to a remote that has
//! one of them. The record outlives the run, so the second step cannot wait for another one.
//!
//! It is read at the first rewrite of a run that needs it, never otherwise, and appended to
//! before the rewrite that adds a URL is made: a rewrite whose URL cannot be written down is
//! refused. A record that cannot be read refuses every branch's remote that a rewrite sets.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

/// The largest record read: a URL is a line, and no user's machine sees this many.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// The URLs commands added, as far as this run knows them.
pub(crate) struct AddedRemotes {
    /// The record's file; `None` for a run with no home to keep it in (a CSC run without a
    /// workspace envelope), which remembers what it adds until it ends.
    path: Option<PathBuf>,
    /// `None` until first needed; `Err` when the record could not be read.
    urls: Option<Result<HashSet<String>, String>>,
}

impl AddedRemotes {
    pub(crate) fn new(path: Option<PathBuf>) -> AddedRemotes {
        AddedRemotes { path, urls: None }
    }

    /// The URLs recorded, read once; `Err` says why the record could not be read.
    pub(crate) fn urls(&mut self) -> Result<&HashSet<String>, &str> {
        let path = self.path.as_ref();
        self.urls
            .get_or_insert_with(|| path.map_or_else(|| Ok(HashSet::new()), |p| read(p)))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Writes `added` down before the rewrite that adds them is made: `Err` says why it could
    /// not be, and the rewrite is then refused.
    pub(crate) fn record(&mut self, added: &[String]) -> Result<(), String> {
        if added.is_empty() {
            return Ok(());
        }
        // Read before the append, so the set holds what earlier runs wrote and this one.
        let _ = self.urls();
        if let Some(path) = &self.path {
            append(path, added).map_err(|e| {
                format!(
                    "cordon could not write down the remote it adds in {} ({e})",
                    path.display()
                )
            })?;
        }
        if let Some(Ok(urls)) = &mut self.urls {
            urls.extend(added.iter().cloned());
        }
        Ok(())
    }
}

fn read(path: &std::path::Path) -> Result<HashSet<String>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(format!("{} could not be read ({e})", path.display())),
    };
    let mut text = Vec::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("{} could not be read ({e})", path.display()))?;
    if text.len() as u64 > MAX_RECORD_BYTES {
        return Err(format!(
            "{} is over {MAX_RECORD_BYTES} bytes",
            path.display()
        ));
    }
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect())
}

/// One write of whole lines with `O_APPEND`, so two runs appending at once interleave lines,
/// never parts of them.
fn append(path: &std::path::Path, urls: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mut lines = String::new();
    for url in urls {
        // A config value is one line; a URL that were not would be refused as unreadable
        // before it came here, but a record must never gain a line nobody wrote as one.
        if !url.contains('\n') {
            lines.push_str(url);
            lines.push('\n');
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(lines.as_bytes())?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn what_one_run_records_the_next_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/remotes-added");
        let mut first = AddedRemotes::new(Some(path.clone()));
        assert!(first.urls().unwrap().is_empty());
        first.record(&["/tmp/evil.git".into()]).unwrap();
        assert!(first.urls().unwrap().contains("/tmp/evil.git"));
        let mut next = AddedRemotes::new(Some(path.clone()));
        assert!(next.urls().unwrap().contains("/tmp/evil.git"));
        // Control: another URL is not in it.
        assert!(!next.urls().unwrap().contains("/tmp/other.git"));
    }

    #[test]
    fn a_record_that_cannot_be_read_is_an_error_not_an_empty_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("remotes-added");
        std::fs::write(&path, vec![b'x'; MAX_RECORD_BYTES as usize + 1]).unwrap();
        let mut record = AddedRemotes::new(Some(path));
        assert!(record.urls().unwrap_err().contains("over"));
        let mut unreadable = AddedRemotes::new(Some(dir.path().to_path_buf()));
        assert!(unreadable.urls().is_err());
    }

    #[test]
    fn without_a_home_a_run_remembers_what_it_added() {
        let mut record = AddedRemotes::new(None);
        record.urls().unwrap();
        record.record(&["https://evil.invalid/x".into()]).unwrap();
        assert!(record.urls().unwrap().contains("https://evil.invalid/x"));
    }
}
