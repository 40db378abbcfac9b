//! `trailhound collect --key K --logs PATH --out DIR`: the evidence of a session chain, kept
//! with hashes.
//!
//! Takes a key anywhere in a chain and local log files; writes into DIR every raw record the
//! chain made (the original JSON text as it was in the source file, re-read from it; only
//! records holding a secret are re-serialized with the secret redacted), its sessions, its
//! findings, its source addresses, what it created, and `manifest.json` with the SHA-256 and
//! size of every file written and of every source file the records came from; then `DIR.tar.gz`
//! holding all of it (a plain ustar archive, gzipped).

use super::derive::sha256_hex;
use super::now;
use crate::error::{Error, Result};
use crate::event::{format_iso, Event};
use crate::graph::{Graph, Session};
use crate::ingest::{decode, source, Source};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Keys whose values are secrets in a record; compared case-insensitively.
const SECRETS: [&str; 8] = [
    "sessiontoken",
    "secretaccesskey",
    "webidentitytoken",
    "samlassertion",
    "password",
    "newpassword",
    "externalid",
    "sts:externalid",
];

pub const REDACTED: &str = "<redacted>";

fn might_hold_secret(text: &str) -> bool {
    let l = text.to_ascii_lowercase();
    SECRETS.iter().any(|k| l.contains(&format!("\"{k}\"")))
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if SECRETS.contains(&k.to_ascii_lowercase().as_str()) && !val.is_null() {
                    *val = Value::String(REDACTED.into());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A record's text with secrets redacted (the original text when it holds none).
pub fn redacted_text(raw: &str) -> String {
    if !might_hold_secret(raw) {
        return raw.to_string();
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => json!({"unparsable_record_redacted": true}).to_string(),
    }
}

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    #[serde(rename = "CloudTrailEvent")]
    cloudtrail_event: Option<String>,
}

/// The records of one file's text: a delivery document, a JSON array, or NDJSON (LookupEvents
/// lines carry the record as a string under `CloudTrailEvent`).
fn records_of(text: &str) -> Vec<String> {
    let t = text.trim_start();
    if t.starts_with('{') {
        if let Ok(d) = serde_json::from_str::<Doc>(t) {
            return d.records.iter().map(|r| r.get().to_string()).collect();
        }
    }
    if t.starts_with('[') {
        if let Ok(a) = serde_json::from_str::<Vec<&RawValue>>(t) {
            return a.iter().map(|r| r.get().to_string()).collect();
        }
    }
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Head>(line) {
            Ok(Head {
                cloudtrail_event: Some(inner),
                ..
            }) => out.push(inner),
            Ok(_) => out.push(line.trim().to_string()),
            Err(_) => {}
        }
    }
    out
}

/// A record found in a source file: (eventTime, eventID, index in the file, redacted text).
type Hit = (String, String, usize, String);

/// What the chain did from one source address.
#[derive(Default)]
struct Address {
    calls: u64,
    first: String,
    last: String,
    keys: BTreeSet<String>,
    user_agents: BTreeSet<String>,
}

/// One source file the evidence came from.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFile {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// S3 ETag, when the file came from S3 (not known for local files).
    pub etag: Option<String>,
    pub records: u64,
}

/// One file written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Written {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// The sessions of the chain of `key`: its ancestors and descendants (for a long-term key, every
/// session it started and theirs).
pub fn chain_sessions<'g>(g: &'g Graph, key: &str) -> Result<Vec<&'g Session>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |s: &'g Session| {
        if seen.insert(s.access_key_id.to_string()) {
            out.push(s);
        }
    };
    if key.starts_with("AKIA") {
        for r in g.sessions.iter().filter(|s| {
            s.caller_access_key_id.as_deref() == Some(key) && s.parent_access_key_id.is_none()
        }) {
            g.descendants(&r.access_key_id)
                .into_iter()
                .for_each(&mut add);
        }
    } else {
        if g.get(key).is_none() {
            return Err(Error::Usage(format!(
                "key {key} is not in the logs (neither issued nor used there)"
            )));
        }
        g.ancestors(key)
            .into_iter()
            .chain(g.descendants(key))
            .for_each(&mut add);
    }
    Ok(out)
}

fn is_creation(name: &str) -> bool {
    [
        "Create",
        "Put",
        "Attach",
        "Add",
        "Run",
        "Import",
        "Register",
        "Authorize",
        "Upload",
        "Update",
        "Enable",
        "Start",
        "Copy",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

fn parsed(t: &Option<crate::event::Text>) -> Value {
    t.as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// A minimal ustar archive of (name, bytes), names relative.
pub fn tar(entries: &[(String, Vec<u8>)], mtime: i64) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in entries {
        let mut h = [0u8; 512];
        let (prefix, base) = if name.len() > 100 {
            match name.rsplit_once('/') {
                Some((p, b)) => (p, b),
                None => ("", name.as_str()),
            }
        } else {
            ("", name.as_str())
        };
        let put = |h: &mut [u8; 512], at: usize, len: usize, s: &[u8]| {
            let n = s.len().min(len);
            h[at..at + n].copy_from_slice(&s[..n]);
        };
        put(&mut h, 0, 100, base.as_bytes());
        put(&mut h, 100, 8, b"0000644\0");
        put(&mut h, 108, 8, b"0000000\0");
        put(&mut h, 116, 8, b"0000000\0");
        put(&mut h, 124, 12, format!("{:011o}\0", data.len()).as_bytes());
        put(
            &mut h,
            136,
            12,
            format!("{:011o}\0", mtime.max(0)).as_bytes(),
        );
        put(&mut h, 148, 8, b"        ");
        h[156] = b'0';
        put(&mut h, 257, 6, b"ustar\0");
        put(&mut h, 263, 2, b"00");
        put(&mut h, 345, 155, prefix.as_bytes());
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> Result<Written> {
    let p = dir.join(name);
    std::fs::write(&p, data).map_err(|e| Error::Output {
        path: p.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Written {
        path: name.to_string(),
        size: data.len() as u64,
        sha256: sha256_hex(data),
    })
}

fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    let mut s = serde_json::to_vec_pretty(v).unwrap_or_default();
    s.push(b'\n');
    s
}

/// What `collect` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Collected {
    pub dir: String,
    pub archive: String,
    pub archive_sha256: String,
    pub records: u64,
    pub sessions: usize,
    pub findings: usize,
    pub files: Vec<Written>,
}

/// Collects the evidence of the chain of `key` from local `logs` into `dir`; `read` turns the
/// logs into events (the command's reader, with its warnings), once they are known to be local.
pub fn collect(
    key: &str,
    logs: &[PathBuf],
    dir: &Path,
    read: impl FnOnce(&[PathBuf]) -> Result<Vec<Event>>,
) -> Result<Collected> {
    for p in logs {
        if !matches!(Source::parse(p)?, Source::Local(_)) {
            return Err(Error::Usage(format!(
                "{}: collect re-reads the raw records from the files: sync them first (aws s3 sync s3://BUCKET/PREFIX DIR) and give the folder",
                p.display()
            )));
        }
    }
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Usage(format!(
            "{} exists and is not empty: evidence goes into a new folder",
            dir.display()
        )));
    }
    let events = read(logs)?;
    let events: &[Event] = &events;
    let graph = Graph::build(events);
    let sessions = chain_sessions(&graph, key)?;
    let mut keys: BTreeSet<String> = sessions
        .iter()
        .map(|s| s.access_key_id.to_string())
        .collect();
    if key.starts_with("AKIA") {
        keys.insert(key.to_string());
    }
    if let Some(k) = sessions
        .first()
        .and_then(|s| s.caller_access_key_id.as_deref())
        .filter(|k| k.starts_with("AKIA"))
    {
        keys.insert(k.to_string());
    }
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.access_key_id.as_deref().is_some_and(|k| keys.contains(k))
                || e.sts()
                    .issued_access_key_id
                    .as_deref()
                    .is_some_and(|k| keys.contains(k))
        })
        .collect();
    let ids: BTreeSet<String> = mine
        .iter()
        .filter_map(|e| e.event_id.as_deref().map(str::to_string))
        .collect();

    // The raw records, re-read from the source files.
    let inputs = source::expand(logs)?;
    let found: Vec<(SourceFile, Vec<Hit>)> = inputs
        .par_iter()
        .filter(|i| i.skip.is_none() && i.error.is_none())
        .filter_map(|i| {
            let bytes = std::fs::read(&i.path).ok()?;
            let sha = sha256_hex(&bytes);
            let size = bytes.len() as u64;
            let text = decode::decode(bytes).bytes;
            let text = String::from_utf8_lossy(&text);
            let mut hits = Vec::new();
            for (n, r) in records_of(&text).into_iter().enumerate() {
                let Ok(h) = serde_json::from_str::<Head>(&r) else {
                    continue;
                };
                if h.event_id.as_deref().is_some_and(|id| ids.contains(id)) {
                    hits.push((
                        h.event_time.unwrap_or_default(),
                        h.event_id.unwrap_or_default(),
                        n,
                        redacted_text(&r),
                    ));
                }
            }
            (!hits.is_empty()).then(|| {
                (
                    SourceFile {
                        path: i.path.display().to_string(),
                        size,
                        sha256: sha,
                        etag: None,
                        records: hits.len() as u64,
                    },
                    hits,
                )
            })
        })
        .collect();
    let mut sources: Vec<SourceFile> = Vec::new();
    let mut records: Vec<(String, String, String, usize, String)> = Vec::new();
    for (f, hits) in found {
        for (t, id, n, text) in hits {
            records.push((t, id, f.path.clone(), n, text));
        }
        sources.push(f);
    }
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    records.sort();
    // The same event read twice (a file given twice, an organization trail beside an account
    // trail) is one record.
    records.dedup_by(|a, b| a.4 == b.4);

    // Findings about the chain.
    let geo = crate::geoip::GeoIp::bundled().map_err(|e| Error::Other(e.to_string()))?;
    let findings: Vec<crate::detect::Finding> = crate::detect::hunt(
        events,
        &graph,
        &geo,
        &crate::detect::DetectConfig::default(),
    )
    .into_iter()
    .filter(|f| {
        f.access_key_id.as_deref().is_some_and(|k| keys.contains(k))
            || f.evidence_event_ids.iter().any(|i| ids.contains(i))
    })
    .collect();

    // Source addresses.
    let mut ips: BTreeMap<String, Address> = BTreeMap::new();
    for e in &mine {
        let ip = e.source_ip.as_deref().unwrap_or("(none)").to_string();
        let t = format_iso(e.event_time);
        let x = ips.entry(ip).or_default();
        x.calls += 1;
        if x.first.is_empty() || t < x.first {
            x.first = t.clone();
        }
        if t > x.last {
            x.last = t;
        }
        if let Some(k) = e.access_key_id.as_deref() {
            x.keys.insert(k.to_string());
        }
        if let Some(u) = e.user_agent.as_deref() {
            x.user_agents.insert(u.to_string());
        }
    }
    let addresses: Vec<Value> = ips
        .into_iter()
        .map(|(ip, a)| {
            json!({"source_ip": ip, "calls": a.calls, "first": a.first, "last": a.last,
                "keys": a.keys, "user_agents": a.user_agents})
        })
        .collect();

    // What it created or changed (successful write calls), and the credentials it was issued.
    let created: Vec<Value> = mine
        .iter()
        .filter(|e| {
            e.error_code.is_none()
                && e.access_key_id.as_deref().is_some_and(|k| keys.contains(k))
                && (e.event_name.as_deref().is_some_and(is_creation) || e.is_issuing_call)
        })
        .map(|e| {
            json!({
                "time": format_iso(e.event_time),
                "event_id": e.event_id.as_deref(),
                "event_source": e.event_source.as_deref(),
                "event_name": e.event_name.as_deref(),
                "account": e.recipient_account_id.as_deref(),
                "region": e.aws_region.as_deref(),
                "access_key_id": e.access_key_id.as_deref(),
                "issued_access_key_id": e.sts().issued_access_key_id.as_deref(),
                "request_parameters": parsed(&e.request_parameters),
                "response_elements": parsed(&e.response_elements),
            })
        })
        .collect();

    std::fs::create_dir_all(dir).map_err(|e| Error::Output {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut jsonl = String::new();
    for r in &records {
        jsonl.push_str(&r.4);
        jsonl.push('\n');
    }
    let session_values: Vec<Value> = sessions
        .iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    let mut files = vec![
        write_file(dir, "records.jsonl", jsonl.as_bytes())?,
        write_file(dir, "sessions.json", &pretty(&session_values))?,
        write_file(dir, "findings.json", &pretty(&findings))?,
        write_file(dir, "source-addresses.json", &pretty(&addresses))?,
        write_file(dir, "created.json", &pretty(&created))?,
    ];
    let collected_at = now();
    let missing = ids.len().saturating_sub(
        records
            .iter()
            .map(|r| r.1.as_str())
            .collect::<BTreeSet<_>>()
            .len(),
    );
    let manifest = json!({
        "what": format!("evidence of the session chain of {key}"),
        "key": key,
        "collected_at": format_iso(collected_at),
        "trailhound_version": env!("CARGO_PKG_VERSION"),
        "root_principal": sessions.first().and_then(|s| s.root_principal.as_deref()),
        "keys": keys,
        "event_ids": ids.len(),
        "records": records.len(),
        "event_ids_not_found_in_files": missing,
        "secrets": format!("values of {} are replaced with {REDACTED}; such records are re-serialized, every other record is its original text", SECRETS.join(", ")),
        "files": files,
        "sources": sources,
    });
    files.push(write_file(dir, "manifest.json", &pretty(&manifest))?);

    // The archive: the folder's files under the folder's name.
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "evidence".into());
    let mut entries = Vec::new();
    for f in &files {
        let bytes = std::fs::read(dir.join(&f.path)).map_err(|e| Error::Output {
            path: f.path.clone(),
            reason: e.to_string(),
        })?;
        entries.push((format!("{base}/{}", f.path), bytes));
    }
    let archive_bytes = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar(&entries, collected_at / 1000))
            .and_then(|_| gz.finish())
            .map_err(|e| Error::Other(format!("cannot compress the archive: {e}")))?
    };
    let mut archive = dir.as_os_str().to_owned();
    archive.push(".tar.gz");
    let archive = PathBuf::from(archive);
    std::fs::write(&archive, &archive_bytes).map_err(|e| Error::Output {
        path: archive.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(Collected {
        dir: dir.display().to_string(),
        archive: archive.display().to_string(),
        archive_sha256: sha256_hex(&archive_bytes),
        records: records.len() as u64,
        sessions: sessions.len(),
        findings: findings.len(),
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_every_shape_and_secrets_redacted() {
        let doc = r#"{"Records":[{"eventID":"a","x":1},{"eventID":"b","responseElements":{"credentials":{"sessionToken":"SECRET"}}}]}"#;
        let r = records_of(doc);
        assert_eq!(
            r,
            [
                r#"{"eventID":"a","x":1}"#,
                r#"{"eventID":"b","responseElements":{"credentials":{"sessionToken":"SECRET"}}}"#
            ]
        );
        assert_eq!(redacted_text(&r[0]), r[0], "kept as it was");
        let red = redacted_text(&r[1]);
        assert!(!red.contains("SECRET") && red.contains(REDACTED), "{red}");
        assert_eq!(records_of(r#"[{"eventID":"a"}]"#), [r#"{"eventID":"a"}"#]);
        let nd = "{\"CloudTrailEvent\":\"{\\\"eventID\\\":\\\"c\\\"}\"}\n{\"eventID\":\"d\"}\n";
        assert_eq!(records_of(nd), [r#"{"eventID":"c"}"#, r#"{"eventID":"d"}"#]);
        let ext = r#"{"requestParameters":{"externalId":"x-1"}}"#;
        assert!(!redacted_text(ext).contains("x-1"));
    }

    #[test]
    fn tar_headers_are_ustar_with_a_valid_checksum() {
        let t = tar(&[("d/a.txt".into(), b"hello".to_vec())], 0);
        assert_eq!(t.len(), 512 + 512 + 1024);
        assert_eq!(&t[257..263], b"ustar\0");
        let mut h = t[..512].to_vec();
        let stored = String::from_utf8_lossy(&h[148..154]).to_string();
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(u32::from_str_radix(&stored, 8).unwrap(), sum);
        assert_eq!(&t[512..517], b"hello");
    }
}
