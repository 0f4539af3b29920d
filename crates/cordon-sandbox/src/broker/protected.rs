//! The protected set as the broker checks it: which names, in which directories, a hardened
//! command may not create, change, remove or reach through, whether or not they exist when the
//! run starts.
//!
//! `protect.rs` finds, once at run start, where the names are ([`crate::protect::Protected`]: the
//! project roots and the git directories, by path; one walk for the mounts and the broker), and
//! names them ([`crate::PROTECTED_NAMES`], one list). Here each of those directories is keyed by
//! device and inode instead, which identifies it however it is reached (a bind mount, a symlink,
//! `/proc/self/cwd`, an open fd) and wherever it is moved during the run. A linked worktree's or
//! submodule's git directory may also not be created again under its own name once removed, so
//! it cannot come back with a `commondir` of the command's choosing.
//!
//! Repositories created during the run (`git init`, `git worktree add`) are not in the set: git
//! must be able to write the hooks and config of the repository it creates.

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::protect::Protected;

/// A directory's identity: `(st_dev, st_ino)`.
pub(crate) type DirId = (u64, u64);

#[derive(Default, Debug, Clone, PartialEq, Eq)]
struct DirRules {
    /// A project root: [`Protected::project_names`] are protected here.
    project_root: bool,
    /// A git directory: [`Protected::git_dir_names`] are protected here. Its path as the
    /// supervisor names it, at the run's start: where a checked rewrite of its config is made.
    git_dir: Option<PathBuf>,
    /// Names that may not be created here (removing them is allowed).
    no_recreate: Vec<Vec<u8>>,
    /// Files here that a protected repository's configuration includes ([`Protected::included`]).
    included: Vec<Vec<u8>>,
}

/// What a run's broker protects.
#[derive(Default, Debug)]
pub(crate) struct ProtectedSet {
    dirs: HashMap<DirId, DirRules>,
    /// Every name protected somewhere: a path none of whose components is one of these cannot
    /// reach a protected entry by name.
    names: HashSet<Vec<u8>>,
    /// Protected names a write grant names or reaches inside: the explicit override, as for
    /// the bind mounts.
    exceptions: HashSet<(DirId, Vec<u8>)>,
    /// Directories holding a file with a stand-in mounted over it, at any depth
    /// ([`Protected::stood_in`]): they may not be renamed.
    holders: HashSet<DirId>,
    /// Directories that are or hold a project root below a writable root: they may not be
    /// renamed either.
    project_holders: HashSet<DirId>,
    /// Linked worktrees' git directories (`.git/worktrees/NAME`): `git worktree remove` and
    /// `git worktree prune` delete them whole, protected names included. Removing is all that
    /// is allowed: a name removed there may not be created again, nor the directory itself.
    linked_worktrees: HashSet<DirId>,
}

impl ProtectedSet {
    /// The set for what `protect.rs` found. `write_roots`: the resolved writable roots (a grant
    /// inside a protected name leaves it writable); `writable`: the paths Landlock lets the
    /// command change beneath (after carving). A directory outside them needs no protection
    /// (Landlock refuses every change there, with its own errno), so it is left out.
    pub(crate) fn new(
        found: &Protected,
        write_roots: &[PathBuf],
        writable: &[PathBuf],
    ) -> ProtectedSet {
        let mut set = ProtectedSet::default();
        for name in Protected::project_names().chain(Protected::git_dir_names()) {
            set.names.insert(name.as_bytes().to_vec());
        }
        let changeable = |dir: &Path| writable.iter().any(|w| dir.starts_with(w));
        for root in found.project_roots.iter().filter(|r| changeable(r)) {
            if let Some(id) = dir_id(root) {
                set.dirs.entry(id).or_default().project_root = true;
            }
        }
        for git in &found.git_dirs {
            if let Some(id) = dir_id(git).filter(|_| changeable(git)) {
                set.dirs.entry(id).or_default().git_dir = Some(git.clone());
                let in_worktrees =
                    git.parent().and_then(Path::file_name) == Some("worktrees".as_ref());
                let main_git = git.parent().and_then(Path::parent);
                if in_worktrees && main_git.is_some_and(|m| found.git_dirs.iter().any(|g| g == m)) {
                    set.linked_worktrees.insert(id);
                }
            }
            // A worktree's or submodule's git directory, named in its parent.
            let name = git.file_name().filter(|n| *n != ".git");
            let parent = git.parent().filter(|p| changeable(p)).and_then(dir_id);
            if let (Some(name), Some(parent)) = (name, parent) {
                let name = name.as_bytes().to_vec();
                set.names.insert(name.clone());
                set.dirs.entry(parent).or_default().no_recreate.push(name);
            }
        }
        for file in &found.included {
            let parent = file.parent().filter(|p| changeable(p)).and_then(dir_id);
            if let (Some(parent), Some(name)) = (parent, file.file_name()) {
                let name = name.as_bytes().to_vec();
                set.names.insert(name.clone());
                set.dirs.entry(parent).or_default().included.push(name);
            }
            // Nor may a directory on the way be renamed, and another made at its path (red-team
            // round twenty: `mv conf conf.old; mkdir conf`).
            for dir in file.ancestors().skip(1).take_while(|d| changeable(d)) {
                if let Some(id) = dir_id(dir) {
                    set.holders.insert(id);
                }
            }
        }
        for file in &found.stood_in {
            for dir in file.ancestors().skip(1).take_while(|d| changeable(d)) {
                if let Some(id) = dir_id(dir) {
                    set.holders.insert(id);
                }
            }
        }
        // A project root below a writable root holds a pinned `.git` and protected names: moved
        // aside, its path is free for a directory of the command's making, where the protection
        // keyed by the old directory does not reach, with a `.git` file leading to the moved git
        // directory and the user's configuration in it (red-team round seventeen: `mv sub
        // .cache-old`, then a new `sub` whose `.husky/pre-commit` ran on the user's commit).
        for root in &found.project_roots {
            if write_roots.iter().any(|w| w == root) {
                continue;
            }
            for dir in root.ancestors().take_while(|d| changeable(d)) {
                if let Some(id) = dir_id(dir) {
                    set.project_holders.insert(id);
                }
            }
        }
        set.apply_grants(write_roots);
        set
    }

    /// Whether the directory `dir` holds a file with a stand-in over it, so that renaming it
    /// would carry the file away.
    pub(crate) fn holds_a_stand_in(&self, dir: DirId) -> bool {
        self.holders.contains(&dir)
    }

    /// Whether the directory `dir` is or holds a project root, whose pinned `.git` and protected
    /// names renaming it would carry away.
    pub(crate) fn holds_a_project(&self, dir: DirId) -> bool {
        self.project_holders.contains(&dir)
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
        (rules.project_root && Protected::project_names().any(|n| n.as_bytes() == name))
            || (rules.git_dir.is_some() && Protected::git_dir_names().any(|n| n.as_bytes() == name))
            || (creating && rules.no_recreate.iter().any(|n| n == name))
            || rules.included.iter().any(|n| n == name)
    }

    /// The git directory (its path at the run's start) whose config `name` in `dir` is, when
    /// it is one: git rewrites `config` and `config.worktree` by renaming a `config.lock` over
    /// them, and the broker writes such a rewrite itself once it has checked what it sets
    /// (`broker::config`), instead of refusing it.
    pub(crate) fn git_config(&self, dir: DirId, name: &[u8]) -> Option<&Path> {
        let name = strip_trailing_slashes(name);
        if !GIT_CONFIG_NAMES.contains(&name) || self.exceptions.contains(&(dir, name.to_vec())) {
            return None;
        }
        self.dirs.get(&dir)?.git_dir.as_deref()
    }

    /// Whether the protected `name` in `dir` may be removed: a name of a linked worktree's git
    /// directory, which `git worktree remove` deletes with the rest of it.
    pub(crate) fn removable(&self, dir: DirId, name: &[u8]) -> bool {
        let name = strip_trailing_slashes(name);
        self.linked_worktrees.contains(&dir)
            && Protected::git_dir_names().any(|n| n.as_bytes() == name)
    }

    /// Whether a mount the run made over `entry` (in `dir`) may be removed with it: a linked
    /// worktree's git directory (pinned) or a protected name in one (read-only).
    pub(crate) fn removable_mount(&self, dir: DirId, name: &[u8], entry: DirId) -> bool {
        self.linked_worktrees.contains(&entry) || self.removable(dir, name)
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

/// The config files of a git directory, which git rewrites whole through `NAME.lock`.
pub(crate) const GIT_CONFIG_NAMES: [&[u8]; 2] = [b"config", b"config.worktree"];

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(path: &Path) -> DirId {
        dir_id(path).unwrap()
    }

    /// The set for `roots`, from what `protect.rs` finds (one walk for both).
    fn planned(roots: &[PathBuf]) -> ProtectedSet {
        ProtectedSet::new(&Protected::find(roots), roots, roots)
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

    /// A file the repository's configuration includes is protected by name in its directory,
    /// whether or not it exists: made during the run, git would read it as configuration.
    #[test]
    fn files_the_configuration_includes_may_not_be_made_or_changed() {
        let (_ws, root) =
            crate::protect::tests::repository_with_config("[include]\n\tpath = ../conf/team.inc\n");
        let set = planned(std::slice::from_ref(&root));
        assert!(set.refuses(id(&root.join("conf")), b"team.inc", true));
        assert!(set.mentions(b"team.inc"));
        // Control: another name in that directory is the command's.
        assert!(!set.refuses(id(&root.join("conf")), b"other.inc", true));
    }

    #[test]
    fn directories_landlock_keeps_unchanged_need_no_protection() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let roots = vec![root.clone()];
        // Only `src` is writable (as when a workspace is granted around holes).
        let set = ProtectedSet::new(&Protected::find(&roots), &roots, &[root.join("src")]);
        assert_eq!(set.directories(), 0);
        assert!(!set.refuses(id(&root), b".claude", true));
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
}
