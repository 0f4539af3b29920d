//! `cordon hook <agent>` as the agents run it: event JSON on stdin, the verdict on stdout and in
//! the exit code. Every way of failing must still come out as a denial the agent obeys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A workspace with an initialised cordon home.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture::bare();
        let out = fixture.cordon(&["init"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        fixture
    }

    /// No `cordon init`: no key, no journal.
    fn bare() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Fixture { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("cordon-home")
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CORDON);
        command
            .args(args)
            .env("CORDON_HOME", self.home())
            .env("HOME", "/home/agent")
            .env_remove("CLAUDE_PROJECT_DIR")
            .env_remove("GEMINI_PROJECT_DIR")
            .current_dir(self.work());
        command
    }

    fn cordon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn hook(&self, agent: &str, input: &[u8], extra: &[&str]) -> Output {
        let mut args = vec!["hook", agent];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The hook may stop reading early (oversized input); a broken pipe is expected then.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    fn claude(&self, tool: &str, tool_input: Value) -> Output {
        let event = json!({
            "session_id": "s-1",
            "tool_use_id": "toolu_1",
            "cwd": self.work(),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": tool,
            "tool_input": tool_input,
        });
        self.hook("claude-code", event.to_string().as_bytes(), &[])
    }

    fn bash(&self, agent: &str, command: &str, extra: &[&str]) -> Output {
        let event = shell_event(agent, command, &self.work());
        self.hook(agent, event.to_string().as_bytes(), extra)
    }

    /// The cordon session the hook mapped `agent`'s harness session `s-1` to.
    fn session(&self, agent: &str) -> String {
        let dir = self.home().join("state/sessions");
        let mut found = Vec::new();
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let s: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                if s["external"] == json!({"harness": agent, "id": "s-1"}) {
                    found.push(s["id"].as_str().unwrap().to_string());
                }
            }
        }
        assert_eq!(found.len(), 1, "{agent}: {found:?}");
        found.remove(0)
    }

    /// The words of the rewrite the hook gives `agent`'s harness session `s-1` for `text`:
    /// `exec` in hardened mode under the mapped session, pinned to the directory the text was
    /// judged in.
    fn exec_words(&self, agent: &str, options: &[&str], text: &str) -> Vec<String> {
        self.exec_words_in("hardened", agent, options, text)
    }

    /// [`Fixture::exec_words`] with the sandbox mode `mode`.
    fn exec_words_in(&self, mode: &str, agent: &str, options: &[&str], text: &str) -> Vec<String> {
        let mut words = vec![
            CORDON.to_string(),
            "exec".into(),
            "--mode".into(),
            mode.into(),
            "--session".into(),
            self.session(agent),
            "--cwd".into(),
            self.work().to_str().unwrap().to_string(),
        ];
        words.extend(options.iter().map(|o| o.to_string()));
        words.extend(["--shell".to_string(), text.to_string()]);
        words
    }

    fn journal(&self) -> Vec<Value> {
        let path = self.home().join("journal/entries.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The PreToolUse-equivalent event for shell text in each agent's format.
fn shell_event(agent: &str, command: &str, cwd: &Path) -> Value {
    match agent {
        "claude-code" | "codex" => json!({
            "session_id": "s-1", "cwd": cwd, "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": command, "description": "d"},
        }),
        "gemini" => json!({
            "session_id": "s-1", "cwd": cwd, "hook_event_name": "BeforeTool",
            "tool_name": "run_shell_command", "tool_input": {"command": command},
        }),
        "cursor" => json!({
            "conversation_id": "s-1", "cwd": cwd, "hook_event_name": "beforeShellExecution",
            "command": command, "workspace_roots": [cwd],
        }),
        other => panic!("unknown agent {other}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn reply(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", text(&out.stdout)))
}

fn decision(out: &Output) -> (String, Value) {
    let v = reply(out);
    let d = &v["hookSpecificOutput"];
    (
        d["permissionDecision"].as_str().unwrap().to_string(),
        d.clone(),
    )
}

/// The words bash makes of `command`, without running any of them: `printf` prints each word,
/// so a quoting mistake shows as a different word list, and a substitution that escaped its
/// quotes runs (and leaves its marker).
fn bash_words(command: &str, cwd: &Path) -> Vec<String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("printf '%s\\0' {command}"))
        .current_dir(cwd)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut words: Vec<String> = text(&out.stdout).split('\0').map(str::to_string).collect();
    words.pop();
    words
}

#[test]
fn claude_code_allow_runs_the_text_under_cordon_exec_and_keeps_it_visible() {
    let f = Fixture::new();
    let out = f.claude(
        "Bash",
        json!({"command": "ls -la", "description": "list", "timeout": 1000}),
    );
    let (verdict, d) = decision(&out);
    assert_eq!(verdict, "allow");
    let rewritten = d["updatedInput"]["command"].as_str().unwrap();
    assert_eq!(
        bash_words(rewritten, &f.work()),
        f.exec_words("claude-code", &[], "ls -la")
    );
    // The rest of the tool input goes back unchanged (Claude Code replaces, it does not merge).
    assert_eq!(d["updatedInput"]["description"], "list");
    assert_eq!(d["updatedInput"]["timeout"], 1000);
}

#[test]
fn hostile_text_reaches_cordon_exec_byte_for_byte() {
    let f = Fixture::new();
    let hostile = [
        "echo \"it's $(touch MARKER)\"",
        "echo 'a'\"'\"'b' `touch MARKER`",
        "echo one\necho 'two'; echo \"$HOME\" '$(touch MARKER)'",
        "printf '%s\\n' 'it'\\''s' \"\\\"\" $'\\x41'",
    ];
    for text_in in hostile {
        let (verdict, d) = decision(&f.claude("Bash", json!({"command": text_in})));
        assert_eq!(verdict, "allow", "{text_in}: {d}");
        let rewritten = d["updatedInput"]["command"].as_str().unwrap();
        assert!(rewritten.contains(" --shell "), "{rewritten}");
        assert_eq!(
            bash_words(rewritten, &f.work()),
            f.exec_words("claude-code", &[], text_in),
            "{rewritten}"
        );
        assert!(!f.work().join("MARKER").exists(), "{rewritten} ran code");
    }
    // Positive control: naive quoting of substitution text runs it, and this check sees it.
    let naive = format!("{CORDON} exec --shell \"echo $(touch MARKER)\"");
    assert_ne!(
        bash_words(&naive, &f.work()),
        [CORDON, "exec", "--shell", "echo $(touch MARKER)"]
    );
    assert!(f.work().join("MARKER").exists());
}

#[test]
fn a_rewritten_command_is_judged_by_what_it_wraps_and_not_wrapped_twice() {
    let f = Fixture::new();
    let (_, first) = decision(&f.claude("Bash", json!({"command": "git status"})));
    let wrapped = first["updatedInput"]["command"]
        .as_str()
        .unwrap()
        .to_string();
    let (verdict, again) = decision(&f.claude("Bash", json!({"command": wrapped})));
    assert_eq!(verdict, "allow");
    assert_eq!(again["updatedInput"]["command"], wrapped.as_str());
    // Anything added around the wrapper is judged as written, never passed through as one: a
    // program cordon does not know runs only inside a new hardened wrapper, where the kernel
    // confines it (and the cordon it starts) to the envelope.
    let text = format!("{wrapped} --policy /tmp/mine.yaml");
    let (verdict, d) = decision(&f.claude("Bash", json!({"command": text})));
    assert_eq!(verdict, "allow");
    let rewritten = d["updatedInput"]["command"].as_str().unwrap();
    assert_eq!(
        bash_words(rewritten, &f.work()),
        f.exec_words("claude-code", &[], &text)
    );
    // The control: in local mode nothing confines it, so it is asked.
    let (verdict, _) = decision(&f.bash("claude-code", &text, &["--mode", "local"]));
    assert_eq!(verdict, "ask");
}

#[test]
fn the_rewrite_runs_hardened_unless_local_was_chosen() {
    let f = Fixture::new();
    let (verdict, d) = decision(&f.bash("claude-code", "ls", &["--mode", "local"]));
    assert_eq!(verdict, "allow");
    let local = d["updatedInput"]["command"].as_str().unwrap().to_string();
    assert_eq!(
        bash_words(&local, &f.work()),
        f.exec_words_in("local", "claude-code", &[], "ls")
    );
    // An agent that writes the local wrapper itself does not choose the mode: the hook judges
    // the text inside and wraps it again with its own (hardened) mode.
    let (verdict, d) = decision(&f.claude("Bash", json!({"command": local})));
    assert_eq!(verdict, "allow");
    let rewritten = d["updatedInput"]["command"].as_str().unwrap();
    assert_eq!(
        bash_words(rewritten, &f.work()),
        f.exec_words("claude-code", &[], "ls")
    );
}

#[test]
fn hardened_text_is_allowed_only_where_the_kernel_enforces_it_and_the_hook_says_why() {
    let f = Fixture::new();
    let (verdict, d) = decision(&f.claude("Bash", json!({"command": "ls"})));
    let kernel_can = cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI
        && Path::new("/proc/sys/kernel/seccomp/actions_avail").exists();
    if kernel_can {
        // This kernel enforces hardened mode: allowed, rewritten to a hardened run. (The refusal
        // below is what a kernel without Landlock or seccomp gets.)
        assert_eq!(verdict, "allow", "{d}");
        return;
    }
    // Fail closed, and say so: the text is not run unconfined, and the person learns the choice.
    assert_eq!(verdict, "deny", "{d}");
    let reason = d["permissionDecisionReason"].as_str().unwrap();
    assert!(
        reason.contains("Landlock ABI") || reason.contains("seccomp"),
        "{reason}"
    );
    assert!(reason.contains("--mode local"), "{reason}");
    // Local mode, chosen, still runs it (without kernel enforcement).
    let (verdict, _) = decision(&f.bash("claude-code", "ls", &["--mode", "local"]));
    assert_eq!(verdict, "allow");
}

#[test]
fn deny_and_ask_carry_the_reason() {
    let f = Fixture::new();
    let (verdict, d) = decision(&f.claude("Bash", json!({"command": "cat ~/.ssh/id_rsa"})));
    assert_eq!(verdict, "deny");
    assert!(d["permissionDecisionReason"]
        .as_str()
        .unwrap()
        .contains("credentials"));
    assert!(d.get("updatedInput").is_none());

    let (verdict, d) = decision(&f.claude("Bash", json!({"command": "git push"})));
    assert_eq!(verdict, "ask");
    assert!(d["permissionDecisionReason"]
        .as_str()
        .unwrap()
        .starts_with("Needs approval"));

    // Configured to deny what needs approval.
    let (verdict, _) = decision(&f.bash("claude-code", "git push", &["--on-ask", "deny"]));
    assert_eq!(verdict, "deny");

    // Configured to wait for a cordon approval: it runs under `cordon exec`, which files the
    // request and waits; Codex, which has no ask, gets the same.
    for agent in ["claude-code", "codex"] {
        let (verdict, d) = decision(&f.bash(
            agent,
            "git push",
            &["--on-ask", "approval", "--approval-wait", "45"],
        ));
        assert_eq!(verdict, "allow", "{agent}");
        let rewritten = d["updatedInput"]["command"].as_str().unwrap();
        assert_eq!(
            bash_words(rewritten, &f.work()),
            f.exec_words(agent, &["--approval-timeout", "45"], "git push")
        );
        assert!(d["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("once a person approves"));
    }
    // A denial stays a denial whatever the ask setting.
    let (verdict, _) = decision(&f.bash("claude-code", "rm -rf /", &["--on-ask", "approval"]));
    assert_eq!(verdict, "deny");
}

#[test]
fn codex_gets_only_deny_with_a_reason_or_allow_with_updated_input() {
    let f = Fixture::new();
    let (verdict, d) = decision(&f.bash("codex", "git push", &[]));
    assert_eq!(verdict, "deny", "Codex rejects ask");
    assert!(!d["permissionDecisionReason"].as_str().unwrap().is_empty());
    let (verdict, d) = decision(&f.bash("codex", "cargo test", &[]));
    assert_eq!(verdict, "allow");
    assert!(d["updatedInput"]["command"].is_string());
}

#[test]
fn gemini_answers_with_a_top_level_decision_and_a_merged_tool_input() {
    let f = Fixture::new();
    let v = reply(&f.bash("gemini", "cargo build", &[]));
    assert_eq!(v["decision"], "allow");
    let rewritten = v["hookSpecificOutput"]["tool_input"]["command"]
        .as_str()
        .unwrap();
    let work = f.work();
    assert_eq!(
        bash_words(rewritten, &work),
        f.exec_words("gemini", &[], "cargo build")
    );
    // The shell tool's `dir_path` moves where the command runs, not the workspace (red-team
    // round sixteen: `dir_path=~/.local/bin` made that directory writable).
    let elsewhere = f.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let mut event = shell_event("gemini", "bash w.sh", &work);
    event["tool_input"]["dir_path"] = json!(elsewhere);
    let v = reply(&f.hook("gemini", event.to_string().as_bytes(), &[]));
    let rewritten = v["hookSpecificOutput"]["tool_input"]["command"]
        .as_str()
        .unwrap();
    let words = bash_words(rewritten, &work);
    let at = words.iter().position(|w| w == "--workspace").unwrap();
    assert_eq!(words[at + 1], work.to_str().unwrap(), "{words:?}");
    let at = words.iter().position(|w| w == "--cwd").unwrap();
    assert_eq!(words[at + 1], elsewhere.to_str().unwrap(), "{words:?}");
    let v = reply(&f.bash("gemini", "rm -rf /", &[]));
    assert_eq!(v["decision"], "deny");
    assert!(v["reason"].as_str().unwrap().starts_with("Denied"));
    let v = reply(&f.bash("gemini", "git push", &[]));
    assert_eq!(v["decision"], "ask");
}

#[test]
fn cursor_allows_only_the_sandboxed_form_and_names_it() {
    let f = Fixture::new();
    let v = reply(&f.bash("cursor", "cargo build", &[]));
    assert_eq!(v["permission"], "deny");
    let message = v["agent_message"].as_str().unwrap();
    let run_as = message.split("run exactly this instead: ").nth(1).unwrap();
    // Cursor names its workspace roots: the run's envelope is that workspace.
    let work = f.work();
    assert_eq!(
        bash_words(run_as, &work),
        f.exec_words(
            "cursor",
            &["--workspace", work.to_str().unwrap()],
            "cargo build"
        )
    );
    let v = reply(&f.bash("cursor", run_as, &[]));
    assert_eq!(v["permission"], "allow", "{v}");
    let v = reply(&f.bash("cursor", "rm -rf /", &[]));
    assert_eq!(v["permission"], "deny");
    let v = reply(&f.bash("cursor", "git push", &[]));
    assert_eq!(v["permission"], "ask");
}

#[test]
fn file_writes_are_checked_against_the_write_scope() {
    let f = Fixture::new();
    let inside = f.work().join("src/main.rs");
    for tool in ["Write", "Edit", "MultiEdit"] {
        // Allowed: no objection, Claude Code's own rules decide.
        let out = f.claude(tool, json!({"file_path": inside, "content": "x"}));
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(text(&out.stdout), "", "{tool}");
        let (verdict, d) = decision(&f.claude(
            tool,
            json!({"file_path": "/home/agent/.ssh/authorized_keys"}),
        ));
        assert_eq!(verdict, "deny", "{tool}");
        assert!(d["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains(tool));
        let (verdict, _) = decision(&f.claude(tool, json!({"file_path": "/etc/passwd"})));
        assert_eq!(verdict, "deny", "{tool}");
        let (verdict, _) = decision(&f.claude(tool, json!({"file_path": "/opt/elsewhere/x"})));
        assert_eq!(verdict, "ask", "{tool}");
    }
}

/// Every adapter's form of "cordon could not decide, so it denies".
fn assert_fail_closed(agent: &str, out: &Output, why: &str) {
    match agent {
        "cursor" => {
            let v = reply(out);
            assert_eq!(v["permission"], "deny", "{why}: {v}");
            assert!(v["agent_message"]
                .as_str()
                .unwrap()
                .contains("could not decide"));
        }
        _ => {
            assert_eq!(out.status.code(), Some(2), "{why}: {}", text(&out.stdout));
            assert!(
                text(&out.stderr).contains("cordon could not decide, so it denies"),
                "{why}: {}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn bad_input_is_denied_in_every_agents_protocol() {
    let f = Fixture::new();
    for agent in ["claude-code", "codex", "gemini", "cursor"] {
        // Positive control: the same adapter allows a good request, so the checks below can fail.
        let ok = f.bash(agent, "ls", &[]);
        assert_eq!(ok.status.code(), Some(0), "{agent}");
        assert!(!text(&ok.stdout).contains("could not decide"), "{agent}");

        let good = shell_event(agent, "ls", &f.work());
        let mut wrong_type = good.clone();
        let mut unknown_tool = good.clone();
        let mut missing = good.clone();
        let mut unknown_event = good.clone();
        match agent {
            "cursor" => {
                wrong_type["command"] = json!(42);
                unknown_tool["hook_event_name"] = json!("beforeMCPExecution");
                missing.as_object_mut().unwrap().remove("command");
                unknown_event["hook_event_name"] = json!(["x"]);
            }
            _ => {
                wrong_type["tool_input"]["command"] = json!(["ls"]);
                unknown_tool["tool_name"] = json!("TodoWrite");
                missing.as_object_mut().unwrap().remove("tool_input");
                unknown_event["hook_event_name"] = json!("Stop");
            }
        }
        let oversized = format!(
            "{{\"pad\":\"{}\",{}",
            "x".repeat(5 << 20),
            &good.to_string()[1..]
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("not JSON", b"{\"hook_event_name\": ".to_vec()),
            ("empty", Vec::new()),
            ("not an object", b"[1,2]".to_vec()),
            ("not UTF-8", b"{\"command\": \"\xff\"}".to_vec()),
            ("wrong type", wrong_type.to_string().into_bytes()),
            ("unknown tool", unknown_tool.to_string().into_bytes()),
            ("missing field", missing.to_string().into_bytes()),
            ("unknown event", unknown_event.to_string().into_bytes()),
            ("oversized", oversized.into_bytes()),
        ];
        for (why, input) in cases {
            let out = f.hook(agent, &input, &[]);
            assert_fail_closed(agent, &out, &format!("{agent} {why}"));
        }
    }
}

#[test]
fn a_decision_that_takes_too_long_is_a_denial() {
    let f = Fixture::new();
    for agent in ["claude-code", "codex", "gemini", "cursor"] {
        let event = shell_event(agent, "ls", &f.work());
        let out = f.hook(agent, event.to_string().as_bytes(), &["--timeout-ms", "1"]);
        assert_fail_closed(agent, &out, agent);
        let why = if agent == "cursor" {
            text(&out.stdout)
        } else {
            text(&out.stderr)
        };
        assert!(why.contains("no decision within 1 ms"), "{why}");
    }
}

#[test]
fn a_crash_is_a_denial() {
    let f = Fixture::new();
    for place in ["respond", "decide"] {
        for agent in ["claude-code", "codex", "gemini", "cursor"] {
            let event = shell_event(agent, "ls", &f.work());
            let mut child = f
                .command(&["hook", agent])
                .env("CORDON_TEST_PANIC", place)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(event.to_string().as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert_fail_closed(agent, &out, &format!("{agent} panic in {place}"));
        }
    }
}

#[test]
fn input_that_never_ends_is_a_denial() {
    let f = Fixture::new();
    let mut child = f
        .command(&["hook", "claude-code", "--timeout-ms", "300"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Half an event, and stdin stays open.
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"hook_event_name\": \"PreToolUse\"")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_fail_closed("claude-code", &out, "stdin left open");
    assert!(text(&out.stderr).contains("no decision within 300 ms"));
}

#[test]
fn a_decision_that_cannot_be_recorded_is_a_denial() {
    let f = Fixture::bare();
    std::fs::create_dir_all(f.home()).unwrap();
    let out = f.bash("claude-code", "ls", &[]);
    assert_fail_closed("claude-code", &out, "no key");
    assert!(text(&out.stderr).contains("cordon init"));
    // Positive control: after init the same request is allowed.
    assert_eq!(f.cordon(&["init"]).status.code(), Some(0));
    assert_eq!(decision(&f.bash("claude-code", "ls", &[])).0, "allow");
}

#[test]
fn every_decision_and_outcome_is_signed_into_the_journal() {
    let f = Fixture::new();
    decision(&f.claude("Bash", json!({"command": "ls"})));
    decision(&f.claude("Bash", json!({"command": "rm -rf /"})));
    let post = json!({
        "session_id": "s-1", "tool_use_id": "toolu_1", "cwd": f.work(),
        "hook_event_name": "PostToolUse", "tool_name": "Bash",
        "tool_input": {"command": "ls"},
        "tool_response": {"stdout": "a\nb\n", "stderr": "", "interrupted": false},
    });
    let out = f.hook("claude-code", post.to_string().as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");

    // An outcome for a call cordon never decided is not recorded (the agent goes on).
    let forged = json!({
        "session_id": "s-1", "tool_use_id": "toolu_never", "cwd": f.work(),
        "hook_event_name": "PostToolUse", "tool_name": "Bash",
        "tool_input": {"command": "ls"},
        "tool_response": {"stdout": "", "stderr": "", "interrupted": false},
    });
    let out = f.hook("claude-code", forged.to_string().as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("cordon decided no claude-code call \"toolu_never\""),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(f.journal().len(), 3);

    // A failed call: the first line of the error and the exit code, not the command's output.
    let pre = json!({
        "session_id": "s-1", "tool_use_id": "toolu_2", "cwd": f.work(),
        "hook_event_name": "PreToolUse", "tool_name": "Bash",
        "tool_input": {"command": "ls nope"},
    });
    decision(&f.hook("claude-code", pre.to_string().as_bytes(), &[]));
    let failed = json!({
        "session_id": "s-1", "tool_use_id": "toolu_2", "cwd": f.work(),
        "hook_event_name": "PostToolUseFailure", "tool_name": "Bash",
        "tool_input": {"command": "ls nope"},
        "error": "Exit code 2\nls: cannot access 'nope': secret-looking output",
    });
    let out = f.hook("claude-code", failed.to_string().as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let entries = f.journal();
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[4]["exit_code"], 2);
    assert_eq!(entries[4]["error"], "Exit code 2");
    assert!(!entries[4].to_string().contains("secret-looking"));
    // Each outcome names the decision record of its call.
    assert_eq!(
        entries[4]["decision_record"]["record_id"],
        entries[3]["record_id"]
    );
    assert_eq!(
        entries[2]["decision_record"]["record_id"],
        entries[0]["record_id"]
    );
    assert_eq!(entries[0]["outcome"], "allow");
    assert_eq!(entries[0]["actor"], "claude-code");
    assert_eq!(entries[0]["details"]["request"]["command"], "ls");
    assert_eq!(entries[0]["details"]["tool_use_id"], "toolu_1");
    assert_eq!(entries[0]["sandbox_profile"], "cordon-exec");
    assert_eq!(entries[1]["outcome"], "deny");
    assert_eq!(entries[1]["sandbox_profile"], Value::Null);
    assert_eq!(entries[2]["event_version"], "cordon.tool-outcome.v1");
    assert_eq!(entries[2]["stdout_bytes"], 4);
    assert_eq!(entries[2]["interrupted"], false);

    // `cordon verify` with no arguments checks this journal with the home's key.
    let out = f.cordon(&["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("VALID — 5 entries"));
    // Positive control: an edited entry is caught.
    let path = f.home().join("journal/entries.jsonl");
    let edited = std::fs::read_to_string(&path).unwrap().replacen(
        "\"outcome\":\"deny\"",
        "\"outcome\":\"allow\"",
        1,
    );
    std::fs::write(&path, edited).unwrap();
    assert_eq!(f.cordon(&["verify"]).status.code(), Some(1));
}
