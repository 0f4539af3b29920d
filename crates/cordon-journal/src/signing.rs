//! CSC-style Ed25519 signatures over JSON objects (csc-protocol.md §6.2).
//!
//! The payload is the canonical JSON of the *whole* object with
//! `signature = {algorithm, key_id, signed_at}`, i.e. only `signature.signature` removed; nulls are
//! kept. So the algorithm, the key id and the signing time are authenticated, unlike formats that
//! sign a detached payload. Receipts and decision records are signed the same way, which is what
//! lets `csc verify-receipt` check cordon's receipts and cordon check csc-runner's.
//!
//! Verification runs csc-runner's checks in csc-runner's order with its messages, then adds two of
//! cordon's: strict Ed25519 (`verify_strict`: no small-order keys or points, no malleable `s`) and
//! the key ring's validity window for `signed_at`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value};

use crate::error::{py_repr, JournalError};
use crate::keys::{KeyRing, Signer};
use crate::time_fmt;

/// The only algorithm CSC defines.
pub const ALGORITHM: &str = "ed25519";

/// Signs `object` now. See [`sign_at`].
pub fn sign_receipt(object: &Value, signer: &Signer) -> Result<Value, JournalError> {
    sign_at(object, signer, &time_fmt::now())
}

/// Returns a copy of `object` carrying
/// `signature = {algorithm, key_id, signed_at, signature}`; any existing `signature` is replaced.
pub fn sign_at(object: &Value, signer: &Signer, signed_at: &str) -> Result<Value, JournalError> {
    let Value::Object(map) = object else {
        return Err(JournalError::InvalidEntry(
            "only a JSON object can be signed".into(),
        ));
    };
    let mut map = map.clone();
    let mut sig = Map::new();
    sig.insert("algorithm".into(), Value::String(ALGORITHM.into()));
    sig.insert("key_id".into(), Value::String(signer.key_id().into()));
    sig.insert("signed_at".into(), Value::String(signed_at.into()));
    map.insert("signature".into(), Value::Object(sig));
    let mut value = Value::Object(map);
    let payload = cordon_core::canonical::to_vec(&value)
        .map_err(|e| JournalError::InvalidEntry(e.to_string()))?;
    let raw = signer.sign(&payload);
    if let Some(Value::Object(sig)) = value.get_mut("signature") {
        sig.insert("signature".into(), Value::String(STANDARD.encode(raw)));
    }
    Ok(value)
}

/// An entry serialized once, ready to be signed: the payload and the final line differ only in
/// the `signature` member, so both are assembled from the same serialized members. This halves
/// the serialization cost of an append, and lets a batch be signed in parallel.
pub(crate) struct Prepared {
    map: Map<String, Value>,
    before: Vec<u8>,
    after: Vec<u8>,
    sig: Map<String, Value>,
    /// The exact bytes to sign.
    pub(crate) payload: Vec<u8>,
}

fn canon(v: &Value) -> Result<Vec<u8>, JournalError> {
    cordon_core::canonical::to_vec(v).map_err(|e| JournalError::InvalidEntry(e.to_string()))
}

impl Prepared {
    pub(crate) fn new(
        mut map: Map<String, Value>,
        key_id: &str,
        signed_at: &str,
    ) -> Result<Prepared, JournalError> {
        map.remove("signature");
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let split = keys.partition_point(|k| k.as_bytes() < b"signature".as_slice());
        let (mut before, mut after) = (Vec::with_capacity(1024), Vec::with_capacity(256));
        for (i, k) in keys.iter().enumerate() {
            let buf = if i < split { &mut before } else { &mut after };
            if !buf.is_empty() {
                buf.push(b',');
            }
            buf.extend_from_slice(&canon(&Value::String((*k).clone()))?);
            buf.push(b':');
            buf.extend_from_slice(&canon(&map[k.as_str()])?);
        }
        let mut sig = Map::new();
        sig.insert("algorithm".into(), Value::String(ALGORITHM.into()));
        sig.insert("key_id".into(), Value::String(key_id.into()));
        sig.insert("signed_at".into(), Value::String(signed_at.into()));
        let mut p = Prepared {
            map,
            before,
            after,
            sig,
            payload: Vec::new(),
        };
        p.payload = p.assemble(&canon(&Value::Object(p.sig.clone()))?);
        Ok(p)
    }

    fn assemble(&self, sig: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.before.len() + self.after.len() + sig.len() + 16);
        out.push(b'{');
        out.extend_from_slice(&self.before);
        if !self.before.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"signature\":");
        out.extend_from_slice(sig);
        if !self.after.is_empty() {
            out.push(b',');
            out.extend_from_slice(&self.after);
        }
        out.push(b'}');
        out
    }

    /// The signed value and its canonical line.
    pub(crate) fn finish(mut self, raw: &[u8; 64]) -> Result<(Value, Vec<u8>), JournalError> {
        self.sig
            .insert("signature".into(), Value::String(STANDARD.encode(raw)));
        let sig = Value::Object(std::mem::take(&mut self.sig));
        let line = self.assemble(&canon(&sig)?);
        self.map.insert("signature".into(), sig);
        Ok((Value::Object(self.map), line))
    }
}

/// Signs `map` like [`sign_at`] and also returns the signed value's canonical line.
#[cfg(test)]
pub(crate) fn sign_to_line(
    map: Map<String, Value>,
    signer: &Signer,
    signed_at: &str,
) -> Result<(Value, Vec<u8>), JournalError> {
    let p = Prepared::new(map, signer.key_id(), signed_at)?;
    let raw = signer.sign(&p.payload);
    p.finish(&raw)
}

/// The exact bytes a CSC signature covers: the canonical JSON of `object` with
/// `signature.signature` removed (and `signature` removed entirely if it is not an object).
pub fn signing_payload(object: &Map<String, Value>) -> Result<Vec<u8>, JournalError> {
    let mut copy = object.clone();
    match copy.get_mut("signature") {
        Some(Value::Object(sig)) => {
            sig.remove("signature");
        }
        Some(_) => {
            copy.remove("signature");
        }
        None => {}
    }
    cordon_core::canonical::to_vec(&Value::Object(copy))
        .map_err(|e| JournalError::InvalidEntry(e.to_string()))
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    pub signed_at: String,
}

/// Verifies a CSC signature against one key registered under `key_id` (csc-runner's
/// `verify-receipt --public-key --key-id`).
pub fn verify_receipt(
    object: &Value,
    key_id: &str,
    key: &VerifyingKey,
) -> Result<Verified, JournalError> {
    verify_with_ring(object, &KeyRing::single(key_id, *key))
}

/// Verifies a CSC signature, resolving `signature.key_id` in `ring` and checking `signed_at`
/// against the key's validity window.
pub fn verify_with_ring(object: &Value, ring: &KeyRing) -> Result<Verified, JournalError> {
    let Value::Object(map) = object else {
        return Err(JournalError::MissingSignature);
    };
    verify_payload(map, &signing_payload(map)?, ring)
}

/// [`verify_with_ring`] with the payload already computed by [`signing_payload`].
pub(crate) fn verify_payload(
    map: &Map<String, Value>,
    payload: &[u8],
    ring: &KeyRing,
) -> Result<Verified, JournalError> {
    let checked = check_signature_fields(map)?;
    let mut any_key = false;
    let mut outside_window = false;
    let mut accepted = false;
    for (key, window) in ring.candidates(&checked.key_id) {
        any_key = true;
        if !crate::keys::verify_ed25519(key, payload, &checked.signature) {
            continue;
        }
        if window.is_unbounded() {
            accepted = true;
            break;
        }
        match time_fmt::parse(&checked.signed_at) {
            Some(t) if window.contains(t) => {
                accepted = true;
                break;
            }
            _ => outside_window = true,
        }
    }
    if accepted {
        return Ok(checked.verified());
    }
    if !any_key {
        return Err(JournalError::UnknownKeyId(py_repr(&checked.key_id)));
    }
    if outside_window {
        return Err(JournalError::KeyNotValidAt {
            key_id: py_repr(&checked.key_id),
            signed_at: py_repr(&checked.signed_at),
        });
    }
    Err(JournalError::InvalidSignature)
}

/// csc-runner's checks 1–4 on an entry's `signature` object, returning the raw 64-byte Ed25519
/// signature to verify (in a batch, by the witness).
pub(crate) fn raw_signature(map: &Map<String, Value>) -> Result<[u8; 64], JournalError> {
    let checked = check_signature_fields(map)?;
    checked
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| JournalError::InvalidSignature)
}

struct Checked {
    key_id: String,
    signed_at: String,
    signature: Vec<u8>,
}

impl Checked {
    fn verified(self) -> Verified {
        Verified {
            key_id: self.key_id,
            signed_at: self.signed_at,
        }
    }
}

/// csc-runner's checks 1–4: a `signature` object, `ed25519`, a non-empty key id, a base64 value.
fn check_signature_fields(map: &Map<String, Value>) -> Result<Checked, JournalError> {
    let Some(Value::Object(sig)) = map.get("signature") else {
        return Err(JournalError::MissingSignature);
    };
    match sig.get("algorithm") {
        Some(Value::String(a)) if a == ALGORITHM => {}
        Some(Value::String(a)) => return Err(JournalError::UnsupportedAlgorithm(py_repr(a))),
        Some(other) => return Err(JournalError::UnsupportedAlgorithm(other.to_string())),
        None => return Err(JournalError::UnsupportedAlgorithm("None".into())),
    }
    let key_id = match sig.get("key_id") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        _ => return Err(JournalError::MissingKeyId),
    };
    let Some(Value::String(value)) = sig.get("signature") else {
        return Err(JournalError::MalformedSignature);
    };
    // A decoded value of the wrong length is a signature that does not verify, as in csc-runner.
    let signature = STANDARD
        .decode(value)
        .map_err(|_| JournalError::MalformedSignature)?;
    let signed_at = match sig.get("signed_at") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Ok(Checked {
        key_id,
        signed_at,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signer() -> Signer {
        let seed: Vec<u8> = (0u8..32).collect();
        Signer::from_bytes(&seed, "k1").unwrap()
    }

    #[test]
    fn signs_and_verifies_and_keeps_nulls() {
        let s = signer();
        let signed = sign_at(
            &json!({"a": null, "b": 1}),
            &s,
            "2026-01-01T00:00:00.000000+00:00",
        )
        .unwrap();
        assert_eq!(signed["a"], Value::Null);
        verify_receipt(&signed, "k1", &s.verifying_key()).unwrap();
        let payload = signing_payload(signed.as_object().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(payload).unwrap(),
            r#"{"a":null,"b":1,"signature":{"algorithm":"ed25519","key_id":"k1","signed_at":"2026-01-01T00:00:00.000000+00:00"}}"#
        );
    }

    #[test]
    fn the_one_pass_line_equals_signing_then_canonicalizing() {
        let s = signer();
        for v in [
            json!({}),
            json!({"a": 1}),
            json!({"z": [1, {"signature": 2}], "sig": "x", "signaturf": null, "é": "ü\n", "signature": "old"}),
            json!({"signature": {"algorithm": "x"}, "zz": {"b": 1, "a": 2}}),
        ] {
            let (value, line) =
                sign_to_line(v.as_object().unwrap().clone(), &s, "2026-01-01T00:00:00Z").unwrap();
            assert_eq!(value, sign_at(&v, &s, "2026-01-01T00:00:00Z").unwrap());
            assert_eq!(line, cordon_core::canonical::to_vec(&value).unwrap());
            verify_receipt(&value, "k1", &s.verifying_key()).unwrap();
        }
    }

    #[test]
    fn messages_follow_csc_runner_in_its_order() {
        let s = signer();
        let k = s.verifying_key();
        let good = sign_at(&json!({"x": 1}), &s, "2026-01-01T00:00:00Z").unwrap();
        let msg = |v: &Value| verify_receipt(v, "k1", &k).unwrap_err().to_string();
        assert_eq!(msg(&json!({"x": 1})), "missing signature");
        assert_eq!(
            msg(&json!({"x": 1, "signature": "abc"})),
            "missing signature"
        );
        let mut v = good.clone();
        v["signature"]["algorithm"] = json!("x");
        assert_eq!(msg(&v), "unsupported algorithm: 'x'");
        let mut v = good.clone();
        v["signature"]["key_id"] = json!("k");
        assert_eq!(msg(&v), "unknown key_id: 'k'");
        let mut v = good.clone();
        v["x"] = json!(2);
        assert_eq!(msg(&v), "invalid signature");
        let mut v = good.clone();
        v["signature"]["signature"] = json!("not base64!");
        assert_eq!(msg(&v), "malformed signature value");
        let mut v = good;
        v["signature"]["signed_at"] = json!("2026-01-01T00:00:01Z");
        assert_eq!(msg(&v), "invalid signature");
    }

    #[test]
    fn the_window_is_enforced_on_the_authenticated_time() {
        let s = signer();
        let mut ring = KeyRing::new();
        ring.insert(
            "k1",
            s.verifying_key(),
            time_fmt::parse("2026-01-01T00:00:00Z"),
            time_fmt::parse("2026-02-01T00:00:00Z"),
        );
        let inside = sign_at(&json!({}), &s, "2026-01-15T00:00:00.000000+00:00").unwrap();
        let after = sign_at(&json!({}), &s, "2026-02-01T00:00:00.000000+00:00").unwrap();
        let garbage = sign_at(&json!({}), &s, "soon").unwrap();
        verify_with_ring(&inside, &ring).unwrap();
        assert!(matches!(
            verify_with_ring(&after, &ring),
            Err(JournalError::KeyNotValidAt { .. })
        ));
        assert!(matches!(
            verify_with_ring(&garbage, &ring),
            Err(JournalError::KeyNotValidAt { .. })
        ));
    }
}
