//! Exact, hand-written checks of the contract and policy schemas, for the hot path.
//!
//! Compiling the first JSON Schema validator in a process costs about 2 ms (the meta-schema
//! registry), more than cordon's whole budget for `cordon check`. These functions state the same
//! rules as `csc.contract.v0.1` and `csc.policy.v0.1` directly. They answer only yes or no: on
//! "no", the caller runs the real validator to say what is wrong, so the error messages and the
//! final word on rejection stay the schema's. Differential tests (`tests/conform_differential.rs`)
//! hold these functions to the embedded schemas on every fixture and on generated mutations.

use serde_json::{Map, Value};

/// Whether `value` is valid under `csc.contract.v0.1`.
pub fn contract(value: &Value) -> bool {
    const REQUIRED: &[&str] = &[
        "version",
        "contract_id",
        "intent",
        "actor",
        "commands",
        "risk_class",
        "approval_mode",
        "justification",
    ];
    const OPTIONAL: &[&str] = &["expected_outputs"];
    let Some(map) = object(value, REQUIRED, OPTIONAL) else {
        return false;
    };
    map["version"].as_str() == Some("csc.v0.1")
        && string_len(&map["contract_id"], 8, 128)
        && string_len(&map["intent"], 1, 1000)
        && actor(&map["actor"])
        && array_of(&map["commands"], 1, Some(20), command)
        && enum_str(&map["risk_class"], &["low", "medium", "high", "critical"])
        && enum_str(
            &map["approval_mode"],
            &["policy_only", "human_required", "dual_control_required"],
        )
        && map
            .get("expected_outputs")
            .is_none_or(|v| array_of(v, 0, None, absolute_path))
        && string_len(&map["justification"], 1, 4000)
}

fn actor(value: &Value) -> bool {
    const KEYS: &[&str] = &[
        "agent_id",
        "session_id",
        "initiating_user",
        "delegation_scope",
    ];
    object(value, KEYS, &[]).is_some_and(|map| KEYS.iter().all(|k| non_empty_string(&map[*k])))
}

fn command(value: &Value) -> bool {
    const REQUIRED: &[&str] = &[
        "id",
        "cwd",
        "read_paths",
        "write_paths",
        "network",
        "env_allow",
        "secret_refs",
        "timeout_sec",
        "proposed_effect_type",
    ];
    const OPTIONAL: &[&str] = &["exec", "pipeline"];
    let Some(map) = object(value, REQUIRED, OPTIONAL) else {
        return false;
    };
    // oneOf [required exec, required pipeline]: exactly one is present.
    (map.contains_key("exec") != map.contains_key("pipeline"))
        && non_empty_string(&map["id"])
        && map.get("exec").is_none_or(exec)
        && map.get("pipeline").is_none_or(pipeline)
        && absolute_path(&map["cwd"])
        && array_of(&map["read_paths"], 0, None, absolute_path)
        && array_of(&map["write_paths"], 0, None, absolute_path)
        && enum_str(&map["network"], &["deny", "allowlisted", "full"])
        && array_of(&map["env_allow"], 0, None, non_empty_string)
        && array_of(&map["secret_refs"], 0, None, non_empty_string)
        && integer_in(&map["timeout_sec"], 1, Some(86_400))
        && enum_str(&map["proposed_effect_type"], EFFECT_TYPES)
}

fn exec(value: &Value) -> bool {
    object(value, &["argv"], &[])
        .is_some_and(|map| array_of(&map["argv"], 1, None, non_empty_string))
}

fn pipeline(value: &Value) -> bool {
    object(value, &["segments"], &[]).is_some_and(|map| array_of(&map["segments"], 2, None, exec))
}

const EFFECT_TYPES: &[&str] = &[
    "observe",
    "transform_local",
    "fetch_external",
    "mutate_repo",
    "deploy",
    "touch_secrets",
];

/// Whether `value` is valid under `csc.policy.v0.1`.
pub fn policy(value: &Value) -> bool {
    const REQUIRED: &[&str] = &[
        "policy_schema_version",
        "name",
        "allow_commands",
        "allowed_effect_types",
        "allowed_risk_classes",
        "max_timeout_sec",
        "network",
        "allow_secret_refs",
        "allowed_cwd_prefixes",
        "allowed_read_prefixes",
    ];
    const OPTIONAL: &[&str] = &[
        "deny_argv_prefixes",
        "manual_approval_for_classified_effect_types",
        "require_write_paths_empty",
        "allowed_write_prefixes",
        "allowed_egress_hosts",
    ];
    let Some(map) = object(value, REQUIRED, OPTIONAL) else {
        return false;
    };
    let opt = |key: &str, check: &dyn Fn(&Value) -> bool| map.get(key).is_none_or(check);
    map["policy_schema_version"].as_str() == Some("csc.policy.v0.1")
        && non_empty_string(&map["name"])
        && unique_array_of(&map["allow_commands"], 1, non_empty_string)
        && opt("deny_argv_prefixes", &|v| {
            array_of(v, 0, None, |p| array_of(p, 1, None, non_empty_string))
        })
        && unique_array_of(&map["allowed_effect_types"], 1, |v| {
            enum_str(v, EFFECT_TYPES)
        })
        && opt("manual_approval_for_classified_effect_types", &|v| {
            unique_array_of(v, 0, non_empty_string)
        })
        && unique_array_of(&map["allowed_risk_classes"], 1, |v| {
            enum_str(v, &["low", "medium", "high", "critical"])
        })
        && integer_in(&map["max_timeout_sec"], 1, None)
        && enum_str(&map["network"], &["deny", "allowlisted", "full"])
        && map["allow_secret_refs"].is_boolean()
        && opt("require_write_paths_empty", &Value::is_boolean)
        && array_of(&map["allowed_cwd_prefixes"], 1, None, absolute_path)
        && array_of(&map["allowed_read_prefixes"], 1, None, absolute_path)
        && opt("allowed_write_prefixes", &|v| {
            array_of(v, 0, None, absolute_path)
        })
        && opt("allowed_egress_hosts", &|v| {
            unique_array_of(v, 0, non_empty_string)
        })
}

/// `value` as an object, if it is one that has every `required` key and no key outside
/// `required` and `optional` (`required` plus `additionalProperties: false`).
fn object<'v>(
    value: &'v Value,
    required: &[&str],
    optional: &[&str],
) -> Option<&'v Map<String, Value>> {
    value.as_object().filter(|map| {
        map.keys()
            .all(|k| required.contains(&k.as_str()) || optional.contains(&k.as_str()))
            && required.iter().all(|k| map.contains_key(*k))
    })
}

/// `minLength`/`maxLength` count code points, as JSON Schema says.
fn string_len(value: &Value, min: usize, max: usize) -> bool {
    value.as_str().is_some_and(|s| {
        let n = s.chars().count();
        (min..=max).contains(&n)
    })
}

fn non_empty_string(value: &Value) -> bool {
    value.as_str().is_some_and(|s| !s.is_empty())
}

fn enum_str(value: &Value, options: &[&str]) -> bool {
    value.as_str().is_some_and(|s| options.contains(&s))
}

fn array_of(value: &Value, min: usize, max: Option<usize>, item: impl Fn(&Value) -> bool) -> bool {
    value.as_array().is_some_and(|items| {
        items.len() >= min && max.is_none_or(|m| items.len() <= m) && items.iter().all(item)
    })
}

fn unique_array_of(value: &Value, min: usize, item: impl Fn(&Value) -> bool) -> bool {
    array_of(value, min, None, item)
        && value.as_array().is_some_and(|items| {
            items
                .iter()
                .enumerate()
                .all(|(i, a)| items[..i].iter().all(|b| a != b))
        })
}

/// JSON Schema's `integer` includes numbers with a zero fractional part, such as `10.0`.
fn integer_in(value: &Value, min: i64, max: Option<i64>) -> bool {
    let Some(n) = value.as_number() else {
        return false;
    };
    if let Some(i) = n.as_i64() {
        return i >= min && max.is_none_or(|m| i <= m);
    }
    if n.as_u64().is_some() {
        // Above i64::MAX: valid only without an upper bound.
        return max.is_none();
    }
    n.as_f64()
        .is_some_and(|f| f.fract() == 0.0 && f >= min as f64 && max.is_none_or(|m| f <= m as f64))
}

/// `absolutePath`: `^/`, or `^[A-Za-z]:[\\/]`, or `^(?:\\\\|//)[^\\/]+[\\/][^\\/]+`.
fn absolute_path(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    if b.first() == Some(&b'/') && !s.starts_with("//") {
        return true;
    }
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'/' | b'\\') {
        return true;
    }
    let is_sep = |c: u8| c == b'/' || c == b'\\';
    let rest = if s.starts_with("\\\\") || s.starts_with("//") {
        &b[2..]
    } else {
        return b.first() == Some(&b'/');
    };
    // `//` also satisfies `^/`; the UNC form only matters for `\\`.
    if b[0] == b'/' {
        return true;
    }
    let server = rest.iter().take_while(|c| !is_sep(**c)).count();
    server > 0 && rest.len() > server + 1 && is_sep(rest[server]) && !is_sep(rest[server + 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absolute_path_matches_the_schema_patterns() {
        for ok in [
            "/",
            "/a",
            "//",
            "//x",
            "C:/",
            "c:\\x",
            "\\\\srv\\share",
            "\\\\srv/s",
            "//srv/share",
        ] {
            assert!(absolute_path(&json!(ok)), "{ok}");
        }
        for bad in [
            "",
            "a",
            "C:",
            "C:x",
            "1:/",
            "\\\\",
            "\\\\srv",
            "\\\\srv\\",
            "\\\\srv\\\\x",
            "\\x",
        ] {
            assert!(!absolute_path(&json!(bad)), "{bad}");
        }
    }

    #[test]
    fn integers_follow_json_schema() {
        assert!(integer_in(&json!(10.0), 1, Some(20)));
        assert!(!integer_in(&json!(10.5), 1, Some(20)));
        assert!(!integer_in(&json!("10"), 1, Some(20)));
        assert!(!integer_in(&json!(0), 1, None));
        assert!(integer_in(&json!(u64::MAX), 1, None));
        assert!(!integer_in(&json!(u64::MAX), 1, Some(5)));
    }
}
