//! Protected metadata inside writable roots: git hooks and config, agent and editor settings.
//!
//! A writable workspace usually holds files that *other* programs later execute or obey with the
//! user's full authority: `.git/hooks/pre-commit` runs on the user's next commit, `.git/config`
//! can name a `core.hooksPath`, `core.fsmonitor` or `core.sshCommand`, and `.claude`, `.codex`,
//! `.vscode`, `.envrc` configure agents, editors and shells. Landlock cannot deny a path inside a
//! tree it allows, so a grant of the workspace would hand all of these over.
//!
//! Hardened mode therefore gives the command a private mount namespace and bind-mounts each such
//! path that exists inside a writable root read-only over itself. Writes fail with `EROFS`, and
//! renaming or removing a mount point fails with `EBUSY`. A `.git` directory itself is
//! bind-mounted read-write over itself ("pinned"): it stays writable (objects, index, refs), but it
//! cannot be renamed aside and replaced by a directory with hooks of the command's choosing. The
//! seccomp filter denies the whole mount family (`mount`, `umount2`, `move_mount`, …) and Landlock
//! denies mount operations too, so the command cannot undo any of it.
//!
//! What is found, and what is not (the report repeats this for every run):
//! - every name in [`PROTECTED_NAMES`] at each writable root and at each *project root* below it,
//!   a directory holding a `.git`, found by the search of every directory below it
//!   (`search.rs`, up to [`MAX_SEARCHED_DIRS`] directories), which neither follows symlinks nor
//!   crosses filesystems;
//! - only paths that exist when the run starts: a bind mount needs an existing mount point, and
//!   creating one would change the user's workspace. A `.claude` that is absent can be created, and
//!   a `.git` made by `git init` during the run is not protected. The exception is a missing
//!   `.git/hooks`, created empty before the run (git behaves the same with an empty one);
//! - a protected name that is a symlink is skipped (the link itself could be replaced), and noted.
//! - submodule git directories under `.git/modules` are protected like the main one; a
//!   `core.hooksPath` outside [`PROTECTED_NAMES`] is not followed.
//!
//! A write grant that names a protected path, or a path inside one, is the explicit override: that
//! path is left writable.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cordon_core::name_glob::NameGlobs;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use crate::git_index::Index;
use crate::plan::Substitute;
use crate::report::{ProtectedPath, ProtectedReport, Protection};
use crate::search::{MAX_SEARCHED_DIRS, SEARCH_SKIPPED};
use crate::Error;

/// Paths protected at every project root, relative to it. `.git/hooks` and `.git/config` run or
/// configure code on the user's next git command, and `.git/commondir` moves both to another
/// directory; `.git/info` holds `attributes` (filter drivers) and `exclude`. The `.git/` names
/// hold in every git directory: the main one, each linked worktree's (`.git/worktrees/*`) and each
/// submodule's (`.git/modules/**`). `.git/remotes` and `.git/branches` are git's old places
/// for a remote's URL and push refspecs, which it still reads for a remote its config does not
/// name (red-team round fifteen). `.husky` is where husky points `core.hooksPath`, and
/// `.pre-commit-config.yaml` and lefthook's files say what the hooks pre-commit and lefthook
/// install run; the rest configure agents (`.claude`, `.codex`, `.agents`, `.gemini`, `.cursor`,
/// `.mcp.json`, opencode's, Kiro's, Roo's, Continue's, Windsurf's, Aider's, Amazon Q's, Qwen's,
/// Crush's, Junie's and Kilo Code's settings, rules files), editors (`.vscode`, `.idea`, `.zed`;
/// a dev container runs `initializeCommand` on the host), shells (`.envrc` for direnv, mise's
/// files), package managers that run code from the project's settings (`.npmrc`'s
/// `node-options` and `script-shell`, `.yarnrc.yml`'s `yarnPath`, `.pnpmfile.cjs`) and
/// credentials (`.aws`, `.ssh`). Instruction files (`CLAUDE.md`, `AGENTS.md`) are left
/// writable: agents are asked to keep them, and they run nothing by themselves.
///
/// `.gitmodules` is not protected: git refuses `update = !command` from it, and `git submodule add`
/// must be able to write it.
pub const PROTECTED_NAMES: &[&str] = &[
    ".git/hooks",
    ".git/config",
    ".git/config.worktree",
    ".git/commondir",
    ".git/info",
    ".git/remotes",
    ".git/branches",
    ".husky",
    ".claude",
    ".codex",
    ".agents",
    ".gemini",
    ".cursor",
    ".mcp.json",
    ".vscode",
    ".idea",
    ".envrc",
    ".aws",
    ".ssh",
    ".pre-commit-config.yaml",
    "lefthook.yml",
    "lefthook.yaml",
    ".lefthook.yml",
    ".lefthook.yaml",
    "opencode.json",
    ".opencode",
    ".kiro",
    ".roo",
    ".zed",
    ".continue",
    ".windsurf",
    ".devcontainer",
    ".cursorrules",
    ".windsurfrules",
    ".clinerules",
    ".devcontainer.json",
    "opencode.jsonc",
    "lefthook-local.yml",
    "lefthook-local.yaml",
    ".lefthook-local.yml",
    ".lefthook-local.yaml",
    "lefthook.toml",
    "lefthook.json",
    ".lefthook.toml",
    ".lefthook.json",
    "lefthook-local.toml",
    "lefthook-local.json",
    ".lefthook-local.toml",
    ".lefthook-local.json",
    ".lefthook",
    "mise.toml",
    ".mise.toml",
    "mise.local.toml",
    ".mise.local.toml",
    ".mise",
    ".aider.conf.yml",
    ".amazonq",
    ".qwen",
    ".crush.json",
    ".junie",
    ".kilocode",
    ".yarnrc.yml",
    ".pnpmfile.cjs",
    ".npmrc",
    ".yarnrc",
    ".pnpmfile.mjs",
    "crush.json",
    ".aider.conf.yaml",
    "mise",
    "bunfig.toml",
    // Editors that run what a project's settings say when it is opened: Helix's language servers,
    // Neovim's and Vim's exrc files and lazy.nvim's local spec, Emacs's directory variables.
    ".helix",
    ".nvim.lua",
    ".nvimrc",
    ".exrc",
    ".lazy.lua",
    ".dir-locals.el",
    ".dir-locals-2.el",
    // Mercurial's repository settings (hooks run on the user's next `hg` command, as git's do),
    // and the start-up files of REPLs and debuggers that read the working directory's: pdb's,
    // R's, irb's and pry's (red-team round ten wrote each).
    ".hg/hgrc",
    ".pdbrc",
    ".pdbrc.py",
    ".Rprofile",
    ".irbrc",
    ".pryrc",
    // Vim reads the working directory's `.vimrc` and `.gvimrc` too when `exrc` is set, and gdb
    // and lldb their `.gdbinit` and `.lldbinit` where the user's settings allow (red-team round
    // twenty-two wrote `.vimrc` and `.gdbinit`).
    ".vimrc",
    ".gvimrc",
    ".gdbinit",
    ".lldbinit",
    // More start-up files read from the working directory (perl's debugger, GHCi, IEx, R's
    // environment, Octave, Erlang: red-team round twenty-four ran `perl -d` so), and git-lfs's
    // `.lfsconfig`, whose `lfs.url` sends the user's pushed large files elsewhere.
    ".perldb",
    ".ghci",
    ".iex.exs",
    ".Renviron",
    ".octaverc",
    ".erlang",
    ".lfsconfig",
];

/// How deep below `.git/modules` submodule git directories are sought (names may have slashes).
const MAX_MODULE_DEPTH: usize = 3;

/// The protected set computed when a run starts: where the protected names are, for every
/// mechanism that must keep them read-only, including one that refuses to *create* a protected
/// name absent at start (which a bind mount cannot cover). One copy of the names:
/// [`PROTECTED_NAMES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protected {
    /// Writable roots and the project roots found below them (directories holding a `.git`):
    /// where the agent, editor and shell names ([`Protected::project_names`]) are protected.
    pub project_roots: Vec<PathBuf>,
    /// Git directories inside them (the main one, `.git/worktrees/*`, `.git/modules/**`): where
    /// the git names ([`Protected::git_dir_names`]) are protected.
    pub git_dirs: Vec<PathBuf>,
    /// The same directories' device and inode when the run started: what the checks after it
    /// know them by, since a directory made later at one's path is not one of them.
    pub git_dir_ids: Vec<(u64, u64)>,
    /// Files the protected repositories' configuration includes, inside writable roots, whether
    /// or not they exist: git reads them as configuration, so they may not be made either.
    pub included: Vec<PathBuf>,
    /// Files with an empty stand-in mounted over them (credential-named files, closed paths
    /// beneath a writable root), and the host's sockets covered so: the directories holding them
    /// may not be renamed, or the file would move, behind its stand-in, to where the next run's
    /// search does not look (a skipped `target`, a path too long to name), and a command could
    /// make the socket's directory again and listen where the host's clients connect (red-team
    /// round twenty-three).
    pub stood_in: Vec<PathBuf>,
}

impl Protected {
    /// Finds the protected set inside `write_roots` (real paths), without planning any mount.
    /// A `.git/hooks` missing from a git directory is created empty, as for a run.
    pub fn find(write_roots: &[PathBuf]) -> Protected {
        let mut found = BTreeMap::new();
        let mut report = ProtectedReport::default();
        search(write_roots, None, None, &[], None, &mut found, &mut report);
        Protected::from_report(&report)
    }

    pub(crate) fn from_report(report: &ProtectedReport) -> Protected {
        Protected {
            project_roots: report.project_roots.clone(),
            git_dirs: report.git_dirs.clone(),
            included: report.included.clone(),
            git_dir_ids: report
                .git_dirs
                .iter()
                .filter_map(|g| std::fs::symlink_metadata(g).ok())
                .map(|m| (m.dev(), m.ino()))
                .collect(),
            stood_in: report
                .paths
                .iter()
                .filter(|p| {
                    matches!(
                        p.how,
                        Protection::Emptied | Protection::Sealed | Protection::Unreachable
                    )
                })
                .map(|p| p.path.clone())
                .collect(),
        }
    }

    /// Names protected at a project root: `.claude`, `.vscode`, `.envrc`, ...
    pub fn project_names() -> impl Iterator<Item = &'static str> {
        PROTECTED_NAMES
            .iter()
            .copied()
            .filter(|n| !n.starts_with(".git/"))
    }

    /// Names protected in a git directory: `hooks`, `config`, `commondir`, `info`, ...
    pub fn git_dir_names() -> impl Iterator<Item = &'static str> {
        PROTECTED_NAMES
            .iter()
            .filter_map(|n| n.strip_prefix(".git/"))
    }

    /// True when the entry `name` of the directory `parent` (a real path) is protected.
    pub fn is_protected(&self, parent: &Path, name: &std::ffi::OsStr) -> bool {
        (self.project_roots.iter().any(|r| r == parent)
            && Protected::project_names().any(|n| *n == *name))
            || (self.git_dirs.iter().any(|g| g == parent)
                && Protected::git_dir_names().any(|n| *n == *name))
    }
}

/// One bind mount the child makes.
#[derive(Clone)]
pub(crate) struct Target {
    pub path: CString,
    /// What is mounted at `path`: `None` for `path` itself, `Some` for a substitute program.
    pub source: Option<CString>,
    /// `Some` for a read-only mount: the flags of the remount that makes it read-only (the source
    /// filesystem's `noexec` is kept, because a user namespace may not drop a locked flag).
    pub remount: Option<MsFlags>,
    /// A convenience (a stand-in over a file Landlock closes anyway): its failure is not fatal.
    pub optional: bool,
    /// For a stand-in: what `source` must be when the child mounts it ([`open_stand_in`]).
    pub stand_in: Option<StandIn>,
}

/// What a stand-in must be when it is mounted: the supervisor checked it before the fork, and
/// the child opens it again without following a link and checks it on the descriptor it then
/// mounts, so a swap in between (by a process of the same user outside any sandbox) cannot put
/// another file in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StandIn {
    /// An empty read-only regular file of this user's (mode 0444).
    EmptyFile,
    /// An empty regular file of this user's that nobody may read or write (mode 000).
    SealedFile,
    /// A directory of this user's that nobody may read, write or search (mode 000).
    ClosedDir,
}

impl StandIn {
    /// Whether a file of `mode` (type and permission bits), `owner` and `size` is this stand-in
    /// as made by the user `uid`: the one rule for the supervisor's check of the kept pair and
    /// the child's check of the descriptor it mounts.
    pub(crate) fn fits(self, mode: u32, owner: u32, size: u64, uid: u32) -> bool {
        let (kind, permissions) = (mode & libc::S_IFMT, mode & 0o7777);
        owner == uid
            && match self {
                StandIn::EmptyFile => kind == libc::S_IFREG && permissions == 0o444 && size == 0,
                StandIn::SealedFile => kind == libc::S_IFREG && permissions == 0 && size == 0,
                StandIn::ClosedDir => kind == libc::S_IFDIR && permissions == 0,
            }
    }
}

/// What the supervisor found, prepared before any fork.
pub(crate) struct ProtectPlan {
    /// Sorted so a pinned `.git` is mounted before the read-only paths inside it.
    pub targets: Vec<Target>,
    pub report: ProtectedReport,
    /// Where the protected names are (for a mechanism that refuses creating them, and for the
    /// check of worktrees made during the run).
    pub protected: Protected,
}

/// What the mount namespace is planned from.
pub(crate) struct Request<'a> {
    /// Writable roots, already resolved, where protected names are sought.
    pub write_roots: &'a [PathBuf],
    /// The run's private TMPDIR, which is never searched.
    pub tmp: &'a Path,
    pub substitutes: &'a [Substitute],
    /// Closed paths of the envelope that exist beneath a granted root, each to have a stand-in
    /// mounted over it.
    pub stand_ins: &'a [PathBuf],
    /// Closed files outside every granted root: stood in for only if a mount namespace can be had.
    pub convenience_stand_ins: &'a [PathBuf],
    /// The envelope's read-only paths beneath a writable root, kept like configuration git
    /// reads ([`Finder::configuration`]) instead of by granting the root around them.
    pub read_only: &'a [PathBuf],
    /// The host's Unix sockets to cover (`host_sockets.rs`), resolved.
    pub host_sockets: &'a [PathBuf],
    /// File-name globs closed wherever the search finds such a file (`Envelope::never_names`).
    pub never_names: &'a [String],
    /// Where the search remembers the workspace between runs (`Envelope::search_memory`).
    pub search_memory: Option<&'a Path>,
    /// Directories the search does not enter: the envelope's caches, toolchains and closed
    /// paths, where they lie inside a writable root (the home as the workspace).
    pub not_searched: &'a [PathBuf],
    /// The empty read-only file mounted over a closed file.
    pub stand_in: &'a Path,
    /// The empty directory (mode 000) mounted over a closed directory.
    pub stand_in_dir: &'a Path,
    /// The empty file (mode 000) mounted over a credential git tracks with other contents.
    pub stand_in_sealed: &'a Path,
}

/// Finds the protected paths and plans every mount of the run.
pub(crate) fn plan(request: &Request<'_>) -> Result<ProtectPlan, Error> {
    let (write_roots, tmp, substitutes) = (request.write_roots, request.tmp, request.substitutes);
    let mut found: BTreeMap<PathBuf, Protection> = BTreeMap::new();
    let mut report = ProtectedReport::default();
    let names = crate::envelope::name_matcher(request.never_names)?;
    search(
        write_roots,
        Some(tmp),
        Some((request.never_names, &names)),
        request.not_searched,
        request.search_memory,
        &mut found,
        &mut report,
    );
    let mut finder = Finder {
        write_roots,
        found: &mut found,
        report: &mut report,
    };
    for path in request.read_only {
        // Planned beneath a searched root, where nothing else keeps it: anything else is a
        // planning error, and the run does not start.
        if !write_roots.iter().any(|w| path.starts_with(w)) {
            return Err(Error::Envelope(format!(
                "the read-only path {} lies beneath no root the protection covers",
                path.display()
            )));
        }
        finder.configuration(path);
    }
    for closed in request
        .stand_ins
        .iter()
        .chain(request.convenience_stand_ins)
    {
        found.insert(closed.clone(), Protection::Emptied);
    }
    for socket in request.host_sockets {
        found
            .entry(socket.clone())
            .or_insert(Protection::Unreachable);
    }
    // Nothing is mounted inside a closed directory: it is hidden whole, and a mount point inside
    // the empty stand-in would not exist.
    let hidden: Vec<PathBuf> = found
        .iter()
        .filter(|(p, how)| **how == Protection::Emptied && p.is_dir())
        .map(|(p, _)| p.clone())
        .collect();
    found.retain(|p, _| !hidden.iter().any(|h| p.starts_with(h) && p != h));
    let mut targets = Vec::new();
    for (path, how) in &found {
        let c = c_path(path)?;
        let (source, stand_in) = match how {
            Protection::Emptied if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) => (
                Some(c_path(request.stand_in_dir)?),
                Some(StandIn::ClosedDir),
            ),
            Protection::Emptied => (Some(c_path(request.stand_in)?), Some(StandIn::EmptyFile)),
            Protection::Sealed | Protection::Unreachable => (
                Some(c_path(request.stand_in_sealed)?),
                Some(StandIn::SealedFile),
            ),
            _ => (None, None),
        };
        let remount = match (how, &source) {
            (Protection::Pinned, _) => None,
            (Protection::Emptied | Protection::Sealed | Protection::Unreachable, Some(source)) => {
                Some(read_only_flags(source)?)
            }
            _ => Some(read_only_flags(&c)?),
        };
        targets.push(Target {
            path: c,
            source,
            remount,
            // A socket gone before the child mounts over it leaves nothing to reach.
            optional: *how == Protection::Unreachable
                || request.convenience_stand_ins.contains(path),
            stand_in,
        });
        report.paths.push(ProtectedPath {
            path: path.clone(),
            how: *how,
        });
    }
    // After the protected names: a substitute sits in a system directory, never inside them.
    for substitute in substitutes {
        targets.push(substitute_target(substitute)?);
        report.paths.push(ProtectedPath {
            path: substitute.program.clone(),
            how: Protection::Substituted,
        });
    }
    let protected = Protected::from_report(&report);
    Ok(ProtectPlan {
        targets,
        report,
        protected,
    })
}

/// Searches the writable roots for project roots and files named like credentials
/// (`search.rs`), and records every protected path that exists.
fn search(
    write_roots: &[PathBuf],
    tmp: Option<&Path>,
    never_names: Option<(&[String], &NameGlobs)>,
    avoid: &[PathBuf],
    memory: Option<&Path>,
    found: &mut BTreeMap<PathBuf, Protection>,
    report: &mut ProtectedReport,
) {
    let mut finder = Finder {
        write_roots,
        found,
        report,
    };
    let roots: Vec<PathBuf> = write_roots
        .iter()
        .filter(|r| Some(r.as_path()) != tmp && std::fs::metadata(r).is_ok_and(|m| m.is_dir()))
        .cloned()
        .collect();
    for root in &roots {
        // A grant of a git directory itself (the repository of a workspace that is a linked
        // worktree, a subdirectory, or a submodule's checkout): its hooks and config are still
        // protected.
        if root.file_name().is_some_and(|n| n == ".git") {
            if let Some(project) = root.parent() {
                finder.project(project);
            }
        } else if root.join("HEAD").is_file() && root.join("objects").is_dir() {
            finder.git_dir(root, true);
            finder.git_worktrees(&root.join("worktrees"));
        }
        finder.project(root);
    }
    // Protected directories are entered too: a `.devcontainer/.env` or a workspace `.ssh/id_rsa`
    // is a credential like any other (red-team round 4 read the first).
    let enters = |name: &OsStr| !SEARCH_SKIPPED.contains(&name.to_str().unwrap_or(""));
    let mut key: Vec<u8> = Vec::new();
    for part in never_names
        .map_or(&[][..], |(globs, _)| globs)
        .iter()
        .map(String::as_str)
        .chain([""])
        .chain(SEARCH_SKIPPED.iter().copied())
    {
        key.extend(part.as_bytes());
        key.push(0);
    }
    let rules = crate::search::Rules {
        never_names: never_names.map(|(_, matcher)| matcher),
        key,
        enters: &enters,
        avoid,
    };
    let searched = crate::search::search(&roots, &rules, memory);
    for dir in &searched.project_roots {
        finder.project(dir);
    }
    finder.never_files(&searched.never_files);
    for dir in searched.unreadable.iter().take(MAX_UNREADABLE_WARNINGS) {
        finder.report.warnings.push(format!(
            "the search for repositories and files named like credentials could not read {}; what it holds is not protected unless an earlier run saw it",
            dir.display()
        ));
    }
    if searched.unreadable.len() > MAX_UNREADABLE_WARNINGS {
        finder.report.warnings.push(format!(
            "{} more directories could not be read by the search",
            searched.unreadable.len() - MAX_UNREADABLE_WARNINGS
        ));
    }
    if searched.truncated {
        finder.report.warnings.push(format!(
            "the search of the workspace for repositories and files named like credentials stopped after {MAX_SEARCHED_DIRS} directories; what lies beyond it and was not seen by an earlier run is not protected"
        ));
    }
    finder.report.notes.push(format!(
        "searched every directory of each writable root (not entering {}) for `.git` and files named like credentials: {} read, {} unchanged since an earlier run; paths created during the run (a new `.claude`, a `.git` made by `git init`) are not protected",
        SEARCH_SKIPPED.join(", "),
        searched.read,
        searched.reused
    ));
}

/// The mount of a workspace's own temporary directory over `/tmp` (`seen_at`, resolved): a bind,
/// read-write, and last of all, since the stand-ins are mounted from the host's `/tmp`.
pub(crate) fn tmp_cover(dir: &Path, seen_at: &Path) -> Result<Target, Error> {
    Ok(Target {
        path: c_path(seen_at)?,
        source: Some(c_path(dir)?),
        remount: None,
        optional: false,
        stand_in: None,
    })
}

fn c_path(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Unenforceable {
        feature: "mounting in the command's mount namespace",
        detail: format!("{}: path contains a NUL byte", path.display()),
    })
}

/// The mount that replaces one program. Both ends must be regular files: a bind mount of a
/// file over a directory (or the reverse) fails in the child, and a program that is really a
/// multi-call binary (busybox) is refused by the caller before it gets here.
fn substitute_target(substitute: &Substitute) -> Result<Target, Error> {
    let unusable = |detail: String| Error::Unenforceable {
        feature: "replacing a program for the command",
        detail,
    };
    let c_path = |path: &Path| {
        CString::new(path.as_os_str().as_bytes())
            .map_err(|_| unusable(format!("{}: path contains a NUL byte", path.display())))
    };
    let regular_file = |path: &Path| {
        let real = std::fs::canonicalize(path)
            .map_err(|e| unusable(format!("{}: {e}", path.display())))?;
        if std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
            Ok(real)
        } else {
            Err(unusable(format!(
                "{} is not a regular file",
                path.display()
            )))
        }
    };
    let program = regular_file(&substitute.program)?;
    let source = c_path(&regular_file(&substitute.with)?)?;
    let remount = Some(read_only_flags(&source)?);
    Ok(Target {
        path: c_path(&program)?,
        source: Some(source),
        remount,
        optional: false,
        stand_in: None,
    })
}

/// What the search for protected paths fills in, under the writable roots it searches.
struct Finder<'a> {
    write_roots: &'a [PathBuf],
    found: &'a mut BTreeMap<PathBuf, Protection>,
    report: &'a mut ProtectedReport,
}

/// How many directories the search could not read are named in the warnings.
const MAX_UNREADABLE_WARNINGS: usize = 5;

/// What a repository's index says of a credential-named file.
enum GitSees {
    /// An entry whose object is exactly the file's contents: left as it is.
    TheSameContents,
    /// An entry with other contents: sealed (a stand-in nobody may open).
    OtherContents,
    /// No entry, or no index: emptied.
    Nothing,
}

/// How many files left readable because git stores their contents are named in the notes.
const MAX_TRACKED_NOTES: usize = 20;

/// How many links a path git reads is followed through (the kernel's own bound).
const MAX_LINK_HOPS: usize = 40;

/// How many entries of one hooks directory are looked at for links (git knows about thirty
/// hook names).
const MAX_HOOK_ENTRIES: usize = 256;

/// How many linked worktrees below one `.git/worktrees` are protected.
const MAX_WORKTREES: usize = 256;

/// How many directories below one `.git/modules` are searched for submodule git directories.
const MAX_MODULE_DIRS: usize = 256;

impl Finder<'_> {
    /// Records the protected names that exist under one project root.
    fn project(&mut self, dir: &Path) {
        if !self.report.project_roots.iter().any(|r| r == dir) {
            self.report.project_roots.push(dir.to_path_buf());
        }
        let git = dir.join(".git");
        match std::fs::symlink_metadata(&git) {
            Ok(m) if m.is_dir() => {
                self.git_dir(&git, true);
                // Linked worktrees keep their git directories (commondir, config, hooks) under
                // `.git/worktrees`, submodules under `.git/modules`. The containers are pinned too:
                // renamed aside, they could be replaced by directories of the command's making.
                self.git_worktrees(&git.join("worktrees"));
                let modules = git.join("modules");
                if std::fs::symlink_metadata(&modules).is_ok_and(|m| m.is_dir()) {
                    self.found.insert(modules.clone(), Protection::Pinned);
                }
                let mut budget = MAX_MODULE_DIRS;
                self.git_modules(&modules, 0, &mut budget);
            }
            // A `.git` file names the real git directory (worktrees, submodules): redirecting it is
            // as good as writing hooks.
            Ok(m) if m.is_file() && !granted(&git, self.write_roots) => {
                self.found.insert(git.clone(), Protection::ReadOnly);
            }
            _ => {}
        }
        for name in PROTECTED_NAMES.iter().filter(|n| !n.starts_with(".git/")) {
            self.path(dir.join(name));
        }
    }

    /// Each linked worktree's git directory (`.git/worktrees/NAME`) is protected like the main one.
    fn git_worktrees(&mut self, worktrees: &Path) {
        if !std::fs::symlink_metadata(worktrees).is_ok_and(|m| m.is_dir()) {
            return;
        }
        self.found
            .insert(worktrees.to_path_buf(), Protection::Pinned);
        let Ok(entries) = std::fs::read_dir(worktrees) else {
            return;
        };
        for entry in entries.flatten().take(MAX_WORKTREES) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                // Git takes a worktree's hooks from the common directory: none is created here.
                self.git_dir(&entry.path(), false);
            }
        }
    }

    /// A git directory is pinned so it cannot be swapped for another one (it stays writable, so no
    /// grant needs to override this), and its `hooks` and `config` are made read-only.
    fn git_dir(&mut self, git: &Path, create_hooks: bool) {
        if !self.write_roots.iter().any(|w| git.starts_with(w)) {
            return;
        }
        self.found.insert(git.to_path_buf(), Protection::Pinned);
        if !self.report.git_dirs.iter().any(|g| g == git) {
            self.report.git_dirs.push(git.to_path_buf());
        }
        if create_hooks {
            create_missing_git_hooks(git, self.write_roots, self.report);
        }
        for inner in PROTECTED_NAMES
            .iter()
            .filter_map(|n| n.strip_prefix(".git/"))
        {
            self.path(git.join(inner));
        }
        // What the repository's own configuration includes is its configuration too: a tracked
        // `.gitconfig-team` that `include.path` names takes `core.fsmonitor` as well as
        // `.git/config` does (red-team round nineteen). A hooks directory it names
        // (`core.hooksPath=.githooks`, husky's `frontend/.husky` in a monorepo) holds what git
        // runs, like `.git/hooks`. Each is kept (`Finder::configuration`).
        let included = config_includes(git);
        self.links_git_runs(&git.join("hooks"));
        let configured = configured(git, &included);
        for hooks in &configured.hooks_dirs {
            self.configuration(hooks);
            self.links_git_runs(hooks);
        }
        for program in &configured.programs {
            self.configuration(program);
        }
        for file in included {
            self.configuration(&file);
        }
    }

    /// What git runs through a symbolic link in a hooks directory is kept like the directory: a
    /// link as the directory itself (`.git/hooks -> ../scripts/git-hooks`, red-team round
    /// nineteen) and a hook that is a link (`pre-commit -> ../../scripts/pc.sh`, a common
    /// layout; round twenty-one rewrote the script it named). The mount over the directory
    /// keeps the link; its target would otherwise stay writable.
    fn links_git_runs(&mut self, hooks: &Path) {
        if is_symlink(hooks) {
            self.configuration(hooks);
        }
        let Ok(entries) = std::fs::read_dir(hooks) else {
            return;
        };
        for entry in entries.flatten().take(MAX_HOOK_ENTRIES) {
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                self.configuration(&entry.path());
            }
        }
    }

    /// Keeps a path git reads as configuration or runs from: read-only when it exists, and not
    /// to be made when it does not (the write broker refuses the first missing name on its way,
    /// red-team round twenty-one made a missing parent); a symbolic link on its way may not be
    /// re-pointed (round twenty), nor a directory on it renamed (the broker).
    fn configuration(&mut self, path: &Path) {
        let in_roots = |p: &Path| self.write_roots.iter().any(|w| p.starts_with(w));
        let mut kept = Vec::new();
        for link in path.ancestors().skip(1) {
            if in_roots(link) && is_symlink(link) {
                kept.push(link.to_path_buf());
            }
        }
        // The path itself a link, and each link it leads through to the file git reads: one
        // re-pointed sends git elsewhere (red-team round twenty-three re-pointed an include that
        // was a link, and the middle link of a hook's chain). Each by its directory's real path.
        let mut at = path.to_path_buf();
        for _ in 0..MAX_LINK_HOPS {
            let (Some(dir), Some(name)) = (at.parent(), at.file_name()) else {
                break;
            };
            let Ok(dir) = std::fs::canonicalize(dir) else {
                break;
            };
            let link = dir.join(name);
            if !is_symlink(&link) {
                break;
            }
            if in_roots(&link) {
                kept.push(link.clone());
            }
            let Ok(target) = std::fs::read_link(&link) else {
                break;
            };
            at = dir.join(target);
        }
        // The path as it resolves, or, where it does not exist, its first missing name in the
        // nearest directory that does.
        let real = std::fs::canonicalize(path).ok().or_else(|| {
            let mut missing = path;
            while let Some(parent) = missing.parent() {
                if let Ok(dir) = std::fs::canonicalize(parent) {
                    return Some(dir.join(missing.file_name()?));
                }
                missing = parent;
            }
            None
        });
        if let Some(real) = real.filter(|r| in_roots(r)) {
            kept.push(real.clone());
            self.path(real);
        }
        for path in kept {
            if !self.report.included.contains(&path) {
                self.report.included.push(path);
            }
        }
    }

    /// Finds submodule git directories (a directory holding `HEAD`) below `.git/modules`; submodule
    /// names may contain slashes, so the search goes down a few levels.
    fn git_modules(&mut self, dir: &Path, depth: usize, budget: &mut usize) {
        if depth > MAX_MODULE_DEPTH || *budget == 0 {
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
                self.git_dir(&path, true);
                pin_between(dir, depth, self.found);
                self.git_modules(&path.join("modules"), 0, budget);
            } else {
                self.git_modules(&path, depth + 1, budget);
            }
        }
    }

    /// Stands an empty file in for each file named like a credential, except one whose exact
    /// contents the repository holding it already stores (`git_index.rs`: git would commit the
    /// empty stand-in over it). A symlink by such a name stands for its target, when that is a
    /// file inside a writable root (outside them Landlock decides).
    fn never_files(&mut self, files: &[PathBuf]) {
        let mut indexes: HashMap<PathBuf, Option<Index>> = HashMap::new();
        let mut tracked_notes = 0usize;
        for file in files {
            let meta = match std::fs::symlink_metadata(file) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // Remembered, but out of sight now (its directory made unsearchable): its stand-in
                // is still due, and a run that cannot mount it is refused.
                Err(_) => {
                    self.found.insert(file.clone(), Protection::Emptied);
                    continue;
                }
            };
            let target = if meta.file_type().is_symlink() {
                match std::fs::canonicalize(file) {
                    Ok(real) if std::fs::metadata(&real).is_ok_and(|m| m.is_file()) => real,
                    _ => continue,
                }
            } else if meta.is_file() {
                file.clone()
            } else {
                continue;
            };
            if !self.write_roots.iter().any(|w| target.starts_with(w)) {
                continue;
            }
            match self.as_git_sees(file, &target, &mut indexes) {
                GitSees::TheSameContents => {
                    tracked_notes += 1;
                    if tracked_notes <= MAX_TRACKED_NOTES {
                        self.report.notes.push(format!(
                            "{} is named like a credential but git already stores exactly its contents: it is left as it is (an empty stand-in would be committed over it)",
                            file.display()
                        ));
                    }
                }
                // Emptied, it would be committed empty by `git commit -a` (red-team round five:
                // a file edited since, a checkout that converts line endings). Sealed, git
                // cannot read it and says so.
                GitSees::OtherContents => {
                    self.found.insert(target, Protection::Sealed);
                }
                GitSees::Nothing => {
                    self.found.insert(target, Protection::Emptied);
                }
            }
        }
        if tracked_notes > MAX_TRACKED_NOTES {
            self.report.notes.push(format!(
                "{} more files named like credentials whose contents git already stores are left as they are",
                tracked_notes - MAX_TRACKED_NOTES
            ));
        }
    }

    /// What the index of the nearest project root holding `file` says of it: an entry whose
    /// object is exactly the contents of `contents` (the file, or a link's target), an entry
    /// with other contents, or none. Each repository's index is read once.
    fn as_git_sees(
        &self,
        file: &Path,
        contents: &Path,
        indexes: &mut HashMap<PathBuf, Option<Index>>,
    ) -> GitSees {
        let Some(root) = self
            .report
            .project_roots
            .iter()
            .filter(|r| file.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
        else {
            return GitSees::Nothing;
        };
        let Ok(relative) = file.strip_prefix(root) else {
            return GitSees::Nothing;
        };
        let index = indexes
            .entry(root.clone())
            .or_insert_with(|| git_dir_of(root).and_then(|git_dir| Index::read(&git_dir)));
        let relative = relative.as_os_str().as_bytes();
        match index.as_ref() {
            Some(index) if index.holds_contents_of(relative, contents) => GitSees::TheSameContents,
            Some(index) if index.tracks(relative) => GitSees::OtherContents,
            _ => GitSees::Nothing,
        }
    }

    /// Makes one existing path read-only, unless a grant names it or it is a symlink.
    fn path(&mut self, path: PathBuf) {
        // Outside every writable root, Landlock already denies writes.
        if !self.write_roots.iter().any(|w| path.starts_with(w)) {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return;
        };
        let report = &mut *self.report;
        if granted(&path, self.write_roots) {
            if !report.granted.contains(&path) {
                report.granted.push(path);
            }
        } else if meta.file_type().is_symlink() {
            let note = format!(
                "{} is a symlink and is not protected (the link itself can be replaced)",
                path.display()
            );
            if !report.notes.contains(&note) {
                report.notes.push(note);
            }
        } else if meta.is_dir() || meta.is_file() {
            // A mount protects one name; another hard link to the same file stays writable.
            if meta.is_file() && meta.nlink() > 1 {
                report.notes.push(format!(
                    "{} has {} hard links; its other names are not protected",
                    path.display(),
                    meta.nlink()
                ));
            }
            self.found.insert(path, Protection::ReadOnly);
        }
    }
}

/// What `git`'s own `config`, or a file it includes, names for git to run, read in one pass
/// over them: the directories `core.hooksPath` names, and the programs named by a path
/// (`repos::programs_named`). Only for a `.git` directory; `~/` from the home.
#[derive(Default)]
struct Configured {
    /// A relative one for the work tree and for each linked worktree's: git takes it from the
    /// work tree a command runs in (red-team round twenty-one planted in a worktree's).
    hooks_dirs: Vec<PathBuf>,
    /// A relative one for the work tree, where git runs it (`core.fsmonitor = ./tools/fsmon.sh`,
    /// a filter driver, an alias's script; round twenty-four rewrote the first two).
    programs: Vec<PathBuf>,
}

fn configured(git: &Path, included: &[PathBuf]) -> Configured {
    if git.file_name() != Some(std::ffi::OsStr::new(".git")) {
        return Configured::default();
    }
    let (mut hooks_values, mut program_values) = (Vec::new(), Vec::new());
    for file in std::iter::once(git.join("config")).chain(included.iter().cloned()) {
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let entries = crate::repos::git_config_entries(&text);
        hooks_values.extend(
            entries
                .iter()
                .filter(|e| e.section == "core" && e.sub.is_none() && e.key == "hookspath")
                .map(|e| e.value.clone()),
        );
        program_values.extend(crate::repos::programs_named(&entries));
    }
    let mut work_trees: Vec<PathBuf> = git.parent().map(Path::to_path_buf).into_iter().collect();
    if !hooks_values.is_empty() {
        for admin in std::fs::read_dir(git.join("worktrees"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let root =
                linked_dot_git(&admin.path()).and_then(|g| g.parent().map(Path::to_path_buf));
            work_trees.extend(root.filter(|r| r.is_absolute()));
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    // A value as git resolves it: `~/` from the home, an absolute path as it is, a relative one
    // from each of `roots`.
    let expand = |values: Vec<String>, roots: &[PathBuf]| {
        let mut paths: Vec<PathBuf> = Vec::new();
        for value in values {
            let resolved: Vec<PathBuf> = match (value.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => vec![home.join(rest)],
                (Some(_), None) => Vec::new(),
                (None, _) if Path::new(&value).is_absolute() => vec![PathBuf::from(&value)],
                (None, _) => roots.iter().map(|r| r.join(&value)).collect(),
            };
            for path in resolved {
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
        }
        paths
    };
    let main_work_tree = &work_trees[..work_trees.len().min(1)];
    Configured {
        programs: expand(program_values, main_work_tree),
        hooks_dirs: expand(hooks_values, &work_trees),
    }
}

/// The `.git` file a linked worktree's git directory `admin` names in its `gitdir`: where git
/// records the worktree's root, which a command that could write `admin` may have rewritten.
/// `None` when it is empty or longer than any path (64 KiB).
pub(crate) fn linked_dot_git(admin: &Path) -> Option<PathBuf> {
    use std::io::Read as _;
    const MAX_GITDIR: u64 = 64 << 10;
    let mut text = Vec::new();
    std::fs::File::open(admin.join("gitdir"))
        .ok()?
        .take(MAX_GITDIR + 1)
        .read_to_end(&mut text)
        .ok()?;
    let text = text.trim_ascii_end();
    (!text.is_empty() && text.len() as u64 <= MAX_GITDIR)
        .then(|| PathBuf::from(std::ffi::OsStr::from_bytes(text)))
}

/// Whether `path` is a symbolic link itself (not followed).
fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The most configuration files followed from one git directory's own.
const MAX_INCLUDED: usize = 32;

/// The files `git`'s `config` and `config.worktree` include (`include.path`, and
/// `includeIf.*.path` whatever its condition), followed as git follows them: `~/` from the home,
/// a relative path from the including file's directory, an included file's own includes too.
pub(crate) fn config_includes(git: &Path) -> Vec<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut pending = vec![git.join("config"), git.join("config.worktree")];
    let mut read: Vec<PathBuf> = Vec::new();
    let mut included: Vec<PathBuf> = Vec::new();
    while let Some(file) = pending.pop() {
        if read.len() >= MAX_INCLUDED || read.contains(&file) {
            continue;
        }
        read.push(file.clone());
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        let base = file.parent().unwrap_or(git);
        for entry in crate::repos::git_config_entries(&text) {
            if entry.key != "path" || !matches!(entry.section.as_str(), "include" | "includeif") {
                continue;
            }
            let value = entry.value.as_str();
            let path = match (value.strip_prefix("~/"), &home) {
                (Some(rest), Some(home)) => home.join(rest),
                (Some(_), None) => continue,
                (None, _) => base.join(value),
            };
            if !included.contains(&path) {
                pending.push(path.clone());
                included.push(path);
            }
        }
    }
    included
}

/// What git writes in a linked worktree's `commondir`: the main git directory, two levels up.
const WORKTREE_COMMONDIR: &[u8] = b"../..\n";

/// After the run: a linked worktree made during it (`git worktree add`) is not in the protected
/// set (git must write its files), so its `commondir` could name a directory of the command's
/// choosing, whose `config` and hooks git would then obey on the user's next command there. Git
/// itself always writes `../..`; any other content is put back to that, and each repair is
/// returned as a note for the report. The command's processes are gone by now, so nothing races
/// the check; it reads and writes through directory descriptors that follow no symlink.
pub(crate) fn settle_new_worktrees(found: &Protected) -> Vec<String> {
    let mut notes = Vec::new();
    for git in &found.git_dirs {
        let worktrees = git.join("worktrees");
        let Ok(entries) = std::fs::read_dir(&worktrees) else {
            continue;
        };
        for entry in entries.flatten().take(MAX_WORKTREES) {
            let admin = entry.path();
            // By identity: a worktree's directory made again at a protected one's path (its
            // container removed and made anew) is a new one (red-team round fourteen).
            let protected = std::fs::symlink_metadata(&admin)
                .is_ok_and(|m| found.git_dir_ids.contains(&(m.dev(), m.ino())));
            if protected || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            match settle_commondir(&admin) {
                Ok(false) => {}
                Ok(true) => notes.push(format!(
                    "{}: a worktree made during the run named another common directory; its commondir was put back to what git writes (../..)",
                    admin.display()
                )),
                Err(e) => notes.push(format!(
                    "{}: could not check the commondir of a worktree made during the run: {e}",
                    admin.display()
                )),
            }
        }
    }
    notes
}

/// Puts `admin/commondir` back to [`WORKTREE_COMMONDIR`] unless it already holds exactly that;
/// true when it did. A missing one is written too (git would then take `admin` itself as the
/// common directory, with whatever `config` the command left there).
fn settle_commondir(admin: &Path) -> nix::Result<bool> {
    use nix::fcntl::{open, openat};
    use nix::sys::stat::Mode;
    use nix::unistd::{unlinkat, UnlinkatFlags};
    let dir = open(
        admin,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let current = openat(
        &dir,
        "commondir",
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| {
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(&fd, &mut buf)?;
        Ok(buf[..n].to_vec())
    });
    if current.as_deref() == Ok(WORKTREE_COMMONDIR) {
        return Ok(false);
    }
    match unlinkat(&dir, "commondir", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => {}
        // A directory by that name: moved aside, so the file can take its place.
        Err(nix::Error::EISDIR) => {
            unlinkat(&dir, "commondir", UnlinkatFlags::RemoveDir).or_else(|_| {
                nix::fcntl::renameat(&dir, "commondir", &dir, "commondir.refused-by-cordon")
            })?;
        }
        Err(e) => return Err(e),
    }
    let file = openat(
        &dir,
        "commondir",
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o644),
    )?;
    let written = nix::unistd::write(&file, WORKTREE_COMMONDIR)?;
    if written != WORKTREE_COMMONDIR.len() {
        return Err(nix::Error::EIO);
    }
    Ok(true)
}

/// Pins `dir` and the `depth` directories above it (the path from a `modules` directory down to a
/// submodule whose name has slashes), so none of them can be renamed aside and replaced.
fn pin_between(dir: &Path, depth: usize, found: &mut BTreeMap<PathBuf, Protection>) {
    for ancestor in dir.ancestors().take(depth + 1) {
        found
            .entry(ancestor.to_path_buf())
            .or_insert(Protection::Pinned);
    }
}

/// A git directory without `hooks` (git does not need one, and many tools leave it out) would let
/// the command create `hooks/pre-commit`. An empty `hooks` directory changes nothing for git (it
/// behaves the same with an absent or empty one), so it is created here, before the run, and then
/// protected like any other. This is the one change made to the workspace, and only inside `.git`.
fn create_missing_git_hooks(git: &Path, write_roots: &[PathBuf], report: &mut ProtectedReport) {
    let hooks = git.join("hooks");
    if std::fs::symlink_metadata(&hooks).is_ok() || granted(&hooks, write_roots) {
        return;
    }
    report.notes.push(match std::fs::create_dir(&hooks) {
        Ok(()) => format!(
            "created an empty {} so that it could be protected",
            hooks.display()
        ),
        Err(e) => format!(
            "{} is absent and could not be created ({e}): hooks can be added during the run",
            hooks.display()
        ),
    });
}

/// The git directory of the project root `root`: its `.git` directory, or the one a `.git` file
/// names (`gitdir: PATH`, relative to `root` unless absolute), as a linked worktree or a
/// submodule has.
fn git_dir_of(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    let meta = std::fs::symlink_metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    let text = std::fs::read(&dot_git).ok()?;
    Some(root.join(crate::repos::gitdir_of(&text)?))
}

/// True when a write grant names `path` or a path inside it: the explicit override.
fn granted(path: &Path, write_roots: &[PathBuf]) -> bool {
    write_roots.iter().any(|w| w.starts_with(path))
}

/// The remount flags that make a bind mount of `path` read-only without dropping `noexec`.
fn read_only_flags(path: &CStr) -> Result<MsFlags, Error> {
    let stat = statvfs(path).map_err(|e| Error::Unenforceable {
        feature: "protecting metadata inside a writable root",
        detail: format!("statvfs {}: {e}", path.to_string_lossy()),
    })?;
    let mut flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    if stat.flags().contains(FsFlags::ST_NOEXEC) {
        flags |= MsFlags::MS_NOEXEC;
    }
    Ok(flags)
}

/// Mounts an empty tmpfs over `/dev/shm` in the calling process's mount namespace, made private
/// first so that nothing propagates back. Allocates nothing: it runs in the child.
pub(crate) fn mount_private_shm() -> nix::Result<()> {
    make_private()?;
    mount(
        Some(c"tmpfs"),
        c"/dev/shm",
        Some(c"tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(c"mode=1777"),
    )
}

/// Makes every mount of the calling process's (new) mount namespace private, so that nothing
/// mounted in it propagates back to the supervisor's.
fn make_private() -> nix::Result<()> {
    mount(
        None::<&CStr>,
        c"/",
        None::<&CStr>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&CStr>,
    )
}

/// Runs in the forked child, already in its own mount namespace. Must not allocate: every path is
/// a prepared `CString`, and nix passes a `&CStr` straight to the syscall.
pub(crate) fn apply(targets: &[Target]) -> nix::Result<()> {
    make_private()?;
    // Each stand-in's first mount, read-only, held open: the stand-in's other targets are bound
    // from it and inherit its read-only flag, one mount(2) each (a host with a hundred sockets to
    // cover would otherwise pay an open, a check and a remount for every one).
    let mut mounted_stand_ins: [Option<OwnedFd>; 3] = [None, None, None];
    for target in targets {
        let mounted = match target.stand_in {
            Some(expected) => mount_stand_in(target, expected, &mut mounted_stand_ins),
            None => mount_over_itself(target),
        };
        if mounted.is_err() && !target.optional {
            return mounted;
        }
    }
    // std changed into the command's cwd before this hook ran. A cwd inside a protected path
    // still refers to the directory under the new mount, where writes would succeed: look the
    // cwd up again by name so it lands on the mount. A stack buffer: no allocation here.
    let mut cwd = [0u8; libc::PATH_MAX as usize];
    // SAFETY: getcwd writes at most `cwd.len()` bytes, NUL-terminated, into the buffer.
    if unsafe { libc::getcwd(cwd.as_mut_ptr().cast(), cwd.len()) }.is_null() {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: getcwd succeeded, so the buffer holds a NUL-terminated path.
    nix::errno::Errno::result(unsafe { libc::chdir(cwd.as_ptr().cast()) }).map(drop)
}

/// Binds `target`'s own path (or its substitute) over it, then makes it read-only if asked.
fn mount_over_itself(target: &Target) -> nix::Result<()> {
    const NONE: Option<&CStr> = None;
    let path = target.path.as_c_str();
    let source = target.source.as_deref().unwrap_or(path);
    mount(Some(source), path, NONE, MsFlags::MS_BIND, NONE)?;
    match target.remount {
        Some(flags) => mount(NONE, path, NONE, flags, NONE),
        None => Ok(()),
    }
}

/// Mounts the stand-in `expected` over `target`. The first time, from the descriptor that was
/// checked (not from the path again), then remounted read-only and kept open in `mounted`; after
/// that, bound from the kept mount, which a bind copies with its read-only flag.
fn mount_stand_in(
    target: &Target,
    expected: StandIn,
    mounted: &mut [Option<OwnedFd>; 3],
) -> nix::Result<()> {
    const NONE: Option<&CStr> = None;
    let path = target.path.as_c_str();
    let slot = &mut mounted[expected as usize];
    let mut name = [0u8; FD_PATH_LEN];
    if let Some(kept) = slot {
        return mount(
            Some(fd_path(kept, &mut name)),
            path,
            NONE,
            MsFlags::MS_BIND,
            NONE,
        );
    }
    let (Some(source), Some(flags)) = (target.source.as_deref(), target.remount) else {
        return Err(nix::errno::Errno::EINVAL);
    };
    let fd = open_stand_in(source, expected)?;
    mount(
        Some(fd_path(&fd, &mut name)),
        path,
        NONE,
        MsFlags::MS_BIND,
        NONE,
    )?;
    mount(NONE, path, NONE, flags, NONE)?;
    // What is now at `path` is the read-only mount just made, checked like the stand-in itself.
    *slot = open_stand_in(path, expected).ok();
    Ok(())
}

/// Opens the stand-in at `path` without following a link in its last component, and checks on
/// the descriptor that it is what `expected` says and this user's. Runs in the forked child: no
/// allocation.
pub(crate) fn open_stand_in(path: &CStr, expected: StandIn) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let stat = nix::sys::stat::fstat(&fd)?;
    let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
    let uid = nix::unistd::geteuid().as_raw();
    if !expected.fits(stat.st_mode, stat.st_uid, size, uid) {
        return Err(nix::errno::Errno::EPERM);
    }
    Ok(fd)
}

/// Room for `/proc/self/fd/` and any descriptor number, with its NUL.
const FD_PATH_LEN: usize = 32;

/// `/proc/self/fd/N` for `fd`, written into `buf`: the name a bind mount takes to mount what a
/// descriptor holds. No allocation.
fn fd_path<'b>(fd: &OwnedFd, buf: &'b mut [u8; FD_PATH_LEN]) -> &'b CStr {
    const PREFIX: &[u8] = b"/proc/self/fd/";
    buf[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut digits = [0u8; 10];
    let mut n = fd.as_raw_fd().unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        buf[PREFIX.len() + i] = *d;
    }
    buf[PREFIX.len() + len] = 0;
    // The buffer was zeroed and one NUL ends what was written, with no NUL before it.
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/proc/self/fd/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn fd_path_names_the_descriptor() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd: OwnedFd = file.into();
        let mut buf = [0u8; FD_PATH_LEN];
        let name = fd_path(&fd, &mut buf).to_str().unwrap().to_string();
        assert_eq!(name, format!("/proc/self/fd/{}", fd.as_raw_fd()));
        assert_eq!(
            std::fs::read_link(&name).unwrap(),
            std::path::Path::new("/dev/null")
        );
    }

    /// The child's second look at a stand-in: a link, a file with content, a directory others
    /// may open, each swapped in for the stand-in after the supervisor's check, is refused.
    #[test]
    fn a_stand_in_swapped_for_a_link_or_a_file_with_content_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let t = tempfile::tempdir().unwrap();
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).unwrap();
        let secret = t.path().join("secret");
        std::fs::write(&secret, "token").unwrap();
        let empty = t.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o444)).unwrap();
        let closed = t.path().join("closed");
        std::fs::create_dir(&closed).unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o000)).unwrap();
        // Positive controls: the real stand-ins pass.
        assert!(open_stand_in(&c(&empty), StandIn::EmptyFile).is_ok());
        assert!(open_stand_in(&c(&closed), StandIn::ClosedDir).is_ok());
        // A link to an empty file or to the secret, and the secret itself.
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&empty, &link).unwrap();
        let to_secret = t.path().join("to-secret");
        std::os::unix::fs::symlink(&secret, &to_secret).unwrap();
        for (path, expected) in [
            (&link, StandIn::EmptyFile),
            (&to_secret, StandIn::EmptyFile),
            (&secret, StandIn::EmptyFile),
            (&closed, StandIn::EmptyFile),
            (&empty, StandIn::ClosedDir),
        ] {
            assert_eq!(
                open_stand_in(&c(path), expected).err(),
                Some(nix::errno::Errno::EPERM),
                "{path:?} as {expected:?}"
            );
        }
        // A directory others may search is not a closed one.
        let open_dir = t.path().join("open");
        std::fs::create_dir(&open_dir).unwrap();
        assert!(open_stand_in(&c(&open_dir), StandIn::ClosedDir).is_err());
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    fn plan(
        write_roots: &[PathBuf],
        tmp: &Path,
        substitutes: &[Substitute],
    ) -> Result<ProtectPlan, Error> {
        super::plan(&Request {
            write_roots,
            tmp,
            substitutes,
            stand_ins: &[],
            convenience_stand_ins: &[],
            read_only: &[],
            host_sockets: &[],
            never_names: &[],
            search_memory: None,
            not_searched: &[],
            stand_in: Path::new("/dev/null"),
            stand_in_dir: Path::new("/"),
            stand_in_sealed: Path::new("/dev/null"),
        })
    }

    fn paths(plan: &ProtectPlan) -> Vec<(PathBuf, Protection)> {
        plan.report
            .paths
            .iter()
            .map(|p| (p.path.clone(), p.how))
            .collect()
    }

    #[test]
    fn finds_existing_names_at_the_root_and_in_nested_repositories() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::write(root.join(".git/config"), "").unwrap();
        std::fs::create_dir_all(root.join(".vscode")).unwrap();
        std::fs::create_dir_all(root.join("a/b/nested/.git/hooks")).unwrap();
        std::fs::create_dir_all(root.join("a/b/nested/.claude")).unwrap();
        // Agent names below a non-project directory are not project roots.
        std::fs::create_dir_all(root.join("a/.codex")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", root.join(".envrc")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let plan = plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap();
        let nested = root.join("a/b/nested");
        assert_eq!(
            paths(&plan),
            vec![
                (root.join(".git"), Protection::Pinned),
                (root.join(".git/config"), Protection::ReadOnly),
                (root.join(".git/hooks"), Protection::ReadOnly),
                (root.join(".vscode"), Protection::ReadOnly),
                (nested.join(".claude"), Protection::ReadOnly),
                (nested.join(".git"), Protection::Pinned),
                (nested.join(".git/hooks"), Protection::ReadOnly),
            ]
        );
        assert!(plan.report.notes.iter().any(|n| n.contains(".envrc")));
        // Sorted: every pinned `.git` precedes the read-only paths inside it.
        let order: Vec<_> = plan.targets.iter().map(|t| t.path.clone()).collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted);
    }

    #[test]
    fn an_explicit_write_grant_inside_a_protected_path_overrides_it() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".claude/commands")).unwrap();
        std::fs::create_dir_all(root.join(".vscode")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let roots = vec![root.clone(), root.join(".claude/commands")];
        let plan = plan(&roots, tmp.path(), &[]).unwrap();
        assert_eq!(
            paths(&plan),
            vec![(root.join(".vscode"), Protection::ReadOnly)]
        );
        assert_eq!(plan.report.granted, vec![root.join(".claude")]);
    }

    #[test]
    fn a_grant_of_the_git_directory_itself_still_protects_hooks_and_config() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::write(root.join(".git/config"), "").unwrap();
        // Outside the writable root: Landlock's business, not mounted.
        std::fs::create_dir_all(root.join(".vscode")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let plan = plan(&[root.join(".git")], tmp.path(), &[]).unwrap();
        assert_eq!(
            paths(&plan),
            vec![
                (root.join(".git"), Protection::Pinned),
                (root.join(".git/config"), Protection::ReadOnly),
                (root.join(".git/hooks"), Protection::ReadOnly),
            ]
        );
    }

    #[test]
    fn submodule_git_directories_are_protected_like_the_main_one() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        let module = root.join(".git/modules/libs/dep");
        std::fs::create_dir_all(module.join("hooks")).unwrap();
        std::fs::write(module.join("HEAD"), "ref: refs/heads/main").unwrap();
        std::fs::write(module.join("config"), "").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let plan = plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap();
        let got = paths(&plan);
        for (path, how) in [
            (module.clone(), Protection::Pinned),
            (module.join("hooks"), Protection::ReadOnly),
            (module.join("config"), Protection::ReadOnly),
        ] {
            assert!(got.contains(&(path.clone(), how)), "{path:?} in {got:?}");
        }
        // `libs` itself holds no HEAD: not a git directory, only pinned on the way to one.
        assert!(got.contains(&(root.join(".git/modules/libs"), Protection::Pinned)));
        assert!(!plan
            .protected
            .git_dirs
            .contains(&root.join(".git/modules/libs")));
    }

    /// A workspace holding a repository whose `.git/config` is `config`, with a `conf` directory.
    pub(crate) fn repository_with_config(config: &str) -> (tempfile::TempDir, PathBuf) {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root.join("conf")).unwrap();
        std::fs::write(root.join(".git/config"), config).unwrap();
        (ws, root)
    }

    /// Red-team round nineteen: `.git/config` includes a tracked `.gitconfig-team`, which a
    /// command appended `core.fsmonitor` to. What the configuration includes, followed as git
    /// follows it, is read-only like the configuration; an included file that does not exist is
    /// named for the write broker.
    #[test]
    fn files_the_repositorys_configuration_includes_are_read_only() {
        let (_ws, root) = repository_with_config(
            "[core]\n\tbare = false\n[include]\n\tpath = ../.gitconfig-team\n[includeIf \"gitdir:/\"]\n\tpath = \"../conf/absent.inc\"\n",
        );
        // An included file's own include is followed from its directory.
        std::fs::write(
            root.join(".gitconfig-team"),
            "[include]\n\tpath = conf/more.inc\n",
        )
        .unwrap();
        std::fs::write(root.join("conf/more.inc"), "[alias]\n\tst = status\n").unwrap();
        std::fs::write(root.join("conf/other.inc"), "").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let planned = plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap();
        let got = paths(&planned);
        for path in [root.join(".gitconfig-team"), root.join("conf/more.inc")] {
            assert!(
                got.contains(&(path.clone(), Protection::ReadOnly)),
                "{path:?} in {got:?}"
            );
        }
        // Control: a file the configuration does not include stays writable.
        assert!(!got.iter().any(|(p, _)| p == &root.join("conf/other.inc")));
        // The hooks directory `core.hooksPath` names is read-only like `.git/hooks`.
        let (_ws2, root2) = repository_with_config("[core]\n\thooksPath = .githooks\n");
        std::fs::create_dir_all(root2.join(".githooks")).unwrap();
        let plan2 = plan(std::slice::from_ref(&root2), tmp.path(), &[]).unwrap();
        assert!(
            paths(&plan2).contains(&(root2.join(".githooks"), Protection::ReadOnly)),
            "{:?}",
            paths(&plan2)
        );
        // Round twenty-one: a relative one names a directory in every linked worktree too, and
        // one whose parent is missing may not be made (its first missing name is kept).
        let (_ws3, root3) = repository_with_config("[core]\n\thooksPath = tools/hooks\n");
        std::fs::create_dir_all(root3.join(".git/worktrees/wt")).unwrap();
        std::fs::create_dir_all(root3.join("wt/tools/hooks")).unwrap();
        std::fs::write(
            root3.join(".git/worktrees/wt/gitdir"),
            format!("{}\n", root3.join("wt/.git").display()),
        )
        .unwrap();
        let plan3 = plan(std::slice::from_ref(&root3), tmp.path(), &[]).unwrap();
        assert!(plan3.protected.included.contains(&root3.join("tools")));
        assert!(paths(&plan3).contains(&(root3.join("wt/tools/hooks"), Protection::ReadOnly)));
        // Named, present or not, for the write broker, which refuses to make the absent one.
        assert!(
            planned
                .protected
                .included
                .contains(&root.join("conf/absent.inc")),
            "{:?}",
            planned.protected.included
        );
        assert!(planned
            .protected
            .included
            .contains(&root.join(".gitconfig-team")));
        assert!(!planned
            .protected
            .included
            .contains(&root.join("conf/other.inc")));
    }

    /// Round twenty-four: the scripts a repository's config runs by path (an fsmonitor, a clean
    /// filter, an alias) are read-only; a program found on the `PATH` names no file.
    #[test]
    fn the_programs_a_repositorys_config_runs_are_read_only() {
        let (_ws, root) = repository_with_config(
            "[core]\n\tfsmonitor = ./tools/fsmon.sh\n\tpager = less\n[filter \"x\"]\n\tclean = scripts/clean.sh %f\n[alias]\n\tt = !tools/t.sh\n",
        );
        for dir in ["tools", "scripts"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for file in [
            "tools/fsmon.sh",
            "tools/t.sh",
            "tools/other.sh",
            "scripts/clean.sh",
        ] {
            std::fs::write(root.join(file), "#!/bin/sh\n").unwrap();
        }
        let tmp = tempfile::tempdir().unwrap();
        let got = paths(&plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap());
        for file in ["tools/fsmon.sh", "tools/t.sh", "scripts/clean.sh"] {
            assert!(
                got.contains(&(root.join(file), Protection::ReadOnly)),
                "{file} in {got:?}"
            );
        }
        assert!(!got.iter().any(|(p, _)| p == &root.join("tools/other.sh")));
    }

    /// Red-team rounds nineteen and twenty-one: a hook that is a link to a tracked script, in
    /// `.git/hooks` or the directory `core.hooksPath` names, and `.git/hooks` itself a link.
    /// What git would run through each link is read-only; a script no hook names is not.
    #[test]
    fn what_a_hook_link_leads_to_is_read_only() {
        let (_ws, root) = repository_with_config("[core]\n\thooksPath = tools/hooks\n");
        for dir in ["tools/hooks", "scripts", "git-hooks"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        for script in ["scripts/pc.sh", "scripts/pp.sh", "scripts/other.sh"] {
            std::fs::write(root.join(script), "#!/bin/sh\n").unwrap();
        }
        std::os::unix::fs::symlink("../../scripts/pc.sh", root.join("tools/hooks/pre-commit"))
            .unwrap();
        std::os::unix::fs::symlink("../../scripts/pp.sh", root.join(".git/hooks/pre-push"))
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let got = paths(&plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap());
        for path in [root.join("scripts/pc.sh"), root.join("scripts/pp.sh")] {
            assert!(
                got.contains(&(path.clone(), Protection::ReadOnly)),
                "{path:?} in {got:?}"
            );
        }
        // Control: a script no hook leads to stays writable.
        assert!(!got.iter().any(|(p, _)| p == &root.join("scripts/other.sh")));

        // Round twenty-three: a chain of links (the hook to a link to the script), and an
        // include that is itself a link: every link on the way is kept for the broker.
        let (_ws3, root3) = repository_with_config(
            "[include]\n\tpath = ../conf/team.inc\n[core]\n\tbare = false\n",
        );
        std::fs::create_dir_all(root3.join("scripts")).unwrap();
        std::fs::write(root3.join("scripts/real.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(root3.join("conf/real.inc"), "").unwrap();
        std::os::unix::fs::symlink("real.sh", root3.join("scripts/pc.sh")).unwrap();
        std::os::unix::fs::symlink("../../scripts/pc.sh", root3.join(".git/hooks/pre-commit"))
            .unwrap();
        std::os::unix::fs::symlink("real.inc", root3.join("conf/team.inc")).unwrap();
        let plan3 = plan(std::slice::from_ref(&root3), tmp.path(), &[]).unwrap();
        for link in [root3.join("scripts/pc.sh"), root3.join("conf/team.inc")] {
            assert!(
                plan3.protected.included.contains(&link),
                "{link:?} in {:?}",
                plan3.protected.included
            );
        }
        let got3 = paths(&plan3);
        for file in [root3.join("scripts/real.sh"), root3.join("conf/real.inc")] {
            assert!(
                got3.contains(&(file.clone(), Protection::ReadOnly)),
                "{file:?}"
            );
        }

        let (_ws2, root2) = repository_with_config("[core]\n\tbare = false\n");
        std::fs::remove_dir(root2.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root2.join("git-hooks")).unwrap();
        std::os::unix::fs::symlink("../git-hooks", root2.join(".git/hooks")).unwrap();
        let got = paths(&plan(std::slice::from_ref(&root2), tmp.path(), &[]).unwrap());
        assert!(
            got.contains(&(root2.join("git-hooks"), Protection::ReadOnly)),
            "{got:?}"
        );
    }

    #[test]
    fn linked_worktrees_commondir_and_the_containers_are_protected() {
        let ws = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(ws.path()).unwrap();
        let wt = root.join(".git/worktrees/feature");
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root.join(".git/info")).unwrap();
        std::fs::create_dir_all(&wt).unwrap();
        for f in ["commondir", "gitdir", "HEAD"] {
            std::fs::write(wt.join(f), "x").unwrap();
        }
        let module = root.join(".git/modules/libs/dep");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::write(module.join("HEAD"), "ref: refs/heads/main").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let plan = plan(std::slice::from_ref(&root), tmp.path(), &[]).unwrap();
        let got = paths(&plan);
        for (path, how) in [
            (root.join(".git/info"), Protection::ReadOnly),
            (root.join(".git/worktrees"), Protection::Pinned),
            (wt.clone(), Protection::Pinned),
            (wt.join("commondir"), Protection::ReadOnly),
            (root.join(".git/modules"), Protection::Pinned),
            (root.join(".git/modules/libs"), Protection::Pinned),
            (module.clone(), Protection::Pinned),
        ] {
            assert!(
                got.contains(&(path.clone(), how)),
                "{path:?} {how:?} in {got:?}"
            );
        }
        // A worktree's git directory gets no hooks of its own (git uses the common one's).
        assert!(!wt.join("hooks").exists());
        // `gitdir` and `HEAD` are git's own bookkeeping, not protected.
        assert!(!got.iter().any(|(p, _)| p == &wt.join("HEAD")));

        let protected = &plan.protected;
        assert_eq!(protected, &Protected::find(std::slice::from_ref(&root)));
        assert!(protected.is_protected(&root, std::ffi::OsStr::new(".claude")));
        assert!(protected.is_protected(&root.join(".git"), std::ffi::OsStr::new("commondir")));
        assert!(protected.is_protected(&wt, std::ffi::OsStr::new("commondir")));
        assert!(protected.is_protected(&module, std::ffi::OsStr::new("config")));
        // Positive controls: an ordinary name, and a git name outside a git directory.
        assert!(!protected.is_protected(&root, std::ffi::OsStr::new("src")));
        assert!(!protected.is_protected(&root, std::ffi::OsStr::new("commondir")));
        assert!(!protected.is_protected(&root.join(".git"), std::ffi::OsStr::new("objects")));
    }

    #[test]
    fn a_substitute_is_planned_for_regular_files_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let program = dir.join("rm");
        let with = dir.join("shim");
        std::fs::write(&program, b"real").unwrap();
        std::fs::write(&with, b"shim").unwrap();
        let link = dir.join("link-to-rm");
        std::os::unix::fs::symlink(&program, &link).unwrap();
        // A symlink to the program is followed: the mount goes over the file itself.
        let substitutes = [Substitute {
            program: link,
            with: with.clone(),
        }];
        let planned = plan(&[], &dir, &substitutes).unwrap();
        let target = planned.targets.last().unwrap();
        assert_eq!(target.path.as_bytes(), program.as_os_str().as_bytes());
        assert_eq!(
            target.source.as_deref().map(CStr::to_bytes),
            Some(with.as_os_str().as_bytes())
        );
        assert!(target
            .remount
            .is_some_and(|f| f.contains(MsFlags::MS_RDONLY)));
        assert_eq!(
            planned.report.paths.last().map(|p| p.how),
            Some(Protection::Substituted)
        );
        // A directory, or a program that does not exist, is refused before anything runs.
        for bad in [dir.clone(), dir.join("absent")] {
            let substitutes = [Substitute {
                program: bad,
                with: with.clone(),
            }];
            assert!(plan(&[], &dir, &substitutes).is_err());
        }
    }

    #[test]
    fn a_workspace_without_protected_names_needs_no_mounts() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("src")).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let plan = plan(&[ws.path().to_path_buf()], tmp.path(), &[]).unwrap();
        assert!(plan.targets.is_empty());
    }
}
