//! The host's pathname Unix sockets, closed to a hardened command where Landlock cannot close
//! them.
//!
//! `connect(2)` to a Unix socket by its path acts through whoever listens there, with that
//! process's authority: Docker's and containerd's sockets start containers as root, the user's
//! systemd and D-Bus session buses start units outside any sandbox (`systemd-run --user`), an
//! ssh-agent or gpg-agent signs with the user's keys, an SSH `ControlMaster` socket runs commands
//! on remote hosts, an editor's IPC socket types into the user's terminal. Landlock governs
//! `connect()` on a pathname socket only from ABI 9 (`LANDLOCK_ACCESS_FS_RESOLVE_UNIX`), and
//! Landlock's read rules do not apply: connecting needs no read access to the file, only a walk
//! to it, so a socket inside a closed directory such as `~/.ssh` is as reachable as one in `/run`.
//!
//! The ruleset this build makes does not handle that right (the `landlock` crate it uses does
//! not name it yet), so on every kernel the command's own mount namespace gets a file nobody may
//! open mounted over every socket in each directory that `/proc/net/unix` names (the sockets
//! the host's network namespace has bound) when the run is prepared. Connecting to one then fails
//! with `EACCES` (the command may not write the file, and holds no capability to override that),
//! as Landlock's own refusal does from ABI 9, and so does every other way there: the mount
//! covers the path for every name that leads to it. A socket stays reachable only when it lies
//! in a path the run was granted to write beyond the envelope (a policy's or an approval's
//! grant), or where cordon's own soft-delete service listens.
//!
//! What this cannot see: a socket bound after the run was prepared, one bound by a relative path
//! (the table shows the name as the binder wrote it, relative to a directory it does not
//! name), and one bound from another network namespace into a directory this mount namespace
//! shares. The command's own sockets are in its own network namespace when the network is denied,
//! so they are neither listed nor covered.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

/// The host's table of Unix sockets, for the network namespace of the reading process.
const TABLE: &str = "/proc/net/unix";

/// More sockets than this to cover refuses the run: each costs a mount in every command's
/// namespace (about 12 µs), and leaving some open would let whoever binds the first few thousand
/// names (sorted, as they are) push a daemon's socket out of reach of the cover.
pub(crate) const MAX_COVERED: usize = 4096;

/// Reads the host's table and returns the sockets a command must not reach ([`select`]),
/// outside every path in `reachable`. `Err` is one sentence.
pub(crate) fn find(reachable: &[PathBuf]) -> Result<Selection, String> {
    let table = std::fs::read(TABLE).map_err(|e| format!("reading {TABLE}: {e}"))?;
    within_the_limit(select(listed_paths(&table), reachable))
}

fn within_the_limit(selection: Selection) -> Result<Selection, String> {
    if selection.sockets.len() > MAX_COVERED {
        return Err(format!(
            "the host has {} Unix sockets outside the granted paths, more than the {MAX_COVERED} a command's mount namespace covers",
            selection.sockets.len()
        ));
    }
    Ok(selection)
}

/// What the table leads to: the sockets to cover, and the names it lists that lead to none.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Every socket file in a directory the table names, resolved, outside the reachable paths.
    pub sockets: Vec<PathBuf>,
    /// Names that are no socket where they point now: relative, bound through `/proc/self`, or
    /// whose directory is gone or unreadable. A socket such a name was bound as is covered only
    /// if it lies in a directory another name leads to.
    pub unresolved: Vec<PathBuf>,
}

/// Entries read from one directory at most. A command can pad a directory it may write that
/// holds a host daemon's socket (red-team round sixteen: 30,000 files in a project's `run/`
/// pushed a dev server's socket past a cut at 4,096): the names the table lists are covered
/// whatever the scan saw, and a directory cut short is reported, since a socket renamed into it
/// past the cut (the table shows only its old name) stays reachable. A listing this long costs
/// some tens of milliseconds per run, which only the padding's author pays.
const MAX_SCANNED: usize = 1 << 20;

/// Covers every socket file found in each directory the table names, not only the names it
/// lists: the table shows the name a socket was *bound* as, and a daemon may bind a temporary
/// name and `link()` or `rename()` it into place (OpenSSH's `ControlMaster` sockets are made so:
/// the table then lists only the temporary name, which no longer exists). A hard link in the
/// same directory is found the same way. Each directory is resolved once (the socket's own
/// name is kept: it is never a link to follow, and a mount on the resolved path covers every
/// name that leads to it) and read once. A listed name is only a hint: a socket's name can hold
/// a newline, so a line of the table may have been written by the socket's owner, and only what
/// is found on disk decides.
fn select(listed: BTreeSet<PathBuf>, reachable: &[PathBuf]) -> Selection {
    select_scanning(listed, reachable, MAX_SCANNED)
}

/// [`select`], reading at most `limit` entries of each directory.
fn select_scanning(listed: BTreeSet<PathBuf>, reachable: &[PathBuf], limit: usize) -> Selection {
    let mut sockets = BTreeSet::new();
    let mut unresolved = Vec::new();
    let mut directories: BTreeMap<PathBuf, Option<PathBuf>> = BTreeMap::new();
    // Two names may reach one directory (`/var/run` and `/run`): it is read once.
    let mut scanned: BTreeSet<PathBuf> = BTreeSet::new();
    for path in listed {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            continue;
        };
        if !path.is_absolute() || path.starts_with("/proc/self") {
            unresolved.push(path);
            continue;
        }
        let resolved_parent = directories.entry(parent.to_path_buf()).or_insert_with(|| {
            let resolved = std::fs::canonicalize(parent).ok()?;
            if scanned.insert(resolved.clone()) {
                let (found, complete) = sockets_in_at_most(&resolved, limit);
                for socket in found {
                    if !reachable.iter().any(|r| socket.starts_with(r)) {
                        sockets.insert(socket);
                    }
                }
                if !complete {
                    unresolved.push(resolved.clone());
                }
            }
            Some(resolved)
        });
        let found = resolved_parent
            .as_ref()
            .map(|dir| dir.join(name))
            .filter(|socket| {
                std::fs::symlink_metadata(socket).is_ok_and(|m| m.file_type().is_socket())
            });
        match found {
            // The listed name itself, whatever the scan of its directory reached.
            Some(socket) => {
                if !reachable.iter().any(|r| socket.starts_with(r)) {
                    sockets.insert(socket);
                }
            }
            None => unresolved.push(path),
        }
    }
    Selection {
        sockets: sockets.into_iter().collect(),
        unresolved,
    }
}

/// The socket files directly in `dir`, from at most `limit` entries, and whether the listing
/// was read to its end.
fn sockets_in_at_most(dir: &std::path::Path, limit: usize) -> (Vec<PathBuf>, bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), false);
    };
    let mut sockets = Vec::new();
    let mut entries = entries.filter_map(Result::ok);
    for entry in entries.by_ref().take(limit) {
        if entry.file_type().is_ok_and(|t| t.is_socket()) {
            sockets.push(dir.join(entry.file_name()));
        }
    }
    let complete = entries.next().is_none();
    (sockets, complete)
}

/// The names the table lists, from `/proc/net/unix`'s lines: seven fields, then a space and the
/// name for a socket that has one (an abstract name, which starts with `@`, is left out).
fn listed_paths(table: &[u8]) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    for line in table.split(|&b| b == b'\n').skip(1) {
        let mut rest = line;
        let mut fields = 0;
        while fields < 7 {
            rest = trim_start(rest);
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            rest = &rest[end..];
            fields += 1;
        }
        if fields < 7 {
            continue;
        }
        if let Some(name) = rest.strip_prefix(b" ") {
            if !name.is_empty() && name.first() != Some(&b'@') {
                paths.insert(PathBuf::from(OsStr::from_bytes(name)));
            }
        }
    }
    paths
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != b' ').unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    const HEADER: &str = "Num       RefCount Protocol Flags    Type St Inode Path\n";

    fn table(lines: &[&str]) -> Vec<u8> {
        let mut t = HEADER.to_string();
        for l in lines {
            t.push_str(l);
            t.push('\n');
        }
        t.into_bytes()
    }

    #[test]
    fn the_table_yields_every_name_but_abstract_ones() {
        let t = table(&[
            "0000000000000000: 00000002 00000000 00010000 0001 01 23981 /run/docker.sock",
            "0000000000000000: 00000003 00000000 00000000 0001 03 24001 /run/docker.sock",
            "0000000000000000: 00000002 00000000 00010000 0001 01  1234 /tmp/with space/s",
            "0000000000000000: 00000002 00000000 00010000 0001 01 23982 @/tmp/.X11-unix/X0",
            "0000000000000000: 00000002 00000000 00010000 0001 01 23983 relative.sock",
            "0000000000000000: 00000003 00000000 00000000 0001 03 24002",
        ]);
        let got: Vec<PathBuf> = listed_paths(&t).into_iter().collect();
        assert_eq!(
            got,
            [
                PathBuf::from("/run/docker.sock"),
                PathBuf::from("/tmp/with space/s"),
                PathBuf::from("relative.sock"),
            ]
        );
    }

    #[test]
    fn every_socket_in_a_named_directory_is_covered_and_a_granted_one_is_left_reachable() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(root.join("granted")).unwrap();
        let _a = UnixListener::bind(root.join("a.sock")).unwrap();
        let _b = UnixListener::bind(root.join("granted/b.sock")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "").unwrap();
        std::os::unix::fs::symlink(&root, root.join("link")).unwrap();
        // As OpenSSH makes a ControlMaster socket: bound under a temporary name, linked to the
        // real one, the temporary name removed. The table lists only the temporary name.
        let _cm = UnixListener::bind(root.join("cm-git@host:22.tmpXYZ")).unwrap();
        std::fs::hard_link(
            root.join("cm-git@host:22.tmpXYZ"),
            root.join("cm-git@host:22"),
        )
        .unwrap();
        std::fs::remove_file(root.join("cm-git@host:22.tmpXYZ")).unwrap();
        // A name the table could show for a socket whose own name held a newline and a forged
        // line: a regular file, which is never covered.
        let listed: BTreeSet<PathBuf> = [
            root.join("link/a.sock"),
            root.join("granted/b.sock"),
            root.join("Cargo.toml"),
            root.join("cm-git@host:22.tmpXYZ"),
            PathBuf::from("relative.sock"),
            PathBuf::from("/proc/self/cwd/x.sock"),
        ]
        .into_iter()
        .collect();
        let found = select(listed.clone(), &[root.join("granted")]);
        assert_eq!(
            found.sockets,
            [root.join("a.sock"), root.join("cm-git@host:22")]
        );
        assert_eq!(
            found.unresolved,
            [
                PathBuf::from("/proc/self/cwd/x.sock"),
                root.join("Cargo.toml"),
                root.join("cm-git@host:22.tmpXYZ"),
                PathBuf::from("relative.sock"),
            ]
        );
        // Control: without the grant, the granted socket is covered too.
        let found = select(listed, &[]);
        assert_eq!(
            found.sockets,
            [
                root.join("a.sock"),
                root.join("cm-git@host:22"),
                root.join("granted/b.sock")
            ]
        );
    }

    /// Red-team round sixteen padded a project's `run/` until a host dev server's socket lay
    /// past the scan's cut: a listed socket is covered wherever the listing puts it, and a cut
    /// listing is reported.
    #[test]
    fn a_listed_socket_is_covered_however_many_entries_come_before_it() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        for i in 0..64 {
            std::fs::write(root.join(format!("pad-{i:03}")), "").unwrap();
        }
        let _server = UnixListener::bind(root.join("zz-app.sock")).unwrap();
        let listed: BTreeSet<PathBuf> = [root.join("zz-app.sock")].into_iter().collect();
        let found = select_scanning(listed.clone(), &[], 8);
        assert_eq!(found.sockets, [root.join("zz-app.sock")]);
        assert_eq!(found.unresolved, std::slice::from_ref(&root));
        // Control: a listing read to its end reports nothing.
        let found = select_scanning(listed, &[], 1000);
        assert_eq!(found.sockets, [root.join("zz-app.sock")]);
        assert!(found.unresolved.is_empty(), "{:?}", found.unresolved);
    }

    /// On names, not sockets: binding this many would make every hardened run of the tests
    /// running beside this one refuse.
    #[test]
    fn more_sockets_than_can_be_covered_refuse_the_run() {
        let names = |n: usize| Selection {
            sockets: (0..n)
                .map(|i| PathBuf::from(format!("/run/{i}.sock")))
                .collect(),
            unresolved: Vec::new(),
        };
        let err = within_the_limit(names(MAX_COVERED + 1)).unwrap_err();
        assert_eq!(
            err,
            "the host has 4097 Unix sockets outside the granted paths, more than the 4096 a command's mount namespace covers"
        );
        // Control: the limit itself is covered.
        assert_eq!(
            within_the_limit(names(MAX_COVERED)).unwrap().sockets.len(),
            MAX_COVERED
        );
    }

    #[test]
    fn the_live_table_lists_a_socket_this_process_binds() {
        let d = tempfile::tempdir().unwrap();
        let path = std::fs::canonicalize(d.path()).unwrap().join("live.sock");
        let _l = UnixListener::bind(&path).unwrap();
        let found = find(&[]).unwrap();
        assert!(found.sockets.contains(&path), "{found:?}");
    }
}
