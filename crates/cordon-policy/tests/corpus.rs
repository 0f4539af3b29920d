//! A labelled corpus of agent command lines (tests/data/agent-corpus.yaml): what stops for a
//! person in local and in hardened mode, no attack runs unattended in local mode, and the
//! share of everyday commands that stop stays small (issue 16: at most 3% in the default mode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod labelled_corpus;

#[test]
fn the_corpus_stops_every_attack_and_few_everyday_lines() {
    let cases = labelled_corpus::load("agent-corpus.yaml");
    assert!(
        cases.len() >= 300,
        "the corpus has only {} lines",
        cases.len()
    );
    let tally = labelled_corpus::run(&cases, &labelled_corpus::default_pack());
    tally.print("agent-corpus.yaml");
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
    assert!(
        tally.hardened_rate() <= 3.0,
        "{:.1}% of everyday lines stop in hardened mode",
        tally.hardened_rate()
    );
    // Local mode asks for inline code and what it cannot resolve, by design; this tracks it.
    assert!(
        tally.local_rate() <= 5.0,
        "{:.1}% of everyday lines stop in local mode",
        tally.local_rate()
    );
}
