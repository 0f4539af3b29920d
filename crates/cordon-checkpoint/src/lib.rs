//! Checkpoints of a command's write scope, atomic rollback, the soft-delete trash, and sessions.
//!
//! When the policy allows a risky command *with a checkpoint*, cordon snapshots everything the
//! command may write before it starts ([`snapshot()`]), so [`rollback()`] can put it back exactly
//! afterwards: bytes, modes, mtimes, symlinks, empty directories, and the absence of files the
//! command created. Content is stored once, by SHA-256, shared by every checkpoint that holds it,
//! and cloned copy-on-write where the filesystem can ([`Store`]); metadata lives in SQLite.
//!
//! The crate takes paths and knows nothing about contracts or policies: the CLI decides which
//! scopes to snapshot (the contract's declared write scope) and where the store lives (cordon's
//! home). docs/checkpoints.md describes the formats, the guarantees and the limits.

mod error;
pub mod rollback;
pub mod session;
pub mod snapshot;
mod store;
pub mod trash;

use std::time::SystemTime;

use rusqlite::params;
use serde::Serialize;

pub use error::{Error, Result};
pub use rollback::{rollback, Options as RollbackOptions, Report as RollbackReport};
pub use snapshot::{snapshot, Kind, Limits, Request, Summary};
pub use store::{CopyMethod, Store};

/// One stored checkpoint, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: String,
    pub created_at: String,
    pub session: Option<String>,
    pub label: String,
    pub scopes: Vec<String>,
    pub entries: u64,
    pub bytes: u64,
}

/// Every checkpoint in the store, oldest first; only those of `session` when given.
pub fn list(store: &Store, session: Option<&str>) -> Result<Vec<Listed>> {
    let mut stmt = store.db.prepare(
        "SELECT id, created_at, session, label, entries, bytes FROM checkpoints
         WHERE ?1 IS NULL OR session = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(params![session], |r| {
        Ok(Listed {
            id: r.get(0)?,
            created_at: r.get(1)?,
            session: r.get(2)?,
            label: r.get(3)?,
            scopes: Vec::new(),
            entries: r.get::<_, i64>(4)? as u64,
            bytes: r.get::<_, i64>(5)? as u64,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row?);
    }
    let mut scope_stmt = store
        .db
        .prepare("SELECT path FROM scopes WHERE checkpoint = ?1 ORDER BY idx")?;
    for listed in &mut out {
        let paths = scope_stmt.query_map([&listed.id], |r| r.get::<_, Vec<u8>>(0))?;
        for p in paths {
            listed
                .scopes
                .push(snapshot::path_from_bytes(p?).to_string_lossy().into_owned());
        }
    }
    Ok(out)
}

/// RFC 3339 UTC with seconds, as the rest of cordon writes times.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    let t = time::OffsetDateTime::from(at);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
