//! Findings + the session graph -> incidents: one stolen key's findings as one story.
//!
//! Takes the findings of `detect` and the [`Graph`], and returns [`Incident`]s in three steps:
//! 1. [`group`]: findings that share a key lineage (the same root `principal`, or a key: the
//!    finding's `access_key_id` or any hop of its `chain`) and follow each other within
//!    [`Options::window`] (24 h by default) become one [`Draft`]; a gap longer than the window
//!    starts a new incident of the same lineage. Works for any finding kind.
//! 2. [`Collector`]: the calls of each draft's keys (its findings' keys, their chains, and the
//!    sessions issued from them inside the incident's span) are tallied by intent
//!    ([`intent::intents`]) as the events stream by: exact counts, the first examples only, so
//!    memory grows with the incidents, not with the input.
//! 3. [`finish`]: severity (the worst finding, raised one level when signals of different
//!    kinds combine, capped at critical), the chain tree, resources, accounts and the
//!    containment commands `playbook::respond` names for each key of the chain.
//!
//! Deterministic: findings are taken in their total order, every collection is ordered, and
//! what the collector keeps does not depend on the order the events arrive in.

mod collect;
pub mod intent;

pub use collect::{Collector, FIELDS};
pub use intent::Intent;

use crate::detect::{Finding, Kind, Severity};
use crate::event::{format_iso, Millis};
use crate::graph::{Graph, Session};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

const HOUR: Millis = 3_600_000;
/// Findings of one lineage further apart than this start a new incident.
pub const DEFAULT_WINDOW: Millis = 24 * HOUR;
/// The timeline starts this long before an incident's first finding (the calls that led to it).
pub const LEAD: Millis = HOUR;
/// Examples kept per intent group (counts are exact).
pub const DEFAULT_EXAMPLES: usize = 10;
/// Named targets kept per kind (secret, parameter, object...) in an intent group, and
/// resources per incident.
pub const TARGETS: usize = 20;
pub const RESOURCES: usize = 200;

/// How incidents are formed.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest gap between findings of one incident.
    pub window: Millis,
    /// Examples kept per intent group.
    pub examples: usize,
    /// The input paths, for the containment commands' `--logs`.
    pub logs: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            window: DEFAULT_WINDOW,
            examples: DEFAULT_EXAMPLES,
            logs: Vec::new(),
        }
    }
}

fn ser_time<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_iso(*ms))
}

fn ser_opt_time<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&format_iso(*ms)),
        None => s.serialize_none(),
    }
}

/// One incident. Field order is the order of keys in `--format ndjson`.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// `INC-` and 8 hex digits of a hash of the root principal, the first finding's time and
    /// its first evidence event id: the same incident gets the same id in every run.
    pub incident_id: String,
    pub severity: Severity,
    /// Why this severity: the worst finding's, and the signals that raised it.
    pub severity_reason: String,
    /// The principal of the first finding (the root of the chain).
    pub root_principal: String,
    /// Every finding principal, sorted.
    pub principals: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub first_time: Millis,
    #[serde(serialize_with = "ser_time")]
    pub last_time: Millis,
    /// Accounts of the findings, the chain's sessions and the calls it made.
    pub accounts: Vec<String>,
    /// Every key of the chain: the findings' keys, their ancestors and the sessions issued
    /// from them in the incident's span, sorted.
    pub access_key_ids: Vec<String>,
    /// The kinds of signal that combined (see [`signal_of`]).
    pub signals: Vec<String>,
    pub findings: Vec<IncidentFinding>,
    /// The chain's sessions, from the root principal down (parents before children).
    pub chain: Vec<ChainNode>,
    /// Calls of the chain's keys between `timeline_from` and `timeline_to`.
    #[serde(serialize_with = "ser_time")]
    pub timeline_from: Millis,
    #[serde(serialize_with = "ser_time")]
    pub timeline_to: Millis,
    pub calls: u64,
    pub timeline: Vec<IntentGroup>,
    /// Resources created or changed by the chain (successful calls that are not read-only).
    pub resources: Vec<Resource>,
    /// More than [`RESOURCES`] were touched: the alphabetically first are listed.
    pub resources_truncated: bool,
    pub containment: Vec<Containment>,
}

/// A finding as an incident lists it.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentFinding {
    pub kind: Kind,
    pub severity: Severity,
    pub principal: String,
    pub access_key_id: Option<String>,
    #[serde(serialize_with = "ser_time")]
    pub time: Millis,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    pub country: Option<String>,
    pub summary: String,
    pub evidence_event_ids: Vec<String>,
}

/// One session of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainNode {
    pub access_key_id: String,
    pub parent_access_key_id: Option<String>,
    pub chain_depth: u32,
    pub issued_by_api: Option<String>,
    #[serde(serialize_with = "ser_opt_time")]
    pub issued_at: Option<Millis>,
    pub account: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    pub calls: u64,
    pub errors: u64,
}

/// The calls of one intent.
#[derive(Debug, Clone, Serialize)]
pub struct IntentGroup {
    pub intent: Intent,
    pub calls: u64,
    /// Of which failed (denied or otherwise).
    pub errors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_time: Millis,
    #[serde(serialize_with = "ser_time")]
    pub last_time: Millis,
    /// Per service: calls, errors, first and last.
    pub services: Vec<Tally>,
    /// Per call (`service:Name`).
    pub calls_by_name: Vec<Tally>,
    /// What the calls named (buckets and objects, secrets, parameters, users, roles, trails...),
    /// `kind:name`, by kind then name; at most [`TARGETS`] of each kind.
    pub targets: Vec<String>,
    /// Some kind named more than [`TARGETS`]: the alphabetically first are listed.
    pub targets_truncated: bool,
    /// The first calls, in time order.
    pub examples: Vec<Example>,
}

/// Counts of one service or call.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
    #[serde(serialize_with = "ser_time")]
    pub first_time: Millis,
    #[serde(serialize_with = "ser_time")]
    pub last_time: Millis,
}

/// One call shown as an example.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Example {
    #[serde(serialize_with = "ser_time")]
    pub time: Millis,
    pub event_id: Option<String>,
    pub call: String,
    pub access_key_id: Option<String>,
    pub account: Option<String>,
    pub source_ip: Option<String>,
    pub error_code: Option<String>,
    pub targets: Vec<String>,
}

/// A resource the chain created or changed.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    /// user, role, group, policy, access_key, bucket, kms_key, trail, secret, parameter,
    /// snapshot, image, instance, detector, function, ...
    pub kind: String,
    pub name: String,
    /// The calls that touched it, sorted.
    pub calls: Vec<String>,
    #[serde(serialize_with = "ser_time")]
    pub first_time: Millis,
}

/// A containment command for a key (or, with no key, for a finding).
#[derive(Debug, Clone, Serialize)]
pub struct Containment {
    pub access_key_id: Option<String>,
    pub playbook: String,
    pub command: String,
}

/// Findings of one lineage, before their calls are collected.
#[derive(Debug, Clone)]
pub struct Draft {
    pub findings: Vec<Finding>,
    /// The findings' keys and their chains' keys.
    pub lineage_keys: BTreeSet<String>,
    /// Every key whose calls belong to the incident (lineage keys and sessions issued from
    /// them in the span), sorted.
    pub keys: BTreeSet<String>,
    pub first_time: Millis,
    pub last_time: Millis,
    /// The span whose calls are collected.
    pub from: Millis,
    pub to: Millis,
}

fn lineage(f: &Finding) -> impl Iterator<Item = &str> {
    f.access_key_id
        .as_deref()
        .into_iter()
        .chain(f.chain.iter().map(|h| h.access_key_id.as_str()))
        .filter(|k| !k.is_empty())
}

/// Groups findings into drafts: a finding joins the open drafts that share its principal or
/// one of its keys and whose last finding is at most `window` before it (joining two drafts
/// merges them). Drafts come out in order of their first finding.
pub fn group(findings: &[Finding], graph: &Graph, window: Millis) -> Vec<Draft> {
    let mut order: Vec<&Finding> = findings.iter().collect();
    order.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    // Union-find over drafts; the latest draft per principal and per key.
    let mut parent: Vec<usize> = Vec::new();
    let mut members: Vec<Vec<&Finding>> = Vec::new();
    let mut last: Vec<Millis> = Vec::new();
    let mut by_principal: HashMap<&str, usize> = HashMap::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for f in order {
        let mut hits: BTreeSet<usize> = BTreeSet::new();
        let candidates = std::iter::once(by_principal.get(f.principal.as_str()))
            .chain(lineage(f).map(|k| by_key.get(k)))
            .flatten()
            .copied()
            .collect::<Vec<_>>();
        for c in candidates {
            let r = root(&mut parent, c);
            if f.time - last[r] <= window {
                hits.insert(r);
            }
        }
        let target = match hits.first() {
            Some(&r) => r,
            None => {
                parent.push(parent.len());
                members.push(Vec::new());
                last.push(f.time);
                parent.len() - 1
            }
        };
        for &other in hits.iter().skip(1) {
            parent[other] = target;
            let moved = std::mem::take(&mut members[other]);
            members[target].extend(moved);
            last[target] = last[target].max(last[other]);
        }
        members[target].push(f);
        last[target] = last[target].max(f.time);
        by_principal.insert(f.principal.as_str(), target);
        for k in lineage(f) {
            by_key.insert(k, target);
        }
    }
    let mut drafts: Vec<Draft> = members
        .into_iter()
        .filter(|m| !m.is_empty())
        .map(|mut m| {
            m.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
            draft(m.into_iter().cloned().collect(), graph, window)
        })
        .collect();
    drafts.sort_by(|a, b| {
        (a.first_time, a.findings[0].sort_key()).cmp(&(b.first_time, b.findings[0].sort_key()))
    });
    drafts
}

fn draft(findings: Vec<Finding>, graph: &Graph, window: Millis) -> Draft {
    let first_time = findings.iter().map(|f| f.time).min().unwrap_or_default();
    let last_time = findings.iter().map(|f| f.time).max().unwrap_or_default();
    let from = first_time.saturating_sub(LEAD);
    let to = last_time.saturating_add(window);
    let lineage_keys: BTreeSet<String> = findings
        .iter()
        .flat_map(lineage)
        .map(str::to_string)
        .collect();
    let mut keys = lineage_keys.clone();
    // The long-term key that started each chain (an IAM user's AKIA key): its other sessions
    // are the same lineage.
    for k in &lineage_keys {
        if let Some(top) = graph.ancestors(k).first() {
            if let Some(c) = top.caller_access_key_id.as_deref() {
                if graph.get(c).is_none() {
                    keys.insert(c.to_string());
                }
            }
        }
    }
    // Sessions issued from the chain's keys inside the span, and theirs.
    let in_span = |s: &Session| s.issued_at.is_none_or(|t| t >= from && t <= to);
    let mut stack: Vec<String> = keys.iter().cloned().collect();
    while let Some(k) = stack.pop() {
        let kids: Vec<&Session> = if graph.get(&k).is_some() {
            graph.children(&k).collect()
        } else {
            // A long-term key: the sessions it issued directly.
            graph
                .sessions
                .iter()
                .filter(|s| {
                    s.parent_access_key_id.is_none()
                        && s.caller_access_key_id.as_deref() == Some(k.as_str())
                })
                .collect()
        };
        for s in kids.into_iter().filter(|s| in_span(s)) {
            if keys.insert(s.access_key_id.to_string()) {
                stack.push(s.access_key_id.to_string());
            }
        }
    }
    Draft {
        findings,
        lineage_keys,
        keys,
        first_time,
        last_time,
        from,
        to,
    }
}

/// The kind of signal a finding gives, for the "signals combine" rule. A kind not named here
/// (a new detection) is a signal of its own.
pub fn signal_of(kind: Kind) -> String {
    match kind {
        Kind::OddIp
        | Kind::ImpossibleTravel
        | Kind::UnusualHour
        | Kind::ConsoleLoginWithoutMfa
        | Kind::RootAccountUse => "unusual_access".into(),
        Kind::FailedThenSuccess | Kind::RoleEnumeration => "denied_probing".into(),
        Kind::CredentialExfiltration => "credential_theft".into(),
        Kind::DeepRoleChain | Kind::FederationTokenAdmin => "privilege_change".into(),
        #[allow(unreachable_patterns)]
        other => other.as_str().to_string(),
    }
}

fn raise(s: Severity) -> Severity {
    match s {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium => Severity::High,
        Severity::High | Severity::Critical => Severity::Critical,
    }
}

fn hex_id(root: &str, first: &Finding) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(root.as_bytes());
    h.update(b"\n");
    h.update(format_iso(first.time).as_bytes());
    h.update(b"\n");
    h.update(
        first
            .evidence_event_ids
            .first()
            .map_or("", String::as_str)
            .as_bytes(),
    );
    let d = h.finalize();
    format!("INC-{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
}

fn node(s: &Session) -> ChainNode {
    let o = |v: &Option<crate::event::Text>| v.as_deref().map(str::to_string);
    ChainNode {
        access_key_id: s.access_key_id.to_string(),
        parent_access_key_id: o(&s.parent_access_key_id),
        chain_depth: s.chain_depth,
        issued_by_api: o(&s.issued_by_api),
        issued_at: s.issued_at,
        account: o(&s.account),
        role_arn: o(&s.role_arn),
        session_name: o(&s.session_name),
        source_identity: o(&s.source_identity),
        calls: s.calls,
        errors: s.errors,
    }
}

/// The chain's sessions, parents before children, siblings by (issue time, key).
fn chain_nodes(d: &Draft, graph: &Graph) -> Vec<ChainNode> {
    let mut shown: BTreeSet<&str> = BTreeSet::new();
    for k in &d.keys {
        for s in graph.ancestors(k) {
            shown.insert(&*s.access_key_id);
        }
    }
    let sessions: Vec<&Session> = shown.iter().filter_map(|k| graph.get(k)).collect();
    let is_top = |s: &&Session| {
        s.parent_access_key_id
            .as_deref()
            .is_none_or(|p| !shown.contains(p))
    };
    let order = |v: &mut Vec<&Session>| {
        v.sort_by(|a, b| (a.issued_at, &a.access_key_id).cmp(&(b.issued_at, &b.access_key_id)))
    };
    let mut tops: Vec<&Session> = sessions.iter().copied().filter(is_top).collect();
    order(&mut tops);
    let mut out = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack: Vec<&Session> = tops.into_iter().rev().collect();
    while let Some(s) = stack.pop() {
        if !seen.insert(&*s.access_key_id) {
            continue;
        }
        out.push(node(s));
        let mut kids: Vec<&Session> = graph
            .children(&s.access_key_id)
            .filter(|c| shown.contains(&*c.access_key_id))
            .collect();
        order(&mut kids);
        stack.extend(kids.into_iter().rev());
    }
    out
}

/// The containment commands: `playbook::respond`'s for each key of the chain (root down), then
/// any other its findings name. Each command once.
fn containment(
    d: &Draft,
    chain: &[ChainNode],
    graph: &Graph,
    logs: &[PathBuf],
) -> Vec<Containment> {
    let Some(first) = d.findings.first() else {
        return Vec::new();
    };
    // Keys in chain order; long-term keys (not sessions) first.
    let mut keys: Vec<String> = d
        .keys
        .iter()
        .filter(|k| graph.get(k).is_none())
        .cloned()
        .collect();
    keys.extend(chain.iter().map(|n| n.access_key_id.clone()));
    let mut probes: Vec<Finding> = keys
        .iter()
        .map(|k| {
            let mut f = first.clone();
            // A key of the chain, judged as any finding on it would be.
            f.kind = Kind::OddIp;
            f.access_key_id = Some(k.clone());
            f
        })
        .collect();
    let mut own = d.findings.clone();
    crate::playbook::respond::respond(&mut probes, graph, logs);
    crate::playbook::respond::respond(&mut own, graph, logs);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (f, key) in probes
        .iter()
        .map(|f| (f, f.access_key_id.clone()))
        .chain(own.iter().map(|f| (f, f.access_key_id.clone())))
    {
        if let Some(r) = &f.respond {
            if seen.insert(r.command.clone()) {
                out.push(Containment {
                    access_key_id: key,
                    playbook: r.playbook.clone(),
                    command: r.command.clone(),
                });
            }
        }
    }
    out
}

/// Turns drafts and what the collector gathered into incidents, most recent last.
pub fn finish(
    drafts: Vec<Draft>,
    collected: Collector,
    graph: &Graph,
    opts: &Options,
) -> Vec<Incident> {
    let mut gathered = collected.into_parts();
    drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let g = gathered.get_mut(i).map(std::mem::take).unwrap_or_default();
            incident(d, g, graph, opts)
        })
        .collect()
}

/// Incidents from findings and events held in memory (the nightly report).
pub fn build(
    findings: &[Finding],
    graph: &Graph,
    events: &[crate::event::Event],
    opts: &Options,
) -> Vec<Incident> {
    let drafts = group(findings, graph, opts.window);
    let mut c = Collector::new(&drafts, opts.examples);
    c.observe(events);
    finish(drafts, c, graph, opts)
}

fn incident(d: Draft, g: collect::Gathered, graph: &Graph, opts: &Options) -> Incident {
    let first = &d.findings[0];
    let root_principal = first.principal.clone();
    let incident_id = hex_id(&root_principal, first);
    let worst = d
        .findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Info);
    let mut signals: BTreeSet<String> = d.findings.iter().map(|f| signal_of(f.kind)).collect();
    let timeline = g.groups();
    let succeeded = |i: Intent| timeline.iter().any(|t| t.intent == i && t.calls > t.errors);
    if succeeded(Intent::PrivilegeEscalation) || succeeded(Intent::Persistence) {
        signals.insert("privilege_change".into());
    }
    if succeeded(Intent::DefenceEvasion) {
        signals.insert("defence_evasion".into());
    }
    let (severity, severity_reason) = if signals.len() > 1 {
        let s = raise(worst);
        (
            s,
            format!(
                "worst finding {worst}; raised{} because signals of different kinds combine: {}",
                if s == worst { " (capped)" } else { "" },
                signals.iter().cloned().collect::<Vec<_>>().join(" + ")
            ),
        )
    } else {
        (
            worst,
            format!(
                "worst finding {worst}; one kind of signal: {}",
                signals.iter().cloned().collect::<Vec<_>>().join("")
            ),
        )
    };
    let chain = chain_nodes(&d, graph);
    let mut accounts: BTreeSet<String> = d
        .findings
        .iter()
        .filter_map(|f| f.account.clone())
        .collect();
    accounts.extend(chain.iter().filter_map(|n| n.account.clone()));
    accounts.extend(g.accounts.iter().cloned());
    let mut keys: BTreeSet<String> = d.keys.clone();
    keys.extend(chain.iter().map(|n| n.access_key_id.clone()));
    let containment = containment(&d, &chain, graph, &opts.logs);
    let principals: BTreeSet<String> = d.findings.iter().map(|f| f.principal.clone()).collect();
    Incident {
        incident_id,
        severity,
        severity_reason,
        root_principal,
        principals: principals.into_iter().collect(),
        first_time: d.first_time,
        last_time: d.last_time,
        accounts: accounts.into_iter().collect(),
        access_key_ids: keys.into_iter().collect(),
        signals: signals.into_iter().collect(),
        findings: d
            .findings
            .iter()
            .map(|f| IncidentFinding {
                kind: f.kind,
                severity: f.severity,
                principal: f.principal.clone(),
                access_key_id: f.access_key_id.clone(),
                time: f.time,
                account: f.account.clone(),
                source_ip: f.place.source_ip.clone(),
                country: f.place.country.clone(),
                summary: f.summary.clone(),
                evidence_event_ids: f.evidence_event_ids.clone(),
            })
            .collect(),
        chain,
        timeline_from: d.from,
        timeline_to: d.to,
        calls: g.calls,
        timeline,
        resources_truncated: g.resources_truncated,
        resources: g.resources(),
        containment,
    }
}

/// Incidents counted per severity, most severe first.
pub fn per_severity(incidents: &[Incident]) -> BTreeMap<std::cmp::Reverse<Severity>, usize> {
    let mut m = BTreeMap::new();
    for i in incidents {
        *m.entry(std::cmp::Reverse(i.severity)).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Place;

    const T0: Millis = 1_772_000_000_000;

    fn finding(
        kind: Kind,
        severity: Severity,
        minutes: i64,
        principal: &str,
        key: &str,
    ) -> Finding {
        Finding {
            kind,
            severity,
            time: T0 + minutes * 60_000,
            principal: principal.into(),
            access_key_id: Some(key.into()),
            account: Some("111111111111".into()),
            place: Place::default(),
            summary: String::new(),
            reason: String::new(),
            evidence_event_ids: vec![format!("ev-{minutes}")],
            events: None,
            last_time: None,
            sigma: None,
            chain: Vec::new(),
            respond: None,
        }
    }

    fn incidents(findings: &[Finding], window: Millis) -> Vec<Incident> {
        build(
            findings,
            &Graph::default(),
            &[],
            &Options {
                window,
                ..Default::default()
            },
        )
    }

    #[test]
    fn findings_sharing_a_key_are_one_incident_whatever_their_principals() {
        let f = [
            finding(Kind::OddIp, Severity::High, 0, "user/a", "AKIA1"),
            finding(Kind::UnusualHour, Severity::Medium, 5, "role/app", "AKIA1"),
            finding(Kind::OddIp, Severity::High, 6, "user/b", "AKIA2"),
        ];
        let got = incidents(&f, DEFAULT_WINDOW);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].principals, ["role/app", "user/a"]);
        assert_eq!(got[0].access_key_ids, ["AKIA1"]);
        assert_eq!(got[1].root_principal, "user/b");
    }

    #[test]
    fn a_finding_that_links_two_open_incidents_merges_them() {
        let f = [
            finding(Kind::OddIp, Severity::Low, 0, "user/a", "AKIA1"),
            finding(Kind::OddIp, Severity::Low, 1, "user/b", "ASIA2"),
            finding(Kind::OddIp, Severity::Low, 2, "user/a", "ASIA2"),
        ];
        let got = incidents(&f, DEFAULT_WINDOW);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].findings.len(), 3);
        assert_eq!(got[0].access_key_ids, ["AKIA1", "ASIA2"]);
    }

    #[test]
    fn a_gap_longer_than_the_window_starts_a_new_incident() {
        let f = [
            finding(Kind::OddIp, Severity::High, 0, "user/a", "AKIA1"),
            finding(Kind::OddIp, Severity::High, 61, "user/a", "AKIA1"),
            finding(Kind::OddIp, Severity::High, 90, "user/a", "AKIA1"),
        ];
        let got = incidents(&f, HOUR);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].findings.len(), 2);
        assert_ne!(got[0].incident_id, got[1].incident_id);
        // The same findings give the same ids, in any order.
        let mut rev = f.to_vec();
        rev.reverse();
        let again = incidents(&rev, HOUR);
        assert_eq!(again[0].incident_id, got[0].incident_id);
        assert_eq!(again[1].incident_id, got[1].incident_id);
    }

    #[test]
    fn signals_of_different_kinds_raise_the_severity_once_capped_at_critical() {
        let one_kind = [
            finding(Kind::OddIp, Severity::Medium, 0, "user/a", "AKIA1"),
            finding(Kind::UnusualHour, Severity::Low, 1, "user/a", "AKIA1"),
        ];
        assert_eq!(
            incidents(&one_kind, DEFAULT_WINDOW)[0].severity,
            Severity::Medium
        );
        let two_kinds = [
            finding(Kind::OddIp, Severity::Medium, 0, "user/a", "AKIA1"),
            finding(Kind::RoleEnumeration, Severity::Low, 1, "user/a", "AKIA1"),
            finding(Kind::DeepRoleChain, Severity::Low, 2, "user/a", "AKIA1"),
        ];
        let got = &incidents(&two_kinds, DEFAULT_WINDOW)[0];
        assert_eq!(got.severity, Severity::High, "raised one level, not two");
        assert_eq!(
            got.signals,
            ["denied_probing", "privilege_change", "unusual_access"]
        );
        let critical = [
            finding(
                Kind::CredentialExfiltration,
                Severity::Critical,
                0,
                "r",
                "ASIA1",
            ),
            finding(Kind::OddIp, Severity::High, 1, "r", "ASIA1"),
        ];
        assert_eq!(
            incidents(&critical, DEFAULT_WINDOW)[0].severity,
            Severity::Critical
        );
    }
}
