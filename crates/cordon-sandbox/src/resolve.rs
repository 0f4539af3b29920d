//! Resolving a path to the file it really reaches, and holding that file open.
//!
//! A grant beyond the envelope (a policy rule, an approval) must be judged on the file it reaches,
//! not on the path as written: `ws/link/x` may be `~/.ssh/x`, `/proc/self/root/…` is `/…`, and a
//! relative symlink target is resolved from the *link's* directory, not from the cwd. And the grant
//! must be made on that same file: if the sandbox opened the path again later, a link swapped in
//! between would move the grant. So [`resolve_real`] walks the path one component at a time with
//! `openat(O_PATH | O_NOFOLLOW)`, follows each symlink itself (bounded), and returns the real path
//! together with the `O_PATH` descriptor it ended on; Landlock's `PathBeneath` takes that
//! descriptor, so what was judged is what is granted.
//!
//! `/proc` needs care because cordon is not the command. A magic link of cordon's own process
//! (`/proc/self/root`, `/proc/self/cwd`) is read as the command will see it: `/` and the command's
//! cwd. A descriptor of cordon's own process (`/proc/self/fd/N`, `/dev/fd/N`, `/dev/stdin`) means
//! nothing to the command (its descriptors do not exist until it runs), so it is refused. Another
//! process's magic link is followed by the kernel, and the result is accepted only if its path,
//! looked up again, reaches the same file.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{openat, readlinkat, OFlag};
use nix::sys::stat::{fstat, FileStat, Mode, SFlag};
use nix::sys::statfs::{fstatfs, PROC_SUPER_MAGIC};

use crate::Error;

/// How many symlinks one resolution may follow (the kernel's own limit is 40).
pub const MAX_SYMLINKS: usize = 40;

/// What a resolved path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    /// A regular file, a device, a socket or a fifo: anything that is not a directory.
    File,
}

/// A path resolved to the file it reaches, held open with `O_PATH` (cheap to clone: the
/// descriptor is shared).
#[derive(Debug, Clone)]
pub struct RealPath {
    path: PathBuf,
    kind: FileKind,
    fd: Arc<OwnedFd>,
}

impl RealPath {
    /// The real path: no symlink, no `.` or `..`, no `/proc` indirection.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> FileKind {
        self.kind
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileKind::Directory
    }

    /// The entry `name` of this directory, held open; `None` for a symlink (never granted: it is
    /// followed when used, and judged where it lands) or an entry that vanished.
    pub(crate) fn child(&self, name: &OsStr) -> Result<Option<RealPath>, Error> {
        let path = self.path.join(name);
        let fd = match open_path(Some(self.fd.as_fd()), name, false) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::io(format!("opening {}", path.display()), e.into())),
        };
        let stat =
            fstat(&fd).map_err(|e| Error::io(format!("stat {}", path.display()), e.into()))?;
        let kind = match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFLNK => return Ok(None),
            SFlag::S_IFDIR => FileKind::Directory,
            _ => FileKind::File,
        };
        Ok(Some(RealPath {
            path,
            kind,
            fd: Arc::new(fd),
        }))
    }
}

impl AsFd for RealPath {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Resolves `path` as a command running in `cwd` would reach it, and opens what it reaches.
///
/// `path` may be relative (to `cwd`); `cwd` must be absolute. Symlinks are followed from the
/// link's own directory, `..` is taken physically (after the symlinks before it), and `/proc`
/// magic links are handled as the module documentation says. The path must exist.
///
/// ```
/// # use cordon_sandbox::resolve_real;
/// let real = resolve_real("/proc/self/root/usr/./bin/../lib", "/").unwrap();
/// assert_eq!(real.path(), std::fs::canonicalize("/usr/lib").unwrap());
/// assert!(resolve_real("/proc/self/fd/0", "/").is_err());
/// ```
pub fn resolve_real(path: impl AsRef<Path>, cwd: impl AsRef<Path>) -> Result<RealPath, Error> {
    let (path, cwd) = (path.as_ref(), cwd.as_ref());
    let refuse = |why: String| Error::Unresolvable {
        path: path.to_path_buf(),
        why,
    };
    if !cwd.is_absolute() {
        return Err(refuse(format!("the cwd {} is not absolute", cwd.display())));
    }
    if path.as_os_str().is_empty() {
        return Err(refuse("the path is empty".into()));
    }
    if let Some(real) = without_links(&cwd.join(path)) {
        return Ok(real);
    }
    let mut walk = Walk::new(cwd, &refuse)?;
    if path.is_absolute() {
        walk.restart_at_root(&refuse)?;
    } else {
        walk.restart_at_cwd(&refuse)?;
    }
    walk.push_front(path);
    walk.run(&refuse)?;
    walk.finish(&refuse)
}

/// The common case, without the walk: a path in components form that the kernel opens with no
/// link on the way (`/proc/self`, `/proc/PID/root|cwd|fd/N` and `/dev/fd` are all links, so none
/// of the walk's special cases can arise) reaches the file it names, and is its real path. `None`
/// otherwise, or on any failure, so the walk gives its own answer and its own words.
fn without_links(path: &Path) -> Option<RealPath> {
    let fd = open_without_links(path)?.ok()?;
    held(fd, path.to_path_buf()).ok()
}

/// Where a walk is inside procfs: the components below the procfs root, or `None` when it is not
/// in procfs (or arrived there in a way it cannot name).
type ProcPlace = Option<Vec<OsString>>;

struct Walk {
    cwd: PathBuf,
    /// Components still to walk, front first.
    pending: Vec<OsString>,
    dir: OwnedFd,
    proc_place: ProcPlace,
    links: usize,
}

fn open_path(dir: Option<BorrowedFd<'_>>, name: &OsStr, follow: bool) -> nix::Result<OwnedFd> {
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    match dir {
        Some(dir) => openat(dir, name, flags, Mode::empty()),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    }
}

fn is_proc(fd: &OwnedFd) -> bool {
    fstatfs(fd).is_ok_and(|s| s.filesystem_type() == PROC_SUPER_MAGIC)
}

/// The inode number of every procfs root.
const PROC_ROOT_INO: u64 = 1;

impl Walk {
    fn new(cwd: &Path, refuse: &dyn Fn(String) -> Error) -> Result<Walk, Error> {
        let root = open_path(None, OsStr::new("/"), true)
            .map_err(|e| refuse(format!("opening / failed: {e}")))?;
        Ok(Walk {
            cwd: cwd.to_path_buf(),
            pending: Vec::new(),
            dir: root,
            proc_place: None,
            links: 0,
        })
    }

    fn restart_at_root(&mut self, refuse: &dyn Fn(String) -> Error) -> Result<(), Error> {
        self.dir = open_path(None, OsStr::new("/"), true)
            .map_err(|e| refuse(format!("opening / failed: {e}")))?;
        self.proc_place = None;
        Ok(())
    }

    /// The command's cwd, itself resolved without `/proc` tricks (it is the caller's fact).
    fn restart_at_cwd(&mut self, refuse: &dyn Fn(String) -> Error) -> Result<(), Error> {
        self.dir = open_path(None, self.cwd.as_os_str(), true).map_err(|e| {
            refuse(format!(
                "the cwd {} cannot be opened: {e}",
                self.cwd.display()
            ))
        })?;
        self.proc_place = self.place_of_new_dir(None);
        Ok(())
    }

    /// Queues `path`'s components before whatever is still pending (a symlink's target).
    fn push_front(&mut self, path: &Path) {
        let mut front: Vec<OsString> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
            })
            .collect();
        front.append(&mut self.pending);
        self.pending = front;
    }

    /// Where in procfs a directory just entered by `name` lies.
    fn place_of_new_dir(&self, name: Option<&OsStr>) -> ProcPlace {
        if !is_proc(&self.dir) {
            return None;
        }
        if fstat(&self.dir).is_ok_and(|s| s.st_ino == PROC_ROOT_INO) {
            return Some(Vec::new());
        }
        let mut place = self.proc_place.clone()?;
        match name {
            Some(n) if n == ".." => {
                place.pop();
            }
            Some(n) => place.push(n.to_os_string()),
            None => return None,
        }
        Some(place)
    }

    fn run(&mut self, refuse: &dyn Fn(String) -> Error) -> Result<(), Error> {
        while !self.pending.is_empty() {
            let name = self.pending.remove(0);
            let last = self.pending.is_empty();
            let next = open_path(Some(self.dir.as_fd()), &name, false)
                .map_err(|e| refuse(format!("{}: {e}", name.to_string_lossy())))?;
            let stat = fstat(&next).map_err(|e| refuse(format!("stat failed: {e}")))?;
            let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
            if kind == SFlag::S_IFLNK {
                self.follow(&name, refuse)?;
                continue;
            }
            if kind != SFlag::S_IFDIR && !last {
                return Err(refuse(format!(
                    "{} is not a directory",
                    name.to_string_lossy()
                )));
            }
            self.dir = next;
            self.proc_place = self.place_of_new_dir(Some(&name));
        }
        Ok(())
    }

    /// Follows the symlink `name` in the current directory.
    fn follow(&mut self, name: &OsStr, refuse: &dyn Fn(String) -> Error) -> Result<(), Error> {
        self.links += 1;
        if self.links > MAX_SYMLINKS {
            return Err(refuse(format!(
                "more than {MAX_SYMLINKS} symlinks (a loop?)"
            )));
        }
        if let Some(place) = self.proc_place.clone() {
            // In procfs, only `/proc/self` and `/proc/thread-self` are ordinary links (to the
            // process's own directory); everything else is a magic link.
            let ordinary = place.is_empty() && (name == "self" || name == "thread-self");
            if !ordinary {
                return self.follow_magic(&place, name, refuse);
            }
        }
        let target = readlinkat(self.dir.as_fd(), name)
            .map_err(|e| refuse(format!("reading the link {}: {e}", name.to_string_lossy())))?;
        let target = PathBuf::from(target);
        if target.is_absolute() {
            self.restart_at_root(refuse)?;
        }
        // A relative target stays in the link's own directory, where the walk is now.
        self.push_front(&target);
        Ok(())
    }

    /// A magic link in procfs: `place` is where it lies below the procfs root.
    fn follow_magic(
        &mut self,
        place: &[OsString],
        name: &OsStr,
        refuse: &dyn Fn(String) -> Error,
    ) -> Result<(), Error> {
        let shown = |p: &[OsString]| {
            let mut s = PathBuf::from("/proc");
            s.extend(p);
            s.push(name);
            s.display().to_string()
        };
        let Some(pid) = place.first().and_then(|p| p.to_str()?.parse::<u32>().ok()) else {
            return Err(refuse(format!(
                "{} is a procfs link that cordon does not follow",
                shown(place)
            )));
        };
        if is_own_process(pid) {
            let in_task = place.len() == 3 && place[1] == "task";
            return match (place.len() == 1 || in_task, name.as_bytes()) {
                (true, b"root") => self.restart_at_root(refuse),
                (true, b"cwd") => self.restart_at_cwd(refuse),
                _ => Err(refuse(format!(
                    "{} names a descriptor or file of cordon's own process, not of the command (whose descriptors do not exist until it runs); name the file itself",
                    shown(place)
                ))),
            };
        }
        // Another process: the kernel follows its link, and `finish` checks that the real path
        // leads back to the same file.
        self.dir = open_path(Some(self.dir.as_fd()), name, true)
            .map_err(|e| refuse(format!("following {}: {e}", shown(place))))?;
        self.proc_place = self.place_of_new_dir(None);
        Ok(())
    }

    fn finish(self, refuse: &dyn Fn(String) -> Error) -> Result<RealPath, Error> {
        let link = PathBuf::from(format!("/proc/self/fd/{}", self.dir.as_raw_fd()));
        let real = std::fs::read_link(&link)
            .map_err(|e| refuse(format!("the resolved file has no path: {e}")))?;
        if !real.is_absolute() || real.as_os_str().as_bytes().ends_with(b" (deleted)") {
            return Err(refuse(format!(
                "it reaches {}, which is not a file with a path",
                real.display()
            )));
        }
        let held = fstat(&self.dir).map_err(|e| refuse(format!("stat failed: {e}")))?;
        let again = nix::sys::stat::lstat(&real).map_err(|e| {
            refuse(format!(
                "its real path {} cannot be looked up: {e}",
                real.display()
            ))
        })?;
        if (held.st_dev, held.st_ino) != (again.st_dev, again.st_ino) {
            return Err(refuse(format!(
                "it reaches a file whose path {} leads elsewhere in cordon's view",
                real.display()
            )));
        }
        Ok(RealPath {
            path: real,
            kind: kind_of(&held),
            fd: Arc::new(self.dir),
        })
    }
}

/// A directory, or a file (anything else that is not a directory).
fn kind_of(stat: &FileStat) -> FileKind {
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
        FileKind::Directory
    } else {
        FileKind::File
    }
}

/// Where `path` (absolute) leads as the kernel reaches it: its longest existing prefix resolved
/// (links followed, then `..` taken), and the rest, which does not exist and so holds no link,
/// appended with its `.` and `..` taken away. `None` when no prefix resolves. Unlike
/// [`resolve_real`] it names a file that does not exist yet, and holds nothing open: for comparing
/// a path with resolved roots, not for granting it.
pub fn resolve_as_far_as_exists(path: &Path) -> Option<PathBuf> {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            let joined = rest.iter().rev().fold(real, |p: PathBuf, n| p.join(n));
            return Some(lexically_normal(&joined));
        }
        rest.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

/// `path` with `.` and `..` taken away without looking at the file system.
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Opens a path the caller trusts (a system directory, the workspace the governor was started in)
/// with the kernel's own resolution, and names the file it reached: cheaper than
/// [`resolve_real`], and right wherever `/proc/self` cannot appear.
pub(crate) fn open_trusted(path: &Path) -> Result<RealPath, Error> {
    let (fd, real) = match open_without_links(path) {
        Some(Ok(fd)) => (fd, path.to_path_buf()),
        Some(Err(e)) => return Err(unresolvable(path, e)),
        None => open_and_name(path)?,
    };
    held(fd, real)
}

/// `path` opened as the kernel resolves it, links followed, and the name the kernel gives what
/// it reached (a `/proc/self/fd` readlink): [`open_trusted`] where [`open_without_links`] could
/// not answer.
pub(crate) fn open_and_name(path: &Path) -> Result<(OwnedFd, PathBuf), Error> {
    let fd = open_path(None, path.as_os_str(), true).map_err(|e| unresolvable(path, e))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::io(format!("naming {}", path.display()), e))?;
    Ok((fd, real))
}

/// The file `fd` holds, named `real`.
fn held(fd: OwnedFd, real: PathBuf) -> Result<RealPath, Error> {
    let stat = fstat(&fd).map_err(|e| Error::io(format!("stat {}", real.display()), e.into()))?;
    Ok(RealPath {
        path: real,
        kind: kind_of(&stat),
        fd: Arc::new(fd),
    })
}

fn unresolvable(path: &Path, e: nix::Error) -> Error {
    Error::Unresolvable {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

/// `path` opened with no link followed anywhere on the way (`openat2`, `RESOLVE_NO_SYMLINKS`), when
/// it is absolute and in its components' form: a path so opened is its own real path, and asking
/// the kernel to name the descriptor (a `/proc/self/fd` readlink, for each of the sixty-odd paths
/// a hardened run opens) can be skipped. `None` when a link is on the way, or the kernel has no
/// `openat2`: the caller opens and names it the usual way. Any other failure is the path's own:
/// the part of the path before the failing component holds no link, so a plain open would fail
/// on the same component the same way.
pub(crate) fn open_without_links(path: &Path) -> Option<nix::Result<OwnedFd>> {
    if !in_components_form(path) {
        return None;
    }
    let how = nix::fcntl::OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(nix::fcntl::ResolveFlag::RESOLVE_NO_SYMLINKS);
    match nix::fcntl::openat2(nix::fcntl::AT_FDCWD, path, how) {
        Err(nix::Error::ELOOP | nix::Error::ENOSYS | nix::Error::EINVAL | nix::Error::E2BIG) => {
            None
        }
        // A seccomp filter that refuses the call it does not know.
        Err(nix::Error::EPERM) => None,
        result => Some(result),
    }
}

/// Absolute, no `.` or `..`, no repeated or trailing `/`: the form a real path is named in.
fn in_components_form(path: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    bytes.starts_with(b"/")
        && (bytes.len() == 1
            || bytes[1..]
                .split(|b| *b == b'/')
                .all(|part| !part.is_empty() && part != b"." && part != b".."))
}

/// True when `pid` is this process or one of its threads.
fn is_own_process(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/self/task/{pid}")).exists()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn canon(p: &Path) -> PathBuf {
        std::fs::canonicalize(p).unwrap()
    }

    #[test]
    fn a_trusted_path_is_named_as_it_resolves_with_or_without_links_on_the_way() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        std::fs::create_dir_all(base.join("a/b")).unwrap();
        std::fs::write(base.join("a/b/f"), "x").unwrap();
        symlink(base.join("a"), base.join("l")).unwrap();
        symlink("b/f", base.join("a/lf")).unwrap();
        // No link: opened as written, named as written.
        let plain = open_trusted(&base.join("a/b/f")).unwrap();
        assert_eq!(plain.path(), base.join("a/b/f"));
        assert_eq!(plain.kind(), FileKind::File);
        // A link in the middle or at the end: named where it leads.
        assert_eq!(
            open_trusted(&base.join("l/b/f")).unwrap().path(),
            base.join("a/b/f")
        );
        assert_eq!(
            open_trusted(&base.join("a/lf")).unwrap().path(),
            base.join("a/b/f")
        );
        // Not in components form: `..` after a link is physical, as the kernel resolves it.
        let up = open_trusted(&base.join("l/b/../b/f")).unwrap();
        assert_eq!(up.path(), base.join("a/b/f"));
        // Missing, with and without a link on the way.
        assert!(open_trusted(&base.join("a/missing")).is_err());
        assert!(open_trusted(&base.join("l/missing")).is_err());
        // `/proc/self` is a link: the descriptor names this process's root.
        assert_eq!(
            open_trusted(Path::new("/proc/self/root")).unwrap().path(),
            Path::new("/")
        );
        for (path, plain) in [
            ("/", true),
            ("/a/b", true),
            ("/a/b/", false),
            ("/a//b", false),
            ("/a/./b", false),
            ("/a/../b", false),
            ("a/b", false),
            ("/a/.b", true),
        ] {
            assert_eq!(in_components_form(Path::new(path)), plain, "{path}");
        }
    }

    #[test]
    fn a_relative_link_resolves_from_its_own_directory_not_the_cwd() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        std::fs::create_dir_all(base.join("ws/sub")).unwrap();
        std::fs::create_dir_all(base.join("home/.config/cordon")).unwrap();
        std::fs::create_dir_all(base.join("ws/home/.config/cordon")).unwrap();
        // From `ws/sub`, `../../home` leaves the workspace; from the cwd `ws` it would not.
        symlink("../../home/.config/cordon", base.join("ws/sub/c")).unwrap();
        let real = resolve_real("sub/c/", base.join("ws")).unwrap();
        assert_eq!(real.path(), base.join("home/.config/cordon"));
        assert!(real.is_dir());
    }

    #[test]
    fn absolute_links_chains_and_dotdot_after_a_link_are_physical() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        std::fs::create_dir_all(base.join("a/deep/er")).unwrap();
        std::fs::write(base.join("a/secret"), "s").unwrap();
        symlink(base.join("a/deep/er"), base.join("l1")).unwrap();
        symlink("l1", base.join("l2")).unwrap();
        // l2 -> l1 -> a/deep/er; `..` twice from there is `a`, not the directory holding l2.
        let real = resolve_real(base.join("l2/../../secret"), "/").unwrap();
        assert_eq!(real.path(), base.join("a/secret"));
        assert_eq!(real.kind(), FileKind::File);
    }

    #[test]
    fn proc_self_root_and_cwd_are_read_as_the_command_sees_them() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        std::fs::write(base.join("f"), "x").unwrap();
        let via_root = format!("/proc/self/root{}", base.join("f").display());
        assert_eq!(resolve_real(&via_root, "/").unwrap().path(), base.join("f"));
        // /proc/self/cwd is the command's cwd, not cordon's.
        let real = resolve_real("/proc/self/cwd/f", &base).unwrap();
        assert_eq!(real.path(), base.join("f"));
        let real = resolve_real("/proc/thread-self/cwd/f", &base).unwrap();
        assert_eq!(real.path(), base.join("f"));
        let own = format!(
            "/proc/{}/root{}",
            std::process::id(),
            base.join("f").display()
        );
        assert_eq!(resolve_real(&own, "/").unwrap().path(), base.join("f"));
    }

    #[test]
    fn descriptors_of_cordons_own_process_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let held = std::fs::File::open(t.path()).unwrap();
        let n = held.as_raw_fd();
        for p in [
            format!("/proc/self/fd/{n}"),
            format!("/dev/fd/{n}"),
            "/dev/stdin".to_string(),
            "/proc/self/exe".to_string(),
        ] {
            let err = resolve_real(&p, "/").unwrap_err();
            assert!(
                err.to_string().contains("cordon's own process"),
                "{p}: {err}"
            );
        }
        // A link in the workspace to such a path is refused the same way.
        symlink(format!("/proc/self/fd/{n}"), t.path().join("l")).unwrap();
        let err = resolve_real(t.path().join("l"), "/").unwrap_err();
        assert!(err.to_string().contains("cordon's own process"), "{err}");
    }

    #[test]
    fn another_process_magic_links_resolve_to_the_real_file() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .current_dir(&base)
            .spawn()
            .unwrap();
        let cwd = format!("/proc/{}/cwd", child.id());
        let real = resolve_real(&cwd, "/");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(real.unwrap().path(), base);
    }

    #[test]
    fn missing_paths_loops_and_files_in_the_middle_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        assert!(resolve_real(base.join("missing"), "/").is_err());
        symlink("loop", base.join("loop")).unwrap();
        let err = resolve_real(base.join("loop"), "/").unwrap_err();
        assert!(err.to_string().contains("symlinks"), "{err}");
        std::fs::write(base.join("file"), "").unwrap();
        assert!(resolve_real(base.join("file/x"), "/").is_err());
        assert!(resolve_real("", "/").is_err());
        assert!(resolve_real("x", "relative").is_err());
    }

    #[test]
    fn the_descriptor_holds_the_file_that_was_judged() {
        let t = tempfile::tempdir().unwrap();
        let base = canon(t.path());
        std::fs::create_dir(base.join("real")).unwrap();
        std::fs::create_dir(base.join("other")).unwrap();
        symlink(base.join("real"), base.join("link")).unwrap();
        let real = resolve_real(base.join("link"), "/").unwrap();
        // The link is swapped after the judgement: the descriptor still holds `real`.
        std::fs::remove_file(base.join("link")).unwrap();
        symlink(base.join("other"), base.join("link")).unwrap();
        let through_fd = std::fs::read_link(format!("/proc/self/fd/{}", real.as_fd().as_raw_fd()));
        assert_eq!(through_fd.unwrap(), base.join("real"));
    }
}
