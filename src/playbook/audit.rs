//! The audit log: one JSON line per applied run (and per rollback), appended, never rewritten.
//!
//! A [`Record`] holds who ran what against which target, every call with its result, and the
//! state read before and after; `playbook rollback RUN_ID` restores the state before from it.
//! Records hold no credentials. Default path: `$XDG_DATA_HOME/trailhound/audit.jsonl`, else
//! `~/.local/share/trailhound/audit.jsonl`.

use super::plan::{Call, Resource, Target};
use crate::error::{Error, Result};
use crate::event::{format_iso, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Who the calls were made as (sts:GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub account: Option<String>,
    pub arn: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    Apply,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallStatus {
    Ok,
    Failed,
    /// Not run because an earlier call failed.
    NotRun,
    /// Not run because the resource was already in the wanted state (rollback).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call: Call,
    pub status: CallStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One resource's state: a policy document, a key status, or null when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub resource: Resource,
    pub state: Option<Value>,
    /// The read failed: the state is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every call succeeded.
    Applied,
    /// Some calls ran, then one failed: see `calls`.
    Partial,
    /// The first change failed, or a check before it: nothing was changed.
    Failed,
    /// Refused before any change (wrong account, protected role, state changed since the run).
    Refused,
}

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub run_id: String,
    pub kind: RunKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolls_back: Option<String>,
    pub started: String,
    pub finished: String,
    pub trailhound_version: String,
    pub playbook: String,
    pub caller: Option<Caller>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
    pub target: Target,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    pub calls: Vec<CallRecord>,
    pub before: Vec<Snapshot>,
    pub after: Vec<Snapshot>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why this run cannot be rolled back (recreate-role, rotate-external-id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_rollback: Option<String>,
    /// rotate-external-id: the SHA-256 of the new external id (never the id itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_external_id_sha256: Option<String>,
    /// `contain`: the principal at the root of the chain (for `verify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_principal: Option<String>,
    /// `contain`: one record per step, in the order run (a rollback: in the order undone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Record>,
}

impl Record {
    /// A record with no calls yet.
    pub fn new(run_id: &str, kind: RunKind, playbook: &str, target: Target) -> Record {
        Record {
            run_id: run_id.to_string(),
            kind,
            rolls_back: None,
            started: String::new(),
            finished: String::new(),
            trailhound_version: env!("CARGO_PKG_VERSION").into(),
            playbook: playbook.to_string(),
            caller: None,
            assumed_role: None,
            endpoint_url: None,
            target,
            account: None,
            cutoff: None,
            calls: Vec::new(),
            before: Vec::new(),
            after: Vec::new(),
            outcome: Outcome::Failed,
            error: None,
            no_rollback: None,
            new_external_id_sha256: None,
            root_principal: None,
            steps: Vec::new(),
        }
    }
}

/// `$XDG_DATA_HOME/trailhound/audit.jsonl`, else `~/.local/share/trailhound/audit.jsonl`.
pub fn default_path() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    from("XDG_DATA_HOME")
        .or_else(|| from("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("trailhound").join("audit.jsonl"))
}

/// The audit log to use: `--audit-log`, else the default.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(default_path)
        .ok_or_else(|| {
            Error::Usage("no audit log location: HOME is not set; give --audit-log FILE".into())
        })
}

/// A new run id: UTC time and 6 hex digits, e.g. `20260302T100501Z-3fa9c1`.
pub fn new_run_id(now: Millis) -> String {
    let t = format_iso(now - now.rem_euclid(1000)).replace(['-', ':'], "");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix = (u64::from(nanos) ^ (u64::from(std::process::id()) << 20))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{t}-{:06x}", (mix >> 40) & 0xff_ffff)
}

/// Appends one record as one line. The line is written with a single call, so concurrent
/// appenders do not interleave.
pub fn append(path: &Path, record: &Record) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| Error::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
    }
    let mut line = serde_json::to_string(record).map_err(|e| err(&e))?;
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| err(&e))?;
    f.write_all(line.as_bytes()).map_err(|e| err(&e))?;
    f.sync_data().map_err(|e| err(&e))
}

/// Every record in the log, in order; lines that do not parse are reported, not fatal.
pub fn read_all(path: &Path) -> Result<(Vec<Record>, Vec<String>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => {
            return Err(Error::Usage(format!(
                "cannot read the audit log {}: {e}",
                path.display()
            )))
        }
    };
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) => records.push(r),
            Err(e) => bad.push(format!(
                "{}:{}: not an audit record: {e}",
                path.display(),
                i + 1
            )),
        }
    }
    Ok((records, bad))
}

/// The record of `run_id`.
pub fn find(path: &Path, run_id: &str) -> Result<Record> {
    let (records, _) = read_all(path)?;
    if let Some(r) = records.iter().find(|r| r.run_id == run_id) {
        return Ok(r.clone());
    }
    let recent: Vec<&str> = records
        .iter()
        .rev()
        .take(5)
        .map(|r| r.run_id.as_str())
        .collect();
    Err(Error::Usage(format!(
        "run {run_id} is not in the audit log {}{}",
        path.display(),
        if recent.is_empty() {
            " (it holds no runs; give the log the run was written to with --audit-log FILE)"
                .to_string()
        } else {
            format!(" (latest runs: {})", recent.join(", "))
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::plan::{revoke_document, Call, Resource, Target};

    fn record(id: &str) -> Record {
        let resource = Resource::RoleInlinePolicy {
            role_name: "R".into(),
            policy_name: "AWSRevokeOlderSessions".into(),
        };
        Record {
            run_id: id.into(),
            kind: RunKind::Apply,
            rolls_back: None,
            started: "2026-03-02T10:00:00Z".into(),
            finished: "2026-03-02T10:00:01Z".into(),
            trailhound_version: "0".into(),
            playbook: "revoke-role-sessions".into(),
            caller: None,
            assumed_role: None,
            endpoint_url: None,
            target: Target::Role {
                name: "R".into(),
                arn: None,
                path: None,
            },
            account: None,
            cutoff: None,
            calls: vec![CallRecord {
                call: Call::PutRolePolicy {
                    role_name: "R".into(),
                    policy_name: "AWSRevokeOlderSessions".into(),
                    policy_document: revoke_document(0),
                },
                status: CallStatus::Ok,
                attempts: 1,
                error: None,
            }],
            before: vec![Snapshot {
                resource: resource.clone(),
                state: None,
                error: None,
            }],
            after: vec![Snapshot {
                resource,
                state: Some(revoke_document(0)),
                error: None,
            }],
            outcome: Outcome::Applied,
            error: None,
            no_rollback: None,
            new_external_id_sha256: None,
            root_principal: None,
            steps: Vec::new(),
        }
    }

    #[test]
    fn records_round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/audit.jsonl");
        append(&path, &record("a")).unwrap();
        append(&path, &record("b")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"garbage\n")
            .unwrap();
        let (all, bad) = read_all(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(find(&path, "b").unwrap(), record("b"));
        let e = find(&path, "zz").unwrap_err().to_string();
        assert!(e.contains("latest runs: b, a"), "{e}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text
            .lines()
            .next()
            .unwrap()
            .contains(r#""api":"iam:PutRolePolicy","RoleName":"R""#));
    }

    #[test]
    fn run_ids_differ_and_carry_the_time() {
        let a = new_run_id(1_772_445_600_000);
        assert!(a.starts_with("20260302T100000Z-"), "{a}");
        assert_eq!(a.len(), "20260302T100000Z-".len() + 6);
    }
}
