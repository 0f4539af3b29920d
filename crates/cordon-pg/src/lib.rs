//! PostgreSQL plumbing for cordon's team stores (the shared approval store and the witness), in one
//! place so both fail the same way.
//!
//! The rule they share: **nothing waits forever, and every failure is one sentence.**
//! - Connecting, handshake included, must finish within [`Timeouts::connect`].
//! - Every operation (one statement, or a whole transaction) must finish within
//!   [`Timeouts::operation`], measured by the client: a server that stops answering (stopped,
//!   frozen, partitioned) cannot hold a caller. The server also enforces it (`statement_timeout`,
//!   `lock_timeout`), so a statement the client gave up on does not go on holding locks.
//! - Every error is a [`DbError`], whose text names the database (`host:port/dbname`, never the
//!   password), what could not be done, and why.
//!
//! A [`Database`] is synchronous for its callers: it owns a single-threaded Tokio runtime and a
//! `tokio-postgres` client, and runs each operation to completion (or to its deadline) on it.
//! Operations are written as async blocks over the client, so a transaction is one deadline.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use tokio_postgres;
pub use tokio_postgres::error::SqlState;
pub use tokio_postgres::{Client, Row, Transaction};

/// How long a caller may wait for the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To connect and authenticate.
    pub connect: Duration,
    /// For one operation (a statement or a whole transaction).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            operation: Duration::from_secs(10),
        }
    }
}

/// A database error, as one sentence: "the ROLE database at PLACE could not DOING: WHY".
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {role} database at {place} could not {doing}: {why}")]
pub struct DbError {
    pub role: &'static str,
    pub place: String,
    pub doing: String,
    pub why: String,
    /// The SQLSTATE, when the server refused the statement.
    pub code: Option<SqlState>,
}

/// An operation over the client: an async block that borrows it.
pub type Op<'a, T> = Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + 'a>>;

/// One connection to a PostgreSQL database, used synchronously.
pub struct Database {
    runtime: tokio::runtime::Runtime,
    client: Client,
    place: String,
    role: &'static str,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("role", &self.role)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// `host:port/dbname` of a connection config: what messages name (never the password).
pub fn place_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// The driver's reason, in one line: the server's message, or the error and its cause.
fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl Database {
    /// Connects to `url` (`postgres://user:password@host:port/dbname`). `role` names the database
    /// in messages ("approval", "witness"); `application` is what `pg_stat_activity` shows.
    pub fn connect(
        url: &str,
        role: &'static str,
        application: &str,
        timeouts: Timeouts,
    ) -> Result<Database, DbError> {
        let fail = |place: &str, doing: &str, why: String| DbError {
            role,
            place: place.to_string(),
            doing: doing.to_string(),
            why,
            code: None,
        };
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
            fail(
                "(unparsable URL)",
                "be reached",
                "the URL does not parse (expected postgres://user:password@host:port/dbname)"
                    .into(),
            )
        })?;
        let place = place_of(&config);
        let millis = timeouts.operation.as_millis();
        config
            .application_name(application)
            .connect_timeout(timeouts.connect)
            .tcp_user_timeout(timeouts.operation)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .options(format!(
                "-c statement_timeout={millis} -c lock_timeout={millis} -c idle_in_transaction_session_timeout={}",
                millis.saturating_mul(3)
            ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(&place, "be reached", format!("no async runtime: {e}")))?;
        let connected = runtime.block_on(async {
            tokio::time::timeout(timeouts.connect, config.connect(tokio_postgres::NoTls)).await
        });
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(fail(&place, "be reached", reason(&e))),
            Err(_) => {
                return Err(fail(
                    &place,
                    "be reached",
                    format!(
                        "no answer within {} s",
                        timeouts.connect.as_secs_f64().ceil()
                    ),
                ))
            }
        };
        // The connection task moves the bytes; it runs whenever an operation runs.
        runtime.spawn(connection);
        Ok(Database {
            runtime,
            client,
            place,
            role,
            timeouts,
        })
    }

    /// `host:port/dbname`.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// The error for `doing` with reason `why` (for checks the caller makes on results).
    pub fn error(&self, doing: &str, why: impl Into<String>) -> DbError {
        DbError {
            role: self.role,
            place: self.place.clone(),
            doing: doing.to_string(),
            why: why.into(),
            code: None,
        }
    }

    /// Runs `op` to completion, or fails once [`Timeouts::operation`] has passed. A transaction
    /// the operation opened and did not commit is rolled back.
    pub fn run<'s, T>(
        &'s mut self,
        doing: &str,
        op: impl FnOnce(&'s mut Client) -> Op<'s, T>,
    ) -> Result<T, DbError> {
        let limit = self.timeouts.operation;
        let client: &'s mut Client = &mut self.client;
        let outcome = self
            .runtime
            .block_on(async move { tokio::time::timeout(limit, op(client)).await });
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(DbError {
                role: self.role,
                place: self.place.clone(),
                doing: doing.to_string(),
                why: reason(&e),
                code: e.code().cloned(),
            }),
            Err(_) => Err(DbError {
                role: self.role,
                place: self.place.clone(),
                doing: doing.to_string(),
                why: format!("no answer within {} s", limit.as_secs_f64().ceil()),
                code: None,
            }),
        }
    }

    /// Applies refinery migrations, recorded in `table`, under the advisory lock `lock_key`, so
    /// that several machines starting at once migrate once.
    pub fn migrate(
        &mut self,
        mut runner: refinery::Runner,
        table: &str,
        lock_key: i64,
    ) -> Result<(), DbError> {
        self.run("lock its schema for migration", |c| {
            Box::pin(async move {
                c.execute("SELECT pg_advisory_lock($1)", &[&lock_key])
                    .await
                    .map(|_| ())
            })
        })?;
        let limit = self.timeouts.operation.saturating_mul(6);
        let client = &mut self.client;
        let table = table.to_string();
        let migrated = self.runtime.block_on(async move {
            tokio::time::timeout(
                limit,
                runner.set_migration_table_name(table).run_async(client),
            )
            .await
        });
        let unlocked = self.run("unlock its schema after migration", |c| {
            Box::pin(async move {
                c.execute("SELECT pg_advisory_unlock($1)", &[&lock_key])
                    .await
                    .map(|_| ())
            })
        });
        match migrated {
            Ok(Ok(_)) => unlocked,
            Ok(Err(e)) => Err(self.error("be migrated", e.to_string())),
            Err(_) => Err(self.error(
                "be migrated",
                format!("no answer within {} s", limit.as_secs_f64().ceil()),
            )),
        }
    }
}
