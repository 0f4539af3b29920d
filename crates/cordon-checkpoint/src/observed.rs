//! Rolling back an observed scope: put back exactly the names the command changed.
//!
//! An observed scope's manifest ([`crate::incremental`]) holds, for every name the command
//! touched, what was there before its first change: a file (with its content's hash), a symlink,
//! a directory (mode and mtime), a special file, or nothing (`absent`: the command created it).
//! Every record's parent is the scope root or a recorded directory, and nothing is recorded below
//! a name that was not a directory before. Everything else in the scope was never changed.
//!
//! Rollback stages the recorded files and links (from the store, bytes checked) in
//! `.cordon-rollback-<id>-<n>/s/` beside the scope root, then walks the records parents first,
//! through directory handles opened beneath the scope root without following links:
//! - `absent`, special: whatever is at the name now is moved aside (into `…/a/`);
//! - file, symlink: what is there is moved aside and the staged one renamed into place;
//! - directory: a directory there is kept; anything else is moved aside and a directory made.
//!
//! then sets the recorded directories' modes and mtimes, deepest first. Each step is a rename
//! or a `mkdir` that a rerun recognises as done (a staged entry that is gone was placed; a
//! directory that is there is kept), so a rollback killed half-way finishes when run again.
//! Unlike a full scope, the scope is not swapped in one rename: a crash between steps leaves
//! some names put back and others not, until the rerun.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::at::{self, renameat2, Node, Rename};
use crate::error::{Error, Result};
use crate::rollback::{mkdir, put_entry, set_dir_meta, Consent, DirCache, Report, Scope, Steps};
use crate::snapshot::{Entry, Kind};
use crate::store::Store;

pub(crate) struct Context<'a> {
    pub store: &'a Store,
    pub consent: Consent,
    pub steps: &'a mut Steps,
    pub report: &'a mut Report,
}

/// Checks the records' shape before anything is staged: the root first, as a directory; no
/// name twice; every parent the root or a recorded directory.
pub(crate) fn check_records(scope: &Scope<'_>) -> Result<()> {
    let malformed = |why: String| Error::Untrusted {
        what: format!("the observed scope {}", scope.root().display()),
        reason: why,
    };
    match scope.entries.first() {
        Some(e) if e.rel.as_os_str().is_empty() && e.kind == Kind::Dir => {}
        _ => return Err(malformed("its root is not recorded as a directory".into())),
    }
    let mut kinds: HashMap<&Path, Kind> = HashMap::new();
    for entry in &scope.entries {
        if kinds.insert(entry.rel.as_path(), entry.kind).is_some() {
            return Err(malformed(format!("{:?} is recorded twice", entry.rel)));
        }
    }
    for entry in scope.entries.iter().skip(1) {
        let parent = entry.rel.parent().unwrap_or(Path::new(""));
        if kinds.get(parent) != Some(&Kind::Dir) {
            return Err(malformed(format!(
                "the parent of {:?} is not a recorded directory",
                entry.rel
            )));
        }
    }
    Ok(())
}

/// The records in the order they are put back (parents before children), numbered for staging.
fn ordered<'e>(scope: &Scope<'e>) -> Vec<(usize, &'e Entry)> {
    let mut records: Vec<&Entry> = scope.entries.clone();
    records.sort_by(|a, b| a.rel.as_os_str().cmp(b.rel.as_os_str()));
    records.into_iter().enumerate().collect()
}

fn staged_name(n: usize) -> OsString {
    OsString::from(n.to_string())
}

/// Stages every recorded file and link under `<staging>/s/`, checking their bytes.
pub(crate) fn stage(
    ctx: Context<'_>,
    scope: &Scope<'_>,
    parent: &OwnedFd,
    staging_name: &OsStr,
    staging_path: &Path,
) -> Result<()> {
    mkdir(parent.as_fd(), staging_name, staging_path)?;
    let staging = at::open_dir_beneath(parent, Path::new(staging_name))
        .map_err(|e| Error::io(staging_path, e))?;
    for sub in ["s", "a"] {
        mkdir(staging.as_fd(), OsStr::new(sub), &staging_path.join(sub))?;
    }
    let staged =
        at::open_dir_beneath(&staging, Path::new("s")).map_err(|e| Error::io(staging_path, e))?;
    for (n, entry) in ordered(scope) {
        if matches!(entry.kind, Kind::File | Kind::Symlink) {
            let path = scope.root().join(&entry.rel);
            put_entry(
                ctx.store,
                ctx.consent,
                ctx.report,
                staged.as_fd(),
                &staged_name(n),
                entry,
                &path,
            )?;
            ctx.steps.step();
        }
    }
    Ok(())
}

/// Puts every record back (see the module docs); resumable.
pub(crate) fn put_back(
    ctx: Context<'_>,
    scope: &Scope<'_>,
    parent: &OwnedFd,
    staging_name: &OsStr,
) -> Result<()> {
    let root = scope.root();
    let staging_path = root.parent().unwrap_or(Path::new("/")).join(staging_name);
    let staging = at::open_dir_beneath(parent, Path::new(staging_name))
        .map_err(|e| Error::io(&staging_path, e))?;
    let open_sub = |sub: &str| {
        at::open_dir_beneath(&staging, Path::new(sub)).map_err(|e| Error::io(&staging_path, e))
    };
    let mut aside = Aside {
        dir: open_sub("a")?,
        next: 0,
        path: staging_path.join("a"),
    };
    let staged = open_sub("s")?;
    let records = ordered(scope);
    let root_name = root.file_name().unwrap_or_default();
    ensure_dir(parent.as_fd(), root_name, &mut aside, root)?;
    let root_fd =
        at::open_dir_beneath(parent, Path::new(root_name)).map_err(|e| Error::io(root, e))?;
    let mut cache = DirCache::default();
    for (n, entry) in records.iter().skip(1) {
        let path = root.join(&entry.rel);
        let (parent_rel, name) = at::split(&entry.rel);
        let dir = cache.open(&root_fd, &parent_rel, &path)?;
        let changed_dir = put_back_one(
            dir, &name, *n, entry, &staged, &mut aside, &path, ctx.report,
        )?;
        if changed_dir {
            cache = DirCache::default();
        }
        ctx.report.restored_entries += 1;
        ctx.steps.step();
    }
    // Deepest first, so a parent's mtime is set after its children changed it.
    for (_, entry) in records.iter().rev().filter(|(_, e)| e.kind == Kind::Dir) {
        let path = root.join(&entry.rel);
        let dir = at::open_dir_beneath(&root_fd, &entry.rel).map_err(|e| Error::io(&path, e))?;
        set_dir_meta(&dir, entry, &path)?;
    }
    Ok(())
}

/// Puts one record back as `name` in `dir`; returns whether a directory there was replaced
/// (handles opened below it are then stale).
#[allow(clippy::too_many_arguments)]
fn put_back_one(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    n: usize,
    entry: &Entry,
    staged: &OwnedFd,
    aside: &mut Aside,
    path: &Path,
    report: &mut Report,
) -> Result<bool> {
    let current = at::stat_at(dir, name).map_err(|e| Error::io(path, e))?;
    let current_node = current.as_ref().map(Node::of);
    match entry.kind {
        Kind::Absent | Kind::Special => {
            if entry.kind == Kind::Special {
                report
                    .not_recreated
                    .push(path.to_string_lossy().into_owned());
            }
            if current.is_some() {
                aside.take(dir, name, path)?;
            }
        }
        Kind::File | Kind::Symlink => {
            let staged_name = staged_name(n);
            // Gone from staging: an earlier run already put it in place.
            if at::stat_at(staged, &staged_name)
                .map_err(|e| Error::io(path, e))?
                .is_none()
            {
                return Ok(false);
            }
            if current.is_some() {
                aside.take(dir, name, path)?;
            }
            renameat2(
                staged,
                staged_name.as_os_str(),
                dir,
                name,
                Rename::NoReplace,
            )
            .map_err(|e| Error::io(path, e))?;
        }
        Kind::Dir => {
            ensure_dir(dir, name, aside, path)?;
        }
    }
    Ok(current_node == Some(Node::Dir) && entry.kind != Kind::Dir)
}

/// Makes `name` in `dir` a directory the owner can write into: keeps a directory that is there
/// (its recorded mode comes back at the end), moves anything else aside and makes one.
fn ensure_dir(dir: BorrowedFd<'_>, name: &OsStr, aside: &mut Aside, path: &Path) -> Result<()> {
    match at::stat_at(dir, name).map_err(|e| Error::io(path, e))? {
        Some(st) if Node::of(&st) == Node::Dir => {
            if st.st_mode & 0o700 != 0o700 {
                let handle =
                    at::open_path_beneath(dir, Path::new(name)).map_err(|e| Error::io(path, e))?;
                at::chmod_fd(&handle, (st.st_mode | 0o700) & 0o7777)
                    .map_err(|e| Error::io(path, e))?;
            }
            Ok(())
        }
        Some(_) => {
            aside.take(dir, name, path)?;
            mkdir(dir, name, path)
        }
        None => mkdir(dir, name, path),
    }
}

/// Where what the command left is moved before a recorded entry takes its name.
struct Aside {
    dir: OwnedFd,
    next: u64,
    path: PathBuf,
}

impl Aside {
    fn take(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<()> {
        loop {
            let slot = OsString::from(self.next.to_string());
            self.next += 1;
            match renameat2(dir, name, &self.dir, slot.as_os_str(), Rename::NoReplace) {
                Ok(()) => return Ok(()),
                Err(Errno::EEXIST) => continue,
                Err(Errno::ENOENT) => return Ok(()),
                Err(e) => {
                    return Err(Error::io(
                        path,
                        format!(
                            "cannot be moved aside into {}: {}",
                            self.path.display(),
                            e.desc()
                        ),
                    ))
                }
            }
        }
    }
}
