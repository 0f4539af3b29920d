//! Kept network namespaces (`netns_pool.rs`): a hardened run with no network joins an empty
//! namespace leased to it alone, and what one run binds there is gone for the next run and never
//! visible to a run beside it. Needs root (a kept namespace is a bind mount).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::*;

const EADDRINUSE: i32 = libc::EADDRINUSE;

fn skip() -> bool {
    skip_below_abi(cordon_sandbox::MIN_LANDLOCK_ABI, "hardened mode")
        || skip_unless_root("a kept network namespace")
}

fn name(what: &str) -> String {
    format!("cordon-kept-{what}-{}", std::process::id())
}

/// Positive control: the probe sees a name that is held (the host's, bound by this test).
#[test]
fn the_probe_sees_a_held_abstract_name() {
    if skip() {
        return;
    }
    use std::os::linux::net::SocketAddrExt;
    let n = name("control");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(n.as_bytes()).unwrap();
    let _held = UnixListener::bind_addr(&addr).unwrap();
    assert_eq!(
        errno_of(&probe_bare(&["abstract-bind", &n, "0", "0"])),
        Some(EADDRINUSE)
    );
}

/// A name bound by one run, by a process left running when its command ended, is free for the
/// next run, which joins a network namespace again (a kept one, when the first run left it
/// clean: its tree was killed and its cgroup seen empty).
#[test]
fn what_a_run_binds_is_gone_for_the_next_run() {
    if skip() {
        return;
    }
    let n = name("sequential");
    let first = probe_in(&hardened(), &["abstract-bind", &n, "30000", "0"]);
    assert_eq!(first.line, "ok", "{}", first.describe());
    for _ in 0..3 {
        let next = probe_in(&hardened(), &["abstract-bind", &n, "0", "0"]);
        assert_eq!(next.line, "ok", "{}", next.describe());
        assert!(
            next.report
                .enforcement
                .namespaces
                .contains(&"net".to_string()),
            "{:?}",
            next.report.enforcement.namespaces
        );
    }
}

/// Two runs at once never share a namespace: the second binds the name the first still holds.
#[test]
fn runs_side_by_side_do_not_share_a_namespace() {
    if skip() {
        return;
    }
    let n = name("concurrent");
    let holder = {
        let n = n.clone();
        std::thread::spawn(move || {
            probe_with(
                &hardened(),
                &["abstract-bind", &n, "0", "3000"],
                Duration::from_secs(20),
                None,
            )
        })
    };
    // The holder binds, then holds the name for 3 s before it answers; give it time to bind.
    std::thread::sleep(Duration::from_millis(300));
    let beside = probe_in(&hardened(), &["abstract-bind", &n, "0", "0"]);
    assert_eq!(beside.line, "ok", "{}", beside.describe());
    let held = holder.join().unwrap();
    assert_eq!(held.line, "ok", "{}", held.describe());
}
