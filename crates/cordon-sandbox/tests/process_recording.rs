#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every exec of a command's processes is in its report, with parent links; recording never lets
//! a denied syscall through; the caps hold. Each check has a control run without recording.

#[macro_use]
mod common;

use common::*;
use cordon_sandbox::{run, Confinement, Plan, PlannedCommand, ProcessTree, RunOptions};

/// Local mode (when it can record: as root) and hardened mode (when Landlock is there).
fn recording_modes() -> Vec<(&'static str, Confinement)> {
    let mut modes = Vec::new();
    if is_root() {
        modes.push(("local", Confinement::local()));
    } else {
        skip!(
            "root",
            "local-mode recording needs CAP_SYS_ADMIN (run as root)"
        );
    }
    if cordon_sandbox::landlock_abi() >= cordon_sandbox::MIN_LANDLOCK_ABI {
        modes.push(("hardened", hardened()));
    } else {
        skip!("landlock", "hardened recording needs Landlock");
    }
    modes
}

fn tree_of(argv: &[&str], conf: &Confinement, record: bool) -> ProcessTree {
    let plan = Plan {
        commands: vec![PlannedCommand::new(
            "c",
            argv.iter().map(|s| s.to_string()),
            "/",
        )],
    };
    let options = RunOptions {
        record_processes: record,
        ..quiet()
    };
    let report = run(&plan, conf, &options).unwrap();
    let c = &report.commands[0];
    assert_eq!(
        c.exit_code,
        0,
        "{:?} {:?}",
        c.error,
        String::from_utf8_lossy(&c.stderr.captured)
    );
    c.processes.clone().unwrap()
}

/// Three levels of `sh` that each fork (the trailing `:` stops `sh` from exec'ing in place) and
/// a leaf `echo`: four execs, each the child of the one before.
const THREE_LEVELS: &str = "/bin/sh -c '/bin/sh -c \"/bin/echo leaf; :\"; :'; :";

#[test]
fn fork_and_exec_through_three_levels_is_recorded_with_parent_links() {
    for (name, conf) in recording_modes() {
        let tree = tree_of(&["/bin/sh", "-c", THREE_LEVELS], &conf, true);
        assert_eq!(tree.mechanism, "seccomp-user-notif", "{name}");
        assert!(tree.complete && !tree.truncated, "{name}: {tree:?}");
        let p = &tree.processes;
        assert_eq!(p.len(), 4, "{name}: {p:#?}");
        assert_eq!(p[0].argv, vec!["/bin/sh", "-c", THREE_LEVELS], "{name}");
        assert_eq!(
            p[0].ppid,
            std::process::id(),
            "{name}: the first exec is the supervisor's child"
        );
        assert_eq!(p[1].argv[0..2], ["/bin/sh", "-c"], "{name}");
        assert_eq!(p[3].argv, vec!["/bin/echo", "leaf"], "{name}");
        assert_eq!(p[3].path, "/bin/echo", "{name}");
        for level in 1..4 {
            assert_eq!(
                p[level].ppid,
                p[level - 1].pid,
                "{name}: level {level} parent link: {p:#?}"
            );
            assert_ne!(
                p[level].pid,
                p[level - 1].pid,
                "{name}: each level is a new process"
            );
        }
        assert!(
            p.iter()
                .all(|r| r.argv_read && !r.argv_truncated && r.path_found),
            "{name}"
        );

        // Control: the same command without recording has no records, so the checks above can fail.
        let off = tree_of(&["/bin/sh", "-c", THREE_LEVELS], &conf, false);
        assert_eq!(off.mechanism, "none");
        assert!(off.processes.is_empty() && !off.complete);
    }
}

#[test]
fn a_denied_syscall_stays_denied_with_recording_on() {
    if skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode") {
        return;
    }
    // Positive control: the call works outside the sandbox.
    assert_eq!(probe_bare(&["pidfd-getfd", "", "0"]), "ok");
    let o = probe_in(&hardened(), &["pidfd-getfd", "", "0"]);
    assert_eq!(o.line, "errno=1 at=pidfd_getfd", "{}", o.describe());
    let tree = o.report.commands[0].processes.clone().unwrap();
    assert_eq!(tree.mechanism, "seccomp-user-notif", "recording was on");
    assert_eq!(tree.processes.len(), 1);
    assert_eq!(tree.processes[0].argv, vec![PROBE, "pidfd-getfd", "", "0"]);
}

#[test]
fn long_argv_is_capped_and_flagged() {
    let Some((_, conf)) = recording_modes().into_iter().next() else {
        return;
    };
    let many: Vec<String> = (0..300).map(|i| format!("a{i}")).collect();
    let mut argv = vec!["/bin/echo"];
    argv.extend(many.iter().map(String::as_str));
    let tree = tree_of(&argv, &conf, true);
    let r = &tree.processes[0];
    assert!(r.argv_truncated && r.argv_read);
    assert_eq!(r.argv.len(), cordon_sandbox::MAX_RECORDED_ARGS);
    // Control: a short argv is kept whole.
    let tree = tree_of(&["/bin/echo", "a", "b"], &conf, true);
    assert!(!tree.processes[0].argv_truncated);
    assert_eq!(tree.processes[0].argv.len(), 3);
}

#[test]
fn more_processes_than_the_cap_set_the_truncation_flag() {
    let Some((_, conf)) = recording_modes().into_iter().next() else {
        return;
    };
    let cap = cordon_sandbox::MAX_RECORDED_PROCESSES;
    let script = format!(
        "i=0; while [ $i -lt {} ]; do /bin/true; i=$((i+1)); done",
        cap + 4
    );
    let tree = tree_of(&["/bin/sh", "-c", &script], &conf, true);
    assert_eq!(tree.processes.len(), cap);
    assert!(tree.truncated);
    assert_eq!(
        tree.dropped, 5,
        "sh itself plus cap+4 execs of true, minus the cap"
    );
    // Control: under the cap nothing is dropped.
    let tree = tree_of(&["/bin/sh", "-c", "/bin/true; /bin/true"], &conf, true);
    assert!(!tree.truncated && tree.dropped == 0 && tree.processes.len() == 3);
}

#[test]
fn a_failed_attempt_is_recorded_as_not_found() {
    let Some((_, conf)) = recording_modes().into_iter().next() else {
        return;
    };
    let plan = Plan {
        commands: vec![PlannedCommand::new(
            "c",
            ["/bin/sh", "-c", "/nonexistent/cordon-x arg; /bin/true"].map(String::from),
            "/",
        )],
    };
    let report = run(&plan, &conf, &quiet()).unwrap();
    let tree = report.commands[0].processes.clone().unwrap();
    let missing: Vec<_> = tree
        .processes
        .iter()
        .filter(|p| p.path == "/nonexistent/cordon-x")
        .collect();
    assert_eq!(missing.len(), 1, "{tree:#?}");
    assert!(!missing[0].path_found);
    assert_eq!(missing[0].argv, vec!["/nonexistent/cordon-x", "arg"]);
    // Control: the exec that worked is found.
    assert!(tree
        .processes
        .iter()
        .any(|p| p.path == "/bin/true" && p.path_found));
}

#[test]
fn the_argv_bytes_of_a_whole_command_are_capped() {
    let Some((_, conf)) = recording_modes().into_iter().next() else {
        return;
    };
    let script = "a=$(head -c 15000 /dev/zero | tr '\\0' x); i=0; \
                  while [ $i -lt 80 ]; do /bin/true \"$a\"; i=$((i+1)); done";
    let tree = tree_of(&["/bin/sh", "-c", script], &conf, true);
    let total: usize = tree
        .processes
        .iter()
        .flat_map(|p| &p.argv)
        .map(String::len)
        .sum();
    assert!(
        total <= cordon_sandbox::MAX_RECORDED_TREE_ARGV_BYTES,
        "{total}"
    );
    let trues: Vec<_> = tree
        .processes
        .iter()
        .filter(|p| p.path == "/bin/true")
        .collect();
    assert_eq!(trues.len(), 80, "every exec is still recorded");
    // Control: the early ones keep their argv; the late ones lost it to the budget.
    assert_eq!(trues[0].argv[1].len(), 15000);
    assert!(!trues[0].argv_truncated);
    assert!(trues[79].argv.is_empty() && trues[79].argv_truncated);
}

/// The supervisor answers the recorder on the thread that waits for each segment to confirm its
/// confinement: a first segment that keeps executing programs while the second is still being
/// started must not stall, and every exec of both segments is recorded.
#[test]
fn execs_of_a_running_segment_are_answered_while_the_next_one_starts() {
    const EXECS: usize = 20;
    let producer = format!("for i in $(/usr/bin/seq {EXECS}); do /bin/true; done; /bin/echo done");
    for (name, conf) in recording_modes() {
        let mut command = PlannedCommand::new("c", Vec::<String>::new(), "/");
        command.pipeline = vec![
            vec!["/bin/sh".into(), "-c".into(), producer.clone().into()],
            vec!["/bin/cat".into()],
        ];
        let plan = Plan {
            commands: vec![command],
        };
        let started = std::time::Instant::now();
        let report = run(&plan, &conf, &quiet()).unwrap();
        let c = &report.commands[0];
        assert_eq!(c.exit_code, 0, "{name}: {:?}", c.error);
        assert_eq!(c.stdout.captured, b"done\n", "{name}");
        let tree = c.processes.clone().unwrap();
        assert!(tree.complete, "{name}: {tree:?}");
        let trues = tree
            .processes
            .iter()
            .filter(|p| p.path == "/bin/true")
            .count();
        assert_eq!(
            trues, EXECS,
            "{name}: every exec of the first segment: {tree:#?}"
        );
        assert!(
            tree.processes.iter().any(|p| p.path == "/bin/cat"),
            "{name}: the second segment's own exec"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{name}: an unanswered exec would stall the run until its deadline"
        );
    }
}
