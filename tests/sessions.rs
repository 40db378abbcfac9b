//! The session graph: every temporary key linked to the call that issued it, with exact chains.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use trailhound::graph::{Graph, SESSION_COLUMNS};
use trailhound_generate::{write_sample, SampleSpec};

fn sessions(path: &Path) -> BTreeMap<String, Value> {
    let o = run([
        "sessions",
        "--format",
        "ndjson",
        "-q",
        &path.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["access_key_id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn ndjson_has_exactly_the_documented_keys() {
    let all = sessions(&datasets());
    assert!(!all.is_empty());
    for v in all.values() {
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, SESSION_COLUMNS);
    }
}

#[test]
fn every_sample_session_matches_what_the_generator_issued() {
    // The generator is deterministic: regenerate the truth in memory (and the tree on disk).
    let dir = tempfile::tempdir().unwrap();
    let truth = write_sample(&SampleSpec::default(), dir.path()).unwrap();
    let data = trailhound::ingest::ingest_paths(&[sample_logs()]).unwrap();
    let graph = Graph::build(&data.events);
    assert_eq!(
        graph.sessions.len(),
        truth.sessions.len(),
        "one session per issued key"
    );
    let mut wrong = Vec::new();
    for want in &truth.sessions {
        let Some(got) = graph.get(&want.access_key_id) else {
            wrong.push(format!("{}: missing", want.access_key_id));
            continue;
        };
        let got_tuple = (
            got.issued_by_api.as_deref(),
            got.account.as_deref(),
            got.role_arn.as_deref(),
            got.parent_access_key_id.as_deref(),
            got.chain_depth,
            got.root_principal.as_deref(),
            got.source_identity.as_deref(),
            got.chain_complete,
        );
        let want_tuple = (
            Some(want.issued_by_api.as_str()),
            Some(want.account.as_str()),
            want.role_arn.as_deref(),
            want.parent_access_key_id.as_deref(),
            want.chain_depth,
            want.root_principal.as_deref(),
            want.source_identity.as_deref(),
            want.root_principal.is_some(),
        );
        if got_tuple != want_tuple {
            wrong.push(format!(
                "{}:\n  got  {got_tuple:?}\n  want {want_tuple:?}",
                want.access_key_id
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} sessions wrong:\n{}",
        wrong.len(),
        truth.sessions.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_committed_sample_is_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    write_sample(&SampleSpec::default(), dir.path()).unwrap();
    let list = |root: &Path| -> Vec<(String, Vec<u8>)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let fresh = list(dir.path());
    let committed = list(&sample_logs());
    assert_eq!(fresh.len(), committed.len(), "file count");
    for (a, b) in fresh.iter().zip(&committed) {
        assert_eq!(a.0, b.0);
        assert!(
            a.1 == b.1,
            "{} differs: regenerate with `trailhound generate --out sample-logs`",
            a.0
        );
    }
}

#[test]
fn awsdocs_role_chain_keeps_source_identity() {
    let all = sessions(&datasets().join("awsdocs"));
    let s = &all["ASIAWHOJDLGPOEXAMPLE"];
    assert_eq!(s["issued_by_api"], "AssumeRole");
    assert_eq!(s["source_identity"], "JohnDoe");
    assert_eq!(s["parent_access_key_id"], "AKIAI44QH8DHBEXAMPLE");
    assert_eq!(s["caller_type"], "AssumedRole");
    assert_eq!(
        s["chain_complete"], false,
        "the parent's issuing call is not in the docs"
    );
    assert_eq!(s["root_principal"], Value::Null, "no invented root");
    assert!(s["chain_depth"].as_u64().unwrap() >= 2);
}

#[test]
fn awsdocs_cross_account_pair_is_one_session() {
    let all = sessions(&datasets().join("awsdocs/iam-user-guide_examples.events.ndjson"));
    let s = &all["AKIAQRSTUVWXYZEXAMPLE"];
    assert_eq!(s["account"], "111122223333");
    assert_eq!(s["role_arn"], "arn:aws:iam::111122223333:role/EC2-dev");
    assert_eq!(s["caller_arn"], "arn:aws:iam::777788889999:user/JohnDoe");
    assert_eq!(
        s["root_principal"],
        "arn:aws:iam::777788889999:user/JohnDoe"
    );
    assert_eq!(s["cross_account"], true);
    assert_eq!(s["chain_depth"], 1);
    assert_eq!(s["source_identity"], "JohnDoe");
    let data = trailhound::ingest::ingest_paths(&[
        datasets().join("awsdocs/iam-user-guide_examples.events.ndjson")
    ])
    .unwrap();
    let issuing = data
        .events
        .iter()
        .filter(|e| e.sts().issued_access_key_id.as_deref() == Some("AKIAQRSTUVWXYZEXAMPLE"))
        .count();
    assert_eq!(issuing, 2, "both account copies are in the events");
}

#[test]
fn awsdocs_federation_subjects_are_roots() {
    let all = sessions(&datasets().join("awsdocs"));
    let saml = all
        .values()
        .find(|s| s["issued_by_api"] == "AssumeRoleWithSAML")
        .unwrap();
    assert_eq!(saml["chain_depth"], 1);
    assert!(saml["root_principal"].is_string());
    assert_eq!(saml["source_identity"], "MySAMLUser");
    let web = all
        .values()
        .find(|s| s["issued_by_api"] == "AssumeRoleWithWebIdentity")
        .unwrap();
    assert_eq!(web["chain_depth"], 1);
    assert!(web["root_principal"].is_string());
    assert_eq!(web["source_identity"], "MyWebIdentityUser");
}

#[test]
fn stratus_federation_token_session() {
    let f = datasets().join("datadog_stratus-red-team/aws.persistence.sts-federation-token.json");
    let all = sessions(&f);
    assert_eq!(all.len(), 1);
    let s = &all["ASIASTJKC5GCM7ZE6LUP"];
    assert_eq!(s["issued_by_api"], "GetFederationToken");
    assert_eq!(s["role_arn"], Value::Null);
    assert_eq!(s["session_name"], "stratus_red_team");
    assert_eq!(s["account"], "742491224508");
    assert_eq!(
        s["root_principal"],
        "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user"
    );
    assert_eq!(s["parent_access_key_id"], Value::Null);
    assert_eq!(s["caller_access_key_id"], "AKIA6V1GNZTT65XQH36M");
    assert_eq!(s["chain_depth"], 1);
    assert_eq!(s["chain_complete"], true);
    assert_eq!(s["calls"], 1);
    assert_eq!(s["expires_at"], "2024-11-30T20:43:17Z");
}

#[test]
fn stratus_stolen_instance_credentials_have_no_invented_origin() {
    let f = datasets()
        .join("datadog_stratus-red-team/aws.credential-access.ec2-steal-instance-credentials.json");
    let all = sessions(&f);
    assert_eq!(all.len(), 1, "the IAM user's AKIA key is not a session");
    let s = &all["ASIAP5CT9NN8EYVU1FXV"];
    assert_eq!(s["issued_by_api"], Value::Null);
    assert_eq!(s["issued_in_window"], false);
    assert_eq!(s["chain_complete"], false);
    assert_eq!(s["root_principal"], Value::Null);
    assert_eq!(
        s["role_arn"],
        "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role"
    );
    assert_eq!(s["session_name"], "i-786a3A8B5C0d92eF4");
    assert_eq!(s["calls"], 2);
    assert_eq!(s["source_ips"], serde_json::json!(["18.236.253.47"]));
}

#[test]
fn tree_and_timeline_follow_a_chain() {
    let dir = datasets()
        .join("datadog_stratus-red-team/aws.credential-access.ec2-get-password-data.json");
    let p = dir.display().to_string();
    let o = run(["sessions", "--tree", "-q", &p]);
    assert_eq!(code(&o), 0);
    let tree = stdout(&o);
    assert!(
        tree.starts_with("arn:aws:iam::457448411975:user/christophe\n"),
        "{tree}"
    );
    assert!(tree.contains("└─ ASIA"), "{tree}");
    // The user's long-term key: its own calls only, then down through the sessions it issued.
    let rows = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "timeline",
            "-q",
            "--key",
            "AKIAWOGXN38MFN92ING5",
            "--format",
            "ndjson",
        ];
        args.extend_from_slice(extra);
        args.push(&p);
        let o = run(args);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    assert_eq!(rows(&[]).len(), 4, "2 denied and 2 successful AssumeRole");
    let all = rows(&["--with-descendants"]);
    assert_eq!(
        all.len(),
        34,
        "plus the 30 GetPasswordData calls of the two sessions"
    );
    assert!(all
        .windows(2)
        .all(|w| w[0]["event_time"].as_str() <= w[1]["event_time"].as_str()));
    assert_eq!(all.iter().filter(|r| r["hop_depth"] == 1).count(), 30);
    let o = run(["timeline", "-q", "--key", "ASIANOSUCHKEY", &p]);
    assert_eq!(code(&o), 2);
}

#[test]
fn sessions_as_csv_flatten_the_address_list() {
    let o = run([
        "sessions",
        "-q",
        "--format",
        "csv",
        "--min-depth",
        "3",
        &sample_logs().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next().unwrap(), SESSION_COLUMNS.join(","));
    let row = lines.next().unwrap();
    assert!(row.contains(",70.112.44.9,"), "{row}");
    assert_eq!(lines.next(), None, "one session of depth 3 in the sample");
}
