//! Secret values out of a raw JSON document in one pass over its text.
//!
//! The reference is parsing the document to a `serde_json::Value`, replacing every secret value
//! and writing it again ([`by_value`]): whitespace goes, keys keep their order (serde_json's
//! `preserve_order`), a repeated key keeps its first place and its last value, strings and
//! numbers are written again in serde_json's form. [`streaming`] gives the same bytes without
//! building a tree, for every document whose strings and numbers serde_json writes back as they
//! were (no backslash in a string, integers only) and whose objects repeat no key; for any other
//! document it returns `None` and the caller takes the reference path. CloudTrail's documents
//! are almost all of the first kind. The fuzz harness and the tests check that both give the
//! same bytes wherever the streaming path answers.

use super::{REDACTED, SECRET_KEYS};

/// Deepest nesting read in one pass; deeper documents take the reference path (whose parser
/// stops at 128 levels: such a document is not kept at all).
const MAX_DEPTH: usize = 100;

/// Objects with more keys than this take the reference path (repeated keys are looked for by
/// comparing each key with the earlier ones).
const MAX_KEYS: usize = 64;

/// `text` (JSON that serde_json has read) compact, with every secret value that is not `null`
/// replaced by `"<redacted>"`, written into `out` (cleared first); false when the document needs
/// the reference path (`out` is then unspecified).
pub fn streaming(text: &str, out: &mut String) -> bool {
    out.clear();
    let mut w = Walker {
        s: text,
        b: text.as_bytes(),
        i: 0,
        out,
        keys: Vec::new(),
    };
    w.value(0).is_some() && w.ws() == w.b.len()
}

/// The reference: parse, replace, write. `None` when serde_json cannot parse the text.
pub fn by_value(text: &str) -> Option<String> {
    let mut v = serde_json::from_str::<serde_json::Value>(text).ok()?;
    redact_value(&mut v);
    Some(v.to_string())
}

fn redact_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if is_secret_key(k.as_bytes()) && !val.is_null() {
                    *val = serde_json::Value::String(REDACTED.to_string());
                } else {
                    redact_value(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_value),
        _ => {}
    }
}

fn is_secret_key(k: &[u8]) -> bool {
    SECRET_KEYS
        .iter()
        .any(|s| k.eq_ignore_ascii_case(s.as_bytes()))
}

struct Walker<'t, 'o> {
    s: &'t str,
    b: &'t [u8],
    i: usize,
    out: &'o mut String,
    /// Byte ranges of the keys of the objects being read, innermost last.
    keys: Vec<(usize, usize)>,
}

impl Walker<'_, '_> {
    fn ws(&mut self) -> usize {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\n' | b'\r' | b'\t') {
            self.i += 1;
        }
        self.i
    }

    /// Copies `self.s[from..to]`, which starts and ends at ASCII bytes.
    fn copy(&mut self, from: usize, to: usize) -> Option<()> {
        self.out.push_str(self.s.get(from..to)?);
        Some(())
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        let at = self.ws();
        match *self.b.get(at)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => {
                let (from, to) = self.string()?;
                self.copy(from, to)
            }
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if !self.b[self.i..].starts_with(word.as_bytes()) {
            return None;
        }
        self.i += word.len();
        self.out.push_str(word);
        Some(())
    }

    /// A string without a backslash at `self.i`: its range, quotes included.
    fn string(&mut self) -> Option<(usize, usize)> {
        let from = self.i;
        let close = from + 1 + memchr::memchr2(b'"', b'\\', self.b.get(from + 1..)?)?;
        if self.b[close] != b'"' {
            return None;
        }
        self.i = close + 1;
        Some((from, self.i))
    }

    /// An integer serde_json writes back as it is written: no fraction or exponent, no `-0`,
    /// at most 18 digits (within both i64 and u64).
    fn integer(&mut self) -> Option<()> {
        let from = self.i;
        let mut j = from;
        if self.b[j] == b'-' {
            j += 1;
        }
        let digits = self.b[j..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 18 || (digits > 1 && self.b[j] == b'0') {
            return None;
        }
        if self.b[j] == b'0' && j > from {
            return None;
        }
        j += digits;
        if matches!(self.b.get(j), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.i = j;
        self.copy(from, j)
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.out.push('[');
        if self.b.get(self.ws()) == Some(&b']') {
            self.i += 1;
            self.out.push(']');
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.b.get(self.ws())? {
                b',' => {
                    self.i += 1;
                    self.out.push(',');
                }
                b']' => {
                    self.i += 1;
                    self.out.push(']');
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.out.push('{');
        if self.b.get(self.ws()) == Some(&b'}') {
            self.i += 1;
            self.out.push('}');
            return Some(());
        }
        let first_key = self.keys.len();
        let done = self.members(depth, first_key);
        self.keys.truncate(first_key);
        done
    }

    fn members(&mut self, depth: usize, first_key: usize) -> Option<()> {
        loop {
            if self.b.get(self.ws()) != Some(&b'"') {
                return None;
            }
            let (from, to) = self.string()?;
            let key = &self.b[from + 1..to - 1];
            let earlier = &self.keys[first_key..];
            if earlier.len() >= MAX_KEYS || earlier.iter().any(|&(f, t)| &self.b[f..t] == key) {
                return None;
            }
            self.keys.push((from + 1, to - 1));
            if self.b.get(self.ws()) != Some(&b':') {
                return None;
            }
            self.i += 1;
            self.copy(from, to)?;
            self.out.push(':');
            if is_secret_key(key) {
                let at = self.ws();
                if self.b[at..].starts_with(b"null") {
                    self.literal("null")?;
                } else {
                    self.i = super::raw::value_end(self.b, at, true)?;
                    self.out.push('"');
                    self.out.push_str(REDACTED);
                    self.out.push('"');
                }
            } else {
                self.value(depth)?;
            }
            match self.b.get(self.ws())? {
                b',' => {
                    self.i += 1;
                    self.out.push(',');
                }
                b'}' => {
                    self.i += 1;
                    self.out.push('}');
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both paths on `text`: the streaming one must answer with the reference's bytes.
    fn agree(text: &str) -> bool {
        let mut out = String::new();
        let answered = streaming(text, &mut out);
        if answered {
            assert_eq!(Some(&out), by_value(text).as_ref(), "{text}");
        }
        answered
    }

    #[test]
    fn secrets_are_replaced_and_the_rest_written_compact() {
        let t = r#"{ "credentials" : {"accessKeyId":"ASIA1", "sessionToken" : "SECRET",
            "expiration":"Nov 30, 2024"}, "n": [1, -2, true, false, null, {}, []],
            "Password": {"nested": ["x"]}, "samlAssertion": null, "ünï": "cödé"}"#;
        let mut out = String::new();
        assert!(streaming(t, &mut out));
        assert_eq!(
            out,
            r#"{"credentials":{"accessKeyId":"ASIA1","sessionToken":"<redacted>","expiration":"Nov 30, 2024"},"n":[1,-2,true,false,null,{},[]],"Password":"<redacted>","samlAssertion":null,"ünï":"cödé"}"#
        );
        assert!(agree(t));
    }

    #[test]
    fn documents_serde_would_write_otherwise_take_the_reference_path() {
        for t in [
            r#"{"a":"x\"y","sessionToken":"s"}"#,
            r#"{"\u0073essionToken":"s"}"#,
            r#"{"a":1.5,"password":"p"}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":12345678901234567890}"#,
            r#"{"password":"a","password":null}"#,
            r#"{"a":1,"b":2,"a":3}"#,
        ] {
            assert!(!agree(t), "{t}");
        }
        let deep = format!("{}1{}", "[".repeat(150), "]".repeat(150));
        assert!(!agree(&deep));
        // The same key in different objects is no repeat.
        assert!(agree(
            r#"{"a":{"a":1},"b":[{"a":2},{"a":3}],"password":"p"}"#
        ));
        assert!(agree(
            r#"[0, -7, 123456789012345678, "password", {"newPassword": [1, {"x": 2}]}]"#
        ));
    }

    #[test]
    fn every_fixture_document_agrees_with_the_reference() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (mut docs, mut answered) = (0, 0);
        for dir in ["sample-logs", "tests/fixtures/datasets"] {
            for entry in walkdir::WalkDir::new(root.join(dir)).sort_by_file_name() {
                let entry = entry.unwrap();
                if !entry.file_type().is_file() {
                    continue;
                }
                let text = crate::ingest::decode::decode(std::fs::read(entry.path()).unwrap());
                let Ok(text) = std::str::from_utf8(&text.bytes) else {
                    continue;
                };
                // The whole file, and each record's documents.
                let mut all = vec![text.to_string()];
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                    let records = v["Records"].as_array().cloned().unwrap_or_default();
                    for r in records {
                        for k in [
                            "requestParameters",
                            "responseElements",
                            "additionalEventData",
                        ] {
                            if !r[k].is_null() {
                                all.push(r[k].to_string());
                            }
                        }
                    }
                }
                for d in &all {
                    docs += 1;
                    answered += usize::from(agree(d));
                }
            }
        }
        assert!(
            docs > 500 && answered * 10 > docs * 9,
            "{answered} of {docs}"
        );
    }
}
