//! Timestamps in the spelling csc-runner writes (`2026-03-25T12:00:02.000000+00:00`, Python's
//! `datetime.isoformat()` in UTC with microseconds), parsed leniently as any RFC 3339 time.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

/// Formats `t` (converted to UTC) with six fractional digits and a `+00:00` offset.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    );
    // The description has no component that can fail for a UTC time in years 0..=9999.
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The current time, formatted.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// Parses an RFC 3339 time; `None` if it is not one.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python_isoformat() {
        let t = parse("2026-03-25T12:00:02Z").unwrap();
        assert_eq!(format(t), "2026-03-25T12:00:02.000000+00:00");
        let t = parse("2026-11-22T03:19:43.440894+00:00").unwrap();
        assert_eq!(format(t), "2026-11-22T03:19:43.440894+00:00");
        assert!(parse("yesterday").is_none());
    }
}
