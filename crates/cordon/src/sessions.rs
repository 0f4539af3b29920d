//! Sessions in force (issue 8): what a session's record means for a run.
//!
//! A session (`cordon session start`, or one a hook adapter maps from its harness's session id)
//! records one agent task's cwd, policy and journal. `cordon exec --session ID` or
//! `CORDON_SESSION=ID` runs under it: whatever the command line leaves unsaid (`--cwd`,
//! `--policy`, `--journal`) comes from the session, and the session id goes into the contract's
//! `actor.session_id`, so the decision record and the receipt name it, and checkpoints taken
//! during the run are listed by `cordon session show`.
//!
//! Fail closed: a session that is named but unknown, unreadable or ended blocks the run (exit
//! 126, `cordon run`'s "blocked before starting"). Running anyway would run under the wrong
//! policy, in the wrong directory, or record into the wrong journal, which is exactly what naming
//! a session is meant to prevent.
//!
//! Hooks: [`for_hook`] maps (adapter, harness session id) to a cordon session with
//! `cordon_checkpoint::session::for_external`, created on first sight with the hook's cwd and the
//! policy and journal in force; the rewritten command names it (`exec --session ID`).

use std::path::{Path, PathBuf};

use cordon_checkpoint::session::{self, NewSession, Session};
use cordon_policy::synth::Requester;

use crate::exit::CliError;
use crate::home::Home;

/// The variable that names the session a run belongs to.
pub const ENV: &str = "CORDON_SESSION";

/// Resolves the session `cordon exec` runs under (`--session`, else `CORDON_SESSION`) and fills
/// in from it the cwd, policy and journal its command line left unsaid. Returns the session's id,
/// `None` when no session is named.
pub fn apply_to_exec(
    flag: Option<&str>,
    cwd: &mut Option<PathBuf>,
    policy: &mut Option<PathBuf>,
    journal: &mut Option<PathBuf>,
) -> Result<Option<String>, CliError> {
    let named = flag
        .map(str::to_string)
        .or_else(|| std::env::var(ENV).ok().filter(|id| !id.is_empty()));
    let Some(id) = named else {
        return Ok(None);
    };
    let session = in_force(&id).map_err(|why| CliError {
        code: crate::exit::BLOCKED,
        message: format!("blocked: {why}"),
    })?;
    fill(cwd, &session.cwd);
    fill(policy, &session.policy);
    // `CORDON_JOURNAL` is said on this run's own environment, so it outranks the session too.
    if std::env::var_os("CORDON_JOURNAL").is_none() {
        fill(journal, &session.journal);
    }
    // The caller hands the id on to the governor, which attributes snapshots and soft deletes
    // to it.
    Ok(Some(session.id))
}

/// Who the contract says asks: the session's id as `actor.session_id` when there is a session.
pub fn requester(session: Option<&str>) -> Requester {
    match session {
        Some(id) => Requester {
            session_id: id.to_string(),
            ..Requester::default()
        },
        None => Requester::default(),
    }
}

/// Session `id`, if it exists and has not ended; else one sentence saying why not.
fn in_force(id: &str) -> Result<Session, String> {
    let home = Home::from_env().ok_or_else(|| {
        format!("session {id} cannot be looked up: no cordon home (set CORDON_HOME or HOME)")
    })?;
    let session = session::get(&home.sessions_dir(), id)
        .map_err(|e| format!("session {id} cannot be used: {e}"))?;
    if let Some(ended) = &session.ended_at {
        return Err(format!(
            "session {id} ended at {ended}; start a new one with `cordon session start`"
        ));
    }
    Ok(session)
}

/// `slot` keeps what the command line said; otherwise it takes the session's value.
fn fill(slot: &mut Option<PathBuf>, recorded: &Option<String>) {
    if slot.is_none() {
        *slot = recorded.as_ref().map(PathBuf::from);
    }
}

/// The cordon session for the harness's own session id, created on first sight with the hook's
/// cwd, its `--policy` and the journal in force (`CORDON_JOURNAL`; none means the home's).
/// `None` when the harness sent no session id. The adapter's name is part of the key, so two
/// harnesses that happen to use the same id never share a session.
pub fn for_hook(
    adapter: &str,
    external_id: &str,
    cwd: &Path,
    policy: Option<&Path>,
) -> Result<Option<String>, String> {
    if external_id.is_empty() {
        return Ok(None);
    }
    let home =
        Home::from_env().ok_or("no cordon home for the session (set CORDON_HOME or HOME)")?;
    // Recorded absolute: the session is used later from other directories.
    let policy = policy
        .map(std::path::absolute)
        .transpose()
        .map_err(|e| format!("the policy path cannot be made absolute: {e}"))?;
    let new = NewSession {
        cwd: Some(cwd.to_path_buf()),
        policy,
        journal: std::env::var_os("CORDON_JOURNAL").map(PathBuf::from),
    };
    let session = session::for_external(&home.sessions_dir(), adapter, external_id, &new)
        .map_err(|e| format!("the {adapter} session cannot be mapped: {e}"))?;
    if let Some(ended) = &session.ended_at {
        // `cordon exec` would block every command of it; say so once, here.
        return Err(format!(
            "the cordon session {} for this {adapter} session ended at {ended}; start a new {adapter} session",
            session.id
        ));
    }
    Ok(Some(session.id))
}
