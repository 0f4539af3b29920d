//! Kept empty network namespaces for hardened runs with no network, each leased to one run at a
//! time and joined with `setns`, instead of a new namespace per command (`unshare(CLONE_NEWNET)`
//! costs about 1 ms in the child, and tearing the namespace down costs a kernel worker as much
//! again after the run).
//!
//! # Why leased, never shared
//! A network namespace holds one name space of abstract Unix sockets and lists every Unix socket
//! in `/proc/net/unix`. Landlock's scope (ABI 6) stops a domain from *connecting* to an abstract
//! socket bound outside it, but not from *binding* a name another run holds (`EADDRINUSE`) nor
//! from reading the listing: two runs sharing one namespace would have a channel between them
//! that separate namespaces do not, whatever the Landlock ABI; below ABI 6 they could connect
//! outright. So a namespace serves one run at a time: its lease is an exclusive `flock` on the
//! slot's lock file, held by the supervisor for the whole run.
//!
//! # Why a leased namespace is as empty as a new one
//! Every command's `lo` is brought up by its child before the capabilities go (`child.rs`): the
//! command's private loopback, so a test suite's local server works while nothing is routable.
//! What a command could leave in a namespace for the next run: interfaces, addresses, routes,
//! firewall rules (all need `CAP_NET_ADMIN`, which hardened commands never hold: leases are only
//! made when the supervisor holds `CAP_SYS_ADMIN` in the initial user namespace, and the child
//! drops every capability and sets `no_new_privs`); `net.*` sysctls (root may write them without
//! a capability, but Landlock grants no write under `/proc/sys`); and sockets, which live as long
//! as a process holds them (a TCP connection in `TIME_WAIT` a minute longer). Sockets are what a
//! process that outlives its run (its supervisor killed before the tree kill) could keep, so
//! before each lease the supervisor's thread enters the namespace and reads what it holds of every
//! family a no-network command may create (seccomp): the Unix socket table
//! (`/proc/thread-self/net/unix`) and the IP sockets in use and in `TIME_WAIT` (`sockstat`,
//! `sockstat6`: per-namespace counters; the `tcp` tables would walk every TCP socket of the host,
//! about 1 ms each). A namespace with any socket in it, even one in `TIME_WAIT`, is not used, and
//! the run creates a new namespace as before: the next run sees no trace of this one's ports.
//!
//! Sockets are also what a process that outlives its run could make later, in the next run's
//! lease; so a namespace is leased again only when the run before it ended with every command's
//! cgroup confirmed empty after its tree kill ([`Lease::release_clean`] writes `1` into the lock
//! file; leasing writes `0` first). A lock file that does not say `1` (a supervisor killed
//! mid-run, a run that fell back to the subreaper, a cgroup that did not empty in time) gets its
//! namespace replaced by a new one before the lease, which costs what a run without a pool pays.
//!
//! # Where they are kept
//! `/run/cordon/netns/slot-N`, each a bind mount of a namespace (as `ip netns` keeps them), with
//! `slot-N.lock` beside it. `/run` is a tmpfs, so they go with a reboot. Any failure here (no
//! `/run`, a mount refused) is no error: the run creates its own namespace, as without a pool.

use std::io::{self, Read as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the namespaces are kept.
const POOL_DIR: &str = "/run/cordon/netns";
/// Runs that may hold a kept namespace at once; more concurrent runs create their own.
const SLOTS: usize = 8;
/// `statfs` magic of nsfs, the file system of `/proc/*/ns/*` and of their bind mounts.
const NSFS_MAGIC: i64 = crate::kernel::fs_type_of(libc::NSFS_MAGIC);

/// A kept namespace, leased to this run until dropped.
pub(crate) struct Lease {
    pub netns: OwnedFd,
    /// The slot's lock file, `flock`ed exclusively: closing it ends the lease. Its one byte says
    /// whether the last run in the namespace left it clean (`1`).
    lock: OwnedFd,
}

impl Lease {
    /// Ends the lease saying that every process of the run is gone, so the next run may reuse the
    /// namespace as it is. Dropping a lease without this leaves it marked for replacement.
    pub(crate) fn release_clean(self) {
        let _ = pwrite_byte(&self.lock, b'1');
    }
}

fn pwrite_byte(fd: &OwnedFd, byte: u8) -> bool {
    // SAFETY: pwrite reads one byte from a live stack variable.
    unsafe { libc::pwrite(fd.as_raw_fd(), (&byte as *const u8).cast(), 1, 0) == 1 }
}

fn pread_byte(fd: &OwnedFd) -> Option<u8> {
    let mut byte = 0u8;
    // SAFETY: pread writes at most one byte into a live stack variable.
    let n = unsafe { libc::pread(fd.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, 0) };
    (n == 1).then_some(byte)
}

/// Leases a kept empty namespace, making it on first use; `None` when none can be had.
pub(crate) fn lease() -> Option<Lease> {
    lease_in(Path::new(POOL_DIR))
}

fn lease_in(dir: &Path) -> Option<Lease> {
    std::fs::create_dir_all(dir).ok()?;
    let home = open_cloexec(c"/proc/thread-self/ns/net")?;
    (0..SLOTS).find_map(|slot| lease_slot(&dir.join(format!("slot-{slot}")), &home))
}

fn lease_slot(pin: &Path, home: &OwnedFd) -> Option<Lease> {
    let lock = lock_exclusive(&with_suffix(pin, ".lock"))?;
    let left_clean = pread_byte(&lock) == Some(b'1');
    if !pwrite_byte(&lock, b'0') {
        return None;
    }
    let netns = match open_pinned(pin).filter(|_| left_clean) {
        Some(fd) => fd,
        None => {
            replace_namespace(pin, home)?;
            open_pinned(pin)?
        }
    };
    is_empty(&netns, home).then_some(Lease { netns, lock })
}

/// Binds a new namespace at `pin`, first detaching whatever namespace was bound there (a
/// process still in it keeps it, but no run joins it again).
fn replace_namespace(pin: &Path, home: &OwnedFd) -> Option<()> {
    let target = c_path(pin)?;
    while open_pinned(pin).is_some() {
        // SAFETY: umount2 with a NUL-terminated path and integer flags.
        if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
            return None;
        }
    }
    pin_new_namespace(pin, home)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn c_path(path: &Path) -> Option<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt as _;
    std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
}

fn open_cloexec(path: &std::ffi::CStr) -> Option<OwnedFd> {
    // SAFETY: open with a NUL-terminated path; returns an fd or -1.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    // SAFETY: a new fd from open, owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens (creating) the lock file and takes an exclusive `flock` without waiting.
fn lock_exclusive(path: &Path) -> Option<OwnedFd> {
    let path = c_path(path)?;
    // SAFETY: open with a NUL-terminated path and a mode; returns an fd or -1.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o600,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: a new fd from open, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: flock on an fd we own, with integer flags.
    let locked = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    locked.then_some(fd)
}

/// The namespace bound at `pin`, if a namespace is bound there (a plain file is not one).
fn open_pinned(pin: &Path) -> Option<OwnedFd> {
    let fd = open_cloexec(&c_path(pin)?)?;
    // SAFETY: statfs is plain data; zero is a valid value to be overwritten.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatfs writes one statfs into a live stack variable.
    let ok = unsafe { libc::fstatfs(fd.as_raw_fd(), &mut fs) } == 0;
    (ok && crate::kernel::fs_type(&fs) == NSFS_MAGIC).then_some(fd)
}

/// Makes a new network namespace on this thread, binds it at `pin` and returns to `home`.
fn pin_new_namespace(pin: &Path, home: &OwnedFd) -> Option<()> {
    let target = c_path(pin)?;
    // The mount point: an empty file, left in place when a mount is refused (no harm).
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(pin)
        .ok()?;
    // SAFETY: unshare with integer flags; it moves this thread only, and it moves back below.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return None;
    }
    // SAFETY: mount with NUL-terminated paths, no file system type or data: a bind mount.
    let bound = unsafe {
        libc::mount(
            c"/proc/thread-self/ns/net".as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    } == 0;
    return_home(home).then_some(())?;
    bound.then_some(())
}

/// Moves this thread back to the namespace it came from; `false` if that failed, which never
/// happens with `CAP_SYS_ADMIN` and an open fd: the caller then gives up the lease.
fn return_home(home: &OwnedFd) -> bool {
    // SAFETY: setns on the fd of the namespace this thread came from, with integer flags.
    unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) == 0 }
}

/// Whether no socket lives in `netns`: the thread enters it, reads its Unix socket table and its
/// IP socket counters, and comes back.
fn is_empty(netns: &OwnedFd, home: &OwnedFd) -> bool {
    // SAFETY: setns on an fd of a network namespace, with integer flags; this thread only.
    if unsafe { libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return false;
    }
    let empty = matches!(table_lines("/proc/thread-self/net/unix"), Ok(1))
        && matches!(ip_sockets("/proc/thread-self/net/sockstat"), Ok(0))
        && match ip_sockets("/proc/thread-self/net/sockstat6") {
            Ok(sockets) => sockets == 0,
            // IPv6 off: no such file, and no such socket.
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
    // Should the thread fail to return (never with CAP_SYS_ADMIN), no lease; the supervisor's
    // thread makes no network calls of its own in a no-network run.
    if !return_home(home) {
        return false;
    }
    empty
}

fn read_text(path: &str) -> io::Result<Vec<u8>> {
    let mut text = Vec::with_capacity(4096);
    std::fs::File::open(path)?.read_to_end(&mut text)?;
    Ok(text)
}

/// A table's lines: a header, then one line per entry.
fn table_lines(path: &str) -> io::Result<usize> {
    Ok(read_text(path)?
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count())
}

/// The IP sockets a `sockstat` file counts for its namespace: every protocol's `inuse`, and the
/// TCP connections in `TIME_WAIT` (`tw`). The file's other figures (`orphan`, `alloc`, `mem`,
/// `FRAG`) are not per socket of this namespace.
fn ip_sockets(path: &str) -> io::Result<u64> {
    let text = read_text(path)?;
    let mut sockets = 0u64;
    for line in String::from_utf8_lossy(&text).lines() {
        let mut words = line.split_whitespace();
        let protocol = words.next().unwrap_or_default();
        if protocol.starts_with("FRAG") || protocol == "sockets:" {
            continue;
        }
        let fields: Vec<&str> = words.collect();
        for pair in fields.chunks(2) {
            if let ["inuse" | "tw", value] = pair {
                let count: u64 = value
                    .parse()
                    .map_err(|_| io::Error::other(format!("{path}: {line}")))?;
                sockets = sockets.saturating_add(count);
            }
        }
    }
    Ok(sockets)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    fn skip() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        !root && cordon_testkit::allow_skip("root", "a kept namespace is a bind mount")
    }

    /// The namespace a lease holds, by inode.
    fn inode(lease: &Lease) -> u64 {
        std::fs::metadata(format!("/proc/self/fd/{}", lease.netns.as_raw_fd()))
            .unwrap()
            .ino()
    }

    /// A pool in a temporary directory, its mounts detached when dropped.
    struct Pool(tempfile::TempDir);

    impl Pool {
        fn new() -> Pool {
            Pool(tempfile::tempdir().unwrap())
        }
        fn lease(&self) -> Lease {
            lease_in(self.0.path()).expect("a lease in a fresh pool")
        }
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            for slot in 0..SLOTS {
                let pin = c_path(&self.0.path().join(format!("slot-{slot}"))).unwrap();
                // SAFETY: umount2 with a NUL-terminated path and integer flags.
                while unsafe { libc::umount2(pin.as_ptr(), libc::MNT_DETACH) } == 0 {}
            }
        }
    }

    /// Binds an abstract Unix socket inside `lease`'s namespace, from this thread.
    fn bind_inside(lease: &Lease) -> std::os::unix::net::UnixListener {
        use std::os::linux::net::SocketAddrExt as _;
        let home = open_cloexec(c"/proc/thread-self/ns/net").unwrap();
        // SAFETY: setns on a namespace fd, this thread only; it goes back below.
        let joined = unsafe { libc::setns(lease.netns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(joined, 0);
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"cordon-pool-test").unwrap();
        let listener = std::os::unix::net::UnixListener::bind_addr(&addr);
        assert!(return_home(&home));
        listener.unwrap()
    }

    #[test]
    fn a_namespace_left_clean_is_leased_again() {
        if skip() {
            return;
        }
        let pool = Pool::new();
        let first = pool.lease();
        let kept = inode(&first);
        first.release_clean();
        assert_eq!(inode(&pool.lease()), kept);
    }

    #[test]
    fn a_namespace_not_left_clean_is_replaced() {
        if skip() {
            return;
        }
        let pool = Pool::new();
        let first = pool.lease();
        let kept = inode(&first);
        drop(first);
        let next = pool.lease();
        assert_ne!(inode(&next), kept);
        // The same slot, with a new namespace: the old one is no longer bound there.
        let pinned = std::fs::metadata(pool.0.path().join("slot-0"))
            .unwrap()
            .ino();
        assert_eq!(pinned, inode(&next));
    }

    #[test]
    fn a_leased_namespace_is_not_leased_twice() {
        if skip() {
            return;
        }
        let pool = Pool::new();
        let first = pool.lease();
        let second = pool.lease();
        assert_ne!(inode(&first), inode(&second));
    }

    #[test]
    fn a_namespace_with_a_socket_in_it_is_not_leased() {
        if skip() {
            return;
        }
        let pool = Pool::new();
        let first = pool.lease();
        let kept = inode(&first);
        // What a process outliving its run could hold, though the run said it left clean.
        let _survivor = bind_inside(&first);
        first.release_clean();
        let next = pool.lease();
        assert_ne!(inode(&next), kept);
        // Positive control: without the socket the same namespace would have been leased.
        let pool = Pool::new();
        let first = pool.lease();
        let kept = inode(&first);
        first.release_clean();
        assert_eq!(inode(&pool.lease()), kept);
    }

    #[test]
    fn a_namespace_with_a_tcp_socket_in_it_is_not_leased() {
        if skip() {
            return;
        }
        let pool = Pool::new();
        let first = pool.lease();
        let kept = inode(&first);
        // A listener held past the run, as a process that outlived it could hold one (a run's
        // child brings `lo` up; this namespace's is down, so the wildcard address is bound).
        let home = open_cloexec(c"/proc/thread-self/ns/net").unwrap();
        // SAFETY: setns on a namespace fd, this thread only; it goes back below.
        let joined = unsafe { libc::setns(first.netns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(joined, 0);
        let survivor = std::net::TcpListener::bind("0.0.0.0:0");
        assert!(return_home(&home));
        let _survivor = survivor.unwrap();
        first.release_clean();
        let next = pool.lease();
        assert_ne!(inode(&next), kept);
    }

    #[test]
    fn sockstat_counts_sockets_in_use_and_in_time_wait_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sockstat");
        let count = |text: &str| {
            std::fs::write(&file, text).unwrap();
            ip_sockets(file.to_str().unwrap()).unwrap()
        };
        let idle = "sockets: used 13\nTCP: inuse 0 orphan 3 tw 0 alloc 9 mem 93\nUDP: inuse 0 mem 4\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 2 memory 8\n";
        assert_eq!(count(idle), 0);
        assert_eq!(count(&idle.replace("tw 0", "tw 1")), 1);
        assert_eq!(count(&idle.replace("UDP: inuse 0", "UDP: inuse 2")), 2);
        assert_eq!(
            count("TCP6: inuse 1\nUDP6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n"),
            1
        );
        std::fs::write(&file, "TCP: inuse many\n").unwrap();
        assert!(ip_sockets(file.to_str().unwrap()).is_err());
    }

    #[test]
    fn a_suffix_goes_on_the_file_name() {
        assert_eq!(
            with_suffix(Path::new("/run/cordon/netns/slot-0"), ".lock"),
            PathBuf::from("/run/cordon/netns/slot-0.lock")
        );
    }
}
