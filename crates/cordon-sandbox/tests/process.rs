//! Escape catalogue, process and privilege items (8, 11, 21-23, 25, 26).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::ffi::OsString;
use std::time::Duration;

use common::*;
use cordon_sandbox::Limits;

const EPERM: i32 = libc::EPERM;

fn skip() -> bool {
    skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode")
}

#[test]
fn cat21_root_inside_has_no_capabilities_and_no_new_privs() {
    if skip() {
        return;
    }
    let bare = probe_bare(&["caps"]);
    if is_root() {
        assert!(
            !bare.contains("capeff=0 "),
            "positive control: root outside has caps: {bare}"
        );
    }
    let o = probe_in(&hardened(), &["caps"]);
    assert!(
        o.line
            .starts_with("ok capeff=0 capprm=0 capinh=0 capbnd=0 capamb=0 nnp=1 "),
        "{}",
        o.describe()
    );
    assert!(o.line.contains("session_leader=true"), "{}", o.line);
    let p = &o.report.enforcement.process;
    assert!(p.no_new_privs && p.capabilities_cleared && p.new_session);
    if is_root() {
        // NOROOT|NOROOT_LOCKED|NO_SETUID_FIXUP|..._LOCKED|KEEP_CAPS_LOCKED|NO_CAP_AMBIENT_RAISE|..._LOCKED
        assert!(o.line.contains("securebits=0xef"), "{}", o.line);
        assert!(p.bounding_set_cleared && p.securebits_locked);
    }
    // Capabilities stay gone across a further exec of a uid-0 program (a shell running the probe).
    let script = format!("exec {PROBE} caps");
    let plan = cordon_sandbox::Plan {
        commands: vec![cordon_sandbox::PlannedCommand::new(
            "sh",
            ["/bin/sh", "-c", script.as_str()],
            "/",
        )],
    };
    let r = cordon_sandbox::run(&plan, &hardened(), &quiet()).unwrap();
    let line = String::from_utf8_lossy(&r.commands[0].stdout.captured)
        .trim()
        .to_string();
    assert!(line.starts_with("ok capeff=0 capprm=0"), "{line}");
}

#[test]
fn cat22_ptrace_and_cross_process_memory_access_reach_only_the_commands_own_processes() {
    if skip() {
        return;
    }
    let mut target = std::process::Command::new("/bin/sleep")
        .arg("20")
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    let bare = probe_bare(&["ptrace-attach", &pid]);
    let o = probe_in(&hardened(), &["ptrace-attach", &pid]);
    // A bad address past the access check is EFAULT: outside the sandbox the check passes.
    let bare_vm = probe_bare(&["vm-readv", &pid]);
    let vm = probe_in(&hardened(), &["vm-readv", &pid]);
    let _ = target.kill();
    let _ = target.wait();
    assert_eq!(bare, "ok", "positive control");
    // Landlock scopes ptrace to the command's own domain: a host process is out of reach.
    assert_eq!(o.line, "errno=1 at=ptrace", "{}", o.describe());
    assert_eq!(bare_vm, "errno=14 at=process_vm_readv", "positive control");
    assert_eq!(vm.line, "errno=1 at=process_vm_readv", "{}", vm.describe());
    // The supervisor too.
    let me = std::process::id().to_string();
    let o = probe_in(&hardened(), &["ptrace-attach", &me]);
    assert_eq!(o.line, "errno=1 at=ptrace", "{}", o.describe());
    // Inside its own domain a command debugs its own processes (gdb, strace, LeakSanitizer).
    let o = probe_in(&hardened(), &["ptrace-child"]);
    assert_eq!(o.line, "ok", "{}", o.describe());
    assert_eq!(probe_in(&hardened(), &["vm-readv"]).line, "ok");
    // But not PTRACE_TRACEME, which would make the supervisor the command's tracer (its next
    // exec would stop, and the run hang).
    let o = probe_in(&hardened(), &["ptrace-traceme"]);
    assert_eq!(o.line, "errno=1 at=ptrace", "{}", o.describe());
    assert_eq!(probe_bare(&["pidfd-getfd", "", "0"]), "ok");
    // Against the supervisor itself.
    let me = std::process::id().to_string();
    let o = probe_in(&hardened(), &["pidfd-getfd", &me, "0"]);
    assert_eq!(o.line, "errno=1 at=pidfd_getfd", "{}", o.describe());
}

#[test]
fn cat23_signals_to_processes_outside_the_sandbox_are_denied() {
    if skip() || skip_below_abi(6, "signal scoping") {
        return;
    }
    let mut target = std::process::Command::new("/bin/sleep")
        .arg("20")
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    assert_eq!(probe_bare(&["kill", &pid, "0"]), "ok", "positive control");
    let o = probe_in(&hardened(), &["kill", &pid, "15"]);
    assert_eq!(o.line, "errno=1 at=kill", "{}", o.describe());
    assert!(
        target.try_wait().unwrap().is_none(),
        "the target was killed"
    );
    let _ = target.kill();
    let _ = target.wait();
    let o = probe_in(&hardened(), &["kill", &std::process::id().to_string(), "0"]);
    assert_eq!(o.line, "errno=1 at=kill");
}

#[test]
fn cat8_new_user_namespaces_are_denied_in_every_form() {
    if skip() {
        return;
    }
    const CLONE_NEWUSER: &str = "10000000";
    assert_eq!(
        probe_bare(&["unshare", CLONE_NEWUSER]),
        "ok",
        "positive control"
    );
    assert_eq!(
        probe_in(&hardened(), &["unshare", CLONE_NEWUSER]).line,
        "errno=1 at=unshare"
    );
    // High bits set above the 32 the filter compares: still denied.
    assert_eq!(
        probe_in(&hardened(), &["unshare", "110000000"]).line,
        "errno=1 at=unshare"
    );
    assert_eq!(probe_bare(&["clone-newuser"]), "ok");
    assert_eq!(
        probe_in(&hardened(), &["clone-newuser"]).line,
        "errno=1 at=clone"
    );
    assert_eq!(probe_bare(&["clone3"]), "ok");
    assert_eq!(
        probe_in(&hardened(), &["clone3"]).line,
        "errno=38 at=clone3"
    );
}

#[test]
fn cat8_setns_and_the_whole_mount_family_are_denied() {
    if skip() {
        return;
    }
    for action in [
        "setns",
        "mount",
        "umount2",
        "pivot_root",
        "open_tree",
        "move_mount",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "mount_setattr",
    ] {
        // Positive control: outside, the call reaches the kernel and fails (or succeeds) on its
        // own arguments, never with EPERM (we run as root there).
        let bare = probe_bare(&[action]);
        if is_root() {
            assert_ne!(
                errno_of(&bare),
                Some(EPERM),
                "{action} positive control: {bare}"
            );
        }
        let o = probe_in(&hardened(), &[action]);
        assert_eq!(o.line, format!("errno=1 at={action}"), "{}", o.describe());
    }
}

#[test]
fn keyring_bpf_and_perf_events_are_denied() {
    if skip() {
        return;
    }
    for action in ["keyctl", "add_key", "request_key", "bpf", "perf_event_open"] {
        let bare = probe_bare(&[action]);
        if is_root() {
            assert_ne!(
                errno_of(&bare),
                Some(EPERM),
                "{action} positive control: {bare}"
            );
        }
        let o = probe_in(&hardened(), &[action]);
        assert_eq!(o.line, format!("errno=1 at={action}"), "{}", o.describe());
    }
}

#[test]
fn cat11_tiocsti_injection_is_denied() {
    if skip() || skip_unless_root("TIOCSTI positive control (needs CAP_SYS_ADMIN)") {
        return;
    }
    // SAFETY: posix_openpt/grantpt/unlockpt/ptsname on a fresh master fd we own.
    let (master, pts) = unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(m >= 0);
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let name = std::ffi::CStr::from_ptr(libc::ptsname(m))
            .to_string_lossy()
            .into_owned();
        (m, name)
    };
    assert_eq!(probe_bare(&["tiocsti", &pts]), "ok", "positive control");
    // Not declared: the terminal cannot even be opened.
    assert_eq!(
        probe_in(&hardened(), &["tiocsti", &pts]).line,
        "errno=13 at=open"
    );
    // Declared writable: it opens, but TIOCSTI on a terminal that is not the (absent) controlling
    // tty needs CAP_SYS_ADMIN, which is gone; the new session has no controlling tty at all.
    let o = probe_in(&hardened().write(&pts), &["tiocsti", &pts]);
    let line = o.line.clone();
    // SAFETY: closes the master fd opened above.
    unsafe { libc::close(master) };
    if line == "errno=13 at=ioctl" {
        // Landlock ABI >= 5 handles IoctlDev; a granted write path does not include ioctl on it.
        assert!(cordon_sandbox::landlock_abi() >= 5);
    } else {
        assert_eq!(line, "errno=1 at=ioctl", "{}", o.describe());
    }
}

#[test]
fn cat25_rlimits_bound_memory_file_size_and_cpu() {
    if skip() {
        return;
    }
    let limits = Limits {
        address_space_bytes: Some(512 << 20),
        file_size_bytes: Some(1 << 20),
        cpu_seconds: Some(1),
        ..Limits::default()
    };
    let d = tempfile::tempdir().unwrap();
    let conf = hardened().write(d.path()).limits(limits);
    assert_eq!(probe_in(&conf, &["alloc", "64"]).line, "ok");
    assert_eq!(probe_in(&conf, &["alloc", "1024"]).line, "errno=12 at=mmap");
    let f = path_str(&d.path().join("big"));
    assert_eq!(probe_in(&conf, &["fsize", &f, "524288"]).line, "ok");
    let o = probe_in(&conf, &["fsize", &f, "2097152"]);
    assert_eq!(o.exit_code, -libc::SIGXFSZ, "{}", o.describe());
    let o = probe_with(&conf, &["spin"], Duration::from_secs(10), None);
    assert_eq!(o.exit_code, -libc::SIGXCPU, "{}", o.describe());
    assert!(o.report.enforcement.rlimits.applied);
}

#[test]
fn cat25_fork_bomb_hits_the_process_limit() {
    if skip() {
        return;
    }
    // RLIMIT_NPROC counts every task of the user id, so set it just above today's count.
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let tasks: u64 = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let status = std::fs::read_to_string(e.ok()?.path().join("status")).ok()?;
            let owner = status
                .lines()
                .find(|l| l.starts_with("Uid:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u32>()
                .ok()?;
            let threads = status
                .lines()
                .find(|l| l.starts_with("Threads:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()?;
            (owner == uid).then_some(threads)
        })
        .sum();
    let limits = Limits {
        nproc: Some(tasks + 60),
        ..Limits::default()
    };
    let conf = hardened().limits(limits);
    let o = probe_in(&conf, &["forkbomb", "3"]);
    assert_eq!(o.line, "ok forked=3", "positive control");
    let cg = o.report.enforcement.cgroup.clone();
    if uid == 0 && cg.pids_max.is_none() {
        // The kernel exempts the initial user's uid 0 from RLIMIT_NPROC; only a pids cgroup
        // bounds root. Do not fork-bomb a shared machine to prove an unbounded result.
        assert!(
            o.report
                .enforcement
                .rlimits
                .notes
                .iter()
                .any(|n| n.contains("uid 0")),
            "the report must say RLIMIT_NPROC is ineffective for root"
        );
        skip!(
            "pids-controller",
            "fork bomb unbounded for uid 0 here: RLIMIT_NPROC exempts root and {}: {:?}",
            cg.status,
            cg.notes
        );
        return;
    }
    let o = probe_in(&conf, &["forkbomb", "5000"]);
    assert_eq!(o.errno(), Some(libc::EAGAIN), "{}", o.describe());
    match cg.pids_max {
        Some(n) => assert_eq!(n, Limits::default().pids.unwrap()),
        None => skip!(
            "pids-controller",
            "cgroup pids.max not enforced here: {} {:?}",
            cg.status,
            cg.notes
        ),
    }
    if cg.memory_max.is_none() {
        skip!(
            "memory-controller",
            "cgroup memory.max not enforced here: {} {:?}",
            cg.status,
            cg.notes
        );
    }
}

#[test]
fn cat26_environment_injection_never_reaches_the_command() {
    let hostile: Vec<(OsString, OsString)> = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", "/root"),
        ("LD_PRELOAD", "/tmp/evil.so"),
        ("LD_LIBRARY_PATH", "/tmp"),
        ("BASH_ENV", "/tmp/x"),
        ("ENV", "/tmp/x"),
        ("BASH_FUNC_ls%%", "() { evil; }"),
        ("PROMPT_COMMAND", "evil"),
        ("NODE_OPTIONS", "--require /tmp/x"),
        ("PYTHONSTARTUP", "/tmp/x"),
        ("PERL5OPT", "-Mevil"),
        ("RUBYOPT", "-revil"),
        ("JAVA_TOOL_OPTIONS", "-javaagent:x"),
        ("GIT_CONFIG_COUNT", "1"),
        ("GIT_CONFIG_KEY_0", "core.sshCommand"),
        ("GLIBC_TUNABLES", "x"),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect();
    // Positive control: a plain spawn passes all of them.
    let bare = std::process::Command::new(PROBE)
        .arg("env")
        .env_clear()
        .envs(hostile.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bare.stdout).contains("LD_PRELOAD"));
    for conf in [hardened(), cordon_sandbox::Confinement::local()] {
        let o = probe_with(
            &conf,
            &["env"],
            Duration::from_secs(10),
            Some(hostile.clone()),
        );
        let mut names: Vec<_> = o.line.trim_start_matches("ok env=").split(',').collect();
        names.sort();
        assert_eq!(names, vec!["HOME", "PATH", "TMPDIR"], "{}", o.describe());
        let dropped = &o.report.enforcement.env.dropped;
        assert_eq!(dropped.len(), hostile.len() - 2, "{dropped:?}");
    }
    // The helper builds from nothing: undeclared secrets never appear.
    let env = cordon_sandbox::scrubbed_env(&["HOME"], |n| match n {
        "AWS_SECRET_ACCESS_KEY" | "GITHUB_TOKEN" => Some("s".into()),
        "HOME" => Some("/root".into()),
        _ => None,
    });
    let names: Vec<_> = env
        .iter()
        .map(|(n, _)| n.to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["PATH", "HOME"]);
}

#[test]
fn set_user_and_group_id_bits_cannot_be_set_and_plain_modes_can() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = canon(dir.path());
    let file = d.join("tool");
    std::fs::write(&file, "x").unwrap();
    let f = path_str(&file);
    let c = hardened().write(&d);
    for probe in ["chmod", "fchmod", "fchmodat"] {
        // Positive control: a plain mode changes, as it does outside.
        let o = probe_in(&c, &[probe, &f, "751"]);
        assert_eq!(o.line, "ok mode=751", "{probe}: {}", o.describe());
        for mode in ["4755", "2755", "6755"] {
            let o = probe_in(&c, &[probe, &f, mode]);
            assert_eq!(
                o.line,
                format!("errno=1 at={probe}"),
                "{probe} {mode}: {}",
                o.describe()
            );
        }
    }
    // The file keeps the last mode a command could set.
    let mode = std::fs::metadata(&file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777,
        0o751
    );
    // Creating a file with the bits set is refused too; without them it works.
    let new = path_str(&d.join("new"));
    let o = probe_in(&c, &["create-mode", &new, "4755"]);
    assert_eq!(o.line, "errno=1 at=open", "{}", o.describe());
    assert!(!d.join("new").exists());
    let o = probe_in(&c, &["create-mode", &new, "755"]);
    assert!(o.line.starts_with("ok mode="), "{}", o.describe());
    // Outside the sandbox the same calls work: the refusal is the filter's.
    let bare = d.join("bare");
    std::fs::write(&bare, "x").unwrap();
    assert_eq!(
        probe_bare(&["chmod", &path_str(&bare), "4755"]),
        "ok mode=4755"
    );
}
