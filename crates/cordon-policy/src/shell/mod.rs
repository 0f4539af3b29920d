//! The shell front end: agent shell text to the simple commands it would run.
//!
//! Agents write `cd web && npm test 2>&1 | tail -20`, not argv vectors. This module parses such
//! text with a real bash grammar (tree-sitter-bash) and lists every simple command it would run,
//! each with its own working directory, redirects and wrappers, so that each can be judged on its
//! own. It sees through wrappers (`env`, `sudo`, `timeout`, `xargs`, `find -exec`, `bash -c '…'`,
//! `git -C`), finds commands hidden in `$(…)`, backticks and process substitution, and tracks `cd`.
//!
//! Whatever cannot be known without running the text (`eval`, `$x` in command position, a computed
//! argument, a working directory after `cd "$d"`) is recorded as *unresolved*: such a command is
//! asked, never allowed. Parsing is total: any byte string gives a [`Script`], never a panic.

mod evaluate;
mod lists;
pub mod pathutil;
mod resolve;
mod runners;
mod statements;
mod walk;

use serde::Serialize;

/// Deepest nesting of `bash -c` / `eval` / `watch` text that is parsed; deeper text is unresolved.
pub const MAX_NESTING: usize = 6;
/// Most simple commands reported for one text; past this the text is unresolved.
pub const MAX_COMMANDS: usize = 256;
/// Longest text parsed; longer text is unresolved as a whole.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Where the text runs: the agent's working directory and home. (Not a session: a cordon session
/// is `cordon_checkpoint::session::Session`, an agent's own is its harness session.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellState {
    /// Absolute working directory the text starts in.
    pub cwd: String,
    /// Absolute home directory, for `~` and a bare `cd`.
    pub home: String,
}

/// The shell state's former name, kept while the front end's modules move to the new one.
pub type Session = ShellState;

/// How a file is used by a redirect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// A file a redirect opens, resolved to an absolute path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub path: String,
    pub access: Access,
    /// It empties the file before writing (`>`, `>|`, `&>`), where `>>` appends.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncates: bool,
}

/// What a command reads as standard input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stdin {
    /// Whatever the caller's standard input is.
    Inherited,
    /// The output of an earlier pipeline segment: unknown content.
    Pipe,
    /// A heredoc or here-string whose text is known.
    Text(String),
    /// A heredoc or here-string with expansions: unknown content.
    Dynamic,
}

/// One shell word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    /// The value for a static word; the source text for a computed one.
    pub text: String,
    /// Known without running anything (no `$x`, `$(…)`, brace expansion).
    pub is_static: bool,
    /// Holds an unquoted glob character, so the shell may expand it to several paths.
    pub glob: bool,
}

impl Word {
    pub fn literal(text: impl Into<String>) -> Word {
        Word {
            text: text.into(),
            is_static: true,
            glob: false,
        }
    }
}

/// How a simple command was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Written directly in the text.
    Direct,
    /// Inside `$(…)`, backticks or `<(…)`/`>(…)`.
    Substitution,
    /// Run by another command: `bash -c`, `find -exec`, `xargs`, `eval`, `watch`.
    Nested,
}

/// One simple command the text would run, with everything needed to judge it on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimpleCommand {
    /// The program and its arguments after wrappers are removed; `argv[0]` is the program as the
    /// front end resolved it (`/usr/bin/../bin/rm` → `rm`, `\rm` → `rm`).
    pub argv: Vec<String>,
    /// Parallel to `argv`: which words are static.
    pub words: Vec<Word>,
    /// The program exactly as written when it was a path (`./build.sh`, `/tmp/x/ls`).
    pub program_path: Option<String>,
    /// Wrappers seen through, outermost first (`sudo`, `env`, `bash -c`, `find -exec`).
    pub wrappers: Vec<String>,
    /// Absolute working directory; `None` when a `cd` made it unknowable.
    pub cwd: Option<String>,
    /// `NAME=value` assignments in front of the command (or given to `env`).
    pub assignments: Vec<String>,
    /// Files opened by redirects, resolved.
    pub redirects: Vec<Redirect>,
    pub stdin: Stdin,
    /// Runs with elevated privileges (`sudo`, `doas`).
    pub privileged: bool,
    pub origin: Origin,
    /// Why this command cannot be judged statically. Non-empty means: ask, never allow.
    pub unresolved: Vec<String>,
    /// Arguments computed at run time are paths under these directories, each one whole
    /// argument: `find ROOT -exec cmd {} +`, or `find ROOT -print0 | xargs -0 cmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_paths_under: Option<Vec<String>>,
    /// A variable that makes the shell or a program run code from elsewhere reaches this
    /// command (`BASH_ENV=f bash -c true`, `LD_PRELOAD=x ls`): whatever the command itself is,
    /// it may write and run anything.
    pub runs_injected_code: bool,
}

impl SimpleCommand {
    /// The program name rules and the knowledge base look up.
    pub fn program(&self) -> &str {
        self.argv.first().map(String::as_str).unwrap_or("")
    }
}

/// Everything a shell text would run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    pub commands: Vec<SimpleCommand>,
    /// Problems with the text as a whole (it does not parse, it defines a function, it is too
    /// long). Non-empty means: ask, never allow.
    pub unresolved: Vec<String>,
}

impl Script {
    /// Whether nothing in the text is unresolved.
    pub fn is_fully_resolved(&self) -> bool {
        self.unresolved.is_empty() && self.commands.iter().all(|c| c.unresolved.is_empty())
    }
}

/// Parses `text` as bash and lists the simple commands it would run. Total: never fails, never
/// panics; what it cannot understand it reports as unresolved.
pub fn parse(text: &str, session: &Session) -> Script {
    walk::parse_script(text, session)
}

/// The commands for an argv the caller gave directly (`cordon exec -- ARGV…`): no shell is involved,
/// but wrappers are still seen through (`env X=1 sudo rm` is `rm`).
pub fn from_argv(argv: &[String], session: &Session) -> Script {
    walk::parse_argv(argv, session)
}
