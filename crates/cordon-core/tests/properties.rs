//! Properties over generated inputs: canonical JSON is a faithful, stable encoding, and the
//! contract parser answers every input with a contract or an error, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cordon_core::{canonical, Contract};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const GIT_STATUS: &str = include_str!("../../../testdata/csc/examples/contracts/git-status.json");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_json_round_trips_and_is_stable(value in json_value()) {
        let bytes = canonical::to_vec(&value).unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(&back, &value);
        prop_assert_eq!(canonical::to_vec(&back).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_contract_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Contract::parse(&bytes);
    }

    #[test]
    fn mutated_contracts_never_panic_and_valid_ones_hash(pos in 0usize..GIT_STATUS.len(), byte in any::<u8>()) {
        let mut bytes = GIT_STATUS.as_bytes().to_vec();
        bytes[pos] = byte;
        if let Ok(contract) = Contract::parse(&bytes) {
            prop_assert_eq!(contract.sha256().len(), 64);
        }
    }
}
