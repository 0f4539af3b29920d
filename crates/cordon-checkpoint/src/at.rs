//! Filesystem operations on directory handles, never on paths that could lead through a link.
//!
//! Rollback and restore run with the person's full authority after an agent has had the
//! workspace, so a path the agent could have turned into a symlink must never be followed. Every
//! operation here starts from a directory handle: an anchor opened on a recorded, canonical path
//! with `RESOLVE_NO_SYMLINKS` (any link on the way refuses the open), then each path below it
//! opened with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, and each name acted on with the
//! `*at` call relative to its directory's handle (`AT_SYMLINK_NOFOLLOW` wherever it applies).
//! Nothing here opens a FIFO in blocking mode.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::UnlinkatFlags;

/// What is at a name, from `fstatat(AT_SYMLINK_NOFOLLOW)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Device,
}

impl Node {
    pub(crate) fn of(st: &FileStat) -> Node {
        match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => Node::File,
            SFlag::S_IFDIR => Node::Dir,
            SFlag::S_IFLNK => Node::Symlink,
            SFlag::S_IFIFO => Node::Fifo,
            SFlag::S_IFSOCK => Node::Socket,
            _ => Node::Device,
        }
    }
}

/// How [`renameat2`] renames.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rename {
    /// Fails with `EEXIST` rather than replace the target.
    NoReplace,
    /// Swaps the two names atomically.
    Exchange,
}

/// `renameat2(2)` relative to two directories. nix offers it only with glibc; rustix makes the
/// system call with any C library (cordon's binary is linked with musl). Errors as nix's, like
/// the rest of this module.
pub(crate) fn renameat2<From: AsFd, To: AsFd>(
    from_dir: From,
    from: &OsStr,
    to_dir: To,
    to: &OsStr,
    how: Rename,
) -> Result<(), Errno> {
    let flags = match how {
        Rename::NoReplace => rustix::fs::RenameFlags::NOREPLACE,
        Rename::Exchange => rustix::fs::RenameFlags::EXCHANGE,
    };
    rustix::fs::renameat_with(from_dir, from, to_dir, to, flags)
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

/// The identity of an inode.
pub(crate) fn ident(st: &FileStat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

/// Opens an anchor directory by its recorded absolute path, refusing any symlink on the way (the
/// path was canonical when it was recorded, so a link there now is one somebody planted).
pub(crate) fn open_anchor(path: &Path) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(AT_FDCWD, path, how)
}

/// Opens the directory `rel` beneath `dir` without leaving it or following any link.
pub(crate) fn open_dir_beneath<Fd: AsFd>(dir: Fd, rel: &Path) -> Result<OwnedFd, Errno> {
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    openat2(dir, rel, how)
}

/// Opens a directory's handle as a path only (no read permission needed), beneath `dir`.
pub(crate) fn open_path_beneath<Fd: AsFd>(dir: Fd, rel: &Path) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    openat2(dir, rel, how)
}

/// Opens a regular file `name` in `dir` for reading: no link followed, no FIFO waited on, and
/// the opened inode must be a regular file.
pub(crate) fn open_file_at<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<File, Errno> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    if Node::of(&fstat(&fd)?) != Node::File {
        return Err(Errno::EINVAL);
    }
    Ok(File::from(fd))
}

/// Creates the new regular file `name` in `dir` (it must not exist), owner-only until its
/// recorded mode is set.
pub(crate) fn create_file_at<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<File, Errno> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )?;
    Ok(File::from(fd))
}

/// `fstatat` without following a final link; `None` when nothing is there.
pub(crate) fn stat_at<Fd: AsFd>(dir: Fd, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names in a directory (without `.` and `..`), sorted by their bytes.
pub(crate) fn list<Fd: AsFd>(dir: Fd) -> Result<Vec<OsString>, Errno> {
    // A fresh open description, so the listing never shares an offset with `dir`.
    let fd = openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut stream = nix::dir::Dir::from_fd(fd)?;
    let mut names = Vec::new();
    for entry in stream.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Sets the permission bits of the inode a handle names, even an `O_PATH` handle (through its
/// `/proc/self/fd` entry, which names exactly that inode and is never re-resolved by path).
pub(crate) fn chmod_fd<Fd: AsRawFd>(fd: &Fd, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        std::fs::Permissions::from_mode(mode & 0o7777),
    )
}

/// Sets the modification time of `name` in `dir` itself (a link's own time, not its target's).
pub(crate) fn set_mtime_at<Fd: AsFd>(dir: Fd, name: &OsStr, mtime_ns: i64) -> Result<(), Errno> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let mtime = TimeSpec::new(
        mtime_ns.div_euclid(1_000_000_000),
        mtime_ns.rem_euclid(1_000_000_000),
    );
    utimensat(
        dir,
        name,
        &TimeSpec::UTIME_OMIT,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
}

/// How deep [`remove_at`] descends: past this, a tree is left in place (and the error says so)
/// rather than exhausting descriptors on a tree built to exhaust them.
const MAX_REMOVE_DEPTH: usize = 256;

/// Removes whatever is at `name` in `dir` (a file, a link, a special file, or a whole tree),
/// never following a link and never leaving `dir`. Absent is fine. Read-only directories in
/// the tree are made owner-writable first, through their own handles.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    remove_below(dir, name, 0)
}

fn remove_below(dir: BorrowedFd<'_>, name: &OsStr, depth: usize) -> Result<(), Errno> {
    let Some(st) = stat_at(dir, name)? else {
        return Ok(());
    };
    if Node::of(&st) != Node::Dir {
        return match nix::unistd::unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Err(Errno::ENOENT) => Ok(()),
            other => other,
        };
    }
    if depth >= MAX_REMOVE_DEPTH {
        return Err(Errno::ELOOP);
    }
    let handle = open_path_beneath(dir, Path::new(name))?;
    if ident(&fstat(&handle)?) != ident(&st) {
        return Err(Errno::EAGAIN);
    }
    // Owner rwx, so a `chmod 0` or `0555` directory can be listed and emptied.
    if st.st_mode & 0o700 != 0o700 {
        chmod_fd(&handle, (st.st_mode | 0o700) & 0o7777).map_err(|_| Errno::EACCES)?;
    }
    let child = open_dir_beneath(&handle, Path::new(""))?;
    for entry in list(&child)? {
        remove_below(child.as_fd(), &entry, depth + 1)?;
    }
    match nix::unistd::unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Err(Errno::ENOENT) => Ok(()),
        other => other,
    }
}

/// A relative path from a manifest is acceptable only if it is made of plain names: not
/// absolute, no `.` or `..`, no empty component, no NUL.
pub(crate) fn is_plain_relative(rel: &Path) -> bool {
    let bytes = rel.as_os_str().as_bytes();
    !bytes.is_empty() && !bytes.contains(&0) && bytes.split(|b| *b == b'/').all(is_plain_name)
}

/// One path component that names a child: not empty, `.` or `..`.
pub(crate) fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".."
}

/// The parent and last name of a non-empty plain relative path.
pub(crate) fn split(rel: &Path) -> (PathBuf, OsString) {
    let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let name = rel.file_name().map(OsStr::to_os_string).unwrap_or_default();
    (parent, name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        for good in [
            "a",
            "a/b",
            ".env",
            "a/.git/HEAD",
            "name with spaces",
            "x\ny",
        ] {
            assert!(is_plain_relative(Path::new(good)), "{good:?}");
        }
        for bad in [
            "", "/etc", "../x", "a/../b", "a/./b", "./a", "a//b", "a/", "a\0b",
        ] {
            let ok = !bad.is_empty() && is_plain_relative(Path::new(bad));
            assert!(!ok, "{bad:?}");
        }
    }

    #[test]
    fn remove_at_does_not_follow_links_and_empties_read_only_directories() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"k").unwrap();
        let victim = dir.path().join("victim");
        std::fs::create_dir_all(victim.join("ro/inner")).unwrap();
        std::fs::write(victim.join("ro/inner/f"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, victim.join("link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(victim.join("ro"), std::fs::Permissions::from_mode(0o500))
            .unwrap();
        let anchor = open_anchor(dir.path()).unwrap();
        remove_at(anchor.as_fd(), OsStr::new("victim")).unwrap();
        assert!(!victim.exists());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"k");
    }
}
