//! Timesketch (and Plaso-compatible) JSON lines: `--format timesketch` of `events`, `timeline`
//! and `hunt`.
//!
//! Takes rows that carry an [`Event`] (or findings) and writes one JSON object per line with
//! Timesketch's mandatory `message`, `datetime` (ISO 8601, UTC) and `timestamp_desc`, plus
//! `timestamp` (microseconds since the epoch) and every column of the row under its own name.
//! Nested values are flattened to text, since Timesketch indexes flat fields; null columns are
//! left out.

use crate::detect::Finding;
use crate::error::Result;
use crate::event::{format_iso, Event, Millis};
use crate::report::{write_ndjson, Sink};
use serde::Serialize;
use serde_json::{Map, Value};

/// `timestamp_desc` of event lines: CloudTrail's `eventTime`, when the request was completed.
pub const EVENT_TIME: &str = "Event Time";
/// `timestamp_desc` of finding lines: the time of the event that raised the finding.
pub const FINDING_TIME: &str = "Finding Time";

/// One line of text saying who did what, from where, and whether it failed.
pub fn event_message(e: &Event) -> String {
    let who = e
        .principal_arn
        .as_deref()
        .or(e.invoked_by.as_deref())
        .or(e.user_name.as_deref())
        .or(e.identity_type.as_deref())
        .unwrap_or("unknown caller");
    let service = e
        .event_source
        .as_deref()
        .unwrap_or("")
        .trim_end_matches(".amazonaws.com");
    let mut m = format!("{who} {service}:{}", e.event_name.as_deref().unwrap_or("?"));
    if let Some(k) = e.access_key_id.as_deref().filter(|k| !k.is_empty()) {
        m.push_str(&format!(" with {k}"));
    }
    if let Some(ip) = e.source_ip.as_deref() {
        m.push_str(&format!(" from {ip}"));
    }
    if let Some(r) = e.aws_region.as_deref() {
        m.push_str(&format!(" in {r}"));
    }
    if let Some(err) = e.error_code.as_deref() {
        m.push_str(&format!(" failed: {err}"));
    }
    if let Some(k) = e.sts().issued_access_key_id.as_deref() {
        m.push_str(&format!(" -> issued {k}"));
    }
    m
}

/// The Timesketch fields first, then the row's own columns (nested values as JSON text, empty
/// ones left out).
fn line(row: Value, message: String, time: Millis, desc: &str) -> Value {
    let mut m = Map::new();
    m.insert("message".into(), message.into());
    m.insert("datetime".into(), format_iso(time).into());
    m.insert("timestamp".into(), time.saturating_mul(1000).into());
    m.insert("timestamp_desc".into(), desc.into());
    if let Value::Object(cols) = row {
        for (k, v) in cols {
            if m.contains_key(&k) {
                continue;
            }
            let v = match v {
                Value::Null => continue,
                Value::Object(_) => Value::String(v.to_string()),
                Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                    Value::String(Value::Array(items).to_string())
                }
                other => other,
            };
            m.insert(k, v);
        }
    }
    Value::Object(m)
}

/// Writes rows (events, or timeline rows holding one) as Timesketch lines; `event_of` finds the
/// event a row is about.
pub fn write_events<T: Serialize>(
    rows: &[T],
    event_of: impl Fn(&T) -> &Event,
    sink: &Sink,
) -> Result<()> {
    let lines: Vec<Value> = rows
        .iter()
        .map(|r| {
            let e = event_of(r);
            let cols = serde_json::to_value(r).unwrap_or(Value::Null);
            line(cols, event_message(e), e.event_time, EVENT_TIME)
        })
        .collect();
    write_ndjson(&lines, sink)
}

/// Findings as Timesketch lines: `[severity] kind: summary`, with the finding's keys as columns.
pub fn findings(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let cols = serde_json::to_value(f).unwrap_or(Value::Null);
        let message = format!("[{}] {}: {}", f.severity, f.kind, f.summary);
        s.push_str(&line(cols, message, f.time, FINDING_TIME).to_string());
        s.push('\n');
    }
    s
}
