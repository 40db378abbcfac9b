//! Shards of a scheduled job combined into one state: runs as plain processes, one per account
//! group or day range, each with its own state directory, then merged.
//!
//! The merged directory holds every shard's committed runs, manifests and lake parts (the lake
//! is partitioned by account and day, and parts are named by run, so they never collide), and
//! one engine state that combines the shards': the session index (so a chain that crosses
//! shards, a role in one account group assumed from a user in another, resolves to its root),
//! every principal's baseline and profile, and the detections' open windows. The next `report`
//! on the merged directory goes on from it.

use super::{baseline, walk, write_atomic, RunRecord, SavedEngine, State};
use crate::detect::{DetectConfig, Detector};
use crate::error::{Error, Result};
use crate::event::{format_iso, Millis};
use crate::geoip::GeoIp;
use crate::graph::GraphState;
use std::path::{Path, PathBuf};

/// What a merge did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Merged {
    pub shards: usize,
    pub runs: usize,
    pub files_copied: u64,
    pub sessions: usize,
    pub principals: usize,
    pub run_id: String,
    /// Findings only the merged state can see (chains that cross shards), not reported by any
    /// shard; stored in the merged lake under the merge run.
    #[serde(skip)]
    pub findings: Vec<crate::detect::Finding>,
}

/// Merges shard state directories into `into` (new or empty of runs).
pub fn merge(shards: &[PathBuf], into: &Path, now: Millis) -> Result<Merged> {
    let mut target = State::open(into)?;
    if !target.runs().is_empty() {
        return Err(Error::Usage(format!(
            "{}: already holds runs; merge into a new directory",
            into.display()
        )));
    }
    // Merging judges nothing: the detector needs its databases only to exist.
    let geo = GeoIp::bundled().map_err(|e| Error::Other(e.to_string()))?;
    let cfg = DetectConfig::default();
    let mut runs: Vec<RunRecord> = Vec::new();
    let mut forgotten = Vec::new();
    let mut engine: Option<(GraphState, Detector, baseline::Profiles, Millis)> = None;
    let mut copied = 0;
    let mut reported = std::collections::BTreeSet::new();
    for dir in shards {
        if std::fs::canonicalize(dir).ok() == std::fs::canonicalize(into).ok() {
            return Err(Error::Usage(format!(
                "{}: a shard cannot be the merge target",
                dir.display()
            )));
        }
        if !dir.join("state.json").exists() {
            return Err(Error::Usage(format!(
                "{}: not a trailhound state directory (no state.json)",
                dir.display()
            )));
        }
        let shard = State::read(dir)?;
        let ids: std::collections::HashSet<&str> =
            shard.runs().iter().map(|r| r.id.as_str()).collect();
        for f in walk(&dir.join("manifest"))
            .into_iter()
            .chain(walk(&dir.join("lake")))
        {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if !ids.contains(name.split('.').next().unwrap_or("")) {
                continue;
            }
            let rel = f.strip_prefix(dir).unwrap_or(&f);
            let dest = into.join(rel);
            let bytes =
                std::fs::read(&f).map_err(|e| Error::Other(format!("{}: {e}", f.display())))?;
            write_atomic(&dest, &bytes)?;
            copied += 1;
        }
        runs.extend(shard.runs().iter().cloned());
        reported.extend(shard.reported()?);
        forgotten.extend(shard.forgotten().iter().map(|(p, t)| (p.clone(), *t)));
        if let Some(saved) = shard.load_engine()? {
            let g = GraphState::from_saved(saved.graph);
            let d = Detector::restore(&geo, &cfg, saved.detector);
            engine = Some(match engine.take() {
                None => (g, d, saved.profiles, saved.saved_at),
                Some((g0, d0, p0, t0)) => (
                    g0.merge(g),
                    d0.merge(d),
                    p0.merge(saved.profiles),
                    t0.max(saved.saved_at),
                ),
            });
        }
    }
    let ids: std::collections::HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    if ids.len() != runs.len() {
        return Err(Error::Usage(
            "two shards hold the same run (the same state directory given twice?)".into(),
        ));
    }
    runs.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
    // Run ids never hold a dot: the state's files are named `<run>.<ext>`.
    let stamp = format_iso(now - now.rem_euclid(1000)).replace([':', '-'], "");
    let run_id = format!(
        "{}-merge-{}",
        stamp.trim_end_matches('Z'),
        std::process::id()
    );
    let mut out = Merged {
        shards: shards.len(),
        runs: runs.len(),
        files_copied: copied,
        run_id: run_id.clone(),
        ..Merged::default()
    };
    if let Some((g, mut d, p, saved_at)) = engine {
        let graph = g.finish();
        out.sessions = graph.sessions.len();
        out.findings = d
            .finish(&graph)
            .into_iter()
            .filter(|f| !reported.contains(&super::report::finding_key(f)))
            .collect();
        let day = |t: Millis| format_iso(t)[..10].to_string();
        target.write_parts(
            "findings",
            &run_id,
            out.findings.clone(),
            |f| {
                (
                    f.account.clone().unwrap_or_else(|| "unknown".into()),
                    day(f.time),
                )
            },
            |rows| super::report::findings_frame(rows, &run_id),
        )?;
        let profiles = p.finished();
        out.principals = profiles.len();
        target.save_engine(
            &run_id,
            &SavedEngine {
                saved_at,
                graph: g.saved(),
                detector: d.saved(),
                profiles: p,
            },
        )?;
        let bytes =
            serde_json::to_vec_pretty(&profiles).map_err(|e| Error::Other(e.to_string()))?;
        write_atomic(&into.join("baselines.json"), &bytes)?;
    }
    for (p, t) in forgotten {
        if target.forgotten().get(&p).is_none_or(|have| *have < t) {
            target.forget(&p, t)?;
        }
    }
    let last_event = runs.iter().filter_map(|r| r.last_event).max();
    runs.push(RunRecord {
        id: run_id,
        started_at: format_iso(now),
        finished_at: format_iso(now),
        inputs: shards.iter().map(|p| p.display().to_string()).collect(),
        objects: 0,
        events: 0,
        findings: out.findings.len() as u64,
        last_event,
    });
    target.commit_all(runs)?;
    target.close();
    Ok(out)
}

/// The sessions a state's engine knows (the merged index, after a merge), in graph order.
pub fn sessions(dir: &Path) -> Result<Vec<crate::graph::Session>> {
    let state = State::read(dir)?;
    let Some(saved) = state.load_engine()? else {
        return Ok(Vec::new());
    };
    Ok(GraphState::from_saved(saved.graph).finish().sessions)
}
