//! The approvers a home trusts: a plain text file, one approver key per line.
//!
//! ```text
//! # identity   public key (base64 of the raw 32-byte Ed25519 key, as `cordon keygen` prints it)
//! alice        7kP0…=
//! bob          Qm4x…=
//! ```
//!
//! An identity may hold several keys; a key belongs to exactly one identity (a key listed twice
//! is refused, since it would make "two distinct approvers" ambiguous). Blank lines and `#`
//! comments are ignored. A missing file is an empty ring: nobody can approve.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

use crate::ApprovalError;

/// Trusted approver keys and the identity each one speaks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproverRing {
    entries: Vec<(String, VerifyingKey)>,
}

impl ApproverRing {
    /// Reads the ring; a missing file is an empty ring.
    pub fn load(path: &Path) -> Result<ApproverRing, ApprovalError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ApproverRing::parse(&text).map_err(|why| ApprovalError::Ring {
                path: path.display().to_string(),
                why,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ApproverRing::default()),
            Err(e) => Err(ApprovalError::Ring {
                path: path.display().to_string(),
                why: e.to_string(),
            }),
        }
    }

    pub fn parse(text: &str) -> Result<ApproverRing, String> {
        let mut ring = ApproverRing::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(identity), Some(key), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(format!(
                    "line {}: expected `IDENTITY PUBLIC-KEY-BASE64`",
                    n + 1
                ));
            };
            let key = decode_key(key).map_err(|why| format!("line {}: {why}", n + 1))?;
            ring.insert(identity, key)
                .map_err(|why| format!("line {}: {why}", n + 1))?;
        }
        Ok(ring)
    }

    /// Adds an approver key. A key already listed (under any identity) is refused.
    pub fn insert(&mut self, identity: &str, key: VerifyingKey) -> Result<(), String> {
        if !valid_identity(identity) {
            return Err(format!(
                "identity {identity:?}: use letters, digits and . _ - @ + only"
            ));
        }
        if let Some(owner) = self.identity_of(&key) {
            return Err(format!("this key is already listed for {owner:?}"));
        }
        self.entries.push((identity.to_string(), key));
        Ok(())
    }

    /// The identity a key speaks for, if it is trusted.
    pub fn identity_of(&self, key: &VerifyingKey) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, k)| k.as_bytes() == key.as_bytes())
            .map(|(identity, _)| identity.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ring as file text.
    pub fn to_text(&self) -> String {
        let mut text = String::from(
            "# cordon approvers: IDENTITY PUBLIC-KEY (base64 of the raw 32-byte Ed25519 key)\n",
        );
        for (identity, key) in &self.entries {
            text.push_str(&format!("{identity} {}\n", B64.encode(key.as_bytes())));
        }
        text
    }
}

/// Identities go into receipts, web pages and chat messages: keep them plain.
pub fn valid_identity(identity: &str) -> bool {
    !identity.is_empty()
        && identity.len() <= 128
        && identity
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c))
}

fn decode_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = B64
        .decode(text)
        .map_err(|_| "the public key is not base64".to_string())?;
    let array: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| "the public key is not 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&array).map_err(|_| "not an Ed25519 public key".to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn parses_comments_and_refuses_a_key_listed_twice() {
        let a = SigningKey::from_bytes(&[1; 32]).verifying_key();
        let b = SigningKey::from_bytes(&[2; 32]).verifying_key();
        let text = format!(
            "# approvers\n\nalice {}\nbob {}\n",
            B64.encode(a.as_bytes()),
            B64.encode(b.as_bytes())
        );
        let ring = ApproverRing::parse(&text).unwrap();
        assert_eq!(ring.identity_of(&a), Some("alice"));
        assert_eq!(ring.identity_of(&b), Some("bob"));
        assert_eq!(ApproverRing::parse(&ring.to_text()).unwrap(), ring);
        let twice = format!("{text}carol {}\n", B64.encode(a.as_bytes()));
        assert!(ApproverRing::parse(&twice)
            .unwrap_err()
            .contains("already listed"));
        assert!(ApproverRing::parse("alice notbase64!\n").is_err());
        assert!(ApproverRing::parse("al ice x y\n").is_err());
    }
}
