//! Secrets through the sandbox, in local and hardened mode: the policy grants a secret, the
//! store resolves it after the decision, it goes into the granted command's environment only,
//! and everything the command prints comes back redacted. `run_text` is the order the pipeline
//! follows: decide → grants → resolve (a failure runs nothing) → inject → run under the redactor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cordon_core::Outcome;
use cordon_policy::grants::native_grants;
use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;
use cordon_sandbox::{
    run, CommandReport, Confinement, OutputFilter, Plan, PlannedCommand, RunOptions, RunReport,
};
use cordon_secrets::{
    inject, redactor_for, resolve_grants, Redactor, Reference, ResolveContext, ResolvedSecret,
    SecretName, SecretStore, SecretValue, StoredSecret,
};
use sha2::{Digest, Sha256};

/// Standard and URL-safe base64 of `GH_TOKEN=` + this differ, and URL encoding changes it.
const TOKEN: &str = "ghp_Sandbox+Token/value=42&x";
const MARK: &str = "[REDACTED:github]";

const POLICY: &str = r#"
cordon_policy: 1
name: secrets-sandbox
rules:
  - id: gh
    outcome: allow
    reason: gh acts on the workspace's repository with the user's token
    match: {program: [gh], cwd: ["{workspace}/**"]}
    secrets: {GH_TOKEN: github}
  - id: rest
    outcome: allow
    reason: everything else runs, without secrets, in this test
    match: {}
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Local,
    Hardened,
}

/// Local, and hardened unless the kernel lacks Landlock and CORDON_TEST_ALLOW_SKIP allows that
/// (otherwise its absence fails the test).
fn modes() -> Vec<Mode> {
    let abi = cordon_sandbox::landlock_abi();
    let hardened = abi >= cordon_sandbox::MIN_LANDLOCK_ABI
        || !cordon_testkit::allow_skip(
            "landlock",
            &format!("the kernel offers Landlock ABI {abi}"),
        );
    if hardened {
        vec![Mode::Local, Mode::Hardened]
    } else {
        vec![Mode::Local]
    }
}

struct Fixture {
    _root: tempfile::TempDir,
    workspace: PathBuf,
    home: PathBuf,
    store: SecretStore,
}

/// A home with the token in its store, and a workspace holding a fake `gh` that succeeds
/// silently only when `GH_TOKEN` is the token (it compares hashes, so its text holds no token).
fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let workspace = root.path().join("workspace");
    let home = root.path().join("home");
    fs::create_dir_all(&workspace).unwrap();
    fs::create_dir_all(&home).unwrap();
    let store = SecretStore::new(home.join("secrets/store"), home.join("keys/secrets.key"));
    let value = SecretValue::new("github", TOKEN.as_bytes().to_vec()).unwrap();
    store
        .set(
            &SecretName::new("github").unwrap(),
            StoredSecret::Value(value),
        )
        .unwrap();
    let hash = hex::encode(Sha256::digest(TOKEN.as_bytes()));
    let gh = workspace.join("gh");
    fs::write(
        &gh,
        format!(
            "#!/bin/sh\n\
             [ \"$(printf %s \"$GH_TOKEN\" | sha256sum)\" = \"{hash}  -\" ] && exit 0\n\
             echo 'gh: GH_TOKEN is missing or wrong' >&2\n\
             exit 4\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&gh, fs::Permissions::from_mode(0o755)).unwrap();
    Fixture {
        workspace,
        home,
        store,
        _root: root,
    }
}

fn confinement(mode: Mode, workspace: &Path) -> Confinement {
    match mode {
        Mode::Local => Confinement::local(),
        Mode::Hardened => Confinement::hardened().read(workspace),
    }
}

/// The environment built from nothing, as hardened mode builds it: no secret in it.
fn base_env(workspace: &Path) -> Vec<(OsString, OsString)> {
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", workspace.display());
    vec![(OsString::from("PATH"), OsString::from(path))]
}

fn no_env(_: &str) -> Option<OsString> {
    None
}

fn options(redactor: Option<&Redactor>) -> RunOptions {
    RunOptions {
        passthrough: false,
        output_filter: redactor.map(|r| Arc::new(r.clone()) as Arc<dyn OutputFilter>),
        ..RunOptions::default()
    }
}

/// Decides `text` under `policy` and runs it the way the pipeline will, or says why it did not.
fn run_text(fx: &Fixture, policy: &str, text: &str, mode: Mode) -> Result<RunReport, String> {
    let loaded = LoadedNativePolicy::parse(policy.as_bytes()).unwrap();
    let context = Context {
        workspace: fx.workspace.display().to_string(),
        home: fx.home.display().to_string(),
    };
    let policy = CompiledPolicy::compile(&loaded, &context).unwrap();
    let session = Session {
        cwd: fx.workspace.display().to_string(),
        home: fx.home.display().to_string(),
    };
    let (_, decision) = native::decide(text, &session, &policy);
    assert_eq!(decision.outcome, Outcome::Allow, "{}", decision.sentence);
    let grants = native_grants(&decision, &policy).map_err(|e| e.to_string())?;

    let secrets = fx.store.load().map_err(|e| e.to_string())?;
    let resolve = ResolveContext {
        env: &no_env,
        home: fx.home.clone(),
        command_timeout: Duration::from_secs(5),
    };
    let mut commands = Vec::new();
    let mut resolved_for_run: Vec<ResolvedSecret> = Vec::new();
    for (i, judgement) in decision.commands.iter().enumerate() {
        let id = format!("c{}", i + 1);
        let wanted = grants
            .iter()
            .filter(|g| g.command_id == id)
            .flat_map(|g| &g.grants)
            .map(|g| (g.env.as_str(), g.secret.as_str()));
        let resolved = resolve_grants(&secrets, wanted, &resolve).map_err(|e| e.to_string())?;
        let mut env = base_env(&fx.workspace);
        inject(&mut env, &resolved);
        let argv = judgement.facts.argv.clone();
        commands.push(PlannedCommand::new(id, argv, &judgement.facts.cwd).env(env));
        resolved_for_run.extend(resolved);
    }
    let redactor = redactor_for(&resolved_for_run).map_err(|e| e.to_string())?;
    let plan = Plan { commands };
    run(
        &plan,
        &confinement(mode, &fx.workspace),
        &options(Some(&redactor)),
    )
    .map_err(|e| e.to_string())
}

fn stdout(c: &CommandReport) -> String {
    String::from_utf8_lossy(&c.stdout.captured).into_owned()
}

fn stderr(c: &CommandReport) -> String {
    String::from_utf8_lossy(&c.stderr.captured).into_owned()
}

#[test]
fn a_granted_command_receives_the_value_and_prints_nothing() {
    for mode in modes() {
        let fx = fixture();
        let report = run_text(&fx, POLICY, "gh pr create --fill", mode).unwrap();
        let c = &report.commands[0];
        assert_eq!(c.exit_code, 0, "{mode:?}: {}", stderr(c));
        assert_eq!((stdout(c), stderr(c)), (String::new(), String::new()));

        // Positive control: without the grant the fake gh fails, so the check can fail.
        let ungranted = POLICY.replace("    secrets: {GH_TOKEN: github}\n", "");
        assert_ne!(ungranted, POLICY);
        let report = run_text(&fx, &ungranted, "gh pr create --fill", mode).unwrap();
        let c = &report.commands[0];
        assert_eq!(c.exit_code, 4, "{mode:?}");
        assert_eq!(stderr(c), "gh: GH_TOKEN is missing or wrong\n");
    }
}

#[test]
fn a_command_not_granted_does_not_receive_it() {
    for mode in modes() {
        let fx = fixture();
        let report = run_text(&fx, POLICY, "gh pr view 1; printenv GH_TOKEN", mode).unwrap();
        assert_eq!(report.commands.len(), 2, "{report:?}");
        let (gh, printenv) = (&report.commands[0], &report.commands[1]);
        assert_eq!(gh.exit_code, 0, "{mode:?}: {}", stderr(gh));
        assert_eq!(printenv.exit_code, 1, "{mode:?}: printenv found GH_TOKEN");
        assert_eq!(stdout(printenv), "");

        // Positive control: a policy granting it to every command lets printenv see it (and
        // the redactor hides it).
        let everyone = POLICY.replace(
            "    match: {}\n",
            "    match: {}\n    secrets: {GH_TOKEN: github}\n",
        );
        let report = run_text(&fx, &everyone, "gh pr view 1; printenv GH_TOKEN", mode).unwrap();
        let printenv = &report.commands[1];
        assert_eq!(printenv.exit_code, 0, "{mode:?}");
        assert_eq!(stdout(printenv), format!("{MARK}\n"));
    }
}

#[test]
fn a_reference_that_fails_to_resolve_is_a_denial_and_nothing_runs() {
    let fx = fixture();
    let reference = Reference::parse("env:GH_TOKEN_NOT_SET").unwrap();
    fx.store
        .set(
            &SecretName::new("broken").unwrap(),
            StoredSecret::Reference(reference),
        )
        .unwrap();
    let marker = fx.workspace.join("ran");
    let policy = POLICY.replace("{GH_TOKEN: github}", "{GH_TOKEN: broken}");
    let text = format!("gh pr create; touch {}", marker.display());
    let err = run_text(&fx, &policy, &text, Mode::Local).unwrap_err();
    assert_eq!(
        err,
        "the secret `broken` could not be resolved: cordon's environment has no `GH_TOKEN_NOT_SET`"
    );
    assert!(!marker.exists(), "a command ran although a grant failed");
    // Positive control: with the grant that resolves, the same text runs both commands.
    let report = run_text(&fx, POLICY, &text, Mode::Local).unwrap();
    assert_eq!(report.exit_code, 0, "{report:?}");
    assert!(marker.exists());
}

/// Runs `argv` holding the token in `GH_TOKEN`, with redaction on or off.
fn leak(mode: Mode, argv: &[&str], redact: bool) -> (CommandReport, Redactor) {
    let fx = fixture();
    let secrets = fx.store.load().unwrap();
    let resolve = ResolveContext {
        env: &no_env,
        home: fx.home.clone(),
        command_timeout: Duration::from_secs(5),
    };
    let resolved = resolve_grants(&secrets, [("GH_TOKEN", "github")], &resolve).unwrap();
    let mut env = base_env(&fx.workspace);
    inject(&mut env, &resolved);
    let redactor = redactor_for(&resolved).unwrap();
    let command = PlannedCommand::new("c1", argv.iter().copied(), &fx.workspace).env(env);
    let plan = Plan {
        commands: vec![command],
    };
    let options = options(redact.then_some(&redactor));
    let mut report = run(&plan, &confinement(mode, &fx.workspace), &options).unwrap();
    (report.commands.remove(0), redactor)
}

/// The base64 characters that encode only the token, at each of the three alignments.
fn token_base64_cores() -> Vec<String> {
    (0..3)
        .map(|before| {
            let mut bytes = vec![0u8; before];
            bytes.extend_from_slice(TOKEN.as_bytes());
            let encoded = STANDARD.encode(&bytes);
            let start = (8 * before).div_ceil(6);
            let end = 8 * (before + TOKEN.len()) / 6;
            encoded[start..end].to_string()
        })
        .collect()
}

const HALVES: &str =
    "printf %s \"$GH_TOKEN\" | head -c 10; sleep 0.3; printf '%s\\n' \"$GH_TOKEN\" | tail -c +11";

#[test]
fn every_way_of_printing_the_value_comes_back_redacted() {
    for mode in modes() {
        let (c, r) = leak(mode, &["sh", "-c", "echo $GH_TOKEN"], true);
        assert_eq!(
            (stdout(&c), r.redactions()),
            (format!("{MARK}\n"), 1),
            "{mode:?}"
        );

        let (c, r) = leak(mode, &["printenv"], true);
        let out = stdout(&c);
        assert!(
            out.contains(&format!("GH_TOKEN={MARK}\n")),
            "{mode:?}: {out}"
        );
        assert!(
            !out.contains(TOKEN) && r.redactions() == 1,
            "{mode:?}: {out}"
        );

        let (c, r) = leak(mode, &["sh", "-c", "env | base64"], true);
        let joined = stdout(&c).replace('\n', "");
        for core in token_base64_cores() {
            assert!(!joined.contains(&core), "{mode:?}: {core} in {joined}");
        }
        assert_eq!(r.redactions(), 1, "{mode:?}: {}", stdout(&c));

        let (c, r) = leak(mode, &["sh", "-c", HALVES], true);
        assert_eq!(
            (stdout(&c), r.redactions()),
            (format!("{MARK}\n"), 1),
            "{mode:?}"
        );
        assert_eq!(c.exit_code, 0);
    }
}

/// The positive control for the test above: with no redaction, the same commands leak, and
/// the test sees it.
#[test]
fn without_redaction_the_same_commands_leak_and_the_test_sees_it() {
    for mode in modes() {
        let (c, r) = leak(mode, &["sh", "-c", "echo $GH_TOKEN"], false);
        assert_eq!(stdout(&c), format!("{TOKEN}\n"), "{mode:?}");
        assert_eq!(r.redactions(), 0);

        let (c, _) = leak(mode, &["printenv"], false);
        assert!(
            stdout(&c).contains(&format!("GH_TOKEN={TOKEN}\n")),
            "{mode:?}"
        );

        let (c, _) = leak(mode, &["sh", "-c", "env | base64"], false);
        let decoded = STANDARD.decode(stdout(&c).replace('\n', "")).unwrap();
        let decoded = String::from_utf8_lossy(&decoded);
        assert!(decoded.contains(&format!("GH_TOKEN={TOKEN}\n")), "{mode:?}");
        let joined = stdout(&c).replace('\n', "");
        assert!(
            token_base64_cores()
                .iter()
                .any(|core| joined.contains(core)),
            "{mode:?}"
        );

        let (c, _) = leak(mode, &["sh", "-c", HALVES], false);
        assert_eq!(stdout(&c), format!("{TOKEN}\n"), "{mode:?}");
    }
}

/// The exec recorder writes the argv of every program into the report, so a value a shell
/// expanded into an argument is there; the pipeline must redact the receipt with the same
/// redactor before it is signed.
#[test]
fn recorded_argv_holds_an_expanded_value_until_redacted() {
    for mode in modes() {
        let script = "/usr/bin/printf %s \"$GH_TOKEN\" > /dev/null";
        let (c, r) = leak(mode, &["sh", "-c", script], true);
        assert_eq!(c.exit_code, 0, "{mode:?}: {}", stderr(&c));
        let mut recorded = serde_json::to_value(&c.processes).unwrap();
        let text = recorded.to_string();
        assert!(
            text.contains(TOKEN),
            "{mode:?}: the recorder did not see it: {text}"
        );
        r.redact_json(&mut recorded);
        let text = recorded.to_string();
        assert!(
            !text.contains(TOKEN) && text.contains(MARK),
            "{mode:?}: {text}"
        );
    }
}
