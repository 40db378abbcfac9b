//! A rule's detection (YAML) -> the values of `eventName`, `eventSource`, `userAgent` and
//! `userIdentity.type` it can match at all, found by reading its condition: a record whose value
//! is outside the set is not evaluated (the reader has these four at hand without reading the
//! record again).
//!
//! Conservative by construction: anything not understood (a modifier, a wildcard, a keyword
//! list, `not`, a condition that does not parse) leaves the field unconstrained, so the gate only
//! ever skips records the rule cannot match. Sigma compares plain strings without case, and so
//! does the gate.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The fields gated, as named in CloudTrail records.
pub const GATED: [&str; 4] = ["eventName", "eventSource", "userAgent", "userIdentity.type"];

/// For each of [`GATED`]: the lowercase values the rule can match, or `None` for any.
pub type Gate = [Option<BTreeSet<String>>; 4];

/// The gate of a rule's `detection` section.
pub fn gate(detection: &Map<String, Value>) -> Gate {
    let conditions: Vec<&str> = match detection.get("condition") {
        Some(Value::String(c)) => vec![c.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut out: Gate = Default::default();
    if conditions.is_empty() {
        return out;
    }
    for (i, field) in GATED.iter().enumerate() {
        // Several conditions are alternatives.
        let mut all: Option<BTreeSet<String>> = Some(BTreeSet::new());
        for c in &conditions {
            let tokens = tokenize(c);
            let mut p = Parser {
                tokens: &tokens,
                at: 0,
                detection,
                field,
            };
            let set = match p.expr() {
                Some(s) if p.at == tokens.len() => s,
                _ => None,
            };
            all = union(all, set);
        }
        out[i] = all;
    }
    out
}

fn tokenize(c: &str) -> Vec<String> {
    c.replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn union(a: Option<BTreeSet<String>>, b: Option<BTreeSet<String>>) -> Option<BTreeSet<String>> {
    let (mut a, b) = (a?, b?);
    a.extend(b);
    Some(a)
}

fn intersect(a: Option<BTreeSet<String>>, b: Option<BTreeSet<String>>) -> Option<BTreeSet<String>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

struct Parser<'a> {
    tokens: &'a [String],
    at: usize,
    detection: &'a Map<String, Value>,
    field: &'a str,
}

/// Parse results: `None` = the condition is not understood; `Some(None)` = any value.
type Parsed = Option<Option<BTreeSet<String>>>;

impl Parser<'_> {
    fn peek(&self) -> Option<String> {
        self.tokens.get(self.at).map(|t| t.to_ascii_lowercase())
    }

    fn expr(&mut self) -> Parsed {
        let mut acc = self.term()?;
        while self.peek().as_deref() == Some("or") {
            self.at += 1;
            acc = union(acc, self.term()?);
        }
        Some(acc)
    }

    fn term(&mut self) -> Parsed {
        let mut acc = self.factor()?;
        while self.peek().as_deref() == Some("and") {
            self.at += 1;
            acc = intersect(acc, self.factor()?);
        }
        Some(acc)
    }

    fn factor(&mut self) -> Parsed {
        let t = self.peek()?;
        self.at += 1;
        match t.as_str() {
            "not" => {
                self.factor()?;
                Some(None)
            }
            "(" => {
                let e = self.expr()?;
                (self.peek().as_deref() == Some(")")).then_some(())?;
                self.at += 1;
                Some(e)
            }
            "1" | "any" | "all" => {
                (self.peek().as_deref() == Some("of")).then_some(())?;
                self.at += 1;
                let pattern = self.tokens.get(self.at)?.clone();
                self.at += 1;
                let names: Vec<&String> = self
                    .detection
                    .keys()
                    .filter(|k| *k != "condition")
                    .filter(|k| pattern == "them" || glob(&pattern, k))
                    .collect();
                if names.is_empty() {
                    return None;
                }
                let sets = names.iter().map(|n| self.selection(n));
                Some(if t == "all" {
                    sets.fold(None, intersect)
                } else {
                    sets.fold(Some(BTreeSet::new()), union)
                })
            }
            ")" | "and" | "or" | "of" => None,
            _ => {
                let name = self.tokens[self.at - 1].clone();
                self.detection.contains_key(&name).then_some(())?;
                Some(self.selection(&name))
            }
        }
    }

    /// The values a selection allows for the field.
    fn selection(&self, name: &str) -> Option<BTreeSet<String>> {
        match self.detection.get(name)? {
            Value::Object(m) => self.group(m),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::Object(m) => self.group(m),
                    _ => None,
                })
                .fold(Some(BTreeSet::new()), union),
            _ => None,
        }
    }

    /// A field map: the plain (modifier-free) values of the field, when all are plain literals.
    fn group(&self, m: &Map<String, Value>) -> Option<BTreeSet<String>> {
        let values = match m.get(self.field)? {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let mut out = BTreeSet::new();
        for v in values {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            if s.contains(['*', '?', '\\']) {
                return None;
            }
            out.insert(s.to_lowercase());
        }
        Some(out)
    }
}

/// Sigma's selection-name patterns: `*` for any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && name.len() >= head.len()
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i) && glob(tail, &name[head.len() + i..])
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(yaml: &str) -> Map<String, Value> {
        serde_norway::from_str(yaml).unwrap()
    }

    fn names(g: &Gate) -> Option<Vec<&str>> {
        g[0].as_ref()
            .map(|s| s.iter().map(String::as_str).collect())
    }

    #[test]
    fn conditions_give_the_names_a_rule_can_match() {
        let g = gate(&det(
            "sel:\n  eventSource: s3.amazonaws.com\n  eventName: [PutBucketVersioning, DeleteBucket]\nfilter:\n  eventName: DeleteBucket\ncondition: sel and not filter\n",
        ));
        assert_eq!(names(&g), Some(vec!["deletebucket", "putbucketversioning"]));
        assert_eq!(g[1].as_ref().unwrap().len(), 1);

        let g = gate(&det(
            "selection_event:\n  eventName: SendCommand\nselection_status_success:\n  errorCode: Success\nselection_status_null:\n  errorCode: null\ncondition: selection_event and 1 of selection_status_*\n",
        ));
        assert_eq!(names(&g), Some(vec!["sendcommand"]));

        let g = gate(&det(
            "a:\n  eventName: X\nb:\n  userAgent: y\ncondition: a or b\n",
        ));
        assert_eq!(names(&g), None);
        let g = gate(&det(
            "a:\n  - eventName: X\n  - eventName: Y\ncondition: 1 of them\n",
        ));
        assert_eq!(names(&g), Some(vec!["x", "y"]));
    }

    #[test]
    fn what_is_not_understood_is_not_gated() {
        for d in [
            "a:\n  eventName|startswith: X\ncondition: a\n",
            "a:\n  eventName: X*\ncondition: a\n",
            "a:\n  eventName: X\ncondition: not a\n",
            "a:\n  eventName: X\ncondition: a and (\n",
            "a:\n  - x\ncondition: a\n",
            "a:\n  eventName: X\ncondition: a | count() > 3\n",
        ] {
            assert_eq!(names(&gate(&det(d))), None, "{d}");
        }
    }
}
