//! Rules compiled for one session: globs parsed once (`{workspace}` and `~` expanded), then
//! matched against command facts.
//!
//! A rule's glob set is parsed and built the first time a command needs it: building the
//! default pack's sets costs about 0.25 ms, most of a one-shot `cordon exec`'s policy work, and
//! a command that writes nothing never needs the sets about writes. Loading the policy already
//! checked that every glob parses. A set that cannot be built makes every
//! decision under the policy a denial ([`CompiledPolicy::unusable`]).

use cordon_core::{EffectType, Outcome};
use std::sync::OnceLock;

use cordon_core::name_glob::{NameGlob, GLOB_CHARS};
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::{
    DefaultOutcome, LoadedNativePolicy, MatchSpec, NativePolicyError, RedirectSpec, RuleExamples,
};
use crate::facts::CommandFacts;
use crate::shell::pathutil;

/// What `{workspace}`, `{home}` and `~` mean in this session's globs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub workspace: String,
    pub home: String,
}

#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub name: String,
    pub sha256: String,
    pub default: Outcome,
    pub rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub outcome: Outcome,
    pub reason: String,
    pub redirect: Option<RedirectSpec>,
    pub examples: Option<RuleExamples>,
    /// Environment variable → secret name (`Rule::secrets`).
    pub secrets: std::collections::BTreeMap<String, String>,
    when: CompiledMatch,
    unless: Option<CompiledMatch>,
}

impl CompiledRule {
    /// Whether this rule applies to the command: its match holds and its exception does not.
    pub fn applies(&self, facts: &CommandFacts) -> bool {
        self.when.matches(facts) && !self.unless.as_ref().is_some_and(|u| u.matches(facts))
    }

    /// The first of the command's paths this rule's path patterns name, when it has any: what a
    /// person needs to read in its sentence (working day twenty: "Denied: `cat`: it touches
    /// credentials" named no file).
    pub fn named_path<'f>(&self, facts: &'f CommandFacts) -> Option<&'f String> {
        self.when.named_path(facts)
    }

    /// The rule matches only commands the kernel confines (`match: {confined: true}`), so its
    /// examples are read as hardened-mode commands.
    pub fn requires_confinement(&self) -> bool {
        self.when.confined == Some(true)
    }
}

/// A glob set, parsed and built on first use. Every glob was checked to parse when the policy
/// was loaded (`check_globs`), so what is left to fail here is the build.
#[derive(Debug, Clone)]
struct LazyGlobSet {
    /// The patterns plain enough to match without globset ([`PlainSet`]).
    plain: PlainSet,
    /// The others, each as written and expanded for this session: globset's, built when first
    /// needed.
    patterns: Vec<(String, String)>,
    paths: bool,
    built: OnceLock<Result<GlobSet, String>>,
}

impl LazyGlobSet {
    fn new(patterns: &[String], context: &Context, paths: bool) -> LazyGlobSet {
        let (plain, patterns) = PlainSet::split(expand(patterns, context, paths), paths);
        LazyGlobSet {
            plain,
            patterns,
            paths,
            built: OnceLock::new(),
        }
    }

    /// False when the set cannot be built; [`CompiledPolicy::unusable`] then says why, and the
    /// decision is a denial whatever this answered.
    fn is_match(&self, candidate: &str) -> bool {
        if self.plain.is_match(candidate) {
            return true;
        }
        if self.patterns.is_empty() {
            return false;
        }
        self.built
            .get_or_init(|| build_set(parse(&self.patterns, self.paths)?))
            .as_ref()
            .is_ok_and(|set| set.is_match(candidate))
    }

    fn error(&self) -> Option<&str> {
        match self.built.get() {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }
}

/// The patterns of a set that are a literal (`/h/.netrc`), a literal directory's `/**`
/// (`/h/.ssh/**`), or, among path patterns, a file-name glob of literals and `*` anywhere
/// (`**/.env`, `**/*.pem`) or in a literal directory (`/h/.cargo/credentials*`): the shapes of
/// the default pack's path rules once `~`, `{home}` and `{workspace}` are expanded. They match
/// what globset matches for them without a regular expression; building globset's for them cost a
/// one-shot `cordon exec` about 0.3 ms for the few sets a simple command's decision consults.
#[derive(Debug, Clone, Default)]
struct PlainSet {
    exact: Vec<String>,
    /// Each directory with its trailing `/`: what `dir/**` matches starts with it.
    beneath: Vec<String>,
    /// A file-name glob, and the directory (with its trailing `/`) the file must be directly in,
    /// or `None` for anywhere (`**/`).
    named: Vec<(Option<String>, NameGlob)>,
}

impl PlainSet {
    /// The plain patterns, and the others as they were. A `*` crosses `/` in a name pattern
    /// (`paths` false), so the file-name shapes are for path patterns only.
    fn split(patterns: Vec<(String, String)>, paths: bool) -> (PlainSet, Vec<(String, String)>) {
        let mut plain = PlainSet::default();
        let mut others = Vec::new();
        for (written, pattern) in patterns {
            match plain_shape(&pattern, paths) {
                Some(Shape::Exact) => plain.exact.push(pattern),
                Some(Shape::Beneath(dir)) => plain.beneath.push(dir),
                Some(Shape::Named(dir, glob)) => plain.named.push((dir, glob)),
                None => others.push((written, pattern)),
            }
        }
        (plain, others)
    }

    fn is_match(&self, candidate: &str) -> bool {
        self.exact.iter().any(|e| e == candidate)
            || self
                .beneath
                .iter()
                .any(|dir| candidate.starts_with(dir.as_str()))
            || self.named.iter().any(|(dir, glob)| match dir {
                None => glob.is_match(candidate.rsplit('/').next().unwrap_or(candidate)),
                Some(dir) => candidate
                    .strip_prefix(dir.as_str())
                    .is_some_and(|name| !name.contains('/') && glob.is_match(name)),
            })
    }
}

enum Shape {
    Exact,
    Beneath(String),
    Named(Option<String>, NameGlob),
}

/// Which plain shape `pattern` has, if any (see [`PlainSet`]).
fn plain_shape(pattern: &str, paths: bool) -> Option<Shape> {
    if !pattern.contains(GLOB_CHARS) {
        return Some(Shape::Exact);
    }
    if let Some(dir) = pattern.strip_suffix("/**") {
        return (!dir.contains(GLOB_CHARS)).then(|| Shape::Beneath(format!("{dir}/")));
    }
    if !paths {
        return None;
    }
    let (dir, name) = match pattern.strip_prefix("**/") {
        Some(name) => (None, name),
        None => {
            let (dir, name) = pattern.rsplit_once('/')?;
            (Some(format!("{dir}/")), name)
        }
    };
    // A name of stars and literals, with a literal in it (a lone `*` is left to globset, which
    // decides for itself what an empty name is).
    let with_literal = !name.contains('/') && name.chars().any(|c| c != '*');
    // A name ending in `.` (`**/*.`) is left to globset too: it reads `*.` as "the extension
    // `.`", and a path ending in `.` (`..`) as having no file name, so no extension either.
    if !with_literal
        || name.ends_with('.')
        || dir.as_deref().is_some_and(|d| d.contains(GLOB_CHARS))
    {
        return None;
    }
    Some(Shape::Named(dir, NameGlob::stars(name)?))
}

/// An `argv` or `argv_skip_options` pattern: element globs, and whether `…` ends it.
#[derive(Debug, Clone)]
struct ArgvPattern {
    elements: Vec<ArgvElement>,
    open: bool,
}

#[derive(Debug, Clone, Default)]
struct CompiledMatch {
    program: Option<LazyGlobSet>,
    command: Option<Vec<Vec<String>>>,
    argv: Option<ArgvPattern>,
    argv_skip_options: Option<ArgvPattern>,
    flags_any: Option<Vec<String>>,
    flags_all: Option<Vec<String>>,
    paths: Option<LazyGlobSet>,
    reads: Option<LazyGlobSet>,
    writes: Option<LazyGlobSet>,
    writes_outside: Option<LazyGlobSet>,
    reads_outside: Option<LazyGlobSet>,
    cwd: Option<LazyGlobSet>,
    effects: Option<Vec<EffectType>>,
    network: Option<bool>,
    hosts: Option<LazyGlobSet>,
    hosts_outside: Option<LazyGlobSet>,
    destructive: Option<bool>,
    known: Option<bool>,
    inline_code: Option<bool>,
    privileged: Option<bool>,
    tags_any: Option<Vec<String>>,
    confined: Option<bool>,
}

impl CompiledPolicy {
    pub fn compile(
        loaded: &LoadedNativePolicy,
        context: &Context,
    ) -> Result<CompiledPolicy, NativePolicyError> {
        let policy = &loaded.policy;
        let mut rules = Vec::with_capacity(policy.rules.len());
        for rule in &policy.rules {
            let fail = |message: String| NativePolicyError::Rule {
                rule: rule.id.clone(),
                message,
            };
            let when = CompiledMatch::compile(&rule.matches, context).map_err(fail)?;
            let unless = match &rule.unless {
                Some(spec) => Some(CompiledMatch::compile(spec, context).map_err(fail)?),
                None => None,
            };
            rules.push(CompiledRule {
                id: rule.id.clone(),
                outcome: rule.outcome.outcome(),
                reason: rule.reason.clone(),
                redirect: rule.redirect.clone(),
                examples: rule.examples.clone(),
                secrets: rule.secrets.clone(),
                when,
                unless,
            });
        }
        Ok(CompiledPolicy {
            name: policy.name.clone(),
            sha256: loaded.sha256.clone(),
            default: match policy.default {
                DefaultOutcome::Deny => Outcome::Deny,
                DefaultOutcome::Ask => Outcome::Ask,
            },
            rules,
        })
    }
}

impl CompiledPolicy {
    /// Why the policy cannot be used, once a glob set a decision needed failed to build (a
    /// set of globs that each parse can still exceed the matcher's size limit). The decision
    /// is then a denial.
    pub fn unusable(&self) -> Option<String> {
        self.rules.iter().find_map(|rule| {
            std::iter::once(&rule.when)
                .chain(&rule.unless)
                .find_map(CompiledMatch::error)
                .map(|e| format!("rule `{}`: {e}", rule.id))
        })
    }
}

/// Expands `{workspace}`, `{home}`, `{tmp}` and a leading `~`. A pattern without a slash names a
/// file anywhere (`.env` → `**/.env`).
fn expand_path_pattern(pattern: &str, context: &Context) -> Vec<String> {
    let workspace = globset::escape(&pathutil::normalize_absolute(&context.workspace));
    let home = globset::escape(&pathutil::normalize_absolute(&context.home));
    let mut expanded = pattern
        .replace("{workspace}", &workspace)
        .replace("{home}", &home)
        .replace("{tmp}", "/tmp");
    if expanded == "~" {
        expanded = home.clone();
    } else if let Some(rest) = expanded.strip_prefix("~/") {
        expanded = format!("{home}/{rest}");
    }
    if !expanded.contains('/') {
        expanded = format!("**/{expanded}");
    }
    let mut out = vec![expanded.clone()];
    if let Some(base) = expanded.strip_suffix("/**") {
        // `dir/**` also matches `dir` itself (`cd ~/.ssh && ls` reads `~/.ssh`).
        out.push(if base.is_empty() {
            "/".to_string()
        } else {
            base.to_string()
        });
    }
    out
}

/// Each pattern as written, with its expansions (path patterns: see `expand_path_pattern`).
fn expand(patterns: &[String], context: &Context, paths: bool) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        if paths {
            for p in expand_path_pattern(pattern, context) {
                out.push((pattern.clone(), p));
            }
        } else {
            out.push((pattern.clone(), pattern.clone()));
        }
    }
    out
}

fn parse(expanded: &[(String, String)], paths: bool) -> Result<Vec<Glob>, String> {
    expanded
        .iter()
        .map(|(written, p)| {
            GlobBuilder::new(p)
                .literal_separator(paths)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("the glob `{written}` is invalid: {e}"))
        })
        .collect()
}

/// The globs of a list of patterns (path patterns expanded first).
fn globs(patterns: &[String], context: &Context, paths: bool) -> Result<Vec<Glob>, String> {
    parse(&expand(patterns, context, paths), paths)
}

fn build_set(globs: Vec<Glob>) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| format!("the globs cannot be compiled: {e}"))
}

/// Program and host patterns: `{workspace}` expands (for workspace programs).
fn name_patterns(patterns: &[String], context: &Context) -> Vec<String> {
    let workspace = globset::escape(&context.workspace);
    patterns
        .iter()
        .map(|p| p.replace("{workspace}", &workspace))
        .collect()
}

/// One element of an `argv` pattern: `*` may cross `/` (arguments are not paths).
fn argv_glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("the argv glob `{pattern}` is invalid: {e}"))
}

/// Whether every glob of a match parses, without building matchers: what loading a policy
/// checks. `{workspace}` and `{home}` are escaped when they expand, so any context will do.
pub(super) fn check_globs(spec: &MatchSpec) -> Result<(), String> {
    let context = Context {
        workspace: "/w".into(),
        home: "/h".into(),
    };
    let path_lists = [
        &spec.paths,
        &spec.reads,
        &spec.writes,
        &spec.writes_outside,
        &spec.reads_outside,
        &spec.cwd,
    ];
    for list in path_lists.into_iter().flatten() {
        globs(list, &context, true)?;
    }
    for list in [&spec.program, &spec.hosts, &spec.hosts_outside]
        .into_iter()
        .flatten()
    {
        globs(&name_patterns(list, &context), &context, false)?;
    }
    for pattern in spec.argv.iter().chain(&spec.argv_skip_options).flatten() {
        argv_glob(pattern)?;
    }
    Ok(())
}

impl CompiledMatch {
    fn compile(spec: &MatchSpec, context: &Context) -> Result<CompiledMatch, String> {
        let paths =
            |list: &Option<Vec<String>>| list.as_ref().map(|l| LazyGlobSet::new(l, context, true));
        let names = |list: &Option<Vec<String>>| {
            list.as_ref()
                .map(|l| LazyGlobSet::new(&name_patterns(l, context), context, false))
        };
        let argv = |list: &Option<Vec<String>>| -> Result<Option<ArgvPattern>, String> {
            let Some(patterns) = list else {
                return Ok(None);
            };
            let open = matches!(patterns.last().map(String::as_str), Some("…" | "..."));
            let fixed = if open {
                &patterns[..patterns.len() - 1]
            } else {
                &patterns[..]
            };
            let elements = fixed
                .iter()
                .map(|p| ArgvElement::new(p))
                .collect::<Result<_, _>>()?;
            Ok(Some(ArgvPattern { elements, open }))
        };
        Ok(CompiledMatch {
            program: names(&spec.program),
            command: spec.command.as_ref().map(|l| {
                l.iter()
                    .map(|c| c.split_whitespace().map(str::to_string).collect())
                    .collect()
            }),
            argv: argv(&spec.argv)?,
            argv_skip_options: argv(&spec.argv_skip_options)?,
            flags_any: spec.flags_any.clone(),
            flags_all: spec.flags_all.clone(),
            paths: paths(&spec.paths),
            reads: paths(&spec.reads),
            writes: paths(&spec.writes),
            writes_outside: paths(&spec.writes_outside),
            reads_outside: paths(&spec.reads_outside),
            cwd: paths(&spec.cwd),
            effects: spec.effects.clone(),
            network: spec.network,
            hosts: names(&spec.hosts),
            hosts_outside: names(&spec.hosts_outside),
            destructive: spec.destructive,
            known: spec.known,
            inline_code: spec.inline_code,
            privileged: spec.privileged,
            tags_any: spec.tags_any.clone(),
            confined: spec.confined,
        })
    }

    /// The first error of a glob set this match has tried to build.
    fn error(&self) -> Option<&str> {
        [
            &self.program,
            &self.paths,
            &self.reads,
            &self.writes,
            &self.writes_outside,
            &self.reads_outside,
            &self.cwd,
            &self.hosts,
            &self.hosts_outside,
        ]
        .into_iter()
        .flatten()
        .find_map(LazyGlobSet::error)
    }

    /// See [`CompiledRule::named_path`].
    fn named_path<'f>(&self, f: &'f CommandFacts) -> Option<&'f String> {
        fn first<'f>(set: &Option<LazyGlobSet>, paths: &[&'f String]) -> Option<&'f String> {
            let set = set.as_ref()?;
            paths.iter().copied().find(|p| set.is_match(p))
        }
        let writes: Vec<&String> = f.writes.iter().collect();
        let reads: Vec<&String> = f.reads.iter().collect();
        let both: Vec<&String> = f.reads.iter().chain(&f.writes).collect();
        first(&self.writes, &writes)
            .or_else(|| first(&self.reads, &reads))
            .or_else(|| first(&self.paths, &both))
    }

    fn matches(&self, f: &CommandFacts) -> bool {
        if let Some(set) = &self.program {
            if !set.is_match(&f.program) {
                return false;
            }
        }
        if let Some(commands) = &self.command {
            if !commands
                .iter()
                .any(|c| !c.is_empty() && f.command_path.starts_with(c))
            {
                return false;
            }
        }
        if let Some(pattern) = &self.argv {
            if !pattern.matches_exactly(&f.argv) {
                return false;
            }
        }
        if let Some(pattern) = &self.argv_skip_options {
            if !pattern.matches_skipping_options(&f.argv) {
                return false;
            }
        }
        if let Some(set) = &self.cwd {
            if !set.is_match(&f.cwd) {
                return false;
            }
        }
        if let Some(any) = &self.flags_any {
            if !any.iter().any(|flag| f.flags.contains(flag)) {
                return false;
            }
        }
        if let Some(all) = &self.flags_all {
            if !all.iter().all(|flag| f.flags.contains(flag)) {
                return false;
            }
        }
        if let Some(set) = &self.paths {
            let any = f
                .reads
                .iter()
                .chain(&f.writes)
                .chain(std::iter::once(&f.cwd))
                .any(|p| set.is_match(p));
            if !any {
                return false;
            }
        }
        if let Some(set) = &self.reads {
            if !f.reads.iter().any(|p| set.is_match(p)) {
                return false;
            }
        }
        if let Some(set) = &self.writes {
            if !f.writes.iter().any(|p| set.is_match(p)) {
                return false;
            }
        }
        if let Some(set) = &self.writes_outside {
            if !f.writes.iter().any(|p| !set.is_match(p)) {
                return false;
            }
        }
        if let Some(set) = &self.reads_outside {
            if !f.reads.iter().any(|p| !set.is_match(p)) {
                return false;
            }
        }
        if let Some(effects) = &self.effects {
            if !effects.contains(&f.effect) {
                return false;
            }
        }
        if self.network.is_some_and(|n| n != f.network) {
            return false;
        }
        if let Some(set) = &self.hosts {
            if !f.hosts.iter().any(|h| set.is_match(h)) {
                return false;
            }
        }
        if let Some(set) = &self.hosts_outside {
            let outside =
                f.network && (f.hosts.is_empty() || f.hosts.iter().any(|h| !set.is_match(h)));
            if !outside {
                return false;
            }
        }
        if self.destructive.is_some_and(|d| d != f.destructive)
            || self.known.is_some_and(|k| k != f.known)
            || self.inline_code.is_some_and(|i| i != f.inline_code)
            || self.privileged.is_some_and(|p| p != f.privileged)
            || self.confined.is_some_and(|c| c != f.enforcement.confines())
        {
            return false;
        }
        if let Some(tags) = &self.tags_any {
            if !tags.iter().any(|t| f.tags.contains(t)) {
                return false;
            }
        }
        true
    }
}

impl ArgvPattern {
    /// Element by element from the program on; without `…` the lengths must be equal.
    fn matches_exactly(&self, argv: &[String]) -> bool {
        let length_ok = if self.open {
            argv.len() >= self.elements.len()
        } else {
            argv.len() == self.elements.len()
        };
        length_ok && self.elements.iter().zip(argv).all(|(m, a)| m.is_match(a))
    }

    /// The program first, then the other elements in order, where option words and the value
    /// each may take can be skipped before, between and (without `…`) after them. Whether an
    /// option takes a value is not known here, so both readings are tried: the broad reading a
    /// deny needs. A word that is not an option is never skipped, so `git commit -m push`
    /// is not `git push`.
    fn matches_skipping_options(&self, argv: &[String]) -> bool {
        let Some((program, rest)) = self.elements.split_first() else {
            return self.open || argv.is_empty();
        };
        if !argv.first().is_some_and(|a| program.is_match(a)) {
            return false;
        }
        let words = &argv[1..];
        let (n, m) = (rest.len(), words.len());
        // matched[i][j]: rest[i..] matches words[j..].
        let mut matched = vec![vec![false; m + 1]; n + 1];
        for j in (0..=m).rev() {
            matched[n][j] = self.open || j == m || skippable(words, j, &matched[n]);
        }
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                matched[i][j] = (rest[i].is_match(&words[j]) && matched[i + 1][j + 1])
                    || skippable(words, j, &matched[i]);
            }
        }
        matched[0][0]
    }
}

/// One element of an `argv` pattern. Most are words (`git`, `push`, `--force`), compared as
/// such; compiling each to globset's regular expression cost a one-shot `cordon exec` about
/// 0.15 ms for the default pack's patterns.
#[derive(Debug, Clone)]
enum ArgvElement {
    Word(String),
    /// Parsed when the policy is compiled; its matcher built when a decision first needs it.
    Glob(Glob, OnceLock<globset::GlobMatcher>),
}

impl ArgvElement {
    fn new(pattern: &str) -> Result<ArgvElement, String> {
        if pattern.contains(GLOB_CHARS) {
            Ok(ArgvElement::Glob(argv_glob(pattern)?, OnceLock::new()))
        } else {
            Ok(ArgvElement::Word(pattern.to_string()))
        }
    }

    fn is_match(&self, arg: &str) -> bool {
        match self {
            ArgvElement::Word(word) => word == arg,
            ArgvElement::Glob(glob, matcher) => {
                matcher.get_or_init(|| glob.compile_matcher()).is_match(arg)
            }
        }
    }
}

/// Whether `words[j]` is an option that can be skipped to a position from which `after`
/// (already computed for every later position) holds: the option alone, or with its value.
fn skippable(words: &[String], j: usize, after: &[bool]) -> bool {
    let Some(word) = words.get(j) else {
        return false;
    };
    let option = (word.starts_with('-') && word != "-" && word != "--")
        || (word.starts_with('+') && word.len() > 1);
    if !option {
        return false;
    }
    let may_take_value = word.starts_with('-') && !word.contains('=') && j + 1 < words.len();
    after[j + 1] || (may_take_value && after[j + 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// globset's answer for one pattern set, built as `LazyGlobSet` would without the plain path.
    fn globset_says(patterns: &[(String, String)], paths: bool, candidate: &str) -> bool {
        build_set(parse(patterns, paths).unwrap())
            .unwrap()
            .is_match(candidate)
    }

    #[test]
    fn plain_sets_match_what_globset_matches() {
        let patterns: Vec<(String, String)> =
            ["/h/.ssh/**", "/h/.ssh", "/h/.netrc", "/w/p/**", "/"]
                .iter()
                .map(|p| (p.to_string(), p.to_string()))
                .collect();
        let (plain, others) = PlainSet::split(patterns.clone(), true);
        assert!(others.is_empty());
        for candidate in [
            "/h/.ssh",
            "/h/.ssh/",
            "/h/.ssh/id_rsa",
            "/h/.ssh/a/b",
            "/h/.sshx",
            "/h/.ssh.bak",
            "/h/.netrc",
            "/h/.netrc/x",
            "/h/.netrcx",
            "/w/p",
            "/w/p/",
            "/w/p/src/.env",
            "/w/pq",
            "/",
            "",
            "/h",
            "h/.ssh/x",
        ] {
            for paths in [true, false] {
                assert_eq!(
                    plain.is_match(candidate),
                    globset_says(&patterns, paths, candidate),
                    "{candidate:?} (paths: {paths})"
                );
            }
        }
        let root = vec![("/**".to_string(), "/**".to_string())];
        for candidate in ["/", "/a", "/a/b", "", "a"] {
            assert_eq!(
                PlainSet::split(root.clone(), true).0.is_match(candidate),
                globset_says(&root, true, candidate),
                "/** on {candidate:?}"
            );
        }
        // File-name globs of stars and literals are plain among path patterns; anything else
        // with a glob character is globset's.
        for pattern in [
            "/h/*.pem",
            "**/.env",
            "**/.env.*.local",
            "/h/.cargo/credentials*",
        ] {
            let (plain, others) = PlainSet::split(vec![(pattern.into(), pattern.into())], true);
            assert!(others.is_empty() && plain.named.len() == 1, "{pattern}");
            let (_, others) = PlainSet::split(vec![(pattern.into(), pattern.into())], false);
            assert_eq!(
                others.len(),
                1,
                "{pattern}: a name pattern's `*` crosses `/`"
            );
        }
        for pattern in [
            "/h/{a,b}",
            "/h/[x]",
            "/h/a?b",
            "/h/*/x",
            "**/*",
            "/h/*",
            "**/a/*.pem",
            "**/*.",
        ] {
            let (plain, others) = PlainSet::split(vec![(pattern.into(), pattern.into())], true);
            assert!(others.len() == 1 && !plain.is_match(pattern), "{pattern}");
        }
        // What proptest found: globset does not match `**/*.` against `..`.
        let dots = vec![("**/*.".to_string(), "**/*.".to_string())];
        assert!(!globset_says(&dots, true, ".."));
        assert!(!LazyGlobSet::new(&["**/*.".to_string()], &ctx(), true).is_match(".."));
    }

    #[test]
    fn a_set_of_plain_and_glob_patterns_matches_as_globset_does() {
        let context = Context {
            workspace: "/w/p".into(),
            home: "/h".into(),
        };
        let written: Vec<String> = [
            "~/.ssh/**",
            "~/.cargo/credentials*",
            "*.pem",
            "~/.netrc",
            "~/.config/{gh,hub}/**",
            "~/.x?",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        let set = LazyGlobSet::new(&written, &context, true);
        assert_eq!(set.patterns.len(), 3, "{:?}", set.patterns);
        let all = expand(&written, &context, true);
        for candidate in [
            "/h/.ssh/id_rsa",
            "/h/.ssh",
            "/h/.cargo/credentials.toml",
            "/h/.cargo/config",
            "/w/p/key.pem",
            "/h/.netrc",
            "/h/.netrc2",
            "/h/x",
            "/h/.config/gh/hosts.yml",
            "/h/.config/hub",
            "/h/.xy",
            "/h/.x",
            "key.pem",
            "/h/.cargo/credentials/x",
            "/h/.pem",
        ] {
            assert_eq!(
                set.is_match(candidate),
                globset_says(&all, true, candidate),
                "{candidate}"
            );
        }
    }

    proptest! {
        #[test]
        fn plain_file_name_globs_agree_with_globset(
            name in "[ab.*]{0,2}[ab.][ab.*]{0,2}",
            dir in proptest::option::of("/[ab.]{1,2}(/[ab.]{1,2}){0,1}"),
            candidate in "(/?[ab.*]{0,3}){0,3}/?",
        ) {
            let pattern = match &dir {
                Some(dir) => format!("{dir}/{name}"),
                None => format!("**/{name}"),
            };
            let patterns = vec![(pattern.clone(), pattern)];
            let (plain, others) = PlainSet::split(patterns.clone(), true);
            // A glob whose name ends in `.` is globset's (`plain_shape`); the rest are plain.
            let globsets = name.ends_with('.') && patterns[0].0.contains('*');
            prop_assert_eq!(others.is_empty(), !globsets);
            if others.is_empty() {
                prop_assert_eq!(plain.is_match(&candidate), globset_says(&patterns, true, &candidate));
            }
        }

        #[test]
        fn plain_sets_agree_with_globset(
            dirs in proptest::collection::vec("/[ab.]{1,3}(/[ab.]{1,3}){0,2}", 1..4),
            candidate in "/[ab.]{0,3}(/[ab.]{0,3}){0,3}/?",
        ) {
            let patterns: Vec<(String, String)> = dirs
                .iter()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { format!("{d}/**") } else { d.clone() })
                .map(|p| (p.clone(), p))
                .collect();
            let (plain, others) = PlainSet::split(patterns.clone(), true);
            prop_assert!(others.is_empty());
            prop_assert_eq!(plain.is_match(&candidate), globset_says(&patterns, true, &candidate));
        }
    }

    fn ctx() -> Context {
        Context {
            workspace: "/w/p".into(),
            home: "/h".into(),
        }
    }

    fn set(patterns: &[&str]) -> LazyGlobSet {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        LazyGlobSet::new(&patterns, &ctx(), true)
    }

    #[test]
    fn path_patterns_expand_and_match_component_wise() {
        let set = set(&["~/.ssh/**", ".env", "{workspace}/**"]);
        assert!(set.is_match("/h/.ssh/id_rsa"));
        assert!(set.is_match("/h/.ssh"));
        assert!(set.is_match("/w/p/sub/.env"));
        assert!(set.is_match("/w/p/src/a.rs"));
        assert!(set.is_match("/w/p"));
        assert!(!set.is_match("/w/p-evil/x"));
        let star = super::tests::set(&["~/*"]);
        assert!(!star.is_match("/h/a/b"), "`*` must not cross a slash");
    }

    /// A set of globs that each parse but together exceed the regex size limit is found out
    /// when a decision first needs it, and makes the decision a denial.
    #[test]
    fn a_glob_set_that_cannot_be_built_makes_the_policy_unusable() {
        let huge = format!("{}*", "?".repeat(200_000));
        let yaml = format!(
            "cordon_policy: 1\nname: t\nrules:\n  - {{id: all, outcome: allow, reason: r, match: {{}}}}\n  - {{id: huge, outcome: deny, reason: r, match: {{cwd: [\"/{huge}\"]}}}}\n"
        );
        let loaded = LoadedNativePolicy::parse(yaml.as_bytes()).unwrap();
        let policy = CompiledPolicy::compile(&loaded, &ctx()).unwrap();
        assert_eq!(
            policy.unusable(),
            None,
            "nothing is built before a decision needs it"
        );
        let session = crate::shell::Session {
            cwd: "/w/p".into(),
            home: "/h".into(),
        };
        let (_, decision) = super::super::decide("true", &session, &policy);
        assert!(policy
            .unusable()
            .is_some_and(|why| why.contains("rule `huge`")));
        assert_eq!(decision.outcome, Outcome::Deny, "{}", decision.sentence);
        assert!(
            decision.sentence.contains("cannot be used"),
            "{}",
            decision.sentence
        );
    }

    fn skipping(patterns: &[&str], argv: &str) -> bool {
        let open = patterns.last() == Some(&"…");
        let fixed = if open {
            &patterns[..patterns.len() - 1]
        } else {
            patterns
        };
        let pattern = ArgvPattern {
            elements: fixed.iter().map(|p| ArgvElement::new(p).unwrap()).collect(),
            open,
        };
        let argv: Vec<String> = argv.split_whitespace().map(str::to_string).collect();
        pattern.matches_skipping_options(&argv)
    }

    #[test]
    fn argv_skipping_options_skips_option_words_and_their_values_only() {
        let push = ["git", "push*", "…"];
        for caught in [
            "git push",
            "git push origin main",
            "git --no-pager push",
            "git -c k=v push",
            "git --git-dir x push",
            "git --git-dir=x push -f",
        ] {
            assert!(skipping(&push, caught), "{caught}");
        }
        for passed in [
            "git commit -m push",
            "git log push",
            "gitx push",
            "git",
            "-c push",
        ] {
            assert!(!skipping(&push, passed), "{passed}");
        }
        // The exact reading, as a control: the same words with options before them do not match.
        let exact = ArgvPattern {
            elements: ["npm", "publish"]
                .iter()
                .map(|p| ArgvElement::new(p).unwrap())
                .collect(),
            open: true,
        };
        let with_prefix: Vec<String> = ["npm", "--prefix", "web", "publish"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(!exact.matches_exactly(&with_prefix));
        assert!(skipping(
            &["npm", "publish", "…"],
            "npm --prefix web publish"
        ));
        assert!(skipping(
            &["cargo", "publish", "…"],
            "cargo +nightly publish"
        ));
        assert!(skipping(
            &["aws", "s3", "rm", "…"],
            "aws --profile p s3 --recursive rm s3://b"
        ));
        // Closed: only options (and their values) may follow the last element.
        assert!(skipping(&["npm", "publish"], "npm publish --tag beta"));
        assert!(skipping(&["npm", "publish"], "npm -w x publish"));
        assert!(!skipping(&["npm", "publish"], "npm publish pkg"));
        // `--` ends the options: what follows is never skipped.
        assert!(!skipping(&["rm", "x"], "rm -- -f x"));
        assert!(!skipping(&[], "anything"));
    }
}
