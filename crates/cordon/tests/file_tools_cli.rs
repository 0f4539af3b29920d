//! The agent's own file tools through the real binary: hook JSON on stdin, the verdict in the
//! agent's protocol on stdout. Each attack reaches a secret, a start-up file or git and agent
//! metadata through a tool that is not the shell, most of them through a link that looks like a
//! workspace file; each has a positive control showing the same tool on a plain workspace file
//! is allowed, so the refusals are the policy's and not a broken hook.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A workspace, a home with credentials and start-up files, and an initialised cordon home, all
/// on real paths (no symlink above them, so what the hook resolves is what the test names).
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let f = Fixture { _dir: dir, root };
        for (path, text) in [
            ("work/src/lib.rs", "pub fn f() {}\n"),
            ("work/.git/HEAD", "ref: refs/heads/main\n"),
            ("work/.git/hooks/pre-commit.sample", "#!/bin/sh\n"),
            ("home/.ssh/id_ed25519", "PRIVATE KEY\n"),
            ("home/.aws/credentials", "[default]\n"),
            ("home/.bashrc", "# rc\n"),
        ] {
            let path = f.root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        // Links planted in the workspace: to a start-up file, into the keys, to a start-up file
        // that does not exist yet (writing through it creates it), and relative ones.
        symlink(f.home().join(".bashrc"), f.work().join("notes.md")).unwrap();
        symlink(f.home().join(".ssh"), f.work().join("keys")).unwrap();
        symlink(f.home().join(".profile"), f.work().join("profile.txt")).unwrap();
        symlink("../../home/.aws", f.work().join("src/aws")).unwrap();
        let out = f.cordon(&["init"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        f
    }

    fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CORDON);
        command
            .args(args)
            .env("CORDON_HOME", self.root.join("cordon-home"))
            .env("HOME", self.home())
            .env_remove("CLAUDE_PROJECT_DIR")
            .env_remove("GEMINI_PROJECT_DIR")
            .env_remove("CORDON_SESSION")
            .current_dir(self.work());
        command
    }

    fn cordon(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn hook(&self, agent: &str, event: &Value, extra: &[&str]) -> Output {
        let mut args = vec!["hook", agent];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
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
        child.wait_with_output().unwrap()
    }

    fn claude(&self, tool: &str, tool_input: Value) -> Output {
        self.claude_with(tool, tool_input, &[])
    }

    fn claude_with(&self, tool: &str, tool_input: Value, extra: &[&str]) -> Output {
        let event = json!({
            "session_id": "s-1", "tool_use_id": "toolu_1", "cwd": self.work(),
            "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": tool_input,
        });
        self.hook("claude-code", &event, extra)
    }

    fn gemini(&self, tool: &str, tool_input: Value) -> Output {
        let event = json!({
            "session_id": "s-1", "cwd": self.work(), "hook_event_name": "BeforeTool",
            "tool_name": tool, "tool_input": tool_input,
        });
        self.hook("gemini", &event, &[])
    }

    fn journal(&self) -> Vec<Value> {
        let path = self.root.join("cordon-home/journal/entries.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Claude Code's verdict and reason; an allow with nothing to rewrite prints nothing (the agent's
/// own rules decide), reported here as `allow`.
fn claude_verdict(out: &Output) -> (String, String) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    if out.stdout.is_empty() {
        return ("allow".into(), String::new());
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &v["hookSpecificOutput"];
    (
        d["permissionDecision"].as_str().unwrap().to_string(),
        d["permissionDecisionReason"].as_str().unwrap().to_string(),
    )
}

fn gemini_verdict(out: &Output) -> (String, String) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    if out.stdout.is_empty() {
        return ("allow".into(), String::new());
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["decision"].as_str().unwrap().to_string(),
        v["reason"].as_str().unwrap().to_string(),
    )
}

fn s(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

#[test]
fn a_write_through_a_workspace_link_is_judged_where_it_lands() {
    let f = Fixture::new();
    let bashrc = s(&f.home().join(".bashrc"));
    for tool in ["Write", "Edit", "MultiEdit"] {
        // Positive control: the same tool on a plain workspace file is allowed.
        let (verdict, _) = claude_verdict(&f.claude(tool, json!({"file_path": "src/lib.rs"})));
        assert_eq!(verdict, "allow", "{tool}");
        let (verdict, _) = claude_verdict(&f.claude(tool, json!({"file_path": "src/new.rs"})));
        assert_eq!(verdict, "allow", "{tool} of a new file");

        let (verdict, reason) = claude_verdict(&f.claude(tool, json!({"file_path": "notes.md"})));
        assert_eq!(verdict, "deny", "{tool}: {reason}");
        assert!(
            reason.starts_with(&format!("{tool} notes.md (it leads to {bashrc}): Denied")),
            "{reason}"
        );
        // The link's target does not exist yet: writing through it would create it.
        let (verdict, reason) =
            claude_verdict(&f.claude(tool, json!({"file_path": f.work().join("profile.txt")})));
        assert_eq!(verdict, "deny", "{tool}: {reason}");
        assert!(reason.contains(&s(&f.home().join(".profile"))), "{reason}");
    }
    let (verdict, _) = claude_verdict(&f.claude(
        "NotebookEdit",
        json!({"notebook_path": "notes.md", "new_source": "x"}),
    ));
    assert_eq!(verdict, "deny");
    let (verdict, _) = claude_verdict(&f.claude(
        "NotebookEdit",
        json!({"notebook_path": "src/a.ipynb", "new_source": "x"}),
    ));
    assert_eq!(verdict, "allow");
}

#[test]
fn reading_credentials_is_denied_however_the_path_is_spelled() {
    let f = Fixture::new();
    let (verdict, _) = claude_verdict(&f.claude("Read", json!({"file_path": "src/lib.rs"})));
    assert_eq!(verdict, "allow", "positive control");
    let key = f.home().join(".ssh/id_ed25519");
    let credentials = f.home().join(".aws/credentials");
    let through_proc = format!("/proc/self/root{}", s(&credentials));
    for path in [
        s(&key),
        through_proc,
        "keys/id_ed25519".to_string(),
        "src/aws/credentials".to_string(),
        "src/../keys/./id_ed25519".to_string(),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude("Read", json!({"file_path": path})));
        assert_eq!(verdict, "deny", "{path}: {reason}");
        assert!(reason.starts_with(&format!("Read {path}")), "{reason}");
        assert!(reason.contains("Denied"), "{reason}");
    }
    // Searching or listing the keys through the link is reading them too.
    for (tool, input) in [
        ("Grep", json!({"pattern": "KEY", "path": "keys"})),
        ("Glob", json!({"pattern": "keys/*"})),
        (
            "Glob",
            json!({"pattern": "id_*", "path": s(&f.home().join(".ssh"))}),
        ),
        ("LS", json!({"path": "keys"})),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude(tool, input.clone()));
        assert_eq!(verdict, "deny", "{tool} {input}: {reason}");
    }
    for (tool, input) in [
        ("Grep", json!({"pattern": "fn"})),
        ("Glob", json!({"pattern": "src/**/*.rs"})),
        ("LS", json!({"path": "src"})),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude(tool, input.clone()));
        assert_eq!(verdict, "allow", "{tool} {input}: {reason}");
    }
}

#[test]
fn searching_the_contents_of_a_directory_that_holds_credentials_is_denied() {
    let f = Fixture::new();
    let home = s(&f.home());
    let keys = s(&f.home().join(".ssh"));
    // Listing names under the home is allowed; reading every file beneath it is not.
    for (tool, input) in [
        ("LS", json!({"path": home})),
        ("Glob", json!({"pattern": "**/*", "path": home})),
        ("Grep", json!({"pattern": "KEY", "path": "src"})),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude(tool, input.clone()));
        assert_eq!(verdict, "allow", "{tool} {input}: {reason}");
    }
    for path in [home.clone(), s(&f.root), "..".to_string()] {
        let (verdict, reason) =
            claude_verdict(&f.claude("Grep", json!({"pattern": "KEY", "path": path})));
        assert_eq!(verdict, "deny", "{path}: {reason}");
        assert!(
            reason.contains(&format!("would read {keys}, which is never read")),
            "{reason}"
        );
    }
    let (verdict, reason) = gemini_verdict(&f.gemini(
        "search_file_content",
        json!({"pattern": "KEY", "dir_path": home}),
    ));
    assert_eq!(verdict, "deny", "{reason}");
    let (verdict, reason) =
        gemini_verdict(&f.gemini("read_many_files", json!({"paths": ["../home/**/*"]})));
    assert_eq!(verdict, "deny", "{reason}");
    let (verdict, reason) = gemini_verdict(&f.gemini("list_directory", json!({"dir_path": home})));
    assert_eq!(verdict, "allow", "{reason}");
}

/// Red-team round twenty-two: the agent's Read and Grep of cordon's own home (a checkpoint's
/// copy of a file, the journal, the policy) got no objection. Every file tool is denied there.
#[test]
fn cordon_home_is_no_file_tools_to_read_or_write() {
    let f = Fixture::new();
    let home = f.root.join("cordon-home");
    let object = home.join("state/checkpoints/objects/ab/cd");
    std::fs::create_dir_all(object.parent().unwrap()).unwrap();
    std::fs::write(&object, "a copy\n").unwrap();
    for (tool, input) in [
        ("Read", json!({"file_path": s(&object)})),
        ("Read", json!({"file_path": s(&home.join("policy.yaml"))})),
        (
            "Grep",
            json!({"pattern": "x", "path": s(&home.join("state"))}),
        ),
        (
            "Glob",
            json!({"pattern": "**/*", "path": s(&home.join("journal"))}),
        ),
        (
            "Write",
            json!({"file_path": s(&home.join("policy.yaml")), "content": "x"}),
        ),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude(tool, input.clone()));
        assert_eq!(verdict, "deny", "{tool} {input}: {reason}");
        assert!(reason.contains("lies in cordon's home"), "{reason}");
    }
    let (verdict, reason) = claude_verdict(&f.claude("Read", json!({"file_path": "src/lib.rs"})));
    assert_eq!(verdict, "allow", "positive control: {reason}");
}

/// Red-team round twenty-three: the Write tool changed a file the user's global git
/// configuration includes from the workspace (and planted `core.fsmonitor`), and a bare
/// repository's branch (`.bare/refs/heads/main`, no directory named `.git`). Both ask.
#[test]
fn writes_to_what_git_reads_as_configuration_or_refs_are_asked() {
    let f = Fixture::new();
    let include = f.work().join("team.gitconfig");
    std::fs::write(&include, "[user]\n\tname = me\n").unwrap();
    std::fs::write(
        f.home().join(".gitconfig"),
        format!("[include]\n\tpath = {}\n", include.display()),
    )
    .unwrap();
    let bare = f.work().join(".bare");
    for dir in ["objects", "refs/heads"] {
        std::fs::create_dir_all(bare.join(dir)).unwrap();
    }
    std::fs::write(bare.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    for path in [s(&include), s(&bare.join("refs/heads/main"))] {
        let (verdict, reason) =
            claude_verdict(&f.claude("Write", json!({"file_path": path, "content": "x"})));
        assert_eq!(verdict, "ask", "{path}: {reason}");
    }
    // Control: an ordinary file beside them, and reading the include.
    let (verdict, reason) =
        claude_verdict(&f.claude("Write", json!({"file_path": "src/new.rs", "content": "x"})));
    assert_eq!(verdict, "allow", "{reason}");
    let (verdict, reason) = claude_verdict(&f.claude("Read", json!({"file_path": s(&include)})));
    assert_eq!(verdict, "allow", "{reason}");
}

#[test]
fn git_and_agent_metadata_are_asked() {
    let f = Fixture::new();
    let (verdict, _) = claude_verdict(&f.claude("Edit", json!({"file_path": "src/lib.rs"})));
    assert_eq!(verdict, "allow", "positive control");
    for path in [
        ".git/commondir",
        ".git/hooks/pre-commit",
        ".claude/settings.json",
    ] {
        for tool in ["Write", "Edit"] {
            let (verdict, reason) =
                claude_verdict(&f.claude(tool, json!({"file_path": path, "content": "x"})));
            assert_eq!(verdict, "ask", "{tool} {path}: {reason}");
            assert!(reason.starts_with(&format!("{tool} {path}: ")), "{reason}");
        }
    }
}

/// Red team, round 3: through the hook, `Read` of another process's environment or memory, a
/// descriptor, a shell history, a token under a cache directory or the password hashes got no
/// objection; `Write` of settings that run code later neither. Each is judged as the shell path
/// judges it, on the path as named and as it resolves.
#[test]
fn file_tools_judge_process_views_histories_tokens_and_settings_as_the_shell_does() {
    let f = Fixture::new();
    for (path, text) in [
        (".bash_history", "export TOKEN=secret\n"),
        (".cache/huggingface/token", "hf_secret\n"),
        (".cache/huggingface/hub/model.json", "{}\n"),
    ] {
        let path = f.home().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let pid = std::process::id();
    for (path, expected) in [
        (format!("/proc/{pid}/environ"), "ask"),
        ("/proc/self/environ".to_string(), "ask"),
        (format!("/proc/{pid}/mem"), "ask"),
        ("/dev/fd/0".to_string(), "ask"),
        ("/etc/shadow".to_string(), "deny"),
        ("/etc/gshadow".to_string(), "deny"),
        (s(&f.home().join(".bash_history")), "deny"),
        (s(&f.home().join(".cache/huggingface/token")), "deny"),
        // Controls: the same kinds of path, harmless.
        ("/proc/self/status".to_string(), "allow"),
        ("/etc/passwd".to_string(), "allow"),
        (
            s(&f.home().join(".cache/huggingface/hub/model.json")),
            "allow",
        ),
        ("src/lib.rs".to_string(), "allow"),
    ] {
        let (verdict, reason) = claude_verdict(&f.claude("Read", json!({"file_path": path})));
        assert_eq!(verdict, expected, "Read {path}: {reason}");
        if expected != "allow" {
            assert!(reason.starts_with(&format!("Read {path}")), "{reason}");
        }
    }
    for path in [
        ".pre-commit-config.yaml",
        "lefthook.yml",
        "opencode.json",
        ".devcontainer/devcontainer.json",
        ".windsurfrules",
        ".roo/rules/x.md",
    ] {
        for tool in ["Write", "Edit"] {
            let (verdict, reason) =
                claude_verdict(&f.claude(tool, json!({"file_path": path, "content": "x"})));
            assert_eq!(verdict, "ask", "{tool} {path}: {reason}");
        }
    }
    let (verdict, reason) = claude_verdict(&f.claude(
        "Write",
        json!({"file_path": "docs/pre-commit.md", "content": "x"}),
    ));
    assert_eq!(verdict, "allow", "positive control: {reason}");
}

/// A toolchain cache holds code the user's own builds run unconfined (escape catalogue item 38):
/// cordon's commands write it only through the workspace's layer, and the agent's own file tools,
/// which write it directly, are asked.
#[test]
fn a_file_tool_writing_a_toolchain_cache_is_asked() {
    let f = Fixture::new();
    let build_rs = f
        .home()
        .join(".cargo/registry/src/idx/serde-1.0.0/build.rs");
    for tool in ["Write", "Edit"] {
        let (verdict, reason) = claude_verdict(&f.claude(
            tool,
            json!({"file_path": s(&build_rs), "content": "fn main() {}"}),
        ));
        assert_eq!(verdict, "ask", "{tool}: {reason}");
        assert!(reason.contains("toolchain cache"), "{reason}");
    }
    // Positive controls: reading the cache, and writing the workspace or /tmp.
    let (verdict, reason) = claude_verdict(&f.claude("Read", json!({"file_path": s(&build_rs)})));
    assert_eq!(verdict, "allow", "{reason}");
    for path in ["src/lib.rs", "/tmp/notes.txt"] {
        let (verdict, reason) =
            claude_verdict(&f.claude("Write", json!({"file_path": path, "content": "x"})));
        assert_eq!(verdict, "allow", "{path}: {reason}");
    }
}

/// The agent's `Read` runs unconfined, so in the home it reads only what a hardened command may
/// read there and asks for the rest (red-team round sixteen: Claude Code's, Codex's and
/// Copilot's tokens and the XDG git credential store were returned, though no hardened command
/// could read them); the stores cordon knows by name are denied outright.
#[test]
fn reading_the_home_beyond_the_envelope_is_asked_and_known_token_stores_are_denied() {
    let f = Fixture::new();
    for (path, text) in [
        (".claude/.credentials.json", "{\"token\": 1}"),
        (".codex/auth.json", "{}"),
        (".config/github-copilot/hosts.json", "{}"),
        (".config/git/credentials", "https://u:t@example.com\n"),
        (".config/newtool/token.json", "{}"),
        ("Downloads/data.csv", "a,b\n"),
        (
            ".cargo/registry/src/index/dep-1.0.0/src/lib.rs",
            "pub fn d() {}\n",
        ),
    ] {
        let path = f.home().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let read = |path: &str| claude_verdict(&f.claude("Read", json!({"file_path": path})));
    for path in [
        ".claude/.credentials.json",
        ".codex/auth.json",
        ".config/github-copilot/hosts.json",
        ".config/git/credentials",
    ] {
        let (verdict, reason) = read(&s(&f.home().join(path)));
        assert_eq!(verdict, "deny", "{path}: {reason}");
    }
    for path in [".config/newtool/token.json", "Downloads/data.csv"] {
        let (verdict, reason) = read(&s(&f.home().join(path)));
        assert_eq!(verdict, "ask", "{path}: {reason}");
        assert!(
            reason.contains("file-tool-reads-beyond-the-envelope"),
            "{reason}"
        );
        let (verdict, _) = claude_verdict(&f.claude(
            "Grep",
            json!({"pattern": "x", "path": s(&f.home().join(path))}),
        ));
        assert_eq!(verdict, "ask", "Grep {path}");
    }
    // A workspace that is a subdirectory of a repository in the home reads the rest of it, as
    // its hardened commands do (working day sixteen: `Read` of a sibling package asked while
    // `cat` of it ran).
    let mono = f.home().join("code/mono");
    std::fs::create_dir_all(mono.join("services/api")).unwrap();
    std::fs::create_dir_all(mono.join("shared")).unwrap();
    std::fs::write(mono.join("shared/util.py"), "def util(): pass\n").unwrap();
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&mono)
        .status()
        .unwrap();
    assert!(init.success());
    let event = json!({
        "session_id": "s-1", "tool_use_id": "toolu_1", "cwd": mono.join("services/api"),
        "hook_event_name": "PreToolUse", "tool_name": "Read",
        "tool_input": {"file_path": s(&mono.join("shared/util.py"))},
    });
    let (verdict, reason) = claude_verdict(&f.hook("claude-code", &event, &[]));
    assert_eq!(verdict, "allow", "{reason}");
    // Controls: the workspace, a toolchain's sources and a start-up file (read-only, readable).
    for path in [
        s(&f.work().join("src/lib.rs")),
        s(&f.home()
            .join(".cargo/registry/src/index/dep-1.0.0/src/lib.rs")),
        s(&f.home().join(".bashrc")),
    ] {
        let (verdict, reason) = read(&path);
        assert_eq!(verdict, "allow", "{path}: {reason}");
    }
}

/// A repository the agent's own file tools build (a bare one needs only `HEAD`, `config` and two
/// directories) is beyond what cordon checks after its commands (escape catalogue item 39): the
/// names git reads as metadata are asked.
#[test]
fn a_file_tool_writing_git_metadata_is_asked() {
    let f = Fixture::new();
    for path in [
        "evil/HEAD",
        "evil/config",
        "sub/.git",
        ".git/remotes/origin",
        ".git/branches/main",
        "evil/hooks/post-checkout",
        "/tmp/x/HEAD",
        ".git/refs/heads/main",
        ".git/packed-refs",
        ".git/objects/info/alternates",
    ] {
        let (verdict, reason) =
            claude_verdict(&f.claude("Write", json!({"file_path": path, "content": "x"})));
        assert_eq!(verdict, "ask", "{path}: {reason}");
    }
    // Positive controls: React hooks, a config file with an extension, a notes file.
    for path in ["src/hooks/useThing.ts", "config.toml", "notes.txt"] {
        let (verdict, reason) =
            claude_verdict(&f.claude("Write", json!({"file_path": path, "content": "x"})));
        assert_eq!(verdict, "allow", "{path}: {reason}");
    }
}

#[test]
fn web_fetch_follows_the_policys_network_rules() {
    let f = Fixture::new();
    // The default pack declares no hosts: the network is asked.
    let (verdict, reason) = claude_verdict(&f.claude(
        "WebFetch",
        json!({"url": "https://docs.example.org/guide", "prompt": "summarise"}),
    ));
    assert_eq!(verdict, "ask", "{reason}");
    // A policy that names a host allows it and asks for the others.
    let policy = f.root.join("hosts.yaml");
    std::fs::write(
        &policy,
        "cordon_policy: 1\nname: hosts\ndefault: deny\nrules:\n  - id: docs\n    outcome: allow\n    reason: the documentation host\n    match:\n      network: true\n      hosts: [docs.example.org]\n  - id: elsewhere\n    outcome: deny\n    reason: any other host\n    match:\n      network: true\n      hosts_outside: [docs.example.org]\n",
    )
    .unwrap();
    let policy = s(&policy);
    let with = ["--policy", policy.as_str()];
    let (verdict, reason) = claude_verdict(&f.claude_with(
        "WebFetch",
        json!({"url": "https://docs.example.org/guide", "prompt": "p"}),
        &with,
    ));
    assert_eq!(verdict, "allow", "{reason}");
    let (verdict, reason) = claude_verdict(&f.claude_with(
        "WebFetch",
        json!({"url": "http://169.254.169.254/latest/meta-data/", "prompt": "p"}),
        &with,
    ));
    assert_eq!(verdict, "deny", "{reason}");
    assert!(reason.contains("any other host"), "{reason}");
}

#[test]
fn a_tool_input_the_hook_cannot_read_is_denied() {
    let f = Fixture::new();
    for (tool, input, why) in [
        (
            "Read",
            json!({"file_path": 42}),
            "`file_path` must be a string",
        ),
        (
            "Read",
            json!({"path": "src/lib.rs"}),
            "`file_path` is missing",
        ),
        ("Write", json!({"file_path": ""}), "an empty path"),
        ("Glob", json!({"path": "src"}), "`pattern` is missing"),
        (
            "Grep",
            json!({"pattern": "x", "path": ["src"]}),
            "`path` must be a string",
        ),
        ("WebFetch", json!({"prompt": "x"}), "`url` is missing"),
        (
            "Glob",
            json!({"pattern": "src/*/../../../home/.ssh/*"}),
            "climbs with `..` after a wildcard",
        ),
        (
            "NotebookEdit",
            json!({"file_path": "a.ipynb"}),
            "`notebook_path` is missing",
        ),
    ] {
        let out = f.claude(tool, input);
        assert_eq!(out.status.code(), Some(2), "{tool}: {}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("cordon could not decide, so it denies: ") && stderr.contains(why),
            "{tool}: {stderr}"
        );
    }
}

#[test]
fn file_tool_decisions_are_journaled_with_the_real_path() {
    let f = Fixture::new();
    claude_verdict(&f.claude("Read", json!({"file_path": "keys/id_ed25519"})));
    claude_verdict(&f.claude("Read", json!({"file_path": "src/lib.rs"})));
    let entries = f.journal();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let denied = entries[0].to_string();
    assert!(
        denied.contains(&s(&f.home().join(".ssh/id_ed25519"))),
        "{denied}"
    );
    assert!(denied.contains("\"deny\""), "{denied}");
    assert!(
        entries[1].to_string().contains("\"allow\""),
        "{}",
        entries[1]
    );
}

/// A running `cordon serve`, killed when dropped.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_gateway_judges_file_tools_on_the_same_real_paths() {
    use std::io::BufRead as _;
    let f = Fixture::new();
    let mut child = f
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let _serve = Serve(child);
    loop {
        let line = lines.next().expect("cordon serve ended early").unwrap();
        if line.contains("gateway on") {
            break;
        }
    }
    let (verdict, _) = claude_verdict(&f.claude("Read", json!({"file_path": "src/lib.rs"})));
    assert_eq!(verdict, "allow", "positive control");
    let (verdict, reason) = claude_verdict(&f.claude("Write", json!({"file_path": "notes.md"})));
    assert_eq!(verdict, "deny", "{reason}");
    assert!(reason.contains(&s(&f.home().join(".bashrc"))), "{reason}");
    let (verdict, reason) =
        claude_verdict(&f.claude("Grep", json!({"pattern": "KEY", "path": s(&f.home())})));
    assert_eq!(verdict, "deny", "{reason}");
    assert!(reason.contains("which is never read"), "{reason}");
}

#[test]
fn gemini_file_tools_are_governed() {
    let f = Fixture::new();
    let key = s(&f.home().join(".ssh/id_ed25519"));
    for (tool, input) in [
        ("read_file", json!({"file_path": "src/lib.rs"})),
        (
            "read_file",
            json!({"absolute_path": s(&f.work().join("src/lib.rs"))}),
        ),
        (
            "write_file",
            json!({"file_path": "src/new.rs", "content": "x"}),
        ),
        (
            "replace",
            json!({"file_path": "src/lib.rs", "old_string": "a", "new_string": "b"}),
        ),
        (
            "read_many_files",
            json!({"paths": ["src/**/*.rs", "src/lib.rs"]}),
        ),
        ("glob", json!({"pattern": "**/*.rs"})),
        ("search_file_content", json!({"pattern": "fn"})),
        ("list_directory", json!({"dir_path": "src"})),
    ] {
        let (verdict, reason) = gemini_verdict(&f.gemini(tool, input.clone()));
        assert_eq!(verdict, "allow", "{tool} {input}: {reason}");
    }
    for (tool, input) in [
        ("read_file", json!({"file_path": key})),
        ("read_file", json!({"absolute_path": "keys/id_ed25519"})),
        (
            "write_file",
            json!({"file_path": "notes.md", "content": "x"}),
        ),
        (
            "replace",
            json!({"file_path": "profile.txt", "old_string": "", "new_string": "b"}),
        ),
        (
            "read_many_files",
            json!({"paths": ["src/lib.rs", "keys/*"]}),
        ),
        ("glob", json!({"pattern": "*", "dir_path": "keys"})),
        (
            "search_file_content",
            json!({"pattern": "KEY", "path": "keys"}),
        ),
        ("list_directory", json!({"path": s(&f.home().join(".aws"))})),
    ] {
        let (verdict, reason) = gemini_verdict(&f.gemini(tool, input.clone()));
        assert_eq!(verdict, "deny", "{tool} {input}: {reason}");
    }
    let (verdict, reason) = gemini_verdict(&f.gemini(
        "web_fetch",
        json!({"prompt": "Summarise https://docs.example.org/guide please"}),
    ));
    assert_eq!(verdict, "ask", "{reason}");
    let out = f.gemini("web_fetch", json!({"prompt": "no link here"}));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("names no file or URL"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn codex_patches_are_judged_on_every_file_they_change() {
    let f = Fixture::new();
    let patch = |body: &str| {
        let event = json!({
            "session_id": "s-1", "turn_id": "t-1", "cwd": f.work(),
            "hook_event_name": "PreToolUse", "tool_name": "apply_patch",
            "tool_input": {"command": format!("*** Begin Patch\n{body}*** End Patch\n")},
        });
        f.hook("codex", &event, &[])
    };
    // Allowed: Codex reads no output as no objection.
    let out = patch("*** Update File: src/lib.rs\n@@\n-a\n+b\n*** Add File: src/new.rs\n+x\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    // One file through a link to a start-up file is enough to deny the whole patch.
    let (verdict, reason) = claude_verdict(&patch(
        "*** Update File: src/lib.rs\n*** Add File: notes.md\n+x\n",
    ));
    assert_eq!(verdict, "deny", "{reason}");
    assert!(reason.contains(&s(&f.home().join(".bashrc"))), "{reason}");
    let (verdict, reason) = claude_verdict(&patch(
        "*** Update File: src/lib.rs\n*** Move to: profile.txt\n",
    ));
    assert_eq!(verdict, "deny", "{reason}");
    // Codex cannot ask: what the policy asks about is denied, and says so.
    let (verdict, reason) = claude_verdict(&patch("*** Add File: .git/hooks/pre-commit\n+x\n"));
    assert_eq!(verdict, "deny", "{reason}");
    assert!(reason.contains("asks a person first"), "{reason}");
    let out = patch("");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("the patch names no file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cursor_reading_a_file_is_governed() {
    let f = Fixture::new();
    let read = |path: &str| {
        let event = json!({
            "conversation_id": "c-1", "generation_id": "g-1", "hook_event_name": "beforeReadFile",
            "file_path": path, "content": "", "workspace_roots": [f.work()], "cwd": f.work(),
        });
        let out = f.hook("cursor", &event, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["permission"].as_str().unwrap().to_string(),
            v["agent_message"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(read("src/lib.rs").0, "allow");
    let (permission, message) = read("keys/id_ed25519");
    assert_eq!(permission, "deny", "{message}");
    assert!(message.contains("Denied"), "{message}");
    let outside = f.root.join("elsewhere.txt");
    std::fs::write(&outside, "x").unwrap();
    let (permission, _) = read(&s(&outside));
    assert_eq!(
        permission, "allow",
        "reading outside the workspace is allowed by the pack"
    );
}

#[test]
fn install_hooks_every_file_tool() {
    let f = Fixture::new();
    for (agent, file) in [
        ("claude-code", ".claude/settings.json"),
        ("codex", ".codex/hooks.json"),
        ("gemini", ".gemini/settings.json"),
        ("cursor", ".cursor/hooks.json"),
    ] {
        let out = f.cordon(&["install", agent]);
        assert_eq!(out.status.code(), Some(0), "{agent}: {}", text(&out.stderr));
        let config: Value =
            serde_json::from_slice(&std::fs::read(f.home().join(file)).unwrap()).unwrap();
        match agent {
            "claude-code" => assert_eq!(
                config["hooks"]["PreToolUse"][0]["matcher"],
                "Bash|Read|Write|Edit|MultiEdit|NotebookEdit|Grep|Glob|LS|WebFetch"
            ),
            "codex" => assert_eq!(
                config["hooks"]["PreToolUse"][0]["matcher"],
                "Bash|apply_patch"
            ),
            "gemini" => assert_eq!(
                config["hooks"]["BeforeTool"][0]["matcher"],
                "^(run_shell_command|read_file|write_file|replace|read_many_files|glob|search_file_content|list_directory|web_fetch)$"
            ),
            _ => assert!(
                config["hooks"]["beforeReadFile"][0]["command"]
                    .as_str()
                    .unwrap()
                    .contains("hook cursor"),
                "{config}"
            ),
        }
    }
}
