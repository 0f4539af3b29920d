//! The proxy's judgement of one destination, as pure functions over what the proxy learned.
//!
//! Three checks, in the order the proxy can make them:
//! 1. [`check_listed`]: the host and port the client asked for (CONNECT authority, SOCKS
//!    address, absolute URL) are on the list. An IP address passes only when listed as one.
//! 2. [`check_addresses`]: every address the name resolved to is an ordinary public address, or
//!    is named by the list. Loopback, private, link-local, shared (CGNAT), cloud metadata and
//!    other special-purpose addresses are refused, also when an IPv6 address embeds them
//!    (IPv4-mapped, NAT64, 6to4). One bad address refuses the whole name: a DNS answer that
//!    mixes a public and a loopback address is how rebinding attacks start.
//! 3. [`check_tunnel_hello`]: a tunnel's first bytes are a TLS ClientHello whose server name is
//!    the host that was asked for, so that the name the list allowed is the name reached.
//!
//! None of them connects anywhere; the tests call them with the addresses they refuse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cordon_core::hosts::{Host, HostError, HostList};
use ipnet::{Ipv4Net, Ipv6Net};

use super::tls::HelloFacts;

/// Where a client asked to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: Host,
    pub port: u16,
}

impl Destination {
    /// Reads a client's host text; refuses what is neither a name nor an address.
    pub fn parse(host: &str, port: u16) -> Result<Destination, Refusal> {
        let host = Host::parse(host).map_err(Refusal::Malformed)?;
        Ok(Destination { host, port })
    }
}

/// The kind of special-purpose address a destination resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    /// A cloud instance-metadata or host-agent address (AWS, GCP, Azure, Alibaba, ECS).
    Metadata,
    /// 100.64.0.0/10, carrier-grade NAT: inside some provider's network.
    Shared,
    Multicast,
    /// Documentation, benchmarking, protocol-assignment and reserved ranges, tunnels.
    Reserved,
}

impl AddressClass {
    fn describe(self) -> &'static str {
        match self {
            AddressClass::Unspecified => "an unspecified address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::Shared => "a shared (carrier-grade NAT) address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Reserved => "a reserved or special-purpose address",
        }
    }
}

/// Why the proxy refused a connection. `Display` is the sentence in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Malformed(HostError),
    NotListed {
        destination: String,
    },
    AddressNotListed {
        address: IpAddr,
    },
    SpecialAddress {
        name: String,
        address: IpAddr,
        class: AddressClass,
    },
    Unresolved {
        name: String,
        detail: String,
    },
    NotTls,
    NoServerName,
    ServerNameMismatch {
        asked: String,
        server_name: String,
    },
    EncryptedServerName,
    HostHeaderMismatch {
        asked: String,
        header: String,
    },
    Unsupported(String),
}

impl Refusal {
    /// A stable code for the report.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed_host",
            Refusal::NotListed { .. } => "not_listed",
            Refusal::AddressNotListed { .. } => "ip_literal_not_listed",
            Refusal::SpecialAddress { .. } => "special_address",
            Refusal::Unresolved { .. } => "unresolved",
            Refusal::NotTls => "not_tls",
            Refusal::NoServerName => "no_sni",
            Refusal::ServerNameMismatch { .. } => "sni_mismatch",
            Refusal::EncryptedServerName => "encrypted_sni",
            Refusal::HostHeaderMismatch { .. } => "host_header_mismatch",
            Refusal::Unsupported(_) => "unsupported",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Malformed(e) => write!(f, "{e}"),
            Refusal::NotListed { destination } => {
                write!(f, "{destination} is not on the allowlist")
            }
            Refusal::AddressNotListed { address } => write!(
                f,
                "{address} is an IP address and the allowlist does not name it"
            ),
            Refusal::SpecialAddress {
                name,
                address,
                class,
            } => write!(
                f,
                "{name} resolved to {address}, {}, which the allowlist does not name",
                class.describe()
            ),
            Refusal::Unresolved { name, detail } => {
                write!(f, "{name} could not be resolved: {detail}")
            }
            Refusal::NotTls => f.write_str(
                "the tunnel did not begin with a TLS ClientHello, so the host it reaches cannot be checked",
            ),
            Refusal::NoServerName => f.write_str(
                "the TLS ClientHello names no server (SNI), so the host it reaches cannot be checked",
            ),
            Refusal::ServerNameMismatch {
                asked,
                server_name,
            } => write!(
                f,
                "the TLS ClientHello asks for {server_name}, not {asked}, the host the tunnel was opened to"
            ),
            Refusal::EncryptedServerName => f.write_str(
                "the TLS ClientHello hides its server name (ECH or ESNI), so the host it reaches cannot be checked",
            ),
            Refusal::HostHeaderMismatch { asked, header } => write!(
                f,
                "the request's Host header names {header}, not {asked}, the host in its URL"
            ),
            Refusal::Unsupported(what) => write!(f, "{what}"),
        }
    }
}

/// Step 1: the destination is on the list.
pub fn check_listed(list: &HostList, destination: &Destination) -> Result<(), Refusal> {
    if list.find(&destination.host, destination.port).is_some() {
        return Ok(());
    }
    Err(match destination.host {
        Host::Ip(address) => Refusal::AddressNotListed { address },
        Host::Name(_) => Refusal::NotListed {
            destination: format!("{}:{}", destination.host, destination.port),
        },
    })
}

/// Step 2: the proxy may connect to `addresses` for `destination`. `from_override` is true when
/// the addresses come from the resolver override the operator configured, which counts as
/// naming them.
pub fn check_addresses(
    list: &HostList,
    destination: &Destination,
    addresses: &[IpAddr],
    from_override: bool,
) -> Result<(), Refusal> {
    if addresses.is_empty() {
        return Err(Refusal::Unresolved {
            name: destination.host.to_string(),
            detail: "no address".into(),
        });
    }
    if from_override {
        return Ok(());
    }
    for &address in addresses {
        if let Some(class) = classify(address) {
            if !list.names_address(address, destination.port) {
                return Err(Refusal::SpecialAddress {
                    name: destination.host.to_string(),
                    address,
                    class,
                });
            }
        }
    }
    Ok(())
}

/// Step 3: a tunnel's ClientHello names the host the tunnel was opened to.
pub fn check_tunnel_hello(destination: &Destination, hello: &HelloFacts) -> Result<(), Refusal> {
    if hello.encrypted_server_name {
        return Err(Refusal::EncryptedServerName);
    }
    match (&destination.host, hello.server_name.as_deref()) {
        (Host::Name(asked), Some(sni)) => match Host::parse(sni) {
            Ok(Host::Name(n)) if &n == asked => Ok(()),
            _ => Err(Refusal::ServerNameMismatch {
                asked: asked.clone(),
                server_name: sni.to_string(),
            }),
        },
        (Host::Name(_), None) => Err(Refusal::NoServerName),
        // A listed address: clients send no server name to an address; one that does names a
        // host the list did not.
        (Host::Ip(ip), Some(sni)) => Err(Refusal::ServerNameMismatch {
            asked: ip.to_string(),
            server_name: sni.to_string(),
        }),
        (Host::Ip(_), None) => Ok(()),
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

/// Cloud metadata and host-agent endpoints, refused by name in the report.
const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack
    Ipv4Addr::new(169, 254, 170, 2),   // AWS ECS task metadata
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
    Ipv4Addr::new(168, 63, 129, 16),   // Azure WireServer (a public address)
];
const METADATA_V6: &[Ipv6Addr] = &[Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)];

const SPECIAL_V4: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 8), AddressClass::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    (v4(100, 64, 0, 0, 10), AddressClass::Shared),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved),
    (v4(192, 0, 2, 0, 24), AddressClass::Reserved),
    (v4(192, 88, 99, 0, 24), AddressClass::Reserved),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(198, 18, 0, 0, 15), AddressClass::Reserved),
    (v4(198, 51, 100, 0, 24), AddressClass::Reserved),
    (v4(203, 0, 113, 0, 24), AddressClass::Reserved),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

const fn v6(segments: [u16; 8], len: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)
}

const SPECIAL_V6: &[(Ipv6Net, AddressClass)] = &[
    (
        v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        AddressClass::Private,
    ),
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddressClass::Reserved),
    (
        v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),
        AddressClass::Reserved,
    ), // Teredo
    (
        v6([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48),
        AddressClass::Reserved,
    ),
    (
        v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28),
        AddressClass::Reserved,
    ),
    (
        v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),
        AddressClass::Reserved,
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddressClass::Reserved,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddressClass::Reserved,
    ),
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        AddressClass::Reserved,
    ),
    (v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), AddressClass::Private),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::LinkLocal,
    ),
    (v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), AddressClass::Private),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        AddressClass::Multicast,
    ),
];

/// The special-purpose class of `address`, or `None` for an ordinary public unicast address.
pub fn classify(address: IpAddr) -> Option<AddressClass> {
    match address {
        IpAddr::V4(a) => classify_v4(a),
        IpAddr::V6(a) => classify_v6(a),
    }
}

fn classify_v4(a: Ipv4Addr) -> Option<AddressClass> {
    if METADATA_V4.contains(&a) {
        return Some(AddressClass::Metadata);
    }
    SPECIAL_V4
        .iter()
        .find(|(net, _)| net.contains(&a))
        .map(|&(_, class)| class)
}

fn classify_v6(a: Ipv6Addr) -> Option<AddressClass> {
    if METADATA_V6.contains(&a) {
        return Some(AddressClass::Metadata);
    }
    if a.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if a.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    // Addresses that carry an IPv4 address are judged by it; an embedded public address is
    // still a translation or tunnel mechanism, so those prefixes are reserved regardless.
    if let Some(embedded) = a.to_ipv4_mapped() {
        return classify_v4(embedded);
    }
    let s = a.segments();
    let low32 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] {
        // IPv4-compatible (deprecated): ::a.b.c.d
        return Some(classify_v4(low32).unwrap_or(AddressClass::Reserved));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix: the gateway connects to the embedded address.
        return classify_v4(low32);
    }
    if s[0] == 0x2002 {
        // 6to4: the relay reaches the embedded address.
        let embedded = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return Some(classify_v4(embedded).unwrap_or(AddressClass::Reserved));
    }
    SPECIAL_V6
        .iter()
        .find(|(net, _)| net.contains(&a))
        .map(|&(_, class)| class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
    fn dest(host: &str, port: u16) -> Destination {
        Destination::parse(host, port).unwrap()
    }
    fn list(entries: &[&str]) -> HostList {
        HostList::parse(entries).unwrap()
    }

    #[test]
    fn special_addresses_are_classified() {
        use AddressClass::*;
        let cases = [
            ("169.254.169.254", Some(Metadata)),
            ("169.254.170.2", Some(Metadata)),
            ("100.100.100.200", Some(Metadata)),
            ("168.63.129.16", Some(Metadata)),
            ("fd00:ec2::254", Some(Metadata)),
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("::1", Some(Loopback)),
            ("0.0.0.0", Some(Unspecified)),
            ("::", Some(Unspecified)),
            ("10.1.2.3", Some(Private)),
            ("172.16.0.1", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("fd12::1", Some(Private)),
            ("fc00::1", Some(Private)),
            ("169.254.1.1", Some(LinkLocal)),
            ("fe80::1", Some(LinkLocal)),
            ("100.64.0.1", Some(Shared)),
            ("224.0.0.1", Some(Multicast)),
            ("ff02::1", Some(Multicast)),
            ("255.255.255.255", Some(Reserved)),
            ("192.0.2.1", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            ("2001:db8::1", Some(Reserved)),
            ("2001::1", Some(Reserved)),
            // Embedded IPv4 addresses are judged by what they embed.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:169.254.169.254", Some(Metadata)),
            ("::127.0.0.1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(Metadata)),
            ("64:ff9b::10.0.0.1", Some(Private)),
            ("2002:7f00:1::", Some(Loopback)),
            ("2002:0808:0808::", Some(Reserved)),
            // Ordinary public addresses.
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
        ];
        for (address, expected) in cases {
            assert_eq!(classify(ip(address)), expected, "{address}");
        }
    }

    #[test]
    fn a_name_on_the_list_passes_and_others_are_refused() {
        let l = list(&["registry.npmjs.org", "*.pythonhosted.org:443"]);
        assert_eq!(check_listed(&l, &dest("registry.npmjs.org", 443)), Ok(()));
        assert_eq!(
            check_listed(&l, &dest("files.pythonhosted.org", 443)),
            Ok(())
        );
        let refused = check_listed(&l, &dest("evil.example", 443)).unwrap_err();
        assert_eq!(refused.code(), "not_listed");
        assert_eq!(
            refused.to_string(),
            "evil.example:443 is not on the allowlist"
        );
        assert_eq!(
            check_listed(&l, &dest("registry.npmjs.org", 80))
                .unwrap_err()
                .code(),
            "not_listed"
        );
    }

    #[test]
    fn ip_literals_and_the_metadata_address_are_refused_unless_listed() {
        let l = list(&["registry.npmjs.org"]);
        for literal in [
            "169.254.169.254",
            "8.8.8.8",
            "[::1]",
            "127.0.0.1",
            "[fd00:ec2::254]",
        ] {
            let refused = check_listed(&l, &dest(literal, 443)).unwrap_err();
            assert_eq!(refused.code(), "ip_literal_not_listed", "{literal}");
        }
        assert_eq!(
            check_listed(&l, &dest("169.254.169.254", 80))
                .unwrap_err()
                .to_string(),
            "169.254.169.254 is an IP address and the allowlist does not name it"
        );
        // Listed, an address passes both checks (the list names it).
        let listed = list(&["169.254.169.254:80"]);
        let d = dest("169.254.169.254", 80);
        assert_eq!(check_listed(&listed, &d), Ok(()));
        assert_eq!(
            check_addresses(&listed, &d, &[ip("169.254.169.254")], false),
            Ok(())
        );
        // A numeric name in disguise never becomes a destination.
        assert_eq!(
            Destination::parse("2852039166", 80).unwrap_err().code(),
            "malformed_host"
        );
    }

    #[test]
    fn a_listed_name_that_resolves_to_a_special_address_is_refused() {
        let l = list(&["metadata.example:80", "mixed.example:443"]);
        let d = dest("metadata.example", 80);
        let refused = check_addresses(&l, &d, &[ip("169.254.169.254")], false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "metadata.example resolved to 169.254.169.254, a cloud metadata address, which the allowlist does not name"
        );
        let d = dest("mixed.example", 443);
        let refused = check_addresses(&l, &d, &[ip("93.184.216.34"), ip("127.0.0.1")], false);
        assert_eq!(refused.unwrap_err().code(), "special_address");
        assert_eq!(
            check_addresses(&l, &d, &[ip("93.184.216.34")], false),
            Ok(())
        );
        assert_eq!(
            check_addresses(&l, &d, &[], false).unwrap_err().code(),
            "unresolved"
        );
        // The operator's resolver override names its addresses.
        assert_eq!(check_addresses(&l, &d, &[ip("127.0.0.1")], true), Ok(()));
        // A private address the list names is allowed for that port only.
        let corp = list(&["npm.corp.example", "10.1.2.3:443"]);
        let d = dest("npm.corp.example", 443);
        assert_eq!(check_addresses(&corp, &d, &[ip("10.1.2.3")], false), Ok(()));
        assert!(check_addresses(&corp, &d, &[ip("10.1.2.4")], false).is_err());
    }

    #[test]
    fn the_tunnel_must_name_the_host_it_was_opened_to() {
        let hello = |sni: Option<&str>, encrypted: bool| HelloFacts {
            server_name: sni.map(str::to_string),
            encrypted_server_name: encrypted,
        };
        let d = dest("registry.npmjs.org", 443);
        assert_eq!(
            check_tunnel_hello(&d, &hello(Some("Registry.npmjs.org."), false)),
            Ok(())
        );
        let refused = check_tunnel_hello(&d, &hello(Some("evil.example"), false)).unwrap_err();
        assert_eq!(refused.code(), "sni_mismatch");
        assert_eq!(
            refused.to_string(),
            "the TLS ClientHello asks for evil.example, not registry.npmjs.org, the host the tunnel was opened to"
        );
        assert_eq!(
            check_tunnel_hello(&d, &hello(None, false))
                .unwrap_err()
                .code(),
            "no_sni"
        );
        assert_eq!(
            check_tunnel_hello(&d, &hello(Some("registry.npmjs.org"), true))
                .unwrap_err()
                .code(),
            "encrypted_sni"
        );
        let a = dest("10.0.0.5", 443);
        assert_eq!(check_tunnel_hello(&a, &hello(None, false)), Ok(()));
        assert!(check_tunnel_hello(&a, &hello(Some("evil.example"), false)).is_err());
    }
}
