//! Secrets an agent's command can use but the agent never sees (docs/secrets.md).
//!
//! - [`SecretStore`]: values and references in one encrypted file of the home, mode 0600, with
//!   its key in a separate 0600 file.
//! - [`Reference`]: `env:VAR`, `file:PATH`, `cmd:PROGRAM ARG…`, resolved when the command runs.
//! - [`resolve_grants`] and [`inject`]: after the decision and any approval, the secrets a policy
//!   granted to one command (cordon-policy's `grants` module) are resolved and put into that
//!   command's environment only; any failure is a denial.
//! - [`Redactor`]: every byte returned to the agent is redacted of each value in its plain,
//!   base64, hex, URL-encoded and JSON forms, also when split across output chunks. It plugs into
//!   the sandbox as its [`cordon_sandbox::OutputFilter`].
//!
//! ```
//! use cordon_secrets::Redactor;
//! let redactor = Redactor::new([("github", &b"ghp_example-token-123"[..])])?;
//! let mut stream = redactor.stream();
//! let mut out = Vec::new();
//! stream.push(b"token: ghp_example-", &mut out);
//! stream.push(b"token-123\n", &mut out);
//! stream.finish(&mut out);
//! assert_eq!(out, b"token: [REDACTED:github]\n");
//! assert_eq!(redactor.redactions(), 1);
//! # Ok::<(), cordon_secrets::SecretsError>(())
//! ```

mod cli;
mod error;
mod forms;
mod grant;
mod redact;
mod reference;
mod store;
mod value;

pub use cli::{parse_set_args, read_value, SetRequest};
pub use error::SecretsError;
pub use forms::MAX_WRAPPED_VALUE_BYTES;
pub use grant::{check_env_name, inject, redactor_for, resolve_grants, ResolvedSecret};
pub use redact::{RedactingStream, Redactor};
pub use reference::{Reference, ResolveContext, DEFAULT_COMMAND_TIMEOUT};
pub use store::{SecretStore, Secrets, StoredSecret};
pub use value::{SecretName, SecretValue, MAX_VALUE_BYTES, MIN_VALUE_BYTES};
