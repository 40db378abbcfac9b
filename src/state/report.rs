//! `trailhound report`: the nightly job. Reads only log objects the state's manifest does not
//! have, judges them against the stored history (the same detections as `hunt`, run over the
//! history plus the new events, so a day-by-day schedule finds what one run over everything
//! finds), stores the new events, sessions and findings, writes the report, and exits 1 when a
//! new finding reaches `--fail-on`.
//!
//! Order of writes, for a run that may be killed at any point: lake parts and the manifest of
//! the run (ignored until committed), the report itself, then the commit (`state.json`). A run
//! killed before its commit leaves the previous state as it was; the next run reads the same
//! objects again and may report their findings again (at least once, never lost).

use super::{baseline, fail_point, write_atomic, RunRecord, State};
use crate::detect::{self, Finding, Severity, DAY, HOUR};
use crate::error::{Error, Exit, Result};
use crate::event::{format_iso, Event, Millis};
use crate::graph::Graph;
use crate::ingest::{self, scope};
use crate::report::digest::{Charts, Digest, ReadSummary, ReportedFinding};
use crate::report::Sink;
use polars::prelude::*;
// foldhash, not SipHash: what is looked up for every event of a night.
use crate::graph::{HashMap as FastMap, HashSet as FastSet};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Keys (sessions, long-term keys) a run's graph holds before it takes out the chains that
/// expired `--keep-expired-hours` before the latest call: about 4 KB each, so about 200 MB. A
/// night (the 16 M benchmark's: about 35,000 keys) holds every session, which costs less than
/// taking chains out; a first run over a month's backlog holds the living sessions, not the
/// month's.
pub const GRAPH_KEYS_HELD: usize = 50_000;

/// Rows a lake partition of a day the stream has left must hold to be written aside (fewer are
/// calls delivered late: they stay until the end).
const LEFT_DAY_ROWS: usize = 1_000;
/// Events of a slice counted together for the profiles and the report (a few hundred
/// kilobytes: they stay in the cache between the two).
const BLOCK: usize = 256;
/// Addresses, user agents and principals the profiles' counts of a night may hold before they
/// are added to the profiles.
const COUNTED_HELD: usize = 1 << 17;

/// What the report is written as (the command line names them in `src/cli/values.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// One self-contained HTML file (inline CSS and SVG).
    Html,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// The report's content as one JSON document.
    Json,
}

/// What `trailhound report` was asked to do (the command line's `ReportArgs` are in
/// `src/cli/scheduled.rs`).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The logs: paths, s3://BUCKET[/PREFIX], cloudtrail://REGION.
    pub paths: Vec<PathBuf>,
    /// How to read them. The window's start is `since`, resolved against the state.
    pub ingest: ingest::IngestOptions,
    /// `--since` as given: `last-run`, `24h`, `7d`, or a time.
    pub since: Option<String>,
    /// Time-ordered slices of the stream.
    pub slicing: ingest::Slicing,
    /// The state directory (default: [`super::default_dir`]).
    pub state: Option<PathBuf>,
    pub format: ReportFormat,
    /// Write the report to this file (atomically) instead of stdout.
    pub out: Option<PathBuf>,
    /// Exit 1 when a new finding at or above this severity is found.
    pub fail_on: Severity,
    /// Days of stored history the new events are judged against.
    pub history_days: u32,
    /// Days an address block stays in a principal's baseline after its last call (at most
    /// `history_days`; 0: none is kept). A principal back to a block after longer away is
    /// counted afresh from its return, in one run as across nightly runs.
    pub block_days: u32,
    /// Hours an expired session is kept in the saved state after it could last sign a call.
    pub keep_expired_hours: u32,
    /// Lake rows held before they are written aside ([`super::LAKE_ROWS_HELD`]).
    pub lake_rows_held: usize,
    /// Rows of the events parts' row groups ([`super::LAKE_ROW_GROUP`]).
    pub lake_row_group: usize,
    /// Keys the engine's graph holds before it takes out, as the events stream, the chains
    /// that expired `keep_expired_hours` before the latest call ([`GRAPH_KEYS_HELD`]; 0: as
    /// soon as they expire; `usize::MAX`: never, the reference the tests compare with).
    pub graph_keys_held: usize,
    /// Detection thresholds and allowlists (TOML).
    pub config: Option<PathBuf>,
    /// The user's own .mmdb files.
    pub geoip: Vec<PathBuf>,
}

/// `trailhound baseline show|list|forget` (the command line's `BaselineCommand` is in
/// `src/cli/scheduled.rs`).
#[derive(Debug, Clone)]
pub enum BaselineAction {
    /// Explain what is normal for a principal; `json` prints the stored profile.
    Show {
        principal: String,
        state: Option<PathBuf>,
        json: bool,
    },
    /// The principals with a baseline: calls, first and last seen.
    List { state: Option<PathBuf> },
    /// Reset a principal's baseline after a legitimate change.
    Forget {
        principal: String,
        state: Option<PathBuf>,
    },
}

fn state_dir(d: &Option<PathBuf>) -> PathBuf {
    d.clone().unwrap_or_else(super::default_dir)
}

fn load_profiles(state: &State) -> Result<BTreeMap<String, baseline::Profile>> {
    let p = state.dir().join("baselines.json");
    match std::fs::read(&p) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| Error::Other(format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(Error::Other(format!("{}: {e}", p.display()))),
    }
}

pub fn run_baseline(cmd: BaselineAction) -> Result<Exit> {
    match cmd {
        BaselineAction::Show {
            principal,
            state,
            json,
        } => {
            let state = State::read(&state_dir(&state))?;
            let profiles = load_profiles(&state)?;
            let Some(p) = profiles.get(&principal) else {
                let close: Vec<&String> = profiles
                    .keys()
                    .filter(|k| k.contains(principal.as_str()))
                    .take(5)
                    .collect();
                return Err(Error::Usage(format!(
                    "no baseline for {principal} in {}{}",
                    state.dir().display(),
                    if close.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (did you mean: {})",
                            close
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                )));
            };
            let mut text = if json {
                serde_json::to_string_pretty(p).map_err(|e| Error::Other(e.to_string()))? + "\n"
            } else {
                baseline::explain(p)
            };
            if let Some(t) = state.forgotten().get(&principal) {
                if !json {
                    text.push_str(&format!(
                        "  forgotten at {}: learned again since\n",
                        format_iso(*t)
                    ));
                }
            }
            Sink::new(None).write_text(&text)?;
            Ok(Exit::Ok)
        }
        BaselineAction::List { state } => {
            let state = State::read(&state_dir(&state))?;
            let profiles = load_profiles(&state)?;
            let rows: Vec<Vec<String>> = profiles
                .values()
                .map(|p| {
                    vec![
                        p.principal.clone(),
                        p.events.to_string(),
                        p.first_seen.clone(),
                        p.last_seen.clone(),
                        p.countries.keys().cloned().collect::<Vec<_>>().join(" "),
                    ]
                })
                .collect();
            Sink::new(None).write_text(&crate::report::table::render(
                &["principal", "calls", "first_seen", "last_seen", "countries"],
                &rows,
                70,
            ))?;
            Ok(Exit::Ok)
        }
        BaselineAction::Forget { principal, state } => {
            let mut state = State::open(&state_dir(&state))?;
            let mut profiles = load_profiles(&state)?;
            let had = profiles.remove(&principal).is_some();
            let now = chrono::Utc::now().timestamp_millis();
            state.forget(&principal, now)?;
            let bytes =
                serde_json::to_vec_pretty(&profiles).map_err(|e| Error::Other(e.to_string()))?;
            write_atomic(&state.dir().join("baselines.json"), &bytes)?;
            state.close();
            eprintln!(
                "trailhound: {} baseline of {principal} forgotten as of {}: history before it no longer counts",
                if had { "the" } else { "no stored" },
                format_iso(now)
            );
            Ok(Exit::Ok)
        }
    }
}

/// The key that says a finding was reported: kind, principal, key and time.
pub fn finding_key(f: &Finding) -> String {
    format!(
        "{}|{}|{}|{}",
        f.kind.as_str(),
        f.principal,
        f.access_key_id.as_deref().unwrap_or(""),
        format_iso(f.time)
    )
}

/// `--since` for a report: `last-run` (the previous run's start, padded for delivery delay;
/// none before the first run), `24h` / `7d` (before now), or a time.
fn resolve_since(since: &str, state: &State, now: Millis) -> Option<String> {
    if since == "last-run" {
        return state.runs().last().and_then(|r| {
            crate::event::time::parse_iso(&r.started_at).map(|t| format_iso(t - scope::LATE))
        });
    }
    let rel = |unit: char, ms: Millis| {
        since
            .strip_suffix(unit)
            .and_then(|n| n.parse::<i64>().ok())
            .map(|n| format_iso(now - n * ms))
    };
    Some(
        rel('h', HOUR)
            .or_else(|| rel('d', DAY))
            .unwrap_or_else(|| since.to_string()),
    )
}

pub fn run(args: ReportOptions, quiet: bool) -> Result<Exit> {
    let started = chrono::Utc::now();
    let now = started.timestamp_millis();
    let run_id = format!(
        "{}-{}",
        started.format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    );
    let cfg = match &args.config {
        Some(p) => detect::DetectConfig::load(p).map_err(Error::Usage)?,
        None => detect::DetectConfig::default(),
    };
    let geo = if args.geoip.is_empty() {
        crate::geoip::GeoIp::bundled()
    } else {
        crate::geoip::GeoIp::with_files(&args.geoip)
    }
    .map_err(|e| Error::Usage(e.to_string()))?;
    let mut state = State::open(&state_dir(&args.state))?;
    // The engine goes on from the last committed run's state: only the new objects are read.
    // The state is read while the manifest is read and the logs are listed, and taken up when
    // the first slice comes.
    let mut loading = Some({
        let committed = state.handle();
        std::thread::spawn(move || committed.load_engine())
    });
    let known = Arc::new(state.manifest()?);
    let mut opts = args.ingest.clone();
    if let Some(s) = &args.since {
        opts.scope.since = resolve_since(s, &state, now)
            .as_deref()
            .map(crate::event::time::parse_user_time)
            .transpose()
            .map_err(|e| Error::Usage(format!("--since: {e}")))?;
    }
    if let (Some(a), Some(b)) = (opts.scope.since, opts.scope.until) {
        if b <= a {
            return Err(Error::Usage("--until must be after --since".into()));
        }
    }
    // The window prunes what is listed and read; every event of a file read is kept, since the
    // file goes into the manifest and is not read again.
    opts.scope.files_only = true;
    opts.track = Some(known.clone());
    opts.settled = Some(Arc::new(state.settled()?));
    let mut resume = || -> Result<Resumed> {
        let saved = match loading.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| Error::Other("reading the engine state failed".into()))??,
            None => None,
        };
        let retire_after = (args.graph_keys_held < usize::MAX).then_some((
            i64::from(args.keep_expired_hours) * HOUR,
            args.graph_keys_held,
        ));
        Ok(Resumed::from(
            saved,
            &geo,
            &cfg,
            state.forgotten(),
            retire_after,
        ))
    };
    let history_len: u64 = state.runs().iter().map(|r| r.events).sum();
    // The new events, gathered per lake partition as they stream: each partition's whole row
    // groups are encoded on a thread of their own as soon as they are there, and past a budget
    // of waiting rows the rest are written out and read back at the end (a first run over a
    // backlog holds no more than a night). A killed run's leftovers go first; the state's lock
    // says no other run is writing beside this one.
    let spill_dir = state.dir().join(format!(".spill-{run_id}"));
    for old in std::fs::read_dir(state.dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = old.file_name().to_string_lossy().to_string();
        if name.starts_with(".spill-") {
            let _ = std::fs::remove_dir_all(old.path());
        } else if name.starts_with(".retired-") {
            let _ = std::fs::remove_file(old.path());
        }
    }
    // The chains the engine takes out as the events stream (those the saved state would drop):
    // their sessions for the sessions table, and the chains for the incidents, kept aside.
    let mut retired = super::retired::RetiredChains::new(
        &state,
        &run_id,
        state.dir().join(format!(".spill-{run_id}-sessions")),
        args.lake_rows_held,
    );
    let lake = super::LakeParts::new("events")
        .row_groups_of(args.lake_row_group)
        .spilling(spill_dir, args.lake_rows_held.max(1))
        .encoding_ahead(state.handle(), &run_id, super::Encoder::events())?;
    // Address blocks are kept at most as long as their principals.
    let block_days = args.block_days.min(args.history_days);
    let mut first_new: Option<Millis> = None;
    let mut last_new: Option<Millis> = None;
    let mut touched: FastSet<crate::event::Text> = FastSet::default();
    let mut resumed: Option<Resumed> = None;
    // What a slice feeds besides the engine (the profiles, the report's tallies, the lake) is
    // counted on a thread of its own, slice after slice in the same order, while the engine
    // takes the next slice: the same counts, off the engine's path.
    let (data, kept) = std::thread::scope(|s| {
        let (to_keeper, slices) = std::sync::mpsc::sync_channel::<Kept>(0);
        let keeper = s.spawn(|| keep_slices(slices, lake, &geo, block_days));
        let data = ingest::stream(&args.paths, &opts, args.slicing, &mut |slice| {
            let r = match &mut resumed {
                Some(r) => r,
                None => {
                    let r = resumed.insert(resume()?);
                    let learned = (
                        std::mem::take(&mut r.profiles),
                        std::mem::replace(&mut r.tally, DigestTally::new(&r.profiles)),
                    );
                    if to_keeper.send(Kept::Learned(Box::new(learned))).is_err() {
                        return Err(Error::Other("counting the new events stopped".into()));
                    }
                    r
                }
            };
            for e in &slice {
                first_new = Some(first_new.map_or(e.event_time, |t| t.min(e.event_time)));
                last_new = Some(last_new.map_or(e.event_time, |t| t.max(e.event_time)));
                for k in [&e.access_key_id, &e.sts().issued_access_key_id]
                    .into_iter()
                    .flatten()
                {
                    if !touched.contains(k) {
                        touched.insert(k.clone());
                    }
                }
            }
            r.hunt.observe(&slice);
            for (chain, sub) in r.hunt.take_retired_chains() {
                retired.keep(chain, sub, &mut touched)?;
            }
            // Each event's principal, looked up once for the profiles and the report.
            let principals = baseline::principals(&slice, &r.hunt.graph);
            if to_keeper
                .send(Kept::Slice(slice, principals, last_new))
                .is_err()
            {
                return Err(Error::Other("counting the new events stopped".into()));
            }
            Ok(())
        });
        drop(to_keeper);
        let kept = keeper
            .join()
            .map_err(|_| Error::Other("counting the new events failed".into()));
        (data, kept)
    });
    // The keeper's own error first: the stream only saw that it stopped.
    let (learned, lake) = kept??;
    let data = data?;
    let Resumed {
        mut hunt,
        mut profiles,
        mut tally,
    } = match resumed {
        Some(r) => r,
        None => resume()?,
    };
    if let Some(learned) = learned {
        (profiles, tally) = *learned;
    }
    crate::progress::warn(&data);
    let stats = data.stats.clone();
    let processed = data.processed;
    let new_count = lake.rows();
    // The rest of the new events go to the lake on a thread of their own while they are judged
    // and the rest is stored; joined before the incidents are read back from it.
    let events_lake = {
        let (state, run_id) = (state.handle(), run_id.clone());
        std::thread::spawn(move || lake.write(&state, &run_id, super::Encoder::events()))
    };

    // Detections: report what is new and not reported before.
    // The graph handed on holds no issuing calls: nothing after the detections reads them.
    let (graph, mut findings) = hunt.judge();
    for p in hunt.problems.drain(..) {
        eprintln!("trailhound: warning: {p}");
    }
    crate::playbook::respond::respond(&mut findings, &graph, &args.paths);
    // The touched sessions the engine still holds (those of its graph that were not taken
    // out), when it took some out: the sessions table is written from both.
    let taken_out = retired.taken;
    let night_sessions = if retired.taken == 0 {
        drop(retired);
        NightSessions::Graph
    } else {
        let rest = graph
            .sessions
            .iter()
            .filter(|s| touched.contains(&s.access_key_id) && hunt.graph.contains(&s.access_key_id))
            .cloned()
            .collect();
        NightSessions::Retired(Box::new(retired), rest)
    };
    let new_findings: Vec<Finding> = match first_new {
        Some(t0) => {
            // Only findings on or after the first new event can be new (a finding's key holds
            // its time, and findings are stored by its day): older days are not read.
            let reported = state.reported_since(Some(&format_iso(t0)[..10]))?;
            findings
                .into_iter()
                .filter(|f| f.time >= t0 && !reported.contains(&finding_key(f)))
                .collect()
        }
        None => Vec::new(),
    };

    // Strands side by side, all invisible until the commit: the night's records (the sessions
    // the new events touch and the findings; the rest of the events lake and the incidents read
    // back from it), the manifest and settled folders, and what the next run goes on from (the
    // engine state).
    let (records, saved, baselines, retired_keys, listing) = std::thread::scope(|s| {
        let stored = s.spawn(|| {
            store_night(
                &state,
                &run_id,
                &graph,
                &touched,
                night_sessions,
                &new_findings,
            )
        });
        // The objects read (the manifest) and the day folders now settled, for the next run not
        // to read or list them again, written beside the rest (each counts once the run commits).
        let listing = s.spawn(|| -> Result<()> {
            // A manifest that could not be read when its folder was listed: its objects were
            // taken as new, so this run must not commit (the next one reads them again).
            if let Some(e) = known.failed() {
                return Err(Error::Other(format!("reading the manifest: {e}")));
            }
            state.write_manifest(&run_id, &processed)?;
            if let Some(walk) = &data.folders {
                use crate::ingest::settle;
                let new: HashSet<&str> = processed.iter().map(|(n, _)| n.as_str()).collect();
                // The latest delivery of each trail's processed files, from the folders
                // listed: CloudTrail delivers a file into the folder of its delivery day, so a
                // trail's latest file is in its latest folder, which is never settled (nothing
                // was delivered after it) and so is listed. Not from the whole manifest, which
                // grows with the days stored. A trail whose latest folder is outside the window
                // gets an earlier time here: fewer folders settle.
                let was_processed = settle::in_sets(&known, &new);
                let processed_here = walk
                    .listed
                    .iter()
                    .flat_map(|l| l.names.iter().map(String::as_str))
                    .filter(|n| was_processed(n));
                let latest = settle::latest_delivery(processed_here.chain(new.iter().copied()));
                let settled =
                    settle::settle(&walk.listed, &walk.skipped, &was_processed, &latest, now);
                state.write_settled(&run_id, &settled)?;
            }
            Ok(())
        });
        let (graph, new_findings, logs) = (&graph, &new_findings, &args.paths);
        let records = s.spawn(move || -> Result<Vec<crate::incident::Incident>> {
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<_>>| {
                h.join().map_err(|_| {
                    Error::Other("storing the night's sessions and findings failed".into())
                })?
            };
            // The incidents are read back beside the storing of the sessions and findings, or
            // after it when chains were taken out as the events streamed: their sessions, read
            // back around the findings, are stored there.
            let mut stored = Some(stored);
            let chains = match taken_out {
                0 => None,
                _ => stored.take().map(join).transpose()?.flatten(),
            };
            let events_parts = events_lake
                .join()
                .map_err(|_| Error::Other("writing the events lake failed".into()))??;
            fail_point("after-lake");
            // The new findings as incidents, their timelines from this run's events (read back
            // from the parts just written, only when there is an incident). Around the
            // findings, the sessions taken out are read back.
            let around = match &chains {
                Some(c) => c.around(graph, new_findings)?,
                None => None,
            };
            let incidents = incidents_from_parts(
                new_findings,
                around.as_ref().unwrap_or(graph),
                &events_parts,
                logs,
            );
            if let Some(h) = stored {
                join(h)?;
            }
            Ok(incidents)
        });
        // What the next run goes on from (the engine file counts only once the run commits):
        // principals and sessions unseen for `--history-days` expire. Sessions that can no
        // longer sign calls (and lead to none that can) were judged: only the living ones and
        // their chains are carried, so a night costs what its new data costs.
        let mut retired_keys = None;
        if let Some(last) = last_new {
            retired_keys = Some(
                hunt.graph
                    .retire(last - i64::from(args.keep_expired_hours) * HOUR),
            );
            let graph = &hunt.graph;
            hunt.detector.retain_instance_keys(|k| graph.contains(k));
        }
        // The history window ends at the latest call seen: this night's, else (a night with
        // nothing new) the latest any run read. Not the clock: a night with nothing new over a
        // state of last year's logs keeps their history.
        let latest = last_new.or_else(|| state.runs().iter().filter_map(|r| r.last_event).max());
        if let Some(last) = latest {
            let before = last - args.history_days as i64 * DAY;
            hunt.graph.expire(before);
            hunt.detector.expire(before);
            profiles.expire(before);
            profiles.expire_blocks(if block_days == 0 {
                Millis::MAX
            } else {
                last - i64::from(block_days) * DAY
            });
        }
        // The baselines' JSON, made and written beside the saving (like the other files of the
        // run, it is read by `baseline show`, not by the next run, which goes on from the
        // engine state).
        let baselines = s.spawn(|| -> Result<()> {
            super::write_atomic_with(&state.dir().join("baselines.json"), |w| {
                Ok(profiles.write_finished_json(w)?)
            })
        });
        let saved = state.save_engine(
            &run_id,
            &super::SavingEngine {
                saved_at: now,
                graph: hunt.graph.saved_ref(),
                detector: hunt.detector.saved(),
                profiles: &profiles,
            },
        );
        let listing = listing
            .join()
            .map_err(|_| Error::Other("writing the manifest failed".into()))
            .and_then(|r| r);
        (
            records.join(),
            saved,
            baselines.join(),
            retired_keys,
            listing,
        )
    });
    drop(touched);
    saved?;
    listing?;
    baselines.map_err(|_| Error::Other("writing the baselines failed".into()))??;
    let incidents =
        records.map_err(|_| Error::Other("storing the night's records failed".into()))??;

    // The report, then the commit.
    let digest = build_digest(DigestInput {
        run_id: &run_id,
        generated_at: format_iso(now - now.rem_euclid(1000)),
        window: first_new.zip(last_new),
        tally,
        graph: &graph,
        findings: &new_findings,
        incidents,
        read: ReadSummary {
            inputs: args.paths.iter().map(|p| p.display().to_string()).collect(),
            objects_new: stats.files_seen,
            objects_already_processed: stats.files_known,
            events_new: new_count,
            events_history: history_len,
            files_skipped: stats.skipped_by_reason.clone(),
            files_failed: stats.files_failed,
            bad_records: stats.bad_records,
            problems: data
                .problems
                .iter()
                .take(20)
                .map(|p| p.to_string())
                .collect(),
        },
    });
    let text = match args.format {
        ReportFormat::Html => crate::report::html::render(&digest),
        ReportFormat::Markdown => crate::report::markdown::render(&digest),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&digest).map_err(|e| Error::Other(e.to_string()))? + "\n"
        }
    };
    match &args.out {
        Some(p) => write_atomic(p, text.as_bytes())?,
        None => Sink::new(None).write_text(&text)?,
    }
    fail_point("before-commit");
    state.commit(RunRecord {
        id: run_id.clone(),
        started_at: format_iso(now),
        finished_at: format_iso(chrono::Utc::now().timestamp_millis()),
        inputs: digest.read.inputs.clone(),
        objects: processed.len() as u64,
        events: new_count,
        findings: new_findings.len() as u64,
        last_event: last_new,
    })?;
    state.prune_engine(&run_id);
    state.prune_settled(&run_id);
    let worst = new_findings.iter().map(|f| f.severity).max();
    if !quiet {
        eprintln!(
            "trailhound: report {run_id}: {} new objects ({} already processed), {} new events judged against the saved state of {} stored, {} new findings (worst: {}){}; state {}",
            stats.files_seen,
            stats.files_known,
            new_count,
            history_len,
            new_findings.len(),
            worst.map_or("none".into(), |w| w.to_string()),
            if taken_out > 0 {
                format!("; {taken_out} expired sessions taken out as the events streamed")
            } else {
                String::new()
            },
            state.dir().display()
        );
    }
    // Committed, and nothing more is written: the next run need not look for what this one
    // left.
    state.close();
    // The process ends with the run: the engine and the graph (every living session, with its
    // issuing call and chain), and what was retired from the engine before it was saved, are
    // left to the operating system instead of being freed object by object, a tenth of a
    // night's time. (Nothing in them cleans up after itself: a bounded hunt's file of waiting
    // keys, the one thing that does, was taken by `judge`.)
    std::mem::forget(hunt);
    std::mem::forget(graph);
    std::mem::forget(retired_keys);
    Ok(if worst.is_some_and(|w| w >= args.fail_on) {
        Exit::Findings
    } else {
        Exit::Ok
    })
}

/// What a night goes on from: the engine, the profiles and the report's tallies, as the last
/// committed run saved them (new ones before the first run).
struct Resumed<'a> {
    hunt: crate::engine::Hunt<'a>,
    profiles: baseline::Profiles,
    tally: DigestTally,
}

impl<'a> Resumed<'a> {
    /// From a saved engine state; principals forgotten (`baseline forget`) since it was saved
    /// are learned again.
    /// With `retire_after` (a time, a number of keys), the engine takes out (and hands over)
    /// the chains that expired that long before the latest call as the events stream, once
    /// its graph holds more keys than that ([`crate::engine::Hunt::handing_out_retired`]).
    fn from(
        saved: Option<super::SavedEngine>,
        geo: &'a crate::geoip::GeoIp,
        cfg: &'a detect::DetectConfig,
        forgotten: &BTreeMap<String, Millis>,
        retire_after: Option<(Millis, usize)>,
    ) -> Resumed<'a> {
        let saved_at = saved.as_ref().map(|s| s.saved_at);
        let (graph, detector, mut profiles) = match saved {
            Some(s) => (
                crate::graph::GraphState::restore(s.graph),
                detect::Detector::restore(geo, cfg, s.detector),
                s.profiles,
            ),
            None => (
                crate::graph::GraphState::live(),
                detect::Detector::new(geo, cfg),
                baseline::Profiles::default(),
            ),
        };
        let mut hunt = match retire_after {
            Some((lag, above)) => {
                crate::engine::Hunt::handing_out_retired(graph, detector, lag, above)
            }
            None => crate::engine::Hunt::resume(graph, detector),
        };
        for (p, at) in forgotten {
            if saved_at.is_none_or(|t| *at >= t) {
                hunt.detector.forget(p);
                profiles.forget(p);
            }
        }
        let tally = DigestTally::new(&profiles);
        Resumed {
            hunt,
            profiles,
            tally,
        }
    }
}

/// The profiles and the report's tallies, as the new events are counted into them.
type Learned = (baseline::Profiles, DigestTally);

/// What the stream hands the thread that counts the new events ([`keep_slices`]).
enum Kept {
    /// The profiles and tallies the counts go on from (first, once the state is read).
    Learned(Box<Learned>),
    /// A slice, each event's principal, and the latest event's time so far.
    Slice(Vec<Event>, Vec<Option<crate::event::Text>>, Option<Millis>),
}

/// Counts the slices into the profiles and the report's tallies and gathers them into the
/// lake, in the order they come; returns what was learned (none when no slice came) and the
/// lake.
fn keep_slices(
    slices: std::sync::mpsc::Receiver<Kept>,
    mut lake: super::LakeParts<Event>,
    geo: &crate::geoip::GeoIp,
    block_days: u32,
) -> Result<(Option<Box<Learned>>, super::LakeParts<Event>)> {
    let mut learned: Option<Box<Learned>> = None;
    let block_gap = i64::from(block_days) * DAY;
    let new_counter = || baseline::Counter::new(block_gap);
    let mut counter = new_counter();
    for kept in slices {
        match kept {
            Kept::Learned(l) => learned = Some(l),
            Kept::Slice(slice, principals, last) => {
                let Some(l) = learned.as_mut() else {
                    return Err(Error::Other(
                        "new events came before the state was read".into(),
                    ));
                };
                let (profiles, tally) = &mut **l;
                // Both counts block by block, each block's events read once from memory; the
                // profiles' counts added to them at the end, or when they hold many values.
                for (block, of) in slice.chunks(BLOCK).zip(principals.chunks(BLOCK)) {
                    counter.count(block, of, geo);
                    tally.observe(block, of, geo);
                }
                if counter.held() > COUNTED_HELD {
                    profiles.add(std::mem::replace(&mut counter, new_counter()));
                }
                drop(principals);
                lake.push(slice, lake_partition);
                // The days the stream has left (an hour past their end) wait on disk, not in
                // memory.
                if let Some(last) = last {
                    let today = format_iso(last - HOUR);
                    lake.spill_days_before(
                        &today[..10],
                        LEFT_DAY_ROWS,
                        crate::frame::events_frame_of,
                    )?;
                }
                lake.spill_over(crate::frame::events_frame_of)?;
            }
        }
    }
    if let Some(l) = learned.as_mut() {
        l.0.add(counter);
    }
    Ok((learned, lake))
}

/// The partition of an event in the lake: its account (the recipient's, else the caller's)
/// and its day.
fn lake_partition(e: &Event) -> (&str, &str) {
    (
        e.recipient_account_id
            .as_deref()
            .or(e.account_id.as_deref())
            .unwrap_or("unknown"),
        &e.event_day,
    )
}

/// Where a night's sessions table comes from: the graph at the end holds every session the
/// night touched, or the engine took chains out as the events streamed (the touched sessions
/// of its graph at the end beside them).
enum NightSessions {
    Graph,
    Retired(
        Box<super::retired::RetiredChains>,
        Vec<crate::graph::Session>,
    ),
}

/// Writes a night's lake parts of the sessions its events touch (`touched`: their keys) and of
/// its new findings. Returns the chains the engine took out, for the incidents.
fn store_night(
    state: &State,
    run_id: &str,
    graph: &Graph,
    touched: &FastSet<crate::event::Text>,
    sessions: NightSessions,
    new_findings: &[Finding],
) -> Result<Option<super::retired::ChainsFile>> {
    let day = |t: Millis| format_iso(t)[..10].to_string();
    let chains = match sessions {
        NightSessions::Graph => {
            // The graph's sessions themselves, not copies: only the references are sorted into
            // their partitions.
            let sessions: Vec<&crate::graph::Session> = graph
                .sessions
                .iter()
                .filter(|s| touched.contains(&s.access_key_id))
                .collect();
            state.write_parts(
                "sessions",
                run_id,
                sessions,
                |s| super::retired::session_partition(s),
                crate::frame::sessions_frame,
            )?;
            None
        }
        NightSessions::Retired(retired, rest) => Some(retired.write_sessions(state, run_id, rest)?),
    };
    state.write_parts(
        "findings",
        run_id,
        new_findings.to_vec(),
        |f| {
            (
                f.account.clone().unwrap_or_else(|| "unknown".into()),
                day(f.time),
            )
        },
        |rows| findings_frame(rows, run_id),
    )?;
    Ok(chains)
}

/// The incidents of a night's findings, their timelines from the night's events (read back
/// from its lake parts; the incidents do not depend on the order the calls are read in).
fn incidents_from_parts(
    findings: &[Finding],
    graph: &Graph,
    parts: &[PathBuf],
    logs: &[PathBuf],
) -> Vec<crate::incident::Incident> {
    use crate::incident;
    let opts = incident::Options {
        logs: logs.to_vec(),
        ..Default::default()
    };
    let drafts = incident::group(findings, graph, opts.window);
    let mut collector = incident::Collector::new(&drafts, opts.examples);
    if !collector.is_empty() {
        let keys: HashSet<&str> = collector.keys().collect();
        let mut gathered = Vec::new();
        for part in parts {
            match calls_of_keys(part, &keys) {
                Ok(events) => gathered.push(events),
                Err(e) => eprintln!(
                    "trailhound: warning: the incidents' timelines miss the events of a part: {e}"
                ),
            }
        }
        for events in &gathered {
            collector.observe(events);
        }
    }
    incident::finish(drafts, collector, graph, &opts)
}

/// The calls of a lake part signed by one of `keys`, in the part's order, with the fields an
/// incident reads ([`crate::incident::FIELDS`]): its `access_key_id` column is read
/// first, then those columns of the row groups where one of the keys signed (a part of a long
/// backlog is never read whole).
fn calls_of_keys(part: &std::path::Path, keys: &HashSet<&str>) -> Result<Vec<Event>> {
    let io = |e: &dyn std::fmt::Display| Error::Other(format!("{}: {e}", part.display()));
    let open = || std::fs::File::open(part).map_err(|e| io(&e));
    let mut reader = ParquetReader::new(open()?);
    // The footer, parsed once for every read of the part.
    let footer = reader.get_metadata().map_err(|e| io(&e))?.clone();
    let signers = reader
        .with_columns(Some(vec!["access_key_id".into()]))
        .finish()
        .map_err(|e| io(&e))?;
    let mask: BooleanChunked = signers
        .column("access_key_id")
        .and_then(|c| c.str())
        .map_err(|e| io(&e))?
        .iter()
        .map(|k| Some(k.is_some_and(|k| keys.contains(k))))
        .collect();
    let fields: Vec<String> = crate::incident::FIELDS.map(String::from).to_vec();
    let mut calls = Vec::new();
    let mut start = 0;
    for rows in footer.row_groups.iter().map(|g| g.num_rows()) {
        let signed = mask.slice(start as i64, rows);
        if signed.any() {
            let mut reader = ParquetReader::new(open()?);
            reader.set_metadata(footer.clone());
            let group = reader
                .with_columns(Some(fields.clone()))
                .with_slice(Some((start, rows)))
                .finish()
                .and_then(|df| df.filter(&signed))
                .map_err(|e| io(&e))?;
            calls.extend(crate::frame::events_from_columns(&group).map_err(|e| io(&e))?);
        }
        start += rows;
    }
    Ok(calls)
}

/// The findings table of the lake.
pub(crate) fn findings_frame(rows: &[Finding], run_id: &str) -> Result<DataFrame> {
    let s = |name: &str, v: Vec<Option<String>>| Column::new(name.into(), v);
    let opt = |f: &dyn Fn(&Finding) -> Option<String>| rows.iter().map(f).collect::<Vec<_>>();
    let df = DataFrame::new_infer_height(vec![
        s("finding_key", opt(&|f| Some(finding_key(f)))),
        s("kind", opt(&|f| Some(f.kind.as_str().into()))),
        s("severity", opt(&|f| Some(f.severity.as_str().into()))),
        s("time", opt(&|f| Some(format_iso(f.time)))),
        s("principal", opt(&|f| Some(f.principal.clone()))),
        s("access_key_id", opt(&|f| f.access_key_id.clone())),
        s("account", opt(&|f| f.account.clone())),
        s("source_ip", opt(&|f| f.place.source_ip.clone())),
        s("country", opt(&|f| f.place.country.clone())),
        Column::new(
            "asn".into(),
            rows.iter()
                .map(|f| f.place.asn.map(i64::from))
                .collect::<Vec<_>>(),
        ),
        s("summary", opt(&|f| Some(f.summary.clone()))),
        s("reason", opt(&|f| Some(f.reason.clone()))),
        s(
            "evidence_event_ids",
            opt(&|f| Some(f.evidence_event_ids.join(" "))),
        ),
        s("chain", opt(&|f| serde_json::to_string(&f.chain).ok())),
        s(
            "respond",
            opt(&|f| f.respond.as_ref().map(|r| r.command.clone())),
        ),
        s("run_id", opt(&|_| Some(run_id.to_string()))),
    ])
    .map_err(|e| Error::Other(e.to_string()))?;
    Ok(df)
}

struct DigestInput<'a> {
    run_id: &'a str,
    generated_at: String,
    window: Option<(Millis, Millis)>,
    tally: DigestTally,
    graph: &'a Graph,
    findings: &'a [Finding],
    incidents: Vec<crate::incident::Incident>,
    read: ReadSummary,
}

/// What the report tells of the new events, counted slice by slice: calls per hour and
/// account, AssumeRole successes and denials, top principals and roles, and the principals and
/// (principal, country) pairs the saved state had never seen.
struct DigestTally {
    /// Principal -> the countries the saved state saw it in, until the principal's first call
    /// (then moved to its tally).
    old_places: FastMap<String, FastSet<String>>,
    calls: FastMap<String, BTreeMap<i64, u64>>,
    assume: BTreeMap<i64, (u64, u64)>,
    principals: FastMap<crate::event::Text, PrincipalTally>,
    roles: FastMap<String, (u64, u64)>,
    countries: FastMap<crate::event::Text, Option<String>>,
}

/// What the night's calls tell of one principal.
#[derive(Default)]
struct PrincipalTally {
    calls: u64,
    errors: u64,
    /// The countries the saved state saw it in; none when the state never saw it.
    old_places: Option<FastSet<String>>,
    /// Its first call, when the saved state never saw it.
    new_since: Option<Millis>,
    /// Country -> first call from there, for countries the state had not seen.
    new_places: BTreeMap<String, Millis>,
}

/// Calls and errors per principal, the principals new in the run (first call) and the
/// countries new for a principal the saved state knew (first call from there).
type Principals = (
    FastMap<String, (u64, u64)>,
    BTreeMap<String, Millis>,
    BTreeMap<String, BTreeMap<String, Millis>>,
);

impl PrincipalTally {
    fn split(tallied: FastMap<crate::event::Text, PrincipalTally>) -> Principals {
        let mut principals: FastMap<String, (u64, u64)> = FastMap::default();
        let mut new_principals: BTreeMap<String, Millis> = BTreeMap::new();
        let mut new_places: BTreeMap<String, BTreeMap<String, Millis>> = BTreeMap::new();
        for (p, t) in tallied {
            principals.insert(p.to_string(), (t.calls, t.errors));
            match t.new_since {
                Some(since) => {
                    new_principals.insert(p.to_string(), since);
                }
                // A principal new in this run is not also listed as coming from a new country.
                None if !t.new_places.is_empty() => {
                    new_places.insert(p.to_string(), t.new_places);
                }
                None => {}
            }
        }
        (principals, new_principals, new_places)
    }
}

impl DigestTally {
    fn new(before: &baseline::Profiles) -> DigestTally {
        DigestTally {
            old_places: before
                .counted()
                .map(|p| (p.principal.clone(), p.countries.keys().cloned().collect()))
                .collect(),
            calls: FastMap::default(),
            assume: BTreeMap::new(),
            principals: FastMap::default(),
            roles: FastMap::default(),
            countries: FastMap::default(),
        }
    }

    /// Counts a slice; `principals[i]` is the principal of `events[i]`
    /// ([`baseline::principals`]: none for shared copies of cross-account calls).
    fn observe(
        &mut self,
        slice: &[Event],
        principals: &[Option<crate::event::Text>],
        geo: &crate::geoip::GeoIp,
    ) {
        let hour = |t: Millis| t - t.rem_euclid(HOUR);
        for (e, p) in slice.iter().zip(principals).filter(|(e, _)| !e.shared_copy) {
            let c = match &e.source_ip {
                Some(ip) => match self.countries.get(&**ip) {
                    Some(c) => c.as_deref(),
                    None => self
                        .countries
                        .entry(ip.clone())
                        .or_insert_with(|| geo.lookup(ip).country)
                        .as_deref(),
                },
                None => None,
            };
            if let Some(p) = p {
                let t = match self.principals.get_mut(&**p) {
                    Some(t) => t,
                    None => {
                        let old_places = self.old_places.remove(&**p);
                        let new_since = old_places.is_none().then_some(e.event_time);
                        self.principals.entry(p.clone()).or_insert(PrincipalTally {
                            old_places,
                            new_since,
                            ..PrincipalTally::default()
                        })
                    }
                };
                if let Some(c) = c {
                    let seen = t.old_places.as_ref().is_some_and(|cs| cs.contains(c))
                        || t.new_places.contains_key(c);
                    if !seen {
                        t.new_places.insert(c.to_string(), e.event_time);
                    }
                }
                t.calls += 1;
                t.errors += u64::from(e.is_error);
            }
            let acct = e.recipient_account_id.as_deref().unwrap_or("unknown");
            let per_hour = match self.calls.get_mut(acct) {
                Some(m) => m,
                None => self.calls.entry(acct.to_string()).or_default(),
            };
            *per_hour.entry(hour(e.event_time)).or_default() += 1;
            if e.event_name
                .as_deref()
                .is_some_and(|n| n.starts_with("AssumeRole"))
            {
                let a = self.assume.entry(hour(e.event_time)).or_default();
                if e.is_error {
                    a.1 += 1;
                } else {
                    a.0 += 1;
                }
                if let Some(r) = e.sts().requested_role_arn.as_deref() {
                    let v = self.roles.entry(r.to_string()).or_default();
                    if e.is_error {
                        v.1 += 1;
                    } else {
                        v.0 += 1;
                    }
                }
            }
        }
        if self.countries.len() > 1 << 16 {
            self.countries.clear();
        }
    }
}

fn build_digest(d: DigestInput) -> Digest {
    let DigestTally {
        calls,
        assume,
        principals: tallied,
        roles,
        ..
    } = d.tally;
    // In key order from here on (counted in hash maps, every event of the night).
    let sorted = |m: FastMap<String, (u64, u64)>| m.into_iter().collect::<BTreeMap<_, _>>();
    let calls: BTreeMap<String, BTreeMap<i64, u64>> = calls.into_iter().collect();
    let (principals, new_principals, new_places) = PrincipalTally::split(tallied);
    let top = |m: BTreeMap<String, (u64, u64)>| {
        let mut v: Vec<(String, u64, u64)> = m.into_iter().map(|(k, (a, b))| (k, a, b)).collect();
        v.sort_by(|a, b| (b.1 + b.2).cmp(&(a.1 + a.2)).then(a.0.cmp(&b.0)));
        v.truncate(15);
        v
    };
    let mut findings: Vec<ReportedFinding> = d
        .findings
        .iter()
        .map(|f| ReportedFinding {
            chain_tree: chain_tree(f, d.graph),
            contain: f.respond.iter().map(|r| r.command.clone()).collect(),
            finding: f.clone(),
        })
        .collect();
    findings.sort_by(|a, b| {
        b.finding
            .severity
            .cmp(&a.finding.severity)
            .then(a.finding.sort_key().cmp(&b.finding.sort_key()))
    });
    Digest {
        title: "trailhound report".into(),
        generated_at: d.generated_at,
        run_id: d.run_id.to_string(),
        window: d.window.map(|(a, b)| (format_iso(a), format_iso(b))),
        incidents: d.incidents,
        findings,
        charts: Charts {
            calls_per_hour: calls
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
            assume_role: assume.into_iter().map(|(h, (a, b))| (h, a, b)).collect(),
            new_principals: new_principals
                .into_iter()
                .map(|(p, t)| (p, format_iso(t)))
                .collect(),
            new_countries: new_places
                .into_iter()
                .flat_map(|(p, cs)| {
                    cs.into_iter()
                        .map(move |(c, t)| (p.clone(), c, format_iso(t)))
                })
                .collect(),
        },
        top_principals: top(sorted(principals)),
        top_roles: top(sorted(roles)),
        read: d.read,
    }
}

/// The chain behind a finding as indented lines, root principal first.
fn chain_tree(f: &Finding, graph: &Graph) -> Vec<String> {
    let Some(key) = f.access_key_id.as_deref() else {
        return vec![f.principal.clone()];
    };
    let chain = graph.ancestors(key);
    if chain.is_empty() {
        return vec![f.principal.clone(), format!("└─ {key}")];
    }
    let mut out = vec![chain[0]
        .root_principal
        .as_deref()
        .unwrap_or("(origin not in the logs)")
        .to_string()];
    for (i, s) in chain.iter().enumerate() {
        out.push(format!(
            "{}└─ {}",
            "   ".repeat(i),
            crate::report::tree::describe(s)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::sample_events;

    #[test]
    fn the_report_lists_principals_and_countries_the_saved_state_never_saw_from_their_first_call() {
        let events = sample_events();
        let geo = crate::geoip::GeoIp::bundled().unwrap();
        let mut graph = crate::graph::GraphState::default();
        graph.observe(&events);
        let graph = graph.finish();
        let of = baseline::principals(&events, &graph);
        // The state knows the users' calls before the cut, and no role's.
        let cut = crate::event::time::parse_iso("2026-03-05T00:00:00Z").unwrap();
        let role = |i: usize| of[i].as_deref().is_some_and(|p| p.contains(":role/"));
        let old: Vec<usize> = (0..events.len())
            .filter(|&i| events[i].event_time < cut && !role(i))
            .collect();
        let new: Vec<usize> = (0..events.len())
            .filter(|&i| events[i].event_time >= cut)
            .collect();
        let mut before = baseline::Profiles::default();
        let pick = |at: &[usize]| -> (Vec<Event>, Vec<Option<crate::event::Text>>) {
            at.iter()
                .map(|&i| (events[i].clone(), of[i].clone()))
                .unzip()
        };
        let (old_events, old_of) = pick(&old);
        before.observe_as(&old_events, &old_of, &geo);
        let (new_events, new_of) = pick(&new);
        let mut tally = DigestTally::new(&before);
        // In blocks, as a night counts them.
        for (block, of) in new_events.chunks(7).zip(new_of.chunks(7)) {
            tally.observe(block, of, &geo);
        }
        let (principals, new_principals, new_places) = PrincipalTally::split(tally.principals);

        // The same, counted plainly: the first call of each principal or (principal, country)
        // the profiles before the cut never counted.
        let mut want_calls: FastMap<String, (u64, u64)> = FastMap::default();
        let mut want_principals: BTreeMap<String, Millis> = BTreeMap::new();
        let mut want_places: BTreeMap<String, BTreeMap<String, Millis>> = BTreeMap::new();
        for (e, p) in new_events.iter().zip(&new_of) {
            let Some(p) = p.as_deref().filter(|_| !e.shared_copy) else {
                continue;
            };
            let c = want_calls.entry(p.to_string()).or_default();
            c.0 += 1;
            c.1 += u64::from(e.is_error);
            let known = before.counted().find(|k| k.principal == p);
            if known.is_none() {
                want_principals.entry(p.to_string()).or_insert(e.event_time);
                continue;
            }
            if let Some(country) = e.source_ip.as_deref().and_then(|ip| geo.lookup(ip).country) {
                if !known.is_some_and(|k| k.countries.contains_key(&country)) {
                    want_places
                        .entry(p.to_string())
                        .or_default()
                        .entry(country)
                        .or_insert(e.event_time);
                }
            }
        }
        assert!(!want_principals.is_empty() && !want_places.is_empty());
        assert_eq!(principals, want_calls);
        assert_eq!(new_principals, want_principals);
        assert_eq!(new_places, want_places);
    }

    /// `events` written as a run's events lake parts in row groups of `group` rows, in a state
    /// of their own (kept while the folder is).
    fn lake_parts_of(events: &[Event], group: usize) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let mut lake = super::super::LakeParts::new("events").row_groups_of(group);
        lake.push(events.to_vec(), lake_partition);
        let parts = lake
            .write(&state, "run-a", super::super::Encoder::events())
            .unwrap();
        (dir, parts)
    }

    #[test]
    fn incidents_from_the_calls_read_back_with_their_fields_only_are_those_of_the_events() {
        let events = sample_events();
        let geo = crate::geoip::GeoIp::bundled().unwrap();
        let cfg = detect::DetectConfig::default();
        let mut hunt = crate::engine::Hunt::new(&geo, &cfg);
        hunt.observe(&events);
        let (graph, findings) = hunt.judge();
        let (_dir, parts) = lake_parts_of(&events, 50);
        let got = incidents_from_parts(&findings, &graph, &parts, &[]);
        let want = crate::incident::build(
            &findings,
            &graph,
            &events,
            &crate::incident::Options::default(),
        );
        // Calls with targets, errors, examples and changed resources are among them.
        let text = serde_json::to_string(&want).unwrap();
        for field in [
            "\"targets\":[\"",
            "\"errors\":1",
            "\"examples\":[{",
            "\"resources\":[{",
        ] {
            assert!(text.contains(field), "no incident shows {field}");
        }
        assert_eq!(serde_json::to_string(&got).unwrap(), text);
    }

    #[test]
    fn an_incidents_calls_are_read_back_from_the_row_groups_its_keys_signed_in_in_order() {
        let events = sample_events();
        // The two keys that signed the most calls of the sample.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for k in events.iter().filter_map(|e| e.access_key_id.as_deref()) {
            *counts.entry(k).or_default() += 1;
        }
        let mut busiest: Vec<(&str, usize)> = counts.into_iter().collect();
        busiest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let keys: HashSet<&str> = busiest.iter().take(2).map(|(k, _)| *k).collect();
        // Parts in row groups of 10 rows, so that a part holds many.
        let (_dir, parts) = lake_parts_of(&events, 10);
        let got: Vec<String> = parts
            .iter()
            .flat_map(|p| calls_of_keys(p, &keys).unwrap())
            .map(|e| e.event_id.as_deref().unwrap_or_default().to_string())
            .collect();
        // The keys' calls partition by partition (in the parts' order), each in the order read.
        let mut want: Vec<(String, String, usize, String)> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.access_key_id.as_deref().is_some_and(|k| keys.contains(k)))
            .map(|(i, e)| {
                let (account, day) = lake_partition(e);
                let id = e.event_id.as_deref().unwrap_or_default().to_string();
                (super::super::safe(account), super::super::safe(day), i, id)
            })
            .collect();
        want.sort();
        let want: Vec<String> = want.into_iter().map(|w| w.3).collect();
        assert!(want.len() > 30, "the keys signed {} calls", want.len());
        assert_eq!(got, want);
    }
}
