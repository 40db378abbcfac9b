//! Response to a whole chain (issue 15): `contain` planned on the sample's three-account chain and
//! applied across two emulated accounts (moto maps credentials of an assumed role to the role's
//! account, so `--assume-role 'arn:aws:iam::{account}:role/incident-response'` acts in each
//! account), then rolled back, with the IAM state read back; `verify` on logs that show the
//! containment holding and not holding; `collect`'s manifest checked against the files.

use crate::common::{code, run, sample_logs, stderr, stdout};
use crate::emulator::moto;
use crate::playbook::{apply, audit_lines, aws_run, revoke_doc, trust, ACCOUNT};
use serde_json::{json, Value};
use std::path::Path;

// ---------------------------------------------------------------------------------------------
// Fixture records.

/// An AssumeRole call by `caller` (an IAM user with a long-term key, or a role session) that
/// issued `issued` for `role_arn`.
fn assume(
    id: &str,
    time: &str,
    caller: &Value,
    recipient: &str,
    role_arn: &str,
    session: &str,
    issued: &str,
) -> Value {
    let account = role_arn.split(':').nth(4).unwrap();
    let role = role_arn.rsplit('/').next().unwrap();
    json!({"eventVersion": "1.08", "userIdentity": caller, "eventTime": time,
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.66", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session, "externalId": "partner-secret-1"},
        "responseElements": {"credentials": {"accessKeyId": issued, "sessionToken": "TOKEN-SECRET-VALUE",
            "expiration": "Mar 2, 2026, 11:00:00 AM"},
            "assumedRoleUser": {"assumedRoleId": format!("AROA{}:{session}", role.to_uppercase()),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")}},
        "eventID": id, "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": recipient})
}

fn user_identity(account: &str, user: &str, key: &str) -> Value {
    json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/{user}"),
        "accountId": account, "accessKeyId": key, "userName": user})
}

fn role_identity(role_arn: &str, session: &str, key: &str) -> Value {
    let account = role_arn.split(':').nth(4).unwrap();
    let role = role_arn.rsplit('/').next().unwrap();
    json!({"type": "AssumedRole", "principalId": format!("AROA{}:{session}", role.to_uppercase()),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"), "accountId": account,
        "accessKeyId": key, "sessionContext": {"sessionIssuer": {"type": "Role",
        "principalId": format!("AROA{}", role.to_uppercase()), "arn": role_arn, "accountId": account,
        "userName": role}, "attributes": {"creationDate": "2026-03-02T10:00:00Z", "mfaAuthenticated": "false"}}})
}

fn call(id: &str, time: &str, who: &Value, name: &str, error: Option<&str>) -> Value {
    let account = who["accountId"].as_str().unwrap();
    let mut v = json!({"eventVersion": "1.08", "userIdentity": who, "eventTime": time,
        "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.66", "userAgent": "aws-cli/2.15.0",
        "requestParameters": null, "responseElements": null, "eventID": id, "readOnly": true,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account});
    if let Some(e) = error {
        v["errorCode"] = json!(e);
        v["errorMessage"] =
            json!("User is not authorized to perform this operation with an explicit deny");
    }
    v
}

fn write_logs(dir: &Path, name: &str, records: &[Value]) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("trail.json"),
        json!({"Records": records}).to_string(),
    )
    .unwrap();
    p.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// contain

#[test]
fn contain_plans_the_samples_three_account_chain_exactly() {
    use trailhound_generate::{write_sample, SampleSpec};
    let dir = tempfile::tempdir().unwrap();
    let truth = write_sample(&SampleSpec::default(), dir.path()).unwrap();
    let inc = truth
        .incidents
        .iter()
        .find(|i| i.kind == "deep_role_chain")
        .expect("the sample plants a deep role chain");
    let key = inc.access_key_id.as_deref().unwrap();
    // The chain in the truth: the key's session and its ancestors, root first.
    let mut chain = Vec::new();
    let mut k = Some(key.to_string());
    while let Some(cur) = k {
        let s = truth
            .sessions
            .iter()
            .find(|s| s.access_key_id == cur)
            .unwrap();
        chain.push(s.clone());
        k = s.parent_access_key_id.clone();
    }
    chain.reverse();
    assert_eq!(chain.len(), 3, "three hops");

    let o = run([
        "contain",
        "--key",
        key,
        "--logs",
        sample_logs().to_str().unwrap(),
        "--cutoff",
        "2026-12-01T00:00:00Z",
        "--assume-role",
        "arn:aws:iam::{account}:role/incident-response",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = &v["plan"];
    let steps: Vec<(String, String, String)> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["target"].as_str().unwrap().to_string(),
                s["account"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let root_key = p["root_key"].as_str().expect("a long-term key at the root");
    assert!(root_key.starts_with("AKIA"));
    let user = inc.principal.clone();
    let user_account = user.split(':').nth(4).unwrap().to_string();
    let mut want = vec![
        (
            "deactivate-access-key".to_string(),
            root_key.to_string(),
            user_account.clone(),
        ),
        (
            "revoke-user-sessions".to_string(),
            user.clone(),
            user_account.clone(),
        ),
    ];
    for s in &chain {
        want.push((
            "revoke-role-sessions".into(),
            s.role_arn.clone().unwrap(),
            s.account.clone(),
        ));
    }
    assert_eq!(steps, want, "{p:#}");
    // Three role accounts, all different, each step naming its account.
    let role_accounts: std::collections::BTreeSet<&str> =
        chain.iter().map(|s| s.account.as_str()).collect();
    assert_eq!(role_accounts.len(), 3);
    assert_eq!(p["root_principal"], user.as_str());
    assert_eq!(p["cutoff"], "2026-12-01T00:00:00Z");
    for s in p["steps"].as_array().unwrap() {
        assert!(!s["plan"]["calls"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        p["steps"][2]["plan"]["calls"][0]["PolicyDocument"],
        revoke_doc("2026-12-01T00:00:00Z")
    );
    // The text plan names the role each account is entered through.
    let o = run([
        "contain",
        "--key",
        key,
        "--logs",
        sample_logs().to_str().unwrap(),
        "--assume-role",
        "arn:aws:iam::{account}:role/incident-response",
        "-q",
    ]);
    let s = stdout(&o);
    for c in &chain {
        assert!(
            s.contains(&format!(
                "as:  arn:aws:iam::{}:role/incident-response",
                c.account
            )),
            "{s}"
        );
    }
    assert!(s.contains("DRY RUN"), "{s}");

    // A cutoff before the chain was issued would deny none of it: refused.
    let o = run([
        "contain",
        "--key",
        key,
        "--logs",
        sample_logs().to_str().unwrap(),
        "--cutoff",
        "2026-03-01T00:00:00Z",
        "-q",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("is not after"), "{}", stderr(&o));

    // Instance credentials at the root: contained on that instance only, not the whole role.
    let inc = truth
        .incidents
        .iter()
        .find(|i| i.kind == "credential_exfiltration")
        .expect("the sample plants stolen instance credentials");
    let key = inc.access_key_id.as_deref().unwrap();
    let s = truth
        .sessions
        .iter()
        .find(|s| s.access_key_id == key)
        .unwrap();
    let o = run([
        "contain",
        "--key",
        key,
        "--logs",
        sample_logs().to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = v["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{v:#}");
    assert_eq!(steps[0]["action"], "contain-instance-credentials");
    assert_eq!(steps[0]["account"], s.account.as_str());
    let instance_arn = steps[0]["plan"]["instance_arn"].as_str().unwrap();
    assert!(
        instance_arn.ends_with(&format!(":instance/{}", s.session_name.as_deref().unwrap()))
            && !instance_arn.contains('*'),
        "{instance_arn}"
    );
}

#[test]
fn contain_applies_across_two_accounts_stops_at_a_failing_step_and_rolls_back() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let (a, b) = ("333333333333", "444444444444");
    let user = "ct-alice";
    let role_a = format!("arn:aws:iam::{a}:role/ct-role-a");
    let role_b = format!("arn:aws:iam::{b}:role/ct-role-b");
    let iam = |acct: &str, call: &str, p: Value| {
        m.call_in(Some(acct), "iam", call, p.clone())
            .unwrap_or_else(|e| panic!("{call} {p}: {e}"))
    };
    iam(a, "create_user", json!({"UserName": user}));
    let key = iam(a, "create_access_key", json!({"UserName": user}))["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_string();
    iam(
        a,
        "create_role",
        json!({"RoleName": "ct-role-a", "AssumeRolePolicyDocument": trust().to_string()}),
    );
    let (s1, s2) = ("ASIACTCHAINHOPA00001", "ASIACTCHAINHOPB00002");
    let alice = user_identity(a, user, &key);
    let logs = write_logs(
        dir.path(),
        "logs",
        &[
            assume(
                "10000000-0000-4000-8000-000000000001",
                "2026-03-02T10:00:00Z",
                &alice,
                a,
                &role_a,
                "hop-a",
                s1,
            ),
            assume(
                "10000000-0000-4000-8000-000000000002",
                "2026-03-02T10:01:00Z",
                &role_identity(&role_a, "hop-a", s1),
                a,
                &role_b,
                "hop-b",
                s2,
            ),
            call(
                "10000000-0000-4000-8000-000000000003",
                "2026-03-02T10:02:00Z",
                &role_identity(&role_b, "hop-b", s2),
                "ListBuckets",
                None,
            ),
        ],
    );
    let cutoff = "2026-03-02T12:00:00Z";
    let template = "arn:aws:iam::{account}:role/incident-response";
    let args = [
        "contain",
        "--key",
        s2,
        "--logs",
        &logs,
        "--cutoff",
        cutoff,
        "--assume-role",
        template,
        "--external-id",
        "ir-external-9",
    ];
    let role_policy = |acct: &str, role: &str| {
        m.call_in(
            Some(acct),
            "iam",
            "get_role_policy",
            json!({"RoleName": role, "PolicyName": "AWSRevokeOlderSessions"}),
        )
        .ok()
        .map(|v| v["PolicyDocument"].clone())
    };
    let user_policy = || {
        m.call_in(
            Some(a),
            "iam",
            "get_user_policy",
            json!({"UserName": user, "PolicyName": "AWSRevokeOlderSessions"}),
        )
        .ok()
        .map(|v| v["PolicyDocument"].clone())
    };
    let key_status = || {
        iam(a, "list_access_keys", json!({"UserName": user}))["AccessKeyMetadata"][0]["Status"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Dry run: four steps in two accounts, nothing changed.
    let mut dry = args.to_vec();
    dry.extend(["--format", "json", "-q"]);
    let o = aws_run(m, &audit, &dry);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let plan: Vec<(&str, &str)> = v["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["action"].as_str().unwrap(),
                s["account"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        plan,
        [
            ("deactivate-access-key", a),
            ("revoke-user-sessions", a),
            ("revoke-role-sessions", a),
            ("revoke-role-sessions", b)
        ]
    );
    assert_eq!(v["plan"]["accounts"], json!([a, b]));
    assert_eq!(key_status(), "Active");

    // Role B does not exist yet: step 4 fails, steps 1-3 stay applied, the run says so.
    let mut ap = args.to_vec();
    ap.extend(["--apply", "-q"]);
    let o = aws_run(m, &audit, &ap);
    assert_eq!(code(&o), 2, "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("step 4 of 4 (revoke-role-sessions")
            && err.contains("applied: steps 1, 2, 3; not applied: steps 4"),
        "{err}"
    );
    assert!(stdout(&o).contains("PARTLY APPLIED"), "{}", stdout(&o));
    assert_eq!(key_status(), "Inactive");
    assert_eq!(user_policy(), Some(revoke_doc(cutoff)));
    assert_eq!(role_policy(a, "ct-role-a"), Some(revoke_doc(cutoff)));
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1, "one audit record for the whole run");
    assert_eq!(lines[0]["outcome"], "partial");
    assert_eq!(lines[0]["steps"].as_array().unwrap().len(), 4);
    let failed_id = lines[0]["run_id"].as_str().unwrap().to_string();
    // Rollback still works: every applied step, in reverse.
    let rb = apply(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            &failed_id,
            "--assume-role",
            template,
        ],
    );
    assert_eq!(rb["steps"].as_array().unwrap().len(), 3);
    assert_eq!(key_status(), "Active");
    assert_eq!(user_policy(), None);
    assert_eq!(role_policy(a, "ct-role-a"), None);

    // With role B there, everything applies in both accounts.
    iam(
        b,
        "create_role",
        json!({"RoleName": "ct-role-b", "AssumeRolePolicyDocument": trust().to_string()}),
    );
    let r = apply(m, &audit, &args);
    assert_eq!(key_status(), "Inactive");
    assert_eq!(user_policy(), Some(revoke_doc(cutoff)));
    assert_eq!(role_policy(a, "ct-role-a"), Some(revoke_doc(cutoff)));
    assert_eq!(role_policy(b, "ct-role-b"), Some(revoke_doc(cutoff)));
    let callers: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["caller"]["account"].as_str().unwrap())
        .collect();
    assert_eq!(callers, [a, a, a, b]);
    assert_eq!(
        r["steps"][3]["assumed_role"],
        format!("arn:aws:iam::{b}:role/incident-response")
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !log.contains("ir-external-9"),
        "the external id is never stored"
    );

    // verify on the contain run: role A's old session was denied after the cutoff, role B's
    // still worked: not held, and each step's subject is judged in its own account.
    let mut after: Vec<Value> = serde_json::from_str::<Value>(
        &std::fs::read_to_string(Path::new(&logs).join("trail.json")).unwrap(),
    )
    .unwrap()["Records"]
        .as_array()
        .unwrap()
        .clone();
    after.push(call(
        "10000000-0000-4000-8000-000000000004",
        "2026-03-02T12:30:00Z",
        &role_identity(&role_a, "hop-a", s1),
        "ListBuckets",
        Some("AccessDenied"),
    ));
    after.push(call(
        "10000000-0000-4000-8000-000000000005",
        "2026-03-02T12:31:00Z",
        &role_identity(&role_b, "hop-b", s2),
        "ListBuckets",
        None,
    ));
    let after = write_logs(dir.path(), "after", &after);
    let o = run([
        "verify",
        r["run_id"].as_str().unwrap(),
        "--logs",
        &after,
        "--audit-log",
        audit.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_role = |name: &str| {
        v["cuts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["subject"]["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} judged: {v:#}"))
    };
    let ra = by_role("ct-role-a");
    assert_eq!(
        (ra["held"].clone(), ra["subject"]["account"].clone()),
        (json!(true), json!(a))
    );
    assert_eq!(ra["denied"].as_array().unwrap().len(), 1);
    let rb = by_role("ct-role-b");
    assert_eq!(
        (rb["held"].clone(), rb["subject"]["account"].clone()),
        (json!(false), json!(b))
    );
    assert_eq!(
        v["root_principals"],
        json!([format!("arn:aws:iam::{a}:user/{user}")])
    );

    // One rollback undoes the four steps, newest first.
    let rb = apply(
        m,
        &audit,
        &[
            "playbook",
            "rollback",
            r["run_id"].as_str().unwrap(),
            "--assume-role",
            template,
        ],
    );
    let order: Vec<&str> = rb["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["caller"]["account"].as_str().unwrap())
        .collect();
    assert_eq!(order, [b, a, a, a]);
    assert_eq!(key_status(), "Active");
    assert_eq!(user_policy(), None);
    assert_eq!(role_policy(a, "ct-role-a"), None);
    assert_eq!(role_policy(b, "ct-role-b"), None);
    assert_eq!(audit_lines(&audit).len(), 4);
}

#[test]
fn contain_includes_roles_reached_by_sessions_chained_out_of_a_revoked_role() {
    let dir = tempfile::tempdir().unwrap();
    let acct = "666666666666";
    let role = |n: &str| format!("arn:aws:iam::{acct}:role/{n}");
    let (a, b, c, d, e) = (
        role("co-a"),
        role("co-b"),
        role("co-c"),
        role("co-d"),
        role("co-e"),
    );
    let alice = user_identity(acct, "co-alice", "AKIACOALICE000000001");
    let bob = user_identity(acct, "co-bob", "AKIACOBOB00000000001");
    let with_exp = |mut v: Value, exp: &str| {
        v["responseElements"]["credentials"]["expiration"] = json!(exp);
        v
    };
    let id = |n: u32| format!("40000000-0000-4000-8000-{n:012}");
    let recs = [
        // The chain asked about: alice -> co-a (s1) -> co-b (s2).
        with_exp(
            assume(
                &id(1),
                "2026-03-02T10:00:00Z",
                &alice,
                acct,
                &a,
                "s1",
                "ASIACOSESSION0000001",
            ),
            "Mar 2, 2026, 11:00:00 AM",
        ),
        with_exp(
            assume(
                &id(2),
                "2026-03-02T10:01:00Z",
                &role_identity(&a, "s1", "ASIACOSESSION0000001"),
                acct,
                &b,
                "s2",
                "ASIACOSESSION0000002",
            ),
            "Mar 2, 2026, 11:01:00 AM",
        ),
        // The same session also went to co-c: part of this chain's tree.
        with_exp(
            assume(
                &id(3),
                "2026-03-02T10:02:00Z",
                &role_identity(&a, "s1", "ASIACOSESSION0000001"),
                acct,
                &c,
                "s3",
                "ASIACOSESSION0000003",
            ),
            "Mar 2, 2026, 11:02:00 AM",
        ),
        // Another session of co-a, cut off by revoking it, chained into co-d (still valid at the
        // cutoff: included) and co-e (expired by then: left out).
        with_exp(
            assume(
                &id(4),
                "2026-03-02T11:30:00Z",
                &bob,
                acct,
                &a,
                "s4",
                "ASIACOSESSION0000004",
            ),
            "Mar 2, 2026, 12:30:00 PM",
        ),
        with_exp(
            assume(
                &id(5),
                "2026-03-02T11:31:00Z",
                &role_identity(&a, "s4", "ASIACOSESSION0000004"),
                acct,
                &d,
                "s5",
                "ASIACOSESSION0000005",
            ),
            "Mar 2, 2026, 12:31:00 PM",
        ),
        with_exp(
            assume(
                &id(6),
                "2026-03-02T11:32:00Z",
                &role_identity(&a, "s4", "ASIACOSESSION0000004"),
                acct,
                &e,
                "s6",
                "ASIACOSESSION0000006",
            ),
            "Mar 2, 2026, 11:50:00 AM",
        ),
    ];
    let logs = write_logs(dir.path(), "logs", &recs);
    let o = run([
        "contain",
        "--key",
        "ASIACOSESSION0000002",
        "--logs",
        &logs,
        "--cutoff",
        "2026-03-02T12:00:00Z",
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps: Vec<(String, String)> = v["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["target"].as_str().unwrap().to_string(),
                s["why"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let targets: Vec<&str> = steps.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        &targets[..4],
        [
            "AKIACOALICE000000001",
            &format!("arn:aws:iam::{acct}:user/co-alice"),
            &a,
            &b
        ],
        "{v:#}"
    );
    let mut out: Vec<&str> = targets[4..].to_vec();
    out.sort();
    assert_eq!(out, [c.as_str(), d.as_str()], "{v:#}");
    for (t, why) in &steps[4..] {
        assert!(why.contains(&format!("chained out of {a}")), "{t}: {why}");
    }
    assert!(!targets.contains(&e.as_str()));

    // --quarantine: the root key gets AWS's quarantine policy instead of being deactivated.
    let o = run([
        "contain",
        "--key",
        "ASIACOSESSION0000002",
        "--logs",
        &logs,
        "--cutoff",
        "2026-03-02T12:00:00Z",
        "--quarantine",
        "--format",
        "json",
        "-q",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let first = &v["plan"]["steps"][0];
    assert_eq!(first["action"], "quarantine-key");
    assert_eq!(first["plan"]["calls"][0]["api"], "iam:AttachUserPolicy");
    assert_eq!(
        first["plan"]["calls"][0]["PolicyArn"],
        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    );
}

// ---------------------------------------------------------------------------------------------
// verify

#[test]
fn verify_says_held_or_not_held_from_the_logs_after_the_cutoff() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let role = "vf-role";
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/{role}");
    m.create_role(role, "/");
    let cutoff = "2026-03-02T12:00:00Z";
    let r = apply(
        m,
        &audit,
        &[
            "playbook",
            "run",
            "revoke-role-sessions",
            "--role",
            &role_arn,
            "--cutoff",
            cutoff,
        ],
    );
    let run_id = r["run_id"].as_str().unwrap().to_string();
    let bob = user_identity(ACCOUNT, "vf-bob", "AKIAVFBOB00000000001");
    let old = "ASIAVFOLDSESSION0001";
    let s_old = role_identity(&role_arn, "old", old);
    let base = vec![
        assume(
            "20000000-0000-4000-8000-000000000001",
            "2026-03-02T11:00:00Z",
            &bob,
            ACCOUNT,
            &role_arn,
            "old",
            old,
        ),
        call(
            "20000000-0000-4000-8000-000000000002",
            "2026-03-02T11:30:00Z",
            &s_old,
            "ListBuckets",
            None,
        ),
        call(
            "20000000-0000-4000-8000-000000000003",
            "2026-03-02T12:02:00Z",
            &s_old,
            "ListBuckets",
            None,
        ),
        call(
            "20000000-0000-4000-8000-000000000004",
            "2026-03-02T12:10:00Z",
            &s_old,
            "GetObject",
            Some("AccessDenied"),
        ),
    ];
    let verify = |name: &str, extra: &[Value]| {
        let mut recs = base.clone();
        recs.extend(extra.iter().cloned());
        let logs = write_logs(dir.path(), name, &recs);
        let o = run([
            "verify",
            &run_id,
            "--logs",
            &logs,
            "--audit-log",
            audit.to_str().unwrap(),
            "--format",
            "json",
            "-q",
        ]);
        let v: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| panic!("{}\n{}", stdout(&o), stderr(&o)));
        (code(&o), v)
    };

    // Held: the call after the cutoff was denied; the one 2 minutes after is inside the grace.
    let (c, v) = verify("held", &[]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["held"], true);
    let j = &v["cuts"][0];
    assert_eq!(j["subject"]["name"], role);
    assert_eq!(j["keys"], json!([old]));
    assert_eq!(j["denied"].as_array().unwrap().len(), 1);
    assert_eq!(j["within_grace"].as_array().unwrap().len(), 1);
    assert_eq!(j["still_working"].as_array().unwrap().len(), 0);
    assert_eq!(
        v["root_principals"],
        json!([format!("arn:aws:iam::{ACCOUNT}:user/vf-bob")])
    );

    // Not held: a call with the old credentials succeeded after cutoff + grace.
    let (c, v) = verify(
        "leak",
        &[call(
            "20000000-0000-4000-8000-000000000005",
            "2026-03-02T12:30:00Z",
            &s_old,
            "ListBuckets",
            None,
        )],
    );
    assert_eq!(c, 1, "{v:#}");
    assert_eq!(v["held"], false);
    assert_eq!(
        v["cuts"][0]["still_working"][0]["event_id"],
        "20000000-0000-4000-8000-000000000005"
    );

    // Not held: the same root principal came back with a new session after the cutoff.
    let (c, v) = verify(
        "back",
        &[assume(
            "20000000-0000-4000-8000-000000000006",
            "2026-03-02T12:40:00Z",
            &bob,
            ACCOUNT,
            &role_arn,
            "again",
            "ASIAVFNEWSESSION0002",
        )],
    );
    assert_eq!(c, 1, "{v:#}");
    assert_eq!(v["cuts"][0]["held"], true);
    assert_eq!(
        v["new_sessions"][0]["access_key_id"],
        "ASIAVFNEWSESSION0002"
    );

    // The text names the verdict; a grace of zero counts the 12:02 call.
    let logs = dir.path().join("held").display().to_string();
    let o = run([
        "verify",
        &run_id,
        "--logs",
        &logs,
        "--audit-log",
        audit.to_str().unwrap(),
        "--grace",
        "0s",
        "-q",
    ]);
    assert_eq!(code(&o), 1);
    assert!(stdout(&o).contains("NOT HELD"), "{}", stdout(&o));
    // Logs that end before the cutoff cannot judge it.
    let early = write_logs(dir.path(), "early", &base[..2]);
    let o = run([
        "verify",
        &run_id,
        "--logs",
        &early,
        "--audit-log",
        audit.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("before the cutoff"), "{}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// collect

#[test]
fn collect_keeps_the_raw_records_with_a_manifest_that_checks_out() {
    use trailhound::playbook::derive::sha256_hex;
    let dir = tempfile::tempdir().unwrap();
    let a = "555555555555";
    let alice = user_identity(a, "cl-alice", "AKIACLALICE000000001");
    let role = format!("arn:aws:iam::{a}:role/cl-role");
    let s1 = "ASIACLSESSION0000001";
    let recs = [
        assume(
            "30000000-0000-4000-8000-000000000001",
            "2026-03-02T10:00:00Z",
            &alice,
            a,
            &role,
            "cl",
            s1,
        ),
        call(
            "30000000-0000-4000-8000-000000000002",
            "2026-03-02T10:01:00Z",
            &role_identity(&role, "cl", s1),
            "CreateBucket",
            None,
        ),
        // Someone else's call: not evidence of this chain.
        call(
            "30000000-0000-4000-8000-000000000003",
            "2026-03-02T10:02:00Z",
            &user_identity(a, "other", "AKIAOTHER00000000001"),
            "ListBuckets",
            None,
        ),
    ];
    let logs = write_logs(dir.path(), "logs", &recs);
    let out = dir.path().join("evidence");
    let o = run([
        "collect",
        "--key",
        s1,
        "--logs",
        &logs,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "-q",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], 2);

    // Every file in the manifest is there with its size and hash.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 5);
    for f in files {
        let bytes = std::fs::read(out.join(f["path"].as_str().unwrap())).unwrap();
        assert_eq!(f["size"], bytes.len() as u64);
        assert_eq!(f["sha256"], sha256_hex(&bytes));
    }
    let src = &manifest["sources"][0];
    let bytes = std::fs::read(src["path"].as_str().unwrap()).unwrap();
    assert_eq!(src["sha256"], sha256_hex(&bytes));
    assert_eq!(src["size"], bytes.len() as u64);
    assert_eq!(src["records"], 2);

    // The raw records: the original text, except that secrets are redacted.
    let text = std::fs::read_to_string(out.join("records.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], recs[1].to_string(), "kept byte for byte");
    assert!(!text.contains("TOKEN-SECRET-VALUE") && !text.contains("partner-secret-1"));
    let first: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        first["responseElements"]["credentials"]["sessionToken"],
        "<redacted>"
    );
    assert_eq!(first["requestParameters"]["externalId"], "<redacted>");
    let created: Value =
        serde_json::from_slice(&std::fs::read(out.join("created.json")).unwrap()).unwrap();
    assert!(created
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["event_name"] == "CreateBucket"));
    let addrs: Value =
        serde_json::from_slice(&std::fs::read(out.join("source-addresses.json")).unwrap()).unwrap();
    assert_eq!(addrs[0]["source_ip"], "203.0.113.66");
    assert_eq!(addrs[0]["calls"], 2);

    // The archive holds the same files.
    let archive = dir.path().join("evidence.tar.gz");
    assert_eq!(
        v["archive_sha256"],
        sha256_hex(&std::fs::read(&archive).unwrap())
    );
    if let Ok(o) = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
    {
        if o.status.success() {
            let mut names: Vec<String> = String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect();
            names.sort();
            assert_eq!(
                names,
                [
                    "evidence/created.json",
                    "evidence/findings.json",
                    "evidence/manifest.json",
                    "evidence/records.jsonl",
                    "evidence/sessions.json",
                    "evidence/source-addresses.json"
                ]
            );
        }
    }
    // An existing, non-empty folder is refused.
    let o = run([
        "collect",
        "--key",
        s1,
        "--logs",
        &logs,
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code(&o), 2);
}
