//! A temporary cordon home with two trusted approvers (alice: the home's key; bob: a key of his
//! own), a policy that asks before running `echo`, and helpers to run cordon in it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        let home = Home {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(home.ws()).unwrap();
        home.ok(&[
            "keygen",
            "--out-dir",
            home.path("home/keys").to_str().unwrap(),
            "--key-id",
            "alice-key",
        ]);
        home.ok(&[
            "keygen",
            "--out-dir",
            home.path("bob").to_str().unwrap(),
            "--key-id",
            "bob-key",
        ]);
        home.ok(&[
            "keygen",
            "--out-dir",
            home.path("mallory").to_str().unwrap(),
            "--key-id",
            "mallory-key",
        ]);
        home.ok(&["approvals", "trust", "alice"]);
        home.ok(&[
            "approvals",
            "trust",
            "bob",
            "--public-key",
            home.path("bob/bob-key.pub").to_str().unwrap(),
        ]);
        home.write_policy();
        home
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn p(&self, relative: &str) -> String {
        self.path(relative).display().to_string()
    }

    pub fn ws(&self) -> PathBuf {
        self.path("ws")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
        c.args(args)
            .env("CORDON_HOME", self.path("home"))
            .env_remove("CORDON_APPROVAL_TIMEOUT")
            .env_remove("CORDON_JOURNAL")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "cordon {args:?}: {}",
            text(&out.stderr)
        );
        out
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn write_policy(&self) {
        let ws = self.ws().display().to_string();
        let p = json!({
            "policy_schema_version": "csc.policy.v0.1",
            "name": "approval-test",
            "allow_commands": ["echo"],
            "allowed_effect_types": ["observe"],
            "allowed_risk_classes": ["low"],
            "max_timeout_sec": 30,
            "network": "deny",
            "allow_secret_refs": false,
            "require_write_paths_empty": true,
            "allowed_cwd_prefixes": [ws],
            "allowed_read_prefixes": [ws],
            "allowed_write_prefixes": [ws]
        });
        std::fs::write(self.path("policy.json"), p.to_string()).unwrap();
    }

    /// A contract the policy allows only with approval (`human_required`, or
    /// `dual_control_required` when `dual`), running `echo WORDS…`.
    pub fn contract(&self, name: &str, words: &[&str], dual: bool) -> String {
        let ws = self.ws().display().to_string();
        let mut argv = vec!["echo"];
        argv.extend_from_slice(words);
        let c = json!({
            "version": "csc.v0.1",
            "contract_id": format!("c_{name}_contract"),
            "intent": "approval test",
            "actor": {"agent_id": "agent", "session_id": "session-1", "initiating_user": "u", "delegation_scope": "d"},
            "commands": [{
                "id": "cmd_1",
                "exec": {"argv": argv},
                "cwd": ws,
                "read_paths": [format!("{ws}/**")],
                "write_paths": [],
                "network": "deny",
                "env_allow": [],
                "secret_refs": [],
                "timeout_sec": 10,
                "proposed_effect_type": "observe"
            }],
            "risk_class": "low",
            "approval_mode": if dual { "dual_control_required" } else { "human_required" },
            "expected_outputs": [],
            "justification": "approval test"
        });
        let path = self.path(&format!("{name}.json"));
        std::fs::write(&path, c.to_string()).unwrap();
        path.display().to_string()
    }

    /// Pending requests, as `cordon approvals list --json` prints them.
    pub fn pending(&self) -> Vec<Value> {
        let out = self.ok(&["approvals", "list", "--json"]);
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }

    /// Waits until exactly one request is pending and returns its id.
    pub fn wait_for_request(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let pending = self.pending();
            if let Some(r) = pending.first() {
                return r["id"].as_str().unwrap().to_string();
            }
            assert!(Instant::now() < deadline, "no request was filed");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The one private key of alice (the home's key).
    pub fn alice_key(&self) -> PathBuf {
        self.path("home/keys/alice-key.pem")
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn receipt(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Waits for a child with a time limit, so a hang fails the test instead of stalling it.
pub fn wait(child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("cordon did not finish in {limit:?}: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `cordon serve` on a free loopback port; returns the child and the address it printed
/// (with the token). The rest of its stdout is drained so later lines never hit a closed pipe.
pub fn serve(home: &Home) -> (Child, String) {
    use std::io::BufRead as _;
    let mut child = home.spawn(&["serve", "--listen", "127.0.0.1:0"]);
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("?token="))
                .map(str::to_string)
        })
        .expect("cordon serve printed no address");
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}
