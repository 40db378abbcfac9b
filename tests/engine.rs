//! The streaming engine: the same sessions, findings, timelines and summaries (same bytes) as
//! the one in-memory judgement they replaced, whatever the slice length, the thread count or
//! the order files are given in.
//!
//! The golden files under `tests/fixtures/golden/` were written by the in-memory engine (commit
//! 30d786d, before streaming) over the same inputs; regenerate them only on purpose. The hunt
//! goldens (`*.hunt.*`) were re-pinned once since, on purpose, when the detections changed
//! (posture once per run, egress networks, new detections: issue 13); sessions, events,
//! timelines and summaries are still the in-memory engine's bytes.

use crate::common::*;
use std::path::{Path, PathBuf};

fn golden(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/golden").join(name))
        .unwrap_or_else(|e| panic!("golden file {name}: {e}"))
}

/// Runs a command quietly; returns stdout (hunt exits 1 when findings reach --fail-on).
fn out(args: &[String]) -> String {
    let o = run(args);
    assert!(matches!(code(&o), 0 | 1), "{args:?}: {}", stderr(&o));
    stdout(&o)
}

fn args(cmd: &[&str], extra: &[String], paths: &[PathBuf]) -> Vec<String> {
    let mut a: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
    a.push("-q".into());
    a.extend(extra.iter().cloned());
    a.extend(paths.iter().map(|p| p.display().to_string()));
    a
}

/// Every way of running that must not change a byte: slice lengths, threads, a short delay.
fn variants() -> Vec<Vec<String>> {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        v(&[]),
        v(&["--slice-minutes", "1"]),
        v(&["--slice-minutes", "7", "--threads", "1"]),
        v(&["--slice-minutes", "1440", "--threads", "2"]),
        v(&["--slice-minutes", "60", "--threads", "7"]),
        v(&["--slice-minutes", "5", "--max-delay-minutes", "20"]),
    ]
}

/// Every file under `dir`, in a fixed shuffled order (not the walk's name order).
fn shuffled_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walk(dir);
    files.sort();
    // A fixed permutation: stride through the list by a step coprime with its length.
    let n = files.len();
    let step = (1..n)
        .rev()
        .find(|s| gcd(*s, n) == 1 && *s > n / 3)
        .unwrap_or(1);
    (0..n).map(|i| files[(i * step + 5) % n].clone()).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn check_all(label: &str, cmd: &[&str], inputs: &[PathBuf], want: &str) {
    for extra in variants() {
        let got = out(&args(cmd, &extra, inputs));
        assert!(
            got == want,
            "{label}: `{} {}` differs from the in-memory engine's output ({} vs {} bytes)",
            cmd.join(" "),
            extra.join(" "),
            got.len(),
            want.len()
        );
    }
}

#[test]
fn sample_findings_are_the_in_memory_engines_whatever_the_slicing() {
    let want = golden("sample.hunt.ndjson");
    assert_eq!(want.lines().count(), 6);
    check_all(
        "hunt",
        &["hunt", "--format", "ndjson"],
        &[sample_logs()],
        &want,
    );
    let got = out(&args(
        &["hunt", "--format", "ndjson"],
        &[],
        &shuffled_files(&sample_logs()),
    ));
    assert!(got == want, "hunt over the files in shuffled order differs");
}

#[test]
fn sample_sessions_are_the_in_memory_engines_whatever_the_slicing() {
    let want = golden("sample.sessions.ndjson");
    check_all(
        "sessions",
        &["sessions", "--format", "ndjson"],
        &[sample_logs()],
        &want,
    );
    let got = out(&args(
        &["sessions", "--format", "ndjson"],
        &[],
        &shuffled_files(&sample_logs()),
    ));
    assert!(
        got == want,
        "sessions over the files in shuffled order differ"
    );
    let tree = golden("sample.sessions.tree.txt");
    check_all("tree", &["sessions", "--tree"], &[sample_logs()], &tree);
}

#[test]
fn sample_summary_and_timeline_are_the_in_memory_engines() {
    check_all(
        "summary",
        &["summary", "--format", "json"],
        &[sample_logs()],
        &golden("sample.summary.json"),
    );
    let key =
        std::fs::read_to_string(root().join("tests/fixtures/golden/sample.timeline.key")).unwrap();
    let key = key.trim();
    check_all(
        "timeline",
        &[
            "timeline",
            "--key",
            key,
            "--with-descendants",
            "--format",
            "ndjson",
        ],
        &[sample_logs()],
        &golden("sample.timeline.ndjson"),
    );
    check_all(
        "timeline table",
        &["timeline", "--key", key, "--with-descendants"],
        &[sample_logs()],
        &golden("sample.timeline.txt"),
    );
}

#[test]
fn real_datasets_give_the_in_memory_engines_findings_and_sessions() {
    let inputs = [datasets()];
    check_all(
        "hunt",
        &["hunt", "--format", "ndjson"],
        &inputs,
        &golden("datasets.hunt.ndjson"),
    );
    check_all(
        "sessions",
        &["sessions", "--format", "ndjson"],
        &inputs,
        &golden("datasets.sessions.ndjson"),
    );
}

#[test]
fn events_stream_as_json_lines_with_the_same_bytes() {
    // 4,102 events: compared by line count and a stable hash of the bytes.
    let (lines, hash) = golden_hash("sample.events.fnv");
    for extra in variants() {
        let got = out(&args(
            &["events", "--format", "ndjson"],
            &extra,
            &[sample_logs()],
        ));
        assert_eq!(
            (got.lines().count(), fnv(got.as_bytes())),
            (lines, hash),
            "events {extra:?}"
        );
    }
}

/// `(lines, FNV-1a 64)` stored in a golden file.
fn golden_hash(name: &str) -> (usize, u64) {
    let g = golden(name);
    let mut it = g.split_whitespace();
    let lines = it.next().unwrap().parse().unwrap();
    let hash = u64::from_str_radix(it.next().unwrap(), 16).unwrap();
    (lines, hash)
}

/// FNV-1a, 64 bits: a stable hash of output bytes.
pub fn fnv(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[test]
fn a_generated_corpus_gives_the_same_bytes_in_any_slicing() {
    let dir = tempfile::tempdir().unwrap();
    let o = run([
        "generate",
        "-q",
        "--events",
        "40000",
        "--seed",
        "11",
        "--out",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let inputs = [dir.path().to_path_buf()];
    for (cmd, golden_name) in [
        (&["hunt", "--format", "ndjson"][..], "corpus.hunt.fnv"),
        (
            &["sessions", "--format", "ndjson"][..],
            "corpus.sessions.fnv",
        ),
    ] {
        let (lines, hash) = golden_hash(golden_name);
        for extra in variants() {
            let got = out(&args(cmd, &extra, &inputs));
            assert_eq!(
                (got.lines().count(), fnv(got.as_bytes())),
                (lines, hash),
                "{cmd:?} {extra:?}"
            );
        }
    }
}

/// The `event_id` of each line of `events --format ndjson` output.
fn event_ids(o: &std::process::Output) -> Vec<String> {
    stdout(o)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_file_delivered_late_is_judged_out_of_order_and_counted_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let day = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/03/02";
    let doc = |ids: &[(&str, &str)]| {
        let recs: Vec<String> = ids.iter().map(|(id, t)| record(id, t)).collect();
        gz(format!("{{\"Records\":[{}]}}", recs.join(",")).as_bytes())
    };
    // On time: delivered five minutes after its events.
    write(
        dir.path(),
        &format!("{day}/111111111111_CloudTrail_us-east-1_20260302T1005Z_a.json.gz"),
        &doc(&[("a1", "2026-03-02T10:00:00Z")]),
    );
    write(
        dir.path(),
        &format!("{day}/111111111111_CloudTrail_us-east-1_20260302T1405Z_b.json.gz"),
        &doc(&[("b1", "2026-03-02T14:00:00Z")]),
    );
    // Late: an event of 10:30 delivered at 16:05, after the 14:00 event was judged.
    write(
        dir.path(),
        &format!("{day}/111111111111_CloudTrail_us-east-1_20260302T1605Z_c.json.gz"),
        &doc(&[
            ("c1", "2026-03-02T10:30:00Z"),
            ("c2", "2026-03-02T16:00:00Z"),
        ]),
    );
    let o = run([
        "events",
        "--format",
        "ndjson",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ids = event_ids(&o);
    // Nothing lost; the late one comes after what was already judged.
    assert_eq!(ids, ["a1", "b1", "c1", "c2"]);
    assert!(
        stderr(&o).contains("1 events were delivered more than --max-delay-minutes"),
        "{}",
        stderr(&o)
    );
    // With a longer allowed delay it is judged in order.
    let o = run([
        "events",
        "-q",
        "--format",
        "ndjson",
        "--max-delay-minutes",
        "400",
        &dir.path().display().to_string(),
    ]);
    let ids = event_ids(&o);
    assert_eq!(ids, ["a1", "c1", "b1", "c2"]);
    assert!(!stderr(&o).contains("delivered more than"));
}

fn report(state: &Path, extra: &[&str]) {
    let quiet: Vec<&str> = std::iter::once("-q").chain(extra.iter().copied()).collect();
    report_told(state, &quiet);
}

#[test]
fn shards_by_account_merged_know_every_session_of_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, merged) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("merged"),
    );
    // The sample's break-in crosses from the first group of accounts into the second: the
    // chain resolves only through the merged session index.
    // The shards keep every session of the week they read, to be merged whole.
    let keep = ["--keep-expired-hours", "1000"];
    report(
        &a,
        &[
            &["--account", "310915732205", "--account", "205836417790"][..],
            &keep,
        ]
        .concat(),
    );
    report(
        &b,
        &[
            &["--account", "482719305561", "--account", "739204618823"][..],
            &keep,
        ]
        .concat(),
    );
    let o = run([
        "state",
        "merge",
        "-q",
        &a.display().to_string(),
        &b.display().to_string(),
        "--into",
        &merged.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The three-account chain was judged in pieces by the shards: only the merge sees it whole.
    let merged_findings: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        merged_findings
            .iter()
            .any(|f| f["kind"] == "deep_role_chain" && f["chain"].as_array().unwrap().len() == 3),
        "{merged_findings:?}"
    );
    let o = run([
        "state",
        "sessions",
        "--format",
        "ndjson",
        &merged.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let want = golden("sample.sessions.ndjson");
    let got = stdout(&o);
    assert_eq!(got.lines().count(), want.lines().count());
    assert!(
        got == want,
        "the merged session index differs from one run over everything"
    );
    // A shard alone cannot see where the chain began.
    let o = run([
        "state",
        "sessions",
        "--format",
        "ndjson",
        &b.display().to_string(),
    ]);
    assert!(stdout(&o) != want);
    // Merging into a state that has runs is refused; the lake parts of both shards are there.
    let o = run([
        "state",
        "merge",
        "-q",
        &a.display().to_string(),
        "--into",
        &merged.display().to_string(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let parts = |d: &Path| walk(&d.join("lake/events")).len();
    assert_eq!(parts(&merged), parts(&a) + parts(&b));
}

#[test]
fn a_report_that_writes_its_lake_rows_aside_stores_and_reports_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (held, aside) = (dir.path().join("held"), dir.path().join("aside"));
    report(&held, &[]);
    // At most 500 rows held: the rest of the week written aside, read back for the parts and
    // the incidents' timelines.
    report(&aside, &["--lake-rows-held", "500"]);
    // Each part by its partition folder (its file is named by the run).
    let parts = |state: &Path| -> std::collections::BTreeMap<String, Vec<u8>> {
        walk(&state.join("lake"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| {
                let folder = p.parent().unwrap().strip_prefix(state).unwrap();
                (folder.display().to_string(), std::fs::read(&p).unwrap())
            })
            .collect()
    };
    let (want, got) = (parts(&held), parts(&aside));
    assert!(want.len() > 3, "{:?}", want.keys());
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (folder, bytes) in &want {
        // Findings parts name the run in a column; the events and sessions are byte for byte.
        if !folder.contains("findings") {
            assert!(got[folder] == *bytes, "{folder} differs");
        }
    }
    let (want, got) = (report_json(&held), report_json(&aside));
    assert!(
        want["incidents"].as_array().is_some_and(|i| !i.is_empty()),
        "the sample's week has incidents"
    );
    assert_eq!(want, got);
    assert!(
        spill_folders(&aside).is_empty(),
        "rows written aside are removed"
    );
}

/// The spill folders a state holds (a run's rows written aside, its parts on their way).
fn spill_folders(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".spill-"))
        .map(|e| e.path())
        .collect()
}

/// A night's report as JSON, without what names the run.
fn report_json(state: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(state.join("report.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let o = v.as_object_mut().unwrap();
    o.remove("run_id");
    o.remove("generated_at");
    v
}

#[test]
fn a_report_that_encodes_row_groups_as_they_fill_stores_and_reports_the_same() {
    use polars::prelude::{ParquetReader, SerReader};
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    report(&whole, &[]);
    // Each events part by its partition folder.
    let parts = |state: &Path| -> std::collections::BTreeMap<String, PathBuf> {
        walk(&state.join("lake/events"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| {
                let folder = p.parent().unwrap().strip_prefix(state).unwrap();
                (folder.display().to_string(), p)
            })
            .collect()
    };
    let want = parts(&whole);
    for extra in [
        // Row groups of 50 rows, each encoded as soon as its rows are there.
        vec!["--lake-row-group", "50"],
        // ... and past 500 waiting rows, the rest written aside and read back.
        vec!["--lake-row-group", "50", "--lake-rows-held", "500"],
    ] {
        let state = dir.path().join(extra.join("_"));
        report(&state, &extra);
        // The same report: findings, charts, and the incidents' calls read back from the
        // row groups their keys signed in.
        assert_eq!(report_json(&whole), report_json(&state), "{extra:?}");
        let got = parts(&state);
        assert_eq!(
            want.keys().collect::<Vec<_>>(),
            got.keys().collect::<Vec<_>>()
        );
        let mut cut = 0;
        for (folder, path) in &want {
            let read = |p: &Path| ParquetReader::new(std::fs::File::open(p).unwrap());
            let (a, b) = (
                read(path).finish().unwrap(),
                read(&got[folder]).finish().unwrap(),
            );
            assert!(a.equals_missing(&b), "{folder}: the same rows in order");
            let sizes: Vec<usize> = read(&got[folder])
                .get_metadata()
                .unwrap()
                .row_groups
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let full = sizes.len() - 1;
            assert!(
                sizes[..full].iter().all(|&n| n == 50) && (1..=50).contains(&sizes[full]),
                "{folder}: row groups {sizes:?}"
            );
            cut += usize::from(sizes.len() > 2);
        }
        assert!(cut > 3, "parts of many row groups: {cut}");
        assert!(
            spill_folders(&state).is_empty(),
            "{extra:?}: nothing is left aside"
        );
    }
}

/// Runs `report` over the sample logs into `state` (its report in `state/report.json`), not
/// quietly; returns what it told.
fn report_told(state: &Path, extra: &[&str]) -> String {
    let mut a: Vec<String> = ["report", "--format", "json", "--out"]
        .map(String::from)
        .to_vec();
    a.push(state.join("report.json").display().to_string());
    a.push("--state".into());
    a.push(state.display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    a.push(sample_logs().display().to_string());
    let o = run(&a);
    assert!(
        matches!(code(&o), 0 | 1),
        "report {extra:?}: {}",
        stderr(&o)
    );
    stderr(&o)
}

#[test]
fn a_report_that_takes_expired_chains_out_as_it_streams_stores_and_reports_what_holding_them_does()
{
    let dir = tempfile::tempdir().unwrap();
    // Each lake part by its partition folder and run (its file is named by the run's id).
    let parts = |state: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = walk(&state.join("lake"))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .filter(|p| !p.to_string_lossy().contains("findings"))
            .map(|p| {
                let folder = p.parent().unwrap().strip_prefix(state).unwrap();
                (folder.display().to_string(), std::fs::read(&p).unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let sessions = |state: &Path| {
        out(&[
            "state".into(),
            "sessions".into(),
            "-q".into(),
            "--format".into(),
            "ndjson".into(),
            state.display().to_string(),
        ])
    };
    // Chains taken out as soon as nothing can use them (kept 0 hours) and 12 hours later (the
    // default), each beside a run that holds every session to the end; the week in two nights,
    // the second going on from the state the first saved.
    for keep in ["0", "12"] {
        let (held, taken) = (
            dir.path().join(format!("held-{keep}")),
            dir.path().join(format!("taken-{keep}")),
        );
        let mut incidents = 0;
        for night in [&["--until", "2026-03-05"][..], &[][..]] {
            let mut extra = vec!["--keep-expired-hours", keep, "--graph-keys-held", "0"];
            extra.extend(night);
            let told = report_told(&taken, &extra);
            extra.push("--hold-sessions");
            let told_held = report_told(&held, &extra);
            assert!(
                told.contains("expired sessions taken out as the events streamed"),
                "{keep} {night:?}: {told}"
            );
            assert!(!told_held.contains("taken out"), "{told_held}");
            let what = format!("kept {keep} hours, night {night:?}");
            let (want, got) = (report_json(&held), report_json(&taken));
            incidents += want["incidents"].as_array().map_or(0, Vec::len);
            assert_eq!(want, got, "{what}: the report");
            let (want, got) = (parts(&held), parts(&taken));
            assert!(want.iter().any(|(f, _)| f.contains("sessions")));
            assert_eq!(
                want.iter().map(|p| &p.0).collect::<Vec<_>>(),
                got.iter().map(|p| &p.0).collect::<Vec<_>>(),
                "{what}: the parts"
            );
            for ((folder, a), (_, b)) in want.iter().zip(&got) {
                assert!(a == b, "{what}: {folder} differs");
            }
            assert_eq!(
                sessions(&held),
                sessions(&taken),
                "{what}: the saved sessions"
            );
            assert_eq!(
                std::fs::read(held.join("baselines.json")).unwrap(),
                std::fs::read(taken.join("baselines.json")).unwrap(),
                "{what}: the baselines"
            );
            let left: Vec<String> = std::fs::read_dir(&taken)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(".spill-") || n.starts_with(".retired-"))
                .collect();
            assert!(left.is_empty(), "{what}: left behind {left:?}");
        }
        assert!(
            incidents > 0,
            "kept {keep} hours: the sample's week has incidents"
        );
    }
}
