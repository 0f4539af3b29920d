//! The soft-delete service: how an `rm` anywhere in a checkpointed command becomes a move to the
//! trash, at the moment the shell reaches it.
//!
//! A compound text (`make && rm -rf out; mkdir out`) runs as one `bash -c` in the sandbox, so
//! cordon cannot replace its `rm` before the run the way it replaces a plain `rm` argv: which
//! `rm` runs, and whether it runs at all, is decided by the shell. So for the duration of such a
//! command cordon's own process, outside the sandbox, serves a Unix socket in a private run
//! directory in its home, and the command finds cordon's `rm` first in `PATH`: a symlink named
//! `rm` to the cordon binary, which, started under that name, is the binary's `rm` shim.
//! The shim sends its argv and working directory over the socket and exits with the status the
//! service answers, so `make && rm -rf out` removes only after `make` succeeded and `$?` is
//! `rm`'s, exactly as with the real `rm`.
//!
//! The service parses the options (`-r -R -f -d -v`, `--`; anything else is refused with a
//! sentence, nothing removed) and hands the targets to
//! [`cordon_checkpoint::trash::soft_delete_signed`] (the item's manifest signed with the run's key),
//! which pins each target's directory with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`
//! under the command's write scope and moves it relative to that descriptor. The sandboxed
//! command never touches the trash: it only sends a request, and the service moves only what
//! the command could have removed itself (inside its write scope, not a path the sandbox keeps
//! read-only), so the service is no way around the sandbox.
//!
//! The run directory and the socket are removed when the command ends; every call is kept for
//! the receipt (argv, pid, exit status, trash item).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cordon_checkpoint::trash::{self, SoftDelete};
use cordon_checkpoint::Signer;
use nix::sys::socket::Shutdown;
use serde::{Deserialize, Serialize};

use crate::observed::Recording;

/// The variable that tells the shim where the service listens.
pub const SOCKET_ENV: &str = "CORDON_TRASH_SOCKET";

/// The variable that carries the command's token to the shim. The socket's path can be seen from
/// other sandboxes (another process's `/proc/PID/net/unix`), and before Landlock ABI 9 nothing
/// stops a connect to it; the token cannot: a command of another run may not read this one's
/// environment (Landlock denies it the ptrace access `/proc/PID/environ` needs). Red-team round
/// twelve moved another workspace's file to the trash through its service before this.
pub const TOKEN_ENV: &str = "CORDON_TRASH_TOKEN";

/// The longest path a Unix socket address holds (`sun_path`, 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// How long the service waits for a connected shim to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What every soft delete of one command shares: where the trash is and what may be removed.
#[derive(Debug, Clone)]
pub struct Scope {
    pub trash_dir: PathBuf,
    pub session: Option<String>,
    /// The command's write scope (literal prefixes).
    pub allowed_roots: Vec<PathBuf>,
    /// Paths the sandbox keeps read-only inside a writable root (hardened mode only).
    pub protected: Vec<PathBuf>,
    /// What the sandbox keeps closed inside a writable root (hardened mode only).
    pub closed: trash::Closed,
    /// Paths the envelope keeps read-only (hardened mode only).
    pub read_only: Vec<PathBuf>,
    /// Hardened mode: the mounts of the calling command's namespace are read at each request
    /// ([`command_mounts`]), and a request whose caller or mounts cannot be read removes nothing.
    pub hardened: bool,
    /// The ledger's key: every trash item's manifest is signed with it, so that a restore can
    /// tell it from one somebody else wrote.
    pub signer: Arc<Signer>,
    /// An observed checkpoint in progress (hardened mode): told of every target before it is
    /// moved, since cordon's own moves do not pass through the sandbox's write broker.
    pub recording: Option<Arc<Recording>>,
}

impl Scope {
    /// Moves `request`'s targets to the trash, each recorded first by the observed checkpoint
    /// when there is one, after the checks. A target it cannot record fails the whole request:
    /// nothing is moved.
    pub fn soft_delete(&self, request: &SoftDelete) -> cordon_checkpoint::Result<trash::Outcome> {
        let Some(recording) = &self.recording else {
            return trash::soft_delete_signed(&self.trash_dir, request, &self.signer);
        };
        // Recorded once the checks passed: a refused target is never copied into the store.
        trash::soft_delete_signed_observed(&self.trash_dir, request, &self.signer, &|target| {
            recording
                .before_remove(target)
                .map_err(cordon_checkpoint::Error::Scope)
        })
    }

    /// The soft delete of `rm`'s operands, run by `command` in `cwd`, under this scope; `mounts`:
    /// the calling command's ([`command_mounts`]).
    pub fn request(
        &self,
        rm: &Rm,
        operands: &[&OsString],
        command: Vec<String>,
        cwd: &Path,
        mounts: Vec<(PathBuf, bool)>,
    ) -> SoftDelete {
        SoftDelete {
            kept: trash::Kept {
                read_only: self.read_only.clone(),
                mounts,
            },
            targets: operands.iter().map(|t| cwd.join(t)).collect(),
            allowed_roots: self.allowed_roots.clone(),
            recursive: rm.recursive,
            empty_dirs: rm.empty_dirs,
            force: rm.force,
            protected: self.protected.clone(),
            closed: self.closed.clone(),
            command,
            session: self.session.clone(),
            cwd: cwd.to_path_buf(),
        }
    }
}

/// One `rm` the command ran, as the receipt records it.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// The calling process, from the socket's peer credentials (cordon's pid namespace).
    pub pid: Option<i32>,
    pub argv: Vec<String>,
    pub cwd: String,
    pub exit_code: i32,
    /// The trash item holding what it moved, if it moved anything.
    pub trash: Option<String>,
    /// The original paths it moved.
    pub moved: Vec<String>,
    /// What it said on stderr.
    pub stderr: String,
}

/// What the shim sends: its argv and working directory as raw bytes, so any file name passes
/// unchanged.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShimCall {
    pub argv: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    /// The command's token ([`TOKEN_ENV`]); a request without this run's is refused.
    #[serde(default)]
    pub token: String,
}

/// The service's answer to the shim: what to exit with and say on stderr.
#[derive(Debug, Serialize, Deserialize)]
pub struct ShimReply {
    pub exit_code: i32,
    pub stderr: String,
}

/// A running service; stopped, and its run directory removed, by [`Service::finish`] or drop.
#[derive(Debug)]
pub struct Service {
    dir: PathBuf,
    socket: PathBuf,
    /// The cordon binary (canonical), which the shim links to.
    exe: PathBuf,
    stop: Arc<AtomicBool>,
    /// The serving thread's listening socket (a second handle), shut down to wake its `accept`
    /// even if the socket's file was removed.
    listener: Option<UnixListener>,
    thread: Option<JoinHandle<()>>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Programs the sandbox replaces with the shim for this command (hardened mode).
    substitutes: Vec<PathBuf>,
    /// What a request must carry to be served ([`TOKEN_ENV`]): 128 random bits, hex.
    token: Arc<str>,
}

impl Service {
    /// Creates a private run directory under `runs_dir` with `bin/rm` (the shim) and the socket,
    /// and starts serving. `Err` is one sentence: the command must not run without it.
    pub fn start(runs_dir: &Path, scope: Scope) -> Result<Service, String> {
        let exe = std::env::current_exe()
            .and_then(std::fs::canonicalize)
            .map_err(|e| format!("the cordon binary cannot be located for the rm shim: {e}"))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(runs_dir)
            .map_err(|e| format!("{}: {e}", runs_dir.display()))?;
        // Absolute and canonical: the shim's directory goes into `PATH`, and the process record
        // names the shim by the path it was executed through.
        let runs_dir =
            &std::fs::canonicalize(runs_dir).map_err(|e| format!("{}: {e}", runs_dir.display()))?;
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = runs_dir.join(format!("cordon-rm-{}-{stamp:x}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        // From here on, drop removes the directory.
        let mut service = Service {
            exe: exe.clone(),
            socket: dir.join("trash.sock"),
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            listener: None,
            thread: None,
            calls: Arc::new(Mutex::new(Vec::new())),
            substitutes: Vec::new(),
            token: new_token().into(),
        };
        if service.socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "the soft-delete socket path {} is longer than a Unix socket allows; set CORDON_HOME to a shorter directory",
                service.socket.display()
            ));
        }
        // The shim's path goes into shell text as a single-quoted word, and its directory into
        // `PATH`.
        if service
            .shim()
            .as_os_str()
            .as_bytes()
            .iter()
            .any(|b| b"':".contains(b))
        {
            return Err(format!(
                "the cordon home {} contains a quote or a colon, which the rm shim's path cannot",
                runs_dir.display()
            ));
        }
        let bin = service.dir.join("bin");
        std::fs::create_dir(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
        std::os::unix::fs::symlink(&exe, service.shim())
            .map_err(|e| format!("{}: {e}", service.shim().display()))?;
        let listener = UnixListener::bind(&service.socket)
            .map_err(|e| format!("{}: {e}", service.socket.display()))?;
        service.listener = Some(
            listener
                .try_clone()
                .map_err(|e| format!("the soft-delete service could not start: {e}"))?,
        );
        let stop = Arc::clone(&service.stop);
        let calls = Arc::clone(&service.calls);
        let token = Arc::clone(&service.token);
        let thread = std::thread::Builder::new()
            .name("cordon-trash".into())
            .spawn(move || serve(&listener, &stop, &calls, &scope, &token))
            .map_err(|e| format!("the soft-delete service could not start: {e}"))?;
        service.thread = Some(thread);
        Ok(service)
    }

    /// The shim: `<run>/bin/rm`, a symlink to the cordon binary.
    pub fn shim(&self) -> PathBuf {
        self.dir.join("bin").join("rm")
    }

    /// Notes the programs the sandbox mounts the shim over, for the receipt.
    pub fn set_substitutes(&mut self, programs: Vec<PathBuf>) {
        self.substitutes = programs;
    }

    /// The programs the sandbox mounts the shim over.
    pub fn substitutes(&self) -> &[PathBuf] {
        &self.substitutes
    }

    /// The cordon binary the shim runs (canonical).
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// What a hardened command must be able to read and execute: the run directory (the shim
    /// and the socket) and the cordon binary the shim points to.
    pub fn grants(&self) -> Vec<PathBuf> {
        vec![self.dir.clone(), self.exe.clone()]
    }

    /// Puts the shim first in `PATH` and names the socket.
    pub fn configure_env(&self, env: &mut Vec<(OsString, OsString)>) {
        let mut path = self.dir.join("bin").into_os_string();
        if let Some((_, old)) = env.iter().find(|(n, _)| n == "PATH") {
            path.push(":");
            path.push(old);
        }
        env.retain(|(n, _)| n != "PATH" && n != SOCKET_ENV && n != TOKEN_ENV);
        env.insert(0, ("PATH".into(), path));
        env.push((SOCKET_ENV.into(), self.socket.clone().into_os_string()));
        env.push((TOKEN_ENV.into(), OsString::from(&*self.token)));
    }

    /// Stops serving and returns every call, in order.
    pub fn finish(mut self) -> Vec<Call> {
        self.shut_down();
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *calls)
    }

    fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(listener) = self.listener.take() {
            // Wake the accept loop so that it sees the flag: shutting the listening socket down
            // makes a blocked `accept` fail on Linux (a connection would do too, but the
            // command may have removed the socket's file in local mode).
            let _ = nix::sys::socket::shutdown(listener.as_raw_fd(), Shutdown::Both);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// 128 random bits from the operating system, as hex.
fn new_token() -> String {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serve(
    listener: &UnixListener,
    stop: &AtomicBool,
    calls: &Mutex<Vec<Call>>,
    scope: &Scope,
    token: &str,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if let Some(call) = answer(stream, scope, token) {
            calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(call);
        }
    }
}

/// Reads one request, performs it, and answers. `None` when the request could not be read (the
/// shim then reports the broken connection and exits non-zero).
fn answer(mut stream: UnixStream, scope: &Scope, token: &str) -> Option<Call> {
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let pid = nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.pid());
    let mut line = Vec::new();
    BufReader::new(&mut stream)
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .ok()?;
    let request: ShimCall = serde_json::from_slice(&line).ok()?;
    if request.token.as_bytes() != token.as_bytes() {
        // Not this command's: answered, never recorded as its call.
        let refusal = ShimReply {
            exit_code: 1,
            stderr: "rm: the request did not come from the command this soft-delete service serves; nothing was removed\n".into(),
        };
        if let Ok(mut bytes) = serde_json::to_vec(&refusal) {
            bytes.push(b'\n');
            let _ = stream.write_all(&bytes);
        }
        return None;
    }
    let argv: Vec<OsString> = request.argv.into_iter().map(OsString::from_vec).collect();
    let cwd = PathBuf::from(OsString::from_vec(request.cwd));
    let mut call = Call {
        pid,
        argv: argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        cwd: cwd.to_string_lossy().into_owned(),
        exit_code: 1,
        trash: None,
        moved: Vec::new(),
        stderr: String::new(),
    };
    remove(&argv, &cwd, scope, pid, &mut call);
    let reply = ShimReply {
        exit_code: call.exit_code,
        stderr: call.stderr.clone(),
    };
    if let Ok(mut bytes) = serde_json::to_vec(&reply) {
        bytes.push(b'\n');
        let _ = stream.write_all(&bytes);
    }
    Some(call)
}

/// Does what `rm ARGV…` run in `cwd` by the process `pid` would do, with the trash in place of
/// deletion.
fn remove(argv: &[OsString], cwd: &Path, scope: &Scope, pid: Option<i32>, call: &mut Call) {
    let rm = match parse_rm(argv) {
        Ok(rm) => rm,
        Err(why) => {
            call.stderr = format!("rm: {why}\n");
            return;
        }
    };
    if rm.operands.is_empty() {
        if rm.force {
            call.exit_code = 0;
        } else {
            call.stderr = "rm: missing operand\n".into();
        }
        return;
    }
    if !cwd.is_absolute() {
        call.stderr =
            "rm: the working directory is not an absolute path; nothing was removed\n".into();
        return;
    }
    // An empty operand names nothing (`cwd.join("")` would name the directory itself).
    let (empty, operands): (Vec<&OsString>, Vec<&OsString>) =
        rm.operands.iter().partition(|o| o.is_empty());
    if !empty.is_empty() && !rm.force {
        call.stderr
            .push_str("rm: cannot remove '': No such file or directory\n");
    }
    let failed_before = !empty.is_empty() && !rm.force;
    if operands.is_empty() {
        call.exit_code = i32::from(failed_before);
        return;
    }
    // What the caller's sandbox mounted is what it could not remove: without it, nothing is.
    let mounts = match (scope.hardened, pid) {
        (false, _) => Vec::new(),
        (true, Some(pid)) => match command_mounts(pid) {
            Ok(mounts) => mounts,
            Err(why) => {
                call.stderr = format!("rm: {why}; nothing was removed\n");
                return;
            }
        },
        (true, None) => {
            call.stderr =
                "rm: the calling process is unknown, so its sandbox's mounts cannot be read; nothing was removed\n".into();
            return;
        }
    };
    let request = scope.request(&rm, &operands, call.argv.clone(), cwd, mounts);
    match scope.soft_delete(&request) {
        Ok(outcome) => {
            call.exit_code = i32::from(failed_before || !outcome.errors.is_empty());
            for line in &outcome.errors {
                call.stderr.push_str(line);
                call.stderr.push('\n');
            }
            if let Some(manifest) = outcome.manifest {
                call.moved = manifest.items.iter().map(|i| i.original.clone()).collect();
                call.trash = Some(manifest.id);
            }
        }
        Err(cordon_checkpoint::Error::OutsideScope { path, reason }) => {
            call.stderr.push_str(&format!(
                "rm: cannot remove '{}': {reason}; nothing was removed\n",
                path.display()
            ));
        }
        Err(e) => {
            call.stderr
                .push_str(&format!("rm: cannot remove: {e}; nothing was removed\n"));
        }
    }
}

/// The mounts of the process `pid`'s namespace (`/proc/PID/mountinfo`): each mount point as the
/// process names it, and whether it is read-only. A hardened command's namespace keeps the
/// host's paths (its mounts cover paths, they move none), so its mount points are host paths.
pub fn command_mounts(pid: i32) -> Result<Vec<(PathBuf, bool)>, String> {
    let path = format!("/proc/{pid}/mountinfo");
    let text = std::fs::read(&path)
        .map_err(|e| format!("the calling command's mounts ({path}) cannot be read: {e}"))?;
    let mut mounts = Vec::new();
    for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        // `ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS …`
        let mut fields = line.split(|b| *b == b' ');
        let (Some(point), Some(options)) = (fields.nth(4), fields.next()) else {
            return Err(format!("{path} has a line cordon cannot read"));
        };
        let read_only = options.split(|b| *b == b',').any(|o| o == b"ro");
        mounts.push((
            PathBuf::from(OsString::from_vec(unescape_octal(point))),
            read_only,
        ));
    }
    Ok(mounts)
}

/// A mountinfo field with its `\ooo` escapes (space, tab, newline, backslash) undone.
fn unescape_octal(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (field[i], octal) {
            (b'\\', Some(digits)) => {
                let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// `rm`'s options, as far as cordon models them.
#[derive(Debug, PartialEq, Eq)]
pub struct Rm {
    pub recursive: bool,
    pub force: bool,
    /// `-d`: remove empty directories.
    pub empty_dirs: bool,
    /// `-v`: say what was removed (the shim's scratch removal does; the trash reports its own).
    pub verbose: bool,
    pub operands: Vec<OsString>,
}

/// Parses `rm [-rRfdv] [--recursive] [--force] [--dir] [--verbose] [--preserve-root] [--] FILE…`.
/// Any other option (`-i`, `--one-file-system`, `--no-preserve-root`) is refused with the
/// sentence `rm` prints: the trash cannot honour it, and guessing would be worse.
pub fn parse_rm(argv: &[OsString]) -> Result<Rm, String> {
    let mut rm = Rm {
        recursive: false,
        force: false,
        empty_dirs: false,
        verbose: false,
        operands: Vec::new(),
    };
    let mut options_done = false;
    for arg in argv.iter().skip(1) {
        let bytes = arg.as_bytes();
        if options_done || !bytes.starts_with(b"-") || bytes == b"-" {
            rm.operands.push(arg.clone());
            continue;
        }
        let unsupported = || {
            format!(
                "option '{}' is not supported under a cordon checkpoint; nothing was removed",
                arg.to_string_lossy()
            )
        };
        match bytes {
            b"--" => options_done = true,
            b"--recursive" => rm.recursive = true,
            b"--force" => rm.force = true,
            b"--dir" => rm.empty_dirs = true,
            b"--verbose" => rm.verbose = true,
            b"--preserve-root" => {}
            long if long.starts_with(b"--") => return Err(unsupported()),
            short => {
                for c in &short[1..] {
                    match c {
                        b'r' | b'R' => rm.recursive = true,
                        b'f' => rm.force = true,
                        b'd' => rm.empty_dirs = true,
                        b'v' => rm.verbose = true,
                        _ => return Err(unsupported()),
                    }
                }
            }
        }
    }
    Ok(rm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_process_mounts_are_read_with_their_escapes_undone() {
        assert_eq!(unescape_octal(br"/w/a\040b\011c\134d"), b"/w/a b\tc\\d");
        assert_eq!(unescape_octal(br"/w/\0x\"), br"/w/\0x\");
        let mounts = command_mounts(std::process::id() as i32).unwrap();
        assert!(
            mounts.iter().any(|(point, _)| point == Path::new("/")),
            "{mounts:?}"
        );
        assert!(command_mounts(i32::MAX).is_err());
    }

    #[test]
    fn parses_the_rm_forms_it_models() {
        assert_eq!(
            parse_rm(&argv(&["rm", "-rf", "a", "b"])),
            Ok(Rm {
                recursive: true,
                force: true,
                empty_dirs: false,
                verbose: false,
                operands: argv(&["a", "b"])
            })
        );
        assert_eq!(
            parse_rm(&argv(&["/bin/rm", "--recursive", "--", "-x"])),
            Ok(Rm {
                recursive: true,
                force: false,
                empty_dirs: false,
                verbose: false,
                operands: argv(&["-x"])
            })
        );
        assert_eq!(
            parse_rm(&argv(&["rm", "-dv", "f"])),
            Ok(Rm {
                recursive: false,
                force: false,
                empty_dirs: true,
                verbose: true,
                operands: argv(&["f"])
            })
        );
        assert_eq!(
            parse_rm(&argv(&["rm", "-f"])),
            Ok(Rm {
                recursive: false,
                force: true,
                empty_dirs: false,
                verbose: false,
                operands: Vec::new()
            })
        );
    }

    #[test]
    fn refuses_options_the_trash_cannot_honour() {
        for args in [
            &["rm", "-i", "a"][..],
            &["rm", "-rI", "a"],
            &["rm", "--one-file-system", "-r", "a"],
            &["rm", "--no-preserve-root", "-rf", "/"],
        ] {
            let err = parse_rm(&argv(args)).unwrap_err();
            assert!(
                err.contains("is not supported under a cordon checkpoint"),
                "{err}"
            );
        }
    }
}
