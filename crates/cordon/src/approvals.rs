//! The approval step between the policy gate and the sandbox, for every front end that runs
//! through `cmd::run::execute` (`cordon run`, `cordon exec`).
//!
//! When the gate says ask, the run looks for an approval, in this order: the signed files given
//! with `--approval`; a standing approval in the store (a window, session or pattern scope some
//! approver gave earlier) that covers this contract; and otherwise it files a pending request in
//! the home's approval store, announces it (stderr, and the webhook if one is configured), and
//! polls the store until an approver answers or the wait runs out. Every approval found is
//! verified again here (signature, trusted key, identity, not-before, expiry, binding) and used in
//! one atomic store transaction, so a single-use approval authorizes exactly one execution.
//!
//! Anything else is a refusal with one sentence: denied, no answer in time, a bad or replayed
//! approval, an unreadable store or key ring. The waiting process keeps nothing in memory that
//! matters: if it dies, its request expires at its deadline and a new run must ask again.
//!
//! Home files (besides `state/approvals.db`): `approvers` (the trusted approver keys, see
//! `cordon_approval::ring`) and the optional `approvals.json`:
//! `{"webhook_url": "https://hooks.example/…", "page_url": "http://127.0.0.1:8731"}`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cordon_approval::store::NewRequest;
use cordon_approval::{
    distinct_approvers, ApproverRing, RequestState, SignedApproval, Store, Verified,
};
use cordon_core::contract::ApprovalMode;
use cordon_core::Verdict;
use cordon_journal::record;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::gate::Gate;
use crate::home::Home;

/// Default wait for an answer.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;

/// Where `cordon serve` listens by default: the webhook's links when `page_url` is not set.
pub const DEFAULT_PAGE_URL: &str = "http://127.0.0.1:8731";

/// How often a waiting run looks at the store.
const POLL: Duration = Duration::from_millis(200);

/// How a run may obtain an approval.
#[derive(Debug, Clone)]
pub struct Options {
    /// Pre-signed approval files (`--approval`).
    pub files: Vec<PathBuf>,
    /// How long to wait for an answer; zero files nothing and answers "needs approval".
    pub timeout: Duration,
}

impl Options {
    /// From the command line: `--approval` files and `--approval-timeout`, else the default wait.
    pub fn new(files: Vec<PathBuf>, timeout_secs: Option<u64>) -> Options {
        let default = Options::default();
        Options {
            files,
            timeout: timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(default.timeout),
        }
    }

    /// Seek no approval at all.
    pub fn none() -> Options {
        Options {
            files: Vec::new(),
            timeout: Duration::ZERO,
        }
    }
}

impl Default for Options {
    /// No files; the wait from `CORDON_APPROVAL_TIMEOUT` (seconds), else the default.
    fn default() -> Options {
        let secs = std::env::var("CORDON_APPROVAL_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_TIMEOUT_SECS);
        Options {
            files: Vec::new(),
            timeout: Duration::from_secs(secs),
        }
    }
}

/// What the approval step concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// The gate did not ask.
    NotAsked,
    /// Approved: run, and say by whom.
    Granted(Granted),
    /// Asked, and nobody could be asked (no wait configured): the gate's own answer stands.
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
    /// The evidence entry: `{"source", "request_id", "approvals": [{approval_id, approver,
    /// scope, expires_at}]}`, or the refusal.
    pub fn evidence(&self) -> Option<Value> {
        match self {
            Resolution::NotAsked => None,
            Resolution::Unanswered => Some(json!({"state": "unanswered"})),
            Resolution::Refused(why) => Some(json!({"state": "refused", "reason": why})),
            Resolution::Granted(g) => Some(json!({
                "state": "approved",
                "source": g.source,
                "request_id": g.request_id,
                "approvals": g.approvals.iter().map(|v| json!({
                    "approval_id": v.approval_id,
                    "approver": v.identity,
                    "scope": v.scope,
                    "expires_at": v.expires_at,
                })).collect::<Vec<_>>(),
            })),
        }
    }

    /// Adds the approval to a decision record: the approvers in `details.approval`, and the
    /// sandbox profile when the approval lets the command run.
    pub fn decorate(&self, mut decision: record::Decision, profile: &str) -> record::Decision {
        if let Some(evidence) = self.evidence() {
            let mut details = match decision.details.take() {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            details.insert("approval".into(), evidence);
            decision.details = Value::Object(details);
        }
        if let Resolution::Granted(_) = self {
            decision.sandbox_profile = Some(profile.to_string());
        }
        decision
    }

    /// The exit code when the command must not run: `None` when approved, `blocked` when refused,
    /// `unanswered` when nobody was asked.
    pub fn refusal(&self, unanswered: u8, blocked: u8) -> Option<u8> {
        match self {
            Resolution::Granted(_) => None,
            Resolution::Refused(_) => Some(blocked),
            Resolution::NotAsked | Resolution::Unanswered => Some(unanswered),
        }
    }

    /// The refusal's sentence.
    pub fn refused(&self) -> Option<String> {
        match self {
            Resolution::Refused(why) => Some(why.clone()),
            _ => None,
        }
    }

    /// Adds the approval to a receipt's optional `x-cordon` extension.
    pub fn attach(&self, extension: &mut Option<Value>) {
        if self.evidence().is_some() {
            let mut value = extension.take().unwrap_or_else(|| json!({}));
            self.extend(&mut value);
            *extension = Some(value);
        }
    }

    /// Adds the approval to a receipt's `x-cordon` extension object.
    pub fn extend(&self, extension: &mut Value) {
        if let (Some(evidence), Value::Object(map)) = (self.evidence(), extension) {
            map.insert("approval".into(), evidence);
        }
    }
}

/// The approval step for a gate decision (see the module docs).
pub fn resolve(gate: &Gate, options: &Options) -> Resolution {
    if gate.decision.decision != Verdict::NeedsApproval {
        return Resolution::NotAsked;
    }
    // Not asking anybody still honours a standing approval; failing to look for one then just
    // leaves the gate's answer (needs approval) in place.
    let quiet = options.files.is_empty() && options.timeout.is_zero();
    match obtain(gate, options) {
        Ok(Some(granted)) => {
            let names: Vec<&str> = granted
                .approvals
                .iter()
                .map(|v| v.identity.as_str())
                .collect();
            eprintln!("cordon: approved by {}", names.join(" and "));
            Resolution::Granted(granted)
        }
        Ok(None) => Resolution::Unanswered,
        Err(_) if quiet => Resolution::Unanswered,
        Err(why) => {
            eprintln!("cordon: blocked: {why}");
            Resolution::Refused(why)
        }
    }
}

/// Channel settings (`approvals.json`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub webhook_url: Option<String>,
    pub page_url: Option<String>,
}

pub fn load_config(home: &Home) -> Result<Config, String> {
    let path = home.approvals_config();
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// How many distinct approvers a contract needs.
pub fn required_approvers(gate: &Gate) -> u32 {
    match gate.contract.approval_mode {
        ApprovalMode::DualControlRequired => 2,
        _ => 1,
    }
}

pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Everything one approval step works with.
struct Step<'a> {
    gate: &'a Gate,
    home: Home,
    ring: ApproverRing,
    store: Store,
    required: usize,
    consumer: String,
}

fn obtain(gate: &Gate, options: &Options) -> Result<Option<Granted>, String> {
    let home = Home::from_env().ok_or(
        "there is no cordon home (set CORDON_HOME or HOME), so no approval can be checked",
    )?;
    let ring = ApproverRing::load(&home.approvers()).map_err(|e| e.to_string())?;
    let store = Store::open(&home.approvals_db())
        .map_err(|e| format!("the approval store cannot be opened: {e}"))?;
    let mut step = Step {
        gate,
        home,
        ring,
        store,
        required: required_approvers(gate) as usize,
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
    step.ask_and_wait(options.timeout).map(Some)
}

impl Step<'_> {
    /// Verifies every signed approval against this contract, now.
    fn verify_all<'s>(
        &self,
        signed: impl IntoIterator<Item = &'s SignedApproval>,
    ) -> Result<Vec<Verified>, String> {
        let now = OffsetDateTime::now_utc();
        signed
            .into_iter()
            .map(|s| {
                s.verify(
                    &self.ring,
                    &self.gate.contract,
                    &self.gate.contract_sha256,
                    now,
                )
                .map_err(|e| e.to_string())
            })
            .collect()
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
                &self.gate.contract_sha256,
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
                self.verify_all([s])
                    .map(|mut v| v.remove(0))
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.consume(&verified, None, "file")
    }

    /// A reusable approval given earlier that covers this contract; ones that do not verify
    /// (expired, other contracts) are simply not candidates.
    fn use_standing(&mut self) -> Result<Option<Granted>, String> {
        let now = OffsetDateTime::now_utc();
        let standing: Vec<Verified> = self
            .store
            .standing()
            .map_err(|e| e.to_string())?
            .iter()
            .filter_map(|s| {
                s.verify(
                    &self.ring,
                    &self.gate.contract,
                    &self.gate.contract_sha256,
                    now,
                )
                .ok()
            })
            .collect();
        if distinct_approvers(&standing, self.required).is_err() {
            return Ok(None);
        }
        self.consume(&standing, None, "standing").map(Some)
    }

    /// Files a request and waits for its answer until `timeout`.
    fn ask_and_wait(&mut self, timeout: Duration) -> Result<Granted, String> {
        let gate = self.gate;
        let deadline_at = Instant::now() + timeout;
        let new = NewRequest {
            contract: serde_json::to_value(&gate.contract).map_err(|e| e.to_string())?,
            contract_sha256: gate.contract_sha256.clone(),
            session_id: gate.contract.actor.session_id.clone(),
            summary: summary(gate),
            reason: reason(gate),
            required_approvers: self.required as u32,
            deadline: unix_now() + i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX / 2) + 1,
        };
        let id = self
            .store
            .file_request(&new, unix_now())
            .map_err(|e| format!("the approval request cannot be filed: {e}"))?;
        eprintln!(
            "cordon: approval needed ({id}): {}\ncordon: answer with `cordon approve {id}` or `cordon deny {id}` (or `cordon serve`) within {} s; no answer means deny",
            cordon_approval::artifact::command_lines(&gate.contract).join(" ; "),
            timeout.as_secs()
        );
        announce(&self.home, &id, deadline_at);
        let no_answer = || {
            format!(
                "request {id} got no approval within {} s; no answer means deny",
                timeout.as_secs()
            )
        };
        loop {
            let request = self
                .store
                .request(&id, unix_now())
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("request {id} vanished from the approval store"))?;
            match request.state {
                RequestState::Denied => {
                    let by = request.answered_by.unwrap_or_default();
                    return Err(match request.answer_reason.filter(|r| !r.is_empty()) {
                        Some(why) => format!("request {id} was denied by {by}: {why}"),
                        None => format!("request {id} was denied by {by}"),
                    });
                }
                RequestState::Expired | RequestState::Consumed => return Err(no_answer()),
                RequestState::Approved => {
                    let answers = self.store.answers(&id).map_err(|e| e.to_string());
                    let granted = answers
                        .and_then(|a| self.verify_all(&a))
                        .and_then(|v| self.consume(&v, Some(&id), "request"));
                    if granted.is_err() {
                        let _ = self.store.expire(&id);
                    }
                    return granted.map_err(|why| {
                        format!("the approval of request {id} does not hold: {why}")
                    });
                }
                RequestState::Pending => {}
            }
            if Instant::now() >= deadline_at {
                let _ = self.store.expire(&id);
                return Err(no_answer());
            }
            std::thread::sleep(POLL);
        }
    }
}

/// Sends the webhook notice in the background, if a webhook is configured. Delivery failures are
/// retried with backoff until the deadline; the request stays pending either way.
fn announce(home: &Home, id: &str, deadline: Instant) {
    let config = match load_config(home) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("cordon: the webhook is not configured correctly, so it is not used: {why}");
            return;
        }
    };
    let Some(url) = config.webhook_url else {
        return;
    };
    let db = home.approvals_db();
    let id = id.to_string();
    std::thread::spawn(move || {
        let Ok(mut store) = Store::open(&db) else {
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
            Err(why) => eprintln!("cordon: the webhook notice for {id} was not delivered: {why}"),
        }
    });
}

/// What a person needs to see per command: the exact argv, where, which scopes, which network.
pub fn summary(gate: &Gate) -> Value {
    let lines = cordon_approval::artifact::command_lines(&gate.contract);
    Value::Array(
        gate.contract
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
                })
            })
            .collect(),
    )
}

fn reason(gate: &Gate) -> String {
    let reasons = gate.decision.reasons.join("; ");
    if reasons.is_empty() {
        "the policy requires a human approval".into()
    } else {
        reasons
    }
}

/// The home's signing key, the default approver key.
pub fn home_key(home: &Home) -> Result<PathBuf, String> {
    home.signing_key()
        .map(|(pem, _)| pem)
        .map_err(|e| format!("{}; or pass --key", e.message))
}

/// Reads an approver's private key.
pub fn read_key(path: &Path) -> Result<ed25519_dalek::SigningKey, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    cordon_journal::keys::parse_private_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
