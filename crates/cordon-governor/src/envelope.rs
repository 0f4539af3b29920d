//! The envelope a hardened run is confined to (DESIGN.md, "The envelope"), and the grants beyond
//! it.
//!
//! The policy in force defines one envelope for the workspace, built once per run
//! ([`EnvelopeInForce::build`]): read the system, the workspace and the toolchains; write the
//! workspace, the policy's caches and a private `TMPDIR`; list the home; never the credentials,
//! cordon's own home, a signing key or journal kept elsewhere; never write the start-up files nor
//! (inside the workspace) git metadata that runs code and agent, editor and shell settings. What
//! the front end read in the command's text no longer widens it: each path the contract names
//! ([`EnvelopeInForce::grants_for`]) is resolved to the file it really reaches
//! (`cordon_sandbox::resolve_real`: links from their own directory, `..`, `/proc/*/root|cwd|fd`).
//! One inside the envelope needs nothing (a link into `.git/hooks` leaves that directory's
//! read-only mount in place). One outside it is granted, on the descriptor the resolver holds so
//! nothing can be swapped in between, only when the policy or a person grants that real path:
//!
//! - **a person**: the run was approved and the path reaches what was written, with no link or
//!   `/proc` indirection on the way (a new file: the directory it is created in). Only such an
//!   approval opens a protected name in the workspace (`.git/hooks`, `.claude`); start-up files
//!   (`~/.bashrc`) are never written, whatever was approved.
//! - **a CSC profile**: its allowed read and write prefixes, checked again on the real path.
//! - Native rules and Cedar policies name no paths to grant beyond their envelope (the caches
//!   they name are in it), so an *allowed* text gets none: `cat /etc/shadow`, `cat link` where
//!   `link` leads to `~/victim`, and `cat /proc/self/root/~/.aws/credentials` meet the kernel's
//!   refusal (EACCES), as does reading a file in another project, until a person approves it.
//!
//! What is not granted does not stop the run: `rm link` removes the link itself, which the
//! envelope holds, and only a command that follows it meets the refusal. A path that cannot be
//! resolved to a real file (`/dev/stdin`: a descriptor of cordon's own process, which will be the
//! command's own; a loop) is granted nothing. A never path is never granted.
//!
//! Which envelope each kind of policy defines:
//! - **native rules**: `cordon_policy::envelope::envelope_paths` of the policy itself;
//! - **Cedar**: the default pack's envelope for the workspace (Cedar policies name no paths the
//!   envelope could be read from);
//! - **a CSC profile**: no workspace, the default pack's never, read-only and never-name lists,
//!   and each command's declared scopes (and its cwd, readable as in CSC) granted when their real
//!   paths lie under the profile's prefixes; one that does not exist is refused (docs/sandbox.md).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cordon_core::contract::Command;
use cordon_policy::envelope::{
    closed_paths, envelope_paths, read_dir_names, EnvelopePaths, PolicyGlobs,
};
use cordon_policy::shell;
use cordon_policy::toolchains::Toolchains;
use cordon_sandbox::{
    resolve_real, Envelope, Grant, GrantAccess, RealPath, PROTECTED_NAMES, SYSTEM_DIRS,
};

use crate::confinement::literal_prefix;
use crate::ledger::Ledger;
use crate::policies::PolicyInForce;

/// What a hardened run's envelope is made from: the policy in force and where the run happens.
#[derive(Debug, Clone)]
pub struct EnvelopeSource {
    pub policy: Arc<PolicyInForce>,
    /// The directory the policy calls `{workspace}` (absolute).
    pub workspace: PathBuf,
    /// The home directory (`~`).
    pub home: PathBuf,
    /// cordon's own home: keys, journal, policy, approvers, state, sockets.
    pub cordon_home: PathBuf,
}

/// The envelope every command of a hardened run is confined to, and what grants a path beyond it.
#[derive(Debug, Clone)]
pub struct EnvelopeInForce {
    pub envelope: Envelope,
    /// The workspace the envelope makes writable (native rules and Cedar; a CSC profile's
    /// envelope has none): what a write the front end could not name may reach.
    workspace: Option<PathBuf>,
    beyond: Beyond,
}

/// What may grant a path beyond the envelope, besides a person's approval.
#[derive(Debug, Clone)]
enum Beyond {
    /// Native rules and Cedar policies: nothing but an approval.
    ApprovalOnly,
    /// A CSC profile: its allowed prefixes, on the real path.
    Prefixes {
        read: Vec<PathBuf>,
        write: Vec<PathBuf>,
    },
}

impl EnvelopeInForce {
    /// Builds the envelope `source` defines, closing the ledger's signing key and journal and
    /// the `private` files (the secret store and its key) too, wherever they are kept. `Err` is
    /// one sentence: the run is blocked with it.
    pub fn build(
        source: &EnvelopeSource,
        ledger: &Ledger,
        private: &[&Path],
    ) -> Result<EnvelopeInForce, String> {
        let evidence: Vec<PathBuf> = ledger
            .key_file()
            .into_iter()
            .chain(ledger.journal_dir())
            .chain(private.iter().copied())
            .map(absolute)
            .collect();
        let mut workspace = Some(source.workspace.clone());
        let (envelope, beyond) = match source.policy.as_ref() {
            PolicyInForce::Native(loaded) => {
                let paths = paths_of(&PolicyGlobs::of(&loaded.policy), source);
                (with_workspace(&paths, evidence)?, Beyond::ApprovalOnly)
            }
            PolicyInForce::Cedar(_) => {
                let paths = paths_of(&PolicyGlobs::default_pack()?, source);
                (with_workspace(&paths, evidence)?, Beyond::ApprovalOnly)
            }
            PolicyInForce::Csc(profile) => {
                let paths = closed_paths_of(&PolicyGlobs::default_pack()?, source);
                let profile = &profile.policy;
                let prefixes = |list: &[String]| list.iter().map(PathBuf::from).collect();
                let mut read: Vec<PathBuf> = prefixes(&profile.allowed_read_prefixes);
                read.extend(prefixes(&profile.allowed_cwd_prefixes));
                let beyond = Beyond::Prefixes {
                    read,
                    write: prefixes(&profile.allowed_write_prefixes),
                };
                workspace = None;
                (without_workspace(&paths, evidence)?, beyond)
            }
        };
        Ok(EnvelopeInForce {
            envelope,
            workspace,
            beyond,
        })
    }

    /// The workspace this envelope lets a command write, as the policy names it; `None` for a
    /// CSC profile's, which grants only what the contract declares.
    pub fn workspace(&self) -> Option<&Path> {
        self.workspace.as_deref()
    }

    /// The grants beyond the envelope that `command` gets: each path it names (its cwd and
    /// declared reads as reads, its declared writes as writes) that reaches outside the envelope,
    /// judged on its real path (module docs). `approved`: a person approved this run. `Err` is
    /// one sentence: the run is blocked.
    pub fn grants_for(&self, command: &Command, approved: bool) -> Result<Vec<Grant>, String> {
        let named = std::iter::once((command.cwd.as_str(), GrantAccess::Read))
            .chain(
                command
                    .read_paths
                    .iter()
                    .map(|p| (p.as_str(), GrantAccess::Read)),
            )
            .chain(
                command
                    .write_paths
                    .iter()
                    .map(|p| (p.as_str(), GrantAccess::Write)),
            );
        let mut grants: Vec<Grant> = Vec::new();
        let mut judged: Vec<(PathBuf, GrantAccess)> = Vec::new();
        for (pattern, access) in named {
            let written = literal_prefix(pattern);
            // A path named twice (the cwd and `cwd/**`) is resolved and judged once.
            if written.as_os_str().is_empty() || judged.contains(&(written.clone(), access)) {
                continue;
            }
            judged.push((written.clone(), access));
            let Some(grant) = self.grant_for(&written, access, command, approved)? else {
                continue;
            };
            let known = grants
                .iter()
                .any(|g| g.target.path() == grant.target.path() && covers(g.access, access));
            if !known {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    /// The paths `command` names that lie outside the envelope and get no grant (a credential
    /// aside, which is closed on purpose): the kernel refuses the command's access there, so the
    /// user is told which of the paths it named it could not reach.
    pub fn beyond_reach(&self, command: &Command, approved: bool) -> Vec<PathBuf> {
        let cwd = Path::new(&command.cwd);
        let named = command
            .read_paths
            .iter()
            .map(|p| (p, GrantAccess::Read))
            .chain(command.write_paths.iter().map(|p| (p, GrantAccess::Write)));
        let mut beyond: Vec<PathBuf> = Vec::new();
        for (pattern, access) in named {
            let written = literal_prefix(pattern);
            if written.as_os_str().is_empty() {
                continue;
            }
            let Some(Reached { real, .. }) = reach(&written, access, cwd) else {
                continue;
            };
            let unreached = !self.holds(real.path(), access)
                && !self.never(real.path())
                && matches!(
                    self.grant_for(&written, access, command, approved),
                    Ok(None)
                );
            let shown = absolute_in(cwd, &written);
            if unreached && !beyond.contains(&shown) {
                beyond.push(shown);
            }
        }
        beyond
    }

    /// The grant one named path earns, if any (module docs): `None` when the envelope already
    /// holds it, or when nothing grants it and the kernel will refuse the command's access.
    fn grant_for(
        &self,
        written: &Path,
        access: GrantAccess,
        command: &Command,
        approved: bool,
    ) -> Result<Option<Grant>, String> {
        let cwd = Path::new(&command.cwd);
        let Some(Reached {
            real,
            through_ancestor,
        }) = reach(written, access, cwd)
        else {
            return Ok(None);
        };
        if self.holds(real.path(), access) {
            return Ok(None);
        }
        let named = absolute_in(cwd, written);
        // What a person saw: the path itself, or the directory a new file is made in.
        let as_written = if through_ancestor {
            named.parent() == Some(real.path())
        } else {
            named == real.path()
        };
        let granted = match &self.beyond {
            Beyond::ApprovalOnly => approved && as_written,
            Beyond::Prefixes { read, write } => {
                if through_ancestor {
                    self.declared_under_another(written, command)?;
                    return Ok(None);
                }
                let prefixes = match access {
                    GrantAccess::Read => read.iter().chain(write).collect::<Vec<_>>(),
                    GrantAccess::Write => write.iter().collect(),
                };
                prefixes.iter().any(|p| real.path().starts_with(p))
            }
        };
        let writes = access == GrantAccess::Write;
        // Start-up files are never written, like never paths are never reached; git metadata and
        // agent settings in the workspace open only to a person who approved them by name.
        let start_up = writes && self.start_up(real.path());
        let protected = writes && self.protected(real.path());
        if !granted
            || start_up
            || (protected && !(approved && as_written))
            || self.never(real.path())
        {
            return Ok(None);
        }
        Ok(Some(Grant {
            target: real,
            access,
        }))
    }

    /// A CSC contract's scopes are granted as declared: a write path that does not exist is
    /// refused, unless another declared write path holds it (as csc-runner does).
    fn declared_under_another(&self, written: &Path, command: &Command) -> Result<(), String> {
        let cwd = Path::new(&command.cwd);
        let named = absolute_in(cwd, written);
        let held = command
            .write_paths
            .iter()
            .map(|p| absolute_in(cwd, &literal_prefix(p)))
            .any(|other| other != named && named.starts_with(&other));
        if held {
            return Ok(());
        }
        Err(format!(
            "command {}: the declared write path {} does not exist and is not under another declared write path; cordon grants a contract's scopes as declared",
            command.id,
            written.display()
        ))
    }

    /// Whether the envelope already gives `access` to `real` (so it needs no grant): beneath a
    /// root with that access and in no hole. A directory the envelope lists (the home) needs no
    /// read grant either: listing is what it gives there, and what lies in it is judged when a
    /// command names it.
    fn holds(&self, real: &Path, access: GrantAccess) -> bool {
        let e = &self.envelope;
        if self.never(real) {
            return false;
        }
        let beneath = |roots: &[PathBuf]| roots.iter().any(|r| real.starts_with(r));
        match access {
            GrantAccess::Write => beneath(&e.write) && !self.read_only(real),
            GrantAccess::Read => {
                beneath(&e.read)
                    || beneath(&e.write)
                    || e.list.iter().any(|l| l == real)
                    || SYSTEM_DIRS.iter().any(|d| real.starts_with(d))
            }
        }
    }

    /// Whether writing `real` would write a name the envelope keeps read-only: a start-up file,
    /// or a protected name in the workspace.
    fn read_only(&self, real: &Path) -> bool {
        self.start_up(real) || self.protected(real)
    }

    /// Whether `real` is or lies inside one of the envelope's read-only paths (shell start-up
    /// files, git's user configuration), which nothing may write.
    fn start_up(&self, real: &Path) -> bool {
        self.envelope.read_only.iter().any(|r| real.starts_with(r))
    }

    /// Whether `real` lies, inside a writable root, in git metadata that runs code or in agent,
    /// editor and shell settings (`cordon_sandbox::PROTECTED_NAMES`: `.git/hooks`, `.claude`, …).
    fn protected(&self, real: &Path) -> bool {
        self.envelope
            .write
            .iter()
            .filter_map(|root| real.strip_prefix(root).ok())
            .any(names_protected)
    }

    /// Whether `real` is or lies inside one of the envelope's never paths.
    fn never(&self, real: &Path) -> bool {
        self.envelope.never.iter().any(|n| real.starts_with(n))
    }
}

/// The envelope paths `globs` define for the source's workspace and homes.
fn paths_of(globs: &PolicyGlobs, source: &EnvelopeSource) -> EnvelopePaths {
    envelope_paths(
        globs,
        Toolchains::builtin(),
        &source.workspace,
        &source.home,
        &source.cordon_home,
        &read_dir_names,
    )
}

/// What `globs` close, for a CSC profile: it grants nothing from the envelope, so neither the
/// caches nor the toolchain directories are looked up.
fn closed_paths_of(globs: &PolicyGlobs, source: &EnvelopeSource) -> EnvelopePaths {
    closed_paths(
        globs,
        Toolchains::builtin(),
        &source.home,
        &source.cordon_home,
        &read_dir_names,
    )
}

/// Where, in cordon's home, each workspace keeps its cache layers.
pub const CACHE_LAYERS_DIR: &str = "layers";

/// Where, in cordon's home, the run-start search remembers each workspace's directories.
pub const SEARCH_MEMORY_DIR: &str = "search";

/// Where, in cordon's home, the write broker writes down the remote URLs commands added.
pub const REMOTES_ADDED_FILE: &str = "state/remotes-added";

/// Makes the home's `~/.cache` when it is missing, a tool's cache inside the tool's own
/// directory when that exists (`~/.cargo/registry` once there is a `~/.cargo`), and a cache
/// directly in the home when its tool is installed (`~/.npm` when `npm` is on the `PATH`). A cache
/// that does not exist is not granted, and nothing may create it: on a fresh home `go build`
/// failed, since it could not make `~/.cache/go-build` (red-team round twelve), and so did `npx`,
/// with npm telling the user to `sudo chown` its cache (working day fifteen). A failure only
/// leaves the cache ungranted, as before, and the envelope's notes say so.
fn make_missing_caches(caches: &[PathBuf], home: &Path) {
    use std::os::unix::fs::DirBuilderExt as _;
    /// Caches directly in the home, and the program whose cache each is.
    const TOOL_CACHES: &[(&str, &str)] = &[(".npm", "npm")];
    let xdg_cache = home.join(".cache");
    for cache in caches {
        let Some(parent) = cache.parent() else {
            continue;
        };
        let tool_installed = || {
            TOOL_CACHES.iter().any(|(name, program)| {
                cache.file_name() == Some(std::ffi::OsStr::new(name)) && on_path(program)
            })
        };
        let wanted = *cache == xdg_cache || parent != home || tool_installed();
        if wanted && parent.is_dir() && std::fs::symlink_metadata(cache).is_err() {
            let _ = std::fs::DirBuilder::new().mode(0o755).create(cache);
        }
    }
}

/// Whether an executable file named `program` lies in a directory of the `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// The envelope of a native or Cedar policy: the workspace and all the paths.
fn with_workspace(paths: &EnvelopePaths, evidence: Vec<PathBuf>) -> Result<Envelope, String> {
    make_missing_caches(&paths.caches, &paths.home);
    Envelope::builder(&paths.workspace)
        .home(&paths.home)
        .cordon_home(&paths.cordon_home)
        .never(paths.never.iter().cloned().chain(evidence))
        .never_names(paths.never_names.iter().cloned())
        .read_only(
            paths
                .read_only
                .iter()
                .cloned()
                .chain(git_config_reads(&paths.home, &paths.workspace)),
        )
        .caches(paths.caches.iter().cloned())
        // What a command writes into a cache stays in this workspace's layer, in cordon's home:
        // the cache the user's own tools run code from is never written (cordon_sandbox's
        // `layers.rs`).
        .cache_layers(paths.cordon_home.join(CACHE_LAYERS_DIR))
        // The search for files named like credentials reads again only what changed since the
        // last run (cordon_sandbox's `search.rs`).
        .search_memory(paths.cordon_home.join(SEARCH_MEMORY_DIR))
        // The remotes commands add are written down, so none is made a branch's upstream or
        // push target later (cordon_sandbox's `broker/remotes.rs`).
        .remotes_added(paths.cordon_home.join(REMOTES_ADDED_FILE))
        .reads(paths.reads.iter().cloned())
        .build()
        .map_err(|e| format!("the policy's envelope cannot be built: {e}"))
}

/// The files the user's git configuration names for git to read, which git fails without in a
/// hardened run (working day fourteen: every git command was fatal with an `include.path` in
/// `~/.gitconfig`): included files (`include.path`, `includeIf.*.path`, followed as git does,
/// relative to the including file), `core.excludesFile`, `core.attributesFile`,
/// `commit.template`, and the `core.hooksPath` directory. Read-only, like `~/.gitconfig` itself:
/// the user's own configuration, which runs nothing a command wrote. What lies in a never path
/// stays closed (the builder leaves it out with a note); a relative path other than an include's,
/// and a path that is or holds the home or the workspace, are not granted.
pub fn git_config_reads(home: &Path, workspace: &Path) -> Vec<PathBuf> {
    const MAX_FILES: usize = 32;
    let mut pending = vec![home.join(".gitconfig"), home.join(".config/git/config")];
    let mut read: Vec<PathBuf> = Vec::new();
    let mut named: Vec<PathBuf> = Vec::new();
    while let Some(file) = pending.pop() {
        if read.len() >= MAX_FILES || read.contains(&file) {
            continue;
        }
        let Ok(text) = std::fs::read(&file) else {
            continue;
        };
        read.push(file.clone());
        let base = file.parent().unwrap_or(home);
        let entries = cordon_sandbox::git_config_entries(&text);
        // The programs it makes git run, where a path names them (red-team round twenty-four
        // rewrote a `core.fsmonitor` script and a credential helper kept in the workspace).
        for program in cordon_sandbox::programs_named(&entries) {
            let path = match program.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(&program),
            };
            if path.is_absolute()
                && !home.starts_with(&path)
                && !workspace.starts_with(&path)
                && !named.contains(&path)
            {
                named.push(path);
            }
        }
        for entry in entries {
            let (section, key) = (entry.section.as_str(), entry.key.as_str());
            let value = entry.value.as_str();
            let expanded = match value.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(value),
            };
            let include = key == "path" && matches!(section, "include" | "includeif");
            let wanted = include
                || matches!(
                    (section, key),
                    ("core", "excludesfile" | "attributesfile" | "hookspath")
                        | ("commit", "template")
                );
            if !wanted {
                continue;
            }
            let path = if expanded.is_absolute() {
                expanded
            } else if include {
                base.join(expanded)
            } else {
                continue;
            };
            if home.starts_with(&path) || workspace.starts_with(&path) {
                continue;
            }
            if include {
                pending.push(path.clone());
            }
            if !named.contains(&path) {
                named.push(path);
            }
        }
    }
    named
}

/// The envelope of a CSC profile: nothing granted but what the contract declares, the default
/// pack's holes closed.
fn without_workspace(paths: &EnvelopePaths, evidence: Vec<PathBuf>) -> Result<Envelope, String> {
    Envelope::without_workspace()
        .cordon_home(&paths.cordon_home)
        .never(paths.never.iter().cloned().chain(evidence))
        .never_names(paths.never_names.iter().cloned())
        .read_only(paths.read_only.iter().cloned())
        .build()
        .map_err(|e| format!("the envelope cannot be built: {e}"))
}

/// What a named path reaches.
struct Reached {
    real: RealPath,
    /// The path does not exist, and this is its nearest existing directory.
    through_ancestor: bool,
}

/// The file `written` reaches from `cwd`, held open; `None` when there is nothing to grant: a read
/// of a path that does not exist, or a path that exists but cannot be resolved to a real file (a
/// descriptor of cordon's own process such as `/dev/stdin`, which means the command's own when it
/// runs; a loop). The kernel answers the command's access to those. A write to a path that does
/// not exist reaches its nearest existing directory, since the kernel grants rights on existing
/// files only.
fn reach(written: &Path, access: GrantAccess, cwd: &Path) -> Option<Reached> {
    let mut path = written.to_path_buf();
    loop {
        match resolve_real(&path, cwd) {
            Ok(real) => {
                return Some(Reached {
                    real,
                    through_ancestor: path != written,
                })
            }
            Err(_) if exists(&cwd.join(&path)) || access == GrantAccess::Read => return None,
            Err(_) => match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => path = parent.to_path_buf(),
                // A relative path's last ancestor is the cwd.
                _ => path = cwd.to_path_buf(),
            },
        }
    }
}

/// Whether anything is at `path`, links followed (a dangling link is nothing).
fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok()
}

fn absolute_in(cwd: &Path, path: &Path) -> PathBuf {
    let joined = cwd.join(path);
    match joined.to_str() {
        Some(text) => PathBuf::from(shell::pathutil::normalize_absolute(text)),
        None => joined,
    }
}

/// `path` made absolute against the current directory (a key or journal named relatively).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether `relative` (a path below a writable root) is or lies inside a protected name: an agent
/// or editor setting anywhere, or git metadata of a `.git` directory (`.git/hooks`), of its linked
/// worktrees (`.git/worktrees/*/hooks`) and of its modules (`.git/modules/**/hooks`).
fn names_protected(relative: &Path) -> bool {
    let parts: Vec<&OsStr> = relative.iter().collect();
    PROTECTED_NAMES.iter().any(|name| {
        let name: Vec<&OsStr> = Path::new(name).iter().collect();
        match name.as_slice() {
            [git, inner] if *git == ".git" => parts.iter().enumerate().any(|(at, part)| {
                let after = &parts[at + 1..];
                *part == ".git"
                    && (after.first() == Some(inner)
                        || (after.first().is_some_and(|p| *p == "worktrees")
                            && after.get(2) == Some(inner))
                        || (after.first().is_some_and(|p| *p == "modules")
                            && after.contains(inner)))
            }),
            [single] => parts.contains(single),
            _ => false,
        }
    })
}

fn covers(granted: GrantAccess, wanted: GrantAccess) -> bool {
    granted == wanted || granted == GrantAccess::Write
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_files_the_users_git_configuration_names_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let ws = home.join("code/ws");
        std::fs::create_dir_all(home.join(".config/git")).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[include]\n\tpath = ~/.gitconfig.local\n[includeIf \"gitdir:~/code/\"]\n\tpath = work.inc\n[core]\n\texcludesFile = \"~/.gitignore_global\"\n\thooksPath = ~\n[Commit]\n\ttemplate = ~/.gitmessage\n[alias]\n\tpath = ~/not-a-file-git-reads\n",
        )
        .unwrap();
        // An include of an include, relative to the including file.
        std::fs::write(
            home.join(".gitconfig.local"),
            "[include]\n\tpath = nested.inc\n",
        )
        .unwrap();
        std::fs::write(
            home.join(".config/git/config"),
            "[core]\n\tattributesFile = /etc/gitattributes\n\texcludesFile = relative\n\thooksPath = ~/code\n",
        )
        .unwrap();
        let got = git_config_reads(&home, &ws);
        for want in [
            home.join(".gitconfig.local"),
            home.join("work.inc"),
            home.join("nested.inc"),
            home.join(".gitignore_global"),
            home.join(".gitmessage"),
            PathBuf::from("/etc/gitattributes"),
        ] {
            assert!(got.contains(&want), "{want:?}: {got:?}");
        }
        // Not the home or what holds the workspace, nor a relative path git would not read
        // from the home, nor a key git reads no file for.
        for never in [
            home.clone(),
            home.join("code"),
            PathBuf::from("relative"),
            home.join("not-a-file-git-reads"),
        ] {
            assert!(!got.contains(&never), "{never:?}: {got:?}");
        }
    }
}
