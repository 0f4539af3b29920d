//! The names and values the rest of the crate passes around, each checked once when made.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt as _;

use zeroize::Zeroizing;

use crate::SecretsError;

/// A secret shorter than this cannot be redacted reliably: its encoded fragments would match
/// ordinary output. Values and resolved references below it are refused.
pub const MIN_VALUE_BYTES: usize = 8;
/// The largest value the store holds or a reference may resolve to.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The store's name for a secret: 1 to 64 of `[A-Za-z0-9_.-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretName(String);

impl SecretName {
    pub fn new(name: &str) -> Result<SecretName, SecretsError> {
        if !cordon_core::secret::is_secret_name(name) {
            return Err(SecretsError::InvalidName(printable(name)));
        }
        Ok(SecretName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret's bytes. Wiped from memory when dropped; never printed (`Debug` shows the length).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<Vec<u8>>);

impl SecretValue {
    /// Checks a value for `name`: at least [`MIN_VALUE_BYTES`], at most [`MAX_VALUE_BYTES`], no
    /// NUL byte (an environment variable cannot hold one).
    pub fn new(name: &str, bytes: Vec<u8>) -> Result<SecretValue, SecretsError> {
        let bytes = Zeroizing::new(bytes);
        let invalid = |why: String| SecretsError::InvalidValue {
            name: name.to_string(),
            why,
        };
        if bytes.is_empty() {
            return Err(invalid("the value is empty".into()));
        }
        if bytes.len() < MIN_VALUE_BYTES {
            return Err(invalid(format!(
                "the value is {} bytes; at least {MIN_VALUE_BYTES} are needed, so that it can be redacted from output without garbling it",
                bytes.len()
            )));
        }
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(invalid(format!(
                "the value is larger than {MAX_VALUE_BYTES} bytes"
            )));
        }
        if bytes.contains(&0) {
            return Err(invalid(
                "the value contains a NUL byte, which an environment variable cannot hold".into(),
            ));
        }
        Ok(SecretValue(bytes))
    }

    /// A value as read from standard input or a file: one trailing line break (`\n` or `\r\n`)
    /// is not part of it, as `echo token | cordon secret set NAME` means `token`.
    pub fn from_text(name: &str, mut bytes: Vec<u8>) -> Result<SecretValue, SecretsError> {
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        SecretValue::new(name, bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as an environment variable's value.
    pub fn to_os_string(&self) -> OsString {
        OsStr::from_bytes(&self.0).to_os_string()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue([{} bytes])", self.0.len())
    }
}

/// `text` as it may appear in an error: control characters escaped, at most 80 characters.
pub(crate) fn printable(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect();
    if escaped.chars().count() > 80 {
        format!("{}…", escaped.chars().take(80).collect::<String>())
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_name_is_refused_with_its_text_escaped() {
        assert!(SecretName::new("github").is_ok());
        let err = SecretName::new("a\nb").unwrap_err();
        assert!(
            matches!(err, SecretsError::InvalidName(ref n) if n == "a\\nb"),
            "{err}"
        );
    }

    #[test]
    fn values_are_checked_and_never_printed() {
        let v = SecretValue::from_text("t", b"s3cret-value\r\n".to_vec()).unwrap();
        assert_eq!(v.expose(), b"s3cret-value");
        assert_eq!(format!("{v:?}"), "SecretValue([12 bytes])");
        let short = SecretValue::new("t", b"short".to_vec()).unwrap_err();
        assert!(short.to_string().contains("at least 8"), "{short}");
        let nul = SecretValue::new("t", b"abcd\0efgh".to_vec()).unwrap_err();
        assert!(nul.to_string().contains("NUL"), "{nul}");
        let empty = SecretValue::from_text("t", b"\n".to_vec()).unwrap_err();
        assert!(empty.to_string().contains("empty"), "{empty}");
        let big = SecretValue::new("t", vec![b'a'; MAX_VALUE_BYTES + 1]).unwrap_err();
        assert!(big.to_string().contains("larger"), "{big}");
    }
}
