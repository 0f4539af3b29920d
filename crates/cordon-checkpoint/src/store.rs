//! The checkpoint store: a directory of content-addressed objects and a SQLite index.
//!
//! ```text
//! objects/ab/cdef…   one file per distinct content, named by the SHA-256 of its bytes, mode 0444
//! tmp/               objects being written (renamed into objects/ when complete)
//! index.db           checkpoints, their scopes and entries, and rollback journals (SQLite, WAL)
//! ```
//!
//! Content is stored once however many checkpoints hold it. An object is written under `tmp/`,
//! hashed from the stored copy (so the hash always describes what was stored, even if the source
//! changed during the copy), then renamed to its name: a crash leaves at most a stray temporary
//! file, never a misnamed object. Where the filesystem supports it the copy is a copy-on-write
//! clone (`FICLONE`, through `reflink-copy`), which costs no data blocks until either side changes.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

static TMP_SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How one file's content reached the store (or came back out of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyMethod {
    /// A copy-on-write clone: no data blocks were copied.
    Reflink,
    /// The bytes were copied.
    Copy,
    /// The store already held this content; nothing was written.
    Deduplicated,
}

/// An open checkpoint store.
pub struct Store {
    root: PathBuf,
    pub(crate) db: Connection,
    /// Whether clones work between the sources and the store; learned from the first attempt so a
    /// filesystem without reflink does not pay a failing ioctl per file.
    reflink: Cell<Option<bool>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS checkpoints (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    session     TEXT,
    label       TEXT NOT NULL,
    entries     INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    reflinked   INTEGER NOT NULL,
    copied      INTEGER NOT NULL,
    deduplicated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scopes (
    checkpoint  TEXT NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    path        BLOB NOT NULL,
    kind        TEXT NOT NULL,
    PRIMARY KEY (checkpoint, idx)
);
CREATE TABLE IF NOT EXISTS entries (
    checkpoint  TEXT NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    scope       INTEGER NOT NULL,
    rel         BLOB NOT NULL,
    kind        TEXT NOT NULL,
    mode        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT,
    target      BLOB,
    PRIMARY KEY (checkpoint, scope, rel)
);
CREATE TABLE IF NOT EXISTS rollbacks (
    checkpoint  TEXT NOT NULL,
    scope       INTEGER NOT NULL,
    phase       TEXT NOT NULL,
    staging     BLOB NOT NULL,
    staged_dev  INTEGER,
    staged_ino  INTEGER,
    PRIMARY KEY (checkpoint, scope)
);
";

impl Store {
    /// Opens the store at `root`, creating it (mode 0700) if missing.
    pub fn open(root: &Path) -> Result<Store> {
        for dir in [root.to_path_buf(), root.join("objects"), root.join("tmp")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| Error::io(&dir, e))?;
        }
        let db_path = root.join("index.db");
        let db = Connection::open(&db_path).map_err(|e| Error::io(&db_path, e))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        db.execute_batch(SCHEMA)?;
        Ok(Store {
            root: root.to_path_buf(),
            db,
            reflink: Cell::new(None),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the object with this hash lives.
    pub fn object_path(&self, sha256: &str) -> PathBuf {
        let (head, tail) = sha256.split_at(sha256.len().min(2));
        self.root.join("objects").join(head).join(tail)
    }

    /// Stores the content of an already-opened regular file (opened without following symlinks)
    /// and returns its hash, its size and how it was stored.
    pub(crate) fn put(
        &self,
        source: &File,
        source_name: &Path,
    ) -> Result<(String, u64, CopyMethod)> {
        // Content the store already holds (every file of a second checkpoint of an unchanged
        // tree) costs one read and no write. The read leaves the file offset alone.
        let (known, known_size) = hash_at(source, source_name)?;
        if self.object_path(&known).exists() {
            return Ok((known, known_size, CopyMethod::Deduplicated));
        }
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}",
            std::process::id(),
            TMP_SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        // The hash of what was stored (not of the read above) names the object.
        let stored = self.store_tmp(source, source_name, &tmp);
        let (hash, size, method) = match stored {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let object = self.object_path(&hash);
        if object.exists() {
            let _ = fs::remove_file(&tmp);
            return Ok((hash, size, CopyMethod::Deduplicated));
        }
        if let Some(dir) = object.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| Error::io(dir, e))?;
        }
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io(&tmp, e))?;
        fs::rename(&tmp, &object).map_err(|e| Error::io(&object, e))?;
        Ok((hash, size, method))
    }

    /// Clones or copies `source` to `tmp` and hashes what was written.
    fn store_tmp(
        &self,
        source: &File,
        source_name: &Path,
        tmp: &Path,
    ) -> Result<(String, u64, CopyMethod)> {
        if self.reflink.get() != Some(false) {
            // The magic link names exactly the file already opened, so a path swapped for a
            // symlink after the open cannot redirect the clone.
            let fd_path = PathBuf::from(format!("/proc/self/fd/{}", source.as_raw_fd()));
            match reflink_copy::reflink(&fd_path, tmp) {
                Ok(()) => {
                    self.reflink.set(Some(true));
                    let (hash, size) = hash_file(tmp)?;
                    return Ok((hash, size, CopyMethod::Reflink));
                }
                Err(_) => {
                    let _ = fs::remove_file(tmp);
                    if self.reflink.get().is_none() {
                        self.reflink.set(Some(false));
                    }
                }
            }
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
            .map_err(|e| Error::io(tmp, e))?;
        let mut reader = source;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| Error::io(source_name, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::io(tmp, e))?;
            size += n as u64;
        }
        Ok((hex::encode(hasher.finalize()), size, CopyMethod::Copy))
    }

    /// Writes the object `sha256` to the new file `dest` (which must not exist) with `mode`,
    /// cloning where possible, and checks the bytes against the hash when it had to copy.
    pub(crate) fn materialize(&self, sha256: &str, dest: &Path, mode: u32) -> Result<CopyMethod> {
        let object = self.object_path(sha256);
        let method = match reflink_copy::reflink(&object, dest) {
            Ok(()) => CopyMethod::Reflink,
            Err(_) => {
                let _ = fs::remove_file(dest);
                let mut input = File::open(&object).map_err(|e| Error::io(&object, e))?;
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(dest)
                    .map_err(|e| Error::io(dest, e))?;
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 128 * 1024];
                loop {
                    let n = input.read(&mut buf).map_err(|e| Error::io(&object, e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n]).map_err(|e| Error::io(dest, e))?;
                }
                if hex::encode(hasher.finalize()) != sha256 {
                    return Err(Error::Damaged {
                        hash: sha256.to_string(),
                        reason: "its bytes no longer hash to its name".into(),
                    });
                }
                CopyMethod::Copy
            }
        };
        fs::set_permissions(dest, fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| Error::io(dest, e))?;
        Ok(method)
    }

    /// Flushes every write to the store's filesystem (one `syncfs`, not one fsync per object).
    pub(crate) fn sync(&self) -> Result<()> {
        let dir = File::open(&self.root).map_err(|e| Error::io(&self.root, e))?;
        nix::unistd::syncfs(&dir).map_err(|e| Error::io(&self.root, e))
    }

    /// Removes objects no checkpoint refers to; returns how many were removed.
    pub fn collect_garbage(&self) -> Result<u64> {
        let mut live = std::collections::HashSet::new();
        let mut stmt = self
            .db
            .prepare("SELECT DISTINCT sha256 FROM entries WHERE sha256 IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            live.insert(row?);
        }
        let mut removed = 0;
        let objects = self.root.join("objects");
        let heads = fs::read_dir(&objects).map_err(|e| Error::io(&objects, e))?;
        for head in heads.flatten() {
            let Ok(tails) = fs::read_dir(head.path()) else {
                continue;
            };
            for tail in tails.flatten() {
                let name = format!(
                    "{}{}",
                    head.file_name().to_string_lossy(),
                    tail.file_name().to_string_lossy()
                );
                if !live.contains(&name) && fs::remove_file(tail.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// SHA-256 and size of an open file's bytes, read with `pread` so its offset stays at 0.
fn hash_at(file: &File, name: &Path) -> Result<(String, u64)> {
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = file
            .read_at(&mut buf, offset)
            .map_err(|e| Error::io(name, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        offset += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), offset))
}

/// SHA-256 and size of a file's bytes.
fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}
