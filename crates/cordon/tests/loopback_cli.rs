//! Loopback through the binary (issue 15, part 3): under the default pack, a hardened `cordon
//! exec` of a text whose network stays on loopback runs without a person, on the run's own
//! loopback: a server and its client in one text work, and a service on the host's loopback
//! stays out of reach (the contract that runs declares `network: deny`, for which the sandbox
//! makes a private loopback). Local mode asks for the same text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A workspace and a cordon home in one temporary directory; `None` only when hardened mode
/// cannot run here and `CORDON_TEST_ALLOW_SKIP` allows it.
fn setup() -> Option<(tempfile::TempDir, PathBuf)> {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI
        && cordon_testkit::allow_skip(
            "landlock",
            &format!("a loopback run is a hardened run; the kernel offers Landlock ABI {abi}"),
        )
    {
        return None;
    }
    cordon_testkit::require(
        Path::new("/usr/bin/curl").exists() && Path::new("/usr/bin/python3").exists(),
        "curl or python3 (/usr/bin)",
        "apt-get install curl python3, or run scripts/test",
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("ws")).unwrap();
    Some((dir, root))
}

fn exec(root: &Path, mode: &str, text: &str) -> Output {
    Command::new(CORDON)
        .args(["exec", "--mode", mode, "--json", "--shell", text])
        .current_dir(root.join("ws"))
        .env("CORDON_HOME", root.join("cordon-home"))
        .env("CORDON_GATEWAY", "off")
        .env("CORDON_APPROVAL_TIMEOUT", "0")
        .env("PATH", "/usr/bin:/bin")
        .env_remove("CORDON_JOURNAL")
        .env_remove("CORDON_SESSION")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A server on the host's loopback that answers every connection with `token` and counts them.
fn host_service(token: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{token}",
                token.len()
            );
        }
    });
    (port, hits)
}

#[test]
fn a_server_and_its_client_run_unattended_on_the_runs_own_loopback() {
    let Some((_dir, root)) = setup() else { return };
    std::fs::write(root.join("ws/index.html"), "served from the run\n").unwrap();
    let text = "python3 -m http.server 8765 --bind 127.0.0.1 & sleep 1; \
                curl -s --retry 5 --retry-connrefused --retry-delay 1 http://127.0.0.1:8765/index.html; \
                kill %1";
    let out = exec(&root, "hardened", text);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("served from the run"),
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"outcome\":\"allow\""),
        "{}",
        describe(&out)
    );
    // The control: local mode reaches the host's loopback, so it asks (no wait: exit 2).
    let out = exec(&root, "local", text);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn the_hosts_loopback_services_stay_out_of_reach_of_an_allowed_loopback_client() {
    let Some((_dir, root)) = setup() else { return };
    let (port, hits) = host_service("host-secret-token");
    let text = format!("curl -sS --max-time 5 http://127.0.0.1:{port}/");
    let out = exec(&root, "hardened", &text);
    // Allowed without a person, and refused by the run's own loopback, where nothing listens.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"outcome\":\"allow\""),
        "{}",
        describe(&out)
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "curl could not connect: {}",
        describe(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("host-secret-token"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the run reached the host's loopback"
    );
    // The positive control: the same request outside cordon reaches the host's service.
    let direct = Command::new("/usr/bin/curl")
        .args([
            "-sS",
            "--max-time",
            "5",
            &format!("http://127.0.0.1:{port}/"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&direct.stdout), "host-secret-token");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}
