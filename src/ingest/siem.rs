//! SIEM and log-platform exports -> CloudTrail records, recognised by content.
//!
//! Takes one JSON object that is not a CloudTrail record (no `eventTime`) nor one of CloudTrail's
//! own wrappers, and returns the CloudTrail records it holds as JSON text (each then read like any
//! record, so a record wrapped twice is unwrapped twice), or why one of them cannot be read:
//!
//! - Splunk: the record as a string in `_raw`, at the top (`| table _raw` exports), under
//!   `result` (the NDJSON of `export` / "Export results as JSON") or in `results` (search
//!   results as one JSON document).
//! - Elastic: the record as a string in `event.original` (nested or as a dotted key), at the top
//!   or under `_source`; a search response's `hits.hits`.
//! - Google Cloud Logging: the record as the entry's `jsonPayload` (or as a string in
//!   `jsonPayload.message`).
//! - Microsoft Sentinel: rows of the `AWSCloudTrail` table (JSON, or CSV: [`sentinel_csv`]),
//!   columns mapped back to CloudTrail's fields by [`SENTINEL`]; times without a zone are UTC;
//!   a CSV file's `dd/mm/yyyy` or `mm/dd/yyyy` dates are read in the order the whole file
//!   settles (a day above 12), never guessed.
//! - CloudTrail Lake: query results (`QueryResultRows`, as GetQueryResults and the console return
//!   them): each row's columns become the record's fields; Lake's times (`2026-03-02
//!   10:00:00.000`, UTC) become ISO 8601; struct and map columns given as JSON or in Lake's
//!   `{key=value, ...}` form become objects.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// One record's JSON text, or why a recognised export holds no readable record there.
pub type Unwrapped = Result<String, String>;

/// Keys whose presence makes a text worth parsing as an export (a cheap test before parsing).
const MARKERS: [&str; 7] = [
    "\"_raw\"",
    "\"original\"",
    "\"event.original\"",
    "\"jsonPayload\"",
    "\"TimeGenerated\"",
    "\"QueryResultRows\"",
    "\"hits\"",
];

/// The records an export object holds; `None` when `text` is no export trailhound knows.
pub fn unwrap(text: &str) -> Option<Vec<Unwrapped>> {
    if !MARKERS.iter().any(|m| text.contains(m)) {
        return None;
    }
    let v: Value = serde_json::from_str(text).ok()?;
    from_value(&v)
}

fn from_value(v: &Value) -> Option<Vec<Unwrapped>> {
    let o = v.as_object()?;
    if o.contains_key("eventTime") {
        return Some(vec![Ok(v.to_string())]);
    }
    // Splunk.
    if let Some(raw) = o.get("_raw") {
        return Some(vec![record_text(raw, "Splunk _raw")]);
    }
    if let Some(r) = o.get("result").filter(|r| r.get("_raw").is_some()) {
        return from_value(r);
    }
    if let Some(Value::Array(rs)) = o.get("results") {
        if rs.iter().any(|r| r.get("_raw").is_some()) {
            return Some(many(rs, "Splunk result"));
        }
    }
    // Elastic.
    if let Some(s) = o.get("_source") {
        return from_value(s);
    }
    if let Some(Value::Array(hs)) = o.get("hits").and_then(|h| h.get("hits")) {
        return Some(many(hs, "Elastic hit"));
    }
    if let Some(orig) = o
        .get("event")
        .and_then(|e| e.get("original"))
        .or_else(|| o.get("event.original"))
    {
        return Some(vec![record_text(orig, "Elastic event.original")]);
    }
    // Google Cloud Logging.
    if let Some(p) = o.get("jsonPayload") {
        if p.get("eventTime").is_some() {
            return Some(vec![Ok(p.to_string())]);
        }
        if let Some(m) = p.get("message") {
            return Some(vec![record_text(m, "jsonPayload.message")]);
        }
        return Some(vec![Err(
            "Cloud Logging entry: jsonPayload holds no CloudTrail record".into(),
        )]);
    }
    // CloudTrail Lake.
    if let Some(Value::Array(rows)) = o.get("QueryResultRows") {
        return Some(rows.iter().map(lake_row).collect());
    }
    // Microsoft Sentinel.
    if o.contains_key("TimeGenerated")
        && (o.get("Type").and_then(Value::as_str) == Some("AWSCloudTrail")
            || o.contains_key("AwsEventId")
            || o.contains_key("EventSource"))
    {
        return Some(vec![sentinel(o)]);
    }
    None
}

fn many(items: &[Value], what: &str) -> Vec<Unwrapped> {
    items
        .iter()
        .flat_map(|i| {
            from_value(i).unwrap_or_else(|| vec![Err(format!("{what} holds no CloudTrail record"))])
        })
        .collect()
}

/// A record given as JSON text (or, by some exporters, already as an object).
fn record_text(v: &Value, what: &str) -> Unwrapped {
    match v {
        Value::String(s) if s.trim_start().starts_with('{') => Ok(s.trim().to_string()),
        Value::Object(_) => Ok(v.to_string()),
        _ => Err(format!("{what} is not a JSON record")),
    }
}

/// `2026-03-02 10:00:00.000` or `2026-03-02T10:00:00` (UTC, no zone) -> ISO 8601 with `Z`;
/// times with a zone are kept.
fn iso_utc(s: &str) -> String {
    let s = s.trim();
    let t = if s.len() > 10 && s.as_bytes()[10] == b' ' {
        format!("{}T{}", &s[..10], &s[11..])
    } else {
        s.to_string()
    };
    let time_part = t.get(11..).unwrap_or("");
    let has_zone =
        t.ends_with('Z') || t.ends_with('z') || time_part.contains('+') || time_part.contains('-');
    if has_zone {
        t
    } else {
        format!("{t}Z")
    }
}

/// Sets `path` (`a.b.c`) in `o`, creating objects on the way.
fn set_path(o: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            o.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let child = o
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(c) = child {
                set_path(c, rest, v);
            }
        }
    }
}

/// The `AWSCloudTrail` table's columns and the CloudTrail fields they hold (Microsoft's table
/// reference). JSON columns (`RequestParameters`, ...) hold JSON text; `TlsVersion`,
/// `CipherSuite` and `ClientProvidedHostHeader` are `tlsDetails`.
pub const SENTINEL: [(&str, &str); 42] = [
    ("TimeGenerated", "eventTime"),
    ("EventVersion", "eventVersion"),
    ("EventSource", "eventSource"),
    ("EventName", "eventName"),
    ("AWSRegion", "awsRegion"),
    ("SourceIpAddress", "sourceIPAddress"),
    ("UserAgent", "userAgent"),
    ("ErrorCode", "errorCode"),
    ("ErrorMessage", "errorMessage"),
    ("RequestParameters", "requestParameters"),
    ("ResponseElements", "responseElements"),
    ("AdditionalEventData", "additionalEventData"),
    ("Resources", "resources"),
    ("ServiceEventDetails", "serviceEventDetails"),
    ("AwsEventId", "eventID"),
    ("AwsRequestId_", "requestID"),
    ("AwsRequestId", "requestID"),
    ("EventTypeName", "eventType"),
    ("APIVersion", "apiVersion"),
    ("ReadOnly", "readOnly"),
    ("ManagementEvent", "managementEvent"),
    ("RecipientAccountId", "recipientAccountId"),
    ("SharedEventId", "sharedEventID"),
    ("VpcEndpointId", "vpcEndpointId"),
    ("Category", "eventCategory"),
    ("TlsVersion", "tlsDetails.tlsVersion"),
    ("CipherSuite", "tlsDetails.cipherSuite"),
    (
        "ClientProvidedHostHeader",
        "tlsDetails.clientProvidedHostHeader",
    ),
    ("UserIdentityType", "userIdentity.type"),
    ("UserIdentityPrincipalid", "userIdentity.principalId"),
    ("UserIdentityArn", "userIdentity.arn"),
    ("UserIdentityAccountId", "userIdentity.accountId"),
    ("UserIdentityAccessKeyId", "userIdentity.accessKeyId"),
    ("UserIdentityUserName", "userIdentity.userName"),
    ("UserIdentityInvokedBy", "userIdentity.invokedBy"),
    (
        "SessionMfaAuthenticated",
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
    ),
    (
        "SessionCreationDate",
        "userIdentity.sessionContext.attributes.creationDate",
    ),
    (
        "SessionIssuerType",
        "userIdentity.sessionContext.sessionIssuer.type",
    ),
    (
        "SessionIssuerPrincipalId",
        "userIdentity.sessionContext.sessionIssuer.principalId",
    ),
    (
        "SessionIssuerArn",
        "userIdentity.sessionContext.sessionIssuer.arn",
    ),
    (
        "SessionIssuerAccountId",
        "userIdentity.sessionContext.sessionIssuer.accountId",
    ),
    (
        "SessionIssuerUserName",
        "userIdentity.sessionContext.sessionIssuer.userName",
    ),
];

/// CloudTrail fields that are JSON objects, given as JSON text by Sentinel and Lake.
const JSON_FIELDS: [&str; 5] = [
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "resources",
    "serviceEventDetails",
];

fn as_bool(v: &Value) -> Value {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        other => other.clone(),
    }
}

fn sentinel(o: &Map<String, Value>) -> Unwrapped {
    let mut rec = Map::new();
    for (col, field) in SENTINEL {
        if field == "requestID" && rec.contains_key("requestID") {
            continue;
        }
        let Some(v) = o.get(col) else { continue };
        if v.is_null() || v.as_str() == Some("") {
            continue;
        }
        let v = match field {
            "eventTime" | "userIdentity.sessionContext.attributes.creationDate" => {
                Value::String(iso_utc(v.as_str().unwrap_or_default()))
            }
            "readOnly" | "managementEvent" => as_bool(v),
            // CloudTrail writes it as the text "true"/"false".
            "userIdentity.sessionContext.attributes.mfaAuthenticated" => match v {
                Value::Bool(b) => Value::String(b.to_string()),
                other => other.clone(),
            },
            f if JSON_FIELDS.contains(&f) => match v.as_str() {
                Some(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
                None => v.clone(),
            },
            _ => v.clone(),
        };
        set_path(&mut rec, field, v);
    }
    if !rec.contains_key("eventTime") {
        return Err("Sentinel AWSCloudTrail row without TimeGenerated".into());
    }
    Ok(Value::Object(rec).to_string())
}

/// How dates are written in a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateOrder {
    DayFirst,
    MonthFirst,
}

/// The columns whose values are times.
const CSV_TIME_COLUMNS: [&str; 2] = ["TimeGenerated", "SessionCreationDate"];

/// A column name as exported: `TimeGenerated [UTC]` -> `TimeGenerated`.
fn csv_column(name: &str) -> &str {
    let n = name.trim();
    match n.find(" [") {
        Some(at) if n.ends_with(']') => &n[..at],
        _ => n,
    }
}

/// Whether `b` begins with the header row of a Sentinel `AWSCloudTrail` export: a line of
/// comma-separated column names holding `TimeGenerated` and at least two other columns of the
/// table.
pub fn is_sentinel_csv(b: &[u8]) -> bool {
    let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(b);
    let line_end = memchr::memchr(b'\n', b).unwrap_or(b.len());
    let Ok(line) = std::str::from_utf8(&b[..line_end]) else {
        return false;
    };
    let names: Vec<&str> = line
        .split(',')
        .map(|c| csv_column(c.trim().trim_matches('"')))
        .collect();
    names.contains(&"TimeGenerated")
        && names
            .iter()
            .filter(|n| **n != "TimeGenerated" && SENTINEL.iter().any(|(c, _)| c == *n))
            .count()
            >= 2
}

/// The rows of RFC 4180 text, one at a time: fields split at commas, rows at CRLF or LF, quoted
/// fields may hold commas, doubled quotes and line breaks. A field is borrowed from the text
/// unless it held a doubled quote. Blank lines are no rows.
struct CsvRows<'a> {
    b: &'a [u8],
    i: usize,
    /// The text ended inside a quoted field (in the last row given).
    truncated: bool,
}

impl<'a> CsvRows<'a> {
    fn new(b: &'a [u8]) -> CsvRows<'a> {
        CsvRows {
            b,
            i: 0,
            truncated: false,
        }
    }

    /// One row from `self.i`, which is at the start of a line.
    fn row(&mut self) -> Vec<Cow<'a, [u8]>> {
        let b = self.b;
        let mut fields = Vec::new();
        loop {
            let mut field: Cow<'a, [u8]> = if b.get(self.i) == Some(&b'"') {
                let start = self.i + 1;
                let mut j = start;
                let mut owned: Option<Vec<u8>> = None;
                loop {
                    let Some(k) = memchr::memchr(b'"', &b[j..]) else {
                        self.truncated = true;
                        self.i = b.len();
                        let rest = &b[j..];
                        break match owned {
                            Some(mut o) => {
                                o.extend_from_slice(rest);
                                Cow::Owned(o)
                            }
                            None => Cow::Borrowed(&b[start..]),
                        };
                    };
                    let q = j + k;
                    if b.get(q + 1) == Some(&b'"') {
                        owned
                            .get_or_insert_with(Vec::new)
                            .extend_from_slice(&b[j..=q]);
                        j = q + 2;
                        continue;
                    }
                    self.i = q + 1;
                    break match owned {
                        Some(mut o) => {
                            o.extend_from_slice(&b[j..q]);
                            Cow::Owned(o)
                        }
                        None => Cow::Borrowed(&b[start..q]),
                    };
                }
            } else {
                Cow::Borrowed(&b[self.i..self.i])
            };
            // Unquoted text (or text after a closing quote) up to the next comma or line end.
            let rest = &b[self.i.min(b.len())..];
            let end = memchr::memchr2(b',', b'\n', rest).unwrap_or(rest.len());
            let mut text = &rest[..end];
            if rest.get(end) == Some(&b'\n') {
                text = text.strip_suffix(b"\r").unwrap_or(text);
            }
            if !text.is_empty() {
                field = if field.is_empty() && matches!(field, Cow::Borrowed(_)) {
                    Cow::Borrowed(text)
                } else {
                    let mut o = field.into_owned();
                    o.extend_from_slice(text);
                    Cow::Owned(o)
                };
            }
            fields.push(field);
            self.i += end;
            match b.get(self.i) {
                Some(b',') => self.i += 1,
                Some(_) => {
                    self.i += 1;
                    return fields;
                }
                None => return fields,
            }
        }
    }
}

impl<'a> Iterator for CsvRows<'a> {
    type Item = Vec<Cow<'a, [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.i < self.b.len() {
            let row = self.row();
            if !(row.len() == 1 && row[0].iter().all(u8::is_ascii_whitespace)) {
                return Some(row);
            }
        }
        None
    }
}

/// A date written `a/b/yyyy` (or with `.` or `-`), and what follows it.
fn slash_date(s: &str) -> Option<(u32, u32, i32, &str)> {
    let s = s.trim();
    let sep = s.find(['/', '.', '-'])?;
    let sep_char = s.as_bytes()[sep];
    let (a, rest) = (&s[..sep], &s[sep + 1..]);
    let sep2 = rest.find(sep_char as char)?;
    let (b, rest) = (&rest[..sep2], &rest[sep2 + 1..]);
    let year_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if year_len != 4 || a.is_empty() || a.len() > 2 || b.is_empty() || b.len() > 2 {
        return None;
    }
    let num = |t: &str| -> Option<u32> {
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    Some((num(a)?, num(b)?, rest[..4].parse().ok()?, &rest[4..]))
}

/// `10:00:00`, `10:00:00.123`, `10:00:00 AM`, `10:00 PM` -> `10:00:00.123` (24-hour).
fn clock(s: &str) -> Option<String> {
    let s = s.trim().trim_start_matches([',', 'T', ' ']).trim();
    let s = s.strip_suffix('Z').unwrap_or(s).trim();
    let (t, pm) = match s.get(s.len().saturating_sub(2)..) {
        Some(x) if x.eq_ignore_ascii_case("AM") => (s[..s.len() - 2].trim(), Some(false)),
        Some(x) if x.eq_ignore_ascii_case("PM") => (s[..s.len() - 2].trim(), Some(true)),
        _ => (s, None),
    };
    let mut parts = t.splitn(3, ':');
    let h: u32 = parts.next()?.trim().parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let sec = parts.next().unwrap_or("00");
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    let sec: u32 = whole.parse().ok()?;
    if !frac.bytes().all(|c| c.is_ascii_digit()) || m > 59 || sec > 60 {
        return None;
    }
    let h = match pm {
        Some(pm) if (1..=12).contains(&h) => h % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None if h < 24 => h,
        None => return None,
    };
    Some(if frac.is_empty() {
        format!("{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}.{frac}")
    })
}

/// A CSV time value -> ISO 8601, UTC when it has no zone. Slash dates are read in `order`.
fn csv_time(s: &str, order: Option<DateOrder>) -> Option<String> {
    let s = s.trim();
    if let Some((a, b, year, rest)) = slash_date(s) {
        let (day, month) = match order {
            Some(DateOrder::DayFirst) => (a, b),
            Some(DateOrder::MonthFirst) => (b, a),
            // Only when both orders give the same date.
            None if a == b => (a, b),
            None => return None,
        };
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let clock = if rest.trim().is_empty() {
            "00:00:00".to_string()
        } else {
            clock(rest)?
        };
        return Some(format!("{year:04}-{month:02}-{day:02}T{clock}Z"));
    }
    // ISO 8601 or `yyyy-mm-dd hh:mm:ss`, with or without a zone.
    let iso = iso_utc(s);
    crate::event::parse_iso(&iso).map(|_| iso)
}

/// The day-first or month-first order of the file's slash dates, decided from all of them: a
/// first number above 12 means day-first, a second above 12 month-first. `Ok(None)` when the file
/// has no date whose order matters; an error when the dates allow both orders or neither.
fn date_order<S: AsRef<str>>(
    values: impl IntoIterator<Item = S>,
) -> Result<Option<DateOrder>, String> {
    let (mut day_first, mut month_first, mut matters) = (None, None, None);
    for v in values {
        let v = v.as_ref();
        if let Some((a, b, _, _)) = slash_date(v) {
            if a > 12 && day_first.is_none() {
                day_first = Some(v.trim().to_string());
            }
            if b > 12 && month_first.is_none() {
                month_first = Some(v.trim().to_string());
            }
            if a != b && matters.is_none() {
                matters = Some(v.trim().to_string());
            }
        }
    }
    match (day_first, month_first, matters) {
        (Some(d), Some(m), _) => Err(format!(
            "Sentinel CSV: its dates mix day-first (`{d}`) and month-first (`{m}`) order"
        )),
        (Some(_), None, _) => Ok(Some(DateOrder::DayFirst)),
        (None, Some(_), _) => Ok(Some(DateOrder::MonthFirst)),
        (None, None, Some(v)) => Err(format!(
            "Sentinel CSV: the date order is ambiguous: no day or month above 12 in any date \
             (e.g. `{v}` could be day-first or month-first); export with ISO 8601 times \
             (KQL: format_datetime or todatetime) or give a file whose dates settle it"
        )),
        (None, None, None) => Ok(None),
    }
}

/// A Sentinel `AWSCloudTrail` CSV export -> each row (numbered from 1, the header not counted)
/// as a CloudTrail record, or why not, given to `each` in file order. Read twice: first the
/// times, to settle the date order, then the rows. Returns whether the text ends inside a quoted
/// field (the last row is then reported cut off); `Err` when the file as a whole cannot be read
/// (its date order is ambiguous or mixed).
pub fn sentinel_csv(b: &[u8], mut each: impl FnMut(usize, Unwrapped)) -> Result<bool, String> {
    let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(b);
    let mut rows = CsvRows::new(b);
    let header: Vec<String> = rows
        .next()
        .unwrap_or_default()
        .iter()
        .map(|f| csv_column(&String::from_utf8_lossy(f)).to_string())
        .collect();
    let time_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| CSV_TIME_COLUMNS.contains(&h.as_str()))
        .map(|(i, _)| i)
        .collect();
    let order = {
        let mut scan = CsvRows::new(b);
        scan.i = rows.i;
        date_order(scan.flat_map(|r| {
            time_cols
                .iter()
                .filter_map(|&i| r.get(i).and_then(|f| std::str::from_utf8(f).ok()))
                .map(str::to_string)
                .collect::<Vec<_>>()
        }))?
    };
    let mut n = 0;
    while let Some(fields) = rows.next() {
        n += 1;
        if rows.truncated {
            each(
                n,
                Err("row is cut off: the file ends inside a quoted field".into()),
            );
            break;
        }
        each(n, csv_record(&header, fields, order));
    }
    Ok(rows.truncated)
}

/// One CSV row -> a CloudTrail record, through the Sentinel column mapping.
fn csv_record(header: &[String], fields: Vec<Cow<[u8]>>, order: Option<DateOrder>) -> Unwrapped {
    if fields.len() != header.len() {
        return Err(format!(
            "{} fields where the header has {} columns",
            fields.len(),
            header.len()
        ));
    }
    let mut o = Map::new();
    for (name, f) in header.iter().zip(fields) {
        let text = std::str::from_utf8(&f)
            .map_err(|e| format!("column {name}: invalid UTF-8 at byte {}", e.valid_up_to()))?;
        if text.is_empty() {
            continue;
        }
        let v = if CSV_TIME_COLUMNS.contains(&name.as_str()) {
            let iso = csv_time(text, order)
                .ok_or_else(|| format!("{name} `{text}` is not a date and time"))?;
            Value::String(iso)
        } else {
            Value::String(text.to_string())
        };
        o.insert(name.clone(), v);
    }
    sentinel(&o)
}

/// Lake's text for a struct or map column: JSON, or `{key=value, key={...}, list=[a, b]}`.
fn lake_value(s: &str) -> Value {
    let t = s.trim();
    if t.starts_with('{') || t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return v;
        }
        let mut p = RowParser {
            b: t.as_bytes(),
            i: 0,
        };
        if let Some(v) = p.value() {
            if p.i == p.b.len() {
                return v;
            }
        }
    }
    Value::String(s.to_string())
}

/// A parser for Lake's (Trino's) `{k=v, ...}` text of structs and maps.
struct RowParser<'a> {
    b: &'a [u8],
    i: usize,
}

impl RowParser<'_> {
    /// At a `,` inside a struct: does `key=` follow (so the comma ends the value)?
    fn key_follows(&self, comma: usize) -> bool {
        let mut j = comma + 1;
        while self.b.get(j) == Some(&b' ') {
            j += 1;
        }
        let start = j;
        while self
            .b
            .get(j)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-' || *c == b'.')
        {
            j += 1;
        }
        j > start && self.b.get(j) == Some(&b'=')
    }

    fn value(&mut self) -> Option<Value> {
        self.value_in(false)
    }

    /// A value; `in_list`: a comma always ends a bare value (lists have no keys).
    fn value_in(&mut self, in_list: bool) -> Option<Value> {
        match self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                let mut m = Map::new();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(Value::Object(m));
                }
                loop {
                    let start = self.i;
                    while *self.b.get(self.i)? != b'=' {
                        self.i += 1;
                    }
                    let key = std::str::from_utf8(&self.b[start..self.i])
                        .ok()?
                        .trim()
                        .to_string();
                    self.i += 1;
                    let v = self.value()?;
                    m.insert(key, v);
                    match self.b.get(self.i)? {
                        b',' => {
                            self.i += if self.b.get(self.i + 1) == Some(&b' ') {
                                2
                            } else {
                                1
                            }
                        }
                        b'}' => {
                            self.i += 1;
                            return Some(Value::Object(m));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(Value::Array(a));
                }
                loop {
                    a.push(self.value_in(true)?);
                    match self.b.get(self.i)? {
                        b',' => {
                            self.i += if self.b.get(self.i + 1) == Some(&b' ') {
                                2
                            } else {
                                1
                            }
                        }
                        b']' => {
                            self.i += 1;
                            return Some(Value::Array(a));
                        }
                        _ => return None,
                    }
                }
            }
            _ => {
                let start = self.i;
                // A bare value ends at the closing bracket, or at a comma that starts the next
                // element (a comma inside text, as in `Mar 2, 2026`, does not).
                let mut depth = 0usize;
                while let Some(c) = self.b.get(self.i) {
                    match c {
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' if depth == 0 => break,
                        b'}' | b']' => depth -= 1,
                        b',' if depth == 0 && (in_list || self.key_follows(self.i)) => break,
                        _ => {}
                    }
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
                Some(if text == "null" {
                    Value::Null
                } else {
                    Value::String(text.to_string())
                })
            }
        }
    }
}

/// One row of Lake query results: `[{"eventID": "..."}, {"eventTime": "..."}, ...]`.
fn lake_row(row: &Value) -> Unwrapped {
    let cols = row
        .as_array()
        .ok_or("CloudTrail Lake row is not a list of columns")?;
    let mut rec = Map::new();
    for col in cols {
        let Some(c) = col.as_object() else { continue };
        for (k, v) in c {
            let v = match v {
                Value::String(s) if k == "eventTime" || k.ends_with("creationDate") => {
                    Value::String(iso_utc(s))
                }
                Value::String(s) if k == "readOnly" || k == "managementEvent" => {
                    as_bool(&Value::String(s.clone()))
                }
                Value::String(s) => lake_value(s),
                other => other.clone(),
            };
            if v.is_null() {
                continue;
            }
            set_path(&mut rec, k, v);
        }
    }
    if let Some(Value::Object(u)) = rec.get_mut("userIdentity") {
        // Lake lists the session's creation time as a timestamp; CloudTrail gives ISO 8601.
        if let Some(Value::Object(sc)) = u.get_mut("sessionContext") {
            if let Some(Value::Object(a)) = sc.get_mut("attributes") {
                if let Some(Value::String(t)) = a.get("creationDate").cloned() {
                    a.insert("creationDate".into(), Value::String(iso_utc(&t)));
                }
            }
        }
    }
    if !rec.contains_key("eventTime") {
        return Err("CloudTrail Lake row without an eventTime column".into());
    }
    Ok(Value::Object(rec).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_without_a_zone_are_utc() {
        assert_eq!(
            iso_utc("2026-03-02 10:00:00.000"),
            "2026-03-02T10:00:00.000Z"
        );
        assert_eq!(iso_utc("2026-03-02T10:00:00"), "2026-03-02T10:00:00Z");
        assert_eq!(iso_utc("2026-03-02T10:00:00Z"), "2026-03-02T10:00:00Z");
        assert_eq!(
            iso_utc("2026-03-02T10:00:00+02:00"),
            "2026-03-02T10:00:00+02:00"
        );
    }

    #[test]
    fn lake_struct_text() {
        let v = lake_value("{type=AssumedRole, arn=arn:aws:sts::1:assumed-role/r/s, sessionContext={attributes={mfaAuthenticated=false}}, list=[a, b], none=null}");
        assert_eq!(v["type"], "AssumedRole");
        assert_eq!(v["arn"], "arn:aws:sts::1:assumed-role/r/s");
        assert_eq!(
            v["sessionContext"]["attributes"]["mfaAuthenticated"],
            "false"
        );
        assert_eq!(v["list"], serde_json::json!(["a", "b"]));
        assert!(v["none"].is_null());
        assert_eq!(lake_value("plain text"), Value::String("plain text".into()));
        assert_eq!(lake_value(r#"{"a":1}"#)["a"], 1);
        let v = lake_value(
            "{credentials={accessKeyId=ASIAX, expiration=Mar 2, 2026, 11:00:05 AM}, b=1}",
        );
        assert_eq!(v["credentials"]["expiration"], "Mar 2, 2026, 11:00:05 AM");
        assert_eq!(v["b"], "1");
    }

    #[test]
    fn csv_rows_follow_rfc_4180() {
        let rows = |b: &[u8]| -> (Vec<Vec<String>>, bool) {
            let mut r = CsvRows::new(b);
            let all = r
                .by_ref()
                .map(|row| {
                    row.iter()
                        .map(|f| String::from_utf8(f.to_vec()).unwrap())
                        .collect()
                })
                .collect();
            (all, r.truncated)
        };
        let (got, cut) =
            rows(b"a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\r\nlines\"\n\n1,,3\r\n,\"\",x\"y\"");
        assert!(!cut);
        assert_eq!(
            got,
            [
                vec!["a", "b", "c"],
                vec!["x, y", "say \"hi\"", "two\r\nlines"],
                vec!["1", "", "3"],
                vec!["", "", "x\"y\""],
            ]
        );
        let (got, cut) = rows(b"a,b\n\"open,1\n");
        assert!(cut);
        assert_eq!(got[1], ["open,1\n"]);
        assert_eq!(rows(b"").0.len(), 0);
    }

    #[test]
    fn csv_date_order_comes_from_the_whole_file() {
        assert_eq!(
            date_order(["02/03/2026 10:00", "13/03/2026 10:00"]),
            Ok(Some(DateOrder::DayFirst))
        );
        assert_eq!(
            date_order(["3/2/2026, 10:00:00 AM", "3/13/2026, 1:00:00 PM"]),
            Ok(Some(DateOrder::MonthFirst))
        );
        // Equal day and month: either order gives the same date.
        assert_eq!(
            date_order(["03/03/2026 10:00", "2026-03-02T10:00:00Z"]),
            Ok(None)
        );
        assert!(date_order(["02/03/2026 10:00"])
            .unwrap_err()
            .contains("ambiguous"));
        assert!(date_order(["13/03/2026 10:00", "03/13/2026 10:00"])
            .unwrap_err()
            .contains("mix"));
        assert_eq!(
            csv_time("3/13/2026, 12:05:09.250 AM", Some(DateOrder::MonthFirst)).as_deref(),
            Some("2026-03-13T00:05:09.250Z")
        );
        assert_eq!(
            csv_time("13.03.2026 15:05", Some(DateOrder::DayFirst)).as_deref(),
            Some("2026-03-13T15:05:00Z")
        );
        assert_eq!(
            csv_time("2026-03-13 15:05:00", None).as_deref(),
            Some("2026-03-13T15:05:00Z")
        );
        assert_eq!(
            csv_time("13/13/2026 10:00", Some(DateOrder::DayFirst)),
            None
        );
        assert_eq!(csv_time("yesterday", None), None);
    }

    #[test]
    fn csv_header_is_recognised_by_its_columns() {
        assert!(is_sentinel_csv(
            b"TenantId,TimeGenerated [UTC],EventName,EventSource\n1,2,3,4\n"
        ));
        assert!(is_sentinel_csv(
            b"\xEF\xBB\xBF\"TimeGenerated\",\"EventName\",\"AwsEventId\"\r\n"
        ));
        assert!(!is_sentinel_csv(b"TimeGenerated,Message\n"));
        assert!(!is_sentinel_csv(b"hello world"));
    }

    #[test]
    fn not_an_export() {
        assert!(unwrap(r#"{"eventName":"X"}"#).is_none());
        assert!(unwrap(r#"{"_raw_other":1}"#).is_none());
    }
}
