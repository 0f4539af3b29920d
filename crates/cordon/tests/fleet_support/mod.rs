//! The team's shared PostgreSQL for the fleet tests: a fresh database per test on the server
//! `CORDON_TEST_PG_URL` names (`export CORDON_TEST_PG_URL=$(scripts/pg-test-server)`), dropped
//! afterwards, and a private server a test may stop.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const PG_URL_VAR: &str = "CORDON_TEST_PG_URL";

/// The test server's administrative URL; a test that needs PostgreSQL fails without it.
pub fn admin_url() -> String {
    std::env::var(PG_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            panic!("{PG_URL_VAR} is not set, so the team set-up cannot be tested: start a test server with `export {PG_URL_VAR}=$(scripts/pg-test-server)`")
        })
}

fn admin_sql(url: &str, sql: &str) {
    let mut db = cordon_pg::Database::connect(url, "test", "cordon-tests", Default::default())
        .unwrap_or_else(|e| panic!("{PG_URL_VAR}: {e}"));
    db.run("run an administrative statement", |c| {
        Box::pin(async move { c.batch_execute(sql).await })
    })
    .unwrap();
}

/// The same URL naming another database.
pub fn with_database(url: &str, db: &str) -> String {
    let base = url.split('?').next().unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    format!("{server}/{db}")
}

/// One database for one test, dropped at the end.
pub struct TeamDb {
    pub url: String,
    admin: String,
    name: String,
}

impl TeamDb {
    pub fn fresh(prefix: &str) -> TeamDb {
        let admin = admin_url();
        let name = format!(
            "{prefix}_{}",
            cordon_approval::artifact::random_hex(6).to_lowercase()
        );
        admin_sql(&admin, &format!("CREATE DATABASE {name}"));
        TeamDb {
            url: with_database(&admin, &name),
            admin,
            name,
        }
    }
}

impl Drop for TeamDb {
    fn drop(&mut self) {
        admin_sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A PostgreSQL server of its own (scripts/pg-test-server with a private state directory), for a
/// test that stops it; stopped and deleted when dropped. It needs the same package the shared
/// server does, so it runs only where `CORDON_TEST_PG_URL` is set.
pub struct PrivateServer {
    state: PathBuf,
    pub url: String,
}

impl PrivateServer {
    pub fn start(state: &Path) -> PrivateServer {
        admin_url();
        let out = Command::new(repo_root().join("scripts/pg-test-server"))
            .args(["start", "--state"])
            .arg(state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/pg-test-server did not start a private server: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PrivateServer {
            state: state.to_path_buf(),
            url: String::from_utf8(out.stdout).unwrap().trim().to_string(),
        }
    }

    pub fn stop(&self) {
        let out = Command::new(repo_root().join("scripts/pg-test-server"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/pg-test-server"))
            .args(["stop", "--state"])
            .arg(&self.state)
            .output();
    }
}
