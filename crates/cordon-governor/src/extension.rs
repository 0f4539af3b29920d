//! The receipt's and the decision record's `x-cordon` extension, built here and nowhere else.
//!
//! A decision record's `details` carry the front end's record, the snapshot request, the
//! approval and, for a hardened run with a host list, the list in force (`egress`); a receipt's
//! `x-cordon` carries the same and, once commands ran, what the sandbox enforced for each
//! (`sandbox.commands`, whose `enforcement.network.egress` lists every connection) and the
//! snapshot that was taken (`checkpoint.id`, `checkpoint.taken`). Both carry the secrets granted
//! (`secrets.grants`: names and rules, never values), and a receipt how its output and records
//! were redacted (`secrets.redaction`). docs/journal.md and docs/sandbox.md describe the fields.

use cordon_checkpoint::Summary;
use cordon_sandbox::{CommandReport, CommandStatus, ProcessTree, SegmentReport, StreamReport};
use serde::Serialize;
use serde_json::Value;

use crate::confinement::ResolverOverrides;
use crate::mode::{Mode, ModeNote};
use crate::request::{FrontEnd, RunRequest};
use crate::secrets::SecretsNote;

/// The `x-cordon` object. Members that do not apply are absent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CordonExtension {
    /// The mode the run was governed in, and whether it was named or the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ModeNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub front_end: Option<FrontEnd>,
    /// The snapshot (`allow_with_checkpoint`): requested, and once taken, which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<SnapshotNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalEvidence>,
    /// The host list a hardened run holds its `network: allowlisted` commands to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<EgressNote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxNote>,
    /// The secrets granted (names and rules); a receipt adds which were injected and how
    /// output and records were redacted (`crate::secrets::RunSecrets::seal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<SecretsNote>,
}

/// `x-cordon.egress`: the host list in force, decided before anything runs. What each connection
/// met is in the command's `enforcement.network.egress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgressNote {
    /// The list as a policy writes it (`name:port`); empty refuses every connection.
    pub allowlist: Vec<String>,
    /// The commands held to it (those that declare `network: allowlisted`).
    pub commands: Vec<String>,
    /// The operator's resolver overrides (`name=address`), which count as listed addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolver_overrides: Vec<String>,
}

impl EgressNote {
    /// The list `request` holds its commands to in `mode`; `None` when none is in force (local
    /// mode enforces none).
    pub fn of(
        request: &RunRequest,
        mode: Mode,
        resolver_overrides: &ResolverOverrides,
    ) -> Option<EgressNote> {
        let list = request.allowlist_in_force(mode)?;
        let commands: Vec<String> = request
            .contract
            .commands
            .iter()
            .filter(|c| c.network == cordon_core::contract::NetworkMode::Allowlisted)
            .map(|c| c.id.clone())
            .collect();
        if commands.is_empty() {
            return None;
        }
        Some(EgressNote {
            allowlist: list.to_strings(),
            commands,
            resolver_overrides: resolver_overrides
                .iter()
                .flat_map(|(name, addresses)| addresses.iter().map(move |a| format!("{name}={a}")))
                .collect(),
        })
    }
}

/// `x-cordon.checkpoint`.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotNote {
    pub requested: bool,
    pub write_scope: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<Summary>,
}

/// `x-cordon.approval`: how the approval step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ApprovalEvidence {
    /// Nobody could be asked (no wait configured): the decision's own answer stands.
    Unanswered,
    Refused {
        reason: String,
    },
    Approved {
        source: &'static str,
        request_id: Option<String>,
        approvals: Vec<ApprovalUsed>,
    },
}

/// One approval an execution used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalUsed {
    pub approval_id: String,
    pub approver: String,
    pub scope: String,
    pub expires_at: String,
}

/// `x-cordon.sandbox`: one entry per command that was attempted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SandboxNote {
    pub commands: Vec<CommandEntry>,
}

/// What happened to one command.
#[derive(Debug, Clone, Serialize)]
pub struct CommandEntry {
    pub id: String,
    pub status: CommandStatus,
    pub exit_code: i32,
    pub duration_ms: f64,
    /// Present when the sandbox ran the command (absent for a soft delete done by cordon).
    #[serde(flatten)]
    pub supervised: Option<Supervised>,
    pub stdout: StreamReport,
    pub stderr: StreamReport,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub soft_delete: Option<Value>,
}

/// What the supervisor observed and the kernel enforced for a command it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Supervised {
    pub segments: Vec<SegmentReport>,
    pub processes: Option<ProcessTree>,
    pub enforcement: Value,
}

impl CommandEntry {
    /// The entry for a command report; `supervised` when the sandbox ran it.
    pub fn of(report: &CommandReport, enforcement: Option<Value>) -> CommandEntry {
        CommandEntry {
            id: report.id.clone(),
            status: report.status,
            exit_code: report.exit_code,
            duration_ms: report.duration.as_secs_f64() * 1000.0,
            supervised: enforcement.map(|enforcement| Supervised {
                segments: report.segments.clone(),
                processes: report.processes.clone(),
                enforcement,
            }),
            stdout: report.stdout.clone(),
            stderr: report.stderr.clone(),
            error: report.error.clone(),
            soft_delete: None,
        }
    }
}

impl CordonExtension {
    /// What every record and receipt of `request` carries: the front end and the snapshot request.
    pub fn of(request: &RunRequest) -> CordonExtension {
        CordonExtension {
            mode: None,
            front_end: request.front_end.clone(),
            checkpoint: request.snapshot_requested().then(|| SnapshotNote {
                requested: true,
                write_scope: request.write_scope(),
                id: None,
                taken: None,
            }),
            approval: None,
            egress: None,
            sandbox: None,
            secrets: SecretsNote::decided(&request.secrets),
        }
    }

    /// As JSON; `None` when there is nothing to say.
    pub fn to_value(&self) -> Option<Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) if !map.is_empty() => Some(Value::Object(map)),
            _ => None,
        }
    }
}
