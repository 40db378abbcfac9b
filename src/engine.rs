//! The streaming engine: time-ordered slices of events -> session graph -> detections, in
//! memory that grows with sessions and principals, not with events.
//!
//! [`crate::ingest::stream`] hands over events slice by slice (every event of a millisecond in
//! one slice, slices in time order). Each consumer here carries only compact state from slice to
//! slice and drops the events: [`Hunt`] (the session graph as it grows, and every detection's
//! windowed state), [`Trace`] (the calls of one key's chain, for timelines). Their results are
//! the same as one judgement over all events held in memory, whatever the slice length, thread
//! count or file order.

use crate::detect::sigma::{RuleSet, SigmaMatcher};
use crate::detect::{DetectConfig, Detector, Finding};
use crate::event::{Event, Text};
use crate::geoip::GeoIp;
use crate::graph::{Graph, GraphState};
use std::collections::HashSet;

/// The session graph and every detection, fed slice by slice.
pub struct Hunt<'a> {
    pub graph: GraphState,
    pub detector: Detector<'a>,
    /// With Sigma rules: their hits (judged as the input was read, see
    /// [`crate::event::RecordRules`]) folded per rule and principal.
    pub sigma: Option<SigmaMatcher<'a>>,
}

impl<'a> Hunt<'a> {
    pub fn new(geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        Hunt {
            graph: GraphState::live(),
            detector: Detector::new(geo, cfg),
            sigma: None,
        }
    }

    /// Also reports the hits of these Sigma rules (the reader must judge them: pass the same
    /// set as `IngestOptions::record_rules`).
    pub fn with_sigma(mut self, rules: &'a RuleSet, geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        self.sigma = Some(SigmaMatcher::new(rules, geo, cfg));
        self
    }

    /// Takes the next slice: the graph learns its sessions first, then each event is judged
    /// with every session issued up to the end of the slice known.
    pub fn observe(&mut self, slice: &[Event]) {
        self.graph.observe(slice);
        self.detector.observe(slice, &self.graph);
        if let Some(s) = &mut self.sigma {
            s.observe(slice, &self.graph);
        }
    }

    /// The graph of everything observed and the findings.
    pub fn finish(&mut self) -> (Graph, Vec<Finding>) {
        let graph = self.graph.finish();
        let mut findings = self.detector.finish(&graph);
        if let Some(s) = &self.sigma {
            findings.extend(s.findings(&graph));
            findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
        (graph, findings)
    }
}

/// The calls of one key and, with `descendants`, of every session issued down the chain from
/// it: a key joins when an issuing call signed by a key of the chain returns it (in time order
/// a session is issued before it is used). Holds only those calls.
pub struct Trace {
    keys: HashSet<Text>,
    descendants: bool,
    pub events: Vec<Event>,
}

impl Trace {
    pub fn new(key: &str, descendants: bool) -> Trace {
        Trace {
            keys: [Text::from(key)].into(),
            descendants,
            events: Vec::new(),
        }
    }

    pub fn observe(&mut self, slice: &[Event]) {
        if self.descendants {
            // Issued keys first: a session used in the same slice it was issued in belongs too.
            loop {
                let mut grew = false;
                for e in slice.iter().filter(|e| e.is_issuing_call && !e.is_error) {
                    let signed = e
                        .access_key_id
                        .as_ref()
                        .is_some_and(|k| self.keys.contains(k));
                    if let (true, Some(k)) = (signed, &e.sts().issued_access_key_id) {
                        grew |= self.keys.insert(k.clone());
                    }
                }
                if !grew {
                    break;
                }
            }
        }
        self.events.extend(
            slice
                .iter()
                .filter(|e| {
                    e.access_key_id
                        .as_ref()
                        .is_some_and(|k| self.keys.contains(k))
                })
                .cloned(),
        );
    }
}
