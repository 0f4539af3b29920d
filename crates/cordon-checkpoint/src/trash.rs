//! The soft-delete trash: what a checkpointed `rm` would have deleted is moved here instead.
//!
//! ```text
//! <trash>/<id>/manifest.json   the command, session, cwd, and every moved path with hashes and modes
//! <trash>/<id>/payload/<n>     the n-th target, moved as it was (a tree, a file or a symlink)
//! ```
//!
//! The trash lives in cordon's home, outside every scope a command is granted, so the command
//! cannot reach into it. A move is a `rename` when the target is on the same filesystem (atomic,
//! no copy), else a copy followed by removal. The manifest is written before the move (so a crash
//! never leaves an unexplained payload) and again after it, with the hashes of what was moved.
//!
//! Restoring never overwrites: if something now exists at the original path the item is restored
//! beside it as `<name>.restored-<id>`, and the report says so; if that name is taken too, the
//! restore is refused. Nor does it follow a directory that became a symlink since the delete.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::rollback::remove_any;

/// A request to soft-delete `targets` the way `rm` would.
#[derive(Debug, Clone)]
pub struct SoftDelete {
    /// Absolute target paths, as `rm` would resolve them (the last component is not followed).
    pub targets: Vec<PathBuf>,
    /// Directories the command may write; a target outside all of them is refused.
    pub allowed_roots: Vec<PathBuf>,
    /// `rm -r`: directories may be removed.
    pub recursive: bool,
    /// `rm -f`: a missing target is not an error.
    pub force: bool,
    pub command: Vec<String>,
    pub session: Option<String>,
    pub cwd: PathBuf,
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
pub fn soft_delete(trash_root: &Path, request: &SoftDelete) -> Result<Outcome> {
    // Every target is checked before anything moves: one target outside the scope refuses all.
    // Targets are resolved (parent canonicalized, last component not followed) once, here: the
    // move, the manifest and a later restore all name the same place.
    let mut resolved = Vec::new();
    for target in &request.targets {
        resolved.push(check_allowed(target, &request.allowed_roots)?);
    }
    let mut errors = Vec::new();
    let mut movable = Vec::new();
    for target in &resolved {
        match fs::symlink_metadata(target) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !request.force {
                    errors.push(format!(
                        "rm: cannot remove '{}': No such file or directory",
                        target.display()
                    ));
                }
            }
            Err(e) => errors.push(format!("rm: cannot remove '{}': {e}", target.display())),
            Ok(m) if m.file_type().is_dir() && !request.recursive => errors.push(format!(
                "rm: cannot remove '{}': Is a directory",
                target.display()
            )),
            Ok(_) => movable.push(target.clone()),
        }
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
                original: t.to_string_lossy().into_owned(),
                original_hex: hex::encode(t.as_os_str().as_bytes()),
                payload: n.to_string(),
                entries: Vec::new(),
            })
            .collect(),
    };
    write_manifest(&dir, &manifest)?;
    for (n, target) in movable.iter().enumerate() {
        let dest = payload.join(n.to_string());
        move_path(target, &dest)?;
        manifest.items[n].entries = describe(&dest)?;
    }
    manifest.state = "complete".into();
    write_manifest(&dir, &manifest)?;
    Ok(Outcome {
        manifest: Some(manifest),
        errors,
    })
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

/// A target is allowed when its parent resolves inside an allowed root (the target itself is
/// not followed, as `rm` does not follow it).
fn check_allowed(target: &Path, roots: &[PathBuf]) -> Result<PathBuf> {
    let refuse = |reason: String| Error::OutsideScope {
        path: target.to_path_buf(),
        reason,
    };
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(refuse("not a removable path".into()));
    };
    if name == ".." || name == "." {
        return Err(refuse("`.` and `..` are not removed".into()));
    }
    let parent = fs::canonicalize(parent)
        .map_err(|e| refuse(format!("its directory cannot be resolved: {e}")))?;
    let resolved = parent.join(name);
    let roots: Vec<PathBuf> = roots
        .iter()
        .map(|r| fs::canonicalize(r).unwrap_or_else(|_| r.clone()))
        .collect();
    if roots.iter().any(|r| resolved.starts_with(r)) {
        Ok(resolved)
    } else {
        Err(refuse("it lies outside the command's write scope".into()))
    }
}

fn move_path(from: &Path, to: &Path) -> Result<()> {
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EXDEV) => {
            copy_tree(from, to)?;
            remove_any(from)
        }
        Err(e) => Err(Error::io(from, e)),
    }
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
        fs::copy(from, to).map_err(|e| Error::io(from, e))?;
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
