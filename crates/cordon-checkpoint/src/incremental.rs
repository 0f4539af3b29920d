//! Observed checkpoints: record what a command changes, as it changes it, instead of copying the
//! whole scope before it starts.
//!
//! A full checkpoint costs what the workspace holds (every file hashed, every entry in the
//! manifest). An observed one costs what the command changes: the sandbox's write broker
//! mediates every call that overwrites, truncates, removes, renames or creates a name, and
//! before performing it tells a [`Recorder`]:
//! - [`Recorder::before_change`]: `name` in the directory `parent` is about to be overwritten,
//!   truncated, removed, or renamed (away, or over). Its current state is recorded, the first
//!   time the name is seen: a file's content goes to the store, a link's target, a directory's
//!   mode and mtime (and, when a whole directory is renamed away, everything below it);
//! - [`Recorder::before_create`]: `name` is about to be created. It is recorded as `absent`
//!   (if something is there after all, its state is recorded instead, so a wrong call can never
//!   make a rollback delete what existed);
//! - [`Recorder::before_metadata_change`]: `name`'s mode, owner or times are about to change in
//!   place. Its state is recorded, without what is below it. The write broker as built places
//!   the file of a `chmod` or `utimensat` without telling its observer, so nothing calls this in
//!   a real run; the governor
//!   takes a full snapshot for a command it sees changing metadata (docs/checkpoints.md).
//!
//! The first record of a name wins: what was there before the command is what comes back. A
//! name below one that did not exist as a directory before (created, or a file then) is not
//! recorded, since rolling back removes its parent. The directory holding each changed name
//! (and its ancestors up to the scope root) is recorded too, so a rollback restores their mtimes
//! and knows they existed. The same inode reached through a second name (a hard link) is stored
//! once. [`Recorder::finish_signed`] writes the manifest like any other checkpoint's, with the
//! scope's method `observed`; [`crate::rollback`] puts back exactly those names.
//!
//! Scopes that are not directories when recording begins (a file, a path that does not exist
//! yet) are snapshotted whole at [`Recorder::begin`]: that is cheap, and a command cannot be
//! observed changing a scope root's parent.
//!
//! An error from either call means the change could not be recorded: the broker must refuse
//! the call (fail closed). A parent that is not inside any scope is not recorded and is no
//! error: the sandbox decides whether the command may write there.
//!
//! While recording, the records are also appended to `pending/<id>.jsonl` in the store, so
//! garbage collection keeps their objects; the file is removed when the manifest is written.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cordon_journal::Signer;
use nix::sys::stat::{fstat, FileStat};

use crate::at::{self, ident, Node};
use crate::error::{Error, Result};
use crate::manifest::{self, Header, Method, ScopeRecord};
use crate::seal::Sealing;
use crate::snapshot::{
    self, canonical_workspace, describe_at, new_id, outside, parent_and_name, refuse_store_inside,
    resolve_scopes, Counts, Coverage, Entry, Kind, Request, Summary,
};
use crate::store::{IndexRow, Store};

/// An observed checkpoint being recorded. It owns its store, so it can be handed to the thread
/// that answers the broker.
pub struct Recorder {
    store: Store,
    header: Header,
    limits: snapshot::Limits,
    /// Entries of the scopes snapshotted whole at the start.
    whole: Vec<(usize, Entry)>,
    observed: Vec<Observed>,
    records: Vec<(usize, Entry)>,
    recorded: HashMap<(usize, PathBuf), Kind>,
    /// Directories whose whole subtree is recorded.
    walked: HashSet<(usize, PathBuf)>,
    /// Directories already located: inode → (scope, path below its root).
    located: HashMap<(u64, u64), (usize, PathBuf)>,
    /// Files already stored, by inode: (hash, size).
    stored: HashMap<(u64, u64), (String, u64)>,
    counts: Counts,
    pending: Pending,
}

/// One directory scope being observed.
struct Observed {
    idx: usize,
    path: PathBuf,
    root: OwnedFd,
    root_name: OsString,
    parent_ident: (u64, u64),
}

impl Recorder {
    /// Starts recording changes to `request.scopes` (resolved as for a full snapshot).
    pub fn begin(store: Store, request: &Request) -> Result<Recorder> {
        if request.scopes.is_empty() {
            return Err(Error::Scope(
                "no write scope was declared, so there is nothing a checkpoint could restore"
                    .into(),
            ));
        }
        let roots = resolve_scopes(&request.scopes)?;
        refuse_store_inside(&store, &roots)?;
        let workspace = canonical_workspace(request.workspace.as_deref())?;
        let created = SystemTime::now();
        let header = Header {
            format: manifest::FORMAT.into(),
            id: new_id("ck", created),
            created_at: crate::rfc3339(created),
            session: request.session.clone(),
            label: request.label.clone(),
            workspace: workspace.clone(),
            coverage: Coverage::Observed,
            scopes: Vec::new(),
        };
        let pending = Pending::create(store.root(), &header.id)?;
        let mut recorder = Recorder {
            store,
            header,
            limits: request.limits,
            whole: Vec::new(),
            observed: Vec::new(),
            records: Vec::new(),
            recorded: HashMap::new(),
            walked: HashSet::new(),
            located: HashMap::new(),
            stored: HashMap::new(),
            counts: Counts::default(),
            pending,
        };
        for (idx, root) in roots.iter().enumerate() {
            let (kind, method) = recorder.begin_scope(idx, root)?;
            recorder.header.scopes.push(ScopeRecord {
                path: root.clone(),
                kind,
                method,
                outside_workspace: outside(workspace.as_deref(), root),
            });
        }
        Ok(recorder)
    }

    fn begin_scope(&mut self, idx: usize, root: &Path) -> Result<(Kind, Method)> {
        let (parent_path, name) = parent_and_name(root)?;
        let parent = at::open_anchor(&parent_path).map_err(|e| Error::io(&parent_path, e))?;
        let st = at::stat_at(&parent, &name).map_err(|e| Error::io(root, e))?;
        match st {
            Some(st) if Node::of(&st) == Node::Dir => {
                let root_fd = at::open_dir_beneath(&parent, Path::new(&name))
                    .map_err(|e| Error::io(root, e))?;
                if ident(&fstat(&root_fd).map_err(|e| Error::io(root, e))?) != ident(&st) {
                    return Err(Error::Scope(format!(
                        "{} changed while recording began",
                        root.display()
                    )));
                }
                let parent_ident = ident(&fstat(&parent).map_err(|e| Error::io(root, e))?);
                self.observed.push(Observed {
                    idx,
                    path: root.to_path_buf(),
                    root: root_fd,
                    root_name: name,
                    parent_ident,
                });
                self.push(idx, dir_entry(PathBuf::new(), &st))?;
                Ok((Kind::Dir, Method::Observed))
            }
            _ => {
                let mut entries = Vec::new();
                let kind = snapshot::record_scope(
                    &self.store,
                    idx,
                    root,
                    self.limits,
                    &mut entries,
                    &mut self.counts,
                )?;
                for entry in &entries {
                    self.pending.write(entry)?;
                }
                self.whole.extend(entries);
                Ok((kind, Method::Full))
            }
        }
    }

    /// `name` in `parent` is about to be overwritten, truncated, removed, or renamed away or
    /// over: records what it is now, unless this name was recorded already.
    pub fn before_change(&mut self, parent: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
        let Some((scope, rel)) = self.locate_name(parent, name)? else {
            return Ok(());
        };
        if self.hidden(scope, &rel) {
            return Ok(());
        }
        let Some(st) = at::stat_at(parent, name).map_err(|e| Error::io(Path::new(name), e))? else {
            return Ok(());
        };
        let is_dir = Node::of(&st) == Node::Dir;
        match self.recorded.get(&(scope, rel.clone())) {
            // Recorded as a directory (the parent of an earlier change): its children that
            // nobody recorded go with it if it is renamed away.
            Some(Kind::Dir) if is_dir => {}
            Some(_) => return Ok(()),
            None => {
                self.note_parents(scope, &rel)?;
                let entry = self.describe(parent, name, rel.clone(), &st)?;
                self.push(scope, entry)?;
            }
        }
        if is_dir && self.walked.insert((scope, rel.clone())) {
            // Renaming or removing a directory moves every path below it: locations are stale.
            self.located.clear();
            self.record_subtree(scope, &rel)?;
        }
        Ok(())
    }

    /// `name` is about to be created in `parent`: records that it did not exist (or, if it
    /// does after all, what it is; a create never removes what is below an existing name, so
    /// nothing below it is recorded).
    pub fn before_create(&mut self, parent: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
        self.record_name(parent, name, true)
    }

    /// `name`'s mode, owner or times are about to change in place (`chmod`, `fchmod`, `chown`,
    /// `utimensat`): records what it is now, but not what is below it, which does not move.
    pub fn before_metadata_change(&mut self, parent: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
        self.record_name(parent, name, false)
    }

    /// Records `name` as it is now (nothing below it), or as absent when `absent_ok` and it
    /// does not exist.
    fn record_name(&mut self, parent: BorrowedFd<'_>, name: &OsStr, absent_ok: bool) -> Result<()> {
        let Some((scope, rel)) = self.locate_name(parent, name)? else {
            return Ok(());
        };
        if self.hidden(scope, &rel) || self.recorded.contains_key(&(scope, rel.clone())) {
            return Ok(());
        }
        let current = at::stat_at(parent, name).map_err(|e| Error::io(Path::new(name), e))?;
        if current.is_none() && !absent_ok {
            return Ok(());
        }
        self.note_parents(scope, &rel)?;
        let entry = match current {
            Some(st) => self.describe(parent, name, rel, &st)?,
            None => Entry {
                rel,
                kind: Kind::Absent,
                mode: 0,
                mtime_ns: 0,
                size: 0,
                sha256: None,
                target: None,
            },
        };
        self.push(scope, entry)
    }

    /// Writes the manifest, signed with `signer`; the checkpoint is then complete.
    pub fn finish_signed(self, signer: &Signer) -> Result<Summary> {
        self.finish_sealed(Sealing::Signed(signer))
    }

    /// Writes the manifest unsigned (see [`crate::snapshot()`]).
    pub fn finish(self) -> Result<Summary> {
        self.finish_sealed(Sealing::Unsigned)
    }

    fn finish_sealed(self, sealing: Sealing<'_>) -> Result<Summary> {
        let mut entries = self.whole;
        entries.extend(self.records);
        entries.sort_by_key(|(scope, _)| *scope);
        let (sha256, signed_by) =
            snapshot::write_manifest(&self.store, &self.header, &entries, sealing)?;
        self.store.index(&IndexRow {
            header: &self.header,
            entries: entries.len() as u64,
            bytes: self.counts.bytes,
            reflinked: self.counts.reflinked,
            copied: self.counts.copied,
            deduplicated: self.counts.deduplicated,
            manifest_sha256: &sha256,
            signed_by: signed_by.as_deref(),
        })?;
        self.pending.remove();
        Ok(snapshot::summary(
            &self.header,
            &self.counts,
            entries.len() as u64,
            sha256,
            signed_by,
        ))
    }

    /// The checkpoint's id (known from the start, so a receipt can name it).
    pub fn id(&self) -> &str {
        &self.header.id
    }

    /// The resolved scope roots, for announcing before the command runs.
    pub fn scopes(&self) -> &[ScopeRecord] {
        &self.header.scopes
    }

    /// Which scope and path below its root `name` in `parent` is; `None` outside every scope.
    fn locate_name(
        &mut self,
        parent: BorrowedFd<'_>,
        name: &OsStr,
    ) -> Result<Option<(usize, PathBuf)>> {
        if !at::is_plain_name(name.as_encoded_bytes()) || name.as_encoded_bytes().contains(&b'/') {
            return Err(Error::Scope(format!(
                "{name:?} is not a plain name, so the change cannot be recorded"
            )));
        }
        let parent_ident = ident(&fstat(parent).map_err(|e| Error::io(Path::new(name), e))?);
        // A scope root itself, named in its parent.
        if let Some(o) = self
            .observed
            .iter()
            .find(|o| o.parent_ident == parent_ident && o.root_name == name)
        {
            return Ok(Some((o.idx, PathBuf::new())));
        }
        Ok(self
            .locate_dir(parent, parent_ident)?
            .map(|(scope, rel)| (scope, rel.join(name))))
    }

    /// Which scope and path the directory `dir` is; `None` outside every scope. The kernel's
    /// name for the handle proposes a path, and the path opened beneath the scope root must be
    /// the same inode.
    fn locate_dir(
        &mut self,
        dir: BorrowedFd<'_>,
        dir_ident: (u64, u64),
    ) -> Result<Option<(usize, PathBuf)>> {
        if let Some(hit) = self.located.get(&dir_ident) {
            return Ok(Some(hit.clone()));
        }
        let link = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        let named = fs::read_link(&link).map_err(|e| Error::io(&link, e))?;
        let Some(o) = self.observed.iter().find(|o| named.starts_with(&o.path)) else {
            return Ok(None);
        };
        let rel = named
            .strip_prefix(&o.path)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let opened = if rel.as_os_str().is_empty() {
            at::open_path_beneath(&o.root, Path::new("."))
        } else {
            at::open_path_beneath(&o.root, &rel)
        };
        let same = opened
            .ok()
            .and_then(|fd| fstat(&fd).ok())
            .is_some_and(|st| ident(&st) == dir_ident);
        if !same {
            return Err(Error::Scope(format!(
                "the directory {} could not be located in the checkpoint's scope, so the change cannot be recorded",
                named.display()
            )));
        }
        let hit = (o.idx, rel);
        self.located.insert(dir_ident, hit.clone());
        Ok(Some(hit))
    }

    /// Whether `rel` lies below a name that was not a directory before the command (created,
    /// or a file then): rolling back removes or replaces that name whole, so nothing below it
    /// needs a record.
    fn hidden(&self, scope: usize, rel: &Path) -> bool {
        rel.ancestors().skip(1).any(|a| {
            self.recorded
                .get(&(scope, a.to_path_buf()))
                .is_some_and(|k| *k != Kind::Dir)
        })
    }

    /// Records the directories from the scope root down to `rel`'s parent that are not yet
    /// recorded, as they are now (before this change touches the parent's mtime).
    fn note_parents(&mut self, scope: usize, rel: &Path) -> Result<()> {
        let Some(parent) = rel.parent() else {
            return Ok(());
        };
        let missing: Vec<PathBuf> = parent
            .ancestors()
            .filter(|a| !self.recorded.contains_key(&(scope, a.to_path_buf())))
            .map(Path::to_path_buf)
            .collect();
        for dir in missing.into_iter().rev() {
            let root = self.root_of(scope)?;
            let path = root.path.join(&dir);
            let handle = at::open_path_beneath(
                &root.root,
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    &dir
                },
            )
            .map_err(|e| Error::io(&path, e))?;
            let st = fstat(&handle).map_err(|e| Error::io(&path, e))?;
            if Node::of(&st) != Node::Dir {
                return Err(Error::Scope(format!(
                    "{} is not a directory",
                    path.display()
                )));
            }
            self.push(scope, dir_entry(dir, &st))?;
        }
        Ok(())
    }

    /// Records everything below the directory `rel` that is not recorded yet.
    fn record_subtree(&mut self, scope: usize, rel: &Path) -> Result<()> {
        let mut pending = vec![rel.to_path_buf()];
        while let Some(dir_rel) = pending.pop() {
            let root = self.root_of(scope)?;
            let path = root.path.join(&dir_rel);
            let dir = if dir_rel.as_os_str().is_empty() {
                at::open_dir_beneath(&root.root, Path::new(""))
            } else {
                at::open_dir_beneath(&root.root, &dir_rel)
            }
            .map_err(|e| Error::io(&path, e))?;
            for name in at::list(&dir).map_err(|e| Error::io(&path, e))? {
                let child = dir_rel.join(&name);
                let Some(st) = at::stat_at(&dir, &name).map_err(|e| Error::io(&path, e))? else {
                    continue;
                };
                let is_dir = Node::of(&st) == Node::Dir;
                if !self.recorded.contains_key(&(scope, child.clone())) {
                    let entry = self.describe(dir.as_fd(), &name, child.clone(), &st)?;
                    self.push(scope, entry)?;
                }
                // A directory recorded earlier (as the parent of a change) may still have
                // children nobody recorded; a name recorded as anything else hides its subtree.
                if is_dir && self.recorded.get(&(scope, child.clone())) == Some(&Kind::Dir) {
                    pending.push(child);
                }
            }
        }
        Ok(())
    }

    fn root_of(&self, scope: usize) -> Result<&Observed> {
        self.observed
            .iter()
            .find(|o| o.idx == scope)
            .ok_or_else(|| Error::Scope(format!("scope {scope} is not observed")))
    }

    /// The entry for an existing name; a file's content is stored once per inode.
    fn describe(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        rel: PathBuf,
        st: &FileStat,
    ) -> Result<Entry> {
        if Node::of(st) == Node::File {
            if let Some((hash, size)) = self.stored.get(&ident(st)) {
                return Ok(Entry {
                    rel,
                    kind: Kind::File,
                    mode: st.st_mode & 0o7777,
                    mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
                    size: *size,
                    sha256: Some(hash.clone()),
                    target: None,
                });
            }
        }
        let path = PathBuf::from(name);
        let (entry, stored) = describe_at(&self.store, dir, name, rel, &path, st)?;
        if let (Some((method, size)), Some(hash)) = (stored, &entry.sha256) {
            self.counts.add(method, size);
            self.stored.insert(ident(st), (hash.clone(), size));
        }
        Ok(entry)
    }

    fn push(&mut self, scope: usize, entry: Entry) -> Result<()> {
        let total = (self.records.len() + self.whole.len()) as u64;
        if total >= self.limits.max_entries || self.counts.bytes > self.limits.max_bytes {
            return Err(Error::Scope(format!(
                "the command changed more than the checkpoint's limits ({} entries, {} bytes)",
                self.limits.max_entries, self.limits.max_bytes
            )));
        }
        self.pending.write(&(scope, entry.clone()))?;
        self.recorded.insert((scope, entry.rel.clone()), entry.kind);
        self.records.push((scope, entry));
        Ok(())
    }
}

fn dir_entry(rel: PathBuf, st: &FileStat) -> Entry {
    Entry {
        rel,
        kind: Kind::Dir,
        mode: st.st_mode & 0o7777,
        mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
        size: 0,
        sha256: None,
        target: None,
    }
}

/// The records of a checkpoint still being taken, so garbage collection keeps their objects.
struct Pending {
    path: PathBuf,
    out: BufWriter<File>,
}

fn pending_dir(store_root: &Path) -> PathBuf {
    store_root.join("pending")
}

impl Pending {
    fn create(store_root: &Path, id: &str) -> Result<Pending> {
        let dir = pending_dir(store_root);
        fs::DirBuilder::new()
            .recursive(true)
            .create(&dir)
            .map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!("{id}.jsonl"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Pending {
            path,
            out: BufWriter::new(file),
        })
    }

    fn write(&mut self, (scope, entry): &(usize, Entry)) -> Result<()> {
        let line = serde_json::json!({
            "scope": scope,
            "path": snapshot::hex_of(&entry.rel),
            "kind": entry.kind,
            "sha256": entry.sha256,
        });
        serde_json::to_writer(&mut self.out, &line).map_err(|e| Error::io(&self.path, e))?;
        self.out
            .write_all(b"\n")
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Every object hash named by a checkpoint still being recorded.
pub(crate) fn pending_objects(store_root: &Path) -> Result<HashSet<String>> {
    let mut hashes = HashSet::new();
    let dir = pending_dir(store_root);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(hashes),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    for entry in entries.flatten() {
        let Ok(file) = File::open(entry.path()) else {
            continue;
        };
        for line in BufReader::new(file)
            .lines()
            .map_while(std::result::Result::ok)
        {
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(hash) = value.get("sha256").and_then(|h| h.as_str()) {
                hashes.insert(hash.to_string());
            }
        }
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    /// The broker answers from its own thread: the recorder must be able to move there.
    #[test]
    fn a_recorder_can_be_handed_to_another_thread() {
        fn send<T: Send>() {}
        send::<super::Recorder>();
    }
}
