//! The witness's PostgreSQL storage (`migrations/V1__witness.sql`, schema `cordon_witness`).
//!
//! A push is stored in one transaction that locks the log's row and checks that its size is still
//! the one the push was checked against: two pushes for one log cannot both land (the second is
//! [`JournalError::Stale`]), and a refused or failed push leaves nothing behind. The entries go in
//! with one `INSERT … SELECT FROM UNNEST(…)` per push, receipts already carrying the agent and
//! command of the decision they link to, so every search is one indexed scan.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cordon_pg::{Client, Database, Op, Timeouts};
use serde::Serialize;

use super::{Accepted, LogState};
use crate::error::JournalError;
use crate::merkle::Hash;

mod embedded {
    refinery::embed_migrations!("migrations");
}

const MIGRATION_TABLE: &str = "cordon_witness_migrations";
/// Advisory lock key serializing migrations ("cordon-w" in ASCII).
const MIGRATION_LOCK: i64 = 0x636f_7264_6f6e_2d77;

/// How long one witness operation may take: a push of 10,000 entries on a loaded machine takes
/// seconds, not minutes.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The witness database.
#[derive(Debug)]
pub struct WitnessDb {
    db: Database,
}

/// What the witness knows of one log, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    pub origin: String,
    pub machine: String,
    pub size: u64,
    /// Standard base64 of the log's current public key.
    pub public_key: String,
    /// The latest cosigned checkpoint.
    pub cosigned: String,
}

/// The questions an auditor asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Commands that ran (receipts), with the agent of their decision.
    Commands,
    /// Decisions that denied.
    Denials,
    /// Decisions that carry an approval, with who approved.
    Approvals,
}

/// A search over the mirror. Every filter is optional; times are RFC 3339, `until` exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub agent: Option<String>,
    pub machine: Option<String>,
    pub approver: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// At most this many hits, newest first (0: 1,000).
    pub limit: u32,
}

/// One entry a search found. `line` is the signed entry itself: the indexed columns only find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    pub machine: String,
    pub origin: String,
    pub index: u64,
    pub kind: String,
    pub at: Option<String>,
    pub agent: Option<String>,
    pub outcome: Option<String>,
    pub command: Option<String>,
    pub approvers: Vec<String>,
    pub line: String,
}

fn hash_of(bytes: &[u8], what: &str) -> Result<Hash, JournalError> {
    bytes
        .try_into()
        .map_err(|_| JournalError::Corrupt(format!("the witness database holds a damaged {what}")))
}

/// How storing a push ended inside its transaction.
enum Stored {
    Done,
    Moved { size: u64, cosigned: String },
}

impl WitnessDb {
    /// Connects and migrates, waiting at most 5 s to connect and [`STORE_TIMEOUT`] for one
    /// operation (storing a push of 10,000 entries is one operation).
    pub fn connect(url: &str) -> Result<WitnessDb, JournalError> {
        WitnessDb::connect_with(
            url,
            Timeouts {
                connect: std::time::Duration::from_secs(5),
                operation: STORE_TIMEOUT,
            },
        )
    }

    pub fn connect_with(url: &str, timeouts: Timeouts) -> Result<WitnessDb, JournalError> {
        let mut db = Database::connect(url, "witness", "cordon-witness", timeouts)?;
        db.migrate(
            embedded::migrations::runner(),
            MIGRATION_TABLE,
            MIGRATION_LOCK,
        )?;
        Ok(WitnessDb { db })
    }

    fn run<'s, T>(
        &'s mut self,
        doing: &str,
        op: impl FnOnce(&'s mut Client) -> Op<'s, T>,
    ) -> Result<T, JournalError> {
        Ok(self.db.run(doing, op)?)
    }

    /// What the witness holds for `origin`, if it has seen it.
    pub fn log_state(&mut self, origin: &str) -> Result<Option<LogState>, JournalError> {
        let row = self.run("read the log's state", |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT machine, public_key, size, root, frontier, last_payload, checkpoint, cosigned
                     FROM cordon_witness.logs WHERE origin = $1",
                    &[&origin],
                )
                .await
            })
        })?;
        let Some(row) = row else {
            return Ok(None);
        };
        let key: Vec<u8> = row.try_get(1).map_err(column_error)?;
        let size: i64 = row.try_get(2).map_err(column_error)?;
        let root: Vec<u8> = row.try_get(3).map_err(column_error)?;
        let frontier: Vec<u8> = row.try_get(4).map_err(column_error)?;
        let last: Option<Vec<u8>> = row.try_get(5).map_err(column_error)?;
        Ok(Some(LogState {
            origin: origin.to_string(),
            machine: row.try_get(0).map_err(column_error)?,
            key: crate::keys::parse_public_key(&key)?,
            size: size as u64,
            root: hash_of(&root, "root")?,
            frontier: frontier
                .chunks(32)
                .map(|c| hash_of(c, "frontier"))
                .collect::<Result<_, _>>()?,
            last_payload: last.map(|l| hash_of(&l, "payload hash")).transpose()?,
            checkpoint: row.try_get(6).map_err(column_error)?,
            cosigned: row.try_get(7).map_err(column_error)?,
        }))
    }

    /// Stores an accepted push whose checks assumed the log had `old_size` entries (`first`: the
    /// log was unknown). Everything or nothing.
    pub fn commit(
        &mut self,
        accepted: &Accepted,
        first: bool,
        old_size: u64,
    ) -> Result<(), JournalError> {
        let mut columns = Columns::of(accepted);
        let stored = self.run("store the push", |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let log_id = match write_log(&tx, &accepted.state, first, old_size).await? {
                    Ok(log_id) => log_id,
                    Err(moved) => return Ok(moved),
                };
                record_cosigned(&tx, log_id, accepted).await?;
                if !columns.idx.is_empty() {
                    columns.link_receipts(&tx, log_id).await?;
                    columns.insert(&tx, log_id).await?;
                }
                tx.commit().await?;
                Ok(Stored::Done)
            })
        })?;
        match stored {
            Stored::Done => Ok(()),
            Stored::Moved { size, cosigned } => Err(JournalError::Stale {
                witnessed_size: size,
                claimed: old_size,
                checkpoint: Some(cosigned),
            }),
        }
    }

    /// Lines `start..end` of `origin`'s mirror, in order; an error unless all of them are there.
    pub fn entries(
        &mut self,
        origin: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<String>, JournalError> {
        let (from, to) = (start as i64, end as i64);
        let lines: Vec<String> = self.run("read the mirror", |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT e.line FROM cordon_witness.entries e
                         JOIN cordon_witness.logs l USING (log_id)
                         WHERE l.origin = $1 AND e.idx >= $2 AND e.idx < $3 ORDER BY e.idx",
                        &[&origin, &from, &to],
                    )
                    .await?;
                rows.iter().map(|r| r.try_get(0)).collect()
            })
        })?;
        if lines.len() as u64 != end.saturating_sub(start) {
            return Err(JournalError::Proof(format!(
                "the witness mirrors {} of entries {start}..{end} of {origin:?}",
                lines.len()
            )));
        }
        Ok(lines)
    }

    /// Refreshes the planner's statistics of the mirror. Autovacuum does this on its own schedule;
    /// right after a bulk load (the first pushes of a fleet) the planner would otherwise not know
    /// the mirror is large and sort every match instead of reading the newest from an index.
    pub fn analyze(&mut self) -> Result<(), JournalError> {
        self.run("refresh its statistics", |c| {
            Box::pin(async move {
                c.batch_execute("ANALYZE cordon_witness.entries; ANALYZE cordon_witness.logs")
                    .await
            })
        })
    }

    /// Every log the witness knows.
    pub fn logs(&mut self) -> Result<Vec<LogSummary>, JournalError> {
        let rows = self.run("list logs", |c| {
            Box::pin(async move {
                c.query(
                    "SELECT origin, machine, size, public_key, cosigned FROM cordon_witness.logs ORDER BY origin",
                    &[],
                )
                .await
            })
        })?;
        rows.iter()
            .map(|r| {
                let key: Vec<u8> = r.try_get(3).map_err(column_error)?;
                Ok(LogSummary {
                    origin: r.try_get(0).map_err(column_error)?,
                    machine: r.try_get(1).map_err(column_error)?,
                    size: r.try_get::<_, i64>(2).map_err(column_error)? as u64,
                    public_key: STANDARD.encode(key),
                    cosigned: r.try_get(4).map_err(column_error)?,
                })
            })
            .collect()
    }

    /// Answers `query` of `kind` from the indexed columns, newest first.
    pub fn query(&mut self, kind: QueryKind, query: &Query) -> Result<Vec<Hit>, JournalError> {
        let filter = match kind {
            QueryKind::Commands => "e.kind = 'receipt'",
            QueryKind::Denials => "e.kind = 'decision' AND e.outcome = 'deny'",
            QueryKind::Approvals => "e.kind = 'decision' AND e.approvers IS NOT NULL",
        };
        let sql = format!(
            "SELECT l.machine, l.origin, e.idx, e.kind,
                    to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    e.actor, e.outcome, e.command, e.approvers, e.line
             FROM cordon_witness.entries e JOIN cordon_witness.logs l USING (log_id)
             WHERE {filter}
               AND ($1::text IS NULL OR e.actor = $1)
               AND ($2::text IS NULL OR l.machine = $2)
               AND ($3::text IS NULL OR e.at >= $3::text::timestamptz)
               AND ($4::text IS NULL OR e.at < $4::text::timestamptz)
               AND ($5::text IS NULL OR ',' || e.approvers || ',' LIKE '%,' || $5 || ',%')
             ORDER BY e.at DESC
             LIMIT $6"
        );
        let limit = i64::from(if query.limit == 0 { 1000 } else { query.limit });
        let rows = self.run("answer the query", |c| {
            Box::pin(async move {
                c.query(
                    &sql,
                    &[
                        &query.agent,
                        &query.machine,
                        &query.since,
                        &query.until,
                        &query.approver,
                        &limit,
                    ],
                )
                .await
            })
        })?;
        rows.iter()
            .map(|r| {
                let approvers: Option<String> = r.try_get(8).map_err(column_error)?;
                Ok(Hit {
                    machine: r.try_get(0).map_err(column_error)?,
                    origin: r.try_get(1).map_err(column_error)?,
                    index: r.try_get::<_, i64>(2).map_err(column_error)? as u64,
                    kind: r.try_get(3).map_err(column_error)?,
                    at: r.try_get(4).map_err(column_error)?,
                    agent: r.try_get(5).map_err(column_error)?,
                    outcome: r.try_get(6).map_err(column_error)?,
                    command: r.try_get(7).map_err(column_error)?,
                    approvers: approvers
                        .map(|a| a.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                    line: r.try_get(9).map_err(column_error)?,
                })
            })
            .collect()
    }
}

/// The log's current size and cosigned checkpoint, for a push that lost a race.
/// Writes the log's row inside `tx` and returns its id: inserted on the log's first push, updated
/// when it still holds `old_size` entries. A log another push moved meanwhile is
/// `Err(Stored::Moved)`, and nothing is written.
async fn write_log(
    tx: &tokio_postgres::Transaction<'_>,
    s: &LogState,
    first: bool,
    old_size: u64,
) -> Result<Result<i64, Stored>, tokio_postgres::Error> {
    let frontier: Vec<u8> = s.frontier.iter().flatten().copied().collect();
    let last = s.last_payload.map(|h| h.to_vec());
    let (key, root) = (s.key.as_bytes().to_vec(), s.root.to_vec());
    let size = s.size as i64;
    if first {
        let inserted = tx
            .query_opt(
                "INSERT INTO cordon_witness.logs (origin, machine, public_key, size,
                    root, frontier, last_payload, checkpoint, cosigned)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (origin) DO NOTHING RETURNING log_id",
                &[
                    &s.origin,
                    &s.machine,
                    &key,
                    &size,
                    &root,
                    &frontier,
                    &last,
                    &s.checkpoint,
                    &s.cosigned,
                ],
            )
            .await?;
        return match inserted {
            Some(row) => Ok(Ok(row.try_get(0)?)),
            None => Ok(Err(moved(tx, &s.origin).await?)),
        };
    }
    let row = tx
        .query_one(
            "SELECT log_id, size FROM cordon_witness.logs WHERE origin = $1 FOR UPDATE",
            &[&s.origin],
        )
        .await?;
    if row.try_get::<_, i64>(1)? != old_size as i64 {
        return Ok(Err(moved(tx, &s.origin).await?));
    }
    let log_id: i64 = row.try_get(0)?;
    tx.execute(
        "UPDATE cordon_witness.logs SET public_key = $2, size = $3, root = $4,
            frontier = $5, last_payload = $6, checkpoint = $7, cosigned = $8,
            updated_at = now()
         WHERE log_id = $1",
        &[
            &log_id,
            &key,
            &size,
            &root,
            &frontier,
            &last,
            &s.checkpoint,
            &s.cosigned,
        ],
    )
    .await?;
    Ok(Ok(log_id))
}

/// Records the cosigned checkpoint of an accepted push, and its key rotation if it had one.
async fn record_cosigned(
    tx: &tokio_postgres::Transaction<'_>,
    log_id: i64,
    accepted: &Accepted,
) -> Result<(), tokio_postgres::Error> {
    let s = &accepted.state;
    tx.execute(
        "INSERT INTO cordon_witness.checkpoints (log_id, size, cosigned)
         VALUES ($1, $2, $3)
         ON CONFLICT (log_id, size) DO UPDATE SET cosigned = EXCLUDED.cosigned,
            accepted_at = now()",
        &[&log_id, &(s.size as i64), &s.cosigned],
    )
    .await?;
    if let Some(r) = &accepted.rotation {
        tx.execute(
            "INSERT INTO cordon_witness.rotations (log_id, at_size, old_key, new_key, statement)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &log_id,
                &(r.at_size as i64),
                &r.old_key.as_bytes().to_vec(),
                &r.new_key.as_bytes().to_vec(),
                &r.statement,
            ],
        )
        .await?;
    }
    Ok(())
}

/// A column that could not be read as the type it should hold.
fn column_error(e: tokio_postgres::Error) -> JournalError {
    JournalError::Database(e.to_string())
}

async fn moved(
    tx: &tokio_postgres::Transaction<'_>,
    origin: &str,
) -> Result<Stored, tokio_postgres::Error> {
    let row = tx
        .query_one(
            "SELECT size, cosigned FROM cordon_witness.logs WHERE origin = $1",
            &[&origin],
        )
        .await?;
    Ok(Stored::Moved {
        size: row.try_get::<_, i64>(0)? as u64,
        cosigned: row.try_get(1)?,
    })
}

/// The mirror rows of a push, column by column, for one `UNNEST` insert.
struct Columns {
    idx: Vec<i64>,
    line: Vec<String>,
    kind: Vec<String>,
    at: Vec<Option<String>>,
    actor: Vec<Option<String>>,
    session_id: Vec<Option<String>>,
    outcome: Vec<Option<String>>,
    command: Vec<Option<String>>,
    approvers: Vec<Option<String>>,
    record_id: Vec<Option<String>>,
    contract_sha256: Vec<Option<String>>,
}

impl Columns {
    fn of(accepted: &Accepted) -> Columns {
        let rows = &accepted.rows;
        Columns {
            idx: rows.iter().map(|r| r.index as i64).collect(),
            line: rows.iter().map(|r| r.line.clone()).collect(),
            kind: rows.iter().map(|r| r.kind.to_string()).collect(),
            at: rows.iter().map(|r| r.at.clone()).collect(),
            actor: rows.iter().map(|r| r.actor.clone()).collect(),
            session_id: rows.iter().map(|r| r.session_id.clone()).collect(),
            outcome: rows.iter().map(|r| r.outcome.clone()).collect(),
            command: rows.iter().map(|r| r.command.clone()).collect(),
            approvers: rows.iter().map(|r| r.approvers.clone()).collect(),
            record_id: rows.iter().map(|r| r.record_id.clone()).collect(),
            contract_sha256: rows.iter().map(|r| r.contract_sha256.clone()).collect(),
        }
    }

    /// Gives each receipt the agent, session and command text of the decision it links to: from
    /// this push when the decision is in it, else from the mirror (one query for all of those).
    async fn link_receipts(
        &mut self,
        tx: &tokio_postgres::Transaction<'_>,
        log_id: i64,
    ) -> Result<(), tokio_postgres::Error> {
        let mut decisions: std::collections::HashMap<String, usize> = Default::default();
        let mut missing: Vec<String> = Vec::new();
        for i in 0..self.idx.len() {
            let Some(id) = self.record_id[i].clone() else {
                continue;
            };
            if self.kind[i] == "decision" {
                decisions.insert(id, i);
            } else if self.kind[i] == "receipt" && !decisions.contains_key(&id) {
                missing.push(id);
            }
        }
        let mut earlier: std::collections::HashMap<String, [Option<String>; 3]> =
            Default::default();
        if !missing.is_empty() {
            let rows = tx
                .query(
                    "SELECT record_id, actor, session_id, command FROM cordon_witness.entries
                     WHERE log_id = $1 AND kind = 'decision' AND record_id = ANY($2)",
                    &[&log_id, &missing],
                )
                .await?;
            for r in rows {
                earlier.insert(r.try_get(0)?, [r.try_get(1)?, r.try_get(2)?, r.try_get(3)?]);
            }
        }
        for i in 0..self.idx.len() {
            if self.kind[i] != "receipt" {
                continue;
            }
            let Some(id) = self.record_id[i].as_deref() else {
                continue;
            };
            let found = match decisions.get(id) {
                Some(&d) => Some([
                    self.actor[d].clone(),
                    self.session_id[d].clone(),
                    self.command[d].clone(),
                ]),
                None => earlier.get(id).cloned(),
            };
            if let Some([actor, session, command]) = found {
                self.actor[i] = actor;
                self.session_id[i] = session;
                if command.is_some() {
                    self.command[i] = command;
                }
            }
        }
        Ok(())
    }

    async fn insert(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        log_id: i64,
    ) -> Result<u64, tokio_postgres::Error> {
        tx.execute(
            "INSERT INTO cordon_witness.entries (log_id, idx, line, kind, at, actor, session_id,
                outcome, command, approvers, record_id, contract_sha256)
             SELECT $1, t.idx, t.line, t.kind, t.at::timestamptz, t.actor, t.session_id,
                t.outcome, t.command, t.approvers, t.record_id, t.contract_sha256
             FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
                  AS t(idx, line, kind, at, actor, session_id, outcome, command, approvers,
                       record_id, contract_sha256)",
            &[
                &log_id,
                &self.idx,
                &self.line,
                &self.kind,
                &self.at,
                &self.actor,
                &self.session_id,
                &self.outcome,
                &self.command,
                &self.approvers,
                &self.record_id,
                &self.contract_sha256,
            ],
        )
        .await
    }
}
