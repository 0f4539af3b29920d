//! The agent front end end to end: shell text → facts → native decision, under the default pack.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::native::fixtures::{self, FixtureFile};
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;

fn session() -> Session {
    Session {
        cwd: "/work/project".into(),
        home: "/home/agent".into(),
    }
}

fn pack() -> CompiledPolicy {
    let loaded = LoadedNativePolicy::default_pack().unwrap();
    CompiledPolicy::compile(
        &loaded,
        &Context {
            workspace: "/work/project".into(),
            home: "/home/agent".into(),
        },
    )
    .unwrap()
}

fn outcome(text: &str) -> Outcome {
    native::decide(text, &session(), &pack()).1.outcome
}

#[test]
fn the_default_pack_loads_and_its_rule_examples_hold() {
    let loaded = LoadedNativePolicy::default_pack().unwrap();
    assert_eq!(loaded.sha256.len(), 64);
    let failures = fixtures::check_examples(
        &loaded,
        &Context {
            workspace: "/work/project".into(),
            home: "/home/agent".into(),
        },
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn agent_command_table() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/agent-commands.yaml"
    ))
    .unwrap();
    let file = FixtureFile::parse(&text).unwrap();
    assert!(
        file.cases.len() >= 200,
        "the table has only {} cases",
        file.cases.len()
    );
    let results = fixtures::run(&file, &LoadedNativePolicy::default_pack().unwrap()).unwrap();
    let failures: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| {
            format!(
                "{:?}: expected {}, got {} — {}",
                r.text,
                r.expected.as_str(),
                r.actual.as_str(),
                r.sentence
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

#[test]
fn smoke() {
    assert_eq!(outcome("git status"), Outcome::Allow);
}

/// Working day twenty: "Denied: `echo X=1`: it touches credentials" named no file. A rule that
/// matched by a path names the path; one that did not names none.
#[test]
fn a_rule_that_matched_a_path_names_it() {
    let sentence = |text: &str| native::decide(text, &session(), &pack()).1.sentence;
    assert_eq!(
        sentence("echo X=1 >> .env"),
        "Denied: `echo X=1` (/work/project/.env): it touches credentials (rule credentials)."
    );
    assert!(
        sentence("cp a.txt .claude/settings.json")
            .contains("(/work/project/.claude/settings.json)"),
        "{}",
        sentence("cp a.txt .claude/settings.json")
    );
    // Control: a rule that matched no path.
    assert!(
        !sentence("git push").contains("(/work"),
        "{}",
        sentence("git push")
    );
}
