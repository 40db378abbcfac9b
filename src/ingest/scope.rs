//! What part of the logs a run asks about: a time window, accounts and regions.
//!
//! The scope decides which files are read at all (by the delivery time in a CloudTrail file name
//! and the account and region folders of the key layout) and which events are kept. Files are
//! named by delivery time, a few minutes after the events they hold (AWS gives no bound), so the
//! file window is padded: [`EARLY`] before `since` and [`LATE`] after `until`.

use crate::event::{Event, Millis};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};

/// How much earlier than `since` a file name's time may be and still hold events in the window
/// (file names are truncated to the minute).
pub const EARLY: Millis = 15 * 60 * 1000;
/// How much later than `until` a file may be delivered and still hold events in the window.
pub const LATE: Millis = 60 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Events at or after this time.
    pub since: Option<Millis>,
    /// Events before this time.
    pub until: Option<Millis>,
    /// Only these accounts (caller's or recipient's); empty means all.
    pub accounts: Vec<String>,
    /// Only these regions; empty means all.
    pub regions: Vec<String>,
    /// The scope picks the files read and keeps every event in them: a report marks files as
    /// processed, so an event dropped from a file read would never be seen again.
    pub files_only: bool,
}

impl Scope {
    pub fn is_everything(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.accounts.is_empty()
            && self.regions.is_empty()
    }

    pub fn wants_account(&self, a: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|x| x == a)
    }

    pub fn wants_region(&self, r: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|x| x == r)
    }

    /// Whether an event is inside the scope.
    pub fn matches(&self, e: &Event) -> bool {
        let is = |v: &Option<crate::event::Text>, x: &String| v.as_deref() == Some(x.as_str());
        if self.files_only {
            return true;
        }
        self.since.is_none_or(|t| e.event_time >= t)
            && self.until.is_none_or(|t| e.event_time < t)
            && (self.accounts.is_empty()
                || self
                    .accounts
                    .iter()
                    .any(|a| is(&e.account_id, a) || is(&e.recipient_account_id, a)))
            && (self.regions.is_empty() || self.regions.iter().any(|r| is(&e.aws_region, r)))
    }

    /// Whether a file with this key or path may hold events in scope, judged by the delivery
    /// time in its name (`<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz`) and its
    /// account and region. A name that does not follow the layout is always read.
    pub fn wants_file(&self, key: &str) -> bool {
        let Some(name) = parse_name(key) else {
            return true;
        };
        if !self.wants_account(name.account) || !self.wants_region(name.region) {
            return false;
        }
        self.since.is_none_or(|s| name.delivered >= s - EARLY)
            && self.until.is_none_or(|u| name.delivered < u + LATE)
    }

    /// The UTC days whose delivery folders (`YYYY/MM/DD/`) can hold events in scope, when the
    /// window is bounded on both sides (`until` defaults to `now`); None means "every day".
    pub fn days(&self, now: Millis) -> Option<Vec<NaiveDate>> {
        let since = self.since?;
        let until = self.until.unwrap_or(now).min(now + LATE);
        let first = day_of(since - EARLY)?;
        let last = day_of(until + LATE)?;
        if last < first {
            return Some(Vec::new());
        }
        Some(first.iter_days().take_while(|d| *d <= last).collect())
    }
}

fn day_of(ms: Millis) -> Option<NaiveDate> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
}

/// `YYYY/MM/DD/` for a day.
pub fn day_prefix(d: NaiveDate) -> String {
    format!("{:04}/{:02}/{:02}/", d.year(), d.month(), d.day())
}

/// The parts of a CloudTrail log file name.
#[derive(Debug, PartialEq, Eq)]
pub struct LogName<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub delivered: Millis,
}

/// Parses `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz` (the last path segment).
pub fn parse_name(key: &str) -> Option<LogName<'_>> {
    let name = key.rsplit(['/', '\\']).next()?;
    let mut parts = name.split('_');
    let account = parts.next()?;
    if parts.next()? != "CloudTrail" {
        return None;
    }
    let region = parts.next()?;
    let t = parts.next()?.as_bytes();
    if t.len() != 14 || t[8] != b'T' || t[13] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(&t[r]).ok()?.parse().ok()
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?;
    let dt = date.and_hms_opt(num(9..11)?, num(11..13)?, 0)?;
    Some(LogName {
        account,
        region,
        delivered: dt.and_utc().timestamp_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::time::parse_iso;

    #[test]
    fn file_names_give_account_region_and_delivery_time() {
        let n = parse_name(
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/20/111122223333_CloudTrail_eu-west-1_20261120T2355Z_AbCd.json.gz",
        )
        .unwrap();
        assert_eq!(n.account, "111122223333");
        assert_eq!(n.region, "eu-west-1");
        assert_eq!(n.delivered, parse_iso("2026-11-20T23:55:00Z").unwrap());
        assert!(parse_name("flaws/events.json").is_none());
    }

    #[test]
    fn a_day_window_reads_that_day_and_the_next_when_delivery_may_spill_over() {
        let s = Scope {
            since: parse_iso("2026-11-20T00:00:00Z"),
            until: parse_iso("2026-11-21T00:00:00Z"),
            ..Scope::default()
        };
        let days: Vec<String> = s
            .days(i64::MAX / 2)
            .unwrap()
            .into_iter()
            .map(day_prefix)
            .collect();
        assert_eq!(days, ["2026/11/19/", "2026/11/20/", "2026/11/21/"]);
        let name = |t: &str| format!("1_CloudTrail_us-east-1_{t}_x.json.gz");
        assert!(!s.wants_file(&name("20261119T2340Z")));
        assert!(s.wants_file(&name("20261119T2350Z")));
        assert!(s.wants_file(&name("20261121T0055Z")));
        assert!(!s.wants_file(&name("20261121T0100Z")));
        assert!(s.wants_file("notes/anything.json"));
    }

    #[test]
    fn accounts_and_regions_prune_files() {
        let s = Scope {
            accounts: vec!["1".into()],
            regions: vec!["us-east-1".into()],
            ..Scope::default()
        };
        assert!(s.wants_file("1_CloudTrail_us-east-1_20261119T2340Z_x.json.gz"));
        assert!(!s.wants_file("2_CloudTrail_us-east-1_20261119T2340Z_x.json.gz"));
        assert!(!s.wants_file("1_CloudTrail_eu-west-1_20261119T2340Z_x.json.gz"));
        assert_eq!(s.days(0), None);
    }
}
