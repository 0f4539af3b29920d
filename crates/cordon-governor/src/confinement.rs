//! The "plan confinement" step: each contract command becomes a one-command sandbox plan and the
//! confinement it runs under (the sandbox knows nothing about contracts).
//!
//! Each command is its own sandbox run with its own scope, so one command's write scope never
//! leaks to the next. Scope patterns are reduced to their literal prefix (`/repo/**` → `/repo`),
//! which the sandbox resolves (symlinks followed, `..` refused) before granting. In hardened mode
//! the command's cwd is readable, as in CSC.
//!
//! A hardened command's network is what its contract declares: none, the host's, or
//! (`allowlisted`) the request's host list through cordon's egress proxy ([`network`]).
//!
//! This is where the policy's envelope (issue 15) replaces the per-command scopes and where
//! granted secrets (issue 20) join the command's environment: each of those changes [`plan`] and
//! nothing else.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_core::contract::{Command, NetworkMode};
use cordon_sandbox::{Confinement, Egress, Network, Plan, PlannedCommand};

use crate::mode::Mode;
use crate::request::RunRequest;

/// Names the egress proxy resolves itself instead of asking DNS, with the addresses it gives
/// them: the operator's explicit statement (`--egress-resolve`), never a default. An address
/// given here counts as listed for that name, loopback included (docs/sandbox.md).
pub type ResolverOverrides = BTreeMap<String, Vec<IpAddr>>;

/// Maps one contract command onto a one-command sandbox plan and its confinement, or says why it
/// cannot run in this mode. `resolver_overrides` go to the egress proxy of a command with a host
/// list.
pub fn plan(
    command: &Command,
    request: &RunRequest,
    mode: Mode,
    resolver_overrides: &ResolverOverrides,
) -> Result<(Plan, Confinement), String> {
    let pipeline: Vec<Vec<OsString>> = command
        .argvs()
        .map(|argv| argv.iter().map(OsString::from).collect())
        .collect();
    let policy_env: &[String] = &request.decision.policy.env_allow;
    // A name passes only when the contract asks for it and the policy permits it.
    let allowed: Vec<&str> = command
        .env_allow
        .iter()
        .filter(|n| policy_env.contains(n))
        .map(String::as_str)
        .collect();
    let env = cordon_sandbox::scrubbed_env(&allowed, |name| std::env::var_os(name));
    let planned = PlannedCommand {
        id: command.id.clone(),
        pipeline,
        cwd: PathBuf::from(&command.cwd),
        timeout: Duration::from_secs(u64::from(command.timeout_sec)),
        env,
    };
    let confinement = match mode {
        Mode::Local => Confinement::local(),
        Mode::Hardened => hardened(command, network(command, request, resolver_overrides)?),
    };
    Ok((
        Plan {
            commands: vec![planned],
        },
        confinement,
    ))
}

/// The network a hardened command runs with, as its contract declares it: none, the host's, or
/// only the request's host list, through the egress proxy.
pub fn network(
    command: &Command,
    request: &RunRequest,
    resolver_overrides: &ResolverOverrides,
) -> Result<Network, String> {
    Ok(match command.network {
        NetworkMode::Deny => Network::Deny,
        NetworkMode::Full => Network::Allow,
        NetworkMode::Allowlisted => match &request.allowlist {
            Some(list) => Network::Proxied(Egress {
                allowlist: list.clone(),
                resolver_overrides: resolver_overrides.clone(),
            }),
            None => {
                return Err(format!(
                "command {}: it declares network: allowlisted, and no host list is in force for it",
                command.id
            ))
            }
        },
    })
}

/// Hardened confinement: the command's declared scopes and cwd, and `network`.
fn hardened(command: &Command, network: Network) -> Confinement {
    let mut confinement = Confinement::hardened();
    confinement.network = network;
    confinement.read_paths = command
        .read_paths
        .iter()
        .map(|p| literal_prefix(p))
        .collect();
    confinement.read_paths.push(PathBuf::from(&command.cwd));
    confinement.write_paths = command
        .write_paths
        .iter()
        .map(|p| literal_prefix(p))
        .collect();
    confinement
}

/// Why this kernel cannot run hardened mode, if it cannot: `cordon doctor`'s test without its
/// namespace probes (Landlock ABI and seccomp filters are what hardened mode refuses to run
/// without).
pub fn hardened_unavailable() -> Option<String> {
    let abi = cordon_sandbox::landlock_abi();
    if abi < cordon_sandbox::MIN_LANDLOCK_ABI {
        return Some(format!(
            "this kernel offers Landlock ABI {abi}, below the {} it needs",
            cordon_sandbox::MIN_LANDLOCK_ABI
        ));
    }
    if !Path::new("/proc/sys/kernel/seccomp/actions_avail").exists() {
        return Some("this kernel has no seccomp filters".to_string());
    }
    None
}

/// Refuses a run whose granted scopes would expose the private key (read or write) or the
/// journal (write). Checked in both modes; only hardened mode makes the kernel enforce it.
pub fn check_scopes(
    request: &RunRequest,
    mode: Mode,
    key_file: Option<&Path>,
    journal_dir: Option<&Path>,
) -> Result<(), String> {
    let resolve = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for command in &request.contract.commands {
        let mut readable: Vec<PathBuf> = command
            .read_paths
            .iter()
            .map(|p| resolve(&literal_prefix(p)))
            .collect();
        readable.push(resolve(Path::new(&command.cwd)));
        if mode == Mode::Hardened {
            // The sandbox grants these to every hardened run: a key below one is readable inside.
            readable.extend(
                cordon_sandbox::SYSTEM_DIRS
                    .iter()
                    .map(|d| resolve(Path::new(d))),
            );
        }
        let writable: Vec<PathBuf> = command
            .write_paths
            .iter()
            .map(|p| resolve(&literal_prefix(p)))
            .collect();
        if let Some(key) = key_file {
            if let Some(scope) = readable
                .iter()
                .chain(&writable)
                .find(|s| key.starts_with(s))
            {
                return Err(format!(
                    "command {}: the signing key {} lies inside the granted scope {}; keep the key outside every read and write scope",
                    command.id,
                    key.display(),
                    scope.display()
                ));
            }
        }
        if let Some(journal) = journal_dir {
            if let Some(scope) = writable.iter().find(|s| journal.starts_with(s)) {
                return Err(format!(
                    "command {}: the journal {} lies inside the writable scope {}; keep it outside every write scope",
                    command.id,
                    journal.display(),
                    scope.display()
                ));
            }
        }
    }
    Ok(())
}

/// The literal directory prefix of a scope pattern: every component up to the first one with a
/// glob character (`/repo/**` → `/repo`, `/a/*.txt` → `/a`).
pub fn literal_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    for component in Path::new(pattern).components() {
        let text = component.as_os_str().to_string_lossy();
        if text.contains(['*', '?', '[', '{']) {
            break;
        }
        prefix.push(component);
    }
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_prefix_strips_globs() {
        assert_eq!(
            literal_prefix("/workspace/repo/**"),
            PathBuf::from("/workspace/repo")
        );
        assert_eq!(literal_prefix("/a/*.txt"), PathBuf::from("/a"));
        assert_eq!(literal_prefix("/a/b"), PathBuf::from("/a/b"));
        assert_eq!(literal_prefix("/a/b/"), PathBuf::from("/a/b"));
        assert_eq!(literal_prefix("/**"), PathBuf::from("/"));
        assert_eq!(literal_prefix("/a/b?c/d"), PathBuf::from("/a"));
    }
}
