//! Calendar arithmetic on Unix seconds, CloudTrail's time formats, and the few time zones the
//! synthetic people live in (with their daylight-saving rules; no tz database needed).

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number: `(year, month, day)`.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Day of week of a day number, 0 = Monday .. 6 = Sunday.
pub(crate) fn weekday(day: i64) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

fn push2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn iso(t: i64, out: &mut String) {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u32;
    let y = y as u32;
    push2(out, y / 100);
    push2(out, y % 100);
    out.push('-');
    push2(out, mo);
    out.push('-');
    push2(out, d);
    out.push('T');
    push2(out, s / 3600);
    out.push(':');
    push2(out, s / 60 % 60);
    out.push(':');
    push2(out, s % 60);
    out.push('Z');
}

pub(crate) fn iso_string(t: i64) -> String {
    let mut s = String::with_capacity(20);
    iso(t, &mut s);
    s
}

/// `YYYYMMDDTHHmmZ` (log file names) or, with `secs`, `YYYYMMDDTHHmmssZ` (digest names).
pub(crate) fn compact(t: i64, secs: bool) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400) as u32;
    let mut out = String::with_capacity(17);
    let y = y as u32;
    push2(&mut out, y / 100);
    push2(&mut out, y % 100);
    push2(&mut out, mo);
    push2(&mut out, d);
    out.push('T');
    push2(&mut out, s / 3600);
    push2(&mut out, s / 60 % 60);
    if secs {
        push2(&mut out, s % 60);
    }
    out.push('Z');
    out
}

/// `(YYYY, MM, DD)` strings of the UTC date of `t`, for S3 key prefixes.
pub(crate) fn ymd(t: i64) -> (String, String, String) {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    (format!("{y:04}"), format!("{m:02}"), format!("{d:02}"))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// STS's credential expiration format: `Mar 2, 2026, 7:10:27 PM` (UTC, 12-hour clock).
pub(crate) fn sts_expiration(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    let (h12, ampm) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!(
        "{} {d}, {y}, {h12}:{mi:02}:{se:02} {ampm}",
        MONTHS[(m - 1) as usize]
    )
}

/// A time zone with its daylight-saving rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tz {
    NewYork,
    Chicago,
    LosAngeles,
    Berlin,
    London,
}

/// Day number of the `n`-th (1-based) Sunday of a month, or of the last one with `n = 0`.
fn sunday(y: i64, m: u32, n: u32) -> i64 {
    if n == 0 {
        let next = if m == 12 {
            days_from_civil(y + 1, 1, 1)
        } else {
            days_from_civil(y, m + 1, 1)
        };
        let last = next - 1;
        last - i64::from((weekday(last) + 1) % 7)
    } else {
        let first = days_from_civil(y, m, 1);
        first + i64::from((6 + 7 - weekday(first)) % 7) + 7 * i64::from(n - 1)
    }
}

impl Tz {
    /// Standard offset from UTC, seconds.
    fn standard(self) -> i64 {
        match self {
            Tz::NewYork => -5 * 3600,
            Tz::Chicago => -6 * 3600,
            Tz::LosAngeles => -8 * 3600,
            Tz::Berlin => 3600,
            Tz::London => 0,
        }
    }

    /// Offset from UTC (seconds) in force at the instant `t`.
    pub(crate) fn offset(self, t: i64) -> i64 {
        let (y, _, _) = civil_from_days(t.div_euclid(86_400));
        let std = self.standard();
        let dst = match self {
            Tz::NewYork | Tz::Chicago | Tz::LosAngeles => {
                // 02:00 local standard time on the second Sunday of March, until 02:00 local
                // daylight time on the first Sunday of November.
                let on = sunday(y, 3, 2) * 86_400 + 2 * 3600 - std;
                let off = sunday(y, 11, 1) * 86_400 + 2 * 3600 - (std + 3600);
                t >= on && t < off
            }
            Tz::Berlin | Tz::London => {
                // 01:00 UTC on the last Sunday of March until 01:00 UTC on the last Sunday of October.
                let on = sunday(y, 3, 0) * 86_400 + 3600;
                let off = sunday(y, 10, 0) * 86_400 + 3600;
                t >= on && t < off
            }
        };
        if dst {
            std + 3600
        } else {
            std
        }
    }

    /// The UTC instant of local wall-clock time `secs` after local midnight of day number `day`.
    pub(crate) fn to_utc(self, day: i64, secs: i64) -> i64 {
        let local = day * 86_400 + secs;
        let guess = local - self.standard();
        local - self.offset(guess)
    }

    /// Local day number and seconds into that local day, of the UTC instant `t`.
    pub(crate) fn local(self, t: i64) -> (i64, i64) {
        let l = t + self.offset(t);
        (l.div_euclid(86_400), l.rem_euclid(86_400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = days_from_civil(2026, 3, 2) * 86_400 + 19 * 3600 + 10 * 60 + 27;
        assert_eq!(iso_string(t), "2026-03-02T19:10:27Z");
        assert_eq!(sts_expiration(t), "Mar 2, 2026, 7:10:27 PM");
        assert_eq!(sts_expiration(t - 19 * 3600), "Mar 2, 2026, 12:10:27 AM");
        assert_eq!(compact(t, false), "20260302T1910Z");
        assert_eq!(compact(t, true), "20260302T191027Z");
        assert_eq!(weekday(days_from_civil(2026, 3, 2)), 0);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    #[test]
    fn daylight_saving() {
        // 2026: US switches on March 8, the EU on March 29.
        assert_eq!(sunday(2026, 3, 2), days_from_civil(2026, 3, 8));
        assert_eq!(sunday(2026, 3, 0), days_from_civil(2026, 3, 29));
        assert_eq!(sunday(2026, 11, 1), days_from_civil(2026, 11, 1));
        let d = days_from_civil(2026, 3, 8);
        assert_eq!(Tz::NewYork.to_utc(d, 3600), d * 86_400 + 6 * 3600);
        assert_eq!(Tz::NewYork.to_utc(d, 4 * 3600), d * 86_400 + 8 * 3600);
        assert_eq!(Tz::Berlin.to_utc(d, 3 * 3600), d * 86_400 + 2 * 3600);
        let t = Tz::Chicago.to_utc(d + 1, 16 * 3600);
        assert_eq!(Tz::Chicago.local(t), (d + 1, 16 * 3600));
    }
}
