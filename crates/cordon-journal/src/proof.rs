//! `c2sp.org/tlog-proof@v1` bundles: an entry, its inclusion proof and the signed checkpoint, in
//! one text file that anyone holding the log's public key can check offline.
//!
//! cordon puts the entry's journal line in the `extra` field. The spec leaves `extra` opaque and
//! unauthenticated; that is fine here because the verifier recomputes the leaf hash from it, so a
//! changed `extra` simply fails the inclusion check.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::JournalError;
use crate::keys::KeyRing;
use crate::merkle::{self, Hash};
use crate::note::Checkpoint;

const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Encodes a bundle.
pub fn encode(extra: Option<&[u8]>, index: u64, proof: &[Hash], checkpoint: &str) -> String {
    let mut s = String::from(HEADER);
    s.push('\n');
    if let Some(e) = extra {
        s.push_str("extra ");
        s.push_str(&STANDARD.encode(e));
        s.push('\n');
    }
    s.push_str(&format!("index {index}\n"));
    for h in proof {
        s.push_str(&STANDARD.encode(h));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(checkpoint);
    s
}

/// A parsed bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The checkpoint note, verbatim.
    pub checkpoint: String,
}

/// Parses a bundle.
pub fn decode(text: &str) -> Result<Bundle, JournalError> {
    let bad = |why: &str| JournalError::Format(format!("tlog-proof: {why}"));
    let mut rest = text
        .strip_prefix(HEADER)
        .and_then(|r| r.strip_prefix('\n'))
        .ok_or_else(|| bad("the first line must be c2sp.org/tlog-proof@v1"))?;
    let next_line = |rest: &mut &str| -> Option<String> {
        let (line, tail) = rest.split_once('\n')?;
        *rest = tail;
        Some(line.to_string())
    };
    let mut line = next_line(&mut rest).ok_or_else(|| bad("the index line is missing"))?;
    let mut extra = None;
    if let Some(e) = line.strip_prefix("extra ") {
        extra = Some(
            STANDARD
                .decode(e)
                .map_err(|_| bad("extra is not standard base64"))?,
        );
        line = next_line(&mut rest).ok_or_else(|| bad("the index line is missing"))?;
    }
    let idx = line
        .strip_prefix("index ")
        .ok_or_else(|| bad("expected 'index N'"))?;
    if idx.is_empty()
        || !idx.bytes().all(|b| b.is_ascii_digit())
        || (idx.len() > 1 && idx.starts_with('0'))
    {
        return Err(bad(
            "the index must be a decimal number without leading zeros",
        ));
    }
    let index: u64 = idx
        .parse()
        .map_err(|_| bad("the index does not fit 64 bits"))?;
    let mut proof = Vec::new();
    loop {
        let line = next_line(&mut rest)
            .ok_or_else(|| bad("the blank line before the checkpoint is missing"))?;
        if line.is_empty() {
            break;
        }
        let h: Hash = STANDARD
            .decode(&line)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("a proof line is not 32 bytes of standard base64"))?;
        proof.push(h);
    }
    Ok(Bundle {
        extra,
        index,
        proof,
        checkpoint: rest.to_string(),
    })
}

/// What a verified bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenInclusion {
    pub checkpoint: Checkpoint,
    pub index: u64,
    pub leaf_hash: Hash,
}

/// Verifies a bundle: the checkpoint is signed by its origin under a key in `ring`, and the leaf
/// (from `entry`, or else from the bundle's `extra`) is at `index` of that tree.
pub fn verify(
    text: &str,
    entry: Option<&[u8]>,
    ring: &KeyRing,
) -> Result<ProvenInclusion, JournalError> {
    let b = decode(text)?;
    let data = entry.or(b.extra.as_deref()).ok_or_else(|| {
        JournalError::Proof("the bundle has no extra data and no entry was given".into())
    })?;
    let checkpoint = Checkpoint::verify(&b.checkpoint, ring)?;
    let leaf = merkle::leaf_hash(data);
    merkle::verify_inclusion(b.index, checkpoint.size, &leaf, &b.proof, &checkpoint.root)?;
    Ok(ProvenInclusion {
        checkpoint,
        index: b.index,
        leaf_hash: leaf,
    })
}
