//! Git's rewrites of a protected repository's config, checked and written by the broker.
//!
//! A protected git directory's `config` and `config.worktree` may not be changed by a hardened
//! command: a key such as `core.hooksPath`, `core.fsmonitor` or an alias makes the user's next
//! git command run a program of the command's choosing, outside any sandbox. But most of what
//! git writes there runs nothing: `git remote add`, `git branch -u`, `git branch -D` (it drops
//! the branch's section), `git checkout --track`, `git push -u`, `git config user.email`. Git
//! makes every such change the same way: it writes the whole new file as `config.lock` beside
//! the old one and renames the lock over it.
//!
//! So that rename is not refused outright. The broker reads the lock's contents once, and
//! [`crate::repos::config_change_runs_something`] judges them against the old file: every key
//! beyond the allow-list of keys that run nothing must be one the old file already set, to the
//! same value, in the same section; and where the user's next push goes may not move (an existing
//! remote's URL, a branch sent to a remote the old text did not have). When the new text passes,
//! the broker writes **those bytes** over the config in place and removes the lock; otherwise the
//! rename fails with `EROFS`, as before, and the report says which key was refused.
//!
//! Why the bytes are copied instead of the lock renamed: the command may still hold the lock
//! open, and anything it wrote through that descriptor after the check would become the config.
//! Why in place: the config has a read-only bind mount over it in the command's mount namespace
//! (`protect.rs`), which would go on showing the old file to the rest of the run if the name
//! were given a new inode. The write is made through the git directory as the supervisor names
//! it, where no mount covers the file, by the worker (restricted like the command).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode};

use super::walk::{Allowance, Denial, Existing, Resolved, Walker, Want};
use super::worker::Op;
use super::{
    reopen_for_reading, After, Bases, Broker, ChangeKind, DacLowered, PathArg, Submission,
};
use crate::repos::{read_small, MAX_CONFIG_BYTES};

/// A rename that would replace a protected git config: its source, as resolved.
pub(super) struct Rewrite {
    pub from_parent: OwnedFd,
    pub from_name: CString,
    pub moved: Option<Existing>,
}

impl Broker {
    /// `rename(from, to)` where `to` is a protected git directory's config (the walk refused it
    /// as protected): the checked rewrite of the module comment, or the refusal.
    pub(super) fn rewrite_git_config(
        &mut self,
        walker: &mut Walker<'_>,
        bases: &Bases,
        rewrite: Rewrite,
        to: &PathArg,
    ) -> Result<Submission, Denial> {
        let want = Want {
            follow: false,
            creating: true,
        };
        let Resolved::Entry {
            parent,
            name,
            existing,
        } = Self::resolve_allowing(walker, bases, to, want, Allowance::GitConfig)?
        else {
            return Err(Denial::Protected);
        };
        let dir = fstat(&parent).map_err(Denial::from)?;
        let Some(git_dir) = walker
            .protected()
            .git_config((dir.st_dev, dir.st_ino), name.to_bytes())
            .map(Path::to_path_buf)
        else {
            return Err(Denial::Protected);
        };
        let shown = git_dir.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        let refuse = |broker: &mut Broker, why: String| {
            broker.report.git_config_refused.push(format!(
                "{}: a command's rewrite of it was refused: {why}",
                shown.display()
            ));
            Denial::Protected
        };
        // The git directory where the supervisor sees it: the same directory, or nothing.
        let host_dir = open(
            git_dir.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .filter(|fd| fstat(fd).is_ok_and(|s| (s.st_dev, s.st_ino) == (dir.st_dev, dir.st_ino)));
        let Some(host_dir) = host_dir else {
            let why = "its git directory is no longer where the run found it".to_string();
            return Err(refuse(self, why));
        };
        let Some(moved) = rewrite.moved else {
            return Err(Denial::Errno(libc::ENOENT));
        };
        // The supervisor reads the new text for the command, so only from where the command
        // could read and move it itself: a directory Landlock lets it change (the rename would
        // need that), and with the command's permissions, not the supervisor's.
        if !self.roots.changeable(rewrite.from_parent.as_fd()) {
            return Err(Denial::Errno(libc::EACCES));
        }
        if moved.kind() != libc::S_IFREG {
            return Err(refuse(
                self,
                "what would replace it is not a plain file".into(),
            ));
        }
        let new = match read_lock(&moved) {
            Some(text) => text,
            None => {
                let why = format!(
                    "what would replace it could not be read, or is over {MAX_CONFIG_BYTES} bytes"
                );
                return Err(refuse(self, why));
            }
        };
        let old = match read_small(host_dir.as_fd(), &name.to_string_lossy(), MAX_CONFIG_BYTES) {
            Ok(text) => text,
            Err(nix::Error::ENOENT) if existing.is_none() => Vec::new(),
            Err(e) => return Err(refuse(self, format!("the config could not be read ({e})"))),
        };
        let roots = &self.roots.roots;
        // A repository's own `.git` keeps its work tree where it is: no ordinary command moves
        // it, and a `core.worktree` there (through a link re-pointed later, or into a linked
        // worktree's folder) sends the user's next `reset --hard` or commit elsewhere (red-team
        // round twenty-one). A submodule's git directory may have it set (`git submodule`
        // writes it), to a path inside a writable root that no link leads through.
        let main_git_dir = git_dir.file_name() == Some(std::ffi::OsStr::new(".git"));
        let worktree_stays = |value: &str| {
            !main_git_dir
                && crate::repos::worktree_stays(roots, &git_dir, value)
                && crate::resolve::resolve_as_far_as_exists(&git_dir.join(value)).as_deref()
                    == Some(crate::resolve::lexically_normal(&git_dir.join(value)).as_path())
        };
        let refused = match self.added_remotes.urls() {
            Ok(urls) => {
                let urls = urls.clone();
                crate::repos::config_change_runs_something(&old, &new, &worktree_stays, &|url| {
                    urls.contains(url)
                })
            }
            // Every URL counts as a command's: a branch may then be sent to none.
            Err(why) => {
                let why = format!("the record of remotes commands added could not be read: {why}");
                crate::repos::config_change_runs_something(&old, &new, &worktree_stays, &|_| true)
                    .map(|refused| format!("{refused} ({why})"))
            }
        };
        if let Some(why) = refused {
            return Err(refuse(self, why));
        }
        let added = crate::repos::remote_urls_added(&old, &new);
        if let Err(why) = self.added_remotes.record(&added) {
            return Err(refuse(self, why));
        }
        if let Some(existing) = &existing {
            self.before(ChangeKind::Modify, Some((&parent, &name)), existing)?;
        }
        self.before(
            ChangeKind::Remove,
            Some((&rewrite.from_parent, &rewrite.from_name)),
            &moved,
        )?;
        let op = Op::WriteConfig {
            dir: host_dir.as_raw_fd(),
            name,
            expect: existing.as_ref().map(Existing::id),
            mode: moved.stat.st_mode & 0o777,
            text: new,
            lock_parent: rewrite.from_parent.as_raw_fd(),
            lock_name: rewrite.from_name,
        };
        Ok(Submission::new(
            op,
            vec![host_dir, rewrite.from_parent, parent],
            After::ConfigWritten(shown),
        ))
    }
}

/// The lock file's contents, read once: `None` when unreadable or over [`MAX_CONFIG_BYTES`].
fn read_lock(lock: &Existing) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = {
        let _as_the_command = DacLowered::new();
        reopen_for_reading(&lock.fd)?
    };
    let mut text = Vec::new();
    std::fs::File::from(file)
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut text)
        .ok()?;
    (text.len() <= MAX_CONFIG_BYTES).then_some(text)
}
