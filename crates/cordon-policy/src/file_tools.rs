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
    let mut tags = vec!["file_tool".to_string()];
    if access == ToolAccess::Fetch {
        match crate::facts::host_of_url(target) {
            Some(host) => hosts.push(host),
            None => unresolved.push(format!("`{target}` is not a URL cordon can read")),
        }
    } else {
        let named = match pathutil::join(Some(&cwd), &session.home, target) {
            Some(joined) => special_file(
                &joined,
                &cwd,
                &mut Named {
                    hosts: &mut hosts,
                    tags: &mut tags,
                    unresolved: &mut unresolved,
                },
            ),
            None => {
                unresolved.push(format!("the path `{target}` cannot be resolved"));
                None
            }
        };
        let paths: Vec<String> = named
            .into_iter()
            .chain(resolved.map(pathutil::normalize_absolute))
            .collect();
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
        ToolAccess::Read | ToolAccess::Search => (EffectType::Observe, !hosts.is_empty()),
        ToolAccess::Write => (EffectType::TransformLocal, !hosts.is_empty()),
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
        tags,
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

/// What a file-tool call's facts gather besides paths.
struct Named<'a> {
    hosts: &'a mut Vec<String>,
    tags: &'a mut Vec<String>,
    unresolved: &'a mut Vec<String>,
}

/// Devices a file tool may read that hold nothing of anyone's.
const EMPTY_DEVICES: &[&str] = &["/dev/null", "/dev/zero"];

/// The file `joined` (absolute) reaches, judged as the shell path judges it
/// (`pathutil::special`): `/proc/self/root/x` is `/x`, `/proc/PID/environ` is a process's
/// environment, `/dev/tcp/HOST/PORT` is the network. A descriptor (`/dev/fd/0`, `/dev/stdin`,
/// `/proc/PID/fd/N`), another process's memory or cwd names nothing cordon can judge: the
/// tool's own process is the agent's, so even its standard streams are not the command's, as
/// they are in a shell text.
fn special_file(joined: &str, cwd: &str, named: &mut Named<'_>) -> Option<String> {
    let normalized = pathutil::normalize_absolute(joined);
    match pathutil::special(joined, cwd) {
        pathutil::Special::Path(path) => Some(path),
        pathutil::Special::Stream if EMPTY_DEVICES.contains(&normalized.as_str()) => None,
        pathutil::Special::Stream => {
            named.unresolved.push(format!(
                "`{normalized}` is a descriptor of the agent's own process, whose file cordon cannot know"
            ));
            None
        }
        pathutil::Special::Network { host } => {
            named.hosts.push(host);
            None
        }
        pathutil::Special::Environment => {
            named.tags.push("reads_environment".to_string());
            Some(normalized)
        }
        pathutil::Special::Unknown(why) => {
            named.unresolved.push(why);
            None
        }
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

    /// Red team, round 3: what the shell path asks about or denies, the file tools did not.
    #[test]
    fn file_tools_judge_process_views_histories_and_password_hashes_as_the_shell_does() {
        for (tool, target, expected) in [
            // Another process's environment and memory, and descriptors of the agent's own.
            ("Read", "/proc/1234/environ", Outcome::Ask),
            ("Read", "/proc/self/environ", Outcome::Ask),
            ("Read", "/proc/1234/mem", Outcome::Ask),
            ("Read", "/proc/self/mem", Outcome::Ask),
            ("Read", "/dev/fd/0", Outcome::Ask),
            ("Read", "/dev/stdin", Outcome::Ask),
            ("Read", "/proc/self/fd/3", Outcome::Ask),
            ("Read", "/proc/1234/cwd/notes.txt", Outcome::Ask),
            ("Write", "/dev/fd/1", Outcome::Ask),
            ("Read", "/dev/tcp/10.0.0.1/80", Outcome::Ask),
            // Views that lead to a file are judged as that file.
            ("Read", "/proc/1234/root/h/.aws/credentials", Outcome::Deny),
            ("Read", "/proc/self/cwd/../h/.ssh/id_ed25519", Outcome::Deny),
            // Histories and password hashes are credentials.
            ("Read", "/h/.bash_history", Outcome::Deny),
            ("Read", "/h/.zsh_history", Outcome::Deny),
            ("Read", "/h/.python_history", Outcome::Deny),
            ("Read", "/h/.node_repl_history", Outcome::Deny),
            ("Read", "/h/.psql_history", Outcome::Deny),
            ("Read", "/h/.mysql_history", Outcome::Deny),
            ("Read", "/etc/shadow", Outcome::Deny),
            ("Read", "/etc/gshadow", Outcome::Deny),
            ("Grep", "/h/.cache/huggingface", Outcome::Allow),
            ("Read", "/h/.cache/huggingface/token", Outcome::Deny),
            ("Read", "/h/.cache/huggingface/stored_tokens", Outcome::Deny),
            // Controls: the same kinds of path, harmless.
            ("Read", "/proc/cpuinfo", Outcome::Allow),
            ("Read", "/proc/self/status", Outcome::Allow),
            ("Read", "/dev/null", Outcome::Allow),
            ("Read", "/etc/passwd", Outcome::Allow),
            ("Read", "/proc/self/root/w/src/lib.rs", Outcome::Allow),
            (
                "Read",
                "/h/.cache/huggingface/hub/model.json",
                Outcome::Allow,
            ),
            ("Read", "/h/.bashrc", Outcome::Allow),
        ] {
            assert_eq!(decide(tool, target, None), expected, "{tool} {target}");
        }
    }

    /// Red team, round 3: settings that make a tool run code later are asked about, as
    /// `.vscode` and `.claude` are.
    #[test]
    fn file_tools_ask_before_writing_settings_that_run_code_later() {
        for target in [
            ".pre-commit-config.yaml",
            "lefthook.yml",
            ".lefthook.yml",
            "opencode.json",
            ".opencode/agent/x.md",
            ".kiro/hooks/x.json",
            ".roo/rules/x.md",
            ".zed/settings.json",
            ".devcontainer/devcontainer.json",
            ".continue/config.json",
            ".windsurf/rules/x.md",
            ".cursorrules",
            ".windsurfrules",
            ".clinerules",
            "sub/project/.vscode/tasks.json",
        ] {
            assert_eq!(
                decide("Write", target, None),
                Outcome::Ask,
                "Write {target}"
            );
            assert_eq!(decide("Edit", target, None), Outcome::Ask, "Edit {target}");
            // Control: reading them is fine.
            assert_eq!(
                decide("Read", target, None),
                Outcome::Allow,
                "Read {target}"
            );
        }
        // Controls: names that only look alike.
        for target in [
            "docs/pre-commit.md",
            "lefthook.md",
            "src/roo.rs",
            "devcontainer.md",
        ] {
            assert_eq!(
                decide("Write", target, None),
                Outcome::Allow,
                "Write {target}"
            );
        }
    }
}
