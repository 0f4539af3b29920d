//! Sessions: one agent task's cwd, policy and journal, to which its checkpoints belong.
//!
//! A session is one JSON file, `<sessions>/<id>.json`, written atomically. `CORDON_SESSION` names
//! the current one. A harness that has its own session ids (Claude Code, Codex…) maps them here
//! with [`for_external`]: the cordon id is derived from the harness name and its id, so every hook
//! call of one harness session lands in the same cordon session without a lookup table, and two
//! concurrent first calls create it once (`O_EXCL`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub created_at: String,
    pub ended_at: Option<String>,
    pub cwd: Option<String>,
    pub policy: Option<String>,
    pub journal: Option<String>,
    /// The harness and its own session id, for sessions created by a hook adapter.
    pub external: Option<External>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct External {
    pub harness: String,
    pub id: String,
}

/// What a new session starts with.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    pub cwd: Option<PathBuf>,
    pub policy: Option<PathBuf>,
    pub journal: Option<PathBuf>,
}

impl NewSession {
    /// The session `id` this starts, created `now`, for a harness's session when `external`.
    fn session(&self, id: String, now: SystemTime, external: Option<External>) -> Session {
        let text = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        Session {
            id,
            created_at: crate::rfc3339(now),
            ended_at: None,
            cwd: text(&self.cwd),
            policy: text(&self.policy),
            journal: text(&self.journal),
            external,
        }
    }
}

/// Starts a new session with a fresh id.
pub fn start(dir: &Path, new: &NewSession) -> Result<Session> {
    let now = SystemTime::now();
    let session = new.session(crate::snapshot::new_id("s", now), now, None);
    create(dir, &session)?;
    Ok(session)
}

/// The cordon session for a harness's own session id, created on first use.
pub fn for_external(
    dir: &Path,
    harness: &str,
    external_id: &str,
    new: &NewSession,
) -> Result<Session> {
    let mut h = Sha256::new();
    h.update(harness.as_bytes());
    h.update([0]);
    h.update(external_id.as_bytes());
    let id = format!("x-{}", &hex::encode(h.finalize())[..24]);
    if let Ok(existing) = get(dir, &id) {
        return Ok(existing);
    }
    let external = External {
        harness: harness.to_string(),
        id: external_id.to_string(),
    };
    let session = new.session(id.clone(), SystemTime::now(), Some(external));
    match create(dir, &session) {
        Ok(()) => Ok(session),
        // Another hook call created it first: use theirs.
        Err(Error::Collision { .. }) => get(dir, &id),
        Err(e) => Err(e),
    }
}

/// Reads session `id`.
pub fn get(dir: &Path, id: &str) -> Result<Session> {
    let path = file(dir, id)?;
    let bytes = fs::read(&path).map_err(|_| Error::NotFound {
        kind: "session",
        id: id.to_string(),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::io(&path, e))
}

/// Marks session `id` ended (idempotent: the first end time stays).
pub fn end(dir: &Path, id: &str) -> Result<Session> {
    let mut session = get(dir, id)?;
    if session.ended_at.is_none() {
        session.ended_at = Some(crate::rfc3339(SystemTime::now()));
        replace(dir, &session)?;
    }
    Ok(session)
}

fn file(dir: &Path, id: &str) -> Result<PathBuf> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::NotFound {
            kind: "session",
            id: id.to_string(),
        });
    }
    Ok(dir.join(format!("{id}.json")))
}

fn ensure_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

fn create(dir: &Path, session: &Session) -> Result<()> {
    ensure_dir(dir)?;
    let path = file(dir, &session.id)?;
    let bytes = serde_json::to_vec_pretty(session).map_err(|e| Error::io(&path, e))?;
    // `hard_link` fails if the name exists, so a session is created once.
    match write_beside(dir, &session.id, &bytes, &path, Place::New) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Collision {
            path,
            reason: "a session with this id exists".into(),
        }),
        Err(e) => Err(Error::io(&path, e)),
    }
}

fn replace(dir: &Path, session: &Session) -> Result<()> {
    let path = file(dir, &session.id)?;
    let bytes = serde_json::to_vec_pretty(session).map_err(|e| Error::io(&path, e))?;
    write_beside(dir, &session.id, &bytes, &path, Place::Replace).map_err(|e| Error::io(&path, e))
}

/// How [`write_beside`] puts a written file in place.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Hard-linked in: fails if the name exists.
    New,
    /// Renamed over the name.
    Replace,
}

/// Writes `bytes` under a temporary name in `dir` (for session `id`), syncs them, and puts the
/// file at `path`: readers never see half a file. The temporary name does not outlive the call.
fn write_beside(
    dir: &Path,
    id: &str,
    bytes: &[u8],
    path: &Path,
    place: Place,
) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{id}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).mode(0o600);
        match place {
            Place::New => options.create_new(true),
            Place::Replace => options.create(true).truncate(true),
        };
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match place {
            Place::New => fs::hard_link(&tmp, path),
            Place::Replace => fs::rename(&tmp, path),
        }
    })();
    // After a link the temporary name remains; after a rename it is gone unless the rename failed.
    if place == Place::New || result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn external_ids_map_to_one_session() {
        let dir = tempfile::tempdir().unwrap();
        let a = for_external(dir.path(), "claude-code", "abc", &NewSession::default()).unwrap();
        let b = for_external(dir.path(), "claude-code", "abc", &NewSession::default()).unwrap();
        let c = for_external(dir.path(), "codex", "abc", &NewSession::default()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.id, c.id);
        assert_eq!(a.external.unwrap().id, "abc");
    }

    #[test]
    fn start_show_end() {
        let dir = tempfile::tempdir().unwrap();
        let s = start(
            dir.path(),
            &NewSession {
                cwd: Some("/w".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(get(dir.path(), &s.id).unwrap(), s);
        let ended = end(dir.path(), &s.id).unwrap();
        assert!(ended.ended_at.is_some());
        assert_eq!(end(dir.path(), &s.id).unwrap().ended_at, ended.ended_at);
        assert!(matches!(
            get(dir.path(), "../etc"),
            Err(Error::NotFound { .. })
        ));
    }
}
