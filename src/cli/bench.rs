//! `generate` and `bench`: synthetic trees, and the ingest speed measured over them.
//!
//! `bench` prints figures; nothing here asserts a speed (timing never goes in a test).

use crate::error::{Error, Exit, Result};
use crate::generate::{self, CorpusSpec, SampleSpec};
use crate::ingest::{self, IngestOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

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

/// `gzip -dc` over the files, output discarded: the single-core decompression floor.
fn gzip_floor(files: &[PathBuf]) -> Option<f64> {
    let started = Instant::now();
    for chunk in files.chunks(256) {
        let ok = Command::new("gzip")
            .arg("-dc")
            .args(chunk)
            .stdout(Stdio::null())
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    Some(started.elapsed().as_secs_f64())
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
    let started = Instant::now();
    let data = ingest::ingest(std::slice::from_ref(&dir), &IngestOptions::default())?;
    let ingest_s = started.elapsed().as_secs_f64();
    let peak_ingest = peak_rss();
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
    let s = &data.stats;
    let floor = gzip_floor(&files);
    let mb = |b: u64| b as f64 / 1e6;
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
    match floor {
        Some(t) => println!(
            "gzip -dc floor    {:.2} s on one core ({:.1} MB/s uncompressed); ingest/floor = {:.2}x with {threads} threads",
            t,
            mb(s.bytes_decompressed) / t,
            ingest_s / t
        ),
        None => println!("gzip -dc floor    (gzip not found or failed)"),
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
