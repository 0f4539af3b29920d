//! The witness through the `cordon` binary, with a real PostgreSQL
//! (`export CORDON_TEST_PG_URL=$(scripts/pg-test-server)`): `cordon witness serve` cosigns what
//! `cordon journal push` sends, `cordon verify` holds the journal to the cosigned checkpoint it
//! kept, `cordon verify --witness` rebuilds a machine's history from the mirror, `cordon witness
//! query` answers an auditor, and `cordon serve` pushes on its own. The attacks (rewrite and
//! re-sign, truncate and re-grow, a key swap without a rotation the old key signed) sit next to
//! the positive controls that show the same push succeeds when it is honest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod approval_support;
mod fleet_support;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use approval_support::{text, Home};
use cordon_journal::record::{self, Decision};
use cordon_journal::{Journal, Signer};
use fleet_support::TeamDb;
use serde_json::{json, Value};

const DENY: i32 = 1;
const USAGE: i32 = 64;
const INVALID_INPUT: i32 = 65;
const UNAVAILABLE: i32 = 69;
const WITNESS: &str = "witness.test/cordon";

fn cordon() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cordon"));
    c.env_remove("CORDON_HOME")
        .env_remove("CORDON_WITNESS_DB")
        .env("CORDON_MACHINE", "machine-a")
        .stdin(Stdio::null());
    c
}

fn run(args: &[&str]) -> Output {
    cordon().args(args).output().unwrap()
}

fn ok(args: &[&str]) -> Output {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "cordon {args:?}: {}",
        text(&out.stderr)
    );
    out
}

fn last_json(out: &Output) -> Value {
    serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap()
}

/// `cordon witness serve` on a free loopback port, killed when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
    vkey: String,
}

impl WitnessProcess {
    fn start(db: &TeamDb, keys: &Path) -> WitnessProcess {
        let key = keys.join("witness.pem");
        if !key.exists() {
            ok(&[
                "keygen",
                "--out-dir",
                keys.to_str().unwrap(),
                "--key-id",
                "witness",
            ]);
        }
        let mut child = cordon()
            .args([
                "witness",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--name",
                WITNESS,
                "--key",
            ])
            .arg(&key)
            .env("CORDON_WITNESS_DB", &db.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first.rsplit(' ').next().unwrap().to_string();
        assert!(
            first.contains(&format!("{WITNESS} listening on http://127.0.0.1:")),
            "{first}"
        );
        let second = lines.next().unwrap().unwrap();
        let vkey = second.strip_prefix("verifier key: ").unwrap().to_string();
        std::thread::spawn(move || for _ in lines {});
        WitnessProcess { child, url, vkey }
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A machine's journal signing key, made by `cordon keygen`: (private PEM, public key).
fn keygen(dir: &Path, id: &str) -> (PathBuf, PathBuf) {
    ok(&["keygen", "--out-dir", dir.to_str().unwrap(), "--key-id", id]);
    (dir.join(format!("{id}.pem")), dir.join(format!("{id}.pub")))
}

fn signer(pem: &Path) -> Signer {
    let id = pem.file_stem().unwrap().to_str().unwrap();
    Signer::from_file(pem, id).unwrap()
}

/// Appends `n` decisions by agent:claude (every third one denied, every fourth approved by
/// alice), each allowed one followed by its receipt.
fn append(journal: &mut Journal, key: &Signer, n: usize, tag: &str) {
    for i in 0..n {
        let deny = i % 3 == 2;
        let details = if i % 4 == 1 {
            json!({"front_end": {"text": format!("{tag} step {i}")},
                   "approval": {"state": "approved", "approvals": [{"approver": "alice"}]}})
        } else {
            json!({"front_end": {"text": format!("{tag} step {i}")}})
        };
        let d = Decision {
            contract_id: format!("c{i}"),
            contract_sha256: "ab".repeat(32),
            policy_profile: "p".into(),
            policy_digest: format!("sha256:{}", "cd".repeat(32)),
            outcome: if deny {
                cordon_core::Outcome::Deny
            } else {
                cordon_core::Outcome::Allow
            },
            reason_codes: vec!["R".into()],
            reason: "because".into(),
            actor: "agent:claude".into(),
            session_id: "s1".into(),
            sandbox_profile: None,
            details,
        };
        let rec = journal
            .append_signed(&record::decision_record(&d).unwrap(), key)
            .unwrap();
        if !deny {
            let mut receipt = json!({
                "receipt_version": "csc.receipt.v0.1", "contract_id": format!("c{i}"),
                "execution_id": format!("x{tag}{i}"), "contract_sha256": "ab".repeat(32),
                "status": "success", "started_at": "2026-12-01T10:00:00Z",
                "ended_at": "2026-12-01T10:00:01Z", "policy_profile": "p"
            });
            record::link_decision(&mut receipt, &rec).unwrap();
            journal.append_signed(&receipt, key).unwrap();
        }
    }
}

fn push(dir: &Path, pem: &Path, witness: &WitnessProcess, extra: &[&str]) -> Output {
    let mut args = vec![
        "journal",
        "push",
        "--witness",
        &witness.url,
        "--witness-key",
        &witness.vkey,
        "--journal",
        dir.to_str().unwrap(),
        "--signing-key",
        pem.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn verify(dir: &Path, public: &Path, witness: &WitnessProcess) -> Output {
    run(&[
        "verify",
        dir.to_str().unwrap(),
        "--public-key",
        public.to_str().unwrap(),
        "--witness-key",
        &witness.vkey,
    ])
}

/// Copies a journal (its first `keep` entries) with its kept cosigned checkpoints.
fn copy_journal(from: &Path, to: &Path, keep: usize) {
    std::fs::create_dir_all(to.join("witnessed")).unwrap();
    std::fs::copy(from.join("journal.json"), to.join("journal.json")).unwrap();
    let entries = std::fs::read_to_string(from.join("entries.jsonl")).unwrap();
    let lines: Vec<&str> = entries.lines().take(keep).collect();
    std::fs::write(to.join("entries.jsonl"), format!("{}\n", lines.join("\n"))).unwrap();
    for f in std::fs::read_dir(from.join("witnessed")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join("witnessed").join(f.file_name())).unwrap();
    }
}

fn query(db: &TeamDb, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["witness", "query", "--db", db.url.as_str()];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_slice(&ok(&all).stdout).unwrap()
}

#[test]
fn a_home_pushes_by_witness_json_and_verifies_locally_from_the_mirror_and_by_query() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let witness = WitnessProcess::start(&db, scratch.path());
    let home = Home::new();
    let config = json!({"url": witness.url, "key": witness.vkey});
    std::fs::write(home.path("home/witness.json"), config.to_string()).unwrap();
    let key = signer(&home.alice_key());
    let mut journal = Journal::open(&home.path("home/journal")).unwrap();
    append(&mut journal, &key, 8, "first");

    let home_cmd = |args: &[&str]| {
        home.command(args)
            .env("CORDON_MACHINE", "machine-a")
            .output()
            .unwrap()
    };
    let out = home_cmd(&["journal", "push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!(
            "pushed {} entries of {}",
            journal.len(),
            journal.origin()
        )),
        "{}",
        text(&out.stdout)
    );
    append(&mut journal, &key, 4, "second");
    let out = home_cmd(&["journal", "push", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let pushed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pushed["size"], journal.len());
    assert_eq!(pushed["witness"], WITNESS);

    // The home's verify holds the journal to the kept cosigned checkpoint (witness.json's key).
    let out = home_cmd(&["verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("held to 1 cosigned checkpoint(s)"),
        "{}",
        text(&out.stdout)
    );

    // The whole history from the mirror alone, with the machine's key.
    let public = home.p("home/keys/alice-key.pub");
    let from_mirror = ok(&[
        "verify",
        "--witness",
        &witness.url,
        journal.origin(),
        "--public-key",
        &public,
        "--witness-key",
        &witness.vkey,
    ]);
    let verdict = last_json(&from_mirror);
    assert_eq!(verdict["verdict"], "valid", "{verdict}");
    assert_eq!(verdict["entries"], journal.len());
    // The witness's word for the machine's key proves nothing: the key is required.
    let out = run(&[
        "verify",
        "--witness",
        &witness.url,
        journal.origin(),
        "--witness-key",
        &witness.vkey,
    ]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));
    // A mirror checked against another machine's key is not valid.
    let (_, other_pub) = keygen(scratch.path(), "other");
    let out = run(&[
        "verify",
        "--witness",
        &witness.url,
        journal.origin(),
        "--public-key",
        other_pub.to_str().unwrap(),
        "--witness-key",
        &witness.vkey,
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // The auditor's questions: 12 decisions, 3 denied, 9 ran, 3 approved by alice.
    assert_eq!(
        query(
            &db,
            &[
                "commands",
                "--agent",
                "agent:claude",
                "--machine",
                "machine-a"
            ]
        )
        .len(),
        9
    );
    assert_eq!(query(&db, &["commands", "--machine", "machine-b"]).len(), 0);
    let denials = query(&db, &["denials"]);
    assert_eq!(denials.len(), 3);
    let approvals = query(&db, &["approvals", "--approver", "alice"]);
    assert_eq!(approvals.len(), 3, "{approvals:?}");
    assert_eq!(approvals[0]["approvers"], json!(["alice"]));
    let out = run(&[
        "witness",
        "query",
        "commands",
        "--db",
        &db.url,
        "--since",
        "last week",
    ]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));
}

#[test]
fn a_rewritten_and_resigned_journal_is_refused_and_fails_against_its_kept_checkpoint() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let witness = WitnessProcess::start(&db, scratch.path());
    let (pem, public) = keygen(scratch.path(), "machine");
    let key = signer(&pem);
    let dir = scratch.path().join("journal");
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &key, 6, "honest");
    let out = push(&dir, &pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = verify(&dir, &public, &witness);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Root on the machine: the same origin, rewritten and re-signed with the same key, longer
    // than what the witness cosigned; the kept cosigned checkpoint stays beside it.
    let forged = scratch.path().join("forged");
    Journal::create(&forged, journal.origin()).unwrap();
    let mut rewritten = Journal::open(&forged).unwrap();
    append(&mut rewritten, &key, 9, "rewritten");
    std::fs::create_dir_all(forged.join("witnessed")).unwrap();
    for f in std::fs::read_dir(dir.join("witnessed")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), forged.join("witnessed").join(f.file_name())).unwrap();
    }
    let out = push(&forged, &pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "the witness {WITNESS} refused the journal (inconsistent)"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = verify(&forged, &public, &witness);
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stdout));
    let verdict = last_json(&out);
    assert!(
        verdict["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "trusted_checkpoint_mismatch"),
        "{verdict}"
    );
    // Positive control: the honest journal keeps growing under the witness.
    append(&mut journal, &key, 2, "honest");
    let out = push(&dir, &pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(verify(&dir, &public, &witness).status.code(), Some(0));
}

#[test]
fn truncating_and_regrowing_the_journal_is_refused() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let witness = WitnessProcess::start(&db, scratch.path());
    let (pem, public) = keygen(scratch.path(), "machine");
    let key = signer(&pem);
    let dir = scratch.path().join("journal");
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &key, 9, "honest");
    let out = push(&dir, &pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let witnessed = journal.len();

    let cut = scratch.path().join("cut");
    copy_journal(&dir, &cut, 5);
    let mut regrown = Journal::open(&cut).unwrap();
    append(&mut regrown, &key, 9, "regrown");
    assert!(regrown.len() > witnessed);
    let out = push(&cut, &pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("refused the journal (inconsistent)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(verify(&cut, &public, &witness).status.code(), Some(DENY));
    // Positive control: the uncut journal grows and is cosigned.
    append(&mut journal, &key, 1, "honest");
    assert_eq!(push(&dir, &pem, &witness, &[]).status.code(), Some(0));
}

#[test]
fn a_key_swap_needs_a_rotation_signed_by_the_old_key() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let witness = WitnessProcess::start(&db, scratch.path());
    let (old_pem, _) = keygen(scratch.path(), "old");
    let (new_pem, new_pub) = keygen(scratch.path(), "new");
    let dir = scratch.path().join("journal");
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &signer(&old_pem), 4, "old");
    assert_eq!(push(&dir, &old_pem, &witness, &[]).status.code(), Some(0));
    let at = journal.len().to_string();
    append(&mut journal, &signer(&new_pem), 3, "new");

    // The new key alone.
    let out = push(&dir, &new_pem, &witness, &[]);
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("refused the journal (key_changed)"),
        "{}",
        text(&out.stderr)
    );
    // A "rotation" the new key signed itself.
    let rotation = |signing: &Path, out: &Path| {
        ok(&[
            "journal",
            "rotation",
            "--old-key",
            signing.to_str().unwrap(),
            "--new-public-key",
            new_pub.to_str().unwrap(),
            "--at",
            &at,
            "--journal",
            dir.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let self_signed = scratch.path().join("self.rotation");
    rotation(&new_pem, &self_signed);
    let out = push(
        &dir,
        &new_pem,
        &witness,
        &["--rotation", self_signed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(key_changed)"),
        "{}",
        text(&out.stderr)
    );
    // Positive control: the rotation signed by the old key.
    let signed = scratch.path().join("old.rotation");
    rotation(&old_pem, &signed);
    let out = push(
        &dir,
        &new_pem,
        &witness,
        &["--rotation", signed.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_witness_and_push_refuse_bad_settings_in_one_sentence() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let (pem, _) = keygen(scratch.path(), "machine");
    let key = pem.to_str().unwrap();
    let out = run(&["witness", "serve", "--db", "mysql://x/y", "--key", key]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));
    let out = run(&[
        "witness",
        "serve",
        "--db",
        "postgres://cordon:x@127.0.0.1:9/w",
        "--key",
        key,
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(UNAVAILABLE),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        text(&out.stderr).trim().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = run(&["witness", "query", "denials"]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));

    let witness = WitnessProcess::start(&db, scratch.path());
    let dir = scratch.path().join("journal");
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &signer(&pem), 2, "x");
    // A witness key that is not this witness's: nothing is kept.
    let (_, other_pub) = keygen(scratch.path(), "impostor");
    let other = cordon_journal::witness::WitnessKey {
        name: WITNESS.into(),
        key: cordon_journal::keys::read_public_key(&other_pub).unwrap(),
    }
    .vkey();
    let out = run(&[
        "journal",
        "push",
        "--witness",
        &witness.url,
        "--witness-key",
        &other,
        "--journal",
        dir.to_str().unwrap(),
        "--signing-key",
        key,
    ]);
    assert_eq!(out.status.code(), Some(DENY), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(bad_cosignature)"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.join("witnessed").exists()
            || std::fs::read_dir(dir.join("witnessed"))
                .unwrap()
                .next()
                .is_none()
    );
    // No witness at all, and a witness URL without its key.
    let out = run(&[
        "journal",
        "push",
        "--journal",
        dir.to_str().unwrap(),
        "--signing-key",
        key,
    ]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));
    let out = run(&[
        "journal",
        "push",
        "--witness",
        &witness.url,
        "--journal",
        dir.to_str().unwrap(),
        "--signing-key",
        key,
    ]);
    assert_eq!(out.status.code(), Some(USAGE), "{}", text(&out.stderr));
    // An unreachable witness.
    let out = run(&[
        "journal",
        "push",
        "--witness",
        "http://127.0.0.1:9",
        "--witness-key",
        &witness.vkey,
        "--journal",
        dir.to_str().unwrap(),
        "--signing-key",
        key,
    ]);
    assert_eq!(
        out.status.code(),
        Some(UNAVAILABLE),
        "{}",
        text(&out.stderr)
    );
    // Positive control: the right key.
    assert_eq!(push(&dir, &pem, &witness, &[]).status.code(), Some(0));
}

#[test]
fn cordon_serve_pushes_the_home_journal_while_it_runs() {
    let db = TeamDb::fresh("cordon_fw");
    let scratch = tempfile::tempdir().unwrap();
    let witness = WitnessProcess::start(&db, scratch.path());
    let home = Home::new();
    // A witness.json that is not valid stops cordon serve before it serves.
    std::fs::write(
        home.path("home/witness.json"),
        r#"{"url": "ftp://x", "key": "k"}"#,
    )
    .unwrap();
    let out = home.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(
        out.status.code(),
        Some(INVALID_INPUT),
        "{}",
        text(&out.stderr)
    );

    let config = json!({"url": witness.url, "key": witness.vkey, "push_interval_secs": 1});
    std::fs::write(home.path("home/witness.json"), config.to_string()).unwrap();
    let key = signer(&home.alice_key());
    let mut journal = Journal::open(&home.path("home/journal")).unwrap();
    append(&mut journal, &key, 3, "before");
    let (mut serve, _) = approval_support::serve(&home);
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while query(&db, &["commands", "--limit", "1000"]).len() < n {
            assert!(
                Instant::now() < deadline,
                "the gateway did not push {n} commands"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for(2);
    append(&mut journal, &key, 3, "after");
    wait_for(4);
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(home
        .path("home/journal/witnessed")
        .read_dir()
        .unwrap()
        .next()
        .is_some());
}
