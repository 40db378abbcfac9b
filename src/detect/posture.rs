//! Posture findings: facts about how an account is used (the root user signs in, a person signs
//! in to the console without MFA) rather than events of an attack. Each is reported once per
//! principal per run, with how many times it happened, first and last time and the addresses,
//! instead of once per event.

use super::{Detector, Kind, Seen, Severity};
use crate::event::{format_iso, Event, Millis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// Addresses and call names listed per posture finding.
const LISTED: usize = 20;

/// One open posture finding of this run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Posture {
    /// Index of its finding.
    idx: usize,
    count: u64,
    first: Millis,
    last: Millis,
    account: Option<String>,
    addresses: BTreeSet<String>,
    more_addresses: bool,
    calls: BTreeSet<String>,
}

impl Posture {
    /// The same posture, its finding moved by `shift` (another shard's findings come after ours).
    pub(super) fn shifted(mut self, shift: usize) -> Posture {
        self.idx += shift;
        self
    }

    /// One posture of two shards: `other`'s finding is folded into ours (it is then dropped
    /// from the output by [`Detector::folded_posture`]).
    pub(super) fn absorb(
        mut self,
        other: Posture,
        findings: &mut [crate::detect::Finding],
    ) -> Posture {
        let (first, second) = if other.first < self.first {
            (other.clone(), self.clone())
        } else {
            (self.clone(), other.clone())
        };
        let mut evidence: Vec<String> = findings[first.idx].evidence_event_ids.clone();
        for id in &findings[second.idx].evidence_event_ids {
            if evidence.len() < super::GROWING_EVIDENCE && !evidence.contains(id) {
                evidence.push(id.clone());
            }
        }
        findings[first.idx].evidence_event_ids = evidence;
        self.idx = first.idx;
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        self.account = first.account;
        for a in other.addresses {
            self.add_address(a);
        }
        self.more_addresses |= other.more_addresses;
        for c in other.calls {
            if self.calls.len() < LISTED {
                self.calls.insert(c);
            }
        }
        self
    }

    fn add_address(&mut self, a: String) {
        if self.addresses.len() < LISTED || self.addresses.contains(&a) {
            self.addresses.insert(a);
        } else {
            self.more_addresses = true;
        }
    }

    fn addresses(&self) -> String {
        let mut s = self
            .addresses
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if self.more_addresses {
            s.push_str(", ...");
        }
        s
    }

    fn times(&self) -> String {
        if self.count == 1 {
            "once".to_string()
        } else {
            format!("{} times", self.count)
        }
    }
}

impl Detector<'_> {
    /// Counts one posture event: the principal's finding of this kind is made at its first
    /// event and grows with the later ones.
    pub(super) fn posture_hit(
        &mut self,
        kind: Kind,
        severity: Severity,
        e: &Event,
        principal: String,
        key: Option<&str>,
    ) {
        let at = Seen::of(e);
        let address = e.source_ip.as_deref().unwrap_or("?").to_string();
        let call = e.event_name.as_deref().unwrap_or("?").to_string();
        if let Some(p) = self.posture.get_mut(&(kind, principal.clone())) {
            p.count += 1;
            p.last = p.last.max(e.event_time);
            p.add_address(address);
            if p.calls.len() < LISTED {
                p.calls.insert(call);
            }
            super::add_evidence(&mut self.findings[p.idx], e);
            return;
        }
        self.push(
            kind,
            severity,
            &at,
            principal.clone(),
            key,
            String::new(),
            String::new(),
            vec![&at],
        );
        let mut p = Posture {
            idx: self.findings.len() - 1,
            count: 1,
            first: e.event_time,
            last: e.event_time,
            account: at.account.as_deref().map(str::to_string),
            addresses: BTreeSet::new(),
            more_addresses: false,
            calls: [call].into(),
        };
        p.add_address(address);
        self.posture.insert((kind, principal), p);
    }

    /// Writes each posture finding's count, last time, summary and reason.
    pub(super) fn settle_posture(&mut self) {
        for ((kind, principal), p) in &self.posture {
            let f = &mut self.findings[p.idx];
            f.events = Some(p.count);
            f.last_time = Some(p.last);
            let span = if p.count == 1 {
                format!("at {}", format_iso(p.first))
            } else {
                format!("between {} and {}", format_iso(p.first), format_iso(p.last))
            };
            match kind {
                Kind::ConsoleLoginWithoutMfa => {
                    f.summary = format!(
                        "{principal} signed in to the console without MFA {} from {}.",
                        p.times(),
                        p.addresses()
                    );
                    f.reason = format!(
                        "ConsoleLogin succeeded with additionalEventData.MFAUsed = No, {} {span} (reported once per principal per run)",
                        p.times()
                    );
                }
                Kind::RootAccountUse => {
                    f.summary = format!(
                        "The root user of account {} was used {} from {} ({}).",
                        p.account.as_deref().unwrap_or("?"),
                        p.times(),
                        p.addresses(),
                        p.calls.iter().cloned().collect::<Vec<_>>().join(", ")
                    );
                    f.reason = format!(
                        "the root user should not be used for day-to-day work; every use is worth a look: {} calls {span} (reported once per principal per run)",
                        p.count
                    );
                }
                _ => {}
            }
        }
    }

    /// Findings of other shards folded into one posture finding: left out of the output.
    pub(super) fn folded_posture(&self) -> HashSet<usize> {
        let kept: HashSet<usize> = self.posture.values().map(|p| p.idx).collect();
        self.findings
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                matches!(f.kind, Kind::ConsoleLoginWithoutMfa | Kind::RootAccountUse)
                    && !kept.contains(i)
                    && self.posture.contains_key(&(f.kind, f.principal.clone()))
            })
            .map(|(i, _)| i)
            .collect()
    }
}
