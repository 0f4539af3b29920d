//! The envelope: what the kernel lets every command of a run reach, whatever its text says.
//!
//! The policy defines one envelope per workspace: read the system, the workspace and the
//! toolchains; write the workspace, a private temporary directory and the caches the policy
//! names; list the home directory; and **never** reach credentials, cordon's own home or shell
//! start-up files, even where they lie beneath a granted root. The front end's reading of the
//! command's text no longer widens it path by path: a grant beyond it ([`Grant`]) is made on a
//! file the caller resolved with [`crate::resolve_real`] and judged on its real path.
//!
//! Landlock grants whole trees and cannot carve a hole in one. So a granted root with a never
//! path beneath it (the workspace is `$HOME`, or cordon's home lies in the workspace) is granted
//! *around* the hole: the root and each directory on the way down to a never path become
//! list-only (their entries can be listed, nothing more), and every other entry found there when
//! the run starts is granted the root's rights on its own. Nothing can then be created, removed
//! or renamed directly in those list-only directories, which is also what keeps a never path that
//! does not exist yet (`~/.bash_profile`, `~/.ssh/authorized_keys` without `~/.ssh`) from being
//! created. docs/sandbox.md ("The envelope") says why this was chosen over a mount over the hole.
//!
//! Listing is hierarchical in Landlock: under a list-only home, `ls ~/.ssh` lists names (never
//! contents). Every rule the ruleset receives is checked against the never set before it is
//! added: no rule on a never path or above one may grant more than listing.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cordon_core::name_glob::NameGlobs;
use serde::Serialize;

use crate::resolve::RealPath;
use crate::{resolve_real, Error};

/// How many entries one run may grant one by one around never paths; past it the run is refused
/// (a home directory this large should not be the workspace: name a project directory).
pub const MAX_CARVED_ENTRIES: usize = 4096;

/// What every command of a run may reach. Paths are resolved again (symlinks followed) each time a
/// run is prepared; a read, write or list root that no longer exists is left out and noted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// Trees readable and executable (beyond the system directories the sandbox always grants).
    pub read: Vec<PathBuf>,
    /// Trees readable and writable. The run's private `TMPDIR` is added by the sandbox.
    pub write: Vec<PathBuf>,
    /// The toolchain caches among `write` (`~/.cargo/registry`, `~/.cache/go-build`): not
    /// projects, so the run-start search for protected names and never-named files
    /// (`protect.rs`) skips them; searching thousands of cache directories cost every hardened
    /// run milliseconds.
    pub caches: Vec<PathBuf>,
    /// Directories whose entries may be listed, and nothing more (the home directory, for `ls ~`).
    pub list: Vec<PathBuf>,
    /// Paths closed even beneath a granted root, whatever a grant or a link says. The builder
    /// adds each path's resolved form beside the one written; a path pushed here afterwards is
    /// taken as written.
    pub never: Vec<PathBuf>,
    /// File-name globs closed wherever such a file exists in a writable root when the run starts
    /// (`.env`, `*.pem`): an empty read-only file is mounted over each one found (the search of
    /// `search.rs`: every directory, up to [`crate::MAX_SEARCHED_DIRS`]), unless git tracks it.
    pub never_names: Vec<String>,
    /// Paths never written, even beneath a writable root, but readable (shell start-up files,
    /// git's user configuration: programs read them, and writing them runs code later).
    pub read_only: Vec<PathBuf>,
    /// Trees among `read` that the run-start search looks through like a writable root, for
    /// files named like credentials (closed where found) and protected names: the work tree of
    /// the repository the workspace is a subdirectory of, which git must read whole.
    pub searched_reads: Vec<PathBuf>,
    /// Where this workspace's cache layers live (`layers.rs`), inside a never path: with it, what
    /// a command writes into a cache goes into the workspace's own layer over the cache, and the
    /// cache itself stays as the user's own tools left it. Without it the caches are written
    /// directly.
    pub layers: Option<PathBuf>,
    /// The file, inside a never path, where the run-start search remembers this workspace's
    /// directories between runs (`search.rs`), so a directory unchanged since is not read again.
    /// Without it every directory is read on every run.
    pub search_memory: Option<PathBuf>,
    /// The file, inside a never path, where the write broker writes down the remote URLs
    /// commands add to protected repositories (`broker/remotes.rs`), so that no later command
    /// sends a branch there. Without it a run remembers only the remotes it added itself.
    pub remotes_added: Option<PathBuf>,
    /// What the builder left out, and why (an absent cache, a toolchain inside a never path).
    pub notes: Vec<String>,
    /// A workspace's commands get a `/dev/shm` of their own (a tmpfs in their mount namespace,
    /// where cordon can make one): POSIX semaphores and shared memory (`sem_open`, Python's
    /// `multiprocessing`) work without reaching the host's. Set for a workspace envelope; a CSC
    /// profile names its paths and gets none.
    pub private_shm: bool,
    /// The workspace whose own `/tmp` its commands see: a directory of the user's, one per
    /// workspace, mounted over `/tmp` in their mount namespace and kept between commands, so what
    /// one writes to `/tmp/x` the next reads while the host's `/tmp` stays out of sight. Set for a
    /// workspace envelope; a CSC profile names its paths and gets none.
    pub private_tmp: Option<PathBuf>,
}

/// Builds the [`Envelope`] for a workspace from the policy's inputs. Every path must be
/// absolute; `~` is the caller's to expand.
///
/// ```no_run
/// # use cordon_sandbox::Envelope;
/// let envelope = Envelope::builder("/home/me/project")
///     .home("/home/me")
///     .cordon_home("/home/me/.config/cordon")
///     .never(["/home/me/.ssh", "/home/me/.aws", "/home/me/.bashrc"])
///     .caches(["/home/me/.cache", "/home/me/.cargo/registry"])
///     .reads(["/home/me/.rustup/toolchains"])
///     .build()?;
/// # Ok::<(), cordon_sandbox::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct EnvelopeBuilder {
    /// `None` for an envelope that grants no workspace ([`Envelope::without_workspace`]).
    workspace: Option<PathBuf>,
    home: Option<PathBuf>,
    cordon_home: Option<PathBuf>,
    never: Vec<PathBuf>,
    never_names: Vec<String>,
    read_only: Vec<PathBuf>,
    caches: Vec<PathBuf>,
    cache_layers: Option<PathBuf>,
    search_memory: Option<PathBuf>,
    remotes_added: Option<PathBuf>,
    reads: Vec<PathBuf>,
}

impl Envelope {
    pub fn builder(workspace: impl Into<PathBuf>) -> EnvelopeBuilder {
        EnvelopeBuilder {
            workspace: Some(workspace.into()),
            ..EnvelopeBuilder::default()
        }
    }

    /// A builder for an envelope with no workspace: nothing is writable but what the caches and
    /// the run's private `TMPDIR` make so, and every grant beyond it comes from the caller (a CSC
    /// contract's declared scopes). Its never, read-only and never-name lists hold as usual.
    pub fn without_workspace() -> EnvelopeBuilder {
        EnvelopeBuilder::default()
    }

    /// The matcher of [`Envelope::never_names`], as the sandbox's search closes files by it.
    pub fn never_name_matcher(&self) -> Result<NameGlobs, Error> {
        name_matcher(&self.never_names)
    }
}

impl EnvelopeBuilder {
    /// The home directory: listable, never readable as a whole.
    #[must_use]
    pub fn home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// cordon's own home (keys, journal, policy, approvers, state, sockets): never reachable.
    #[must_use]
    pub fn cordon_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cordon_home = Some(dir.into());
        self
    }

    /// Credentials and shell start-up files: never reachable.
    #[must_use]
    pub fn never<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.never.extend(paths.into_iter().map(Into::into));
        self
    }

    /// File-name globs (`.env`, `*.pem`) closed wherever a file so named exists in a writable
    /// root when the run starts.
    #[must_use]
    pub fn never_names<I, S>(mut self, globs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.never_names.extend(globs.into_iter().map(Into::into));
        self
    }

    /// Shell start-up files and other configuration that runs code: readable where they exist,
    /// never written (nor created).
    #[must_use]
    pub fn read_only<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.read_only.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Caches the policy names: writable where they exist.
    #[must_use]
    pub fn caches<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.caches.extend(paths.into_iter().map(Into::into));
        self
    }

    /// The directory under which each workspace keeps its cache layers (`layers.rs`): it must lie
    /// inside cordon's home or another never path, so no command reaches a layer but through the
    /// cache it covers.
    #[must_use]
    pub fn cache_layers(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_layers = Some(dir.into());
        self
    }

    /// The directory where the run-start search keeps what it remembers of each workspace
    /// (`search.rs`): it must lie inside cordon's home or another never path, or a command could
    /// make the search overlook a secret.
    #[must_use]
    pub fn search_memory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.search_memory = Some(dir.into());
        self
    }

    /// The file where the write broker keeps the remote URLs commands added
    /// (`broker/remotes.rs`): it must lie inside cordon's home or another never path, or a
    /// command could rewrite the record.
    #[must_use]
    pub fn remotes_added(mut self, file: impl Into<PathBuf>) -> Self {
        self.remotes_added = Some(file.into());
        self
    }

    /// Toolchains and other trees the policy lets every command read and execute.
    #[must_use]
    pub fn reads<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.reads.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Resolves everything once. Fails when the workspace is not an existing directory, or when it
    /// is or lies inside a never path; a cache, read or home that is absent or closed is left out
    /// and noted.
    pub fn build(self) -> Result<Envelope, Error> {
        let mut resolved = Resolved::new();
        let never = all_forms(self.cordon_home.iter().chain(&self.never), &mut resolved)?;
        let read_only = all_forms(&self.read_only, &mut resolved)?;
        let mut write = Vec::new();
        if let Some(workspace) = &self.workspace {
            let workspace = resolve_real(workspace, "/")?;
            if !workspace.is_dir() {
                return Err(Error::Envelope(format!(
                    "the workspace {} is not a directory",
                    workspace.path().display()
                )));
            }
            refuse_if_never(workspace.path(), &never)?;
            refuse_if_never(workspace.path(), &read_only)?;
            write.push(workspace.path().to_path_buf());
        }
        name_matcher(&self.never_names)?;
        let mut envelope = Envelope {
            private_shm: self.workspace.is_some(),
            private_tmp: write.first().cloned(),
            write,
            never,
            never_names: self.never_names.clone(),
            read_only,
            ..Envelope::default()
        };
        // Caches, toolchains, start-up files and the home come from the policy, cordon's own
        // table and `$HOME`, not from a command: the kernel's resolution names them, at a third
        // of the system calls of `resolve_real`'s walk. `note_absent`: whether a path that does
        // not exist gets a note.
        let mut keep = |paths: &[PathBuf],
                        what: &str,
                        note_absent: bool,
                        into: fn(&mut Envelope) -> &mut Vec<PathBuf>| {
            for p in paths {
                match crate::resolve::open_trusted(p) {
                    Ok(real) if refuse_if_never(real.path(), &envelope.never).is_err() => {
                        envelope.notes.push(format!(
                            "{what} {} lies inside a never path and is not granted",
                            p.display()
                        ));
                    }
                    Ok(real) => {
                        let list = into(&mut envelope);
                        if !lists(list, real.path()) {
                            list.push(real.path().to_path_buf());
                        }
                    }
                    Err(_) if note_absent => envelope.notes.push(format!(
                        "{what} {} does not exist and is not granted",
                        p.display()
                    )),
                    Err(_) => {}
                }
            }
        };
        keep(&self.caches, "the cache", true, |e| &mut e.write);
        keep(&self.reads, "the read path", true, |e| &mut e.read);
        // Most users have few of the shells' start-up files: an absent one is not worth a note,
        // and each is opened once rather than looked up first.
        keep(&self.read_only, "the read-only path", false, |e| {
            &mut e.read
        });
        keep(self.home.as_slice(), "the home directory", true, |e| {
            &mut e.list
        });
        // Every writable root after the workspace is a cache.
        let workspaces = usize::from(self.workspace.is_some());
        envelope.caches = envelope.write.iter().skip(workspaces).cloned().collect();
        let key = layer_key(envelope.write.first(), workspaces);
        // The repository the workspace belongs to, when its git directory lies outside it (a
        // linked worktree, a submodule's checkout, a subdirectory of a repository): without it
        // every git command fails ("not a git repository"), and a commit writes its objects,
        // index and refs there. Its hooks and config stay protected, as every git directory's.
        let workspace = self.workspace.as_ref().and(envelope.write.first().cloned());
        // Compared with real paths: the git directories are resolved.
        let home = self
            .home
            .as_deref()
            .map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| h.to_path_buf()));
        if let Some((git, work_tree)) = workspace
            .as_deref()
            .and_then(|w| repository_outside(w, home.as_deref()))
        {
            let granted = match crate::resolve::open_trusted(&git) {
                Ok(real)
                    if refuse_if_never(real.path(), &envelope.never).is_err()
                        || refuse_if_never(real.path(), &envelope.read_only).is_err() =>
                {
                    envelope.notes.push(format!(
                        "the workspace's git directory {} lies inside a never or read-only path and is not granted",
                        git.display()
                    ));
                    false
                }
                Ok(real) => {
                    if !lists(&envelope.write, real.path()) {
                        envelope.write.push(real.path().to_path_buf());
                    }
                    // What its configuration includes git reads with it, and fails without
                    // (working day eighteen: a linked worktree of a repository that includes a
                    // tracked `.gitconfig-team` could run no git command). Read only, never a
                    // closed path.
                    for included in crate::protect::config_includes(real.path()) {
                        let Ok(file) = crate::resolve::open_trusted(&included) else {
                            continue;
                        };
                        let file = file.path().to_path_buf();
                        if refuse_if_never(&file, &envelope.never).is_ok()
                            && !lists(&envelope.read, &file)
                            && !lists(&envelope.write, &file)
                        {
                            envelope.read.push(file);
                        }
                    }
                    true
                }
                Err(_) => false,
            };
            // A workspace that is a subdirectory of the repository reads the rest of its work
            // tree: git reads every `.gitignore` up to the root and hashes what is stat-dirty
            // anywhere in it (working day fifteen: unreadable, `git add .` staged ignored files,
            // `git clean -fd` removed an ignored database, `git diff` and `commit -a` failed), and
            // a Cargo or npm workspace's manifest lies at its root. It stays read-only, and is
            // searched for credential-named files like a writable root.
            if let (true, Some(tree)) = (granted, work_tree) {
                match crate::resolve::open_trusted(&tree) {
                    Ok(real)
                        if refuse_if_never(real.path(), &envelope.never).is_err()
                            || home.as_deref().is_some_and(|h| h.starts_with(real.path())) =>
                    {
                        envelope.notes.push(format!(
                            "the work tree {} of the workspace's repository lies inside a never path or holds the home, and is not granted",
                            tree.display()
                        ));
                    }
                    Ok(real) => {
                        let real = real.path().to_path_buf();
                        if !lists(&envelope.read, &real) {
                            envelope.read.push(real.clone());
                        }
                        envelope.searched_reads.push(real);
                    }
                    Err(_) => {}
                }
            }
        }
        if let Some(dir) = &self.cache_layers {
            inside_never(
                dir,
                &envelope.never,
                "the cache layers directory",
                "write a layer",
            )?;
            envelope.layers = Some(dir.join(&key));
        }
        if let Some(dir) = &self.search_memory {
            inside_never(
                dir,
                &envelope.never,
                "the search memory directory",
                "hide a secret",
            )?;
            envelope.search_memory = Some(dir.join(&key));
        }
        if let Some(file) = &self.remotes_added {
            inside_never(
                file,
                &envelope.never,
                "the record of remotes commands added",
                "send the user's next push where it chose",
            )?;
            envelope.remotes_added = Some(file.clone());
        }
        Ok(envelope)
    }
}

/// The work tree of the repository `workspace` is a subdirectory of, which a hardened run of the
/// workspace reads ([`Envelope::searched_reads`]); `None` when the workspace is no such
/// subdirectory. `home` as the envelope has it (a work tree that holds it is none).
pub fn repository_work_tree(workspace: &Path, home: Option<&Path>) -> Option<PathBuf> {
    let workspace = std::fs::canonicalize(workspace).ok()?;
    let home = home.map(|h| std::fs::canonicalize(h).unwrap_or_else(|_| h.to_path_buf()));
    repository_outside(&workspace, home.as_deref())?.1
}

/// The git directory of the repository `workspace` belongs to, when it lies outside it, as git
/// finds it: a `.git` in the workspace or the nearest directory above it. A `.git` file of the
/// workspace (the agent may have written it) counts only where git's own records lead back: a
/// linked worktree's directory names the workspace in its `gitdir` (then its common directory is
/// the one granted), a submodule's git directory names it as its `core.worktree`.
///
/// A repository whose work tree is the home directory or holds it (dotfiles kept in `~/.git`)
/// is not one: its history holds the start-up files, which a commit of the command's making
/// would bring back on the user's next checkout.
fn repository_outside(workspace: &Path, home: Option<&Path>) -> Option<(PathBuf, Option<PathBuf>)> {
    let is_git_dir = |dir: &Path| {
        dir.join("HEAD").is_file()
            && (dir.join("objects").is_dir() || dir.join("commondir").is_file())
    };
    // The work tree, when it holds the workspace and is more than it.
    let above = |here: &Path| (here != workspace).then(|| here.to_path_buf());
    let mut dir = Some(workspace);
    while let Some(here) = dir {
        let dot_git = here.join(".git");
        match std::fs::symlink_metadata(&dot_git) {
            Ok(meta) if meta.is_dir() => {
                return (here != workspace
                    && is_git_dir(&dot_git)
                    && !work_tree_holds(&dot_git, home))
                .then(|| (dot_git, above(here)));
            }
            // A `.git` file, in the workspace or above it (the workspace is a subdirectory of a
            // worktree): the git directory is where git's records lead. Not one whose work tree
            // holds the home, however it was reached (round fifteen reached `~/.git` so).
            Ok(meta) if meta.is_file() => {
                return linked_git_dir(here, &dot_git)
                    .filter(|g| is_git_dir(g) && !work_tree_holds(g, home))
                    .map(|g| (g, above(here)));
            }
            Ok(_) => return None,
            Err(_) => {}
        }
        dir = here.parent();
    }
    None
}

/// Whether the work tree of the repository whose git directory (or a directory inside it, a
/// worktree's or a submodule's) is `git` holds `home`: the nearest directory named `.git`, up
/// from `git`, is the repository's, and its parent the work tree.
fn work_tree_holds(git: &Path, home: Option<&Path>) -> bool {
    let Some(home) = home else { return false };
    let top = git
        .ancestors()
        .find(|dir| dir.file_name() == Some(std::ffi::OsStr::new(".git")));
    match top.and_then(Path::parent) {
        Some(work_tree) => home.starts_with(work_tree),
        // A bare common directory: git has no work tree for it, so it holds nothing.
        None => false,
    }
}

/// For the checkout `root` with the `.git` file `dot_git`: the git directory to grant, when
/// git's records confirm the checkout (module comment of [`repository_outside`]). The records
/// are read where they really are (links resolved) and must lie where git keeps them: a linked
/// worktree's directory in its common directory's `worktrees`, a submodule's git directory in a
/// `modules` of a git directory. A command can write records anywhere it can write, and link a
/// directory of them to any repository (red-team round fifteen: a forged worktree whose
/// `commondir` was swapped for a link to another repository of the user's got that repository
/// granted); it cannot write into the `worktrees` of a repository it was not granted.
fn linked_git_dir(root: &Path, dot_git: &Path) -> Option<PathBuf> {
    let text = std::fs::read(dot_git)
        .ok()
        .filter(|t| t.len() <= crate::repos::MAX_POINTER_BYTES)?;
    let root = std::fs::canonicalize(root).ok()?;
    let admin = std::fs::canonicalize(root.join(crate::repos::gitdir_of(&text)?)).ok()?;
    if admin.starts_with(&root) {
        return None;
    }
    let pointer = |file: &Path| {
        let text = std::fs::read(file).ok()?;
        let path = crate::repos::pointer_path(&text)?;
        std::fs::canonicalize(admin.join(path)).ok()
    };
    match std::fs::symlink_metadata(admin.join("commondir")) {
        // A linked worktree: it lies in its common directory's `worktrees`, and its `gitdir`
        // names the checkout's `.git` file.
        Ok(_) => {
            let common = pointer(&admin.join("commondir"))?;
            let back = pointer(&admin.join("gitdir"))?;
            let in_place = admin.parent() == Some(common.join("worktrees").as_path());
            (in_place && back == root.join(".git")).then_some(common)
        }
        // A submodule's git directory: it lies in a `modules` of a git directory, and its
        // `core.worktree` names the checkout.
        Err(_) => {
            let in_modules = admin.ancestors().skip(1).any(|dir| {
                dir.file_name() == Some(std::ffi::OsStr::new("modules"))
                    && dir.parent().is_some_and(|git| git.join("HEAD").is_file())
            });
            if !in_modules {
                return None;
            }
            let config = std::fs::read(admin.join("config")).ok()?;
            let worktree = crate::repos::git_config_entries(&config)
                .into_iter()
                .find(|e| e.section == "core" && e.sub.is_none() && e.key == "worktree")?;
            let back = std::fs::canonicalize(admin.join(worktree.value)).ok()?;
            (back == root).then_some(admin)
        }
    }
}

/// Refuses a directory of cordon's own state that a command could reach: it must be absolute and
/// lie inside a never path.
fn inside_never(dir: &Path, never: &[PathBuf], what: &str, or_else: &str) -> Result<(), Error> {
    if !dir.is_absolute() || refuse_if_never(dir, never).is_ok() {
        return Err(Error::Envelope(format!(
            "{what} {} must be absolute and lie inside cordon's home or another never path, or \
             a command could {or_else}",
            dir.display()
        )));
    }
    Ok(())
}

/// The name of a workspace's own layers directory and search memory: a digest of its real path, so two workspaces
/// never share a layer (what one run planted in a cache must not run in another workspace's
/// commands, which may write that workspace).
fn layer_key(workspace: Option<&PathBuf>, workspaces: usize) -> String {
    match workspace.filter(|_| workspaces == 1) {
        Some(ws) => crate::layers::short_digest(ws),
        None => "no-workspace".into(),
    }
}

/// The matcher for never names; a glob that has a slash or does not parse is refused.
pub(crate) fn name_matcher(globs: &[String]) -> Result<NameGlobs, Error> {
    if let Some(glob) = globs.iter().find(|g| g.contains('/')) {
        return Err(Error::Envelope(format!(
            "the never name {glob:?} has a slash; name a file, or close a path with never()"
        )));
    }
    NameGlobs::new(globs)
        .map_err(|(glob, e)| Error::Envelope(format!("the never name {glob:?}: {e}")))
}

/// Every form of every path ([`never_forms`]); each must be absolute.
fn all_forms<'a>(
    paths: impl IntoIterator<Item = &'a PathBuf>,
    resolved: &mut Resolved,
) -> Result<Vec<PathBuf>, Error> {
    let mut forms = Vec::new();
    for p in paths {
        if !p.is_absolute() {
            return Err(Error::Envelope(format!(
                "the closed path {} is not absolute",
                p.display()
            )));
        }
        for form in never_forms(p, resolved) {
            // In components form, as `within` needs.
            let form: PathBuf = form.components().collect();
            if !lists(&forms, &form) {
                forms.push(form);
            }
        }
    }
    Ok(forms)
}

/// Whether `list` holds `path` as written, byte for byte: for keeping the envelope's lists free of
/// repeats, where comparing `Path`s component by component, every path against every other,
/// was a sizeable part of building the envelope. (A repeat written differently costs a rule.)
pub(crate) fn lists(list: &[PathBuf], path: &Path) -> bool {
    list.iter().any(|p| p.as_os_str() == path.as_os_str())
}

/// The holes a granted root may not cover: closed paths (no access but listing) and read-only
/// paths (no write).
#[derive(Debug, Clone, Default)]
pub(crate) struct Holes {
    pub closed: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    /// Closed paths that exist beneath a granted root and are mounted over in the command's mount
    /// namespace (an empty read-only stand-in): a rule above them needs no granting around, and
    /// the mount is required (no mount namespace, no run).
    pub mounted: Vec<PathBuf>,
    /// Closed files that exist outside every granted root but inside a listed directory (the
    /// home): Landlock already closes them, and the stand-in mounted over them only lets a
    /// program that finds its configuration there (npm and `~/.npmrc`) read nothing instead of
    /// failing. Where no mount namespace can be made, they are left closed (EACCES) instead of
    /// blocking the run. A closed file in no listed directory (a signing key or journal kept
    /// elsewhere; any credential under a CSC profile, which lists nothing) gets no stand-in: no
    /// program looks for its configuration where it cannot list, and a mount namespace costs
    /// every run about 0.3 ms (docs/benchmarks.md).
    pub convenience: Vec<PathBuf>,
    /// Read-only paths strictly beneath a writable root, kept by the mount namespace and the
    /// write broker instead of by granting the root around them (`protect.rs` mounts each one
    /// that exists read-only, and the broker refuses to make one that does not, to rename a
    /// directory on its way or to re-point a link on it). Granted around, the root lost the
    /// right to make anything in it: with a hooks directory of the user's global git
    /// configuration in the workspace, no new file could be made at its top (red-team round
    /// twenty-two), and so with a dotfiles repository the home links into. Empty where the
    /// kernel cannot run the broker.
    pub kept: Vec<PathBuf>,
}

impl Holes {
    /// The envelope's closed and read-only paths as they are (the builder already added each
    /// one's resolved form, so a run does not resolve them again), and which of the closed ones
    /// that exist are mounted over: beneath one of `roots`, a directory or a file, so the root
    /// keeps its rights instead of being granted around it; elsewhere, a file in a listed
    /// directory.
    ///
    /// A closed directory beneath read-only roots only is granted around instead when that takes
    /// few rules ([`GRANT_AROUND_INSTEAD_OF_MOUNT`]): nothing can be created under a root the
    /// command cannot write, so a list-only path down to the hole and a rule for each entry beside
    /// it close it as well as a mount, without the mount namespace (about 0.3 ms a run). A closed
    /// file keeps its stand-in there, so that a search through the scope reads it as empty.
    pub(crate) fn of(envelope: &Envelope, roots: &[&Path], write_roots: &[&Path]) -> Holes {
        let mut mounted = Vec::new();
        let mut convenience = Vec::new();
        for p in &envelope.never {
            let beneath_root = roots.iter().any(|r| strictly_beneath(p, r));
            let listed = envelope.list.iter().any(|l| within(p, l));
            if !beneath_root && !listed {
                continue;
            }
            match std::fs::symlink_metadata(p) {
                Ok(m)
                    if beneath_root
                        && m.is_dir()
                        && !write_roots.iter().any(|r| strictly_beneath(p, r))
                        && few_entries_around(p, roots) => {}
                Ok(m) if beneath_root && (m.is_file() || m.is_dir()) => mounted.push(p.clone()),
                Ok(m) if m.is_file() => convenience.push(p.clone()),
                _ => {}
            }
        }
        let read_only = normalized(&envelope.read_only);
        // Not in a cache: a cache's own layer is no place the protection is sought.
        let caches = normalized(&envelope.caches);
        let beneath_write_root = |p: &&PathBuf| {
            write_roots
                .iter()
                .any(|r| strictly_beneath(p, r) && !caches.iter().any(|c| within(r, c)))
                && !caches.iter().any(|c| within(p, c))
        };
        let any = read_only.iter().any(|p| beneath_write_root(&p));
        let kept = if any && crate::broker::unavailable().is_none() {
            read_only
                .iter()
                .filter(beneath_write_root)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        Holes {
            closed: normalized(&envelope.never),
            read_only,
            mounted: normalized(&mounted),
            convenience,
            kept,
        }
    }

    /// The read-only paths a write rule must be granted around: those not [`Holes::kept`].
    fn read_only_granted_around(&self) -> impl Iterator<Item = &PathBuf> {
        self.read_only.iter().filter(|p| !self.kept.contains(p))
    }

    /// The holes a rule with `access` on `path` would cover (strictly beneath it) and that no
    /// mount covers: the rule must be granted around them.
    fn beneath(&self, path: &Path, access: Access) -> Vec<&PathBuf> {
        if access == Access::List {
            // Listing may sit above anything: names are not contents.
            return Vec::new();
        }
        let covers = |n: &&PathBuf| within(n, path) && n.as_path() != path;
        let mut v: Vec<&PathBuf> = self
            .closed
            .iter()
            .filter(covers)
            .filter(|n| !self.hidden_by_mount(n))
            .collect();
        if access == Access::Write {
            v.extend(self.read_only_granted_around().filter(covers));
            v.extend(self.mounted.iter().filter(|m| self.movable_under(m, path)));
        }
        v
    }

    /// Whether a write rule on `path` would let a command move the mounted hole `mounted` away
    /// from its name: `mounted` lies two or more levels beneath `path`, so a directory between
    /// them could be renamed (the mount point itself cannot be, EBUSY; a directory holding one
    /// can, and outside the run the real file then sits under the new name, where the next run
    /// does not close it). Such a rule is granted around the hole down to the hole's parent. A
    /// hole inside another mounted one is hidden with it and moves nowhere.
    fn movable_under(&self, mounted: &Path, path: &Path) -> bool {
        let nested = self
            .mounted
            .iter()
            .any(|outer| outer.as_path() != mounted && within(mounted, outer));
        !nested
            && mounted
                .parent()
                .is_some_and(|parent| within(parent, path) && parent != path)
    }

    /// Whether a stand-in mounted over `closed` or over a directory above it hides it: a closed
    /// path inside another mounted one (a secret store inside cordon's home, which may not exist
    /// yet) needs no granting around.
    fn hidden_by_mount(&self, closed: &Path) -> bool {
        self.mounted.iter().any(|m| within(closed, m))
    }

    /// Whether a hole lies strictly beneath `path` that a cache layer over it (one rule for the
    /// whole overlay) would open: a read-only path, or a closed one that exists and has no
    /// stand-in mounted over it. A stand-in is mounted over the overlay's own path and holds
    /// there; a closed path that does not exist could only be made in the layer, which the
    /// user's own tools never read.
    pub(crate) fn unlayerable_beneath(&self, path: &Path) -> bool {
        let beneath = |n: &&PathBuf| within(n, path) && n.as_path() != path;
        self.read_only.iter().any(|n| beneath(&n))
            || self
                .closed
                .iter()
                .filter(beneath)
                .any(|n| !self.hidden_by_mount(n) && std::fs::symlink_metadata(n).is_ok())
    }

    /// `Err(NeverGranted)` when a rule with `access` on `path` would open a hole itself.
    fn refuse(&self, path: &Path, access: Access) -> Result<(), Error> {
        if access == Access::List {
            return Ok(());
        }
        refuse_if_never(path, &self.closed)?;
        if matches!(access, Access::Write | Access::Device) {
            refuse_if_never(path, &self.read_only)?;
        }
        Ok(())
    }
}

/// How many entries at most a closed directory beneath read-only roots may have beside it, on
/// the way down from each root that holds it, to be granted around rather than mounted over. An
/// entry granted on its own costs an open and a Landlock rule (a few microseconds); the mount
/// namespace costs about 0.3 ms a run.
const GRANT_AROUND_INSTEAD_OF_MOUNT: usize = 64;

/// Whether `path` lies beneath `root` and is not `root` itself.
fn strictly_beneath(path: &Path, root: &Path) -> bool {
    path.starts_with(root) && path != root
}

/// Whether granting around `hole` takes at most [`GRANT_AROUND_INSTEAD_OF_MOUNT`] rules: the
/// entries of every directory from each root that holds it down to its parent.
fn few_entries_around(hole: &Path, roots: &[&Path]) -> bool {
    let mut entries = 0usize;
    for root in roots.iter().filter(|r| strictly_beneath(hole, r)) {
        let mut dir = hole.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(root)) {
            let Ok(listing) = std::fs::read_dir(d) else {
                return false;
            };
            entries += listing.take(GRANT_AROUND_INSTEAD_OF_MOUNT + 1).count();
            if entries > GRANT_AROUND_INSTEAD_OF_MOUNT {
                return false;
            }
            dir = d.parent();
        }
    }
    true
}

/// What [`never_forms`] learnt of each path it looked up, so a home's never paths, which share a
/// few directories (`~`, `~/.config`), look each one up once.
pub(crate) type Resolved = std::collections::HashMap<PathBuf, Lookup>;

#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    /// It exists, and this is its real path.
    Real(PathBuf),
    /// It does not exist, and nothing on the way to where it stops is a link: as written, it is
    /// already its only form.
    AbsentWithoutLinks,
    /// Neither is known (a link on the way to a path that does not exist): its directory tells.
    Unknown,
}

impl Lookup {
    fn of(path: &Path) -> Lookup {
        match crate::resolve::open_without_links(path) {
            Some(Ok(_)) => Lookup::Real(path.to_path_buf()),
            Some(Err(nix::Error::ENOENT)) => Lookup::AbsentWithoutLinks,
            Some(Err(_)) => Lookup::Unknown,
            // A link on the way: the kernel follows it and names where it leads.
            None => match crate::resolve::open_and_name(path) {
                Ok((_, real)) => Lookup::Real(real),
                Err(_) => Lookup::Unknown,
            },
        }
    }
}

/// A never path as written and as it resolves (the longest existing prefix resolved, the rest
/// appended), so a symlink on the way cannot hide it.
pub(crate) fn never_forms(path: &Path, resolved: &mut Resolved) -> Vec<PathBuf> {
    let mut forms = vec![path.to_path_buf()];
    let mut prefix = path.to_path_buf();
    let mut rest: Vec<OsString> = Vec::new();
    loop {
        let lookup = resolved
            .entry(prefix.clone())
            .or_insert_with(|| Lookup::of(&prefix));
        match lookup {
            Lookup::Real(real) => {
                let mut full = real.clone();
                full.extend(rest.iter().rev());
                if !lists(&forms, &full) {
                    forms.push(full);
                }
                break;
            }
            Lookup::AbsentWithoutLinks => break,
            Lookup::Unknown => {}
        }
        match (prefix.file_name().map(ToOwned::to_owned), prefix.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                prefix = parent.to_path_buf();
            }
            _ => break,
        }
    }
    forms
}

/// `Err(NeverGranted)` when `path` is a never path or lies inside one. Both in components form:
/// a real path, and never paths as the builder and [`Holes`] keep them.
pub(crate) fn refuse_if_never(path: &Path, never: &[PathBuf]) -> Result<(), Error> {
    match never.iter().find(|n| within(path, n)) {
        Some(n) => Err(Error::NeverGranted {
            path: path.to_path_buf(),
            never: n.clone(),
        }),
        None => Ok(()),
    }
}

/// A grant beyond the envelope, made on a file the caller resolved (and judged) with
/// [`crate::resolve_real`]. A grant that is or lies inside a never path refuses the run; one that
/// holds a never path is granted around it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub target: RealPath,
    pub access: GrantAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantAccess {
    /// Read and execute.
    Read,
    /// Read, write, create, remove.
    Write,
}

/// The rights one Landlock rule carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// List a directory's entries (Landlock `ReadDir`), nothing more.
    List,
    Read,
    Write,
    Device,
}

/// One Landlock rule, on a held descriptor.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub target: RealPath,
    pub access: Access,
}

/// Appends the rules that grant `root` with `access` except every hole beneath it: the root and
/// each directory on the way to a hole become list-only, every other entry gets `access` on its
/// own, a read-only hole gets read. `budget` counts the entries still allowed to be granted one
/// by one.
pub(crate) fn carve(
    root: RealPath,
    access: Access,
    holes: &Holes,
    budget: &mut usize,
    rules: &mut Vec<Rule>,
    carved: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    holes.refuse(root.path(), access)?;
    let below = holes.beneath(root.path(), access);
    if below.is_empty() || !root.is_dir() {
        rules.push(Rule {
            target: root,
            access,
        });
        return Ok(());
    }
    carved.push(root.path().to_path_buf());
    let listing = PathBuf::from(format!("/proc/self/fd/{}", root.as_fd().as_raw_fd()));
    let entries = std::fs::read_dir(&listing).map_err(|e| {
        Error::io(
            format!(
                "listing {} to grant around a never path",
                root.path().display()
            ),
            e,
        )
    })?;
    let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        let path = root.path().join(&name);
        if holes.closed.contains(&path) {
            continue;
        }
        // A symlink is not granted: it is followed when used, and judged where it lands.
        let Some(child) = root.child(&name)? else {
            continue;
        };
        if *budget == 0 {
            return Err(Error::Envelope(format!(
                "granting around the never paths in {} needs more than {MAX_CARVED_ENTRIES} rules; make a project directory the workspace",
                root.path().display()
            )));
        }
        *budget -= 1;
        let child_access = if holes.read_only.contains(&path) {
            Access::Read
        } else {
            access
        };
        carve(child, child_access, holes, budget, rules, carved)?;
    }
    rules.push(Rule {
        target: root,
        access: Access::List,
    });
    Ok(())
}

/// Each path as its components (no repeated or trailing `/`, no `.`), the form [`within`] needs.
fn normalized(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().map(|p| p.components().collect()).collect()
}

/// `path.starts_with(root)` for paths in their components' form, as the holes are kept
/// ([`normalized`]) and the kernel names a real path: on bytes, where `Path::starts_with`
/// compares component by component. Checking every rule against every hole that way cost a
/// hardened run about a quarter of a millisecond.
fn within(path: &Path, root: &Path) -> bool {
    let (path, root) = (path.as_os_str().as_bytes(), root.as_os_str().as_bytes());
    path.starts_with(root)
        && (path.len() == root.len() || root.ends_with(b"/") || path[root.len()] == b'/')
}

/// The last line of defence: no rule may open a hole, on it or above it (above a closed path
/// that a mount covers is allowed: the mount hides it; a write rule only directly above it, so
/// that no directory holding the mount point can be renamed).
pub(crate) fn check_rules(rules: &[Rule], holes: &Holes) -> Result<(), Error> {
    for rule in rules {
        let path = rule.target.path();
        let (on, above): (Vec<&PathBuf>, Vec<&PathBuf>) = match rule.access {
            Access::List => (Vec::new(), Vec::new()),
            Access::Read => (holes.closed.iter().collect(), holes.closed.iter().collect()),
            // A rule on a kept path is as wrong as on any read-only one; one above it is kept
            // by the mount and the broker.
            Access::Write | Access::Device => (
                holes.closed.iter().chain(&holes.read_only).collect(),
                holes
                    .closed
                    .iter()
                    .chain(holes.read_only_granted_around())
                    .collect(),
            ),
        };
        let movable = match rule.access {
            Access::Write => holes.mounted.iter().find(|m| holes.movable_under(m, path)),
            _ => None,
        };
        let hole = on
            .into_iter()
            .find(|h| within(path, h))
            .or_else(|| {
                above
                    .into_iter()
                    .filter(|h| !holes.hidden_by_mount(h))
                    .find(|h| within(h, path))
            })
            .or(movable);
        if let Some(hole) = hole {
            return Err(Error::NeverGranted {
                path: path.to_path_buf(),
                never: hole.clone(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn canon(p: &Path) -> PathBuf {
        std::fs::canonicalize(p).unwrap()
    }

    /// A home with a workspace, credentials, cordon's home and a start-up file.
    fn home() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let h = canon(t.path());
        for d in [
            "project/src",
            ".ssh",
            ".config/cordon/keys",
            ".config/nvim",
            ".cache",
        ] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        for f in [
            ".ssh/id_ed25519",
            ".bashrc",
            "notes.txt",
            ".config/cordon/policy.yaml",
        ] {
            std::fs::write(h.join(f), "x").unwrap();
        }
        (t, h)
    }

    fn holes(h: &Path) -> Holes {
        Holes {
            closed: vec![h.join(".ssh"), h.join(".config/cordon")],
            read_only: vec![h.join(".bashrc"), h.join(".bash_profile")],
            mounted: Vec::new(),
            convenience: Vec::new(),
            kept: Vec::new(),
        }
    }

    fn rules_for(
        root: &Path,
        access: Access,
        holes: &Holes,
    ) -> (Vec<(PathBuf, Access)>, Vec<PathBuf>) {
        let mut rules = Vec::new();
        let mut carved = Vec::new();
        let mut budget = MAX_CARVED_ENTRIES;
        let real = resolve_real(root, "/").unwrap();
        carve(real, access, holes, &mut budget, &mut rules, &mut carved).unwrap();
        check_rules(&rules, holes).unwrap();
        let mut v: Vec<_> = rules
            .into_iter()
            .map(|r| (r.target.path().to_path_buf(), r.access))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        (v, carved)
    }

    #[test]
    fn a_root_without_holes_is_one_rule() {
        let (_t, h) = home();
        let (rules, carved) = rules_for(&h.join("project"), Access::Write, &holes(&h));
        assert_eq!(rules, vec![(h.join("project"), Access::Write)]);
        assert!(carved.is_empty());
    }

    #[test]
    fn a_home_workspace_is_granted_around_its_holes() {
        let (_t, h) = home();
        std::os::unix::fs::symlink(h.join(".ssh"), h.join("keys-link")).unwrap();
        let (rules, carved) = rules_for(&h, Access::Write, &holes(&h));
        assert_eq!(
            rules,
            vec![
                (h.clone(), Access::List),
                (h.join(".bashrc"), Access::Read),
                (h.join(".cache"), Access::Write),
                (h.join(".config"), Access::List),
                (h.join(".config/nvim"), Access::Write),
                (h.join("notes.txt"), Access::Write),
                (h.join("project"), Access::Write),
            ]
        );
        assert_eq!(carved, vec![h.clone(), h.join(".config")]);
        // Read access is not carved for read-only holes, only for closed ones.
        let (rules, _) = rules_for(&h, Access::Read, &holes(&h));
        assert!(rules.contains(&(h.join(".bashrc"), Access::Read)));
        assert!(!rules.iter().any(|(p, _)| p == &h.join(".ssh")));
    }

    /// Round twenty-two: a read-only path the mount namespace and the write broker keep takes
    /// no granting around, so the root keeps the right to make new entries; a rule on the path
    /// itself is still refused.
    #[test]
    fn a_kept_read_only_path_is_not_granted_around() {
        let (_t, h) = home();
        let mut holes = holes(&h);
        holes.closed.clear();
        holes.kept = holes.read_only.clone();
        let (rules, carved) = rules_for(&h, Access::Write, &holes);
        assert_eq!(rules, vec![(h.clone(), Access::Write)]);
        assert!(carved.is_empty());
        let on_it = Rule {
            target: resolve_real(h.join(".bashrc"), "/").unwrap(),
            access: Access::Write,
        };
        assert!(check_rules(&[on_it], &holes).is_err());
        // Control: not kept, the same root is granted around it.
        holes.kept.clear();
        let (rules, carved) = rules_for(&h, Access::Write, &holes);
        assert!(rules.contains(&(h.clone(), Access::List)), "{rules:?}");
        assert_eq!(carved, vec![h.clone()]);
    }

    #[test]
    fn a_closed_path_beneath_a_mounted_one_needs_no_granting_around() {
        let (_t, h) = home();
        let mut holes = holes(&h);
        // cordon's home is mounted over; a secret store inside it that does not exist yet is
        // hidden by that mount, so the home keeps one write rule.
        holes.closed.push(h.join(".config/cordon/secrets/store"));
        holes.mounted.push(h.join(".config/cordon"));
        let (rules, carved) = rules_for(&h.join(".config"), Access::Write, &holes);
        assert_eq!(rules, vec![(h.join(".config"), Access::Write)]);
        assert!(carved.is_empty());
        // Control: without the mount, both closed paths are granted around.
        holes.mounted.clear();
        let (rules, carved) = rules_for(&h.join(".config"), Access::Write, &holes);
        assert!(
            rules.contains(&(h.join(".config"), Access::List)),
            "{rules:?}"
        );
        assert_eq!(carved, vec![h.join(".config")]);
    }

    #[test]
    fn a_root_inside_a_hole_is_refused() {
        let (_t, h) = home();
        let holes = holes(&h);
        let mut budget = MAX_CARVED_ENTRIES;
        let mut try_carve = |p: PathBuf, access| {
            let real = resolve_real(p, "/").unwrap();
            carve(
                real,
                access,
                &holes,
                &mut budget,
                &mut Vec::new(),
                &mut Vec::new(),
            )
        };
        let err = try_carve(h.join(".config/cordon/keys"), Access::Read).unwrap_err();
        assert!(matches!(err, Error::NeverGranted { .. }), "{err}");
        let err = try_carve(h.join(".bashrc"), Access::Write).unwrap_err();
        assert!(matches!(err, Error::NeverGranted { .. }), "{err}");
        // Positive controls: a read-only path may be read, and listing may sit above anything.
        try_carve(h.join(".bashrc"), Access::Read).unwrap();
        try_carve(h.join(".ssh"), Access::List).unwrap();
    }

    #[test]
    fn the_check_refuses_a_rule_above_a_hole() {
        let (_t, h) = home();
        let rule = |access| Rule {
            target: resolve_real(&h, "/").unwrap(),
            access,
        };
        let err = check_rules(&[rule(Access::Read)], &holes(&h)).unwrap_err();
        assert!(matches!(err, Error::NeverGranted { .. }), "{err}");
        check_rules(&[rule(Access::List)], &holes(&h)).unwrap();
    }

    #[test]
    fn the_builder_resolves_and_refuses_a_workspace_inside_cordons_home() {
        let (_t, h) = home();
        std::os::unix::fs::symlink(h.join(".config"), h.join("cfg")).unwrap();
        let e = Envelope::builder(h.join("project"))
            .home(&h)
            .cordon_home(h.join("cfg/cordon"))
            .never([h.join(".ssh")])
            .read_only([h.join(".bashrc"), h.join(".bash_profile")])
            .caches([h.join(".cache"), h.join(".npm"), h.join(".ssh/cache")])
            .build()
            .unwrap();
        assert_eq!(e.write, vec![h.join("project"), h.join(".cache")]);
        // The caches are told apart from the workspace: the search for protected names skips them.
        assert_eq!(e.caches, vec![h.join(".cache")]);
        assert_eq!(e.list, vec![h.clone()]);
        // Existing read-only paths are readable.
        assert_eq!(e.read, vec![h.join(".bashrc")]);
        // The never path through a symlink is kept in both forms.
        assert!(e.never.contains(&h.join("cfg/cordon")));
        assert!(e.never.contains(&h.join(".config/cordon")));
        // An absent path resolves through its existing prefix.
        assert!(e.read_only.contains(&h.join(".bash_profile")));
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
        let err = Envelope::builder(h.join("cfg/cordon/keys"))
            .cordon_home(h.join(".config/cordon"))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::NeverGranted { .. }), "{err}");
        let err = Envelope::builder(h.join("notes.txt")).build().unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn an_envelope_without_a_workspace_writes_nothing_but_keeps_its_holes() {
        let (_t, h) = home();
        let e = Envelope::without_workspace()
            .cordon_home(h.join(".config/cordon"))
            .never([h.join(".ssh")])
            .read_only([h.join(".bashrc")])
            .build()
            .unwrap();
        assert!(e.write.is_empty() && e.read == vec![h.join(".bashrc")] && e.list.is_empty());
        assert!(e.never.contains(&h.join(".ssh")) && e.never.contains(&h.join(".config/cordon")));
        // Positive control: the same builder with a workspace writes it.
        let e = Envelope::builder(h.join("project")).build().unwrap();
        assert_eq!(e.write, vec![h.join("project")]);
    }

    #[test]
    fn within_is_starts_with_for_paths_in_their_components_form() {
        let paths = [
            "/", "/a", "/a/b", "/ab", "/a/bc", "/a/b/c", "/b", "/a/..", "/a/../b", "/.a", "/a.b",
        ];
        for path in paths {
            for root in paths {
                let (path, root) = (Path::new(path), Path::new(root));
                assert_eq!(
                    within(path, root),
                    path.starts_with(root),
                    "{path:?} in {root:?}"
                );
            }
        }
        // Written forms are normalized first: `//` and a trailing `/` or `.` disappear.
        let holes = normalized(&["/h//.ssh/".into(), "/h/./.aws".into()]);
        assert_eq!(holes, [PathBuf::from("/h/.ssh"), PathBuf::from("/h/.aws")]);
        assert!(within(Path::new("/h/.ssh/id_rsa"), &holes[0]));
    }

    #[test]
    fn never_forms_resolve_the_existing_prefix() {
        let (_t, h) = home();
        std::os::unix::fs::symlink(h.join(".config"), h.join("cfg")).unwrap();
        let forms = never_forms(&h.join("cfg/gh/hosts.yml"), &mut Resolved::new());
        assert_eq!(
            forms,
            vec![h.join("cfg/gh/hosts.yml"), h.join(".config/gh/hosts.yml")]
        );
        // No link on the way, existing or not: the path as written is its only form.
        let mut resolved = Resolved::new();
        assert_eq!(
            never_forms(&h.join(".config/gh/hosts.yml"), &mut resolved),
            [h.join(".config/gh/hosts.yml")]
        );
        assert_eq!(
            never_forms(&h.join(".config"), &mut resolved),
            [h.join(".config")]
        );
        // A dangling link: its own name, and where it would lead is not guessed; a link to a
        // directory that exists: both.
        std::os::unix::fs::symlink(h.join("nowhere"), h.join("dangling")).unwrap();
        assert_eq!(
            never_forms(&h.join("dangling/x"), &mut resolved),
            [h.join("dangling/x")]
        );
        assert_eq!(
            never_forms(&h.join("cfg"), &mut resolved),
            [h.join("cfg"), h.join(".config")]
        );
    }
}
