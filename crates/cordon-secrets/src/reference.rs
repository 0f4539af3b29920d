//! References: secrets the store does not copy but resolves when the command runs.
//!
//! - `env:VAR`: cordon's own environment (a gateway started with the token in it);
//! - `file:PATH`: a file's content, an absolute path or one under `~/`;
//! - `cmd:PROGRAM ARG…`: a program's standard output (a password manager's CLI). The text is
//!   split into words like a shell would split them (quotes, backslashes) but never run by a
//!   shell: write `cmd:sh -c '…'` to ask for one. It runs with cordon's authority, outside any
//!   sandbox, with no input, for at most the context's timeout; its standard error is discarded,
//!   because it may hold the secret and an error message may reach the agent.
//!
//! A value read from a file or a program loses one trailing line break, and must satisfy
//! [`SecretValue::new`].

use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use zeroize::Zeroizing;

use cordon_core::secret::is_env_name;

use crate::value::{printable, SecretValue, MAX_VALUE_BYTES};
use crate::SecretsError;

/// How long a `cmd:` reference may run when the caller does not say.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Env(String),
    File(String),
    Command(Vec<String>),
}

/// What resolving needs from the caller, so that this crate reads no process-wide state.
pub struct ResolveContext<'a> {
    /// cordon's own environment, for `env:` references.
    pub env: &'a dyn Fn(&str) -> Option<OsString>,
    /// The user's home: `~/` in `file:` references, and where `cmd:` references run.
    pub home: PathBuf,
    /// How long a `cmd:` reference may run.
    pub command_timeout: Duration,
}

impl fmt::Debug for ResolveContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolveContext")
            .field("home", &self.home)
            .field("command_timeout", &self.command_timeout)
            .finish_non_exhaustive()
    }
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, SecretsError> {
        let invalid = |why: &str| SecretsError::InvalidReference {
            reference: printable(text),
            why: why.to_string(),
        };
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| invalid("it must start with `env:`, `file:` or `cmd:`"))?;
        match kind {
            "env" if is_env_name(rest) => Ok(Reference::Env(rest.to_string())),
            "env" => Err(invalid("`env:` needs an environment variable name")),
            "file" if rest.starts_with('/') || rest.starts_with("~/") => {
                Ok(Reference::File(rest.to_string()))
            }
            "file" => Err(invalid("`file:` needs an absolute path or one under `~/`")),
            "cmd" => match shlex::split(rest) {
                Some(argv) if !argv.is_empty() && !argv[0].is_empty() => {
                    Ok(Reference::Command(argv))
                }
                Some(_) => Err(invalid("`cmd:` needs a program to run")),
                None => Err(invalid("the command's quotes are not balanced")),
            },
            _ => Err(invalid("it must start with `env:`, `file:` or `cmd:`")),
        }
    }

    /// `env`, `file` or `cmd`: what `cordon secret list` shows.
    pub fn kind(&self) -> &'static str {
        match self {
            Reference::Env(_) => "env",
            Reference::File(_) => "file",
            Reference::Command(_) => "cmd",
        }
    }

    /// The text [`Reference::parse`] reads back.
    pub fn to_text(&self) -> String {
        match self {
            Reference::Env(var) => format!("env:{var}"),
            Reference::File(path) => format!("file:{path}"),
            Reference::Command(argv) => format!(
                "cmd:{}",
                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_default()
            ),
        }
    }

    /// The value the reference points at now; `name` is the secret's, for messages.
    pub fn resolve(
        &self,
        name: &str,
        context: &ResolveContext,
    ) -> Result<SecretValue, SecretsError> {
        let unresolved = |why: String| SecretsError::Unresolved {
            name: name.to_string(),
            why,
        };
        let bytes = match self {
            Reference::Env(var) => match (context.env)(var) {
                Some(value) if !value.is_empty() => {
                    use std::os::unix::ffi::OsStringExt as _;
                    value.into_vec()
                }
                _ => return Err(unresolved(format!("cordon's environment has no `{var}`"))),
            },
            Reference::File(path) => {
                let path = expand_home(path, &context.home);
                read_capped(&path).map_err(unresolved)?
            }
            Reference::Command(argv) => {
                run_capped(argv, &context.home, context.command_timeout).map_err(unresolved)?
            }
        };
        SecretValue::from_text(name, bytes).map_err(|e| match e {
            SecretsError::InvalidValue { why, .. } => unresolved(format!(
                "the {} reference gave an unusable value: {why}",
                self.kind()
            )),
            other => other,
        })
    }
}

fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(path),
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // Non-blocking, so that a FIFO in its place cannot hold the command up; only a regular file
    // is read.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let is_file = file.metadata().map(|m| m.is_file());
    if !matches!(is_file, Ok(true)) {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_VALUE_BYTES as u64 + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(bytes)
}

/// Runs `argv` without a shell and returns its standard output, or why not (never the output).
fn run_capped(argv: &[String], home: &Path, timeout: Duration) -> Result<Vec<u8>, String> {
    let program = printable(&argv[0]);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("`{program}` could not be started: {e}"))?;
    let deadline = Instant::now() + timeout;
    let output = read_until(&mut child, deadline);
    let finished = output.is_ok() && wait_until(&mut child, deadline);
    if !finished {
        // The program's whole process group: a password manager may start helpers.
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        let _ = child.wait();
        return Err(match output {
            Err(why) if Instant::now() < deadline => format!("`{program}`: {why}"),
            _ => format!(
                "`{program}` did not finish within {} s",
                timeout.as_secs_f64()
            ),
        });
    }
    let output = output.map_err(|why| format!("`{program}`: {why}"))?;
    match child.wait() {
        Ok(status) if status.success() => Ok(output.to_vec()),
        Ok(status) => Err(format!(
            "`{program}` failed ({status}); its error output is not shown because it may hold the secret"
        )),
        Err(e) => Err(format!("`{program}` could not be waited for: {e}")),
    }
}

/// Reads the child's standard output to its end, at most [`MAX_VALUE_BYTES`] + 2 bytes, until
/// `deadline`.
fn read_until(child: &mut Child, deadline: Instant) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut output = Zeroizing::new(Vec::new());
    let Some(mut stdout) = child.stdout.take() else {
        return Err("its output could not be read".into());
    };
    let mut buf = Zeroizing::new([0u8; 4096]);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("it did not finish in time".into());
        }
        let ms = i32::try_from(left.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
        let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("its output could not be read: {e}")),
        }
        match stdout.read(&mut buf[..]) {
            Ok(0) => return Ok(output),
            Ok(n) => {
                output.extend_from_slice(&buf[..n]);
                if output.len() > MAX_VALUE_BYTES + 1 {
                    return Err(format!("printed more than {MAX_VALUE_BYTES} bytes"));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("its output could not be read: {e}")),
        }
    }
}

/// Whether the child exited by `deadline` (its status is then left for `wait`).
fn wait_until(child: &mut Child, deadline: Instant) -> bool {
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            _ => return false,
        }
    }
}
