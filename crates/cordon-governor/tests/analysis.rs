//! `analyse` in process: a recording `PolicySource` says which policy was asked for. Nothing here
//! reads the machine's filesystem or the user's home: the text is judged as written, in both
//! modes (a hardened run is bounded by the envelope, and grants beyond it are judged on real
//! paths when the run is confined: `cordon_governor::envelope`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use cordon_core::hosts::HostList;
use cordon_core::Outcome;
use cordon_governor::analysis::front;
use cordon_governor::policies::{self, CedarPolicyFile, LoadEachTime, PolicySource};
use cordon_governor::{analyse, AnalysisRequest, PolicyChoice, PolicyInForce, Written};
use cordon_policy::cedar::CedarEngine;
use cordon_policy::egress::NetworkGrant;
use cordon_policy::native::{CompiledPolicy, Context, LoadedNativePolicy};

/// Loads as a one-shot process does, and remembers every choice it was asked for.
#[derive(Default)]
struct Recording(Arc<Mutex<Vec<PolicyChoice>>>);

impl PolicySource for Recording {
    fn policy(&self, choice: &PolicyChoice) -> cordon_governor::Result<Arc<PolicyInForce>> {
        self.0.lock().unwrap().push(choice.clone());
        LoadEachTime.policy(choice)
    }
    fn compiled(
        &self,
        policy: &LoadedNativePolicy,
        context: &Context,
    ) -> cordon_governor::Result<Arc<CompiledPolicy>> {
        policies::compile(policy, context).map(Arc::new)
    }
    fn cedar(
        &self,
        policy: &CedarPolicyFile,
        context: &Context,
    ) -> cordon_governor::Result<Arc<CedarEngine>> {
        policies::validate_cedar(policy, context).map(Arc::new)
    }
}

fn request(text: &str, hardened: bool) -> AnalysisRequest {
    AnalysisRequest {
        written: Written::Shell(text.into()),
        cwd: "/w".into(),
        home: "/home/agent".into(),
        workspace: None,
        policy: PolicyChoice::Builtin,
        hardened,
    }
}

#[test]
fn the_decision_comes_from_the_policy_the_source_gives() {
    let source = Recording::default();
    let analysis = analyse(&request("rm -rf ~/.ssh", false), &source).unwrap();
    let decision = analysis.decision();
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.code_strings(), ["RULE_DENIED"]);
    assert!(
        decision.sentence.contains("/home/agent/.ssh"),
        "{}",
        decision.sentence
    );
    assert_eq!(decision.policy.name, "coding-agent-default");
    assert_eq!(*source.0.lock().unwrap(), [PolicyChoice::Builtin]);
    // The positive control: a command the same pack allows.
    let analysis = analyse(&request("ls -la", false), &source).unwrap();
    assert_eq!(analysis.decision().outcome, Outcome::Allow);
}

#[test]
fn a_hardened_judgement_judges_names_as_written_and_says_its_mode() {
    let text = "echo hi > /w/out/new.txt";
    // Nothing wider than the named file is judged or granted: the envelope bounds the run.
    let hardened = front(&request(text, true));
    let facts = &hardened.facts.commands[0];
    assert!(facts.absent.is_empty(), "{:?}", facts.absent);
    assert_eq!(facts.writes, ["/w/out/new.txt"]);
    // The same facts as a local judgement: only the assumed mode differs.
    let local = front(&request(text, false));
    assert_eq!(local.facts, hardened.facts);
    let source = Recording::default();
    let hardened = analyse(&request(text, true), &source).unwrap();
    let local = analyse(&request(text, false), &source).unwrap();
    assert_eq!(hardened.mode, cordon_governor::Mode::Hardened);
    assert_eq!(local.mode, cordon_governor::Mode::Local);
    assert!(hardened.policy_in_force.is_some());
}

#[test]
fn shell_text_and_argv_are_judged_alike() {
    let source = Recording::default();
    let shell = analyse(&request("git status", false), &source).unwrap();
    let argv = AnalysisRequest {
        written: Written::Argv(vec!["git".into(), "status".into()]),
        ..request("", false)
    };
    let argv = analyse(&argv, &source).unwrap();
    assert_eq!(shell.decision(), argv.decision());
    assert_eq!(shell.contract, argv.contract);
}

/// The default pack with `hosts` on its `npm-install` rule, held in memory.
struct PackWithHosts(LoadedNativePolicy);

impl PackWithHosts {
    fn new(hosts: &str) -> PackWithHosts {
        let rule = "      command: [\"npm install\", \"npm i\", \"npm ci\"]\n      cwd: [\"{workspace}/**\"]\n";
        let pack = cordon_policy::native::DEFAULT_PACK;
        assert!(pack.contains(rule), "the pack's npm-install rule moved");
        let text = pack.replace(rule, &format!("{rule}    hosts: {hosts}\n"));
        PackWithHosts(LoadedNativePolicy::parse(text.as_bytes()).unwrap())
    }
}

impl PolicySource for PackWithHosts {
    fn policy(&self, _: &PolicyChoice) -> cordon_governor::Result<Arc<PolicyInForce>> {
        Ok(Arc::new(PolicyInForce::Native(self.0.clone())))
    }
    fn compiled(
        &self,
        policy: &LoadedNativePolicy,
        context: &Context,
    ) -> cordon_governor::Result<Arc<CompiledPolicy>> {
        policies::compile(policy, context).map(Arc::new)
    }
    fn cedar(
        &self,
        policy: &CedarPolicyFile,
        context: &Context,
    ) -> cordon_governor::Result<Arc<CedarEngine>> {
        policies::validate_cedar(policy, context).map(Arc::new)
    }
}

#[test]
fn a_hardened_install_with_a_host_list_is_checkpointed_and_limited_to_the_list() {
    let source = PackWithHosts::new("[registry.npmjs.org]");
    let hardened = analyse(&request("npm install", true), &source).unwrap();
    assert_eq!(
        hardened.decision().outcome,
        Outcome::AllowWithCheckpoint,
        "{}",
        hardened.decision().sentence
    );
    let list = HostList::parse(["registry.npmjs.org"]).unwrap();
    assert_eq!(hardened.egress.grant, NetworkGrant::Hosts(list.clone()));
    assert_eq!(hardened.egress.commands[0].hosts, Some(list));
    // The control: a local run enforces no list, so the network rules still ask.
    let local = analyse(&request("npm install", false), &source).unwrap();
    assert_eq!(local.decision().outcome, Outcome::Ask);
    // A publish is not an install: it asks in hardened mode too.
    let publish = analyse(&request("npm publish", true), &source).unwrap();
    assert_eq!(publish.decision().outcome, Outcome::Ask);
    // The pack as shipped lists no hosts: the install asks, and would get the host's network.
    let shipped = analyse(&request("npm install", true), &Recording::default()).unwrap();
    assert_eq!(shipped.decision().outcome, Outcome::Ask);
    assert_eq!(shipped.egress.grant, NetworkGrant::Full);
}

#[test]
fn loopback_only_network_is_the_runs_own_in_hardened_mode_and_asked_in_local_mode() {
    let source = Recording::default();
    let text = "python3 -m http.server 8000 & sleep 1; curl -s http://127.0.0.1:8000/ | head";
    let hardened = analyse(&request(text, true), &source).unwrap();
    let decision = hardened.decision();
    assert_eq!(decision.outcome, Outcome::Allow, "{}", decision.sentence);
    assert_eq!(
        decision.sentence,
        "Allowed (hardened mode): each of the 4 commands is allowed, and the network they use reaches only the run's own loopback, which the sandbox keeps private."
    );
    assert_eq!(hardened.egress.grant, NetworkGrant::Loopback);
    // The control: a local run reaches the host's loopback, so it asks.
    let local = analyse(&request(text, false), &source).unwrap();
    assert_eq!(local.decision().outcome, Outcome::Ask);
    // Loopback and another host: the host's network, asked in both modes.
    let mixed = "curl -s localhost:8000 && curl -s https://example.com";
    let hardened = analyse(&request(mixed, true), &source).unwrap();
    assert_eq!(hardened.decision().outcome, Outcome::Ask);
    assert_eq!(hardened.egress.grant, NetworkGrant::Full);
    // A host daemon's socket is reachable by path whatever the namespace: asked.
    let socket = "curl --unix-socket /var/run/docker.sock http://localhost/containers/json";
    let hardened = analyse(&request(socket, true), &source).unwrap();
    assert_eq!(hardened.decision().outcome, Outcome::Ask);
    assert_eq!(hardened.egress.grant, NetworkGrant::Full);
}

#[test]
fn a_hardened_judgement_assumes_the_envelope_and_local_mode_asks() {
    let source = Recording::default();
    for (text, hardened_outcome) in [
        ("python3 -c 'print(1)'", Outcome::AllowWithCheckpoint),
        ("node -e 'x()'", Outcome::AllowWithCheckpoint),
        ("frobnicate --all", Outcome::AllowWithCheckpoint),
        ("find . -name '*.rs' | xargs grep foo", Outcome::Allow),
        (
            "echo 'echo hi' > s.sh && bash s.sh",
            Outcome::AllowWithCheckpoint,
        ),
    ] {
        let hardened = analyse(&request(text, true), &source).unwrap();
        assert_eq!(
            hardened.decision().outcome,
            hardened_outcome,
            "{text}: {}",
            hardened.decision().sentence
        );
        let assumed = hardened.facts.enforcement;
        assert!(assumed.confines(), "{text}: {assumed:?}");
        assert!(
            hardened
                .facts
                .commands
                .iter()
                .all(|c| c.enforcement == assumed),
            "{text}"
        );
        // The control: the same text in local mode asks, and assumes nothing.
        let local = analyse(&request(text, false), &source).unwrap();
        assert_eq!(local.decision().outcome, Outcome::Ask, "{text}");
        assert_eq!(local.facts.enforcement.mode(), "local");
    }
}

#[test]
fn what_the_envelope_cannot_bound_still_asks_in_hardened_mode() {
    let source = Recording::default();
    for text in [
        "curl https://example.com/x",
        "git push",
        "touch /home/agent/notes",
        "npm publish",
        "sudo ls",
    ] {
        let hardened = analyse(&request(text, true), &source).unwrap();
        assert_ne!(
            hardened.decision().outcome,
            Outcome::Allow,
            "{text}: {}",
            hardened.decision().sentence
        );
        assert_ne!(
            hardened.decision().outcome,
            Outcome::AllowWithCheckpoint,
            "{text}"
        );
    }
    // What the pack denies stays denied.
    let denied = analyse(&request("cat ~/.ssh/id_rsa", true), &source).unwrap();
    assert_eq!(denied.decision().outcome, Outcome::Deny);
}

#[test]
fn an_envelope_that_reaches_a_host_confines_nothing_unseen() {
    // With a host list on `npm install`, a text that installs reaches a host, so an unknown
    // program beside it could push there: it asks, as in local mode.
    let source = PackWithHosts::new("[registry.npmjs.org]");
    let text = "npm install && frobnicate --all";
    let hardened = analyse(&request(text, true), &source).unwrap();
    assert_eq!(
        hardened.decision().outcome,
        Outcome::Ask,
        "{}",
        hardened.decision().sentence
    );
    assert!(!hardened.facts.enforcement.confines());
    assert_eq!(hardened.facts.enforcement.mode(), "hardened");
    // The control: without the install the envelope reaches no host, and it runs.
    let alone = analyse(&request("frobnicate --all", true), &source).unwrap();
    assert_eq!(alone.decision().outcome, Outcome::AllowWithCheckpoint);
}

#[test]
fn a_file_tool_is_judged_unconfined_even_for_a_hardened_request() {
    let source = Recording::default();
    let call = cordon_governor::FileToolCall {
        tool: "Write".into(),
        access: cordon_policy::file_tools::ToolAccess::Write,
        target: "/home/agent/notes".into(),
        resolved: None,
    };
    let request = AnalysisRequest {
        written: Written::FileTool(call),
        ..request("", true)
    };
    let analysis = analyse(&request, &source).unwrap();
    assert_eq!(analysis.facts.enforcement.mode(), "local");
    assert_ne!(analysis.decision().outcome, Outcome::Allow);
}
