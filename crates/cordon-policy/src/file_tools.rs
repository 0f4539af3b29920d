//! The agent's own file tools (Claude Code's `Read`, `Write`, `Edit`, `MultiEdit`, `NotebookEdit`,
//! `Grep`, `Glob`, `WebFetch`, and the other agents' equivalents), judged by the same policy as
//! shell text: a tool call becomes the facts of one command that reads, writes or fetches what it
//! names, so a rule about `~/.ssh` or `.git/hooks` holds for the agent's `Read` as for `cat`.
//!
//! The path is judged as named and as resolved: the caller (the binary, with the sandbox's
//! resolver) passes the real path a symlink leads to, so a `Write` to a workspace link that points
//! at `~/.bashrc` is judged as writing `~/.bashrc`. This module touches no filesystem.

use cordon_core::EffectType;

use crate::enforcement::Enforcement;
use crate::facts::{CommandFacts, Facts};
use crate::shell::{pathutil, Origin, ShellState};

/// What a file tool does with what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolAccess {
    /// Reads one file (`Read`).
    Read,
    /// Creates or changes one file (`Write`, `Edit`, `MultiEdit`, `NotebookEdit`).
    Write,
    /// Reads what lies under a directory (`Grep`, `Glob`).
    Search,
    /// Fetches a URL (`WebFetch`).
    Fetch,
}

impl ToolAccess {
    /// The access of a Claude Code tool by name; `None` for a tool that names no file or URL.
    pub fn of_claude_code_tool(name: &str) -> Option<ToolAccess> {
        match name {
            "Read" => Some(ToolAccess::Read),
            "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => Some(ToolAccess::Write),
            "Grep" | "Glob" | "LS" => Some(ToolAccess::Search),
            "WebFetch" => Some(ToolAccess::Fetch),
            _ => None,
        }
    }
}

/// The facts of one file-tool call: `tool` (its name, recorded as the program) doing `access` to
/// `target` (a path, relative to the session's cwd, or a URL for `Fetch`), whose real path the
/// caller resolved to `resolved` (`None` when it does not exist yet or is the same).
pub fn facts(
    tool: &str,
    access: ToolAccess,
    target: &str,
    resolved: Option<&str>,
    session: &ShellState,
    enforcement: Enforcement,
) -> Facts {
    let cwd = pathutil::normalize_absolute(&session.cwd);
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let mut hosts = Vec::new();
    let mut unresolved = Vec::new();
    if access == ToolAccess::Fetch {
        match crate::facts::host_of_url(target) {
            Some(host) => hosts.push(host),
            None => unresolved.push(format!("`{target}` is not a URL cordon can read")),
        }
    } else {
        let named = pathutil::join(Some(&cwd), &session.home, target).map(|p| {
            match pathutil::special(&p, &cwd) {
                pathutil::Special::Path(path) => path,
                _ => pathutil::normalize_absolute(&p),
            }
        });
        let paths: Vec<String> = named
            .into_iter()
            .chain(resolved.map(pathutil::normalize_absolute))
            .collect();
        if paths.is_empty() {
            unresolved.push(format!("the path `{target}` cannot be resolved"));
        }
        for path in paths {
            let list = if access == ToolAccess::Write {
                &mut writes
            } else {
                &mut reads
            };
            if !list.contains(&path) {
                list.push(path);
            }
        }
    }
    let (effect, network) = match access {
        ToolAccess::Read | ToolAccess::Search => (EffectType::Observe, false),
        ToolAccess::Write => (EffectType::TransformLocal, false),
        ToolAccess::Fetch => (EffectType::FetchExternal, true),
    };
    let command = CommandFacts {
        argv: vec![tool.to_string(), target.to_string()],
        program: tool.to_string(),
        command_path: vec![tool.to_string()],
        flags: Vec::new(),
        cwd,
        starts_in: None,
        reads,
        writes,
        absent: Vec::new(),
        implied_writes: Vec::new(),
        network,
        hosts,
        effect,
        destructive: false,
        known: true,
        unmodelled: Vec::new(),
        read_only: access != ToolAccess::Write,
        inline_code: false,
        privileged: false,
        tags: vec!["file_tool".to_string()],
        wrappers: Vec::new(),
        assignments: Vec::new(),
        origin: Origin::Direct,
        unresolved,
        enforcement,
    };
    Facts {
        commands: vec![command],
        unresolved: Vec::new(),
        enforcement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::Knowledge;
    use crate::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
    use cordon_core::Outcome;

    fn decide(tool: &str, target: &str, resolved: Option<&str>) -> Outcome {
        let session = ShellState {
            cwd: "/w".into(),
            home: "/h".into(),
        };
        let policy = CompiledPolicy::compile(
            &LoadedNativePolicy::default_pack().unwrap(),
            &Context {
                workspace: "/w".into(),
                home: "/h".into(),
            },
        )
        .unwrap();
        let access = ToolAccess::of_claude_code_tool(tool).unwrap();
        let facts = facts(tool, access, target, resolved, &session, Enforcement::Local);
        native::decide_facts(&facts, &policy, &session, Knowledge::builtin()).outcome
    }

    #[test]
    fn file_tools_are_judged_like_commands_on_the_real_path() {
        assert_eq!(decide("Read", "/h/.ssh/id_rsa", None), Outcome::Deny);
        assert_eq!(decide("Read", "src/lib.rs", None), Outcome::Allow);
        // A workspace link to a secret or a start-up file is judged on where it leads.
        assert_eq!(
            decide("Read", "link", Some("/h/.aws/credentials")),
            Outcome::Deny
        );
        assert_eq!(decide("Write", "notes", Some("/h/.bashrc")), Outcome::Deny);
        assert_eq!(decide("Write", "src/lib.rs", None), Outcome::Allow);
        assert_eq!(decide("Edit", ".git/hooks/pre-commit", None), Outcome::Ask);
        assert_eq!(decide("Write", ".git/commondir", None), Outcome::Ask);
        assert_eq!(decide("Write", ".claude/settings.json", None), Outcome::Ask);
        assert_eq!(decide("Write", "/h/notes.txt", None), Outcome::Ask);
        assert_eq!(decide("Grep", "/h/.ssh", None), Outcome::Deny);
        assert_eq!(decide("Glob", "src", None), Outcome::Allow);
        assert_eq!(
            decide("WebFetch", "https://example.com/x", None),
            Outcome::Ask
        );
        assert_eq!(
            decide("Read", "/proc/self/root/h/.ssh/id_rsa", None),
            Outcome::Deny
        );
    }
}
