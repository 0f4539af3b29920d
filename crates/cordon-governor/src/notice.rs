//! What the pipeline tells the person at the terminal while it works.
//!
//! The governor prints nothing: it hands each notice to the caller's [`Notices`] sink, in the
//! order it happens (an approval request before the wait, a snapshot before the command), and the
//! binary writes it on stderr. Tests collect them.
//!
//! What the agent wrote (command lines, the reasons that quote them) reaches the terminal through
//! `cordon_core::display::visible`: a bidi override or a newline inside an argument shows as an
//! escape, and cannot draw a line cordon did not write.

use std::sync::Arc;

/// Something a person should read now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Nothing (more) runs: one sentence why.
    Blocked(String),
    /// A refusal whose decision could not be recorded: its own answer stands.
    Unrecorded(String),
    /// An approval was given, by these approvers.
    Approved(Vec<String>),
    /// An approval request was filed and is waited on.
    ApprovalNeeded {
        request_id: String,
        commands: String,
        timeout_secs: u64,
    },
    /// The approval webhook is not used, or its notice was not delivered.
    Webhook(String),
    /// The write scope was snapshotted before the run: every scope root as resolved (a link and
    /// what it leads to), which is what a rollback will touch.
    SnapshotTaken {
        id: String,
        entries: u64,
        scopes: Vec<String>,
    },
    /// Scopes of the snapshot lie outside the workspace (a link led there): rolling them back
    /// will need the person's explicit consent.
    SnapshotOutsideWorkspace {
        id: String,
        outside: Vec<String>,
        workspace: Option<String>,
    },
    /// Scopes lie in caches the run writes through its workspace's layers: left out of the
    /// checkpoint, since the caches themselves are not changed.
    ScopesInCacheLayers { scopes: Vec<String> },
    /// An observed checkpoint began (hardened mode, write broker): what the commands change in
    /// these scopes (as resolved) is recorded before it changes.
    CheckpointObserving { id: String, scopes: Vec<String> },
    /// The observed checkpoint was written and signed after the run.
    CheckpointRecorded { id: String, entries: u64 },
    /// The observed checkpoint could not be written: it cannot be rolled back.
    CheckpointIncomplete { id: String, why: String },
    /// What the sandbox changed, or could not check, after the command so that git runs nothing
    /// it chose: a repository's config or hooks moved aside, a worktree's `commondir` put back.
    RepairedAfterRun(String),
    /// What the sandbox could not protect for this run: its search for repositories and files
    /// named like credentials stopped short.
    ProtectionIncomplete(String),
    /// A protected repository's config that a command rewrote, refused because the new text
    /// sets a key that runs a program (the write broker's check).
    ConfigRewriteRefused(String),
    /// Changes to protected names the write broker refused (EROFS): how many, and the first, so
    /// that a tool's "Read-only file system" is explained (a `git switch` over a tracked
    /// `.vscode/settings.json` leaves the old file, which git then shows as changed).
    ProtectedWritesRefused { count: u64, first: String },
    /// A command named paths outside the envelope, which the kernel refused it
    /// (the front end judged them readable; hardened mode reaches only the envelope).
    BeyondTheEnvelope(Vec<String>),
    /// Credentials git tracks with other contents than the files now hold, which the sandbox
    /// seals (nothing may open them), named in a failed command's errors.
    SealedCredentials(Vec<String>),
    /// Processes the command left running in the background were stopped when it ended.
    BackgroundStopped(u64),
    /// A soft delete moved paths to the trash.
    Trashed { moved: usize, trash_id: String },
    /// What a soft-deleted `rm` says on stderr, as `rm` itself would.
    RmSays(String),
    /// `rm` processes ran outside the trash under a snapshot.
    RmEscaped { count: usize, first: String },
    /// A command did not complete for a reason of the runner's (not its own exit).
    DidNotComplete { command: String, why: String },
}

impl Notice {
    /// The line a person reads (without a trailing newline; [`Notice::RmSays`] is verbatim).
    pub fn line(&self) -> String {
        use cordon_core::display::visible;
        match self {
            Notice::Blocked(why) => format!("cordon: blocked: {}", visible(why)),
            Notice::Unrecorded(why) => {
                format!("cordon: this decision is not recorded: {}", visible(why))
            }
            Notice::Approved(names) => format!("cordon: approved by {}", names.join(" and ")),
            Notice::ApprovalNeeded {
                request_id: id,
                commands,
                timeout_secs,
            } => format!(
                "cordon: approval needed ({id}): {}\ncordon: answer with `cordon approve {id}` or `cordon deny {id}` (or `cordon serve`) within {timeout_secs} s; no answer means deny",
                visible(commands)
            ),
            Notice::Webhook(why) => format!("cordon: {why}"),
            Notice::SnapshotTaken {
                id,
                entries,
                scopes,
            } => format!(
                "cordon: checkpoint {id} taken ({entries} entries) of {}; undo with `cordon rollback {id}`",
                scopes.join(", ")
            ),
            Notice::SnapshotOutsideWorkspace {
                id,
                outside,
                workspace,
            } => format!(
                "cordon: warning: checkpoint {id} covers {}, outside the workspace {}; `cordon rollback {id}` will touch it only with --yes",
                outside.join(", "),
                workspace.as_deref().unwrap_or("(none was named)")
            ),
            Notice::RepairedAfterRun(note)
            | Notice::ProtectionIncomplete(note)
            | Notice::ConfigRewriteRefused(note) => {
                format!("cordon: warning: {}", visible(note))
            }
            Notice::ProtectedWritesRefused { count, first } => format!(
                "cordon: warning: {count} change{} to agent, editor or git settings {} refused (first: {}): cordon keeps them read-only in the sandbox, so a tool that changed them failed there or left the old file (`git status` shows where git's view and the file differ); a person can change them outside cordon",
                if *count == 1 { "" } else { "s" },
                if *count == 1 { "was" } else { "were" },
                visible(first)
            ),
            Notice::BeyondTheEnvelope(paths) => format!(
                "cordon: note: {} {} outside what a hardened command may reach (the workspace, the system, toolchains and caches), so the kernel refused the command there; a person can copy what it needs into the workspace, or run the command outside cordon",
                paths.iter().map(|p| visible(p)).collect::<Vec<_>>().join(", "),
                if paths.len() == 1 { "lies" } else { "lie" }
            ),
            Notice::SealedCredentials(paths) => format!(
                "cordon: note: {} {} a credential git tracks with other contents than the file now holds, so the sandbox keeps {} closed: git cannot read, hash or stash {} here; run that git command outside cordon",
                paths.iter().map(|p| visible(p)).collect::<Vec<_>>().join(", "),
                if paths.len() == 1 { "is" } else { "are each" },
                if paths.len() == 1 { "it" } else { "them" },
                if paths.len() == 1 { "it" } else { "them" },
            ),
            Notice::BackgroundStopped(count) => format!(
                "cordon: note: {count} process{} the command left running in the background {} stopped when it ended: a command's processes do not outlive it, so start a server and what calls it in one command",
                if *count == 1 { "" } else { "es" },
                if *count == 1 { "was" } else { "were" },
            ),
            Notice::ScopesInCacheLayers { scopes } => format!(
                "cordon: {} {} in a cache: what the command writes there goes to this workspace's cache layer (in cordon's home), not to the cache, and is not checkpointed",
                scopes.join(", "),
                if scopes.len() == 1 { "lies" } else { "lie" }
            ),
            Notice::CheckpointObserving { id, scopes } => format!(
                "cordon: checkpoint {id} records what the command changes in {} before it changes; undo with `cordon rollback {id}`",
                scopes.join(", ")
            ),
            Notice::CheckpointRecorded { id, entries } => {
                format!("cordon: checkpoint {id} recorded ({entries} entries)")
            }
            Notice::CheckpointIncomplete { id, why } => format!(
                "cordon: warning: checkpoint {id} could not be completed, so it cannot be rolled back: {}",
                visible(why)
            ),
            Notice::Trashed { moved, trash_id } => format!(
                "cordon: moved {moved} path(s) to the trash as {trash_id}; restore with `cordon trash restore {trash_id}`"
            ),
            Notice::RmSays(text) => text.trim_end_matches('\n').to_string(),
            Notice::RmEscaped { count, first } => format!(
                "cordon: warning: {count} rm process(es) ran outside the trash (first: {first}); what they removed is only in the checkpoint"
            ),
            Notice::DidNotComplete { command, why } => format!(
                "cordon: command {} did not complete: {}",
                visible(command),
                visible(why)
            ),
        }
    }
}

/// Where notices go; shared with the approval webhook's delivery thread.
pub type Notices = Arc<dyn Fn(Notice) + Send + Sync>;

/// A sink that drops every notice.
pub fn discard() -> Notices {
    Arc::new(|_| {})
}
