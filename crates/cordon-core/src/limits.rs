//! Size limits on inputs. The contract and policy file caps and the per-contract shape limits are
//! csc-runner's (`limits.py`); cordon rejects a contract over them as invalid input, before any
//! decision, rather than deciding on it.

/// A contract file larger than this is rejected unread.
pub const MAX_CONTRACT_BYTES: u64 = 1024 * 1024;
/// A policy file larger than this is rejected unread.
pub const MAX_POLICY_BYTES: u64 = 512 * 1024;
/// Commands in one contract (the schema says the same).
pub const MAX_COMMANDS: usize = 20;
/// Segments in one pipeline.
pub const MAX_PIPELINE_SEGMENTS: usize = 10;
/// Elements in one argv vector.
pub const MAX_ARGV_ELEMENTS: usize = 200;
/// UTF-8 bytes in one argv element.
pub const MAX_ARGV_ELEMENT_BYTES: usize = 128 * 1024;
/// Characters in the justification (the schema says the same).
pub const MAX_JUSTIFICATION_CHARS: usize = 4000;
