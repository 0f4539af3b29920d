//! Approvals across machines, through the `cordon` binary, with a real PostgreSQL
//! (`export CORDON_TEST_PG_URL=$(scripts/pg-test-server)`): three homes act as three machines
//! sharing one database. A request filed on A is approved from C and runs on A; six processes on
//! three machines race for one approval and exactly one runs; a database stopped mid-wait is a
//! denial; an approver only C trusts authorizes nothing on A; a store setting that is not a
//! PostgreSQL URL, or a database that cannot be reached, is refused in one sentence.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;
mod fleet_support;

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use approval_support::{text, wait, Home};
use fleet_support::{PrivateServer, TeamDb};
use serde_json::Value;

const BLOCKED: i32 = 126;
const INVALID_INPUT: i32 = 65;
const INTERNAL: i32 = 70;

/// How a machine names the team database.
#[derive(Clone, Copy)]
enum Via {
    /// `store_url` in the home's approvals.json.
    Config,
    /// `CORDON_APPROVALS_URL`.
    Env,
}

/// One machine of the team: its own home (keys, policy, journal) and name, the shared database.
struct Machine {
    home: Home,
    name: &'static str,
    env_url: Option<String>,
}

impl Machine {
    fn new(name: &'static str, url: &str, via: Via) -> Machine {
        let home = Home::new();
        let env_url = match via {
            Via::Env => Some(url.to_string()),
            Via::Config => {
                let config = serde_json::json!({ "store_url": url });
                std::fs::write(home.path("home/approvals.json"), config.to_string()).unwrap();
                None
            }
        };
        Machine {
            home,
            name,
            env_url,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.home.command(args);
        c.env("CORDON_MACHINE", self.name);
        match &self.env_url {
            Some(url) => c.env("CORDON_APPROVALS_URL", url),
            None => c.env_remove("CORDON_APPROVALS_URL"),
        };
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{} cordon {args:?}: {}",
            self.name,
            text(&out.stderr)
        );
        out
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn pending(&self) -> Vec<Value> {
        serde_json::from_slice(&self.ok(&["approvals", "list", "--json"]).stdout).unwrap()
    }

    /// Waits until a request is pending in the team's store, as this machine sees it.
    fn wait_for_request(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(r) = self.pending().into_iter().next() {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no request reached {}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Trusts carol, the team's approver, whose key lives in `dir`.
    fn trust(&self, identity: &str, public_key: &str) {
        self.ok(&["approvals", "trust", identity, "--public-key", public_key]);
    }
}

/// A, B and C on one database (A and C through approvals.json, B through the environment), each
/// trusting carol, the team's approver; returns them and carol's private key.
fn team(db: &TeamDb) -> (Machine, Machine, Machine, String) {
    let a = Machine::new("machine-a", &db.url, Via::Config);
    let b = Machine::new("machine-b", &db.url, Via::Env);
    let c = Machine::new("machine-c", &db.url, Via::Config);
    let carol_dir = a.home.p("carol");
    a.ok(&["keygen", "--out-dir", &carol_dir, "--key-id", "carol-key"]);
    let carol_pub = format!("{carol_dir}/carol-key.pub");
    for m in [&a, &b, &c] {
        m.trust("carol", &carol_pub);
    }
    (a, b, c, format!("{carol_dir}/carol-key.pem"))
}

#[test]
fn a_request_filed_on_a_is_approved_from_c_and_runs_on_a() {
    let db = TeamDb::fresh("cordon_fa");
    let (a, b, c, carol) = team(&db);
    let contract = a.home.contract("push", &["approved-from-c"], false);
    let policy = a.home.p("policy.json");
    let child = a.spawn(&["run", &contract, &policy, "--approval-timeout", "60"]);

    // Every machine of the team sees the request, with the machine that filed it.
    let seen_on_c = c.wait_for_request();
    assert_eq!(seen_on_c["machine"], "machine-a");
    let id = seen_on_c["id"].as_str().unwrap().to_string();
    assert_eq!(b.pending()[0]["id"], id.as_str());
    let listing = text(&b.ok(&["approvals", "list"]).stdout);
    assert!(
        listing.contains(&format!("{id}  pending  on machine-a  ")),
        "{listing}"
    );
    // A machine outside the team (the SQLite default) sees nothing.
    let outsider = Home::new();
    let out = outsider
        .command(&["approvals", "list", "--json"])
        .env_remove("CORDON_APPROVALS_URL")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "[]", "{}", text(&out.stderr));

    let answer = c.ok(&["approve", &id, "--key", &carol]);
    assert!(
        text(&answer.stdout).contains("as carol"),
        "{}",
        text(&answer.stdout)
    );
    let out = wait(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("approved-from-c"));
    // Consumed: no machine lists it as pending any more.
    assert!(c.pending().is_empty());
}

#[test]
fn an_approver_only_c_trusts_authorizes_nothing_on_a() {
    let db = TeamDb::fresh("cordon_fa");
    let (a, _b, c, _carol) = team(&db);
    // C's administrator adds mallory to C's approvers; A never trusted her.
    c.trust("mallory", &c.home.p("mallory/mallory-key.pub"));
    let contract = a.home.contract("push", &["must-not-run"], false);
    let policy = a.home.p("policy.json");
    let child = a.spawn(&["run", &contract, &policy, "--approval-timeout", "60"]);
    let id = c.wait_for_request()["id"].as_str().unwrap().to_string();
    c.ok(&[
        "approve",
        &id,
        "--key",
        &c.home.p("mallory/mallory-key.pem"),
    ]);
    let out = wait(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("must-not-run"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("the approval of request {id} does not hold")),
        "{stderr}"
    );
}

#[test]
fn six_processes_on_three_machines_race_for_one_approval_and_exactly_one_runs() {
    let db = TeamDb::fresh("cordon_fa");
    let (a, b, c, carol) = team(&db);
    // One contract and policy every machine can run (the homes share this file system).
    let contract = a.home.contract("race", &["race-run"], false);
    let policy = a.home.p("policy.json");
    let approval = c.home.p("race.approval.json");
    c.ok(&[
        "approve",
        "--contract",
        &contract,
        "--out",
        &approval,
        "--key",
        &carol,
    ]);
    let run = [
        "run",
        contract.as_str(),
        policy.as_str(),
        "--approval-timeout",
        "0",
        "--approval",
        approval.as_str(),
    ];
    let children: Vec<Child> = [&a, &b, &c, &a, &b, &c]
        .iter()
        .map(|m| m.spawn(&run))
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|ch| wait(ch, Duration::from_secs(90)))
        .collect();
    let winners = outputs
        .iter()
        .filter(|o| o.status.code() == Some(0) && text(&o.stdout).contains("race-run"))
        .count();
    let replays = outputs
        .iter()
        .filter(|o| {
            o.status.code() == Some(BLOCKED) && text(&o.stderr).contains("was already used")
        })
        .count();
    assert_eq!(
        (winners, replays),
        (1, 5),
        "{:?}",
        outputs.iter().map(|o| text(&o.stderr)).collect::<Vec<_>>()
    );
}

#[test]
fn stopping_the_database_mid_wait_is_a_denial_not_a_hang() {
    let scratch = tempfile::tempdir().unwrap();
    let server = PrivateServer::start(&scratch.path().join("pg"));
    let a = Machine::new("machine-a", &server.url, Via::Env);
    let contract = a.home.contract("push", &["must-not-run"], false);
    let policy = a.home.p("policy.json");
    let child = a.spawn(&["run", &contract, &policy, "--approval-timeout", "300"]);
    a.wait_for_request();
    let stopped = Instant::now();
    server.stop();
    let out = wait(child, Duration::from_secs(120));
    assert!(
        stopped.elapsed() < Duration::from_secs(90),
        "the run waited {:?} after the database stopped",
        stopped.elapsed()
    );
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("must-not-run"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cordon: blocked: the approval database at 127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn a_store_setting_that_is_not_postgresql_or_a_database_that_is_down_is_refused() {
    let a = Home::new();
    let contract = a.contract("push", &["must-not-run"], false);
    let policy = a.p("policy.json");
    // Positive control: no setting is the embedded SQLite store.
    let out = a
        .command(&["approvals", "list", "--json"])
        .env_remove("CORDON_APPROVALS_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Not a PostgreSQL URL, from the environment: invalid input, never a private fallback.
    let out = a
        .command(&["approvals", "list"])
        .env("CORDON_APPROVALS_URL", "mysql://db.example/approvals")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(INVALID_INPUT),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("CORDON_APPROVALS_URL must be a postgres:// URL"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = a
        .command(&["run", &contract, &policy, "--approval-timeout", "5"])
        .env("CORDON_APPROVALS_URL", "mysql://db.example/approvals")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("must-not-run"));

    // The same in approvals.json.
    std::fs::write(
        a.path("home/approvals.json"),
        r#"{"store_url": "sqlite://elsewhere.db"}"#,
    )
    .unwrap();
    let out = a
        .command(&["approvals", "list"])
        .env_remove("CORDON_APPROVALS_URL")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(INVALID_INPUT),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(a.path("home/approvals.json")).unwrap();

    // A PostgreSQL that does not answer: one sentence naming it, promptly; the run is denied.
    let down = "postgres://cordon:x@127.0.0.1:9/approvals";
    let started = Instant::now();
    let out = a
        .command(&["approvals", "list"])
        .env("CORDON_APPROVALS_URL", down)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(INTERNAL), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("the approval database at 127.0.0.1:9/approvals could not be reached"),
        "{}",
        text(&out.stderr)
    );
    let out = a
        .command(&["run", &contract, &policy, "--approval-timeout", "300"])
        .env("CORDON_APPROVALS_URL", down)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(BLOCKED), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("must-not-run"));
    assert!(started.elapsed() < Duration::from_secs(60));
}
