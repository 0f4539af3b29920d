//! Rolling a scope back to a checkpoint, in two phases, so a crash leaves it as before or as after.
//!
//! For each scope root:
//! 1. **Stage**: build the checkpointed tree, complete, in a sibling directory
//!    (`.cordon-rollback-<id>-<n>` next to the root, so it is on the same filesystem), from the
//!    store alone: the current tree is never read, so nothing in it (a symlink planted by the
//!    command, a FIFO) can steer the restore. Then `syncfs`, and record the staged root's inode in
//!    the journal.
//! 2. **Swap**: one `renameat2(RENAME_EXCHANGE)` puts the staged tree where the scope was and the
//!    current tree where the staging was. This is the only instant the scope changes, and it is
//!    atomic. Then the old tree is deleted.
//!
//! The journal is a table in the store's SQLite index, so each phase change is one durable
//! transaction. A rerun after a crash reads it: a half-built staging area is discarded and rebuilt;
//! a scope whose inode is the staged one was already swapped (the crash fell between the rename
//! and the journal update) and only needs the cleanup. Each scope is atomic on its own; with
//! several scopes a crash can leave some swapped and some not, and the rerun finishes the rest.
//!
//! Before anything is staged or swapped, each scope's parent must still resolve to the directory it
//! resolved to at checkpoint time, and a scope root that was not a symlink must not have become
//! one: otherwise the rename would act somewhere the checkpoint never covered, and we refuse.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use nix::fcntl::{renameat2, Flock, FlockArg, RenameFlags, AT_FDCWD};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::snapshot::{path_from_bytes, Entry, Kind};
use crate::store::Store;

/// One scope of a stored checkpoint, with its entries in path order (parents first).
#[derive(Debug, Clone)]
pub struct StoredScope {
    pub idx: usize,
    pub root: PathBuf,
    pub kind: Kind,
    pub entries: Vec<Entry>,
}

/// Knobs for tests: pause after N steps so a test can kill the process mid-rollback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub pause_after_steps: Option<u64>,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checkpoint: String,
    pub scopes: Vec<String>,
    /// Entries written into staging areas.
    pub restored_entries: u64,
    /// True when this run finished a rollback an earlier, interrupted run had started.
    pub resumed: bool,
}

/// Loads the scopes and entries of checkpoint `id`.
pub fn load(store: &Store, id: &str) -> Result<Vec<StoredScope>> {
    let exists: Option<String> = store
        .db
        .query_row("SELECT id FROM checkpoints WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    if exists.is_none() {
        return Err(Error::NotFound {
            kind: "checkpoint",
            id: id.to_string(),
        });
    }
    let mut scopes = Vec::new();
    let mut stmt = store
        .db
        .prepare("SELECT idx, path, kind FROM scopes WHERE checkpoint = ?1 ORDER BY idx")?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (idx, path, kind) = row?;
        scopes.push(StoredScope {
            idx: idx as usize,
            root: path_from_bytes(path),
            kind: Kind::parse(&kind)?,
            entries: Vec::new(),
        });
    }
    let mut stmt = store.db.prepare(
        "SELECT scope, rel, kind, mode, mtime_ns, size, sha256, target FROM entries
         WHERE checkpoint = ?1 ORDER BY scope, rel",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, u32>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, Option<Vec<u8>>>(7)?,
        ))
    })?;
    for row in rows {
        let (scope, rel, kind, mode, mtime_ns, size, sha256, target) = row?;
        let Some(s) = scopes.iter_mut().find(|s| s.idx as i64 == scope) else {
            return Err(Error::Index(format!("entry of unknown scope {scope}")));
        };
        s.entries.push(Entry {
            rel: path_from_bytes(rel),
            kind: Kind::parse(&kind)?,
            mode,
            mtime_ns,
            size: size as u64,
            sha256,
            target: target.map(path_from_bytes),
        });
    }
    Ok(scopes)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Staging,
    Staged,
    Swapped,
    Done,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Staging => "staging",
            Phase::Staged => "staged",
            Phase::Swapped => "swapped",
            Phase::Done => "done",
        }
    }
    fn parse(s: &str) -> Result<Phase> {
        Ok(match s {
            "staging" => Phase::Staging,
            "staged" => Phase::Staged,
            "swapped" => Phase::Swapped,
            "done" => Phase::Done,
            other => return Err(Error::Index(format!("unknown rollback phase {other:?}"))),
        })
    }
}

struct Journal<'a> {
    store: &'a Store,
    checkpoint: &'a str,
}

struct JournalRow {
    phase: Phase,
    staging: PathBuf,
    staged: Option<(u64, u64)>,
}

impl Journal<'_> {
    fn get(&self, scope: usize) -> Result<Option<JournalRow>> {
        let row = self
            .store
            .db
            .query_row(
                "SELECT phase, staging, staged_dev, staged_ino FROM rollbacks WHERE checkpoint = ?1 AND scope = ?2",
                params![self.checkpoint, scope as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((phase, staging, dev, ino)) => Ok(Some(JournalRow {
                phase: Phase::parse(&phase)?,
                staging: path_from_bytes(staging),
                staged: dev.zip(ino).map(|(d, i)| (d as u64, i as u64)),
            })),
        }
    }

    fn set(
        &self,
        scope: usize,
        phase: Phase,
        staging: &Path,
        staged: Option<(u64, u64)>,
    ) -> Result<()> {
        self.store.db.execute(
            "INSERT INTO rollbacks (checkpoint, scope, phase, staging, staged_dev, staged_ino)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (checkpoint, scope) DO UPDATE SET phase = ?3, staging = ?4, staged_dev = ?5, staged_ino = ?6",
            params![
                self.checkpoint,
                scope as i64,
                phase.as_str(),
                staging.as_os_str().as_bytes(),
                staged.map(|s| s.0 as i64),
                staged.map(|s| s.1 as i64)
            ],
        )?;
        Ok(())
    }

    fn clear(&self) -> Result<()> {
        self.store.db.execute(
            "DELETE FROM rollbacks WHERE checkpoint = ?1",
            [self.checkpoint],
        )?;
        Ok(())
    }
}

/// Counts steps and pauses at the one a test asked for.
struct Steps {
    done: u64,
    pause_after: Option<u64>,
}

impl Steps {
    fn step(&mut self) {
        self.done += 1;
        if self.pause_after == Some(self.done) {
            eprintln!(
                "cordon: rollback paused after step {} (test hook)",
                self.done
            );
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}

/// Rolls every scope of checkpoint `id` back to its recorded state.
pub fn rollback(store: &Store, id: &str, options: Options) -> Result<Report> {
    // One rollback at a time per store: two would share staging paths and journal rows.
    let lock_path = store.root().join("rollback.lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io(&lock_path, e))?;
    let scopes = load(store, id)?;
    // Refuse before touching anything if any scope moved outside what was recorded.
    for scope in &scopes {
        check_scope(scope)?;
    }
    let journal = Journal {
        store,
        checkpoint: id,
    };
    let mut steps = Steps {
        done: 0,
        pause_after: options.pause_after_steps,
    };
    let mut restored = 0;
    let mut resumed = false;
    for scope in &scopes {
        if scope.kind == Kind::Special {
            // A FIFO, socket or device as a scope root is left alone (see the module docs).
            continue;
        }
        let row = journal.get(scope.idx)?;
        resumed |= row.is_some();
        let staging = staging_path(&scope.root, id, scope.idx)?;
        let mut phase = row.as_ref().map(|r| r.phase);
        let mut staged = row.as_ref().and_then(|r| r.staged);
        if let Some(r) = &row {
            if r.staging != staging {
                return Err(Error::Index(format!(
                    "the rollback journal names an unexpected staging path {}",
                    r.staging.display()
                )));
            }
        }
        if matches!(phase, None | Some(Phase::Staging)) {
            journal.set(scope.idx, Phase::Staging, &staging, None)?;
            steps.step();
            remove_any(&staging)?;
            restored += stage(store, scope, &staging, &mut steps)?;
            store.sync()?;
            staged = match fs::symlink_metadata(&staging) {
                Ok(m) => Some((m.dev(), m.ino())),
                Err(_) => None,
            };
            journal.set(scope.idx, Phase::Staged, &staging, staged)?;
            phase = Some(Phase::Staged);
            steps.step();
        }
        if phase == Some(Phase::Staged) {
            check_scope(scope)?;
            swap(scope, &staging, staged)?;
            steps.step();
            journal.set(scope.idx, Phase::Swapped, &staging, staged)?;
            phase = Some(Phase::Swapped);
            steps.step();
        }
        if phase == Some(Phase::Swapped) {
            remove_any(&staging)?;
            journal.set(scope.idx, Phase::Done, &staging, staged)?;
            steps.step();
        }
    }
    journal.clear()?;
    Ok(Report {
        checkpoint: id.to_string(),
        scopes: scopes
            .iter()
            .map(|s| s.root.to_string_lossy().into_owned())
            .collect(),
        restored_entries: restored,
        resumed,
    })
}

/// The scope's parent must resolve to where it resolved at checkpoint time, and its root must not
/// have become a symlink (a rename there would still be safe, but the user should see it).
fn check_scope(scope: &StoredScope) -> Result<()> {
    let parent = scope.root.parent().ok_or_else(|| Error::OutsideScope {
        path: scope.root.clone(),
        reason: "a scope must have a parent directory".into(),
    })?;
    match fs::canonicalize(parent) {
        Ok(now) if now == parent => {}
        Ok(now) => {
            return Err(Error::OutsideScope {
                path: scope.root.clone(),
                reason: format!(
                    "its parent {} now resolves to {}, outside the checkpoint's scope",
                    parent.display(),
                    now.display()
                ),
            })
        }
        Err(e) => {
            return Err(Error::OutsideScope {
                path: scope.root.clone(),
                reason: format!("its parent {} cannot be resolved: {e}", parent.display()),
            })
        }
    }
    if let Ok(meta) = fs::symlink_metadata(&scope.root) {
        if meta.file_type().is_symlink() && scope.kind != Kind::Symlink {
            let target = fs::read_link(&scope.root).unwrap_or_default();
            return Err(Error::OutsideScope {
                path: scope.root.clone(),
                reason: format!(
                    "it is now a symlink to {}, which the checkpoint does not cover; remove the link and rerun the rollback",
                    target.display()
                ),
            });
        }
    }
    Ok(())
}

fn staging_path(root: &Path, id: &str, idx: usize) -> Result<PathBuf> {
    let parent = root.parent().ok_or_else(|| Error::OutsideScope {
        path: root.to_path_buf(),
        reason: "a scope must have a parent directory".into(),
    })?;
    Ok(parent.join(format!(".cordon-rollback-{id}-{idx}")))
}

/// Builds the checkpointed tree at `staging`; returns the number of entries written.
fn stage(store: &Store, scope: &StoredScope, staging: &Path, steps: &mut Steps) -> Result<u64> {
    if scope.kind == Kind::Absent {
        return Ok(0);
    }
    let mut written = 0;
    let mut dirs: Vec<(&Entry, PathBuf)> = Vec::new();
    for entry in &scope.entries {
        let dest = if entry.rel.as_os_str().is_empty() {
            staging.to_path_buf()
        } else {
            staging.join(&entry.rel)
        };
        match entry.kind {
            Kind::Dir => {
                // Owner-writable while we fill it; the recorded mode is set once it is full.
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dest)
                    .map_err(|e| Error::io(&dest, e))?;
                dirs.push((entry, dest));
            }
            Kind::File => {
                let Some(hash) = &entry.sha256 else {
                    return Err(Error::Index(format!(
                        "file entry {} has no hash",
                        entry.rel.display()
                    )));
                };
                store.materialize(hash, &dest, entry.mode)?;
                set_mtime(&dest, entry.mtime_ns)?;
            }
            Kind::Symlink => {
                let Some(target) = &entry.target else {
                    return Err(Error::Index(format!(
                        "symlink entry {} has no target",
                        entry.rel.display()
                    )));
                };
                std::os::unix::fs::symlink(target, &dest).map_err(|e| Error::io(&dest, e))?;
                set_mtime(&dest, entry.mtime_ns)?;
            }
            // Not recreated (see docs/checkpoints.md, limits); a special file at the scope root
            // leaves an empty staging, which the swap treats as "absent".
            Kind::Special | Kind::Absent => continue,
        }
        written += 1;
        steps.step();
    }
    // Deepest first, so setting a parent's mtime is not undone by finishing a child.
    for (entry, dest) in dirs.iter().rev() {
        fs::set_permissions(dest, fs::Permissions::from_mode(entry.mode))
            .map_err(|e| Error::io(dest, e))?;
        set_mtime(dest, entry.mtime_ns)?;
    }
    Ok(written)
}

/// Puts the staged tree in place in one atomic rename, leaving the old tree at `staging`.
fn swap(scope: &StoredScope, staging: &Path, staged: Option<(u64, u64)>) -> Result<()> {
    let current = fs::symlink_metadata(&scope.root).ok();
    let staging_exists = fs::symlink_metadata(staging).is_ok();
    // Already swapped by a run that died before recording it?
    if let (Some(cur), Some((dev, ino))) = (&current, staged) {
        if cur.dev() == dev && cur.ino() == ino {
            return Ok(());
        }
    }
    let rename = |from: &Path, to: &Path, flags: RenameFlags| {
        renameat2(AT_FDCWD, from, AT_FDCWD, to, flags).map_err(|e| Error::io(to, e))
    };
    match (current.is_some(), staging_exists) {
        // The scope should exist and does: exchange atomically.
        (true, true) => rename(staging, &scope.root, RenameFlags::RENAME_EXCHANGE),
        // The scope should exist and was deleted.
        (false, true) => rename(staging, &scope.root, RenameFlags::RENAME_NOREPLACE),
        // The scope should be absent (or nothing was staged): move what is there aside.
        (true, false) => rename(&scope.root, staging, RenameFlags::RENAME_NOREPLACE),
        (false, false) => Ok(()),
    }
}

/// Removes a file, symlink or whole tree at `path` (never following symlinks); absent is fine.
pub(crate) fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.file_type().is_dir() => {
            make_owner_writable(path);
            fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
        }
        Ok(_) => fs::remove_file(path).map_err(|e| Error::io(path, e)),
    }
}

/// Read-only directories (a restored `0555` tree, a command's `chmod -w`) cannot be emptied until
/// they are writable again; this only touches directories, never through a symlink.
fn make_owner_writable(dir: &Path) {
    if let Ok(meta) = fs::symlink_metadata(dir) {
        if meta.file_type().is_dir() {
            let mode = meta.mode() & 0o7777;
            if mode & 0o700 != 0o700 {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o700));
            }
            if let Ok(children) = fs::read_dir(dir) {
                for child in children.flatten() {
                    if child.file_type().is_ok_and(|t| t.is_dir()) {
                        make_owner_writable(&child.path());
                    }
                }
            }
        }
    }
}

/// Sets the modification time of `path` itself (a symlink's own time, not its target's).
fn set_mtime(path: &Path, mtime_ns: i64) -> Result<()> {
    let mtime = TimeSpec::new(
        mtime_ns.div_euclid(1_000_000_000),
        mtime_ns.rem_euclid(1_000_000_000),
    );
    utimensat(
        AT_FDCWD,
        path,
        &TimeSpec::UTIME_OMIT,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| Error::io(path, e))
}
