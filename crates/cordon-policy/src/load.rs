//! Loading a policy file: read (capped), decode, parse YAML without version ambiguity, require a
//! mapping, validate, digest. Errors carry the substrings CSC's loader conformance cases expect:
//! `failed to read`, `invalid YAML`, `duplicate key`, `must contain a YAML mapping`.

use std::path::Path;

use cordon_core::limits::MAX_POLICY_BYTES;
use cordon_core::policy::{LoadedPolicy, PolicyError};
use serde_json::Value;

use crate::input::{read_capped, ReadError};
use crate::yaml::{self, YamlError};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("failed to read policy file: {0}")]
    Read(String),
    #[error("policy file is larger than the limit of {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    #[error("policy file is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("{0}")]
    Yaml(#[from] YamlError),
    #[error("policy file must contain a YAML mapping, found {0}")]
    NotMapping(&'static str),
    #[error("{0}")]
    Policy(#[from] PolicyError),
}

/// A policy file written as JSON, read with a JSON reader, where that reading is provably the
/// one the YAML reader gives (every JSON text is YAML) at a fraction of its cost: a strict parse
/// (no duplicate keys), no backslash escapes, no tabs (YAML readers differ on them), no `<<`
/// key, every number a plain integer (YAML 1.1 reads `1e5` as text: the YAML reader refuses it as
/// ambiguous), and well inside the YAML reader's nesting and size bounds. Anything else is
/// `None`, and the YAML reader decides, with its own errors.
fn as_plain_json(text: &str) -> Option<Value> {
    if !text.trim_start().starts_with('{') || text.contains(['\\', '\t']) {
        return None;
    }
    yaml::reject_unprintable(text).ok()?;
    let document = cordon_core::json::parse_strict(text.as_bytes()).ok()?;
    let mut nodes = 0;
    plain(&document, 0, &mut nodes).then_some(document)
}

/// Whether `value` holds only what both readers read alike (see [`as_plain_json`]).
fn plain(value: &Value, depth: usize, nodes: &mut usize) -> bool {
    const DEPTH: usize = 32;
    const NODES: usize = 10_000;
    *nodes += 1;
    if depth > DEPTH || *nodes > NODES {
        return false;
    }
    match value {
        Value::Number(n) => n.is_i64() || n.is_u64(),
        Value::Array(items) => items.iter().all(|v| plain(v, depth + 1, nodes)),
        Value::Object(map) => map
            .iter()
            .all(|(key, v)| key != "<<" && plain(v, depth + 1, nodes)),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// Reads and loads the policy at `path`.
pub fn load_file(path: &Path) -> Result<LoadedPolicy, LoadError> {
    let bytes = read_capped(path, MAX_POLICY_BYTES).map_err(|e| match e {
        ReadError::TooLarge(_) => LoadError::TooLarge,
        other => LoadError::Read(other.to_string()),
    })?;
    load_bytes(&bytes)
}

/// Loads a policy from the bytes of a policy file (YAML, or JSON, which is YAML).
pub fn load_bytes(bytes: &[u8]) -> Result<LoadedPolicy, LoadError> {
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(LoadError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| LoadError::NotUtf8(e.valid_up_to()))?;
    let document = match as_plain_json(text) {
        Some(document) => document,
        None => yaml::parse(text)?,
    };
    let kind = match &document {
        Value::Object(_) => None,
        Value::Null => Some("an empty document"),
        Value::Array(_) => Some("a list"),
        Value::String(_) => Some("text"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
    };
    if let Some(kind) = kind {
        return Err(LoadError::NotMapping(kind));
    }
    Ok(LoadedPolicy::from_value(document)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The JSON reading is taken only where it is the YAML reading, byte for byte of the value.
    #[test]
    fn json_is_read_as_json_only_where_yaml_reads_it_alike() {
        let plain = [
            r#"{"a": 1}"#,
            r#"  {"name": "p", "allow_commands": ["/bin/true"], "max_timeout_sec": 30}"#,
            r#"{"a": [true, false, null, -3, 0, 9223372036854775807, 18446744073709551615]}"#,
            r#"{"a": {"b": {"c": ["é", "日本", "😀", " x "]}}, "": ""}"#,
            "{\n  \"a\":\r\n 1\n}\n",
        ];
        for text in plain {
            let json = as_plain_json(text);
            assert!(json.is_some(), "{text}");
            assert_eq!(json.unwrap(), yaml::parse(text).unwrap(), "{text}");
        }
        let deep = format!("{}1{}", "{\"a\":".repeat(40), "}".repeat(40));
        let left_to_yaml = [
            r#"{"a": 1e5}"#,
            r#"{"a": 1.5}"#,
            r#"{"a": 1.0}"#,
            r#"{"a": -0.0}"#,
            r#"{"a": 123456789012345678901234567890}"#,
            r#"{"a": "\u0041"}"#,
            r#"{"a": "\/"}"#,
            r#"{"a": 1, "a": 2}"#,
            r#"{"<<": {"b": 1}}"#,
            "{\n\t\"a\": 1\n}",
            "{\"a\": \"\u{1}\"}",
            "\u{feff}{\"a\": 1}",
            r#"["a"]"#,
            "a: 1",
            deep.as_str(),
        ];
        for text in left_to_yaml {
            assert!(as_plain_json(text).is_none(), "{text}");
        }
        // Positive control that the two readers can differ: YAML refuses what JSON reads.
        assert!(yaml::parse(r#"{"a": 1e5}"#).is_err());
        assert!(cordon_core::json::parse_strict(br#"{"a": 1e5}"#).is_ok());
        // And the loader answers as before either way.
        assert!(load_bytes(br#"{"a": 1, "a": 2}"#)
            .unwrap_err()
            .to_string()
            .contains("duplicate key"));
    }
}
