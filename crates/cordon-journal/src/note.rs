//! C2SP signed notes and `tlog-checkpoint` checkpoints.
//!
//! A checkpoint is the journal's signed commitment to its first `size` entries: the note body
//! `origin\nsize\nbase64(root)\n`, a blank line, and `— <name> base64(keyid[4] ‖ sig[64])` lines,
//! where the Ed25519 key id is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. Using the C2SP formats
//! unchanged means an auditor can check a cordon journal with any signed-note implementation
//! (Go's `sumdb/note`, `signed_note` in Rust) or twenty lines of Python, without cordon.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest as _, Sha256};

use crate::error::JournalError;
use crate::keys::{KeyRing, Signer};
use crate::merkle::Hash;

/// The signature-line prefix: EM DASH (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// C2SP signed-note signature type for Ed25519.
const ED25519_TYPE: u8 = 0x01;

/// The 4-byte note key id of an Ed25519 key under `name`.
pub fn key_hash(name: &str, key: &VerifyingKey) -> [u8; 4] {
    typed_key_hash(name, ED25519_TYPE, key)
}

/// The C2SP verifier key string `name+hex(keyid)+base64(0x01 ‖ key)`.
pub fn vkey(name: &str, key: &VerifyingKey) -> String {
    typed_vkey(name, ED25519_TYPE, key)
}

/// Parses a verifier key string into its name and key, checking the embedded key id.
pub fn parse_vkey(text: &str) -> Result<(String, VerifyingKey), JournalError> {
    parse_typed_vkey(
        text,
        "verifier key",
        ED25519_TYPE,
        "only Ed25519 (type 0x01) keys are supported",
    )
}

/// The 4-byte key id of `key` under `name` for signatures of type `key_type`:
/// SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
pub(crate) fn typed_key_hash(name: &str, key_type: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0a, key_type]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The C2SP verifier key string `name+hex(keyid)+base64(type ‖ key)`.
pub(crate) fn typed_vkey(name: &str, key_type: u8, key: &VerifyingKey) -> String {
    let mut typed = vec![key_type];
    typed.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{}+{}",
        hex::encode(typed_key_hash(name, key_type, key)),
        STANDARD.encode(typed)
    )
}

/// Parses a verifier key string of signature type `key_type` into its name and key, checking the
/// embedded key id. Errors begin with `what`; a key of another type is refused with `wrong_type`.
pub(crate) fn parse_typed_vkey(
    text: &str,
    what: &str,
    key_type: u8,
    wrong_type: &str,
) -> Result<(String, VerifyingKey), JournalError> {
    let bad = |why: &str| JournalError::Format(format!("{what}: {why}"));
    let mut parts = text.trim_end().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected name+keyid+key"));
    };
    let typed = STANDARD
        .decode(key)
        .map_err(|_| bad("the key is not base64"))?;
    if typed.len() != 33 || typed[0] != key_type {
        return Err(bad(wrong_type));
    }
    let key = crate::keys::parse_public_key(&typed[1..])?;
    if hex::encode(typed_key_hash(name, key_type, &key)) != id {
        return Err(bad("the key id does not match the name and key"));
    }
    Ok((name.to_string(), key))
}

/// Checks a key name as signed-note requires: non-empty, no whitespace, no `+`.
fn check_name(name: &str) -> Result<(), JournalError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(JournalError::Format(format!(
            "a note key name must be non-empty and contain no spaces or '+': {name:?}"
        )));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: [u8; 4],
    pub signature: Vec<u8>,
}

/// A parsed signed note: the signed text and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Everything up to and including the newline before the blank line; what signatures cover.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note.
    pub fn parse(note: &str) -> Result<Note, JournalError> {
        let bad = |why: &str| JournalError::Format(format!("signed note: {why}"));
        if !note.ends_with('\n') {
            return Err(bad("it must end with a newline"));
        }
        if note.chars().any(|c| c != '\n' && c.is_control()) {
            return Err(bad("it contains a control character"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("there is no blank line before the signatures"))?;
        let text = &note[..split + 1];
        let sigs = &note[split + 2..];
        let mut signatures = Vec::new();
        for line in sigs.split_terminator('\n') {
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| bad("a signature line must start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line must be '— name signature'"))?;
            check_name(name)?;
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| bad("a signature is not standard base64"))?;
            if raw.len() < 5 {
                return Err(bad("a signature is too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_hash: [raw[0], raw[1], raw[2], raw[3]],
                signature: raw[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(bad("it has no signature lines"));
        }
        Ok(Note {
            text: text.to_string(),
            signatures,
        })
    }

    /// Signs `text` (which must end with a newline) as a note by `name`.
    pub fn sign(text: &str, name: &str, signer: &Signer) -> Result<String, JournalError> {
        check_name(name)?;
        if !text.ends_with('\n') || text.contains("\n\n") || text.starts_with('\n') {
            return Err(JournalError::Format(
                "note text must be non-empty lines, each ending with a newline".into(),
            ));
        }
        let mut raw = key_hash(name, &signer.verifying_key()).to_vec();
        raw.extend_from_slice(&signer.sign(text.as_bytes()));
        Ok(format!(
            "{text}\n{SIG_PREFIX}{name} {}\n",
            STANDARD.encode(raw)
        ))
    }

    /// True if some signature line is by `name` under `key` and verifies (strictly).
    pub fn verified_by(&self, name: &str, key: &VerifyingKey) -> bool {
        let id = key_hash(name, key);
        self.signatures.iter().any(|s| {
            s.name == name
                && s.key_hash == id
                && crate::keys::verify_ed25519(key, self.text.as_bytes(), &s.signature)
        })
    }
}

/// The body of a C2SP `tlog-checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Optional extension lines after the root, kept verbatim.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text this checkpoint signs.
    pub fn body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Signs the checkpoint as a note named by its origin.
    pub fn sign(&self, signer: &Signer) -> Result<String, JournalError> {
        Note::sign(&self.body(), &self.origin, signer)
    }

    /// Parses a checkpoint note text (the part signatures cover).
    pub fn parse_body(text: &str) -> Result<Checkpoint, JournalError> {
        let bad = |why: &str| JournalError::Format(format!("checkpoint: {why}"));
        let mut lines = text.split_terminator('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("the origin line is missing"))?;
        let size_text = lines
            .next()
            .ok_or_else(|| bad("the tree size line is missing"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(bad(
                "the tree size must be a decimal number without leading zeros",
            ));
        }
        let size: u64 = size_text
            .parse()
            .map_err(|_| bad("the tree size does not fit 64 bits"))?;
        let root_text = lines
            .next()
            .ok_or_else(|| bad("the root hash line is missing"))?;
        let root: Hash = STANDARD
            .decode(root_text)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root hash must be 32 bytes of standard base64"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("an extension line is empty"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Parses a signed checkpoint and checks it carries a valid signature by its origin under one
    /// of `ring`'s keys. Signatures by other names (witnesses) or unknown keys are ignored, as
    /// signed-note requires.
    pub fn verify(note_text: &str, ring: &KeyRing) -> Result<Checkpoint, JournalError> {
        let note = Note::parse(note_text)?;
        let cp = Checkpoint::parse_body(&note.text)?;
        if ring.all().any(|k| note.verified_by(&cp.origin, k)) {
            Ok(cp)
        } else if note.signatures.iter().any(|s| {
            s.name == cp.origin && ring.all().any(|k| key_hash(&cp.origin, k) == s.key_hash)
        }) {
            Err(JournalError::InvalidSignature)
        } else {
            Err(JournalError::UnknownKeyId(format!(
                "no known key signed this checkpoint as {:?}",
                cp.origin
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_parses_and_verifies_a_checkpoint() {
        let seed: Vec<u8> = (0u8..32).collect();
        let signer = Signer::from_bytes(&seed, "k").unwrap();
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 7,
            root: [9u8; 32],
            extensions: vec![],
        };
        let text = cp.sign(&signer).unwrap();
        let ring = KeyRing::single("k", signer.verifying_key());
        assert_eq!(Checkpoint::verify(&text, &ring).unwrap(), cp);
        let tampered = text.replacen("\n7\n", "\n8\n", 1);
        assert!(matches!(
            Checkpoint::verify(&tampered, &ring),
            Err(JournalError::InvalidSignature)
        ));
        let (name, key) = parse_vkey(&vkey("example.org/log", &signer.verifying_key())).unwrap();
        assert_eq!(name, "example.org/log");
        assert_eq!(key, signer.verifying_key());
    }

    #[test]
    fn rejects_malformed_bodies() {
        for body in [
            "o\n07\nAAAA\n",
            "o\n7\n",
            "\n1\nAAAA\n",
            "o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        ] {
            assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
        }
    }
}
