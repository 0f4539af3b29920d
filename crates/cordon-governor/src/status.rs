//! The exit statuses of a governed request: the contract between cordon and the programs that
//! call it (DESIGN.md, "CLI surface"). The binary adds its own for bad usage and input.

/// Allowed, or the command succeeded.
pub const OK: u8 = 0;
/// Denied by policy.
pub const DENY: u8 = 1;
/// The policy requires a human approval first.
pub const NEEDS_APPROVAL: u8 = 2;
/// The policy redirects to a safer command (DESIGN.md's code for `check`). No command returns it
/// yet: CSC profiles never redirect, and `exec` runs the replacement and returns its code.
pub const REDIRECT: u8 = 3;
/// Blocked before or while starting: it could not be recorded, confined or approved (CSC: 126,
/// which receipts carry as their `exit_code` too).
pub const BLOCKED: u8 = 126;

/// A shell-style status for a process exit code: a negative (signalled) code becomes
/// 128 + signal.
pub fn of_process(code: i32) -> u8 {
    let code = if code < 0 { 128 - code } else { code };
    u8::try_from(code).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signalled_codes_map_to_128_plus_signal() {
        assert_eq!(of_process(0), 0);
        assert_eq!(of_process(124), 124);
        assert_eq!(of_process(-9), 137);
        assert_eq!(of_process(-13), 141);
    }
}
