//! `cordon-probe ACTION ARGS...`: performs exactly one action and prints one machine-readable
//! line: `ok [detail]` on success, `errno=N at=STEP` on failure. The escape tests run it inside
//! and outside the sandbox so they never depend on the exit code of `curl`, `nc` or a shell.
//! A kill by a signal is visible to the caller as the process's signal, not as output.

use std::ffi::CString;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let line = match run(&args) {
        Ok(detail) if detail.is_empty() => "ok".to_string(),
        Ok(detail) => format!("ok {detail}"),
        Err((errno, at)) => format!("errno={errno} at={at}"),
    };
    println!("{line}");
    let _ = std::io::stdout().flush();
}

type Outcome = Result<String, (i32, &'static str)>;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(rc: i64, at: &'static str) -> Result<i64, (i32, &'static str)> {
    if rc < 0 {
        Err((errno(), at))
    } else {
        Ok(rc)
    }
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i).map(String::as_str).unwrap_or("")
}

fn num<T: std::str::FromStr + Default>(s: &str) -> T {
    s.parse().unwrap_or_default()
}

fn sockaddr(ip: &str, port: u16) -> (libc::c_int, libc::sockaddr_storage, libc::socklen_t) {
    let addr = SocketAddr::new(ip.parse().unwrap_or(IpAddr::from([127, 0, 0, 1])), port);
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            (
                libc::AF_INET,
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as u32,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                libc::AF_INET6,
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as u32,
            )
        }
    }
}

fn unix_addr(path: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (i, b) in path.iter().enumerate().take(sun.sun_path.len() - 1) {
        sun.sun_path[i] = *b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + path.len();
    (sun, len as libc::socklen_t)
}

fn run(args: &[String]) -> Outcome {
    let a1 = arg(args, 1);
    let a2 = arg(args, 2);
    match arg(args, 0) {
        "read" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::open(cstr(a1).as_ptr(), libc::O_RDONLY) } as i64,
                "open",
            )?;
            let mut b = [0u8; 1];
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::read(fd as i32, b.as_mut_ptr().cast(), 1) } as i64,
                "read",
            )?;
            Ok(String::new())
        }
        "readdir" => {
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::open(cstr(a1).as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) } as i64,
                "open",
            )?;
            Ok(String::new())
        }
        "write" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe {
                    libc::open(
                        cstr(a1).as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                        0o644,
                    )
                } as i64,
                "open",
            )?;
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::write(fd as i32, b"x".as_ptr().cast(), 1) } as i64,
                "write",
            )?;
            Ok(String::new())
        }
        "append" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::open(cstr(a1).as_ptr(), libc::O_WRONLY | libc::O_APPEND) } as i64,
                "open",
            )?;
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::write(fd as i32, b"x".as_ptr().cast(), 1) } as i64,
                "write",
            )?;
            Ok(String::new())
        }
        "truncate" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::truncate(cstr(a1).as_ptr(), 0) } as i64,
            "truncate",
        )
        .map(|_| String::new()),
        "mkdir" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::mkdir(cstr(a1).as_ptr(), 0o755) } as i64,
            "mkdir",
        )
        .map(|_| String::new()),
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        "unlink" => check(unsafe { libc::unlink(cstr(a1).as_ptr()) } as i64, "unlink")
            .map(|_| String::new()),
        "rename" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::rename(cstr(a1).as_ptr(), cstr(a2).as_ptr()) } as i64,
            "rename",
        )
        .map(|_| String::new()),
        "link" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::link(cstr(a1).as_ptr(), cstr(a2).as_ptr()) } as i64,
            "link",
        )
        .map(|_| String::new()),
        "symlink" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::symlink(cstr(a1).as_ptr(), cstr(a2).as_ptr()) } as i64,
            "symlink",
        )
        .map(|_| String::new()),
        "tcp-connect" | "tcp-bind" | "udp-send" => {
            // `proxy-port`: the port of the egress proxy the sandbox named in HTTPS_PROXY.
            let port = match a2 {
                "proxy-port" => std::env::var("HTTPS_PROXY")
                    .ok()
                    .and_then(|v| v.rsplit(':').next().and_then(|p| p.parse().ok()))
                    .unwrap_or(0),
                _ => num(a2),
            };
            let (family, addr, len) = sockaddr(a1, port);
            let ty = if arg(args, 0) == "udp-send" {
                libc::SOCK_DGRAM
            } else {
                libc::SOCK_STREAM
            };
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let fd = check(unsafe { libc::socket(family, ty, 0) } as i64, "socket")? as i32;
            let ptr = (&addr as *const libc::sockaddr_storage).cast::<libc::sockaddr>();
            match arg(args, 0) {
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                "tcp-connect" => check(unsafe { libc::connect(fd, ptr, len) } as i64, "connect")?,
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                "tcp-bind" => check(unsafe { libc::bind(fd, ptr, len) } as i64, "bind")?,
                _ => check(
                    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                    unsafe { libc::sendto(fd, b"exfil".as_ptr().cast(), 5, 0, ptr, len) } as i64,
                    "sendto",
                )?,
            };
            Ok(String::new())
        }
        // A server and its client in one process over loopback: what a test suite's local
        // server does.
        "tcp-echo-self" => tcp_echo_self(a1),
        "unix-echo-self" => unix_echo_self(a1),
        // The interfaces and the devices routes go through, as the namespace lists them.
        "interfaces" => Ok(interfaces()),
        "routes" => Ok(route_devices()),
        "socket" => {
            let (family, ty, proto) = match a1 {
                "inet" => (libc::AF_INET, libc::SOCK_STREAM, 0),
                "inet6" => (libc::AF_INET6, libc::SOCK_DGRAM, 0),
                "icmp" => (libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP),
                "raw" => (libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP),
                "netlink" => (libc::AF_NETLINK, libc::SOCK_RAW, 0),
                "packet" => (libc::AF_PACKET, libc::SOCK_RAW, 0),
                "vsock" => (libc::AF_VSOCK, libc::SOCK_STREAM, 0),
                "unix" => (libc::AF_UNIX, libc::SOCK_STREAM, 0),
                _ => return Err((libc::EINVAL, "family")),
            };
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            check(unsafe { libc::socket(family, ty, proto) } as i64, "socket")
                .map(|_| String::new())
        }
        "socketpair" => {
            let mut fds = [0; 2];
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) }
                    as i64,
                "socketpair",
            )
            .map(|_| String::new())
        }
        "unix-connect" | "abstract-connect" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) } as i64,
                "socket",
            )? as i32;
            let mut name = Vec::new();
            if arg(args, 0) == "abstract-connect" {
                name.push(0u8);
            }
            name.extend_from_slice(a1.as_bytes());
            let (sun, len) = unix_addr(&name);
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::connect(fd, (&sun as *const libc::sockaddr_un).cast(), len) } as i64,
                "connect",
            )
            .map(|_| String::new())
        }
        "abstract-bind" => {
            // Binds the abstract name a1, then holds it for a2 milliseconds in a child left
            // running in the background (the tree kill ends it), and for the third argument's
            // milliseconds in the foreground before answering.
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) } as i64,
                "socket",
            )? as i32;
            let mut name = vec![0u8];
            name.extend_from_slice(a1.as_bytes());
            let (sun, len) = unix_addr(&name);
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::bind(fd, (&sun as *const libc::sockaddr_un).cast(), len) } as i64,
                "bind",
            )?;
            let hold: u64 = num(a2);
            // SAFETY: fork in a single-threaded probe; the child only sleeps and exits.
            if hold > 0 && unsafe { libc::fork() } == 0 {
                std::thread::sleep(Duration::from_millis(hold));
                // SAFETY: _exit ends the child without running the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            std::thread::sleep(Duration::from_millis(num(arg(args, 3))));
            Ok(String::new())
        }
        "kill" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            check(unsafe { libc::kill(num(a1), num(a2)) } as i64, "kill").map(|_| String::new())
        }
        "ptrace-attach" => {
            let pid: libc::pid_t = num(a1);
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0usize, 0usize) } as i64,
                "ptrace",
            )?;
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize) };
            Ok(String::new())
        }
        "ptrace-traceme" => check(
            // SAFETY: a single syscall probe with no pointer arguments.
            unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) } as i64,
            "ptrace",
        )
        .map(|_| String::new()),
        "ptrace-child" => {
            // Forks a child that waits, attaches to it as a debugger would, and lets it go.
            // SAFETY: fork in a single-threaded probe; the child only pauses until killed.
            let child = unsafe { libc::fork() };
            if child == 0 {
                // SAFETY: pause and _exit in the forked child.
                unsafe {
                    libc::pause();
                    libc::_exit(0);
                }
            }
            let attached = check(
                // SAFETY: a single syscall probe on the child just forked.
                unsafe { libc::ptrace(libc::PTRACE_ATTACH, child, 0usize, 0usize) } as i64,
                "ptrace",
            );
            // SAFETY: kill and reap the child just forked, attached or not.
            unsafe {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, std::ptr::null_mut(), 0);
            }
            attached.map(|_| String::new())
        }
        "vm-readv" => {
            // Reads memory through process_vm_readv: our own (the syscall is probed), or PID's
            // (its access check is probed: a bad address then fails with EFAULT, not EPERM).
            let pid: libc::pid_t = if a1.is_empty() {
                // SAFETY: getpid has no preconditions.
                unsafe { libc::getpid() }
            } else {
                num(a1)
            };
            let src = [7u8; 8];
            let mut dst = [0u8; 8];
            let local = libc::iovec {
                iov_base: dst.as_mut_ptr().cast(),
                iov_len: 8,
            };
            let remote = libc::iovec {
                iov_base: src.as_ptr() as *mut _,
                iov_len: 8,
            };
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) } as i64,
                "process_vm_readv",
            )
            .map(|_| String::new())
        }
        "pidfd-getfd" => {
            let pid: libc::pid_t = if a1.is_empty() {
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::getpid() }
            } else {
                num(a1)
            };
            let pidfd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) },
                "pidfd_open",
            )?;
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, num::<i32>(a2), 0) },
                "pidfd_getfd",
            )
            .map(|_| String::new())
        }
        "io-uring-setup" => {
            let mut params = [0u8; 120];
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) },
                "io_uring_setup",
            )
            .map(|_| String::new())
        }
        "unshare" => {
            let flags = u64::from_str_radix(a1.trim_start_matches("0x"), 16).unwrap_or(0);
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_unshare, flags) },
                "unshare",
            )
            .map(|_| String::new())
        }
        "clone-newuser" => {
            let rc = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe {
                    libc::syscall(
                        libc::SYS_clone,
                        (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
                        0usize,
                        0usize,
                        0usize,
                        0usize,
                    )
                },
                "clone",
            )?;
            if rc == 0 {
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::_exit(0) };
            }
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::waitpid(rc as i32, std::ptr::null_mut(), 0) };
            Ok(String::new())
        }
        "clone3" => {
            // struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls
            let mut cl_args = [0u64; 8];
            cl_args[0] = libc::CLONE_NEWUSER as u64;
            cl_args[4] = libc::SIGCHLD as u64;
            let rc = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_clone3, cl_args.as_mut_ptr(), 64usize) },
                "clone3",
            )?;
            if rc == 0 {
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::_exit(0) };
            }
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::waitpid(rc as i32, std::ptr::null_mut(), 0) };
            Ok(String::new())
        }
        "setns" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::open(cstr("/proc/self/ns/net").as_ptr(), libc::O_RDONLY) } as i64,
                "open",
            )?;
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            check(unsafe { libc::setns(fd as i32, 0) } as i64, "setns").map(|_| String::new())
        }
        // Mount family: harmless arguments. Outside the sandbox each call reaches the kernel and
        // fails on its arguments (ENOENT/EBADF/ENODEV); inside, seccomp answers EPERM first.
        "mount" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::mount(
                    cstr("none").as_ptr(),
                    cstr("/nonexistent-cordon-probe").as_ptr(),
                    cstr("tmpfs").as_ptr(),
                    0,
                    std::ptr::null(),
                )
            } as i64,
            "mount",
        )
        .map(|_| String::new()),
        "umount2" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            // An optional path names a real mount point (the protected-metadata tests).
            unsafe {
                libc::umount2(
                    cstr(if a1.is_empty() {
                        "/nonexistent-cordon-probe"
                    } else {
                        a1
                    })
                    .as_ptr(),
                    0,
                )
            } as i64,
            "umount2",
        )
        .map(|_| String::new()),
        "pivot_root" => {
            let p = cstr("/nonexistent-cordon-probe");
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_pivot_root, p.as_ptr(), p.as_ptr()) },
                "pivot_root",
            )
            .map(|_| String::new())
        }
        "open_tree" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_open_tree,
                    libc::AT_FDCWD,
                    cstr("/nonexistent-cordon-probe").as_ptr(),
                    0u32,
                )
            },
            "open_tree",
        )
        .map(|_| String::new()),
        "fsopen" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::syscall(libc::SYS_fsopen, cstr("cordon-no-such-fs").as_ptr(), 0u32) },
            "fsopen",
        )
        .map(|_| String::new()),
        "fspick" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_fspick,
                    libc::AT_FDCWD,
                    cstr("/nonexistent-cordon-probe").as_ptr(),
                    0u32,
                )
            },
            "fspick",
        )
        .map(|_| String::new()),
        "fsconfig" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::syscall(libc::SYS_fsconfig, -1, 0u32, 0usize, 0usize, 0) },
            "fsconfig",
        )
        .map(|_| String::new()),
        "fsmount" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::syscall(libc::SYS_fsmount, -1, 0u32, 0u32) },
            "fsmount",
        )
        .map(|_| String::new()),
        "move_mount" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_move_mount,
                    -1,
                    cstr("").as_ptr(),
                    -1,
                    cstr("").as_ptr(),
                    0u32,
                )
            },
            "move_mount",
        )
        .map(|_| String::new()),
        "mount_setattr" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_mount_setattr,
                    -1,
                    cstr("").as_ptr(),
                    0u32,
                    0usize,
                    0usize,
                )
            },
            "mount_setattr",
        )
        .map(|_| String::new()),
        "keyctl" => {
            const KEYCTL_GET_KEYRING_ID: i32 = 0;
            const KEY_SPEC_PROCESS_KEYRING: i32 = -2;
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe {
                    libc::syscall(
                        libc::SYS_keyctl,
                        KEYCTL_GET_KEYRING_ID,
                        KEY_SPEC_PROCESS_KEYRING,
                        0,
                    )
                },
                "keyctl",
            )
            .map(|_| String::new())
        }
        "add_key" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_add_key,
                    cstr("user").as_ptr(),
                    cstr("cordon-probe").as_ptr(),
                    b"x".as_ptr(),
                    1usize,
                    -2, // KEY_SPEC_PROCESS_KEYRING
                )
            },
            "add_key",
        )
        .map(|_| String::new()),
        "request_key" => check(
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::syscall(
                    libc::SYS_request_key,
                    cstr("user").as_ptr(),
                    cstr("cordon-no-such-key").as_ptr(),
                    std::ptr::null::<libc::c_char>(),
                    0,
                )
            },
            "request_key",
        )
        .map(|_| String::new()),
        "bpf" => {
            // BPF_MAP_CREATE with an all-zero attr: the kernel rejects the attr (EINVAL).
            let attr = [0u8; 128];
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_bpf, 0, attr.as_ptr(), 128u32) },
                "bpf",
            )
            .map(|_| String::new())
        }
        "perf_event_open" => {
            let attr = [0u8; 128]; // size 0 field: the kernel rejects it (E2BIG/EINVAL)
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0, -1, -1, 0u64) },
                "perf_event_open",
            )
            .map(|_| String::new())
        }
        "int80-socket" => int80_socket(),
        "x32-getpid" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            check(unsafe { libc::syscall(39 | 0x4000_0000) }, "x32").map(|r| format!("ret={r}"))
        }
        "tiocsti" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::open(cstr(a1).as_ptr(), libc::O_RDWR | libc::O_NOCTTY) } as i64,
                "open",
            )?;
            let c = b'#';
            check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe { libc::ioctl(fd as i32, libc::TIOCSTI, &c as *const u8) } as i64,
                "ioctl",
            )
            .map(|_| String::new())
        }
        "caps" => caps(),
        "fds" => {
            let open: Vec<String> = (0..4096)
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0)
                .map(|fd| fd.to_string())
                .collect();
            Ok(format!("fds={}", open.join(",")))
        }
        "env" => {
            let names: Vec<String> = std::env::vars_os()
                .map(|(k, _)| k.to_string_lossy().into_owned())
                .collect();
            Ok(format!("env={}", names.join(",")))
        }
        "getenv" => Ok(format!("{a1}={}", std::env::var(a1).unwrap_or_default())),
        "forkbomb" => forkbomb(num(a1)),
        "alloc" => {
            let bytes: usize = num::<usize>(a1) << 20;
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err((errno(), "mmap"));
            }
            Ok(String::new())
        }
        "fsize" => {
            let fd = check(
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                unsafe {
                    libc::open(
                        cstr(a1).as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                        0o644,
                    )
                } as i64,
                "open",
            )?;
            let chunk = vec![0u8; 4096];
            for _ in 0..num::<usize>(a2) / 4096 {
                check(
                    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                    unsafe { libc::write(fd as i32, chunk.as_ptr().cast(), 4096) } as i64,
                    "write",
                )?;
            }
            Ok(String::new())
        }
        "spin" => loop {
            std::hint::spin_loop();
        },
        "sleep" => {
            std::thread::sleep(Duration::from_secs(num(a1)));
            Ok(String::new())
        }
        "daemonize" => daemonize(a1, num(a2)),
        "spew" => {
            let n: usize = num(a1);
            let chunk = vec![b'y'; 65536];
            let mut left = n;
            let mut out = std::io::stdout().lock();
            while left > 0 {
                let k = left.min(chunk.len());
                if out.write_all(&chunk[..k]).is_err() {
                    return Err((errno(), "write"));
                }
                left -= k;
            }
            Ok(String::new())
        }
        "spew-err" => {
            let n: usize = num(a1);
            let _ = std::io::stderr().write_all(&vec![b'e'; n]);
            Ok(String::new())
        }
        "exit" => std::process::exit(num(a1)),
        "raise" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::raise(num(a1)) };
            Ok(String::new())
        }
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        "getppid" => Ok(format!("ppid={}", unsafe { libc::getppid() })),
        other => broker_action(other, args).unwrap_or_else(|| {
            eprintln!("cordon-probe: unknown action {other:?}");
            Err((libc::EINVAL, "usage"))
        }),
    }
}

/// Actions for the write broker's tests (`tests/write_broker.rs`): each one syscall, or the
/// named sequence, with its result.
fn broker_action(action: &str, args: &[String]) -> Option<Outcome> {
    let a1 = arg(args, 1);
    let a2 = arg(args, 2);
    let a3 = arg(args, 3);
    Some(match action {
        // open(PATH, O_WRONLY|O_CREAT[|O_CLOEXEC]) and what the fd says about FD_CLOEXEC.
        "open-cloexec" | "open-no-cloexec" => {
            let cloexec = if action == "open-cloexec" {
                libc::O_CLOEXEC
            } else {
                0
            };
            let path = cstr(a1);
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let fd = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | cloexec,
                    0o644,
                )
            };
            check(fd as i64, "open").and_then(|fd| {
                // SAFETY: a single syscall probe on the fd just opened.
                let flags = unsafe { libc::fcntl(fd as i32, libc::F_GETFD) };
                check(flags as i64, "fcntl")
                    .map(|f| format!("cloexec={} fd={fd}", f & i64::from(libc::FD_CLOEXEC)))
            })
        }
        // chmod(PATH, MODE), fchmod on PATH opened read-only, fchmodat(AT_FDCWD, PATH, MODE),
        // open(PATH, O_WRONLY|O_CREAT, MODE); MODE in octal. Each prints the mode the file has.
        "chmod" | "fchmod" | "fchmodat" | "create-mode" => {
            let path = cstr(a1);
            let mode = u32::from_str_radix(a2, 8).unwrap_or(0o644);
            let rc = match action {
                // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
                "chmod" => unsafe { libc::chmod(path.as_ptr(), mode) },
                // SAFETY: as above.
                "fchmodat" => unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), mode, 0) },
                "fchmod" => {
                    // SAFETY: as above.
                    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
                    if let Err(e) = check(fd as i64, "open") {
                        return Some(Err(e));
                    }
                    // SAFETY: as above; `fd` is the descriptor just opened.
                    unsafe { libc::fchmod(fd, mode) }
                }
                // SAFETY: as above.
                _ => unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, mode) },
            };
            let at = match action {
                "chmod" => "chmod",
                "fchmod" => "fchmod",
                "fchmodat" => "fchmodat",
                _ => "open",
            };
            check(rc as i64, at).and_then(|_| {
                // SAFETY: stat is plain data written by the call.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                check(unsafe { libc::stat(path.as_ptr(), &mut st) } as i64, "stat")
                    .map(|_| format!("mode={:o}", st.st_mode & 0o7777))
            })
        }
        // pipe(), then fchmod of its read end: an inode no path reaches.
        "fchmod-pipe" => {
            let mut fds = [0i32; 2];
            // SAFETY: a single syscall probe; `fds` is a live local array of two ints.
            if let Err(e) = check(unsafe { libc::pipe(fds.as_mut_ptr()) } as i64, "pipe") {
                return Some(Err(e));
            }
            // SAFETY: as above; `fds[0]` is the pipe just made.
            check(unsafe { libc::fchmod(fds[0], 0o600) } as i64, "fchmod").map(|_| String::new())
        }
        // umask(MASK), then open(PATH, O_CREAT, 0666) and the mode the file got.
        "umask-create" => {
            let mask = u32::from_str_radix(a1, 8).unwrap_or(0o22);
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe { libc::umask(mask) };
            let path = cstr(a2);
            // SAFETY: as above.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o666) };
            check(fd as i64, "open").and_then(|_| {
                // SAFETY: stat is plain data written by the call.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                check(unsafe { libc::stat(path.as_ptr(), &mut st) } as i64, "stat")
                    .map(|_| format!("mode={:o}", st.st_mode & 0o7777))
            })
        }
        // open(DIR, O_RDONLY|O_DIRECTORY), then openat(that fd, NAME, O_WRONLY|O_CREAT).
        "openat-dirfd" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let dir = unsafe { libc::open(cstr(a1).as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            check(dir as i64, "open").and_then(|dir| {
                // SAFETY: as above.
                let fd = unsafe {
                    libc::openat(
                        dir as i32,
                        cstr(a2).as_ptr(),
                        libc::O_WRONLY | libc::O_CREAT,
                        0o644,
                    )
                };
                check(fd as i64, "openat").map(|_| String::new())
            })
        }
        "mkfifo" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let rc = unsafe { libc::mknod(cstr(a1).as_ptr(), libc::S_IFIFO | 0o644, 0) };
            check(rc as i64, "mknod").map(|_| String::new())
        }
        "mknod-reg" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let rc = unsafe { libc::mknod(cstr(a1).as_ptr(), libc::S_IFREG | 0o644, 0) };
            check(rc as i64, "mknod").map(|_| String::new())
        }
        "rename-exchange" => {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    cstr(a1).as_ptr(),
                    libc::AT_FDCWD,
                    cstr(a2).as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            check(rc, "renameat2").map(|_| String::new())
        }
        "openat2" => {
            // struct open_how { u64 flags, mode, resolve }
            let how: [u64; 3] = [(libc::O_WRONLY | libc::O_CREAT) as u64, 0o644, 0];
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    libc::AT_FDCWD,
                    cstr(a1).as_ptr(),
                    how.as_ptr(),
                    std::mem::size_of_val(&how),
                )
            };
            check(rc, "openat2").map(|_| String::new())
        }
        // O_TMPFILE in DIR, written, then linked as DIR/NAME, through /proc/self/fd (`via-proc`)
        // or with AT_EMPTY_PATH (`empty-path`).
        "tmpfile-link" => tmpfile_link(a1, a2, a3 == "empty-path"),
        // A second thread flips the path buffer between DECOY and TARGET while this one opens it
        // N times with O_CREAT: counts what was created and what was refused.
        "race-create" => race_create(a1, a2, a3.parse().unwrap_or(2000)),
        // Creates N empty files DIR/cN (open O_CREAT, close): the write broker's per-call cost.
        "create-many" => create_many(a1, a2.parse().unwrap_or(1000)),
        other => return metadata_action(other, args),
    })
}

/// Actions that change a file's times or extended attributes (`tests/write_broker.rs`), each
/// printing what the file then holds: `mtime=SECONDS`, or the attribute's value.
fn metadata_action(action: &str, args: &[String]) -> Option<Outcome> {
    let path = cstr(arg(args, 1));
    let mtime = |path: &CString| {
        // SAFETY: stat is plain data written by the call.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated; `st` is a live local.
        check(
            unsafe { libc::lstat(path.as_ptr(), &mut st) } as i64,
            "stat",
        )
        .map(|_| format!("mtime={}", st.st_mtime))
    };
    // Both times one second after the epoch: visibly not "now".
    let times = [libc::timespec {
        tv_sec: 1,
        tv_nsec: 0,
    }; 2];
    Some(match action {
        // utimensat(AT_FDCWD, PATH, {1, 1}, 0 or AT_SYMLINK_NOFOLLOW).
        "utimensat" | "utimensat-nofollow" => {
            let flags = if action == "utimensat" {
                0
            } else {
                libc::AT_SYMLINK_NOFOLLOW
            };
            // SAFETY: a single syscall probe; `path` is NUL-terminated, `times` a live local.
            let rc =
                unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), flags) };
            check(rc as i64, "utimensat").and_then(|_| mtime(&path))
        }
        // utimes(PATH, {1, 1}): the x86_64 call with microseconds.
        #[cfg(target_arch = "x86_64")]
        "utimes" => {
            let tv = [libc::timeval {
                tv_sec: 1,
                tv_usec: 0,
            }; 2];
            // SAFETY: a direct syscall (libc may route `utimes` through `utimensat`); `path` is
            // NUL-terminated, `tv` a live local.
            let rc = unsafe { libc::syscall(libc::SYS_utimes, path.as_ptr(), tv.as_ptr()) };
            check(rc, "utimes").and_then(|_| mtime(&path))
        }
        // futimens on PATH opened read-only.
        "futimens" => {
            // SAFETY: a single syscall probe; `path` is NUL-terminated.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
            check(fd as i64, "open").and_then(|fd| {
                // SAFETY: `fd` was just opened; `times` is a live local.
                let rc = unsafe { libc::futimens(fd as i32, times.as_ptr()) };
                check(rc as i64, "futimens").and_then(|_| mtime(&path))
            })
        }
        // setxattr(PATH, NAME, VALUE), or fsetxattr on PATH opened read-only; prints the value.
        "setxattr" | "fsetxattr" => {
            let (name, value) = (cstr(arg(args, 2)), arg(args, 3).as_bytes());
            let rc = if action == "setxattr" {
                // SAFETY: a single syscall probe; the strings are NUL-terminated, `value` live.
                unsafe {
                    libc::setxattr(
                        path.as_ptr(),
                        name.as_ptr(),
                        value.as_ptr().cast(),
                        value.len(),
                        0,
                    )
                }
            } else {
                // SAFETY: as above.
                let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
                if let Err(e) = check(fd as i64, "open") {
                    return Some(Err(e));
                }
                // SAFETY: as above; `fd` was just opened.
                unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) }
            };
            check(rc as i64, "setxattr").and_then(|_| read_xattr(&path, &name))
        }
        // chown(PATH, euid, egid), lchown, or fchown on PATH opened read-only: the owner the
        // file has already, which still clears set-user-ID bits. Prints the mode it then has.
        "chown" | "lchown" | "fchown" => {
            // SAFETY: geteuid/getegid have no preconditions.
            let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
            let rc = match action {
                // SAFETY: a single syscall probe; `path` is NUL-terminated.
                "chown" => unsafe { libc::chown(path.as_ptr(), uid, gid) },
                // SAFETY: as above.
                "lchown" => unsafe { libc::lchown(path.as_ptr(), uid, gid) },
                _ => {
                    // SAFETY: as above.
                    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
                    if let Err(e) = check(fd as i64, "open") {
                        return Some(Err(e));
                    }
                    // SAFETY: as above; `fd` was just opened.
                    unsafe { libc::fchown(fd, uid, gid) }
                }
            };
            check(rc as i64, "chown").and_then(|_| {
                // SAFETY: stat is plain data written by the call.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: `path` is NUL-terminated; `st` is a live local.
                check(
                    unsafe { libc::lstat(path.as_ptr(), &mut st) } as i64,
                    "stat",
                )
                .map(|_| format!("mode={:o}", st.st_mode & 0o7777))
            })
        }
        // ioctl(FS_IOC_SETFLAGS) on PATH opened read-only, setting no-dump (`chattr +d`), or
        // file_setattr(AT_FDCWD, PATH, {no-dump}) (Linux 6.17); prints the flags it then has.
        "set-inode-flags" | "file-setattr" => {
            const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
            const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
            const FS_NODUMP_FL: libc::c_long = 0x40;
            // SAFETY: a single syscall probe; `path` is NUL-terminated.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
            if let Err(e) = check(fd as i64, "open") {
                return Some(Err(e));
            }
            let mut flags: libc::c_long = 0;
            // SAFETY: `fd` was just opened; `flags` is a live local the kernel writes.
            let rc = unsafe { libc::ioctl(fd, FS_IOC_GETFLAGS, &mut flags) };
            if let Err(e) = check(rc as i64, "getflags") {
                return Some(Err(e));
            }
            let wanted = flags | FS_NODUMP_FL;
            let rc = if action == "set-inode-flags" {
                // SAFETY: as above; `wanted` is a live local the kernel reads.
                i64::from(unsafe { libc::ioctl(fd, FS_IOC_SETFLAGS, &wanted) })
            } else {
                // `struct file_attr`: fa_xflags (u64), fa_extsize, fa_nextents, fa_projid,
                // fa_cowextsize (u32 each); FS_XFLAG_NODUMP is 0x80.
                let attr: [u32; 6] = [0x80, 0, 0, 0, 0, 0];
                // SAFETY: a direct syscall; `path` is NUL-terminated and `attr` a live local of
                // the size passed.
                unsafe {
                    libc::syscall(
                        469,
                        libc::AT_FDCWD,
                        path.as_ptr(),
                        attr.as_ptr(),
                        24usize,
                        0,
                    )
                }
            };
            check(rc, "setflags").map(|_| {
                let mut now: libc::c_long = 0;
                // SAFETY: as above.
                unsafe { libc::ioctl(fd, FS_IOC_GETFLAGS, &mut now) };
                format!("nodump={}", now & FS_NODUMP_FL != 0)
            })
        }
        // removexattr(PATH, NAME).
        "removexattr" => {
            let name = cstr(arg(args, 2));
            // SAFETY: a single syscall probe; both strings are NUL-terminated.
            let rc = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
            check(rc as i64, "removexattr").map(|_| String::new())
        }
        // setxattr(PATH, "system.posix_acl_access", the minimal ACL of MODE): a mode change
        // by another name. Prints the mode the file then has.
        "set-acl" => {
            let mode = u32::from_str_radix(arg(args, 2), 8).unwrap_or(0o644);
            let acl = minimal_acl(mode);
            let name = cstr("system.posix_acl_access");
            // SAFETY: a single syscall probe; the strings are NUL-terminated, `acl` live.
            let rc = unsafe {
                libc::setxattr(
                    path.as_ptr(),
                    name.as_ptr(),
                    acl.as_ptr().cast(),
                    acl.len(),
                    0,
                )
            };
            check(rc as i64, "setxattr").and_then(|_| {
                // SAFETY: stat is plain data written by the call.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: `path` is NUL-terminated; `st` is a live local.
                check(unsafe { libc::stat(path.as_ptr(), &mut st) } as i64, "stat")
                    .map(|_| format!("mode={:o}", st.st_mode & 0o7777))
            })
        }
        // setxattrat(AT_FDCWD, PATH, 0, "user.x", {"v", 1, 0}, 16): Linux 6.13.
        "setxattrat" => {
            let name = cstr("user.x");
            let value = *b"v";
            let args: [u64; 2] = [value.as_ptr() as u64, 1];
            // SAFETY: a single syscall probe; the strings are NUL-terminated, `args` is the
            // kernel's `struct xattr_args` (value pointer, size 1, flags 0) and live.
            let rc = unsafe {
                libc::syscall(
                    463,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    0,
                    name.as_ptr(),
                    args.as_ptr(),
                    16,
                )
            };
            check(rc, "setxattrat").map(|_| String::new())
        }
        _ => return None,
    })
}

/// The value of the extended attribute `name` of `path`, as text.
fn read_xattr(path: &CString, name: &CString) -> Outcome {
    let mut buf = [0u8; 256];
    // SAFETY: the strings are NUL-terminated; `buf` is live for its length.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    check(n as i64, "getxattr")
        .map(|n| format!("value={}", String::from_utf8_lossy(&buf[..n as usize])))
}

/// A POSIX ACL as the kernel stores it in `system.posix_acl_access` (version 2, then the owner,
/// group and other entries: tag, permissions, id), equivalent to `mode`.
fn minimal_acl(mode: u32) -> Vec<u8> {
    const UNDEFINED_ID: u32 = u32::MAX;
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, shift) in [(0x01u16, 6), (0x04, 3), (0x20, 0)] {
        acl.extend(tag.to_le_bytes());
        acl.extend((((mode >> shift) & 7) as u16).to_le_bytes());
        acl.extend(UNDEFINED_ID.to_le_bytes());
    }
    acl
}

fn create_many(dir: &str, n: usize) -> Outcome {
    let start = std::time::Instant::now();
    for i in 0..n {
        let path = cstr(&format!("{dir}/c{i}"));
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CREAT, 0o644) };
        let fd = check(fd as i64, "open")?;
        // SAFETY: closes the fd just opened.
        unsafe { libc::close(fd as i32) };
    }
    let per_call = start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64;
    Ok(format!("per_call_us={per_call:.1}"))
}

fn tmpfile_link(dir: &str, name: &str, empty_path: bool) -> Outcome {
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let fd = unsafe { libc::open(cstr(dir).as_ptr(), libc::O_TMPFILE | libc::O_WRONLY, 0o600) };
    let fd = check(fd as i64, "open")? as i32;
    // SAFETY: writes 3 bytes from a static buffer to the fd just opened.
    let written = unsafe { libc::write(fd, b"tmp".as_ptr().cast(), 3) };
    check(written as i64, "write")?;
    let target = cstr(&format!("{dir}/{name}"));
    let rc = if empty_path {
        // SAFETY: as above.
        unsafe {
            libc::linkat(
                fd,
                c"".as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        }
    } else {
        let proc_path = cstr(&format!("/proc/self/fd/{fd}"));
        // SAFETY: as above.
        unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc_path.as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        }
    };
    check(rc as i64, "linkat").map(|_| String::new())
}

fn race_create(target: &str, decoy: &str, rounds: usize) -> Outcome {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // One buffer, long enough for either path, rewritten in place by the other thread.
    let len = target.len().max(decoy.len()) + 1;
    let buf: Arc<Vec<std::sync::atomic::AtomicU8>> = Arc::new(
        (0..len)
            .map(|_| std::sync::atomic::AtomicU8::new(0))
            .collect(),
    );
    let write = |b: &[std::sync::atomic::AtomicU8], s: &str| {
        for (i, slot) in b.iter().enumerate() {
            slot.store(s.as_bytes().get(i).copied().unwrap_or(0), Ordering::Relaxed);
        }
    };
    write(&buf, decoy);
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let (buf, stop) = (Arc::clone(&buf), Arc::clone(&stop));
        let (target, decoy) = (target.to_string(), decoy.to_string());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                write(&buf, &target);
                write(&buf, &decoy);
            }
        })
    };
    // A read that lands mid-rewrite sees a mix of both paths: a name in a directory that does
    // not exist, under the decoy file, or a directory (ENOENT, ENOTDIR, EISDIR): `torn`.
    let (mut created, mut refused, mut torn, mut other) = (0, 0, 0, 0);
    let mut other_errnos: Vec<i32> = Vec::new();
    for _ in 0..rounds {
        let ptr = buf.as_ptr().cast::<libc::c_char>();
        // SAFETY: `ptr` points at `len` bytes that stay alive; the other thread only ever
        // stores bytes into them, and the last byte is always 0.
        let fd = unsafe { libc::open(ptr, libc::O_WRONLY | libc::O_CREAT, 0o644) };
        if fd >= 0 {
            created += 1;
            // SAFETY: closes the fd just opened.
            unsafe { libc::close(fd) };
        } else if errno() == libc::EROFS {
            refused += 1;
        } else if [libc::ENOENT, libc::ENOTDIR, libc::EISDIR].contains(&errno()) {
            torn += 1;
        } else {
            other += 1;
            if !other_errnos.contains(&errno()) {
                other_errnos.push(errno());
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    Ok(format!(
        "created={created} refused={refused} torn={torn} other={other} other_errnos={other_errnos:?}"
    ))
}

#[cfg(target_arch = "x86_64")]
fn int80_socket() -> Outcome {
    // The i386 ABI takes 32-bit pointers: put the socketcall argument block below 4 GiB.
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err((errno(), "mmap"));
    }
    let block = page.cast::<u32>();
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    unsafe {
        *block = libc::AF_INET as u32;
        *block.add(1) = libc::SOCK_STREAM as u32;
        *block.add(2) = 0;
    }
    let mut ret: i64 = 102; // __NR_socketcall (i386)
                            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    unsafe {
        // rbx is reserved by LLVM: swap the argument in and out around the trap.
        std::arch::asm!(
            "xchg rbx, {b}",
            "int 0x80",
            "xchg rbx, {b}",
            b = inout(reg) 1u64 => _, // SYS_SOCKET
            inout("rax") ret,
            in("rcx") page as u64,
            options(nostack)
        );
    }
    let ret = ret as i32;
    if ret < 0 {
        Err((-ret, "int80"))
    } else {
        Ok(format!("fd={ret}"))
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn int80_socket() -> Outcome {
    Err((libc::ENOSYS, "int80"))
}

fn caps() -> Outcome {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut d = [[0u32; 3]; 2];
    check(
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) },
        "capget",
    )?;
    let join = |i: usize| u64::from(d[0][i]) | (u64::from(d[1][i]) << 32);
    let mut bnd = 0u64;
    for cap in 0..64 {
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) } == 1 {
            bnd |= 1 << cap;
        }
    }
    let mut amb = 0u64;
    for cap in 0..64 {
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_IS_SET, cap, 0, 0) } == 1
        {
            amb |= 1 << cap;
        }
    }
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let nnp = unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) };
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let secbits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let sid = unsafe { libc::getsid(0) };
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let pid = unsafe { libc::getpid() };
    Ok(format!(
        "capeff={:x} capprm={:x} capinh={:x} capbnd={:x} capamb={:x} nnp={nnp} securebits={secbits:#x} uid={} session_leader={}",
        join(0),
        join(1),
        join(2),
        bnd,
        amb,
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::getuid() },
        sid == pid
    ))
}

fn forkbomb(max: usize) -> Outcome {
    let mut kids = Vec::new();
    let mut failure = None;
    for _ in 0..max {
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::sleep(30);
                libc::_exit(0);
            }
        }
        if pid < 0 {
            failure = Some(errno());
            break;
        }
        kids.push(pid);
    }
    for &k in &kids {
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::kill(k, libc::SIGKILL) };
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::waitpid(k, std::ptr::null_mut(), 0) };
    }
    match failure {
        Some(e) => Err((
            e,
            if kids.len() < 1000 {
                "fork"
            } else {
                "fork-late"
            },
        ))
        .map_err(|(e, at)| {
            println!("forked={}", kids.len());
            (e, at)
        }),
        None => Ok(format!("forked={}", kids.len())),
    }
}

/// Double fork + setsid: the grandchild writes its pid to `pidfile` and sleeps 30 s holding
/// stdout open; the caller then sleeps `then_sleep` seconds (0: returns at once).
fn daemonize(pidfile: &str, then_sleep: u64) -> Outcome {
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::setsid() };
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        let pid2 = unsafe { libc::fork() };
        if pid2 == 0 {
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            let me = unsafe { libc::getpid() };
            let _ = std::fs::write(format!("{pidfile}.tmp"), me.to_string());
            let _ = std::fs::rename(format!("{pidfile}.tmp"), pidfile);
            // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
            unsafe {
                libc::sleep(30);
                libc::_exit(0);
            }
        }
        // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
        unsafe { libc::_exit(0) };
    }
    if pid < 0 {
        return Err((errno(), "fork"));
    }
    // SAFETY: a single syscall probe; every pointer argument points at a live local or a NUL-terminated CString that outlives the call.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    // Wait until the grandchild has announced itself.
    for _ in 0..2000 {
        if std::path::Path::new(pidfile).exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_secs(then_sleep));
    Ok(String::new())
}

fn tcp_echo_self(ip: &str) -> Outcome {
    use std::io::{Read as _, Write as _};
    let io = |at: &'static str| move |e: std::io::Error| (e.raw_os_error().unwrap_or(0), at);
    let listener = std::net::TcpListener::bind((ip, 0)).map_err(io("bind"))?;
    let addr = listener.local_addr().map_err(io("local_addr"))?;
    let mut client = std::net::TcpStream::connect(addr).map_err(io("connect"))?;
    let (mut server, _) = listener.accept().map_err(io("accept"))?;
    client.write_all(b"ping").map_err(io("write"))?;
    let mut got = [0u8; 4];
    server.read_exact(&mut got).map_err(io("read"))?;
    Ok(if &got == b"ping" { "" } else { "garbled" }.to_string())
}

/// A server on a pathname Unix socket at `path`, and its client, in this one process.
fn unix_echo_self(path: &str) -> Outcome {
    use std::io::{Read as _, Write as _};
    let io = |at: &'static str| move |e: std::io::Error| (e.raw_os_error().unwrap_or(0), at);
    let listener = std::os::unix::net::UnixListener::bind(path).map_err(io("bind"))?;
    let mut client = std::os::unix::net::UnixStream::connect(path).map_err(io("connect"))?;
    let (mut server, _) = listener.accept().map_err(io("accept"))?;
    client.write_all(b"ping").map_err(io("write"))?;
    let mut got = [0u8; 4];
    server.read_exact(&mut got).map_err(io("read"))?;
    Ok(if &got == b"ping" { "" } else { "garbled" }.to_string())
}

/// The interfaces of this network namespace, by `/proc/self/net/dev`, comma-separated.
fn interfaces() -> String {
    let text = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    let names: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    names.join(",")
}

/// The devices this namespace's IPv4 and IPv6 routes go through, sorted and comma-separated.
fn route_devices() -> String {
    let v4 = std::fs::read_to_string("/proc/self/net/route").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/self/net/ipv6_route").unwrap_or_default();
    let mut devices: Vec<&str> = v4
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .chain(v6.lines().filter_map(|l| l.split_whitespace().last()))
        .collect();
    devices.sort_unstable();
    devices.dedup();
    devices.join(",")
}
