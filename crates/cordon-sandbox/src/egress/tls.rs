//! Reading the server name out of a tunnel's first bytes: the TLS ClientHello.
//!
//! The record and handshake framing is five and four bytes of lengths; the ClientHello itself and
//! its extensions are parsed by `tls-parser` (rusticata). A ClientHello may span several records
//! (large post-quantum key shares), so handshake fragments are joined before parsing. Anything
//! that is not a well-formed ClientHello within [`MAX_HELLO_BYTES`] is "not TLS".

use tls_parser::{
    parse_tls_client_hello_extensions, parse_tls_handshake_client_hello, SNIType, TlsExtension,
    TlsExtensionType,
};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::decision::Refusal;

/// A ClientHello larger than this is refused (real ones are under 4 KiB).
pub const MAX_HELLO_BYTES: usize = 64 * 1024;

const RECORD_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Encrypted Client Hello (RFC 9849); its outer server name is a decoy by design.
const EXTENSION_ECH: u16 = 0xfe0d;

/// What a ClientHello says about where it is going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloFacts {
    /// The one `host_name` of the server_name extension, as sent.
    pub server_name: Option<String>,
    /// ECH or the older ESNI extension is present.
    pub encrypted_server_name: bool,
}

/// How far a byte prefix gets towards a ClientHello.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloParse {
    Complete(HelloFacts),
    NeedMore,
    NotTls,
}

/// Parses the ClientHello at the start of `bytes`, if it is all there.
pub fn parse_client_hello(bytes: &[u8]) -> HelloParse {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.len() < 5 {
            return HelloParse::NeedMore;
        }
        let (content_type, major) = (rest[0], rest[1]);
        let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if content_type != RECORD_HANDSHAKE || major != 3 || length == 0 || length > 16384 + 2048 {
            return HelloParse::NotTls;
        }
        let Some(fragment) = rest.get(5..5 + length) else {
            return HelloParse::NeedMore;
        };
        handshake.extend_from_slice(fragment);
        rest = &rest[5 + length..];
        if handshake.len() < 4 {
            continue;
        }
        if handshake[0] != HANDSHAKE_CLIENT_HELLO {
            return HelloParse::NotTls;
        }
        let body_len = usize::from(handshake[1]) << 16
            | usize::from(handshake[2]) << 8
            | usize::from(handshake[3]);
        if body_len + 4 > MAX_HELLO_BYTES {
            return HelloParse::NotTls;
        }
        if handshake.len() >= body_len + 4 {
            return match facts(&handshake[4..4 + body_len]) {
                Some(f) => HelloParse::Complete(f),
                None => HelloParse::NotTls,
            };
        }
    }
}

fn facts(body: &[u8]) -> Option<HelloFacts> {
    let (_, hello) = parse_tls_handshake_client_hello(body).ok()?;
    let extensions = match hello.ext {
        Some(raw) => parse_tls_client_hello_extensions(raw).ok()?.1,
        None => Vec::new(),
    };
    let mut server_names = Vec::new();
    let mut encrypted = false;
    for extension in &extensions {
        match extension {
            TlsExtension::SNI(names) => {
                for (kind, name) in names {
                    if *kind == SNIType::HostName {
                        server_names.push(String::from_utf8(name.to_vec()).ok()?);
                    }
                }
            }
            TlsExtension::EncryptedServerName { .. } => encrypted = true,
            TlsExtension::Unknown(TlsExtensionType(EXTENSION_ECH), _) => encrypted = true,
            _ => {}
        }
    }
    // Two names in one ClientHello is malformed (RFC 6066 allows one per type).
    if server_names.len() > 1 {
        return None;
    }
    Some(HelloFacts {
        server_name: server_names.pop(),
        encrypted_server_name: encrypted,
    })
}

/// Reads from `stream` into `buffer` until a whole ClientHello has arrived.
pub async fn read_client_hello<R: AsyncRead + Unpin>(
    stream: &mut R,
    buffer: &mut Vec<u8>,
) -> Result<HelloFacts, Refusal> {
    let mut chunk = [0u8; 4096];
    loop {
        match parse_client_hello(buffer) {
            HelloParse::Complete(facts) => return Ok(facts),
            HelloParse::NotTls => return Err(Refusal::NotTls),
            HelloParse::NeedMore if buffer.len() >= MAX_HELLO_BYTES + 5 => {
                return Err(Refusal::NotTls)
            }
            HelloParse::NeedMore => {}
        }
        let n = stream.read(&mut chunk).await.map_err(|_| Refusal::NotTls)?;
        if n == 0 {
            return Err(Refusal::NotTls);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_rustls::rustls;

    use super::*;

    /// A real ClientHello, as rustls sends it, for `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn the_server_name_of_a_real_client_hello_is_read() {
        let bytes = client_hello("registry.npmjs.org");
        let expected = HelloFacts {
            server_name: Some("registry.npmjs.org".into()),
            encrypted_server_name: false,
        };
        assert_eq!(parse_client_hello(&bytes), HelloParse::Complete(expected));
        for cut in [0, 3, 5, 40, bytes.len() - 1] {
            assert_eq!(
                parse_client_hello(&bytes[..cut]),
                HelloParse::NeedMore,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_hello_split_over_records_is_joined() {
        let bytes = client_hello("files.pythonhosted.org");
        let body = &bytes[5..];
        let split = 100;
        let mut two = Vec::new();
        for part in [&body[..split], &body[split..]] {
            two.extend_from_slice(&[22, 3, 1]);
            two.extend_from_slice(&(part.len() as u16).to_be_bytes());
            two.extend_from_slice(part);
        }
        match parse_client_hello(&two) {
            HelloParse::Complete(f) => {
                assert_eq!(f.server_name.as_deref(), Some("files.pythonhosted.org"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anything_else_is_not_tls() {
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            HelloParse::NotTls
        );
        assert_eq!(
            parse_client_hello(b"SSH-2.0-OpenSSH_9.6\r\n"),
            HelloParse::NotTls
        );
        // A handshake record that is not a ClientHello (a ServerHello, type 2).
        assert_eq!(
            parse_client_hello(&[22, 3, 3, 0, 4, 2, 0, 0, 0]),
            HelloParse::NotTls
        );
        // A ClientHello whose body is garbage.
        assert_eq!(
            parse_client_hello(&[22, 3, 3, 0, 6, 1, 0, 0, 2, 9, 9]),
            HelloParse::NotTls
        );
    }

    #[test]
    fn an_encrypted_client_hello_extension_is_reported() {
        let mut bytes = client_hello("a.example");
        // Append an empty ECH extension: grow the extensions block, the handshake body and the
        // record by its four bytes.
        bytes.extend_from_slice(&[0xfe, 0x0d, 0, 0]);
        let grow = |hi: usize, width: usize, bytes: &mut Vec<u8>| {
            let mut v = 0usize;
            for i in 0..width {
                v = v << 8 | usize::from(bytes[hi + i]);
            }
            v += 4;
            for i in 0..width {
                bytes[hi + i] = (v >> (8 * (width - 1 - i))) as u8;
            }
        };
        grow(3, 2, &mut bytes); // record length
        grow(6, 3, &mut bytes); // handshake length
                                // The extensions length sits right before the extensions; find it from the body.
        let body = &bytes[9..];
        let session_len = usize::from(body[34]);
        let suites_at = 35 + session_len;
        let suites_len = usize::from(u16::from_be_bytes([body[suites_at], body[suites_at + 1]]));
        let comp_at = suites_at + 2 + suites_len;
        let ext_len_at = 9 + comp_at + 1 + usize::from(body[comp_at]);
        grow(ext_len_at, 2, &mut bytes);
        match parse_client_hello(&bytes) {
            HelloParse::Complete(f) => assert!(f.encrypted_server_name, "{f:?}"),
            other => panic!("{other:?}"),
        }
    }
}
