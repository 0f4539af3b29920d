//! The allow-with-checkpoint outcome (issue 8): snapshot the write scope before anything runs,
//! turn a plain `rm` into a move to the trash, give every other command a soft-delete service so
//! that any `rm` it reaches moves to the trash too ([`crate::trash_service`]), and put the
//! snapshot into the receipt.
//!
//! Words: a *snapshot* is this copy of files (the CLI and the receipt call it a checkpoint:
//! `cordon rollback ID`, `x-cordon.checkpoint`); the journal's signed *tree head* is another
//! thing ([`crate::Ledger::seal`]).
//!
//! Fail closed: if the snapshot cannot be taken completely, the run is blocked (a snapshot that
//! silently saved nothing is how agentsh lost a directory to `rm -rf`). The snapshot and the soft
//! delete run in cordon's own process, outside the sandbox, so both stay inside the contract's
//! declared write scope: the snapshot covers exactly that scope, and a soft delete refuses any
//! target outside it.
//!
//! Rollback and restore run with the person's authority and trust only what the ledger's key
//! signed (issue 24): the snapshot's manifest and every trash item's are signed with it, so a
//! run without a key takes no snapshot and is blocked. The person is told every scope as it
//! resolved (a link and what it leads to), and which of them lie outside the workspace, since
//! rolling those back will need their explicit consent.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use cordon_checkpoint::trash::Closed;
use cordon_checkpoint::{Request as SnapshotRequest, Signer, Store, Summary};
use cordon_core::contract::Command;
use cordon_policy::native::CordonReason;
use cordon_policy::shell;
use cordon_sandbox::{
    CommandReport, CommandStatus, Confinement, Envelope, Plan, StreamReport, Substitute,
    WriteObserver, PROTECTED_NAMES, SEARCH_SKIPPED,
};
use serde_json::{json, Value};

use crate::confinement::literal_prefix;
use crate::decision::Reason;
use crate::extension::CommandEntry;
use crate::notice::{Notice, Notices};
use crate::observed::Recording;
use crate::request::RunRequest;
use crate::trash_service::{self, parse_rm, Service};

/// Where snapshots, the trash and the soft-delete services live (the home's `state/`), and the
/// sessions a snapshot may be attributed to.
#[derive(Debug, Clone)]
pub struct SnapshotPlaces {
    pub checkpoints: PathBuf,
    pub trash: PathBuf,
    /// Where each command's soft-delete service makes its run directory.
    pub runs: PathBuf,
    pub sessions: PathBuf,
}

/// Whose snapshot it is: the run's session, the workspace it runs for, the key that signs the
/// manifests, and whether the sandbox can observe the command's writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Taking<'a> {
    /// The cordon session the run belongs to, which must exist.
    pub session: Option<&'a str>,
    /// The workspace the command runs for: a resolved scope outside it is announced, and
    /// rolling it back needs consent. `None`: every scope counts as outside.
    pub workspace: Option<&'a Path>,
    /// The ledger's key. Without one no snapshot is taken (nothing could trust it).
    pub signer: Option<&'a Arc<Signer>>,
    /// The run is hardened and its kernel runs the write broker: record what the commands
    /// change as they change it (crate::observed) instead of copying the scope first.
    pub observe: bool,
    /// The caches the run writes through its workspace's layers (hardened mode; resolved): a
    /// scope inside one is left out, since the command changes the layer and not the cache, and
    /// a rollback would write what the layer held into the cache the user's own tools run.
    pub layered: &'a [PathBuf],
    /// The workspace the hardened run's envelope lets the command write (`None` in local mode
    /// and under a CSC profile). What the front end could not name lands there, so the
    /// checkpoint covers it ([`add_workspace`]).
    pub writable_workspace: Option<&'a Path>,
    /// Every root the hardened run's envelope lets the command write (resolved), with
    /// `writable_workspace`.
    pub writable: &'a [PathBuf],
}

/// A checkpoint of the run: taken before it (a full snapshot), or recorded during it (observed).
#[derive(Debug)]
pub struct Snapshot {
    /// The checkpoint's id, known before the first command starts.
    pub id: String,
    /// The signed manifest's summary: from the start for a full snapshot, once the recording
    /// ends ([`Snapshot::finish`]) for an observed one.
    pub summary: Option<Summary>,
    /// Why an observed checkpoint could not be completed (it then cannot be rolled back).
    pub failure: Option<String>,
    /// The observed checkpoint being recorded.
    recording: Option<Arc<Recording>>,
    /// The trash, where a soft-deleted `rm` moves its targets.
    trash_dir: PathBuf,
    runs_dir: PathBuf,
    session: Option<String>,
    /// Signs every trash item's manifest, as it signs the checkpoint's.
    signer: Arc<Signer>,
}

impl Snapshot {
    /// What the sandbox's write broker tells of every name before it changes; `None` for a
    /// full snapshot.
    pub fn observer(&self) -> Option<Arc<dyn WriteObserver>> {
        self.recording
            .as_ref()
            .map(|r| Arc::clone(r) as Arc<dyn WriteObserver>)
    }

    /// Ends an observed recording: its manifest is written and signed, and the summary goes
    /// into the receipt; if that fails, the failure does (and is said now). A full snapshot is
    /// complete already.
    pub fn finish(&mut self, notices: &Notices) {
        let Some(recording) = self.recording.take() else {
            return;
        };
        match recording.finish_signed(&self.signer) {
            Ok(summary) => {
                notices(Notice::CheckpointRecorded {
                    id: summary.id.clone(),
                    entries: summary.entries,
                });
                self.summary = Some(summary);
            }
            Err(why) => {
                notices(Notice::CheckpointIncomplete {
                    id: self.id.clone(),
                    why: why.clone(),
                });
                self.failure = Some(why);
            }
        }
    }
}

/// Snapshots the request's write scope when its outcome asks for it, its manifest signed with
/// the ledger's key, or begins recording it (`taking.observe`). `Ok(None)` when the outcome asks
/// for none; `Err` (one sentence) when it does and the checkpoint could not be taken or begun,
/// so nothing may run.
pub fn take(
    request: &RunRequest,
    places: Option<&SnapshotPlaces>,
    taking: Taking<'_>,
    notices: &Notices,
) -> Result<Option<Snapshot>, String> {
    if !request.snapshot_requested() {
        return Ok(None);
    }
    let fail = |why: String| {
        format!("the checkpoint this outcome requires could not be taken, so nothing ran: {why}")
    };
    let places = places.ok_or_else(|| fail("no cordon home (set CORDON_HOME or HOME)".into()))?;
    let session = match taking.session.filter(|id| !id.is_empty()) {
        Some(id) => Some(
            cordon_checkpoint::session::get(&places.sessions, id)
                .map(|s| s.id)
                .map_err(|e| fail(format!("CORDON_SESSION: {e}")))?,
        ),
        None => None,
    };
    let signer = taking.signer.ok_or_else(|| {
        fail(
            "no signing key was given, and rollback trusts only a checkpoint signed with one"
                .into(),
        )
    })?;
    let declared: Vec<PathBuf> = request
        .write_scope()
        .iter()
        .map(|p| literal_prefix(p))
        .collect();
    let unnamed = declared.is_empty();
    let (in_caches, mut scopes): (Vec<PathBuf>, Vec<PathBuf>) =
        declared.into_iter().partition(|scope| {
            !taking.layered.is_empty() && {
                let real = real_as_far_as_exists(scope);
                taking.layered.iter().any(|cache| real.starts_with(cache))
            }
        });
    if !in_caches.is_empty() {
        notices(Notice::ScopesInCacheLayers {
            scopes: in_caches.iter().map(|p| p.display().to_string()).collect(),
        });
    }
    if let Some(workspace) = taking.writable_workspace {
        leave_out_the_hosts_tmp(&mut scopes, workspace);
        leave_out_what_links_lead_out_to(&mut scopes, workspace, taking.writable);
    }
    add_workspace(&mut scopes, unnamed, request, &taking, &places.checkpoints);
    if scopes.is_empty() {
        // Everything named lies in a cache layer: nothing here for a checkpoint to restore.
        return Ok(None);
    }
    let store = Store::open(&places.checkpoints).map_err(|e| fail(e.to_string()))?;
    let snapshot_request = SnapshotRequest {
        scopes,
        session: session.clone(),
        label: label_of(request),
        workspace: taking.workspace.map(Path::to_path_buf),
        ..SnapshotRequest::default()
    };
    let mut taken = Snapshot {
        id: String::new(),
        summary: None,
        failure: None,
        recording: None,
        trash_dir: places.trash.clone(),
        runs_dir: places.runs.clone(),
        session,
        signer: Arc::clone(signer),
    };
    let (outside, workspace) = if taking.observe && !changes_metadata(request) {
        let recording =
            Recording::begin(store, &snapshot_request).map_err(|e| fail(e.to_string()))?;
        taken.id = recording.id().to_string();
        notices(Notice::CheckpointObserving {
            id: taken.id.clone(),
            scopes: recording.scopes().to_vec(),
        });
        let outside = recording.outside_workspace().to_vec();
        taken.recording = Some(Arc::new(recording));
        // As a full snapshot's summary names it: resolved.
        let workspace = taking
            .workspace
            .map(|w| std::fs::canonicalize(w).unwrap_or_else(|_| w.to_path_buf()));
        (outside, workspace.map(|w| w.display().to_string()))
    } else {
        let summary = cordon_checkpoint::snapshot_signed(&store, &snapshot_request, signer)
            .map_err(|e| fail(e.to_string()))?;
        notices(Notice::SnapshotTaken {
            id: summary.id.clone(),
            entries: summary.entries,
            scopes: summary.scopes.clone(),
        });
        taken.id = summary.id.clone();
        let seen = (summary.outside_workspace.clone(), summary.workspace.clone());
        taken.summary = Some(summary);
        seen
    };
    // A scope that does not exist holds nothing to restore yet: named only once it does (working
    // day fifteen: every `go test` warned of a `~/go` that was never made).
    let outside: Vec<String> = outside
        .into_iter()
        .filter(|scope| std::fs::symlink_metadata(scope).is_ok())
        .collect();
    if !outside.is_empty() {
        notices(Notice::SnapshotOutsideWorkspace {
            id: taken.id.clone(),
            outside,
            workspace,
        });
    }
    Ok(Some(taken))
}

/// `path` resolved as far as it exists ([`cordon_sandbox::resolve_as_far_as_exists`]), or as
/// written when nothing of it does.
fn real_as_far_as_exists(path: &Path) -> PathBuf {
    cordon_sandbox::resolve_as_far_as_exists(path).unwrap_or_else(|| path.to_path_buf())
}

/// Leaves the host's `/tmp` out of a hardened workspace run's `scopes`. Such a command writes no
/// file of the host's `/tmp` outside its `workspace`: it sees a `/tmp` of its own (the sandbox's
/// workspace tmp), or, where it cannot have one (a workspace under `/tmp`), Landlock lets it
/// write nothing there but its workspace and its TMPDIR, made for the run and removed after it.
/// Snapshotting the rest of the host's `/tmp` for it would copy other programs' files, and a
/// rollback would write into them.
///
/// But the command's `/tmp` may hold links it made (`ln -s $PWD /tmp/w`), through which a path
/// named under `/tmp` reaches the workspace (`rm -rf /tmp/w/src`; red-team round twelve destroyed
/// workspace files so, with no checkpoint at all). What a command can reach through its `/tmp` is
/// its scratch or what the kernel lets it write, the workspace: so a scope left out for lying in
/// `/tmp` is replaced by the workspace.
fn leave_out_the_hosts_tmp(scopes: &mut Vec<PathBuf>, workspace: &Path) {
    let host_tmp = real_as_far_as_exists(Path::new("/tmp"));
    let real_workspace = real_as_far_as_exists(workspace);
    let before = scopes.len();
    scopes.retain(|scope| {
        let scope = real_as_far_as_exists(scope);
        !scope.starts_with(&host_tmp) || scope.starts_with(&real_workspace)
    });
    if scopes.len() < before && !scopes.iter().any(|s| s == workspace) {
        scopes.push(workspace.to_path_buf());
    }
}

/// In a hardened run, leaves out a scope written inside the workspace that a link leads outside
/// every root the command may write: the kernel refuses the command there, and a checkpoint
/// would only copy, with the user's authority, a file the command could not even read
/// (red-team round twenty-two: `ln -s ~/Documents/private.txt p`, then `echo x > p`, put the
/// private file into the checkpoint store). The link itself is the workspace's, which the
/// checkpoint covers.
fn leave_out_what_links_lead_out_to(
    scopes: &mut Vec<PathBuf>,
    workspace: &Path,
    writable: &[PathBuf],
) {
    let real_workspace = real_as_far_as_exists(workspace);
    scopes.retain(|scope| {
        let real = real_as_far_as_exists(scope);
        let written_inside = scope.starts_with(workspace) || scope.starts_with(&real_workspace);
        !written_inside || writable.iter().any(|root| real.starts_with(root))
    });
}

/// Adds to the checkpoint's `scopes` (the request's write scope, each path reduced to its literal
/// prefix as the sandbox does, less those in a cache layer) the envelope's writable workspace,
/// in a hardened run, when
///
/// - the checkpoint is observed and covers something: it costs what the command changes, not
///   what the scope holds, so it covers everything in the workspace the kernel lets the command
///   change (a text that writes only into a cache layer still gets no checkpoint); or
/// - the front end could not name what the command writes: a write target computed at run time
///   (`for f in *.rs; do cp "$f" "$f.bak"; done`, `mkdir -p $OUT`), a script it cannot read
///   (`sh del.sh`, `BASH_ENV=f bash -c true`), which leave the write scope empty or the decision
///   bounded by the envelope (`ENVELOPE_BOUNDED`), and were blocked for having nothing to
///   restore before.
///
/// In local mode nothing is added: what the front end cannot resolve is asked there. Nor is a
/// workspace that holds the checkpoint store (cordon's home kept inside it): a checkpoint may
/// not cover its own store, so such a run keeps the scope the front end named.
/// `unnamed`: the request declared no write scope at all.
fn add_workspace(
    scopes: &mut Vec<PathBuf>,
    unnamed: bool,
    request: &RunRequest,
    taking: &Taking<'_>,
    store: &Path,
) {
    let holds_store = |workspace: &Path| {
        real_as_far_as_exists(store).starts_with(real_as_far_as_exists(workspace))
    };
    if let Some(workspace) = taking.writable_workspace.filter(|w| !holds_store(w)) {
        let bounded = request
            .decision
            .reason_codes
            .contains(&Reason::Cordon(CordonReason::EnvelopeBounded));
        let observed_and_covering = taking.observe && !scopes.is_empty();
        if (observed_and_covering || unnamed || bounded) && !scopes.iter().any(|s| s == workspace) {
            scopes.push(workspace.to_path_buf());
        }
    }
}

/// Programs that change a name's mode, owner, times or attributes in place: calls the write
/// broker does not mediate, so an observed checkpoint would not record them.
const METADATA_PROGRAMS: [&str; 7] = [
    "chmod", "chown", "chgrp", "touch", "setfacl", "chattr", "setfattr",
];

/// Whether a command of `request` runs one of [`METADATA_PROGRAMS`] (as the front end parses
/// it): its checkpoint is then a full snapshot taken before the run, which puts modes back.
/// A program the front end cannot see into (a script, a build) may change metadata unseen.
fn changes_metadata(request: &RunRequest) -> bool {
    request.contract.commands.iter().any(|command| {
        let state = shell::ShellState {
            cwd: command.cwd.clone(),
            home: cordon_core::user::home(),
        };
        command.argvs().any(|argv| {
            let script = match bash_text(argv) {
                Some(text) => shell::parse(text, &state),
                None => shell::from_argv(argv, &state),
            };
            script
                .commands
                .iter()
                .any(|sc| METADATA_PROGRAMS.contains(&sc.program()))
        })
    })
}

/// What a checkpoint is taken before: the request's commands, as their argvs read.
fn label_of(request: &RunRequest) -> String {
    request
        .contract
        .commands
        .iter()
        .flat_map(|c| c.argvs())
        .map(|argv| argv.join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Where a soft delete (cordon's own, outside the sandbox) may remove files.
#[derive(Debug, Clone, Copy)]
pub enum DeleteScope<'a> {
    /// Local mode: the command's declared write scope.
    Declared,
    /// Hardened mode: the envelope's writable roots but its caches, real paths resolved before
    /// the run, so a link the command itself plants (`ln -s ~ h && rm h/x`) cannot lead a delete
    /// outside them; never the paths the sandbox keeps read-only (`PROTECTED_NAMES`), nor what
    /// it keeps closed (the envelope's never paths and names). A cache is out because the
    /// command sees its own layer over it (`layers.rs`), not the cache that cordon, outside the
    /// sandbox, would move.
    Envelope(&'a Envelope),
}

impl DeleteScope<'_> {
    fn hardened(self) -> bool {
        matches!(self, DeleteScope::Envelope(_))
    }
}

/// Under a checkpoint, a plain `rm` moves its targets to the trash instead of deleting them.
/// Returns the command's report and its receipt entry, or `None` when this command is not a
/// plain `rm` (an option we do not model, a pipeline) and runs in the sandbox as usual.
pub fn soft_delete(
    snapshot: Option<&Snapshot>,
    command: &Command,
    within: DeleteScope<'_>,
    notices: &Notices,
) -> Option<(CommandReport, CommandEntry)> {
    let taken = snapshot?;
    let mut argvs = command.argvs();
    let argv = argvs.next()?;
    if argvs.next().is_some() {
        return None;
    }
    let name = Path::new(argv.first()?).file_name()?;
    if name != "rm" {
        return None;
    }
    let os_argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
    // An option the trash cannot honour runs in the sandbox, where the soft-delete service
    // answers it with the same refusal. So does an empty operand, which `cwd.join("")` would
    // turn into the directory itself (the contract schema refuses one anyway).
    let rm = parse_rm(&os_argv)
        .ok()
        .filter(|rm| !rm.operands.is_empty() && rm.operands.iter().all(|o| !o.is_empty()))?;
    // Hardened, what the command could not remove is what its sandbox mounts over (a stand-in,
    // a read-only protected name, a host's socket), and its `/tmp` is its own: the rm runs
    // there, and the soft-delete service reads those mounts from the calling process (red-team
    // round twenty-two had a plain `rm` move a host's socket from the workspace).
    if within.hardened() {
        return None;
    }
    let started_at = SystemTime::now();
    let start = Instant::now();
    let operands: Vec<&OsString> = rm.operands.iter().collect();
    let outcome = taken
        .scope(command, within)
        .map_err(cordon_checkpoint::Error::Scope)
        .and_then(|scope| {
            let cwd = Path::new(&command.cwd);
            let request = scope.request(&rm, &operands, argv.to_vec(), cwd, Vec::new());
            scope.soft_delete(&request)
        });
    let (status, exit_code, error, mut stderr, trash) = match outcome {
        Ok(o) => {
            let code = if o.errors.is_empty() { 0 } else { 1 };
            let mut text = o.errors.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            let status = if code == 0 {
                CommandStatus::Success
            } else {
                CommandStatus::Failed
            };
            let item = o.manifest.map(|m| {
                notices(Notice::Trashed {
                    moved: m.items.len(),
                    trash_id: m.id.clone(),
                });
                json!({"id": m.id, "items": m.items})
            });
            (status, code, None, text, item)
        }
        // Refused (outside the scope) or failed: blocked, nothing more runs.
        Err(e) => (
            CommandStatus::Blocked,
            i32::from(crate::status::BLOCKED),
            Some(format!("soft delete: {e}")),
            String::new(),
            None,
        ),
    };
    if !stderr.is_empty() {
        notices(Notice::RmSays(stderr.clone()));
    }
    let stderr_report = stream(std::mem::take(&mut stderr).into_bytes());
    let report = CommandReport {
        id: command.id.clone(),
        status,
        exit_code,
        segments: Vec::new(),
        stdout: stream(Vec::new()),
        stderr: stderr_report,
        started_at,
        ended_at: SystemTime::now(),
        duration: start.elapsed(),
        error,
        processes: None,
    };
    let mut entry = CommandEntry::of(&report, None);
    entry.soft_delete = Some(json!({"argv": argv, "trash": trash}));
    Some((report, entry))
}

fn stream(bytes: Vec<u8>) -> StreamReport {
    StreamReport {
        sha256: cordon_core::hash::sha256_hex(&bytes),
        captured_bytes: bytes.len() as u64,
        total_bytes: bytes.len() as u64,
        truncated: false,
        captured: bytes,
    }
}

/// Under a checkpoint, a command that runs in the sandbox (a compound text, a pipeline, an `rm`
/// with an option the fast path leaves alone) gets a soft-delete service for its duration: its
/// `rm`, wherever the shell reaches it, moves to the trash instead of deleting
/// (crate::trash_service). `Ok(None)` without a checkpoint; `Err` (one sentence) when the
/// command holds an `rm` that cannot be routed to the trash, or the service cannot start, so
/// the command must not run.
pub fn serve_soft_deletes(
    snapshot: Option<&Snapshot>,
    command: &Command,
    within: DeleteScope<'_>,
    plan: &mut Plan,
    confinement: &mut Confinement,
) -> Result<Option<Service>, String> {
    let Some(taken) = snapshot else {
        return Ok(None);
    };
    let hardened = within.hardened();
    // `~` as the decision resolved it (cordon_core::user).
    let state = shell::ShellState {
        cwd: command.cwd.clone(),
        home: cordon_core::user::home(),
    };
    // Hardened: the rm programs the sandbox will replace with the shim, whatever runs them.
    let substituted = if hardened {
        let path = plan
            .commands
            .iter()
            .flat_map(|c| c.env.iter())
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.clone());
        rm_programs(path.as_deref())
    } else {
        Vec::new()
    };
    // Per segment: the rm paths written as absolute paths that the segment's own bash runs.
    let mut functions: Vec<Vec<String>> = Vec::new();
    for argv in command.argvs() {
        let shell_text = bash_text(argv);
        let script = match shell_text {
            Some(text) => shell::parse(text, &state),
            None => shell::from_argv(argv, &state),
        };
        functions.push(absolute_rms(&script, shell_text.is_some(), &substituted)?);
    }
    let mut service =
        Service::start(&taken.runs_dir, taken.scope(command, within)?).map_err(|why| {
            format!("the soft delete this checkpoint needs cannot be set up, so nothing ran: {why}")
        })?;
    let shim = service.shim();
    for planned in &mut plan.commands {
        service.configure_env(&mut planned.env);
        for (argv, paths) in planned.pipeline.iter_mut().zip(&functions) {
            if paths.is_empty() {
                continue;
            }
            // `bash -c TEXT`: define a function per absolute rm path, on the text's first line so
            // that bash's line numbers stay those of the text.
            let mut text = OsString::new();
            for path in paths {
                text.push(format!(
                    "function {path} {{ '{}' \"$@\"; }}; ",
                    shim.display()
                ));
            }
            if let Some(original) = argv.get(2) {
                text.push(original);
                argv[2] = text;
            }
        }
    }
    if hardened {
        confinement.read_paths.extend(service.grants());
        for program in &substituted {
            confinement.substitutes.push(Substitute {
                program: program.clone(),
                with: service.exe().to_path_buf(),
            });
        }
        service.set_substitutes(substituted);
    }
    Ok(Some(service))
}

/// The `rm` programs a hardened command could reach by any name: every `rm` on its `PATH` and
/// the usual absolute paths, symlinks resolved. The sandbox mounts the shim over each, so a script
/// or a Makefile that runs `/bin/rm` reaches the trash too. A file whose real name is not `rm`
/// (a multi-call binary such as busybox) is left alone: replacing it would replace every program
/// it provides, and the process record still flags an `rm` it runs.
fn rm_programs(path: Option<&std::ffi::OsStr>) -> Vec<PathBuf> {
    let on_path = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("rm"));
    let mut programs: Vec<PathBuf> = Vec::new();
    for candidate in on_path.chain(["/bin/rm", "/usr/bin/rm"].map(PathBuf::from)) {
        let Ok(real) = std::fs::canonicalize(&candidate) else {
            continue;
        };
        if real.file_name().is_some_and(|n| n == "rm")
            && real.is_file()
            && !programs.contains(&real)
        {
            programs.push(real);
        }
    }
    programs
}

impl Snapshot {
    /// What a soft delete of `command` may move, and where to: its declared write scope, less
    /// (in hardened mode) the paths the sandbox mounts read-only, into this checkpoint's trash.
    fn scope(
        &self,
        command: &Command,
        within: DeleteScope<'_>,
    ) -> Result<trash_service::Scope, String> {
        let (allowed_roots, closed) = match within {
            DeleteScope::Declared => (
                command
                    .write_paths
                    .iter()
                    .map(|p| literal_prefix(p))
                    .collect(),
                Closed::default(),
            ),
            DeleteScope::Envelope(envelope) => (
                envelope
                    .write
                    .iter()
                    .filter(|root| !envelope.caches.contains(root))
                    .cloned()
                    .collect(),
                closed_by(envelope)?,
            ),
        };
        Ok(trash_service::Scope {
            trash_dir: self.trash_dir.clone(),
            session: self.session.clone(),
            signer: Arc::clone(&self.signer),
            recording: self.recording.clone(),
            allowed_roots,
            protected: if within.hardened() {
                PROTECTED_NAMES.iter().map(PathBuf::from).collect()
            } else {
                Vec::new()
            },
            closed,
            read_only: match within {
                DeleteScope::Envelope(envelope) => envelope.read_only.clone(),
                DeleteScope::Declared => Vec::new(),
            },
            hardened: within.hardened(),
        })
    }
}

/// What `envelope`'s sandbox keeps closed inside its writable roots, for the trash to refuse.
fn closed_by(envelope: &Envelope) -> Result<Closed, String> {
    let names = envelope
        .never_name_matcher()
        .map_err(|e| format!("the envelope's closed file names cannot be matched: {e}"))?;
    Ok(Closed {
        paths: envelope.never.clone(),
        names,
        unsearched: SEARCH_SKIPPED
            .iter()
            .chain(&[".git"])
            .map(OsString::from)
            .collect(),
        unsearched_venv: Some(cordon_sandbox::is_python_venv),
        open_names: cordon_sandbox::PUBLIC_CERTIFICATE_BUNDLES
            .iter()
            .map(OsString::from)
            .collect(),
    })
}

/// `TEXT` when `argv` is `bash -c TEXT` (the launch of a compound text).
fn bash_text(argv: &[String]) -> Option<&str> {
    match argv {
        [bash, c, text, ..]
            if Path::new(bash).file_name().is_some_and(|n| n == "bash") && c == "-c" =>
        {
            Some(text)
        }
        _ => None,
    }
}

/// The absolute paths through which `script` runs `rm` directly from its own bash (each becomes
/// a function that calls the shim). `Err` for an `rm` the trash cannot reach: an absolute path
/// run by another program (`find -exec /bin/rm`, `xargs /bin/rm`, a nested `bash -c`, `command
/// /bin/rm`, an argv with no shell), or an `rm` given its own `PATH`. An absolute path to one of
/// the `substituted` programs needs neither: the sandbox mounts the shim over it.
fn absolute_rms(
    script: &shell::Script,
    run_by_bash: bool,
    substituted: &[PathBuf],
) -> Result<Vec<String>, String> {
    let mut paths: Vec<String> = Vec::new();
    for sc in script.commands.iter().filter(|c| c.program() == "rm") {
        let refuse = |why: &str| {
            format!(
                "`{}` {why}, so under this checkpoint it would delete instead of moving to the trash; nothing ran (write a plain `rm`: cordon puts its soft-delete rm first in PATH)",
                sc.argv.join(" ")
            )
        };
        if sc.assignments.iter().any(|a| a.starts_with("PATH=")) {
            return Err(refuse("runs with its own PATH"));
        }
        let Some(path) = sc.program_path.as_deref().filter(|p| p.starts_with('/')) else {
            continue;
        };
        if std::fs::canonicalize(path).is_ok_and(|real| substituted.contains(&real)) {
            continue;
        }
        let nameable = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
        if !run_by_bash || !sc.wrappers.is_empty() {
            let by = sc
                .wrappers
                .last()
                .map(|w| format!("is run by `{w}` as `{path}`"))
                .unwrap_or_else(|| format!("runs `{path}` directly"));
            return Err(refuse(&by));
        }
        if !nameable {
            return Err(refuse(&format!(
                "runs `{path}`, a path cordon cannot intercept"
            )));
        }
        if !paths.iter().any(|p| p == path) {
            paths.push(path.to_string());
        }
    }
    Ok(paths)
}

/// Stops the service and describes its calls for the command's receipt entry. Also flags any
/// `rm` the process record saw that was not the shim: it really deleted (the checkpoint still
/// holds what it removed).
pub fn finish_soft_deletes(service: Service, result: &CommandReport, notices: &Notices) -> Value {
    let shim = service.shim();
    // Programs the sandbox replaced with the shim (the run fails before the command starts if
    // the mount cannot be made): running them was a soft delete, not an escape.
    let substituted = service.substitutes().to_vec();
    let canonical = |path: &str| std::fs::canonicalize(path).unwrap_or_else(|_| path.into());
    let calls = service.finish();
    for call in &calls {
        if let Some(id) = &call.trash {
            notices(Notice::Trashed {
                moved: call.moved.len(),
                trash_id: id.clone(),
            });
        }
    }
    let escaped: Vec<Value> = result
        .processes
        .iter()
        .flat_map(|tree| tree.processes.iter())
        .filter(|p| p.path_found && Path::new(&p.path).file_name().is_some_and(|n| n == "rm"))
        .filter(|p| Path::new(&p.path) != shim && !substituted.contains(&canonical(&p.path)))
        .map(|p| json!({"pid": p.pid, "path": p.path, "argv": p.argv}))
        .collect();
    if let Some(first) = escaped.first() {
        notices(Notice::RmEscaped {
            count: escaped.len(),
            first: first["path"].to_string(),
        });
    }
    // Whether `escaped` could see anything: only when every exec was recorded.
    let escapes_checked = result.processes.as_ref().is_some_and(|t| t.complete);
    json!({
        "mechanism": "rm-shim",
        "calls": calls,
        "substituted": substituted,
        "escaped": escaped,
        "escapes_checked": escapes_checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str) -> shell::Script {
        shell::parse(
            text,
            &shell::ShellState {
                cwd: "/w".into(),
                home: "/home/u".into(),
            },
        )
    }

    #[test]
    fn absolute_rms_run_by_the_texts_bash_become_functions() {
        assert_eq!(
            absolute_rms(
                &script("make && /bin/rm -rf out; (/usr/bin/rm x) && /bin/rm y"),
                true,
                &[]
            ),
            Ok(vec!["/bin/rm".to_string(), "/usr/bin/rm".to_string()])
        );
        // `rm` through PATH needs no function.
        assert_eq!(
            absolute_rms(&script("rm a; \\rm b; command rm c; env rm d"), true, &[]),
            Ok(Vec::new())
        );
    }

    #[test]
    fn absolute_rms_another_program_runs_are_refused() {
        for text in [
            "bash -c '/bin/rm x'",
            "command /bin/rm x",
            "env /bin/rm x",
            "sudo /bin/rm x",
        ] {
            let err = absolute_rms(&script(text), true, &[]).unwrap_err();
            assert!(err.contains("would delete instead"), "{text}: {err}");
        }
        // An argv with no shell: nothing defines the function.
        let argv = ["/bin/rm".to_string(), "-i".to_string(), "x".to_string()];
        let parsed = shell::from_argv(
            &argv,
            &shell::ShellState {
                cwd: "/w".into(),
                home: "/h".into(),
            },
        );
        assert!(absolute_rms(&parsed, false, &[]).is_err());
        assert!(absolute_rms(&script("PATH=/usr/bin rm x"), true, &[]).is_err());
    }

    #[test]
    fn only_bash_dash_c_is_a_shell_launch() {
        let argv = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(bash_text(&argv(&["bash", "-c", "rm x"])), Some("rm x"));
        assert_eq!(bash_text(&argv(&["/bin/bash", "-c", "rm x"])), Some("rm x"));
        assert_eq!(bash_text(&argv(&["sh", "-c", "rm x"])), None);
        assert_eq!(bash_text(&argv(&["rm", "-c", "x"])), None);
    }
}
