//! What a command leaves in a protected repository's history for the user's own git to write
//! into the work tree later.
//!
//! The sandbox keeps a project's protected names (`.husky`, `.claude`, `.vscode`, …) read-only in
//! the work tree, and, for a workspace that is a subdirectory of a repository, the rest of that
//! repository's work tree too. But objects, the index and refs must stay writable for `git
//! commit` to work. So a command can commit any content at those paths with git's plumbing
//! (`hash-object`, `update-index --cacheinfo`, `commit-tree`, `update-ref`) without touching the
//! work tree, and the user's next ordinary `git stash`, `checkout .`, `reset --hard`, `rebase
//! --abort` or branch switch writes it there, outside any sandbox (red-team round sixteen: a
//! `.husky/pre-commit` committed so ran on the user's next `git commit`; round seventeen reached
//! it through a stash's untracked-files parent, a stopped rebase, `ORIG_HEAD`, a split index, a
//! ref git reads and cordon's parser did not). Porcelain cannot produce such a change in a
//! hardened run: it would have to write the path, which fails.
//!
//! So when a run starts, each protected repository's refs are read, with every commit git's
//! state files name (`ORIG_HEAD`, `MERGE_HEAD`, `FETCH_HEAD`, a stopped rebase's or
//! cherry-pick's files): the commits the repository knew. When it ends, every commit reachable
//! from what the run moved or added (refs and those files) and unknown before is a commit the
//! run made, and each that changes a *controlled* path (a protected name at the work tree's root
//! or a writable root's, or, for a subdirectory workspace, any path outside it) is checked: the
//! content it sets must be the work tree's (which the run could not change) or `HEAD`'s as the
//! run began. A commit that sets anything else is refused: every ref that reaches it is put back
//! (or removed, if the run made it), its tip kept under `refs/cordon/refused/` for the user to
//! look at, and a state file or a stopped rebase that names it is moved aside. A new or moved
//! `refs/replace/*` ref, which makes git read one object as another everywhere, is always put
//! back. Index entries at controlled paths that match neither the work tree nor `HEAD` are reset
//! to `HEAD`'s (`git reset -- PATH`). A gitlink, in a new commit or in the index, to a commit that
//! a repository inside the work tree (a submodule) refuses by its own check is refused too: the
//! user's `git submodule update` would check that commit out there, whether or not a ref reaches
//! it. What cannot be checked counts as refused.
//!
//! The refs are read from the files where that is cheap and unambiguous (a loose ref that is an
//! object id or names a ref under `refs/`, `packed-refs`); anything else (`reftable`, a ref git
//! would read and this parser does not, more loose refs than it reads) is listed by git. git is
//! run outside the sandbox on the repository's own (protected) configuration, with no hook
//! (`core.hooksPath=/dev/null`), no monitor, no replace objects, and neither the system's nor the
//! user's global configuration. It is never a git the command could have written: the first on
//! the `PATH` outside every writable root, with a `PATH` that leaves those roots out for what it
//! starts (a filter driver). A submodule's git directory is checked against its own work tree
//! (its `core.worktree`). Not covered: an object file the command rewrote in place (git does not
//! check a loose subtree's hash when it reads it), and linked worktrees' own `HEAD` and index.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::git_index::{hex, Index};

/// The most ref files read from one repository's `refs/` before git is asked instead.
const MAX_LOOSE_REFS: usize = 100_000;

/// The largest ref file, `packed-refs` or state file read.
const MAX_REF_FILE: u64 = 64 << 20;

/// The largest protected file hashed to compare with an entry; a larger one matches nothing.
const MAX_HASHED: u64 = 16 << 20;

/// The most commits one run may make that are checked; past it, what moved is put back.
const MAX_NEW_COMMITS: usize = 2_000;

/// Where refused commits are kept; no commit there counts as known.
const REFUSED_PREFIX: &str = "refs/cordon/refused/";

/// git's state files that name commits outside `refs/`, which `git reset ORIG_HEAD`, `merge
/// --abort`, `cherry-pick --continue` and the like move to.
const STATE_FILES: &[&str] = &[
    "ORIG_HEAD",
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "AUTO_MERGE",
    "BISECT_HEAD",
    "BISECT_START",
    "BISECT_EXPECTED_REV",
    "MERGE_AUTOSTASH",
    "REBASE_HEAD",
];

/// The most files read from one state directory; a state directory with more cannot be checked
/// and is moved aside (red-team round eighteen hid a todo among 40,000 files).
const MAX_STATE_FILES: usize = 1_000;

/// A stopped rebase's, cherry-pick's or revert's state, whose files name the commits `--abort`
/// and `--continue` move to (short ids in a todo list among them).
const STATE_DIRS: &[&str] = &["rebase-merge", "rebase-apply", "sequencer"];

/// One protected repository as the run found it.
pub(crate) struct AtStart {
    /// The git program the checks run, found on the `PATH` outside every writable root: a `git`
    /// the command could have written is never run outside the sandbox.
    git: PathBuf,
    /// The `PATH` git and what it starts (a filter driver) get: the caller's, less every relative
    /// directory and every one inside a writable root.
    path: std::ffi::OsString,
    git_dir: PathBuf,
    work_tree: PathBuf,
    /// The writable roots inside the work tree, relative to it (the empty path: all of it).
    writable: Vec<PathBuf>,
    refs: BTreeMap<String, String>,
    /// The commits the repository knew: its refs' (but cordon's own refused ones) and those its
    /// state files name.
    known: BTreeSet<String>,
    index: Option<(u64, u64, i64, i64)>,
    /// The index file as the run began, when it is small enough to read at every run
    /// ([`MAX_STAGED_INDEX`]): parsed only when something changed, for a person's staged work,
    /// which a commit of the run may carry and the index may keep.
    index_at_start: Option<Vec<u8>>,
    /// The git directories under this one's `modules` when the run began (a `.git` only).
    modules: BTreeSet<PathBuf>,
    /// The linked worktrees' directories under this one's `worktrees` when the run began.
    worktrees: BTreeSet<PathBuf>,
    /// When the run may write this git directory and no part of its work tree (the workspace is
    /// a linked worktree of it): `HEAD` and the branch it names as the run began, whose commits
    /// are judged at every path, as the work tree holds them.
    checked_out_whole: Option<Vec<String>>,
    /// The `HEAD` file as the run began.
    head_file: Option<Vec<u8>>,
    /// Each reflog's size and change time as the run began; `None` when there were more than
    /// [`MAX_REFLOG_BYTES`] to read.
    reflogs: Option<BTreeMap<PathBuf, Stamp>>,
    /// Files of the work tree the run's command sees an empty stand-in for (credentials),
    /// relative to it: a commit that records them records what the command saw, not the file,
    /// and the user's next checkout would write that over the file (red-team round twenty-two
    /// committed an empty `.env` with `git add -f`). Judged like the protected names.
    stood_in: Vec<PathBuf>,
}

/// A file's size and change time.
type Stamp = (u64, i64, i64);

/// The most reflog bytes read when a run starts (their commits count as known).
const MAX_REFLOG_BYTES: u64 = 16 << 20;

/// The largest index whose entries are read when a run starts.
const MAX_STAGED_INDEX: u64 = 8 << 20;

/// The work tree of the git directory `git_dir`: its parent for a `.git` directory, the
/// `core.worktree` its (protected) config names for a submodule's under `.git/modules`; `None`
/// for a linked worktree's, whose own `HEAD` and index are not compared.
fn work_tree_of(git_dir: &Path) -> Option<PathBuf> {
    if git_dir.file_name() == Some(OsStr::new(".git")) {
        return git_dir.parent().map(Path::to_path_buf);
    }
    let config = read_small(&git_dir.join("config"))?;
    let worktree = crate::repos::git_config_entries(&config)
        .into_iter()
        .rfind(|e| e.section == "core" && e.sub.is_none() && e.key == "worktree")?;
    std::fs::canonicalize(git_dir.join(worktree.value)).ok()
}

/// Reads the refs of each git directory in `git_dirs` with a work tree of its own (a `.git`
/// directory, a submodule's; linked worktrees' are left out), for [`settle`] to compare with
/// after the run.
pub(crate) fn record(
    git_dirs: &[PathBuf],
    write_roots: &[PathBuf],
    stood_in: &[PathBuf],
) -> Vec<AtStart> {
    let Some(git) = trusted_git(write_roots) else {
        return Vec::new();
    };
    let path = trusted_path(write_roots);
    git_dirs
        .iter()
        .filter_map(|git_dir| {
            let work_tree = work_tree_of(git_dir)?;
            let refs = all_refs(&git, &path, git_dir, &work_tree)?;
            let mut writable: Vec<PathBuf> = Vec::new();
            for root in write_roots {
                // The git directory is no part of the checkout, nor is another checkout inside
                // it (a linked worktree, a submodule, a nested repository: working day eighteen
                // had every commit of a worktree workspace judged as a subdirectory's).
                if root.starts_with(git_dir) || inside_another_checkout(&work_tree, root) {
                    continue;
                }
                if let Ok(rel) = root.strip_prefix(&work_tree) {
                    if !writable.iter().any(|p| p == rel) {
                        writable.push(rel.to_path_buf());
                    }
                }
            }
            // A workspace that is a linked worktree (or inside one) is granted this git directory
            // and no part of this work tree: the branch checked out here is judged whole, what
            // the user's `reset --hard` or `stash` here would write, while the worktree's own
            // branch, like any other, is judged at the protected names.
            let granted = write_roots.iter().any(|r| git_dir.starts_with(r));
            let root_writable = writable.iter().any(|p| p.as_os_str().is_empty());
            let checked_out_whole = (granted && !root_writable && writable.is_empty())
                .then(|| checked_out_ref(git_dir));
            let mut start = AtStart {
                git: git.clone(),
                path: path.clone(),
                index: stamp(&git_dir.join("index")),
                git_dir: git_dir.clone(),
                work_tree,
                writable,
                known: BTreeSet::new(),
                refs,
                index_at_start: read_index_if_small(git_dir),
                modules: module_git_dirs(git_dir),
                worktrees: worktree_dirs(git_dir),
                checked_out_whole,
                head_file: read_small(&git_dir.join("HEAD")),
                reflogs: None,
                stood_in: Vec::new(),
            };
            start.stood_in = stood_in
                .iter()
                .filter(|file| !inside_another_checkout(&start.work_tree, file))
                .filter_map(|file| file.strip_prefix(&start.work_tree).ok())
                .map(Path::to_path_buf)
                .collect();
            let named = Repository::new(&start, &[]).state_commits();
            // Only the stash's reflog is read now (its entries are the user's stashes, and `git
            // stash drop` rewrites it); the others are stamped, and what a run appends to them is
            // read after it (reading a long `logs/HEAD` at every run cost milliseconds).
            let (reflogs, logged) = match reflog_files(git_dir) {
                Some(files) => (
                    Some(files.into_iter().collect()),
                    oids_of_file(&git_dir.join("logs/refs/stash"), 0),
                ),
                None => (None, Vec::new()),
            };
            start.reflogs = reflogs;
            // Nor remote-tracking refs': the after-run check leaves those alone (a fetch brings
            // others' commits), so a commit a run kept under one would be known to the next run
            // (red-team round twenty).
            start.known = start
                .refs
                .iter()
                .filter(|(name, _)| {
                    !name.starts_with("refs/cordon/")
                        && !name.starts_with("refs/remotes/")
                        && !name.starts_with("refs/notes/")
                })
                .map(|(_, oid)| oid.clone())
                .chain(named)
                .chain(logged)
                .collect();
            Some(start)
        })
        .collect()
}

/// After the run: puts back what it made at controlled paths in each repository's refs, state
/// files and index (module docs). Returns the report's notes.
pub(crate) fn settle(repositories: &[AtStart], names: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    for start in repositories {
        // The repositories inside this one's work tree (its submodules among them), whose own
        // checks judge the commits its gitlinks name.
        let inside: Vec<&AtStart> = repositories
            .iter()
            .filter(|s| s.work_tree != start.work_tree && s.work_tree.starts_with(&start.work_tree))
            .collect();
        let repo = Repository::new(start, names).with_inside(inside);
        let Some(end) = all_refs(&start.git, &start.path, &start.git_dir, &start.work_tree) else {
            notes.push(repo.note(
                "its refs could not be read after the run, so what it committed was not checked",
            ));
            continue;
        };
        let moved: Vec<(String, String)> = end
            .into_iter()
            .filter(|(name, oid)| start.refs.get(name) != Some(oid) && !unchecked(name))
            .collect();
        let (logged, reflog_note) = repo.changed_reflogs();
        notes.extend(reflog_note);
        // Each reflog's appended part read once: the ids its lines give, and the commits the
        // names its checkout lines give resolve to (`git checkout -` goes where "checkout:
        // moving from NAME" says, by name; red-team round twenty-one named a notes ref).
        let appended: Vec<(PathBuf, Vec<String>)> = logged
            .iter()
            .map(|(p, from)| {
                let text = appended_text(p, *from);
                let by_name = names_in_reflog(&text)
                    .into_iter()
                    .filter_map(|name| repo.resolve_commit(&name));
                (
                    p.clone(),
                    oids_in_text(&text).into_iter().chain(by_name).collect(),
                )
            })
            .collect();
        let state = repo.state_commits();
        let unknown = |oid: &String| !start.known.contains(oid);
        let named: BTreeSet<String> = state
            .iter()
            .chain(appended.iter().flat_map(|(_, oids)| oids))
            .filter(|oid| unknown(oid))
            .cloned()
            .collect();
        // What the work tree's own checkout leads to, when it is judged whole: git's state
        // files, and what the run appended to its refs' reflogs.
        let named_whole: BTreeSet<String> = match &start.checked_out_whole {
            Some(checked_out) => {
                let logs: Vec<PathBuf> = checked_out
                    .iter()
                    .map(|name| start.git_dir.join("logs").join(name))
                    .collect();
                state
                    .iter()
                    .chain(
                        appended
                            .iter()
                            .filter(|(p, _)| logs.contains(p))
                            .flat_map(|(_, oids)| oids),
                    )
                    .filter(|oid| unknown(oid))
                    .cloned()
                    .collect()
            }
            None => BTreeSet::new(),
        };
        notes.extend(repo.set_aside_unverifiable_state());
        notes.extend(repo.set_aside_new_module_hooks());
        notes.extend(repo.set_aside_new_worktrees_settings());
        let index_changed = stamp(&start.git_dir.join("index")) != start.index;
        if moved.is_empty() && named.is_empty() && !index_changed {
            continue;
        }
        repo.settle(&moved, (&named, &named_whole), index_changed, &mut notes);
    }
    notes
}

struct Repository<'a> {
    start: &'a AtStart,
    names: &'a [&'a str],
    /// The repositories inside this one's work tree ([`Repository::with_inside`]).
    inside: Vec<&'a AtStart>,
    /// The index's entries at controlled paths as the run began, parsed when first needed.
    staged: std::cell::OnceCell<BTreeMap<PathBuf, String>>,
    /// The known commits the object store still holds, looked up when first needed.
    known_present: std::cell::OnceCell<Vec<String>>,
}

/// A path's entry as git would write it: whether it is executable, a link or a file, and its
/// object id. `None`: no entry.
type State = Option<(u32, String)>;

impl<'a> Repository<'a> {
    fn new(start: &'a AtStart, names: &'a [&'a str]) -> Repository<'a> {
        Repository {
            start,
            names,
            inside: Vec::new(),
            staged: std::cell::OnceCell::new(),
            known_present: std::cell::OnceCell::new(),
        }
    }

    /// The repositories inside this one's work tree: a gitlink to a commit one of them refuses
    /// is refused here too.
    fn with_inside(mut self, inside: Vec<&'a AtStart>) -> Repository<'a> {
        self.inside = inside;
        self
    }

    fn settle(
        &self,
        moved: &[(String, String)],
        (named, named_whole): (&BTreeSet<String>, &BTreeSet<String>),
        index_changed: bool,
        notes: &mut Vec<String>,
    ) {
        let tips: Vec<&String> = moved
            .iter()
            .filter(|(name, oid)| {
                name.starts_with("refs/replace/") || !self.start.known.contains(oid)
            })
            .map(|(_, oid)| oid)
            .chain(named)
            .collect();
        // A ref to a tree or a blob (a tag of one) names content git checks out without a commit
        // to judge (`git checkout TAG -- .`; round eighteen): refused as it is.
        let not_commits = self.not_commits(&tips);
        let tips: Vec<&String> = tips
            .into_iter()
            .filter(|t| !not_commits.contains(*t))
            .collect();
        // The work tree's own checkout, when the run could write none of it: its refs and git's
        // state files (what `reset --hard ORIG_HEAD` or `merge --abort` writes there) are judged
        // at every path; every other ref at the protected names.
        let (whole, named_only): (Vec<&String>, Vec<&String>) = match &self.start.checked_out_whole
        {
            Some(checked_out) => {
                let whole_refs: BTreeSet<&String> = moved
                    .iter()
                    .filter(|(name, _)| checked_out.contains(name))
                    .map(|(_, oid)| oid)
                    .chain(named_whole)
                    .collect();
                tips.iter().partition(|t| whole_refs.contains(**t))
            }
            None => (Vec::new(), tips.clone()),
        };
        let refused = self
            .refused_commits(&named_only, false)
            .and_then(|mut refused| {
                refused.extend(self.refused_commits(&whole, true)?);
                refused.extend(self.commits_linking_refused(&tips)?);
                Ok(refused)
            });
        let refused = match refused {
            Ok(refused) => refused,
            Err(why) => {
                notes.push(self.note(&format!(
                    "what the run committed could not be checked ({why}), so everything it moved is put back"
                )));
                tips.iter().map(|t| (*t).clone()).collect()
            }
        };
        // Said plainly: git printed the commit, and an agent would go on to push it (working day
        // twenty).
        let recorded = self.stood_in_recorded(&refused);
        if !recorded.is_empty() {
            let shown: Vec<String> = recorded.iter().map(|p| p.display().to_string()).collect();
            notes.push(self.note(&format!(
                "a commit recorded {} as the empty file{} the command sees in place of credentials, so it is not kept: those files were not committed (commit them outside cordon, or leave them out)",
                shown.join(", "),
                if shown.len() == 1 { "" } else { "s" }
            )));
        }
        // `HEAD` on a branch moves with it, and the branch is put back; a detached `HEAD` is a
        // ref of its own.
        let detached = read_small(&self.start.git_dir.join("HEAD"))
            .is_some_and(|head| !head.starts_with(b"ref: "));
        for (name, oid) in moved {
            if name == "HEAD" && !detached {
                continue;
            }
            let why = if name.starts_with("refs/replace/") {
                Some("it makes git read one object as another".to_string())
            } else if not_commits.contains(oid) {
                Some("it names a tree or a blob, whose content git would write into the work tree outside any sandbox".to_string())
            } else if !self.start.known.contains(oid) && self.reaches(oid, &refused) {
                Some("it leads to content at a path the run could not write, which your own git would write into the work tree outside any sandbox".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                notes.push(self.put_back(name, oid, self.start.refs.get(name), &why));
            }
        }
        for oid in named {
            if self.reaches(oid, &refused) {
                notes.extend(self.set_aside_state_naming(oid));
                notes.extend(self.drop_reflog_entries_naming(oid));
            }
        }
        if index_changed {
            self.settle_index(notes);
        }
        notes.extend(self.settle_head());
    }

    /// `HEAD` put back as the run found it when it now names what is no branch, or a branch that
    /// is gone (one the run made and this check removed): the user's next `reset --hard` there
    /// would check out a notes commit, or empty the work tree (red-team round twenty-one pointed
    /// `HEAD` at a notes ref, and through a chain of symbolic refs at a branch put back).
    fn settle_head(&self) -> Option<String> {
        let start = self.start.head_file.as_ref()?;
        let now = read_small(&self.start.git_dir.join("HEAD"))?;
        if now == *start {
            return None;
        }
        let now_text = String::from_utf8_lossy(&now);
        let target = first_line(&now_text)?.strip_prefix("ref: ")?.to_string();
        let a_branch = target.starts_with("refs/heads/")
            && self
                .git(&[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{target}^{{commit}}"),
                ])
                .is_some();
        if a_branch {
            return None;
        }
        let start_text = String::from_utf8_lossy(start);
        let start_line = first_line(&start_text)?;
        let restored = match start_line.strip_prefix("ref: ") {
            Some(branch) => self.git(&["symbolic-ref", "HEAD", branch]),
            None => self.git(&["update-ref", "--no-deref", "HEAD", start_line]),
        }
        .is_some();
        Some(self.note(&format!(
            "HEAD named {target}, which is no branch with a commit: {}",
            if restored {
                format!("put back to what it named as the run began ({start_line})")
            } else {
                "it could not be put back: run `git checkout` of a branch before `git reset`"
                    .to_string()
            }
        )))
    }

    /// The commits among those reachable from `tips` and unknown before the run that set
    /// content at a controlled path (module docs). `Err`: they could not be told.
    fn refused_commits(&self, tips: &[&String], whole: bool) -> Result<BTreeSet<String>, String> {
        if tips.is_empty() {
            return Ok(BTreeSet::new());
        }
        let touching = self.commits_touching_controlled_paths(tips, whole)?;
        if touching.len() > MAX_NEW_COMMITS {
            return Err(format!(
                "more than {MAX_NEW_COMMITS} new commits change a controlled path"
            ));
        }
        let mut refused = BTreeSet::new();
        // `HEAD`'s entries as the run began, listed for each path once.
        let mut head: BTreeMap<PathBuf, (u32, String)> = BTreeMap::new();
        let mut listed: BTreeSet<PathBuf> = BTreeSet::new();
        for (commit, changed) in touching {
            let changed: Vec<PathBuf> = changed.into_iter().collect();
            let unlisted: Vec<PathBuf> = changed
                .iter()
                .filter(|p| !listed.contains(*p))
                .cloned()
                .collect();
            if let (Some(start_head), false) = (self.start.refs.get("HEAD"), unlisted.is_empty()) {
                head.extend(self.entries_at(start_head, &unlisted)?);
            }
            listed.extend(unlisted);
            let entries = self.entries_at(&commit, &changed)?;
            let made_content = changed.iter().any(|path| {
                let state: State = entries.get(path).cloned();
                let staged = |(_, id): &(u32, String)| self.staged().get(path) == Some(id);
                !self.work_tree_is(path, &state)
                    && state != head.get(path).cloned()
                    && !state.as_ref().is_some_and(staged)
            });
            if made_content {
                refused.insert(commit);
            }
        }
        Ok(refused)
    }

    /// The commits reachable from `tips` and from no commit the repository knew (each a commit
    /// the run made, or brought) that change a controlled path, with those paths: one `git log`
    /// per set of pathspecs, however many commits (a pull of a large upstream).
    fn commits_touching_controlled_paths(
        &self,
        tips: &[&String],
        whole: bool,
    ) -> Result<BTreeMap<String, BTreeSet<PathBuf>>, String> {
        let input = self.new_commits_input(tips);
        let mut touching: BTreeMap<String, BTreeSet<PathBuf>> = BTreeMap::new();
        for specs in self.pathspec_sets(whole) {
            let mut args = vec![
                "-c".to_string(),
                "core.quotePath=false".into(),
                "log".into(),
                "--stdin".into(),
                "--ignore-missing".into(),
                "--format=%x01%H".into(),
                "--name-only".into(),
                "--no-renames".into(),
                "--full-history".into(),
                "-m".into(),
                "--".into(),
            ];
            args.extend(specs);
            let out = self
                .git_input(&args, input.as_bytes())
                .ok_or("git could not list the commits the run made")?;
            let mut current: Option<String> = None;
            for line in out.split(|&b| b == b'\n') {
                if let Some(oid) = line.strip_prefix(b"\x01") {
                    current = Some(String::from_utf8_lossy(oid).into_owned());
                } else if let (Some(commit), false) = (&current, line.is_empty()) {
                    touching
                        .entry(commit.clone())
                        .or_default()
                        .insert(PathBuf::from(OsStr::from_bytes(line)));
                }
            }
        }
        Ok(touching)
    }

    /// The stood-in files ([`AtStart::stood_in`]) that the refused commits change, each once.
    fn stood_in_recorded(&self, refused: &BTreeSet<String>) -> BTreeSet<PathBuf> {
        if self.start.stood_in.is_empty() || refused.is_empty() {
            return BTreeSet::new();
        }
        let mut args: Vec<String> = [
            "-c",
            "core.quotePath=false",
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--format=",
            "--name-only",
            "--no-renames",
            "-m",
            "--",
        ]
        .map(String::from)
        .to_vec();
        args.extend(self.start.stood_in.iter().map(|file| literal(file)));
        let input: String = refused.iter().map(|oid| format!("{oid}\n")).collect();
        self.git_input(&args, input.as_bytes())
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| PathBuf::from(OsStr::from_bytes(line)))
            .collect()
    }

    /// `git log --stdin`'s input for the commits reachable from `tips` and from no commit the
    /// repository knew. Each known commit is negated by its own `^`: git before 2.42 refuses
    /// `--not` on standard input ("options not supported in --stdin mode"), and the check, failing
    /// closed, then put back every commit a run made (working day twenty-one, Debian's git 2.39).
    fn new_commits_input(&self, tips: &[&String]) -> String {
        let mut input = String::new();
        for tip in tips {
            input.push_str(tip);
            input.push('\n');
        }
        for oid in self.known_present() {
            input.push('^');
            input.push_str(oid);
            input.push('\n');
        }
        input
    }

    /// The known commits the object store holds: a `^` of one it does not is fatal to `git log`,
    /// `--ignore-missing` or not (one a command pruned, or a stash reflog naming a lost commit),
    /// and the check would then put back everything the run moved. When git cannot be asked,
    /// all of them (the check then fails closed, as before).
    fn known_present(&self) -> &[String] {
        self.known_present.get_or_init(|| {
            let known: Vec<&String> = self.start.known.iter().collect();
            let input: String = known.iter().map(|oid| format!("{oid}\n")).collect();
            let Some(out) = self.git_input(
                &["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                input.as_bytes(),
            ) else {
                return known.into_iter().cloned().collect();
            };
            String::from_utf8_lossy(&out)
                .lines()
                .filter_map(|line| line.split_once(' '))
                .filter(|(_, kind)| *kind != "missing")
                .map(|(oid, _)| oid.to_string())
                .collect()
        })
    }

    /// The commits among those reachable from `tips` and unknown before the run that set a
    /// gitlink to a commit a repository inside the work tree refuses ([`Repository::refusing`]).
    /// The user's `git submodule update`, or a checkout with `submodule.recurse`, would check
    /// that commit out in the submodule's work tree outside any sandbox (red-team round
    /// eighteen: a gitlink bumped to a submodule commit this check had refused, which git found
    /// reachable from the ref that kept it).
    fn commits_linking_refused(&self, tips: &[&String]) -> Result<BTreeSet<String>, String> {
        if tips.is_empty() || self.inside.is_empty() {
            return Ok(BTreeSet::new());
        }
        let args = [
            "log",
            "--stdin",
            "--ignore-missing",
            "--format=%x01%H",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--full-history",
            "-m",
            "-z",
        ];
        let out = self
            .git_input(&args, self.new_commits_input(tips).as_bytes())
            .ok_or("git could not list the gitlinks the run set")?;
        // With `-z`, each commit is `\x01ID` and its raw entries `:META\0PATH\0`.
        let mut links: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for field in out.split(|&b| b == 0) {
            let field = field.strip_prefix(b"\n").unwrap_or(field);
            if let Some(oid) = field.strip_prefix(b"\x01") {
                current = Some(String::from_utf8_lossy(oid).trim().to_string());
            } else if let (Some(commit), Some(meta)) = (&current, field.strip_prefix(b":")) {
                let meta = String::from_utf8_lossy(meta);
                let fields: Vec<&str> = meta.split(' ').collect();
                if let [_, "160000", _, target, _] = fields[..] {
                    links
                        .entry(target.to_string())
                        .or_default()
                        .insert(commit.clone());
                }
            }
        }
        let targets: Vec<&String> = links.keys().collect();
        let refusing = self.refusing(&targets)?;
        Ok(links
            .into_iter()
            .filter(|(target, _)| refusing.contains(target))
            .flat_map(|(_, commits)| commits)
            .collect())
    }

    /// The commits among `targets` that lead, in a repository inside the work tree holding
    /// them, to a commit that repository's own check refuses.
    fn refusing(&self, targets: &[&String]) -> Result<BTreeSet<String>, String> {
        let mut refusing = BTreeSet::new();
        for inside in &self.inside {
            // A submodule's commit may itself set a gitlink into a submodule of its own, which
            // `git submodule update --recursive` checks out (red-team round twenty).
            let nested: Vec<&AtStart> = self
                .inside
                .iter()
                .filter(|s| {
                    s.work_tree != inside.work_tree && s.work_tree.starts_with(&inside.work_tree)
                })
                .copied()
                .collect();
            let repo = Repository::new(inside, self.names).with_inside(nested);
            let unknown: Vec<&String> = targets
                .iter()
                .filter(|t| !inside.known.contains(**t) && !refusing.contains(**t))
                .copied()
                .collect();
            // Only the commits this repository holds are its to judge: asked about others, an
            // unrelated one (an empty nested repository) failed, and every gitlink was reset
            // (working day eighteen).
            let absent = repo.not_commits(&unknown);
            let held: Vec<&String> = unknown
                .into_iter()
                .filter(|t| !absent.contains(*t))
                .collect();
            let unknown = held;
            let mut refused = repo.refused_commits(&unknown, false)?;
            refused.extend(repo.commits_linking_refused(&unknown)?);
            if refused.is_empty() {
                continue;
            }
            refusing.extend(
                unknown
                    .into_iter()
                    .filter(|t| repo.reaches(t, &refused))
                    .cloned(),
            );
        }
        Ok(refusing)
    }

    /// The objects among `tips` that do not peel to a commit (what cannot be told counts as one
    /// that does not).
    fn not_commits(&self, tips: &[&String]) -> BTreeSet<String> {
        if tips.is_empty() {
            return BTreeSet::new();
        }
        let input: String = tips.iter().map(|t| format!("{t}^{{}}\n")).collect();
        let Some(out) = self.git_input(
            &["cat-file", "--batch-check=%(objecttype)"],
            input.as_bytes(),
        ) else {
            return tips.iter().map(|t| (*t).clone()).collect();
        };
        let kinds: Vec<String> = String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_string)
            .collect();
        tips.iter()
            .zip(kinds.iter().map(Some).chain(std::iter::repeat(None)))
            .filter(|(_, kind)| kind.is_none_or(|k| k != "commit"))
            .map(|(tip, _)| (*tip).clone())
            .collect()
    }

    /// Whether `tip` reaches one of `commits` (each checked with `git merge-base
    /// --is-ancestor`; what cannot be told counts as reaching).
    fn reaches(&self, tip: &str, commits: &BTreeSet<String>) -> bool {
        commits.iter().any(|commit| {
            commit == tip
                || self
                    .command(&["merge-base", "--is-ancestor", commit, tip])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map_or(true, |status| status.code() != Some(1))
        })
    }

    /// The entries of `rev`'s tree at `paths`.
    fn entries_at(
        &self,
        rev: &str,
        paths: &[PathBuf],
    ) -> Result<BTreeMap<PathBuf, (u32, String)>, String> {
        let mut args = vec![
            "ls-tree".to_string(),
            "-r".into(),
            "-z".into(),
            "--full-tree".into(),
            format!("{rev}^{{tree}}"),
            "--".into(),
        ];
        args.extend(paths.iter().map(|p| literal(p)));
        let out = self
            .git(&args)
            .ok_or_else(|| format!("git could not list the tree of {rev}"))?;
        let mut entries = BTreeMap::new();
        for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let (meta, path) = (&record[..tab], &record[tab + 1..]);
            let meta = String::from_utf8_lossy(meta);
            let mut fields = meta.split(' ');
            let (Some(mode), Some(_kind), Some(oid)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            entries.insert(
                PathBuf::from(OsStr::from_bytes(path)),
                (mode_class(mode), oid.to_string()),
            );
        }
        Ok(entries)
    }

    /// Moves `name` back to `old` (or removes it when the run made it), keeping `oid` under
    /// [`REFUSED_PREFIX`]; the note says what happened.
    fn put_back(&self, name: &str, oid: &str, old: Option<&String>, why: &str) -> String {
        // One name per refusal: a later one keeps this one's commit too.
        let when = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let kept = format!(
            "{REFUSED_PREFIX}{when}-{}/{}",
            std::process::id(),
            name.strip_prefix("refs/").unwrap_or(name)
        );
        let saved = self.git(&["update-ref", &kept, oid]).is_some();
        let restored = match (name, old) {
            ("HEAD", Some(old)) => self.git(&["update-ref", "--no-deref", "HEAD", old]),
            (_, Some(old)) => self.git(&["update-ref", "--no-deref", name, old]),
            (_, None) => self.git(&["update-ref", "--no-deref", "-d", name]),
        }
        .is_some();
        let kept_note = if saved {
            format!("the commit is kept as {kept}")
        } else {
            format!("commit {oid}")
        };
        match (restored, old) {
            (true, Some(old)) => self.note(&format!(
                "{name} was put back to {old}: the run moved it to a commit at which {why}; {kept_note}"
            )),
            (true, None) => self.note(&format!(
                "{name}, made by the run, was removed: {why}; {kept_note}"
            )),
            (false, _) => self.note(&format!(
                "{name} points at a commit at which {why}, and could not be put back: do not check it out ({kept_note})"
            )),
        }
    }

    /// Moves aside each state file and stopped rebase that names `oid`.
    fn set_aside_state_naming(&self, oid: &str) -> Vec<String> {
        let mut notes = Vec::new();
        let git_dir = &self.start.git_dir;
        let places = STATE_FILES.iter().chain(STATE_DIRS);
        for name in places {
            let path = git_dir.join(name);
            let names_it = self.oids_in(&path).iter().any(|o| o == oid);
            if names_it {
                let moved = move_aside(&path);
                notes.push(self.note(&format!(
                    ".git/{name} {} it names commit {oid}, which sets content at a path the run could not write, for `git reset`, `--abort` or `--continue` to write into the work tree",
                    if moved { "was moved aside:" } else { "could not be moved aside, though" }
                )));
            }
        }
        notes
    }

    /// Moves aside each state file or directory that cannot be read whole, or that holds
    /// patches a `git am --continue` would apply at a controlled path (round eighteen: a stopped
    /// `git am` with the hook in its next patch).
    fn set_aside_unverifiable_state(&self) -> Vec<String> {
        let git_dir = &self.start.git_dir;
        let mut notes = Vec::new();
        for name in STATE_FILES.iter().chain(STATE_DIRS) {
            let path = git_dir.join(name);
            if std::fs::symlink_metadata(&path).is_err() {
                continue;
            }
            let why = match self.read_state(&path) {
                None => "it cannot be read whole, so what it names cannot be checked",
                Some((_, patched)) if patched.iter().any(|p| self.controlled(p)) => {
                    "its patches change a path the run could not write"
                }
                Some(_) => continue,
            };
            let moved = move_aside(&path);
            notes.push(self.note(&format!(
                ".git/{name} {}: {why}, for git to write into the work tree outside any sandbox",
                if moved {
                    "was moved aside"
                } else {
                    "could not be moved aside"
                }
            )));
        }
        notes
    }

    /// A submodule's git directory made under `.git/modules` during the run keeps no hook: the
    /// user's `git submodule update --init` reuses it and runs its `post-checkout` outside any
    /// sandbox (red-team round eighteen). Its `hooks` is moved aside when it holds anything but
    /// git's samples.
    fn set_aside_new_module_hooks(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for module in module_git_dirs(&self.start.git_dir) {
            if self.start.modules.contains(&module) {
                continue;
            }
            let hooks = module.join("hooks");
            let planted = std::fs::read_dir(&hooks)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| !e.file_name().as_bytes().ends_with(b".sample"));
            if planted {
                let moved = move_aside(&hooks);
                notes.push(self.note(&format!(
                    "{} {}: a submodule's git directory made during the run holds a hook, which `git submodule update` would run outside any sandbox",
                    hooks.display(),
                    if moved { "was moved to hooks.refused-by-cordon" } else { "could not be moved aside" }
                )));
            }
        }
        notes
    }

    /// A linked worktree made during the run (`git worktree add`) is a work tree of this
    /// repository, whose configuration it shares: `core.hooksPath=.husky` runs the worktree's own
    /// `.husky/pre-commit` on the user's next commit there. Its root did not exist when the run
    /// began, so nothing there was protected (red-team round nineteen). Each file under a
    /// protected name at its root must hold what the main work tree holds there (which the run
    /// could not change) or what `HEAD` held as the run began; any other is moved aside to
    /// `NAME.refused-by-cordon`, where nothing reads it.
    fn set_aside_new_worktrees_settings(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for admin in worktree_dirs(&self.start.git_dir) {
            if self.start.worktrees.contains(&admin) {
                continue;
            }
            // `gitdir` names the worktree's `.git` file, whose directory is its root; that file
            // must lead back here, or `gitdir` was rewritten (red-team round twenty pointed it at
            // the main `.git`) and the worktree cannot be found: its git directory is moved
            // aside, so that git there finds no repository and runs nothing.
            let root = crate::protect::linked_dot_git(&admin)
                .filter(|dot_git| leads_back(dot_git, &admin))
                .and_then(|dot_git| dot_git.parent().map(Path::to_path_buf));
            let Some(root) = root else {
                let moved = move_aside(&admin);
                notes.push(self.note(&format!(
                    "{}: a worktree made during the run does not lead back from the work tree its `gitdir` names, so its settings could not be checked; {}",
                    admin.display(),
                    if moved { "its git directory was moved to *.refused-by-cordon" } else { "its git directory could not be moved aside: do not run git in that worktree" }
                )));
                continue;
            };
            let mut files = Vec::new();
            for name in self.names {
                collect_entries(&root, Path::new(name), &mut files, MAX_WORKTREE_SETTINGS);
            }
            if files.is_empty() {
                continue;
            }
            let head = match self.start.refs.get("HEAD") {
                Some(oid) => self.entries_at(oid, &files).unwrap_or_default(),
                None => BTreeMap::new(),
            };
            let sha256 = crate::git_index::object_name_len(&self.start.git_dir) == 32;
            let mut refused = Vec::new();
            for rel in files.iter().take(MAX_WORKTREE_SETTINGS) {
                let state = state_of(&root.join(rel), sha256);
                if state.is_some()
                    && (state == head.get(rel).cloned() || self.work_tree_state(rel) == state)
                {
                    continue;
                }
                let file = root.join(rel);
                let moved = move_aside(&file);
                refused.push(format!(
                    "{}{}",
                    file.display(),
                    if moved {
                        ""
                    } else {
                        " (could not be moved aside)"
                    }
                ));
            }
            if files.len() > MAX_WORKTREE_SETTINGS {
                refused.push(format!(
                    "and {} more not checked",
                    files.len() - MAX_WORKTREE_SETTINGS
                ));
            }
            if !refused.is_empty() {
                notes.push(self.note(&format!(
                    "a worktree made during the run held settings or hooks unlike this work tree's and HEAD's, which your own git and tools would run there outside any sandbox; moved to *.refused-by-cordon: {}",
                    refused.join(", ")
                )));
            }
        }
        notes
    }

    /// The reflogs the run added to or rewrote (`git checkout -`, `HEAD@{1}` and a stash below
    /// the user's own read them; round eighteen planted through both), and a note when they could
    /// not be told.
    fn changed_reflogs(&self) -> (Vec<(PathBuf, u64)>, Option<String>) {
        let Some(files) = reflog_files(&self.start.git_dir) else {
            return (
                Vec::new(),
                Some(self.note("its reflogs are too large to check after the run")),
            );
        };
        let Some(before) = &self.start.reflogs else {
            let changed = !files.is_empty();
            return (
                Vec::new(),
                changed.then(|| self.note("its reflogs were too large to read when the run began, so what the run logged was not checked")),
            );
        };
        let unchecked_logs = [
            self.start.git_dir.join("logs/refs/remotes"),
            self.start.git_dir.join("logs/refs/notes"),
        ];
        let stash = self.start.git_dir.join("logs/refs/stash");
        let changed = files
            .into_iter()
            .filter(|(path, stamp)| before.get(path) != Some(stamp))
            .filter(|(path, _)| !unchecked_logs.iter().any(|u| path.starts_with(u)))
            .map(|(path, (size, _, _))| {
                // What the run appended, or, for one it rewrote, all of it.
                let from = match before.get(&path) {
                    Some((was, _, _)) if *was <= size && path != stash => *was,
                    _ => 0,
                };
                (path, from)
            })
            .collect();
        (changed, None)
    }

    /// Removes from every reflog the entries that name `oid`.
    fn drop_reflog_entries_naming(&self, oid: &str) -> Vec<String> {
        let mut notes = Vec::new();
        for (path, _) in reflog_files(&self.start.git_dir).unwrap_or_default() {
            let Some(text) = read_small(&path) else {
                continue;
            };
            let kept: Vec<&[u8]> = text
                .split_inclusive(|&b| b == b'\n')
                .filter(|line| !line.windows(oid.len()).any(|w| w == oid.as_bytes()))
                .collect();
            if kept.len() == text.split_inclusive(|&b| b == b'\n').count() {
                continue;
            }
            let written = std::fs::write(&path, kept.concat()).is_ok();
            notes.push(self.note(&format!(
                "{} {} the entries naming commit {oid}, which sets content at a path the run could not write",
                path.display(),
                if written { "lost" } else { "could not lose" }
            )));
        }
        notes
    }

    /// Every commit git's state files name: full ids, and the short ids of a todo list, which
    /// git expands.
    fn state_commits(&self) -> BTreeSet<String> {
        let git_dir = &self.start.git_dir;
        STATE_FILES
            .iter()
            .chain(STATE_DIRS)
            .flat_map(|name| self.oids_in(&git_dir.join(name)))
            .collect()
    }

    /// The commits named in the file or directory `path` (files up to 1,000, each read whole).
    fn oids_in(&self, path: &Path) -> Vec<String> {
        self.read_state(path)
            .map(|(oids, _)| oids)
            .unwrap_or_default()
    }

    /// The commits named in the file or directory `path` (full ids, short ids and ref names,
    /// which git expands), and the paths the patches there touch (a stopped `git am`); `None`
    /// when it cannot be read whole: a file too large, or more than [`MAX_STATE_FILES`] files.
    fn read_state(&self, path: &Path) -> Option<(Vec<String>, Vec<PathBuf>)> {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        let mut pending = vec![path.to_path_buf()];
        let mut budget = MAX_STATE_FILES;
        while let Some(p) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                for child in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                    budget = budget.checked_sub(1)?;
                    pending.push(child.path());
                }
            } else {
                texts.push(read_small(&p)?);
            }
        }
        let mut full = Vec::new();
        let mut named = Vec::new();
        let mut patched = Vec::new();
        for text in &texts {
            for token in text.split(|b| !b.is_ascii_hexdigit()) {
                match token.len() {
                    40 | 64 => full.push(String::from_utf8_lossy(token).into_owned()),
                    4..=39 => named.push(String::from_utf8_lossy(token).into_owned()),
                    _ => {}
                }
            }
            for word in text.split(|b| b.is_ascii_whitespace()) {
                // A ref or a reflog entry named in a todo or a state file (`pick
                // refs/cordon/refused/…`, `ref: refs/…`, `HEAD@{1}`).
                if word.starts_with(b"refs/") || word.contains(&b'@') {
                    named.push(String::from_utf8_lossy(word).into_owned());
                }
            }
            for line in text.split(|&b| b == b'\n') {
                if let Some(rest) = line.strip_prefix(b"diff --git a/") {
                    let path = rest.split(|&b| b == b' ').next().unwrap_or_default();
                    patched.push(PathBuf::from(OsStr::from_bytes(path)));
                }
            }
        }
        if !named.is_empty() {
            full.extend(self.expand(&named));
        }
        Some((full, patched))
    }

    /// The full ids of the commits `short` ids name (those that name one).
    fn expand(&self, short: &[String]) -> Vec<String> {
        let input: String = short.iter().map(|s| format!("{s}^{{commit}}\n")).collect();
        let Some(out) = self.git_input(
            &["cat-file", "--batch-check=%(objectname) %(objecttype)"],
            input.as_bytes(),
        ) else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| line.strip_suffix(" commit"))
            .filter(|oid| is_oid(oid))
            .map(str::to_string)
            .collect()
    }

    /// Index entries at controlled paths that hold neither the work tree's nor `HEAD`'s content
    /// are reset to `HEAD`'s, and so are gitlinks to a commit a repository inside the work tree
    /// refuses (`git submodule update` checks out the index's). git lists them, a split index
    /// included.
    fn settle_index(&self, notes: &mut Vec<String>) {
        self.settle_index_gitlinks(notes);
        let mut entries: BTreeMap<PathBuf, String> = BTreeMap::new();
        // The index is the work tree's own checkout's.
        let whole = self.start.checked_out_whole.is_some();
        for specs in self.pathspec_sets(whole) {
            let mut args = vec![
                "ls-files".to_string(),
                "-s".into(),
                "-z".into(),
                "--".into(),
            ];
            args.extend(specs);
            let Some(out) = self.git(&args) else {
                notes.push(self.note("its index could not be listed after the run"));
                return;
            };
            for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
                let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                    continue;
                };
                let meta = String::from_utf8_lossy(&record[..tab]);
                let mut fields = meta.split(' ');
                let (Some(_mode), Some(oid), Some(stage)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    continue;
                };
                // A conflicted path's stages are git's merge in progress, not content to reset.
                if stage != "0" {
                    continue;
                }
                entries.insert(
                    PathBuf::from(OsStr::from_bytes(&record[tab + 1..])),
                    oid.to_string(),
                );
            }
        }
        let unlike_work_tree: Vec<PathBuf> = entries
            .iter()
            .filter(|(path, oid)| {
                self.staged().get(*path) != Some(*oid)
                    && !self.work_tree_state(path).is_some_and(|(mode, _)| {
                        self.work_tree_is(path, &Some((mode, (*oid).clone())))
                    })
            })
            .map(|(path, _)| path.clone())
            .collect();
        if unlike_work_tree.is_empty() {
            return;
        }
        let head = match self.start.refs.get("HEAD") {
            Some(oid) => self.entries_at(oid, &unlike_work_tree).unwrap_or_default(),
            None => BTreeMap::new(),
        };
        let reset: Vec<PathBuf> = unlike_work_tree
            .into_iter()
            .filter(|path| {
                head.get(path)
                    .is_none_or(|(_, id)| entries.get(path) != Some(id))
            })
            .collect();
        if reset.is_empty() {
            return;
        }
        let (done, shown) = self.reset_index_to_head(&reset.iter().collect::<Vec<_>>());
        notes.push(self.note(&format!(
            "the index held content the run made at {shown} (a path it could not write, which your own git would write into the work tree outside any sandbox){}",
            if done { "; reset to HEAD's" } else { "; it could not be reset: run `git reset -- PATH` before `git checkout` or `git stash`" }
        )));
    }

    /// Resets each gitlink in the index that names a commit a repository inside the work tree
    /// refuses ([`Repository::settle_index`]).
    fn settle_index_gitlinks(&self, notes: &mut Vec<String>) {
        if self.inside.is_empty() {
            return;
        }
        let Some(out) = self.git(&["ls-files", "-s", "-z"]) else {
            notes.push(self.note("its index could not be listed after the run"));
            return;
        };
        let mut links: Vec<(PathBuf, String)> = Vec::new();
        for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let Some(tab) = record.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let meta = String::from_utf8_lossy(&record[..tab]);
            if let ["160000", oid, _stage] = meta.split(' ').collect::<Vec<_>>()[..] {
                links.push((
                    PathBuf::from(OsStr::from_bytes(&record[tab + 1..])),
                    oid.to_string(),
                ));
            }
        }
        let targets: Vec<&String> = links.iter().map(|(_, oid)| oid).collect();
        let refusing = match self.refusing(&targets) {
            Ok(refusing) => refusing,
            Err(why) => {
                notes.push(self.note(&format!(
                    "the gitlinks in its index could not be checked ({why}), so they are reset to HEAD's"
                )));
                targets.into_iter().cloned().collect()
            }
        };
        let reset: Vec<&PathBuf> = links
            .iter()
            .filter(|(_, oid)| refusing.contains(oid))
            .map(|(path, _)| path)
            .collect();
        if reset.is_empty() {
            return;
        }
        let (done, shown) = self.reset_index_to_head(&reset);
        notes.push(self.note(&format!(
            "the index's gitlink at {shown} named a submodule commit that leads to content at a path the run could not write, which `git submodule update` would write outside any sandbox{}",
            if done { "; reset to HEAD's" } else { "; it could not be reset: run `git reset -- PATH` before `git submodule update`" }
        )));
    }

    /// The commit `name` names, as git resolves it.
    fn resolve_commit(&self, name: &str) -> Option<String> {
        let out = self.git(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{name}^{{commit}}"),
        ])?;
        let oid = String::from_utf8_lossy(&out).trim().to_string();
        is_oid(&oid).then_some(oid)
    }

    /// Resets the index's entries at `paths` to `HEAD`'s: whether git did, and the paths as a
    /// note names them.
    fn reset_index_to_head(&self, paths: &[&PathBuf]) -> (bool, String) {
        let mut args = vec!["reset".to_string(), "-q".into(), "--".into()];
        args.extend(paths.iter().map(|p| literal(p)));
        let done = self.git(&args).is_some();
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        (done, shown.join(", "))
    }

    /// The index's entries at controlled paths as the run began.
    fn staged(&self) -> &BTreeMap<PathBuf, String> {
        self.staged.get_or_init(|| {
            let index = self.start.index_at_start.as_deref();
            let Some(index) = index.and_then(|bytes| Index::parse(bytes, &self.start.git_dir))
            else {
                return BTreeMap::new();
            };
            index
                .entries()
                .map(|(path, id)| (PathBuf::from(OsStr::from_bytes(path)), hex(id)))
                .filter(|(path, _)| self.controlled(path))
                .collect()
        })
    }

    /// Whether `path` (from the work tree's top) is controlled ([`Repository::pathspec_sets`]).
    fn controlled(&self, path: &Path) -> bool {
        let writable = &self.start.writable;
        let root_writable = writable.iter().any(|p| p.as_os_str().is_empty());
        if !root_writable && !writable.is_empty() && !writable.iter().any(|w| path.starts_with(w)) {
            return true;
        }
        std::iter::once(Path::new(""))
            .chain(writable.iter().map(PathBuf::as_path))
            .any(|prefix| {
                path.strip_prefix(prefix).is_ok_and(|rest| {
                    rest.iter()
                        .next()
                        .is_some_and(|first| self.names.iter().any(|n| OsStr::new(n) == first))
                })
            })
    }

    /// Whether the work tree's file at `path` is `state`: byte for byte, or as git stores it
    /// after its filters (`* text=auto` turning CRLF into LF, a clean filter such as git-lfs);
    /// round eighteen had a person's CRLF edit, committed by the agent, refused.
    fn work_tree_is(&self, path: &Path, state: &State) -> bool {
        let raw = self.work_tree_state(path);
        if raw == *state {
            return true;
        }
        let (Some((mode, _)), Some((wanted_mode, wanted))) = (raw, state) else {
            return false;
        };
        if mode != *wanted_mode || mode == 2 {
            return false;
        }
        let file = self.start.work_tree.join(path);
        let path_arg = format!("--path={}", path.display());
        let Some(file) = file.to_str() else {
            return false;
        };
        self.git(&["hash-object", &path_arg, "--", file])
            .is_some_and(|out| String::from_utf8_lossy(&out).trim() == wanted)
    }

    /// The state git would give the work tree's file at `path`.
    fn work_tree_state(&self, path: &Path) -> State {
        let sha256 = crate::git_index::object_name_len(&self.start.git_dir) == 32;
        state_of(&self.start.work_tree.join(path), sha256)
    }

    /// The sets of pathspecs that together name the controlled paths: the protected names at
    /// the work tree's root and at each writable root inside it; and, when the work tree's root
    /// is not writable (a workspace that is a subdirectory), or `whole` (the work tree's own
    /// checkout, when none of it is writable), everything outside the writable roots.
    fn pathspec_sets(&self, whole: bool) -> Vec<Vec<String>> {
        let mut prefixes = vec![PathBuf::new()];
        prefixes.extend(
            self.start
                .writable
                .iter()
                .filter(|p| !p.as_os_str().is_empty())
                .cloned(),
        );
        let names: Vec<String> = prefixes
            .iter()
            .flat_map(|prefix| {
                self.names
                    .iter()
                    .map(move |name| literal(&prefix.join(name)))
            })
            .collect();
        let mut names = names;
        names.extend(self.start.stood_in.iter().map(|file| literal(file)));
        let mut sets = vec![names];
        // A workspace that is a subdirectory: the rest of the work tree is read-only. (A linked
        // worktree's checkout lies outside the main work tree, and its commits are its own.)
        let root_writable = self.start.writable.iter().any(|p| p.as_os_str().is_empty());
        if (!root_writable && !self.start.writable.is_empty()) || whole {
            let mut outside = vec![":(top)".to_string()];
            outside.extend(
                self.start
                    .writable
                    .iter()
                    .map(|p| format!(":(top,exclude,literal){}", p.display())),
            );
            sets.push(outside);
        }
        sets
    }

    /// Runs git on the repository (module docs); its standard output when it succeeded.
    fn git<S: AsRef<OsStr>>(&self, args: &[S]) -> Option<Vec<u8>> {
        self.git_input(args, b"")
    }

    /// [`Repository::git`] with `input` on its standard input.
    fn git_input<S: AsRef<OsStr>>(&self, args: &[S], input: &[u8]) -> Option<Vec<u8>> {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        let writer = std::thread::scope(|scope| {
            let writing = scope.spawn(move || stdin.write_all(input));
            let out = child.wait_with_output();
            (writing.join(), out)
        });
        let out = writer.1.ok()?;
        out.status.success().then_some(out.stdout)
    }

    /// git with `args` on the repository, as every check runs it (module docs).
    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut command = Command::new(&self.start.git);
        command
            .env_clear()
            .env("PATH", &self.start.path)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .arg("--git-dir")
            .arg(&self.start.git_dir)
            .arg("--work-tree")
            .arg(&self.start.work_tree)
            // Nothing the repository's configuration names may run: hooks, the monitor, and
            // what `log` would start to show a signature (red-team round twenty planted
            // `log.showSignature` and `gpg.program` through an included file).
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
                "-c",
                "log.showSignature=false",
                "-c",
                "gpg.program=/dev/null",
                "-c",
                "gpg.ssh.program=/dev/null",
                "-c",
                "gpg.x509.program=/dev/null",
                "-c",
                "core.pager=cat",
                "-c",
                "diff.external=",
            ])
            .arg("--no-optional-locks")
            .args(args)
            .current_dir(&self.start.work_tree);
        command
    }

    fn note(&self, what: &str) -> String {
        format!("{}: {what}", self.start.work_tree.display())
    }
}

/// Refs the check leaves alone: remote-tracking branches hold what a fetch brought (a teammate's
/// commits, which may change any path; working day seventeen had every fetch of a monorepo
/// refused), and notes, which git never checks out.
fn unchecked(name: &str) -> bool {
    name.starts_with("refs/remotes/")
}

/// A pathspec that matches `path` (from the work tree's top) and what lies beneath it, with no
/// glob.
fn literal(path: &Path) -> String {
    format!(":(top,literal){}", path.display())
}

/// The part of a tree entry's mode that a checkout acts on: 2 for a link, 1 for an executable
/// file, 0 for any other file (and a submodule, which git does not write).
fn mode_class(mode: &str) -> u32 {
    match mode {
        "120000" => 2,
        "100755" => 1,
        _ => 0,
    }
}

/// A file's inode, size and change time: a rewritten index differs in one of them.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.ino(), meta.size(), meta.ctime(), meta.ctime_nsec()))
}

/// The repository's refs by name (`HEAD` resolved to its commit): read from the files where
/// that is cheap and unambiguous, else as git lists them.
fn all_refs(
    git: &Path,
    path: &std::ffi::OsStr,
    git_dir: &Path,
    work_tree: &Path,
) -> Option<BTreeMap<String, String>> {
    read_refs(git_dir).or_else(|| refs_from_git(git, path, git_dir, work_tree))
}

/// The caller's `PATH` less every relative directory and every one inside a writable root.
fn trusted_path(write_roots: &[PathBuf]) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute() && !write_roots.iter().any(|r| dir.starts_with(r)))
        .collect();
    std::env::join_paths(kept).unwrap_or_default()
}

/// The first `git` on the `PATH` that lies in an absolute directory outside every writable root
/// (`None`: no such git, and then no check runs, as the user's own git is not there either).
fn trusted_git(write_roots: &[PathBuf]) -> Option<PathBuf> {
    trusted_git_on(&std::env::var_os("PATH")?, write_roots)
}

/// [`trusted_git`] on the `PATH` `path`.
fn trusted_git_on(path: &std::ffi::OsStr, write_roots: &[PathBuf]) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("git"))
        .find_map(|candidate| {
            let real = std::fs::canonicalize(&candidate).ok()?;
            let meta = std::fs::metadata(&real).ok()?;
            let inside = write_roots
                .iter()
                .any(|r| real.starts_with(r) || candidate.starts_with(r));
            (meta.is_file() && meta.permissions().mode() & 0o111 != 0 && !inside).then_some(real)
        })
}

/// The refs as `git for-each-ref` lists them, and `HEAD`.
fn refs_from_git(
    git: &Path,
    path: &std::ffi::OsStr,
    git_dir: &Path,
    work_tree: &Path,
) -> Option<BTreeMap<String, String>> {
    let start = AtStart {
        git: git.to_path_buf(),
        path: path.to_os_string(),
        git_dir: git_dir.to_path_buf(),
        work_tree: work_tree.to_path_buf(),
        writable: Vec::new(),
        refs: BTreeMap::new(),
        known: BTreeSet::new(),
        index: None,
        index_at_start: None,
        modules: BTreeSet::new(),
        worktrees: BTreeSet::new(),
        checked_out_whole: None,
        head_file: None,
        reflogs: None,
        stood_in: Vec::new(),
    };
    let repo = Repository::new(&start, &[]);
    let listed = repo.git(&["for-each-ref", "--format=%(objectname) %(refname)"])?;
    let mut refs = BTreeMap::new();
    for line in String::from_utf8_lossy(&listed).lines() {
        // A symbolic ref is listed as the commit it resolves to, as `read_refs` reads it.
        let Some((oid, name)) = line.split_once(' ') else {
            continue;
        };
        if is_oid(oid) {
            // Listed twice (a `packed-refs` naming it twice), it is what git resolves it to
            // (red-team round twenty-one: the last line said the ref had not moved, git's lookup
            // found another commit).
            if refs.insert(name.to_string(), oid.to_string()).is_some() {
                let resolved = repo.git(&["rev-parse", "--verify", "-q", name])?;
                let resolved = String::from_utf8_lossy(&resolved).trim().to_string();
                refs.insert(name.to_string(), resolved);
            }
        }
    }
    if let Some(head) = repo.git(&["rev-parse", "--verify", "-q", "HEAD"]) {
        let head = String::from_utf8_lossy(&head).trim().to_string();
        if is_oid(&head) {
            refs.insert("HEAD".into(), head);
        }
    }
    Some(refs)
}

/// The repository's refs by name (`HEAD` resolved to its commit), from `packed-refs` and the
/// loose files under `refs/`. `None`, for git to list them, when anything is not plainly one: a
/// `reftable` directory, a loose ref that is neither an object id alone nor `ref: refs/…`, a
/// link or other file under `refs/`, a symbolic ref that leads nowhere, or more than
/// [`MAX_LOOSE_REFS`] loose refs (red-team round seventeen: git read `<id> x` and `ref:
/// ORIG_HEAD`, which a stricter parser skipped, and then nothing counted as moved).
fn read_refs(git_dir: &Path) -> Option<BTreeMap<String, String>> {
    if std::fs::symlink_metadata(git_dir.join("reftable")).is_ok() {
        return None;
    }
    let mut refs = BTreeMap::new();
    let packed_refs = git_dir.join("packed-refs");
    // One too large to read here is git's to read (round eighteen: skipped, it hid `main`).
    if std::fs::symlink_metadata(&packed_refs).is_ok() && read_small(&packed_refs).is_none() {
        return None;
    }
    if let Some(packed) = read_small(&packed_refs) {
        for line in packed.split(|&b| b == b'\n') {
            if line.is_empty() || line.starts_with(b"#") || line.starts_with(b"^") {
                continue;
            }
            let line = std::str::from_utf8(line).ok()?;
            let (oid, name) = line.split_once(' ')?;
            if !is_oid(oid) || name.contains(char::is_whitespace) {
                return None;
            }
            // A name listed twice is read by git one way and by a last-wins map another (red-team
            // round twenty-one): git's to read.
            if refs.insert(name.to_string(), oid.to_string()).is_some() {
                return None;
            }
        }
    }
    let mut symbolic = Vec::new();
    let mut pending = vec![PathBuf::from("refs")];
    let mut budget = MAX_LOOSE_REFS;
    while let Some(rel) = pending.pop() {
        let Ok(children) = std::fs::read_dir(git_dir.join(&rel)) else {
            continue;
        };
        for child in children {
            let child = child.ok()?;
            budget = budget.checked_sub(1)?;
            let name = rel.join(child.file_name());
            let kind = child.file_type().ok()?;
            if kind.is_dir() {
                pending.push(name);
                continue;
            }
            if !kind.is_file() {
                return None;
            }
            let text = read_small(&git_dir.join(&name))?;
            let text = first_line(std::str::from_utf8(&text).ok()?)?;
            let name = name.to_str()?.to_string();
            if name.ends_with(".lock") {
                continue;
            }
            if is_oid(text) {
                refs.insert(name, text.to_string());
            } else if let Some(target) = text
                .strip_prefix("ref: ")
                .filter(|t| t.starts_with("refs/") && !t.contains(char::is_whitespace))
            {
                symbolic.push((name, target.to_string()));
            } else {
                return None;
            }
        }
    }
    // A symbolic ref is read as what git resolves it to, through a chain of them as git follows
    // one (red-team round twenty-one: `master` made `ref: refs/heads/evil`, or `HEAD` led through
    // `alias` to it, left the branch out of the map, so nothing counted as moved). One that leads
    // nowhere, or deeper than git follows, is for git to read.
    let targets: BTreeMap<String, String> = symbolic.into_iter().collect();
    for name in targets.keys() {
        let oid = resolve_symbolic(name, &targets, &refs)?;
        refs.insert(name.clone(), oid);
    }
    let head = read_small(&git_dir.join("HEAD"))?;
    let head = first_line(std::str::from_utf8(&head).ok()?)?;
    let oid = match head.strip_prefix("ref: ") {
        // An unborn branch: no commit yet (a symbolic ref that leads nowhere was refused above).
        Some(target) if target.starts_with("refs/") => refs.get(target).cloned(),
        Some(_) => return None,
        None if is_oid(head) => Some(head.to_string()),
        None => return None,
    };
    if let Some(oid) = oid {
        refs.insert("HEAD".into(), oid);
    }
    Some(refs)
}

/// How many symbolic refs git follows before it gives up (`SYMREF_MAXDEPTH` in git's
/// `refs.c`).
const SYMREF_MAX_DEPTH: usize = 5;

/// The commit the symbolic ref `name` leads to through `symbolic` (name to target), as git
/// resolves it; `None` when it leads nowhere or deeper than git follows.
fn resolve_symbolic(
    name: &str,
    symbolic: &BTreeMap<String, String>,
    refs: &BTreeMap<String, String>,
) -> Option<String> {
    let mut at = symbolic.get(name)?;
    // `name` was the first ref read; git reads at most SYMREF_MAX_DEPTH in all.
    for _ in 1..SYMREF_MAX_DEPTH {
        match symbolic.get(at) {
            Some(next) => at = next,
            None => return refs.get(at).cloned(),
        }
    }
    None
}

/// A ref file's one line, when nothing but whitespace follows it (git reads the first line, and
/// an extra newline left a `HEAD` unborn to a stricter reader: red-team round twenty-one); `None`
/// for anything else, which is git's to read.
fn first_line(text: &str) -> Option<&str> {
    let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
    rest.trim().is_empty().then_some(line)
}

/// The state git would give the file at `file` (`None`: none, or not one git stores as it is).
fn state_of(file: &Path, sha256: bool) -> State {
    let meta = std::fs::symlink_metadata(file).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(file).ok()?;
        return Some((
            2,
            crate::git_index::blob_id_of(target.as_os_str().as_bytes(), sha256),
        ));
    }
    if !meta.is_file() || meta.len() > MAX_HASHED {
        return None;
    }
    let executable = meta.permissions().mode() & 0o111 != 0;
    let bytes = std::fs::read(file).ok()?;
    Some((
        u32::from(executable),
        crate::git_index::blob_id_of(&bytes, sha256),
    ))
}

/// The most files under protected names checked in one new worktree.
const MAX_WORKTREE_SETTINGS: usize = 10_000;

/// Appends `rel` (relative to `root`) and every entry below it, as paths relative to `root`,
/// without following a symbolic link; a directory itself is not listed. Stops past `limit`.
fn collect_entries(root: &Path, rel: &Path, out: &mut Vec<PathBuf>, limit: usize) {
    let mut pending = vec![rel.to_path_buf()];
    while let Some(rel) = pending.pop() {
        if out.len() > limit {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(root.join(&rel)) else {
            continue;
        };
        if !meta.is_dir() {
            out.push(rel);
            continue;
        }
        let Ok(children) = std::fs::read_dir(root.join(&rel)) else {
            // An unreadable directory: its name stands for what it holds.
            out.push(rel);
            continue;
        };
        for child in children.flatten() {
            pending.push(rel.join(child.file_name()));
        }
    }
}

/// The linked worktrees' directories under `git_dir/worktrees`, every one (red-team round
/// twenty hid a new one among 20,000 others past a cap).
fn worktree_dirs(git_dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(git_dir.join("worktrees"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Whether the `.git` file `dot_git` names `admin` as its git directory, as git reads it.
fn leads_back(dot_git: &Path, admin: &Path) -> bool {
    let Some(text) = read_small(dot_git) else {
        return false;
    };
    let Some(named) = text.strip_prefix(b"gitdir: ") else {
        return false;
    };
    let named = PathBuf::from(OsStr::from_bytes(named.trim_ascii_end()));
    let named = match dot_git.parent() {
        Some(dir) if named.is_relative() => dir.join(named),
        _ => named,
    };
    match (std::fs::canonicalize(named), std::fs::canonicalize(admin)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Whether `root` lies in a checkout of its own inside `work_tree`: below a directory between
/// them (`root` itself included) that holds a `.git` (a linked worktree's or submodule's file, a
/// nested repository's directory).
fn inside_another_checkout(work_tree: &Path, root: &Path) -> bool {
    let Ok(rel) = root.strip_prefix(work_tree) else {
        return false;
    };
    rel.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .any(|a| std::fs::symlink_metadata(work_tree.join(a).join(".git")).is_ok())
}

/// `HEAD` and the branch it names (`ref: refs/heads/…`), as the work tree has them checked out.
fn checked_out_ref(git_dir: &Path) -> Vec<String> {
    let mut names = vec!["HEAD".to_string()];
    if let Some(head) = read_small(&git_dir.join("HEAD")) {
        if let Some(name) = head.strip_prefix(b"ref: ") {
            names.push(String::from_utf8_lossy(name.trim_ascii()).into_owned());
        }
    }
    names
}

/// The git directories (a directory holding `HEAD`) under `git_dir/modules`, at most 256
/// directories searched, 3 levels deep (a submodule's name may hold slashes).
fn module_git_dirs(git_dir: &Path) -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    let mut pending = vec![(git_dir.join("modules"), 0)];
    let mut budget = 256usize;
    while let Some((dir, depth)) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&dir) else {
            continue;
        };
        for child in children.flatten() {
            let Some(left) = budget.checked_sub(1) else {
                return found;
            };
            budget = left;
            let path = child.path();
            if !child.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if path.join("HEAD").is_file() {
                found.insert(path);
            } else if depth < 3 {
                pending.push((path, depth + 1));
            }
        }
    }
    found
}

/// The reflog files under `git_dir/logs` with their size and change time; `None` past 1,000
/// files or [`MAX_REFLOG_BYTES`].
fn reflog_files(git_dir: &Path) -> Option<Vec<(PathBuf, Stamp)>> {
    let mut files = Vec::new();
    let mut bytes = 0u64;
    let mut pending = vec![git_dir.join("logs")];
    while let Some(dir) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&dir) else {
            continue;
        };
        for child in children.flatten() {
            let Ok(meta) = child.metadata() else {
                continue;
            };
            if meta.is_dir() {
                // cordon's own refused refs are never known, nor what their logs name.
                if child.path() != git_dir.join("logs/refs/cordon") {
                    pending.push(child.path());
                }
            } else if meta.is_file() {
                bytes = bytes.saturating_add(meta.len());
                if files.len() >= 1_000 || bytes > MAX_REFLOG_BYTES {
                    return None;
                }
                files.push((child.path(), (meta.len(), meta.ctime(), meta.ctime_nsec())));
            }
        }
    }
    Some(files)
}

/// Renames `path` to `PATH.refused-by-cordon`, where nothing reads it; whether it moved.
fn move_aside(path: &Path) -> bool {
    let mut aside = path.as_os_str().to_os_string();
    aside.push(".refused-by-cordon");
    std::fs::rename(path, aside).is_ok()
}

/// The object ids a file names from byte `from` on (every 40 or 64 hex digits standing alone).
fn oids_of_file(path: &Path, from: u64) -> Vec<String> {
    oids_in_text(&appended_text(path, from))
}

/// What the file `path` holds from byte `from` on (nothing, when it cannot be read).
fn appended_text(path: &Path, from: u64) -> Vec<u8> {
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    read_small(path)
        .and_then(|text| text.get(from..).map(<[u8]>::to_vec))
        .unwrap_or_default()
}

/// The object ids `text` names (every 40 or 64 hex digits standing alone, not all zeros).
fn oids_in_text(text: &[u8]) -> Vec<String> {
    text.split(|b| !b.is_ascii_hexdigit())
        .filter(|t| matches!(t.len(), 40 | 64) && t.iter().any(|&b| b != b'0'))
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect()
}

/// The names the "checkout: moving from A to B" messages of reflog lines give.
fn names_in_reflog(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| line.split_once('\t').map(|(_, message)| message))
        .filter_map(|message| message.strip_prefix("checkout: moving from "))
        .filter_map(|rest| rest.split_once(" to "))
        .flat_map(|(a, b)| [a.trim().to_string(), b.trim().to_string()])
        .filter(|name| !name.is_empty() && !name.starts_with('-'))
        .collect()
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_REF_FILE {
        return None;
    }
    std::fs::read(path).ok()
}

/// The index file of `git_dir`, when it is no larger than [`MAX_STAGED_INDEX`].
fn read_index_if_small(git_dir: &Path) -> Option<Vec<u8>> {
    let index = git_dir.join("index");
    let small = std::fs::metadata(&index).is_ok_and(|m| m.len() <= MAX_STAGED_INDEX);
    small.then(|| std::fs::read(&index).ok()).flatten()
}

fn is_oid(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn repo() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(d.path()).unwrap().join("ws");
        std::fs::create_dir_all(ws.join(".husky")).unwrap();
        git(&ws, &["init", "-q", "-b", "main"]);
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::write(ws.join("app.py"), "print(1)\n").unwrap();
        git(&ws, &["add", "-A"]);
        git(&ws, &["commit", "-qm", "init"]);
        (d, ws)
    }

    const NAMES: &[&str] = &[".husky", ".claude", ".vscode"];

    /// Stores `content` as a blob in the repository at `ws`; its id.
    fn write_blob(ws: &Path, content: &[u8]) -> String {
        let out = Command::new("git")
            .args(["hash-object", "-w", "--stdin"])
            .current_dir(ws)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin.take().unwrap().write_all(content)?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The plumbing the command would run: a blob at a protected path, committed without the
    /// work tree.
    fn plant(ws: &Path, path: &str) -> String {
        let blob = write_blob(ws, b"#!/bin/sh\necho PWNED\n");
        git(
            ws,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100755,{blob},{path}"),
            ],
        );
        blob
    }

    #[test]
    fn a_commit_of_content_made_at_a_protected_path_is_put_back_and_kept_aside() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        assert_eq!(start.len(), 1);
        let before = git(&ws, &["rev-parse", "HEAD"]);
        plant(&ws, ".husky/pre-commit");
        git(&ws, &["commit", "-qm", "lint"]);
        let planted = git(&ws, &["rev-parse", "HEAD"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes[0].contains("refs/heads/main was put back"),
            "{notes:?}"
        );
        // Its reflogs no longer name it (`git checkout -`, `HEAD@{1}`).
        assert!(
            notes
                .iter()
                .any(|n| n.contains("logs/HEAD lost the entries")),
            "{notes:?}"
        );
        assert!(!git(&ws, &["reflog", "show", "--format=%H", "HEAD"]).contains(&planted));
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), before);
        assert_eq!(
            git(
                &ws,
                &[
                    "for-each-ref",
                    "--format=%(objectname)",
                    "refs/cordon/refused/"
                ]
            ),
            planted
        );
        // The index held the planted entry too (the commit was made from it): reset.
        assert!(!git(&ws, &["ls-files", "--", ".husky"]).contains("pre-commit"));
    }

    #[test]
    fn a_planted_index_entry_alone_is_reset_and_a_new_branch_is_removed() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        plant(&ws, ".claude/settings.json");
        let notes = settle(&start, NAMES);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("the index held content"), "{notes:?}");
        assert!(git(&ws, &["ls-files", "--", ".claude"]).is_empty());

        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        plant(&ws, ".vscode/tasks.json");
        let tree = git(&ws, &["write-tree"]);
        let commit = git(&ws, &["commit-tree", &tree, "-p", "HEAD", "-m", "x"]);
        git(&ws, &["update-ref", "refs/heads/feature", &commit]);
        git(&ws, &["reset", "-q"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("refs/heads/feature, made by the run, was removed")),
            "{notes:?}"
        );
        assert!(Command::new("git")
            .args(["rev-parse", "--verify", "-q", "refs/heads/feature"])
            .current_dir(&ws)
            .output()
            .unwrap()
            .stdout
            .is_empty());
    }

    /// Controls: ordinary work moves refs and the index without a note, and so does a commit of
    /// the user's own uncommitted change to a protected file.
    #[test]
    fn ordinary_commits_branches_and_the_users_own_protected_edits_are_left_alone() {
        let (_d, ws) = repo();
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 1\n").unwrap();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        std::fs::write(ws.join("app.py"), "print(2)\n").unwrap();
        git(&ws, &["switch", "-q", "-c", "feature"]);
        git(&ws, &["commit", "-qam", "work and the user's hook edit"]);
        git(&ws, &["branch", "other", "main"]);
        git(&ws, &["tag", "v1"]);
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert!(git(&ws, &["show", "--stat", "HEAD"]).contains(".husky/pre-push"));
        // Positive control: the same run with a planted entry is caught.
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        plant(&ws, ".husky/pre-commit");
        git(&ws, &["commit", "-qm", "lint"]);
        assert!(settle(&start, NAMES)[0].contains("was put back"));
    }

    /// Refs the files do not show (`reftable`; or past the loose refs read cheaply, which an
    /// earlier run could make) are listed by git, and the check holds.
    #[test]
    fn refs_in_the_reftable_format_are_compared_too() {
        let d = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(d.path()).unwrap().join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        let made = Command::new("git")
            .args(["init", "-q", "--ref-format=reftable", "-b", "main"])
            .current_dir(&ws)
            .status()
            .unwrap();
        assert!(
            made.success(),
            "this test needs git 2.45 or later (`--ref-format`)"
        );
        std::fs::write(ws.join("app.py"), "print(1)\n").unwrap();
        git(&ws, &["add", "-A"]);
        git(&ws, &["commit", "-qm", "init"]);
        assert!(
            read_refs(&ws.join(".git")).is_none(),
            "reftable is not read from files"
        );
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        assert_eq!(start.len(), 1);
        plant(&ws, ".husky/pre-commit");
        git(&ws, &["commit", "-qm", "lint"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes[0].contains("refs/heads/main was put back"),
            "{notes:?}"
        );
    }

    /// A submodule's git directory lies under `.git/modules`, its work tree where its
    /// `core.worktree` says: its branches are checked against that work tree (red-team round
    /// seventeen planted a hook on a submodule's branch).
    #[test]
    fn a_submodules_branch_is_checked_against_its_own_work_tree() {
        let (_d, ws, start) = with_submodule();
        let lib = ws.join("lib");
        let before = git(&lib, &["rev-parse", "HEAD"]);
        plant(&lib, ".husky/pre-commit");
        git(&lib, &["commit", "-qm", "lint"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("was put back") && n.contains("/lib:")),
            "{notes:?}"
        );
        assert_eq!(git(&lib, &["rev-parse", "HEAD"]), before);
    }

    /// Red-team round nineteen: `git worktree add` in the run, then the new worktree's
    /// `.husky/pre-commit` rewritten; the repository's `core.hooksPath=.husky` runs it on the
    /// user's next commit there. What git checked out stays; what the run wrote is moved aside.
    #[test]
    fn settings_written_into_a_worktree_made_during_the_run_are_moved_aside() {
        let (_d, ws) = repo();
        git(&ws, &["config", "core.hooksPath", ".husky"]);
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        git(&ws, &["worktree", "add", "-q", "wt", "-b", "feat"]);
        git(&ws, &["worktree", "add", "-q", "clean", "-b", "other"]);
        let wt = ws.join("wt");
        std::fs::write(wt.join(".husky/pre-commit"), "#!/bin/sh\necho PWNED\n").unwrap();
        std::fs::create_dir_all(wt.join(".claude")).unwrap();
        std::fs::write(wt.join(".claude/settings.json"), "{}").unwrap();
        std::fs::write(wt.join("app.py"), "print(2)\n").unwrap();
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("a worktree made during the run")),
            "{notes:?}"
        );
        assert!(!wt.join(".husky/pre-commit").exists());
        assert!(wt.join(".husky/pre-commit.refused-by-cordon").exists());
        assert!(!wt.join(".claude/settings.json").exists());
        // What git checked out, and the worktree's ordinary files, are left alone.
        assert!(wt.join(".husky/pre-push").exists());
        assert_eq!(
            std::fs::read_to_string(wt.join("app.py")).unwrap(),
            "print(2)\n"
        );
        assert!(ws.join("clean/.husky/pre-push").exists());
        assert!(
            !notes.iter().any(|n| n.contains("/clean/")),
            "the untouched worktree was reported: {notes:?}"
        );
    }

    /// Working day eighteen: with a linked worktree as the workspace (beside the repository or
    /// inside it), the repository's git directory is granted and none of its main work tree: the
    /// worktree's own commits and stashes were put back as a subdirectory's. They are judged at
    /// the protected names; the branch checked out in the main work tree is judged whole.
    #[test]
    fn a_worktree_workspaces_own_commits_stand_and_the_main_checkout_is_judged_whole() {
        for inside in [false, true] {
            let (d, ws) = repo();
            let wt = if inside {
                ws.join(".worktrees/topic")
            } else {
                d.path().canonicalize().unwrap().join("wt")
            };
            git(
                &ws,
                &["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "topic"],
            );
            let start = record(&[ws.join(".git")], &[wt.clone(), ws.join(".git")], &[]);
            let main_before = git(&ws, &["rev-parse", "main"]);
            // The agent's work in its worktree: a commit and a stash.
            std::fs::write(wt.join("new.py"), "print(3)\n").unwrap();
            git(&wt, &["add", "new.py"]);
            git(&wt, &["commit", "-qm", "new"]);
            let topic = git(&wt, &["rev-parse", "HEAD"]);
            std::fs::write(wt.join("wip.py"), "wip\n").unwrap();
            git(&wt, &["add", "wip.py"]);
            git(&wt, &["stash", "-q"]);
            let stash = git(&wt, &["rev-parse", "refs/stash"]);
            // And a commit on the main checkout's branch, made with plumbing: the user's next
            // `reset --hard` in the main work tree would write its `app.py` there.
            let tree = {
                let index = d.path().join(format!("index-{inside}"));
                let env_git = |args: &[&str]| {
                    let out = Command::new("git")
                        .args(args)
                        .env("GIT_INDEX_FILE", &index)
                        .current_dir(&ws)
                        .stdin(Stdio::piped())
                        .output()
                        .unwrap();
                    String::from_utf8(out.stdout).unwrap().trim().to_string()
                };
                env_git(&["read-tree", "HEAD"]);
                let planted = write_blob(&ws, b"import os\nos.system('x')\n");
                env_git(&[
                    "update-index",
                    "--cacheinfo",
                    &format!("100644,{planted},app.py"),
                ]);
                env_git(&["write-tree"])
            };
            let commit = git(&ws, &["commit-tree", &tree, "-p", &main_before, "-m", "x"]);
            git(&ws, &["update-ref", "refs/heads/main", &commit]);
            let notes = settle(&start, NAMES);
            assert_eq!(
                git(&wt, &["rev-parse", "topic"]),
                topic,
                "inside={inside}: {notes:?}"
            );
            assert_eq!(git(&wt, &["rev-parse", "refs/stash"]), stash, "{notes:?}");
            assert_eq!(git(&ws, &["rev-parse", "main"]), main_before, "{notes:?}");
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("refs/heads/main was put back")),
                "inside={inside}: {notes:?}"
            );
            assert_eq!(
                notes.iter().filter(|n| n.contains("was put back")).count(),
                1,
                "{notes:?}"
            );
        }
    }

    /// Red-team round twenty-one: a planted commit kept by a notes ref, which `git checkout -`
    /// reaches through a reflog line naming it, or `HEAD` pointed at it; a packed ref listed twice;
    /// a `HEAD` with a second newline. Notes refs are checked, and `HEAD` naming no branch is put
    /// back.
    #[test]
    fn notes_refs_are_checked_and_head_names_a_branch() {
        let (d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        let before = git(&ws, &["rev-parse", "HEAD"]);
        plant(&ws, ".husky/pre-commit");
        let tree = git(&ws, &["write-tree"]);
        git(&ws, &["reset", "-q"]);
        let planted = git(&ws, &["commit-tree", &tree, "-p", &before, "-m", "x"]);
        git(&ws, &["update-ref", "refs/notes/wip", &planted]);
        std::fs::write(ws.join(".git/HEAD"), "ref: refs/notes/wip\n").unwrap();
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("refs/notes/wip, made by the run, was removed")),
            "{notes:?}"
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("HEAD named refs/notes/wip")),
            "{notes:?}"
        );
        assert_eq!(
            std::fs::read_to_string(ws.join(".git/HEAD")).unwrap(),
            "ref: refs/heads/main\n"
        );
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), before);

        // A reflog line's checkout message names refs, which `git checkout -` follows by name.
        let log = d.path().join("log");
        std::fs::write(
            &log,
            format!("{before} {before} u <u@u> 1 +0000\tcheckout: moving from refs/notes/wip to main\n{before} {before} u <u@u> 1 +0000\tcommit: x\n"),
        )
        .unwrap();
        assert_eq!(
            names_in_reflog(&appended_text(&log, 0)),
            ["refs/notes/wip", "main"]
        );
        assert!(names_in_reflog(&appended_text(&log, 200)).is_empty());
        // git's way of reading a ref file, and a packed ref listed twice is git's to read.
        assert_eq!(
            first_line("ref: refs/heads/main\n\n"),
            Some("ref: refs/heads/main")
        );
        assert_eq!(first_line("0123\nx\n"), None);
        let packed = d.path().canonicalize().unwrap().join("packed");
        std::fs::create_dir_all(packed.join("refs")).unwrap();
        std::fs::write(packed.join("HEAD"), format!("{before}\n")).unwrap();
        std::fs::write(
            packed.join("packed-refs"),
            format!("{before} refs/heads/a\n{planted} refs/heads/a\n"),
        )
        .unwrap();
        assert!(read_refs(&packed).is_none());
        // Control: listed once, it is read here.
        std::fs::write(
            packed.join("packed-refs"),
            format!("{before} refs/heads/a\n"),
        )
        .unwrap();
        assert_eq!(read_refs(&packed).unwrap()["refs/heads/a"], before);
    }

    /// Working day twenty-one: a known commit the object store no longer holds made `git log`
    /// fail, and the check put back every commit of the run. It is left out of the negations.
    #[test]
    fn a_known_commit_gone_from_the_store_does_not_fail_the_check() {
        let (_d, ws) = repo();
        let mut start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        start[0]
            .known
            .insert("1111111111111111111111111111111111111111".into());
        let before = git(&ws, &["rev-parse", "HEAD"]);
        std::fs::write(ws.join("app.py"), "print(2)\n").unwrap();
        git(&ws, &["commit", "-qam", "ordinary"]);
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert_ne!(git(&ws, &["rev-parse", "HEAD"]), before);
    }

    /// Red-team round twenty-one: the checked-out branch made a symbolic ref to a new branch, or
    /// `HEAD` led to one through a chain of symbolic refs. Each is read as git resolves it, so
    /// the branch counts as moved and is put back.
    #[test]
    fn symbolic_refs_are_read_as_git_resolves_them() {
        let (_d, ws) = repo();
        let git_dir = ws.join(".git");
        let start = record(
            std::slice::from_ref(&git_dir),
            std::slice::from_ref(&ws),
            &[],
        );
        let before = git(&ws, &["rev-parse", "HEAD"]);
        plant(&ws, ".husky/pre-commit");
        let tree = git(&ws, &["write-tree"]);
        git(&ws, &["reset", "-q"]);
        let planted = git(&ws, &["commit-tree", &tree, "-p", &before, "-m", "x"]);
        git(&ws, &["update-ref", "refs/heads/evil", &planted]);
        std::fs::write(git_dir.join("refs/heads/alias"), "ref: refs/heads/evil\n").unwrap();
        std::fs::write(git_dir.join("refs/heads/main"), "ref: refs/heads/alias\n").unwrap();
        let refs = read_refs(&git_dir).unwrap();
        for name in ["refs/heads/main", "refs/heads/alias", "HEAD"] {
            assert_eq!(refs[name], planted, "{name}");
        }
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("refs/heads/main was put back")),
            "{notes:?}"
        );
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), before, "{notes:?}");
        assert_eq!(
            std::fs::read_to_string(git_dir.join("refs/heads/main")).unwrap(),
            format!("{before}\n")
        );
        // Deeper than git follows, or leading nowhere: git's to read.
        for (name, next) in [("a", "b"), ("b", "c"), ("c", "d"), ("d", "e"), ("e", "f")] {
            std::fs::write(
                git_dir.join(format!("refs/heads/{name}")),
                format!("ref: refs/heads/{next}\n"),
            )
            .unwrap();
        }
        // a to e are five symbolic refs: git reads five refs and gives up.
        std::fs::write(git_dir.join("refs/heads/f"), format!("{before}\n")).unwrap();
        assert!(read_refs(&git_dir).is_none());
        std::fs::write(git_dir.join("refs/heads/e"), format!("{before}\n")).unwrap();
        assert_eq!(read_refs(&git_dir).unwrap()["refs/heads/a"], before);
        assert_eq!(
            git(&ws, &["rev-parse", "refs/heads/a"]),
            before,
            "four symbolic refs and then a commit: git resolves them"
        );
        std::fs::write(git_dir.join("refs/heads/b"), "ref: refs/heads/nowhere\n").unwrap();
        assert!(read_refs(&git_dir).is_none());
    }

    /// A superproject with `lib` as a submodule, recorded as a run starts: its tempdir, work
    /// tree and the records.
    fn with_submodule() -> (tempfile::TempDir, PathBuf, Vec<AtStart>) {
        let (d, ws) = repo();
        let src = d.path().canonicalize().unwrap().join("libsrc");
        std::fs::create_dir_all(&src).unwrap();
        git(&src, &["init", "-q", "-b", "main"]);
        std::fs::write(src.join("lib.c"), "int x;\n").unwrap();
        git(&src, &["add", "-A"]);
        git(&src, &["commit", "-qm", "lib"]);
        git(
            &ws,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                src.to_str().unwrap(),
                "lib",
            ],
        );
        git(&ws, &["commit", "-qm", "add lib"]);
        let start = record(
            &[ws.join(".git"), ws.join(".git/modules/lib")],
            std::slice::from_ref(&ws),
            &[],
        );
        assert_eq!(start.len(), 2);
        (d, ws, start)
    }

    /// Red-team round eighteen: the submodule's planted commit was refused, and a gitlink the
    /// superproject committed to it (which git found reachable from the ref keeping it) had the
    /// user's `git submodule update` check it out. The gitlink is judged by the submodule's own
    /// check, in a commit and in the index, whether or not a ref reaches its commit.
    #[test]
    fn a_gitlink_to_a_commit_the_submodule_refuses_is_refused_too() {
        let (_d, ws, start) = with_submodule();
        let lib = ws.join("lib");
        let lib_before = git(&lib, &["rev-parse", "HEAD"]);
        let before = git(&ws, &["rev-parse", "HEAD"]);
        // A commit on a new branch of lib (refused and kept), bumped and committed above.
        git(&lib, &["checkout", "-q", "-b", "lint"]);
        plant(&lib, ".husky/pre-commit");
        git(&lib, &["commit", "-qm", "lint"]);
        let planted = git(&lib, &["rev-parse", "HEAD"]);
        git(&ws, &["add", "lib"]);
        git(&ws, &["commit", "-qm", "bump lib"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("refs/heads/main was put back") && n.contains("/ws:")),
            "{notes:?}"
        );
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), before);
        let staged = git(&ws, &["ls-files", "-s", "lib"]);
        assert!(!staged.contains(&planted), "{staged}");
        assert!(staged.contains(&lib_before), "{staged}");

        // A commit no ref reaches (`commit-tree`), set as the index's gitlink alone.
        let (_d, ws, start) = with_submodule();
        let lib = ws.join("lib");
        plant(&lib, ".husky/pre-commit");
        let tree = git(&lib, &["write-tree"]);
        let head = git(&lib, &["rev-parse", "HEAD"]);
        let loose = git(&lib, &["commit-tree", &tree, "-p", &head, "-m", "x"]);
        git(&lib, &["reset", "-q"]);
        git(
            &ws,
            &[
                "update-index",
                "--cacheinfo",
                &format!("160000,{loose},lib"),
            ],
        );
        let notes = settle(&start, NAMES);
        assert!(
            notes.iter().any(|n| n.contains("gitlink at lib")),
            "{notes:?}"
        );
        let staged = git(&ws, &["ls-files", "-s", "lib"]);
        assert!(
            !staged.contains(&loose) && staged.contains(&head),
            "{staged}"
        );
    }

    /// The control: an ordinary bump, to a submodule commit that changes no controlled path, is
    /// left alone in the commit and in the index, also beside another repository, which does not
    /// hold the commit (working day eighteen and red-team round twenty: `git log` there failed on
    /// the unknown object, and every gitlink was reset and every bump put back).
    #[test]
    fn an_ordinary_gitlink_bump_is_left_alone() {
        let (_d, ws, start) = with_submodule();
        let other = ws.join("other");
        std::fs::create_dir_all(&other).unwrap();
        git(&other, &["init", "-q", "-b", "main"]);
        git(&other, &["commit", "-q", "--allow-empty", "-m", "o"]);
        let mut start = start;
        start.extend(record(
            &[other.join(".git")],
            std::slice::from_ref(&ws),
            &[],
        ));
        assert_eq!(start.len(), 3, "the other repository is recorded");
        let lib = ws.join("lib");
        std::fs::write(lib.join("lib.c"), "int y;\n").unwrap();
        git(&lib, &["commit", "-qam", "y"]);
        let bumped = git(&lib, &["rev-parse", "HEAD"]);
        git(&ws, &["add", "lib"]);
        git(&ws, &["commit", "-qm", "bump lib"]);
        let committed = git(&ws, &["rev-parse", "HEAD"]);
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), committed);
        assert!(git(&ws, &["ls-files", "-s", "lib"]).contains(&bumped));
    }

    /// Working day seventeen's false positives: a person's staged edit to a protected file that
    /// the agent's commit carries, a fetch of a teammate's branch that changes one, and a linked
    /// worktree's own commits are left alone.
    #[test]
    fn a_persons_staging_a_fetch_and_a_linked_worktree_are_left_alone() {
        let (d, ws) = repo();
        // Staged by the person before the run, then edited again.
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 2\n").unwrap();
        git(&ws, &["add", ".husky/pre-push"]);
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 3\n").unwrap();
        // A teammate's repository, fetched from.
        let mate = d.path().canonicalize().unwrap().join("mate");
        git(
            d.path(),
            &["clone", "-q", ws.to_str().unwrap(), mate.to_str().unwrap()],
        );
        std::fs::write(mate.join(".husky/pre-push"), "#!/bin/sh\nexit 4\n").unwrap();
        git(&mate, &["commit", "-qam", "teammate"]);
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        std::fs::write(ws.join("app.py"), "print(3)\n").unwrap();
        git(&ws, &["add", "app.py"]);
        git(
            &ws,
            &[
                "commit",
                "-qm",
                "agent work, carrying the person's staged hook",
            ],
        );
        git(
            &ws,
            &[
                "fetch",
                "-q",
                mate.to_str().unwrap(),
                "main:refs/remotes/mate/main",
            ],
        );
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert!(git(&ws, &["log", "-1", "--format=%s"]).starts_with("agent work"));

        // A linked worktree elsewhere is the workspace: the main work tree is not the one to
        // compare its commits with.
        let wt = d.path().canonicalize().unwrap().join("wt");
        git(
            &ws,
            &["worktree", "add", "-q", "-b", "topic", wt.to_str().unwrap()],
        );
        let start = record(&[ws.join(".git")], std::slice::from_ref(&wt), &[]);
        std::fs::write(wt.join("app.py"), "print(4)\n").unwrap();
        git(&wt, &["commit", "-qam", "in the worktree"]);
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(git(&wt, &["log", "-1", "--format=%s"]), "in the worktree");
    }

    /// A merge stopped on a conflict at a protected path: its stages are git's, not content to
    /// reset (working day seventeen: the conflict collapsed to "ours").
    #[test]
    fn a_conflict_in_progress_is_left_to_git() {
        let (_d, ws) = repo();
        git(&ws, &["switch", "-q", "-c", "side"]);
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 5\n").unwrap();
        git(&ws, &["commit", "-qam", "side"]);
        git(&ws, &["switch", "-q", "main"]);
        std::fs::write(ws.join(".husky/pre-push"), "#!/bin/sh\nexit 6\n").unwrap();
        git(&ws, &["commit", "-qam", "main"]);
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        let merged = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "merge",
                "-q",
                "side",
            ])
            .current_dir(&ws)
            .output()
            .unwrap();
        assert!(!merged.status.success(), "the merge conflicts");
        let stages = git(&ws, &["ls-files", "-s", "--", ".husky/pre-push"]);
        let notes = settle(&start, NAMES);
        assert!(notes.iter().all(|n| !n.contains("index")), "{notes:?}");
        assert_eq!(
            git(&ws, &["ls-files", "-s", "--", ".husky/pre-push"]),
            stages
        );
    }

    /// Round eighteen: a submodule git directory made under `.git/modules` with a
    /// `post-checkout`, which the user's `git submodule update --init` would reuse and run.
    #[test]
    fn a_new_submodule_git_directory_keeps_no_hook() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        let module = ws.join(".git/modules/lib");
        git(&ws, &["init", "-q", "--bare", module.to_str().unwrap()]);
        std::fs::write(
            module.join("hooks/post-checkout"),
            "#!/bin/sh\ntouch pwned\n",
        )
        .unwrap();
        let notes = settle(&start, NAMES);
        assert!(
            notes.iter().any(|n| n.contains("holds a hook")),
            "{notes:?}"
        );
        assert!(!module.join("hooks/post-checkout").exists());
        assert!(module
            .join("hooks.refused-by-cordon/post-checkout")
            .exists());
        // Control: one that was there when the run began is the user's.
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        std::fs::create_dir_all(module.join("hooks")).unwrap();
        std::fs::write(module.join("hooks/post-checkout"), "#!/bin/sh\n").unwrap();
        assert!(settle(&start, NAMES).is_empty());
    }

    /// Round eighteen: a tag of a tree holding the hook, for `git checkout TAG -- .` to write.
    #[test]
    fn a_ref_to_a_tree_is_put_back() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        plant(&ws, ".husky/pre-commit");
        let tree = git(&ws, &["write-tree"]);
        git(&ws, &["reset", "-q"]);
        git(&ws, &["update-ref", "refs/tags/lint-config", &tree]);
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("refs/tags/lint-config, made by the run, was removed")),
            "{notes:?}"
        );
        // Control: a tag of a commit the repository knew stays.
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        git(&ws, &["tag", "v1"]);
        assert!(settle(&start, NAMES).is_empty());
    }

    /// The checks run git outside the sandbox: never one the command could have written (a
    /// `bin` of the workspace first on the `PATH`, as direnv or a Makefile might put it).
    #[test]
    fn the_git_the_checks_run_is_never_in_a_writable_root() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path().canonicalize().unwrap().join("ws");
        std::fs::create_dir_all(ws.join("bin")).unwrap();
        let planted = ws.join("bin/git");
        std::fs::write(&planted, "#!/bin/sh\ntouch pwned\n").unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).unwrap();
        let system = std::env::var_os("PATH").unwrap();
        let mut dirs = vec![ws.join("bin"), PathBuf::from("bin")];
        dirs.extend(std::env::split_paths(&system));
        let path = std::env::join_paths(dirs).unwrap();
        let git = trusted_git_on(&path, std::slice::from_ref(&ws)).unwrap();
        assert!(!git.starts_with(&ws), "{}", git.display());
        // Control: with no writable root, the first on the PATH is taken.
        assert_eq!(trusted_git_on(&path, &[]), Some(planted));
    }

    #[test]
    fn a_replace_ref_is_always_put_back() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws), &[]);
        let head = git(&ws, &["rev-parse", "HEAD"]);
        let tree = git(&ws, &["write-tree"]);
        let other = git(&ws, &["commit-tree", &tree, "-m", "other"]);
        git(&ws, &["replace", &head, &other]);
        let notes = settle(&start, NAMES);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("read one object as another")),
            "{notes:?}"
        );
        assert!(git(&ws, &["replace", "-l"]).is_empty());
    }
}
