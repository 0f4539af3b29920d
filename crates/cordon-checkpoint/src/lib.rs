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
//!
//! Rollback and restore run with the person's authority after an agent had the workspace, so
//! they trust only what cordon signed: every checkpoint and trash item has a manifest signed
//! with the home's key ([`snapshot_signed`], [`trash::soft_delete_signed`]), verified before
//! anything is touched ([`rollback::verify`], [`trash::restore_verified`]), and every path is
//! walked through directory handles that never follow a link. The unsigned entry points
//! ([`snapshot()`], [`rollback()`], [`trash::soft_delete`], [`trash::restore`]) remain for
//! callers that hold no key yet; the verified ones refuse what they write.
//!
//! A checkpoint can also be *observed* ([`incremental::Recorder`]): instead of copying the
//! scope before the command, the sandbox's write broker reports each change just before it
//! happens, and only the pre-images of what changed are stored.

mod at;
mod error;
pub mod incremental;
mod manifest;
mod observed;
pub mod rollback;
mod seal;
pub mod session;
pub mod snapshot;
mod store;
pub mod trash;

use std::time::SystemTime;

use rusqlite::params;
use serde::Serialize;

pub use error::{Error, Result};
pub use manifest::{Method, ScopeRecord};
pub use rollback::{
    rollback, Consent as RollbackConsent, Options as RollbackOptions, Report as RollbackReport,
};
pub use snapshot::{
    choose_scopes, snapshot, snapshot_signed, Coverage, Kind, Limits, Request, Summary,
};
pub use store::{CopyMethod, Store};

/// The verifying keys a rollback or restore accepts (the home's key ring).
pub use cordon_journal::KeyRing;
/// The home's signing key, which signs checkpoint and trash manifests.
pub use cordon_journal::Signer;

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

/// Every checkpoint whose manifest verifies, and those that do not.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub checkpoints: Vec<Listed>,
    /// Manifests that did not verify (forged, re-signed, changed, unsigned), with the reason:
    /// they are never rolled back, and are shown so that a person is not misled by them.
    pub refused: Vec<Refused>,
    /// True when the index disagreed with the manifests and was rebuilt from them.
    pub index_rebuilt: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub id: String,
    pub reason: String,
}

/// Lists the checkpoints from their verified manifests (only `session`'s when given), and
/// rebuilds the index from them when it disagrees (a row without a verified manifest, a
/// verified manifest without its row, or a row naming another manifest).
pub fn list_verified(store: &Store, keys: &KeyRing, session: Option<&str>) -> Result<Listing> {
    let mut verified = Vec::new();
    let mut refused = Vec::new();
    for id in manifest::ids(store.root())? {
        match manifest::read(store.root(), &id, seal::Trust::Keys(keys)) {
            Ok(loaded) => verified.push(loaded),
            Err(e) => refused.push(Refused {
                id,
                reason: e.to_string(),
            }),
        }
    }
    let mut indexed = std::collections::BTreeMap::new();
    {
        let mut stmt = store
            .db
            .prepare("SELECT id, manifest_sha256 FROM checkpoints")?;
        for row in stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })? {
            let (id, sha) = row?;
            indexed.insert(id, sha);
        }
    }
    let agrees = indexed.len() == verified.len()
        && verified
            .iter()
            .all(|l| indexed.get(&l.header.id) == Some(&Some(l.sha256.clone())));
    if !agrees {
        store
            .db
            .execute_batch("DELETE FROM scopes; DELETE FROM checkpoints;")?;
        for loaded in &verified {
            rollback::reconcile_index(store, loaded)?;
        }
    }
    let text = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let checkpoints = verified
        .iter()
        .filter(|l| session.is_none() || l.header.session.as_deref() == session)
        .map(|l| Listed {
            id: l.header.id.clone(),
            created_at: l.header.created_at.clone(),
            session: l.header.session.clone(),
            label: l.header.label.clone(),
            scopes: l.header.scopes.iter().map(|s| text(&s.path)).collect(),
            entries: l.entries.len() as u64,
            bytes: l
                .entries
                .iter()
                .filter(|(_, e)| e.kind == Kind::File)
                .map(|(_, e)| e.size)
                .sum(),
        })
        .collect();
    Ok(Listing {
        checkpoints,
        refused,
        index_rebuilt: !agrees,
    })
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
