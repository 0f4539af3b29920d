//! Attacks on approval artifacts and the store, each next to the positive control that shows the
//! same check passes an honest approval (so a test that always refused would fail here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_approval::artifact::{envelope_sha256_of, CLOCK_SKEW};
use cordon_approval::store::NewRequest;
use cordon_approval::{
    distinct_approvers, ApprovalError, ApprovalStore, ApproverRing, Grant, RequestState, Scope,
    SignedApproval, Store,
};
use cordon_core::approval::ApprovalMethod;
use cordon_core::Contract;
use ed25519_dalek::SigningKey;
use serde_json::json;
use time::{Duration, OffsetDateTime};

fn contract(argv: &[&str], write: &[&str]) -> Contract {
    let value = json!({
        "version": "csc.v0.1",
        "contract_id": format!("c_{}", argv.join("_")),
        "intent": "test",
        "actor": {"agent_id": "a", "session_id": "s1", "initiating_user": "u", "delegation_scope": "d"},
        "commands": [{
            "id": "cmd_1",
            "exec": {"argv": argv},
            "cwd": "/repo",
            "read_paths": ["/repo/**"],
            "write_paths": write,
            "network": "deny",
            "env_allow": [],
            "secret_refs": [],
            "timeout_sec": 10,
            "proposed_effect_type": "transform_local"
        }],
        "risk_class": "medium",
        "approval_mode": "human_required",
        "expected_outputs": [],
        "justification": "test"
    });
    Contract::parse(value.to_string().as_bytes()).unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn ring() -> ApproverRing {
    let mut ring = ApproverRing::default();
    ring.insert("alice", key(1).verifying_key()).unwrap();
    ring.insert("bob", key(2).verifying_key()).unwrap();
    ring
}

fn grant(identity: &str, contract: &Contract, scope: Scope, now: OffsetDateTime) -> Grant {
    Grant {
        identity: identity.into(),
        method: ApprovalMethod::Cli,
        contract_sha256: contract.sha256(),
        scope,
        approved_at: now,
        expires_at: now + Duration::minutes(10),
        request_id: None,
        reason: None,
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[test]
fn an_approval_for_contract_a_never_authorizes_contract_b() {
    let a = contract(&["git", "push"], &[]);
    let b = contract(&["rm", "-rf", "/repo"], &[]);
    for scope in [
        Scope::Once,
        Scope::Window,
        Scope::Session {
            session_id: "s1".into(),
        },
    ] {
        let signed = SignedApproval::sign(&grant("alice", &a, scope, now()), &key(1)).unwrap();
        // Positive control: it authorizes A.
        signed.verify(&ring(), &a, &a.sha256(), now()).unwrap();
        let err = signed.verify(&ring(), &b, &b.sha256(), now()).unwrap_err();
        assert!(matches!(err, ApprovalError::WrongContract(_)), "{err}");
    }
}

#[test]
fn a_session_approval_is_bound_to_its_session() {
    let a = contract(&["git", "push"], &[]);
    let signed = SignedApproval::sign(
        &grant(
            "alice",
            &a,
            Scope::Session {
                session_id: "other".into(),
            },
            now(),
        ),
        &key(1),
    )
    .unwrap();
    let err = signed.verify(&ring(), &a, &a.sha256(), now()).unwrap_err();
    assert!(matches!(err, ApprovalError::WrongContract(_)), "{err}");
}

#[test]
fn a_pattern_approval_widens_the_argv_but_never_the_reach() {
    let approved = contract(&["git", "push", "origin", "main"], &[]);
    let scope = Scope::Pattern {
        pattern: "git push origin *".into(),
        envelope_sha256: envelope_sha256_of(&approved).unwrap(),
    };
    let signed = SignedApproval::sign(&grant("alice", &approved, scope, now()), &key(1)).unwrap();
    // Positive controls: another branch, same envelope.
    let other_branch = contract(&["git", "push", "origin", "feature/x"], &[]);
    signed
        .verify(&ring(), &other_branch, &other_branch.sha256(), now())
        .unwrap();
    // Another command with the same envelope: the pattern refuses it.
    let rm = contract(&["rm", "-rf", "/repo"], &[]);
    let err = signed
        .verify(&ring(), &rm, &rm.sha256(), now())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not match the approved pattern"),
        "{err}"
    );
    // A matching argv that also asks to write: the envelope changed, so it is refused.
    let wider = contract(&["git", "push", "origin", "main"], &["/repo/**"]);
    let err = signed
        .verify(&ring(), &wider, &wider.sha256(), now())
        .unwrap_err();
    assert!(
        err.to_string().contains("another actor, cwd, scopes"),
        "{err}"
    );
    // A glob in the argv does not fool the match: the text is matched, quoted.
    let semicolon = contract(&["git", "push", "origin", "x; rm -rf /"], &[]);
    signed
        .verify(&ring(), &semicolon, &semicolon.sha256(), now())
        .expect("a branch name with spaces is still one quoted argument matching *");
}

#[test]
fn expired_and_future_dated_approvals_are_refused() {
    let a = contract(&["git", "push"], &[]);
    let t = now();
    let mut g = grant("alice", &a, Scope::Once, t - Duration::hours(2));
    g.expires_at = t - Duration::hours(1);
    let expired = SignedApproval::sign(&g, &key(1)).unwrap();
    let err = expired.verify(&ring(), &a, &a.sha256(), t).unwrap_err();
    assert!(matches!(err, ApprovalError::Expired(_)), "{err}");
    // Positive control: the same approval checked while it was valid.
    expired
        .verify(&ring(), &a, &a.sha256(), t - Duration::minutes(90))
        .unwrap();

    let future = SignedApproval::sign(
        &grant("alice", &a, Scope::Once, t + Duration::hours(1)),
        &key(1),
    )
    .unwrap();
    let err = future.verify(&ring(), &a, &a.sha256(), t).unwrap_err();
    assert!(matches!(err, ApprovalError::NotYetValid(_)), "{err}");
    // Within the allowed clock skew it is accepted.
    let skewed = SignedApproval::sign(
        &grant(
            "alice",
            &a,
            Scope::Once,
            t + CLOCK_SKEW - Duration::seconds(5),
        ),
        &key(1),
    )
    .unwrap();
    skewed.verify(&ring(), &a, &a.sha256(), t).unwrap();
}

#[test]
fn tampered_approvals_are_refused() {
    let a = contract(&["git", "push"], &[]);
    let b = contract(&["rm", "-rf", "/"], &[]);
    let signed = SignedApproval::sign(&grant("alice", &a, Scope::Once, now()), &key(1)).unwrap();
    let text = signed.to_json().unwrap();
    // Positive control: the untouched text parses and verifies.
    SignedApproval::parse(text.as_bytes())
        .unwrap()
        .verify(&ring(), &a, &a.sha256(), now())
        .unwrap();
    type Tamper<'a> = Box<dyn Fn(&mut SignedApproval) + 'a>;
    let tampers: Vec<Tamper> = vec![
        Box::new(|s| s.approval.contract_sha256 = b.sha256()),
        Box::new(|s| s.approval.expires_at = "2099-01-01T00:00:00.000000+00:00".into()),
        Box::new(|s| s.scope = Scope::Window),
        Box::new(|s| s.approval.scope = cordon_core::approval::ApprovalScope::TimeWindow),
        Box::new(|s| s.nonce = "0".repeat(32)),
        Box::new(|s| s.approval.approver.identity = "bob".into()),
        Box::new(|s| s.public_key = signed_key_of(2)),
    ];
    for (n, tamper) in tampers.iter().enumerate() {
        let mut forged = SignedApproval::parse(text.as_bytes()).unwrap();
        tamper(&mut forged);
        let contract = if n == 0 { &b } else { &a };
        let err = forged
            .verify(&ring(), contract, &contract.sha256(), now())
            .unwrap_err();
        assert!(
            matches!(
                err,
                ApprovalError::BadSignature | ApprovalError::Malformed(_)
            ),
            "tamper {n}: {err}"
        );
    }
    // Unknown fields are refused at parse time.
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["extra"] = json!(1);
    assert!(SignedApproval::parse(value.to_string().as_bytes()).is_err());
}

fn signed_key_of(seed: u8) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key(seed).verifying_key().as_bytes())
}

#[test]
fn a_key_outside_the_ring_signs_nothing() {
    let a = contract(&["git", "push"], &[]);
    let signed = SignedApproval::sign(&grant("mallory", &a, Scope::Once, now()), &key(9)).unwrap();
    let err = signed.verify(&ring(), &a, &a.sha256(), now()).unwrap_err();
    assert!(matches!(err, ApprovalError::UnknownKey), "{err}");
    // A trusted key claiming another trusted identity is refused too.
    let claims_bob = SignedApproval::sign(&grant("bob", &a, Scope::Once, now()), &key(1)).unwrap();
    let err = claims_bob
        .verify(&ring(), &a, &a.sha256(), now())
        .unwrap_err();
    assert!(
        matches!(err, ApprovalError::IdentityMismatch { .. }),
        "{err}"
    );
    // Positive control: once the key is trusted, it verifies.
    let mut wider = ring();
    wider.insert("mallory", key(9).verifying_key()).unwrap();
    signed.verify(&wider, &a, &a.sha256(), now()).unwrap();
}

#[test]
fn dual_control_needs_two_distinct_identities_and_keys() {
    let a = contract(&["git", "push"], &[]);
    let sign = |who: &str, seed: u8| {
        SignedApproval::sign(&grant(who, &a, Scope::Once, now()), &key(seed))
            .unwrap()
            .verify(&ring(), &a, &a.sha256(), now())
            .unwrap()
    };
    let alice1 = sign("alice", 1);
    let alice2 = sign("alice", 1);
    let err = distinct_approvers(&[alice1.clone(), alice2], 2).unwrap_err();
    assert!(matches!(err, ApprovalError::NotDistinct(_)), "{err}");
    // One person holding two keys under two names is still stopped by the identity check only
    // if the ring lists them so; two keys under one identity are refused:
    let mut ring2 = ring();
    ring2.insert("alice", key(3).verifying_key()).unwrap();
    let alice_other_key = SignedApproval::sign(&grant("alice", &a, Scope::Once, now()), &key(3))
        .unwrap()
        .verify(&ring2, &a, &a.sha256(), now())
        .unwrap();
    assert!(distinct_approvers(&[alice1.clone(), alice_other_key], 2).is_err());
    // Positive control: alice and bob.
    let bob = sign("bob", 2);
    assert_eq!(distinct_approvers(&[alice1, bob], 2).unwrap().len(), 2);
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state/approvals.db")).unwrap();
    (dir, store)
}

#[test]
fn a_single_use_approval_is_consumed_once_even_after_reopening() {
    let a = contract(&["git", "push"], &[]);
    let (dir, mut store) = store();
    let signed = SignedApproval::sign(&grant("alice", &a, Scope::Once, now()), &key(1)).unwrap();
    let v = signed.verify(&ring(), &a, &a.sha256(), now()).unwrap();
    store
        .consume(std::slice::from_ref(&v), &a.sha256(), None, "t", 1)
        .unwrap();
    drop(store);
    let mut reopened = Store::open(&dir.path().join("state/approvals.db")).unwrap();
    let err = reopened
        .consume(std::slice::from_ref(&v), &a.sha256(), None, "t", 2)
        .unwrap_err();
    assert!(matches!(err, ApprovalError::Replayed(_)), "{err}");
    assert!(reopened.is_consumed(&v.approval_id).unwrap());
    // Reusable scopes are logged, not consumed.
    let window = SignedApproval::sign(&grant("alice", &a, Scope::Window, now()), &key(1))
        .unwrap()
        .verify(&ring(), &a, &a.sha256(), now())
        .unwrap();
    reopened
        .consume(std::slice::from_ref(&window), &a.sha256(), None, "t", 3)
        .unwrap();
    reopened
        .consume(&[window], &a.sha256(), None, "t", 4)
        .unwrap();
}

#[test]
fn requests_move_from_pending_to_approved_to_consumed_and_expire_unanswered() {
    let a = contract(&["git", "push"], &[]);
    let (_dir, mut store) = store();
    let new = NewRequest {
        contract: serde_json::to_value(&a).unwrap(),
        contract_sha256: a.sha256(),
        session_id: "s1".into(),
        summary: json!([{"line": "git push", "cwd": "/repo", "network": "deny"}]),
        reason: "pushes".into(),
        required_approvers: 2,
        deadline: 100,
    };
    let id = store.file_request(&new, 10).unwrap();
    let answer = |who: &str, seed: u8| {
        let mut g = grant(who, &a, Scope::Once, now());
        g.request_id = Some(id.clone());
        let s = SignedApproval::sign(&g, &key(seed)).unwrap();
        let v = s.verify(&ring(), &a, &a.sha256(), now()).unwrap();
        (s, v)
    };
    let (s1, v1) = answer("alice", 1);
    assert_eq!(
        store.answer(&id, &s1, &v1, 20).unwrap(),
        RequestState::Pending
    );
    // The same approver again does not make two.
    let (s1b, v1b) = answer("alice", 1);
    assert!(matches!(
        store.answer(&id, &s1b, &v1b, 21).unwrap_err(),
        ApprovalError::NotDistinct(_)
    ));
    let (s2, v2) = answer("bob", 2);
    assert_eq!(
        store.answer(&id, &s2, &v2, 22).unwrap(),
        RequestState::Approved
    );
    store
        .consume(&[v1.clone(), v2.clone()], &a.sha256(), Some(&id), "t", 23)
        .unwrap();
    assert_eq!(
        store.request(&id, 24).unwrap().unwrap().state,
        RequestState::Consumed
    );
    assert!(store
        .consume(&[v1, v2], &a.sha256(), Some(&id), "t", 25)
        .is_err());

    let late = store.file_request(&new, 10).unwrap();
    assert_eq!(
        store.request(&late, 50).unwrap().unwrap().state,
        RequestState::Pending
    );
    assert_eq!(
        store.request(&late, 101).unwrap().unwrap().state,
        RequestState::Expired
    );
    let (s3, v3) = answer("alice", 1);
    assert!(store.answer(&late, &s3, &v3, 102).is_err());
}

#[test]
fn concurrent_consumers_of_one_approval_exactly_one_wins() {
    let a = contract(&["git", "push"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("approvals.db");
    Store::open(&path).unwrap();
    let signed = SignedApproval::sign(&grant("alice", &a, Scope::Once, now()), &key(1)).unwrap();
    let v = signed.verify(&ring(), &a, &a.sha256(), now()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|n| {
            let (path, v, hash) = (path.clone(), v.clone(), a.sha256());
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                store.consume(&[v], &hash, None, &format!("t{n}"), 1)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| matches!(e, ApprovalError::Replayed(_))));
}
