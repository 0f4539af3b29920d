//! One test suite for every approval store: each case runs against the embedded SQLite store and
//! against PostgreSQL (`sqlite::…` and `postgres::…`), so the two cannot drift apart.
//!
//! The PostgreSQL cases need a server: `export CORDON_TEST_PG_URL=$(scripts/pg-test-server)`.
//! Without it they fail with a sentence saying so. Each case gets its own database (created from
//! that URL and dropped afterwards), or its own SQLite file.
//!
//! "Machines" are store handles opened under different machine names on one database; the race
//! runs six separate processes (this test binary started again as a child) on three machines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cordon_approval::store::NewRequest;
use cordon_approval::{
    ApprovalError, ApprovalStore, ApproverRing, Grant, PgStore, RequestState, Scope,
    SignedApproval, StoreLocation,
};
use cordon_core::approval::ApprovalMethod;
use cordon_core::Contract;
use cordon_pg::Timeouts;
use ed25519_dalek::SigningKey;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::json;
use time::OffsetDateTime;

const PG_URL_VAR: &str = "CORDON_TEST_PG_URL";
const CHILD_VAR: &str = "CORDON_STORE_SUITE_CHILD";

// ---- fixtures -----------------------------------------------------------------------------------

fn contract() -> Contract {
    let value = json!({
        "version": "csc.v0.1",
        "contract_id": "c_git_push",
        "intent": "test",
        "actor": {"agent_id": "a", "session_id": "s1", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "cmd_1", "exec": {"argv": ["git", "push"]}, "cwd": "/repo",
            "read_paths": ["/repo/**"], "write_paths": [], "network": "deny", "env_allow": [],
            "secret_refs": [], "timeout_sec": 10, "proposed_effect_type": "transform_local"
        }],
        "risk_class": "medium", "approval_mode": "human_required", "expected_outputs": [],
        "justification": "test"
    });
    Contract::parse(value.to_string().as_bytes()).unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn ring() -> ApproverRing {
    let mut ring = ApproverRing::default();
    ring.insert("alice", key(1).verifying_key()).unwrap();
    ring.insert("bob", key(2).verifying_key()).unwrap();
    ring
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn unix_now() -> i64 {
    now().unix_timestamp()
}

fn new_request(required: u32, deadline: i64) -> NewRequest {
    let c = contract();
    NewRequest {
        contract: serde_json::to_value(&c).unwrap(),
        contract_sha256: c.sha256(),
        session_id: "s1".into(),
        summary: json!([{"line": "git push", "cwd": "/repo", "network": "deny"}]),
        reason: "pushes".into(),
        required_approvers: required,
        deadline,
    }
}

/// A signed answer by `who` (seed `seed`) to `request_id`, and its verification.
fn answer(
    who: &str,
    seed: u8,
    request_id: Option<&str>,
    scope: Scope,
) -> (SignedApproval, cordon_approval::artifact::Verified) {
    let c = contract();
    let grant = Grant {
        identity: who.into(),
        method: ApprovalMethod::Cli,
        contract_sha256: c.sha256(),
        scope,
        approved_at: now(),
        expires_at: now() + time::Duration::minutes(10),
        request_id: request_id.map(str::to_string),
        reason: None,
    };
    let signed = SignedApproval::sign(&grant, &key(seed)).unwrap();
    let verified = signed.verify(&ring(), &c, &c.sha256(), now()).unwrap();
    (signed, verified)
}

// ---- backends -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One database for one case, removed when dropped.
struct Db {
    location: StoreLocation,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl Db {
    fn fresh(backend: Backend) -> Result<Db, Failed> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Ok(Db {
                    location: StoreLocation::Sqlite(dir.path().join("state/approvals.db")),
                    _dir: Some(dir),
                    drop_pg: None,
                })
            }
            Backend::Postgres => {
                let admin = pg_admin_url()?;
                let name = format!("cordon_t_{}", cordon_approval::artifact::random_hex(6));
                admin_sql(&admin, &format!("CREATE DATABASE {name}"))
                    .map_err(|e| format!("{PG_URL_VAR}: {e}"))?;
                Ok(Db {
                    location: StoreLocation::Postgres(with_database(&admin, &name)),
                    _dir: None,
                    drop_pg: Some((admin, name)),
                })
            }
        }
    }

    fn open(&self, machine: &str) -> Box<dyn ApprovalStore> {
        self.location.open(machine).unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.drop_pg {
            let _ = admin_sql(
                admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

/// Runs one statement on the test server's administrative connection.
fn admin_sql(url: &str, sql: &str) -> Result<(), cordon_pg::DbError> {
    let mut db = cordon_pg::Database::connect(url, "test", "cordon-tests", Timeouts::default())?;
    db.run("run an administrative statement", |c| {
        Box::pin(async move { c.batch_execute(sql).await })
    })
}

fn pg_admin_url() -> Result<String, Failed> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => Err(format!(
            "{PG_URL_VAR} is not set, so the PostgreSQL store cannot be tested: start a test server with `export {PG_URL_VAR}=$(scripts/pg-test-server)`"
        )
        .into()),
    }
}

/// The same URL naming another database.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _) = base.rsplit_once('/').unwrap();
    if query.is_empty() {
        format!("{server}/{db}")
    } else {
        format!("{server}/{db}?{query}")
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---- cases --------------------------------------------------------------------------------------

/// Pending → approved (two distinct approvers) → consumed; an unanswered request expires.
fn lifecycle_and_expiry(db: &Db) {
    let mut store = db.open("a");
    let id = store.file_request(&new_request(2, 100), 10).unwrap();
    let (s1, v1) = answer("alice", 1, Some(&id), Scope::Once);
    assert_eq!(
        store.answer(&id, &s1, &v1, 20).unwrap(),
        RequestState::Pending
    );
    // The same approver again does not make two.
    let (s1b, v1b) = answer("alice", 1, Some(&id), Scope::Once);
    assert!(matches!(
        store.answer(&id, &s1b, &v1b, 21).unwrap_err(),
        ApprovalError::NotDistinct(_)
    ));
    let (s2, v2) = answer("bob", 2, Some(&id), Scope::Once);
    assert_eq!(
        store.answer(&id, &s2, &v2, 22).unwrap(),
        RequestState::Approved
    );
    assert_eq!(store.answers(&id).unwrap(), vec![s1, s2]);
    let sha = contract().sha256();
    store
        .consume(&[v1.clone(), v2.clone()], &sha, Some(&id), "t", 23)
        .unwrap();
    assert_eq!(
        store.request(&id, 24).unwrap().unwrap().state,
        RequestState::Consumed
    );
    assert!(matches!(
        store
            .consume(&[v1, v2], &sha, Some(&id), "t", 25)
            .unwrap_err(),
        ApprovalError::Replayed(_)
    ));
    // No answer means deny: past its deadline a request expires and takes no answer.
    let late = store.file_request(&new_request(1, 100), 10).unwrap();
    assert_eq!(
        store.request(&late, 50).unwrap().unwrap().state,
        RequestState::Pending
    );
    assert_eq!(
        store.request(&late, 101).unwrap().unwrap().state,
        RequestState::Expired
    );
    let (s3, v3) = answer("alice", 1, Some(&late), Scope::Once);
    assert!(store.answer(&late, &s3, &v3, 102).is_err());
}

/// A denial names who denied and why; a denied request takes no approval.
fn denial_and_notification(db: &Db) {
    let mut store = db.open("a");
    let id = store
        .file_request(&new_request(1, i64::MAX / 2), 10)
        .unwrap();
    store.mark_notified(&id, 11).unwrap();
    store.deny(&id, "carol", "not today", 12).unwrap();
    let r = store.request(&id, 13).unwrap().unwrap();
    assert_eq!(
        (
            r.state,
            r.answered_by.as_deref(),
            r.answer_reason.as_deref(),
            r.notified_at
        ),
        (
            RequestState::Denied,
            Some("carol"),
            Some("not today"),
            Some(11)
        )
    );
    let (s, v) = answer("alice", 1, Some(&id), Scope::Once);
    assert!(store.answer(&id, &s, &v, 14).is_err());
    assert!(store.deny(&id, "carol", "again", 15).is_err());
    // Positive control: expiring a pending request by hand works.
    let other = store
        .file_request(&new_request(1, i64::MAX / 2), 10)
        .unwrap();
    store.expire(&other).unwrap();
    assert_eq!(
        store.request(&other, 16).unwrap().unwrap().state,
        RequestState::Expired
    );
}

/// Single use survives a new handle (another process, a restart); reusable scopes log uses.
fn single_use_across_handles(db: &Db) {
    let sha = contract().sha256();
    let (_, once) = answer("alice", 1, None, Scope::Once);
    db.open("a")
        .consume(std::slice::from_ref(&once), &sha, None, "t", 1)
        .unwrap();
    let mut reopened = db.open("b");
    assert!(matches!(
        reopened
            .consume(std::slice::from_ref(&once), &sha, None, "t", 2)
            .unwrap_err(),
        ApprovalError::Replayed(_)
    ));
    assert!(reopened.is_consumed(&once.approval_id).unwrap());
    let (signed, window) = answer("alice", 1, None, Scope::Window);
    reopened.add_standing(&signed, &window, 3).unwrap();
    assert_eq!(db.open("c").standing().unwrap(), vec![signed]);
    reopened
        .consume(std::slice::from_ref(&window), &sha, None, "t", 3)
        .unwrap();
    reopened.consume(&[window], &sha, None, "t", 4).unwrap();
    // A single-use approval is not a standing one.
    let (s, v) = answer("bob", 2, None, Scope::Once);
    assert!(reopened.add_standing(&s, &v, 5).is_err());
}

/// Machine A files, machine B sees it with A's name, machine C approves, A consumes.
fn three_machines_one_database(db: &Db) {
    let (mut a, mut b, mut c) = (db.open("laptop-a"), db.open("ci-b"), db.open("vm-c"));
    let t = unix_now();
    let id = a.file_request(&new_request(1, t + 600), t).unwrap();
    let own = b.file_request(&new_request(1, t + 600), t).unwrap();
    let seen = c.requests(true, 50, t).unwrap();
    let machines: Vec<(&str, &str)> = seen
        .iter()
        .map(|r| (r.id.as_str(), r.machine.as_str()))
        .collect();
    assert!(
        machines.contains(&(id.as_str(), "laptop-a")),
        "{machines:?}"
    );
    assert!(machines.contains(&(own.as_str(), "ci-b")), "{machines:?}");
    let (signed, verified) = answer("alice", 1, Some(&id), Scope::Once);
    assert_eq!(
        c.answer(&id, &signed, &verified, t).unwrap(),
        RequestState::Approved
    );
    // A, polling, finds the answer, verifies it again and uses it.
    let request = a.request(&id, t).unwrap().unwrap();
    assert_eq!(
        (request.state, request.machine.as_str()),
        (RequestState::Approved, "laptop-a")
    );
    let c_ = contract();
    let answers: Vec<_> = a
        .answers(&id)
        .unwrap()
        .iter()
        .map(|s| s.verify(&ring(), &c_, &c_.sha256(), now()).unwrap())
        .collect();
    a.consume(&answers, &c_.sha256(), Some(&id), "laptop-a pid 1", t)
        .unwrap();
    assert_eq!(
        b.request(&id, t).unwrap().unwrap().state,
        RequestState::Consumed
    );
    // B cannot use the same answer for its own run.
    assert!(matches!(
        b.consume(&answers, &c_.sha256(), None, "ci-b pid 2", t)
            .unwrap_err(),
        ApprovalError::Replayed(_)
    ));
}

/// Eight threads, each with its own handle, race for one approval: exactly one wins.
fn threads_race_for_one_approval(db: &Db) {
    let (_, v) = answer("alice", 1, None, Scope::Once);
    let sha = contract().sha256();
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|n| {
                let (v, sha, mut store) = (v.clone(), sha.clone(), db.open(&format!("m{n}")));
                scope.spawn(move || store.consume(&[v], &sha, None, &format!("t{n}"), 1))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, ApprovalError::Replayed(_))));
}

/// Six processes on three machines race for one approved request: exactly one uses it, the other
/// five are refused as replays.
fn six_processes_race(db: &Db) {
    let t = unix_now();
    let mut filer = db.open("machine-0");
    let id = filer.file_request(&new_request(1, t + 600), t).unwrap();
    let (signed, verified) = answer("alice", 1, Some(&id), Scope::Once);
    filer.answer(&id, &signed, &verified, t).unwrap();
    let location = match &db.location {
        StoreLocation::Sqlite(p) => format!("sqlite:{}", p.display()),
        StoreLocation::Postgres(u) => u.clone(),
    };
    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..6)
        .map(|n| {
            Command::new(&exe)
                .env(CHILD_VAR, format!("{location}\n{id}\nmachine-{}", n % 3))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Everyone opens its store first, then all are released at once.
    let mut readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    for r in &mut readers {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
    }
    for c in &mut children {
        writeln!(c.stdin.take().unwrap(), "go").unwrap();
    }
    let mut outcomes = Vec::new();
    for (c, mut r) in children.into_iter().zip(readers) {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let status = c.wait_with_output().unwrap().status;
        assert!(status.success(), "a racer failed: {status}");
        outcomes.push(line.trim().to_string());
    }
    let won = outcomes.iter().filter(|o| *o == "won").count();
    let replayed = outcomes
        .iter()
        .filter(|o| {
            o.starts_with("refused: approval apr_")
                && o.ends_with("was already used; a single-use approval cannot be replayed")
        })
        .count();
    assert_eq!((won, replayed), (1, 5), "{outcomes:?}");
    assert_eq!(
        filer.request(&id, t).unwrap().unwrap().state,
        RequestState::Consumed
    );
}

/// The racer: opens the store as its machine, waits for "go", takes the approval, prints the
/// outcome.
fn child(spec: &str) -> ! {
    let mut parts = spec.split('\n');
    let (location, id, machine) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let location = match location.strip_prefix("sqlite:") {
        Some(path) => StoreLocation::Sqlite(path.into()),
        None => StoreLocation::Postgres(location.into()),
    };
    let mut store = location.open(machine).unwrap();
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let c = contract();
    let answers: Vec<_> = store
        .answers(id)
        .unwrap()
        .iter()
        .map(|s| s.verify(&ring(), &c, &c.sha256(), now()).unwrap())
        .collect();
    let consumer = format!("{machine} pid {}", std::process::id());
    match store.consume(&answers, &c.sha256(), Some(id), &consumer, unix_now()) {
        Ok(()) => println!("won"),
        Err(e) => println!("refused: {e}"),
    }
    std::process::exit(0)
}

// ---- PostgreSQL only: the database goes away --------------------------------------------------

/// A waiting run polls its request; the database is stopped mid-wait; the next poll is a denial
/// with one sentence naming the database, not a hang.
fn database_stopped_mid_wait() -> Result<(), Failed> {
    pg_admin_url()?; // the same prerequisite: PostgreSQL is installed and the script works
    let state = tempfile::tempdir().unwrap();
    let script = repo_root().join("scripts/pg-test-server");
    let started = Command::new(&script)
        .args(["start", "--state"])
        .arg(state.path())
        .output()
        .unwrap();
    if !started.status.success() {
        return Err(format!(
            "scripts/pg-test-server could not start a private server: {}",
            String::from_utf8_lossy(&started.stderr)
        )
        .into());
    }
    let url = String::from_utf8(started.stdout)
        .unwrap()
        .trim()
        .to_string();
    let stop = || {
        Command::new(&script)
            .args(["stop", "--state"])
            .arg(state.path())
            .status()
            .unwrap()
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        operation: Duration::from_secs(3),
    };
    let mut store = PgStore::connect_with(&url, "laptop-a", timeouts).unwrap();
    let t = unix_now();
    let id = store.file_request(&new_request(1, t + 600), t).unwrap();
    // Positive control: polling works while the database is up.
    assert_eq!(
        store.request(&id, t).unwrap().unwrap().state,
        RequestState::Pending
    );
    assert!(stop().success());
    let began = Instant::now();
    let err = store.request(&id, t).unwrap_err();
    let waited = began.elapsed();
    let port = url.rsplit_once(':').unwrap().1.split('/').next().unwrap();
    let prefix = format!(
        "the approval database at 127.0.0.1:{port}/postgres could not expire overdue requests: "
    );
    assert!(matches!(err, ApprovalError::Database(_)), "{err:?}");
    assert!(err.to_string().starts_with(&prefix), "{err}");
    assert!(waited < Duration::from_secs(10), "the poll took {waited:?}");
    // And a new handle cannot even connect: also a denial, also quickly.
    let began = Instant::now();
    let err = PgStore::connect_with(&url, "laptop-a", timeouts).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "the approval database at 127.0.0.1:{port}/postgres could not be reached: "
        )),
        "{err}"
    );
    assert!(began.elapsed() < Duration::from_secs(10));
    Ok(())
}

/// A server that accepts the connection and never answers: the connect timeout ends the wait.
fn silent_server_times_out() -> Result<(), Failed> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(5));
        drop(held);
    });
    let url = format!("postgres://cordon:x@127.0.0.1:{port}/postgres");
    let timeouts = Timeouts {
        connect: Duration::from_secs(1),
        operation: Duration::from_secs(1),
    };
    let began = Instant::now();
    let err = PgStore::connect_with(&url, "m", timeouts).unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "{:?}",
        began.elapsed()
    );
    assert!(
        err.to_string().starts_with(&format!(
            "the approval database at 127.0.0.1:{port}/postgres could not be reached: "
        )),
        "{err}"
    );
    holder.join().unwrap();
    Ok(())
}

// ---- harness ------------------------------------------------------------------------------------

/// A named case of the shared suite.
type Case = (&'static str, fn(&Db));

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        child(&spec);
    }
    let args = Arguments::from_args();
    let cases: [Case; 6] = [
        ("lifecycle_and_expiry", lifecycle_and_expiry),
        ("denial_and_notification", denial_and_notification),
        ("single_use_across_handles", single_use_across_handles),
        ("three_machines_one_database", three_machines_one_database),
        (
            "threads_race_for_one_approval",
            threads_race_for_one_approval,
        ),
        ("six_processes_race", six_processes_race),
    ];
    let mut trials = Vec::new();
    for (prefix, backend) in [("sqlite", Backend::Sqlite), ("postgres", Backend::Postgres)] {
        for (name, case) in cases {
            trials.push(Trial::test(format!("{prefix}::{name}"), move || {
                let db = Db::fresh(backend)?;
                case(&db);
                Ok(())
            }));
        }
    }
    trials.push(Trial::test(
        "postgres::database_stopped_mid_wait",
        database_stopped_mid_wait,
    ));
    trials.push(Trial::test(
        "postgres::silent_server_times_out",
        silent_server_times_out,
    ));
    libtest_mimic::run(&args, trials).exit();
}
