//! JSON text of one log object -> events, and a problem for every record that could not be read.
//!
//! Shapes accepted: CloudTrail's `{"Records": [...]}` delivery document, a top-level JSON array of
//! records, and one record per line (NDJSON) or concatenated records. A record may be wrapped:
//! the LookupEvents form (`CloudTrailEvent` holding the record as a JSON string), EventBridge
//! (`detail`) or exports that put it under `event`; SIEM exports are unwrapped by [`super::siem`].
//!
//! Records are split by a small structural scanner first, then each is parsed on its own, so one
//! bad record (invalid UTF-8, not an object, no eventTime, cut off by truncation) costs only itself.

use crate::event::raw::{RawRecord, RawWrapper};
use crate::event::{normalize, Event, Interner, RecordError, RecordRules};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Where in a file a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// Index of the record in the file's array of records (0-based).
    Record(usize),
    /// Line number in a line-delimited file (1-based).
    Line(usize),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Record(i) => write!(f, "record {i}"),
            Location::Line(i) => write!(f, "line {i}"),
        }
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    Log,
    Digest,
    Empty,
    NotJson,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<Event>,
    /// Records seen, readable or not.
    pub records: usize,
    pub bad_records: Vec<(Location, String)>,
    /// Set when the text ends inside a record (a truncated file).
    pub truncated: bool,
    pub content: Option<Content>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Returns the end (exclusive) of the JSON value starting at `i`, or `None` when the text ends
/// first. Works on bytes: strings are skipped with their escapes, brackets are counted.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j += 1;
                loop {
                    // A backslash as the last byte leaves `j` past the end: the text ends inside
                    // the string.
                    let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
                    if b[k] == b'\\' {
                        j = k + 2;
                    } else {
                        j = k + 1;
                        break;
                    }
                }
                if depth == 0 {
                    return Some(j);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            b',' | b' ' | b'\n' | b'\r' | b'\t' if depth == 0 => return Some(j),
            _ => {}
        }
        j += 1;
    }
    // A bare scalar may end at the end of the text; a container may not.
    (depth == 0 && j > i).then_some(j)
}

thread_local! {
    /// Repeated text (ARNs, user agents, regions...) is shared by every event a worker thread
    /// reads, not only within one file: most files hold a few dozen events, so a per-file table
    /// would keep one copy of each string per file.
    static INTERNER: std::cell::RefCell<Interner> = std::cell::RefCell::new(Interner::default());
}

/// Entries after which a worker's table is started afresh, so it stays bounded on huge inputs.
const INTERNER_LIMIT: usize = 1 << 16;

/// Parses the JSON text of one object.
pub fn parse_text(text: &[u8]) -> Parsed {
    parse_text_with(text, None)
}

/// Parses the JSON text of one object; `rules`, when given, are judged on each record's own
/// JSON and their hits kept in [`Event::rule_hits`].
pub fn parse_text_with(text: &[u8], rules: Option<&dyn RecordRules>) -> Parsed {
    INTERNER.with(|cell| {
        let mut interner = cell.borrow_mut();
        if interner.len() > INTERNER_LIMIT {
            *interner = Interner::default();
        }
        let mut ctx = Ctx {
            interner: &mut interner,
            rules,
        };
        parse_with(text, &mut ctx)
    })
}

/// What every record of one text is read with.
struct Ctx<'a> {
    interner: &'a mut Interner,
    rules: Option<&'a dyn RecordRules>,
}

fn parse_with(text: &[u8], cx: &mut Ctx) -> Parsed {
    let mut out = Parsed::default();
    let mut b = text;
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        b = &b[3..];
    }
    let start = skip_ws(b, 0);
    if start == b.len() {
        out.content = Some(Content::Empty);
        return out;
    }
    match b[start] {
        b'[' => {
            out.content = Some(Content::Log);
            read_array(b, start, &mut out, cx);
        }
        b'{' => {
            if let Some(at) = records_array_start(b, start) {
                out.content = Some(Content::Log);
                read_array(b, at, &mut out, cx);
            } else {
                read_stream(b, start, &mut out, cx);
            }
        }
        _ => out.content = Some(Content::NotJson),
    }
    out
}

/// `{"Records": [` at `i`: returns the index of the `[`.
fn records_array_start(b: &[u8], i: usize) -> Option<usize> {
    let j = skip_ws(b, i + 1);
    let rest = b.get(j..)?;
    if !rest.starts_with(b"\"Records\"") {
        return None;
    }
    let j = skip_ws(b, j + 9);
    if b.get(j) != Some(&b':') {
        return None;
    }
    let j = skip_ws(b, j + 1);
    (b.get(j) == Some(&b'[')).then_some(j)
}

fn read_array(b: &[u8], open: usize, out: &mut Parsed, cx: &mut Ctx) {
    let mut i = skip_ws(b, open + 1);
    let mut index = 0usize;
    loop {
        if i >= b.len() {
            out.truncated = true;
            return;
        }
        if b[i] == b']' {
            return;
        }
        let Some(end) = scan_value(b, i) else {
            out.records += 1;
            out.truncated = true;
            out.bad_records.push((
                Location::Record(index),
                "record is cut off: the file ends inside it".into(),
            ));
            return;
        };
        out.records += 1;
        record(&b[i..end], Location::Record(index), out, cx);
        index += 1;
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b']') => return,
            None => {
                out.truncated = true;
                return;
            }
            Some(_) => {
                out.bad_records.push((
                    Location::Record(index),
                    format!("unexpected text after record {}", index - 1),
                ));
                return;
            }
        }
    }
}

/// NDJSON, or values one after another. Line-delimited text is read line by line, so a garbled
/// line costs only that line.
fn read_stream(b: &[u8], start: usize, out: &mut Parsed, cx: &mut Ctx) {
    let first_end = scan_value(b, start);
    // Line mode when the first value sits on one line and a newline follows it.
    let line_mode = match first_end {
        Some(end) => {
            let next = skip_ws(b, end);
            !b[start..end].contains(&b'\n') && (next == b.len() || b[end..next].contains(&b'\n'))
        }
        // The first value never closes: line-delimited if its first line looks like a whole record.
        None => {
            let line_end = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |n| start + n);
            b[start..line_end].trim_ascii_end().ends_with(b"}")
        }
    };
    if !line_mode {
        let mut i = start;
        let mut index = 0;
        while i < b.len() {
            let Some(end) = scan_value(b, i) else {
                out.records += 1;
                out.truncated = true;
                out.bad_records.push((
                    Location::Record(index),
                    "record is cut off: the file ends inside it".into(),
                ));
                break;
            };
            out.records += 1;
            record(&b[i..end], Location::Record(index), out, cx);
            index += 1;
            i = skip_ws(b, end);
            if b.get(i) == Some(&b',') {
                i = skip_ws(b, i + 1);
            }
        }
    } else {
        let ends_with_newline = b.last() == Some(&b'\n');
        let lines: Vec<&[u8]> = b.split(|&c| c == b'\n').collect();
        let last = lines.len().saturating_sub(1);
        for (n, line) in lines.into_iter().enumerate() {
            let s = skip_ws(line, 0);
            if s == line.len() {
                continue;
            }
            out.records += 1;
            let cut = n == last && !ends_with_newline && scan_value(line, s).is_none();
            if cut {
                out.truncated = true;
                out.bad_records.push((
                    Location::Line(n + 1),
                    "record is cut off: the file ends inside it".into(),
                ));
                continue;
            }
            record(line, Location::Line(n + 1), out, cx);
        }
    }
    if out.content.is_none() {
        out.content = Some(
            if out.events.is_empty() && out.records > 0 && out.bad_records.len() == out.records {
                Content::NotJson
            } else {
                Content::Log
            },
        );
    }
}

/// The byte ranges of the records of a `{"Records": [...]}` document or a top-level array, as
/// the scanner finds them, nothing parsed; empty for other shapes. The bench times this step
/// on its own.
pub fn split_records(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let start = skip_ws(text, 0);
    let open = match text.get(start) {
        Some(b'[') => start,
        Some(b'{') => match records_array_start(text, start) {
            Some(at) => at,
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut i = skip_ws(text, open + 1);
    while i < text.len() && text[i] != b']' {
        let Some(end) = scan_value(text, i) else {
            break;
        };
        out.push(i..end);
        i = skip_ws(text, end);
        if text.get(i) != Some(&b',') {
            break;
        }
        i = skip_ws(text, i + 1);
    }
    out
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

fn record(bytes: &[u8], at: Location, out: &mut Parsed, cx: &mut Ctx) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim(),
        Err(e) => {
            out.bad_records.push((
                at,
                format!("invalid UTF-8 at byte {} of the record", e.valid_up_to()),
            ));
            return;
        }
    };
    if !text.starts_with('{') {
        let shown: String = text.chars().take(40).collect();
        out.bad_records
            .push((at, format!("record is not a JSON object: `{shown}`")));
        return;
    }
    let raw: RawRecord = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            out.bad_records.push((at, format!("not valid JSON: {e}")));
            return;
        }
    };
    if raw.event_time.get().is_some() {
        accept(&raw, text, at, out, cx);
        return;
    }
    // No eventTime: a wrapper, a document, a digest, or a record that is missing its time.
    let wrapper: RawWrapper = serde_json::from_str(text).unwrap_or_default();
    if wrapper.digest_start_time.is_some() {
        if out.records <= 1 {
            out.content = Some(Content::Digest);
        }
        return;
    }
    if let Some(inner) = wrapper.cloudtrail_event.get() {
        match serde_json::from_str::<RawRecord>(inner) {
            Ok(r) => accept(&r, inner, at, out, cx),
            Err(e) => out
                .bad_records
                .push((at, format!("CloudTrailEvent is not valid JSON: {e}"))),
        }
        return;
    }
    for inner in [wrapper.detail, wrapper.event].into_iter().flatten() {
        if let Ok(r) = serde_json::from_str::<RawRecord>(inner.get()) {
            if r.event_time.get().is_some() {
                accept(&r, inner.get(), at, out, cx);
                return;
            }
        }
    }
    // SIEM and log-platform exports (Splunk, Elastic, Cloud Logging, Sentinel, CloudTrail Lake).
    if let Some(inner) = super::siem::unwrap(text) {
        out.records -= 1;
        for r in inner {
            out.records += 1;
            match r {
                Ok(rec) => record(rec.as_bytes(), at, out, cx),
                Err(e) => out.bad_records.push((at, e)),
            }
        }
        return;
    }
    if let Ok(doc) = serde_json::from_str::<Doc>(text) {
        out.records -= 1;
        for (i, r) in doc.records.into_iter().enumerate() {
            out.records += 1;
            record(r.get().as_bytes(), Location::Record(i), out, cx);
        }
        return;
    }
    out.bad_records
        .push((at, RecordError::MissingEventTime.to_string()));
}

/// Normalizes a record (`text` is its own JSON) and judges the record rules on it.
fn accept(raw: &RawRecord, text: &str, at: Location, out: &mut Parsed, cx: &mut Ctx) {
    let mut r = normalize(raw, cx.interner);
    if let (Ok(e), Some(rules)) = (&mut r, cx.rules) {
        e.rule_hits = rules.matching(text, e);
    }
    push(r, at, out);
}

fn push(r: Result<Event, RecordError>, at: Location, out: &mut Parsed) {
    match r {
        Ok(e) => out.events.push(e),
        Err(e) => out.bad_records.push((at, e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"eventTime":"2020-01-01T00:00:00Z","eventID":"a","eventName":"X"}"#;

    fn names(p: &Parsed) -> Vec<String> {
        p.events
            .iter()
            .map(|e| e.event_id.as_deref().unwrap_or("-").to_string())
            .collect()
    }

    #[test]
    fn records_document() {
        let t = format!(r#"{{"Records":[{REC},{}]}}"#, REC.replace("\"a\"", "\"b\""));
        let p = parse_text(t.as_bytes());
        assert_eq!(names(&p), ["a", "b"]);
        assert_eq!(p.content, Some(Content::Log));
    }

    #[test]
    fn top_level_array_and_ndjson() {
        let p = parse_text(format!("[{REC}, {REC}]").as_bytes());
        assert_eq!(p.events.len(), 2);
        let p = parse_text(format!("{REC}\n\n{REC}\n").as_bytes());
        assert_eq!(p.events.len(), 2);
        assert!(p.bad_records.is_empty());
    }

    #[test]
    fn lookup_events_form() {
        let inner = serde_json::to_string(REC).unwrap();
        let t = format!(r#"{{"EventId":"a","EventName":"X","CloudTrailEvent":{inner}}}"#);
        let p = parse_text(t.as_bytes());
        assert_eq!(names(&p), ["a"]);
    }

    #[test]
    fn garbled_line_costs_only_itself() {
        let t = format!("{REC}\n{{\"eventTime\": oops\n{REC}\n");
        let p = parse_text(t.as_bytes());
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.bad_records.len(), 1);
        assert_eq!(p.bad_records[0].0, Location::Line(2));
    }

    #[test]
    fn truncated_document_keeps_complete_records() {
        let t = format!(r#"{{"Records":[{REC},{REC},{{"eventTime":"2020-01-0"#);
        let p = parse_text(t.as_bytes());
        assert_eq!(p.events.len(), 2);
        assert!(p.truncated);
        assert_eq!(p.bad_records[0].0, Location::Record(2));
    }

    #[test]
    fn records_that_are_not_objects_or_lack_time() {
        let t = format!(r#"{{"Records":[{REC}, 42, "x", {{"eventName":"NoTime"}}]}}"#);
        let p = parse_text(t.as_bytes());
        assert_eq!(p.events.len(), 1);
        let reasons: Vec<_> = p
            .bad_records
            .iter()
            .map(|(l, r)| format!("{l}: {r}"))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons[2].contains("record 3: record has no eventTime"),
            "{reasons:?}"
        );
    }

    #[test]
    fn invalid_utf8_costs_only_its_record() {
        let mut t = format!("[{REC},").into_bytes();
        t.extend_from_slice(
            b"{\"eventTime\":\"2020-01-01T00:00:00Z\",\"eventName\":\"\xff\xfe\"},",
        );
        t.extend_from_slice(REC.as_bytes());
        t.push(b']');
        let p = parse_text(&t);
        assert_eq!(p.events.len(), 2);
        assert!(p.bad_records[0].1.contains("invalid UTF-8"));
    }

    #[test]
    fn a_backslash_ending_the_text_is_a_cut_off_record() {
        // Found by `trailhound fuzz` (seed 1, input 17675): the scanner stepped past the end.
        for t in [
            &b"[{\"a\":\"x\\"[..],
            b"{\"a\":\"\\",
            b"\"\\",
            b"{\"Records\":[{\"k\":\"\\",
        ] {
            let p = parse_text(t);
            assert!(p.events.is_empty());
        }
        let p = parse_text(format!("[{REC},{{\"eventName\":\"x\\").as_bytes());
        assert_eq!(p.events.len(), 1);
        assert!(p.truncated);
    }

    #[test]
    fn empty_and_not_json() {
        assert_eq!(parse_text(b"  \n").content, Some(Content::Empty));
        assert_eq!(parse_text(b"hello world").content, Some(Content::NotJson));
        assert_eq!(parse_text(b"\xEF\xBB\xBF[]").content, Some(Content::Log));
    }

    #[test]
    fn digest_is_recognised() {
        let p = parse_text(
            br#"{"awsAccountId":"1","digestStartTime":"2020-01-01T00:00:00Z","logFiles":[]}"#,
        );
        assert_eq!(p.content, Some(Content::Digest));
        assert!(p.events.is_empty() && p.bad_records.is_empty());
    }
}
