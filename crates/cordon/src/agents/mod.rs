//! Agent hooks: one decision core, and a thin adapter per agent wire format.
//!
//! Every agent (Claude Code, Codex, Gemini CLI, Cursor) asks the same question before it runs a
//! tool: may this shell text run, may this file be written? The adapters only translate: the
//! agent's JSON becomes a [`ToolRequest`], the core decides it with the front end (the same
//! `cordon_governor::analyse` that `cordon exec` and `cordon explain` use) into one
//! `cordon_governor::Decision`, records it in the journal, and the adapter writes the [`Answer`]
//! in the agent's own protocol. So the agents cannot disagree with each other or with `cordon
//! exec`. Whether the running gateway decides or this process does is `cli/hook.rs`'s choice.
//!
//! Fail closed: the agents treat a hook that crashes, hangs or prints nonsense as "no objection"
//! and run the tool anyway. So every failure on the way to a verdict — unreadable, oversized or
//! malformed input, an unknown tool, a policy that does not load, a journal that cannot record,
//! a decision that takes too long — is answered here as a denial, in the agent's protocol.
//!
//! Allowed shell text is not run by the agent as written: the answer rewrites it to
//! `<cordon> exec --mode hardened --shell '<text>'`, so it runs in cordon's sandbox (Landlock and
//! seccomp enforce the judged scope) and leaves a receipt, and the agent's transcript still shows
//! the original text inside the quotes. `--mode local` (chosen at `cordon install`) runs it
//! without kernel enforcement. Where the kernel cannot enforce hardened mode (Landlock ABI < 3 or
//! no seccomp filters) the hook denies allowed text and says why, rather than run it unconfined.
//!
//! Sessions: the harness's own session id is mapped to a cordon session (`crate::sessions`,
//! keyed by adapter name and id), and the rewrite names it and pins the directory the text was
//! judged in: `<cordon> exec --session <id> --cwd <dir> --shell '<text>'`. So the receipts and
//! checkpoints of one agent task are grouped under one session.

mod claude;
mod codex;
mod cursor;
pub mod evidence;
pub mod file_tools;
mod gemini;

pub use file_tools::FileAccess;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_core::Outcome;
use cordon_governor::policies::{LoadEachTime, PolicySource};
use cordon_governor::{Decision, Mode, Probe as _};
use serde::{Deserialize, Serialize};

use crate::exit::CliError;
use crate::judging::{self, JudgeArgs};

/// Hook input larger than this is refused (a tool call is a few KiB; this leaves room for a large
/// `Write` payload, which cordon does not read beyond its path).
pub const MAX_INPUT_BYTES: u64 = 4 << 20;

/// Shell text longer than this is refused before parsing (the front end's own cap).
const MAX_COMMAND_BYTES: usize = 64 << 10;

/// The agents cordon speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    ClaudeCode,
    Codex,
    Gemini,
    Cursor,
}

impl Agent {
    #[cfg(test)]
    pub const ALL: [Agent; 4] = [
        Agent::ClaudeCode,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
        }
    }
}

/// What the agent wants to do, in agent-neutral terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Run shell text.
    Shell { command: String },
    /// Use one of the agent's own file tools: read, write or search what `targets` name (paths
    /// relative to the cwd), or fetch them (URLs).
    File {
        tool: String,
        access: FileAccess,
        targets: Vec<String>,
    },
}

/// One tool call, as every adapter hands it to the core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRequest {
    pub agent: Agent,
    /// The agent's own session id (its harness session); empty when it sent none.
    pub harness_session: String,
    pub tool_use_id: Option<String>,
    /// The directory the tool runs in (absolute).
    pub cwd: String,
    /// What `{workspace}` means: the agent's project directory when it says, else the cwd.
    pub workspace: Option<String>,
    pub action: Action,
}

/// What the agent reports after a tool ran (PostToolUse and its equivalents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutcome {
    pub agent: Agent,
    /// The agent's own session id (its harness session).
    pub harness_session: String,
    pub tool_use_id: Option<String>,
    pub tool: String,
    pub command: Option<String>,
    pub interrupted: Option<bool>,
    pub exit_code: Option<i64>,
    pub stdout_bytes: Option<u64>,
    pub stderr_bytes: Option<u64>,
    pub error: Option<String>,
}

/// The core's decision on one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub decision: Decision,
    /// The synthesized contract's hash, when the text could be written as one.
    pub contract_sha256: Option<String>,
    /// What the agent should run instead of the text it wrote: the text under `cordon exec`.
    /// Set only for shell text whose outcome lets it run.
    pub run_as: Option<String>,
    /// The secrets the policy grants the text when it runs under `cordon exec`: names and the
    /// rule that granted each, for the decision record. Never a value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<cordon_policy::grants::SecretGrant>,
    /// For a file tool: the real path each target was judged on (`file_tools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
}

/// What to do when the policy says ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OnAsk {
    /// Let the agent ask its user with its own prompt (agents without a prompt get a denial).
    /// Once the user agrees, the text runs as written, outside cordon's sandbox: the decision
    /// record says it was asked.
    #[default]
    Agent,
    /// Deny, with the reason and a hint to change the policy or run it by hand.
    Deny,
    /// Let it run under `cordon exec`, which files an approval request and waits for a person's
    /// answer (`cordon approvals`, `cordon approve`, the web page): approved, it runs in the
    /// sandbox; denied or unanswered, it does not run. Works for every agent, Codex included.
    Approval,
}

/// How the hook behaves; from the command line of `cordon hook`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub on_ask: OnAsk,
    /// The decision must be made within this time, or the answer is a denial.
    pub timeout: Duration,
    /// The `cordon` executable the rewritten command names (normally this very binary).
    pub cordon: PathBuf,
    /// A policy file instead of the config home's. Never sent to the gateway, which decides
    /// under the home's policy only: a hook with `--policy` decides in process.
    #[serde(skip)]
    pub policy: Option<PathBuf>,
    /// With [`OnAsk::Approval`]: how long `cordon exec` waits for the answer, in seconds.
    pub approval_wait_secs: u64,
    /// How the rewritten command runs: hardened unless the person installed the hook with
    /// `--mode local`.
    pub mode: Mode,
}

/// The answer an adapter renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Let the tool run: shell text as `run_as`; with no `run_as` (an allowed file write) cordon
    /// raises no objection and the agent's own permission rules decide.
    Allow {
        run_as: Option<String>,
        reason: String,
    },
    Ask {
        reason: String,
    },
    Deny {
        reason: String,
    },
}

/// Why a hook could not decide; always answered as a denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError(pub String);

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CliError> for HookError {
    fn from(e: CliError) -> Self {
        HookError(e.message)
    }
}

/// A parsed hook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Before(ToolRequest),
    After(ToolOutcome),
}

/// The bytes to print and the exit code, as the agent expects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// The hook input as the agent sent it (a JSON object), kept for answers that echo it.
pub type Input = serde_json::Map<String, serde_json::Value>;

/// Parses `input` with `agent`'s adapter.
pub fn parse(agent: Agent, input: &[u8]) -> Result<(Event, Input), HookError> {
    if input.len() as u64 > MAX_INPUT_BYTES {
        return Err(HookError(format!(
            "the hook input is larger than {} MiB",
            MAX_INPUT_BYTES >> 20
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(input)
        .map_err(|e| HookError(format!("the hook input is not valid JSON: {e}")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(HookError("the hook input is not a JSON object".into()));
    };
    let event = match agent {
        Agent::ClaudeCode => claude::parse(agent, &object),
        Agent::Codex => codex::parse(&object),
        Agent::Gemini => gemini::parse(&object),
        Agent::Cursor => cursor::parse(&object),
    }?;
    Ok((event, object))
}

/// Decides a request and appends the decision to the journal. A decision that cannot be recorded
/// is not given: the error becomes a denial.
pub fn decide_and_record(request: &ToolRequest, settings: &Settings) -> Result<Verdict, HookError> {
    // The key and the journal open on a second thread while the policy decides on this one.
    std::thread::scope(|scope| {
        let recorder = std::thread::Builder::new()
            .name("cordon-recorder".into())
            .spawn_scoped(scope, evidence::Recorder::open)
            .map_err(|e| HookError(format!("cannot open the journal: {e}")))?;
        let verdict = decide(request, settings, &LoadEachTime);
        let recorder = recorder
            .join()
            .map_err(|_| HookError("opening the journal failed unexpectedly".into()))?;
        let verdict = verdict?;
        recorder?.decision(request, &verdict)?;
        Ok(verdict)
    })
}

/// The core decision, shared by every adapter and the gateway; `policies` is where the policy in
/// force comes from (read from disk, or the gateway's cache).
pub fn decide(
    request: &ToolRequest,
    settings: &Settings,
    policies: &dyn PolicySource,
) -> Result<Verdict, HookError> {
    crash_for_test("decide");
    let cwd = PathBuf::from(&request.cwd);
    if !cwd.is_absolute() {
        return Err(HookError(format!(
            "the working directory {:?} is not an absolute path",
            request.cwd
        )));
    }
    let workspace = request.workspace.as_ref().map(PathBuf::from);
    let session = crate::sessions::for_hook(
        request.agent.name(),
        &request.harness_session,
        &cwd,
        settings.policy.as_deref(),
    )
    .map_err(HookError)?;
    let judge = |args: JudgeArgs| judging::analyse_with(&args, policies).map_err(HookError::from);
    match &request.action {
        Action::Shell { command } => decide_shell(
            command,
            &cwd,
            workspace,
            session.as_deref(),
            settings,
            judge,
        ),
        Action::File {
            tool,
            access,
            targets,
        } => file_tools::decide(tool, *access, targets, &cwd, workspace, settings, policies),
    }
}

fn decide_shell(
    command: &str,
    cwd: &Path,
    workspace: Option<PathBuf>,
    session: Option<&str>,
    settings: &Settings,
    judge: impl Fn(JudgeArgs) -> Result<cordon_governor::Analysis, HookError>,
) -> Result<Verdict, HookError> {
    if command.trim().is_empty() {
        return Err(HookError("the shell command is empty".into()));
    }
    if command.len() > MAX_COMMAND_BYTES {
        return Err(HookError(format!(
            "the shell command is longer than {} KiB",
            MAX_COMMAND_BYTES >> 10
        )));
    }
    // Text the hook rewrote earlier (or that the agent wrote in the same form) is judged by what
    // it wraps, and not wrapped twice.
    let text = unwrap_exec(&settings.cordon, command).unwrap_or_else(|| command.to_string());
    let analysis = judge(JudgeArgs {
        shell: Some(text.clone()),
        policy: settings.policy.clone(),
        cwd: Some(cwd.to_path_buf()),
        workspace: workspace.clone(),
        json: false,
        argv: Vec::new(),
        // Judged as it will run: hardened runs grant a new file's directory.
        hardened: settings.mode == Mode::Hardened,
    })?;
    let decision = analysis.decision();
    let contract_sha256 = analysis.contract.map(|c| c.sha256());
    let secrets = analysis.secrets.grants;
    let cwd = cwd
        .to_str()
        .ok_or_else(|| HookError("the working directory is not UTF-8".into()))?;
    let workspace = workspace
        .as_deref()
        .map(|w| {
            w.to_str()
                .ok_or_else(|| HookError("the workspace path is not UTF-8".into()))
        })
        .transpose()?;
    let how = Wrap {
        mode: Some(settings.mode),
        session,
        cwd: Some(cwd),
        workspace,
        approval_wait: None,
    };
    let run_as = match decision.outcome {
        Outcome::Allow | Outcome::AllowWithCheckpoint | Outcome::Redirect => {
            Some(wrap_exec(&settings.cordon, &text, &how)?)
        }
        // Runs only once a person approves it, inside `cordon exec`.
        Outcome::Ask if settings.on_ask == OnAsk::Approval => Some(wrap_exec(
            &settings.cordon,
            &text,
            &Wrap {
                approval_wait: Some(settings.approval_wait_secs),
                ..how
            },
        )?),
        Outcome::Ask | Outcome::Deny => None,
    };
    if run_as.is_some() && settings.mode == Mode::Hardened {
        if let Some(why) = cordon_governor::SystemProbe.hardened_unavailable() {
            // Fail closed: the rewrite would be blocked anyway; say why here, where the agent
            // and its user read it, instead of running the text unconfined.
            return Ok(Verdict {
                decision: decision.unconfinable(&why),
                contract_sha256,
                run_as: None,
                secrets: Vec::new(),
                resolved: Vec::new(),
            });
        }
    }
    let secrets = if run_as.is_some() {
        secrets
    } else {
        Vec::new()
    };
    Ok(Verdict {
        decision,
        contract_sha256,
        run_as,
        secrets,
        resolved: Vec::new(),
    })
}

/// How a rewritten command runs under `cordon exec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wrap<'a> {
    /// `--mode`: the sandbox mode the run uses.
    pub mode: Option<Mode>,
    /// The cordon session the run belongs to (`--session`).
    pub session: Option<&'a str>,
    /// The directory the text was judged in (`--cwd`), so it runs there whatever the session's.
    pub cwd: Option<&'a str>,
    /// The agent's project directory (`--workspace`): what the policy called `{workspace}` when
    /// the text was judged, and the workspace of the hardened run's envelope.
    pub workspace: Option<&'a str>,
    /// Seconds `exec` waits for a person when the policy asks (`--approval-timeout`).
    pub approval_wait: Option<u64>,
}

/// `<cordon> exec [--mode MODE] [--session ID] [--cwd DIR] [--workspace DIR]
/// [--approval-timeout SECS] --shell '<text>'`,
/// quoted so that bash passes every word, `text` above all, through byte for byte.
pub fn wrap_exec(cordon: &Path, text: &str, how: &Wrap<'_>) -> Result<String, HookError> {
    let program = cordon
        .to_str()
        .ok_or_else(|| HookError("the cordon executable's path is not UTF-8".into()))?;
    let wait = how.approval_wait.map(|secs| secs.to_string());
    let mut words = vec![program, "exec"];
    if let Some(mode) = how.mode {
        words.extend(["--mode", mode.as_str()]);
    }
    if let Some(session) = how.session {
        words.extend(["--session", session]);
    }
    if let Some(cwd) = how.cwd {
        words.extend(["--cwd", cwd]);
    }
    if let Some(workspace) = how.workspace {
        words.extend(["--workspace", workspace]);
    }
    if let Some(wait) = &wait {
        words.extend(["--approval-timeout", wait.as_str()]);
    }
    words.extend(["--shell", text]);
    shlex::try_join(words).map_err(|_| HookError("the shell command contains a NUL byte".into()))
}

/// The text inside `command` when it is exactly what [`wrap_exec`] makes of some text (any other
/// form — extra words, other options, a redirect, a second command — is judged as written). The
/// mode, session and directory it names are not trusted: the caller wraps the text again with its
/// own (so an agent cannot pick `--mode local` by writing the wrapper itself).
pub fn unwrap_exec(cordon: &Path, command: &str) -> Option<String> {
    let words = shlex::split(command)?;
    let [program, exec, rest @ ..] = words.as_slice() else {
        return None;
    };
    if exec != "exec" || Path::new(program) != cordon {
        return None;
    }
    let [options @ .., flag, text] = rest else {
        return None;
    };
    if flag != "--shell" || options.len() % 2 != 0 {
        return None;
    }
    let mut how = Wrap::default();
    for pair in options.chunks_exact(2) {
        let value = pair[1].as_str();
        match pair[0].as_str() {
            "--mode" if how.mode.is_none() => {
                how.mode = Some(value.parse().ok()?);
            }
            "--session" if how.session.is_none() => how.session = Some(value),
            "--cwd" if how.cwd.is_none() => how.cwd = Some(value),
            "--workspace" if how.workspace.is_none() => how.workspace = Some(value),
            "--approval-timeout" if how.approval_wait.is_none() => {
                how.approval_wait = Some(value.parse().ok()?);
            }
            _ => return None,
        }
    }
    // Byte-for-byte what cordon itself would write: no room for anything else.
    (wrap_exec(cordon, text, &how).ok()? == command).then(|| text.clone())
}

/// The answer for `agent`, given what it can express.
pub fn answer(agent: Agent, verdict: &Verdict, settings: &Settings) -> Answer {
    let sentence = &verdict.decision.sentence;
    match verdict.decision.outcome {
        Outcome::Deny => Answer::Deny {
            reason: sentence.clone(),
        },
        Outcome::Ask if settings.on_ask == OnAsk::Approval && verdict.run_as.is_some() => {
            Answer::Allow {
                run_as: verdict.run_as.clone(),
                reason: format!(
                    "{sentence} It runs once a person approves it (`cordon approvals`)."
                ),
            }
        }
        Outcome::Ask => {
            let native_prompt = settings.on_ask == OnAsk::Agent && agent != Agent::Codex;
            if native_prompt {
                Answer::Ask {
                    reason: sentence.clone(),
                }
            } else {
                Answer::Deny {
                    reason: format!(
                        "{sentence} cordon's policy asks a person first; change the policy (`cordon explain --shell TEXT` says how) or run it yourself."
                    ),
                }
            }
        }
        Outcome::Allow | Outcome::AllowWithCheckpoint | Outcome::Redirect => Answer::Allow {
            run_as: verdict.run_as.clone(),
            reason: sentence.clone(),
        },
    }
}

pub fn render(agent: Agent, answer: &Answer, input: &Input) -> Reply {
    match agent {
        Agent::ClaudeCode => claude::render(answer, input),
        Agent::Codex => codex::render(answer, input),
        Agent::Gemini => gemini::render(answer),
        Agent::Cursor
            if input
                .get("hook_event_name")
                .and_then(serde_json::Value::as_str)
                == Some(cursor::READ_EVENT) =>
        {
            cursor::render_read(answer)
        }
        Agent::Cursor => cursor::render(
            answer,
            input.get("command").and_then(serde_json::Value::as_str),
        ),
    }
}

/// A reply of JSON on stdout, exit 0.
fn json_reply(value: &serde_json::Value) -> Reply {
    Reply {
        stdout: format!("{value}\n"),
        stderr: String::new(),
        code: 0,
    }
}

/// No opinion: the agent's own rules decide.
pub fn silent_reply() -> Reply {
    Reply {
        stdout: String::new(),
        stderr: String::new(),
        code: 0,
    }
}

/// A denial for a request cordon could not decide, in `agent`'s protocol.
pub fn deny_reply(agent: Agent, error: &HookError) -> Reply {
    let reason = format!("cordon could not decide, so it denies: {error}.");
    match agent {
        // Exit 2 with the reason on stderr blocks in all three, whatever else they make of stdout.
        Agent::ClaudeCode | Agent::Codex | Agent::Gemini => Reply {
            stdout: String::new(),
            stderr: format!("{reason}\n"),
            code: 2,
        },
        Agent::Cursor => {
            let mut reply = cursor::render(
                &Answer::Deny {
                    reason: reason.clone(),
                },
                None,
            );
            reply.stderr = format!("{reason}\n");
            reply
        }
    }
}

/// Debug builds only: panic at `place` when `CORDON_TEST_PANIC` names it, so the tests can show
/// that a crash is still answered as a denial. Release builds compile this to nothing.
pub fn crash_for_test(place: &str) {
    if cfg!(debug_assertions) && std::env::var("CORDON_TEST_PANIC").is_ok_and(|p| p == place) {
        panic!("CORDON_TEST_PANIC={place}");
    }
}

/// A string field of a hook object: absent → `None`; present but not a string → an error.
pub(crate) fn opt_str(
    object: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<String>, HookError> {
    match object.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(HookError(format!(
            "`{key}` must be a string, found {}",
            kind(other)
        ))),
    }
}

/// A required string field.
pub(crate) fn req_str(
    object: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<String, HookError> {
    opt_str(object, key)?.ok_or_else(|| HookError(format!("`{key}` is missing")))
}

/// A required object field.
pub(crate) fn req_object<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<&'a serde_json::Map<String, serde_json::Value>, HookError> {
    match object.get(key) {
        Some(serde_json::Value::Object(o)) => Ok(o),
        None => Err(HookError(format!("`{key}` is missing"))),
        Some(other) => Err(HookError(format!(
            "`{key}` must be an object, found {}",
            kind(other)
        ))),
    }
}

fn kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The directory a hook runs in: the agent's `cwd` field, else the process's.
pub(crate) fn cwd_or_current(cwd: Option<String>) -> Result<String, HookError> {
    match cwd {
        Some(dir) if !dir.is_empty() => Ok(dir),
        _ => std::env::current_dir()
            .map_err(|e| HookError(format!("cannot read the current directory: {e}")))?
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| HookError("the current directory is not UTF-8".into())),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cordon() -> PathBuf {
        PathBuf::from("/opt/cordon bin/cordon")
    }

    #[test]
    fn wrapping_round_trips_hostile_text() {
        for text in [
            "npm test",
            "echo 'it''s' \"$(whoami)\" `id`",
            "a\nb; rm -rf ~ # '\"",
            "printf '%s\\n' \\' \\\\",
            "",
        ] {
            let wrapped = wrap_exec(&cordon(), text, &Wrap::default()).unwrap();
            let words = shlex::split(&wrapped).unwrap();
            assert_eq!(words[3], text, "{wrapped}");
            let how = Wrap {
                mode: Some(Mode::Hardened),
                session: Some("x-0123"),
                cwd: Some("/w/it's $(here)"),
                workspace: Some("/w/`pwd`"),
                approval_wait: Some(9),
            };
            let wrapped = wrap_exec(&cordon(), text, &how).unwrap();
            let words = shlex::split(&wrapped).unwrap();
            assert_eq!(words[2..4], ["--mode", "hardened"], "{wrapped}");
            assert_eq!(words[7], "/w/it's $(here)", "{wrapped}");
            assert_eq!(words[8..10], ["--workspace", "/w/`pwd`"], "{wrapped}");
            assert_eq!(words[13], text, "{wrapped}");
        }
    }

    #[test]
    fn only_the_exact_wrapper_is_unwrapped() {
        let wrapped = wrap_exec(&cordon(), "ls -la", &Wrap::default()).unwrap();
        assert_eq!(unwrap_exec(&cordon(), &wrapped).as_deref(), Some("ls -la"));
        let waiting = Wrap {
            approval_wait: Some(60),
            ..Wrap::default()
        };
        let waiting = wrap_exec(&cordon(), "git push", &waiting).unwrap();
        assert_eq!(
            unwrap_exec(&cordon(), &waiting).as_deref(),
            Some("git push")
        );
        for mode in [Mode::Hardened, Mode::Local] {
            let full = Wrap {
                mode: Some(mode),
                session: Some("x-0123"),
                cwd: Some("/w"),
                workspace: Some("/w"),
                approval_wait: Some(60),
            };
            let full = wrap_exec(&cordon(), "git push", &full).unwrap();
            assert_eq!(unwrap_exec(&cordon(), &full).as_deref(), Some("git push"));
        }
        for other in [
            format!("{wrapped}; rm -rf /"),
            format!("{wrapped} > ~/.bashrc"),
            "'/opt/cordon bin/cordon' exec --policy /tmp/p.yaml --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --cwd /w --session x-1 --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --cwd /a --cwd /b --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --session --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --mode strict --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --mode local --mode local --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --cwd /w --mode local --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --workspace /w --cwd /w --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --workspace / --workspace /w --shell 'ls'".to_string(),
            "'/opt/cordon bin/cordon' exec --shell \"$(evil)\"".to_string(),
            "/usr/bin/cordon exec --shell 'ls -la'".to_string(),
        ] {
            assert_eq!(unwrap_exec(&cordon(), &other), None, "{other}");
        }
    }

    #[test]
    fn codex_never_gets_ask() {
        let verdict = Verdict {
            decision: Decision::new(
                Outcome::Ask,
                Vec::new(),
                "Needs approval: x.".into(),
                cordon_governor::PolicyRef::named("p", &"0".repeat(64)),
            ),
            contract_sha256: None,
            run_as: None,
            secrets: Vec::new(),
            resolved: Vec::new(),
        };
        let settings = Settings {
            on_ask: OnAsk::Agent,
            timeout: Duration::from_secs(1),
            cordon: cordon(),
            policy: None,
            approval_wait_secs: 60,
            mode: Mode::Hardened,
        };
        assert!(matches!(
            answer(Agent::Codex, &verdict, &settings),
            Answer::Deny { .. }
        ));
        assert!(matches!(
            answer(Agent::ClaudeCode, &verdict, &settings),
            Answer::Ask { .. }
        ));
    }
}
