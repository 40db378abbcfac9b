//! Paths -> deduplicated, time-ordered events, with an account of every file and record.
//!
//! Takes any mix of files and folders (folders are walked recursively, in name order), reads and
//! parses files on all cores (rayon), and returns [`Ingested`]: the events sorted by a total key,
//! duplicates removed, cross-account copies marked, plus [`IngestStats`] and one [`Problem`] per
//! bad file or record. Nothing is printed here; the caller decides how to report.
//!
//! Memory: each worker holds one file's bytes at a time; only normalized events outlive a file.

pub mod decode;
pub mod known;
pub mod lookup;
pub mod parse;
pub mod s3;
pub mod scope;
pub mod settle;
pub mod siem;
pub mod source;

use crate::error::Error;
use crate::event::{Event, Millis};
use parse::{Content, Location};
use rayon::prelude::*;
pub use scope::Scope;
use serde::Serialize;
use source::{Input, SkipReason};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Events reserved up front at most (about 5 GB of address space, not of memory).
const MAX_RESERVED_EVENTS: u64 = 8 << 20;

/// Names of objects (of a state's manifest, [`Known`]): hashed with foldhash, not SipHash,
/// since a night looks thousands up.
pub type Names = std::collections::HashSet<String, foldhash::fast::FixedState>;
pub use known::Known;

/// How to read.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Any bad file or record is fatal.
    pub strict: bool,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// The window, accounts and regions asked about: prunes what is listed and read, and which
    /// events are kept.
    pub scope: Scope,
    /// How to reach S3 and the CloudTrail API.
    pub remote: Remote,
    /// Track inputs by name for a state manifest (`Ingested::processed`), and skip these names
    /// (absolute paths, `s3://bucket/key`): objects an earlier run processed.
    pub track: Option<std::sync::Arc<Known>>,
    /// Bytes one object may decompress to (default [`decode::DEFAULT_MAX_INFLATED`]); an object
    /// that inflates past it is a failed file and the run goes on.
    pub max_object_bytes: Option<u64>,
    /// Rules judged on each record's own JSON as it is read (`hunt --sigma`); their hits are
    /// kept in [`Event::rule_hits`].
    pub record_rules: Option<std::sync::Arc<dyn crate::event::RecordRules>>,
    /// With `track`: local day folders an earlier run settled, not listed again when unchanged
    /// ([`settle`]); the walk's day folders come back in [`Ingested::folders`].
    pub settled: Option<std::sync::Arc<settle::Settled>>,
    /// The `events` columns the caller reads (default: all). The others are left empty and
    /// the work of filling them is not done; what ingest itself reads (the duplicate key, the
    /// cross-account copies, the scope: [`crate::event::columns::INGEST`]) is always filled.
    /// Records, problems and counts do not depend on it.
    pub columns: crate::event::Columns,
}

impl IngestOptions {
    /// The columns each event is read with: those asked for and those ingest reads itself.
    pub fn read_columns(&self) -> crate::event::Columns {
        self.columns.union(crate::event::columns::INGEST)
    }

    /// The decompression cap per object.
    pub fn max_object(&self) -> u64 {
        self.max_object_bytes
            .unwrap_or(decode::DEFAULT_MAX_INFLATED)
    }
}

/// Options for `s3://` and `cloudtrail://` inputs.
#[derive(Debug, Clone)]
pub struct Remote {
    pub conn: crate::aws::Connection,
    /// Objects fetched (and prefixes listed) at once.
    pub concurrency: usize,
    /// Path-style S3 addressing (`endpoint/bucket/key`); on by default with an endpoint override.
    pub path_style: Option<bool>,
    /// Pause between LookupEvents requests (CloudTrail allows 2 per second per account and
    /// region).
    pub lookup_interval: Duration,
}

impl Default for Remote {
    fn default() -> Self {
        Remote {
            conn: crate::aws::Connection::default(),
            concurrency: 32,
            path_style: None,
            lookup_interval: lookup::INTERVAL,
        }
    }
}

/// One input as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Local(PathBuf),
    /// `s3://bucket[/prefix]`
    S3 {
        bucket: String,
        prefix: String,
    },
    /// `cloudtrail://REGION`: the LookupEvents API.
    CloudTrail {
        region: String,
    },
}

impl Source {
    pub fn parse(p: &Path) -> Result<Source, Error> {
        let s = p.to_string_lossy();
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Usage(format!("{s}: no bucket name")));
            }
            return Ok(Source::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
            });
        }
        if let Some(region) = s.strip_prefix("cloudtrail://") {
            let region = region.trim_end_matches('/');
            if region.is_empty() || region.contains('/') {
                return Err(Error::Usage(format!(
                    "{s}: expected cloudtrail://REGION, e.g. cloudtrail://us-east-1"
                )));
            }
            return Ok(Source::CloudTrail {
                region: region.to_string(),
            });
        }
        Ok(Source::Local(p.to_path_buf()))
    }
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
    /// Files and objects not read because an earlier run (the state manifest) processed them.
    pub files_known: u64,
    /// Events read but outside --since/--until/--account/--region.
    pub outside_scope: u64,
    /// S3 ListObjectsV2 requests (pages) and CloudTrail LookupEvents requests made.
    pub list_requests: u64,
    /// Events that arrived after later events had been judged (delivered later than the
    /// allowed delay when streaming): judged out of order, never dropped.
    #[serde(skip_serializing_if = "is_zero")]
    pub late_events: u64,
    pub bytes_read: u64,
    pub bytes_decompressed: u64,
    #[serde(skip)]
    pub elapsed: Duration,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The result of reading a set of paths.
pub struct Ingested {
    pub events: Vec<Event>,
    /// With `IngestOptions::track`: the inputs processed (name, size), sorted.
    pub processed: Vec<(String, u64)>,
    pub stats: IngestStats,
    pub problems: Vec<Problem>,
    /// With `IngestOptions::settled`: the local day folders listed and those skipped.
    pub folders: Option<settle::Walk>,
}

/// What reading one input (a file, an object, a page of API results) gave.
pub(crate) struct FileResult {
    events: Vec<Event>,
    records: u64,
    problems: Vec<Problem>,
    outcome: Outcome,
    bytes_read: u64,
    bytes_decompressed: u64,
    /// Listing requests made for this input (S3 pages, API pages).
    list_requests: u64,
    /// The input's name and size when it counts as processed for a state manifest: read,
    /// skipped, or unreadable by its content (a fetch that failed is tried again next run).
    processed: Option<(String, u64)>,
    /// Objects of this input not read because the manifest has them (remote listings).
    known: u64,
}

pub(crate) enum Outcome {
    /// Not a file: the listing of a remote source (carries its request count and problems).
    Listing,
    Read,
    Skipped(SkipReason),
    Failed,
}

/// What a read starts from: the locations given, and the local files to read in walk order
/// (those the scope can want and the state manifest does not have), numbered.
struct Plan {
    locations: Vec<Source>,
    /// Files listed now, with their numbers in the walk.
    inputs: Vec<(usize, source::Input)>,
    /// Folders whose dated files are listed when a streaming read reaches them.
    deferred: Vec<source::Deferred>,
    /// Local inputs in all, listed and deferred.
    count: usize,
    /// Files not read because the manifest had them.
    known_skipped: u64,
    folders: Option<settle::Walk>,
}

/// A file's delivery time, from its CloudTrail name, when it is read in delivery order: a
/// file that is skipped, unreadable or named otherwise is read first.
fn delivered(i: &source::Input) -> Option<Millis> {
    if i.skip.is_some() || i.error.is_some() {
        return None;
    }
    delivered_key(&i.path.to_string_lossy())
}

/// Whether a streaming read needs the sizes of the files it lists: only for a progress bar
/// drawn (a manifest's sizes come from a walk that always reads them).
fn sizes_shown(opts: &IngestOptions) -> bool {
    use std::io::IsTerminal;
    opts.progress && std::io::stderr().is_terminal()
}

/// Lists the inputs. With `defer` (a streaming read without a state manifest), the dated files
/// of folders that hold only files are listed when the read reaches their delivery time.
fn plan(paths: &[PathBuf], opts: &IngestOptions, defer: bool) -> Result<Plan, Error> {
    let locations: Vec<Source> = paths
        .iter()
        .map(|p| Source::parse(p))
        .collect::<Result<_, _>>()?;
    let local: Vec<PathBuf> = locations
        .iter()
        .filter_map(|l| match l {
            Source::Local(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let wants = |i: &source::Input| opts.scope.wants_file(&i.path.to_string_lossy());
    let (mut inputs, mut folders) = match (&opts.track, &opts.settled) {
        (Some(known), Some(settled)) => {
            let mut walk = settle::expand(&local, settled, &opts.scope, known)?;
            (std::mem::take(&mut walk.inputs), Some(walk))
        }
        (None, _) if defer => {
            // Day folders outside the window are not walked (as a report's walk does not):
            // CloudTrail delivers a file into the folder of its delivery day.
            let outside = |p: &Path| settle::is_day_folder(p) && !settle::in_window(p, &opts.scope);
            let listing = source::expand_deferring(
                &local,
                &source::Defer {
                    prune: &outside,
                    wants: &wants,
                    dated: &delivered,
                    sizes: sizes_shown(opts),
                },
            )?;
            return Ok(Plan {
                locations,
                inputs: listing.inputs,
                deferred: listing.deferred,
                count: listing.count,
                known_skipped: 0,
                folders: None,
            });
        }
        _ => (source::expand(&local)?, None),
    };
    if !opts.scope.is_everything() {
        inputs.retain(wants);
    }
    let mut known_skipped = 0;
    if let Some(known) = &opts.track {
        for i in inputs.iter_mut() {
            if i.name.is_none() {
                i.name = Some(tracked_name(&i.path));
            }
        }
        let before = inputs.len();
        inputs.retain(|i| i.name.as_ref().is_none_or(|n| !known.contains(n)));
        known_skipped = (before - inputs.len()) as u64;
        // Without the manifest of a folder listed, its old files would be read as new.
        if let Some(e) = known.failed() {
            return Err(Error::Other(format!("reading the state's manifest: {e}")));
        }
    }
    // The files of settled folders not listed count as processed before.
    if let Some(w) = folders.as_mut() {
        known_skipped += w.skipped.iter().map(|f| f.files).sum::<u64>();
    }
    Ok(Plan {
        locations,
        count: inputs.len(),
        inputs: inputs.into_iter().enumerate().collect(),
        deferred: Vec::new(),
        known_skipped,
        folders,
    })
}

/// Reads every input: local files and folders, `s3://` buckets, `cloudtrail://` regions. Errors
/// only for a local path that does not exist, a malformed location, or under `strict`; a bucket
/// or API that cannot be read is a failed input, told in the problems, and the rest is read.
pub fn ingest(paths: &[PathBuf], opts: &IngestOptions) -> Result<Ingested, Error> {
    let started = Instant::now();
    let Plan {
        locations,
        inputs,
        count,
        known_skipped,
        folders,
        ..
    } = plan(paths, opts, false)?;
    let total_bytes: u64 = inputs.iter().map(|(_, i)| i.size).sum();
    let bar = crate::progress::bar(opts.progress, total_bytes, "reading");
    // Workers move their events into one vector as each file is done, so a file's events are
    // never held twice. The capacity is reserved generously up front: untouched capacity costs
    // address space, not memory, and avoids copying the vector as it grows.
    let estimate = (total_bytes / 100).min(MAX_RESERVED_EVENTS) as usize;
    let collector = Collector {
        events: std::sync::Mutex::new(Vec::with_capacity(estimate)),
        batches: None,
    };
    let mut results: Vec<FileResult> = inputs
        .par_iter()
        .map(|(n, input)| {
            let mut r = read_one(input, opts);
            if let Some(name) = &input.name {
                r.mark_processed(name, input.size);
            }
            let r = collector.take(*n as u32, r);
            bar.inc(input.size);
            r
        })
        .collect();
    bar.finish_and_clear();
    let mut next = count as u32;
    for l in &locations {
        let more = match l {
            Source::Local(_) => continue,
            Source::S3 { bucket, prefix } => s3::read(bucket, prefix, opts, next, &collector),
            Source::CloudTrail { region } => lookup::read(region, opts, next, &collector),
        };
        next += more.len() as u32;
        results.extend(more);
    }
    let mut events = collector
        .events
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let mut outside = 0;
    if !opts.scope.is_everything() {
        let before = events.len();
        events.retain(|e| opts.scope.matches(e));
        outside = (before - events.len()) as u64;
    }
    let mut ingested = assemble(results, events, started);
    ingested.stats.outside_scope = outside;
    ingested.stats.files_known += known_skipped;
    ingested.folders = folders;
    if opts.strict {
        if let Some(p) = ingested.problems.first() {
            return Err(Error::Strict(p.to_string()));
        }
    }
    Ok(ingested)
}

/// How a streaming read hands events over: in time-ordered slices, cut by the delivery time in
/// CloudTrail file names.
#[derive(Debug, Clone, Copy)]
pub struct Slicing {
    /// Files are read a delivery window of this length at a time.
    pub slice: Millis,
    /// How long after an event CloudTrail may deliver it and still have it judged in order.
    /// Events are handed over once every file that could still hold earlier events has been
    /// read: all files delivered before `t + lateness` for an event at `t`.
    pub lateness: Millis,
}

/// One hour: the default slice and the default allowed delivery delay (CloudTrail usually
/// delivers within 15 minutes, rarely hours later).
pub const DEFAULT_SLICE: Millis = 60 * 60 * 1000;

impl Default for Slicing {
    fn default() -> Self {
        Slicing {
            slice: DEFAULT_SLICE,
            lateness: DEFAULT_SLICE,
        }
    }
}

/// Reads every input like [`ingest`], but hands the events to `sink` in time-ordered,
/// deduplicated slices instead of holding them all: files are read in order of the delivery
/// time in their names (`<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_...`), one slice of
/// delivery time at a time, on all cores; an event is handed over once every file that could
/// hold an earlier event (by `lateness`) has been read. Files whose names carry no delivery time
/// (exports, arrays, NDJSON) and remote sources are read first and held until their events'
/// turn. Memory is the events of the files in flight, not of the whole input.
///
/// Every slice holds all events of each millisecond it touches, in the total event order, so
/// a consumer that carries state from slice to slice sees exactly what one pass over
/// [`ingest`]'s events would. An event that arrives after later events were handed over (a
/// file delivered more than `lateness` after its events) is handed over in the next slice,
/// out of order, and counted in [`IngestStats::late_events`].
pub fn stream(
    paths: &[PathBuf],
    opts: &IngestOptions,
    slicing: Slicing,
    sink: &mut dyn FnMut(Vec<Event>) -> Result<(), Error>,
) -> Result<Ingested, Error> {
    let started = Instant::now();
    let Plan {
        locations,
        inputs,
        deferred,
        count,
        known_skipped,
        folders,
    } = plan(paths, opts, opts.track.is_none())?;
    let total_bytes: u64 = inputs.iter().map(|(_, i)| i.size).sum::<u64>()
        + deferred.iter().map(|f| f.bytes).sum::<u64>();
    let bar = crate::progress::bar(opts.progress, total_bytes, "reading");
    // Each input's events are kept as they were read (not copied into one pool): a slice is
    // put together once, when it is handed over.
    let collector = Collector {
        events: std::sync::Mutex::new(Vec::new()),
        batches: Some(std::sync::Mutex::new(Vec::new())),
    };
    let read_batch = |batch: &[(usize, &source::Input)]| -> Vec<FileResult> {
        batch
            .par_iter()
            .map(|&(n, input)| {
                let mut r = read_one(input, opts);
                if let Some(name) = &input.name {
                    r.mark_processed(name, input.size);
                }
                let r = collector.take(n as u32, r);
                bar.inc(input.size);
                r
            })
            .collect()
    };
    // Undated inputs first (held until their events' turn), then delivery windows in order.
    let slice = slicing.slice.max(1);
    // The list is taken apart as it is read: a file's entry is freed once it is read, and the
    // dated files of file-only folders are listed only when their delivery time comes, so a
    // long run does not hold every path.
    let count = count as u32;
    let mut undated: Vec<(usize, source::Input)> = Vec::new();
    let mut by_delivery: Vec<(Millis, usize, Item)> = Vec::new();
    for (n, i) in inputs {
        match delivered(&i) {
            Some(t) => by_delivery.push((t, n, Item::File(i))),
            None => undated.push((n, i)),
        }
    }
    // Latest last: the next file to read (or folder to list) is popped from the end.
    by_delivery.sort_by_key(|&(t, n, _)| std::cmp::Reverse((t, n)));
    by_delivery.shrink_to_fit();
    let mut deferred = deferred;
    deferred.reverse();
    let wants = |i: &source::Input| opts.scope.wants_file(&i.path.to_string_lossy());
    let defer = source::Defer {
        prune: &|_| false,
        wants: &wants,
        dated: &delivered,
        sizes: sizes_shown(opts),
    };
    let defer = &defer;
    // Reading runs on its own thread, a slice or two ahead of the consumer (which judges the
    // previous slice meanwhile); slices reach the consumer in order.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Event>>(2);
    let (collector, locations, read_batch) = (&collector, &locations, &read_batch);
    let read_all = move || -> Result<(Assembly, Flow), Error> {
        let mut send = |slice: Vec<Event>| {
            tx.send(slice)
                .map_err(|_| Error::Other("the reader stopped: the consumer gave up".into()))
        };
        let mut results = Assembly::default();
        let batch: Vec<(usize, &source::Input)> = undated.iter().map(|(n, i)| (*n, i)).collect();
        results.extend(read_batch(&batch));
        drop(batch);
        drop(undated);
        // Buckets are listed now; their objects named by delivery time join the local files'
        // queue (numbered as a whole read numbers them), the others are read now.
        let mut next = count;
        let mut buckets: Vec<s3::Bucket> = Vec::new();
        for l in locations.iter() {
            let more = match l {
                Source::Local(_) => continue,
                Source::S3 { bucket, prefix } => match s3::Bucket::open(bucket, prefix, opts) {
                    Err(failed) => vec![*failed],
                    Ok(mut b) => {
                        let objects = std::mem::take(&mut b.objects);
                        // Numbered as a whole read numbers them: the objects from `next`, then
                        // the listing.
                        let (base, listed) = (next, objects.len() as u32);
                        let mut now: Vec<(u32, s3::Object)> = Vec::new();
                        for (n, o) in (base..).zip(objects) {
                            match delivered_key(&o.key) {
                                Some(t) => by_delivery.push((
                                    t,
                                    n as usize,
                                    Item::Object(buckets.len(), o),
                                )),
                                None => now.push((n, o)),
                            }
                        }
                        let now: Vec<(u32, &s3::Object)> =
                            now.iter().map(|(n, o)| (*n, o)).collect();
                        let mut more = vec![b.listing_result()];
                        more.extend(b.read(&now, opts, collector));
                        buckets.push(b);
                        next += listed + 1;
                        results.extend(more);
                        continue;
                    }
                },
                Source::CloudTrail { region } => lookup::read(region, opts, next, collector),
            };
            next += more.len() as u32;
            results.extend(more);
        }
        if !buckets.is_empty() {
            by_delivery.sort_by_key(|&(t, n, _)| std::cmp::Reverse((t, n)));
        }
        let mut flow = Flow::default();
        // The inputs' events are handed over as they were read, one vector per input.
        let take = |flow: &mut Flow| {
            for got in collector.drain() {
                flow.add(got);
            }
        };
        take(&mut flow);
        // The next delivery time to read: a listed file's or a deferred folder's earliest.
        let next = |q: &Vec<(Millis, usize, Item)>, d: &Vec<source::Deferred>| match (
            q.last().map(|f| f.0),
            d.last().map(|f| f.earliest),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        while let Some(first) = next(&by_delivery, &deferred) {
            let window = first.div_euclid(slice);
            // Folders that may hold files of this window are listed now.
            let mut listed = false;
            while let Some(folder) = deferred.pop_if(|f| f.earliest.div_euclid(slice) <= window) {
                for (n, i) in folder.list(defer) {
                    if let Some(t) = delivered(&i) {
                        by_delivery.push((t, n, Item::File(i)));
                    }
                }
                listed = true;
            }
            if listed {
                by_delivery.sort_by_key(|&(t, n, _)| std::cmp::Reverse((t, n)));
            }
            let mut files: Vec<(usize, source::Input)> = Vec::new();
            let mut objects: Vec<(usize, u32, s3::Object)> = Vec::new();
            while let Some((_, n, item)) =
                by_delivery.pop_if(|(t, _, _)| t.div_euclid(slice) <= window)
            {
                match item {
                    Item::File(i) => files.push((n, i)),
                    Item::Object(b, o) => objects.push((b, n as u32, o)),
                }
            }
            if by_delivery.len() < by_delivery.capacity() / 2 {
                by_delivery.shrink_to_fit();
            }
            let batch: Vec<(usize, &source::Input)> = files.iter().map(|(n, i)| (*n, i)).collect();
            results.extend(read_batch(&batch));
            for (b, bucket) in buckets.iter().enumerate() {
                let mine: Vec<(u32, &s3::Object)> = objects
                    .iter()
                    .filter(|(of, _, _)| *of == b)
                    .map(|(_, n, o)| (*n, o))
                    .collect();
                if !mine.is_empty() {
                    results.extend(bucket.read(&mine, opts, collector));
                }
            }
            take(&mut flow);
            // Files not read yet are delivered at or after this: events before it less the
            // lateness are complete.
            if let Some(t) = next(&by_delivery, &deferred) {
                flow.hand_over(Some(t - slicing.lateness), opts, &mut send)?;
            }
        }
        flow.hand_over(None, opts, &mut send)?;
        Ok((results, flow))
    };
    let (read, consumed) = std::thread::scope(|scope| {
        let reader = scope.spawn(read_all);
        let mut consumed: Result<(), Error> = Ok(());
        for slice in rx.iter() {
            if let Err(e) = sink(slice) {
                consumed = Err(e);
                break;
            }
        }
        // Dropping the receiver stops a reader that is still sending.
        drop(rx);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(Error::Other("the reading thread panicked".into())));
        (read, consumed)
    });
    consumed?;
    let (results, flow) = read?;
    bar.finish_and_clear();
    let mut ingested = results.finish(Vec::new(), started);
    ingested.stats.events = flow.events;
    ingested.stats.duplicates = flow.duplicates;
    ingested.stats.shared_copies = flow.shared;
    ingested.stats.late_events = flow.late;
    ingested.stats.outside_scope = flow.outside;
    ingested.stats.files_known += known_skipped;
    ingested.folders = folders;
    if opts.strict {
        if let Some(p) = ingested.problems.first() {
            return Err(Error::Strict(p.to_string()));
        }
    }
    Ok(ingested)
}

/// A file or object waiting for its delivery window.
enum Item {
    File(source::Input),
    /// An object of the n-th bucket opened.
    Object(usize, s3::Object),
}

/// The delivery time in an S3 key, unless it is a digest or Insight object.
fn delivered_key(key: &str) -> Option<Millis> {
    scope::parse_name(key)
        .filter(|_| source::skip_by_key(key).is_none())
        .map(|n| n.delivered)
}

/// Events read but not handed over yet, and what was handed over.
#[derive(Default)]
struct Flow {
    /// Held events, in the batches they arrived in: an event is moved only when it is handed
    /// over or its batch is split (events are large; moving them is much of a slice's cost).
    held: Vec<Vec<Event>>,
    /// Events before this time were handed over.
    until: Option<Millis>,
    events: u64,
    duplicates: u64,
    shared: u64,
    late: u64,
    outside: u64,
}

impl Flow {
    fn add(&mut self, got: Vec<Event>) {
        if got.is_empty() {
            return;
        }
        if let Some(u) = self.until {
            self.late += got.iter().filter(|e| e.event_time < u).count() as u64;
        }
        self.held.push(got);
    }

    /// Hands over every held event before `before` (all of them for None), in order.
    fn hand_over(
        &mut self,
        before: Option<Millis>,
        opts: &IngestOptions,
        sink: &mut dyn FnMut(Vec<Event>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let due = |e: &Event| before.is_none_or(|t| e.event_time < t);
        let batches = std::mem::take(&mut self.held);
        let counts: Vec<usize> = batches
            .iter()
            .map(|b| b.iter().filter(|e| due(e)).count())
            .collect();
        let total: usize = counts.iter().sum();
        let mut ready: Vec<Event> = Vec::new();
        for (mut batch, n) in batches.into_iter().zip(counts) {
            if n == 0 {
                self.held.push(batch);
            } else if n == total && n == batch.len() && n == batch.capacity() {
                // The only events due: handed over as they are.
                ready = batch;
            } else {
                if ready.capacity() == 0 {
                    ready.reserve_exact(total);
                }
                if n == batch.len() {
                    ready.append(&mut batch);
                } else {
                    let mut keep = Vec::with_capacity(batch.len() - n);
                    for e in batch {
                        if due(&e) {
                            ready.push(e);
                        } else {
                            keep.push(e);
                        }
                    }
                    self.held.push(keep);
                }
            }
        }
        if let Some(t) = before {
            self.until = Some(self.until.map_or(t, |u| u.max(t)));
        }
        if ready.is_empty() {
            return Ok(());
        }
        if !opts.scope.is_everything() {
            let n = ready.len();
            ready.retain(|e| opts.scope.matches(e));
            self.outside += (n - ready.len()) as u64;
        }
        let n = ready.len();
        let (ready, shared) = finish_events(ready);
        self.duplicates += (n - ready.len()) as u64;
        self.shared += shared;
        self.events += ready.len() as u64;
        if ready.is_empty() {
            return Ok(());
        }
        sink(ready)
    }
}

/// Gathers the events of every input as each input is done: into one vector, or (with
/// `batches`, for a streaming read) as each input's own vector, moved, not copied.
pub(crate) struct Collector {
    events: std::sync::Mutex<Vec<Event>>,
    batches: Option<std::sync::Mutex<Vec<Vec<Event>>>>,
}

/// The name a local file has in a state manifest: its absolute path.
fn tracked_name(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

impl FileResult {
    /// An input that gave no records.
    fn nothing(outcome: Outcome, problems: Vec<Problem>) -> FileResult {
        FileResult {
            events: Vec::new(),
            records: 0,
            problems,
            outcome,
            bytes_read: 0,
            bytes_decompressed: 0,
            list_requests: 0,
            processed: None,
            known: 0,
        }
    }

    /// Records the input for the manifest, unless it failed for a reason worth another try.
    pub(crate) fn mark_processed(&mut self, name: &str, size: u64) {
        let retry = matches!(self.outcome, Outcome::Failed) && self.bytes_read == 0;
        if !retry {
            self.processed = Some((name.to_string(), size));
        }
    }
}

impl Collector {
    /// Numbers the events of input `n` (for a stable order) and moves them into the pool.
    pub(crate) fn take(&self, n: u32, mut r: FileResult) -> FileResult {
        for (i, e) in r.events.iter_mut().enumerate() {
            e.origin = (n, i as u32);
        }
        if let Some(batches) = &self.batches {
            if !r.events.is_empty() {
                if let Ok(mut all) = batches.lock() {
                    all.push(std::mem::take(&mut r.events));
                }
            }
        } else if let Ok(mut all) = self.events.lock() {
            all.append(&mut r.events);
        }
        r.events = Vec::new();
        r
    }

    /// The events gathered so far, as the inputs' vectors (one vector of all for a collector
    /// without batches), taken out.
    fn drain(&self) -> Vec<Vec<Event>> {
        match &self.batches {
            Some(b) => b
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default(),
            None => self
                .events
                .lock()
                .map(|mut v| vec![std::mem::take(&mut *v)])
                .unwrap_or_default(),
        }
    }
}

fn read_one(input: &Input, opts: &IngestOptions) -> FileResult {
    let name = input.path.display().to_string();
    if let Some(e) = &input.error {
        return failed(&name, e.clone());
    }
    if let Some(reason) = input.skip {
        return FileResult::nothing(Outcome::Skipped(reason), Vec::new());
    }
    // Each worker reads into one buffer, reused from file to file.
    let mut data = READ.with(std::cell::Cell::take);
    let r = match read_reusing(&input.path, input.size, &mut data) {
        Ok(n) => parse_slice(&name, &data[..n], n as u64, opts),
        Err(e) => failed(&name, format!("cannot read: {e}")),
    };
    // Kept with its bytes, as the inflate buffer is.
    if data.len() <= KEEP_INFLATED {
        READ.with(|c| c.set(data));
    }
    r
}

/// Reads the file at `path` into `buf` and returns how many bytes it holds, at the start of
/// `buf`. Like [`decode::inflate_reusing`], `buf` is a worker's buffer reused from file to
/// file, its length the bytes ready to be written over: the file is read with plain reads
/// into it (one open, reads until the end, one close), not with `read_to_end`, which asks the
/// file's length and position first (two more system calls per file) and initializes its
/// room again for every file. `size` (the length the listing saw, 0 when it did not look) is
/// only a hint for the room.
pub fn read_reusing(path: &Path, size: u64, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    // One byte more than the hint: the read that finds the end needs no room of its own.
    let hint = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX);
    if buf.len() < hint && size > 0 {
        buf.resize(hint, 0);
    }
    let mut n = 0;
    loop {
        if n == buf.len() {
            let grow = buf.len().saturating_mul(2).max(256 << 10);
            buf.resize(grow, 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn failed(name: &str, reason: String) -> FileResult {
    FileResult::nothing(
        Outcome::Failed,
        vec![Problem {
            file: name.to_string(),
            location: None,
            reason,
            file_failed: true,
        }],
    )
}

/// The listing of a remote source: its requests and problems (not a file).
pub(crate) fn listing(problems: Vec<Problem>, requests: u64) -> FileResult {
    let mut r = FileResult::nothing(Outcome::Listing, problems);
    r.list_requests = requests;
    r
}

thread_local! {
    /// Each worker inflates into one buffer, reused from object to object.
    static INFLATED: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
    /// Each worker reads local files into one buffer, reused from file to file.
    static READ: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A worker's inflate buffer is kept for the next object only up to this size, so a huge
/// object's buffer does not stay held.
const KEEP_INFLATED: usize = 64 << 20;

pub(crate) fn parse_bytes(
    name: &str,
    data: Vec<u8>,
    bytes_read: u64,
    opts: &IngestOptions,
) -> FileResult {
    parse_slice(name, &data, bytes_read, opts)
}

fn parse_slice(name: &str, data: &[u8], bytes_read: u64, opts: &IngestOptions) -> FileResult {
    let gzip = decode::is_gzip(data);
    let mut inflated = INFLATED.with(std::cell::Cell::take);
    let (damage, too_big, n) = if gzip {
        let (i, n) = decode::inflate_reusing(data, opts.max_object(), &mut inflated);
        (i.damage, i.too_big, n)
    } else {
        (None, None, 0)
    };
    let result = parse_decoded(
        name,
        if gzip { &inflated[..n] } else { data },
        gzip,
        damage,
        too_big,
        bytes_read,
        opts,
    );
    // Kept with its bytes: they are written over, never zeroed again.
    if inflated.capacity() <= KEEP_INFLATED {
        INFLATED.with(|c| c.set(inflated));
    }
    result
}

fn parse_decoded(
    name: &str,
    text: &[u8],
    gzip: bool,
    damage: Option<String>,
    too_big: Option<String>,
    bytes_read: u64,
    opts: &IngestOptions,
) -> FileResult {
    if let Some(why) = too_big {
        let mut r = failed(name, why);
        r.bytes_read = bytes_read;
        return r;
    }
    let parsed = parse::parse_text_with(text, opts.record_rules.as_deref(), opts.read_columns());
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
            let why = match &damage {
                Some(d) => d.clone(),
                None if gzip => "empty file (gzip of nothing)".to_string(),
                None => "empty file".to_string(),
            };
            problems.push(problem(None, why, true));
            outcome = Outcome::Failed;
        }
        Content::NotJson => {
            let why = match (&damage, &parsed.failure) {
                (Some(d), _) => d.clone(),
                (None, Some(f)) => f.clone(),
                (None, None) => {
                    let head: String = String::from_utf8_lossy(&text[..text.len().min(24)])
                        .chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .collect();
                    format!("not JSON (begins with `{}`)", head.trim())
                }
            };
            problems.push(problem(None, why, true));
            outcome = Outcome::Failed;
        }
        Content::NoRecords => {
            let why = match (&damage, parsed.bad_records.first()) {
                (Some(d), _) => d.clone(),
                (None, Some((loc, reason))) => {
                    format!("no CloudTrail records: JSON, but {loc}: {reason}")
                }
                (None, None) => {
                    "no CloudTrail records: JSON, but not an object or an array".to_string()
                }
            };
            problems.push(problem(None, why, true));
            outcome = Outcome::Failed;
        }
        Content::Log => {
            if let Some(d) = &damage {
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
                if damage.is_some() && parsed.truncated && reason.starts_with("record is cut off") {
                    continue;
                }
                problems.push(problem(Some(*loc), reason.clone(), false));
            }
            if parsed.events.is_empty() && parsed.records > 0 && damage.is_none() {
                if let Some(p) = problems.last_mut() {
                    p.file_failed = parsed.bad_records.len() == parsed.records;
                }
            }
            if parsed.events.is_empty() && damage.is_some() {
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
        bytes_decompressed: text.len() as u64,
        list_requests: 0,
        processed: None,
        known: 0,
    }
}

/// The counts, problems and manifest entries of the inputs read so far, folded in one input at
/// a time (a streaming read keeps no per-file record).
#[derive(Default)]
struct Assembly {
    stats: IngestStats,
    problems: Vec<Problem>,
    processed: Vec<(String, u64)>,
}

impl Assembly {
    fn add(&mut self, mut r: FileResult) {
        let stats = &mut self.stats;
        if let Some(p) = r.processed.take() {
            self.processed.push(p);
        }
        if !matches!(r.outcome, Outcome::Listing) {
            stats.files_seen += 1;
        }
        match r.outcome {
            Outcome::Listing => {}
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
        stats.list_requests += r.list_requests;
        stats.files_known += r.known;
        stats.bytes_decompressed += r.bytes_decompressed;
        self.problems.extend(r.problems);
    }

    fn extend(&mut self, results: impl IntoIterator<Item = FileResult>) {
        for r in results {
            self.add(r);
        }
    }

    fn finish(self, events: Vec<Event>, started: Instant) -> Ingested {
        let Assembly {
            mut stats,
            mut problems,
            mut processed,
        } = self;
        let before = events.len();
        let (events, shared) = finish_events(events);
        stats.duplicates = (before - events.len()) as u64;
        stats.shared_copies = shared;
        stats.events = events.len() as u64;
        stats.elapsed = started.elapsed();
        problems.sort();
        processed.sort();
        Ingested {
            processed,
            events,
            stats,
            problems,
            folders: None,
        }
    }
}

fn assemble(results: Vec<FileResult>, events: Vec<Event>, started: Instant) -> Ingested {
    let mut all = Assembly::default();
    all.extend(results);
    all.finish(events, started)
}

/// Sorts by the total event key (ties broken by where each record was read), drops exact
/// re-reads (keeping the first read), and marks cross-account copies. Returns the events and the
/// number of copies marked. Sorts an index and permutes in place: no second copy of the events.
pub fn finish_events(mut events: Vec<Event>) -> (Vec<Event>, u64) {
    // The time and the start of the event id sit beside the index, so most comparisons never
    // touch the events themselves (many events share a second).
    let mut keyed: Vec<(i64, u64, u32)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_time, id_prefix(e.event_id.as_deref()), i as u32))
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
            let (x, y) = (&events[a.2 as usize], &events[b.2 as usize]);
            x.sort_key()
                .cmp(&y.sort_key())
                .then(x.origin.cmp(&y.origin))
        })
    });
    let order: Vec<u32> = keyed.into_iter().map(|(_, _, i)| i).collect();
    permute(&mut events, &order);
    drop(order);
    events.dedup_by(|later, earlier| {
        later.event_time == earlier.event_time && later.sort_key() == earlier.sort_key()
    });
    events.shrink_to_fit();
    let marked = mark_shared_copies(&mut events);
    (events, marked)
}

/// The first 8 bytes of an event id as a number (0 for none), in the order of [`Event::sort_key`]:
/// a smaller prefix is a smaller key; equal prefixes say nothing.
fn id_prefix(id: Option<&str>) -> u64 {
    let mut w = [0u8; 8];
    if let Some(id) = id {
        let k = id.len().min(8);
        w[..k].copy_from_slice(&id.as_bytes()[..k]);
    }
    u64::from_be_bytes(w)
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
    fn the_id_prefix_orders_as_the_ids_do() {
        let ids = [
            None,
            Some(""),
            Some("\0"),
            Some("a"),
            Some("a\0"),
            Some("ab"),
            Some("abcdefgh"),
            Some("abcdefghi"),
            Some("abcdefgi"),
            Some("b"),
            Some("\u{ff}"),
        ];
        for x in ids {
            for y in ids {
                if super::id_prefix(x) < super::id_prefix(y) {
                    assert!(x < y, "{x:?} {y:?}");
                }
            }
        }
    }

    #[test]
    fn a_reused_read_buffer_holds_each_file_whole_whatever_the_size_hint() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, b"short").unwrap();
        let mut buf = Vec::new();
        // No hint, a hint too small, a hint too large: the whole file, and only it.
        for hint in [0, 10, big.len() as u64, 5 << 20] {
            let n = super::read_reusing(&a, hint, &mut buf).unwrap();
            assert_eq!(&buf[..n], &big[..], "hint {hint}");
            // The buffer still holds the longer file's bytes after the count.
            let n = super::read_reusing(&b, hint, &mut buf).unwrap();
            assert_eq!(&buf[..n], b"short", "hint {hint}");
        }
        let e = super::read_reusing(&dir.path().join("gone"), 0, &mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        // A folder opens but cannot be read.
        assert!(super::read_reusing(dir.path(), 0, &mut buf).is_err());
    }

    #[test]
    fn permute_follows_cycles() {
        let mut v = vec!['a', 'b', 'c', 'd', 'e'];
        super::permute(&mut v, &[2, 0, 1, 4, 3]);
        assert_eq!(v, ['c', 'a', 'b', 'e', 'd']);
    }
}
