//! What a command leaves in a protected repository's history for the user's own git to write
//! into the work tree later.
//!
//! The sandbox keeps a project's protected names (`.husky`, `.claude`, `.vscode`, …) read-only in
//! the work tree, but objects, the index and refs must stay writable for `git commit` to work. So
//! a command can commit any content at those paths with git's plumbing (`hash-object`,
//! `update-index --cacheinfo`, `commit-tree`, `update-ref`) without touching the work tree, and
//! the user's next ordinary `git stash`, `checkout .`, `reset --hard` or branch switch writes it
//! there, outside any sandbox (red-team round sixteen: a `.husky/pre-commit` committed so ran on
//! the user's next `git commit`). Porcelain cannot produce such a change in a hardened run: it
//! would have to write the protected file, which fails with EROFS.
//!
//! So when a run starts, each protected repository's refs are read (loose and packed, `HEAD`
//! resolved); when it ends, they are read again. For every ref that moved to a commit the
//! repository did not hold at a ref before, the protected entries of its tree are compared with
//! what the user had: the work tree's files (which the run could not change), and the same paths
//! in `HEAD` as the run started and in the ref's old commit. An entry that matches none of these
//! is content the command made: the ref is put back (or removed, if the run made it) and the
//! commit is kept under `refs/cordon/refused/`, for the user to look at. A new or moved
//! `refs/replace/*` ref, which makes git read one object as another everywhere, is always put
//! back. Index entries at protected paths that match neither the work tree nor `HEAD` are reset
//! to `HEAD`'s (`git reset -- PATH`). The report's notes say each.
//!
//! git is run outside the sandbox on the repository's own (protected) configuration, with no hook
//! (`core.hooksPath=/dev/null`), no monitor, no replace objects, and neither the system's nor the
//! user's global configuration. Refs in the `reftable` format, or more loose ones than are read
//! cheaply, are listed by git. Not covered: an object file the command rewrote in place (git does
//! not check a loose object's hash when it reads it), and linked worktrees' own `HEAD` and index.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::git_index::Index;

/// The most ref files read from one repository's `refs/`.
const MAX_LOOSE_REFS: usize = 100_000;

/// The largest ref file or `packed-refs` read.
const MAX_REF_FILE: u64 = 64 << 20;

/// The largest protected file hashed to compare with an entry; a larger one matches nothing.
const MAX_HASHED: u64 = 16 << 20;

/// Where refused commits are kept.
const REFUSED_PREFIX: &str = "refs/cordon/refused/";

/// One protected repository as the run found it.
pub(crate) struct AtStart {
    git_dir: PathBuf,
    work_tree: PathBuf,
    /// Work-tree-relative directories whose protected names the sandbox keeps read-only: the
    /// work tree's root, and each writable root inside it (a workspace that is a subdirectory).
    prefixes: Vec<PathBuf>,
    refs: BTreeMap<String, String>,
    index: Option<(u64, u64, i64, i64)>,
}

/// Reads the refs of each main git directory in `git_dirs` (a `.git` directory; linked
/// worktrees' and submodules' are left out), for [`settle`] to compare with after the run.
pub(crate) fn record(git_dirs: &[PathBuf], write_roots: &[PathBuf]) -> Vec<AtStart> {
    git_dirs
        .iter()
        .filter(|g| g.file_name() == Some(OsStr::new(".git")))
        .filter_map(|git_dir| {
            let work_tree = git_dir.parent()?.to_path_buf();
            let refs = all_refs(git_dir, &work_tree)?;
            let mut prefixes = vec![PathBuf::new()];
            for root in write_roots {
                if let Ok(rel) = root.strip_prefix(&work_tree) {
                    if !rel.as_os_str().is_empty() && !prefixes.iter().any(|p| p == rel) {
                        prefixes.push(rel.to_path_buf());
                    }
                }
            }
            Some(AtStart {
                index: stamp(&git_dir.join("index")),
                git_dir: git_dir.clone(),
                work_tree,
                prefixes,
                refs,
            })
        })
        .collect()
}

/// After the run: puts back what it made at protected paths in each repository's refs and index
/// (module docs). Returns the report's notes.
pub(crate) fn settle(repositories: &[AtStart], names: &[&str]) -> Vec<String> {
    let mut notes = Vec::new();
    for start in repositories {
        let Some(end) = all_refs(&start.git_dir, &start.work_tree) else {
            notes.push(format!(
                "{}: its refs could not be read after the run, so commits made at protected paths were not looked for",
                start.git_dir.display()
            ));
            continue;
        };
        let moved: Vec<(&String, &String)> = end
            .iter()
            .filter(|(name, oid)| start.refs.get(*name) != Some(*oid))
            .collect();
        let index_changed = stamp(&start.git_dir.join("index")) != start.index;
        if moved.is_empty() && !index_changed {
            continue;
        }
        let repo = Repository { start, names };
        repo.settle(&moved, index_changed, &mut notes);
    }
    notes
}

struct Repository<'a> {
    start: &'a AtStart,
    names: &'a [&'a str],
}

/// A path's entry as git would write it: whether it is executable, a link or a file, and its
/// object id. `None`: no entry.
type State = Option<(u32, String)>;

impl Repository<'_> {
    fn settle(&self, moved: &[(&String, &String)], index_changed: bool, notes: &mut Vec<String>) {
        let known: BTreeSet<&String> = self.start.refs.values().collect();
        // Listed only when something needs it: most runs that move a ref commit nothing new at
        // a protected path, but telling takes this listing, a git process.
        let mut head_entries: Option<BTreeMap<PathBuf, (u32, String)>> = None;
        let mut head = || -> Option<BTreeMap<PathBuf, (u32, String)>> {
            if head_entries.is_none() {
                head_entries = match self.start.refs.get("HEAD") {
                    Some(oid) => self.entries(oid),
                    None => Some(BTreeMap::new()),
                };
            }
            head_entries.clone()
        };
        // `HEAD` on a branch moves with it, and the branch is put back; a detached `HEAD` is a
        // ref of its own.
        let detached = read_small(&self.start.git_dir.join("HEAD"))
            .is_some_and(|head| !head.starts_with(b"ref: "));
        for (name, oid) in moved {
            if name.as_str() == "HEAD" && !detached {
                continue;
            }
            let replace = name.starts_with("refs/replace/");
            if name.starts_with(REFUSED_PREFIX) || (!replace && known.contains(oid)) {
                continue;
            }
            let old = self.start.refs.get(*name);
            let made = if replace {
                Some("it makes git read one object as another".to_string())
            } else {
                match head() {
                    Some(head) => self.made_content(oid, old, &head),
                    None => Some("HEAD's tree, to compare it with, could not be listed".into()),
                }
            };
            if let Some(why) = made {
                notes.push(self.put_back(name, oid, old, &why));
            }
        }
        if index_changed {
            self.settle_index(&mut head, notes);
        }
    }

    /// Why the commit `oid` holds content the command made at a protected path, if it does.
    fn made_content(
        &self,
        oid: &str,
        old: Option<&String>,
        head: &BTreeMap<PathBuf, (u32, String)>,
    ) -> Option<String> {
        let Some(tip) = self.entries(oid) else {
            return Some("its tree could not be listed".into());
        };
        let old = old.and_then(|o| self.entries(o)).unwrap_or_default();
        let mut paths: BTreeSet<&PathBuf> = tip.keys().chain(head.keys()).collect();
        let in_work_tree = self.work_tree_files();
        paths.extend(in_work_tree.iter());
        for path in paths {
            let state: State = tip.get(path).cloned();
            let accepted = state == self.work_tree_state(path)
                || state == head.get(path).cloned()
                || state == old.get(path).cloned();
            if !accepted {
                return Some(format!(
                    "it sets {} to content you did not have",
                    path.display()
                ));
            }
        }
        None
    }

    /// Moves `name` back to `old` (or removes it when the run made it), keeping `oid` under
    /// [`REFUSED_PREFIX`]; the note says what happened.
    fn put_back(&self, name: &str, oid: &str, old: Option<&String>, why: &str) -> String {
        let kept = format!(
            "{REFUSED_PREFIX}{}",
            name.strip_prefix("refs/").unwrap_or(name)
        );
        let saved = self.git(&["update-ref", &kept, oid]).is_some();
        let restored = match (name, old) {
            ("HEAD", Some(old)) => self.git(&["update-ref", "--no-deref", "HEAD", old]),
            (_, Some(old)) => self.git(&["update-ref", name, old]),
            (_, None) => self.git(&["update-ref", "-d", name]),
        }
        .is_some();
        let kept_note = if saved {
            format!("the commit is kept as {kept}")
        } else {
            format!("commit {oid}")
        };
        match (restored, old) {
            (true, Some(old)) => self.note(&format!(
                "{name} was put back to {old}: the run moved it to a commit at which {why}, which your own git would write into the work tree outside any sandbox; {kept_note}"
            )),
            (true, None) => self.note(&format!(
                "{name}, made by the run, was removed: {why}, which your own git would write into the work tree outside any sandbox; {kept_note}"
            )),
            (false, _) => self.note(&format!(
                "{name} points at a commit at which {why}, and could not be put back: do not check it out ({kept_note})"
            )),
        }
    }

    /// Index entries at protected paths that hold neither the work tree's nor `HEAD`'s content
    /// are reset to `HEAD`'s.
    fn settle_index(
        &self,
        head: &mut dyn FnMut() -> Option<BTreeMap<PathBuf, (u32, String)>>,
        notes: &mut Vec<String>,
    ) {
        let Some(index) = Index::read(&self.start.git_dir) else {
            return;
        };
        let unlike_work_tree: Vec<(PathBuf, String)> = index
            .entries()
            .map(|(path, oid)| (PathBuf::from(OsStr::from_bytes(path)), hex(oid)))
            .filter(|(path, oid)| {
                self.protected(path) && self.work_tree_state(path).is_none_or(|(_, id)| id != *oid)
            })
            .collect();
        if unlike_work_tree.is_empty() {
            return;
        }
        let head = head().unwrap_or_default();
        let reset: Vec<PathBuf> = unlike_work_tree
            .into_iter()
            .filter(|(path, oid)| head.get(path).is_none_or(|(_, id)| id != oid))
            .map(|(path, _)| path)
            .collect();
        if reset.is_empty() {
            return;
        }
        let mut args = vec!["reset".to_string(), "-q".into(), "--".into()];
        args.extend(reset.iter().map(|p| literal(p)));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = self.git(&args).is_some();
        let shown: Vec<String> = reset.iter().map(|p| p.display().to_string()).collect();
        notes.push(self.note(&format!(
            "the index held content the run made at {} (a protected path, which your own git would write into the work tree outside any sandbox){}",
            shown.join(", "),
            if done { "; reset to HEAD's" } else { "; it could not be reset: run `git reset -- PATH` before `git checkout` or `git stash`" }
        )));
    }

    /// The entries of `rev`'s tree at protected paths, by path.
    fn entries(&self, rev: &str) -> Option<BTreeMap<PathBuf, (u32, String)>> {
        let mut args = vec![
            "ls-tree".to_string(),
            "-r".into(),
            "-z".into(),
            "--full-tree".into(),
            format!("{rev}^{{tree}}"),
            "--".into(),
        ];
        args.extend(self.pathspecs());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git(&args)?;
        let mut entries = BTreeMap::new();
        for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let text = std::str::from_utf8(record).ok()?;
            let (meta, path) = text.split_once('\t')?;
            let mut fields = meta.split(' ');
            let (mode, _kind, oid) = (fields.next()?, fields.next()?, fields.next()?);
            entries.insert(PathBuf::from(path), (mode_class(mode), oid.to_string()));
        }
        Some(entries)
    }

    /// The protected files in the work tree (relative paths), as found now.
    fn work_tree_files(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for prefix in &self.start.prefixes {
            for name in self.names {
                let mut pending = vec![prefix.join(name)];
                while let Some(rel) = pending.pop() {
                    let Ok(meta) = std::fs::symlink_metadata(self.start.work_tree.join(&rel))
                    else {
                        continue;
                    };
                    if meta.is_dir() {
                        let Ok(children) = std::fs::read_dir(self.start.work_tree.join(&rel))
                        else {
                            continue;
                        };
                        for child in children.flatten().take(10_000) {
                            pending.push(rel.join(child.file_name()));
                        }
                    } else if found.len() < 10_000 {
                        found.push(rel);
                    }
                }
            }
        }
        found
    }

    /// The state git would give the work tree's file at `path`.
    fn work_tree_state(&self, path: &Path) -> State {
        let file = self.start.work_tree.join(path);
        let meta = std::fs::symlink_metadata(&file).ok()?;
        let sha256 = crate::git_index::object_name_len(&self.start.git_dir) == 32;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&file).ok()?;
            return Some((
                2,
                crate::git_index::blob_id_of(target.as_os_str().as_bytes(), sha256),
            ));
        }
        if !meta.is_file() || meta.len() > MAX_HASHED {
            return None;
        }
        let executable = meta.permissions().mode() & 0o111 != 0;
        let bytes = std::fs::read(&file).ok()?;
        Some((
            u32::from(executable),
            crate::git_index::blob_id_of(&bytes, sha256),
        ))
    }

    /// Whether `path` (work-tree-relative) is or lies in a protected name at a protected prefix.
    fn protected(&self, path: &Path) -> bool {
        self.start.prefixes.iter().any(|prefix| {
            path.strip_prefix(prefix).is_ok_and(|rest| {
                rest.iter()
                    .next()
                    .is_some_and(|first| self.names.iter().any(|n| OsStr::new(n) == first))
            })
        })
    }

    fn pathspecs(&self) -> Vec<String> {
        self.start
            .prefixes
            .iter()
            .flat_map(|prefix| {
                self.names
                    .iter()
                    .map(move |name| literal(&prefix.join(name)))
            })
            .collect()
    }

    /// Runs git on the repository (module docs); its standard output when it succeeded.
    fn git(&self, args: &[&str]) -> Option<Vec<u8>> {
        let out = Command::new("git")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_NO_REPLACE_OBJECTS", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .arg("--git-dir")
            .arg(&self.start.git_dir)
            .arg("--work-tree")
            .arg(&self.start.work_tree)
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
            ])
            .arg("--no-optional-locks")
            .args(args)
            .current_dir(&self.start.work_tree)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status.success().then_some(out.stdout)
    }

    fn note(&self, what: &str) -> String {
        format!("{}: {what}", self.start.work_tree.display())
    }
}

/// A pathspec that matches `path` and what lies beneath it, with no glob.
fn literal(path: &Path) -> String {
    format!(":(literal){}", path.display())
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file's device, inode, size and change time: a rewritten index differs in one of them.
fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    Some((meta.ino(), meta.size(), meta.ctime(), meta.ctime_nsec()))
}

/// The repository's refs by name (`HEAD` resolved to its commit): read from the files where
/// that is cheap, else from git (refs in the `reftable` format, or more loose refs than
/// [`MAX_LOOSE_REFS`], which an earlier run could have made to turn the reading off).
fn all_refs(git_dir: &Path, work_tree: &Path) -> Option<BTreeMap<String, String>> {
    read_refs(git_dir).or_else(|| refs_from_git(git_dir, work_tree))
}

/// The refs as `git for-each-ref` lists them, and `HEAD`.
fn refs_from_git(git_dir: &Path, work_tree: &Path) -> Option<BTreeMap<String, String>> {
    let start = AtStart {
        git_dir: git_dir.to_path_buf(),
        work_tree: work_tree.to_path_buf(),
        prefixes: Vec::new(),
        refs: BTreeMap::new(),
        index: None,
    };
    let repo = Repository {
        start: &start,
        names: &[],
    };
    let listed = repo.git(&["for-each-ref", "--format=%(objectname) %(refname)"])?;
    let mut refs = BTreeMap::new();
    for line in String::from_utf8_lossy(&listed).lines() {
        if let Some((oid, name)) = line.split_once(' ') {
            if is_oid(oid) {
                refs.insert(name.to_string(), oid.to_string());
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
/// loose files under `refs/`; `None` for refs kept in a format this does not read (`reftable`)
/// or past [`MAX_LOOSE_REFS`] loose ones.
fn read_refs(git_dir: &Path) -> Option<BTreeMap<String, String>> {
    if git_dir.join("reftable").exists() {
        return None;
    }
    let mut refs = BTreeMap::new();
    if let Some(packed) = read_small(&git_dir.join("packed-refs")) {
        for line in packed.split(|&b| b == b'\n') {
            if line.starts_with(b"#") || line.starts_with(b"^") {
                continue;
            }
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            if let Some((oid, name)) = line.split_once(' ') {
                if is_oid(oid) {
                    refs.insert(name.to_string(), oid.to_string());
                }
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
        for child in children.flatten() {
            if budget == 0 {
                return None;
            }
            budget -= 1;
            let name = rel.join(child.file_name());
            let Ok(kind) = child.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(name);
            } else if kind.is_file() {
                let Some(text) = read_small(&git_dir.join(&name)) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&text).trim().to_string();
                let name = name.to_string_lossy().into_owned();
                if is_oid(&text) {
                    refs.insert(name, text);
                } else if let Some(target) = text.strip_prefix("ref: ") {
                    symbolic.push((name, target.to_string()));
                }
            }
        }
    }
    for (name, target) in symbolic {
        if let Some(oid) = refs.get(&target).cloned() {
            refs.insert(name, oid);
        }
    }
    if let Some(head) = read_small(&git_dir.join("HEAD")) {
        let head = String::from_utf8_lossy(&head).trim().to_string();
        let oid = match head.strip_prefix("ref: ") {
            Some(target) => refs.get(target).cloned(),
            None => is_oid(&head).then_some(head),
        };
        if let Some(oid) = oid {
            refs.insert("HEAD".into(), oid);
        }
    }
    Some(refs)
}

fn read_small(path: &Path) -> Option<Vec<u8>> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_REF_FILE {
        return None;
    }
    std::fs::read(path).ok()
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

    /// The plumbing the command would run: a blob at a protected path, committed without the
    /// work tree.
    fn plant(ws: &Path, path: &str) -> String {
        let blob = Command::new("git")
            .args(["hash-object", "-w", "--stdin"])
            .current_dir(ws)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write as _;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(b"#!/bin/sh\necho PWNED\n")?;
                c.wait_with_output()
            })
            .unwrap();
        let blob = String::from_utf8(blob.stdout).unwrap().trim().to_string();
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
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
        assert_eq!(start.len(), 1);
        let before = git(&ws, &["rev-parse", "HEAD"]);
        plant(&ws, ".husky/pre-commit");
        git(&ws, &["commit", "-qm", "lint"]);
        let planted = git(&ws, &["rev-parse", "HEAD"]);
        let notes = settle(&start, NAMES);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("refs/heads/main was put back"),
            "{notes:?}"
        );
        assert_eq!(git(&ws, &["rev-parse", "HEAD"]), before);
        assert_eq!(
            git(&ws, &["rev-parse", "refs/cordon/refused/heads/main"]),
            planted
        );
        // The index held the planted entry too (the commit was made from it): reset.
        assert!(!git(&ws, &["ls-files", "--", ".husky"]).contains("pre-commit"));
    }

    #[test]
    fn a_planted_index_entry_alone_is_reset_and_a_new_branch_is_removed() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
        plant(&ws, ".claude/settings.json");
        let notes = settle(&start, NAMES);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("the index held content"), "{notes:?}");
        assert!(git(&ws, &["ls-files", "--", ".claude"]).is_empty());

        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
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
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
        std::fs::write(ws.join("app.py"), "print(2)\n").unwrap();
        git(&ws, &["switch", "-q", "-c", "feature"]);
        git(&ws, &["commit", "-qam", "work and the user's hook edit"]);
        git(&ws, &["branch", "other", "main"]);
        git(&ws, &["tag", "v1"]);
        let notes = settle(&start, NAMES);
        assert!(notes.is_empty(), "{notes:?}");
        assert!(git(&ws, &["show", "--stat", "HEAD"]).contains(".husky/pre-push"));
        // Positive control: the same run with a planted entry is caught.
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
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
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
        assert_eq!(start.len(), 1);
        plant(&ws, ".husky/pre-commit");
        git(&ws, &["commit", "-qm", "lint"]);
        let notes = settle(&start, NAMES);
        assert!(
            notes[0].contains("refs/heads/main was put back"),
            "{notes:?}"
        );
    }

    #[test]
    fn a_replace_ref_is_always_put_back() {
        let (_d, ws) = repo();
        let start = record(&[ws.join(".git")], std::slice::from_ref(&ws));
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
