//! One decision in process (target ≤ 10 µs), and the pieces around it: contract parse and hash,
//! policy load. Inputs are the CSC example files, parsed once outside the timed loop where the
//! benchmark is about the decision alone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;

use cordon_core::Contract;
use criterion::{criterion_group, criterion_main, Criterion};

fn data(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/csc")
        .join(relative)
}

fn benches(c: &mut Criterion) {
    let contract_bytes = std::fs::read(data("examples/contracts/git-status.json")).unwrap();
    let policy_bytes = std::fs::read(data("examples/policies/dev-readonly.yaml")).unwrap();
    let contract = Contract::parse(&contract_bytes).unwrap();
    let policy = cordon_policy::load_bytes(&policy_bytes).unwrap();

    c.bench_function("decide/evaluate git-status under dev-readonly", |b| {
        b.iter(|| cordon_policy::evaluate(black_box(&contract), black_box(&policy.policy)))
    });
    c.bench_function("decide/evaluate + contract_sha256", |b| {
        b.iter(|| {
            let sha = black_box(&contract).sha256();
            (
                sha,
                cordon_policy::evaluate(black_box(&contract), black_box(&policy.policy)),
            )
        })
    });
    c.bench_function("parse/contract (strict JSON + schema + limits)", |b| {
        b.iter(|| Contract::parse(black_box(&contract_bytes)).unwrap())
    });
    c.bench_function("parse/policy (YAML + schema + digest)", |b| {
        b.iter(|| cordon_policy::load_bytes(black_box(&policy_bytes)).unwrap())
    });

    let bypass =
        Contract::parse(&std::fs::read(data("derived/probes/c-multi.json")).unwrap()).unwrap();
    let bench_policy =
        cordon_policy::load_bytes(&std::fs::read(data("derived/probes/p-bench.yaml")).unwrap())
            .unwrap();
    c.bench_function("decide/evaluate multi-command probe", |b| {
        b.iter(|| cordon_policy::evaluate(black_box(&bypass), black_box(&bench_policy.policy)))
    });
}

criterion_group!(decide, benches);
criterion_main!(decide);
