//! Turning a requested scope path into the exact directory or file the kernel will grant.
//!
//! Landlock grants access to an *inode hierarchy*, found by opening the path. If we granted
//! whatever a symlink points to at open time, the grant in the receipt would name one path while
//! the kernel enforced another; and `..` makes a path's meaning depend on symlinks along the way.
//! So scopes are resolved once, up front, with symlinks followed, and `..` is refused outright:
//! what is reported is what is granted.

use std::path::{Component, Path, PathBuf};

use crate::Error;

/// Resolves `path` to its canonical form (symlinks followed), refusing relative paths and any
/// `..` component. The path must exist: Landlock can only grant existing inodes.
///
/// ```
/// # use cordon_sandbox::resolve_scope;
/// assert!(resolve_scope("/usr/../etc").is_err());
/// assert!(resolve_scope("relative/dir").is_err());
/// assert_eq!(resolve_scope("/").unwrap(), std::path::PathBuf::from("/"));
/// ```
pub fn resolve_scope(path: impl AsRef<Path>) -> Result<PathBuf, Error> {
    let path = path.as_ref();
    if !path.is_absolute() {
        return Err(Error::ScopeNotAbsolute {
            path: path.to_path_buf(),
        });
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::ScopeParentReference {
            path: path.to_path_buf(),
        });
    }
    std::fs::canonicalize(path).map_err(|source| Error::ScopeUnresolvable {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn follows_symlinks_to_the_real_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        symlink(&real, &link).unwrap();
        let resolved = resolve_scope(&link).unwrap();
        assert_eq!(resolved, std::fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn follows_symlink_chains() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("secret");
        std::fs::write(&real, b"x").unwrap();
        symlink(&real, dir.path().join("a")).unwrap();
        symlink(dir.path().join("a"), dir.path().join("b")).unwrap();
        let resolved = resolve_scope(dir.path().join("b")).unwrap();
        assert_eq!(resolved, std::fs::canonicalize(&real).unwrap());
    }

    #[test]
    fn refuses_parent_references_even_when_they_would_resolve() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let err = resolve_scope(dir.path().join("a/..")).unwrap_err();
        assert!(matches!(err, Error::ScopeParentReference { .. }), "{err}");
        let err = resolve_scope("/usr/bin/../../etc").unwrap_err();
        assert!(matches!(err, Error::ScopeParentReference { .. }), "{err}");
    }

    #[test]
    fn refuses_relative_paths() {
        let err = resolve_scope("work/dir").unwrap_err();
        assert!(matches!(err, Error::ScopeNotAbsolute { .. }), "{err}");
    }

    #[test]
    fn refuses_missing_paths_and_broken_links() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve_scope(dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, Error::ScopeUnresolvable { .. }), "{err}");
        symlink(dir.path().join("nowhere"), dir.path().join("broken")).unwrap();
        let err = resolve_scope(dir.path().join("broken")).unwrap_err();
        assert!(matches!(err, Error::ScopeUnresolvable { .. }), "{err}");
    }

    #[test]
    fn a_prefix_sibling_resolves_to_itself_not_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::create_dir(dir.path().join(".sshfoo")).unwrap();
        let resolved = resolve_scope(dir.path().join(".sshfoo")).unwrap();
        assert!(resolved.ends_with(".sshfoo"));
        assert!(!resolved.ends_with(".ssh"));
    }

    #[test]
    fn dot_components_are_normalized() {
        assert_eq!(
            resolve_scope("/usr/./bin/.").unwrap(),
            std::fs::canonicalize("/usr/bin").unwrap()
        );
    }
}
