//! YAML to JSON for policy files, refusing every scalar whose meaning depends on the YAML version.
//!
//! CSC's reference loader is PyYAML (YAML 1.1): unquoted `yes`, `off`, `010` or `1:30` become a
//! boolean, an octal 8 and the number 90. A YAML 1.2 parser reads them as the text `yes`, the number
//! 10 and the text `1:30`. Either guess changes a decision and the policy digest for somebody, so
//! each plain scalar is resolved under both versions and, where they disagree, the file is rejected
//! with a message saying how to write the value unambiguously. Where they agree, the value is what
//! both (and so csc-runner) read, which keeps `policy_sha256` byte-identical with csc-runner.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Alias expansion can turn a small file into a huge tree ("billion laughs"); past this many nodes
/// the document is refused.
const MAX_NODES: usize = 100_000;
/// Deeper nesting than any policy needs, and shallow enough that recursion is safe.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error("invalid YAML: {message} (line {line}, column {column})")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("invalid YAML: found duplicate key: {key:?} (line {line}); each key may appear once")]
    DuplicateKey { key: String, line: usize },
    #[error("{}", ambiguous_message(field, text, *line, meanings))]
    Ambiguous {
        field: String,
        text: String,
        line: usize,
        meanings: Meanings,
    },
    #[error("invalid YAML: {what} (line {line})")]
    Unsupported { what: String, line: usize },
}

/// What a plain scalar means under YAML 1.1 (PyYAML) and YAML 1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meanings {
    pub yaml11: String,
    pub yaml12: String,
}

fn ambiguous_message(field: &str, text: &str, line: usize, m: &Meanings) -> String {
    let at = if field.is_empty() {
        "the document".to_string()
    } else {
        format!("field `{field}`")
    };
    let hint = match (m.yaml11.as_str(), m.yaml12.as_str()) {
        (b, "text") if b.starts_with("boolean") => {
            format!("quote it (\"{text}\") if you mean the text, or write true or false if you mean a boolean")
        }
        _ => format!(
            "quote it (\"{text}\") if you mean the text, or write the number in plain decimal"
        ),
    };
    format!(
        "ambiguous YAML at {at} (line {line}): the unquoted value {text} is {} in YAML 1.1 but {} in YAML 1.2; {hint}",
        m.yaml11, m.yaml12
    )
}

/// Parses one YAML document into JSON. An empty document is `null`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    reject_unprintable(text)?;
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    builder.document()
}

/// YAML streams may hold only printable characters (YAML 1.1 and 1.2, `c-printable`): no C0
/// controls but tab, LF and CR, no DEL, no C1 controls but NEL, no U+FFFE or U+FFFF. PyYAML
/// refuses the rest; so does cordon, rather than let a NUL hide inside a command name.
pub(crate) fn reject_unprintable(text: &str) -> Result<(), YamlError> {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    };
    let mut line = 1;
    let mut column = 1;
    for c in text.chars() {
        if !printable(c) {
            return Err(YamlError::Syntax {
                message: format!("the special character U+{:04X} is not allowed", c as u32),
                line,
                column,
            });
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    Ok(())
}

struct Builder<'a> {
    parser: Parser<std::str::Chars<'a>>,
    anchors: HashMap<usize, Value>,
    nodes: usize,
}

impl Builder<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        self.parser.next_token().map_err(|e| YamlError::Syntax {
            message: e.info().to_string(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
        })
    }

    fn document(&mut self) -> Result<Value, YamlError> {
        let mut value = Value::Null;
        let mut documents = 0;
        loop {
            let (event, mark) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return Ok(value),
                Event::DocumentStart => {
                    documents += 1;
                    if documents > 1 {
                        return Err(YamlError::Unsupported {
                            what: "more than one document; a policy is a single YAML document"
                                .into(),
                            line: mark.line(),
                        });
                    }
                }
                other => {
                    let mut path = Vec::new();
                    value = self.node(other, mark, &mut path)?;
                }
            }
        }
    }

    fn node(
        &mut self,
        event: Event,
        mark: Marker,
        path: &mut Vec<String>,
    ) -> Result<Value, YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError::Unsupported {
                what: format!(
                    "more than {MAX_NODES} nodes (aliases expanded); a policy needs far fewer"
                ),
                line: mark.line(),
            });
        }
        if path.len() > MAX_DEPTH {
            return Err(YamlError::Unsupported {
                what: format!("nesting deeper than {MAX_DEPTH} levels"),
                line: mark.line(),
            });
        }
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (
                scalar(&text, style, tag.as_ref(), mark, &dotted(path))?,
                anchor,
            ),
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq", mark)?;
                let mut items = Vec::new();
                loop {
                    let (event, mark) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    path.push(format!("[{}]", items.len()));
                    let item = self.node(event, mark, path)?;
                    path.pop();
                    items.push(item);
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map", mark)?;
                (self.mapping(path)?, anchor)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(value) => {
                    self.nodes += count_nodes(value);
                    if self.nodes > MAX_NODES {
                        return Err(YamlError::Unsupported {
                            what: format!("more than {MAX_NODES} nodes (aliases expanded); a policy needs far fewer"),
                            line: mark.line(),
                        });
                    }
                    return Ok(value.clone());
                }
                None => {
                    return Err(YamlError::Syntax {
                        message: "alias to an unknown anchor".into(),
                        line: mark.line(),
                        column: mark.col() + 1,
                    })
                }
            },
            other => {
                return Err(YamlError::Syntax {
                    message: format!("unexpected {other:?}"),
                    line: mark.line(),
                    column: mark.col() + 1,
                })
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn mapping(&mut self, path: &mut Vec<String>) -> Result<Value, YamlError> {
        let mut map = Map::new();
        loop {
            let (event, mark) = self.next()?;
            let key = match event {
                Event::MappingEnd => return Ok(Value::Object(map)),
                Event::Scalar(text, TScalarStyle::Plain, _, None) if text == "<<" => {
                    return Err(YamlError::Unsupported {
                        what: "merge keys (`<<`) mean different things in YAML 1.1 and 1.2; write the keys out".into(),
                        line: mark.line(),
                    });
                }
                Event::Scalar(text, style, _, tag) => {
                    match scalar(&text, style, tag.as_ref(), mark, &dotted(path))? {
                        Value::String(s) => s,
                        _ => {
                            return Err(YamlError::Unsupported {
                                what: format!("the key {text} is not text; quote it"),
                                line: mark.line(),
                            })
                        }
                    }
                }
                _ => {
                    return Err(YamlError::Unsupported {
                        what: "a mapping key that is not a plain value".into(),
                        line: mark.line(),
                    })
                }
            };
            if map.contains_key(&key) {
                return Err(YamlError::DuplicateKey {
                    key,
                    line: mark.line(),
                });
            }
            let (event, mark) = self.next()?;
            path.push(key.clone());
            let value = self.node(event, mark, path)?;
            path.pop();
            map.insert(key, value);
        }
    }
}

fn count_nodes(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(count_nodes).sum::<usize>(),
        _ => 1,
    }
}

fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

/// The standard tag suffix (`str` for `!!str`), or `None` for a local or foreign tag.
fn core_tag(tag: &Tag) -> Option<&str> {
    match tag.handle.as_str() {
        "!!" | "tag:yaml.org,2002:" => Some(tag.suffix.as_str()),
        _ => None,
    }
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, mark: Marker) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if core_tag(t) == Some(expected) => Ok(()),
        Some(t) => Err(YamlError::Unsupported {
            what: format!("the tag {}{} is not supported", t.handle, t.suffix),
            line: mark.line(),
        }),
    }
}

fn scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&Tag>,
    mark: Marker,
    field: &str,
) -> Result<Value, YamlError> {
    if let Some(tag) = tag {
        let unsupported = || YamlError::Unsupported {
            what: format!("the tag {}{} is not supported", tag.handle, tag.suffix),
            line: mark.line(),
        };
        let wrong = |kind: &str| YamlError::Unsupported {
            what: format!("{text:?} is not a valid {kind}"),
            line: mark.line(),
        };
        return match core_tag(tag).ok_or_else(unsupported)? {
            "str" => Ok(Value::String(text.to_string())),
            "null" => Ok(Value::Null),
            "bool" => match resolve12(text) {
                Resolved::Bool(b) => Ok(Value::Bool(b)),
                _ => Err(wrong("boolean")),
            },
            "int" => match resolve12(text) {
                Resolved::Int(i) => int_value(i, mark),
                _ => Err(wrong("integer")),
            },
            "float" => match resolve12(text) {
                Resolved::Float(f) => float_value(f, mark),
                Resolved::Int(i) => float_value(i as f64, mark),
                _ => Err(wrong("float")),
            },
            _ => Err(unsupported()),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let (old, new) = (resolve11(text), resolve12(text));
    if old != new {
        return Err(YamlError::Ambiguous {
            field: field.to_string(),
            text: text.to_string(),
            line: mark.line(),
            meanings: Meanings {
                yaml11: old.to_string(),
                yaml12: new.to_string(),
            },
        });
    }
    match new {
        Resolved::Null => Ok(Value::Null),
        Resolved::Bool(b) => Ok(Value::Bool(b)),
        Resolved::Int(i) => int_value(i, mark),
        Resolved::Float(f) => float_value(f, mark),
        Resolved::Text => Ok(Value::String(text.to_string())),
        // Unreachable: YAML 1.2 never yields these, and `old == new` above.
        Resolved::Timestamp | Resolved::Merge => Ok(Value::String(text.to_string())),
    }
}

fn int_value(i: i128, mark: Marker) -> Result<Value, YamlError> {
    if let Ok(v) = i64::try_from(i) {
        Ok(Value::from(v))
    } else if let Ok(v) = u64::try_from(i) {
        Ok(Value::from(v))
    } else {
        Err(YamlError::Unsupported {
            what: format!("the integer {i} is too large"),
            line: mark.line(),
        })
    }
}

fn float_value(f: f64, mark: Marker) -> Result<Value, YamlError> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| YamlError::Unsupported {
            what: "infinite and NaN numbers have no JSON form".into(),
            line: mark.line(),
        })
}

/// What a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Timestamp,
    Merge,
    Text,
}

impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Null => f.write_str("null"),
            Resolved::Bool(b) => write!(f, "boolean {b}"),
            Resolved::Int(i) => write!(f, "the integer {i}"),
            Resolved::Float(x) => write!(f, "the number {x}"),
            Resolved::Timestamp => f.write_str("a timestamp"),
            Resolved::Merge => f.write_str("a merge key"),
            Resolved::Text => f.write_str("text"),
        }
    }
}

/// YAML 1.2 core schema resolution.
fn resolve12(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let (neg, body) = split_sign(s);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        return parse_int(body, 10, neg);
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return parse_int(oct, 8, false);
        }
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return parse_int(hex, 16, false);
        }
    }
    if is_float12(body) {
        if let Ok(f) = s.parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    Resolved::Text
}

/// YAML 1.1 as PyYAML's SafeLoader resolves it, plus the spec's `y`/`n` booleans (PyYAML omits
/// them, other 1.1 parsers do not, so they are ambiguous too).
fn resolve11(s: &str) -> Resolved {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" | "y" | "Y" => {
            return Resolved::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" | "n" | "N" => {
            return Resolved::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        "<<" => return Resolved::Merge,
        _ => {}
    }
    if is_timestamp11(s) {
        return Resolved::Timestamp;
    }
    let (neg, body) = split_sign(s);
    let digits_ =
        |t: &str, ok: fn(u8) -> bool| !t.is_empty() && t.bytes().all(|b| b == b'_' || ok(b));
    if let Some(bin) = body.strip_prefix("0b") {
        if digits_(bin, |b| b == b'0' || b == b'1') {
            return parse_int(&bin.replace('_', ""), 2, neg);
        }
    }
    if let Some(hex) = body.strip_prefix("0x") {
        if digits_(hex, |b| b.is_ascii_hexdigit()) {
            return parse_int(&hex.replace('_', ""), 16, neg);
        }
    }
    if body == "0" {
        return Resolved::Int(0);
    }
    if let Some(oct) = body.strip_prefix('0') {
        if digits_(oct, |b| (b'0'..=b'7').contains(&b)) {
            return parse_int(&oct.replace('_', ""), 8, neg);
        }
    }
    if body.starts_with(|c: char| ('1'..='9').contains(&c)) {
        if digits_(body, |b| b.is_ascii_digit()) {
            return parse_int(&body.replace('_', ""), 10, neg);
        }
        if let Some(v) = sexagesimal(body) {
            return Resolved::Int(if neg { -v } else { v });
        }
    }
    if is_float11(body) {
        // Sexagesimal floats (`1:30.5`) are left as ambiguous text rather than computed.
        if body.contains(':') {
            return Resolved::Timestamp;
        }
        if let Ok(f) = s.replace('_', "").parse::<f64>() {
            return Resolved::Float(f);
        }
    }
    Resolved::Text
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn parse_int(digits: &str, radix: u32, neg: bool) -> Resolved {
    match i128::from_str_radix(digits, radix) {
        Ok(v) => Resolved::Int(if neg { -v } else { v }),
        // Too large for i128: still a number to both versions, and refused later as too large.
        Err(_) => Resolved::Int(i128::MAX),
    }
}

/// `[1-9][0-9_]*(:[0-5]?[0-9])+`, base 60.
fn sexagesimal(body: &str) -> Option<i128> {
    let mut parts = body.split(':');
    let head = parts.next()?;
    if head.is_empty() || !head.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let mut value: i128 = head.replace('_', "").parse().ok()?;
    let mut any = false;
    for part in parts {
        any = true;
        let ok = matches!(part.len(), 1 | 2)
            && part.bytes().all(|b| b.is_ascii_digit())
            && (part.len() == 1 || part.as_bytes()[0] <= b'5');
        if !ok {
            return None;
        }
        value = value
            .checked_mul(60)?
            .checked_add(part.parse::<i128>().ok()?)?;
    }
    any.then_some(value)
}

/// YAML 1.2 core float body (sign already removed): `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float12(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (int.is_empty() && !frac.is_empty() || !int.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        }
    };
    mantissa_ok && exponent_ok
}

/// PyYAML's float body (sign removed): `[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`,
/// `\.[0-9][0-9_]*([eE][-+][0-9]+)?`, or the sexagesimal `[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`.
fn is_float11(body: &str) -> bool {
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exponent {
        let Some(digits) = e.strip_prefix(['+', '-']) else {
            return false;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    let Some((int, frac)) = mantissa.split_once('.') else {
        return false;
    };
    let frac_ok = frac.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if int.is_empty() {
        return frac.as_bytes().first().is_some_and(u8::is_ascii_digit) && frac_ok;
    }
    if exponent.is_none() && int.contains(':') {
        let mut parts = int.split(':');
        let head_ok = parts.next().is_some_and(|h| {
            h.as_bytes().first().is_some_and(u8::is_ascii_digit)
                && h.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        });
        return head_ok
            && parts.all(|p| matches!(p.len(), 1 | 2) && p.bytes().all(|b| b.is_ascii_digit()))
            && frac_ok;
    }
    int.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && int.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && frac_ok
}

/// PyYAML's timestamp: `YYYY-MM-DD`, or that followed by a time (`T`, `t` or spaces).
fn is_timestamp11(s: &str) -> bool {
    let b = s.as_bytes();
    let date_ok = b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5].is_ascii_digit();
    if !date_ok {
        return false;
    }
    // Month and day are one or two digits in the long form; the date-only form needs two each.
    let rest = &s[5..];
    let mut fields = rest.splitn(2, '-');
    let month = fields.next().unwrap_or("");
    let tail = fields.next().unwrap_or("");
    let day_len = tail.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&month.len())
        || !month.bytes().all(|c| c.is_ascii_digit())
        || !(1..=2).contains(&day_len)
    {
        return false;
    }
    let after = &tail[day_len..];
    if after.is_empty() {
        return month.len() == 2 && day_len == 2;
    }
    let after = after.trim_start_matches([' ', '\t']);
    let after = after.strip_prefix(['T', 't']).unwrap_or(after);
    // hour:minute:second at least.
    let time: Vec<&str> = after.splitn(3, ':').collect();
    time.len() == 3
        && (1..=2).contains(&time[0].len())
        && time[0].bytes().all(|c| c.is_ascii_digit())
        && time[1].len() == 2
        && time[2].len() >= 2
        && time[2].as_bytes()[..2].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn agreeing_scalars_resolve_like_both_versions() {
        assert_eq!(
            ok("a: git\nb: 30\nc: true\nd: ~\ne: '/x'\nf: 1.5\ng: 0x1F\nh: -7\ni: .5\nj: csc.policy.v0.1\n"),
            json!({"a": "git", "b": 30, "c": true, "d": null, "e": "/x", "f": 1.5, "g": 31, "h": -7, "i": 0.5, "j": "csc.policy.v0.1"})
        );
    }

    #[test]
    fn version_dependent_scalars_are_refused_with_a_hint() {
        for text in [
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "010",
            "0o17",
            "1:30",
            "1_000",
            "2026-01-01",
            "1e3",
            "0b101",
        ] {
            let err = parse(&format!("allow_commands: [git, {text}]\n")).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, YamlError::Ambiguous { .. }), "{text}: {msg}");
            assert!(
                msg.contains("allow_commands[1]") && msg.contains("quote it"),
                "{msg}"
            );
        }
    }

    #[test]
    fn quoted_or_tagged_forms_are_accepted() {
        assert_eq!(
            ok("a: 'yes'\nb: \"on\"\nc: !!str off\nd: !!bool true\n"),
            json!({"a": "yes", "b": "on", "c": "off", "d": true})
        );
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse("name: a\nname: b\n").unwrap_err();
        assert!(err.to_string().contains("duplicate key"), "{err}");
    }

    #[test]
    fn merge_keys_foreign_tags_and_multiple_documents_are_refused() {
        assert!(parse("a: &x {b: 1}\nc:\n  <<: *x\n").is_err());
        assert!(parse("a: !!python/object:os.system x\n").is_err());
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            doc.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(matches!(parse(&doc), Err(YamlError::Unsupported { .. })));
    }

    #[test]
    fn syntax_errors_say_invalid_yaml() {
        assert!(parse("a: [1, 2\n")
            .unwrap_err()
            .to_string()
            .starts_with("invalid YAML"));
    }

    #[test]
    fn control_characters_are_refused() {
        for text in ["a: \u{0}", "a: b\u{7f}", "a: \u{1b}[31m", "a: \u{9b}"] {
            assert!(
                parse(text).unwrap_err().to_string().contains("not allowed"),
                "{text:?}"
            );
        }
        assert_eq!(ok("a: \"tab\there\"\r\n"), json!({"a": "tab\there"}));
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(ok(""), Value::Null);
        assert_eq!(ok("# only a comment\n"), Value::Null);
    }
}
