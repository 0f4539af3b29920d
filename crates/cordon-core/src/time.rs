//! Timestamps in the form CSC writes them: RFC 3339 in UTC with microseconds, `+00:00` offset
//! (Python's `datetime.now(UTC).isoformat()`).

use time::OffsetDateTime;

/// `2026-11-22T03:19:43.438663+00:00`. Unlike Python, microseconds are always written, so every
/// timestamp has one length and sorts as text.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// The current time, formatted.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Parses an RFC 3339 timestamp (`Z` or a numeric offset).
pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_isoformat_with_micros() {
        let t = time::macros::datetime!(2026-03-25 12:00:00.5 UTC);
        assert_eq!(rfc3339(t), "2026-03-25T12:00:00.500000+00:00");
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
    }
}
