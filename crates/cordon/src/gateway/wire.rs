//! The gateway's messages: one JSON object per line each way (see the module docs of
//! [`crate::gateway`]).

use std::path::PathBuf;

use cordon_core::{Contract, ReasonCode};
use cordon_governor::{PolicyRef, SecretsJudged};
use cordon_policy::egress::EgressJudgement;
use cordon_policy::facts::Facts;
use cordon_policy::native::Decision;
use serde::{Deserialize, Serialize};

use crate::agents::{Settings, ToolOutcome, ToolRequest, Verdict};

/// Longest request line the gateway reads (a hook input is capped at 4 MiB; its request is
/// smaller, since file contents are not forwarded).
pub const MAX_LINE_BYTES: u64 = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GatewayRequest {
    Decide {
        request: ToolRequest,
        settings: Settings,
    },
    Outcome(ToolOutcome),
    Analyse(ExecAnalysisRequest),
}

/// What `cordon exec` asks: its request with paths made absolute. No policy and no home: the
/// gateway judges under the policy of the session named here, else its home's, with `~` its
/// own user's home.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecAnalysisRequest {
    pub shell: Option<String>,
    pub argv: Vec<String>,
    /// The cordon session the run belongs to (`exec --session`), whose policy applies.
    pub session: Option<String>,
    pub cwd: PathBuf,
    pub workspace: Option<PathBuf>,
    /// Judged for a hardened run (`AnalysisRequest::hardened`).
    #[serde(default)]
    pub hardened: bool,
}

/// The gateway's analysis: the facts it judged (for the client to check) and the decision.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecAnalysis {
    pub facts: Facts,
    /// The engine's decision (the client plans the launch from its per-command judgements).
    pub decision: Decision,
    pub csc_reason_code: Option<ReasonCode>,
    /// The hosts the rules grant and the network the text gets in hardened mode.
    pub egress: EgressJudgement,
    pub contract: Option<Contract>,
    pub policy: PolicyRef,
    /// The secrets the policy grants the text as it runs (names and rules, never values).
    #[serde(default)]
    pub secrets: SecretsJudged,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayReply {
    Verdict(Box<Verdict>),
    Recorded(bool),
    Analysis(Box<ExecAnalysis>),
    Error(String),
}
