//! Decision records, the receipt → decision link, and journal position binding.
//!
//! Every decision is evidence, denials most of all, so each one becomes a signed
//! `cordon.decision.v1` record before anything runs. A run's receipt then names its record by id,
//! journal index and leaf hash (`decision_record`), so a verifier can show which decision
//! authorised which execution, and that neither was swapped afterwards.
//!
//! Entries the journal signs itself also carry `log_position = {origin, index,
//! previous_payload_hash}` inside the signed object (the SHA-256 of the previous entry's signing
//! payload, so a whole batch can be prepared in order and then signed in parallel). The Merkle tree alone proves *that* the journal
//! changed; the position binding lets the verifier say *which* entry was deleted, inserted or moved.
//!
//! The shapes are documented in `docs/journal.md`.

use cordon_core::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::JournalError;
use crate::merkle::Hash;
use crate::time_fmt;

/// `record_version` of a decision record.
pub const DECISION_RECORD_VERSION: &str = "cordon.decision.v1";
/// Member naming a receipt's (or a tool outcome's) decision record.
pub const DECISION_LINK: &str = "decision_record";
/// `event_version` of what an agent reported about a tool call it ran: valid only when it names
/// the decision record of that call (`decision_record`, as a receipt does).
pub const TOOL_OUTCOME_VERSION: &str = "cordon.tool-outcome.v1";
/// Member binding an entry to its place in a journal.
pub const LOG_POSITION: &str = "log_position";

/// What a decision record says. Strings are taken as given; hashes are checked for shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub contract_id: String,
    /// Bare lowercase hex SHA-256 of the normalized contract (CSC `contract_sha256`).
    pub contract_sha256: String,
    pub policy_profile: String,
    /// `sha256:<hex>` digest pinning the policy in force.
    pub policy_digest: String,
    /// One of the five outcomes (DESIGN.md), written as its name (`allow`, `ask`, …).
    pub outcome: Outcome,
    /// Stable reason codes, in the order the engine produced them.
    pub reason_codes: Vec<String>,
    /// One sentence for a person.
    pub reason: String,
    /// Who asked (agent, harness or user identifier).
    pub actor: String,
    pub session_id: String,
    /// The sandbox profile the command would run under; `None` for decisions that run nothing.
    pub sandbox_profile: Option<String>,
    /// Free-form details (e.g. a redirect's replacement command); `Value::Null` for none.
    #[serde(default)]
    pub details: Value,
}

/// Builds an unsigned decision record with a fresh `record_id` and `decided_at` = now.
pub fn decision_record(d: &Decision) -> Result<Value, JournalError> {
    decision_record_at(d, &new_record_id(), &time_fmt::now())
}

/// Builds an unsigned decision record with the given id and time (deterministic, for tests).
pub fn decision_record_at(
    d: &Decision,
    record_id: &str,
    decided_at: &str,
) -> Result<Value, JournalError> {
    let bad = |field: &str, why: &str| {
        Err(JournalError::InvalidEntry(format!(
            "decision record: {field} {why}"
        )))
    };
    if d.contract_sha256.len() != 64 || !d.contract_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad("contract_sha256", "must be 64 hex digits");
    }
    match d.policy_digest.strip_prefix("sha256:") {
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {}
        _ => return bad("policy_digest", "must be \"sha256:\" and 64 hex digits"),
    }
    if d.reason_codes.is_empty() {
        return bad("reason_codes", "must name at least one code");
    }
    if record_id.is_empty() {
        return bad("record_id", "must not be empty");
    }
    Ok(json!({
        "record_version": DECISION_RECORD_VERSION,
        "record_id": record_id,
        "decided_at": decided_at,
        "contract_id": d.contract_id,
        "contract_sha256": d.contract_sha256,
        "policy_profile": d.policy_profile,
        "policy_digest": d.policy_digest,
        "outcome": d.outcome.as_str(),
        "reason_codes": d.reason_codes,
        "reason": d.reason,
        "actor": d.actor,
        "session_id": d.session_id,
        "sandbox_profile": d.sandbox_profile,
        "details": d.details,
    }))
}

/// `dec_` and 128 random bits in hex.
pub fn new_record_id() -> String {
    let mut raw = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    format!("dec_{}", hex::encode(raw))
}

/// Where an appended entry landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appended {
    pub index: u64,
    /// Lowercase hex of the RFC 9162 leaf hash of the entry's line.
    pub leaf_hash: String,
    /// `record_id` of the entry, if it is a decision record.
    pub record_id: Option<String>,
    /// The signed entry exactly as stored.
    #[serde(skip)]
    pub entry: Value,
}

/// Points an (unsigned) receipt or tool outcome at its decision record: sets
/// `decision_record = {record_id, index, leaf_hash}`. Sign the entry afterwards.
pub fn link_decision(receipt: &mut Value, record: &Appended) -> Result<(), JournalError> {
    let Some(record_id) = &record.record_id else {
        return Err(JournalError::InvalidEntry(
            "the linked entry is not a decision record".into(),
        ));
    };
    let Value::Object(map) = receipt else {
        return Err(JournalError::InvalidEntry(
            "an entry linked to a decision must be a JSON object".into(),
        ));
    };
    map.insert(
        DECISION_LINK.into(),
        json!({"record_id": record_id, "index": record.index, "leaf_hash": record.leaf_hash}),
    );
    Ok(())
}

/// The kind of a journal entry, by its version member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Decision,
    Receipt,
    Other,
}

pub fn entry_kind(map: &Map<String, Value>) -> EntryKind {
    if map.get("record_version").and_then(Value::as_str) == Some(DECISION_RECORD_VERSION) {
        EntryKind::Decision
    } else if map.get("receipt_version").is_some_and(|v| !v.is_null()) {
        EntryKind::Receipt
    } else {
        EntryKind::Other
    }
}

/// SHA-256 of an entry's CSC signing payload: what `previous_payload_hash` names.
pub(crate) fn payload_hash(payload: &[u8]) -> Hash {
    use sha2::Digest as _;
    sha2::Sha256::digest(payload).into()
}

/// The payload hash of a stored line, or `None` if it is not a JSON object.
pub(crate) fn line_payload_hash(line: &[u8]) -> Option<Hash> {
    match serde_json::from_slice::<Value>(line).ok()? {
        Value::Object(m) => crate::signing::signing_payload(&m)
            .ok()
            .map(|p| payload_hash(&p)),
        _ => None,
    }
}

/// Inserts `log_position` into an unsigned entry.
pub(crate) fn bind_position(
    entry: &mut Map<String, Value>,
    origin: &str,
    index: u64,
    previous: Option<&Hash>,
) {
    let mut pos = Map::new();
    pos.insert("origin".into(), Value::String(origin.into()));
    pos.insert("index".into(), Value::from(index));
    if let Some(p) = previous {
        pos.insert(
            "previous_payload_hash".into(),
            Value::String(hex::encode(p)),
        );
    }
    entry.insert(LOG_POSITION.into(), Value::Object(pos));
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Decision {
        Decision {
            contract_id: "contract_git_status_001".into(),
            contract_sha256: "2c8487847d601deb81882f5b55a520313b06d7a137a122bee1f5748320c0afd3"
                .into(),
            policy_profile: "dev-readonly".into(),
            policy_digest:
                "sha256:439e7b580bf6269d598bc73d2e1681fe4384c74fef35e57b26da980cd29b23f1".into(),
            outcome: Outcome::Deny,
            reason_codes: vec!["COMMAND_NOT_ALLOWED".into()],
            reason: "curl is not in allow_commands".into(),
            actor: "agent:claude-code".into(),
            session_id: "s-1".into(),
            sandbox_profile: None,
            details: Value::Null,
        }
    }

    #[test]
    fn builds_the_documented_shape() {
        let v = decision_record_at(&sample(), "dec_1", "2026-01-01T00:00:00.000000+00:00").unwrap();
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "actor",
                "contract_id",
                "contract_sha256",
                "decided_at",
                "details",
                "outcome",
                "policy_digest",
                "policy_profile",
                "reason",
                "reason_codes",
                "record_id",
                "record_version",
                "sandbox_profile",
                "session_id"
            ]
        );
        assert_eq!(entry_kind(v.as_object().unwrap()), EntryKind::Decision);
        assert!(new_record_id().starts_with("dec_") && new_record_id().len() == 36);
    }

    #[test]
    fn refuses_bad_fields() {
        assert!(serde_json::from_value::<Decision>(json!({"outcome": "maybe"})).is_err());
        let mut d = sample();
        d.policy_digest = "439e".into();
        assert!(decision_record(&d).is_err());
        let mut d = sample();
        d.reason_codes.clear();
        assert!(decision_record(&d).is_err());
    }
}
