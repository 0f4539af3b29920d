#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Observed checkpoints (issue 23): the recorder is told of each change just before it happens,
//! as the sandbox's write broker will tell it, and the rollback puts back exactly what changed.
//! Here a stand-in broker performs each filesystem call after telling the recorder, the way the
//! real one emulates the command's calls. Every scenario compares the whole tree (paths, bytes,
//! modes, link targets) after the rollback with the tree before the command, after checking that
//! the command's damage shows (the positive control).

mod common;

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cordon_checkpoint::incremental::Recorder;
use cordon_checkpoint::rollback::{self, Consent, Options};
use cordon_checkpoint::{Coverage, Method, Request, Store, Summary};

use common::{home_key, project, staging_left, tree};

/// The filesystem calls a command makes; the broker tells the recorder first.
trait Ops {
    fn write(&mut self, path: &Path, bytes: &[u8]);
    fn mkdir(&mut self, path: &Path);
    fn symlink(&mut self, target: &str, path: &Path);
    fn unlink(&mut self, path: &Path);
    fn rmdir(&mut self, path: &Path);
    fn rename(&mut self, from: &Path, to: &Path);
    fn link(&mut self, existing: &Path, new: &Path);
    fn chmod(&mut self, path: &Path, mode: u32);

    /// `rm -rf`: children first, as `rm` does.
    fn remove_tree(&mut self, path: &Path) {
        let meta = fs::symlink_metadata(path).unwrap();
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            children.sort();
            for child in children {
                self.remove_tree(&child);
            }
            self.rmdir(path);
        } else {
            self.unlink(path);
        }
    }
}

/// Performs the calls without telling anyone (the same damage, repeated for the crash tests).
struct Plain;

impl Ops for Plain {
    fn write(&mut self, path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
    }
    fn mkdir(&mut self, path: &Path) {
        fs::create_dir(path).unwrap();
    }
    fn symlink(&mut self, target: &str, path: &Path) {
        symlink(target, path).unwrap();
    }
    fn unlink(&mut self, path: &Path) {
        fs::remove_file(path).unwrap();
    }
    fn rmdir(&mut self, path: &Path) {
        fs::remove_dir(path).unwrap();
    }
    fn rename(&mut self, from: &Path, to: &Path) {
        fs::rename(from, to).unwrap();
    }
    fn link(&mut self, existing: &Path, new: &Path) {
        fs::hard_link(existing, new).unwrap();
    }
    fn chmod(&mut self, path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// The stand-in broker: tells the recorder, then performs the call.
struct Broker {
    recorder: Recorder,
}

impl Broker {
    fn parent(path: &Path) -> File {
        File::open(path.parent().unwrap()).unwrap()
    }

    fn changing(&mut self, path: &Path) {
        let dir = Self::parent(path);
        self.recorder
            .before_change(dir.as_fd(), path.file_name().unwrap())
            .unwrap();
    }

    fn creating(&mut self, path: &Path) {
        let dir = Self::parent(path);
        self.recorder
            .before_create(dir.as_fd(), path.file_name().unwrap())
            .unwrap();
    }
}

impl Ops for Broker {
    fn write(&mut self, path: &Path, bytes: &[u8]) {
        if fs::symlink_metadata(path).is_ok() {
            self.changing(path);
        } else {
            self.creating(path);
        }
        Plain.write(path, bytes);
    }
    fn mkdir(&mut self, path: &Path) {
        self.creating(path);
        Plain.mkdir(path);
    }
    fn symlink(&mut self, target: &str, path: &Path) {
        self.creating(path);
        Plain.symlink(target, path);
    }
    fn unlink(&mut self, path: &Path) {
        self.changing(path);
        Plain.unlink(path);
    }
    fn rmdir(&mut self, path: &Path) {
        self.changing(path);
        Plain.rmdir(path);
    }
    fn rename(&mut self, from: &Path, to: &Path) {
        self.changing(from);
        if fs::symlink_metadata(to).is_ok() {
            self.changing(to);
        } else {
            self.creating(to);
        }
        Plain.rename(from, to);
    }
    fn link(&mut self, existing: &Path, new: &Path) {
        self.creating(new);
        Plain.link(existing, new);
    }
    fn chmod(&mut self, path: &Path, mode: u32) {
        let dir = Self::parent(path);
        self.recorder
            .before_metadata_change(dir.as_fd(), path.file_name().unwrap())
            .unwrap();
        Plain.chmod(path, mode);
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    ws: PathBuf,
    store_dir: PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let ws = base.join("ws");
    fs::create_dir(&ws).unwrap();
    project(&ws);
    Fixture {
        _dir: dir,
        base: base.clone(),
        ws,
        store_dir: base.join("home/state/checkpoints"),
    }
}

impl Fixture {
    fn record(&self, command: impl FnOnce(&mut dyn Ops, &Path)) -> Summary {
        let store = Store::open(&self.store_dir).unwrap();
        let recorder = Recorder::begin(
            store,
            &Request {
                scopes: vec![self.ws.clone()],
                workspace: Some(self.ws.clone()),
                label: "observed".into(),
                ..Request::default()
            },
        )
        .unwrap();
        assert_eq!(recorder.scopes()[0].method, Method::Observed);
        let mut broker = Broker { recorder };
        command(&mut broker, &self.ws);
        let (signer, _) = home_key();
        broker.recorder.finish_signed(&signer).unwrap()
    }

    fn roll_back(&self, id: &str) -> cordon_checkpoint::RollbackReport {
        let store = Store::open(&self.store_dir).unwrap();
        let (_, keys) = home_key();
        let verified = rollback::verify(&store, id, &keys).unwrap();
        rollback::apply(&store, &verified, Consent::default(), Options::default()).unwrap()
    }
}

/// Records `command` run on the project, rolls it back, and checks the tree is as before.
fn check_undone(command: impl Fn(&mut dyn Ops, &Path)) -> Summary {
    let f = fixture();
    let before = tree(&f.ws);
    let summary = f.record(&command);
    assert_eq!(summary.coverage, Coverage::Observed);
    assert_ne!(
        tree(&f.ws),
        before,
        "positive control: the command changed nothing"
    );
    f.roll_back(&summary.id);
    assert_eq!(tree(&f.ws), before);
    assert!(staging_left(&f.base).is_empty());
    summary
}

#[test]
fn a_one_file_mv_records_only_what_it_changed() {
    let s = check_undone(|c, ws| c.rename(&ws.join("same-a"), &ws.join("moved.txt")));
    // The root, the file's pre-image and the name it created: nothing else was read or stored.
    assert_eq!(s.entries, 3, "{s:?}");
    assert_eq!(s.bytes, "duplicate content\n".len() as u64);
}

#[test]
fn rm_rf_of_a_tree_and_of_the_scope_root() {
    check_undone(|c, ws| c.remove_tree(&ws.join("src")));
    check_undone(|c, ws| c.remove_tree(ws));
}

/// A mode change comes back when the broker reports it (`chmod`, `fchmod`, `utimensat`), and
/// costs the name itself, not what is below it.
#[test]
fn a_reported_mode_change_comes_back() {
    let s = check_undone(|c, ws| {
        c.chmod(&ws.join("run.sh"), 0o600);
        c.chmod(&ws.join("src"), 0o500);
        c.chmod(&ws.join("readonly.txt"), 0o666);
    });
    // The root and the three names.
    assert_eq!(s.entries, 4, "{s:?}");
}

#[test]
fn sed_in_place_and_edits_in_place() {
    check_undone(|c, ws| {
        // sed -i: a temporary file in the same directory, renamed over the original.
        c.write(&ws.join("src/.sedAbC123"), b"fn main() { evil() }\n");
        c.rename(&ws.join("src/.sedAbC123"), &ws.join("src/main.rs"));
        c.write(&ws.join(".env"), b"");
        c.write(&ws.join(".git/HEAD"), b"ref: refs/heads/evil\n");
    });
}

#[test]
fn new_files_empty_directories_and_symlink_swaps() {
    check_undone(|c, ws| {
        c.mkdir(&ws.join("build"));
        c.mkdir(&ws.join("build/out"));
        c.write(&ws.join("build/out/a.o"), b"obj");
        c.mkdir(&ws.join("build/empty"));
        c.write(&ws.join("empty/now-full"), b"x");
        c.unlink(&ws.join("link"));
        c.symlink("/etc/passwd", &ws.join("link"));
        c.unlink(&ws.join("src/main.rs"));
        c.symlink("/etc/shadow", &ws.join("src/main.rs"));
    });
}

#[test]
fn a_directory_replaced_by_a_link_to_outside_is_not_followed() {
    let f = fixture();
    let outside = f.base.join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("keep"), b"untouched").unwrap();
    let before = tree(&f.ws);
    let s = f.record(|c, ws| {
        c.remove_tree(&ws.join("src"));
        c.symlink(outside.to_str().unwrap(), &ws.join("src"));
    });
    assert_ne!(tree(&f.ws), before);
    f.roll_back(&s.id);
    assert_eq!(tree(&f.ws), before);
    // Nothing was written through the link.
    let names: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("keep")]);
    assert_eq!(fs::read(outside.join("keep")).unwrap(), b"untouched");
}

#[test]
fn names_with_spaces_and_renamed_directories() {
    check_undone(|c, ws| {
        let d = ws.join("dir with spaces");
        c.rename(&d.join("a file.txt"), &d.join("inner dir/moved file"));
        c.rename(&d, &ws.join("renamed dir"));
        c.write(&ws.join("renamed dir/inner dir/new one"), b"n");
        c.rename(&ws.join("src"), &ws.join("source"));
        c.write(&ws.join("source/main.rs"), b"changed\n");
        c.rename(&ws.join("source/nested"), &ws.join("nested-out"));
    });
}

#[test]
fn a_directory_renamed_away_and_back_and_a_file_replaced_by_a_directory() {
    check_undone(|c, ws| {
        c.write(&ws.join("src/main.rs"), b"edited first\n");
        c.rename(&ws.join("src"), &ws.join("tmp-src"));
        c.rename(&ws.join("tmp-src"), &ws.join("src"));
        c.unlink(&ws.join("run.sh"));
        c.mkdir(&ws.join("run.sh"));
        c.write(&ws.join("run.sh/inside"), b"x");
        c.rmdir(&ws.join("empty"));
        c.write(&ws.join("empty"), b"now a file");
    });
}

#[test]
fn hard_links_share_one_pre_image() {
    check_undone(|c, ws| {
        c.link(&ws.join("same-a"), &ws.join("hard"));
        c.write(&ws.join("same-a"), b"changed through one name\n");
        c.unlink(&ws.join("hard"));
        c.rename(&ws.join("same-b"), &ws.join("same-a"));
    });
}

#[test]
fn changes_outside_the_scope_are_not_recorded() {
    let f = fixture();
    let elsewhere = f.base.join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let s = f.record(|c, ws| {
        c.write(&elsewhere.join("tmpfile"), b"scratch");
        c.write(&ws.join("new"), b"x");
    });
    // The root, and `new` as absent.
    assert_eq!(s.entries, 2, "{s:?}");
    f.roll_back(&s.id);
    assert!(!f.ws.join("new").exists());
    assert_eq!(fs::read(elsewhere.join("tmpfile")).unwrap(), b"scratch");
}

#[test]
fn a_scope_that_is_a_file_or_absent_is_snapshotted_whole_at_the_start() {
    let f = fixture();
    let store = Store::open(&f.store_dir).unwrap();
    let file = f.ws.join("run.sh");
    let absent = f.ws.join("out/bin");
    let recorder = Recorder::begin(
        store,
        &Request {
            scopes: vec![file.clone(), absent.clone()],
            workspace: Some(f.ws.clone()),
            ..Request::default()
        },
    )
    .unwrap();
    assert!(recorder.scopes().iter().all(|s| s.method == Method::Full));
    let (signer, _) = home_key();
    let s = recorder.finish_signed(&signer).unwrap();
    let before = tree(&f.ws);
    fs::write(&file, b"changed").unwrap();
    fs::create_dir_all(&absent).unwrap();
    f.roll_back(&s.id);
    assert_eq!(tree(&f.ws), before);
}

#[test]
fn the_cost_follows_the_change_not_the_workspace() {
    let f = fixture();
    // 2,000 more files the command never touches.
    for d in 0..20 {
        let dir = f.ws.join(format!("bulk{d:02}"));
        fs::create_dir(&dir).unwrap();
        for i in 0..100 {
            fs::write(dir.join(format!("f{i:03}")), format!("{d}/{i}")).unwrap();
        }
    }
    let s = f.record(|c, ws| c.rename(&ws.join("same-a"), &ws.join("b.txt")));
    assert_eq!(s.entries, 3, "{s:?}");
    // Deleting one 100-file directory records those 100 files, their directory and the root.
    let s = f.record(|c, ws| c.remove_tree(&ws.join("bulk07")));
    assert_eq!(s.entries, 102, "{s:?}");
    f.roll_back(&s.id);
    assert_eq!(fs::read_dir(f.ws.join("bulk07")).unwrap().count(), 100);
}

#[test]
fn a_forged_observed_manifest_is_refused() {
    let f = fixture();
    let s = f.record(|c, ws| c.unlink(&ws.join(".env")));
    let store = Store::open(&f.store_dir).unwrap();
    let (_, keys) = home_key();
    let path = f
        .store_dir
        .join("manifests")
        .join(format!("{}.jsonl", s.id));
    let text = fs::read_to_string(&path).unwrap();
    // Point the recorded entry somewhere else, keeping the seal.
    let forged = text.replacen(&hex::encode(".env"), &hex::encode("src/main.rs"), 1);
    assert_ne!(forged, text);
    fs::write(&path, forged).unwrap();
    let err = rollback::verify(&store, &s.id, &keys).unwrap_err();
    assert!(
        err.to_string().contains("changed after it was sealed"),
        "{err}"
    );
    // Control: the manifest as written verifies and rolls back.
    fs::write(&path, text).unwrap();
    f.roll_back(&s.id);
    assert_eq!(fs::read(f.ws.join(".env")).unwrap(), b"SECRET=1\n");
}

/// The command the crash tests roll back: deletes, edits, renames, creates.
fn crash_command(c: &mut dyn Ops, ws: &Path) {
    c.remove_tree(&ws.join("src"));
    c.write(&ws.join(".env"), b"overwritten\n");
    c.rename(&ws.join("same-a"), &ws.join("renamed"));
    c.mkdir(&ws.join("created"));
    c.write(&ws.join("created/file"), b"new\n");
}

const CHILD: &str = "CORDON_TEST_OBSERVED_ROLLBACK";

/// Not a test of its own: the child process the crash test starts and kills.
#[test]
fn observed_rollback_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let mut parts = spec.splitn(3, '|');
    let (store_dir, id, step) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let store = Store::open(Path::new(store_dir)).unwrap();
    let (_, keys) = home_key();
    let verified = rollback::verify(&store, id, &keys).unwrap();
    let options = Options {
        pause_after_steps: Some(step.parse().unwrap()),
    };
    rollback::apply(&store, &verified, Consent::default(), options).unwrap();
}

/// Runs the rollback in a child paused after `step` steps and SIGKILLs it; false when it
/// finished before reaching that step.
fn killed_at(f: &Fixture, id: &str, step: u64) -> bool {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "observed_rollback_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{}|{id}|{step}", f.store_dir.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut paused = false;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("rollback paused") {
            paused = true;
            break;
        }
    }
    if paused {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(paused || status.success(), "step {step}: the child failed");
    paused
}

#[test]
fn an_observed_rollback_killed_at_any_step_finishes_when_run_again() {
    let f = fixture();
    let before = tree(&f.ws);
    let s = f.record(|c, ws| crash_command(c, ws));
    let mut step = 1;
    loop {
        let damaged = tree(&f.ws);
        assert_ne!(damaged, before, "step {step}: positive control");
        let paused = killed_at(&f, &s.id, step);
        f.roll_back(&s.id);
        assert_eq!(tree(&f.ws), before, "step {step}: the rerun did not finish");
        assert!(
            staging_left(&f.base).is_empty(),
            "step {step}: staging left"
        );
        if !paused {
            break;
        }
        // The same command again (unrecorded), for the next kill.
        crash_command(&mut Plain, &f.ws);
        step += 1;
        assert!(step < 200, "the rollback never finished");
    }
    assert!(
        step > 10,
        "only {step} steps: the kills did not land inside the rollback"
    );
}
