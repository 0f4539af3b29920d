//! The approval store: the [`ApprovalStore`] trait every backend implements, and the embedded
//! default, one SQLite database (WAL) shared by every cordon process of one machine: the run that
//! waits, the terminal that answers, the web page. A team shares one PostgreSQL database instead
//! ([`crate::pg_store`]); both pass the same test suite (`tests/store_suite.rs`).
//!
//! ```sql
//! requests  (id PK, machine, contract, contract_sha256, session_id, summary, reason,
//!            required_approvers, created_at, deadline, state, answered_by, answer_reason,
//!            answered_at, notified_at)
//! approvals (approval_id PK, nonce UNIQUE, request_id, identity, public_key, scope, single_use,
//!            expires_at, artifact, added_at, UNIQUE(request_id, identity), UNIQUE(request_id, public_key))
//! consumed  (approval_id PK, nonce UNIQUE, contract_sha256, consumed_at, consumer)
//! uses      (approval_id, contract_sha256, used_at, consumer)
//! ```
//!
//! A request is `pending` until it is `approved` (enough distinct approvers answered), `denied`,
//! or `expired` (its deadline passed: no answer means deny), and `consumed` once the waiting run
//! took its approval. Times are Unix seconds. `machine` names the machine whose run filed the
//! request (its host name unless the store was opened under another name).
//!
//! Single use. Consuming runs in one `BEGIN IMMEDIATE` transaction that inserts the approval's
//! id and nonce into `consumed`, whose primary key and unique constraint make a second insert fail:
//! two processes racing for one approval serialize on SQLite's write lock and exactly one commits.
//! Nothing is held in memory, so a restart changes nothing.
//!
//! Migrations are versioned with SQLite's `user_version`: version 1 is the original schema,
//! version 2 adds `requests.machine`.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;

use crate::artifact::{SignedApproval, Verified};
use crate::ApprovalError;

/// Schema version 1 (written with `IF NOT EXISTS`, so a database made before versioning, whose
/// `user_version` is 0, takes it unchanged).
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    contract TEXT NOT NULL,
    contract_sha256 TEXT NOT NULL,
    session_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    reason TEXT NOT NULL,
    required_approvers INTEGER NOT NULL CHECK (required_approvers BETWEEN 1 AND 2),
    created_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','approved','denied','expired','consumed')),
    answered_by TEXT,
    answer_reason TEXT,
    answered_at INTEGER,
    notified_at INTEGER
);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state);
CREATE TABLE IF NOT EXISTS approvals (
    approval_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    request_id TEXT REFERENCES requests(id),
    contract_sha256 TEXT NOT NULL,
    identity TEXT NOT NULL,
    public_key TEXT NOT NULL,
    scope TEXT NOT NULL,
    single_use INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    artifact TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    UNIQUE (request_id, identity),
    UNIQUE (request_id, public_key)
);
CREATE TABLE IF NOT EXISTS consumed (
    approval_id TEXT PRIMARY KEY,
    nonce TEXT NOT NULL UNIQUE,
    contract_sha256 TEXT NOT NULL,
    consumed_at INTEGER NOT NULL,
    consumer TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS uses (
    approval_id TEXT NOT NULL,
    contract_sha256 TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    consumer TEXT NOT NULL
);
";

/// Schema version 2: the machine that filed each request.
const SCHEMA_V2: &str = "ALTER TABLE requests ADD COLUMN machine TEXT NOT NULL DEFAULT '';";

/// The SQLite migrations, in order: version `i + 1` is `SQLITE_MIGRATIONS[i]`.
const SQLITE_MIGRATIONS: [&str; 2] = [SCHEMA_V1, SCHEMA_V2];

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
    Expired,
    Consumed,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Consumed => "consumed",
        }
    }

    fn parse(text: &str) -> Result<RequestState, ApprovalError> {
        Ok(match text {
            "pending" => RequestState::Pending,
            "approved" => RequestState::Approved,
            "denied" => RequestState::Denied,
            "expired" => RequestState::Expired,
            "consumed" => RequestState::Consumed,
            other => {
                return Err(ApprovalError::StoreState(format!(
                    "unknown request state {other:?}"
                )))
            }
        })
    }
}

/// A request for approval, as a person sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub id: String,
    /// The machine whose run filed the request.
    pub machine: String,
    /// The synthesized contract, as JSON.
    pub contract: Value,
    pub contract_sha256: String,
    pub session_id: String,
    /// Per command: `id`, `line`, `argv` (a list of argvs), `cwd`, `read_paths`, `write_paths`,
    /// `network`.
    pub summary: Value,
    /// The policy's reason for asking.
    pub reason: String,
    pub required_approvers: u32,
    pub created_at: i64,
    pub deadline: i64,
    pub state: RequestState,
    pub answered_by: Option<String>,
    pub answer_reason: Option<String>,
    pub notified_at: Option<i64>,
}

/// What a waiting run files.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub contract: Value,
    pub contract_sha256: String,
    pub session_id: String,
    pub summary: Value,
    pub reason: String,
    pub required_approvers: u32,
    pub deadline: i64,
}

/// What every approval store does, whatever holds the state: the operations a waiting run, an
/// approver's terminal and the web page need. Every method is one atomic step in the database;
/// nothing is cached in the handle, so any number of handles (processes, machines) may share one
/// database.
pub trait ApprovalStore: Send {
    /// The name this handle files requests under.
    fn machine(&self) -> &str;
    /// Files a pending request from this machine and returns its id.
    fn file_request(&mut self, new: &NewRequest, now: i64) -> Result<String, ApprovalError>;
    /// One request, after expiring it if its deadline passed.
    fn request(&mut self, id: &str, now: i64) -> Result<Option<Request>, ApprovalError>;
    /// Requests of every machine, newest first: the pending ones only, or the most recent `limit`.
    fn requests(
        &mut self,
        pending_only: bool,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Request>, ApprovalError>;
    /// Pending requests whose deadline passed become `expired`: no answer means deny.
    fn expire_overdue(&mut self, now: i64) -> Result<usize, ApprovalError>;
    /// Marks one request expired (its waiter gave up), if it is still pending or approved.
    fn expire(&mut self, id: &str) -> Result<(), ApprovalError>;
    /// Records that the webhook delivered the request.
    fn mark_notified(&mut self, id: &str, now: i64) -> Result<(), ApprovalError>;
    /// Stores a verified answer; the request becomes `approved` once enough distinct approvers
    /// answered.
    fn answer(
        &mut self,
        request_id: &str,
        signed: &SignedApproval,
        verified: &Verified,
        now: i64,
    ) -> Result<RequestState, ApprovalError>;
    /// Stores a reusable approval given ahead of any request.
    fn add_standing(
        &mut self,
        signed: &SignedApproval,
        verified: &Verified,
        now: i64,
    ) -> Result<(), ApprovalError>;
    /// Denies a pending request.
    fn deny(
        &mut self,
        request_id: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), ApprovalError>;
    /// The signed answers to a request.
    fn answers(&mut self, request_id: &str) -> Result<Vec<SignedApproval>, ApprovalError>;
    /// Reusable approvals; each is verified again before use.
    fn standing(&mut self) -> Result<Vec<SignedApproval>, ApprovalError>;
    /// Uses verified approvals for one execution, atomically: single-use ones are consumed
    /// exactly once across every handle on the database ([`ApprovalError::Replayed`] otherwise),
    /// and the request, if any, goes from `approved` to `consumed`.
    fn consume(
        &mut self,
        approvals: &[Verified],
        contract_sha256: &str,
        request_id: Option<&str>,
        consumer: &str,
        now: i64,
    ) -> Result<(), ApprovalError>;
    /// Whether a single-use approval was consumed.
    fn is_consumed(&mut self, approval_id: &str) -> Result<bool, ApprovalError>;
}

/// The name of this machine: its host name (`/proc/sys/kernel/hostname`), or `localhost` when
/// it cannot be read.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The embedded approval database (SQLite).
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    machine: String,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, in WAL mode, filing requests under this
    /// machine's host name.
    pub fn open(path: &Path) -> Result<Store, ApprovalError> {
        Store::open_as(path, &machine_name())
    }

    /// [`Store::open`], filing requests under `machine`.
    pub fn open_as(path: &Path, machine: &str) -> Result<Store, ApprovalError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| ApprovalError::Io(format!("{}: {e}", parent.display())))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(15))?;
        let mode = wal_mode(&conn)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ApprovalError::StoreState(format!(
                "{}: cannot switch to WAL (journal mode is {mode})",
                path.display()
            )));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")?;
        migrate_sqlite(&conn)?;
        Ok(Store {
            conn,
            machine: machine.to_string(),
        })
    }

    fn artifacts(
        &mut self,
        sql: &str,
        param: Option<&str>,
    ) -> Result<Vec<SignedApproval>, ApprovalError> {
        let mut statement = self.conn.prepare(sql)?;
        let texts: Vec<String> = match param {
            Some(p) => statement
                .query_map([p], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
            None => statement
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?,
        };
        parse_artifacts(&texts)
    }
}

impl ApprovalStore for Store {
    fn machine(&self) -> &str {
        &self.machine
    }

    /// Files a pending request and returns its id.
    fn file_request(&mut self, new: &NewRequest, now: i64) -> Result<String, ApprovalError> {
        let id = new_request_id();
        self.conn.execute(
            "INSERT INTO requests (id, contract, contract_sha256, session_id, summary, reason,
                required_approvers, created_at, deadline, state, machine)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10)",
            params![
                id,
                new.contract.to_string(),
                new.contract_sha256,
                new.session_id,
                new.summary.to_string(),
                new.reason,
                new.required_approvers,
                now,
                new.deadline,
                self.machine,
            ],
        )?;
        Ok(id)
    }

    /// One request, after expiring it if its deadline passed.
    fn request(&mut self, id: &str, now: i64) -> Result<Option<Request>, ApprovalError> {
        self.expire_overdue(now)?;
        self.conn
            .query_row(
                &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"),
                [id],
                row_to_raw,
            )
            .optional()?
            .map(RawRequest::into_request)
            .transpose()
    }

    /// Requests, newest first: the pending ones only, or the most recent `limit` of all.
    fn requests(
        &mut self,
        pending_only: bool,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Request>, ApprovalError> {
        self.expire_overdue(now)?;
        let sql = if pending_only {
            format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE state = 'pending' ORDER BY created_at DESC, id LIMIT ?1")
        } else {
            format!("SELECT {REQUEST_COLUMNS} FROM requests ORDER BY created_at DESC, id LIMIT ?1")
        };
        let mut statement = self.conn.prepare(&sql)?;
        let rows = statement.query_map([limit], row_to_raw)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row?.into_request()?);
        }
        Ok(out)
    }

    /// Pending requests whose deadline passed become `expired`: no answer means deny.
    fn expire_overdue(&mut self, now: i64) -> Result<usize, ApprovalError> {
        Ok(self.conn.execute(
            "UPDATE requests SET state = 'expired' WHERE state = 'pending' AND deadline < ?1",
            [now],
        )?)
    }

    /// Marks one request expired (its waiter gave up), if it is still pending or approved.
    fn expire(&mut self, id: &str) -> Result<(), ApprovalError> {
        self.conn.execute(
            "UPDATE requests SET state = 'expired' WHERE id = ?1 AND state IN ('pending','approved')",
            [id],
        )?;
        Ok(())
    }

    /// Records that the webhook delivered the request.
    fn mark_notified(&mut self, id: &str, now: i64) -> Result<(), ApprovalError> {
        self.conn.execute(
            "UPDATE requests SET notified_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    }

    /// Stores a verified answer to a pending request. The request becomes `approved` once it has
    /// answers from as many distinct approvers (identity and key) as it requires. The same
    /// approver answering twice is refused by the unique constraints.
    fn answer(
        &mut self,
        request_id: &str,
        signed: &SignedApproval,
        verified: &Verified,
        now: i64,
    ) -> Result<RequestState, ApprovalError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE requests SET state = 'expired' WHERE state = 'pending' AND deadline < ?1",
            [now],
        )?;
        let (state, contract_sha256, required): (String, String, u32) = tx
            .query_row(
                "SELECT state, contract_sha256, required_approvers FROM requests WHERE id = ?1",
                [request_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?
            .ok_or_else(|| ApprovalError::StoreState(format!("no request {request_id}")))?;
        check_answerable(request_id, &state, &contract_sha256, signed)?;
        insert_approval(&tx, Some(request_id), signed, verified, now).map_err(|e| {
            if is_constraint(&e) {
                already_answered(request_id, verified)
            } else {
                e.into()
            }
        })?;
        let answered: i64 = tx.query_row(
            "SELECT COUNT(*) FROM approvals WHERE request_id = ?1",
            [request_id],
            |r| r.get(0),
        )?;
        let new_state = state_after(answered, i64::from(required));
        tx.execute(
            "UPDATE requests SET state = ?2,
                answered_by = COALESCE(answered_by || ',', '') || ?3, answered_at = ?4
             WHERE id = ?1",
            params![request_id, new_state.as_str(), verified.identity, now],
        )?;
        tx.commit()?;
        Ok(new_state)
    }

    /// Stores a reusable approval given ahead of any request (window, session, pattern), so later
    /// runs it covers find it.
    fn add_standing(
        &mut self,
        signed: &SignedApproval,
        verified: &Verified,
        now: i64,
    ) -> Result<(), ApprovalError> {
        if verified.single_use {
            return Err(ApprovalError::StoreState(
                "a single-use approval answers a request or travels as a file (--approval)".into(),
            ));
        }
        insert_approval(&self.conn, None, signed, verified, now)?;
        Ok(())
    }

    /// Denies a pending request.
    fn deny(
        &mut self,
        request_id: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), ApprovalError> {
        self.expire_overdue(now)?;
        let changed = self.conn.execute(
            "UPDATE requests SET state = 'denied', answered_by = ?2, answer_reason = ?3, answered_at = ?4
             WHERE id = ?1 AND state IN ('pending','approved')",
            params![request_id, by, reason, now],
        )?;
        if changed == 0 {
            return Err(ApprovalError::StoreState(format!(
                "request {request_id} is not pending (unknown, answered or expired)"
            )));
        }
        Ok(())
    }

    /// The signed answers to a request.
    fn answers(&mut self, request_id: &str) -> Result<Vec<SignedApproval>, ApprovalError> {
        self.artifacts(
            "SELECT artifact FROM approvals WHERE request_id = ?1 ORDER BY rowid",
            Some(request_id),
        )
    }

    /// Reusable approvals (any request or none) that have not expired by their own word; each is
    /// verified again before use.
    fn standing(&mut self) -> Result<Vec<SignedApproval>, ApprovalError> {
        self.artifacts(
            "SELECT artifact FROM approvals WHERE single_use = 0 ORDER BY rowid",
            None,
        )
    }

    /// Uses verified approvals for one execution of `contract_sha256`, atomically: every
    /// single-use approval is consumed (a replay fails with [`ApprovalError::Replayed`] and nothing
    /// is written), every reusable one logs a use, and the request, if any, goes from `approved` to
    /// `consumed` (a request that is no longer approved fails the whole transaction).
    fn consume(
        &mut self,
        approvals: &[Verified],
        contract_sha256: &str,
        request_id: Option<&str>,
        consumer: &str,
        now: i64,
    ) -> Result<(), ApprovalError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for approval in approvals {
            if approval.single_use {
                let inserted = tx.execute(
                    "INSERT INTO consumed (approval_id, nonce, contract_sha256, consumed_at, consumer)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![approval.approval_id, approval.nonce, contract_sha256, now, consumer],
                );
                match inserted {
                    Ok(_) => {}
                    Err(e) if is_constraint(&e) => {
                        return Err(ApprovalError::Replayed(approval.approval_id.clone()))
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                tx.execute(
                    "INSERT INTO uses (approval_id, contract_sha256, used_at, consumer) VALUES (?1, ?2, ?3, ?4)",
                    params![approval.approval_id, contract_sha256, now, consumer],
                )?;
            }
        }
        if let Some(id) = request_id {
            let changed = tx.execute(
                "UPDATE requests SET state = 'consumed' WHERE id = ?1 AND state = 'approved'",
                [id],
            )?;
            if changed == 0 {
                return Err(ApprovalError::StoreState(format!(
                    "request {id} is no longer approved"
                )));
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a single-use approval was consumed.
    fn is_consumed(&mut self, approval_id: &str) -> Result<bool, ApprovalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM consumed WHERE approval_id = ?1",
                [approval_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

/// The columns of `requests` that make a [`RawRequest`], in the order [`raw_request!`] reads them
/// (shared with the PostgreSQL store).
pub(crate) const REQUEST_COLUMNS: &str = "id, contract, contract_sha256, session_id, summary, reason, required_approvers, created_at, deadline, state, answered_by, answer_reason, notified_at, machine";

/// A request as its columns hold it, before its JSON is parsed (shared with the PostgreSQL store).
pub(crate) struct RawRequest {
    pub(crate) id: String,
    pub(crate) machine: String,
    pub(crate) contract: String,
    pub(crate) contract_sha256: String,
    pub(crate) session_id: String,
    pub(crate) summary: String,
    pub(crate) reason: String,
    /// As the column holds it; [`RawRequest::into_request`] refuses a count out of range.
    pub(crate) required_approvers: i32,
    pub(crate) created_at: i64,
    pub(crate) deadline: i64,
    pub(crate) state: String,
    pub(crate) answered_by: Option<String>,
    pub(crate) answer_reason: Option<String>,
    pub(crate) notified_at: Option<i64>,
}

/// Reads a [`RawRequest`] from a row of [`REQUEST_COLUMNS`] with `$row.$get(index)`: each
/// driver (rusqlite, tokio-postgres) names its typed column getter differently.
macro_rules! raw_request {
    ($row:ident . $get:ident) => {
        RawRequest {
            id: $row.$get(0)?,
            contract: $row.$get(1)?,
            contract_sha256: $row.$get(2)?,
            session_id: $row.$get(3)?,
            summary: $row.$get(4)?,
            reason: $row.$get(5)?,
            required_approvers: $row.$get(6)?,
            created_at: $row.$get(7)?,
            deadline: $row.$get(8)?,
            state: $row.$get(9)?,
            answered_by: $row.$get(10)?,
            answer_reason: $row.$get(11)?,
            notified_at: $row.$get(12)?,
            machine: $row.$get(13)?,
        }
    };
}
pub(crate) use raw_request;

fn row_to_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRequest> {
    Ok(raw_request!(r.get))
}

/// A fresh request id.
pub(crate) fn new_request_id() -> String {
    format!("req_{}", crate::artifact::random_hex(8))
}

/// Parses the stored approval artifacts, in their stored order.
pub(crate) fn parse_artifacts(texts: &[String]) -> Result<Vec<SignedApproval>, ApprovalError> {
    texts
        .iter()
        .map(|t| SignedApproval::parse(t.as_bytes()))
        .collect()
}

/// Refuses an answer to a request that is not pending, or that was signed for another request
/// or contract. `state` and `contract_sha256` are the request's, read in the answer's transaction.
pub(crate) fn check_answerable(
    request_id: &str,
    state: &str,
    contract_sha256: &str,
    signed: &SignedApproval,
) -> Result<(), ApprovalError> {
    if state != "pending" {
        return Err(ApprovalError::StoreState(format!(
            "request {request_id} is {state}, not pending"
        )));
    }
    if signed.approval.contract_sha256 != contract_sha256
        || signed.request_id.as_deref() != Some(request_id)
    {
        return Err(ApprovalError::WrongContract(format!(
            "the answer was signed for another request or contract than {request_id}"
        )));
    }
    Ok(())
}

/// The refusal of a second answer from the same approver (identity or key).
pub(crate) fn already_answered(request_id: &str, verified: &Verified) -> ApprovalError {
    ApprovalError::NotDistinct(format!(
        "{} already answered request {request_id}",
        verified.identity
    ))
}

/// Where a request stands once `answered` distinct approvers answered it and it needs `required`.
pub(crate) fn state_after(answered: i64, required: i64) -> RequestState {
    if answered >= required {
        RequestState::Approved
    } else {
        RequestState::Pending
    }
}

impl RawRequest {
    pub(crate) fn into_request(self) -> Result<Request, ApprovalError> {
        let json = |text: &str| {
            serde_json::from_str(text)
                .map_err(|e| ApprovalError::StoreState(format!("request {}: {e}", self.id)))
        };
        let required_approvers = u32::try_from(self.required_approvers).map_err(|_| {
            ApprovalError::StoreState(format!(
                "request {}: required approvers {} out of range",
                self.id, self.required_approvers
            ))
        })?;
        Ok(Request {
            contract: json(&self.contract)?,
            summary: json(&self.summary)?,
            state: RequestState::parse(&self.state)?,
            id: self.id,
            machine: self.machine,
            contract_sha256: self.contract_sha256,
            session_id: self.session_id,
            reason: self.reason,
            required_approvers,
            created_at: self.created_at,
            deadline: self.deadline,
            answered_by: self.answered_by,
            answer_reason: self.answer_reason,
            notified_at: self.notified_at,
        })
    }
}

fn insert_approval(
    conn: &Connection,
    request_id: Option<&str>,
    signed: &SignedApproval,
    verified: &Verified,
    now: i64,
) -> Result<(), rusqlite::Error> {
    let artifact = signed
        .to_json()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    conn.execute(
        "INSERT INTO approvals (approval_id, nonce, request_id, contract_sha256, identity, public_key,
            scope, single_use, expires_at, artifact, added_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            verified.approval_id,
            verified.nonce,
            request_id,
            signed.approval.contract_sha256,
            verified.identity,
            verified.public_key,
            verified.scope,
            verified.single_use,
            verified.expires_at,
            artifact,
            now,
        ],
    )?;
    Ok(())
}

/// Switches the database to WAL. Switching needs a moment of exclusive access, which SQLite does
/// not wait for through the busy handler: several processes creating the store at once retry.
fn wal_mode(conn: &Connection) -> Result<String, ApprovalError> {
    let mut attempts = 0;
    loop {
        let current: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if current.eq_ignore_ascii_case("wal") {
            return Ok(current);
        }
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
            Ok(mode) => return Ok(mode),
            Err(e)
                if attempts < 300
                    && matches!(
                        e.sqlite_error_code(),
                        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    ) =>
            {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Brings the schema to the newest version, one transaction per step, recording each step in
/// `user_version`. Several processes opening a new database at once serialize on the write lock;
/// the loser finds the step done.
fn migrate_sqlite(conn: &Connection) -> Result<(), ApprovalError> {
    for (i, step) in SQLITE_MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        // IMMEDIATE: the write lock is taken before the version is read, so two processes
        // cannot both decide to run the same step.
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let applied = (|| -> Result<(), rusqlite::Error> {
            let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current < version {
                conn.execute_batch(step)?;
                conn.execute_batch(&format!("PRAGMA user_version = {version}"))?;
            }
            conn.execute_batch("COMMIT")
        })();
        if let Err(e) = applied {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
    }
    Ok(())
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}
