//! Any bytes given as a contract: a contract or an error, never a panic. A parsed contract must
//! also hash, and decide under a permissive policy, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(contract) = cordon_core::Contract::parse(data) {
        let _ = contract.sha256();
        let _ = cordon_core::canonical::to_vec(&contract.normalized());
    }
});
