//! SIEM exports in: each export shape (tests/fixtures/siem, built by make.py from the vendors'
//! documented formats around the records of base.ndjson) reads as the same events as the raw
//! records, recognised by content.

use crate::common::*;
use serde_json::Value;
use std::path::Path;

fn siem(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures/siem").join(name)
}

fn events(path: &Path) -> (Vec<Value>, String) {
    let o = run([
        "events".as_ref(),
        "-q".as_ref(),
        "--format".as_ref(),
        "ndjson".as_ref(),
        path.as_os_str(),
    ]);
    assert_eq!(code(&o), 0, "{}: {}", path.display(), stderr(&o));
    let v = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (v, stderr(&o))
}

/// The columns an export must carry over (all of them for most shapes).
const COLUMNS: [&str; 20] = [
    "event_time",
    "event_id",
    "event_name",
    "event_source",
    "aws_region",
    "source_ip",
    "user_agent",
    "error_code",
    "recipient_account_id",
    "identity_type",
    "principal_arn",
    "principal_id",
    "account_id",
    "access_key_id",
    "session_issuer_arn",
    "session_created_at",
    "mfa_authenticated",
    "requested_role_arn",
    "issued_access_key_id",
    "assumed_role_arn",
];

fn pick(e: &Value, cols: &[&str]) -> Vec<Value> {
    cols.iter().map(|c| e[*c].clone()).collect()
}

fn assert_same(name: &str, cols: &[&str]) {
    let (want, _) = events(&siem("base.ndjson"));
    assert_eq!(want.len(), 3);
    let (got, err) = events(&siem(name));
    assert_eq!(got.len(), 3, "{name}: {err}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(pick(g, cols), pick(w, cols), "{name}");
    }
}

#[test]
fn splunk_exports() {
    assert_same("splunk-export.ndjson", &COLUMNS);
    assert_same("splunk-results.json", &COLUMNS);
    // Every column comes through (the raw JSON columns keep the exporter's spacing).
    let (got, err) = events(&siem("splunk-export.ndjson"));
    let (want, _) = events(&siem("base.ndjson"));
    for (g, w) in got.iter().zip(&want) {
        for (k, v) in w.as_object().unwrap() {
            if k != "request_parameters" {
                assert_eq!(&g[k], v, "{k}");
            }
        }
    }
    // A line whose _raw is not a CloudTrail record is named; the rest are read.
    assert!(
        err.contains("splunk-export.ndjson") && err.contains("Splunk _raw is not a JSON record"),
        "{err}"
    );
}

#[test]
fn elastic_exports() {
    assert_same("elastic-export.ndjson", &COLUMNS);
    assert_same("elastic-search.json", &COLUMNS);
}

#[test]
fn google_cloud_logging_entries() {
    assert_same("gcp-logging.json", &COLUMNS);
}

#[test]
fn sentinel_awscloudtrail_rows() {
    assert_same("sentinel-awscloudtrail.json", &COLUMNS);
    let (got, _) = events(&siem("sentinel-awscloudtrail.json"));
    // TimeGenerated has no zone: UTC.
    assert_eq!(got[0]["event_time"], "2026-03-02T10:00:00Z");
    assert_eq!(got[2]["mfa_authenticated"], false);
    assert_eq!(got[1]["requested_duration_seconds"], 3600);
}

#[test]
fn cloudtrail_lake_query_results() {
    assert_same("cloudtrail-lake.json", &COLUMNS);
    let (got, _) = events(&siem("cloudtrail-lake.json"));
    assert_eq!(got[0]["read_only"], true);
}

#[test]
fn every_shape_hunts_like_the_raw_records() {
    let (base, _) = events(&siem("base.ndjson"));
    let o = run([
        "sessions",
        "-q",
        "--format",
        "ndjson",
        &siem("base.ndjson").display().to_string(),
    ]);
    let want = stdout(&o);
    assert!(want.contains("ASIASIEMEXAMPLE00002"));
    for name in [
        "splunk-results.json",
        "elastic-export.ndjson",
        "gcp-logging.json",
        "sentinel-awscloudtrail.json",
        "cloudtrail-lake.json",
    ] {
        let o = run([
            "sessions",
            "-q",
            "--format",
            "ndjson",
            &siem(name).display().to_string(),
        ]);
        assert_eq!(stdout(&o), want, "{name}");
    }
    assert_eq!(base.len(), 3);
}
