//! Answering approval requests as an approver, from the command line (`cordon approve`) or the
//! web page (`cordon serve`): the approver's key and identity, the scope and lifetime they give,
//! and the signed answer. The approver signs with their own key (default: the home's key), which
//! must be listed in the home's `approvers` file; the approval is checked here as the runner will
//! check it, and the contract shown is re-hashed so that what is signed is what was shown.

use std::path::{Path, PathBuf};

use cordon_approval::artifact::envelope_sha256_of;
use cordon_approval::{ApprovalStore, ApproverRing, Grant, RequestState, Scope, SignedApproval};
use cordon_core::approval::ApprovalMethod;
use cordon_core::Contract;
use time::{Duration, OffsetDateTime};

pub use cordon_governor::approval::unix_now;

use crate::exit::CliError;
use crate::home::Home;

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

pub fn home() -> Result<Home, CliError> {
    Home::from_env().ok_or_else(|| CliError::usage("no cordon home: set CORDON_HOME or HOME"))
}

/// The home's approval store: the SQLite file, or the team database `CORDON_APPROVALS_URL` or
/// `approvals.json` names. Bad settings are invalid input; a store that cannot be opened (a
/// database that is down) is an internal failure, in one sentence naming it.
pub fn open_store(home: &Home) -> Result<Box<dyn ApprovalStore>, CliError> {
    let desk = home.approval_desk();
    desk.location().map_err(CliError::invalid_input)?;
    desk.open_store().map_err(CliError::internal)
}

/// Parses `10m`, `2h`, `1d`, `45s` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, CliError> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: i64 = digits.parse().map_err(|_| {
        CliError::usage(format!(
            "{text:?} is not a duration (e.g. 45s, 10m, 8h, 1d)"
        ))
    })?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => {
            return Err(CliError::usage(format!(
                "{text:?} is not a duration (e.g. 45s, 10m, 8h, 1d)"
            )))
        }
    };
    if seconds <= 0 || seconds > 366 * 86_400 {
        return Err(CliError::usage(format!(
            "{text:?}: a duration is between 1 second and a year"
        )));
    }
    Ok(Duration::seconds(seconds))
}

/// The scope an approver asked for, and its default lifetime.
pub fn parse_scope(text: &str, contract: &Contract) -> Result<(Scope, Duration), CliError> {
    if text == "once" {
        return Ok((Scope::Once, Duration::minutes(10)));
    }
    if text == "session" {
        return Ok((
            Scope::Session {
                session_id: contract.actor.session_id.clone(),
            },
            Duration::hours(8),
        ));
    }
    if let Some(length) = text.strip_prefix("window:") {
        return Ok((Scope::Window, parse_duration(length)?));
    }
    if let Some(pattern) = text.strip_prefix("pattern:") {
        cordon_approval::artifact::pattern_matcher(pattern)
            .map_err(|e| CliError::usage(e.to_string()))?;
        let envelope_sha256 =
            envelope_sha256_of(contract).map_err(|e| CliError::internal(e.to_string()))?;
        let scope = Scope::Pattern {
            pattern: pattern.to_string(),
            envelope_sha256,
        };
        return Ok((scope, Duration::hours(8)));
    }
    Err(CliError::usage(format!(
        "--scope {text:?}: use once, window:DURATION, session or pattern:GLOB"
    )))
}

/// Signs an approval of `contract` as the approver whose key is `key_path` (or the home's).
pub struct Approver {
    pub identity: String,
    pub key: ed25519_dalek::SigningKey,
    pub ring: ApproverRing,
}

impl Approver {
    pub fn load(
        home: &Home,
        key: Option<&std::path::Path>,
        identity: Option<&str>,
    ) -> Result<Approver, CliError> {
        let key_path = match key {
            Some(p) => p.to_path_buf(),
            None => home_key(home).map_err(CliError::usage)?,
        };
        let key = read_key(&key_path).map_err(CliError::invalid_input)?;
        let ring = ApproverRing::load(&home.approvers())
            .map_err(|e| CliError::invalid_input(e.to_string()))?;
        let listed = ring.identity_of(&key.verifying_key()).ok_or_else(|| {
            CliError::usage(format!(
                "{}: this key is not a trusted approver; add it with `cordon approvals trust NAME --public-key PUB`",
                key_path.display()
            ))
        })?;
        if let Some(claimed) = identity.filter(|c| *c != listed) {
            return Err(CliError::usage(format!(
                "this key is listed for {listed:?}, not {claimed:?}"
            )));
        }
        Ok(Approver {
            identity: listed.to_string(),
            key,
            ring,
        })
    }

    /// Signs and self-checks an approval.
    pub fn sign(
        &self,
        contract: &Contract,
        scope_text: &str,
        expires: Option<&str>,
        request_id: Option<String>,
        reason: Option<String>,
        method: ApprovalMethod,
    ) -> Result<(SignedApproval, cordon_approval::Verified), CliError> {
        let (scope, default_life) = parse_scope(scope_text, contract)?;
        let life = match expires {
            Some(text) => parse_duration(text)?,
            None => default_life,
        };
        let now = OffsetDateTime::now_utc();
        let grant = Grant {
            identity: self.identity.clone(),
            method,
            contract_sha256: contract.sha256(),
            scope,
            approved_at: now,
            expires_at: now + life,
            request_id,
            reason,
        };
        let signed = SignedApproval::sign(&grant, &self.key)
            .map_err(|e| CliError::internal(e.to_string()))?;
        let verified = signed
            .verify(&self.ring, contract, &contract.sha256(), now)
            .map_err(|e| CliError::internal(format!("the new approval does not verify: {e}")))?;
        Ok((signed, verified))
    }
}

/// The request's contract, re-hashed: what is signed is what the approver was shown.
pub fn request_contract(request: &cordon_approval::Request) -> Result<Contract, CliError> {
    let contract = Contract::parse(request.contract.to_string().as_bytes()).map_err(|e| {
        CliError::invalid_input(format!(
            "request {}: its contract is invalid: {e}",
            request.id
        ))
    })?;
    if contract.sha256() != request.contract_sha256 {
        return Err(CliError::invalid_input(format!(
            "request {}: the stored contract does not match its hash; refusing to sign",
            request.id
        )));
    }
    Ok(contract)
}

/// Signs an answer to a pending request and stores it; returns one sentence for the approver.
pub fn answer(
    store: &mut dyn ApprovalStore,
    approver: &Approver,
    id: &str,
    scope: &str,
    expires: Option<&str>,
    reason: Option<String>,
    method: ApprovalMethod,
) -> Result<String, CliError> {
    let request = store
        .request(id, unix_now())
        .map_err(|e| CliError::internal(e.to_string()))?
        .ok_or_else(|| CliError::invalid_input(format!("no approval request {id}")))?;
    if request.state != RequestState::Pending {
        return Err(CliError::invalid_input(format!(
            "request {id} is {}, not pending",
            request.state.as_str()
        )));
    }
    let contract = request_contract(&request)?;
    let (signed, verified) = approver.sign(
        &contract,
        scope,
        expires,
        Some(id.to_string()),
        reason,
        method,
    )?;
    let state = store
        .answer(id, &signed, &verified, unix_now())
        .map_err(|e| CliError::invalid_input(e.to_string()))?;
    Ok(match state {
        RequestState::Pending => format!(
            "approved {id} as {} ({}, approval {}); it needs one more approver",
            verified.identity, verified.scope, verified.approval_id
        ),
        _ => format!(
            "approved {id} as {} ({}, approval {})",
            verified.identity, verified.scope, verified.approval_id
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_stay_within_a_year() {
        assert_eq!(parse_duration("45").ok(), Some(Duration::seconds(45)));
        assert_eq!(parse_duration("10m").ok(), Some(Duration::minutes(10)));
        assert_eq!(parse_duration("8h").ok(), Some(Duration::hours(8)));
        assert_eq!(parse_duration("2d").ok(), Some(Duration::days(2)));
        for bad in ["", "0", "-5m", "5w", "m", "400d", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_parse_with_their_default_lifetimes() {
        let contract = Contract::parse(
            serde_json::json!({
                "version": "csc.v0.1", "contract_id": "c_scope_test", "intent": "t",
                "actor": {"agent_id": "a", "session_id": "s9", "initiating_user": "u", "delegation_scope": "d"},
                "commands": [{"id": "cmd_1", "exec": {"argv": ["ls"]}, "cwd": "/w", "read_paths": [],
                    "write_paths": [], "network": "deny", "env_allow": [], "secret_refs": [],
                    "timeout_sec": 5, "proposed_effect_type": "observe"}],
                "risk_class": "low", "approval_mode": "human_required", "justification": "t"
            })
            .to_string()
            .as_bytes(),
        )
        .map_err(|e| e.to_string());
        let Ok(contract) = contract else {
            panic!("{contract:?}");
        };
        let scope = |text: &str| parse_scope(text, &contract).map_err(|e| e.message);
        assert_eq!(scope("once"), Ok((Scope::Once, Duration::minutes(10))));
        assert_eq!(
            scope("window:30m"),
            Ok((Scope::Window, Duration::minutes(30)))
        );
        assert_eq!(
            scope("session"),
            Ok((
                Scope::Session {
                    session_id: "s9".into()
                },
                Duration::hours(8)
            ))
        );
        assert!(matches!(
            scope("pattern:ls *"),
            Ok((Scope::Pattern { .. }, _))
        ));
        assert!(scope("pattern:").is_err());
        assert!(scope("forever").is_err());
        assert!(scope("window:").is_err());
    }
}
