//! The write broker glued to cordon-checkpoint's observed recorder (issue 23): a hardened command
//! runs with a [`WriteObserver`] that tells an `incremental::Recorder` of every name before the
//! broker changes it, and the checkpoint's own rollback gives the workspace back exactly. This is
//! the glue the checkpoint side wires in (`before_change` for victims, `before_name` for names
//! created or moved away); `after_change` is not needed by a store keyed by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use cordon_checkpoint::incremental::Recorder;
use cordon_checkpoint::rollback::{self, Consent, Options};
use cordon_checkpoint::{Coverage, KeyRing, Method, Request, Signer, Store};
use cordon_sandbox::{
    run, Applied, NameChange, ObserverError, Plan, PlannedCommand, RunOptions, RunReport, Victim,
    WriteObserver,
};

/// The glue: every name the broker is about to change goes to the recorder first; a recorder
/// error refuses the command's call.
struct ToRecorder(Mutex<Option<Recorder>>);

impl std::fmt::Debug for ToRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ToRecorder")
    }
}

impl ToRecorder {
    fn with(
        &self,
        record: impl FnOnce(&mut Recorder) -> cordon_checkpoint::Result<()>,
    ) -> Result<(), ObserverError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| ObserverError("poisoned".into()))?;
        let recorder = guard
            .as_mut()
            .ok_or_else(|| ObserverError("the recording has ended".into()))?;
        record(recorder).map_err(|e| ObserverError(e.to_string()))
    }
}

impl WriteObserver for ToRecorder {
    fn before_change(&self, victim: &Victim<'_>) -> Result<(), ObserverError> {
        let entry = victim.entry.ok_or_else(|| {
            ObserverError("a file reached through /proc/PID/fd names no entry to record".into())
        })?;
        self.with(|r| r.before_change(entry.parent, entry.name))
    }

    fn after_change(&self, _change: &Applied<'_>) {}

    fn before_name(&self, change: &NameChange<'_>) -> Result<(), ObserverError> {
        match *change {
            NameChange::Create(e) => self.with(|r| r.before_create(e.parent, e.name)),
            NameChange::MoveAway(e) => self.with(|r| r.before_change(e.parent, e.name)),
        }
    }
}

/// Everything that must come back: path → (kind, mode, bytes or link target).
fn tree(root: &Path) -> BTreeMap<PathBuf, (char, u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().to_path_buf();
        let t = meta.file_type();
        let what = if t.is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            ('l', 0, target.as_os_str().as_bytes().to_vec())
        } else if t.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(e.unwrap().path());
            }
            ('d', meta.mode() & 0o7777, Vec::new())
        } else if t.is_file() {
            ('f', meta.mode() & 0o7777, std::fs::read(&path).unwrap())
        } else {
            ('s', meta.mode() & 0o7777, Vec::new())
        };
        out.insert(rel, what);
    }
    out
}

fn workspace(w: &Path) {
    varied_workspace(w);
    // The bind mounts' preparation makes an empty `hooks` in a git directory without one.
    std::fs::create_dir_all(w.join(".git/hooks")).unwrap();
    std::fs::write(w.join(".git/index"), "index v1\n").unwrap();
}

fn key() -> (Signer, KeyRing) {
    let signer = Signer::from_bytes(&[7; 32], "home-key").unwrap();
    let ring = KeyRing::single("home-key", signer.verifying_key());
    (signer, ring)
}

fn hardened_run(w: &Path, observer: Arc<ToRecorder>, script: &str) -> RunReport {
    let plan = Plan {
        commands: vec![PlannedCommand::new("sh", ["/bin/sh", "-c", script], w)],
    };
    let options = RunOptions {
        passthrough: false,
        write_observer: Some(observer),
        ..RunOptions::default()
    };
    run(&plan, &hardened().write(w), &options).unwrap()
}

#[test]
fn the_recorder_told_by_the_broker_rolls_a_hardened_command_back_exactly() {
    require_broker!();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let w = base.join("ws");
    std::fs::create_dir(&w).unwrap();
    workspace(&w);
    let before = tree(&w);
    let store_dir = base.join("checkpoints");
    let recorder = Recorder::begin(
        Store::open(&store_dir).unwrap(),
        &Request {
            scopes: vec![w.clone()],
            workspace: Some(w.clone()),
            label: "observed".into(),
            ..Request::default()
        },
    )
    .unwrap();
    assert_eq!(recorder.scopes()[0].method, Method::Observed);
    let observer = Arc::new(ToRecorder(Mutex::new(Some(recorder))));
    let script = r#"set -e
sed -i 's/one/ONE/' src/deep/er/data.txt
printf x >> src/main.rs
echo new > 'README with spaces.md'
mv secret run.sh
rm -rf build
rmdir 'empty dir'
mv src source
mkdir -p fresh/dir && echo f > fresh/dir/f
ln -s source/main.rs new-link
rm main-link dangling
echo made > dangling
mkfifo pipe
truncate -s 3 source/deep/er/data.txt
cp -r source copy
mv copy/main.rs copy/moved.rs
echo index v2 > .git/index.lock && mv .git/index.lock .git/index
"#;
    let report = hardened_run(&w, Arc::clone(&observer), script);
    let c = &report.commands[0];
    assert_eq!(
        report.exit_code,
        0,
        "{}",
        String::from_utf8_lossy(&c.stderr.captured)
    );
    let broker = &report.enforcement.write_broker;
    assert!(broker.enforced && broker.observer, "{broker:?}");
    assert!(broker.notes.is_empty(), "{broker:?}");
    // Positive control: the command changed the workspace.
    assert_ne!(tree(&w), before);

    let recorder = observer.0.lock().unwrap().take().unwrap();
    let (signer, ring) = key();
    let summary = recorder.finish_signed(&signer).unwrap();
    assert_eq!(summary.coverage, Coverage::Observed);
    let store = Store::open(&store_dir).unwrap();
    let verified = rollback::verify(&store, &summary.id, &ring).unwrap();
    rollback::apply(&store, &verified, Consent::default(), Options::default()).unwrap();
    assert_eq!(tree(&w), before);
}

#[test]
fn a_recorder_that_cannot_record_refuses_the_call() {
    require_broker!();
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().canonicalize().unwrap();
    std::fs::write(w.join("kept"), "kept\n").unwrap();
    // The recording has ended: every name the broker reports is an error.
    let observer = Arc::new(ToRecorder(Mutex::new(None)));
    let report = hardened_run(&w, Arc::clone(&observer), "echo x > new; mv kept moved");
    let c = &report.commands[0];
    let stderr = String::from_utf8_lossy(&c.stderr.captured);
    assert_eq!(
        stderr.matches("Operation not permitted").count(),
        2,
        "{stderr}"
    );
    assert!(!w.join("new").exists() && w.join("kept").is_file());
    let notes = &report.enforcement.write_broker.notes;
    assert!(
        notes.iter().any(|n| n.contains("the recording has ended")),
        "{notes:?}"
    );
    // Control: with a recording in progress the same command runs.
    let store = tempfile::tempdir().unwrap();
    let recorder = Recorder::begin(
        Store::open(store.path()).unwrap(),
        &Request {
            scopes: vec![w.clone()],
            workspace: Some(w.clone()),
            ..Request::default()
        },
    )
    .unwrap();
    *observer.0.lock().unwrap() = Some(recorder);
    let report = hardened_run(&w, observer, "echo x > new; mv kept moved");
    assert_eq!(report.exit_code, 0);
    assert!(w.join("new").is_file() && w.join("moved").is_file());
}
