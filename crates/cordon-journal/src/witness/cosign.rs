//! C2SP `tlog-cosignature` (Ed25519, `cosignature/v1`): the witness's signature on a checkpoint.
//!
//! A cosignature is one more signature line on the checkpoint note, by the witness's name:
//! `— <name> base64(key id[4] ‖ timestamp[8, big-endian] ‖ Ed25519 signature[64])`, where the key
//! id is SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4] and the signature covers
//! `cosignature/v1\ntime <timestamp>\n` followed by the whole checkpoint body. Any signed-note
//! implementation that knows the witness's key can check it; a verifier that does not know the
//! witness ignores the line, as signed-note requires.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;

use crate::error::JournalError;
use crate::keys::Signer;
use crate::note::{parse_typed_vkey, typed_key_hash, typed_vkey, Note};

/// Signed-note signature type of an Ed25519 `cosignature/v1`.
pub const COSIGNATURE_V1: u8 = 0x04;
const HEADER: &str = "cosignature/v1\n";

/// A witness as a verifier knows it: its name and public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessKey {
    pub name: String,
    pub key: VerifyingKey,
}

impl WitnessKey {
    /// The 4-byte key id of this witness's cosignatures.
    pub fn key_hash(&self) -> [u8; 4] {
        typed_key_hash(&self.name, COSIGNATURE_V1, &self.key)
    }

    /// The C2SP verifier key `name+hex(key id)+base64(0x04 ‖ key)`.
    pub fn vkey(&self) -> String {
        typed_vkey(&self.name, COSIGNATURE_V1, &self.key)
    }

    /// Parses a verifier key of type 0x04, checking its key id.
    pub fn parse_vkey(text: &str) -> Result<WitnessKey, JournalError> {
        let (name, key) = parse_typed_vkey(
            text,
            "witness key",
            COSIGNATURE_V1,
            "only Ed25519 cosignature/v1 (type 0x04) keys are supported",
        )?;
        Ok(WitnessKey { name, key })
    }

    /// The time of this witness's valid cosignature on `note`, if it has one. A line under this
    /// name and key id that does not verify is an error: someone forged or altered it.
    pub fn cosigned_at(&self, note: &Note) -> Result<Option<u64>, JournalError> {
        let id = self.key_hash();
        let mut found = None;
        for s in note
            .signatures
            .iter()
            .filter(|s| s.name == self.name && s.key_hash == id)
        {
            let (time, sig) = split_timestamped(&s.signature)?;
            let message = signed_message(&note.text, time);
            if !crate::keys::verify_ed25519(&self.key, message.as_bytes(), sig) {
                return Err(JournalError::InvalidSignature);
            }
            found = Some(found.map_or(time, |t: u64| t.max(time)));
        }
        Ok(found)
    }
}

/// Splits a `timestamped_signature` into its time and its Ed25519 signature.
fn split_timestamped(raw: &[u8]) -> Result<(u64, &[u8]), JournalError> {
    if raw.len() != 8 + 64 {
        return Err(JournalError::Format(
            "a cosignature is an 8-byte time and a 64-byte signature".into(),
        ));
    }
    let mut t = [0u8; 8];
    t.copy_from_slice(&raw[..8]);
    let time = u64::from_be_bytes(t);
    if time > i64::MAX as u64 {
        return Err(JournalError::Format(
            "a cosignature's time exceeds 2^63 - 1".into(),
        ));
    }
    Ok((time, &raw[8..]))
}

/// The bytes a `cosignature/v1` signs: the header, the time line, then the checkpoint body.
pub fn signed_message(body: &str, time: u64) -> String {
    format!("{HEADER}time {time}\n{body}")
}

/// Adds `witness`'s cosignature at `time` to a signed checkpoint note, after its other lines.
pub fn cosign(
    note_text: &str,
    name: &str,
    signer: &Signer,
    time: u64,
) -> Result<String, JournalError> {
    let note = Note::parse(note_text)?;
    let witness = WitnessKey {
        name: name.to_string(),
        key: signer.verifying_key(),
    };
    let message = signed_message(&note.text, time);
    let mut raw = witness.key_hash().to_vec();
    raw.extend_from_slice(&time.to_be_bytes());
    raw.extend_from_slice(&signer.sign(message.as_bytes()));
    Ok(format!(
        "{note_text}\u{2014} {name} {}\n",
        STANDARD.encode(raw)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cosignature_round_trips_and_a_changed_body_fails() {
        let log = Signer::from_bytes(&[1u8; 32], "log").unwrap();
        let witness = Signer::from_bytes(&[2u8; 32], "w").unwrap();
        let cp = crate::note::Checkpoint {
            origin: "example.org/log".into(),
            size: 3,
            root: [7u8; 32],
            extensions: vec![],
        };
        let note = cosign(
            &cp.sign(&log).unwrap(),
            "witness.example/w1",
            &witness,
            1_700_000_000,
        )
        .unwrap();
        let key = WitnessKey {
            name: "witness.example/w1".into(),
            key: witness.verifying_key(),
        };
        assert_eq!(
            key.cosigned_at(&Note::parse(&note).unwrap()).unwrap(),
            Some(1_700_000_000)
        );
        assert_eq!(WitnessKey::parse_vkey(&key.vkey()).unwrap(), key);
        let forged = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(
            key.cosigned_at(&Note::parse(&forged).unwrap()),
            Err(JournalError::InvalidSignature)
        ));
        // Another witness's key finds no cosignature (and no error).
        let other = WitnessKey {
            name: "witness.example/w2".into(),
            key: witness.verifying_key(),
        };
        assert_eq!(
            other.cosigned_at(&Note::parse(&note).unwrap()).unwrap(),
            None
        );
    }
}
