//! Importers: the permission rules users already wrote for other agents, as native rules.
//!
//! Two sources (agents-and-policy-engines.md §1.4 and §2.1):
//!
//! - Claude Code settings: `permissions.allow|ask|deny`, arrays of `Tool` or `Tool(specifier)`
//!   (`Bash(npm run test:*)`, `Read(~/.ssh/**)`, `Edit(/src/**)`, `WebFetch(domain:github.com)`).
//! - Codex rule files: `prefix_rule(pattern = [...], decision = "allow" | "prompt" | "forbidden",
//!   justification = "...", match = [...], not_match = [...])`, plus `network_rule(...)`.
//!
//! The rule every conversion follows: **never widen**. Where the source format and native rules
//! disagree on what a pattern covers, an allow is converted to the narrower reading and a deny or
//! an ask to the broader one. A rule that cannot be converted is reported, one note per rule; an
//! allow may be left out (its commands then fall to the policy's default, `ask`), but leaving out
//! a deny or an ask about commands, files or hosts would let through what the user forbade, so it
//! makes the whole import fail. Rules about tools cordon does not govern (web search, MCP tools,
//! sub-agents) are noted and left out.
//!
//! The result is checked by loading it back as a native policy before it is returned.

use serde_json::{json, Value};

use crate::native::{LoadedNativePolicy, FORMAT_VERSION};

/// Wrappers the front end sees through: a rule written with one in front can never match the
/// argv a native rule sees, which starts after them.
const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "command", "builtin", "exec", "nohup", "nice", "ionice", "time",
    "timeout", "setsid", "stdbuf", "flock",
];

/// Claude Code tools whose permissions are about what cordon governs.
const COMMAND_TOOLS: &[&str] = &["Bash"];
const READ_TOOLS: &[&str] = &["Read", "Glob", "Grep", "LS"];
const WRITE_TOOLS: &[&str] = &["Edit", "Write", "MultiEdit", "NotebookEdit"];
const FETCH_TOOLS: &[&str] = &["WebFetch"];

/// One rule that was not imported as written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where the rule is in its source (`permissions.deny[2] "Bash(rm:*)"`).
    pub at: String,
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// A successful import: the policy, and what was left out or narrowed.
#[derive(Debug, Clone)]
pub struct Imported {
    pub policy: LoadedNativePolicy,
    /// The policy as YAML text, ready to write.
    pub yaml: String,
    pub notes: Vec<Note>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Malformed(String),
    /// Rules forbidding or asking about commands, files or hosts that cannot be converted.
    #[error("{} deny or ask rule(s) cannot be converted, and dropping them would allow what they forbid:\n{}", .0.len(), .0.iter().map(|n| format!("  {n}")).collect::<Vec<_>>().join("\n"))]
    WouldDropDeny(Vec<Note>),
    #[error("the imported policy does not load: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Allow,
    Ask,
    Deny,
}

impl Kind {
    fn outcome(self) -> &'static str {
        match self {
            Kind::Allow => "allow",
            Kind::Ask => "ask",
            Kind::Deny => "deny",
        }
    }

    /// Whether leaving the rule out would allow more.
    fn strict(self) -> bool {
        self != Kind::Allow
    }
}

/// Collects rules and notes while converting.
struct Builder {
    rules: Vec<Value>,
    notes: Vec<Note>,
    dropped_strict: Vec<Note>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            rules: Vec::new(),
            notes: Vec::new(),
            dropped_strict: Vec::new(),
        }
    }

    fn rule(&mut self, id: String, kind: Kind, reason: String, matches: Value, examples: Value) {
        let mut rule =
            json!({"id": id, "outcome": kind.outcome(), "reason": reason, "match": matches});
        if !examples.is_null() {
            rule["examples"] = examples;
        }
        self.rules.push(rule);
    }

    fn note(&mut self, at: &str, message: impl Into<String>) {
        self.notes.push(Note {
            at: at.to_string(),
            message: message.into(),
        });
    }

    /// A rule that cannot be converted: fatal when it is a deny or an ask.
    fn unconvertible(&mut self, at: &str, kind: Kind, message: impl Into<String>) {
        let note = Note {
            at: at.to_string(),
            message: message.into(),
        };
        if kind.strict() {
            self.dropped_strict.push(note);
        } else {
            self.notes.push(note);
        }
    }

    fn finish(self, name: &str, description: &str) -> Result<Imported, ImportError> {
        if !self.dropped_strict.is_empty() {
            return Err(ImportError::WouldDropDeny(self.dropped_strict));
        }
        let document = json!({
            "cordon_policy": FORMAT_VERSION,
            "name": name,
            "description": description,
            "default": "ask",
            "rules": self.rules,
        });
        let yaml = to_yaml(&document);
        // Load the text back: what is written is exactly what was checked.
        let policy = LoadedNativePolicy::parse(yaml.as_bytes())
            .map_err(|e| ImportError::Invalid(e.to_string()))?;
        Ok(Imported {
            policy,
            yaml,
            notes: self.notes,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Claude Code

/// Converts Claude Code settings (the whole settings JSON, or just its `permissions` object).
pub fn claude(settings: &str) -> Result<Imported, ImportError> {
    let value: Value = serde_json::from_str(settings)
        .map_err(|e| ImportError::Malformed(format!("not valid JSON: {e}")))?;
    let permissions = match value.get("permissions") {
        Some(p) => p,
        None if ["allow", "ask", "deny"]
            .iter()
            .any(|k| value.get(k).is_some()) =>
        {
            &value
        }
        None => {
            return Err(ImportError::Malformed(
                "no `permissions` object (with `allow`, `ask` or `deny` arrays)".into(),
            ))
        }
    };
    let Some(permissions) = permissions.as_object() else {
        return Err(ImportError::Malformed(
            "`permissions` is not an object".into(),
        ));
    };
    let mut b = Builder::new();
    // Deny first, as Claude Code evaluates them; the order only affects which reason shows.
    for (key, kind) in [
        ("deny", Kind::Deny),
        ("ask", Kind::Ask),
        ("allow", Kind::Allow),
    ] {
        let Some(list) = permissions.get(key) else {
            continue;
        };
        let Some(list) = list.as_array() else {
            return Err(ImportError::Malformed(format!(
                "`permissions.{key}` is not an array"
            )));
        };
        for (i, entry) in list.iter().enumerate() {
            let at = format!("permissions.{key}[{i}]");
            let Some(text) = entry.as_str() else {
                b.unconvertible(&at, kind, format!("not a string: {entry}"));
                continue;
            };
            let at = format!("{at} {text:?}");
            let n = b.rules.len() + 1;
            claude_rule(&mut b, &at, kind, text, n);
        }
    }
    b.finish(
        "imported-claude-code",
        "Imported from Claude Code permissions by `cordon policy import`",
    )
}

fn claude_rule(b: &mut Builder, at: &str, kind: Kind, text: &str, n: usize) {
    let text = text.trim();
    let (tool, spec) = match text.split_once('(') {
        Some((tool, rest)) => match rest.strip_suffix(')') {
            Some(spec) => (tool.trim(), Some(spec.trim())),
            None => {
                b.unconvertible(at, kind, "unbalanced parentheses");
                return;
            }
        },
        None => (text, None),
    };
    let id = format!("claude-{}-{n}", kind.outcome());
    let reason = format!("Claude Code permission `{text}`");
    if COMMAND_TOOLS.contains(&tool) {
        let spec = spec.unwrap_or("*");
        match bash_argv(spec, kind) {
            Ok(BashPattern::Everything) if kind == Kind::Allow => b.note(
                at,
                "allows every command; not imported (cordon asks for what no narrower rule allows)",
            ),
            Ok(BashPattern::Everything) => b.rule(id, kind, reason, json!({}), Value::Null),
            Ok(BashPattern::Argv(argv)) => {
                b.rule(id, kind, reason, command_match(argv, kind), Value::Null)
            }
            Err(why) => b.unconvertible(at, kind, why),
        }
    } else if READ_TOOLS.contains(&tool) || WRITE_TOOLS.contains(&tool) {
        let write = WRITE_TOOLS.contains(&tool);
        let Some(glob) = spec.filter(|s| !s.is_empty()).map(claude_path) else {
            if kind == Kind::Allow {
                b.note(
                    at,
                    "a file tool without a path grants no command; not imported",
                );
            } else {
                // A bare `Read`/`Edit` deny: every path.
                let key = if write { "writes" } else { "paths" };
                b.rule(id, kind, reason, json!({ key: ["/**"] }), Value::Null);
            }
            return;
        };
        if kind == Kind::Allow {
            // Letting an agent's file tool read a path is not letting any command read it.
            b.note(
                at,
                "a file-tool allow grants no command (cordon judges commands); not imported",
            );
            return;
        }
        // A read deny covers every use of the path (broader, so never weaker); a write deny
        // covers writes.
        let key = if write { "writes" } else { "paths" };
        b.rule(id, kind, reason, json!({ key: [glob] }), Value::Null);
    } else if FETCH_TOOLS.contains(&tool) {
        let host = spec.and_then(|s| s.strip_prefix("domain:")).map(str::trim);
        match (kind, host) {
            (Kind::Allow, _) => b.note(
                at,
                "a WebFetch allow lets the agent's fetch tool read a site, not commands send to it; not imported",
            ),
            (_, Some(host)) if !host.is_empty() => {
                b.rule(id, kind, reason, json!({ "hosts": [host] }), Value::Null)
            }
            (_, None) if spec.is_none() => {
                b.rule(id, kind, reason, json!({ "network": true }), Value::Null)
            }
            _ => b.unconvertible(at, kind, "expected `WebFetch(domain:HOST)`"),
        }
    } else if tool.is_empty() || !tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        b.unconvertible(at, kind, "not a `Tool` or `Tool(specifier)` rule");
    } else {
        b.note(
            at,
            format!("`{tool}` runs no command and opens no file cordon judges; not imported"),
        );
    }
}

/// The match of a command-prefix rule, as its kind needs it.
///
/// The argv a native rule sees is already normalised by the front end: wrappers (`env`,
/// `sudo`, `timeout`…) and git's global options (`git -C dir`, `-c k=v`, `--git-dir=x`) are
/// removed, so `[git, push, …]` sees `git -C dir push` as `git push`. Other programs' global
/// options stay in the argv (`npm --prefix web publish`, `cargo +nightly publish`, `kubectl
/// -n prod delete`), and the source agents match the command string from its start, so:
///
/// - a deny or an ask matches with `argv_skip_options`: option words, each with the value it
///   may take, may come before and between the words the user wrote. Broader than the source,
///   never narrower: the agent cannot step around it with a global option.
/// - an allow matches the argv exactly and only in the workspace (`cwd: {workspace}/**`), the
///   working directories Claude Code and Codex grant their rules in. `git -C /etc push`
///   normalises to `git push`, but its working directory is `/etc`, so `Bash(git push:*)`
///   does not allow it: it falls to the policy's default, ask.
fn command_match(argv: Vec<String>, kind: Kind) -> Value {
    if kind.strict() {
        json!({ "argv_skip_options": argv })
    } else {
        json!({ "argv": argv, "cwd": ["{workspace}/**"] })
    }
}

/// What a Bash specifier covers, as native argv globs.
enum BashPattern {
    Everything,
    Argv(Vec<String>),
}

/// Converts a Bash specifier. Claude Code matches the command *string*: `*` spans words, a
/// `:*` suffix is a prefix match. Native argv globs match word by word, so an allow keeps the
/// narrow reading (each `*` stays inside its word; a trailing `*` or `:*` is any rest) and a
/// deny or ask the broad one (everything from the first wildcard on is any rest).
fn bash_argv(spec: &str, kind: Kind) -> Result<BashPattern, String> {
    let (spec, legacy_prefix) = match spec.strip_suffix(":*") {
        Some(head) => (head, true),
        None => (spec, false),
    };
    let words = shell_words(spec)?;
    if words.is_empty() || (words.len() == 1 && words[0] == "*") {
        return Ok(BashPattern::Everything);
    }
    let mut words = words;
    if WRAPPERS.contains(&words[0].as_str()) {
        if kind == Kind::Allow {
            return Err(format!(
                "starts with the wrapper `{}`, and cordon judges the command inside it; not imported",
                words[0]
            ));
        }
        // Broader: drop the wrapper and its options, so the command inside is covered however
        // it is wrapped.
        while words.first().is_some_and(|w| {
            WRAPPERS.contains(&w.as_str())
                || w.starts_with('-')
                || w.contains('=')
                || w.chars().next().is_some_and(|c| c.is_ascii_digit())
        }) {
            words.remove(0);
        }
        if words.is_empty() {
            return Ok(BashPattern::Everything);
        }
    }
    let mut argv: Vec<String> = Vec::new();
    let mut open = legacy_prefix;
    let last = words.len() - 1;
    for (i, word) in words.iter().enumerate() {
        if word == "*" && i == last {
            open = true;
            break;
        }
        if word.contains('*') {
            if kind == Kind::Allow {
                // Narrow: the wildcard stays within this word.
                argv.push(
                    word.split('*')
                        .map(globset::escape)
                        .collect::<Vec<_>>()
                        .join("*"),
                );
                continue;
            }
            // Broad: this word starts with its literal prefix, anything may follow.
            let prefix = word.split('*').next().unwrap_or("");
            if i == 0 && prefix.is_empty() {
                return Ok(BashPattern::Everything);
            }
            argv.push(format!("{}*", globset::escape(prefix)));
            open = true;
            break;
        }
        argv.push(globset::escape(word));
    }
    if legacy_prefix && kind.strict() {
        // `npm run test:*` also covers `npm run test:unit`: the last word is a prefix.
        if let Some(last) = argv.last_mut() {
            if !last.ends_with('*') {
                last.push('*');
            }
        }
    }
    if open {
        argv.push("…".to_string());
    }
    Ok(BashPattern::Argv(argv))
}

/// Splits a specifier into words with shell quoting rules (quotes and backslashes removed).
fn shell_words(text: &str) -> Result<Vec<String>, String> {
    if text.contains(['&', '|', ';', '>', '<', '`', '$', '\n']) {
        return Err("holds shell operators or expansions, which no single command matches".into());
    }
    shlex::split(text).ok_or_else(|| "unbalanced quotes".to_string())
}

/// Claude Code path specifiers to native globs: `//abs` is absolute, `~/x` is under home, `/x`
/// and `./x` are relative to the project (the workspace), a bare name matches anywhere.
fn claude_path(spec: &str) -> String {
    if let Some(abs) = spec.strip_prefix("//") {
        format!("/{abs}")
    } else if spec.starts_with("~/") || spec == "~" {
        spec.to_string()
    } else if let Some(rel) = spec.strip_prefix('/') {
        format!("{{workspace}}/{rel}")
    } else if let Some(rel) = spec.strip_prefix("./") {
        format!("{{workspace}}/{rel}")
    } else if spec.contains('/') {
        format!("{{workspace}}/{spec}")
    } else {
        spec.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Codex

/// Converts a Codex rules file (`prefix_rule(...)`, `network_rule(...)`).
pub fn codex(text: &str) -> Result<Imported, ImportError> {
    let calls = starlark_calls(text).map_err(ImportError::Malformed)?;
    let mut b = Builder::new();
    for (i, call) in calls.iter().enumerate() {
        let at = format!("line {} {}(…)", call.line, call.name);
        let decision = call.kwarg("decision").and_then(Arg::as_str);
        let kind = match decision {
            Some("allow") => Kind::Allow,
            Some("prompt") => Kind::Ask,
            Some("forbidden") => Kind::Deny,
            // Codex's default decision is allow.
            None if call.kwarg("decision").is_none() => Kind::Allow,
            other => {
                // Unknown decision: treat as strict, so it can only fail loudly.
                b.unconvertible(&at, Kind::Deny, format!("unknown decision {other:?}"));
                continue;
            }
        };
        let reason = call
            .kwarg("justification")
            .and_then(Arg::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Codex {} (line {})", call.name, call.line));
        let id = format!("codex-{}-{}", kind.outcome(), i + 1);
        match call.name.as_str() {
            "prefix_rule" => {
                let Some(Arg::List(pattern)) = call.kwarg("pattern") else {
                    b.unconvertible(&at, kind, "`pattern` must be a list");
                    continue;
                };
                match codex_argv(pattern, kind) {
                    Ok(argv) => {
                        let examples = codex_examples(call);
                        b.rule(id, kind, reason, command_match(argv, kind), examples);
                    }
                    Err(why) => b.unconvertible(&at, kind, why),
                }
            }
            "network_rule" => match call.kwarg("host").and_then(Arg::as_str) {
                Some(host) if !host.is_empty() => {
                    if kind == Kind::Allow {
                        // Allowing a host allows nothing by itself in cordon; say which rule
                        // would.
                        b.note(&at, "a host allow is not a command allow: add `hosts` to a rule that allows the command; not imported");
                    } else {
                        b.rule(id, kind, reason, json!({ "hosts": [host] }), Value::Null);
                    }
                }
                _ => b.unconvertible(&at, kind, "`host` must be a non-empty string"),
            },
            "host_executable" => b.note(
                &at,
                "not needed: cordon folds system binary paths to the program name itself",
            ),
            other => b.unconvertible(&at, kind, format!("`{other}` is not a Codex rule")),
        }
    }
    b.finish(
        "imported-codex",
        "Imported from Codex rules by `cordon policy import`",
    )
}

/// Codex patterns match an argv prefix token by token; a token is a string or a list of
/// alternatives. Native: each token a literal glob (`{a,b}` for alternatives), then any rest.
fn codex_argv(pattern: &[Arg], kind: Kind) -> Result<Vec<String>, String> {
    let mut argv = Vec::new();
    for (i, token) in pattern.iter().enumerate() {
        let glob = match token {
            Arg::Str(s) if !s.is_empty() => globset::escape(s),
            Arg::List(alternatives) if !alternatives.is_empty() => {
                let words: Option<Vec<String>> = alternatives
                    .iter()
                    .map(|a| a.as_str().filter(|s| !s.is_empty()).map(globset::escape))
                    .collect();
                let words = words.ok_or("alternatives must be non-empty strings")?;
                if words.iter().any(|w| w.contains([',', '{', '}'])) {
                    return Err("an alternative holds `,`, `{` or `}`".into());
                }
                format!("{{{}}}", words.join(","))
            }
            _ => {
                return Err(format!(
                    "pattern token {} is not a string or a list of strings",
                    i + 1
                ))
            }
        };
        argv.push(glob);
    }
    if argv.is_empty() {
        return Err("`pattern` is empty".into());
    }
    if let Some(first) = pattern.first().and_then(Arg::as_str) {
        if WRAPPERS.contains(&first) {
            if kind == Kind::Allow {
                return Err(format!(
                    "starts with the wrapper `{first}`, and cordon judges the command inside it"
                ));
            }
            // Broader: any command run under the wrapper is at least this strict.
            argv.remove(0);
            if argv.is_empty() {
                argv.push("*".into());
            }
        }
    }
    argv.push("…".to_string());
    Ok(argv)
}

/// `match` / `not_match` examples as shell text, for `cordon policy test`.
fn codex_examples(call: &Call) -> Value {
    let texts = |key: &str| -> Vec<String> {
        match call.kwarg(key) {
            Some(Arg::List(items)) => items
                .iter()
                .filter_map(|item| match item {
                    Arg::Str(s) => Some(s.clone()),
                    Arg::List(words) => {
                        let words: Option<Vec<String>> = words
                            .iter()
                            .map(|w| w.as_str().map(str::to_string))
                            .collect();
                        words.map(|w| crate::facts::display_argv(&w))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let (matching, not_match) = (texts("match"), texts("not_match"));
    if matching.is_empty() && not_match.is_empty() {
        Value::Null
    } else {
        json!({"match": matching, "not_match": not_match})
    }
}

/// A Starlark value in the subset Codex rules use.
#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Str(String),
    List(Vec<Arg>),
    Other(String),
}

impl Arg {
    fn as_str(&self) -> Option<&str> {
        match self {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Call {
    name: String,
    line: usize,
    kwargs: Vec<(String, Arg)>,
}

impl Call {
    fn kwarg(&self, name: &str) -> Option<&Arg> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// Parses the call-only Starlark subset of Codex rule files: `name(key = value, …)` at top level,
/// values being strings, lists, `True`/`False`/`None` or numbers; `#` comments. Anything else
/// (assignments, `load`, `def`, expressions) is an error naming the line: a rules file cordon
/// cannot read fully is not half-imported.
fn starlark_calls(text: &str) -> Result<Vec<Call>, String> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
    };
    let mut calls = Vec::new();
    loop {
        p.skip_space();
        if p.peek().is_none() {
            return Ok(calls);
        }
        let line = p.line;
        let name = p.ident().ok_or_else(|| p.error("expected a rule call"))?;
        p.skip_space();
        p.expect('(')?;
        let mut kwargs = Vec::new();
        loop {
            p.skip_space();
            if p.eat(')') {
                break;
            }
            let key = p.ident().ok_or_else(|| {
                p.error("expected `name = value` (positional arguments are not supported)")
            })?;
            p.skip_space();
            p.expect('=')?;
            let value = p.value(0)?;
            if kwargs.iter().any(|(k, _)| k == &key) {
                return Err(p.error(&format!("`{key}` is given twice")));
            }
            kwargs.push((key, value));
            p.skip_space();
            if p.eat(',') {
                continue;
            }
            p.skip_space();
            p.expect(')')?;
            break;
        }
        calls.push(Call { name, line, kwargs });
        if calls.len() > 10_000 {
            return Err("more than 10,000 rules".into());
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected `{c}`")))
        }
    }

    fn error(&self, message: &str) -> String {
        format!("line {}: {message}", self.line)
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else if c.is_whitespace() || c == ';' {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.bump();
        }
        (self.pos > start && !self.chars[start].is_ascii_digit())
            .then(|| self.chars[start..self.pos].iter().collect())
    }

    fn value(&mut self, depth: usize) -> Result<Arg, String> {
        if depth > 8 {
            return Err(self.error("lists nested too deeply"));
        }
        self.skip_space();
        match self.peek() {
            Some('"') | Some('\'') => self.string().map(Arg::Str),
            Some('[') | Some('(') => {
                let close = if self.bump() == Some('[') { ']' } else { ')' };
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    if self.eat(close) {
                        return Ok(Arg::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_space();
                    if !self.eat(',') {
                        self.skip_space();
                        self.expect(close)?;
                        return Ok(Arg::List(items));
                    }
                }
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '-' => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
                {
                    self.bump();
                }
                Ok(Arg::Other(self.chars[start..self.pos].iter().collect()))
            }
            _ => Err(self.error("expected a string, a list or a constant")),
        }
    }

    /// A Starlark string literal: single, double or triple quotes, with the common escapes.
    fn string(&mut self) -> Result<String, String> {
        let quote = self.bump().ok_or_else(|| self.error("expected a string"))?;
        let triple = self.chars.get(self.pos..self.pos + 2) == Some(&[quote, quote][..]);
        if triple {
            self.pos += 2;
        }
        let mut out = String::new();
        loop {
            let c = self
                .bump()
                .ok_or_else(|| self.error("unterminated string"))?;
            if c == quote {
                if !triple {
                    return Ok(out);
                }
                if self.chars.get(self.pos..self.pos + 2) == Some(&[quote, quote][..]) {
                    self.pos += 2;
                    return Ok(out);
                }
                out.push(c);
            } else if c == '\n' && !triple {
                return Err(self.error("unterminated string"));
            } else if c == '\\' {
                let e = self
                    .bump()
                    .ok_or_else(|| self.error("unterminated string"))?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    '\\' | '\'' | '"' => e,
                    '\n' => continue,
                    _ => return Err(self.error(&format!("unsupported escape `\\{e}`"))),
                });
            } else {
                out.push(c);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML output

/// Writes the policy as block YAML with every string double-quoted (JSON escapes are YAML
/// escapes), so no scalar is read back as anything but the string it is.
fn to_yaml(document: &Value) -> String {
    let mut out = String::from("# Imported by `cordon policy import`; review before use.\n");
    write_map(&mut out, document, 0);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()),
        other => other.to_string(),
    }
}

fn is_scalar_list(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(|i| !i.is_object() && !i.is_array()))
}

fn write_map(out: &mut String, value: &Value, indent: usize) {
    let Some(map) = value.as_object() else {
        return;
    };
    let pad = " ".repeat(indent);
    // Keys in a reading order: identity first, then what the rule does.
    const ORDER: &[&str] = &[
        "cordon_policy",
        "name",
        "description",
        "default",
        "id",
        "outcome",
        "reason",
        "match",
        "examples",
        "rules",
    ];
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|k| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));
    for key in keys {
        let v = &map[key];
        match v {
            Value::Object(m) if m.is_empty() => out.push_str(&format!("{pad}{key}: {{}}\n")),
            Value::Object(_) => {
                out.push_str(&format!("{pad}{key}:\n"));
                write_map(out, v, indent + 2);
            }
            Value::Array(items) if is_scalar_list(v) => {
                let items: Vec<String> = items.iter().map(scalar).collect();
                out.push_str(&format!("{pad}{key}: [{}]\n", items.join(", ")));
            }
            Value::Array(items) => {
                out.push_str(&format!("{pad}{key}:\n"));
                for item in items {
                    let mut inner = String::new();
                    write_map(&mut inner, item, indent + 4);
                    let inner = inner.trim_start().to_string();
                    out.push_str(&format!("{pad}  - {inner}"));
                }
            }
            _ => out.push_str(&format!("{pad}{key}: {}\n", scalar(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn argv(spec: &str, kind: Kind) -> Vec<String> {
        match bash_argv(spec, kind).unwrap() {
            BashPattern::Argv(a) => a,
            BashPattern::Everything => vec!["<everything>".into()],
        }
    }

    #[test]
    fn allows_read_narrow_and_denies_read_broad() {
        assert_eq!(
            argv("npm run test:*", Kind::Allow),
            ["npm", "run", "test", "…"]
        );
        assert_eq!(
            argv("npm run test:*", Kind::Deny),
            ["npm", "run", "test*", "…"]
        );
        assert_eq!(argv("git push *", Kind::Allow), ["git", "push", "…"]);
        assert_eq!(argv("git status", Kind::Allow), ["git", "status"]);
        assert_eq!(
            argv("docker run *:latest", Kind::Allow),
            ["docker", "run", "*:latest"]
        );
        assert_eq!(
            argv("docker run *:latest", Kind::Deny),
            ["docker", "run", "*", "…"]
        );
        assert_eq!(argv("sudo rm:*", Kind::Deny), ["rm*", "…"]);
        assert_eq!(argv("*", Kind::Deny), ["<everything>"]);
        assert_eq!(argv("* --help", Kind::Deny), ["<everything>"]);
        assert!(bash_argv("sudo apt update", Kind::Allow).is_err());
        assert!(bash_argv("a && b", Kind::Allow).is_err());
    }

    #[test]
    fn yaml_round_trips_awkward_strings() {
        let document = json!({"cordon_policy": 1, "name": "yes", "description": "010 1:30 \"q\" \\ \n", "default": "ask", "rules": [
            {"id": "r", "outcome": "deny", "reason": "no: really", "match": {"argv": ["on", "…", "{a,b}"]}},
            {"id": "e", "outcome": "allow", "reason": "x", "match": {}}
        ]});
        let text = to_yaml(&document);
        let loaded = LoadedNativePolicy::parse(text.as_bytes()).unwrap();
        assert_eq!(loaded.policy.name, "yes");
        assert_eq!(loaded.policy.description, "010 1:30 \"q\" \\ \n");
        assert_eq!(
            loaded.policy.rules[0].matches.argv.as_deref().unwrap(),
            ["on", "…", "{a,b}"]
        );
    }

    #[test]
    fn starlark_subset_parses_and_refuses_the_rest() {
        let calls = starlark_calls(
            "# c\nprefix_rule(pattern = [\"git\", [\"a\", 'b']], decision = \"allow\",)\nnetwork_rule(host='x.io', decision=\"\"\"forbidden\"\"\")\n",
        )
        .unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].line, 3);
        for bad in [
            "x = 1",
            "prefix_rule(pattern = [\"a\"]",
            "prefix_rule(\"a\")",
            "prefix_rule(pattern = \"a)",
            "prefix_rule(a = 1, a = 2)",
            "load(\"x\")\nprefix_rule(pattern=[",
        ] {
            assert!(starlark_calls(bad).is_err(), "{bad}");
        }
    }
}
