//! Remote inputs, end to end: `s3://bucket[/prefix]` against moto's S3 (tests/emulator.rs) and
//! `cloudtrail://REGION` against a small loopback server in this file that speaks CloudTrail's
//! JSON 1.1 protocol (moto does not implement LookupEvents).
//!
//! What is checked independently of trailhound: the events, sessions and findings are compared
//! byte for byte with a run on the same files read locally; the S3 requests (ListObjectsV2 pages
//! with their prefixes, GetObject) are recorded by the emulator's own middleware; the LookupEvents
//! requests (arrival time, body, target, signing scope) by the loopback server.
//!
//! The sample bucket is uploaded once per test binary and shared: tests that use it hold
//! [`SAMPLE_LOCK`] so the requests they count are their own. Every other test has its own bucket.
//! Nothing here talks to any address but 127.0.0.1.

use crate::common::{code, run, sample_logs, stderr, stdout};
use crate::emulator::{moto, Moto, Request};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The accounts of sample-logs and their trail regions (AWSLogs/<account>/CloudTrail/<region>/).
const LAYOUT: &[(&str, &[&str])] = &[
    ("205836417790", &["us-east-1"]),
    ("310915732205", &["us-east-1"]),
    ("482719305561", &["eu-central-1", "us-east-1", "us-west-2"]),
    ("739204618823", &["eu-central-1", "us-east-1", "us-west-2"]),
];

// ---------------------------------------------------------------------------------------------
// Running the binary against an endpoint.

/// The binary with static test credentials, nothing from the user's AWS config or environment,
/// and `--endpoint-url URL` after the command's own arguments.
fn remote_cmd(endpoint: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    c.args(args).args(["--endpoint-url", endpoint]);
    crate::emulator::test_credentials(&mut c)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION");
    c
}

fn remote(endpoint: &str, args: &[&str]) -> Output {
    remote_cmd(endpoint, args).output().expect("run trailhound")
}

/// Runs against the emulator.
fn s3run(m: &Moto, args: &[&str]) -> Output {
    remote(&m.url(), args)
}

fn show(o: &Output) -> String {
    format!(
        "exit {}\n--- stdout (first 2000 bytes)\n{}\n--- stderr\n{}",
        code(o),
        stdout(o).chars().take(2000).collect::<String>(),
        stderr(o)
    )
}

/// The local run of the same command, on local paths.
fn local(args: &[&str]) -> Output {
    run(args)
}

/// Asserts that two runs printed the same bytes and exited alike.
fn assert_same_output(what: &str, remote: &Output, local: &Output) {
    assert_eq!(
        code(remote),
        code(local),
        "{what}: exit codes differ\nremote: {}\nlocal: {}",
        show(remote),
        show(local)
    );
    assert!(
        !local.stdout.is_empty(),
        "{what}: the local run printed nothing: {}",
        show(local)
    );
    if remote.stdout != local.stdout {
        let (r, l) = (stdout(remote), stdout(local));
        let at = r
            .lines()
            .zip(l.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(r.lines().count().min(l.lines().count()));
        panic!(
            "{what}: stdout differs ({} vs {} lines; first difference at line {}):\nremote: {:?}\nlocal:  {:?}\nremote stderr:\n{}",
            r.lines().count(),
            l.lines().count(),
            at + 1,
            r.lines().nth(at),
            l.lines().nth(at),
            stderr(remote)
        );
    }
}

/// trailhound's own count of listing requests, from `summary --format json`.
fn list_requests(summary: &Value) -> u64 {
    summary
        .get("list_requests")
        .or_else(|| summary["files"].get("list_requests"))
        .and_then(Value::as_u64)
        .unwrap_or_else(|| {
            panic!("summary --format json does not report list_requests (ListObjectsV2 pages + LookupEvents requests):\n{summary:#}")
        })
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(o)))
}

// ---------------------------------------------------------------------------------------------
// The sample bucket.

const SAMPLE: &str = "trail-sample";
static SAMPLE_UPLOADED: OnceLock<()> = OnceLock::new();
static SAMPLE_LOCK: Mutex<()> = Mutex::new(());

/// sample-logs uploaded as it is to the bucket [`SAMPLE`] (once), and the lock that makes the
/// requests recorded for it this test's own.
fn sample_bucket() -> (&'static Moto, MutexGuard<'static, ()>) {
    let m = moto();
    let guard = SAMPLE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    SAMPLE_UPLOADED.get_or_init(|| {
        let n = m.upload_tree(SAMPLE, &sample_logs(), "", None);
        assert_eq!(n, sample_files().len() as u64, "upload of sample-logs");
    });
    m.requests_reset(SAMPLE);
    (m, guard)
}

/// Every file of sample-logs, as its key (path relative to sample-logs, '/' separated).
fn sample_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(&sample_logs(), &sample_logs(), &mut out);
    out.sort();
    out
}

/// The trail log files (digest files are never listed: their folder is not a trail folder).
fn sample_log_keys() -> Vec<String> {
    sample_files()
        .into_iter()
        .filter(|k| !k.contains("/CloudTrail-Digest/"))
        .collect()
}

/// The delivery time in a log file name (`..._<YYYYMMDDTHHmmZ>_<id>.json.gz`), epoch seconds.
fn delivered(key: &str) -> i64 {
    let name = key.rsplit('/').next().unwrap();
    let t = name.split('_').nth(3).unwrap();
    chrono::NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%MZ")
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .and_utc()
        .timestamp()
}

fn epoch(iso: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso)
        .unwrap_or_else(|e| panic!("{iso}: {e}"))
        .timestamp()
}

fn region_roots() -> Vec<String> {
    LAYOUT
        .iter()
        .flat_map(|(a, rs)| {
            rs.iter()
                .map(move |r| format!("AWSLogs/{a}/CloudTrail/{r}/"))
        })
        .collect()
}

/// The ListObjectsV2 requests among `reqs`, as (prefix, delimited).
fn listings(reqs: &[Request]) -> Vec<(String, bool)> {
    reqs.iter()
        .filter(|r| r.is_list_v2())
        .map(|r| {
            (
                r.param("prefix").unwrap_or_default(),
                r.param("delimiter").is_some(),
            )
        })
        .collect()
}

/// The keys fetched with GetObject (bucket name stripped), in order.
fn gets(bucket: &str, reqs: &[Request]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.is_get_object())
        .map(|r| r.path[bucket.len() + 2..].to_string())
        .collect()
}

fn sorted_set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// S3.

#[test]
fn s3_bucket_reads_to_the_same_events_sessions_and_findings_as_the_local_tree() {
    let (m, _g) = sample_bucket();
    let bucket = format!("s3://{SAMPLE}");
    let logs = sample_logs();
    let logs = logs.to_str().unwrap();
    for (what, args) in [
        ("events", &["events", "--format", "ndjson", "-q"][..]),
        ("sessions", &["sessions", "--format", "ndjson", "-q"][..]),
        ("hunt", &["hunt", "--format", "ndjson", "-q"][..]),
    ] {
        let mut r: Vec<&str> = vec![args[0], &bucket];
        r.extend(&args[1..]);
        let mut l: Vec<&str> = vec![args[0], logs];
        l.extend(&args[1..]);
        let remote = s3run(m, &r);
        assert!(
            !stderr(&remote).contains("warning"),
            "{what}: warnings reading the bucket:\n{}",
            stderr(&remote)
        );
        assert_same_output(what, &remote, &local(&l));
    }
    // Whatever the number of threads, the same bytes.
    let one = s3run(
        m,
        &[
            "--threads",
            "1",
            "events",
            &bucket,
            "--format",
            "ndjson",
            "-q",
        ],
    );
    let many = local(&["events", logs, "--format", "ndjson", "-q"]);
    assert_same_output("events --threads 1", &one, &many);
    // With one object fetched at a time too.
    let serial = s3run(
        m,
        &[
            "events",
            &bucket,
            "--concurrency",
            "1",
            "--format",
            "ndjson",
            "-q",
        ],
    );
    assert_same_output("events --concurrency 1", &serial, &many);

    // The summary: every log object read, the digest folder never listed, and the same events.
    m.requests_reset(SAMPLE);
    let o = s3run(m, &["summary", &bucket, "--format", "json", "-q"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let reqs = m.requests(SAMPLE);
    // Objects are fetched in delivery order, an hour of deliveries at a time (the keys list
    // region by region), so a streaming read holds only the events of the hours in flight.
    let hours: Vec<i64> = gets(SAMPLE, &reqs)
        .iter()
        .map(|k| delivered(k).div_euclid(3600))
        .collect();
    assert!(hours.len() > 100, "{} objects fetched", hours.len());
    assert!(
        hours.windows(2).all(|w| w[0] <= w[1]),
        "objects fetched out of delivery order: {hours:?}"
    );
    let s3 = json_of(&o);
    let loc = json_of(&local(&["summary", logs, "--format", "json", "-q"]));
    let keys = sample_log_keys();
    assert_eq!(s3["files"]["read"], json!(keys.len()), "{s3:#}");
    assert_eq!(s3["files"]["failed"], json!(0), "{s3:#}");
    assert_eq!(s3["files"]["read"], loc["files"]["read"]);
    assert_eq!(s3["files"]["records"], loc["files"]["records"]);
    for k in [
        "events",
        "duplicates",
        "shared_copies",
        "first_event",
        "last_event",
        "accounts",
        "regions",
        "event_sources",
        "event_names",
        "identity_types",
        "error_codes",
    ] {
        assert_eq!(s3[k], loc[k], "summary field {k}");
    }
    // Each object fetched once, none outside the trail folders.
    let fetched = gets(SAMPLE, &reqs);
    assert_eq!(fetched.len(), keys.len(), "one GetObject per log object");
    assert_eq!(sorted_set(fetched), sorted_set(keys));
    // trailhound's own count agrees with the requests the emulator saw.
    let lists = listings(&reqs);
    assert_eq!(list_requests(&s3), lists.len() as u64, "{lists:#?}");
}

#[test]
fn s3_prefix_reads_a_tree_uploaded_under_it_from_a_bucket_in_another_region() {
    let m = moto();
    let bucket = "trail-prefixed";
    let n = m.upload_tree(bucket, &sample_logs(), "some/prefix/", Some("eu-central-1"));
    assert_eq!(n, sample_files().len() as u64);
    let logs = sample_logs();
    let want = local(&["events", logs.to_str().unwrap(), "--format", "ndjson", "-q"]);
    for url in [
        "s3://trail-prefixed/some/prefix",
        "s3://trail-prefixed/some/prefix/",
    ] {
        m.requests_reset(bucket);
        let o = s3run(m, &["events", url, "--format", "ndjson", "-q"]);
        assert_same_output(url, &o, &want);
        assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
        // The layout is found under the prefix: the prefix, AWSLogs/, each account's regions,
        // then each region in full. Nothing outside the prefix is listed.
        let lists = listings(&m.requests(bucket));
        let mut expected: Vec<(String, bool)> = vec![
            ("some/prefix/".into(), true),
            ("some/prefix/AWSLogs/".into(), true),
        ];
        expected.extend(
            LAYOUT
                .iter()
                .map(|(a, _)| (format!("some/prefix/AWSLogs/{a}/CloudTrail/"), true)),
        );
        expected.extend(
            region_roots()
                .into_iter()
                .map(|r| (format!("some/prefix/{r}"), false)),
        );
        assert_eq!(
            sorted_set(lists.iter().map(|l| format!("{l:?}"))),
            sorted_set(expected.iter().map(|l| format!("{l:?}"))),
            "{url}: the ListObjectsV2 requests"
        );
        assert_eq!(lists.len(), 14, "{url}: {lists:#?}");
    }
    // A prefix deep inside the layout: one account's one region, one listing.
    m.requests_reset(bucket);
    let sub = "AWSLogs/482719305561/CloudTrail/us-west-2";
    let o = s3run(
        m,
        &[
            "events",
            &format!("s3://{bucket}/some/prefix/{sub}"),
            "--format",
            "ndjson",
            "-q",
        ],
    );
    let want = local(&[
        "events",
        logs.join(sub).to_str().unwrap(),
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_same_output(sub, &o, &want);
    let lists = listings(&m.requests(bucket));
    assert_eq!(
        lists,
        vec![(format!("some/prefix/{sub}/"), false)],
        "a prefix inside the layout is listed alone, without delimiter walks"
    );
}

#[test]
fn other_bucket_shapes_an_organization_trail_a_flat_export_and_one_object() {
    let m = moto();
    let bucket = "trail-shapes";
    let logs = sample_logs();
    // An organization trail: AWSLogs/o-<org>/<account>/CloudTrail/<region>/...
    let org = "org/AWSLogs/o-abc123def4/";
    let a = "AWSLogs/205836417790/";
    let b = "AWSLogs/482719305561/CloudTrail/eu-central-1/";
    m.upload_tree(bucket, &logs.join(a), &format!("{org}205836417790/"), None);
    m.upload_tree(
        bucket,
        &logs.join(b),
        &format!("{org}482719305561/CloudTrail/eu-central-1/"),
        None,
    );
    m.requests_reset(bucket);
    let o = s3run(
        m,
        &[
            "events",
            &format!("s3://{bucket}/org"),
            "--format",
            "ndjson",
            "-q",
        ],
    );
    let (la, lb) = (logs.join(a), logs.join(b));
    let l = local(&[
        "events",
        la.to_str().unwrap(),
        lb.to_str().unwrap(),
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_same_output("an organization trail", &o, &l);
    let lists: BTreeSet<(String, bool)> = listings(&m.requests(bucket)).into_iter().collect();
    let want: BTreeSet<(String, bool)> = [
        ("org/".to_string(), true),
        ("org/AWSLogs/".to_string(), true),
        (org.to_string(), true),
        (format!("{org}205836417790/CloudTrail/"), true),
        (format!("{org}482719305561/CloudTrail/"), true),
        (format!("{org}205836417790/CloudTrail/us-east-1/"), false),
        (format!("{org}482719305561/CloudTrail/eu-central-1/"), false),
    ]
    .into();
    assert_eq!(
        lists, want,
        "the organization folder is walked like AWSLogs/"
    );

    // A prefix that does not follow the layout is listed in full, page by page: the whole
    // sample under export/ is 1,468 keys, two pages of ListObjectsV2 (1,000 keys a page).
    let n = m.upload_tree(bucket, &logs.join("AWSLogs"), "export/", None);
    assert!(n > 1000);
    m.requests_reset(bucket);
    let url = format!("s3://{bucket}/export");
    let o = s3run(m, &["summary", &url, "--format", "json", "-q"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let reqs = m.requests(bucket);
    let lists = listings(&reqs);
    assert_eq!(
        lists,
        vec![
            ("export/".to_string(), true),
            ("export/".to_string(), false),
            ("export/".to_string(), false)
        ],
        "one delimiter listing, then two pages"
    );
    let pages: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.is_list_v2() && r.param("delimiter").is_none())
        .collect();
    assert!(pages[0].param("continuation-token").is_none());
    assert!(
        pages[1].param("continuation-token").is_some(),
        "the second page asks for the rest: {:?}",
        pages[1]
    );
    assert_eq!(list_requests(&json_of(&o)), 3);
    assert_eq!(
        gets(bucket, &reqs).len(),
        sample_log_keys().len(),
        "every log object read, the digest file left out"
    );
    let o = s3run(m, &["events", &url, "--format", "ndjson", "-q"]);
    let l = local(&["events", logs.to_str().unwrap(), "--format", "ndjson", "-q"]);
    assert_same_output("a flat export", &o, &l);

    // One object named in full: read without any listing.
    let key = sample_log_keys()
        .into_iter()
        .find(|k| k.contains("/us-west-2/"))
        .unwrap();
    m.requests_reset(bucket);
    let o = s3run(
        m,
        &[
            "events",
            &format!("s3://{bucket}/export/{}", &key["AWSLogs/".len()..]),
            "--format",
            "ndjson",
            "-q",
        ],
    );
    let l = local(&[
        "events",
        logs.join(&key).to_str().unwrap(),
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_same_output("one object", &o, &l);
    let reqs = m.requests(bucket);
    assert!(listings(&reqs).is_empty(), "{reqs:#?}");
    assert_eq!(gets(bucket, &reqs).len(), 1);
}

#[test]
fn a_one_day_window_lists_only_that_days_prefixes() {
    let (m, _g) = sample_bucket();
    let bucket = format!("s3://{SAMPLE}");
    let logs = sample_logs();
    let logs = logs.to_str().unwrap();
    fn walks(lists: &[(String, bool)]) -> BTreeSet<String> {
        lists
            .iter()
            .filter(|(_, d)| *d)
            .map(|(p, _)| p.clone())
            .collect()
    }
    let mut expected_walks: BTreeSet<String> = ["".to_string(), "AWSLogs/".to_string()].into();
    expected_walks.extend(
        LAYOUT
            .iter()
            .map(|(a, _)| format!("AWSLogs/{a}/CloudTrail/")),
    );

    // No window: the delimiter walk (the root, AWSLogs/, 4 accounts), then each of the 8 trail
    // regions in full: 14 ListObjectsV2 requests, each one page.
    let o = s3run(m, &["summary", &bucket, "--format", "json", "-q"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let all = listings(&m.requests(SAMPLE));
    assert_eq!(walks(&all), expected_walks, "{all:#?}");
    let flat: BTreeSet<String> = all
        .iter()
        .filter(|(_, d)| !d)
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(flat, sorted_set(region_roots()), "{all:#?}");
    assert_eq!(all.len(), 6 + 8, "{all:#?}");
    assert_eq!(list_requests(&json_of(&o)), all.len() as u64);

    // 2026-03-04 (a whole UTC day): the files are named by delivery time, so the window is
    // padded 15 min before and 1 h after: the day folders 03/03, 03/04 and 03/05 of each region
    // are listed, and nothing else: 6 + 8 x 3 = 30 requests.
    let (since, until) = ("2026-03-04", "2026-03-05");
    m.requests_reset(SAMPLE);
    let o = s3run(
        m,
        &[
            "summary", &bucket, "--since", since, "--until", until, "--format", "json", "-q",
        ],
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let reqs = m.requests(SAMPLE);
    let day = listings(&reqs);
    assert_eq!(walks(&day), expected_walks, "{day:#?}");
    // The first (padding) day is listed from 23:45, the first file that can hold an event of
    // the window: keys in a day folder sort by delivery time.
    for r in reqs.iter().filter(|r| r.is_list_v2()) {
        let prefix = r.param("prefix").unwrap_or_default();
        let after = r.param("start-after");
        if prefix.ends_with("2026/03/03/") {
            let after = after.unwrap_or_else(|| panic!("{prefix}: no start-after"));
            assert!(
                after.starts_with(&prefix) && after.ends_with("_20260303T2345Z"),
                "{after}"
            );
        } else {
            assert_eq!(after, None, "{prefix}");
        }
    }
    let days = ["2026/03/03/", "2026/03/04/", "2026/03/05/"];
    for (p, d) in &day {
        assert!(
            *d || days.iter().any(|day| p.ends_with(day)),
            "listed {p:?}, outside the padded window's day folders {days:?}"
        );
    }
    let flat: BTreeSet<String> = day
        .iter()
        .filter(|(_, d)| !d)
        .map(|(p, _)| p.clone())
        .collect();
    let want: BTreeSet<String> = region_roots()
        .iter()
        .flat_map(|r| days.iter().map(move |d| format!("{r}{d}")))
        .collect();
    assert_eq!(flat, want);
    assert_eq!(day.len(), 6 + 8 * 3, "{day:#?}");
    assert_eq!(list_requests(&json_of(&o)), day.len() as u64);
    // Only the objects delivered in [since - 15 min, until + 1 h) are fetched.
    let (lo, hi) = (
        epoch("2026-03-04T00:00:00Z") - 15 * 60,
        epoch("2026-03-05T00:00:00Z") + 3600,
    );
    let in_window: BTreeSet<String> = sample_log_keys()
        .into_iter()
        .filter(|k| (lo..hi).contains(&delivered(k)))
        .collect();
    let fetched = gets(SAMPLE, &reqs);
    assert_eq!(
        fetched.len(),
        in_window.len(),
        "each object in the window fetched once"
    );
    assert_eq!(sorted_set(fetched), in_window);
    assert!(
        in_window.len() * 4 < sample_log_keys().len(),
        "the window is a small part of the sample"
    );
    // And the events are those of the local tree in the same window.
    let r = s3run(
        m,
        &[
            "events", &bucket, "--since", since, "--until", until, "--format", "ndjson", "-q",
        ],
    );
    let l = local(&[
        "events", logs, "--since", since, "--until", until, "--format", "ndjson", "-q",
    ]);
    assert_same_output("events in 2026-03-04", &r, &l);

    // Six hours inside one day, far from midnight: one day folder per region, 6 + 8 requests.
    let (since, until) = ("2026-03-04T06:00:00Z", "2026-03-04T12:00:00Z");
    m.requests_reset(SAMPLE);
    let r = s3run(
        m,
        &[
            "events", &bucket, "--since", since, "--until", until, "--format", "ndjson", "-q",
        ],
    );
    let part = listings(&m.requests(SAMPLE));
    let flat: BTreeSet<String> = part
        .iter()
        .filter(|(_, d)| !d)
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        flat,
        region_roots()
            .iter()
            .map(|r| format!("{r}2026/03/04/"))
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(part.len(), 6 + 8, "{part:#?}");
    let l = local(&[
        "events", logs, "--since", since, "--until", until, "--format", "ndjson", "-q",
    ]);
    assert_same_output("events 06:00-12:00", &r, &l);
    let first = stdout(&r)
        .lines()
        .next()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(first.contains("2026-03-04T"), "{first}");
}

#[test]
fn account_and_region_prune_the_listing_and_keep_only_their_events() {
    let (m, _g) = sample_bucket();
    let bucket = format!("s3://{SAMPLE}");
    let logs = sample_logs();
    let logs = logs.to_str().unwrap();
    for (account, region, n_lists) in [
        // The root, AWSLogs/, the one account's region walk, its 3 regions.
        (Some("482719305561"), None, 1 + 1 + 1 + 3),
        // The root, AWSLogs/, 4 region walks, us-west-2 of the 2 accounts that have it.
        (None, Some("us-west-2"), 1 + 1 + 4 + 2),
        (Some("739204618823"), Some("eu-central-1"), 1 + 1 + 1 + 1),
    ] {
        let mut scope: Vec<&str> = Vec::new();
        if let Some(a) = account {
            scope.extend(["--account", a]);
        }
        if let Some(r) = region {
            scope.extend(["--region", r]);
        }
        m.requests_reset(SAMPLE);
        let mut args = vec!["events", bucket.as_str()];
        args.extend(&scope);
        args.extend(["--format", "ndjson", "-q"]);
        let r = s3run(m, &args);
        args[1] = logs;
        let l = local(&args);
        assert_same_output(&format!("events {scope:?}"), &r, &l);

        // Exactly the walks and region folders of the accounts and regions asked about.
        let mut want: BTreeSet<(String, bool)> =
            [("".to_string(), true), ("AWSLogs/".to_string(), true)].into();
        let mut keys = BTreeSet::new();
        for (a, regions) in LAYOUT {
            if account.is_some_and(|x| x != *a) {
                continue;
            }
            want.insert((format!("AWSLogs/{a}/CloudTrail/"), true));
            for r in regions.iter().filter(|r| region.is_none_or(|x| x == **r)) {
                let root = format!("AWSLogs/{a}/CloudTrail/{r}/");
                want.insert((root.clone(), false));
                keys.extend(
                    sample_log_keys()
                        .into_iter()
                        .filter(|k| k.starts_with(&root)),
                );
            }
        }
        let reqs = m.requests(SAMPLE);
        let lists = listings(&reqs);
        assert_eq!(
            lists.iter().cloned().collect::<BTreeSet<_>>(),
            want,
            "{scope:?}"
        );
        assert_eq!(lists.len(), n_lists, "{scope:?}: {lists:#?}");
        let fetched = gets(SAMPLE, &reqs);
        assert_eq!(fetched.len(), keys.len(), "{scope:?}: each object once");
        assert_eq!(sorted_set(fetched), keys, "{scope:?}");
    }
}

#[test]
fn a_missing_bucket_is_named_and_the_other_inputs_are_still_read() {
    let m = moto();
    let bucket = "no-such-bucket-th";
    let url = format!("s3://{bucket}");
    let o = s3run(m, &["summary", &url, "--format", "json", "-q"]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let e = stderr(&o);
    assert!(
        e.lines().any(|l| l.starts_with("trailhound: warning: ")
            && l.contains(&url)
            && l.contains("the bucket does not exist (NoSuchBucket)")),
        "the warning names the bucket and says NoSuchBucket:\n{e}"
    );
    assert!(
        listings(&m.requests(bucket)).is_empty(),
        "nothing is listed in a bucket that does not exist"
    );
    // Beside a good input: the run goes on, warns, and reads the rest.
    let dir = sample_logs().join("AWSLogs/482719305561/CloudTrail/eu-central-1");
    let dir = dir.to_str().unwrap();
    let o = s3run(m, &["events", &url, dir, "--format", "ndjson", "-q"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        stderr(&o).contains(&url) && stderr(&o).contains("NoSuchBucket"),
        "{}",
        show(&o)
    );
    let l = local(&["events", dir, "--format", "ndjson", "-q"]);
    assert_eq!(
        stdout(&o),
        stdout(&l),
        "the good input's events, as if read alone"
    );
}

#[test]
fn access_denied_names_the_bucket_and_the_permission_needed() {
    let m = moto();
    // The emulator answers every request for denied-* buckets with 403 AccessDenied.
    let bucket = "denied-trail";
    let url = format!("s3://{bucket}");
    let o = s3run(m, &["events", &url, "--format", "ndjson", "-q"]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let e = stderr(&o);
    assert!(
        e.lines().any(|l| l.starts_with("trailhound: warning: ")
            && l.contains(&url)
            && l.contains("access denied (AccessDenied)")
            && l.contains(&format!("s3:ListBucket on arn:aws:s3:::{bucket}"))),
        "the warning names the bucket, AccessDenied and the permission:\n{e}"
    );
    // A 403 is not retried.
    let lists = listings(&m.requests(bucket));
    assert_eq!(lists.len(), 1, "{lists:#?}");

    // Listing allowed, GetObject denied: each object is a warning naming it; nothing was read.
    let bucket = "noget-trail";
    let sub = "AWSLogs/482719305561/CloudTrail/eu-central-1/";
    let n = m.upload_tree(bucket, &sample_logs().join(sub), sub, None);
    m.requests_reset(bucket);
    let o = s3run(
        m,
        &[
            "events",
            &format!("s3://{bucket}"),
            "--format",
            "ndjson",
            "-q",
        ],
    );
    assert_eq!(code(&o), 4, "{}", show(&o));
    let e = stderr(&o);
    let denied: Vec<&str> = e
        .lines()
        .filter(|l| {
            l.starts_with("trailhound: warning: ") && l.contains("access denied (AccessDenied)")
        })
        .collect();
    assert_eq!(denied.len() as u64, n, "one warning per object:\n{e}");
    for key in sample_files().iter().filter(|k| k.starts_with(sub)) {
        let name = format!("s3://{bucket}/{key}");
        assert!(
            denied.iter().any(|l| l.contains(&name)),
            "no warning names {name}:\n{e}"
        );
    }
    let fetched = gets(bucket, &m.requests(bucket));
    assert_eq!(fetched.len() as u64, n, "each denied GetObject tried once");
}

#[test]
fn throttled_object_reads_are_retried_and_nothing_is_lost() {
    let m = moto();
    // The emulator answers the first GET of each object in flaky-* buckets with 503 SlowDown.
    let bucket = "flaky-trail";
    let sub = "AWSLogs/739204618823/CloudTrail/eu-central-1/";
    let n = m.upload_tree(bucket, &sample_logs().join(sub), sub, None);
    assert!(n > 10);
    m.requests_reset(bucket);
    let o = s3run(
        m,
        &[
            "events",
            &format!("s3://{bucket}"),
            "--format",
            "ndjson",
            "-q",
        ],
    );
    let l = local(&[
        "events",
        sample_logs().join(sub).to_str().unwrap(),
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_same_output("events from a throttling bucket", &o, &l);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let reqs = m.requests(bucket);
    let gets: Vec<&Request> = reqs.iter().filter(|r| r.is_get_object()).collect();
    assert_eq!(gets.len() as u64, 2 * n, "each object: 503, then 200");
    assert_eq!(gets.iter().filter(|r| r.status == 503).count() as u64, n);
    assert_eq!(gets.iter().filter(|r| r.status == 200).count() as u64, n);
}

// ---------------------------------------------------------------------------------------------
// CloudTrail LookupEvents, against a loopback server.

const TARGET: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";

/// One request the loopback server received.
#[derive(Debug, Clone)]
struct Arrival {
    at: Instant,
    target: String,
    authorization: String,
    body: Value,
}

type Handler = dyn Fn(usize, &Value) -> (u16, String) + Send + Sync;

/// A CloudTrail endpoint on 127.0.0.1: HTTP/1.1 with keep-alive, one thread per connection.
struct Lookup {
    port: u16,
    seen: Arc<Mutex<Vec<Arrival>>>,
}

impl Lookup {
    fn start(handler: Box<Handler>) -> Lookup {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let handler: Arc<Handler> = Arc::from(handler);
        let s = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (seen, handler) = (s.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve_connection(stream, &seen, &*handler);
                });
            }
        });
        Lookup { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn arrivals(&self) -> Vec<Arrival> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve_connection(
    stream: std::net::TcpStream,
    seen: &Mutex<Vec<Arrival>>,
    handler: &Handler,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(()); // the client closed the connection
        }
        if line.trim().is_empty() {
            continue;
        }
        let at = Instant::now();
        let mut headers: Vec<(String, String)> = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        if header("expect").eq_ignore_ascii_case("100-continue") {
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let len: usize = header("content-length").parse().unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let n = {
            let mut s = seen.lock().unwrap();
            s.push(Arrival {
                at,
                target: header("x-amz-target"),
                authorization: header("authorization"),
                body: body.clone(),
            });
            s.len() - 1
        };
        let (status, reply) = handler(n, &body);
        let reason = if status == 200 { "OK" } else { "Bad Request" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nx-amzn-RequestId: 00000000-0000-0000-0000-{n:012}\r\n\r\n",
            reply.len()
        );
        out.write_all(head.as_bytes())?;
        out.write_all(reply.as_bytes())?;
        out.flush()?;
    }
}

/// The first `n` records of sample-logs (in file name order), as JSON objects.
fn sample_records(n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for key in sample_log_keys() {
        let f = std::fs::File::open(sample_logs().join(&key)).unwrap();
        let mut text = Vec::new();
        flate2::read::MultiGzDecoder::new(f)
            .read_to_end(&mut text)
            .unwrap();
        let doc: Value = serde_json::from_slice(&text).unwrap();
        for r in doc["Records"].as_array().unwrap() {
            out.push(r.clone());
            if out.len() == n {
                return out;
            }
        }
    }
    panic!("sample-logs has fewer than {n} records");
}

/// The same records as a local CloudTrail file, for the comparison run.
fn records_file(dir: &Path, records: &[Value]) -> PathBuf {
    let p = dir.join("records.json");
    std::fs::write(&p, json!({ "Records": records }).to_string()).unwrap();
    p
}

const PAGE: usize = 50;

/// LookupEvents' answer for the page named by the request's NextToken (`page-N`), 50 a page.
fn page_of(records: &[Value], body: &Value) -> (u16, String) {
    let page: usize = body["NextToken"]
        .as_str()
        .map(|t| {
            t.trim_start_matches("page-")
                .parse()
                .expect("a token we gave")
        })
        .unwrap_or(0);
    let chunk = records.chunks(PAGE).nth(page).unwrap_or(&[]);
    let events: Vec<Value> = chunk
        .iter()
        .map(|r| {
            json!({
                "EventId": r["eventID"],
                "EventName": r["eventName"],
                "EventSource": r["eventSource"],
                "EventTime": epoch(r["eventTime"].as_str().unwrap()),
                "ReadOnly": "false",
                "Resources": [],
                "CloudTrailEvent": r.to_string(),
            })
        })
        .collect();
    let mut out = json!({ "Events": events });
    if (page + 1) * PAGE < records.len() {
        out["NextToken"] = json!(format!("page-{}", page + 1));
    }
    (200, out.to_string())
}

fn api_error(kind: &str, message: &str) -> (u16, String) {
    (400, json!({"__type": kind, "message": message}).to_string())
}

#[test]
fn lookup_events_reads_every_page_at_most_two_requests_a_second() {
    let records = Arc::new(sample_records(120));
    let rs = records.clone();
    let api = Lookup::start(Box::new(move |_: usize, body: &Value| page_of(&rs, body)));
    let dir = tempfile::tempdir().unwrap();
    let file = records_file(dir.path(), &records);
    let region = "eu-west-3";
    let url = format!("cloudtrail://{region}");

    let o = remote(&api.url(), &["events", &url, "--format", "ndjson", "-q"]);
    let l = local(&["events", file.to_str().unwrap(), "--format", "ndjson", "-q"]);
    assert_same_output("events from LookupEvents", &o, &l);
    assert_eq!(stdout(&o).lines().count(), 120, "{}", show(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));

    let seen = api.arrivals();
    assert_eq!(seen.len(), 3, "120 events in pages of 50: {seen:#?}");
    for (i, a) in seen.iter().enumerate() {
        // botocore sends the long form, the Rust SDK the Smithy shape id: AWS takes both.
        assert!(
            a.target == TARGET
                || format!("com.amazonaws.cloudtrail.v20131101.{}", a.target) == TARGET,
            "request {i}: X-Amz-Target {:?}",
            a.target
        );
        assert_eq!(a.body["MaxResults"], json!(50), "request {i}: {}", a.body);
        assert_eq!(
            a.body["NextToken"].as_str(),
            (i > 0).then(|| format!("page-{i}")).as_deref(),
            "request {i} carries the token of the page before"
        );
        assert!(
            a.body.get("StartTime").is_none() && a.body.get("EndTime").is_none(),
            "{}",
            a.body
        );
        assert!(
            a.authorization
                .contains(&format!("/{region}/cloudtrail/aws4_request")),
            "signed for the region of the URL: {}",
            a.authorization
        );
    }
    for w in seen.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(
            gap >= Duration::from_millis(450),
            "LookupEvents allows 2 requests/s: two requests arrived {gap:?} apart"
        );
    }

    // --since/--until become StartTime/EndTime (epoch seconds), and scope the events.
    let (since, until) = ("2026-03-02T10:00:00Z", "2026-03-02T14:00:00Z");
    let before = api.arrivals().len();
    let o = remote(
        &api.url(),
        &[
            "events", &url, "--since", since, "--until", until, "--format", "ndjson", "-q",
        ],
    );
    let l = local(&[
        "events",
        file.to_str().unwrap(),
        "--since",
        since,
        "--until",
        until,
        "--format",
        "ndjson",
        "-q",
    ]);
    assert_same_output("events from LookupEvents in a window", &o, &l);
    let seen = api.arrivals();
    assert_eq!(seen.len() - before, 3);
    for a in &seen[before..] {
        assert_eq!(
            a.body["StartTime"].as_f64(),
            Some(epoch(since) as f64),
            "{}",
            a.body
        );
        assert_eq!(
            a.body["EndTime"].as_f64(),
            Some(epoch(until) as f64),
            "{}",
            a.body
        );
    }

    // The summary counts the requests made.
    let o = remote(&api.url(), &["summary", &url, "--format", "json", "-q"]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(list_requests(&json_of(&o)), 3);
    assert_eq!(json_of(&o)["events"], json!(120));
}

#[test]
fn lookup_events_errors_name_the_region_and_what_was_read_is_kept() {
    // Denied from the start: nothing read, exit 4, one request (not retried).
    let api = Lookup::start(Box::new(|_: usize, _: &Value| {
        api_error(
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/test is not authorized to perform: cloudtrail:LookupEvents",
        )
    }));
    let url = "cloudtrail://ap-southeast-2";
    let o = remote(&api.url(), &["events", url, "--format", "ndjson", "-q"]);
    assert_eq!(code(&o), 4, "{}", show(&o));
    let e = stderr(&o);
    assert!(
        e.lines().any(|l| l.starts_with("trailhound: warning: ")
            && l.contains(url)
            && l.contains("AccessDeniedException")
            && l.contains("cloudtrail:LookupEvents")),
        "the warning names cloudtrail://REGION, the error and the permission:\n{e}"
    );
    assert_eq!(
        api.arrivals().len(),
        1,
        "an AccessDeniedException is not retried"
    );

    // Denied on the second page: the first page's events are kept, with a warning; exit 0.
    let records = Arc::new(sample_records(120));
    let rs = records.clone();
    let api = Lookup::start(Box::new(move |n: usize, body: &Value| {
        if n == 0 {
            page_of(&rs, body)
        } else {
            api_error("AccessDeniedException", "session expired")
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let file = records_file(dir.path(), &records[..PAGE]);
    let o = remote(&api.url(), &["events", url, "--format", "ndjson", "-q"]);
    let l = local(&["events", file.to_str().unwrap(), "--format", "ndjson", "-q"]);
    assert_same_output("the page read before the error", &o, &l);
    assert!(
        stderr(&o).contains(url) && stderr(&o).contains("AccessDeniedException"),
        "{}",
        show(&o)
    );

    // Throttled once: retried, everything read, no warning.
    let rs = records.clone();
    let api = Lookup::start(Box::new(move |n: usize, body: &Value| {
        if n == 0 {
            api_error("ThrottlingException", "Rate exceeded")
        } else {
            page_of(&rs, body)
        }
    }));
    let file = records_file(dir.path(), &records);
    let o = remote(&api.url(), &["events", url, "--format", "ndjson", "-q"]);
    let l = local(&["events", file.to_str().unwrap(), "--format", "ndjson", "-q"]);
    assert_same_output("events after a throttled request", &o, &l);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    assert_eq!(
        api.arrivals().len(),
        4,
        "one throttled request, then the 3 pages"
    );

    // A malformed location is a usage error, before anything is read.
    let o = run(["events", "cloudtrail://", "--format", "ndjson"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(stderr(&o).contains("cloudtrail://REGION"), "{}", stderr(&o));
    let o = run(["events", "s3://", "--format", "ndjson"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(stderr(&o).contains("no bucket name"), "{}", stderr(&o));
}

/// `report` over a bucket: the first night reads every object and finds what the local tree
/// gives; the next run fetches nothing (the manifest names `s3://bucket/key`), and with
/// `--since last-run` it does not list the old day folders either.
#[test]
fn a_nightly_report_over_a_bucket_fetches_each_object_once() {
    let (m, _guard) = sample_bucket();
    let state = tempfile::tempdir().unwrap();
    let url = format!("s3://{SAMPLE}");
    let dir = state.path().display().to_string();
    let report_run = |extra: &[&str]| {
        let mut a = vec![
            "report",
            url.as_str(),
            "--format",
            "json",
            "-q",
            "--state",
            &dir,
        ];
        a.extend(extra);
        s3run(m, &a)
    };
    let report = |extra: &[&str]| {
        let o = report_run(extra);
        assert!(code(&o) <= 1, "{}", show(&o));
        json_of(&o)
    };
    let first = report(&[]);
    assert_eq!(first["read"]["objects_new"], sample_log_keys().len() as u64);
    assert_eq!(first["read"]["events_new"], 4102);
    assert_eq!(first["findings"].as_array().unwrap().len(), 6);
    let fetched = gets(SAMPLE, &m.requests(SAMPLE)).len();
    assert_eq!(fetched, sample_log_keys().len(), "each object fetched once");
    let manifest: String = std::fs::read_dir(state.path().join("manifest"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        manifest
            .lines()
            .all(|l| l.starts_with(&format!("s3://{SAMPLE}/AWSLogs/"))),
        "the manifest names objects by URL"
    );

    m.requests_reset(SAMPLE);
    let again = report(&[]);
    assert_eq!(again["read"]["objects_new"], 0);
    assert_eq!(
        again["read"]["objects_already_processed"],
        sample_log_keys().len() as u64
    );
    assert!(again["findings"].as_array().unwrap().is_empty());
    assert!(
        gets(SAMPLE, &m.requests(SAMPLE)).is_empty(),
        "nothing fetched again"
    );

    // The sample's days are long past: since the last run there is no day folder to list.
    m.requests_reset(SAMPLE);
    let recent = report(&["--since", "last-run"]);
    assert_eq!(recent["read"]["objects_new"], 0);
    let flat: Vec<(String, bool)> = listings(&m.requests(SAMPLE))
        .into_iter()
        .filter(|(p, delimited)| !delimited && p.contains("/2026/03/"))
        .collect();
    assert!(flat.is_empty(), "no March day folder listed: {flat:?}");

    // The first run's manifest cut short: a night that lists its prefixes fetches nothing
    // (their old objects would be new) and stops before its commit, naming the manifest.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("state.json")).unwrap()).unwrap();
    let id = meta["runs"][0]["id"].as_str().unwrap();
    let manifest = state.path().join(format!("manifest/{id}.tsv"));
    let lines = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &lines[..lines.len() / 2]).unwrap();
    m.requests_reset(SAMPLE);
    let o = report_run(&["--fail-on", "critical"]);
    assert_eq!(code(&o), 2, "{}", show(&o));
    assert!(
        stderr(&o).contains(&manifest.display().to_string()),
        "{}",
        stderr(&o)
    );
    assert!(
        gets(SAMPLE, &m.requests(SAMPLE)).is_empty(),
        "nothing fetched"
    );
    let runs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(runs["runs"], meta["runs"], "nothing committed");
}

/// `revoke --logs s3://...` finds the key's role and account in the bucket, with the command's
/// own `--endpoint-url`, and plans what the local tree gives.
#[test]
fn revoke_reads_its_logs_from_a_bucket() {
    let (m, _guard) = sample_bucket();
    let key = "ASIAYAZXO3Q7WHCLPOIU"; // the deep role chain of the sample
    let plan = |logs: &str, endpoint: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
        c.args([
            "revoke", "--key", key, "--logs", logs, "--format", "json", "-q",
        ]);
        if let Some(u) = endpoint {
            c.args(["--endpoint-url", u]);
        }
        crate::emulator::test_credentials(&mut c).env("AWS_REGION", "us-east-1");
        let o = c.output().unwrap();
        assert_eq!(code(&o), 0, "{}", show(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v["plan"].clone()
    };
    let remote = plan(&format!("s3://{SAMPLE}"), Some(&m.url()));
    let local = plan(sample_logs().to_str().unwrap(), None);
    assert_eq!(remote["playbook"], "revoke-role-sessions");
    for field in ["target", "account", "calls", "sessions"] {
        let strip = |v: &Value| {
            // The plan is judged "now": compare everything but the time of planning.
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("at");
            }
            v
        };
        if field == "calls" {
            // The policy documents carry the cutoff; the calls must match in kind and target.
            let apis = |p: &Value| -> Vec<String> {
                p["calls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| format!("{} {} {}", c["api"], c["RoleName"], c["PolicyName"]))
                    .collect()
            };
            assert_eq!(apis(&remote), apis(&local));
            assert_eq!(
                apis(&remote),
                ["\"iam:PutRolePolicy\" \"SecurityAudit\" \"AWSRevokeOlderSessions\""]
            );
            continue;
        }
        assert_eq!(strip(&remote[field]), strip(&local[field]), "{field}");
    }
    assert!(
        !gets(SAMPLE, &m.requests(SAMPLE)).is_empty(),
        "the logs came from the bucket"
    );
}
