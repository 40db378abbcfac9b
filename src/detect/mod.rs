//! Events + the session graph -> findings: what is truly odd, why, and the evidence.
//!
//! Takes the time-ordered events from `ingest`, the [`Graph`] and a [`GeoIp`], and returns
//! [`Finding`]s sorted by time. Baselines are learned per principal from the input's own history
//! *before* each event (a principal is judged only against what it did earlier), so a nightly run
//! over a long history and a run over a short one differ only in how much is known.
//!
//! A principal is the root principal of the session that made a call (the IAM user or root behind
//! a role chain, the SAML or web-identity subject), or the role ARN for sessions of AWS services
//! (EC2 instance profiles, Lambda), since those roles are the workloads.

pub mod api;
pub mod config;
pub mod finding;
pub mod lineage;
pub mod posture;
pub mod sigma;

use crate::event::{format_iso, Event, Millis};
use crate::geoip::{distance_km, GeoIp, IpInfo};

fn location_of(i: &IpInfo) -> Option<((f64, f64), bool)> {
    i.location.map(|l| (l, i.location_precise))
}
use crate::event::Text;
use crate::graph::{Graph, Lookup, Session};
use config::Cidr;
pub use config::DetectConfig;
pub use finding::{Finding, Hop, Kind, Place, Severity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

const MINUTE: Millis = 60_000;
pub(crate) const HOUR: Millis = 60 * MINUTE;
pub(crate) const DAY: Millis = 24 * HOUR;

/// Runs every detection over events held in memory, with the graph of all of them.
pub fn hunt(events: &[Event], graph: &Graph, geo: &GeoIp, cfg: &DetectConfig) -> Vec<Finding> {
    let mut d = Detector::new(geo, cfg);
    d.observe(events, graph);
    d.finish(graph)
}

/// Every detection as a state machine over time-ordered slices of events: [`Detector::observe`]
/// takes each slice (all events of one millisecond always in the same slice) with the sessions
/// known so far, and carries only what the detections still need from slice to slice: each
/// principal's baseline, the denials and failures inside their windows, open bursts, the
/// addresses instance credentials were used from. [`Detector::finish`] adds what needs the
/// whole graph (deep chains, credential exfiltration) and returns the findings, the same
/// whatever the slices were.
pub struct Detector<'a> {
    geo: &'a GeoIp,
    cfg: &'a DetectConfig,
    cidrs: Vec<Cidr>,
    ip_cache: HashMap<Text, IpInfo>,
    findings: Vec<Finding>,
    // odd_ip, unusual_hour, impossible_travel
    base: HashMap<String, Baseline>,
    odd_seen: HashSet<(String, String)>,
    /// Open unusual-hour bursts: principal -> (finding index, last event time).
    hour_burst: HashMap<String, (usize, Millis)>,
    travel_seen: HashSet<(String, String, String)>,
    /// failed_then_success: per caller, the unused AssumeRole denials still inside the window.
    assume_denials: BTreeMap<String, Vec<Denial>>,
    /// Console failed_then_success: per user, unused failed sign-ins still inside the window.
    console_failures: BTreeMap<String, Vec<Denial>>,
    /// role_enumeration: per caller, the denials inside the window and the last time reported.
    enumeration: BTreeMap<String, (VecDeque<Denial>, Millis)>,
    /// credential_exfiltration: addresses people used (first person seen at each), and the
    /// addresses each instance-profile key was used from.
    human_ips: HashMap<Text, Text>,
    instance_use: BTreeMap<Text, InstanceUse>,
    /// Posture findings (root use, console sign-in without MFA): one per principal per run.
    posture: BTreeMap<(Kind, String), posture::Posture>,
    /// Egress networks (`location.egress_asns`): their addresses are not places.
    egress: HashSet<u32>,
    /// api_enumeration: per principal, the denied APIs inside the window.
    api_denials: BTreeMap<String, api::ApiWindow>,
    /// assume_root_denied: open groups per (principal, target): finding index, last time.
    root_attempts: HashMap<String, (usize, Millis)>,
    /// session_fan_out: per root principal, the sessions it opened inside the window, and the
    /// principals already reported.
    fan: BTreeMap<String, VecDeque<lineage::Opened>>,
    fan_done: BTreeSet<String>,
    /// new_role_path: the multi-hop role paths each root principal has taken.
    paths: BTreeMap<String, BTreeSet<String>>,
}

/// Where and when a finding's event happened (what a finding keeps of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Seen {
    time: Millis,
    id: Option<Text>,
    account: Option<Text>,
    source_ip: Option<Text>,
}

impl Seen {
    fn of(e: &Event) -> Seen {
        Seen {
            time: e.event_time,
            id: e.event_id.clone(),
            account: e
                .recipient_account_id
                .clone()
                .or_else(|| e.account_id.clone()),
            source_ip: e.source_ip.clone(),
        }
    }
}

/// A denied (or failed) call kept inside a window.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Denial {
    seen: Seen,
    role: Option<Text>,
    used: bool,
}

impl Denial {
    fn of(e: &Event) -> Denial {
        Denial {
            seen: Seen::of(e),
            role: e.sts().requested_role_arn.clone(),
            used: false,
        }
    }
}

/// The calls of one instance-profile key, per source address in order of first use.
#[derive(Default, Clone, Serialize, Deserialize)]
struct InstanceUse {
    ips: Vec<IpUse>,
    /// Written in key order, so that a saved state is the same file for the same state.
    #[serde(serialize_with = "in_key_order")]
    index: HashMap<Text, usize>,
}

fn in_key_order<S: serde::Serializer>(m: &HashMap<Text, usize>, s: S) -> Result<S::Ok, S::Error> {
    let mut v: Vec<(&Text, &usize)> = m.iter().collect();
    v.sort_unstable();
    s.collect_map(v)
}

/// An instance key's credential-exfiltration judgement waiting for the end of the input (see
/// [`Detector::judge_retired`]): what it needs of the key's calls.
#[derive(Serialize, Deserialize)]
pub struct WaitingUse {
    key: Text,
    usage: InstanceUse,
}

/// One address an instance-profile key was used from.
#[derive(Clone, Serialize, Deserialize)]
struct IpUse {
    ip: Text,
    /// The first call of each user-agent family from this address, in order: (family, call,
    /// user agent). The first entry is the address's first call.
    families: Vec<(String, Seen, Text)>,
    /// The first calls from this address (evidence).
    evidence: Vec<(Millis, Option<Text>)>,
}

/// Evidence calls kept per address of an instance key.
const INSTANCE_EVIDENCE: usize = 20;
/// User-agent families kept per address of an instance key.
const INSTANCE_FAMILIES: usize = 32;
/// Addresses whose classification is cached (the cache is emptied past this).
const IP_CACHE: usize = 1 << 16;

/// What a principal did before the event being judged.
#[derive(Default, Clone, Serialize, Deserialize)]
struct Baseline {
    first_seen: Millis,
    /// Not used in judgements: when the baseline expires.
    #[serde(default)]
    last_seen: Millis,
    events: u64,
    days: BTreeSet<i64>,
    countries: BTreeMap<String, Millis>,
    asns: BTreeMap<u32, Millis>,
    hour_of_day: [u64; 24],
    hour_of_week: Vec<u64>,
    last_place: Option<(Millis, String, (f64, f64), String)>,
    /// Automation (web-identity CI subjects, instance and Lambda roles): no hour judgement.
    #[serde(default)]
    robot: bool,
    /// Calls from egress networks (clouds, corporate gateways).
    #[serde(default)]
    egress_events: u64,
}

impl Baseline {
    /// Both histories of a principal seen by two shards.
    fn merged(mut self, o: Baseline) -> Baseline {
        let later_place = match (&self.last_place, &o.last_place) {
            (Some(a), Some(b)) if b.0 > a.0 => o.last_place.clone(),
            (None, b) => b.clone(),
            _ => self.last_place.clone(),
        };
        self.first_seen = self.first_seen.min(o.first_seen);
        self.last_seen = self.last_seen.max(o.last_seen);
        self.events += o.events;
        self.days.extend(o.days);
        for (c, t) in o.countries {
            let e = self.countries.entry(c).or_insert(t);
            *e = (*e).min(t);
        }
        for (a, t) in o.asns {
            let e = self.asns.entry(a).or_insert(t);
            *e = (*e).min(t);
        }
        for (x, y) in self.hour_of_day.iter_mut().zip(o.hour_of_day) {
            *x += y;
        }
        if self.hour_of_week.len() < o.hour_of_week.len() {
            self.hour_of_week.resize(o.hour_of_week.len(), 0);
        }
        for (x, y) in self.hour_of_week.iter_mut().zip(o.hour_of_week) {
            *x += y;
        }
        self.last_place = later_place;
        self.robot |= o.robot;
        self.egress_events += o.egress_events;
        self
    }

    /// Automation: flagged by how its sessions were made, or calling almost only from egress
    /// networks (clouds) at most hours of the day.
    fn is_robot(&self) -> bool {
        self.robot
            || (self.egress_events * 5 >= self.events * 4
                && self.hour_of_day.iter().filter(|&&n| n > 0).count() >= 12)
    }

    fn learned(&self, now: Millis, cfg: &DetectConfig) -> bool {
        self.events >= cfg.learning.min_events
            && (now - self.first_seen) as f64 >= cfg.learning.min_days * DAY as f64
    }

    fn describe_places(&self) -> String {
        let c: Vec<&str> = self.countries.keys().map(String::as_str).collect();
        let a: Vec<String> = self.asns.keys().map(|a| format!("AS{a}")).collect();
        format!(
            "countries [{}], networks [{}] over {} events since {}",
            c.join(", "),
            a.join(", "),
            self.events,
            format_iso(self.first_seen)
        )
    }
}

/// Who is behind a call: the root principal of its session chain (the role, for sessions of AWS
/// services; the role or caller when the chain's start is not in the logs), else the caller.
pub fn principal_of(graph: &impl Lookup, e: &Event) -> Option<String> {
    principal_ref(graph, e).map(str::to_string)
}

/// [`principal_of`], borrowed from the session or the event.
pub fn principal_ref<'a>(graph: &'a impl Lookup, e: &'a Event) -> Option<&'a str> {
    principal_text(graph, e).map(|t| &**t)
}

/// [`principal_ref`], as the shared text it is held in (cloned without copying).
pub fn principal_text<'a>(graph: &'a impl Lookup, e: &'a Event) -> Option<&'a Text> {
    if let Some(s) = e.access_key_id.as_deref().and_then(|k| graph.session(k)) {
        return match s.root_principal.as_ref() {
            Some(r) if r.ends_with(".amazonaws.com") => s.role_arn.as_ref().or(Some(r)),
            Some(r) => Some(r),
            None => s.role_arn.as_ref().or(s.caller_arn.as_ref()),
        };
    }
    match e.identity_type.as_deref() {
        Some("IAMUser") | Some("Root") => e.principal_arn.as_ref(),
        Some("AWSService") => e.invoked_by.as_ref(),
        Some("SAMLUser") | Some("WebIdentityUser") => {
            e.sts().federated_subject.as_ref().or(e.user_name.as_ref())
        }
        Some("AssumedRole") => e.session_issuer_arn.as_ref(),
        _ => e.principal_arn.as_ref(),
    }
}

/// Weekday (0 = Monday) and hour of a time, UTC.
pub(crate) fn week_hour(t: Millis) -> (usize, usize) {
    let days = t.div_euclid(DAY);
    let weekday = (days + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
    let hour = (t.rem_euclid(DAY) / HOUR) as usize;
    (weekday, hour)
}

pub(crate) const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn is_denied(e: &Event) -> bool {
    e.error_code.as_deref().is_some_and(|c| {
        c == "AccessDenied" || c.ends_with("UnauthorizedOperation") || c == "AccessDeniedException"
    })
}

fn is_assume_role(e: &Event) -> bool {
    e.is_issuing_call
        && !e.shared_copy
        && e.event_name
            .as_deref()
            .is_some_and(|n| n.starts_with("AssumeRole"))
}

/// Evidence events a finding that grows as events come (a burst, a posture finding, grouped
/// attempts) keeps; its count, where it has one, covers them all.
const GROWING_EVIDENCE: usize = 50;

/// Adds an event to a growing finding's evidence (once, up to [`GROWING_EVIDENCE`]).
fn add_evidence(f: &mut Finding, e: &Event) {
    if let Some(id) = &e.event_id {
        if f.evidence_event_ids.len() < GROWING_EVIDENCE
            && !f.evidence_event_ids.iter().any(|x| **x == **id)
        {
            f.evidence_event_ids.push(id.to_string());
        }
    }
}

/// Who a console sign-in is for, as failures and successes both record it: the account and
/// the user name (failed sign-ins carry no ARN), or the account's root user.
fn console_signer(e: &Event) -> Option<String> {
    let account = e
        .account_id
        .as_deref()
        .or(e.recipient_account_id.as_deref())
        .or_else(|| {
            e.principal_arn
                .as_deref()
                .and_then(crate::graph::arn_account)
        })
        .unwrap_or("?");
    if e.identity_type.as_deref() == Some("Root") {
        return Some(format!("{account}:root"));
    }
    let from_arn = e
        .principal_arn
        .as_deref()
        .and_then(|a| a.rsplit_once(":user/"))
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path));
    match (
        e.user_name.as_deref().or(from_arn),
        e.identity_type.as_deref(),
    ) {
        (Some(u), Some("IAMUser") | None) => Some(format!("{account}:user/{u}")),
        _ => e
            .principal_arn
            .as_deref()
            .or(e.principal_id.as_deref())
            .map(|p| format!("{account}:{p}")),
    }
}

/// Whether a call is automation's: a web-identity subject (CI, Kubernetes service accounts),
/// or a session whose chain starts at one or at an AWS service (instance, Lambda, ECS roles).
fn is_automation(e: &Event, session: Option<&Session>, sessions: &impl Lookup) -> bool {
    if e.identity_type.as_deref() == Some("WebIdentityUser") {
        return true;
    }
    let Some(s) = session else {
        return false;
    };
    if s.root_principal
        .as_deref()
        .is_some_and(|r| r.ends_with(".amazonaws.com"))
    {
        return true;
    }
    let top = lineage::chain_top(sessions, s);
    top.issued_by_api.as_deref() == Some("AssumeRoleWithWebIdentity")
}

/// The hops of the chain that issued `key`, from the top.
pub(crate) fn chain_of(graph: &Graph, key: Option<&str>) -> Vec<Hop> {
    key.map(|k| graph.ancestors(k))
        .unwrap_or_default()
        .into_iter()
        .map(|s| Hop {
            access_key_id: s.access_key_id.to_string(),
            issued_by_api: s.issued_by_api.as_deref().map(str::to_string),
            role_arn: s.role_arn.as_deref().map(str::to_string),
            session_name: s.session_name.as_deref().map(str::to_string),
            chain_depth: s.chain_depth,
            source_identity: s.source_identity.as_deref().map(str::to_string),
        })
        .collect()
}

/// A [`Detector`]'s state as saved between runs: every map in key order, so the same state
/// gives the same file.
#[derive(Serialize, Deserialize, Default)]
pub struct SavedDetector {
    findings: Vec<Finding>,
    base: Vec<(String, Baseline)>,
    odd_seen: Vec<(String, String)>,
    hour_burst: Vec<(String, (usize, Millis))>,
    travel_seen: Vec<(String, String, String)>,
    assume_denials: BTreeMap<String, Vec<Denial>>,
    console_failures: BTreeMap<String, Vec<Denial>>,
    enumeration: BTreeMap<String, (VecDeque<Denial>, Millis)>,
    human_ips: Vec<(Text, Text)>,
    instance_use: BTreeMap<Text, InstanceUse>,
    #[serde(default)]
    api_denials: BTreeMap<String, api::ApiWindow>,
    #[serde(default)]
    fan: BTreeMap<String, VecDeque<lineage::Opened>>,
    #[serde(default)]
    fan_done: BTreeSet<String>,
    #[serde(default)]
    paths: BTreeMap<String, BTreeSet<String>>,
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

impl<'a> Detector<'a> {
    /// What to carry to the next run. Findings already reported are dropped, except those an
    /// open burst may still add evidence to (unusual_hour). Posture findings are per run.
    pub fn saved(&self) -> SavedDetector {
        let mut open: Vec<usize> = self.hour_burst.values().map(|(i, _)| *i).collect();
        open.sort();
        open.dedup();
        let renumber: HashMap<usize, usize> = open
            .iter()
            .enumerate()
            .map(|(new, old)| (*old, new))
            .collect();
        let re = |(i, t): &(usize, Millis)| (renumber[i], *t);
        let mut base: Vec<(String, Baseline)> = self
            .base
            .iter()
            .map(|(k, b)| (k.clone(), b.clone()))
            .collect();
        base.sort_by(|a, b| a.0.cmp(&b.0));
        SavedDetector {
            findings: open.iter().map(|&i| self.findings[i].clone()).collect(),
            base,
            odd_seen: sorted(self.odd_seen.iter().cloned().collect()),
            hour_burst: sorted(
                self.hour_burst
                    .iter()
                    .map(|(k, v)| (k.clone(), re(v)))
                    .collect(),
            ),
            travel_seen: sorted(self.travel_seen.iter().cloned().collect()),
            assume_denials: self.assume_denials.clone(),
            console_failures: self.console_failures.clone(),
            enumeration: self.enumeration.clone(),
            human_ips: sorted(
                self.human_ips
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            instance_use: self.instance_use.clone(),
            api_denials: self.api_denials.clone(),
            fan: self.fan.clone(),
            fan_done: self.fan_done.clone(),
            paths: self.paths.clone(),
        }
    }

    /// A detector that goes on from a saved state.
    pub fn restore(geo: &'a GeoIp, cfg: &'a DetectConfig, s: SavedDetector) -> Self {
        let mut d = Detector::new(geo, cfg);
        d.findings = s.findings;
        d.base = s.base.into_iter().collect();
        d.odd_seen = s.odd_seen.into_iter().collect();
        d.hour_burst = s.hour_burst.into_iter().collect();
        d.travel_seen = s.travel_seen.into_iter().collect();
        d.assume_denials = s.assume_denials;
        d.console_failures = s.console_failures;
        d.enumeration = s.enumeration;
        d.human_ips = s.human_ips.into_iter().collect();
        d.instance_use = s.instance_use;
        d.api_denials = s.api_denials;
        d.fan = s.fan;
        d.fan_done = s.fan_done;
        d.paths = s.paths;
        d
    }

    /// Combines the states of shards that judged different logs (other accounts, other days):
    /// a principal seen in both gets one baseline of both histories; windows and open bursts
    /// are joined.
    pub fn merge(mut self, other: Detector<'a>) -> Detector<'a> {
        let shift = self.findings.len();
        self.findings.extend(other.findings);
        for (p, b) in other.base {
            match self.base.remove(&p) {
                None => {
                    self.base.insert(p, b);
                }
                Some(a) => {
                    self.base.insert(p, a.merged(b));
                }
            }
        }
        self.odd_seen.extend(other.odd_seen);
        self.travel_seen.extend(other.travel_seen);
        for (p, (i, t)) in other.hour_burst {
            if self.hour_burst.get(&p).is_none_or(|&(_, have)| have < t) {
                self.hour_burst.insert(p, (i + shift, t));
            }
        }
        for (k, (i, t)) in other.root_attempts {
            if self.root_attempts.get(&k).is_none_or(|&(_, have)| have < t) {
                self.root_attempts.insert(k, (i + shift, t));
            }
        }
        for (k, p) in other.posture {
            let p = p.shifted(shift);
            match self.posture.remove(&k) {
                None => {
                    self.posture.insert(k, p);
                }
                Some(mine) => {
                    let kept = mine.absorb(p, &mut self.findings);
                    self.posture.insert(k, kept);
                }
            }
        }
        for (p, w) in other.api_denials {
            match self.api_denials.remove(&p) {
                None => self.api_denials.insert(p, w),
                Some(mine) => self.api_denials.insert(p, mine.merged(w)),
            };
        }
        for (p, opened) in other.fan {
            let v = self.fan.entry(p).or_default();
            let mut all: Vec<lineage::Opened> = v.drain(..).chain(opened).collect();
            all.sort_by(|a, b| a.seen.time.cmp(&b.seen.time).then(a.key.cmp(&b.key)));
            *v = all.into();
        }
        self.fan_done.extend(other.fan_done);
        for (p, paths) in other.paths {
            self.paths.entry(p).or_default().extend(paths);
        }
        let by_time = |v: &mut Vec<Denial>| v.sort_by_key(|d| d.seen.time);
        for (c, d) in other.assume_denials {
            let v = self.assume_denials.entry(c).or_default();
            v.extend(d);
            by_time(v);
        }
        for (c, d) in other.console_failures {
            let v = self.console_failures.entry(c).or_default();
            v.extend(d);
            by_time(v);
        }
        for (c, (d, until)) in other.enumeration {
            let e = self
                .enumeration
                .entry(c)
                .or_insert_with(|| (VecDeque::new(), Millis::MIN));
            let mut v: Vec<Denial> = e.0.drain(..).chain(d).collect();
            by_time(&mut v);
            e.0 = v.into();
            e.1 = e.1.max(until);
        }
        for (ip, who) in other.human_ips {
            self.human_ips.entry(ip).or_insert(who);
        }
        for (k, u) in other.instance_use {
            let have = self.instance_use.entry(k).or_default();
            for ip in u.ips {
                if !have.index.contains_key(&ip.ip) {
                    have.index.insert(ip.ip.clone(), have.ips.len());
                    have.ips.push(ip);
                }
            }
        }
        self
    }

    /// Forgets what a principal did (a baseline reset): its history is learned again.
    pub fn forget(&mut self, principal: &str) {
        self.base.remove(principal);
        self.odd_seen.retain(|(p, _)| p != principal);
        self.travel_seen.retain(|(p, _, _)| p != principal);
        self.hour_burst.remove(principal);
        self.paths.remove(principal);
        self.fan_done.remove(principal);
    }

    /// Keeps the addresses of instance keys for which `keep` holds (the keys a retired graph
    /// still knows): the others were judged by the run that saw them.
    pub fn retain_instance_keys(&mut self, keep: impl Fn(&str) -> bool) {
        self.instance_use.retain(|k, _| keep(k));
    }

    /// Forgets principals not seen since `before` (their baselines expire).
    pub fn expire(&mut self, before: Millis) {
        let gone: HashSet<String> = self
            .base
            .iter()
            .filter(|(_, b)| b.last_seen < before)
            .map(|(p, _)| p.clone())
            .collect();
        for p in &gone {
            self.forget(p);
        }
    }

    pub fn new(geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        Detector {
            geo,
            cfg,
            cidrs: cfg.cidrs(),
            ip_cache: HashMap::new(),
            findings: Vec::new(),
            base: HashMap::new(),
            odd_seen: HashSet::new(),
            hour_burst: HashMap::new(),
            travel_seen: HashSet::new(),
            assume_denials: BTreeMap::new(),
            console_failures: BTreeMap::new(),
            enumeration: BTreeMap::new(),
            human_ips: HashMap::new(),
            instance_use: BTreeMap::new(),
            posture: BTreeMap::new(),
            egress: cfg.location.egress_asns.iter().copied().collect(),
            api_denials: BTreeMap::new(),
            root_attempts: HashMap::new(),
            fan: BTreeMap::new(),
            fan_done: BTreeSet::new(),
            paths: BTreeMap::new(),
        }
    }

    /// Judges the next time-ordered slice of events. `sessions` answers for every key issued or
    /// seen up to the end of the slice.
    pub fn observe(&mut self, events: &[Event], sessions: &impl Lookup) {
        let Some(last) = events.last().map(|e| e.event_time) else {
            return;
        };
        self.baselines(events, sessions);
        self.failed_then_success(events, sessions, last);
        self.console_failed_then_success(events, sessions, last);
        self.role_enumeration(events, sessions, last);
        self.gather_instance_use(events, sessions);
        self.federation_token_admin(events, sessions);
        self.console_login_without_mfa(events, sessions);
        self.root_account_use(events, sessions);
        self.api_enumeration(events, sessions, last);
        self.assume_root_denied(events, sessions);
        self.opened_sessions(events, sessions, last);
    }

    /// Findings so far (before the detections that need the whole graph).
    pub fn pending(&self) -> usize {
        self.findings.len()
    }

    /// The findings: those of the slices, plus deep chains and credential exfiltration judged
    /// on the whole graph; chains filled in, allowlisted principals dropped, in output order.
    pub fn finish(&mut self, graph: &Graph) -> Vec<Finding> {
        let before = self.findings.len();
        self.deep_role_chain(graph);
        self.credential_exfiltration(graph);
        self.lineage(graph);
        self.settle_posture();
        let out = self.output(graph);
        // The whole-graph detections run again on the next finish (the graph may have grown).
        self.findings.truncate(before);
        out
    }

    /// Every finding so far, chains filled in from `graph`, allowlisted principals dropped,
    /// posture findings folded across shards, in output order.
    fn output(&self, graph: &Graph) -> Vec<Finding> {
        let allow: HashSet<&str> = self
            .cfg
            .allowlist
            .principals
            .iter()
            .map(String::as_str)
            .collect();
        let folded = self.folded_posture();
        let mut out: Vec<Finding> = self
            .findings
            .iter()
            .enumerate()
            .filter(|(i, _)| !folded.contains(i))
            .map(|(_, f)| f)
            .filter(|f| !allow.contains(f.principal.as_str()))
            .cloned()
            .map(|mut f| {
                f.chain = chain_of(graph, f.access_key_id.as_deref());
                f
            })
            .collect();
        out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        out
    }

    // ---- Judging sessions as they retire (bounded memory; see engine::Hunt::bounded) ----

    /// Judges sessions taken out of the graph while streaming (a part of the graph that holds
    /// every ancestor of its sessions and that no later call can change): their deep role
    /// chains, and the credential exfiltration of their instance keys whose outcome is settled
    /// (every address that counts is outside AWS or already one a person used: later calls
    /// can make an address a person's, never take that away). Returns the instance keys whose
    /// judgement waits for the end ([`Detector::finish_retired`]).
    pub fn judge_retired(&mut self, retired: &Graph) -> HashSet<Text> {
        self.deep_role_chain(retired);
        self.lineage(retired);
        let keys: Vec<Text> = retired
            .sessions
            .iter()
            .map(|s| &s.access_key_id)
            .filter(|k| self.instance_use.contains_key(*k))
            .cloned()
            .collect();
        let mut waiting = HashSet::new();
        let mut settled = Vec::new();
        for k in keys {
            let ips: Vec<Text> = self.instance_use[&k]
                .ips
                .iter()
                .filter(|u| !u.families.is_empty())
                .map(|u| u.ip.clone())
                .collect();
            let open = ips.iter().any(|ip| {
                let info = self.info(ip);
                let counts = info.is_address() && !self.allowlisted(&info);
                let outside = info.is_outside_aws();
                counts && !outside && !self.human_ips.contains_key(ip)
            });
            if open {
                waiting.insert(k);
            } else {
                settled.push(k);
            }
        }
        // Judge the settled keys alone, then forget them; the waiting ones stay.
        let judged: BTreeMap<Text, InstanceUse> = settled
            .iter()
            .filter_map(|k| self.instance_use.remove_entry(k))
            .collect();
        let others = std::mem::replace(&mut self.instance_use, judged);
        self.credential_exfiltration(retired);
        self.instance_use = others;
        waiting
    }

    /// Takes out an instance key whose judgement waits for the end (one
    /// [`Detector::judge_retired`] returned), to keep it out of memory meanwhile.
    pub fn take_waiting(&mut self, key: &str) -> Option<WaitingUse> {
        self.instance_use
            .remove_entry(key)
            .map(|(key, usage)| WaitingUse { key, usage })
    }

    /// Judges, at the end (every address people used known), an instance key taken out by
    /// [`Detector::take_waiting`]; `graph` holds its session and chain. Returns whether that
    /// made a finding.
    pub fn judge_waiting(&mut self, w: WaitingUse, graph: &Graph) -> bool {
        let before = self.findings.len();
        let others = std::mem::replace(
            &mut self.instance_use,
            [(w.key, w.usage)].into_iter().collect(),
        );
        self.credential_exfiltration(graph);
        self.instance_use = others;
        self.findings.len() > before
    }

    /// Calls `each` with the key of every finding from the `from`-th on; returns how many
    /// findings there are.
    pub fn cited_keys(&self, from: usize, mut each: impl FnMut(&str)) -> usize {
        for f in self.findings.iter().skip(from) {
            if let Some(k) = f.access_key_id.as_deref() {
                each(k);
            }
        }
        self.findings.len()
    }

    /// [`Detector::finish`] for a hunt that judged retired sessions as it went: `rest` is the
    /// graph of the sessions still held, `kept` the retired ones findings cite (or whose
    /// instance keys wait for judgement), with their chains. Returns the graph of both and the
    /// findings.
    pub fn finish_retired(&mut self, rest: Graph, kept: Vec<Session>) -> (Graph, Vec<Finding>) {
        let before = self.findings.len();
        self.deep_role_chain(&rest);
        self.lineage(&rest);
        let all = rest.join(kept);
        self.credential_exfiltration(&all);
        self.settle_posture();
        let out = self.output(&all);
        self.findings.truncate(before);
        (all, out)
    }

    fn info(&mut self, ip: &str) -> IpInfo {
        if let Some(i) = self.ip_cache.get(ip) {
            return i.clone();
        }
        let i = self.geo.lookup(ip);
        if self.ip_cache.len() >= IP_CACHE {
            self.ip_cache.clear();
        }
        self.ip_cache.insert(Text::from(ip), i.clone());
        i
    }

    fn place(&mut self, at: &Seen) -> Place {
        let Some(ip) = at.source_ip.as_deref() else {
            return Place::default();
        };
        let i = self.info(ip);
        Place {
            source_ip: Some(ip.to_string()),
            country: i.country,
            asn: i.asn,
            as_org: i.as_org,
        }
    }

    fn allowlisted(&self, i: &IpInfo) -> bool {
        i.asn.is_some_and(|a| self.cfg.allowlist.asns.contains(&a))
            || i.ip
                .is_some_and(|ip| self.cidrs.iter().any(|c| c.contains(ip)))
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: Kind,
        severity: Severity,
        at: &Seen,
        principal: String,
        key: Option<&str>,
        summary: String,
        reason: String,
        evidence: Vec<&Seen>,
    ) {
        let mut ev: Vec<(Millis, String)> = evidence
            .iter()
            .filter_map(|e| e.id.as_deref().map(|id| (e.time, id.to_string())))
            .collect();
        ev.sort();
        ev.dedup();
        let place = self.place(at);
        self.findings.push(Finding {
            kind,
            severity,
            time: at.time,
            principal,
            access_key_id: key.map(str::to_string),
            account: at.account.as_deref().map(str::to_string),
            place,
            summary,
            reason,
            evidence_event_ids: ev.into_iter().map(|(_, id)| id).collect(),
            events: None,
            last_time: None,
            chain: Vec::new(),
            sigma: None,
            respond: None,
        });
    }

    /// odd_ip, unusual_hour and impossible_travel: one pass in time order, each event judged
    /// against the principal's history before it.
    fn baselines(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            if e.shared_copy {
                continue;
            }
            // Borrowed: a principal's name is copied only when it is new or in a finding.
            let Some(p) = principal_ref(sessions, e) else {
                continue;
            };
            if p.ends_with(".amazonaws.com") {
                continue;
            }
            let info = e.source_ip.as_deref().map(|ip| self.info(ip));
            let session = e.access_key_id.as_deref().and_then(|k| sessions.session(k));
            let instance = session.is_some_and(Session::is_instance_profile);
            let allow = info.as_ref().is_some_and(|i| self.allowlisted(i));
            let egress = info
                .as_ref()
                .and_then(|i| i.asn)
                .is_some_and(|a| self.egress.contains(&a));
            let cfg = self.cfg;
            if !self.base.contains_key(p) {
                let new = Baseline {
                    first_seen: e.event_time,
                    hour_of_week: vec![0; 168],
                    ..Baseline::default()
                };
                self.base.insert(p.to_string(), new);
            }
            let Some(b) = self.base.get_mut(p) else {
                continue;
            };
            // Asked once a principal is known to be automation no more (it stays one).
            b.robot = b.robot || instance || is_automation(e, session, sessions);
            b.egress_events += u64::from(egress);
            let learned = b.learned(e.event_time, cfg);
            let mut new_findings: Vec<(Kind, Severity, String, String)> = Vec::new();

            // odd_ip
            if let Some(i) = info
                .as_ref()
                .filter(|i| i.is_address() && i.country.is_some() || i.asn.is_some())
            {
                // An egress address's country is not where the caller is: only its network
                // is judged.
                let new_country = i
                    .country
                    .as_ref()
                    .filter(|c| !egress && !b.countries.contains_key(*c));
                let new_asn = i.asn.filter(|a| !b.asns.contains_key(a));
                // A new country through a network the principal already uses is that network
                // geolocated elsewhere (carrier address pools, roaming), not a new place; a new
                // access network in a country it already works from (another mobile carrier,
                // hotel Wi-Fi) is routine. Egress networks (clouds, hosting, gateways) are
                // where stolen keys are used from: a new one is always judged.
                let fire_country =
                    cfg.odd_ip.countries && new_country.is_some() && new_asn.is_some();
                let fire_asn =
                    cfg.odd_ip.asns && new_asn.is_some() && (new_country.is_some() || egress);
                if learned && !allow && !instance && (fire_country || fire_asn) {
                    let what = if egress {
                        i.asn.map(|a| format!("AS{a}")).unwrap_or_default()
                    } else {
                        format!(
                            "{}{}",
                            i.country.as_deref().unwrap_or("?"),
                            i.asn.map(|a| format!("/AS{a}")).unwrap_or_default()
                        )
                    };
                    if self.odd_seen.insert((p.to_string(), what.clone())) {
                        let mut parts = Vec::new();
                        if fire_country {
                            parts.push(format!("country {}", i.country.as_deref().unwrap_or("?")));
                        }
                        if fire_asn {
                            parts.push(format!(
                                "network AS{} ({}{})",
                                i.asn.unwrap_or_default(),
                                i.as_org.as_deref().unwrap_or("unknown"),
                                if egress {
                                    ", an egress network: its country says nothing of where the caller is"
                                } else {
                                    ""
                                }
                            ));
                        }
                        new_findings.push((
                            Kind::OddIp,
                            if fire_country && fire_asn {
                                Severity::High
                            } else {
                                Severity::Medium
                            },
                            format!(
                                "{p} made its first call from {} ({}).",
                                parts.join(" and "),
                                e.source_ip.as_deref().unwrap_or("?")
                            ),
                            format!(
                                "new {}; its history: {}",
                                parts.join(", new "),
                                b.describe_places()
                            ),
                        ));
                    }
                }
                if let Some(c) = i.country.as_ref().filter(|_| !egress) {
                    b.countries.entry(c.clone()).or_insert(e.event_time);
                }
                if let Some(a) = i.asn {
                    b.asns.entry(a).or_insert(e.event_time);
                }
                // impossible_travel: from the last place to this one, faster than a plane. An
                // egress address is no place.
                let place = location_of(i).filter(|_| !egress);
                if let (Some((loc, precise)), Some(c)) = (place, i.country.clone()) {
                    if let Some((t0, c0, loc0, ip0)) = &b.last_place {
                        let km = distance_km(*loc0, loc);
                        let hours = ((e.event_time - t0) as f64 / HOUR as f64).max(1.0 / 60.0);
                        let speed = km / hours;
                        if *c0 != c
                            && km >= cfg.impossible_travel.min_distance_km
                            && speed > cfg.impossible_travel.max_speed_kmh
                            && !allow
                            && self
                                .travel_seen
                                .insert((p.to_string(), c0.clone(), c.clone()))
                        {
                            new_findings.push((
                                Kind::ImpossibleTravel,
                                Severity::High,
                                format!(
                                    "{p} was in {c0} ({ip0}) and {c} ({}) {:.0} minutes apart: {km:.0} km.",
                                    e.source_ip.as_deref().unwrap_or("?"),
                                    (e.event_time - t0) as f64 / MINUTE as f64
                                ),
                                format!(
                                    "{km:.0} km in {:.1} h is {speed:.0} km/h, above {:.0} km/h{}",
                                    hours,
                                    cfg.impossible_travel.max_speed_kmh,
                                    if precise { "" } else { " (country centroids)" }
                                ),
                            ));
                        }
                    }
                    b.last_place = Some((
                        e.event_time,
                        c,
                        loc,
                        e.source_ip.as_deref().unwrap_or("?").to_string(),
                    ));
                }
            }

            // unusual_hour
            let (wd, hr) = week_hour(e.event_time);
            let uh = &cfg.unusual_hour;
            if !b.is_robot() && b.days.len() >= uh.min_active_days && b.events >= uh.min_events {
                let near = |h: usize, d: i64| ((h as i64 + d).rem_euclid(24)) as usize;
                let day_share = (-1..=1).map(|d| b.hour_of_day[near(hr, d)]).sum::<u64>() as f64
                    / b.events.max(1) as f64;
                let week_count: u64 = (-1..=1)
                    .map(|d| {
                        let slot = (wd * 24 + hr) as i64 + d;
                        b.hour_of_week[slot.rem_euclid(168) as usize]
                    })
                    .sum();
                if week_count == 0 && day_share < uh.max_share {
                    match self.hour_burst.get(p) {
                        Some(&(idx, last)) if e.event_time - last <= 2 * HOUR => {
                            add_evidence(&mut self.findings[idx], e);
                            self.hour_burst.insert(p.to_string(), (idx, e.event_time));
                        }
                        _ => {
                            let active: Vec<String> = (0..24)
                                .filter(|h| b.hour_of_day[*h] > 0)
                                .map(|h| format!("{h:02}"))
                                .collect();
                            new_findings.push((
                                Kind::UnusualHour,
                                Severity::Medium,
                                format!(
                                    "{p} was active at {} {:02}:00 UTC, an hour it has never worked.",
                                    WEEKDAYS[wd], hr
                                ),
                                format!(
                                    "no activity on {} {:02}:00-{:02}:59 UTC and {:.1}% of its {} events within an hour of {:02}:00 on any day, over {} active days; its active hours (UTC): {}",
                                    WEEKDAYS[wd],
                                    (hr + 23) % 24,
                                    (hr + 1) % 24,
                                    day_share * 100.0,
                                    b.events,
                                    hr,
                                    b.days.len(),
                                    active.join(" ")
                                ),
                            ));
                            self.hour_burst.insert(
                                p.to_string(),
                                (self.findings.len() + new_findings.len() - 1, e.event_time),
                            );
                        }
                    }
                }
            }
            b.events += 1;
            b.last_seen = b.last_seen.max(e.event_time);
            b.days.insert(e.event_time.div_euclid(DAY));
            b.hour_of_day[hr] += 1;
            b.hour_of_week[wd * 24 + hr] += 1;

            let key = e.access_key_id.as_deref().filter(|k| !k.is_empty());
            let at = Seen::of(e);
            for (kind, sev, summary, reason) in new_findings {
                self.push(
                    kind,
                    sev,
                    &at,
                    p.to_string(),
                    key,
                    summary,
                    reason,
                    vec![&at],
                );
            }
        }
    }

    /// Two or more denied AssumeRole* calls by one caller within the window, then a success.
    fn failed_then_success(&mut self, events: &[Event], sessions: &impl Lookup, last: Millis) {
        let window = self.cfg.failed_then_success.window_minutes * MINUTE;
        let min = self.cfg.failed_then_success.min_failures;
        let mut by_caller: BTreeMap<String, Vec<&Event>> = BTreeMap::new();
        for e in events.iter().filter(|e| is_assume_role(e)) {
            let caller = e
                .principal_arn
                .as_deref()
                .or(e.access_key_id.as_deref())
                .or(e.principal_id.as_deref());
            if let Some(c) = caller {
                by_caller.entry(c.to_string()).or_default().push(e);
            }
        }
        for (caller, calls) in by_caller {
            // The denials still in the window from earlier slices, then this slice's: a success
            // counts every unused denial at or before its time (later ones of the same
            // millisecond too, as a whole-input pass does).
            let mut denials = self.assume_denials.remove(&caller).unwrap_or_default();
            denials.extend(calls.iter().filter(|d| is_denied(d)).map(|d| Denial::of(d)));
            for s in calls.iter().filter(|e| !e.is_error) {
                let picked: Vec<usize> = (0..denials.len())
                    .filter(|&i| {
                        let d = &denials[i];
                        d.seen.time <= s.event_time
                            && s.event_time - d.seen.time <= window
                            && !d.used
                    })
                    .collect();
                if picked.len() < min {
                    continue;
                }
                for &i in &picked {
                    // A denial without an event id cannot be told apart: it stays usable.
                    if denials[i].seen.id.is_some() {
                        denials[i].used = true;
                    }
                }
                let roles: BTreeSet<&str> = picked
                    .iter()
                    .filter_map(|&i| denials[i].role.as_deref())
                    .collect();
                let principal = principal_of(sessions, s).unwrap_or_else(|| "unknown".into());
                let key = s.sts().issued_access_key_id.as_deref();
                let span = (s.event_time - denials[picked[0]].seen.time) / 1000;
                let summary = format!(
                    "{principal} was denied {} AssumeRole calls, then assumed {} {span}s after the first denial.",
                    picked.len(),
                    s.sts().requested_role_arn.as_deref().unwrap_or("a role")
                );
                let reason = format!(
                    "{} denials (roles: {}) and a success within {} minutes (threshold: {min} denials); caller key {}",
                    picked.len(),
                    roles.into_iter().collect::<Vec<_>>().join(", "),
                    self.cfg.failed_then_success.window_minutes,
                    s.access_key_id.as_deref().unwrap_or("-")
                );
                let at = Seen::of(s);
                let mut evidence: Vec<Seen> =
                    picked.iter().map(|&i| denials[i].seen.clone()).collect();
                evidence.push(at.clone());
                self.push(
                    Kind::FailedThenSuccess,
                    Severity::High,
                    &at,
                    principal,
                    key,
                    summary,
                    reason,
                    evidence.iter().collect(),
                );
            }
            // Later successes come after `last`: older denials can no longer count.
            denials.retain(|d| !d.used && d.seen.time >= last - window);
            if !denials.is_empty() {
                self.assume_denials.insert(caller, denials);
            }
        }
        self.assume_denials
            .retain(|_, d| d.last().is_some_and(|d| d.seen.time >= last - window));
    }

    /// Failed console sign-ins for a user (or root), then a successful one.
    fn console_failed_then_success(
        &mut self,
        events: &[Event],
        sessions: &impl Lookup,
        last: Millis,
    ) {
        let window = self.cfg.failed_then_success.console_window_hours * HOUR;
        let min = self.cfg.failed_then_success.min_failures;
        let failed = |e: &Event| {
            e.error_message.is_some()
                || e.response_elements
                    .as_deref()
                    .is_some_and(|r| r.contains("Failure"))
        };
        for e in events
            .iter()
            .filter(|e| e.event_name.as_deref() == Some("ConsoleLogin"))
        {
            // Failed sign-ins carry no ARN (AWS records type, principal id, account and user
            // name only): failures and successes meet on the account and user name.
            let Some(signer) = console_signer(e) else {
                continue;
            };
            let fails = self.console_failures.entry(signer).or_default();
            if failed(e) {
                fails.push(Denial::of(e));
                continue;
            }
            let picked: Vec<Denial> = fails
                .iter()
                .filter(|f| e.event_time - f.seen.time <= window)
                .cloned()
                .collect();
            if picked.len() < min {
                continue;
            }
            fails.retain(|f| e.event_time - f.seen.time > window);
            let who = principal_of(sessions, e)
                .or_else(|| e.user_name.as_deref().map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            let fail_ips: BTreeSet<&str> = picked
                .iter()
                .filter_map(|f| f.seen.source_ip.as_deref())
                .collect();
            let severity = if e.identity_type.as_deref() == Some("Root") {
                Severity::Critical
            } else {
                Severity::High
            };
            let summary = format!(
                "{who} failed to sign in to the console {} times, then signed in from {}.",
                picked.len(),
                e.source_ip.as_deref().unwrap_or("?")
            );
            let reason = format!(
                "{} failed ConsoleLogin from [{}] within {} hours before the success (threshold: {min})",
                picked.len(),
                fail_ips.into_iter().collect::<Vec<_>>().join(", "),
                self.cfg.failed_then_success.console_window_hours
            );
            let at = Seen::of(e);
            let mut evidence: Vec<&Seen> = picked.iter().map(|f| &f.seen).collect();
            evidence.push(&at);
            self.push(
                Kind::FailedThenSuccess,
                severity,
                &at,
                who,
                None,
                summary,
                reason,
                evidence,
            );
        }
        // Later successes come after `last`: older failures can no longer count.
        self.console_failures.retain(|_, fails| {
            fails.retain(|f| f.seen.time >= last - window);
            !fails.is_empty()
        });
    }

    /// Denials across many distinct roles by one caller.
    fn role_enumeration(&mut self, events: &[Event], sessions: &impl Lookup, last: Millis) {
        let window = self.cfg.role_enumeration.window_minutes * MINUTE;
        let min = self.cfg.role_enumeration.min_roles;
        for e in events
            .iter()
            .filter(|e| e.is_issuing_call && is_denied(e) && !e.shared_copy)
        {
            let Some(c) = e.principal_arn.as_deref().or(e.access_key_id.as_deref()) else {
                continue;
            };
            let (denials, reported_until) = self
                .enumeration
                .entry(c.to_string())
                .or_insert_with(|| (VecDeque::new(), Millis::MIN));
            denials.push_back(Denial::of(e));
            while denials.len() > 1
                && denials
                    .front()
                    .is_some_and(|d| e.event_time.saturating_sub(d.seen.time) > window)
            {
                denials.pop_front();
            }
            let roles: BTreeSet<&str> = denials.iter().filter_map(|d| d.role.as_deref()).collect();
            let start = denials.front().map_or(e.event_time, |d| d.seen.time);
            if roles.len() < min || start <= *reported_until {
                continue;
            }
            *reported_until = e.event_time;
            let summary_roles = roles.len();
            let listed = roles.into_iter().collect::<Vec<_>>().join(", ");
            let evidence: Vec<Seen> = denials.iter().map(|d| d.seen.clone()).collect();
            let principal = principal_of(sessions, e).unwrap_or_else(|| "unknown".into());
            let at = Seen::of(e);
            self.push(
                Kind::RoleEnumeration,
                Severity::High,
                &at,
                principal.clone(),
                e.access_key_id.as_deref(),
                format!("{principal} was denied AssumeRole on {summary_roles} different roles."),
                format!(
                    "{summary_roles} distinct roles denied within {} minutes (threshold: {min}): {listed}",
                    self.cfg.role_enumeration.window_minutes,
                ),
                evidence.iter().collect(),
            );
        }
        // Later denials come after `last`: older ones leave the window.
        self.enumeration.retain(|_, (denials, _)| {
            while denials.front().is_some_and(|d| last - d.seen.time > window) {
                denials.pop_front();
            }
            !denials.is_empty()
        });
    }

    /// Sessions at or beyond the configured chain depth.
    fn deep_role_chain(&mut self, graph: &Graph) {
        let min = self.cfg.deep_role_chain.min_depth;
        let issuing = |key: &str| graph.issuing_event(key).filter(|e| e.event_id.is_some());
        for s in graph.sessions.iter().filter(|s| s.chain_depth >= min) {
            let Some(e) = issuing(&s.access_key_id) else {
                continue;
            };
            let chain = graph.ancestors(&s.access_key_id);
            let principal = s
                .root_principal
                .as_deref()
                .or(s.role_arn.as_deref())
                .unwrap_or("unknown")
                .to_string();
            let accounts: BTreeSet<&str> =
                chain.iter().filter_map(|c| c.account.as_deref()).collect();
            let path: Vec<String> = chain
                .iter()
                .map(|c| {
                    c.role_arn
                        .as_deref()
                        .unwrap_or(&c.access_key_id)
                        .to_string()
                })
                .collect();
            let mut reason = format!(
                "chain depth {} (threshold {min}) across {} accounts: {} -> {}",
                s.chain_depth,
                accounts.len(),
                principal,
                path.join(" -> ")
            );
            let mut severity = Severity::Medium;
            if s.over_chain_cap() {
                severity = Severity::High;
                reason.push_str(&format!(
                    "; the last hop asked for {}s, above the 3600s cap AWS puts on chained sessions",
                    s.requested_duration_seconds.unwrap_or_default()
                ));
            }
            let evidence: Vec<Seen> = chain
                .iter()
                .filter_map(|c| issuing(&c.access_key_id))
                .map(Seen::of)
                .collect();
            self.push(
                Kind::DeepRoleChain,
                severity,
                &Seen::of(e),
                principal.clone(),
                Some(&s.access_key_id),
                format!(
                    "{principal} reached {} through a {}-hop role chain.",
                    s.role_arn.as_deref().unwrap_or("a role"),
                    s.chain_depth
                ),
                reason,
                evidence.iter().collect(),
            );
        }
    }

    /// What credential_exfiltration needs from a slice: the addresses people use, and where
    /// each instance-profile key was used from.
    fn gather_instance_use(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            let human = matches!(
                e.identity_type.as_deref(),
                Some("IAMUser") | Some("Root") | Some("SAMLUser")
            );
            if human {
                if let (Some(ip), Some(who)) = (&e.source_ip, &e.principal_arn) {
                    if !self.human_ips.contains_key(ip) {
                        self.human_ips.insert(ip.clone(), who.clone());
                    }
                }
            }
            if e.shared_copy {
                continue;
            }
            let Some(s) = e
                .access_key_id
                .as_deref()
                .and_then(|k| sessions.session(k))
                .filter(|s| s.is_instance_profile())
            else {
                continue;
            };
            let Some(ip) = &e.source_ip else { continue };
            let usage = self
                .instance_use
                .entry(s.access_key_id.clone())
                .or_default();
            let n = match usage.index.get(ip) {
                Some(&n) => n,
                None => {
                    usage.index.insert(ip.clone(), usage.ips.len());
                    usage.ips.push(IpUse {
                        ip: ip.clone(),
                        families: Vec::new(),
                        evidence: Vec::new(),
                    });
                    usage.ips.len() - 1
                }
            };
            let u = &mut usage.ips[n];
            let ua: Text = e.user_agent.clone().unwrap_or_else(|| Text::from(""));
            let family = agent_family(&ua);
            if u.families.len() < INSTANCE_FAMILIES && !u.families.iter().any(|f| f.0 == family) {
                u.families.push((family, Seen::of(e), ua));
            }
            if u.evidence.len() < INSTANCE_EVIDENCE {
                u.evidence.push((e.event_time, e.event_id.clone()));
            }
        }
    }

    /// Instance-profile credentials used from somewhere that is not the instance: the first
    /// address that is neither outside AWS nor a person's is the instance's own ("home"); any
    /// address outside AWS, or one a person used, or one with another kind of client than the
    /// instance's, is reported once.
    fn credential_exfiltration(&mut self, graph: &Graph) {
        let keys: Vec<Text> = self.instance_use.keys().cloned().collect();
        for key in keys {
            let Some(s) = graph.get(&key) else {
                continue;
            };
            let principal = s.role_arn.as_deref().unwrap_or("unknown").to_string();
            let instance = s.session_name.as_deref().unwrap_or("?").to_string();
            let mut home: Option<(Text, Text)> = None;
            let ips: Vec<IpUse> = self
                .instance_use
                .get(&key)
                .map(|u| u.ips.clone())
                .unwrap_or_default();
            for IpUse {
                ip,
                families,
                evidence,
            } in ips
            {
                let info = self.info(&ip);
                if !info.is_address() || self.allowlisted(&info) {
                    continue;
                }
                let Some((_, first, first_ua)) = families.first() else {
                    continue;
                };
                let outside = info.is_outside_aws();
                let human = self.human_ips.get(&ip).cloned();
                let (at, ua) = if outside || human.is_some() {
                    (first.clone(), first_ua.clone())
                } else if let Some((_, hua)) = &home {
                    let home_family = agent_family(hua);
                    match families.iter().find(|f| f.0 != home_family) {
                        Some((_, at, ua)) => (at.clone(), ua.clone()),
                        None => continue,
                    }
                } else {
                    home = Some((ip.clone(), first_ua.clone()));
                    continue;
                };
                let why = if outside {
                    format!(
                        "{ip} is outside AWS (AS{} {}, {})",
                        info.asn.unwrap_or_default(),
                        info.as_org.as_deref().unwrap_or("unknown network"),
                        info.country.as_deref().unwrap_or("?")
                    )
                } else if let Some(h) = human {
                    format!("{ip} is an address {h} used: the credentials left the instance for a person's machine")
                } else {
                    format!("{ip} with user agent `{ua}` is unlike the instance's own address and agent")
                };
                let home_txt = home
                    .as_ref()
                    .map(|(i, u)| format!("; the instance itself calls from {i} as `{u}`"))
                    .unwrap_or_default();
                let evidence: Vec<Seen> = evidence
                    .into_iter()
                    .map(|(time, id)| Seen {
                        time,
                        id,
                        account: None,
                        source_ip: None,
                    })
                    .collect();
                self.push(
                    Kind::CredentialExfiltration,
                    if outside { Severity::Critical } else { Severity::High },
                    &at,
                    principal.clone(),
                    Some(&key),
                    format!(
                        "Credentials of instance {instance} ({principal}) were used from {ip}, not from the instance."
                    ),
                    format!("{why}{home_txt}"),
                    evidence.iter().collect(),
                );
            }
        }
    }

    /// GetFederationToken with a policy that allows everything.
    fn federation_token_admin(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            if e.event_name.as_deref() != Some("GetFederationToken") || e.is_error || e.shared_copy
            {
                continue;
            }
            let Some(params) = e.request_parameters.as_deref() else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(params).unwrap_or_default();
            let policy_admin = v
                .get("policy")
                .and_then(|p| p.as_str())
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                .is_some_and(|p| allows_everything(&p));
            let managed_admin = v
                .get("policyArns")
                .is_some_and(|a| a.to_string().contains("AdministratorAccess"));
            if !(policy_admin || managed_admin) {
                continue;
            }
            let principal = principal_of(sessions, e).unwrap_or_else(|| "unknown".into());
            let key = e.sts().issued_access_key_id.as_deref();
            let at = Seen::of(e);
            self.push(
                Kind::FederationTokenAdmin,
                Severity::High,
                &at,
                principal.clone(),
                key,
                format!(
                    "{principal} made federation credentials ({}) with an allow-all policy.",
                    e.sts().role_session_name.as_deref().unwrap_or("?")
                ),
                "GetFederationToken with a session policy allowing Action * on Resource * (or AdministratorAccess): a persistence technique; these credentials survive deactivating the user's access key".to_string(),
                vec![&at],
            );
        }
    }

    /// Successful console sign-ins of IAM users or root without MFA.
    fn console_login_without_mfa(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            if e.event_name.as_deref() != Some("ConsoleLogin")
                || !matches!(e.identity_type.as_deref(), Some("IAMUser") | Some("Root"))
                || e.error_message.is_some()
                || !e
                    .response_elements
                    .as_deref()
                    .is_some_and(|r| r.contains("Success"))
                || !e
                    .additional_event_data
                    .as_deref()
                    .is_some_and(|a| a.replace(' ', "").contains("\"MFAUsed\":\"No\""))
            {
                continue;
            }
            let root = e.identity_type.as_deref() == Some("Root");
            let principal = principal_of(sessions, e).unwrap_or_else(|| "unknown".into());
            let severity = if root {
                Severity::High
            } else {
                Severity::Medium
            };
            self.posture_hit(Kind::ConsoleLoginWithoutMfa, severity, e, principal, None);
        }
    }

    /// Any use of the root user (outside AWS services acting for it), grouped per address and hour.
    fn root_account_use(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            if e.identity_type.as_deref() != Some("Root") || e.invoked_by.is_some() || e.shared_copy
            {
                continue;
            }
            let principal = principal_of(sessions, e).unwrap_or_else(|| "root".into());
            let key = e.access_key_id.as_deref().filter(|k| !k.is_empty());
            self.posture_hit(Kind::RootAccountUse, Severity::High, e, principal, key);
        }
    }
}

/// Whether a policy document allows every action on every resource.
pub fn allows_everything(p: &serde_json::Value) -> bool {
    let stmts = match p.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(o @ serde_json::Value::Object(_)) => vec![o.clone()],
        _ => return false,
    };
    let star = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x == "*"),
        _ => false,
    };
    stmts.iter().any(|s| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
            && star(s.get("Action"))
            && star(s.get("Resource"))
    })
}

/// A coarse family of a user agent: the tool before its version (`aws-cli`, `Boto3`, `aws-sdk-go`).
pub fn agent_family(ua: &str) -> String {
    let first = ua.split_whitespace().next().unwrap_or("");
    first.split('/').next().unwrap_or("").to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn week_hours() {
        // 2026-03-02 is a Monday.
        let t = crate::event::parse_iso("2026-03-02T13:30:00Z").unwrap();
        assert_eq!(week_hour(t), (0, 13));
        let t = crate::event::parse_iso("2026-03-08T03:00:00Z").unwrap();
        assert_eq!(week_hour(t), (6, 3));
    }

    #[test]
    fn allow_all_policies() {
        let p: serde_json::Value = serde_json::from_str(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert!(allows_everything(&p));
        let p: serde_json::Value = serde_json::from_str(
            r#"{"Statement":{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}}"#,
        )
        .unwrap();
        assert!(!allows_everything(&p));
    }

    #[test]
    fn agent_families() {
        assert_eq!(agent_family("aws-cli/2.15.0 Python/3.11"), "aws-cli");
        assert_eq!(agent_family("Boto3/1.34.1 md/Botocore#1.34.1"), "boto3");
        assert_eq!(agent_family("aws-sdk-go/1.44.0 (go1.21)"), "aws-sdk-go");
    }
}
