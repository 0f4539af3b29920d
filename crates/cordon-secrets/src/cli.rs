//! What `cordon secret set` accepts, kept here so the refusal of a value on the command line is
//! tested with the store rather than left to an argument parser's generic error.

use std::ffi::OsString;
use std::io::Read;

use crate::reference::Reference;
use crate::value::{SecretName, SecretValue, MAX_VALUE_BYTES};
use crate::SecretsError;

/// What `cordon secret set` was asked to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetRequest {
    /// `set NAME`: the value comes from standard input.
    Value { name: SecretName },
    /// `set NAME --ref REFERENCE`: store the reference; standard input is not read.
    Reference {
        name: SecretName,
        reference: Reference,
    },
}

/// Reads the words after `cordon secret set`: `NAME [--ref REFERENCE]`. Any other word is
/// refused without being echoed, since it may be the value: a second word or `--value` is
/// [`SecretsError::ValueOnArgv`].
pub fn parse_set_args(args: &[OsString]) -> Result<SetRequest, SecretsError> {
    let mut words = args.iter().map(|a| a.to_str());
    let name =
        match words.next() {
            Some(Some(name)) if !name.starts_with('-') => SecretName::new(name)?,
            Some(Some(_)) | None => return Err(SecretsError::Usage(
                "name the secret first: `cordon secret set NAME`, with the value on standard input"
                    .into(),
            )),
            Some(None) => return Err(SecretsError::InvalidName("(not UTF-8)".into())),
        };
    let mut reference = None;
    while let Some(word) = words.next() {
        match word {
            Some("--ref") => {
                let text = words.next().flatten().ok_or_else(|| {
                    SecretsError::Usage("`--ref` needs a reference: env:VAR, file:PATH or cmd:…".into())
                })?;
                reference = Some(Reference::parse(text)?);
            }
            Some(w) if w.starts_with("--ref=") => {
                reference = Some(Reference::parse(&w["--ref=".len()..])?);
            }
            Some(w) if w == "--value" || w.starts_with("--value=") || !w.starts_with('-') => {
                return Err(SecretsError::ValueOnArgv)
            }
            // An unknown option may carry the value (`--token=…`): never echo it.
            Some(_) => {
                return Err(SecretsError::Usage(
                    "unknown option; the only option is `--ref REFERENCE`, and the value comes on standard input".into(),
                ))
            }
            None => return Err(SecretsError::ValueOnArgv),
        }
    }
    Ok(match reference {
        Some(reference) => SetRequest::Reference { name, reference },
        None => SetRequest::Value { name },
    })
}

/// Reads a value from standard input (or any reader), without its trailing line break.
pub fn read_value(name: &SecretName, input: impl Read) -> Result<SecretValue, SecretsError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_VALUE_BYTES as u64 + 2)
        .read_to_end(&mut bytes)
        .map_err(|e| SecretsError::Io {
            path: "standard input".into(),
            why: e.to_string(),
        })?;
    SecretValue::from_text(name.as_str(), bytes)
}
