//! Codex's hook protocol: Claude Code's (`PreToolUse` / `PostToolUse` on stdin,
//! `hookSpecificOutput.permissionDecision` on stdout), which Codex copied, with two differences
//! the core already honours: Codex rejects `ask` (it never gets one, `agents::answer`) and a plain
//! `allow` (an allow without a rewrite prints nothing, which it reads as "no objection").

use super::{claude, Agent, Answer, Event, HookError, Input, Reply};

pub fn parse(input: &Input) -> Result<Event, HookError> {
    claude::parse(Agent::Codex, input)
}

pub fn render(answer: &Answer, input: &Input) -> Reply {
    claude::render(answer, input)
}
