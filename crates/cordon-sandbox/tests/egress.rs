//! The egress allowlist, attacked: a proxied command reaches the listed hosts through cordon's
//! proxy and nothing else (escape catalogue item 15, proxy bypass; items 13 and 14 again under a
//! proxied network). Every server is on this machine's loopback, outside the sandbox, named
//! through the proxy's resolver override; refusals of other addresses (the metadata address, IP
//! literals) happen before the proxy connects anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
#[path = "egress/servers.rs"]
mod servers;

use std::ffi::OsString;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_core::hosts::HostList;
use cordon_sandbox::egress::{Channel, Verdict};
use cordon_sandbox::{
    run, Confinement, ConnectionRecord, Egress, Network, NetworkPolicy, Plan, PlannedCommand,
    RunReport,
};

use common::*;
use servers::{Files, Servers, NAMES};

/// The egress confinement: hardened, `list` allowed, the test names resolved to loopback.
fn egress(list: &[String]) -> Egress {
    let mut e = Egress::new(HostList::parse(list).unwrap());
    for name in NAMES {
        e = e.resolve(name, "127.0.0.1".parse().unwrap()).unwrap();
    }
    e
}

fn proxied(list: &[String], servers: &Servers) -> Confinement {
    hardened()
        .read(servers.ca_pem.parent().unwrap())
        .network(Network::Proxied(egress(list)))
}

/// A program the test needs; a missing one fails the test with a sentence.
fn tool(name: &str) -> String {
    let found = ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists());
    cordon_testkit::require(
        found.is_some(),
        &format!("{name} (in /usr/bin, /bin or /usr/local/bin)"),
        &format!("apt-get install {name}, or run scripts/test"),
    );
    found
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Hardened mode needs Landlock; without it the test may only end early where the run allows it.
macro_rules! needs_hardened_mode {
    () => {
        if cordon_sandbox::landlock_abi() < cordon_sandbox::MIN_LANDLOCK_ABI {
            cordon_testkit::kernel_skip!(
                "landlock",
                "a proxied run is a hardened run; the kernel offers Landlock ABI {}",
                cordon_sandbox::landlock_abi()
            );
        }
    };
}

struct Ran {
    report: RunReport,
    stdout: String,
    stderr: String,
    exit: i32,
}

impl Ran {
    fn connections(&self) -> &[ConnectionRecord] {
        &self
            .report
            .enforcement
            .network
            .egress
            .as_ref()
            .unwrap()
            .connections
    }
    fn describe(&self) -> String {
        format!(
            "exit={} stdout={:?} stderr={:?} error={:?} connections={:#?}",
            self.exit,
            self.stdout,
            self.stderr,
            self.report.commands[0].error,
            self.report.enforcement.network.egress
        )
    }
}

fn run_in(
    confinement: &Confinement,
    argv: &[&str],
    cwd: &Path,
    env: Option<Vec<(&str, &str)>>,
) -> Ran {
    let mut command =
        PlannedCommand::new("c1", argv.iter().copied(), cwd).timeout(Duration::from_secs(60));
    if let Some(env) = env {
        command = command.env(
            env.into_iter()
                .map(|(n, v)| (OsString::from(n), OsString::from(v)))
                .collect(),
        );
    }
    let plan = Plan {
        commands: vec![command],
    };
    let report = run(&plan, confinement, &quiet()).expect("run");
    let c = &report.commands[0];
    Ran {
        stdout: String::from_utf8_lossy(&c.stdout.captured).into_owned(),
        stderr: String::from_utf8_lossy(&c.stderr.captured).into_owned(),
        exit: c.exit_code,
        report,
    }
}

fn one_connection(ran: &Ran) -> &ConnectionRecord {
    assert_eq!(ran.connections().len(), 1, "{}", ran.describe());
    &ran.connections()[0]
}

#[test]
fn an_allowed_name_is_reached_through_each_proxy_type() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    let list = [
        format!("allowed.test:{}", s.https_port),
        format!("allowed.test:{}", s.http_port),
    ];
    let conf = proxied(&list, &s);
    let curl = tool("curl");
    let ca = s.ca_pem.to_string_lossy().into_owned();
    let https = format!("https://allowed.test:{}/token", s.https_port);
    let http = format!("http://allowed.test:{}/token", s.http_port);
    let socks = r#"exec "$0" -sS --cacert "$1" --proxy "$ALL_PROXY" "$2""#;
    let cases: [(Vec<&str>, Channel, u16); 3] = [
        (
            vec![&curl, "-sS", "--cacert", &ca, &https],
            Channel::HttpConnect,
            s.https_port,
        ),
        (vec![&curl, "-sS", &http], Channel::Http, s.http_port),
        (
            vec!["/bin/sh", "-c", socks, &curl, &ca, &https],
            Channel::Socks5,
            s.https_port,
        ),
    ];
    for (argv, channel, port) in cases {
        let ran = run_in(&conf, &argv, Path::new("/"), None);
        assert_eq!(
            (ran.exit, ran.stdout.as_str()),
            (0, s.token.as_str()),
            "{channel:?}: {}",
            ran.describe()
        );
        let c = one_connection(&ran);
        assert_eq!(
            (c.channel, c.verdict),
            (channel, Verdict::Allowed),
            "{}",
            ran.describe()
        );
        assert_eq!((c.host.as_str(), c.port), ("allowed.test", port));
        assert_eq!(
            c.address.as_deref(),
            Some(format!("127.0.0.1:{port}").as_str())
        );
        assert!(c.bytes_sent > 0 && c.bytes_received > 0, "{c:?}");
        if channel != Channel::Http {
            assert_eq!(c.sni.as_deref(), Some("allowed.test"));
        }
        let network = &ran.report.enforcement.network;
        assert_eq!(network.policy, NetworkPolicy::Proxied);
        let mut expected = list.to_vec();
        expected.sort();
        assert_eq!(network.egress.as_ref().unwrap().allowlist, expected);
        for method in ["netns", "seccomp-socket", "egress-proxy"] {
            assert!(
                network.methods.contains(&method.to_string()),
                "{:?}",
                network.methods
            );
        }
        if cordon_sandbox::landlock_abi() >= 4 {
            assert!(network.methods.contains(&"landlock-net".to_string()));
        }
    }
}

#[test]
fn a_name_not_on_the_list_is_refused_and_the_refusal_is_in_the_report() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    let conf = proxied(&[format!("allowed.test:{}", s.https_port)], &s);
    let curl = tool("curl");
    let ca = s.ca_pem.to_string_lossy().into_owned();
    let https = format!("https://other.test:{}/token", s.https_port);
    let http = format!("http://other.test:{}/token", s.http_port);
    let socks = r#"exec "$0" -sS --cacert "$1" --proxy "$ALL_PROXY" "$2""#;
    let before = s.hits();
    // curl: 56 when the CONNECT is answered 403, 97 when SOCKS5 says "not allowed"; plain HTTP
    // gets the proxy's 403 page.
    let cases: [(Vec<&str>, Channel, u16, i32); 3] = [
        (
            vec![&curl, "-sS", "--cacert", &ca, &https],
            Channel::HttpConnect,
            s.https_port,
            56,
        ),
        (vec![&curl, "-sS", &http], Channel::Http, s.http_port, 0),
        (
            vec!["/bin/sh", "-c", socks, &curl, &ca, &https],
            Channel::Socks5,
            s.https_port,
            97,
        ),
    ];
    for (argv, channel, port, exit) in cases {
        let ran = run_in(&conf, &argv, Path::new("/"), None);
        assert_eq!(ran.exit, exit, "{channel:?}: {}", ran.describe());
        let c = one_connection(&ran);
        assert_eq!((c.channel, c.verdict), (channel, Verdict::Refused));
        assert_eq!(c.code.as_deref(), Some("not_listed"));
        let sentence = format!("other.test:{port} is not on the allowlist");
        assert_eq!(c.reason.as_deref(), Some(sentence.as_str()));
        assert_eq!(
            (c.bytes_sent, c.bytes_received, c.address.as_deref()),
            (0, 0, None)
        );
        if channel == Channel::Http {
            assert_eq!(ran.stdout, format!("cordon egress proxy: {sentence}\n"));
        }
    }
    assert_eq!(s.hits(), before, "a refused destination was connected to");
}

#[test]
fn an_empty_list_refuses_everything() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    let conf = proxied(&[], &s);
    let curl = tool("curl");
    let ca = s.ca_pem.to_string_lossy().into_owned();
    let https = format!("https://allowed.test:{}/token", s.https_port);
    let http = format!("http://allowed.test:{}/token", s.http_port);
    let cases: [Vec<&str>; 2] = [
        vec![&curl, "-sS", "--cacert", &ca, &https],
        vec![&curl, "-sS", &http],
    ];
    for argv in cases {
        let ran = run_in(&conf, &argv, Path::new("/"), None);
        assert_ne!(ran.stdout, s.token, "{}", ran.describe());
        let c = one_connection(&ran);
        assert_eq!(
            (c.verdict, c.code.as_deref()),
            (Verdict::Refused, Some("not_listed"))
        );
    }
    assert_eq!(s.hits(), 0);
}

#[test]
fn ip_literals_loopback_services_and_the_metadata_address_are_refused_before_connecting() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    // `localhost` is listed by name: the proxy resolves it itself and refuses the loopback
    // address it gets (no override names it).
    let list = [
        format!("allowed.test:{}", s.http_port),
        format!("localhost:{}", s.http_port),
    ];
    let conf = proxied(&list, &s);
    let curl = tool("curl");
    let cases = [
        (
            format!("http://127.0.0.1:{}/token", s.http_port),
            "ip_literal_not_listed",
        ),
        (
            "http://169.254.169.254/latest/meta-data/".to_string(),
            "ip_literal_not_listed",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
            "ip_literal_not_listed",
        ),
        (
            format!("http://localhost:{}/token", s.http_port),
            "special_address",
        ),
    ];
    for (url, code) in cases {
        let ran = run_in(&conf, &[&curl, "-sS", &url], Path::new("/"), None);
        let c = one_connection(&ran);
        assert_eq!(
            (c.verdict, c.code.as_deref()),
            (Verdict::Refused, Some(code)),
            "{url}: {}",
            ran.describe()
        );
        assert!(
            ran.stdout.starts_with("cordon egress proxy: "),
            "{}",
            ran.describe()
        );
    }
    // A CONNECT to a loopback service by address (nono#605).
    let https = format!("https://127.0.0.1:{}/token", s.https_port);
    let ran = run_in(&conf, &[&curl, "-sS", "-k", &https], Path::new("/"), None);
    assert_eq!(ran.exit, 56, "{}", ran.describe());
    assert_eq!(
        one_connection(&ran).code.as_deref(),
        Some("ip_literal_not_listed")
    );
    assert_eq!(s.hits(), 0, "a refused destination was connected to");
    // Control: the listed name on the same server is reached.
    let ran = run_in(
        &conf,
        &[
            &curl,
            "-sS",
            &format!("http://allowed.test:{}/token", s.http_port),
        ],
        Path::new("/"),
        None,
    );
    assert_eq!(ran.stdout, s.token, "{}", ran.describe());
}

#[test]
fn programs_that_ignore_the_proxy_variables_reach_nothing() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    let conf = proxied(&[format!("allowed.test:{}", s.https_port)], &s);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let udp_port = sink.local_addr().unwrap().port().to_string();
    // Positive controls, outside the sandbox.
    assert_eq!(probe_bare(&["tcp-connect", "127.0.0.1", &port]), "ok");
    assert!(listener.accept().is_ok(), "control connection arrives");
    assert_eq!(probe_bare(&["udp-send", "127.0.0.1", &udp_port]), "ok");
    let mut buf = [0u8; 16];
    assert_eq!(sink.recv(&mut buf).unwrap(), 5, "control datagram arrives");
    // Control inside: the proxy's own port is reachable, and only at its address.
    let o = probe_in(&conf, &["tcp-connect", "127.0.0.1", "proxy-port"]);
    assert_eq!(o.line, "ok", "{}", o.describe());

    // A raw TCP connection to a host service: Landlock allows only the proxy's port (without
    // Landlock network rules the namespace's empty loopback refuses it).
    let o = probe_in(&conf, &["tcp-connect", "127.0.0.1", &port]);
    let refused = if cordon_sandbox::landlock_abi() >= 4 {
        libc::EACCES
    } else {
        libc::ECONNREFUSED
    };
    assert_eq!(
        o.line,
        format!("errno={refused} at=connect"),
        "{}",
        o.describe()
    );
    // Any host at the proxy's port (nono#1631): nothing listens there but the proxy at 127.0.0.1.
    for address in ["127.0.0.2", "::1"] {
        let o = probe_in(&conf, &["tcp-connect", address, "proxy-port"]);
        assert_eq!(
            o.line,
            "errno=111 at=connect",
            "{address}: {}",
            o.describe()
        );
    }
    // bash's /dev/tcp.
    let bash = tool("bash");
    let script = format!("echo hi > /dev/tcp/127.0.0.1/{port}");
    let ran = run_in(&conf, &[&bash, "-c", &script], Path::new("/"), None);
    assert_eq!(ran.exit, 1, "{}", ran.describe());
    // UDP (a DNS query to any resolver), ICMP and raw sockets are refused at socket().
    let o = probe_in(&conf, &["udp-send", "127.0.0.1", &udp_port]);
    assert_eq!(o.line, "errno=1 at=socket", "{}", o.describe());
    for kind in ["icmp", "raw", "netlink", "packet"] {
        assert_eq!(
            probe_in(&conf, &["socket", kind]).errno(),
            Some(libc::EPERM),
            "{kind}"
        );
    }
    assert!(
        sink.recv(&mut buf).is_err(),
        "a datagram escaped the sandbox"
    );
    assert!(
        listener.accept().is_err(),
        "a connection escaped the sandbox"
    );
    // No route and no interface but lo in the command's namespace.
    let cat = tool("cat");
    let routes = run_in(&conf, &[&cat, "/proc/net/route"], Path::new("/"), None);
    assert_eq!(
        routes.stdout.lines().count(),
        1,
        "only the header: {}",
        routes.describe()
    );
    let devices = run_in(&conf, &[&cat, "/proc/net/dev"], Path::new("/"), None);
    let interfaces: Vec<&str> = devices
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{}", devices.describe());
    assert_eq!(s.hits(), 0);
}

/// A minimal client: CONNECT through the proxy at `proxy`, then TLS with `server_name`.
async fn tunnel_get(
    proxy: std::net::SocketAddr,
    target: &str,
    server_name: &str,
    ca: &Path,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(proxy)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if stream.read(&mut b).await.map_err(|e| e.to_string())? == 0 {
            return Err("proxy closed".into());
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head);
    }
    let connector = tokio_rustls::TlsConnector::from(servers::client_config(ca));
    let name =
        tokio_rustls::rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
    let mut tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    let get = format!("GET /token HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n");
    tls.write_all(get.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    let _ = tls.read_to_string(&mut body).await;
    Ok(body)
}

#[test]
fn a_connect_whose_server_name_differs_is_refused() {
    let s = Servers::start(Files::new());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = cordon_sandbox::egress::Proxy::start(
        listener,
        egress(&[
            format!("allowed.test:{}", s.https_port),
            format!("allowed.test:{}", s.http_port),
        ]),
    )
    .unwrap();
    let address = proxy.local_addr();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = format!("allowed.test:{}", s.https_port);
    // Control: the ClientHello names the host asked for.
    let body = rt
        .block_on(tunnel_get(address, &target, "allowed.test", &s.ca_pem))
        .unwrap();
    assert!(body.ends_with(&s.token), "{body}");
    let served = s.requests();
    // Attack: CONNECT to the listed name, TLS to another name the same server would serve.
    let attack = rt.block_on(tunnel_get(address, &target, "other.test", &s.ca_pem));
    assert!(
        attack.as_ref().is_err_and(|e| e.starts_with("tls:")),
        "{attack:?}"
    );
    // Attack: a tunnel that is not TLS (plain HTTP with another Host).
    let plain = rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let t = format!("allowed.test:{}", s.http_port);
        let request = format!("CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\nGET /token HTTP/1.1\r\nHost: other.test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut all = String::new();
        let _ = stream.read_to_string(&mut all).await;
        all
    });
    assert!(!plain.contains(&s.token), "{plain}");
    assert_eq!(s.requests(), served, "a refused tunnel reached the server");
    let report = proxy.finish();
    let codes: Vec<(Verdict, Option<&str>, Option<&str>)> = report
        .connections
        .iter()
        .map(|c| (c.verdict, c.code.as_deref(), c.sni.as_deref()))
        .collect();
    assert_eq!(
        codes,
        [
            (Verdict::Allowed, None, Some("allowed.test")),
            (Verdict::Refused, Some("sni_mismatch"), Some("other.test")),
            (Verdict::Refused, Some("not_tls"), None),
        ]
    );
    assert_eq!(
        report.connections[1].reason.as_deref(),
        Some("the TLS ClientHello asks for other.test, not allowed.test, the host the tunnel was opened to")
    );
}

/// The real python executable and the directories it needs, or a failure naming what is missing.
fn python() -> (String, Vec<PathBuf>) {
    let pip = std::process::Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    cordon_testkit::require(
        pip,
        "pip for the python3 on PATH",
        "apt-get install python3-pip, or run scripts/test",
    );
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.prefix); print(sys.base_prefix)",
        ])
        .output()
        .expect("python3 is not on PATH; this test needs it with pip");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines().map(|l| std::fs::canonicalize(l).unwrap());
    let exe = lines.next().unwrap();
    (exe.to_string_lossy().into_owned(), lines.collect())
}

#[test]
fn pip_download_goes_through_the_proxy_to_a_local_index() {
    needs_hardened_mode!();
    let wheel_name = "cordon_egress_probe-1.0.0-py3-none-any.whl";
    let wheel = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/egress")
            .join(wheel_name),
    )
    .unwrap();
    let digest = sha256_hex(&wheel);
    let index = format!(
        "<!DOCTYPE html><html><body><a href=\"/files/{wheel_name}#sha256={digest}\">{wheel_name}</a></body></html>"
    );
    let mut files = Files::new();
    files.insert(
        "/simple/cordon-egress-probe/".into(),
        ("text/html", index.into_bytes()),
    );
    files.insert(
        format!("/files/{wheel_name}"),
        ("application/octet-stream", wheel.clone()),
    );
    let s = Servers::start(files);
    let (python, prefixes) = python();
    let out = tempfile::tempdir().unwrap();
    let out_dir = canon(out.path());
    let mut conf = proxied(&[format!("pypi.test:{}", s.https_port)], &s).write(&out_dir);
    for p in prefixes {
        conf = conf.read(p);
    }
    // pip's user agent names the distribution, which it reads from these.
    for p in [
        "/etc/debian_version",
        "/etc/os-release",
        "/usr/lib/os-release",
    ] {
        if Path::new(p).exists() {
            conf = conf.read(p);
        }
    }
    let index_url = format!("https://pypi.test:{}/simple/", s.https_port);
    let ca = s.ca_pem.to_string_lossy().into_owned();
    let dest = out_dir.to_string_lossy().into_owned();
    let argv = [
        python.as_str(),
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        &index_url,
        "--cert",
        &ca,
        "-d",
        &dest,
        "cordon-egress-probe",
    ];
    let env = vec![
        ("PATH", "/usr/bin:/bin"),
        ("HOME", dest.as_str()),
        ("PIP_CONFIG_FILE", "/dev/null"),
    ];
    let ran = run_in(&conf, &argv, &out_dir, Some(env));
    assert_eq!(ran.exit, 0, "{}", ran.describe());
    assert_eq!(std::fs::read(out_dir.join(wheel_name)).unwrap(), wheel);
    assert!(!ran.connections().is_empty());
    for c in ran.connections() {
        assert_eq!(
            (c.verdict, c.host.as_str(), c.channel),
            (Verdict::Allowed, "pypi.test", Channel::HttpConnect),
            "{c:?}"
        );
    }
}

#[test]
fn npm_pack_goes_through_the_proxy_to_a_local_registry() {
    needs_hardened_mode!();
    let npm = tool("npm");
    let name = "cordon-egress-probe";
    let tarball_name = format!("{name}-1.0.0.tgz");
    let tarball = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/egress")
            .join(&tarball_name),
    )
    .unwrap();
    let s = Servers::start(Files::new());
    let tarball_path = format!("/{name}/-/{tarball_name}");
    let integrity = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball))
    };
    let packument = serde_json::json!({
        "name": name,
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {
            "name": name,
            "version": "1.0.0",
            "dist": {
                "tarball": format!("https://npm.test:{}{tarball_path}", s.https_port),
                "integrity": format!("sha512-{integrity}"),
            },
        }},
    });
    s.add(
        &format!("/{name}"),
        "application/json",
        packument.to_string().into_bytes(),
    );
    s.add(&tarball_path, "application/octet-stream", tarball.clone());
    let out = tempfile::tempdir().unwrap();
    let out_dir = canon(out.path());
    let conf = proxied(&[format!("npm.test:{}", s.https_port)], &s).write(&out_dir);
    let registry = format!("https://npm.test:{}/", s.https_port);
    let ca = s.ca_pem.to_string_lossy().into_owned();
    let cache = out_dir.join("cache").to_string_lossy().into_owned();
    let home = out_dir.to_string_lossy().into_owned();
    let argv = [
        npm.as_str(),
        "pack",
        name,
        "--registry",
        &registry,
        "--cafile",
        &ca,
        "--cache",
        &cache,
    ];
    let env = vec![
        ("PATH", "/usr/bin:/bin"),
        ("HOME", home.as_str()),
        ("npm_config_update_notifier", "false"),
        ("npm_config_fund", "false"),
        ("npm_config_audit", "false"),
    ];
    let ran = run_in(&conf, &argv, &out_dir, Some(env));
    assert_eq!(ran.exit, 0, "{}", ran.describe());
    assert_eq!(std::fs::read(out_dir.join(&tarball_name)).unwrap(), tarball);
    // The packument and the tarball, over one kept-alive tunnel or two.
    assert!(s.requests() >= 2, "{}", ran.describe());
    assert!(!ran.connections().is_empty(), "{}", ran.describe());
    for c in ran.connections() {
        assert_eq!(
            (c.verdict, c.host.as_str(), c.channel),
            (Verdict::Allowed, "npm.test", Channel::HttpConnect),
            "{c:?}"
        );
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_process_of_a_pipeline_and_every_command_of_a_plan_shares_the_one_proxy() {
    needs_hardened_mode!();
    let s = Servers::start(Files::new());
    let conf = proxied(&[format!("allowed.test:{}", s.http_port)], &s);
    let curl = tool("curl");
    let cat = tool("cat");
    let url = format!("http://allowed.test:{}/token", s.http_port);
    let fetch = |id: &str| {
        PlannedCommand::new(id, [curl.as_str(), "-sS", url.as_str()], "/")
            .pipe([cat.as_str()])
            .timeout(Duration::from_secs(60))
    };
    let plan = Plan {
        commands: vec![fetch("c1"), fetch("c2")],
    };
    let report = run(&plan, &conf, &quiet()).expect("run");
    for c in &report.commands {
        assert_eq!(
            String::from_utf8_lossy(&c.stdout.captured),
            s.token,
            "{:?}",
            c.error
        );
    }
    let egress = report.enforcement.network.egress.as_ref().unwrap();
    assert_eq!(egress.connections.len(), 2, "{egress:#?}");
    assert!(egress
        .connections
        .iter()
        .all(|c| c.verdict == Verdict::Allowed));
    assert_eq!(report.enforcement.processes_confined, 4);
    assert!(report
        .enforcement
        .network
        .methods
        .contains(&"netns".to_string()));
}

/// Sends `request` to the proxy at `proxy` and returns what it answered before closing.
fn exchange(proxy: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[test]
fn requests_the_proxy_cannot_check_are_refused_with_their_reason() {
    let s = Servers::start(Files::new());
    let listed = format!("allowed.test:{}", s.http_port);
    let proxy = cordon_sandbox::egress::Proxy::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        egress(std::slice::from_ref(&listed)),
    )
    .unwrap();
    let at = proxy.local_addr();
    let port = s.http_port;
    // Control: the listed name, with its own Host header, is served.
    let ok = exchange(
        at,
        format!(
            "GET http://{listed}/token HTTP/1.1\r\nHost: {listed}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert!(String::from_utf8_lossy(&ok).ends_with(&s.token));
    let attacks: [(Vec<u8>, &str); 6] = [
        // The URL names a listed host, the Host header another one behind the same address.
        (
            format!("GET http://{listed}/token HTTP/1.1\r\nHost: other.test:{port}\r\nConnection: close\r\n\r\n").into_bytes(),
            "host_header_mismatch",
        ),
        // userinfo that reads like a host: the URL's host is other.test.
        (
            format!("GET http://allowed.test@other.test:{port}/token HTTP/1.1\r\nHost: other.test:{port}\r\nConnection: close\r\n\r\n").into_bytes(),
            "not_listed",
        ),
        // An https URL in absolute form must use CONNECT.
        (
            format!("GET https://{listed}/token HTTP/1.1\r\nHost: {listed}\r\nConnection: close\r\n\r\n").into_bytes(),
            "unsupported",
        ),
        // A request for the proxy itself.
        (b"GET /token HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n".to_vec(), "unsupported"),
        // A decimal IPv4 address in disguise.
        (
            b"CONNECT 2130706433:80 HTTP/1.1\r\nHost: 2130706433:80\r\nConnection: close\r\n\r\n".to_vec(),
            "malformed_host",
        ),
        // SOCKS4.
        (vec![4, 1, 0, 80, 127, 0, 0, 1, 0], "unsupported"),
    ];
    let served = s.requests();
    for (request, _) in &attacks {
        let answer = exchange(at, request);
        assert!(!String::from_utf8_lossy(&answer).contains(&s.token));
    }
    assert_eq!(s.requests(), served, "a refused request reached the server");
    let report = proxy.finish();
    let codes: Vec<Option<&str>> = report.connections[1..]
        .iter()
        .map(|c| c.code.as_deref())
        .collect();
    let expected: Vec<Option<&str>> = attacks.iter().map(|(_, code)| Some(*code)).collect();
    assert_eq!(codes, expected, "{report:#?}");
    assert_eq!(
        report.connections[1].reason.as_deref(),
        Some(format!("the request's Host header names other.test:{port}, not allowed.test, the host in its URL").as_str())
    );
}
