//! Signing what cordon wrote, and trusting only what it signed.
//!
//! Checkpoint manifests and trash manifests live in cordon's home, which an agent must never be
//! able to write, but rollback and restore act with the person's full authority, so they do not
//! rely on that alone: each manifest carries a CSC-style Ed25519 signature made with the home's
//! key (the same scheme and key as receipts, `cordon_journal::signing`), with a `type` member
//! that says what the signed object is, so a receipt or a trash manifest can never pass for a
//! checkpoint seal. [`Trust`] says what a reader requires.

use cordon_journal::{KeyRing, Signer};
use serde_json::Value;

use crate::error::{Error, Result};

/// How a writer seals what it writes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sealing<'a> {
    /// No key: for callers that have not been given one yet. Readers that require a signature
    /// refuse what this writes.
    Unsigned,
    Signed(&'a Signer),
}

/// What a reader requires before it acts on a manifest.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trust<'a> {
    /// Accept unsigned manifests (and do not check signatures): the unsigned entry points only.
    Unchecked,
    /// A valid signature by one of these keys, inside its validity window.
    Keys(&'a KeyRing),
}

/// Signs `object` (a JSON object with a `type` member) with the signer, if any; returns the
/// signed object and the key id, or the object unchanged and `None`.
pub(crate) fn seal(object: Value, sealing: Sealing<'_>) -> Result<(Value, Option<String>)> {
    match sealing {
        Sealing::Unsigned => Ok((object, None)),
        Sealing::Signed(signer) => {
            let signed = cordon_journal::sign_receipt(&object, signer)
                .map_err(|e| Error::Signing(e.to_string()))?;
            Ok((signed, Some(signer.key_id().to_string())))
        }
    }
}

/// Checks `object`'s signature and its `type` as `trust` requires. `what` names the object in
/// the refusal (`checkpoint ck-…`). Returns the key id that signed it, if checked.
pub(crate) fn check(
    object: &Value,
    expected_type: &str,
    what: &str,
    trust: Trust<'_>,
) -> Result<Option<String>> {
    if object.get("type").and_then(Value::as_str) != Some(expected_type) {
        return Err(untrusted(
            what,
            format!("its signed record is not a {expected_type}"),
        ));
    }
    match trust {
        Trust::Unchecked => Ok(None),
        Trust::Keys(keys) => {
            if object.get("signature").is_none() {
                return Err(untrusted(what, "it is not signed".into()));
            }
            cordon_journal::verify_with_ring(object, keys)
                .map(|v| Some(v.key_id))
                .map_err(|e| untrusted(what, format!("its signature does not verify: {e}")))
        }
    }
}

pub(crate) fn untrusted(what: &str, reason: String) -> Error {
    Error::Untrusted {
        what: what.to_string(),
        reason,
    }
}
