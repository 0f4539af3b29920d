//! Everyday agent work runs inside the envelope (issue 15, "Everyday work runs"): editors that
//! write beside their target and rename (`sed -i`, `mv` onto a file, `gzip`, `zip`), archives,
//! Node.js, npm and npx, cargo, pytest, go, make, git, and the small forms agents write (`grep -c
//! '' f`, `[[ -f x ]]`, `ls ~`), all hardened, in a workspace of their own, under the envelope the
//! default pack defines for this machine's home directory (its credentials closed).
//!
//! A tool this machine lacks fails its test with one sentence naming it (CI installs them:
//! `.ci/run`). Every command's output is checked, not only its exit code, and the same envelope
//! still refuses the home's credentials in the same run (the control that it is really in force).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use cordon_policy::envelope::{envelope_paths, read_dir_names, PolicyGlobs};
use cordon_policy::native::LoadedNativePolicy;
use cordon_policy::toolchains::Toolchains;
use cordon_sandbox::{
    run, scrubbed_env, Confinement, Envelope, Grant, GrantAccess, Plan, PlannedCommand,
};

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("these tests need HOME"))
}

/// The envelope the default pack defines for `workspace` on this machine.
fn envelope(workspace: &Path) -> Envelope {
    let pack = LoadedNativePolicy::default_pack().unwrap();
    let home = home();
    let paths = envelope_paths(
        &PolicyGlobs::of(&pack.policy),
        Toolchains::builtin(),
        workspace,
        &home,
        &home.join(".config/cordon"),
        &read_dir_names,
    );
    // The caches are layered as the governor layers them, in a cordon home of the test's own
    // (beside the workspace) so that no test leaves layers in this machine's.
    let test_home = workspace.parent().unwrap().join("cordon");
    Envelope::builder(&paths.workspace)
        .home(&paths.home)
        .cordon_home(&paths.cordon_home)
        .never(paths.never)
        .never([&test_home])
        .never_names(paths.never_names)
        .read_only(paths.read_only)
        .caches(paths.caches)
        .cache_layers(test_home.join("layers"))
        .reads(paths.reads)
        .build()
        .unwrap()
}

fn require(tool: &str) {
    let present = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    cordon_testkit::require(present, tool, "scripts/test installs it (apt-get install)");
}

/// Runs `bash -c script` hardened in `ws`; returns the exit code and stdout+stderr.
fn bash(ws: &Path, script: &str) -> (i32, String) {
    let env = scrubbed_env(&["HOME", "LANG", "USER"], |n| std::env::var_os(n));
    let plan = Plan {
        commands: vec![PlannedCommand::new("c", ["/bin/bash", "-c", script], ws)
            .env(env)
            .timeout(Duration::from_secs(240))],
    };
    let conf = Confinement::within(envelope(ws));
    let report = run(&plan, &conf, &quiet()).unwrap();
    assert!(report.enforcement.landlock.enforced);
    // Every cache of this machine that the pack names was written through a layer.
    let layered: Vec<_> = report
        .enforcement
        .envelope
        .cache_layers
        .iter()
        .map(|l| &l.cache)
        .collect();
    for cache in [".cache", ".cargo/registry", ".npm"] {
        let cache = home().join(cache);
        if cache.is_dir() {
            assert!(
                layered.contains(&&canon(&cache)),
                "{cache:?} not in {layered:?}: {:?}",
                report.enforcement.envelope.notes
            );
        }
    }
    let c = &report.commands[0];
    (
        c.exit_code,
        format!(
            "{}{}",
            String::from_utf8_lossy(&c.stdout.captured),
            String::from_utf8_lossy(&c.stderr.captured)
        ),
    )
}

/// A workspace beside which its cache layers are kept, outside `/tmp` as a user's would be (a
/// workspace under `/tmp` keeps the host's `/tmp`: it would vanish under the workspace's own).
fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir =
        tempfile::tempdir_in(cordon_testkit::outside_tmp(env!("CARGO_TARGET_TMPDIR"))).unwrap();
    let path = canon(dir.path()).join("ws");
    std::fs::create_dir(&path).unwrap();
    std::fs::create_dir(path.with_file_name("cordon")).unwrap();
    (dir, path)
}

#[test]
fn editors_and_archivers_that_write_beside_their_target_work() {
    if landlock_missing() {
        return;
    }
    for tool in ["sed", "gzip", "zip", "unzip", "tar"] {
        require(tool);
    }
    let (_t, ws) = workspace();
    std::fs::write(ws.join("f"), "alpha\n").unwrap();
    std::fs::write(ws.join("a"), "new\n").unwrap();
    std::fs::write(ws.join("b"), "old\n").unwrap();
    let (code, out) = bash(
        &ws,
        "set -e
         sed -i s/alpha/beta/ f && cat f
         mv a b && cat b
         cp f g && gzip g && gunzip -c g.gz
         zip -q out.zip f && mkdir x && unzip -q out.zip -d x && cat x/f
         tar czf t.tgz f b && mkdir y && tar xzf t.tgz -C y && cat y/b
         grep -c '' f
         [[ -f f ]] && echo is-file",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["beta", "new", "beta", "beta", "new", "1", "is-file"]
    );
    assert!(!ws.join("a").exists() && !ws.join("g").exists());
}

#[test]
fn ls_home_lists_names_but_the_credentials_stay_closed() {
    if landlock_missing() {
        return;
    }
    let (_t, ws) = workspace();
    let home = home();
    let (code, out) = bash(&ws, "ls -a ~ >/dev/null && echo listed");
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "listed");
    // The control that the envelope is in force in the same kind of run: the system's secrets
    // stay closed, and the home's closed files that exist here show none of their contents.
    assert!(
        std::fs::read("/etc/shadow").is_ok(),
        "positive control: readable outside"
    );
    let (code, out) = bash(&ws, "cat /etc/shadow");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    for closed in [
        ".npmrc",
        ".aws/credentials",
        ".git-credentials",
        ".netrc",
        ".ssh/id_ed25519",
    ] {
        let path = home.join(closed);
        let Ok(secret) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (_, out) = bash(&ws, &format!("cat {}", path.display()));
        let first = secret.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            first.is_empty() || !out.contains(first),
            "{closed} leaked: {out}"
        );
    }
}

#[test]
fn node_npm_and_npx_work() {
    if landlock_missing() {
        return;
    }
    for tool in ["node", "npm", "npx"] {
        require(tool);
    }
    let (_t, ws) = workspace();
    std::fs::write(
        ws.join("package.json"),
        r#"{"name":"w","version":"1.0.0","scripts":{"test":"node test.js"},"bin":{"hello":"hello.js"}}"#,
    )
    .unwrap();
    std::fs::write(ws.join("test.js"), "console.log('tests ' + (1 + 1));\n").unwrap();
    std::fs::create_dir_all(ws.join("node_modules/.bin")).unwrap();
    std::fs::write(
        ws.join("node_modules/.bin/hello"),
        "#!/usr/bin/env node\nconsole.log('hello from npx');\n",
    )
    .unwrap();
    std::fs::set_permissions(
        ws.join("node_modules/.bin/hello"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (code, out) = bash(
        &ws,
        "node -e 'console.log(require(\"crypto\").createHash(\"sha256\").update(\"x\").digest(\"hex\").slice(0, 8))' \
         && npm test && npx --no-install hello",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2d711642"), "{out}");
    assert!(out.contains("tests 2"), "{out}");
    assert!(out.contains("hello from npx"), "{out}");
}

/// Node's `fetch()` (undici's parser is WebAssembly, which reserves about 10 GiB of address
/// space) against a server of the command's own: it failed with "Out of memory: Cannot allocate
/// Wasm memory" under CSC's 4 GiB address-space limit (the working-day run). A workspace's
/// commands get no such limit; a CSC profile keeps it (the control).
#[test]
fn node_fetch_and_webassembly_work() {
    if landlock_missing() {
        return;
    }
    require("node");
    let (_t, ws) = workspace();
    let script = "const http = require('http');         new WebAssembly.Memory({ initial: 1 });         const s = http.createServer((q, r) => r.end('served')).listen(0, '127.0.0.1', async () => {           const r = await fetch('http://127.0.0.1:' + s.address().port);           console.log(await r.text()); s.close(); });";
    let (code, out) = bash(&ws, &format!("node -e \"{script}\""));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("served"), "{out}");
    let report = bash_report(&ws, "ulimit -v");
    assert_eq!(output(&report), "unlimited\n");
    // Control: under CSC's limit, which a CSC profile keeps, the same script fails.
    let csc = cordon_sandbox::Confinement::hardened().limits;
    assert_eq!(csc.address_space_bytes, Some(4 << 30));
    let plan = Plan {
        commands: vec![PlannedCommand::new(
            "c",
            ["/bin/bash", "-c", &format!("node -e \"{script}\"")],
            &ws,
        )],
    };
    let mut conf = Confinement::within(envelope(&ws));
    conf.limits.address_space_bytes = csc.address_space_bytes;
    let limited = run(&plan, &conf, &quiet()).unwrap();
    let said = output(&limited);
    assert_ne!(limited.commands[0].exit_code, 0, "{said}");
    assert!(said.contains("allocate"), "{said}");
}

#[test]
fn cargo_builds_and_tests_a_crate() {
    if landlock_missing() {
        return;
    }
    require("cargo");
    let (_t, ws) = workspace();
    std::fs::create_dir_all(ws.join("src")).unwrap();
    // Its own workspace root: the test's workspace lies inside this repository's target
    // directory, and cargo looking upward for a workspace would read this repository's
    // Cargo.toml, which the envelope does not grant (a project nested in another outside the
    // workspace fails the same way; docs/sandbox.md).
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("src/lib.rs"),
        "pub fn two() -> u8 { 2 }\n#[test]\nfn it_is_two() { assert_eq!(two(), 2); }\n",
    )
    .unwrap();
    let (code, out) = bash(
        &ws,
        "cargo build --offline -q && cargo test --offline -q 2>&1",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed"), "{out}");
}

#[test]
fn pytest_go_test_and_make_work() {
    if landlock_missing() {
        return;
    }
    for tool in ["pytest", "go", "make"] {
        require(tool);
    }
    let (_t, ws) = workspace();
    std::fs::write(
        ws.join("test_two.py"),
        "def test_two():\n    assert 1 + 1 == 2\n",
    )
    .unwrap();
    std::fs::write(ws.join("go.mod"), "module example.com/two\n\ngo 1.19\n").unwrap();
    std::fs::write(
        ws.join("two_test.go"),
        "package two\n\nimport \"testing\"\n\nfunc TestTwo(t *testing.T) {\n\tif 1+1 != 2 {\n\t\tt.Fatal(\"no\")\n\t}\n}\n",
    )
    .unwrap();
    std::fs::write(ws.join("Makefile"), "all:\n\t@echo made > made.txt\n").unwrap();
    let (code, out) = bash(
        &ws,
        "pytest -q -p no:cacheprovider 2>&1 | tail -1 && go test ./... 2>&1 && make && cat made.txt \
         && python3 -c 'import sys; print(\"python\", sys.version_info[0])'",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed"), "{out}");
    assert!(out.contains("ok  \texample.com/two"), "{out}");
    assert!(out.contains("made"), "{out}");
    assert!(out.contains("python 3"), "{out}");
}

#[test]
fn git_commit_rebase_stash_and_worktree_add_work() {
    if landlock_missing() {
        return;
    }
    require("git");
    let (_t, ws) = workspace();
    let id = "-c user.name=agent -c user.email=agent@example.invalid";
    // First run: make the repository (nothing to protect yet).
    let (code, out) = bash(
        &ws,
        &format!("git init -q -b main && echo one > f && git add f && git {id} commit -qm one"),
    );
    assert_eq!(code, 0, "{out}");
    // Second run: the repository exists, its hooks and config are protected, and work goes on.
    let (code, out) = bash(
        &ws,
        &format!(
            "set -e
             git checkout -q -b topic && echo two >> f && git {id} commit -qam two
             git checkout -q main && echo base > g && git add g && git {id} commit -qm base
             git checkout -q topic && git {id} rebase -q main
             echo wip >> f && git {id} stash -q && git {id} stash pop -q && git checkout -q f
             git worktree add -q wt main 2>&1
             git log --format=%s | head -3
             cat wt/g"
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["two", "base", "one", "base"]
    );
}

/// Runs `bash -c script` hardened in `ws` and returns the whole report.
fn bash_report(ws: &Path, script: &str) -> cordon_sandbox::RunReport {
    let plan = Plan {
        commands: vec![PlannedCommand::new("c", ["/bin/bash", "-c", script], ws)],
    };
    run(&plan, &Confinement::within(envelope(ws)), &quiet()).unwrap()
}

fn output(report: &cordon_sandbox::RunReport) -> String {
    let c = &report.commands[0];
    format!(
        "{}{}",
        String::from_utf8_lossy(&c.stdout.captured),
        String::from_utf8_lossy(&c.stderr.captured)
    )
}

/// `/tmp` is the workspace's own: what one command writes to `/tmp/x` the next reads (agents
/// write scratch files there, `cat > /tmp/t.py <<EOF` then `python3 /tmp/t.py`), it never reaches
/// the host's `/tmp`, another workspace does not see it, the host's `/tmp` is out of sight, and
/// TMPDIR lies in it.
#[test]
fn tmp_is_the_workspaces_own_and_kept_between_commands() {
    if landlock_missing() || skip_unless_root("mounting the workspace's own /tmp for certain") {
        return;
    }
    let (_t, ws) = workspace();
    let name = format!("cordon-scratch-{}.txt", std::process::id());
    let host_file = format!("/tmp/cordon-host-{}.txt", std::process::id());
    std::fs::write(&host_file, "host").unwrap();

    // Metadata too (`touch` sets times, `chmod` a mode: calls the write broker judges by the
    // names the command's namespace gives).
    let first = bash_report(
        &ws,
        &format!(
            "echo scratch > /tmp/{name} && touch /tmp/{name}.t && chmod 600 /tmp/{name}.t \
             && rm /tmp/{name}.t && mktemp && echo $TMPDIR"
        ),
    );
    assert_eq!(first.commands[0].exit_code, 0, "{}", output(&first));
    let own = first
        .enforcement
        .envelope
        .tmp
        .clone()
        .expect("the workspace's /tmp");
    assert_eq!(
        std::fs::read_to_string(own.join(&name)).unwrap(),
        "scratch\n"
    );
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "the write reached the host's /tmp"
    );
    for line in output(&first).lines() {
        assert!(
            line.starts_with("/tmp/cordon-"),
            "TMPDIR and mktemp: {line}"
        );
    }

    // A repository made there is scratch too: cordon's check of repositories made during the
    // run leaves it alone (it moved `.git` aside before), and tar keeps modes and times there.
    let second = bash_report(
        &ws,
        &format!(
            "cat /tmp/{name}; cat {host_file}; git init -q /tmp/{name}-repo && \
             tar cf /tmp/{name}.tar -C /tmp {name} && mkdir /tmp/{name}-x && \
             tar xf /tmp/{name}.tar -C /tmp/{name}-x && echo extracted"
        ),
    );
    let said = output(&second);
    assert!(said.starts_with("scratch\n"), "{said}");
    assert!(said.contains("No such file or directory"), "{said}");
    assert!(said.contains("extracted"), "{said}");
    assert!(
        own.join(format!("{name}-repo/.git/HEAD")).exists(),
        "{said}"
    );
    assert!(
        second.enforcement.protected_metadata.after_run.is_empty(),
        "{:?}",
        second.enforcement.protected_metadata.after_run
    );

    let (_t2, other) = workspace();
    let elsewhere = bash_report(&other, &format!("cat /tmp/{name}"));
    assert_eq!(elsewhere.commands[0].exit_code, 1, "{}", output(&elsewhere));
    assert_ne!(elsewhere.enforcement.envelope.tmp, Some(own.clone()));
    for scratch in ["", "-repo", ".tar", "-x"] {
        let path = own.join(format!("{name}{scratch}"));
        let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
    }
    std::fs::remove_file(&host_file).unwrap();
}

/// The workspace's own `/tmp` stays on the host, where a link in the workspace can lead the
/// user's git (red-team round thirteen: `ln -s <it>/e/.git vendor/lib/.git`, and the user's next
/// `git status` ran `core.fsmonitor`). Its repositories are judged as the workspace's are: a
/// configuration that would run a program is moved aside after the run, and so is the link, a
/// `.git` symlink, unless it leads to a repository judged so. Control: a plain `git init` there
/// keeps its configuration.
#[test]
fn a_repository_in_the_workspaces_tmp_is_judged_like_the_workspaces() {
    if landlock_missing() || skip_unless_root("mounting the workspace's own /tmp for certain") {
        return;
    }
    let (_t, ws) = workspace();
    let evil = format!("evil-{}", std::process::id());
    let plain = format!("plain-{}", std::process::id());
    let report = bash_report(
        &ws,
        &format!(
            "git init -q /tmp/{evil} && printf '[core]\\n\\tfsmonitor = \"touch pwned\"\\n' >> /tmp/{evil}/.git/config \
             && git init -q /tmp/{plain} && H=$(grep ' /tmp ' /proc/self/mountinfo | tail -1 | cut -d' ' -f4) \
             && mkdir -p vendor/lib && ln -s $H/{evil}/.git vendor/lib/.git && echo made"
        ),
    );
    assert!(output(&report).contains("made"), "{}", output(&report));
    let own = report
        .enforcement
        .envelope
        .tmp
        .clone()
        .expect("the workspace's /tmp");
    assert!(
        own.join(format!("{evil}/.git/config.refused-by-cordon"))
            .exists(),
        "{:?}",
        report.enforcement.protected_metadata.after_run
    );
    assert!(!own.join(format!("{evil}/.git/config")).exists());
    assert!(
        own.join(format!("{plain}/.git/config")).exists(),
        "the control"
    );
    for dir in [&evil, &plain] {
        let _ = std::fs::remove_dir_all(own.join(dir));
    }
}

/// Control: a workspace under `/tmp` would vanish under a `/tmp` of its own, so it keeps the
/// host's, where a command may write its TMPDIR and nothing else, and the report says why.
#[test]
fn a_workspace_under_tmp_keeps_the_hosts_tmp_closed() {
    if landlock_missing() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = canon(dir.path()).join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::create_dir(ws.with_file_name("cordon")).unwrap();
    let name = format!("/tmp/cordon-scratch-{}-control.txt", std::process::id());
    let report = bash_report(&ws, &format!("echo x > {name}"));
    assert!(
        output(&report).contains("Permission denied"),
        "{}",
        output(&report)
    );
    assert!(!Path::new(&name).exists());
    let envelope = &report.enforcement.envelope;
    assert_eq!(envelope.tmp, None);
    assert!(
        envelope.notes.iter().any(|n| n.contains("lies in /tmp")),
        "{:?}",
        envelope.notes
    );
}

/// A grant beyond the envelope reaches what it names, on the descriptor that was judged.
#[test]
fn a_grant_beyond_the_envelope_reaches_what_was_judged() {
    if landlock_missing() {
        return;
    }
    let (_t, ws) = workspace();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("data.txt"), "outside").unwrap();
    let plan = Plan {
        commands: vec![PlannedCommand::new(
            "c",
            ["/bin/cat", &path_str(&other.path().join("data.txt"))],
            &ws,
        )],
    };
    let conf = Confinement::within(envelope(&ws));
    let refused = run(&plan, &conf, &quiet()).unwrap();
    assert_eq!(refused.exit_code, 1);
    let granted = conf.grant(Grant {
        target: cordon_sandbox::resolve_real(other.path(), &ws).unwrap(),
        access: GrantAccess::Read,
    });
    let report = run(&plan, &granted, &quiet()).unwrap();
    assert_eq!(report.exit_code, 0);
    assert_eq!(report.commands[0].stdout.captured, b"outside");
}

/// A compound text never stops halfway because an earlier part removed what a later one names:
/// the envelope does not depend on the text, so nothing is resolved per command.
#[test]
fn a_later_command_naming_what_an_earlier_one_removed_still_runs() {
    if landlock_missing() {
        return;
    }
    let (_t, ws) = workspace();
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(ws.join("src/a"), "a").unwrap();
    std::os::unix::fs::symlink("src/a", ws.join("link")).unwrap();
    let conf = Confinement::within(envelope(&ws));
    for argv in [["/bin/rm", "-rf", "src"], ["/bin/rm", "-f", "link"]] {
        let plan = Plan {
            commands: vec![PlannedCommand::new("c", argv, &ws)],
        };
        let report = run(&plan, &conf, &quiet()).unwrap();
        assert_eq!(
            report.exit_code, 0,
            "{argv:?}: {:?}",
            report.commands[0].error
        );
    }
    assert!(!ws.join("src").exists() && std::fs::symlink_metadata(ws.join("link")).is_err());
    // The control: confinement by the paths a text names fails once they are gone.
    std::os::unix::fs::symlink("src/a", ws.join("link")).unwrap();
    let by_path = Confinement::hardened().write(ws.join("link"));
    let plan = Plan {
        commands: vec![PlannedCommand::new("c", ["/bin/rm", "-f", "link"], &ws)],
    };
    let err = run(&plan, &by_path, &quiet()).unwrap_err();
    assert!(
        matches!(err, cordon_sandbox::Error::ScopeUnresolvable { .. }),
        "{err}"
    );
}

/// Python's `multiprocessing` (a semaphore from `sem_open`, which lives in `/dev/shm`) works in
/// a workspace's commands, on a `/dev/shm` of the command's own: it sees nothing of the host's,
/// and leaves nothing there. Control: a CSC profile's envelope (no workspace) gets no `/dev/shm`
/// at all, and the same write is refused.
#[test]
fn multiprocessing_works_on_a_shared_memory_of_the_commands_own() {
    if landlock_missing() {
        return;
    }
    require("python3");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip!(
            "root",
            "a private /dev/shm needs CAP_SYS_ADMIN; without it /dev/shm stays closed"
        );
        return;
    }
    let (_t, ws) = workspace();
    let host_marker =
        std::path::Path::new("/dev/shm").join(format!("cordon-test-host-{}", std::process::id()));
    std::fs::write(&host_marker, "host\n").unwrap();
    let left = format!("cordon-test-left-{}", std::process::id());
    let (code, out) = bash(
        &ws,
        &format!(
            "python3 -c 'import multiprocessing as m; p = m.Pool(2); print(sum(p.map(abs, [1, -2]))); p.close()'
            ls /dev/shm | grep -c cordon-test-host || true
            echo mine > /dev/shm/{left} && cat /dev/shm/{left}"
        ),
    );
    std::fs::remove_file(&host_marker).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "3\n0\nmine\n");
    assert!(
        !std::path::Path::new("/dev/shm").join(&left).exists(),
        "the command's file reached the host's /dev/shm"
    );
    // Control: the same envelope without a workspace (as a CSC profile has) grants no /dev/shm.
    let plan = Plan {
        commands: vec![PlannedCommand::new(
            "c",
            ["/bin/bash", "-c", &format!("echo x > /dev/shm/{left}")],
            &ws,
        )],
    };
    let mut profile = envelope(&ws);
    profile.private_shm = false;
    let report = run(&plan, &Confinement::within(profile), &quiet()).unwrap();
    let c = &report.commands[0];
    assert_ne!(c.exit_code, 0);
    assert!(
        String::from_utf8_lossy(&c.stderr.captured).contains("Permission denied"),
        "{}",
        String::from_utf8_lossy(&c.stderr.captured)
    );
    assert!(!std::path::Path::new("/dev/shm").join(&left).exists());
}
