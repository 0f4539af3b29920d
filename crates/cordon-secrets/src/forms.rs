//! The encoded forms of a secret that the redactor looks for.
//!
//! - plain bytes;
//! - hex, lower and upper case;
//! - base64, standard and URL-safe alphabets, at each of the three alignments the value can have
//!   inside a longer encoded stream (`env | base64` encodes the value at whatever offset it sits).
//!   At offset `a` (0, 1, 2) the characters that depend only on the value's bytes are those from
//!   `ceil(8a/6)` to `floor(8(a+n)/6)`; the others mix in neighbouring bytes and are not part of
//!   the form;
//! - the same base64 forms broken into lines of 64 (PEM, openssl) and 76 (base64(1), MIME)
//!   characters, at every column the form can start in, for values up to
//!   [`MAX_WRAPPED_VALUE_BYTES`] (up to 6 × 138 such forms: 165 for a 42-byte token whose two
//!   alphabets agree; longer values would make the matcher large);
//! - URL-encoded: `application/x-www-form-urlencoded`, and percent-encoding of everything but
//!   RFC 3986's unreserved characters or of everything but letters and digits, each with upper
//!   and lower case hex digits;
//! - the value inside a JSON string, when JSON escapes any of its characters.
//!
//! Forms that coincide are kept once.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Values up to this size are also looked for in line-wrapped base64.
pub const MAX_WRAPPED_VALUE_BYTES: usize = 128;
/// Line widths of wrapped base64: PEM and openssl (64), base64(1) and MIME (76).
const WRAP_WIDTHS: [usize; 2] = [64, 76];

/// RFC 3986 unreserved characters stay as they are; everything else is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Every form of `value`, without duplicates, in a fixed order.
pub(crate) fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut add = |form: Vec<u8>| {
        if !form.is_empty() && !out.contains(&form) {
            out.push(form);
        }
    };
    add(value.to_vec());
    let hex = hex::encode(value);
    add(hex.to_ascii_uppercase().into_bytes());
    add(hex.into_bytes());
    let base64 = base64_forms(value);
    for form in &base64 {
        add(form.clone().into_bytes());
    }
    if value.len() <= MAX_WRAPPED_VALUE_BYTES {
        for form in &base64 {
            for width in WRAP_WIDTHS {
                for wrapped in wrapped_forms(form, width) {
                    add(wrapped.into_bytes());
                }
            }
        }
    }
    for form in url_forms(value) {
        add(form.into_bytes());
    }
    if let Some(form) = json_form(value) {
        add(form.into_bytes());
    }
    out
}

/// The characters of the base64 encoding that depend only on `value`, at each offset and in
/// both alphabets.
fn base64_forms(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(value);
            let encoded = engine.encode(&shifted);
            let start = (8 * offset).div_ceil(6);
            let end = (8 * (offset + value.len())) / 6;
            if let Some(stable) = encoded.get(start..end) {
                out.push(stable.to_string());
            }
        }
    }
    out
}

/// `form` with a line break every `width` characters, for each column it could start in (the
/// first break after 1, 2, … `width - 1` of its characters).
fn wrapped_forms(form: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    for first in 1..width.min(form.len()) {
        let mut wrapped = String::with_capacity(form.len() + form.len() / width + 1);
        for (i, c) in form.chars().enumerate() {
            if i >= first && (i - first) % width == 0 {
                wrapped.push('\n');
            }
            wrapped.push(c);
        }
        out.push(wrapped);
    }
    out
}

fn url_forms(value: &[u8]) -> Vec<String> {
    let form: String = form_urlencoded::byte_serialize(value).collect();
    let component = percent_encode(value, COMPONENT).to_string();
    let everything = percent_encode(value, NON_ALPHANUMERIC).to_string();
    let mut out = Vec::new();
    for upper in [form, component, everything] {
        out.push(lower_hex_escapes(&upper));
        out.push(upper);
    }
    out
}

/// `%2F` → `%2f`: some encoders write lower-case hex digits.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut after_percent = 0;
    for c in encoded.chars() {
        if c == '%' {
            after_percent = 2;
            out.push(c);
        } else if after_percent > 0 {
            after_percent -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The value as it appears inside a JSON string, when that differs from the value.
fn json_form(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let quoted = serde_json::to_string(text).ok()?;
    let inner = quoted.get(1..quoted.len() - 1)?;
    (inner != text).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms_are_found_at_every_offset_of_a_longer_encoding() {
        let value = b"tok+en/with?odd~bytes\xff\xfe";
        let forms = forms(value);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for before in 0..6 {
                for after in 0..4 {
                    let mut stream = vec![b'x'; before];
                    stream.extend_from_slice(value);
                    stream.extend(vec![b'y'; after]);
                    let encoded = engine.encode(&stream);
                    assert!(
                        forms
                            .iter()
                            .any(|f| encoded.as_bytes().windows(f.len()).any(|w| w == f)),
                        "before {before}, after {after}: {encoded}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrapped_forms_break_every_width_characters() {
        let wrapped = wrapped_forms("abcdefgh", 3);
        assert_eq!(wrapped, vec!["a\nbcd\nefg\nh", "ab\ncde\nfgh"]);
    }

    #[test]
    fn url_and_json_forms() {
        let forms: Vec<String> = forms(b"a b/c\"d%")
            .into_iter()
            .map(|f| String::from_utf8_lossy(&f).into_owned())
            .collect();
        for expected in [
            "a+b%2Fc%22d%25",
            "a+b%2fc%22d%25",
            "a%20b%2Fc%22d%25",
            "a%20b%2fc%22d%25",
            "a b/c\\\"d%",
            "6120622f632264 25".replace(' ', "").as_str(),
        ] {
            assert!(
                forms.iter().any(|f| f == expected),
                "{expected} in {forms:?}"
            );
        }
    }

    #[test]
    fn forms_are_kept_once() {
        let forms = forms(b"abcdefgh");
        let mut unique = forms.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), forms.len());
    }
}
