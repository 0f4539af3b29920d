//! `cordon install <agent>` and `cordon init`: the agent's configuration is merged, not replaced,
//! backed up when changed, left alone when already right, restored by `--uninstall`, and never
//! touched when it is malformed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        std::fs::create_dir_all(dir.path().join("user")).unwrap();
        Fixture { dir }
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn user(&self) -> PathBuf {
        self.dir.path().join("user")
    }

    fn cordon(&self, args: &[&str]) -> Output {
        Command::new(CORDON)
            .args(args)
            .env("CORDON_HOME", self.dir.path().join("cordon-home"))
            .env("HOME", self.user())
            .env_remove("CODEX_HOME")
            .current_dir(self.project())
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn backups(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".bak")
        })
        .count()
}

/// The commands of every hook entry under `event`, whatever the agent's nesting.
fn commands(config: &Value, event: &str) -> Vec<String> {
    let mut found = Vec::new();
    for group in config["hooks"][event].as_array().into_iter().flatten() {
        if let Some(c) = group["command"].as_str() {
            found.push(c.to_string());
        }
        for hook in group["hooks"].as_array().into_iter().flatten() {
            found.push(hook["command"].as_str().unwrap().to_string());
        }
    }
    found
}

#[test]
fn install_merges_backs_up_is_idempotent_and_uninstall_restores() {
    let cases = [
        ("claude-code", ".claude/settings.json", "PreToolUse"),
        ("codex", ".codex/hooks.json", "PreToolUse"),
        ("gemini", ".gemini/settings.json", "BeforeTool"),
        ("cursor", ".cursor/hooks.json", "beforeShellExecution"),
    ];
    for (agent, file, event) in cases {
        let f = Fixture::new();
        let path = f.project().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mine = if agent == "cursor" {
            json!({"command": "./my-check.sh"})
        } else {
            json!({"matcher": "Bash", "hooks": [{"type": "command", "command": "./my-check.sh"}]})
        };
        let original = json!({
            "model": "keep-me",
            "permissions": {"deny": ["Bash(rm -rf *)"]},
            "hooks": {event: [mine]},
        });
        std::fs::write(&path, serde_json::to_string_pretty(&original).unwrap()).unwrap();

        let out = f.cordon(&["install", agent, "--project"]);
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", text(&out.stderr));
        let installed = read(&path);
        assert_eq!(installed["model"], "keep-me", "{agent}");
        assert_eq!(installed["permissions"], original["permissions"], "{agent}");
        let hooks = commands(&installed, event);
        assert_eq!(hooks.len(), 2, "{agent}: {hooks:?}");
        assert_eq!(hooks[0], "./my-check.sh");
        // Hardened unless the person chose otherwise, and the command line says so.
        assert!(
            hooks[1].ends_with(&format!(" hook {agent} --mode hardened")),
            "{hooks:?}"
        );
        assert_eq!(backups(path.parent().unwrap()), 1, "{agent}");
        // The hook command runs this binary by absolute path.
        assert!(hooks[1].starts_with(CORDON), "{hooks:?}");
        // Install also made the config home (policy, key, journal).
        let home = f.dir.path().join("cordon-home");
        assert!(home.join("policy.yaml").exists());
        assert!(home.join("journal/journal.json").exists());

        // Twice: nothing changes, no new backup.
        let before = std::fs::read(&path).unwrap();
        let out = f.cordon(&["install", agent, "--project"]);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("nothing changed"), "{agent}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{agent}");
        assert_eq!(backups(path.parent().unwrap()), 1, "{agent}");

        let out = f.cordon(&["install", agent, "--project", "--uninstall"]);
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", text(&out.stderr));
        let mut expected = original.clone();
        if agent == "cursor" {
            expected["version"] = json!(1);
        }
        assert_eq!(read(&path), expected, "{agent}");
        assert_eq!(backups(path.parent().unwrap()), 2, "{agent}");
    }
}

#[test]
fn install_into_a_fresh_user_configuration() {
    let f = Fixture::new();
    let out = f.cordon(&["install", "claude-code"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let path = f.user().join(".claude/settings.json");
    let config = read(&path);
    assert_eq!(
        config["hooks"]["PreToolUse"][0]["matcher"],
        "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|Glob|LS|WebFetch"
    );
    assert_eq!(config["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"], 30);
    assert_eq!(config["hooks"]["PostToolUse"][0]["matcher"], "Bash");
    assert_eq!(backups(path.parent().unwrap()), 0);
    // Installing again with another ask setting replaces cordon's entry, still one of each.
    let out = f.cordon(&["install", "claude-code", "--on-ask", "approval"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = read(&path);
    let pre = commands(&config, "PreToolUse");
    assert_eq!(pre.len(), 1, "{pre:?}");
    assert!(
        pre[0].ends_with(" hook claude-code --on-ask approval --mode hardened"),
        "{pre:?}"
    );
    assert_eq!(backups(path.parent().unwrap()), 1);
    // Local mode only when the person asks for it; it replaces the entry too.
    let out = f.cordon(&["install", "claude-code", "--mode", "local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = read(&path);
    let pre = commands(&config, "PreToolUse");
    assert_eq!(pre.len(), 1, "{pre:?}");
    assert!(
        pre[0].ends_with(" hook claude-code --mode local"),
        "{pre:?}"
    );
    // The hook command install wrote parses: `cordon hook` accepts its `--mode`.
    let words = shlex::split(&pre[0]).unwrap();
    let event = json!({
        "session_id": "s-1", "tool_use_id": "t", "cwd": f.dir.path(),
        "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": "ls"},
    });
    let mut hook = Command::new(&words[0]);
    hook.args(&words[1..])
        .env("CORDON_HOME", f.dir.path().join("cordon-home"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = hook.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        event.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_as = reply["hookSpecificOutput"]["updatedInput"]["command"]
        .as_str()
        .unwrap();
    assert!(run_as.contains(" exec --mode local "), "{run_as}");
    // Uninstalling what install created leaves an empty object, not a missing file.
    let out = f.cordon(&["install", "claude-code", "--uninstall"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(&path), json!({}));
}

#[test]
fn malformed_configuration_is_an_error_and_nothing_is_written() {
    let bad: [(&str, &[u8]); 5] = [
        ("not JSON", b"{\"hooks\": "),
        ("not an object", b"[]"),
        ("hooks not an object", b"{\"hooks\": []}"),
        ("event not a list", b"{\"hooks\": {\"PreToolUse\": {}}}"),
        ("not UTF-8", b"{\"a\": \"\xff\"}"),
    ];
    for (why, bytes) in bad {
        let f = Fixture::new();
        let path = f.project().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        for args in [
            &["install", "claude-code", "--project"][..],
            &["install", "claude-code", "--project", "--uninstall"][..],
        ] {
            let out = f.cordon(args);
            assert_eq!(out.status.code(), Some(65), "{why}: {}", text(&out.stdout));
            assert!(
                text(&out.stderr).contains("settings.json"),
                "{why}: {}",
                text(&out.stderr)
            );
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{why}");
            let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
            assert_eq!(entries, 1, "{why}: no backup, no temporary file");
        }
    }
}

#[test]
fn init_is_idempotent_and_keeps_what_exists() {
    let f = Fixture::new();
    let out = f.cordon(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created a signing key"));
    let home = f.dir.path().join("cordon-home");
    std::fs::write(home.join("policy.yaml"), "# edited\n").unwrap();
    let keys: Vec<_> = std::fs::read_dir(home.join("keys")).unwrap().collect();
    let out = f.cordon(&["init"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out.stdout).contains("created"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(home.join("policy.yaml")).unwrap(),
        "# edited\n"
    );
    assert_eq!(
        std::fs::read_dir(home.join("keys")).unwrap().count(),
        keys.len()
    );
    // An empty journal verifies with the home's key and no arguments.
    let out = f.cordon(&["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}
