//! The store: its files are the user's alone, the value is never in them in any form, a wrong
//! key or a changed byte is refused, updates are atomic and serialized, and `set` never takes a
//! value from the command line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;
use cordon_secrets::{
    parse_set_args, read_value, Reference, SecretName, SecretStore, SecretValue, SecretsError,
    SetRequest, StoredSecret,
};

const VALUE: &[u8] = b"ghp_store-test-value-0123456789";

fn store(dir: &Path) -> SecretStore {
    SecretStore::new(dir.join("secrets/store"), dir.join("keys/secrets.key"))
}

fn name(n: &str) -> SecretName {
    SecretName::new(n).unwrap()
}

fn value(bytes: &[u8]) -> StoredSecret {
    StoredSecret::Value(SecretValue::new("t", bytes.to_vec()).unwrap())
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_files_are_private_and_never_hold_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.set(&name("github"), value(VALUE)).unwrap();

    assert_eq!(mode(store.path()), 0o600);
    assert_eq!(mode(store.key_path()), 0o600);
    assert_eq!(mode(&dir.path().join("secrets")), 0o700);
    assert_eq!(mode(&dir.path().join("keys")), 0o700);

    let bytes = fs::read(store.path()).unwrap();
    assert!(bytes.starts_with(b"cordon-secrets v1\n"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(VALUE);
    for form in [
        VALUE.to_vec(),
        hex::encode(VALUE).into_bytes(),
        b64.into_bytes(),
        b"github".to_vec(), // names are encrypted too
    ] {
        assert!(!contains(&bytes, &form), "the store holds {form:?}");
    }
    // Positive control: the search finds what is there.
    assert!(contains(&bytes, b"cordon-secrets"));

    let loaded = store.load().unwrap();
    match loaded.get(&name("github")) {
        Some(StoredSecret::Value(v)) => assert_eq!(v.expose(), VALUE),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_key_or_a_changed_byte_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.set(&name("github"), value(VALUE)).unwrap();

    let good_key = fs::read(store.key_path()).unwrap();
    fs::write(store.key_path(), format!("{}\n", "ab".repeat(32))).unwrap();
    let err = store.load().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the secret store {} cannot be decrypted with the key {}: the key is wrong or the file was changed",
            store.path().display(),
            store.key_path().display()
        )
    );

    fs::write(store.key_path(), &good_key).unwrap();
    let sealed = fs::read(store.path()).unwrap();
    let mut changed = sealed.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x80;
    fs::write(store.path(), &changed).unwrap();
    assert!(matches!(store.load(), Err(SecretsError::Decrypt { .. })));

    // Positive control: the original bytes with the original key load.
    fs::write(store.path(), &sealed).unwrap();
    assert!(store.load().is_ok());

    fs::write(store.key_path(), "not hex\n").unwrap();
    assert!(matches!(store.load(), Err(SecretsError::BadKey { .. })));
}

#[test]
fn files_open_to_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.set(&name("github"), value(VALUE)).unwrap();
    for path in [store.key_path(), store.path()] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is readable or writable by other users (mode 644); run `chmod 600` on it",
                path.display()
            )
        );
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(store.load().is_ok());
    }
}

#[test]
fn a_store_without_its_key_is_refused_and_no_new_key_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store.set(&name("github"), value(VALUE)).unwrap();
    fs::remove_file(store.key_path()).unwrap();
    assert!(matches!(store.load(), Err(SecretsError::KeyMissing { .. })));
    let err = store.set(&name("npm"), value(VALUE)).unwrap_err();
    assert!(matches!(err, SecretsError::KeyMissing { .. }), "{err}");
    assert!(!store.key_path().exists());
}

#[test]
fn list_shows_names_and_kinds_and_rm_removes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    assert!(store.load().unwrap().list().is_empty());
    store.set(&name("github"), value(VALUE)).unwrap();
    for (n, reference) in [
        ("from-env", "env:GITHUB_TOKEN"),
        ("from-file", "file:~/.config/token"),
        ("from-cmd", "cmd:pass show 'npm token'"),
    ] {
        let reference = Reference::parse(reference).unwrap();
        store
            .set(&name(n), StoredSecret::Reference(reference))
            .unwrap();
    }
    let listed: Vec<(String, &str)> = store
        .load()
        .unwrap()
        .list()
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("from-cmd".to_string(), "cmd"),
            ("from-env".to_string(), "env"),
            ("from-file".to_string(), "file"),
            ("github".to_string(), "value"),
        ]
    );
    // References survive the round trip as written.
    match store.load().unwrap().get(&name("from-cmd")) {
        Some(StoredSecret::Reference(r)) => assert_eq!(r.to_text(), "cmd:pass show 'npm token'"),
        other => panic!("{other:?}"),
    }

    // Stored values, for a redactor over every run; references are not resolved for it.
    let loaded = store.load().unwrap();
    let values: Vec<(&str, &[u8])> = loaded
        .stored_values()
        .map(|(n, v)| (n.as_str(), v.expose()))
        .collect();
    assert_eq!(values, vec![("github", VALUE)]);

    store.remove(&name("github")).unwrap();
    assert!(store.load().unwrap().get(&name("github")).is_none());
    let err = store.remove(&name("github")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no secret named `github` in the store"
    );
}

#[test]
fn concurrent_updates_are_serialized_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    std::thread::scope(|scope| {
        for i in 0..8 {
            let store = &store;
            scope.spawn(move || {
                store
                    .set(&name(&format!("s{i}")), value(b"concurrent-value"))
                    .unwrap();
            });
        }
    });
    assert_eq!(store.load().unwrap().list().len(), 8);
    let leftovers: Vec<_> = fs::read_dir(dir.path().join("secrets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".secrets-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn args(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

#[test]
fn set_refuses_a_value_on_the_command_line_without_echoing_it() {
    for words in [
        &["GH_TOKEN", "ghp_on-argv-value"][..],
        &["GH_TOKEN", "--value", "ghp_on-argv-value"],
        &["GH_TOKEN", "--value=ghp_on-argv-value"],
        &["GH_TOKEN", "--ref", "env:X", "ghp_on-argv-value"],
    ] {
        let err = parse_set_args(&args(words)).unwrap_err();
        assert!(matches!(err, SecretsError::ValueOnArgv), "{words:?}: {err}");
        assert_eq!(
            err.to_string(),
            "`cordon secret set` takes the value on standard input, never on the command line, where other processes and the shell history can read it"
        );
    }
    // An unknown option may be the value in disguise: refused, and not repeated.
    let err = parse_set_args(&args(&["GH_TOKEN", "--token=ghp_on-argv-value"])).unwrap_err();
    assert!(matches!(err, SecretsError::Usage(_)), "{err}");
    assert!(!err.to_string().contains("ghp_on-argv-value"), "{err}");

    // Positive controls: the name alone, and a reference.
    assert_eq!(
        parse_set_args(&args(&["GH_TOKEN"])).unwrap(),
        SetRequest::Value {
            name: name("GH_TOKEN")
        }
    );
    assert_eq!(
        parse_set_args(&args(&["GH_TOKEN", "--ref", "env:GITHUB_TOKEN"])).unwrap(),
        SetRequest::Reference {
            name: name("GH_TOKEN"),
            reference: Reference::Env("GITHUB_TOKEN".into()),
        }
    );
    assert!(matches!(
        parse_set_args(&args(&["GH_TOKEN", "--ref=nope"])),
        Err(SecretsError::InvalidReference { .. })
    ));
    assert!(matches!(
        parse_set_args(&args(&[])),
        Err(SecretsError::Usage(_))
    ));
}

#[test]
fn the_value_is_read_from_standard_input_without_its_line_break() {
    let n = name("github");
    let v = read_value(&n, &b"ghp_from-stdin-value\n"[..]).unwrap();
    assert_eq!(v.expose(), b"ghp_from-stdin-value");
    let err = read_value(&n, &b"short\n"[..]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("secret `github`: the value is 5 bytes"),
        "{err}"
    );
    let huge = vec![b'a'; cordon_secrets::MAX_VALUE_BYTES + 10];
    assert!(read_value(&n, &huge[..]).is_err());
}
