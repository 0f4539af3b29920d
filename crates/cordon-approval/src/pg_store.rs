//! The approval store on PostgreSQL, for a team: every machine's cordon files its requests into
//! one database, any approver sees them all (with the machine that filed each), and a single-use
//! approval is consumed exactly once across every machine.
//!
//! The tables are the SQLite store's, in the schema `cordon_approvals` (`migrations/V1__approvals.sql`,
//! applied by refinery under an advisory lock, so machines starting together migrate once).
//!
//! Concurrency is the database's job, in one transaction per operation:
//! - consuming inserts each single-use approval's id and nonce into `consumed` with
//!   `ON CONFLICT DO NOTHING`; PostgreSQL makes a concurrent insert of the same key wait for the
//!   first transaction and then do nothing, so exactly one consumer across all machines gets a
//!   row and the others get [`ApprovalError::Replayed`];
//! - answering locks the request row (`FOR UPDATE`) before counting answers, so two approvers
//!   answering at once cannot both see one answer and leave a dual-control request pending.
//!
//! Nothing waits forever: connecting gives up after [`Timeouts::connect`] and every operation
//! (a statement, or a whole transaction) after [`Timeouts::operation`], measured by the client
//! (`cordon-pg`). Every database error becomes [`ApprovalError::Database`], one sentence that
//! names the database (never its password) and what could not be done; the caller denies.

pub use cordon_pg::Timeouts;
use cordon_pg::{Client, Database, DbError, Op, SqlState};
use tokio_postgres::Row;

use crate::artifact::{SignedApproval, Verified};
use crate::store::{
    already_answered, check_answerable, new_request_id, parse_artifacts, raw_request, state_after,
    ApprovalStore, NewRequest, RawRequest, Request, RequestState, REQUEST_COLUMNS,
};
use crate::ApprovalError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The table refinery records applied migrations in.
const MIGRATION_TABLE: &str = "cordon_approvals_migrations";
/// Advisory lock key serializing migrations (any constant; "cordon-a" in ASCII).
const MIGRATION_LOCK: i64 = 0x636f_7264_6f6e_2d61;

impl From<DbError> for ApprovalError {
    fn from(e: DbError) -> Self {
        ApprovalError::Database(e.to_string())
    }
}

/// The approval store in a PostgreSQL database.
#[derive(Debug)]
pub struct PgStore {
    db: Database,
    machine: String,
}

fn raw_request(row: &Row) -> Result<RawRequest, tokio_postgres::Error> {
    Ok(raw_request!(row.try_get))
}

/// What an answer transaction found, decided inside the transaction.
enum Answered {
    State(RequestState),
    Refused(ApprovalError),
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/dbname`) with the default timeouts,
    /// migrates the schema, and files requests under `machine`.
    pub fn connect(url: &str, machine: &str) -> Result<PgStore, ApprovalError> {
        PgStore::connect_with(url, machine, Timeouts::default())
    }

    /// [`PgStore::connect`] with explicit timeouts.
    pub fn connect_with(
        url: &str,
        machine: &str,
        timeouts: Timeouts,
    ) -> Result<PgStore, ApprovalError> {
        let mut db = Database::connect(url, "approval", "cordon-approvals", timeouts)?;
        db.migrate(
            embedded::migrations::runner(),
            MIGRATION_TABLE,
            MIGRATION_LOCK,
        )?;
        Ok(PgStore {
            db,
            machine: machine.to_string(),
        })
    }

    fn run<'s, T>(
        &'s mut self,
        doing: &str,
        op: impl FnOnce(&'s mut Client) -> Op<'s, T>,
    ) -> Result<T, ApprovalError> {
        Ok(self.db.run(doing, op)?)
    }

    fn artifacts(
        &mut self,
        doing: &str,
        sql: &'static str,
        request_id: Option<&str>,
    ) -> Result<Vec<SignedApproval>, ApprovalError> {
        let texts: Vec<String> = self.run(doing, |c| {
            Box::pin(async move {
                let rows = match request_id {
                    Some(id) => c.query(sql, &[&id]).await?,
                    None => c.query(sql, &[]).await?,
                };
                rows.iter().map(|r| r.try_get(0)).collect()
            })
        })?;
        parse_artifacts(&texts)
    }
}

impl ApprovalStore for PgStore {
    fn machine(&self) -> &str {
        &self.machine
    }

    fn file_request(&mut self, new: &NewRequest, now: i64) -> Result<String, ApprovalError> {
        let id = new_request_id();
        let required = i32::try_from(new.required_approvers).unwrap_or(i32::MAX);
        let (contract, summary) = (new.contract.to_string(), new.summary.to_string());
        let machine = self.machine.clone();
        let id_ref = &id;
        self.run("file the request", |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO cordon_approvals.requests (id, machine, contract, contract_sha256,
                        session_id, summary, reason, required_approvers, created_at, deadline, state)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending')",
                    &[
                        id_ref,
                        &machine,
                        &contract,
                        &new.contract_sha256,
                        &new.session_id,
                        &summary,
                        &new.reason,
                        &required,
                        &now,
                        &new.deadline,
                    ],
                )
                .await
                .map(|_| ())
            })
        })?;
        Ok(id)
    }

    fn request(&mut self, id: &str, now: i64) -> Result<Option<Request>, ApprovalError> {
        self.expire_overdue(now)?;
        let raw = self.run("read the request", |c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM cordon_approvals.requests WHERE id = $1"
                );
                match c.query_opt(&sql, &[&id]).await? {
                    Some(row) => raw_request(&row).map(Some),
                    None => Ok(None),
                }
            })
        })?;
        raw.map(RawRequest::into_request).transpose()
    }

    fn requests(
        &mut self,
        pending_only: bool,
        limit: u32,
        now: i64,
    ) -> Result<Vec<Request>, ApprovalError> {
        self.expire_overdue(now)?;
        let filter = if pending_only {
            "WHERE state = 'pending'"
        } else {
            ""
        };
        let limit = i64::from(limit);
        let raws = self.run("list requests", |c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {REQUEST_COLUMNS} FROM cordon_approvals.requests {filter}
                     ORDER BY created_at DESC, id LIMIT $1"
                );
                let rows = c.query(&sql, &[&limit]).await?;
                rows.iter().map(raw_request).collect::<Result<Vec<_>, _>>()
            })
        })?;
        raws.into_iter().map(RawRequest::into_request).collect()
    }

    fn expire_overdue(&mut self, now: i64) -> Result<usize, ApprovalError> {
        let n = self.run("expire overdue requests", |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE cordon_approvals.requests SET state = 'expired'
                     WHERE state = 'pending' AND deadline < $1",
                    &[&now],
                )
                .await
            })
        })?;
        Ok(n as usize)
    }

    fn expire(&mut self, id: &str) -> Result<(), ApprovalError> {
        self.run("expire the request", |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE cordon_approvals.requests SET state = 'expired'
                     WHERE id = $1 AND state IN ('pending','approved')",
                    &[&id],
                )
                .await
                .map(|_| ())
            })
        })
    }

    fn mark_notified(&mut self, id: &str, now: i64) -> Result<(), ApprovalError> {
        self.run("record the notification", |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE cordon_approvals.requests SET notified_at = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await
                .map(|_| ())
            })
        })
    }

    fn answer(
        &mut self,
        request_id: &str,
        signed: &SignedApproval,
        verified: &Verified,
        now: i64,
    ) -> Result<RequestState, ApprovalError> {
        let artifact = signed.to_json()?;
        let answered = self.run("record the answer", |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                tx.execute(
                    "UPDATE cordon_approvals.requests SET state = 'expired'
                     WHERE id = $1 AND state = 'pending' AND deadline < $2",
                    &[&request_id, &now],
                )
                .await?;
                // The row lock serializes approvers answering the same request at once.
                let Some(row) = tx
                    .query_opt(
                        "SELECT state, contract_sha256, required_approvers
                         FROM cordon_approvals.requests WHERE id = $1 FOR UPDATE",
                        &[&request_id],
                    )
                    .await?
                else {
                    return Ok(Answered::Refused(ApprovalError::StoreState(format!(
                        "no request {request_id}"
                    ))));
                };
                let (state, contract_sha256, required): (String, String, i32) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                if let Err(refused) = check_answerable(request_id, &state, &contract_sha256, signed)
                {
                    return Ok(Answered::Refused(refused));
                }
                match insert_approval(&tx, Some(request_id), signed, verified, &artifact, now).await
                {
                    Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                        return Ok(Answered::Refused(already_answered(request_id, verified)))
                    }
                    other => other?,
                }
                let answered: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM cordon_approvals.approvals WHERE request_id = $1",
                        &[&request_id],
                    )
                    .await?
                    .try_get(0)?;
                let new_state = state_after(answered, i64::from(required));
                tx.execute(
                    "UPDATE cordon_approvals.requests SET state = $2,
                        answered_by = COALESCE(answered_by || ',', '') || $3, answered_at = $4
                     WHERE id = $1",
                    &[&request_id, &new_state.as_str(), &verified.identity, &now],
                )
                .await?;
                tx.commit().await?;
                Ok(Answered::State(new_state))
            })
        })?;
        match answered {
            Answered::State(state) => Ok(state),
            Answered::Refused(why) => Err(why),
        }
    }

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
        let artifact = signed.to_json()?;
        let inserted = self.run("store the approval", |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                match insert_approval(&tx, None, signed, verified, &artifact, now).await {
                    Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => return Ok(false),
                    other => other?,
                }
                tx.commit().await?;
                Ok(true)
            })
        })?;
        if !inserted {
            return Err(ApprovalError::StoreState(format!(
                "approval {} is already stored",
                verified.approval_id
            )));
        }
        Ok(())
    }

    fn deny(
        &mut self,
        request_id: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), ApprovalError> {
        self.expire_overdue(now)?;
        let changed = self.run("record the denial", |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE cordon_approvals.requests SET state = 'denied', answered_by = $2,
                        answer_reason = $3, answered_at = $4
                     WHERE id = $1 AND state IN ('pending','approved')",
                    &[&request_id, &by, &reason, &now],
                )
                .await
            })
        })?;
        if changed == 0 {
            return Err(ApprovalError::StoreState(format!(
                "request {request_id} is not pending (unknown, answered or expired)"
            )));
        }
        Ok(())
    }

    fn answers(&mut self, request_id: &str) -> Result<Vec<SignedApproval>, ApprovalError> {
        self.artifacts(
            "read the answers",
            "SELECT artifact FROM cordon_approvals.approvals WHERE request_id = $1 ORDER BY seq",
            Some(request_id),
        )
    }

    fn standing(&mut self) -> Result<Vec<SignedApproval>, ApprovalError> {
        self.artifacts(
            "read standing approvals",
            "SELECT artifact FROM cordon_approvals.approvals WHERE NOT single_use ORDER BY seq",
            None,
        )
    }

    fn consume(
        &mut self,
        approvals: &[Verified],
        contract_sha256: &str,
        request_id: Option<&str>,
        consumer: &str,
        now: i64,
    ) -> Result<(), ApprovalError> {
        let machine = self.machine.clone();
        let refused = self.run("use the approval", |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                for approval in approvals {
                    if approval.single_use {
                        // A concurrent insert of the same id or nonce waits for the other
                        // transaction and then inserts nothing: exactly one consumer gets the row.
                        let inserted = tx
                            .execute(
                                "INSERT INTO cordon_approvals.consumed
                                    (approval_id, nonce, contract_sha256, consumed_at, consumer, machine)
                                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                                &[
                                    &approval.approval_id,
                                    &approval.nonce,
                                    &contract_sha256,
                                    &now,
                                    &consumer,
                                    &machine,
                                ],
                            )
                            .await?;
                        if inserted == 0 {
                            return Ok(Some(ApprovalError::Replayed(approval.approval_id.clone())));
                        }
                    } else {
                        tx.execute(
                            "INSERT INTO cordon_approvals.uses
                                (approval_id, contract_sha256, used_at, consumer, machine)
                             VALUES ($1, $2, $3, $4, $5)",
                            &[&approval.approval_id, &contract_sha256, &now, &consumer, &machine],
                        )
                        .await?;
                    }
                }
                if let Some(id) = request_id {
                    let changed = tx
                        .execute(
                            "UPDATE cordon_approvals.requests SET state = 'consumed'
                             WHERE id = $1 AND state = 'approved'",
                            &[&id],
                        )
                        .await?;
                    if changed == 0 {
                        return Ok(Some(ApprovalError::StoreState(format!(
                            "request {id} is no longer approved"
                        ))));
                    }
                }
                tx.commit().await?;
                Ok(None)
            })
        })?;
        match refused {
            None => Ok(()),
            Some(why) => Err(why),
        }
    }

    fn is_consumed(&mut self, approval_id: &str) -> Result<bool, ApprovalError> {
        self.run("read consumed approvals", |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT 1 FROM cordon_approvals.consumed WHERE approval_id = $1",
                    &[&approval_id],
                )
                .await
                .map(|row| row.is_some())
            })
        })
    }
}

async fn insert_approval(
    tx: &tokio_postgres::Transaction<'_>,
    request_id: Option<&str>,
    signed: &SignedApproval,
    verified: &Verified,
    artifact: &str,
    now: i64,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO cordon_approvals.approvals (approval_id, nonce, request_id, contract_sha256,
            identity, public_key, scope, single_use, expires_at, artifact, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &verified.approval_id,
            &verified.nonce,
            &request_id,
            &signed.approval.contract_sha256,
            &verified.identity,
            &verified.public_key,
            &verified.scope,
            &verified.single_use,
            &verified.expires_at,
            &artifact,
            &now,
        ],
    )
    .await
    .map(|_| ())
}
