//! Ingest: every shape is read, every bad input is named and survived, nothing is counted twice,
//! output does not depend on the thread count, and secrets never come out.

use crate::common::*;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// Reads every record of a tree without trailhound's code: serde_json::Value, plain rules.
/// Returns (records with an eventTime, distinct events by the documented duplicate key).
fn independent_count(dir: &Path) -> (usize, usize) {
    let mut records = 0;
    let mut distinct = HashSet::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
        if !entry.file_type().is_file()
            || path.to_string_lossy().contains("CloudTrail-Digest")
            || name.starts_with("license")
            || name.ends_with(".md")
            || name.ends_with(".txt")
            || name.ends_with(".mmdb")
        {
            continue;
        }
        let raw = std::fs::read(path).unwrap();
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            MultiGzDecoder::new(&raw[..]).read_to_end(&mut out).unwrap();
            out
        } else {
            raw
        };
        let text = String::from_utf8_lossy(&bytes);
        let values: Vec<Value> = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => a,
            Ok(Value::Object(mut o)) if o.contains_key("Records") => match o.remove("Records") {
                Some(Value::Array(a)) => a,
                _ => vec![],
            },
            Ok(v) => vec![v],
            Err(_) => text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect(),
        };
        for v in values {
            let v = match (
                &v.get("eventTime"),
                v.get("event"),
                v.get("CloudTrailEvent"),
            ) {
                (Some(_), _, _) => v,
                (None, Some(inner), _) => inner.clone(),
                (None, None, Some(Value::String(s))) => serde_json::from_str(s).unwrap(),
                _ => v,
            };
            // A time: 2021-02-21T23:46:28Z, with or without fraction, zone or the `T`.
            let is_time = v.get("eventTime").and_then(Value::as_str).is_some_and(|t| {
                let b = t.as_bytes();
                b.len() >= 19
                    && b[..4].iter().all(u8::is_ascii_digit)
                    && b[4] == b'-'
                    && b[13] == b':'
            });
            if !is_time {
                continue;
            }
            records += 1;
            let s = |p: &str| {
                v.pointer(p)
                    .and_then(Value::as_str)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
            };
            distinct.insert((
                s("/eventTime"),
                s("/eventID"),
                s("/recipientAccountId"),
                s("/eventSource"),
                s("/eventName"),
                s("/userIdentity/arn"),
                s("/userIdentity/accessKeyId"),
                s("/sourceIPAddress"),
                s("/requestID"),
                s("/errorCode"),
                s("/responseElements/credentials/accessKeyId"),
            ));
        }
    }
    (records, distinct.len())
}

#[test]
fn summary_reads_every_event_in_sample_logs() {
    let (records, distinct) = independent_count(&sample_logs());
    assert!(records > 1000, "sample-logs too small: {records}");
    let s = summary_json(&[&sample_logs()]);
    assert_eq!(s["events"].as_u64().unwrap() as usize, distinct);
    assert_eq!(s["files"]["records"].as_u64().unwrap() as usize, records);
    assert_eq!(s["files"]["bad_records"], 0);
    assert_eq!(s["files"]["failed"], 0);
    assert_eq!(s["files"]["skipped_by_reason"]["CloudTrail digest"], 1);
}

#[test]
fn summary_reads_every_event_in_the_shared_datasets() {
    let (_, distinct) = independent_count(&datasets());
    let s = summary_json(&[&datasets()]);
    assert_eq!(s["events"].as_u64().unwrap() as usize, distinct);
    assert_eq!(s["files"]["failed"], 0, "{s}");
    // The panther rule tests hold 17 records without an eventTime and 2 whose eventTime is not a
    // time (`redacted`, `...`), each in the events file and again in the annotated file: each is
    // named, none is fatal.
    assert_eq!(s["files"]["bad_records"], 38, "{s}");
}

#[test]
fn every_input_shape_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let r = |i: usize| record(&format!("id-{i}"), &format!("2026-03-02T10:00:{:02}Z", i));
    write(
        d,
        "a.json.gz",
        &gz(format!(r#"{{"Records":[{},{}]}}"#, r(0), r(1)).as_bytes()),
    );
    write(d, "b.json", format!("[{},\n{}]", r(2), r(3)).as_bytes());
    write(d, "c.ndjson", format!("{}\n{}\n", r(4), r(5)).as_bytes());
    // gzip recognised by content, not name
    write(d, "d", &gz(format!("{}\n{}", r(6), r(7)).as_bytes()));
    // LookupEvents output: the record is a JSON string under CloudTrailEvent
    let lookup = |i: usize| {
        serde_json::json!({"EventId": format!("id-{i}"), "EventName": "ListBuckets",
            "CloudTrailEvent": r(i)})
        .to_string()
    };
    write(
        d,
        "e.json",
        format!("{}\n{}\n", lookup(8), lookup(9)).as_bytes(),
    );
    // concatenated gzip members
    let mut f = gz(format!("{}\n", r(10)).as_bytes());
    f.extend(gz(format!("{}\n", r(11)).as_bytes()));
    write(d, "f.json.gz", &f);
    // pretty-printed delivery document with Records not first
    write(
        d,
        "g.json",
        format!(
            "{{\n  \"Other\": 1,\n  \"Records\": [\n    {}\n  ]\n}}\n",
            r(12)
        )
        .as_bytes(),
    );
    let o = run(["summary", "--format", "json", "-q"]
        .iter()
        .map(|s| s.to_string())
        .chain([d.display().to_string()]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "no warnings expected");
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["events"], 13);
    assert_eq!(s["files"]["read"], 7);
}

/// A folder with one good file and every kind of bad input.
fn bad_tree(d: &Path) {
    let good = format!(
        r#"{{"Records":[{},{}]}}"#,
        record("good-0", "2026-03-02T10:00:00Z"),
        record("good-1", "2026-03-02T10:00:01Z")
    );
    write(d, "good.json.gz", &gz(good.as_bytes()));
    let many: Vec<String> = (0..200)
        .map(|i| record(&format!("t-{i:03}"), "2026-03-02T11:00:00Z"))
        .collect();
    let full = gz(format!(r#"{{"Records":[{}]}}"#, many.join(",")).as_bytes());
    write(d, "truncated.json.gz", &full[..full.len() / 2]);
    write(d, "notjson.json", b"<html>this is not a log</html>");
    write(d, "empty.json.gz", b"");
    write(
        d,
        "mixed.json",
        format!(
            r#"{{"Records":[{}, 42, {{"eventName":"NoTime"}}]}}"#,
            record("mixed-0", "2026-03-02T12:00:00Z")
        )
        .as_bytes(),
    );
    let mut bad_utf8 = record("utf-0", "2026-03-02T13:00:00Z").into_bytes();
    bad_utf8.extend_from_slice(b"\n{\"eventTime\":\"2026-03-02T13:00:01Z\",\"eventID\":\"utf-1\",\"userAgent\":\"\xff\xfe\"}\n");
    bad_utf8.extend_from_slice(record("utf-2", "2026-03-02T13:00:02Z").as_bytes());
    write(d, "badutf8.ndjson", &bad_utf8);
    write(
        d,
        "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/03/02/111111111111_CloudTrail-Digest_us-east-1_t_us-east-1_20260302T100000Z.json.gz",
        &gz(br#"{"awsAccountId":"111111111111","digestStartTime":"2026-03-02T09:00:00Z","logFiles":[]}"#),
    );
}

#[test]
fn bad_input_is_named_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    bad_tree(dir.path());
    let o = run(["events", "--format", "ndjson", "-q"]
        .iter()
        .map(|s| s.to_string())
        .chain([dir.path().display().to_string()]));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    let has = |file: &str, what: &str| {
        assert!(
            err.lines().any(|l| l.contains(file) && l.contains(what)),
            "no warning for {file} with `{what}` in:\n{err}"
        )
    };
    has("truncated.json.gz", "truncated gzip");
    has("notjson.json", "not JSON");
    has("empty.json.gz", "empty file");
    has("mixed.json", "record 1: record is not a JSON object");
    has("mixed.json", "record 2: record has no eventTime");
    has("badutf8.ndjson", "line 2: invalid UTF-8");
    assert!(
        !err.contains("CloudTrail-Digest"),
        "digests are skipped silently: {err}"
    );

    let ids: Vec<String> = stdout(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for want in ["good-0", "good-1", "mixed-0", "utf-0", "utf-2"] {
        assert!(ids.contains(&want.to_string()), "{want} lost");
    }
    // The truncated file keeps a prefix of its complete records, in order.
    let kept: Vec<&String> = ids.iter().filter(|i| i.starts_with("t-")).collect();
    assert!(!kept.is_empty() && kept.len() < 200, "kept {}", kept.len());
    for (n, id) in kept.iter().enumerate() {
        assert_eq!(**id, format!("t-{n:03}"));
    }

    let s = summary_json(&[dir.path()]);
    assert_eq!(s["files"]["seen"], 7);
    assert_eq!(s["files"]["skipped"], 1);
    assert_eq!(s["files"]["failed"], 2, "not JSON and empty: {s}");
    assert_eq!(s["files"]["bad_records"], 3, "{s}");
    assert_eq!(s["events"].as_u64().unwrap() as usize, 5 + kept.len());
}

#[test]
fn a_broken_link_in_the_tree_is_a_failed_file_not_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let good = format!(
        r#"{{"Records":[{}]}}"#,
        record("ok-0", "2026-03-02T10:00:00Z")
    );
    write(dir.path(), "good.json.gz", &gz(good.as_bytes()));
    std::os::unix::fs::symlink(
        dir.path().join("gone.json.gz"),
        dir.path().join("broken.json.gz"),
    )
    .unwrap();
    let o = run([
        "summary",
        "--format",
        "json",
        "-q",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("broken.json.gz"), "{}", stderr(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (s["events"].as_u64(), s["files"]["failed"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn strict_makes_bad_input_fatal() {
    let dir = tempfile::tempdir().unwrap();
    bad_tree(dir.path());
    let o = run([
        "summary",
        "--strict",
        "-q",
        &dir.path().display().to_string(),
    ]);
    assert_eq!(code(&o), 5, "{}", stderr(&o));
    assert!(stderr(&o).contains("--strict"));
}

#[test]
fn exit_codes_for_missing_and_unreadable_input() {
    let o = run(["summary", "/no/such/trail"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("/no/such/trail"));

    let dir = tempfile::tempdir().unwrap();
    let o = run(["summary", &dir.path().display().to_string()]);
    assert_eq!(code(&o), 4, "an empty folder: {}", stderr(&o));

    write(dir.path(), "junk.json", b"not json at all");
    let o = run(["summary", &dir.path().display().to_string()]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("junk.json: not JSON"));

    let o = run(["summary"]);
    assert_eq!(code(&o), 2, "no paths is a usage error");
}

#[test]
fn output_is_the_same_bytes_whatever_the_thread_count() {
    for tree in [sample_logs(), datasets()] {
        let t = tree.display().to_string();
        let one = run(["--threads", "1", "events", "--format", "ndjson", "-q", &t]);
        let two = run(["--threads", "2", "events", "--format", "ndjson", "-q", &t]);
        let seven = run(["--threads", "7", "events", "--format", "ndjson", "-q", &t]);
        assert_eq!(code(&one), 0);
        assert!(
            one.stdout == two.stdout && two.stdout == seven.stdout,
            "{t}"
        );
        let a = run(["--threads", "1", "summary", "-q", &t]);
        let b = run(["--threads", "7", "summary", "-q", &t]);
        assert_eq!(a.stdout, b.stdout);
    }
}

#[test]
fn the_same_event_read_twice_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let doc = format!(
        r#"{{"Records":[{},{}]}}"#,
        record("x-0", "2026-03-02T10:00:00Z"),
        record("x-1", "2026-03-02T10:00:01Z")
    );
    write(dir.path(), "account-trail/a.json.gz", &gz(doc.as_bytes()));
    write(dir.path(), "org-trail/a.json.gz", &gz(doc.as_bytes()));
    let s = summary_json(&[dir.path()]);
    assert_eq!(s["events"], 2);
    assert_eq!(s["duplicates"], 2);
}

#[test]
fn cross_account_copies_are_both_kept_and_one_is_marked() {
    let f = datasets().join("awsdocs/iam-user-guide_examples.events.ndjson");
    let o = run([
        "events",
        "--format",
        "ndjson",
        "-q",
        &f.display().to_string(),
    ]);
    let copies: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["shared_event_id"] == "bEXAMPLE-efea-4a70-b951-19a88EXAMPLE")
        .collect();
    assert_eq!(copies.len(), 2);
    let marked: Vec<&Value> = copies.iter().filter(|v| v["shared_copy"] == true).collect();
    assert_eq!(marked.len(), 1);
    assert_eq!(
        marked[0]["identity_type"], "AWSAccount",
        "the copy naming the caller in full is kept"
    );
}

#[test]
fn session_tokens_never_reach_output() {
    let f = datasets().join("datadog_stratus-red-team/aws.persistence.sts-federation-token.json");
    let raw = std::fs::read_to_string(&f).unwrap();
    let token = "IQoJb3JpZ2luX2VjEOH";
    assert!(raw.contains(token), "fixture holds a token");
    for format in ["ndjson", "csv", "table"] {
        let o = run(["events", "--format", format, "-q", &f.display().to_string()]);
        assert_eq!(code(&o), 0);
        assert!(
            !stdout(&o).contains(token),
            "{format} leaked the session token"
        );
    }
    // Also across the generated sample: no sessionToken value survives.
    let o = run([
        "events",
        "--format",
        "ndjson",
        "-q",
        &sample_logs().display().to_string(),
    ]);
    let out = stdout(&o);
    for line in out.lines().filter(|l| l.contains("sessionToken")) {
        assert!(
            line.contains(r#"\"sessionToken\":\"<redacted>\""#),
            "{line}"
        );
    }
}

#[test]
fn events_are_filtered_by_key_account_principal_time_and_name() {
    let f = datasets()
        .join("datadog_stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.json");
    let p = f.display().to_string();
    let count = |extra: &[&str]| {
        let mut args = vec!["events", "--format", "ndjson", "-q"];
        args.extend_from_slice(extra);
        args.push(&p);
        stdout(&run(args)).lines().count()
    };
    assert_eq!(count(&[]), 45);
    assert_eq!(count(&["--key", "ASIAP5CT9NN8EYVU1FXV"]), 2);
    assert_eq!(count(&["--event-name", "SendCommand"]), 1);
    assert_eq!(
        count(&["--principal", "arn:aws:iam::017622104382:user/christophe"]),
        43
    );
    assert_eq!(count(&["--since", "2024-08-02T08:23:55Z"]), 2);
    assert_eq!(count(&["--until", "2024-08-02T08:22:40Z"]), 1);
    assert_eq!(
        count(&[
            "--account",
            "017622104382",
            "--event-name",
            "GetCallerIdentity"
        ]),
        1
    );
    let o = run(["events", "--since", "last tuesday", &p]);
    assert_eq!(code(&o), 2);
}

#[test]
fn saved_queries_run_over_the_sample() {
    let mut outputs = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(root().join("queries")).unwrap() {
        let q = entry.unwrap().path();
        let o = run([
            "query",
            "-q",
            "--format",
            "ndjson",
            "--file",
            &q.display().to_string(),
            &sample_logs().display().to_string(),
        ]);
        assert_eq!(code(&o), 0, "{}: {}", q.display(), stderr(&o));
        outputs.insert(
            q.file_name().unwrap().to_string_lossy().to_string(),
            stdout(&o),
        );
    }
    assert!(outputs.len() >= 5);
    // The planted break-in shows in the denial hunt: svc-reporting denied on 3 roles.
    let denials = &outputs["assume-role-denials.sql"];
    assert_eq!(
        denials
            .lines()
            .filter(|l| l.contains("user/svc-reporting"))
            .count(),
        3,
        "{denials}"
    );
    assert!(outputs["temporary-keys-by-ip.sql"].lines().count() > 100);
    assert!(
        outputs["events-per-account-region-hour.sql"]
            .lines()
            .count()
            > 100
    );
    assert!(outputs["console-logins.sql"].contains(r#""result":"Success""#));
}

#[test]
fn query_errors_are_reported() {
    let o = run([
        "query",
        "-q",
        "--sql",
        "SELECT nope FROM events",
        &sample_logs().display().to_string(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("query failed"), "{}", stderr(&o));
}

#[test]
fn csv_and_parquet_hold_every_column() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("e.parquet");
    let f = datasets().join("trailscraper");
    let o = run([
        "events",
        "-q",
        "--format",
        "parquet",
        "--out",
        &out.display().to_string(),
        &f.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&out).unwrap());
    use polars::prelude::SerReader;
    let df = df.finish().unwrap();
    assert_eq!(
        df.height(),
        3,
        "5 records, 2 of them the same events in both files"
    );
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, trailhound::event::COLUMNS);
    let o = run(["events", "-q", "--format", "csv", &f.display().to_string()]);
    let csv = stdout(&o);
    assert_eq!(
        csv.lines().next().unwrap(),
        trailhound::event::COLUMNS.join(",")
    );
    for id in [
        "4d293154-a15b-4c33-9e0a-ff5eeEXAMPLE",
        "a0ed971f-389f-406a-9fcf-887c5ca6903a",
        "b25ff7e3-f1cf-4b7f-883d-b09168c454d5",
    ] {
        assert_eq!(csv.matches(id).count(), 1, "{id}");
    }
}
