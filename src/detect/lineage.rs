//! Detections only a session graph can make: they follow a credential to the credentials made
//! from it.
//!
//! - `role_chain_juggling`: a chain that comes back to a role it already went through, and by then
//!   has lived longer than the one-hour cap AWS puts on chained sessions: a session renewing
//!   itself through a cycle of roles so that it never expires.
//! - `workload_chain_outside`: credentials chained from an EC2 instance or Lambda session used
//!   from outside AWS (the workload's own key used outside is `credential_exfiltration`).
//! - `child_session_new_network`: a chained session used from a network its parent session
//!   never used.
//! - `source_identity_changed`: a chain whose source identity changes or disappears below the
//!   hop that set it (AWS carries it down every hop; it cannot legitimately change).
//! - `session_fan_out`: one caller of a root principal (a key or a session) opening sessions in
//!   many roles or accounts within minutes, for the first time.
//! - `new_role_path`: a multi-hop path from a root principal to a role that principal has not
//!   taken before (once its history is learned).

use super::{Detector, Kind, Seen, Severity, MINUTE};
use crate::event::{format_iso, Event, Millis, Text};
use crate::graph::{Graph, Lookup, Session, CHAINED_SESSION_CAP_SECONDS};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Paths remembered per root principal.
const PATHS_PER_PRINCIPAL: usize = 512;
/// Hops followed up a chain.
const MAX_HOPS: usize = 32;

/// A session a root principal opened (session_fan_out's window).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Opened {
    pub(super) seen: Seen,
    pub(super) key: Text,
    role: Option<Text>,
    account: Option<Text>,
}

/// The chain above a session, from the top, through the sessions a [`Lookup`] knows.
fn chain_above<'s>(sessions: &'s impl Lookup, s: &'s Session) -> Vec<&'s Session> {
    let mut chain = vec![s];
    let mut seen: BTreeSet<&str> = [&*s.access_key_id].into();
    let mut at = s;
    while let Some(p) = at
        .parent_access_key_id
        .as_deref()
        .and_then(|k| sessions.session(k))
    {
        if chain.len() >= MAX_HOPS || !seen.insert(&p.access_key_id) {
            break;
        }
        chain.push(p);
        at = p;
    }
    chain.reverse();
    chain
}

/// The top of the chain above a session (as far as [`MAX_HOPS`]; chains can be cut or cyclic),
/// without collecting it: asked on every call of a session.
pub(super) fn chain_top<'s>(sessions: &'s impl Lookup, mut s: &'s Session) -> &'s Session {
    for _ in 0..MAX_HOPS {
        match s
            .parent_access_key_id
            .as_deref()
            .and_then(|k| sessions.session(k))
        {
            Some(parent) => s = parent,
            None => break,
        }
    }
    s
}

fn role_name(arn: &str) -> &str {
    arn.rsplit_once(":role/").map_or(arn, |(_, r)| r)
}

impl Detector<'_> {
    /// session_fan_out and new_role_path: judged when a session is issued.
    pub(super) fn opened_sessions(
        &mut self,
        events: &[Event],
        sessions: &impl Lookup,
        last: Millis,
    ) {
        let window = self.cfg.fan_out.window_minutes * MINUTE;
        for e in events {
            if !e.is_issuing_call || e.is_error || e.shared_copy {
                continue;
            }
            let Some(s) = e
                .sts()
                .issued_access_key_id
                .as_deref()
                .and_then(|k| sessions.session(k))
            else {
                continue;
            };
            let Some(root) = s
                .root_principal
                .clone()
                .filter(|r| !r.ends_with(".amazonaws.com"))
            else {
                continue;
            };
            let root = root.to_string();
            self.fan_out(e, s, &root, window);
            if s.chain_depth >= 2 && s.chain_complete {
                self.new_role_path(e, sessions, s, &root);
            }
        }
        self.fan.retain(|_, v| {
            while v.front().is_some_and(|o| last - o.seen.time > window) {
                v.pop_front();
            }
            !v.is_empty()
        });
    }

    fn fan_out(&mut self, e: &Event, s: &Session, root: &str, window: Millis) {
        if self.fan_done.contains(root) {
            return;
        }
        // Breadth, not depth: the sessions one caller (a key, or a session) opened. A chain
        // through three accounts is deep_role_chain's.
        let caller = s
            .parent_access_key_id
            .as_deref()
            .or(s.caller_access_key_id.as_deref())
            .or(s.caller_arn.as_deref())
            .unwrap_or("?");
        let group = format!("{root}|{caller}");
        let v = self.fan.entry(group.clone()).or_default();
        v.push_back(Opened {
            seen: Seen::of(e),
            key: s.access_key_id.clone(),
            role: s.role_arn.clone(),
            account: s.account.clone(),
        });
        while v
            .front()
            .is_some_and(|o| e.event_time - o.seen.time > window)
        {
            v.pop_front();
        }
        let roles: BTreeSet<&str> = v.iter().filter_map(|o| o.role.as_deref()).collect();
        let accounts: BTreeSet<&str> = v.iter().filter_map(|o| o.account.as_deref()).collect();
        let cfg = &self.cfg.fan_out;
        if roles.len() < cfg.min_roles && accounts.len() < cfg.min_accounts {
            return;
        }
        let minutes = (e.event_time - v.front().map_or(e.event_time, |o| o.seen.time)) / MINUTE;
        let summary = format!(
            "{root} opened sessions in {} roles across {} accounts within {} minutes.",
            roles.len(),
            accounts.len(),
            minutes + 1
        );
        let reason = format!(
            "{} sessions in {} roles (threshold {}) or {} accounts (threshold {}) within {} minutes, the first time this principal fans out this wide: {}",
            v.len(),
            roles.len(),
            cfg.min_roles,
            accounts.len(),
            cfg.min_accounts,
            cfg.window_minutes,
            roles.iter().map(|r| role_name(r)).collect::<Vec<_>>().join(", ")
        );
        let evidence: Vec<Seen> = v.iter().map(|o| o.seen.clone()).collect();
        self.fan_done.insert(root.to_string());
        self.fan.remove(&group);
        let at = Seen::of(e);
        self.push(
            Kind::SessionFanOut,
            Severity::Medium,
            &at,
            root.to_string(),
            Some(&s.access_key_id),
            summary,
            reason,
            evidence.iter().collect(),
        );
    }

    fn new_role_path(&mut self, e: &Event, sessions: &impl Lookup, s: &Session, root: &str) {
        let chain = chain_above(sessions, s);
        let path: Vec<&str> = chain
            .iter()
            .map(|c| c.role_arn.as_deref().unwrap_or("?"))
            .collect();
        let path = path.join(" -> ");
        let learned = self
            .base
            .get(root)
            .is_some_and(|b| b.learned(e.event_time, self.cfg));
        let known = self.paths.entry(root.to_string()).or_default();
        if known.contains(&path) || known.len() >= PATHS_PER_PRINCIPAL {
            return;
        }
        known.insert(path.clone());
        if !learned || known.len() == 1 {
            return;
        }
        let others = known.len() - 1;
        let at = Seen::of(e);
        self.push(
            Kind::NewRolePath,
            Severity::Low,
            &at,
            root.to_string(),
            Some(&s.access_key_id),
            format!(
                "{root} reached {} through a {}-hop path it has never taken.",
                s.role_arn.as_deref().unwrap_or("a role"),
                s.chain_depth
            ),
            format!("first time on {root} -> {path}; {others} other multi-hop paths known for this principal"),
            vec![&at],
        );
    }

    /// The detections that follow each session of the whole graph to its ancestors.
    pub(super) fn lineage(&mut self, graph: &Graph) {
        for s in &graph.sessions {
            if s.parent_access_key_id.is_none() {
                continue;
            }
            let chain = graph.ancestors(&s.access_key_id);
            if chain.len() < 2 {
                continue;
            }
            self.role_chain_juggling(graph, s, &chain);
            self.workload_chain_outside(graph, s, &chain);
            self.child_session_new_network(graph, s, &chain);
            self.source_identity_changed(graph, s, &chain);
        }
    }

    /// Where a finding about session `s` happened: its issuing call, else its first use.
    fn at_session(graph: &Graph, s: &Session) -> Seen {
        match graph.issuing_event(&s.access_key_id) {
            Some(e) => Seen::of(e),
            None => Seen {
                time: s.first_used.or(s.issued_at).unwrap_or_default(),
                id: s.issuing_event_id.clone(),
                account: s.account.clone(),
                source_ip: s.source_ips.first().cloned(),
            },
        }
    }

    fn principal_of_chain(s: &Session, chain: &[&Session]) -> String {
        s.root_principal
            .as_deref()
            .filter(|r| !r.ends_with(".amazonaws.com"))
            .or(chain.first().and_then(|c| c.role_arn.as_deref()))
            .or(s.role_arn.as_deref())
            .unwrap_or("unknown")
            .to_string()
    }

    fn role_chain_juggling(&mut self, graph: &Graph, s: &Session, chain: &[&Session]) {
        let juggles = |s: &Session, chain: &[&Session]| -> Option<Millis> {
            let role = s.role_arn.as_deref()?;
            let issued = s.issued_at?;
            let first = chain[..chain.len() - 1]
                .iter()
                .find(|c| c.role_arn.as_deref() == Some(role))?;
            let lived = issued - first.issued_at?;
            (lived > CHAINED_SESSION_CAP_SECONDS * 1000).then_some(lived)
        };
        let Some(lived) = juggles(s, chain) else {
            return;
        };
        // Reported at the end of the juggling: the deepest session that juggles.
        if graph
            .children(&s.access_key_id)
            .any(|c| juggles(c, &graph.ancestors(&c.access_key_id)).is_some())
        {
            return;
        }
        let principal = Self::principal_of_chain(s, chain);
        let path: Vec<&str> = chain
            .iter()
            .map(|c| c.role_arn.as_deref().map_or("?", role_name))
            .collect();
        let evidence: Vec<Seen> = chain
            .iter()
            .filter_map(|c| graph.issuing_event(&c.access_key_id))
            .map(Seen::of)
            .collect();
        let top = chain[0].issued_at.unwrap_or_default();
        let at = Self::at_session(graph, s);
        self.push(
            Kind::RoleChainJuggling,
            Severity::High,
            &at,
            principal.clone(),
            Some(&s.access_key_id),
            format!(
                "{principal} kept a session alive for {:.1} hours by chaining back into {}.",
                lived as f64 / 3_600_000.0,
                s.role_arn.as_deref().map_or("a role", role_name)
            ),
            format!(
                "the chain returns to a role it already held, {:.1} h after first holding it (chained sessions are capped at 1 h); chain since {}: {}",
                lived as f64 / 3_600_000.0,
                format_iso(top),
                path.join(" -> ")
            ),
            evidence.iter().collect(),
        );
    }

    fn workload_chain_outside(&mut self, graph: &Graph, s: &Session, chain: &[&Session]) {
        let Some(workload) = chain[..chain.len() - 1].iter().find(|c| {
            c.is_instance_profile()
                || c.root_principal
                    .as_deref()
                    .is_some_and(|r| r == "lambda.amazonaws.com")
        }) else {
            return;
        };
        let Some((ip, info)) = s.source_ips.iter().find_map(|ip| {
            let i = self.info(ip);
            (i.is_outside_aws() && !self.allowlisted(&i)).then(|| (ip.clone(), i))
        }) else {
            return;
        };
        let principal = workload
            .role_arn
            .as_deref()
            .unwrap_or("unknown")
            .to_string();
        let at = Self::at_session(graph, s);
        self.push(
            Kind::WorkloadChainOutside,
            Severity::Critical,
            &at,
            principal.clone(),
            Some(&s.access_key_id),
            format!(
                "Credentials chained from workload {} ({principal}) into {} were used from {ip}, outside AWS.",
                workload.session_name.as_deref().unwrap_or("?"),
                s.role_arn.as_deref().map_or("a role", role_name)
            ),
            format!(
                "{ip} is outside AWS (AS{} {}, {}); the chain starts at the workload session {} ({})",
                info.asn.unwrap_or_default(),
                info.as_org.as_deref().unwrap_or("unknown network"),
                info.country.as_deref().unwrap_or("?"),
                workload.access_key_id,
                workload.issued_by_api.as_deref().unwrap_or("?")
            ),
            vec![&at],
        );
    }

    fn child_session_new_network(&mut self, graph: &Graph, s: &Session, chain: &[&Session]) {
        let parent = chain[chain.len() - 2];
        if parent.source_ips.is_empty() || s.source_ips.is_empty() {
            return;
        }
        // Workload chains are judged by workload_chain_outside.
        if chain[..chain.len() - 1].iter().any(|c| {
            c.is_instance_profile()
                || c.root_principal
                    .as_deref()
                    .is_some_and(|r| r.ends_with(".amazonaws.com"))
        }) {
            return;
        }
        let networks = |ips: &[Text], d: &mut Self| -> BTreeSet<u32> {
            ips.iter()
                .filter_map(|ip| {
                    let i = d.info(ip);
                    i.is_outside_aws().then_some(i.asn).flatten()
                })
                .collect()
        };
        let mine = networks(&s.source_ips, self);
        let parents = networks(&parent.source_ips, self);
        if parents.is_empty() {
            return;
        }
        let Some(new) = mine.iter().find(|a| !parents.contains(a)).copied() else {
            return;
        };
        let Some(ip) = s
            .source_ips
            .iter()
            .find(|ip| self.info(ip).asn == Some(new))
            .cloned()
        else {
            return;
        };
        let info = self.info(&ip);
        if self.allowlisted(&info) {
            return;
        }
        let principal = Self::principal_of_chain(s, chain);
        let at = Self::at_session(graph, s);
        self.push(
            Kind::ChildSessionNewNetwork,
            Severity::Medium,
            &at,
            principal.clone(),
            Some(&s.access_key_id),
            format!(
                "A session {principal} chained into {} was used from {ip}, a network its parent session never used.",
                s.role_arn.as_deref().map_or("a role", role_name)
            ),
            format!(
                "{ip} (AS{new} {}, {}) is not among the networks of parent session {} (AS{})",
                info.as_org.as_deref().unwrap_or("unknown network"),
                info.country.as_deref().unwrap_or("?"),
                parent.access_key_id,
                parents
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", AS")
            ),
            vec![&at],
        );
    }

    fn source_identity_changed(&mut self, graph: &Graph, s: &Session, chain: &[&Session]) {
        let parent = chain[chain.len() - 2];
        let Some(expected) = parent.source_identity.as_deref() else {
            return;
        };
        let requested = graph
            .issuing_event(&s.access_key_id)
            .and_then(|e| e.sts().requested_source_identity.clone());
        let what = if let Some(r) = requested.as_deref().filter(|r| *r != expected) {
            format!("the call that issued it asked for source identity `{r}`")
        } else if let Some(u) = s.used_source_identity.as_deref().filter(|u| *u != expected) {
            format!("its calls carry source identity `{u}`")
        } else if s.calls > 0 && s.calls_without_source_identity == s.calls {
            format!("none of its {} calls carries a source identity", s.calls)
        } else {
            return;
        };
        let principal = Self::principal_of_chain(s, chain);
        let at = Self::at_session(graph, s);
        self.push(
            Kind::SourceIdentityChanged,
            Severity::High,
            &at,
            principal.clone(),
            Some(&s.access_key_id),
            format!(
                "Source identity `{expected}` was lost or changed down a chain of {principal}, at {}.",
                s.role_arn.as_deref().map_or("a role", role_name)
            ),
            format!(
                "parent session {} carries source identity `{expected}`, which AWS passes down every hop; {what}",
                parent.access_key_id
            ),
            vec![&at],
        );
    }
}
