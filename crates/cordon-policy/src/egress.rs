//! Which hosts a command may reach: the policy side of the egress allowlist.
//!
//! A native rule names hosts with `hosts:`; a command gets the hosts of every rule that matched
//! it and did not deny it. A CSC profile names them in `allowed_egress_hosts` (which CSC itself
//! only uses to classify effects), and a contract command that declares `network: allowlisted`
//! gets that list. Either way the result is a [`HostList`], which hardened mode enforces with
//! cordon-sandbox's egress proxy (`Network::Proxied`); the decision record names it.
//!
//! The default pack names no hosts: a user adds the registries their own tools use, which
//! [`crate::detect`] proposes.

use cordon_core::hosts::{HostError, HostList};
use cordon_core::{NetworkMode, Outcome, Policy};

use crate::native::{CommandJudgement, Decision, NativePolicy};

/// What network a decided command gets in hardened mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkGrant {
    /// No network.
    Deny,
    /// Only these hosts, through the egress proxy. An empty list refuses every connection.
    Hosts(HostList),
    /// The host's network, unfiltered.
    Full,
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
/// command that uses it has hosts from its rules → the union of those; otherwise `Full` (what
/// hardened mode gave a command that uses the network before host lists existed).
pub fn network_for_decision(policy: &NativePolicy, decision: &Decision) -> NetworkGrant {
    let mut hosts = HostList::default();
    let mut any_network = false;
    for command in decision.commands.iter().filter(|c| c.facts.network) {
        any_network = true;
        match hosts_for_command(policy, command) {
            Some(h) => hosts = hosts.union(&h),
            None => return NetworkGrant::Full,
        }
    }
    if any_network {
        NetworkGrant::Hosts(hosts)
    } else {
        NetworkGrant::Deny
    }
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
        let loaded = LoadedNativePolicy::parse(POLICY.as_bytes()).unwrap();
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
}
