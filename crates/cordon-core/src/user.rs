//! The user's home directory as the shell front end and the soft delete resolve `~`.
//!
//! Both must resolve `~` to the same directory, or a soft delete could act on another path than
//! the one the policy judged. Without `$HOME`, `~` is a directory that exists nowhere: nothing it
//! names can be read or written, and a rule about the home never matches the root by accident.

/// What `~` means when `$HOME` is not set.
pub const HOME_FALLBACK: &str = "/nonexistent-home";

/// `$HOME`, or [`HOME_FALLBACK`] when it is unset or not UTF-8.
pub fn home() -> String {
    home_from(std::env::var("HOME").ok())
}

/// The home for a `$HOME` value already read.
pub fn home_from(value: Option<String>) -> String {
    value.unwrap_or_else(|| HOME_FALLBACK.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unset_home_is_a_directory_that_exists_nowhere() {
        assert_eq!(home_from(None), HOME_FALLBACK);
        assert_eq!(home_from(Some("/home/a".into())), "/home/a");
        assert!(!std::path::Path::new(HOME_FALLBACK).exists());
    }
}
