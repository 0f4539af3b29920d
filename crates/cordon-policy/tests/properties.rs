//! Properties over generated inputs: the policy loader never panics, and a policy that loads has a
//! digest that does not depend on formatting.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

const READONLY: &str = include_str!("../../../testdata/csc/examples/policies/dev-readonly.yaml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "\\PC{0,200}") {
        let _ = cordon_policy::load_bytes(text.as_bytes());
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z:\\[\\]{}, \\n'\"&*!|>#0-9.-]{0,120}") {
        let _ = cordon_policy::yaml::parse(&text);
    }

    #[test]
    fn mutated_policies_never_panic(pos in 0usize..READONLY.len(), byte in any::<u8>()) {
        let mut bytes = READONLY.as_bytes().to_vec();
        bytes[pos] = byte;
        let _ = cordon_policy::load_bytes(&bytes);
    }
}

#[test]
fn digest_ignores_comments_and_layout() {
    let reflowed = "# a comment\n".to_string() + &READONLY.replace("\n", "\n\n");
    let a = cordon_policy::load_bytes(READONLY.as_bytes()).unwrap();
    let b = cordon_policy::load_bytes(reflowed.as_bytes()).unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(
        a.sha256,
        "439e7b580bf6269d598bc73d2e1681fe4384c74fef35e57b26da980cd29b23f1"
    );
}
