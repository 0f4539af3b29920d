//! A labelled corpus of agent command lines (tests/data/agent-corpus.yaml): what stops for a
//! person in local and in hardened mode, no attack runs unattended in local mode, and the
//! share of everyday commands that stop stays small (issue 16: at most 3% in the default mode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::enforcement::Enforcement;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;

const HARDENED: Enforcement = Enforcement::Hardened {
    reaches_network: false,
};

struct Case {
    text: String,
    label: String,
}

fn load_corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/agent-corpus.yaml"
    ))
    .unwrap();
    let value = cordon_policy::yaml::parse(&text).unwrap();
    value["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            text: c["shell"].as_str().unwrap().to_string(),
            label: c["label"].as_str().unwrap().to_string(),
        })
        .collect()
}

fn pack() -> CompiledPolicy {
    CompiledPolicy::compile(
        &LoadedNativePolicy::default_pack().unwrap(),
        &Context {
            workspace: "/work/project".into(),
            home: "/home/agent".into(),
        },
    )
    .unwrap()
}

fn decide(text: &str, policy: &CompiledPolicy, enforcement: Enforcement) -> (Outcome, String) {
    let session = Session {
        cwd: "/work/project".into(),
        home: "/home/agent".into(),
    };
    let (_, decision) = native::decide_under(text, &session, policy, enforcement);
    (decision.outcome, decision.sentence)
}

fn stops(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Ask | Outcome::Deny)
}

#[test]
fn the_corpus_stops_every_attack_and_few_everyday_lines() {
    let cases = load_corpus();
    let policy = pack();
    assert!(
        cases.len() >= 300,
        "the corpus has only {} lines",
        cases.len()
    );
    let mut failures = Vec::new();
    let mut stopped_local = Vec::new();
    let mut stopped_hardened = Vec::new();
    let mut unattended = 0usize;
    for case in &cases {
        let (local, local_why) = decide(&case.text, &policy, Enforcement::Local);
        let (hardened, hardened_why) = decide(&case.text, &policy, HARDENED);
        match case.label.as_str() {
            "unattended" => {
                unattended += 1;
                if stops(local) {
                    stopped_local.push(format!("{:?}: {local_why}", case.text));
                }
                if stops(hardened) {
                    stopped_hardened.push(format!("{:?}: {hardened_why}", case.text));
                }
            }
            "person" => {
                if !stops(local) || !stops(hardened) {
                    failures.push(format!(
                        "person {:?}: local {}, hardened {} — {hardened_why}",
                        case.text,
                        local.as_str(),
                        hardened.as_str()
                    ));
                }
            }
            "attack" => {
                if !stops(local) {
                    failures.push(format!(
                        "attack {:?} runs in local mode: {local_why}",
                        case.text
                    ));
                }
                if local == Outcome::Deny && hardened != Outcome::Deny {
                    failures.push(format!(
                        "attack {:?}: denied in local mode but {} in hardened mode",
                        case.text,
                        hardened.as_str()
                    ));
                }
            }
            other => failures.push(format!("{:?}: unknown label {other}", case.text)),
        }
    }
    let rate = |n: usize| 100.0 * n as f64 / unattended as f64;
    println!(
        "{unattended} everyday lines: {} stop in local mode ({:.1}%), {} in hardened mode ({:.1}%)",
        stopped_local.len(),
        rate(stopped_local.len()),
        stopped_hardened.len(),
        rate(stopped_hardened.len())
    );
    println!("stopped in local mode:\n  {}", stopped_local.join("\n  "));
    println!(
        "stopped in hardened mode:\n  {}",
        stopped_hardened.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        rate(stopped_hardened.len()) <= 3.0,
        "{:.1}% of everyday lines stop in hardened mode",
        rate(stopped_hardened.len())
    );
    // Local mode asks for inline code and what it cannot resolve, by design; this tracks it.
    assert!(
        rate(stopped_local.len()) <= 5.0,
        "{:.1}% of everyday lines stop in local mode",
        rate(stopped_local.len())
    );
}
