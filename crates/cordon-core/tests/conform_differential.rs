//! The hand-written schema checks (`cordon_core::conform`) must agree with the embedded JSON
//! Schemas, run by the `jsonschema` crate, on every fixture and on generated mutations of them.
//! A disagreement either way is a bug: the fast path decides validity on `cordon check`'s hot path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use cordon_core::{conform, Schema};
use proptest::prelude::*;
use serde_json::{json, Value};

fn read(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/csc")
        .join(relative);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn contracts() -> Vec<Value> {
    let mut out = Vec::new();
    for file in [
        "tests/conformance/contracts/valid.json",
        "tests/conformance/contracts/invalid.json",
    ] {
        out.extend(
            read(file)
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["input"].clone()),
        );
    }
    out.extend(
        read("tests/conformance/decisions/decisions.json")
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contract"].clone()),
    );
    for name in ["git-status", "npm-test", "curl-denied"] {
        out.push(read(&format!("examples/contracts/{name}.json")));
    }
    out.extend(
        read("derived/hash-and-decision-vectors.json")["contract_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contract"].clone()),
    );
    out
}

fn policies() -> Vec<Value> {
    let mut out: Vec<Value> = read("tests/conformance/policies/schema.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["input"].clone())
        .collect();
    out.extend(
        read("tests/conformance/decisions/decisions.json")
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["policy"].clone()),
    );
    out.extend(
        read("derived/hash-and-decision-vectors.json")["policy_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["parsed"].clone()),
    );
    out
}

fn agree(schema: Schema, value: &Value) {
    let fast = match schema {
        Schema::Contract => conform::contract(value),
        Schema::Policy => conform::policy(value),
        _ => unreachable!(),
    };
    let slow = schema.is_valid(value).unwrap();
    assert_eq!(
        fast,
        slow,
        "conform says {fast}, {} says {slow} for {value}",
        schema.name()
    );
}

#[test]
fn fixtures_agree() {
    let (c, p) = (contracts(), policies());
    assert!(c.len() >= 30 && p.len() >= 20);
    c.iter().for_each(|v| agree(Schema::Contract, v));
    p.iter().for_each(|v| agree(Schema::Policy, v));
}

/// Values chosen to sit on every boundary the two schemas draw.
fn interesting() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(-1),
        json!(1.5),
        json!(10.0),
        json!(86400),
        json!(86401),
        json!(u64::MAX),
        json!(""),
        json!("x"),
        json!("12345678"),
        json!("1234567"),
        json!("x".repeat(128)),
        json!("x".repeat(129)),
        json!("é".repeat(8)),
        json!("/"),
        json!("/workspace"),
        json!("//"),
        json!("relative"),
        json!("C:\\x"),
        json!("C:"),
        json!("\\\\srv\\share"),
        json!("\\\\srv"),
        json!("csc.v0.1"),
        json!("csc.policy.v0.1"),
        json!("low"),
        json!("deny"),
        json!("full"),
        json!("observe"),
        json!("financial_action"),
        json!("policy_only"),
        json!([]),
        json!(["git"]),
        json!(["git", "git"]),
        json!([""]),
        json!(["/a"]),
        json!(["rel"]),
        json!([["git"]]),
        json!([[]]),
        json!([{"argv": ["a"]}]),
        json!([{"argv": ["a"]}, {"argv": ["b"]}]),
        json!({}),
        json!({"argv": ["ls"]}),
        json!({"argv": []}),
        json!({"segments": [{"argv": ["a"]}, {"argv": ["b"]}]}),
        json!({"segments": [{"argv": ["a"]}]}),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, usize),
    Remove(usize),
    AddKey(usize),
}

/// Every path to an object member or array element in `value`, as JSON pointers.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(p.clone());
            pointers(v, p, out);
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            let p = format!("{at}/{i}");
            out.push(p.clone());
            pointers(v, p, out);
        }),
        _ => {}
    }
}

fn mutate(mut value: Value, mutations: &[Mutation]) -> Value {
    let values = interesting();
    for m in mutations {
        let mut paths = Vec::new();
        pointers(&value, String::new(), &mut paths);
        if paths.is_empty() {
            break;
        }
        match m {
            Mutation::Replace(p, v) => {
                if let Some(slot) = value.pointer_mut(&paths[p % paths.len()]) {
                    *slot = values[v % values.len()].clone();
                }
            }
            Mutation::Remove(p) => {
                let path = &paths[p % paths.len()];
                let (parent, last) = path.rsplit_once('/').unwrap();
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        let i: usize = last.parse().unwrap();
                        items.remove(i);
                    }
                    _ => {}
                }
            }
            Mutation::AddKey(p) => {
                if let Some(Value::Object(map)) = value.pointer_mut(&paths[p % paths.len()]) {
                    map.insert("unexpected".into(), json!(1));
                }
            }
        }
    }
    value
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<usize>()).prop_map(|(p, v)| Mutation::Replace(p, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::AddKey),
    ]
}

/// Every single mutation of every fixture: each member or element replaced by each boundary
/// value, removed, or given an unexpected sibling key. Deterministic, so a boundary that the fast
/// check draws one step off is always found.
#[test]
fn every_single_mutation_agrees() {
    let values = interesting();
    let mut checked = 0usize;
    for (schema, docs) in [
        (Schema::Contract, contracts()),
        (Schema::Policy, policies()),
    ] {
        for doc in docs {
            let mut paths = Vec::new();
            pointers(&doc, String::new(), &mut paths);
            for p in 0..paths.len() {
                for v in 0..values.len() {
                    agree(schema, &mutate(doc.clone(), &[Mutation::Replace(p, v)]));
                    checked += 1;
                }
                agree(schema, &mutate(doc.clone(), &[Mutation::Remove(p)]));
                agree(schema, &mutate(doc.clone(), &[Mutation::AddKey(p)]));
                checked += 2;
            }
        }
    }
    eprintln!("{checked} single mutations checked against the schemas");
    assert!(checked > 10_000, "{checked}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn mutated_contracts_agree(seed in any::<usize>(), ms in prop::collection::vec(mutation(), 1..4)) {
        let base = contracts();
        let value = mutate(base[seed % base.len()].clone(), &ms);
        agree(Schema::Contract, &value);
    }

    #[test]
    fn mutated_policies_agree(seed in any::<usize>(), ms in prop::collection::vec(mutation(), 1..4)) {
        let base = policies();
        let value = mutate(base[seed % base.len()].clone(), &ms);
        agree(Schema::Policy, &value);
    }
}
