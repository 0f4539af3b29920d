//! `cordon secret set|list|rm`: the secret store in cordon's home (docs/secrets.md).
//!
//! `set NAME` reads the value from standard input only, and when that is a terminal it asks for
//! it without echoing what is typed; `set NAME --ref env:VAR|file:PATH|cmd:…` stores a reference
//! instead. A value on the command line is refused (exit 64) without being repeated: the words
//! after `set` are read by `cordon_secrets::parse_set_args`, not by the argument parser, whose
//! errors quote what they did not expect. `list` shows names and kinds, never values or what a
//! reference points at; `rm NAME` removes one.

use std::ffi::OsString;
use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};

use cordon_secrets::{
    parse_set_args, read_value, SecretName, SecretStore, SecretValue, SecretsError, SetRequest,
    StoredSecret, MAX_VALUE_BYTES,
};

use crate::exit::CliError;
use crate::home::{self, Home};

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Store a secret: its value from standard input (never the command line), or a reference
    /// resolved when a command that was granted it runs (`--ref env:VAR|file:PATH|cmd:PROGRAM ARG…`).
    Set {
        #[arg(
            value_name = "NAME [--ref REFERENCE]",
            num_args = 0..,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        words: Vec<OsString>,
    },
    /// List the secrets' names and kinds (value, env, file, cmd); never a value.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret.
    Rm { name: String },
}

pub fn run(args: Args) -> Result<u8, CliError> {
    match args {
        Args::Set { words } => set(&words),
        Args::List { json } => list(json),
        Args::Rm { name } => {
            let name = SecretName::new(&name).map_err(fail)?;
            store()?.remove(&name).map_err(fail)?;
            crate::output::say!("cordon: removed the secret `{name}`");
            Ok(crate::exit::OK)
        }
    }
}

fn set(words: &[OsString]) -> Result<u8, CliError> {
    let request = parse_set_args(words).map_err(fail)?;
    // A first `set` on a new machine makes the whole home (policy, signing key, journal), so
    // that the first `cordon exec` after it finds a working one.
    let home = home::first_use()?.ok_or_else(no_home)?;
    let store = home.secret_store();
    let (name, secret) = match request {
        SetRequest::Reference { name, reference } => (name, StoredSecret::Reference(reference)),
        SetRequest::Value { name } => {
            let value = read_from_stdin(&name)?;
            (name, StoredSecret::Value(value))
        }
    };
    let kind = secret.kind();
    store.set(&name, secret).map_err(fail)?;
    crate::output::say!(
        "cordon: stored the secret `{name}` ({kind}) in {}; a policy rule grants it to commands with `secrets: {{VARIABLE: {name}}}`",
        store.path().display()
    );
    Ok(crate::exit::OK)
}

fn list(json: bool) -> Result<u8, CliError> {
    let secrets = store()?.load().map_err(fail)?;
    let listed = secrets.list();
    if json {
        let items: Vec<serde_json::Value> = listed
            .iter()
            .map(|(name, kind)| serde_json::json!({"name": name.as_str(), "kind": kind}))
            .collect();
        crate::output::say_out!("{}", serde_json::Value::Array(items));
    } else {
        for (name, kind) in &listed {
            crate::output::say_out!("{name}\t{kind}");
        }
    }
    Ok(crate::exit::OK)
}

fn store() -> Result<SecretStore, CliError> {
    Home::from_env()
        .map(|home| home.secret_store())
        .ok_or_else(no_home)
}

fn no_home() -> CliError {
    CliError::usage("no cordon home for the secret store: set CORDON_HOME or HOME")
}

/// The value from standard input: piped, all of it; from a terminal, one line typed without
/// echo after a prompt on stderr.
fn read_from_stdin(name: &SecretName) -> Result<SecretValue, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return read_value(name, stdin.lock()).map_err(fail);
    }
    let line = {
        // Echo goes off first (discarding anything typed before), then the prompt shows.
        let _quiet = Quiet::terminal(&stdin)?;
        eprint!("Value of the secret `{name}` (not shown as you type): ");
        let _ = std::io::stderr().flush();
        let mut line = Vec::new();
        stdin
            .lock()
            .take(MAX_VALUE_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::invalid_input(format!("standard input: {e}")))?;
        line
    };
    crate::output::say!();
    read_value(name, &line[..]).map_err(fail)
}

/// Echo turned off on a terminal until dropped.
struct Quiet<'a> {
    stdin: &'a std::io::Stdin,
    saved: nix::sys::termios::Termios,
}

impl<'a> Quiet<'a> {
    fn terminal(stdin: &'a std::io::Stdin) -> Result<Quiet<'a>, CliError> {
        use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
        let failed =
            |e: nix::Error| CliError::internal(format!("cannot turn off the terminal's echo: {e}"));
        let saved = tcgetattr(stdin).map_err(failed)?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        // Still echo the newline, so the prompt's line ends when the person presses enter.
        quiet.local_flags.insert(LocalFlags::ECHONL);
        tcsetattr(stdin, SetArg::TCSAFLUSH, &quiet).map_err(failed)?;
        Ok(Quiet { stdin, saved })
    }
}

impl Drop for Quiet<'_> {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(self.stdin, SetArg::TCSANOW, &self.saved);
    }
}

/// A store error as the command line reports it: the command line itself (64), the store's
/// files or the value given (65), anything else (70).
fn fail(error: SecretsError) -> CliError {
    match error {
        SecretsError::ValueOnArgv
        | SecretsError::Usage(_)
        | SecretsError::InvalidName(_)
        | SecretsError::InvalidReference { .. } => CliError::usage(error.to_string()),
        SecretsError::NotFound(_)
        | SecretsError::InvalidValue { .. }
        | SecretsError::Io { .. }
        | SecretsError::InsecureMode { .. }
        | SecretsError::ForeignOwner { .. }
        | SecretsError::BadKey { .. }
        | SecretsError::Decrypt { .. }
        | SecretsError::Corrupt { .. }
        | SecretsError::KeyMissing { .. } => CliError::invalid_input(error.to_string()),
        SecretsError::InvalidEnvName(_)
        | SecretsError::ForbiddenEnvName(_)
        | SecretsError::Unresolved { .. }
        | SecretsError::GrantConflict { .. }
        | SecretsError::Redactor(_) => CliError::internal(error.to_string()),
    }
}
