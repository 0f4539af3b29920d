//! How a segment is started (`src/spawn.rs`): created inside its cgroup by `clone3`, looked up on
//! its own `PATH`, with default `SIGPIPE`, stdio installed even when the supervisor itself was
//! started with closed standard streams, exec failures reported as CSC's 127/126, and the `fork`
//! fallback where `clone3` is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::*;
use cordon_sandbox::{run, CommandStatus, Confinement, Plan, PlannedCommand};

fn modes() -> Vec<Confinement> {
    let mut v = vec![Confinement::local()];
    if cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI {
        v.push(hardened());
    } else {
        skip!("landlock", "hardened variant: Landlock ABI too old");
    }
    v
}

fn one(conf: &Confinement, command: PlannedCommand) -> cordon_sandbox::RunReport {
    run(
        &Plan {
            commands: vec![command],
        },
        conf,
        &quiet(),
    )
    .unwrap()
}

/// The command is a member of its per-command cgroup from its first instruction: its
/// `/proc/self/cgroup` names a cgroup this run created, in both modes (a command that had not
/// joined would show this test process's own cgroup).
#[test]
fn the_command_is_born_in_its_own_cgroup() {
    for conf in modes() {
        let r = one(
            &conf,
            PlannedCommand::new("c", ["/bin/cat", "/proc/self/cgroup"], "/"),
        );
        let cg = &r.enforcement.cgroup;
        if cg.path.is_none() {
            skip!("cgroup-v2", "no writable cgroup v2 here: {}", cg.status);
            return;
        };
        assert_eq!(r.commands[0].status, CommandStatus::Success, "{r:?}");
        let out = String::from_utf8(r.commands[0].stdout.captured.clone()).unwrap();
        let own = out
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 line");
        // Command cgroups are named `cordon-<supervisor pid>-<n>` under this process's own.
        let name = own.rsplit('/').next().unwrap();
        let ours = format!("cordon-{}-", std::process::id());
        assert!(
            name.starts_with(&ours),
            "the command ran in {own:?}, not in a cgroup of this run ({ours}N)"
        );
        assert_eq!(r.enforcement.tree_kill, "cgroup.kill");
    }
}

/// A bare name is looked up on the command's own `PATH`, not the supervisor's; a name found
/// nowhere is 127 and a file that is not executable is 126, as std's spawn reported them.
#[test]
fn bare_names_use_the_commands_path_and_failures_keep_their_codes() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("cordon-spawn-test-tool");
    std::fs::write(&tool, "#!/bin/sh\necho found-on-the-command-path\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plain = dir.path().join("not-executable");
    std::fs::write(&plain, "echo no\n").unwrap();
    for mut conf in modes() {
        conf.read_paths.push(canon(dir.path()));
        let path = OsString::from(format!("{}:/usr/bin:/bin", canon(dir.path()).display()));
        let mut found = PlannedCommand::new("c", ["cordon-spawn-test-tool"], "/");
        found.env = vec![("PATH".into(), path.clone())];
        let r = one(&conf, found);
        assert_eq!(r.exit_code, 0, "{r:?}");
        assert_eq!(
            r.commands[0].stdout.captured,
            b"found-on-the-command-path\n"
        );

        // Negative control: the same name without that directory on PATH is not found.
        let mut missing = PlannedCommand::new("c", ["cordon-spawn-test-tool"], "/");
        missing.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
        let r = one(&conf, missing);
        assert_eq!(r.exit_code, 127, "{r:?}");
        assert!(r.commands[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("No such file"));

        let r = one(
            &conf,
            PlannedCommand::new("c", [plain.to_str().unwrap()], "/"),
        );
        assert_eq!(r.exit_code, 126, "{r:?}");
    }
}

/// Rust ignores SIGPIPE and an ignored signal survives exec: the child must restore the default,
/// or `yes | head` would end with an EPIPE error instead of dying of the signal.
#[test]
fn the_command_gets_the_default_sigpipe() {
    for conf in modes() {
        let r = one(
            &conf,
            PlannedCommand::new("c", ["/usr/bin/yes"], "/").pipe(["/usr/bin/head", "-c", "10"]),
        );
        assert_eq!(
            r.commands[0].segments[0].signal,
            Some(libc::SIGPIPE),
            "{r:?}"
        );
        assert_eq!(r.exit_code, -libc::SIGPIPE);
    }
}

/// A supervisor started with stdin and stdout closed still gives the command its stdio and
/// captures its output. (Rust's start-up reopens closed fds 0–2 on /dev/null, so this guards the
/// whole path rather than `above_stdio` itself, which serves processes that embed the library
/// without that start-up.)
#[test]
fn a_supervisor_without_standard_streams_still_wires_the_command() {
    let supervisor = env!("CARGO_BIN_EXE_cordon-sandbox-run");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    // The report goes to stderr, which the shell points at a file after closing 0 and 1.
    let script = format!(
        "exec 0<&- 1>&- 2>{out}; exec {supervisor} --report -- /bin/echo wired",
        out = out.display()
    );
    let status = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    let report = std::fs::read_to_string(&out).unwrap();
    assert!(status.success(), "{status:?}: {report}");
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        json["commands"][0]["stdout"]["total_bytes"], 6,
        "the echo's output (\"wired\\n\") was not captured: {report}"
    );
}

/// Where `clone3` is refused (older container runtimes' seccomp profiles answer ENOSYS), the
/// segment is started with `fork` and joins its cgroup through `cgroup.procs`: the command still
/// runs inside its run's cgroup and the report still says so. The supervisor runs in its own
/// process under a filter that refuses `clone3`.
#[test]
fn without_clone3_the_segment_is_forked_and_still_joins_its_cgroup() {
    use std::os::unix::process::CommandExt;
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH).unwrap();
    let filter = seccompiler::SeccompFilter::new(
        [(libc::SYS_clone3, Vec::new())].into_iter().collect(),
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .unwrap();
    let program: seccompiler::BpfProgram = filter.try_into().unwrap();
    let mut variants = vec![vec!["--report"]];
    if cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI {
        variants.push(vec!["--report", "--hardened"]);
    }
    for flags in variants {
        let mut supervisor = Command::new(env!("CARGO_BIN_EXE_cordon-sandbox-run"));
        supervisor
            .args(&flags)
            .args(["--", "/bin/cat", "/proc/self/cgroup"])
            .stdin(Stdio::null());
        let program = program.clone();
        // SAFETY: the hook sets no_new_privs and installs a prepared filter: two syscalls over
        // data built before the fork, no allocation.
        unsafe {
            supervisor.pre_exec(move || {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                seccompiler::apply_filter(&program).map_err(|_| std::io::Error::other("seccomp"))
            });
        }
        let out = supervisor.output().unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stderr)));
        let cgroup = &report["enforcement"]["cgroup"];
        if cgroup["path"].is_null() {
            skip!(
                "cgroup-v2",
                "no writable cgroup v2 here: {}",
                cgroup["status"]
            );
            return;
        }
        assert!(out.status.success(), "{flags:?}: {report}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let own = stdout
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup v2 line");
        let ours = format!("cordon-{}-", out_pid(&report));
        assert!(
            own.rsplit('/').next().unwrap().starts_with(&ours),
            "{flags:?}: the command ran in {own:?}, not in its run's cgroup ({ours}N)"
        );
        assert_eq!(
            report["enforcement"]["tree_kill"], "cgroup.kill",
            "{report}"
        );
        assert_ne!(cgroup["status"], "not joined", "{report}");
    }
}

/// The supervisor's pid, read from the name of the private TMPDIR the report names
/// (`cordon-<pid>-<n>-<nanos>`).
fn out_pid(report: &serde_json::Value) -> String {
    let tmp = report["enforcement"]["private_tmp"].as_str().unwrap();
    let name = tmp.rsplit('/').next().unwrap();
    name.split('-').nth(1).unwrap().to_string()
}

/// A bare name is looked up on the command's `PATH` before the fork and executed directly: the
/// recorded execs show one call, not one per `PATH` entry before the one that holds it (each
/// failed attempt is a round trip to the exec recorder in hardened mode).
#[test]
fn a_bare_name_is_executed_once_not_tried_on_every_path_entry() {
    if cordon_sandbox::landlock_abi() < cordon_sandbox::MIN_LANDLOCK_ABI {
        skip!("landlock", "needs hardened mode: Landlock ABI too old");
        return;
    }
    let mut command = PlannedCommand::new("c", ["true"], "/");
    command.env = vec![(
        "PATH".into(),
        "/nonexistent-a:/nonexistent-b:/usr/local/sbin:/usr/bin:/bin".into(),
    )];
    let options = cordon_sandbox::RunOptions {
        record_processes: true,
        ..quiet()
    };
    let r = run(
        &Plan {
            commands: vec![command],
        },
        &hardened(),
        &options,
    )
    .unwrap();
    assert_eq!(r.exit_code, 0, "{r:?}");
    let Some(tree) = r.commands[0].processes.as_ref().filter(|t| t.complete) else {
        skip!("seccomp-notify", "the exec record is not complete here");
        return;
    };
    let execs: Vec<_> = tree.processes.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert!(execs[0].ends_with("/true"), "{execs:?}");
}

/// An executable script without `#!` fails a direct exec with ENOEXEC; the `execvp` fallback
/// hands it to `/bin/sh`, as std's spawn (and every shell) does.
#[test]
fn a_script_without_a_shebang_still_runs_through_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cordon-no-shebang");
    std::fs::write(&script, "echo ran-by-sh\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    for mut conf in modes() {
        conf.read_paths.push(canon(dir.path()));
        let mut command = PlannedCommand::new("c", ["cordon-no-shebang"], "/");
        command.env = vec![(
            "PATH".into(),
            format!("{}:/usr/bin:/bin", canon(dir.path()).display()).into(),
        )];
        let r = one(&conf, command);
        assert_eq!(r.exit_code, 0, "{r:?}");
        assert_eq!(r.commands[0].stdout.captured, b"ran-by-sh\n");
    }
}
