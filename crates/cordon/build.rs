//! Link the `cordon` binary as a position-dependent executable.
//!
//! `cordon` sits on every command an agent runs, so its start-up is on the hot path. As a PIE the
//! 24 MB binary carries about 29,000 relative relocations (vtables, clap's tables, tree-sitter's
//! parse tables, Cedar); the dynamic loader applies them on every start and copies each page it
//! touches, which costs about 0.7 ms and 140 page faults. Linked at a fixed address there is
//! nothing to relocate. The cost is ASLR for the executable image itself (the stack, heap, mmap
//! area and shared libraries are still randomized); docs/benchmarks.md gives the figures.
//!
//! Set `CORDON_PIE=1` at build time to keep a PIE (packagers whose policy requires one).

fn main() {
    println!("cargo:rerun-if-env-changed=CORDON_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    let pie_requested = std::env::var_os("CORDON_PIE").is_some_and(|v| v == "1");
    if linux && !pie_requested {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
