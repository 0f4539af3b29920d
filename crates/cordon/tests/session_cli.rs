//! Sessions in force, through the built binary: `cordon exec` under `--session` or
//! `CORDON_SESSION` takes the session's cwd, policy and journal and names the session in its
//! decision record and receipt; an ended or unknown session blocks; hook adapters map the
//! harness's session id to one cordon session per (adapter, id); checkpoints taken under a
//! session are listed by `cordon session show`.
//!
//! Each claim is checked against a positive control: the same request without the session, or
//! under another session, comes out differently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// Allows `touch`, checkpoints `rm`, denies everything else (the home's default pack allows
/// `ls`, so the two policies are told apart by it).
const POLICY: &str = "cordon_policy: 1
name: session-policy
default: deny
rules:
  - id: touch
    outcome: allow
    reason: it makes a file
    match: {command: [touch]}
  - id: rm
    outcome: allow_with_checkpoint
    reason: it deletes files
    match: {command: [rm]}
";

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    /// The session's task directory.
    task: PathBuf,
    /// Where the commands are started from, unless they say otherwise.
    elsewhere: PathBuf,
    policy: PathBuf,
    /// The session's own journal.
    journal: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let env = Env {
            home: root.join("home"),
            task: root.join("task"),
            elsewhere: root.join("elsewhere"),
            policy: root.join("session-policy.yaml"),
            journal: root.join("session-journal"),
            root,
            _dir: dir,
        };
        fs::create_dir_all(&env.task).unwrap();
        fs::create_dir_all(&env.elsewhere).unwrap();
        fs::write(&env.policy, POLICY).unwrap();
        let init = env.cordon(&["init"], &[]);
        assert_eq!(init.status.code(), Some(0), "{}", err(&init));
        env
    }

    fn command(&self, args: &[&str], vars: &[(&str, &str)]) -> Command {
        let mut c = Command::new(CORDON);
        c.args(args)
            .env("CORDON_HOME", &self.home)
            .env("HOME", self.root.join("user"))
            .env_remove("CORDON_SESSION")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CLAUDE_PROJECT_DIR")
            .env_remove("GEMINI_PROJECT_DIR")
            .current_dir(&self.elsewhere);
        for (k, v) in vars {
            c.env(k, v);
        }
        c
    }

    fn cordon(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        self.command(args, vars).output().unwrap()
    }

    /// A session over the task directory with the test policy and its own journal.
    fn start(&self) -> String {
        let out = self.cordon(
            &[
                "session",
                "start",
                "--cwd",
                self.task.to_str().unwrap(),
                "--policy",
                self.policy.to_str().unwrap(),
                "--journal",
                self.journal.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", err(&out));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn show(&self, id: &str) -> Value {
        let out = self.cordon(&["session", "show", id, "--json"], &[]);
        assert_eq!(out.status.code(), Some(0), "{}", err(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn hook(&self, agent: &str, harness_session: &str, command: &str, extra: &[&str]) -> Value {
        let mut args = vec!["hook", agent];
        args.extend_from_slice(extra);
        let event = json!({
            "session_id": harness_session, "cwd": self.task, "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": command},
        });
        let mut child = self
            .command(&args, &[])
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
        assert_eq!(out.status.code(), Some(0), "{}", err(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["hookSpecificOutput"].clone()
    }
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn entries(journal: &Path) -> Vec<Value> {
    fs::read_to_string(journal.join("entries.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn decisions(journal: &Path) -> Vec<Value> {
    entries(journal)
        .into_iter()
        .filter(|e| e.get("record_version").is_some())
        .collect()
}

/// The words of a rewritten command (it is built with shell quoting; the hook tests check that
/// quoting against bash itself).
fn words(command: &str) -> Vec<String> {
    shlex::split(command).unwrap()
}

/// The value after `flag` in a rewritten command.
fn option(command: &str, flag: &str) -> Option<String> {
    let words = words(command);
    let at = words.iter().position(|w| w == flag)?;
    words.get(at + 1).cloned()
}

#[test]
fn exec_under_a_session_takes_its_cwd_policy_and_journal_and_names_it() {
    let e = Env::new();
    let id = e.start();
    let home_journal = e.home.join("journal");
    let receipt = e.root.join("receipt.json");

    // Positive control: without the session, the text runs where it is started, under the
    // home's policy, into the home's journal.
    let out = e.cordon(&["exec", "--shell", "touch plain"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.elsewhere.join("plain").exists());
    assert!(!e.task.join("plain").exists());
    let home_decisions = decisions(&home_journal);
    assert_eq!(home_decisions.len(), 1);
    assert_ne!(home_decisions[0]["policy_profile"], "session-policy");
    assert_ne!(home_decisions[0]["session_id"], id.as_str());
    let out = e.cordon(&["exec", "--shell", "ls"], &[]);
    assert_eq!(out.status.code(), Some(0), "the home's policy allows ls");

    // Under the session: its directory, its policy (which denies `ls`), its journal.
    let out = e.cordon(
        &[
            "exec",
            "--session",
            &id,
            "--receipt",
            receipt.to_str().unwrap(),
            "--shell",
            "touch made",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.task.join("made").exists());
    assert!(!e.elsewhere.join("made").exists());
    let out = e.cordon(&["exec", "--session", &id, "--shell", "ls"], &[]);
    assert_eq!(out.status.code(), Some(1), "the session's policy denies ls");

    // `CORDON_SESSION` says the same as `--session`.
    let out = e.cordon(
        &["exec", "--shell", "touch via-env"],
        &[("CORDON_SESSION", &id)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.task.join("via-env").exists());

    // An option on the command line outranks the session.
    let out = e.cordon(
        &[
            "exec",
            "--session",
            &id,
            "--cwd",
            e.elsewhere.to_str().unwrap(),
            "--shell",
            "touch pinned",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.elsewhere.join("pinned").exists());

    // Nothing of the session's went to the home's journal; all of it to the session's.
    assert_eq!(decisions(&home_journal).len(), 2);
    let recorded = decisions(&e.journal);
    assert_eq!(recorded.len(), 4, "{recorded:#?}");
    for d in &recorded {
        assert_eq!(d["session_id"], id.as_str(), "{d}");
        assert_eq!(d["policy_profile"], "session-policy", "{d}");
    }
    // The receipt names the session, and it is the receipt of a run recorded in that journal.
    let receipt: Value = serde_json::from_str(&fs::read_to_string(&receipt).unwrap()).unwrap();
    assert_eq!(receipt["x-cordon"]["front_end"]["session"], id.as_str());
    assert_eq!(receipt["policy_profile"], "session-policy");
    assert!(entries(&e.journal)
        .iter()
        .any(|r| r["execution_id"] == receipt["execution_id"]));
}

#[test]
fn an_ended_or_unknown_session_blocks_with_one_sentence() {
    let e = Env::new();
    let id = e.start();
    // Positive control: while the session is open, the same request runs.
    let out = e.cordon(&["exec", "--session", &id, "--shell", "touch open"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.task.join("open").exists());

    let end = e.cordon(&["session", "end", &id], &[]);
    assert_eq!(end.status.code(), Some(0), "{}", err(&end));
    for vars in [vec![], vec![("CORDON_SESSION", id.as_str())]] {
        let args: Vec<&str> = if vars.is_empty() {
            vec!["exec", "--session", &id, "--shell", "touch ended"]
        } else {
            vec!["exec", "--shell", "touch ended"]
        };
        let out = e.cordon(&args, &vars);
        assert_eq!(out.status.code(), Some(126), "{}", err(&out));
        let message = err(&out);
        assert!(
            message.contains(&id) && message.contains("ended"),
            "{message}"
        );
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(!e.task.join("ended").exists());
        assert!(!e.elsewhere.join("ended").exists());
    }

    for unknown in ["s-20000101T000000-00000000", "../../etc/passwd"] {
        let out = e.cordon(
            &["exec", "--shell", "touch unknown"],
            &[("CORDON_SESSION", unknown)],
        );
        assert_eq!(out.status.code(), Some(126), "{unknown}: {}", err(&out));
        assert!(err(&out).contains("cannot be used"), "{}", err(&out));
        assert!(!e.elsewhere.join("unknown").exists());
    }
    // Nothing was recorded for the blocked requests.
    assert_eq!(decisions(&e.journal).len(), 1);
}

#[test]
fn hooks_map_each_harness_session_to_one_cordon_session() {
    let e = Env::new();
    let first = e.hook("claude-code", "h-1", "ls -la", &[]);
    let again = e.hook("claude-code", "h-1", "git status", &[]);
    let other = e.hook("claude-code", "h-2", "ls -la", &[]);
    let codex = e.hook("codex", "h-1", "ls -la", &[]);
    let session_of = |d: &Value| {
        let run_as = d["updatedInput"]["command"].as_str().unwrap();
        option(run_as, "--session").unwrap_or_else(|| panic!("no session in {run_as}"))
    };
    let id = session_of(&first);
    assert_eq!(session_of(&again), id, "same harness id, same session");
    assert_ne!(
        session_of(&other),
        id,
        "another harness id, another session"
    );
    assert_ne!(session_of(&codex), id, "the adapter is part of the key");
    assert_ne!(session_of(&codex), session_of(&other));

    // The rewrite pins the directory it was judged in, and keeps the text as its last word.
    let run_as = first["updatedInput"]["command"].as_str().unwrap();
    assert_eq!(option(run_as, "--cwd").unwrap(), e.task.to_str().unwrap());
    assert_eq!(words(run_as).last().unwrap(), "ls -la");

    let shown = e.show(&id);
    assert_eq!(shown["session"]["external"]["harness"], "claude-code");
    assert_eq!(shown["session"]["external"]["id"], "h-1");
    assert_eq!(shown["session"]["cwd"], e.task.to_str().unwrap());
    assert!(shown["session"]["ended_at"].is_null());

    // A harness that sends no session id gets no session (and still the sandboxed rewrite).
    let none = e.hook("claude-code", "", "ls -la", &[]);
    let run_as = none["updatedInput"]["command"].as_str().unwrap();
    assert_eq!(option(run_as, "--session"), None, "{run_as}");
    let sessions = fs::read_dir(e.home.join("state/sessions"))
        .unwrap()
        .filter(|f| {
            let name = f.as_ref().unwrap().file_name();
            name.to_str().unwrap().ends_with(".json")
        })
        .count();
    assert_eq!(sessions, 3);

    // Once the cordon session is ended, the hook denies rather than hand out a dead session.
    let end = e.cordon(&["session", "end", &id], &[]);
    assert_eq!(end.status.code(), Some(0), "{}", err(&end));
    let mut child = e
        .command(&["hook", "claude-code"], &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let event = json!({
        "session_id": "h-1", "cwd": e.task, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": "ls"},
    });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a denial Claude Code obeys");
    assert!(err(&out).contains("ended"), "{}", err(&out));
}

#[test]
fn a_hooked_task_groups_its_receipts_and_checkpoints_under_its_session() {
    let e = Env::new();
    fs::write(e.task.join("victim.txt"), "keep me\n").unwrap();
    let policy = e.policy.to_str().unwrap();
    let d = e.hook(
        "claude-code",
        "task-7",
        "rm victim.txt",
        &["--policy", policy],
    );
    assert_eq!(d["permissionDecision"], "allow", "{d}");
    let run_as = d["updatedInput"]["command"].as_str().unwrap().to_string();
    let id = option(&run_as, "--session").unwrap();
    assert_eq!(e.show(&id)["session"]["policy"], policy);

    // Positive control: another session of the same home has no checkpoints to show.
    let bystander = e.start();
    assert_eq!(e.show(&bystander)["checkpoints"], json!([]));

    // The agent runs the rewritten text, as its shell would, from wherever its shell is.
    let out = Command::new("bash")
        .arg("-c")
        .arg(&run_as)
        .env("CORDON_HOME", &e.home)
        .env("HOME", e.root.join("user"))
        .env_remove("CORDON_SESSION")
        .env_remove("CORDON_JOURNAL")
        .current_dir(&e.elsewhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(!e.task.join("victim.txt").exists());

    let shown = e.show(&id);
    let checkpoints = shown["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), 1, "{shown}");
    assert_eq!(e.show(&bystander)["checkpoints"], json!([]));
    // The hook's decision and the run's receipt sit in the home's journal, the run's naming the
    // cordon session.
    let journal = entries(&e.home.join("journal"));
    let receipt = journal
        .iter()
        .find(|r| r.get("receipt_version").is_some())
        .unwrap();
    assert_eq!(receipt["x-cordon"]["front_end"]["session"], id.as_str());
    assert_eq!(receipt["x-cordon"]["checkpoint"]["requested"], true);
    let checkpoint_id = checkpoints[0]["id"].as_str().unwrap();
    assert!(receipt.to_string().contains(checkpoint_id), "{receipt}");
    let exec_decision = decisions(&e.home.join("journal"))
        .into_iter()
        .find(|d| d["session_id"] == id.as_str())
        .unwrap();
    assert_eq!(exec_decision["policy_profile"], "session-policy");

    // Rolled back, the file is back: the checkpoint is the one the session lists.
    let cp = checkpoints[0]["id"].as_str().unwrap();
    let out = e.cordon(&["rollback", cp], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert_eq!(
        fs::read_to_string(e.task.join("victim.txt")).unwrap(),
        "keep me\n"
    );
}

#[test]
fn relative_paths_given_to_session_start_are_recorded_absolute() {
    let e = Env::new();
    let out = e
        .command(
            &[
                "session",
                "start",
                "--cwd",
                "task",
                "--policy",
                "session-policy.yaml",
            ],
            &[],
        )
        .current_dir(&e.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let shown = e.show(&id);
    assert_eq!(shown["session"]["cwd"], e.task.to_str().unwrap());
    assert_eq!(shown["session"]["policy"], e.policy.to_str().unwrap());
    // Used from another directory, they still name the same places.
    let out = e.cordon(&["exec", "--session", &id, "--shell", "touch here"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(e.task.join("here").exists());
    let out = e.cordon(&["exec", "--session", &id, "--shell", "ls"], &[]);
    assert_eq!(out.status.code(), Some(1), "the session's policy denies ls");
}
