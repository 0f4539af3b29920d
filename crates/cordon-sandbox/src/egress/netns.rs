//! The proxied command's network namespace, made once per run: with `CAP_SYS_ADMIN` by the
//! calling thread, which enters the new namespace and returns; otherwise by a short-lived helper
//! process, since a multi-threaded process cannot enter a new user namespace.
//!
//! The helper is forked from the supervisor, so between `fork` and `_exit` it only issues raw
//! syscalls over data prepared before the fork (no allocation, no locks), like `child.rs`. It:
//! 1. enters a new network namespace: `unshare(CLONE_NEWNET)` with `CAP_SYS_ADMIN`, otherwise
//!    `unshare(CLONE_NEWUSER | CLONE_NEWNET)` and maps our own uid/gid;
//! 2. brings `lo` up (`SIOCSIFFLAGS`), the namespace's only interface;
//! 3. creates a TCP socket listening on `127.0.0.1:0` there: the proxy's listener, which keeps
//!    the namespace it was created in wherever it is used from;
//! 4. opens `/proc/self/ns/net` (and `/proc/self/ns/user`) so each command process can join;
//! 5. sends the three descriptors over a Unix socket (`SCM_RIGHTS`) and exits.
//!
//! A failed step sends its number and errno instead; the supervisor refuses the run
//! ([`crate::Error::Unenforceable`]): a proxied command without its namespace would have the
//! host's network.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::Error;

/// Who may create the namespace, decided by the supervisor.
pub(crate) enum NamespaceOwner {
    /// We hold `CAP_SYS_ADMIN`: a network namespace owned by our user namespace.
    Direct,
    /// Unprivileged: a user namespace mapping our own uid/gid, owning the network namespace.
    ViaUserns { uid_map: Vec<u8>, gid_map: Vec<u8> },
}

/// The namespace, held open by these descriptors, and the proxy's listener inside it.
pub(crate) struct ProxyNamespace {
    pub netns: OwnedFd,
    /// Set when the namespace is owned by a new user namespace, which processes join first.
    pub userns: Option<OwnedFd>,
    pub listener: std::net::TcpListener,
}

const STEPS: [&str; 8] = [
    "creating the network namespace",
    "writing the user namespace's uid/gid maps",
    "opening a socket to configure lo",
    "bringing lo up",
    "creating the proxy's listening socket",
    "binding the proxy's socket to 127.0.0.1",
    "opening the namespace's /proc/self/ns entries",
    "sending the namespace to the supervisor",
];

/// Creates the namespace and the listener, or says which step failed.
pub(crate) fn create(owner: &NamespaceOwner) -> Result<ProxyNamespace, Error> {
    match owner {
        NamespaceOwner::Direct => create_on_this_thread(),
        NamespaceOwner::ViaUserns { .. } => create_in_a_helper(owner),
    }
}

/// With `CAP_SYS_ADMIN` a thread may enter a network namespace of its own and return: the
/// calling thread does the helper's steps and goes back to its own namespace, with no process
/// or thread to hand over to (each hand-over waits for the scheduler, which on a loaded machine
/// costs more than the steps).
fn create_on_this_thread() -> Result<ProxyNamespace, Error> {
    let open_own = || {
        // SAFETY: open with a NUL-terminated path; returns an fd or -1.
        let fd = unsafe {
            libc::open(
                c"/proc/thread-self/ns/net".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        // SAFETY: a new fd from open, owned by nobody else.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let errno = || io::Error::last_os_error().raw_os_error().unwrap_or(0);
    let home = open_own().ok_or_else(|| step_failed(6, errno()))?;
    // SAFETY: unshare with integer flags; it moves this thread only, and it moves back below.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(step_failed(0, errno()));
    }
    let made = (|| -> Result<(OwnedFd, OwnedFd), Error> {
        loopback_up().map_err(|step| step_failed(step, errno()))?;
        let listener = listen_on_loopback().map_err(|step| step_failed(step, errno()))?;
        // SAFETY: a new fd from socket, owned by nobody else.
        let listener = unsafe { OwnedFd::from_raw_fd(listener) };
        let netns = open_own().ok_or_else(|| step_failed(6, errno()))?;
        Ok((listener, netns))
    })();
    // With CAP_SYS_ADMIN and an open namespace fd this does not fail; were it to, the error
    // stops the run, and this thread's later connections would reach nothing (fail closed).
    // SAFETY: setns on the fd of the namespace this thread came from, with integer flags.
    if unsafe { libc::setns(home.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(Error::io(
            "returning to the supervisor's network namespace",
            io::Error::last_os_error(),
        ));
    }
    let (listener, netns) = made?;
    Ok(ProxyNamespace {
        listener: std::net::TcpListener::from(listener),
        netns,
        userns: None,
    })
}

fn step_failed(step: u8, errno: i32) -> Error {
    let what = STEPS.get(usize::from(step)).copied().unwrap_or("a step");
    Error::Unenforceable {
        feature: "a network namespace for the egress proxy",
        detail: format!("{what}: {}", io::Error::from_raw_os_error(errno)),
    }
}

/// Without `CAP_SYS_ADMIN` a user namespace is needed, which a multi-threaded process cannot
/// enter: a forked helper does the steps and sends the descriptors back.
fn create_in_a_helper(owner: &NamespaceOwner) -> Result<ProxyNamespace, Error> {
    let (ours, theirs) = seqpacket_pair()?;
    // SAFETY: fork has no memory arguments; the child runs only `helper`, which makes raw
    // syscalls over data prepared before this call and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::io(
            "forking the network namespace helper",
            io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        let code = helper(theirs.as_raw_fd(), owner);
        // SAFETY: _exit is async-signal-safe and ends the helper without running destructors.
        unsafe { libc::_exit(code) };
    }
    drop(theirs);
    let received = receive(ours.as_raw_fd());
    let mut status = 0;
    // SAFETY: waitpid on the helper we just forked, with a valid status pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let (payload, mut fds) = received?;
    match payload {
        [b'O', ..] if fds.len() >= 2 => {
            let userns = (fds.len() == 3).then(|| fds.remove(2));
            let netns = fds.remove(1);
            let listener = std::net::TcpListener::from(fds.remove(0));
            Ok(ProxyNamespace {
                netns,
                userns,
                listener,
            })
        }
        [b'E', step, a, b, c, d, ..] => Err(step_failed(step, i32::from_le_bytes([a, b, c, d]))),
        _ => Err(Error::Unenforceable {
            feature: "a network namespace for the egress proxy",
            detail: "the namespace helper exited without an answer".into(),
        }),
    }
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd), Error> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: socketpair writes two fds into a two-element array.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::io(
            "creating the namespace helper's socket",
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: both fds were just returned by socketpair and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Runs in the forked helper. Must not allocate. Returns the exit code.
fn helper(sock: RawFd, owner: &NamespaceOwner) -> i32 {
    let fail = |step: u8| -> i32 {
        // SAFETY: reading errno through libc's thread-local location, no allocation.
        let errno = unsafe { *libc::__errno_location() };
        let e = errno.to_le_bytes();
        let payload = [b'E', step, e[0], e[1], e[2], e[3], 0, 0];
        send(sock, &payload, &[]);
        1
    };
    match owner {
        NamespaceOwner::Direct => {
            // SAFETY: unshare with integer flags.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return fail(0);
            }
        }
        NamespaceOwner::ViaUserns { uid_map, gid_map } => {
            // SAFETY: unshare with integer flags.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
                return fail(0);
            }
            let mapped = crate::child::write_proc(c"/proc/self/setgroups", b"deny")
                && crate::child::write_proc(c"/proc/self/uid_map", uid_map)
                && crate::child::write_proc(c"/proc/self/gid_map", gid_map);
            if !mapped {
                return fail(1);
            }
        }
    }
    if let Err(step) = loopback_up() {
        return fail(step);
    }
    let listener = match listen_on_loopback() {
        Ok(fd) => fd,
        Err(step) => return fail(step),
    };
    // SAFETY: open with a NUL-terminated path; returns an fd or -1.
    let netns = unsafe {
        libc::open(
            c"/proc/self/ns/net".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if netns < 0 {
        return fail(6);
    }
    let mut fds = [listener, netns, -1];
    let mut count = 2;
    if matches!(owner, NamespaceOwner::ViaUserns { .. }) {
        // SAFETY: as above.
        let userns = unsafe {
            libc::open(
                c"/proc/self/ns/user".as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if userns < 0 {
            return fail(6);
        }
        fds[2] = userns;
        count = 3;
    }
    if !send(sock, b"O\0\0\0\0\0\0\0", &fds[..count]) {
        return fail(7);
    }
    0
}

/// Sets `IFF_UP` on `lo`.
fn loopback_up() -> Result<(), u8> {
    // SAFETY: socket with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(2);
    }
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the flags into `request`, a live ifreq naming "lo".
    let got = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut request) };
    // SAFETY: after SIOCGIFFLAGS the union holds the flags; reading and setting them is plain
    // integer work, and SIOCSIFFLAGS reads the same live ifreq.
    let set = got == 0
        && unsafe {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request)
        } == 0;
    // SAFETY: closes the socket opened above, once.
    unsafe { libc::close(fd) };
    if set {
        Ok(())
    } else {
        Err(3)
    }
}

/// A TCP socket listening on 127.0.0.1 at a port the kernel picks.
fn listen_on_loopback() -> Result<RawFd, u8> {
    // SAFETY: socket with integer arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(4);
    }
    let address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: bind reads a sockaddr_in of the given size from our stack; listen takes integers.
    let bound = unsafe {
        libc::bind(
            fd,
            (&address as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) == 0
            && libc::listen(fd, 128) == 0
    };
    if bound {
        Ok(fd)
    } else {
        Err(5)
    }
}

/// Room for the control message carrying up to three descriptors, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);

/// Sends `payload` with `fds` attached. Used by the helper: no allocation.
fn send(sock: RawFd, payload: &[u8; 8], fds: &[RawFd]) -> bool {
    let mut control = ControlBuffer([0; 64]);
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut message: libc::msghdr = unsafe { zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    if !fds.is_empty() {
        let bytes = std::mem::size_of_val(fds) as libc::c_uint;
        // SAFETY: CMSG_SPACE is arithmetic on its argument.
        let space = unsafe { libc::CMSG_SPACE(bytes) } as usize;
        message.msg_control = control.0.as_mut_ptr().cast();
        message.msg_controllen = space as _;
        // SAFETY: the control buffer is aligned, zeroed and at least `space` bytes (3 fds need
        // 32), so the first header and its data lie inside it; copying the fds writes exactly
        // `bytes` bytes into the header's data.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&message);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr().cast::<u8>(),
                libc::CMSG_DATA(header),
                bytes as usize,
            );
        }
    }
    // SAFETY: `message` points at live iovec and control buffers for the duration of the call.
    unsafe { libc::sendmsg(sock, &message, 0) == payload.len() as isize }
}

/// Receives the helper's answer and the descriptors attached to it (close-on-exec).
fn receive(sock: RawFd) -> Result<([u8; 8], Vec<OwnedFd>), Error> {
    let mut payload = [0u8; 8];
    let mut control = ControlBuffer([0; 64]);
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut message: libc::msghdr = unsafe { zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.0.as_mut_ptr().cast();
    message.msg_controllen = control.0.len() as _;
    // SAFETY: `message` points at live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(sock, &mut message, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(Error::io(
            "reading the namespace helper's answer",
            io::Error::last_os_error(),
        ));
    }
    let mut fds = Vec::new();
    // SAFETY: the CMSG_* walk stays within `msg_controllen` bytes of the buffer recvmsg filled;
    // each SCM_RIGHTS payload holds `(cmsg_len - CMSG_LEN(0)) / 4` fds the kernel installed for
    // us, each owned by nobody else.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&message);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header);
                // `cmsg_len` is a `usize` with glibc and a `u32` with musl.
                #[allow(clippy::unnecessary_cast)]
                let count =
                    ((*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<RawFd>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            header = libc::CMSG_NXTHDR(&message, header);
        }
    }
    if message.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(Error::io(
            "reading the namespace helper's answer",
            io::Error::other("descriptors were truncated"),
        ));
    }
    Ok((payload, fds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_has_a_listener_on_its_own_loopback() {
        // SAFETY: geteuid/getegid have no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let mut owners = vec![NamespaceOwner::ViaUserns {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }];
        if crate::kernel::has_capability(crate::kernel::CAP_SYS_ADMIN) {
            owners.push(NamespaceOwner::Direct);
        }
        for owner in owners {
            check(&owner);
        }
    }

    fn check(owner: &NamespaceOwner) {
        let ns = create(owner).expect("this machine can create network namespaces");
        assert_eq!(
            ns.userns.is_some(),
            matches!(owner, NamespaceOwner::ViaUserns { .. })
        );
        let address = ns.listener.local_addr().unwrap();
        assert_eq!(address.ip().to_string(), "127.0.0.1");
        // The listener's namespace is not ours.
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap();
        let theirs = std::fs::metadata(format!("/proc/self/fd/{}", ns.netns.as_raw_fd())).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(ours.ino(), theirs.ino());
        // The calling thread is back in its own namespace.
        let now = std::fs::metadata("/proc/thread-self/ns/net").unwrap();
        assert_eq!(now.ino(), ours.ino());
    }
}
