//! `generate` and `bench`: synthetic trees, and the ingest speed measured over them.
//!
//! `bench` prints figures; nothing here asserts a speed (timing never goes in a test).

use crate::error::{Error, Exit, Result};
use crate::ingest::{self, IngestOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use trailhound_generate::{self as generate, CorpusSpec, SampleSpec};

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

pub fn generate(
    out: &Path,
    events: Option<u64>,
    seed: Option<u64>,
    days: Option<u32>,
    quiet: bool,
) -> Result<Exit> {
    let started = Instant::now();
    match events {
        None => {
            let mut spec = SampleSpec::default();
            if let Some(s) = seed {
                spec.seed = s;
            }
            if let Some(d) = days {
                spec.days = d.max(7);
            }
            let truth = generate::write_sample(&spec, out).map_err(io_err(out))?;
            if !quiet {
                eprintln!(
                    "trailhound: wrote the sample tree to {}: {} files, {} events, {} sessions, {} planted incidents in {:.1}s",
                    out.display(),
                    truth.files,
                    truth.events,
                    truth.sessions.len(),
                    truth.incidents.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Some(n) => {
            let mut spec = CorpusSpec {
                target_events: n,
                ..CorpusSpec::default()
            };
            if let Some(s) = seed {
                spec.seed = s;
            }
            let st = generate::write_corpus(&spec, out).map_err(io_err(out))?;
            if !quiet {
                eprintln!(
                    "trailhound: wrote a corpus to {}: {} files, {} events, {:.1} MB gzipped in {:.1}s",
                    out.display(),
                    st.files,
                    st.events,
                    st.bytes_gz as f64 / 1e6,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(Exit::Ok)
}

/// Peak resident memory of this process (VmHWM), in bytes, where the OS tells it.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn gz_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let s = p.to_string_lossy();
            s.ends_with(".gz") && !s.contains("CloudTrail-Digest")
        })
        .collect()
}

/// `gzip -dc` over the files, output discarded, in `procs` processes at once (each given an
/// equal share of the files, in batches): the decompression floor on that many cores.
fn gzip_floor(files: &[PathBuf], procs: usize) -> Option<f64> {
    let started = Instant::now();
    let share = files.len().div_ceil(procs.max(1)).max(1);
    let ok = std::thread::scope(|s| {
        let workers: Vec<_> = files
            .chunks(share)
            .map(|part| {
                s.spawn(move || {
                    part.chunks(256).all(|chunk| {
                        Command::new("gzip")
                            .arg("-dc")
                            .args(chunk)
                            .stdout(Stdio::null())
                            .status()
                            .is_ok_and(|st| st.success())
                    })
                })
            })
            .collect();
        workers.into_iter().all(|w| w.join().unwrap_or(false))
    });
    ok.then(|| started.elapsed().as_secs_f64())
}

/// CPU time (user + system) this process has used, in seconds, where the OS tells it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Time spent in each stage of reading, one file after another on one thread.
#[derive(Default)]
struct Stages {
    read: f64,
    decompress: f64,
    split: f64,
    parse: f64,
    normalize: f64,
    /// Normalizing only the columns `summary` reads (and ingest itself).
    normalize_summary: f64,
    records: u64,
    events: u64,
    bytes_gz: u64,
    bytes_json: u64,
    /// Files the one-pass parser gave up on (read record by record in ingest).
    fallbacks: u64,
    /// Files the hand-written scanner left to serde's one pass.
    scanner_gave_up: u64,
    cpu: Option<f64>,
}

/// Reads every file in turn on this thread, timing each stage on its own: read, decompress
/// (into one reused buffer, as ingest does), split records (the scanner of the record-by-record
/// path, timed for reference: the one-pass parser splits as it parses, so it is not part of the
/// total), parse (the one-pass read into the borrowed record views: the hand-written scanner,
/// serde where it gives up) and normalize (typed events, interning, redaction; and, timed on its
/// own, only the columns `summary` reads). Events are dropped file by file.
fn stages(files: &[PathBuf]) -> Stages {
    use crate::event::{normalize, normalize_columns, Interner};
    use crate::ingest::{decode, parse};
    let mut st = Stages::default();
    let cpu0 = cpu_seconds();
    let mut interner = Interner::default();
    let mut buf = Vec::new();
    let mut read_buf = Vec::new();
    for f in files {
        let t = Instant::now();
        // Read as ingest reads: plain reads into one reused buffer.
        let Ok(n) = crate::ingest::read_reusing(f, 0, &mut read_buf) else {
            continue;
        };
        let data = &read_buf[..n];
        st.bytes_gz += data.len() as u64;
        let t1 = Instant::now();
        let text: &[u8] = if decode::is_gzip(data) {
            let (_, n) = decode::inflate_reusing(data, decode::DEFAULT_MAX_INFLATED, &mut buf);
            &buf[..n]
        } else {
            data
        };
        let t2 = Instant::now();
        st.bytes_json += text.len() as u64;
        let spans = parse::split_records(text);
        let t3 = Instant::now();
        let raws = parse::raw_records(text, false)
            .or_else(|| {
                st.scanner_gave_up += 1;
                parse::raw_records(text, true)
            })
            .unwrap_or_else(|| {
                st.fallbacks += 1;
                Vec::new()
            });
        let t4 = Instant::now();
        let events: Vec<_> = raws
            .iter()
            .filter_map(|r| normalize(r, &mut interner).ok())
            .collect();
        let t5 = Instant::now();
        drop(events);
        let summary = crate::summary::COLUMNS.union(crate::event::columns::INGEST);
        let events: Vec<_> = raws
            .iter()
            .filter_map(|r| normalize_columns(r, &mut interner, summary).ok())
            .collect();
        st.normalize_summary += t5.elapsed().as_secs_f64();
        st.records += spans.len() as u64;
        st.events += events.len() as u64;
        drop(events);
        st.read += (t1 - t).as_secs_f64();
        st.decompress += (t2 - t1).as_secs_f64();
        st.split += (t3 - t2).as_secs_f64();
        st.parse += (t4 - t3).as_secs_f64();
        st.normalize += (t5 - t4).as_secs_f64();
        if interner.len() > 1 << 16 {
            interner = Interner::default();
        }
    }
    st.cpu = cpu0.and_then(|a| cpu_seconds().map(|b| b - a));
    st
}

pub fn bench(events: u64, dir: Option<PathBuf>, quiet: bool) -> Result<Exit> {
    let (dir, _tmp) = match dir {
        Some(d) => (d, None),
        None => {
            let t = std::env::temp_dir().join(format!("trailhound-bench-{}", std::process::id()));
            (t.clone(), Some(TempDir(t)))
        }
    };
    if !dir.exists()
        || std::fs::read_dir(&dir)
            .map_err(io_err(&dir))?
            .next()
            .is_none()
    {
        generate(&dir, Some(events), None, None, quiet)?;
        // Measure in a fresh process so that generating does not count toward peak memory.
        let exe = std::env::current_exe().map_err(|e| Error::Other(e.to_string()))?;
        let status = Command::new(exe)
            .args(["bench", "--dir"])
            .arg(&dir)
            .status()
            .map_err(|e| Error::Other(e.to_string()))?;
        return Ok(if status.success() {
            Exit::Ok
        } else {
            Exit::Error
        });
    }
    let files = gz_files(&dir);
    let threads = rayon::current_num_threads();
    let mb = |b: u64| b as f64 / 1e6;

    // The walk of the tree, as ingest lists it (sizes read).
    let t = Instant::now();
    let listed = ingest::source::expand(std::slice::from_ref(&dir))?.len();
    let list_s = t.elapsed().as_secs_f64();

    // One thread, stage by stage.
    let st = stages(&files);
    let stage_total = st.read + st.decompress + st.parse + st.normalize;

    // End to end on one thread, then on all.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| Error::Other(e.to_string()))?;
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let single =
        one.install(|| ingest::ingest(std::slice::from_ref(&dir), &IngestOptions::default()))?;
    let single_s = t.elapsed().as_secs_f64();
    let single_cpu = cpu0.and_then(|a| cpu_seconds().map(|b| b - a));
    drop(single);
    drop(one);

    let started = Instant::now();
    let data = ingest::ingest(std::slice::from_ref(&dir), &IngestOptions::default())?;
    let ingest_s = started.elapsed().as_secs_f64();
    let peak_ingest = peak_rss();
    let s = &data.stats;
    let t = Instant::now();
    let (sorted, _) = crate::ingest::finish_events(data.events.clone());
    let sort_s = t.elapsed().as_secs_f64();
    drop(sorted);
    let t = Instant::now();
    let graph = crate::graph::Graph::build(&data.events);
    let graph_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let geo = crate::geoip::GeoIp::bundled().map_err(|e| Error::Other(e.to_string()))?;
    let findings = crate::detect::hunt(
        &data.events,
        &graph,
        &geo,
        &crate::detect::DetectConfig::default(),
    );
    let hunt_s = t.elapsed().as_secs_f64();
    let peak = peak_rss();
    let floor1 = gzip_floor(&files, 1);
    let floor_n = gzip_floor(&files, threads);

    println!("corpus            {}", dir.display());
    println!(
        "input             {} files, {} events, {:.1} MB gzipped, {:.1} MB uncompressed",
        s.files_read,
        s.events,
        mb(s.bytes_read),
        mb(s.bytes_decompressed)
    );
    println!("threads           {threads}");
    println!(
        "stages            one thread, one file after another: {:.2} s in all{}",
        stage_total,
        st.cpu
            .map(|c| format!(" ({c:.2} s of CPU)"))
            .unwrap_or_default()
    );
    let stage = |name: &str, secs: f64| {
        println!(
            "  {name:<15} {:>6.2} s {:>5.1}%  {:>10.0} events/s  {:>7.1} MB/s of JSON",
            secs,
            100.0 * secs / stage_total.max(1e-9),
            st.events as f64 / secs.max(1e-9),
            mb(st.bytes_json) / secs.max(1e-9)
        )
    };
    println!(
        "  {:<15} {:>6.2} s  (the walk of the tree: {listed} inputs, {:.0} per second)",
        "list",
        list_s,
        listed as f64 / list_s.max(1e-9)
    );
    stage("read", st.read);
    stage("decompress", st.decompress);
    println!(
        "  {:<15} {:>6.2} s  (the fallback's scanner alone; the one-pass parse splits as it goes){}",
        "split records",
        st.split,
        if st.fallbacks > 0 {
            format!("; {} files fell back to record by record", st.fallbacks)
        } else {
            String::new()
        }
    );
    stage("parse", st.parse);
    if st.scanner_gave_up > 0 {
        println!(
            "  {:<15} {} files left to serde by the scanner",
            "", st.scanner_gave_up
        );
    }
    stage("normalize", st.normalize);
    stage("  summary's", st.normalize_summary);
    stage("sort, dedupe", sort_s);
    stage("session graph", graph_s);
    stage("detect", hunt_s);
    println!(
        "ingest, 1 thread  {:.2} s: {:.0} events/s, {:.1} MB/s uncompressed{}",
        single_s,
        s.events as f64 / single_s,
        mb(s.bytes_decompressed) / single_s,
        // On a shared machine the wall time counts other processes' turns; CPU time does not.
        single_cpu
            .map(|c| format!(
                "; {c:.2} s of CPU: {:.0} events per CPU-second",
                s.events as f64 / c.max(1e-9)
            ))
            .unwrap_or_default()
    );
    println!(
        "ingest            {:.2} s: {:.0} events/s ({:.0} per thread), {:.1} MB/s compressed, {:.1} MB/s uncompressed",
        ingest_s,
        s.events as f64 / ingest_s,
        s.events as f64 / ingest_s / threads as f64,
        mb(s.bytes_read) / ingest_s,
        mb(s.bytes_decompressed) / ingest_s
    );
    println!(
        "session graph     {:.2} s for {} sessions ({:.1}% of ingest time)",
        graph_s,
        graph.sessions.len(),
        100.0 * graph_s / ingest_s
    );
    println!(
        "hunt              {:.2} s, {} findings",
        hunt_s,
        findings.len()
    );
    match (peak_ingest, peak) {
        (Some(i), Some(p)) => println!(
            "peak memory       {:.0} MB after ingest ({:.0}% of the uncompressed input), {:.0} MB after graph and hunt",
            mb(i),
            100.0 * i as f64 / s.bytes_decompressed.max(1) as f64,
            mb(p)
        ),
        _ => println!("peak memory       (not available on this OS)"),
    }
    match floor1 {
        Some(t) => println!(
            "gzip -dc, 1 proc  {:.2} s ({:.1} MB/s uncompressed); ingest on 1 thread takes {:.2}x its time",
            t,
            mb(s.bytes_decompressed) / t,
            single_s / t
        ),
        None => println!("gzip -dc floor    (gzip not found or failed)"),
    }
    if let Some(t) = floor_n {
        println!(
            "gzip -dc, {threads} procs {:.2} s ({:.1} MB/s uncompressed); ingest on {threads} threads takes {:.2}x its time",
            t,
            mb(s.bytes_decompressed) / t,
            ingest_s / t
        );
    }
    Ok(Exit::Ok)
}

/// Removes a temporary corpus when the bench is done.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `trailhound fuzz`: runs the harness (or replays saved inputs) and prints counts and speed.
pub fn fuzz(args: &super::args::FuzzArgs, quiet: bool) -> Result<Exit> {
    use crate::fuzz::{self, corpus::Corpus, Target};
    let targets: Vec<Target> = args
        .target
        .iter()
        .map(|t| Target::parse(t))
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::Usage)?;
    let env = fuzz::Env::new().map_err(Error::Other)?;
    if !args.replay.is_empty() {
        let mut failed = 0;
        for path in &args.replay {
            let target = match targets.first() {
                Some(t) => *t,
                None => fuzz::target_of(path).ok_or_else(|| {
                    Error::Usage(format!(
                        "{}: the file name does not start with a target; give --target",
                        path.display()
                    ))
                })?,
            };
            let bytes = std::fs::read(path)
                .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?;
            let input = fuzz::Input {
                target,
                bytes,
                intact: false,
            };
            match fuzz::catch(|| fuzz::run(&env, &input)) {
                Ok(()) => println!("{}: ok ({})", path.display(), target.name()),
                Err(m) => {
                    failed += 1;
                    println!("{}: PANIC ({}): {m}", path.display(), target.name());
                }
            }
        }
        return Ok(if failed == 0 { Exit::Ok } else { Exit::Error });
    }
    let roots: Vec<PathBuf> = if args.corpus.is_empty() {
        [
            "sample-logs",
            "tests/fixtures/datasets",
            "tests/fixtures/playbook",
            "playbooks",
        ]
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
    } else {
        args.corpus.clone()
    };
    let t = Instant::now();
    let corpus = Corpus::load(&roots);
    if !quiet {
        eprintln!(
            "trailhound fuzz: seeds: {} files, {} records, {} strings, {} TOML texts from {} in {:.1}s",
            corpus.files.len(),
            corpus.records.len(),
            corpus.strings.len(),
            corpus.tomls.len(),
            if roots.is_empty() {
                "the built-in set".to_string()
            } else {
                roots
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            t.elapsed().as_secs_f64()
        );
    }
    let opts = fuzz::Options {
        seed: args.seed,
        start: args.start,
        count: args.count,
        targets,
        out: Some(args.out.clone()),
    };
    let mut last = Instant::now();
    let report = fuzz::fuzz(&env, &corpus, &opts, |r| {
        if !quiet && last.elapsed().as_secs() >= 10 {
            last = Instant::now();
            eprintln!(
                "trailhound fuzz: {} inputs, {} failures, {:.0} inputs/s",
                r.inputs,
                r.failures.len(),
                r.inputs as f64 / r.elapsed.as_secs_f64().max(1e-9)
            );
        }
    });
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let per_target: Vec<String> = Target::ALL
        .iter()
        .map(|t| format!("{} {}", t.name(), report.per_target[*t as usize]))
        .collect();
    println!(
        "fuzz              seed {}, inputs {}..{}: {} inputs in {:.1} s, {:.0} inputs/s on {} threads, {:.1} MB of input",
        args.seed,
        args.start,
        args.start + report.inputs,
        report.inputs,
        secs,
        report.inputs as f64 / secs,
        rayon::current_num_threads(),
        report.bytes as f64 / 1e6
    );
    println!("targets           {}", per_target.join(", "));
    if let Some((d, t, i)) = report.slowest {
        println!(
            "slowest input     {:.1} ms ({} #{i})",
            d.as_secs_f64() * 1e3,
            t.name()
        );
    }
    println!("failures          {}", report.failures.len());
    for f in &report.failures {
        println!(
            "  {} #{}: {}{}",
            f.target.name(),
            f.index,
            f.message,
            f.saved
                .as_ref()
                .map(|p| format!(" (saved as {})", p.display()))
                .unwrap_or_default()
        );
    }
    Ok(if report.failures.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}
