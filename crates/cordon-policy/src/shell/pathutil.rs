//! Lexical path resolution for the shell front end.
//!
//! Paths an agent writes are resolved against the tracked working directory and the session's home,
//! and `..` is folded away here, so `cat ../../etc/passwd` is judged as `/etc/passwd`. Nothing here
//! touches the filesystem: symlinks are the sandbox's business, which resolves them before granting.

/// Folds `.`, `..` and repeated slashes of an absolute POSIX path. `..` never climbs above `/`.
pub fn normalize_absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(path.len());
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    out
}

/// Resolves `text` as the shell would name a file: `~` and `~/x` against `home`, a relative path
/// against `cwd`. `None` when the path is relative and the working directory is unknown, or when
/// it names another user's home (`~bob`), which cordon does not look up.
pub fn resolve(cwd: Option<&str>, home: &str, text: &str) -> Option<String> {
    if text == "~" {
        return Some(normalize_absolute(home));
    }
    if let Some(rest) = text.strip_prefix("~/") {
        return Some(normalize_absolute(&format!("{home}/{rest}")));
    }
    if text.starts_with('~') {
        return None;
    }
    if text.starts_with('/') {
        return Some(normalize_absolute(text));
    }
    let cwd = cwd?;
    Some(normalize_absolute(&format!("{cwd}/{text}")))
}

/// Whether `path` equals `base` or lies under it, component-wise.
pub fn is_within(path: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    base.is_empty()
        || path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The last component of a path (`/usr/bin/rm` → `rm`).
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_is_folded_and_never_climbs_above_root() {
        assert_eq!(normalize_absolute("/usr/bin/../bin/rm"), "/usr/bin/rm");
        assert_eq!(normalize_absolute("/../../etc//passwd"), "/etc/passwd");
        assert_eq!(normalize_absolute("/a/./b/"), "/a/b");
        assert_eq!(normalize_absolute("/.."), "/");
    }

    #[test]
    fn relative_paths_need_a_known_cwd() {
        assert_eq!(
            resolve(Some("/w/p"), "/h", "../../etc/x"),
            Some("/etc/x".to_string())
        );
        assert_eq!(
            resolve(Some("/w"), "/h", "~/.ssh/id_rsa"),
            Some("/h/.ssh/id_rsa".to_string())
        );
        assert_eq!(resolve(None, "/h", "src"), None);
        assert_eq!(resolve(None, "/h", "/abs"), Some("/abs".to_string()));
        assert_eq!(resolve(Some("/w"), "/h", "~bob/x"), None);
    }

    #[test]
    fn within_is_component_wise() {
        assert!(is_within("/w/p", "/w"));
        assert!(is_within("/w", "/w/"));
        assert!(!is_within("/w-evil", "/w"));
        assert!(is_within("/anything", "/"));
    }
}
