//! Facts about the running kernel and process that decide what can be enforced.
//!
//! Everything here reads state; nothing changes it (except [`doctor`], which forks throwaway
//! children to *try* creating namespaces, because sysctls do not tell the whole story: Docker's
//! seccomp profile and AppArmor's userns restriction only show up when you try).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// The Landlock ABI version the kernel offers (0 when Landlock is absent or disabled). Asked once
/// per process: the ABI cannot change while the kernel runs.
pub fn landlock_abi() -> u8 {
    static ABI: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
    *ABI.get_or_init(query_landlock_abi)
}

fn query_landlock_abi() -> u8 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset with a null attr, size 0 and the VERSION flag only returns
    // the ABI number (or -1); it reads no memory and creates no fd.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u8::try_from(v.max(0)).unwrap_or(u8::MAX)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct CapData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// The calling thread's effective capability set as a 64-bit mask.
pub fn effective_capabilities() -> u64 {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two CapData structs (the v3 layout) into `data`, which has room for
    // exactly two; `header` is a valid v3 header.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    u64::from(data[0].effective) | (u64::from(data[1].effective) << 32)
}

/// The highest capability number the kernel knows. Read once per process, and only by
/// hardened runs (the only ones that empty the bounding set).
pub(crate) fn cap_last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(63)
    })
}

/// The seccomp actions the kernel offers (`/proc/sys/kernel/seccomp/actions_avail`), `None`
/// without `CONFIG_SECCOMP_FILTER`. Read once per process: it cannot change while the kernel runs.
pub(crate) fn seccomp_actions() -> Option<&'static str> {
    static ACTIONS: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ACTIONS
        .get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail").ok())
        .as_deref()
}

/// The kernel release (`uname -r`), from one `uname(2)` instead of opening /proc, once per
/// process.
pub(crate) fn release() -> &'static str {
    static RELEASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RELEASE.get_or_init(|| {
        // SAFETY: utsname is plain data; uname fills it and NUL-terminates every field.
        let mut names: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: uname writes one utsname into a live, correctly sized struct.
        if unsafe { libc::uname(&mut names) } != 0 {
            return String::new();
        }
        let bytes: Vec<u8> = names
            .release
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Whether the running kernel's release is at least `major.minor`.
pub(crate) fn release_at_least(major: u32, minor: u32) -> bool {
    let mut parts = release().trim().split(|c: char| !c.is_ascii_digit());
    let have_major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let have_minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (have_major, have_minor) >= (major, minor)
}

pub(crate) const CAP_SETPCAP: u32 = 8;
pub(crate) const CAP_SYS_ADMIN: u32 = 21;

pub(crate) fn has_capability(cap: u32) -> bool {
    effective_capabilities() & (1u64 << cap) != 0
}

/// Where a writable cgroup v2 could live: the cgroup2 mount plus this process's cgroup.
#[derive(Debug, Clone)]
pub(crate) struct CgroupV2 {
    /// This process's cgroup directory.
    pub dir: PathBuf,
    /// The same below the cgroup2 mount, as `/proc/PID/cgroup` names it (`/user.slice/x`).
    pub procfs_path: String,
    /// Controllers enabled for children of `dir`.
    pub subtree_controllers: Vec<String>,
}

/// Finds this process's cgroup v2 directory (pure cgroup2 or the hybrid `unified` mount).
pub(crate) fn cgroup_v2() -> Option<CgroupV2> {
    let mount = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| is_cgroup2_mount(p))
        .or_else(cgroup2_mount_from_mountinfo)?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = mount.join(rel.trim_start_matches('/'));
    let subtree_controllers = read_words(&dir.join("cgroup.subtree_control"));
    Some(CgroupV2 {
        dir,
        procfs_path: rel.to_string(),
        subtree_controllers,
    })
}

/// True when `path` is the root of a cgroup2 mount. One `statfs` per usual location: much cheaper
/// than generating and parsing `/proc/self/mountinfo`, which is the fallback.
fn is_cgroup2_mount(path: &Path) -> bool {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    let mut fs = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: statfs(2) reads the NUL-terminated path and writes one `struct statfs` into `fs`,
    // which is read only when the call succeeded.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), fs.as_mut_ptr()) };
    // SAFETY: rc == 0 means the kernel filled `fs`.
    rc == 0 && fs_type(&unsafe { fs.assume_init() }) == fs_type_of(libc::CGROUP2_SUPER_MAGIC)
}

fn cgroup2_mount_from_mountinfo() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        (fstype == "cgroup2").then(|| left.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

fn read_words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// `cordon doctor`: which kernel features exist and which guarantees hold on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct KernelReport {
    pub kernel: String,
    pub arch: String,
    pub euid: u32,
    pub effective_capabilities: String,
    pub landlock_abi: u8,
    pub seccomp_filter: bool,
    pub user_namespace: bool,
    pub net_namespace: bool,
    pub pid_namespace: bool,
    pub cgroup_v2: Option<PathBuf>,
    pub cgroup_v2_writable: bool,
    pub cgroup_v2_controllers: Vec<String>,
    pub guarantees: Vec<Guarantee>,
}

/// One guarantee and whether it holds here.
#[derive(Debug, Clone, Serialize)]
pub struct Guarantee {
    pub name: &'static str,
    pub available: bool,
    pub detail: String,
}

/// Probes the kernel. Forks a few short-lived children to try namespaces for real.
pub fn doctor() -> KernelReport {
    let abi = landlock_abi();
    // SAFETY: prctl(PR_GET_SECCOMP) takes no pointers and only reports this thread's mode.
    let seccomp_mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
    let seccomp_filter =
        seccomp_mode >= 0 && Path::new("/proc/sys/kernel/seccomp/actions_avail").exists();
    let user_ns = try_unshare(libc::CLONE_NEWUSER);
    let net_ns =
        try_unshare(libc::CLONE_NEWNET) || try_unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET);
    let pid_ns =
        try_unshare(libc::CLONE_NEWPID) || try_unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID);
    let mount_ns =
        try_unshare(libc::CLONE_NEWNS) || try_unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS);
    let overlayfs = std::fs::read_to_string("/proc/filesystems").is_ok_and(|fs| {
        fs.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    });
    let cg = cgroup_v2();
    let cg_writable = cg
        .as_ref()
        .is_some_and(|c| crate::cgroup::probe_writable(&c.dir));
    let controllers = cg
        .as_ref()
        .map(|c| c.subtree_controllers.clone())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let has = |c: &str| controllers.iter().any(|x| x == c);
    let guarantees = vec![
        Guarantee {
            name: "hardened filesystem scope (Landlock)",
            available: abi >= 1,
            detail: if abi >= 1 {
                format!("Landlock ABI {abi}")
            } else {
                "no Landlock: hardened runs are refused".into()
            },
        },
        Guarantee {
            name: "truncate and refer control (Landlock ABI >= 3)",
            available: abi >= 3,
            detail: format!("ABI {abi}"),
        },
        Guarantee {
            name: "TCP connect/bind denial by Landlock (ABI >= 4)",
            available: abi >= 4,
            detail: "seccomp socket filtering denies all non-Unix sockets regardless".into(),
        },
        Guarantee {
            name: "signal and abstract-socket scoping (Landlock ABI >= 6)",
            available: abi >= 6,
            detail: format!("ABI {abi}"),
        },
        Guarantee {
            name: "seccomp syscall filtering (arch-checked)",
            available: seccomp_filter,
            detail: "io_uring, ptrace, mount family, new user namespaces, bpf, keys denied".into(),
        },
        Guarantee {
            name: "network namespace for network: deny",
            available: net_ns,
            detail: if net_ns {
                "fresh netns with only a down loopback".into()
            } else {
                "falls back to seccomp + Landlock; reported per run".into()
            },
        },
        Guarantee {
            name: "whole-tree kill via cgroup.kill",
            available: cg_writable,
            detail: if cg_writable {
                "per-command cgroup v2".into()
            } else {
                "no writable cgroup v2: falls back to subreaper + descendant scan".into()
            },
        },
        Guarantee {
            name: "write broker: protected names refused even when absent, checkpoint copies",
            available: crate::broker::unavailable().is_none(),
            detail: crate::broker::unavailable()
                .unwrap_or_else(|| "seccomp user notification with SECCOMP_ADDFD_FLAG_SEND".into()),
        },
        Guarantee {
            name: "cache layers: caches written through the workspace's own overlay",
            available: overlayfs && mount_ns,
            detail: match (overlayfs, mount_ns) {
                (true, true) => "overlayfs in a mount namespace of the run's own".into(),
                (false, _) => "no overlayfs in /proc/filesystems: hardened runs find the caches read-only".into(),
                (true, false) => "no mount namespace (no CAP_SYS_ADMIN, no user namespace): hardened runs find the caches read-only".into(),
            },
        },
        Guarantee {
            name: "cgroup memory and pids limits",
            available: cg_writable && has("memory") && has("pids"),
            detail: format!("controllers delegated to children: {controllers:?}"),
        },
    ];
    KernelReport {
        kernel,
        arch: std::env::consts::ARCH.into(),
        euid,
        effective_capabilities: format!("{:016x}", effective_capabilities()),
        landlock_abi: abi,
        seccomp_filter,
        user_namespace: user_ns,
        net_namespace: net_ns,
        pid_namespace: pid_ns,
        cgroup_v2: cg.map(|c| c.dir),
        cgroup_v2_writable: cg_writable,
        cgroup_v2_controllers: controllers,
        guarantees,
    }
}

/// Forks a child that tries `unshare(flags)` and exits with its verdict.
fn try_unshare(flags: libc::c_int) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/true");
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: the hook only calls unshare(2), which is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(flags) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

/// A `statfs`'s file system type as one integer type: `f_type` is an `i64` with glibc and a
/// `u64` with musl, and the magic numbers follow it.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fs_type(fs: &libc::statfs) -> i64 {
    fs.f_type as i64
}

/// A file system magic number in [`fs_type`]'s type.
#[allow(clippy::unnecessary_cast)]
pub(crate) const fn fs_type_of(magic: libc::c_long) -> i64 {
    magic as i64
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The facts read once per process are the ones /proc gives (uname(2) for the release).
    #[test]
    fn cached_kernel_facts_match_proc() {
        let proc_release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(release(), proc_release.trim());
        assert!(!release().is_empty());
        assert_eq!(
            seccomp_actions(),
            std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail")
                .ok()
                .as_deref()
        );
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(cap_last_cap(), last);
    }
}
