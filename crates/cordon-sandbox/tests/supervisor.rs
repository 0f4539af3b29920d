//! The supervisor's contract: fail-fast sequencing, CSC exit codes, pipelines over real pipes,
//! capped and hashed capture, and a whole-tree kill on timeout (catalogue 24) in both modes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use cordon_sandbox::{run, CommandStatus, Confinement, Plan, PlannedCommand, RunOptions};

fn cmd(id: &str, argv: &[&str]) -> PlannedCommand {
    PlannedCommand::new(id, argv.iter().copied(), "/")
}

fn modes() -> Vec<Confinement> {
    let mut v = vec![Confinement::local()];
    if cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI {
        v.push(hardened());
    } else {
        skip!("landlock", "hardened variant: Landlock ABI too old");
    }
    v
}

#[test]
fn commands_run_in_order_and_stop_at_the_first_failure() {
    for conf in modes() {
        let plan = Plan {
            commands: vec![
                cmd("c1", &[PROBE, "exit", "0"]),
                cmd("c2", &[PROBE, "exit", "3"]),
                cmd("c3", &[PROBE, "exit", "0"]),
            ],
        };
        let r = run(&plan, &conf, &quiet()).unwrap();
        assert_eq!(r.completed_command_ids, vec!["c1"]);
        assert_eq!(r.failed_command_id.as_deref(), Some("c2"));
        assert_eq!(r.commands.len(), 2, "c3 must not run");
        assert_eq!(r.exit_code, 3);
        assert_eq!(r.commands[1].status, CommandStatus::Failed);
    }
}

#[test]
fn exit_codes_follow_csc() {
    for conf in modes() {
        let one = |argv: &[&str]| {
            let r = run(
                &Plan {
                    commands: vec![cmd("x", argv)],
                },
                &conf,
                &quiet(),
            )
            .unwrap();
            (r.commands[0].exit_code, r.commands[0].status)
        };
        assert_eq!(one(&[PROBE, "exit", "0"]), (0, CommandStatus::Success));
        assert_eq!(
            one(&["/nonexistent/cordon-binary"]),
            (127, CommandStatus::Failed)
        );
        assert_eq!(
            one(&["cordon-no-such-command-on-path"]),
            (127, CommandStatus::Failed)
        );
        assert_eq!(one(&["/etc/passwd"]), (126, CommandStatus::Failed));
        assert_eq!(one(&[PROBE, "raise", "15"]), (-15, CommandStatus::Failed));
        // PATH lookup works from the scrubbed environment.
        assert_eq!(one(&["true"]), (0, CommandStatus::Success));
        let missing_cwd = PlannedCommand::new("x", [PROBE, "exit", "0"], "/nonexistent-cwd");
        let r = run(
            &Plan {
                commands: vec![missing_cwd],
            },
            &conf,
            &quiet(),
        )
        .unwrap();
        assert_eq!(
            (r.commands[0].exit_code, r.commands[0].status),
            (126, CommandStatus::Blocked)
        );
        assert!(r.commands[0].segments.is_empty(), "no process may start");
    }
}

#[test]
fn pipelines_use_real_pipes_and_take_the_first_nonzero_code() {
    for conf in modes() {
        // yes | head -c 1000: head exits, yes dies of SIGPIPE: first non-zero is -13.
        let plan = Plan {
            commands: vec![cmd("p", &["/usr/bin/yes"]).pipe(["/usr/bin/head", "-c", "1000"])],
        };
        let r = run(&plan, &conf, &quiet()).unwrap();
        let c = &r.commands[0];
        assert_eq!(c.exit_code, -libc::SIGPIPE, "{c:?}");
        assert_eq!(c.stdout.total_bytes, 1000);
        assert_eq!(c.segments.len(), 2);
        // All zero: the last code (0).
        let plan = Plan {
            commands: vec![cmd("p", &[PROBE, "spew", "100"]).pipe(["/usr/bin/wc", "-c"])],
        };
        let r = run(&plan, &conf, &quiet()).unwrap();
        let c = &r.commands[0];
        assert_eq!(c.exit_code, 0);
        assert_eq!(
            String::from_utf8_lossy(&c.stdout.captured).trim(),
            "103",
            "100 bytes + \"ok\\n\""
        );
        // Middle failure wins over a later success.
        let plan = Plan {
            commands: vec![cmd("p", &[PROBE, "exit", "0"])
                .pipe([PROBE, "exit", "5"])
                .pipe(["/bin/cat"])],
        };
        assert_eq!(run(&plan, &conf, &quiet()).unwrap().exit_code, 5);
    }
}

#[test]
fn output_is_captured_up_to_the_cap_hashed_and_drained_past_it() {
    use sha2::{Digest, Sha256};
    let options = RunOptions {
        passthrough: false,
        stdout_cap: 1000,
        stderr_cap: 10,
        use_cgroup: true,
        ..RunOptions::default()
    };
    for conf in modes() {
        let plan = Plan {
            commands: vec![
                cmd("s", &[PROBE, "spew", "300000"]),
                cmd("e", &[PROBE, "spew-err", "25"]),
            ],
        };
        let r = run(&plan, &conf, &options).unwrap();
        let out = &r.commands[0].stdout;
        assert_eq!(
            r.commands[0].exit_code, 0,
            "the writer was never blocked by the cap"
        );
        assert_eq!(
            (out.captured_bytes, out.total_bytes, out.truncated),
            (1000, 300_003, true)
        );
        let expected: String = Sha256::digest(vec![b'y'; 1000])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(out.sha256, expected);
        let err = &r.commands[1].stderr;
        assert_eq!(
            (err.captured_bytes, err.total_bytes, err.truncated),
            (10, 25, true)
        );
        assert!(!r.commands[1].stdout.truncated);
    }
}

fn read_pid(path: &std::path::Path) -> i32 {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        assert!(
            Instant::now() < end,
            "daemon never wrote {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cat24_timeout_kills_double_forked_setsid_daemons_within_a_second() {
    for conf in modes() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("daemon.pid");
        let conf = conf.write(d.path());
        let timeout = Duration::from_millis(700);
        let plan = Plan {
            commands: vec![
                cmd("d", &[PROBE, "daemonize", &path_str(&pidfile), "30"]).timeout(timeout)
            ],
        };
        let start = Instant::now();
        let r = run(&plan, &conf, &quiet()).unwrap();
        let elapsed = start.elapsed();
        let c = &r.commands[0];
        assert_eq!((c.status, c.exit_code), (CommandStatus::TimedOut, 124));
        assert!(
            elapsed < timeout + Duration::from_secs(1),
            "took {elapsed:?}"
        );
        let daemon = read_pid(&pidfile);
        assert!(
            gone_within(daemon, Duration::from_millis(200)),
            "setsid daemon {daemon} survived"
        );
    }
}

#[test]
fn cat24_timeout_kills_sleep_grandchildren_and_releases_the_pipes() {
    for conf in modes() {
        let plan = Plan {
            commands: vec![cmd(
                "g",
                &[
                    "/bin/sh",
                    "-c",
                    "sleep 30 & echo $!; (sleep 30 & echo $!; wait) & wait",
                ],
            )
            .timeout(Duration::from_millis(700))],
        };
        let start = Instant::now();
        let r = run(&plan, &conf, &quiet()).unwrap();
        assert!(
            start.elapsed() < Duration::from_millis(1700),
            "took {:?}",
            start.elapsed()
        );
        let c = &r.commands[0];
        assert_eq!(c.exit_code, 124);
        let pids: Vec<i32> = String::from_utf8_lossy(&c.stdout.captured)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        assert_eq!(
            pids.len(),
            2,
            "{:?}",
            String::from_utf8_lossy(&c.stdout.captured)
        );
        for pid in pids {
            assert!(
                gone_within(pid, Duration::from_millis(200)),
                "sleep {pid} survived"
            );
        }
    }
}

#[test]
fn cat24_background_daemons_do_not_outlive_a_command_that_exits() {
    for conf in modes() {
        // The parent exits at once; the daemon holds stdout open. Without a tree kill the
        // supervisor would wait for its pipe until the 20 s timeout.
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("daemon.pid");
        let conf = conf.write(d.path());
        let plan = Plan {
            commands: vec![cmd("d", &[PROBE, "daemonize", &path_str(&pidfile), "0"])
                .timeout(Duration::from_secs(20))],
        };
        let start = Instant::now();
        let r = run(&plan, &conf, &quiet()).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(r.commands[0].exit_code, 0);
        let daemon = read_pid(&pidfile);
        assert!(
            gone_within(daemon, Duration::from_millis(200)),
            "daemon {daemon} survived"
        );
    }
}

/// The cgroup2 directory of this test process and the mount it is under.
fn own_cgroup_dir() -> Option<std::path::PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
    let mount = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .find(|m| Path::new(m).join("cgroup.controllers").exists())?;
    Some(Path::new(mount).join(rel.trim_start_matches('/')))
}

#[test]
fn cat24_a_process_that_leaves_its_command_cgroup_does_not_outlive_the_command() {
    // Local mode runs with the user's rights: as root a process can write itself into another
    // cgroup (here this test's own), out of reach of its command's `cgroup.kill`, and `setsid`
    // out of its process group. The supervisor, a subreaper, gets it when its parent exits.
    let Some(escape) = own_cgroup_dir().filter(|d| d.join("cgroup.procs").exists()) else {
        cordon_testkit::kernel_skip!("cgroup-v2", "no cgroup v2 hierarchy here");
    };
    let d = tempfile::tempdir().unwrap();
    let pidfile = d.path().join("escaped.pid");
    let cgfile = d.path().join("escaped.cgroup");
    let inner = format!(
        "echo $$ > {procs}; cat /proc/self/cgroup > {cg}; echo $$ > {pid}.tmp; mv {pid}.tmp {pid}; exec sleep 30",
        procs = escape.join("cgroup.procs").display(),
        cg = cgfile.display(),
        pid = pidfile.display(),
    );
    let outer = format!(
        "setsid sh -c '{inner}' </dev/null >/dev/null 2>&1 & while [ ! -s {pid} ]; do sleep 0.01; done",
        pid = pidfile.display()
    );
    let plan = Plan {
        commands: vec![cmd("c", &["/bin/sh", "-c", &outer]).timeout(Duration::from_secs(20))],
    };
    let start = Instant::now();
    let r = run(&plan, &Confinement::local(), &quiet()).unwrap();
    assert_eq!(r.commands[0].exit_code, 0, "{:?}", r.commands[0]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    let escaped = read_pid(&pidfile);
    let moved = std::fs::read_to_string(&cgfile).unwrap();
    let ran_in_a_cgroup = r.enforcement.cgroup.path.is_some();
    if ran_in_a_cgroup {
        // The escape happened: the process sat in this test's cgroup, not its command's.
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        assert_eq!(moved, own, "the process did not leave its command's cgroup");
    }
    assert!(
        gone_within(escaped, Duration::from_millis(500)),
        "process {escaped} left its command's cgroup and survived"
    );
}

#[test]
fn local_mode_reports_that_nothing_was_confined_by_the_kernel() {
    let r = run(
        &Plan {
            commands: vec![cmd("x", &[PROBE, "exit", "0"])],
        },
        &Confinement::local(),
        &quiet(),
    )
    .unwrap();
    let e = &r.enforcement;
    assert!(!e.landlock.enforced);
    assert!(!e.seccomp.enforced);
    assert!(!e.process.no_new_privs);
    assert!(e.process.new_session && e.process.inherited_fds_closed);
    assert!(e.namespaces.is_empty());
    let json = serde_json::to_value(e).unwrap();
    assert_eq!(json["mode"], "local");
}

#[test]
fn invalid_plans_start_nothing() {
    let bad = Plan {
        commands: vec![PlannedCommand::new("x", Vec::<String>::new(), "/")],
    };
    assert!(matches!(
        run(&bad, &Confinement::local(), &quiet()),
        Err(cordon_sandbox::Error::InvalidPlan(_))
    ));
    let nul = Plan {
        commands: vec![cmd("x", &["/bin/echo", "a\0b"])],
    };
    assert!(matches!(
        run(&nul, &Confinement::local(), &quiet()),
        Err(cordon_sandbox::Error::InvalidPlan(_))
    ));
}

#[test]
fn commands_die_with_a_killed_supervisor() {
    use std::io::BufRead;
    // The supervisor in its own process, passing the command's stdout through to us.
    let mut supervisor = std::process::Command::new(env!("CARGO_BIN_EXE_cordon-sandbox-run"))
        .args([
            "--",
            "/bin/sh",
            "-c",
            &format!("echo $$; exec {PROBE} sleep 30"),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(supervisor.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let pid: i32 = first.trim().parse().unwrap();
    assert!(alive(pid), "positive control: the command runs");
    let supervisor_pid = supervisor.id();
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(1)),
        "command {pid} outlived its supervisor"
    );
    // A SIGKILLed supervisor cannot clean up: remove its (empty) cgroup and its TMPDIR.
    let prefix = format!("cordon-{supervisor_pid}-");
    let tmp = std::env::temp_dir();
    for dir in [
        Path::new("/sys/fs/cgroup/unified"),
        Path::new("/sys/fs/cgroup"),
        &tmp,
    ] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let path = entry.path();
                if std::fs::remove_dir(&path).is_err() {
                    let _ = std::fs::remove_dir_all(&path);
                }
            }
        }
    }
}
