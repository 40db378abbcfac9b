//! JSON text of one log object -> events, and a problem for every record that could not be read.
//!
//! Shapes accepted: CloudTrail's `{"Records": [...]}` delivery document, a top-level JSON array of
//! records, and one record per line (NDJSON) or concatenated records. A record may be wrapped:
//! the LookupEvents form (`CloudTrailEvent` holding the record as a JSON string), EventBridge
//! (`detail`) or exports that put it under `event`; SIEM exports are unwrapped by [`super::siem`].
//!
//! A record without `eventTime` but with `@timestamp` (Logstash and Elastic exports put the
//! CloudTrail fields at the top level beside `@timestamp` and `@version`) takes `@timestamp` as
//! its time, once every wrapper and export form has been ruled out.
//!
//! Fast path: an array of records (`{"Records": [...]}` or a top-level array) is read in one
//! pass, each record straight into the borrowed [`RawRecord`] view and normalized at once,
//! nothing copied or scanned twice: by the hand-written scanner ([`crate::event::scan`]: keys
//! matched on their bytes, documents and unkept values skipped and checked, never
//! deserialized) where the text is in the plain form CloudTrail writes, else by serde. The first thing that pass does not expect (invalid UTF-8
//! anywhere in the text, a syntax error, a cut-off file, an element that is not an object or has
//! no readable `eventTime`) drops its result and the file is read again record by record: split
//! by a small structural scanner, each record parsed on its own, so one bad record (invalid
//! UTF-8, not an object, no eventTime, cut off by truncation) costs only itself, and the events
//! and problems are exactly those the record-by-record reading gives.

use crate::event::raw::{read_record, value_end, RawRecord, RawWrapper};
use crate::event::{normalize_columns, Columns, Event, Interner, RecordError, RecordRules};
use serde::de::{self, DeserializeSeed, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Where in a file a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// Index of the record in the file's array of records (0-based).
    Record(usize),
    /// Line number in a line-delimited file (1-based).
    Line(usize),
    /// Data row of a CSV export (1-based, the header row not counted).
    Row(usize),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Record(i) => write!(f, "record {i}"),
            Location::Line(i) => write!(f, "line {i}"),
            Location::Row(i) => write!(f, "row {i}"),
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
    /// JSON, but no CloudTrail record in it (no record has an `eventTime` or `@timestamp`, and
    /// no wrapper or export form holds one).
    NoRecords,
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
    /// Why a file that is no log as a whole cannot be read, when more is known than "not JSON".
    pub failure: Option<String>,
    /// Records that were JSON objects (readable or not as CloudTrail records): tells a file of
    /// JSON that holds no record from one that is not JSON.
    pub objects: usize,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
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
    parse_mode(text, true, None, Columns::ALL)
}

/// Parses like [`parse_text`] without the one-pass fast path: every record is split out and
/// parsed on its own. Gives the same result; the fuzz harness checks that it does.
pub fn parse_text_record_by_record(text: &[u8]) -> Parsed {
    parse_mode(text, false, None, Columns::ALL)
}

/// Parses like [`parse_text`], filling only the columns in `columns` of each event (see
/// [`Columns`]): the events are [`Columns::project`] of [`parse_text`]'s, and the records,
/// problems and counts are the same. `fast: false` reads record by record, as
/// [`parse_text_record_by_record`].
pub fn parse_text_columns(text: &[u8], columns: Columns, fast: bool) -> Parsed {
    parse_mode(text, fast, None, columns)
}

/// Parses the JSON text of one object, filling the columns in `columns`; `rules`, when given,
/// are judged on each record's own JSON and their hits kept in [`Event::rule_hits`] (records
/// are then split out one by one: the one-pass path keeps no record's text).
pub fn parse_text_with(text: &[u8], rules: Option<&dyn RecordRules>, columns: Columns) -> Parsed {
    parse_mode(text, rules.is_none(), rules, columns)
}

fn parse_mode(
    text: &[u8],
    fast: bool,
    rules: Option<&dyn RecordRules>,
    columns: Columns,
) -> Parsed {
    INTERNER.with(|cell| {
        let mut interner = cell.borrow_mut();
        if interner.len() > INTERNER_LIMIT {
            *interner = Interner::default();
        }
        let mut ctx = Ctx {
            interner: &mut interner,
            rules,
            columns,
        };
        parse_with(text, &mut ctx, fast)
    })
}

/// What every record of one text is read with.
struct Ctx<'a> {
    interner: &'a mut Interner,
    rules: Option<&'a dyn RecordRules>,
    columns: Columns,
}

fn parse_with(text: &[u8], cx: &mut Ctx, fast: bool) -> Parsed {
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
            if !(fast && read_array_fast(b, start, &mut out, cx)) {
                read_array(b, start, &mut out, cx);
            }
        }
        b'{' => {
            if let Some(at) = records_array_start(b, start) {
                out.content = Some(Content::Log);
                if !(fast && read_array_fast(b, at, &mut out, cx)) {
                    read_array(b, at, &mut out, cx);
                }
            } else {
                read_stream(b, start, &mut out, cx);
            }
        }
        _ if super::siem::is_sentinel_csv(b) => read_sentinel_csv(b, &mut out, cx),
        // A lone string, number, true/false/null: JSON, but no record.
        _ if serde_json::from_slice::<de::IgnoredAny>(b).is_ok() => {
            out.content = Some(Content::NoRecords)
        }
        _ => out.content = Some(Content::NotJson),
    }
    out
}

/// A Sentinel `AWSCloudTrail` CSV export: each row read as a record, problems named by row.
fn read_sentinel_csv(b: &[u8], out: &mut Parsed, cx: &mut Ctx) {
    let each = |row: usize, rec: super::siem::Unwrapped| {
        out.records += 1;
        match rec {
            Ok(text) => record(text.as_bytes(), Location::Row(row), out, cx),
            Err(e) => out.bad_records.push((Location::Row(row), e)),
        }
    };
    match super::siem::sentinel_csv(b, each) {
        Err(why) => {
            out.content = Some(Content::NotJson);
            out.failure = Some(why);
        }
        Ok(truncated) => {
            out.content = Some(Content::Log);
            out.truncated = truncated;
        }
    }
}

/// Reads the array whose `[` is at `open` in one pass (see the module notes): the hand-written
/// scanner ([`crate::event::scan`]) first, serde where the scanner gives up. Returns false,
/// with `out` as it was, when any part of it is not a plain, readable record: the caller then
/// reads it record by record.
fn read_array_fast(b: &[u8], open: usize, out: &mut Parsed, cx: &mut Ctx) -> bool {
    let (interner, columns) = (&mut *cx.interner, cx.columns);
    // One check of the whole rest of the text; records are then borrowed as `str` from it.
    let Some(text) = b.get(open..).and_then(|t| std::str::from_utf8(t).ok()) else {
        return false;
    };
    let before = out.events.len();
    // Room for the records a text this long usually holds (CloudTrail records run 1-2 KB), so
    // that the events are not copied as the vector grows.
    out.events.reserve(text.len() / 1024 + 1);
    for pass in [Pass::Scan, Pass::Serde] {
        let events = &mut out.events;
        let read = records_in(text, pass, &mut |raw| match normalize_columns(
            &raw, interner, columns,
        ) {
            Ok(e) => {
                events.push(e);
                true
            }
            Err(_) => false,
        });
        if let Some(n) = read {
            out.records += n;
            out.objects += n;
            return true;
        }
        out.events.truncate(before);
    }
    false
}

/// How a one-pass read reads the records.
#[derive(Clone, Copy)]
enum Pass {
    /// The hand-written scanner: the plain form only.
    Scan,
    /// serde_json: any valid JSON.
    Serde,
}

/// Gives `each` every record of the array that starts `text`, in one pass, and returns how
/// many there were; `None` as soon as something is not a plain record with an `eventTime`,
/// the pass gives up, or `each` returns false: records given before that are to be dropped.
fn records_in<'a>(
    text: &'a str,
    pass: Pass,
    each: &mut dyn FnMut(RawRecord<'a>) -> bool,
) -> Option<usize> {
    let mut each = |r: RawRecord<'a>| {
        // Records without eventTime may be wrappers, exports or digests: the slow path tells
        // them apart.
        r.event_time.get().is_some() && each(r)
    };
    match pass {
        Pass::Scan => crate::event::scan::each_record(text, 0, &mut each),
        Pass::Serde => {
            let mut de = serde_json::Deserializer::from_str(text);
            // Text after the closing `]` is not looked at, as in `read_array`.
            (&mut de)
                .deserialize_seq(FastRecords {
                    each: &mut each,
                    read: 0,
                })
                .ok()
        }
    }
}

/// The records of a `{"Records": [...]}` document or a top-level array as borrowed views, read
/// by the one-pass fast path (`serde`: by serde, not the scanner), nothing normalized; `None`
/// where that path gives up. The bench times this step on its own.
pub fn raw_records(text: &[u8], serde: bool) -> Option<Vec<RawRecord<'_>>> {
    let start = skip_ws(text, 0);
    let open = match text.get(start)? {
        b'[' => start,
        b'{' => records_array_start(text, start)?,
        _ => return None,
    };
    let text = std::str::from_utf8(text.get(open..)?).ok()?;
    let mut all = Vec::new();
    let pass = if serde { Pass::Serde } else { Pass::Scan };
    records_in(text, pass, &mut |r| {
        all.push(r);
        true
    })?;
    Some(all)
}

/// Visits the array of records: each element is read as an object into [`RawRecord`] and given
/// to `each`; anything else stops the pass with an error.
struct FastRecords<'o, 'a> {
    each: &'o mut dyn FnMut(RawRecord<'a>) -> bool,
    read: usize,
}

impl<'a> Visitor<'a> for FastRecords<'_, 'a> {
    type Value = usize;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'a>>(mut self, mut seq: A) -> Result<usize, A::Error> {
        while let Some(raw) = seq.next_element_seed(ObjectRecord)? {
            if !(self.each)(raw) {
                return Err(de::Error::custom("not a plain record"));
            }
            self.read += 1;
        }
        Ok(self.read)
    }
}

/// One element of the array as a [`RawRecord`], only if it is a JSON object (serde would also
/// take an array for a struct).
struct ObjectRecord;

impl<'de> DeserializeSeed<'de> for ObjectRecord {
    type Value = RawRecord<'de>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawRecord<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectRecord {
    type Value = RawRecord<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail record (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<RawRecord<'de>, A::Error> {
        RawRecord::deserialize(de::value::MapAccessDeserializer::new(m))
    }
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
        let Some(end) = value_end(b, i, false) else {
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
    let first_end = value_end(b, start, false);
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
            let Some(end) = value_end(b, i, false) else {
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
            let cut = n == last && !ends_with_newline && value_end(line, s, false).is_none();
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
                if out.objects > 0 {
                    Content::NoRecords
                } else {
                    Content::NotJson
                }
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
        let Some(end) = value_end(text, i, false) else {
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
    let raw: RawRecord = match read_record(text) {
        Ok(r) => r,
        Err(e) => {
            out.bad_records.push((at, format!("not valid JSON: {e}")));
            return;
        }
    };
    out.objects += 1;
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
        match read_record(inner) {
            Ok(r) => accept(&r, inner, at, out, cx),
            Err(e) => out
                .bad_records
                .push((at, format!("CloudTrailEvent is not valid JSON: {e}"))),
        }
        return;
    }
    for inner in [wrapper.detail, wrapper.event].into_iter().flatten() {
        if let Ok(r) = read_record(inner.get()) {
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
    // Logstash and Elastic exports: the record's fields at the top, its time in `@timestamp`.
    if raw.at_timestamp.get().is_some() {
        accept(&raw, text, at, out, cx);
        return;
    }
    out.bad_records
        .push((at, RecordError::MissingEventTime.to_string()));
}

/// Normalizes a record (`text` is its own JSON) and judges the record rules on it.
fn accept(raw: &RawRecord, text: &str, at: Location, out: &mut Parsed, cx: &mut Ctx) {
    let mut r = normalize_columns(raw, cx.interner, cx.columns);
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
    fn logstash_records_take_their_time_from_at_timestamp() {
        let t = concat!(
            r#"{"@timestamp":"2024-07-31T13:06:24.000Z","@version":"1","host":"ls","eventID":"a","eventName":"StopLogging"}"#,
            "\n",
            // eventTime wins over @timestamp (the time Logstash read the record, unless a date
            // filter set it).
            r#"{"@timestamp":"2024-08-01T00:00:00.000Z","eventTime":"2024-07-31T12:46:41Z","eventID":"b"}"#,
            "\n",
        );
        let p = parse_text(t.as_bytes());
        assert!(p.bad_records.is_empty(), "{:?}", p.bad_records);
        let times: Vec<String> = p
            .events
            .iter()
            .map(|e| crate::event::format_iso(e.event_time))
            .collect();
        assert_eq!(times, ["2024-07-31T13:06:24Z", "2024-07-31T12:46:41Z"]);
        assert_eq!(p.content, Some(Content::Log));
    }

    #[test]
    fn json_without_records_is_told_apart_from_text_that_is_not_json() {
        for t in [
            &br#"{"name":"x","count":2}"#[..],
            b"{\"a\":1}\n{\"b\":2}\n",
            b"{\n  \"pretty\": true\n}\n",
            b"\"just a string\"",
            b"42\n",
        ] {
            let p = parse_text(t);
            assert_eq!(
                p.content,
                Some(Content::NoRecords),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
        for t in [
            &b"hello world"[..],
            b"{not json\n{either\n",
            b"<html></html>",
        ] {
            let p = parse_text(t);
            assert_eq!(
                p.content,
                Some(Content::NotJson),
                "{}",
                String::from_utf8_lossy(t)
            );
        }
    }

    /// The outcome of both ways of reading, for comparison.
    fn both(t: &[u8]) -> (Parsed, Parsed) {
        (parse_text(t), parse_text_record_by_record(t))
    }

    fn same(a: &Parsed, b: &Parsed) -> bool {
        a.events == b.events
            && a.bad_records == b.bad_records
            && (a.records, a.objects, a.truncated, a.content)
                == (b.records, b.objects, b.truncated, b.content)
    }

    #[test]
    fn the_one_pass_path_gives_what_record_by_record_gives() {
        let good = format!(r#"{{"Records":[{REC},{}]}}"#, REC.replace("\"a\"", "\"b\""));
        let cases = [
            good.clone(),
            format!("[{REC}, {REC}]"),
            // Each of these makes the one-pass path give up on the file.
            format!(r#"{{"Records":[{REC}, 42, {{"eventName":"NoTime"}}]}}"#),
            format!(r#"{{"Records":[{REC}, [1, 2], {REC},]}}"#),
            format!(r#"{{"Records":[{REC}, {{"eventTime":"noon"}}]}}"#),
            format!(
                r#"{{"Records":[{REC}, {{"CloudTrailEvent":{}}}]}}"#,
                serde_json::to_string(REC).unwrap()
            ),
            format!(
                r#"{{"Records":[{REC}, {{"eventTime":"2020-01-01T00:00:00Z","eventTime":"x"}}]}}"#
            ),
            format!(r#"{{"Records":[{REC},{REC},{{"eventTime":"2020-01-0"#),
            format!(r#"[{REC}, {{"@timestamp":"2020-01-01T00:00:00Z"}}] trailing"#),
        ];
        for t in &cases {
            let (fast, slow) = both(t.as_bytes());
            assert!(same(&fast, &slow), "{t}:\n{fast:?}\n{slow:?}");
        }
        let (fast, _) = both(good.as_bytes());
        assert_eq!(fast.events.len(), 2);
        // Invalid UTF-8 anywhere sends the file record by record.
        let mut t = format!("[{REC},").into_bytes();
        t.extend_from_slice(b"{\"eventTime\":\"2020-01-01T00:00:00Z\",\"x\":\"\xff\"}]");
        let (fast, slow) = both(&t);
        assert!(same(&fast, &slow) && fast.events.len() == 1 && fast.bad_records.len() == 1);
    }

    /// Runs `check` on the decoded text of every fixture file (the sample logs, the public
    /// datasets, the SIEM exports); returns how many there were.
    fn each_fixture(mut check: impl FnMut(&std::path::Path, &[u8])) -> usize {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = 0;
        for dir in [
            "sample-logs",
            "tests/fixtures/datasets",
            "tests/fixtures/siem",
        ] {
            for entry in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
                let entry = entry.unwrap();
                if !entry.file_type().is_file() {
                    continue;
                }
                let bytes = std::fs::read(entry.path()).unwrap();
                let text = crate::ingest::decode::decode(bytes).bytes;
                check(entry.path(), &text);
                files += 1;
            }
        }
        files
    }

    #[test]
    fn the_one_pass_path_agrees_on_every_fixture() {
        let files = each_fixture(|path, text| {
            let (fast, slow) = both(text);
            assert!(same(&fast, &slow), "{}", path.display());
        });
        assert!(files > 50, "{files} files");
    }

    /// The projected read of `t` against the full read: the events are the full read's
    /// projected, and everything else is the same.
    fn projected_as_full(t: &[u8], columns: Columns, fast: bool) -> Result<(), String> {
        let full = parse_text(t);
        let p = parse_text_columns(t, columns, fast);
        let want: Vec<Event> = full.events.iter().map(|e| columns.project(e)).collect();
        if p.events != want {
            return Err(format!("events differ:\n{:?}\n{:?}", p.events, want));
        }
        if p.bad_records != full.bad_records {
            return Err(format!(
                "problems differ:\n{:?}\n{:?}",
                p.bad_records, full.bad_records
            ));
        }
        if (p.records, p.objects, p.truncated, p.content, &p.failure)
            != (
                full.records,
                full.objects,
                full.truncated,
                full.content,
                &full.failure,
            )
        {
            return Err("counts differ".into());
        }
        Ok(())
    }

    fn some_projections() -> [Columns; 6] {
        use crate::event::columns::{INGEST, STS};
        [
            crate::summary::COLUMNS.union(INGEST),
            Columns::NONE,
            Columns::named(&["user_agent", "request_parameters", "session_issuer_arn"]),
            Columns::named(&["issued_access_key_id", "account_id"]),
            STS,
            Columns::ALL,
        ]
    }

    #[test]
    fn a_projected_read_gives_the_full_reads_values_on_its_columns_on_every_fixture() {
        let mut events = 0;
        let files = each_fixture(|path, text| {
            for columns in some_projections() {
                for fast in [true, false] {
                    if let Err(why) = projected_as_full(text, columns, fast) {
                        panic!("{} {columns:?} fast {fast}: {why}", path.display());
                    }
                }
            }
            events += parse_text(text).events.len();
        });
        assert!(
            files > 50 && events > 1000,
            "{files} files, {events} events"
        );
    }

    #[test]
    fn a_record_the_full_read_rejects_the_projected_read_rejects_with_the_same_words() {
        // Each fails in a field summary does not read.
        let bad = [
            // A lone surrogate in a string (serde rejects it in a string it reads).
            r#"{"eventTime":"2020-01-01T00:00:00Z","userAgent":"\ud800x"}"#,
            // A repeated key.
            r#"{"eventTime":"2020-01-01T00:00:00Z","userAgent":"a","userAgent":"b"}"#,
            r#"{"eventTime":"2020-01-01T00:00:00Z","requestParameters":{},"requestParameters":null}"#,
            // Broken JSON inside a document.
            r#"{"eventTime":"2020-01-01T00:00:00Z","requestParameters":{"a" 1}}"#,
            r#"{"eventTime":"2020-01-01T00:00:00Z","responseElements":{"a":"\x"}}"#,
            // An identity serde cannot read.
            r#"{"eventTime":"2020-01-01T00:00:00Z","userIdentity":{"userName":"a","userName":"b"}}"#,
        ];
        let summary = crate::summary::COLUMNS.union(crate::event::columns::INGEST);
        for b in bad {
            for t in [
                format!(r#"{{"Records":[{REC},{b},{REC}]}}"#),
                format!("{REC}\n{b}\n{REC}\n"),
            ] {
                let full = parse_text(t.as_bytes());
                assert_eq!((full.events.len(), full.bad_records.len()), (2, 1), "{t}");
                for columns in some_projections() {
                    for fast in [true, false] {
                        if let Err(why) = projected_as_full(t.as_bytes(), columns, fast) {
                            panic!("{t} {columns:?} fast {fast}: {why}");
                        }
                    }
                }
                let p = parse_text_columns(t.as_bytes(), summary, true);
                assert_eq!(p.bad_records, full.bad_records);
            }
        }
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
