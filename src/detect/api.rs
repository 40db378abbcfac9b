//! Detections on the calls themselves: API enumeration (what a leaked key's first minutes look
//! like: one principal tries many APIs of many services and is denied almost everywhere), and
//! denied `sts:AssumeRoot` (an attempt to get root credentials for a member account).

use super::{is_denied, principal_of, Detector, Kind, Seen, Severity, MINUTE};
use crate::event::{Event, Millis};
use crate::graph::Lookup;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// APIs named in an api_enumeration finding's reason.
const LISTED_APIS: usize = 12;
/// Evidence events kept per api_enumeration finding.
const EVIDENCE: usize = 50;

/// One principal's denied APIs inside the window: `service name` -> the latest denial.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApiWindow {
    denied: BTreeMap<String, Seen>,
    /// The time of the last report: a new one needs a window that starts after it.
    reported_until: Option<Millis>,
}

impl ApiWindow {
    pub(super) fn merged(mut self, o: ApiWindow) -> ApiWindow {
        for (api, seen) in o.denied {
            match self.denied.get(&api) {
                Some(have) if have.time >= seen.time => {}
                _ => {
                    self.denied.insert(api, seen);
                }
            }
        }
        self.reported_until = self.reported_until.max(o.reported_until);
        self
    }

    fn prune(&mut self, before: Millis) {
        self.denied.retain(|_, s| s.time >= before);
    }
}

/// `iam.amazonaws.com` -> `iam`.
fn service(source: &str) -> &str {
    source.strip_suffix(".amazonaws.com").unwrap_or(source)
}

impl Detector<'_> {
    /// Many distinct APIs across several services denied to one principal within the window.
    /// AssumeRole* denials are role_enumeration's and not counted here.
    pub(super) fn api_enumeration(
        &mut self,
        events: &[Event],
        sessions: &impl Lookup,
        last: Millis,
    ) {
        let cfg = &self.cfg.api_enumeration;
        let window = cfg.window_minutes * MINUTE;
        let (min_apis, min_services) = (cfg.min_apis, cfg.min_services);
        for e in events {
            if e.shared_copy || e.is_issuing_call || !is_denied(e) {
                continue;
            }
            let (Some(source), Some(name)) = (e.event_source.as_deref(), e.event_name.as_deref())
            else {
                continue;
            };
            let Some(p) = principal_of(sessions, e) else {
                continue;
            };
            let w = self.api_denials.entry(p.clone()).or_default();
            w.prune(e.event_time - window);
            w.denied
                .insert(format!("{} {name}", service(source)), Seen::of(e));
            let services: BTreeSet<&str> = w
                .denied
                .keys()
                .filter_map(|k| k.split(' ').next())
                .collect();
            let start = w
                .denied
                .values()
                .map(|s| s.time)
                .min()
                .unwrap_or(e.event_time);
            if w.denied.len() < min_apis
                || services.len() < min_services
                || w.reported_until.is_some_and(|t| start <= t)
            {
                continue;
            }
            w.reported_until = Some(e.event_time);
            let n_services = services.len();
            let services_txt = services.into_iter().collect::<Vec<_>>().join(", ");
            let mut by_time: Vec<(&String, &Seen)> = w.denied.iter().collect();
            by_time.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(b.0)));
            let mut apis: Vec<&str> = by_time
                .iter()
                .take(LISTED_APIS)
                .map(|(k, _)| k.as_str())
                .collect();
            if by_time.len() > LISTED_APIS {
                apis.push("...");
            }
            let evidence: Vec<Seen> = by_time
                .iter()
                .take(EVIDENCE)
                .map(|(_, s)| (*s).clone())
                .collect();
            let n_apis = w.denied.len();
            let summary = format!(
                "{p} was denied {n_apis} different API calls across {n_services} services within {} minutes.",
                (e.event_time - start) / MINUTE + 1
            );
            let reason = format!(
                "{n_apis} distinct APIs denied (threshold {min_apis}) across {n_services} services (threshold {min_services}: {services_txt}) within {} minutes: {}",
                self.cfg.api_enumeration.window_minutes,
                apis.join(", ")
            );
            let at = Seen::of(e);
            let key = e.access_key_id.as_deref().filter(|k| !k.is_empty());
            self.push(
                Kind::ApiEnumeration,
                Severity::High,
                &at,
                p,
                key,
                summary,
                reason,
                evidence.iter().collect(),
            );
        }
        self.api_denials.retain(|_, w| {
            w.prune(last - window);
            !w.denied.is_empty()
        });
    }

    /// A denied `sts:AssumeRoot`: someone tried to get root credentials for a member account.
    /// Attempts by one principal on one target within an hour are one finding.
    pub(super) fn assume_root_denied(&mut self, events: &[Event], sessions: &impl Lookup) {
        for e in events {
            if e.shared_copy
                || e.event_name.as_deref() != Some("AssumeRoot")
                || !(is_denied(e) || e.error_code.is_some())
            {
                continue;
            }
            let req = e.assume_root().unwrap_or_default();
            let target = req
                .target_principal
                .or(req.target_account)
                .unwrap_or_else(|| "?".into());
            let task = req.task_policy_arn.unwrap_or_else(|| "?".into());
            let p = principal_of(sessions, e).unwrap_or_else(|| "unknown".into());
            let group = format!("{p}|{target}");
            if let Some(&(idx, t)) = self.root_attempts.get(&group) {
                if e.event_time - t <= super::HOUR {
                    super::add_evidence(&mut self.findings[idx], e);
                    self.root_attempts.insert(group, (idx, e.event_time));
                    continue;
                }
            }
            let at = Seen::of(e);
            self.push(
                Kind::AssumeRootDenied,
                Severity::High,
                &at,
                p.clone(),
                e.access_key_id.as_deref().filter(|k| !k.is_empty()),
                format!("{p} was denied root credentials for {target} (sts:AssumeRoot, task policy {task})."),
                format!(
                    "sts:AssumeRoot failed with {}: {}; a denied AssumeRoot is an attempt to escalate to a member account's root user",
                    e.error_code.as_deref().unwrap_or("an error"),
                    e.error_message.as_deref().unwrap_or("no message")
                ),
                vec![&at],
            );
            self.root_attempts
                .insert(group, (self.findings.len() - 1, e.event_time));
        }
    }
}
