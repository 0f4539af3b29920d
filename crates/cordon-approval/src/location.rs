//! Where the approval state lives: the embedded SQLite database in cordon's home, or a team's
//! PostgreSQL database named by `CORDON_APPROVALS_URL` or by `store_url` in `approvals.json`.
//!
//! The choice is a pure function of those two values, so the binary reads the environment and the
//! file at its edge and passes them in.

use std::path::{Path, PathBuf};

use crate::pg_store::PgStore;
use crate::store::{ApprovalStore, Store};
use crate::ApprovalError;

/// The environment variable that names a team's approval database.
pub const APPROVALS_URL_VAR: &str = "CORDON_APPROVALS_URL";

/// The approval store a home uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded default: one SQLite file on this machine.
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by a team's machines (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl StoreLocation {
    /// `env_url` (the value of `CORDON_APPROVALS_URL`) wins over `config_url` (`store_url` in
    /// `approvals.json`); without either (or with empty values) the store is the SQLite file at
    /// `sqlite_db`. A URL that is not a PostgreSQL URL is refused, never ignored: a team that
    /// configured a shared store must not silently get a private one.
    pub fn choose(
        env_url: Option<&str>,
        config_url: Option<&str>,
        sqlite_db: &Path,
    ) -> Result<StoreLocation, ApprovalError> {
        let named = [
            (APPROVALS_URL_VAR, env_url),
            ("approvals.json store_url", config_url),
        ]
        .into_iter()
        .find_map(|(source, url)| url.filter(|u| !u.trim().is_empty()).map(|u| (source, u)));
        match named {
            None => Ok(StoreLocation::Sqlite(sqlite_db.to_path_buf())),
            Some((_, url))
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Ok(StoreLocation::Postgres(url.to_string()))
            }
            Some((source, _)) => Err(ApprovalError::Database(format!(
                "{source} must be a postgres:// URL (postgres://user:password@host:port/dbname)"
            ))),
        }
    }

    /// Opens the store, filing requests under `machine`.
    pub fn open(&self, machine: &str) -> Result<Box<dyn ApprovalStore>, ApprovalError> {
        Ok(match self {
            StoreLocation::Sqlite(path) => Box::new(Store::open_as(path, machine)?),
            StoreLocation::Postgres(url) => Box::new(PgStore::connect(url, machine)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_then_the_file_then_sqlite() {
        let db = Path::new("/home/x/.cordon/state/approvals.db");
        let pg = "postgres://u:p@127.0.0.1:5432/team";
        assert_eq!(
            StoreLocation::choose(None, None, db).unwrap(),
            StoreLocation::Sqlite(db.into())
        );
        assert_eq!(
            StoreLocation::choose(Some(""), Some(pg), db).unwrap(),
            StoreLocation::Postgres(pg.into())
        );
        assert_eq!(
            StoreLocation::choose(Some(pg), Some("postgresql://other/db"), db).unwrap(),
            StoreLocation::Postgres(pg.into())
        );
        let err = StoreLocation::choose(Some("mysql://x"), None, db).unwrap_err();
        assert_eq!(
            err.to_string(),
            "CORDON_APPROVALS_URL must be a postgres:// URL (postgres://user:password@host:port/dbname)"
        );
    }
}
