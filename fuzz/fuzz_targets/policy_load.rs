//! Any bytes given as a policy file: a policy or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cordon_policy::load_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cordon_policy::yaml::parse(text);
    }
});
