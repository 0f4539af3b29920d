//! Veritas Acta draft -03 receipts: export and verification (receipts-and-audit.md §1).
//!
//! Acta is an interoperability target, not cordon's own format: it signs the envelope's `payload`
//! alone (so `alg` and `kid` are not authenticated), canonicalizes with RFC 8785 JCS (keys in
//! UTF-16 order, ECMAScript numbers) rather than CSC's Python form, and encodes signatures in hex.
//! So it gets its own canonicalizer and verifier here, kept apart from the CSC path.
//!
//! The verifier follows the -03 text as the `agent-evidence-vectors` receipt-signature corpus
//! grades it: envelope shape only; a `signature` member inside the payload is rejected whatever
//! its value; `kid` resolves only in an external key set (never a key in the receipt); Ed25519
//! `verify_strict` over JCS(payload) with no pre-hash; the key's `valid_from` (inclusive) and
//! `valid_until` (exclusive) against `issued_at` when the key set publishes them; and
//! `previousReceiptHash` = `sha256:` + hex SHA-256(JCS(previous receipt, signature included)) when
//! a chain is presented. `revoked_at` is read by no rule of -03, so it is not applied.

use std::fmt::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Map, Number, Value};
use sha2::{Digest as _, Sha256};

use cordon_core::canonical::write_string;

use crate::error::JournalError;
use crate::keys::{self, Signer};
use crate::record::DECISION_RECORD_VERSION;
use crate::time_fmt;
use crate::verify::Outcome;

/// RFC 8785 canonical JSON.
pub fn jcs(value: &Value) -> Result<Vec<u8>, JournalError> {
    let mut out = String::with_capacity(256);
    write(&mut out, value)?;
    Ok(out.into_bytes())
}

fn write(out: &mut String, v: &Value) -> Result<(), JournalError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, x)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            // RFC 8785 §3.2.3: member names sorted by their UTF-16 code units.
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, x)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write(out, x)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 §3.2.2.3).
fn write_number(out: &mut String, n: &Number) -> Result<(), JournalError> {
    let f = match (n.as_i64(), n.as_u64()) {
        (Some(i), _) if i.unsigned_abs() <= (1 << 53) => {
            let _ = write!(out, "{i}");
            return Ok(());
        }
        (None, Some(u)) if u <= (1 << 53) => {
            let _ = write!(out, "{u}");
            return Ok(());
        }
        _ => n
            .as_f64()
            .ok_or_else(|| JournalError::InvalidEntry("a number has no JSON form".into()))?,
    };
    if !f.is_finite() {
        return Err(JournalError::InvalidEntry("a number is not finite".into()));
    }
    if f == 0.0 {
        out.push('0');
        return Ok(());
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let point = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= point && point <= 21 {
        out.push_str(&digits);
        out.push_str(&"0".repeat((point - k) as usize));
    } else if 0 < point && point <= 21 {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else if -6 < point && point <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-point) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{}",
            if point - 1 < 0 { '-' } else { '+' },
            (point - 1).abs()
        );
    }
    Ok(())
}

/// `sha256:` + hex SHA-256(JCS(receipt)): the -03 §6.7 chain link to `receipt`.
pub fn receipt_hash(receipt: &Value) -> Result<String, JournalError> {
    Ok(format!(
        "sha256:{}",
        hex::encode(Sha256::digest(jcs(receipt)?))
    ))
}

/// The verifier's answer, in the corpus contract's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActaVerdict {
    pub verdict: Outcome,
    pub code: Option<&'static str>,
    #[serde(skip)]
    pub reason: String,
}

fn answer(verdict: Outcome, code: &'static str, reason: impl Into<String>) -> ActaVerdict {
    ActaVerdict {
        verdict,
        code: Some(code),
        reason: reason.into(),
    }
}

/// Verifies an Acta -03 envelope receipt against a JWKS key set; `chain` holds the receipts before
/// it, first to last (empty if none was presented).
pub fn verify(receipt: &Value, jwks: &Value, chain: &[Value]) -> ActaVerdict {
    use Outcome::{Invalid, Undecidable};
    let Some(env) = receipt.as_object() else {
        return answer(
            Undecidable,
            "malformed_receipt",
            "the receipt is not a JSON object",
        );
    };
    let (Some(Value::Object(payload)), Some(Value::Object(sig))) =
        (env.get("payload"), env.get("signature"))
    else {
        return answer(
            Undecidable,
            "unsupported_shape",
            "only the -03 envelope {payload, signature} is supported",
        );
    };
    if env.len() != 2 {
        return answer(
            Undecidable,
            "unsupported_shape",
            "an envelope has exactly the members payload and signature",
        );
    }
    if payload.contains_key("signature") {
        return answer(
            Invalid,
            "signature_in_signing_input",
            "the payload carries a signature member (-03 §6.6)",
        );
    }
    if sig.get("alg").and_then(Value::as_str) != Some("EdDSA") {
        return answer(
            Undecidable,
            "unsupported_algorithm",
            format!("unsupported alg {}", sig.get("alg").unwrap_or(&Value::Null)),
        );
    }
    let Some(kid) = sig.get("kid").and_then(Value::as_str) else {
        return answer(Undecidable, "malformed_receipt", "signature.kid is missing");
    };
    let Some(jwk) = jwks.get("keys").and_then(Value::as_array).and_then(|ks| {
        ks.iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
    }) else {
        return answer(
            Undecidable,
            "unknown_kid",
            format!("no key for kid {kid:?} in the key set"),
        );
    };
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return answer(
            Undecidable,
            "unsupported_algorithm",
            "the key is not an Ed25519 OKP key",
        );
    }
    let key = match jwk
        .get("x")
        .and_then(Value::as_str)
        .and_then(|x| URL_SAFE_NO_PAD.decode(x).ok())
        .map(|raw| keys::parse_public_key(&raw))
    {
        Some(Ok(k)) => k,
        _ => {
            return answer(
                Undecidable,
                "malformed_key",
                "the key's x is not a 32-byte base64url Ed25519 key",
            )
        }
    };
    let raw_sig = sig
        .get("sig")
        .and_then(Value::as_str)
        .and_then(|s| hex::decode(s).ok())
        .unwrap_or_default();
    let input = match jcs(&Value::Object(payload.clone())) {
        Ok(b) => b,
        Err(e) => return answer(Undecidable, "malformed_receipt", e.to_string()),
    };
    if !keys::verify_ed25519(&key, &input, &raw_sig) {
        return answer(
            Invalid,
            "signature_invalid",
            "the signature does not verify over JCS(payload)",
        );
    }
    let issued = payload
        .get("issued_at")
        .and_then(Value::as_str)
        .and_then(time_fmt::parse);
    for (bound, before) in [("valid_from", true), ("valid_until", false)] {
        let Some(limit) = jwk.get(bound).and_then(Value::as_str) else {
            continue;
        };
        let (Some(limit), Some(t)) = (time_fmt::parse(limit), issued) else {
            return answer(
                Undecidable,
                "malformed_receipt",
                "issued_at or the key's window is not an RFC 3339 time",
            );
        };
        if (before && t < limit) || (!before && t >= limit) {
            return answer(
                Invalid,
                "key_outside_validity_window",
                format!("issued_at is outside the key's {bound}"),
            );
        }
    }
    if let Some(prev) = chain.last() {
        let want = match receipt_hash(prev) {
            Ok(h) => h,
            Err(e) => return answer(Undecidable, "malformed_receipt", e.to_string()),
        };
        let got = payload
            .get("previousReceiptHash")
            .and_then(Value::as_str)
            .unwrap_or("");
        // -03 lets verifiers accept the -02 bare-hex form.
        if got != want && got != &want["sha256:".len()..] {
            return answer(
                Invalid,
                "chain_link_mismatch",
                "previousReceiptHash does not name the receipt before it",
            );
        }
    }
    ActaVerdict {
        verdict: Outcome::Valid,
        code: None,
        reason: String::new(),
    }
}

/// Exports a signed cordon decision record as an Acta -03 envelope receipt signed by `signer`
/// (whose key id becomes both `kid` and `issuer_id`), chained to `previous` if given.
pub fn export_decision(
    record: &Value,
    signer: &Signer,
    previous: Option<&Value>,
) -> Result<Value, JournalError> {
    let Some(r) = record.as_object().filter(|r| {
        r.get("record_version").and_then(Value::as_str) == Some(DECISION_RECORD_VERSION)
    }) else {
        return Err(JournalError::InvalidEntry(
            "only cordon.decision.v1 records export to Acta".into(),
        ));
    };
    let s = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    // Acta's decisions: allow | deny | rate_limit | require_approval.
    let decision = match r.get("outcome").and_then(Value::as_str) {
        Some("allow") | Some("allow_with_checkpoint") => "allow",
        Some("ask") => "require_approval",
        _ => "deny",
    };
    let mut payload = Map::new();
    payload.insert("type".into(), json!("cordon:decision"));
    payload.insert("spec".into(), json!("draft-farley-acta-signed-receipts-03"));
    payload.insert(
        "issued_at".into(),
        json!(acta_time(
            r.get("decided_at").and_then(Value::as_str).unwrap_or("")
        )),
    );
    payload.insert("issuer_id".into(), json!(signer.key_id()));
    payload.insert("tool_name".into(), s("contract_id"));
    payload.insert("decision".into(), json!(decision));
    if let Some(code) = r
        .get("reason_codes")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
    {
        payload.insert("reason".into(), code.clone());
    }
    payload.insert("policy_digest".into(), s("policy_digest"));
    payload.insert("session_id".into(), s("session_id"));
    payload.insert("x-cordon:record_id".into(), s("record_id"));
    payload.insert("x-cordon:contract_sha256".into(), s("contract_sha256"));
    payload.insert("x-cordon:outcome".into(), s("outcome"));
    if let Some(p) = previous {
        payload.insert("previousReceiptHash".into(), json!(receipt_hash(p)?));
    }
    let payload = Value::Object(payload);
    let sig = signer.sign(&jcs(&payload)?);
    Ok(
        json!({"payload": payload, "signature": {"alg": "EdDSA", "kid": signer.key_id(), "sig": hex::encode(sig)}}),
    )
}

/// RFC 3339 in UTC with a `Z`, as Acta producers write it.
fn acta_time(t: &str) -> String {
    match time_fmt::parse(t) {
        Some(t) => time_fmt::format(t).replace("+00:00", "Z"),
        None => t.to_string(),
    }
}

/// A one-key JWKS for `signer`'s public key, for handing to Acta verifiers.
pub fn jwks_for(signer: &Signer) -> Value {
    json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": signer.key_id(), "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(signer.verifying_key().as_bytes())}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcs_sorts_by_utf16_and_writes_es6_numbers() {
        // U+1F600 (surrogates D83D…) sorts before U+FF5E in UTF-16, after it by code point.
        let v =
            json!({"～": 1, "😀": 2, "a": [1.5, 1e21, 1e-7, 0.000001, 100, -0.5, 123456789012.0]});
        assert_eq!(
            String::from_utf8(jcs(&v).unwrap()).unwrap(),
            "{\"a\":[1.5,1e+21,1e-7,0.000001,100,-0.5,123456789012],\"😀\":2,\"～\":1}"
        );
    }
}
