//! Parsing: Logstash/Elastic records timed by `@timestamp`, and the words for a file that is JSON
//! but holds no CloudTrail record versus one that is not JSON at all.

use crate::common::*;
use serde_json::Value;

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures/logstash")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn logstash_export_is_read_with_the_times_of_at_timestamp() {
    let o = run([
        "events",
        "--format",
        "ndjson",
        "-q",
        &fixture("cloudtrail.ndjson"),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "no warning: {}", stderr(&o));
    let got: Vec<(String, String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("event_time"), s("event_id"), s("event_name"))
        })
        .collect();
    // The times the records carried as eventTime before Logstash moved them, in time order.
    let want = [
        (
            "2024-07-30T21:31:21Z",
            "450230d4-b39e-4a18-a6a0-d07a6e2105cb",
            "GetPasswordData",
        ),
        (
            "2024-07-31T12:46:41Z",
            "ee73c230-44bc-4492-8542-cfb189eae287",
            "DeleteTrail",
        ),
        (
            "2024-07-31T13:06:24Z",
            "10163ed2-2253-469d-a5ee-cbc6651f8934",
            "StopLogging",
        ),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn json_with_no_records_says_so_and_text_that_is_not_json_says_not_json() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inventory.json",
        br#"{"hosts":[{"name":"a"},{"name":"b"}],"count":2}"#,
    );
    write(
        dir.path(),
        "metrics.ndjson",
        b"{\"metric\":\"cpu\",\"value\":1}\n{\"metric\":\"mem\",\"value\":2}\n",
    );
    write(dir.path(), "notes.log", b"this is plain text, not JSON\n");
    let good = format!(
        r#"{{"Records":[{}]}}"#,
        record("ok-0", "2026-03-02T10:00:00Z")
    );
    write(dir.path(), "good.json.gz", &gz(good.as_bytes()));
    let o = run(["summary", "-q", &dir.path().display().to_string()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    let line = |file: &str| {
        err.lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("no warning for {file}:\n{err}"))
            .to_string()
    };
    let inventory = line("inventory.json");
    assert!(
        inventory.contains("no CloudTrail records") && !inventory.contains("not JSON"),
        "{inventory}"
    );
    let metrics = line("metrics.ndjson");
    assert!(
        metrics.contains("no CloudTrail records: JSON, but line 1: record has no eventTime"),
        "{metrics}"
    );
    assert!(line("notes.log").contains("not JSON (begins with `this is plain text"));
    let s = summary_json(&[dir.path()]);
    assert_eq!(
        (s["events"].as_u64(), s["files"]["failed"].as_u64()),
        (Some(1), Some(3))
    );
}
