//! The copy-on-first-write hook: what the write broker tells a checkpoint store about a
//! command's changes, in the order they happen.
//!
//! Before the broker overwrites, truncates, removes or renames over an entry that existed before
//! the run, it calls [`WriteObserver::before_change`] with that entry (an fd of the file, its
//! parent directory and its name), on the supervisor's thread, while the command waits. An error
//! refuses the command's call (fail closed): the command gets `EPERM` and the run's report says
//! why. After a call that created, moved or exchanged entries succeeds,
//! [`WriteObserver::after_change`] says what it did.
//!
//! A store that keeps what each *name* held (cordon-checkpoint's observed recorder) also needs to
//! hear of a name before a call creates it or moves it away; [`WriteObserver::before_name`] says
//! so, also on the supervisor's thread while the command waits, and an error refuses the call.
//!
//! Replaying these in reverse undoes the command: remove what was created, move back what was
//! moved, put back the pre-images of what was changed or removed. A file is handed over for its
//! contents once per inode and run ([`Victim::first_time`]); entries the command created itself are
//! never handed over (undoing their creation removes them). Not told: changes of mode, owner,
//! times or extended attributes of existing files (the broker places the file of a `chmod`,
//! `utimensat` or `setxattr` only to refuse one outside the writable roots; `chown` is not
//! mediated), Unix sockets created by `bind`, and writes through files opened before the run
//! (the sandbox passes none but stdio).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::PathBuf;

/// Receives the broker's account of a hardened command's changes (see the module comment).
pub trait WriteObserver: Send + Sync + std::fmt::Debug {
    /// `victim` is about to change. Copy what must be kept, then return; an error refuses the
    /// command's call.
    fn before_change(&self, victim: &Victim<'_>) -> Result<(), ObserverError>;

    /// A call succeeded that created or moved entries.
    fn after_change(&self, change: &Applied<'_>);

    /// A call is about to create a name or move an entry away ([`NameChange`]); an error refuses
    /// the command's call. An observer that keeps pre-images by inode and replays
    /// [`WriteObserver::after_change`] needs nothing here.
    fn before_name(&self, change: &NameChange<'_>) -> Result<(), ObserverError> {
        let _ = change;
        Ok(())
    }
}

/// A name about to change that is not itself a [`Victim`]: what a store keyed by name records
/// before the call, so that a rollback can make the name absent again or bring back what was
/// moved away. Told for every such name, including names the command created earlier.
#[derive(Debug, Clone, Copy)]
pub enum NameChange<'a> {
    /// The call may create an entry by this name (`O_CREAT`, `mkdir`, `mknod`, `symlink`,
    /// `link`, the target of a `rename`). It did not exist when the call was checked, except as
    /// the target of a `rename`, whose existing entry was told first as a [`ChangeKind::Replace`]
    /// victim.
    Create(EntryRef<'a>),
    /// The entry by this name is about to be renamed away (the source of a `rename`, either side
    /// of a `RENAME_EXCHANGE`).
    MoveAway(EntryRef<'a>),
}

/// Why an observer refused a change; the sentence goes into the run's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObserverError(pub String);

impl std::fmt::Display for ObserverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ObserverError {}

/// What is about to happen to an existing entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Opened for writing, truncated (`O_TRUNC`, `truncate`): its contents change in place.
    Modify,
    /// Removed (`unlink`, `rmdir`).
    Remove,
    /// Replaced by a rename onto its name.
    Replace,
}

/// A directory entry: the directory (an `O_PATH` fd inside the command's mount namespace) and
/// the name in it.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub parent: BorrowedFd<'a>,
    pub name: &'a OsStr,
}

impl EntryRef<'_> {
    /// The entry's absolute path as this process sees it (the kernel's name for the parent
    /// directory, then the name). Ask during the observer's call: the directory fd lives in the
    /// command's mount namespace, and once the command has exited its name is no longer the
    /// workspace's.
    pub fn path(&self) -> io::Result<PathBuf> {
        Ok(fd_path(self.parent)?.join(self.name))
    }
}

/// The path the kernel gives an open fd (`/proc/self/fd/N`).
pub fn fd_path(fd: BorrowedFd<'_>) -> io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// An existing entry that is about to change.
#[derive(Debug)]
pub struct Victim<'a> {
    pub kind: ChangeKind,
    /// Where it is; `None` when the command reached the file through a `/proc/PID/fd` magic
    /// link, which names no directory entry ([`fd_path`] of `file` then gives its path).
    pub entry: Option<EntryRef<'a>>,
    /// The file itself: open for reading when it is a regular file, an `O_PATH` fd otherwise
    /// (a directory, symlink, FIFO or device; `readlinkat(file, "")` reads a symlink).
    pub file: BorrowedFd<'a>,
    pub stat: &'a libc::stat,
    /// True the first time this inode is reported in this run: its contents before the run are
    /// what `file` holds now. Later reports of the same inode (a file modified, then removed)
    /// need no second copy.
    pub first_time: bool,
}

/// What a successful call did to the namespace.
#[derive(Debug)]
pub enum Applied<'a> {
    /// A new entry (a file, directory, node, symlink or hard link).
    Created(EntryRef<'a>),
    /// An entry moved; whatever `to` held was reported as [`ChangeKind::Replace`] first.
    Moved {
        from: EntryRef<'a>,
        to: EntryRef<'a>,
    },
    /// Two entries swapped (`RENAME_EXCHANGE`).
    Exchanged { a: EntryRef<'a>, b: EntryRef<'a> },
}
