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
//! - Microsoft Sentinel: rows of the `AWSCloudTrail` table (JSON), columns mapped back to
//!   CloudTrail's fields by [`SENTINEL`]; times without a zone are UTC.
//! - CloudTrail Lake: query results (`QueryResultRows`, as GetQueryResults and the console return
//!   them): each row's columns become the record's fields; Lake's times (`2026-03-02
//!   10:00:00.000`, UTC) become ISO 8601; struct and map columns given as JSON or in Lake's
//!   `{key=value, ...}` form become objects.

use serde_json::{Map, Value};

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
    fn not_an_export() {
        assert!(unwrap(r#"{"eventName":"X"}"#).is_none());
        assert!(unwrap(r#"{"_raw_other":1}"#).is_none());
    }
}
