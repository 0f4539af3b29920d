//! Ed25519 keys in the formats csc-runner reads, key generation, and the key ring.
//!
//! Private keys load from a 32-byte raw seed, a 64-byte seed‖public key, or an unencrypted PKCS#8
//! PEM (what `openssl genpkey -algorithm ed25519` writes); public keys are raw 32 bytes. That is
//! exactly csc-runner's set, so a key pair works with both tools.
//!
//! The key ring exists because keys rotate: each public key gets a validity window, and a receipt
//! verifies only if its authenticated `signed_at` lies inside the window of the key it names. Old
//! receipts keep verifying after rotation, and a retired key cannot mint new-looking receipts.
//!
//! Private key material never reaches `Debug`, logs or errors; `ed25519_dalek::SigningKey`
//! zeroizes itself on drop.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::JournalError;
use crate::time_fmt;
use cordon_core::file::Durability;

/// A private key together with the key id it signs under.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field(
                "public_key",
                &hex::encode(self.key.verifying_key().as_bytes()),
            )
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from an already-parsed key.
    pub fn new(key: SigningKey, key_id: impl Into<String>) -> Result<Self, JournalError> {
        let key_id = key_id.into();
        if key_id.is_empty() {
            return Err(JournalError::Key("a key id must not be empty".into()));
        }
        Ok(Signer { key, key_id })
    }

    /// A signer from private key bytes in any format csc-runner accepts (see [`parse_private_key`]).
    pub fn from_bytes(bytes: &[u8], key_id: impl Into<String>) -> Result<Self, JournalError> {
        Signer::new(parse_private_key(bytes)?, key_id)
    }

    /// Reads a private key file.
    pub fn from_file(path: &Path, key_id: impl Into<String>) -> Result<Self, JournalError> {
        let bytes = fs::read(path).map_err(|e| JournalError::io(path, &e))?;
        Signer::from_bytes(&bytes, key_id)
            .map_err(|e| JournalError::Key(format!("{}: {e}", path.display())))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }
}

/// Parses a private key: 32-byte raw seed, 64-byte seed‖public key, or PKCS#8 PEM.
///
/// Unlike csc-runner, a 64-byte key whose second half is not the public key of its first half is
/// refused: such a file is damaged or was assembled by mistake.
pub fn parse_private_key(bytes: &[u8]) -> Result<SigningKey, JournalError> {
    if bytes.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| JournalError::Key("the PEM private key is not UTF-8".into()))?;
        if !text.contains("-----BEGIN PRIVATE KEY-----") {
            return Err(JournalError::Key(
                "expected an unencrypted PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)".into(),
            ));
        }
        return SigningKey::from_pkcs8_pem(text)
            .map_err(|_| JournalError::Key("the PEM is not an Ed25519 PKCS#8 private key".into()));
    }
    match bytes.len() {
        32 => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(bytes);
            Ok(SigningKey::from_bytes(&seed))
        }
        64 => {
            let mut seed = [0u8; 32];
            seed.copy_from_slice(&bytes[..32]);
            let key = SigningKey::from_bytes(&seed);
            if key.verifying_key().as_bytes()[..] != bytes[32..] {
                return Err(JournalError::Key(
                    "the 64-byte private key's second half is not the public key of its first half"
                        .into(),
                ));
            }
            Ok(key)
        }
        n => Err(JournalError::Key(format!(
            "a private key is a 32-byte seed, a 64-byte seed and public key, or a PKCS#8 PEM; got {n} bytes"
        ))),
    }
}

/// Parses a raw 32-byte Ed25519 public key.
pub fn parse_public_key(bytes: &[u8]) -> Result<VerifyingKey, JournalError> {
    let raw: [u8; 32] = bytes
        .try_into()
        .map_err(|_| JournalError::Key("An Ed25519 public key is 32 bytes long".into()))?;
    VerifyingKey::from_bytes(&raw)
        .map_err(|_| JournalError::Key("the 32 bytes are not a valid Ed25519 public key".into()))
}

/// Strict Ed25519 verification of a raw signature (`verify_strict`: rejects small-order keys and
/// `R`, and non-canonical `s`). Every signature check in this crate goes through here.
pub fn verify_ed25519(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(raw) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&raw))
        .is_ok()
}

/// Reads a raw 32-byte public key file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, JournalError> {
    let bytes = fs::read(path).map_err(|e| JournalError::io(path, &e))?;
    parse_public_key(&bytes).map_err(|e| JournalError::Key(format!("{}: {e}", path.display())))
}

/// The default key id for a public key: `ed25519-` and the first 8 bytes of its SHA-256, in hex.
pub fn default_key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("ed25519-{}", hex::encode(&digest[..8]))
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratedKey {
    pub key_id: String,
    pub private_key_path: PathBuf,
    pub public_key_path: PathBuf,
    pub key_id_path: PathBuf,
    pub public_key_b64: String,
}

/// Generates a key pair into `dir`: `<id>.pem` (PKCS#8, mode 0600), `<id>.pub` (raw 32 bytes)
/// and `<id>.keyid` (the key id and a newline). Existing files are never overwritten, and a
/// half-written private key is never visible under its final name.
pub fn generate(dir: &Path, key_id: Option<&str>) -> Result<GeneratedKey, JournalError> {
    let mut csprng = rand_core::OsRng;
    let key = SigningKey::generate(&mut csprng);
    let verifying = key.verifying_key();
    let key_id = match key_id {
        Some(id) => id.to_string(),
        None => default_key_id(&verifying),
    };
    if key_id.is_empty() || key_id.contains(['/', '\0']) || key_id.starts_with('.') {
        return Err(JournalError::Key(format!(
            "key id {key_id:?} cannot name a file: use letters, digits, '-', '_' or '.'"
        )));
    }
    fs::create_dir_all(dir).map_err(|e| JournalError::io(dir, &e))?;
    let pem = key
        .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map_err(|_| JournalError::Key("could not encode the private key as PKCS#8".into()))?;
    let private_key_path = dir.join(format!("{key_id}.pem"));
    let public_key_path = dir.join(format!("{key_id}.pub"));
    let key_id_path = dir.join(format!("{key_id}.keyid"));
    for path in [&private_key_path, &public_key_path, &key_id_path] {
        if path.exists() {
            return Err(JournalError::Key(format!(
                "{}: already exists; refusing to overwrite a key",
                path.display()
            )));
        }
    }
    write_new_file(
        &private_key_path,
        pem.as_bytes(),
        0o600,
        Durability::Durable,
    )?;
    write_new_file(
        &public_key_path,
        verifying.as_bytes(),
        0o644,
        Durability::Durable,
    )?;
    write_new_file(
        &key_id_path,
        format!("{key_id}\n").as_bytes(),
        0o644,
        Durability::Durable,
    )?;
    Ok(GeneratedKey {
        key_id,
        private_key_path,
        public_key_path,
        key_id_path,
        public_key_b64: STANDARD.encode(verifying.as_bytes()),
    })
}

/// Writes `bytes` to a temporary file created with `mode`, fsyncs it, then links it to `path`
/// (which fails if `path` exists) and, with [`Durability::Durable`], fsyncs the directory.
pub(crate) fn write_new_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    durability: Durability,
) -> Result<(), JournalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tmp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|e| JournalError::io(&tmp, &e))?;
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| JournalError::io(&tmp, &e))
        .and_then(|()| fs::hard_link(&tmp, path).map_err(|e| JournalError::io(path, &e)));
    let _ = fs::remove_file(&tmp);
    result?;
    match durability {
        Durability::Durable => sync_dir(dir),
        Durability::Atomic => Ok(()),
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut nonce = [0u8; 6];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp", hex::encode(nonce)))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, &e))
}

/// One public key and the window in which it may have signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingKey {
    pub key_id: String,
    /// Always `ed25519` today; present so the file format can grow.
    pub algorithm: String,
    /// Standard base64 of the raw 32-byte public key.
    pub public_key: String,
    /// RFC 3339; `signed_at` must be at or after it. Absent: no lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    /// RFC 3339; `signed_at` must be strictly before it. Absent: the key is current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
}

/// The key ring file: `{"keyring_version":"cordon.keyring.v1","keys":[RingKey…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRingFile {
    keyring_version: String,
    keys: Vec<RingKey>,
}

const KEYRING_VERSION: &str = "cordon.keyring.v1";

#[derive(Debug, Clone)]
struct ParsedKey {
    /// `None`: the key answers to any key id (`--public-key` given without `--key-id`).
    key_id: Option<String>,
    key: VerifyingKey,
    not_before: Option<OffsetDateTime>,
    not_after: Option<OffsetDateTime>,
}

/// Public keys by id, each with a validity window. Several entries may share an id (a key
/// re-issued under the same name); a signature verifies if any of them accepts it.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<ParsedKey>,
}

impl KeyRing {
    pub fn new() -> Self {
        KeyRing::default()
    }

    /// A ring with one key valid at all times (what `--public-key PUB --key-id ID` means).
    pub fn single(key_id: impl Into<String>, key: VerifyingKey) -> Self {
        let mut ring = KeyRing::new();
        ring.insert(key_id, key, None, None);
        ring
    }

    pub fn insert(
        &mut self,
        key_id: impl Into<String>,
        key: VerifyingKey,
        not_before: Option<OffsetDateTime>,
        not_after: Option<OffsetDateTime>,
    ) {
        self.keys.push(ParsedKey {
            key_id: Some(key_id.into()),
            key,
            not_before,
            not_after,
        });
    }

    /// A ring with one key that answers to every key id, valid at all times. For an auditor who
    /// holds the public key but not the name it was used under.
    pub fn any_id(key: VerifyingKey) -> Self {
        KeyRing {
            keys: vec![ParsedKey {
                key_id: None,
                key,
                not_before: None,
                not_after: None,
            }],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses a key ring file's bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, JournalError> {
        let file: KeyRingFile = serde_json::from_slice(bytes)
            .map_err(|e| JournalError::Key(format!("key ring: {e}")))?;
        if file.keyring_version != KEYRING_VERSION {
            return Err(JournalError::Key(format!(
                "key ring: keyring_version must be {KEYRING_VERSION:?}, got {:?}",
                file.keyring_version
            )));
        }
        let mut ring = KeyRing::new();
        for (i, k) in file.keys.iter().enumerate() {
            let at = |field: &str, e: String| {
                JournalError::Key(format!("key ring: keys[{i}].{field}: {e}"))
            };
            if k.key_id.is_empty() {
                return Err(at("key_id", "must not be empty".into()));
            }
            if k.algorithm != "ed25519" {
                return Err(at(
                    "algorithm",
                    format!("must be \"ed25519\", got {:?}", k.algorithm),
                ));
            }
            let raw = STANDARD
                .decode(&k.public_key)
                .map_err(|_| at("public_key", "is not standard base64".into()))?;
            let key = parse_public_key(&raw).map_err(|e| at("public_key", e.to_string()))?;
            let parse =
                |field: &str, v: &Option<String>| -> Result<Option<OffsetDateTime>, JournalError> {
                    v.as_deref()
                        .map(|s| {
                            time_fmt::parse(s)
                                .ok_or_else(|| at(field, format!("{s:?} is not an RFC 3339 time")))
                        })
                        .transpose()
                };
            let not_before = parse("not_before", &k.not_before)?;
            let not_after = parse("not_after", &k.not_after)?;
            if let (Some(a), Some(b)) = (not_before, not_after) {
                if a >= b {
                    return Err(at("not_after", "must be later than not_before".into()));
                }
            }
            ring.insert(k.key_id.clone(), key, not_before, not_after);
        }
        Ok(ring)
    }

    /// Reads a key ring file.
    pub fn from_file(path: &Path) -> Result<Self, JournalError> {
        let bytes = fs::read(path).map_err(|e| JournalError::io(path, &e))?;
        KeyRing::from_json(&bytes)
            .map_err(|e| JournalError::Key(format!("{}: {e}", path.display())))
    }

    /// Serializes the ring in the documented file format.
    pub fn to_json(&self) -> Result<String, JournalError> {
        let file = KeyRingFile {
            keyring_version: KEYRING_VERSION.into(),
            keys: self
                .keys
                .iter()
                .map(|k| RingKey {
                    key_id: k.key_id.clone().unwrap_or_else(|| "*".into()),
                    algorithm: "ed25519".into(),
                    public_key: STANDARD.encode(k.key.as_bytes()),
                    not_before: k.not_before.map(time_fmt::format),
                    not_after: k.not_after.map(time_fmt::format),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&file).map_err(|e| JournalError::Key(e.to_string()))
    }

    /// Keys registered under `key_id`, whatever their window.
    pub(crate) fn candidates<'a>(
        &'a self,
        key_id: &'a str,
    ) -> impl Iterator<Item = (&'a VerifyingKey, Window)> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.key_id.as_deref().is_none_or(|id| id == key_id))
            .map(|k| {
                (
                    &k.key,
                    Window {
                        not_before: k.not_before,
                        not_after: k.not_after,
                    },
                )
            })
    }

    /// Keys that are not retired (no `not_after`): the only ones whose checkpoints fast
    /// verification lets stand in for per-entry signatures.
    pub(crate) fn current(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys
            .iter()
            .filter(|k| k.not_after.is_none())
            .map(|k| &k.key)
    }

    /// Every key in the ring (checkpoint notes name keys by note key id, not by ring id).
    pub(crate) fn all(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.iter().map(|k| &k.key)
    }
}

/// A key's validity window: `not_before <= t < not_after`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    not_before: Option<OffsetDateTime>,
    not_after: Option<OffsetDateTime>,
}

impl Window {
    pub(crate) fn is_unbounded(&self) -> bool {
        self.not_before.is_none() && self.not_after.is_none()
    }

    pub(crate) fn contains(&self, t: OffsetDateTime) -> bool {
        self.not_before.is_none_or(|nb| t >= nb) && self.not_after.is_none_or(|na| t < na)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];

    #[test]
    fn loads_the_three_private_formats_to_the_same_key() {
        let raw = parse_private_key(&SEED).unwrap();
        let mut full = SEED.to_vec();
        full.extend_from_slice(raw.verifying_key().as_bytes());
        let from64 = parse_private_key(&full).unwrap();
        let pem = raw
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        let from_pem = parse_private_key(pem.as_bytes()).unwrap();
        assert_eq!(raw.to_bytes(), from64.to_bytes());
        assert_eq!(raw.to_bytes(), from_pem.to_bytes());
        assert_eq!(
            hex::encode(raw.verifying_key().as_bytes()),
            "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
        );
    }

    #[test]
    fn refuses_wrong_lengths_and_mismatched_halves() {
        assert!(parse_private_key(&[0u8; 31]).is_err());
        assert!(parse_private_key(&[0u8; 64]).is_err());
        assert!(parse_public_key(&[0u8; 33]).is_err());
        let err = parse_public_key(&[1u8; 31]).unwrap_err().to_string();
        assert_eq!(err, "An Ed25519 public key is 32 bytes long");
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let signer = Signer::from_bytes(&SEED, "k").unwrap();
        let text = format!("{signer:?}");
        assert!(!text.contains(&hex::encode(SEED)), "{text}");
        assert!(text.contains("03a107bf"), "{text}");
    }

    #[test]
    fn generate_writes_0600_pem_and_raw_public_key_and_refuses_to_overwrite() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let g = generate(dir.path(), Some("test-key")).unwrap();
        let mode = fs::metadata(&g.private_key_path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let signer = Signer::from_file(&g.private_key_path, "test-key").unwrap();
        let public = read_public_key(&g.public_key_path).unwrap();
        assert_eq!(signer.verifying_key(), public);
        assert_eq!(fs::read_to_string(&g.key_id_path).unwrap(), "test-key\n");
        assert!(generate(dir.path(), Some("test-key")).is_err());
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn key_ring_round_trips_and_checks_windows() {
        let key = SigningKey::from_bytes(&SEED).verifying_key();
        let json = format!(
            r#"{{"keyring_version":"cordon.keyring.v1","keys":[{{"key_id":"k1","algorithm":"ed25519","public_key":"{}","not_before":"2026-01-01T00:00:00Z","not_after":"2026-07-01T00:00:00Z"}}]}}"#,
            STANDARD.encode(key.as_bytes())
        );
        let ring = KeyRing::from_json(json.as_bytes()).unwrap();
        let (_, w) = ring.candidates("k1").next().unwrap();
        assert!(w.contains(time_fmt::parse("2026-01-01T00:00:00Z").unwrap()));
        assert!(w.contains(time_fmt::parse("2026-06-30T23:59:59.999999+00:00").unwrap()));
        assert!(!w.contains(time_fmt::parse("2026-07-01T00:00:00Z").unwrap()));
        assert!(!w.contains(time_fmt::parse("2025-12-31T23:59:59Z").unwrap()));
        let again = KeyRing::from_json(ring.to_json().unwrap().as_bytes()).unwrap();
        assert_eq!(again.keys.len(), 1);
        assert!(KeyRing::from_json(br#"{"keyring_version":"cordon.keyring.v1","keys":[{"key_id":"k","algorithm":"rsa","public_key":""}]}"#).is_err());
    }
}
