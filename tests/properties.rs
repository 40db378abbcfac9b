//! Properties of reading and of the session graph, checked over seeded random layouts of the
//! sample logs: shuffling the records, splitting them across files of every shape, reading a
//! file twice and changing the thread count never change the events, sessions or findings.

use crate::common::sample_logs;
use flate2::write::GzEncoder;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Write;
use std::path::Path;
use trailhound::fuzz::mutate::Dice;

#[derive(Deserialize)]
struct Doc {
    /// Absent in digest files.
    #[serde(rename = "Records", default)]
    records: Vec<Box<RawValue>>,
}

/// Every record of the sample, as its JSON text, in file order.
fn sample_records() -> Vec<String> {
    let mut files: Vec<_> = walkdir::WalkDir::new(sample_logs())
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let data = std::fs::read(&f).unwrap();
        let text = trailhound::ingest::decode::decode(data).bytes;
        let doc: Doc = serde_json::from_slice(&text).unwrap();
        out.extend(doc.records.into_iter().map(|r| r.get().to_string()));
    }
    out
}

/// Events, sessions and findings of `paths` read on `threads` threads, as JSON lines.
fn outcome(paths: &[&Path], threads: usize) -> (String, String, String) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let data = trailhound::ingest::ingest_paths(paths).unwrap();
        assert!(data.problems.is_empty(), "{:?}", data.problems);
        let graph = trailhound::graph::Graph::build(&data.events);
        let geo = trailhound::geoip::GeoIp::bundled().unwrap();
        let findings = trailhound::detect::hunt(
            &data.events,
            &graph,
            &geo,
            &trailhound::detect::DetectConfig::default(),
        );
        let lines = |v: Vec<String>| v.join("\n");
        (
            lines(
                data.events
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap())
                    .collect(),
            ),
            lines(
                graph
                    .sessions
                    .iter()
                    .map(|s| serde_json::to_string(s).unwrap())
                    .collect(),
            ),
            lines(
                findings
                    .iter()
                    .map(|f| serde_json::to_string(f).unwrap())
                    .collect(),
            ),
        )
    })
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes `records` into `dir` as `files` files of random shapes.
fn write_layout(dir: &Path, records: &[&str], files: usize, dice: &mut Dice) {
    let mut cuts: Vec<usize> = (0..files - 1)
        .map(|_| dice.below(records.len() + 1))
        .collect();
    cuts.push(0);
    cuts.push(records.len());
    cuts.sort_unstable();
    for (n, w) in cuts.windows(2).enumerate() {
        let part = &records[w[0]..w[1]];
        let (name, bytes) = match dice.below(6) {
            0 => (
                "json.gz",
                gz(format!("{{\"Records\":[{}]}}", part.join(",")).as_bytes()),
            ),
            1 => (
                "json",
                format!("{{\"Records\":[{}]}}", part.join(",")).into_bytes(),
            ),
            2 => ("json", format!("[{}]", part.join(",\n")).into_bytes()),
            3 => ("ndjson", format!("{}\n", part.join("\n")).into_bytes()),
            4 => {
                // Gzip members one after another, split anywhere in the text.
                let text = format!("{{\"Records\":[{}]}}", part.join(","));
                let at = dice.below(text.len() + 1);
                let mut b = gz(&text.as_bytes()[..at]);
                b.extend(gz(&text.as_bytes()[at..]));
                ("json.gz", b)
            }
            _ => {
                let lines: Vec<String> = part
                    .iter()
                    .map(|r| {
                        format!(
                            "{{\"EventId\":\"x\",\"CloudTrailEvent\":{}}}",
                            serde_json::to_string(r).unwrap()
                        )
                    })
                    .collect();
                ("ndjson", format!("{}\n", lines.join("\n")).into_bytes())
            }
        };
        std::fs::write(dir.join(format!("part-{n:04}.{name}")), bytes).unwrap();
    }
}

fn assert_same(label: &str, want: &(String, String, String), got: &(String, String, String)) {
    for (what, w, g) in [
        ("events", &want.0, &got.0),
        ("sessions", &want.1, &got.1),
        ("findings", &want.2, &got.2),
    ] {
        if w != g {
            let first = w
                .lines()
                .zip(g.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(w.lines().count().min(g.lines().count()));
            panic!(
                "{label}: {what} differ ({} vs {} lines), first at line {first}:\nwant {}\ngot  {}",
                w.lines().count(),
                g.lines().count(),
                w.lines().nth(first).unwrap_or("(none)"),
                g.lines().nth(first).unwrap_or("(none)")
            );
        }
    }
}

#[test]
fn shuffled_split_duplicated_and_threaded_reads_agree() {
    let want = outcome(&[&sample_logs()], 2);
    assert!(!want.1.is_empty() && !want.2.is_empty());
    let records = sample_records();
    for seed in 0..4u64 {
        let mut dice = Dice::new(0xA11CE, seed);
        let mut order: Vec<&str> = records.iter().map(String::as_str).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, dice.below(i + 1));
        }
        let files = *dice.pick(&[1usize, 2, 7, 40, 300]);
        let dir = tempfile::tempdir().unwrap();
        write_layout(dir.path(), &order, files, &mut dice);
        // Some records twice: another file repeating a slice of the shuffled order.
        let from = dice.below(order.len());
        let to = (from + dice.below(500)).min(order.len());
        std::fs::write(
            dir.path().join("again.ndjson"),
            format!("{}\n", order[from..to].join("\n")),
        )
        .unwrap();
        let threads = *dice.pick(&[1usize, 2, 3, 8]);
        let got = outcome(&[dir.path()], threads);
        assert_same(
            &format!(
                "seed {seed}: {files} files, {} records read twice, {threads} threads",
                to - from
            ),
            &want,
            &got,
        );
    }
}

#[test]
fn thread_count_never_changes_the_outcome() {
    let want = outcome(&[&sample_logs()], 1);
    for threads in [2, 3, 5] {
        assert_same(
            &format!("{threads} threads"),
            &want,
            &outcome(&[&sample_logs()], threads),
        );
    }
}

#[test]
fn graph_of_shuffled_events_is_the_same() {
    // The graph takes events in the total order ingest gives them; any arrival order, put back
    // in that order, gives the same sessions.
    let data = trailhound::ingest::ingest_paths(&[sample_logs()]).unwrap();
    let want: Vec<String> = trailhound::graph::Graph::build(&data.events)
        .sessions
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    for seed in 0..3u64 {
        let mut dice = Dice::new(0xB0B, seed);
        let mut events = data.events.clone();
        for i in (1..events.len()).rev() {
            events.swap(i, dice.below(i + 1));
        }
        let (events, _) = trailhound::ingest::finish_events(events);
        let got: Vec<String> = trailhound::graph::Graph::build(&events)
            .sessions
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        assert_eq!(want, got, "seed {seed}");
    }
}
