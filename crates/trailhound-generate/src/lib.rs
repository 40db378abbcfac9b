//! Deterministic synthetic CloudTrail trees: the bundled `sample-logs/` (small, with planted
//! incidents and the full ground truth) and large benchmark corpora.
//!
//! Both are written in CloudTrail's S3 delivery layout,
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alnum>.json.gz`,
//! one gzipped `{"Records":[...]}` per (recipient account, region, 5-minute window), plus one
//! digest file under `CloudTrail-Digest/`.
//!
//! The same spec always gives the same bytes: every unit of work (an actor, an incident, an
//! output file) draws from its own ChaCha stream derived from `(seed, key)`, so units may run in
//! parallel. All source addresses come from the table in [`ips`].
//!
//! How it works: actors (people, services, instances, functions, CI) and incidents *plan*
//! compact events ([`plan::Ev`]) and record every credential they issue; the planned events are
//! sorted into delivery files, and each file is rendered to JSON, lightly shuffled, gzipped and
//! written by its own task.

#![forbid(unsafe_code)]

mod actors;
mod api;
mod clock;
mod incidents;
mod ips;
mod json;
mod plan;
mod render;
mod rng;
mod world;

use chrono::{Datelike, NaiveDate};
use flate2::{Compression, GzBuilder};
use plan::{Ev, Out, F_PIN};
use rayon::prelude::*;
use rng::Draw;
use std::io::Write;
use std::path::{Path, PathBuf};
use world::{World, REGIONS};

/// The bundled sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
}

impl Default for SampleSpec {
    /// Seed 7, seven days from Monday 2026-03-02 (about 1.8 MB gzipped).
    fn default() -> Self {
        SampleSpec {
            seed: 7,
            start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            days: 7,
        }
    }
}

/// A benchmark corpus: the sample's organisation and incidents over at least a week, with
/// background traffic added (people, instances, functions, CI, accounts, then days) until at
/// least `target_events` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusSpec {
    pub seed: u64,
    pub start: NaiveDate,
    pub target_events: u64,
}

impl Default for CorpusSpec {
    /// Seed 7, from Monday 2026-03-02, one million events.
    fn default() -> Self {
        CorpusSpec {
            seed: 7,
            start: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
            target_events: 1_000_000,
        }
    }
}

/// What a corpus run wrote (log files only; the digest file is not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpusStats {
    pub files: u64,
    pub events: u64,
    pub bytes_gz: u64,
}

/// The ground truth of a sample tree.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Truth {
    /// Records written (digest excluded).
    pub events: u64,
    /// Log files written (digest excluded).
    pub files: u64,
    /// Every temporary credential issued (and every console ASIA key used), by access key id.
    pub sessions: Vec<ExpectedSession>,
    pub incidents: Vec<PlantedIncident>,
}

/// One temporary credential and where it came from.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct ExpectedSession {
    /// The ASIA key issued.
    pub access_key_id: String,
    /// AssumeRole | AssumeRoleWithSAML | AssumeRoleWithWebIdentity | GetSessionToken |
    /// GetFederationToken | ConsoleLogin (console keys of IAM users).
    pub issued_by_api: String,
    /// Account the session lives in (the role's; the caller's for GetSessionToken,
    /// GetFederationToken and console keys).
    pub account: String,
    /// None for GetSessionToken, GetFederationToken and console keys.
    pub role_arn: Option<String>,
    /// Role session name, or the federated user's name (GetFederationToken).
    pub session_name: Option<String>,
    /// The ASIA key that signed the issuing call; None when the caller was not a session.
    pub parent_access_key_id: Option<String>,
    /// 1 = issued to a non-session principal; +1 per hop.
    pub chain_depth: u32,
    /// IAM user ARN, service name (`ec2.amazonaws.com`, ...), or SAML / web-identity subject.
    pub root_principal: Option<String>,
    /// Set at issue or inherited from the parent; never invented.
    pub source_identity: Option<String>,
    /// eventID of the issuing call (the caller's copy across accounts); None for console keys,
    /// which no event issues.
    pub issuing_event_id: Option<String>,
}

/// An incident planted in the sample.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct PlantedIncident {
    /// failed_then_success | odd_ip | deep_role_chain | unusual_hour | credential_exfiltration
    pub kind: String,
    /// Root principal ARN (people, service users) or role ARN (instance credentials).
    pub principal: String,
    pub access_key_id: Option<String>,
    /// eventIDs of the records that show it.
    pub event_ids: Vec<String>,
    pub description: String,
}

fn day_number(d: NaiveDate) -> i64 {
    clock::days_from_civil(i64::from(d.year()), d.month(), d.day())
}

/// Writes the sample tree under `out_dir` (created if needed; files already there are left
/// alone) and returns its ground truth.
pub fn write_sample(spec: &SampleSpec, out_dir: &Path) -> std::io::Result<Truth> {
    let w = World::sample(spec.seed, day_number(spec.start), spec.days.max(1));
    let outs: Vec<Out> = units(&w).into_par_iter().map(|u| run_unit(&w, u)).collect();
    let mut chunks = Vec::new();
    let mut sessions = Vec::new();
    let mut incidents = Vec::new();
    for o in outs {
        chunks.push(o.evs);
        sessions.extend(o.sessions);
        incidents.extend(o.incidents);
    }
    let written = write_tree(&w, chunks, out_dir, Compression::best())?;
    sessions.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
    Ok(Truth {
        events: written.events,
        files: written.files,
        sessions,
        incidents,
    })
}

/// Writes a corpus of at least `spec.target_events` records under `out_dir`.
pub fn write_corpus(spec: &CorpusSpec, out_dir: &Path) -> std::io::Result<CorpusStats> {
    let target = spec.target_events;
    let days = (target.div_ceil(150_000)).clamp(7, 91) as u32;
    let mut w = World::sample(spec.seed, day_number(spec.start), days);
    // Session tokens as long as real ones (the sample keeps them shorter to stay small).
    w.token_len = 700;
    // Planned events stay in their units' vectors (written through one sorted list of
    // references): no huge reallocation while planning.
    let mut chunks: Vec<Vec<Ev>> = units(&w)
        .into_par_iter()
        .map(|u| run_unit(&w, u).evs)
        .collect();
    let mut total: u64 = chunks.iter().map(|c| c.len() as u64).sum();
    let mut per_replica = 0u64;
    while total < target {
        let missing = target - total;
        let batch = if per_replica == 0 {
            1
        } else {
            (missing.div_ceil(per_replica)).clamp(1, 64)
        };
        let marks = (
            w.humans.len(),
            w.instances.len(),
            w.lambdas.len(),
            w.cis.len(),
        );
        for _ in 0..batch {
            w.add_replica();
        }
        let mut new_units = Vec::new();
        new_units.extend((marks.0..w.humans.len()).map(Unit::Human));
        new_units.extend((marks.1..w.instances.len()).map(Unit::Instance));
        new_units.extend((marks.2..w.lambdas.len()).map(Unit::Lambda));
        new_units.extend((marks.3..w.cis.len()).map(Unit::Ci));
        let wr = &w;
        let more: Vec<Vec<Ev>> = new_units
            .into_par_iter()
            .map(|u| run_unit(wr, u).evs)
            .collect();
        let added: u64 = more.iter().map(|c| c.len() as u64).sum();
        chunks.extend(more);
        total += added;
        per_replica = (added / batch).max(1);
    }
    let written = write_tree(&w, chunks, out_dir, Compression::fast())?;
    Ok(written)
}

/// A unit of planning work.
#[derive(Clone, Copy)]
enum Unit {
    Human(usize),
    Saml(usize),
    Instance(usize),
    Lambda(usize),
    Ci(usize),
    Reporting,
    Portal,
    Services,
    FailedThenSuccess,
    DeepChain,
    UnusualHour,
}

fn units(w: &World) -> Vec<Unit> {
    let mut v = Vec::new();
    v.extend((0..w.humans.len()).map(Unit::Human));
    v.extend((0..w.samls.len()).map(Unit::Saml));
    v.extend((0..w.instances.len()).map(Unit::Instance));
    v.extend((0..w.lambdas.len()).map(Unit::Lambda));
    v.extend((0..w.cis.len()).map(Unit::Ci));
    v.extend([Unit::Reporting, Unit::Portal, Unit::Services]);
    v.extend([Unit::FailedThenSuccess, Unit::DeepChain, Unit::UnusualHour]);
    v
}

fn run_unit(w: &World, u: Unit) -> Out {
    let mut out = match u {
        Unit::Human(i) => actors::human(w, i),
        Unit::Saml(i) => actors::saml(w, i),
        Unit::Instance(i) => actors::instance(w, i),
        Unit::Lambda(i) => actors::lambda(w, i),
        Unit::Ci(i) => actors::ci(w, i),
        Unit::Reporting => actors::svc_reporting(w),
        Unit::Portal => actors::svc_portal(w),
        Unit::Services => actors::services(w),
        Unit::FailedThenSuccess => incidents::failed_then_success(w),
        Unit::DeepChain => incidents::deep_role_chain(w),
        Unit::UnusualHour => incidents::unusual_hour(w),
    };
    out.evs.shrink_to_fit();
    out
}

/// One written log file, for the digest.
struct FileInfo {
    acct: usize,
    region: u8,
    key: String,
    time: i64,
    oldest: i64,
    newest: i64,
}

const WINDOW: i64 = 300;

/// Sorts the planned events into delivery files and writes them, in parallel; then the digest.
fn write_tree(
    w: &World,
    mut chunks: Vec<Vec<Ev>>,
    out_dir: &Path,
    level: Compression,
) -> std::io::Result<CorpusStats> {
    let mut seq = 0u32;
    for e in chunks.iter_mut().flatten() {
        e.seq = seq;
        seq = seq.wrapping_add(1);
    }
    let mut evs: Vec<&Ev> = chunks.iter().flatten().collect();
    evs.sort_unstable_by_key(|e| (e.acct, e.region, e.t.div_euclid(WINDOW), e.t, e.seq));
    let file_of = |e: &Ev| (e.acct, e.region, e.t.div_euclid(WINDOW));
    let mut groups: Vec<&[&Ev]> = Vec::new();
    let mut start = 0;
    for i in 1..=evs.len() {
        if i == evs.len() || file_of(evs[i - 1]) != file_of(evs[i]) {
            groups.push(&evs[start..i]);
            start = i;
        }
    }
    let results: Vec<std::io::Result<(FileInfo, u64)>> = groups
        .par_iter()
        .map(|g| write_file(w, g, out_dir, level))
        .collect();
    let mut stats = CorpusStats::default();
    let mut infos = Vec::with_capacity(results.len());
    for r in results {
        let (info, bytes) = r?;
        stats.files += 1;
        stats.bytes_gz += bytes;
        infos.push(info);
    }
    stats.events = evs.len() as u64;
    write_digest(w, &infos, out_dir, level)?;
    Ok(stats)
}

fn gzip(data: &[u8], level: Compression) -> std::io::Result<Vec<u8>> {
    let mut enc = GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(data.len() / 6 + 64), level);
    enc.write_all(data)?;
    enc.finish()
}

fn write_file(
    w: &World,
    g: &[&Ev],
    out_dir: &Path,
    level: Compression,
) -> std::io::Result<(FileInfo, u64)> {
    let first = g[0];
    let acct = first.acct as usize;
    let region = REGIONS[first.region as usize];
    let window = first.t.div_euclid(WINDOW);
    let account = &w.accounts[acct].id;
    let mut rng = rng::derive(w.seed, &format!("file:{account}:{region}:{window}"));
    let time = (window + 1) * WINDOW + 60 + rng.between(0, 360);
    let suffix = rng.alnum(16);
    // Near-sorted, as CloudTrail delivers: swap a few close neighbours.
    let mut order: Vec<usize> = (0..g.len()).collect();
    for i in 1..order.len() {
        let (a, b) = (g[order[i - 1]], g[order[i]]);
        let pinned = (a.flags | b.flags) & F_PIN != 0;
        if !pinned && (b.t - a.t) <= 90 && rng.chance(0.15) {
            order.swap(i - 1, i);
        }
    }
    let mut text = String::with_capacity(g.len() * 1600 + 16);
    text.push_str("{\"Records\":[");
    for (k, &i) in order.iter().enumerate() {
        if k > 0 {
            text.push(',');
        }
        render::render(g[i], w, &mut text);
    }
    text.push_str("]}");
    let gz = gzip(text.as_bytes(), level)?;
    let (y, m, d) = clock::ymd(time);
    let rel = format!(
        "AWSLogs/{account}/CloudTrail/{region}/{y}/{m}/{d}/{account}_CloudTrail_{region}_{}_{suffix}.json.gz",
        clock::compact(time, false)
    );
    let path = out_dir.join(&rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, &gz)?;
    let oldest = g.iter().map(|e| e.t).min().unwrap_or(time);
    let newest = g.iter().map(|e| e.t).max().unwrap_or(time);
    Ok((
        FileInfo {
            acct,
            region: first.region,
            key: rel,
            time,
            oldest,
            newest,
        },
        gz.len() as u64,
    ))
}

/// The one digest file: the identity account's us-east-1 hour starting 14:21:07 on day one.
fn write_digest(
    w: &World,
    infos: &[FileInfo],
    out_dir: &Path,
    level: Compression,
) -> std::io::Result<PathBuf> {
    let acct = w.cast.identity;
    let account = &w.accounts[acct].id;
    let region = REGIONS[0];
    let mut rng = rng::derive(w.seed, "digest");
    let start = w.start + 14 * 3600 + 21 * 60 + 7;
    let end = start + 3600;
    let mut files: Vec<&FileInfo> = infos
        .iter()
        .filter(|f| f.acct == acct && f.region == 0 && f.time >= start && f.time < end)
        .collect();
    files.sort_by(|a, b| a.key.cmp(&b.key));
    let (y, m, d) = clock::ymd(end);
    let rel = format!(
        "AWSLogs/{account}/CloudTrail-Digest/{region}/{y}/{m}/{d}/{account}_CloudTrail-Digest_{region}_{}_{region}_{}.json.gz",
        w.trail,
        clock::compact(end, true)
    );
    let log_files: Vec<String> = files
        .iter()
        .map(|f| {
            json::Obj::new()
                .s("s3Bucket", &w.bucket)
                .s("s3Object", &f.key)
                .s("hashValue", &rng.hex(64))
                .s("hashAlgorithm", "SHA-256")
                .s("newestEventTime", &clock::iso_string(f.newest))
                .s("oldestEventTime", &clock::iso_string(f.oldest))
                .end()
        })
        .collect();
    let newest = files.iter().map(|f| f.newest).max();
    let oldest = files.iter().map(|f| f.oldest).min();
    let digest = json::Obj::new()
        .s("awsAccountId", account)
        .s("digestStartTime", &clock::iso_string(start))
        .s("digestEndTime", &clock::iso_string(end))
        .s("digestS3Bucket", &w.bucket)
        .s("digestS3Object", &rel)
        .s("digestPublicKeyFingerprint", &rng.hex(32))
        .s("digestSignatureAlgorithm", "SHA256withRSA")
        .oraw(
            "newestEventTime",
            newest
                .map(|t| format!("\"{}\"", clock::iso_string(t)))
                .as_deref(),
        )
        .oraw(
            "oldestEventTime",
            oldest
                .map(|t| format!("\"{}\"", clock::iso_string(t)))
                .as_deref(),
        )
        .raw("previousDigestS3Bucket", "null")
        .raw("previousDigestS3Object", "null")
        .raw("previousDigestHashValue", "null")
        .raw("previousDigestHashAlgorithm", "null")
        .raw("previousDigestSignature", "null")
        .raw("logFiles", &json::array(&log_files))
        .end();
    let path = out_dir.join(&rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, gzip(digest.as_bytes(), level)?)?;
    Ok(path)
}

#[cfg(test)]
mod tests;
