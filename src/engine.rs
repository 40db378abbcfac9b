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
use crate::detect::{DetectConfig, Detector, Finding, WaitingUse};
use crate::event::{Event, Millis, Text};
use crate::geoip::GeoIp;
use crate::graph::{Graph, GraphState, SavedGraph, Session, EXPIRY_GRACE, LONGEST_SESSION};
use std::collections::{HashMap, HashSet};

/// The session graph and every detection, fed slice by slice.
pub struct Hunt<'a> {
    pub graph: GraphState,
    pub detector: Detector<'a>,
    /// With Sigma rules: their hits (judged as the input was read, see
    /// [`crate::event::RecordRules`]) folded per rule and principal.
    pub sigma: Option<SigmaMatcher<'a>>,
    /// With [`Hunt::bounded`]: what is kept of the sessions taken out of the graph.
    retiring: Option<Retiring>,
    /// What went wrong without stopping the hunt (to be told as warnings).
    pub problems: Vec<String>,
}

/// How often (in event time) a bounded hunt takes out the sessions no later call can use.
const RETIRE_EVERY: Millis = 3 * 3600 * 1000;

/// When to take retired sessions out of a graph: the latest event time seen, and the next
/// time (every [`RETIRE_EVERY`] of event time).
#[derive(Clone, Copy)]
struct RetireClock {
    now: Millis,
    next: Millis,
}

impl Default for RetireClock {
    fn default() -> Self {
        RetireClock {
            now: Millis::MIN,
            next: Millis::MIN,
        }
    }
}

impl RetireClock {
    /// Learns the slice's times; the time to retire at when a step is due.
    fn tick(&mut self, slice: &[Event]) -> Option<Millis> {
        self.now = slice
            .iter()
            .map(|e| e.event_time)
            .fold(self.now, Millis::max);
        if slice.is_empty() || self.now < self.next {
            return None;
        }
        self.next = self.now.saturating_add(RETIRE_EVERY);
        Some(self.now)
    }
}

/// What a bounded [`Hunt`] keeps of the sessions it took out of the graph: only those a
/// finding cites, with their chains (what the findings' chains and `--respond` read at the
/// end), and the instance keys whose credential-exfiltration judgement waits for the end.
#[derive(Default)]
struct Retiring {
    clock: RetireClock,
    kept: HashMap<Text, Session>,
    /// Keys the findings so far cite, and how many findings were read for it.
    cited: HashSet<Text>,
    findings_read: usize,
    /// Sessions taken out in all.
    taken: usize,
    waiting: Waiting,
    /// How long after a chain could last be used it is taken out (past
    /// [`crate::graph::RETIRE_MARGIN`]): none for a hunt; a scheduled run's `--keep-expired-hours`,
    /// so that it takes out only what its saved state would drop.
    lag: Millis,
    /// With [`Hunt::handing_out_retired`]: the chains taken out since the caller last took
    /// them ([`Hunt::take_retired_chains`]).
    handed: Option<Vec<(Graph, GraphState)>>,
    /// Keys the graph may hold before chains are taken out (none for a hunt).
    above: usize,
}

/// Instance keys waiting for the end, each with its session's chain: in a temporary file (JSON
/// lines), or in memory when no file can be written.
#[derive(Default)]
struct Waiting {
    file: Option<(std::path::PathBuf, std::io::BufWriter<std::fs::File>)>,
    failed: bool,
    held: Vec<(WaitingUse, SavedGraph)>,
}

impl Waiting {
    fn push(&mut self, w: WaitingUse, chain: SavedGraph) {
        use std::io::Write;
        if self.file.is_none() && !self.failed {
            let path = std::env::temp_dir().join(format!(
                "trailhound-waiting-{}-{}.jsonl",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ));
            match std::fs::File::create(&path) {
                Ok(f) => self.file = Some((path, std::io::BufWriter::new(f))),
                Err(_) => self.failed = true,
            }
        }
        let record = (w, chain);
        if let Some((_, out)) = self.file.as_mut() {
            let written = serde_json::to_writer(&mut *out, &record)
                .map_err(std::io::Error::from)
                .and_then(|_| out.write_all(b"\n"));
            if written.is_ok() {
                return;
            }
            // A full disk: what was written is read back; the rest stays in memory.
            self.failed = true;
        }
        self.held.push(record);
    }

    /// Hands each waiting key to `each`, one at a time (never all in memory), from the file
    /// then from memory; the file is removed.
    fn drain(&mut self, mut each: impl FnMut(WaitingUse, SavedGraph)) -> Result<(), String> {
        use std::io::{BufRead, Write};
        if let Some((path, mut w)) = self.file.take() {
            let read = (|| -> Result<(), String> {
                w.flush().map_err(|e| e.to_string())?;
                drop(w);
                let f = std::fs::File::open(&path).map_err(|e| e.to_string())?;
                for line in std::io::BufReader::new(f).lines() {
                    let line = line.map_err(|e| e.to_string())?;
                    if line.is_empty() {
                        continue;
                    }
                    let (w, chain) = serde_json::from_str(&line).map_err(|e| e.to_string())?;
                    each(w, chain);
                }
                Ok(())
            })();
            let _ = std::fs::remove_file(&path);
            read.map_err(|e| format!("{}: {e}", path.display()))?;
        }
        for (w, chain) in self.held.drain(..) {
            each(w, chain);
        }
        Ok(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((path, _)) = self.file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl<'a> Hunt<'a> {
    pub fn new(geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        Hunt::resume(GraphState::live(), Detector::new(geo, cfg))
    }

    /// A hunt that goes on from a graph and a detector (a saved state, a merge).
    pub fn resume(graph: GraphState, detector: Detector<'a>) -> Self {
        Hunt {
            graph,
            detector,
            sigma: None,
            retiring: None,
            problems: Vec::new(),
        }
    }

    /// A hunt whose memory does not grow with the sessions of the input: every three hours of event
    /// time, the chains of sessions that no later call can use are taken out of the graph
    /// ([`GraphState::take_retired`]) and judged at once (deep role chains, credential
    /// exfiltration when its outcome is settled); only the sessions findings cite are kept.
    /// Gives the same findings and graph lookups as [`Hunt::new`]; [`Hunt::finish`]'s graph
    /// then holds the sessions still alive and those the findings cite (with their chains),
    /// not every session.
    /// Not for Sigma rules ([`Hunt::with_sigma`]): their findings' chains need every session
    /// they cite, which retiring would drop.
    pub fn bounded(geo: &'a GeoIp, cfg: &'a DetectConfig) -> Self {
        Hunt {
            retiring: Some(Retiring::default()),
            ..Hunt::new(geo, cfg)
        }
    }

    /// A bounded hunt ([`Hunt::bounded`]) for a run whose state goes on, resumed from `graph`
    /// and `detector`: once its graph holds more than `above` keys, it takes a chain out only
    /// `lag` after [`GraphState::take_retired`] would (what [`GraphState::retire`] at the
    /// end, `lag` before the last call, drops anyway, so the saved state is the same), and
    /// hands every chain it takes out to the caller ([`Hunt::take_retired_chains`]), who keeps
    /// what its records need of them. Below `above` keys it holds every session, as
    /// [`Hunt::resume`] does (a night's few cost less held than taken out).
    pub fn handing_out_retired(
        graph: GraphState,
        detector: Detector<'a>,
        lag: Millis,
        above: usize,
    ) -> Self {
        Hunt {
            retiring: Some(Retiring {
                lag: lag.max(0),
                above,
                handed: Some(Vec::new()),
                ..Retiring::default()
            }),
            ..Hunt::resume(graph, detector)
        }
    }

    /// The chains taken out of the graph since the last call (with
    /// [`Hunt::handing_out_retired`]): each as a resolved graph (the sessions are final) and
    /// as the state it was taken from (what [`GraphState::saved`] writes).
    pub fn take_retired_chains(&mut self) -> Vec<(Graph, GraphState)> {
        self.retiring
            .as_mut()
            .and_then(|r| r.handed.as_mut())
            .map(std::mem::take)
            .unwrap_or_default()
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
        if self.retiring.is_some() {
            self.retire(slice);
        }
    }

    /// Sessions taken out of the graph so far by a bounded hunt.
    pub fn retired(&self) -> usize {
        self.retiring.as_ref().map_or(0, |r| r.taken)
    }

    /// A bounded hunt's step: takes out what no later call can use, judges it, keeps
    /// what the findings cite.
    fn retire(&mut self, slice: &[Event]) {
        let Some(r) = self.retiring.as_mut() else {
            return;
        };
        let Some(now) = r.clock.tick(slice) else {
            return;
        };
        if r.above > 0 && self.graph.len() <= r.above {
            return;
        }
        let (mut out, mut sub) = self.graph.take_retired(now.saturating_sub(r.lag));
        if out.sessions.is_empty() {
            return;
        }
        r.taken += out.sessions.len();
        let waiting = self.detector.judge_retired(&out);
        r.findings_read = self.detector.cited_keys(r.findings_read, |k| {
            if !r.cited.contains(k) {
                r.cited.insert(Text::from(k));
            }
        });
        for s in &out.sessions {
            let k = &s.access_key_id;
            if r.cited.contains(k) {
                for a in out.ancestors(k) {
                    r.kept
                        .entry(a.access_key_id.clone())
                        .or_insert_with(|| a.clone());
                }
            }
        }
        sub.give_back(&mut out);
        let mut waiting: Vec<Text> = waiting.into_iter().collect();
        waiting.sort();
        for k in waiting {
            if let Some(w) = self.detector.take_waiting(&k) {
                let chain = out.ancestors(&k);
                r.waiting
                    .push(w, sub.saved_keys(chain.iter().map(|s| &*s.access_key_id)));
            }
        }
        if let Some(handed) = r.handed.as_mut() {
            handed.push((out, sub));
        }
    }

    /// The graph of everything observed and the findings (with Sigma rules, theirs too).
    pub fn finish(&mut self) -> (Graph, Vec<Finding>) {
        self.finish_as(false)
    }

    /// The findings and the graph's sessions, for a run whose state goes on (a scheduled
    /// run saves it next): the same as [`Hunt::finish`], except that the graph handed on holds
    /// no issuing calls ([`Graph::issuing_event`] answers none). The detections read them from
    /// the state's own, lent to the graph while they judge, instead of from a copy of every one.
    pub fn judge(&mut self) -> (Graph, Vec<Finding>) {
        self.finish_as(true)
    }

    fn finish_as(&mut self, lend: bool) -> (Graph, Vec<Finding>) {
        let (mut graph, mut findings) = self.finish_detections(lend);
        if let Some(s) = &self.sigma {
            findings.extend(s.findings(&graph));
            findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
        if lend {
            self.graph.give_back(&mut graph);
        }
        (graph, findings)
    }

    fn finish_detections(&mut self, lend: bool) -> (Graph, Vec<Finding>) {
        let graph = if lend {
            self.graph.lend()
        } else {
            self.graph.finish()
        };
        match self.retiring.take() {
            None => {
                let findings = self.detector.finish(&graph);
                (graph, findings)
            }
            Some(mut r) => {
                // The instance keys that waited, judged now that every address people used is
                // known; the sessions of those that made a finding are kept.
                let (detector, kept) = (&mut self.detector, &mut r.kept);
                let judged = r.waiting.drain(|w, chain| {
                    let g = GraphState::from_saved(chain).finish();
                    if detector.judge_waiting(w, &g) {
                        for s in g.sessions {
                            kept.entry(s.access_key_id.clone()).or_insert(s);
                        }
                    }
                });
                match judged {
                    Ok(()) => {}
                    Err(e) => self.problems.push(format!(
                        "instance credentials kept aside could not be read back, so their use was not judged: {e}"
                    )),
                }
                self.detector
                    .finish_retired(graph, r.kept.into_values().collect())
            }
        }
    }
}

/// The sessions of the input in their final order (as [`GraphState::finish`] sorts them: by
/// issue, or first call when the issuing call is not in the input, then key), each handed over
/// as soon as no later call can change it or sort before it. Every three hours of event time the
/// chains no later call can use are taken out of the graph ([`GraphState::take_retired`], the
/// step a bounded [`Hunt`] takes); their sessions wait until every session still in the graph,
/// and any the input has yet to issue (allowing the delivery delay), sorts after them. Memory
/// grows with the sessions alive at once, not with the input.
pub struct SessionStream {
    graph: GraphState,
    clock: RetireClock,
    lateness: Millis,
    waiting: std::collections::BinaryHeap<std::cmp::Reverse<InOrder>>,
    /// Sessions handed over so far.
    pub handed: usize,
    /// Sessions handed over after one that sorts after them: their calls state a creation more
    /// than the longest credential life (36 hours) before their first call, which AWS never
    /// writes.
    pub out_of_order: usize,
    last: Option<(Option<Millis>, Text)>,
}

/// A session ordered as the graph orders its sessions.
struct InOrder(Session);

impl InOrder {
    fn key(&self) -> (Option<Millis>, &Text) {
        (
            self.0.issued_at.or(self.0.first_used),
            &self.0.access_key_id,
        )
    }
}

impl PartialEq for InOrder {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for InOrder {}

impl PartialOrd for InOrder {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InOrder {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl SessionStream {
    /// `lateness`: how long after its time an event may still arrive in order
    /// ([`crate::ingest::Slicing::lateness`]).
    pub fn new(lateness: Millis) -> Self {
        SessionStream {
            graph: GraphState::default(),
            clock: RetireClock::default(),
            lateness,
            waiting: std::collections::BinaryHeap::new(),
            handed: 0,
            out_of_order: 0,
            last: None,
        }
    }

    /// Keys in the graph and sessions waiting for their turn: what is held now.
    pub fn held(&self) -> usize {
        self.graph.len() + self.waiting.len()
    }

    /// Takes the next slice; hands `out` every session now settled and first in order.
    pub fn observe<E>(
        &mut self,
        slice: &[Event],
        out: &mut dyn FnMut(Session) -> Result<(), E>,
    ) -> Result<(), E> {
        self.graph.observe(slice);
        let Some(now) = self.clock.tick(slice) else {
            return Ok(());
        };
        let (out_graph, _) = self.graph.take_retired(now);
        for s in out_graph.sessions {
            self.waiting.push(std::cmp::Reverse(InOrder(s)));
        }
        // Sessions still in the graph, and those the input has yet to issue, sort at or after
        // this: every waiting session before it is in its place.
        // A key first used from now on was created at most the longest credential life before
        // (its calls may state that creation: that is where it sorts).
        let future = now.saturating_sub(self.lateness + LONGEST_SESSION + EXPIRY_GRACE);
        let mark = self.graph.earliest().map_or(future, |t| t.min(future));
        while let Some(first) = self.waiting.peek() {
            if first.0.key().0.is_some_and(|t| t >= mark) {
                break;
            }
            if let Some(std::cmp::Reverse(s)) = self.waiting.pop() {
                self.hand(s, out)?;
            }
        }
        Ok(())
    }

    fn hand<E>(
        &mut self,
        s: InOrder,
        out: &mut dyn FnMut(Session) -> Result<(), E>,
    ) -> Result<(), E> {
        let key = (s.key().0, s.0.access_key_id.clone());
        if self
            .last
            .as_ref()
            .is_some_and(|l| (key.0, &key.1) < (l.0, &l.1))
        {
            self.out_of_order += 1;
        }
        self.last = Some(key);
        self.handed += 1;
        out(s.0)
    }

    /// Hands `out` every session left, in order; returns how many sessions were handed over
    /// out of order ([`SessionStream::out_of_order`]).
    pub fn finish<E>(mut self, out: &mut dyn FnMut(Session) -> Result<(), E>) -> Result<usize, E> {
        for s in self.graph.finish().sessions {
            self.waiting.push(std::cmp::Reverse(InOrder(s)));
        }
        while let Some(std::cmp::Reverse(s)) = self.waiting.pop() {
            self.hand(s, out)?;
        }
        Ok(self.out_of_order)
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::Kind;
    use crate::ingest::{self, IngestOptions, Slicing};

    /// The bundled sample's events (a week of an organisation, with planted incidents), in
    /// slices of one hour.
    pub(crate) fn sample_slices() -> Vec<Vec<Event>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let mut out = Vec::new();
        ingest::stream(
            &[root],
            &IngestOptions::default(),
            Slicing::default(),
            &mut |s| {
                out.push(s);
                Ok(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn a_bounded_hunt_forgets_expired_sessions_and_finds_the_same() {
        let geo = GeoIp::bundled().unwrap();
        let cfg = DetectConfig::default();
        let mut whole = Hunt::new(&geo, &cfg);
        let mut bounded = Hunt::bounded(&geo, &cfg);
        let mut most_held = 0;
        for s in sample_slices() {
            whole.observe(&s);
            bounded.observe(&s);
            most_held = most_held.max(bounded.graph.len());
        }
        let retired = bounded.retired();
        let (graph, want) = whole.finish();
        let (kept, got) = bounded.finish();

        // The same findings, chains and all; the deep chains and the stolen instance
        // credentials are among them, judged as their sessions retired.
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap()
        );
        for kind in [Kind::DeepRoleChain, Kind::CredentialExfiltration] {
            assert!(got.iter().any(|f| f.kind == kind), "no {kind:?} finding");
        }
        // Every session a finding cites is known at the end, as the whole graph knows it.
        for k in got.iter().filter_map(|f| f.access_key_id.as_deref()) {
            assert_eq!(kept.get(k), graph.get(k), "{k}");
        }
        // Sessions were taken out as they expired: at no time did the graph hold half of them.
        assert!(retired > graph.sessions.len() / 2, "{retired} retired");
        assert!(
            most_held < graph.sessions.len() / 2,
            "held {most_held} of {} keys at once",
            graph.sessions.len()
        );
        assert!(kept.sessions.len() < graph.sessions.len() / 2);
    }

    /// Every session of these slices as one graph gives them, and as a [`SessionStream`] hands
    /// them over (with the most it held at once).
    fn both_ways(slices: &[Vec<Event>]) -> (Vec<Session>, Vec<Session>, usize, usize) {
        let mut whole = GraphState::default();
        let mut stream = SessionStream::new(crate::ingest::DEFAULT_SLICE);
        let mut got = Vec::new();
        let mut most_held = 0;
        for s in slices {
            whole.observe(s);
            stream
                .observe(s, &mut |x| -> Result<(), ()> {
                    got.push(x);
                    Ok(())
                })
                .unwrap();
            most_held = most_held.max(stream.held());
        }
        let late = stream
            .finish(&mut |x| -> Result<(), ()> {
                got.push(x);
                Ok(())
            })
            .unwrap();
        (whole.finish().sessions, got, most_held, late)
    }

    #[test]
    fn sessions_stream_out_in_the_graphs_order_holding_few_at_once() {
        let (want, got, most_held, late) = both_ways(&sample_slices());
        assert_eq!(got.len(), want.len());
        assert!(got == want, "sessions differ from the whole graph's");
        assert_eq!(late, 0);
        assert!(
            most_held < want.len() / 2,
            "held {most_held} of {} sessions at once",
            want.len()
        );
    }

    #[test]
    fn a_console_session_taken_out_with_its_chain_keeps_its_sign_in_link() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/identity/signin-token.json");
        let mut events = ingest::ingest_paths(&[fixture]).unwrap().events;
        // A call five days later: everything before it retires.
        let mut later = events.last().unwrap().clone();
        later.event_time += 5 * 24 * 3600 * 1000;
        later.event_id = Some(Text::from("later-call"));
        later.access_key_id = Some(Text::from("AKIAEXAMPLELATER0001"));
        events.push(later);
        let slices: Vec<Vec<Event>> = events.chunks(1).map(<[Event]>::to_vec).collect();
        let (want, got, _, _) = both_ways(&slices);
        assert!(got == want, "sessions differ from the whole graph's");
        let console = got
            .iter()
            .find(|s| &*s.access_key_id == "ASIAFEDEXAMPLE000002")
            .unwrap();
        assert_eq!(
            console.parent_access_key_id.as_deref(),
            Some("ASIAFEDEXAMPLE000001")
        );
        assert!(console.signin_link.is_some());
    }

    #[test]
    fn a_session_claiming_a_creation_days_before_its_first_call_is_counted_out_of_order() {
        let mut events = sample_slices().concat();
        // A session whose calls claim it was created a day before the input begins, days before
        // its first call (AWS caps credentials at 36 hours): it sorts before sessions already
        // listed.
        let (first, last) = (events[0].event_time, events.last().unwrap().event_time);
        let mut odd = events
            .iter()
            .find(|e| {
                !e.is_issuing_call
                    && e.access_key_id
                        .as_deref()
                        .is_some_and(|k| k.starts_with("ASIA"))
            })
            .unwrap()
            .clone();
        odd.event_time = last;
        odd.access_key_id = Some(Text::from("ASIAODDCREATION00001"));
        odd.event_id = Some(Text::from("odd-creation"));
        odd.identity_type = Some(Text::from("AssumedRole"));
        odd.session_created_at = Some(first - 24 * 3600 * 1000);
        events.push(odd);
        let slices: Vec<Vec<Event>> = events.chunks(50).map(<[Event]>::to_vec).collect();
        let (want, got, _, late) = both_ways(&slices);
        assert_eq!(late, 1);
        // Every session is listed, each as the whole graph resolves it.
        let mut sorted = got.clone();
        sorted.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        let mut want = want;
        want.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        assert!(sorted == want);
    }
}
