use std::path::PathBuf;

/// Everything that can go wrong with secrets. Each message is one sentence a person can act on,
/// and none of them ever holds a secret's value: only names, references' kinds, paths and
/// programs.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("`{0}` is not a valid secret name: use 1 to 64 letters, digits, `_`, `-` or `.`, starting with a letter or a digit")]
    InvalidName(String),
    #[error("`{0}` is not a valid environment variable name: use letters, digits and `_`, not starting with a digit")]
    InvalidEnvName(String),
    #[error("the environment variable `{0}` cannot carry a secret: cordon never passes it to a command, or sets it itself")]
    ForbiddenEnvName(String),
    #[error("`cordon secret set` takes the value on standard input, never on the command line, where other processes and the shell history can read it")]
    ValueOnArgv,
    #[error("cordon secret set: {0}")]
    Usage(String),
    #[error("secret `{name}`: {why}")]
    InvalidValue { name: String, why: String },
    #[error("`{reference}` is not a secret reference: {why}")]
    InvalidReference { reference: String, why: String },
    #[error("there is no secret named `{0}` in the store")]
    NotFound(String),
    #[error("the secret `{name}` could not be resolved: {why}")]
    Unresolved { name: String, why: String },
    #[error("the environment variable `{env}` is granted two different secrets, `{first}` and `{second}`")]
    GrantConflict {
        env: String,
        first: String,
        second: String,
    },
    #[error("{path}: {why}")]
    Io { path: PathBuf, why: String },
    #[error(
        "{path} is readable or writable by other users (mode {mode:03o}); run `chmod 600` on it"
    )]
    InsecureMode { path: PathBuf, mode: u32 },
    #[error("{path} belongs to another user; the secret store's files must be the user's own")]
    ForeignOwner { path: PathBuf },
    #[error("the key file {path} is not a secret store key: {why}")]
    BadKey { path: PathBuf, why: String },
    #[error("the secret store {path} cannot be decrypted with the key {key}: the key is wrong or the file was changed")]
    Decrypt { path: PathBuf, key: PathBuf },
    #[error("{path} is not a cordon secret store: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error(
        "the secret store {path} exists but its key file {key} is missing, so it cannot be read"
    )]
    KeyMissing { path: PathBuf, key: PathBuf },
    #[error("the redaction patterns cannot be built: {0}")]
    Redactor(String),
}

impl SecretsError {
    pub(crate) fn io(path: impl Into<PathBuf>, e: std::io::Error) -> SecretsError {
        SecretsError::Io {
            path: path.into(),
            why: e.to_string(),
        }
    }
}
