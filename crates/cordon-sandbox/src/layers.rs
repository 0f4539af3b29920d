//! Cache layers: the caches the policy names are writable in a hardened run, but what a command
//! writes there stays in its workspace's own layer, never in the cache the user's own tools read.
//!
//! A cache holds code that runs later outside any sandbox: the sources `cargo build` compiles
//! (`~/.cargo/registry/src/*/build.rs`), the packages `npx` runs, the objects Go links from
//! `~/.cache/go-build`, pre-commit's hook environments. Written directly, one confined command
//! plants code that the user's next unconfined build runs. So for each run the supervisor mounts
//! an overlay over every cache: the cache itself is the lower layer (read-only, and kept warm by
//! the user's own tools), and the upper layer is the workspace's directory under cordon's home
//! (`Envelope::layers`). Commands see the cache with their workspace's earlier writes on top and
//! write only into that layer; a second workspace has a layer of its own, so what one run plants
//! never runs in another workspace's commands, which may write that workspace.
//!
//! # How
//! Landlock rules attach to inodes, and an overlay's inodes are its own: the ruleset must name
//! the overlay's root, and the write broker's worker (`broker/worker.rs`), which restricts itself
//! once per run, must hold the same rule as the commands. So the overlays are mounted once per
//! run, before the ruleset is finished, in a mount namespace of their own:
//! 1. A helper process forked here (no allocation after `fork`) enters a mount namespace (and,
//!    without `CAP_SYS_ADMIN`, a user namespace: its own, or the egress helper's) and mounts one
//!    overlay per cache over the cache's own path ([`begin`]), while the supervisor goes on
//!    preparing the run (the search for protected names).
//! 2. The supervisor then opens the namespaces and each overlay's root through `/proc/PID/`
//!    ([`Mounting::finish`]) and grants the roots in the ruleset.
//! 3. Each command joins that namespace (`child.rs`) before its own private mount namespace is
//!    made for the protected paths, so its copy holds the same overlays, with the same inodes.
//!
//! The helper stays until the run ends, the namespace's last holder, so the overlays are torn
//! down in its exit, after the run has returned. They are mounted `volatile`: a cache needs no
//! flush to disk, and without it the kernel would sync the whole home file system each time a
//! run's namespace goes away. Each cache keeps up to [`WORK_SLOTS`] work directories, one per run
//! at a time (a lock file each), reused from run to run. If a layer cannot be mounted (no user
//! namespace, a file system overlayfs cannot stack on, a path with a character its options cannot
//! carry) the cache stays read-only and the report says why: fail closed, as a cache write no
//! layer took would reach the user's own tools.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use landlock::{Access as _, AccessFs, PathBeneath, RulesetCreated, RulesetCreatedAttr, ABI};

use crate::report::CacheLayerReport;

/// At most this many caches are layered in one run (one bit each in the helper's answer).
pub(crate) const MAX_LAYERS: usize = 64;

/// Work directories per cache: how many runs of one workspace can layer it at once.
const WORK_SLOTS: usize = 32;

/// How long the helper may take to mount; past it the caches stay read-only (a mount can hang
/// on a stuck file system, and the run must not).
const MOUNT_DEADLINE: Duration = Duration::from_secs(10);

/// `OVERLAYFS_SUPER_MAGIC` (linux/magic.h): what a layer's root must be before it is granted.
const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;

/// Characters overlayfs's mount options cannot carry in a path (they separate options and
/// lower layers).
const UNSAFE_IN_OPTIONS: &[u8] = b",:\\";

/// Who may mount in the helper's mount namespace.
pub(crate) enum Owner {
    /// We hold `CAP_SYS_ADMIN`: a mount namespace alone.
    Privileged,
    /// A user namespace of the helper's own, with these maps; each command joins it.
    OwnUserns { uid_map: Vec<u8>, gid_map: Vec<u8> },
    /// The egress helper's user namespace, which each command joins already.
    Join(RawFd),
}

/// The run's mounted layers: the namespaces each command joins, and the roots the ruleset grants.
/// Fields drop in order: the descriptors first, the helper last (see [`Helper`]).
pub(crate) struct CacheLayers {
    pub mntns: OwnedFd,
    /// The helper's own user namespace ([`Owner::OwnUserns`]), joined before `mntns`.
    pub userns: Option<OwnedFd>,
    /// Each mounted layer's root (an overlay), opened through the helper, with what it covers.
    roots: Vec<(OwnedFd, CacheLayerReport)>,
    /// Held for its `Drop`, after the descriptors above.
    _helper: Helper,
}

/// What became of the run's layers: the mounted ones, and why any cache stayed read-only.
pub(crate) struct Started {
    pub layers: Option<CacheLayers>,
    pub notes: Vec<String>,
}

/// One cache to layer, prepared before `fork`.
struct Planned {
    cache: PathBuf,
    layer: PathBuf,
    target: CString,
    options: CString,
    /// The locked lock file of the work directory this run uses.
    slot: OwnedFd,
    /// The marker a volatile overlay leaves in its work directory, innermost first: the `dirty`
    /// file, then the two directories holding it ([`ready_work_dir`]).
    marker: [CString; 3],
}

/// The layers being mounted: the helper forked and at work, its answer not read yet, so that the
/// supervisor can prepare the rest of the run meanwhile.
pub(crate) struct Mounting {
    planned: Vec<Planned>,
    notes: Vec<String>,
    own_userns: bool,
    forked: Option<Result<Forked, String>>,
}

/// Starts mounting a layer over each of `caches` (resolved paths) from the workspace's `layers`
/// directory; [`Mounting::finish`] collects the result. Never fails the run: a layer that cannot
/// be made leaves its cache read-only, with a note.
pub(crate) fn begin(caches: &[PathBuf], layers: &Path, owner: &Owner) -> Mounting {
    reap_released();
    let mut notes = Vec::new();
    let mut planned = Vec::new();
    let userxattr = !matches!(owner, Owner::Privileged);
    for cache in caches.iter().take(MAX_LAYERS) {
        match plan_one(cache, layers, userxattr) {
            Ok(p) => planned.push(p),
            Err(why) => notes.push(read_only_because(cache, &why)),
        }
    }
    for cache in caches.iter().skip(MAX_LAYERS) {
        notes.push(read_only_because(
            cache,
            &format!("a run layers at most {MAX_LAYERS} caches"),
        ));
    }
    let forked = (!planned.is_empty()).then(|| fork_helper(&planned, owner));
    Mounting {
        planned,
        notes,
        own_userns: matches!(owner, Owner::OwnUserns { .. }),
        forked,
    }
}

impl Mounting {
    /// Waits for the helper's answer and opens what it mounted.
    pub(crate) fn finish(self) -> Started {
        let Mounting {
            planned,
            mut notes,
            own_userns,
            forked,
        } = self;
        let answered = forked.map(|f| f.and_then(Forked::answer));
        let layers = match answered {
            None => None,
            Some(Ok(answer)) => open_mounted(answer, &planned, own_userns, &mut notes),
            Some(Err(why)) => {
                for p in &planned {
                    notes.push(read_only_because(&p.cache, &why));
                }
                None
            }
        };
        Started { layers, notes }
    }
}

impl CacheLayers {
    /// Grants each layer's root to `ruleset`, with every right the ruleset handles.
    pub(crate) fn grant(
        &self,
        mut ruleset: RulesetCreated,
        abi: ABI,
    ) -> Result<RulesetCreated, crate::Error> {
        for (root, report) in &self.roots {
            ruleset = ruleset
                .add_rule(PathBeneath::new(root, AccessFs::from_all(abi)))
                .map_err(|source| crate::Error::Landlock {
                    context: format!("the layer over {}", report.cache.display()),
                    source,
                })?;
        }
        Ok(ruleset)
    }

    /// The devices of the mounted layers.
    pub(crate) fn devices(&self) -> Vec<u64> {
        self.roots
            .iter()
            .filter_map(|(root, _)| nix::sys::stat::fstat(root).ok().map(|s| s.st_dev))
            .collect()
    }

    /// What each mounted layer covers, for the report.
    pub(crate) fn reports(&self) -> impl Iterator<Item = &CacheLayerReport> {
        self.roots.iter().map(|(_, r)| r)
    }
}

fn read_only_because(cache: &Path, why: &str) -> String {
    format!(
        "the cache {} is read-only in this run: its layer could not be made ({why})",
        cache.display()
    )
}

/// The first 16 hex digits of a path's SHA-256: the name of a workspace's layers, and of a
/// cache's layer within them.
pub(crate) fn short_digest(path: &Path) -> String {
    let mut hex = cordon_core::hash::sha256_hex(path.as_os_str().as_bytes());
    hex.truncate(16);
    hex
}

/// Creates the cache's layer, takes a free work directory, and writes the overlay's options.
fn plan_one(cache: &Path, layers: &Path, userxattr: bool) -> Result<Planned, String> {
    let key = short_digest(cache);
    let name = cache
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        })
        .unwrap_or_default();
    let dir = layers.join(format!("{key}-{name}"));
    let layer = dir.join("upper");
    for path in [cache, &layer] {
        if path
            .as_os_str()
            .as_bytes()
            .iter()
            .any(|b| UNSAFE_IN_OPTIONS.contains(b))
        {
            return Err(format!(
                "{} holds a comma, colon or backslash, which overlayfs options cannot carry",
                path.display()
            ));
        }
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layer)
        .map_err(|e| format!("creating {}: {e}", layer.display()))?;
    let (slot, work) = take_work_slot(&dir)?;
    let mut options = format!(
        "lowerdir={},upperdir={},workdir={},volatile,index=off",
        cache.display(),
        layer.display(),
        work.display()
    );
    if userxattr {
        options.push_str(",userxattr");
    }
    let cstring = |s: &[u8]| CString::new(s).map_err(|_| "a path holds a NUL byte".to_string());
    let volatile = work.join("work/incompat/volatile");
    let marker = [
        cstring(volatile.join("dirty").as_os_str().as_bytes())?,
        cstring(volatile.as_os_str().as_bytes())?,
        cstring(work.join("work/incompat").as_os_str().as_bytes())?,
    ];
    Ok(Planned {
        marker,
        cache: cache.to_path_buf(),
        target: cstring(cache.as_os_str().as_bytes())?,
        options: cstring(options.as_bytes())?,
        layer,
        slot,
    })
}

/// Locks the first free work directory of the cache's layer and readies it: a volatile overlay
/// leaves `work/incompat/volatile` behind, and the kernel refuses to mount over that marker.
fn take_work_slot(dir: &Path) -> Result<(OwnedFd, PathBuf), String> {
    for n in 0..WORK_SLOTS {
        let lock_path = dir.join(format!("work.{n}.lock"));
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&lock_path)
            .map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
        // SAFETY: flock on a descriptor we own, with integer flags.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue;
        }
        let work = dir.join(format!("work.{n}"));
        ready_work_dir(&work).map_err(|e| format!("readying {}: {e}", work.display()))?;
        return Ok((OwnedFd::from(lock), work));
    }
    Err(format!(
        "all {WORK_SLOTS} of its work directories are in use by other runs"
    ))
}

fn ready_work_dir(work: &Path) -> io::Result<()> {
    let absent_ok = |r: io::Result<()>| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    match fs::DirBuilder::new().mode(0o700).create(work) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    // overlayfs makes its directories here with mode 000: `work/incompat/volatile/dirty`.
    let inner = work.join("work");
    let volatile = inner.join("incompat/volatile");
    for dir in [&inner, &inner.join("incompat"), &volatile] {
        absent_ok(fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))?;
    }
    absent_ok(fs::remove_file(volatile.join("dirty")))?;
    absent_ok(fs::remove_dir(&volatile))?;
    absent_ok(fs::remove_dir(inner.join("incompat")))
}

/// Opens the helper's namespaces and the layers it mounted, and checks each is an overlay.
fn open_mounted(
    answer: Answer,
    planned: &[Planned],
    own_userns: bool,
    notes: &mut Vec<String>,
) -> Option<CacheLayers> {
    let Answer {
        mut helper,
        mounted,
        why_not,
    } = answer;
    let proc = format!("/proc/{}", helper.pid);
    let open_ns = |name: &str| {
        fs::File::open(format!("{proc}/ns/{name}"))
            .map(OwnedFd::from)
            .map_err(|e| format!("opening the helper's {name} namespace: {e}"))
    };
    let namespaces = open_ns("mnt").and_then(|mntns| {
        let userns = if own_userns {
            Some(open_ns("user")?)
        } else {
            None
        };
        Ok((mntns, userns))
    });
    let (mntns, userns) = match namespaces {
        Ok(ns) => ns,
        Err(why) => {
            for p in planned {
                notes.push(read_only_because(&p.cache, &why));
            }
            return None;
        }
    };
    let mut roots = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        if mounted & (1 << i) == 0 {
            notes.push(read_only_because(&p.cache, &why_not));
            continue;
        }
        match open_overlay_root(&proc, &p.cache) {
            Ok(root) => roots.push((
                root,
                CacheLayerReport {
                    cache: p.cache.clone(),
                    layer: p.layer.clone(),
                },
            )),
            Err(why) => notes.push(read_only_because(&p.cache, &why)),
        }
    }
    if roots.is_empty() {
        return None;
    }
    // The work directories stay locked until the helper, and with it the overlays, are gone.
    for p in planned {
        if let Ok(slot) = p.slot.try_clone() {
            helper.slots.push(slot);
        }
    }
    Some(CacheLayers {
        mntns,
        userns,
        roots,
        _helper: helper,
    })
}

/// The forked helper: it holds the layers' namespace until the run ends, so that the overlays are
/// torn down in its exit, not in the run's. Dropping it lets it go; it is reaped, and its work
/// directories unlocked, by the next run of this process that makes layers (or when the process
/// ends), so that nothing waits for the teardown.
struct Helper {
    pid: libc::pid_t,
    hold: Option<OwnedFd>,
    slots: Vec<OwnedFd>,
}

/// Helpers let go and not yet reaped, with the work directories they keep locked.
static RELEASED: std::sync::Mutex<Vec<(libc::pid_t, Vec<OwnedFd>)>> =
    std::sync::Mutex::new(Vec::new());

impl Drop for Helper {
    fn drop(&mut self) {
        drop(self.hold.take());
        let released = (self.pid, std::mem::take(&mut self.slots));
        match RELEASED.lock() {
            Ok(mut list) => list.push(released),
            // SAFETY: waitpid on the helper we forked, with a null status pointer.
            Err(_) => unsafe {
                libc::waitpid(released.0, std::ptr::null_mut(), 0);
            },
        }
    }
}

/// Reaps the released helpers that have exited, unlocking their work directories.
fn reap_released() {
    let Ok(mut list) = RELEASED.lock() else {
        return;
    };
    // SAFETY: waitpid on a helper we forked, without blocking, with a null status pointer.
    list.retain(
        |(pid, _)| unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) } == 0,
    );
}

/// Opens the root of the layer mounted over `cache` in the helper's namespace, without following
/// a link, and checks that it is an overlay (not the cache beneath, were the mount missing).
fn open_overlay_root(proc: &str, cache: &Path) -> Result<OwnedFd, String> {
    let path = format!("{proc}/root{}", cache.display());
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| format!("opening the layer's root: {e}"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs writes one statfs into `stat`, which has room for it.
    if unsafe { libc::fstatfs(file.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return Err(format!(
            "checking the layer's root: {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: fstatfs succeeded, so `stat` is initialised.
    let magic = crate::kernel::fs_type(&unsafe { stat.assume_init() });
    // The cache itself may lie on an overlay (a container's root): the layer must also be a file
    // system of its own.
    let device = |p: &Path| fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::dev(&m));
    let fresh = match (file.metadata(), device(cache)) {
        (Ok(layer), Ok(lower)) => std::os::unix::fs::MetadataExt::dev(&layer) != lower,
        _ => false,
    };
    if magic != OVERLAYFS_SUPER_MAGIC || !fresh {
        return Err("the mount over the cache is not the layer's overlay".into());
    }
    Ok(OwnedFd::from(file))
}

/// The helper's answer: a status, an errno, and which layers it mounted.
const ANSWER_LEN: usize = 16;
const STATUS_MOUNTED: u32 = 0;
const STATUS_USERNS: u32 = 1;
const STATUS_MOUNTNS: u32 = 2;

/// The helper waiting, which layers it mounted, and why the first one it could not mount failed.
struct Answer {
    helper: Helper,
    mounted: u64,
    why_not: String,
}

/// The helper at work, and the pipe its answer comes on.
struct Forked {
    helper: Helper,
    answer_r: OwnedFd,
}

/// Forks the helper, which mounts the layers, answers, and then waits for the run to end.
fn fork_helper(planned: &[Planned], owner: &Owner) -> Result<Forked, String> {
    let pipe = || {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into `fds`.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!(
                "a pipe for the layer helper: {}",
                io::Error::last_os_error()
            ));
        }
        // SAFETY: pipe2 succeeded; these two fds are ours alone.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    };
    let (answer_r, answer_w) = pipe()?;
    let (hold_r, hold_w) = pipe()?;
    let mut keep = [answer_w.as_raw_fd(), hold_r.as_raw_fd(), -1];
    if let Owner::Join(userns) = owner {
        keep[2] = *userns;
    }
    keep.sort_unstable();
    let args = HelperArgs {
        // SAFETY: getpid has no preconditions.
        supervisor: unsafe { libc::getpid() },
        owner,
        planned,
        answer: answer_w.as_raw_fd(),
        hold: hold_r.as_raw_fd(),
        keep,
    };
    // SAFETY: fork in a possibly multi-threaded process; the child runs only `helper_main`, which
    // makes raw syscalls on data prepared above and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "forking the layer helper: {}",
            io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        helper_main(&args);
    }
    Ok(Forked {
        helper: Helper {
            pid,
            hold: Some(hold_w),
            slots: Vec::new(),
        },
        answer_r,
    })
}

impl Forked {
    /// Reads the helper's answer; on failure the helper is killed.
    fn answer(self) -> Result<Answer, String> {
        let Forked {
            mut helper,
            answer_r,
        } = self;
        let answer = match read_answer(&answer_r) {
            Ok(answer) => answer,
            Err(why) => {
                // SAFETY: kill with integer arguments, on the helper we forked.
                unsafe { libc::kill(helper.pid, libc::SIGKILL) };
                drop(helper.hold.take());
                return Err(why);
            }
        };
        let word =
            |i: usize| u32::from_le_bytes([answer[i], answer[i + 1], answer[i + 2], answer[i + 3]]);
        let (status, errno) = (word(0), word(4));
        let mut mask = [0u8; 8];
        mask.copy_from_slice(&answer[8..]);
        let error = io::Error::from_raw_os_error(errno as i32);
        match status {
            STATUS_MOUNTED => Ok(Answer {
                helper,
                mounted: u64::from_le_bytes(mask),
                why_not: format!("mounting the overlay: {error}"),
            }),
            STATUS_USERNS => Err(format!("no user namespace for the layers: {error}")),
            STATUS_MOUNTNS => Err(format!("no mount namespace for the layers: {error}")),
            _ => Err("the layer helper answered nonsense".into()),
        }
    }
}

/// Reads the helper's answer, waiting at most [`MOUNT_DEADLINE`].
fn read_answer(answer_r: &OwnedFd) -> Result<[u8; ANSWER_LEN], String> {
    let deadline = Instant::now() + MOUNT_DEADLINE;
    let mut answer = [0u8; ANSWER_LEN];
    let mut got = 0;
    while got < ANSWER_LEN {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pollfd = libc::pollfd {
            fd: answer_r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one pollfd on our stack.
        let ready = unsafe { libc::poll(&mut pollfd, 1, left.as_millis() as libc::c_int) };
        if ready == 0 {
            return Err(format!(
                "mounting took longer than {} s",
                MOUNT_DEADLINE.as_secs()
            ));
        }
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!(
                "waiting for the layer helper: {}",
                io::Error::last_os_error()
            ));
        }
        // SAFETY: reads into the unfilled tail of `answer`.
        let n = unsafe {
            libc::read(
                answer_r.as_raw_fd(),
                answer[got..].as_mut_ptr().cast(),
                ANSWER_LEN - got,
            )
        };
        match n {
            n if n > 0 => got += n as usize,
            n if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            _ => return Err("the layer helper exited without answering".into()),
        }
    }
    Ok(answer)
}

/// What the forked helper needs, prepared before `fork`.
struct HelperArgs<'a> {
    supervisor: libc::pid_t,
    owner: &'a Owner,
    planned: &'a [Planned],
    answer: RawFd,
    hold: RawFd,
    /// The descriptors the helper keeps, ascending (`-1` for none); it closes every other one,
    /// so that it holds no pipe of the supervisor's (its stdout, a command's output) open.
    keep: [RawFd; 3],
}

/// The helper, between `fork` and `_exit`: raw syscalls only, no allocation.
fn helper_main(args: &HelperArgs<'_>) -> ! {
    // SAFETY: every call below is a raw syscall on integers, on fds this process holds, or on
    // NUL-terminated strings prepared before fork; nothing allocates, and the process ends in
    // `_exit`.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != args.supervisor {
            libc::_exit(1);
        }
        let mut from: libc::c_uint = 0;
        for &fd in args.keep.iter().filter(|&&fd| fd >= 0) {
            let fd = fd as libc::c_uint;
            if fd > from {
                libc::syscall(libc::SYS_close_range, from, fd - 1, 0);
            }
            from = fd + 1;
        }
        libc::syscall(libc::SYS_close_range, from, libc::c_uint::MAX, 0);
        let answer = |status: u32, errno: i32, mounted: u64| {
            let mut bytes = [0u8; ANSWER_LEN];
            bytes[..4].copy_from_slice(&status.to_le_bytes());
            bytes[4..8].copy_from_slice(&(errno as u32).to_le_bytes());
            bytes[8..].copy_from_slice(&mounted.to_le_bytes());
            libc::write(args.answer, bytes.as_ptr().cast(), bytes.len());
        };
        let errno = || *libc::__errno_location();
        let user_ok = match args.owner {
            Owner::Privileged => true,
            Owner::OwnUserns { uid_map, gid_map } => {
                libc::unshare(libc::CLONE_NEWUSER) == 0
                    && crate::child::write_id_maps(uid_map, gid_map)
            }
            Owner::Join(userns) => libc::setns(*userns, libc::CLONE_NEWUSER) == 0,
        };
        if !user_ok {
            answer(STATUS_USERNS, errno(), 0);
            libc::_exit(1);
        }
        if libc::unshare(libc::CLONE_NEWNS) != 0
            || libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
        {
            answer(STATUS_MOUNTNS, errno(), 0);
            libc::_exit(1);
        }
        let (mut mounted, mut first_errno) = (0u64, 0);
        for (i, p) in args.planned.iter().enumerate() {
            let rc = libc::mount(
                c"overlay".as_ptr(),
                p.target.as_ptr(),
                c"overlay".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                p.options.as_ptr().cast(),
            );
            if rc == 0 {
                mounted |= 1 << i;
            } else if first_errno == 0 {
                first_errno = errno();
            }
        }
        answer(STATUS_MOUNTED, first_errno, mounted);
        // The markers the mounts just left would be removed by the next run that takes these
        // work directories, before its mount; removed now, while the run goes on, that run finds
        // none (about 0.3 ms of metadata writes on the supervisor's path for four caches). The
        // mount checks for the marker only when it is made. What fails here is left to the next
        // run, as before.
        for (i, p) in args.planned.iter().enumerate() {
            if mounted & (1 << i) != 0 {
                libc::unlink(p.marker[0].as_ptr());
                libc::rmdir(p.marker[1].as_ptr());
                libc::rmdir(p.marker[2].as_ptr());
            }
        }
        // Hold the namespace until the run ends (end of file on `hold`, or the supervisor gone).
        let mut byte = 0u8;
        while libc::read(args.hold, (&mut byte as *mut u8).cast(), 1) < 0
            && *libc::__errno_location() == libc::EINTR
        {}
        libc::_exit(0)
    }
}
