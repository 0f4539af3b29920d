//! Lexical path checks at policy level, with CSC's semantics (csc-protocol.md §3.2).
//!
//! Nothing here touches the filesystem: symlinks and `..` are resolved at run time, before the
//! sandbox grants anything. Here a path is compared as text, after normalizing separators, so
//! `/workspace-evil` is not under `/workspace`, and a POSIX path is never under a Windows prefix.

/// The two path flavours CSC recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Posix,
    Windows,
}

/// A path ready for prefix comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalPath {
    pub flavour: Flavour,
    /// Forward slashes, no empty or `.` components, no trailing slash; lower-cased for Windows.
    pub text: String,
}

/// A path that is not absolute in its flavour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAbsolute;

pub fn flavour(path: &str) -> Flavour {
    let b = path.as_bytes();
    if path.starts_with("\\\\") || path.starts_with("//") {
        return Flavour::Windows;
    }
    if b.len() >= 3 && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/') {
        return Flavour::Windows;
    }
    Flavour::Posix
}

pub fn normalize(path: &str) -> Result<NormalPath, NotAbsolute> {
    match flavour(path) {
        Flavour::Posix => {
            if !path.starts_with('/') {
                return Err(NotAbsolute);
            }
            Ok(NormalPath {
                flavour: Flavour::Posix,
                text: join_components("/", path.split('/')),
            })
        }
        Flavour::Windows => {
            let unified = path.replace('\\', "/").to_lowercase();
            if let Some(rest) = unified.strip_prefix("//") {
                // UNC: //server/share is the root; both must be present to be absolute.
                let mut parts = rest.split('/').filter(|c| !c.is_empty() && *c != ".");
                let (Some(server), Some(share)) = (parts.next(), parts.next()) else {
                    return Err(NotAbsolute);
                };
                let root = format!("//{server}/{share}/");
                Ok(NormalPath {
                    flavour: Flavour::Windows,
                    text: join_components(&root, parts),
                })
            } else {
                // `x:/...`, guaranteed by `flavour`.
                let (drive, rest) = unified.split_at(2);
                let root = format!("{drive}/");
                Ok(NormalPath {
                    flavour: Flavour::Windows,
                    text: join_components(&root, rest.split('/')),
                })
            }
        }
    }
}

fn join_components<'a>(root: &str, components: impl Iterator<Item = &'a str>) -> String {
    let mut out = root.to_string();
    for component in components.filter(|c| !c.is_empty() && *c != ".") {
        if !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(component);
    }
    out
}

/// Whether `path` equals or lies under one of `prefixes`, CSC style. A prefix that is itself not
/// absolute is skipped (the schema already rejects such policies).
pub fn is_under_any(path: &str, prefixes: &[String]) -> Result<bool, NotAbsolute> {
    let path = normalize(path)?;
    Ok(prefixes.iter().any(|prefix| {
        let Ok(prefix) = normalize(prefix) else {
            return false;
        };
        if prefix.flavour != path.flavour {
            return false;
        }
        let base = prefix.text.trim_end_matches('/');
        path.text == base || path.text.starts_with(&format!("{base}/")) || base.is_empty()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under(path: &str, prefix: &str) -> bool {
        is_under_any(path, &[prefix.to_string()]).unwrap()
    }

    #[test]
    fn prefix_is_component_wise() {
        assert!(under("/workspace", "/workspace"));
        assert!(under("/workspace/repo/**", "/workspace/"));
        assert!(!under("/workspace-evil", "/workspace"));
        assert!(under("/anything", "/"));
        assert!(under("/workspace//./repo", "/workspace"));
    }

    #[test]
    fn dotdot_is_not_resolved_lexically() {
        // CSC compares text; `..` is rejected at run time, where paths are resolved.
        assert!(under("/workspace/../etc", "/workspace"));
    }

    #[test]
    fn windows_paths_compare_case_insensitively_and_never_mix() {
        assert!(under("C:\\Users\\Me\\x", "c:/users/me"));
        assert!(!under("C:/users/me", "/"));
        assert!(!under("/c/users", "C:/"));
        assert!(under("//server/share/dir", "\\\\SERVER\\share"));
    }

    #[test]
    fn relative_paths_are_not_absolute() {
        assert_eq!(normalize("workspace"), Err(NotAbsolute));
        assert_eq!(normalize("C:foo"), Err(NotAbsolute));
        assert_eq!(normalize("//server"), Err(NotAbsolute));
    }
}
