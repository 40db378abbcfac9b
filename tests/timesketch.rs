//! `--format timesketch`: JSON lines Timesketch imports as they are (`message`, `datetime` in
//! ISO 8601, `timestamp_desc`), one per event, timeline call or finding, with the columns.

use crate::common::*;
use serde_json::Value;

fn lines(args: &[&str]) -> Vec<Value> {
    let o = run(args);
    assert!(matches!(code(&o), 0 | 1), "{args:?}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What Timesketch needs of every line.
fn assert_importable(v: &Value) {
    assert!(!v["message"].as_str().unwrap().is_empty(), "{v}");
    assert!(!v["timestamp_desc"].as_str().unwrap().is_empty(), "{v}");
    let dt = v["datetime"].as_str().unwrap();
    let ms = trailhound::event::parse_iso(dt).unwrap_or_else(|| panic!("{dt} is not ISO 8601"));
    assert_eq!(v["timestamp"].as_i64(), Some(ms * 1000), "{v}");
    for (k, x) in v.as_object().unwrap() {
        assert!(!x.is_object() && !x.is_null(), "{k} is not flat: {x}");
    }
}

#[test]
fn events_as_timesketch_lines() {
    let s = sample_logs().display().to_string();
    let plain = lines(&["events", "-q", &s, "--format", "ndjson"]);
    let ts = lines(&["events", "-q", &s, "--format", "timesketch"]);
    assert_eq!(plain.len(), ts.len());
    for (p, t) in plain.iter().zip(&ts) {
        assert_importable(t);
        assert_eq!(t["timestamp_desc"], "Event Time");
        assert_eq!(t["datetime"], p["event_time"]);
        assert_eq!(t["event_id"], p["event_id"]);
        let name = p["event_name"].as_str().unwrap();
        assert!(t["message"].as_str().unwrap().contains(name), "{t}");
        if let Some(ip) = p["source_ip"].as_str() {
            assert!(t["message"].as_str().unwrap().contains(ip));
        }
    }
    let failed = ts
        .iter()
        .find(|t| t["error_code"] == "AccessDenied")
        .expect("the sample has denied calls");
    assert!(failed["message"]
        .as_str()
        .unwrap()
        .ends_with("failed: AccessDenied"));
}

#[test]
fn timeline_as_timesketch_lines_carry_the_hop() {
    let s = sample_logs().display().to_string();
    let deep = lines(&[
        "sessions",
        "-q",
        &s,
        "--min-depth",
        "2",
        "--format",
        "ndjson",
    ]);
    let key = deep[0]["access_key_id"].as_str().unwrap();
    let ts = lines(&["timeline", "-q", &s, "--key", key, "--format", "timesketch"]);
    assert!(!ts.is_empty());
    for t in &ts {
        assert_importable(t);
        assert_eq!(t["hop_access_key_id"], key);
        assert!(t["hop_depth"].as_u64().unwrap() >= 2);
    }
}

#[test]
fn findings_as_timesketch_lines() {
    let s = sample_logs().display().to_string();
    let plain = lines(&["hunt", "-q", &s, "--format", "ndjson"]);
    let ts = lines(&["hunt", "-q", &s, "--format", "timesketch"]);
    assert_eq!(plain.len(), ts.len());
    assert!(!ts.is_empty());
    for (p, t) in plain.iter().zip(&ts) {
        assert_importable(t);
        assert_eq!(t["timestamp_desc"], "Finding Time");
        assert_eq!(t["datetime"], p["time"]);
        let m = t["message"].as_str().unwrap();
        assert!(m.starts_with(&format!(
            "[{}] {}: ",
            p["severity"].as_str().unwrap(),
            p["kind"].as_str().unwrap()
        )));
        assert!(m.ends_with(p["summary"].as_str().unwrap()));
        // The session chain (a list of objects) is one text field.
        if !p["chain"].as_array().unwrap().is_empty() {
            let chain: Value = serde_json::from_str(t["chain"].as_str().unwrap()).unwrap();
            assert_eq!(chain, p["chain"]);
        }
    }
}

#[test]
fn timesketch_is_refused_where_rows_have_no_event() {
    let s = sample_logs().display().to_string();
    for args in [
        vec!["sessions", "-q", &s, "--format", "timesketch"],
        vec![
            "query",
            "-q",
            &s,
            "--sql",
            "SELECT 1 AS x",
            "--format",
            "timesketch",
        ],
    ] {
        let o = run(&args);
        assert_eq!(code(&o), 2);
        assert!(stderr(&o).contains("--format timesketch is for events, timeline and hunt"));
    }
}
