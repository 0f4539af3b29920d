//! Resolving a mediated call's path the way the kernel would for the caller, without ever
//! following a path the caller could change afterwards: component by component, from directory
//! fds inside the caller's mount namespace, symlinks read and followed here.
//!
//! The walk starts at the caller's cwd (`/proc/TID/cwd`), at a directory fd it passed
//! (`/proc/TID/fd/N`) or, for an absolute path or an absolute symlink, at its root
//! (`/proc/TID/root`). Each of those is the caller's own view: its mount namespace, where
//! `protect.rs`'s read-only bind mounts are. Every step names a directory by device and inode,
//! which is what the protected set is keyed by, so a protected name is refused however it is
//! reached: by a symlink, `..`, a bind mount or `/proc/self/cwd`. A protected name is also never
//! walked *through*: `.claude/settings.json` is refused at `.claude` whether `.claude` exists or
//! not, and a symlink whose own name is protected is refused rather than followed.
//!
//! `/proc` needs care because the walk runs in the supervisor: `/proc/self` would name the
//! supervisor, so `self` and `thread-self` at procfs's root are replaced by the caller's ids, and
//! a magic link (`/proc/PID/fd/N`, `cwd`, `root`) is followed only when it belongs to the
//! caller's own process (otherwise `EACCES`, as Landlock's ptrace scoping answers the command).
//!
//! A path whose directory components are none of the protected names is resolved in one
//! `openat2(RESOLVE_NO_SYMLINKS)`; any symlink (or an old kernel) falls back to the slow walk.

use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, FileStat, Mode};

use super::call::Dirfd;
use super::protected::{DirId, ProtectedSet};

/// The errno a command gets for a protected name: the same as a write to the read-only bind
/// mount over one that exists.
pub(crate) const PROTECTED_ERRNO: i32 = libc::EROFS;

/// Symlinks followed in one resolution before `ELOOP`, as the kernel counts.
const MAX_SYMLINKS: u32 = 40;

/// procfs's root directory inode.
const PROC_ROOT_INO: u64 = 1;

/// Why a resolution stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// The error the kernel would have returned.
    Errno(i32),
    /// A protected name: refused with [`PROTECTED_ERRNO`].
    Protected,
}

impl From<Errno> for Denial {
    fn from(e: Errno) -> Self {
        Denial::Errno(e as i32)
    }
}

impl Denial {
    pub(crate) fn errno(self) -> i32 {
        match self {
            Denial::Errno(e) => e,
            Denial::Protected => PROTECTED_ERRNO,
        }
    }
}

/// An entry that exists: an `O_PATH | O_NOFOLLOW` fd and its status.
#[derive(Debug)]
pub(crate) struct Existing {
    pub fd: OwnedFd,
    pub stat: FileStat,
}

impl Existing {
    pub(crate) fn id(&self) -> DirId {
        (self.stat.st_dev, self.stat.st_ino)
    }

    pub(crate) fn kind(&self) -> libc::mode_t {
        self.stat.st_mode & libc::S_IFMT
    }
}

/// Where a path leads.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// A name in a directory, which may or may not exist. `name` keeps a trailing `/` when the
    /// path had one (the kernel then requires a directory).
    Entry {
        parent: OwnedFd,
        name: CString,
        existing: Option<Existing>,
    },
    /// A file reached through a magic link, which names no directory entry.
    Object(Existing),
}

/// How the last component is treated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    /// A symlink in the last position is followed (`open` without `O_NOFOLLOW`, `truncate`).
    pub follow: bool,
    /// The call creates an entry by the last name.
    pub creating: bool,
}

/// One call's resolutions, for one caller thread.
pub(crate) struct Walker<'a> {
    tid: libc::pid_t,
    protected: &'a ProtectedSet,
    /// Whether the caller is still waiting in its syscall: checked after every `/proc/TID`
    /// lookup made after the notification was validated, so a recycled thread id is never
    /// taken for the caller.
    still_waiting: &'a dyn Fn() -> bool,
    root: Option<OwnedFd>,
    tgid: Option<libc::pid_t>,
    links: u32,
    /// Directories in which the call changes a name git reads (`repos.rs`).
    pub(crate) touched: Vec<crate::repos::Touched>,
    /// Which protected name the last component may be, for the call being resolved.
    pub(crate) last_may_be: Allowance,
}

/// A protected name the walk resolves in the last position instead of refusing it, because the
/// broker lets a call through for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Allowance {
    #[default]
    Nothing,
    /// A git directory's `config` or `config.worktree`: the broker is about to check a rewrite
    /// of it (`broker/config.rs`).
    GitConfig,
    /// A name that may be removed ([`ProtectedSet::removable`]): the call removes it.
    Removal,
}

/// Where a resolution stands: the directory it is in, and the components still to take.
struct Walk<'b> {
    cur: Cur<'b>,
    /// The caller's root, once a path needed it.
    root: Option<OwnedFd>,
    parts: VecDeque<Vec<u8>>,
    /// The path ended with `/`: the last component must be a directory.
    must_dir: bool,
}

/// The directory a walk is in, without duplicating the fds it starts from.
enum Cur<'b> {
    /// The directory the call's relative path is relative to.
    Base(&'b OwnedFd),
    /// The caller's root ([`Walk::root`]).
    Root,
    Owned(OwnedFd),
}

impl Walk<'_> {
    fn fd(&self) -> Result<BorrowedFd<'_>, Denial> {
        match &self.cur {
            Cur::Base(fd) => Ok(fd.as_fd()),
            Cur::Owned(fd) => Ok(fd.as_fd()),
            Cur::Root => self
                .root
                .as_ref()
                .map(AsFd::as_fd)
                .ok_or(Denial::Errno(libc::ESRCH)),
        }
    }

    /// The walk ends at `name` in the current directory (with the path's trailing `/`).
    fn entry(&mut self, name: &[u8], existing: Option<Existing>) -> Result<Resolved, Denial> {
        let name = if self.must_dir && name != b"." && name != b".." {
            cstring(&[name, b"/"].concat())?
        } else {
            cstring(name)?
        };
        let parent = match std::mem::replace(&mut self.cur, Cur::Root) {
            Cur::Owned(fd) => fd,
            cur => {
                self.cur = cur;
                self.fd()?
                    .try_clone_to_owned()
                    .map_err(|_| Denial::Errno(libc::EMFILE))?
            }
        };
        Ok(Resolved::Entry {
            parent,
            name,
            existing,
        })
    }
}

fn oflags(bits: i32) -> OFlag {
    OFlag::from_bits_retain(bits)
}

const PATH_FLAGS: i32 = libc::O_PATH | libc::O_CLOEXEC;

/// Opens `/proc/TID/…` as an `O_PATH` fd (in the caller's mount namespace).
pub(crate) fn open_proc(tid: libc::pid_t, rest: &str) -> Result<OwnedFd, Denial> {
    let path = format!("/proc/{tid}/{rest}");
    Ok(openat(
        nix::fcntl::AT_FDCWD,
        path.as_str(),
        oflags(PATH_FLAGS),
        Mode::empty(),
    )?)
}

/// The directory a relative path starts from, opened before the notification is validated.
pub(crate) fn base(tid: libc::pid_t, at: Dirfd) -> Result<OwnedFd, Denial> {
    match at {
        Dirfd::Cwd => open_proc(tid, "cwd"),
        Dirfd::Fd(n) => open_proc(tid, &format!("fd/{n}")).map_err(|e| match e {
            Denial::Errno(libc::ENOENT) => Denial::Errno(libc::EBADF),
            other => other,
        }),
    }
}

/// Path components, without empty ones, and without `.` but as the last one: `mkdir("d/.")`
/// names `d` itself (EEXIST, or ENOENT when `d` is missing), not a new `d`.
fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    let parts: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .filter(|(i, c)| **c != b"." || (*i == last && *i > 0))
        .map(|(_, c)| c.to_vec())
        .collect()
}

fn cstring(bytes: &[u8]) -> Result<CString, Denial> {
    CString::new(bytes).map_err(|_| Denial::Errno(libc::EINVAL))
}

fn id(fd: impl AsFd) -> Result<DirId, Denial> {
    let st = fstat(fd.as_fd())?;
    Ok((st.st_dev, st.st_ino))
}

fn is(stat: &FileStat, kind: libc::mode_t) -> bool {
    stat.st_mode & libc::S_IFMT == kind
}

impl<'a> Walker<'a> {
    /// The run's protected set, as this walk checks it.
    pub(crate) fn protected(&self) -> &'a ProtectedSet {
        self.protected
    }

    /// `root`: the caller's root, when it was opened before the notification was validated
    /// (otherwise it is opened, and the notification checked again, when a path needs it).
    pub(crate) fn new(
        tid: libc::pid_t,
        protected: &'a ProtectedSet,
        still_waiting: &'a dyn Fn() -> bool,
        root: Option<OwnedFd>,
    ) -> Self {
        Walker {
            tid,
            protected,
            still_waiting,
            root,
            tgid: None,
            links: 0,
            touched: Vec::new(),
            last_may_be: Allowance::Nothing,
        }
    }

    fn checked<T>(&self, value: T) -> Result<T, Denial> {
        if (self.still_waiting)() {
            Ok(value)
        } else {
            Err(Denial::Errno(libc::ESRCH))
        }
    }

    /// The caller's root directory, opened when a path first needs it.
    fn open_root(&mut self, walk: &mut Walk<'_>) -> Result<(), Denial> {
        if walk.root.is_none() {
            let root = open_proc(self.tid, "root")?;
            walk.root = Some(self.checked(root)?);
        }
        walk.cur = Cur::Root;
        Ok(())
    }

    /// The caller's thread group id.
    fn tgid(&mut self) -> Result<libc::pid_t, Denial> {
        if let Some(tgid) = self.tgid {
            return Ok(tgid);
        }
        let status = super::caller_status(self.tid).ok_or(Denial::Errno(libc::ESRCH))?;
        let tgid = self.checked(status.tgid)?;
        self.tgid = Some(tgid);
        Ok(tgid)
    }

    /// Resolves `path` from `base` (ignored for an absolute path).
    pub(crate) fn resolve(
        &mut self,
        base: Option<&OwnedFd>,
        path: &[u8],
        want: Want,
    ) -> Result<Resolved, Denial> {
        if path.is_empty() {
            return Err(Denial::Errno(libc::ENOENT));
        }
        let mut walk = Walk {
            cur: match base {
                Some(base) => Cur::Base(base),
                None => Cur::Root,
            },
            root: self.root.take(),
            parts: components(path),
            must_dir: path.ends_with(b"/"),
        };
        let result = self.walk(&mut walk, path, want);
        self.root = walk.root;
        result
    }

    fn walk(&mut self, walk: &mut Walk<'_>, path: &[u8], want: Want) -> Result<Resolved, Denial> {
        if path.starts_with(b"/") {
            self.open_root(walk)?;
        } else if matches!(walk.cur, Cur::Root) {
            return Err(Denial::Errno(libc::EBADF));
        }
        if let Some(parent) = self.fast_parent(walk.fd()?, &walk.parts)? {
            walk.cur = Cur::Owned(parent);
            walk.parts.drain(..walk.parts.len() - 1);
        }
        loop {
            if let Some(resolved) = self.step(walk, want)? {
                return Ok(resolved);
            }
        }
    }

    /// Takes one component; `Some` when the walk is over.
    fn step(&mut self, walk: &mut Walk<'_>, want: Want) -> Result<Option<Resolved>, Denial> {
        let Some(part) = walk.parts.pop_front() else {
            // The path named the directory itself (`/`, `.`, `a/..`): an entry of no directory,
            // which exists (`mkdir .` is EEXIST, `touch .` changes its times).
            let fd = walk
                .fd()?
                .try_clone_to_owned()
                .map_err(|_| Denial::Errno(libc::EMFILE))?;
            let stat = fstat(&fd)?;
            return Ok(Some(Resolved::Object(Existing { fd, stat })));
        };
        let last = walk.parts.is_empty();
        if part == b"." {
            return Ok(None);
        }
        if part == b".." {
            let up = openat(
                walk.fd()?,
                "..",
                oflags(PATH_FLAGS | libc::O_DIRECTORY),
                Mode::empty(),
            )?;
            walk.cur = Cur::Owned(up);
            return Ok(None);
        }
        let creating = last && want.creating;
        if self.refuses(id(walk.fd()?)?, &part, last, creating) {
            return Err(Denial::Protected);
        }
        let name = cstring(&part)?;
        let flags = oflags(PATH_FLAGS | libc::O_NOFOLLOW);
        let next = match openat(walk.fd()?, name.as_c_str(), flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if last => return walk.entry(&part, None).map(Some),
            Err(e) => return Err(e.into()),
        };
        let stat = fstat(&next)?;
        if is(&stat, libc::S_IFLNK) && (!last || want.follow || walk.must_dir) {
            return self.follow(walk, &name, &next, last);
        }
        if last {
            return walk
                .entry(&part, Some(Existing { fd: next, stat }))
                .map(Some);
        }
        if !is(&stat, libc::S_IFDIR) {
            return Err(Denial::Errno(libc::ENOTDIR));
        }
        walk.cur = Cur::Owned(next);
        Ok(None)
    }

    /// Whether the walk stops at `part` in `dir`: a protected name, unless it is the last one
    /// and the call is one the broker lets through for it (a checked rewrite of a git config,
    /// the removal of a linked worktree's git directory).
    fn refuses(&self, dir: DirId, part: &[u8], last: bool, creating: bool) -> bool {
        let set = self.protected;
        let allowed = last
            && match self.last_may_be {
                Allowance::Nothing => false,
                Allowance::GitConfig => set.git_config(dir, part).is_some(),
                Allowance::Removal => set.removable(dir, part),
            };
        set.refuses(dir, part, creating) && !allowed
    }

    /// Follows the symlink `name` (opened as `link`) in the walk's directory: a magic link to the
    /// object it names, any other by putting its target's components in front of the rest.
    fn follow(
        &mut self,
        walk: &mut Walk<'_>,
        name: &CString,
        link: &OwnedFd,
        last: bool,
    ) -> Result<Option<Resolved>, Denial> {
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            return Err(Denial::Errno(libc::ELOOP));
        }
        let dir = walk.fd()?;
        if let Some(object) = self.magic_link(dir, name)? {
            if last {
                return Ok(Some(Resolved::Object(object)));
            }
            if !is(&object.stat, libc::S_IFDIR) {
                return Err(Denial::Errno(libc::ENOTDIR));
            }
            walk.cur = Cur::Owned(object.fd);
            return Ok(None);
        }
        let target = self.link_target(dir, name, link)?;
        if target.is_empty() {
            return Err(Denial::Errno(libc::ENOENT));
        }
        if last && target.ends_with(b"/") {
            walk.must_dir = true;
        }
        // A relative target goes on from the link's own directory, where the walk is.
        if target.starts_with(b"/") {
            self.open_root(walk)?;
        }
        for c in components(&target).into_iter().rev() {
            walk.parts.push_front(c);
        }
        Ok(None)
    }

    /// The directory that holds the last component, in one `openat2` without symlinks, when no
    /// directory on the way is named like a protected entry. `None`: walk slowly.
    fn fast_parent(
        &self,
        cur: BorrowedFd<'_>,
        parts: &VecDeque<Vec<u8>>,
    ) -> Result<Option<OwnedFd>, Denial> {
        if parts.len() < 2 {
            return Ok(None);
        }
        let dirs = parts.range(..parts.len() - 1);
        if dirs.clone().any(|p| self.protected.mentions(p)) {
            return Ok(None);
        }
        let prefix = dirs.cloned().collect::<Vec<_>>().join(&b'/');
        let how = OpenHow::new()
            .flags(oflags(PATH_FLAGS | libc::O_DIRECTORY))
            .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS);
        match openat2(cur, std::ffi::OsStr::from_bytes(&prefix), how) {
            Ok(fd) => Ok(Some(fd)),
            // A symlink on the way, or no openat2: the slow walk decides.
            Err(Errno::ELOOP | Errno::ENOSYS | Errno::EXDEV | Errno::EAGAIN | Errno::E2BIG) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A magic link under `/proc/PID` (`fd/N`, `cwd`, `root`, …) followed as the caller would:
    /// only its own process's; `None` when `dir` is not in procfs or is procfs's root.
    fn magic_link(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CString,
    ) -> Result<Option<Existing>, Denial> {
        if !in_procfs(dir)? || id(dir)?.1 == PROC_ROOT_INO {
            return Ok(None);
        }
        let owner = proc_owner(dir).ok_or(Denial::Errno(libc::EACCES))?;
        if owner != self.tid && owner != self.tgid()? {
            return Err(Denial::Errno(libc::EACCES));
        }
        let fd = openat(dir, name.as_c_str(), oflags(PATH_FLAGS), Mode::empty())?;
        let stat = fstat(&fd)?;
        Ok(Some(self.checked(Existing { fd, stat })?))
    }

    /// What a symlink says, with procfs's `self` and `thread-self` read as the caller's.
    fn link_target(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CString,
        link: &OwnedFd,
    ) -> Result<Vec<u8>, Denial> {
        let proc_root =
            || -> Result<bool, Denial> { Ok(in_procfs(dir)? && id(dir)?.1 == PROC_ROOT_INO) };
        let wanted = name.as_bytes();
        if (wanted == b"self" || wanted == b"thread-self") && proc_root()? {
            let tgid = self.tgid()?;
            return Ok(if wanted == b"self" {
                tgid.to_string().into_bytes()
            } else {
                format!("{tgid}/task/{}", self.tid).into_bytes()
            });
        }
        Ok(readlinkat(link, "")?.as_bytes().to_vec())
    }
}

/// The id of the mount an fd is on (`statx` with `STATX_MNT_ID`, Linux 5.8).
fn mount_id(fd: &OwnedFd) -> Option<u64> {
    // SAFETY: statx is plain data; zero is a valid value to be overwritten.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: statx writes one struct statx into `stx`; the path is an empty NUL-terminated
    // string, valid with AT_EMPTY_PATH on a live fd.
    let rc = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    (rc == 0 && stx.stx_mask & libc::STATX_MNT_ID != 0).then_some(stx.stx_mnt_id)
}

/// Whether `entry`, looked up by name in `parent`, is a mount point in the caller's mount
/// namespace (the lookup crossed into another mount). The kernel refuses to remove or rename a
/// mount point with `EBUSY`, but judges that in the namespace of the thread making the call,
/// and the worker is not in the caller's: the broker makes that check itself. Unknown counts as
/// a mount point (fail closed).
pub(crate) fn is_mount_point(parent: &OwnedFd, entry: &Existing) -> bool {
    match (mount_id(parent), mount_id(&entry.fd)) {
        (Some(a), Some(b)) => a != b,
        _ => true,
    }
}

fn in_procfs(fd: BorrowedFd<'_>) -> Result<bool, Denial> {
    let fs = nix::sys::statfs::fstatfs(fd)?;
    Ok(fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// The process a procfs directory belongs to: the number after `/proc/` in its path.
fn proc_owner(dir: BorrowedFd<'_>) -> Option<libc::pid_t> {
    let path = std::fs::read_link(format!("/proc/self/fd/{}", dir.as_raw_fd())).ok()?;
    let parts: Vec<&[u8]> = path.as_os_str().as_bytes().split(|&b| b == b'/').collect();
    let at = parts.iter().position(|p| *p == b"proc")?;
    // `/proc/TGID/task/TID/…` belongs to TGID's process like `/proc/TGID/…`.
    std::str::from_utf8(parts.get(at + 1)?).ok()?.parse().ok()
}
