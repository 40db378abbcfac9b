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

/// Reads a Sentinel CSV export; its events and what was said on stderr.
fn csv_events(name: &str) -> (Vec<Value>, String) {
    events(&siem(name))
}

#[test]
fn sentinel_csv_with_day_first_dates() {
    let (got, err) = csv_events("sentinel-dayfirst.csv");
    assert_eq!(got.len(), 4, "{err}");
    // `02/03/2026` is 2 March: the fourth row's `13/03/2026` settles the order for the file.
    let (want, _) = events(&siem("base.ndjson"));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(pick(g, &COLUMNS), pick(w, &COLUMNS));
    }
    assert_eq!(got[3]["event_time"], "2026-03-13T10:00:10Z");
}

#[test]
fn sentinel_csv_with_month_first_dates_as_the_portal_exports_them() {
    // `TimeGenerated [UTC]`, `3/2/2026, 10:00:05.000 AM`.
    let (got, err) = csv_events("sentinel-monthfirst.csv");
    assert_eq!(got.len(), 4, "{err}");
    let (want, _) = events(&siem("base.ndjson"));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(pick(g, &COLUMNS), pick(w, &COLUMNS));
    }
    assert_eq!(got[3]["event_time"], "2026-03-13T10:00:10Z");
    // The session made from the export is the one made from the raw records.
    let sessions = |p: &Path| {
        stdout(&run([
            "sessions",
            "-q",
            "--format",
            "ndjson",
            &p.display().to_string(),
        ]))
    };
    assert_eq!(
        sessions(&siem("sentinel-monthfirst.csv")),
        sessions(&siem("base.ndjson"))
    );
}

#[test]
fn sentinel_csv_whose_dates_allow_both_orders_is_refused_by_name() {
    let o = run([
        "events",
        "-q",
        "--format",
        "ndjson",
        &siem("sentinel-ambiguous.csv").display().to_string(),
    ]);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains("sentinel-ambiguous.csv"), "{err}");
    assert!(err.contains("date order is ambiguous"), "{err}");
    assert!(err.contains("02/03/2026 10:00:00"), "{err}");
    // The other files of the run are still read.
    let o = run([
        "events",
        "-q",
        "--format",
        "ndjson",
        &siem("sentinel-ambiguous.csv").display().to_string(),
        &siem("sentinel-dayfirst.csv").display().to_string(),
    ]);
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stderr(&o));
}

#[test]
fn sentinel_csv_quoted_fields_and_a_bad_row() {
    let (got, err) = csv_events("sentinel-quoted.csv");
    assert_eq!(got.len(), 4, "{err}");
    // A field with a comma, doubled quotes and a line break comes through whole.
    assert_eq!(
        got[3]["error_message"],
        "User: arn:aws:iam::111122223333:user/alice is not authorized, \"explicit deny\"\nin a bucket policy"
    );
    let params: Value =
        serde_json::from_str(got[3]["request_parameters"].as_str().unwrap()).unwrap();
    assert_eq!(params["bucketName"], "finance, \"q1\"");
    // The session token of the AssumeRole response never comes through.
    assert!(!got.iter().any(|e| e.to_string().contains("EXAMPLETOKEN")));
    // The fifth row, cut short, is named by file and row; the rest is read.
    assert!(err.contains("sentinel-quoted.csv"), "{err}");
    assert!(err.contains("row 5"), "{err}");
    assert!(err.contains("3 fields where the header has"), "{err}");
}
