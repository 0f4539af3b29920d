//! Repositories the run made or changed outside the protected ones (escape catalogue item 39).
//!
//! The metadata of the repositories that exist when a run starts is protected (`protect.rs`, the
//! write broker). A repository made during the run is not: git must write its `config`, `HEAD`
//! and hooks, so `git init sub` and `git clone` work. But git obeys that config later, outside
//! any sandbox: `core.fsmonitor`, `core.hooksPath`, `core.pager`, a filter driver or a hook in
//! `sub/.git`, or in a bare repository anywhere in the workspace, runs its program the next
//! time the user (or their prompt) runs git there. So the write broker notes every directory in
//! which a command changed a name git reads (`.git`, `config`, `HEAD`, `commondir`, `hooks`, a
//! hook's name), and once the command's processes are gone, [`settle`] looks at the git
//! directories those lead to:
//! - a `config` (or `config.worktree`) that sets anything beyond an allow-list of keys that run
//!   nothing (a remote, a branch, the user's name, the repository format) is moved aside to
//!   `config.refused-by-cordon`, as is one cordon cannot read for certain (a symlink, a line it
//!   cannot parse);
//! - a `hooks` directory holding anything but git's `*.sample` files is moved aside to
//!   `hooks.refused-by-cordon`;
//! - a `.git` file or `commondir` that leads outside the writable roots (to a directory the
//!   agent's own tools wrote, say `/tmp/x`) is moved aside: cordon does not change what lies
//!   outside, and git then no longer goes there.
//!
//! Each move is a note in the report, so nothing is lost: the user can look and move it back.
//! Everything is opened through directory descriptors that follow no symlink.

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::fcntl::{openat, renameat, OFlag, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, Mode};

use crate::broker::fd_path;

/// Names whose change in a directory makes that directory, or the repository it leads to, worth
/// a look after the run.
const GIT_NAMES: &[&[u8]] = &[
    b".git",
    b"config",
    b"config.worktree",
    b"HEAD",
    b"commondir",
    b"hooks",
];

/// The hooks git runs (githooks(5)): a file by one of these names is looked at when its
/// directory is a `hooks` directory, however the command reached it.
const HOOK_NAMES: &[&[u8]] = &[
    b"applypatch-msg",
    b"pre-applypatch",
    b"post-applypatch",
    b"pre-commit",
    b"pre-merge-commit",
    b"prepare-commit-msg",
    b"commit-msg",
    b"post-commit",
    b"pre-rebase",
    b"post-checkout",
    b"post-merge",
    b"pre-push",
    b"pre-receive",
    b"update",
    b"proc-receive",
    b"post-receive",
    b"post-update",
    b"reference-transaction",
    b"push-to-checkout",
    b"pre-auto-gc",
    b"post-rewrite",
    b"sendemail-validate",
    b"fsmonitor-watchman",
    b"post-index-change",
];

/// How many directories one run notes; past it, the rest are noted as unchecked.
pub(crate) const MAX_TOUCHED: usize = 256;

/// The largest config file read; a bigger one is moved aside unread.
pub(crate) const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Whether a change to `name` (a directory entry's name) is one [`settle`] must look at.
pub(crate) fn is_git_name(name: &[u8]) -> bool {
    let name = name.strip_suffix(b"/").unwrap_or(name);
    GIT_NAMES.contains(&name) || HOOK_NAMES.contains(&name)
}

/// A directory in which the run changed a name git reads, and the name.
pub(crate) struct Touched {
    pub parent: OwnedFd,
    pub name: CString,
}

/// After the run: looks at every git directory the touched names lead to, and moves aside what
/// would run a program (module comment). `protected`: the git directories protected for the
/// run, left alone; `roots`: the writable roots, outside which nothing is changed. Returns the
/// report's notes.
pub(crate) fn settle(touched: &TouchedDirs, places: &Places<'_>) -> Vec<String> {
    let mut settler = Settler {
        protected: places.protected,
        roots: places.roots,
        ignored: places.ignored,
        scratch: places.scratch,
        layers: places.layers,
        seen: HashSet::new(),
        notes: Vec::new(),
    };
    for t in &touched.kept {
        settler.touched(t);
    }
    if touched.overflow || touched.lost {
        settler.walk(places.searched, &touched.directories, touched.lost);
    }
    for path in places.protected_paths {
        if let Ok(git) = nix::fcntl::open(path.as_path(), DIR, Mode::empty()) {
            let protected =
                fstat(&git).is_ok_and(|s| places.protected.contains(&(s.st_dev, s.st_ino)));
            if protected {
                settler.sequencer(git.as_fd());
            }
        }
    }
    settler.notes
}

/// Where [`settle`] looks, and what it leaves alone.
pub(crate) struct Places<'a> {
    /// The git directories protected for the run, by device and inode as the run found them:
    /// a directory made since at one's path (its parent renamed aside, its container removed)
    /// is a new repository, and is judged as one (red-team round fourteen).
    pub protected: &'a [(u64, u64)],
    /// The same git directories by path, each opened and checked for a sequencer left with
    /// commands to run ([`Settler::sequencer`]).
    pub protected_paths: &'a [PathBuf],
    /// The writable roots: nothing outside them is changed.
    pub roots: &'a [PathBuf],
    /// The roots searched when more directories were touched than kept: the writable roots
    /// but the caches, whose layers the user's own git never sees.
    pub searched: &'a [PathBuf],
    /// Places no user's git reads after the run: the run's private temporary directory.
    pub ignored: &'a [PathBuf],
    /// The workspace's own `/tmp` (device and inode): the command writes there, and it stays on
    /// the host, where a link in the workspace can lead the user's git. Its repositories are
    /// judged like a writable root's. By inode, not by path: once the command's mount namespace
    /// is gone, a directory in it is named relative to the directory itself (`/x2` for `/tmp/x2`).
    pub scratch: Option<(u64, u64)>,
    /// The devices of the run's cache layers (`layers.rs`), which only its commands see.
    pub layers: &'a [u64],
}

/// What the broker noted during a run: the first [`MAX_TOUCHED`] directories with the name
/// changed in each, held open, and every such directory's inode, so that a run that touched more
/// is searched for the rest ([`Settler::walk`]).
#[derive(Default)]
pub(crate) struct TouchedDirs {
    pub kept: Vec<Touched>,
    /// A directory and name came past [`MAX_TOUCHED`]: the rest are searched for by inode.
    pub overflow: bool,
    pub directories: HashSet<(u64, u64)>,
    /// More directories than [`MAX_INODES`] were touched: the walk looks at every repository.
    pub lost: bool,
}

/// How many touched directories' inodes one run keeps.
pub(crate) const MAX_INODES: usize = 1 << 20;

/// How many directories the search for the touched ones past [`MAX_TOUCHED`] reads at most.
const MAX_SETTLE_WALK: usize = 200_000;

struct Settler<'a> {
    protected: &'a [(u64, u64)],
    roots: &'a [PathBuf],
    ignored: &'a [PathBuf],
    scratch: Option<(u64, u64)>,
    layers: &'a [u64],
    seen: HashSet<(u64, u64)>,
    notes: Vec<String>,
}

const DIR: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// A directory git reaches by a link or a pointer it follows, as git does.
const DIR_FOLLOWED: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_CLOEXEC);

/// Whether the directory `fd` is `dir` (device, inode) or lies beneath it, walking `..` up to
/// the root it can reach (at most 256 levels).
fn beneath(fd: BorrowedFd<'_>, dir: (u64, u64)) -> bool {
    let id = |stat: nix::sys::stat::FileStat| (stat.st_dev, stat.st_ino);
    let Ok(mut here) = fstat(fd).map(id) else {
        return false;
    };
    let Ok(mut current) = openat(fd, c".", DIR, Mode::empty()) else {
        return false;
    };
    for _ in 0..256 {
        if here == dir {
            return true;
        }
        let Ok(parent) = openat(&current, c"..", DIR, Mode::empty()) else {
            return false;
        };
        let Ok(up) = fstat(&parent).map(id) else {
            return false;
        };
        if up == here {
            return false;
        }
        (current, here) = (parent, up);
    }
    false
}

impl Settler<'_> {
    fn touched(&mut self, t: &Touched) {
        // A directory in a cache's layer (an overlay, seen only by the run's commands) or in the
        // run's private temporary directory is not one the user's git will read.
        let in_layer = fstat(&t.parent).is_ok_and(|s| self.layers.contains(&s.st_dev));
        if in_layer
            || fd_path(t.parent.as_fd())
                .is_ok_and(|p| self.ignored.iter().any(|i| p.starts_with(i)))
        {
            return;
        }
        // A name outside the writable roots was not changed (the kernel refused the call), and
        // nothing there is cordon's to move.
        if !self.changeable(t.parent.as_fd()) {
            return;
        }
        let name = t.name.to_bytes();
        let name = name.strip_suffix(b"/").unwrap_or(name);
        if name == b".git" {
            self.dot_git(t.parent.as_fd());
        } else if HOOK_NAMES.contains(&name) && !GIT_NAMES.contains(&name) {
            let in_hooks =
                fd_path(t.parent.as_fd()).is_ok_and(|p| p.file_name() == Some(OsStr::new("hooks")));
            if in_hooks {
                if let Ok(git) = openat(&t.parent, "..", DIR, Mode::empty()) {
                    self.git_dir(git, None, true);
                }
            }
        } else if let Ok(git) = t.parent.try_clone() {
            self.git_dir(git, None, true);
        }
    }

    /// Searches the writable roots (no link followed, no other file system entered) for the
    /// directories the broker noted but did not keep open, and looks at each as [`touched`]
    /// does; with `every`, at every directory. A search cut short is noted.
    ///
    /// [`touched`]: Settler::touched
    fn walk(&mut self, searched: &[PathBuf], directories: &HashSet<(u64, u64)>, every: bool) {
        let mut budget = MAX_SETTLE_WALK;
        let mut unsearched = Vec::new();
        for root in searched {
            let Ok(top) = nix::fcntl::open(root.as_path(), DIR, Mode::empty()) else {
                continue;
            };
            // Paths relative to the root, not open descriptors: a queue of descriptors runs out
            // of them on a wide tree (round fourteen made 25,000 directories in one), and the
            // rest would go unchecked.
            let mut queue = vec![PathBuf::from(".")];
            while let Some(rel) = queue.pop() {
                if budget == 0 {
                    self.notes.push(format!(
                        "the commands changed names git reads in more directories than the {MAX_SETTLE_WALK} searched after the run; repositories beyond them were not checked"
                    ));
                    return;
                }
                budget -= 1;
                let how = nix::fcntl::OpenHow::new().flags(DIR).resolve(
                    ResolveFlag::RESOLVE_BENEATH
                        | ResolveFlag::RESOLVE_NO_SYMLINKS
                        | ResolveFlag::RESOLVE_NO_XDEV,
                );
                let dir = match nix::fcntl::openat2(&top, rel.as_path(), how) {
                    Ok(dir) => dir,
                    // Gone, or another file system (not the user's git's to find here).
                    Err(nix::Error::ENOENT | nix::Error::EXDEV) => continue,
                    Err(e) => {
                        unsearched.push(format!("{} ({e})", root.join(&rel).display()));
                        continue;
                    }
                };
                let Ok(stat) = fstat(&dir) else { continue };
                if every || directories.contains(&(stat.st_dev, stat.st_ino)) {
                    self.dot_git(dir.as_fd());
                    if let Ok(same) = dir.try_clone() {
                        self.git_dir(same, None, true);
                    }
                    if rel.file_name() == Some(OsStr::new("hooks")) {
                        if let Ok(git) = openat(&dir, "..", DIR, Mode::empty()) {
                            self.git_dir(git, None, true);
                        }
                    }
                }
                let listing = format!("/proc/self/fd/{}", dir.as_raw_fd());
                let entries = match std::fs::read_dir(&listing) {
                    Ok(entries) => entries,
                    Err(e) => {
                        unsearched.push(format!("{} ({e})", root.join(&rel).display()));
                        continue;
                    }
                };
                for entry in entries.flatten() {
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        queue.push(rel.join(entry.file_name()));
                    }
                }
            }
        }
        if let Some(first) = unsearched.first() {
            self.notes.push(format!(
                "{} director{} could not be searched after the run, so a repository there was not checked: {first}{}",
                unsearched.len(),
                if unsearched.len() == 1 { "y" } else { "ies" },
                if unsearched.len() > 1 { ", …" } else { "" }
            ));
        }
    }

    /// Whether `dir` lies in a writable root or the workspace's own `/tmp`: where the command
    /// could change a name, and so where cordon may move one aside.
    fn changeable(&self, dir: BorrowedFd<'_>) -> bool {
        fd_path(dir).is_ok_and(|path| self.within(dir, &path))
    }

    /// [`Self::changeable`] for the directory `dir` whose path is `path`: the roots by path
    /// first, the `/tmp` by inode (a walk up) only when that fails.
    fn within(&self, dir: BorrowedFd<'_>, path: &std::path::Path) -> bool {
        self.roots.iter().any(|r| path.starts_with(r))
            || self.scratch.is_some_and(|s| beneath(dir, s))
    }

    /// A `.git` in `parent`: a directory (the git directory), a file naming one, or a link to one.
    fn dot_git(&mut self, parent: BorrowedFd<'_>) {
        // A symlink named `.git`: git follows it, wherever it leads (round thirteen's led into
        // the workspace's own `/tmp`, where the command had made a repository). `O_DIRECTORY`
        // with `O_NOFOLLOW` reports such a link as `ENOTDIR`, like a `.git` file, so it is told
        // apart first.
        let is_link = fstatat(parent, ".git", nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if is_link {
            match openat(parent, ".git", DIR_FOLLOWED, Mode::empty()) {
                Ok(git) => self.git_dir(git, Some((parent, ".git")), true),
                Err(_) => self.move_aside(
                    parent,
                    ".git",
                    "it is a link to a git directory that is missing",
                ),
            }
            return;
        }
        match openat(parent, ".git", DIR, Mode::empty()) {
            Ok(git) => self.git_dir(git, Some((parent, ".git")), true),
            Err(nix::Error::ENOTDIR) => {
                let target = match read_small(parent, ".git", MAX_POINTER_BYTES) {
                    Ok(text) => gitdir_of(&text),
                    Err(e) => {
                        let why =
                            format!("it could not be read in full to check where it leads ({e})");
                        return self.move_aside(parent, ".git", &why);
                    }
                };
                // Not a pointer git follows (git says "invalid gitdir file"): nothing to check.
                let Some(target) = target else {
                    return;
                };
                // git follows the file wherever it points, links included. A target that does
                // not exist yet, or lies outside the roots, could be made later by a writer the
                // sandbox does not see (the agent's own file tools): the pointer goes.
                let base = fd_path(parent).unwrap_or_default();
                let inside = within_roots(self.roots, &base.join(&target));
                match openat(parent, target.as_path(), DIR_FOLLOWED, Mode::empty()) {
                    Ok(git) if inside => self.git_dir(git, Some((parent, ".git")), true),
                    _ => self.move_aside(
                        parent,
                        ".git",
                        &format!(
                            "it names {} as its git directory, which is missing or outside the writable roots",
                            target.display()
                        ),
                    ),
                }
            }
            Err(_) => {}
        }
    }

    /// Looks at one git directory; `pointer` is the entry in a writable root that led here (a
    /// `.git` or a `commondir`), moved aside instead when the directory lies outside the roots.
    /// `needs_head`: only a directory with a `HEAD` is a repository (a common directory, which a
    /// `commondir` names, needs none).
    fn git_dir(&mut self, git: OwnedFd, pointer: Option<(BorrowedFd<'_>, &str)>, needs_head: bool) {
        let Ok(stat) = fstat(&git) else { return };
        let id = (stat.st_dev, stat.st_ino);
        if self.protected.contains(&id) {
            return;
        }
        let Ok(path) = fd_path(git.as_fd()) else {
            return;
        };
        // The workspace's own `/tmp` is a place the command writes, and one a link in the
        // workspace can lead the user's git to: its repositories are judged as a writable root's
        // are (by inode: once the command's mount namespace is gone, its directories are named
        // relative to it, `/e/.git` for `/tmp/e/.git`). Judged for every pointer, before the
        // directory counts as seen: a second link to the same place goes too (round fourteen).
        if !self.within(git.as_fd(), &path) {
            if let Some((dir, name)) = pointer.filter(|(dir, _)| self.changeable(*dir)) {
                self.move_aside(dir, name, &format!(
                    "it leads git to {}, outside the writable roots, whose configuration and hooks git would obey",
                    path.display()
                ));
            }
            return;
        }
        // Only a directory git would take for a repository: one with a HEAD. One without is not
        // marked seen, so that a pointer leading to it later (a `commondir`: a common directory
        // needs no HEAD) still has it checked (round fourteen wrote the config first).
        if self.seen.contains(&id)
            || (needs_head
                && fstatat(&git, "HEAD", nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).is_err())
        {
            return;
        }
        self.seen.insert(id);
        // `core.worktree` moves where git checks files out: it must stay in a writable root, as
        // git will find it (links followed), written plainly (no quotes, escapes or comment).
        let roots = self.roots;
        let worktree_stays = |value: &str| worktree_stays(roots, &path, value);
        for config in ["config", "config.worktree"] {
            if let Some(why) = config_runs_something(git.as_fd(), config, &worktree_stays) {
                self.move_aside(git.as_fd(), config, &why);
            }
        }
        if let Some(why) = hooks_run_something(git.as_fd()) {
            self.move_aside(git.as_fd(), "hooks", &why);
        }
        self.sequencer(git.as_fd());
        // A worktree's or a repository's `commondir`: git reads the config and hooks there too.
        let common = match read_small(git.as_fd(), "commondir", MAX_POINTER_BYTES) {
            Err(nix::Error::ENOENT) => return,
            Err(e) => {
                let why = format!("it could not be read in full to check where it leads ({e})");
                return self.move_aside(git.as_fd(), "commondir", &why);
            }
            Ok(text) => pointer_path(&text),
        };
        let Some(common) = common else {
            return self.move_aside(git.as_fd(), "commondir", "it names no directory");
        };
        match openat(&git, common.as_path(), DIR_FOLLOWED, Mode::empty()) {
            Ok(dir) => self.git_dir(dir, Some((git.as_fd(), "commondir")), false),
            Err(_) => self.move_aside(
                git.as_fd(),
                "commondir",
                &format!("it names {}, which is missing", common.display()),
            ),
        }
    }

    /// A rebase or cherry-pick stopped with commands still to run (`exec` lines in its todo):
    /// the user's `git rebase --continue` would run them outside any sandbox (round fourteen
    /// left `exec touch …` behind a `break`). The sequencer's state is moved aside; the note
    /// says so, and moving it back resumes the rebase.
    fn sequencer(&mut self, git: BorrowedFd<'_>) {
        for (dir, todo) in [
            ("rebase-merge", "rebase-merge/git-rebase-todo"),
            ("sequencer", "sequencer/todo"),
        ] {
            let why = match read_small(git, todo, MAX_CONFIG_BYTES) {
                Err(nix::Error::ENOENT) | Err(nix::Error::ENOTDIR) => continue,
                Err(e) => format!("its {todo} could not be read to check it ({e})"),
                Ok(text) => match todo_runs_something(&text) {
                    Some(line) => format!(
                        "a stopped rebase or cherry-pick would run `{line}` outside any sandbox on `git rebase --continue`"
                    ),
                    None => continue,
                },
            };
            self.move_aside(git, dir, &why);
        }
    }

    /// Renames `dir/name` to `name.refused-by-cordon` (or `.1`, `.2`, … when that is taken) and
    /// notes it.
    fn move_aside(&mut self, dir: BorrowedFd<'_>, name: &str, why: &str) {
        let shown = fd_path(dir).map_or_else(|_| PathBuf::from("?"), |p| p.join(name));
        for n in 0..16 {
            let aside = match n {
                0 => format!("{name}.refused-by-cordon"),
                n => format!("{name}.refused-by-cordon.{n}"),
            };
            if fstatat(
                dir,
                aside.as_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .is_ok()
            {
                continue;
            }
            match renameat(dir, name, dir, aside.as_str()) {
                Ok(()) => {
                    self.notes.push(format!(
                        "{}: moved to {aside} after the run: {why}",
                        shown.display()
                    ));
                }
                Err(e) => self.notes.push(format!(
                    "{}: could not be moved aside after the run ({e}), though {why}",
                    shown.display()
                )),
            }
            return;
        }
        self.notes.push(format!(
            "{}: not moved aside (too many earlier ones), though {why}",
            shown.display()
        ));
    }
}

/// Whether a `core.worktree` of `value` in the git directory `git` keeps git's checkout in a
/// writable root, as git will find it (links followed), written plainly (no quotes, escapes or
/// comment).
pub(crate) fn worktree_stays(roots: &[PathBuf], git: &std::path::Path, value: &str) -> bool {
    !value.contains(['"', '\\', ';', '#']) && within_roots(roots, &git.join(value))
}

/// Whether `path` lies in one of `roots` as git would find it ([`crate::resolve_as_far_as_exists`]).
fn within_roots(roots: &[PathBuf], path: &std::path::Path) -> bool {
    crate::resolve_as_far_as_exists(path)
        .is_some_and(|real| roots.iter().any(|r| real.starts_with(r)))
}

/// Reads at most `limit` bytes of the regular file `dir/name`, following no symlink; `Err` when
/// it is absent, not a regular file, or larger.
pub(crate) fn read_small(dir: BorrowedFd<'_>, name: &str, limit: usize) -> nix::Result<Vec<u8>> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let stat = fstat(&fd)?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG || stat.st_size as usize > limit {
        return Err(nix::Error::EFBIG);
    }
    let mut buf = Vec::with_capacity(stat.st_size as usize);
    std::fs::File::from(fd)
        .take(limit as u64)
        .read_to_end(&mut buf)
        .map_err(|e| nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    Ok(buf)
}

/// The largest `.git` file or `commondir` read; a larger one is moved aside unread.
pub(crate) const MAX_POINTER_BYTES: usize = 64 << 10;

/// The directory a `.git` file names (`gitdir: PATH`), as git reads it (`read_gitfile_gently`):
/// the whole file after the prefix, less the `\n` and `\r` that end it. Anything else in it,
/// a space or a second line, is part of the path.
pub(crate) fn gitdir_of(text: &[u8]) -> Option<PathBuf> {
    pointer_path(text.strip_prefix(b"gitdir: ")?)
}

/// The path a pointer file names, as git reads `commondir` and a `.git` file: the whole text
/// less the `\n` and `\r` that end it (`None` when nothing is left).
pub(crate) fn pointer_path(text: &[u8]) -> Option<PathBuf> {
    let end = text
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    (end > 0).then(|| PathBuf::from(OsStr::from_bytes(&text[..end])))
}

/// The first line of a sequencer's todo that runs a command (`exec`/`x`), when one does.
fn todo_runs_something(text: &[u8]) -> Option<String> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let line = String::from_utf8_lossy(line);
        let words = line.trim_start();
        let command = words.split_ascii_whitespace().next()?;
        matches!(command, "exec" | "x").then(|| words.trim_end().to_string())
    })
}

/// Why `git/name` (a config file) would make git run something, if it would: a key beyond the
/// allow-list, or a file cordon cannot read for certain. `None` when absent or inert.
fn config_runs_something(
    git: BorrowedFd<'_>,
    name: &str,
    worktree_stays: &dyn Fn(&str) -> bool,
) -> Option<String> {
    match fstatat(git, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(_) => return None,
        Ok(s) if s.st_mode & libc::S_IFMT != libc::S_IFREG => {
            return Some(format!("{name} is not a plain file, and git would read it"))
        }
        Ok(_) => {}
    }
    let text = match read_small(git, name, MAX_CONFIG_BYTES) {
        Ok(text) => text,
        Err(e) => return Some(format!("{name} could not be read to check it ({e})")),
    };
    match first_active_key(&text, worktree_stays) {
        Ok(None) => None,
        Ok(Some(key)) => Some(format!(
            "it sets {key}, which git may run or follow outside any sandbox"
        )),
        Err(line) => Some(format!(
            "its line {line} is not one cordon can read for certain, and git would obey it"
        )),
    }
}

/// Why `git/hooks` would run something: an entry other than git's own `*.sample` files, or a
/// `hooks` that is not a directory.
fn hooks_run_something(git: BorrowedFd<'_>) -> Option<String> {
    let hooks = match openat(git, "hooks", DIR, Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return None,
        Err(_) => return Some("hooks is not a plain directory, and git would run from it".into()),
    };
    let listing = format!("/proc/self/fd/{}", hooks.as_raw_fd());
    let entries = match std::fs::read_dir(&listing) {
        Ok(entries) => entries,
        Err(e) => return Some(format!("hooks could not be listed to check it ({e})")),
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.as_bytes().ends_with(b".sample") {
            return Some(format!(
                "it holds the hook {}, which git would run outside any sandbox",
                name.to_string_lossy()
            ));
        }
    }
    None
}

/// The first key of a git config that is not on the allow-list of keys that run nothing, as
/// `section.key` (`section.sub.key`); `Err(line number)` for a line that does not parse plainly
/// (a continued value, a bad header). Git's own grammar is wider; anything beyond this plain
/// subset counts against the file.
fn first_active_key(
    text: &[u8],
    worktree_stays: &dyn Fn(&str) -> bool,
) -> Result<Option<String>, usize> {
    Ok(config_entries(text, Reading::Strict)?
        .into_iter()
        .find(|e| !e.inert(worktree_stays))
        .map(|e| e.shown()))
}

/// Why git would run something after a command wrote `new` over a protected repository's
/// config whose text was `old`, if it would: `new` must parse plainly, and every key in it
/// beyond the allow-list must be one `old` already set, to the same value and in the same
/// section. So `git remote add`, `git branch -u` or `git config user.email` write through, and
/// the keys the user set themselves (`core.hooksPath`, an `include`, an alias) may stay, but
/// none may be added or changed. `added_by_a_command`: whether a remote's URL is one a command
/// added, in this run or an earlier one (the broker's record, `broker/remotes.rs`).
pub(crate) fn config_change_runs_something(
    old: &[u8],
    new: &[u8],
    worktree_stays: &dyn Fn(&str) -> bool,
    added_by_a_command: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let entries = match config_entries(new, Reading::Strict) {
        Ok(entries) => entries,
        Err(line) => {
            return Some(format!(
                "its line {line} is not one cordon can read for certain, and git would obey it"
            ))
        }
    };
    let kept: HashSet<ConfigEntry> = git_config_entries(old).into_iter().collect();
    for entry in &entries {
        if !entry.inert(worktree_stays) && !kept.contains(entry) {
            return Some(format!(
                "it sets {}, which git may run or follow outside any sandbox",
                entry.shown()
            ));
        }
        if let Some(why) = redirects_a_push(entry, &kept, added_by_a_command) {
            return Some(why);
        }
        if let Some(why) = steers_a_pull(entry, &kept) {
            return Some(why);
        }
    }
    removes_a_users_remote(&kept, &entries, added_by_a_command)
}

/// Why `entry` would have the user's plain `git pull` merge what no check judged, or their
/// `git push` send nothing, if it would (red-team rounds twenty-three and twenty-four): a
/// branch's `merge` naming anything but a branch (cordon's refused refs, a remote-tracking ref,
/// a fork's pull request), and a branch's `pushRemote` made `.`.
fn steers_a_pull(entry: &ConfigEntry, kept: &HashSet<ConfigEntry>) -> Option<String> {
    if kept.contains(entry) || entry.section != "branch" || entry.sub.is_none() {
        return None;
    }
    match entry.key.as_str() {
        // A branch of the remote (or of this repository): not a pull request from anyone's fork
        // (`refs/pull/7/head`, round twenty-four), a commit cordon refused, a remote-tracking
        // ref or a note, which the checks leave alone.
        "merge" if !entry.value.starts_with("refs/heads/") => Some(format!(
            "it sets {} to {}, which is no branch, and the user's next pull would merge it",
            entry.shown(),
            entry.value
        )),
        "pushremote" if entry.value == "." => Some(format!(
            "it sets {} to this repository, so the user's next push would send nothing",
            entry.shown()
        )),
        _ => None,
    }
}

/// The URLs `new` gives remotes that `old` gave none: what `git remote add` adds, for the
/// broker's record of remotes commands added.
pub(crate) fn remote_urls_added(old: &[u8], new: &[u8]) -> Vec<String> {
    let urls = |text: &[u8]| -> Vec<String> {
        git_config_entries(text)
            .into_iter()
            .filter(ConfigEntry::is_remote_url)
            .map(|e| e.value)
            .collect()
    };
    let before: HashSet<String> = urls(old).into_iter().collect();
    let mut added: Vec<String> = urls(new)
        .into_iter()
        .filter(|u| !before.contains(u))
        .collect();
    added.sort();
    added.dedup();
    added
}

/// Why `entry` would send the user's next `git push` or `git pull` somewhere the user did not
/// choose, if it would: an existing remote given another URL (`git remote set-url origin …`), or
/// a branch set to pull from or push to a remote the old config did not have, or one a command
/// added (red-team round twenty-one: `git remote add up2 …` and then `git config
/// branch.main.pushRemote up2`, in one run or over two). A new remote, and a branch tracking a
/// remote the user set up, are what `git remote add` and `git push -u` write. A command with no
/// network could otherwise have the user's own push carry the repository to a host of its
/// choosing, or the user's pull bring in commits the run's history check never saw.
fn redirects_a_push(
    entry: &ConfigEntry,
    kept: &HashSet<ConfigEntry>,
    added_by_a_command: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if kept.contains(entry) {
        return None;
    }
    let urls_of = |remote: &str| -> Vec<&str> {
        kept.iter()
            .filter(move |e| e.is_remote_url() && e.sub.as_deref() == Some(remote))
            .map(|e| e.value.as_str())
            .collect()
    };
    match (entry.section.as_str(), entry.sub.as_deref(), entry.key.as_str()) {
        ("remote", Some(remote), "url" | "pushurl") if !urls_of(remote).is_empty() => {
            Some(format!(
                "it changes where the remote {remote} is reached ({}), which the user's next push would follow",
                entry.shown()
            ))
        }
        ("branch", Some(_), "remote" | "pushremote") if entry.value.as_str() != "." => {
            let urls = urls_of(entry.value.as_str());
            if urls.is_empty() {
                Some(format!(
                    "it sets {} to {}, a remote the repository did not have, where the user's next push would go",
                    entry.shown(),
                    entry.value
                ))
            } else {
                urls.iter().find(|u| added_by_a_command(u)).map(|url| {
                    format!(
                        "it sets {} to {}, a remote a command added ({url}), where the user's next pull or push would go",
                        entry.shown(),
                        entry.value
                    )
                })
            }
        }
        _ => None,
    }
}

/// Why `new` drops a remote the user set up, if it does (`git remote remove`, `git remote
/// rename`): a command could then add one of the same name with a URL of its choosing, and
/// the user's next `git push origin` would go there. A remote a command added may go again.
fn removes_a_users_remote(
    kept: &HashSet<ConfigEntry>,
    new: &[ConfigEntry],
    added_by_a_command: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let still: HashSet<&str> = new
        .iter()
        .filter(|e| e.is_remote_url())
        .filter_map(|e| e.sub.as_deref())
        .collect();
    let mut gone: Vec<&ConfigEntry> = kept
        .iter()
        .filter(|e| e.is_remote_url() && !added_by_a_command(e.value.as_str()))
        .filter(|e| e.sub.as_deref().is_some_and(|r| !still.contains(r)))
        .collect();
    gone.sort_by(|a, b| a.sub.cmp(&b.sub));
    gone.first().map(|e| {
        format!(
            "it removes the remote {}, which a later command could add again with a URL of its choosing; a person can remove or rename it outside cordon",
            e.sub.as_deref().unwrap_or_default()
        )
    })
}

/// One `key = value` line of a git config, in its section.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigEntry {
    /// Lower-cased.
    pub section: String,
    /// As written (lower-cased in the old `[section.sub]` form).
    pub sub: Option<String>,
    /// Lower-cased.
    pub key: String,
    /// As git reads it ([`git_value`]): `url = "x" ; old` is `x`.
    pub value: String,
}

/// The entries of a git config a trusted file sets, read leniently (a line this reader cannot
/// read plainly is skipped, and with it what it could change the meaning of): what the user's
/// own configuration says, for a reader that needs no more than that.
pub fn git_config_entries(text: &[u8]) -> Vec<ConfigEntry> {
    config_entries(text, Reading::Lenient).unwrap_or_default()
}

/// The programs and directories of programs `entries` make git run, as written, where they are
/// named by a path (`core.fsmonitor = ~/bin/fsmon`, `credential.helper = !/opt/h get`,
/// `alias.x = !./tools/x.sh`, `filter.lfs.clean = ./clean.sh %f`, `init.templateDir`): a command
/// that rewrote such a file would run with the user's authority on their next git command
/// (red-team round twenty-four). A program git finds on the `PATH`, or a shell text whose first
/// word is no path, is none.
pub fn programs_named(entries: &[ConfigEntry]) -> Vec<String> {
    let mut named = Vec::new();
    for entry in entries {
        let (section, sub, key) = (
            entry.section.as_str(),
            entry.sub.as_deref(),
            entry.key.as_str(),
        );
        let value = entry.value.as_str();
        let command = match (section, sub.is_some(), key) {
            ("core", false, "fsmonitor") if !inert(section, None, key, value) => Some(value),
            ("core", false, "pager" | "editor" | "askpass" | "sshcommand")
            | ("sequence", false, "editor")
            | ("diff", false, "external")
            | ("gpg", _, "program")
            | ("credential", _, "helper")
            | ("filter", true, "clean" | "smudge" | "process")
            | ("diff", true, "textconv" | "command")
            | ("merge", true, "driver")
            | ("pager", _, _)
            | ("sendemail", _, "smtpserver") => Some(value),
            ("alias", _, _) => value.strip_prefix('!'),
            ("init", false, "templatedir") => {
                named.push(value.to_string());
                None
            }
            _ => None,
        };
        let Some(command) = command else { continue };
        let command = command.strip_prefix('!').unwrap_or(command).trim_start();
        let first = command.split_whitespace().next().unwrap_or_default();
        let first = first.trim_matches(|c| c == '"' || c == '\'');
        if first.contains('/') {
            named.push(first.to_string());
        }
    }
    named
}

impl ConfigEntry {
    /// A remote's `url` or `pushurl`: where git fetches from or pushes to.
    fn is_remote_url(&self) -> bool {
        self.section == "remote"
            && self.sub.is_some()
            && matches!(self.key.as_str(), "url" | "pushurl")
    }

    fn shown(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{s}.{}", self.section, self.key),
            None => format!("{}.{}", self.section, self.key),
        }
    }

    fn inert(&self, worktree_stays: &dyn Fn(&str) -> bool) -> bool {
        let worktree = self.section == "core" && self.sub.is_none() && self.key == "worktree";
        if worktree {
            worktree_stays(&self.value)
        } else {
            inert(&self.section, self.sub.as_deref(), &self.key, &self.value)
        }
    }
}

/// How [`config_entries`] treats a line it cannot read plainly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The line is an error: what cordon cannot read, git may read as something that runs.
    Strict,
    /// The line is skipped, and so is every key after it until the next header that parses
    /// (after a bad header the section is unknown) and the line after a continued one (it is
    /// part of a value): for the keys a trusted file already set, never more than it set.
    Lenient,
}

/// The `key = value` entries of a config file, in order. Strictly read, `Err(line number)` at
/// the first line that does not parse plainly.
fn config_entries(text: &[u8], reading: Reading) -> Result<Vec<ConfigEntry>, usize> {
    let mut entries = Vec::new();
    // `None` after a header that did not parse (lenient reading only).
    let mut section: Option<(String, Option<String>)> = Some((String::new(), None));
    let mut continued = false;
    for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = n + 1;
        let was_continued = std::mem::replace(&mut continued, false);
        // A control character (a tab aside, and the `\r` of a CRLF line end) is read by git
        // otherwise than here: a NUL ends git's name of a variable early, so
        // `[remote "origin.uploadpack\0"] url = X` is `remote.origin.uploadpack` to git
        // (red-team round fourteen).
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let control = raw.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f);
        let line = match std::str::from_utf8(raw) {
            Ok(line) if !control => line.trim(),
            _ if reading == Reading::Lenient => {
                // What follows a line that cannot be read is of an unknown section.
                section = None;
                continue;
            }
            _ => return Err(line_no),
        };
        if was_continued && reading == Reading::Lenient {
            continued = line.ends_with('\\');
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let parsed = parse_line(line, &mut section);
        match parsed {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(()) if reading == Reading::Strict => return Err(line_no),
            Err(()) => {
                continued = line.ends_with('\\');
                if line.starts_with('[') {
                    section = None;
                }
            }
        }
    }
    Ok(entries)
}

/// One non-empty, non-comment line: a header (which sets `section`) or an entry of the current
/// section. `Err` for what does not parse plainly, and for a key while the section is unknown.
fn parse_line(
    line: &str,
    section: &mut Option<(String, Option<String>)>,
) -> Result<Option<ConfigEntry>, ()> {
    if line.ends_with('\\') {
        return Err(());
    }
    let mut line = line;
    if let Some(header) = line.strip_prefix('[') {
        let (header, rest) = header.split_once(']').ok_or(())?;
        *section = Some(parse_header(header).ok_or(())?);
        // What follows `]` on the header's line is a key of the section to git (red-team round
        // twenty-one: `[core] hooksPath = tools/hooks`).
        line = rest.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            return Ok(None);
        }
    }
    let (key, value) = match line.split_once('=') {
        Some((k, v)) => (k.trim(), git_value(v).ok_or(())?),
        None => (line, "true".to_string()),
    };
    let key_chars = key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !key.starts_with(|c: char| c.is_ascii_alphabetic()) || !key_chars {
        return Err(());
    }
    let (name, sub) = section.as_ref().ok_or(())?;
    Ok(Some(ConfigEntry {
        section: name.clone(),
        sub: sub.clone(),
        key: key.to_ascii_lowercase(),
        value,
    }))
}

/// A value as git reads it from the text after `=` (`parse_value` in git's `config.c`):
/// double quotes taken away, `\\`, `\"`, `\t`, `\n` and `\b` unescaped, an unquoted `;` or `#`
/// starting a comment, and unquoted whitespace at either end dropped. `None` for what git
/// refuses (an unknown escape, an open quote) and for a value continued on the next line, which
/// the callers never read.
fn git_value(text: &str) -> Option<String> {
    let mut value = String::new();
    let mut quoted = false;
    // The length before a run of unquoted whitespace, to cut it off if nothing follows it.
    let mut trim_to: Option<usize> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_whitespace() && !quoted {
            if !value.is_empty() {
                trim_to.get_or_insert(value.len());
                value.push(c);
            }
            continue;
        }
        if !quoted && (c == ';' || c == '#') {
            break;
        }
        trim_to = None;
        match c {
            '\\' => value.push(match chars.next()? {
                't' => '\t',
                'b' => '\u{8}',
                'n' => '\n',
                same @ ('\\' | '"') => same,
                _ => return None,
            }),
            '"' => quoted = !quoted,
            c => value.push(c),
        }
    }
    if quoted {
        return None;
    }
    if let Some(len) = trim_to {
        value.truncate(len);
    }
    Some(value)
}

/// `section`, `section "sub"` or the old `section.sub`: the section lower-cased, the
/// subsection as written (lower-cased in the old form).
fn parse_header(header: &str) -> Option<(String, Option<String>)> {
    let header = header.trim();
    if let Some((section, rest)) = header.split_once(char::is_whitespace) {
        let sub = rest.trim().strip_prefix('"')?.strip_suffix('"')?;
        if sub.contains(['"', '\\']) {
            return None;
        }
        return Some((section.to_ascii_lowercase(), Some(sub.to_string())));
    }
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if !plain(header) {
        return None;
    }
    match header.split_once('.') {
        Some((section, sub)) => {
            Some((section.to_ascii_lowercase(), Some(sub.to_ascii_lowercase())))
        }
        None => Some((header.to_ascii_lowercase(), None)),
    }
}

/// Keys that make git run nothing and follow nothing beyond the repository: what `git init`,
/// `git clone`, `git remote add`, `git branch -u`, `git config user.*` and git's own
/// maintenance write. Everything else (`core.fsmonitor` with a command, `core.hooksPath`,
/// `core.pager`, `core.sshCommand`, filters, diff and merge drivers, `credential.helper`,
/// `include.path`, aliases, `protocol.*.allow`, …) is not on it.
fn inert(section: &str, sub: Option<&str>, key: &str, value: &str) -> bool {
    match (section, sub.is_some()) {
        ("merge", false) => matches!(key, "conflictstyle" | "ff" | "log" | "renamelimit"),
        ("rerere", false) => matches!(key, "enabled" | "autoupdate"),
        ("diff", false) => matches!(
            key,
            "algorithm"
                | "renames"
                | "renamelimit"
                | "colormoved"
                | "mnemonicprefix"
                | "noprefix"
                | "indentheuristic"
                | "submodule"
        ),
        ("status", false) => matches!(
            key,
            "showuntrackedfiles" | "short" | "branch" | "submodulesummary" | "relativepaths"
        ),
        ("rebase", false) => matches!(key, "autosquash" | "autostash" | "updaterefs" | "stat"),
        ("http", false) => key == "postbuffer",
        ("tag", false) => matches!(key, "sort" | "gpgsign"),
        ("branch", false) => matches!(key, "autosetupmerge" | "autosetuprebase" | "sort"),
        ("submodule", false) => matches!(key, "recurse" | "fetchjobs"),
        ("commit", false) => matches!(key, "gpgsign" | "verbose"),
        ("core", false) => match key {
            "fsmonitor" => matches!(
                value.to_ascii_lowercase().as_str(),
                "true" | "false" | "yes" | "no" | "on" | "off" | "1" | "0" | ""
            ),
            _ => matches!(
                key,
                "repositoryformatversion"
                    | "filemode"
                    | "bare"
                    | "logallrefupdates"
                    | "ignorecase"
                    | "precomposeunicode"
                    | "symlinks"
                    | "autocrlf"
                    | "eol"
                    | "safecrlf"
                    | "quotepath"
                    | "compression"
                    | "loosecompression"
                    | "bigfilethreshold"
                    | "sparsecheckout"
                    | "sparsecheckoutcone"
                    | "untrackedcache"
                    | "splitindex"
                    | "commitgraph"
                    | "multipackindex"
                    | "checkstat"
                    | "trustctime"
                    | "abbrev"
                    | "preloadindex"
                    | "sharedrepository"
                    | "excludesfile"
                    | "longpaths"
                    | "whitespace"
            ),
        },
        // Not `push` (a refspec such as `:refs/heads/main` deletes on the user's next push)
        // nor `mirror` (a push then deletes every other branch of the remote): red-team round
        // fifteen had the user's `git push` delete a teammate's branches so.
        ("remote", true) => matches!(
            key,
            "url"
                | "pushurl"
                | "fetch"
                | "tagopt"
                | "prune"
                | "prunetags"
                | "skipfetchall"
                | "partialclonefilter"
                | "promisor"
        ),
        ("branch", true) => matches!(
            key,
            "remote" | "merge" | "rebase" | "description" | "pushremote"
        ),
        ("submodule", true) => matches!(
            key,
            "url" | "path" | "active" | "branch" | "fetchrecursesubmodules" | "ignore" | "shallow"
        ),
        ("user", false) => matches!(key, "name" | "email"),
        ("init", false) => key == "defaultbranch",
        ("extensions", false) => matches!(
            key,
            "objectformat" | "worktreeconfig" | "refstorage" | "partialclone" | "preciousobjects"
        ),
        ("gc", false) => matches!(
            key,
            "auto" | "autodetach" | "autopacklimit" | "reflogexpire"
        ),
        ("maintenance", false) => matches!(key, "auto" | "strategy"),
        ("pull", false) => matches!(key, "rebase" | "ff"),
        // Not `push.default` (`matching` pushes every branch of the same name).
        // Not `followTags` either: the user's plain push would then publish a tag the command
        // made (red-team round twenty-four).
        ("push", false) => key == "autosetupremote",
        ("fetch", false) => matches!(key, "prune" | "prunetags" | "writecommitgraph"),
        // Not `lfs.url`: git-lfs pushes the large files there.
        ("lfs", false) => key == "repositoryformatversion",
        ("lfs", true) => key == "access",
        ("index", false) => matches!(key, "version" | "sparse"),
        ("feature", false) => matches!(key, "manyfiles" | "experimental"),
        ("color", _) | ("advice", false) | ("i18n", false) | ("log", false) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_git_init_clone_and_remote_add_write_is_inert() {
        let init = b"[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n";
        assert_eq!(first_active_key(init, &|_| true), Ok(None));
        let clone = b"[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = https://example.com/x.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n[user]\n\tname = A ; comment\n# c\n";
        assert_eq!(first_active_key(clone, &|_| true), Ok(None));
        assert_eq!(
            first_active_key(b"[core]\nfsmonitor = true\n", &|_| true),
            Ok(None)
        );
    }

    #[test]
    fn keys_that_run_programs_are_found_however_they_are_spelled() {
        for (text, key) in [
            (
                &b"[core]\n\tfsmonitor = touch /tmp/pwned\n"[..],
                "core.fsmonitor",
            ),
            (b"[CORE]\n\tHooksPath = /tmp/h\n", "core.hookspath"),
            (b"[core]\n\tpager = sh -c evil\n", "core.pager"),
            (b"[core] \n sshCommand=evil\n", "core.sshcommand"),
            (b"[filter \"x\"]\n\tclean = evil\n", "filter.x.clean"),
            (b"[diff \"x\"]\n\ttextconv = evil\n", "diff.x.textconv"),
            (b"[credential]\n\thelper = !evil\n", "credential.helper"),
            (b"[include]\n\tpath = /tmp/evil.cfg\n", "include.path"),
            (b"[alias]\n\tst = !evil\n", "alias.st"),
            (
                b"[protocol \"ext\"]\n\tallow = always\n",
                "protocol.ext.allow",
            ),
            (
                b"[remote \"o\"]\n\tuploadpack = evil\n",
                "remote.o.uploadpack",
            ),
            (b"[core.x]\n\tfoo = 1\n", "core.x.foo"),
        ] {
            assert_eq!(
                first_active_key(text, &|_| true),
                Ok(Some(key.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_worktree_is_allowed_only_where_the_check_says_it_stays() {
        let text = b"[core]\n\tworktree = ../../sub\n";
        assert_eq!(first_active_key(text, &|v| v == "../../sub"), Ok(None));
        assert_eq!(
            first_active_key(text, &|_| false),
            Ok(Some("core.worktree".to_string()))
        );
        assert_eq!(
            crate::resolve::lexically_normal(std::path::Path::new("/w/a/.git/../../b/./c")),
            PathBuf::from("/w/b/c")
        );
    }

    #[test]
    fn what_does_not_parse_plainly_counts_against_the_file() {
        for text in [
            &b"[core]\n\tpager = a \\\nb\n"[..],
            b"[core\n",
            b"[remote \"a\\\"b\"]\n",
            b"[core]\n\tfs monitor = x\n",
            b"[core]\n\tpager = \"less\n",
            b"[core]\n\tpager = le\\ss\n",
            b"\xff\n",
        ] {
            assert!(first_active_key(text, &|_| true).is_err(), "{text:?}");
        }
    }

    /// Round twenty-four: the programs a config names by a path, which a command could rewrite.
    #[test]
    fn the_programs_a_config_names_by_a_path_are_found() {
        let text = b"[core]\n\tfsmonitor = ./tools/fsmon.sh\n\tpager = less -R\n\tsshCommand = ~/bin/ssh-wrap -v\n[credential]\n\thelper = !/opt/cred/helper get\n[credential \"https://h\"]\n\thelper = store\n[alias]\n\tt = !./tools/t.sh --fast\n\tst = status\n[filter \"x\"]\n\tclean = \"scripts/clean.sh\" %f\n[init]\n\ttemplateDir = ~/.git-template\n[core]\n\tfsmonitor = true\n";
        let named = programs_named(&git_config_entries(text));
        assert_eq!(
            named,
            [
                "./tools/fsmon.sh",
                "~/bin/ssh-wrap",
                "/opt/cred/helper",
                "./tools/t.sh",
                "scripts/clean.sh",
                "~/.git-template"
            ]
        );
    }

    /// Red-team round twenty-one: `hooksPath = tools/hooks ; team hooks` is `tools/hooks` to
    /// git, and so is a key on the header's line; a reader that took the value as written, or
    /// skipped the line, protected another directory than the one git runs hooks from.
    #[test]
    fn values_and_keys_are_read_as_git_reads_them() {
        for (raw, value) in [
            ("tools/hooks ; team hooks", Some("tools/hooks")),
            (" tools/hooks # team", Some("tools/hooks")),
            ("\"tools/\"hooks", Some("tools/hooks")),
            ("\"a ; b\" ; c", Some("a ; b")),
            ("a  b  ", Some("a  b")),
            ("\"a \"  ", Some("a ")),
            ("a\\\\b\\\"c\\td", Some("a\\b\"c\td")),
            ("", Some("")),
            ("\"open", None),
            ("bad\\q", None),
        ] {
            assert_eq!(git_value(raw).as_deref(), value, "{raw:?}");
        }
        let entries = git_config_entries(b"[core] hooksPath = tools/hooks ; team\n");
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(
            (entries[0].key.as_str(), entries[0].value.as_str()),
            ("hookspath", "tools/hooks")
        );
        assert_eq!(
            first_active_key(b"[core] fsmonitor = x\n", &|_| true),
            Ok(Some("core.fsmonitor".to_string()))
        );
        // A key starts with a letter.
        assert!(git_config_entries(b"[core]\n\t1x = y\n").is_empty());
    }

    #[test]
    fn a_rewrite_may_keep_what_the_user_set_but_add_or_change_nothing_that_runs() {
        let stays = |_: &str| true;
        let none = |_: &str| false;
        let old = b"[core]\n\tbare = false\n\thooksPath = .githooks\n[alias]\n\tlg = !git log\n";
        // git's rewrite for `git remote add`: the old text, a new inert section.
        let added = [
            &old[..],
            b"[remote \"o\"]\n\turl = https://example.invalid/x\n",
        ]
        .concat();
        assert_eq!(
            config_change_runs_something(old, &added, &stays, &none),
            None
        );
        // The user's own keys may also go.
        assert_eq!(
            config_change_runs_something(old, b"[core]\n\tbare = false\n", &stays, &none),
            None
        );
        for (new, why) in [
            (&b"[core]\n\thooksPath = /tmp/h\n"[..], "core.hookspath"),
            (b"[alias]\n\tlg = !evil\n", "alias.lg"),
            (b"[alias]\n\tst = !git status\n", "alias.st"),
            // The same line in another section is another key.
            (b"[core]\n\tlg = !git log\n", "core.lg"),
            (b"[alias \"x\"]\n\tlg = !git log\n", "alias.x.lg"),
            (b"[alias]\n\tlg = !git log \\\n", "line 2"),
        ] {
            let refused = config_change_runs_something(old, new, &stays, &none).unwrap_or_default();
            assert!(refused.contains(why), "{new:?}: {refused}");
        }
        // A file that did not exist before may set only inert keys.
        assert_eq!(
            config_change_runs_something(b"", b"[user]\n\tname = a\n", &stays, &none),
            None
        );
        assert!(
            config_change_runs_something(b"", b"[alias]\n\tlg = !x\n", &stays, &none).is_some()
        );
    }

    #[test]
    fn a_rewrite_may_add_a_remote_but_not_move_where_the_users_push_goes() {
        let stays = |_: &str| true;
        let none = |_: &str| false;
        let old = b"[remote \"origin\"]\n\turl = https://example.invalid/r.git\n";
        let with = |extra: &str| [&old[..], extra.as_bytes()].concat();
        // What `git remote add`, `git push -u origin` and `git branch -u origin/x` write.
        for fine in [
            "[remote \"up\"]\n\turl = https://example.invalid/up.git\n",
            "[branch \"main\"]\n\tremote = origin\n\tmerge = refs/heads/main\n",
            "[branch \"main\"]\n\tremote = .\n",
        ] {
            assert_eq!(
                config_change_runs_something(old, &with(fine), &stays, &none),
                None,
                "{fine}"
            );
        }
        // Round fifteen: what makes the user's next push delete or go elsewhere.
        for (extra, key) in [
            (
                "[remote \"origin\"]\n\tmirror = true\n",
                "remote.origin.mirror",
            ),
            (
                "[remote \"origin\"]\n\tpush = :refs/heads/main\n",
                "remote.origin.push",
            ),
            ("[push]\n\tdefault = matching\n", "push.default"),
            ("[lfs]\n\turl = https://evil.invalid/lfs\n", "lfs.url"),
        ] {
            let why =
                config_change_runs_something(old, &with(extra), &stays, &none).unwrap_or_default();
            assert!(why.contains(key), "{extra}: {why}");
        }
        let moved = b"[remote \"origin\"]\n\turl = https://evil.invalid/r.git\n";
        let why = config_change_runs_something(old, moved, &stays, &none).unwrap_or_default();
        assert!(why.contains("remote.origin.url"), "{why}");
        let pushurl = with("[remote \"origin\"]\n\tpushurl = https://evil.invalid/r.git\n");
        assert!(config_change_runs_something(old, &pushurl, &stays, &none).is_some());
        // A branch sent to a remote added in the same rewrite.
        let branch = with(
            "[remote \"x\"]\n\turl = https://evil.invalid/r.git\n[branch \"main\"]\n\tremote = x\n",
        );
        let why = config_change_runs_something(old, &branch, &stays, &none).unwrap_or_default();
        assert!(why.contains("branch.main.remote"), "{why}");
    }

    #[test]
    fn a_branch_is_not_sent_to_a_remote_a_command_added_nor_the_users_remote_removed() {
        let stays = |_: &str| true;
        let none = |_: &str| false;
        let added = |url: &str| url == "/w/.cache/evil.git";
        let old = b"[remote \"origin\"]\n\turl = /srv/r.git\n[remote \"up2\"]\n\turl = \"/w/.cache/evil.git\"\n";
        let with = |extra: &str| [&old[..], extra.as_bytes()].concat();
        for key in ["remote", "pushRemote"] {
            let new = with(&format!("[branch \"main\"]\n\t{key} = up2\n"));
            let why = config_change_runs_something(old, &new, &stays, &added).unwrap_or_default();
            assert!(why.contains("a remote a command added"), "{why}");
            // Control: the same rewrite when nobody recorded the URL.
            assert_eq!(config_change_runs_something(old, &new, &stays, &none), None);
            let users = with(&format!("[branch \"main\"]\n\t{key} = origin\n"));
            assert_eq!(
                config_change_runs_something(old, &users, &stays, &added),
                None
            );
        }
        // The user's remote may not go; the command's may.
        let without_origin = b"[remote \"up2\"]\n\turl = \"/w/.cache/evil.git\"\n";
        let why =
            config_change_runs_something(old, without_origin, &stays, &added).unwrap_or_default();
        assert!(why.contains("removes the remote origin"), "{why}");
        let without_up2 = b"[remote \"origin\"]\n\turl = /srv/r.git\n";
        assert_eq!(
            config_change_runs_something(old, without_up2, &stays, &added),
            None
        );
        assert_eq!(
            remote_urls_added(without_up2, old),
            vec!["/w/.cache/evil.git".to_string()]
        );
        assert!(remote_urls_added(old, without_up2).is_empty());
        // A rename of the user's remote may not go either: the new name keeps the URL, and
        // `origin` could then be added again elsewhere (round twenty-four removed `origin`
        // beside a command's `mirror` of its URL, then added it again).
        let renamed = b"[remote \"old\"]\n\turl = /srv/r.git\n";
        let why =
            config_change_runs_something(without_up2, renamed, &stays, &none).unwrap_or_default();
        assert!(why.contains("removes the remote origin"), "{why}");
        // A pull steered to what the checks leave alone, a push sent nowhere.
        let with_branch = |extra: &str| [&without_up2[..], extra.as_bytes()].concat();
        for (extra, says) in [
            (
                "[branch \"main\"]\n\tremote = origin\n\tmerge = refs/cordon/refused/1-2/heads/x\n",
                "which is no branch",
            ),
            (
                "[branch \"main\"]\n\tremote = .\n\tmerge = refs/remotes/origin/evil\n",
                "which is no branch",
            ),
            (
                "[branch \"main\"]\n\tremote = origin\n\tmerge = refs/pull/7/head\n",
                "which is no branch",
            ),
            ("[branch \"main\"]\n\tpushRemote = .\n", "send nothing"),
        ] {
            let why = config_change_runs_something(without_up2, &with_branch(extra), &stays, &none)
                .unwrap_or_default();
            assert!(why.contains(says), "{extra}: {why}");
        }
        // Control: a local branch tracked the way `git branch --track x main` writes it.
        let local = with_branch("[branch \"x\"]\n\tremote = .\n\tmerge = refs/heads/main\n");
        assert_eq!(
            config_change_runs_something(without_up2, &local, &stays, &none),
            None
        );
    }

    #[test]
    fn what_the_old_file_sets_is_read_no_wider_than_git_reads_it() {
        let stays = |_: &str| true;
        let none = |_: &str| false;
        // After a header that does not parse, the section is unknown: nothing below it counts
        // as set until the next good header.
        let old = b"[alias \"a\\\"b\"]\n\tlg = !x\n[user]\n\tname = a\n";
        let new = b"[alias]\n\tlg = !x\n";
        assert!(config_change_runs_something(old, new, &stays, &none).is_some());
        // The line after a continued one is part of a value, not a key.
        let old = b"[core]\n\teditor = vi \\\n\tpager = evil\n";
        let new = b"[core]\n\tpager = evil\n";
        assert!(config_change_runs_something(old, new, &stays, &none).is_some());
        // A key the old file set plainly counts, whatever comes around it.
        let old = b"\xff\n[core]\n\tpager = less\n";
        let new = b"[core]\n\tpager = less\n";
        assert_eq!(config_change_runs_something(old, new, &stays, &none), None);
    }

    #[test]
    fn names_git_reads_are_recognised() {
        for name in [
            &b".git"[..],
            b"config",
            b"HEAD",
            b"hooks/",
            b"pre-commit",
            b"commondir",
        ] {
            assert!(is_git_name(name), "{name:?}");
        }
        for name in [&b"main.rs"[..], b"config.yaml", b"head", b".gitignore"] {
            assert!(!is_git_name(name), "{name:?}");
        }
        assert_eq!(gitdir_of(b"gitdir: ../x\n"), Some(PathBuf::from("../x")));
        assert_eq!(gitdir_of(b"nonsense"), None);
    }

    #[test]
    fn pointers_are_read_as_git_reads_them() {
        // Only the `\n` and `\r` that end the file go; a space or a second line is the path's.
        assert_eq!(
            gitdir_of(b"gitdir: ../x \r\n\n"),
            Some(PathBuf::from("../x "))
        );
        assert_eq!(gitdir_of(b"gitdir: a\nb\n"), Some(PathBuf::from("a\nb")));
        assert_eq!(
            pointer_path(b"../common \n"),
            Some(PathBuf::from("../common "))
        );
        assert_eq!(pointer_path(b"\n\n"), None);
        assert_eq!(gitdir_of(b"gitdir: \n"), None);
    }

    #[test]
    fn a_todo_that_runs_a_command_is_found() {
        assert_eq!(
            todo_runs_something(b"pick abc one\n  exec make test\n"),
            Some("exec make test".to_string())
        );
        assert!(todo_runs_something(b"pick abc one\nx touch y\n").is_some());
        assert_eq!(
            todo_runs_something(b"pick abc exec\n# exec x\nbreak\n"),
            None
        );
    }

    #[test]
    fn control_characters_count_against_a_config() {
        let stays = |_: &str| true;
        let none = |_: &str| false;
        let nul = b"[remote \"origin.uploadpack\0\"]\n\turl = x\n";
        assert_eq!(first_active_key(nul, &stays), Err(1));
        assert!(config_change_runs_something(b"", nul, &stays, &none).is_some());
        // A CRLF line end is git's too.
        assert_eq!(
            first_active_key(b"[user]\r\n\tname = a\r\n", &stays),
            Ok(None)
        );
        // Read leniently, what follows such a line counts as set in no section.
        let old = b"[alias]\n\tx\x01 = y\n\tlg = !a\n";
        assert!(
            config_change_runs_something(old, b"[alias]\n\tlg = !a\n", &stays, &none).is_some()
        );
    }
}
