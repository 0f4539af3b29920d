//! cordon's servers against hostile local clients (issue 22): the gateway socket, the approval
//! page and the MCP server, attacked by a command cordon itself runs, by a client that stalls, by
//! text built to mislead the approver, and by a client that asks for what is not its own. Each
//! attack has a positive control showing the same action succeeds when it should.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A temporary cordon home (`home/`), the user's home (`user/`, what `~` means) and a workspace.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home::in_dir(tempfile::tempdir().unwrap())
    }

    /// Outside `/tmp`, where a hardened run's workspace may lie (its `/tmp` is private).
    fn outside_tmp() -> Home {
        let base = cordon_testkit::outside_tmp(env!("CARGO_TARGET_TMPDIR"));
        Home::in_dir(tempfile::tempdir_in(base).unwrap())
    }

    fn in_dir(dir: tempfile::TempDir) -> Home {
        let home = Home { dir };
        std::fs::create_dir_all(home.ws()).unwrap();
        std::fs::create_dir_all(home.user()).unwrap();
        home.ok(&["init"]);
        home
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn user(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    fn ws(&self) -> PathBuf {
        self.dir.path().join("ws")
    }

    fn socket(&self) -> PathBuf {
        self.home().join("state/gateway.sock")
    }

    fn cordon(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CORDON);
        c.args(args)
            .env("CORDON_HOME", self.home())
            .env("HOME", self.user())
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_GATEWAY")
            .env_remove("CORDON_SESSION")
            .env_remove("CORDON_APPROVAL_TIMEOUT")
            .env_remove("XDG_CONFIG_HOME")
            .current_dir(self.ws())
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cordon(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "cordon {args:?}: {}",
            text(&out.stderr)
        );
        out
    }

    fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.home().join("journal/entries.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `cordon serve` on a free port: the page's address and token, the gateway up.
    fn serve(&self) -> Serve {
        let stderr = self.dir.path().join("serve.err");
        let mut child = self
            .cordon(&["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(u) = line.split_whitespace().find(|w| w.contains("?token=")) {
                url = Some(u.to_string());
            }
            if line.contains("gateway on") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let url = url.expect("cordon serve printed no address");
        let (addr, token) = url
            .strip_prefix("http://")
            .unwrap()
            .split_once("/?token=")
            .unwrap();
        Serve {
            child,
            addr: addr.to_string(),
            token: token.to_string(),
            stderr,
        }
    }
}

struct Serve {
    child: Child,
    addr: String,
    token: String,
    stderr: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }

    fn cookie(&self) -> String {
        format!("Cookie: cordon_token_{}={}", self.port(), self.token)
    }

    fn host(&self) -> String {
        format!("Host: {}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One line to the gateway and its one-line reply, within 5 s.
fn gateway(socket: &Path, request: &Value) -> Value {
    let mut stream = UnixStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a reply: {line:?}"))
}

fn decide_request(work: &Path, session: &str, tool_use_id: &str, command: &str) -> Value {
    json!({"decide": {
        "request": {
            "agent": "claude-code", "harness_session": session, "tool_use_id": tool_use_id,
            "cwd": work, "workspace": null, "action": {"kind": "shell", "command": command},
        },
        "settings": {
            "on_ask": "agent", "timeout": {"secs": 5, "nanos": 0}, "cordon": CORDON,
            "approval_wait_secs": 60, "mode": "local",
        },
    }})
}

fn outcome_request(session: &str, tool_use_id: &str, command: &str) -> Value {
    json!({"outcome": {
        "agent": "claude-code", "harness_session": session, "tool_use_id": tool_use_id,
        "tool": "Bash", "command": command, "interrupted": false, "exit_code": 0,
        "stdout_bytes": 3, "stderr_bytes": 0, "error": null,
    }})
}

// ---------------------------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------------------------

/// A workspace program that talks to a Unix socket directly and through `/proc/PID/root`, and
/// prints what it got each way. With `wait` for the pid, it first writes `ready` beside itself,
/// waits for the socket to appear, and then asks directly only.
const PROBE: &str = r#"#!/usr/bin/python3
import os, socket, sys, time
def ask(path, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
    except OSError as e:
        return "connect failed: " + os.strerror(e.errno)
    try:
        s.sendall(line.encode() + b"\n")
    except OSError:
        pass
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return "read failed: " + os.strerror(e.errno)
    return data.decode().strip() or "closed without a reply"
if sys.argv[2] == "wait":
    open("ready", "w").close()
    deadline = time.time() + 30
    while not os.path.exists(sys.argv[1]) and time.time() < deadline:
        time.sleep(0.02)
    print("direct:", ask(sys.argv[1], sys.argv[3]))
    sys.exit(0)
print("direct:", ask(sys.argv[1], sys.argv[3]))
print("via-proc:", ask("/proc/%s/root%s" % (sys.argv[2], sys.argv[1]), sys.argv[3]))
"#;

#[test]
fn a_sandboxed_program_cannot_reach_the_gateway() {
    cordon_testkit::require(
        Path::new("/usr/bin/python3").exists(),
        "/usr/bin/python3 (the probe's interpreter)",
        "apt-get install python3",
    );
    let home = Home::new();
    let probe = home.ws().join("probe");
    std::fs::write(&probe, PROBE).unwrap();
    std::fs::set_permissions(&probe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let serve = home.serve();
    let socket = home.socket().display().to_string();
    let pid = serve.child.id().to_string();
    let forged = outcome_request("never-existed", "toolu_x", "ls").to_string();
    let before = home.journal().len();

    let confined = home
        .cordon(&[
            "exec", "--mode", "hardened", "--", "./probe", &socket, &pid, &forged,
        ])
        .env("CORDON_GATEWAY", "off")
        .output()
        .unwrap();
    let said = text(&confined.stdout);
    assert_eq!(
        confined.status.code(),
        Some(0),
        "{said}{}",
        text(&confined.stderr)
    );
    // The socket existed when the run was prepared: a file nobody may open is mounted over it
    // (the sandbox's host_sockets), and Landlock keeps a confined process out of /proc/PID/root
    // of a process outside its domain.
    assert!(
        said.contains("direct: connect failed: Permission denied"),
        "{said}"
    );
    assert!(
        said.contains("via-proc: connect failed: Permission denied"),
        "{said}"
    );

    // A gateway started after the run was prepared has a socket the mount does not cover: the
    // gateway's own check of its peer refuses the sandboxed program.
    drop(serve);
    let _ = std::fs::remove_file(&socket);
    let ready = home.ws().join("ready");
    let waiting = home
        .cordon(&[
            "exec", "--mode", "hardened", "--", "./probe", &socket, "wait", &forged,
        ])
        .env("CORDON_GATEWAY", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(ready.exists(), "the confined probe never started");
    let serve = home.serve();
    let late = waiting.wait_with_output().unwrap();
    let said = text(&late.stdout);
    assert_eq!(late.status.code(), Some(0), "{said}{}", text(&late.stderr));
    assert!(
        said.contains("direct: {\"error\":\"refused: the peer runs inside a sandbox"),
        "{said}"
    );
    assert!(
        serve.log().contains("refused a connection"),
        "{}",
        serve.log()
    );
    let pid = serve.child.id().to_string();

    // Positive control: the same program outside the sandbox reaches the gateway both ways
    // (and is answered on its request: no decision, so no outcome is recorded).
    let plain = Command::new(&probe)
        .args([&socket, &pid, &forged])
        .output()
        .unwrap();
    let said = text(&plain.stdout);
    for way in ["direct", "via-proc"] {
        assert!(
            said.contains(&format!(
                "{way}: {{\"error\":\"cordon decided no claude-code call"
            )),
            "{said}"
        );
    }
    // The exec left its decision record and receipt; nothing else reached the journal.
    let added: Vec<Value> = home.journal().split_off(before);
    assert!(
        added
            .iter()
            .all(|e| e["event_version"] != "cordon.tool-outcome.v1"),
        "{added:?}"
    );
}

#[test]
fn outcomes_are_recorded_only_for_decisions_the_gateway_made() {
    let home = Home::new();
    let _serve = home.serve();
    let work = home.ws();

    // A forged outcome for a session that never existed: refused, nothing written.
    let reply = gateway(&home.socket(), &outcome_request("ghost", "toolu_1", "ls"));
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("cordon decided no claude-code call \"toolu_1\""),
        "{reply}"
    );
    assert!(home.journal().is_empty());

    // Positive control: the decision first, then its outcome, linked to it.
    let reply = gateway(
        &home.socket(),
        &decide_request(&work, "s-1", "toolu_1", "ls"),
    );
    assert_eq!(reply["verdict"]["decision"]["outcome"], "allow", "{reply}");
    let run_as = reply["verdict"]["run_as"].as_str().unwrap().to_string();
    // The agent reports the command it ran: cordon's rewrite.
    let reply = gateway(&home.socket(), &outcome_request("s-1", "toolu_1", &run_as));
    assert_eq!(reply, json!({"recorded": true}));
    // Another call of the same session, or another command under that id: no decision.
    for (id, command) in [("toolu_2", "ls"), ("toolu_1", "rm -rf ~")] {
        let reply = gateway(&home.socket(), &outcome_request("s-1", id, command));
        assert!(reply.get("error").is_some(), "{id} {command}: {reply}");
    }
    let entries = home.journal();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[1]["event_version"], "cordon.tool-outcome.v1");
    assert_eq!(
        entries[1]["decision_record"]["record_id"],
        entries[0]["record_id"]
    );
    assert_eq!(entries[1]["decision_record"]["index"], 0);

    // `cordon verify` accepts the linked outcome ...
    let out = home.run(&["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    // ... and flags one written straight into the journal, signed with the home's own key.
    let keys = home.home().join("keys");
    let pem = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "pem"))
        .unwrap();
    let key_id = pem.file_stem().unwrap().to_str().unwrap().to_string();
    let signer = cordon_journal::Signer::from_file(&pem, key_id).unwrap();
    let mut journal = cordon_journal::Journal::open(&home.home().join("journal")).unwrap();
    let forged = json!({
        "event_version": "cordon.tool-outcome.v1", "event_id": "out_forged",
        "recorded_at": "2026-01-01T00:00:00Z", "actor": "claude-code", "session_id": "ghost",
        "tool_use_id": "toolu_9", "tool": "Bash", "command": "ls", "interrupted": false,
        "exit_code": 0, "stdout_bytes": 1, "stderr_bytes": 0, "error": null,
    });
    journal.append_signed(&forged, &signer).unwrap();
    drop(journal);
    let out = home.run(&["verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let verdict: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(
        verdict["failures"][0]["code"], "outcome_without_decision",
        "{verdict}"
    );
    assert_eq!(verdict["failures"][0]["entry"], 2, "{verdict}");
}

#[test]
fn a_fifo_or_a_link_as_the_policy_is_refused_at_once() {
    let home = Home::new();
    let policy = home.home().join("policy.yaml");
    let pack = std::fs::read(&policy).unwrap();
    std::fs::remove_file(&policy).unwrap();
    nix::unistd::mkfifo(&policy, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let _serve = home.serve();
    let work = home.ws();

    let started = Instant::now();
    let reply = gateway(&home.socket(), &decide_request(&work, "s", "t1", "ls"));
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("is not a regular file; the gateway reads regular files only"),
        "{reply}"
    );
    // A second request while nothing ever writes the FIFO: answered as fast.
    let reply = gateway(&home.socket(), &decide_request(&work, "s", "t2", "ls"));
    assert!(reply.get("error").is_some(), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // A symbolic link to a good policy: refused too (O_NOFOLLOW).
    let elsewhere = home.dir.path().join("pack.yaml");
    std::fs::write(&elsewhere, &pack).unwrap();
    std::fs::remove_file(&policy).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &policy).unwrap();
    let reply = gateway(&home.socket(), &decide_request(&work, "s", "t3", "ls"));
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("is a symbolic link"),
        "{reply}"
    );

    // Positive control: the same policy as a regular file decides, promptly.
    std::fs::remove_file(&policy).unwrap();
    std::fs::write(&policy, &pack).unwrap();
    let started = Instant::now();
    let reply = gateway(&home.socket(), &decide_request(&work, "s", "t4", "ls"));
    assert_eq!(reply["verdict"]["decision"]["outcome"], "allow", "{reply}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn clients_name_no_policy_and_errors_echo_no_file() {
    let home = Home::new();
    let _serve = home.serve();
    let work = home.ws();
    // A policy that allows everything, which a client would like the gateway to use.
    let evil = home.dir.path().join("evil.yaml");
    std::fs::write(
        &evil,
        "cordon_policy: 1\nname: evil\ndefault: deny\nrules:\n  - {id: all, outcome: allow, reason: anything, match: {program: [cat]}}\n",
    )
    .unwrap();
    let mut request = decide_request(&work, "s", "t1", "cat ~/.ssh/id_rsa");
    request["decide"]["settings"]["policy"] = json!(evil);
    let reply = gateway(&home.socket(), &request);
    assert_eq!(reply["verdict"]["decision"]["outcome"], "deny", "{reply}");
    // Positive control: that policy, really in force (in process), allows it.
    let out = home
        .cordon(&[
            "explain",
            "--policy",
            evil.to_str().unwrap(),
            "--shell",
            "cat ~/.ssh/id_rsa",
        ])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("outcome:  allow"),
        "{}",
        text(&out.stdout)
    );
    // An analysis that names a policy is not even read.
    let analyse = json!({"analyse": {
        "shell": "ls", "argv": [], "policy": evil, "cwd": work, "workspace": null,
        "hardened": false, "session": null,
    }});
    let reply = gateway(&home.socket(), &analyse);
    assert!(
        reply["error"].as_str().unwrap().contains("malformed"),
        "{reply}"
    );

    // A policy that does not load: the reply names it, and never quotes what it holds.
    std::fs::write(
        home.home().join("policy.yaml"),
        "cordon_policy: 1\nname: x\ndefault: deny\nrules: [ {id: r, outcome: hunter2-SECRET-VALUE} ]\n",
    )
    .unwrap();
    let reply = gateway(&home.socket(), &decide_request(&work, "s", "t2", "ls"));
    let error = reply["error"].as_str().unwrap();
    assert!(
        error.contains("the policy in force does not load"),
        "{reply}"
    );
    assert!(!error.contains("hunter2"), "{reply}");
    // Positive control: loaded in process, the same file's error does quote it, so the check
    // above can fail.
    let out = home.run(&["explain", "--shell", "ls"]);
    assert!(text(&out.stderr).contains("hunter2") || text(&out.stdout).contains("hunter2"));
}

// ---------------------------------------------------------------------------------------------
// The web page
// ---------------------------------------------------------------------------------------------

struct Answer {
    status: u16,
    head: String,
    body: String,
}

fn parse_answer(response: &str) -> Answer {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    Answer {
        status: head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn http(addr: &str, method: &str, path: &str, headers: &[String], body: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for h in headers {
        request.push_str(&format!("{h}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    parse_answer(&response)
}

#[test]
fn a_stalled_post_does_not_delay_another_client() {
    let home = Home::new();
    let serve = home.serve();
    // Unauthenticated: a huge body announced, none sent.
    let mut stalled = TcpStream::connect(&serve.addr).unwrap();
    stalled
        .write_all(
            format!(
                "POST / HTTP/1.1\r\n{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\n",
                serve.host()
            )
            .as_bytes(),
        )
        .unwrap();
    // Authenticated, a small body announced, none sent: its read waits; nobody else does.
    let mut slow = TcpStream::connect(&serve.addr).unwrap();
    slow.write_all(
        format!(
            "POST /requests/x/deny HTTP/1.1\r\n{}\r\n{}\r\nOrigin: http://{}\r\nContent-Length: 100\r\n\r\n",
            serve.host(),
            serve.cookie(),
            serve.addr
        )
        .as_bytes(),
    )
    .unwrap();
    // A client that connects and says nothing at all.
    let _silent = TcpStream::connect(&serve.addr).unwrap();

    let started = Instant::now();
    let page = http(&serve.addr, "GET", "/", &[serve.host(), serve.cookie()], "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "another client waited {:?}",
        started.elapsed()
    );

    // The refused request was answered and closed without its body being read.
    stalled
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut answer = String::new();
    stalled.read_to_string(&mut answer).unwrap();
    assert_eq!(parse_answer(&answer).status, 401, "{answer}");

    // The authenticated stalled form times out on its own (408), within the body timeout.
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert_eq!(parse_answer(&answer).status, 408, "{answer}");

    // A form announced larger than any form: refused at once, not read.
    let mut huge = TcpStream::connect(&serve.addr).unwrap();
    huge.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    huge.write_all(
        format!(
            "POST /requests/x/deny HTTP/1.1\r\n{}\r\n{}\r\nOrigin: http://{}\r\nContent-Length: 1000000\r\n\r\n",
            serve.host(),
            serve.cookie(),
            serve.addr
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    huge.read_to_string(&mut answer).unwrap();
    assert_eq!(parse_answer(&answer).status, 413, "{answer}");
}

#[test]
fn redirects_stay_on_the_server_and_the_cookie_is_its_own() {
    let home = Home::new();
    let serve = home.serve();
    let with_token = |path: &str| {
        http(
            &serve.addr,
            "GET",
            &format!("{path}?token={}", serve.token),
            &[serve.host()],
            "",
        )
    };
    for path in ["/\\evil.example", "//evil.example", "/\\/evil.example"] {
        let a = with_token(path);
        assert!(
            !a.head.to_ascii_lowercase().contains("location: /\\")
                && !a.head.to_ascii_lowercase().contains("location: //")
                && !a.head.contains("evil"),
            "{path}: {}",
            a.head
        );
        if a.status == 303 {
            assert!(
                a.head.contains("location: /\r") || a.head.ends_with("location: /"),
                "{}",
                a.head
            );
        }
    }
    // Positive control: a path on this server is where the redirect goes.
    let a = with_token("/journal");
    assert_eq!(a.status, 303);
    assert!(a.head.contains("location: /journal"), "{}", a.head);

    // The cookie: named for this server's port, for the whole site, HttpOnly, SameSite=Strict.
    let cookie = a
        .head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap()
        .to_string();
    let expected = format!(
        "set-cookie: cordon_token_{}={}; ",
        serve.port(),
        serve.token
    );
    assert!(cookie.starts_with(&expected), "{cookie}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The port-less name of before opens nothing; the server's own opens the page.
    let old = format!("Cookie: cordon_token={}", serve.token);
    assert_eq!(
        http(&serve.addr, "GET", "/", &[serve.host(), old], "").status,
        401
    );
    assert_eq!(
        http(&serve.addr, "GET", "/", &[serve.host(), serve.cookie()], "").status,
        200
    );
}

/// `curl https://example.com/<RLO>hs.lmth`: shown raw, it reads `…/html.sh`.
const BIDI_COMMAND: &str = "curl https://example.com/\u{202e}hs.lmth --header 'X:\u{200b}y'";

#[test]
fn bidi_text_is_escaped_on_the_page_and_in_the_prompt() {
    let home = Home::new();
    home.ok(&["approvals", "trust", "me"]);
    let serve = home.serve();
    // The network asks: the run files a request and waits for it.
    let waiting = home
        .cordon(&["exec", "--approval-timeout", "60", "--shell", BIDI_COMMAND])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_request(&home);
    // Positive control: the store holds the characters raw, so the page could show them raw.
    let listed = text(&home.ok(&["approvals", "list", "--json"]).stdout);
    assert!(listed.contains('\u{202e}'));

    let page = http(&serve.addr, "GET", "/", &[serve.host(), serve.cookie()], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&id));
    for raw in ['\u{202e}', '\u{200b}'] {
        assert!(
            !page.body.contains(raw),
            "the page shows U+{:04X} raw",
            u32::from(raw)
        );
    }
    assert!(
        page.body.contains("example.com/\\u{202e}hs.lmth"),
        "{}",
        page.body
    );
    assert!(page.body.contains("X:\\u{200b}y"), "{}", page.body);
    // Each argument in its own isolated box.
    assert!(
        page.body
            .contains("<bdi class=arg dir=ltr>https://example.com/\\u{202e}hs.lmth</bdi>"),
        "{}",
        page.body
    );
    let listed = text(&home.ok(&["approvals", "list"]).stdout);
    assert!(
        !listed.contains('\u{202e}') && listed.contains("\\u{202e}"),
        "{listed}"
    );

    home.ok(&["deny", &id]);
    let out = waiting.wait_with_output().unwrap();
    let prompt = text(&out.stderr);
    assert_eq!(out.status.code(), Some(126), "{prompt}");
    // The terminal prompt: the decision and the approval request, escaped the same way.
    assert!(
        !prompt.contains('\u{202e}') && !prompt.contains('\u{200b}'),
        "{prompt}"
    );
    assert!(
        prompt.contains(&format!(
            "cordon: approval needed ({id}): curl 'https://example.com/\\u{{202e}}hs.lmth'"
        )),
        "{prompt}"
    );
    assert!(
        prompt.contains("Needs approval: `curl 'https://example.com/\\u{202e}hs.lmth'"),
        "{prompt}"
    );
}

fn wait_for_request(home: &Home) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = home.ok(&["approvals", "list", "--json"]);
        let pending: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(r) = pending.first() {
            return r["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no approval request was filed");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// MCP
// ---------------------------------------------------------------------------------------------

/// `cordon mcp` on pipes, with its replies read on a thread.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<Value>,
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mcp {
    fn start(home: &Home, approval_timeout: &str) -> Mcp {
        Mcp::start_in(home, approval_timeout, "local")
    }

    fn start_in(home: &Home, approval_timeout: &str, mode: &str) -> Mcp {
        let mut child = home
            .cordon(&[
                "mcp",
                "--mode",
                mode,
                "--approval-timeout",
                approval_timeout,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|_| json!({"not_json": line}));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut mcp = Mcp {
            child,
            stdin,
            replies,
        };
        mcp.send(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "hostile", "version": "1"}}}),
        );
        assert_eq!(mcp.reply(0)["result"]["serverInfo"]["name"], "cordon");
        mcp.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        mcp
    }

    fn send_line(&mut self, line: &str) {
        self.stdin.write_all(line.as_bytes()).unwrap();
        self.stdin.write_all(b"\n").unwrap();
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        self.send_line(&message.to_string());
    }

    /// The reply with `id` (`Value::Null` for an id-less error), within 60 s.
    fn reply(&mut self, id: impl Into<Value>) -> Value {
        let id = id.into();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self.replies.recv_timeout(left).expect("no reply in time");
            if reply.get("id").unwrap_or(&Value::Null) == &id {
                return reply;
            }
        }
    }

    fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}));
        self.reply(id)["result"].clone()
    }
}

#[test]
fn mcp_answers_malformed_json_rpc_with_a_parse_error() {
    let home = Home::new();
    let mut mcp = Mcp::start(&home, "0");
    mcp.send_line("this is not json");
    let reply = mcp.reply(Value::Null);
    assert_eq!(reply["jsonrpc"], "2.0");
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    mcp.send_line("{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": ");
    assert_eq!(mcp.reply(Value::Null)["error"]["code"], -32700);
    // Positive control: the server is still there, and a well-formed call is answered.
    let listed = mcp.call(8, "list_pending_approvals", json!({}));
    assert_eq!(
        listed["structuredContent"]["pending"],
        json!([]),
        "{listed}"
    );
}

#[test]
fn mcp_lists_only_its_own_sessions_requests_redacted() {
    let home = Home::new();
    // Another agent's request, filed outside this MCP client, with a credential in it.
    let secret = "Authorization: Bearer sk-live-0123456789abcdefghij";
    let other = home
        .cordon(&[
            "exec",
            "--approval-timeout",
            "60",
            "--shell",
            &format!("curl -H '{secret}' https://other.example"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let other_id = wait_for_request(&home);

    let mut mine = Mcp::start(&home, "60");
    let mut stranger = Mcp::start(&home, "60");
    // This client's own asked command waits for an answer (its tool call stays open).
    mine.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "run_command",
        "arguments": {"command": format!("curl -H '{secret}' https://mine.example")}}}),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = loop {
        let listed = mine.call(2, "list_pending_approvals", json!({}));
        let pending = listed["structuredContent"]["pending"]
            .as_array()
            .unwrap()
            .clone();
        if !pending.is_empty() {
            break pending;
        }
        assert!(
            Instant::now() < deadline,
            "the client's request never showed"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(listed.len(), 1, "{listed:?}");
    let shown = serde_json::to_string(&listed[0]).unwrap();
    assert_ne!(
        listed[0]["id"],
        other_id.as_str(),
        "another session's request is listed"
    );
    assert!(shown.contains("mine.example"), "{shown}");
    assert!(!shown.contains("sk-live-0123456789abcdefghij"), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
    // Positive control: the store holds both requests, the credential unredacted.
    let all = text(&home.ok(&["approvals", "list", "--json"]).stdout);
    assert!(all.contains("sk-live-0123456789abcdefghij") && all.contains(&other_id));
    // A client that ran nothing sees nothing.
    let theirs = stranger.call(3, "list_pending_approvals", json!({}));
    assert_eq!(
        theirs["structuredContent"]["pending"],
        json!([]),
        "{theirs}"
    );

    let mine_id = listed[0]["id"].as_str().unwrap().to_string();
    home.ok(&["deny", &mine_id]);
    home.ok(&["deny", &other_id]);
    let _ = other.wait_with_output();
    let ran = mine.reply(1)["result"].clone();
    assert_eq!(ran["isError"], true, "{ran}");
    assert_eq!(ran["structuredContent"]["ran"], false, "{ran}");
}

#[test]
fn mcp_run_command_reports_what_the_run_did() {
    let home = Home::new();
    home.ok(&["approvals", "trust", "me"]);
    let mut mcp = Mcp::start(&home, "60");
    // Asked (a push publishes), and never reaches a network: the workspace is no repository.
    let asked = "git push";
    // check_command only decides: ask.
    let checked = mcp.call(1, "check_command", json!({"command": asked}));
    assert_eq!(checked["structuredContent"]["outcome"], "ask", "{checked}");

    // The run waits, is approved, and runs: it reports the run (it ran, its exit code and
    // receipt), not check_command's "ask" as a refusal.
    mcp.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "run_command", "arguments": {"command": asked}}}));
    let id = wait_for_request(&home);
    home.ok(&["approve", &id]);
    let ran = mcp.reply(2)["result"].clone();
    let result = &ran["structuredContent"];
    assert_eq!(result["ran"], true, "{ran}");
    assert_eq!(ran["isError"], false, "{ran}");
    // git fails here (no repository): its own exit code is reported, not a refusal's.
    let code = result["exit_code"].as_i64().unwrap();
    assert_eq!(code, 128, "{ran}");
    let receipt_id = result["receipt_id"].as_str().unwrap();
    let receipt = home
        .journal()
        .into_iter()
        .find(|e| e["execution_id"] == receipt_id)
        .unwrap_or_else(|| panic!("receipt {receipt_id} not in the journal"));
    assert_eq!(result["status"], receipt["status"]);
    assert_eq!(receipt["exit_code"].as_i64(), Some(code), "{receipt}");

    // A command that runs and fails: reported with its own exit code.
    let failed = mcp.call(
        3,
        "run_command",
        json!({"command": "ls /no-such-directory-here"}),
    );
    assert_eq!(failed["structuredContent"]["ran"], true, "{failed}");
    assert_eq!(failed["structuredContent"]["exit_code"], 2, "{failed}");
    // Denied: nothing ran, and the decision the run applied says why.
    let denied = mcp.call(4, "run_command", json!({"command": "cat ~/.ssh/id_rsa"}));
    assert_eq!(denied["isError"], true, "{denied}");
    assert_eq!(denied["structuredContent"]["ran"], false);
    assert_eq!(denied["structuredContent"]["outcome"], "deny");
}

/// A request's `cwd` chooses where a command runs, not what it may write: the server's
/// workspace stays the directory it started in (red-team round sixteen: `cwd=~/.local/bin` made
/// that directory writable, and a `git` planted there ran on the user's next `git`).
#[test]
fn mcp_cwd_never_moves_the_workspace() {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI
        && cordon_testkit::allow_skip("landlock", &format!("the kernel offers ABI {abi}"))
    {
        return;
    }
    let home = Home::outside_tmp();
    let bin = home.user().join(".local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("w.sh"),
        "printf '#!/bin/sh\\n' > git; echo made > made\n",
    )
    .unwrap();
    let mut mcp = Mcp::start_in(&home, "0", "hardened");
    let cwd = bin.to_str().unwrap();
    // Named plainly, the write lands among the programs first on the user's PATH: denied (the
    // pack's start-up files, red-team round nineteen), and not run.
    let asked = mcp.call(
        1,
        "run_command",
        json!({"command": "echo x > git", "cwd": cwd}),
    );
    assert_eq!(asked["structuredContent"]["outcome"], "deny", "{asked}");
    assert_eq!(asked["structuredContent"]["ran"], false, "{asked}");
    // Hidden in a script, it runs confined to the server's workspace: the kernel refuses it.
    let ran = mcp.call(
        2,
        "run_command",
        json!({"command": "bash w.sh", "cwd": cwd}),
    );
    assert_eq!(ran["structuredContent"]["ran"], true, "{ran}");
    assert_ne!(ran["structuredContent"]["exit_code"], 0, "{ran}");
    assert!(!bin.join("git").exists() && !bin.join("made").exists());
    // Control: the same script in the workspace writes there.
    std::fs::copy(bin.join("w.sh"), home.ws().join("w.sh")).unwrap();
    let ran = mcp.call(3, "run_command", json!({"command": "bash w.sh"}));
    assert_eq!(ran["structuredContent"]["exit_code"], 0, "{ran}");
    assert!(home.ws().join("made").exists());
}

// ---------------------------------------------------------------------------------------------
// The default pack
// ---------------------------------------------------------------------------------------------

#[test]
fn cordon_home_is_not_written_in_any_mode() {
    let home = Home::new();
    // The home at its default place, `~/.config/cordon`.
    let default_home = home.user().join(".config/cordon");
    std::fs::create_dir_all(&default_home).unwrap();
    std::fs::write(default_home.join("policy.yaml"), "original\n").unwrap();
    for mode in ["local", "hardened"] {
        let out = home
            .cordon(&[
                "exec",
                "--mode",
                mode,
                "--shell",
                "echo hi > ~/.config/cordon/policy.yaml",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("rule cordon-home"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(default_home.join("policy.yaml")).unwrap(),
            "original\n"
        );
    }
    // Positive control: the same write into the workspace runs.
    let out = home
        .cordon(&["exec", "--mode", "local", "--shell", "echo hi > notes.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(home.ws().join("notes.txt")).unwrap(),
        "hi\n"
    );
}
