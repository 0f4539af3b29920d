//! A `cordon serve` gateway for the gateway tests, and the home it serves.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

/// A running `cordon serve`, killed when dropped.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cordon serve` for `home` and returns once its gateway answers.
pub fn serve(home: &Path) -> Serve {
    let mut child = Command::new(CORDON)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CORDON_HOME", home)
        .env("HOME", "/home/agent")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let serve = Serve(child);
    loop {
        let line = lines.next().expect("cordon serve ended early").unwrap();
        if line.contains("gateway on") {
            break;
        }
    }
    serve
}

/// A home made by `cordon init` and an empty work directory, in `dir`.
pub fn initialised(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    assert!(Command::new(CORDON)
        .arg("init")
        .env("CORDON_HOME", &home)
        .output()
        .unwrap()
        .status
        .success());
    (home, work)
}
