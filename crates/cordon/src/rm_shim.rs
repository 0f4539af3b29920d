//! The `rm` shim: the cordon binary started as `rm` through a snapshotted command's soft-delete
//! service (`cordon_governor::trash_service`). It asks the service to move the targets to the
//! trash and exits with its answer. It never falls back to a real deletion: without the service
//! it removes nothing and says why.
//!
//! Scratch files are the exception: when every target lies in the command's `/tmp` and that is
//! its workspace's own (`cordon_sandbox::tmp_is_the_workspaces_own`, read from the mount table,
//! which the command cannot forge; TMPDIR lies there too), the shim removes them itself, as the
//! command could: nothing there is the user's to roll back, and the service, which runs outside
//! the sandbox, would look for them in the host's `/tmp` and refuse them (`rm -rf /tmp/build`
//! failed so). Only the plain forms are taken so (`-r`, `-f`, `-d`, `-v`); anything else goes to
//! the service.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Component, Path, PathBuf};

use cordon_governor::trash_service::{parse_rm, Rm, ShimCall, ShimReply, SOCKET_ENV, TOKEN_ENV};

/// Asks the soft-delete service to do what `rm ARGV…` asks, and returns the exit status.
pub fn shim_main() -> u8 {
    let fail = |why: String| {
        crate::output::say!("rm: {why}; nothing was removed");
        1
    };
    let Some(socket) = std::env::var_os(SOCKET_ENV) else {
        return fail(format!(
            "this is cordon's soft-delete rm, and {SOCKET_ENV} names no trash service"
        ));
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => return fail(format!("the working directory cannot be read: {e}")),
    };
    let argv: Vec<OsString> = std::env::args_os().collect();
    if let Some(scratch) = ScratchRemoval::of(&argv, &cwd) {
        return scratch.run();
    }
    let request = ShimCall {
        argv: std::env::args_os().map(OsString::into_vec).collect(),
        cwd: cwd.into_os_string().into_vec(),
        token: std::env::var(TOKEN_ENV).unwrap_or_default(),
    };
    let mut stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) => return fail(format!("cordon's trash service is unavailable ({e})")),
    };
    let sent = serde_json::to_vec(&request)
        .map_err(|e| e.to_string())
        .and_then(|mut bytes| {
            bytes.push(b'\n');
            stream.write_all(&bytes).map_err(|e| e.to_string())
        });
    if let Err(e) = sent {
        return fail(format!(
            "the request could not be sent to cordon's trash service ({e})"
        ));
    }
    let mut answer = Vec::new();
    if let Err(e) = stream.read_to_end(&mut answer) {
        return fail(format!("cordon's trash service did not answer ({e})"));
    }
    match serde_json::from_slice::<ShimReply>(&answer) {
        Ok(reply) => {
            eprint!("{}", reply.stderr);
            u8::try_from(reply.exit_code).unwrap_or(1)
        }
        Err(_) => fail("cordon's trash service gave no answer".into()),
    }
}

/// One target of a scratch removal, pinned: the directory it lies in, held open and judged by
/// where that descriptor is, and its name there. Removing through `/proc/self/fd/N/NAME` reaches
/// the judged directory whatever the path leading to it became since (red-team round thirteen
/// swapped a directory on the path for a link into the workspace between the check and the
/// removal).
struct Pinned {
    shown: PathBuf,
    directory: std::fs::File,
    name: OsString,
}

impl Pinned {
    fn path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.directory.as_raw_fd())).join(&self.name)
    }
}

/// An `rm` whose every target is the command's scratch, with the options it gave.
struct ScratchRemoval {
    targets: Vec<Pinned>,
    rm: Rm,
}

impl ScratchRemoval {
    /// `rm ARGV…` as a scratch removal: the forms the service honours (`parse_rm`), and every
    /// operand in the scratch directory ([`pin_scratch`]); `None` for anything else, which the
    /// service judges.
    fn of(argv: &[OsString], cwd: &Path) -> Option<ScratchRemoval> {
        let scratch = scratch_directory()?;
        let rm = parse_rm(argv).ok()?;
        let targets = rm
            .operands
            .iter()
            .map(|operand| pin_scratch(&cwd.join(operand), &scratch))
            .collect::<Option<Vec<Pinned>>>()?;
        (!targets.is_empty()).then_some(ScratchRemoval { targets, rm })
    }

    /// Removes each target as `rm` would, and returns its exit status.
    fn run(self) -> u8 {
        let mut status = 0;
        let rm = &self.rm;
        for pinned in &self.targets {
            let shown = pinned.shown.display();
            let target = &pinned.path();
            let removed = match std::fs::symlink_metadata(target) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && rm.force => continue,
                Err(e) => Err(e),
                Ok(meta) if meta.is_dir() && rm.recursive => std::fs::remove_dir_all(target),
                Ok(meta) if meta.is_dir() && rm.empty_dirs => std::fs::remove_dir(target),
                Ok(meta) if meta.is_dir() => {
                    eprintln!("rm: cannot remove '{shown}': Is a directory");
                    status = 1;
                    continue;
                }
                Ok(_) => std::fs::remove_file(target),
            };
            match removed {
                Ok(()) if rm.verbose => println!("removed '{shown}'"),
                Ok(()) => {}
                Err(e) => {
                    eprintln!("rm: cannot remove '{shown}': {e}");
                    status = 1;
                }
            }
        }
        status
    }
}

/// The command's scratch directory, resolved: `/tmp` where that is its workspace's own. Never
/// from the environment, which the command sets (`TMPDIR=. rm -rf src` would make the
/// workspace scratch).
fn scratch_directory() -> Option<PathBuf> {
    if !cordon_sandbox::tmp_is_the_workspaces_own() {
        return None;
    }
    std::fs::canonicalize("/tmp").ok()
}

/// `path` pinned ([`Pinned`]) when it names something inside `scratch` (not the directory
/// itself), resolved as this process sees it: the directories leading to it followed,
/// its last name not (a link there is removed, not what it points to), unless it ends in `/`, `.`
/// or `..`. The directory is judged by where its descriptor is, not by the path.
fn pin_scratch(path: &Path, scratch: &Path) -> Option<Pinned> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let whole = path.as_os_str().as_bytes().ends_with(b"/")
        || path.as_os_str().as_bytes().ends_with(b"/.")
        || matches!(path.components().next_back(), Some(Component::ParentDir));
    let (directory, name) = if whole {
        let real = std::fs::canonicalize(path).ok()?;
        (
            real.parent()?.to_path_buf(),
            real.file_name()?.to_os_string(),
        )
    } else {
        (
            path.parent()?.to_path_buf(),
            path.file_name()?.to_os_string(),
        )
    };
    let directory = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY).bits())
        .open(&directory)
        .ok()?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(&directory);
    let real = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()?
        .join(&name);
    (real.starts_with(scratch) && real != scratch).then(|| Pinned {
        shown: path.to_path_buf(),
        directory,
        name,
    })
}

/// Whether the binary was started as `rm` (through the shim's symlink).
pub fn started_as_rm() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "rm"))
        .unwrap_or(false)
}
