//! The names a secret grant is made of. The policy that grants a secret and the store that
//! resolves and injects it check them with these same two functions.

/// A secret's name in the store: 1 to 64 of `[A-Za-z0-9_.-]`, starting with a letter or digit.
pub fn is_secret_name(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An environment variable a command reads: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for good in ["github", "GH_TOKEN", "npm.registry-1", "0x"] {
            assert!(is_secret_name(good), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "a=b", &"x".repeat(65), "ä"] {
            assert!(!is_secret_name(bad), "{bad}");
        }
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("GH_TOKEN"));
        assert!(is_env_name("_x1"));
        for bad in ["", "1X", "A-B", "A=B", "A B"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }
}
