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
