//! A third labelled corpus (tests/data/stack-corpus.yaml), written without reading the other two,
//! the command table or the default pack, from the stacks and agents they barely cover: front end
//! and monorepos, Go, Rust, JVM, C/C++, .NET, Ruby, PHP, Elixir, data and ML, and the forms Codex
//! CLI, Gemini CLI and Cursor write (issue 15, part 3). Under the default pack at most 3% of the
//! everyday lines stop for a person in hardened mode, every `person` line stops in both modes and
//! no attack runs unattended in local mode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod labelled_corpus;

#[test]
fn other_stacks_rarely_stop_in_hardened_mode() {
    let cases = labelled_corpus::load("stack-corpus.yaml");
    assert!(
        cases.len() >= 500,
        "the corpus has only {} lines",
        cases.len()
    );
    let tally = labelled_corpus::run(&cases, &labelled_corpus::default_pack());
    tally.print("stack-corpus.yaml");
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
    assert!(
        tally.hardened_rate() <= 3.0,
        "{:.1}% of everyday lines stop in hardened mode",
        tally.hardened_rate()
    );
}
