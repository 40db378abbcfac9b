//! Time formats that occur in CloudTrail records, parsed to milliseconds since the Unix epoch (UTC).
//!
//! - `eventTime`: ISO 8601 `2021-02-21T23:46:28Z`, sometimes with fractional seconds or an offset.
//! - `sessionContext.attributes.creationDate`: ISO as above, or the basic form `20131102T010628Z`.
//! - `responseElements.credentials.expiration`: `Sep 14, 2020, 7:10:27 AM` (also seen without the
//!   second comma, and with a zero-padded day).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn civil_to_millis(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<Millis> {
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    let dt = date.and_hms_milli_opt(h, mi, s.min(59), ms)?;
    Some(dt.and_utc().timestamp_millis())
}

/// Parses an ISO 8601 timestamp (`eventTime`, `creationDate`), including the basic form
/// `20131102T010628Z`. Returns `None` for anything else.
pub fn parse_iso(s: &str) -> Option<Millis> {
    let b = s.trim().as_bytes();
    // Fast path: YYYY-MM-DD[T ]HH:MM:SS[.fff...][Z]; no zone means UTC (Panther's exports).
    if b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ') {
        if b[13] == b':' && b[16] == b':' {
            let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
            let (h, mi, sec) = (
                digits(&b[11..13])?,
                digits(&b[14..16])?,
                digits(&b[17..19])?,
            );
            let mut rest = &b[19..];
            if rest.last() == Some(&b'Z') {
                rest = &rest[..rest.len() - 1];
            }
            if rest.is_empty() {
                return civil_to_millis(y, mo, d, h, mi, sec, 0);
            }
            if rest[0] == b'.' && rest.len() > 1 && rest[1..].iter().all(u8::is_ascii_digit) {
                let frac = &rest[1..];
                let mut ms = 0u32;
                for i in 0..3 {
                    ms = ms * 10 + frac.get(i).map_or(0, |c| u32::from(c - b'0'));
                }
                return civil_to_millis(y, mo, d, h, mi, sec, ms);
            }
        }
        let t = s.trim().replacen(' ', "T", 1);
        return DateTime::parse_from_rfc3339(&t)
            .ok()
            .map(|t| t.with_timezone(&Utc).timestamp_millis());
    }
    // Basic form: YYYYMMDDTHHMMSSZ
    if b.len() == 16 && b[8] == b'T' && b[15] == b'Z' {
        return civil_to_millis(
            digits(&b[0..4])?,
            digits(&b[4..6])?,
            digits(&b[6..8])?,
            digits(&b[9..11])?,
            digits(&b[11..13])?,
            digits(&b[13..15])?,
            0,
        );
    }
    None
}

/// Parses the credential expiration format `Sep 14, 2020, 7:10:27 AM`; ISO is accepted too.
pub fn parse_expiration(s: &str) -> Option<Millis> {
    let t = s.trim();
    if let Some(ms) = parse_iso(t) {
        return Some(ms);
    }
    for fmt in ["%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt.and_utc().timestamp_millis());
        }
    }
    None
}

/// Formats milliseconds as `2021-02-21T23:46:28Z` (with `.123` when the milliseconds are not zero).
pub fn format_iso(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(
            if ms.rem_euclid(1000) == 0 {
                SecondsFormat::Secs
            } else {
                SecondsFormat::Millis
            },
            true,
        ),
        None => ms.to_string(),
    }
}

/// Parses a time given by a person on the command line: ISO 8601 (`2026-03-02T10:00:00Z`), a date
/// (`2026-03-02`, meaning midnight UTC), or a date and time without a zone (taken as UTC).
pub fn parse_user_time(s: &str) -> Result<Millis, String> {
    if let Some(ms) = parse_iso(s) {
        return Ok(ms);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    Err(format!(
        "`{s}` is not a time: use ISO 8601 like 2026-03-02T10:00:00Z, or a date like 2026-03-02 (UTC)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        let base = parse_iso("2021-02-21T23:46:28Z").unwrap();
        assert_eq!(format_iso(base), "2021-02-21T23:46:28Z");
        assert_eq!(parse_iso("2021-02-21T23:46:28.5Z").unwrap(), base + 500);
        assert_eq!(
            parse_iso("2021-02-21T23:46:28.123456Z").unwrap(),
            base + 123
        );
        assert_eq!(parse_iso("2021-02-22T00:46:28+01:00").unwrap(), base);
        assert_eq!(
            parse_iso("20131102T010628Z").unwrap(),
            parse_iso("2013-11-02T01:06:28Z").unwrap()
        );
        assert_eq!(parse_iso("2021-02-21 23:46:28.000000000").unwrap(), base);
        assert_eq!(parse_iso("2021-02-21 23:46:28").unwrap(), base);
        assert_eq!(parse_iso("yesterday"), None);
        assert_eq!(parse_iso("2021-13-21T23:46:28Z"), None);
    }

    #[test]
    fn expiration_forms() {
        let want = parse_iso("2020-09-14T07:10:27Z").unwrap();
        assert_eq!(parse_expiration("Sep 14, 2020, 7:10:27 AM"), Some(want));
        assert_eq!(parse_expiration("Sep 14, 2020 7:10:27 AM"), Some(want));
        assert_eq!(
            parse_expiration("Nov 30, 2024, 8:43:17 PM"),
            parse_iso("2024-11-30T20:43:17Z")
        );
        assert_eq!(
            parse_expiration("Nov 01, 2020 8:37:03 PM"),
            parse_iso("2020-11-01T20:37:03Z")
        );
        assert_eq!(
            parse_expiration("Sep 14, 2020, 12:00:00 AM"),
            parse_iso("2020-09-14T00:00:00Z")
        );
    }

    #[test]
    fn user_times() {
        assert_eq!(
            parse_user_time("2026-03-02").unwrap(),
            parse_iso("2026-03-02T00:00:00Z").unwrap()
        );
        assert!(parse_user_time("last tuesday")
            .unwrap_err()
            .contains("ISO 8601"));
    }
}
