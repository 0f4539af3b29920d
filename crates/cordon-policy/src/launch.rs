//! How a decided request is started: the contract `cordon exec` hands to `cordon run`'s execution.
//!
//! The synthesized contract ([`crate::synth`]) has one CSC command per simple command, which is
//! the right record of *what* a text does but cannot say *how* it runs: a contract of argv
//! vectors has no `;`, `||`, pipes or redirects. So the contract that runs is built here:
//!
//! - an argv request (`cordon exec -- ARGV…`) runs its argv as given, with no shell;
//! - a text that is one plain command (no operators, expansions, globs, redirects, wrappers or
//!   assignments; `git status`, `cargo test -p x`) runs as that argv, with no shell either, so
//!   nothing is paid for a shell that would do nothing;
//! - any other text runs as `bash -c TEXT`, exactly as the agent's harness would have run it.
//!
//! Either way the one command's scope is the union of the parts' scopes (reads, the cwds,
//! writes, network), so the sandbox grants no more than the parts were judged on.
//!
//! A redirect replaces the argv of the one command it applies to and keeps that command's scope:
//! the decision already refused any replacement that would widen it, and running it under the
//! original's scope means the kernel enforces that too in hardened mode. A redirect inside a
//! compound text cannot be applied in place (the text runs as a whole), so it is refused.

use cordon_core::contract::{ApprovalMode, Contract, EffectType, RiskClass, CONTRACT_VERSION};
use cordon_core::Outcome;
use serde::Serialize;

use crate::facts::{display_argv, Facts};
use crate::native::Decision;
use crate::shell::{Script, Stdin};
use crate::synth::{self, Requester};

/// Characters that make a text need a shell: operators, grouping, expansions, globs. (Quotes and
/// backslashes do not: the parser removes them exactly.)
const SHELL_SYNTAX: &[char] = &[
    ';', '&', '|', '<', '>', '(', ')', '!', '{', '}', '$', '`', '\n', '\r', '*', '?', '[', ']', '~',
];

/// Shell builtins with no program of the same name (or whose program cannot do what the builtin
/// does, like `cd`): a text naming one must run under bash, never as an argv.
const BUILTINS: &[&str] = &[
    ":",
    ".",
    "alias",
    "bg",
    "bind",
    "builtin",
    "caller",
    "cd",
    "command",
    "compgen",
    "complete",
    "declare",
    "dirs",
    "disown",
    "enable",
    "eval",
    "exec",
    "exit",
    "export",
    "fc",
    "fg",
    "getopts",
    "hash",
    "help",
    "history",
    "jobs",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "read",
    "readarray",
    "readonly",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "times",
    "trap",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "wait",
];

/// What the agent asked to run.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// Shell text, as written.
    Text(&'a str),
    /// An argv given directly, no shell involved.
    Argv(&'a [String]),
}

/// How the contract that runs starts its one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Launch {
    /// An argv, executed directly.
    Argv,
    /// `bash -c TEXT`.
    Shell,
}

/// The contract that runs, and how it came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    pub launch: Launch,
    pub contract: Contract,
    /// `(original, replacement)` when a redirect replaced the command.
    pub redirect: Option<(Vec<String>, Vec<String>)>,
    /// Why a redirect the decision made cannot be applied: it is one part of a text that runs
    /// as a whole. The plan then runs the original text, and the caller must ask, not allow.
    pub refused_redirect: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    #[error("the text runs no command")]
    Empty,
    #[error("the contract to run is invalid: {0}")]
    Invalid(String),
}

/// Whether `text` is one plain command that can run as its argv with no shell.
fn plain_argv(text: &str, script: &Script) -> Option<Vec<String>> {
    if text.contains(SHELL_SYNTAX) || !script.unresolved.is_empty() || script.commands.len() != 1 {
        return None;
    }
    let command = &script.commands[0];
    let plain = command.wrappers.is_empty()
        && command.assignments.is_empty()
        && command.redirects.is_empty()
        && command.stdin == Stdin::Inherited
        && command.unresolved.is_empty()
        && command.words.iter().all(|w| w.is_static && !w.glob)
        && !command.argv.is_empty()
        // A CSC argv cannot hold an empty argument (`grep -c '' f`): bash runs such a text.
        && command.argv.iter().all(|a| !a.is_empty())
        && !BUILTINS.contains(&command.program());
    if !plain {
        return None;
    }
    // The program as written (`/usr/bin/../bin/ls` stays a path; `\ls` is `ls`).
    let mut argv = command.argv.clone();
    if let Some(path) = &command.program_path {
        argv[0] = path.clone();
    }
    Some(argv)
}

fn effect_rank(effect: EffectType) -> u8 {
    match effect {
        EffectType::Observe => 0,
        EffectType::TransformLocal => 1,
        EffectType::MutateRepo => 2,
        EffectType::FetchExternal => 3,
        EffectType::Deploy => 4,
        EffectType::TouchSecrets => 5,
    }
}

fn push_unique(into: &mut Vec<String>, item: &str) {
    if !into.iter().any(|p| p == item) {
        into.push(item.to_string());
    }
}

/// Builds the contract that runs for a decided request. `cwd` is where the request starts.
pub fn plan(
    request: Request<'_>,
    script: &Script,
    facts: &Facts,
    decision: &Decision,
    cwd: &str,
    requester: &Requester,
) -> Result<LaunchPlan, LaunchError> {
    let (text, direct) = match request {
        Request::Text(text) => (text.to_string(), plain_argv(text, script)),
        // A CSC argv cannot hold an empty argument: bash runs the argv from its exact quoting.
        Request::Argv(argv) if argv.iter().any(String::is_empty) => (display_argv(argv), None),
        Request::Argv(argv) => (display_argv(argv), Some(argv.to_vec())),
    };
    if direct.as_ref().is_some_and(Vec::is_empty) || (direct.is_none() && text.trim().is_empty()) {
        return Err(LaunchError::Empty);
    }

    let mut refused_redirect = None;
    let redirect = if decision.outcome == Outcome::Redirect {
        let redirected: Vec<(usize, &Vec<String>)> = decision
            .commands
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.redirect_argv.as_ref().map(|to| (i, to)))
            .collect();
        match redirected.as_slice() {
            [(0, to)]
                if direct.is_some()
                    && facts.commands.len() == 1
                    && facts.commands[0].wrappers.is_empty() =>
            {
                Some((facts.commands[0].argv.clone(), (*to).clone()))
            }
            [(i, to), ..] => {
                let from = facts
                    .commands
                    .get(*i)
                    .map(|c| c.display())
                    .unwrap_or_default();
                let to = display_argv(to);
                refused_redirect = Some(format!(
                    "`{from}` would run as `{to}`, but it is one part of a text that runs as a whole, so the replacement cannot run in its place; run `{to}` on its own"
                ));
                None
            }
            [] => None,
        }
    } else {
        None
    };

    let (launch, argv) = match (&redirect, direct) {
        (Some((_, to)), _) => (Launch::Argv, to.clone()),
        (None, Some(argv)) => (Launch::Argv, argv),
        (None, None) => (
            Launch::Shell,
            vec!["bash".to_string(), "-c".to_string(), text.clone()],
        ),
    };

    // The union of the parts' scopes: the sandbox grants no more than what was judged.
    let mut read_paths: Vec<String> = Vec::new();
    let mut write_paths: Vec<String> = Vec::new();
    let mut network = false;
    let mut effect = EffectType::Observe;
    let mut risk = RiskClass::Low;
    for part in &facts.commands {
        let this = synth::risk_of(part.effect, part.destructive, part.privileged);
        if synth::rank(this) > synth::rank(risk) {
            risk = this;
        }
        push_unique(&mut read_paths, &part.cwd);
        for path in part.granted_reads() {
            push_unique(&mut read_paths, path);
        }
        for path in part.granted_writes() {
            push_unique(&mut write_paths, path);
        }
        network |= part.network;
        if effect_rank(part.effect) > effect_rank(effect) {
            effect = part.effect;
        }
    }
    let run_cwd = match (&redirect, facts.commands.first()) {
        // A plain command or a redirect runs where its one command is started.
        (Some(_), Some(part)) => part.started_in().to_string(),
        _ if launch == Launch::Argv && facts.commands.len() == 1 => {
            facts.commands[0].started_in().to_string()
        }
        _ => cwd.to_string(),
    };
    read_paths.retain(|p| p != &run_cwd);

    let digest = cordon_core::hash::sha256_hex(format!("run\0{run_cwd}\0{text}").as_bytes());
    let contract = Contract {
        version: CONTRACT_VERSION.to_string(),
        contract_id: format!("run-{}", &digest[..16]),
        intent: synth::intent(&text),
        actor: requester.actor(),
        commands: vec![requester.command(
            "c1".to_string(),
            argv,
            run_cwd,
            (read_paths, write_paths),
            network,
            effect,
        )],
        risk_class: risk,
        approval_mode: ApprovalMode::PolicyOnly,
        expected_outputs: Vec::new(),
        justification: "what cordon runs for the agent's request; the per-command contract it was judged on is recorded next to it".to_string(),
    };
    let value = serde_json::to_value(&contract).map_err(|e| LaunchError::Invalid(e.to_string()))?;
    let contract = Contract::from_value(value).map_err(|e| LaunchError::Invalid(e.to_string()))?;
    Ok(LaunchPlan {
        launch,
        contract,
        redirect,
        refused_redirect,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::native::{CompiledPolicy, Context, LoadedNativePolicy};
    use crate::shell::{self, Session};

    const POLICY: &str = "cordon_policy: 1\nname: t\nrules:\n  - id: all\n    outcome: allow\n    reason: everything\n    match: {}\n  - id: lease\n    outcome: redirect\n    reason: lease\n    match: {command: [touch]}\n    unless: {flags_any: [-a]}\n    redirect: {argv: [touch, -a, \"{rest:1}\"]}\n";

    fn plan_for(request: Request<'_>) -> LaunchPlan {
        let session = Session {
            cwd: "/w".into(),
            home: "/h".into(),
        };
        let policy = LoadedNativePolicy::parse(POLICY.as_bytes()).unwrap();
        let compiled = CompiledPolicy::compile(
            &policy,
            &Context {
                workspace: "/w".into(),
                home: "/h".into(),
            },
        )
        .unwrap();
        let script = match request {
            Request::Text(t) => shell::parse(t, &session),
            Request::Argv(a) => shell::from_argv(a, &session),
        };
        let knowledge = Knowledge::builtin();
        let facts = crate::facts::of_script(&script, &session, knowledge);
        let decision = crate::native::decide_facts(&facts, &compiled, &session, knowledge);
        plan(
            request,
            &script,
            &facts,
            &decision,
            "/w",
            &Requester::default(),
        )
        .unwrap()
    }

    fn argv(plan: &LaunchPlan) -> Vec<String> {
        plan.contract.commands[0].argvs().next().unwrap().to_vec()
    }

    #[test]
    fn plain_text_runs_as_its_argv_and_anything_else_under_bash() {
        let p = plan_for(Request::Text("git status --short"));
        assert_eq!(p.launch, Launch::Argv);
        assert_eq!(argv(&p), ["git", "status", "--short"]);
        for text in [
            "git status | head",
            "ls > out",
            "! true",
            "echo $HOME",
            "ls *.rs",
            "X=1 make",
            "timeout 5 make",
            "cd sub && ls",
            "cd sub",
            "umask 077",
            "exit 3",
            // git's global options are judged without them but must run with them.
            "git -c user.name=a commit -m x",
            "git --git-dir=inner/.git log",
            "git --no-pager log",
        ] {
            let p = plan_for(Request::Text(text));
            assert_eq!(p.launch, Launch::Shell, "{text}");
            assert_eq!(argv(&p), ["bash", "-c", text]);
        }
        // An argv request never goes through a shell, whatever it holds.
        let words = vec!["echo".to_string(), "$HOME; rm -rf /".to_string()];
        let p = plan_for(Request::Argv(&words));
        assert_eq!(p.launch, Launch::Argv);
        assert_eq!(argv(&p), words);
        let words: Vec<String> = ["git", "--git-dir=inner/.git", "tag", "v1"]
            .map(String::from)
            .to_vec();
        assert_eq!(argv(&plan_for(Request::Argv(&words))), words);
        // An empty argument cannot be in a CSC argv: bash runs it from its exact quoting.
        let p = plan_for(Request::Text("grep -c '' f"));
        assert_eq!(argv(&p), ["bash", "-c", "grep -c '' f"]);
        let words = vec!["grep".into(), "-c".into(), String::new(), "f x".into()];
        let p = plan_for(Request::Argv(&words));
        assert_eq!(argv(&p), ["bash", "-c", "grep -c '' 'f x'"]);
    }

    #[test]
    fn a_plain_command_that_moves_itself_runs_where_the_shell_is() {
        for text in [
            "make -C mk",
            "tar xzf a.tgz -C unz",
            "make --directory=mk test",
        ] {
            let p = plan_for(Request::Text(text));
            assert_eq!(p.launch, Launch::Argv, "{text}");
            assert_eq!(p.contract.commands[0].cwd, "/w", "{text}");
        }
        // The control: a `cd` before it moves the shell, and the command starts there.
        let p = plan_for(Request::Text("cd sub && make"));
        assert_eq!(p.contract.commands[0].cwd, "/w");
        assert_eq!(argv(&p), ["bash", "-c", "cd sub && make"]);
    }

    #[test]
    fn the_scope_is_the_union_of_the_parts() {
        let p = plan_for(Request::Text("cd sub && cat a > /w/b && cp x /tmp/y"));
        let c = &p.contract.commands[0];
        assert_eq!(c.cwd, "/w");
        for read in ["/w/sub", "/w/sub/a", "/w/sub/x"] {
            assert!(
                c.read_paths.iter().any(|r| r == read),
                "{read}: {:?}",
                c.read_paths
            );
        }
        for write in ["/w/b", "/tmp/y"] {
            assert!(
                c.write_paths.iter().any(|w| w == write),
                "{write}: {:?}",
                c.write_paths
            );
        }
    }

    #[test]
    fn a_redirect_replaces_one_plain_command_and_is_refused_inside_a_text() {
        let p = plan_for(Request::Text("touch f"));
        assert_eq!(argv(&p), ["touch", "-a", "f"]);
        assert_eq!(p.contract.commands[0].write_paths, ["/w/f"]);
        assert!(p.refused_redirect.is_none());
        let p = plan_for(Request::Text("touch f && echo ok"));
        assert!(p.redirect.is_none());
        assert!(p.refused_redirect.unwrap().contains("touch -a f"));
    }
}
