//! Who is behind a session: Identity Center users (with their permission set), the caller of
//! `sts:AssumeRoot`, and the session that federated into the console with `GetSigninToken`; and
//! the same answers whatever the slicing, thread count, or sharding of the state.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use trailhound::graph::{Graph, Session};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/identity").join(name)
}

fn sessions_of(paths: &[&Path], extra: &[&str]) -> (String, BTreeMap<String, Value>) {
    let mut a: Vec<String> = ["sessions", "--format", "ndjson", "-q"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a.extend(paths.iter().map(|p| p.display().to_string()));
    let o = run(&a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let map = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["access_key_id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    (text, map)
}

fn graph_of(path: &Path) -> Graph {
    let data = trailhound::ingest::ingest_paths(&[path.to_path_buf()]).unwrap();
    Graph::build(&data.events)
}

fn session<'a>(g: &'a Graph, key: &str) -> &'a Session {
    g.get(key).unwrap_or_else(|| panic!("no session {key}"))
}

#[test]
fn identity_center_sessions_resolve_to_the_person_with_the_permission_set() {
    let (_, s) = sessions_of(&[&fixture("identity-center.json")], &[]);
    // Issued by Identity Center's AssumeRoleWithSAML: the person, depth 1.
    let alice = &s["ASIAICEXAMPLE0000001"];
    assert_eq!(alice["root_principal"], "identitycenter:alice@example.com");
    assert_eq!(alice["issued_by_api"], "AssumeRoleWithSAML");
    assert_eq!(
        (
            alice["chain_depth"].as_u64(),
            alice["chain_complete"].as_bool()
        ),
        (Some(1), Some(true))
    );
    // A role she chains into, in another account, is still hers.
    let deploy = &s["ASIAICEXAMPLE0000002"];
    assert_eq!(deploy["root_principal"], "identitycenter:alice@example.com");
    assert_eq!(deploy["parent_access_key_id"], "ASIAICEXAMPLE0000001");
    assert_eq!(deploy["chain_depth"], 2);
    // An identity-enhanced session whose issuing call is not in the logs: the person anyway.
    let bob = &s["ASIAICEXAMPLE0000003"];
    assert_eq!(bob["root_principal"], "identitycenter:bob@example.com");
    assert_eq!(bob["issued_in_window"], false);
    assert_eq!(bob["chain_complete"], true);

    let g = graph_of(&fixture("identity-center.json"));
    let ic = session(&g, "ASIAICEXAMPLE0000001")
        .identity_center()
        .unwrap();
    assert_eq!(&*ic.permission_set, "AdministratorAccess");
    assert_eq!(ic.user_name.as_deref(), Some("alice@example.com"));
    // The chained role is no Identity Center role: the person comes down the chain, not the set.
    assert!(session(&g, "ASIAICEXAMPLE0000002")
        .identity_center()
        .is_none());
    let ic = session(&g, "ASIAICEXAMPLE0000003")
        .identity_center()
        .unwrap();
    assert_eq!(&*ic.permission_set, "ReadOnly");
    assert_eq!(
        ic.user_id.as_deref(),
        Some("94482488-3041-7026-18f3-be45837cd0e4")
    );
    assert_eq!(ic.identity_store_id.as_deref(), Some("d-1234567890"));

    // The tree names the permission set.
    let o = run([
        "sessions",
        "-q",
        "--tree",
        &fixture("identity-center.json").display().to_string(),
    ]);
    let tree = stdout(&o);
    assert!(
        tree.contains("identitycenter:alice@example.com\n"),
        "{tree}"
    );
    assert!(
        tree.contains("identity-center permission_set=AdministratorAccess"),
        "{tree}"
    );
}

#[test]
fn panther_identity_center_records_resolve_to_their_users() {
    let (_, s) = sessions_of(&[&datasets()], &[]);
    for (key, person) in [
        // Panther rule tests: a console sign-in, and Lambda changes by a DevAdmin.
        ("ASIASXP6SDP2HUZY3TOB", "identitycenter:nicholas.hakmiller"),
        ("ASIA123456789EXAMPLE", "identitycenter:bob.ross"),
        ("ASIASXP6SDP2LKLKYYC4", "identitycenter:evil.genius"),
        // Stratus anonymised the ARN; principalId still ends with the user name.
        (
            "ASIA2HJRQF0DHNYEE9N1",
            "identitycenter:randomca0L529zwNAY@gmail.com",
        ),
    ] {
        assert_eq!(s[key]["root_principal"], person, "{key}");
        assert_eq!(s[key]["chain_complete"], true, "{key}");
    }
    let g = graph_of(&datasets());
    let set = |k: &str| {
        session(&g, k)
            .identity_center()
            .map(|i| i.permission_set.to_string())
    };
    assert_eq!(set("ASIASXP6SDP2HUZY3TOB").as_deref(), Some("DevAdmin"));
    assert_eq!(
        set("ASIA2HJRQF0DHNYEE9N1").as_deref(),
        Some("account-admin")
    );
    // Sessions of other roles are not Identity Center's.
    assert!(g
        .sessions
        .iter()
        .filter(|s| s.identity_center().is_some())
        .all(|s| s
            .role_arn
            .as_deref()
            .is_some_and(|r| r.contains("/AWSReservedSSO_"))));
}

#[test]
fn an_assume_root_session_resolves_to_its_caller() {
    let (_, s) = sessions_of(&[&fixture("assume-root.json")], &[]);
    let r = &s["ASIAROOTEXAMPLE00002"];
    assert_eq!(r["issued_by_api"], "AssumeRoot");
    assert_eq!(r["account"], "222222222222");
    assert_eq!(r["cross_account"], true);
    assert_eq!(r["parent_access_key_id"], "ASIAROOTEXAMPLE00001");
    assert_eq!(r["root_principal"], "arn:aws:iam::111111111111:user/john");
    assert_eq!(
        (r["chain_depth"].as_u64(), r["chain_complete"].as_bool()),
        (Some(2), Some(true))
    );
    // Its call as `Root` in the member account is counted on the session.
    assert_eq!(r["calls"], 1);

    let g = graph_of(&fixture("assume-root.json"));
    let a = session(&g, "ASIAROOTEXAMPLE00002")
        .assumed_root
        .clone()
        .unwrap();
    assert_eq!(a.target_account.as_deref(), Some("222222222222"));
    assert_eq!(
        a.task_policy_arn.as_deref(),
        Some("arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy")
    );
    // The root call resolves to john, not to the member account's root user.
    let data = trailhound::ingest::ingest_paths(&[fixture("assume-root.json")]).unwrap();
    let call = data
        .events
        .iter()
        .find(|e| e.event_name.as_deref() == Some("DeleteBucketPolicy"))
        .unwrap();
    assert!(call.notes().assumed_root);
    assert_eq!(
        trailhound::detect::principal_of(&g, call).as_deref(),
        Some("arn:aws:iam::111111111111:user/john")
    );
    // A denied AssumeRoot is an issuing call like a denied AssumeRole, its target read from
    // the error message.
    let denied = data
        .events
        .iter()
        .find(|e| e.event_name.as_deref() == Some("AssumeRoot") && e.is_error)
        .unwrap();
    assert!(denied.is_issuing_call);
    let req = denied.assume_root().unwrap();
    assert_eq!(req.target_account.as_deref(), Some("333333333333"));
    assert_eq!(req.task_policy_arn, None);

    let o = run([
        "sessions",
        "-q",
        "--tree",
        &fixture("assume-root.json").display().to_string(),
    ]);
    let tree = stdout(&o);
    assert!(
        tree.contains("root of account 222222222222  task_policy=arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy"),
        "{tree}"
    );
}

#[test]
fn a_root_session_without_its_assume_root_call_is_no_console_sign_in() {
    let (_, s) = sessions_of(&[&fixture("assume-root-member-only.json")], &[]);
    let r = &s["ASIAROOTEXAMPLE00003"];
    assert_eq!(r["issued_by_api"], "AssumeRoot");
    assert_eq!(r["root_principal"], Value::Null);
    assert_eq!(r["chain_complete"], false);
    assert_eq!(r["account"], "222222222222");
    // Without `assumedRoot`, the same record is the root user's console session.
    let text = std::fs::read_to_string(fixture("assume-root-member-only.json"))
        .unwrap()
        .replace(r#""assumedRoot": "true""#, r#""x": "y""#);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "console.json", text.as_bytes());
    let (_, s) = sessions_of(&[&p], &[]);
    assert_eq!(s["ASIAROOTEXAMPLE00003"]["issued_by_api"], "ConsoleLogin");
}

#[test]
fn a_console_session_links_to_the_session_that_federated_it() {
    let (_, s) = sessions_of(&[&fixture("signin-token.json")], &[]);
    let console = &s["ASIAFEDEXAMPLE000002"];
    assert_eq!(console["parent_access_key_id"], "ASIAFEDEXAMPLE000001");
    assert_eq!(
        console["root_principal"],
        "arn:aws:iam::111111111111:user/carol"
    );
    assert_eq!(console["chain_depth"], 2);
    // The link is inferred (principal and time), not an issuing call: the chain is not complete.
    assert_eq!(console["chain_complete"], false);
    assert_eq!(console["calls"], 2);
    // Another principal's console session, a session of carol's ARN whose calls are not the
    // console's, and carol's session name 13 hours later: not linked.
    for key in [
        "ASIAFEDEXAMPLE000003",
        "ASIAFEDEXAMPLE000005",
        "ASIAFEDEXAMPLE000004",
    ] {
        assert_eq!(s[key]["parent_access_key_id"], Value::Null, "{key}");
        assert_eq!(s[key]["root_principal"], Value::Null, "{key}");
    }
    let g = graph_of(&fixture("signin-token.json"));
    let link = session(&g, "ASIAFEDEXAMPLE000002")
        .signin_link
        .clone()
        .unwrap();
    assert_eq!(link.event_id.as_deref(), Some("fed-0002"));
    let chain: Vec<&str> = g
        .ancestors("ASIAFEDEXAMPLE000002")
        .iter()
        .map(|s| &*s.access_key_id)
        .collect();
    assert_eq!(chain, ["ASIAFEDEXAMPLE000001", "ASIAFEDEXAMPLE000002"]);
}

#[test]
fn console_without_mfa_is_quiet_on_identity_center_sign_ins() {
    let o = run([
        "hunt",
        "-q",
        "--format",
        "ndjson",
        &fixture("console-mfa.ndjson").display().to_string(),
    ]);
    let findings: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|f: &Value| f["kind"] == "console_login_without_mfa")
        .collect();
    let principals: Vec<&str> = findings
        .iter()
        .map(|f| f["principal"].as_str().unwrap())
        .collect();
    // Anaya (IAM user) fires; the Identity Center user's sign-in (MFAUsed: No, answered by the
    // identity provider) does not.
    assert_eq!(
        principals,
        ["arn:aws:iam::111122223333:user/anaya"],
        "{findings:?}"
    );
}

/// Every identity fixture at once.
fn all_fixtures() -> Vec<PathBuf> {
    [
        "identity-center.json",
        "assume-root.json",
        "assume-root-member-only.json",
        "signin-token.json",
    ]
    .iter()
    .map(|n| fixture(n))
    .collect()
}

#[test]
fn the_answers_do_not_depend_on_slicing_or_threads() {
    let paths = all_fixtures();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let (want, _) = sessions_of(&refs, &[]);
    for extra in [
        &["--slice-minutes", "1"][..],
        &["--slice-minutes", "7", "--threads", "1"],
        &["--slice-minutes", "1440", "--threads", "3"],
    ] {
        let (got, _) = sessions_of(&refs, extra);
        assert_eq!(got, want, "{extra:?}");
    }
    let mut reversed = refs.clone();
    reversed.reverse();
    assert_eq!(sessions_of(&reversed, &[]).0, want, "file order");
}

/// Writes some of a fixture's records to a file of their own.
fn part(dir: &Path, name: &str, from: &Path, keep: impl Fn(usize) -> bool) -> PathBuf {
    let v: Value = serde_json::from_slice(&std::fs::read(from).unwrap()).unwrap();
    let recs: Vec<&Value> = v["Records"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(_, r)| r)
        .collect();
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    write(
        &sub,
        "records.json",
        serde_json::json!({ "Records": recs })
            .to_string()
            .as_bytes(),
    )
}

#[test]
fn shards_merged_link_what_each_shard_saw_half_of() {
    let dir = tempfile::tempdir().unwrap();
    // Shard a: the management account's calls (the AssumeRoot, the GetSigninToken); shard b: the
    // root session's call in the member account and the console session's calls.
    let a_in = part(dir.path(), "in-a", &fixture("assume-root.json"), |i| i != 2);
    let b_in = part(dir.path(), "in-b", &fixture("assume-root.json"), |i| i == 2);
    let a2 = part(dir.path(), "in-a2", &fixture("signin-token.json"), |i| {
        i <= 2
    });
    let b2 = part(dir.path(), "in-b2", &fixture("signin-token.json"), |i| {
        i > 2
    });
    let state = |name: &str, inputs: &[&Path]| {
        let s = dir.path().join(name);
        let mut a: Vec<String> = [
            "report",
            "-q",
            "--format",
            "json",
            "--keep-expired-hours",
            "100000",
            "--out",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        a.push(
            dir.path()
                .join(format!("{name}.json"))
                .display()
                .to_string(),
        );
        a.push("--state".into());
        a.push(s.display().to_string());
        a.extend(inputs.iter().map(|p| p.display().to_string()));
        let o = run(&a);
        assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
        s
    };
    let a = state("a", &[&a_in, &a2]);
    let b = state("b", &[&b_in, &b2]);
    let merged = dir.path().join("merged");
    let o = run([
        "state",
        "merge",
        "-q",
        &a.display().to_string(),
        &b.display().to_string(),
        "--into",
        &merged.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run([
        "state",
        "sessions",
        "--format",
        "ndjson",
        &merged.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (want, _) = sessions_of(
        &[&fixture("assume-root.json"), &fixture("signin-token.json")],
        &[],
    );
    assert_eq!(stdout(&o), want);
    // Shard b alone: a root session of unknown origin, a console session of unknown origin.
    let o = run([
        "state",
        "sessions",
        "--format",
        "ndjson",
        &b.display().to_string(),
    ]);
    let got = stdout(&o);
    let line = got
        .lines()
        .find(|l| l.contains("ASIAROOTEXAMPLE00002"))
        .unwrap();
    assert!(line.contains(r#""issued_by_api":"AssumeRoot""#), "{line}");
    assert!(line.contains(r#""root_principal":null"#), "{line}");
}
