//! Several runs supervised at once from one process must not disturb each other (tree kill of one
//! run must never hit another run's processes, including children between fork and exec).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::*;

#[test]
fn parallel_hardened_runs_do_not_interfere() {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..50 {
                    let o = probe_in(&hardened(), &["read", "/dev/zero"]);
                    assert!(o.ok(), "{}", o.describe());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
