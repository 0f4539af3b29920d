//! Python's `repr()` of strings, as csc-runner quotes values in its messages ("unknown key_id:
//! 'k'", "argv prefix denied: ['sh', '-c']"): cordon's messages must match them byte for byte.

use unicode_general_category::{get_general_category, GeneralCategory};

/// `repr(s)` as Python 3 writes it: single quotes unless the text has a single quote and no
/// double quote; `\\`, the quote, `\t`, `\n`, `\r` escaped; every character Python does not
/// print (control, format, separator other than the space, surrogate, private-use and unassigned
/// characters) as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let escaped = if code < 0x100 {
                    format!("\\x{code:02x}")
                } else if code < 0x10000 {
                    format!("\\u{code:04x}")
                } else {
                    format!("\\U{code:08x}")
                };
                out.push_str(&escaped);
            }
        }
    }
    out.push(quote);
    out
}

/// `repr()` of a list of strings: `['a', "it's"]`.
pub fn py_repr_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| py_repr(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// Python's `str.isprintable()` for one character.
fn printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::SpaceSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pair is a string and what CPython 3.11's `repr()` prints for it.
    #[test]
    fn matches_python() {
        for (text, python) in [
            ("x", "'x'"),
            ("it's", "\"it's\""),
            ("a'b\"", "'a\\'b\"'"),
            ("a\nb\r\tc\\", "'a\\nb\\r\\tc\\\\'"),
            ("\u{0}\u{1f}\u{7f}", "'\\x00\\x1f\\x7f'"),
            // C1 controls, the no-break space and the soft hyphen: not printable in Python.
            ("\u{80}\u{9f}\u{a0}\u{ad}", "'\\x80\\x9f\\xa0\\xad'"),
            ("\u{a1}é€", "'¡é€'"),
            ("\u{200b}\u{2028}\u{3000}", "'\\u200b\\u2028\\u3000'"),
            ("\u{e000}\u{10ffff}", "'\\ue000\\U0010ffff'"),
            ("😀", "'😀'"),
            ("", "''"),
        ] {
            assert_eq!(py_repr(text), python, "{text:?}");
        }
    }

    #[test]
    fn lists_are_python_lists() {
        let argv: Vec<String> = ["python3", "-c", "print('x')", "a\"b", "it's \"q\"", "tab\t"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            py_repr_list(&argv),
            r#"['python3', '-c', "print('x')", 'a"b', 'it\'s "q"', 'tab\t']"#
        );
        assert_eq!(py_repr_list(&[]), "[]");
    }
}
