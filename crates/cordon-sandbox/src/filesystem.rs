//! The Landlock ruleset for a hardened run.
//!
//! Landlock grants access beneath inodes; anything not granted is denied, including `$HOME`,
//! `/root`, `/tmp` and other users' files. Grants are additive and attach to inodes, not to mount
//! layouts, so a writable directory below a read-only one simply works (the bind-mount ordering
//! bug of CSC's bwrap launcher cannot occur). The converse, a read-only path *inside* a writable
//! tree, is beyond Landlock: `protect.rs` handles it with bind mounts for the metadata that needs it.
//!
//! `/etc` is not granted as a whole: it holds `shadow`, `sudoers`, ssh host keys and credentials of
//! system services. Only what dynamic linking and name lookup need is granted: the loader cache
//! and configuration, `localtime`, and `passwd`/`group`/`nsswitch.conf` (no secrets since shadow
//! passwords; `id`, `ls -l`, git and ssh resolve uids through them). With network allowed, the
//! resolver and TLS trust files are added. `/proc` is readable because many programs read
//! `/proc/self`; other processes' sensitive entries (`environ`, `mem`, `maps`) stay closed because
//! Landlock applies ptrace scoping: a sandboxed process cannot ptrace-access anything outside its
//! domain.
//!
//! The ruleset is built with `CompatLevel::HardRequirement` at the kernel's ABI: anything the
//! kernel cannot enforce is an error here, in the supervisor, before any process starts.

use std::path::{Path, PathBuf};

use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope, ABI,
};

use crate::report::LandlockReport;
use crate::{resolve_scope, Error};

/// Directories exec needs: binaries and shared libraries. Every hardened run may read them.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Files under `/etc` that dynamic linking and uid/gid lookup read.
const SYSTEM_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
];

/// Added only when the network is allowed or proxied: name resolution and TLS trust.
const NETWORK_ETC: &[&str] = &[
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
];

/// Device files every program may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The oldest Landlock ABI hardened mode accepts: ABI 1 cannot control file truncation, so a
/// "read-only" file could still be emptied with `O_TRUNC`; ABI 2 lacks it too. ABI 3 (Linux 6.2)
/// is the first where read-only means read-only.
pub const MIN_LANDLOCK_ABI: u8 = 3;

/// What TCP the ruleset allows (Landlock ABI >= 4 controls TCP bind and connect by port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpGrant {
    /// No bind, no connect.
    Nothing,
    /// Connect to this port only (the egress proxy's, in the command's network namespace).
    ConnectTo(u16),
    /// TCP not handled by Landlock.
    Unrestricted,
}

pub(crate) struct FsPlan {
    pub ruleset: RulesetCreated,
    pub report: LandlockReport,
}

fn abi_from(v: u8) -> ABI {
    match v {
        0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        7 => ABI::V7,
        8 => ABI::V8,
        _ => ABI::V9,
    }
}

/// Resolves every scope and builds the ruleset. `tmp` is the run's private TMPDIR.
pub(crate) fn build(
    kernel_abi: u8,
    read_paths: &[PathBuf],
    write_paths: &[PathBuf],
    tmp: &Path,
    tcp: TcpGrant,
) -> Result<FsPlan, Error> {
    if kernel_abi < MIN_LANDLOCK_ABI {
        return Err(Error::Unenforceable {
            feature: "Landlock ABI >= 3",
            detail: if kernel_abi == 0 {
                "Landlock is not enabled in this kernel (check CONFIG_SECURITY_LANDLOCK and the lsm= boot list)".into()
            } else {
                format!("the kernel offers ABI {kernel_abi}; file truncation cannot be controlled")
            },
        });
    }
    let abi = abi_from(kernel_abi);
    let ll = |context: &str| {
        let context = context.to_string();
        move |source| Error::Landlock { context, source }
    };

    let handled_fs = AccessFs::from_all(abi);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(handled_fs)
        .map_err(ll("filesystem access"))?;
    let mut handled_net = BitFlags::<AccessNet>::EMPTY;
    if tcp != TcpGrant::Unrestricted && kernel_abi >= 4 {
        handled_net = AccessNet::from_all(abi);
        ruleset = ruleset
            .handle_access(handled_net)
            .map_err(ll("network access"))?;
    }
    let mut scopes = BitFlags::<Scope>::EMPTY;
    if kernel_abi >= 6 {
        scopes = Scope::from_all(abi);
        ruleset = ruleset.scope(scopes).map_err(ll("scopes"))?;
    }
    let mut created = ruleset.create().map_err(ll("creating the ruleset"))?;

    let mut report = LandlockReport {
        enforced: false,
        abi: kernel_abi,
        status: "not yet applied".into(),
        handled_fs: names(handled_fs),
        handled_net: names(handled_net),
        scopes: names(scopes),
        ..LandlockReport::default()
    };

    // System paths are optional (a distro may lack /lib32); the report lists what was granted.
    let mut system: Vec<&str> = SYSTEM_DIRS.iter().chain(SYSTEM_ETC).copied().collect();
    system.push("/proc");
    if tcp != TcpGrant::Nothing {
        system.extend(NETWORK_ETC);
    }
    let mut read = Vec::new();
    for p in system {
        if let Ok(resolved) = resolve_scope(p) {
            if !read.contains(&resolved) {
                read.push(resolved);
            }
        }
    }
    for p in read_paths {
        let resolved = resolve_scope(p)?;
        if !read.contains(&resolved) {
            read.push(resolved);
        }
    }
    let mut write = Vec::new();
    for p in write_paths.iter().map(PathBuf::as_path).chain([tmp]) {
        let resolved = resolve_scope(p)?;
        if !write.contains(&resolved) {
            write.push(resolved);
        }
    }
    let mut devices = Vec::new();
    for p in DEVICES {
        if let Ok(resolved) = resolve_scope(p) {
            devices.push(resolved);
        }
    }

    let read_access = AccessFs::from_read(abi);
    let write_access = AccessFs::from_all(abi);
    let device_access =
        (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate) & AccessFs::from_all(abi);
    for (paths, access) in [
        (&read, read_access),
        (&write, write_access),
        (&devices, device_access),
    ] {
        for path in paths {
            let fd = PathFd::new(path).map_err(|e| Error::Unenforceable {
                feature: "opening a scope path for Landlock",
                detail: format!("{}: {e}", path.display()),
            })?;
            let access = if path.is_dir() {
                access
            } else {
                access & AccessFs::from_file(abi)
            };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(ll(&path.display().to_string()))?;
        }
    }
    if let (TcpGrant::ConnectTo(port), false) = (tcp, handled_net.is_empty()) {
        created = created
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(ll("the egress proxy's port"))?;
    }
    report.read_paths = read;
    report.write_paths = write;
    report.devices = devices;
    Ok(FsPlan {
        ruleset: created,
        report,
    })
}

fn names<T: std::fmt::Debug + landlock::Access>(flags: BitFlags<T>) -> Vec<String> {
    flags.iter().map(|f| format!("{f:?}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn refuses_kernels_without_landlock_or_with_an_old_abi() {
        let t = tmp();
        for abi in [0, 1, 2] {
            match build(abi, &[], &[], t.path(), TcpGrant::Nothing) {
                Err(Error::Unenforceable { feature, detail }) => {
                    assert_eq!(feature, "Landlock ABI >= 3");
                    assert!(!detail.is_empty());
                }
                Err(e) => panic!("ABI {abi}: unexpected error {e}"),
                Ok(_) => panic!("ABI {abi} must be refused"),
            }
        }
    }

    #[test]
    fn grants_exec_paths_and_only_the_needed_etc_files() {
        let abi = crate::landlock_abi();
        if abi < MIN_LANDLOCK_ABI {
            return;
        }
        let t = tmp();
        let plan = build(abi, &[], &[], t.path(), TcpGrant::Nothing).unwrap();
        let r = &plan.report;
        assert!(r.read_paths.iter().any(|p| p == Path::new("/usr")));
        assert!(r.read_paths.iter().any(|p| p == Path::new("/etc/passwd")));
        assert!(!r.read_paths.iter().any(|p| p == Path::new("/etc")));
        assert!(!r.read_paths.iter().any(|p| p == Path::new("/etc/shadow")));
        assert!(
            !r.read_paths.iter().any(|p| p.starts_with("/etc/ssl")),
            "TLS files only with network"
        );
        assert_eq!(
            r.write_paths,
            vec![std::fs::canonicalize(t.path()).unwrap()]
        );
        assert_eq!(r.handled_net.is_empty(), abi < 4);
        let allowed = build(abi, &[], &[], t.path(), TcpGrant::Unrestricted).unwrap();
        assert!(
            allowed.report.handled_net.is_empty(),
            "network allowed: TCP not handled"
        );
    }

    #[test]
    fn scope_errors_surface_before_anything_is_granted() {
        let abi = crate::landlock_abi();
        if abi < MIN_LANDLOCK_ABI {
            return;
        }
        let t = tmp();
        let err = build(
            abi,
            &[PathBuf::from("/nonexistent-cordon")],
            &[],
            t.path(),
            TcpGrant::Nothing,
        )
        .err();
        assert!(
            matches!(err, Some(Error::ScopeUnresolvable { .. })),
            "{err:?}"
        );
        let err = build(
            abi,
            &[],
            &[PathBuf::from("/usr/../tmp")],
            t.path(),
            TcpGrant::Nothing,
        )
        .err();
        assert!(
            matches!(err, Some(Error::ScopeParentReference { .. })),
            "{err:?}"
        );
    }
}
