//! The run-start search of the writable roots: where the project roots are (directories holding a
//! `.git`) and which files are named like credentials (the envelope's never names: `.env`,
//! `*.pem`, `id_rsa*`).
//!
//! Every directory below each root is searched, breadth first, so the shallow ones come first:
//! not following symlinks, not crossing into another filesystem, and not entering `.git`, the
//! protected names or [`SEARCH_SKIPPED`], up to [`MAX_SEARCHED_DIRS`] directories in all. A bound
//! on depth or a small bound on directories would be a hole: a command can pad the workspace with
//! directories until a secret lies beyond it (red-team round 3 did, with 12,000 empty ones).
//!
//! Reading every directory on every run would cost milliseconds in a workspace of a few thousand
//! directories, so what each one held is remembered between runs, in a file of the workspace's
//! own inside cordon's home (a never path: no command can write it), and read again only when
//! the directory changed. A directory's change time moves whenever an entry is added, removed or
//! renamed in it, and no call can set it back (`utimensat` sets it to now), so a directory with
//! the inode and change time remembered holds the names remembered. Two rules keep that true:
//! - the directory is looked at before it is read, so a change after the look is either in the
//!   listing or moves the change time past the one remembered;
//! - a directory changed within the last [`SETTLING`] is not remembered, because two changes in
//!   one tick of a coarse clock share a change time (git's "racy" index entries, the same way).
//!
//! Files named like credentials that a run found are remembered too, and stood in for on every
//! later run while they exist, however the workspace has grown since: padding added after a
//! secret was first seen does not hide it.

use std::collections::{HashSet, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io::{Read as _, Write as _};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cordon_core::name_glob::NameGlobs;
use fnv::{FnvHashMap, FnvHashSet};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode};

/// How many directories the search looks at, over all writable roots, before it stops. A
/// directory remembered unchanged costs one `stat` (about a microsecond), one read again about
/// six: 50,000 directories cost some 50 ms a run once remembered. The cut is noted and warned of.
pub const MAX_SEARCHED_DIRS: usize = 50_000;

/// Directories the search does not enter: build output and dependency caches, which are large
/// and are not where a project keeps its own repositories or secrets.
pub const SEARCH_SKIPPED: &[&str] = &["node_modules", "target", ".venv", "__pycache__"];

/// Certificate bundles a credential-name glob (`*.pem`) matches but that hold only public
/// certificates: pip's and certifi's `cacert.pem` in every virtual environment, the system's
/// bundles copied into a project. Stood in for, they broke TLS for the program that reads them
/// and made the directory holding them impossible to remove (working days nineteen and
/// twenty-one: `rm -rf env`). By exact name only.
pub const PUBLIC_CERTIFICATE_BUNDLES: &[&str] = &[
    "cacert.pem",
    "ca-bundle.pem",
    "ca-bundle.crt",
    "ca-certificates.crt",
];

/// The file that makes a directory a Python virtual environment (PEP 405).
pub const PYTHON_VENV_MARKER: &str = "pyvenv.cfg";

/// Whether the search leaves `dir` out as a Python virtual environment: it holds
/// [`PYTHON_VENV_MARKER`] and is named like one (`venv`, `.venv-3.12`, `virtualenv`). Both, since a
/// command can write the marker anywhere: in the workspace's top or its `config`, it would
/// otherwise hide every credential the user adds there later (red-team round twenty-three; round
/// twenty-four did it in a directory named `env`, which is no longer one).
pub fn is_python_venv(dir: &Path) -> bool {
    dir.file_name().is_some_and(venv_name)
        && std::fs::symlink_metadata(dir.join(PYTHON_VENV_MARKER)).is_ok_and(|m| m.is_file())
}

fn venv_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_lowercase();
    name.contains("venv") || name.contains("virtualenv")
}

/// How recent a directory's change may be for it to be remembered.
const SETTLING: Duration = Duration::from_secs(2);

/// How many credential-named files are remembered per workspace.
const MAX_REMEMBERED_FILES: usize = 10_000;

/// The largest memory file read back; a larger one is ignored.
const MAX_MEMORY_BYTES: u64 = 64 << 20;

const MAGIC: &[u8] = b"cordon-search-memory\0";
const VERSION: u32 = 1;

/// What the search found.
#[derive(Debug, Default)]
pub(crate) struct Searched {
    /// Directories below a root that hold an entry named `.git` (the roots themselves are not
    /// listed: every root is a project root).
    pub project_roots: Vec<PathBuf>,
    /// Regular files and symlinks whose name a never-name glob matches, found now or remembered
    /// from an earlier run and still there.
    pub never_files: Vec<PathBuf>,
    /// The search stopped at [`MAX_SEARCHED_DIRS`].
    pub truncated: bool,
    /// Directories that could not be looked at or read (no permission, a path longer than the
    /// kernel takes): what they hold was not seen. Not remembered, so the next run tries again.
    pub unreadable: Vec<PathBuf>,
    /// Directories read, and directories taken from memory unchanged.
    pub read: usize,
    pub reused: usize,
}

/// What one directory holds that the search needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Listing {
    /// Directories to enter.
    subdirs: Vec<OsString>,
    /// Regular files and symlinks named like credentials.
    never_files: Vec<OsString>,
    /// Whether an entry named `.git` is there (a directory, or a worktree's file).
    has_git: bool,
}

/// A directory as it was when last read: its inode and change time, and what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    ino: u64,
    ctime: (i64, i64),
    listing: Listing,
}

/// What earlier runs left: directories by path, and the credential-named files they found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Memory {
    /// Keyed by the directory's path as bytes (`PathBuf`'s own hash walks its components), with
    /// FNV: thousands of paths a run, where the standard SipHash was a tenth of the search's
    /// time, and no key comes from anyone who gains by colliding them (a command that filled the
    /// workspace with colliding names would slow only its own runs).
    dirs: FnvHashMap<OsString, Seen>,
    files: Vec<PathBuf>,
}

/// Which names the search enters and which it reports: the memory holds only for the same rules.
pub(crate) struct Rules<'a> {
    pub never_names: Option<&'a NameGlobs>,
    /// The globs `never_names` was built from, and every name [`Rules::enters`] refuses: the key
    /// a memory must have been written under.
    pub key: Vec<u8>,
    pub enters: &'a dyn Fn(&OsStr) -> bool,
    /// Directories not entered, by path: the envelope's other roots inside a searched one (a
    /// cache or a toolchain when the home is the workspace: thousands of directories that are
    /// no project's, and covered by their own rules) and its closed paths (stood in for whole).
    pub avoid: &'a [PathBuf],
}

/// Searches `roots` (real paths of directories), with the memory kept at `memory` if given.
pub(crate) fn search(roots: &[PathBuf], rules: &Rules<'_>, memory: Option<&Path>) -> Searched {
    let key = cordon_core::hash::sha256_hex(&rules.key);
    let mut old = memory
        .and_then(|path| read_memory(path, key.as_bytes()))
        .unwrap_or_default();
    let mut new = Memory::default();
    new.dirs.reserve(old.dirs.len());
    let mut changed = false;
    let mut found = Searched::default();
    let mut budget = MAX_SEARCHED_DIRS;
    let avoid: FnvHashSet<&[u8]> = rules
        .avoid
        .iter()
        .map(|p| p.as_os_str().as_bytes())
        .collect();
    let settled_before = SystemTime::now()
        .checked_sub(SETTLING)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for root in roots {
        // Each directory is looked at relative to its root: a path walk from `/` for every one
        // was most of the search's time.
        let Ok(root_fd) = nix::fcntl::open(
            root.as_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(root_stat) = nix::sys::stat::fstat(&root_fd) else {
            continue;
        };
        let mut queue = VecDeque::from([root.clone()]);
        while let Some(dir) = queue.pop_front() {
            if budget == 0 {
                found.truncated = true;
                break;
            }
            // Looked at before it is read (see the module comment). Not across filesystems:
            // another mount is another project's business.
            let relative = match dir.strip_prefix(root) {
                Ok(r) if r.as_os_str().is_empty() => Path::new("."),
                Ok(r) => r,
                Err(_) => continue,
            };
            let now = match fstatat(&root_fd, relative, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(now) => now,
                // Gone since its parent was read: nothing to see.
                Err(nix::Error::ENOENT | nix::Error::ENOTDIR) => continue,
                Err(_) => {
                    found.unreadable.push(dir);
                    continue;
                }
            };
            if now.st_dev != root_stat.st_dev || now.st_mode & libc::S_IFMT != libc::S_IFDIR {
                continue;
            }
            budget -= 1;
            let (ino, ctime) = (now.st_ino, (now.st_ctime, now.st_ctime_nsec));
            // Taken out of the old memory, not copied: what is left there at the end is gone.
            let listing = match old.dirs.remove(dir.as_os_str()) {
                Some(seen) if seen.ino == ino && seen.ctime == ctime => {
                    found.reused += 1;
                    seen.listing
                }
                _ => {
                    found.read += 1;
                    changed = true;
                    match list(&dir, dir == *root, rules) {
                        Some(listing) => listing,
                        None => {
                            found.unreadable.push(dir);
                            continue;
                        }
                    }
                }
            };
            if listing.has_git && dir != *root {
                found.project_roots.push(dir.clone());
            }
            found
                .never_files
                .extend(listing.never_files.iter().map(|name| dir.join(name)));
            queue.extend(
                listing
                    .subdirs
                    .iter()
                    .map(|name| dir.join(name))
                    .filter(|sub| !avoid.contains(sub.as_os_str().as_bytes())),
            );
            if ctime.0 < settled_before {
                let seen = Seen {
                    ino,
                    ctime,
                    listing,
                };
                new.dirs.insert(dir.into_os_string(), seen);
            } else {
                changed = true;
            }
        }
    }
    remember_files(&mut found, &old, &mut new, roots);
    changed |= !old.dirs.is_empty() || new.files != old.files;
    if let (Some(path), true) = (memory, changed) {
        // A memory that cannot be written costs the next run time, not safety.
        let _ = write_memory(path, key.as_bytes(), &new);
    }
    found
}

/// Adds the files earlier runs found that still exist under the roots, and remembers every
/// credential-named file found now or then: those seen first stay first, so files a command
/// makes later cannot push the user's own out of the memory's [`MAX_REMEMBERED_FILES`].
fn remember_files(found: &mut Searched, old: &Memory, new: &mut Memory, roots: &[PathBuf]) {
    let mut kept: Vec<PathBuf> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for file in &old.files {
        if !roots.iter().any(|r| file.starts_with(r)) || seen.contains(file) {
            continue;
        }
        // Kept unless it is gone: a file that cannot be looked at now (its directory made
        // unsearchable) is still the user's secret, and the run that cannot close it fails.
        let still_there = match std::fs::symlink_metadata(file) {
            Ok(m) => m.file_type().is_file() || m.file_type().is_symlink(),
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
        if still_there {
            seen.insert(file.clone());
            kept.push(file.clone());
        }
    }
    for file in std::mem::take(&mut found.never_files) {
        if seen.insert(file.clone()) {
            kept.push(file);
        }
    }
    new.files = kept.iter().take(MAX_REMEMBERED_FILES).cloned().collect();
    found.never_files = kept;
}

/// Reads one directory; `None` when it cannot be read (an empty listing remembered for it would
/// hide what it holds once it can be read again).
fn list(dir: &Path, root: bool, rules: &Rules<'_>) -> Option<Listing> {
    let mut listing = Listing::default();
    let entries = std::fs::read_dir(dir).ok()?;
    let mut virtual_env = false;
    for entry in entries {
        let entry = entry.ok()?;
        let kind = entry.file_type().ok()?;
        let name = entry.file_name();
        if name == ".git" {
            listing.has_git = true;
        }
        virtual_env |= name == PYTHON_VENV_MARKER && kind.is_file();
        if kind.is_dir() {
            if name != ".git" && (rules.enters)(&name) {
                listing.subdirs.push(name);
            }
        } else if (kind.is_file() || kind.is_symlink())
            && rules.never_names.is_some_and(|n| n.is_match(&name))
            && !PUBLIC_CERTIFICATE_BUNDLES.iter().any(|b| name == *b)
        {
            listing.never_files.push(name);
        }
    }
    // A Python virtual environment by another name than `.venv` (`venv`, `env`): installed
    // packages, not the project's files (working day nineteen: pip's own `cacert.pem` read as
    // empty, and `rm -rf venv` was refused for holding it). Never a root.
    if virtual_env && !root && dir.file_name().is_some_and(venv_name) {
        listing.subdirs.clear();
        listing.never_files.clear();
    }
    // The queue's order, and so what a cut search reaches, must not depend on the memory.
    listing.subdirs.sort();
    Some(listing)
}

fn read_memory(path: &Path, key: &[u8]) -> Option<Memory> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_MEMORY_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.len() as u64 > MAX_MEMORY_BYTES {
        return None;
    }
    let mut r = Reader(&bytes);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION || r.bytes()? != key {
        return None;
    }
    let mut memory = Memory::default();
    for _ in 0..r.u32()? {
        let dir = r.path()?.into_os_string();
        let ino = r.u64()?;
        let ctime = (r.i64()?, r.i64()?);
        let has_git = r.take(1)? == [1];
        let subdirs = r.names()?;
        let never_files = r.names()?;
        let listing = Listing {
            subdirs,
            never_files,
            has_git,
        };
        memory.dirs.insert(
            dir,
            Seen {
                ino,
                ctime,
                listing,
            },
        );
    }
    for _ in 0..r.u32()? {
        memory.files.push(r.path()?);
    }
    r.0.is_empty().then_some(memory)
}

/// Writes the memory beside its place and renames it there, so a reader sees the old file or
/// the new one whole.
fn write_memory(path: &Path, key: &[u8], memory: &Memory) -> std::io::Result<()> {
    let mut w = Vec::with_capacity(64 * 1024);
    w.extend(MAGIC);
    w.extend(VERSION.to_le_bytes());
    put_bytes(&mut w, key);
    put_len(&mut w, memory.dirs.len());
    for (dir, seen) in &memory.dirs {
        put_bytes(&mut w, dir.as_bytes());
        w.extend(seen.ino.to_le_bytes());
        w.extend(seen.ctime.0.to_le_bytes());
        w.extend(seen.ctime.1.to_le_bytes());
        w.push(u8::from(seen.listing.has_git));
        for names in [&seen.listing.subdirs, &seen.listing.never_files] {
            put_len(&mut w, names.len());
            for name in names {
                put_bytes(&mut w, name.as_bytes());
            }
        }
    }
    put_len(&mut w, memory.files.len());
    for file in &memory.files {
        put_bytes(&mut w, file.as_os_str().as_bytes());
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".search.{}.{nanos}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&w))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn put_len(w: &mut Vec<u8>, len: usize) {
    w.extend(u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(w: &mut Vec<u8>, bytes: &[u8]) {
    put_len(w, bytes.len());
    w.extend(bytes);
}

/// A cursor over a memory file; every read is checked, and `None` ends the parse.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        self.take(len)
    }

    fn path(&mut self) -> Option<PathBuf> {
        Some(PathBuf::from(OsString::from_vec(self.bytes()?.to_vec())))
    }

    fn names(&mut self) -> Option<Vec<OsString>> {
        let count = self.u32()?;
        // Each name takes at least its length's four bytes: a count past that is corrupt.
        if u64::from(count) * 4 > self.0.len() as u64 {
            return None;
        }
        (0..count)
            .map(|_| Some(OsString::from_vec(self.bytes()?.to_vec())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(globs: &NameGlobs) -> Rules<'_> {
        Rules {
            never_names: Some(globs),
            key: b".env\0*.pem".to_vec(),
            enters: &|name| name != "node_modules",
            avoid: &[],
        }
    }

    fn globs() -> NameGlobs {
        NameGlobs::new(&[".env", "*.pem"]).unwrap()
    }

    /// Waits until what the test made has settled, so the search may remember it (a
    /// directory's change time cannot be set back).
    fn settle() {
        std::thread::sleep(SETTLING + Duration::from_millis(1100));
    }

    #[test]
    fn finds_secrets_and_projects_at_any_depth_breadth_first() {
        let ws = tempfile::tempdir().unwrap();
        let w = ws.path().to_path_buf();
        let deep = w.join("a/b/c/d/e/f/g");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join(".env"), "S=1").unwrap();
        std::fs::write(w.join("a/b/key.pem"), "k").unwrap();
        std::fs::create_dir_all(w.join("a/b/c/d/e/repo/.git")).unwrap();
        std::fs::create_dir_all(w.join("node_modules/x")).unwrap();
        std::fs::write(w.join("node_modules/x/.env"), "not ours").unwrap();
        // A Python virtual environment by any name is packages, not the project (working day
        // nineteen: pip's `cacert.pem`); a directory named `pyvenv.cfg` makes none.
        std::fs::create_dir_all(w.join("venv/lib/certifi")).unwrap();
        std::fs::write(w.join("venv/pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(w.join("venv/lib/certifi/cacert.pem"), "public").unwrap();
        std::fs::create_dir_all(w.join("fake/pyvenv.cfg")).unwrap();
        std::fs::write(w.join("fake/server.pem"), "k").unwrap();
        // Round twenty-three: the marker written at the top, or in a directory not named like a
        // virtual environment, hides nothing.
        std::fs::write(w.join("pyvenv.cfg"), "").unwrap();
        std::fs::create_dir_all(w.join("config")).unwrap();
        std::fs::write(w.join("config/pyvenv.cfg"), "").unwrap();
        std::fs::write(w.join("config/.env"), "S=2").unwrap();
        // A public certificate bundle by its exact name is none (working day twenty-one).
        std::fs::create_dir_all(w.join("env/certifi")).unwrap();
        std::fs::write(w.join("env/certifi/cacert.pem"), "public").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", w.join("a/.env")).unwrap();
        let g = globs();
        let found = search(std::slice::from_ref(&w), &rules(&g), None);
        let mut files = found.never_files.clone();
        files.sort();
        assert_eq!(
            files,
            [
                w.join("a/.env"),
                w.join("a/b/c/d/e/f/g/.env"),
                w.join("a/b/key.pem"),
                w.join("config/.env"),
                w.join("fake/server.pem")
            ]
        );
        assert_eq!(found.project_roots, [w.join("a/b/c/d/e/repo")]);
        assert!(!found.truncated);
    }

    #[test]
    fn the_envelopes_other_roots_inside_a_workspace_are_not_entered() {
        let ws = tempfile::tempdir().unwrap();
        let w = ws.path().to_path_buf();
        for dir in [".cache/go-build/ab", ".rustup/toolchains/x", "src"] {
            std::fs::create_dir_all(w.join(dir)).unwrap();
        }
        std::fs::write(w.join(".cache/go-build/ab/key.pem"), "k").unwrap();
        std::fs::write(w.join("src/key.pem"), "k").unwrap();
        let g = globs();
        let avoid = [w.join(".cache"), w.join(".rustup/toolchains")];
        let rules = Rules {
            avoid: &avoid,
            ..rules(&g)
        };
        let found = search(std::slice::from_ref(&w), &rules, None);
        assert_eq!(found.never_files, [w.join("src/key.pem")]);
        // root, .cache is not entered; .rustup, src are; .rustup/toolchains is not.
        assert_eq!(found.read, 3);
    }

    #[test]
    fn an_unchanged_directory_is_not_read_again_and_a_changed_one_is() {
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("search/ws");
        let w = ws.path().to_path_buf();
        std::fs::create_dir_all(w.join("x/y")).unwrap();
        settle();
        let g = globs();
        let first = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!((first.read, first.reused), (3, 0));
        let second = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!((second.read, second.reused), (0, 3));
        assert!(second.never_files.is_empty());
        // A secret added later changes its directory: read again, found.
        std::fs::write(w.join("x/y/.env"), "S=1").unwrap();
        let third = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!(third.never_files, [w.join("x/y/.env")]);
        assert_eq!((third.read, third.reused), (1, 2));
        // Other rules, another key: the memory is not used.
        let other = Rules {
            key: b"other".to_vec(),
            ..rules(&g)
        };
        let fourth = search(std::slice::from_ref(&w), &other, Some(&memory));
        assert_eq!(fourth.reused, 0);
    }

    #[test]
    fn a_directory_changed_just_now_is_not_remembered() {
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("m");
        let w = ws.path().to_path_buf();
        let g = globs();
        search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        let again = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!((again.read, again.reused), (1, 0));
    }

    #[test]
    fn padding_added_after_a_secret_was_seen_does_not_hide_it() {
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("m");
        let w = ws.path().to_path_buf();
        std::fs::create_dir_all(w.join("zz/app")).unwrap();
        std::fs::write(w.join("zz/app/.env"), "S=1").unwrap();
        let g = globs();
        let first = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!(first.never_files, [w.join("zz/app/.env")]);
        // More directories than the search looks at, all before the secret's.
        for i in 0..MAX_SEARCHED_DIRS {
            std::fs::create_dir(w.join(format!("p{i:05}"))).unwrap();
        }
        let padded = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert!(padded.truncated);
        assert_eq!(padded.never_files, [w.join("zz/app/.env")]);
        // Positive control: without the memory the cut search misses it.
        let forgetful = search(std::slice::from_ref(&w), &rules(&g), None);
        assert!(forgetful.truncated);
        assert!(forgetful.never_files.is_empty());
    }

    #[test]
    fn files_made_later_cannot_push_a_seen_secret_out_of_the_memory() {
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("m");
        let w = ws.path().to_path_buf();
        std::fs::create_dir_all(w.join("zz")).unwrap();
        std::fs::write(w.join("zz/.env"), "S=1").unwrap();
        let g = globs();
        search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        // More credential-named files than the memory keeps, all found before the secret.
        for i in 0..=MAX_REMEMBERED_FILES {
            std::fs::write(w.join(format!("k{i}.pem")), "").unwrap();
        }
        let found = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert_eq!(found.never_files.len(), MAX_REMEMBERED_FILES + 2);
        let kept = read_memory(
            &memory,
            cordon_core::hash::sha256_hex(&rules(&g).key).as_bytes(),
        )
        .unwrap()
        .files;
        assert_eq!(kept.len(), MAX_REMEMBERED_FILES);
        assert_eq!(kept[0], w.join("zz/.env"));
    }

    #[test]
    fn a_directory_out_of_reach_is_reported_not_remembered_as_empty() {
        use nix::fcntl::openat;
        use nix::sys::stat::mkdirat;
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("m");
        let w = ws.path().to_path_buf();
        // A tree deeper than a path the kernel takes (4096 bytes), made one directory at a time.
        let name = "d".repeat(250);
        let mut dir = nix::fcntl::open(w.as_path(), OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        for _ in 0..18 {
            mkdirat(&dir, name.as_str(), Mode::from_bits_truncate(0o755)).unwrap();
            dir = openat(&dir, name.as_str(), OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        }
        let env = openat(
            &dir,
            ".env",
            OFlag::O_CREAT | OFlag::O_WRONLY,
            Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        drop(env);
        let g = globs();
        let found = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
        assert!(found.never_files.is_empty());
        assert_eq!(found.unreadable.len(), 1, "{:?}", found.unreadable);
        assert!(found.unreadable[0].as_os_str().len() > 4096);
    }

    #[test]
    fn a_corrupt_or_foreign_memory_is_ignored() {
        let ws = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let memory = home.path().join("m");
        let w = ws.path().to_path_buf();
        std::fs::create_dir_all(w.join("a")).unwrap();
        std::fs::write(w.join("a/.env"), "S=1").unwrap();
        let g = globs();
        for junk in [
            b"".to_vec(),
            b"cordon-search-memory\0\x01\0\0\0".to_vec(),
            vec![0xff; 100],
            [MAGIC, &1u32.to_le_bytes()[..], &[0xff; 8][..]].concat(),
        ] {
            std::fs::write(&memory, &junk).unwrap();
            let found = search(std::slice::from_ref(&w), &rules(&g), Some(&memory));
            assert_eq!(found.never_files, [w.join("a/.env")], "{junk:?}");
        }
    }

    #[test]
    fn the_memory_reads_back_what_was_written() {
        let home = tempfile::tempdir().unwrap();
        let path = home.path().join("m");
        let mut memory = Memory::default();
        memory.dirs.insert(
            OsString::from("/w/a"),
            Seen {
                ino: 7,
                ctime: (-3, 999),
                listing: Listing {
                    subdirs: vec!["b".into(), OsString::from_vec(vec![0xff, b'\n'])],
                    never_files: vec![".env".into()],
                    has_git: true,
                },
            },
        );
        memory.files.push(PathBuf::from("/w/a/.env"));
        write_memory(&path, b"k", &memory).unwrap();
        assert_eq!(read_memory(&path, b"k"), Some(memory));
        assert_eq!(read_memory(&path, b"other"), None);
    }
}
