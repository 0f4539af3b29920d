//! The "plan confinement" step: each contract command becomes a one-command sandbox plan and the
//! confinement it runs under (the sandbox knows nothing about contracts).
//!
//! Hardened mode confines every command to the policy's envelope ([`crate::envelope`]), built
//! once per run, plus the grants beyond it that the command's named paths earn on their real
//! paths; the contract's scopes are no longer copied into the sandbox as paths. Each command is
//! its own sandbox run, so one command's grants never leak to the next. Local mode supervises
//! only.
//!
//! A hardened command's network is what its contract declares: none, the host's, or
//! (`allowlisted`) the request's host list through cordon's egress proxy ([`network`]).
//!
//! Granted secrets join the planned command's environment in `pipeline::run_one`, right after
//! [`plan`]; the envelope closes the secret store and its key like the signing key.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cordon_core::contract::{Command, NetworkMode};
use cordon_sandbox::{Confinement, Egress, Network, Plan, PlannedCommand};

use crate::envelope::EnvelopeInForce;
use crate::mode::Mode;
use crate::request::RunRequest;

/// Names the egress proxy resolves itself instead of asking DNS, with the addresses it gives
/// them: the operator's explicit statement (`--egress-resolve`), never a default. An address
/// given here counts as listed for that name, loopback included (docs/sandbox.md).
pub type ResolverOverrides = BTreeMap<String, Vec<IpAddr>>;

/// Variables every command gets from cordon's own environment, whatever the contract asks: git,
/// npm, go and cargo need a home, and messages a language. None of them carries a secret.
pub const ALWAYS_PASSED: [&str; 3] = ["HOME", "LANG", "USER"];

/// Variables a workspace's commands also get (`cordon exec`, the hooks, MCP), beyond what a CSC
/// contract names: the terminal, time zone and locale a program prints by, the shell and login
/// name, git's author and committer identity, `CI`, and where the user's toolchains live when not
/// in the home directory's default place
/// (a Docker image's `RUSTUP_HOME=/usr/local/rustup`; without it cargo looked for `~/.rustup` and
/// failed in the working-day run). None carries a secret, and none makes a program load code the
/// user did not install: `GOFLAGS` (`-toolexec`), `NODE_OPTIONS` and the like stay out, and the
/// sandbox drops every injection name whatever it is handed.
pub const PASSED_TO_WORKSPACE_COMMANDS: [&str; 24] = [
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TZ",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "LOGNAME",
    "SHELL",
    "CI",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "CARGO_HOME",
    "GOPATH",
    "GOROOT",
    "JAVA_HOME",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    // The identity git commits with when the user sets it in the environment rather than in
    // `~/.gitconfig` (working day sixteen: "Author identity unknown").
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "EMAIL",
];

/// Variables naming the program git and others start as an editor or a pager, passed to a
/// workspace's commands only when the value starts nothing beyond a viewer (`GIT_EDITOR=true`,
/// `PAGER=cat`). Agent harnesses set them so that `git commit` or `git rebase --continue` never
/// waits for an editor: without them git opened vi in the sandbox, with no one to type, and the
/// command hung until its timeout (working day fifteen). Any other value stays out: it is a
/// program cordon did not judge.
pub const PASSED_WHEN_INERT: [&str; 6] = [
    "EDITOR",
    "VISUAL",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
    "PAGER",
    "GIT_PAGER",
];

/// The values of [`PASSED_WHEN_INERT`] that start nothing but a no-op or a viewer.
const INERT_PROGRAM_VALUES: &[&str] = &[
    "true",
    ":",
    "/bin/true",
    "/usr/bin/true",
    "cat",
    "/bin/cat",
    "/usr/bin/cat",
    "less",
    "less -R",
    "less -FRX",
    "more",
];

/// Maps one contract command onto a one-command sandbox plan and its confinement, or says why it
/// cannot run in this mode. Hardened mode needs the run's envelope; `approved`: a person approved
/// this run (what that lets a grant beyond the envelope reach: [`crate::envelope`]).
/// `resolver_overrides` go to the egress proxy of a command with a host list.
pub fn plan(
    command: &Command,
    request: &RunRequest,
    mode: Mode,
    envelope: Option<&EnvelopeInForce>,
    approved: bool,
    resolver_overrides: &ResolverOverrides,
) -> Result<(Plan, Confinement), String> {
    let pipeline: Vec<Vec<OsString>> = command
        .argvs()
        .map(|argv| argv.iter().map(OsString::from).collect())
        .collect();
    let policy_env: &[String] = &request.decision.policy.env_allow;
    // A name passes only when the contract asks for it and the policy permits it.
    let mut allowed: Vec<&str> = command
        .env_allow
        .iter()
        .filter(|n| policy_env.contains(n))
        .map(String::as_str)
        .collect();
    let workspace = envelope.and_then(EnvelopeInForce::workspace).is_some();
    let for_workspace: &[&str] = if workspace {
        &PASSED_TO_WORKSPACE_COMMANDS
    } else {
        &[]
    };
    // A name the contract asks for and the policy permits passes as it is.
    let when_inert: Vec<&str> = match workspace {
        true => PASSED_WHEN_INERT
            .into_iter()
            .filter(|n| !allowed.contains(n))
            .collect(),
        false => Vec::new(),
    };
    for &name in ALWAYS_PASSED.iter().chain(for_workspace).chain(&when_inert) {
        if !allowed.contains(&name) {
            allowed.push(name);
        }
    }
    let env = cordon_sandbox::scrubbed_env(&allowed, |name| {
        let value = std::env::var_os(name)?;
        let inert = || {
            value
                .to_str()
                .is_some_and(|v| INERT_PROGRAM_VALUES.contains(&v.trim()))
        };
        (!when_inert.contains(&name) || inert()).then_some(value)
    });
    let mut planned = PlannedCommand {
        id: command.id.clone(),
        pipeline,
        cwd: PathBuf::from(&command.cwd),
        timeout: Duration::from_secs(u64::from(command.timeout_sec)),
        env,
    };
    let confinement = match (mode, envelope) {
        (Mode::Local, _) => Confinement::local(),
        (Mode::Hardened, Some(envelope)) => {
            let network = network(command, request, resolver_overrides)?;
            hardened(command, envelope, approved, network)?
        }
        (Mode::Hardened, None) => {
            return Err(format!(
                "command {}: hardened mode needs the policy's envelope, and none was built",
                command.id
            ))
        }
    };
    if mode == Mode::Hardened && matches!(confinement.network, Network::Deny) {
        set_offline_defaults(&mut planned.env);
    }
    Ok((
        Plan {
            commands: vec![planned],
        },
        confinement,
    ))
}

/// Settings given to a command that runs with no network, unless its environment sets them:
/// npm retries every registry request it cannot make for about 70 seconds before it fails
/// (working day twenty: `npx --no-install eslint .` took 70.7 s in a hardened run, 1 s outside;
/// with no retries it fails at once, with the same error).
const OFFLINE_DEFAULTS: [(&str, &str); 1] = [("npm_config_fetch_retries", "0")];

fn set_offline_defaults(env: &mut Vec<(OsString, OsString)>) {
    for (name, value) in OFFLINE_DEFAULTS {
        // npm reads its variables whatever their case.
        let set = env
            .iter()
            .any(|(n, _)| n.to_str().is_some_and(|n| n.eq_ignore_ascii_case(name)));
        if !set {
            env.push((name.into(), value.into()));
        }
    }
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

/// Hardened confinement: the envelope, the grants beyond it, and `network`.
fn hardened(
    command: &Command,
    envelope: &EnvelopeInForce,
    approved: bool,
    network: Network,
) -> Result<Confinement, String> {
    let mut confinement = Confinement::within(envelope.envelope.clone());
    confinement.network = network;
    confinement.grants = envelope.grants_for(command, approved)?;
    Ok(confinement)
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
