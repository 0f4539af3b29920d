//! A glob over one file name (`.env`, `*.pem`, `.env.*.local`, `credentials*`), as globset reads
//! it, for the places that build one per process: the envelope's never names and home globs.
//!
//! globset turns every glob it cannot classify into a regular expression, and building one cost
//! a hardened run tens to hundreds of microseconds. The globs of the default pack and the
//! toolchain table are literals joined by `*`, which match without one: the first literal is a
//! prefix, the last a suffix, and the others are found in order between them (the leftmost place
//! each is found is never worse for the ones after it). Any other glob (`?`, `[…]`, `{…}`, `\`) is
//! globset's own matcher.
//!
//! Matching is on the name's bytes, so a `*` also spans bytes that are not UTF-8; that can only
//! match more names, which for a list of names to close is the safe side.

use std::ffi::OsStr;

/// One file-name glob. Names hold no `/`, so whether `*` crosses one does not arise.
#[derive(Debug, Clone)]
pub struct NameGlob {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The literals between the `*`s: one literal is the whole name.
    Stars(Vec<String>),
    Other(globset::GlobMatcher),
}

/// The characters that make a glob of a text, globset's syntax: a text without them is a literal.
pub const GLOB_CHARS: [char; 7] = ['*', '?', '[', ']', '{', '}', '\\'];

impl NameGlob {
    /// `Err` is globset's reason the glob does not parse.
    pub fn new(glob: &str) -> Result<NameGlob, String> {
        if let Some(stars) = NameGlob::stars(glob) {
            return Ok(stars);
        }
        let parsed = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(NameGlob {
            kind: Kind::Other(parsed.compile_matcher()),
        })
    }

    /// The glob when it is literals joined by `*` (no other glob character), matched without
    /// globset; `None` otherwise.
    pub fn stars(glob: &str) -> Option<NameGlob> {
        let other = glob.contains(|c| c != '*' && GLOB_CHARS.contains(&c));
        (!other).then(|| NameGlob {
            kind: Kind::Stars(glob.split('*').map(str::to_string).collect()),
        })
    }

    pub fn is_match(&self, name: impl AsRef<OsStr>) -> bool {
        let name = name.as_ref();
        match &self.kind {
            Kind::Stars(parts) => stars_match(parts, name.as_encoded_bytes()),
            Kind::Other(matcher) => matcher.is_match(name),
        }
    }
}

fn stars_match(parts: &[String], name: &[u8]) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return name == first.as_bytes();
    };
    let (first, last) = (first.as_bytes(), last.as_bytes());
    if name.len() < first.len() + last.len() || !name.starts_with(first) || !name.ends_with(last) {
        return false;
    }
    let mut between = &name[first.len()..name.len() - last.len()];
    for part in middle.iter().map(String::as_bytes) {
        match find(between, part) {
            Some(at) => between = &between[at + part.len()..],
            None => return false,
        }
    }
    true
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Several globs; a name matches when any one does.
#[derive(Debug, Clone, Default)]
pub struct NameGlobs(Vec<NameGlob>);

impl NameGlobs {
    /// `Err` names the first glob that does not parse, with globset's reason.
    pub fn new<S: AsRef<str>>(globs: &[S]) -> Result<NameGlobs, (String, String)> {
        globs
            .iter()
            .map(|g| NameGlob::new(g.as_ref()).map_err(|e| (g.as_ref().to_string(), e)))
            .collect::<Result<_, _>>()
            .map(NameGlobs)
    }

    pub fn is_match(&self, name: impl AsRef<OsStr>) -> bool {
        let name = name.as_ref();
        self.0.iter().any(|g| g.is_match(name))
    }

    /// No globs: nothing matches.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(glob: &str) -> globset::GlobMatcher {
        globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .unwrap()
            .compile_matcher()
    }

    #[test]
    fn the_default_packs_names_match_as_globset_does() {
        let names = [
            ".env",
            ".env.local",
            ".env.prod.local",
            ".env..local",
            ".env.local.local",
            ".envlocal",
            "env.local",
            "id_rsa",
            "id_rsa.pub",
            "xid_rsa",
            "key.pem",
            ".pem",
            "pem",
            "key.pem.bak",
            "credentials",
            "credentials.toml",
            "",
            "a*b",
        ];
        for glob in [
            ".env",
            ".env.*.local",
            "id_rsa*",
            "*.pem",
            "*",
            "**",
            "credentials*",
            "*a*b*",
            "a**b",
            "[a-c]*",
            "{x,cred}*",
            "id_rsa?",
        ] {
            let ours = NameGlob::new(glob).unwrap();
            let theirs = reference(glob);
            for name in names {
                assert_eq!(
                    ours.is_match(name),
                    theirs.is_match(name),
                    "{glob} on {name:?}"
                );
            }
        }
    }

    #[test]
    fn a_glob_that_does_not_parse_is_refused_with_its_name() {
        assert!(NameGlob::new("a{b").is_err());
        let (glob, _why) = NameGlobs::new(&["*.pem", "[x"]).unwrap_err();
        assert_eq!(glob, "[x");
    }

    #[test]
    fn only_literals_and_stars_are_matched_without_globset() {
        for glob in [".env", "*.pem", "*", "a*b*c", ""] {
            assert!(NameGlob::stars(glob).is_some(), "{glob}");
        }
        for glob in ["id_rsa?", "[ab]", "{a,b}", "a\\*", "a]"] {
            assert!(NameGlob::stars(glob).is_none(), "{glob}");
        }
    }

    proptest! {
        // Globs of literals and stars over a small alphabet, so matches are common.
        #[test]
        fn star_globs_agree_with_globset(
            glob in "[ab.*]{0,7}",
            name in "[ab.]{0,9}",
        ) {
            let ours = NameGlob::new(&glob).unwrap();
            prop_assert_eq!(ours.is_match(&name), reference(&glob).is_match(&name));
        }
    }
}
