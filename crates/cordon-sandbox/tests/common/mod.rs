//! Shared helpers for the escape tests: run `cordon-probe` inside and outside the sandbox and
//! parse its one-line verdict.
#![allow(dead_code, unused_macros)]

/// Allows a check to be skipped because the machine lacks a kernel fact (`cordon_testkit::FACTS`):
/// only when `CORDON_TEST_ALLOW_SKIP` names the fact, recorded for the run's summary; otherwise the
/// test fails here. The caller returns (or carries on without the check) afterwards.
macro_rules! skip {
    ($fact:expr, $($t:tt)*) => {{
        cordon_testkit::allow_skip($fact, &format!($($t)*));
    }};
}

/// The broker needs Landlock (its worker restricts itself like the command) and seccomp user
/// notification; a machine without them may skip only when `CORDON_TEST_ALLOW_SKIP` says so.
macro_rules! require_broker {
    () => {
        let abi = cordon_sandbox::landlock_abi();
        if abi < cordon_sandbox::MIN_LANDLOCK_ABI {
            cordon_testkit::kernel_skip!("landlock", "the kernel offers Landlock ABI {abi}");
        }
        let actions = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_avail");
        if !actions.is_ok_and(|a| a.split_whitespace().any(|w| w == "user_notif")) {
            cordon_testkit::kernel_skip!("seccomp-notify", "no SECCOMP_RET_USER_NOTIF");
        }
    };
}

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_sandbox::{
    landlock_abi, run, Confinement, Network, Plan, PlannedCommand, RunOptions, RunReport,
};

pub const PROBE: &str = env!("CARGO_BIN_EXE_cordon-probe");

/// Hardened, network denied, with only the probe binary itself granted.
pub fn hardened() -> Confinement {
    Confinement::hardened().read(PROBE)
}

pub fn quiet() -> RunOptions {
    RunOptions {
        passthrough: false,
        ..RunOptions::default()
    }
}

/// The result of one probe run under the supervisor.
pub struct Outcome {
    pub line: String,
    pub exit_code: i32,
    pub report: RunReport,
}

impl Outcome {
    pub fn errno(&self) -> Option<i32> {
        self.line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("errno="))
            .and_then(|n| n.parse().ok())
    }
    /// Everything needed to understand a failed assertion.
    pub fn describe(&self) -> String {
        let c = &self.report.commands[0];
        format!(
            "line={:?} exit={} status={:?} error={:?} stderr={:?}",
            self.line,
            self.exit_code,
            c.status,
            c.error,
            String::from_utf8_lossy(&c.stderr.captured)
        )
    }
    pub fn ok(&self) -> bool {
        self.line == "ok" || self.line.starts_with("ok ")
    }
}

pub fn probe_in(confinement: &Confinement, args: &[&str]) -> Outcome {
    probe_with(confinement, args, Duration::from_secs(20), None)
}

pub fn probe_with(
    confinement: &Confinement,
    args: &[&str],
    timeout: Duration,
    env: Option<Vec<(OsString, OsString)>>,
) -> Outcome {
    let mut argv = vec![PROBE.to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let mut cmd = PlannedCommand::new("probe", argv, "/").timeout(timeout);
    if let Some(env) = env {
        cmd = cmd.env(env);
    }
    let plan = Plan {
        commands: vec![cmd],
    };
    let report = run(&plan, confinement, &quiet()).expect("run");
    let c = &report.commands[0];
    let line = String::from_utf8_lossy(&c.stdout.captured)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    Outcome {
        line,
        exit_code: c.exit_code,
        report,
    }
}

/// Runs one command under `conf`; returns its exit code, its stdout followed by its stderr, and
/// the report.
pub fn run_one(command: PlannedCommand, conf: &Confinement) -> (i32, String, RunReport) {
    let plan = Plan {
        commands: vec![command],
    };
    let report = run(&plan, conf, &quiet()).unwrap();
    let c = &report.commands[0];
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&c.stdout.captured),
        String::from_utf8_lossy(&c.stderr.captured)
    );
    (c.exit_code, out, report)
}

/// Runs `sh -c script` in `cwd` under `conf` ([`run_one`]).
pub fn sh_in(conf: &Confinement, cwd: &Path, script: &str) -> (i32, String, RunReport) {
    run_one(
        PlannedCommand::new("sh", ["/bin/sh", "-c", script], cwd),
        conf,
    )
}

/// True when this kernel lacks Landlock and the run allows that skip (cordon-testkit); fails
/// otherwise.
pub fn landlock_missing() -> bool {
    let abi = landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI {
        return cordon_testkit::allow_skip("landlock", &format!("the kernel offers ABI {abi}"));
    }
    false
}

/// Runs the probe directly, with no sandbox: the positive control.
pub fn probe_bare(args: &[&str]) -> String {
    let out = std::process::Command::new(PROBE)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("spawn probe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string()
}

pub fn errno_of(line: &str) -> Option<i32> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("errno="))
        .and_then(|n| n.parse().ok())
}

/// True when the kernel's Landlock ABI is below `min` and CORDON_TEST_ALLOW_SKIP allows that;
/// the test fails when it is below and not allowed.
pub fn skip_below_abi(min: u8, what: &str) -> bool {
    let abi = landlock_abi();
    let fact = match min {
        0..=3 => "landlock",
        4..=6 => "landlock-abi-6",
        _ => "landlock-abi-9",
    };
    abi < min
        && cordon_testkit::allow_skip(
            fact,
            &format!("{what} needs Landlock ABI >= {min}, kernel has {abi}"),
        )
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// True when not running as root and CORDON_TEST_ALLOW_SKIP allows that; fails otherwise.
pub fn skip_unless_root(what: &str) -> bool {
    !is_root() && cordon_testkit::allow_skip("root", &format!("{what} needs to run as root"))
}

pub fn allow_network(c: Confinement) -> Confinement {
    c.network(Network::Allow)
}

pub fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

pub fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).expect("canonicalize")
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 2..].split(' ').next().map(str::to_string));
            state.as_deref() != Some("Z")
        }
        Err(_) => false,
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub fn gone_within(pid: i32, limit: Duration) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !alive(pid)
}

/// A workspace with what a rollback must restore exactly: nested and empty directories, a name
/// with spaces, an executable and a private file (their modes), many small files, a link and a
/// dangling link.
pub fn varied_workspace(w: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(w.join("src/deep/er")).unwrap();
    std::fs::create_dir_all(w.join("empty dir")).unwrap();
    std::fs::create_dir_all(w.join("build/out")).unwrap();
    std::fs::write(w.join("README with spaces.md"), "read me\n").unwrap();
    std::fs::write(w.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(w.join("src/deep/er/data.txt"), "one\ntwo\n").unwrap();
    std::fs::write(w.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(w.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(w.join("secret"), "s3cret\n").unwrap();
    std::fs::set_permissions(w.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for i in 0..20 {
        std::fs::write(w.join(format!("build/out/o{i}.o")), format!("object {i}\n")).unwrap();
    }
    std::os::unix::fs::symlink("src/main.rs", w.join("main-link")).unwrap();
    std::os::unix::fs::symlink("missing", w.join("dangling")).unwrap();
}
