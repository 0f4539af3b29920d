//! A labelled corpus of agent command lines (tests/data/agent-corpus.yaml): what stops for a
//! person in local and in hardened mode, no attack runs unattended in local mode, and the
//! share of everyday commands that stop stays small (issue 16: at most 3% in the default mode).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod labelled_corpus;

#[test]
fn the_corpus_stops_every_attack_and_few_everyday_lines() {
    let tally = labelled_corpus::check("agent-corpus.yaml", 300);
    // Local mode asks for inline code and what it cannot resolve, by design; this tracks it.
    assert!(
        tally.local_rate() <= 5.0,
        "{:.1}% of everyday lines stop in local mode",
        tally.local_rate()
    );
}
