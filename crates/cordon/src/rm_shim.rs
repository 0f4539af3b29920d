//! The `rm` shim: the cordon binary started as `rm` through a snapshotted command's soft-delete
//! service (`cordon_governor::trash_service`). It asks the service to move the targets to the
//! trash and exits with its answer. It never falls back to a real deletion: without the service
//! it removes nothing and says why.

use std::ffi::OsString;
use std::io::{Read as _, Write as _};
use std::os::unix::ffi::OsStringExt as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use cordon_governor::trash_service::{ShimCall, ShimReply, SOCKET_ENV};

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
    let request = ShimCall {
        argv: std::env::args_os().map(OsString::into_vec).collect(),
        cwd: cwd.into_os_string().into_vec(),
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

/// Whether the binary was started as `rm` (through the shim's symlink).
pub fn started_as_rm() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "rm"))
        .unwrap_or(false)
}
