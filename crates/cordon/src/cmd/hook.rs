//! `cordon hook <agent>`: answer one hook event from Claude Code, Codex, Gemini CLI or Cursor.
//!
//! The agent runs this with the event's JSON on stdin and reads the verdict from stdout and the
//! exit code (see `crate::hook`). This command never fails in a way the agent could read as
//! "no objection": every error is already a denial in the agent's protocol.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use cordon_governor::Mode;

use super::mode_parser;
use crate::exit::CliError;
use crate::hook::{self, Agent, OnAsk, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whose protocol to speak.
    #[arg(value_enum)]
    pub agent: Agent,
    /// When the policy asks: `agent` lets the agent prompt its user (Codex cannot, so it gets a
    /// denial); `deny` always denies with the reason; `approval` runs it under `cordon exec`,
    /// which waits for a person to approve it in cordon.
    #[arg(long, value_enum, default_value = "agent")]
    pub on_ask: OnAsk,
    /// Deny when no decision is made within this many milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// A policy file instead of the config home's `policy.yaml`.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// With `--on-ask approval`: seconds `cordon exec` waits for the answer.
    #[arg(long, default_value_t = 300)]
    pub approval_wait: u64,
    /// How allowed text runs: `hardened` (Landlock and seccomp enforce the judged scope; where
    /// the kernel cannot, allowed text is denied with the reason) or `local` (no kernel
    /// enforcement). `cordon install --mode` writes it into the hook command.
    #[arg(long, value_parser = mode_parser(), default_value = "hardened")]
    pub mode: Mode,
}

pub fn run(args: Args) -> Result<u8, CliError> {
    // A panic must not become an abort the agent reads as "no objection" (release builds abort on
    // panic): the hook answers with a denial and exits before that happens.
    let agent = args.agent;
    std::panic::set_hook(Box::new(move |info| {
        let reply = hook::deny_reply(agent, &hook::HookError(format!("cordon crashed ({info})")));
        let _ = std::io::stdout().write_all(reply.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(reply.stderr.as_bytes());
        std::process::exit(i32::from(reply.code));
    }));
    let cordon = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find the cordon executable's path: {e}")));
    let reply = match cordon {
        Ok(cordon) => hook::run(
            args.agent,
            &Settings {
                on_ask: args.on_ask,
                timeout: Duration::from_millis(args.timeout_ms.max(1)),
                cordon,
                policy: args.policy,
                approval_wait_secs: args.approval_wait,
                mode: args.mode,
            },
        ),
        Err(e) => hook::deny_reply(args.agent, &hook::HookError(e.message)),
    };
    // A reply that cannot be written is one the agent never sees; the exit code still blocks.
    let _ = std::io::stdout().write_all(reply.stdout.as_bytes());
    let _ = std::io::stderr().write_all(reply.stderr.as_bytes());
    Ok(reply.code)
}
