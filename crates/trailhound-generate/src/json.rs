//! A tiny, allocation-light JSON object writer with a fixed key order (CloudTrail's order), so
//! the output does not depend on serde_json's map features.

/// Appends `s` as a JSON string literal.
pub(crate) fn esc(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0..=0x1F => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match rep {
            Some(r) => out.push_str(r),
            None => out.push_str(&format!("\\u{b:04x}")),
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Builds one JSON object, key by key, in the order the keys are added.
pub(crate) struct Obj {
    buf: String,
    empty: bool,
}

impl Obj {
    pub(crate) fn new() -> Obj {
        Obj {
            buf: String::from("{"),
            empty: true,
        }
    }

    fn key(&mut self, k: &str) {
        if !self.empty {
            self.buf.push(',');
        }
        self.empty = false;
        esc(&mut self.buf, k);
        self.buf.push(':');
    }

    /// A string value.
    pub(crate) fn s(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        esc(&mut self.buf, v);
        self
    }

    /// A string value, only when present.
    pub(crate) fn os(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.s(k, v),
            None => self,
        }
    }

    /// A value that is already JSON text.
    pub(crate) fn raw(mut self, k: &str, v: &str) -> Obj {
        self.key(k);
        self.buf.push_str(v);
        self
    }

    /// A JSON-text value, only when present.
    pub(crate) fn oraw(self, k: &str, v: Option<&str>) -> Obj {
        match v {
            Some(v) => self.raw(k, v),
            None => self,
        }
    }

    pub(crate) fn n(mut self, k: &str, v: i64) -> Obj {
        self.key(k);
        self.buf.push_str(&v.to_string());
        self
    }

    pub(crate) fn b(mut self, k: &str, v: bool) -> Obj {
        self.key(k);
        self.buf.push_str(if v { "true" } else { "false" });
        self
    }

    /// An array of strings.
    pub(crate) fn strs(mut self, k: &str, vs: &[&str]) -> Obj {
        self.key(k);
        self.buf.push('[');
        for (i, v) in vs.iter().enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            esc(&mut self.buf, v);
        }
        self.buf.push(']');
        self
    }

    pub(crate) fn end(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// `[a,b,...]` of JSON texts.
pub(crate) fn array(items: &[String]) -> String {
    let mut s = String::from("[");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(it);
    }
    s.push(']');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_valid_json() {
        let o = Obj::new()
            .s("a", "x\"y\\z\n")
            .n("b", -3)
            .b("c", true)
            .raw("d", "null")
            .os("e", None)
            .strs("f", &["p", "q"])
            .end();
        let v: serde_json::Value = serde_json::from_str(&o).unwrap();
        assert_eq!(v["a"], "x\"y\\z\n");
        assert_eq!(v["f"][1], "q");
        assert_eq!(
            o,
            r#"{"a":"x\"y\\z\n","b":-3,"c":true,"d":null,"f":["p","q"]}"#
        );
    }
}
