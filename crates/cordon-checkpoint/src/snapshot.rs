//! Taking a checkpoint: walk each scope without following symlinks, store every regular file's
//! content, and record every entry's metadata in one SQLite transaction.
//!
//! Nothing is skipped for its name: dotfiles, `.env` and `.git` are recorded like anything else
//! (agentsh's checkpoints skipped them, so the files an agent most often breaks were the ones it
//! could not get back). Names are kept as raw bytes, so newlines and non-UTF-8 survive.
//!
//! A scope path is resolved the way the sandbox resolves it (symlinks followed, so the checkpoint
//! covers what the command can actually write). A scope that does not exist is recorded as
//! absent at its first missing component: rolling back then removes whatever the command created
//! there, including missing parents it made with `mkdir -p`.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use rusqlite::params;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{CopyMethod, Store};

/// Bounds on one snapshot, so a scope declared as `/` fails clearly instead of copying a disk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_bytes: 16 << 30,
        }
    }
}

/// What to snapshot and under which names.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Absolute scope paths (a directory, a file, or a path that does not exist yet).
    pub scopes: Vec<PathBuf>,
    /// The cordon session the checkpoint belongs to.
    pub session: Option<String>,
    /// A short description, e.g. the command it was taken before.
    pub label: String,
    pub limits: Limits,
}

/// The kind of one recorded entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device node: recorded, left alone on rollback (not recreated or removed).
    Special,
    /// The scope path did not exist.
    Absent,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Special => "special",
            Kind::Absent => "absent",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Kind> {
        Ok(match s {
            "file" => Kind::File,
            "dir" => Kind::Dir,
            "symlink" => Kind::Symlink,
            "special" => Kind::Special,
            "absent" => Kind::Absent,
            other => return Err(Error::Index(format!("unknown entry kind {other:?}"))),
        })
    }

    fn of(meta: &fs::Metadata) -> Kind {
        let t = meta.file_type();
        if t.is_symlink() {
            Kind::Symlink
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Special
        }
    }
}

/// One recorded path below a scope root (`rel` empty for the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rel: PathBuf,
    pub kind: Kind,
    pub mode: u32,
    pub mtime_ns: i64,
    pub size: u64,
    pub sha256: Option<String>,
    pub target: Option<PathBuf>,
}

/// What a snapshot did, for the receipt.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub created_at: String,
    pub session: Option<String>,
    pub label: String,
    /// The resolved scope roots, lossily as text (the index keeps the exact bytes).
    pub scopes: Vec<String>,
    pub entries: u64,
    pub bytes: u64,
    /// Files stored as copy-on-write clones, as byte copies, and already present in the store.
    pub reflinked: u64,
    pub copied: u64,
    pub deduplicated: u64,
}

/// Takes a checkpoint of `request.scopes` into `store`. Fails, leaving no checkpoint behind,
/// if any scope cannot be read completely.
pub fn snapshot(store: &Store, request: &Request) -> Result<Summary> {
    if request.scopes.is_empty() {
        return Err(Error::Scope(
            "no write scope was declared, so there is nothing a checkpoint could restore".into(),
        ));
    }
    let scopes = resolve_scopes(&request.scopes)?;
    // A store inside the scope would snapshot itself while it grows, and a rollback would roll
    // the store back too.
    let store_root = fs::canonicalize(store.root()).map_err(|e| Error::io(store.root(), e))?;
    if let Some(scope) = scopes.iter().find(|s| store_root.starts_with(s)) {
        return Err(Error::Scope(format!(
            "the checkpoint store {} lies inside the write scope {}; keep cordon's home outside every write scope",
            store_root.display(),
            scope.display()
        )));
    }
    let created = SystemTime::now();
    let id = new_id("ck", created);
    let created_at = crate::rfc3339(created);
    let mut walk = Walk {
        store,
        limits: request.limits,
        entries: Vec::new(),
        bytes: 0,
        reflinked: 0,
        copied: 0,
        deduplicated: 0,
    };
    let mut scope_kinds = Vec::new();
    for (idx, root) in scopes.iter().enumerate() {
        let kind = walk.scope(idx, root)?;
        scope_kinds.push(kind);
    }
    store.sync()?;
    let tx = store.db.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO checkpoints (id, created_at, session, label, entries, bytes, reflinked, copied, deduplicated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            created_at,
            request.session,
            request.label,
            walk.entries.len() as i64,
            walk.bytes as i64,
            walk.reflinked as i64,
            walk.copied as i64,
            walk.deduplicated as i64
        ],
    )?;
    {
        let mut scope_stmt =
            tx.prepare("INSERT INTO scopes (checkpoint, idx, path, kind) VALUES (?1, ?2, ?3, ?4)")?;
        for (idx, (root, kind)) in scopes.iter().zip(&scope_kinds).enumerate() {
            scope_stmt.execute(params![
                id,
                idx as i64,
                root.as_os_str().as_bytes(),
                kind.as_str()
            ])?;
        }
        let mut entry_stmt = tx.prepare(
            "INSERT INTO entries (checkpoint, scope, rel, kind, mode, mtime_ns, size, sha256, target)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (scope, e) in &walk.entries {
            entry_stmt.execute(params![
                id,
                *scope as i64,
                e.rel.as_os_str().as_bytes(),
                e.kind.as_str(),
                e.mode,
                e.mtime_ns,
                e.size as i64,
                e.sha256,
                e.target.as_ref().map(|t| t.as_os_str().as_bytes().to_vec()),
            ])?;
        }
    }
    tx.commit()?;
    Ok(Summary {
        id,
        created_at,
        session: request.session.clone(),
        label: request.label.clone(),
        scopes: scopes
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect(),
        entries: walk.entries.len() as u64,
        bytes: walk.bytes,
        reflinked: walk.reflinked,
        copied: walk.copied,
        deduplicated: walk.deduplicated,
    })
}

struct Walk<'a> {
    store: &'a Store,
    limits: Limits,
    entries: Vec<(usize, Entry)>,
    bytes: u64,
    reflinked: u64,
    copied: u64,
    deduplicated: u64,
}

impl Walk<'_> {
    fn scope(&mut self, idx: usize, root: &Path) -> Result<Kind> {
        let meta = match fs::symlink_metadata(root) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Kind::Absent),
            Err(e) => return Err(Error::io(root, e)),
        };
        let kind = Kind::of(&meta);
        self.record(idx, root, PathBuf::new(), &meta)?;
        if kind == Kind::Dir {
            self.dir(idx, root, PathBuf::new())?;
        }
        Ok(kind)
    }

    fn dir(&mut self, idx: usize, root: &Path, rel: PathBuf) -> Result<()> {
        let path = root.join(&rel);
        let mut names: Vec<OsString> = Vec::new();
        for entry in fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
            names.push(entry.map_err(|e| Error::io(&path, e))?.file_name());
        }
        names.sort();
        for name in names {
            let child_rel = rel.join(&name);
            let child = root.join(&child_rel);
            let meta = fs::symlink_metadata(&child).map_err(|e| Error::io(&child, e))?;
            self.record(idx, &child, child_rel.clone(), &meta)?;
            if meta.file_type().is_dir() {
                self.dir(idx, root, child_rel)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, idx: usize, path: &Path, rel: PathBuf, meta: &fs::Metadata) -> Result<()> {
        if self.entries.len() as u64 >= self.limits.max_entries {
            return Err(Error::Scope(format!(
                "the write scope holds more than {} entries; declare a narrower scope",
                self.limits.max_entries
            )));
        }
        let kind = Kind::of(meta);
        let mut entry = Entry {
            rel,
            kind,
            mode: meta.mode() & 0o7777,
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            size: 0,
            sha256: None,
            target: None,
        };
        match kind {
            Kind::File => {
                let file = open_nofollow(path)?;
                let opened = file.metadata().map_err(|e| Error::io(path, e))?;
                if opened.ino() != meta.ino() || opened.dev() != meta.dev() {
                    return Err(Error::Scope(format!(
                        "{} changed while the checkpoint was being taken",
                        path.display()
                    )));
                }
                let (hash, size, method) = self.store.put(&file, path)?;
                match method {
                    CopyMethod::Reflink => self.reflinked += 1,
                    CopyMethod::Copy => self.copied += 1,
                    CopyMethod::Deduplicated => self.deduplicated += 1,
                }
                self.bytes += size;
                if self.bytes > self.limits.max_bytes {
                    return Err(Error::Scope(format!(
                        "the write scope holds more than {} bytes; declare a narrower scope",
                        self.limits.max_bytes
                    )));
                }
                entry.size = size;
                entry.sha256 = Some(hash);
            }
            Kind::Symlink => {
                entry.target = Some(fs::read_link(path).map_err(|e| Error::io(path, e))?);
            }
            Kind::Dir | Kind::Special | Kind::Absent => {}
        }
        self.entries.push((idx, entry));
        Ok(())
    }
}

/// Opens a regular file for reading without following a final symlink or blocking on a FIFO.
fn open_nofollow(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Resolves each scope as the sandbox would, collapses scopes nested in another, and orders them.
pub(crate) fn resolve_scopes(scopes: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut resolved = Vec::new();
    for scope in scopes {
        if !scope.is_absolute() || scope.components().any(|c| c == Component::ParentDir) {
            return Err(Error::Scope(format!(
                "{}: a checkpoint scope must be an absolute path without `..`",
                scope.display()
            )));
        }
        resolved.extend(resolve_one(scope)?);
    }
    resolved.sort();
    resolved.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for path in resolved {
        if !kept.iter().any(|k| path.starts_with(k)) {
            kept.push(path);
        }
    }
    if kept.iter().any(|k| k.parent().is_none()) {
        return Err(Error::Scope(
            "a checkpoint of `/` is refused; declare the directories the command writes".into(),
        ));
    }
    Ok(kept)
}

/// The paths a rollback must restore or remove for one declared scope: the scope itself with its
/// parent canonicalized (a symlink at the scope is recorded as a link, not followed), plus, when it
/// is a symlink, what it resolves to (the sandbox grants the target, so the command can write
/// there). A scope that does not exist resolves to its first missing component.
fn resolve_one(scope: &Path) -> Result<Vec<PathBuf>> {
    if let (Some(parent), Some(name)) = (scope.parent(), scope.file_name()) {
        if let Ok(meta) = fs::symlink_metadata(scope) {
            let parent = fs::canonicalize(parent).map_err(|e| Error::io(parent, e))?;
            let mut paths = vec![parent.join(name)];
            if meta.file_type().is_symlink() {
                if let Ok(target) = fs::canonicalize(scope) {
                    paths.push(target);
                }
            }
            return Ok(paths);
        }
    }
    // Walk up to the deepest existing ancestor; the scope root becomes its missing child.
    let mut missing: Option<OsString> = None;
    let mut current = scope.to_path_buf();
    loop {
        match fs::symlink_metadata(&current) {
            Ok(_) => break,
            Err(_) => {
                missing = current.file_name().map(|n| n.to_os_string());
                if !current.pop() {
                    return Err(Error::Scope(format!(
                        "{}: no existing ancestor",
                        scope.display()
                    )));
                }
            }
        }
    }
    let base = fs::canonicalize(&current).map_err(|e| Error::io(&current, e))?;
    Ok(vec![match missing {
        Some(name) => base.join(name),
        None => base,
    }])
}

/// A checkpoint id: sortable by time, unique per process and instant.
pub(crate) fn new_id(prefix: &str, at: SystemTime) -> String {
    use sha2::Digest;
    let nanos = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut h = sha2::Sha256::new();
    h.update(format!("{nanos}:{}:{seq}", std::process::id()));
    let tag = hex::encode(&h.finalize()[..4]);
    let stamp = time::OffsetDateTime::from_unix_timestamp_nanos(nanos as i128)
        .map(|t| {
            format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| "00000000T000000".into());
    format!("{prefix}-{stamp}-{tag}")
}

static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bytes from the index back to a path.
pub(crate) fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes))
}
