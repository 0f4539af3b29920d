//! The thread that performs mediated calls, with no more authority than the command itself.
//!
//! The supervisor is not confined (it writes receipts, manages cgroups, reads `/proc`), so the
//! call a command asked for is never made by it. It is made by this thread, which first:
//! - gives itself its own `fs_struct` (`unshare(CLONE_FS)`), so it can take the caller's umask
//!   for each creation without changing the supervisor's;
//! - drops every capability of this thread (capabilities are per thread), so file permission
//!   checks are the ones the command, which holds none, gets;
//! - restricts itself with the command's own Landlock ruleset (Landlock domains are per thread,
//!   and `no_new_privs` is set for this thread only).
//!
//! Every call is made relative to directory fds the supervisor opened inside the command's mount
//! namespace, so the command's read-only bind mounts apply too. A file reached through a magic
//! link is reopened through this thread's own `/proc/thread-self/fd/N`, which the kernel checks
//! (permissions, Landlock) as a fresh open of that file.
//!
//! Threads started from this one (a FIFO open that must block) inherit all three restrictions.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use landlock::{RestrictionStatus, RulesetCreated, RulesetStatus};

/// One call to make. Directory and file fds are the supervisor's, borrowed for the duration of
/// the call: the supervisor waits for the outcome before it closes them.
#[derive(Debug)]
pub(crate) enum Op {
    Open {
        parent: RawFd,
        name: CString,
        flags: i32,
        mode: u32,
        /// The caller's umask, when the open may create.
        umask: Option<u32>,
        /// Set when the name is a FIFO an open could block on.
        fifo: Option<FifoWait>,
    },
    /// Opens a file reached through a magic link (`/proc/PID/fd/N`) again, with `flags`.
    Reopen {
        object: RawFd,
        flags: i32,
        fifo: Option<FifoWait>,
    },
    Mkdir {
        parent: RawFd,
        name: CString,
        mode: u32,
        umask: u32,
    },
    Mknod {
        parent: RawFd,
        name: CString,
        mode: u32,
        dev: u64,
        umask: u32,
    },
    Symlink {
        target: CString,
        parent: RawFd,
        name: CString,
    },
    Unlink {
        parent: RawFd,
        name: CString,
        dir: bool,
    },
    Rename {
        from_parent: RawFd,
        from_name: CString,
        to_parent: RawFd,
        to_name: CString,
        flags: u32,
    },
    /// `linkat` of an entry (not following a final symlink) or of a file reached through a
    /// magic link or `AT_SYMLINK_FOLLOW` (linked through `/proc/thread-self/fd/N`).
    Link {
        from: LinkFrom,
        to_parent: RawFd,
        to_name: CString,
    },
    Truncate {
        object: RawFd,
        length: i64,
    },
    Chmod {
        object: RawFd,
        mode: u32,
    },
    /// Access and modification times of the file itself (a symlink too, held by an `O_PATH`
    /// descriptor); `None` for "now".
    Times {
        object: RawFd,
        times: Option<[(i64, i64); 2]>,
    },
    SetXattr {
        object: RawFd,
        name: CString,
        value: Vec<u8>,
        flags: i32,
    },
    RemoveXattr {
        object: RawFd,
        name: CString,
    },
    /// Owner and group of the file itself (a symlink too, held by an `O_PATH` descriptor).
    Chown {
        object: RawFd,
        uid: u32,
        gid: u32,
    },
    /// A checked rewrite of a git config (`config.rs`): `text` written over `name` in `dir` in
    /// place (the inode `expect`, or a new file with `mode` when `None`), then the lock it
    /// came from removed.
    WriteConfig {
        dir: RawFd,
        name: CString,
        expect: Option<(u64, u64)>,
        mode: u32,
        text: Vec<u8>,
        lock_parent: RawFd,
        lock_name: CString,
    },
}

#[derive(Debug)]
pub(crate) enum LinkFrom {
    Entry { parent: RawFd, name: CString },
    Object(RawFd),
}

/// What a blocking FIFO open needs to answer the caller itself, later, from its own thread.
#[derive(Debug)]
pub(crate) struct FifoWait {
    pub listener: OwnedFd,
    pub id: u64,
    pub cloexec: bool,
    /// Where the supervisor finds the FIFOs still being waited on when the command ends.
    pub registry: Arc<Mutex<Vec<(u64, OwnedFd)>>>,
    /// An `O_PATH` fd of the FIFO, owned by the waiter.
    pub fifo: OwnedFd,
}

/// The result of one call.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The syscall's return value.
    Done(i64),
    /// A new open file for the caller.
    File(OwnedFd),
    Errno(i32),
    /// A FIFO open is blocked in its own thread, which answers the caller when it opens.
    Waiting,
}

/// Where the worker answers a call: the caller's notification.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reply {
    /// The listener the notification came from; the supervisor keeps it open until the call
    /// is settled ([`Worker::completion`]).
    pub listener: RawFd,
    pub id: u64,
    /// A new file is installed close-on-exec.
    pub cloexec: bool,
    /// The worker answers the caller as soon as the call is made. When the observer must hear
    /// of it first (while the command, and its mount namespace, still exist), the outcome goes
    /// back to the supervisor instead.
    pub answer_here: bool,
}

/// How a call ended, for the supervisor.
#[derive(Debug)]
pub(crate) enum Completion {
    /// The worker answered the caller; true when the call succeeded.
    Answered(bool),
    /// The supervisor answers ([`Reply::answer_here`] was false).
    Unanswered(Outcome),
}

/// The running thread and its two channels.
pub(crate) struct Worker {
    jobs: Sender<(Op, Reply)>,
    /// For each call, in order, how it ended.
    completions: Receiver<Completion>,
}

impl Worker {
    /// Starts the thread and waits until it has restricted itself; `Err` says why it could not.
    pub(crate) fn start(ruleset: RulesetCreated) -> Result<Worker, String> {
        let (jobs, job_rx) = channel::<(Op, Reply)>();
        let (done_tx, completions) = channel::<Completion>();
        let (ready_tx, ready_rx) = channel::<Result<(), String>>();
        std::thread::Builder::new()
            .name("cordon-broker".into())
            .spawn(move || {
                block_signals();
                let ready = restrict(ruleset);
                let ok = ready.is_ok();
                if ready_tx.send(ready).is_err() || !ok {
                    return;
                }
                let mut umask = None;
                for (op, reply) in job_rx {
                    let outcome = perform(op, &mut umask);
                    let completion = if reply.answer_here {
                        let succeeded = matches!(outcome, Outcome::Done(_) | Outcome::File(_));
                        super::answer(reply.listener, reply.id, outcome, reply.cloexec);
                        Completion::Answered(succeeded)
                    } else {
                        Completion::Unanswered(outcome)
                    };
                    if done_tx.send(completion).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("starting the broker thread: {e}"))?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Worker { jobs, completions }),
            Ok(Err(why)) => Err(why),
            Err(_) => Err("the broker thread ended before restricting itself".into()),
        }
    }

    /// Hands one call to the thread, which makes it and answers the caller. Every submission
    /// is followed by one [`Worker::completion`].
    pub(crate) fn submit(&self, op: Op, reply: Reply) {
        if self.jobs.send((op, reply)).is_err() {
            super::answer(reply.listener, reply.id, Outcome::Errno(libc::EIO), false);
        }
    }

    /// Waits until the last submitted call is done. The supervisor's thread is woken only
    /// here, when it next needs the worker, not after every call.
    pub(crate) fn completion(&self) -> Completion {
        self.completions
            .recv()
            .unwrap_or(Completion::Unanswered(Outcome::Errno(libc::EIO)))
    }
}

/// Signals go to the supervisor's other threads: a handled signal must not interrupt a call
/// made for the command (a blocked FIFO open would return `EINTR` to a caller that got none).
/// Threads started from this one inherit the mask.
fn block_signals() {
    // SAFETY: sigset_t is plain data; sigfillset initializes it.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `all` is a live sigset_t; pthread_sigmask changes only this thread's mask.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// The restrictions of the module comment, in order; any failure stops the thread.
fn restrict(ruleset: RulesetCreated) -> Result<(), String> {
    // SAFETY: unshare with an integer flag; affects only this thread's fs_struct.
    if unsafe { libc::unshare(libc::CLONE_FS) } != 0 {
        return Err(format!(
            "unshare(CLONE_FS) for the broker thread: {}",
            std::io::Error::last_os_error()
        ));
    }
    drop_thread_capabilities()?;
    match ruleset.restrict_self() {
        Ok(RestrictionStatus {
            ruleset: RulesetStatus::FullyEnforced,
            ..
        }) => Ok(()),
        Ok(status) => Err(format!(
            "the broker thread's Landlock ruleset was not fully enforced ({:?})",
            status.ruleset
        )),
        Err(e) => Err(format!("restricting the broker thread with Landlock: {e}")),
    }
}

/// Empties this thread's effective, permitted and inheritable sets (`capset` with pid 0 changes
/// the calling thread only) and checks they are empty.
fn drop_thread_capabilities() -> Result<(), String> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    let mut header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut data = [crate::kernel::CapData::default(); 2];
    // SAFETY: capset reads a v3 header and two zeroed data structs from this stack frame.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
        return Err(format!(
            "dropping the broker thread's capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: capget writes two data structs into `data`, which has room for exactly two.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0
        || data
            .iter()
            .any(|d| d.effective | d.permitted | d.inheritable != 0)
    {
        return Err("the broker thread still holds capabilities".into());
    }
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A syscall's integer result as an outcome.
fn done(rc: libc::c_int) -> Outcome {
    if rc < 0 {
        Outcome::Errno(errno())
    } else {
        Outcome::Done(i64::from(rc))
    }
}

fn file(fd: libc::c_int) -> Outcome {
    if fd < 0 {
        Outcome::Errno(errno())
    } else {
        // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
        Outcome::File(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Flags that make no sense when reopening an existing file through its magic link: it exists
/// (`O_CREAT`, `O_EXCL`), and the magic link itself must be followed (`O_NOFOLLOW`).
const MAGIC_UNFIT: i32 = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;

/// `/proc/thread-self/fd/N`: the path through which this thread reopens or links one of the
/// process's fds.
fn magic(fd: RawFd) -> CString {
    CString::new(format!("/proc/thread-self/fd/{fd}")).unwrap_or_default()
}

/// Runs with this thread's umask set to the caller's (`current`: what it was set to last).
fn with_umask<T>(umask: Option<u32>, current: &mut Option<u32>, f: impl FnOnce() -> T) -> T {
    if let (Some(umask), false) = (umask, *current == umask) {
        // SAFETY: umask changes only this thread's fs_struct (unshared at start).
        unsafe { libc::umask(umask as libc::mode_t) };
        *current = Some(umask);
    }
    f()
}

fn perform(op: Op, umask_now: &mut Option<u32>) -> Outcome {
    match op {
        Op::Open {
            parent,
            name,
            flags,
            mode,
            umask,
            fifo,
        } => with_umask(umask, umask_now, || {
            open_maybe_fifo(fifo, flags, |flags| {
                // SAFETY: `name` is NUL-terminated; `parent` is a live directory fd.
                unsafe { libc::openat(parent, name.as_ptr(), flags, mode) }
            })
        }),
        Op::Reopen {
            object,
            flags,
            fifo,
        } => reopen(object, flags, fifo),
        Op::Mkdir {
            parent,
            name,
            mode,
            umask,
        } => with_umask(Some(umask), umask_now, || {
            // SAFETY: `name` is NUL-terminated; `parent` is a live directory fd.
            done(unsafe { libc::mkdirat(parent, name.as_ptr(), mode) })
        }),
        Op::Mknod {
            parent,
            name,
            mode,
            dev,
            umask,
        } => with_umask(Some(umask), umask_now, || {
            // SAFETY: `name` is NUL-terminated; `parent` is a live directory fd.
            done(unsafe { libc::mknodat(parent, name.as_ptr(), mode, dev) })
        }),
        Op::Symlink {
            target,
            parent,
            name,
        } => {
            // SAFETY: both strings are NUL-terminated; `parent` is a live directory fd.
            done(unsafe { libc::symlinkat(target.as_ptr(), parent, name.as_ptr()) })
        }
        Op::Unlink { parent, name, dir } => {
            let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
            // SAFETY: `name` is NUL-terminated; `parent` is a live directory fd.
            done(unsafe { libc::unlinkat(parent, name.as_ptr(), flags) })
        }
        Op::Rename {
            from_parent,
            from_name,
            to_parent,
            to_name,
            flags,
        } => rename((from_parent, &from_name), (to_parent, &to_name), flags),
        Op::Link {
            from,
            to_parent,
            to_name,
        } => link(from, to_parent, &to_name),
        Op::Truncate { object, length } => {
            let path = magic(object);
            // SAFETY: `path` is NUL-terminated.
            done(unsafe { libc::truncate(path.as_ptr(), length) })
        }
        Op::Chmod { object, mode } => {
            // The magic link reaches the inode the broker placed, whatever its name is now.
            let path = magic(object);
            // SAFETY: `path` is NUL-terminated.
            done(unsafe { libc::chmod(path.as_ptr(), mode) })
        }
        Op::Times { object, times } => set_times(object, times),
        Op::SetXattr {
            object,
            name,
            value,
            flags,
        } => {
            let path = magic(object);
            // SAFETY: `path` and `name` are NUL-terminated; `value` is live for `value.len()`
            // bytes.
            done(unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    value.as_ptr().cast(),
                    value.len(),
                    flags,
                )
            })
        }
        Op::Chown { object, uid, gid } => {
            // SAFETY: the path is an empty NUL-terminated string; `object` is a live descriptor.
            done(unsafe { libc::fchownat(object, c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) })
        }
        Op::RemoveXattr { object, name } => {
            let path = magic(object);
            // SAFETY: `path` and `name` are NUL-terminated.
            done(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) })
        }
        Op::WriteConfig {
            dir,
            name,
            expect,
            mode,
            text,
            lock_parent,
            lock_name,
        } => {
            let written = with_umask(Some(0), umask_now, || {
                write_config(dir, &name, expect, mode, &text)
            });
            match written {
                // SAFETY: `lock_name` is NUL-terminated; `lock_parent` is a live directory fd.
                Ok(()) => done(unsafe { libc::unlinkat(lock_parent, lock_name.as_ptr(), 0) }),
                Err(e) => Outcome::Errno(e),
            }
        }
    }
}

/// Writes `text` over the regular file `name` in `dir`, in place: the inode `expect`, or a new
/// file when `None` (then it may not exist yet).
fn write_config(
    dir: RawFd,
    name: &CString,
    expect: Option<(u64, u64)>,
    mode: u32,
    text: &[u8],
) -> Result<(), i32> {
    let mut flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    if expect.is_none() {
        flags |= libc::O_CREAT | libc::O_EXCL;
    }
    // SAFETY: `name` is NUL-terminated; `dir` is a live directory fd.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags, mode) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let stat = file
        .metadata()
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
    let same = expect.is_none_or(|id| id == (stat.dev(), stat.ino()));
    if !stat.is_file() || !same {
        return Err(libc::EROFS);
    }
    let io = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    file.write_all_at(text, 0).map_err(io)?;
    file.set_len(text.len() as u64).map_err(io)
}

/// `utimensat` of the file `object` holds, with an empty path: the descriptor's own file, a
/// symlink included, never one a link leads on to.
fn set_times(object: RawFd, times: Option<[(i64, i64); 2]>) -> Outcome {
    let spec = times.map(|pair| {
        pair.map(|(sec, nsec)| libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        })
    });
    let ptr = spec.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: the path is an empty NUL-terminated string; `ptr` is null or points at two live
    // timespecs; `object` is a live descriptor.
    done(unsafe { libc::utimensat(object, c"".as_ptr(), ptr, libc::AT_EMPTY_PATH) })
}

/// Opens a file the caller holds anew, through its `/proc/thread-self/fd` name.
fn reopen(object: RawFd, flags: i32, fifo: Option<FifoWait>) -> Outcome {
    let path = magic(object);
    let flags = flags & !MAGIC_UNFIT;
    open_maybe_fifo(fifo, flags, |flags| {
        // SAFETY: `path` is NUL-terminated.
        unsafe { libc::open(path.as_ptr(), flags) }
    })
}

/// `renameat2` of the entry `from` (parent fd, name) to `to`.
fn rename(from: (RawFd, &CStr), to: (RawFd, &CStr), flags: u32) -> Outcome {
    // SAFETY: both names are NUL-terminated; both parents are live directory fds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            from.0,
            from.1.as_ptr(),
            to.0,
            to.1.as_ptr(),
            flags,
        )
    };
    done(rc as libc::c_int)
}

fn link(from: LinkFrom, to_parent: RawFd, to_name: &CStr) -> Outcome {
    let (dir, name, flags) = match &from {
        LinkFrom::Entry { parent, name } => (*parent, name.clone(), 0),
        LinkFrom::Object(fd) => (libc::AT_FDCWD, magic(*fd), libc::AT_SYMLINK_FOLLOW),
    };
    // SAFETY: both names are NUL-terminated; the fds are live (or AT_FDCWD with an absolute path).
    done(unsafe { libc::linkat(dir, name.as_ptr(), to_parent, to_name.as_ptr(), flags) })
}

/// Opens with `open`; a FIFO that might block is opened without blocking this thread: directly
/// when a counterpart is already there (a writer finds a reader), otherwise on a thread of its
/// own that answers the caller when the open completes.
fn open_maybe_fifo(
    fifo: Option<FifoWait>,
    flags: i32,
    open: impl Fn(i32) -> libc::c_int,
) -> Outcome {
    let Some(wait) = fifo else {
        return file(open(flags));
    };
    if flags & libc::O_ACCMODE == libc::O_WRONLY {
        let fd = open(flags | libc::O_NONBLOCK);
        if fd >= 0 {
            // A reader is there: the blocking open would have returned at once.
            // SAFETY: fcntl on the fd just opened; F_SETFL with integer flags.
            unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_CREAT) };
            return file(fd);
        }
        if errno() != libc::ENXIO {
            return Outcome::Errno(errno());
        }
    }
    wait_in_own_thread(wait, flags)
}

/// The blocking open of a FIFO, on a thread that inherits this one's restrictions; it answers
/// the notification itself. The supervisor unblocks it when the command ends.
fn wait_in_own_thread(wait: FifoWait, flags: i32) -> Outcome {
    let registered = match wait.fifo.try_clone() {
        Ok(fd) => fd,
        Err(e) => return Outcome::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    let (registry, wait_id) = (Arc::clone(&wait.registry), wait.id);
    if let Ok(mut list) = registry.lock() {
        list.push((wait_id, registered));
    }
    let spawned = std::thread::Builder::new()
        .name("cordon-broker-fifo".into())
        .spawn(move || {
            let path = magic(wait.fifo.as_raw_fd());
            // SAFETY: `path` is NUL-terminated.
            let fd = unsafe { libc::open(path.as_ptr(), flags & !MAGIC_UNFIT) };
            let outcome = file(fd);
            super::answer(wait.listener.as_raw_fd(), wait.id, outcome, wait.cloexec);
            if let Ok(mut list) = wait.registry.lock() {
                list.retain(|(id, _)| *id != wait.id);
            }
        });
    match spawned {
        Ok(_) => Outcome::Waiting,
        Err(_) => {
            if let Ok(mut list) = registry.lock() {
                list.retain(|(id, _)| *id != wait_id);
            }
            Outcome::Errno(libc::EAGAIN)
        }
    }
}
