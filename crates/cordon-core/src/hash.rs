//! SHA-256 in the two spellings CSC uses: bare lowercase hex, and `sha256:`-prefixed hex.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::{self, CanonicalError};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `sha256:<hex>`, the form receipts use for output hashes.
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// Lowercase hex SHA-256 of the canonical JSON of `value`.
pub fn canonical_sha256(value: &Value) -> Result<String, CanonicalError> {
    Ok(sha256_hex(&canonical::to_vec(value)?))
}
