//! The listener's BPF program when the write broker is on: the exec family (when recording) and
//! every syscall that creates, changes or removes a directory entry, a file's contents, its mode,
//! owner, times or extended attributes go to the supervisor; everything else is allowed.
//!
//! `open`/`openat` go to the supervisor only when their flags ask for writing, creating or
//! truncating (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`) and not for `O_PATH` (the kernel ignores
//! the other flags then): a plain read-only open never leaves the kernel. `openat2` keeps its
//! flags in memory a filter cannot read, so it fails with `ENOSYS` and libc falls back to
//! `openat`; `setxattrat` and `removexattrat` fail the same way, for `setxattr` and the rest. A foreign ABI (i386 `int 0x80`, arm32) or an x32 syscall number kills the process,
//! as the hardened arch guard does, so no second table of syscall numbers can reach the kernel
//! unmediated even if this program were installed alone.

use seccompiler::BpfProgram;

use crate::seccomp::AUDIT_ARCH;

/// Syscalls that always go to the broker (their effect does not depend on a flag BPF can read
/// cheaply, or every use of them writes).
#[cfg(target_arch = "x86_64")]
pub(crate) const MEDIATED: &[(&str, libc::c_long)] = &[
    ("creat", libc::SYS_creat),
    ("mkdir", libc::SYS_mkdir),
    ("mkdirat", libc::SYS_mkdirat),
    ("mknod", libc::SYS_mknod),
    ("mknodat", libc::SYS_mknodat),
    ("rename", libc::SYS_rename),
    ("renameat", libc::SYS_renameat),
    ("renameat2", libc::SYS_renameat2),
    ("link", libc::SYS_link),
    ("linkat", libc::SYS_linkat),
    ("symlink", libc::SYS_symlink),
    ("symlinkat", libc::SYS_symlinkat),
    ("unlink", libc::SYS_unlink),
    ("unlinkat", libc::SYS_unlinkat),
    ("rmdir", libc::SYS_rmdir),
    ("truncate", libc::SYS_truncate),
    ("chmod", libc::SYS_chmod),
    ("fchmod", libc::SYS_fchmod),
    ("fchmodat", libc::SYS_fchmodat),
    ("fchmodat2", libc::SYS_fchmodat2),
    ("utime", libc::SYS_utime),
    ("utimes", libc::SYS_utimes),
    ("futimesat", libc::SYS_futimesat),
    ("utimensat", libc::SYS_utimensat),
    ("setxattr", libc::SYS_setxattr),
    ("lsetxattr", libc::SYS_lsetxattr),
    ("fsetxattr", libc::SYS_fsetxattr),
    ("removexattr", libc::SYS_removexattr),
    ("lremovexattr", libc::SYS_lremovexattr),
    ("fremovexattr", libc::SYS_fremovexattr),
    ("chown", libc::SYS_chown),
    ("lchown", libc::SYS_lchown),
    ("fchown", libc::SYS_fchown),
    ("fchownat", libc::SYS_fchownat),
];
#[cfg(target_arch = "aarch64")]
pub(crate) const MEDIATED: &[(&str, libc::c_long)] = &[
    ("mkdirat", libc::SYS_mkdirat),
    ("mknodat", libc::SYS_mknodat),
    ("renameat2", libc::SYS_renameat2),
    ("linkat", libc::SYS_linkat),
    ("symlinkat", libc::SYS_symlinkat),
    ("unlinkat", libc::SYS_unlinkat),
    ("truncate", libc::SYS_truncate),
    ("fchmod", libc::SYS_fchmod),
    ("fchmodat", libc::SYS_fchmodat),
    ("fchmodat2", libc::SYS_fchmodat2),
    ("utimensat", libc::SYS_utimensat),
    ("setxattr", libc::SYS_setxattr),
    ("lsetxattr", libc::SYS_lsetxattr),
    ("fsetxattr", libc::SYS_fsetxattr),
    ("removexattr", libc::SYS_removexattr),
    ("lremovexattr", libc::SYS_lremovexattr),
    ("fremovexattr", libc::SYS_fremovexattr),
    ("fchown", libc::SYS_fchown),
    ("fchownat", libc::SYS_fchownat),
];

/// Calls answered `ENOSYS`, as a kernel without them would, so callers fall back to a mediated
/// form: `openat2` keeps its flags in memory a filter cannot read, and `setxattrat` and
/// `removexattrat` (Linux 6.13; numbered alike on every architecture, and not yet in `libc`)
/// would change extended attributes past the broker.
pub(crate) const UNAVAILABLE: &[(&str, libc::c_long)] = &[
    ("openat2", libc::SYS_openat2),
    ("setxattrat", 463),
    ("removexattrat", 466),
];

/// Opens whose flags decide: the syscall and the argument that holds the flags.
#[cfg(target_arch = "x86_64")]
pub(crate) const MEDIATED_OPENS: &[(&str, libc::c_long, u32)] =
    &[("openat", libc::SYS_openat, 2), ("open", libc::SYS_open, 1)];
#[cfg(target_arch = "aarch64")]
pub(crate) const MEDIATED_OPENS: &[(&str, libc::c_long, u32)] = &[("openat", libc::SYS_openat, 2)];

/// The open flags that make an open mediated.
pub(crate) const WRITING_OPEN_FLAGS: u32 =
    (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

/// x32 syscalls are x86_64 syscalls with this bit set in `nr`.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

use crate::seccomp::op::{ARCH, JEQ_K, JGE_K, JSET_K, LD_W_ABS, NR, RET_K};
use crate::seccomp::{Assembler, Label};

/// `seccomp_data.args[i]`, low 32 bits (little-endian): open flags are an `int`.
fn arg_low(i: u32) -> u32 {
    16 + 8 * i
}

/// The program: `record_execs` also notifies the exec family (the exec recorder), so one
/// listener serves both, as the kernel allows one listener per filter chain. An error only if a
/// jump could not be encoded (every one here is forward and short; a unit test holds it).
pub(crate) fn program(record_execs: bool) -> Result<BpfProgram, crate::Error> {
    use crate::seccomp::{stmt, Target::Label as To, Target::Next};
    let mut code = Assembler::default();
    let (allow, notify, enosys, kill) = (code.label(), code.label(), code.label(), code.label());
    let check_flags = code.label();
    code.push(stmt(LD_W_ABS, ARCH));
    code.jump_if(JEQ_K, AUDIT_ARCH, Next, To(kill));
    code.push(stmt(LD_W_ABS, NR));
    #[cfg(target_arch = "x86_64")]
    code.jump_if(JGE_K, X32_SYSCALL_BIT, To(kill), Next);
    if record_execs {
        for nr in [libc::SYS_execve, libc::SYS_execveat] {
            code.jump_if(JEQ_K, nr as u32, To(notify), Next);
        }
    }
    for &(_, nr) in UNAVAILABLE {
        code.jump_if(JEQ_K, nr as u32, To(enosys), Next);
    }
    // Each mediated open's flags lie in an argument of its own.
    let flags_in: Vec<(u32, Label)> = MEDIATED_OPENS
        .iter()
        .map(|&(_, _, arg)| (arg, code.label()))
        .collect();
    for (&(_, nr, _), &(_, flags)) in MEDIATED_OPENS.iter().zip(&flags_in) {
        code.jump_if(JEQ_K, nr as u32, To(flags), Next);
    }
    for &(_, nr) in MEDIATED {
        code.jump_if(JEQ_K, nr as u32, To(notify), Next);
    }
    code.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    for &(arg, flags) in &flags_in {
        code.place(flags);
        code.push(stmt(LD_W_ABS, arg_low(arg)));
        code.jump(check_flags);
    }
    code.place(check_flags);
    code.jump_if(JSET_K, libc::O_PATH as u32, To(allow), Next);
    code.jump_if(JSET_K, WRITING_OPEN_FLAGS, To(notify), To(allow));
    code.place(allow);
    code.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    code.place(notify);
    code.push(stmt(RET_K, libc::SECCOMP_RET_USER_NOTIF));
    code.place(enosys);
    code.push(stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    code.place(kill);
    code.push(stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS));
    code.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::bpf_eval::eval;
    use seccompiler::sock_filter;

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
    const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

    fn run(program: &[sock_filter], nr: libc::c_long, args: [u64; 6]) -> u32 {
        eval(program, nr as u32, AUDIT_ARCH, args)
    }

    #[test]
    fn every_jump_fits_and_lands_inside_the_program() {
        for record in [true, false] {
            let p = program(record).unwrap();
            for (pc, insn) in p.iter().enumerate() {
                if insn.code == JEQ_K || insn.code == JGE_K || insn.code == JSET_K {
                    assert!(insn.jt < u8::MAX && insn.jf < u8::MAX, "pc {pc}");
                    assert!(pc + 1 + usize::from(insn.jt.max(insn.jf)) < p.len());
                }
            }
            assert_eq!(p.last().map(|i| i.code), Some(RET_K));
        }
    }

    #[test]
    fn read_only_opens_pass_and_writing_opens_are_mediated() {
        let p = program(false).unwrap();
        let flags = |f: i32| [libc::AT_FDCWD as u64, 0x1000, f as u32 as u64, 0, 0, 0];
        for f in [
            libc::O_RDONLY,
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_DIRECTORY,
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW,
            libc::O_PATH | libc::O_WRONLY | libc::O_CREAT,
        ] {
            assert_eq!(run(&p, libc::SYS_openat, flags(f)), ALLOW, "{f:#o}");
        }
        for f in [
            libc::O_WRONLY,
            libc::O_RDWR,
            libc::O_RDONLY | libc::O_CREAT,
            libc::O_RDONLY | libc::O_TRUNC,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            libc::O_TMPFILE | libc::O_RDWR,
            libc::O_ACCMODE,
        ] {
            assert_eq!(run(&p, libc::SYS_openat, flags(f)), NOTIFY, "{f:#o}");
        }
        // High bits of the flags argument are not the flags (an `int`).
        let high = [0, 0, (1u64 << 32) | libc::O_RDONLY as u64, 0, 0, 0];
        assert_eq!(run(&p, libc::SYS_openat, high), ALLOW);
        #[cfg(target_arch = "x86_64")]
        {
            let open = |f: i32| [0x1000, f as u32 as u64, 0, 0, 0, 0];
            assert_eq!(run(&p, libc::SYS_open, open(libc::O_RDONLY)), ALLOW);
            assert_eq!(run(&p, libc::SYS_open, open(libc::O_WRONLY)), NOTIFY);
            // `open`'s flags are its second argument, not its third.
            let third = [0x1000, 0, libc::O_WRONLY as u64, 0, 0, 0];
            assert_eq!(run(&p, libc::SYS_open, third), ALLOW);
        }
    }

    #[test]
    fn every_entry_changing_syscall_is_mediated_and_nothing_else_is() {
        for record in [true, false] {
            let p = program(record).unwrap();
            let mut notified = Vec::new();
            for nr in 0..470 {
                if run(&p, nr, [0; 6]) == NOTIFY {
                    notified.push(nr);
                }
            }
            let mut want: Vec<libc::c_long> = MEDIATED.iter().map(|&(_, nr)| nr).collect();
            if record {
                want.extend([libc::SYS_execve, libc::SYS_execveat]);
            }
            want.sort_unstable();
            assert_eq!(notified, want, "record_execs {record}");
            for &(name, nr) in UNAVAILABLE {
                assert_eq!(
                    run(&p, nr, [0; 6]),
                    libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
                    "{name}"
                );
            }
            assert_eq!(run(&p, libc::SYS_read, [0; 6]), ALLOW);
        }
    }

    #[test]
    fn foreign_abis_and_x32_are_killed() {
        let p = program(true).unwrap();
        let i386 = 3 | 0x4000_0000;
        for nr in [5u32, 8, 10, 11, 38, 39, 83, 295] {
            assert_eq!(eval(&p, nr, i386, [0; 6]), KILL, "i386 {nr}");
        }
        #[cfg(target_arch = "x86_64")]
        for nr in [2u32, 85, 257, 520] {
            assert_eq!(
                eval(&p, X32_SYSCALL_BIT | nr, AUDIT_ARCH, [0; 6]),
                KILL,
                "x32 {nr}"
            );
        }
    }
}
