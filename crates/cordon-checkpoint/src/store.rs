//! The checkpoint store: a directory of content-addressed objects and a SQLite index.
//!
//! ```text
//! objects/ab/cdef…   one file per distinct content, named by the SHA-256 of its bytes, mode 0444
//! tmp/               objects being written (renamed into objects/ when complete)
//! manifests/<id>.jsonl  each checkpoint's signed manifest: the record a rollback trusts
//! index.db           a cache of the manifests for listing, and rollback journals (SQLite, WAL)
//! ```
//!
//! The index is only a cache: a rollback reads and verifies the manifest, never the index's
//! scopes, and a verified listing rebuilds the index when it disagrees with the manifests. An
//! index that is not a database at all is moved aside and recreated when the store opens.
//!
//! Content is stored once however many checkpoints hold it. An object is written under `tmp/`,
//! hashed from the stored copy (so the hash always describes what was stored, even if the source
//! changed during the copy), then renamed to its name: a crash leaves at most a stray temporary
//! file, never a misnamed object. Where the filesystem supports it the copy is a copy-on-write
//! clone (`FICLONE`, through `reflink-copy`), which costs no data blocks until either side changes.

use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
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
    /// Set when the index file was not a database and was moved aside on open.
    index_recovered: Option<PathBuf>,
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

/// Columns added to `checkpoints` since the first release (an older index gains them on open).
const ADDED_COLUMNS: [(&str, &str); 3] = [
    ("manifest_sha256", "TEXT"),
    ("signed_by", "TEXT"),
    ("outside_workspace", "INTEGER NOT NULL DEFAULT 0"),
];

impl Store {
    /// Opens the store at `root`, creating it (mode 0700) if missing. An index file that is not
    /// a SQLite database (overwritten, truncated) is moved aside as `index.db.unreadable-<time>`
    /// and a new, empty index is created: the manifests are the record, and a verified listing
    /// fills the index again ([`crate::list_verified`]).
    pub fn open(root: &Path) -> Result<Store> {
        for dir in [
            root.to_path_buf(),
            root.join("objects"),
            root.join("tmp"),
            crate::manifest::dir(root),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| Error::io(&dir, e))?;
        }
        let db_path = root.join("index.db");
        let (db, index_recovered) = match open_index(&db_path) {
            Ok(db) => (db, None),
            Err(e) if is_not_a_database(&e) => {
                let aside = move_aside(&db_path)?;
                (open_index(&db_path)?, Some(aside))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Store {
            root: root.to_path_buf(),
            db,
            index_recovered,
            reflink: Cell::new(None),
        })
    }

    /// Where an unreadable index was moved when this store was opened, if it was.
    pub fn index_recovered(&self) -> Option<&Path> {
        self.index_recovered.as_deref()
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

    /// Writes the object `sha256` as the new file `name` in `dir` (which must not exist), with
    /// `mode` and `mtime_ns`, cloning where possible. The object must be a regular file of the
    /// recorded `size`, and what was written must hash to its name: a swapped or damaged object
    /// is refused (`Damaged`), never restored.
    pub(crate) fn materialize_at(
        &self,
        sha256: &str,
        size: u64,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        mode: u32,
        mtime_ns: i64,
    ) -> Result<CopyMethod> {
        let damaged = |reason: &str| Error::Damaged {
            hash: sha256.to_string(),
            reason: reason.to_string(),
        };
        let object_path = self.object_path(sha256);
        let object = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&object_path)
            .map_err(|e| damaged(&format!("it cannot be opened ({e})")))?;
        let meta = object.metadata().map_err(|e| Error::io(&object_path, e))?;
        if !meta.file_type().is_file() || meta.len() != size {
            return Err(damaged("it is not a regular file of the recorded size"));
        }
        let dest =
            crate::at::create_file_at(dir, name).map_err(|e| Error::io(Path::new(name), e))?;
        let method = match reflink_copy::reflink_file(&object, &dest) {
            Ok(()) => CopyMethod::Reflink,
            Err(_) => {
                copy_into(&object, &object_path, &dest, Path::new(name))?;
                CopyMethod::Copy
            }
        };
        let (written, written_size) = hash_at(&dest, Path::new(name))?;
        if written != sha256 || written_size != size {
            return Err(damaged("its bytes no longer hash to its name"));
        }
        nix::sys::stat::fchmod(
            &dest,
            nix::sys::stat::Mode::from_bits_truncate(mode & 0o7777),
        )
        .map_err(|e| Error::io(Path::new(name), e))?;
        let mtime = nix::sys::time::TimeSpec::new(
            mtime_ns.div_euclid(1_000_000_000),
            mtime_ns.rem_euclid(1_000_000_000),
        );
        nix::sys::stat::futimens(&dest, &nix::sys::time::TimeSpec::UTIME_OMIT, &mtime)
            .map_err(|e| Error::io(Path::new(name), e))?;
        Ok(method)
    }

    /// Flushes every write to the store's filesystem: the objects and the manifest being
    /// written, in one `syncfs` (one journal commit, where an `fsync` per object would be one
    /// each).
    pub(crate) fn sync(&self) -> Result<()> {
        let dir = File::open(&self.root).map_err(|e| Error::io(&self.root, e))?;
        nix::unistd::syncfs(&dir).map_err(|e| Error::io(&self.root, e))
    }

    /// Removes objects no manifest refers to; returns how many were removed. Every manifest
    /// file counts, verified or not: keeping an object too long is harmless, deleting one a
    /// checkpoint needs is not.
    pub fn collect_garbage(&self) -> Result<u64> {
        let mut live = std::collections::HashSet::new();
        for id in crate::manifest::ids(&self.root)? {
            let loaded = crate::manifest::read(&self.root, &id, crate::seal::Trust::Unchecked)?;
            for (_, entry) in loaded.entries {
                if let Some(hash) = entry.sha256 {
                    live.insert(hash);
                }
            }
        }
        for pending in crate::incremental::pending_objects(&self.root)? {
            live.insert(pending);
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

/// Copies `from` into `to` (both open).
fn copy_into(from: &File, from_name: &Path, to: &File, to_name: &Path) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 128 * 1024];
    let mut offset = 0u64;
    loop {
        let n = from
            .read_at(&mut buf, offset)
            .map_err(|e| Error::io(from_name, e))?;
        if n == 0 {
            return Ok(());
        }
        to.write_all_at(&buf[..n], offset)
            .map_err(|e| Error::io(to_name, e))?;
        offset += n as u64;
    }
}

/// SHA-256 and size of an open file's bytes, read with `pread` so its offset stays at 0.
pub(crate) fn hash_at(file: &File, name: &Path) -> Result<(String, u64)> {
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

fn open_index(path: &Path) -> rusqlite::Result<Connection> {
    let db = Connection::open(path)?;
    db.pragma_update(None, "journal_mode", "WAL")?;
    // The index is a cache of the manifests, and the rollback journal in it is re-derivable (a
    // rerun that finds an earlier phase stages again and recognises a finished swap), so a commit
    // need not wait for the disk: WAL with synchronous=NORMAL survives a killed process.
    db.pragma_update(None, "synchronous", "NORMAL")?;
    db.pragma_update(None, "foreign_keys", "ON")?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    db.execute_batch(SCHEMA)?;
    let mut present = std::collections::HashSet::new();
    {
        let mut stmt = db.prepare("SELECT name FROM pragma_table_info('checkpoints')")?;
        for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
            present.insert(name?);
        }
    }
    for (column, decl) in ADDED_COLUMNS {
        if !present.contains(column) {
            db.execute_batch(&format!(
                "ALTER TABLE checkpoints ADD COLUMN {column} {decl}"
            ))?;
        }
    }
    Ok(db)
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

/// Renames the index and its WAL files aside; returns the new name of the index.
fn move_aside(db_path: &Path) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let aside = db_path.with_file_name(format!("index.db.unreadable-{stamp}"));
    fs::rename(db_path, &aside).map_err(|e| Error::io(db_path, e))?;
    for suffix in ["-wal", "-shm"] {
        let mut name = db_path.as_os_str().to_os_string();
        name.push(suffix);
        let mut moved = aside.as_os_str().to_os_string();
        moved.push(suffix);
        let _ = fs::rename(PathBuf::from(name), PathBuf::from(moved));
    }
    Ok(aside)
}

/// What the index keeps of one checkpoint (a cache of its manifest).
pub(crate) struct IndexRow<'a> {
    pub header: &'a crate::manifest::Header,
    pub entries: u64,
    pub bytes: u64,
    pub reflinked: u64,
    pub copied: u64,
    pub deduplicated: u64,
    pub manifest_sha256: &'a str,
    pub signed_by: Option<&'a str>,
}

impl Store {
    /// Writes (or replaces) one checkpoint's rows in the index, in one transaction.
    pub(crate) fn index(&self, row: &IndexRow<'_>) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        let h = row.header;
        let outside = h.scopes.iter().any(|s| s.outside_workspace);
        let tx = self.db.unchecked_transaction()?;
        // Both tables explicitly: an index someone else wrote may lack the cascade.
        tx.execute("DELETE FROM scopes WHERE checkpoint = ?1", [&h.id])?;
        tx.execute("DELETE FROM checkpoints WHERE id = ?1", [&h.id])?;
        tx.execute(
            "INSERT INTO checkpoints (id, created_at, session, label, entries, bytes, reflinked,
                 copied, deduplicated, manifest_sha256, signed_by, outside_workspace)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            rusqlite::params![
                h.id,
                h.created_at,
                h.session,
                h.label,
                row.entries as i64,
                row.bytes as i64,
                row.reflinked as i64,
                row.copied as i64,
                row.deduplicated as i64,
                row.manifest_sha256,
                row.signed_by,
                outside
            ],
        )?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO scopes (checkpoint, idx, path, kind) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (idx, scope) in h.scopes.iter().enumerate() {
                stmt.execute(rusqlite::params![
                    h.id,
                    idx as i64,
                    scope.path.as_os_str().as_bytes(),
                    scope.kind.as_str()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The manifest hash the index holds for `id`, if it holds the checkpoint at all.
    pub(crate) fn indexed_sha256(&self, id: &str) -> Result<Option<Option<String>>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .db
            .query_row(
                "SELECT manifest_sha256 FROM checkpoints WHERE id = ?1",
                [id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?)
    }
}
