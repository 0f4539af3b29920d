//! Starting one pipeline segment: `clone3` straight into the command's cgroup, the confinement
//! hook, then the exec.
//!
//! # Why not `std::process::Command`
//! A child that joins its cgroup by writing `cgroup.procs` makes the kernel take
//! `cgroup_threadgroup_rwsem` for writing, and that per-CPU semaphore waits for an RCU grace
//! period whenever no other migration happened in the last one. On the project's VM that wait is
//! 5–20 ms for a run that follows the previous one by more than a few milliseconds (the usual case
//! for an agent), and about 0.3 ms back to back, which is all a benchmark loop sees.
//! `clone3(CLONE_INTO_CGROUP)` creates the child inside the cgroup and takes that semaphore only
//! for reading, as every fork does (0.2 ms either way, measured with a C probe). std cannot pass
//! that flag, so this module forks itself. It also gets the pidfd from the same call
//! (`CLONE_PIDFD`) instead of a separate `pidfd_open`.
//!
//! # What the child does, and may do
//! Between `clone3` and `execve` the child is a copy of a possibly multi-threaded process, so it
//! issues only raw syscalls over data prepared here (no allocation, no locks), exactly as std's
//! own `pre_exec` contract demands: reset the signal mask and `SIGPIPE` (Rust ignores it, and an
//! ignored signal survives exec: `yes | head` would stop giving -13), install stdio, `chdir`,
//! apply the confinement (`ChildSetup::apply`, which writes the acknowledgement), point `environ`
//! at the prepared environment and exec: the program found on the command's own `PATH` before
//! the fork, then, if that fails or nothing was found, `execvp` (so a bare name is looked up as
//! std does, with `execvp`'s errors and its `/bin/sh` fallback for scripts without `#!`). If anything before the exec fails, the child writes an `X` record with
//! the errno on the acknowledgement pipe and exits 127; the supervisor then reports what std
//! would have returned as a spawn error.
//!
//! Where `clone3` is refused (seccomp profiles of older container runtimes answer `ENOSYS`), or
//! the kernel predates `CLONE_INTO_CGROUP` (5.7), the segment is started with `fork` and joins its
//! cgroup through `cgroup.procs` as before.

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::child::ChildSetup;

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Set once `clone3` was refused: later segments in this process go straight to `fork`.
static CLONE3_REFUSED: AtomicBool = AtomicBool::new(false);

extern "C" {
    /// The C library's environment, which `execvp` reads `PATH` from.
    static mut environ: *const *const libc::c_char;
}

/// One segment to start: everything the child needs, as C data built before the fork.
pub(crate) struct SpawnRequest {
    argv: Vec<CString>,
    /// `argv[0]` looked up on the command's `PATH` before the fork, when it is a bare name that
    /// names an executable file there. The child tries it first: every name `execvp` tries and
    /// misses is a failed `execve`, and in hardened mode each of those is a round trip to the
    /// exec recorder (six of them for `true` on a default `PATH`).
    program: Option<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    /// Owns the strings `envp_ptrs` points at.
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    cwd: CString,
    /// stdin, stdout, stderr, each at fd 3 or above so `dup2` onto 0–2 never meets itself.
    stdio: [OwnedFd; 3],
}

impl SpawnRequest {
    /// Builds the C strings. `Err` for a NUL byte (the plan is validated for them beforehand).
    pub(crate) fn new(
        argv: &[OsString],
        env: &[(OsString, OsString)],
        cwd: &Path,
        stdio: [OwnedFd; 3],
    ) -> io::Result<SpawnRequest> {
        let c = |bytes: &[u8]| {
            CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        };
        let argv = argv
            .iter()
            .map(|a| c(a.as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        let envp = env
            .iter()
            .map(|(n, v)| {
                let mut pair = n.as_bytes().to_vec();
                pair.push(b'=');
                pair.extend_from_slice(v.as_bytes());
                c(&pair)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let pointers = |strings: &[CString]| {
            let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            ptrs
        };
        let program = argv
            .first()
            .and_then(|name| on_path(name.as_bytes(), env, cwd))
            .map(|path| c(path.as_os_str().as_bytes()))
            .transpose()?;
        let [stdin, stdout, stderr] = stdio;
        Ok(SpawnRequest {
            program,
            argv_ptrs: pointers(&argv),
            envp_ptrs: pointers(&envp),
            argv,
            _envp: envp,
            cwd: c(cwd.as_os_str().as_bytes())?,
            stdio: [
                above_stdio(stdin)?,
                above_stdio(stdout)?,
                above_stdio(stderr)?,
            ],
        })
    }
}

/// The first executable regular file named `name` in the `PATH` of `env`, as `execvp` searches it
/// (relative entries from `cwd`). `None` for a name with a slash, an empty one, or one not found:
/// the child then leaves the whole search, and its errors, to `execvp`.
fn on_path(name: &[u8], env: &[(OsString, OsString)], cwd: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.is_empty() || name.contains(&b'/') {
        return None;
    }
    let path = env
        .iter()
        .find(|(n, _)| n == "PATH")
        .map(|(_, v)| v.clone())
        // glibc's search path when PATH is unset.
        .unwrap_or_else(|| "/bin:/usr/bin".into());
    let name = std::ffi::OsStr::from_bytes(name);
    std::env::split_paths(&path)
        .map(|dir| cwd.join(dir).join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The same file at fd 3 or above, so `dup2` onto 0–2 never meets itself: a process embedding the
/// library with fds 0–2 closed (Rust binaries reopen them at start-up; others may not) gets pipes
/// there.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on an fd we own returns a new fd or -1.
    let dup = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// A started segment: its pid and, when the kernel gave one, a pidfd to poll for its exit.
pub(crate) struct ChildProcess {
    pid: libc::pid_t,
    reaped: bool,
}

impl ChildProcess {
    pub(crate) fn id(&self) -> u32 {
        self.pid as u32
    }

    /// The exit status if the child has exited (reaping it), else `None`.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_with(libc::WNOHANG)
    }

    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        loop {
            match self.wait_with(0) {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn wait_with(&mut self, flags: libc::c_int) -> io::Result<Option<ExitStatus>> {
        if self.reaped {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child's pid with a valid status pointer.
        let rc = unsafe { libc::waitpid(self.pid, &mut status, flags) };
        match rc {
            0 => Ok(None),
            r if r == self.pid => {
                self.reaped = true;
                Ok(Some(ExitStatus::from_raw(status)))
            }
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// SIGKILL, unless already reaped (its pid may then belong to someone else).
    pub(crate) fn kill(&mut self) {
        if !self.reaped {
            // SAFETY: kill(2) on our own unreaped child (a zombie keeps its pid).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }
}

/// Starts one segment. `cgroup_dir` is the command cgroup's directory fd: the child is created
/// inside it. `Err` only when no child could be created; a child whose exec failed is reported
/// through the acknowledgement pipe (`X` record) and exits 127.
pub(crate) fn spawn(
    request: &SpawnRequest,
    setup: &mut ChildSetup,
    cgroup_dir: Option<RawFd>,
) -> io::Result<(ChildProcess, Option<OwnedFd>)> {
    let mut pidfd: libc::c_int = -1;
    let mut rc: libc::c_long = -1;
    let mut clone3_refused = CLONE3_REFUSED.load(Ordering::Relaxed);
    if !clone3_refused {
        let mut args = CloneArgs {
            flags: CLONE_PIDFD,
            pidfd: std::ptr::addr_of_mut!(pidfd) as u64,
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        };
        if let Some(dir) = cgroup_dir {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = dir as u64;
        }
        // SAFETY: clone3 without CLONE_VM is fork with extra flags: the child gets a copy-on-write
        // copy of this address space and returns 0 here; `args` is live and sized as declared.
        rc = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &mut args as *mut CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            // ENOSYS or EPERM: a seccomp profile refuses clone3; E2BIG or EINVAL: a kernel that
            // does not know this size of `clone_args` or CLONE_INTO_CGROUP (before 5.7).
            match e.raw_os_error() {
                Some(libc::ENOSYS | libc::E2BIG | libc::EINVAL | libc::EPERM) => {
                    CLONE3_REFUSED.store(true, Ordering::Relaxed);
                    clone3_refused = true;
                }
                _ => return Err(e),
            }
        }
    }
    if clone3_refused {
        // SAFETY: fork in a multi-threaded process; the child below only issues async-signal-safe
        // calls before exec (the same contract as std's pre_exec).
        rc = libc::c_long::from(unsafe { libc::fork() });
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
    } else {
        // Born inside the cgroup: nothing to write to `cgroup.procs`.
        setup.joined_cgroup_at_clone = cgroup_dir.is_some();
    }
    if rc == 0 {
        // SAFETY: we are the child; `run_child` never returns and only issues raw syscalls.
        unsafe { run_child(request, setup) }
    }
    let pid = rc as libc::pid_t;
    // SAFETY: with CLONE_PIDFD the kernel stored a new pidfd we own; -1 means none (fork path).
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok((ChildProcess { pid, reaped: false }, pidfd))
}

/// The child, from clone to exec. Never returns.
///
/// # Safety
/// Must be called only in a freshly forked child, which then owns copies of every fd.
unsafe fn run_child(request: &SpawnRequest, setup: &mut ChildSetup) -> ! {
    let exec_failed = |setup: &ChildSetup| -> ! {
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        setup.report_exec_failure(errno);
        // SAFETY: _exit ends the child without running the parent's atexit handlers or destructors.
        unsafe { libc::_exit(127) }
    };
    // SAFETY: async-signal-safe syscalls over data prepared before the fork; `empty` is a live
    // sigset on our stack, the fds and the cwd string belong to `request`.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        for (target, fd) in request.stdio.iter().enumerate() {
            if libc::dup2(fd.as_raw_fd(), target as libc::c_int) < 0 {
                exec_failed(setup);
            }
        }
        if libc::chdir(request.cwd.as_ptr()) != 0 {
            exec_failed(setup);
        }
    }
    if setup.apply().is_err() {
        // The failed step was acknowledged with its errno; nothing may run.
        // SAFETY: see above.
        unsafe { libc::_exit(126) }
    }
    // SAFETY: this child has a single thread, so nothing else reads `environ`; the pointers point
    // into `request`, which stays in this address space until execvp replaces it.
    unsafe {
        std::ptr::addr_of_mut!(environ).write(request.envp_ptrs.as_ptr());
        if let Some(program) = &request.program {
            // Only if it fails (the sandbox denies it, or it is a script without `#!`, which
            // only `execvp` hands to /bin/sh) does the full search below run.
            libc::execv(program.as_ptr(), request.argv_ptrs.as_ptr());
        }
        libc::execvp(request.argv[0].as_ptr(), request.argv_ptrs.as_ptr());
    }
    exec_failed(setup)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_nul_byte_cannot_reach_the_child() {
        let null = || OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let bad = SpawnRequest::new(
            &["a\0b".into()],
            &[],
            Path::new("/"),
            [null(), null(), null()],
        );
        assert_eq!(bad.err().unwrap().raw_os_error(), Some(libc::EINVAL));
    }
}
