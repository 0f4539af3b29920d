//! The code that runs in the child between `fork` and `execve`.
//!
//! After `fork` in a possibly multi-threaded supervisor, only async-signal-safe work is sound: no
//! allocation, no locks. Everything here was prepared by the supervisor (the Landlock ruleset fd,
//! compiled BPF programs, uid-map bytes, an open `cgroup.procs`), and the child only issues raw
//! syscalls over it. `landlock::RulesetCreated::restrict_self` is called too: in landlock 0.4.7 it
//! is two syscalls (`prctl`, `landlock_restrict_self`) and a plain-data status, no allocation.
//!
//! Order matters: steps that need privileges (joining the cgroup, creating namespaces, dropping the
//! bounding set) come before the capabilities go; Landlock and seccomp come last because they
//! would block the earlier steps. The final act before exec is an acknowledgement, written to a
//! close-on-exec pipe, naming every mechanism that was applied. A failed mandatory step writes its
//! name and errno instead and aborts the exec: the supervisor reports the command as blocked.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use landlock::{RestrictionStatus, RulesetCreated, RulesetStatus};
use seccompiler::BpfProgram;

/// Bits of the acknowledgement: which mechanisms this child applied.
pub(crate) mod applied {
    pub const SESSION: u32 = 1 << 0;
    pub const CGROUP: u32 = 1 << 1;
    pub const NETNS: u32 = 1 << 2;
    pub const USERNS: u32 = 1 << 3;
    pub const RLIMITS: u32 = 1 << 4;
    pub const NO_NEW_PRIVS: u32 = 1 << 5;
    pub const CAPS_CLEARED: u32 = 1 << 6;
    pub const BOUNDING_CLEARED: u32 = 1 << 7;
    pub const SECUREBITS: u32 = 1 << 8;
    pub const LANDLOCK: u32 = 1 << 9;
    pub const FDS_CLOEXEC: u32 = 1 << 10;
    pub const SECCOMP: u32 = 1 << 11;
    pub const RECORDER: u32 = 1 << 12;
    pub const MOUNTNS: u32 = 1 << 13;
    pub const PROTECTED: u32 = 1 << 14;
    /// The listener also mediates entry-changing syscalls (the write broker, `broker/`).
    pub const BROKER: u32 = 1 << 15;
    /// The command joined the run's cache layers (`layers.rs`).
    pub const LAYERS: u32 = 1 << 16;
    /// The command's network namespace is its own and its `lo` is up: its private loopback, so
    /// it got the seccomp filter that allows IP sockets there (`ChildSetup::loopback_seccomp`).
    pub const LOOPBACK: u32 = 1 << 17;
    /// The command has a `/dev/shm` of its own (`ChildSetup::private_shm`).
    pub const PRIVATE_SHM: u32 = 1 << 18;
}

/// Declares [`Step`], numbered from 1 in the order given, with [`Step::ALL`] listing every step
/// once: the child reports a step by its number, and the supervisor maps it back.
macro_rules! steps {
    ($first:ident $(, $rest:ident)* $(,)?) => {
        /// The steps that can fail, named in the supervisor's error.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum Step {
            $first = 1,
            $($rest,)*
        }

        impl Step {
            /// Every step, in order.
            const ALL: &'static [Step] = &[Step::$first, $(Step::$rest,)*];
        }
    };
}

steps!(
    Setsid,
    Cgroup,
    UidMap,
    Rlimit,
    NoNewPrivs,
    BoundingSet,
    Securebits,
    Ambient,
    Capset,
    CapsVerify,
    Landlock,
    LandlockPartial,
    LandlockNotEnforced,
    CloseRange,
    Seccomp,
    Recorder,
    MountNamespace,
    ProtectMount,
    JoinNetwork,
    JoinLayers,
    PrivateShm,
);

impl Step {
    pub(crate) fn from_u8(v: u8) -> Option<Step> {
        Step::ALL.iter().copied().find(|s| *s as u8 == v)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Step::Setsid => "creating a new session",
            Step::Cgroup => "joining the command's cgroup",
            Step::UidMap => "writing the user namespace's uid/gid maps",
            Step::Rlimit => "setting rlimits",
            Step::NoNewPrivs => "setting no_new_privs",
            Step::BoundingSet => "clearing the capability bounding set",
            Step::Securebits => "locking securebits",
            Step::Ambient => "clearing ambient capabilities",
            Step::Capset => "clearing capabilities",
            Step::CapsVerify => "verifying that no capability remains",
            Step::Landlock => "applying the Landlock ruleset",
            Step::LandlockPartial => "Landlock ruleset only partially enforced",
            Step::LandlockNotEnforced => "Landlock ruleset not enforced",
            Step::CloseRange => "closing inherited file descriptors",
            Step::Seccomp => "installing the seccomp filter",
            Step::Recorder => {
                "installing the seccomp user-notification listener (exec recorder and write broker)"
            }
            Step::MountNamespace => {
                "creating the private mount namespace that protects metadata in writable roots \
                 (needs CAP_SYS_ADMIN or a user namespace; a write grant naming the protected \
                 paths themselves leaves them writable and needs no mount namespace)"
            }
            Step::ProtectMount => {
                "bind-mounting protected metadata (.git/hooks, .git/config, agent settings) read-only"
            }
            Step::JoinNetwork => "joining the egress proxy's network namespace",
            Step::JoinLayers => "joining the mount namespace of the run's cache layers",
            Step::PrivateShm => "mounting the command's own /dev/shm",
        }
    }
}

/// What `setrlimit` names a resource with: glibc's own enum type, an `int` elsewhere (musl).
#[cfg(target_env = "gnu")]
pub(crate) type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub(crate) type RlimitResource = libc::c_int;

/// How to get a fresh network namespace, decided by the supervisor.
pub(crate) enum Netns {
    None,
    /// We hold CAP_SYS_ADMIN: unshare(CLONE_NEWNET).
    Direct,
    /// Unprivileged: unshare(CLONE_NEWUSER | CLONE_NEWNET) and map our own uid/gid.
    ViaUserns {
        uid_map: Vec<u8>,
        gid_map: Vec<u8>,
    },
    /// Proxied network: join the namespace the egress helper made (its user namespace first,
    /// when it has one). Failure is fatal: without it the command would have the host's network.
    Join {
        userns: Option<std::os::fd::RawFd>,
        netns: std::os::fd::RawFd,
    },
}

/// The run's cache layers (`layers.rs`): a mount namespace to join, after the user namespace that
/// owns it when that is the layer helper's own.
pub(crate) struct Layers {
    pub userns: Option<std::os::fd::RawFd>,
    pub mntns: std::os::fd::RawFd,
}

/// A `/dev/shm` of the command's own: the Landlock ruleset to grant it in (another descriptor of
/// `ChildSetup::landlock`'s), with these rights.
pub(crate) struct PrivateShm {
    pub ruleset: OwnedFd,
    pub access: u64,
}

/// `struct landlock_path_beneath_attr` (packed, as the kernel declares it).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// `LANDLOCK_RULE_PATH_BENEATH`.
const RULE_PATH_BENEATH: libc::c_int = 1;

/// Protected paths inside writable roots, mounted in a private mount namespace (`protect.rs`).
pub(crate) struct Protect {
    pub targets: Vec<crate::protect::Target>,
    /// Without CAP_SYS_ADMIN and without a user namespace from the network step, one is created
    /// with these uid/gid maps so the mount namespace can be.
    pub userns_maps: Option<(Vec<u8>, Vec<u8>)>,
}

/// Everything the child applies, prepared before fork.
pub(crate) struct ChildSetup {
    pub ack: OwnedFd,
    /// Our parent's pid, to detect that it died before `PR_SET_PDEATHSIG` was armed.
    pub supervisor_pid: libc::pid_t,
    pub cgroup_procs: Option<OwnedFd>,
    /// The child was created inside its cgroup (`clone3(CLONE_INTO_CGROUP)`, `spawn.rs`), so
    /// `cgroup_procs` is not written.
    pub joined_cgroup_at_clone: bool,
    pub netns: Netns,
    pub rlimits: Vec<(RlimitResource, libc::rlim_t, libc::rlim_t)>,
    pub hardened: bool,
    /// The bounding set and securebits can be changed (CAP_SETPCAP, or a fresh user namespace).
    pub may_drop_bounding: bool,
    pub cap_last: u32,
    pub landlock: Option<RulesetCreated>,
    pub seccomp: Vec<BpfProgram>,
    /// The network is denied and `netns` is the command's own (new, or a kept empty one leased
    /// to it): bring its `lo` up, and install `loopback_seccomp` instead of `seccomp`. Where the
    /// namespace or `lo` cannot be had, `seccomp` (Unix sockets only) is installed as before.
    pub private_loopback: bool,
    pub loopback_seccomp: Vec<BpfProgram>,
    /// The listener's filter and the socket its fd is sent over (`processes.rs`): the exec
    /// recorder, the write broker or both.
    pub record: Option<(BpfProgram, OwnedFd)>,
    /// The listener's filter mediates entry-changing syscalls (`broker/filter.rs`).
    pub brokers_writes: bool,
    /// Hardened mode with protected paths present; failure is fatal (fail closed).
    pub protect: Option<Protect>,
    /// Mount a tmpfs of the command's own over `/dev/shm` and let the command write it; failure
    /// is fatal.
    pub private_shm: Option<PrivateShm>,
    /// Hardened mode with cache layers mounted; failure to join is fatal.
    pub layers: Option<Layers>,
}

// securebits (linux/securebits.h)
const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

impl ChildSetup {
    /// Runs in the forked child. Must not allocate.
    pub(crate) fn apply(&mut self) -> io::Result<()> {
        let mut done = 0u32;
        // Die with the supervisor: if it is killed, nothing is left to enforce the deadline.
        // SAFETY: prctl and getppid with integer arguments only.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            // The supervisor may already have died between fork and prctl.
            if libc::getppid() != self.supervisor_pid {
                libc::_exit(126);
            }
        }
        // SAFETY: setsid has no memory arguments.
        if unsafe { libc::setsid() } < 0 {
            return self.fail(Step::Setsid);
        }
        done |= applied::SESSION;

        if self.joined_cgroup_at_clone {
            done |= applied::CGROUP;
        } else if let Some(procs) = &self.cgroup_procs {
            // SAFETY: writes one byte from a static buffer to an fd we own.
            let n = unsafe { libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) };
            if n != 1 {
                return self.fail(Step::Cgroup);
            }
            done |= applied::CGROUP;
        }

        if self.hardened {
            done |= self.join_layers_userns()?;
            done |= self.apply_namespaces()?;
            done |= self.join_layers()?;
            done |= self.apply_protection(done & applied::USERNS != 0)?;
            done |= self.mount_private_shm(done & applied::MOUNTNS != 0)?;
            for &(resource, soft, hard) in &self.rlimits {
                let lim = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                // SAFETY: `lim` is a valid rlimit on our stack.
                if unsafe { libc::setrlimit(resource, &lim) } != 0 {
                    return self.fail(Step::Rlimit);
                }
            }
            done |= applied::RLIMITS;
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return self.fail(Step::NoNewPrivs);
            }
            done |= applied::NO_NEW_PRIVS;
            done |= self.drop_capabilities()?;

            if let Some(ruleset) = self.landlock.take() {
                match ruleset.restrict_self() {
                    Ok(RestrictionStatus {
                        ruleset: status, ..
                    }) => match status {
                        RulesetStatus::FullyEnforced => done |= applied::LANDLOCK,
                        RulesetStatus::PartiallyEnforced => {
                            return self.fail(Step::LandlockPartial)
                        }
                        RulesetStatus::NotEnforced => return self.fail(Step::LandlockNotEnforced),
                    },
                    Err(_) => return self.fail(Step::Landlock),
                }
            }
        }

        // Mark every fd above stderr close-on-exec (the acknowledgement pipe works until exec).
        // SAFETY: close_range with integer arguments; CLOEXEC mode closes nothing now.
        let rc =
            unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
        if rc != 0 {
            return self.fail(Step::CloseRange);
        }
        done |= applied::FDS_CLOEXEC;

        if self.hardened {
            let programs = if done & applied::LOOPBACK != 0 {
                &self.loopback_seccomp
            } else {
                &self.seccomp
            };
            for program in programs {
                if seccompiler::apply_filter(program).is_err() {
                    return self.fail(Step::Seccomp);
                }
            }
            if !programs.is_empty() {
                done |= applied::SECCOMP;
            }
        }
        // Last, so the enforcing filters above are already in place: the kernel applies the most
        // restrictive verdict of all filters, so recording never overrides a denial.
        if let Some((program, sock)) = &self.record {
            if !crate::processes::install_and_send(program, sock.as_raw_fd(), self.brokers_writes) {
                return self.fail(Step::Recorder);
            }
            done |= applied::RECORDER;
            if self.brokers_writes {
                done |= applied::BROKER;
            }
        }
        self.ack(b'A', 0, done);
        Ok(())
    }

    /// Creates the network namespace when asked; failure to create one is not fatal (seccomp and
    /// Landlock still deny the network) and shows in the acknowledgement. Failure to join the
    /// egress proxy's namespace is fatal.
    fn apply_namespaces(&mut self) -> io::Result<u32> {
        match &self.netns {
            Netns::None => Ok(0),
            Netns::Direct => {
                // SAFETY: unshare with integer flags.
                if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
                    Ok(applied::NETNS | self.loopback_up())
                } else {
                    Ok(0)
                }
            }
            Netns::ViaUserns { uid_map, gid_map } => {
                // SAFETY: unshare with integer flags.
                if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
                    return Ok(0);
                }
                if !write_id_maps(uid_map, gid_map) {
                    return self.fail(Step::UidMap).map(|()| 0);
                }
                // In the new user namespace we hold every capability, so they can all be dropped.
                self.may_drop_bounding = true;
                Ok(applied::NETNS | applied::USERNS | self.loopback_up())
            }
            &Netns::Join { userns, netns } => {
                let mut done = applied::NETNS;
                if let Some(userns) = userns {
                    // SAFETY: setns on an fd the supervisor opened, with integer flags.
                    if unsafe { libc::setns(userns, libc::CLONE_NEWUSER) } != 0 {
                        return self.fail(Step::JoinNetwork).map(|()| 0);
                    }
                    // Joining a user namespace grants every capability in it: drop them all.
                    self.may_drop_bounding = true;
                    done |= applied::USERNS;
                }
                // SAFETY: setns on an fd the supervisor opened, with integer flags.
                if unsafe { libc::setns(netns, libc::CLONE_NEWNET) } != 0 {
                    return self.fail(Step::JoinNetwork).map(|()| 0);
                }
                Ok(done | self.loopback_up())
            }
        }
    }

    /// Brings `lo` up in the namespace just made or joined, when it is the command's own
    /// (`private_loopback`): `applied::LOOPBACK` once it is up. The ioctl needs
    /// `CAP_NET_ADMIN` over the namespace, which the child still holds here (the capabilities go
    /// later); without it, 0, and the Unix-only filter is installed.
    fn loopback_up(&self) -> u32 {
        if !self.private_loopback {
            return 0;
        }
        // SAFETY: socket with integer arguments; returns an fd or -1.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return 0;
        }
        // SAFETY: ifreq is plain data (a name and a union of integers and addresses); zeroes are
        // a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo") {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write one ifreq on our stack, through
        // the fd made above, which is closed before returning.
        let up = unsafe {
            let ok = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut request) == 0 && {
                request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
                libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request) == 0
            };
            libc::close(fd);
            ok
        };
        if up {
            applied::LOOPBACK
        } else {
            0
        }
    }

    /// Joins the user namespace that owns the cache layers' mount namespace, when it is the layer
    /// helper's own (the network namespace is then made inside it).
    fn join_layers_userns(&mut self) -> io::Result<u32> {
        let Some(userns) = self.layers.as_ref().and_then(|l| l.userns) else {
            return Ok(0);
        };
        // SAFETY: setns on an fd the supervisor opened, with integer flags.
        if unsafe { libc::setns(userns, libc::CLONE_NEWUSER) } != 0 {
            return self.fail(Step::JoinLayers).map(|()| 0);
        }
        // Joining a user namespace grants every capability in it: drop them all.
        self.may_drop_bounding = true;
        Ok(applied::USERNS)
    }

    /// Joins the mount namespace that holds the cache layers. `setns` moves the cwd to the
    /// namespace's root, so the cwd is looked up again by name (landing on a layer when it lies
    /// in a cache). A stack buffer: no allocation here.
    fn join_layers(&mut self) -> io::Result<u32> {
        let Some(layers) = &self.layers else {
            return Ok(0);
        };
        let mut cwd = [0u8; libc::PATH_MAX as usize];
        // SAFETY: getcwd writes at most `cwd.len()` bytes, NUL-terminated, into the buffer.
        if unsafe { libc::getcwd(cwd.as_mut_ptr().cast(), cwd.len()) }.is_null() {
            return self.fail(Step::JoinLayers).map(|()| 0);
        }
        // SAFETY: setns on an fd the supervisor opened, with integer flags; then chdir to the
        // NUL-terminated path getcwd wrote.
        let joined = unsafe {
            libc::setns(layers.mntns, libc::CLONE_NEWNS) == 0
                && libc::chdir(cwd.as_ptr().cast()) == 0
        };
        if !joined {
            return self.fail(Step::JoinLayers).map(|()| 0);
        }
        Ok(applied::LAYERS)
    }

    /// Enters a private mount namespace and makes the protected paths read-only (`protect.rs`).
    /// Comes before the capabilities are dropped (mounting needs CAP_SYS_ADMIN in the namespace's
    /// owner) and before seccomp and Landlock, which both forbid mounting.
    fn apply_protection(&mut self, in_new_userns: bool) -> io::Result<u32> {
        let Some(protect) = &self.protect else {
            return Ok(0);
        };
        // Only conveniences to mount (stand-ins over files Landlock closes anyway): without a
        // mount namespace, run without them rather than not at all.
        let optional = protect.targets.iter().all(|t| t.optional);
        let mut done = 0;
        if let (false, Some((uid_map, gid_map))) = (in_new_userns, &protect.userns_maps) {
            // SAFETY: unshare with integer flags.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
                if optional {
                    return Ok(0);
                }
                return self.fail(Step::MountNamespace).map(|()| 0);
            }
            if !write_id_maps(uid_map, gid_map) {
                return self.fail(Step::UidMap).map(|()| 0);
            }
            self.may_drop_bounding = true;
            done |= applied::USERNS;
        }
        if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
            if optional {
                return Ok(done);
            }
            return self.fail(Step::MountNamespace).map(|()| 0);
        }
        done |= applied::MOUNTNS;
        if crate::protect::apply(&protect.targets).is_err() {
            return self.fail(Step::ProtectMount).map(|()| 0);
        }
        Ok(done | applied::PROTECTED)
    }

    /// Mounts an empty tmpfs over `/dev/shm`, in a mount namespace of this command's own: the one
    /// the protection made, or a new one (never the cache layers' namespace, which the run's
    /// commands share).
    fn mount_private_shm(&mut self, in_own_mountns: bool) -> io::Result<u32> {
        let Some(shm) = &self.private_shm else {
            return Ok(0);
        };
        let (ruleset, access) = (shm.ruleset.as_raw_fd(), shm.access);
        let mut done = 0;
        if !in_own_mountns {
            if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
                return self.fail(Step::MountNamespace).map(|()| 0);
            }
            done |= applied::MOUNTNS;
        }
        if crate::protect::mount_private_shm().is_err() {
            return self.fail(Step::PrivateShm).map(|()| 0);
        }
        // Granted now, on the new mount's own root: a rule on `/dev/shm` made before the mount
        // would be on the directory it covers, which Landlock does not look through.
        // SAFETY: open with a NUL-terminated path; returns an fd or -1.
        let dir = unsafe {
            libc::open(
                c"/dev/shm".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if dir < 0 {
            return self.fail(Step::PrivateShm).map(|()| 0);
        }
        let rule = PathBeneathAttr {
            allowed_access: access,
            parent_fd: dir,
        };
        // SAFETY: landlock_add_rule reads one packed attribute from our stack; `dir` is the fd
        // opened above, closed right after.
        let added = unsafe {
            let rc = libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset,
                RULE_PATH_BENEATH,
                std::ptr::addr_of!(rule),
                0,
            );
            libc::close(dir);
            rc == 0
        };
        if !added {
            return self.fail(Step::PrivateShm).map(|()| 0);
        }
        Ok(done | applied::PRIVATE_SHM)
    }

    fn drop_capabilities(&mut self) -> io::Result<u32> {
        let mut done = 0;
        if self.may_drop_bounding {
            for cap in 0..=self.cap_last {
                // SAFETY: prctl with integer arguments.
                let rc =
                    unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
                    return self.fail(Step::BoundingSet).map(|()| 0);
                }
            }
            done |= applied::BOUNDING_CLEARED;
            let bits = SECBIT_NOROOT
                | SECBIT_NOROOT_LOCKED
                | SECBIT_NO_SETUID_FIXUP
                | SECBIT_NO_SETUID_FIXUP_LOCKED
                | SECBIT_KEEP_CAPS_LOCKED
                | SECBIT_NO_CAP_AMBIENT_RAISE
                | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) } != 0 {
                return self.fail(Step::Securebits).map(|()| 0);
            }
            done |= applied::SECUREBITS;
        }
        // SAFETY: prctl with integer arguments.
        let rc = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        if rc != 0 {
            return self.fail(Step::Ambient).map(|()| 0);
        }
        let mut header = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let mut data = [crate::kernel::CapData::default(); 2];
        // SAFETY: capset reads a v3 header and two zeroed data structs from our stack.
        if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
            return self.fail(Step::Capset).map(|()| 0);
        }
        // SAFETY: capget writes two data structs into `data`, which has room for exactly two.
        let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
        let clear = data
            .iter()
            .all(|d| d.effective == 0 && d.permitted == 0 && d.inheritable == 0);
        if rc != 0 || !clear {
            return self.fail(Step::CapsVerify).map(|()| 0);
        }
        Ok(done | applied::CAPS_CLEARED)
    }

    /// Reports a failed step with its errno and aborts the exec.
    fn fail(&self, step: Step) -> io::Result<()> {
        let err = io::Error::last_os_error();
        let errno = err.raw_os_error().unwrap_or(0);
        self.ack(b'E', step as u8, errno as u32);
        Err(err)
    }

    /// After the acknowledgement: the exec itself (or stdio/chdir before it) failed with `errno`.
    pub(crate) fn report_exec_failure(&self, errno: i32) {
        self.ack(b'X', 0, errno as u32);
    }

    fn ack(&self, tag: u8, step: u8, value: u32) {
        let v = value.to_le_bytes();
        let record = [tag, step, 0, 0, v[0], v[1], v[2], v[3]];
        // SAFETY: writes 8 bytes from a stack array to the ack pipe we own. A short or failed write
        // is detected by the supervisor as a missing acknowledgement, which it treats as failure.
        unsafe { libc::write(self.ack.as_raw_fd(), record.as_ptr().cast(), record.len()) };
    }
}

/// Maps the new user namespace's ids (`setgroups` denied first, as the kernel requires for an
/// unprivileged gid map). Async-signal-safe, as `write_proc` is.
pub(crate) fn write_id_maps(uid_map: &[u8], gid_map: &[u8]) -> bool {
    write_proc(c"/proc/self/setgroups", b"deny")
        && write_proc(c"/proc/self/uid_map", uid_map)
        && write_proc(c"/proc/self/gid_map", gid_map)
}

/// open + write + close on a /proc file, without allocating.
pub(crate) fn write_proc(path: &std::ffi::CStr, data: &[u8]) -> bool {
    // SAFETY: `path` is NUL-terminated; open returns an fd or -1.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return false;
    }
    // SAFETY: writes `data.len()` bytes from a live slice to the fd just opened.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    // SAFETY: closes the fd opened above, exactly once.
    unsafe { libc::close(fd) };
    usize::try_from(n).is_ok_and(|n| n == data.len())
}

/// One decoded acknowledgement record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ack {
    Applied(u32),
    Failed {
        step: Step,
        errno: i32,
    },
    /// The child exited or exec'd without acknowledging (e.g. `fork` failed inside std).
    Missing,
}

pub(crate) fn decode(bytes: &[u8]) -> Ack {
    let Some(record) = bytes.get(..8) else {
        return Ack::Missing;
    };
    let value = u32::from_le_bytes([record[4], record[5], record[6], record[7]]);
    match (record[0], Step::from_u8(record[1])) {
        (b'A', _) => Ack::Applied(value),
        (b'E', Some(step)) => Ack::Failed {
            step,
            errno: value as i32,
        },
        _ => Ack::Missing,
    }
}

/// The errno of a failed exec (an `X` record, `spawn.rs`), if the child wrote one.
pub(crate) fn exec_error(bytes: &[u8]) -> Option<i32> {
    bytes
        .chunks(8)
        .find(|c| c.len() == 8 && c[0] == b'X')
        .map(|c| i32::from_le_bytes([c[4], c[5], c[6], c[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_failure_follows_the_acknowledgement() {
        let mut bytes = vec![b'A', 0, 0, 0, 5, 0, 0, 0];
        assert_eq!(exec_error(&bytes), None);
        bytes.extend([b'X', 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(decode(&bytes), Ack::Applied(5));
        assert_eq!(exec_error(&bytes), Some(libc::ENOENT));
    }

    #[test]
    fn decodes_records() {
        assert_eq!(decode(&[b'A', 0, 0, 0, 5, 0, 0, 0]), Ack::Applied(5));
        assert_eq!(
            decode(&[b'E', Step::Seccomp as u8, 0, 0, 1, 0, 0, 0]),
            Ack::Failed {
                step: Step::Seccomp,
                errno: 1
            }
        );
        assert_eq!(decode(&[b'A', 0, 0]), Ack::Missing);
        assert_eq!(decode(&[b'X', 0, 0, 0, 0, 0, 0, 0]), Ack::Missing);
    }

    #[test]
    fn every_step_round_trips() {
        let last = u8::try_from(Step::ALL.len()).unwrap();
        assert_eq!(last, 21, "a step was added or removed: update this count");
        for v in 1..=last {
            let step = Step::from_u8(v).unwrap();
            assert_eq!(step as u8, v);
            assert!(!step.describe().is_empty());
        }
        assert_eq!(Step::from_u8(0), None);
        assert_eq!(Step::from_u8(last + 1), None);
    }
}
