//! Capped, hashed capture of one output stream.
//!
//! The first `cap` bytes are kept and hashed; later bytes are counted and dropped but still read,
//! so a chatty command never blocks on a full pipe and the hash always covers exactly the bytes a
//! receipt says were kept.

use sha2::{Digest, Sha256};

use crate::report::StreamReport;

pub(crate) struct Capture {
    cap: usize,
    kept: Vec<u8>,
    hasher: Sha256,
    total: u64,
}

impl Capture {
    pub(crate) fn new(cap: usize) -> Self {
        Capture {
            cap,
            kept: Vec::new(),
            hasher: Sha256::new(),
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.cap.saturating_sub(self.kept.len());
        let take = &chunk[..chunk.len().min(room)];
        self.hasher.update(take);
        self.kept.extend_from_slice(take);
    }

    pub(crate) fn finish(self) -> StreamReport {
        let digest = self.hasher.finalize();
        StreamReport {
            sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            captured_bytes: self.kept.len() as u64,
            total_bytes: self.total,
            truncated: self.total > self.kept.len() as u64,
            captured: self.kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_only_the_kept_prefix_and_flags_truncation() {
        let mut c = Capture::new(4);
        c.push(b"ab");
        c.push(b"cdef");
        c.push(b"gh");
        let r = c.finish();
        assert_eq!(r.captured, b"abcd");
        assert_eq!(r.total_bytes, 8);
        assert!(r.truncated);
        // sha256("abcd")
        assert_eq!(
            r.sha256,
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
        );
    }

    #[test]
    fn empty_stream_has_the_empty_hash() {
        let r = Capture::new(10).finish();
        assert!(!r.truncated);
        assert_eq!(
            r.sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn exactly_cap_bytes_is_not_truncated() {
        let mut c = Capture::new(3);
        c.push(b"abc");
        let r = c.finish();
        assert!(!r.truncated);
        assert_eq!(r.captured_bytes, 3);
    }
}
