//! One mediated syscall, decoded from its seccomp notification: which call, which paths (read
//! once from the caller's memory), which flags.
//!
//! The paths are copied out of the caller while it is stopped in the syscall and the copy is all
//! the broker ever looks at: another thread of the caller may rewrite the buffer at any moment,
//! and the kernel, which never performs the call, never reads it again.

use std::ffi::c_void;

/// Longest path the kernel accepts, with its NUL.
const PATH_MAX: usize = libc::PATH_MAX as usize;

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
        }
    }

    /// The path the call creates or changes, for the report.
    pub(crate) fn target(&self) -> &[u8] {
        match self {
            Call::Open { file, .. } | Call::Truncate { file, .. } | Call::Chmod { file, .. } => {
                &file.path
            }
            Call::Mkdir { dir, .. } => &dir.path,
            Call::Mknod { node, .. } => &node.path,
            Call::Rename { to, .. } | Call::Link { to, .. } => &to.path,
            Call::Symlink { link, .. } => &link.path,
            Call::Unlink { entry, .. } => &entry.path,
        }
    }
}

/// Reads C strings from a stopped caller's memory.
pub(crate) trait Memory {
    /// The NUL-terminated string at `addr`, without its NUL: `EFAULT` when unreadable,
    /// `ENAMETOOLONG` when longer than `PATH_MAX`.
    fn path(&self, addr: u64) -> Result<Vec<u8>, i32>;
}

/// A thread's memory through `process_vm_readv` (one syscall per string; the supervisor is the
/// caller's ancestor, or holds `CAP_SYS_PTRACE`, as `/proc/PID/mem` would also require).
pub(crate) struct ThreadMemory(pub libc::pid_t);

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
            let local = libc::iovec {
                iov_base: buf[got..].as_mut_ptr().cast::<c_void>(),
                iov_len: want,
            };
            let remote = libc::iovec {
                iov_base: at as *mut c_void,
                iov_len: want,
            };
            // SAFETY: `local` points into `buf`, which has at least `want` bytes from `got`;
            // the remote range is only read by the kernel on the caller's behalf.
            let n = unsafe { libc::process_vm_readv(self.0, &local, 1, &remote, 1, 0) };
            if n <= 0 {
                return Err(libc::EFAULT);
            }
            let n = n as usize;
            if let Some(end) = buf[got..got + n].iter().position(|&b| b == 0) {
                buf.truncate(got + end);
                return Ok(buf);
            }
            got += n;
        }
        Err(libc::ENAMETOOLONG)
    }
}

/// Decodes one notification's syscall. Errors are the errno the caller gets.
pub(crate) fn decode(data: &libc::seccomp_data, memory: &dyn Memory) -> Result<Call, i32> {
    #[cfg(target_arch = "x86_64")]
    if let Some(call) = decode_legacy(data, memory)? {
        return Ok(call);
    }
    decode_at(data, memory)
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
            file: PathArg {
                at: match a[0] as i32 {
                    fd if fd >= 0 => Dirfd::Fd(fd),
                    _ => return Err(libc::EBADF),
                },
                path: Vec::new(),
            },
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

    /// Strings at fake addresses.
    struct Fake(Vec<(u64, &'static [u8])>);
    impl Memory for Fake {
        fn path(&self, addr: u64) -> Result<Vec<u8>, i32> {
            self.0
                .iter()
                .find(|(a, _)| *a == addr)
                .map(|(_, s)| s.to_vec())
                .ok_or(libc::EFAULT)
        }
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
