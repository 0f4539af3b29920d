//! Taking a full checkpoint: walk each scope through directory handles without following
//! symlinks, store every regular file's content, and write the signed manifest.
//!
//! Nothing is skipped for its name: dotfiles, `.env` and `.git` are recorded like anything else
//! (agentsh's checkpoints skipped them, so the files an agent most often breaks were the ones it
//! could not get back). Names are kept as raw bytes, so newlines and non-UTF-8 survive.
//!
//! A scope path is resolved the way the sandbox resolves it (symlinks followed, so the checkpoint
//! covers what the command can actually write). A scope that does not exist is recorded as
//! absent at its first missing component: rolling back then removes whatever the command created
//! there, including missing parents it made with `mkdir -p`. Every resolved scope is announced
//! in the [`Summary`], with those that lie outside the workspace the checkpoint was taken for.
//!
//! The walk opens each scope's parent by its canonical path refusing any symlink, then every
//! directory beneath it with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, and checks each
//! opened inode is the one it listed, so a name swapped for a link mid-walk cannot redirect it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use cordon_journal::Signer;
use serde::{Deserialize, Serialize};

use crate::at::{self, ident, Node};
use crate::error::{Error, Result};
use crate::manifest::{self, Header, Method, ScopeRecord};
use crate::seal::Sealing;
use crate::store::{CopyMethod, IndexRow, Store};

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

/// Which paths a checkpoint covers, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// The paths the command names (its operands), when the command is known.
    Named,
    /// The command's whole write scope: the command is unknown, so any path in it may change.
    #[default]
    WholeScope,
    /// What the command changed, recorded as it changed it ([`crate::incremental`]).
    Observed,
}

/// The fallback when the kernel cannot report a command's changes: snapshot only the paths the
/// contract names for a known command, and the whole write scope only when the command is
/// unknown (`named` is `None`) or names a path outside that scope (then its names cannot be
/// trusted to be all it writes).
pub fn choose_scopes(
    named: Option<&[PathBuf]>,
    write_scope: &[PathBuf],
) -> (Coverage, Vec<PathBuf>) {
    match named {
        Some(paths)
            if !paths.is_empty()
                && paths
                    .iter()
                    .all(|p| write_scope.iter().any(|w| p.starts_with(w))) =>
        {
            (Coverage::Named, paths.to_vec())
        }
        _ => (Coverage::WholeScope, write_scope.to_vec()),
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
    /// The workspace the command runs for. A resolved scope outside it is announced, and
    /// rolling it back needs consent. `None`: every scope counts as outside.
    pub workspace: Option<PathBuf>,
    /// How the scopes were chosen (recorded in the manifest and the summary).
    pub coverage: Coverage,
}

/// The kind of one recorded entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A FIFO, socket or device node: recorded, never recreated by a rollback.
    Special,
    /// The path did not exist.
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

    pub(crate) fn of_node(node: Node) -> Kind {
        match node {
            Node::File => Kind::File,
            Node::Dir => Kind::Dir,
            Node::Symlink => Kind::Symlink,
            Node::Fifo | Node::Socket | Node::Device => Kind::Special,
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

/// What a snapshot did, for the receipt and for what the person is told.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub id: String,
    pub created_at: String,
    pub session: Option<String>,
    pub label: String,
    /// Every scope root as resolved (a link and its target both appear), lossily as text (the
    /// manifest keeps the exact bytes). This, not the declared scope, is what a rollback touches.
    pub scopes: Vec<String>,
    /// The resolved scopes that lie outside the workspace (all of them when none was given).
    pub outside_workspace: Vec<String>,
    pub workspace: Option<String>,
    pub coverage: Coverage,
    pub entries: u64,
    pub bytes: u64,
    /// Files stored as copy-on-write clones, as byte copies, and already present in the store.
    pub reflinked: u64,
    pub copied: u64,
    pub deduplicated: u64,
    /// SHA-256 of the manifest (every line before its seal): a receipt that records it binds
    /// the checkpoint to the signed journal too.
    pub manifest_sha256: String,
    /// The key id that signed the manifest; `None` for an unsigned checkpoint.
    pub signed_by: Option<String>,
}

/// Takes a checkpoint of `request.scopes`, its manifest signed with `signer`. Fails, leaving no
/// checkpoint behind, if any scope cannot be read completely.
pub fn snapshot_signed(store: &Store, request: &Request, signer: &Signer) -> Result<Summary> {
    take(store, request, Sealing::Signed(signer))
}

/// Takes a checkpoint with an unsigned manifest, for callers that hold no key yet. A verified
/// rollback ([`crate::rollback::verify`]) refuses it; only the unsigned [`crate::rollback()`]
/// rolls it back.
pub fn snapshot(store: &Store, request: &Request) -> Result<Summary> {
    take(store, request, Sealing::Unsigned)
}

fn take(store: &Store, request: &Request, sealing: Sealing<'_>) -> Result<Summary> {
    if request.scopes.is_empty() {
        return Err(Error::Scope(
            "no write scope was declared, so there is nothing a checkpoint could restore".into(),
        ));
    }
    let roots = resolve_scopes(&request.scopes)?;
    refuse_store_inside(store, &roots)?;
    let workspace = canonical_workspace(request.workspace.as_deref())?;
    let created = SystemTime::now();
    let mut header = Header {
        format: manifest::FORMAT.into(),
        id: new_id("ck", created),
        created_at: crate::rfc3339(created),
        session: request.session.clone(),
        label: request.label.clone(),
        workspace: workspace.clone(),
        coverage: request.coverage,
        scopes: Vec::new(),
    };
    let mut walk = Walk {
        store,
        limits: request.limits,
        entries: Vec::new(),
        counts: Counts::default(),
    };
    for (idx, root) in roots.iter().enumerate() {
        let kind = walk.scope(idx, root)?;
        header.scopes.push(ScopeRecord {
            path: root.clone(),
            kind,
            method: Method::Full,
            outside_workspace: outside(workspace.as_deref(), root),
        });
    }
    let (sha256, signed_by) = write_manifest(store, &header, &walk.entries, sealing)?;
    store.index(&IndexRow {
        header: &header,
        entries: walk.entries.len() as u64,
        bytes: walk.counts.bytes,
        reflinked: walk.counts.reflinked,
        copied: walk.counts.copied,
        deduplicated: walk.counts.deduplicated,
        manifest_sha256: &sha256,
        signed_by: signed_by.as_deref(),
    })?;
    Ok(summary(
        &header,
        &walk.counts,
        walk.entries.len() as u64,
        sha256,
        signed_by,
    ))
}

/// Writes the manifest for `entries` under `header`, after making the objects durable; returns
/// its hash and signer.
pub(crate) fn write_manifest(
    store: &Store,
    header: &Header,
    entries: &[(usize, Entry)],
    sealing: Sealing<'_>,
) -> Result<(String, Option<String>)> {
    let mut writer = manifest::Writer::create(store.root(), header)?;
    for (scope, entry) in entries {
        if let Err(e) = writer.entry(*scope, entry) {
            writer.abandon();
            return Err(e);
        }
    }
    writer.finish(store, sealing)
}

/// Counts of what a checkpoint stored.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub bytes: u64,
    pub reflinked: u64,
    pub copied: u64,
    pub deduplicated: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, method: CopyMethod, size: u64) {
        match method {
            CopyMethod::Reflink => self.reflinked += 1,
            CopyMethod::Copy => self.copied += 1,
            CopyMethod::Deduplicated => self.deduplicated += 1,
        }
        self.bytes += size;
    }
}

pub(crate) fn summary(
    header: &Header,
    counts: &Counts,
    entries: u64,
    manifest_sha256: String,
    signed_by: Option<String>,
) -> Summary {
    let text = |p: &Path| p.to_string_lossy().into_owned();
    Summary {
        id: header.id.clone(),
        created_at: header.created_at.clone(),
        session: header.session.clone(),
        label: header.label.clone(),
        scopes: header.scopes.iter().map(|s| text(&s.path)).collect(),
        outside_workspace: header
            .scopes
            .iter()
            .filter(|s| s.outside_workspace)
            .map(|s| text(&s.path))
            .collect(),
        workspace: header.workspace.as_deref().map(text),
        coverage: header.coverage,
        entries,
        bytes: counts.bytes,
        reflinked: counts.reflinked,
        copied: counts.copied,
        deduplicated: counts.deduplicated,
        manifest_sha256,
        signed_by,
    }
}

/// A store inside a scope would snapshot itself while it grows, and a rollback would roll the
/// store back too.
pub(crate) fn refuse_store_inside(store: &Store, roots: &[PathBuf]) -> Result<()> {
    let store_root = fs::canonicalize(store.root()).map_err(|e| Error::io(store.root(), e))?;
    if let Some(scope) = roots.iter().find(|s| store_root.starts_with(s)) {
        return Err(Error::Scope(format!(
            "the checkpoint store {} lies inside the write scope {}; keep cordon's home outside every write scope",
            store_root.display(),
            scope.display()
        )));
    }
    Ok(())
}

pub(crate) fn canonical_workspace(workspace: Option<&Path>) -> Result<Option<PathBuf>> {
    workspace
        .map(|w| fs::canonicalize(w).map_err(|e| Error::io(w, e)))
        .transpose()
}

/// Whether a resolved scope lies outside the workspace (always, when there is none).
pub(crate) fn outside(workspace: Option<&Path>, scope: &Path) -> bool {
    workspace.is_none_or(|w| !scope.starts_with(w))
}

/// Records one scope whole (as [`snapshot()`] does) into `entries`; returns the root's kind.
pub(crate) fn record_scope(
    store: &Store,
    idx: usize,
    root: &Path,
    limits: Limits,
    entries: &mut Vec<(usize, Entry)>,
    counts: &mut Counts,
) -> Result<Kind> {
    let mut walk = Walk {
        store,
        limits,
        entries: std::mem::take(entries),
        counts: *counts,
    };
    let kind = walk.scope(idx, root);
    *entries = walk.entries;
    *counts = walk.counts;
    kind
}

struct Walk<'a> {
    store: &'a Store,
    limits: Limits,
    entries: Vec<(usize, Entry)>,
    counts: Counts,
}

impl Walk<'_> {
    /// Records scope `idx` rooted at `root`; returns the root's kind.
    fn scope(&mut self, idx: usize, root: &Path) -> Result<Kind> {
        let (parent, name) = parent_and_name(root)?;
        let parent_fd = at::open_anchor(&parent).map_err(|e| changed(root, e))?;
        let Some(st) = at::stat_at(&parent_fd, &name).map_err(|e| Error::io(root, e))? else {
            return Ok(Kind::Absent);
        };
        let kind = self.record(idx, parent_fd.as_fd(), &name, PathBuf::new(), root, &st)?;
        if kind == Kind::Dir {
            let root_fd =
                at::open_dir_beneath(&parent_fd, Path::new(&name)).map_err(|e| changed(root, e))?;
            same_inode(&root_fd, &st, root)?;
            self.tree(idx, &root_fd, root)?;
        }
        Ok(kind)
    }

    /// Records everything below the directory `root_fd`, parents before children.
    fn tree(&mut self, idx: usize, root_fd: &OwnedFd, root: &Path) -> Result<()> {
        let mut pending: Vec<(PathBuf, (u64, u64))> =
            vec![(PathBuf::new(), ident_of(root_fd, root)?)];
        while let Some((rel, id)) = pending.pop() {
            let path = root.join(&rel);
            let dir = if rel.as_os_str().is_empty() {
                at::open_dir_beneath(root_fd, Path::new("")).map_err(|e| Error::io(&path, e))?
            } else {
                at::open_dir_beneath(root_fd, &rel).map_err(|e| changed(&path, e))?
            };
            if ident_of(&dir, &path)? != id {
                return Err(moved(&path));
            }
            let names = at::list(&dir).map_err(|e| Error::io(&path, e))?;
            let mut subdirs = Vec::new();
            for name in names {
                let child_rel = rel.join(&name);
                let child = root.join(&child_rel);
                let Some(st) = at::stat_at(&dir, &name).map_err(|e| Error::io(&child, e))? else {
                    return Err(moved(&child));
                };
                if self.record(idx, dir.as_fd(), &name, child_rel.clone(), &child, &st)?
                    == Kind::Dir
                {
                    subdirs.push((child_rel, ident(&st)));
                }
            }
            pending.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    fn record(
        &mut self,
        idx: usize,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        rel: PathBuf,
        path: &Path,
        st: &nix::sys::stat::FileStat,
    ) -> Result<Kind> {
        if self.entries.len() as u64 >= self.limits.max_entries {
            return Err(Error::Scope(format!(
                "the write scope holds more than {} entries; declare a narrower scope",
                self.limits.max_entries
            )));
        }
        let (entry, stored) = describe_at(self.store, dir, name, rel, path, st)?;
        if let Some((method, size)) = stored {
            self.counts.add(method, size);
            if self.counts.bytes > self.limits.max_bytes {
                return Err(Error::Scope(format!(
                    "the write scope holds more than {} bytes; declare a narrower scope",
                    self.limits.max_bytes
                )));
            }
        }
        let kind = entry.kind;
        self.entries.push((idx, entry));
        Ok(kind)
    }
}

/// The entry for `name` in `dir` (whose metadata is `st`), storing a regular file's content.
/// The file is opened without following a link or waiting on a FIFO, and must be the inode `st`
/// describes.
pub(crate) fn describe_at(
    store: &Store,
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rel: PathBuf,
    path: &Path,
    st: &nix::sys::stat::FileStat,
) -> Result<(Entry, Option<(CopyMethod, u64)>)> {
    let kind = Kind::of_node(Node::of(st));
    let mut entry = Entry {
        rel,
        kind,
        mode: st.st_mode & 0o7777,
        mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec,
        size: 0,
        sha256: None,
        target: None,
    };
    let mut stored = None;
    match kind {
        Kind::File => {
            let file = at::open_file_at(dir, name).map_err(|e| changed(path, e))?;
            same_inode(&file, st, path)?;
            let (hash, size, method) = store.put(&file, path)?;
            entry.size = size;
            entry.sha256 = Some(hash);
            stored = Some((method, size));
        }
        Kind::Symlink => {
            let target = nix::fcntl::readlinkat(dir, name).map_err(|e| Error::io(path, e))?;
            entry.target = Some(PathBuf::from(target));
        }
        Kind::Dir | Kind::Special | Kind::Absent => {}
    }
    Ok((entry, stored))
}

fn ident_of<Fd: AsFd>(fd: &Fd, path: &Path) -> Result<(u64, u64)> {
    nix::sys::stat::fstat(fd)
        .map(|st| ident(&st))
        .map_err(|e| Error::io(path, e))
}

fn same_inode<Fd: AsFd>(fd: &Fd, st: &nix::sys::stat::FileStat, path: &Path) -> Result<()> {
    if ident_of(fd, path)? != ident(st) {
        return Err(moved(path));
    }
    Ok(())
}

fn moved(path: &Path) -> Error {
    Error::Scope(format!(
        "{} changed while the checkpoint was being taken",
        path.display()
    ))
}

fn changed(path: &Path, e: nix::errno::Errno) -> Error {
    match e {
        nix::errno::Errno::ELOOP | nix::errno::Errno::EXDEV | nix::errno::Errno::ENOENT => {
            moved(path)
        }
        other => Error::io(path, other),
    }
}

pub(crate) fn parent_and_name(root: &Path) -> Result<(PathBuf, OsString)> {
    match (root.parent(), root.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_os_string())),
        _ => Err(Error::OutsideScope {
            path: root.to_path_buf(),
            reason: "a scope must have a parent directory".into(),
        }),
    }
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
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

/// A path's bytes as lossless hex (how manifests write paths).
pub(crate) fn hex_of(path: &Path) -> String {
    hex::encode(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_paths_are_used_only_when_known_and_inside_the_scope() {
        let ws = vec![PathBuf::from("/w")];
        let named = vec![PathBuf::from("/w/a.txt"), PathBuf::from("/w/b.txt")];
        assert_eq!(
            choose_scopes(Some(&named), &ws),
            (Coverage::Named, named.clone())
        );
        assert_eq!(choose_scopes(None, &ws), (Coverage::WholeScope, ws.clone()));
        assert_eq!(
            choose_scopes(Some(&[]), &ws),
            (Coverage::WholeScope, ws.clone())
        );
        let escaping = vec![PathBuf::from("/w/a"), PathBuf::from("/elsewhere/b")];
        assert_eq!(
            choose_scopes(Some(&escaping), &ws),
            (Coverage::WholeScope, ws.clone())
        );
    }

    #[test]
    fn a_scope_is_outside_unless_it_lies_in_the_workspace() {
        let ws = Path::new("/home/u/ws");
        assert!(!outside(Some(ws), Path::new("/home/u/ws")));
        assert!(!outside(Some(ws), Path::new("/home/u/ws/sub")));
        assert!(outside(Some(ws), Path::new("/home/u/victim")));
        assert!(outside(Some(ws), Path::new("/home/u/ws2")));
        assert!(outside(None, Path::new("/home/u/ws")));
    }
}
