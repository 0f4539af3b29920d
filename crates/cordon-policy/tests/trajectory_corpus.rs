//! A second labelled corpus (tests/data/trajectory-corpus.yaml), written independently of
//! agent-corpus.yaml in the forms public agent trajectories show (issue 15, part 3): under the
//! default pack at most 3% of the everyday lines stop for a person in hardened mode, every
//! `person` line stops in both modes and no attack runs unattended in local mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod labelled_corpus;

#[test]
fn real_agent_work_rarely_stops_in_hardened_mode() {
    let cases = labelled_corpus::load("trajectory-corpus.yaml");
    assert!(
        cases.len() >= 500,
        "the corpus has only {} lines",
        cases.len()
    );
    let tally = labelled_corpus::run(&cases, &labelled_corpus::default_pack());
    tally.print("trajectory-corpus.yaml");
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
    assert!(
        tally.hardened_rate() <= 3.0,
        "{:.1}% of everyday lines stop in hardened mode",
        tally.hardened_rate()
    );
}
