//! Escape catalogue, network items (13-20). Only loopback addresses are ever targeted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;

use common::*;

const EPERM: i32 = libc::EPERM;

fn skip() -> bool {
    skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode")
}

/// Whether the command ran with a private loopback (a network namespace of its own, `lo` up);
/// root can always make one, so there its absence fails the test.
fn has_private_loopback(o: &Outcome) -> bool {
    let methods = &o.report.enforcement.network.methods;
    let private = methods.contains(&"private-loopback".to_string());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            private,
            "root can always make a private loopback: {}",
            o.describe()
        );
    }
    private
}

/// The host's loopback is another namespace's: a listener there is never reached, on IPv4 or
/// IPv6, while the command's own loopback works (below).
#[test]
fn cat13_tcp_to_the_hosts_loopback_is_unreachable_on_ipv4_and_ipv6() {
    if skip() {
        return;
    }
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    l4.set_nonblocking(true).unwrap();
    let port4 = l4.local_addr().unwrap().port().to_string();
    // Positive controls: without the sandbox, and hardened with the network allowed.
    assert_eq!(probe_bare(&["tcp-connect", "127.0.0.1", &port4]), "ok");
    let allowed = probe_in(
        &allow_network(hardened()),
        &["tcp-connect", "127.0.0.1", &port4],
    );
    assert_eq!(allowed.line, "ok", "{}", allowed.describe());
    while l4.accept().is_ok() {}
    let o = probe_in(&hardened(), &["tcp-connect", "127.0.0.1", &port4]);
    let methods = &o.report.enforcement.network.methods;
    assert!(
        methods.contains(&"seccomp-socket".to_string()),
        "{methods:?}"
    );
    let refused = if has_private_loopback(&o) {
        "errno=111 at=connect"
    } else {
        "errno=1 at=socket"
    };
    assert_eq!(o.line, refused, "{}", o.describe());
    assert!(
        l4.accept().is_err(),
        "a connection from the sandbox reached the host's loopback"
    );
    if let Ok(l6) = TcpListener::bind("[::1]:0") {
        l6.set_nonblocking(true).unwrap();
        let port6 = l6.local_addr().unwrap().port().to_string();
        assert_eq!(probe_bare(&["tcp-connect", "::1", &port6]), "ok");
        while l6.accept().is_ok() {}
        let o = probe_in(&hardened(), &["tcp-connect", "::1", &port6]);
        assert_eq!(o.line, refused, "{}", o.describe());
        assert!(l6.accept().is_err(), "a connection reached the host's ::1");
    } else {
        skip!(
            "ipv6-loopback",
            "no IPv6 loopback here; IPv6 TCP checked by the socket-family test only"
        );
    }
}

/// What a test suite's local server needs: a listener and its client over the command's own
/// loopback. Its namespace holds `lo` and nothing else, and no route leads to another device
/// (checked by reading the namespace's tables, never by connecting outside loopback).
#[test]
fn a_private_loopback_serves_the_command_and_routes_nowhere() {
    if skip() {
        return;
    }
    let o = probe_in(&hardened(), &["tcp-echo-self", "127.0.0.1"]);
    if !has_private_loopback(&o) {
        assert_eq!(o.line, "errno=1 at=bind", "{}", o.describe());
        skip!(
            "netns",
            "no private loopback here: {:?}",
            o.report.enforcement.network
        );
        return;
    }
    assert_eq!(o.line, "ok", "{}", o.describe());
    if TcpListener::bind("[::1]:0").is_ok() {
        let o = probe_in(&hardened(), &["tcp-echo-self", "::1"]);
        assert_eq!(o.line, "ok", "{}", o.describe());
    }
    assert_eq!(probe_in(&hardened(), &["interfaces"]).line, "ok lo");
    let routes = probe_in(&hardened(), &["routes"]).line;
    assert!(
        routes == "ok" || routes == "ok lo",
        "routes through {routes:?}"
    );
    // Controls: the host's namespace has a device besides `lo` or a route through one (so the
    // probe can see them), and the command's seccomp filter is the private loopback's.
    let host = format!(
        "{} {}",
        probe_bare(&["interfaces"]),
        probe_bare(&["routes"])
    );
    assert!(
        host.split([',', ' '])
            .any(|d| !["", "ok", "lo"].contains(&d)),
        "the host shows no device but lo: {host}"
    );
    assert!(o
        .report
        .enforcement
        .seccomp
        .conditional
        .iter()
        .any(|c| c.contains("SOCK_DGRAM")));
}

#[test]
fn cat13_raw_and_icmp_sockets_are_denied() {
    if skip() || skip_unless_root("raw sockets as positive control") {
        return;
    }
    assert_eq!(probe_bare(&["socket", "raw"]), "ok");
    assert_eq!(
        probe_in(&hardened(), &["socket", "raw"]).errno(),
        Some(EPERM)
    );
    assert_eq!(
        probe_in(&hardened(), &["socket", "icmp"]).errno(),
        Some(EPERM)
    );
}

#[test]
fn cat14_udp_to_the_hosts_loopback_never_arrives() {
    if skip() {
        return;
    }
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let port = sink.local_addr().unwrap().port().to_string();
    assert_eq!(probe_bare(&["udp-send", "127.0.0.1", &port]), "ok");
    let mut buf = [0u8; 16];
    assert_eq!(
        sink.recv(&mut buf).unwrap(),
        5,
        "positive control datagram arrives"
    );
    let o = probe_in(&hardened(), &["udp-send", "127.0.0.1", &port]);
    // In a private loopback the datagram goes to the command's own `lo`, where nobody listens.
    let sent = if has_private_loopback(&o) {
        "ok"
    } else {
        "errno=1 at=socket"
    };
    assert_eq!(o.line, sent, "{}", o.describe());
    assert!(
        sink.recv(&mut buf).is_err(),
        "a datagram escaped the sandbox"
    );
}

#[test]
fn cat16_unix_socketpair_keeps_working() {
    if skip() {
        return;
    }
    assert_eq!(probe_in(&hardened(), &["socketpair"]).line, "ok");
    assert_eq!(probe_in(&hardened(), &["socket", "unix"]).line, "ok");
}

#[test]
fn cat16_abstract_unix_sockets_outside_the_sandbox_are_unreachable() {
    if skip() || skip_below_abi(6, "abstract unix socket scoping") {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let name = format!("cordon-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    assert_eq!(
        probe_bare(&["abstract-connect", &name]),
        "ok",
        "positive control"
    );
    drop(listener.accept());
    // With the network allowed there is no netns; Landlock's scope alone answers EPERM.
    let o = probe_in(&allow_network(hardened()), &["abstract-connect", &name]);
    assert_eq!(o.line, "errno=1 at=connect", "{}", o.describe());
    // With network denied, the fresh netns hides the name (ECONNREFUSED) or the scope denies it.
    let o = probe_in(&hardened(), &["abstract-connect", &name]);
    let expected = if o.report.enforcement.namespaces.contains(&"net".to_string()) {
        libc::ECONNREFUSED
    } else {
        EPERM
    };
    assert_eq!(o.errno(), Some(expected), "{}", o.describe());
}

/// Whether the host's sockets were covered for this run; only a run without a mount namespace
/// (unprivileged, user namespaces refused) may lack it, and then the test skips on the known gap.
fn sockets_covered(o: &Outcome, socket: &std::path::Path) -> bool {
    let closed = &o.report.enforcement.envelope.unix_sockets_closed;
    if closed.is_empty() && !is_root() {
        skip!(
            "landlock-abi-9",
            "no mount namespace here to cover the host's Unix sockets, and Landlock ABI {} does not govern connect(): {}",
            cordon_sandbox::landlock_abi(),
            o.report.enforcement.protected_metadata.status
        );
        return false;
    }
    assert!(closed.contains(&socket.to_path_buf()), "{}", o.describe());
    true
}

/// A daemon's socket outside the envelope (`/var/run/docker.sock`, an ssh-agent's, the user's
/// D-Bus bus) acts for whoever connects. Landlock governs connect() only from ABI 9, and this
/// build's ruleset does not handle that right, so a file nobody may open is mounted over each
/// socket the host lists (`host_sockets.rs`): EACCES, by its path or through a link.
#[test]
fn cat16_pathname_unix_sockets_outside_the_scope() {
    if skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let sock = canon(d.path()).join("docker.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let link = canon(d.path()).join("link.sock");
    std::os::unix::fs::symlink(&sock, &link).unwrap();
    for path in [&sock, &link] {
        assert_eq!(
            probe_bare(&["unix-connect", &path_str(path)]),
            "ok",
            "positive control"
        );
        let o = probe_in(&hardened(), &["unix-connect", &path_str(path)]);
        if !sockets_covered(&o, &sock) {
            return;
        }
        assert_eq!(o.line, "errno=13 at=connect", "{}", o.describe());
    }
}

/// As OpenSSH makes a `ControlMaster` socket (through which a command would open sessions on
/// remote hosts): bound under a temporary name, linked to the real one, the temporary name
/// removed, so the host's table lists only a name that no longer exists. Every socket in the
/// directory it names is covered, and the report lists the name that led nowhere.
#[test]
fn cat16_a_socket_linked_into_place_under_another_name_is_closed() {
    if skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let dir = canon(d.path());
    let temporary = dir.join("cm-git@github.com:22.tmpQ3x9");
    let real = dir.join("cm-git@github.com:22");
    let _listener = UnixListener::bind(&temporary).unwrap();
    std::fs::hard_link(&temporary, &real).unwrap();
    std::fs::remove_file(&temporary).unwrap();
    assert_eq!(
        probe_bare(&["unix-connect", &path_str(&real)]),
        "ok",
        "positive control"
    );
    let o = probe_in(&hardened(), &["unix-connect", &path_str(&real)]);
    if !sockets_covered(&o, &real) {
        return;
    }
    assert_eq!(o.line, "errno=13 at=connect", "{}", o.describe());
    assert!(
        o.report
            .enforcement
            .envelope
            .unix_socket_names_unresolved
            .contains(&temporary),
        "{}",
        o.describe()
    );
}

/// The same for a socket a host process bound inside the workspace, while the command's own
/// socket there works: it was bound after the host's table was read, in the command's own
/// network namespace. Control: a socket in a path the caller granted stays reachable.
#[test]
fn cat16_a_hosts_socket_in_the_workspace_is_closed_and_the_commands_own_socket_works() {
    if skip() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ws = canon(d.path()).join("ws");
    let granted = canon(d.path()).join("granted");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir_all(&granted).unwrap();
    let host = ws.join("dev-server.sock");
    let _host = UnixListener::bind(&host).unwrap();
    let second = ws.join("second.sock");
    let _second = UnixListener::bind(&second).unwrap();
    let kept = granted.join("service.sock");
    let _kept = UnixListener::bind(&kept).unwrap();
    let envelope = cordon_sandbox::Envelope::builder(&ws).build().unwrap();
    let conf = cordon_sandbox::Confinement::within(envelope)
        .read(PROBE)
        .read(&granted);

    let o = probe_in(&conf, &["unix-connect", &path_str(&host)]);
    if !sockets_covered(&o, &host) {
        return;
    }
    assert_eq!(o.line, "errno=13 at=connect", "{}", o.describe());
    // The file over each is read-only, the first mounted and the others bound from it alike: the
    // command owns it but cannot make it writable (and so reach the one file every run shares).
    for socket in [&host, &second] {
        let o = probe_in(&conf, &["unix-connect", &path_str(socket)]);
        assert_eq!(o.line, "errno=13 at=connect", "{}", o.describe());
        let o = probe_in(&conf, &["chmod", &path_str(socket), "666"]);
        assert_eq!(o.line, "errno=30 at=chmod", "{}", o.describe());
    }

    let own = ws.join("own.sock");
    let o = probe_in(&conf, &["unix-echo-self", &path_str(&own)]);
    assert_eq!(o.line, "ok", "{}", o.describe());

    let o = probe_in(&conf, &["unix-connect", &path_str(&kept)]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    assert!(
        !o.report
            .enforcement
            .envelope
            .unix_sockets_closed
            .contains(&kept),
        "{}",
        o.describe()
    );
}

#[test]
fn cat17_io_uring_is_denied() {
    if skip() {
        return;
    }
    let bare = probe_bare(&["io-uring-setup"]);
    if bare != "ok" {
        skip!(
            "io-uring",
            "io_uring unavailable outside the sandbox too ({bare})"
        );
        return;
    }
    let o = probe_in(&hardened(), &["io-uring-setup"]);
    assert_eq!(o.line, "errno=1 at=io_uring_setup", "{}", o.describe());
}

#[test]
fn cat18_netlink_packet_and_vsock_families_are_denied_and_ip_only_in_a_private_loopback() {
    if skip() {
        return;
    }
    for family in ["netlink", "packet", "vsock"] {
        let bare = probe_bare(&["socket", family]);
        let o = probe_in(&hardened(), &["socket", family]);
        assert_eq!(o.line, "errno=1 at=socket", "{family}: {}", o.describe());
        if bare != "ok" {
            skip!(
                "socket-family",
                "positive control for {family} failed outside the sandbox ({bare})"
            );
        }
    }
    // IP sockets open only where the command's namespace is its own.
    for family in ["inet", "inet6"] {
        let o = probe_in(&hardened(), &["socket", family]);
        let want = if has_private_loopback(&o) {
            "ok"
        } else {
            "errno=1 at=socket"
        };
        assert_eq!(o.line, want, "{family}: {}", o.describe());
    }
    // Allowed network: the same families open (positive control under the sandbox).
    assert_eq!(
        probe_in(&allow_network(hardened()), &["socket", "netlink"]).line,
        "ok"
    );
}

#[test]
fn cat19_inherited_descriptors_do_not_reach_the_command() {
    if skip() {
        return;
    }
    // An fd without CLOEXEC in the supervisor: a plain fork+exec would leak it.
    let f = std::fs::File::open("/etc/hostname")
        .or_else(|_| std::fs::File::open("/etc/passwd"))
        .unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: F_DUPFD on an fd we own; the new fd is closed below.
    let leaked = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 100) };
    assert!(leaked >= 100);
    let bare = probe_bare(&["fds"]);
    assert!(
        bare.split(['=', ',']).any(|x| x == leaked.to_string()),
        "positive control: {bare}"
    );
    for conf in [hardened(), cordon_sandbox::Confinement::local()] {
        let o = probe_in(&conf, &["fds"]);
        assert_eq!(o.line, "ok fds=0,1,2", "{}", o.describe());
        assert!(o.report.enforcement.process.inherited_fds_closed);
    }
    // SAFETY: closes the fd duplicated above, exactly once.
    unsafe { libc::close(leaked) };
    let mut s = String::new();
    let _ = (&f).read_to_string(&mut s);
}

#[test]
fn cat20_i386_int80_socketcall_is_killed() {
    if skip() {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        skip!("ia32-emulation", "int 0x80 only exists on x86_64");
        return;
    }
    let bare = probe_bare(&["int80-socket"]);
    if !bare.starts_with("ok fd=") {
        skip!(
            "ia32-emulation",
            "this kernel has no IA32 emulation ({bare}); nothing to bypass"
        );
        return;
    }
    let o = probe_in(&hardened(), &["int80-socket"]);
    assert_eq!(o.exit_code, -libc::SIGSYS, "{}", o.describe());
    assert_eq!(o.line, "");
    assert!(o.report.enforcement.seccomp.arch_checked);
}

#[test]
fn cat20_x32_syscalls_are_killed() {
    if skip() {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        skip!("ia32-emulation", "x32 only exists on x86_64");
        return;
    }
    // Positive control: outside the filter the call reaches the kernel (ENOSYS when x32 is
    // compiled out, a pid when it is enabled); inside, the arch guard kills before the kernel sees it.
    let bare = probe_bare(&["x32-getpid"]);
    assert!(
        bare == "errno=38 at=x32" || bare.starts_with("ok ret="),
        "{bare}"
    );
    let o = probe_in(&hardened(), &["x32-getpid"]);
    assert_eq!(o.exit_code, -libc::SIGSYS, "{}", o.describe());
    assert!(o.report.enforcement.seccomp.x32_killed);
}

#[test]
fn netns_is_used_or_its_absence_is_reported() {
    if skip() {
        return;
    }
    let o = probe_in(&hardened(), &["caps"]);
    let net = &o.report.enforcement.network;
    let has_netns = net.methods.contains(&"netns".to_string());
    assert_eq!(
        has_netns,
        o.report.enforcement.namespaces.contains(&"net".to_string())
    );
    if !has_netns {
        assert!(
            !net.notes.is_empty(),
            "missing netns must be explained: {net:?}"
        );
        skip!(
            "netns",
            "no network namespace on this machine: {:?}",
            net.notes
        );
    }
    if skip_unless_root("creating a network namespace directly") {
        return;
    }
    assert!(has_netns, "root can always create a netns: {net:?}");
}

/// Every segment of every command gets a network namespace of its own, never the supervisor's
/// and never a concurrent segment's, with only the loopback device in it; with the network allowed,
/// none.
#[test]
fn each_segment_gets_its_own_fresh_network_namespace() {
    if skip() {
        return;
    }
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let show = "readlink /proc/self/ns/net; cat /proc/self/net/dev";
    let plan = cordon_sandbox::Plan {
        commands: vec![
            cordon_sandbox::PlannedCommand::new(
                "c1",
                ["/bin/sh", "-c", &format!("{show}; cat")],
                "/",
            )
            .pipe(["/bin/sh", "-c", &format!("cat; {show}")]),
            cordon_sandbox::PlannedCommand::new("c2", ["/bin/sh", "-c", show], "/"),
        ],
    };
    let r = cordon_sandbox::run(&plan, &hardened(), &quiet()).unwrap();
    assert_eq!(r.exit_code, 0, "{r:?}");
    if !r.enforcement.namespaces.contains(&"net".to_string()) {
        skip!(
            "netns",
            "no network namespace here: {:?}",
            r.enforcement.network
        );
        return;
    }
    let out: String = r
        .commands
        .iter()
        .map(|c| String::from_utf8_lossy(&c.stdout.captured).into_owned())
        .collect();
    let namespaces: Vec<&str> = out.lines().filter(|l| l.starts_with("net:[")).collect();
    assert_eq!(namespaces.len(), 3, "{out}");
    // The two segments of c1 run at the same time, so equal numbers would mean one namespace.
    // c2 starts after c1's namespaces are gone, and the kernel reuses a freed namespace's inode
    // number, so its number may repeat one of c1's without the namespace being shared.
    assert_ne!(
        namespaces[0], namespaces[1],
        "the segments of one pipeline shared a namespace: {namespaces:?}"
    );
    assert!(
        !namespaces.contains(&own.to_str().unwrap()),
        "a segment ran in the supervisor's namespace {own:?}"
    );
    // /proc/net/dev: two header lines, then one line per device: only `lo`.
    let devices: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(':') && !l.starts_with("net:[") && !l.contains('|'))
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    assert_eq!(devices, ["lo", "lo", "lo"], "{out}");

    // Control: with the network allowed, the command shares ours (the readlink is comparable).
    let allowed = cordon_sandbox::run(
        &cordon_sandbox::Plan {
            commands: vec![cordon_sandbox::PlannedCommand::new(
                "c",
                ["/usr/bin/readlink", "/proc/self/ns/net"],
                "/",
            )],
        },
        &allow_network(hardened()),
        &quiet(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&allowed.commands[0].stdout.captured).trim(),
        own.to_str().unwrap()
    );
}
