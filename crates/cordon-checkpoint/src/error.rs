//! The one error type of this crate. Every variant reads as one sentence a person can act on.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },

    /// The SQLite index could not be read or written.
    #[error("checkpoint index: {0}")]
    Index(String),

    /// No checkpoint (or trash item) has this id.
    #[error("no {kind} with id {id:?}")]
    NotFound { kind: &'static str, id: String },

    /// The scope cannot be snapshotted as declared (empty, too large, unresolvable).
    #[error("{0}")]
    Scope(String),

    /// Acting would touch a path outside the recorded scope, so nothing was done.
    #[error("refusing to touch {}: {reason}", path.display())]
    OutsideScope { path: PathBuf, reason: String },

    /// A restore would overwrite something that exists.
    #[error("{}: {reason}", path.display())]
    Collision { path: PathBuf, reason: String },

    /// Stored content does not match its recorded hash.
    #[error("object {hash} is damaged: {reason}")]
    Damaged { hash: String, reason: String },

    /// A manifest (or what it describes) is not what cordon signed, so nothing was changed.
    #[error("{what} is not trusted, so nothing was changed: {reason}")]
    Untrusted { what: String, reason: String },

    /// Rolling back would touch a scope outside the workspace the checkpoint was taken for,
    /// and the person has not agreed to that.
    #[error(
        "{} lies outside the workspace {} the checkpoint was taken for; nothing was changed, and rolling it back needs explicit consent",
        list_paths(scopes),
        workspace.as_ref().map(|w| w.display().to_string()).unwrap_or_else(|| "(none recorded)".into())
    )]
    NeedsConsent {
        scopes: Vec<PathBuf>,
        workspace: Option<PathBuf>,
    },

    /// A manifest could not be signed.
    #[error("the manifest could not be signed: {0}")]
    Signing(String),
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    pub(crate) fn io(path: &Path, e: impl std::fmt::Display) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Index(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
