//! Recording every program a command executes: seccomp user notification on `execve`/`execveat`,
//! answered "continue" by the supervisor.
//!
//! # Why this mechanism
//! - **It cannot be dodged from inside.** A seccomp filter is inherited by every descendant,
//!   across `fork`, `clone`, `setsid` and double-forks, and cannot be removed. Each segment installs
//!   one as its last step before `execve`, so its own exec is the first one recorded. A `/proc` scan
//!   misses short-lived processes; the process connector needs `CAP_NET_ADMIN` and a netlink
//!   socket; ptrace is left to the command's own debuggers and would serialize every syscall;
//!   an LD_PRELOAD shim is bypassed by a static binary.
//! - **It cannot weaken enforcement.** The kernel runs every filter and applies the most
//!   restrictive verdict (`KILL` > `ERRNO` > `USER_NOTIF` > `ALLOW`), so a syscall the hardened
//!   filters deny is denied before anyone is notified. The recorder only ever answers
//!   `SECCOMP_USER_NOTIF_FLAG_CONTINUE`: it never fakes a return value, never injects an fd, never
//!   refuses. Landlock still decides what the executed file may be.
//! - **It costs one round trip per exec**, not per syscall: the filter returns `ALLOW` for
//!   everything but the exec family.
//!
//! # What a record guarantees
//! The pid, the parent pid and the fact that an exec was attempted are exact. The path and argv
//! are read from the caller's memory (`/proc/PID/mem`) while it is stopped in the syscall; another
//! thread of the same process could rewrite that memory between our read and the kernel's, so for
//! a multi-threaded caller they are what the memory held when the call was made, not a proof of
//! what the kernel executed. Records whose notification became invalid before we answered (the
//! caller died) are dropped. An exec that then fails (ENOENT, EACCES, a Landlock denial) is still
//! recorded: it is an attempt. Foreign-ABI execs (i386 `int 0x80`, x32) are recorded without argv;
//! in hardened mode the arch guard kills them anyway.
//!
//! # Modes
//! Installing a filter needs `no_new_privs` or `CAP_SYS_ADMIN`. Hardened mode sets
//! `no_new_privs`, so it always records. Local mode imposes nothing, so it records only when the
//! supervisor holds `CAP_SYS_ADMIN`; otherwise the tree says `"none"` and why.

use std::fs::File;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;

use seccompiler::{sock_filter, BpfProgram};

use crate::broker::Broker;
use crate::report::{ProcessRecord, ProcessTree};
use crate::seccomp::AUDIT_ARCH;
use crate::Error;

/// Processes kept per command; later execs are counted in `dropped`.
pub const MAX_PROCESSES: usize = 1000;
/// Arguments kept per exec.
pub const MAX_ARGS: usize = 256;
/// Bytes of path plus arguments kept per exec.
pub const MAX_ARGV_BYTES: usize = 16 * 1024;
/// Bytes of arguments kept per command, so a receipt stays bounded (1,000 execs of 16 KiB each
/// would be 16 MiB); past it, records keep pid, parent and path, and `argv_truncated` is set.
pub const MAX_TREE_ARGV_BYTES: usize = 1024 * 1024;

pub(crate) const MECHANISM: &str = "seccomp-user-notif";

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const X32_EXECVE: u32 = 0x4000_0000 | 520;
    pub const X32_EXECVEAT: u32 = 0x4000_0000 | 545;
    /// i386 `execve`, `execveat` (the compat ABI reached with `int 0x80`).
    pub const COMPAT_EXECVE: u32 = 11;
    pub const COMPAT_EXECVEAT: u32 = 358;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    /// No x32 on arm64: numbers no syscall has.
    pub const X32_EXECVE: u32 = u32::MAX;
    pub const X32_EXECVEAT: u32 = u32::MAX;
    /// arm32 compat `execve`, `execveat`.
    pub const COMPAT_EXECVE: u32 = 11;
    pub const COMPAT_EXECVEAT: u32 = 387;
}

/// Why this kernel cannot record, if it cannot: it needs `SECCOMP_RET_USER_NOTIF` and the
/// `CONTINUE` answer (Linux 5.5). Without `CONTINUE` an exec could only be faked or refused, so
/// recording is off rather than half-working.
pub(crate) fn unavailable() -> Option<String> {
    let actions = crate::kernel::seccomp_actions().unwrap_or_default();
    if !actions.split_whitespace().any(|w| w == "user_notif") {
        return Some("the kernel lacks seccomp user notification".into());
    }
    if !crate::kernel::release_at_least(5, 5) {
        return Some(format!(
            "kernel {} predates SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5)",
            crate::kernel::release().trim()
        ));
    }
    None
}

/// `exec family → USER_NOTIF; everything else → ALLOW`, for the native and the compat ABI.
pub(crate) fn filter() -> BpfProgram {
    use crate::seccomp::op::{ARCH, JEQ_K, LD_W_ABS, NR, RET_K};
    let s = |code, k| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    let j = |k, jt, jf| sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    };
    let notify = libc::SECCOMP_RET_USER_NOTIF;
    vec![
        /* 0 */ s(LD_W_ABS, ARCH),
        /* 1 */ j(AUDIT_ARCH, 0, 6), // foreign ABI → 8
        /* 2 */ s(LD_W_ABS, NR),
        /* 3 */ j(libc::SYS_execve as u32, 8, 0), // → 12
        /* 4 */ j(libc::SYS_execveat as u32, 7, 0),
        /* 5 */ j(nr::X32_EXECVE, 6, 0),
        /* 6 */ j(nr::X32_EXECVEAT, 5, 0),
        /* 7 */ s(RET_K, libc::SECCOMP_RET_ALLOW),
        /* 8 */ s(LD_W_ABS, NR),
        /* 9 */ j(nr::COMPAT_EXECVE, 2, 0),
        /* 10 */ j(nr::COMPAT_EXECVEAT, 1, 0),
        /* 11 */ s(RET_K, libc::SECCOMP_RET_ALLOW),
        /* 12 */ s(RET_K, notify),
    ]
}

/// The supervisor side: receives each segment's listener fd and answers every notification,
/// recording as it goes.
///
/// It has no thread of its own. The supervisor's thread polls the recorder's fds together with
/// whatever it is waiting for (a child's acknowledgement, the output pipes, the pidfds) and calls
/// [`Recorder::serve`]: an exec that waits for an answer is answered whatever the supervisor is
/// waiting on. A thread of its own cost about 0.2 ms per command (creating and joining it; the
/// first thread of a process is the dearest) for no gain: the exec waits either way.
pub(crate) struct Recorder {
    /// Segments get a duplicate of this end to send their listener over.
    send: OwnedFd,
    /// Where listeners arrive; `None` once it failed.
    recv: Option<OwnedFd>,
    listeners: Vec<Listener>,
    tree: ProcessTree,
    argv_bytes: usize,
}

impl Recorder {
    pub(crate) fn start() -> Result<Recorder, Error> {
        let mut pair = [0 as libc::c_int; 2];
        // SAFETY: socketpair writes two fds into a two-element array.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                pair.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(Error::io(
                "socketpair for the process recorder",
                io::Error::last_os_error(),
            ));
        }
        // SAFETY: both fds were just returned by socketpair and are owned by nobody else.
        let (recv, send) =
            unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
        Ok(Recorder {
            send,
            recv: Some(recv),
            listeners: Vec::new(),
            tree: ProcessTree {
                mechanism: MECHANISM.into(),
                complete: true,
                ..ProcessTree::default()
            },
            argv_bytes: 0,
        })
    }

    /// A socket end for one segment's child to send its listener fd over.
    pub(crate) fn child_end(&self) -> Result<OwnedFd, Error> {
        self.send
            .try_clone()
            .map_err(|e| Error::io("duplicating the recorder socket", e))
    }

    /// Appends the fds to poll for reading: the socket new listeners arrive on, then every
    /// listener. Pass the same entries, after `poll`, to [`Recorder::serve`].
    pub(crate) fn poll_fds(&self, fds: &mut Vec<libc::pollfd>) {
        // poll ignores a negative fd, which keeps the positions fixed.
        fds.push(pollin(self.recv.as_ref().map_or(-1, AsRawFd::as_raw_fd)));
        fds.extend(self.listeners.iter().map(|l| pollin(l.fd.as_raw_fd())));
    }

    /// Handles what `poll` reported for the entries [`Recorder::poll_fds`] added. Notifications
    /// of any call but an exec go to the write broker.
    pub(crate) fn serve(&mut self, polled: &[libc::pollfd], mut broker: Option<&mut Broker>) {
        let Some((socket, listeners)) = polled.split_first() else {
            return;
        };
        // Listeners first, so a pending exec is answered before anything else.
        let mut closed = Vec::new();
        for (i, pfd) in listeners.iter().enumerate().take(self.listeners.len()) {
            if pfd.revents & libc::POLLIN != 0 {
                let listener = self.listeners[i].fd.as_raw_fd();
                let Some(request) = receive(listener) else {
                    continue;
                };
                if is_exec(&request.data) {
                    let ids = self.listeners[i].installer_ids(&request);
                    answer(
                        listener,
                        &request,
                        ids,
                        &mut self.tree,
                        &mut self.argv_bytes,
                    );
                } else {
                    match broker.as_deref_mut() {
                        Some(b) => b.handle(listener, &request),
                        // No broker, no such notification: refuse rather than let it through.
                        None => crate::broker::refuse(listener, request.id, libc::ENOSYS),
                    }
                }
            } else if pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                closed.push(i);
            }
        }
        if !closed.is_empty() {
            // The worker may still be answering on a listener about to close.
            if let Some(b) = broker {
                b.settle();
            }
        }
        for i in closed.into_iter().rev() {
            self.listeners.remove(i);
        }
        if socket.revents & libc::POLLIN != 0 {
            match self.recv.as_ref().and_then(|r| receive_fd(r.as_raw_fd())) {
                Some(fd) => self.listeners.push(Listener {
                    fd,
                    exec_seen: false,
                }),
                None => self.socket_failed(),
            }
        } else if socket.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
            self.socket_failed();
        }
    }

    fn socket_failed(&mut self) {
        if self.recv.take().is_some() {
            self.tree.complete = false;
            self.tree
                .notes
                .push("the recorder's socket failed; later segments were not recorded".into());
        }
    }

    /// Returns what was recorded, once the command's tree is gone (no exec can be pending, but
    /// one answered just before the kill may not have been read yet, so look once more).
    pub(crate) fn finish(mut self, mut broker: Option<&mut Broker>) -> ProcessTree {
        let mut fds = Vec::new();
        self.poll_fds(&mut fds);
        // SAFETY: `fds` is a live, correctly sized array of pollfd; a zero timeout never blocks.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
        if n > 0 {
            self.serve(&fds, broker.as_deref_mut());
        }
        // The listeners close with the recorder: nothing may still answer on them.
        if let Some(b) = broker {
            b.settle();
        }
        self.tree
    }
}

/// One segment's listener.
struct Listener {
    fd: OwnedFd,
    /// Whether an exec was notified on it yet.
    exec_seen: bool,
}

impl Listener {
    /// The thread group id and parent pid of the caller of the first exec notified on this
    /// listener, known without reading `/proc/PID/status`: the segment's child installs the
    /// filter as its last step before `execve`, and until that exec it has neither forked nor
    /// started a thread, so the caller is the child itself (its tid is its pid) and its parent is
    /// this process, which cloned it (without `CLONE_PARENT`). Later execs may come from any
    /// descendant or thread: `None`, and the status file is read.
    fn installer_ids(&mut self, request: &libc::seccomp_notif) -> Option<(u32, u32)> {
        if std::mem::replace(&mut self.exec_seen, true) {
            return None;
        }
        Some((request.pid, std::process::id()))
    }
}

/// A `poll` entry that waits for `fd` to be readable (or hung up).
pub(crate) fn pollin(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Receives one notification; `None` when its caller died before it was received.
fn receive(listener: RawFd) -> Option<libc::seccomp_notif> {
    // SAFETY: seccomp_notif is plain data; the kernel requires it zeroed before NOTIF_RECV.
    let mut request: libc::seccomp_notif = unsafe { mem::zeroed() };
    // SAFETY: NOTIF_RECV writes one seccomp_notif into `request`, which is live and sized for it.
    let rc = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut request) };
    (rc == 0).then_some(request)
}

/// An exec of either ABI (the recorder's own filter notifies foreign-ABI execs too).
fn is_exec(data: &libc::seccomp_data) -> bool {
    let nr = data.nr as u32;
    if data.arch != AUDIT_ARCH {
        return nr == nr::COMPAT_EXECVE || nr == nr::COMPAT_EXECVEAT;
    }
    [
        libc::SYS_execve as u32,
        libc::SYS_execveat as u32,
        nr::X32_EXECVE,
        nr::X32_EXECVEAT,
    ]
    .contains(&nr)
}

/// Records one exec and lets it continue.
fn answer(
    listener: RawFd,
    request: &libc::seccomp_notif,
    known_ids: Option<(u32, u32)>,
    tree: &mut ProcessTree,
    argv_bytes: &mut usize,
) {
    let mut observed = observe(request, known_ids);
    // SAFETY: NOTIF_ID_VALID reads one u64 from a live stack variable.
    let valid =
        unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &request.id) } == 0;
    let response = libc::seccomp_notif_resp {
        id: request.id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from a live stack variable.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &response) };
    if !valid {
        return;
    }
    if tree.processes.len() >= MAX_PROCESSES {
        tree.truncated = true;
        tree.dropped += 1;
        return;
    }
    let size: usize = observed.argv.iter().map(String::len).sum();
    if *argv_bytes + size > MAX_TREE_ARGV_BYTES {
        observed.argv.clear();
        observed.argv_truncated = true;
    } else {
        *argv_bytes += size;
    }
    tree.processes.push(observed);
}

/// Reads what one exec call names from the caller's memory. `known_ids`: the caller's pid and
/// parent pid when the recorder knows them (see [`Listener::installer_ids`]).
fn observe(request: &libc::seccomp_notif, known_ids: Option<(u32, u32)>) -> ProcessRecord {
    let tid = request.pid;
    let (pid, ppid) = known_ids.or_else(|| status_ids(tid)).unwrap_or((tid, 0));
    let mut record = ProcessRecord {
        pid,
        ppid,
        path: String::new(),
        argv: Vec::new(),
        argv_truncated: false,
        argv_read: false,
        path_found: false,
    };
    let data = &request.data;
    let native = data.arch == AUDIT_ARCH && data.nr as u32 & 0x4000_0000 == 0;
    if !native {
        record.path = "(foreign-ABI exec)".into();
        return record;
    }
    let execveat = i64::from(data.nr) == libc::SYS_execveat;
    let (path_ptr, argv_ptr) = if execveat {
        (data.args[1], data.args[2])
    } else {
        (data.args[0], data.args[1])
    };
    let Ok(mem) = File::open(format!("/proc/{tid}/mem")) else {
        return record;
    };
    let mut budget = MAX_ARGV_BYTES;
    let (path, complete) = read_cstr(&mem, path_ptr, &mut budget);
    record.path = match (execveat, path.is_empty()) {
        (true, true) => format!("fd:{}", data.args[0] as i32),
        _ => String::from_utf8_lossy(&path).into_owned(),
    };
    record.path_found = path_found(tid, &path, execveat.then_some(data.args[0] as i32));
    let mut ok = complete;
    if argv_ptr != 0 {
        for i in 0..=MAX_ARGS {
            let mut word = [0u8; 8];
            if mem
                .read_exact_at(&mut word, argv_ptr + 8 * i as u64)
                .is_err()
            {
                ok = false;
                break;
            }
            let arg_ptr = u64::from_ne_bytes(word);
            if arg_ptr == 0 {
                break;
            }
            if i == MAX_ARGS || budget == 0 {
                record.argv_truncated = true;
                break;
            }
            let (arg, complete) = read_cstr(&mem, arg_ptr, &mut budget);
            record.argv.push(String::from_utf8_lossy(&arg).into_owned());
            if !complete {
                // Cut by the budget, or unreadable memory.
                if budget == 0 {
                    record.argv_truncated = true;
                } else {
                    ok = false;
                }
                break;
            }
        }
    }
    record.argv_read = ok;
    record
}

/// Whether `path` exists as the caller sees it: through its root for an absolute path, through
/// its cwd (or the `execveat` directory fd) for a relative one.
fn path_found(tid: u32, path: &[u8], dirfd: Option<i32>) -> bool {
    use std::os::unix::ffi::OsStrExt;
    if path.is_empty() {
        return dirfd.is_some(); // execveat(fd, "", AT_EMPTY_PATH): the fd itself
    }
    let rel = std::ffi::OsStr::from_bytes(path);
    let base = if path.starts_with(b"/") {
        format!("/proc/{tid}/root")
    } else {
        match dirfd {
            Some(fd) if fd != libc::AT_FDCWD => format!("/proc/{tid}/fd/{fd}"),
            _ => format!("/proc/{tid}/cwd"),
        }
    };
    let rel = std::path::Path::new(rel);
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    std::fs::metadata(std::path::Path::new(&base).join(rel)).is_ok()
}

/// A NUL-terminated string at `addr`, at most `budget` bytes (the budget shrinks by what was
/// read); `complete` is false when it was cut or unreadable.
fn read_cstr(mem: &File, addr: u64, budget: &mut usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut chunk = [0u8; 256];
    let mut at = addr;
    while *budget > 0 {
        let want = chunk.len().min(*budget);
        let n = match mem.read_at(&mut chunk[..want], at) {
            Ok(0) | Err(_) => return (out, false),
            Ok(n) => n,
        };
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            *budget -= end;
            return (out, true);
        }
        out.extend_from_slice(&chunk[..n]);
        *budget -= n;
        at += n as u64;
    }
    (out, false)
}

/// The thread group id and parent pid of a thread, from `/proc/TID/status`.
fn status_ids(tid: u32) -> Option<(u32, u32)> {
    use std::io::Read;
    // One read into a buffer that holds the whole file (about 1.5 KiB): `read_to_string` on a
    // /proc file, which reports size 0, grows its buffer from 32 bytes, one syscall per step,
    // and the exec waits for us.
    let mut buf = [0u8; 8192];
    let mut file = File::open(format!("/proc/{tid}/status")).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let status = String::from_utf8_lossy(&buf[..len]);
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((field("Tgid:")?, field("PPid:")?))
}

/// Runs `f` on a message header for one byte of data and one control message (64 bytes, aligned),
/// whose buffers live on this stack frame for the whole call. No allocation, so the child may use
/// it between fork and exec.
fn with_one_byte_message<R>(f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    let mut control = Control([0; 64]);
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain data; zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = control.0.len() as _;
    f(&mut msg)
}

/// Receives one fd sent with SCM_RIGHTS; `None` at EOF or on error.
fn receive_fd(sock: RawFd) -> Option<OwnedFd> {
    with_one_byte_message(|msg| {
        // SAFETY: `msg` points at live buffers (`iov`, `control`) for the duration of the call.
        let n = unsafe { libc::recvmsg(sock, msg, libc::MSG_CMSG_CLOEXEC) };
        if n <= 0 {
            return None;
        }
        // SAFETY: the kernel filled `control` and set msg_controllen; CMSG_FIRSTHDR checks the length.
        let cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
        if cmsg.is_null() {
            return None;
        }
        // SAFETY: `cmsg` is non-null and points into `control`, which outlives this block.
        let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
        if level != libc::SOL_SOCKET || kind != libc::SCM_RIGHTS {
            return None;
        }
        // SAFETY: an SCM_RIGHTS message carries at least one int fd after the header.
        let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>()) };
        // SAFETY: the fd was just received and is owned by nobody else in this process.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

/// Child side, between fork and exec: installs the recording filter with a listener and sends
/// the listener to the supervisor. Async-signal-safe: raw syscalls over prepared data only.
///
/// `wait_killable`: once the supervisor has received a notification, the caller waits for the
/// answer killable only (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, Linux 5.19). The write broker
/// needs it: a call it performs must not be restarted by a signal (a Go program's runtime sends
/// them all the time) and performed twice, with the second answer (`EEXIST`) the one the
/// caller sees. Older kernels refuse the flag (`EINVAL`); the filter is then installed without it.
pub(crate) fn install_and_send(program: &BpfProgram, sock: RawFd, wait_killable: bool) -> bool {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    let install = |flags: libc::c_ulong| {
        // SAFETY: seccomp(2) reads a sock_fprog that points at `program`, live for the call.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog,
            )
        }
    };
    let listener = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    let mut fd = -1;
    if wait_killable {
        fd = install(listener | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    }
    if fd < 0 {
        fd = install(listener);
    }
    if fd < 0 {
        return false;
    }
    let fd = fd as RawFd;
    let sent = send_fd(sock, fd);
    // SAFETY: closes the listener fd this child just received, exactly once; the supervisor has
    // its own copy.
    unsafe { libc::close(fd) };
    sent
}

fn send_fd(sock: RawFd, fd: RawFd) -> bool {
    with_one_byte_message(|msg| {
        // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic on a constant.
        let (space, len) = unsafe {
            (
                libc::CMSG_SPACE(mem::size_of::<libc::c_int>() as u32),
                libc::CMSG_LEN(mem::size_of::<libc::c_int>() as u32),
            )
        };
        msg.msg_controllen = space as _;
        // SAFETY: msg_control points at `control` (64 bytes ≥ CMSG_SPACE(4)), so the first header fits.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(msg);
            if cmsg.is_null() {
                return false;
            }
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = len as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>(), fd);
        }
        // SAFETY: `msg` points at live buffers for the duration of the call.
        unsafe { libc::sendmsg(sock, msg, libc::MSG_NOSIGNAL) == 1 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_jumps_land_on_notify_or_allow() {
        let f = filter();
        assert_eq!(f.len(), 13);
        let target = |pc: usize, off: u8| pc + 1 + off as usize;
        // Native exec family → the notify return.
        for (pc, insn) in f.iter().enumerate().take(7).skip(3) {
            assert_eq!(target(pc, insn.jt), 12, "pc {pc}");
        }
        assert_eq!(target(9, f[9].jt), 12);
        assert_eq!(target(10, f[10].jt), 12);
        // A foreign arch goes to the compat block.
        assert_eq!(target(1, f[1].jf), 8);
        assert_eq!(f[7].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(f[11].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(f[12].k, libc::SECCOMP_RET_USER_NOTIF);
        assert_eq!(f[3].k, libc::SYS_execve as u32);
        assert_eq!(f[4].k, libc::SYS_execveat as u32);
    }
}
