//! The envelope a hardened run is confined to, built as every run builds it
//! (`EnvelopeInForce::build`): under the default native pack with a workspace, and under a CSC
//! profile (the pack's never lists, no workspace). A `cordon run` or `cordon exec` is a new
//! process, so this cost is paid on every hardened command; docs/benchmarks.md has the figures.
//!
//! The home is a temporary directory laid out like a developer's: a few credentials, start-up
//! files, caches and toolchains, so the build resolves and lists what it would on a real machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use cordon_governor::{EnvelopeInForce, EnvelopeSource, Ledger, Mode, PolicyInForce};
use cordon_policy::native::LoadedNativePolicy;
use criterion::{criterion_group, criterion_main, Criterion};

fn developer_home(home: &Path) {
    for dir in [
        ".ssh",
        ".aws",
        ".config/gh",
        ".cache/pip",
        ".cargo/bin",
        ".cargo/registry",
        ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin",
        ".nvm/versions/node/v20.1.0/bin",
        ".nvm/versions/node/v20.1.0/lib",
        ".npm",
        "project/src",
    ] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    for file in [
        ".ssh/id_ed25519",
        ".aws/credentials",
        ".bashrc",
        ".profile",
        ".gitconfig",
        ".npmrc",
        ".cargo/credentials.toml",
        "project/src/main.rs",
    ] {
        std::fs::write(home.join(file), "x").unwrap();
    }
}

fn csc_profile(workspace: &Path) -> PolicyInForce {
    let text = format!(
        r#"{{"policy_schema_version":"csc.policy.v0.1","name":"bench","allow_commands":["/bin/true"],
 "allowed_effect_types":["observe"],"allowed_risk_classes":["low"],"max_timeout_sec":30,"network":"deny",
 "allow_secret_refs":false,"require_write_paths_empty":true,"allowed_cwd_prefixes":["{w}"],
 "allowed_read_prefixes":["{w}"],"allowed_write_prefixes":[]}}"#,
        w = workspace.display()
    );
    let loaded = cordon_policy::load_bytes(text.as_bytes()).unwrap();
    PolicyInForce::Csc(Box::new(loaded))
}

fn benches(c: &mut Criterion) {
    let t = tempfile::tempdir().unwrap();
    let home = std::fs::canonicalize(t.path()).unwrap();
    developer_home(&home);
    let workspace = home.join("project");
    let ledger = Ledger::open(None, None, Mode::Local).unwrap();
    let source = |policy: PolicyInForce| EnvelopeSource {
        policy: Arc::new(policy),
        workspace: workspace.clone(),
        home: home.clone(),
        cordon_home: home.join(".config/cordon"),
    };
    let native = source(PolicyInForce::Native(
        LoadedNativePolicy::default_pack().unwrap(),
    ));
    let csc = source(csc_profile(&workspace));
    // Each must build before it is timed.
    EnvelopeInForce::build(&native, &ledger, &[]).unwrap();
    EnvelopeInForce::build(&csc, &ledger, &[]).unwrap();

    c.bench_function(
        "envelope/build, default pack, workspace in a developer's home",
        |b| b.iter(|| EnvelopeInForce::build(&native, &ledger, &[]).unwrap()),
    );
    c.bench_function(
        "envelope/build, CSC profile (the pack's never lists)",
        |b| b.iter(|| EnvelopeInForce::build(&csc, &ledger, &[]).unwrap()),
    );
    c.bench_function(
        "envelope/default pack load (a native policy file that is the pack)",
        |b| b.iter(|| LoadedNativePolicy::default_pack().unwrap()),
    );
}

criterion_group! {
    name = envelope;
    config = Criterion::default().sample_size(40);
    targets = benches
}
criterion_main!(envelope);
