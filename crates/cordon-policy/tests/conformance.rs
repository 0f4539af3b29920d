//! CSC v0.1 conformance: every case of upstream's 56-case suite, and every golden vector derived
//! from csc-runner 0.5.2, each as its own test.
//!
//! The data lives in `testdata/csc` (Apache-2.0, copied unchanged; see its LICENSE and MANIFEST).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cordon_core::policy::LoadedPolicy;
use cordon_core::receipt::ExecutionReceipt;
use cordon_core::{Contract, Schema};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/csc")
}

fn read_json(relative: &str) -> Value {
    let path = data_dir().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cases(relative: &str) -> Vec<Value> {
    match read_json(relative) {
        Value::Array(items) => items,
        other => panic!("{relative}: expected a list of cases, found {other}"),
    }
}

fn id_of(case: &Value) -> String {
    case["id"].as_str().unwrap_or("unnamed").to_string()
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok {
        Ok(())
    } else {
        Err(message().into())
    }
}

/// Schema fixtures: the document must be valid exactly when the fixture says so. For contracts and
/// policies, cordon's own typed parsers must agree with the schema too.
fn schema_trials(relative: &'static str, kind: &'static str) -> Vec<Trial> {
    cases(relative)
        .into_iter()
        .map(|case| {
            let name = format!("conformance::{kind}::{}", id_of(&case));
            Trial::test(name, move || {
                let input = case["input"].clone();
                let expected = case["valid"].as_bool().ok_or("fixture without `valid`")?;
                let (schema, typed) = match kind {
                    "contract" => (
                        Schema::Contract,
                        Some(Contract::from_value(input.clone()).is_ok()),
                    ),
                    "policy" => (
                        Schema::Policy,
                        Some(LoadedPolicy::from_value(input.clone()).is_ok()),
                    ),
                    _ => (Schema::Receipt, None),
                };
                let valid = schema.validate(&input);
                check(valid.is_ok() == expected, || {
                    format!("expected valid={expected}, schema says {valid:?}")
                })?;
                if let Some(typed_ok) = typed {
                    check(typed_ok == expected, || {
                        format!("expected valid={expected}, typed parser says {typed_ok}")
                    })?;
                }
                Ok(())
            })
        })
        .collect()
}

fn loader_trials() -> Vec<Trial> {
    cases("tests/conformance/policies/loader.json")
        .into_iter()
        .map(|case| {
            Trial::test(
                format!("conformance::loader::{}", id_of(&case)),
                move || {
                    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                    let path = dir.path().join("policy.yaml");
                    if case["source"].as_str() != Some("missing_file") {
                        let raw = case["raw_text"]
                            .as_str()
                            .ok_or("fixture without raw_text")?;
                        std::fs::write(&path, raw).map_err(|e| e.to_string())?;
                    }
                    let result = cordon_policy::load_file(&path);
                    if case["valid"].as_bool() == Some(true) {
                        check(result.is_ok(), || {
                            format!("expected to load, got {result:?}")
                        })
                    } else {
                        let want = case["expected_error_contains"]
                            .as_str()
                            .ok_or("fixture without expected error")?;
                        match result {
                            Ok(_) => Err(format!(
                                "expected an error containing {want:?}, loaded fine"
                            )
                            .into()),
                            Err(e) => check(e.to_string().contains(want), || {
                                format!("error {e:?} lacks {want:?}")
                            }),
                        }
                    }
                },
            )
        })
        .collect()
}

fn effects_set(value: &Value) -> BTreeSet<(String, String)> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|e| {
                    (
                        e["command_id"].as_str().unwrap_or_default().to_string(),
                        e["effect_type"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn decision_trials() -> Vec<Trial> {
    cases("tests/conformance/decisions/decisions.json")
        .into_iter()
        .map(|case| {
            Trial::test(
                format!("conformance::decision::{}", id_of(&case)),
                move || {
                    let contract = Contract::from_value(case["contract"].clone())
                        .map_err(|e| e.to_string())?;
                    let policy = LoadedPolicy::from_value(case["policy"].clone())
                        .map_err(|e| e.to_string())?;
                    let judgement = cordon_policy::evaluate(&contract, &policy.policy);
                    let decision =
                        serde_json::to_value(judgement.verdict).map_err(|e| e.to_string())?;
                    check(decision == case["expected_decision"], || {
                        format!(
                            "decision {decision}, expected {}",
                            case["expected_decision"]
                        )
                    })?;
                    let codes = serde_json::to_value(vec![judgement.reason_code])
                        .map_err(|e| e.to_string())?;
                    check(codes == case["expected_reason_codes"], || {
                        format!(
                            "reason codes {codes}, expected {}",
                            case["expected_reason_codes"]
                        )
                    })?;
                    if let Some(expected) = case.get("expected_classified_effects") {
                        let got = serde_json::to_value(&judgement.classified_effects)
                            .map_err(|e| e.to_string())?;
                        check(effects_set(&got) == effects_set(expected), || {
                            format!("classified effects {got}, expected {expected}")
                        })?;
                    }
                    Ok(())
                },
            )
        })
        .collect()
}

fn contract_hash_trials() -> Vec<Trial> {
    let vectors = read_json("derived/hash-and-decision-vectors.json");
    let items = vectors["contract_hashes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 9, "the derived vectors hold 9 contract hashes");
    items
        .into_iter()
        .map(|v| {
            let label = v["label"].as_str().unwrap_or_default().replace('/', "_");
            Trial::test(format!("golden::contract_sha256::{label}"), move || {
                let contract =
                    Contract::from_value(v["contract"].clone()).map_err(|e| e.to_string())?;
                check(contract.normalized() == v["normalized_for_hash"], || {
                    format!("normalized form differs: {}", contract.normalized())
                })?;
                let got = contract.sha256();
                check(
                    got == v["contract_sha256"].as_str().unwrap_or_default(),
                    || format!("sha256 {got}, expected {}", v["contract_sha256"]),
                )
            })
        })
        .collect()
}

fn policy_hash_trials() -> Vec<Trial> {
    let vectors = read_json("derived/hash-and-decision-vectors.json");
    let items = vectors["policy_hashes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 3, "the derived vectors hold 3 policy hashes");
    items
        .into_iter()
        .map(|v| {
            let label = v["label"].as_str().unwrap_or_default().to_string();
            Trial::test(
                format!("golden::policy_sha256::{}", label.replace('/', "_")),
                move || {
                    let loaded = cordon_policy::load_file(&data_dir().join(&label))
                        .map_err(|e| e.to_string())?;
                    check(
                        loaded.sha256 == v["policy_sha256"].as_str().unwrap_or_default(),
                        || format!("sha256 {}, expected {}", loaded.sha256, v["policy_sha256"]),
                    )?;
                    let reparsed =
                        LoadedPolicy::from_value(v["parsed"].clone()).map_err(|e| e.to_string())?;
                    check(reparsed.sha256 == loaded.sha256, || {
                        "parsed form hashes differently".to_string()
                    })
                },
            )
        })
        .collect()
}

/// Every golden decision: the 12 fixtures (with inputs from the fixture file) and the 9 example
/// contract × policy pairs, compared on decision, codes, reason text, effects and hashes.
fn golden_decision_trials() -> Vec<Trial> {
    let vectors = read_json("derived/hash-and-decision-vectors.json");
    let fixtures = cases("tests/conformance/decisions/decisions.json");
    let items = vectors["decisions"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 21, "the derived vectors hold 21 decisions");
    items
        .into_iter()
        .map(|v| {
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let fixture = fixtures.iter().find(|f| f["id"] == v["id"]).cloned();
            Trial::test(
                format!("golden::decision::{}", id.replace(':', "_")),
                move || {
                    let (contract, policy) = match (&fixture, id.strip_prefix("examples:")) {
                        (Some(f), _) => (
                            Contract::from_value(f["contract"].clone())
                                .map_err(|e| e.to_string())?,
                            LoadedPolicy::from_value(f["policy"].clone())
                                .map_err(|e| e.to_string())?,
                        ),
                        (None, Some(pair)) => {
                            let (c, p) = split_pair(pair).ok_or("bad example id")?;
                            let bytes = std::fs::read(
                                data_dir().join(format!("examples/contracts/{c}.json")),
                            )
                            .map_err(|e| e.to_string())?;
                            (
                                Contract::parse(&bytes).map_err(|e| e.to_string())?,
                                cordon_policy::load_file(
                                    &data_dir().join(format!("examples/policies/{p}.yaml")),
                                )
                                .map_err(|e| e.to_string())?,
                            )
                        }
                        _ => return Err(format!("no inputs for {id}").into()),
                    };
                    let sha = contract.sha256();
                    check(
                        sha == v["contract_sha256"].as_str().unwrap_or_default(),
                        || format!("contract sha {sha}, expected {}", v["contract_sha256"]),
                    )?;
                    if let Some(want) = v["policy_sha256"].as_str() {
                        check(policy.sha256 == want, || {
                            format!("policy sha {}, expected {want}", policy.sha256)
                        })?;
                    }
                    let j = cordon_policy::evaluate(&contract, &policy.policy);
                    check(j.verdict.as_str() == v["decision"], || {
                        format!("decision {:?}, expected {}", j.verdict, v["decision"])
                    })?;
                    check(
                        v["reason_codes"] == serde_json::json!([j.reason_code.as_str()]),
                        || format!("code {}, expected {}", j.reason_code, v["reason_codes"]),
                    )?;
                    check(v["reasons"] == serde_json::json!([j.reason]), || {
                        format!("reason {:?}, expected {}", j.reason, v["reasons"])
                    })?;
                    let got =
                        serde_json::to_value(&j.classified_effects).map_err(|e| e.to_string())?;
                    check(got == v["classified_effects"], || {
                        format!("effects {got}, expected {}", v["classified_effects"])
                    })
                },
            )
        })
        .collect()
}

/// `curl-deniedxdev-readonly` → (`curl-denied`, `dev-readonly`): split at the `x` that leaves a
/// known policy name on the right.
fn split_pair(pair: &str) -> Option<(&str, &str)> {
    [
        "dev-readonly",
        "dev-test-no-network",
        "regulated-restricted",
    ]
    .iter()
    .find_map(|p| {
        pair.strip_suffix(p)
            .and_then(|c| c.strip_suffix('x'))
            .map(|c| (c, *p))
    })
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    trials.extend(schema_trials(
        "tests/conformance/contracts/valid.json",
        "contract",
    ));
    trials.extend(schema_trials(
        "tests/conformance/contracts/invalid.json",
        "contract",
    ));
    trials.extend(schema_trials(
        "tests/conformance/policies/schema.json",
        "policy",
    ));
    trials.extend(loader_trials());
    trials.extend(decision_trials());
    trials.extend(schema_trials(
        "tests/conformance/receipts/valid.json",
        "receipt",
    ));
    trials.extend(schema_trials(
        "tests/conformance/receipts/invalid.json",
        "receipt",
    ));
    let conformance_cases = trials.len();
    assert_eq!(
        conformance_cases, 56,
        "the CSC conformance suite has 56 cases"
    );
    trials.extend(contract_hash_trials());
    trials.extend(policy_hash_trials());
    trials.extend(golden_decision_trials());
    // Receipt schema views: the schema describes receipts without `signature`/`x-cordon`.
    trials.push(Trial::test(
        "golden::receipt_schema_view_of_signed_vectors",
        || {
            let vectors = read_json("derived/signing-vectors.json");
            for v in vectors["vectors"].as_array().cloned().unwrap_or_default() {
                let signed = &v["signed_receipt"];
                check(Schema::Receipt.validate(signed).is_err(), || {
                    "a signed receipt fails CSC's schema as is".into()
                })?;
                ExecutionReceipt::validate(signed).map_err(|e| format!("{}: {e}", v["label"]))?;
            }
            Ok(())
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
