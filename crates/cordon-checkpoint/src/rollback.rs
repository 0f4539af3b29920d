//! Rolling scopes back to a checkpoint: verify first, then two phases, so a refusal changes
//! nothing and a crash leaves each scope as before or as after.
//!
//! 1. **Verify** ([`verify`]): the manifest's signature, its seal over these exact bytes, and
//!    that its paths are well formed. The SQLite index is not consulted for anything a rollback
//!    does; a row that disagrees with the manifest is rewritten from it. [`apply`] then refuses
//!    a scope outside the workspace without consent, or a scope root that now leads through a
//!    symlink, before it creates anything.
//! 2. **Stage**, every scope before any is touched: build what the checkpoint holds in a sibling
//!    directory (`.cordon-rollback-<id>-<n>` next to the scope root, so on the same filesystem),
//!    from the store alone, checking every object's bytes against its hash, through directory
//!    handles. A damaged object fails here, and the scopes are unchanged. Then `syncfs`, and the
//!    staging's inode is recorded in the rollback journal.
//! 3. **Swap.** A full scope: one `renameat2(RENAME_EXCHANGE)` relative to the handle of the
//!    scope's parent puts the staged tree in place; this is the only instant the scope changes.
//!    An observed scope ([`crate::observed`]): each recorded name is put back in turn.
//! 4. **Clean up**: the old tree (or what was set aside) is deleted through handles.
//!
//! The journal is a table in the store's SQLite index, so each phase change is one durable
//! transaction. A rerun after a crash reads it: a half-built staging area is discarded and
//! rebuilt; a scope whose inode is the staged one was already swapped (the crash fell between the
//! rename and the journal update) and only needs the cleanup.
//!
//! Nothing present at rollback time is followed: the scope's parent is opened by its recorded
//! canonical path with `RESOLVE_NO_SYMLINKS`, everything below with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, and every name is acted on relative to its
//! directory's handle. Setuid and setgid bits on files come back only with
//! [`Consent::setid`]; FIFOs, sockets and device nodes are recorded, never recreated.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_journal::KeyRing;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::at::{self, ident, renameat2, Node, Rename};
use crate::error::{Error, Result};
use crate::manifest::{self, Loaded, Method, ScopeRecord};
use crate::seal::Trust;
use crate::snapshot::{parent_and_name, path_from_bytes, Entry, Kind};
use crate::store::{IndexRow, Store};

/// Knobs for tests: pause after N steps so a test can kill the process mid-rollback.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub pause_after_steps: Option<u64>,
}

/// What the person agreed to, beyond putting back a checkpoint of their workspace.
#[derive(Debug, Clone, Copy, Default)]
pub struct Consent {
    /// Roll back scopes that lie outside the workspace the checkpoint was taken for (the CLI
    /// asks for `--yes`).
    pub outside_workspace: bool,
    /// Restore setuid and setgid bits on files (cleared otherwise, and listed in the report).
    pub setid: bool,
}

/// What a rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checkpoint: String,
    pub scopes: Vec<String>,
    /// Entries written into staging areas (or put back, for an observed scope).
    pub restored_entries: u64,
    /// True when this run finished a rollback an earlier, interrupted run had started.
    pub resumed: bool,
    /// Files whose setuid/setgid bits were recorded but not restored.
    pub setid_cleared: Vec<String>,
    /// FIFOs, sockets and device nodes that were recorded but not recreated.
    pub not_recreated: Vec<String>,
}

/// A checkpoint whose manifest verified: what a rollback of it would touch. Announce
/// [`Verified::scopes`] (the true, resolved scope) and ask for consent when
/// [`Verified::outside_workspace`] is not empty.
#[derive(Debug, Clone)]
pub struct Verified {
    loaded: Loaded,
    /// True when the index disagreed with the manifest (or lacked it) and was rewritten.
    pub index_rebuilt: bool,
}

impl Verified {
    pub fn id(&self) -> &str {
        &self.loaded.header.id
    }

    pub fn scopes(&self) -> &[ScopeRecord] {
        &self.loaded.header.scopes
    }

    pub fn workspace(&self) -> Option<&Path> {
        self.loaded.header.workspace.as_deref()
    }

    /// The scope roots outside the workspace the checkpoint was taken for.
    pub fn outside_workspace(&self) -> Vec<&Path> {
        self.scopes()
            .iter()
            .filter(|s| s.outside_workspace)
            .map(|s| s.path.as_path())
            .collect()
    }

    /// The key id that signed the manifest.
    pub fn signed_by(&self) -> Option<&str> {
        self.loaded.signed_by.as_deref()
    }

    pub fn manifest_sha256(&self) -> &str {
        &self.loaded.sha256
    }
}

/// Reads checkpoint `id`'s manifest and verifies it against `keys`; touches nothing but the
/// index's cached row for it. A manifest that is missing, unsigned, signed by another key,
/// changed after sealing, or malformed is refused (`Untrusted`).
pub fn verify(store: &Store, id: &str, keys: &KeyRing) -> Result<Verified> {
    let loaded = match manifest::read(store.root(), id, Trust::Keys(keys)) {
        Err(Error::NotFound { .. }) if store.indexed_sha256(id)?.is_some() => {
            return Err(Error::Untrusted {
                what: format!("checkpoint {id}"),
                reason: "the index names it, but the store holds no manifest for it".into(),
            })
        }
        other => other?,
    };
    let index_rebuilt = reconcile_index(store, &loaded)?;
    Ok(Verified {
        loaded,
        index_rebuilt,
    })
}

/// Rewrites the index row of a verified manifest when it is missing or names another manifest.
pub(crate) fn reconcile_index(store: &Store, loaded: &Loaded) -> Result<bool> {
    if store
        .indexed_sha256(&loaded.header.id)?
        .flatten()
        .as_deref()
        == Some(&loaded.sha256)
    {
        return Ok(false);
    }
    let files = loaded.entries.iter().filter(|(_, e)| e.kind == Kind::File);
    store.index(&IndexRow {
        header: &loaded.header,
        entries: loaded.entries.len() as u64,
        bytes: files.map(|(_, e)| e.size).sum(),
        reflinked: 0,
        copied: 0,
        deduplicated: 0,
        manifest_sha256: &loaded.sha256,
        signed_by: loaded.signed_by.as_deref(),
    })?;
    Ok(true)
}

/// Rolls a verified checkpoint back. Refuses, changing nothing, when a scope lies outside the
/// workspace and `consent` does not cover it, or when a scope now leads through a symlink.
pub fn apply(
    store: &Store,
    verified: &Verified,
    consent: Consent,
    options: Options,
) -> Result<Report> {
    run(store, &verified.loaded, consent, options)
}

/// Rolls checkpoint `id` back without verifying its signature, for callers that hold no key yet
/// (the manifest still has to be well formed). Scopes outside the workspace are rolled back;
/// setuid and setgid bits are not restored.
pub fn rollback(store: &Store, id: &str, options: Options) -> Result<Report> {
    let loaded = manifest::read(store.root(), id, Trust::Unchecked)?;
    let consent = Consent {
        outside_workspace: true,
        setid: false,
    };
    run(store, &loaded, consent, options)
}

/// One scope of the checkpoint, with its entries in manifest order (parents first).
pub(crate) struct Scope<'a> {
    pub idx: usize,
    pub record: &'a ScopeRecord,
    pub entries: Vec<&'a Entry>,
}

impl Scope<'_> {
    pub(crate) fn root(&self) -> &Path {
        &self.record.path
    }
}

fn run(store: &Store, loaded: &Loaded, consent: Consent, options: Options) -> Result<Report> {
    let id = loaded.header.id.as_str();
    let scopes = split_scopes(loaded);
    let outside: Vec<PathBuf> = scopes
        .iter()
        .filter(|s| s.record.outside_workspace)
        .map(|s| s.root().to_path_buf())
        .collect();
    if !outside.is_empty() && !consent.outside_workspace {
        return Err(Error::NeedsConsent {
            scopes: outside,
            workspace: loaded.header.workspace.clone(),
        });
    }
    for scope in &scopes {
        if scope.record.method == Method::Observed {
            crate::observed::check_records(scope)?;
        }
    }
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
    // Refuse before touching anything if any scope moved outside what was recorded.
    for scope in &scopes {
        open_scope_parent(scope)?;
    }
    let mut run = Run {
        store,
        id,
        consent,
        journal: Journal {
            store,
            checkpoint: id,
        },
        steps: Steps {
            done: 0,
            pause_after: options.pause_after_steps,
        },
        report: Report {
            checkpoint: id.to_string(),
            scopes: scopes
                .iter()
                .map(|s| s.root().to_string_lossy().into_owned())
                .collect(),
            restored_entries: 0,
            resumed: false,
            setid_cleared: Vec::new(),
            not_recreated: Vec::new(),
        },
    };
    let active: Vec<&Scope<'_>> = scopes
        .iter()
        // A FIFO, socket or device as a scope root is left alone.
        .filter(|s| s.record.kind != Kind::Special)
        .collect();
    let mut states = Vec::new();
    for scope in &active {
        states.push(run.stage_scope(scope)?);
    }
    for (scope, state) in active.iter().zip(states.iter_mut()) {
        run.swap_scope(scope, state)?;
    }
    for (scope, state) in active.iter().zip(states.iter_mut()) {
        run.clean_scope(scope, state)?;
    }
    run.journal.clear()?;
    Ok(run.report)
}

fn split_scopes(loaded: &Loaded) -> Vec<Scope<'_>> {
    let mut scopes: Vec<Scope<'_>> = loaded
        .header
        .scopes
        .iter()
        .enumerate()
        .map(|(idx, record)| Scope {
            idx,
            record,
            entries: Vec::new(),
        })
        .collect();
    for (idx, entry) in &loaded.entries {
        if let Some(scope) = scopes.get_mut(*idx) {
            scope.entries.push(entry);
        }
    }
    scopes
}

/// A scope's state across the phases of one run.
struct ScopeState {
    parent: OwnedFd,
    root_name: OsString,
    staging_name: OsString,
    phase: Phase,
    staged: Option<(u64, u64)>,
}

struct Run<'a> {
    store: &'a Store,
    id: &'a str,
    consent: Consent,
    journal: Journal<'a>,
    steps: Steps,
    report: Report,
}

impl Run<'_> {
    /// Stages one scope unless an earlier run already did (or got further).
    fn stage_scope(&mut self, scope: &Scope<'_>) -> Result<ScopeState> {
        let (parent, root_name) = open_scope_parent(scope)?;
        let staging_name = OsString::from(format!(".cordon-rollback-{}-{}", self.id, scope.idx));
        let staging_path = scope
            .root()
            .parent()
            .unwrap_or(Path::new("/"))
            .join(&staging_name);
        let row = self.journal.get(scope.idx)?;
        self.report.resumed |= row.is_some();
        if let Some(r) = &row {
            if r.staging != staging_path {
                return Err(Error::Index(format!(
                    "the rollback journal names an unexpected staging path {}",
                    r.staging.display()
                )));
            }
        }
        let mut state = ScopeState {
            parent,
            root_name,
            staging_name,
            phase: row.as_ref().map_or(Phase::Staging, |r| r.phase),
            staged: row.as_ref().and_then(|r| r.staged),
        };
        if state.phase != Phase::Staging {
            return Ok(state);
        }
        self.journal
            .set(scope.idx, Phase::Staging, &staging_path, None)?;
        self.steps.step();
        at::remove_at(state.parent.as_fd(), &state.staging_name)
            .map_err(|e| Error::io(&staging_path, e))?;
        let staged = match scope.record.method {
            Method::Full => self.stage_full(scope, &state, &staging_path),
            Method::Observed => crate::observed::stage(
                self.stage_context(),
                scope,
                &state.parent,
                &state.staging_name,
                &staging_path,
            ),
        };
        if let Err(e) = staged {
            // Nothing in the scope changed; leave no staging behind either.
            let _ = at::remove_at(state.parent.as_fd(), &state.staging_name);
            let _ = self.journal.remove(scope.idx);
            return Err(e);
        }
        nix::unistd::syncfs(&state.parent).map_err(|e| Error::io(&staging_path, e))?;
        state.staged = at::stat_at(&state.parent, &state.staging_name)
            .map_err(|e| Error::io(&staging_path, e))?
            .map(|st| ident(&st));
        self.journal
            .set(scope.idx, Phase::Staged, &staging_path, state.staged)?;
        state.phase = Phase::Staged;
        self.steps.step();
        Ok(state)
    }

    fn stage_context(&mut self) -> crate::observed::Context<'_> {
        crate::observed::Context {
            store: self.store,
            consent: self.consent,
            steps: &mut self.steps,
            report: &mut self.report,
        }
    }

    fn swap_scope(&mut self, scope: &Scope<'_>, state: &mut ScopeState) -> Result<()> {
        if state.phase != Phase::Staged {
            return Ok(());
        }
        let staging_path = staging_path(scope, &state.staging_name);
        // The scope is checked again right before it changes.
        let (parent, _) = open_scope_parent(scope)?;
        state.parent = parent;
        match scope.record.method {
            Method::Full => swap(scope, state)?,
            Method::Observed => crate::observed::put_back(
                self.stage_context(),
                scope,
                &state.parent,
                &state.staging_name,
            )?,
        }
        self.steps.step();
        self.journal
            .set(scope.idx, Phase::Swapped, &staging_path, state.staged)?;
        state.phase = Phase::Swapped;
        self.steps.step();
        Ok(())
    }

    fn clean_scope(&mut self, scope: &Scope<'_>, state: &mut ScopeState) -> Result<()> {
        if state.phase != Phase::Swapped {
            return Ok(());
        }
        let staging_path = staging_path(scope, &state.staging_name);
        at::remove_at(state.parent.as_fd(), &state.staging_name)
            .map_err(|e| Error::io(&staging_path, e))?;
        self.journal
            .set(scope.idx, Phase::Done, &staging_path, state.staged)?;
        state.phase = Phase::Done;
        self.steps.step();
        Ok(())
    }

    /// Builds the checkpointed tree of a full scope as `staging_name` in the scope's parent.
    fn stage_full(
        &mut self,
        scope: &Scope<'_>,
        state: &ScopeState,
        staging_path: &Path,
    ) -> Result<()> {
        let Some(root) = scope
            .entries
            .first()
            .filter(|e| e.rel.as_os_str().is_empty())
        else {
            // An absent scope stages nothing: the swap moves whatever is there aside.
            return Ok(());
        };
        let parent = state.parent.as_fd();
        match root.kind {
            Kind::Dir => mkdir(parent, &state.staging_name, staging_path)?,
            Kind::Absent | Kind::Special => return Ok(()),
            Kind::File | Kind::Symlink => {
                self.put_entry(parent, &state.staging_name, root, scope.root())?;
            }
        }
        self.report.restored_entries += 1;
        self.steps.step();
        if root.kind != Kind::Dir {
            return Ok(());
        }
        let staging = at::open_dir_beneath(parent, Path::new(&state.staging_name))
            .map_err(|e| Error::io(staging_path, e))?;
        let mut dirs: Vec<&Entry> = vec![root];
        let mut cache = DirCache::default();
        for entry in scope.entries.iter().skip(1) {
            let path = staging_path.join(&entry.rel);
            if !at::is_plain_relative(&entry.rel) {
                return Err(Error::Index(format!(
                    "{}: not a plain path",
                    path.display()
                )));
            }
            let (parent_rel, name) = at::split(&entry.rel);
            let dir = cache.open(&staging, &parent_rel, &path)?;
            match entry.kind {
                Kind::Dir => {
                    mkdir(dir, &name, &path)?;
                    dirs.push(entry);
                }
                Kind::File | Kind::Symlink => {
                    self.put_entry(dir, &name, entry, &scope.root().join(&entry.rel))?
                }
                Kind::Special => {
                    self.report
                        .not_recreated
                        .push(scope.root().join(&entry.rel).to_string_lossy().into_owned());
                    continue;
                }
                Kind::Absent => continue,
            }
            self.report.restored_entries += 1;
            self.steps.step();
        }
        // Deepest first, so setting a parent's mtime is not undone by finishing a child.
        for entry in dirs.iter().rev() {
            let dir = at::open_dir_beneath(&staging, &entry.rel)
                .map_err(|e| Error::io(&staging_path.join(&entry.rel), e))?;
            set_dir_meta(&dir, entry, &staging_path.join(&entry.rel))?;
        }
        Ok(())
    }

    /// Creates a file (from its object) or a symlink as `name` in `dir`.
    pub(crate) fn put_entry(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        entry: &Entry,
        path: &Path,
    ) -> Result<()> {
        put_entry(
            self.store,
            self.consent,
            &mut self.report,
            dir,
            name,
            entry,
            path,
        )
    }
}

/// Creates a file (from its object, bytes checked) or a symlink as `name` in `dir`.
pub(crate) fn put_entry(
    store: &Store,
    consent: Consent,
    report: &mut Report,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    entry: &Entry,
    path: &Path,
) -> Result<()> {
    match entry.kind {
        Kind::File => {
            let Some(hash) = &entry.sha256 else {
                return Err(Error::Index(format!(
                    "file entry {} has no hash",
                    entry.rel.display()
                )));
            };
            let mode = if consent.setid {
                entry.mode
            } else {
                if entry.mode & 0o6000 != 0 {
                    report
                        .setid_cleared
                        .push(path.to_string_lossy().into_owned());
                }
                entry.mode & !0o6000
            };
            store.materialize_at(hash, entry.size, dir, name, mode, entry.mtime_ns)?;
        }
        Kind::Symlink => {
            let Some(target) = &entry.target else {
                return Err(Error::Index(format!(
                    "symlink entry {} has no target",
                    entry.rel.display()
                )));
            };
            nix::unistd::symlinkat(target.as_path(), dir, name).map_err(|e| Error::io(path, e))?;
            at::set_mtime_at(dir, name, entry.mtime_ns).map_err(|e| Error::io(path, e))?;
        }
        Kind::Dir | Kind::Special | Kind::Absent => {}
    }
    Ok(())
}

/// Sets a directory's recorded mode and mtime through its handle.
pub(crate) fn set_dir_meta(dir: &OwnedFd, entry: &Entry, path: &Path) -> Result<()> {
    let mtime = nix::sys::time::TimeSpec::new(
        entry.mtime_ns.div_euclid(1_000_000_000),
        entry.mtime_ns.rem_euclid(1_000_000_000),
    );
    nix::sys::stat::futimens(dir, &nix::sys::time::TimeSpec::UTIME_OMIT, &mtime)
        .map_err(|e| Error::io(path, e))?;
    nix::sys::stat::fchmod(
        dir,
        nix::sys::stat::Mode::from_bits_truncate(entry.mode & 0o7777),
    )
    .map_err(|e| Error::io(path, e))
}

pub(crate) fn mkdir(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<()> {
    // Owner-writable while it is filled; the recorded mode is set once it is full.
    nix::sys::stat::mkdirat(dir, name, nix::sys::stat::Mode::from_bits_truncate(0o700))
        .map_err(|e| Error::io(path, e))
}

/// Keeps the handle of the directory last written into, so siblings do not reopen it.
#[derive(Default)]
pub(crate) struct DirCache {
    rel: Option<PathBuf>,
    fd: Option<OwnedFd>,
}

impl DirCache {
    pub(crate) fn open<'f>(
        &'f mut self,
        root: &'f OwnedFd,
        rel: &Path,
        path: &Path,
    ) -> Result<BorrowedFd<'f>> {
        if rel.as_os_str().is_empty() {
            return Ok(root.as_fd());
        }
        if self.rel.as_deref() != Some(rel) {
            let fd = at::open_dir_beneath(root, rel).map_err(|e| Error::io(path, e))?;
            self.rel = Some(rel.to_path_buf());
            self.fd = Some(fd);
        }
        match &self.fd {
            Some(fd) => Ok(fd.as_fd()),
            None => Ok(root.as_fd()),
        }
    }
}

fn staging_path(scope: &Scope<'_>, staging_name: &OsStr) -> PathBuf {
    scope
        .root()
        .parent()
        .unwrap_or(Path::new("/"))
        .join(staging_name)
}

/// Opens the scope's parent by its recorded canonical path, refusing any symlink on the way,
/// and checks that the scope root has not become a symlink it was not.
pub(crate) fn open_scope_parent(scope: &Scope<'_>) -> Result<(OwnedFd, OsString)> {
    let root = scope.root();
    let (parent_path, name) = parent_and_name(root)?;
    let parent = at::open_anchor(&parent_path).map_err(|e| Error::OutsideScope {
        path: root.to_path_buf(),
        reason: match e {
            Errno::ELOOP => format!(
                "its parent {} now leads through a symbolic link, outside the checkpoint's scope",
                parent_path.display()
            ),
            other => format!(
                "its parent {} cannot be opened: {}",
                parent_path.display(),
                other.desc()
            ),
        },
    })?;
    let st = at::stat_at(&parent, &name).map_err(|e| Error::io(root, e))?;
    if let Some(st) = st {
        if Node::of(&st) == Node::Symlink && scope.record.kind != Kind::Symlink {
            let target = nix::fcntl::readlinkat(&parent, name.as_os_str()).unwrap_or_default();
            return Err(Error::OutsideScope {
                path: root.to_path_buf(),
                reason: format!(
                    "it is now a symlink to {}, which the checkpoint does not cover; remove the link and rerun the rollback",
                    Path::new(&target).display()
                ),
            });
        }
    }
    Ok((parent, name))
}

/// Puts the staged tree of a full scope in place in one atomic rename, relative to the parent's
/// handle, leaving the old tree at the staging name.
fn swap(scope: &Scope<'_>, state: &ScopeState) -> Result<()> {
    let parent = state.parent.as_fd();
    let root = scope.root();
    let current = at::stat_at(parent, &state.root_name).map_err(|e| Error::io(root, e))?;
    let staging_exists = at::stat_at(parent, &state.staging_name)
        .map_err(|e| Error::io(root, e))?
        .is_some();
    // Already swapped by a run that died before recording it?
    if let (Some(cur), Some(staged)) = (&current, state.staged) {
        if ident(cur) == staged {
            return Ok(());
        }
    }
    let rename = |from: &OsStr, to: &OsStr, flags: Rename| {
        renameat2(parent, from, parent, to, flags).map_err(|e| Error::io(root, e))
    };
    match (current.is_some(), staging_exists) {
        (true, true) => rename(&state.staging_name, &state.root_name, Rename::Exchange),
        (false, true) => rename(&state.staging_name, &state.root_name, Rename::NoReplace),
        (true, false) => rename(&state.root_name, &state.staging_name, Rename::NoReplace),
        (false, false) => Ok(()),
    }
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

    fn remove(&self, scope: usize) -> Result<()> {
        self.store.db.execute(
            "DELETE FROM rollbacks WHERE checkpoint = ?1 AND scope = ?2",
            params![self.checkpoint, scope as i64],
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
pub(crate) struct Steps {
    done: u64,
    pause_after: Option<u64>,
}

impl Steps {
    pub(crate) fn step(&mut self) {
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
