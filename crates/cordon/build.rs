//! Link the `cordon` binary statically and at a fixed address.
//!
//! `cordon` sits on every command an agent runs, so its start-up is on the hot path, and on the
//! machines we measured most of a start-up is the dynamic loader's:
//!
//! - **Position-dependent.** As a PIE the 24 MB binary carries about 29,000 relative relocations
//!   (vtables, clap's tables, tree-sitter's parse tables, Cedar); the loader applies them on every
//!   start and copies each page it touches: about 0.7 ms and 140 page faults. At a fixed address
//!   there is nothing to relocate. The cost is ASLR for the executable image itself (the stack,
//!   heap and mmap area are still randomized).
//! - **Static.** Loading `libc`, `libm` and `libgcc_s`, resolving symbols, and `libgcc_s`'s own
//!   CPU probe (`cpuid`, a trap to the hypervisor on a VM) cost another 0.4 ms per start.
//!   Linked against glibc's static archives there is no loader at all (see `write_redirects`).
//!
//! docs/benchmarks.md has the figures. Only the binary is linked this way; tests and benches stay
//! dynamic. Set `CORDON_PIE=1` at build time for a dynamic PIE (packagers whose policy requires
//! one), or `CORDON_DYNAMIC=1` for a dynamic, position-dependent binary. Where the C toolchain has
//! no static glibc (`libc.a`), the binary is linked dynamically and the build says so.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=CORDON_PIE");
    println!("cargo:rerun-if-env-changed=CORDON_DYNAMIC");
    println!("cargo:rerun-if-env-changed=CC");
    let env = |name: &str| std::env::var(name).unwrap_or_default();
    let linux_gnu = env("CARGO_CFG_TARGET_OS") == "linux" && env("CARGO_CFG_TARGET_ENV") == "gnu";
    if !linux_gnu || env("CORDON_PIE") == "1" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    // Cross builds keep the dynamic link: `cc` here would find the host's archives.
    if env("CORDON_DYNAMIC") == "1" || env("TARGET") != env("HOST") {
        return;
    }
    if cc_file("libc.a").is_none() {
        println!(
            "cargo:warning=no static glibc (libc.a) for this C compiler: cordon is linked \
             dynamically and starts about 0.4 ms slower (install libc6-dev, or set CORDON_DYNAMIC=1)"
        );
        return;
    }
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let dir = out.join("static-link");
    match write_redirects(&dir) {
        Ok(()) => {
            println!("cargo:rustc-link-arg-bins=-static");
            println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
        }
        Err(e) => println!(
            "cargo:warning=cannot prepare the static link in {}: {e}; cordon is linked dynamically",
            dir.display()
        ),
    }
}

/// std names the shared C libraries it needs (`-lc`, `-lm`, ..., `-lgcc_s`) and asks the
/// linker for shared objects (`-Bdynamic`). A linker script found under such a name, earlier on
/// the search path than the real shared object, answers it with the static archive instead
/// (and the unwinder `libgcc_eh` for `libgcc_s`): what rustc links when std is built for static
/// glibc.
fn write_redirects(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let libgcc = cc_file("libgcc.a").ok_or_else(|| std::io::Error::other("no libgcc.a"))?;
    let libgcc_eh =
        cc_file("libgcc_eh.a").ok_or_else(|| std::io::Error::other("no libgcc_eh.a"))?;
    for name in ["c", "m", "util", "rt", "pthread", "dl"] {
        let archive = cc_file(&format!("lib{name}.a"))
            .ok_or_else(|| std::io::Error::other(format!("no lib{name}.a")))?;
        let script = format!(
            "GROUP ( {} {} {} )\n",
            archive.display(),
            libgcc.display(),
            libgcc_eh.display()
        );
        std::fs::write(dir.join(format!("lib{name}.so")), script)?;
    }
    std::fs::write(
        dir.join("libgcc_s.so"),
        format!("GROUP ( {} {} )\n", libgcc_eh.display(), libgcc.display()),
    )
}

/// Where the C compiler that links the binary finds `name`, if it does.
fn cc_file(name: &str) -> Option<PathBuf> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    // The compiler echoes the bare name back when it does not find the file.
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}
