//! The supervisor run by an unprivileged user (here: root dropping to `nobody` with setpriv): the
//! network namespace comes from a user namespace, the tree kill from the subreaper fallback, and
//! the report says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::*;

const RUNNER: &str = env!("CARGO_BIN_EXE_cordon-sandbox-run");

fn as_nobody(args: &[&str]) -> Option<(String, serde_json::Value)> {
    if !is_root() || !std::path::Path::new("/usr/bin/setpriv").exists() {
        skip!(
            "root",
            "unprivileged run needs root and setpriv to drop to nobody"
        );
        return None;
    }
    let out = Command::new("/usr/bin/setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            RUNNER,
            "--report",
        ])
        .args(args)
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json_start = stderr
        .find('{')
        .unwrap_or_else(|| panic!("no report: {stderr}"));
    let report: serde_json::Value = serde_json::from_str(&stderr[json_start..]).unwrap();
    Some((
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        report,
    ))
}

#[test]
fn unprivileged_hardened_run_is_confined_and_reports_its_methods() {
    if skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let Some((line, report)) = as_nobody(&[
        "--hardened",
        "--read",
        PROBE,
        "--",
        PROBE,
        "tcp-connect",
        "127.0.0.1",
        &port,
    ]) else {
        return;
    };
    let e = &report["enforcement"];
    let namespaces = e["namespaces"].as_array().unwrap();
    // With its own namespace the command has a private loopback (the host's listener is another
    // namespace's: refused); without one, no IP socket at all.
    let private = e["network"]["methods"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("private-loopback"));
    let refused = if private {
        "errno=111 at=connect"
    } else {
        "errno=1 at=socket"
    };
    assert_eq!(line, refused, "{e}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "the host's listener was reached"
    );
    if namespaces.is_empty() {
        assert!(
            !e["network"]["notes"].as_array().unwrap().is_empty(),
            "missing netns unexplained"
        );
        skip!(
            "user-namespace",
            "no user namespace for nobody here: {}",
            e["network"]["notes"]
        );
    } else {
        assert_eq!(
            namespaces,
            &vec![serde_json::json!("user"), serde_json::json!("net")]
        );
        assert!(private, "a namespace of its own without its loopback: {e}");
    }
    assert_eq!(e["tree_kill"], "subreaper + descendant scan");
    assert_eq!(e["cgroup"]["status"], "no writable cgroup v2");

    let Some((line, _)) = as_nobody(&["--hardened", "--read", PROBE, "--", PROBE, "caps"]) else {
        return;
    };
    assert!(line.starts_with("ok capeff=0 capprm=0 capinh=0"), "{line}");
    assert!(line.contains("uid=65534"), "{line}");
}

#[test]
fn unprivileged_timeout_still_kills_the_daemon() {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let pidfile = d.path().join("daemon.pid");
    let mut args = vec!["--timeout", "0.7"];
    let hardened = cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI;
    let dir = path_str(d.path());
    if hardened {
        args.extend(["--hardened", "--read", PROBE, "--write", &dir]);
    }
    let pf = path_str(&pidfile);
    args.extend(["--", PROBE, "daemonize", &pf, "30"]);
    let start = std::time::Instant::now();
    let Some((_, report)) = as_nobody(&args) else {
        return;
    };
    assert!(
        start.elapsed() < std::time::Duration::from_millis(1900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(report["exit_code"], 124);
    let daemon: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        gone_within(daemon, std::time::Duration::from_millis(200)),
        "daemon {daemon} survived"
    );
}

/// Protected metadata (`protect.rs`) needs a mount namespace; unprivileged, it comes from a user
/// namespace: the one made for the network namespace, or one made for it when the network is
/// allowed.
#[test]
fn unprivileged_runs_protect_git_metadata_through_a_user_namespace() {
    if skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode") {
        return;
    }
    let ws = tempfile::tempdir().unwrap();
    let git = ws.path().join(".git");
    std::fs::create_dir_all(git.join("hooks")).unwrap();
    std::fs::write(git.join("config"), "[core]\n").unwrap();
    for p in [ws.path(), &git, &git.join("hooks"), &git.join("config")] {
        std::os::unix::fs::chown(p, Some(65534), Some(65534)).unwrap();
    }
    let dir = path_str(ws.path());
    let config = path_str(&git.join("config"));
    let fine = path_str(&ws.path().join("fine"));
    for net in ["deny", "allow"] {
        let base = ["--hardened", "--net", net, "--read", PROBE, "--write", &dir];
        // Positive control: the workspace itself is writable for nobody.
        let Some((line, _)) = as_nobody(&[&base[..], &["--", PROBE, "write", &fine]].concat())
        else {
            return;
        };
        assert_eq!(line, "ok", "net {net}");
        let (line, report) =
            as_nobody(&[&base[..], &["--", PROBE, "append", &config]].concat()).unwrap();
        let e = &report["enforcement"];
        if report["commands"][0]["status"] == "blocked" {
            // Fail closed: no user namespace for nobody here, so no mount namespace either.
            let error = report["commands"][0]["error"].as_str().unwrap_or("");
            assert!(error.contains("mount namespace"), "{error}");
            skip!(
                "user-namespace",
                "no user namespace for nobody here: {error}"
            );
            return;
        }
        assert_eq!(line, "errno=30 at=open", "net {net}: {report}");
        assert_eq!(e["protected_metadata"]["enforced"], true, "{report}");
        let namespaces = e["namespaces"].as_array().unwrap();
        assert!(namespaces.contains(&serde_json::json!("user")), "{report}");
        assert!(namespaces.contains(&serde_json::json!("mnt")), "{report}");
    }
    assert_eq!(
        std::fs::read_to_string(git.join("config")).unwrap(),
        "[core]\n"
    );
}

/// A proxied run by an unprivileged user: the egress helper makes a user namespace owning the
/// network namespace, the command joins both, and reaches the proxy's port and nothing else.
#[test]
fn unprivileged_proxied_runs_join_the_proxy_namespace_through_a_user_namespace() {
    if !is_root() {
        cordon_testkit::kernel_skip!("root", "the test drops from root to nobody");
    }
    if cordon_sandbox::landlock_abi() < cordon_sandbox::MIN_LANDLOCK_ABI {
        cordon_testkit::kernel_skip!("landlock", "a proxied run is a hardened run");
    }
    cordon_testkit::require(
        std::path::Path::new("/usr/bin/setpriv").exists(),
        "/usr/bin/setpriv",
        "apt-get install util-linux",
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let proxied = [
        "--hardened",
        "--read",
        PROBE,
        "--allow-host",
        "registry.npmjs.org",
    ];
    let mut args = proxied.to_vec();
    args.extend(["--", PROBE, "tcp-connect", "127.0.0.1", "proxy-port"]);
    let (line, report) = as_nobody(&args).expect("root and setpriv were checked above");
    assert_eq!(line, "ok", "the proxy's port is reachable: {report}");
    let e = &report["enforcement"];
    assert_eq!(e["namespaces"], serde_json::json!(["user", "net"]));
    assert_eq!(e["network"]["policy"], "proxied");
    assert_eq!(
        e["network"]["egress"]["allowlist"],
        serde_json::json!(["registry.npmjs.org:443"])
    );
    let mut args = proxied.to_vec();
    args.extend(["--", PROBE, "tcp-connect", "127.0.0.1", &port]);
    let (line, _) = as_nobody(&args).expect("root and setpriv were checked above");
    // Landlock's TCP rule answers EACCES; without it (ABI < 4) the namespace's empty loopback.
    let refused = if cordon_sandbox::landlock_abi() >= 4 {
        libc::EACCES
    } else {
        libc::ECONNREFUSED
    };
    assert_eq!(
        line,
        format!("errno={refused} at=connect"),
        "a host service is out of reach"
    );
    assert!(
        listener.accept().is_err(),
        "a connection escaped the sandbox"
    );
}

#[test]
fn unprivileged_runs_enforce_the_envelope_with_its_stand_ins() {
    assert!(
        cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI,
        "the envelope needs Landlock ABI >= 3"
    );
    let t = tempfile::tempdir().unwrap();
    let home = canon(t.path());
    std::fs::create_dir_all(home.join("project")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_ed25519"), "ssh-secret").unwrap();
    std::fs::write(home.join(".npmrc"), "_authToken=npm-secret").unwrap();
    std::fs::write(home.join(".bashrc"), "# rc").unwrap();
    for p in [
        "",
        "project",
        ".ssh",
        ".ssh/id_ed25519",
        ".npmrc",
        ".bashrc",
    ] {
        std::os::unix::fs::chown(home.join(p), Some(65534), Some(65534)).unwrap();
    }
    let h = |rel: &str| path_str(&home.join(rel));
    let envelope = |cmd: &[&str]| {
        let mut args = vec![
            "--hardened".to_string(),
            "--workspace".into(),
            h("project"),
            "--home".into(),
            path_str(&home),
            "--never".into(),
            h(".ssh"),
            "--never".into(),
            h(".npmrc"),
            "--read-only".into(),
            h(".bashrc"),
            "--read".into(),
            PROBE.into(),
            "--".into(),
        ];
        args.extend(cmd.iter().map(|s| s.to_string()));
        args
    };
    let run = |cmd: &[&str]| {
        let args = envelope(cmd);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        as_nobody(&args).expect("this test needs root and setpriv to drop to nobody")
    };
    // Positive controls: the workspace is writable and the start-up file readable.
    let (line, report) = run(&[PROBE, "write", &h("project/f")]);
    assert_eq!(line, "ok");
    assert_eq!(report["enforcement"]["envelope"]["enforced"], true);
    assert_eq!(run(&[PROBE, "read", &h(".bashrc")]).0, "ok");
    assert_eq!(
        run(&[PROBE, "read", &h(".ssh/id_ed25519")]).0,
        "errno=13 at=open"
    );
    assert_eq!(run(&[PROBE, "append", &h(".bashrc")]).0, "errno=13 at=open");
    // The closed file that exists reads as empty, through the user namespace's mount namespace.
    let (line, report) = run(&[
        "/bin/sh",
        "-c",
        &format!("cat {} && echo empty", h(".npmrc")),
    ]);
    assert_eq!(line, "empty");
    let namespaces = report["enforcement"]["namespaces"].to_string();
    assert!(namespaces.contains("mnt"), "{namespaces}");
}
