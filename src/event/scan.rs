//! A hand-written reader of an array of plain CloudTrail records into [`RawRecord`] views: keys
//! are matched on their bytes, values the record does not keep (and the raw documents) are
//! skipped by a checking scanner, never deserialized.
//!
//! It reads only the plain form CloudTrail writes and gives up (`None`) on anything else: a key
//! or a kept string with an escape, a number or a repeated key where a field is kept, nesting
//! deeper than [`MAX_DEPTH`], and any text serde_json would reject. What it accepts, serde_json
//! accepts, and reads into the same view: the caller then reads the text with serde (see
//! `ingest::parse`), so giving up never changes a result, only its cost.

use super::raw::{Flag, Json, RawRecord, Str};
use std::borrow::Cow;

/// Nesting the scanner follows before it gives up (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

/// The number of a record field by its JSON key, as [`RawRecord`] names it (the index in
/// [`KEYS`]); `None` for a key the record does not keep.
fn field(key: &str) -> Option<usize> {
    Some(match key {
        "eventTime" => 0,
        "@timestamp" => 1,
        "eventID" => 2,
        "eventName" => 3,
        "eventSource" => 4,
        "awsRegion" => 5,
        "sourceIPAddress" => 6,
        "userAgent" => 7,
        "errorCode" => 8,
        "errorMessage" => 9,
        "readOnly" => 10,
        "managementEvent" => 11,
        "eventType" => 12,
        "eventCategory" => 13,
        "recipientAccountId" => 14,
        "sharedEventID" => 15,
        "requestID" => 16,
        "vpcEndpointId" => 17,
        "userIdentity" => 18,
        "requestParameters" => 19,
        "responseElements" => 20,
        "additionalEventData" => 21,
        "sessionCredentialFromConsole" => 22,
        _ => return None,
    })
}

/// The record fields by their JSON keys, in [`field`]'s numbering.
#[cfg(test)]
const KEYS: [&str; 23] = [
    "eventTime",
    "@timestamp",
    "eventID",
    "eventName",
    "eventSource",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "readOnly",
    "managementEvent",
    "eventType",
    "eventCategory",
    "recipientAccountId",
    "sharedEventID",
    "requestID",
    "vpcEndpointId",
    "userIdentity",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "sessionCredentialFromConsole",
];

/// The first quote, backslash or control character at or after `j` (the length of `b` when
/// there is none), eight bytes at a time.
fn stop(b: &[u8], mut j: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit set in each byte of `x` that is zero (and maybe in bytes after the first such).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(j..j + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let hit = zero(w ^ (ONES * b'"' as u64))
            | zero(w ^ (ONES * b'\\' as u64))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if hit != 0 {
            return j + (hit.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    while j < b.len() && !matches!(b[j], b'"' | b'\\' | 0..=0x1f) {
        j += 1;
    }
    j
}

struct Scan<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Steps over `c` (after white space), or gives up.
    fn expect(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The string whose opening quote is at `i`: its text when it has no escape (`Err(())` when
    /// it has valid escapes: skipped, not decoded); `None` when it is not a valid JSON string.
    fn string(&mut self) -> Option<Result<&'a str, ()>> {
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            j = stop(self.b, j);
            match *self.b.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some(if escaped {
                        Err(())
                    } else {
                        Ok(&self.s[start..j])
                    });
                }
                b'\\' => {}
                // A control character: not allowed inside a string.
                _ => return None,
            }
            escaped = true;
            match *self.b.get(j + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                b'u' => {
                    let hex = self.b.get(j + 2..j + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    j += 6;
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn digits(&mut self) -> usize {
        let from = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - from
    }

    /// A number as JSON's grammar has it (serde_json checks the same when it skips one).
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Steps over the value at `i` (white space skipped first), checking it.
    fn skip(&mut self, depth: u32) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.ws();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let _key = self.string()?;
                    self.expect(b':')?;
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A kept text field, read as [`Str`] reads it: a plain string, true/false, null; an object
    /// or array is no text. A string with an escape or a number gives up.
    fn text(&mut self) -> Option<Str<'a>> {
        self.ws();
        match self.peek()? {
            b'"' => self.string()?.ok().map(|s| Str(Some(Cow::Borrowed(s)))),
            b't' => self
                .literal(b"true")
                .map(|_| Str(Some(Cow::Borrowed("true")))),
            b'f' => self
                .literal(b"false")
                .map(|_| Str(Some(Cow::Borrowed("false")))),
            b'n' => self.literal(b"null").map(|_| Str(None)),
            b'{' | b'[' => self.skip(1).map(|_| Str(None)),
            _ => None,
        }
    }

    /// A field kept as its JSON text; `null` is none.
    fn json(&mut self) -> Option<Json<'a>> {
        self.ws();
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|_| Json(None));
        }
        let start = self.i;
        self.skip(1)?;
        Some(Json(Some(&self.s[start..self.i])))
    }

    /// The record object at `i`.
    fn record(&mut self) -> Option<RawRecord<'a>> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        let mut r = RawRecord::default();
        let mut seen = 0u32;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(r);
        }
        loop {
            self.ws();
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?.ok()?;
            self.expect(b':')?;
            match field(key) {
                None => self.skip(1)?,
                Some(n) => {
                    // A repeated field: serde's error, read there.
                    if seen & (1 << n) != 0 {
                        return None;
                    }
                    seen |= 1 << n;
                    match n {
                        0 => r.event_time = self.text()?,
                        1 => r.at_timestamp = self.text()?,
                        2 => r.event_id = self.text()?,
                        3 => r.event_name = self.text()?,
                        4 => r.event_source = self.text()?,
                        5 => r.aws_region = self.text()?,
                        6 => r.source_ip = self.text()?,
                        7 => r.user_agent = self.text()?,
                        8 => r.error_code = self.text()?,
                        9 => r.error_message = self.text()?,
                        10 => r.read_only = Flag::of(&self.text()?),
                        11 => r.management_event = Flag::of(&self.text()?),
                        12 => r.event_type = self.text()?,
                        13 => r.event_category = self.text()?,
                        14 => r.recipient_account_id = self.text()?,
                        15 => r.shared_event_id = self.text()?,
                        16 => r.request_id = self.text()?,
                        17 => r.vpc_endpoint_id = self.text()?,
                        18 => r.user_identity = self.json()?,
                        19 => r.request_parameters = self.json()?,
                        20 => r.response_elements = self.json()?,
                        21 => r.additional_event_data = self.json()?,
                        _ => r.session_credential_from_console = Flag::of(&self.text()?),
                    }
                }
            }
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(r);
                }
                _ => return None,
            }
        }
    }
}

/// Gives `each` every record of the array whose `[` is at `open` in `text`, and returns how
/// many there were; `None` as soon as the scanner gives up (see the module notes) or `each`
/// returns false: records given before that are to be dropped. Text after the closing `]` is
/// not looked at.
pub fn each_record<'a>(
    text: &'a str,
    open: usize,
    each: &mut dyn FnMut(RawRecord<'a>) -> bool,
) -> Option<usize> {
    let mut sc = Scan {
        s: text,
        b: text.as_bytes(),
        i: open,
    };
    sc.expect(b'[')?;
    sc.ws();
    if sc.peek()? == b']' {
        return Some(0);
    }
    let mut n = 0;
    loop {
        let r = sc.record()?;
        if !each(r) {
            return None;
        }
        n += 1;
        sc.ws();
        match sc.peek()? {
            b',' => sc.i += 1,
            b']' => return Some(n),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scanner's view of each record, or `None` where it gives up.
    fn scanned(text: &str) -> Option<Vec<String>> {
        let mut got = Vec::new();
        each_record(text, 0, &mut |r| {
            got.push(format!("{r:?}"));
            true
        })?;
        Some(got)
    }

    /// serde's view of each record, or `None` where serde fails.
    fn serde_view(text: &str) -> Option<Vec<String>> {
        let v: Vec<RawRecord> = serde_json::from_str(text).ok()?;
        Some(v.iter().map(|r| format!("{r:?}")).collect())
    }

    #[test]
    fn what_the_scanner_reads_serde_reads_the_same() {
        let cases = [
            r#"[]"#,
            r#"[{}]"#,
            r#"[ { "eventTime" : "2020-01-01T00:00:00Z" , "eventName":"X" } , {"eventID":"a"} ]"#,
            r#"[{"eventTime":"t","readOnly":"TRUE","managementEvent":false,"sessionCredentialFromConsole":"yes"}]"#,
            r#"[{"userIdentity":{"type":"IAMUser","x":[1,-2.5e+3,true,null,{}]},"requestParameters":null}]"#,
            r#"[{"requestParameters":{"a":"b\"c\\d\u00e9\n"},"responseElements":[0,1E9,-0.0]}]"#,
            r#"[{"awsRegion":{"a":1},"eventName":[1,2],"errorCode":null,"other":{"deep":[[["x"]]]}}]"#,
            r#"[{"unknown":1,"unknown":2,"eventSource":"s3.amazonaws.com"}]"#,
        ];
        for t in cases {
            let s = scanned(t);
            assert!(s.is_some(), "gave up on {t}");
            assert_eq!(s, serde_view(t), "{t}");
        }
    }

    #[test]
    fn the_scanner_gives_up_where_serde_fails_or_reads_otherwise() {
        for t in [
            // serde fails.
            r#"[{"a":01}]"#,
            r#"[{"a":1.}]"#,
            r#"[{"a":-}]"#,
            r#"[{"a":1e}]"#,
            r#"[{"a":[1,]}]"#,
            r#"[{"a":{"b":1,}}]"#,
            r#"[{"a":1,}]"#,
            r#"[{"a" 1}]"#,
            r#"[{"a":"\x"}]"#,
            r#"[{"a":"\u12G4"}]"#,
            "[{\"a\":\"tab\there\"}]",
            r#"[{"a":tru}]"#,
            r#"[{"a":1},]"#,
            r#"[{"a":1} {"a":2}]"#,
            r#"[{"eventName":"a","eventName":"b"}]"#,
            r#"[{"requestParameters":{},"requestParameters":{}}]"#,
            r#"[{"a":"cut"#,
            r#"[1]"#,
            r#"[{"a":"x"}"#,
            // serde reads these; the scanner leaves them to it.
            r#"[{"eventName":"a\"b"}]"#,
            r#"[{"event\u004eame":"a"}]"#,
            r#"[{"eventName":42}]"#,
            r#"[{"userAgent":"\ud800"}]"#,
        ] {
            assert_eq!(scanned(t), None, "{t}");
        }
        let deep = format!(
            r#"[{{"a":{}1{}}}]"#,
            "[".repeat(MAX_DEPTH as usize),
            "]".repeat(MAX_DEPTH as usize)
        );
        assert_eq!(scanned(&deep), None);
        assert!(serde_view(&deep).is_some());
    }

    #[test]
    fn every_key_has_its_number() {
        for (n, k) in KEYS.iter().enumerate() {
            assert_eq!(field(k), Some(n));
        }
        assert_eq!(field("eventtime"), None);
    }

    #[test]
    fn the_stop_scan_finds_the_first_quote_backslash_or_control_character() {
        for (t, at) in [
            (&b"abcdefghijklmnop\\"[..], 16),
            (b"abc\"defghijklmnop", 3),
            (b"abcdefgh\x1fijk", 8),
            (b"abcdefgh\x7f\xc3\xa9ijk\"", 14),
            (b"abc", 3),
            (b"", 0),
        ] {
            assert_eq!(stop(t, 0), at, "{}", String::from_utf8_lossy(t));
        }
    }

    #[test]
    fn text_after_the_array_is_not_read() {
        assert_eq!(
            scanned(r#"[{"eventID":"a"}] trailing"#).map(|v| v.len()),
            Some(1)
        );
    }
}
