//! The nightly report's content, independent of how it is drawn: [`Digest`] is built by
//! `state::report` from one run and rendered by [`super::html`] and [`super::markdown`] (and
//! written as JSON as it is).

use crate::detect::Finding;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything one report shows, in the order it shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Digest {
    /// e.g. "trailhound report".
    pub title: String,
    /// When the run happened (ISO 8601, UTC).
    pub generated_at: String,
    /// The run's id (also the Parquet part names of this run).
    pub run_id: String,
    /// First and last event time among the events new in this run (ISO), if any.
    pub window: Option<(String, String)>,
    /// The new findings grouped into incidents (see `crate::incident`), shown first.
    pub incidents: Vec<crate::incident::Incident>,
    /// New findings of this run, most severe first; each with its chain drawn and commands.
    pub findings: Vec<ReportedFinding>,
    pub charts: Charts,
    /// Most active principals in this run's events: (principal, calls, errors).
    pub top_principals: Vec<(String, u64, u64)>,
    /// Roles most assumed in this run: (role ARN, successful AssumeRole*, denied).
    pub top_roles: Vec<(String, u64, u64)>,
    pub read: ReadSummary,
}

/// A finding as reported: the finding itself plus what a person needs to act on it.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    /// The session chain as text lines, from the root principal down (each line already
    /// indented, e.g. "arn:aws:iam::1:user/alice", "└─ ASIA... AssumeRole role/admin depth 1").
    pub chain_tree: Vec<String>,
    /// Exact shell commands that contain it (`trailhound revoke ...`, `trailhound playbook run ...`),
    /// dry runs; empty when nothing IAM can do applies.
    pub contain: Vec<String>,
}

/// Time series and lists for the charts. Times are hour starts in epoch milliseconds (UTC).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Charts {
    /// Calls per hour, per account (recipient account): account -> [(hour_ms, calls)], hours
    /// ascending, only hours with calls.
    pub calls_per_hour: BTreeMap<String, Vec<(i64, u64)>>,
    /// AssumeRole* calls per hour: [(hour_ms, successes, denials)], hours ascending.
    pub assume_role: Vec<(i64, u64, u64)>,
    /// Principals seen for the first time in this run: (principal, first seen ISO).
    pub new_principals: Vec<(String, String)>,
    /// Countries seen for the first time for a principal in this run: (principal, country, ISO).
    pub new_countries: Vec<(String, String, String)>,
}

/// What the run read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReadSummary {
    /// Inputs given (paths, s3:// URLs).
    pub inputs: Vec<String>,
    /// Objects (files) read in this run, and those skipped as already in the manifest.
    pub objects_new: u64,
    pub objects_already_processed: u64,
    pub events_new: u64,
    /// Events of earlier runs the detections were judged against.
    pub events_history: u64,
    pub files_skipped: BTreeMap<String, u64>,
    pub files_failed: u64,
    pub bad_records: u64,
    /// The first problems (file: reason), at most 20.
    pub problems: Vec<String>,
}
