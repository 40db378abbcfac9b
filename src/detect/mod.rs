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

pub mod config;
pub mod finding;

use crate::event::{format_iso, Event, Millis};
use crate::geoip::{distance_km, GeoIp, IpInfo};

fn location_of(i: &IpInfo) -> Option<((f64, f64), bool)> {
    i.location.map(|l| (l, i.location_precise))
}
use crate::graph::{Graph, Session};
use config::Cidr;
pub use config::DetectConfig;
pub use finding::{Finding, Hop, Kind, Place, Severity};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

const MINUTE: Millis = 60_000;
pub(crate) const HOUR: Millis = 60 * MINUTE;
pub(crate) const DAY: Millis = 24 * HOUR;

/// Networks of the big clouds: a principal that runs there comes from many of their addresses,
/// in many countries (GitHub-hosted runners in Azure, Lambda in AWS).
const CLOUD_ASNS: [u32; 6] = [16509, 14618, 8075, 15169, 396982, 8068];

/// Runs every detection.
pub fn hunt(events: &[Event], graph: &Graph, geo: &GeoIp, cfg: &DetectConfig) -> Vec<Finding> {
    let mut h = Hunter::new(events, graph, geo, cfg);
    h.baselines();
    h.failed_then_success();
    h.console_failed_then_success();
    h.role_enumeration();
    h.deep_role_chain();
    h.credential_exfiltration();
    h.federation_token_admin();
    h.console_login_without_mfa();
    h.root_account_use();
    let allow: HashSet<&str> = cfg
        .allowlist
        .principals
        .iter()
        .map(String::as_str)
        .collect();
    let mut out: Vec<Finding> = h
        .findings
        .into_iter()
        .filter(|f| !allow.contains(f.principal.as_str()))
        .collect();
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    out
}

struct Hunter<'a> {
    events: &'a [Event],
    graph: &'a Graph,
    geo: &'a GeoIp,
    cfg: &'a DetectConfig,
    cidrs: Vec<Cidr>,
    ip_cache: HashMap<&'a str, IpInfo>,
    issuing_index: Option<HashMap<&'a str, &'a Event>>,
    findings: Vec<Finding>,
}

/// What a principal did before the event being judged.
#[derive(Default)]
struct Baseline {
    first_seen: Millis,
    events: u64,
    days: BTreeSet<i64>,
    countries: BTreeMap<String, Millis>,
    asns: BTreeMap<u32, Millis>,
    hour_of_day: [u64; 24],
    hour_of_week: Vec<u64>,
    last_place: Option<(Millis, String, (f64, f64), String)>,
}

impl Baseline {
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
pub fn principal_of(graph: &Graph, e: &Event) -> Option<String> {
    if let Some(s) = e.access_key_id.as_deref().and_then(|k| graph.get(k)) {
        return match s.root_principal.as_deref() {
            Some(r) if r.ends_with(".amazonaws.com") => s.role_arn.as_deref().or(Some(r)),
            Some(r) => Some(r),
            None => s.role_arn.as_deref().or(s.caller_arn.as_deref()),
        }
        .map(str::to_string);
    }
    match e.identity_type.as_deref() {
        Some("IAMUser") | Some("Root") => e.principal_arn.as_deref().map(str::to_string),
        Some("AWSService") => e.invoked_by.as_deref().map(str::to_string),
        Some("SAMLUser") | Some("WebIdentityUser") => e
            .sts()
            .federated_subject
            .as_deref()
            .or(e.user_name.as_deref())
            .map(str::to_string),
        Some("AssumedRole") => e.session_issuer_arn.as_deref().map(str::to_string),
        _ => e.principal_arn.as_deref().map(str::to_string),
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

impl<'a> Hunter<'a> {
    fn new(events: &'a [Event], graph: &'a Graph, geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        Hunter {
            events,
            graph,
            geo,
            cfg,
            cidrs: cfg.cidrs(),
            ip_cache: HashMap::new(),
            issuing_index: None,
            findings: Vec::new(),
        }
    }

    fn info(&mut self, ip: &'a str) -> IpInfo {
        if let Some(i) = self.ip_cache.get(ip) {
            return i.clone();
        }
        let i = self.geo.lookup(ip);
        self.ip_cache.insert(ip, i.clone());
        i
    }

    fn place(&mut self, e: &'a Event) -> Place {
        let Some(ip) = e.source_ip.as_deref() else {
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

    fn session(&self, e: &Event) -> Option<&'a Session> {
        e.access_key_id.as_deref().and_then(|k| self.graph.get(k))
    }

    /// Who is behind a call: see the module documentation.
    fn principal(&self, e: &Event) -> Option<String> {
        principal_of(self.graph, e)
    }

    fn chain(&self, key: Option<&str>) -> Vec<Hop> {
        key.map(|k| self.graph.ancestors(k))
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

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: Kind,
        severity: Severity,
        at: &'a Event,
        principal: String,
        key: Option<&str>,
        summary: String,
        reason: String,
        evidence: Vec<&Event>,
    ) {
        let mut ev: Vec<(Millis, String)> = evidence
            .iter()
            .filter_map(|e| {
                e.event_id
                    .as_deref()
                    .map(|id| (e.event_time, id.to_string()))
            })
            .collect();
        ev.sort();
        ev.dedup();
        let place = self.place(at);
        self.findings.push(Finding {
            kind,
            severity,
            time: at.event_time,
            principal,
            access_key_id: key.map(str::to_string),
            account: at
                .recipient_account_id
                .as_deref()
                .or(at.account_id.as_deref())
                .map(str::to_string),
            place,
            summary,
            reason,
            evidence_event_ids: ev.into_iter().map(|(_, id)| id).collect(),
            chain: self.chain(key),
            respond: None,
        });
    }

    /// odd_ip, unusual_hour and impossible_travel: one pass in time order, each event judged
    /// against the principal's history before it.
    fn baselines(&mut self) {
        let mut base: HashMap<String, Baseline> = HashMap::new();
        let mut odd_seen: HashSet<(String, String)> = HashSet::new();
        // Open unusual-hour bursts: principal -> finding index.
        let mut hour_burst: HashMap<String, (usize, Millis)> = HashMap::new();
        let mut travel_seen: HashSet<(String, String, String)> = HashSet::new();
        let events = self.events;
        for e in events {
            if e.shared_copy {
                continue;
            }
            let Some(p) = self.principal(e) else { continue };
            if p.ends_with(".amazonaws.com") {
                continue;
            }
            let info = e.source_ip.as_deref().map(|ip| self.info(ip));
            let session = self.session(e);
            let instance = session.is_some_and(Session::is_instance_profile);
            let b = base.entry(p.clone()).or_insert_with(|| Baseline {
                first_seen: e.event_time,
                hour_of_week: vec![0; 168],
                ..Baseline::default()
            });
            let learned = b.learned(e.event_time, self.cfg);
            let mut new_findings: Vec<(Kind, Severity, String, String)> = Vec::new();

            // odd_ip
            if let Some(i) = info
                .as_ref()
                .filter(|i| i.is_address() && i.country.is_some() || i.asn.is_some())
            {
                let allow = self.allowlisted(i);
                let new_country = i.country.as_ref().filter(|c| !b.countries.contains_key(*c));
                let new_asn = i.asn.filter(|a| !b.asns.contains_key(a));
                let cloud_known = i
                    .asn
                    .is_some_and(|a| CLOUD_ASNS.contains(&a) && b.asns.contains_key(&a));
                let fire_country =
                    self.cfg.odd_ip.countries && new_country.is_some() && !cloud_known;
                let fire_asn = self.cfg.odd_ip.asns && new_asn.is_some();
                if learned && !allow && !instance && (fire_country || fire_asn) {
                    let what = format!(
                        "{}{}",
                        i.country.as_deref().unwrap_or("?"),
                        i.asn.map(|a| format!("/AS{a}")).unwrap_or_default()
                    );
                    if odd_seen.insert((p.clone(), what.clone())) {
                        let mut parts = Vec::new();
                        if fire_country {
                            parts.push(format!("country {}", i.country.as_deref().unwrap_or("?")));
                        }
                        if fire_asn {
                            parts.push(format!(
                                "network AS{} ({})",
                                i.asn.unwrap_or_default(),
                                i.as_org.as_deref().unwrap_or("unknown")
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
                if let Some(c) = &i.country {
                    b.countries.entry(c.clone()).or_insert(e.event_time);
                }
                if let Some(a) = i.asn {
                    b.asns.entry(a).or_insert(e.event_time);
                }
                // impossible_travel: from the last place to this one, faster than a plane.
                if let (Some((loc, precise)), Some(c)) = (location_of(i), i.country.clone()) {
                    if let Some((t0, c0, loc0, ip0)) = &b.last_place {
                        let km = distance_km(*loc0, loc);
                        let hours = ((e.event_time - t0) as f64 / HOUR as f64).max(1.0 / 60.0);
                        let speed = km / hours;
                        if *c0 != c
                            && km >= self.cfg.impossible_travel.min_distance_km
                            && speed > self.cfg.impossible_travel.max_speed_kmh
                            && !allow
                            && travel_seen.insert((p.clone(), c0.clone(), c.clone()))
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
                                    self.cfg.impossible_travel.max_speed_kmh,
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
            let uh = &self.cfg.unusual_hour;
            if b.days.len() >= uh.min_active_days && b.events >= uh.min_events {
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
                    match hour_burst.get(&p) {
                        Some(&(idx, last)) if e.event_time - last <= 2 * HOUR => {
                            if let Some(id) = &e.event_id {
                                let f = &mut self.findings[idx];
                                if f.evidence_event_ids.len() < 50
                                    && !f.evidence_event_ids.contains(&id.to_string())
                                {
                                    f.evidence_event_ids.push(id.to_string());
                                }
                            }
                            hour_burst.insert(p.clone(), (idx, e.event_time));
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
                            hour_burst.insert(
                                p.clone(),
                                (self.findings.len() + new_findings.len() - 1, e.event_time),
                            );
                        }
                    }
                }
            }
            b.events += 1;
            b.days.insert(e.event_time.div_euclid(DAY));
            b.hour_of_day[hr] += 1;
            b.hour_of_week[wd * 24 + hr] += 1;

            let key = e.access_key_id.as_deref().filter(|k| !k.is_empty());
            for (kind, sev, summary, reason) in new_findings {
                self.push(kind, sev, e, p.clone(), key, summary, reason, vec![e]);
            }
        }
    }

    /// Two or more denied AssumeRole* calls by one caller within the window, then a success.
    fn failed_then_success(&mut self) {
        let window = self.cfg.failed_then_success.window_minutes * MINUTE;
        let min = self.cfg.failed_then_success.min_failures;
        let mut by_caller: BTreeMap<String, Vec<&'a Event>> = BTreeMap::new();
        for e in self.events {
            if e.is_issuing_call
                && !e.shared_copy
                && e.event_name
                    .as_deref()
                    .is_some_and(|n| n.starts_with("AssumeRole"))
            {
                let caller = e
                    .principal_arn
                    .as_deref()
                    .or(e.access_key_id.as_deref())
                    .or(e.principal_id.as_deref());
                if let Some(c) = caller {
                    by_caller.entry(c.to_string()).or_default().push(e);
                }
            }
        }
        for calls in by_caller.into_values() {
            let mut used: HashSet<&str> = HashSet::new();
            for s in calls.iter().filter(|e| !e.is_error) {
                let denials: Vec<&Event> = calls
                    .iter()
                    .copied()
                    .filter(|d| {
                        is_denied(d)
                            && d.event_time <= s.event_time
                            && s.event_time - d.event_time <= window
                            && d.event_id.as_deref().is_none_or(|id| !used.contains(id))
                    })
                    .collect();
                if denials.len() < min {
                    continue;
                }
                for d in &denials {
                    if let Some(id) = d.event_id.as_deref() {
                        used.insert(id);
                    }
                }
                let roles: BTreeSet<&str> = denials
                    .iter()
                    .filter_map(|d| d.sts().requested_role_arn.as_deref())
                    .collect();
                let principal = self.principal(s).unwrap_or_else(|| "unknown".into());
                let key = s.sts().issued_access_key_id.as_deref();
                let span = (s.event_time - denials[0].event_time) / 1000;
                let mut evidence = denials.clone();
                evidence.push(s);
                self.push(
                    Kind::FailedThenSuccess,
                    Severity::High,
                    s,
                    principal.clone(),
                    key,
                    format!(
                        "{principal} was denied {} AssumeRole calls, then assumed {} {span}s after the first denial.",
                        denials.len(),
                        s.sts().requested_role_arn.as_deref().unwrap_or("a role")
                    ),
                    format!(
                        "{} denials (roles: {}) and a success within {} minutes (threshold: {min} denials); caller key {}",
                        denials.len(),
                        roles.into_iter().collect::<Vec<_>>().join(", "),
                        self.cfg.failed_then_success.window_minutes,
                        s.access_key_id.as_deref().unwrap_or("-")
                    ),
                    evidence,
                );
            }
        }
    }

    /// Failed console sign-ins for a user (or root), then a successful one.
    fn console_failed_then_success(&mut self) {
        let window = self.cfg.failed_then_success.console_window_hours * HOUR;
        let min = self.cfg.failed_then_success.min_failures;
        let mut by_user: BTreeMap<String, Vec<&'a Event>> = BTreeMap::new();
        for e in self
            .events
            .iter()
            .filter(|e| e.event_name.as_deref() == Some("ConsoleLogin"))
        {
            let who = e
                .principal_arn
                .as_deref()
                .or(e.user_name.as_deref())
                .map(str::to_string)
                .or_else(|| {
                    (e.identity_type.as_deref() == Some("Root"))
                        .then(|| format!("root:{}", e.account_id.as_deref().unwrap_or("?")))
                });
            if let Some(w) = who {
                by_user.entry(w).or_default().push(e);
            }
        }
        let failed = |e: &Event| {
            e.error_message.is_some()
                || e.response_elements
                    .as_deref()
                    .is_some_and(|r| r.contains("Failure"))
        };
        for (who, logins) in by_user {
            let mut used: HashSet<usize> = HashSet::new();
            for (si, s) in logins.iter().enumerate() {
                if failed(s) {
                    continue;
                }
                let fails: Vec<usize> = (0..si)
                    .filter(|&i| {
                        failed(logins[i])
                            && !used.contains(&i)
                            && s.event_time - logins[i].event_time <= window
                    })
                    .collect();
                if fails.len() < min {
                    continue;
                }
                used.extend(fails.iter().copied());
                let fail_ips: BTreeSet<&str> = fails
                    .iter()
                    .filter_map(|&i| logins[i].source_ip.as_deref())
                    .collect();
                let mut evidence: Vec<&Event> = fails.iter().map(|&i| logins[i]).collect();
                evidence.push(s);
                let severity = if s.identity_type.as_deref() == Some("Root") {
                    Severity::Critical
                } else {
                    Severity::High
                };
                self.push(
                    Kind::FailedThenSuccess,
                    severity,
                    s,
                    who.clone(),
                    None,
                    format!(
                        "{who} failed to sign in to the console {} times, then signed in from {}.",
                        fails.len(),
                        s.source_ip.as_deref().unwrap_or("?")
                    ),
                    format!(
                        "{} failed ConsoleLogin from [{}] within {} hours before the success (threshold: {min})",
                        fails.len(),
                        fail_ips.into_iter().collect::<Vec<_>>().join(", "),
                        self.cfg.failed_then_success.console_window_hours
                    ),
                    evidence,
                );
            }
        }
    }

    /// Denials across many distinct roles by one caller.
    fn role_enumeration(&mut self) {
        let window = self.cfg.role_enumeration.window_minutes * MINUTE;
        let min = self.cfg.role_enumeration.min_roles;
        let mut by_caller: BTreeMap<String, Vec<&'a Event>> = BTreeMap::new();
        for e in self
            .events
            .iter()
            .filter(|e| e.is_issuing_call && is_denied(e) && !e.shared_copy)
        {
            if let Some(c) = e.principal_arn.as_deref().or(e.access_key_id.as_deref()) {
                by_caller.entry(c.to_string()).or_default().push(e);
            }
        }
        for denials in by_caller.into_values() {
            let mut start = 0;
            let mut reported_until: Millis = Millis::MIN;
            for end in 0..denials.len() {
                while start < end && denials[end].event_time - denials[start].event_time > window {
                    start += 1;
                }
                let slice = &denials[start..=end];
                let roles: BTreeSet<&str> = slice
                    .iter()
                    .filter_map(|d| d.sts().requested_role_arn.as_deref())
                    .collect();
                if roles.len() >= min && denials[start].event_time > reported_until {
                    reported_until = denials[end].event_time;
                    let e = denials[end];
                    let principal = self.principal(e).unwrap_or_else(|| "unknown".into());
                    self.push(
                        Kind::RoleEnumeration,
                        Severity::High,
                        e,
                        principal.clone(),
                        e.access_key_id.as_deref(),
                        format!(
                            "{principal} was denied AssumeRole on {} different roles.",
                            roles.len()
                        ),
                        format!(
                            "{} distinct roles denied within {} minutes (threshold: {min}): {}",
                            roles.len(),
                            self.cfg.role_enumeration.window_minutes,
                            roles.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                        slice.to_vec(),
                    );
                }
            }
        }
    }

    /// The call that issued a session, through an index of issuing calls built once.
    fn issuing_event(&mut self, s: &Session) -> Option<&'a Event> {
        let id = s.issuing_event_id.as_deref()?;
        let events = self.events;
        let index = self.issuing_index.get_or_insert_with(|| {
            events
                .iter()
                .filter(|e| e.is_issuing_call && !e.shared_copy)
                .filter_map(|e| e.event_id.as_deref().map(|id| (id, e)))
                .collect()
        });
        index.get(id).copied()
    }

    /// Sessions at or beyond the configured chain depth.
    fn deep_role_chain(&mut self) {
        let min = self.cfg.deep_role_chain.min_depth;
        let graph = self.graph;
        for s in graph.sessions.iter().filter(|s| s.chain_depth >= min) {
            let Some(e) = self.issuing_event(s) else {
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
            let evidence: Vec<&Event> =
                chain.iter().filter_map(|c| self.issuing_event(c)).collect();
            self.push(
                Kind::DeepRoleChain,
                severity,
                e,
                principal.clone(),
                Some(&s.access_key_id),
                format!(
                    "{principal} reached {} through a {}-hop role chain.",
                    s.role_arn.as_deref().unwrap_or("a role"),
                    s.chain_depth
                ),
                reason,
                evidence,
            );
        }
    }

    /// Instance-profile credentials used from somewhere that is not the instance.
    fn credential_exfiltration(&mut self) {
        // Addresses used by people (IAM users, root, federated humans) and their user agents.
        let mut human_ips: HashMap<&str, &str> = HashMap::new();
        for e in self.events {
            let human = matches!(
                e.identity_type.as_deref(),
                Some("IAMUser") | Some("Root") | Some("SAMLUser")
            );
            if human {
                if let (Some(ip), Some(who)) = (e.source_ip.as_deref(), e.principal_arn.as_deref())
                {
                    human_ips.entry(ip).or_insert(who);
                }
            }
        }
        let mut calls: BTreeMap<&str, Vec<&'a Event>> = BTreeMap::new();
        for e in self.events.iter().filter(|e| !e.shared_copy) {
            if let Some(s) = self.session(e).filter(|s| s.is_instance_profile()) {
                calls.entry(&s.access_key_id).or_default().push(e);
            }
        }
        for (key, evs) in calls {
            let Some(s) = self.graph.get(key) else {
                continue;
            };
            let principal = s.role_arn.as_deref().unwrap_or("unknown").to_string();
            // The instance's own address and agent: where the key was first used from AWS or a VPC.
            let mut home: Option<(&str, &str)> = None;
            let mut reported: HashSet<&str> = HashSet::new();
            for e in &evs {
                let Some(ip) = e.source_ip.as_deref() else {
                    continue;
                };
                let ua = e.user_agent.as_deref().unwrap_or("");
                let info = self.info(ip);
                if !info.is_address() || self.allowlisted(&info) {
                    continue;
                }
                let outside = info.class == crate::geoip::AddrClass::Public && !info.is_aws();
                let human = human_ips.get(ip).copied();
                let unlike_home = home.is_some_and(|(hip, hua)| {
                    hip != ip && crate::detect::agent_family(hua) != crate::detect::agent_family(ua)
                });
                if !outside && human.is_none() && home.is_none() {
                    home = Some((ip, ua));
                    continue;
                }
                if !(outside || human.is_some() || unlike_home) || !reported.insert(ip) {
                    continue;
                }
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
                    .map(|(i, u)| format!("; the instance itself calls from {i} as `{u}`"))
                    .unwrap_or_default();
                let instance = s.session_name.as_deref().unwrap_or("?");
                let same: Vec<&Event> = evs
                    .iter()
                    .copied()
                    .filter(|x| x.source_ip.as_deref() == Some(ip))
                    .take(20)
                    .collect();
                self.push(
                    Kind::CredentialExfiltration,
                    if outside { Severity::Critical } else { Severity::High },
                    e,
                    principal.clone(),
                    Some(key),
                    format!(
                        "Credentials of instance {instance} ({principal}) were used from {ip}, not from the instance."
                    ),
                    format!("{why}{home_txt}"),
                    same,
                );
            }
        }
    }

    /// GetFederationToken with a policy that allows everything.
    fn federation_token_admin(&mut self) {
        for e in self.events {
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
            let principal = self.principal(e).unwrap_or_else(|| "unknown".into());
            let key = e.sts().issued_access_key_id.as_deref();
            self.push(
                Kind::FederationTokenAdmin,
                Severity::High,
                e,
                principal.clone(),
                key,
                format!(
                    "{principal} made federation credentials ({}) with an allow-all policy.",
                    e.sts().role_session_name.as_deref().unwrap_or("?")
                ),
                "GetFederationToken with a session policy allowing Action * on Resource * (or AdministratorAccess): a persistence technique; these credentials survive deactivating the user's access key".to_string(),
                vec![e],
            );
        }
    }

    /// Successful console sign-ins of IAM users or root without MFA.
    fn console_login_without_mfa(&mut self) {
        for e in self.events {
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
            let principal = self.principal(e).unwrap_or_else(|| "unknown".into());
            self.push(
                Kind::ConsoleLoginWithoutMfa,
                if root {
                    Severity::High
                } else {
                    Severity::Medium
                },
                e,
                principal.clone(),
                None,
                format!(
                    "{principal} signed in to the console without MFA from {}.",
                    e.source_ip.as_deref().unwrap_or("?")
                ),
                "ConsoleLogin succeeded with additionalEventData.MFAUsed = No".into(),
                vec![e],
            );
        }
    }

    /// Any use of the root user (outside AWS services acting for it), grouped per address and hour.
    fn root_account_use(&mut self) {
        let mut open: HashMap<(String, String), (usize, Millis)> = HashMap::new();
        for e in self.events {
            if e.identity_type.as_deref() != Some("Root") || e.invoked_by.is_some() || e.shared_copy
            {
                continue;
            }
            let principal = self.principal(e).unwrap_or_else(|| "root".into());
            let ip = e.source_ip.as_deref().unwrap_or("?").to_string();
            let k = (principal.clone(), ip.clone());
            if let Some(&(idx, last)) = open.get(&k) {
                if e.event_time - last <= HOUR {
                    if let Some(id) = &e.event_id {
                        let f = &mut self.findings[idx];
                        if f.evidence_event_ids.len() < 50 {
                            f.evidence_event_ids.push(id.to_string());
                        }
                    }
                    open.insert(k, (idx, e.event_time));
                    continue;
                }
            }
            self.push(
                Kind::RootAccountUse,
                Severity::High,
                e,
                principal.clone(),
                e.access_key_id.as_deref().filter(|k| !k.is_empty()),
                format!(
                    "The root user of account {} was used from {ip} ({}).",
                    e.account_id
                        .as_deref()
                        .or(e.recipient_account_id.as_deref())
                        .unwrap_or("?"),
                    e.event_name.as_deref().unwrap_or("?")
                ),
                "the root user should not be used for day-to-day work; every use is worth a look"
                    .into(),
                vec![e],
            );
            open.insert(k, (self.findings.len() - 1, e.event_time));
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

/// `hunt --respond`: names the containment playbook and the exact command for each finding.
/// The playbook for a session comes from `playbook::cli::respond_command` (which also refuses
/// roles IAM cannot revoke); hunt adds what only the finding knows: its kind and the logs.
pub fn respond(findings: &mut [Finding], graph: &Graph, logs: &[std::path::PathBuf]) {
    use crate::playbook::plan::shell_quote;
    let logs_arg: String = logs
        .iter()
        .map(|p| shell_quote(&p.display().to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    for f in findings.iter_mut() {
        f.respond = response_for(f, graph, &logs_arg);
    }
}

fn response_for(f: &Finding, graph: &Graph, logs: &str) -> Option<finding::Response> {
    let user_of = |arn: &str| {
        arn.rsplit_once(":user/")
            .map(|(_, u)| u.rsplit('/').next().unwrap_or(u).to_string())
    };
    let session = f.access_key_id.as_deref().and_then(|k| graph.get(k));
    let (playbook, command) = match (f.kind, session) {
        // The federation token outlives the user's key: revoke the user's temporary credentials.
        (Kind::FederationTokenAdmin, _) => (
            "revoke-user-sessions".to_string(),
            format!(
                "trailhound playbook run revoke-user-sessions --user {}",
                crate::playbook::plan::shell_quote(&user_of(&f.principal)?)
            ),
        ),
        (_, Some(s)) => {
            let (playbook, command) = crate::playbook::cli::respond_command(s)?;
            if playbook == "revoke-role-sessions" {
                // The one-click form: the role and account come from the session graph.
                let c = format!("trailhound revoke --key {} --logs {logs}", s.access_key_id);
                return Some(finding::Response {
                    playbook,
                    command: c,
                });
            }
            (playbook, command)
        }
        // A long-term key signed the calls.
        (_, None) => {
            let key = f
                .access_key_id
                .as_deref()
                .filter(|k| k.starts_with("AKIA"))?;
            (
                "deactivate-access-key".to_string(),
                format!("trailhound playbook run deactivate-access-key --key {key}"),
            )
        }
    };
    Some(finding::Response {
        playbook,
        command: format!("{command} --logs {logs}"),
    })
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
