//! Host allowlists: the hosts and ports a command may reach through cordon's egress proxy.
//!
//! One type for policy and enforcement: `cordon-policy` reads a list from a rule's `hosts:` or a
//! CSC profile's `allowed_egress_hosts`, and `cordon-sandbox`'s proxy checks every destination
//! against the same [`HostList`]. Entries are written `NAME[:PORT]`:
//!
//! | entry | matches |
//! |---|---|
//! | `registry.npmjs.org` | that name, port 443 |
//! | `registry.npmjs.org:80` | that name, port 80 |
//! | `*.pythonhosted.org:443` | any name *below* `pythonhosted.org` (not the name itself) |
//! | `proxy.example:*` | that name, any port |
//! | `10.0.0.5:8080`, `[fd00::1]:443` | that address literally (an IP is refused unless listed) |
//!
//! A missing port means 443: a registry reached over HTTPS is the common case, and a list that
//! silently allowed every port would be a wider grant than it reads. Names are compared in ASCII
//! lowercase without a trailing dot. A name whose last label is numeric (`2130706433`, `0x7f.1`)
//! is refused: resolvers read such names as IPv4 addresses, so they would be IP literals in
//! disguise. Suffix patterns need at least two labels (`*.com` would grant a whole top-level
//! domain). A bare `*` is refused: a list that allows everything is `network: full`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The port assumed when an entry names none.
pub const DEFAULT_PORT: u16 = 443;

/// Why an entry or a requested destination is not a host cordon will consider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host entry {0:?} is empty")]
    Empty(String),
    #[error("host {0:?}: `*` alone would allow every host; use network: full instead")]
    Everything(String),
    #[error(
        "host {0:?}: `*.` must be followed by a domain of at least two labels (`*.example.org`)"
    )]
    SuffixTooShort(String),
    #[error("host {0:?}: a wildcard is only allowed as a leading `*.`")]
    MisplacedWildcard(String),
    #[error("host {0:?}: the last label is numeric, which resolvers read as an IPv4 address; write the address itself")]
    NumericName(String),
    #[error("host {0:?} is not a valid DNS name (letters, digits, `-` and `_`, labels of 1 to 63 characters, 253 in all)")]
    InvalidName(String),
    #[error("host {0:?}: the port must be a number from 1 to 65535 or `*`")]
    InvalidPort(String),
}

/// A destination's host as a client named it: a DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// Lowercase, without a trailing dot, validated.
    Name(String),
    Ip(IpAddr),
}

impl Host {
    /// Reads a host as a client sends it (a CONNECT authority's host, a SOCKS domain, a URL's
    /// host). IPv6 may be bracketed. Everything that is neither a valid name nor an address in
    /// its standard notation is refused.
    pub fn parse(text: &str) -> Result<Host, HostError> {
        let inner = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = inner.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        if inner != text {
            return Err(HostError::InvalidName(text.to_string()));
        }
        Ok(Host::Name(normalize_name(text)?))
    }

    /// The name, or `None` for an address.
    pub fn name(&self) -> Option<&str> {
        match self {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
        }
    }
}

/// Lowercases, drops one trailing dot, and checks the name's shape.
fn normalize_name(text: &str) -> Result<String, HostError> {
    let invalid = || HostError::InvalidName(text.to_string());
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return Err(invalid());
    }
    for label in name.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return Err(invalid());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid());
        }
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return Err(HostError::NumericName(text.to_string()));
    }
    Ok(name)
}

/// Which hosts an entry covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostMatch {
    /// One name.
    Exact(String),
    /// Every name strictly below this domain (`*.example.org` keeps `example.org`).
    Below(String),
    /// One address.
    Ip(IpAddr),
}

/// Which ports an entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortMatch {
    One(u16),
    Any,
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPattern {
    pub host: HostMatch,
    pub port: PortMatch,
}

impl HostPattern {
    /// Whether this entry covers `host` on `port`.
    pub fn matches(&self, host: &Host, port: u16) -> bool {
        let port_ok = match self.port {
            PortMatch::Any => true,
            PortMatch::One(p) => p == port,
        };
        port_ok
            && match (&self.host, host) {
                (HostMatch::Exact(n), Host::Name(h)) => n == h,
                (HostMatch::Below(d), Host::Name(h)) => h
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
                (HostMatch::Ip(a), Host::Ip(b)) => a == b,
                _ => false,
            }
    }

    /// Whether this entry names `ip` (with `port`) as an address, which is how a list lets a
    /// name resolve to a loopback or private address.
    pub fn names_address(&self, ip: IpAddr, port: u16) -> bool {
        self.matches(&Host::Ip(ip), port)
    }
}

impl FromStr for HostPattern {
    type Err = HostError;

    fn from_str(text: &str) -> Result<Self, HostError> {
        let entry = text.trim();
        if entry.is_empty() {
            return Err(HostError::Empty(text.to_string()));
        }
        let (host, port) = split_port(entry)?;
        let port = match port {
            None => PortMatch::One(DEFAULT_PORT),
            Some("*") => PortMatch::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && !p.starts_with('+') => PortMatch::One(n),
                _ => return Err(HostError::InvalidPort(text.to_string())),
            },
        };
        if host == "*" {
            return Err(HostError::Everything(text.to_string()));
        }
        let host = if let Some(domain) = host.strip_prefix("*.") {
            let domain = normalize_name(domain).map_err(|e| match e {
                HostError::InvalidName(_) if domain.contains('*') => {
                    HostError::MisplacedWildcard(text.to_string())
                }
                other => other,
            })?;
            if !domain.contains('.') {
                return Err(HostError::SuffixTooShort(text.to_string()));
            }
            HostMatch::Below(domain)
        } else if host.contains('*') {
            return Err(HostError::MisplacedWildcard(text.to_string()));
        } else {
            match Host::parse(host)? {
                Host::Name(n) => HostMatch::Exact(n),
                Host::Ip(ip) => HostMatch::Ip(ip),
            }
        };
        Ok(HostPattern { host, port })
    }
}

/// Splits `host[:port]`, with IPv6 addresses bracketed (`[::1]:443`) or bare without a port.
fn split_port(entry: &str) -> Result<(&str, Option<&str>), HostError> {
    if let Some(rest) = entry.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(HostError::InvalidName(entry.to_string()));
        };
        let host = &entry[..inside.len() + 2];
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(HostError::InvalidName(entry.to_string())),
            },
        };
    }
    if entry.parse::<Ipv6Addr>().is_ok() {
        return Ok((entry, None));
    }
    match entry.rsplit_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((entry, None)),
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostMatch::Exact(n) => f.write_str(n)?,
            HostMatch::Below(d) => write!(f, "*.{d}")?,
            HostMatch::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
            HostMatch::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
        }
        match self.port {
            PortMatch::One(p) => write!(f, ":{p}"),
            PortMatch::Any => f.write_str(":*"),
        }
    }
}

impl Serialize for HostPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HostPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The hosts a command may reach. Empty means nothing: every destination is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HostList {
    entries: Vec<HostPattern>,
}

impl HostList {
    /// A list of these entries, sorted and without duplicates (so equal lists compare equal).
    pub fn new(entries: impl IntoIterator<Item = HostPattern>) -> HostList {
        let mut entries: Vec<HostPattern> = entries.into_iter().collect();
        entries.sort();
        entries.dedup();
        HostList { entries }
    }

    /// Parses every entry; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
    ) -> Result<HostList, HostError> {
        let parsed = entries
            .into_iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HostList::new(parsed))
    }

    pub fn entries(&self) -> &[HostPattern] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry that covers `host` on `port`.
    pub fn find(&self, host: &Host, port: u16) -> Option<&HostPattern> {
        self.entries.iter().find(|e| e.matches(host, port))
    }

    /// Whether some entry names `ip` (with `port`) as an address.
    pub fn names_address(&self, ip: IpAddr, port: u16) -> bool {
        self.entries.iter().any(|e| e.names_address(ip, port))
    }

    /// This list and `other` together.
    #[must_use]
    pub fn union(&self, other: &HostList) -> HostList {
        HostList::new(self.entries.iter().chain(&other.entries).cloned())
    }

    /// The entries as written in a policy (`name:port`).
    pub fn to_strings(&self) -> Vec<String> {
        self.entries.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> HostPattern {
        s.parse().unwrap()
    }
    fn name(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn entries_read_as_documented() {
        assert_eq!(
            p("Registry.NPMjs.org.").to_string(),
            "registry.npmjs.org:443"
        );
        assert_eq!(p("example.org:80").port, PortMatch::One(80));
        assert_eq!(p("example.org:*").port, PortMatch::Any);
        assert_eq!(
            p("*.pythonhosted.org").host,
            HostMatch::Below("pythonhosted.org".into())
        );
        assert_eq!(
            p("10.0.0.5:8080").host,
            HostMatch::Ip("10.0.0.5".parse().unwrap())
        );
        assert_eq!(p("[fd00::1]:443").to_string(), "[fd00::1]:443");
        assert_eq!(p("::1").to_string(), "[::1]:443");
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason() {
        let err = |s: &str| s.parse::<HostPattern>().unwrap_err();
        assert_eq!(err(""), HostError::Empty(String::new()));
        assert_eq!(err("*"), HostError::Everything("*".into()));
        assert_eq!(err("*:443"), HostError::Everything("*:443".into()));
        assert_eq!(err("*.com"), HostError::SuffixTooShort("*.com".into()));
        assert_eq!(
            err("a.*.com"),
            HostError::MisplacedWildcard("a.*.com".into())
        );
        assert_eq!(
            err("*.*.com"),
            HostError::MisplacedWildcard("*.*.com".into())
        );
        assert_eq!(
            err("2130706433"),
            HostError::NumericName("2130706433".into())
        );
        assert_eq!(err("127.1"), HostError::NumericName("127.1".into()));
        assert_eq!(err("0x7f.1"), HostError::NumericName("0x7f.1".into()));
        assert_eq!(err("a.b:0"), HostError::InvalidPort("a.b:0".into()));
        assert_eq!(err("a.b:70000"), HostError::InvalidPort("a.b:70000".into()));
        assert_eq!(err("a.b:+1"), HostError::InvalidPort("a.b:+1".into()));
        assert!(matches!(err("a b.org"), HostError::InvalidName(_)));
        assert!(matches!(err("-a.org"), HostError::InvalidName(_)));
        assert!(matches!(err("a..org"), HostError::InvalidName(_)));
        assert!(matches!(err("[::1"), HostError::InvalidName(_)));
        assert!(matches!(err("é.org"), HostError::InvalidName(_)));
    }

    #[test]
    fn suffixes_match_strictly_below_the_domain() {
        let e = p("*.example.org:443");
        assert!(e.matches(&name("a.example.org"), 443));
        assert!(e.matches(&name("a.b.example.org"), 443));
        assert!(!e.matches(&name("example.org"), 443));
        assert!(!e.matches(&name("badexample.org"), 443));
        assert!(!e.matches(&name("a.example.org"), 80));
        assert!(!e.matches(&name("example.org.evil.com"), 443));
    }

    #[test]
    fn exact_names_and_addresses_match_only_themselves() {
        let list = HostList::parse(["registry.npmjs.org", "10.0.0.5:8080"]).unwrap();
        assert!(list.find(&name("REGISTRY.npmjs.org."), 443).is_some());
        assert!(list.find(&name("registry.npmjs.org"), 80).is_none());
        assert!(list.find(&name("x.registry.npmjs.org"), 443).is_none());
        assert!(list.find(&name("10.0.0.5"), 8080).is_some());
        assert!(list.names_address("10.0.0.5".parse().unwrap(), 8080));
        assert!(!list.names_address("10.0.0.5".parse().unwrap(), 443));
        // A name never matches an address entry, nor an address a name entry.
        assert!(HostList::parse(["localhost"])
            .unwrap()
            .find(&name("127.0.0.1"), 443)
            .is_none());
    }

    #[test]
    fn clients_hosts_parse_like_entries() {
        assert_eq!(name("[::1]"), Host::Ip("::1".parse().unwrap()));
        assert_eq!(name("A.Example."), Host::Name("a.example".into()));
        assert!(Host::parse("[a.example]").is_err());
        assert!(Host::parse("2130706433").is_err());
        assert!(
            Host::parse("127.0.0.01").is_err(),
            "non-standard IPv4 notation is a numeric name"
        );
        assert!(Host::parse("").is_err());
    }

    #[test]
    fn lists_are_sorted_deduplicated_and_serialize_as_strings() {
        let a = HostList::parse(["b.org", "a.org", "b.org:443"]).unwrap();
        assert_eq!(a.to_strings(), ["a.org:443", "b.org:443"]);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"["a.org:443","b.org:443"]"#);
        let back: HostList = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<HostList>(r#"["*"]"#).is_err());
        assert_eq!(
            a.union(&HostList::parse(["c.org"]).unwrap())
                .entries()
                .len(),
            3
        );
        assert!(HostList::default().is_empty());
    }
}
