//! Redaction of everything returned to the agent: each secret value in each of its encoded forms
//! ([`crate::forms`]) becomes `[REDACTED:NAME]`.
//!
//! One Aho-Corasick automaton (leftmost-longest) holds every form of every secret. A stream is
//! redacted chunk by chunk: each chunk is searched together with the tail held back from the one
//! before, and every byte is released except the last `longest form − 1`, which a form starting
//! there could still need. A match is committed only when it starts before that tail, where every
//! form starting at that position is already whole, so the result is the same however the output
//! was split into chunks.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::forms::forms;
use crate::value::MIN_VALUE_BYTES;
use crate::SecretsError;

/// Replaces secret values in output. Cheap to clone; clones share one redaction count.
/// `Debug` shows sizes and the count, never a pattern.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Patterns>,
    count: Arc<AtomicU64>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.inner.replacements.len())
            .field("patterns", &self.inner.owner.len())
            .field("redactions", &self.redactions())
            .finish()
    }
}

struct Patterns {
    /// `None` when there is nothing to redact.
    matcher: Option<AhoCorasick>,
    /// For each pattern, the index of its replacement.
    owner: Vec<usize>,
    replacements: Vec<Vec<u8>>,
    longest: usize,
}

impl Redactor {
    /// A redactor for `(name, value)` pairs; the name appears in the replacement. A value shorter
    /// than [`MIN_VALUE_BYTES`] is refused: its encoded fragments would match ordinary output.
    pub fn new<'a, I>(secrets: I) -> Result<Redactor, SecretsError>
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        let mut replacements = Vec::new();
        for (name, value) in secrets {
            if value.len() < MIN_VALUE_BYTES {
                return Err(SecretsError::InvalidValue {
                    name: name.to_string(),
                    why: format!(
                        "the value is {} bytes; at least {MIN_VALUE_BYTES} are needed to redact it",
                        value.len()
                    ),
                });
            }
            let index = replacements.len();
            replacements.push(format!("[REDACTED:{name}]").into_bytes());
            for form in forms(value) {
                if !patterns.contains(&form) {
                    patterns.push(form);
                    owner.push(index);
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map_err(|e| SecretsError::Redactor(e.to_string()))?,
            )
        };
        Ok(Redactor {
            inner: Arc::new(Patterns {
                matcher,
                owner,
                replacements,
                longest,
            }),
            count: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A redactor with no secrets: it passes everything through.
    pub fn none() -> Redactor {
        Redactor {
            inner: Arc::new(Patterns {
                matcher: None,
                owner: Vec::new(),
                replacements: Vec::new(),
                longest: 0,
            }),
            count: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many secrets it looks for.
    pub fn secrets(&self) -> usize {
        self.inner.replacements.len()
    }

    /// The most bytes a stream holds back: the longest form minus one.
    pub fn max_held_back(&self) -> usize {
        self.inner.longest.saturating_sub(1)
    }

    /// How many replacements this redactor and its streams have made so far.
    pub fn redactions(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// A stream redactor for one output stream.
    pub fn stream(&self) -> RedactingStream {
        RedactingStream {
            redactor: self.clone(),
            held: Vec::new(),
        }
    }

    /// `bytes` redacted whole.
    pub fn redact(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        self.redact_into(bytes, bytes.len(), &mut out);
        out
    }

    /// `text` redacted whole. A value that is not UTF-8 can split a character; such bytes
    /// become U+FFFD.
    pub fn redact_text(&self, text: &str) -> String {
        match self.redact(text.as_bytes()) {
            bytes if bytes == text.as_bytes() => text.to_string(),
            bytes => String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Every string (and object key) in a JSON value redacted in place: for records returned
    /// to the agent and anything written to the journal.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        use serde_json::Value;
        match value {
            Value::String(s) => *s = self.redact_text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact_text(&key), v);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Appends `bytes[..end]` redacted to `out`, where a match may start only before `safe`;
    /// returns how far `bytes` was consumed (at least `safe`, further when a match crossed it).
    fn redact_into(&self, bytes: &[u8], safe: usize, out: &mut Vec<u8>) -> usize {
        let Some(matcher) = &self.inner.matcher else {
            out.extend_from_slice(&bytes[..safe]);
            return safe;
        };
        let mut done = 0;
        let mut count = 0u64;
        for m in matcher.find_iter(bytes) {
            if m.start() >= safe {
                break;
            }
            out.extend_from_slice(&bytes[done..m.start()]);
            let owner = self.inner.owner[m.pattern().as_usize()];
            out.extend_from_slice(&self.inner.replacements[owner]);
            done = m.end();
            count += 1;
        }
        let consumed = done.max(safe);
        out.extend_from_slice(&bytes[done..consumed]);
        if count > 0 {
            self.count.fetch_add(count, Ordering::Relaxed);
        }
        consumed
    }
}

/// The redactor of one stream: see the module's documentation. `Debug` shows how much is held
/// back, never the bytes (they may be the start of a value).
pub struct RedactingStream {
    redactor: Redactor,
    held: Vec<u8>,
}

impl fmt::Debug for RedactingStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactingStream")
            .field("redactor", &self.redactor)
            .field("held_bytes", &self.held.len())
            .finish()
    }
}

impl RedactingStream {
    /// Redacts `chunk`, appending to `out` everything that can no longer be part of a match.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.held.extend_from_slice(chunk);
        let safe = self
            .held
            .len()
            .saturating_sub(self.redactor.max_held_back());
        let consumed = self.redactor.redact_into(&self.held, safe, out);
        self.held.drain(..consumed);
    }

    /// The stream ended: redacts and appends what was held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let held = std::mem::take(&mut self.held);
        self.redactor.redact_into(&held, held.len(), out);
    }
}

impl cordon_sandbox::OutputFilter for Redactor {
    fn stream(&self) -> Box<dyn cordon_sandbox::StreamFilter> {
        Box::new(Redactor::stream(self))
    }
}

impl cordon_sandbox::StreamFilter for RedactingStream {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        RedactingStream::push(self, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        RedactingStream::finish(self, out);
    }
}
