//! The secret store: one file, readable only by the user, encrypted with a key kept in a
//! separate file (docs/secrets.md, "The store").
//!
//! The store file is `MAGIC ‖ nonce (24 bytes) ‖ XChaCha20-Poly1305(JSON document)`, with `MAGIC`
//! as associated data, sealed again with a fresh random nonce on every write. The key file holds
//! 32 random bytes as 64 hex digits and a newline. Both are mode 0600 and must belong to the
//! user: a file others can read or write is refused, as ssh refuses such a private key. Writes go
//! to a temporary file in the same directory, are synced, and are renamed over the store under
//! an exclusive lock, so a crash or a concurrent `set` never leaves a torn or lost update.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use nix::fcntl::{Flock, FlockArg};
use rand_core::{OsRng, RngCore as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::reference::{Reference, ResolveContext};
use crate::value::{SecretName, SecretValue};
use crate::SecretsError;

/// The first bytes of a store file; also the AEAD's associated data, so a change of format
/// cannot be passed off as this one.
const MAGIC: &[u8] = b"cordon-secrets v1\n";
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;
/// A store larger than this is refused before it is read.
const MAX_STORE_BYTES: u64 = 16 << 20;

/// One secret as the store keeps it: its value, or a reference resolved when a command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredSecret {
    Value(SecretValue),
    Reference(Reference),
}

impl StoredSecret {
    /// `value`, `env`, `file` or `cmd`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoredSecret::Value(_) => "value",
            StoredSecret::Reference(r) => r.kind(),
        }
    }

    /// The value now: the stored one, or the reference resolved.
    pub fn resolve(
        &self,
        name: &SecretName,
        context: &ResolveContext,
    ) -> Result<SecretValue, SecretsError> {
        match self {
            StoredSecret::Value(value) => Ok(value.clone()),
            StoredSecret::Reference(reference) => reference.resolve(name.as_str(), context),
        }
    }
}

/// The decrypted content of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    entries: BTreeMap<SecretName, StoredSecret>,
}

impl Secrets {
    pub fn get(&self, name: &SecretName) -> Option<&StoredSecret> {
        self.entries.get(name)
    }

    /// Names and kinds, in name order: what `cordon secret list` shows. Never values.
    pub fn list(&self) -> Vec<(SecretName, &'static str)> {
        self.entries
            .iter()
            .map(|(name, secret)| (name.clone(), secret.kind()))
            .collect()
    }

    /// Every value the store holds (not its references), with its name: for a redactor over
    /// every run, so that a value one command left in a file is also redacted when a later
    /// command, granted nothing, prints it.
    pub fn stored_values(&self) -> impl Iterator<Item = (&SecretName, &SecretValue)> {
        self.entries
            .iter()
            .filter_map(|(name, secret)| match secret {
                StoredSecret::Value(value) => Some((name, value)),
                StoredSecret::Reference(_) => None,
            })
    }

    /// The value of the secret called `name` now.
    pub fn resolve(
        &self,
        name: &str,
        context: &ResolveContext,
    ) -> Result<SecretValue, SecretsError> {
        let name = SecretName::new(name)?;
        self.get(&name)
            .ok_or_else(|| SecretsError::NotFound(name.to_string()))?
            .resolve(&name, context)
    }
}

/// The plaintext document inside the store file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    version: u32,
    secrets: BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Entry {
    /// The value, base64 (values are bytes).
    Value(String),
    Reference(String),
}

/// The store's two files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretStore {
    path: PathBuf,
    key_path: PathBuf,
}

impl SecretStore {
    /// A store at `path`, encrypted with the key at `key_path`. Nothing is read or created yet.
    pub fn new(path: impl Into<PathBuf>, key_path: impl Into<PathBuf>) -> SecretStore {
        SecretStore {
            path: path.into(),
            key_path: key_path.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// Decrypts the store. A store that does not exist yet is empty.
    pub fn load(&self) -> Result<Secrets, SecretsError> {
        if !self.path.exists() {
            return Ok(Secrets::default());
        }
        if !self.key_path.exists() {
            return Err(SecretsError::KeyMissing {
                path: self.path.clone(),
                key: self.key_path.clone(),
            });
        }
        let key = read_key(&self.key_path)?;
        let sealed = read_private(&self.path, MAX_STORE_BYTES)?;
        let plaintext = open(&key, &sealed).map_err(|e| match e {
            OpenError::Format(why) => SecretsError::Corrupt {
                path: self.path.clone(),
                why,
            },
            OpenError::Authentication => SecretsError::Decrypt {
                path: self.path.clone(),
                key: self.key_path.clone(),
            },
        })?;
        decode(&plaintext).map_err(|why| SecretsError::Corrupt {
            path: self.path.clone(),
            why,
        })
    }

    /// Adds or replaces the secret `name`. Creates the key (and the directories, mode 0700) on
    /// first use.
    pub fn set(&self, name: &SecretName, secret: StoredSecret) -> Result<(), SecretsError> {
        self.update(|secrets| {
            secrets.entries.insert(name.clone(), secret);
            Ok(())
        })
    }

    /// Removes the secret `name`; [`SecretsError::NotFound`] when there is none.
    pub fn remove(&self, name: &SecretName) -> Result<(), SecretsError> {
        self.update(|secrets| match secrets.entries.remove(name) {
            Some(_) => Ok(()),
            None => Err(SecretsError::NotFound(name.to_string())),
        })
    }

    /// Read, change and write back under the store's lock.
    fn update(
        &self,
        change: impl FnOnce(&mut Secrets) -> Result<(), SecretsError>,
    ) -> Result<(), SecretsError> {
        let dir = parent(&self.path);
        create_private_dir(dir)?;
        create_private_dir(parent(&self.key_path))?;
        let _lock = self.lock()?;
        if !self.path.exists() && !self.key_path.exists() {
            create_key(&self.key_path)?;
        }
        let mut secrets = self.load()?;
        change(&mut secrets)?;
        let key = read_key(&self.key_path)?;
        let plaintext = encode(&secrets)?;
        let sealed = seal(&key, &plaintext)?;
        write_private_atomically(&self.path, &sealed)
    }

    fn lock(&self) -> Result<Flock<File>, SecretsError> {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = self.path.with_file_name(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| SecretsError::io(&lock_path, e))?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| SecretsError::Io {
            path: lock_path,
            why: format!("cannot be locked: {errno}"),
        })
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), SecretsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| SecretsError::io(dir, e))
}

fn encode(secrets: &Secrets) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let document = Document {
        version: 1,
        secrets: secrets
            .entries
            .iter()
            .map(|(name, secret)| {
                let entry = match secret {
                    StoredSecret::Value(v) => Entry::Value(b64.encode(v.expose())),
                    StoredSecret::Reference(r) => Entry::Reference(r.to_text()),
                };
                (name.to_string(), entry)
            })
            .collect(),
    };
    serde_json::to_vec(&document)
        .map(Zeroizing::new)
        .map_err(|e| SecretsError::Corrupt {
            path: PathBuf::new(),
            why: format!("cannot be encoded: {e}"),
        })
}

/// The document's secrets, or why it is not a store document (never quoting it).
fn decode(plaintext: &[u8]) -> Result<Secrets, String> {
    let document: Document = serde_json::from_slice(plaintext).map_err(|e| {
        format!(
            "the decrypted document is malformed at line {}, column {}",
            e.line(),
            e.column()
        )
    })?;
    if document.version != 1 {
        return Err(format!("version {} is not supported", document.version));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut entries = BTreeMap::new();
    for (name, entry) in document.secrets {
        let name = SecretName::new(&name).map_err(|e| e.to_string())?;
        let secret = match entry {
            Entry::Value(encoded) => {
                let bytes = b64
                    .decode(encoded)
                    .map_err(|_| format!("the value of `{name}` is not base64"))?;
                StoredSecret::Value(
                    SecretValue::new(name.as_str(), bytes).map_err(|e| e.to_string())?,
                )
            }
            Entry::Reference(text) => {
                StoredSecret::Reference(Reference::parse(&text).map_err(|e| e.to_string())?)
            }
        };
        entries.insert(name, secret);
    }
    Ok(Secrets { entries })
}

enum OpenError {
    Format(String),
    Authentication,
}

fn seal(key: &[u8; KEY_BYTES], plaintext: &[u8]) -> Result<Vec<u8>, SecretsError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE_BYTES];
    OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: MAGIC,
            },
        )
        .map_err(|_| SecretsError::Corrupt {
            path: PathBuf::new(),
            why: "the document cannot be encrypted".into(),
        })?;
    let mut out = Vec::with_capacity(MAGIC.len() + NONCE_BYTES + sealed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn open(key: &[u8; KEY_BYTES], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let rest = sealed
        .strip_prefix(MAGIC)
        .ok_or_else(|| OpenError::Format("it does not start with the store's header".into()))?;
    if rest.len() < NONCE_BYTES + 16 {
        return Err(OpenError::Format("it is too short".into()));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
    XChaCha20Poly1305::new(key.into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: MAGIC,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Authentication)
}

fn create_key(path: &Path) -> Result<(), SecretsError> {
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    OsRng.fill_bytes(&mut key[..]);
    let mut text = Zeroizing::new(hex::encode(&key[..]));
    text.push('\n');
    let file = private_temp_file(path, text.as_bytes())?;
    // Never replaces a key: a store sealed with the old one would become unreadable.
    file.persist_noclobber(path)
        .map_err(|e| SecretsError::io(path, e.error))?;
    sync_dir(parent(path))
}

fn read_key(path: &Path) -> Result<Zeroizing<[u8; KEY_BYTES]>, SecretsError> {
    let text = read_private(path, 1024)?;
    let bad = |why: &str| SecretsError::BadKey {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    let text = std::str::from_utf8(&text).map_err(|_| bad("it is not text"))?;
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    hex::decode_to_slice(text.trim_end_matches('\n'), &mut key[..])
        .map_err(|_| bad("it must hold 64 hex digits (32 bytes)"))?;
    Ok(key)
}

/// Reads a file that must be the user's own and not open to others.
fn read_private(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
    use std::io::Read as _;
    let file = File::open(path).map_err(|e| SecretsError::io(path, e))?;
    let meta = file.metadata().map_err(|e| SecretsError::io(path, e))?;
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(SecretsError::ForeignOwner {
            path: path.to_path_buf(),
        });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(SecretsError::InsecureMode {
            path: path.to_path_buf(),
            mode: meta.mode() & 0o777,
        });
    }
    if meta.len() > limit {
        return Err(SecretsError::Io {
            path: path.to_path_buf(),
            why: format!("it is larger than {limit} bytes"),
        });
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| SecretsError::io(path, e))?;
    Ok(bytes)
}

/// A synced temporary file, mode 0600, beside `path`.
fn private_temp_file(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, SecretsError> {
    let mut file = tempfile::Builder::new()
        .prefix(".secrets-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .tempfile_in(parent(path))
        .map_err(|e| SecretsError::io(parent(path), e))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|e| SecretsError::io(file.path(), e))?;
    Ok(file)
}

fn write_private_atomically(path: &Path, bytes: &[u8]) -> Result<(), SecretsError> {
    let file = private_temp_file(path, bytes)?;
    file.persist(path)
        .map_err(|e| SecretsError::io(path, e.error))?;
    sync_dir(parent(path))
}

fn sync_dir(dir: &Path) -> Result<(), SecretsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SecretsError::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_any_changed_byte_is_refused() {
        let key = [7u8; KEY_BYTES];
        let sealed = seal(&key, b"{\"a\":1}").unwrap();
        assert_eq!(&open(&key, &sealed).ok().unwrap()[..], b"{\"a\":1}");
        for i in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert!(open(&key, &changed).is_err(), "byte {i}");
        }
        assert!(matches!(
            open(&[8u8; KEY_BYTES], &sealed),
            Err(OpenError::Authentication)
        ));
        // Two seals of the same document differ: the nonce is fresh each time.
        assert_ne!(seal(&key, b"x").unwrap(), seal(&key, b"x").unwrap());
    }
}
