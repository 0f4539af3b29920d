//! Issue 15 end to end: `cordon exec`, hardened by default, under the default pack. The kernel
//! enforces the policy's envelope, not the paths the front end read in the text, and every path a
//! command names that reaches beyond it is judged on the file it really reaches. Each attack
//! checks the exact error and that the target is unchanged (or unread); each has a positive
//! control showing the same action succeeds where the envelope allows it, or in named local
//! mode, so the test can fail.
//!
//! The attacks run in a home of their own under the target directory (not the system's temporary
//! directory, which the default pack lets commands write), with the workspace at `~/ws` and
//! cordon's home at `~/.config/cordon`, as a user has them. Everyday work runs with this
//! machine's home, where the toolchains are installed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod approval_support;
mod tree_support;

/// A home with credentials, start-up files and a victim, the workspace `~/ws`, and cordon's
/// home made on first use at `~/.config/cordon`.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    ws: PathBuf,
}

const AWS_SECRET: &str = "aws_secret_access_key = SECRET-AWS";
const SSH_SECRET: &str = "Host secret-ssh-config";

/// The fixture; `None` only when the kernel lacks Landlock and CORDON_TEST_ALLOW_SKIP allows it.
fn home() -> Option<Home> {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI
        && cordon_testkit::allow_skip("landlock", &format!("the kernel offers ABI {abi}"))
    {
        return None;
    }
    let dir =
        tempfile::tempdir_in(cordon_testkit::outside_tmp(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let home = dir.path().canonicalize().unwrap().join("user");
    let ws = home.join("ws");
    for d in ["ws/data", ".aws", ".ssh"] {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    for (file, text) in [
        (".aws/credentials", format!("[default]\n{AWS_SECRET}\n")),
        (".ssh/config", format!("{SSH_SECRET}\n")),
        (".ssh/authorized_keys", "ssh-ed25519 AAAA owner\n".into()),
        (".bashrc", "# the user's bashrc\n".into()),
        (".gitconfig", "[user]\n\tname = owner\n".into()),
        ("victim", "the victim\n".into()),
        ("ws/evil.yaml", "cordon_policy: 1\nname: evil\n".into()),
    ] {
        std::fs::write(home.join(file), text).unwrap();
    }
    let h = Home {
        _dir: dir,
        home,
        ws,
    };
    // First use makes cordon's home (policy, key, journal) where the user's would be.
    let first = h.exec(&["--shell", "true"]);
    assert_eq!(first.status.code(), Some(0), "{}", err(&first));
    Some(h)
}

impl Home {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
        c.arg("exec")
            .args(args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env("CORDON_GATEWAY", "off")
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .stdin(Stdio::null());
        c
    }

    fn exec(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `cordon exec --shell TEXT`, hardened by default.
    fn sh(&self, text: &str) -> Output {
        self.exec(&["--shell", text])
    }

    /// Runs `text` from a script in the workspace, where the front end cannot read it, so the
    /// kernel is the only defence. (The default pack's front end denies or asks for several of
    /// these texts written plainly; an agent can always hide a text in a file it wrote.)
    fn opaque(&self, text: &str) -> Output {
        std::fs::write(self.ws.join("opaque.sh"), text).unwrap();
        self.sh("bash opaque.sh")
    }

    /// git in `dir`, outside cordon, as the user runs it (with an identity); its output.
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let o = Command::new("git")
            .args(["-c", "user.email=o@example.com", "-c", "user.name=o"])
            .args(args)
            .current_dir(dir)
            .env("HOME", &self.home)
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", err(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    fn cordon_home(&self) -> PathBuf {
        self.home.join(".config/cordon")
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.home.join(relative)).unwrap()
    }

    /// The public key of the key the home made.
    fn public_key(&self) -> PathBuf {
        std::fs::read_dir(self.cordon_home().join("keys"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "pub"))
            .unwrap()
    }

    fn last_receipt(&self) -> Value {
        let text =
            std::fs::read_to_string(self.cordon_home().join("journal/entries.jsonl")).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .rfind(|e| e.get("receipt_version").is_some())
            .unwrap()
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts the run ended with `code` and printed exactly `stderr` (cordon's notices aside).
#[track_caller]
fn refused(o: &Output, code: i32, stderr: &str) {
    let stderr_text = err(o);
    let said: Vec<&str> = stderr_text
        .lines()
        .filter(|l| !l.starts_with("cordon: "))
        .collect();
    assert_eq!(o.status.code(), Some(code), "{}", err(o));
    assert_eq!(said, [stderr], "{}", err(o));
}

/// A workspace's commands see `/tmp` as the workspace's own, through the whole binary: a scratch
/// file written by one `cordon exec` is read by the next, and never reaches the host's `/tmp`.
/// They get the terminal, time zone and toolchain names of the environment, and still no
/// injection name (`GOFLAGS`'s `-toolexec`, `NODE_OPTIONS`).
#[test]
fn scratch_in_tmp_is_kept_for_the_next_call_and_the_terminal_and_toolchains_pass() {
    let Some(h) = home() else { return };
    // CAP_SYS_ADMIN: where a mount namespace is certain (docs/sandbox.md).
    let privileged = cordon_sandbox::effective_capabilities() & (1 << 21) != 0;
    if !privileged
        && cordon_testkit::allow_skip(
            "root",
            "a /tmp of the workspace's own is certain only as root",
        )
    {
        return;
    }
    let name = format!("/tmp/cordon-cli-scratch-{}", std::process::id());
    let wrote = h.sh(&format!("echo scratch > {name}"));
    assert_eq!(wrote.status.code(), Some(0), "{}", err(&wrote));
    assert!(
        !Path::new(&name).exists(),
        "the write reached the host's /tmp"
    );
    let read = h.sh(&format!("cat {name}"));
    assert_eq!(out(&read), "scratch\n", "{}", err(&read));

    let shown = h
        .command(&[
            "--shell",
            "echo \"$TERM|$TZ|$RUSTUP_HOME|$GOFLAGS|$NODE_OPTIONS\"",
        ])
        .env("TERM", "xterm-256color")
        .env("TZ", "Europe/Paris")
        .env("RUSTUP_HOME", "/usr/local/rustup")
        .env("GOFLAGS", "-toolexec=/x")
        .env("NODE_OPTIONS", "--require /x.js")
        .output()
        .unwrap();
    assert_eq!(
        out(&shown),
        "xterm-256color|Europe/Paris|/usr/local/rustup||\n",
        "{}",
        err(&shown)
    );
}

/// A fresh home has no `~/.cache`, which a cache must be to be granted: cordon makes it, so a tool
/// that caches there (`go build` makes `~/.cache/go-build`) works on the first run.
#[test]
fn a_fresh_home_gets_its_cache_directory() {
    let Some(h) = home() else { return };
    assert!(h.home.join(".cache").is_dir());
    let cached =
        h.sh("mkdir -p ~/.cache/tool && echo cached > ~/.cache/tool/x && cat ~/.cache/tool/x");
    assert_eq!(out(&cached), "cached\n", "{}", err(&cached));
    // A cache directly in the home is made when its tool is installed (`~/.npm` for npm: on a
    // fresh home `npx` failed, working day fifteen), and written through the workspace's layer;
    // one whose tool directory is missing is not (`~/.m2/repository` without `~/.m2`).
    let path = std::env::var_os("PATH").unwrap_or_default();
    let npm = std::env::split_paths(&path).any(|d| d.join("npm").is_file());
    assert_eq!(h.home.join(".npm").is_dir(), npm);
    assert!(!h.home.join(".m2").exists());
    if npm {
        let o = h.sh("echo x > ~/.npm/probe && cat ~/.npm/probe");
        assert_eq!(out(&o), "x\n", "{}", err(&o));
        assert!(
            !h.home.join(".npm/probe").exists(),
            "the layer, not the cache, holds it"
        );
    }
}

#[test]
fn proc_paths_never_reach_the_credentials() {
    let Some(h) = home() else { return };
    let home = h.home.display();
    for path in [
        format!("/proc/self/root{home}/.aws/credentials"),
        format!("/proc/thread-self/root{home}/.aws/credentials"),
        "/proc/self/cwd/../.aws/credentials".to_string(),
    ] {
        let o = h.opaque(&format!("cat {path}"));
        refused(&o, 1, &format!("cat: {path}: Permission denied"));
        assert_eq!(out(&o), "");
    }
    // A descriptor of cordon's own process is the command's own once it runs: cordon's stdin
    // here is the credentials file, and nothing is granted on it.
    let o = h
        .command(&["--shell", "cat /proc/self/fd/0 /dev/stdin"])
        .stdin(std::fs::File::open(h.home.join(".aws/credentials")).unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!out(&o).contains("SECRET"), "{}", out(&o));
    let envelope =
        &h.last_receipt()["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["envelope"];
    assert_eq!(envelope["grants"], serde_json::json!([]), "{envelope}");

    // Positive control: named local mode prints the secret through the same script (the
    // decision let it through; only the kernel stood in the way).
    std::fs::write(
        h.ws.join("opaque.sh"),
        format!("cat /proc/self/root{home}/.aws/credentials"),
    )
    .unwrap();
    let o = h.exec(&["--mode", "local", "--shell", "bash opaque.sh"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(out(&o).contains(AWS_SECRET), "{}", out(&o));
}

#[test]
fn beyond_the_envelope_only_what_a_person_approved_as_written_is_granted() {
    let Some(_) = home() else { return };
    let h = approval_support::Home::new();
    let ws = h.ws();
    let out_dir = h.path("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(ws.join("f"), "data\n").unwrap();
    std::os::unix::fs::symlink(&out_dir, ws.join("lnk")).unwrap();
    // Local work runs; a write to `out` asks a person.
    let policy = h.path("asks-for-out.yaml");
    std::fs::write(
        &policy,
        format!(
            "cordon_policy: 1\nname: asks-for-out\ndefault: deny\nrules:\n  - id: local\n    outcome: allow\n    reason: local work\n    match: {{effects: [observe, transform_local]}}\n  - id: out\n    outcome: ask\n    reason: it writes out\n    match: {{writes: [\"{0}\", \"{0}/**\", \"{1}/lnk/**\"]}}\n",
            out_dir.display(),
            ws.display()
        ),
    )
    .unwrap();
    let run = |text: &str, answer: &str| {
        let child = h.spawn(&[
            "exec",
            "--policy",
            policy.to_str().unwrap(),
            "--cwd",
            ws.to_str().unwrap(),
            "--approval-timeout",
            "30",
            "--shell",
            text,
        ]);
        let id = h.wait_for_request();
        h.ok(&[answer, &id]);
        approval_support::wait(child, std::time::Duration::from_secs(30))
    };
    // Approved, named as it is: a new file's directory is granted, and nothing wider.
    let text = format!("cp f {}/new.txt", out_dir.display());
    let o = run(&text, "approve");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("new.txt")).unwrap(),
        "data\n"
    );
    let receipt: Value = serde_json::from_str(
        std::fs::read_to_string(h.path("home/journal/entries.jsonl"))
            .unwrap()
            .lines()
            .rfind(|l| l.contains("receipt_version"))
            .unwrap(),
    )
    .unwrap();
    let grants =
        &receipt["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["envelope"]["grants"];
    assert_eq!(
        grants,
        &serde_json::json!([{"path": out_dir, "access": "write", "made_on": "descriptor"}])
    );
    // Approved, but through a link: the person saw `lnk`, not `out`; nothing is granted.
    let o = run("cp f lnk/other.txt", "approve");
    refused(
        &o,
        1,
        "cp: cannot create regular file 'lnk/other.txt': Permission denied",
    );
    assert!(!out_dir.join("other.txt").exists());
    // Denied: nothing runs.
    let o = run(&format!("cp f {}/third.txt", out_dir.display()), "deny");
    assert_eq!(o.status.code(), Some(126), "{}", err(&o));
    assert!(!out_dir.join("third.txt").exists());
}

#[test]
fn links_made_in_one_call_and_used_in_the_next_reach_nothing_closed() {
    let Some(h) = home() else { return };
    let cordon = h.cordon_home();
    let public = h.public_key();
    let public_name = public.file_name().unwrap().to_str().unwrap().to_string();
    let before: Vec<(PathBuf, Vec<u8>)> = [
        cordon.join("policy.yaml"),
        public.clone(),
        h.home.join(".bashrc"),
        h.home.join(".gitconfig"),
        h.home.join(".ssh/authorized_keys"),
        h.home.join("victim"),
    ]
    .into_iter()
    .map(|p| {
        let bytes = std::fs::read(&p).unwrap();
        (p, bytes)
    })
    .collect();
    let abs = cordon.display().to_string();
    // (the call that plants the link, the call that uses it, the exit code, the exact error)
    let cases: Vec<(String, String, i32, String)> = vec![
        (
            "mkdir -p sub && ln -s ../../.config/cordon sub/c".into(),
            "cp evil.yaml sub/c/policy.yaml".into(),
            1,
            "cp: cannot create regular file 'sub/c/policy.yaml': Permission denied".into(),
        ),
        (
            format!("ln -s {abs} abs"),
            "cp evil.yaml abs/policy.yaml".into(),
            1,
            "cp: cannot create regular file 'abs/policy.yaml': Permission denied".into(),
        ),
        (
            "true".into(),
            format!("cp evil.yaml sub/c/keys/{public_name}"),
            1,
            format!("cp: cannot create regular file 'sub/c/keys/{public_name}': Permission denied"),
        ),
        (
            "true".into(),
            "echo evil > sub/c/journal/entries.jsonl".into(),
            1,
            "bash: line 1: sub/c/journal/entries.jsonl: Permission denied".into(),
        ),
        (
            "true".into(),
            "echo 'mallory AAAA' >> sub/c/approvers".into(),
            1,
            "bash: line 1: sub/c/approvers: Permission denied".into(),
        ),
        (
            "ln -s ../.bashrc rc".into(),
            "echo evil >> rc".into(),
            1,
            "bash: line 1: rc: Permission denied".into(),
        ),
        (
            "ln -s ../.gitconfig gc".into(),
            "echo evil >> gc".into(),
            1,
            "bash: line 1: gc: Permission denied".into(),
        ),
        (
            "ln -s .. up".into(),
            "echo key >> up/.ssh/authorized_keys".into(),
            1,
            "bash: line 1: up/.ssh/authorized_keys: Permission denied".into(),
        ),
        (
            "true".into(),
            "cat up/.ssh/config".into(),
            1,
            "cat: up/.ssh/config: Permission denied".into(),
        ),
        (
            "true".into(),
            "rm up/victim && echo removed".into(),
            1,
            "rm: cannot remove 'up/victim': Permission denied".into(),
        ),
    ];
    for (plant, attack, code, error) in &cases {
        let o = h.opaque(plant);
        assert_eq!(o.status.code(), Some(0), "{plant}: {}", err(&o));
        let o = h.sh(attack);
        refused(&o, *code, error);
        assert!(
            !out(&o).contains("SECRET") && !out(&o).contains("removed"),
            "{attack}"
        );
    }
    // A plain `rm` through the link: the checkpoint leaves out what the link leads to (the kernel
    // refuses the command there), so the `rm` runs in the sandbox, and the kernel refuses it.
    let o = h.sh("rm up/victim");
    refused(&o, 1, "rm: cannot remove 'up/victim': Permission denied");
    for (path, bytes) in &before {
        let now = std::fs::read(path).unwrap();
        assert!(&now == bytes, "{} changed", path.display());
    }
    // Listing is what the envelope gives the home: names, never contents.
    let o = h.sh("ls up/.ssh");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "authorized_keys\nconfig\n");
    // The journal (cordon's own appends aside, nothing touched it) verifies with the home's key.
    let verify = Command::new(env!("CARGO_BIN_EXE_cordon"))
        .arg("verify")
        .arg(cordon.join("journal"))
        .arg("--public-key")
        .arg(&public)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", out(&verify));

    // Positive controls: the same two calls through a link into the workspace write the file;
    // named local mode writes cordon's policy through the link planted above.
    let o = h.sh("ln -s data d");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = h.sh("cp evil.yaml d/policy.yaml && cat d/policy.yaml");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "cordon_policy: 1\nname: evil\n");
    let o = h.exec(&[
        "--mode",
        "local",
        "--shell",
        "cp evil.yaml sub/c/policy.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        h.read(".config/cordon/policy.yaml"),
        "cordon_policy: 1\nname: evil\n"
    );
}

#[test]
fn git_metadata_and_agent_settings_stay_read_only_through_links() {
    let Some(h) = home() else { return };
    std::fs::create_dir(h.ws.join(".claude")).unwrap();
    std::fs::write(h.ws.join(".claude/settings.json"), "{}\n").unwrap();
    let id = "-c user.name=agent -c user.email=agent@example.invalid";
    let o = h.sh(&format!(
        "git init -q -b main && git {id} commit -q --allow-empty -m one && git worktree add -q wt-a 2>&1"
    ));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let commondir = h.ws.join(".git/worktrees/wt-a/commondir");
    let before = std::fs::read_to_string(&commondir).unwrap();
    for (plant, attack, error) in [
        (
            "true",
            "echo ../evil > .git/worktrees/wt-a/commondir",
            "opaque.sh: line 1: .git/worktrees/wt-a/commondir: Read-only file system",
        ),
        (
            "ln -s .git/hooks h",
            "echo 'echo pwned' > h/pre-commit",
            "opaque.sh: line 1: h/pre-commit: Read-only file system",
        ),
        (
            "ln -s .claude cl",
            "echo '{\"hooks\": 1}' > cl/settings.json",
            "opaque.sh: line 1: cl/settings.json: Read-only file system",
        ),
    ] {
        let o = h.opaque(plant);
        assert_eq!(o.status.code(), Some(0), "{plant}: {}", err(&o));
        refused(&h.opaque(attack), 1, error);
    }
    assert_eq!(std::fs::read_to_string(&commondir).unwrap(), before);
    assert!(!h.ws.join(".git/hooks/pre-commit").exists());
    assert_eq!(h.read("ws/.claude/settings.json"), "{}\n");
    // Positive controls: an unprotected name in the same directory, and a link into an
    // ordinary directory, are written.
    let o =
        h.sh("echo x > .git/worktrees/wt-a/notes && ln -s data dd && echo y > dd/f && cat dd/f");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "y\n");
}

/// Escape catalogue item 38: code planted in a toolchain cache runs in the user's next unconfined
/// build. The cache is writable to the run, but through the workspace's layer: the user's cache is
/// unchanged, the receipt names the layer, and no checkpoint covers the cache (a rollback would
/// write the layer's content into it).
#[test]
fn a_cache_is_written_through_the_workspace_layer_and_left_out_of_checkpoints() {
    let Some(h) = home() else { return };
    let src = h.home.join(".cargo/registry/src/idx/serde-1.0.0");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("build.rs"), "fn main() {}\n").unwrap();
    let build_rs = src.join("build.rs").display().to_string();

    let o = h.sh(&format!(
        "echo 'fn main() {{ evil() }}' > {build_rs} && cat {build_rs}"
    ));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "fn main() { evil() }\n");
    assert!(err(&o).contains("lies in a cache"), "{}", err(&o));
    assert!(!err(&o).contains("checkpoint ck-"), "{}", err(&o));
    let receipt = h.last_receipt().to_string();
    assert!(receipt.contains("cache_layers"), "{receipt}");
    // What the front end cannot see is held the same way: the kernel sees the layer only.
    let o = h.opaque(&format!("echo '// more' >> {build_rs}; mkdir -p {0}/../serde-9.9.9 && echo planted > {0}/../serde-9.9.9/build.rs", src.display()));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));

    // The user's own cargo reads the cache as it was.
    assert_eq!(
        h.read(".cargo/registry/src/idx/serde-1.0.0/build.rs"),
        "fn main() {}\n"
    );
    assert!(!h.home.join(".cargo/registry/src/idx/serde-9.9.9").exists());
    // Positive control: the workspace's next run sees its own writes.
    let o = h.sh(&format!("cat {build_rs}"));
    assert_eq!(out(&o), "fn main() { evil() }\n// more\n", "{}", err(&o));
}

/// Escape catalogue item 39: a repository made during the run whose config would make the user's
/// next git command there run a program has that config moved aside, and the user is told.
#[test]
fn a_repository_made_during_the_run_keeps_no_program_git_would_run() {
    let Some(h) = home() else { return };
    let o = h.opaque(
        "git init -q sub && git -C sub config core.fsmonitor 'touch ../pwned'\n\
         git init -q plain && git -C plain config user.name agent\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let said = err(&o);
    assert!(
        said.contains("cordon: warning: ") && said.contains("config.refused-by-cordon"),
        "{said}"
    );
    assert!(!h.ws.join("sub/.git/config").exists());
    assert!(h.ws.join("sub/.git/config.refused-by-cordon").exists());
    assert!(h.last_receipt().to_string().contains("refused-by-cordon"));
    // Positive control: a repository with nothing that runs is left as git wrote it.
    let plain = std::fs::read_to_string(h.ws.join("plain/.git/config")).unwrap();
    assert!(plain.contains("name = agent"), "{plain}");
    assert!(!said.contains("plain"), "{said}");
}

/// git's rewrites of the workspace repository's config go through when they set nothing that
/// runs (`git remote add`, `git config user.email`: the default pack lets them run in hardened
/// mode), and the rest are refused with a warning that names the key, also in the receipt.
#[test]
fn a_repository_config_takes_what_runs_nothing_and_the_warning_names_what_was_refused() {
    let Some(h) = home() else { return };
    let init = Command::new("git")
        .args(["init", "-q"])
        .current_dir(&h.ws)
        .status()
        .unwrap();
    assert!(init.success());
    let o = h.sh(
        "git remote add origin https://example.invalid/r.git && git config user.email agent@example.invalid",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!err(&o).contains("warning"), "{}", err(&o));
    let o = h.sh("git config alias.st '!touch ../pwned'");
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    let said = err(&o);
    assert!(
        said.contains("cordon: warning: ") && said.contains("it sets alias.st"),
        "{said}"
    );
    assert!(h.last_receipt().to_string().contains("git_config_refused"));
    let config = std::fs::read_to_string(h.ws.join(".git/config")).unwrap();
    assert!(
        config.contains("url = https://example.invalid/r.git")
            && config.contains("email = agent@example.invalid")
            && !config.contains("pwned"),
        "{config}"
    );
}

/// A remote a command adds is never where the user's next plain `git pull` or `git push` goes:
/// a branch may not be sent to it, in the same command or in a later run, and the user's own
/// remote may not be removed to be added again with another URL (red-team round twenty-one).
#[test]
fn a_remote_a_command_added_never_becomes_a_branchs_upstream() {
    let Some(h) = home() else { return };
    let upstream = h.home.join("upstream.git");
    h.git(&h.home, &["init", "-q", "--bare", "upstream.git"]);
    std::fs::write(h.ws.join("a"), "a\n").unwrap();
    h.git(&h.ws, &["init", "-q", "-b", "main"]);
    h.git(&h.ws, &["add", "a"]);
    h.git(&h.ws, &["commit", "-qm", "one"]);
    h.git(
        &h.ws,
        &["remote", "add", "origin", &upstream.to_string_lossy()],
    );
    h.git(&h.ws, &["push", "-q", "-u", "origin", "main"]);
    let evil = h.ws.join(".cache/evil.git");
    let config = || std::fs::read_to_string(h.ws.join(".git/config")).unwrap();

    // In one command: the remote is added, the branch is not sent to it.
    let o = h.opaque(&format!(
        "git remote add up2 {} && git config branch.main.pushRemote up2",
        evil.display()
    ));
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    let said = err(&o);
    assert!(
        said.contains("branch.main.pushremote") && said.contains("a remote a command added"),
        "{said}"
    );
    assert!(config().contains("[remote \"up2\"]"), "{}", config());
    assert!(!config().contains("pushRemote"), "{}", config());
    // In the next run, neither.
    for key in ["branch.main.remote", "branch.main.pushRemote"] {
        let o = h.opaque(&format!("git config {key} up2"));
        assert_ne!(o.status.code(), Some(0), "{key}: {}", err(&o));
        assert!(err(&o).contains("a remote a command added"), "{}", err(&o));
    }
    assert_eq!(h.git(&h.ws, &["config", "branch.main.remote"]), "origin");
    // The user's remote stays: removed, a command could add it again with its own URL.
    for text in ["git remote remove origin", "git remote rename origin old"] {
        let o = h.opaque(text);
        assert_ne!(o.status.code(), Some(0), "{text}: {}", err(&o));
        assert!(
            err(&o).contains("it removes the remote origin"),
            "{}",
            err(&o)
        );
    }
    assert_eq!(
        h.git(&h.ws, &["remote", "get-url", "origin"]),
        upstream.to_string_lossy()
    );
    // Controls: a branch sent to the user's own remote, and the command's remote removed.
    let o = h.opaque("git config branch.main.pushRemote origin && git remote remove up2");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(
        h.git(&h.ws, &["config", "branch.main.pushRemote"]),
        "origin"
    );
    assert!(!config().contains("up2"), "{}", config());
}

/// Files the user's `~/.gitconfig` names (an include, a global excludes file) are read in a
/// hardened run: without them every git command was fatal (working day fourteen).
#[test]
fn git_reads_the_files_the_users_git_configuration_names() {
    let Some(h) = home() else { return };
    std::fs::write(
        h.home.join(".gitconfig"),
        "[user]\n\tname = owner\n[include]\n\tpath = ~/.gitconfig.local\n[core]\n\texcludesFile = ~/.gitignore_global\n",
    )
    .unwrap();
    std::fs::write(
        h.home.join(".gitconfig.local"),
        "[alias]\n\tst = status --short\n",
    )
    .unwrap();
    std::fs::write(h.home.join(".gitignore_global"), "*.tmp\n").unwrap();
    let o = h.sh("git init -q && touch a.tmp b.txt && git st");
    assert_eq!(
        (o.status.code(), out(&o).as_str()),
        (Some(0), "?? b.txt\n?? evil.yaml\n"),
        "{}",
        err(&o)
    );
}

/// A protected file git tracks cannot be changed by git either (`git switch` to a branch where
/// `.vscode/settings.json` differs leaves the old file and exits 0): cordon says so, so the
/// agent does not commit the old file back unawares (working day fourteen).
#[test]
fn a_refused_change_to_a_protected_tracked_file_is_explained() {
    let Some(h) = home() else { return };
    let git = |args: &str| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "git -c user.name=u -c user.email=u@example.invalid {args}"
            ))
            .current_dir(&h.ws)
            .status()
            .unwrap();
        assert!(status.success(), "git {args}");
    };
    std::fs::create_dir_all(h.ws.join(".vscode")).unwrap();
    std::fs::write(h.ws.join(".vscode/settings.json"), "{\"a\": 1}\n").unwrap();
    git("init -q -b main && git add .vscode && git -c user.name=u -c user.email=u@example.invalid commit -qm one");
    git("checkout -q -b other");
    std::fs::write(h.ws.join(".vscode/settings.json"), "{\"a\": 2}\n").unwrap();
    git("commit -qam two && git checkout -q main");
    let o = h.sh("git switch -q other; git status --short .vscode");
    let said = err(&o);
    assert!(
        said.contains("1 change to agent, editor or git settings was refused")
            && said.contains(".vscode/settings.json"),
        "{said}"
    );
    assert_eq!(out(&o), " M .vscode/settings.json\n", "{said}");
    // Control: a switch that changes no protected file says nothing of the kind.
    let o = h.sh("git switch -q main");
    assert!(!err(&o).contains("was refused"), "{}", err(&o));
}

/// `git gc` tries to update `.git/info/refs`, which only a dumb HTTP server reads: the read-only
/// `info` refuses it, and that is no setting a person need hear of (round twenty-one: every
/// `git gc` warned). A change to `info/exclude` in the same run still is.
#[test]
fn git_gc_updating_server_info_is_no_refused_setting() {
    let Some(h) = home() else { return };
    std::fs::write(h.ws.join("a"), "a\n").unwrap();
    h.git(&h.ws, &["init", "-q", "-b", "main"]);
    h.git(&h.ws, &["add", "a"]);
    h.git(&h.ws, &["commit", "-qm", "one"]);
    let o = h.sh("git gc -q");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!err(&o).contains("was refused"), "{}", err(&o));
    assert!(!err(&o).contains("were refused"), "{}", err(&o));
    assert!(!h.ws.join(".git/info/refs").exists());
    // Control: the same run also appending to `info/exclude` is told, and names that file.
    std::fs::write(
        h.ws.join("sneak.sh"),
        "echo '*.evil' >> .git/info/exclude\n",
    )
    .unwrap();
    let o = h.sh("git gc -q; sh sneak.sh");
    let said = err(&o);
    assert!(
        said.contains("1 change to agent, editor or git settings was refused")
            && said.contains(".git/info/exclude"),
        "{said}"
    );
}

/// Working day twenty: in a project that commits a `.env` the user has since changed, `git diff`
/// failed on it with a bare "Permission denied". cordon says why.
#[test]
fn a_sealed_credential_git_fails_on_is_explained() {
    let Some(h) = home() else { return };
    std::fs::write(h.ws.join(".env"), "MODE=dev\n").unwrap();
    std::fs::write(h.ws.join("a.txt"), "a\n").unwrap();
    h.git(&h.ws, &["init", "-q", "-b", "main"]);
    h.git(&h.ws, &["add", "-f", ".env", "a.txt"]);
    h.git(&h.ws, &["commit", "-qm", "one"]);
    std::fs::write(h.ws.join(".env"), "MODE=dev\nTOKEN=mine\n").unwrap();
    let o = h.sh("git diff --stat");
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    let said = err(&o);
    assert!(
        said.contains(
            ".env is a credential git tracks with other contents than the file now holds"
        ),
        "{said}"
    );
    // Control: a command that fails for another reason says nothing of it.
    let o = h.sh("git show no-such-ref");
    assert!(!err(&o).contains("credential git tracks"), "{}", err(&o));
}

/// Working day twenty: with no network, npm retried each registry request for about 70 s
/// (`npx --no-install eslint .`). A hardened run with no network tells npm not to retry.
#[test]
fn a_run_with_no_network_tells_npm_not_to_retry() {
    let Some(h) = home() else { return };
    let o = h.sh("echo \"retries=$npm_config_fetch_retries\"");
    assert_eq!(out(&o), "retries=0\n", "{}", err(&o));
}

/// Red-team round twenty-two: `git add -f .env && git commit` in the sandbox committed the
/// empty stand-in the command sees for the user's `.env`; the user's next `git checkout .` would
/// have written it over the secrets. Such a commit is put back and the entry left out of the
/// index; a commit of other files goes through (control).
#[test]
fn a_commit_of_a_stood_in_credential_is_put_back() {
    let Some(h) = home() else { return };
    std::fs::write(h.ws.join("a.txt"), "a\n").unwrap();
    h.git(&h.ws, &["init", "-q", "-b", "main"]);
    h.git(&h.ws, &["add", "a.txt"]);
    h.git(&h.ws, &["commit", "-qm", "one"]);
    std::fs::write(h.ws.join(".env"), "API_TOKEN=SECRET-ENV\n").unwrap();
    let before = h.git(&h.ws, &["rev-parse", "HEAD"]);
    let o = h.opaque(
        "git add -f .env && git -c user.name=a -c user.email=a@example.invalid commit -qm env",
    );
    assert!(err(&o).contains("was put back"), "{}", err(&o));
    assert!(
        err(&o).contains(
            "a commit recorded .env as the empty file the command sees in place of credentials"
        ),
        "{}",
        err(&o)
    );
    assert_eq!(h.git(&h.ws, &["rev-parse", "HEAD"]), before);
    assert_eq!(h.git(&h.ws, &["ls-files", ".env"]), "");
    assert_eq!(
        std::fs::read_to_string(h.ws.join(".env")).unwrap(),
        "API_TOKEN=SECRET-ENV\n"
    );
    // Control: the same run's commit of an ordinary file stays.
    std::fs::write(h.ws.join("b.txt"), "b\n").unwrap();
    let o = h
        .opaque("git add b.txt && git -c user.name=a -c user.email=a@example.invalid commit -qm b");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_ne!(h.git(&h.ws, &["rev-parse", "HEAD"]), before);
}

/// Red-team round twenty-two: the user's global git configuration names a hooks directory and
/// an include inside the workspace. They stay read-only (and the include, absent, may not be
/// made), but the workspace's top keeps the right to make new files: granted around them, it
/// had lost it, and `touch new` failed.
#[test]
fn read_only_paths_inside_the_workspace_leave_its_top_writable() {
    let Some(h) = home() else { return };
    std::fs::create_dir_all(h.ws.join("tools/hooks")).unwrap();
    std::fs::write(h.ws.join("tools/hooks/pre-commit"), "#!/bin/sh\n").unwrap();
    std::fs::write(h.ws.join("tools/cred.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(
        h.home.join(".gitconfig"),
        format!(
            "[user]\n\tname = owner\n[core]\n\thooksPath = {}\n[include]\n\tpath = {}\n[credential]\n\thelper = !{} get\n",
            h.ws.join("tools/hooks").display(),
            h.ws.join("team.gitconfig").display(),
            h.ws.join("tools/cred.sh").display()
        ),
    )
    .unwrap();
    let o = h.sh("touch new.txt && mkdir newdir && echo ok");
    assert_eq!(
        (o.status.code(), out(&o).as_str()),
        (Some(0), "ok\n"),
        "{}",
        err(&o)
    );
    for attack in [
        "echo evil >> tools/hooks/pre-commit",
        "echo evil > tools/hooks/post-commit",
        "mv tools tools.old",
        "rm -rf tools",
        "echo '[core]' > team.gitconfig",
        "ln -s /tmp team.gitconfig",
        "echo 'cat >> ~/loot' >> tools/cred.sh",
    ] {
        let o = h.opaque(attack);
        assert_ne!(o.status.code(), Some(0), "{attack}: {}", err(&o));
        assert_eq!(
            std::fs::read_to_string(h.ws.join("tools/hooks/pre-commit")).unwrap(),
            "#!/bin/sh\n",
            "{attack}"
        );
        assert!(!h.ws.join("tools/hooks/post-commit").exists(), "{attack}");
        assert!(
            std::fs::symlink_metadata(h.ws.join("team.gitconfig")).is_err(),
            "{attack}"
        );
        assert_eq!(
            std::fs::read_to_string(h.ws.join("tools/cred.sh")).unwrap(),
            "#!/bin/sh\n",
            "{attack}"
        );
    }
}

/// Red-team round twenty-two: a link in the workspace to a file of the home outside the
/// envelope. Writing through it fails in the kernel, and the checkpoint cordon keeps for the
/// write, made outside the sandbox, copied the file into cordon's store. It copies nothing now;
/// a workspace file the command changes is still kept (control).
#[test]
fn a_checkpoint_never_copies_what_a_link_leads_out_to() {
    let Some(h) = home() else { return };
    std::fs::create_dir_all(h.home.join("Documents")).unwrap();
    std::fs::write(h.home.join("Documents/private.txt"), "PRIVATE-PIN-4711\n").unwrap();
    std::os::unix::fs::symlink(h.home.join("Documents/private.txt"), h.ws.join("p")).unwrap();
    std::fs::write(h.ws.join("mine.txt"), "WORKSPACE-MARK\n").unwrap();
    let o = h.sh("echo x > p; echo y > mine.txt");
    assert!(!err(&o).contains("outside the workspace"), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(h.home.join("Documents/private.txt")).unwrap(),
        "PRIVATE-PIN-4711\n"
    );
    assert_eq!(
        std::fs::read_to_string(h.ws.join("mine.txt")).unwrap(),
        "y\n"
    );
    let held: Vec<String> = tree_support::tree(&h.cordon_home())
        .into_values()
        .map(|(_, _, bytes)| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    assert!(held.iter().all(|t| !t.contains("PRIVATE-PIN-4711")));
    assert!(held.iter().any(|t| t.contains("WORKSPACE-MARK")), "control");
}

/// A credential-named file anywhere in the workspace stays closed from one call to the next,
/// whatever the calls between did: an index entry made to look committed (`git add -N`), its
/// directory renamed to a name the search skips, the workspace padded with directories (red-team
/// rounds three and four). The search remembers it in cordon's home.
#[test]
fn a_secret_anywhere_in_the_workspace_stays_closed_across_calls() {
    let Some(h) = home() else { return };
    let deep = h.ws.join("services/api/config/prod");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join(".env"), "DB_PASS=deep-secret\n").unwrap();
    let read = "cat services/api/config/prod/.env target/api/config/prod/.env 2>/dev/null; true";
    let o = h.opaque(read);
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), String::new()),
        "{}",
        err(&o)
    );
    for (between, made) in [
        (
            "git init -q . && git add -N -f services/api/config/prod/.env",
            ".git/index",
        ),
        // The directory cannot be renamed (EXDEV): `mv` copies what it can read (the secret,
        // sealed after the `git add -N` above, it cannot).
        ("mv services target", "target/api/config/prod"),
        (
            "for i in $(seq 300); do mkdir -p pad/p$i/q; done",
            "pad/p300/q",
        ),
    ] {
        let _ = h.opaque(between);
        assert!(h.ws.join(made).exists(), "`{between}` did not run");
        let o = h.opaque(read);
        assert!(
            !out(&o).contains("deep-secret"),
            "after `{between}`: {}",
            out(&o)
        );
    }
    assert_eq!(
        std::fs::read_to_string(deep.join(".env")).unwrap(),
        "DB_PASS=deep-secret\n"
    );
    let memory = h.home.join(".config/cordon/search");
    assert!(
        std::fs::read_dir(&memory).is_ok_and(|d| d.count() == 1),
        "{memory:?}"
    );
    // Positive control: named local mode reads it through the same script.
    std::fs::write(h.ws.join("opaque.sh"), read).unwrap();
    let o = h.exec(&["--mode", "local", "--shell", "bash opaque.sh"]);
    assert!(out(&o).contains("deep-secret"), "{}", out(&o));
}

/// A reader that closes cordon's stderr early (`cordon exec … 2>&1 | head -1`) must not stop the
/// run halfway: red-team round six saw cordon abort on the next notice (a panic), with the
/// decision journaled and the command never run.
#[test]
fn a_closed_stderr_does_not_stop_the_run() {
    let Some(h) = home() else { return };
    std::fs::write(h.ws.join("notes.txt"), "old\n").unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // An overwrite: cordon says it allowed it, and that it took a checkpoint, on stderr.
    let o = h
        .command(&["--shell", "echo new > notes.txt"])
        .stderr(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(h.ws.join("notes.txt")).unwrap(),
        "new\n"
    );
}

#[test]
fn a_compound_text_never_stops_halfway_when_an_earlier_segment_changes_a_later_ones_path() {
    let Some(h) = home() else { return };
    let o = h.sh("mkdir -p src && echo x > src/f && ln -s src/f link && ln -s src dirlink");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = h.sh("rm -rf src && rm link && rm dirlink && echo both");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "both\n");
    for gone in ["src", "link", "dirlink"] {
        assert!(
            std::fs::symlink_metadata(h.ws.join(gone)).is_err(),
            "{gone}"
        );
    }
    // A rename in the first segment, the old name read in the second: the later segment meets
    // the file system as the earlier left it, not a refusal.
    std::fs::create_dir(h.ws.join("a")).unwrap();
    std::fs::write(h.ws.join("a/f"), "moved\n").unwrap();
    let o = h.sh("mv a b && cat b/f && cat a/f");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(out(&o), "moved\n");
    refused(&o, 1, "cat: a/f: No such file or directory");
}

/// A workspace that is a subdirectory of a repository reads the rest of the work tree, as git
/// must (working day fifteen: unreadable, the root `.gitignore` went unread, `git add .` staged
/// ignored files and `git clean -fd` removed an ignored database); it stays read-only, and a
/// credential-named file in it reads as empty.
#[test]
fn a_subdirectory_workspace_reads_its_repository_and_git_keeps_its_ignores() {
    let Some(h) = home() else { return };
    let git = |args: &[&str]| h.git(&h.ws, args);
    let api = h.ws.join("services/api");
    std::fs::create_dir_all(&api).unwrap();
    std::fs::create_dir_all(h.ws.join("shared")).unwrap();
    std::fs::write(h.ws.join(".gitignore"), "*.db\n.env\n").unwrap();
    std::fs::write(h.ws.join(".env"), "TOKEN=SECRET-ROOT-ENV\n").unwrap();
    std::fs::write(h.ws.join("shared/util.py"), "def util(): pass\n").unwrap();
    std::fs::write(api.join("app.py"), "print(1)\n").unwrap();
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "init"]);
    std::fs::write(api.join("local.db"), "rows\n").unwrap();
    let sub = api.to_str().unwrap();
    let run = |text: &str| h.exec(&["--workspace", sub, "--cwd", sub, "--shell", text]);
    let o = run("git add . && git status --short && cat ../../shared/util.py && git clean -fd");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "def util(): pass\n", "{}", err(&o));
    assert!(
        api.join("local.db").exists(),
        "git clean removed an ignored file"
    );
    std::fs::write(
        api.join("read.sh"),
        "cat ../../.env; echo x >> ../../shared/util.py\n",
    )
    .unwrap();
    let o = run("bash read.sh");
    assert!(!out(&o).contains("SECRET-ROOT-ENV"), "{}", out(&o));
    assert!(err(&o).contains("Permission denied"), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(h.ws.join("shared/util.py")).unwrap(),
        "def util(): pass\n"
    );
}

/// A command cannot write a protected name in the work tree, and so commits it with git's
/// plumbing, for the user's next `git stash` or checkout to write it outside any sandbox
/// (red-team round sixteen: the user's next `git commit` ran the planted husky hook). After the
/// run the branch is put back, the commit kept aside, and the index reset at that path.
#[test]
fn a_protected_name_committed_with_plumbing_is_put_back_after_the_run() {
    let Some(h) = home() else { return };
    let git = |args: &[&str]| h.git(&h.ws, args);
    std::fs::create_dir_all(h.ws.join(".husky")).unwrap();
    std::fs::write(h.ws.join(".husky/pre-push"), "#!/bin/sh\nexit 0\n").unwrap();
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "init"]);
    let before = git(&["rev-parse", "HEAD"]);
    let plant = "b=$(printf '#!/bin/sh\\ntouch \"$HOME/pwned\"\\n' | git hash-object -w --stdin)\n\
                 git update-index --add --cacheinfo 100755,$b,.husky/pre-commit\n\
                 git -c user.email=a@example.com -c user.name=a commit -qm lint\n";
    let o = h.opaque(plant);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("was put back to") && err(&o).contains(".husky/pre-commit"),
        "{}",
        err(&o)
    );
    assert_eq!(git(&["rev-parse", "HEAD"]), before);
    let kept = git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/cordon/refused/",
    ]);
    assert!(kept.ends_with("/heads/master"), "{kept}");
    assert_ne!(git(&["rev-parse", &kept]), before);
    // The user's next ordinary git commands write nothing of the command's.
    git(&["stash", "-q", "--include-untracked"]);
    git(&["checkout", "-q", "--", "."]);
    assert!(!h.ws.join(".husky/pre-commit").exists());
    // Control: the same plumbing outside cordon leaves the hook for the user's git to write.
    std::fs::write(h.ws.join("plant.sh"), plant).unwrap();
    let o = Command::new("bash")
        .arg("plant.sh")
        .current_dir(&h.ws)
        .env("HOME", &h.home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", err(&o));
    git(&["checkout", "-q", "--", "."]);
    assert!(h.ws.join(".husky/pre-commit").exists());
}

/// git's XDG credential store lies in `~/.config/git`, which the envelope reads (git's own
/// configuration): it is closed there like `~/.git-credentials` (red-team round sixteen read its
/// token from a script).
#[test]
fn the_xdg_git_credential_store_stays_closed_beside_a_readable_git_config() {
    let Some(h) = home() else { return };
    std::fs::create_dir_all(h.home.join(".config/git")).unwrap();
    std::fs::write(
        h.home.join(".config/git/credentials"),
        "https://u:SECRET-XDG@example.com\n",
    )
    .unwrap();
    std::fs::write(h.home.join(".config/git/ignore"), "*.swp\n").unwrap();
    let o = h.opaque("cat ~/.config/git/ignore; cat ~/.config/git/credentials\n");
    assert!(out(&o).contains("*.swp"), "control: {}", err(&o));
    assert!(!out(&o).contains("SECRET-XDG"), "{}", out(&o));
    let o = h.sh("cat ~/.config/git/credentials");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("Denied"), "{}", err(&o));
}

/// Background work does not outlive a command, and the user is told when some was stopped
/// (working day fifteen: a server started with `&` was gone, silently, when the next command
/// called it).
#[test]
fn background_processes_stopped_at_the_end_are_named() {
    let Some(h) = home() else { return };
    let o = h.sh("sleep 30 & echo started");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains(
            "cordon: note: 1 process the command left running in the background was stopped"
        ),
        "{}",
        err(&o)
    );
    // Control: work waited for is not stopped, and nothing is said.
    let o = h.sh("sleep 0.1 & wait; echo waited");
    assert_eq!(out(&o), "waited\n", "{}", err(&o));
    assert!(!err(&o).contains("background"), "{}", err(&o));
}

/// A command that fails on a path outside the envelope is told which one, since the kernel's
/// refusal is a bare "Permission denied" (working day fifteen: `cp ~/Downloads/x.csv data/`).
#[test]
fn a_failure_on_a_path_beyond_the_envelope_names_it() {
    let Some(h) = home() else { return };
    std::fs::create_dir_all(h.home.join("Downloads")).unwrap();
    std::fs::write(h.home.join("Downloads/x.csv"), "a,b\n").unwrap();
    let o = h.sh("cp ~/Downloads/x.csv data/x.csv");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    let note = format!(
        "cordon: note: {} lies outside what a hardened command may reach",
        h.home.join("Downloads/x.csv").display()
    );
    assert!(err(&o).contains(&note), "{}", err(&o));
    // Whatever the exit: a pipe's last command hides the refusal.
    let o = h.sh("cat ~/Downloads/x.csv | wc -l");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains(&note), "{}", err(&o));
    // A command that names such a path and succeeds without a refusal gets no note (working
    // day eighteen: `go test` named a module cache it never needed).
    let o = h.sh("wc -l ~/Downloads/x.csv 2>/dev/null || echo not read");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "not read\n", "{}", err(&o));
    assert!(!err(&o).contains("cordon: note:"), "{}", err(&o));
    // Control: a failure inside the envelope names nothing.
    let o = h.sh("cp data/missing.csv data/x.csv");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(!err(&o).contains("cordon: note:"), "{}", err(&o));
    // Nor does a path under the workspace's own `/tmp`, where the command may write (red-team
    // round nineteen: the note said the kernel refused a `tar` that succeeded).
    let o = h.sh("echo a > data/a.csv && cp data/a.csv /tmp/a.csv && tar czf /tmp/a.tgz data");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!err(&o).contains("cordon: note:"), "{}", err(&o));
}

/// An agent harness's `GIT_EDITOR=true` and `PAGER=cat` reach the command, so `git commit
/// --amend` and `git rebase --continue` do not wait for an editor nobody types into (working day
/// fifteen: they hung until the timeout); a value that starts a program cordon did not judge
/// stays out.
#[test]
fn an_editor_or_pager_that_starts_nothing_is_passed_and_no_other() {
    let Some(h) = home() else { return };
    let run = |text: &str, env: &[(&str, &str)]| {
        let mut c = h.command(&["--shell", text]);
        for (name, value) in env {
            c.env(name, value);
        }
        c.output().unwrap()
    };
    let o = run(
        "printenv GIT_EDITOR GIT_SEQUENCE_EDITOR PAGER GIT_AUTHOR_NAME",
        &[
            ("GIT_EDITOR", "true"),
            ("GIT_SEQUENCE_EDITOR", ":"),
            ("PAGER", "cat"),
            ("GIT_AUTHOR_NAME", "Ada"),
        ],
    );
    assert_eq!(out(&o), "true\n:\ncat\nAda\n", "{}", err(&o));
    for value in ["vim", "sh -c 'touch pwned'", "./editor.sh"] {
        let o = run(
            "printenv EDITOR",
            &[("EDITOR", value), ("GIT_EDITOR", value)],
        );
        assert_eq!(o.status.code(), Some(1), "{value}: {}", err(&o));
        assert_eq!(out(&o), "", "{value}");
    }
    let o = run(
        "git init -q r && cd r && git -c user.email=a@example.com commit -q --allow-empty -m one \
         && git -c user.email=a@example.com commit -q --amend --allow-empty && git log --format=%s",
        &[("GIT_EDITOR", "true")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "one\n");
}

/// `rm -rf` of a repository the agent cloned or made, and of a directory holding a `.vscode`
/// that is no project's, goes to the trash: the soft-delete service refuses what the sandbox
/// protects and no more (working day fifteen: both were refused). A project of the user's that
/// holds agent or editor settings is still refused, and a repository removed whole and made again
/// at its path in the same run keeps no hook or monitor git would run.
#[test]
fn a_repository_the_agent_made_can_be_removed_whole_and_made_again_runs_nothing() {
    let Some(h) = home() else { return };
    let git = |dir: &Path, args: &[&str]| h.git(dir, args);
    let o = h.sh(
        "git init -q vendor/clone && echo a > vendor/clone/a && git -C vendor/clone add a \
         && git -C vendor/clone -c user.email=a@example.com commit -qm x",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    std::fs::create_dir_all(h.ws.join("scratch/.vscode")).unwrap();
    std::fs::write(h.ws.join("scratch/.vscode/settings.json"), "{}").unwrap();
    for project in ["trusted", "proj"] {
        std::fs::create_dir_all(h.ws.join(project)).unwrap();
        std::fs::write(h.ws.join(project).join("f"), "f\n").unwrap();
        git(&h.ws.join(project), &["init", "-q"]);
        git(&h.ws.join(project), &["add", "f"]);
        git(&h.ws.join(project), &["commit", "-qm", "f"]);
    }
    std::fs::create_dir_all(h.ws.join("trusted/.vscode")).unwrap();
    std::fs::write(h.ws.join("trusted/.vscode/tasks.json"), "{}").unwrap();

    let o = h.sh("rm -rf vendor/clone scratch");
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(!h.ws.join("vendor/clone").exists() && !h.ws.join("scratch").exists());

    // The user's project with editor settings stays, as the sandbox keeps them.
    let o = h.sh("rm -rf trusted");
    assert_ne!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("it is or holds .vscode, which the sandbox keeps read-only"),
        "{}",
        err(&o)
    );
    assert!(h.ws.join("trusted/.vscode/tasks.json").exists());
    // Nor renamed aside, which would free its path for a directory of the command's making
    // whose `.git` file leads to the moved git directory (red-team round seventeen).
    std::fs::create_dir_all(h.ws.join("plain/dir")).unwrap();
    let o = h.sh("mv trusted moved; mv plain renamed");
    // The rename is refused (EXDEV); mv's fallback, a copy, cannot remove what stays pinned.
    assert!(
        h.ws.join("trusted/.vscode/tasks.json").exists(),
        "{}",
        err(&o)
    );
    assert!(h.ws.join("trusted/.git/HEAD").is_file(), "{}", err(&o));
    assert!(h.ws.join("renamed/dir").is_dir(), "control: {}", err(&o));

    // Removed whole and made again with a monitor and a hook: moved aside after the run.
    let o = h.opaque(
        "rm -rf proj && git init -q proj && git -C proj config core.fsmonitor 'touch ../pwned'\n\
         printf '#!/bin/sh\\ntouch ../pwned\\n' > proj/.git/hooks/post-checkout\n\
         chmod +x proj/.git/hooks/post-checkout\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        h.ws.join("proj/.git/config.refused-by-cordon").exists(),
        "{}",
        err(&o)
    );
    assert!(
        !h.ws.join("proj/.git/hooks/post-checkout").exists(),
        "{}",
        err(&o)
    );
    git(&h.ws.join("proj"), &["status", "--short"]);
    git(&h.ws.join("proj"), &["checkout", "-q", "-b", "next"]);
    assert!(!h.ws.join("pwned").exists());
    // Control: the same script run without cordon leaves the monitor for git to run.
    let o = Command::new("bash")
        .arg("opaque.sh")
        .current_dir(&h.ws)
        .env("HOME", &h.home)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    git(&h.ws.join("proj"), &["status", "--short"]);
    assert!(h.ws.join("pwned").exists());
}

/// This machine's home (its toolchains), a workspace and cordon's home under the target
/// directory.
struct Everyday {
    _dir: tempfile::TempDir,
    ws: PathBuf,
    cordon_home: PathBuf,
}

fn everyday() -> Option<Everyday> {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI
        && cordon_testkit::allow_skip("landlock", &format!("the kernel offers ABI {abi}"))
    {
        return None;
    }
    let dir =
        tempfile::tempdir_in(cordon_testkit::outside_tmp(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let root = dir.path().canonicalize().unwrap();
    let ws = root.join("ws");
    std::fs::create_dir(&ws).unwrap();
    Some(Everyday {
        _dir: dir,
        ws,
        cordon_home: root.join("cordon-home"),
    })
}

impl Everyday {
    fn sh(&self, policy: Option<&Path>, text: &str) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
        c.arg("exec");
        if let Some(policy) = policy {
            c.arg("--policy").arg(policy);
        }
        c.args(["--shell", text])
            .current_dir(&self.ws)
            .env("CORDON_HOME", &self.cordon_home)
            .env("CORDON_GATEWAY", "off")
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .env_remove("CORDON_SESSION")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.ws.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn require(tool: &str) {
    let present = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    cordon_testkit::require(present, tool, "scripts/test installs it (apt-get install)");
}

/// Runs each (text, expected stdout) hardened under `policy` (the default pack when `None`).
#[track_caller]
fn all_run(e: &Everyday, policy: Option<&Path>, cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        let o = e.sh(policy, text);
        assert_eq!(o.status.code(), Some(0), "{text}: {}", err(&o));
        assert_eq!(&out(&o), expected, "{text}: {}", err(&o));
    }
}

#[test]
fn everyday_work_runs_hardened_under_the_default_pack() {
    let Some(e) = everyday() else { return };
    for tool in [
        "sed", "gzip", "zip", "unzip", "tar", "make", "git", "npm", "node", "cargo", "pytest",
        "go", "javac", "java",
    ] {
        require(tool);
    }
    e.write("f", "alpha\n");
    // The JDK reads its security configuration from `/etc` on Debian (`$JAVA_HOME/conf` links
    // there): a digest failed with "Error loading java.security file" until the envelope read it.
    e.write(
        "H.java",
        "public class H { public static void main(String[] a) throws Exception {\n  System.out.println(java.security.MessageDigest.getInstance(\"SHA-256\").digest(new byte[1]).length);\n}}\n",
    );
    e.write("a", "new\n");
    e.write("b", "old\n");
    e.write("Makefile", "all:\n\t@echo made > made.txt\n");
    e.write("mk/Makefile", "all:\n\t@echo in-mk\n");
    e.write("unz/.keep", "");
    e.write(
        "package.json",
        r#"{"name":"w","version":"1.0.0","scripts":{"test":"node test.js"}}"#,
    );
    e.write("test.js", "console.log('tests ' + (1 + 1));\n");
    e.write("test_two.py", "def test_two():\n    assert 1 + 1 == 2\n");
    e.write("go.mod", "module example.com/two\n\ngo 1.19\n");
    e.write(
        "two_test.go",
        "package two\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) {\n\tif 1+1 != 2 {\n\t\tt.Fatal(\"no\")\n\t}\n}\n",
    );
    e.write(
        "tiny/Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    e.write(
        "tiny/src/lib.rs",
        "pub fn two() -> u8 { 2 }\n#[test]\nfn it_is_two() { assert_eq!(two(), 2); }\n",
    );
    let id = "-c user.name=agent -c user.email=agent@example.invalid";
    let git_init = format!("git init -q -b main && git add f && git {id} commit -qm one");
    let git_work = format!(
        "git checkout -q -b topic && echo two >> f && git {id} commit -qam two && git checkout -q main && echo base > g && git add g && git {id} commit -qm base && git checkout -q topic && git {id} rebase -q main && git log --format=%s | head -3"
    );
    let git_stash = format!("echo wip >> f && git {id} stash -q && git {id} stash list | wc -l");
    all_run(
        &e,
        None,
        &[
            ("sed -i s/alpha/beta/ f && cat f", "beta\n"),
            ("mv a b && cat b", "new\n"),
            ("cp f g && gzip g && gunzip -c g.gz", "beta\n"),
            ("zip -q out.zip f && unzip -p out.zip f", "beta\n"),
            ("tar czf t.tgz f b && tar xzf t.tgz -O b", "new\n"),
            ("[[ -f f ]] && echo is-file", "is-file\n"),
            ("ls ~ > /dev/null && echo listed", "listed\n"),
            ("make && cat made.txt", "made\n"),
            // One command that moves itself is started where the shell is (its argv moves it).
            ("make --no-print-directory -C mk", "in-mk\n"),
            ("tar xzf t.tgz -C unz", ""),
            // An archive of `.` holds a `./` entry: tar makes `.` (EEXIST) and sets its times.
            (
                "mkdir -p dot && tar cf dot.tar -C unz . && tar xf dot.tar -C dot && ls dot",
                "b\nf\n",
            ),
            // What the envelope bounds runs unattended under the default pack (issue 15 part 3).
            ("python3 -c 'print(6 * 7)'", "42\n"),
            // A login shell, as Codex runs every command, reads `/etc/profile` (what the
            // user's own `~/.profile` then reaches for is this machine's business).
            ("bash -lc 'echo login' 2>&1 | grep -c /etc/profile || true", "0\n"),
            // A semaphore in the command's own /dev/shm (sem_open).
            (
                "python3 -c 'import multiprocessing as m; p = m.Pool(2); print(sum(p.map(abs, [1, -2]))); p.close()'",
                "3\n",
            ),
            ("node -e 'console.log(6 * 7)'", "42\n"),
            ("find . -name f -maxdepth 1 | xargs grep -c beta", "1\n"),
            ("npm test --silent", "tests 2\n"),
            ("pytest -q -p no:cacheprovider test_two.py | tail -1 | cut -c1-8", "1 passed\n"),
            ("go test ./... | cut -c1-20", "ok  \texample.com/two\n"),
            ("javac -d jout H.java && java -cp jout H", "32\n"),
            (
                "cd tiny && cargo build --offline -q && cargo test --offline -q 2>&1 | grep -c '1 passed'",
                "1\n",
            ),
            (&git_init, ""),
            (&git_work, "two\nbase\none\n"),
            (&git_stash, "1\n"),
            ("git worktree add -q wt main 2>&1 && cat wt/g", "base\n"),
            // Git's own rewrites of the protected config, and the worktree removed again.
            (
                "git remote add origin https://example.invalid/r.git && git config user.email a@example.invalid && git worktree remove wt && git remote",
                "origin\n",
            ),
        ],
    );
}

/// What the front end still asks or refuses under the default pack (the front-end branch makes
/// hardened-mode decisions: issue 15 part 3) runs inside the same envelope under a policy that
/// allows every program: the envelope, not the decision, is what these need.
#[test]
fn inline_code_and_npx_run_inside_the_envelope_when_the_policy_allows_them() {
    let Some(e) = everyday() else { return };
    for tool in ["node", "npx", "python3"] {
        require(tool);
    }
    let policy = e.ws.parent().unwrap().join("allow-all.yaml");
    std::fs::write(
        &policy,
        "cordon_policy: 1\nname: allow-all\ndefault: deny\nrules:\n  - id: known\n    outcome: allow\n    reason: test\n    match: {known: true}\n  - id: unknown\n    outcome: allow\n    reason: test\n    match: {known: false}\n",
    )
    .unwrap();
    e.write("package.json", r#"{"name":"w","version":"1.0.0"}"#);
    e.write(
        "node_modules/.bin/hello",
        "#!/usr/bin/env node\nconsole.log('hello from npx');\n",
    );
    std::fs::set_permissions(
        e.ws.join("node_modules/.bin/hello"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    all_run(
        &e,
        Some(&policy),
        &[
            (
                "node -e 'console.log(require(\"crypto\").createHash(\"sha256\").update(\"x\").digest(\"hex\").slice(0, 8))'",
                "2d711642\n",
            ),
            ("npx --no-install hello", "hello from npx\n"),
            ("python3 -c 'print(6 * 7)'", "42\n"),
        ],
    );
    // The control that the envelope is in force in these runs: the system's secrets stay closed.
    let o = e.sh(Some(&policy), "cat /etc/shadow");
    refused(&o, 1, "cat: /etc/shadow: Permission denied");
}
