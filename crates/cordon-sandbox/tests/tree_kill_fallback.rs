//! Catalogue 24 without cgroups: the subreaper + descendant-scan fallback. One test in its own
//! binary, because the fallback treats orphans re-parented to this process as the run's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use cordon_sandbox::{run, Confinement, Plan, PlannedCommand, RunOptions};

#[test]
fn subreaper_fallback_kills_setsid_daemons_and_grandchildren() {
    let options = RunOptions {
        use_cgroup: false,
        ..quiet()
    };
    let mut confs = vec![Confinement::local()];
    if cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI {
        confs.push(hardened());
    }
    for conf in confs {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("daemon.pid");
        let conf = conf.write(d.path());
        let timeout = Duration::from_millis(700);
        let argv = [
            PROBE.to_string(),
            "daemonize".into(),
            path_str(&pidfile),
            "30".into(),
        ];
        let plan = Plan {
            commands: vec![PlannedCommand::new("d", argv, "/").timeout(timeout)],
        };
        let start = Instant::now();
        let r = run(&plan, &conf, &options).unwrap();
        assert!(
            start.elapsed() < timeout + Duration::from_secs(1),
            "took {:?}",
            start.elapsed()
        );
        assert_eq!(r.commands[0].exit_code, 124);
        assert_eq!(r.enforcement.tree_kill, "subreaper + descendant scan");
        assert_eq!(r.enforcement.cgroup.status, "no writable cgroup v2");
        let daemon: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            gone_within(daemon, Duration::from_millis(200)),
            "daemon {daemon} survived"
        );

        let plan = Plan {
            commands: vec![PlannedCommand::new(
                "g",
                [
                    "/bin/sh",
                    "-c",
                    "sleep 30 & echo $!; setsid sleep 30 & echo $!; wait",
                ],
                "/",
            )
            .timeout(timeout)],
        };
        let r = run(&plan, &conf, &options).unwrap();
        assert_eq!(r.commands[0].exit_code, 124);
        let out = String::from_utf8_lossy(&r.commands[0].stdout.captured).to_string();
        let pids: Vec<i32> = out.lines().filter_map(|l| l.trim().parse().ok()).collect();
        assert_eq!(pids.len(), 2, "{out}");
        for pid in pids {
            assert!(
                gone_within(pid, Duration::from_millis(200)),
                "{pid} survived"
            );
        }
    }
}
