//! The shell front end must never panic, whatever the agent writes: parse, derive facts, decide
//! under the default pack, and synthesize the contract.
#![no_main]

use std::sync::OnceLock;

use cordon_policy::native::{self, CompiledPolicy, Context, LoadedNativePolicy};
use cordon_policy::shell::Session;
use libfuzzer_sys::fuzz_target;

fn session() -> Session {
    Session {
        cwd: "/work/project".to_string(),
        home: "/home/agent".to_string(),
    }
}

/// Compiled once: the policy is not what is being fuzzed here.
fn policy() -> Option<&'static CompiledPolicy> {
    static POLICY: OnceLock<Option<CompiledPolicy>> = OnceLock::new();
    POLICY
        .get_or_init(|| {
            let pack = LoadedNativePolicy::default_pack().ok()?;
            let session = session();
            CompiledPolicy::compile(
                &pack,
                &Context {
                    workspace: session.cwd,
                    home: session.home,
                },
            )
            .ok()
        })
        .as_ref()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(policy) = policy() else { return };
    let (facts, _decision) = native::decide(&text, &session(), policy);
    let _ =
        cordon_policy::synth::contract(&text, &facts, &cordon_policy::synth::Requester::default());
});
