//! Which credential-named files a git repository already holds, from its index: enough of git's
//! index format (versions 2, 3 and 4) to find an entry's object id.
//!
//! The run-start search stands an empty file in for each file named like a credential. For a
//! file whose contents git already stores that would be wrong twice over: the contents are in
//! the object store, which the command must read (`git show HEAD:.env`), and git would see the
//! empty stand-in as a change, so an ordinary `git commit -a` would commit it over the real file
//! (red-team round 3). Such a file is left as it is.
//!
//! The index is the command's to write, so an entry alone proves nothing: `git add -N .env` or
//! `git update-index --cacheinfo` makes one for any path (red-team round 4). A file is left
//! readable only when its entry's object id is the hash of the file's own contents as a blob:
//! nobody can write that id without the contents, so whoever wrote it could read them already.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use sha1::Digest as _;

/// The largest index read; a larger one is taken as unreadable (every file then untracked, and
/// stood in for: the safe side).
const MAX_INDEX_BYTES: u64 = 256 << 20;

/// The entry flag (`ce_flags` on disk) that says two more bytes of flags follow.
const EXTENDED: u16 = 0x4000;

/// The largest file whose contents are hashed to compare with its entry; a larger one is stood
/// in for.
const MAX_HASHED_BYTES: u64 = 16 << 20;

/// The fixed part of an entry before the object name: ten 32-bit fields.
const STAT_FIELDS: usize = 40;

/// A repository's index: each path (relative to the work tree, as git stores it) and the object
/// id of its entry (the last one, for a path in a merge).
pub(crate) struct Index {
    entries: HashMap<Vec<u8>, Vec<u8>>,
    sha256: bool,
}

impl Index {
    /// The index of the git directory `git_dir`; `None` when there is none or it cannot be read.
    pub(crate) fn read(git_dir: &Path) -> Option<Index> {
        let index = git_dir.join("index");
        if std::fs::metadata(&index).ok()?.len() > MAX_INDEX_BYTES {
            return None;
        }
        let bytes = std::fs::read(&index).ok()?;
        Index::parse(&bytes, git_dir)
    }

    /// The index whose file held `bytes`, of the git directory `git_dir` (read earlier, parsed
    /// when needed).
    pub(crate) fn parse(bytes: &[u8], git_dir: &Path) -> Option<Index> {
        let sha256 = object_name_len(git_dir) == 32;
        let entries = parse(bytes, if sha256 { 32 } else { 20 })?;
        Some(Index { entries, sha256 })
    }

    /// Whether there is an entry for `relative`, whatever it holds.
    pub(crate) fn tracks(&self, relative: &[u8]) -> bool {
        self.entries.contains_key(relative)
    }

    /// Every entry: its path and raw object id.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(path, id)| (path.as_slice(), id.as_slice()))
    }

    /// Whether the entry for `relative` names, as its object, exactly the contents of `file`.
    pub(crate) fn holds_contents_of(&self, relative: &[u8], file: &Path) -> bool {
        let Some(id) = self.entries.get(relative) else {
            return false;
        };
        blob_id(file, self.sha256).is_some_and(|hash| hash == *id)
    }
}

/// The object id git gives `file`'s contents as a blob: the hash of `blob <size>\0` and the
/// contents. `None` for a file that cannot be read or is larger than [`MAX_HASHED_BYTES`].
fn blob_id(file: &Path, sha256: bool) -> Option<Vec<u8>> {
    let mut f = std::fs::File::open(file).ok()?;
    let size = f.metadata().ok()?.len();
    if size > MAX_HASHED_BYTES {
        return None;
    }
    let mut contents = Vec::with_capacity(usize::try_from(size).ok()?);
    f.read_to_end(&mut contents).ok()?;
    Some(blob_hash(&contents, sha256))
}

/// The object id of `contents` as a blob, raw.
fn blob_hash(contents: &[u8], sha256: bool) -> Vec<u8> {
    let header = format!("blob {}\0", contents.len());
    if sha256 {
        let mut h = sha2::Sha256::new();
        h.update(header.as_bytes());
        h.update(contents);
        h.finalize().to_vec()
    } else {
        let mut h = sha1::Sha1::new();
        h.update(header.as_bytes());
        h.update(contents);
        h.finalize().to_vec()
    }
}

/// The object id of `contents` as a blob, in hex as git prints it.
pub(crate) fn blob_id_of(contents: &[u8], sha256: bool) -> String {
    hex(&blob_hash(contents, sha256))
}

/// An object id in hex, as git prints it.
pub(crate) fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 for a repository whose objects are named by SHA-256 (`extensions.objectFormat`), else 20.
pub(crate) fn object_name_len(git_dir: &Path) -> usize {
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

/// Each entry's path and object id; `None` for anything but a well-formed index.
fn parse(bytes: &[u8], name_len: usize) -> Option<HashMap<Vec<u8>, Vec<u8>>> {
    let mut r = Cursor { bytes, at: 0 };
    if r.take(4)? != b"DIRC" {
        return None;
    }
    let version = r.u32()?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = r.u32()?;
    let mut entries = HashMap::new();
    let mut previous: Vec<u8> = Vec::new();
    for _ in 0..count {
        let start = r.at;
        r.take(STAT_FIELDS)?;
        let id = r.take(name_len)?.to_vec();
        let flags = r.u16()?;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return None;
            }
            r.u16()?;
        }
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
        entries.insert(path.clone(), id);
        previous = path;
    }
    Some(entries)
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

    /// A repository with committed files in nested directories, one changed since, one
    /// untracked, one added with `-N` (intent to add: an entry with the empty blob's id) and one
    /// given a made-up entry, written at index version `version`.
    fn repo(version: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "."]);
        std::fs::create_dir_all(d.join("app/config")).unwrap();
        for f in [".env", "app/.env", "app/config/cert.pem", "changed.env"] {
            std::fs::write(d.join(f), format!("contents of {f}")).unwrap();
        }
        git(d, &["add", "."]);
        std::fs::write(d.join("changed.env"), "SECRET=changed").unwrap();
        for f in ["untracked.env", "intent.env", "made-up.env"] {
            std::fs::write(d.join(f), "SECRET=1").unwrap();
        }
        git(d, &["add", "-N", "intent.env"]);
        let e69 = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391";
        git(
            d,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{e69},made-up.env"),
            ],
        );
        git(d, &["update-index", "--index-version", version]);
        dir
    }

    #[test]
    fn a_file_counts_as_held_only_with_its_own_contents_in_every_index_version() {
        for version in ["2", "3", "4"] {
            let dir = repo(version);
            let index = Index::read(&dir.path().join(".git")).expect("index parses");
            let held: Vec<&str> = [
                ".env",
                "app/.env",
                "app/config/cert.pem",
                "changed.env",
                "untracked.env",
                "intent.env",
                "made-up.env",
            ]
            .into_iter()
            .filter(|f| index.holds_contents_of(f.as_bytes(), &dir.path().join(f)))
            .collect();
            assert_eq!(
                held,
                [".env", "app/.env", "app/config/cert.pem"],
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
        assert!(Index::read(&dir.path().join("no-such-git-dir")).is_none());
    }
}
