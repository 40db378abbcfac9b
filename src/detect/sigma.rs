//! Sigma rules on CloudTrail records: rule files -> [`RuleSet`] (the rules that run, and every
//! file that does not with its reason) -> rule hits on each record's own JSON
//! ([`RuleSet::matching`], called by the reader as each record is parsed, see
//! [`crate::event::RecordRules`]) -> [`SigmaMatcher`], which folds the hits of each time-ordered
//! slice into one `sigma` finding per rule and principal.
//!
//! Rules are evaluated by the `sigma-rust` crate (every field modifier but `expand`, Sigma's
//! condition syntax, no correlation rules). Field names are CloudTrail's own, as dotted paths into
//! the record (`userIdentity.sessionContext.sessionIssuer.arn`). Only rules whose logsource is
//! `product: aws, service: cloudtrail` run; the others are listed as not for CloudTrail.
//!
//! A record is not turned into a whole JSON tree: only the keys the loaded rules can reach are
//! kept (every dotted prefix of every field a rule names, and the fields `|fieldref` names), which
//! is exactly what `sigma-rust`'s field lookup can see. A rule with keyword (fieldless) selections
//! searches every value, so its presence makes the whole record kept.
//!
//! Two gaps between `sigma-rust` 0.7 and Sigma as pySigma reads it are closed on the record side:
//! `field: null` means "null or absent" in Sigma (CloudTrail omits `errorCode` on success, and
//! SigmaHQ's rules test `errorCode: null`), but the library matches only an explicit null, so a
//! field a rule compares with `null` is added as `null` to a record that lacks it; and the
//! library matches nothing inside a list (`requestParameters.layers|contains`), so a list a rule
//! names is matched as its JSON text, as Zircolite's flattened tables do.

use crate::detect::finding::{Finding, Kind, Place, Severity, SigmaHit};
use crate::detect::{chain_of, principal_of, DetectConfig};
use crate::event::{format_iso, Event, Millis, RecordRules};
use crate::geoip::GeoIp;
use crate::graph::{Graph, Lookup};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

mod gate;

/// Event ids a finding lists as evidence at most (the first ones in time order); `events`
/// counts them all.
pub const EVIDENCE_CAP: usize = 20;

/// The principal of events no session or identity names.
pub const UNKNOWN_PRINCIPAL: &str = "unknown";

/// Why a rule file runs or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Parsed, for CloudTrail: it runs.
    Ok,
    /// Valid Sigma, but a feature the library does not evaluate (correlation rules, rule
    /// collections, unknown modifiers).
    Unsupported,
    /// Not a Sigma rule the library can read (bad YAML, no detection, a bad condition).
    Invalid,
    /// A rule for another log source: skipped.
    NotForCloudtrail,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Unsupported => "unsupported",
            Status::Invalid => "invalid",
            Status::NotForCloudtrail => "not_for_cloudtrail",
        }
    }

    /// True when the rule should have run but cannot.
    pub fn failed(&self) -> bool {
        matches!(self, Status::Unsupported | Status::Invalid)
    }
}

/// One rule file as loaded: what `sigma lint` lists.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub file: String,
    pub status: Status,
    pub id: Option<String>,
    pub title: Option<String>,
    /// Why it does not run (empty when it does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A rule that runs.
#[derive(Debug)]
pub struct SigmaRule {
    pub file: String,
    /// The rule's `id`, or its file name when it has none.
    pub id: String,
    pub title: String,
    /// The rule's `level` as written (lowercase); `medium` when it has none.
    pub level: String,
    pub severity: Severity,
    /// MITRE ATT&CK tags (`attack.*`).
    pub tags: Vec<String>,
    rule: sigma_rust::Rule,
    /// The `eventName`/`eventSource` values the rule can match at all.
    gate: gate::Gate,
}

/// Why rules could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    #[error("no such file or folder: {0}")]
    NotFound(String),
    #[error("cannot read {path}: {reason}")]
    Walk { path: String, reason: String },
}

/// Keys of a record the rules can reach: a tree of dotted-path prefixes.
#[derive(Debug, Default)]
struct Reach {
    /// Keep the whole value under this key.
    whole: bool,
    children: HashMap<String, Reach>,
}

impl Reach {
    /// Adds a field path as `sigma-rust` looks it up: at each level the whole remaining path is
    /// tried as one key first, then its first dotted part as a nested object.
    fn add(&mut self, path: &str) {
        self.children.entry(path.to_string()).or_default().whole = true;
        for (i, _) in path.match_indices('.') {
            self.children
                .entry(path[..i].to_string())
                .or_default()
                .add(&path[i + 1..]);
        }
    }
}

/// The rules that run, and a verdict for every rule file read.
#[derive(Debug)]
pub struct RuleSet {
    pub rules: Vec<SigmaRule>,
    /// Every file, in the order read (paths in argument order, folders walked in name order).
    pub verdicts: Vec<Verdict>,
    reach: Reach,
    /// Fields compared with `null`: a record without them gets them as `null` (see
    /// [`RuleSet::matching`]).
    nulls: Vec<String>,
    /// Rules by the (lowercase) eventNames their condition allows, and the rules that allow any.
    by_name: HashMap<String, Vec<u32>>,
    any_name: Vec<u32>,
    /// What the ungated rules alone reach.
    reach_ungated: Reach,
    nulls_ungated: Vec<String>,
    /// Some rule searches keywords in every value: keep whole records.
    whole_record: bool,
}

/// Severity of a Sigma level.
pub fn severity_of(level: &str) -> Option<Severity> {
    Some(match level {
        "informational" => Severity::Info,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

fn scalar(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The rule files under the paths: files as given, folders walked for `.yml`/`.yaml` in name
/// order.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SigmaError> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(SigmaError::NotFound(p.display().to_string()));
        }
        if p.is_file() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| SigmaError::Walk {
                path: p.display().to_string(),
                reason: e.to_string(),
            })?;
            let is_rule = entry
                .path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"));
            if entry.file_type().is_file() && is_rule {
                found.push(entry.into_path());
            }
        }
        out.extend(found);
    }
    Ok(out)
}

/// Loads every rule under the paths; a file that cannot run gets its verdict and the rest run.
pub fn load(paths: &[PathBuf]) -> Result<RuleSet, SigmaError> {
    let mut set = RuleSet {
        rules: Vec::new(),
        verdicts: Vec::new(),
        reach: Reach::default(),
        nulls: Vec::new(),
        by_name: HashMap::new(),
        any_name: Vec::new(),
        reach_ungated: Reach::default(),
        nulls_ungated: Vec::new(),
        whole_record: false,
    };
    for file in rule_files(paths)? {
        let name = file.display().to_string();
        let (verdict, rule) = match std::fs::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => judge(&name, &file, &t),
                Err(e) => (
                    bad(
                        &name,
                        Status::Invalid,
                        None,
                        None,
                        format!("not UTF-8: {e}"),
                    ),
                    None,
                ),
            },
            Err(e) => (
                bad(
                    &name,
                    Status::Invalid,
                    None,
                    None,
                    format!("cannot read: {e}"),
                ),
                None,
            ),
        };
        if let Some((rule, fields)) = rule {
            for f in &fields.paths {
                set.reach.add(f);
                if rule.ungated() {
                    set.reach_ungated.add(f);
                }
            }
            if rule.ungated() {
                set.nulls_ungated.extend(fields.nulls.iter().cloned());
            }
            set.nulls.extend(fields.nulls);
            set.whole_record |= fields.keywords;
            set.rules.push(rule);
        }
        set.verdicts.push(verdict);
    }
    set.nulls.sort();
    set.nulls.dedup();
    set.nulls_ungated.sort();
    set.nulls_ungated.dedup();
    for (i, r) in set.rules.iter().enumerate() {
        match &r.gate[0] {
            Some(names) => {
                for n in names {
                    set.by_name.entry(n.clone()).or_default().push(i as u32);
                }
            }
            None => set.any_name.push(i as u32),
        }
    }
    Ok(set)
}

fn bad(
    file: &str,
    status: Status,
    id: Option<String>,
    title: Option<String>,
    reason: String,
) -> Verdict {
    Verdict {
        file: file.to_string(),
        status,
        id,
        title,
        reason: Some(reason),
    }
}

/// The fields a rule's detection names.
#[derive(Default)]
struct Fields {
    paths: Vec<String>,
    /// Fields a rule compares with `null` (no modifier).
    nulls: Vec<String>,
    keywords: bool,
}

fn fields_of(detection: &serde_json::Map<String, Value>) -> Fields {
    let mut f = Fields::default();
    let group = |m: &serde_json::Map<String, Value>, f: &mut Fields| {
        for (key, value) in m {
            let mut parts = key.split('|');
            let path = parts.next().unwrap_or_default().to_string();
            let is_null = |v: &Value| v.is_null();
            let plain = !key.contains('|');
            if plain && (value.is_null() || value.as_array().is_some_and(|a| a.iter().any(is_null)))
            {
                f.nulls.push(path.clone());
            }
            f.paths.push(path);
            if parts.any(|m| m.eq_ignore_ascii_case("fieldref")) {
                let refs = match value {
                    Value::Array(a) => a.clone(),
                    v => vec![v.clone()],
                };
                for r in refs {
                    match r {
                        Value::String(s) => f.paths.push(s),
                        Value::Number(n) => f.paths.push(n.to_string()),
                        _ => {}
                    }
                }
            }
        }
    };
    for (name, sel) in detection {
        if name == "condition" {
            continue;
        }
        match sel {
            Value::Object(m) => group(m, &mut f),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(m) => group(m, &mut f),
                        _ => f.keywords = true,
                    }
                }
            }
            _ => f.keywords = true,
        }
    }
    f
}

/// Judges one rule file's text.
fn judge(name: &str, file: &Path, text: &str) -> (Verdict, Option<(SigmaRule, Fields)>) {
    // One YAML document per rule: collections (`action: global`, `---`) are not read.
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(text) {
        match Value::deserialize(doc) {
            Ok(v) => docs.push(v),
            Err(e) => {
                return (
                    bad(name, Status::Invalid, None, None, format!("YAML: {e}")),
                    None,
                )
            }
        }
    }
    let doc = match docs.len() {
        1 => docs.pop().unwrap_or_default(),
        0 => return (bad(name, Status::Invalid, None, None, "empty file".into()), None),
        n => {
            return (
                bad(
                    name,
                    Status::Unsupported,
                    None,
                    None,
                    format!("a rule collection ({n} YAML documents in one file): not supported by sigma-rust"),
                ),
                None,
            )
        }
    };
    let id = text_of(&doc, "id");
    let title = text_of(&doc, "title");
    if !doc.is_object() {
        return (
            bad(
                name,
                Status::Invalid,
                id,
                title,
                "not a YAML mapping".into(),
            ),
            None,
        );
    }
    if doc.get("correlation").is_some() {
        return (
            bad(
                name,
                Status::Unsupported,
                id,
                title,
                "a correlation rule: sigma-rust 0.7 does not evaluate correlations".into(),
            ),
            None,
        );
    }
    let Some(Value::Object(detection)) = doc.get("detection") else {
        return (
            bad(
                name,
                Status::Invalid,
                id,
                title,
                "no detection section".into(),
            ),
            None,
        );
    };
    let logsource = doc.get("logsource");
    let ls = |k: &str| {
        logsource
            .and_then(|l| scalar(l, k))
            .map(|s| s.to_ascii_lowercase())
    };
    let (product, service) = (ls("product"), ls("service"));
    if product.as_deref() != Some("aws") || service.as_deref() != Some("cloudtrail") {
        return (
            bad(
                name,
                Status::NotForCloudtrail,
                id,
                title,
                format!(
                    "logsource product {}, service {}",
                    product.as_deref().unwrap_or("(none)"),
                    service.as_deref().unwrap_or("(none)")
                ),
            ),
            None,
        );
    }
    let level = text_of(&doc, "level")
        .map(|l| l.to_ascii_lowercase())
        .unwrap_or_else(|| "medium".into());
    let Some(severity) = severity_of(&level) else {
        return (
            bad(
                name,
                Status::Invalid,
                id,
                title,
                format!(
                    "unknown level `{level}`, must be: informational, low, medium, high, critical"
                ),
            ),
            None,
        );
    };
    let rule = match sigma_rust::rule_from_yaml(text) {
        Ok(r) => r,
        Err(e) => {
            let reason = e.to_string();
            // Modifiers the library does not know are a feature it lacks, not a broken rule.
            let status = if reason.contains("Unknown field modifier") {
                Status::Unsupported
            } else {
                Status::Invalid
            };
            return (bad(name, status, id, title, reason), None);
        }
    };
    let fields = fields_of(detection);
    let gate = gate::gate(detection);
    let tags = match doc.get("tags") {
        Some(Value::Array(t)) => t
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| t.starts_with("attack."))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let rule_id = id.clone().unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_string())
    });
    let rule_title = title.clone().unwrap_or_else(|| rule_id.clone());
    (
        Verdict {
            file: name.to_string(),
            status: Status::Ok,
            id,
            title,
            reason: None,
        },
        Some((
            SigmaRule {
                file: name.to_string(),
                id: rule_id,
                title: rule_title,
                level,
                severity,
                tags,
                rule,
                gate,
            },
            fields,
        )),
    )
}

fn text_of(doc: &Value, key: &str) -> Option<String> {
    scalar(doc, key).filter(|s| !s.is_empty())
}

impl RuleSet {
    /// Files whose rules do not run because they cannot (invalid or unsupported).
    pub fn failed(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.status.failed())
    }

    /// Files skipped because their rules are for another log source.
    pub fn not_for_cloudtrail(&self) -> usize {
        self.verdicts
            .iter()
            .filter(|v| v.status == Status::NotForCloudtrail)
            .count()
    }

    /// The record as the rules see it: only the keys they can reach, lists as their JSON
    /// text, fields compared with `null` present (as `null`) when the record lacks them.
    /// `ungated`: only for the rules every record is evaluated with (fewer keys to keep).
    fn record_map(&self, record: &str, ungated: bool) -> Option<Map<String, Value>> {
        let (reach, nulls) = if ungated {
            (&self.reach_ungated, &self.nulls_ungated)
        } else {
            (&self.reach, &self.nulls)
        };
        let mut de = serde_json::Deserializer::from_str(record);
        let mut map = if self.whole_record {
            let mut v = Value::deserialize(&mut de).ok()?;
            textify(&mut v, reach, false);
            match v {
                Value::Object(m) => m,
                _ => return None,
            }
        } else {
            Prune(reach).deserialize(&mut de).ok()??
        };
        for path in nulls {
            if !reaches(&map, path) {
                map.insert(path.clone(), Value::Null);
            }
        }
        Some(map)
    }
}

/// Lists at paths a rule names become their JSON text: sigma-rust matches no value inside a
/// list, Zircolite's flattened tables match the list's text.
fn textify(v: &mut Value, reach: &Reach, named: bool) {
    match v {
        Value::Array(_) if named => *v = Value::String(v.to_string()),
        Value::Object(map) => {
            for (k, child) in &reach.children {
                if let Some(x) = map.get_mut(k) {
                    textify(x, child, child.whole);
                }
            }
        }
        _ => {}
    }
}

/// Whether `sigma-rust`'s field lookup finds `key` in the record: the whole key at each level
/// first, then its first dotted part as a nested object.
fn reaches(map: &Map<String, Value>, key: &str) -> bool {
    if map.contains_key(key) {
        return true;
    }
    let (mut current, mut nested) = (map, key);
    while let Some((head, tail)) = nested.split_once('.') {
        match current.get(head) {
            Some(Value::Object(m)) => {
                if m.contains_key(tail) {
                    return true;
                }
                current = m;
                nested = tail;
            }
            _ => return false,
        }
    }
    false
}

/// Whether a gated value lets a rule through: in its set (Sigma compares without case), or
/// not a plain ASCII string the set can be checked against.
fn passes(set: &Option<BTreeSet<String>>, value: Option<&str>) -> bool {
    match (set, value) {
        (Some(set), Some(v)) if v.is_ascii() => set.iter().any(|s| s.eq_ignore_ascii_case(v)),
        _ => true,
    }
}

impl RecordRules for RuleSet {
    fn matching(&self, record: &str, event: &Event) -> Option<Box<[u32]>> {
        // Rules whose condition needs another eventName/eventSource are not evaluated, and a
        // record no rule lets through is not read again.
        let keys = [
            event.event_name.as_deref(),
            event.event_source.as_deref(),
            event.user_agent.as_deref(),
            event.identity_type.as_deref(),
        ];
        let gated = |&i: &u32| {
            let r = &self.rules[i as usize];
            r.gate.iter().zip(keys).all(|(g, k)| passes(g, k))
        };
        // The rules for this eventName (and those for any), looked up rather than scanned.
        let mut candidates: Vec<u32> = match event.event_name.as_deref() {
            Some(n) if n.is_ascii() => self
                .by_name
                .get(n.to_ascii_lowercase().as_str())
                .into_iter()
                .flatten()
                .chain(&self.any_name)
                .copied()
                .filter(gated)
                .collect(),
            _ => (0..self.rules.len() as u32).filter(gated).collect(),
        };
        candidates.sort_unstable();
        if candidates.is_empty() {
            return None;
        }
        let ungated = candidates.iter().all(|&i| self.rules[i as usize].ungated());
        let map = self.record_map(record, ungated)?;
        let event = sigma_rust::Event::try_from(Value::Object(map)).ok()?;
        let hits: Vec<u32> = candidates
            .into_iter()
            .filter(|&i| self.rules[i as usize].rule.is_match(&event))
            .collect();
        (!hits.is_empty()).then(|| hits.into_boxed_slice())
    }
}

impl RuleSet {
    /// The rules every record is evaluated with (their condition pins none of the gated
    /// fields).
    pub fn ungated(&self) -> impl Iterator<Item = &SigmaRule> {
        self.rules.iter().filter(|r| r.ungated())
    }
}

impl SigmaRule {
    fn ungated(&self) -> bool {
        self.gate.iter().all(Option::is_none)
    }
}

/// Reads a JSON object keeping only the keys in the tree; `None` for any other value.
struct Prune<'r>(&'r Reach);

impl<'de> DeserializeSeed<'de> for Prune<'_> {
    type Value = Option<Map<String, Value>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A map key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for Prune<'_> {
    type Value = Option<Map<String, Value>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(Key(k)) = m.next_key::<Key>()? {
            match self.0.children.get(k.as_ref()) {
                Some(r) if r.whole => {
                    let mut v: Value = m.next_value()?;
                    textify(&mut v, r, true);
                    out.insert(k.into_owned(), v);
                }
                Some(r) => {
                    if let Some(inner) = m.next_value_seed(Prune(r))? {
                        out.insert(k.into_owned(), Value::Object(inner));
                    }
                }
                None => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// The first matching event of a group (smallest time, then event id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct First {
    time: Millis,
    id: Option<String>,
    key: Option<String>,
    account: Option<String>,
    source_ip: Option<String>,
}

impl First {
    fn of(e: &Event) -> First {
        First {
            time: e.event_time,
            id: e.event_id.as_deref().map(str::to_string),
            key: e.access_key_id.as_deref().map(str::to_string),
            account: e
                .recipient_account_id
                .as_deref()
                .or(e.account_id.as_deref())
                .map(str::to_string),
            source_ip: e.source_ip.as_deref().map(str::to_string),
        }
    }

    fn order(&self) -> (Millis, Option<&str>) {
        (self.time, self.id.as_deref())
    }
}

/// What one rule matched of one principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    events: u64,
    first: First,
    last: Millis,
    /// (time, event id), the smallest [`EVIDENCE_CAP`] once trimmed.
    evidence: Vec<(Millis, String)>,
}

impl Group {
    fn trim(&mut self) {
        self.evidence.sort();
        self.evidence.dedup();
        self.evidence.truncate(EVIDENCE_CAP);
    }

    fn absorb(&mut self, o: Group) {
        self.events += o.events;
        if o.first.order() < self.first.order() {
            self.first = o.first;
        }
        self.last = self.last.max(o.last);
        self.evidence.extend(o.evidence);
        self.trim();
    }
}

/// Sigma rule hits folded slice by slice into one group per rule and principal; the same
/// findings whatever the slicing, thread count or file order.
pub struct SigmaMatcher<'a> {
    rules: &'a RuleSet,
    geo: &'a GeoIp,
    cfg: &'a DetectConfig,
    /// (rule index, principal) -> group.
    groups: BTreeMap<(u32, String), Group>,
}

/// A [`SigmaMatcher`]'s state as saved between runs, keyed by rule id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SavedSigma {
    groups: Vec<(String, String, Group)>,
}

impl<'a> SigmaMatcher<'a> {
    pub fn new(rules: &'a RuleSet, geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        SigmaMatcher {
            rules,
            geo,
            cfg,
            groups: BTreeMap::new(),
        }
    }

    /// Folds the hits of a slice; principals are resolved with the sessions known so far.
    pub fn observe(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            let Some(hits) = &e.rule_hits else {
                continue;
            };
            let principal =
                principal_of(sessions, e).unwrap_or_else(|| UNKNOWN_PRINCIPAL.to_string());
            for &rule in hits.iter() {
                if rule as usize >= self.rules.rules.len() {
                    continue;
                }
                let group = Group {
                    events: 1,
                    first: First::of(e),
                    last: e.event_time,
                    evidence: e
                        .event_id
                        .as_deref()
                        .map(|id| vec![(e.event_time, id.to_string())])
                        .unwrap_or_default(),
                };
                match self.groups.get_mut(&(rule, principal.clone())) {
                    Some(g) => {
                        g.events += 1;
                        g.last = g.last.max(e.event_time);
                        if group.first.order() < g.first.order() {
                            g.first = group.first;
                        }
                        g.evidence.extend(group.evidence);
                        if g.evidence.len() >= 4 * EVIDENCE_CAP {
                            g.trim();
                        }
                    }
                    None => {
                        self.groups.insert((rule, principal.clone()), group);
                    }
                }
            }
        }
    }

    /// Adds another matcher's groups (another shard of the input, same rules).
    pub fn merge(mut self, other: SigmaMatcher<'a>) -> SigmaMatcher<'a> {
        for (k, g) in other.groups {
            match self.groups.get_mut(&k) {
                Some(mine) => mine.absorb(g),
                None => {
                    self.groups.insert(k, g);
                }
            }
        }
        self
    }

    /// What to carry to the next run.
    pub fn saved(&self) -> SavedSigma {
        SavedSigma {
            groups: self
                .groups
                .iter()
                .map(|((r, p), g)| {
                    let mut g = g.clone();
                    g.trim();
                    (self.rules.rules[*r as usize].id.clone(), p.clone(), g)
                })
                .collect(),
        }
    }

    /// A matcher that goes on from a saved state; groups of rules no longer loaded are dropped.
    pub fn restore(
        rules: &'a RuleSet,
        geo: &'a GeoIp,
        cfg: &'a DetectConfig,
        saved: SavedSigma,
    ) -> Self {
        let index: HashMap<&str, u32> = rules
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i as u32))
            .collect();
        let mut m = SigmaMatcher::new(rules, geo, cfg);
        for (id, p, g) in saved.groups {
            if let Some(&i) = index.get(id.as_str()) {
                m.groups.insert((i, p), g);
            }
        }
        m
    }

    /// One finding per rule and principal (allowlisted principals left out), in output order.
    pub fn findings(&self, graph: &Graph) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .groups
            .iter()
            .filter(|((_, p), _)| !self.cfg.allowlist.principals.iter().any(|a| a == p))
            .map(|((r, principal), g)| {
                let rule = &self.rules.rules[*r as usize];
                let mut g = g.clone();
                g.trim();
                let place = match g.first.source_ip.as_deref() {
                    Some(ip) => {
                        let i = self.geo.lookup(ip);
                        Place {
                            source_ip: Some(ip.to_string()),
                            country: i.country,
                            asn: i.asn,
                            as_org: i.as_org,
                        }
                    }
                    None => Place::default(),
                };
                let n = g.events;
                let plural = if n == 1 { "event" } else { "events" };
                Finding {
                    kind: Kind::Sigma,
                    severity: rule.severity,
                    time: g.first.time,
                    principal: principal.clone(),
                    access_key_id: g.first.key.clone(),
                    account: g.first.account.clone(),
                    place,
                    summary: format!("Sigma rule \"{}\" matched {n} {plural}", rule.title),
                    reason: format!(
                        "rule {} ({}, level {}) matched {n} {plural} of this principal from {} to {}",
                        rule.id,
                        rule.file,
                        rule.level,
                        format_iso(g.first.time),
                        format_iso(g.last)
                    ),
                    evidence_event_ids: g.evidence.into_iter().map(|(_, id)| id).collect(),
                    events: Some(n),
                    last_time: Some(g.last),
                    chain: chain_of(graph, g.first.key.as_deref()),
                    sigma: Some(SigmaHit {
                        rule_id: rule.id.clone(),
                        rule_title: rule.title.clone(),
                        level: rule.level.clone(),
                        tags: rule.tags.clone(),
                    }),
                    respond: None,
                }
            })
            .collect();
        out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        out
    }

    /// Matching events per rule id, all principals together (allowlisted ones included).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((r, _), g) in &self.groups {
            *out.entry(self.rules.rules[*r as usize].id.clone())
                .or_default() += g.events;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{normalize, raw::RawRecord, Interner};

    /// The rules that match a record (given a time when it has none, as the reader needs one).
    fn hits(set: &RuleSet, rec: &str) -> Option<Vec<u32>> {
        let mut v: Value = serde_json::from_str(rec).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.entry("eventTime")
                .or_insert("2024-01-01T00:00:00Z".into());
        } else {
            v = serde_json::json!({"eventTime": "2024-01-01T00:00:00Z"});
        }
        let text = v.to_string();
        let raw: RawRecord = serde_json::from_str(&text).unwrap();
        let ev = normalize(&raw, &mut Interner::default()).unwrap();
        set.matching(rec, &ev).map(Vec::from)
    }

    #[test]
    fn shipped_rules_all_run_and_most_are_gated() {
        let set =
            load(&[PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/sigma/aws-cloudtrail")])
                .unwrap();
        assert_eq!(set.rules.len(), 53);
        assert_eq!(set.failed().count(), 0);
        // Its only field is userIdentity.arn|re: every record is evaluated with it.
        let ungated: Vec<&str> = set.ungated().map(|r| r.title.as_str()).collect();
        assert_eq!(
            ungated,
            ["Malicious Usage Of IMDS Credentials Outside Of AWS Infrastructure"]
        );
    }

    fn rules(files: &[(&str, &str)]) -> (tempfile::TempDir, RuleSet) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let set = load(&[dir.path().to_path_buf()]).unwrap();
        (dir, set)
    }

    const STOP: &str = "title: Stop trail\nid: r-stop\nlevel: high\ntags: [attack.defense-evasion, attack.t1562.008, cve.x]\n\
logsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n      - DeleteTrail\n  condition: selection\n";

    #[test]
    fn only_reachable_keys_are_kept_and_matching_is_the_same() {
        let mfa = "title: No MFA\nid: r-mfa\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  selection:\n    additionalEventData.MFAUsed: 'NO'\n    userIdentity.sessionContext.sessionIssuer.arn|endswith: ':role/x'\n  condition: selection\n";
        let (_d, set) = rules(&[("a.yml", STOP), ("b.yml", mfa)]);
        assert_eq!(set.rules.len(), 2);
        let rec = r#"{"eventSource":"cloudtrail.amazonaws.com","eventName":"stoplogging","requestParameters":{"name":"t"},
            "additionalEventData":{"MFAUsed":"No","other":[1,2]},"userIdentity":{"type":"AssumedRole",
            "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/X"}}}}"#;
        assert_eq!(hits(&set, rec), Some(vec![0, 1]));
        let kept = Value::Object(
            Prune(&set.reach)
                .deserialize(&mut serde_json::Deserializer::from_str(rec))
                .unwrap()
                .unwrap(),
        );
        assert_eq!(kept.get("requestParameters"), None);
        assert_eq!(kept["additionalEventData"].as_object().unwrap().len(), 1);
        assert_eq!(hits(&set, r#"{"eventName":"GetObject"}"#), None);
        assert_eq!(hits(&set, "[1,2]"), None);
        assert_eq!(hits(&set, "not json"), None);
    }

    #[test]
    fn verdicts_name_every_file_and_reason() {
        let corr = "title: c\ncorrelation:\n  type: event_count\n  rules: [r-stop]\n  timespan: 1h\n  condition:\n    gte: 2\n";
        let win = "title: w\nlogsource:\n  product: windows\ndetection:\n  s:\n    EventID: 1\n  condition: s\n";
        let modifier = "title: m\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n    eventName|expand: x\n  condition: s\n";
        let cond = "title: b\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n    eventName: x\n  condition: s and nothere\n";
        let (_d, set) = rules(&[
            ("1.yml", STOP),
            ("2.yml", corr),
            ("3.yml", win),
            ("4.yml", modifier),
            ("5.yml", cond),
            ("6.yml", "title: [unclosed"),
            ("7.txt", "ignored: not a rule file name"),
        ]);
        let st: Vec<&str> = set.verdicts.iter().map(|v| v.status.as_str()).collect();
        assert_eq!(
            st,
            [
                "ok",
                "unsupported",
                "not_for_cloudtrail",
                "unsupported",
                "invalid",
                "invalid"
            ]
        );
        assert!(set.verdicts[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("correlation"));
        assert!(set.verdicts[3]
            .reason
            .as_deref()
            .unwrap()
            .contains("expand"));
        assert!(set.verdicts[4]
            .reason
            .as_deref()
            .unwrap()
            .contains("nothere"));
        assert_eq!(set.failed().count(), 4);
        assert_eq!(set.not_for_cloudtrail(), 1);
        assert_eq!(
            set.rules[0].tags,
            ["attack.defense-evasion", "attack.t1562.008"]
        );
        assert_eq!(set.rules[0].severity, Severity::High);
    }

    #[test]
    fn null_means_absent_and_lists_match_as_text() {
        let del = "title: Bucket deleted\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: DeleteBucket\n  ok_success:\n    errorCode: Success\n  ok_null:\n    errorCode: null\n  condition: sel and 1 of ok_*\n";
        let layer = "title: Layer\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    requestParameters.layers|contains: 'layer:evil'\n  condition: sel\n";
        // A rule naming `requestParameters` itself keeps it whole: the list inside is still text.
        let whole = "title: Whole\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    requestParameters|contains: Suspended\n  condition: sel\n";
        let (_d, set) = rules(&[("a.yml", del), ("b.yml", layer), ("c.yml", whole)]);
        assert_eq!(hits(&set, r#"{"eventName":"DeleteBucket"}"#), Some(vec![0]));
        assert_eq!(
            hits(&set, r#"{"eventName":"DeleteBucket","errorCode":null}"#),
            Some(vec![0])
        );
        assert_eq!(
            hits(
                &set,
                r#"{"eventName":"DeleteBucket","errorCode":"AccessDenied"}"#
            ),
            None
        );
        assert_eq!(
            hits(
                &set,
                r#"{"requestParameters":{"layers":["arn:aws:lambda:us-east-1:1:layer:evil:1"]}}"#
            ),
            Some(vec![1])
        );
    }

    #[test]
    fn keyword_rules_see_the_whole_record() {
        let kw = "title: k\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  keywords:\n    - '*trufflehog*'\n  condition: keywords\n";
        let (_d, set) = rules(&[("k.yml", kw)]);
        assert!(set.whole_record);
        assert!(hits(
            &set,
            r#"{"userAgent":"TruffleHog/3","eventName":"GetCallerIdentity"}"#
        )
        .is_some());
    }

    #[test]
    fn a_missing_path_is_an_error() {
        assert!(matches!(
            load(&[PathBuf::from("/nonexistent/rules")]),
            Err(SigmaError::NotFound(_))
        ));
    }
}
