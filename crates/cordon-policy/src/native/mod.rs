//! Native policies: ordered rules over command facts, with cordon's five outcomes.
//!
//! A native policy is YAML (read with the same loader as CSC profiles, so the YAML 1.1/1.2
//! ambiguity rules apply). Each rule matches facts of one simple command — argv patterns, the
//! program and subcommand, flags, path globs, effects, network — and gives an outcome and a
//! reason. Every matching rule counts, and the most severe outcome wins:
//! deny > ask > redirect > allow_with_checkpoint > allow. With no matching rule, the policy's
//! default applies, which is deny unless the policy says ask; a policy cannot default to allow.
//! Because the most severe outcome wins, adding a rule can make a decision stricter only through
//! its own outcome: adding a deny rule never allows more.
//!
//! The digest covers the whole policy document, as parsed, in canonical JSON.

mod decide;
pub mod fixtures;
mod matcher;
pub mod reason;
pub mod suggest;

use std::collections::BTreeMap;

use cordon_core::{EffectType, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub(crate) use decide::{code_for, codes_at, label};
pub use decide::{
    decide, decide_facts, decide_under, expand_template, CommandJudgement, Decision, RuleHit,
};
pub use matcher::{CompiledPolicy, Context};
pub use reason::CordonReason;

/// The first key of every native policy; its value is the format version.
pub const FORMAT_KEY: &str = "cordon_policy";
pub const FORMAT_VERSION: u64 = 1;

/// The default policy pack for coding agents (docs/front-end.md, "The default pack").
pub const DEFAULT_PACK: &str = include_str!("../../data/default-policy.yaml");

/// Every default pack an earlier cordon wrote as a home's `policy.yaml`, one `size sha256
/// commit` line each (`scripts/earlier-default-packs.sh` regenerates it from git history).
const EARLIER_DEFAULT_PACKS: &str = include_str!("../../data/earlier-default-packs.txt");

/// Every default pack an earlier cordon wrote, as [`EarlierPacks`].
pub fn earlier_default_packs() -> EarlierPacks<'static> {
    EarlierPacks(EARLIER_DEFAULT_PACKS)
}

/// A list of packs by `size sha256 …` lines (`data/earlier-default-packs.txt`'s form).
#[derive(Debug, Clone, Copy)]
pub struct EarlierPacks<'a>(pub &'a str);

impl EarlierPacks<'_> {
    /// Whether a policy file of `len` bytes may be one: the cheap test, on the size alone,
    /// before [`EarlierPacks::holds`] reads and hashes it.
    pub fn may_hold(&self, len: u64) -> bool {
        self.entries().any(|(size, _)| size == len)
    }

    /// Whether `text` is byte for byte one of them.
    pub fn holds(&self, text: &[u8]) -> bool {
        let hash = cordon_core::hash::sha256_hex(text);
        self.entries()
            .any(|(size, sha)| size == text.len() as u64 && sha == hash)
    }

    fn entries(&self) -> impl Iterator<Item = (u64, &str)> {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let size = fields.next()?.parse().ok()?;
                Some((size, fields.next()?))
            })
    }
}
/// `DEFAULT_PACK`'s document as JSON, made by build.rs with the same YAML reader.
const DEFAULT_PACK_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/default-policy.json"));

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Allow,
    Deny,
    Ask,
    Redirect,
    AllowWithCheckpoint,
}

impl RuleOutcome {
    pub fn outcome(&self) -> Outcome {
        match self {
            RuleOutcome::Allow => Outcome::Allow,
            RuleOutcome::Deny => Outcome::Deny,
            RuleOutcome::Ask => Outcome::Ask,
            RuleOutcome::Redirect => Outcome::Redirect,
            RuleOutcome::AllowWithCheckpoint => Outcome::AllowWithCheckpoint,
        }
    }
}

/// Severity for precedence: deny > ask > redirect > allow_with_checkpoint > allow.
pub fn severity(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Allow => 0,
        Outcome::AllowWithCheckpoint => 1,
        Outcome::Redirect => 2,
        Outcome::Ask => 3,
        Outcome::Deny => 4,
    }
}

/// What a rule matches. Every condition given must hold; an empty match matches every command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// Globs on the program name (`rm`, `python*`); `{workspace}` expands for local programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<Vec<String>>,
    /// Program and subcommands, options ignored: `git push` matches `git -C x push -f`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Element-wise globs on the argv prefix (after wrappers are removed). `…` ends the pattern
    /// and matches any rest; without it the argv must have exactly as many elements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Vec<String>>,
    /// Like `argv`, but option words (`-x`, `--x`, `--x=v`, `+x`), each with the value it may
    /// take, may come before, between and after the patterns: `[npm, publish, …]` matches `npm
    /// --prefix web publish`. The program comes first. Broader than `argv` on purpose: it is
    /// what a deny or ask about a command prefix needs, however the command's global options
    /// are written (`cordon policy import` makes such rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv_skip_options: Option<Vec<String>>,
    /// Path globs on the command's working directory (after `cd`, `git -C`, `make -C`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags_any: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags_all: Option<Vec<String>>,
    /// Path globs: any read or written path (or the cwd) matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<Vec<String>>,
    /// Matches when some written path is outside every glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_outside: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reads_outside: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effects: Option<Vec<EffectType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<Vec<String>>,
    /// Matches when the command uses the network and some host (or an unnamed one) is outside
    /// every glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts_outside: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_code: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags_any: Option<Vec<String>>,
    /// The kernel confines the command to the policy's envelope with no network (hardened mode,
    /// as the caller states it: `facts::assume`), so what it cannot see into is still bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confined: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectSpec {
    /// The replacement argv. `{N}` is the original argv[N]; `{rest:N}` splices argv[N..].
    pub argv: Vec<String>,
    /// Words removed from spliced arguments (`--force` when redirecting to `--force-with-lease`).
    #[serde(default)]
    pub drop: Vec<String>,
}

/// Inline examples, checked by `cordon policy test` (after Codex's `match`/`not_match`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleExamples {
    #[serde(default, rename = "match")]
    pub matching: Vec<String>,
    #[serde(default)]
    pub not_match: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub outcome: RuleOutcome,
    /// One sentence a person reads when this rule decides.
    pub reason: String,
    #[serde(default, rename = "match")]
    pub matches: MatchSpec,
    /// An exception: the rule does not apply when this matches too.
    #[serde(default)]
    pub unless: Option<MatchSpec>,
    #[serde(default)]
    pub redirect: Option<RedirectSpec>,
    #[serde(default)]
    pub examples: Option<RuleExamples>,
    /// The hosts a command this rule matches may reach (`registry.npmjs.org`, `*.example.org:80`),
    /// through cordon's egress proxy in hardened mode (`crate::egress`). `match.hosts` is a
    /// condition on the hosts a command names; this is what the rule grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<cordon_core::hosts::HostList>,
    /// Secrets the commands this rule matches receive: the environment variable the command
    /// reads → the store's name for the secret. Resolved and injected only after the decision
    /// and any approval ([`crate::grants`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultOutcome {
    #[default]
    Deny,
    Ask,
}

/// A native policy document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NativePolicy {
    pub cordon_policy: u64,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default: DefaultOutcome,
    /// Whether the output of a run that holds secrets, and its records, are redacted of them
    /// (docs/secrets.md, "Redaction"). On unless the policy says `redact_secrets: false`, which
    /// exists for the tests' positive control: it shows that a test can see a leak. The receipt
    /// of every run with secrets says whether redaction was on.
    #[serde(default = "redact_secrets_by_default", skip_serializing_if = "is_on")]
    pub redact_secrets: bool,
    pub rules: Vec<Rule>,
}

fn redact_secrets_by_default() -> bool {
    true
}

fn is_on(redact: &bool) -> bool {
    *redact
}

/// A validated native policy and the digest of its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedNativePolicy {
    pub policy: NativePolicy,
    /// SHA-256 of the canonical JSON of the whole document.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NativePolicyError {
    #[error("{0}")]
    Yaml(#[from] crate::yaml::YamlError),
    #[error("policy is not valid UTF-8 (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("policy is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("native policy: {0}")]
    Shape(String),
    #[error("native policy: rule `{rule}`: {message}")]
    Rule { rule: String, message: String },
}

/// Whether a parsed YAML document is a native policy (as opposed to a CSC profile).
pub fn is_native(document: &Value) -> bool {
    document.get(FORMAT_KEY).is_some()
}

/// The document of a policy file's text. The default pack's text, which first use writes as
/// the config home's `policy.yaml`, is recognised byte for byte and read from the JSON build.rs
/// made of it with the same YAML reader (a unit test holds the two equal); any other text is
/// parsed as YAML. Reading JSON instead of YAML saves a one-shot `cordon exec` about 0.3 ms.
pub fn policy_document(text: &str) -> Result<Value, crate::yaml::YamlError> {
    if text == DEFAULT_PACK {
        if let Ok(document) = serde_json::from_str(DEFAULT_PACK_JSON) {
            return Ok(document);
        }
    }
    crate::yaml::parse(text)
}

impl LoadedNativePolicy {
    pub fn parse(bytes: &[u8]) -> Result<LoadedNativePolicy, NativePolicyError> {
        let limit = cordon_core::limits::MAX_POLICY_BYTES;
        if bytes.len() as u64 > limit {
            return Err(NativePolicyError::TooLarge(limit));
        }
        let text =
            std::str::from_utf8(bytes).map_err(|e| NativePolicyError::NotUtf8(e.valid_up_to()))?;
        LoadedNativePolicy::from_document(policy_document(text)?, text)
    }

    pub fn from_value(document: Value) -> Result<LoadedNativePolicy, NativePolicyError> {
        LoadedNativePolicy::checked(document, true)
    }

    /// The policy of a file's `text`, from the `document` [`policy_document`] made of it: what
    /// [`LoadedNativePolicy::parse`] does, for a caller that looked at the document first.
    pub fn from_document(
        document: Value,
        text: &str,
    ) -> Result<LoadedNativePolicy, NativePolicyError> {
        LoadedNativePolicy::checked(document, text != DEFAULT_PACK)
    }

    /// `check_globs`: whether every glob is parsed to prove it valid. The default pack's own
    /// text skips that (a unit test proves its globs parse): parsing them all cost every process
    /// that loads the pack about a quarter of a millisecond.
    fn checked(
        document: Value,
        check_globs: bool,
    ) -> Result<LoadedNativePolicy, NativePolicyError> {
        let sha256 = cordon_core::hash::canonical_sha256(&document)
            .map_err(|e| NativePolicyError::Shape(format!("cannot be hashed: {e}")))?;
        let policy: NativePolicy = serde_json::from_value(document)
            .map_err(|e| NativePolicyError::Shape(e.to_string()))?;
        if policy.cordon_policy != FORMAT_VERSION {
            return Err(NativePolicyError::Shape(format!(
                "field `cordon_policy`: version {} is not supported, expected {FORMAT_VERSION}",
                policy.cordon_policy
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for rule in &policy.rules {
            let fail = |message: &str| NativePolicyError::Rule {
                rule: rule.id.clone(),
                message: message.to_string(),
            };
            if rule.id.is_empty() {
                return Err(fail("`id` must not be empty"));
            }
            if !seen.insert(rule.id.as_str()) {
                return Err(fail(
                    "the id is used by an earlier rule; ids must be unique",
                ));
            }
            if rule.reason.trim().is_empty() {
                return Err(fail("`reason` must say why, in one sentence"));
            }
            match (&rule.outcome, &rule.redirect) {
                (RuleOutcome::Redirect, None) => {
                    return Err(fail("outcome `redirect` needs a `redirect: {argv: […]}`"))
                }
                (RuleOutcome::Redirect, Some(r)) if r.argv.is_empty() => {
                    return Err(fail("`redirect.argv` must not be empty"))
                }
                (RuleOutcome::Redirect, Some(_)) | (_, None) => {}
                (_, Some(_)) => return Err(fail("`redirect` is only for outcome `redirect`")),
            }
            crate::grants::check_rule_secrets(&rule.outcome, &rule.secrets)
                .map_err(|m| fail(&m))?;
        }
        // Every glob must parse. The matchers are built for each workspace and home, each set
        // when a decision first needs it; a set that cannot be built then makes the decision a
        // denial (`CompiledPolicy::unusable`).
        for rule in policy.rules.iter().filter(|_| check_globs) {
            for spec in std::iter::once(&rule.matches).chain(&rule.unless) {
                matcher::check_globs(spec).map_err(|message| NativePolicyError::Rule {
                    rule: rule.id.clone(),
                    message,
                })?;
            }
        }
        Ok(LoadedNativePolicy { policy, sha256 })
    }

    /// The default pack shipped with cordon.
    pub fn default_pack() -> Result<LoadedNativePolicy, NativePolicyError> {
        LoadedNativePolicy::parse(DEFAULT_PACK.as_bytes())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_current_pack_is_not_an_earlier_one_and_earlier_ones_parse() {
        let earlier = earlier_default_packs();
        assert!(!earlier.holds(DEFAULT_PACK.as_bytes()));
        assert!(earlier.entries().count() > 0);
        for (size, sha) in earlier.entries() {
            assert!(size > 0 && sha.len() == 64, "{size} {sha}");
        }
        // A text of a listed size but other bytes is not one.
        let (size, _) = earlier.entries().next().unwrap();
        assert!(earlier.may_hold(size));
        let impostor = vec![b'#'; usize::try_from(size).unwrap()];
        assert!(!earlier.holds(&impostor));
    }
    use super::*;

    #[test]
    fn the_json_the_build_made_is_the_default_pack() {
        let from_yaml = crate::yaml::parse(DEFAULT_PACK).unwrap();
        let from_json: Value = serde_json::from_str(DEFAULT_PACK_JSON).unwrap();
        assert_eq!(from_yaml, from_json);
        assert_eq!(policy_document(DEFAULT_PACK).unwrap(), from_yaml);
        // Any other text is parsed as written: one changed byte changes the document.
        let edited = DEFAULT_PACK.replace("name: coding-agent-default", "name: edited");
        assert_eq!(policy_document(&edited).unwrap()["name"], "edited");
    }

    #[test]
    fn every_glob_of_the_default_pack_parses() {
        // Loading the pack's own text skips the glob check; this is the check.
        let document = policy_document(DEFAULT_PACK).unwrap();
        let checked = LoadedNativePolicy::from_value(document).unwrap();
        assert_eq!(checked, LoadedNativePolicy::default_pack().unwrap());
    }

    #[test]
    fn a_glob_that_does_not_parse_is_refused_at_load() {
        let text = "cordon_policy: 1\nname: t\nrules:\n  - id: bad\n    outcome: deny\n    reason: r\n    match: {cwd: [\"a/{b\"]}\n";
        let err = LoadedNativePolicy::parse(text.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("rule `bad`"), "{err}");
    }
}
