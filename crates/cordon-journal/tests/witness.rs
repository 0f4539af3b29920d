//! The witness against a real PostgreSQL on loopback (`export CORDON_TEST_PG_URL=$(scripts/pg-test-server)`):
//! each attack (rewrite and re-sign, truncate and re-grow, key swap) next to the positive control
//! that shows the same push succeeds when it is honest, and the machine's own verification
//! failing against the cosigned checkpoint it kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cordon_journal::note::Note;
use cordon_journal::record::{self, Decision};
use cordon_journal::verify::{verify_witnessed, Outcome, VerifyOptions};
use cordon_journal::witness::client::{push_journal, verify_from_witness, witnessed_path};
use cordon_journal::witness::cosign::signed_message;
use cordon_journal::witness::server::WitnessServer;
use cordon_journal::witness::{
    rotation_text, Push, Query, QueryKind, Witness, WitnessDb, WitnessKey,
};
use cordon_journal::{Journal, JournalError, KeyRing, Signer};
use serde_json::{json, Value};

const PG_URL_VAR: &str = "CORDON_TEST_PG_URL";
const WITNESS: &str = "witness.test/cordon";

// ---- a database per test ------------------------------------------------------------------------

struct Db {
    url: String,
    admin: String,
    name: String,
}

fn admin_sql(url: &str, sql: &str) {
    let mut db = cordon_pg::Database::connect(url, "test", "cordon-tests", Default::default())
        .unwrap_or_else(|e| panic!("{PG_URL_VAR}: {e}"));
    db.run("run an administrative statement", |c| {
        Box::pin(async move { c.batch_execute(sql).await })
    })
    .unwrap();
}

fn fresh_db() -> Db {
    let admin = std::env::var(PG_URL_VAR).ok().filter(|u| !u.is_empty()).unwrap_or_else(|| {
        panic!("{PG_URL_VAR} is not set, so the witness cannot be tested: start a test server with `export {PG_URL_VAR}=$(scripts/pg-test-server)`")
    });
    let name = format!("cordon_w_{}", hex::encode(rand_bytes()));
    admin_sql(&admin, &format!("CREATE DATABASE {name}"));
    let (server, _) = admin.split('?').next().unwrap().rsplit_once('/').unwrap();
    Db {
        url: format!("{server}/{name}"),
        admin,
        name,
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        admin_sql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn rand_bytes() -> [u8; 6] {
    let mut b = [0u8; 6];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

// ---- fixtures -----------------------------------------------------------------------------------

fn signer(seed: u8) -> Signer {
    Signer::from_bytes(&[seed; 32], format!("k{seed}")).unwrap()
}

fn witness_signer() -> Arc<Signer> {
    Arc::new(signer(99))
}

fn witness_key() -> WitnessKey {
    WitnessKey {
        name: WITNESS.into(),
        key: witness_signer().verifying_key(),
    }
}

fn decision(actor: &str, outcome: &str, approver: Option<&str>, text: &str) -> Decision {
    Decision {
        contract_id: "c1".into(),
        contract_sha256: "ab".repeat(32),
        policy_profile: "p".into(),
        policy_digest: format!("sha256:{}", "cd".repeat(32)),
        outcome: if outcome == "deny" {
            cordon_core::Outcome::Deny
        } else {
            cordon_core::Outcome::Allow
        },
        reason_codes: vec!["R".into()],
        reason: "because".into(),
        actor: actor.into(),
        session_id: "s1".into(),
        sandbox_profile: None,
        details: match approver {
            Some(a) => {
                json!({"front_end": {"text": text}, "approval": {"state": "approved", "approvals": [{"approver": a}]}})
            }
            None => json!({"front_end": {"text": text}}),
        },
    }
}

/// Appends `n` decisions (each allowed one followed by its receipt) signed by `key`.
fn append(journal: &mut Journal, key: &Signer, n: usize, tag: &str) {
    for i in 0..n {
        let outcome = if i % 3 == 2 { "deny" } else { "allow" };
        let approver = (i % 4 == 1).then_some("alice");
        let d = decision(
            "agent:claude",
            outcome,
            approver,
            &format!("{tag} step {i}"),
        );
        let rec = journal
            .append_signed(&record::decision_record(&d).unwrap(), key)
            .unwrap();
        if outcome == "allow" {
            let mut receipt = json!({
                "receipt_version": "csc.receipt.v0.1", "contract_id": "c1",
                "execution_id": format!("x{i}"), "contract_sha256": "ab".repeat(32),
                "status": "success", "started_at": "2026-12-01T10:00:00Z",
                "ended_at": "2026-12-01T10:00:01Z", "policy_profile": "p"
            });
            record::link_decision(&mut receipt, &rec).unwrap();
            journal.append_signed(&receipt, key).unwrap();
        }
    }
}

fn start(db: &Db) -> WitnessServer {
    WitnessServer::start("127.0.0.1:0", &db.url, WITNESS, witness_signer(), 2).unwrap()
}

fn push(dir: &Path, key: &Signer, server: &WitnessServer) -> Result<u64, JournalError> {
    let mut journal = Journal::open(dir).unwrap();
    push_journal(
        &mut journal,
        key,
        server.url(),
        &witness_key(),
        "laptop-a",
        None,
        7,
    )
    .map(|p| p.size)
}

fn verify_here(dir: &Path, key: &Signer) -> cordon_journal::Verdict {
    let opts = VerifyOptions {
        ring: KeyRing::any_id(key.verifying_key()),
        ..Default::default()
    };
    verify_witnessed(dir, &opts, &[witness_key()]).unwrap()
}

fn refused_code(e: JournalError) -> String {
    match e {
        JournalError::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Copies a journal directory without its index (which the next open rebuilds).
fn copy_journal(from: &Path, to: &Path, keep_lines: Option<usize>) {
    std::fs::create_dir_all(to.join("witnessed")).unwrap();
    std::fs::copy(from.join("journal.json"), to.join("journal.json")).unwrap();
    let entries = std::fs::read_to_string(from.join("entries.jsonl")).unwrap();
    let lines: Vec<&str> = entries.lines().collect();
    let kept = &lines[..keep_lines.unwrap_or(lines.len())];
    std::fs::write(to.join("entries.jsonl"), format!("{}\n", kept.join("\n"))).unwrap();
    for f in std::fs::read_dir(from.join("witnessed")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), to.join("witnessed").join(f.file_name())).unwrap();
    }
}

// ---- tests --------------------------------------------------------------------------------------

#[test]
fn the_cosigned_message_matches_the_c2sp_example() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/c2sp-signed-note");
    let checkpoint = std::fs::read_to_string(dir.join("checkpoint-example.txt")).unwrap();
    let expected =
        std::fs::read_to_string(dir.join("cosignature-v1-signed-message-example.txt")).unwrap();
    let note = Note::parse(&checkpoint).unwrap();
    let line = note
        .signatures
        .iter()
        .find(|s| s.name == "witness.example.com/w1")
        .unwrap();
    // timestamped_signature: 8-byte big-endian time, then 64 bytes of Ed25519.
    assert_eq!(line.signature.len(), 72);
    let time = u64::from_be_bytes(line.signature[..8].try_into().unwrap());
    assert_eq!(time, 1_679_315_147);
    assert_eq!(signed_message(&note.text, time), expected);
}

#[test]
fn honest_pushes_are_cosigned_kept_and_verified_from_the_mirror() {
    let db = fresh_db();
    let server = start(&db);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("journal");
    let key = signer(1);
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &key, 10, "a");
    let first = push(&dir, &key, &server).unwrap();
    assert_eq!(first, journal.len());
    append(&mut journal, &key, 5, "b");
    // The second push starts at the kept checkpoint and carries a consistency proof.
    assert_eq!(push(&dir, &key, &server).unwrap(), journal.len());
    let kept = std::fs::read_to_string(witnessed_path(&dir, WITNESS)).unwrap();
    assert!(witness_key()
        .cosigned_at(&Note::parse(&kept).unwrap())
        .unwrap()
        .is_some());
    let v = verify_here(&dir, &key);
    assert_eq!(
        (v.verdict, v.witnessed_checkpoints),
        (Outcome::Valid, 1),
        "{v:?}"
    );
    assert_eq!(v.trusted_size, Some(journal.len()));
    // Whole history from the mirror alone.
    let scratch = tempfile::tempdir().unwrap();
    let from_mirror = verify_from_witness(
        server.url(),
        journal.origin(),
        &KeyRing::any_id(key.verifying_key()),
        &witness_key(),
        scratch.path(),
    )
    .unwrap();
    assert_eq!(
        (from_mirror.verdict, from_mirror.entries),
        (Outcome::Valid, journal.len())
    );
    assert_eq!(from_mirror.trusted_size, Some(journal.len()));
    server.stop();
}

#[test]
fn a_rewritten_and_resigned_history_is_refused_and_fails_verification() {
    let db = fresh_db();
    let server = start(&db);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("journal");
    let key = signer(1);
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &key, 6, "honest");
    push(&dir, &key, &server).unwrap();
    let witnessed = journal.len();
    // Root on the machine: a new journal under the same origin, re-signed with the same key,
    // longer than the witnessed one; the kept cosigned checkpoint stays where it was.
    let forged = home.path().join("forged");
    Journal::create(&forged, journal.origin()).unwrap();
    let mut rewritten = Journal::open(&forged).unwrap();
    append(&mut rewritten, &key, 8, "rewritten");
    std::fs::create_dir_all(forged.join("witnessed")).unwrap();
    std::fs::copy(
        witnessed_path(&dir, WITNESS),
        witnessed_path(&forged, WITNESS),
    )
    .unwrap();
    assert!(rewritten.len() > witnessed);
    let code = refused_code(push(&forged, &key, &server).unwrap_err());
    assert_eq!(code, "inconsistent");
    let v = verify_here(&forged, &key);
    assert_eq!(v.verdict, Outcome::Invalid);
    assert!(
        v.failures
            .iter()
            .any(|f| f.code == "trusted_checkpoint_mismatch"
                && f.checkpoint.as_deref() == Some("witnessed/witness.test_cordon.checkpoint")),
        "{:?}",
        v.failures
    );
    // Without the kept checkpoint the forged journal is self-consistent: only the witness's
    // memory catches it (the push is refused the same way after the witness names its size).
    std::fs::remove_dir_all(forged.join("witnessed")).unwrap();
    assert_eq!(verify_here(&forged, &key).verdict, Outcome::Valid);
    assert_eq!(
        refused_code(push(&forged, &key, &server).unwrap_err()),
        "inconsistent"
    );
    // Positive control: the honest journal still grows under the witness.
    append(&mut journal, &key, 2, "honest");
    assert_eq!(push(&dir, &key, &server).unwrap(), journal.len());
    server.stop();
}

#[test]
fn truncating_and_regrowing_is_refused() {
    let db = fresh_db();
    let server = start(&db);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("journal");
    let key = signer(1);
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &key, 9, "honest");
    push(&dir, &key, &server).unwrap();
    let witnessed = journal.len();
    // Cut the journal back to 5 entries and grow it past the witnessed size.
    let cut = home.path().join("cut");
    copy_journal(&dir, &cut, Some(5));
    let mut regrown = Journal::open(&cut).unwrap();
    assert_eq!(regrown.len(), 5);
    append(&mut regrown, &key, 9, "regrown");
    assert!(regrown.len() > witnessed);
    assert_eq!(
        refused_code(push(&cut, &key, &server).unwrap_err()),
        "inconsistent"
    );
    let v = verify_here(&cut, &key);
    assert_eq!(v.verdict, Outcome::Invalid, "{v:?}");
    // A checkpoint that only shrinks the log is refused as such.
    let mut witness = Witness::new(
        WITNESS,
        witness_signer(),
        WitnessDb::connect(&db.url).unwrap(),
    )
    .unwrap();
    let mut short = Journal::open(&copy_to(&dir, home.path(), "short", 5)).unwrap();
    short.refresh().unwrap();
    let shrink = manual_push(&short, &key, witnessed, 5);
    assert_eq!(
        refused_code(witness.push(&shrink, 1).unwrap_err()),
        "truncated"
    );
    // Positive control: the untouched journal grows and is accepted.
    append(&mut journal, &key, 1, "honest");
    assert_eq!(push(&dir, &key, &server).unwrap(), journal.len());
    server.stop();
}

fn copy_to(from: &Path, home: &Path, name: &str, lines: usize) -> std::path::PathBuf {
    let to = home.join(name);
    copy_journal(from, &to, Some(lines));
    to
}

/// A push of the journal's first `to` entries claiming the witness holds `old`.
fn manual_push(journal: &Journal, key: &Signer, old: u64, to: u64) -> Push {
    use base64::Engine as _;
    let checkpoint = cordon_journal::note::Checkpoint {
        origin: journal.origin().into(),
        size: to,
        root: journal.root_at(to).unwrap(),
        extensions: vec![],
    }
    .sign(key)
    .unwrap();
    Push {
        origin: journal.origin().into(),
        machine: "laptop-a".into(),
        public_key: base64::engine::general_purpose::STANDARD
            .encode(key.verifying_key().as_bytes()),
        old_size: old,
        consistency: vec![],
        checkpoint,
        entries: vec![],
        rotation: None,
    }
}

#[test]
fn a_key_swap_needs_a_rotation_signed_by_the_old_key() {
    let db = fresh_db();
    let server = start(&db);
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("journal");
    let (old, new) = (signer(1), signer(2));
    let mut journal = Journal::open(&dir).unwrap();
    append(&mut journal, &old, 4, "old key");
    push(&dir, &old, &server).unwrap();
    let at = journal.len();
    append(&mut journal, &new, 3, "new key");
    // The new key alone is refused.
    let err = push_journal(
        &mut journal,
        &new,
        server.url(),
        &witness_key(),
        "laptop-a",
        None,
        100,
    )
    .unwrap_err();
    assert_eq!(refused_code(err), "key_changed");
    // A "rotation" signed by the new key itself is refused too.
    let text = rotation_text(journal.origin(), &new.verifying_key(), at);
    let self_signed = Note::sign(&text, journal.origin(), &new).unwrap();
    let err = push_journal(
        &mut journal,
        &new,
        server.url(),
        &witness_key(),
        "laptop-a",
        Some(&self_signed),
        100,
    )
    .unwrap_err();
    assert_eq!(refused_code(err), "key_changed");
    // Positive control: the rotation signed by the old key is accepted, and so is what follows.
    let rotation = Note::sign(&text, journal.origin(), &old).unwrap();
    let pushed = push_journal(
        &mut journal,
        &new,
        server.url(),
        &witness_key(),
        "laptop-a",
        Some(&rotation),
        100,
    )
    .unwrap();
    assert_eq!(pushed.size, journal.len());
    append(&mut journal, &new, 1, "new key");
    assert_eq!(push(&dir, &new, &server).unwrap(), journal.len());
    let mut ring = KeyRing::any_id(old.verifying_key());
    ring.insert("k2", new.verifying_key(), None, None);
    let scratch = tempfile::tempdir().unwrap();
    let v = verify_from_witness(
        server.url(),
        journal.origin(),
        &ring,
        &witness_key(),
        scratch.path(),
    )
    .unwrap();
    assert_eq!(v.verdict, Outcome::Valid, "{v:?}");
    server.stop();
}

#[test]
fn search_answers_from_indexed_columns_with_the_signed_line() {
    let db = fresh_db();
    let server = start(&db);
    let home = tempfile::tempdir().unwrap();
    let key = signer(1);
    for (machine, actor) in [("laptop-a", "agent:claude"), ("ci-b", "agent:codex")] {
        let dir = home.path().join(machine);
        let mut journal = Journal::open(&dir).unwrap();
        for i in 0..4 {
            let outcome = if i == 3 { "deny" } else { "allow" };
            let approver = (i == 1).then_some("alice");
            let d = decision(actor, outcome, approver, &format!("make test {i}"));
            let rec = journal
                .append_signed(&record::decision_record(&d).unwrap(), &key)
                .unwrap();
            if outcome == "allow" {
                let mut receipt = json!({"receipt_version": "csc.receipt.v0.1", "contract_id": "c1",
                    "execution_id": format!("x{i}"), "contract_sha256": "ab".repeat(32),
                    "status": "success", "started_at": format!("2026-12-0{}T10:00:00Z", i + 1),
                    "ended_at": "2026-12-05T10:00:01Z", "policy_profile": "p"});
                record::link_decision(&mut receipt, &rec).unwrap();
                journal.append_signed(&receipt, &key).unwrap();
            }
        }
        push_journal(
            &mut journal,
            &key,
            server.url(),
            &witness_key(),
            machine,
            None,
            100,
        )
        .unwrap();
    }
    let mut db_ = WitnessDb::connect(&db.url).unwrap();
    let commands = db_
        .query(
            QueryKind::Commands,
            &Query {
                agent: Some("agent:claude".into()),
                machine: Some("laptop-a".into()),
                since: Some("2026-12-02T00:00:00Z".into()),
                until: Some("2026-12-04T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let texts: Vec<_> = commands
        .iter()
        .map(|h| h.command.clone().unwrap())
        .collect();
    assert_eq!(texts, ["make test 2", "make test 1"]);
    for h in &commands {
        let line: Value = serde_json::from_str(&h.line).unwrap();
        assert_eq!(line["status"], "success");
        assert_eq!(
            (h.machine.as_str(), h.agent.as_deref()),
            ("laptop-a", Some("agent:claude"))
        );
    }
    let denials = db_.query(QueryKind::Denials, &Query::default()).unwrap();
    assert_eq!(denials.len(), 2);
    assert!(denials.iter().all(|h| h.outcome.as_deref() == Some("deny")));
    let approvals = db_
        .query(
            QueryKind::Approvals,
            &Query {
                approver: Some("alice".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(approvals.len(), 2);
    assert!(approvals.iter().all(|h| h.approvers == ["alice"]));
    // Positive control for the filters: nobody else approved, and codex did not run on laptop-a.
    assert!(db_
        .query(
            QueryKind::Approvals,
            &Query {
                approver: Some("bob".into()),
                ..Default::default()
            }
        )
        .unwrap()
        .is_empty());
    assert!(db_
        .query(
            QueryKind::Commands,
            &Query {
                agent: Some("agent:codex".into()),
                machine: Some("laptop-a".into()),
                ..Default::default()
            }
        )
        .unwrap()
        .is_empty());
    server.stop();
}

#[test]
fn an_entry_whose_own_signature_fails_is_refused_even_under_a_valid_checkpoint() {
    use base64::Engine as _;
    let db = fresh_db();
    let mut witness = Witness::new(
        WITNESS,
        witness_signer(),
        WitnessDb::connect(&db.url).unwrap(),
    )
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let key = signer(1);
    let mut journal = Journal::open(&home.path().join("j")).unwrap();
    append(&mut journal, &key, 40, "x");
    let lines: Vec<String> = (0..journal.len())
        .map(|i| String::from_utf8(journal.read_entry(i).unwrap()).unwrap())
        .collect();
    // The machine's key signs a checkpoint over lines it chose, one of them with a broken
    // entry signature (the last base64 character of its signature value changed).
    let push_of = |lines: Vec<String>| {
        let leaves: Vec<_> = lines
            .iter()
            .map(|l| cordon_journal::merkle::leaf_hash(l.as_bytes()))
            .collect();
        let checkpoint = cordon_journal::note::Checkpoint {
            origin: journal.origin().into(),
            size: lines.len() as u64,
            root: cordon_journal::merkle::mth(&leaves),
            extensions: vec![],
        }
        .sign(&key)
        .unwrap();
        Push {
            origin: journal.origin().into(),
            machine: "laptop-a".into(),
            public_key: base64::engine::general_purpose::STANDARD
                .encode(key.verifying_key().as_bytes()),
            old_size: 0,
            consistency: vec![],
            checkpoint,
            entries: lines,
            rotation: None,
        }
    };
    let mut forged = lines.clone();
    let mut entry: Value = serde_json::from_str(&forged[30]).unwrap();
    let sig = entry["signature"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if sig.as_bytes()[10] == b'A' { "B" } else { "A" };
    entry["signature"]["signature"] = json!(format!("{}{flipped}{}", &sig[..10], &sig[11..]));
    forged[30] = String::from_utf8(cordon_core::canonical::to_vec(&entry).unwrap()).unwrap();
    match witness.push(&push_of(forged), 1).unwrap_err() {
        JournalError::Refused { code, reason } => {
            assert_eq!(code, "bad_entry");
            assert_eq!(
                reason,
                "entry 30: its signature does not verify under the log's key"
            );
        }
        other => panic!("{other}"),
    }
    // Positive control: the same lines unaltered are accepted.
    assert_eq!(
        witness.push(&push_of(lines), 1).unwrap().size,
        journal.len()
    );
}
