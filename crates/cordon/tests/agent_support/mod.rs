//! What the real-harness tests share: the repository root and the scripted model on loopback
//! (tests/agents/scripted_model.py) that stands in for the provider's API.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const CORDON: &str = env!("CARGO_BIN_EXE_cordon");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Model {
    child: Child,
    pub port: u16,
}

impl Drop for Model {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn scripted_model(log: &Path, allowed: &str, denied: &str) -> Model {
    let mut child = Command::new("python3")
        .arg(repo().join("tests/agents/scripted_model.py"))
        .args([log.to_str().unwrap(), allowed, denied])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
    Model { child, port }
}

/// The receipt is of a run in hardened mode with the kernel enforcing it: Landlock (at the ABI
/// hardened mode needs) and the seccomp filter, as `x-cordon.sandbox` records for each command.
pub fn assert_hardened(receipt: &serde_json::Value) {
    assert_eq!(receipt["execution_mode"], "hardened", "{receipt}");
    assert_eq!(
        receipt["sandbox_profile_id"], "cordon-hardened-v1",
        "{receipt}"
    );
    let commands = receipt["x-cordon"]["sandbox"]["commands"]
        .as_array()
        .unwrap_or_else(|| panic!("no sandboxed command in {receipt}"));
    assert!(!commands.is_empty(), "{receipt}");
    for command in commands {
        let enforcement = &command["enforcement"];
        assert_eq!(enforcement["mode"], "hardened", "{command}");
        assert_eq!(enforcement["landlock"]["enforced"], true, "{command}");
        assert_eq!(
            enforcement["landlock"]["status"], "fully_enforced",
            "{command}"
        );
        assert!(
            enforcement["landlock"]["abi"].as_u64().unwrap_or(0) >= 3,
            "{command}"
        );
        assert_eq!(enforcement["seccomp"]["enforced"], true, "{command}");
    }
}

/// The journal in `cordon_home`, one parsed entry per line.
pub fn journal_entries(cordon_home: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(cordon_home.join("journal/entries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The hook's decision record for `command`, as the adapter `actor` filed it.
pub fn hook_decision<'a>(
    entries: &'a [serde_json::Value],
    actor: &str,
    command: &str,
) -> &'a serde_json::Value {
    entries
        .iter()
        .find(|e| e["actor"] == actor && e["details"]["request"]["command"] == command)
        .unwrap_or_else(|| panic!("no hook decision for {command}"))
}

/// `allowed` (which writes `greeting` to allowed.txt) ran, and ran through cordon: the file is in
/// the project, the journal holds the hook's allow and a successful receipt that names the text,
/// and the receipt says the kernel enforced it in hardened mode (the file is new, so it was
/// created under the grant of the directory it lands in).
pub fn assert_allowed_ran_hardened(
    entries: &[serde_json::Value],
    project: &Path,
    actor: &str,
    allowed: &str,
    greeting: &str,
) {
    assert_eq!(
        std::fs::read_to_string(project.join("allowed.txt")).unwrap(),
        format!("{greeting}\n")
    );
    // The text writes with `>`, which would empty an existing file: allowed with a checkpoint.
    assert_eq!(
        hook_decision(entries, actor, allowed)["outcome"],
        "allow_with_checkpoint"
    );
    let receipt = entries
        .iter()
        .find(|e| e["receipt_version"].is_string())
        .expect("no receipt in the journal");
    assert_eq!(receipt["status"], "success", "{receipt}");
    assert_hardened(receipt);
    assert!(receipt.to_string().contains(greeting), "{receipt}");
}

/// `denied` (which would create denied-marker) never ran, and the hook's decision was a denial.
pub fn assert_denied_never_ran(
    entries: &[serde_json::Value],
    project: &Path,
    actor: &str,
    denied: &str,
) {
    assert!(!project.join("denied-marker").exists());
    assert_eq!(hook_decision(entries, actor, denied)["outcome"], "deny");
}
