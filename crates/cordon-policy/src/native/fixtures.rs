//! Policy fixtures: command text with the outcome a policy must give it (`cordon policy test`),
//! and the inline `examples` of each rule.
//!
//! ```yaml
//! session: {cwd: /work/project, home: /home/agent}   # optional
//! cases:
//!   - shell: "cd web && npm test 2>&1 | tail -20"
//!     expect: allow
//!   - argv: [rm, -rf, build]
//!     expect: allow_with_checkpoint
//! ```

use cordon_core::Outcome;
use serde::{Deserialize, Serialize};

use super::matcher::{CompiledPolicy, Context};
use super::{decide, LoadedNativePolicy, NativePolicyError};
use crate::enforcement::Enforcement;
use crate::facts;
use crate::knowledge::Knowledge;
use crate::shell::{self, Session};

pub const DEFAULT_CWD: &str = "/work/project";
pub const DEFAULT_HOME: &str = "/home/agent";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSession {
    pub cwd: String,
    pub home: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureCase {
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    pub expect: Outcome,
    /// The mode the case is decided in: `local` (the default) or `hardened` (the kernel enforces
    /// the envelope, with no network).
    #[serde(default)]
    pub mode: FixtureMode,
    #[serde(default)]
    pub note: Option<String>,
}

/// The enforcement a fixture case assumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixtureMode {
    #[default]
    Local,
    Hardened,
}

impl FixtureMode {
    pub fn enforcement(self) -> Enforcement {
        match self {
            FixtureMode::Local => Enforcement::Local,
            FixtureMode::Hardened => Enforcement::Hardened {
                reaches_network: false,
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    #[serde(default)]
    pub session: Option<FixtureSession>,
    /// The workspace for `{workspace}` in the policy; the session cwd when absent.
    #[serde(default)]
    pub workspace: Option<String>,
    pub cases: Vec<FixtureCase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    pub text: String,
    pub expected: Outcome,
    pub actual: Outcome,
    pub sentence: String,
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExampleFailure {
    pub rule: String,
    pub text: String,
    /// `match` when the rule should have matched and did not; `not_match` otherwise.
    pub expected: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{0}")]
    Yaml(#[from] crate::yaml::YamlError),
    #[error("fixtures: {0}")]
    Shape(String),
    #[error("{0}")]
    Policy(#[from] NativePolicyError),
}

impl FixtureFile {
    pub fn parse(text: &str) -> Result<FixtureFile, FixtureError> {
        let value = crate::yaml::parse(text)?;
        let file: FixtureFile =
            serde_json::from_value(value).map_err(|e| FixtureError::Shape(e.to_string()))?;
        for (i, case) in file.cases.iter().enumerate() {
            if case.shell.is_some() == case.argv.is_some() {
                return Err(FixtureError::Shape(format!(
                    "cases[{i}]: give exactly one of `shell` or `argv`"
                )));
            }
        }
        Ok(file)
    }

    pub fn session(&self) -> Session {
        match &self.session {
            Some(s) => Session {
                cwd: s.cwd.clone(),
                home: s.home.clone(),
            },
            None => Session {
                cwd: DEFAULT_CWD.to_string(),
                home: DEFAULT_HOME.to_string(),
            },
        }
    }

    pub fn context(&self) -> Context {
        let session = self.session();
        Context {
            workspace: self.workspace.clone().unwrap_or(session.cwd),
            home: session.home,
        }
    }
}

/// Decides every case under `policy` and reports each.
pub fn run(
    file: &FixtureFile,
    policy: &LoadedNativePolicy,
) -> Result<Vec<CaseResult>, FixtureError> {
    let session = file.session();
    let compiled = CompiledPolicy::compile(policy, &file.context())?;
    let knowledge = Knowledge::builtin();
    let mut results = Vec::with_capacity(file.cases.len());
    for case in &file.cases {
        let (text, script) = match (&case.shell, &case.argv) {
            (Some(text), _) => (text.clone(), shell::parse(text, &session)),
            (None, Some(argv)) => (facts::display_argv(argv), shell::from_argv(argv, &session)),
            (None, None) => continue,
        };
        let mut facts = facts::of_script(&script, &session, knowledge);
        facts::assume(&mut facts, case.mode.enforcement());
        let decision = decide::decide_facts(&facts, &compiled, &session, knowledge);
        results.push(CaseResult {
            text,
            expected: case.expect,
            actual: decision.outcome,
            sentence: decision.sentence,
            passed: decision.outcome == case.expect,
        });
    }
    Ok(results)
}

/// Checks every rule's inline `examples` against the rule alone.
pub fn check_examples(
    policy: &LoadedNativePolicy,
    context: &Context,
) -> Result<Vec<ExampleFailure>, FixtureError> {
    let compiled = CompiledPolicy::compile(policy, context)?;
    let session = Session {
        cwd: context.workspace.clone(),
        home: context.home.clone(),
    };
    let knowledge = Knowledge::builtin();
    let mut failures = Vec::new();
    for rule in &compiled.rules {
        let Some(examples) = &rule.examples else {
            continue;
        };
        let enforcement = if rule.requires_confinement() {
            Enforcement::Hardened {
                reaches_network: false,
            }
        } else {
            Enforcement::Local
        };
        let applies = |text: &str| {
            let script = shell::parse(text, &session);
            let mut facts = facts::of_script(&script, &session, knowledge);
            facts::assume(&mut facts, enforcement);
            facts.commands.iter().any(|f| rule.applies(f))
        };
        for text in &examples.matching {
            if !applies(text) {
                failures.push(ExampleFailure {
                    rule: rule.id.clone(),
                    text: text.clone(),
                    expected: "match",
                });
            }
        }
        for text in &examples.not_match {
            if applies(text) {
                failures.push(ExampleFailure {
                    rule: rule.id.clone(),
                    text: text.clone(),
                    expected: "not_match",
                });
            }
        }
    }
    Ok(failures)
}
