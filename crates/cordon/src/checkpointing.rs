//! The allow-with-checkpoint outcome in `cordon run`'s execution (issue 8): snapshot the write
//! scope before anything runs, turn a plain `rm` into a move to the trash, and put the checkpoint
//! into the receipt.
//!
//! Fail closed: if the snapshot cannot be taken completely, the run is blocked (a checkpoint that
//! silently saved nothing is how agentsh lost a directory to `rm -rf`). The snapshot and the soft
//! delete run in cordon's own process, outside the sandbox, so both stay inside the contract's
//! declared write scope: the snapshot covers exactly that scope, and a soft delete refuses any
//! target outside it.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use cordon_checkpoint::trash::{self, SoftDelete};
use cordon_checkpoint::{Request, Store, Summary};
use cordon_core::contract::Command;
use cordon_sandbox::{CommandReport, CommandStatus, StreamReport};
use serde_json::{json, Value};

use crate::cmd::run::literal_prefix;
use crate::gate::Gate;
use crate::home::Home;

/// A checkpoint taken before the run.
#[derive(Debug)]
pub struct Taken {
    pub summary: Summary,
    /// The trash, where a checkpointed `rm` moves its targets.
    trash_dir: PathBuf,
    session: Option<String>,
}

/// The session runs are attributed to: `CORDON_SESSION`, which must name an existing session.
pub fn current_session(home: &Home) -> Result<Option<String>, String> {
    match std::env::var("CORDON_SESSION") {
        Ok(id) if !id.is_empty() => cordon_checkpoint::session::get(&home.sessions_dir(), &id)
            .map(|s| Some(s.id))
            .map_err(|e| format!("CORDON_SESSION: {e}")),
        _ => Ok(None),
    }
}

/// Snapshots the gate's write scope when its outcome asks for a checkpoint. `Ok(None)` when it
/// does not; `Err` (one sentence) when it does and the snapshot failed, so nothing may run.
pub fn before_run(gate: &Gate) -> Result<Option<Taken>, String> {
    if !gate.checkpoint_requested() {
        return Ok(None);
    }
    let fail = |why: String| {
        format!("the checkpoint this outcome requires could not be taken, so nothing ran: {why}")
    };
    let home =
        Home::from_env().ok_or_else(|| fail("no cordon home (set CORDON_HOME or HOME)".into()))?;
    let session = current_session(&home).map_err(fail)?;
    let scopes: Vec<PathBuf> = gate
        .write_scope()
        .iter()
        .map(|p| literal_prefix(p))
        .collect();
    let store = Store::open(&home.checkpoints_dir()).map_err(|e| fail(e.to_string()))?;
    let label = gate
        .contract
        .commands
        .iter()
        .flat_map(|c| c.argvs())
        .map(|argv| argv.join(" "))
        .collect::<Vec<_>>()
        .join(" | ");
    let summary = cordon_checkpoint::snapshot(
        &store,
        &Request {
            scopes,
            session: session.clone(),
            label,
            ..Request::default()
        },
    )
    .map_err(|e| fail(e.to_string()))?;
    eprintln!(
        "cordon: checkpoint {} taken ({} entries); undo with `cordon rollback {}`",
        summary.id, summary.entries, summary.id
    );
    Ok(Some(Taken {
        summary,
        trash_dir: home.trash_dir(),
        session,
    }))
}

/// Under a checkpoint, a plain `rm` moves its targets to the trash instead of deleting them.
/// Returns the command's report and its receipt entry, or `None` when this command is not a
/// plain `rm` (an option we do not model, a pipeline) and runs in the sandbox as usual.
pub fn soft_delete(taken: Option<&Taken>, command: &Command) -> Option<(CommandReport, Value)> {
    let taken = taken?;
    let mut argvs = command.argvs();
    let argv = argvs.next()?;
    if argvs.next().is_some() {
        return None;
    }
    let rm = parse_rm(argv)?;
    let started_at = SystemTime::now();
    let start = Instant::now();
    let cwd = PathBuf::from(&command.cwd);
    let request = SoftDelete {
        targets: rm.operands.iter().map(|t| cwd.join(t)).collect(),
        allowed_roots: command
            .write_paths
            .iter()
            .map(|p| literal_prefix(p))
            .collect(),
        recursive: rm.recursive,
        force: rm.force,
        command: argv.to_vec(),
        session: taken.session.clone(),
        cwd,
    };
    let outcome = trash::soft_delete(&taken.trash_dir, &request);
    let (status, exit_code, error, mut stderr, trash) = match outcome {
        Ok(o) => {
            let code = if o.errors.is_empty() { 0 } else { 1 };
            let mut text = o.errors.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            let status = if code == 0 {
                CommandStatus::Success
            } else {
                CommandStatus::Failed
            };
            let item = o.manifest.map(|m| {
                eprintln!(
                    "cordon: moved {} path(s) to the trash as {}; restore with `cordon trash restore {}`",
                    m.items.len(),
                    m.id,
                    m.id
                );
                json!({"id": m.id, "items": m.items})
            });
            (status, code, None, text, item)
        }
        // Refused (outside the scope) or failed: blocked, nothing more runs.
        Err(e) => (
            CommandStatus::Blocked,
            126,
            Some(format!("soft delete: {e}")),
            String::new(),
            None,
        ),
    };
    if !stderr.is_empty() {
        eprint!("{stderr}");
    }
    let stderr_report = stream(std::mem::take(&mut stderr).into_bytes());
    let report = CommandReport {
        id: command.id.clone(),
        status,
        exit_code,
        segments: Vec::new(),
        stdout: stream(Vec::new()),
        stderr: stderr_report,
        started_at,
        ended_at: SystemTime::now(),
        duration: start.elapsed(),
        error,
        processes: None,
    };
    let entry = json!({
        "id": report.id,
        "status": report.status,
        "exit_code": report.exit_code,
        "duration_ms": report.duration.as_secs_f64() * 1000.0,
        "stdout": report.stdout,
        "stderr": report.stderr,
        "error": report.error,
        "soft_delete": {"argv": argv, "trash": trash},
    });
    Some((report, entry))
}

/// Adds the checkpoint to the receipt's `x-cordon` extension (next to the front end's request).
pub fn annotate(extension: &mut Value, taken: Option<&Taken>) {
    if let Some(taken) = taken {
        let mut entry = extension
            .get("checkpoint")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({"requested": true}));
        entry["id"] = json!(taken.summary.id);
        entry["taken"] = json!(taken.summary);
        extension["checkpoint"] = entry;
    }
}

fn stream(bytes: Vec<u8>) -> StreamReport {
    StreamReport {
        sha256: cordon_core::hash::sha256_hex(&bytes),
        captured_bytes: bytes.len() as u64,
        total_bytes: bytes.len() as u64,
        truncated: false,
        captured: bytes,
    }
}

/// `rm`'s options, as far as cordon models them.
#[derive(Debug, PartialEq, Eq)]
struct Rm {
    recursive: bool,
    force: bool,
    operands: Vec<String>,
}

/// Parses `rm [-rRfv] [--recursive] [--force] [--verbose] [--] FILE…`; `None` for anything else
/// (an interactive flag, `--one-file-system`, no operand), which then runs as the real `rm`.
fn parse_rm(argv: &[String]) -> Option<Rm> {
    let name = Path::new(argv.first()?).file_name()?.to_str()?;
    if name != "rm" {
        return None;
    }
    let mut rm = Rm {
        recursive: false,
        force: false,
        operands: Vec::new(),
    };
    let mut options_done = false;
    for arg in &argv[1..] {
        if options_done || !arg.starts_with('-') || arg == "-" {
            rm.operands.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "--" => options_done = true,
            "--recursive" => rm.recursive = true,
            "--force" => rm.force = true,
            "--verbose" => {}
            long if long.starts_with("--") => return None,
            short => {
                for c in short[1..].chars() {
                    match c {
                        'r' | 'R' => rm.recursive = true,
                        'f' => rm.force = true,
                        'v' => {}
                        _ => return None,
                    }
                }
            }
        }
    }
    if rm.operands.is_empty() {
        return None;
    }
    Some(rm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_rm_forms_it_models() {
        assert_eq!(
            parse_rm(&argv(&["rm", "-rf", "a", "b"])),
            Some(Rm {
                recursive: true,
                force: true,
                operands: argv(&["a", "b"])
            })
        );
        assert_eq!(
            parse_rm(&argv(&["/bin/rm", "--recursive", "--", "-x"])),
            Some(Rm {
                recursive: true,
                force: false,
                operands: argv(&["-x"])
            })
        );
        assert_eq!(
            parse_rm(&argv(&["rm", "f"])),
            Some(Rm {
                recursive: false,
                force: false,
                operands: argv(&["f"])
            })
        );
    }

    #[test]
    fn leaves_everything_else_to_the_real_rm() {
        assert_eq!(parse_rm(&argv(&["rm", "-i", "a"])), None);
        assert_eq!(
            parse_rm(&argv(&["rm", "--one-file-system", "-r", "a"])),
            None
        );
        assert_eq!(parse_rm(&argv(&["rm", "-rf"])), None);
        assert_eq!(parse_rm(&argv(&["rmdir", "a"])), None);
        assert_eq!(parse_rm(&argv(&["shred", "a"])), None);
    }
}
