//! The redactor over every form a value takes in output, and over output split across writes
//! at every position: the expected output is computed here independently of the redactor's
//! own form list and compared whole.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use cordon_secrets::Redactor;

/// Bytes chosen so that the standard and URL-safe alphabets differ (`\xfb\xff\xbf` → `+/+/`),
/// URL encoding changes it, and JSON escapes it.
const VALUE: &[u8] = b"s3cr\"t/tok+en?a=b&c d\xfb\xff\xbf~end";
const MARK: &str = "[REDACTED:tok]";

fn redactor() -> Redactor {
    Redactor::new([("tok", VALUE)]).unwrap()
}

/// The characters of `engine`'s encoding of `before ‖ VALUE ‖ after` that depend only on VALUE.
fn value_span(before: usize) -> (usize, usize) {
    let start = (8 * before).div_ceil(6);
    let end = 8 * (before + VALUE.len()) / 6;
    (start, end)
}

#[test]
fn plain_hex_and_url_forms_are_redacted() {
    let r = redactor();
    let percent_all =
        percent_encoding::percent_encode(VALUE, percent_encoding::NON_ALPHANUMERIC).to_string();
    let forms: Vec<Vec<u8>> = vec![
        VALUE.to_vec(),
        hex::encode(VALUE).into_bytes(),
        hex::encode_upper(VALUE).into_bytes(),
        form_urlencoded::byte_serialize(VALUE)
            .collect::<String>()
            .into_bytes(),
        percent_all.clone().into_bytes(),
        percent_all.to_lowercase().into_bytes(),
    ];
    for form in forms {
        let mut output = b"before=".to_vec();
        output.extend_from_slice(&form);
        output.extend_from_slice(b"&after\n");
        let expected = format!("before={MARK}&after\n");
        assert_eq!(
            String::from_utf8_lossy(&r.redact(&output)),
            expected,
            "{}",
            String::from_utf8_lossy(&form)
        );
    }
}

#[test]
fn base64_is_redacted_at_every_alignment_in_both_alphabets() {
    let r = redactor();
    for engine in [&STANDARD, &URL_SAFE] {
        for before in 0..6 {
            for after in 0..3 {
                let mut stream = vec![b'.'; before];
                stream.extend_from_slice(VALUE);
                stream.extend(vec![b'!'; after]);
                let encoded = engine.encode(&stream);
                let (start, end) = value_span(before);
                let expected = format!("{}{MARK}{}", &encoded[..start], &encoded[end..]);
                assert_eq!(
                    String::from_utf8(r.redact(encoded.as_bytes())).unwrap(),
                    expected,
                    "{before} bytes before, {after} after"
                );
            }
        }
    }
}

/// `text` broken into lines of `width` characters, as base64(1) and openssl print it.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % width == 0 {
            out.push('\n');
        }
        out.push(c);
    }
    out
}

#[test]
fn line_wrapped_base64_is_redacted_wherever_the_breaks_fall() {
    let r = redactor();
    for width in [64, 76] {
        for before in 0..width {
            let mut stream = vec![b'.'; before];
            stream.extend_from_slice(VALUE);
            stream.extend_from_slice(b"!!");
            let encoded = STANDARD.encode(&stream);
            let wrapped = wrap(&encoded, width);
            let (start, end) = value_span(before);
            // Positions in the wrapped text: one more for each line break before them.
            let at = |i: usize| i + i / width;
            let expected = format!(
                "{}{MARK}{}",
                &wrapped[..at(start)],
                &wrapped[at(end - 1) + 1..]
            );
            assert_eq!(
                String::from_utf8(r.redact(wrapped.as_bytes())).unwrap(),
                expected,
                "width {width}, {before} bytes before"
            );
        }
    }
}

#[test]
fn json_escaped_values_are_redacted() {
    let value = "json \"quoted\" \\ value\n";
    let r = Redactor::new([("j", value.as_bytes())]).unwrap();
    let record = serde_json::to_string(&serde_json::json!({"stdout": value})).unwrap();
    assert_eq!(r.redact_text(&record), "{\"stdout\":\"[REDACTED:j]\"}");
}

#[test]
fn json_records_are_redacted_in_every_string_and_key() {
    let value = "ghp_json-record-value";
    let r = Redactor::new([("gh", value.as_bytes())]).unwrap();
    let hex = hex::encode(value);
    let mut record = serde_json::json!({
        "argv": ["curl", "-H", format!("Authorization: token {value}")],
        "nested": {hex.clone(): [1, true, null]},
        "kept": "ordinary text",
    });
    r.redact_json(&mut record);
    assert_eq!(
        record,
        serde_json::json!({
            "argv": ["curl", "-H", "Authorization: token [REDACTED:gh]"],
            "nested": {"[REDACTED:gh]": [1, true, null]},
            "kept": "ordinary text",
        })
    );
    assert_eq!(r.redactions(), 2);
}

/// An output holding every kind of form, for the split tests.
fn mixed_output() -> Vec<u8> {
    let mut out = b"plain: ".to_vec();
    out.extend_from_slice(VALUE);
    out.extend_from_slice(b"\nhex: ");
    out.extend_from_slice(hex::encode(VALUE).as_bytes());
    out.extend_from_slice(b"\nb64: ");
    let mut shifted = b"x".to_vec();
    shifted.extend_from_slice(VALUE);
    out.extend_from_slice(wrap(&STANDARD.encode(&shifted), 76).as_bytes());
    out.extend_from_slice(b"\nurl: ");
    out.extend(form_urlencoded::byte_serialize(VALUE).flat_map(|s| s.bytes()));
    out.extend_from_slice(b"\nend ");
    out.extend_from_slice(VALUE);
    out
}

fn streamed(r: &Redactor, output: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut stream = r.stream();
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&output.len())) {
        stream.push(&output[from..cut], &mut out);
        from = cut;
    }
    stream.finish(&mut out);
    out
}

#[test]
fn output_split_at_any_position_is_redacted_as_if_whole() {
    let output = mixed_output();
    let whole = redactor().redact(&output);
    assert_eq!(
        String::from_utf8_lossy(&whole).matches(MARK).count(),
        5,
        "{}",
        String::from_utf8_lossy(&whole)
    );
    for cut in 0..=output.len() {
        let r = redactor();
        assert_eq!(streamed(&r, &output, &[cut]), whole, "cut at {cut}");
        assert_eq!(r.redactions(), 5, "cut at {cut}");
    }
    for size in [1, 2, 3, 7, 64] {
        let cuts: Vec<usize> = (size..output.len()).step_by(size).collect();
        assert_eq!(
            streamed(&redactor(), &output, &cuts),
            whole,
            "chunks of {size}"
        );
    }
}

#[test]
fn a_stream_holds_back_at_most_the_longest_form_minus_one_byte() {
    let r = redactor();
    let held_max = r.max_held_back();
    assert!(held_max > VALUE.len(), "wrapped base64 forms are longer");
    let mut stream = r.stream();
    let mut out = Vec::new();
    let mut given = 0;
    for i in 0..500u32 {
        let chunk = format!("line {i} of ordinary output\n");
        given += chunk.len();
        stream.push(chunk.as_bytes(), &mut out);
        assert!(given - out.len() <= held_max, "held {}", given - out.len());
        // Positive control: once enough was given, something was held back.
        if given > held_max {
            assert!(given - out.len() == held_max);
        }
    }
    stream.finish(&mut out);
    assert_eq!(out.len(), given);
}

#[test]
fn the_longest_of_overlapping_values_wins_and_each_is_counted() {
    let r = Redactor::new([
        ("short", &b"abcdefgh12"[..]),
        ("long", &b"abcdefgh1234"[..]),
    ])
    .unwrap();
    let out = r.redact_text("x abcdefgh1234 y abcdefgh12 z");
    assert_eq!(out, "x [REDACTED:long] y [REDACTED:short] z");
    assert_eq!(r.redactions(), 2);
    // Clones share the count; a fresh redactor starts at zero.
    let clone = r.clone();
    clone.redact(b"abcdefgh12");
    assert_eq!(r.redactions(), 3);
    assert_eq!(redactor().redactions(), 0);
}

#[test]
fn nothing_to_redact_passes_everything_and_short_values_are_refused() {
    let none = Redactor::none();
    assert_eq!(none.redact(b"anything"), b"anything");
    let mut stream = none.stream();
    let mut out = Vec::new();
    stream.push(b"abc", &mut out);
    assert_eq!(out, b"abc", "nothing is held back");

    // Printing a redactor or a stream never shows a pattern or held-back bytes.
    let r = redactor();
    let mut stream = r.stream();
    stream.push(&VALUE[..10], &mut Vec::new());
    let shown = format!("{r:?} {stream:?}");
    assert!(!shown.contains("s3cr"), "{shown}");
    assert!(shown.contains("held_bytes: 10"), "{shown}");

    let err = Redactor::new([("pin", &b"1234"[..])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret `pin`: the value is 4 bytes; at least 8 are needed to redact it"
    );
}
