//! Rules compiled for one session: globs built once (`{workspace}` and `~` expanded), then
//! matched against command facts.

use cordon_core::{EffectType, Outcome};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

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
    when: CompiledMatch,
    unless: Option<CompiledMatch>,
}

impl CompiledRule {
    /// Whether this rule applies to the command: its match holds and its exception does not.
    pub fn applies(&self, facts: &CommandFacts) -> bool {
        self.when.matches(facts) && !self.unless.as_ref().is_some_and(|u| u.matches(facts))
    }
}

#[derive(Debug, Clone, Default)]
struct CompiledMatch {
    program: Option<GlobSet>,
    command: Option<Vec<Vec<String>>>,
    argv: Option<(Vec<globset::GlobMatcher>, bool)>,
    flags_any: Option<Vec<String>>,
    flags_all: Option<Vec<String>>,
    paths: Option<GlobSet>,
    reads: Option<GlobSet>,
    writes: Option<GlobSet>,
    writes_outside: Option<GlobSet>,
    reads_outside: Option<GlobSet>,
    effects: Option<Vec<EffectType>>,
    network: Option<bool>,
    hosts: Option<GlobSet>,
    hosts_outside: Option<GlobSet>,
    destructive: Option<bool>,
    known: Option<bool>,
    inline_code: Option<bool>,
    privileged: Option<bool>,
    tags_any: Option<Vec<String>>,
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

fn glob_set(patterns: &[String], context: &Context, paths: bool) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let expanded = if paths {
            expand_path_pattern(pattern, context)
        } else {
            vec![pattern.clone()]
        };
        for p in expanded {
            let glob = GlobBuilder::new(&p)
                .literal_separator(paths)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("the glob `{pattern}` is invalid: {e}"))?;
            builder.add(glob);
        }
    }
    builder
        .build()
        .map_err(|e| format!("the globs cannot be compiled: {e}"))
}

impl CompiledMatch {
    fn compile(spec: &MatchSpec, context: &Context) -> Result<CompiledMatch, String> {
        let paths = |list: &Option<Vec<String>>| {
            list.as_ref()
                .map(|l| glob_set(l, context, true))
                .transpose()
        };
        let names = |list: &Option<Vec<String>>| {
            list.as_ref()
                .map(|l| {
                    let expanded: Vec<String> = l
                        .iter()
                        .map(|p| p.replace("{workspace}", &globset::escape(&context.workspace)))
                        .collect();
                    glob_set(&expanded, context, false)
                })
                .transpose()
        };
        let argv = match &spec.argv {
            Some(patterns) => {
                let open = matches!(patterns.last().map(String::as_str), Some("…" | "..."));
                let fixed = if open {
                    &patterns[..patterns.len() - 1]
                } else {
                    &patterns[..]
                };
                let mut matchers = Vec::with_capacity(fixed.len());
                for p in fixed {
                    let glob = GlobBuilder::new(p)
                        .literal_separator(false)
                        .backslash_escape(true)
                        .build()
                        .map_err(|e| format!("the argv glob `{p}` is invalid: {e}"))?;
                    matchers.push(glob.compile_matcher());
                }
                Some((matchers, open))
            }
            None => None,
        };
        Ok(CompiledMatch {
            program: names(&spec.program)?,
            command: spec.command.as_ref().map(|l| {
                l.iter()
                    .map(|c| c.split_whitespace().map(str::to_string).collect())
                    .collect()
            }),
            argv,
            flags_any: spec.flags_any.clone(),
            flags_all: spec.flags_all.clone(),
            paths: paths(&spec.paths)?,
            reads: paths(&spec.reads)?,
            writes: paths(&spec.writes)?,
            writes_outside: paths(&spec.writes_outside)?,
            reads_outside: paths(&spec.reads_outside)?,
            effects: spec.effects.clone(),
            network: spec.network,
            hosts: names(&spec.hosts)?,
            hosts_outside: names(&spec.hosts_outside)?,
            destructive: spec.destructive,
            known: spec.known,
            inline_code: spec.inline_code,
            privileged: spec.privileged,
            tags_any: spec.tags_any.clone(),
        })
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
        if let Some((matchers, open)) = &self.argv {
            let length_ok = if *open {
                f.argv.len() >= matchers.len()
            } else {
                f.argv.len() == matchers.len()
            };
            if !length_ok || !matchers.iter().zip(&f.argv).all(|(m, a)| m.is_match(a)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            workspace: "/w/p".into(),
            home: "/h".into(),
        }
    }

    #[test]
    fn path_patterns_expand_and_match_component_wise() {
        let set = glob_set(
            &["~/.ssh/**".into(), ".env".into(), "{workspace}/**".into()],
            &ctx(),
            true,
        )
        .unwrap();
        assert!(set.is_match("/h/.ssh/id_rsa"));
        assert!(set.is_match("/h/.ssh"));
        assert!(set.is_match("/w/p/sub/.env"));
        assert!(set.is_match("/w/p/src/a.rs"));
        assert!(set.is_match("/w/p"));
        assert!(!set.is_match("/w/p-evil/x"));
        let star = glob_set(&["~/*".into()], &ctx(), true).unwrap();
        assert!(!star.is_match("/h/a/b"), "`*` must not cross a slash");
    }
}
