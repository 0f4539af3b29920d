//! Which files a git repository tracks, from its index: enough of git's index format (versions
//! 2, 3 and 4) to list the paths whose working file git reads.
//!
//! The run-start search stands an empty file in for each file named like a credential. For a
//! file git tracks that would be wrong twice over: its contents are in the repository's object
//! store already (which the command must read, `git show HEAD:.env`), and git would see the empty
//! stand-in as a change, so an ordinary `git commit -a` would commit it over the real file
//! (red-team round 3). A tracked file is therefore left as it is, unless git has been told not to
//! look at the working file (`skip-worktree`, `assume-unchanged`): then it is stood in for.

use std::collections::HashSet;
use std::path::Path;

/// The largest index read; a larger one is taken as unreadable (every file then untracked, and
/// stood in for: the safe side).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// Entry flags (`ce_flags` on disk).
const ASSUME_VALID: u16 = 0x8000;
const EXTENDED: u16 = 0x4000;
/// Extended flags (version 3 and later).
const SKIP_WORKTREE: u16 = 0x4000;

/// The fixed part of an entry before the object name: ten 32-bit fields.
const STAT_FIELDS: usize = 40;

/// The paths (relative to the work tree, as git stores them) whose working file git compares
/// with the index, of the git directory `git_dir`; `None` when there is no index or it cannot
/// be read.
pub(crate) fn tracked(git_dir: &Path) -> Option<HashSet<Vec<u8>>> {
    let index = git_dir.join("index");
    if std::fs::metadata(&index).ok()?.len() > MAX_INDEX_BYTES {
        return None;
    }
    let bytes = std::fs::read(&index).ok()?;
    parse(&bytes, object_name_len(git_dir))
}

/// 32 for a repository whose objects are named by SHA-256 (`extensions.objectFormat`), else 20.
fn object_name_len(git_dir: &Path) -> usize {
    let config = std::fs::read_to_string(git_dir.join("config")).unwrap_or_default();
    let sha256 = config.lines().any(|line| {
        let line = line.trim().to_ascii_lowercase();
        line.starts_with("objectformat") && line.contains("sha256")
    });
    if sha256 {
        32
    } else {
        20
    }
}

/// The paths of an index's entries git looks at; `None` for anything but a well-formed index.
fn parse(bytes: &[u8], name_len: usize) -> Option<HashSet<Vec<u8>>> {
    let mut r = Cursor { bytes, at: 0 };
    if r.take(4)? != b"DIRC" {
        return None;
    }
    let version = r.u32()?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = r.u32()?;
    let mut paths = HashSet::new();
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = r.at;
        r.take(STAT_FIELDS + name_len)?;
        let flags = r.u16()?;
        let extended = if flags & EXTENDED != 0 {
            if version < 3 {
                return None;
            }
            r.u16()?
        } else {
            0
        };
        let path = if version == 4 {
            // The name is the previous one with `strip` bytes cut off its end and this suffix added.
            let strip = usize::try_from(r.varint()?).ok()?;
            let keep = previous.len().checked_sub(strip)?;
            let mut path = previous[..keep].to_vec();
            path.extend_from_slice(r.until_nul()?);
            path
        } else {
            let path = r.until_nul()?.to_vec();
            // Padded with NULs to a multiple of eight bytes, the name's NUL among them.
            let flag_bytes = if flags & EXTENDED != 0 { 4 } else { 2 };
            let size = (STAT_FIELDS + name_len + flag_bytes + path.len() + 8) & !7;
            r.at = start.checked_add(size)?;
            if r.at > bytes.len() {
                return None;
            }
            path
        };
        if flags & ASSUME_VALID == 0 && extended & SKIP_WORKTREE == 0 {
            paths.insert(path.clone());
        }
        previous = path;
    }
    Some(paths)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// The bytes up to the next NUL, which is consumed too.
    fn until_nul(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.at..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// Git's offset varint: seven bits a byte, high bit "more", each continuation adding one.
    fn varint(&mut self) -> Option<u64> {
        let mut byte = self.take(1)?[0];
        let mut value = u64::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)?
                .checked_mul(128)?
                .checked_add(u64::from(byte & 0x7f))?;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// A repository with tracked files in nested directories, one untracked, one marked
    /// skip-worktree and one assume-unchanged, written at index version `version`.
    fn repo(version: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "."]);
        std::fs::create_dir_all(d.join("app/config")).unwrap();
        for f in [
            ".env",
            "app/.env",
            "app/config/.env",
            "app/config/cert.pem",
            "skipped.env",
            "assumed.env",
        ] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        git(d, &["add", "."]);
        std::fs::write(d.join("untracked.env"), "x").unwrap();
        git(d, &["update-index", "--skip-worktree", "skipped.env"]);
        git(d, &["update-index", "--assume-unchanged", "assumed.env"]);
        git(d, &["update-index", "--index-version", version]);
        dir
    }

    #[test]
    fn lists_what_git_looks_at_in_every_index_version() {
        for version in ["2", "3", "4"] {
            let dir = repo(version);
            let tracked = tracked(&dir.path().join(".git")).expect("index parses");
            let mut paths: Vec<String> = tracked
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            paths.sort();
            assert_eq!(
                paths,
                [".env", "app/.env", "app/config/.env", "app/config/cert.pem"],
                "index version {version}"
            );
        }
    }

    #[test]
    fn a_damaged_index_is_unreadable_not_partial() {
        let dir = repo("4");
        let index = std::fs::read(dir.path().join(".git/index")).unwrap();
        assert!(parse(&index, 20).is_some());
        for cut in [0, 4, 12, 40, index.len() / 2] {
            assert_eq!(parse(&index[..cut], 20), None, "cut at {cut}");
        }
        let mut wrong = index.clone();
        wrong[..4].copy_from_slice(b"XXXX");
        assert_eq!(parse(&wrong, 20), None);
        assert_eq!(tracked(&dir.path().join("no-such-git-dir")), None);
    }
}
