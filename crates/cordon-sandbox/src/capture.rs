//! Capped, hashed capture of one output stream, and the optional filter in front of it.
//!
//! The first `cap` bytes are kept and hashed; later bytes are counted and dropped but still read,
//! so a chatty command never blocks on a full pipe and the hash always covers exactly the bytes a
//! receipt says were kept.
//!
//! An [`OutputFilter`] (cordon-secrets' redactor) rewrites each stream before it is relayed or
//! captured, so the caller, the captured bytes and their hash all see the same filtered output.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::report::StreamReport;

/// Rewrites the commands' output before the supervisor relays or captures it.
pub trait OutputFilter: Send + Sync + fmt::Debug {
    /// A fresh filter for one stream (stdout or stderr) of one command.
    fn stream(&self) -> Box<dyn StreamFilter>;
}

/// The filter of one stream. It may hold back a tail of what it was given (a match that may
/// continue in the next chunk) and must release it in [`StreamFilter::finish`].
pub trait StreamFilter: Send {
    /// Filters `chunk`, appending to `out` what may be released now.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);
    /// The stream ended: appends whatever was held back, filtered.
    fn finish(&mut self, out: &mut Vec<u8>);
}

/// One stream's optional filter, between the pipe and the capture and relay.
pub(crate) struct Filtered {
    filter: Option<Box<dyn StreamFilter>>,
    released: Vec<u8>,
}

impl Filtered {
    pub(crate) fn new(filter: Option<&dyn OutputFilter>) -> Self {
        Filtered {
            filter: filter.map(OutputFilter::stream),
            released: Vec::new(),
        }
    }

    /// What of `chunk` may go on now: the chunk itself when there is no filter.
    pub(crate) fn pass<'a>(&'a mut self, chunk: &'a [u8]) -> &'a [u8] {
        match self.filter.as_mut() {
            None => chunk,
            Some(filter) => {
                self.released.clear();
                filter.push(chunk, &mut self.released);
                &self.released
            }
        }
    }

    /// What the filter still held at the end of the stream; empty on every later call.
    pub(crate) fn finish(&mut self) -> &[u8] {
        self.released.clear();
        if let Some(mut filter) = self.filter.take() {
            filter.finish(&mut self.released);
        }
        &self.released
    }
}

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

    /// Holds back the last byte of each chunk and upper-cases what it releases.
    #[derive(Debug)]
    struct Upper;
    struct UpperStream(Vec<u8>);
    impl OutputFilter for Upper {
        fn stream(&self) -> Box<dyn StreamFilter> {
            Box::new(UpperStream(Vec::new()))
        }
    }
    impl StreamFilter for UpperStream {
        fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
            self.0.extend_from_slice(chunk);
            let keep = self.0.split_off(self.0.len().saturating_sub(1));
            out.extend(self.0.iter().map(u8::to_ascii_uppercase));
            self.0 = keep;
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            out.extend(self.0.drain(..).map(|b| b.to_ascii_uppercase()));
        }
    }

    #[test]
    fn a_filter_releases_its_held_tail_once_at_the_end() {
        let mut filtered = Filtered::new(Some(&Upper));
        assert_eq!(filtered.pass(b"ab"), b"A");
        assert_eq!(filtered.pass(b"cd"), b"BC");
        assert_eq!(filtered.finish(), b"D");
        assert_eq!(filtered.finish(), b"");
        let mut plain = Filtered::new(None);
        assert_eq!(plain.pass(b"ab"), b"ab");
        assert_eq!(plain.finish(), b"");
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
