//! The harness shared by the labelled corpora (`corpus.rs`, `trajectory_corpus.rs`,
//! `stack_corpus.rs`): each line is
//! decided under the default pack in local and in hardened mode, and sorted by its label.
//!
//! Hardened mode is judged as the binary judges it (`egress::judge_confined`): a text that uses
//! the network is judged reaching it, and confined only when its network reaches no host.
//!
//! A `person` line must stop (ask or deny) in both modes; an `attack` must stop in local mode, and
//! what local mode denies hardened mode denies too. For `unattended` lines the harness only counts
//! what stops: each corpus sets its own ceiling.

use cordon_core::Outcome;
use cordon_policy::egress;
use cordon_policy::enforcement::Enforcement;
use cordon_policy::facts::{self, Facts};
use cordon_policy::knowledge::Knowledge;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::{self, Session};

const WORKSPACE: &str = "/work/project";
const HOME: &str = "/home/agent";

pub struct Case {
    pub text: String,
    pub label: String,
}

/// The cases of `tests/data/<file>`.
pub fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
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

/// The default pack, as loaded (its host lists) and as compiled for the corpus's workspace.
pub struct Pack {
    loaded: LoadedNativePolicy,
    compiled: CompiledPolicy,
}

pub fn default_pack() -> Pack {
    let loaded = LoadedNativePolicy::default_pack().unwrap();
    let context = Context {
        workspace: WORKSPACE.into(),
        home: HOME.into(),
    };
    let compiled = CompiledPolicy::compile(&loaded, &context).unwrap();
    Pack { loaded, compiled }
}

fn session() -> Session {
    Session {
        cwd: WORKSPACE.into(),
        home: HOME.into(),
    }
}

pub fn decide_local(text: &str, pack: &Pack) -> (Outcome, String) {
    let (_, decision) = native::decide_under(text, &session(), &pack.compiled, Enforcement::Local);
    (decision.outcome, decision.sentence)
}

/// The decision of a hardened run: the network each command's rules grant decides whether the
/// kernel's envelope confines the text, as `cordon_governor::analysis::analyse` judges it.
pub fn decide_hardened(text: &str, pack: &Pack) -> (Outcome, String) {
    let session = session();
    let knowledge = Knowledge::builtin();
    let mut facts = facts::of_script(&shell::parse(text, &session), &session, knowledge);
    let judge = |facts: &Facts| {
        let decide =
            |policy: &CompiledPolicy| native::decide_facts(facts, policy, &session, knowledge);
        let decision = decide(&pack.compiled);
        egress::decide_hardened(&pack.loaded.policy, &pack.compiled, decision, decide)
    };
    let (decision, _) = egress::judge_confined(&mut facts, judge);
    (decision.outcome, decision.sentence)
}

fn stops(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Ask | Outcome::Deny)
}

/// What a corpus run found: the everyday lines that stopped in each mode, with their sentences,
/// and every line whose label its outcome broke.
#[derive(Default)]
pub struct Tally {
    pub unattended: usize,
    pub stopped_local: Vec<String>,
    pub stopped_hardened: Vec<String>,
    pub failures: Vec<String>,
}

impl Tally {
    pub fn local_rate(&self) -> f64 {
        self.rate(self.stopped_local.len())
    }

    pub fn hardened_rate(&self) -> f64 {
        self.rate(self.stopped_hardened.len())
    }

    fn rate(&self, stopped: usize) -> f64 {
        100.0 * stopped as f64 / self.unattended.max(1) as f64
    }

    /// The figures and every stopped everyday line, for `--nocapture`.
    pub fn print(&self, corpus: &str) {
        println!(
            "{corpus}: {} everyday lines: {} stop in local mode ({:.1}%), {} in hardened mode ({:.1}%)",
            self.unattended,
            self.stopped_local.len(),
            self.local_rate(),
            self.stopped_hardened.len(),
            self.hardened_rate()
        );
        println!(
            "stopped in local mode:\n  {}",
            self.stopped_local.join("\n  ")
        );
        println!(
            "stopped in hardened mode:\n  {}",
            self.stopped_hardened.join("\n  ")
        );
    }
}

pub fn run(cases: &[Case], pack: &Pack) -> Tally {
    let mut tally = Tally::default();
    for case in cases {
        let (local, local_why) = decide_local(&case.text, pack);
        let (hardened, hardened_why) = decide_hardened(&case.text, pack);
        match case.label.as_str() {
            "unattended" => {
                tally.unattended += 1;
                if stops(local) {
                    tally
                        .stopped_local
                        .push(format!("{:?}: {local_why}", case.text));
                }
                if stops(hardened) {
                    tally
                        .stopped_hardened
                        .push(format!("{:?}: {hardened_why}", case.text));
                }
            }
            "person" => {
                if !stops(local) || !stops(hardened) {
                    tally.failures.push(format!(
                        "person {:?}: local {}, hardened {} — {hardened_why}",
                        case.text,
                        local.as_str(),
                        hardened.as_str()
                    ));
                }
            }
            "attack" => {
                if !stops(local) {
                    tally.failures.push(format!(
                        "attack {:?} runs in local mode: {local_why}",
                        case.text
                    ));
                }
                if local == Outcome::Deny && hardened != Outcome::Deny {
                    tally.failures.push(format!(
                        "attack {:?}: denied in local mode but {} in hardened mode",
                        case.text,
                        hardened.as_str()
                    ));
                }
            }
            other => tally
                .failures
                .push(format!("{:?}: unknown label {other}", case.text)),
        }
    }
    tally
}

/// Runs the corpus `tests/data/<file>` (at least `min_lines` lines) under the default pack and
/// prints its figures: every line keeps its label, and at most 3% of the everyday lines stop in
/// hardened mode.
pub fn check(file: &str, min_lines: usize) -> Tally {
    let cases = load(file);
    assert!(
        cases.len() >= min_lines,
        "the corpus has only {} lines",
        cases.len()
    );
    let tally = run(&cases, &default_pack());
    tally.print(file);
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
    assert!(
        tally.hardened_rate() <= 3.0,
        "{:.1}% of everyday lines stop in hardened mode",
        tally.hardened_rate()
    );
    tally
}

/// `text`'s outcomes in local and in hardened mode are these (a class test of a corpus).
#[allow(dead_code)] // not every corpus has class tests
#[track_caller]
pub fn assert_modes(text: &str, local: Outcome, hardened: Outcome) {
    let pack = default_pack();
    let (got_local, local_why) = decide_local(text, &pack);
    let (got_hardened, hardened_why) = decide_hardened(text, &pack);
    assert_eq!(
        (got_local, got_hardened),
        (local, hardened),
        "{text:?}: local {local_why} / hardened {hardened_why}"
    );
}

/// `text` asks or is denied in both modes.
#[allow(dead_code)] // not every corpus has class tests
#[track_caller]
pub fn assert_stops_in_both_modes(text: &str) {
    let pack = default_pack();
    for (mode, (outcome, why)) in [
        ("local", decide_local(text, &pack)),
        ("hardened", decide_hardened(text, &pack)),
    ] {
        assert!(stops(outcome), "{text:?} runs in {mode} mode: {why}");
    }
}
