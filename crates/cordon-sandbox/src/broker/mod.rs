//! The write broker: every syscall of a hardened command that creates, changes or removes a
//! directory entry, a file's contents or its mode is performed by the supervisor's restricted
//! worker thread instead of the kernel's own path lookup, so that
//! - a protected name (`.git/commondir`, `.git/hooks`, `.claude/settings.json`, …) cannot be
//!   created, changed, removed or reached *whether or not it exists when the run starts*, which
//!   Landlock (it grants whole inode trees) and bind mounts (they need an existing mount point)
//!   cannot do;
//! - a mode changes only inside the paths Landlock lets the command write (Landlock governs no
//!   modes, so without this a command could open any file its user owns to other users); and
//! - a checkpoint can copy what a command overwrites, truncates, removes or renames over *before*
//!   the change, so that it costs what the command changes ([`WriteObserver`]).
//!
//! # How a call goes
//! The listener filter (`filter.rs`) sends these syscalls to the seccomp listener the exec
//! recorder already has (the kernel allows one listener per filter chain), and the supervisor's
//! one thread answers them in its poll loop (`processes.rs`):
//! 1. The paths are read once from the caller's memory (`call.rs`), the directories they start
//!    from are opened through `/proc/TID/{cwd,fd/N,root}`, and only then is the notification
//!    checked to be still valid (`SECCOMP_IOCTL_NOTIF_ID_VALID`): the thread id was the caller's
//!    throughout.
//! 2. The path is resolved from those directories, in the caller's mount namespace, by
//!    `walk.rs`, which refuses protected names (`protected.rs`) with `EROFS`. The walk runs with
//!    this thread's `CAP_DAC_OVERRIDE`/`CAP_DAC_READ_SEARCH` lowered, so it can search no
//!    directory the command could not.
//! 3. The observer, if any, is told of the entry about to change. A name git reads (`.git`,
//!    `config`, `HEAD`, `hooks`, a hook's name) is noted with its directory, which `repos.rs`
//!    looks at once the command's processes are gone.
//! 4. The call itself is made by the worker thread (`worker.rs`), restricted like the command
//!    (Landlock ruleset, no capabilities, the caller's umask), on the directory fds of step 2,
//!    and the worker hands the result back itself: a value or an errno
//!    (`SECCOMP_IOCTL_NOTIF_SEND`), or the new file installed in the caller
//!    (`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SEND`, keeping `O_CLOEXEC`).
//! 5. Before the next call (or when an observer listens, at once) the supervisor settles this
//!    one: it waits for the worker and tells the observer what was created or moved.
//!
//! A mediated call is never let through to the kernel (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) after
//! its path was looked at: the caller's memory and the filesystem could both change before the
//! kernel's own lookup. Calls are answered one at a time, so the command's own changes to the
//! namespace are serialized with what the broker checks.
//!
//! The worker is not in the caller's mount namespace, and the kernel judges one thing by the
//! calling thread's namespace: whether an entry is a mount point (`EBUSY` for rename, unlink,
//! rmdir). The broker checks that itself (`walk::is_mount_point`), so the pinned `.git` stays
//! busy.
//!
//! Anything that goes wrong in the broker refuses the call (fail closed) and is noted in the
//! report. Read-only work never reaches it: plain read-only opens stay in the kernel.

mod call;
mod config;
mod filter;
mod observer;
mod protected;
mod remotes;
mod walk;
mod worker;

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};

use landlock::RulesetCreated;

pub(crate) use filter::program;
pub use observer::{
    fd_path, Applied, ChangeKind, EntryRef, NameChange, ObserverError, Victim, WriteObserver,
};
pub(crate) use protected::ProtectedSet;

use call::{Call, Dirfd, PathArg};
use protected::DirId;
use walk::{Allowance, Denial, Existing, Resolved, Walker, Want};
use worker::{Completion, FifoWait, LinkFrom, Op, Outcome, Reply, Worker};

use crate::report::{BrokerRefusal, BrokerReport};

/// Refusals of protected names kept in the report; later ones are counted.
pub const MAX_REPORTED_REFUSALS: usize = 100;

/// Why this kernel cannot run the broker, if it cannot: it needs seccomp user notification and
/// `SECCOMP_ADDFD_FLAG_SEND` (Linux 5.14) to hand a new file to the caller atomically.
pub(crate) fn unavailable() -> Option<String> {
    let actions = crate::kernel::seccomp_actions().unwrap_or_default();
    if !actions.split_whitespace().any(|w| w == "user_notif") {
        return Some("the kernel lacks seccomp user notification".into());
    }
    if !crate::kernel::release_at_least(5, 14) {
        return Some(format!(
            "kernel {} predates SECCOMP_ADDFD_FLAG_SEND (Linux 5.14)",
            crate::kernel::release().trim()
        ));
    }
    None
}

/// What the broker needs to know about the caller from `/proc/TID/status`.
pub(crate) struct CallerStatus {
    pub tgid: libc::pid_t,
    pub umask: u32,
}

/// Reads `/proc/TID/status`: one read into a buffer that holds it (`Umask` and `Tgid` are among
/// its first lines; a second read only if they were not in the first).
pub(crate) fn caller_status(tid: libc::pid_t) -> Option<CallerStatus> {
    use std::io::Read;
    let mut buf = [0u8; 8192];
    let mut file = std::fs::File::open(format!("/proc/{tid}/status")).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        if let Some(status) = parse_status(&buf[..len]) {
            return Some(status);
        }
    }
    None
}

/// `Tgid` and `Umask` from complete lines of a status file (a read may end inside a line).
fn parse_status(text: &[u8]) -> Option<CallerStatus> {
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&text[..complete]).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    Some(CallerStatus {
        tgid: field("Tgid:")?.parse().ok()?,
        umask: u32::from_str_radix(field("Umask:")?, 8).ok()?,
    })
}

/// Answers one notification with `outcome`.
pub(crate) fn answer(listener: RawFd, id: u64, outcome: Outcome, cloexec: bool) {
    let (val, error) = match outcome {
        Outcome::Waiting => return,
        Outcome::Done(v) => (v, 0),
        Outcome::Errno(e) => (0, -e),
        Outcome::File(fd) => {
            let add = libc::seccomp_notif_addfd {
                id,
                flags: libc::SECCOMP_ADDFD_FLAG_SEND as u32,
                srcfd: fd.as_raw_fd() as u32,
                newfd: 0,
                newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
            };
            // SAFETY: NOTIF_ADDFD reads one seccomp_notif_addfd from a live stack variable; with
            // ADDFD_FLAG_SEND it also completes the call with the new fd number.
            let rc = unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ADDFD, &add) };
            if rc >= 0 {
                return;
            }
            // The caller is gone (ENOENT) or out of fds (EMFILE): answer with that instead.
            let e = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            (0, -e)
        }
    };
    let response = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags: 0,
    };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from a live stack variable.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &response) };
}

/// Answers one notification with an error.
pub(crate) fn refuse(listener: RawFd, id: u64, errno: i32) {
    answer(listener, id, Outcome::Errno(errno), false);
}

/// Whether notification `id` is still pending (its caller still waits in the syscall).
fn still_pending(listener: RawFd, id: u64) -> bool {
    // SAFETY: NOTIF_ID_VALID reads one u64 from a live stack variable.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 }
}

/// The run's broker: the protected set and the worker thread (both made at the first mediated
/// call), the observer and what the report says.
pub(crate) struct Broker {
    protected: LazySet,
    /// Where the command may change things.
    roots: Writable,
    /// For the worker, taken when it starts.
    ruleset: Option<RulesetCreated>,
    worker: Option<Worker>,
    worker_failed: Option<String>,
    /// The call the worker is making or has made, not yet settled.
    pending: Option<Pending>,
    observer: Option<Arc<dyn WriteObserver>>,
    /// Inodes already handed to the observer, and inodes the command created.
    seen: HashSet<(u64, u64)>,
    created: HashSet<(u64, u64)>,
    file_size_limit: Option<u64>,
    /// FIFO opens blocked on their own threads: notification id and an `O_PATH` fd of the FIFO.
    waits: Arc<Mutex<Vec<(u64, OwnedFd)>>>,
    report: BrokerReport,
    /// Directories in which a call changed a name git reads (`repos.rs`), each once.
    git_touched: crate::repos::TouchedDirs,
    git_names_seen: HashSet<(u64, u64, CString)>,
    /// The envelope's never names (`.env`, `*.pem`): a file by such a name gets no second name.
    never_names: Option<cordon_core::name_glob::NameGlobs>,
    /// The remote URLs commands added to protected repositories (`remotes.rs`).
    added_remotes: remotes::AddedRemotes,
}

/// The protected set, keyed by inode at the first mediated call of the run from what
/// `protect.rs` found at its start. Until that call the command has changed nothing in the
/// namespace (every change is a mediated call), so the directories are the ones the run started
/// with, and a run that never writes never pays for looking them up.
#[derive(Default)]
struct LazySet {
    found: crate::protect::Protected,
    set: Option<ProtectedSet>,
}

impl LazySet {
    fn get(&mut self, roots: &Writable) -> &ProtectedSet {
        let found = &self.found;
        self.set
            .get_or_insert_with(|| ProtectedSet::new(found, &roots.roots, &roots.granted))
    }
}

/// Where the command may change things.
#[derive(Default, Clone)]
pub(crate) struct Writable {
    /// The writable roots as granted before carving (a grant inside a protected name overrides
    /// it).
    pub roots: Vec<std::path::PathBuf>,
    /// The paths Landlock grants write access beneath (after carving, with the private TMPDIR).
    pub granted: Vec<std::path::PathBuf>,
}

impl Writable {
    /// Whether Landlock lets the command change entries of the directory `dir` (its path as
    /// the kernel names it). The broker refuses on its own account (a mount point) only where
    /// Landlock would not refuse first, so the command gets the errno it would without it.
    fn changeable(&self, dir: BorrowedFd<'_>) -> bool {
        fd_path(dir).is_ok_and(|p| self.granted.iter().any(|w| p.starts_with(w)))
    }
}

/// A call ready for the worker: the op, the fds it refers to (kept open until it is done), and
/// what the observer is told if it succeeds.
struct Submission {
    op: Op,
    cloexec: bool,
    keep: Vec<OwnedFd>,
    after: After,
}

impl Submission {
    fn new(op: Op, keep: Vec<OwnedFd>, after: After) -> Submission {
        Submission {
            op,
            cloexec: false,
            keep,
            after,
        }
    }
}

/// What a successful call did to the namespace, for the observer.
enum After {
    Nothing,
    Created(OwnedFd, CString),
    Moved {
        from: (OwnedFd, CString),
        to: (OwnedFd, CString),
        exchange: bool,
    },
    /// A protected git config was rewritten with checked contents (`config.rs`): its path, for
    /// the report.
    ConfigWritten(std::path::PathBuf),
}

/// A call handed to the worker.
struct Pending {
    _keep: Vec<OwnedFd>,
    after: After,
    reply: Reply,
}

impl Broker {
    /// `found`: where the protected names are (`protect.rs`, at run start); `roots`: where the
    /// command may change things.
    pub(crate) fn new(
        found: crate::protect::Protected,
        roots: Writable,
        ruleset: RulesetCreated,
        observer: Option<Arc<dyn WriteObserver>>,
        file_size_limit: Option<u64>,
        never_names: Option<cordon_core::name_glob::NameGlobs>,
        remotes_added: Option<std::path::PathBuf>,
    ) -> Broker {
        let report = BrokerReport {
            observer: observer.is_some(),
            ..BrokerReport::default()
        };
        Broker {
            protected: LazySet { found, set: None },
            roots,
            ruleset: Some(ruleset),
            worker: None,
            worker_failed: None,
            pending: None,
            observer,
            seen: HashSet::new(),
            created: HashSet::new(),
            file_size_limit,
            waits: Arc::default(),
            report,
            git_touched: crate::repos::TouchedDirs::default(),
            git_names_seen: HashSet::new(),
            never_names,
            added_remotes: remotes::AddedRemotes::new(remotes_added),
        }
    }

    /// Handles one received notification of a mediated call: refused here, or handed to the
    /// worker, which makes the call and answers the caller. The previous call is settled first,
    /// so calls are made one at a time and each walk sees the namespace every earlier call left.
    pub(crate) fn handle(&mut self, listener: RawFd, request: &libc::seccomp_notif) {
        self.settle();
        self.report.mediated_calls += 1;
        if !self.worker_ready() {
            return refuse(listener, request.id, libc::EPERM);
        }
        let mediated = self.mediate(listener, request).and_then(|submission| {
            self.before_names(&submission.after)
                .map(|()| submission)
                .map_err(|denial| Refused { denial, call: None })
        });
        match mediated {
            Ok(submission) => {
                // With an observer, the supervisor answers once the observer has heard of the
                // change, while the caller (and the mount namespace its fds' paths name) exists.
                let observed = self.observer.is_some();
                let reply = Reply {
                    listener,
                    id: request.id,
                    cloexec: submission.cloexec,
                    answer_here: !observed,
                };
                if let Some(worker) = &self.worker {
                    worker.submit(submission.op, reply);
                    self.pending = Some(Pending {
                        _keep: submission.keep,
                        after: submission.after,
                        reply,
                    });
                }
                if observed {
                    self.settle();
                }
            }
            Err(Refused { denial, call }) => {
                if denial == Denial::Protected {
                    self.refused(request.pid, call.as_ref());
                }
                refuse(listener, request.id, denial.errno());
            }
        }
    }

    /// Waits for the call the worker is making, and tells the observer what it did. Called
    /// before the next call, before a listener closes, and when the command ends.
    pub(crate) fn settle(&mut self) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let (succeeded, unanswered) = match self.worker.as_ref().map(Worker::completion) {
            Some(Completion::Answered(succeeded)) => (succeeded, None),
            Some(Completion::Unanswered(outcome)) => (
                matches!(outcome, Outcome::Done(_) | Outcome::File(_)),
                Some(outcome),
            ),
            None => (false, None),
        };
        if succeeded {
            if let After::ConfigWritten(path) = &pending.after {
                self.report.git_config_written.push(path.clone());
            }
            self.tell_observer(&pending.after);
        }
        if let Some(outcome) = unanswered {
            let reply = pending.reply;
            answer(reply.listener, reply.id, outcome, reply.cloexec);
        }
    }

    /// Tells the observer what a call that succeeded created or moved.
    fn tell_observer(&mut self, after: &After) {
        if self.observer.is_none() {
            return;
        }
        match after {
            After::Nothing | After::ConfigWritten(_) => {}
            After::Created(parent, name) => self.after_created(parent, name),
            After::Moved { from, to, exchange } => {
                if let Some(observer) = &self.observer {
                    let a = entry_ref(&from.0, &from.1);
                    let b = entry_ref(&to.0, &to.1);
                    observer.after_change(&if *exchange {
                        Applied::Exchanged { a, b }
                    } else {
                        Applied::Moved { from: a, to: b }
                    });
                }
            }
        }
    }

    fn refused(&mut self, pid: u32, call: Option<&Call>) {
        self.report.refused_total += 1;
        if call.is_some_and(|c| git_server_info(c.target())) {
            self.report.git_server_info_refused += 1;
        }
        if self.report.refused.len() < MAX_REPORTED_REFUSALS {
            self.report.refused.push(BrokerRefusal {
                pid,
                call: call.map_or("?", Call::name).to_string(),
                path: call.map_or_else(String::new, |c| {
                    String::from_utf8_lossy(c.target()).into_owned()
                }),
            });
        }
    }

    /// Settles the last call and releases every FIFO open still blocked (the command has ended:
    /// nobody will open the other end), so no thread outlives the run.
    pub(crate) fn command_ended(&mut self) {
        self.settle();
        let waits: Vec<(u64, OwnedFd)> = match self.waits.lock() {
            Ok(mut list) => list.drain(..).collect(),
            Err(_) => return,
        };
        for (_, fifo) in waits {
            // Opening the other end, without blocking, completes the waiting open; the waiter
            // then finds its caller gone and closes what it opened.
            for flags in [libc::O_RDONLY, libc::O_WRONLY] {
                let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
                let _ = std::fs::OpenOptions::new()
                    .read(flags == libc::O_RDONLY)
                    .write(flags == libc::O_WRONLY)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path);
            }
        }
    }

    pub(crate) fn report(&self) -> BrokerReport {
        let mut report = self.report.clone();
        if let Some(set) = &self.protected.set {
            report.protected_directories = set.directories();
        }
        if let Some(why) = &self.worker_failed {
            report
                .notes
                .push(format!("every mediated call was refused: {why}"));
        }
        report
    }

    /// Starts the worker at the first call; false when it could not be (every call is then
    /// refused, and the report says why).
    fn worker_ready(&mut self) -> bool {
        if self.worker.is_none() && self.worker_failed.is_none() {
            match self.ruleset.take().map(Worker::start) {
                Some(Ok(worker)) => self.worker = Some(worker),
                Some(Err(why)) => self.worker_failed = Some(why),
                None => self.worker_failed = Some("no Landlock ruleset for the broker".into()),
            }
        }
        self.worker.is_some()
    }

    fn mediate(
        &mut self,
        listener: RawFd,
        request: &libc::seccomp_notif,
    ) -> Result<Submission, Refused> {
        let tid = request.pid as libc::pid_t;
        let call = call::decode(&request.data, &call::ThreadMemory(tid))
            .map_err(|e| Refused::errno(e, None))?;
        let fail = |denial: Denial| Refused {
            denial,
            call: Some(call.clone()),
        };
        let mut opened = Bases::open(tid, &call).map_err(fail)?;
        let still_waiting = || still_pending(listener, request.id);
        if !still_waiting() {
            return Err(fail(Denial::Errno(libc::ESRCH)));
        }
        let mut protected = std::mem::take(&mut self.protected);
        let (result, touched) = {
            let protected = protected.get(&self.roots);
            let root = opened.root.take();
            let mut walker = Walker::new(tid, protected, &still_waiting, root);
            let fifo = FifoContext {
                listener,
                id: request.id,
                cloexec: false,
            };
            let result = self.prepare(&mut walker, &call, &opened, fifo);
            (result, std::mem::take(&mut walker.touched))
        };
        self.protected = protected;
        self.note_git_names(touched);
        result.map_err(fail)
    }

    /// Steps 2 and 3 of the module comment for one decoded call: the op for the worker.
    fn prepare(
        &mut self,
        walker: &mut Walker<'_>,
        call: &Call,
        bases: &Bases,
        fifo: FifoContext,
    ) -> Result<Submission, Denial> {
        match call {
            Call::Open { file, flags, mode } => {
                let cloexec = flags & libc::O_CLOEXEC != 0;
                let fifo = FifoContext { cloexec, ..fifo };
                let mut submission = self.open(walker, bases, file, *flags, *mode, fifo)?;
                submission.cloexec = cloexec;
                Ok(submission)
            }
            Call::Mkdir { dir, mode } => {
                let umask = bases.umask()?;
                Self::create(walker, bases, dir, |parent, name| Op::Mkdir {
                    parent,
                    name,
                    mode: *mode,
                    umask,
                })
            }
            Call::Mknod { node, mode, dev } => {
                let umask = bases.umask()?;
                Self::create(walker, bases, node, |parent, name| Op::Mknod {
                    parent,
                    name,
                    mode: *mode,
                    dev: *dev,
                    umask,
                })
            }
            Call::Symlink { target, link } => {
                let target =
                    CString::new(target.clone()).map_err(|_| Denial::Errno(libc::EINVAL))?;
                Self::create(walker, bases, link, |parent, name| Op::Symlink {
                    target,
                    parent,
                    name,
                })
            }
            Call::Unlink { entry, dir } => self.unlink(walker, bases, entry, *dir),
            Call::Rename { from, to, flags } => self.rename(walker, bases, from, to, *flags),
            Call::Link { from, to, flags } => self.link(walker, bases, from, to, *flags),
            Call::Truncate { file, length } => self.truncate(walker, bases, file, *length),
            // Linux keeps no mode on a symlink, and refuses it every extended attribute an
            // unprivileged caller could set (`user.*` only on files and directories, ACLs not at
            // all); the worker reaches the file through a magic link, which would follow one.
            Call::Chmod { file, mode, follow } => self.change_metadata(
                walker,
                bases,
                file,
                *follow,
                Some(libc::EOPNOTSUPP),
                |object| Op::Chmod {
                    object,
                    mode: *mode,
                },
            ),
            Call::Times {
                file,
                times,
                follow,
            } => self.change_metadata(walker, bases, file, *follow, None, |object| Op::Times {
                object,
                times: *times,
            }),
            Call::SetXattr {
                file,
                follow,
                name,
                value,
                flags,
            } => self.change_metadata(walker, bases, file, *follow, Some(libc::EPERM), |object| {
                Op::SetXattr {
                    object,
                    name: name.clone(),
                    value: value.clone(),
                    flags: *flags,
                }
            }),
            Call::Chown {
                file,
                uid,
                gid,
                follow,
            } => self.change_metadata(walker, bases, file, *follow, None, |object| Op::Chown {
                object,
                uid: *uid,
                gid: *gid,
            }),
            Call::RemoveXattr { file, follow, name } => {
                self.change_metadata(walker, bases, file, *follow, Some(libc::EPERM), |object| {
                    Op::RemoveXattr {
                        object,
                        name: name.clone(),
                    }
                })
            }
        }
    }

    /// Resolves a path the call changes; a name git reads is noted for after the run
    /// (`repos.rs`).
    fn resolve(
        walker: &mut Walker<'_>,
        bases: &Bases,
        arg: &PathArg,
        want: Want,
    ) -> Result<Resolved, Denial> {
        let _searching_as_the_command = DacLowered::new();
        let resolved = walker.resolve(bases.of(arg), &arg.path, want)?;
        if let Resolved::Entry { parent, name, .. } = &resolved {
            if crate::repos::is_git_name(name.to_bytes()) {
                if let Ok(parent) = parent.try_clone() {
                    walker.touched.push(crate::repos::Touched {
                        parent,
                        name: name.clone(),
                    });
                }
            }
        }
        Ok(resolved)
    }

    /// [`Self::resolve`], with `allowance` for the last component.
    fn resolve_allowing(
        walker: &mut Walker<'_>,
        bases: &Bases,
        arg: &PathArg,
        want: Want,
        allowance: Allowance,
    ) -> Result<Resolved, Denial> {
        walker.last_may_be = allowance;
        let resolved = Self::resolve(walker, bases, arg, want);
        walker.last_may_be = Allowance::Nothing;
        resolved
    }

    /// Keeps the directories a call changed a git name in: open, once each, up to
    /// [`crate::repos::MAX_TOUCHED`], and every one's inode.
    fn note_git_names(&mut self, touched: Vec<crate::repos::Touched>) {
        let noted = &mut self.git_touched;
        for t in touched {
            let Ok(stat) = nix::sys::stat::fstat(&t.parent) else {
                continue;
            };
            if noted.directories.len() < crate::repos::MAX_INODES {
                noted.directories.insert((stat.st_dev, stat.st_ino));
            } else {
                noted.lost = true;
            }
            let key = (stat.st_dev, stat.st_ino, t.name.clone());
            if self.git_names_seen.contains(&key) {
                continue;
            }
            if noted.kept.len() < crate::repos::MAX_TOUCHED {
                self.git_names_seen.insert(key);
                noted.kept.push(t);
            } else {
                noted.overflow = true;
            }
        }
    }

    /// What the run changed of the names git reads, for `repos::settle`.
    pub(crate) fn take_git_touched(&mut self) -> crate::repos::TouchedDirs {
        std::mem::take(&mut self.git_touched)
    }

    /// The file a caller's descriptor holds (`AT_EMPTY_PATH`, `fchmod`), as the base `arg`
    /// starts from.
    fn held(bases: &Bases, arg: &PathArg) -> Result<Resolved, Denial> {
        let fd = bases
            .of(arg)
            .ok_or(Denial::Errno(libc::EBADF))?
            .try_clone()
            .map_err(|_| Denial::Errno(libc::EMFILE))?;
        Ok(Resolved::Object(Existing {
            stat: nix::sys::stat::fstat(&fd).map_err(Denial::from)?,
            fd,
        }))
    }

    fn open(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        file: &PathArg,
        flags: i32,
        mode: u32,
        fifo: FifoContext,
    ) -> Result<Submission, Denial> {
        let creating = flags & libc::O_CREAT != 0;
        let exclusive = creating && flags & libc::O_EXCL != 0;
        let tmpfile = flags & libc::O_TMPFILE == libc::O_TMPFILE;
        let want = Want {
            follow: flags & libc::O_NOFOLLOW == 0 && !exclusive,
            creating: creating && !tmpfile,
        };
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let blocking_fifo = |existing: &Existing| {
            existing.kind() == libc::S_IFIFO
                && flags & libc::O_NONBLOCK == 0
                && flags & libc::O_ACCMODE != libc::O_RDWR
        };
        match Self::resolve(walker, bases, file, want)? {
            Resolved::Object(object) => {
                if writes {
                    self.before(ChangeKind::Modify, None, &object)?;
                }
                let wait = blocking_fifo(&object)
                    .then(|| fifo.wait(&object, &self.waits))
                    .transpose()?;
                let op = Op::Reopen {
                    object: object.fd.as_raw_fd(),
                    flags,
                    fifo: wait,
                };
                Ok(Submission::new(op, vec![object.fd], After::Nothing))
            }
            Resolved::Entry {
                parent,
                name,
                existing,
            } => {
                if let Some(existing) = &existing {
                    if writes {
                        self.before(ChangeKind::Modify, Some((&parent, &name)), existing)?;
                    }
                }
                let may_create = creating && existing.is_none();
                let umask = if may_create || tmpfile {
                    Some(bases.umask()?)
                } else {
                    None
                };
                let wait = match &existing {
                    Some(e) if blocking_fifo(e) => Some(fifo.wait(e, &self.waits)?),
                    _ => None,
                };
                let op = Op::Open {
                    parent: parent.as_raw_fd(),
                    name: name.clone(),
                    flags: flags | libc::O_NOFOLLOW,
                    mode,
                    umask,
                    fifo: wait,
                };
                let mut keep: Vec<OwnedFd> = existing.map(|e| e.fd).into_iter().collect();
                let after = if may_create && !tmpfile {
                    After::Created(parent, name)
                } else {
                    keep.push(parent);
                    After::Nothing
                };
                Ok(Submission::new(op, keep, after))
            }
        }
    }

    /// `mkdir`, `mknod`, `symlink`: a new entry, whose name may not exist.
    fn create(
        walker: &mut Walker<'_>,
        bases: &Bases,
        arg: &PathArg,
        op: impl FnOnce(RawFd, CString) -> Op,
    ) -> Result<Submission, Denial> {
        let want = Want {
            follow: false,
            creating: true,
        };
        let (parent, name) = match Self::resolve(walker, bases, arg, want)? {
            Resolved::Entry { parent, name, .. } => (parent, name),
            Resolved::Object(_) => return Err(Denial::Errno(libc::EEXIST)),
        };
        let op = op(parent.as_raw_fd(), name.clone());
        Ok(Submission::new(
            op,
            Vec::new(),
            After::Created(parent, name),
        ))
    }

    fn unlink(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        arg: &PathArg,
        dir: bool,
    ) -> Result<Submission, Denial> {
        let want = Want {
            follow: false,
            creating: false,
        };
        let (parent, name, existing) =
            match Self::resolve_allowing(walker, bases, arg, want, Allowance::Removal)? {
                Resolved::Entry {
                    parent,
                    name,
                    existing,
                } => (parent, name, existing),
                // `rmdir("d/.")` and `unlink(".")`, as the kernel answers them.
                Resolved::Object(o) if o.kind() == libc::S_IFDIR => {
                    return Err(Denial::Errno(if dir { libc::EINVAL } else { libc::EISDIR }))
                }
                // A file reached through a magic link names no entry to remove.
                Resolved::Object(_) => return Err(Denial::Errno(libc::EPERM)),
            };
        if let Some(existing) = &existing {
            // A linked worktree's git directory goes whole, and so does the `.git` file of its
            // checkout, with the mounts over them (the kernel detaches a mount whose mount point
            // another namespace removes). A `.git` made again in its place is judged after the
            // run, as any new repository is (`repos.rs`).
            let git_file = name.to_bytes() == b".git" && existing.kind() == libc::S_IFREG;
            let removable = git_file
                || nix::sys::stat::fstat(&parent).is_ok_and(|dir| {
                    walker.protected().removable_mount(
                        (dir.st_dev, dir.st_ino),
                        name.to_bytes(),
                        existing.id(),
                    )
                });
            if self.busy(&parent, existing) && !removable {
                return Err(Denial::Errno(libc::EBUSY));
            }
            self.before(ChangeKind::Remove, Some((&parent, &name)), existing)?;
        }
        let op = Op::Unlink {
            parent: parent.as_raw_fd(),
            name,
            dir,
        };
        Ok(Submission::new(op, vec![parent], After::Nothing))
    }

    fn rename(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        from: &PathArg,
        to: &PathArg,
        flags: u32,
    ) -> Result<Submission, Denial> {
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        let entry = |resolved| match resolved {
            Resolved::Entry {
                parent,
                name,
                existing,
            } => Ok((parent, name, existing)),
            Resolved::Object(_) => Err(Denial::Errno(libc::EXDEV)),
        };
        let want_from = Want {
            follow: false,
            creating: exchange,
        };
        let want_to = Want {
            follow: false,
            creating: true,
        };
        let (from_parent, from_name, moved) =
            entry(Self::resolve(walker, bases, from, want_from)?)?;
        let (to_parent, to_name, replaced) = match Self::resolve(walker, bases, to, want_to) {
            // git's `config.lock` renamed over a protected repository's config: checked, and
            // written through if it runs nothing new (`config.rs`).
            Err(Denial::Protected) if flags == 0 => {
                let rewrite = config::Rewrite {
                    from_parent,
                    from_name,
                    moved,
                };
                return self.rewrite_git_config(walker, bases, rewrite, to);
            }
            resolved => entry(resolved?)?,
        };
        let busy = |parent, existing: &Option<Existing>| {
            existing.as_ref().is_some_and(|e| self.busy(parent, e))
        };
        if busy(&from_parent, &moved) || busy(&to_parent, &replaced) {
            return Err(Denial::Errno(libc::EBUSY));
        }
        // A directory holding a stand-in stays where it is: renamed, it would carry the file
        // behind the stand-in where the next run's search does not look. EXDEV, so `mv` copies
        // instead (the copy reads the stand-in, and removing the original stops at it). Only
        // where Landlock would let the rename through, so the command gets Landlock's errno
        // where it refuses first.
        let set = walker.protected();
        // Whether the call would carry away a directory `held` says is one that stays.
        let carries = |held: &dyn Fn(DirId) -> bool| {
            let moves = |parent: &OwnedFd, e: &Option<Existing>| {
                e.as_ref().is_some_and(|e| {
                    e.kind() == libc::S_IFDIR
                        && held(e.id())
                        && self.roots.changeable(parent.as_fd())
                })
            };
            moves(&from_parent, &moved) || (exchange && moves(&to_parent, &replaced))
        };
        if carries(&|dir| set.holds_a_stand_in(dir)) {
            return Err(Denial::Errno(libc::EXDEV));
        }
        // A project root is refused outright: EXDEV would have `mv` copy it and then delete
        // what it could of the original, the repository's objects and refs among them.
        if carries(&|dir| set.holds_a_project(dir)) {
            return Err(Denial::Errno(libc::EBUSY));
        }
        // A file with another name may not take a credential's (nor, exchanged, give one away):
        // the user's later edits of it would show under the other name.
        let linked = |e: &Option<Existing>| e.as_ref().is_some_and(|e| e.stat.st_nlink > 1);
        if (self.named_like_a_credential(to_name.to_bytes()) && linked(&moved))
            || (exchange && self.named_like_a_credential(from_name.to_bytes()) && linked(&replaced))
        {
            return Err(Denial::Errno(libc::EPERM));
        }
        // With RENAME_NOREPLACE an existing target makes the call fail (EEXIST): nothing to keep.
        let replaces = flags & (libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE) == 0;
        if let (Some(replaced), true) = (&replaced, replaces) {
            self.before(ChangeKind::Replace, Some((&to_parent, &to_name)), replaced)?;
        }
        let op = Op::Rename {
            from_parent: from_parent.as_raw_fd(),
            from_name: from_name.clone(),
            to_parent: to_parent.as_raw_fd(),
            to_name: to_name.clone(),
            flags,
        };
        let after = After::Moved {
            from: (from_parent, from_name),
            to: (to_parent, to_name),
            exchange,
        };
        Ok(Submission::new(op, Vec::new(), after))
    }

    fn link(
        &self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        from: &PathArg,
        to: &PathArg,
        flags: i32,
    ) -> Result<Submission, Denial> {
        let source = if flags & libc::AT_EMPTY_PATH != 0 && from.path.is_empty() {
            Self::held(bases, from)?
        } else {
            let want = Want {
                follow: flags & libc::AT_SYMLINK_FOLLOW != 0,
                creating: false,
            };
            Self::resolve(walker, bases, from, want)?
        };
        // A second name for a file git reads (`ln sub/.git/config notes.txt`) would let a later
        // write reach it under a name `repos.rs` does not look at: refused.
        let source_name = match &source {
            Resolved::Entry { name, .. } => Some(name.as_bytes().to_vec()),
            Resolved::Object(object) => fd_path(object.fd.as_fd())
                .ok()
                .and_then(|p| p.file_name().map(|n| n.as_bytes().to_vec())),
        };
        if source_name
            .as_deref()
            .is_some_and(crate::repos::is_git_name)
        {
            return Err(Denial::Errno(libc::EPERM));
        }
        // Nor for a file named like a credential: the search leaves one readable whose contents
        // git already stores, and a second name would show what the user writes into it later
        // (red-team round six: `os.link('tracked/.env', 'notes.txt')`, then the user's edit).
        if source_name
            .as_deref()
            .is_some_and(|n| self.named_like_a_credential(n))
        {
            return Err(Denial::Errno(libc::EPERM));
        }
        let want = Want {
            follow: false,
            creating: true,
        };
        let Resolved::Entry {
            parent: to_parent,
            name: to_name,
            ..
        } = Self::resolve(walker, bases, to, want)?
        else {
            return Err(Denial::Errno(libc::EEXIST));
        };
        // Nor a credential's name for a file that has another (round seven: `.env` renamed to
        // `notes.txt`, then linked back as `.env`, so the user's next edit showed in `notes.txt`).
        if self.named_like_a_credential(to_name.to_bytes()) {
            return Err(Denial::Errno(libc::EPERM));
        }
        let (from, keep) = match source {
            Resolved::Entry { parent, name, .. } => (
                LinkFrom::Entry {
                    parent: parent.as_raw_fd(),
                    name,
                },
                parent,
            ),
            Resolved::Object(object) => (LinkFrom::Object(object.fd.as_raw_fd()), object.fd),
        };
        let op = Op::Link {
            from,
            to_parent: to_parent.as_raw_fd(),
            to_name: to_name.clone(),
        };
        Ok(Submission::new(
            op,
            vec![keep],
            After::Created(to_parent, to_name),
        ))
    }

    fn truncate(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        file: &PathArg,
        length: i64,
    ) -> Result<Submission, Denial> {
        let want = Want {
            follow: true,
            creating: false,
        };
        let (entry, object) = match Self::resolve(walker, bases, file, want)? {
            Resolved::Entry {
                parent,
                name,
                existing: Some(existing),
            } => (Some((parent, name)), existing),
            Resolved::Entry { existing: None, .. } => return Err(Denial::Errno(libc::ENOENT)),
            Resolved::Object(object) => (None, object),
        };
        match object.kind() {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(Denial::Errno(libc::EISDIR)),
            _ => return Err(Denial::Errno(libc::EINVAL)),
        }
        // The worker has no RLIMIT_FSIZE of its own (rlimits are per process): the command's
        // limit is checked here, as the kernel would (it would also send SIGXFSZ).
        if self
            .file_size_limit
            .is_some_and(|limit| u64::try_from(length).is_ok_and(|l| l > limit))
        {
            return Err(Denial::Errno(libc::EFBIG));
        }
        let at = entry.as_ref().map(|(p, n)| (p, n));
        self.before(ChangeKind::Modify, at, &object)?;
        let op = Op::Truncate {
            object: object.fd.as_raw_fd(),
            length,
        };
        Ok(Submission::new(op, vec![object.fd], After::Nothing))
    }

    /// A change of metadata Landlock does not govern (a mode, times, extended attributes): the
    /// broker places the file (by path, or the one a descriptor holds) and lets the worker
    /// change it only inside the paths Landlock lets the command write, so a command cannot open
    /// a credential, cordon's home or a system file to other users (`chmod 0666 ~/.ssh/id_rsa`,
    /// the same by a POSIX ACL, `fchmod` of `/etc/passwd` opened for reading where it runs as
    /// root) or change what they hold beside their contents. Elsewhere: EACCES. A symlink gets
    /// `on_symlink` when the call cannot apply to one. The worker changes the inode the broker
    /// reached, through its descriptor.
    fn change_metadata(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        file: &PathArg,
        follow: bool,
        on_symlink: Option<i32>,
        op: impl FnOnce(RawFd) -> Op,
    ) -> Result<Submission, Denial> {
        let resolved = if file.path.is_empty() {
            // `fchmod`, `AT_EMPTY_PATH`: the file the caller's descriptor holds.
            Self::held(bases, file)?
        } else {
            let want = Want {
                follow,
                creating: false,
            };
            Self::resolve(walker, bases, file, want)?
        };
        let object = match resolved {
            Resolved::Entry {
                existing: Some(existing),
                ..
            } => existing,
            Resolved::Entry { existing: None, .. } => return Err(Denial::Errno(libc::ENOENT)),
            Resolved::Object(object) => object,
        };
        if let (libc::S_IFLNK, Some(errno)) = (object.kind(), on_symlink) {
            return Err(Denial::Errno(errno));
        }
        // A pipe, socket or other anonymous inode (a held descriptor only) has no path anyone
        // else can reach it by: its metadata is the command's own business.
        let anonymous = fd_path(object.fd.as_fd()).is_ok_and(|p| !p.is_absolute());
        if !anonymous && !self.roots.changeable(object.fd.as_fd()) {
            return Err(Denial::Errno(libc::EACCES));
        }
        let op = op(object.fd.as_raw_fd());
        Ok(Submission::new(op, vec![object.fd], After::Nothing))
    }

    /// Whether `name` matches one of the envelope's never names (`.env`, `*.pem`).
    fn named_like_a_credential(&self, name: &[u8]) -> bool {
        self.never_names
            .as_ref()
            .is_some_and(|globs| globs.is_match(std::ffi::OsStr::from_bytes(name)))
    }

    /// Whether removing or renaming `existing` must fail with EBUSY: it is a mount point of the
    /// command's namespace, in a directory Landlock lets the command change (elsewhere the
    /// worker's own call gets Landlock's EACCES first, as the command would).
    fn busy(&self, parent: &OwnedFd, existing: &Existing) -> bool {
        walk::is_mount_point(parent, existing) && self.roots.changeable(parent.as_fd())
    }

    /// Tells the observer about an existing entry about to change (see [`WriteObserver`]):
    /// contents once per inode, removals always, nothing the command created itself.
    fn before(
        &mut self,
        kind: ChangeKind,
        entry: Option<(&OwnedFd, &CString)>,
        existing: &Existing,
    ) -> Result<(), Denial> {
        let Some(observer) = self.observer.clone() else {
            return Ok(());
        };
        let id = existing.id();
        if self.created.contains(&id) {
            return Ok(());
        }
        if kind == ChangeKind::Modify
            && (self.seen.contains(&id) || existing.kind() != libc::S_IFREG)
        {
            return Ok(());
        }
        // What Landlock will not let the command change is not recorded: the change fails, and
        // the checkpoint, written with the user's authority, would hold a copy of a file the
        // command could not read (red-team round twenty-two wrote through a link to a file in
        // the home).
        if !fd_path(existing.fd.as_fd())
            .is_ok_and(|p| self.roots.granted.iter().any(|w| p.starts_with(w)))
        {
            return Ok(());
        }
        let first_time = self.seen.insert(id);
        let readable = (existing.kind() == libc::S_IFREG)
            .then(|| reopen_for_reading(&existing.fd))
            .flatten();
        let victim = Victim {
            kind,
            entry: entry.map(|(parent, name)| entry_ref(parent, name)),
            file: readable.as_ref().map_or(existing.fd.as_fd(), AsFd::as_fd),
            stat: &existing.stat,
            first_time,
        };
        observer.before_change(&victim).map_err(|e| {
            self.seen.remove(&id);
            self.observer_refused(&e)
        })
    }

    /// Tells the observer of the names the call is about to create or move away
    /// ([`NameChange`]), before the worker makes it.
    fn before_names(&mut self, after: &After) -> Result<(), Denial> {
        let Some(observer) = self.observer.clone() else {
            return Ok(());
        };
        let told = match after {
            After::Nothing | After::ConfigWritten(_) => Ok(()),
            After::Created(parent, name) => {
                observer.before_name(&NameChange::Create(entry_ref(parent, name)))
            }
            After::Moved { from, to, exchange } => {
                let to_ref = entry_ref(&to.0, &to.1);
                observer
                    .before_name(&NameChange::MoveAway(entry_ref(&from.0, &from.1)))
                    .and_then(|()| {
                        observer.before_name(&if *exchange {
                            NameChange::MoveAway(to_ref)
                        } else {
                            NameChange::Create(to_ref)
                        })
                    })
            }
        };
        told.map_err(|e| self.observer_refused(&e))
    }

    /// Notes an observer's refusal in the report; the call gets EPERM.
    fn observer_refused(&mut self, e: &ObserverError) -> Denial {
        let note = format!("the checkpoint observer refused a change: {e}");
        if !self.report.notes.contains(&note) {
            self.report.notes.push(note);
        }
        Denial::Errno(libc::EPERM)
    }

    /// Records a new entry and tells the observer.
    fn after_created(&mut self, parent: &OwnedFd, name: &CString) {
        let Some(observer) = self.observer.clone() else {
            return;
        };
        let stat = nix::sys::stat::fstatat(
            parent,
            name.as_c_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok();
        if let Some(stat) = stat {
            self.created.insert((stat.st_dev, stat.st_ino));
        }
        observer.after_change(&Applied::Created(entry_ref(parent, name)));
    }
}

/// A refused call, with the call when it could be decoded.
struct Refused {
    denial: Denial,
    call: Option<Call>,
}

impl Refused {
    fn errno(e: i32, call: Option<Call>) -> Refused {
        Refused {
            denial: Denial::Errno(e),
            call,
        }
    }
}

/// True for the files `git update-server-info` writes in a git directory's `info` (run by every
/// `git gc` and `git repack`): `info/refs`, the temporary it is written as (`refs_XXXXXX`), and
/// the `info/rev-cache` it removes. Only a dumb HTTP server reads them.
pub fn git_server_info(path: &[u8]) -> bool {
    let mut parts = path.rsplit(|b| *b == b'/');
    let (Some(name), Some(dir)) = (parts.next(), parts.next()) else {
        return false;
    };
    let temporary = name
        .strip_prefix(b"refs_")
        .is_some_and(|tail| tail.len() == 6 && tail.iter().all(u8::is_ascii_alphanumeric));
    dir == b"info" && (name == b"refs" || name == b"rev-cache" || temporary)
}

fn entry_ref<'a>(parent: &'a OwnedFd, name: &'a CString) -> EntryRef<'a> {
    let bytes = name.as_bytes();
    let trimmed = bytes.strip_suffix(b"/").unwrap_or(bytes);
    EntryRef {
        parent: parent.as_fd(),
        name: OsStr::from_bytes(trimmed),
    }
}

/// A regular file reopened for reading through `/proc/self/fd`, for the observer to copy.
fn reopen_for_reading(fd: &OwnedFd) -> Option<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .map(OwnedFd::from)
}

/// What a blocking FIFO open needs from the notification.
struct FifoContext {
    listener: RawFd,
    id: u64,
    cloexec: bool,
}

impl FifoContext {
    fn wait(
        &self,
        fifo: &Existing,
        registry: &Arc<Mutex<Vec<(u64, OwnedFd)>>>,
    ) -> Result<FifoWait, Denial> {
        let dup = |fd: BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map_err(|_| Denial::Errno(libc::EMFILE))
        };
        // SAFETY: the listener fd is live for the duration of this call (the caller holds it).
        let listener = unsafe { BorrowedFd::borrow_raw(self.listener) };
        Ok(FifoWait {
            listener: dup(listener)?,
            id: self.id,
            cloexec: self.cloexec,
            registry: Arc::clone(registry),
            fifo: dup(fifo.fd.as_fd())?,
        })
    }
}

/// The directories a call's relative paths start from, and the caller's umask when the call
/// creates with a mode: both read before the notification is validated, so they are the
/// caller's.
struct Bases {
    cwd: Option<OwnedFd>,
    fds: Vec<(i32, OwnedFd)>,
    /// The caller's root, for an absolute path (taken by the walk).
    root: Option<OwnedFd>,
    umask: Option<u32>,
}

impl Bases {
    fn open(tid: libc::pid_t, call: &Call) -> Result<Bases, Denial> {
        let creates_with_mode = match call {
            Call::Open { flags, .. } => {
                flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE
            }
            Call::Mkdir { .. } | Call::Mknod { .. } => true,
            _ => false,
        };
        let umask = if creates_with_mode {
            Some(caller_status(tid).ok_or(Denial::Errno(libc::ESRCH))?.umask)
        } else {
            None
        };
        let mut bases = Bases {
            cwd: None,
            fds: Vec::new(),
            root: None,
            umask,
        };
        for arg in call.paths() {
            if arg.path.starts_with(b"/") {
                if bases.root.is_none() {
                    bases.root = Some(walk::open_proc(tid, "root")?);
                }
                continue;
            }
            match arg.at {
                Dirfd::Cwd if bases.cwd.is_none() => {
                    bases.cwd = Some(walk::base(tid, Dirfd::Cwd)?);
                }
                Dirfd::Fd(n) if !bases.fds.iter().any(|(m, _)| *m == n) => {
                    bases.fds.push((n, walk::base(tid, Dirfd::Fd(n))?));
                }
                _ => {}
            }
        }
        Ok(bases)
    }

    /// The directory `arg` is relative to; `None` for an absolute path.
    fn of(&self, arg: &PathArg) -> Option<&OwnedFd> {
        match arg.at {
            Dirfd::Cwd => self.cwd.as_ref(),
            Dirfd::Fd(n) => self.fds.iter().find(|(m, _)| *m == n).map(|(_, fd)| fd),
        }
    }

    /// The caller's umask, for a call that creates with a mode.
    fn umask(&self) -> Result<u32, Denial> {
        self.umask.ok_or(Denial::Errno(libc::EIO))
    }
}

/// While alive, this thread's effective `CAP_DAC_OVERRIDE` and `CAP_DAC_READ_SEARCH` are
/// lowered (they stay permitted and come back on drop): the walk then searches directories with
/// the permissions the command has, which holds no capability. Nothing to do for a supervisor
/// without them.
struct DacLowered(Option<[crate::kernel::CapData; 2]>);

const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_DAC_READ_SEARCH: u32 = 2;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

fn capset(data: &[crate::kernel::CapData; 2]) -> bool {
    let mut header = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    // SAFETY: capset reads a v3 header and two data structs from live memory; pid 0 is this
    // thread only.
    unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) == 0 }
}

impl DacLowered {
    fn new() -> DacLowered {
        let dac = (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH);
        let mut header = CapHeader {
            version: 0x2008_0522,
            pid: 0,
        };
        let mut data = [crate::kernel::CapData::default(); 2];
        // SAFETY: capget writes two data structs into `data`, which has room for exactly two.
        let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
        if rc != 0 || data[0].effective & dac == 0 {
            return DacLowered(None);
        }
        let mut lowered = data;
        lowered[0].effective &= !dac;
        if capset(&lowered) {
            DacLowered(Some(data))
        } else {
            DacLowered(None)
        }
    }
}

impl Drop for DacLowered {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            capset(saved);
        }
    }
}
