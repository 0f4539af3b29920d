//! What the pipeline is asked to run: a contract and the decision made on it.

use cordon_core::contract::NetworkMode;
use cordon_core::hosts::HostList;
use cordon_core::{Contract, Outcome};
use cordon_policy::egress::NetworkGrant;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;
use crate::error::{Error, Result};
use crate::secrets::{self, SecretGrants};

/// A redirect as recorded: what the agent asked for and what ran instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedirectRecord {
    pub original: Vec<String>,
    pub replacement: Vec<String>,
}

/// What the agent wrote and what the front end made of it (recorded as `x-cordon.front_end`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontEnd {
    /// The shell text, or the argv shell-quoted, exactly as the agent gave it.
    pub text: String,
    /// `shell` for `--shell TEXT`, `argv` for `-- ARGV…`.
    pub request: &'static str,
    /// How the contract that runs starts: `argv` (no shell) or `shell` (`bash -c TEXT`).
    pub launch: cordon_policy::launch::Launch,
    /// The per-command contract the policy judged (absent when the text cannot be one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract: Option<Contract>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract_sha256: Option<String>,
    /// Why there is no synthesized contract.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthesized_contract_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<RedirectRecord>,
    /// The cordon session the run belongs to (`--session` or `CORDON_SESSION`), also the
    /// contract's `actor.session_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Paths the text names that did not exist when it was judged: a hardened run is granted
    /// them through their nearest existing directory, which `synthesized_contract` shows and
    /// the policy judged too (`cordon_policy::facts::grant_creations`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
}

/// A contract that may run, and the decision made on it.
///
/// A CSC contract judged by the CSC engine (`cordon run`) has no front end. For `cordon exec` the
/// contract is the one that *runs* (`cordon_policy::launch`), and what the agent wrote and the
/// per-command contract it was judged on travel in [`FrontEnd`] into the receipt and the record.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub contract: Contract,
    pub contract_sha256: String,
    pub decision: Decision,
    pub front_end: Option<FrontEnd>,
    /// The hosts the decision lets a command that declares `network: allowlisted` reach: the CSC
    /// profile's `allowed_egress_hosts`, or the host list a native policy's rules grant. Hardened
    /// mode enforces it with the egress proxy; `None` when no command declares `allowlisted`.
    pub allowlist: Option<HostList>,
    /// The secrets the decision grants to the contract's commands: names and rules, resolved
    /// only after the decision and any approval (crate::secrets).
    pub secrets: SecretGrants,
}

impl RunRequest {
    /// A request whose commands are granted no secret and no host list.
    pub fn new(contract: Contract, decision: Decision, front_end: Option<FrontEnd>) -> RunRequest {
        RunRequest {
            contract_sha256: contract.sha256(),
            contract,
            decision,
            front_end,
            allowlist: None,
            secrets: SecretGrants::default(),
        }
    }

    /// Puts a decision's network in force for a hardened run. With a host list, every command
    /// that uses the network declares `network: allowlisted` (the contract that runs says what is
    /// enforced) and the list is the request's. With only loopback, every command declares
    /// `network: deny`: the sandbox gives a run with no network a loopback of its own, so the
    /// host's loopback services stay out of reach. `Deny` and `Full` leave the contract as it is.
    #[must_use = "the request with the network in force is what must run"]
    pub fn with_network(mut self, grant: &NetworkGrant) -> RunRequest {
        let declared = match grant {
            NetworkGrant::Hosts(list) => {
                self.allowlist = Some(list.clone());
                NetworkMode::Allowlisted
            }
            NetworkGrant::Loopback => NetworkMode::Deny,
            NetworkGrant::Deny | NetworkGrant::Full => return self,
        };
        for command in &mut self.contract.commands {
            if command.network != NetworkMode::Deny {
                command.network = declared;
            }
        }
        self.contract_sha256 = self.contract.sha256();
        self
    }

    /// The host list in force for a run in `mode`: a local run enforces none.
    pub fn allowlist_in_force(&self, mode: crate::Mode) -> Option<&HostList> {
        match mode {
            crate::Mode::Hardened => self.allowlist.as_ref(),
            crate::Mode::Local => None,
        }
    }

    /// This request with the secrets its decision grants.
    pub fn with_secrets(mut self, secrets: SecretGrants) -> RunRequest {
        self.secrets = secrets;
        self
    }

    /// Whether the write scope must be snapshotted before the run starts.
    pub fn snapshot_requested(&self) -> bool {
        self.decision.outcome == Outcome::AllowWithCheckpoint
    }

    /// Every path pattern the run may write: what a snapshot covers.
    pub fn write_scope(&self) -> Vec<String> {
        let mut scope: Vec<String> = Vec::new();
        for path in self.contract.commands.iter().flat_map(|c| &c.write_paths) {
            if !scope.contains(path) {
                scope.push(path.clone());
            }
        }
        scope
    }

    /// The id of the first command: what a run blocked before any command started names.
    pub fn first_command_id(&self) -> String {
        self.contract
            .commands
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_default()
    }
}

/// A CSC contract judged by the CSC engine under a CSC profile (`cordon check`, `cordon run`):
/// the request to run it, and the CSC PolicyDecision `cordon check --json` prints. A command that
/// declares `network: allowlisted` gets the profile's `allowed_egress_hosts`; an entry that is not
/// a host cordon can enforce is invalid input, never read as a narrower or wider list.
pub fn judge_contract(
    contract: Contract,
    policy: &cordon_core::policy::LoadedPolicy,
) -> Result<(RunRequest, cordon_core::PolicyDecision)> {
    let allowlisted = contract
        .commands
        .iter()
        .any(|c| c.network == NetworkMode::Allowlisted);
    let allowlist = if allowlisted {
        let list = cordon_policy::egress::csc_allowlist(&policy.policy)
            .map_err(|e| Error::InvalidInput(format!("allowed_egress_hosts: {e}")))?;
        Some(list)
    } else {
        None
    };
    let contract_sha256 = contract.sha256();
    let judgement = cordon_policy::evaluate(&contract, &policy.policy);
    let csc = judgement.into_decision(
        &contract,
        &contract_sha256,
        policy,
        time::OffsetDateTime::now_utc(),
    );
    let mut decision = Decision::from_csc(&csc, crate::decision::PolicyRef::of_csc(policy));
    // `secret_refs` are granted by a policy that allows them; one that cannot be given as
    // written is a denial, like any other problem with the contract.
    let grants = cordon_policy::grants::contract_grants(&contract, &policy.policy)
        .map_err(|e| e.to_string())
        .and_then(secrets::checked);
    let grants = match grants {
        Ok(commands) => commands,
        Err(why) => {
            if decision.outcome != Outcome::Deny {
                decision = Decision::deny(
                    cordon_policy::native::CordonReason::SecretGrantRefused,
                    &why,
                    decision.policy,
                );
            }
            Vec::new()
        }
    };
    let request = RunRequest {
        contract,
        contract_sha256,
        decision,
        front_end: None,
        allowlist,
        secrets: SecretGrants {
            commands: grants,
            redact: true,
        },
    };
    Ok((request, csc))
}
