//! Whole-tree tests: determinism, the ground truth against what was written, layout and size.

use super::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

/// A fresh directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p =
            std::env::temp_dir().join(format!("trailhound-generate-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `dir`, by path relative to it, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn gunzip(bytes: &[u8]) -> Value {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .unwrap();
    serde_json::from_str(&s).unwrap()
}

fn is_digest(rel: &str) -> bool {
    rel.contains("/CloudTrail-Digest/")
}

/// All records of a tree, with the path of their file.
fn records(files: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (rel, bytes) in files {
        if is_digest(rel) {
            continue;
        }
        let doc = gunzip(bytes);
        for r in doc["Records"].as_array().unwrap() {
            out.push((rel.clone(), r.clone()));
        }
    }
    out
}

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

#[test]
fn same_spec_gives_identical_trees() {
    let (a, b) = (Scratch::new("det-a"), Scratch::new("det-b"));
    let spec = SampleSpec::default();
    let ta = write_sample(&spec, &a.0).unwrap();
    let tb = write_sample(&spec, &b.0).unwrap();
    assert_eq!(ta, tb);
    let (fa, fb) = (tree(&a.0), tree(&b.0));
    assert_eq!(fa.len(), fb.len());
    for (k, v) in &fa {
        assert!(fb.get(k) == Some(v), "{k} differs between runs");
    }
    // Another seed gives another tree.
    let c = Scratch::new("det-c");
    let other = SampleSpec {
        seed: 8,
        ..SampleSpec::default()
    };
    let tc = write_sample(&other, &c.0).unwrap();
    assert_ne!(ta.sessions, tc.sessions);
}

#[test]
fn truth_matches_the_tree() {
    let dir = Scratch::new("truth");
    let truth = write_sample(&SampleSpec::default(), &dir.0).unwrap();
    let files = tree(&dir.0);
    // The bundled sample stays small.
    let total: usize = files.values().map(Vec::len).sum();
    assert!(total < 2 * 1024 * 1024, "sample is {total} bytes");
    let logs: Vec<&String> = files.keys().filter(|k| !is_digest(k)).collect();
    assert_eq!(truth.files as usize, logs.len());
    let recs = records(&files);
    assert_eq!(truth.events as usize, recs.len());

    // Layout: names, and each record in its account's and region's folder.
    for (rel, r) in &recs {
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 8, "{rel}");
        let (acct, region) = (parts[1], parts[3]);
        assert_eq!(parts[0], "AWSLogs");
        assert_eq!(parts[2], "CloudTrail");
        let name = parts[7];
        let prefix = format!(
            "{acct}_CloudTrail_{region}_{}{}{}T",
            parts[4], parts[5], parts[6]
        );
        assert!(name.starts_with(&prefix), "{rel}");
        assert!(name.ends_with(".json.gz"));
        let suffix = &name[prefix.len() + 4..name.len() - 8];
        assert!(suffix.starts_with("Z_") && suffix.len() == 18, "{name}");
        assert_eq!(s(&r["recipientAccountId"]), Some(acct));
        assert_eq!(s(&r["awsRegion"]), Some(region));
        // The file is named after (not before) the events it holds.
        let stamp = &name[prefix.len() - 9..prefix.len() + 4];
        let t = s(&r["eventTime"]).unwrap().replace(['-', ':'], "");
        assert!(t[..13] <= *stamp, "{t} in {name}");
    }
    let digests: Vec<&String> = files.keys().filter(|k| is_digest(k)).collect();
    assert_eq!(digests.len(), 1);
    let digest = gunzip(&files[digests[0]]);
    for lf in digest["logFiles"].as_array().unwrap() {
        assert!(files.contains_key(s(&lf["s3Object"]).unwrap()));
    }
    assert!(digest["digestS3Object"].as_str().unwrap() == digests[0].as_str());

    // Unique event ids; cross-account copies share sharedEventID and responseElements.
    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    let mut shared: HashMap<&str, Vec<&Value>> = HashMap::new();
    for (_, r) in &recs {
        let id = s(&r["eventID"]).unwrap();
        assert!(by_id.insert(id, r).is_none(), "duplicate eventID {id}");
        if let Some(sh) = s(&r["sharedEventID"]) {
            shared.entry(sh).or_default().push(r);
        }
    }
    for group in shared.values().filter(|g| g.len() == 2) {
        assert_eq!(group[0]["responseElements"], group[1]["responseElements"]);
        assert!(group
            .iter()
            .any(|r| s(&r["userIdentity"]["type"]) == Some("AWSAccount")));
    }

    // Sessions: sorted, parents known, depth, root and source identity inherited.
    let keys: Vec<&str> = truth
        .sessions
        .iter()
        .map(|x| x.access_key_id.as_str())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    let by_key: HashMap<&str, &ExpectedSession> = truth
        .sessions
        .iter()
        .map(|x| (x.access_key_id.as_str(), x))
        .collect();
    assert_eq!(by_key.len(), truth.sessions.len());
    for x in &truth.sessions {
        assert!(x.access_key_id.starts_with("ASIA") && x.access_key_id.len() == 20);
        match &x.parent_access_key_id {
            Some(p) => {
                let parent = by_key.get(p.as_str()).expect("parent listed");
                assert_eq!(x.chain_depth, parent.chain_depth + 1);
                assert_eq!(x.root_principal, parent.root_principal);
                if parent.source_identity.is_some() {
                    assert_eq!(x.source_identity, parent.source_identity);
                }
            }
            None => assert_eq!(x.chain_depth, 1),
        }
        match &x.issuing_event_id {
            Some(id) => {
                let e = by_id[id.as_str()];
                assert_eq!(s(&e["eventName"]), Some(x.issued_by_api.as_str()));
                let creds = &e["responseElements"]["credentials"];
                assert_eq!(s(&creds["accessKeyId"]), Some(x.access_key_id.as_str()));
                assert!(s(&creds["sessionToken"]).unwrap().len() > 150);
                assert!(s(&creds["expiration"]).unwrap().ends_with('M'));
                let signer = s(&e["userIdentity"]["accessKeyId"]);
                match &x.parent_access_key_id {
                    Some(p) => assert_eq!(signer, Some(p.as_str())),
                    None => assert!(signer.is_none_or(|k| k.starts_with("AKIA"))),
                }
                if x.chain_depth > 1 && x.issued_by_api == "AssumeRole" {
                    let d = e["requestParameters"]["durationSeconds"]
                        .as_i64()
                        .unwrap_or(3600);
                    assert!(d <= 3600);
                }
                assert_eq!(
                    s(&e["responseElements"]["sourceIdentity"]),
                    x.source_identity.as_deref()
                );
            }
            None => {
                assert_eq!(x.issued_by_api, "ConsoleLogin");
                assert!(x.role_arn.is_none() && x.parent_access_key_id.is_none());
            }
        }
    }
    let apis: HashSet<&str> = truth
        .sessions
        .iter()
        .map(|x| x.issued_by_api.as_str())
        .collect();
    for api in [
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "GetSessionToken",
        "GetFederationToken",
        "ConsoleLogin",
    ] {
        assert!(apis.contains(api), "no session issued by {api}");
    }
    assert!(truth.sessions.iter().any(|x| x.chain_depth == 3));
    // Every temporary key that signs a record is in the truth, consistently.
    let mut used = HashSet::new();
    for (_, r) in &recs {
        let ui = &r["userIdentity"];
        let Some(k) = s(&ui["accessKeyId"]) else {
            continue;
        };
        if !k.starts_with("ASIA") {
            continue;
        }
        used.insert(k);
        let x = by_key.get(k).unwrap_or_else(|| panic!("{k} not in truth"));
        let sc = &ui["sessionContext"];
        assert_eq!(s(&sc["sourceIdentity"]), x.source_identity.as_deref());
        if let Some(role) = &x.role_arn {
            assert_eq!(s(&ui["type"]), Some("AssumedRole"));
            assert_eq!(s(&sc["sessionIssuer"]["arn"]), Some(role.as_str()));
        }
    }
    for x in truth
        .sessions
        .iter()
        .filter(|x| x.issued_by_api == "ConsoleLogin")
    {
        assert!(used.contains(x.access_key_id.as_str()));
    }

    // Incidents: all kinds, with events that exist.
    let kinds: Vec<&str> = truth.incidents.iter().map(|i| i.kind.as_str()).collect();
    for k in [
        "failed_then_success",
        "odd_ip",
        "deep_role_chain",
        "unusual_hour",
        "credential_exfiltration",
    ] {
        assert!(kinds.contains(&k), "missing incident {k}");
    }
    for inc in &truth.incidents {
        assert!(!inc.event_ids.is_empty());
        for id in &inc.event_ids {
            assert!(by_id.contains_key(id.as_str()), "{}: {id}", inc.kind);
        }
    }
    // failed_then_success: denials with null parameters, one sharing the success's second.
    let fts = truth
        .incidents
        .iter()
        .find(|i| i.kind == "failed_then_success")
        .unwrap();
    let evs: Vec<&Value> = fts.event_ids.iter().map(|i| by_id[i.as_str()]).collect();
    let denied: Vec<&&Value> = evs
        .iter()
        .filter(|e| s(&e["errorCode"]) == Some("AccessDenied"))
        .collect();
    assert!(denied.len() >= 2);
    assert!(denied.iter().all(|e| e["requestParameters"].is_null()));
    let ok = evs
        .iter()
        .find(|e| s(&e["eventName"]) == Some("AssumeRole") && e.get("errorCode").is_none())
        .unwrap();
    assert!(denied.iter().any(|d| d["eventTime"] == ok["eventTime"]));
}

#[test]
fn short_samples_work() {
    for days in [1, 3] {
        let dir = Scratch::new(&format!("short{days}"));
        let spec = SampleSpec {
            days,
            ..SampleSpec::default()
        };
        let t = write_sample(&spec, &dir.0).unwrap();
        assert!(t.events > 0 && t.files > 0);
        assert_eq!(records(&tree(&dir.0)).len() as u64, t.events);
    }
}

#[test]
fn corpus_reaches_its_target_deterministically() {
    let (a, b) = (Scratch::new("corpus-a"), Scratch::new("corpus-b"));
    let spec = CorpusSpec {
        target_events: 10_000,
        ..CorpusSpec::default()
    };
    let sa = write_corpus(&spec, &a.0).unwrap();
    let sb = write_corpus(&spec, &b.0).unwrap();
    assert_eq!(sa, sb);
    assert!(sa.events >= 10_000);
    let files = tree(&a.0);
    assert_eq!(files, tree(&b.0));
    assert_eq!(
        files.keys().filter(|k| !is_digest(k)).count() as u64,
        sa.files
    );
    let bytes: u64 = files
        .iter()
        .filter(|(k, _)| !is_digest(k))
        .map(|(_, v)| v.len() as u64)
        .sum();
    assert_eq!(bytes, sa.bytes_gz);
    assert_eq!(records(&files).len() as u64, sa.events);
}
