//! trailhound: CloudTrail forensics for AWS incident responders.
//!
//! The pipeline flows one way, one module per stage:
//!
//! - [`ingest`] turns paths, s3:// buckets, cloudtrail:// regions -> raw bytes -> records (parallel, tolerant of bad input)
//! - [`event`] turns one record -> one typed [`event::Event`] (the `events` table's columns)
//! - [`graph`] turns events -> the session graph (who issued which temporary key, down the chain)
//! - [`geoip`] turns source address -> class, country, ASN (bundled DB-IP / ip-location-db data, or the user's MaxMind files)
//! - [`detect`] turns events + sessions -> findings, against each principal's own history
//! - [`engine`] runs graph and detections over time-ordered slices of a stream, in bounded memory
//! - [`frame`] turns typed rows -> polars DataFrames and SQL
//! - [`report`] writes rows to sinks (tables, JSON lines, CSV, Parquet, OCSF, Markdown)
//! - [`cli`] turns command-line arguments -> the stages above
//! - [`aws`] loads credentials, region and endpoint for every AWS client
//! - [`playbook`] turns playbook files + a target -> a plan (pure) -> IAM calls, audit, rollback
//! - [`state`] keeps scheduled runs' state: manifest, baselines, Parquet lake; `report` runs nightly
//! - the synthetic data generator (sample-logs, benchmark corpora) is its own crate,
//!   `crates/trailhound-generate`
//! - [`fuzz`] mutates real logs and settings and runs them through every parser and stage (stable toolchain)
#![forbid(unsafe_code)]

pub mod aws;
pub mod cli;
pub mod detect;
pub mod engine;
pub mod error;
pub mod event;
pub mod frame;
pub mod fuzz;
pub mod geoip;
pub mod graph;
pub mod incident;
pub mod ingest;
pub mod playbook;
pub mod progress;
pub mod report;
pub mod state;
pub mod summary;

pub use error::{Error, Exit, Result};

#[cfg(test)]
mod layout {
    //! The stages take and return values: only `src/cli/` (and `main.rs`) know the command line.

    use std::path::{Path, PathBuf};

    /// Every code line (comments left out) of every `.rs` file under `src/`, but `src/cli/` and
    /// `src/main.rs`, that matches `bad`: (file, line number, line).
    fn offenders(bad: impl Fn(&Path, &str) -> bool) -> Vec<(PathBuf, usize, String)> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(&src).sort_by_file_name() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(&src).unwrap();
            if path.extension().is_none_or(|x| x != "rs")
                || rel.starts_with("cli")
                || rel == Path::new("main.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if !code.starts_with("//") && bad(rel, code) {
                    found.push((rel.to_path_buf(), i + 1, line.to_string()));
                }
            }
        }
        found
    }

    #[test]
    fn stages_import_neither_the_cli_nor_clap() {
        // Spelled in pieces, so that this test does not find itself.
        let marks = [
            concat!("crate::", "cli"),
            concat!("clap", "::"),
            concat!("use ", "clap"),
        ];
        let found = offenders(|_, code| marks.iter().any(|m| code.contains(m)));
        assert!(
            found.is_empty(),
            "stage modules that know the command line (move it to src/cli/): {found:#?}"
        );
    }

    #[test]
    fn detect_does_not_build_playbook_commands() {
        let found = offenders(|rel, code| rel.starts_with("detect") && code.contains("playbook::"));
        assert!(found.is_empty(), "detect imports playbook: {found:#?}");
    }
}
