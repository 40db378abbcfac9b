//! The saved hunts (`queries/*.sql`) run unchanged in polars SQL (`trailhound query`) and in
//! DuckDB over the Parquet lake `trailhound report` writes, and give the same rows.
//!
//! DuckDB's Python package (pinned below) is installed on first use into
//! ~/.cache/trailhound/duckdb-venv from PyPI (94 MB; 1.5 min on the shared development
//! machine); tests/duckdb/query.py registers the `events` and `sessions` views over the lake and
//! runs a query file as it is. The test is skipped, saying so, only when PyPI cannot be reached.

use crate::common::{code, datasets, root, run, sample_logs, stderr};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const DUCKDB: &str = "2.0.1";

/// Why there is no DuckDB to compare with.
enum NoDuckdb {
    /// PyPI cannot be reached: the test is skipped.
    Offline(String),
    /// Anything else fails the test.
    Failed(String),
}

/// The virtual environment's python with DuckDB importable, installing it when missing.
fn ensure_duckdb() -> Result<PathBuf, NoDuckdb> {
    crate::common::python_venv(
        "duckdb-venv",
        &[&format!("duckdb=={DUCKDB}")],
        &format!("import duckdb; assert duckdb.__version__ == '{DUCKDB}'"),
    )
    .map_err(|e| {
        if pypi_reachable() {
            NoDuckdb::Failed(e)
        } else {
            NoDuckdb::Offline(e)
        }
    })
}

/// Whether PyPI answers (through the environment's proxy settings, as pip does).
fn pypi_reachable() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/duckdb/', timeout=15)",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A result as DuckDB shows it: column names, and every value as its text (NULL as None).
#[derive(Debug, PartialEq)]
struct Rows {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

fn rows(v: &Value) -> Rows {
    let text = |x: &Value| x.as_str().map(str::to_string);
    Rows {
        columns: v["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect(),
        rows: v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(text).collect())
            .collect(),
    }
}

/// The query in DuckDB over `lake`, and trailhound's result of it (`result`, Parquet) as DuckDB
/// reads it back: (duckdb, trailhound).
fn duckdb(python: &Path, lake: &Path, sql: &Path, result: &Path) -> (Rows, Rows) {
    let o = Command::new(python)
        .arg(root().join("tests/duckdb/query.py"))
        .args([lake, sql, result])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "DuckDB refused {}:\n{}",
        sql.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    (rows(&v["duckdb"]), rows(&v["trailhound"]))
}

#[test]
fn every_saved_query_gives_the_same_rows_in_polars_and_duckdb() {
    let python = match ensure_duckdb() {
        Ok(p) => p,
        Err(NoDuckdb::Offline(e)) => {
            eprintln!("SKIPPED: PyPI cannot be reached to install DuckDB {DUCKDB}: {e}");
            return;
        }
        Err(NoDuckdb::Failed(e)) => panic!("DuckDB {DUCKDB} is needed for this test: {e}"),
    };
    // The sample (break-in, denials, console sign-ins with MFA) and Stratus Red Team's real
    // events (IAM persistence, a console sign-in without MFA): every query has rows.
    let logs = [
        sample_logs().display().to_string(),
        datasets()
            .join("datadog_stratus-red-team")
            .display()
            .to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let mut args = vec!["-q", "report", "--state", state.to_str().unwrap()];
    let report = dir.path().join("report.json");
    args.extend(["--format", "json", "--out", report.to_str().unwrap()]);
    args.extend(logs.iter().map(String::as_str));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let lake = state.join("lake");

    // Besides the saved queries: the lake holds the events and sessions `query` reads.
    let mut counts = Vec::new();
    for table in ["events", "sessions"] {
        let file = dir.path().join(format!("count-{table}.sql"));
        std::fs::write(&file, format!("SELECT count(*) AS {table} FROM {table}")).unwrap();
        counts.push(file);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("queries"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files.extend(counts);

    for sql in &files {
        let name = sql.file_name().unwrap().to_string_lossy().to_string();
        let result = dir.path().join(format!("{name}.parquet"));
        let mut args = vec!["-q", "query", "--format", "parquet"];
        args.extend(["--out", result.to_str().unwrap()]);
        args.extend(["--file", sql.to_str().unwrap()]);
        args.extend(logs.iter().map(String::as_str));
        let o = run(&args);
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));

        let (mut theirs, mut ours) = duckdb(&python, &lake, sql, &result);
        assert!(!ours.rows.is_empty(), "{name}: no rows to compare");
        assert_eq!(ours.columns, theirs.columns, "{name}: columns");
        let text = std::fs::read_to_string(sql).unwrap().to_ascii_uppercase();
        if !text.contains("ORDER BY") {
            ours.rows.sort();
            theirs.rows.sort();
        }
        assert_eq!(ours.rows.len(), theirs.rows.len(), "{name}: row count");
        for (i, (a, b)) in ours.rows.iter().zip(&theirs.rows).enumerate() {
            assert_eq!(a, b, "{name}: row {i} (polars SQL, then DuckDB)");
        }
    }
}
