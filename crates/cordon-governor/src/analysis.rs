//! The decide step for what an agent writes: shell text or an argv becomes a parse, facts, a
//! synthesized CSC contract and a decision under the policy in force. `cordon exec`, `cordon
//! explain`, the hooks, MCP and the gateway all judge through [`analyse`], so they cannot disagree.
//!
//! Pure but for its seam: where policies come from ([`PolicySource`]); tests hand it one. The
//! text is judged as written in both modes; what the kernel cannot be asked about here (whether
//! hardened mode can confine at all) is the [`Probe`]'s, which the hooks and MCP ask.

use std::path::PathBuf;
use std::sync::Arc;

use cordon_core::{Contract, Outcome, ReasonCode};
use cordon_policy::egress::{self, EgressJudgement};
use cordon_policy::enforcement::Enforcement;
use cordon_policy::envelope::PolicyGlobs;
use cordon_policy::facts::{self, Facts};
use cordon_policy::file_tools::{self, ToolAccess};
use cordon_policy::grants::{CommandGrants, SecretGrant};
use cordon_policy::knowledge::Knowledge;
use cordon_policy::native::{self, CompiledPolicy, Context, CordonReason};
use cordon_policy::shell::{self, ShellState};
use cordon_policy::synth::{self, Requester};
use cordon_policy::toolchains::Toolchains;
use serde::{Deserialize, Serialize};

use crate::decision::{Decision, PolicyRef};
use crate::error::{Error, Result};
use crate::mode::Mode;
use crate::policies::{PolicyChoice, PolicyInForce, PolicySource};
use crate::secrets;

/// What the agent wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Shell text, parsed with a bash grammar.
    Shell(String),
    /// A program and its arguments, run without a shell.
    Argv(Vec<String>),
    /// One call of the agent's own file tool (`Read`, `Write`, `Grep`, `WebFetch`, …), judged by
    /// the same policy as shell text ([`file_tools`]). Nothing of it runs under cordon.
    FileTool(FileToolCall),
}

/// What an agent's file tool names, and where that really leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToolCall {
    /// The tool's name as the agent calls it (recorded as the program).
    pub tool: String,
    pub access: ToolAccess,
    /// The path (relative to the cwd) or the URL, as the agent wrote it.
    pub target: String,
    /// The real path the target reaches, resolved by the caller (symlinks, `..`, `/proc` links);
    /// for a file that does not exist yet, its nearest existing parent's real path and the rest.
    /// `None` for a URL.
    pub resolved: Option<String>,
}

/// What to judge, where, and under which policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisRequest {
    pub written: Written,
    /// The absolute, normalized directory the text runs in.
    pub cwd: String,
    /// What `~` means (`cordon_core::user::home`, or an `exec` client's own for the gateway).
    pub home: String,
    /// What `{workspace}` means in the policy (default: the cwd).
    pub workspace: Option<PathBuf>,
    pub policy: PolicyChoice,
    /// Judged for a hardened run: the kernel will confine what runs to the policy's envelope
    /// ([`crate::envelope`]), so the decision may assume it (`cordon explain` says which mode a
    /// decision assumed). Paths are judged as written here; a path that reaches beyond the
    /// envelope is judged again on its real path when the run is confined. A host list the rules
    /// grant is enforced, so it answers the rules that ask only about the network
    /// (`egress::decide_hardened`).
    pub hardened: bool,
}

/// The kernel facts a judgement needs, so that it can be made without them.
pub trait Probe {
    /// Why this kernel cannot confine a hardened run, if it cannot.
    fn hardened_unavailable(&self) -> Option<String>;

    /// Why this kernel cannot run the sandbox's write broker, if it cannot: a hardened run's
    /// checkpoint is then a full snapshot taken before it, not an observed one.
    fn write_broker_unavailable(&self) -> Option<String>;
}

/// This machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemProbe;

impl Probe for SystemProbe {
    fn hardened_unavailable(&self) -> Option<String> {
        crate::confinement::hardened_unavailable()
    }

    fn write_broker_unavailable(&self) -> Option<String> {
        cordon_sandbox::write_broker_unavailable()
    }
}

/// Everything cordon worked out about one request.
#[derive(Debug, Serialize)]
pub struct Analysis {
    pub text: String,
    pub cwd: String,
    pub facts: Facts,
    /// The engine's decision, with its judgement of every command (`explain` shows them).
    #[serde(rename = "decision")]
    pub native: native::Decision,
    /// The CSC code when the policy is a CSC profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csc_reason_code: Option<ReasonCode>,
    /// The hosts each command's rules grant, and the network the text gets in hardened mode.
    pub egress: EgressJudgement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract: Option<Contract>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_error: Option<String>,
    /// The parse, for `exec` to decide how the text is started (`cordon_policy::launch`).
    #[serde(skip)]
    pub script: shell::Script,
    /// The policy the decision was made under, as receipts name it.
    #[serde(skip)]
    pub policy: PolicyRef,
    /// The policy itself, when it was loaded in this process (not when a gateway decided): a
    /// hardened run builds its envelope from it.
    #[serde(skip)]
    pub policy_in_force: Option<Arc<PolicyInForce>>,
    /// Whether the decision assumed a hardened run (`AnalysisRequest::hardened`).
    pub mode: Mode,
    /// The secrets the text would receive when it runs (`cordon exec` runs it as one command).
    #[serde(skip_serializing_if = "SecretsJudged::is_nothing")]
    pub secrets: SecretsJudged,
}

/// What the policy grants the text that runs: names and rules, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsJudged {
    /// The grants of the one command `cordon exec` runs ([`secrets::for_launch`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<SecretGrant>,
    /// Why the grants cannot be given as written: the decision is then a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The policy turned redaction off (`redact_secrets: false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unredacted: bool,
}

impl SecretsJudged {
    /// No grant, nothing refused, redaction as always.
    pub fn is_nothing(&self) -> bool {
        *self == SecretsJudged::default()
    }

    /// The native engine's grants for `decision` under `policy`, as the text will run.
    fn of_native(
        decision: &native::Decision,
        policy: &CompiledPolicy,
        redact: bool,
    ) -> SecretsJudged {
        let parts: Vec<String> = decision
            .commands
            .iter()
            .map(|c| c.facts.display())
            .collect();
        let grants = cordon_policy::grants::native_grants(decision, policy)
            .map_err(|e| e.to_string())
            .and_then(|judged| secrets::for_launch(&judged, &parts));
        let (grants, refused) = match grants {
            Ok(grants) => (grants, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        SecretsJudged {
            grants,
            refused,
            unredacted: !redact,
        }
    }

    /// The grants of the contract `cordon exec` runs, whose one command is `c1`.
    pub fn for_run(&self) -> secrets::SecretGrants {
        let commands = if self.grants.is_empty() {
            Vec::new()
        } else {
            vec![CommandGrants {
                command_id: "c1".to_string(),
                grants: self.grants.clone(),
            }]
        };
        secrets::SecretGrants {
            commands,
            redact: !self.unredacted,
        }
    }
}

impl Analysis {
    /// The decision every front end acts on and records: a grant that cannot be given as the
    /// policy wrote it makes it a denial.
    pub fn decision(&self) -> Decision {
        let decision =
            Decision::from_native(&self.native, self.csc_reason_code, self.policy.clone());
        match &self.secrets.refused {
            Some(why) if decision.outcome != Outcome::Deny => {
                Decision::deny(CordonReason::SecretGrantRefused, why, decision.policy)
            }
            _ => decision,
        }
    }
}

/// What the text is, before any policy: the parse, the facts and the synthesized contract.
/// Deterministic, and cheap next to loading a policy, so an `exec` client works it out itself
/// and only asks the gateway for the decision.
#[derive(Debug)]
pub struct Front {
    pub text: String,
    pub script: shell::Script,
    pub facts: Facts,
    pub contract: Option<Contract>,
    pub contract_error: Option<String>,
}

/// The shell state a request starts in: its cwd and `~`.
pub fn shell_state(request: &AnalysisRequest) -> ShellState {
    ShellState {
        cwd: request.cwd.clone(),
        home: request.home.clone(),
    }
}

/// The parse, facts and contract for the request.
pub fn front(request: &AnalysisRequest) -> Front {
    let state = shell_state(request);
    let (text, script, facts) = match &request.written {
        Written::Shell(text) => {
            let script = shell::parse(text, &state);
            // Judged as written: the envelope, not a path-by-path grant, is what a hardened run
            // gets.
            let facts = facts::of_script(&script, &state, Knowledge::builtin());
            (text.clone(), script, facts)
        }
        Written::Argv(argv) => {
            let script = shell::from_argv(argv, &state);
            let facts = facts::of_script(&script, &state, Knowledge::builtin());
            (facts::display_argv(argv), script, facts)
        }
        Written::FileTool(call) => {
            let argv = [call.tool.clone(), call.target.clone()];
            // The agent's own tool does what it does unconfined: nothing but this judgement
            // stands between it and the file, whatever mode cordon's own runs use.
            let facts = file_tools::facts(
                &call.tool,
                call.access,
                &call.target,
                call.resolved.as_deref(),
                &state,
                Enforcement::Local,
            );
            (
                facts::display_argv(&argv),
                shell::from_argv(&argv, &state),
                facts,
            )
        }
    };
    let (contract, contract_error) = match synth::contract(&text, &facts, &Requester::default()) {
        Ok(contract) => (Some(contract), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Front {
        text,
        script,
        facts,
        contract,
        contract_error,
    }
}

/// Judges the request under the policy it names.
pub fn analyse(request: &AnalysisRequest, policies: &dyn PolicySource) -> Result<Analysis> {
    let mut front = front(request);
    let state = shell_state(request);
    let policy = policies.policy(&request.policy)?;
    if let Some(globs) = file_tool_globs(&policy) {
        tag_home_reads_beyond_the_envelope(request, &globs, &mut front.facts)?;
    }
    let (native, csc_reason_code, egress, secrets) = match policy.as_ref() {
        PolicyInForce::Native(loaded) => {
            let compiled = policies.compiled(loaded, &context(request)?)?;
            let knowledge = Knowledge::builtin();
            let judge = |facts: &Facts| {
                let decide = |policy: &CompiledPolicy| {
                    native::decide_facts(facts, policy, &state, knowledge)
                };
                let decision = decide(&compiled);
                if request.hardened {
                    egress::decide_hardened(&loaded.policy, &compiled, decision, decide)
                } else {
                    let egress = egress::judge(&loaded.policy, &decision);
                    (decision, egress)
                }
            };
            let (decision, egress) = if confinable(request) {
                egress::judge_confined(&mut front.facts, judge)
            } else {
                judge(&front.facts)
            };
            let redact = loaded.policy.redact_secrets;
            let secrets = SecretsJudged::of_native(&decision, &compiled, redact);
            (decision, None, egress, secrets)
        }
        // Cedar policies and CSC profiles grant no secret to shell text.
        PolicyInForce::Cedar(cedar) => {
            let engine = policies.cedar(cedar, &context(request)?)?;
            let decision = engine.decision(&front.facts, &cedar.name);
            let egress = egress::without_lists(&front.facts);
            (decision, None, egress, SecretsJudged::default())
        }
        PolicyInForce::Csc(loaded) => {
            let (decision, code) = csc_decision(&front, &policy, loaded);
            let egress = egress::without_lists(&front.facts);
            (decision, code, egress, SecretsJudged::default())
        }
    };
    Ok(Analysis {
        text: front.text,
        cwd: state.cwd,
        facts: front.facts,
        native,
        csc_reason_code,
        egress,
        contract: front.contract,
        contract_error: front.contract_error,
        script: front.script,
        policy: policy.reference(),
        mode: if request.hardened {
            Mode::Hardened
        } else {
            Mode::Local
        },
        policy_in_force: Some(policy),
        secrets,
    })
}

/// The tag of a file-tool read in the home beyond what a hardened command may read there.
pub const READS_BEYOND_THE_ENVELOPE: &str = "reads_beyond_the_envelope";

/// The envelope globs of the policy a file tool is judged under (native rules, and Cedar with the
/// default pack's); a CSC profile judges no file tool.
fn file_tool_globs(policy: &PolicyInForce) -> Option<PolicyGlobs> {
    match policy {
        PolicyInForce::Native(loaded) => Some(PolicyGlobs::of(&loaded.policy)),
        PolicyInForce::Cedar(_) => PolicyGlobs::default_pack().ok(),
        PolicyInForce::Csc(_) => None,
    }
}

/// An agent's `Read`, `Grep` or `Glob` runs unconfined, so in the home it is judged against what
/// the envelope lets a hardened command read there: the workspace (and the rest of the
/// repository it is a subdirectory of), the toolchains, the caches and the read-only settings.
/// Anything else in the home (another tool's token, a store the `credentials` rule does not list,
/// the user's documents) is tagged [`READS_BEYOND_THE_ENVELOPE`], which the default pack asks
/// about (red-team round sixteen: the Read tool returned Claude Code's, Codex's and Copilot's
/// tokens, which no shell command could read).
fn tag_home_reads_beyond_the_envelope(
    request: &AnalysisRequest,
    globs: &PolicyGlobs,
    facts: &mut Facts,
) -> Result<()> {
    let Written::FileTool(call) = &request.written else {
        return Ok(());
    };
    if !matches!(call.access, ToolAccess::Read | ToolAccess::Search) {
        return Ok(());
    }
    let home = PathBuf::from(&request.home);
    let named = shell::pathutil::join(Some(&request.cwd), &request.home, &call.target);
    let paths: Vec<PathBuf> = [named.as_deref(), call.resolved.as_deref()]
        .into_iter()
        .flatten()
        .map(|p| PathBuf::from(shell::pathutil::normalize_absolute(p)))
        .collect();
    if !paths.iter().any(|p| p.starts_with(&home) && *p != home) {
        return Ok(());
    }
    let workspace = PathBuf::from(context(request)?.workspace);
    let envelope = cordon_policy::envelope::envelope_paths(
        globs,
        Toolchains::builtin(),
        &workspace,
        &home,
        &home.join(".config/cordon"),
        &cordon_policy::envelope::read_dir_names,
    );
    // The rest of the repository the workspace is a subdirectory of, which the run reads too.
    let repository = cordon_sandbox::repository_work_tree(&workspace, Some(&home));
    let readable = |p: &PathBuf| {
        p.starts_with(&workspace)
            || repository.as_ref().is_some_and(|tree| p.starts_with(tree))
            || envelope
                .reads
                .iter()
                .chain(&envelope.caches)
                .chain(&envelope.read_only)
                .any(|root| p.starts_with(root))
    };
    let beyond = paths
        .iter()
        .any(|p| p.starts_with(&home) && *p != home && !readable(p));
    if beyond {
        for command in &mut facts.commands {
            if !command.tags.iter().any(|t| t == READS_BEYOND_THE_ENVELOPE) {
                command.tags.push(READS_BEYOND_THE_ENVELOPE.to_string());
            }
        }
    }
    Ok(())
}

/// Whether the request's text runs in a hardened sandbox: shell text or an argv judged for a
/// hardened run. An agent's file tool never is: it does what it does unconfined.
fn confinable(request: &AnalysisRequest) -> bool {
    request.hardened && !matches!(request.written, Written::FileTool(_))
}

/// What `{workspace}` and `{home}` mean for this request: `workspace` (resolved against the cwd)
/// or the cwd, and the home.
pub fn context(request: &AnalysisRequest) -> Result<Context> {
    let workspace = match &request.workspace {
        Some(dir) => dir
            .to_str()
            .ok_or_else(|| Error::Usage("the workspace path is not valid UTF-8".into()))?
            .to_string(),
        None => request.cwd.clone(),
    };
    let workspace = shell::pathutil::resolve(Some(&request.cwd), &request.home, &workspace)
        .unwrap_or(workspace);
    Ok(Context {
        workspace,
        home: request.home.clone(),
    })
}

/// A CSC profile judges the synthesized contract with the CSC engine; what the front end could
/// not resolve is asked first, whatever the profile says.
fn csc_decision(
    front: &Front,
    policy: &PolicyInForce,
    loaded: &cordon_core::policy::LoadedPolicy,
) -> (native::Decision, Option<ReasonCode>) {
    let facts = &front.facts;
    let unresolved: Vec<String> = facts
        .unresolved
        .iter()
        .cloned()
        .chain(facts.commands.iter().flat_map(|c| {
            c.unresolved
                .iter()
                .map(|u| format!("`{}`: {u}", c.display()))
        }))
        .collect();
    let make = |outcome: Outcome, codes: Vec<CordonReason>, sentence: String| native::Decision {
        outcome,
        reason_codes: codes,
        sentence,
        commands: Vec::new(),
        unresolved: facts.unresolved.clone(),
        policy_name: policy.name().to_string(),
        policy_sha256: policy.sha256().to_string(),
    };
    let Some(contract) = &front.contract else {
        let why = front
            .contract_error
            .as_deref()
            .unwrap_or("the text cannot be written as a contract");
        let denied = make(
            Outcome::Deny,
            vec![CordonReason::ContractUnrepresentable],
            format!("Denied: {why}."),
        );
        return (denied, None);
    };
    let judgement = cordon_policy::evaluate(contract, &loaded.policy);
    let outcome = judgement.outcome();
    if !unresolved.is_empty() && outcome != Outcome::Deny {
        let sentence = format!(
            "Needs approval: the text cannot be judged before it runs: {}.",
            unresolved.join("; ")
        );
        let asked = make(
            Outcome::Ask,
            vec![CordonReason::UnresolvedCommand],
            sentence,
        );
        return (asked, Some(judgement.reason_code));
    }
    let label = match outcome {
        Outcome::Allow => "Allowed",
        Outcome::Deny => "Denied",
        _ => "Needs approval",
    };
    let sentence = format!("{label}: {} (CSC profile).", judgement.reason);
    (
        make(outcome, Vec::new(), sentence),
        Some(judgement.reason_code),
    )
}
