//! Agent-supplied text as a person may safely read it: every character that can make text look
//! other than it is becomes a visible escape, `\u{202e}`.
//!
//! An approver decides on what they see. `curl https://example.com/<U+202E>hs.lmth` (with a
//! RIGHT-TO-LEFT OVERRIDE where the brackets are) displays as `…/html.sh`; a zero-width space makes two different
//! words look alike; a no-break space looks like the space between two arguments; a newline in an
//! argument draws a line of the prompt that cordon never wrote. So the approval page, the
//! terminal prompt and every other place where a person reads what an agent wrote show such
//! characters as escapes, through this one function.
//!
//! What is escaped, by Unicode general category (`unicode-general-category`, not a hand list):
//! controls (Cc: C0, DEL, C1, so newlines and tabs too), format characters (Cf: the bidi
//! embeddings, overrides and isolates, LRM/RLM/ALM, zero-width space/joiners, word joiner, BOM,
//! soft hyphen, invisible operators, tags), line and paragraph separators (Zl, Zp), every space
//! separator but U+0020 (Zs), private-use (Co), surrogates (Cs) and unassigned code points (Cn,
//! which a newer font may draw as anything). Besides those, the default-ignorable code points
//! that Unicode files under other categories are escaped: they render as nothing (variation
//! selectors, the combining grapheme joiner, Hangul fillers, Mongolian free variation selectors,
//! Khmer inherent vowels), plus the braille blank, which draws as a space. A backslash that
//! starts a literal `\u{` is doubled, so text can never fake an escape.

use std::borrow::Cow;

use unicode_general_category::{get_general_category, GeneralCategory};

/// `text` with every misleading character written as `\u{hex}` (lowercase, no padding); text
/// without one is returned as it is.
pub fn visible(text: &str) -> Cow<'_, str> {
    let needs = |(i, c): (usize, char)| misleading(c) || fakes_an_escape(text, i, c);
    if !text.char_indices().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, c) in text.char_indices() {
        if misleading(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else if fakes_an_escape(text, i, c) {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Whether `c` can make text read other than it is (module docs).
pub fn misleading(c: char) -> bool {
    use GeneralCategory as G;
    match get_general_category(c) {
        G::Control
        | G::Format
        | G::LineSeparator
        | G::ParagraphSeparator
        | G::PrivateUse
        | G::Surrogate
        | G::Unassigned => true,
        G::SpaceSeparator => c != ' ',
        _ => invisible_otherwise(c),
    }
}

/// Default-ignorable code points outside the categories above (Unicode's
/// `Default_Ignorable_Code_Point` property, DerivedCoreProperties.txt), and the braille blank.
fn invisible_otherwise(c: char) -> bool {
    matches!(
        u32::from(c),
        0x034F              // COMBINING GRAPHEME JOINER (Mn)
        | 0x115F | 0x1160   // HANGUL CHOSEONG / JUNGSEONG FILLER (Lo)
        | 0x17B4 | 0x17B5   // KHMER VOWEL INHERENT AQ / AA (Mn)
        | 0x180B..=0x180F   // MONGOLIAN FREE VARIATION SELECTORS (Mn)
        | 0x2800            // BRAILLE PATTERN BLANK (So): draws as a space
        | 0x3164            // HANGUL FILLER (Lo)
        | 0xFE00..=0xFE0F   // VARIATION SELECTORS (Mn)
        | 0xFFA0            // HALFWIDTH HANGUL FILLER (Lo)
        | 0xE0100..=0xE01EF // VARIATION SELECTORS SUPPLEMENT (Mn)
    )
}

/// A backslash that begins `\u{` in the text itself.
fn fakes_an_escape(text: &str, at: usize, c: char) -> bool {
    c == '\\' && text[at + 1..].starts_with("u{")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bidi_overrides_and_isolates_become_escapes() {
        assert_eq!(
            visible("curl https://example.com/\u{202e}hs.lmth"),
            "curl https://example.com/\\u{202e}hs.lmth"
        );
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}',
        ] {
            assert_eq!(
                visible(&format!("a{c}b")),
                format!("a\\u{{{:x}}}b", u32::from(c))
            );
        }
    }

    #[test]
    fn invisible_and_lookalike_characters_become_escapes() {
        for c in [
            '\u{200b}',
            '\u{200c}',
            '\u{200d}',
            '\u{2060}',
            '\u{feff}',
            '\u{00ad}',
            '\u{034f}',
            '\u{fe0f}',
            '\u{3164}',
            '\u{115f}',
            '\u{2800}',
            '\u{00a0}',
            '\u{2007}',
            '\u{3000}',
            '\u{2028}',
            '\u{2029}',
            '\u{e000}',
            '\u{e0041}',
            '\u{e0100}',
            '\u{180e}',
        ] {
            assert!(misleading(c), "{:x}", u32::from(c));
            assert!(
                !visible(&format!("x{c}y")).contains(c),
                "{:x}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn controls_are_escaped_so_no_line_can_be_faked() {
        assert_eq!(
            visible("ls\ncordon: approved\t\x1b[2J\x7f\u{85}"),
            "ls\\u{a}cordon: approved\\u{9}\\u{1b}[2J\\u{7f}\\u{85}"
        );
    }

    #[test]
    fn ordinary_text_in_any_script_is_left_alone() {
        for text in [
            "git push origin main",
            "echo 'naïve café' > \"ü.txt\"",
            "grep -r 'a\\.b' src/",
            "printf '%s\\n' x",
            "echo שלום עולם",
            "echo مرحبا",
            "echo 日本語 한국어",
            "echo नमस्ते",
            "echo 👍🏽 👨‍👩‍👧",
        ] {
            // The family emoji holds ZERO WIDTH JOINERs: those are escaped, and only those.
            let shown = visible(text);
            assert_eq!(shown, text.replace('\u{200d}', "\\u{200d}"), "{text}");
        }
        assert!(matches!(visible("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn a_literal_escape_cannot_pass_for_one() {
        // Without the doubling, `a\u{202e}b` typed by the agent would look like an escaped override.
        assert_eq!(visible("a\\u{202e}b"), "a\\\\u{202e}b");
        assert_eq!(visible("a\u{202e}b"), "a\\u{202e}b");
        assert_ne!(visible("a\\u{202e}b"), visible("a\u{202e}b"));
        assert_eq!(visible("C:\\users\\x"), "C:\\users\\x");
    }
}
