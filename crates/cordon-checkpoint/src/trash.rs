//! The soft-delete trash: what a checkpointed `rm` would have deleted is moved here instead.
//!
//! ```text
//! <trash>/<id>/manifest.json   the command, session, cwd, and every moved path with hashes and modes
//! <trash>/<id>/payload/<n>     the n-th target, moved as it was (a tree, a file or a symlink)
//! ```
//!
//! The trash lives in cordon's home, outside every scope a command is granted, so the command
//! cannot reach into it. The move runs in cordon's own process, outside the sandbox, on behalf of a
//! command that may be racing it, so each target's directory is opened beneath its write-scope
//! root without following symlinks (`openat2`) and the move names it by that descriptor: a
//! directory swapped for a symlink cannot redirect it outside the scope. A move is a `rename` when
//! the target is on the same filesystem (atomic, no copy), else a copy followed by removal. The
//! manifest is written before the move (so a crash never leaves an unexplained payload) and again
//! after it, with the hashes of what was moved.
//!
//! Restoring never overwrites: if something now exists at the original path the item is restored
//! beside it as `<name>.restored-<id>`, and the report says so; if that name is taken too, the
//! restore is refused. Nor does it follow a directory that became a symlink since the delete.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{open, openat2, renameat2, OFlag, OpenHow, RenameFlags, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fstatat, Mode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::rollback::remove_any;

/// A request to soft-delete `targets` the way `rm` would.
#[derive(Debug, Clone, Default)]
pub struct SoftDelete {
    /// Absolute target paths, as `rm` would resolve them (the last component is not followed).
    pub targets: Vec<PathBuf>,
    /// Directories the command may write; a target outside all of them is refused.
    pub allowed_roots: Vec<PathBuf>,
    /// `rm -r`: directories may be removed.
    pub recursive: bool,
    /// `rm -d`: empty directories may be removed.
    pub empty_dirs: bool,
    /// `rm -f`: a missing target is not an error.
    pub force: bool,
    /// Relative paths (`.git/hooks`, `.claude`) the sandbox keeps read-only inside a writable
    /// root: a target that is one, lies inside one or holds one is refused, and so is a `.git`
    /// directory (the sandbox pins it in place). Empty when the command runs unconfined.
    pub protected: Vec<PathBuf>,
    pub command: Vec<String>,
    pub session: Option<String>,
    pub cwd: PathBuf,
}

/// A target pinned for the move: its directory held open, so that nothing renamed or swapped
/// after the check can redirect the move to another directory.
struct Pinned {
    /// The target's directory, opened beneath an allowed root without following any symlink.
    parent: OwnedFd,
    name: OsString,
    /// The directory's canonical path joined with the name: what the manifest records.
    resolved: PathBuf,
}

impl Pinned {
    /// The target as a path through the pinned directory (`/proc/self/fd/N/name`), for the
    /// rare copy across filesystems and for walking it.
    fn through_fd(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.parent.as_raw_fd())).join(&self.name)
    }
}

/// The manifest of one trash item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub created_at: String,
    pub command: Vec<String>,
    pub session: Option<String>,
    pub cwd: String,
    /// `moving` until every target is in the payload, then `complete`.
    pub state: String,
    pub items: Vec<Item>,
}

/// One moved target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// The original path as text (lossy for non-UTF-8 names); `original_hex` is exact.
    pub original: String,
    pub original_hex: String,
    /// Its name under `payload/`.
    pub payload: String,
    pub entries: Vec<TrashEntry>,
}

/// One path inside a moved target (`path` empty for the target itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashEntry {
    pub path: String,
    pub path_hex: String,
    pub kind: String,
    pub mode: u32,
    pub size: u64,
    pub sha256: Option<String>,
    pub target: Option<String>,
}

/// What a soft delete did: the trash item (if anything was moved) and `rm`-style errors.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub manifest: Option<Manifest>,
    /// One line per target that could not be removed, worded like `rm`.
    pub errors: Vec<String>,
}

/// Where one restored item went.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub original: String,
    pub restored_to: String,
    /// True when something now occupies the original path and the item was put beside it.
    pub beside: bool,
}

/// Moves the targets into a new trash item under `trash_root`.
///
/// Every target is checked before anything moves: one target outside the scope, or protected,
/// refuses the whole request. A target is resolved once, by opening its directory beneath an
/// allowed root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` along its canonical path,
/// and moved with `renameat2` relative to that open directory: a directory swapped for a symlink
/// after the check makes the open fail (refused), and one swapped after the open is not
/// followed, because the move names the directory by its descriptor, not by its path.
pub fn soft_delete(trash_root: &Path, request: &SoftDelete) -> Result<Outcome> {
    let roots = open_roots(&request.allowed_roots);
    let mut errors = Vec::new();
    let mut movable = Vec::new();
    for target in &request.targets {
        let pinned = match pin(target, &roots)? {
            Ok(p) => p,
            Err(missing) => {
                if !request.force || !missing.is_not_found {
                    errors.push(format!(
                        "rm: cannot remove '{}': {}",
                        target.display(),
                        missing.reason
                    ));
                }
                continue;
            }
        };
        let stat = fstatat(
            &pinned.parent,
            pinned.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        );
        let is_dir = match stat {
            Err(Errno::ENOENT) => {
                if !request.force {
                    errors.push(format!(
                        "rm: cannot remove '{}': No such file or directory",
                        target.display()
                    ));
                }
                continue;
            }
            Err(e) => {
                errors.push(format!(
                    "rm: cannot remove '{}': {}",
                    target.display(),
                    e.desc()
                ));
                continue;
            }
            Ok(st) => st.st_mode & libc::S_IFMT == libc::S_IFDIR,
        };
        if is_dir && !request.recursive {
            let empty = request.empty_dirs
                && fs::read_dir(pinned.through_fd()).is_ok_and(|mut d| d.next().is_none());
            if !empty {
                let why = if request.empty_dirs {
                    "Directory not empty"
                } else {
                    "Is a directory"
                };
                errors.push(format!("rm: cannot remove '{}': {why}", target.display()));
                continue;
            }
        }
        check_protected(&pinned, &roots, &request.protected)?;
        movable.push(pinned);
    }
    if movable.is_empty() {
        return Ok(Outcome {
            manifest: None,
            errors,
        });
    }
    let now = SystemTime::now();
    let id = crate::snapshot::new_id("tr", now);
    let dir = trash_root.join(&id);
    let payload = dir.join("payload");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&payload)
        .map_err(|e| Error::io(&payload, e))?;
    let mut manifest = Manifest {
        id: id.clone(),
        created_at: crate::rfc3339(now),
        command: request.command.clone(),
        session: request.session.clone(),
        cwd: request.cwd.to_string_lossy().into_owned(),
        state: "moving".into(),
        items: movable
            .iter()
            .enumerate()
            .map(|(n, t)| Item {
                original: t.resolved.to_string_lossy().into_owned(),
                original_hex: hex::encode(t.resolved.as_os_str().as_bytes()),
                payload: n.to_string(),
                entries: Vec::new(),
            })
            .collect(),
    };
    write_manifest(&dir, &manifest)?;
    for (n, target) in movable.iter().enumerate() {
        let dest = payload.join(n.to_string());
        move_pinned(target, &dest)?;
        manifest.items[n].entries = describe(&dest)?;
    }
    manifest.state = "complete".into();
    write_manifest(&dir, &manifest)?;
    Ok(Outcome {
        manifest: Some(manifest),
        errors,
    })
}

/// Why a target cannot be pinned without being outside the scope (`rm` reports these per
/// target): a missing path, which `-f` silences, or another error, which it does not.
struct Unpinnable {
    is_not_found: bool,
    reason: String,
}

/// The allowed roots (directories or single files), open. A root is taken twice, as the sandbox
/// and the snapshot take it: as named with its parent canonicalized (so a root that is a
/// symlink covers the link itself), and fully resolved (the link's target, which the sandbox
/// grants). A root that does not exist grants nothing.
fn open_roots(roots: &[PathBuf]) -> Vec<(PathBuf, Option<OwnedFd>)> {
    let mut open_roots: Vec<(PathBuf, Option<OwnedFd>)> = Vec::new();
    for root in roots {
        let as_named = match (root.parent(), root.file_name()) {
            (Some(parent), Some(name)) => fs::canonicalize(parent).ok().map(|p| p.join(name)),
            _ => None,
        };
        for path in as_named.into_iter().chain(fs::canonicalize(root).ok()) {
            if open_roots.iter().any(|(p, _)| *p == path) {
                continue;
            }
            let flags = OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
            // A root that does not exist yet holds nothing to remove; kept (without a
            // descriptor) so that `rm` of a path in it says "No such file", as `rm` would.
            let fd = open(&path, flags, Mode::empty()).ok();
            open_roots.push((path, fd));
        }
    }
    open_roots
}

/// Opens the target's directory beneath the allowed root that contains it. `Err` refuses the
/// whole request (outside the scope, or changed during the check); `Ok(Err)` is an `rm`-style
/// error for this target alone.
fn pin(
    target: &Path,
    roots: &[(PathBuf, Option<OwnedFd>)],
) -> Result<std::result::Result<Pinned, Unpinnable>> {
    let refuse = |reason: &str| Error::OutsideScope {
        path: target.to_path_buf(),
        reason: reason.to_string(),
    };
    if !target.is_absolute() {
        return Err(refuse("not an absolute path"));
    }
    // `rm` refuses `.` and `..` as operands; a trailing `/.` or `/..` names them too.
    let last = target
        .as_os_str()
        .as_bytes()
        .rsplit(|b| *b == b'/')
        .find(|c| !c.is_empty());
    if matches!(last, Some(b".") | Some(b"..")) {
        return Err(refuse("`.` and `..` are not removed"));
    }
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(refuse("not a removable path"));
    };
    let canonical_parent = match fs::canonicalize(parent) {
        Ok(p) => p,
        Err(e) => {
            // A parent that does not resolve inside the scope is refused, missing or not: the
            // only paths reported like `rm` are those whose directory is in the scope.
            let parent_in_scope = roots.iter().any(|(r, _)| parent.starts_with(r));
            if !parent_in_scope {
                return Err(refuse("it lies outside the command's write scope"));
            }
            return Ok(Err(Unpinnable {
                is_not_found: e.kind() == std::io::ErrorKind::NotFound,
                reason: if e.kind() == std::io::ErrorKind::NotFound {
                    "No such file or directory".into()
                } else {
                    e.to_string()
                },
            }));
        }
    };
    let resolved = canonical_parent.join(name);
    // A scope root itself (`rm -rf build` with `build` the declared scope): its directory is
    // outside the scope, so it is opened directly, and the name must still be the root that
    // was opened (in hardened mode the command cannot rename anything in that directory).
    let missing = || {
        Ok(Err(Unpinnable {
            is_not_found: true,
            reason: "No such file or directory".into(),
        }))
    };
    if let Some((_, root_fd)) = roots.iter().find(|(r, _)| *r == resolved) {
        let Some(root_fd) = root_fd else {
            return missing();
        };
        let parent_fd = open(
            &canonical_parent,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| refuse(&format!("its directory cannot be opened ({})", e.desc())))?;
        let named = fstatat(&parent_fd, name, AtFlags::AT_SYMLINK_NOFOLLOW);
        let root = nix::sys::stat::fstat(root_fd);
        return match (named, root) {
            (Ok(a), Ok(b)) if a.st_dev == b.st_dev && a.st_ino == b.st_ino => Ok(Ok(Pinned {
                parent: parent_fd,
                name: name.to_os_string(),
                resolved,
            })),
            _ => Err(refuse("the scope root changed while it was being checked")),
        };
    }
    // The deepest root that holds the target.
    let Some((root, root_fd)) = roots
        .iter()
        .filter(|(r, _)| resolved.starts_with(r))
        .max_by_key(|(r, _)| r.as_os_str().len())
    else {
        return Err(refuse("it lies outside the command's write scope"));
    };
    let Some(root_fd) = root_fd else {
        return missing();
    };
    let rel = canonical_parent
        .strip_prefix(root)
        .map_err(|_| refuse("it lies outside the command's write scope"))?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let parent_fd = openat2(root_fd, rel, how).map_err(|e| {
        refuse(&format!(
            "its directory changed while it was being checked ({})",
            e.desc()
        ))
    })?;
    Ok(Ok(Pinned {
        parent: parent_fd,
        name: name.to_os_string(),
        resolved,
    }))
}

/// Refuses a target that is, lies inside, or holds a protected path, or is a `.git` directory.
fn check_protected(
    pinned: &Pinned,
    roots: &[(PathBuf, Option<OwnedFd>)],
    protected: &[PathBuf],
) -> Result<()> {
    if protected.is_empty() {
        return Ok(());
    }
    let refuse = |name: &Path| Error::OutsideScope {
        path: pinned.resolved.clone(),
        reason: format!(
            "it is or holds {}, which the sandbox keeps read-only, so the command could not \
             remove it either",
            name.display()
        ),
    };
    // Inside (or equal to) a protected path: some run of its components, below the deepest
    // root that holds it, is a protected name. (A grant that names a protected path itself is
    // the sandbox's explicit override, so what lies below that root is not protected.)
    let within = roots
        .iter()
        .filter_map(|(r, _)| pinned.resolved.strip_prefix(r).ok())
        .min_by_key(|rel| rel.as_os_str().len())
        .unwrap_or(&pinned.resolved);
    let parts: Vec<&std::ffi::OsStr> = within.iter().collect();
    for name in protected {
        let want: Vec<&std::ffi::OsStr> = name.iter().collect();
        if !want.is_empty() && parts.windows(want.len()).any(|w| w == want.as_slice()) {
            return Err(refuse(name));
        }
    }
    if pinned.name == ".git" {
        return Err(refuse(Path::new(".git")));
    }
    // Holding one: walk the target (never following a symlink) for `.git` or a protected name.
    let first: Vec<&std::ffi::OsStr> = protected.iter().filter_map(|p| p.iter().next()).collect();
    let through = pinned.through_fd();
    let is_dir = fs::symlink_metadata(&through).is_ok_and(|m| m.is_dir());
    let mut pending = if is_dir { vec![through] } else { Vec::new() };
    while let Some(dir) = pending.pop() {
        let Ok(children) = fs::read_dir(&dir) else {
            continue;
        };
        for child in children.flatten() {
            let name = child.file_name();
            if name == ".git" || first.contains(&name.as_os_str()) {
                return Err(refuse(Path::new(&name)));
            }
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(child.path());
            }
        }
    }
    Ok(())
}

/// Moves a pinned target into the trash: a rename relative to its open directory, or, across
/// filesystems, a copy and removal through that directory's descriptor.
fn move_pinned(from: &Pinned, to: &Path) -> Result<()> {
    let to_parent = to
        .parent()
        .ok_or_else(|| Error::io(to, "the trash destination has no directory"))?;
    let to_name = to
        .file_name()
        .ok_or_else(|| Error::io(to, "the trash destination has no name"))?;
    let to_dir = open(
        to_parent,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(to_parent, e))?;
    match renameat2(
        &from.parent,
        from.name.as_os_str(),
        &to_dir,
        to_name,
        RenameFlags::RENAME_NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EXDEV) => {
            let through = from.through_fd();
            copy_tree(&through, to)?;
            remove_any(&through)
        }
        Err(e) => Err(Error::io(&from.resolved, e)),
    }
}

/// Every trash item, oldest first.
pub fn list(trash_root: &Path) -> Result<Vec<Manifest>> {
    let mut items = Vec::new();
    let dir = match fs::read_dir(trash_root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(items),
        Err(e) => return Err(Error::io(trash_root, e)),
    };
    for entry in dir.flatten() {
        let path = entry.path().join("manifest.json");
        if let Ok(bytes) = fs::read(&path) {
            let manifest: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| Error::io(&path, e))?;
            items.push(manifest);
        }
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Reads one item's manifest.
pub fn get(trash_root: &Path, id: &str) -> Result<Manifest> {
    let dir = item_dir(trash_root, id)?;
    let path = dir.join("manifest.json");
    let bytes = fs::read(&path).map_err(|_| Error::NotFound {
        kind: "trash item",
        id: id.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::io(&path, e))
}

/// Puts every target of item `id` back, never overwriting; removes the item when all are back.
pub fn restore(trash_root: &Path, id: &str) -> Result<Vec<Restored>> {
    let manifest = get(trash_root, id)?;
    let dir = item_dir(trash_root, id)?;
    let mut restored = Vec::new();
    // Check every payload against its manifest first: a damaged item restores nothing.
    for item in &manifest.items {
        let payload = dir.join("payload").join(&item.payload);
        if fs::symlink_metadata(&payload).is_err() {
            continue; // restored by an earlier, interrupted restore
        }
        if describe(&payload)? != item.entries {
            return Err(Error::Damaged {
                hash: format!("{id}/payload/{}", item.payload),
                reason: "the trashed files no longer match the manifest's hashes and modes".into(),
            });
        }
    }
    for item in &manifest.items {
        let payload = dir.join("payload").join(&item.payload);
        if fs::symlink_metadata(&payload).is_err() {
            continue;
        }
        let original = PathBuf::from(OsString::from_vec(
            hex::decode(&item.original_hex).map_err(|e| Error::io(&dir, e))?,
        ));
        let mut dest = original.clone();
        let mut beside = false;
        if fs::symlink_metadata(&dest).is_ok() {
            let mut name = original.file_name().unwrap_or_default().to_os_string();
            name.push(format!(".restored-{id}"));
            dest = original.with_file_name(name);
            beside = true;
            if fs::symlink_metadata(&dest).is_ok() {
                return Err(Error::Collision {
                    path: original,
                    reason: format!(
                        "it exists, and so does {}; move one of them away and restore again",
                        dest.display()
                    ),
                });
            }
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            // The parent was canonical when the item was trashed; if it now resolves elsewhere
            // (a directory replaced by a symlink), restoring would write outside where it was.
            let now = fs::canonicalize(parent).map_err(|e| Error::io(parent, e))?;
            if now != parent {
                return Err(Error::OutsideScope {
                    path: dest.clone(),
                    reason: format!(
                        "its directory {} now resolves to {}",
                        parent.display(),
                        now.display()
                    ),
                });
            }
        }
        match renameat2(
            AT_FDCWD,
            &payload,
            AT_FDCWD,
            &dest,
            RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => {}
            Err(nix::errno::Errno::EXDEV) => {
                copy_tree(&payload, &dest)?;
                remove_any(&payload)?;
            }
            Err(e) => return Err(Error::io(&dest, e)),
        }
        restored.push(Restored {
            original: original.to_string_lossy().into_owned(),
            restored_to: dest.to_string_lossy().into_owned(),
            beside,
        });
    }
    remove_any(&dir)?;
    Ok(restored)
}

/// Deletes item `id` for good.
pub fn purge(trash_root: &Path, id: &str) -> Result<()> {
    get(trash_root, id)?;
    remove_any(&item_dir(trash_root, id)?)
}

fn item_dir(trash_root: &Path, id: &str) -> Result<PathBuf> {
    // Ids are ours (`tr-…`); anything with a separator or a dot-dot could escape the trash.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::NotFound {
            kind: "trash item",
            id: id.to_string(),
        });
    }
    Ok(trash_root.join(id))
}

/// Copies a file, symlink or tree (never following symlinks), keeping modes.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(from).map_err(|e| Error::io(from, e))?;
    let t = meta.file_type();
    if t.is_symlink() {
        let target = fs::read_link(from).map_err(|e| Error::io(from, e))?;
        std::os::unix::fs::symlink(target, to).map_err(|e| Error::io(to, e))
    } else if t.is_dir() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(to)
            .map_err(|e| Error::io(to, e))?;
        for entry in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
            let entry = entry.map_err(|e| Error::io(from, e))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| Error::io(to, e))
    } else if t.is_file() {
        // O_NOFOLLOW: a file swapped for a symlink since the lstat is refused, not copied
        // through (which would pull the link's target into the trash, and on restore into the
        // scope).
        let mut source = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(from)
            .map_err(|e| Error::io(from, e))?;
        let mut dest = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(to)
            .map_err(|e| Error::io(to, e))?;
        std::io::copy(&mut source, &mut dest).map_err(|e| Error::io(from, e))?;
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| Error::io(to, e))
    } else {
        Err(Error::io(
            from,
            "a FIFO, socket or device cannot be moved to another filesystem",
        ))
    }
}

/// Every path under `root` with kind, mode, size, hash and symlink target, in path order.
fn describe(root: &Path) -> Result<Vec<TrashEntry>> {
    let mut out = Vec::new();
    describe_into(root, PathBuf::new(), &mut out)?;
    Ok(out)
}

fn describe_into(root: &Path, rel: PathBuf, out: &mut Vec<TrashEntry>) -> Result<()> {
    let path = if rel.as_os_str().is_empty() {
        root.to_path_buf()
    } else {
        root.join(&rel)
    };
    let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
    let t = meta.file_type();
    let mut entry = TrashEntry {
        path: rel.to_string_lossy().into_owned(),
        path_hex: hex::encode(rel.as_os_str().as_bytes()),
        kind: if t.is_symlink() {
            "symlink"
        } else if t.is_dir() {
            "dir"
        } else if t.is_file() {
            "file"
        } else {
            "special"
        }
        .into(),
        mode: meta.mode() & 0o7777,
        size: 0,
        sha256: None,
        target: None,
    };
    if t.is_symlink() {
        let target = fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
        entry.target = Some(target.to_string_lossy().into_owned());
    } else if t.is_file() {
        let mut file = fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            entry.size += n as u64;
        }
        entry.sha256 = Some(hex::encode(hasher.finalize()));
    }
    out.push(entry);
    if t.is_dir() {
        let mut names: Vec<OsString> = fs::read_dir(&path)
            .map_err(|e| Error::io(&path, e))?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for name in names {
            describe_into(root, rel.join(name), out)?;
        }
    }
    Ok(())
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    let path = dir.join("manifest.json");
    let tmp = dir.join(".manifest.json.tmp");
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| Error::io(&path, e))?;
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
}
