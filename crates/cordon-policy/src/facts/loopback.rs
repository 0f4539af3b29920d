//! Network use that stays on loopback: `curl localhost:8000`, `python -m http.server 8000`,
//! `nc -l 9000`. A hardened run whose network is denied gets a loopback of its own (a network
//! namespace with `lo` up and nothing else routable), so such a command reaches only the run's
//! own processes there; in local mode it reaches the host's loopback services (a database, a
//! dev server, the Docker API on a TCP port), and the policy asks as for any network use.
//!
//! A command gets the tag [`LOOPBACK`] when it is a client whose destinations are all named,
//! in plain loopback form, or a server that listens, bound (if at all) to loopback or to every
//! address; and nothing in it can reach elsewhere: no proxy, no `--resolve` or `--connect-to`,
//! no Unix socket (a host daemon's, such as Docker's, is reachable by path in every mode), no
//! configuration or input file naming more. Only the plain forms count (`localhost`, a dotted
//! `127.x.y.z`, `::1`): a look-alike (`localhost.evil.com`, `127.0.0.1.nip.io`,
//! `localhost@evil.com`, `0x7f.1`, `2130706433`, `foo.localhost`) either names a host a
//! resolver is asked about or is loopback in a disguise cordon does not read, and is judged as
//! any other host.

use super::derive::Derived;
use super::options::Parsed;
use super::programs::values;
use crate::shell::{SimpleCommand, Word};

/// The tag of a command whose network use stays on loopback.
pub const LOOPBACK: &str = "loopback";

/// How one program reaches the network, as far as loopback goes.
enum Role {
    /// It connects to the destinations it names: URLs or `host:port`.
    Client(Client),
    /// It listens, on the addresses its bind options and operands name (none: its default).
    Listener(Listener),
    /// A database client: its server is named by a host option or a URI, or is its default.
    Database(Database),
}

struct Database {
    /// Options whose value is the server's host name or address.
    host_options: &'static [&'static str],
    /// Options whose value may be a connection URI.
    uri_options: &'static [&'static str],
    /// Its operands may be a connection URI (psql's `postgresql://…` in place of a database).
    uri_operands: bool,
    /// Whether it is judged on loopback when nothing names a server. Never so far: a client
    /// that names no server aims at the user's own (psql's default Unix socket, redis-cli's
    /// 127.0.0.1:6379), which is the user's service, not one the text started.
    loopback_by_default: bool,
    /// Options that send it elsewhere: a Unix socket, a cluster's redirects.
    reroutes: &'static [&'static str],
}

struct Client {
    /// Options whose value is a destination (curl's `--url`).
    destination_options: &'static [&'static str],
    /// The first operand may be an HTTP method (httpie's `http POST url`).
    method_first: bool,
    /// Only the first operand (after a method) is a destination; the rest are request items
    /// (httpie) or ports (nc).
    first_operand_only: bool,
    /// `:8000/path` means localhost (httpie's shorthand).
    port_shorthand: bool,
    /// Options that send the request elsewhere or read what to fetch from a file.
    reroutes: &'static [&'static str],
}

struct Listener {
    /// Options whose value is the address it binds.
    bind_options: &'static [&'static str],
    /// What its operands are.
    operands: ListenerOperands,
    /// Options that make it reach elsewhere.
    reroutes: &'static [&'static str],
}

enum ListenerOperands {
    /// Not addresses (paths, modules): judged by the hosts any URL among them names.
    Other,
    /// A port (`http.server 8000`).
    Port,
    /// An address, a port, or `address:port` (`runserver 0.0.0.0:8000`, `nc -l 127.0.0.1 9000`).
    Address,
}

const CURL_REROUTES: &[&str] = &[
    "-x",
    "--proxy",
    "--preproxy",
    "--socks4",
    "--socks4a",
    "--socks5",
    "--socks5-hostname",
    "--resolve",
    "--connect-to",
    "--unix-socket",
    "--abstract-unix-socket",
    "--doh-url",
    "--dns-servers",
    "--interface",
    "-K",
    "--config",
    "--haproxy-protocol",
];

const WGET_REROUTES: &[&str] = &[
    "-e",
    "--execute",
    "-i",
    "--input-file",
    "-B",
    "--base",
    "--config",
    "--bind-address",
];

const NC_REROUTES: &[&str] = &[
    "-U",
    "--unixsock",
    "-x",
    "-X",
    "--proxy",
    "--proxy-type",
    "-e",
    "--exec",
    "-c",
    "--sh-exec",
    "--lua-exec",
];

/// The role of the command, if cordon knows how it reaches the network.
fn role(program: &str, command_path: &[String], flags: &[String], listens: bool) -> Option<Role> {
    let listening = |flag: &str| flags.iter().any(|f| f == flag);
    Some(match program {
        "curl" => Role::Client(Client {
            destination_options: &["--url"],
            method_first: false,
            first_operand_only: false,
            port_shorthand: false,
            reroutes: CURL_REROUTES,
        }),
        "wget" => Role::Client(Client {
            destination_options: &[],
            method_first: false,
            first_operand_only: false,
            port_shorthand: false,
            reroutes: WGET_REROUTES,
        }),
        "http" | "https" | "xh" => Role::Client(Client {
            destination_options: &[],
            method_first: true,
            first_operand_only: true,
            port_shorthand: true,
            reroutes: &["--proxy"],
        }),
        "nc" | "ncat" | "netcat" if listening("-l") || listening("--listen") => {
            Role::Listener(Listener {
                bind_options: &["-s", "--source"],
                operands: ListenerOperands::Address,
                reroutes: NC_REROUTES,
            })
        }
        "nc" | "ncat" | "netcat" => Role::Client(Client {
            destination_options: &[],
            method_first: false,
            first_operand_only: true,
            port_shorthand: false,
            reroutes: NC_REROUTES,
        }),
        "psql" => Role::Database(Database {
            host_options: &["-h", "--host"],
            uri_options: &["-d", "--dbname"],
            uri_operands: true,
            loopback_by_default: false,
            reroutes: &[],
        }),
        "redis-cli" => Role::Database(Database {
            host_options: &["-h"],
            uri_options: &["-u"],
            uri_operands: false,
            loopback_by_default: false,
            reroutes: &["-s", "-c"],
        }),
        "http.server" => Role::Listener(Listener {
            bind_options: &["-b", "--bind"],
            operands: ListenerOperands::Port,
            reroutes: &[],
        }),
        "php" => Role::Listener(Listener {
            bind_options: &["-S"],
            operands: ListenerOperands::Other,
            reroutes: &[],
        }),
        "django" if command_path.get(1).is_some_and(|s| s == "runserver") => {
            Role::Listener(Listener {
                bind_options: &[],
                operands: ListenerOperands::Address,
                reroutes: &[],
            })
        }
        _ if listens => Role::Listener(Listener {
            bind_options: &[],
            operands: ListenerOperands::Other,
            reroutes: &[],
        }),
        _ => return None,
    })
}

/// Tags the command [`LOOPBACK`] when every network use it makes stays on loopback. Called
/// once its facts are derived, with `network` as they will say it.
pub(super) fn judge(
    d: &mut Derived,
    program: &str,
    command_path: &[String],
    parsed: &Parsed,
    command: &SimpleCommand,
    network: bool,
) {
    if network && stays_on_loopback(d, program, command_path, parsed, command) {
        d.tag(LOOPBACK);
    }
}

fn stays_on_loopback(
    d: &Derived,
    program: &str,
    command_path: &[String],
    parsed: &Parsed,
    command: &SimpleCommand,
) -> bool {
    let listens =
        d.spec.tags.iter().any(|t| t == "listens") || d.tags.iter().any(|t| t == "listens");
    let Some(role) = role(program, command_path, &parsed.flags, listens) else {
        return false;
    };
    // What cordon cannot fully read, or a host named anywhere (a URL in any word, a
    // `/dev/tcp/HOST/PORT` redirect) that is not plainly loopback, keeps the network question.
    let named_elsewhere = command
        .words
        .iter()
        .skip(1)
        .filter(|w| w.is_static)
        .filter_map(|w| super::host_of(&w.text))
        .chain(d.hosts.iter().cloned())
        .any(|host| !is_loopback_host(&host));
    if !d.known || !d.unresolved.is_empty() || named_elsewhere {
        return false;
    }
    match role {
        Role::Client(client) => client_stays(&client, parsed),
        Role::Listener(listener) => listener_stays(&listener, parsed),
        Role::Database(database) => database_stays(&database, parsed),
    }
}

fn database_stays(database: &Database, parsed: &Parsed) -> bool {
    if given(parsed, database.reroutes) {
        return false;
    }
    let hosts = values(parsed, database.host_options);
    let mut uris: Vec<&Word> = values(parsed, database.uri_options)
        .into_iter()
        .filter(|w| names_a_server(&w.text))
        .collect();
    if database.uri_operands {
        uris.extend(parsed.operands.iter().filter(|w| names_a_server(&w.text)));
    }
    if hosts.is_empty() && uris.is_empty() {
        return database.loopback_by_default;
    }
    let plain = |w: &&Word| w.is_static && !w.glob;
    hosts.iter().all(|w| plain(w) && is_loopback_host(&w.text))
        && uris
            .iter()
            .all(|w| plain(w) && database_uri_host(&w.text).is_some_and(|h| is_loopback_host(&h)))
}

/// Whether a database name or URI option's value names a server: a URI, or a libpq
/// `key=value` connection string (`host=db dbname=x`), rather than a database's name.
fn names_a_server(text: &str) -> bool {
    text.contains("://") || text.contains('=')
}

/// The host of a PostgreSQL or Redis URI (`postgresql://user:pw@127.0.0.1:5432/db`,
/// `redis://localhost:6379/0`). `None` for a connection string, another scheme, several hosts,
/// or query parameters (libpq's `?host=` overrides the host the URI names).
fn database_uri_host(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(
        scheme.as_str(),
        "postgres" | "postgresql" | "redis" | "rediss"
    ) || rest.contains(['?', '#', ','])
    {
        return None;
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('\\') || authority.matches('@').count() > 1 {
        return None;
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_host_port(host_port)?;
    if port.is_some_and(|p| !is_port(p)) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

fn given(parsed: &Parsed, options: &[&str]) -> bool {
    parsed.flags.iter().any(|f| options.contains(&f.as_str()))
        || parsed
            .values
            .iter()
            .any(|v| options.contains(&v.option.as_str()))
}

fn client_stays(client: &Client, parsed: &Parsed) -> bool {
    if given(parsed, client.reroutes) {
        return false;
    }
    let mut operands = parsed.operands.iter().peekable();
    if client.method_first {
        operands.next_if(|w| w.is_static && is_method(&w.text));
    }
    let operands: Vec<&Word> = if client.first_operand_only {
        operands.take(1).collect()
    } else {
        operands.collect()
    };
    let options = parsed
        .values
        .iter()
        .filter(|v| client.destination_options.contains(&v.option.as_str()))
        .map(|v| &v.value);
    let destinations: Vec<&Word> = operands.into_iter().chain(options).collect();
    !destinations.is_empty()
        && destinations.iter().all(|w| {
            w.is_static
                && (!w.glob || globs_only_in_the_path(&w.text))
                && destination_host(&w.text, client.port_shorthand)
                    .is_some_and(|h| is_loopback_host(&h))
        })
}

fn listener_stays(listener: &Listener, parsed: &Parsed) -> bool {
    if given(parsed, listener.reroutes) {
        return false;
    }
    let binds = parsed
        .values
        .iter()
        .filter(|v| listener.bind_options.contains(&v.option.as_str()))
        .map(|v| &v.value);
    let bound_here = |w: &Word| w.is_static && bind_address_stays(&w.text);
    if !binds.clone().all(bound_here) {
        return false;
    }
    match listener.operands {
        ListenerOperands::Other => true,
        ListenerOperands::Port => parsed
            .operands
            .iter()
            .all(|w| w.is_static && is_port(&w.text)),
        ListenerOperands::Address => parsed.operands.iter().all(bound_here),
    }
}

/// Whether every glob character of an unquoted destination comes after the `/` that ends its
/// host (`http://localhost:4000/graphql?query=x`, as agents write it): the shell can only
/// replace such a word with names of files under `http:/localhost:4000/`, which name the same
/// host, so the host the client reaches is the one written. A glob before that slash
/// (`http://localhost?x`, `http://127.0.0.[1]`) could become another host and is judged as one.
fn globs_only_in_the_path(text: &str) -> bool {
    let Some(first_glob) = text.find(['*', '?', '[']) else {
        return true;
    };
    let host_starts = text.find("://").map_or(0, |i| i + 3);
    first_glob > host_starts
        && text[host_starts..]
            .find('/')
            .is_some_and(|slash| host_starts + slash < first_glob)
}

/// An HTTP method as httpie takes it before the URL.
fn is_method(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_uppercase())
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.chars().all(|c| c.is_ascii_digit())
}

/// The host a client's destination names: a URL (`http`, `https`, `ws`, `wss`), or without a
/// scheme `host[:port][/path]` as curl, wget and nc read it. `None` when it is not one of
/// these plain shapes (another scheme, a user part with more than one `@`, a backslash, a
/// character no host name has), which then counts as a host outside loopback.
pub(crate) fn destination_host(text: &str, port_shorthand: bool) -> Option<String> {
    let rest = match text.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if !matches!(scheme.as_str(), "http" | "https" | "ws" | "wss") {
                return None;
            }
            rest
        }
        None => text,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('\\') || authority.matches('@').count() > 1 {
        return None;
    }
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if port_shorthand && host_port.starts_with(':') && rest == text {
        // httpie: `:8000/api` is `localhost:8000/api`.
        let port = &host_port[1..];
        return (port.is_empty() || is_port(port)).then(|| "localhost".to_string());
    }
    let (host, port) = split_host_port(host_port)?;
    if port.is_some_and(|p| !is_port(p)) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, and a bare IPv6 address (no port).
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    if text.matches(':').count() > 1 {
        // A bare IPv6 address (nc's `::1`): no port can follow it.
        return Some((text, None));
    }
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    plain.then_some((host, port))
}

/// A listener's address: a port, a host, `host:port` or `[v6]:port`, whose host is plainly
/// loopback or every address (`0.0.0.0`, `::`), which inside the run's own network namespace
/// is its loopback.
fn bind_address_stays(text: &str) -> bool {
    if is_port(text) {
        return true;
    }
    let Some((host, port)) = split_host_port(text) else {
        return false;
    };
    port.is_none_or(is_port) && (is_loopback_host(host) || host == "0.0.0.0" || host == "::")
}

/// The plain loopback forms: `localhost`, a dotted-decimal `127.x.y.z` (four parts, no
/// leading zeros, which some parsers read as octal), and `::1` (bracketed or not).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&host);
    if host == "localhost" || host == "::1" {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.first() == Some(&"127")
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_counts_only_after_the_slash_that_ends_the_host() {
        for url in [
            "http://localhost:4000/graphql?query=%7B__typename%7D",
            "localhost:8080/api/*",
            "http://127.0.0.1/a[12].json",
        ] {
            assert!(globs_only_in_the_path(url), "{url}");
        }
        // Controls: a glob the shell could turn into another host.
        for url in [
            "http://localhost?x",
            "http://127.0.0.[1]/",
            "http://local*/x",
            "ht?p://localhost/",
            "localhost?",
            "*/x",
        ] {
            assert!(!globs_only_in_the_path(url), "{url}");
        }
    }

    #[test]
    fn only_the_plain_forms_are_loopback() {
        for host in [
            "localhost",
            "LocalHost",
            "127.0.0.1",
            "127.1.2.3",
            "127.255.255.254",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "localhost.",
            "localhost.evil.com",
            "foo.localhost",
            "127.0.0.1.nip.io",
            "0x7f.1",
            "0x7f000001",
            "2130706433",
            "0177.0.0.1",
            "127.0.0.01",
            "127.1",
            "127.0.0.256",
            "0.0.0.0",
            "::",
            "::ffff:127.0.0.1",
            "0:0:0:0:0:0:0:1",
            "10.0.0.1",
            "169.254.169.254",
            "example.com",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn a_destination_is_read_as_curl_reads_it_or_not_at_all() {
        let host = |t: &str| destination_host(t, false);
        assert_eq!(host("localhost:8000").as_deref(), Some("localhost"));
        assert_eq!(
            host("http://127.0.0.1:5000/x?y#z").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host("https://[::1]:8443/").as_deref(), Some("::1"));
        assert_eq!(host("http://u:p@localhost/").as_deref(), Some("localhost"));
        assert_eq!(host("localhost@evil.com").as_deref(), Some("evil.com"));
        assert_eq!(
            host("http://evil.com#@localhost").as_deref(),
            Some("evil.com")
        );
        assert_eq!(
            host("http://evil.com?@localhost").as_deref(),
            Some("evil.com")
        );
        assert_eq!(
            host("http://localhost.evil.com/").as_deref(),
            Some("localhost.evil.com")
        );
        for refused in [
            "ftp://localhost/",
            "file:///etc/passwd",
            "gopher://localhost:6379/_x",
            "http://a@b@localhost/",
            "http://localhost\\@evil.com/",
            "http://{localhost,evil.com}/",
            "http://localhost:80x/",
            "http://[::1/",
        ] {
            assert_eq!(host(refused), None, "{refused}");
        }
        assert_eq!(
            destination_host(":8000/api", true).as_deref(),
            Some("localhost")
        );
        assert_eq!(destination_host(":8000/api", false), None);
    }

    #[test]
    fn a_listener_binds_loopback_or_every_address() {
        for text in [
            "8000",
            "127.0.0.1",
            "localhost:8000",
            "0.0.0.0:8000",
            "::",
            "[::1]:8000",
            "::1",
        ] {
            assert!(bind_address_stays(text), "{text}");
        }
        for text in [
            "192.168.1.5",
            "10.0.0.1:8000",
            "example.com:80",
            "0x7f.1:80",
            "localhost:x",
        ] {
            assert!(!bind_address_stays(text), "{text}");
        }
    }
}
