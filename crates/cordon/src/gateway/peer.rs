//! Who may talk to the gateway: a process of the gateway's own user that no sandbox confines.
//!
//! The gateway decides and records with the user's full authority, so a command cordon runs must
//! never reach it: a workspace program could otherwise record outcomes, ask for decisions, or
//! have the gateway read what the sandbox cannot. The first line of defence is where the socket
//! lives: in cordon's home (`state/gateway.sock`), which no envelope grants, and which a confined
//! process cannot reach through `/proc/<pid>/root` either, because Landlock forbids it the ptrace
//! access that path needs for any process outside its domain. Kernels before Landlock ABI 9 do
//! not govern `connect(2)` on a pathname socket, and a grant beyond the envelope could still name
//! the home, so every connection is also checked here, before a byte of it is read:
//!
//! - `SO_PEERCRED`: the peer's effective uid must be the gateway's;
//! - the peer must not carry a sandbox the gateway does not: cordon's hardened runs always set
//!   `no_new_privs` and install their own seccomp filters, neither of which a process can undo,
//!   so a peer with `no_new_privs` and more seccomp filters than the gateway's own is refused.
//!   (A hook started by the same agent, container or service manager as the gateway carries the
//!   same filters, and passes.)
//!
//! The peer's status is read through `/proc/<pid>`; with `SO_PEERPIDFD` (Linux 6.5) the pidfd is
//! checked afterwards to be still alive, so the pid read cannot have been reused by another
//! process meanwhile. Anything that cannot be read is a refusal.

use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{getsockopt, sockopt};

/// What the gateway reads of a process's `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confinement {
    pub no_new_privs: bool,
    /// `Seccomp:` 0 (none), 1 (strict) or 2 (filters).
    pub seccomp_mode: u8,
    /// `Seccomp_filters:` (Linux 5.9); `None` on older kernels.
    pub seccomp_filters: Option<u32>,
}

impl Confinement {
    /// Parses the fields of a `/proc/<pid>/status` text; `None` when a required one is missing.
    pub fn parse(status: &str) -> Option<Confinement> {
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .map(str::trim)
        };
        Some(Confinement {
            no_new_privs: field("NoNewPrivs")? == "1",
            seccomp_mode: field("Seccomp")?.parse().ok()?,
            seccomp_filters: field("Seccomp_filters").and_then(|n| n.parse().ok()),
        })
    }

    fn read(pid: &str) -> Result<Confinement, String> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read the status of process {pid}: {e}"))?;
        Confinement::parse(&text)
            .ok_or_else(|| format!("{path} does not say whether it is confined"))
    }
}

/// Whether a peer with `peer`'s confinement is sandboxed beyond the gateway's `own`.
pub fn confined_beyond(own: &Confinement, peer: &Confinement) -> bool {
    if !peer.no_new_privs || peer.seccomp_mode == 0 {
        return false;
    }
    match (own.seccomp_filters, peer.seccomp_filters) {
        (Some(own), Some(peer)) => peer > own,
        // No filter count: any filter the gateway does not run under.
        _ => own.seccomp_mode == 0,
    }
}

/// Admits the process at the other end of `stream`, or says in one sentence why not.
pub fn admit(stream: &UnixStream) -> Result<(), String> {
    let creds = getsockopt(stream, sockopt::PeerCredentials)
        .map_err(|e| format!("cannot tell who connected (SO_PEERCRED): {e}"))?;
    let own_uid = nix::unistd::geteuid().as_raw();
    if creds.uid() != own_uid {
        return Err(format!(
            "the peer runs as uid {}, not as this gateway's user ({own_uid})",
            creds.uid()
        ));
    }
    // Taken before the status is read, checked after: see the module docs.
    let pidfd: Option<OwnedFd> = getsockopt(stream, sockopt::PeerPidfd).ok();
    let peer = Confinement::read(&creds.pid().to_string())?;
    let own = own_confinement()?;
    if let Some(pidfd) = &pidfd {
        if exited(pidfd) {
            return Err("the peer exited before it could be checked".into());
        }
    }
    if confined_beyond(own, &peer) {
        return Err(
            "the peer runs inside a sandbox (no_new_privs and seccomp filters this gateway does not have); commands cordon runs do not reach its gateway"
                .into(),
        );
    }
    Ok(())
}

/// The gateway's own confinement, read at its first connection. It cannot loosen (neither
/// `no_new_privs` nor a seccomp filter can be undone) and the gateway adds none, so reading it
/// again for every connection only cost each hook a `/proc` read.
fn own_confinement() -> Result<&'static Confinement, String> {
    static OWN: std::sync::OnceLock<Confinement> = std::sync::OnceLock::new();
    if let Some(own) = OWN.get() {
        return Ok(own);
    }
    let own = Confinement::read("self")?;
    Ok(OWN.get_or_init(|| own))
}

/// A pidfd reads as ready once its process has exited.
fn exited(pidfd: &OwnedFd) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    !matches!(poll(&mut fds, PollTimeout::ZERO), Ok(0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn status(nnp: u8, mode: u8, filters: Option<u32>) -> Confinement {
        let mut text = format!("Name:\tx\nNoNewPrivs:\t{nnp}\nSeccomp:\t{mode}\n");
        if let Some(n) = filters {
            text.push_str(&format!("Seccomp_filters:\t{n}\n"));
        }
        Confinement::parse(&text).unwrap()
    }

    #[test]
    fn a_sandboxed_peer_is_told_apart_from_a_hook() {
        let plain = status(0, 0, Some(0));
        let docker = status(0, 2, Some(1));
        let docker_nnp = status(1, 2, Some(1));
        let cordon_run = status(1, 2, Some(2));
        let cordon_run_in_docker = status(1, 2, Some(3));
        // (gateway, peer, refused)
        let table = [
            (plain, plain, false),
            (plain, cordon_run, true),
            (plain, status(1, 2, Some(1)), true),
            // A process with no_new_privs but no filter is no cordon run.
            (plain, status(1, 0, Some(0)), false),
            // Filters without no_new_privs were installed with privileges: not cordon's.
            (plain, docker, false),
            // Same container, same filters: a hook beside the gateway.
            (docker, docker, false),
            (docker, docker_nnp, false),
            (docker, cordon_run_in_docker, true),
            (docker_nnp, cordon_run_in_docker, true),
            // The gateway under more filters than the peer: the peer is not inside it.
            (cordon_run_in_docker, docker_nnp, false),
            // Kernels without Seccomp_filters: any filter the gateway lacks.
            (status(0, 0, None), status(1, 2, None), true),
            (status(0, 2, None), status(1, 2, None), false),
        ];
        for (own, peer, refused) in table {
            assert_eq!(confined_beyond(&own, &peer), refused, "{own:?} {peer:?}");
        }
    }

    #[test]
    fn a_status_without_the_fields_is_unreadable() {
        assert_eq!(Confinement::parse("Name:\tx\n"), None);
        assert_eq!(Confinement::parse("NoNewPrivs:\t0\nSeccomp:\tx\n"), None);
        let own = Confinement::parse(&std::fs::read_to_string("/proc/self/status").unwrap());
        assert!(own.is_some());
    }
}
