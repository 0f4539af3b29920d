//! The protected set: which names, in which directories, a hardened command may not create,
//! change, remove or reach through, whether or not they exist when the run starts.
//!
//! Directories are identified by device and inode: every *project root* (each writable root, and
//! each directory below one holding a `.git`, as `protect.rs`'s bounded walk found them at run
//! start: one walk for the mounts and the broker), its git directory, the git directories of
//! linked worktrees (`.git/worktrees/*`) and of submodules (`.git/modules/**`, a directory holding
//! `HEAD`). The names come from [`crate::PROTECTED_NAMES`] (one list for the bind mounts
//! and for the broker): the entries without a `/` at project roots, the `.git/…` entries inside
//! every git directory. A worktree's or submodule's git directory may also not be created again
//! under its own name once removed, so it cannot be replaced by one with a `commondir` of the
//! command's choosing.
//!
//! An inode identifies a directory however it is reached (a bind mount, a symlink, `/proc/self/cwd`,
//! an open fd) and wherever it is moved during the run. Repositories created during the run
//! (`git init`, `git worktree add`) are not in the set: `git init` must be able to write the
//! hooks and config of the repository it creates.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::protect::{MAX_WALK_DEPTH, PROTECTED_NAMES};

/// A directory's identity: `(st_dev, st_ino)`.
pub(crate) type DirId = (u64, u64);

/// How many directories below one git directory's `modules` are searched for submodules.
const MAX_MODULE_DIRS: usize = 256;

#[derive(Default, Debug, Clone, PartialEq, Eq)]
struct DirRules {
    /// A project root: the names of [`root_names`] are protected here.
    project_root: bool,
    /// A git directory: the names of [`git_names`] are protected here.
    git_dir: bool,
    /// Names that may not be created here (removing them is allowed).
    no_recreate: Vec<Vec<u8>>,
}

/// What a run's broker protects.
#[derive(Default, Debug)]
pub(crate) struct ProtectedSet {
    dirs: HashMap<DirId, DirRules>,
    /// Every name protected somewhere: a path none of whose components is one of these cannot
    /// reach a protected entry by name.
    names: HashSet<Vec<u8>>,
    /// Protected names a write grant names or reaches inside: the explicit override, as for
    /// the bind mounts (`protect.rs`).
    exceptions: HashSet<(DirId, Vec<u8>)>,
}

/// Names protected at every project root.
pub(crate) fn root_names() -> impl Iterator<Item = &'static str> {
    PROTECTED_NAMES.iter().copied().filter(|n| !n.contains('/'))
}

/// Names protected inside every git directory.
pub(crate) fn git_names() -> impl Iterator<Item = &'static str> {
    PROTECTED_NAMES
        .iter()
        .filter_map(|n| n.strip_prefix(".git/"))
        .filter(|n| !n.contains('/'))
}

impl ProtectedSet {
    /// The set for the project roots `protect.rs` found, with the resolved writable roots (a
    /// grant inside a protected name leaves it writable).
    pub(crate) fn for_projects(project_roots: &[PathBuf], write_roots: &[PathBuf]) -> ProtectedSet {
        let mut set = ProtectedSet::default();
        for name in root_names().chain(git_names()) {
            set.names.insert(name.as_bytes().to_vec());
        }
        for project in project_roots {
            set.add_project(project);
        }
        set.apply_grants(write_roots);
        set
    }

    /// One project root: its own names, and its git directory's.
    fn add_project(&mut self, dir: &Path) {
        if let Some(id) = dir_id(dir) {
            self.dirs.entry(id).or_default().project_root = true;
        }
        let git = dir.join(".git");
        match std::fs::symlink_metadata(&git) {
            Ok(m) if m.is_dir() => self.add_git_dir(&git, true),
            // A `.git` file names the real git directory (a linked worktree, a submodule).
            Ok(m) if m.is_file() => {
                if let Some(real) = gitdir_of(&git) {
                    self.add_git_dir(&real, true);
                }
            }
            _ => {}
        }
    }

    /// A git directory, its linked worktrees' and its submodules' git directories.
    fn add_git_dir(&mut self, git: &Path, with_children: bool) {
        let Some(id) = dir_id(git) else {
            return;
        };
        self.dirs.entry(id).or_default().git_dir = true;
        if !with_children {
            return;
        }
        if let Ok(entries) = std::fs::read_dir(git.join("worktrees")) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    self.add_nested_git_dir(&entry.path());
                }
            }
        }
        let mut budget = MAX_MODULE_DIRS;
        self.add_modules(&git.join("modules"), 0, &mut budget);
    }

    /// A worktree's or submodule's git directory: protected like the main one, and its name may
    /// not be created again in its parent.
    fn add_nested_git_dir(&mut self, dir: &Path) {
        self.add_git_dir(dir, false);
        if let (Some(parent), Some(name)) = (dir.parent().and_then(dir_id), dir.file_name()) {
            let rules = self.dirs.entry(parent).or_default();
            rules.no_recreate.push(name.as_bytes().to_vec());
            self.names.insert(name.as_bytes().to_vec());
        }
    }

    /// Submodule git directories below `.git/modules` (names may contain slashes); each one may
    /// have modules of its own.
    fn add_modules(&mut self, dir: &Path, depth: usize, budget: &mut usize) {
        if depth > MAX_WALK_DEPTH || *budget == 0 {
            return;
        }
        *budget -= 1;
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            if path.join("HEAD").is_file() {
                self.add_nested_git_dir(&path);
                self.add_modules(&path.join("modules"), 0, budget);
            } else {
                self.add_modules(&path, depth + 1, budget);
            }
        }
    }

    /// Whether `name` in the directory `dir` may not be touched. `creating` is true when the call
    /// would create an entry by that name (a name that may not be created again counts only then).
    pub(crate) fn refuses(&self, dir: DirId, name: &[u8], creating: bool) -> bool {
        let Some(rules) = self.dirs.get(&dir) else {
            return false;
        };
        let name = strip_trailing_slashes(name);
        if !self.exceptions.is_empty() && self.exceptions.contains(&(dir, name.to_vec())) {
            return false;
        }
        (rules.project_root && root_names().any(|n| n.as_bytes() == name))
            || (rules.git_dir && git_names().any(|n| n.as_bytes() == name))
            || (creating && rules.no_recreate.iter().any(|n| n == name))
    }

    /// Whether a name is protected in some directory (a path without any such component cannot
    /// reach a protected entry by name, which lets the walk take its fast path).
    pub(crate) fn mentions(&self, name: &[u8]) -> bool {
        self.names.contains(strip_trailing_slashes(name))
    }

    /// How many directories have protected names.
    pub(crate) fn directories(&self) -> usize {
        self.dirs.len()
    }

    /// A write grant of `P/.claude/commands` overrides `.claude` in `P`: every protected name on
    /// the way up from a writable root is left writable, as the bind mounts leave it.
    fn apply_grants(&mut self, write_roots: &[PathBuf]) {
        let mut overridden = Vec::new();
        for root in write_roots {
            let mut path = root.as_path();
            while let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
                if let Some(id) = dir_id(parent) {
                    if self.refuses(id, name.as_bytes(), true) {
                        overridden.push((id, name.as_bytes().to_vec()));
                    }
                }
                path = parent;
            }
        }
        self.exceptions.extend(overridden);
    }
}

fn strip_trailing_slashes(name: &[u8]) -> &[u8] {
    let end = name.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    &name[..end]
}

fn dir_id(path: &Path) -> Option<DirId> {
    std::fs::metadata(path)
        .ok()
        .filter(std::fs::Metadata::is_dir)
        .map(|m| (m.dev(), m.ino()))
}

/// The directory a `.git` file names (`gitdir: PATH`, relative to the file's directory).
fn gitdir_of(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(file)
        .ok()?
        .take(4096)
        .read_to_end(&mut text)
        .ok()?;
    let text = String::from_utf8(text).ok()?;
    let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    let path = file.parent()?.join(target);
    std::fs::metadata(&path).ok()?.is_dir().then_some(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(path: &Path) -> DirId {
        dir_id(path).unwrap()
    }

    /// The set for `roots`, from the project roots `protect.rs` finds (one walk for both).
    fn planned(roots: &[PathBuf]) -> ProtectedSet {
        let tmp = tempfile::tempdir().unwrap();
        let plan = crate::protect::plan_with(roots, tmp.path(), &[], false).unwrap();
        ProtectedSet::for_projects(&plan.project_roots, roots)
    }

    #[test]
    fn names_are_protected_by_directory_identity_not_by_path() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".git/worktrees/feature")).unwrap();
        std::fs::create_dir_all(root.join(".git/modules/libs/dep")).unwrap();
        std::fs::write(root.join(".git/modules/libs/dep/HEAD"), "ref: x").unwrap();
        std::fs::create_dir_all(root.join("vendor/lib/.git")).unwrap();
        std::fs::create_dir_all(root.join("plain")).unwrap();
        let set = planned(std::slice::from_ref(&root));

        // Project roots: the writable root and the nested repository.
        for dir in [root.clone(), root.join("vendor/lib")] {
            for name in [".claude", ".envrc", ".mcp.json", ".vscode"] {
                assert!(
                    set.refuses(id(&dir), name.as_bytes(), true),
                    "{dir:?} {name}"
                );
            }
            assert!(!set.refuses(id(&dir), b"src", true));
        }
        // Git directories: the main one, a worktree's, a submodule's, a nested repository's.
        for git in [
            root.join(".git"),
            root.join(".git/worktrees/feature"),
            root.join(".git/modules/libs/dep"),
            root.join("vendor/lib/.git"),
        ] {
            for name in ["hooks", "config", "commondir", "info", "config.worktree"] {
                assert!(
                    set.refuses(id(&git), name.as_bytes(), false),
                    "{git:?} {name}"
                );
            }
            assert!(!set.refuses(id(&git), b"objects", true), "{git:?}");
        }
        // A worktree's git directory may be removed but not made again.
        let worktrees = id(&root.join(".git/worktrees"));
        assert!(set.refuses(worktrees, b"feature", true));
        assert!(!set.refuses(worktrees, b"feature", false));
        assert!(!set.refuses(worktrees, b"other", true));
        // A directory that is no project root protects nothing; names in it are fine.
        assert!(!set.refuses(id(&root.join("plain")), b".claude", true));
        // A trailing slash names the same entry.
        assert!(set.refuses(id(&root), b".claude/", true));
        // The fast path may skip only paths that mention no protected name.
        assert!(set.mentions(b".claude") && set.mentions(b"hooks") && set.mentions(b"feature"));
        assert!(!set.mentions(b"src"));
    }

    #[test]
    fn a_write_grant_inside_a_protected_name_overrides_it() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".claude/commands")).unwrap();
        let roots = vec![root.clone(), root.join(".claude/commands")];
        let set = planned(&roots);
        assert!(!set.refuses(id(&root), b".claude", true));
        assert!(set.refuses(id(&root), b".vscode", true));
    }

    #[test]
    fn the_private_tmpdir_is_no_project_root() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        let plan = crate::protect::plan_with(std::slice::from_ref(&dir), &dir, &[], false);
        let set =
            ProtectedSet::for_projects(&plan.unwrap().project_roots, std::slice::from_ref(&dir));
        assert_eq!(set.directories(), 0);
        assert!(!set.refuses(id(&dir), b".envrc", true));
    }
}
