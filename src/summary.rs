//! Events + ingest counts -> an overview: what was read, the time span, accounts, regions, and the
//! commonest sources, calls, identity types and errors.

use crate::event::{format_iso, Event};
use crate::ingest::IngestStats;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub files: FileCounts,
    pub events: u64,
    pub duplicates: u64,
    pub shared_copies: u64,
    /// Events read but outside --since/--until/--account/--region.
    pub outside_scope: u64,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub accounts: Vec<Count>,
    pub regions: Vec<Count>,
    pub event_sources: Vec<Count>,
    pub event_names: Vec<Count>,
    pub identity_types: Vec<Count>,
    pub error_codes: Vec<Count>,
}

#[derive(Debug, Serialize)]
pub struct FileCounts {
    pub seen: u64,
    pub read: u64,
    pub skipped: u64,
    pub failed: u64,
    pub skipped_by_reason: std::collections::BTreeMap<String, u64>,
    pub records: u64,
    pub bad_records: u64,
    pub bytes_read: u64,
    pub bytes_decompressed: u64,
    /// S3 ListObjectsV2 pages and CloudTrail LookupEvents requests made.
    pub list_requests: u64,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Count {
    pub value: String,
    pub events: u64,
}

/// Counts values, most frequent first, ties by value; keeps the first `top` (0 = all).
fn tally<'a>(values: impl Iterator<Item = Option<&'a str>>, top: usize) -> Vec<Count> {
    let mut m: HashMap<&str, u64> = HashMap::new();
    for v in values {
        *m.entry(v.unwrap_or("(none)")).or_default() += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(k, n)| Count {
            value: k.to_string(),
            events: n,
        })
        .collect();
    v.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.value.cmp(&b.value)));
    if top > 0 {
        v.truncate(top);
    }
    v
}

pub fn summarize(events: &[Event], stats: &IngestStats, top: usize) -> Summary {
    // Each action once: cross-account copies are not counted twice.
    let actions = || events.iter().filter(|e| !e.shared_copy);
    Summary {
        files: FileCounts {
            seen: stats.files_seen,
            read: stats.files_read,
            skipped: stats.files_skipped,
            failed: stats.files_failed,
            skipped_by_reason: stats.skipped_by_reason.clone(),
            records: stats.records,
            bad_records: stats.bad_records,
            bytes_read: stats.bytes_read,
            bytes_decompressed: stats.bytes_decompressed,
            list_requests: stats.list_requests,
        },
        events: stats.events,
        duplicates: stats.duplicates,
        shared_copies: stats.shared_copies,
        outside_scope: stats.outside_scope,
        first_event: events.first().map(|e| format_iso(e.event_time)),
        last_event: events.last().map(|e| format_iso(e.event_time)),
        accounts: tally(events.iter().map(|e| e.recipient_account_id.as_deref()), 0),
        regions: tally(events.iter().map(|e| e.aws_region.as_deref()), 0),
        event_sources: tally(actions().map(|e| e.event_source.as_deref()), top),
        event_names: tally(actions().map(|e| e.event_name.as_deref()), top),
        identity_types: tally(actions().map(|e| e.identity_type.as_deref()), 0),
        error_codes: tally(
            actions()
                .filter(|e| e.is_error)
                .map(|e| e.error_code.as_deref()),
            top,
        ),
    }
}

impl Summary {
    /// The text shown to people.
    pub fn to_text(&self) -> String {
        let f = &self.files;
        let mut s = String::new();
        let skipped = if f.skipped_by_reason.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = f
                .skipped_by_reason
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            format!(" ({})", parts.join(", "))
        };
        s.push_str(&format!(
            "files     {} seen, {} read, {} skipped{}, {} failed\n",
            f.seen, f.read, f.skipped, skipped, f.failed
        ));
        s.push_str(&format!(
            "records   {} read, {} unreadable; {} events after {} duplicates removed ({} cross-account copies marked)\n",
            f.records, f.bad_records, self.events, self.duplicates, self.shared_copies
        ));
        s.push_str(&format!(
            "bytes     {} read, {} decompressed\n",
            f.bytes_read, f.bytes_decompressed
        ));
        if f.list_requests > 0 {
            s.push_str(&format!("listing   {} list requests\n", f.list_requests));
        }
        if self.outside_scope > 0 {
            s.push_str(&format!(
                "scope     {} events read but outside --since/--until/--account/--region\n",
                self.outside_scope
            ));
        }
        s.push_str(&format!(
            "span      {} .. {}\n",
            self.first_event.as_deref().unwrap_or("-"),
            self.last_event.as_deref().unwrap_or("-")
        ));
        let section = |s: &mut String, title: &str, rows: &[Count]| {
            s.push_str(&format!("\n{title}\n"));
            if rows.is_empty() {
                s.push_str("  (none)\n");
            }
            let w = rows
                .iter()
                .map(|c| c.events.to_string().len())
                .max()
                .unwrap_or(1);
            for c in rows {
                s.push_str(&format!("  {:>w$}  {}\n", c.events, c.value, w = w));
            }
        };
        section(&mut s, "accounts (recipient)", &self.accounts);
        section(&mut s, "regions", &self.regions);
        section(&mut s, "identity types", &self.identity_types);
        section(&mut s, "event sources", &self.event_sources);
        section(&mut s, "event names", &self.event_names);
        section(&mut s, "error codes", &self.error_codes);
        s
    }
}
