//! Text that bash evaluates as code although it is quoted or stored in a variable.
//!
//! Arithmetic evaluates array subscripts, and a subscript may hold a command substitution:
//! `x='a[$(cat F)]'; echo $((x))` runs `cat F`. The same happens wherever bash reads a variable
//! *name* that may carry a subscript (`printf -v`, `read`, `declare`, `test -v`, `unset`, `${!x}`)
//! and in prompt expansion (`${x@P}`). So the walk tracks what it knows of each variable's value
//! (set in the text, or computed at run time), and every such context is checked: a value that is
//! computed at run time, or known and holding a substitution, makes the text unresolved. Variables
//! the text never sets come from the caller's environment, which the agent's text does not write.

use std::collections::BTreeMap;

/// What the walk knows of a variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// Known text: one value, or each value a `for` loop gives it.
    Known(Vec<String>),
    /// Computed at run time (`$(…)`, `read`, a glob).
    Computed,
}

/// A variable the text sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Variable {
    pub value: Value,
    /// Passed to the commands that follow (`export`, `declare -x`, or a name the caller's
    /// environment usually exports).
    pub exported: bool,
    /// `declare -i`: every assignment to it is evaluated as arithmetic.
    pub integer: bool,
    /// `declare -A`: its subscripts are keys, not arithmetic.
    pub associative: bool,
}

impl Variable {
    pub fn new(value: Value) -> Variable {
        Variable {
            value,
            exported: false,
            integer: false,
            associative: false,
        }
    }
}

pub(super) type Variables = BTreeMap<String, Variable>;

/// Shell variables bash keeps numeric itself.
const NUMERIC: &[&str] = &[
    "RANDOM",
    "LINENO",
    "SECONDS",
    "EPOCHSECONDS",
    "EPOCHREALTIME",
    "BASHPID",
    "PPID",
    "UID",
    "EUID",
    "OPTIND",
    "SHLVL",
    "HISTCMD",
    "SRANDOM",
];

/// Names the caller's environment usually exports: an assignment to one reaches later commands
/// even without `export`.
pub(super) fn usually_exported(name: &str) -> bool {
    matches!(
        name,
        "HOME"
            | "USER"
            | "LOGNAME"
            | "SHELL"
            | "TERM"
            | "LANG"
            | "TMPDIR"
            | "TMP"
            | "TEMP"
            | "EDITOR"
            | "VISUAL"
            | "PAGER"
            | "MANPAGER"
            | "BROWSER"
    ) || ["XDG_", "LC_", "GIT_", "LESS"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Why evaluating `expr` as bash arithmetic could run a command, if it could.
pub(super) fn arithmetic(expr: &str, vars: &Variables) -> Option<String> {
    check_arithmetic(expr, vars, 0).err()
}

fn check_arithmetic(expr: &str, vars: &Variables, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("variables refer to each other too deeply to follow".to_string());
    }
    if has_command_substitution(expr) || expr.contains('`') {
        return Err(format!(
            "`{expr}` evaluates the output of a command as arithmetic, which can run commands"
        ));
    }
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            // A number, in any base (`16#ff`, `0x1f`).
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '#' | '_' | '@'))
            {
                i += 1;
            }
            continue;
        }
        if c == '$' {
            match chars.get(i + 1) {
                Some(d) if d.is_ascii_digit() || matches!(d, '@' | '*') => {
                    return Err(format!(
                        "`{expr}` evaluates a positional parameter, text from outside the text, as arithmetic"
                    ))
                }
                Some('{') => {
                    let close = chars[i..].iter().position(|c| *c == '}').map_or(chars.len(), |p| i + p);
                    let inner: String = chars[i + 2..close.min(chars.len())].iter().collect();
                    if inner.starts_with('!') || inner.contains('@') || inner.contains(':') {
                        return Err(format!("`{expr}` expands `${{{inner}}}` inside arithmetic"));
                    }
                    let (name, subscript) = split_subscript(&inner);
                    lookup(name, vars, depth)?;
                    if let Some(sub) = subscript {
                        check_subscript(name, sub, vars, depth)?;
                    }
                    i = close + 1;
                    continue;
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
        }
        if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            lookup(&name, vars, depth)?;
            if chars.get(i) == Some(&'[') {
                let close = matching_bracket(&chars, i)
                    .ok_or_else(|| format!("`{expr}` has an array subscript cordon cannot read"))?;
                let sub: String = chars[i + 1..close].iter().collect();
                check_subscript(&name, &sub, vars, depth)?;
                i = close + 1;
            }
            continue;
        }
        i += 1;
    }
    Ok(())
}

/// `$(` that is not `$((`.
fn has_command_substitution(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .windows(2)
        .enumerate()
        .any(|(i, w)| w == b"$(" && bytes.get(i + 2) != Some(&b'('))
}

fn matching_bracket(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (at, c) in chars.iter().enumerate().skip(open) {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// `name[sub]` → (`name`, `Some(sub)`).
fn split_subscript(text: &str) -> (&str, Option<&str>) {
    match text.split_once('[') {
        Some((name, rest)) if rest.ends_with(']') => (name, Some(&rest[..rest.len() - 1])),
        _ => (text, None),
    }
}

fn check_subscript(name: &str, sub: &str, vars: &Variables, depth: usize) -> Result<(), String> {
    if vars.get(name).is_some_and(|v| v.associative) {
        return if sub.contains("$(") || sub.contains('`') {
            Err(format!("the subscript of `{name}[{sub}]` runs a command"))
        } else {
            Ok(())
        };
    }
    check_arithmetic(sub, vars, depth + 1)
}

/// The value of `name` is safe to evaluate as arithmetic.
fn lookup(name: &str, vars: &Variables, depth: usize) -> Result<(), String> {
    if NUMERIC.contains(&name) {
        return Ok(());
    }
    match vars.get(name).map(|v| &v.value) {
        // Not set by the text: the caller's environment.
        None => Ok(()),
        Some(Value::Computed) => Err(format!(
            "`{name}` holds text computed at run time, which bash evaluates as arithmetic: an array subscript in it can run commands"
        )),
        Some(Value::Known(values)) => values
            .iter()
            .try_for_each(|v| check_arithmetic(v, vars, depth + 1)),
    }
}

/// Why bash could run a command when it reads `text` as a variable name (`printf -v NAME`,
/// `read NAME`, `test -v NAME`): only a subscript can, and it is checked as arithmetic.
pub(super) fn variable_name(text: &str, vars: &Variables) -> Option<String> {
    let (name, subscript) = split_subscript(text);
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !plain {
        return Some(format!("`{text}` is not a plain variable name"));
    }
    let sub = subscript?;
    if sub.contains('$') || sub.contains('`') {
        return Some(format!(
            "the subscript of `{text}` is expanded and evaluated when bash reads the name, which can run commands"
        ));
    }
    check_subscript(name, sub, vars, 0).err()
}

/// Why a parameter expansion could run a command: indirection (`${!x}`) through a name that may
/// carry a subscript, prompt expansion (`${x@P}`), or an arithmetic subscript or offset.
pub(super) fn expansion(text: &str, vars: &Variables) -> Option<String> {
    let inner = text.strip_prefix("${")?.strip_suffix('}')?;
    if let Some(target) = inner.strip_prefix('!') {
        let listing = target.ends_with('*')
            || target.ends_with('@')
            || target.ends_with("[@]")
            || target.ends_with("[*]");
        if listing {
            return None;
        }
        let (name, _) = split_subscript(target);
        return match vars.get(name).map(|v| &v.value) {
            Some(Value::Known(values))
                if values.iter().all(|v| variable_name(v, vars).is_none()) =>
            {
                None
            }
            _ => Some(format!(
                "`{text}` uses the value of `{name}` as a variable name, which bash evaluates and which can run commands"
            )),
        };
    }
    if let Some(name) = inner.strip_suffix("@P") {
        return match vars.get(name).map(|v| &v.value) {
            Some(Value::Known(values))
                if values.iter().all(|v| !v.contains('$') && !v.contains('`')) =>
            {
                None
            }
            _ => Some(format!(
                "`{text}` expands `{name}` as a prompt, which runs the command substitutions in it"
            )),
        };
    }
    let name_end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(name_end);
    if let Some(after) = rest.strip_prefix('[') {
        let close = after.find(']')?;
        if let Some(why) = check_subscript(name, &after[..close], vars, 0).err() {
            return Some(why);
        }
    }
    if let Some(offsets) = rest.strip_prefix(':') {
        if !offsets.starts_with(['-', '=', '?', '+']) {
            for part in offsets.splitn(2, ':') {
                if let Some(why) = arithmetic(part, vars) {
                    return Some(why);
                }
            }
        }
    }
    None
}

/// Names a text assigns in arithmetic (`x=1`, `x+=2`, `x++`, `--x`): their values are numbers.
pub(super) fn assigned_in_arithmetic(expr: &str) -> Vec<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() || chars[i] == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let before: String = chars[..start].iter().rev().take(2).collect();
            let after: String = chars[i..]
                .iter()
                .filter(|c| !c.is_whitespace())
                .take(3)
                .collect();
            let assigns = after.starts_with("++")
                || after.starts_with("--")
                || before == "++"
                || before == "--"
                || (after.starts_with('=') && !after.starts_with("=="))
                || ["+=", "-=", "*=", "/=", "%=", "&=", "|=", "^="]
                    .iter()
                    .any(|op| after.starts_with(op))
                || after.starts_with("<<=")
                || after.starts_with(">>=");
            if assigns {
                names.push(name);
            }
            continue;
        }
        i += 1;
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, Value)]) -> Variables {
        list.iter()
            .map(|(n, v)| (n.to_string(), Variable::new(v.clone())))
            .collect()
    }

    fn known(text: &str) -> Value {
        Value::Known(vec![text.to_string()])
    }

    #[test]
    fn arithmetic_on_stored_or_computed_text_is_code() {
        let v = vars(&[
            ("x", known("a[$(cat F)]")),
            ("y", Value::Computed),
            ("z", known("x")),
            ("n", known("5")),
            ("i", Value::Known(vec!["1".into(), "2".into()])),
        ]);
        for expr in [
            "x",
            "$x + 1",
            "y",
            "z",
            "a[y]",
            "${x}",
            "$1",
            "$(cat f) + 1",
            "$(( $(id) ))",
        ] {
            assert!(arithmetic(expr, &v).is_some(), "{expr}");
        }
        for expr in [
            "n + 1",
            "i * 2",
            "HOME_UNSET + 1",
            "16#ff",
            "RANDOM % 6",
            "a[n] + b[2]",
            "$((n+1))",
        ] {
            assert_eq!(arithmetic(expr, &v), None, "{expr}");
        }
    }

    #[test]
    fn names_with_subscripts_and_expansions_are_checked() {
        let v = vars(&[
            ("x", known("a[$(id)]")),
            ("p", known("name")),
            ("q", known("$(id)")),
        ]);
        assert!(variable_name("a[$(cat F)]", &v).is_some());
        assert!(variable_name("a[x]", &v).is_some());
        assert!(variable_name("x y", &v).is_some());
        assert_eq!(variable_name("a[3]", &v), None);
        assert_eq!(variable_name("result", &v), None);
        assert!(expansion("${!x}", &v).is_some());
        assert!(expansion("${!unset_name}", &v).is_some());
        assert_eq!(expansion("${!p}", &v), None);
        assert_eq!(expansion("${!prefix*}", &v), None);
        assert!(expansion("${q@P}", &v).is_some());
        assert_eq!(expansion("${p@P}", &v), None);
        assert!(expansion("${arr[x]}", &v).is_some());
        assert!(expansion("${p:x:1}", &v).is_some());
        assert_eq!(expansion("${p:-default}", &v), None);
        assert_eq!(expansion("${p:1:2}", &v), None);
        assert_eq!(expansion("${p/a/b}", &v), None);
    }

    #[test]
    fn arithmetic_assignments_are_found() {
        assert_eq!(assigned_in_arithmetic("i=0"), ["i"]);
        assert_eq!(assigned_in_arithmetic("i++"), ["i"]);
        assert_eq!(assigned_in_arithmetic("x += y"), ["x"]);
        assert!(assigned_in_arithmetic("x == y").is_empty());
    }
}
