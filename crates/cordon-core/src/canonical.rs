//! CSC canonical JSON: the exact bytes every hash and signature in the protocol is computed over.
//!
//! CSC defines canonical JSON as Python's
//! `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` encoded as UTF-8.
//! That is *not* RFC 8785 (JCS): keys sort by code point (equal to UTF-8 byte order, not UTF-16 order),
//! non-ASCII is written raw, and the only escapes are `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` and
//! lowercase `\u00xx` for the other control characters below U+0020. DEL, U+2028 and U+2029 stay raw.
//!
//! It is written by hand, rather than left to a serializer's defaults, because a single byte of
//! difference breaks interoperability with every receipt and approval ever signed.

use serde_json::{Map, Number, Value};
use std::fmt::Write as _;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// NaN and the infinities are not JSON; Python would write `NaN`, which no verifier accepts.
    #[error("a number is not finite and has no JSON form")]
    NonFiniteNumber,
}

/// Canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value)?;
    Ok(out.into_bytes())
}

/// Canonical text of `value`.
pub fn to_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map)?,
    }
    Ok(())
}

fn write_object(out: &mut String, map: &Map<String, Value>) -> Result<(), CanonicalError> {
    // `Map` may preserve insertion order if a dependency enables serde_json's `preserve_order`;
    // sort explicitly so the output never depends on that feature. Rust's `str` ordering is
    // byte-wise, which for UTF-8 is code-point order, which is what Python's `sort_keys` uses.
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, item)?;
    }
    out.push('}');
    Ok(())
}

/// Appends `s` as a JSON string: the short escapes, other control characters as lowercase `\u00xx`,
/// everything else raw UTF-8. CSC's canonical form and RFC 8785 (JCS) escape strings identically;
/// they differ only in key order and numbers.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) -> Result<(), CanonicalError> {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else {
        let f = n.as_f64().ok_or(CanonicalError::NonFiniteNumber)?;
        write_python_float(out, f)?;
    }
    Ok(())
}

/// Python's `repr(float)`: the shortest digits that round-trip, in positional notation when the
/// decimal exponent is in `-4..16`, else scientific with a signed, at-least-two-digit exponent;
/// integral values keep a trailing `.0`.
fn write_python_float(out: &mut String, f: f64) -> Result<(), CanonicalError> {
    if !f.is_finite() {
        return Err(CanonicalError::NonFiniteNumber);
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return Ok(());
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-7" or "-5e16".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    out.push_str(sign);
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // position of the decimal point within `digits`
        if point <= 0 {
            out.push_str("0.");
            out.push_str(&"0".repeat(point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.push_str(&"0".repeat(point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        to_string(&v).unwrap()
    }

    #[test]
    fn sorts_keys_by_code_point_and_drops_whitespace() {
        assert_eq!(
            canon(json!({"b": 1, "a": [true, null], "é": "x", "Z": {}})),
            r#"{"Z":{},"a":[true,null],"b":1,"é":"x"}"#
        );
    }

    #[test]
    fn code_point_order_differs_from_utf16_order() {
        // U+FF5E sorts before U+1F600 by code point; JCS (UTF-16 units) would put the emoji first.
        assert_eq!(canon(json!({"😀": 1, "～": 2})), "{\"～\":2,\"😀\":1}");
    }

    #[test]
    fn escapes_exactly_like_python() {
        let s = "q\"b\\\u{08}\u{0c}\n\r\t\u{01}\u{1f}\u{7f}\u{2028}é";
        assert_eq!(
            canon(json!(s)),
            "\"q\\\"b\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\u{2028}é\""
        );
    }

    #[test]
    fn floats_follow_python_repr() {
        let cases = [
            (10.0, "10.0"),
            (1.5, "1.5"),
            (-0.0, "-0.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (123456789012345.6, "123456789012345.6"),
            (1.2345e-7, "1.2345e-07"),
            (2.5e300, "2.5e+300"),
        ];
        for (f, want) in cases {
            assert_eq!(canon(json!(f)), want, "{f}");
        }
    }

    #[test]
    fn integers_are_plain() {
        assert_eq!(
            canon(json!([0, -1, u64::MAX, i64::MIN])),
            format!("[0,-1,{},{}]", u64::MAX, i64::MIN)
        );
    }
}
