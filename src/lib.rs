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
pub mod ingest;
pub mod playbook;
pub mod progress;
pub mod report;
pub mod state;
pub mod summary;

pub use error::{Error, Exit, Result};
