//! One mediated syscall, decoded from its seccomp notification: which call, which paths (read
//! once from the caller's memory), which flags.
//!
//! The paths are copied out of the caller while it is stopped in the syscall and the copy is all
//! the broker ever looks at: another thread of the caller may rewrite the buffer at any moment,
//! and the kernel, which never performs the call, never reads it again.

use std::ffi::{c_void, CString};

/// Longest path the kernel accepts, with its NUL.
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Longest extended attribute name the kernel accepts, without its NUL (`XATTR_NAME_MAX`).
const XATTR_NAME_MAX: usize = 255;

/// Largest extended attribute value the kernel accepts (`XATTR_SIZE_MAX`).
const XATTR_SIZE_MAX: usize = 65536;

/// Where a relative path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dirfd {
    Cwd,
    Fd(i32),
}

/// A path argument and the directory it is relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathArg {
    pub at: Dirfd,
    pub path: Vec<u8>,
}

/// A mediated call, as the caller asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Call {
    Open {
        file: PathArg,
        flags: i32,
        mode: u32,
    },
    Mkdir {
        dir: PathArg,
        mode: u32,
    },
    Mknod {
        node: PathArg,
        mode: u32,
        dev: u64,
    },
    Rename {
        from: PathArg,
        to: PathArg,
        flags: u32,
    },
    Link {
        from: PathArg,
        to: PathArg,
        flags: i32,
    },
    Symlink {
        target: Vec<u8>,
        link: PathArg,
    },
    Unlink {
        entry: PathArg,
        dir: bool,
    },
    Truncate {
        file: PathArg,
        length: i64,
    },
    /// `chmod`, `fchmodat`, `fchmodat2`: Landlock governs no modes, so the broker places the
    /// file itself and refuses one outside the writable roots.
    Chmod {
        file: PathArg,
        mode: u32,
        /// False for `fchmodat2` with `AT_SYMLINK_NOFOLLOW`.
        follow: bool,
    },
    /// `utimensat` (and on x86_64 `utime`, `utimes`, `futimesat`): Landlock governs no times
    /// either, and a time is part of what a later build or backup trusts.
    Times {
        file: PathArg,
        /// Access and modification times as `(seconds, nanoseconds)`, `UTIME_NOW` and
        /// `UTIME_OMIT` kept; `None` for "now" (a null pointer).
        times: Option<[(i64, i64); 2]>,
        follow: bool,
    },
    /// `setxattr`, `lsetxattr`, `fsetxattr`: an extended attribute is metadata Landlock does not
    /// govern, and `system.posix_acl_access` is a mode change by another name.
    SetXattr {
        file: PathArg,
        follow: bool,
        name: CString,
        value: Vec<u8>,
        flags: i32,
    },
    /// `chown`, `lchown`, `fchown`, `fchownat`: without `CAP_CHOWN` only the group can change
    /// (to one of the caller's), but any such call clears a file's set-user-ID and set-group-ID
    /// bits, so it is placed like a mode change (`chown root:root /usr/bin/sudo` as root).
    Chown {
        file: PathArg,
        /// `u32::MAX` (-1): unchanged.
        uid: u32,
        gid: u32,
        follow: bool,
    },
    /// `removexattr`, `lremovexattr`, `fremovexattr`.
    RemoveXattr {
        file: PathArg,
        follow: bool,
        name: CString,
    },
}

impl Call {
    /// The syscall's family name, for the report.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Call::Open { .. } => "open",
            Call::Mkdir { .. } => "mkdir",
            Call::Mknod { .. } => "mknod",
            Call::Rename { .. } => "rename",
            Call::Link { .. } => "link",
            Call::Symlink { .. } => "symlink",
            Call::Unlink { dir: false, .. } => "unlink",
            Call::Unlink { dir: true, .. } => "rmdir",
            Call::Truncate { .. } => "truncate",
            Call::Chmod { .. } => "chmod",
            Call::Times { .. } => "utimensat",
            Call::SetXattr { .. } => "setxattr",
            Call::RemoveXattr { .. } => "removexattr",
            Call::Chown { .. } => "chown",
        }
    }

    /// The path arguments of the call, in order (a rename's or a link's source, then its
    /// target).
    pub(crate) fn paths(&self) -> Vec<&PathArg> {
        match self {
            Call::Open { file, .. }
            | Call::Truncate { file, .. }
            | Call::Chmod { file, .. }
            | Call::Times { file, .. }
            | Call::SetXattr { file, .. }
            | Call::RemoveXattr { file, .. }
            | Call::Chown { file, .. } => vec![file],
            Call::Mkdir { dir, .. } => vec![dir],
            Call::Mknod { node, .. } => vec![node],
            Call::Symlink { link, .. } => vec![link],
            Call::Unlink { entry, .. } => vec![entry],
            Call::Rename { from, to, .. } | Call::Link { from, to, .. } => vec![from, to],
        }
    }

    /// The path the call creates or changes, for the report: its last path argument.
    pub(crate) fn target(&self) -> &[u8] {
        self.paths().last().map_or(&[], |arg| arg.path.as_slice())
    }
}

/// Reads C strings from a stopped caller's memory.
pub(crate) trait Memory {
    /// The NUL-terminated string at `addr`, without its NUL: `EFAULT` when unreadable,
    /// `ENAMETOOLONG` when longer than `PATH_MAX`.
    fn path(&self, addr: u64) -> Result<Vec<u8>, i32>;

    /// `len` bytes at `addr`: `EFAULT` when any of them is unreadable.
    fn bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>, i32>;
}

/// A thread's memory through `process_vm_readv` (one syscall per string; the supervisor is the
/// caller's ancestor, or holds `CAP_SYS_PTRACE`, as `/proc/PID/mem` would also require).
pub(crate) struct ThreadMemory(pub libc::pid_t);

impl ThreadMemory {
    /// Reads into `buf` from the caller's `addr`: how many bytes came (a read stops short at an
    /// unmapped page), or `EFAULT` when none did.
    fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<usize, i32> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast::<c_void>(),
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` covers exactly `buf`; the remote range is only read by the kernel on
        // the caller's behalf.
        let n = unsafe { libc::process_vm_readv(self.0, &local, 1, &remote, 1, 0) };
        usize::try_from(n)
            .ok()
            .filter(|&n| n > 0)
            .ok_or(libc::EFAULT)
    }
}

impl Memory for ThreadMemory {
    fn path(&self, addr: u64) -> Result<Vec<u8>, i32> {
        if addr == 0 {
            return Err(libc::EFAULT);
        }
        let mut buf = vec![0u8; PATH_MAX];
        let mut got = 0usize;
        // A string may end just before an unmapped page: read up to each page boundary, so a
        // fault past the NUL does not fail the read.
        while got < PATH_MAX {
            let at = addr + got as u64;
            let to_page_end = 4096 - (at % 4096) as usize;
            let want = to_page_end.min(PATH_MAX - got);
            let n = self.read_into(at, &mut buf[got..got + want])?;
            if let Some(end) = buf[got..got + n].iter().position(|&b| b == 0) {
                buf.truncate(got + end);
                return Ok(buf);
            }
            got += n;
        }
        Err(libc::ENAMETOOLONG)
    }

    fn bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>, i32> {
        let mut buf = vec![0u8; len];
        let mut got = 0usize;
        while got < len {
            got += self.read_into(addr + got as u64, &mut buf[got..])?;
        }
        Ok(buf)
    }
}

/// Decodes one notification's syscall. Errors are the errno the caller gets.
pub(crate) fn decode(data: &libc::seccomp_data, memory: &dyn Memory) -> Result<Call, i32> {
    #[cfg(target_arch = "x86_64")]
    if let Some(call) = decode_legacy(data, memory)? {
        return Ok(call);
    }
    if let Some(call) = decode_metadata(data, memory)? {
        return Ok(call);
    }
    decode_at(data, memory)
}

/// The calls that change a file's times or extended attributes, or `None` for any other call.
fn decode_metadata(data: &libc::seccomp_data, memory: &dyn Memory) -> Result<Option<Call>, i32> {
    let a = data.args;
    let nr = libc::c_long::from(data.nr);
    let args = Args { raw: a, memory };
    let set_xattr = |file: PathArg, follow: bool| -> Result<Call, i32> {
        Ok(Call::SetXattr {
            file,
            follow,
            name: args.xattr_name(1)?,
            value: args.xattr_value(2, 3)?,
            flags: a[4] as i32,
        })
    };
    let remove_xattr = |file: PathArg, follow: bool| -> Result<Call, i32> {
        Ok(Call::RemoveXattr {
            file,
            follow,
            name: args.xattr_name(1)?,
        })
    };
    Ok(Some(match nr {
        libc::SYS_utimensat => {
            let flags = a[3] as i32;
            if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(libc::EINVAL);
            }
            Call::Times {
                file: args.at_path_or_fd(0, 1, flags)?,
                times: args.timespecs(2)?,
                follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            }
        }
        #[cfg(target_arch = "x86_64")]
        libc::SYS_futimesat => Call::Times {
            file: args.at_path_or_fd(0, 1, 0)?,
            times: args.timevals(2)?,
            follow: true,
        },
        #[cfg(target_arch = "x86_64")]
        libc::SYS_utimes => Call::Times {
            file: args.cwd_path(0)?,
            times: args.timevals(1)?,
            follow: true,
        },
        #[cfg(target_arch = "x86_64")]
        libc::SYS_utime => Call::Times {
            file: args.cwd_path(0)?,
            times: args.utimbuf(1)?,
            follow: true,
        },
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chown | libc::SYS_lchown => Call::Chown {
            file: args.cwd_path(0)?,
            uid: a[1] as u32,
            gid: a[2] as u32,
            follow: nr == libc::SYS_chown,
        },
        libc::SYS_fchown => Call::Chown {
            file: held_fd(a[0])?,
            uid: a[1] as u32,
            gid: a[2] as u32,
            follow: true,
        },
        libc::SYS_fchownat => {
            let flags = a[4] as i32;
            if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(libc::EINVAL);
            }
            Call::Chown {
                file: args.at_path_or_fd(0, 1, flags)?,
                uid: a[2] as u32,
                gid: a[3] as u32,
                follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            }
        }
        libc::SYS_setxattr => set_xattr(args.cwd_path(0)?, true)?,
        libc::SYS_lsetxattr => set_xattr(args.cwd_path(0)?, false)?,
        libc::SYS_fsetxattr => set_xattr(held_fd(a[0])?, true)?,
        libc::SYS_removexattr => remove_xattr(args.cwd_path(0)?, true)?,
        libc::SYS_lremovexattr => remove_xattr(args.cwd_path(0)?, false)?,
        libc::SYS_fremovexattr => remove_xattr(held_fd(a[0])?, true)?,
        _ => return Ok(None),
    }))
}

/// A descriptor argument as the file it holds: an empty path from it (as `AT_EMPTY_PATH`).
fn held_fd(raw: u64) -> Result<PathArg, i32> {
    match raw as i32 {
        fd if fd >= 0 => Ok(PathArg {
            at: Dirfd::Fd(fd),
            path: Vec::new(),
        }),
        _ => Err(libc::EBADF),
    }
}

/// The x86_64 calls that name paths relative to the cwd only (`open`, `rename`, ...), or `None`
/// for any other call.
#[cfg(target_arch = "x86_64")]
fn decode_legacy(data: &libc::seccomp_data, memory: &dyn Memory) -> Result<Option<Call>, i32> {
    let a = data.args;
    let nr = libc::c_long::from(data.nr);
    let args = Args { raw: a, memory };
    Ok(match nr {
        libc::SYS_open => Some(Call::Open {
            file: args.cwd_path(0)?,
            flags: a[1] as i32,
            mode: a[2] as u32,
        }),
        libc::SYS_creat => Some(Call::Open {
            file: args.cwd_path(0)?,
            flags: libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            mode: a[1] as u32,
        }),
        libc::SYS_mkdir => Some(Call::Mkdir {
            dir: args.cwd_path(0)?,
            mode: a[1] as u32,
        }),
        libc::SYS_mknod => Some(Call::Mknod {
            node: args.cwd_path(0)?,
            mode: a[1] as u32,
            dev: a[2],
        }),
        libc::SYS_rename => Some(Call::Rename {
            from: args.cwd_path(0)?,
            to: args.cwd_path(1)?,
            flags: 0,
        }),
        libc::SYS_renameat => Some(Call::Rename {
            from: args.at_path(0, 1)?,
            to: args.at_path(2, 3)?,
            flags: 0,
        }),
        libc::SYS_link => Some(Call::Link {
            from: args.cwd_path(0)?,
            to: args.cwd_path(1)?,
            flags: 0,
        }),
        libc::SYS_symlink => Some(Call::Symlink {
            target: args.path(0)?,
            link: args.cwd_path(1)?,
        }),
        libc::SYS_unlink => Some(Call::Unlink {
            entry: args.cwd_path(0)?,
            dir: false,
        }),
        libc::SYS_rmdir => Some(Call::Unlink {
            entry: args.cwd_path(0)?,
            dir: true,
        }),
        libc::SYS_chmod => Some(Call::Chmod {
            file: args.cwd_path(0)?,
            mode: a[1] as u32,
            follow: true,
        }),
        _ => None,
    })
}

/// The calls of every architecture (`openat`, `renameat2`, ...); any other is `ENOSYS`.
fn decode_at(data: &libc::seccomp_data, memory: &dyn Memory) -> Result<Call, i32> {
    let a = data.args;
    let nr = libc::c_long::from(data.nr);
    let args = Args { raw: a, memory };
    Ok(match nr {
        libc::SYS_openat => Call::Open {
            file: args.at_path(0, 1)?,
            flags: a[2] as i32,
            mode: a[3] as u32,
        },
        libc::SYS_mkdirat => Call::Mkdir {
            dir: args.at_path(0, 1)?,
            mode: a[2] as u32,
        },
        libc::SYS_mknodat => Call::Mknod {
            node: args.at_path(0, 1)?,
            mode: a[2] as u32,
            dev: a[3],
        },
        libc::SYS_renameat2 => Call::Rename {
            from: args.at_path(0, 1)?,
            to: args.at_path(2, 3)?,
            flags: a[4] as u32,
        },
        libc::SYS_linkat => {
            let flags = a[4] as i32;
            if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(libc::EINVAL);
            }
            Call::Link {
                from: args.at_path(0, 1)?,
                to: args.at_path(2, 3)?,
                flags,
            }
        }
        libc::SYS_symlinkat => Call::Symlink {
            target: args.path(0)?,
            link: args.at_path(1, 2)?,
        },
        libc::SYS_unlinkat => {
            let flags = a[2] as i32;
            if flags & !libc::AT_REMOVEDIR != 0 {
                return Err(libc::EINVAL);
            }
            Call::Unlink {
                entry: args.at_path(0, 1)?,
                dir: flags & libc::AT_REMOVEDIR != 0,
            }
        }
        libc::SYS_truncate => Call::Truncate {
            file: args.cwd_path(0)?,
            length: a[1] as i64,
        },
        libc::SYS_fchmodat => Call::Chmod {
            file: args.at_path(0, 1)?,
            mode: a[2] as u32,
            follow: true,
        },
        libc::SYS_fchmodat2 => {
            let flags = a[3] as i32;
            if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
                return Err(libc::EINVAL);
            }
            let mut file = args.at_path(0, 1)?;
            if file.path.is_empty() && flags & libc::AT_EMPTY_PATH == 0 {
                return Err(libc::ENOENT);
            }
            if file.path.is_empty() && file.at == Dirfd::Cwd {
                // `AT_FDCWD` with an empty path: the cwd itself, which the walk names ".".
                file.path = b".".to_vec();
            }
            Call::Chmod {
                file,
                mode: a[2] as u32,
                follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            }
        }
        // The descriptor's own file: an empty path from it (as `AT_EMPTY_PATH`).
        libc::SYS_fchmod => Call::Chmod {
            file: held_fd(a[0])?,
            mode: a[1] as u32,
            follow: true,
        },
        // The filter sends nothing else; answer as the kernel would for an unknown call.
        _ => return Err(libc::ENOSYS),
    })
}

/// A notification's arguments, read as the call's paths and directory fds.
struct Args<'m> {
    raw: [u64; 6],
    memory: &'m dyn Memory,
}

impl Args<'_> {
    /// Argument `i` as a path in the caller's memory.
    fn path(&self, i: usize) -> Result<Vec<u8>, i32> {
        self.memory.path(self.raw[i])
    }

    /// Argument `i` as a path relative to the caller's cwd.
    fn cwd_path(&self, i: usize) -> Result<PathArg, i32> {
        Ok(PathArg {
            at: Dirfd::Cwd,
            path: self.path(i)?,
        })
    }

    /// Argument `dir` as a directory fd and argument `i` as a path relative to it.
    fn at_path(&self, dir: usize, i: usize) -> Result<PathArg, i32> {
        let at = dirfd(self.raw[dir])?;
        Ok(PathArg {
            at,
            path: self.path(i)?,
        })
    }

    /// As [`Args::at_path`], for the calls that take a null path (`utimensat`, `futimesat`) or
    /// an empty one with `AT_EMPTY_PATH` to mean the descriptor's own file.
    fn at_path_or_fd(&self, dir: usize, i: usize, flags: i32) -> Result<PathArg, i32> {
        if self.raw[i] == 0 {
            // A null path names the descriptor's file, and takes no flags.
            return match dirfd(self.raw[dir])? {
                Dirfd::Fd(_) if flags == 0 => held_fd(self.raw[dir]),
                Dirfd::Fd(_) => Err(libc::EINVAL),
                Dirfd::Cwd => Err(libc::EFAULT),
            };
        }
        let mut file = self.at_path(dir, i)?;
        if file.path.is_empty() {
            if flags & libc::AT_EMPTY_PATH == 0 {
                return Err(libc::ENOENT);
            }
            if file.at == Dirfd::Cwd {
                // `AT_FDCWD` with an empty path: the cwd itself, which the walk names ".".
                file.path = b".".to_vec();
            }
        }
        Ok(file)
    }

    /// Argument `i` as `struct timespec[2]`, or `None` for a null pointer ("now").
    fn timespecs(&self, i: usize) -> Result<Option<[(i64, i64); 2]>, i32> {
        self.time_pairs(i, 32)
    }

    /// Argument `i` as `struct timeval[2]` (microseconds), as timespecs; the kernel's range check
    /// is kept, since the broker's own call could not tell a microsecond from a nanosecond.
    #[cfg(target_arch = "x86_64")]
    fn timevals(&self, i: usize) -> Result<Option<[(i64, i64); 2]>, i32> {
        let pairs = self.time_pairs(i, 32)?;
        pairs
            .map(|pair| {
                let mut out = [(0, 0); 2];
                for (to, (sec, usec)) in out.iter_mut().zip(pair) {
                    if !(0..1_000_000).contains(&usec) {
                        return Err(libc::EINVAL);
                    }
                    *to = (sec, usec * 1000);
                }
                Ok(out)
            })
            .transpose()
    }

    /// Argument `i` as `struct utimbuf` (two whole seconds), as timespecs.
    #[cfg(target_arch = "x86_64")]
    fn utimbuf(&self, i: usize) -> Result<Option<[(i64, i64); 2]>, i32> {
        Ok(self.time_pairs(i, 16)?.map(|pair| {
            // `struct utimbuf` is two `time_t`: the pairs read as (actime, modtime), (0, 0).
            let [(access, modification), _] = pair;
            [(access, 0), (modification, 0)]
        }))
    }

    /// `len` bytes (16 or 32) at argument `i` read as native-endian `i64`s, paired, missing
    /// words zero; `None` for a null pointer.
    fn time_pairs(&self, i: usize, len: usize) -> Result<Option<[(i64, i64); 2]>, i32> {
        if self.raw[i] == 0 {
            return Ok(None);
        }
        let bytes = self.memory.bytes(self.raw[i], len)?;
        let mut words = bytes
            .chunks_exact(8)
            .map(|w| i64::from_ne_bytes(w.try_into().unwrap_or_default()))
            .chain(std::iter::repeat(0));
        let mut pair = || (words.next().unwrap_or(0), words.next().unwrap_or(0));
        Ok(Some([pair(), pair()]))
    }

    /// Argument `i` as an extended attribute's name: `ERANGE` when empty or too long, as the
    /// kernel answers.
    fn xattr_name(&self, i: usize) -> Result<CString, i32> {
        let name = self.path(i).map_err(|e| match e {
            libc::ENAMETOOLONG => libc::ERANGE,
            other => other,
        })?;
        if name.is_empty() || name.len() > XATTR_NAME_MAX {
            return Err(libc::ERANGE);
        }
        CString::new(name).map_err(|_| libc::ERANGE)
    }

    /// Arguments `value` and `size` as an extended attribute's value: `E2BIG` past the kernel's
    /// largest.
    fn xattr_value(&self, value: usize, size: usize) -> Result<Vec<u8>, i32> {
        let size = usize::try_from(self.raw[size]).map_err(|_| libc::E2BIG)?;
        if size > XATTR_SIZE_MAX {
            return Err(libc::E2BIG);
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        self.memory.bytes(self.raw[value], size)
    }
}

/// A directory fd argument (an `int`; `AT_FDCWD` is the cwd).
fn dirfd(raw: u64) -> Result<Dirfd, i32> {
    match raw as i32 {
        libc::AT_FDCWD => Ok(Dirfd::Cwd),
        fd if fd >= 0 => Ok(Dirfd::Fd(fd)),
        _ => Err(libc::EBADF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings and byte blocks at fake addresses.
    struct Fake(Vec<(u64, &'static [u8])>);
    impl Memory for Fake {
        fn path(&self, addr: u64) -> Result<Vec<u8>, i32> {
            self.0
                .iter()
                .find(|(a, _)| *a == addr)
                .map(|(_, s)| s.to_vec())
                .ok_or(libc::EFAULT)
        }

        fn bytes(&self, addr: u64, len: usize) -> Result<Vec<u8>, i32> {
            self.0
                .iter()
                .find(|(a, s)| *a == addr && s.len() >= len)
                .map(|(_, s)| s[..len].to_vec())
                .ok_or(libc::EFAULT)
        }
    }

    /// Two native-endian pairs of `i64`, as `struct timespec[2]` or `struct timeval[2]` lie.
    fn pairs(words: [i64; 4]) -> &'static [u8] {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        Box::leak(bytes.into_boxed_slice())
    }

    #[test]
    fn decodes_time_changes_by_path_by_descriptor_and_for_now() {
        let cwd = (libc::AT_FDCWD as u32) as u64;
        let mem = Fake(vec![
            (0x10, b"f"),
            (0x20, pairs([5, 6, 7, libc::UTIME_OMIT])),
            (0x30, b""),
        ]);
        let nofollow = libc::AT_SYMLINK_NOFOLLOW as u64;
        let call = data(libc::SYS_utimensat, [cwd, 0x10, 0x20, nofollow, 0, 0]);
        assert_eq!(
            decode(&call, &mem),
            Ok(Call::Times {
                file: PathArg {
                    at: Dirfd::Cwd,
                    path: b"f".to_vec()
                },
                times: Some([(5, 6), (7, libc::UTIME_OMIT)]),
                follow: false,
            })
        );
        // A null path is the descriptor's own file (`futimens`); null times are "now".
        let futimens = data(libc::SYS_utimensat, [4, 0, 0, 0, 0, 0]);
        assert_eq!(
            decode(&futimens, &mem),
            Ok(Call::Times {
                file: PathArg {
                    at: Dirfd::Fd(4),
                    path: Vec::new()
                },
                times: None,
                follow: true,
            })
        );
        let null_with_flags = data(libc::SYS_utimensat, [4, 0, 0, nofollow, 0, 0]);
        assert_eq!(decode(&null_with_flags, &mem), Err(libc::EINVAL));
        let null_at_cwd = data(libc::SYS_utimensat, [cwd, 0, 0, 0, 0, 0]);
        assert_eq!(decode(&null_at_cwd, &mem), Err(libc::EFAULT));
        let empty = data(libc::SYS_utimensat, [cwd, 0x30, 0, 0, 0, 0]);
        assert_eq!(decode(&empty, &mem), Err(libc::ENOENT));
        let empty_path = libc::AT_EMPTY_PATH as u64;
        let here = data(libc::SYS_utimensat, [cwd, 0x30, 0, empty_path, 0, 0]);
        assert!(matches!(decode(&here, &mem), Ok(Call::Times { file, .. }) if file.path == b"."));
        let bad_flags = data(libc::SYS_utimensat, [cwd, 0x10, 0, 0x8000_0000, 0, 0]);
        assert_eq!(decode(&bad_flags, &mem), Err(libc::EINVAL));
        let unreadable_times = data(libc::SYS_utimensat, [cwd, 0x10, 0x99, 0, 0, 0]);
        assert_eq!(decode(&unreadable_times, &mem), Err(libc::EFAULT));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn decodes_the_legacy_time_calls_into_nanoseconds() {
        let mem = Fake(vec![
            (0x10, b"f"),
            (0x20, pairs([5, 6, 7, 8])),
            (0x40, pairs([5, 1_000_000, 7, 8])),
        ]);
        let times = |call| match decode(&call, &mem) {
            Ok(Call::Times { times, .. }) => Ok(times),
            other => other.map(|_| None),
        };
        let utimes = data(libc::SYS_utimes, [0x10, 0x20, 0, 0, 0, 0]);
        assert_eq!(times(utimes), Ok(Some([(5, 6000), (7, 8000)])));
        let futimesat = data(libc::SYS_futimesat, [3, 0x10, 0x20, 0, 0, 0]);
        assert_eq!(times(futimesat), Ok(Some([(5, 6000), (7, 8000)])));
        // `struct utimbuf` holds whole seconds: access 5, modification 6.
        let utime = data(libc::SYS_utime, [0x10, 0x20, 0, 0, 0, 0]);
        assert_eq!(times(utime), Ok(Some([(5, 0), (6, 0)])));
        let out_of_range = data(libc::SYS_utimes, [0x10, 0x40, 0, 0, 0, 0]);
        assert_eq!(times(out_of_range), Err(libc::EINVAL));
        let now = data(libc::SYS_utime, [0x10, 0, 0, 0, 0, 0]);
        assert_eq!(times(now), Ok(None));
    }

    #[test]
    fn decodes_extended_attributes_with_the_kernels_limits() {
        let long: &'static [u8] = Box::leak(vec![b'n'; 256].into_boxed_slice());
        let mem = Fake(vec![
            (0x10, b"f"),
            (0x20, b"user.k"),
            (0x30, b"value"),
            (0x40, long),
            (0x50, b""),
        ]);
        let set = data(libc::SYS_lsetxattr, [0x10, 0x20, 0x30, 3, 1, 0]);
        assert_eq!(
            decode(&set, &mem),
            Ok(Call::SetXattr {
                file: PathArg {
                    at: Dirfd::Cwd,
                    path: b"f".to_vec()
                },
                follow: false,
                name: CString::new("user.k").unwrap(),
                value: b"val".to_vec(),
                flags: 1,
            })
        );
        let by_fd = data(libc::SYS_fremovexattr, [6, 0x20, 0, 0, 0, 0]);
        assert_eq!(
            decode(&by_fd, &mem),
            Ok(Call::RemoveXattr {
                file: PathArg {
                    at: Dirfd::Fd(6),
                    path: Vec::new()
                },
                follow: true,
                name: CString::new("user.k").unwrap(),
            })
        );
        // An empty value needs no readable pointer.
        let empty = data(libc::SYS_setxattr, [0x10, 0x20, 0, 0, 0, 0]);
        assert!(
            matches!(decode(&empty, &mem), Ok(Call::SetXattr { value, .. }) if value.is_empty())
        );
        let long_name = data(libc::SYS_setxattr, [0x10, 0x40, 0x30, 1, 0, 0]);
        assert_eq!(decode(&long_name, &mem), Err(libc::ERANGE));
        let no_name = data(libc::SYS_removexattr, [0x10, 0x50, 0, 0, 0, 0]);
        assert_eq!(decode(&no_name, &mem), Err(libc::ERANGE));
        let too_big = data(libc::SYS_setxattr, [0x10, 0x20, 0x30, 65537, 0, 0]);
        assert_eq!(decode(&too_big, &mem), Err(libc::E2BIG));
        let unreadable = data(libc::SYS_setxattr, [0x10, 0x20, 0x30, 64, 0, 0]);
        assert_eq!(decode(&unreadable, &mem), Err(libc::EFAULT));
        let bad_fd = data(
            libc::SYS_fsetxattr,
            [(-1i32 as u32) as u64, 0x20, 0x30, 1, 0, 0],
        );
        assert_eq!(decode(&bad_fd, &mem), Err(libc::EBADF));
    }

    fn data(nr: libc::c_long, args: [u64; 6]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr: nr as i32,
            arch: crate::seccomp::AUDIT_ARCH,
            instruction_pointer: 0,
            args,
        }
    }

    #[test]
    fn decodes_the_at_family_with_its_directory_and_flags() {
        let mem = Fake(vec![(0x10, b"a/b"), (0x20, b"c")]);
        let cwd = (libc::AT_FDCWD as u32) as u64;
        let open = data(libc::SYS_openat, [3, 0x10, 0o1101, 0o644, 0, 0]);
        assert_eq!(
            decode(&open, &mem),
            Ok(Call::Open {
                file: PathArg {
                    at: Dirfd::Fd(3),
                    path: b"a/b".to_vec()
                },
                flags: 0o1101,
                mode: 0o644
            })
        );
        let rename = data(libc::SYS_renameat2, [cwd, 0x10, 7, 0x20, 1, 0]);
        assert_eq!(
            decode(&rename, &mem),
            Ok(Call::Rename {
                from: PathArg {
                    at: Dirfd::Cwd,
                    path: b"a/b".to_vec()
                },
                to: PathArg {
                    at: Dirfd::Fd(7),
                    path: b"c".to_vec()
                },
                flags: 1
            })
        );
        let rmdir = data(
            libc::SYS_unlinkat,
            [cwd, 0x20, libc::AT_REMOVEDIR as u64, 0, 0, 0],
        );
        assert_eq!(decode(&rmdir, &mem).map(|c| c.name()), Ok("rmdir"));
    }

    #[test]
    fn bad_arguments_get_the_kernels_errors() {
        let mem = Fake(vec![(0x10, b"x")]);
        let bad_fd = data(
            libc::SYS_mkdirat,
            [(-5i32 as u32) as u64, 0x10, 0o755, 0, 0, 0],
        );
        assert_eq!(decode(&bad_fd, &mem), Err(libc::EBADF));
        let bad_ptr = data(libc::SYS_mkdirat, [3, 0x99, 0o755, 0, 0, 0]);
        assert_eq!(decode(&bad_ptr, &mem), Err(libc::EFAULT));
        let bad_flags = data(libc::SYS_unlinkat, [3, 0x10, 0x1, 0, 0, 0]);
        assert_eq!(decode(&bad_flags, &mem), Err(libc::EINVAL));
        let bad_link = data(libc::SYS_linkat, [3, 0x10, 3, 0x10, 0x8000, 0]);
        assert_eq!(decode(&bad_link, &mem), Err(libc::EINVAL));
    }

    #[test]
    fn reads_a_path_from_this_process_and_stops_at_its_nul() {
        // SAFETY: getpid has no preconditions.
        let me = ThreadMemory(unsafe { libc::getpid() });
        let s = b"some/path\0trailing";
        assert_eq!(me.path(s.as_ptr() as u64), Ok(b"some/path".to_vec()));
        assert_eq!(me.path(0), Err(libc::EFAULT));
        let long = vec![b'a'; PATH_MAX + 10];
        assert_eq!(me.path(long.as_ptr() as u64), Err(libc::ENAMETOOLONG));
    }
}
