//! A cgroup v2 per command: the reliable way to kill a whole process tree.
//!
//! A process can leave its process group and session (`setsid`), and a double fork hands it to
//! init; signals addressed by pid, group or session then miss it. Membership of a cgroup is
//! inherited by every descendant and cannot be left without write access to the hierarchy, and
//! `cgroup.kill` SIGKILLs every member atomically. So when this process can create a child
//! cgroup, each command gets one; the child joins it before exec, the supervisor kills it on
//! timeout and after the command exits, waits until it is empty, and removes it. Memory and pids
//! limits are set on it when those controllers are delegated; the report says when they are not
//! (on hybrid hosts the v1 hierarchy usually holds them).
//!
//! Write access to the hierarchy is what a local-mode command run as root has: the supervisor
//! catches a process that left this way as a stray ([`is_in_live_command_cgroup`] tells the
//! cgroups of this process's commands apart).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::kernel::CgroupV2;
use crate::plan::Limits;
use crate::Error;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The command cgroups of this process that exist now, as `/proc/PID/cgroup` names them (the
/// path below the cgroup2 mount).
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<String>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `pid` is a member of a command cgroup of this process that exists now (its own
/// command's kill covers it). `false` for a process that is gone or unreadable.
pub(crate) fn is_in_live_command_cgroup(pid: libc::pid_t) -> bool {
    let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return false;
    };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    live().iter().any(|c| c == path)
}

/// A cgroup created for one command.
pub(crate) struct CommandCgroup {
    pub dir: PathBuf,
    /// `dir` as `/proc/PID/cgroup` names it; listed in [`LIVE`] while the cgroup exists.
    procfs_path: String,
    /// The directory, opened before fork: `clone3(CLONE_INTO_CGROUP)` creates the child in it.
    pub dir_fd: OwnedFd,
    /// `cgroup.procs`, opened before fork: a child started with plain `fork` (no `clone3`)
    /// writes `0` to it to join.
    pub procs: OwnedFd,
    pub memory_max: Option<u64>,
    pub pids_max: Option<u64>,
    pub notes: Vec<String>,
}

/// True when a child cgroup can be created (and removed) under `dir`. For `cordon doctor` only:
/// a run skips this mkdir/rmdir pair and learns the same thing from creating its first command's
/// cgroup (`CommandCgroup::create` returns `None` when refused).
pub(crate) fn probe_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(
        "cordon-probe-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    match fs::create_dir(&probe) {
        Ok(()) => fs::remove_dir(&probe).is_ok(),
        Err(_) => false,
    }
}

impl CommandCgroup {
    /// Creates a fresh cgroup under `parent`, or `Ok(None)` when `parent` is not writable.
    pub(crate) fn create(parent: &CgroupV2, limits: &Limits) -> Result<Option<Self>, Error> {
        let Some((dir, procfs_path)) = make_unique_dir(parent, std::process::id(), &SEQUENCE)?
        else {
            return Ok(None);
        };
        let dir_fd = fs::File::open(&dir)
            .map_err(|e| Error::io(format!("opening cgroup {}", dir.display()), e))?;
        let procs = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .map_err(|e| Error::io(format!("opening {}/cgroup.procs", dir.display()), e))?;
        let has = |c: &str| parent.subtree_controllers.iter().any(|x| x == c);
        let mut notes = Vec::new();
        let mut memory_max = None;
        let mut pids_max = None;
        if let Some(bytes) = limits.memory_bytes {
            if has("memory") {
                write_file(&dir.join("memory.max"), &bytes.to_string())?;
                // Without this the limit only moves the balloon to swap.
                if dir.join("memory.swap.max").exists() {
                    write_file(&dir.join("memory.swap.max"), "0")?;
                }
                memory_max = Some(bytes);
            } else {
                notes.push(
                    "memory controller not delegated to cgroup v2 here: memory.max not set".into(),
                );
            }
        }
        if let Some(n) = limits.pids {
            if has("pids") {
                write_file(&dir.join("pids.max"), &n.to_string())?;
                pids_max = Some(n);
            } else {
                notes.push(
                    "pids controller not delegated to cgroup v2 here: pids.max not set".into(),
                );
            }
        }
        live().push(procfs_path.clone());
        Ok(Some(CommandCgroup {
            dir,
            procfs_path,
            dir_fd: dir_fd.into(),
            procs: procs.into(),
            memory_max,
            pids_max,
            notes,
        }))
    }

    /// SIGKILLs every member, atomically where `cgroup.kill` exists.
    pub(crate) fn kill(&self) {
        // Opening `cgroup.kill` fails with ENOENT before 5.14, so no separate existence check.
        if write_file(&self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        // Kernels before 5.14: kill member by member until none is left.
        for _ in 0..100 {
            let pids = self.members();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: kill(2) with a pid read from this cgroup's member list; no memory.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }

    pub(crate) fn members(&self) -> Vec<libc::pid_t> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Waits until no process is left in the cgroup; false if `deadline` passed first.
    pub(crate) fn wait_empty(&self, deadline: Instant) -> bool {
        loop {
            let populated = fs::read_to_string(self.dir.join("cgroup.events"))
                .map(|s| s.lines().any(|l| l.trim() == "populated 1"))
                .unwrap_or(false);
            if !populated {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }
}

impl Drop for CommandCgroup {
    fn drop(&mut self) {
        live().retain(|c| *c != self.procfs_path);
        // Removal fails while members remain; kill and wait briefly so the directory goes.
        if fs::remove_dir(&self.dir).is_err() {
            self.kill();
            self.wait_empty(Instant::now() + Duration::from_secs(1));
            let _ = fs::remove_dir(&self.dir);
        }
    }
}

/// How many names [`make_unique_dir`] tries before it gives up.
const NAME_ATTEMPTS: usize = 64;

/// Creates a fresh child directory of `parent`, named `cordon-PID-N` (`N` drawn from
/// `sequence`), and returns it with its
/// `/proc/PID/cgroup` name; `None` when the parent refuses children (the caller falls back to
/// the subreaper).
///
/// A name can be taken already: a run killed before it removed its cgroup leaves the directory
/// behind, and a later process that gets the same pid (or one with that pid in another pid
/// namespace, under the same parent) counts from the same sequence. Such a name is skipped, never
/// reused or removed: the directory may be another live run's, created and not yet entered.
fn make_unique_dir(
    parent: &CgroupV2,
    pid: u32,
    sequence: &AtomicU64,
) -> Result<Option<(PathBuf, String)>, Error> {
    for _ in 0..NAME_ATTEMPTS {
        let name = format!("cordon-{pid}-{}", sequence.fetch_add(1, Ordering::Relaxed));
        let dir = parent.dir.join(&name);
        match fs::create_dir(&dir) {
            Ok(()) => {
                let procfs_path = format!("{}/{name}", parent.procfs_path.trim_end_matches('/'));
                return Ok(Some((dir, procfs_path)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EROFS | libc::ENOENT)
                ) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(Error::io(format!("creating cgroup {}", dir.display()), e)),
        }
    }
    Err(Error::io(
        format!(
            "creating a command cgroup under {}: the next {NAME_ATTEMPTS} names for this process \
             (cordon-{pid}-N) are taken by leftover directories; remove the empty ones",
            parent.dir.display(),
        ),
        std::io::Error::from(std::io::ErrorKind::AlreadyExists),
    ))
}

fn write_file(path: &Path, value: &str) -> Result<(), Error> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    f.write_all(value.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A run no longer probes with mkdir/rmdir: it relies on `create` telling "refused" (fall
    /// back to the subreaper) apart from a real failure.
    #[test]
    fn a_parent_that_refuses_children_gives_none_not_an_error() {
        let missing = CgroupV2 {
            dir: PathBuf::from("/proc/self/no-such-cgroup-parent"),
            procfs_path: "/no-such-cgroup-parent".into(),
            subtree_controllers: Vec::new(),
        };
        assert!(CommandCgroup::create(&missing, &Limits::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_writable_parent_gives_a_cgroup_that_is_removed_on_drop() {
        let Some(parent) = crate::kernel::cgroup_v2().filter(|c| probe_writable(&c.dir)) else {
            cordon_testkit::kernel_skip!("cgroup-v2", "no writable cgroup v2 here");
        };
        let cgroup = CommandCgroup::create(&parent, &Limits::default())
            .unwrap()
            .expect("a writable parent must accept a child cgroup");
        let dir = cgroup.dir.clone();
        assert!(dir.join("cgroup.procs").exists());
        drop(cgroup);
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }
    /// Leftover directories named as `make_unique_dir` will name its next `count` tries, for a
    /// sequence of the test's own (so that no other test's cgroup meets them).
    fn leftovers(parent: &CgroupV2, sequence: &AtomicU64, count: u64) -> Vec<PathBuf> {
        let next = sequence.load(Ordering::Relaxed);
        let dirs: Vec<PathBuf> = (next..next + count)
            .map(|n| {
                parent
                    .dir
                    .join(format!("cordon-{}-{n}", std::process::id()))
            })
            .collect();
        for dir in &dirs {
            fs::create_dir(dir).unwrap();
        }
        dirs
    }

    /// A run killed before it removed its cgroup leaves `cordon-PID-N` behind; a later process
    /// with the same pid counts from the same sequence and must step over the leftover, not fail.
    #[test]
    fn a_leftover_cgroup_with_the_next_name_is_stepped_over() {
        let Some(parent) = crate::kernel::cgroup_v2().filter(|c| probe_writable(&c.dir)) else {
            cordon_testkit::kernel_skip!("cgroup-v2", "no writable cgroup v2 here");
        };
        let sequence = AtomicU64::new(1 << 40);
        let taken = leftovers(&parent, &sequence, 3);
        let made = make_unique_dir(&parent, std::process::id(), &sequence);
        for dir in &taken {
            fs::remove_dir(dir).unwrap();
        }
        let (dir, procfs_path) = made
            .expect("a leftover directory must not fail the run")
            .expect("a writable parent must accept a child cgroup");
        let is_new = !taken.contains(&dir) && dir.join("cgroup.procs").exists();
        fs::remove_dir(&dir).unwrap();
        assert!(is_new, "{} is a leftover, or not a cgroup", dir.display());
        assert!(procfs_path.ends_with(&format!(
            "/cordon-{}-{}",
            std::process::id(),
            (1u64 << 40) + 3
        )));
    }

    /// The positive control: with every name it may try taken, it fails closed and says why.
    #[test]
    fn every_name_taken_is_an_error_that_says_so() {
        let Some(parent) = crate::kernel::cgroup_v2().filter(|c| probe_writable(&c.dir)) else {
            cordon_testkit::kernel_skip!("cgroup-v2", "no writable cgroup v2 here");
        };
        let sequence = AtomicU64::new(2 << 40);
        let taken = leftovers(&parent, &sequence, NAME_ATTEMPTS as u64);
        let made = make_unique_dir(&parent, std::process::id(), &sequence);
        for dir in &taken {
            fs::remove_dir(dir).unwrap();
        }
        let Err(e) = made else {
            panic!("make_unique_dir must fail when every name it tries is taken");
        };
        assert!(
            e.to_string().contains("are taken by leftover directories"),
            "{e}"
        );
    }
}
