//! References and grants: `env:`, `file:` and `cmd:` resolve when asked, each failure is one
//! sentence that never holds the value, `cmd:` runs without a shell and within its timeout, and
//! grants resolve into exactly the variables they name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use cordon_secrets::{
    inject, resolve_grants, Reference, ResolveContext, SecretName, SecretStore, SecretValue,
    Secrets, SecretsError, StoredSecret,
};

const VALUE: &str = "ref-test-value-0123456789";

fn no_env(_: &str) -> Option<OsString> {
    None
}

fn env_with_value(name: &str) -> Option<OsString> {
    (name == "GITHUB_TOKEN").then(|| OsString::from(VALUE))
}

fn context<'a>(
    home: &Path,
    env: &'a dyn Fn(&str) -> Option<OsString>,
    timeout: Duration,
) -> ResolveContext<'a> {
    ResolveContext {
        env,
        home: home.to_path_buf(),
        command_timeout: timeout,
    }
}

fn resolve(text: &str, home: &Path, timeout: Duration) -> Result<SecretValue, SecretsError> {
    Reference::parse(text)
        .unwrap()
        .resolve("tok", &context(home, &env_with_value, timeout))
}

#[test]
fn references_are_parsed_or_refused_with_a_reason() {
    assert_eq!(
        Reference::parse("env:GITHUB_TOKEN").unwrap(),
        Reference::Env("GITHUB_TOKEN".into())
    );
    assert_eq!(
        Reference::parse("cmd:pass show 'a b'").unwrap(),
        Reference::Command(vec!["pass".into(), "show".into(), "a b".into()])
    );
    for (text, why) in [
        ("github", "it must start with `env:`, `file:` or `cmd:`"),
        ("vault:x", "it must start with `env:`, `file:` or `cmd:`"),
        ("env:", "`env:` needs an environment variable name"),
        ("env:A-B", "`env:` needs an environment variable name"),
        (
            "file:token.txt",
            "`file:` needs an absolute path or one under `~/`",
        ),
        ("cmd:", "`cmd:` needs a program to run"),
        ("cmd:pass show 'x", "the command's quotes are not balanced"),
    ] {
        let err = Reference::parse(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`{text}` is not a secret reference: {why}")
        );
    }
}

#[test]
fn env_references_read_the_environment_they_are_given() {
    let home = tempfile::tempdir().unwrap();
    let v = resolve("env:GITHUB_TOKEN", home.path(), Duration::from_secs(5)).unwrap();
    assert_eq!(v.expose(), VALUE.as_bytes());
    let err = resolve("env:MISSING_TOKEN", home.path(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: cordon's environment has no `MISSING_TOKEN`"
    );
}

#[test]
fn file_references_read_the_file_without_its_line_break() {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".config")).unwrap();
    fs::write(home.path().join(".config/token"), format!("{VALUE}\n")).unwrap();
    let v = resolve("file:~/.config/token", home.path(), Duration::from_secs(5)).unwrap();
    assert_eq!(v.expose(), VALUE.as_bytes());
    let absolute = format!("file:{}", home.path().join(".config/token").display());
    assert_eq!(
        resolve(&absolute, home.path(), Duration::from_secs(5))
            .unwrap()
            .expose(),
        VALUE.as_bytes()
    );

    let err = resolve("file:~/missing", home.path(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the secret `tok` could not be resolved: {}: No such file or directory (os error 2)",
            home.path().join("missing").display()
        )
    );
    let err = resolve("file:/dev/null", home.path(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: /dev/null is not a regular file"
    );
    fs::write(home.path().join("short"), "abc\n").unwrap();
    let err = resolve("file:~/short", home.path(), Duration::from_secs(5)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: the file reference gave an unusable value: the value is 3 bytes; at least 8 are needed, so that it can be redacted from output without garbling it"
    );
}

#[test]
fn cmd_references_run_without_a_shell() {
    let home = tempfile::tempdir().unwrap();
    let t = Duration::from_secs(10);
    let v = resolve(&format!("cmd:printf '%s\\n' {VALUE}"), home.path(), t).unwrap();
    assert_eq!(v.expose(), VALUE.as_bytes());
    // No shell: `$HOME` reaches printf as written.
    let v = resolve("cmd:printf %s-literal '$HOME'", home.path(), t).unwrap();
    assert_eq!(v.expose(), b"$HOME-literal");
    // A shell when the reference asks for one.
    let v = resolve(
        "cmd:sh -c 'printf %s-expanded \"$0\"' shell-word",
        home.path(),
        t,
    )
    .unwrap();
    assert_eq!(v.expose(), b"shell-word-expanded");
    // It runs in the home.
    let v = resolve("cmd:pwd", home.path(), t).unwrap();
    assert_eq!(
        v.expose(),
        fs::canonicalize(home.path())
            .unwrap()
            .as_os_str()
            .as_encoded_bytes()
    );
}

#[test]
fn a_failing_cmd_reference_never_shows_its_error_output() {
    let home = tempfile::tempdir().unwrap();
    let t = Duration::from_secs(10);
    let err = resolve(
        &format!("cmd:sh -c 'echo {VALUE} >&2; echo {VALUE}; exit 3'"),
        home.path(),
        t,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: `sh` failed (exit status: 3); its error output is not shown because it may hold the secret"
    );
    let err = resolve("cmd:/nonexistent/pass show x", home.path(), t).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: `/nonexistent/pass` could not be started: No such file or directory (os error 2)"
    );
}

#[test]
fn a_cmd_reference_is_killed_at_its_timeout() {
    let home = tempfile::tempdir().unwrap();
    let marker = home.path().join("survived");
    let started = Instant::now();
    // The shell exits at once, but a background child keeps the output open: the whole
    // process group is killed at the deadline, and the child never writes its marker.
    let text = format!(
        "cmd:sh -c '(sleep 1; touch {}) & printf %s {VALUE}'",
        marker.display()
    );
    let err = resolve(&text, home.path(), Duration::from_millis(300)).unwrap_err();
    let took = started.elapsed();
    assert_eq!(
        err.to_string(),
        "the secret `tok` could not be resolved: `sh` did not finish within 0.3 s"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    std::thread::sleep(Duration::from_millis(1500).saturating_sub(took));
    assert!(
        !marker.exists(),
        "the background child outlived the timeout"
    );
}

fn secrets_with(entries: &[(&str, &str)]) -> (tempfile::TempDir, Secrets) {
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::new(dir.path().join("store"), dir.path().join("key"));
    for (name, entry) in entries {
        let secret = match entry.split_once(':') {
            Some(("env" | "file" | "cmd", _)) => {
                StoredSecret::Reference(Reference::parse(entry).unwrap())
            }
            _ => StoredSecret::Value(SecretValue::new(name, entry.as_bytes().to_vec()).unwrap()),
        };
        store.set(&SecretName::new(name).unwrap(), secret).unwrap();
    }
    let secrets = store.load().unwrap();
    (dir, secrets)
}

#[test]
fn grants_resolve_into_the_variables_they_name_and_each_secret_once() {
    let counter = tempfile::tempdir().unwrap();
    let count_file = counter.path().join("runs");
    let cmd = format!(
        "cmd:sh -c 'echo run >> {}; printf %s counted-secret-value'",
        count_file.display()
    );
    let (_dir, secrets) = secrets_with(&[("github", VALUE), ("counted", &cmd)]);
    let home = tempfile::tempdir().unwrap();
    let ctx = context(home.path(), &no_env, Duration::from_secs(10));
    let resolved = resolve_grants(
        &secrets,
        [
            ("GH_TOKEN", "github"),
            ("A_TOKEN", "counted"),
            ("B_TOKEN", "counted"),
            ("GH_TOKEN", "github"),
        ],
        &ctx,
    )
    .unwrap();
    let names: Vec<(&str, &str)> = resolved
        .iter()
        .map(|r| (r.env.as_str(), r.secret.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("GH_TOKEN", "github"),
            ("A_TOKEN", "counted"),
            ("B_TOKEN", "counted")
        ]
    );
    assert_eq!(fs::read_to_string(&count_file).unwrap(), "run\n");

    let mut env = vec![
        (OsString::from("PATH"), OsString::from("/usr/bin")),
        (OsString::from("GH_TOKEN"), OsString::from("inherited")),
    ];
    inject(&mut env, &resolved);
    assert_eq!(
        env,
        vec![
            (OsString::from("PATH"), OsString::from("/usr/bin")),
            (OsString::from("GH_TOKEN"), OsString::from(VALUE)),
            (
                OsString::from("A_TOKEN"),
                OsString::from("counted-secret-value")
            ),
            (
                OsString::from("B_TOKEN"),
                OsString::from("counted-secret-value")
            ),
        ]
    );
}

#[test]
fn a_grant_that_cannot_be_met_is_an_error_naming_what_is_wrong() {
    let (_dir, secrets) = secrets_with(&[("github", VALUE), ("from-env", "env:UNSET_TOKEN")]);
    let home = tempfile::tempdir().unwrap();
    let ctx = context(home.path(), &no_env, Duration::from_secs(5));
    for (grants, expected) in [
        (
            vec![("GH_TOKEN", "nope")],
            "there is no secret named `nope` in the store",
        ),
        (
            vec![("GH_TOKEN", "from-env")],
            "the secret `from-env` could not be resolved: cordon's environment has no `UNSET_TOKEN`",
        ),
        (
            vec![("LD_PRELOAD", "github")],
            "the environment variable `LD_PRELOAD` cannot carry a secret: cordon never passes it to a command, or sets it itself",
        ),
        (
            vec![("PATH", "github")],
            "the environment variable `PATH` cannot carry a secret: cordon never passes it to a command, or sets it itself",
        ),
        (
            vec![("GH-TOKEN", "github")],
            "`GH-TOKEN` is not a valid environment variable name: use letters, digits and `_`, not starting with a digit",
        ),
        (
            vec![("GH_TOKEN", "github"), ("GH_TOKEN", "from-env")],
            "the environment variable `GH_TOKEN` is granted two different secrets, `github` and `from-env`",
        ),
    ] {
        let err = resolve_grants(&secrets, grants.iter().copied(), &ctx).unwrap_err();
        assert_eq!(err.to_string(), expected, "{grants:?}");
        assert!(!err.to_string().contains(VALUE));
    }
}
