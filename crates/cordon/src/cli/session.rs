//! `cordon session start|show|end`: one agent task's cwd, policy, journal and checkpoints.
//!
//! `start` prints the new id (and, for a person, the `export CORDON_SESSION=…` line); runs under
//! `CORDON_SESSION` attribute their checkpoints and soft deletes to it, and `cordon exec` under it
//! takes the session's cwd, policy and journal where its options are silent (`crate::sessions`).
//! `show` lists the session with its checkpoints. Hook adapters map a harness's own session id
//! with `cordon_checkpoint::session::for_external`.

use std::path::PathBuf;

use cordon_checkpoint::session::{self, NewSession};
use cordon_checkpoint::Store;
use serde_json::json;

use crate::exit::{self, CliError};
use crate::home::Home;

#[derive(Debug, clap::Subcommand)]
pub enum Args {
    /// Start a session; prints its id.
    Start {
        /// The task's working directory (default: the current directory).
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// The policy the task runs under.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The journal the task's runs are recorded in.
        #[arg(long)]
        journal: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show a session and its checkpoints (default: `CORDON_SESSION`).
    Show {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// End a session (default: `CORDON_SESSION`).
    End { id: Option<String> },
}

pub fn run(args: Args) -> Result<u8, CliError> {
    let home = Home::from_env()
        .ok_or_else(|| CliError::usage("no cordon home: set CORDON_HOME or HOME"))?;
    match args {
        Args::Start {
            cwd,
            policy,
            journal,
            json,
        } => start(&home, cwd, policy, journal, json),
        Args::Show { id, json } => show(&home, id, json),
        Args::End { id } => {
            let id = pick(id)?;
            let s = session::end(&home.sessions_dir(), &id)
                .map_err(|e| CliError::invalid_input(e.to_string()))?;
            crate::output::say_out!("{}", s.id);
            Ok(exit::OK)
        }
    }
}

fn start(
    home: &Home,
    cwd: Option<PathBuf>,
    policy: Option<PathBuf>,
    journal: Option<PathBuf>,
    json: bool,
) -> Result<u8, CliError> {
    let dir = home.sessions_dir();
    let cwd = match cwd {
        Some(c) => c,
        None => std::env::current_dir()
            .map_err(|e| CliError::internal(format!("cannot read the current directory: {e}")))?,
    };
    // Recorded absolute: runs under the session start from other directories.
    let absolute = |p: Option<PathBuf>| {
        p.map(std::path::absolute)
            .transpose()
            .map_err(|e| CliError::invalid_input(format!("a path cannot be made absolute: {e}")))
    };
    let s = session::start(
        &dir,
        &NewSession {
            cwd: absolute(Some(cwd))?,
            policy: absolute(policy)?,
            journal: absolute(journal)?,
        },
    )
    .map_err(|e| CliError::internal(e.to_string()))?;
    if json {
        crate::output::say_out!("{}", json!(s));
    } else {
        crate::output::say_out!("{}", s.id);
        crate::output::say!(
            "cordon: session started; run `export CORDON_SESSION={}` to use it",
            s.id
        );
    }
    Ok(exit::OK)
}

fn show(home: &Home, id: Option<String>, json: bool) -> Result<u8, CliError> {
    let dir = home.sessions_dir();
    let id = pick(id)?;
    let s = session::get(&dir, &id).map_err(|e| CliError::invalid_input(e.to_string()))?;
    // Only checkpoints whose manifests verify with the home's key (a row in the index is only a
    // cache, which anyone who could write the store could have forged); without a key, none.
    let checkpoints = match home.key_ring() {
        Ok(keys) if home.checkpoints_dir().exists() => {
            let store = Store::open(&home.checkpoints_dir())
                .map_err(|e| CliError::internal(e.to_string()))?;
            cordon_checkpoint::list_verified(&store, &keys, Some(&s.id))
                .map_err(|e| CliError::internal(e.to_string()))?
                .checkpoints
        }
        _ => Vec::new(),
    };
    if json {
        crate::output::say_out!("{}", json!({"session": s, "checkpoints": checkpoints}));
    } else {
        crate::output::say_out!("session   {}", s.id);
        crate::output::say_out!("started   {}", s.created_at);
        if let Some(ended) = &s.ended_at {
            crate::output::say_out!("ended     {ended}");
        }
        for (name, value) in [
            ("cwd", &s.cwd),
            ("policy", &s.policy),
            ("journal", &s.journal),
        ] {
            if let Some(v) = value {
                crate::output::say_out!("{name:<9} {v}");
            }
        }
        if let Some(x) = &s.external {
            crate::output::say_out!("harness   {} {}", x.harness, x.id);
        }
        crate::output::say_out!("checkpoints: {}", checkpoints.len());
        for c in &checkpoints {
            crate::output::say_out!(
                "  {}  {}  {} entries  {}",
                c.id,
                c.created_at,
                c.entries,
                c.label
            );
        }
    }
    Ok(exit::OK)
}

fn pick(id: Option<String>) -> Result<String, CliError> {
    id.or_else(|| {
        std::env::var("CORDON_SESSION")
            .ok()
            .filter(|s| !s.is_empty())
    })
    .ok_or_else(|| CliError::usage("name a session, or set CORDON_SESSION"))
}
