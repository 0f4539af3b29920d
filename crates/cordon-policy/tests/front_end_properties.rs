//! Properties of the front end: parsing is total, what is unresolved is never allowed, adding a
//! deny rule never allows more, and the contract that runs is the judged text under the judged scope.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::Outcome;
use cordon_policy::facts;
use cordon_policy::knowledge::{Knowledge, OptionKind};
use cordon_policy::launch::{self, Launch, Request};
use cordon_policy::native::{self, severity, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::{self, Session};
use cordon_policy::synth::Requester;
use proptest::prelude::*;

fn session() -> Session {
    Session {
        cwd: "/work/project".into(),
        home: "/home/agent".into(),
    }
}

fn context() -> Context {
    Context {
        workspace: "/work/project".into(),
        home: "/home/agent".into(),
    }
}

fn pack_text() -> String {
    native::DEFAULT_PACK.to_string()
}

/// Pieces agents write, glued together at random into plausible and implausible command lines.
const PIECES: &[&str] = &[
    "git status",
    "git push",
    "git -C sub push -f",
    "rm -rf build",
    "rm -rf /",
    "cat ~/.ssh/id_rsa",
    "ls -la",
    "cd web",
    "cd ..",
    "cd ~/.aws",
    "npm test",
    "npm install",
    "curl https://x.example",
    "echo $(id)",
    "x=rm",
    "$x -rf /",
    "eval ls",
    "bash -c 'ls'",
    "sudo ls",
    "find . -delete",
    "xargs rm",
    "python3 -c 'x'",
    "> out.txt",
    "2>&1",
    "| tail",
    "&&",
    "||",
    ";",
    "|",
    "\n",
    "'",
    "\"",
    "`",
    "$(",
    ")",
    "{",
    "}",
    "<<EOF",
    "EOF",
    "cat .env",
    "touch ~/x",
    "git reset --hard",
    "tee /etc/hosts",
    "env A=1",
    "timeout 5",
    "nohup",
    "./run.sh",
];

fn command_line() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..8).prop_map(|parts| parts.join(" "))
}

fn deny_rule() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(&["rm", "git", "ls", "cat", "npm", "curl", "cd", "echo", "*"][..])
            .prop_map(|p| format!("{{program: [\"{p}\"]}}")),
        prop::sample::select(&["{workspace}/**", "~/**", "/etc/**", "*.txt", "/**"][..])
            .prop_map(|p| format!("{{paths: [\"{p}\"]}}")),
        prop::sample::select(&["-r", "-f", "--force", "-la"][..])
            .prop_map(|f| format!("{{flags_any: [\"{f}\"]}}")),
        prop::sample::select(&["observe", "transform_local", "mutate_repo"][..])
            .prop_map(|e| format!("{{effects: [{e}]}}")),
        Just("{network: true}".to_string()),
        Just("{}".to_string()),
    ]
}

fn decide(text: &str, policy: &CompiledPolicy) -> Outcome {
    native::decide(text, &session(), policy).1.outcome
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let script = shell::parse(&text, &session());
        let facts = facts::of_script(&script, &session(), Knowledge::builtin());
        prop_assert_eq!(facts.commands.len(), script.commands.len());
    }

    #[test]
    fn parsing_never_panics_on_shell_like_text(text in "[a-z $(){}'\"`;&|<>\\\\\n=*~./!#-]{0,120}") {
        let policy = CompiledPolicy::compile(&LoadedNativePolicy::default_pack().unwrap(), &context()).unwrap();
        let _ = native::decide(&text, &session(), &policy);
    }

    #[test]
    fn unresolved_text_is_never_allowed(text in command_line()) {
        let policy = CompiledPolicy::compile(&LoadedNativePolicy::default_pack().unwrap(), &context()).unwrap();
        let script = shell::parse(&text, &session());
        let (facts, decision) = native::decide(&text, &session(), &policy);
        let unresolved = !script.is_fully_resolved() || facts.commands.iter().any(|c| !c.unresolved.is_empty());
        if unresolved {
            prop_assert!(matches!(decision.outcome, Outcome::Ask | Outcome::Deny), "{:?} → {:?}", text, decision.outcome);
        }
    }

    #[test]
    fn adding_a_deny_rule_never_allows_more(text in command_line(), rule in deny_rule(), at_start in any::<bool>()) {
        let base = pack_text();
        let rule_text = format!("  - id: extra-deny\n    outcome: deny\n    reason: added by the property test\n    match: {rule}\n");
        let with_rule = if at_start {
            base.replacen("rules:\n", &format!("rules:\n{rule_text}"), 1)
        } else {
            format!("{base}\n{rule_text}")
        };
        let before = CompiledPolicy::compile(&LoadedNativePolicy::parse(base.as_bytes()).unwrap(), &context()).unwrap();
        let after = CompiledPolicy::compile(&LoadedNativePolicy::parse(with_rule.as_bytes()).unwrap(), &context()).unwrap();
        let (b, a) = (decide(&text, &before), decide(&text, &after));
        prop_assert!(severity(a) >= severity(b), "{:?}: {:?} became {:?} after adding {}", text, b, a, rule);
    }

    #[test]
    fn what_runs_is_the_judged_text_under_the_judged_scope(text in command_line()) {
        let policy = CompiledPolicy::compile(&LoadedNativePolicy::default_pack().unwrap(), &context()).unwrap();
        let script = shell::parse(&text, &session());
        let (facts, decision) = native::decide(&text, &session(), &policy);
        let Ok(plan) = launch::plan(Request::Text(&text), &script, &facts, &decision, "/work/project", &Requester::default()) else {
            return Ok(());
        };
        let command = &plan.contract.commands[0];
        let argv = command.argvs().next().unwrap().to_vec();
        match plan.launch {
            // Without a shell only when the text is one command and nothing a shell would do.
            Launch::Argv if plan.redirect.is_none() => {
                prop_assert_eq!(script.commands.len(), 1, "{:?}", text);
                prop_assert!(!text.contains([';', '&', '|', '<', '>', '$', '`', '(', '*', '\n']), "{:?}", text);
                prop_assert_eq!(&argv[1..], &script.commands[0].argv[1..]);
            }
            Launch::Argv => {}
            Launch::Shell => prop_assert_eq!(argv, vec!["bash".to_string(), "-c".to_string(), text.clone()]),
        }
        // Every part's writes and reads are in the one command's scope: nothing judged is lost.
        for part in &facts.commands {
            for w in &part.writes {
                prop_assert!(command.write_paths.contains(w), "{:?}: write {} missing", text, w);
            }
            for r in part.reads.iter().chain([&part.cwd]) {
                prop_assert!(command.read_paths.contains(r) || &command.cwd == r, "{:?}: read {} missing", text, r);
            }
            if part.network {
                prop_assert_eq!(command.network, cordon_core::contract::NetworkMode::Full);
            }
        }
        // And nothing more.
        for w in &command.write_paths {
            prop_assert!(facts.commands.iter().any(|p| p.writes.contains(w)), "{:?}: extra write {}", text, w);
        }
    }
}

/// Programs the knowledge base holds that a text cannot name: `[[ … ]]` and `(( … ))` are
/// syntax the walk turns into commands.
const SYNTAX: &[&str] = &["[[", "(("];

fn known_programs() -> Vec<String> {
    Knowledge::builtin()
        .programs()
        .into_iter()
        .filter(|p| !SYNTAX.contains(p))
        .map(str::to_string)
        .collect()
}

/// The rule of construction: an option the knowledge base does not model makes the command
/// unknown, so it is never allowed, whatever the program. Every program, one flag each.
#[test]
fn an_unmodelled_flag_never_yields_allow_for_any_known_program() {
    let policy =
        CompiledPolicy::compile(&LoadedNativePolicy::default_pack().unwrap(), &context()).unwrap();
    let programs = known_programs();
    assert!(programs.len() > 300, "{}", programs.len());
    let mut allowed = Vec::new();
    for program in &programs {
        for flag in ["--cordon-unmodelled", "--cordon-unmodelled=/work/project/x"] {
            let text = format!("{program} {flag}");
            let outcome = decide(&text, &policy);
            if !matches!(outcome, Outcome::Ask | Outcome::Deny) {
                allowed.push(format!("{text:?} → {}", outcome.as_str()));
            }
        }
    }
    assert!(allowed.is_empty(), "{}", allowed.join("\n"));
    // Control: a modelled flag of the same kind of program is allowed.
    assert_eq!(decide("ls --all", &policy), Outcome::Allow);
    assert_eq!(decide("sort --reverse x", &policy), Outcome::Allow);
}

/// The options before git's subcommand that the shell analysis reads itself (`git_globals` in
/// `src/shell/resolve.rs`: `-C` moves the working directory, `-c` is judged as configuration,
/// `--exec-path` is refused): modelled, though the table does not list them.
const GIT_GLOBALS: &[&str] = &[
    "-C",
    "-c",
    "-p",
    "-P",
    "--bare",
    "--config-env",
    "--exec-path",
    "--git-dir",
    "--glob-pathspecs",
    "--icase-pathspecs",
    "--literal-pathspecs",
    "--namespace",
    "--no-advice",
    "--no-lazy-fetch",
    "--no-optional-locks",
    "--no-pager",
    "--no-replace-objects",
    "--noglob-pathspecs",
    "--paginate",
    "--super-prefix",
    "--work-tree",
];

/// A random flag (long, short, or a value glued to a flag that takes none) the knowledge base
/// does not model, for a random known program.
fn unmodelled_flag(program: &str) -> impl Strategy<Value = String> {
    let spec = Knowledge::builtin()
        .get(program)
        .cloned()
        .unwrap_or_default();
    let long = "--[a-z][a-z-]{2,12}".prop_map(|f| f);
    let short = "-[A-Za-z]".prop_map(|f| f);
    let flags_with_value: Vec<String> = spec
        .flags
        .iter()
        .filter(|f| f.starts_with("--") && spec.option_kind(f) == Some(OptionKind::Flag))
        .map(|f| format!("{f}=x"))
        .collect();
    let glued = if flags_with_value.is_empty() {
        Just("--cordon-unmodelled=1".to_string()).boxed()
    } else {
        prop::sample::select(flags_with_value).boxed()
    };
    let chmod = program == "chmod";
    let git = program == "git";
    prop_oneof![long, short, glued].prop_filter("modelled by the knowledge base", move |flag| {
        let name = flag.split('=').next().unwrap_or(flag);
        if git && GIT_GLOBALS.contains(&name) {
            return false;
        }
        // A value glued to a flag is unmodelled; to an option that takes one, it is not.
        let modelled = match spec.option_kind(name) {
            Some(OptionKind::Flag) => !flag.contains('='),
            Some(_) => true,
            None => false,
        };
        // `chmod -x` is a mode, an operand chmod reads as such.
        let mode = chmod && flag[1..].chars().all(|c| "rwxXstugoa+-=,".contains(c));
        !modelled && !mode && !spec.subcommands.contains_key(flag.as_str())
    })
}

/// The default pack, compiled once for the property's many cases.
fn shared_pack() -> &'static CompiledPolicy {
    static PACK: std::sync::OnceLock<CompiledPolicy> = std::sync::OnceLock::new();
    PACK.get_or_init(|| {
        CompiledPolicy::compile(&LoadedNativePolicy::default_pack().unwrap(), &context()).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_random_unmodelled_flag_never_yields_allow(
        (program, flag) in prop::sample::select(known_programs())
            .prop_flat_map(|p| (Just(p.clone()), unmodelled_flag(&p)))
    ) {
        let text = format!("{program} {flag} x");
        let outcome = decide(&text, shared_pack());
        prop_assert!(matches!(outcome, Outcome::Ask | Outcome::Deny), "{:?} → {:?}", text, outcome);
    }
}
