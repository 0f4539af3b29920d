//! `doctor` reports what this kernel offers, as data a program can read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn doctor_reports_features_consistently_with_the_run_report() {
    let report = cordon_sandbox::doctor();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["landlock_abi"],
        u64::from(cordon_sandbox::landlock_abi())
    );
    assert!(json["guarantees"].as_array().unwrap().len() >= 6);
    assert!(!report.kernel.is_empty());
    // Root can always create a network namespace.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(report.net_namespace && report.pid_namespace);
    }
}

/// What `doctor` says of cache layers is what a run finds: a layered cache when it says yes, and
/// a read-only one, with the note, when it says no.
#[test]
fn doctor_says_of_cache_layers_what_a_run_finds() {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI {
        cordon_testkit::allow_skip("landlock", &format!("the kernel offers ABI {abi}"));
        return;
    }
    let layers = cordon_sandbox::doctor()
        .guarantees
        .into_iter()
        .find(|g| g.name.starts_with("cache layers"))
        .expect("doctor names cache layers");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    for d in ["ws", "cordon", ".cache"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let envelope = cordon_sandbox::Envelope::builder(root.join("ws"))
        .cordon_home(root.join("cordon"))
        .caches([root.join(".cache")])
        .cache_layers(root.join("cordon/layers"))
        .build()
        .unwrap();
    let plan = cordon_sandbox::Plan {
        commands: vec![cordon_sandbox::PlannedCommand::new(
            "t",
            ["/bin/true"],
            root.join("ws"),
        )],
    };
    let options = cordon_sandbox::RunOptions {
        passthrough: false,
        ..cordon_sandbox::RunOptions::default()
    };
    let report = cordon_sandbox::run(
        &plan,
        &cordon_sandbox::Confinement::within(envelope),
        &options,
    )
    .unwrap();
    let layered = !report.enforcement.envelope.cache_layers.is_empty();
    assert_eq!(
        layered, layers.available,
        "{}: {:?}",
        layers.detail, report.enforcement.envelope.notes
    );
}
