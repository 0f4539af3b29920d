//! Observed checkpoints (issue 23): in a hardened run under `allow_with_checkpoint` whose kernel
//! runs the write broker, nothing is copied before the command starts. An
//! [`incremental::Recorder`] is begun instead, and the sandbox's broker tells it of every name
//! before it changes ([`WriteObserver`]); cordon's own soft deletes tell it of what they move to
//! the trash ([`Recording::before_remove`]). After the last command the recording is signed with
//! the ledger's key ([`Recording::finish_signed`]) and goes into the receipt like any checkpoint.
//!
//! Fail closed: a name the recorder cannot record is not changed. The broker refuses the
//! command's call with EPERM (its report's notes say why), and a soft delete moves nothing.
//!
//! The recorder keys by name, so the glue tells it per name, not per inode: a victim (a file
//! about to be overwritten, truncated, removed or renamed over) and a name moved away are
//! recorded as they are now; a name about to be created is recorded as absent. A victim reached
//! through `/proc/PID/fd` names no entry, so it cannot be recorded and the call is refused.
//! The parent directories the broker hands over are `O_PATH` descriptors opened in the
//! command's mount namespace; the recorder locates them by identity (device and inode) below the
//! scope roots it opened in cordon's, which are the same directories (the sandbox mounts paths
//! over themselves, never elsewhere).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Mutex;

use cordon_checkpoint::incremental::Recorder;
use cordon_checkpoint::{Request, Signer, Store, Summary};
use cordon_sandbox::{Applied, NameChange, ObserverError, Victim, WriteObserver};
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;

/// A recording in progress, shared by the broker's observer and the soft-delete service.
pub struct Recording {
    /// `None` once finished: a name told after that is refused.
    recorder: Mutex<Option<Recorder>>,
    id: String,
    /// The scope roots as resolved when recording began, and those outside the workspace.
    scopes: Vec<String>,
    outside_workspace: Vec<String>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Begins recording changes to `request.scopes` in `store`. Scopes that are not
    /// directories are copied whole now (the recorder's rule).
    pub fn begin(store: Store, request: &Request) -> cordon_checkpoint::Result<Recording> {
        let recorder = Recorder::begin(store, request)?;
        let shown = |path: &Path| path.to_string_lossy().into_owned();
        Ok(Recording {
            id: recorder.id().to_string(),
            scopes: recorder.scopes().iter().map(|s| shown(&s.path)).collect(),
            outside_workspace: recorder
                .scopes()
                .iter()
                .filter(|s| s.outside_workspace)
                .map(|s| shown(&s.path))
                .collect(),
            recorder: Mutex::new(Some(recorder)),
        })
    }

    /// The checkpoint's id, known from the start.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scope roots as resolved, each as text: what a rollback will touch.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The resolved scope roots outside the workspace, each as text.
    pub fn outside_workspace(&self) -> &[String] {
        &self.outside_workspace
    }

    /// A soft delete is about to move `target` (as `rm` names it: the last component not
    /// followed) to the trash: records it as it is now. `Err` is one sentence; the soft delete
    /// must then move nothing. A target whose parent does not exist is not recorded: there is
    /// nothing to move.
    pub fn before_remove(&self, target: &Path) -> Result<(), String> {
        let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
            return Ok(());
        };
        let parent = match open_dir(parent) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "the checkpoint cannot record {} before it is moved: {e}",
                    target.display()
                ))
            }
        };
        self.record(|r| r.before_change(parent.as_fd(), name))
            .map_err(|e| {
                format!(
                    "the checkpoint cannot record {} before it is moved: {e}",
                    target.display()
                )
            })
    }

    /// Ends the recording and writes its manifest, signed with `signer`.
    pub fn finish_signed(&self, signer: &Signer) -> Result<Summary, String> {
        let recorder = self
            .recorder
            .lock()
            .map_err(|_| "the recording was abandoned by a thread that panicked".to_string())?
            .take()
            .ok_or("the recording has already ended")?;
        recorder.finish_signed(signer).map_err(|e| e.to_string())
    }

    fn record(
        &self,
        record: impl FnOnce(&mut Recorder) -> cordon_checkpoint::Result<()>,
    ) -> Result<(), String> {
        let mut guard = self
            .recorder
            .lock()
            .map_err(|_| "the recording was abandoned by a thread that panicked".to_string())?;
        let recorder = guard.as_mut().ok_or("the recording has ended")?;
        record(recorder).map_err(|e| e.to_string())
    }
}

/// `path` as a directory handle that only locates (`O_PATH`), following links as `rm` does for
/// every component but the last.
fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

impl WriteObserver for Recording {
    fn before_change(&self, victim: &Victim<'_>) -> Result<(), ObserverError> {
        let entry = victim.entry.ok_or_else(|| {
            ObserverError(
                "the checkpoint keys by name, and a file reached through /proc/PID/fd names none"
                    .into(),
            )
        })?;
        self.record(|r| r.before_change(entry.parent, entry.name))
            .map_err(refusal)
    }

    fn after_change(&self, _change: &Applied<'_>) {}

    fn before_name(&self, change: &NameChange<'_>) -> Result<(), ObserverError> {
        match *change {
            NameChange::Create(e) => self.record(|r| r.before_create(e.parent, e.name)),
            NameChange::MoveAway(e) => self.record(|r| r.before_change(e.parent, e.name)),
        }
        .map_err(refusal)
    }
}

fn refusal(why: String) -> ObserverError {
    ObserverError(format!("the checkpoint cannot record this change: {why}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::fs;

    use cordon_checkpoint::rollback::{self, Consent, Options};
    use cordon_checkpoint::{Coverage, KeyRing};

    use super::*;

    fn key() -> (Signer, KeyRing) {
        let signer = Signer::from_bytes(&[7; 32], "home-key").unwrap();
        let ring = KeyRing::single("home-key", signer.verifying_key());
        (signer, ring)
    }

    fn begin(scope: &Path, store: &Path) -> Recording {
        Recording::begin(
            Store::open(store).unwrap(),
            &Request {
                scopes: vec![scope.to_path_buf()],
                workspace: Some(scope.to_path_buf()),
                ..Request::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn what_a_soft_delete_moves_is_recorded_and_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let ws = root.join("ws");
        fs::create_dir_all(ws.join("tree/deep")).unwrap();
        fs::write(ws.join("tree/deep/f"), "kept\n").unwrap();
        let recording = begin(&ws, &root.join("store"));
        assert_eq!(recording.scopes(), [ws.display().to_string()]);
        recording.before_remove(&ws.join("tree")).unwrap();
        // Absent targets (their parent gone) record nothing and are no error.
        recording.before_remove(&ws.join("gone/x")).unwrap();
        fs::remove_dir_all(ws.join("tree")).unwrap();
        let (signer, ring) = key();
        let summary = recording.finish_signed(&signer).unwrap();
        assert_eq!(summary.coverage, Coverage::Observed);
        let store = Store::open(&root.join("store")).unwrap();
        let verified = rollback::verify(&store, &summary.id, &ring).unwrap();
        rollback::apply(&store, &verified, Consent::default(), Options::default()).unwrap();
        assert_eq!(fs::read(ws.join("tree/deep/f")).unwrap(), b"kept\n");
    }

    #[test]
    fn a_finished_recording_refuses_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let ws = root.join("ws");
        fs::create_dir_all(&ws).unwrap();
        fs::write(ws.join("f"), "x").unwrap();
        let recording = begin(&ws, &root.join("store"));
        // Control: while recording, the same target is recorded.
        recording.before_remove(&ws.join("f")).unwrap();
        let (signer, _) = key();
        recording.finish_signed(&signer).unwrap();
        assert_eq!(
            recording.before_remove(&ws.join("f")),
            Err(format!(
                "the checkpoint cannot record {} before it is moved: the recording has ended",
                ws.join("f").display()
            ))
        );
        assert_eq!(
            recording.finish_signed(&signer).unwrap_err(),
            "the recording has already ended"
        );
    }
}
