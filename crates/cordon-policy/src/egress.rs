//! Which hosts a command may reach: the policy side of the egress allowlist.
//!
//! A native rule names hosts with `hosts:`; a command gets the hosts of every rule that matched
//! it and did not deny it. A CSC profile names them in `allowed_egress_hosts` (which CSC itself
//! only uses to classify effects), and a contract command that declares `network: allowlisted`
//! gets that list. Either way the result is a [`HostList`], which hardened mode enforces with
//! cordon-sandbox's egress proxy (`Network::Proxied`); the decision record names it.
//!
//! **Hardened mode answers the network question.** A rule that asks only because a command uses
//! the network ([`asks_only_about_network`]: `network: true`, `hosts_outside`, `effects:
//! [fetch_external]`, nothing else) asks whether the command may reach the world. In hardened
//! mode a command that another rule grants a non-empty host list reaches those hosts and nothing
//! else, so such a rule has been answered for it: [`decide_hardened`] judges the text again
//! without those rules when every command they asked about has a list. A push, a publish or a
//! deploy is asked by rules about commands and effects, which a list never answers. In local mode
//! nothing enforces a list, so nothing is answered.
//!
//! The default pack names no hosts: a user adds the registries their own tools use, which
//! [`crate::detect`] proposes.

use cordon_core::hosts::{HostError, HostList};
use cordon_core::{NetworkMode, Outcome, Policy};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::enforcement::Enforcement;
use crate::facts::{self, loopback, CommandFacts, Facts};
use crate::native::{CommandJudgement, CompiledPolicy, Decision, NativePolicy, Rule, RuleOutcome};

/// What network a decided command gets in hardened mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "network", content = "hosts", rename_all = "snake_case")]
pub enum NetworkGrant {
    /// No network.
    Deny,
    /// No network but the run's own loopback: every command that uses the network stays on
    /// loopback ([`crate::facts::loopback`]). A hardened run whose network is denied gets a
    /// loopback of its own, so the contract that runs declares `network: deny`.
    Loopback,
    /// Only these hosts, through the egress proxy. An empty list refuses every connection.
    Hosts(HostList),
    /// The host's network, unfiltered.
    Full,
}

/// The network side of a decision: what each command's rules grant, and what the whole text gets
/// in hardened mode. `cordon explain` shows it; a hardened `cordon exec` puts `grant` in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgressJudgement {
    /// One entry per judged command, in order.
    pub commands: Vec<CommandHosts>,
    /// What the text gets in hardened mode ([`network_for_decision`]).
    pub grant: NetworkGrant,
}

/// The hosts one command is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandHosts {
    /// The union of the `hosts:` of the rules that matched it and did not deny it; `None` when
    /// none of them names hosts ([`hosts_for_command`]).
    pub hosts: Option<HostList>,
    /// Rules that asked only because the command uses the network, answered by `hosts` in
    /// hardened mode ([`decide_hardened`]); they are not among the decision's hits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<String>,
}

/// The hosts the rules that judged `command` grant: the union of `hosts:` over every rule that
/// matched and did not deny. `None` when no such rule names hosts.
pub fn hosts_for_command(policy: &NativePolicy, command: &CommandJudgement) -> Option<HostList> {
    let mut granted: Option<HostList> = None;
    for hit in command.hits.iter().filter(|h| h.outcome != Outcome::Deny) {
        let hosts = policy
            .rules
            .iter()
            .find(|r| r.id == hit.rule)
            .and_then(|r| r.hosts.as_ref());
        if let Some(hosts) = hosts {
            granted = Some(match granted {
                Some(g) => g.union(hosts),
                None => hosts.clone(),
            });
        }
    }
    granted
}

/// The network a whole decision's commands get: no command uses the network → `Deny`; every
/// command that uses it stays on loopback, and no rule lists hosts for it → `Loopback`; every
/// other command that uses it has hosts from its rules → the union of those; otherwise `Full`
/// (what hardened mode gave a command that uses the network before host lists existed).
pub fn network_for_decision(policy: &NativePolicy, decision: &Decision) -> NetworkGrant {
    let mut hosts = HostList::default();
    let mut any_network = false;
    let mut loopback = false;
    for command in decision.commands.iter().filter(|c| c.facts.network) {
        let listed = hosts_for_command(policy, command);
        // A rule that lists hosts for a loopback command (`127.0.0.1:8080`) means the host's
        // service, which only the proxy reaches.
        if listed.is_none() && stays_on_loopback(&command.facts) {
            loopback = true;
            continue;
        }
        any_network = true;
        match listed {
            Some(h) => hosts = hosts.union(&h),
            None => return NetworkGrant::Full,
        }
    }
    match (any_network, loopback) {
        (true, _) => NetworkGrant::Hosts(hosts),
        (false, true) => NetworkGrant::Loopback,
        (false, false) => NetworkGrant::Deny,
    }
}

/// Whether every network use of the command stays on loopback (its facts carry the tag
/// [`loopback::LOOPBACK`]).
fn stays_on_loopback(facts: &CommandFacts) -> bool {
    facts.tags.iter().any(|t| t == loopback::LOOPBACK)
}

/// A CSC profile's `allowed_egress_hosts` as a host list; a malformed entry is an error naming
/// it (the profile is refused, not read as a narrower or wider list).
pub fn csc_allowlist(policy: &Policy) -> Result<HostList, HostError> {
    HostList::parse(&policy.allowed_egress_hosts)
}

/// The network a CSC contract command gets: `allowlisted` maps onto the profile's list.
pub fn csc_network(mode: NetworkMode, policy: &Policy) -> Result<NetworkGrant, HostError> {
    Ok(match mode {
        NetworkMode::Deny => NetworkGrant::Deny,
        NetworkMode::Allowlisted => NetworkGrant::Hosts(csc_allowlist(policy)?),
        NetworkMode::Full => NetworkGrant::Full,
    })
}

/// Whether `rule` asks only because a command uses the network: its outcome is ask, it grants no
/// hosts itself, and every condition of its `match` is one of `network: true`, `hosts_outside`
/// and `effects` naming only `fetch_external`. A condition this function does not know (one a
/// later format adds) makes the answer no, which keeps the rule.
pub fn asks_only_about_network(rule: &Rule) -> bool {
    if rule.outcome != RuleOutcome::Ask || rule.hosts.is_some() {
        return false;
    }
    let Ok(Value::Object(conditions)) = serde_json::to_value(&rule.matches) else {
        return false;
    };
    !conditions.is_empty()
        && conditions.iter().all(|(key, value)| match key.as_str() {
            "network" => value == &Value::Bool(true),
            "hosts_outside" => true,
            "effects" => value.as_array().is_some_and(|effects| {
                !effects.is_empty() && effects.iter().all(|e| e == "fetch_external")
            }),
            _ => false,
        })
}

/// The network side of `decision`, with nothing answered (local mode, or nothing to answer).
pub fn judge(policy: &NativePolicy, decision: &Decision) -> EgressJudgement {
    EgressJudgement {
        commands: decision
            .commands
            .iter()
            .map(|c| CommandHosts {
                hosts: hosts_for_command(policy, c),
                answered: Vec::new(),
            })
            .collect(),
        grant: network_for_decision(policy, decision),
    }
}

/// The network side of a decision by an engine whose rules name no hosts (Cedar, a CSC profile
/// judging a synthesized contract): no command has a list, and a text that uses the network gets
/// the host's.
pub fn without_lists(facts: &crate::facts::Facts) -> EgressJudgement {
    EgressJudgement {
        commands: vec![CommandHosts::default(); facts.commands.len()],
        grant: if facts.commands.iter().any(|c| c.network) {
            NetworkGrant::Full
        } else {
            NetworkGrant::Deny
        },
    }
}

/// The decision for a hardened run, and its network side. `decision` is the text judged under
/// `compiled` (`policy` compiled for the workspace); `decide` judges the same facts under another
/// compiled policy.
///
/// When every command that a rule [asking only about the network](asks_only_about_network)
/// matched is granted a non-empty host list, the text is judged again without those rules, and
/// that decision stands: the proxy enforces what they asked about. Otherwise (a command that
/// would reach the network with no list, or an empty one, or a policy that cannot be used)
/// `decision` stands whole.
pub fn decide_hardened(
    policy: &NativePolicy,
    compiled: &CompiledPolicy,
    decision: Decision,
    decide: impl FnOnce(&CompiledPolicy) -> Decision,
) -> (Decision, EgressJudgement) {
    let Some(answered) = answered_rules(policy, &decision) else {
        let judgement = judge(policy, &decision);
        return (decision, judgement);
    };
    if compiled.unusable().is_some() {
        let judgement = judge(policy, &decision);
        return (decision, judgement);
    }
    let mut without = compiled.clone();
    without
        .rules
        .retain(|r| !answered.iter().flatten().any(|id| *id == r.id));
    let decision = decide(&without);
    let mut judgement = judge(policy, &decision);
    for (command, answered) in judgement.commands.iter_mut().zip(answered) {
        command.answered = answered;
    }
    (decision, judgement)
}

/// Judges facts of a hardened run with the enforcement it gets (docs/front-end.md,
/// "Enforcement"). An envelope that reaches no host confines whatever the text does, so the text
/// is judged assuming so; one that reaches a host (the policy lists hosts for a command of the
/// text) confines nothing unseen, since what cordon cannot see into could push to it. Which holds
/// depends on the decision (the host lists come from the rules that matched), so the text is
/// first judged reaching the network, and the confined judgement stands only if its own network
/// reaches no host either. `facts` ends up recording the assumption that stands.
pub fn judge_confined(
    facts: &mut Facts,
    judge: impl Fn(&Facts) -> (Decision, EgressJudgement),
) -> (Decision, EgressJudgement) {
    let hardened = |reaches_network| Enforcement::Hardened { reaches_network };
    if !facts.commands.iter().any(|c| c.network) {
        // No command uses the network, so its grant is none whatever the rules say: one
        // judgement, confined.
        facts::assume(facts, hardened(false));
        return judge(facts);
    }
    facts::assume(facts, hardened(true));
    let open = judge(facts);
    if reaches_a_host(&open.1.grant) {
        return open;
    }
    let mut confined = facts.clone();
    facts::assume(&mut confined, hardened(false));
    let judged = judge(&confined);
    if reaches_a_host(&judged.1.grant) {
        return open;
    }
    *facts = confined;
    judged
}

/// Whether a text's network in hardened mode reaches any host (its own loopback is none).
fn reaches_a_host(grant: &NetworkGrant) -> bool {
    match grant {
        NetworkGrant::Deny | NetworkGrant::Loopback => false,
        NetworkGrant::Hosts(hosts) => !hosts.is_empty(),
        NetworkGrant::Full => true,
    }
}

/// For each command of `decision`, the rules asking only about the network that matched it; `None`
/// when none matched any command, or some command they matched has no non-empty host list.
fn answered_rules(policy: &NativePolicy, decision: &Decision) -> Option<Vec<Vec<String>>> {
    let answerable: Vec<&str> = policy
        .rules
        .iter()
        .filter(|r| asks_only_about_network(r))
        .map(|r| r.id.as_str())
        .collect();
    let mut any = false;
    let mut answered = Vec::with_capacity(decision.commands.len());
    for command in &decision.commands {
        let asked: Vec<String> = command
            .hits
            .iter()
            .filter(|hit| answerable.contains(&hit.rule.as_str()))
            .map(|hit| hit.rule.clone())
            .collect();
        if !asked.is_empty() {
            let listed = hosts_for_command(policy, command).is_some_and(|h| !h.is_empty());
            if !listed {
                return None;
            }
            any = true;
        }
        answered.push(asked);
    }
    any.then_some(answered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::{decide, CompiledPolicy, Context, LoadedNativePolicy};
    use crate::shell::Session;

    const POLICY: &str = r#"
cordon_policy: 1
name: egress-test
default: ask
rules:
  - id: npm-install
    outcome: allow_with_checkpoint
    reason: Dependency installs may reach the npm registry.
    match: {command: ["npm install"]}
    hosts: ["registry.npmjs.org"]
  - id: npm-mirror
    outcome: allow_with_checkpoint
    reason: The team's mirror too.
    match: {command: ["npm install"]}
    hosts: ["npm.mirror.example:8443"]
  - id: no-publish
    outcome: deny
    reason: Publishing is a person's call.
    match: {command: ["npm publish"]}
    hosts: ["registry.npmjs.org"]
  - id: curl
    outcome: ask
    reason: Downloads are asked.
    match: {program: ["curl"]}
"#;

    fn judged(text: &str) -> (NativePolicy, Decision) {
        judged_under(POLICY, text)
    }

    fn judged_under(policy: &str, text: &str) -> (NativePolicy, Decision) {
        let loaded = LoadedNativePolicy::parse(policy.as_bytes()).unwrap();
        let session = Session {
            cwd: "/work/ws".into(),
            home: "/home/u".into(),
        };
        let context = Context {
            workspace: "/work/ws".into(),
            home: "/home/u".into(),
        };
        let compiled = CompiledPolicy::compile(&loaded, &context).unwrap();
        let (_, decision) = decide(text, &session, &compiled);
        (loaded.policy, decision)
    }

    #[test]
    fn a_command_gets_the_hosts_of_every_rule_that_allowed_it() {
        let (policy, decision) = judged("npm install");
        let hosts = hosts_for_command(&policy, &decision.commands[0]).unwrap();
        assert_eq!(
            hosts.to_strings(),
            ["npm.mirror.example:8443", "registry.npmjs.org:443"]
        );
        assert_eq!(
            network_for_decision(&policy, &decision),
            NetworkGrant::Hosts(hosts)
        );
    }

    #[test]
    fn a_deny_rule_grants_nothing_and_unlisted_network_use_stays_full() {
        let (policy, decision) = judged("npm publish");
        assert_eq!(hosts_for_command(&policy, &decision.commands[0]), None);
        let (policy, decision) = judged("curl https://example.org");
        assert_eq!(network_for_decision(&policy, &decision), NetworkGrant::Full);
        let (policy, decision) = judged("ls");
        assert_eq!(network_for_decision(&policy, &decision), NetworkGrant::Deny);
    }

    #[test]
    fn a_bad_host_entry_refuses_the_policy_with_the_entry_named() {
        let text = POLICY.replace(
            "\"registry.npmjs.org\"]\n  - id: npm-mirror",
            "\"*\"]\n  - id: npm-mirror",
        );
        let err = LoadedNativePolicy::parse(text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("`*` alone would allow every host"),
            "{err}"
        );
    }

    #[test]
    fn csc_allowlisted_maps_onto_the_profiles_egress_hosts() {
        let mut policy: Policy = serde_json::from_value(serde_json::json!({
            "policy_schema_version": "csc.policy.v0.1",
            "name": "p",
            "allow_commands": ["npm"],
            "allowed_effect_types": ["fetch_external"],
            "allowed_risk_classes": ["low"],
            "max_timeout_sec": 60,
            "network": "allowlisted",
            "allow_secret_refs": false,
            "allowed_cwd_prefixes": ["/w"],
            "allowed_read_prefixes": ["/w"],
            "allowed_egress_hosts": ["registry.npmjs.org", "api.stripe.com:443"]
        }))
        .unwrap();
        assert_eq!(
            csc_network(NetworkMode::Allowlisted, &policy),
            Ok(NetworkGrant::Hosts(
                HostList::parse(["api.stripe.com", "registry.npmjs.org"]).unwrap()
            ))
        );
        assert_eq!(
            csc_network(NetworkMode::Deny, &policy),
            Ok(NetworkGrant::Deny)
        );
        assert_eq!(
            csc_network(NetworkMode::Full, &policy),
            Ok(NetworkGrant::Full)
        );
        policy.allowed_egress_hosts = vec!["https://registry.npmjs.org".into()];
        assert!(csc_network(NetworkMode::Allowlisted, &policy).is_err());
        policy.allowed_egress_hosts = Vec::new();
        assert_eq!(
            csc_network(NetworkMode::Allowlisted, &policy),
            Ok(NetworkGrant::Hosts(HostList::default()))
        );
    }

    /// The default pack with `hosts` on its npm-install rule (`None`: as shipped), judged for a
    /// hardened run and for a local one.
    fn pack_judged(hosts: Option<&str>, text: &str) -> ((Decision, EgressJudgement), Decision) {
        let mut pack = crate::native::DEFAULT_PACK.to_string();
        if let Some(hosts) = hosts {
            pack = pack.replace(
                "      command: [\"npm install\", \"npm i\", \"npm ci\"]\n      cwd: [\"{workspace}/**\"]\n",
                &format!("      command: [\"npm install\", \"npm i\", \"npm ci\"]\n      cwd: [\"{{workspace}}/**\"]\n    hosts: {hosts}\n"),
            );
            assert_ne!(
                pack,
                crate::native::DEFAULT_PACK,
                "the pack's npm-install rule moved"
            );
        }
        let loaded = LoadedNativePolicy::parse(pack.as_bytes()).unwrap();
        let session = Session {
            cwd: "/work/ws".into(),
            home: "/home/u".into(),
        };
        let context = Context {
            workspace: "/work/ws".into(),
            home: "/home/u".into(),
        };
        let compiled = CompiledPolicy::compile(&loaded, &context).unwrap();
        let (facts, local) = decide(text, &session, &compiled);
        let knowledge = crate::knowledge::Knowledge::builtin();
        let hardened = decide_hardened(&loaded.policy, &compiled, local.clone(), |p| {
            crate::native::decide_facts(&facts, p, &session, knowledge)
        });
        (hardened, local)
    }

    fn rule(yaml: &str) -> Rule {
        let value = crate::yaml::parse(yaml).unwrap();
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn only_an_ask_about_network_use_alone_is_answerable() {
        let answerable = [
            "{id: r, outcome: ask, reason: x, match: {network: true}}",
            "{id: r, outcome: ask, reason: x, match: {network: true, hosts_outside: []}}",
            "{id: r, outcome: ask, reason: x, match: {hosts_outside: [github.com]}}",
            "{id: r, outcome: ask, reason: x, match: {effects: [fetch_external]}}",
            "{id: r, outcome: ask, reason: x, match: {network: true}, unless: {command: [curl]}}",
        ];
        for yaml in answerable {
            assert!(asks_only_about_network(&rule(yaml)), "{yaml}");
        }
        let kept = [
            // About more than the network: a deploy, a command, a host it names.
            "{id: r, outcome: ask, reason: x, match: {effects: [deploy, fetch_external]}}",
            "{id: r, outcome: ask, reason: x, match: {network: true, command: [git push]}}",
            "{id: r, outcome: ask, reason: x, match: {network: true, tags_any: [publish]}}",
            "{id: r, outcome: ask, reason: x, match: {hosts: [evil.example]}}",
            "{id: r, outcome: ask, reason: x, match: {network: false}}",
            "{id: r, outcome: ask, reason: x, match: {effects: []}}",
            "{id: r, outcome: ask, reason: x, match: {}}",
            // Not an ask, or one that grants hosts itself.
            "{id: r, outcome: deny, reason: x, match: {network: true}}",
            "{id: r, outcome: allow, reason: x, match: {network: true}}",
            "{id: r, outcome: ask, reason: x, match: {network: true}, hosts: [a.example]}",
        ];
        for yaml in kept {
            assert!(!asks_only_about_network(&rule(yaml)), "{yaml}");
        }
    }

    #[test]
    fn a_listed_install_is_checkpointed_in_hardened_mode_and_asked_in_local_mode() {
        let ((hardened, egress), local) = pack_judged(Some("[registry.npmjs.org]"), "npm install");
        assert_eq!(
            hardened.outcome,
            Outcome::AllowWithCheckpoint,
            "{hardened:?}"
        );
        let hits: Vec<&str> = hardened.commands[0]
            .hits
            .iter()
            .map(|h| h.rule.as_str())
            .collect();
        assert_eq!(hits, ["npm-install"]);
        assert_eq!(egress.commands[0].answered, ["network", "external-fetch"]);
        let list = HostList::parse(["registry.npmjs.org"]).unwrap();
        assert_eq!(egress.grant, NetworkGrant::Hosts(list));
        // The control: the same text, judged for a local run, which enforces no list.
        assert_eq!(local.outcome, Outcome::Ask, "{local:?}");
    }

    #[test]
    fn without_a_list_or_with_an_empty_one_the_install_still_asks() {
        let ((shipped, egress), _) = pack_judged(None, "npm install");
        assert_eq!(shipped.outcome, Outcome::Ask);
        assert_eq!(egress.grant, NetworkGrant::Full);
        assert!(egress.commands[0].answered.is_empty());
        let ((empty, egress), _) = pack_judged(Some("[]"), "npm install");
        assert_eq!(empty.outcome, Outcome::Ask);
        assert_eq!(egress.grant, NetworkGrant::Hosts(HostList::default()));
    }

    #[test]
    fn a_list_answers_nothing_about_pushes_publishes_deploys_or_unlisted_commands() {
        let list = Some("[registry.npmjs.org]");
        for text in [
            "npm publish",
            "git push",
            "kubectl apply -f x.yaml",
            "curl https://registry.npmjs.org/",
            // One unlisted command keeps the network rules for the whole text.
            "npm install && curl https://example.org",
            "npm install && git push",
        ] {
            let ((decision, _), local) = pack_judged(list, text);
            assert_eq!(decision.outcome, Outcome::Ask, "{text}: {decision:?}");
            assert_eq!(local.outcome, Outcome::Ask, "{text}");
        }
        let ((mixed, egress), _) = pack_judged(list, "npm install && curl https://example.org");
        assert_eq!(egress.grant, NetworkGrant::Full);
        assert!(mixed
            .commands
            .iter()
            .any(|c| c.hits.iter().any(|h| h.rule == "network")));
        // A command with no network beside the install keeps its own judgement.
        let ((both, egress), _) = pack_judged(list, "npm install && npm test");
        assert_eq!(both.outcome, Outcome::AllowWithCheckpoint, "{both:?}");
        assert_eq!(
            egress.grant,
            NetworkGrant::Hosts(HostList::parse(["registry.npmjs.org"]).unwrap())
        );
    }

    #[test]
    fn loopback_alone_is_the_runs_own_unless_a_rule_lists_the_hosts_service() {
        let (_, own) = pack_judged(None, "curl -s http://127.0.0.1:8080/health");
        let pack = LoadedNativePolicy::default_pack().unwrap().policy;
        assert_eq!(network_for_decision(&pack, &own), NetworkGrant::Loopback);
        let (_, mixed) = pack_judged(None, "curl -s localhost:8080 && curl https://example.com");
        assert_eq!(network_for_decision(&pack, &mixed), NetworkGrant::Full);
        // A list for the loopback command names the host's service: the proxy reaches it.
        let listed = r#"
cordon_policy: 1
name: listed-loopback
default: ask
rules:
  - id: local-api
    outcome: allow
    reason: the host's own API
    match: {program: [curl]}
    hosts: ["127.0.0.1:8080"]
"#;
        let (policy, decision) = judged_under(listed, "curl -s http://127.0.0.1:8080/health");
        assert_eq!(
            network_for_decision(&policy, &decision),
            NetworkGrant::Hosts(HostList::parse(["127.0.0.1:8080"]).unwrap())
        );
    }

    #[test]
    fn a_deny_still_denies_with_a_list() {
        let ((decision, _), _) = pack_judged(
            Some("[registry.npmjs.org]"),
            "npm install && cat ~/.ssh/id_rsa",
        );
        assert_eq!(decision.outcome, Outcome::Deny, "{decision:?}");
    }
}
