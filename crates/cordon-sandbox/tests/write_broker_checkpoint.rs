//! The write broker's copy-on-first-write hook (issue 23): an observer told of every existing
//! entry before a hardened command changes it, and of every entry it creates or moves, can
//! undo the command exactly. The observer here copies pre-images into a directory and keeps a
//! journal; rolling the journal back must give back the workspace as it was, byte for byte,
//! mode for mode, link for link.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use cordon_sandbox::{
    fd_path, run, Applied, ChangeKind, Confinement, ObserverError, Plan, PlannedCommand,
    RunOptions, RunReport, Victim, WriteObserver,
};

/// What an entry was before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PreImage {
    File { mode: u32, bytes: Vec<u8> },
    Dir { mode: u32 },
    Symlink { target: PathBuf },
    Fifo { mode: u32 },
}

/// One journal entry, in the order the command did things.
#[derive(Debug, Clone)]
enum Event {
    Created(PathBuf),
    Moved(PathBuf, PathBuf),
    Exchanged(PathBuf, PathBuf),
    /// Modified or removed: the path then, and the inode's pre-image.
    Changed(ChangeKind, PathBuf, usize),
}

/// A test observer: pre-images in memory (one per inode), a journal of events.
#[derive(Default, Debug)]
struct PreImages {
    images: Mutex<Vec<PreImage>>,
    by_inode: Mutex<HashMap<(u64, u64), usize>>,
    journal: Mutex<Vec<Event>>,
    /// Names whose change the observer refuses (to test that a refusal denies the call).
    refuse: Vec<&'static str>,
}

fn pre_image(victim: &Victim<'_>) -> std::io::Result<PreImage> {
    let mode = victim.stat.st_mode & 0o7777;
    Ok(match victim.stat.st_mode & libc::S_IFMT {
        libc::S_IFREG => {
            let mut bytes = Vec::new();
            // SAFETY: the fd is the broker's, valid for the duration of this call; the File is
            // forgotten rather than closed.
            let mut file = std::mem::ManuallyDrop::new(unsafe {
                <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(victim.file.as_raw_fd())
            });
            file.read_to_end(&mut bytes)?;
            PreImage::File { mode, bytes }
        }
        libc::S_IFDIR => PreImage::Dir { mode },
        libc::S_IFLNK => PreImage::Symlink {
            target: std::fs::read_link(fd_path_of(victim)?)?,
        },
        _ => PreImage::Fifo { mode },
    })
}

fn fd_path_of(victim: &Victim<'_>) -> std::io::Result<PathBuf> {
    match &victim.entry {
        Some(entry) => entry.path(),
        None => fd_path(victim.file),
    }
}

impl WriteObserver for PreImages {
    fn before_change(&self, victim: &Victim<'_>) -> Result<(), ObserverError> {
        let path = fd_path_of(victim).map_err(|e| ObserverError(e.to_string()))?;
        if self.refuse.iter().any(|n| path.ends_with(n)) {
            return Err(ObserverError(format!("{} may not change", path.display())));
        }
        let inode = (victim.stat.st_dev, victim.stat.st_ino);
        let index = if victim.first_time {
            let image = pre_image(victim).map_err(|e| ObserverError(e.to_string()))?;
            let mut images = self.images.lock().unwrap();
            images.push(image);
            self.by_inode
                .lock()
                .unwrap()
                .insert(inode, images.len() - 1);
            images.len() - 1
        } else {
            *self
                .by_inode
                .lock()
                .unwrap()
                .get(&inode)
                .expect("seen before")
        };
        self.journal
            .lock()
            .unwrap()
            .push(Event::Changed(victim.kind, path, index));
        Ok(())
    }

    fn after_change(&self, change: &Applied<'_>) {
        let event = match change {
            Applied::Created(e) => Event::Created(e.path().unwrap()),
            Applied::Moved { from, to } => Event::Moved(from.path().unwrap(), to.path().unwrap()),
            Applied::Exchanged { a, b } => Event::Exchanged(a.path().unwrap(), b.path().unwrap()),
        };
        self.journal.lock().unwrap().push(event);
    }
}

fn remove_any(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).unwrap(),
        Ok(_) => std::fs::remove_file(path).unwrap(),
        Err(_) => {}
    }
}

fn restore(path: &Path, image: &PreImage) {
    remove_any(path);
    match image {
        PreImage::File { mode, bytes } => {
            std::fs::write(path, bytes).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        PreImage::Dir { mode } => {
            std::fs::create_dir(path).unwrap();
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        PreImage::Symlink { target } => std::os::unix::fs::symlink(target, path).unwrap(),
        PreImage::Fifo { mode } => {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: mkfifo with a NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), *mode) }, 0);
        }
    }
}

impl PreImages {
    /// Undoes the journal, last event first.
    fn roll_back(&self) {
        let images = self.images.lock().unwrap();
        let journal = self.journal.lock().unwrap();
        for event in journal.iter().rev() {
            match event {
                Event::Created(p) => remove_any(p),
                Event::Moved(from, to) => std::fs::rename(to, from)
                    .unwrap_or_else(|e| panic!("undo {event:?}: {e}; journal {journal:#?}")),
                Event::Exchanged(a, b) => exchange(a, b),
                Event::Changed(ChangeKind::Modify, p, i) => match &images[*i] {
                    PreImage::File { mode, bytes } => {
                        std::fs::write(p, bytes).unwrap();
                        std::fs::set_permissions(p, std::fs::Permissions::from_mode(*mode))
                            .unwrap();
                    }
                    other => restore(p, other),
                },
                Event::Changed(_, p, i) => restore(p, &images[*i]),
            }
        }
    }

    fn copies(&self) -> usize {
        self.images.lock().unwrap().len()
    }
}

fn exchange(a: &Path, b: &Path) {
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let (a, b) = (c(a), c(b));
    // SAFETY: renameat2 with two NUL-terminated paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(rc, 0);
}

/// Every entry under `root`: type, mode, and contents or link target.
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            let what = if meta.file_type().is_symlink() {
                format!("link -> {}", std::fs::read_link(&path).unwrap().display())
            } else if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else if meta.file_type().is_fifo() {
                format!("fifo {mode:o}")
            } else {
                let bytes = std::fs::read(&path).unwrap();
                format!("file {mode:o} {}", String::from_utf8_lossy(&bytes))
            };
            out.insert(path.strip_prefix(root).unwrap().to_path_buf(), what);
        }
    }
    out
}

fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    varied_workspace(ws.path());
    ws
}

fn hardened_run(w: &Path, observer: Arc<PreImages>, script: &str) -> RunReport {
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

fn output(report: &RunReport) -> String {
    let c = &report.commands[0];
    format!(
        "exit {}: {}{}",
        c.exit_code,
        String::from_utf8_lossy(&c.stdout.captured),
        String::from_utf8_lossy(&c.stderr.captured)
    )
}

#[test]
fn a_rollback_from_the_pre_images_gives_back_the_workspace_exactly() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    // A git directory too: it is pinned in the command's mount namespace, and the paths the
    // observer is given must still be the workspace's.
    std::fs::create_dir_all(w.join(".git/objects")).unwrap();
    // The bind mounts' preparation makes an empty `hooks` in a git directory without one.
    std::fs::create_dir_all(w.join(".git/hooks")).unwrap();
    std::fs::write(w.join(".git/index"), "index v1\n").unwrap();
    let before = tree(w);
    let observer = Arc::new(PreImages::default());
    let script = r#"set -e
sed -i 's/one/ONE/' src/deep/er/data.txt
printf x >> src/main.rs
printf y >> src/main.rs
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
    let report = hardened_run(w, Arc::clone(&observer), script);
    assert_eq!(report.exit_code, 0, "{}", output(&report));
    assert!(report.enforcement.write_broker.observer);
    assert_ne!(tree(w), before);
    observer.roll_back();
    assert_eq!(tree(w), before);
    // What it cost: one copy per existing entry that changed, never one for an entry the command
    // made, never two for one inode: data.txt (replaced by sed), main.rs (appended twice),
    // the README, run.sh (renamed over), build's 20 objects and its two directories,
    // `empty dir`, the two links, the git index.
    assert_eq!(observer.copies(), 30);
}

#[test]
fn an_observer_that_refuses_a_change_denies_the_call() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let observer = Arc::new(PreImages {
        refuse: vec!["secret"],
        ..PreImages::default()
    });
    let report = hardened_run(
        w,
        Arc::clone(&observer),
        "echo x > secret || echo refused; rm secret || echo refused; echo ok > src/main.rs",
    );
    let out = output(&report);
    assert_eq!(out.matches("refused").count(), 2, "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert_eq!(
        std::fs::read_to_string(w.join("secret")).unwrap(),
        "s3cret\n"
    );
    // Control: the change the observer accepts went through.
    assert_eq!(
        std::fs::read_to_string(w.join("src/main.rs")).unwrap(),
        "ok\n"
    );
    let notes = &report.enforcement.write_broker.notes;
    assert!(
        notes.iter().any(|n| n.contains("secret may not change")),
        "{notes:?}"
    );
}

#[test]
fn a_file_changed_many_times_is_copied_once() {
    require_broker!();
    let ws = workspace();
    let w = ws.path();
    let observer = Arc::new(PreImages::default());
    let report = hardened_run(
        w,
        Arc::clone(&observer),
        "for i in 1 2 3 4 5; do echo $i >> src/main.rs; done; : > src/main.rs",
    );
    assert_eq!(report.exit_code, 0, "{}", output(&report));
    assert_eq!(observer.copies(), 1);
    assert_eq!(observer.journal.lock().unwrap().len(), 1);
    observer.roll_back();
    assert_eq!(
        std::fs::read_to_string(w.join("src/main.rs")).unwrap(),
        "fn main() {}\n"
    );
}

#[test]
fn a_local_run_with_an_observer_is_refused() {
    let plan = Plan {
        commands: vec![PlannedCommand::new("t", ["/bin/true"], "/")],
    };
    let options = RunOptions {
        write_observer: Some(Arc::new(PreImages::default())),
        ..RunOptions::default()
    };
    match run(&plan, &Confinement::local(), &options) {
        Err(cordon_sandbox::Error::Unenforceable { feature, detail }) => {
            assert!(feature.contains("write broker"), "{feature}");
            assert_eq!(detail, "it runs only in hardened mode");
        }
        other => panic!("expected Unenforceable, got {other:?}"),
    }
}
