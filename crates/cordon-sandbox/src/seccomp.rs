//! The seccomp filters hardened commands run under.
//!
//! Three filters, because each needs a different action and seccompiler gives a filter one match
//! action:
//!
//! 1. **Arch guard** (hand-written, six instructions): any syscall from a foreign ABI (i386 via
//!    `int 0x80`) or with the x32 bit set kills the process. seccompiler checks the arch, but not
//!    x32 numbers, and a filter that checks neither is bypassed by `int 0x80` `socketcall`.
//! 2. **Deny list** → `EPERM`: io_uring (it performs socket/open operations the other filters never
//!    see), `pidfd_getfd`, the whole mount family, `setns`,
//!    the key store, bpf, perf events; `unshare`/`clone` with `CLONE_NEWUSER`; when the network
//!    is denied, `socket` for every family but `AF_UNIX`, or, in a namespace of the command's
//!    own whose only interface is `lo` (its private loopback), for every family but `AF_UNIX`,
//!    `AF_INET` and `AF_INET6`, and for those two anything but a TCP stream or a UDP datagram
//!    socket (raw, packet, netlink, ICMP, SCTP stay denied); when it is proxied, every family
//!    but `AF_UNIX`, `AF_INET` and `AF_INET6`, and for those two anything but a TCP stream (UDP,
//!    raw, ICMP, SCTP, MPTCP), so that only the proxy's TCP port can be reached.
//! 3. **clone3** → `ENOSYS`: its flags live in memory a filter cannot read, so it is refused as if
//!    absent and libc falls back to `clone`, whose flags filter 2 checks.
//!
//! `ptrace` (but `PTRACE_TRACEME`, which would make the supervisor a tracer) and
//! `process_vm_readv`/`writev` are not on the list: Landlock scopes them to the
//! command's own domain (a process in it can trace only processes in it or in a domain nested
//! in it), so gdb, strace and AddressSanitizer's leak checker work on the command's own
//! processes, while the host's, the supervisor's and another command's stay out of reach
//! (escape catalogue item 22). A tracer changes no verdict: seccomp judges a syscall after the
//! tracer's changes, and the write broker performs a mediated call itself, from its own copy of
//! the arguments, never letting the caller's go on.
//!
//! The three are made into one program, which the child installs with one `seccomp(2)` call:
//! every filter the kernel attaches is JIT-compiled and evaluated for every syscall number to
//! build its action cache, so each extra filter costs the child time before its exec (under
//! `strace -T`, 222–373 µs for three calls against 136–150 µs for one) and the command time on
//! every syscall. After the arch guard, whose `ret ALLOW` becomes a jump onwards, a binary search
//! on the syscall number leads to that number's rules alone ([`dispatch`]): seccompiler's own
//! filter tests the numbers one after another, which every unlisted number (nearly all of them)
//! walks to the end when the kernel builds the cache. That returns the first verdict that is not
//! `ALLOW`, where separate filters return the most severe; the two agree because the first
//! program only kills and the other two deny disjoint syscalls. A unit test runs the program and
//! the separate filters through a BPF interpreter over every syscall number, both ABIs and a
//! spread of arguments. Everything is compiled in the supervisor; the child only installs.

use std::collections::BTreeMap;

use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::report::SeccompReport;
use crate::Error;

/// Syscalls denied with EPERM whatever their arguments.
pub(crate) const DENIED_EPERM: &[(&str, libc::c_long)] = &[
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("open_tree", libc::SYS_open_tree),
    ("move_mount", libc::SYS_move_mount),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("setns", libc::SYS_setns),
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    // Inode flags and project ids by path (Linux 6.17; not yet in `libc`, numbered alike on
    // every architecture): Landlock governs no metadata, and the broker does not mediate it.
    ("file_setattr", 469),
];

/// `ioctl` requests that set inode flags (`chattr`: no-dump, no-atime, …) on any file the command
/// can open, even for reading; Landlock governs no metadata. The flags that matter most
/// (immutable, append-only) need `CAP_LINUX_IMMUTABLE`, which no command holds; these keep the
/// rest off files outside the workspace too (nothing an agent's everyday work sets).
const SETS_INODE_FLAGS: &[(&str, u64)] = &[
    ("FS_IOC_SETFLAGS", 0x4008_6602),
    ("FS_IOC32_SETFLAGS", 0x4004_6602),
    ("FS_IOC_FSSETXATTR", 0x401c_5820),
];

/// Syscalls denied with ENOSYS.
pub(crate) const DENIED_ENOSYS: &[(&str, libc::c_long)] = &[("clone3", libc::SYS_clone3)];

#[cfg(target_arch = "x86_64")]
pub(crate) const AUDIT_ARCH: u32 = 62 | 0x8000_0000 | 0x4000_0000; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
pub(crate) const AUDIT_ARCH: u32 = 183 | 0x8000_0000 | 0x4000_0000; // AUDIT_ARCH_AARCH64

/// x32 syscalls are x86_64 syscalls with this bit set in `nr`.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The compiled filters, ready for the child to install in order.
pub(crate) struct Filters {
    pub programs: Vec<BpfProgram>,
    pub report: SeccompReport,
}

/// Which sockets a hardened command may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sockets {
    /// `AF_UNIX` only: the network is denied.
    UnixOnly,
    /// `AF_UNIX`, and TCP streams and UDP datagrams over IPv4/IPv6: the network is denied, and
    /// the command runs in a network namespace of its own whose only interface is `lo`, so an IP
    /// socket reaches nothing but the command's own processes.
    PrivateLoopback,
    /// `AF_UNIX`, and TCP streams over IPv4/IPv6: the network is proxied.
    UnixAndTcp,
    /// Anything: the network is allowed.
    Any,
}

/// Compiles the filters for a run.
pub(crate) fn build(sockets: Sockets) -> Result<Filters, Error> {
    let (sets, conditional) = rule_sets(sockets)?;
    Ok(Filters {
        programs: vec![chain(&[arch_guard(), dispatch(sets, target_arch()?)?])?],
        report: SeccompReport {
            enforced: false,
            arch: std::env::consts::ARCH.to_string(),
            arch_checked: true,
            x32_killed: cfg!(target_arch = "x86_64"),
            denied_eperm: DENIED_EPERM.iter().map(|(n, _)| n.to_string()).collect(),
            denied_enosys: DENIED_ENOSYS.iter().map(|(n, _)| n.to_string()).collect(),
            conditional,
        },
    })
}

/// The rules of one filter of the module comment, and the action they take.
struct RuleSet {
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    action: SeccompAction,
}

/// The three filters of the module comment, in order, each compiled whole by seccompiler, and
/// the argument-dependent rules among them as the report names them: what [`build`]'s one
/// program must decide as (the tests compare the two).
#[cfg(test)]
fn build_parts(sockets: Sockets) -> Result<(Vec<BpfProgram>, Vec<String>), Error> {
    let arch = target_arch()?;
    let (sets, conditional) = rule_sets(sockets)?;
    let mut parts = vec![arch_guard()];
    for set in sets {
        parts.push(compile(set.rules, set.action, arch)?);
    }
    Ok((parts, conditional))
}

/// The deny list and the `clone3` filter of the module comment as rules, and the
/// argument-dependent rules among them as the report names them.
fn rule_sets(sockets: Sockets) -> Result<(Vec<RuleSet>, Vec<String>), Error> {
    let mut deny: BTreeMap<i64, Vec<SeccompRule>> = DENIED_EPERM
        .iter()
        .map(|&(_, nr)| (nr, Vec::new()))
        .collect();
    let new_user = |nr: libc::c_long| -> Result<(i64, Vec<SeccompRule>), Error> {
        // Dword: only the low 32 bits are compared, so high bits set in the flags cannot hide
        // CLONE_NEWUSER (the kernel rejects unknown high bits anyway).
        let cond = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::CLONE_NEWUSER as u64),
            libc::CLONE_NEWUSER as u64,
        )
        .map_err(|e| Error::Seccomp(e.to_string()))?;
        let rule = SeccompRule::new(vec![cond]).map_err(|e| Error::Seccomp(e.to_string()))?;
        Ok((nr, vec![rule]))
    };
    let mut conditional = vec![
        "unshare(flags & CLONE_NEWUSER) -> EPERM".to_string(),
        "clone(flags & CLONE_NEWUSER) -> EPERM".to_string(),
    ];
    for nr in [libc::SYS_unshare, libc::SYS_clone] {
        let (nr, rules) = new_user(nr)?;
        deny.insert(nr, rules);
    }
    for &(nr, mode_arg, flags_arg) in SETS_MODE {
        deny.insert(nr, set_id_rules(mode_arg, flags_arg)?);
    }
    conditional.push(
        "chmod, fchmod, fchmodat, fchmodat2, creat, open, openat, mknod, mknodat with a mode holding S_ISUID or S_ISGID -> EPERM"
            .to_string(),
    );
    // PTRACE_TRACEME makes the caller's parent its tracer: for a command's first process that
    // is the supervisor, which traces nothing, so the process would stop at its next exec and
    // the run would hang. Every other request goes to Landlock's scoping (module comment);
    // `gdb -p`, strace and LeakSanitizer attach instead.
    let traceme = rule(vec![cond(
        0,
        SeccompCmpOp::Eq,
        libc::PTRACE_TRACEME as libc::c_int,
    )?])?;
    deny.insert(libc::SYS_ptrace, vec![traceme]);
    conditional.push("ptrace(PTRACE_TRACEME) -> EPERM".to_string());
    let mut ioctl = Vec::new();
    for &(name, request) in SETS_INODE_FLAGS {
        let request = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)
            .map_err(|e| Error::Seccomp(e.to_string()))?;
        ioctl.push(rule(vec![request])?);
        conditional.push(format!("ioctl({name}) -> EPERM"));
    }
    deny.insert(libc::SYS_ioctl, ioctl);
    match sockets {
        Sockets::Any => {}
        Sockets::UnixOnly => {
            let rule = rule(vec![cond(0, SeccompCmpOp::Ne, libc::AF_UNIX)?])?;
            deny.insert(libc::SYS_socket, vec![rule]);
            conditional.push("socket(domain != AF_UNIX) -> EPERM".to_string());
        }
        Sockets::PrivateLoopback => {
            deny.insert(libc::SYS_socket, ip_rules(IpSockets::TcpAndUdp)?);
            conditional.extend([
                "socket(domain not in AF_UNIX, AF_INET, AF_INET6) -> EPERM".to_string(),
                "socket(AF_INET or AF_INET6, type other than SOCK_STREAM or SOCK_DGRAM [| SOCK_NONBLOCK | SOCK_CLOEXEC]) -> EPERM".to_string(),
                "socket(AF_INET or AF_INET6, protocol other than 0, IPPROTO_TCP or IPPROTO_UDP) -> EPERM".to_string(),
            ]);
        }
        Sockets::UnixAndTcp => {
            deny.insert(libc::SYS_socket, ip_rules(IpSockets::Tcp)?);
            conditional.extend([
                "socket(domain not in AF_UNIX, AF_INET, AF_INET6) -> EPERM".to_string(),
                "socket(AF_INET or AF_INET6, type other than SOCK_STREAM [| SOCK_NONBLOCK | SOCK_CLOEXEC]) -> EPERM".to_string(),
                "socket(AF_INET or AF_INET6, protocol other than 0 or IPPROTO_TCP) -> EPERM".to_string(),
            ]);
        }
    }
    let eperm = RuleSet {
        rules: deny,
        action: SeccompAction::Errno(libc::EPERM as u32),
    };
    let enosys = RuleSet {
        rules: DENIED_ENOSYS
            .iter()
            .map(|&(_, nr)| (nr, Vec::new()))
            .collect(),
        action: SeccompAction::Errno(libc::ENOSYS as u32),
    };
    Ok((vec![eperm, enosys], conditional))
}

/// One program that decides as `sets`, each a filter of its own, would (the first verdict but
/// `ALLOW`, as [`chain`] gives): a binary search on the syscall number leads to the rules for
/// that number alone, each set's compiled by seccompiler and chained in order, or to `ALLOW`.
///
/// seccompiler's own filter tests the numbers one after another, so an unlisted number (nearly
/// all of them) passes every test. The kernel runs a new filter for every syscall number when it
/// is installed, to build its action cache: with the listener's filter after it, the linear
/// form took a fresh child a median of 200–213 µs to install, before its exec on every command,
/// and the search 135–150 µs (docs/benchmarks.md). It takes an unlisted number to `ALLOW` in a
/// dozen instructions.
fn dispatch(sets: Vec<RuleSet>, arch: TargetArch) -> Result<BpfProgram, Error> {
    let mut blocks: BTreeMap<u32, Vec<BpfProgram>> = BTreeMap::new();
    for set in sets {
        for (nr, rules) in set.rules {
            let number = u32::try_from(nr)
                .map_err(|_| Error::Seccomp(format!("syscall number {nr} out of range")))?;
            // A number denied whatever its arguments needs no test: its action alone.
            let program = if rules.is_empty() {
                vec![stmt(op::RET_K, u32::from(set.action.clone()))]
            } else {
                compile(BTreeMap::from([(nr, rules)]), set.action.clone(), arch)?
            };
            blocks.entry(number).or_default().push(program);
        }
    }
    let numbers: Vec<u32> = blocks.keys().copied().collect();
    let mut code = Assembler::default();
    let allow = code.label();
    // The search's conditional jumps reach eight bits far, so each lands on a `ja` to its rules.
    let trampolines: Vec<Label> = numbers.iter().map(|_| code.label()).collect();
    let entries: Vec<Label> = numbers.iter().map(|_| code.label()).collect();
    code.push(stmt(op::LD_W_ABS, op::NR));
    search(&mut code, &numbers, &trampolines, 0, allow);
    code.place(allow);
    code.push(stmt(op::RET_K, libc::SECCOMP_RET_ALLOW));
    for (&trampoline, &entry) in trampolines.iter().zip(&entries) {
        code.place(trampoline);
        code.jump(entry);
    }
    for (entry, programs) in entries.into_iter().zip(blocks.into_values()) {
        code.place(entry);
        code.extend(&chain(&programs)?);
    }
    code.finish()
}

/// The classic-BPF instructions the programs of this crate use, and where `struct seccomp_data`
/// keeps what they load.
pub(crate) mod op {
    /// `A = seccomp_data[k]` (`BPF_LD | BPF_W | BPF_ABS`).
    pub(crate) const LD_W_ABS: u16 = 0x20;
    /// `if A == k` (`BPF_JMP | BPF_JEQ | BPF_K`).
    pub(crate) const JEQ_K: u16 = 0x15;
    /// `if A >= k` (`BPF_JMP | BPF_JGE | BPF_K`).
    pub(crate) const JGE_K: u16 = 0x35;
    /// `if A & k != 0` (`BPF_JMP | BPF_JSET | BPF_K`).
    pub(crate) const JSET_K: u16 = 0x45;
    /// `goto +k` (`BPF_JMP | BPF_JA`).
    pub(crate) const JA: u16 = 0x05;
    /// `return k` (`BPF_RET | BPF_K`).
    pub(crate) const RET_K: u16 = 0x06;
    /// `offsetof(struct seccomp_data, nr)`.
    pub(crate) const NR: u32 = 0;
    /// `offsetof(struct seccomp_data, arch)`.
    pub(crate) const ARCH: u32 = 4;
}

/// Emits a binary search over `numbers` (sorted; `entries[i]` leads to `numbers[i]`'s rules,
/// `first` is the index of `numbers[0]` among them) that jumps to `allow` when the number in the
/// accumulator is none of them.
fn search(code: &mut Assembler, numbers: &[u32], entries: &[Label], first: usize, allow: Label) {
    if numbers.len() <= 3 {
        for (i, &nr) in numbers.iter().enumerate() {
            code.jump_if(
                op::JEQ_K,
                nr,
                Target::Label(entries[first + i]),
                Target::Next,
            );
        }
        code.jump(allow);
        return;
    }
    let mid = numbers.len() / 2;
    let upper = code.label();
    code.jump_if(op::JGE_K, numbers[mid], Target::Label(upper), Target::Next);
    search(code, &numbers[..mid], entries, first, allow);
    code.place(upper);
    search(code, &numbers[mid..], entries, first + mid, allow);
}

/// A place in an [`Assembler`]'s program, known before its position is.
#[derive(Clone, Copy)]
pub(crate) struct Label(usize);

#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// The next instruction.
    Next,
    Label(Label),
}

/// A classic-BPF program with forward jumps to labels, resolved when it is finished: the
/// hardened program's search ([`dispatch`]) and the write broker's listener are written with it.
#[derive(Default)]
pub(crate) struct Assembler {
    code: Vec<Op>,
    /// Each label's position, once placed.
    labels: Vec<Option<usize>>,
}

enum Op {
    Plain(sock_filter),
    JumpIf {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Jump(Label),
}

impl Assembler {
    pub(crate) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    pub(crate) fn place(&mut self, label: Label) {
        self.labels[label.0] = Some(self.code.len());
    }

    pub(crate) fn push(&mut self, insn: sock_filter) {
        self.code.push(Op::Plain(insn));
    }

    fn extend(&mut self, program: &[sock_filter]) {
        for insn in program {
            self.push(jump(insn.code, insn.k, insn.jt, insn.jf));
        }
    }

    pub(crate) fn jump_if(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.code.push(Op::JumpIf { code, k, jt, jf });
    }

    pub(crate) fn jump(&mut self, to: Label) {
        self.code.push(Op::Jump(to));
    }

    /// The program, each jump the distance to its label; an error when a label was never
    /// placed, lies behind its jump, or is too far for a conditional jump's eight bits.
    pub(crate) fn finish(self) -> Result<BpfProgram, Error> {
        let distance = |from: usize, label: Label| -> Result<usize, Error> {
            let to = self.labels[label.0]
                .ok_or_else(|| Error::Seccomp("a jump to a label never placed".into()))?;
            to.checked_sub(from + 1)
                .ok_or_else(|| Error::Seccomp("a backward jump".into()))
        };
        let short = |from: usize, target: Target| -> Result<u8, Error> {
            match target {
                Target::Next => Ok(0),
                Target::Label(label) => u8::try_from(distance(from, label)?)
                    .map_err(|_| Error::Seccomp("a conditional jump past 255 instructions".into())),
            }
        };
        let mut out = Vec::with_capacity(self.code.len());
        for (at, op) in self.code.iter().enumerate() {
            out.push(match *op {
                Op::Plain(ref insn) => jump(insn.code, insn.k, insn.jt, insn.jf),
                Op::JumpIf { code, k, jt, jf } => jump(code, k, short(at, jt)?, short(at, jf)?),
                Op::Jump(label) => stmt(op::JA, distance(at, label)? as u32),
            });
        }
        Ok(out)
    }
}

/// Syscalls that set a file's mode: the argument that holds it, and for the opens the argument
/// that holds the flags (the mode counts only with `O_CREAT` or `O_TMPFILE`; without them the
/// register holds whatever the caller left there). A set-user-ID or set-group-ID bit made by a
/// hardened command would outlive the run: whoever runs the file later runs it with the command's
/// user (root, where the agent runs as root) or group. Landlock does not govern modes, so these
/// are refused with EPERM (nothing an agent's everyday work needs).
#[cfg(target_arch = "x86_64")]
const SETS_MODE: &[(libc::c_long, u8, Option<u8>)] = &[
    (libc::SYS_chmod, 1, None),
    (libc::SYS_fchmod, 1, None),
    (libc::SYS_fchmodat, 2, None),
    (libc::SYS_fchmodat2, 2, None),
    (libc::SYS_creat, 1, None),
    (libc::SYS_open, 2, Some(1)),
    (libc::SYS_openat, 3, Some(2)),
    (libc::SYS_mknod, 1, None),
    (libc::SYS_mknodat, 2, None),
];
#[cfg(target_arch = "aarch64")]
const SETS_MODE: &[(libc::c_long, u8, Option<u8>)] = &[
    (libc::SYS_fchmod, 1, None),
    (libc::SYS_fchmodat, 2, None),
    (libc::SYS_fchmodat2, 2, None),
    (libc::SYS_openat, 3, Some(2)),
    (libc::SYS_mknodat, 2, None),
];

/// Rules (any one denies) for a mode in argument `mode_arg` holding `S_ISUID` or `S_ISGID`, and,
/// for an open, flags in `flags_arg` that create a file. Compared on the low 32 bits, as the
/// kernel reads both.
fn set_id_rules(mode_arg: u8, flags_arg: Option<u8>) -> Result<Vec<SeccompRule>, Error> {
    let masked = |arg: u8, bits: u64| {
        SeccompCondition::new(
            arg,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(bits),
            bits,
        )
        .map_err(|e| Error::Seccomp(e.to_string()))
    };
    let creating: Vec<Option<u64>> = match flags_arg {
        None => vec![None],
        Some(_) => vec![Some(libc::O_CREAT as u64), Some(libc::O_TMPFILE as u64)],
    };
    let mut rules = Vec::new();
    for bit in [libc::S_ISUID, libc::S_ISGID] {
        for flags in &creating {
            let mut conditions = vec![masked(mode_arg, u64::from(bit))?];
            if let (Some(arg), Some(flags)) = (flags_arg, flags) {
                conditions.push(masked(arg, *flags)?);
            }
            rules.push(rule(conditions)?);
        }
    }
    Ok(rules)
}

fn cond(arg: u8, op: SeccompCmpOp, value: libc::c_int) -> Result<SeccompCondition, Error> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value as u64)
        .map_err(|e| Error::Seccomp(e.to_string()))
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, Error> {
    SeccompRule::new(conditions).map_err(|e| Error::Seccomp(e.to_string()))
}

/// Which IP sockets [`ip_rules`] leaves.
#[derive(Clone, Copy)]
enum IpSockets {
    Tcp,
    TcpAndUdp,
}

/// `socket` rules (any one matching denies) that leave `AF_UNIX`, and over IPv4 and IPv6 TCP
/// streams (and UDP datagrams). A rule is a conjunction, so "type is not one of four values" is
/// four `Ne` conditions.
fn ip_rules(ip: IpSockets) -> Result<Vec<SeccompRule>, Error> {
    use SeccompCmpOp::{Eq, Ne};
    let mut rules = vec![rule(vec![
        cond(0, Ne, libc::AF_UNIX)?,
        cond(0, Ne, libc::AF_INET)?,
        cond(0, Ne, libc::AF_INET6)?,
    ])?];
    let (types, protocols): (&[libc::c_int], &[libc::c_int]) = match ip {
        IpSockets::Tcp => (&[libc::SOCK_STREAM], &[0, libc::IPPROTO_TCP]),
        IpSockets::TcpAndUdp => (
            &[libc::SOCK_STREAM, libc::SOCK_DGRAM],
            &[0, libc::IPPROTO_TCP, libc::IPPROTO_UDP],
        ),
    };
    let flags = [
        0,
        libc::SOCK_NONBLOCK,
        libc::SOCK_CLOEXEC,
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    ];
    for family in [libc::AF_INET, libc::AF_INET6] {
        let mut other_type = vec![cond(0, Eq, family)?];
        for kind in types {
            for f in flags {
                other_type.push(cond(1, Ne, kind | f)?);
            }
        }
        rules.push(rule(other_type)?);
        let mut other_protocol = vec![cond(0, Eq, family)?];
        for &protocol in protocols {
            other_protocol.push(cond(2, Ne, protocol)?);
        }
        rules.push(rule(other_protocol)?);
    }
    Ok(rules)
}

/// One program that returns what the first of `programs` to return anything but `ALLOW` returns:
/// each `ret ALLOW` but the last program's becomes a jump to the next program's first
/// instruction. Jumps inside a program are relative, so they stay valid.
fn chain(programs: &[BpfProgram]) -> Result<BpfProgram, Error> {
    const RET_SOURCE_MASK: u16 = 0x18;
    let mut out: BpfProgram = Vec::new();
    for (i, program) in programs.iter().enumerate() {
        let next = out.len() + program.len();
        let last = i + 1 == programs.len();
        for insn in program {
            let mut insn = sock_filter {
                code: insn.code,
                jt: insn.jt,
                jf: insn.jf,
                k: insn.k,
            };
            if insn.code & 0x07 == op::RET_K && !last {
                if insn.code & RET_SOURCE_MASK != 0 {
                    return Err(Error::Seccomp(
                        "cannot chain a filter that returns A".into(),
                    ));
                }
                if insn.k == libc::SECCOMP_RET_ALLOW {
                    let here = out.len() + 1;
                    insn = sock_filter {
                        code: op::JA,
                        jt: 0,
                        jf: 0,
                        k: (next - here) as u32,
                    };
                }
            }
            out.push(insn);
        }
    }
    if out.len() > 4096 {
        return Err(Error::Seccomp(format!(
            "chained filter has {} instructions, over BPF_MAXINSNS",
            out.len()
        )));
    }
    Ok(out)
}

fn compile(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    action: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, Error> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, action, arch)
        .map_err(|e| Error::Seccomp(e.to_string()))?;
    BpfProgram::try_from(filter).map_err(|e| Error::Seccomp(e.to_string()))
}

fn target_arch() -> Result<TargetArch, Error> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| Error::Unenforceable {
        feature: "a seccomp target architecture",
        detail: e.to_string(),
    })
}

pub(crate) const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// `arch != native → kill; nr >= X32 bit → kill; allow`.
pub(crate) fn arch_guard() -> BpfProgram {
    use op::{ARCH, JEQ_K, JGE_K, LD_W_ABS, NR, RET_K};
    let x32_check = if cfg!(target_arch = "x86_64") {
        X32_SYSCALL_BIT
    } else {
        u32::MAX // never reached by a real syscall number
    };
    vec![
        stmt(LD_W_ABS, ARCH),
        jump(JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(LD_W_ABS, NR),
        jump(JGE_K, x32_check, 0, 1),
        stmt(RET_K, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(RET_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// A classic-BPF interpreter for the programs this crate builds, shared by the tests of the
/// hardened filter and of the write broker's listener program.
#[cfg(test)]
pub(crate) mod bpf_eval {
    use seccompiler::sock_filter;

    /// A classic-BPF interpreter for the instructions seccompiler and `arch_guard` emit, over a
    /// little-endian `struct seccomp_data`.
    pub(crate) fn eval(program: &[sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let word = |offset: u32| -> u32 {
            match offset {
                0 => nr,
                4 => arch,
                8 | 12 => 0,
                o if (16..64).contains(&o) && o % 4 == 0 => {
                    let arg = args[((o - 16) / 8) as usize];
                    if (o - 16) % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                o => panic!("load outside seccomp_data: {o}"),
            }
        };
        let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        loop {
            let i = &program[pc];
            pc += 1;
            let src = if i.code & 0x08 != 0 { x } else { i.k };
            match i.code & 0x07 {
                0x00 => match i.code & 0xe0 {
                    0x20 => a = word(i.k),
                    0x00 => a = i.k,
                    0x60 => a = mem[i.k as usize],
                    m => panic!("ld mode {m:#x}"),
                },
                0x01 => {
                    x = if i.code & 0xe0 == 0x60 {
                        mem[i.k as usize]
                    } else {
                        i.k
                    }
                }
                0x02 => mem[i.k as usize] = a,
                0x03 => mem[i.k as usize] = x,
                0x04 => {
                    a = match i.code & 0xf0 {
                        0x00 => a.wrapping_add(src),
                        0x10 => a.wrapping_sub(src),
                        0x40 => a | src,
                        0x50 => a & src,
                        0x60 => a << src,
                        0x70 => a >> src,
                        0xa0 => a ^ src,
                        op => panic!("alu op {op:#x}"),
                    }
                }
                0x05 => {
                    let taken = match i.code & 0xf0 {
                        0x00 => {
                            pc += i.k as usize;
                            continue;
                        }
                        0x10 => a == src,
                        0x20 => a > src,
                        0x30 => a >= src,
                        0x40 => a & src != 0,
                        op => panic!("jmp op {op:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                0x06 => return if i.code & 0x18 == 0x10 { a } else { i.k },
                0x07 => {
                    if i.code & 0xf8 == 0 {
                        x = a
                    } else {
                        a = x
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bpf_eval::eval;
    use super::*;

    #[test]
    fn arch_guard_kills_foreign_arch_and_x32_and_allows_the_rest() {
        let g = arch_guard();
        assert_eq!(g.len(), 7);
        // arch load, compare, kill
        assert_eq!((g[0].code, g[0].k), (0x20, 4));
        assert_eq!(
            (g[1].code, g[1].k, g[1].jt, g[1].jf),
            (0x15, AUDIT_ARCH, 1, 0)
        );
        assert_eq!(g[2].k, libc::SECCOMP_RET_KILL_PROCESS);
        // nr load, x32 compare, kill, allow
        assert_eq!((g[3].code, g[3].k), (0x20, 0));
        assert_eq!((g[4].code, g[4].jt, g[4].jf), (0x35, 0, 1));
        #[cfg(target_arch = "x86_64")]
        assert_eq!(g[4].k, 0x4000_0000);
        assert_eq!(g[5].k, libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(g[6].k, libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn deny_list_is_exactly_the_catalogue() {
        let names: Vec<_> = DENIED_EPERM.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            vec![
                "io_uring_setup",
                "io_uring_enter",
                "io_uring_register",
                "pidfd_getfd",
                "mount",
                "umount2",
                "pivot_root",
                "open_tree",
                "move_mount",
                "fsopen",
                "fsconfig",
                "fsmount",
                "fspick",
                "mount_setattr",
                "setns",
                "keyctl",
                "add_key",
                "request_key",
                "bpf",
                "perf_event_open",
                "file_setattr",
            ]
        );
        assert_eq!(
            DENIED_ENOSYS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec!["clone3"]
        );
    }

    /// What the kernel returns for several installed filters: the most restrictive action, and
    /// among equals the most recently installed filter's (`seccomp_run_filters`).
    fn most_restrictive(results: &[u32]) -> u32 {
        let action = |r: u32| (r & 0xffff_0000) as i32;
        let mut verdict = *results.last().unwrap();
        for &r in results.iter().rev() {
            if action(r) < action(verdict) {
                verdict = r;
            }
        }
        verdict
    }

    #[test]
    fn the_chained_filter_decides_every_syscall_as_the_separate_filters_would() {
        let i386 = 3 | 0x4000_0000;
        let arg_sets = [
            [0; 6],
            [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0],
            [libc::AF_INET as u64, 1, 0, 0, 0, 0],
            [libc::AF_UNIX as u64, 1, 0, 0, 0, 0],
            [(1 << 32) | libc::AF_UNIX as u64, 0, 0, 0, 0, 0],
            [u64::MAX; 6],
        ];
        for sockets in [
            Sockets::UnixOnly,
            Sockets::PrivateLoopback,
            Sockets::UnixAndTcp,
            Sockets::Any,
        ] {
            let programs = build(sockets).unwrap().programs;
            assert_eq!(
                programs.len(),
                1,
                "build hands the child one chained program"
            );
            let chained = &programs[0];
            let (parts, _) = build_parts(sockets).unwrap();
            let mut denied = 0;
            for arch in [AUDIT_ARCH, i386] {
                let numbers = (0..470).chain((0..10).map(|n| X32_SYSCALL_BIT | n));
                for nr in numbers {
                    for args in arg_sets {
                        let each: Vec<u32> =
                            parts.iter().map(|p| eval(p, nr, arch, args)).collect();
                        let want = most_restrictive(&each);
                        let got = eval(chained, nr, arch, args);
                        assert_eq!(got, want, "nr {nr} arch {arch:#x} args {args:?}");
                        denied += usize::from(got != libc::SECCOMP_RET_ALLOW);
                    }
                }
            }
            // Control: the comparison is not vacuous.
            assert!(denied > 1000, "{denied}");
            let socket = libc::SYS_socket as u32;
            let inet = [libc::AF_INET as u64, 1, 0, 0, 0, 0];
            assert_eq!(
                eval(chained, socket, AUDIT_ARCH, inet) == libc::SECCOMP_RET_ALLOW,
                sockets != Sockets::UnixOnly
            );
        }
    }

    #[test]
    fn a_proxied_run_may_open_tcp_streams_and_nothing_else() {
        let program = &build(Sockets::UnixAndTcp).unwrap().programs[0];
        let socket = libc::SYS_socket as u32;
        let verdict = |domain: i32, kind: i32, protocol: i32| {
            let args = [domain as u64, kind as u64, protocol as u64, 0, 0, 0];
            eval(program, socket, AUDIT_ARCH, args) == libc::SECCOMP_RET_ALLOW
        };
        let (inet, inet6, unix) = (libc::AF_INET, libc::AF_INET6, libc::AF_UNIX);
        let cloexec = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
        // Allowed: TCP streams with any of the flag combinations, and Unix sockets of any type.
        assert!(verdict(inet, libc::SOCK_STREAM, 0));
        assert!(verdict(
            inet6,
            cloexec | libc::SOCK_NONBLOCK,
            libc::IPPROTO_TCP
        ));
        assert!(verdict(unix, libc::SOCK_DGRAM, 0));
        // Denied: UDP, raw and ICMP sockets, other stream protocols, other families.
        assert!(!verdict(inet, libc::SOCK_DGRAM, 0));
        assert!(!verdict(
            inet6,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_UDP
        ));
        assert!(!verdict(inet, libc::SOCK_DGRAM, libc::IPPROTO_ICMP));
        assert!(!verdict(inet, libc::SOCK_RAW, libc::IPPROTO_ICMP));
        assert!(!verdict(inet, libc::SOCK_SEQPACKET, 0));
        assert!(!verdict(inet, libc::SOCK_STREAM, libc::IPPROTO_SCTP));
        assert!(!verdict(inet, libc::SOCK_STREAM, 262)); // IPPROTO_MPTCP
        assert!(!verdict(libc::AF_NETLINK, libc::SOCK_RAW, 0));
        assert!(!verdict(libc::AF_PACKET, libc::SOCK_RAW, 0));
        assert!(!verdict(libc::AF_VSOCK, libc::SOCK_STREAM, 0));
    }

    #[test]
    fn a_private_loopback_may_open_tcp_and_udp_sockets_and_nothing_else() {
        let program = &build(Sockets::PrivateLoopback).unwrap().programs[0];
        let unix_only = &build(Sockets::UnixOnly).unwrap().programs[0];
        let socket = libc::SYS_socket as u32;
        let allowed = |program: &BpfProgram, domain: i32, kind: i32, protocol: i32| {
            let args = [domain as u64, kind as u64, protocol as u64, 0, 0, 0];
            eval(program, socket, AUDIT_ARCH, args) == libc::SECCOMP_RET_ALLOW
        };
        let verdict = |domain, kind, protocol| allowed(program, domain, kind, protocol);
        let (inet, inet6, unix) = (libc::AF_INET, libc::AF_INET6, libc::AF_UNIX);
        let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
        // Allowed: TCP streams and UDP datagrams with any flags, and Unix sockets.
        assert!(verdict(inet, libc::SOCK_STREAM, 0));
        assert!(verdict(inet6, libc::SOCK_STREAM | flags, libc::IPPROTO_TCP));
        assert!(verdict(inet, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0));
        assert!(verdict(inet6, libc::SOCK_DGRAM, libc::IPPROTO_UDP));
        assert!(verdict(unix, libc::SOCK_SEQPACKET, 0));
        // Denied: raw, packet, netlink and the rest; ICMP, SCTP and MPTCP over a permitted type;
        // UDP given as a stream's protocol is the kernel's to refuse, not a way around.
        assert!(!verdict(inet, libc::SOCK_RAW, libc::IPPROTO_ICMP));
        assert!(!verdict(inet, libc::SOCK_DGRAM, libc::IPPROTO_ICMP));
        assert!(!verdict(inet6, libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6));
        assert!(!verdict(inet, libc::SOCK_SEQPACKET, 0));
        assert!(!verdict(inet, libc::SOCK_STREAM, libc::IPPROTO_SCTP));
        assert!(!verdict(inet, libc::SOCK_STREAM, 262)); // IPPROTO_MPTCP
        assert!(!verdict(libc::AF_NETLINK, libc::SOCK_RAW, 0));
        assert!(!verdict(libc::AF_NETLINK, libc::SOCK_DGRAM, 0));
        assert!(!verdict(libc::AF_PACKET, libc::SOCK_DGRAM, 0));
        assert!(!verdict(libc::AF_VSOCK, libc::SOCK_STREAM, 0));
        // Control: without the private namespace the same TCP socket is refused.
        assert!(!allowed(unix_only, inet, libc::SOCK_STREAM, 0));
        assert!(allowed(unix_only, unix, libc::SOCK_STREAM, 0));
    }

    #[test]
    fn a_filter_that_returns_the_accumulator_is_not_chained() {
        let returns_a = vec![sock_filter {
            code: 0x16,
            jt: 0,
            jf: 0,
            k: 0,
        }];
        assert!(chain(&[returns_a, arch_guard()]).is_err());
        assert!(chain(&[arch_guard(), arch_guard()]).is_ok());
    }

    #[test]
    fn socket_rule_only_when_network_is_denied() {
        let with = build(Sockets::UnixOnly).unwrap();
        let without = build(Sockets::Any).unwrap();
        assert_eq!(with.programs.len(), 1);
        assert!(with
            .report
            .conditional
            .iter()
            .any(|c| c.starts_with("socket")));
        assert!(!without
            .report
            .conditional
            .iter()
            .any(|c| c.starts_with("socket")));
        assert!(with.programs[0].len() > without.programs[0].len());
    }
}
