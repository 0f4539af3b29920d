//! `cordon hook <agent>`: answer one hook event from Claude Code, Codex, Gemini CLI or Cursor.
//!
//! The agent runs this with the event's JSON on stdin and reads the verdict from stdout and the
//! exit code (see `crate::agents`). This command never fails in a way the agent could read as
//! "no objection": every error is already a denial in the agent's protocol. The running gateway
//! decides when one accepts the connection (`crate::gateway::client`); else this process does,
//! on a helper thread that must answer within the deadline.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cordon_governor::Mode;

use crate::agents::{self, Agent, Event, HookError, OnAsk, Reply, Settings, MAX_INPUT_BYTES};
use crate::exit::CliError;
use crate::gateway;
use crate::governing::mode_parser;

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
        let reply = agents::deny_reply(agent, &HookError(format!("cordon crashed ({info})")));
        let _ = std::io::stdout().write_all(reply.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(reply.stderr.as_bytes());
        std::process::exit(i32::from(reply.code));
    }));
    let cordon = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find the cordon executable's path: {e}")));
    let reply = match cordon {
        Ok(cordon) => answer_event(
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
        Err(e) => agents::deny_reply(args.agent, &HookError(e.message)),
    };
    // A reply that cannot be written is one the agent never sees; the exit code still blocks.
    let _ = std::io::stdout().write_all(reply.stdout.as_bytes());
    let _ = std::io::stderr().write_all(reply.stderr.as_bytes());
    Ok(reply.code)
}

/// Reads one hook event from stdin, decides, records, and answers in `agent`'s protocol.
/// Never fails: every problem becomes the agent's form of a denial.
fn answer_event(agent: Agent, settings: &Settings) -> Reply {
    // An agent that never closes stdin must not hold the answer back either.
    let input = match read_stdin(settings.timeout) {
        Ok(input) => input,
        Err(e) => return agents::deny_reply(agent, &e),
    };
    respond(agent, &input, settings)
}

/// [`run`] on input already read.
fn respond(agent: Agent, input: &[u8], settings: &Settings) -> Reply {
    agents::crash_for_test("respond");
    let (event, input) = match agents::parse(agent, input) {
        Ok(parsed) => parsed,
        Err(e) => return agents::deny_reply(agent, &e),
    };
    match event {
        Event::Before(request) => {
            // The gateway's exchange keeps the deadline itself; deciding in process needs a
            // helper thread to.
            let decided = gateway::client::decide(&request, settings).unwrap_or_else(|| {
                within(settings.timeout, {
                    let settings = settings.clone();
                    move || agents::decide_and_record(&request, &settings)
                })
            });
            match decided {
                Ok(verdict) => {
                    agents::render(agent, &agents::answer(agent, &verdict, settings), &input)
                }
                Err(e) => agents::deny_reply(agent, &e),
            }
        }
        Event::After(outcome) => {
            // The tool already ran: nothing is left to block, so a failure to record is reported
            // to the user and the agent goes on.
            let recorded =
                gateway::client::record_outcome(&outcome, settings).unwrap_or_else(|| {
                    within(settings.timeout, move || {
                        agents::evidence::record_outcome(&outcome)
                    })
                });
            match recorded {
                Ok(()) => agents::silent_reply(),
                Err(e) => Reply {
                    stdout: String::new(),
                    stderr: format!("cordon: the tool's outcome was not recorded: {e}\n"),
                    code: 0,
                },
            }
        }
    }
}

/// Reads stdin to its end within `timeout`. Waiting with poll(2) on this thread, rather than
/// reading on a helper thread, spares every hook a thread start and two hand-offs.
fn read_stdin(timeout: Duration) -> Result<Vec<u8>, HookError> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd as _;

    let failed = |e: std::io::Error| HookError(format!("cannot read the hook input on stdin: {e}"));
    let deadline = Instant::now() + timeout;
    // Read from the descriptor itself: a buffered reader could hold data that poll cannot see.
    let mut stdin = std::fs::File::from(
        std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(failed)?,
    );
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
        match poll(
            &mut fds,
            PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => {
                return Err(HookError(format!(
                    "no decision within {} ms: the hook input on stdin did not end",
                    timeout.as_millis()
                )))
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(failed(e.into())),
        }
        let n = match stdin.read(&mut chunk) {
            Ok(0) => return Ok(input),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(e)),
        };
        input.extend_from_slice(&chunk[..n]);
        if input.len() as u64 > MAX_INPUT_BYTES {
            return Err(HookError(format!(
                "the hook input is larger than {} MiB",
                MAX_INPUT_BYTES >> 20
            )));
        }
    }
}

/// Runs `work` on its own thread and gives up after `timeout`: a hook that hangs must still
/// answer, and the answer is a denial.
fn within<T: Send + 'static>(
    timeout: Duration,
    work: impl FnOnce() -> Result<T, HookError> + Send + 'static,
) -> Result<T, HookError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("cordon-hook".into())
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| HookError(format!("cannot start the decision: {e}")))?;
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(HookError(format!(
            "no decision within {} ms",
            timeout.as_millis()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(HookError("the decision failed unexpectedly".into()))
        }
    }
}
