//! The signed approval: a CSC approval plus what CSC leaves out (who really signed it, for what
//! scope, once or not), and an Ed25519 signature over all of it.
//!
//! ```json
//! {"format":"cordon.signed-approval.v1",
//!  "approval":{ …csc.approval.v0.1… },
//!  "scope":{"kind":"once"} | {"kind":"window"} | {"kind":"session","session_id":"…"}
//!         | {"kind":"pattern","pattern":"git push origin *","envelope_sha256":"…"},
//!  "nonce":"32 hex digits","request_id":"…"|null,
//!  "public_key":"base64 of the raw 32-byte Ed25519 key","signature":"base64"}
//! ```
//!
//! The signature covers `cordon.signed-approval.v1\n` followed by the canonical JSON of the
//! object without `signature`; the prefix keeps an approval signature from ever verifying as a
//! receipt or journal signature made by the same key, and vice versa.
//!
//! Binding. `once`, `window` and `session` authorize exactly one contract: its SHA-256 must equal
//! `approval.contract_sha256` (a session approval must also name the contract's session). A
//! `pattern` approval authorizes every contract whose *envelope* equals the approved one and whose
//! every command line matches the approver's glob. The envelope is the contract without what the
//! pattern stands in for: `contract_id`, `intent`, `justification`, and each command's `id`,
//! `exec` and `pipeline`. Actor (agent, session, user), cwd, read and write scopes, network,
//! environment, secrets, timeout, effect type, risk class and approval mode all stay bound, so a
//! pattern can widen the argv, never the reach.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use cordon_core::approval::{ApprovalMethod, ApprovalScope, Approver, APPROVAL_VERSION};
use cordon_core::{Approval, Contract};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::ring::ApproverRing;
use crate::ApprovalError;

pub const FORMAT: &str = "cordon.signed-approval.v1";

/// How far in the future an approval's `approved_at` may lie (clocks of two machines disagree a
/// little; an approval dated further ahead is refused).
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

/// Largest artifact accepted from a file or the store.
pub const MAX_ARTIFACT_BYTES: usize = 64 * 1024;

/// What an approval authorizes, beyond its contract hash and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    /// One execution of this contract; consumed on use.
    Once,
    /// Any number of executions of this contract until the approval expires.
    Window,
    /// Executions of this contract in this agent session until the approval expires.
    Session { session_id: String },
    /// Contracts with this envelope whose every command line matches `pattern`, until expiry.
    Pattern {
        pattern: String,
        envelope_sha256: String,
    },
}

impl Scope {
    /// A single-use approval is consumed by its first execution.
    pub fn single_use(&self) -> bool {
        matches!(self, Scope::Once)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Once => "once",
            Scope::Window => "window",
            Scope::Session { .. } => "session",
            Scope::Pattern { .. } => "pattern",
        }
    }

    fn csc(&self) -> ApprovalScope {
        match self {
            Scope::Once => ApprovalScope::SingleExecution,
            _ => ApprovalScope::TimeWindow,
        }
    }
}

/// An approval with its signature, as written to a file or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedApproval {
    pub format: String,
    pub approval: Approval,
    pub scope: Scope,
    pub nonce: String,
    pub request_id: Option<String>,
    pub public_key: String,
    pub signature: String,
}

/// What the approver decides: everything but the signature, nonce and key.
#[derive(Debug, Clone)]
pub struct Grant {
    pub identity: String,
    pub method: ApprovalMethod,
    pub contract_sha256: String,
    pub scope: Scope,
    pub approved_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub request_id: Option<String>,
    pub reason: Option<String>,
}

/// A verified approval: who approved, which approval, whether it is consumed on use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    pub approval_id: String,
    pub nonce: String,
    pub identity: String,
    pub public_key: String,
    pub scope: String,
    pub single_use: bool,
    pub expires_at: String,
}

impl SignedApproval {
    /// Signs a grant with the approver's key. The approval id and nonce are fresh random values.
    pub fn sign(grant: &Grant, key: &SigningKey) -> Result<SignedApproval, ApprovalError> {
        if grant.expires_at <= grant.approved_at {
            return Err(ApprovalError::Malformed(
                "the expiry must come after the approval time".into(),
            ));
        }
        let approval = Approval {
            approval_version: APPROVAL_VERSION.to_string(),
            approval_id: format!("apr_{}", random_hex(12)),
            contract_sha256: grant.contract_sha256.clone(),
            approver: Approver {
                identity: grant.identity.clone(),
                method: grant.method,
            },
            approved_at: cordon_core::time::rfc3339(grant.approved_at),
            expires_at: cordon_core::time::rfc3339(grant.expires_at),
            scope: grant.scope.csc(),
            ticket_id: None,
            reason: grant.reason.clone().filter(|r| !r.is_empty()),
        };
        let mut signed = SignedApproval {
            format: FORMAT.to_string(),
            approval,
            scope: grant.scope.clone(),
            nonce: random_hex(16),
            request_id: grant.request_id.clone(),
            public_key: B64.encode(key.verifying_key().as_bytes()),
            signature: String::new(),
        };
        let payload = signed.payload()?;
        signed.signature = B64.encode(key.sign(&payload).to_bytes());
        Ok(signed)
    }

    /// Parses an artifact (strict JSON, CSC schema for the inner approval). Nothing is trusted yet.
    pub fn parse(bytes: &[u8]) -> Result<SignedApproval, ApprovalError> {
        if bytes.len() > MAX_ARTIFACT_BYTES {
            return Err(ApprovalError::Malformed(format!(
                "larger than {MAX_ARTIFACT_BYTES} bytes"
            )));
        }
        let value: Value = cordon_core::json::parse_strict(bytes)
            .map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        let inner = value
            .get("approval")
            .ok_or_else(|| ApprovalError::Malformed("no `approval` object".into()))?;
        // The inner approval must be a valid CSC approval on its own.
        let inner_bytes =
            serde_json::to_vec(inner).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        Approval::parse(&inner_bytes).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        let signed: SignedApproval =
            serde_json::from_value(value).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        if signed.format != FORMAT {
            return Err(ApprovalError::Malformed(format!(
                "format is {:?}, expected {FORMAT:?}",
                signed.format
            )));
        }
        Ok(signed)
    }

    /// One line of canonical JSON.
    pub fn to_json(&self) -> Result<String, ApprovalError> {
        let value =
            serde_json::to_value(self).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        cordon_core::canonical::to_string(&value)
            .map_err(|e| ApprovalError::Malformed(e.to_string()))
    }

    /// The bytes the signature covers.
    fn payload(&self) -> Result<Vec<u8>, ApprovalError> {
        let mut value =
            serde_json::to_value(self).map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        if let Value::Object(map) = &mut value {
            map.remove("signature");
        }
        let body = cordon_core::canonical::to_vec(&value)
            .map_err(|e| ApprovalError::Malformed(e.to_string()))?;
        let mut payload = Vec::with_capacity(FORMAT.len() + 1 + body.len());
        payload.extend_from_slice(FORMAT.as_bytes());
        payload.push(b'\n');
        payload.extend_from_slice(&body);
        Ok(payload)
    }

    /// Checks the signature and the signer against the ring, and the time window, but not what
    /// the approval covers: what an approver's own tools check before storing an answer.
    pub fn verify_signer(
        &self,
        ring: &ApproverRing,
        now: OffsetDateTime,
    ) -> Result<Verified, ApprovalError> {
        if self.nonce.len() != 32 || !self.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApprovalError::Malformed(
                "the nonce must be 32 hex digits".into(),
            ));
        }
        let key_bytes = B64
            .decode(&self.public_key)
            .map_err(|_| ApprovalError::Malformed("public_key is not base64".into()))?;
        let key_array: [u8; 32] = key_bytes
            .as_slice()
            .try_into()
            .map_err(|_| ApprovalError::Malformed("public_key is not 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&key_array)
            .map_err(|_| ApprovalError::Malformed("public_key is not an Ed25519 key".into()))?;
        // Trust first: an unknown key is refused whatever it signed.
        let listed = ring.identity_of(&key).ok_or(ApprovalError::UnknownKey)?;
        let signature_bytes = B64
            .decode(&self.signature)
            .map_err(|_| ApprovalError::BadSignature)?;
        let signature =
            Signature::from_slice(&signature_bytes).map_err(|_| ApprovalError::BadSignature)?;
        key.verify_strict(&self.payload()?, &signature)
            .map_err(|_| ApprovalError::BadSignature)?;
        if listed != self.approval.approver.identity {
            return Err(ApprovalError::IdentityMismatch {
                claimed: self.approval.approver.identity.clone(),
                listed: listed.to_string(),
            });
        }
        if self.approval.scope != self.scope.csc() {
            return Err(ApprovalError::Malformed(format!(
                "the CSC scope {:?} does not match the {} scope",
                self.approval.scope,
                self.scope.kind()
            )));
        }
        let approved_at = timestamp(&self.approval.approved_at, "approved_at")?;
        let expires_at = timestamp(&self.approval.expires_at, "expires_at")?;
        if approved_at > now + CLOCK_SKEW {
            return Err(ApprovalError::NotYetValid(
                self.approval.approved_at.clone(),
            ));
        }
        if expires_at <= now {
            return Err(ApprovalError::Expired(self.approval.expires_at.clone()));
        }
        if expires_at <= approved_at {
            return Err(ApprovalError::Malformed(
                "expires_at is not after approved_at".into(),
            ));
        }
        Ok(Verified {
            approval_id: self.approval.approval_id.clone(),
            nonce: self.nonce.clone(),
            identity: listed.to_string(),
            public_key: self.public_key.clone(),
            scope: self.scope.kind().to_string(),
            single_use: self.scope.single_use(),
            expires_at: self.approval.expires_at.clone(),
        })
    }

    /// Everything a runner checks before an approval may authorize `contract`: signature, trusted
    /// signer, identity, not-before, expiry, and the binding of its scope. Whether a single-use
    /// approval is still unused is the store's check ([`crate::Store::consume`]).
    pub fn verify(
        &self,
        ring: &ApproverRing,
        contract: &Contract,
        contract_sha256: &str,
        now: OffsetDateTime,
    ) -> Result<Verified, ApprovalError> {
        let verified = self.verify_signer(ring, now)?;
        self.covers(contract, contract_sha256)?;
        Ok(verified)
    }

    /// Whether the scope binds to this contract (see the module docs).
    pub fn covers(&self, contract: &Contract, contract_sha256: &str) -> Result<(), ApprovalError> {
        let same_hash = || {
            if self
                .approval
                .contract_sha256
                .eq_ignore_ascii_case(contract_sha256)
            {
                Ok(())
            } else {
                Err(ApprovalError::WrongContract(format!(
                    "it approves contract sha256 {}, this one is {contract_sha256}",
                    self.approval.contract_sha256
                )))
            }
        };
        match &self.scope {
            Scope::Once | Scope::Window => same_hash(),
            Scope::Session { session_id } => {
                same_hash()?;
                if *session_id != contract.actor.session_id {
                    return Err(ApprovalError::WrongContract(format!(
                        "it approves session {session_id:?}, this contract is in {:?}",
                        contract.actor.session_id
                    )));
                }
                Ok(())
            }
            Scope::Pattern {
                pattern,
                envelope_sha256,
            } => {
                let envelope = envelope_sha256_of(contract)?;
                if !envelope.eq_ignore_ascii_case(envelope_sha256) {
                    return Err(ApprovalError::WrongContract(
                        "its pattern was approved for another actor, cwd, scopes, network, environment or limits".into(),
                    ));
                }
                let matcher = pattern_matcher(pattern)?;
                for line in command_lines(contract) {
                    if !matcher.is_match(&line) {
                        return Err(ApprovalError::WrongContract(format!(
                            "the command line {line:?} does not match the approved pattern {pattern:?}"
                        )));
                    }
                }
                Ok(())
            }
        }
    }
}

/// The glob an approver writes, as a matcher over whole command lines (`*` matches any text,
/// `/` and spaces included; `?` one character; `[…]` a class).
pub fn pattern_matcher(pattern: &str) -> Result<globset::GlobMatcher, ApprovalError> {
    if pattern.trim().is_empty() {
        return Err(ApprovalError::Malformed("the pattern is empty".into()));
    }
    globset::GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| ApprovalError::Malformed(format!("the pattern {pattern:?}: {e}")))
}

/// Each command of the contract as one shell-quoted line; a pipeline's segments joined by ` | `.
pub fn command_lines(contract: &Contract) -> Vec<String> {
    contract
        .commands
        .iter()
        .map(|command| {
            command
                .argvs()
                .map(|argv| {
                    shlex::try_join(argv.iter().map(String::as_str))
                        .unwrap_or_else(|_| argv.join(" "))
                })
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect()
}

/// SHA-256 of the contract's envelope (the module docs list what is left out).
pub fn envelope_sha256_of(contract: &Contract) -> Result<String, ApprovalError> {
    let mut value = contract.normalized();
    if let Value::Object(map) = &mut value {
        for field in ["contract_id", "intent", "justification"] {
            map.remove(field);
        }
        if let Some(Value::Array(commands)) = map.get_mut("commands") {
            for command in commands {
                if let Value::Object(c) = command {
                    for field in ["id", "exec", "pipeline"] {
                        c.remove(field);
                    }
                }
            }
        }
    }
    cordon_core::hash::canonical_sha256(&value).map_err(|e| ApprovalError::Malformed(e.to_string()))
}

fn timestamp(text: &str, field: &str) -> Result<OffsetDateTime, ApprovalError> {
    cordon_core::time::parse_rfc3339(text)
        .ok_or_else(|| ApprovalError::Malformed(format!("{field} is not an RFC 3339 time")))
}

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    use rand_core::RngCore as _;
    let mut buf = vec![0u8; bytes];
    rand_core::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Dual control: picks approvals from distinct approvers, each with an identity *and* a key not
/// seen before, until `required` are found. Two approvals by one person (one identity, or one key
/// under any name) count once.
pub fn distinct_approvers(
    verified: &[Verified],
    required: usize,
) -> Result<Vec<Verified>, ApprovalError> {
    let mut chosen: Vec<Verified> = Vec::new();
    for v in verified {
        if chosen
            .iter()
            .all(|c| c.identity != v.identity && c.public_key != v.public_key)
        {
            chosen.push(v.clone());
        }
        if chosen.len() == required {
            return Ok(chosen);
        }
    }
    Err(ApprovalError::NotDistinct(format!(
        "{} distinct of {} needed",
        chosen.len(),
        required
    )))
}
