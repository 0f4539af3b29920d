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
    Access as _, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope, ABI,
};

use crate::envelope::{
    carve, check_rules, lists, Access, Envelope, Grant, GrantAccess, Holes, Rule,
    MAX_CARVED_ENTRIES,
};
use crate::report::{EnvelopeReport, GrantReport, LandlockReport};
use crate::resolve::{open_trusted, RealPath};
use crate::{resolve_real, resolve_scope, Error};

/// Directories exec needs: binaries and shared libraries. Every hardened run may read them.
/// Software installed outside `/usr` is there too: Nix's store, where a NixOS system keeps every
/// program, and snaps. Not `/opt`: software kept there keeps its configuration and credentials
/// beside it (red-team round twelve read a `credentials.toml` under a `CARGO_HOME` in `/opt`), and
/// no closed-name rule reaches there; a policy read grant opens what a user keeps there.
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/nix/store",
    "/snap",
];

/// Files under `/etc` that dynamic linking, uid/gid and host lookup and everyday tools read, none
/// of them secret: OpenSSL's configuration (every Node.js program reads it at start), git's system
/// configuration, the MIME and time-zone tables, the name-service files `getaddrinfo` reads even
/// for `localhost`, and the public TLS trust stores.
const SYSTEM_ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl/openssl.cnf",
    "/etc/gitconfig",
    "/etc/mime.types",
    "/etc/selinux/config",
    // Which distribution this is: pip names it in its user agent, and fails without it.
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/lsb-release",
    "/etc/rustup",
    // Everyday tools that fail without their system configuration (red-team round nine: `wget`
    // exits 4, `file` and `man -w` refuse).
    "/etc/wgetrc",
    "/etc/magic",
    "/etc/magic.mime",
    "/etc/manpath.config",
    // What a login shell reads first: Codex runs every command as `bash -lc`, which printed
    // "bash: /etc/profile: Permission denied" each time. It sources `/etc/profile.d/*.sh` only
    // where readable (`[ -r ]`), and that directory stays closed: sites put proxy credentials
    // there.
    "/etc/profile",
    // The JDK's security and logging configuration (Debian links `$JAVA_HOME/conf` here: without
    // it every `MessageDigest` or `SecureRandom` fails with "Error loading java.security file",
    // so javac, Maven and Gradle builds did), and Maven's own.
    "/etc/java",
    "/etc/java-8-openjdk",
    "/etc/java-11-openjdk",
    "/etc/java-17-openjdk",
    "/etc/java-21-openjdk",
    "/etc/java-25-openjdk",
    "/etc/maven",
    // The TLS trust stores, public certificates only (`/etc/ssl/private` holds the machine's TLS
    // keys): npm reads them at start even when it will not connect.
    "/etc/ssl/certs",
    "/etc/ssl/cert.pem",
    "/etc/ca-certificates",
    "/etc/pki/tls/certs",
    "/etc/pki/tls/cert.pem",
    "/etc/pki/ca-trust",
];

/// Added only when the network is allowed or proxied: the resolver's configuration.
const NETWORK_ETC: &[&str] = &["/etc/resolv.conf"];

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
    pub envelope: EnvelopeReport,
    /// Writable roots as granted before any carving (the workspace, caches, grants; not the
    /// private TMPDIR).
    pub write_roots: Vec<PathBuf>,
    /// The roots where protected metadata and never-named files are sought (`protect.rs`):
    /// `write_roots` less the envelope's caches, and the read roots searched like them
    /// (`Envelope::searched_reads`).
    pub searched_roots: Vec<PathBuf>,
    /// Closed paths that exist beneath a granted root: an empty stand-in is mounted over each
    /// (`protect.rs`), and the run needs it.
    pub stand_ins: Vec<PathBuf>,
    /// Closed files that exist outside every granted root, in a listed directory (the home):
    /// stood in for where a mount namespace can be made, left closed where not.
    pub convenience_stand_ins: Vec<PathBuf>,
    /// Read-only paths beneath a writable root that `protect.rs` and the write broker keep
    /// ([`crate::envelope::Holes::kept`]), and the run needs them kept.
    pub kept_read_only: Vec<PathBuf>,
    /// The caches to cover with the workspace's layers (`layers.rs`), resolved: the ruleset
    /// grants each one read-only, and the layer over it is granted when it is mounted.
    pub layered: Vec<PathBuf>,
    /// The rights a writable root gets, as the kernel's bit mask: what the child grants the
    /// `/dev/shm` it mounts (a rule on a path the mount covers does not reach the mount).
    pub write_access: u64,
}

/// What the ruleset is built from.
pub(crate) struct FsRequest<'a> {
    pub envelope: &'a Envelope,
    pub read_paths: &'a [PathBuf],
    pub write_paths: &'a [PathBuf],
    pub grants: &'a [Grant],
    /// The run's private TMPDIR.
    pub tmp: &'a Path,
    /// The empty read-only file that stands in for closed files (readable, so a program that
    /// reads its configuration at start, as npm reads `~/.npmrc`, finds it empty instead of
    /// failing).
    pub stand_in: &'a Path,
    pub tcp: TcpGrant,
    /// The command may reach a host (the network is allowed or proxied): the resolver's
    /// configuration is read. A denied network's private loopback needs none, though its TCP is
    /// not Landlock's to restrict.
    pub resolves: bool,
}

pub(crate) fn abi_from(v: u8) -> ABI {
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

/// Resolves every root, grants around never paths, and builds the ruleset.
pub(crate) fn build(kernel_abi: u8, request: &FsRequest<'_>) -> Result<FsPlan, Error> {
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
    if request.tcp != TcpGrant::Unrestricted && kernel_abi >= 4 {
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

    let planned = plan_rules(request)?;
    let mut report = LandlockReport {
        enforced: false,
        abi: kernel_abi,
        status: "not yet applied".into(),
        handled_fs: names(handled_fs),
        handled_net: names(handled_net),
        scopes: names(scopes),
        ..LandlockReport::default()
    };
    for rule in &planned.rules {
        let access = match rule.access {
            Access::List => BitFlags::from(AccessFs::ReadDir),
            Access::Read => AccessFs::from_read(abi),
            Access::Write => AccessFs::from_all(abi),
            Access::Device => {
                (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate)
                    & AccessFs::from_all(abi)
            }
        };
        let access = if rule.target.is_dir() {
            access
        } else {
            access & AccessFs::from_file(abi)
        };
        if access.is_empty() {
            continue;
        }
        let path = rule.target.path().to_path_buf();
        created = created
            .add_rule(PathBeneath::new(&rule.target, access))
            .map_err(ll(&path.display().to_string()))?;
        let list = match rule.access {
            Access::List => &mut report.list_paths,
            Access::Read => &mut report.read_paths,
            Access::Write => &mut report.write_paths,
            Access::Device => &mut report.devices,
        };
        if !crate::envelope::lists(list, &path) {
            list.push(path);
        }
    }
    if let (TcpGrant::ConnectTo(port), false) = (request.tcp, handled_net.is_empty()) {
        created = created
            .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
            .map_err(ll("the egress proxy's port"))?;
    }
    Ok(FsPlan {
        ruleset: created,
        report,
        envelope: planned.envelope,
        searched_roots: planned
            .write_roots
            .iter()
            .filter(|r| !planned.cache_roots.contains(r))
            .chain(&planned.searched_reads)
            .cloned()
            .collect(),
        write_roots: planned.write_roots,
        stand_ins: planned.stand_ins,
        convenience_stand_ins: planned.convenience_stand_ins,
        kept_read_only: planned.kept_read_only,
        layered: planned.layered,
        write_access: handled_fs.bits(),
    })
}

struct Planned {
    rules: Vec<Rule>,
    envelope: EnvelopeReport,
    write_roots: Vec<PathBuf>,
    cache_roots: Vec<PathBuf>,
    searched_reads: Vec<PathBuf>,
    stand_ins: Vec<PathBuf>,
    convenience_stand_ins: Vec<PathBuf>,
    kept_read_only: Vec<PathBuf>,
    layered: Vec<PathBuf>,
}

/// The rules being planned, and what the report says of them.
struct Planner<'a> {
    holes: Holes,
    budget: usize,
    rules: Vec<Rule>,
    report: EnvelopeReport,
    write_roots: Vec<PathBuf>,
    /// The envelope's caches among `write_roots`, resolved.
    cache_roots: Vec<PathBuf>,
    /// The caches to be layered, resolved (`FsPlan::layered`).
    layered: Vec<PathBuf>,
    /// The read roots searched like writable ones (`Envelope::searched_reads`), resolved.
    searched_reads: Vec<PathBuf>,
    request: &'a FsRequest<'a>,
}

impl Planner<'_> {
    /// Grants `real` with `access`, around the holes beneath it.
    fn add(&mut self, real: RealPath, access: Access) -> Result<(), Error> {
        let holes = &self.holes;
        carve(
            real,
            access,
            holes,
            &mut self.budget,
            &mut self.rules,
            &mut self.report.carved,
        )
    }

    /// System paths are optional (a distro may lack /lib32); the report lists what was granted.
    fn system(&mut self) -> Result<(), Error> {
        let network: &[&str] = if self.request.resolves {
            NETWORK_ETC
        } else {
            &[]
        };
        for p in SYSTEM_DIRS
            .iter()
            .chain(SYSTEM_ETC)
            .chain(["/proc"].iter())
            .chain(network)
        {
            if let Ok(real) = open_trusted(Path::new(p)) {
                self.add(real, Access::Read)?;
            }
        }
        Ok(())
    }

    /// The envelope's roots (one that no longer exists is left out and noted) and the TMPDIR.
    fn envelope(&mut self) -> Result<(), Error> {
        let envelope = self.request.envelope;
        for (roots, access) in [
            (&envelope.read, Access::Read),
            (&envelope.write, Access::Write),
            (&envelope.list, Access::List),
        ] {
            for root in roots {
                let Ok(real) = open_trusted(root) else {
                    let note = format!("{} does not exist and was not granted", root.display());
                    self.report.notes.push(note);
                    continue;
                };
                let shown = real.path().to_path_buf();
                let cache = access == Access::Write && envelope.caches.contains(root);
                if cache && envelope.layers.is_some() {
                    self.layer(real)?;
                    continue;
                }
                self.add(real, access)?;
                match access {
                    Access::Read => {
                        if envelope.searched_reads.contains(root) {
                            self.searched_reads.push(shown.clone());
                        }
                        self.report.read.push(shown)
                    }
                    Access::Write => {
                        if envelope.caches.contains(root) {
                            self.cache_roots.push(shown.clone());
                        }
                        self.write_roots.push(shown.clone());
                        self.report.write.push(shown);
                    }
                    _ => self.report.list.push(shown),
                }
            }
        }
        let tmp = open_trusted(self.request.tmp)?;
        self.report.write.push(tmp.path().to_path_buf());
        self.add(tmp, Access::Write)
    }

    /// A cache under the workspace's layers: read-only here, and writable only through the layer
    /// mounted over it for the run (`layers.rs`), which the supervisor grants once it is mounted.
    /// A cache with a read-only path beneath it, or a closed one no stand-in covers, stays
    /// read-only: Landlock would grant the whole layer, holes included (a closed file such as
    /// `~/.cache/huggingface/token` is stood in for over the overlay's own path, and holds). So
    /// does a cache that holds the workspace, whose writes would go into the layer. A cache
    /// beneath another one is covered by that one's layer.
    fn layer(&mut self, real: RealPath) -> Result<(), Error> {
        let shown = real.path().to_path_buf();
        self.add(real, Access::Read)?;
        if self.holes.unlayerable_beneath(&shown) {
            self.report.notes.push(format!(
                "the cache {} holds a read-only path, or a closed one with no stand-in, so it \
                 gets no layer and is read-only",
                shown.display()
            ));
            return Ok(());
        }
        // A layer over a cache that holds the workspace would take the workspace's writes too.
        let holds_workspace = self.request.envelope.write.iter().any(|w| {
            !self.request.envelope.caches.contains(w) && w.starts_with(&shown) && *w != shown
        });
        if holds_workspace {
            self.report.notes.push(format!(
                "the cache {} holds the workspace, so it gets no layer and is read-only",
                shown.display()
            ));
            return Ok(());
        }
        // A cache inside the workspace gets a layer only where no command can move it away: the
        // mount point itself cannot be renamed (EBUSY), but a directory above it could be, with
        // the layer inside, unless its own parent is list-only (granted around a closed path, as
        // the home is when it is the workspace). Otherwise the cache is the workspace's, written
        // directly like every other file of it.
        let workspace = self.request.envelope.write.iter().find(|w| {
            !self.request.envelope.caches.contains(w) && shown.starts_with(w) && **w != shown
        });
        if let Some(workspace) = workspace {
            let movable = shown
                .ancestors()
                .skip(2)
                .take_while(|a| a.starts_with(workspace))
                .any(|a| !lists(&self.report.carved, a));
            if movable {
                self.report.notes.push(format!(
                    "the cache {} lies in the workspace, where a command could move its layer away: it gets none, and is written as the workspace is",
                    shown.display()
                ));
                return Ok(());
            }
        }
        if self.layered.iter().any(|l| shown.starts_with(l)) {
            return Ok(());
        }
        self.layered.retain(|l| !l.starts_with(&shown));
        self.cache_roots.push(shown.clone());
        self.write_roots.push(shown.clone());
        self.layered.push(shown);
        Ok(())
    }

    /// Grants beyond the envelope: on the caller's descriptors, and the paths it named.
    fn grants(&mut self) -> Result<(), Error> {
        let request = self.request;
        let by_path = request
            .read_paths
            .iter()
            .map(|p| (p, GrantAccess::Read))
            .chain(request.write_paths.iter().map(|p| (p, GrantAccess::Write)));
        let mut extra = Vec::new();
        for (p, access) in by_path {
            // Refuses relative paths and `..`, and names a missing path; then the resolver, so a
            // `/proc/self/fd/N` of this process is refused instead of granted.
            resolve_scope(p)?;
            extra.push((resolve_real(p, "/")?, access, "path"));
        }
        for grant in request.grants {
            extra.push((grant.target.clone(), grant.access, "descriptor"));
        }
        for (real, access, made_on) in extra {
            let path = real.path().to_path_buf();
            if access == GrantAccess::Write {
                self.write_roots.push(path.clone());
            }
            self.report.grants.push(GrantReport {
                path,
                access,
                made_on: made_on.into(),
            });
            let access = match access {
                GrantAccess::Read => Access::Read,
                GrantAccess::Write => Access::Write,
            };
            self.add(real, access)?;
        }
        Ok(())
    }
}

/// Every rule the run gets, each checked against the holes.
fn plan_rules(request: &FsRequest<'_>) -> Result<Planned, Error> {
    let envelope = request.envelope;
    let grant_paths: Vec<&Path> = request.grants.iter().map(|g| g.target.path()).collect();
    let roots: Vec<&Path> = envelope
        .read
        .iter()
        .chain(&envelope.write)
        .chain(request.read_paths)
        .chain(request.write_paths)
        .map(PathBuf::as_path)
        .chain(grant_paths)
        .collect();
    let write_roots: Vec<&Path> = envelope
        .write
        .iter()
        .chain(request.write_paths)
        .map(PathBuf::as_path)
        .chain(
            request
                .grants
                .iter()
                .filter(|g| g.access == GrantAccess::Write)
                .map(|g| g.target.path()),
        )
        .collect();
    let holes = Holes::of(envelope, &roots, &write_roots);
    let mut planner = Planner {
        report: EnvelopeReport {
            never: holes.closed.clone(),
            read_only: holes.read_only.clone(),
            // The stand-ins outside every root are added when they were mounted (`finish`).
            stand_ins: holes.mounted.clone(),
            notes: envelope.notes.clone(),
            ..EnvelopeReport::default()
        },
        holes,
        budget: MAX_CARVED_ENTRIES,
        rules: Vec::new(),
        write_roots: Vec::new(),
        cache_roots: Vec::new(),
        layered: Vec::new(),
        searched_reads: Vec::new(),
        request,
    };
    planner.system()?;
    planner.envelope()?;
    planner.grants()?;
    for p in DEVICES {
        if let Ok(real) = open_trusted(Path::new(p)) {
            planner.rules.push(Rule {
                target: real,
                access: Access::Device,
            });
        }
    }
    // Closed files that exist read as empty: the stand-in mounted over them is readable. (Named
    // files found by the search in `protect.rs` get it too, so the rule is always there.) Closed
    // directories get an empty directory of mode 000, which nothing without capabilities opens.
    planner.rules.push(Rule {
        target: open_trusted(request.stand_in)?,
        access: Access::Read,
    });
    check_rules(&planner.rules, &planner.holes)?;
    Ok(Planned {
        rules: planner.rules,
        stand_ins: planner.holes.mounted,
        convenience_stand_ins: planner.holes.convenience,
        kept_read_only: planner.holes.kept,
        envelope: planner.report,
        write_roots: planner.write_roots,
        cache_roots: planner.cache_roots,
        layered: planner.layered,
        searched_reads: planner.searched_reads,
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

    fn request<'a>(
        envelope: &'a Envelope,
        read: &'a [PathBuf],
        write: &'a [PathBuf],
        tmp: &'a Path,
        deny_network: bool,
    ) -> FsRequest<'a> {
        FsRequest {
            envelope,
            read_paths: read,
            write_paths: write,
            grants: &[],
            tmp,
            stand_in: Path::new("/etc/passwd"),
            tcp: if deny_network {
                TcpGrant::Nothing
            } else {
                TcpGrant::Unrestricted
            },
            resolves: !deny_network,
        }
    }

    #[test]
    fn refuses_kernels_without_landlock_or_with_an_old_abi() {
        let t = tmp();
        let e = Envelope::default();
        for abi in [0, 1, 2] {
            match build(abi, &request(&e, &[], &[], t.path(), true)) {
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
        assert!(abi >= MIN_LANDLOCK_ABI, "this test needs Landlock ABI >= 3");
        let t = tmp();
        let e = Envelope::default();
        let plan = build(abi, &request(&e, &[], &[], t.path(), true)).unwrap();
        let r = &plan.report;
        assert!(r.read_paths.iter().any(|p| p == Path::new("/usr")));
        assert!(r.read_paths.iter().any(|p| p == Path::new("/etc/passwd")));
        assert!(r
            .read_paths
            .iter()
            .any(|p| p == Path::new("/etc/ssl/openssl.cnf")));
        assert!(!r.read_paths.iter().any(|p| p == Path::new("/etc")));
        assert!(!r.read_paths.iter().any(|p| p == Path::new("/etc/shadow")));
        assert!(
            !r.read_paths
                .iter()
                .any(|p| p == Path::new("/etc/resolv.conf")),
            "the resolver only with network"
        );
        // A hardened denied network leaves TCP to its private loopback, and still no resolver.
        let mut private_loopback = request(&e, &[], &[], t.path(), true);
        private_loopback.tcp = TcpGrant::Unrestricted;
        let plan_lo = build(abi, &private_loopback).unwrap();
        assert!(!plan_lo
            .report
            .read_paths
            .iter()
            .any(|p| p == Path::new("/etc/resolv.conf")));
        assert_eq!(
            r.write_paths,
            vec![std::fs::canonicalize(t.path()).unwrap()]
        );
        assert_eq!(r.handled_net.is_empty(), abi < 4);
        let allowed = build(abi, &request(&e, &[], &[], t.path(), false)).unwrap();
        assert!(
            allowed.report.handled_net.is_empty(),
            "network allowed: TCP not handled"
        );
        // Never the TLS private keys, even with the network.
        assert!(!allowed
            .report
            .read_paths
            .iter()
            .any(|p| p.starts_with("/etc/ssl/private") || p == Path::new("/etc/ssl")));
    }

    #[test]
    fn scope_errors_surface_before_anything_is_granted() {
        let abi = crate::landlock_abi();
        assert!(abi >= MIN_LANDLOCK_ABI, "this test needs Landlock ABI >= 3");
        let t = tmp();
        let e = Envelope::default();
        let missing = [PathBuf::from("/nonexistent-cordon")];
        let err = build(abi, &request(&e, &missing, &[], t.path(), true)).err();
        assert!(
            matches!(err, Some(Error::ScopeUnresolvable { .. })),
            "{err:?}"
        );
        let dotdot = [PathBuf::from("/usr/../tmp")];
        let err = build(abi, &request(&e, &[], &dotdot, t.path(), true)).err();
        assert!(
            matches!(err, Some(Error::ScopeParentReference { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_grant_inside_a_never_path_refuses_the_run_and_one_around_it_is_carved() {
        let abi = crate::landlock_abi();
        assert!(abi >= MIN_LANDLOCK_ABI, "this test needs Landlock ABI >= 3");
        let t = tmp();
        let h = std::fs::canonicalize(t.path()).unwrap();
        std::fs::create_dir_all(h.join(".ssh")).unwrap();
        std::fs::create_dir_all(h.join("project")).unwrap();
        let private = tmp();
        let e = Envelope {
            never: vec![h.join(".ssh"), h.join(".aws")],
            ..Envelope::default()
        };
        let inside = [h.join(".ssh")];
        let err = build(abi, &request(&e, &inside, &[], private.path(), true)).err();
        assert!(matches!(err, Some(Error::NeverGranted { .. })), "{err:?}");
        // A read-only grant of a directory with few entries: `.ssh` (which exists) and `.aws`
        // (which does not) are both granted around, without a mount namespace: nothing can be
        // created under a root the command cannot write.
        let around = [h.clone()];
        let plan = build(abi, &request(&e, &around, &[], private.path(), true)).unwrap();
        assert_eq!(plan.envelope.carved, vec![h.clone()]);
        assert!(plan.stand_ins.is_empty(), "{:?}", plan.stand_ins);
        assert!(plan.report.list_paths.contains(&h));
        assert!(plan.report.read_paths.contains(&h.join("project")));
        assert!(!plan.report.read_paths.contains(&h));
        assert!(!plan.report.read_paths.contains(&h.join(".ssh")));
        // A write grant of the same directory mounts over `.ssh` instead, so that the root keeps
        // its rights and what is made in it later stays writable.
        let plan = build(abi, &request(&e, &[], &around, private.path(), true)).unwrap();
        assert_eq!(plan.stand_ins, vec![h.join(".ssh")]);
        // And so does a read-only grant of a directory with many entries beside the hole.
        for i in 0..70 {
            std::fs::write(h.join(format!("f{i}")), "").unwrap();
        }
        let plan = build(abi, &request(&e, &around, &[], private.path(), true)).unwrap();
        assert_eq!(plan.stand_ins, vec![h.join(".ssh")]);
    }

    #[test]
    fn a_path_grant_through_this_process_descriptors_is_refused() {
        use std::os::fd::AsRawFd;
        let abi = crate::landlock_abi();
        assert!(abi >= MIN_LANDLOCK_ABI, "this test needs Landlock ABI >= 3");
        let t = tmp();
        let secret = t.path().join("signing.pem");
        std::fs::write(&secret, "key").unwrap();
        let held = std::fs::File::open(&secret).unwrap();
        let e = Envelope::default();
        let via_fd = [PathBuf::from(format!("/proc/self/fd/{}", held.as_raw_fd()))];
        let private = tmp();
        let err = build(abi, &request(&e, &via_fd, &[], private.path(), true)).err();
        assert!(matches!(err, Some(Error::Unresolvable { .. })), "{err:?}");
        // Positive control: the file itself, named, is granted.
        let named = [secret.clone()];
        let plan = build(abi, &request(&e, &named, &[], private.path(), true)).unwrap();
        assert!(plan
            .report
            .read_paths
            .contains(&std::fs::canonicalize(&secret).unwrap()));
    }
}
