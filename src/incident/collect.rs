//! The second pass: the calls of each incident's keys, tallied by intent as the events stream.
//!
//! Holds, per incident, exact counts (per intent, service and call), the accounts touched, at
//! most [`super::TARGETS`] named targets per kind and intent and [`super::RESOURCES`] resources (the
//! alphabetically first, which does not depend on the order events arrive in), and the first
//! `examples` calls per intent (the earliest by time and event id).

use super::intent::{self, Intent};
use super::{Draft, Example, IntentGroup, Resource, Tally};
use crate::event::{Event, Millis};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The fields of a call the collector reads (the events table's column names): the calls of a
/// night's incidents are read back from its lake with these columns only.
pub const FIELDS: [&str; 16] = [
    "event_time",
    "event_id",
    "event_name",
    "event_source",
    "source_ip",
    "error_code",
    "read_only",
    "recipient_account_id",
    "shared_copy",
    "identity_type",
    "account_id",
    "user_name",
    "access_key_id",
    "request_parameters",
    "is_issuing_call",
    "is_error",
];

/// Gathers the calls of the incidents' keys; feed it every slice, then hand it to
/// [`super::finish`]. It reads only the [`FIELDS`] of a call.
pub struct Collector {
    /// key -> (incident, from, to).
    watch: HashMap<String, Vec<(usize, Millis, Millis)>>,
    parts: Vec<Gathered>,
    examples: usize,
}

/// What one incident's calls gave.
#[derive(Default, Debug)]
pub(crate) struct Gathered {
    pub calls: u64,
    pub accounts: BTreeSet<String>,
    groups: BTreeMap<Intent, GroupAcc>,
    resources: BTreeMap<(String, String), ResAcc>,
    pub resources_truncated: bool,
}

#[derive(Debug)]
struct TallyAcc {
    calls: u64,
    errors: u64,
    first: Millis,
    last: Millis,
}

impl TallyAcc {
    fn new(t: Millis) -> TallyAcc {
        TallyAcc {
            calls: 0,
            errors: 0,
            first: t,
            last: t,
        }
    }

    fn add(&mut self, t: Millis, error: bool) {
        self.calls += 1;
        self.errors += u64::from(error);
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }
}

#[derive(Debug)]
struct GroupAcc {
    all: TallyAcc,
    services: BTreeMap<String, TallyAcc>,
    names: BTreeMap<String, TallyAcc>,
    /// kind -> names, at most [`super::TARGETS`] per kind (the alphabetically first).
    targets: BTreeMap<String, BTreeSet<String>>,
    truncated: bool,
    examples: Vec<Example>,
}

#[derive(Debug)]
struct ResAcc {
    calls: BTreeSet<String>,
    first: Millis,
}

impl Collector {
    /// Watches each draft's keys over its span.
    pub fn new(drafts: &[Draft], examples: usize) -> Collector {
        let mut watch: HashMap<String, Vec<(usize, Millis, Millis)>> = HashMap::new();
        for (i, d) in drafts.iter().enumerate() {
            for k in &d.keys {
                watch.entry(k.clone()).or_default().push((i, d.from, d.to));
            }
        }
        Collector {
            watch,
            parts: drafts.iter().map(|_| Gathered::default()).collect(),
            examples,
        }
    }

    /// Whether any incident watches a key (nothing to collect otherwise).
    pub fn is_empty(&self) -> bool {
        self.watch.is_empty()
    }

    /// The access keys whose calls it gathers.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.watch.keys().map(String::as_str)
    }

    /// Takes the next slice (or all events at once).
    pub fn observe(&mut self, events: &[Event]) {
        for e in events {
            if e.shared_copy {
                continue;
            }
            let Some(hits) = e.access_key_id.as_deref().and_then(|k| self.watch.get(k)) else {
                continue;
            };
            for &(i, from, to) in hits {
                if e.event_time >= from && e.event_time <= to {
                    self.parts[i].record(e, self.examples);
                }
            }
        }
    }

    pub(crate) fn into_parts(self) -> Vec<Gathered> {
        self.parts
    }
}

impl Gathered {
    fn record(&mut self, e: &Event, examples: usize) {
        let t = e.event_time;
        self.calls += 1;
        if let Some(a) = e
            .recipient_account_id
            .as_deref()
            .or(e.account_id.as_deref())
        {
            if !self.accounts.contains(a) {
                self.accounts.insert(a.to_string());
            }
        }
        let intents = intent::intents(e);
        let targets = targets_of(e);
        let service = intent::service(e).to_string();
        let name = e.event_name.as_deref().unwrap_or("").to_string();
        let call = format!("{service}:{name}");
        for i in &intents {
            let g = self.groups.entry(*i).or_insert_with(|| GroupAcc {
                all: TallyAcc::new(t),
                services: BTreeMap::new(),
                names: BTreeMap::new(),
                targets: BTreeMap::new(),
                truncated: false,
                examples: Vec::new(),
            });
            g.all.add(t, e.is_error);
            g.services
                .entry(service.clone())
                .or_insert_with(|| TallyAcc::new(t))
                .add(t, e.is_error);
            g.names
                .entry(call.clone())
                .or_insert_with(|| TallyAcc::new(t))
                .add(t, e.is_error);
            for (kind, value) in &targets {
                let names = g.targets.entry(kind.clone()).or_default();
                if !names.contains(value) {
                    names.insert(value.clone());
                    if names.len() > super::TARGETS {
                        names.pop_last();
                        g.truncated = true;
                    }
                }
            }
            let ex = Example {
                time: t,
                event_id: e.event_id.as_deref().map(str::to_string),
                call: call.clone(),
                access_key_id: e.access_key_id.as_deref().map(str::to_string),
                account: e
                    .recipient_account_id
                    .as_deref()
                    .or(e.account_id.as_deref())
                    .map(str::to_string),
                source_ip: e.source_ip.as_deref().map(str::to_string),
                error_code: e.error_code.as_deref().map(str::to_string),
                targets: targets.iter().map(|(k, v)| format!("{k}:{v}")).collect(),
            };
            // The earliest `examples` calls by (time, event id, ...): a sorted, capped list.
            if g.examples.len() < examples || g.examples.last().is_some_and(|l| ex < *l) {
                let at = g.examples.partition_point(|x| *x <= ex);
                g.examples.insert(at, ex);
                g.examples.truncate(examples);
            }
        }
        let changes = !e.is_error
            && e.read_only != Some(true)
            && !e.is_issuing_call
            && !intents.contains(&Intent::Reconnaissance)
            && !intents.contains(&Intent::DataAccess);
        if changes {
            for (kind, value) in targets {
                let r = self
                    .resources
                    .entry((kind, value))
                    .or_insert_with(|| ResAcc {
                        calls: BTreeSet::new(),
                        first: t,
                    });
                r.first = r.first.min(t);
                r.calls.insert(name.clone());
                if self.resources.len() > super::RESOURCES {
                    self.resources.pop_last();
                    self.resources_truncated = true;
                }
            }
        }
    }

    /// The intent groups, in [`Intent`] order.
    pub fn groups(&self) -> Vec<IntentGroup> {
        let tally = |m: &BTreeMap<String, TallyAcc>| -> Vec<Tally> {
            m.iter()
                .map(|(n, t)| Tally {
                    name: n.clone(),
                    calls: t.calls,
                    errors: t.errors,
                    first_time: t.first,
                    last_time: t.last,
                })
                .collect()
        };
        self.groups
            .iter()
            .map(|(i, g)| IntentGroup {
                intent: *i,
                calls: g.all.calls,
                errors: g.all.errors,
                first_time: g.all.first,
                last_time: g.all.last,
                services: tally(&g.services),
                calls_by_name: tally(&g.names),
                targets: g
                    .targets
                    .iter()
                    .flat_map(|(k, names)| names.iter().map(move |n| format!("{k}:{n}")))
                    .collect(),
                targets_truncated: g.truncated,
                examples: g.examples.clone(),
            })
            .collect()
    }

    pub fn resources(&self) -> Vec<Resource> {
        self.resources
            .iter()
            .map(|((kind, name), r)| Resource {
                kind: kind.clone(),
                name: name.clone(),
                calls: r.calls.iter().cloned().collect(),
                first_time: r.first,
            })
            .collect()
    }
}

/// Parameter fields that name a resource, and the kind of resource.
const NAMED: &[(&str, &str)] = &[
    ("userName", "user"),
    ("roleName", "role"),
    ("groupName", "group"),
    ("policyArn", "policy"),
    ("policyName", "policy"),
    ("instanceProfileName", "instance_profile"),
    ("keyId", "kms_key"),
    ("secretId", "secret"),
    ("trailName", "trail"),
    ("detectorId", "detector"),
    ("snapshotId", "snapshot"),
    ("imageId", "image"),
    ("instanceId", "instance"),
    ("functionName", "function"),
    ("layerName", "layer"),
    ("dBSnapshotIdentifier", "db_snapshot"),
    ("dBClusterSnapshotIdentifier", "db_snapshot"),
    ("groupId", "security_group"),
    ("FlowLogId", "flow_log"),
    ("logGroupName", "log_group"),
    ("resolverQueryLogConfigId", "query_log_config"),
    ("trustAnchorId", "trust_anchor"),
];

/// A string, or the `content` of EC2's `{"content": ..., "tag": 1}`, or each of a list.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Object(o) => o
            .get("content")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The resources a call names: `(kind, name)`, from its request parameters (and the access
/// key id a `CreateAccessKey` returns; never a secret).
pub fn targets_of(e: &Event) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let parsed = e
        .request_parameters
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok());
    if let Some(Value::Object(top)) = &parsed {
        // EC2's query-style calls wrap their parameters: {"DeleteFlowLogsRequest": {...}}.
        let p = match top.iter().next() {
            Some((k, Value::Object(inner))) if top.len() == 1 && k.ends_with("Request") => inner,
            _ => top,
        };
        let service = intent::service(e);
        let name = e.event_name.as_deref().unwrap_or("");
        if let Some(b) = p.get("bucketName").and_then(Value::as_str) {
            match p.get("key").and_then(Value::as_str) {
                Some(k) if name == "GetObject" || name == "PutObject" => {
                    out.push(("object".into(), format!("{b}/{k}")))
                }
                _ => out.push(("bucket".into(), b.to_string())),
            }
        }
        for (field, kind) in NAMED {
            if let Some(v) = p.get(*field) {
                out.extend(strings(v).into_iter().map(|s| (kind.to_string(), s)));
            }
        }
        if let Some(v) = p.get("secretIdList") {
            out.extend(strings(v).into_iter().map(|s| ("secret".to_string(), s)));
        }
        let generic = match service {
            "ssm" => Some("parameter"),
            "cloudtrail" => Some("trail"),
            _ => None,
        };
        if let Some(kind) = generic {
            for field in ["name", "names", "path"] {
                if let Some(v) = p.get(field) {
                    out.extend(strings(v).into_iter().map(|s| (kind.to_string(), s)));
                }
            }
        }
    }
    if let Some(resp) = e
        .response_elements
        .as_deref()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        if let Some(k) = resp
            .get("accessKey")
            .and_then(|a| a.get("accessKeyId"))
            .and_then(Value::as_str)
        {
            out.push(("access_key".into(), k.to_string()));
        }
    }
    out.retain(|(_, v)| v != crate::event::REDACTED);
    out.sort();
    out.dedup();
    out
}
