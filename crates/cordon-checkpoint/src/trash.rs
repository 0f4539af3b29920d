//! The soft-delete trash: what a checkpointed `rm` would have deleted is moved here instead.
//!
//! ```text
//! <trash>/<id>/manifest.json   the command, session, cwd, and every moved path with hashes and
//!                              modes, signed with the home's key ("type": "cordon.trash/1")
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
//! after it, with the hashes of what was moved; each write is signed when a key is given
//! ([`soft_delete_signed`]).
//!
//! Restoring runs with the person's authority, so it trusts only what cordon signed
//! ([`restore_verified`]): the manifest's signature, then every payload entry against the
//! manifest. Each original path is reached from its anchor (the write-scope root it was deleted
//! under, recorded canonical), opened with `RESOLVE_NO_SYMLINKS`, and each directory below with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: a directory that became a link refuses the restore.
//! Every item is checked before anything is created, so a refused restore leaves no trace. A
//! restore never overwrites: if something now exists at the original path the item is restored
//! beside it as `<name>.restored-<id>`, and the report says so; if that name is taken too, the
//! restore is refused. Setuid and setgid bits are cleared unless asked for; device nodes and
//! sockets are not put back.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cordon_core::name_glob::NameGlobs;
use cordon_journal::{KeyRing, Signer};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::fcntl::{open, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstatat, Mode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::at::{self, renameat2, Node, Rename};
use crate::error::{Error, Result};
use crate::seal::{self, Sealing, Trust};

/// The `type` of a trash manifest, inside what its signature covers.
pub const MANIFEST_TYPE: &str = "cordon.trash/1";

/// The largest manifest a restore reads.
const MAX_MANIFEST: u64 = 256 << 20;

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
    /// What the sandbox keeps closed inside a writable root. Empty when the command runs
    /// unconfined.
    pub closed: Closed,
    /// What else the sandbox keeps in place inside a writable root. Empty when the command runs
    /// unconfined.
    pub kept: Kept,
    pub command: Vec<String>,
    pub session: Option<String>,
    pub cwd: PathBuf,
}

/// What a hardened command's sandbox keeps closed inside its writable roots: credentials. The
/// command could not remove them (a closed path is not granted, a closed file lies under a
/// read-only stand-in), so the soft delete it asks for, which cordon carries out outside the
/// sandbox, may not either: a target that is, lies in or holds one is refused.
#[derive(Debug, Clone, Default)]
pub struct Closed {
    /// Closed paths (the envelope's never list, written and resolved).
    pub paths: Vec<PathBuf>,
    /// File names closed wherever the sandbox's run-start search finds one (`.env`, `*.pem`).
    pub names: NameGlobs,
    /// Directory names that search does not enter (`node_modules`, `target`, `.git`): a file
    /// below one is not closed by its name.
    pub unsearched: Vec<OsString>,
    /// Nor does it enter a directory this says is a Python virtual environment
    /// (`cordon_sandbox::is_python_venv`).
    pub unsearched_venv: Option<fn(&Path) -> bool>,
    /// File names `names` matches that the search leaves open: public certificate bundles
    /// (`cordon_sandbox::PUBLIC_CERTIFICATE_BUNDLES`).
    pub open_names: Vec<OsString>,
}

/// What a hardened command's sandbox keeps in place inside its writable roots beyond protected
/// names and credentials, by path, as the command's own mount namespace and Landlock rules
/// have it. The command could not remove any of it, so the soft delete it asks for may not
/// either (red-team round twenty-two moved a host's socket, a hooks directory the user's git
/// configuration names and `~/.bashrc` to the trash).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Paths the command may not change (the envelope's read-only list: start-up files, what
    /// the user's git configuration names): a target that is, lies in or holds one is refused.
    pub read_only: Vec<PathBuf>,
    /// The mounts of the command's namespace: the mount point, and whether it is read-only. A
    /// target that is or holds a mount point is refused (a stand-in over a credential, a cover
    /// over a host's socket, a read-only mount over a path the user's git configuration names:
    /// `rm` fails there with `EBUSY`), and so is one whose directory lies on a read-only mount
    /// (`EROFS`). The mounts over `.git` directories and protected names are left to the
    /// protected-name check, which lets a project the agent made go whole.
    pub mounts: Vec<(PathBuf, bool)>,
}

/// A target pinned for the move: its directory held open, so that nothing renamed or swapped
/// after the check can redirect the move to another directory.
struct Pinned {
    /// The target's directory, opened beneath an allowed root without following any symlink.
    parent: OwnedFd,
    name: OsString,
    /// The directory's canonical path joined with the name: what the manifest records.
    resolved: PathBuf,
    /// The canonical directory a restore starts from: the allowed root that holds the target,
    /// or, for a root itself, its parent.
    anchor: PathBuf,
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
    /// `cordon.trash/1`; absent in manifests written before they were signed.
    #[serde(rename = "type", default)]
    pub format: String,
    pub id: String,
    pub created_at: String,
    pub command: Vec<String>,
    pub session: Option<String>,
    pub cwd: String,
    /// `moving` until every target is in the payload, then `complete`.
    pub state: String,
    pub items: Vec<Item>,
    /// The CSC-style signature over everything else (absent when written without a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Value>,
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
    /// The hex of the canonical directory a restore starts from (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_hex: Option<String>,
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
    /// Files whose setuid/setgid bits were cleared (not asked for).
    pub setid_cleared: Vec<String>,
    /// Device nodes and sockets that were in the item and were not put back.
    pub not_restored: Vec<String>,
}

/// What a restore may bring back beyond the files themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Keep setuid and setgid bits on restored files (cleared otherwise).
    pub setid: bool,
}

/// A trash item as listed, with whether its manifest verifies.
#[derive(Debug, Clone, Serialize)]
pub struct ListedItem {
    pub manifest: Manifest,
    /// Why it is not trusted (it will not be restored); `None` when its signature verifies.
    pub untrusted: Option<String>,
}

/// Moves the targets into a new trash item under `trash_root`.
///
/// Every target is checked before anything moves: one target outside the scope, or protected,
/// refuses the whole request. A target is resolved once, by opening its directory beneath an
/// allowed root with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` along its canonical path,
/// and moved with `renameat2` relative to that open directory: a directory swapped for a symlink
/// after the check makes the open fail (refused), and one swapped after the open is not
/// followed, because the move names the directory by its descriptor, not by its path.
/// The manifest is signed with `signer`, so [`restore_verified`] will restore it.
pub fn soft_delete_signed(
    trash_root: &Path,
    request: &SoftDelete,
    signer: &Signer,
) -> Result<Outcome> {
    soft_delete_sealed(trash_root, request, Sealing::Signed(signer), &|_| Ok(()))
}

/// [`soft_delete_signed`], telling `before_move` of each target (its resolved path) once every
/// target has passed the checks and before any moves: an observed checkpoint records it then,
/// so it never copies what the checks refuse (red-team round twenty-three had the checkpoint
/// copy a refused `.env` into cordon's store).
pub fn soft_delete_signed_observed(
    trash_root: &Path,
    request: &SoftDelete,
    signer: &Signer,
    before_move: &dyn Fn(&Path) -> Result<()>,
) -> Result<Outcome> {
    soft_delete_sealed(trash_root, request, Sealing::Signed(signer), before_move)
}

/// [`soft_delete_signed`] without a key, for callers that hold none yet: the manifest is
/// unsigned, so only the unsigned [`restore`] restores it.
pub fn soft_delete(trash_root: &Path, request: &SoftDelete) -> Result<Outcome> {
    soft_delete_sealed(trash_root, request, Sealing::Unsigned, &|_| Ok(()))
}

fn soft_delete_sealed(
    trash_root: &Path,
    request: &SoftDelete,
    sealing: Sealing<'_>,
    before_move: &dyn Fn(&Path) -> Result<()>,
) -> Result<Outcome> {
    let (movable, errors) = check_targets(request)?;
    if movable.is_empty() {
        return Ok(Outcome {
            manifest: None,
            errors,
        });
    }
    for pinned in &movable {
        before_move(&pinned.resolved)?;
    }
    move_to_trash(trash_root, request, sealing, movable, errors)
}

/// Pins every target and checks it the way `rm` would: the ones to move, and `rm`'s message for
/// each that cannot be removed. `Err` refuses the whole request (outside the scope, protected).
fn check_targets(request: &SoftDelete) -> Result<(Vec<Pinned>, Vec<String>)> {
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
        check_protected(
            &pinned,
            &roots,
            &request.protected,
            &request.closed.unsearched,
        )?;
        check_closed(&pinned, &roots, &request.closed)?;
        check_kept(&pinned, &request.kept, &request.protected)?;
        movable.push(pinned);
    }
    Ok((movable, errors))
}

/// Creates the trash item, moves the pinned targets into it, and writes its manifest.
fn move_to_trash(
    trash_root: &Path,
    request: &SoftDelete,
    sealing: Sealing<'_>,
    movable: Vec<Pinned>,
    errors: Vec<String>,
) -> Result<Outcome> {
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
        format: MANIFEST_TYPE.into(),
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
                anchor_hex: Some(hex::encode(t.anchor.as_os_str().as_bytes())),
            })
            .collect(),
        signature: None,
    };
    manifest = write_manifest(&dir, &manifest, sealing)?;
    let payload_fd = at::open_anchor(&payload).map_err(|e| Error::io(&payload, e))?;
    for (n, target) in movable.iter().enumerate() {
        let name = OsString::from(n.to_string());
        move_pinned(target, &payload_fd, &name, &payload.join(&name))?;
        manifest.items[n].entries = describe(payload_fd.as_fd(), &name, &payload.join(&name))?;
    }
    manifest.state = "complete".into();
    manifest = write_manifest(&dir, &manifest, sealing)?;
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
                anchor: canonical_parent,
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
        anchor: root.clone(),
    }))
}

/// Refuses what the sandbox keeps read-only (`cordon_sandbox::protect`), so that the move,
/// made outside the sandbox, removes nothing the command could not have removed itself:
/// - a protected name of a *project root* (a writable root, or a directory holding `.git`), a
///   target that lies in one, or a target that holds one;
/// - a `.git` directory (the sandbox pins it), and inside a git directory its protected names and
///   the containers of linked worktrees' and submodules' git directories.
///
/// A project below the writable root may go whole, its `.git` directory with it, when it holds no
/// other protected name (a clone or a scratch repository the agent made and now deletes): a
/// repository made again at its path is one the command made, which the sandbox checks after the
/// run like any other (hooks and keys that run a program are moved aside). Protected names
/// elsewhere (`.vscode` in a directory that is not a project root) are not protected by the
/// sandbox either, and neither is what lies in the directories its search skips (`unsearched`).
fn check_protected(
    pinned: &Pinned,
    roots: &[(PathBuf, Option<OwnedFd>)],
    protected: &[PathBuf],
    unsearched: &[OsString],
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
    let Some((root, within)) = roots
        .iter()
        .filter_map(|(r, _)| Some((r, pinned.resolved.strip_prefix(r).ok()?)))
        .min_by_key(|(_, rel)| rel.as_os_str().len())
    else {
        return Err(refuse(&pinned.resolved));
    };
    let parts: Vec<&OsStr> = within.iter().collect();
    // The sandbox's search does not enter these, so nothing in them is protected.
    let skipped = |name: &OsStr| name != ".git" && unsearched.iter().any(|u| u == name);
    if parts.iter().any(|p| skipped(p)) {
        return Ok(());
    }
    let project_names: Vec<(&Path, Vec<&OsStr>)> = protected
        .iter()
        .filter(|p| !p.starts_with(".git"))
        .map(|p| (p.as_path(), p.iter().collect::<Vec<_>>()))
        .filter(|(_, want)| !want.is_empty())
        .collect();
    // Is or lies in a project root's protected name: the directory above the name is the root
    // or holds `.git`.
    for at in 0..parts.len() {
        for (name, want) in &project_names {
            if parts[at..].starts_with(want)
                && (at == 0 || holds_git(&root.join(parts[..at].iter().collect::<PathBuf>())))
            {
                return Err(refuse(name));
            }
        }
    }
    let through = pinned.through_fd();
    let is_dir = fs::symlink_metadata(&through).is_ok_and(|m| m.is_dir());
    // A `.git` directory is pinned; a `.git` file (a worktree's or submodule's pointer) may go,
    // as the write broker lets it (what is made again in its place is judged after the run).
    if pinned.name == ".git" && is_dir {
        return Err(refuse(Path::new(".git")));
    }
    // Inside a git directory: the pinned containers of linked worktrees' and submodules' git
    // directories (`.git/worktrees`, `.git/modules` and all below it) and every protected name
    // of a git directory at any depth. Removed by the service, outside the sandbox, they could
    // be made again where the broker keys its refusals by the old directories (red-team round
    // fourteen: `rm -rf .git/worktrees`, then a `wt1` of the command's making). A linked
    // worktree's own directory (`.git/worktrees/NAME`) may go, as the broker lets it.
    let git_names: Vec<&OsStr> = protected
        .iter()
        .filter_map(|p| p.strip_prefix(".git").ok())
        .filter_map(|p| p.iter().next())
        .collect();
    // On the whole path, not below the root: a writable root may itself be a git directory
    // (the repository of a workspace that is its subdirectory), whose `hooks` are then `hooks`
    // below that root.
    let full: Vec<&OsStr> = pinned.resolved.iter().collect();
    let inside_git = full
        .iter()
        .rposition(|p| *p == ".git")
        .map(|at| &full[at + 1..]);
    let in_linked_worktree = matches!(inside_git, Some([first, _, ..]) if *first == "worktrees");
    if let Some(inside) = inside_git {
        let refused = match inside {
            [first] if *first == "worktrees" || *first == "modules" => Some(*first),
            [first, ..] if *first == "modules" => Some(*first),
            _ if in_linked_worktree => None,
            _ => inside.iter().copied().find(|p| git_names.contains(p)),
        };
        if let Some(name) = refused {
            return Err(refuse(Path::new(name)));
        }
    }
    if !is_dir {
        return Ok(());
    }
    // Holding one: walk the target, never following a symlink. A directory that cannot be read
    // cannot be shown to hold none: refused.
    let in_git = inside_git.is_some() && !in_linked_worktree;
    let first_names: Vec<&OsStr> = project_names
        .iter()
        .filter_map(|(_, want)| want.first().copied())
        .collect();
    let mut pending = vec![(through, parts.is_empty())];
    while let Some((dir, is_root)) = pending.pop() {
        let children = fs::read_dir(&dir)
            .and_then(|entries| entries.collect::<std::io::Result<Vec<_>>>())
            .map_err(|e| Error::OutsideScope {
                path: pinned.resolved.clone(),
                reason: format!(
                    "a directory in it cannot be read to show it holds nothing the sandbox keeps \
                     read-only ({e})"
                ),
            })?;
        let project_root = is_root || children.iter().any(|c| c.file_name() == ".git");
        for child in &children {
            let name = child.file_name();
            let child_is_dir = child.file_type().is_ok_and(|t| t.is_dir());
            if in_git {
                if git_names.contains(&name.as_os_str()) {
                    return Err(refuse(Path::new(&name)));
                }
            } else if name == ".git" {
                // A writable root's own repository is pinned; a project below it goes whole.
                if child_is_dir && is_root {
                    return Err(refuse(Path::new(&name)));
                }
                continue;
            } else if project_root && first_names.contains(&name.as_os_str()) {
                return Err(refuse(Path::new(&name)));
            }
            if child_is_dir && (in_git || !skipped(&name)) {
                pending.push((child.path(), false));
            }
        }
    }
    Ok(())
}

/// True when `dir` holds a `.git` (a directory or a worktree's pointer file): a project root.
fn holds_git(dir: &Path) -> bool {
    fs::symlink_metadata(dir.join(".git")).is_ok()
}

/// Refuses a target that is, lies in or holds what the sandbox keeps closed ([`Closed`]): a
/// closed path, or a file with a closed name outside the directories the search skips.
fn check_closed(
    pinned: &Pinned,
    roots: &[(PathBuf, Option<OwnedFd>)],
    closed: &Closed,
) -> Result<()> {
    // Unconfined (local mode), nothing is closed, and nothing is walked.
    if closed.paths.is_empty() && closed.names.is_empty() {
        return Ok(());
    }
    let refuse = |what: &Path| Error::OutsideScope {
        path: pinned.resolved.clone(),
        reason: format!(
            "it is or holds {}, a credential the sandbox keeps closed, so the command could not \
             remove it either",
            what.display()
        ),
    };
    let target = &pinned.resolved;
    if let Some(path) = closed
        .paths
        .iter()
        .find(|p| target.starts_with(p) || p.starts_with(target))
    {
        return Err(refuse(path));
    }
    // Below the deepest root that holds it, as the search saw it from that root.
    let within = roots
        .iter()
        .filter_map(|(r, _)| target.strip_prefix(r).ok())
        .min_by_key(|rel| rel.as_os_str().len())
        .unwrap_or(target);
    let unsearched = |name: &OsStr| closed.unsearched.iter().any(|u| u == name);
    if within
        .parent()
        .is_some_and(|dirs| dirs.iter().any(unsearched))
    {
        return Ok(());
    }
    let holds_marker = |dir: &Path| closed.unsearched_venv.is_some_and(|is_venv| is_venv(dir));
    // In a directory the search does not enter, below the root (the pinned directory and
    // those above it, as the command names them through the pinned descriptor's path).
    let depth = within.components().count();
    if target
        .ancestors()
        .skip(1)
        .take(depth.saturating_sub(1))
        .any(holds_marker)
    {
        return Ok(());
    }
    let through = pinned.through_fd();
    let Ok(meta) = fs::symlink_metadata(&through) else {
        return Ok(());
    };
    if !meta.is_dir() {
        let open = closed.open_names.contains(&pinned.name);
        return match closed.names.is_match(&pinned.name) && !open {
            true => Err(refuse(target)),
            false => Ok(()),
        };
    }
    if unsearched(&pinned.name) || holds_marker(&pinned.through_fd()) {
        return Ok(());
    }
    // Holding one: walk the directory, never following a symlink nor entering what the search
    // skips. A directory that cannot be read cannot be shown to hold none: refused.
    let shown = |inside: PathBuf| match inside.strip_prefix(pinned.through_fd()) {
        Ok(rel) => target.join(rel),
        Err(_) => inside,
    };
    let mut pending = vec![through];
    while let Some(dir) = pending.pop() {
        let children = fs::read_dir(&dir).map_err(|e| Error::OutsideScope {
            path: pinned.resolved.clone(),
            reason: format!(
                "{} cannot be read to show it holds no credential the sandbox keeps closed ({e})",
                shown(dir.clone()).display()
            ),
        })?;
        for child in children.flatten() {
            let name = child.file_name();
            if child.file_type().is_ok_and(|t| t.is_dir()) {
                if !unsearched(&name) && !holds_marker(&child.path()) {
                    pending.push(child.path());
                }
            } else if closed.names.is_match(&name) && !closed.open_names.contains(&name) {
                return Err(refuse(&shown(child.path())));
            }
        }
    }
    Ok(())
}

/// Refuses a target that is, lies in or holds what the sandbox keeps read-only, that is or
/// holds one of the command's mount points, or whose directory is on a read-only mount
/// ([`Kept`]).
fn check_kept(pinned: &Pinned, kept: &Kept, protected: &[PathBuf]) -> Result<()> {
    let target = &pinned.resolved;
    let read_only = kept
        .read_only
        .iter()
        .find(|p| target.starts_with(p) || p.starts_with(target));
    // The sandbox's mounts over `.git` directories and protected names are
    // [`check_protected`]'s to judge: a project the agent made may go whole with them.
    let protected_names: Vec<&OsStr> = protected
        .iter()
        .filter(|p| p.components().count() == 1)
        .map(|p| p.as_os_str())
        .collect();
    let judged_by_names = |point: &Path| {
        point.components().any(|c| c.as_os_str() == ".git")
            || point
                .file_name()
                .is_some_and(|n| protected_names.contains(&n))
    };
    let mount_point = || {
        kept.mounts
            .iter()
            .map(|(point, _)| point)
            .find(|point| point.starts_with(target) && !judged_by_names(point))
    };
    // The mount the target's directory is on: the deepest mount point above it.
    let on_read_only = || {
        let dir = target.parent()?;
        kept.mounts
            .iter()
            .filter(|(point, _)| dir.starts_with(point))
            .max_by_key(|(point, _)| point.as_os_str().len())
            .filter(|(_, read_only)| *read_only)
            .map(|(point, _)| point)
    };
    match read_only.or_else(mount_point).or_else(on_read_only) {
        Some(path) => Err(Error::OutsideScope {
            path: target.clone(),
            reason: format!(
                "it is, holds or lies on {}, which the sandbox keeps in place, so the command \
                 could not remove it either",
                path.display()
            ),
        }),
        None => Ok(()),
    }
}

/// Moves a pinned target into the trash as `name` in `payload`: a rename relative to its open
/// directory, or, across filesystems, a copy and removal through that directory's descriptor.
fn move_pinned(from: &Pinned, payload: &OwnedFd, name: &OsStr, dest: &Path) -> Result<()> {
    match renameat2(
        &from.parent,
        from.name.as_os_str(),
        payload,
        name,
        Rename::NoReplace,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EXDEV) => {
            copy_at(
                from.parent.as_fd(),
                &from.name,
                payload.as_fd(),
                name,
                dest,
                0,
            )?;
            at::remove_at(from.parent.as_fd(), &from.name).map_err(|e| Error::io(&from.resolved, e))
        }
        Err(e) => Err(Error::io(&from.resolved, e)),
    }
}

/// Every trash item, oldest first, as its manifest says (nothing verified: for callers that
/// hold no key; [`list_verified`] says which items can be trusted).
pub fn list(trash_root: &Path) -> Result<Vec<Manifest>> {
    Ok(list_verified_with(trash_root, Trust::Unchecked)?
        .into_iter()
        .map(|l| l.manifest)
        .collect())
}

/// Every trash item, oldest first, each with whether its manifest's signature verifies: a
/// forged item is listed as untrusted rather than looking like any other.
pub fn list_verified(trash_root: &Path, keys: &KeyRing) -> Result<Vec<ListedItem>> {
    list_verified_with(trash_root, Trust::Keys(keys))
}

fn list_verified_with(trash_root: &Path, trust: Trust<'_>) -> Result<Vec<ListedItem>> {
    let mut items = Vec::new();
    let dir = match fs::read_dir(trash_root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(items),
        Err(e) => return Err(Error::io(trash_root, e)),
    };
    for entry in dir.flatten() {
        let Some(id) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(value) = read_manifest_value(trash_root, &id) else {
            continue;
        };
        let untrusted = check_manifest(&value, &id, trust)
            .err()
            .map(|e| e.to_string());
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| Error::io(&trash_root.join(&id).join("manifest.json"), e))?;
        items.push(ListedItem {
            manifest,
            untrusted,
        });
    }
    items.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
    Ok(items)
}

/// Reads one item's manifest (not verified).
pub fn get(trash_root: &Path, id: &str) -> Result<Manifest> {
    let value = read_manifest_value(trash_root, id)?;
    serde_json::from_value(value).map_err(|e| Error::io(&trash_root.join(id), e))
}

/// Reads an item's manifest as JSON, without following a link or reading past a bound.
fn read_manifest_value(trash_root: &Path, id: &str) -> Result<Value> {
    let not_found = || Error::NotFound {
        kind: "trash item",
        id: id.to_string(),
    };
    let dir = item_dir(trash_root, id)?;
    let root = open_trash_root(trash_root).map_err(|_| not_found())?;
    let item = at::open_dir_beneath(&root, Path::new(id)).map_err(|_| not_found())?;
    let file = at::open_file_at(&item, OsStr::new("manifest.json")).map_err(|_| not_found())?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&dir, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::io(&dir.join("manifest.json"), e))
}

/// Checks a manifest's type, id and (as `trust` requires) signature.
fn check_manifest(value: &Value, id: &str, trust: Trust<'_>) -> Result<Option<String>> {
    let what = format!("trash item {id}");
    if value.get("id").and_then(Value::as_str) != Some(id) {
        return Err(seal::untrusted(
            &what,
            "its manifest names another item".into(),
        ));
    }
    match trust {
        // Manifests from before signing have no type; the unsigned path restores them.
        Trust::Unchecked => Ok(None),
        Trust::Keys(_) => seal::check(value, MANIFEST_TYPE, &what, trust),
    }
}

/// Puts every target of item `id` back, trusting only a manifest signed by one of `keys`, and
/// never overwriting; removes the item when all are back. Checks everything before creating
/// anything (see the module docs).
pub fn restore_verified(
    trash_root: &Path,
    id: &str,
    keys: &KeyRing,
    options: RestoreOptions,
) -> Result<Vec<Restored>> {
    restore_with(trash_root, id, Trust::Keys(keys), options)
}

/// [`restore_verified`] without checking the signature, for callers that hold no key yet. The
/// payload must still match the manifest, and every path is still walked without links.
pub fn restore(trash_root: &Path, id: &str) -> Result<Vec<Restored>> {
    restore_with(trash_root, id, Trust::Unchecked, RestoreOptions::default())
}

fn restore_with(
    trash_root: &Path,
    id: &str,
    trust: Trust<'_>,
    options: RestoreOptions,
) -> Result<Vec<Restored>> {
    let value = read_manifest_value(trash_root, id)?;
    check_manifest(&value, id, trust)?;
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| Error::io(&trash_root.join(id), e))?;
    let dir = item_dir(trash_root, id)?;
    let trash_fd = open_trash_root(trash_root).map_err(|e| Error::io(trash_root, e))?;
    let payload_path = dir.join("payload");
    let payload = at::open_dir_beneath(&trash_fd, &Path::new(id).join("payload"))
        .map_err(|e| Error::io(&payload_path, e))?;
    // Check every payload against its manifest first: a damaged item restores nothing.
    let mut present = Vec::new();
    for item in &manifest.items {
        let name = OsString::from(&item.payload);
        if !is_payload_name(&item.payload) {
            return Err(seal::untrusted(
                &format!("trash item {id}"),
                format!(
                    "its payload name {:?} is not one cordon writes",
                    item.payload
                ),
            ));
        }
        if at::stat_at(&payload, &name)
            .map_err(|e| Error::io(&payload_path, e))?
            .is_none()
        {
            continue; // restored by an earlier, interrupted restore
        }
        if describe(payload.as_fd(), &name, &payload_path.join(&name))? != item.entries {
            return Err(Error::Damaged {
                hash: format!("{id}/payload/{}", item.payload),
                reason: "the trashed files no longer match the manifest's hashes and modes".into(),
            });
        }
        present.push(item);
    }
    // Then plan every destination; nothing is created until all of them check out.
    let mut plans = Vec::new();
    for item in present {
        plans.push(plan_restore(item, id)?);
    }
    let mut restored = Vec::new();
    for plan in plans {
        restored.push(plan.execute(&payload, &payload_path, options)?);
    }
    at::remove_at(trash_fd.as_fd(), OsStr::new(id)).map_err(|e| Error::io(&dir, e))?;
    Ok(restored)
}

fn is_payload_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 20 && name.bytes().all(|b| b.is_ascii_digit())
}

/// Where one item goes back, checked: the deepest existing directory on its way (opened from
/// the anchor without links), the directories still to create below it, and the final name.
struct RestorePlan<'a> {
    item: &'a Item,
    original: PathBuf,
    existing: OwnedFd,
    existing_path: PathBuf,
    missing: Vec<OsString>,
    name: OsString,
    beside: bool,
}

fn plan_restore<'a>(item: &'a Item, id: &str) -> Result<RestorePlan<'a>> {
    let (original, anchor, below) = destination(item, id)?;
    let (parent_rel, name) = at::split(&below);
    let (existing, existing_path, missing) = walk_existing(&original, &anchor, &parent_rel)?;
    let mut plan = RestorePlan {
        item,
        original: original.clone(),
        existing,
        existing_path,
        missing,
        name: name.clone(),
        beside: false,
    };
    let taken = |name: &OsStr, fd: &OwnedFd| -> Result<bool> {
        Ok(at::stat_at(fd, name)
            .map_err(|e| Error::io(&original, e))?
            .is_some())
    };
    if plan.missing.is_empty() && taken(&name, &plan.existing)? {
        let mut beside = name.clone();
        beside.push(format!(".restored-{id}"));
        if taken(&beside, &plan.existing)? {
            return Err(Error::Collision {
                path: original.clone(),
                reason: format!(
                    "it exists, and so does {}; move one of them away and restore again",
                    plan.existing_path.join(&beside).display()
                ),
            });
        }
        plan.name = beside;
        plan.beside = true;
    }
    Ok(plan)
}

/// An item's original path, its anchor, and the path from the anchor down to it, all checked.
fn destination(item: &Item, id: &str) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let what = format!("trash item {id}");
    let decode = |h: &str| {
        hex::decode(h)
            .map(|b| PathBuf::from(OsString::from_vec(b)))
            .map_err(|_| seal::untrusted(&what, "a path in its manifest is not hex".into()))
    };
    let original = decode(&item.original_hex)?;
    if !crate::manifest::is_scope_root(&original) {
        return Err(seal::untrusted(
            &what,
            format!("{} is not an absolute, plain path", original.display()),
        ));
    }
    // Manifests from before anchors were recorded start from the original's directory.
    let anchor = match &item.anchor_hex {
        Some(h) => decode(h)?,
        None => original.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let below = original
        .strip_prefix(&anchor)
        .ok()
        .filter(|r| !r.as_os_str().is_empty() && at::is_plain_relative(r))
        .map(Path::to_path_buf)
        .ok_or_else(|| seal::untrusted(&what, "an original path is not below its anchor".into()))?;
    Ok((original, anchor, below))
}

/// Opens the anchor without links and walks `parent_rel` down from it as far as it exists:
/// the deepest directory reached, its path, and the components still missing below it. A link
/// or a non-directory on the way refuses the restore.
fn walk_existing(
    original: &Path,
    anchor: &Path,
    parent_rel: &Path,
) -> Result<(OwnedFd, PathBuf, Vec<OsString>)> {
    let refuse = |reason: String| Error::OutsideScope {
        path: original.to_path_buf(),
        reason,
    };
    let mut existing = at::open_anchor(anchor).map_err(|e| {
        refuse(match e {
            Errno::ELOOP => format!("{} now leads through a symbolic link", anchor.display()),
            Errno::ENOENT => format!("{} no longer exists", anchor.display()),
            other => format!("{} cannot be opened: {}", anchor.display(), other.desc()),
        })
    })?;
    let mut existing_path = anchor.to_path_buf();
    let mut missing = Vec::new();
    for component in parent_rel.iter() {
        if !missing.is_empty() {
            missing.push(component.to_os_string());
            continue;
        }
        match at::open_dir_beneath(&existing, Path::new(component)) {
            Ok(fd) => {
                existing = fd;
                existing_path.push(component);
            }
            Err(Errno::ENOENT) => missing.push(component.to_os_string()),
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => {
                return Err(refuse(format!(
                    "{} is now a symbolic link; nothing was restored",
                    existing_path.join(component).display()
                )))
            }
            Err(e) => {
                return Err(refuse(format!(
                    "{} cannot be opened as a directory ({}); nothing was restored",
                    existing_path.join(component).display(),
                    e.desc()
                )))
            }
        }
    }
    Ok((existing, existing_path, missing))
}

impl RestorePlan<'_> {
    /// Creates the missing directories and moves the payload into place; on failure removes
    /// the directories it created.
    fn execute(
        self,
        payload: &OwnedFd,
        payload_path: &Path,
        options: RestoreOptions,
    ) -> Result<Restored> {
        let mut created: Vec<(OwnedFd, OsString)> = Vec::new();
        let mut dir = self.existing;
        let mut dir_path = self.existing_path;
        let result = (|| -> Result<()> {
            for component in &self.missing {
                let path = dir_path.join(component);
                match nix::sys::stat::mkdirat(
                    &dir,
                    component.as_os_str(),
                    Mode::from_bits_truncate(0o777),
                ) {
                    Ok(()) => {}
                    // Made by an earlier item of this restore.
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(Error::io(&path, e)),
                }
                let next = at::open_dir_beneath(&dir, Path::new(component)).map_err(|e| {
                    Error::OutsideScope {
                        path: path.clone(),
                        reason: format!("it changed while it was being restored ({})", e.desc()),
                    }
                })?;
                created.push((std::mem::replace(&mut dir, next), component.clone()));
                dir_path = path;
            }
            let name = OsString::from(&self.item.payload);
            let dest = dir_path.join(&self.name);
            match renameat2(
                payload,
                name.as_os_str(),
                &dir,
                self.name.as_os_str(),
                Rename::NoReplace,
            ) {
                Ok(()) => Ok(()),
                Err(Errno::EXDEV) => {
                    copy_at(payload.as_fd(), &name, dir.as_fd(), &self.name, &dest, 0)?;
                    at::remove_at(payload.as_fd(), &name)
                        .map_err(|e| Error::io(&payload_path.join(&name), e))
                }
                Err(e) => Err(Error::io(&dest, e)),
            }
        })();
        if let Err(e) = result {
            for (parent, name) in created.iter().rev() {
                let _ = nix::unistd::unlinkat(
                    parent,
                    name.as_os_str(),
                    nix::unistd::UnlinkatFlags::RemoveDir,
                );
            }
            return Err(e);
        }
        let dest = dir_path.join(&self.name);
        let mut restored = Restored {
            original: self.original.to_string_lossy().into_owned(),
            restored_to: dest.to_string_lossy().into_owned(),
            beside: self.beside,
            setid_cleared: Vec::new(),
            not_restored: Vec::new(),
        };
        sanitize(dir.as_fd(), &self.name, &dest, options, &mut restored, 0)?;
        Ok(restored)
    }
}

/// After a move back: clears setuid/setgid bits (unless asked for) and removes device nodes
/// and sockets, through handles, below `name` in `dir`.
fn sanitize(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    options: RestoreOptions,
    restored: &mut Restored,
    depth: usize,
) -> Result<()> {
    let Some(st) = at::stat_at(dir, name).map_err(|e| Error::io(path, e))? else {
        return Ok(());
    };
    match Node::of(&st) {
        Node::File if !options.setid && st.st_mode & 0o6000 != 0 => {
            let handle =
                at::open_path_beneath(dir, Path::new(name)).map_err(|e| Error::io(path, e))?;
            at::chmod_fd(&handle, st.st_mode & 0o1777).map_err(|e| Error::io(path, e))?;
            restored
                .setid_cleared
                .push(path.to_string_lossy().into_owned());
        }
        Node::Socket | Node::Device => {
            nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(|e| Error::io(path, e))?;
            restored
                .not_restored
                .push(path.to_string_lossy().into_owned());
        }
        Node::Dir if depth < 256 => {
            let child =
                at::open_dir_beneath(dir, Path::new(name)).map_err(|e| Error::io(path, e))?;
            for entry in at::list(&child).map_err(|e| Error::io(path, e))? {
                sanitize(
                    child.as_fd(),
                    &entry,
                    &path.join(&entry),
                    options,
                    restored,
                    depth + 1,
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Deletes item `id` for good.
pub fn purge(trash_root: &Path, id: &str) -> Result<()> {
    get(trash_root, id)?;
    let dir = item_dir(trash_root, id)?;
    let root = open_trash_root(trash_root).map_err(|e| Error::io(trash_root, e))?;
    at::remove_at(root.as_fd(), OsStr::new(id)).map_err(|e| Error::io(&dir, e))
}

/// Opens the trash directory: as an anchor (no link anywhere on its path) or, when that is
/// refused, by a plain open of the path.
fn open_trash_root(trash_root: &Path) -> std::result::Result<OwnedFd, Errno> {
    at::open_anchor(trash_root).or_else(|_| {
        open(
            trash_root,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    })
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

/// Copies a file, symlink or tree `from_name` in `from` to the new `to_name` in `to`, through
/// handles, never following a link, keeping modes. A FIFO, socket or device is refused.
fn copy_at(
    from: BorrowedFd<'_>,
    from_name: &OsStr,
    to: BorrowedFd<'_>,
    to_name: &OsStr,
    to_path: &Path,
    depth: usize,
) -> Result<()> {
    let st = at::stat_at(from, from_name)
        .map_err(|e| Error::io(to_path, e))?
        .ok_or_else(|| Error::io(to_path, "it vanished while it was being copied"))?;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    match Node::of(&st) {
        Node::Symlink => {
            let target =
                nix::fcntl::readlinkat(from, from_name).map_err(|e| Error::io(to_path, e))?;
            nix::unistd::symlinkat(target.as_os_str(), to, to_name)
                .map_err(|e| Error::io(to_path, e))
        }
        Node::Dir if depth < 256 => {
            nix::sys::stat::mkdirat(to, to_name, Mode::from_bits_truncate(0o700))
                .map_err(|e| Error::io(to_path, e))?;
            let src = at::open_dir_beneath(from, Path::new(from_name))
                .map_err(|e| Error::io(to_path, e))?;
            let dst =
                at::open_dir_beneath(to, Path::new(to_name)).map_err(|e| Error::io(to_path, e))?;
            for name in at::list(&src).map_err(|e| Error::io(to_path, e))? {
                copy_at(
                    src.as_fd(),
                    &name,
                    dst.as_fd(),
                    &name,
                    &to_path.join(&name),
                    depth + 1,
                )?;
            }
            nix::sys::stat::fchmod(&dst, mode).map_err(|e| Error::io(to_path, e))
        }
        Node::File => {
            let mut source =
                at::open_file_at(from, from_name).map_err(|e| Error::io(to_path, e))?;
            let mut dest = at::create_file_at(to, to_name).map_err(|e| Error::io(to_path, e))?;
            std::io::copy(&mut source, &mut dest).map_err(|e| Error::io(to_path, e))?;
            nix::sys::stat::fchmod(&dest, mode).map_err(|e| Error::io(to_path, e))
        }
        _ => Err(Error::io(
            to_path,
            "a FIFO, socket, device or too deep a tree cannot be moved to another filesystem",
        )),
    }
}

/// Every path under `name` in `dir` with kind, mode, size, hash and symlink target, in path
/// order, read through handles (no link followed, no FIFO opened).
fn describe(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<Vec<TrashEntry>> {
    let mut out = Vec::new();
    describe_into(dir, name, PathBuf::new(), path, &mut out, 0)?;
    Ok(out)
}

fn describe_into(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    rel: PathBuf,
    path: &Path,
    out: &mut Vec<TrashEntry>,
    depth: usize,
) -> Result<()> {
    let st = at::stat_at(dir, name)
        .map_err(|e| Error::io(path, e))?
        .ok_or_else(|| Error::io(path, "it vanished while it was being described"))?;
    let node = Node::of(&st);
    let mut entry = TrashEntry {
        path: rel.to_string_lossy().into_owned(),
        path_hex: hex::encode(rel.as_os_str().as_bytes()),
        kind: match node {
            Node::Symlink => "symlink",
            Node::Dir => "dir",
            Node::File => "file",
            Node::Fifo | Node::Socket | Node::Device => "special",
        }
        .into(),
        mode: st.st_mode & 0o7777,
        size: 0,
        sha256: None,
        target: None,
    };
    match node {
        Node::Symlink => {
            let target = nix::fcntl::readlinkat(dir, name).map_err(|e| Error::io(path, e))?;
            entry.target = Some(Path::new(&target).to_string_lossy().into_owned());
        }
        Node::File => {
            let mut file = at::open_file_at(dir, name).map_err(|e| Error::io(path, e))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                entry.size += n as u64;
            }
            entry.sha256 = Some(hex::encode(hasher.finalize()));
        }
        _ => {}
    }
    out.push(entry);
    if node == Node::Dir {
        if depth >= 256 {
            return Err(Error::io(path, "the tree is too deep to describe"));
        }
        let child = at::open_dir_beneath(dir, Path::new(name)).map_err(|e| Error::io(path, e))?;
        for child_name in at::list(&child).map_err(|e| Error::io(path, e))? {
            describe_into(
                child.as_fd(),
                &child_name,
                rel.join(&child_name),
                &path.join(&child_name),
                out,
                depth + 1,
            )?;
        }
    }
    Ok(())
}

/// Writes the manifest (signed as `sealing` says) atomically; returns it as written.
fn write_manifest(dir: &Path, manifest: &Manifest, sealing: Sealing<'_>) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let tmp = dir.join(".manifest.json.tmp");
    let mut unsigned = manifest.clone();
    unsigned.signature = None;
    let value = serde_json::to_value(&unsigned).map_err(|e| Error::io(&path, e))?;
    let (value, _) = seal::seal(value, sealing)?;
    let bytes = serde_json::to_vec_pretty(&value).map_err(|e| Error::io(&path, e))?;
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_value(value).map_err(|e| Error::io(&path, e))
}
