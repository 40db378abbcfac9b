//! Parsed arguments -> work. Each command reads its input through `ingest`, then hands the
//! result to the stage that owns it and to a sink in `report`.

pub mod args;
mod bench;
pub mod collect;
pub mod contain;
pub mod docs;
pub mod playbook;
pub mod scheduled;
pub mod securityhub;
mod values;
pub mod verify;

pub use args::Cli;
use args::{Command, FilterArgs, InputArgs, SummaryFormat};

use crate::error::{Error, Exit, Result};
use crate::event::{format_iso, time::parse_user_time, Event};
use crate::graph::{Graph, Session};
use crate::ingest::{self, IngestOptions, Ingested};
use crate::report::{self, table, Format, Sink};

/// Runs a command; returns the exit code for a run that completed.
pub fn run(cli: Cli) -> Result<Exit> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Summary { input, top, format } => {
            let mut tally = crate::summary::Tally::default();
            // Only the columns the overview counts are filled.
            let columns = crate::summary::COLUMNS;
            let data = stream_with(&input, quiet, None, columns, &mut |slice| {
                tally.observe(&slice);
                Ok(())
            })?;
            let s = tally.summary(&data.stats, top);
            let text = match format {
                SummaryFormat::Text => s.to_text(),
                SummaryFormat::Json => {
                    serde_json::to_string_pretty(&s).map_err(|e| Error::Other(e.to_string()))?
                        + "\n"
                }
            };
            Sink::new(None).write_text(&text)?;
            Ok(Exit::Ok)
        }
        Command::Events {
            input,
            filter,
            format,
            out,
        } => {
            let f = Filter::new(&filter)?;
            let sink = Sink::new(out.as_deref());
            if format == Format::Ndjson {
                // JSON lines are written as the slices come: nothing is held.
                let mut w = report::LineWriter::open(&sink)?;
                stream(&input, quiet, &mut |slice| {
                    let rows: Vec<&Event> = slice.iter().filter(|e| f.matches(e)).collect();
                    w.write(&rows)
                })?;
                w.finish()?;
                return Ok(Exit::Ok);
            }
            let mut events: Vec<Event> = Vec::new();
            stream(&input, quiet, &mut |slice| {
                events.extend(slice.into_iter().filter(|e| f.matches(e)));
                Ok(())
            })?;
            match format {
                Format::Ndjson => report::write_ndjson(&events, &sink)?,
                Format::Table => sink.write_text(&events_table(&events))?,
                Format::Timesketch => report::timesketch::write_events(&events, |e| e, &sink)?,
                Format::Csv | Format::Parquet => {
                    let mut df = crate::frame::events_frame(&events)?;
                    report::write_frame(&mut df, format, &sink)?;
                }
            }
            Ok(Exit::Ok)
        }
        Command::Query {
            input,
            sql,
            file,
            format,
            out,
        } => {
            let sql = match (sql, file) {
                (Some(s), _) => s,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| Error::Usage(format!("cannot read {}: {e}", f.display())))?,
                (None, None) => return Err(Error::Usage("give --sql or --file".into())),
            };
            // Events go to Parquet parts as they stream; the query scans them lazily.
            let mut spill = crate::frame::Spill::new(None)?;
            let mut state = crate::graph::GraphState::default();
            stream(&input, quiet, &mut |slice| {
                state.observe(&slice);
                spill.write(&slice)
            })?;
            let graph = state.finish();
            let sessions = crate::frame::sessions_frame(&graph.sessions)?;
            let mut df = crate::frame::sql_lazy(
                vec![
                    ("events", spill.lazy()?),
                    ("sessions", polars::prelude::IntoLazy::lazy(sessions)),
                ],
                &sql,
            )?;
            report::write_frame(&mut df, format, &Sink::new(out.as_deref()))?;
            Ok(Exit::Ok)
        }
        Command::Hunt {
            input,
            format,
            min_severity,
            fail_on,
            config,
            geoip,
            respond,
            sigma,
            out,
        } => {
            let cfg = match &config {
                Some(p) => crate::detect::DetectConfig::load(p).map_err(Error::Usage)?,
                None => crate::detect::DetectConfig::default(),
            };
            let geo = if geoip.is_empty() {
                crate::geoip::GeoIp::bundled()
            } else {
                crate::geoip::GeoIp::with_files(&geoip)
            }
            .map_err(|e| Error::Usage(e.to_string()))?;
            let rules = load_sigma(&sigma)?;
            // Memory bounded by the live sessions; with Sigma rules every session is kept, for
            // the chains their findings cite.
            let mut hunt = match &rules {
                Some(r) => crate::engine::Hunt::new(&geo, &cfg).with_sigma(r, &geo, &cfg),
                None => crate::engine::Hunt::bounded(&geo, &cfg),
            };
            let record_rules = rules
                .clone()
                .map(|r| r as std::sync::Arc<dyn crate::event::RecordRules>);
            stream_judged(&input, quiet, record_rules, &mut |slice| {
                hunt.observe(&slice);
                Ok(())
            })?;
            let (graph, mut findings) = hunt.finish();
            for p in &hunt.problems {
                eprintln!("trailhound: warning: {p}");
            }
            if respond {
                crate::playbook::respond::respond(&mut findings, &graph, &input.paths);
            }
            let worst = findings.iter().map(|f| f.severity).max();
            findings.retain(|f| f.severity >= min_severity);
            // OCSF and ASFF describe the calls a finding cites: a second pass over the input
            // picks those events up (the first pass kept none).
            let cited_events = if matches!(
                format,
                report::findings::FindingFormat::Ocsf | report::findings::FindingFormat::Asff
            ) && !findings.is_empty()
            {
                cited_events(&input, &findings)?
            } else {
                Vec::new()
            };
            let cited = report::findings::Cited::for_format(format, &findings, &cited_events);
            let text = report::findings::render(&findings, format, &cited);
            Sink::new(out.as_deref()).write_text(&text)?;
            if !quiet {
                let sigma_counts = rules.as_ref().map_or(String::new(), |r| {
                    format!(
                        "; sigma: {} rules run, {} failed, {} not for CloudTrail",
                        r.rules.len(),
                        r.failed().count(),
                        r.not_for_cloudtrail()
                    )
                });
                eprintln!(
                    "trailhound: {} findings (worst: {}){sigma_counts}",
                    findings.len(),
                    worst.map_or("none".to_string(), |w| w.to_string())
                );
            }
            Ok(if worst.is_some_and(|w| w >= fail_on) {
                Exit::Findings
            } else {
                Exit::Ok
            })
        }
        Command::Incidents {
            input,
            format,
            min_severity,
            fail_on,
            window,
            examples,
            config,
            geoip,
            sigma,
            out,
        } => {
            let (cfg, geo) = detection_setup(config.as_deref(), &geoip)?;
            let rules = load_sigma(&sigma)?;
            // The containment commands' --logs: the inputs in one order, whatever order they
            // were given in.
            let mut logs = input.paths.clone();
            logs.sort();
            logs.dedup();
            let opts = crate::incident::Options {
                window,
                examples,
                logs,
            };
            run_incidents(&input, rules, &cfg, &geo, &opts, quiet, |incidents| {
                let worst = incidents.iter().map(|i| i.severity).max();
                let shown: Vec<&crate::incident::Incident> = incidents
                    .iter()
                    .filter(|i| i.severity >= min_severity)
                    .collect();
                let sink = Sink::new(out.as_deref());
                match format {
                    args::IncidentFormat::Ndjson => report::write_ndjson(&shown, &sink)?,
                    args::IncidentFormat::Table => {
                        let owned: Vec<_> = shown.into_iter().cloned().collect();
                        sink.write_text(&report::incidents::render_table(&owned))?
                    }
                    args::IncidentFormat::Markdown => {
                        let owned: Vec<_> = shown.into_iter().cloned().collect();
                        sink.write_text(&report::incidents::render_markdown(&owned))?
                    }
                }
                Ok(if worst.is_some_and(|w| w >= fail_on) {
                    Exit::Findings
                } else {
                    Exit::Ok
                })
            })
        }
        Command::Sigma {
            cmd: args::SigmaCommand::Lint { paths, format },
        } => {
            let set = crate::detect::sigma::load(&paths).map_err(|e| match e {
                crate::detect::sigma::SigmaError::NotFound(p) => Error::PathNotFound(vec![p]),
                e => Error::Usage(e.to_string()),
            })?;
            let sink = Sink::new(None);
            match format {
                args::LintFormat::Ndjson => report::write_ndjson(&set.verdicts, &sink)?,
                args::LintFormat::Table => {
                    let rows: Vec<Vec<String>> = set
                        .verdicts
                        .iter()
                        .map(|v| {
                            vec![
                                v.status.as_str().to_string(),
                                v.file.clone(),
                                v.title.clone().unwrap_or_default(),
                                v.reason.clone().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    let mut text =
                        report::table::render(&["status", "file", "title", "reason"], &rows, 200);
                    if rows.is_empty() {
                        text = "no rule files\n".into();
                    }
                    sink.write_text(&text)?;
                }
            }
            if !quiet {
                eprintln!(
                    "trailhound: {} rule files: {} ok, {} failed, {} not for CloudTrail",
                    set.verdicts.len(),
                    set.rules.len(),
                    set.failed().count(),
                    set.not_for_cloudtrail()
                );
            }
            Ok(if set.failed().next().is_some() {
                Exit::Findings
            } else {
                Exit::Ok
            })
        }
        Command::HuntConfig => {
            Sink::new(None).write_text(&crate::detect::DetectConfig::default_toml())?;
            Ok(Exit::Ok)
        }
        Command::Sessions {
            input,
            key,
            principal,
            source_identity,
            min_depth,
            tree,
            format,
            out,
        } => {
            let is = |v: &Option<crate::event::Text>, want: &str| v.as_deref() == Some(want);
            let wanted = |s: &Session| {
                key.as_deref().is_none_or(|k| &*s.access_key_id == k)
                    && principal.as_deref().is_none_or(|p| {
                        is(&s.root_principal, p) || is(&s.role_arn, p) || is(&s.caller_arn, p)
                    })
                    && source_identity
                        .as_deref()
                        .is_none_or(|x| is(&s.source_identity, x))
                    && min_depth.is_none_or(|d| s.chain_depth >= d)
            };
            let sink = Sink::new(out.as_deref());
            if tree {
                // A tree needs every session of the graph at once.
                let mut state = crate::graph::GraphState::default();
                stream(&input, quiet, &mut |slice| {
                    state.observe(&slice);
                    Ok(())
                })?;
                let graph = state.finish();
                let selected: Vec<&Session> = graph.sessions.iter().filter(|s| wanted(s)).collect();
                let filtered = key.is_some()
                    || principal.is_some()
                    || source_identity.is_some()
                    || min_depth.is_some();
                let text = report::tree::render(&graph, filtered.then_some(&selected[..]));
                sink.write_text(&text)?;
                return Ok(Exit::Ok);
            }
            // Sessions are handed over in their final order as their chains retire: JSON lines
            // are written as they come; other formats hold only the sessions selected.
            let mut sessions = crate::engine::SessionStream::new(input.stream.slicing().lateness);
            let mut lines = match format {
                Format::Ndjson => Some(report::LineWriter::open(&sink)?),
                _ => None,
            };
            let mut selected: Vec<Session> = Vec::new();
            let mut take = |s: Session| -> Result<()> {
                if !wanted(&s) {
                    return Ok(());
                }
                match lines.as_mut() {
                    Some(w) => w.write(&[&s]),
                    None => {
                        selected.push(s);
                        Ok(())
                    }
                }
            };
            stream(&input, quiet, &mut |slice| {
                sessions.observe(&slice, &mut take)
            })?;
            let late = sessions.finish(&mut take)?;
            if late > 0 {
                eprintln!(
                    "trailhound: warning: {late} sessions are listed out of order: their calls state a creation more than 36 hours before their first call"
                );
            }
            if let Some(w) = lines {
                return w.finish().map(|_| Exit::Ok);
            }
            match format {
                Format::Ndjson => {}
                Format::Table => {
                    let rows: Vec<&Session> = selected.iter().collect();
                    sink.write_text(&sessions_table(&rows))?
                }
                Format::Csv | Format::Parquet | Format::Timesketch => {
                    let mut df = crate::frame::sessions_frame(&selected)?;
                    report::write_frame(&mut df, format, &sink)?;
                }
            }
            Ok(Exit::Ok)
        }
        Command::Timeline {
            input,
            key,
            with_descendants,
            format,
            out,
        } => {
            let mut state = crate::graph::GraphState::default();
            let mut trace = crate::engine::Trace::new(&key, with_descendants);
            stream(&input, quiet, &mut |slice| {
                state.observe(&slice);
                trace.observe(&slice);
                Ok(())
            })?;
            let graph = state.finish();
            timeline(
                &trace.events,
                &graph,
                &key,
                with_descendants,
                format,
                &Sink::new(out.as_deref()),
            )
        }
        Command::Playbook { cmd } => crate::cli::playbook::run_playbook(cmd, quiet),
        Command::Securityhub { cmd } => securityhub::run(cmd, quiet),
        Command::Completions { shell } => docs::run_completions(shell),
        Command::Man { dir } => docs::run_man(dir.as_deref()),
        Command::Revoke(args) => crate::cli::playbook::run_revoke(args, quiet),
        Command::Contain(args) => contain::run(args, quiet),
        Command::Verify(args) => verify::run(args, quiet),
        Command::Collect(args) => collect::run(args, quiet),
        Command::Report(args) => scheduled::run(args, quiet),
        Command::Baseline { cmd } => scheduled::run_baseline(cmd),
        Command::State { cmd } => state_command(cmd, quiet),
        Command::Generate {
            out,
            events,
            seed,
            days,
        } => bench::generate(&out, events, seed, days, quiet),
        Command::Bench { events, dir } => bench::bench(events, dir, quiet),
        Command::Fuzz(args) => bench::fuzz(&args, quiet),
    }
}

/// The detection settings and GeoIP databases `hunt` and `incidents` judge with.
fn detection_setup(
    config: Option<&std::path::Path>,
    geoip: &[std::path::PathBuf],
) -> Result<(crate::detect::DetectConfig, crate::geoip::GeoIp)> {
    let cfg = match config {
        Some(p) => crate::detect::DetectConfig::load(p).map_err(Error::Usage)?,
        None => crate::detect::DetectConfig::default(),
    };
    let geo = if geoip.is_empty() {
        crate::geoip::GeoIp::bundled()
    } else {
        crate::geoip::GeoIp::with_files(geoip)
    }
    .map_err(|e| Error::Usage(e.to_string()))?;
    Ok((cfg, geo))
}

/// `incidents`: hunts in one streaming pass, groups the findings, then reads the input again
/// for the calls of the incidents' keys only (quietly: the first pass told what was read).
/// `--sigma RULES...`: the rule set (each rule that cannot run is named on stderr), or `None`
/// without rules.
fn load_sigma(
    paths: &[std::path::PathBuf],
) -> Result<Option<std::sync::Arc<crate::detect::sigma::RuleSet>>> {
    if paths.is_empty() {
        return Ok(None);
    }
    let set = crate::detect::sigma::load(paths).map_err(|e| match e {
        crate::detect::sigma::SigmaError::NotFound(p) => Error::PathNotFound(vec![p]),
        e => Error::Usage(format!("--sigma: {e}")),
    })?;
    for v in set.failed() {
        eprintln!(
            "trailhound: warning: sigma rule {}: {} ({})",
            v.file,
            v.reason.as_deref().unwrap_or_default(),
            v.status.as_str()
        );
    }
    Ok(Some(std::sync::Arc::new(set)))
}

fn run_incidents(
    input: &InputArgs,
    rules: Option<std::sync::Arc<crate::detect::sigma::RuleSet>>,
    cfg: &crate::detect::DetectConfig,
    geo: &crate::geoip::GeoIp,
    opts: &crate::incident::Options,
    quiet: bool,
    emit: impl FnOnce(&[crate::incident::Incident]) -> Result<Exit>,
) -> Result<Exit> {
    let mut hunt = crate::engine::Hunt::new(geo, cfg);
    if let Some(r) = &rules {
        hunt = hunt.with_sigma(r, geo, cfg);
    }
    let record_rules = rules
        .clone()
        .map(|r| r as std::sync::Arc<dyn crate::event::RecordRules>);
    stream_judged(input, quiet, record_rules, &mut |slice| {
        hunt.observe(&slice);
        Ok(())
    })?;
    let (graph, findings) = hunt.finish();
    // The baselines and windows are done with: only the graph goes on to the second pass.
    drop(hunt);
    let drafts = crate::incident::group(&findings, &graph, opts.window);
    let mut collector = crate::incident::Collector::new(&drafts, opts.examples);
    if !collector.is_empty() {
        let again = ingest_options(input, true)?;
        ingest::stream(&input.paths, &again, input.stream.slicing(), &mut |slice| {
            collector.observe(&slice);
            Ok(())
        })?;
    }
    let incidents = crate::incident::finish(drafts, collector, &graph, opts);
    let exit = emit(&incidents)?;
    if !quiet {
        let per: Vec<String> = crate::incident::per_severity(&incidents)
            .into_iter()
            .map(|(s, n)| format!("{n} {}", s.0))
            .collect();
        eprintln!(
            "trailhound: {} incidents ({}) from {} findings",
            incidents.len(),
            if per.is_empty() {
                "none".to_string()
            } else {
                per.join(", ")
            },
            findings.len()
        );
    }
    Ok(exit)
}

/// The events the findings cite, read again from the input (quietly: the first pass told
/// what was read).
fn cited_events(input: &InputArgs, findings: &[crate::detect::Finding]) -> Result<Vec<Event>> {
    let wanted: std::collections::HashSet<&str> = findings
        .iter()
        .flat_map(|f| f.evidence_event_ids.iter().map(String::as_str))
        .collect();
    let opts = ingest_options(input, true)?;
    let mut got = Vec::new();
    ingest::stream(&input.paths, &opts, input.stream.slicing(), &mut |slice| {
        got.extend(
            slice
                .into_iter()
                .filter(|e| e.event_id.as_deref().is_some_and(|id| wanted.contains(id))),
        );
        Ok(())
    })?;
    Ok(got)
}

fn state_command(cmd: args::StateCommand, quiet: bool) -> Result<Exit> {
    match cmd {
        args::StateCommand::Merge { shards, into } => {
            let now = chrono::Utc::now().timestamp_millis();
            let m = crate::state::merge::merge(&shards, &into, now)?;
            // What only the merged state sees: chains that cross shards.
            report::write_ndjson(&m.findings, &Sink::new(None))?;
            if !quiet {
                eprintln!(
                    "trailhound: merged {} shards ({} runs, {} files) into {}: {} sessions, {} principals, {} findings no shard could see; run {}",
                    m.shards,
                    m.runs,
                    m.files_copied,
                    into.display(),
                    m.sessions,
                    m.principals,
                    m.findings.len(),
                    m.run_id
                );
            }
            Ok(Exit::Ok)
        }
        args::StateCommand::Sessions { state, format } => {
            let sessions = crate::state::merge::sessions(&state)?;
            let sink = Sink::new(None);
            match format {
                Format::Ndjson => report::write_ndjson(&sessions, &sink)?,
                Format::Table => {
                    let refs: Vec<&Session> = sessions.iter().collect();
                    sink.write_text(&sessions_table(&refs))?
                }
                Format::Csv | Format::Parquet | Format::Timesketch => {
                    let mut df = crate::frame::sessions_frame(&sessions)?;
                    report::write_frame(&mut df, format, &sink)?;
                }
            }
            Ok(Exit::Ok)
        }
    }
}

/// Reads the input, prints warnings and the closing line to stderr, and applies the exit rules
/// for "nothing could be read".
pub fn read(input: &InputArgs, quiet: bool) -> Result<Ingested> {
    let opts = ingest_options(input, quiet)?;
    let data = ingest::ingest(&input.paths, &opts)?;
    told(&data, quiet)?;
    Ok(data)
}

/// Streams the input to `consume` in time-ordered slices (see [`ingest::stream`]), then tells
/// what was read as [`read`] does.
pub fn stream(
    input: &InputArgs,
    quiet: bool,
    consume: &mut dyn FnMut(Vec<Event>) -> Result<()>,
) -> Result<Ingested> {
    stream_judged(input, quiet, None, consume)
}

/// [`stream`], with rules judged on each record's own JSON as it is read.
pub fn stream_judged(
    input: &InputArgs,
    quiet: bool,
    rules: Option<std::sync::Arc<dyn crate::event::RecordRules>>,
    consume: &mut dyn FnMut(Vec<Event>) -> Result<()>,
) -> Result<Ingested> {
    stream_with(input, quiet, rules, crate::event::Columns::ALL, consume)
}

/// [`stream_judged`], filling only `columns` of each event (see [`IngestOptions::columns`]).
fn stream_with(
    input: &InputArgs,
    quiet: bool,
    rules: Option<std::sync::Arc<dyn crate::event::RecordRules>>,
    columns: crate::event::Columns,
    consume: &mut dyn FnMut(Vec<Event>) -> Result<()>,
) -> Result<Ingested> {
    let mut opts = ingest_options(input, quiet)?;
    opts.record_rules = rules;
    opts.columns = columns;
    let data = ingest::stream(&input.paths, &opts, input.stream.slicing(), consume)?;
    told(&data, quiet)?;
    Ok(data)
}

/// Prints the problems and the closing line; an error when nothing could be read.
fn told(data: &Ingested, quiet: bool) -> Result<()> {
    crate::progress::warn(data);
    let s = &data.stats;
    if !quiet {
        let secs = s.elapsed.as_secs_f64().max(1e-9);
        eprintln!(
            "trailhound: {} files ({} read, {} skipped, {} failed), {} events, {} duplicates, {} bad records in {:.2}s ({:.0} events/s, {:.1} MB/s compressed, {:.1} MB/s uncompressed)",
            s.files_seen,
            s.files_read,
            s.files_skipped,
            s.files_failed,
            s.events,
            s.duplicates,
            s.bad_records,
            secs,
            s.events as f64 / secs,
            s.bytes_read as f64 / 1e6 / secs,
            s.bytes_decompressed as f64 / 1e6 / secs,
        );
    }
    if s.files_read == 0 {
        let why = if s.files_seen == 0 {
            "no files in the given paths".to_string()
        } else {
            format!(
                "{} {}: {} skipped, {} failed",
                s.files_seen,
                if s.files_seen == 1 { "file" } else { "files" },
                s.files_skipped,
                s.files_failed
            )
        };
        return Err(Error::NothingRead(why));
    }
    Ok(())
}

/// The reading options the arguments ask for, validated.
pub fn ingest_options(input: &InputArgs, quiet: bool) -> Result<IngestOptions> {
    let t = |s: &Option<String>, flag: &str| {
        s.as_deref()
            .map(parse_user_time)
            .transpose()
            .map_err(|e| Error::Usage(format!("{flag}: {e}")))
    };
    let (s, r) = (&input.scope, &input.remote);
    let scope = ingest::Scope {
        since: t(&s.since, "--since")?,
        until: t(&s.until, "--until")?,
        accounts: s.account.clone(),
        regions: s.region.clone(),
        files_only: false,
    };
    if let (Some(a), Some(b)) = (scope.since, scope.until) {
        if b <= a {
            return Err(Error::Usage("--until must be after --since".into()));
        }
    }
    Ok(IngestOptions {
        strict: input.strict,
        progress: !quiet,
        scope,
        remote: ingest::Remote {
            conn: crate::aws::Connection {
                endpoint_url: r.endpoint_url.clone(),
                region: r.aws_region.clone(),
                profile: r.profile.clone(),
                ..Default::default()
            },
            concurrency: r.concurrency.max(1),
            path_style: r.no_path_style.then_some(false),
            ..Default::default()
        },
        track: None,
        max_object_bytes: input.max_object_size,
        record_rules: None,
        settled: None,
        columns: crate::event::Columns::ALL,
    })
}

/// The `events` filters, validated.
pub struct Filter {
    args: FilterArgs,
}

impl Filter {
    pub fn new(a: &FilterArgs) -> Result<Filter> {
        Ok(Filter { args: a.clone() })
    }

    pub fn matches(&self, e: &Event) -> bool {
        let a = &self.args;
        let is = |v: &Option<crate::event::Text>, want: &str| v.as_deref() == Some(want);
        a.key
            .as_deref()
            .is_none_or(|x| is(&e.access_key_id, x) || is(&e.sts().issued_access_key_id, x))
            && a.principal.as_deref().is_none_or(|x| {
                is(&e.principal_arn, x) || is(&e.session_issuer_arn, x) || is(&e.user_name, x)
            })
            && (a.event_name.is_empty() || a.event_name.iter().any(|n| is(&e.event_name, n)))
    }
}

fn events_table(events: &[Event]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let s = |v: &Option<crate::event::Text>| v.as_deref().unwrap_or("").to_string();
            vec![
                crate::event::format_iso(e.event_time),
                s(&e.recipient_account_id),
                s(&e.aws_region),
                e.principal_arn
                    .as_deref()
                    .or(e.invoked_by.as_deref())
                    .or(e.user_name.as_deref())
                    .or(e.identity_type.as_deref())
                    .unwrap_or("")
                    .replace("arn:aws:", ""),
                s(&e.access_key_id),
                format!(
                    "{}:{}",
                    e.event_source
                        .as_deref()
                        .unwrap_or("")
                        .trim_end_matches(".amazonaws.com"),
                    e.event_name.as_deref().unwrap_or("")
                ),
                s(&e.source_ip),
                s(&e.error_code),
            ]
        })
        .collect();
    table::render(
        &[
            "time",
            "account",
            "region",
            "principal",
            "key",
            "call",
            "source_ip",
            "error",
        ],
        &rows,
        60,
    )
}

fn sessions_table(sessions: &[&Session]) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            let o = |v: &Option<crate::event::Text>| v.as_deref().unwrap_or("").to_string();
            vec![
                s.access_key_id.to_string(),
                o(&s.issued_by_api),
                s.issued_at.map(format_iso).unwrap_or_default(),
                o(&s.account),
                s.role_arn
                    .as_deref()
                    .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
                    .unwrap_or_default(),
                o(&s.session_name),
                s.chain_depth.to_string() + if s.chain_complete { "" } else { "+" },
                o(&s.root_principal),
                o(&s.source_identity),
                o(&s.parent_access_key_id),
                s.calls.to_string(),
                s.errors.to_string(),
                if s.over_chain_cap() {
                    format!(
                        "asked {}s (chained cap 3600s)",
                        s.requested_duration_seconds.unwrap_or_default()
                    )
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    table::render(
        &[
            "key",
            "issued_by",
            "issued_at",
            "account",
            "role",
            "session",
            "depth",
            "root_principal",
            "source_identity",
            "parent",
            "calls",
            "errors",
            "note",
        ],
        &rows,
        56,
    )
}

/// One line of a timeline: the call and the hop (session) that made it.
#[derive(serde::Serialize)]
struct TimelineRow<'a> {
    hop_access_key_id: &'a str,
    hop_depth: u32,
    hop_role_arn: Option<&'a str>,
    hop_session_name: Option<&'a str>,
    #[serde(flatten)]
    event: &'a Event,
}

fn timeline(
    events: &[Event],
    graph: &Graph,
    key: &str,
    with_descendants: bool,
    format: Format,
    sink: &Sink,
) -> Result<Exit> {
    // A long-term key (or any key that is not a session) is hop 0; its sessions follow it.
    let hops: Vec<&Session> = match (graph.get(key), with_descendants) {
        (Some(_), true) => graph.descendants(key),
        (Some(s), false) => vec![s],
        (None, true) => graph
            .sessions
            .iter()
            .filter(|s| {
                s.caller_access_key_id.as_deref() == Some(key) && s.parent_access_key_id.is_none()
            })
            .flat_map(|s| graph.descendants(&s.access_key_id))
            .collect(),
        (None, false) => Vec::new(),
    };
    let by_key: std::collections::HashMap<&str, &Session> =
        hops.iter().map(|s| (&*s.access_key_id, *s)).collect();
    let rows: Vec<TimelineRow> = events
        .iter()
        .filter(|e| !e.shared_copy)
        .filter_map(|e| {
            let k = e.access_key_id.as_deref()?;
            let s = match by_key.get(k) {
                Some(s) => Some(*s),
                None if k == key => None,
                None => return None,
            };
            Some(TimelineRow {
                hop_access_key_id: k,
                hop_depth: s.map_or(0, |s| s.chain_depth),
                hop_role_arn: s.and_then(|s| s.role_arn.as_deref()),
                hop_session_name: s.and_then(|s| s.session_name.as_deref()),
                event: e,
            })
        })
        .collect();
    if rows.is_empty() && hops.is_empty() {
        return Err(Error::Usage(format!(
            "key {key} does not appear in the logs"
        )));
    }
    match format {
        Format::Ndjson => report::write_ndjson(&rows, sink)?,
        Format::Timesketch => report::timesketch::write_events(&rows, |r| r.event, sink)?,
        _ => {
            let mut text = String::new();
            let chain = graph.ancestors(key);
            if !chain.is_empty() {
                text.push_str("where the key came from:\n");
                if let Some(top) = chain.first() {
                    text.push_str(&format!(
                        "  {}\n",
                        top.root_principal
                            .as_deref()
                            .unwrap_or("(origin not in the logs)")
                    ));
                }
                for (i, s) in chain.iter().enumerate() {
                    text.push_str(&format!(
                        "  {}└─ {}\n",
                        "   ".repeat(i),
                        report::tree::describe(s)
                    ));
                }
                text.push('\n');
            }
            let table_rows: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let e = r.event;
                    let o = |v: &Option<crate::event::Text>| v.as_deref().unwrap_or("").to_string();
                    vec![
                        format_iso(e.event_time),
                        format!("{} {}", r.hop_depth, r.hop_access_key_id),
                        r.hop_role_arn
                            .map(|a| a.rsplit('/').next().unwrap_or(a))
                            .unwrap_or("")
                            .to_string(),
                        format!(
                            "{}:{}",
                            e.event_source
                                .as_deref()
                                .unwrap_or("")
                                .trim_end_matches(".amazonaws.com"),
                            e.event_name.as_deref().unwrap_or("")
                        ),
                        o(&e.source_ip),
                        o(&e.error_code),
                        o(&e.sts().issued_access_key_id),
                    ]
                })
                .collect();
            text.push_str(&table::render(
                &[
                    "time",
                    "hop (depth key)",
                    "role",
                    "call",
                    "source_ip",
                    "error",
                    "issued_key",
                ],
                &table_rows,
                60,
            ));
            sink.write_text(&text)?;
        }
    }
    Ok(Exit::Ok)
}
