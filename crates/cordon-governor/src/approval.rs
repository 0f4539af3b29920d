//! The approval step: when the decision asks, a person answers before anything runs.
//!
//! The run looks for an approval in this order: the signed files given with `--approval`; a
//! standing approval in the store (a window, session or pattern scope some approver gave earlier)
//! that covers this contract; and otherwise it files a pending request in the approval store,
//! announces it (a notice, and the webhook if one is configured), and polls the store until an
//! approver answers or the wait runs out. Every approval found is verified again here (signature,
//! trusted key, identity, not-before, expiry, binding) and used in one atomic store transaction, so
//! a single-use approval authorizes exactly one execution.
//!
//! Anything else is a refusal with one sentence: denied, no answer in time, a bad or replayed
//! approval, an unreadable store or key ring, a team database that fails or cannot be reached
//! (its connect and operation timeouts bound every poll, so nothing waits forever). The waiting
//! process keeps nothing in memory that matters: if it dies, its request expires at its deadline
//! and a new run must ask again.
//!
//! The store is the home's SQLite file unless a team's PostgreSQL database is named
//! ([`ApprovalDesk::location`]); every caller (the run, the terminal, the web page, the MCP
//! server) opens it through [`ApprovalDesk::open_store`], so they cannot disagree on where the
//! approvals are.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cordon_approval::store::NewRequest;
use cordon_approval::{
    distinct_approvers, ApprovalStore, ApproverRing, RequestState, SignedApproval, StoreLocation,
    Verified,
};
use cordon_core::contract::ApprovalMode;
use cordon_core::{Contract, Outcome};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::extension::{ApprovalEvidence, ApprovalUsed};
use crate::notice::{Notice, Notices};
use crate::request::RunRequest;

/// Default wait for an answer.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;

/// Where `cordon serve` listens by default: the webhook's links when `page_url` is not set.
pub const DEFAULT_PAGE_URL: &str = "http://127.0.0.1:8731";

/// How often a waiting run looks at the store.
const POLL: Duration = Duration::from_millis(200);

/// How a run may obtain an approval.
#[derive(Debug, Clone)]
pub struct ApprovalOptions {
    /// Pre-signed approval files (`--approval`).
    pub files: Vec<PathBuf>,
    /// How long to wait for an answer; zero files nothing and answers "needs approval".
    pub timeout: Duration,
}

impl ApprovalOptions {
    /// Seek no approval at all.
    pub fn none() -> ApprovalOptions {
        ApprovalOptions {
            files: Vec::new(),
            timeout: Duration::ZERO,
        }
    }
}

/// The home's approval desk: its files, the team database the environment names, and the name
/// this machine files requests under.
#[derive(Debug, Clone)]
pub struct ApprovalDesk {
    /// The trusted approver keys (`cordon_approval::ring`).
    pub approvers: PathBuf,
    /// Pending requests and consumed approvals: the embedded SQLite file, used unless a team
    /// database is named.
    pub store: PathBuf,
    /// The optional settings (`approvals.json`): channels, and `store_url`.
    pub channels: PathBuf,
    /// `CORDON_APPROVALS_URL` as the binary read it: a team's PostgreSQL database, which wins
    /// over `store_url` in `approvals.json`.
    pub store_url: Option<String>,
    /// The machine requests are filed under (what approvers see next to each request).
    pub machine: String,
}

impl ApprovalDesk {
    /// Where the approval state lives: `store_url` (the environment), else `approvals.json`'s
    /// `store_url`, else the SQLite file. A malformed `approvals.json` or a URL that is not a
    /// PostgreSQL URL is an error, never a silent fall back to a private store.
    pub fn location(&self) -> Result<StoreLocation, String> {
        let config = load_config(&self.channels)?;
        StoreLocation::choose(
            self.store_url.as_deref(),
            config.store_url.as_deref(),
            &self.store,
        )
        .map_err(|e| e.to_string())
    }

    /// Opens the approval store this desk names, filing requests under [`Self::machine`].
    pub fn open_store(&self) -> Result<Box<dyn ApprovalStore>, String> {
        let location = self.location()?;
        location.open(&self.machine).map_err(|e| match location {
            StoreLocation::Sqlite(_) => format!("the approval store cannot be opened: {e}"),
            // Already one sentence naming the database and what failed.
            StoreLocation::Postgres(_) => e.to_string(),
        })
    }
}

/// What the approval step concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The decision did not ask.
    NotAsked,
    /// Approved: run, and say by whom.
    Granted(Granted),
    /// Asked, and nobody could be asked (no wait configured): the decision's own answer stands.
    Unanswered,
    /// Refused: do not run. One sentence.
    Refused(String),
}

/// Who approved, for the receipt and the decision record.
#[derive(Debug, Clone, PartialEq)]
pub struct Granted {
    pub source: &'static str,
    pub request_id: Option<String>,
    pub approvals: Vec<Verified>,
}

impl Resolution {
    /// The evidence for `x-cordon.approval`; `None` when nothing was asked.
    pub fn evidence(&self) -> Option<ApprovalEvidence> {
        match self {
            Resolution::NotAsked => None,
            Resolution::Unanswered => Some(ApprovalEvidence::Unanswered),
            Resolution::Refused(why) => Some(ApprovalEvidence::Refused {
                reason: why.clone(),
            }),
            Resolution::Granted(g) => Some(ApprovalEvidence::Approved {
                source: g.source,
                request_id: g.request_id.clone(),
                approvals: g
                    .approvals
                    .iter()
                    .map(|v| ApprovalUsed {
                        approval_id: v.approval_id.clone(),
                        approver: v.identity.clone(),
                        scope: v.scope.clone(),
                        expires_at: v.expires_at.clone(),
                    })
                    .collect(),
            }),
        }
    }

    pub fn granted(&self) -> bool {
        matches!(self, Resolution::Granted(_))
    }
}

/// The approval step for a decision (see the module docs). `desk` is `None` without a home.
pub fn resolve(
    request: &RunRequest,
    options: &ApprovalOptions,
    desk: Option<&ApprovalDesk>,
    notices: &Notices,
) -> Resolution {
    if request.decision.outcome != Outcome::Ask {
        return Resolution::NotAsked;
    }
    // Not asking anybody still honours a standing approval; failing to look for one then just
    // leaves the decision's answer (needs approval) in place.
    let quiet = options.files.is_empty() && options.timeout.is_zero();
    match obtain(request, options, desk, notices) {
        Ok(Some(granted)) => {
            let names = granted
                .approvals
                .iter()
                .map(|v| v.identity.clone())
                .collect();
            notices(Notice::Approved(names));
            Resolution::Granted(granted)
        }
        Ok(None) => Resolution::Unanswered,
        Err(_) if quiet => Resolution::Unanswered,
        Err(why) => {
            notices(Notice::Blocked(why.clone()));
            Resolution::Refused(why)
        }
    }
}

/// The approval settings (`approvals.json`), every field optional:
/// `{"webhook_url": "https://hooks.example/…", "page_url": "http://127.0.0.1:8731",
/// "store_url": "postgres://user:password@host:5432/db"}`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    pub webhook_url: Option<String>,
    pub page_url: Option<String>,
    /// A team's approval database (PostgreSQL); `CORDON_APPROVALS_URL` wins over it.
    pub store_url: Option<String>,
}

/// Reads `approvals.json`; none is no channel and the embedded store.
pub fn load_config(path: &Path) -> Result<ApprovalsConfig, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ApprovalsConfig::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// How many distinct approvers a contract needs.
pub fn required_approvers(contract: &Contract) -> u32 {
    match contract.approval_mode {
        ApprovalMode::DualControlRequired => 2,
        _ => 1,
    }
}

pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Everything one approval step works with.
struct Step<'a> {
    request: &'a RunRequest,
    desk: &'a ApprovalDesk,
    ring: ApproverRing,
    store: Box<dyn ApprovalStore>,
    required: usize,
    consumer: String,
}

fn obtain(
    request: &RunRequest,
    options: &ApprovalOptions,
    desk: Option<&ApprovalDesk>,
    notices: &Notices,
) -> Result<Option<Granted>, String> {
    let desk = desk.ok_or(
        "there is no cordon home (set CORDON_HOME or HOME), so no approval can be checked",
    )?;
    let ring = ApproverRing::load(&desk.approvers).map_err(|e| e.to_string())?;
    let store = desk.open_store()?;
    let mut step = Step {
        request,
        desk,
        ring,
        store,
        required: required_approvers(&request.contract) as usize,
        consumer: format!("pid {}", std::process::id()),
    };
    if !options.files.is_empty() {
        return step.use_files(&options.files).map(Some);
    }
    if let Some(granted) = step.use_standing()? {
        return Ok(Some(granted));
    }
    if options.timeout.is_zero() {
        return Ok(None);
    }
    step.ask_and_wait(options.timeout, notices).map(Some)
}

impl Step<'_> {
    /// Verifies one signed approval against this contract, now.
    fn verify(&self, signed: &SignedApproval) -> Result<Verified, String> {
        signed
            .verify(
                &self.ring,
                &self.request.contract,
                &self.request.contract_sha256,
                OffsetDateTime::now_utc(),
            )
            .map_err(|e| e.to_string())
    }

    /// Uses enough distinct approvals for this execution, atomically.
    fn consume(
        &mut self,
        verified: &[Verified],
        request_id: Option<&str>,
        source: &'static str,
    ) -> Result<Granted, String> {
        let chosen = distinct_approvers(verified, self.required).map_err(|e| e.to_string())?;
        self.store
            .consume(
                &chosen,
                &self.request.contract_sha256,
                request_id,
                &self.consumer,
                unix_now(),
            )
            .map_err(|e| e.to_string())?;
        Ok(Granted {
            source,
            request_id: request_id.map(str::to_string),
            approvals: chosen,
        })
    }

    /// `--approval` files: every one must verify.
    fn use_files(&mut self, files: &[PathBuf]) -> Result<Granted, String> {
        let mut signed = Vec::new();
        for path in files {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            signed.push(
                SignedApproval::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?,
            );
        }
        let verified = signed
            .iter()
            .zip(files)
            .map(|(s, path)| {
                self.verify(s)
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.consume(&verified, None, "file")
    }

    /// A reusable approval given earlier that covers this contract; ones that do not verify
    /// (expired, other contracts) are simply not candidates.
    fn use_standing(&mut self) -> Result<Option<Granted>, String> {
        let standing: Vec<Verified> = self
            .store
            .standing()
            .map_err(|e| e.to_string())?
            .iter()
            .filter_map(|s| self.verify(s).ok())
            .collect();
        if distinct_approvers(&standing, self.required).is_err() {
            return Ok(None);
        }
        self.consume(&standing, None, "standing").map(Some)
    }

    /// Files a request and waits for its answer until `timeout`.
    fn ask_and_wait(&mut self, timeout: Duration, notices: &Notices) -> Result<Granted, String> {
        let request = self.request;
        let deadline_at = Instant::now() + timeout;
        let new = NewRequest {
            contract: serde_json::to_value(&request.contract).map_err(|e| e.to_string())?,
            contract_sha256: request.contract_sha256.clone(),
            session_id: request.contract.actor.session_id.clone(),
            summary: summary(&request.contract, &request.secrets),
            reason: reason(request),
            required_approvers: self.required as u32,
            deadline: unix_now() + i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX / 2) + 1,
        };
        let id = self
            .store
            .file_request(&new, unix_now())
            .map_err(|e| format!("the approval request cannot be filed: {e}"))?;
        notices(Notice::ApprovalNeeded {
            request_id: id.clone(),
            commands: cordon_approval::artifact::command_lines(&request.contract).join(" ; "),
            timeout_secs: timeout.as_secs(),
        });
        announce(self.desk, &id, deadline_at, notices);
        let no_answer = || {
            format!(
                "request {id} got no approval within {} s; no answer means deny",
                timeout.as_secs()
            )
        };
        loop {
            let filed = self
                .store
                .request(&id, unix_now())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("request {id} vanished from the approval store"))?;
            match filed.state {
                RequestState::Denied => {
                    let by = filed.answered_by.unwrap_or_default();
                    return Err(match filed.answer_reason.filter(|r| !r.is_empty()) {
                        Some(why) => format!("request {id} was denied by {by}: {why}"),
                        None => format!("request {id} was denied by {by}"),
                    });
                }
                RequestState::Expired | RequestState::Consumed => return Err(no_answer()),
                RequestState::Approved => return self.use_answers(&id),
                RequestState::Pending => {}
            }
            if Instant::now() >= deadline_at {
                let _ = self.store.expire(&id);
                return Err(no_answer());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The answers to an approved request, verified and used; the request expires if they do
    /// not hold.
    fn use_answers(&mut self, id: &str) -> Result<Granted, String> {
        let answers = self.store.answers(id).map_err(|e| e.to_string());
        let granted = answers
            .and_then(|a| {
                a.iter()
                    .map(|s| self.verify(s))
                    .collect::<Result<Vec<_>, _>>()
            })
            .and_then(|v| self.consume(&v, Some(id), "request"));
        if granted.is_err() {
            let _ = self.store.expire(id);
        }
        granted.map_err(|why| format!("the approval of request {id} does not hold: {why}"))
    }
}

/// Sends the webhook notice in the background, if a webhook is configured. Delivery failures are
/// retried with backoff until the deadline; the request stays pending either way.
fn announce(desk: &ApprovalDesk, id: &str, deadline: Instant, notices: &Notices) {
    let config = match load_config(&desk.channels) {
        Ok(config) => config,
        Err(why) => {
            notices(Notice::Webhook(format!(
                "the webhook is not configured correctly, so it is not used: {why}"
            )));
            return;
        }
    };
    let Some(url) = config.webhook_url else {
        return;
    };
    let desk = desk.clone();
    let id = id.to_string();
    let notices = notices.clone();
    std::thread::spawn(move || {
        let Ok(mut store) = desk.open_store() else {
            return;
        };
        let Ok(Some(request)) = store.request(&id, unix_now()) else {
            return;
        };
        let page_url = config.page_url.as_deref().unwrap_or(DEFAULT_PAGE_URL);
        let message = cordon_approval::webhook::message(&request, Some(page_url));
        match cordon_approval::webhook::deliver(&url, &message, deadline) {
            Ok(_) => {
                let _ = store.mark_notified(&id, unix_now());
            }
            Err(why) => notices(Notice::Webhook(format!(
                "the webhook notice for {id} was not delivered: {why}"
            ))),
        }
    });
}

/// What a person needs to see per command: the exact argv, where, which scopes, which network,
/// and which secrets it will receive once approved (names and the rule that granted each).
pub fn summary(contract: &Contract, secrets: &crate::secrets::SecretGrants) -> Value {
    let lines = cordon_approval::artifact::command_lines(contract);
    Value::Array(
        contract
            .commands
            .iter()
            .zip(lines)
            .map(|(c, line)| {
                json!({
                    "id": c.id,
                    "line": line,
                    "argv": c.argvs().map(|a| a.to_vec()).collect::<Vec<_>>(),
                    "cwd": c.cwd,
                    "read_paths": c.read_paths,
                    "write_paths": c.write_paths,
                    "network": c.network,
                    "env_allow": c.env_allow,
                    "secret_refs": c.secret_refs,
                    "secrets": secrets.of(&c.id),
                })
            })
            .collect(),
    )
}

fn reason(request: &RunRequest) -> String {
    if request.decision.sentence.is_empty() {
        "the policy requires a human approval".into()
    } else {
        request.decision.sentence.clone()
    }
}
