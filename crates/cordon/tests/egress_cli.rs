//! The egress allowlist through the binary (issue 17): a hardened `cordon exec` or `cordon run`
//! whose policy lists hosts reaches them through cordon's proxy and nothing else, the decision
//! record names the list, and the receipt lists every connection; `cordon explain` shows the
//! hosts; `cordon policy hosts --detect` proposes registries and writes nothing; a listed `npm
//! install` and `pip install -r` run with a checkpoint through the hook.
//!
//! Every server is on this machine's loopback, outside the sandbox (the egress tests' own HTTP and
//! HTTPS servers, `cordon-sandbox/tests/egress/servers.rs`), named through the proxy's resolver
//! override (`--egress-resolve`) or listed by address. Refusals of other addresses (metadata,
//! private ranges) are the proxy's decision functions' tests, not made here by connecting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../../cordon-sandbox/tests/egress/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use servers::{Files, Servers};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A workspace, a `$HOME` and a cordon home, in one temporary directory.
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Setup {
    /// `None` only when hardened mode cannot run here and `CORDON_TEST_ALLOW_SKIP` allows it.
    fn new() -> Option<Setup> {
        let abi = cordon_sandbox::landlock_abi();
        if abi < cordon_sandbox::MIN_LANDLOCK_ABI
            && cordon_testkit::allow_skip(
                "landlock",
                &format!("a proxied run is a hardened run; the kernel offers Landlock ABI {abi}"),
            )
        {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for sub in ["ws", "home"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        Some(Setup { _dir: dir, root })
    }

    fn ws(&self) -> PathBuf {
        self.root.join("ws")
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn cordon_home(&self) -> PathBuf {
        self.root.join("cordon-home")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CORDON);
        command
            .args(args)
            .current_dir(self.ws())
            .env("CORDON_HOME", self.cordon_home())
            .env("HOME", self.home())
            .env("CORDON_GATEWAY", "off")
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .stdin(Stdio::null());
        command
    }

    fn cordon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Writes `text` as a file in the test's root and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.root.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn journal(&self) -> Vec<Value> {
        std::fs::read_to_string(self.cordon_home().join("journal/entries.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The connections the proxy decided for the receipt's one command.
fn connections(receipt: &Value) -> Vec<Value> {
    let command = &receipt["x-cordon"]["sandbox"]["commands"][0];
    assert_eq!(
        command["enforcement"]["network"]["policy"], "proxied",
        "{receipt}"
    );
    command["enforcement"]["network"]["egress"]["connections"]
        .as_array()
        .unwrap_or_else(|| panic!("no egress report in {receipt}"))
        .clone()
}

/// A native policy that lets `curl` reach `hosts`.
fn curl_policy(setup: &Setup, hosts: &[String]) -> String {
    let policy = format!(
        "cordon_policy: 1\nname: egress-cli-test\ndefault: deny\nrules:\n  - id: curl-test-servers\n    outcome: allow\n    reason: the test's own servers\n    match: {{program: [curl]}}\n    hosts: {}\n",
        serde_json::to_string(hosts).unwrap()
    );
    setup.file("policy.yaml", &policy)
}

/// `cordon exec --mode hardened` of `argv` under `policy`, the test names resolved to loopback,
/// the receipt written to `receipt`.
fn exec_hardened(setup: &Setup, policy: &str, receipt: &Path, argv: &[&str]) -> Output {
    let mut args = vec![
        "exec",
        "--mode",
        "hardened",
        "--policy",
        policy,
        "--receipt",
        receipt.to_str().unwrap(),
    ];
    let resolves: Vec<String> = servers::NAMES
        .iter()
        .map(|n| format!("{n}=127.0.0.1"))
        .collect();
    for resolve in &resolves {
        args.extend(["--egress-resolve", resolve.as_str()]);
    }
    args.push("--");
    args.extend_from_slice(argv);
    setup.cordon(&args)
}

fn curl() -> &'static str {
    cordon_testkit::require(
        Path::new("/usr/bin/curl").exists(),
        "curl (/usr/bin/curl)",
        "apt-get install curl, or run scripts/test",
    );
    "curl"
}

#[test]
fn a_listed_name_is_reached_through_the_proxy_and_the_record_and_receipt_say_so() {
    let Some(setup) = Setup::new() else { return };
    let s = Servers::start(Files::new());
    std::fs::copy(&s.ca_pem, setup.ws().join("ca.pem")).unwrap();
    let list = [
        format!("allowed.test:{}", s.http_port),
        format!("allowed.test:{}", s.https_port),
    ];
    let policy = curl_policy(&setup, &list);

    let plain = setup.root.join("plain.json");
    let url = format!("http://allowed.test:{}/token", s.http_port);
    let out = exec_hardened(&setup, &policy, &plain, &[curl(), "-sS", "--fail", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), s.token, "{}", describe(&out));

    let tls = setup.root.join("tls.json");
    let url = format!("https://allowed.test:{}/token", s.https_port);
    let argv = [curl(), "-sS", "--fail", "--cacert", "ca.pem", &url];
    let out = exec_hardened(&setup, &policy, &tls, &argv);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), s.token, "{}", describe(&out));

    // The receipts: the list in force, and each connection with its channel and bytes.
    let listed = json!([
        format!("allowed.test:{}", s.http_port.min(s.https_port)),
        format!("allowed.test:{}", s.http_port.max(s.https_port)),
    ]);
    for (receipt, channel, port) in [
        (&plain, "http", s.http_port),
        (&tls, "http_connect", s.https_port),
    ] {
        let receipt = read_json(receipt);
        assert_eq!(receipt["status"], "success", "{receipt}");
        assert_eq!(receipt["x-cordon"]["egress"]["allowlist"], listed);
        let all = connections(&receipt);
        assert_eq!(all.len(), 1, "{all:?}");
        let c = &all[0];
        assert_eq!(
            (&c["verdict"], &c["host"], &c["port"], &c["channel"]),
            (
                &json!("allowed"),
                &json!("allowed.test"),
                &json!(port),
                &json!(channel)
            ),
            "{c}"
        );
        assert_eq!(c["address"], format!("127.0.0.1:{port}"));
        assert!(c["bytes_sent"].as_u64().unwrap() > 0, "{c}");
        assert!(c["bytes_received"].as_u64().unwrap() > 0, "{c}");
        if channel == "http_connect" {
            assert_eq!(c["sni"], "allowed.test", "{c}");
        }
        // The contract that ran says what was enforced.
        let front = &receipt["x-cordon"]["front_end"];
        assert_eq!(front["launch"], "argv", "{front}");
    }

    // The decision records, written before anything ran, name the list.
    let records: Vec<Value> = setup
        .journal()
        .into_iter()
        .filter(|e| e.get("decided_at").is_some())
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    for record in &records {
        assert_eq!(record["details"]["egress"]["allowlist"], listed, "{record}");
        assert_eq!(record["details"]["egress"]["commands"], json!(["c1"]));
        assert_eq!(record["sandbox_profile"], "cordon-hardened-v1", "{record}");
    }
}

#[test]
fn a_name_not_on_the_list_is_refused_and_the_refusal_is_in_the_receipt() {
    let Some(setup) = Setup::new() else { return };
    let s = Servers::start(Files::new());
    std::fs::copy(&s.ca_pem, setup.ws().join("ca.pem")).unwrap();
    let policy = curl_policy(&setup, &[format!("allowed.test:{}", s.http_port)]);

    // Plain HTTP: the proxy answers 403 itself, and the server is never connected to.
    let receipt = setup.root.join("plain.json");
    let url = format!("http://other.test:{}/token", s.http_port);
    let out = exec_hardened(&setup, &policy, &receipt, &[curl(), "-sS", "--fail", &url]);
    assert_eq!(
        out.status.code(),
        Some(22),
        "curl's HTTP error: {}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("error: 403"),
        "{}",
        describe(&out)
    );
    assert!(!text(&out.stdout).contains(&s.token), "{}", describe(&out));
    let refused = connections(&read_json(&receipt));
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(
        (
            &refused[0]["verdict"],
            &refused[0]["host"],
            &refused[0]["code"]
        ),
        (
            &json!("refused"),
            &json!("other.test"),
            &json!("not_listed")
        ),
        "{:?}",
        refused[0]
    );
    assert_eq!(refused[0]["address"], Value::Null);

    // A tunnel to the same unlisted name: refused before any connection.
    let receipt = setup.root.join("tls.json");
    let url = format!("https://other.test:{}/token", s.https_port);
    let argv = [curl(), "-sS", "--cacert", "ca.pem", &url];
    let out = exec_hardened(&setup, &policy, &receipt, &argv);
    assert_eq!(
        out.status.code(),
        Some(56),
        "CONNECT refused: {}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("CONNECT tunnel failed, response 403"),
        "{}",
        describe(&out)
    );
    let refused = connections(&read_json(&receipt));
    assert_eq!(refused[0]["verdict"], "refused", "{refused:?}");
    assert_eq!(refused[0]["channel"], "http_connect", "{refused:?}");
    assert_eq!(s.hits(), 0, "an unlisted name reached the server");

    // A program that ignores the proxy variables and connects to the server's port directly
    // reaches nothing: 127.0.0.1 in the command's namespace is its own loopback, with no server.
    let receipt = setup.root.join("bypass.json");
    let url = format!("http://127.0.0.1:{}/token", s.http_port);
    let argv = [curl(), "-sS", "--noproxy", "*", "--max-time", "10", &url];
    let out = exec_hardened(&setup, &policy, &receipt, &argv);
    assert_eq!(
        out.status.code(),
        Some(7),
        "curl could not connect: {}",
        describe(&out)
    );
    assert!(!text(&out.stdout).contains(&s.token), "{}", describe(&out));
    assert!(connections(&read_json(&receipt)).is_empty());
    assert_eq!(
        s.hits(),
        0,
        "a program that ignored the proxy reached the server"
    );

    // The positive control: the listed name on the same server is reached.
    let receipt = setup.root.join("control.json");
    let url = format!("http://allowed.test:{}/token", s.http_port);
    let out = exec_hardened(&setup, &policy, &receipt, &[curl(), "-sS", "--fail", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), s.token);
    assert_eq!(s.hits(), 1);
}

/// A CSC contract that fetches `url` with curl, declaring `network: allowlisted`.
fn curl_contract(setup: &Setup, url: &str) -> String {
    let ws = setup.ws().to_str().unwrap().to_string();
    let contract = json!({
        "version": "csc.v0.1",
        "contract_id": "c_egress_cli",
        "intent": "fetch the test server's token",
        "actor": {"agent_id": "agent:test", "session_id": "s-1", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "fetch",
            "exec": {"argv": ["/usr/bin/curl", "-sS", "--fail", url]},
            "cwd": ws,
            "read_paths": [],
            "write_paths": [],
            "network": "allowlisted",
            "env_allow": [],
            "secret_refs": [],
            "timeout_sec": 30,
            "proposed_effect_type": "fetch_external"
        }],
        "risk_class": "low",
        "approval_mode": "policy_only",
        "expected_outputs": [],
        "justification": "egress test"
    });
    setup.file("contract.json", &contract.to_string())
}

/// A CSC profile that allows curl with `hosts` as its `allowed_egress_hosts`.
fn csc_profile(setup: &Setup, hosts: &[&str]) -> String {
    let ws = setup.ws().to_str().unwrap().to_string();
    let profile = json!({
        "policy_schema_version": "csc.policy.v0.1",
        "name": "egress-cli-profile",
        "allow_commands": ["/usr/bin/curl"],
        "allowed_effect_types": ["fetch_external"],
        "allowed_risk_classes": ["low"],
        "max_timeout_sec": 60,
        "network": "allowlisted",
        "allow_secret_refs": false,
        "allowed_cwd_prefixes": [ws],
        "allowed_read_prefixes": [ws],
        "allowed_egress_hosts": hosts,
    });
    setup.file("profile.json", &profile.to_string())
}

#[test]
fn cordon_run_holds_an_allowlisted_contract_to_the_profiles_egress_hosts() {
    let Some(setup) = Setup::new() else { return };
    let s = Servers::start(Files::new());
    let out = setup.cordon(&[
        "keygen",
        "--out-dir",
        setup.root.to_str().unwrap(),
        "--key-id",
        "egress",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let key = setup.root.join("egress.pem");
    let url = format!("http://allowed.test:{}/token", s.http_port);
    let contract = curl_contract(&setup, &url);
    let listed = format!("allowed.test:{}", s.http_port);
    let profile = csc_profile(&setup, &[&listed]);
    let receipt = setup.root.join("receipt.json");
    let run = |profile: &str, mode: &str| {
        setup.cordon(&[
            "run",
            &contract,
            profile,
            "--mode",
            mode,
            "--signing-key",
            key.to_str().unwrap(),
            "--key-id",
            "egress",
            "--receipt",
            receipt.to_str().unwrap(),
            "--egress-resolve",
            "allowed.test=127.0.0.1",
        ])
    };
    let out = run(&profile, "hardened");
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout), s.token);
    let written = read_json(&receipt);
    assert_eq!(written["x-cordon"]["egress"]["allowlist"], json!([listed]));
    assert_eq!(written["x-cordon"]["egress"]["commands"], json!(["fetch"]));
    assert_eq!(connections(&written)[0]["verdict"], "allowed");
    std::fs::remove_file(&receipt).unwrap();

    // A list cordon cannot enforce is invalid input, said in one sentence; nothing runs.
    let bad = csc_profile(&setup, &["*"]);
    let out = run(&bad, "hardened");
    assert_eq!(out.status.code(), Some(65), "{}", describe(&out));
    assert_eq!(
        text(&out.stderr).trim(),
        format!("cordon: {bad}: allowed_egress_hosts: host \"*\": `*` alone would allow every host; use network: full instead"),
    );
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    assert!(
        !receipt.exists(),
        "a receipt was written for a run that was not judged"
    );

    // A resolver override means nothing without the proxy: a usage error in local mode.
    let out = run(&profile, "local");
    assert_eq!(out.status.code(), Some(64), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("--egress-resolve applies to hardened runs only"),
        "{}",
        describe(&out)
    );
}

/// The default pack with `hosts` added to the rule `rule`, as a user accepts proposals.
fn pack_with_hosts(pack: &str, rule: &str, hosts: &[String]) -> String {
    let marker = format!("  - id: {rule}\n");
    let start = pack
        .find(&marker)
        .unwrap_or_else(|| panic!("the pack has no rule {rule}"));
    let end = start + pack[start..].find("\n\n").unwrap();
    format!(
        "{}\n    hosts: {}{}",
        &pack[..end],
        serde_json::to_string(hosts).unwrap(),
        &pack[end..]
    )
}

#[test]
fn explain_shows_the_hosts_each_command_may_reach() {
    let Some(setup) = Setup::new() else { return };
    std::fs::write(setup.ws().join("package.json"), "{}").unwrap();
    let pack = cordon_policy::native::DEFAULT_PACK;
    let hosts = ["registry.npmjs.org".to_string()];
    let policy = setup.file("policy.yaml", &pack_with_hosts(pack, "npm-install", &hosts));

    let out = setup.cordon(&[
        "explain",
        "--policy",
        &policy,
        "--mode",
        "hardened",
        "--shell",
        "npm install && npm test",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let shown = text(&out.stdout);
    for line in [
        "mode:     hardened",
        "     hosts:    registry.npmjs.org:443",
        "     answered: network, external-fetch (a hardened run reaches only the listed hosts)",
        "network:  a hardened run reaches only registry.npmjs.org:443, through cordon's egress proxy",
        "outcome:  allow_with_checkpoint (RULE_CHECKPOINTED)",
    ] {
        assert!(shown.contains(line), "{line:?} not in:\n{shown}");
    }

    let out = setup.cordon(&[
        "explain", "--policy", &policy, "--mode", "hardened", "--json", "--", "npm", "install",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(explained["mode"], "hardened");
    assert_eq!(
        explained["egress"],
        json!({
            "commands": [{"hosts": ["registry.npmjs.org:443"], "answered": ["network", "external-fetch"]}],
            "grant": {"network": "hosts", "hosts": ["registry.npmjs.org:443"]},
        })
    );
    assert_eq!(explained["decision"]["outcome"], "allow_with_checkpoint");

    // The control: in local mode nothing enforces the list, so the install asks; the hosts are
    // still shown.
    let out = setup.cordon(&[
        "explain", "--policy", &policy, "--mode", "local", "--", "npm", "install",
    ]);
    let shown = text(&out.stdout);
    assert!(shown.contains("outcome:  ask (RULE_ASKED)"), "{shown}");
    assert!(
        shown.contains("     hosts:    registry.npmjs.org:443"),
        "{shown}"
    );
    assert!(!shown.contains("answered:"), "{shown}");
    // `cordon policy hosts` lists what each rule grants; the pack as shipped grants none.
    let out = setup.cordon(&["policy", "hosts", "--policy", &policy]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stdout)
            .contains("\nnpm-install (allow_with_checkpoint): registry.npmjs.org:443\n"),
        "{}",
        describe(&out)
    );
    // Its one list is `workspace-packages`' empty one (a package runner fetches nothing).
    let out = setup.cordon(&["policy", "hosts"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let listed: Vec<String> = text(&out.stdout)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    assert_eq!(
        listed,
        ["workspace-packages (allow): none (an empty list refuses every connection)"],
        "{}",
        describe(&out)
    );

    // The pack as shipped lists none; hardened is explain's default mode, as it is exec's.
    let out = setup.cordon(&["explain", "--", "npm", "install"]);
    let shown = text(&out.stdout);
    assert!(
        shown.contains("     hosts:    no rule lists any"),
        "{shown}"
    );
    assert!(shown.contains("outcome:  ask (RULE_ASKED)"), "{shown}");
}

#[test]
fn policy_hosts_detect_proposes_the_tools_registries_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let (home, ws) = (root.join("home"), root.join("ws"));
    for sub in [".config/pip", ".cargo", ".config/go"] {
        std::fs::create_dir_all(home.join(sub)).unwrap();
    }
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let files = [
        (home.join(".npmrc"), "registry=https://npm.corp.example/\n//npm.corp.example/:_authToken=SECRET-TOKEN\n"),
        (home.join(".config/pip/pip.conf"), "[global]\nindex-url = https://pypi.corp.example/simple\n"),
        (home.join(".cargo/config.toml"), "[source.crates-io]\nreplace-with = \"corp\"\n[source.corp]\nregistry = \"sparse+https://cargo.corp.example/index/\"\n"),
        (home.join(".config/go/env"), "GOPROXY=https://goproxy.corp.example\nGOSUMDB=sum.golang.org\n"),
        (ws.join(".git/config"), "[remote \"origin\"]\n\turl = https://github.com/acme/app.git\n[remote \"fork\"]\n\turl = git@gitlab.com:me/app.git\n"),
        (ws.join("package.json"), "{}"),
        (ws.join("requirements.txt"), "requests\n"),
    ];
    for (path, content) in &files {
        std::fs::write(path, content).unwrap();
    }
    let listing = |dir: &Path| -> Vec<PathBuf> {
        let mut all = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                all.push(p);
            }
        }
        all.sort();
        all
    };
    let before = listing(&root);
    let detect = |json: bool| {
        let mut command = Command::new(CORDON);
        command
            .args(["policy", "hosts", "--detect"])
            .current_dir(&ws)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("PIP_CONFIG_FILE", "/dev/null");
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };
    let out = detect(false);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let shown = text(&out.stdout);
    let home_text = home.display().to_string();
    for line in [
        format!("proposed: npm.corp.example:443  (npm, from {home_text}/.npmrc)"),
        format!("proposed: pypi.corp.example:443  (pip, from {home_text}/.config/pip/pip.conf)"),
        format!("proposed: cargo.corp.example:443  (cargo, from {home_text}/.cargo/config.toml)"),
        format!("proposed: goproxy.corp.example:443  (go, from {home_text}/.config/go/env)"),
        format!(
            "proposed: github.com:443  (git, from {}/.git/config (remote origin))",
            ws.display()
        ),
        "# under the rule `npm-install`:\n    hosts:\n      - \"npm.corp.example:443\"".to_string(),
        "# under the rule `pip-install`:\n    hosts:\n      - \"pypi.corp.example:443\""
            .to_string(),
    ] {
        assert!(shown.contains(&line), "{line:?} not in:\n{shown}");
    }
    assert!(
        shown.contains("an ssh address does not go through the proxy"),
        "{shown}"
    );
    assert!(
        !shown.contains("SECRET-TOKEN"),
        "a token was printed:\n{shown}"
    );

    let out = detect(true);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let detected: Value = serde_json::from_slice(&out.stdout).unwrap();
    let proposed: Vec<(&str, &str)> = detected["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["host"].as_str().unwrap(), p["tool"].as_str().unwrap()))
        .collect();
    assert_eq!(
        proposed,
        [
            ("npm.corp.example:443", "npm"),
            ("pypi.corp.example:443", "pip"),
            ("cargo.corp.example:443", "cargo"),
            ("goproxy.corp.example:443", "go"),
            ("sum.golang.org:443", "go"),
            ("github.com:443", "git"),
        ]
    );
    assert!(detected["snippet"]
        .as_str()
        .unwrap()
        .contains("npm-install"));
    // Nothing was written: no config home, no file changed.
    assert_eq!(listing(&root), before);
    for (path, content) in &files {
        assert_eq!(std::fs::read_to_string(path).unwrap(), *content);
    }
}

/// What `cordon hook claude-code [extra…]` answers for Bash `command` run in `cwd`: the
/// permission decision, and the command the agent is told to run instead.
fn hook_bash(setup: &Setup, command: &str, extra: &[&str]) -> (String, Option<String>) {
    let event = json!({
        "session_id": "s-1", "cwd": setup.ws(), "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command, "description": "d"},
    });
    let mut args = vec!["hook", "claude-code"];
    args.extend_from_slice(extra);
    let mut child = setup
        .command(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &reply["hookSpecificOutput"];
    (
        d["permissionDecision"].as_str().unwrap().to_string(),
        d["updatedInput"]["command"].as_str().map(str::to_string),
    )
}

/// Runs what the hook told the agent to run, as the agent's shell would.
fn run_rewritten(setup: &Setup, rewritten: &str) -> Output {
    let mut shell = Command::new("bash");
    shell
        .arg("-c")
        .arg(rewritten)
        .current_dir(setup.ws())
        .env("CORDON_HOME", setup.cordon_home())
        .env("HOME", setup.home())
        .env("CORDON_GATEWAY", "off")
        .env("CORDON_APPROVAL_TIMEOUT", "0")
        .env_remove("CORDON_JOURNAL")
        .env_remove("CORDON_SESSION")
        .stdin(Stdio::null());
    shell.output().unwrap()
}

/// The exec's decision record and receipt for the launch of `text`, the last ones in the journal.
fn exec_evidence(setup: &Setup, text: &str) -> (Value, Value) {
    let entries = setup.journal();
    let of_text = |e: &&Value| {
        let front = e.get("details").unwrap_or(&e["x-cordon"]);
        front["front_end"]["text"] == text
    };
    let record = entries
        .iter()
        .rev()
        .filter(|e| e.get("decided_at").is_some())
        .find(of_text)
        .unwrap_or_else(|| panic!("no decision record for {text:?}"))
        .clone();
    let receipt = entries
        .iter()
        .rev()
        .filter(|e| e.get("receipt_version").is_some())
        .find(of_text)
        .unwrap_or_else(|| panic!("no receipt for {text:?}"))
        .clone();
    (record, receipt)
}

/// A packument and tarball for npm, and a simple index and wheel for pip, served over HTTP from
/// the egress tests' files.
fn registries(s: &Servers) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cordon-sandbox/tests/data/egress");
    let name = "cordon-egress-probe";
    let tarball = std::fs::read(data.join(format!("{name}-1.0.0.tgz"))).unwrap();
    let tarball_path = format!("/{name}/-/{name}-1.0.0.tgz");
    let integrity = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball))
    };
    let packument = json!({
        "name": name,
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {
            "name": name,
            "version": "1.0.0",
            "dist": {
                "tarball": format!("http://127.0.0.1:{}{tarball_path}", s.http_port),
                "integrity": format!("sha512-{integrity}"),
            },
        }},
    });
    s.add(
        &format!("/{name}"),
        "application/json",
        packument.to_string().into_bytes(),
    );
    s.add(&tarball_path, "application/octet-stream", tarball);
    let wheel_name = "cordon_egress_probe-1.0.0-py3-none-any.whl";
    let wheel = std::fs::read(data.join(wheel_name)).unwrap();
    let digest = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&wheel)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let index = format!(
        "<!DOCTYPE html><html><body><a href=\"/files/{wheel_name}#sha256={digest}\">{wheel_name}</a></body></html>"
    );
    s.add(&format!("/simple/{name}/"), "text/html", index.into_bytes());
    s.add(
        &format!("/files/{wheel_name}"),
        "application/octet-stream",
        wheel,
    );
}

#[test]
fn a_listed_npm_install_and_pip_install_run_with_a_checkpoint_through_the_hook() {
    let Some(setup) = Setup::new() else { return };
    cordon_testkit::require(
        Command::new("npm")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "npm on PATH",
        "apt-get install npm, or run scripts/test",
    );
    cordon_testkit::require(
        Command::new("pip")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "pip on PATH",
        "apt-get install python3-pip, or run scripts/test",
    );
    let s = Servers::start(Files::new());
    registries(&s);
    // The person accepts the registries into the home's policy, as `policy hosts --detect`
    // proposes them (here a local registry, listed by its address).
    let out = setup.cordon(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let policy_path = setup.cordon_home().join("policy.yaml");
    let registry = format!("127.0.0.1:{}", s.http_port);
    let mut policy = std::fs::read_to_string(&policy_path).unwrap();
    for rule in ["npm-install", "pip-install"] {
        policy = pack_with_hosts(&policy, rule, std::slice::from_ref(&registry));
    }
    std::fs::write(&policy_path, policy).unwrap();
    let ws = setup.ws();
    std::fs::write(
        ws.join("package.json"),
        r#"{"name": "ws", "version": "1.0.0", "dependencies": {"cordon-egress-probe": "1.0.0"}}"#,
    )
    .unwrap();
    std::fs::write(
        ws.join(".npmrc"),
        format!(
            "registry=http://{registry}/\ncache={}/.npm-cache\naudit=false\nfund=false\nupdate-notifier=false\n",
            ws.display()
        ),
    )
    .unwrap();
    std::fs::write(
        ws.join("requirements.txt"),
        format!("--index-url http://{registry}/simple/\n--trusted-host {registry}\ncordon-egress-probe==1.0.0\n"),
    )
    .unwrap();

    let installs = [
        (
            "npm install",
            ws.join("node_modules/cordon-egress-probe/package.json"),
        ),
        (
            "pip install --no-deps --disable-pip-version-check -r requirements.txt --target vendor",
            ws.join("vendor/cordon_egress_probe"),
        ),
    ];
    for (text, installed) in &installs {
        // The control first: a hook installed for local runs enforces no list, so it asks.
        let (verdict, rewritten) = hook_bash(&setup, text, &["--mode", "local"]);
        assert_eq!((verdict.as_str(), &rewritten), ("ask", &None), "{text}");

        let (verdict, rewritten) = hook_bash(&setup, text, &[]);
        assert_eq!(verdict, "allow", "{text}");
        let rewritten = rewritten.unwrap_or_else(|| panic!("{text}: no rewrite"));
        let out = run_rewritten(&setup, &rewritten);
        assert_eq!(out.status.code(), Some(0), "{text}: {}", describe(&out));
        assert!(
            installed.exists(),
            "{text}: {} missing",
            installed.display()
        );

        let (record, receipt) = exec_evidence(&setup, text);
        assert_eq!(record["outcome"], "allow_with_checkpoint", "{record}");
        assert_eq!(
            record["details"]["egress"]["allowlist"],
            json!([registry]),
            "{record}"
        );
        assert_eq!(receipt["status"], "success", "{receipt}");
        assert!(
            receipt["x-cordon"]["checkpoint"]["id"].is_string(),
            "{receipt}"
        );
        let all = connections(&receipt);
        assert!(!all.is_empty(), "{text}: no connection recorded");
        for c in &all {
            assert_eq!(
                (&c["verdict"], &c["host"], &c["port"]),
                (&json!("allowed"), &json!("127.0.0.1"), &json!(s.http_port)),
                "{text}: {c}"
            );
        }
    }

    // The same install from an index not on the list: the hook allows the command (the rule
    // grants the listed hosts, whatever the command names), and the proxy refuses the unlisted
    // address, here a second loopback server on a port the list does not name.
    let unlisted = Servers::start(Files::new());
    registries(&unlisted);
    let elsewhere = format!("127.0.0.1:{}", unlisted.http_port);
    std::fs::write(
        ws.join("requirements-mirror.txt"),
        format!("--index-url http://{elsewhere}/simple/\n--trusted-host {elsewhere}\ncordon-egress-probe==1.0.0\n"),
    )
    .unwrap();
    let text = "pip install --no-deps --disable-pip-version-check --retries 0 -r requirements-mirror.txt --target mirrored";
    let (verdict, rewritten) = hook_bash(&setup, text, &[]);
    assert_eq!(verdict, "allow", "{text}");
    let out = run_rewritten(&setup, &rewritten.unwrap());
    assert_eq!(
        out.status.code(),
        Some(1),
        "pip's failure: {}",
        describe(&out)
    );
    // pip turns the proxy's 403 for the index page into "no versions"; the receipt below says why.
    assert!(
        text_of(&out).contains("No matching distribution found for cordon-egress-probe==1.0.0"),
        "{}",
        describe(&out)
    );
    assert!(!ws.join("mirrored").join("cordon_egress_probe").exists());
    assert_eq!(unlisted.hits(), 0, "an unlisted address reached its server");
    let (record, receipt) = exec_evidence(&setup, text);
    assert_eq!(record["outcome"], "allow_with_checkpoint", "{record}");
    assert_eq!(receipt["status"], "failed", "{receipt}");
    let all = connections(&receipt);
    assert!(!all.is_empty(), "no connection recorded: {receipt}");
    for c in &all {
        assert_eq!(
            (&c["verdict"], &c["host"], &c["port"], &c["code"]),
            (
                &json!("refused"),
                &json!("127.0.0.1"),
                &json!(unlisted.http_port),
                &json!("ip_literal_not_listed")
            ),
            "{c}"
        );
    }

    // A publish still asks, whatever the list.
    let (verdict, _) = hook_bash(&setup, "npm publish", &[]);
    assert_eq!(verdict, "ask");
}

/// What a command printed on both streams.
fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}
