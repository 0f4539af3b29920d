//! Toolchains in the home directory under `cordon exec --mode hardened` (data/toolchains.yaml):
//! the envelope reads every installed toolchain's install tree and nothing else of the home
//! directory, so `cargo` from `~/.cargo/bin` runs and builds and `~/.cargo/credentials.toml`
//! stays unreadable (EACCES) to the same build. Controls: the same build script reads the
//! credentials in local mode and reads a workspace file in hardened mode; a program in a home
//! directory that is no toolchain's is refused at exec.
//!
//! The home is a temporary one whose `.cargo/bin` and `.rustup` link to the real rustup install
//! (the `cargo` on this machine: CI installs rustup under `/root`), next to a fake
//! `.cargo/credentials.toml`; the real home is never written. It lies under the target
//! directory, not the system's temporary directory, which the default pack lets commands write.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Linux's errno for "permission denied" (what Landlock answers).
const EACCES: i32 = 13;

struct Setup {
    _dir: tempfile::TempDir,
    /// The temporary `$HOME`.
    home: PathBuf,
    /// The tiny crate, the workspace the command runs in.
    ws: PathBuf,
    cordon_home: PathBuf,
}

/// The fixture; `None` only when hardened mode cannot run and CORDON_TEST_ALLOW_SKIP allows it.
/// A missing rustup install fails the test.
fn setup() -> Option<Setup> {
    let real_home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    let cargo_bin = real_home.join(".cargo/bin");
    cordon_testkit::require(
        cargo_bin.join("cargo").is_file() && real_home.join(".rustup/toolchains").is_dir(),
        &format!("a rustup install under {}", real_home.display()),
        "install Rust with rustup (https://rustup.rs) for the user running the tests",
    );
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI
        && cordon_testkit::allow_skip("landlock", &format!("the kernel offers Landlock ABI {abi}"))
    {
        return None;
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = dir.path().canonicalize().unwrap();
    let home = root.join("user");
    std::fs::create_dir_all(home.join(".cargo")).unwrap();
    std::os::unix::fs::symlink(&cargo_bin, home.join(".cargo/bin")).unwrap();
    std::os::unix::fs::symlink(real_home.join(".rustup"), home.join(".rustup")).unwrap();
    std::fs::write(
        home.join(".cargo/credentials.toml"),
        "[registry]\ntoken = \"fake-token\"\n",
    )
    .unwrap();
    // A program in a home directory no toolchain owns.
    std::fs::create_dir(home.join("elsewhere")).unwrap();
    // Named like a program the front end knows and the system directories lack, so the decision
    // allows it and only the kernel stands in the way.
    let tool = home.join("elsewhere/rustc");
    std::fs::write(&tool, "#!/bin/sh\necho tool ran\n").unwrap();
    let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&tool, executable).unwrap();

    let ws = root.join("ws");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("src/main.rs"),
        "fn main() { println!(\"tiny\"); }\n",
    )
    .unwrap();
    std::fs::write(ws.join("input.txt"), "inside the workspace\n").unwrap();
    // The build script runs inside the sandbox, as part of the same command.
    let build = format!(
        r#"fn main() {{
    println!("cargo:rerun-if-changed=build.rs");
    for (what, path) in [("control", {control:?}), ("credentials", {credentials:?})] {{
        match std::fs::read(path) {{
            Ok(bytes) if bytes.is_empty() => println!("cargo:warning={{what}}=empty"),
            Ok(_) => println!("cargo:warning={{what}}=read"),
            Err(e) => println!("cargo:warning={{what}}=errno{{}}", e.raw_os_error().unwrap_or(0)),
        }}
    }}
}}
"#,
        control = ws.join("input.txt").to_str().unwrap(),
        credentials = home.join(".cargo/credentials.toml").to_str().unwrap(),
    );
    std::fs::write(ws.join("build.rs"), build).unwrap();
    Some(Setup {
        cordon_home: root.join("cordon-home"),
        home,
        ws,
        _dir: dir,
    })
}

impl Setup {
    fn exec(&self, path_dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .arg("exec")
            .args(args)
            .env("CORDON_HOME", &self.cordon_home)
            .env("HOME", &self.home)
            .env("PATH", format!("{}:/usr/bin:/bin", path_dir.display()))
            .env("CORDON_GATEWAY", "off")
            .env("CORDON_APPROVAL_TIMEOUT", "0")
            .env_remove("CORDON_JOURNAL")
            .current_dir(&self.ws)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn clean(&self) {
        let _ = std::fs::remove_dir_all(self.ws.join("target"));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn cargo_from_a_toolchain_home_runs_hardened_and_cannot_read_credentials() {
    let Some(s) = setup() else { return };
    let bin = s.home.join(".cargo/bin");

    let version = s.exec(&bin, &["--mode", "hardened", "--shell", "cargo --version"]);
    assert_eq!(
        version.status.code(),
        Some(0),
        "cargo --version, hardened: {}",
        text(&version.stderr)
    );
    assert!(text(&version.stdout).starts_with("cargo "), "{version:?}");

    s.clean();
    let receipt = s.cordon_home.parent().unwrap().join("receipt.json");
    let build = s.exec(
        &bin,
        &[
            "--mode",
            "hardened",
            "--receipt",
            receipt.to_str().unwrap(),
            "--shell",
            "cargo build --offline",
        ],
    );
    let err = text(&build.stderr);
    assert_eq!(build.status.code(), Some(0), "cargo build, hardened: {err}");
    assert!(s.ws.join("target/debug/tiny").is_file(), "{err}");
    // Positive control inside the sandbox: the build script reads the workspace.
    assert!(err.contains("control=read"), "{err}");
    // The attack: the same build reads the credentials next to ~/.cargo/bin. They are closed:
    // an empty stand-in is mounted over the file where the run has a mount namespace (it reads
    // as nothing), else Landlock refuses it (EACCES). The receipt says which.
    let receipt: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    let envelope = &receipt["x-cordon"]["sandbox"]["commands"][0]["enforcement"]["envelope"];
    let credentials = s.home.join(".cargo/credentials.toml");
    let stood_in = envelope["stand_ins"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(credentials));
    let expected = if stood_in {
        "credentials=empty".to_string()
    } else {
        format!("credentials=errno{EACCES}")
    };
    assert!(
        err.contains(&expected),
        "the hardened build could read ~/.cargo/credentials.toml ({expected} expected): {err}"
    );

    // Positive control: unconfined, the same build script reads them, so EACCES above is the
    // sandbox's doing.
    s.clean();
    let local = s.exec(
        &bin,
        &["--mode", "local", "--shell", "cargo build --offline"],
    );
    let err = text(&local.stderr);
    assert_eq!(local.status.code(), Some(0), "cargo build, local: {err}");
    assert!(err.contains("credentials=read"), "{err}");
}

#[test]
fn a_program_in_a_home_directory_that_is_no_toolchains_is_refused_at_exec() {
    let Some(s) = setup() else { return };
    // `~/elsewhere/rustc`: nothing of the home directory but the toolchains is readable, so
    // the exec is denied (126), as for any program there.
    let elsewhere = s.home.join("elsewhere");
    let out = s.exec(&elsewhere, &["--mode", "hardened", "--shell", "rustc"]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cordon: command c1 did not complete: rustc: Permission denied"),
        "{}",
        text(&out.stderr)
    );
    // Control: local mode runs it.
    let out = s.exec(&elsewhere, &["--mode", "local", "--shell", "rustc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "tool ran\n");
}
