//! Events + ingest counts -> an overview: what was read, the time span, accounts, regions, and the
//! commonest sources, calls, identity types and errors.

use crate::event::{format_iso, Columns, Event, Millis, Text};
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

/// The `events` columns the overview reads: ingest fills only these (and what it reads itself).
pub const COLUMNS: Columns = Columns::named(&[
    "event_time",
    "recipient_account_id",
    "aws_region",
    "event_source",
    "event_name",
    "identity_type",
    "error_code",
    "is_error",
    "shared_copy",
]);

/// Counts per value (None counted as "(none)"). Hashed with foldhash, not SipHash: the keys are
/// the input's own values, and the order of the table never reaches the output (counts are
/// sorted).
type Counts = HashMap<Option<Text>, u64, foldhash::fast::FixedState>;

/// Counts values, most frequent first, ties by value; keeps the first `top` (0 = all).
fn tally(m: Counts, top: usize) -> Vec<Count> {
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(k, n)| Count {
            value: k.as_deref().unwrap_or("(none)").to_string(),
            events: n,
        })
        .collect();
    // Values that differ only by None vs "(none)" are one value, as they print the same.
    v.sort_by(|a, b| a.value.cmp(&b.value));
    v.dedup_by(|later, earlier| {
        if later.value == earlier.value {
            earlier.events += later.events;
            true
        } else {
            false
        }
    });
    v.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.value.cmp(&b.value)));
    if top > 0 {
        v.truncate(top);
    }
    v
}

/// The overview's counts, gathered slice by slice as events stream.
#[derive(Default)]
pub struct Tally {
    first: Option<Millis>,
    last: Option<Millis>,
    accounts: Counts,
    regions: Counts,
    event_sources: Counts,
    event_names: Counts,
    identity_types: Counts,
    error_codes: Counts,
}

impl Tally {
    pub fn observe(&mut self, events: &[Event]) {
        let count = |m: &mut Counts, v: &Option<Text>| {
            if let Some(n) = m.get_mut(v) {
                *n += 1;
            } else {
                m.insert(v.clone(), 1);
            }
        };
        for e in events {
            self.first = Some(self.first.map_or(e.event_time, |t| t.min(e.event_time)));
            self.last = Some(self.last.map_or(e.event_time, |t| t.max(e.event_time)));
            count(&mut self.accounts, &e.recipient_account_id);
            count(&mut self.regions, &e.aws_region);
            // Each action once: cross-account copies are not counted twice.
            if e.shared_copy {
                continue;
            }
            count(&mut self.event_sources, &e.event_source);
            count(&mut self.event_names, &e.event_name);
            count(&mut self.identity_types, &e.identity_type);
            if e.is_error {
                count(&mut self.error_codes, &e.error_code);
            }
        }
    }

    pub fn summary(self, stats: &IngestStats, top: usize) -> Summary {
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
            first_event: self.first.map(format_iso),
            last_event: self.last.map(format_iso),
            accounts: tally(self.accounts, 0),
            regions: tally(self.regions, 0),
            event_sources: tally(self.event_sources, top),
            event_names: tally(self.event_names, top),
            identity_types: tally(self.identity_types, 0),
            error_codes: tally(self.error_codes, top),
        }
    }
}

pub fn summarize(events: &[Event], stats: &IngestStats, top: usize) -> Summary {
    let mut t = Tally::default();
    t.observe(events);
    t.summary(stats, top)
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
