//! Putting cordon's hook into an agent's own configuration (`cordon install`), or taking it out.
//!
//! The agent's file is edited, never replaced: every setting and every other hook stays. Only
//! entries whose command is `<some cordon> hook <agent>` are cordon's, so installing twice leaves
//! one entry, and uninstalling removes exactly what install added. A file that is not the JSON
//! object the agent expects is an error and nothing is written. When the file changes, the old
//! version is kept next to it (`<name>.cordon-<UTC time>.bak`) and the new one replaces it
//! atomically (write a temporary file in the same directory, then rename), so the agent never
//! reads half a file. Installing also creates cordon's config home when there is none yet.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use cordon_core::file::Durability;
use cordon_governor::Mode;

use crate::agents::{Agent, OnAsk};
use crate::exit::CliError;

/// Seconds the agent waits for the hook (Claude Code and Codex count in seconds, Gemini in
/// milliseconds). The hook itself denies after 10 s, well before the agent gives up on it and
/// carries on as if there were no hook.
const AGENT_TIMEOUT_SECS: u64 = 30;

/// Largest agent configuration file cordon edits.
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// One hook registration: an event, the tools it covers, and the `cordon hook` arguments.
struct Registration {
    event: &'static str,
    /// `None` for agents whose entries have no matcher (Cursor).
    matcher: Option<&'static str>,
}

/// The Claude Code tools cordon judges before they run: the shell and every file tool (a list of
/// names, which Claude Code matches exactly).
pub const CLAUDE_CODE_TOOLS: &str =
    "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|Glob|LS|WebFetch";

/// Gemini CLI's: its matcher is a regular expression, anchored so that no other tool whose name
/// contains one of these (an MCP tool's) reaches the hook.
pub const GEMINI_TOOLS: &str = "^(run_shell_command|read_file|write_file|replace|read_many_files|glob|search_file_content|list_directory|web_fetch)$";

/// Where and what each agent needs.
fn registrations(agent: Agent) -> &'static [Registration] {
    match agent {
        Agent::ClaudeCode => &[
            Registration {
                event: "PreToolUse",
                matcher: Some(CLAUDE_CODE_TOOLS),
            },
            Registration {
                event: "PostToolUse",
                matcher: Some("Bash"),
            },
            Registration {
                event: "PostToolUseFailure",
                matcher: Some("Bash"),
            },
        ],
        Agent::Codex => &[
            Registration {
                event: "PreToolUse",
                matcher: Some("Bash|apply_patch"),
            },
            Registration {
                event: "PostToolUse",
                matcher: Some("Bash"),
            },
        ],
        Agent::Gemini => &[
            Registration {
                event: "BeforeTool",
                matcher: Some(GEMINI_TOOLS),
            },
            Registration {
                event: "AfterTool",
                matcher: Some("run_shell_command"),
            },
        ],
        Agent::Cursor => &[
            Registration {
                event: "beforeShellExecution",
                matcher: None,
            },
            Registration {
                event: "beforeReadFile",
                matcher: None,
            },
            Registration {
                event: "afterShellExecution",
                matcher: None,
            },
        ],
    }
}

/// The agent's configuration file for this scope.
pub fn config_path(agent: Agent, project: Option<&Path>) -> Result<PathBuf, CliError> {
    let (dir, file) = match agent {
        Agent::ClaudeCode => (".claude", "settings.json"),
        Agent::Codex => (".codex", "hooks.json"),
        Agent::Gemini => (".gemini", "settings.json"),
        Agent::Cursor => (".cursor", "hooks.json"),
    };
    if let Some(project) = project {
        return Ok(project.join(dir).join(file));
    }
    if agent == Agent::Codex {
        if let Some(home) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
            return Ok(PathBuf::from(home).join(file));
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| CliError::usage("HOME is not set; use --project"))?;
    Ok(PathBuf::from(home).join(dir).join(file))
}

/// The command the agent runs: this binary, by absolute path, quoted for the agent's shell.
fn hook_command(agent: Agent, on_ask: Option<OnAsk>, mode: Mode) -> Result<String, CliError> {
    let exe = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find the cordon executable: {e}")))?;
    let exe = exe
        .to_str()
        .ok_or_else(|| CliError::usage("the cordon executable's path is not UTF-8"))?;
    let mut words = vec![exe, "hook", agent.name()];
    match on_ask {
        None | Some(OnAsk::Agent) => {}
        Some(OnAsk::Deny) => words.extend(["--on-ask", "deny"]),
        Some(OnAsk::Approval) => words.extend(["--on-ask", "approval"]),
    }
    // Always written, so the hook command says how its runs are confined.
    words.extend(["--mode", mode.as_str()]);
    shlex::try_join(words)
        .map_err(|_| CliError::usage("the cordon executable's path contains a NUL byte"))
}

/// Whether `command` runs some cordon's `hook <agent>`: how install recognises its own entries.
fn is_cordon_hook(command: &str, agent: Agent) -> bool {
    let Some(words) = shlex::split(command) else {
        return false;
    };
    let [program, hook, name, ..] = words.as_slice() else {
        return false;
    };
    Path::new(program)
        .file_name()
        .is_some_and(|f| f == "cordon")
        && hook == "hook"
        && name == agent.name()
}

/// What installing or uninstalling did to the agent's configuration file.
#[derive(Debug)]
pub struct Change {
    pub path: PathBuf,
    /// The file already said what was asked; nothing was written.
    pub unchanged: bool,
    /// Where the previous version was kept.
    pub backup: Option<PathBuf>,
}

/// Installs cordon's hook for `agent` (`install` = the hook's `--on-ask` and `--mode`), or
/// uninstalls it (`None`), in the user's configuration or `project`'s. Installing also creates
/// the config home when there is none yet.
pub fn change(
    agent: Agent,
    project: Option<&Path>,
    install: Option<(Option<OnAsk>, Mode)>,
) -> Result<Change, CliError> {
    let path = config_path(agent, project)?;
    let before = read_config(&path)?;
    let mut config = before.clone().unwrap_or_else(|| Value::Object(Map::new()));
    remove(&mut config, agent, &path)?;
    if let Some((on_ask, mode)) = install {
        crate::home::ensure(false)?;
        add(
            &mut config,
            agent,
            &hook_command(agent, on_ask, mode)?,
            &path,
        )?;
    }
    let unchanged = match &before {
        Some(old) => *old == config,
        None => install.is_none(),
    };
    if unchanged {
        return Ok(Change {
            path,
            unchanged,
            backup: None,
        });
    }
    let backup = match &before {
        Some(_) => Some(back_up(&path)?),
        None => None,
    };
    write_config(&path, &config)?;
    Ok(Change {
        path,
        unchanged,
        backup,
    })
}

/// The file's JSON object, `None` when there is no file. Anything else is an error.
fn read_config(path: &Path) -> Result<Option<Value>, CliError> {
    let bytes = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::invalid_input(format!(
                "{}: cannot read: {e}",
                path.display()
            )))
        }
        Ok(_) => crate::input::read_input(path, MAX_CONFIG_BYTES, "agent configuration")?,
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        CliError::invalid_input(format!(
            "{}: not UTF-8 text; nothing was changed",
            path.display()
        ))
    })?;
    if text.trim().is_empty() {
        return Ok(Some(Value::Object(Map::new())));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        CliError::invalid_input(format!(
            "{}: not valid JSON ({e}); fix or move it, nothing was changed",
            path.display()
        ))
    })?;
    if !value.is_object() {
        return Err(CliError::invalid_input(format!(
            "{}: expected a JSON object at the top; nothing was changed",
            path.display()
        )));
    }
    Ok(Some(value))
}

fn malformed(path: &Path, what: &str) -> CliError {
    CliError::invalid_input(format!(
        "{}: {what}; fix it or move it, nothing was changed",
        path.display()
    ))
}

/// The `hooks` object, created when absent.
fn hooks_object<'a>(
    config: &'a mut Value,
    path: &Path,
) -> Result<&'a mut Map<String, Value>, CliError> {
    let Value::Object(top) = config else {
        return Err(malformed(path, "expected a JSON object at the top"));
    };
    let hooks = top
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()));
    hooks
        .as_object_mut()
        .ok_or_else(|| malformed(path, "`hooks` is not an object"))
}

fn add(config: &mut Value, agent: Agent, command: &str, path: &Path) -> Result<(), CliError> {
    if agent == Agent::Cursor {
        if let Value::Object(top) = config {
            top.entry("version").or_insert(json!(1));
        }
    }
    let hooks = hooks_object(config, path)?;
    for registration in registrations(agent) {
        let list = hooks
            .entry(registration.event)
            .or_insert_with(|| Value::Array(Vec::new()));
        let list = list.as_array_mut().ok_or_else(|| {
            malformed(
                path,
                &format!("`hooks.{}` is not a list", registration.event),
            )
        })?;
        let entry = match (agent, registration.matcher) {
            (Agent::Cursor, _) | (_, None) => json!({"command": command}),
            (Agent::Gemini, Some(matcher)) => json!({
                "matcher": matcher,
                "hooks": [{
                    "type": "command",
                    "name": "cordon",
                    "command": command,
                    "timeout": AGENT_TIMEOUT_SECS * 1000,
                }],
            }),
            (_, Some(matcher)) => json!({
                "matcher": matcher,
                "hooks": [{"type": "command", "command": command, "timeout": AGENT_TIMEOUT_SECS}],
            }),
        };
        list.push(entry);
    }
    Ok(())
}

/// Removes cordon's entries for `agent`, and the groups and lists that held only them.
fn remove(config: &mut Value, agent: Agent, path: &Path) -> Result<(), CliError> {
    let Value::Object(top) = config else {
        return Err(malformed(path, "expected a JSON object at the top"));
    };
    let Some(hooks) = top.get_mut("hooks") else {
        return Ok(());
    };
    let hooks = hooks
        .as_object_mut()
        .ok_or_else(|| malformed(path, "`hooks` is not an object"))?;
    for registration in registrations(agent) {
        let Some(list) = hooks.get_mut(registration.event) else {
            continue;
        };
        let list = list.as_array_mut().ok_or_else(|| {
            malformed(
                path,
                &format!("`hooks.{}` is not a list", registration.event),
            )
        })?;
        let ours = |command: Option<&Value>| {
            command
                .and_then(Value::as_str)
                .is_some_and(|c| is_cordon_hook(c, agent))
        };
        let mut kept = Vec::with_capacity(list.len());
        for mut group in list.drain(..) {
            if ours(group.get("command")) {
                continue;
            }
            if let Some(inner) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                let had = inner.len();
                inner.retain(|h| !ours(h.get("command")));
                if had > 0 && inner.is_empty() {
                    continue;
                }
            }
            kept.push(group);
        }
        *list = kept;
        if list.is_empty() {
            hooks.remove(registration.event);
        }
    }
    if hooks.is_empty() {
        top.remove("hooks");
    }
    Ok(())
}

fn back_up(path: &Path) -> Result<PathBuf, CliError> {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(|e| CliError::internal(format!("cannot format the time: {e}")))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut backup = path.with_file_name(format!("{name}.cordon-{stamp}.bak"));
    let mut n = 1;
    while backup.exists() {
        backup = path.with_file_name(format!("{name}.cordon-{stamp}-{n}.bak"));
        n += 1;
    }
    std::fs::copy(path, &backup).map_err(|e| {
        CliError::internal(format!(
            "{}: cannot keep a backup ({e}); nothing was changed",
            backup.display()
        ))
    })?;
    Ok(backup)
}

/// The configuration as the agent reads it, replacing the file atomically (its mode kept).
fn write_config(path: &Path, config: &Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(config)
        .map_err(|e| CliError::internal(format!("cannot serialize the configuration: {e}")))?;
    cordon_core::file::write_atomically(path, format!("{text}\n").as_bytes(), Durability::Durable)
        .map_err(|e| CliError::internal(format!("{}: cannot write: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn recognises_only_its_own_hook() {
        assert!(is_cordon_hook(
            "/opt/x/cordon hook claude-code",
            Agent::ClaudeCode
        ));
        assert!(is_cordon_hook("'/a b/cordon' hook codex", Agent::Codex));
        assert!(!is_cordon_hook(
            "/opt/x/cordon hook codex",
            Agent::ClaudeCode
        ));
        assert!(!is_cordon_hook(
            "my-linter hook claude-code",
            Agent::ClaudeCode
        ));
        assert!(!is_cordon_hook("", Agent::ClaudeCode));
    }

    #[test]
    fn install_then_uninstall_restores_the_settings() {
        let path = Path::new("settings.json");
        for agent in Agent::ALL {
            let original = json!({
                "model": "x",
                "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "mine"}]}]}
            });
            let mut config = original.clone();
            add(&mut config, agent, "/bin/cordon hook x", path).unwrap();
            // Not cordon's own command for this agent: stays.
            let mut twice = config.clone();
            remove(&mut twice, agent, path).unwrap();
            add(
                &mut twice,
                agent,
                &format!("/bin/cordon hook {}", agent.name()),
                path,
            )
            .unwrap();
            let mut again = twice.clone();
            remove(&mut again, agent, path).unwrap();
            add(
                &mut again,
                agent,
                &format!("/bin/cordon hook {}", agent.name()),
                path,
            )
            .unwrap();
            assert_eq!(again, twice, "idempotent for {agent:?}");
            remove(&mut again, agent, path).unwrap();
            let mut expected = original.clone();
            add(&mut expected, agent, "/bin/cordon hook x", path).unwrap();
            assert_eq!(again, expected, "{agent:?}");
        }
    }
}
