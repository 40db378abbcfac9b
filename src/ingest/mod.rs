//! Paths -> deduplicated, time-ordered events, with an account of every file and record.
//!
//! Takes any mix of files and folders (folders are walked recursively, in name order), reads and
//! parses files on all cores (rayon), and returns [`Ingested`]: the events sorted by a total key,
//! duplicates removed, cross-account copies marked, plus [`IngestStats`] and one [`Problem`] per
//! bad file or record. Nothing is printed here; the caller decides how to report.
//!
//! Memory: each worker holds one file's bytes at a time; only normalized events outlive a file.

pub mod decode;
pub mod parse;
pub mod source;

use crate::error::Error;
use crate::event::Event;
use parse::{Content, Location};
use rayon::prelude::*;
use serde::Serialize;
use source::{Input, SkipReason};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Events reserved up front at most (about 5 GB of address space, not of memory).
const MAX_RESERVED_EVENTS: u64 = 8 << 20;

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Any bad file or record is fatal.
    pub strict: bool,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
}

/// One thing that went wrong, named by file and place.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub reason: String,
    /// True when the whole file was lost (nothing could be read from it).
    pub file_failed: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{}: {}: {}", self.file, l, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

/// Counts of what was read; printed by `summary` and at the end of every command.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct IngestStats {
    pub files_seen: u64,
    pub files_read: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    /// Skipped files by reason (digest, insight, not a log file).
    pub skipped_by_reason: std::collections::BTreeMap<String, u64>,
    pub records: u64,
    pub bad_records: u64,
    pub events: u64,
    pub duplicates: u64,
    pub shared_copies: u64,
    pub bytes_read: u64,
    pub bytes_decompressed: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// The result of reading a set of paths.
pub struct Ingested {
    pub events: Vec<Event>,
    pub stats: IngestStats,
    pub problems: Vec<Problem>,
}

struct FileResult {
    events: Vec<Event>,
    records: u64,
    problems: Vec<Problem>,
    outcome: Outcome,
    bytes_read: u64,
    bytes_decompressed: u64,
}

enum Outcome {
    Read,
    Skipped(SkipReason),
    Failed,
}

/// Reads every input path. Errors only for a path that does not exist, or under `strict`.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, Error> {
    let started = Instant::now();
    let inputs = source::expand(paths)?;
    let total_bytes: u64 = inputs.iter().map(|i| i.size).sum();
    let bar = crate::progress::bar(opts.progress, total_bytes, "reading");
    // Workers move their events into one vector as each file is done, so a file's events are
    // never held twice. The capacity is reserved generously up front: untouched capacity costs
    // address space, not memory, and avoids copying the vector as it grows.
    let estimate = (total_bytes / 100).min(MAX_RESERVED_EVENTS) as usize;
    let shared: std::sync::Mutex<Vec<Event>> = std::sync::Mutex::new(Vec::with_capacity(estimate));
    let results: Vec<FileResult> = inputs
        .par_iter()
        .enumerate()
        .map(|(n, input)| {
            let mut r = read_one(input);
            for (i, e) in r.events.iter_mut().enumerate() {
                e.origin = (n as u32, i as u32);
            }
            if let Ok(mut all) = shared.lock() {
                all.append(&mut r.events);
            }
            r.events = Vec::new();
            bar.inc(input.size);
            r
        })
        .collect();
    bar.finish_and_clear();
    let events = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    let ingested = assemble(results, events, started);
    if opts.strict {
        if let Some(p) = ingested.problems.first() {
            return Err(Error::Strict(p.to_string()));
        }
    }
    Ok(ingested)
}

fn read_one(input: &Input) -> FileResult {
    let name = input.path.display().to_string();
    if let Some(e) = &input.error {
        return failed(&name, e.clone());
    }
    if let Some(reason) = input.skip {
        return FileResult {
            events: Vec::new(),
            records: 0,
            problems: Vec::new(),
            outcome: Outcome::Skipped(reason),
            bytes_read: 0,
            bytes_decompressed: 0,
        };
    }
    match std::fs::read(&input.path) {
        Ok(data) => {
            let n = data.len() as u64;
            parse_bytes(&name, data, n)
        }
        Err(e) => failed(&name, format!("cannot read: {e}")),
    }
}

fn failed(name: &str, reason: String) -> FileResult {
    FileResult {
        events: Vec::new(),
        records: 0,
        problems: vec![Problem {
            file: name.to_string(),
            location: None,
            reason,
            file_failed: true,
        }],
        outcome: Outcome::Failed,
        bytes_read: 0,
        bytes_decompressed: 0,
    }
}

fn parse_bytes(name: &str, data: Vec<u8>, bytes_read: u64) -> FileResult {
    let decoded = decode::decode(data);
    let parsed = parse::parse_text(&decoded.bytes);
    let mut problems = Vec::new();
    let problem = |location: Option<Location>, reason: String, file_failed: bool| Problem {
        file: name.to_string(),
        location: location.map(|l| l.to_string()),
        reason,
        file_failed,
    };
    let content = parsed.content.unwrap_or(Content::Log);
    let mut outcome = Outcome::Read;
    match content {
        Content::Digest => outcome = Outcome::Skipped(SkipReason::Digest),
        Content::Empty => {
            let why = match &decoded.damage {
                Some(d) => d.clone(),
                None if decoded.gzip => "empty file (gzip of nothing)".to_string(),
                None => "empty file".to_string(),
            };
            problems.push(problem(None, why, true));
            outcome = Outcome::Failed;
        }
        Content::NotJson => {
            let why = match &decoded.damage {
                Some(d) => d.clone(),
                None => {
                    let head: String =
                        String::from_utf8_lossy(&decoded.bytes[..decoded.bytes.len().min(24)])
                            .chars()
                            .map(|c| if c.is_control() { ' ' } else { c })
                            .collect();
                    format!("not JSON (begins with `{}`)", head.trim())
                }
            };
            problems.push(problem(None, why, true));
            outcome = Outcome::Failed;
        }
        Content::Log => {
            if let Some(d) = &decoded.damage {
                problems.push(problem(
                    None,
                    format!(
                        "{d}; kept the {} complete records before it",
                        parsed.events.len()
                    ),
                    parsed.events.is_empty(),
                ));
            }
            for (loc, reason) in &parsed.bad_records {
                // A record cut off by a damaged gzip stream is already told by the damage message.
                if decoded.damage.is_some()
                    && parsed.truncated
                    && reason.starts_with("record is cut off")
                {
                    continue;
                }
                problems.push(problem(Some(*loc), reason.clone(), false));
            }
            if parsed.events.is_empty() && parsed.records > 0 && decoded.damage.is_none() {
                if let Some(p) = problems.last_mut() {
                    p.file_failed = parsed.bad_records.len() == parsed.records;
                }
            }
            if parsed.events.is_empty() && decoded.damage.is_some() {
                outcome = Outcome::Failed;
            }
        }
    }
    FileResult {
        records: parsed.records as u64,
        events: parsed.events,
        problems,
        outcome,
        bytes_read,
        bytes_decompressed: decoded.bytes.len() as u64,
    }
}

fn assemble(results: Vec<FileResult>, events: Vec<Event>, started: Instant) -> Ingested {
    let mut stats = IngestStats::default();
    let mut problems = Vec::new();
    for r in results {
        stats.files_seen += 1;
        match r.outcome {
            Outcome::Read => stats.files_read += 1,
            Outcome::Failed => stats.files_failed += 1,
            Outcome::Skipped(why) => {
                stats.files_skipped += 1;
                *stats.skipped_by_reason.entry(why.to_string()).or_default() += 1;
            }
        }
        stats.records += r.records;
        stats.bad_records += r.problems.iter().filter(|p| p.location.is_some()).count() as u64;
        stats.bytes_read += r.bytes_read;
        stats.bytes_decompressed += r.bytes_decompressed;
        problems.extend(r.problems);
    }
    let before = events.len();
    let (events, shared) = finish_events(events);
    stats.duplicates = (before - events.len()) as u64;
    stats.shared_copies = shared;
    stats.events = events.len() as u64;
    stats.elapsed = started.elapsed();
    problems.sort();
    Ingested {
        events,
        stats,
        problems,
    }
}

/// Sorts by the total event key (ties broken by where each record was read), drops exact
/// re-reads (keeping the first read), and marks cross-account copies. Returns the events and the
/// number of copies marked. Sorts an index and permutes in place: no second copy of the events.
pub fn finish_events(mut events: Vec<Event>) -> (Vec<Event>, u64) {
    // The time sits beside the index, so most comparisons never touch the events themselves.
    let mut keyed: Vec<(i64, u32)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_time, i as u32))
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            let (x, y) = (&events[a.1 as usize], &events[b.1 as usize]);
            x.sort_key()
                .cmp(&y.sort_key())
                .then(x.origin.cmp(&y.origin))
        })
    });
    let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
    permute(&mut events, &order);
    drop(order);
    events.dedup_by(|later, earlier| {
        later.event_time == earlier.event_time && later.sort_key() == earlier.sort_key()
    });
    events.shrink_to_fit();
    let marked = mark_shared_copies(&mut events);
    (events, marked)
}

/// Puts `items[order[i]]` at position `i`, following cycles with swaps.
fn permute<T>(items: &mut [T], order: &[u32]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        if placed[start] {
            continue;
        }
        let mut cur = start;
        loop {
            placed[cur] = true;
            let next = order[cur] as usize;
            if next == start {
                break;
            }
            items.swap(cur, next);
            cur = next;
        }
    }
}

/// Among events that share a `sharedEventID` and were delivered to different accounts, keeps one
/// as the action (the copy naming the caller in full, preferring the caller's own account's copy,
/// else the first in order) and marks the others.
fn mark_shared_copies(events: &mut [Event]) -> u64 {
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if let Some(s) = e.shared_event_id.as_deref() {
            groups.entry(s).or_default().push(i);
        }
    }
    let mut to_mark = Vec::new();
    for idx in groups.values() {
        if idx.len() < 2 {
            continue;
        }
        // The copy that names the caller in full; among those, the caller's own account's copy.
        let full = |i: &usize| events[*i].identity_type.as_deref() != Some("AWSAccount");
        let own = |i: &usize| {
            let e = &events[*i];
            e.account_id.is_some() && e.account_id == e.recipient_account_id
        };
        let keep = idx
            .iter()
            .copied()
            .find(|i| full(i) && own(i))
            .or_else(|| idx.iter().copied().find(full))
            .unwrap_or(idx[0]);
        to_mark.extend(idx.iter().copied().filter(|&i| i != keep));
    }
    for &i in &to_mark {
        events[i].shared_copy = true;
    }
    to_mark.len() as u64
}

/// Reads paths with default options and no progress bar: the library entry for tests and tools.
pub fn ingest_paths<P: AsRef<Path>>(paths: &[P]) -> Result<Ingested, Error> {
    let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
    ingest(&paths, &IngestOptions::default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn permute_follows_cycles() {
        let mut v = vec!['a', 'b', 'c', 'd', 'e'];
        super::permute(&mut v, &[2, 0, 1, 4, 3]);
        assert_eq!(v, ['c', 'a', 'b', 'e', 'd']);
    }
}
