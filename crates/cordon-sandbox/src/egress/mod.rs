//! Network egress through cordon's own proxy: a command reaches the hosts a list names, and
//! nothing else.
//!
//! # Design
//! A command with [`crate::Network::Proxied`] runs in a network namespace of its own with only
//! `lo`. Before the first command starts, a short-lived helper process creates that namespace,
//! brings `lo` up, opens a listening TCP socket on `127.0.0.1` *inside* it, and hands the socket
//! and the namespace back over a Unix socket (`netns.rs`). A socket keeps the namespace it was
//! created in, so the proxy, running on a thread of the supervisor in the host's namespace,
//! accepts the command's connections on it and opens its own connections to the world: no
//! bridge process and no veth pair. Every process of the command joins the namespace with
//! `setns`. Landlock allows TCP connect to the proxy's port only and no bind; seccomp allows
//! `socket` only for `AF_UNIX` and TCP over IPv4/IPv6. There is no route, no DNS server and no
//! other interface, so UDP, ICMP and any direct connection reach nothing.
//!
//! The proxy (`proxy.rs`) speaks HTTP CONNECT and plain HTTP (hyper) and SOCKS5 (fast-socks5) on
//! the one port, told apart by the first byte. Each destination is judged by the pure
//! functions of [`decision`]: listed name and port; the proxy's own resolution (or the explicit
//! override) with special-purpose addresses refused; for tunnels, the TLS ClientHello's server
//! name. Every connection, allowed or refused, is in the [`EgressReport`].

pub mod decision;
mod http;
pub(crate) mod netns;
mod proxy;
mod socks;
pub mod tls;

use std::collections::BTreeMap;
use std::net::IpAddr;

use cordon_core::hosts::{Host, HostError, HostList};
use serde::Serialize;

pub use proxy::Proxy;

/// What a proxied command may reach, and how the proxy resolves names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    pub allowlist: HostList,
    /// Names the proxy answers itself instead of asking DNS (a test's loopback servers, a
    /// corporate registry's fixed address). Configured explicitly by the operator; an address
    /// given here counts as named by the list for that name, loopback included.
    pub resolver_overrides: BTreeMap<String, Vec<IpAddr>>,
}

impl Egress {
    pub fn new(allowlist: HostList) -> Egress {
        Egress {
            allowlist,
            resolver_overrides: BTreeMap::new(),
        }
    }

    /// Makes the proxy resolve `name` to `address` (added to any earlier address for it).
    pub fn resolve(mut self, name: &str, address: IpAddr) -> Result<Egress, HostError> {
        let Host::Name(name) = Host::parse(name)? else {
            return Err(HostError::InvalidName(name.to_string()));
        };
        self.resolver_overrides
            .entry(name)
            .or_default()
            .push(address);
        Ok(self)
    }
}

/// The connections a proxied run made, and the list they were judged against.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EgressReport {
    /// Where the command's proxy listened, in the command's network namespace.
    pub proxy: String,
    /// The allowlist in force, as written in a policy.
    pub allowlist: Vec<String>,
    /// The resolver overrides in force (`name=address`).
    pub resolver_overrides: Vec<String>,
    /// Every connection, in the order the proxy decided them.
    pub connections: Vec<ConnectionRecord>,
    /// Connections beyond [`MAX_RECORDED_CONNECTIONS`], counted but not listed.
    pub connections_dropped: u64,
}

/// The most connections one run lists; the rest are counted.
pub const MAX_RECORDED_CONNECTIONS: usize = 4096;

/// How the command asked for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    HttpConnect,
    Http,
    Socks5,
    /// Neither HTTP nor SOCKS5 (the first byte told).
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allowed,
    Refused,
}

/// One connection through the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionRecord {
    pub channel: Channel,
    /// The host as the client named it (`?` when it named none).
    pub host: String,
    pub port: u16,
    pub verdict: Verdict,
    /// For a refusal, a stable code (`not_listed`, `sni_mismatch`, ...) and one sentence.
    pub code: Option<String>,
    pub reason: Option<String>,
    /// The address the proxy connected to.
    pub address: Option<String>,
    /// The TLS server name a tunnel's ClientHello carried.
    pub sni: Option<String>,
    /// Bytes from the command to the destination, and back.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// An allowed connection that failed (the destination refused, a reset).
    pub error: Option<String>,
}

/// A proxied run's network: the namespace (held open by these descriptors) and its proxy.
pub(crate) struct ProxiedNetwork {
    pub proxy: Proxy,
    pub netns: std::os::fd::OwnedFd,
    pub userns: Option<std::os::fd::OwnedFd>,
}

impl ProxiedNetwork {
    /// Makes the namespace and starts the proxy on its listener. The caller holds the spawn
    /// lock: the namespace helper is a child process of ours for a moment.
    pub(crate) fn start(egress: Egress, has_sys_admin: bool) -> Result<Self, crate::Error> {
        let owner = if has_sys_admin {
            netns::NamespaceOwner::Direct
        } else {
            // SAFETY: geteuid/getegid have no preconditions.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            netns::NamespaceOwner::ViaUserns {
                uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            }
        };
        let namespace = netns::create(&owner)?;
        let proxy = Proxy::start(namespace.listener, egress)?;
        Ok(ProxiedNetwork {
            proxy,
            netns: namespace.netns,
            userns: namespace.userns,
        })
    }

    /// The proxy's port, the one TCP port the command may connect to.
    pub(crate) fn port(&self) -> u16 {
        self.proxy.local_addr().port()
    }

    /// The variables that point programs at the proxy: the conventional ones in both cases,
    /// and the settings of tools whose own configuration would win over them (a user's
    /// `.npmrc` or `.gitconfig` naming another proxy, pip's and cargo's configuration files).
    pub(crate) fn env(&self) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        let address = self.proxy.local_addr();
        let http = format!("http://{address}");
        let socks = format!("socks5h://{address}");
        let pairs: [(&str, &str); 15] = [
            ("HTTP_PROXY", &http),
            ("http_proxy", &http),
            ("HTTPS_PROXY", &http),
            ("https_proxy", &http),
            ("ALL_PROXY", &socks),
            ("all_proxy", &socks),
            // Empty: every destination goes through the proxy and into the report.
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("npm_config_proxy", &http),
            ("npm_config_https_proxy", &http),
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "http.proxy"),
            ("GIT_CONFIG_VALUE_0", &http),
            ("PIP_PROXY", &http),
            ("CARGO_HTTP_PROXY", &http),
        ];
        pairs
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect()
    }
}
