//! trailhound: CloudTrail forensics for AWS incident responders.
//!
//! The pipeline flows one way, one module per stage:
//!
//! - [`ingest`]: paths -> raw bytes -> records (parallel, tolerant of bad input)
//! - [`event`]: one record -> one typed [`event::Event`] (the `events` table's columns)
//! - [`graph`]: events -> the session graph (who issued which temporary key, down the chain)
//! - [`geoip`]: source address -> class, country, ASN (bundled DB-IP / ip-location-db data, or the user's MaxMind files)
//! - [`detect`]: events + sessions -> findings, against each principal's own history
//! - [`frame`]: typed rows -> polars DataFrames and SQL
//! - [`report`]: sinks (tables, JSON lines, CSV, Parquet)
//! - [`cli`]: command-line arguments -> the stages above
//! - [`generate`]: deterministic synthetic trees (sample-logs, benchmark corpora)
#![forbid(unsafe_code)]

pub mod cli;
pub mod detect;
pub mod error;
pub mod event;
pub mod frame;
pub mod generate;
pub mod geoip;
pub mod graph;
pub mod ingest;
pub mod playbook;
pub mod progress;
pub mod report;
pub mod summary;

pub use error::{Error, Exit, Result};
