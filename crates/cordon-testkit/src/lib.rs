//! Test-only helpers that keep a test run honest (issue 21).
//!
//! `cargo test` hides the stderr of passing tests, so a test that returns early with a `SKIP:` line
//! is counted as passed and nobody sees why. Here there are two kinds of absence, and neither can
//! pass silently:
//!
//! - **A missing prerequisite** (a tool, a virtual environment, `node_modules`) is a failure:
//!   [`require`] panics with one sentence naming what is missing and the command that installs it.
//!   `scripts/test` installs all of them, so on a machine it has set up this never fires.
//! - **A missing kernel fact** (Landlock ABI 9, a delegated pids controller, reflink on the
//!   temporary filesystem, …) cannot be installed. [`kernel_skip!`] and [`allow_skip`] end the test
//!   early only when `CORDON_TEST_ALLOW_SKIP` names that fact; otherwise they fail. An allowed skip
//!   is appended to the file named by `CORDON_TEST_SKIP_LOG`, from which `scripts/test` prints the
//!   summary line that every run ends with.
//!
//! Fact names are short, stable identifiers (see [`FACTS`]); CI allows exactly the facts its own
//! machine lacks (`.ci/run`).

use std::io::Write as _;

/// Every kernel or machine fact a test may be allowed to skip on, with what it means.
pub const FACTS: &[(&str, &str)] = &[
    ("landlock", "Landlock ABI >= 3 (hardened mode)"),
    (
        "landlock-abi-6",
        "Landlock ABI >= 6 (signal and abstract-socket scoping)",
    ),
    (
        "landlock-abi-9",
        "Landlock ABI >= 9 (pathname Unix socket control)",
    ),
    ("netns", "creating a network namespace"),
    ("ipv6-loopback", "an IPv6 loopback address"),
    ("ia32-emulation", "32-bit syscall emulation on x86_64"),
    (
        "io-uring",
        "io_uring outside the sandbox (the positive control)",
    ),
    ("cgroup-v2", "a writable cgroup v2 hierarchy"),
    ("pids-controller", "a delegated cgroup pids controller"),
    ("network-fs", "a 9P, FUSE or NFS mount to attack"),
    (
        "reflink",
        "reflink (copy-on-write clones) on the temporary filesystem",
    ),
    ("root", "running as root"),
    (
        "seccomp-notify",
        "seccomp user notification (complete exec records)",
    ),
    ("memory-controller", "a delegated cgroup memory controller"),
    (
        "socket-family",
        "a socket family (netlink, packet, vsock, inet6) outside the sandbox",
    ),
    (
        "user-namespace",
        "a user namespace for an unprivileged user",
    ),
];

/// The environment variable naming the facts a run may skip on (comma-separated fact names).
pub const ALLOW_SKIP_VAR: &str = "CORDON_TEST_ALLOW_SKIP";
/// The environment variable naming the file allowed skips are appended to.
pub const SKIP_LOG_VAR: &str = "CORDON_TEST_SKIP_LOG";

/// Fails the test, naming what is missing and how to install it, unless `present`.
///
/// ```
/// cordon_testkit::require(true, "node", "apt-get install nodejs");
/// ```
#[track_caller]
pub fn require(present: bool, missing: &str, install: &str) {
    if !present {
        panic!("{missing} is missing, so this test cannot run: {install}");
    }
}

/// A directory outside `/tmp` under `preferred` (a test binary's `CARGO_TARGET_TMPDIR`), for a
/// workspace whose hardened commands must see a `/tmp` of their own: a workspace under `/tmp`
/// keeps the host's. `preferred` itself unless it lies in `/tmp` (a clone there), else
/// `/var/tmp`.
pub fn outside_tmp(preferred: &str) -> std::path::PathBuf {
    let real = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
    if real(preferred).starts_with(real("/tmp")) {
        "/var/tmp".into()
    } else {
        preferred.into()
    }
}

/// Whether the test may end early because the machine lacks `fact`: true (and recorded) when
/// `CORDON_TEST_ALLOW_SKIP` names it; otherwise the test fails here with `why`.
#[track_caller]
pub fn allow_skip(fact: &str, why: &str) -> bool {
    assert!(
        FACTS.iter().any(|(name, _)| *name == fact),
        "unknown kernel fact {fact:?}: add it to cordon_testkit::FACTS"
    );
    if !allowed(fact) {
        panic!(
            "this machine lacks {fact} ({why}); the test cannot run here. If that is a known \
             fact of this machine, name it in {ALLOW_SKIP_VAR} (e.g. {ALLOW_SKIP_VAR}={fact})"
        );
    }
    record(fact, why);
    true
}

/// Ends the calling test early when `CORDON_TEST_ALLOW_SKIP` names `fact`; fails it otherwise.
///
/// ```no_run
/// # fn abi() -> u8 { 7 }
/// # fn test() {
/// if abi() < 9 {
///     cordon_testkit::kernel_skip!("landlock-abi-9", "the kernel offers ABI {}", abi());
/// }
/// # }
/// ```
#[macro_export]
macro_rules! kernel_skip {
    ($fact:expr, $($why:tt)+) => {{
        if $crate::allow_skip($fact, &format!($($why)+)) {
            return;
        }
        unreachable!("allow_skip fails the test unless the skip is allowed")
    }};
}

fn allowed(fact: &str) -> bool {
    std::env::var(ALLOW_SKIP_VAR)
        .map(|list| list.split(',').map(str::trim).any(|f| f == fact))
        .unwrap_or(false)
}

/// Appends `fact<TAB>test<TAB>why` to the skip log, and says it on stderr as well.
fn record(fact: &str, why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let why = why.replace(['\t', '\n'], " ");
    let _ = writeln!(std::io::stderr(), "SKIP ({fact}): {test}: {why}");
    if let Some(path) = std::env::var_os(SKIP_LOG_VAR) {
        // One write per line, so concurrent test processes do not interleave within a line.
        let line = format!("{fact}\t{test}\t{why}\n");
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "tests/agents/node_modules is missing")]
    fn a_missing_prerequisite_fails() {
        require(
            false,
            "tests/agents/node_modules",
            "run `npm ci` in tests/agents",
        );
    }

    #[test]
    #[should_panic(expected = "unknown kernel fact")]
    fn an_unknown_fact_is_a_mistake_in_the_test() {
        allow_skip("no-such-fact", "why");
    }

    // Both cases in one test: they read the same process-wide variable.
    #[test]
    fn a_kernel_fact_skips_only_when_named() {
        std::env::remove_var(ALLOW_SKIP_VAR);
        let refused = std::panic::catch_unwind(|| allow_skip("reflink", "ext4 has none"));
        let message = *refused.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("CORDON_TEST_ALLOW_SKIP=reflink"),
            "{message}"
        );

        let log = std::env::temp_dir().join(format!("cordon-testkit-{}.log", std::process::id()));
        std::env::set_var(ALLOW_SKIP_VAR, "root, reflink");
        std::env::set_var(SKIP_LOG_VAR, &log);
        assert!(allow_skip("reflink", "ext4\thas none"));
        let written = std::fs::read_to_string(&log).unwrap();
        std::fs::remove_file(&log).unwrap();
        assert!(written.starts_with("reflink\t"), "{written}");
        assert!(written.ends_with("\text4 has none\n"), "{written}");
    }
}
