//! Findings a responder can trust: real-log shapes that must be found, benign shapes that must
//! stay quiet, posture reported once, and the detections only a session graph can make.
//!
//! The logs here are written record by record in CloudTrail's own shape (field names and
//! nesting as AWS documents them and as the shared datasets show); the addresses are real ones
//! whose network and country come from the bundled DB-IP data.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
/// 2026-03-02T00:00:00Z, a Monday.
const T0: i64 = 1_772_409_600_000;

const HOME_DE: &str = "91.64.120.3"; // Vodafone GmbH, AS3209, DE
const MOBILE_DE: &str = "80.187.100.10"; // Deutsche Telekom, AS3320, DE
const MOBILE_DE_2: &str = "176.6.10.10"; // Telefonica Germany, AS6805, DE
const ZSCALER_AT: &str = "165.225.200.10"; // Zscaler, AS22616, geolocated AT
const ZSCALER_US: &str = "165.225.8.10"; // Zscaler, AS22616, geolocated US
const TMOBILE_US: &str = "172.56.21.10"; // T-Mobile USA, AS21928
const VERIZON_US: &str = "174.192.10.5"; // Verizon, AS22394
const AZURE_NL: &str = "20.50.10.10"; // Microsoft, AS8075 (GitHub-hosted runners)
const DIGITALOCEAN_SG: &str = "159.89.200.117"; // DigitalOcean, AS14061
const RO_ISP: &str = "92.55.146.245"; // Prime Telecom, AS39737, RO
const EC2_US: &str = "52.95.10.10"; // Amazon, AS16509

fn iso(ms: i64) -> String {
    trailhound::event::format_iso(ms)
}

/// Writes records as one CloudTrail `{"Records": [...]}` file and hunts it.
fn hunt_records(records: &[Value], extra: &[&str]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let body = json!({ "Records": records }).to_string();
    let path = write(dir.path(), "trail.json", body.as_bytes());
    hunt_paths(&[&path], extra)
}

fn hunt_paths(paths: &[&Path], extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<String> = vec![
        "hunt".into(),
        "-q".into(),
        "--format".into(),
        "ndjson".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_kind<'a>(findings: &'a [Value], kind: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["kind"] == kind).collect()
}

fn kinds(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn user(name: &str) -> Value {
    json!({
        "type": "IAMUser",
        "principalId": format!("AIDA{}", name.to_uppercase()),
        "arn": format!("arn:aws:iam::111111111111:user/{name}"),
        "accountId": "111111111111",
        "accessKeyId": format!("AKIA{:0<16}", name.to_uppercase()),
        "userName": name
    })
}

fn role_session(
    key: &str,
    account: &str,
    role: &str,
    session: &str,
    source_identity: Option<&str>,
) -> Value {
    let mut ctx = json!({
        "sessionIssuer": {
            "type": "Role",
            "principalId": format!("AROA{role}"),
            "arn": format!("arn:aws:iam::{account}:role/{role}"),
            "accountId": account,
            "userName": role
        },
        "attributes": { "creationDate": "2026-03-02T00:00:00Z", "mfaAuthenticated": "false" }
    });
    if let Some(si) = source_identity {
        ctx["sourceIdentity"] = json!(si);
    }
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{role}:{session}"),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": ctx
    })
}

/// A call.
fn call(id: &str, t: i64, source: &str, name: &str, ip: &str, identity: &Value) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-central-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": identity["accountId"].as_str().unwrap_or("111111111111"),
        "eventCategory": "Management"
    })
}

fn denied(mut v: Value) -> Value {
    v["errorCode"] = json!("AccessDenied");
    v["errorMessage"] = json!("User is not authorized to perform this operation");
    v
}

/// A successful AssumeRole by `caller`, issuing `key` for `account`'s `role`.
#[allow(clippy::too_many_arguments)]
fn assume_role(
    id: &str,
    t: i64,
    ip: &str,
    caller: &Value,
    key: &str,
    account: &str,
    role: &str,
    session: &str,
    source_identity: Option<&str>,
) -> Value {
    let mut v = call(id, t, "sts.amazonaws.com", "AssumeRole", ip, caller);
    v["readOnly"] = json!(true);
    v["recipientAccountId"] = json!(account);
    v["requestParameters"] = json!({
        "roleArn": format!("arn:aws:iam::{account}:role/{role}"),
        "roleSessionName": session,
        "durationSeconds": 3600
    });
    if let Some(si) = source_identity {
        v["requestParameters"]["sourceIdentity"] = json!(si);
    }
    v["responseElements"] = json!({
        "credentials": {
            "accessKeyId": key,
            "sessionToken": "<redacted>",
            "expiration": iso(t + HOUR)
        },
        "assumedRoleUser": {
            "assumedRoleId": format!("AROA{role}:{session}"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
        }
    });
    v
}

/// A person's routine: `days` working days of calls at 08:00-16:00 UTC from the given
/// addresses in turn.
fn routine(prefix: &str, who: &Value, days: i64, ips: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    let names = [
        "DescribeInstances",
        "ListBuckets",
        "GetCallerIdentity",
        "DescribeStacks",
    ];
    for d in 0..days {
        for h in 8..16 {
            let t = T0 + d * DAY + h * HOUR + 7 * MINUTE;
            let n = (d * 24 + h) as usize;
            out.push(call(
                &format!("{prefix}-{d}-{h}"),
                t,
                "ec2.amazonaws.com",
                names[n % names.len()],
                ips[n % ips.len()],
                who,
            ));
        }
    }
    out
}

fn console_login(id: &str, t: i64, ip: &str, identity: Value, ok: bool, mfa: &str) -> Value {
    let mut v = call(id, t, "signin.amazonaws.com", "ConsoleLogin", ip, &identity);
    v["eventType"] = json!("AwsConsoleSignIn");
    v["readOnly"] = json!(false);
    v["responseElements"] = json!({ "ConsoleLogin": if ok { "Success" } else { "Failure" } });
    v["additionalEventData"] = json!({
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": mfa
    });
    if !ok {
        v["errorMessage"] = json!("Failed authentication");
    }
    v
}

// ---- misses -------------------------------------------------------------------------------

#[test]
fn console_failures_without_arn_link_to_the_success() {
    // AWS records a failed sign-in without userIdentity.arn (the awsdocs example for `anaya`
    // has type, principalId, accountId and userName only); the success carries the ARN.
    let failed_identity = json!({
        "type": "IAMUser",
        "principalId": "AIDACKCEVSQ6C2EXAMPLE",
        "accountId": "111111111111",
        "accessKeyId": "",
        "userName": "anaya"
    });
    let mut records = routine("r", &user("anaya"), 5, &[HOME_DE]);
    let t = T0 + 6 * DAY + 10 * HOUR;
    for i in 0..4 {
        records.push(console_login(
            &format!("f{i}"),
            t + i * MINUTE,
            RO_ISP,
            failed_identity.clone(),
            false,
            "Yes",
        ));
    }
    let mut ok = user("anaya");
    ok["accessKeyId"] = json!("");
    records.push(console_login(
        "ok",
        t + 5 * MINUTE,
        "92.55.146.246",
        ok,
        true,
        "Yes",
    ));
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "failed_then_success");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["principal"], "arn:aws:iam::111111111111:user/anaya");
    assert_eq!(f[0]["evidence_event_ids"].as_array().unwrap().len(), 5);
}

#[test]
fn a_failure_of_another_user_does_not_count() {
    let other = json!({"type": "IAMUser", "principalId": "AIDAX", "accountId": "111111111111", "userName": "bob"});
    let mut ok = user("anaya");
    ok["accessKeyId"] = json!("");
    let t = T0 + 10 * HOUR;
    let records = vec![
        console_login("f1", t, RO_ISP, other.clone(), false, "Yes"),
        console_login("f2", t + MINUTE, RO_ISP, other, false, "Yes"),
        console_login("ok", t + 2 * MINUTE, HOME_DE, ok, true, "Yes"),
    ];
    let findings = hunt_records(&records, &[]);
    assert!(
        of_kind(&findings, "failed_then_success").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn api_enumeration_after_a_key_leak() {
    let who = user("svc-build");
    let mut records = routine("r", &who, 5, &[HOME_DE]);
    let t = T0 + 6 * DAY + 3 * HOUR;
    let apis = [
        ("iam", "ListUsers"),
        ("iam", "ListRoles"),
        ("iam", "GetAccountAuthorizationDetails"),
        ("iam", "ListPolicies"),
        ("iam", "GetUser"),
        ("s3", "ListBuckets"),
        ("s3", "GetBucketPolicy"),
        ("ec2", "DescribeInstances"),
        ("ec2", "DescribeVpcs"),
        ("ec2", "DescribeSnapshots"),
        ("lambda", "ListFunctions20150331"),
        ("lambda", "GetAccountSettings20160819"),
        ("secretsmanager", "ListSecrets"),
        ("ssm", "DescribeParameters"),
        ("kms", "ListKeys"),
        ("dynamodb", "ListTables"),
        ("rds", "DescribeDBInstances"),
        ("organizations", "DescribeOrganization"),
        ("guardduty", "ListDetectors"),
        ("cloudtrail", "DescribeTrails"),
        ("sns", "ListTopics"),
        ("sqs", "ListQueues"),
        ("ecr", "DescribeRepositories"),
        ("eks", "ListClusters"),
    ];
    for (i, (svc, api)) in apis.iter().enumerate() {
        let c = call(
            &format!("e{i}"),
            t + i as i64 * 10_000,
            &format!("{svc}.amazonaws.com"),
            api,
            DIGITALOCEAN_SG,
            &who,
        );
        records.push(denied(c));
    }
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "api_enumeration");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(
        f[0]["principal"],
        "arn:aws:iam::111111111111:user/svc-build"
    );
    assert_eq!(f[0]["severity"], "high");
    assert!(
        f[0]["reason"].as_str().unwrap().contains("across"),
        "{}",
        f[0]
    );
}

#[test]
fn a_developer_denied_a_few_calls_is_not_enumeration() {
    let who = user("dev");
    let mut records = routine("r", &who, 3, &[HOME_DE]);
    let t = T0 + 4 * DAY + 11 * HOUR;
    for (i, (svc, api)) in [
        ("s3", "PutObject"),
        ("s3", "GetObject"),
        ("kms", "Decrypt"),
        ("s3", "DeleteObject"),
        ("kms", "Encrypt"),
    ]
    .iter()
    .enumerate()
    {
        records.push(denied(call(
            &format!("d{i}"),
            t + i as i64 * MINUTE,
            &format!("{svc}.amazonaws.com"),
            api,
            HOME_DE,
            &who,
        )));
    }
    let findings = hunt_records(&records, &[]);
    assert!(
        of_kind(&findings, "api_enumeration").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn a_denied_assume_root_is_a_privilege_escalation_attempt() {
    // sts:AssumeRoot (centralized root access) as AWS documents its request.
    let who = role_session(
        "ASIAJUMPHOST00000001",
        "111111111111",
        "OpsAdmin",
        "mallory",
        None,
    );
    let mut v = denied(call(
        "ar1",
        T0 + 10 * HOUR,
        "sts.amazonaws.com",
        "AssumeRoot",
        RO_ISP,
        &who,
    ));
    v["requestParameters"] = json!({
        "targetPrincipal": "222222222222",
        "taskPolicyArn": { "arn": "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials" },
        "durationSeconds": 900
    });
    let findings = hunt_records(&[v], &[]);
    let f = of_kind(&findings, "assume_root_denied");
    assert_eq!(f.len(), 1, "{findings:#?}");
    let summary = f[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("222222222222") && summary.contains("IAMDeleteRootUserCredentials"),
        "{summary}"
    );
}

// ---- noise that must stay quiet -----------------------------------------------------------

#[test]
fn a_person_alternating_between_home_and_a_corporate_gateway_is_not_travelling() {
    // Zscaler's addresses are geolocated in Austria and the US; the person never left home.
    let who = user("lena");
    let records = routine("r", &who, 10, &[HOME_DE, ZSCALER_AT, HOME_DE, ZSCALER_US]);
    let findings = hunt_records(&records, &[]);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn a_new_cloud_network_is_still_reported_as_a_network_not_a_place() {
    let who = user("lena");
    let mut records = routine("r", &who, 6, &[HOME_DE]);
    records.push(call(
        "x",
        T0 + 7 * DAY + 9 * HOUR,
        "iam.amazonaws.com",
        "ListUsers",
        DIGITALOCEAN_SG,
        &who,
    ));
    let findings = hunt_records(&records, &[]);
    let odd = of_kind(&findings, "odd_ip");
    assert_eq!(odd.len(), 1, "{findings:#?}");
    assert_eq!(odd[0]["severity"], "medium");
    assert!(
        odd[0]["reason"].as_str().unwrap().contains("egress"),
        "{}",
        odd[0]
    );
    assert!(of_kind(&findings, "impossible_travel").is_empty());
}

#[test]
fn a_travelling_person_on_several_carriers_is_reported_once_per_country() {
    let who = user("jonas");
    // At home on the fixed line and two mobile carriers: new carriers at home are routine.
    let mut records = routine("r", &who, 6, &[HOME_DE]);
    records.extend(
        routine("m", &who, 1, &[MOBILE_DE, MOBILE_DE_2])
            .into_iter()
            .map(|mut v| {
                let t = trailhound::event::parse_iso(v["eventTime"].as_str().unwrap()).unwrap()
                    + 6 * DAY;
                v["eventTime"] = json!(iso(t));
                v
            }),
    );
    // A trip to the US a day later: two US carriers.
    let trip = T0 + 8 * DAY;
    records.push(call(
        "u1",
        trip + 15 * HOUR,
        "ec2.amazonaws.com",
        "DescribeInstances",
        TMOBILE_US,
        &who,
    ));
    records.push(call(
        "u2",
        trip + 16 * HOUR,
        "ec2.amazonaws.com",
        "DescribeInstances",
        VERIZON_US,
        &who,
    ));
    let findings = hunt_records(&records, &[]);
    let odd = of_kind(&findings, "odd_ip");
    assert_eq!(
        odd.len(),
        1,
        "one new country, not one row per carrier: {findings:#?}"
    );
    assert_eq!(odd[0]["source_ip"], TMOBILE_US);
    assert!(
        of_kind(&findings, "impossible_travel").is_empty(),
        "a day apart: {findings:#?}"
    );
}

#[test]
fn ci_at_all_hours_gets_no_hour_judgement_but_a_person_does() {
    // A GitHub Actions role (web identity) deploying at any hour from GitHub-hosted runners.
    let web = |id: &str, i: usize, t: i64| {
        let mut v = call(
            id,
            t,
            "sts.amazonaws.com",
            "AssumeRoleWithWebIdentity",
            AZURE_NL,
            &json!({
                "type": "WebIdentityUser",
                "principalId": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:repo:acme/app:ref:refs/heads/main",
                "userName": "repo:acme/app:ref:refs/heads/main",
                "identityProvider": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"
            }),
        );
        let key = format!("ASIAGITHUB{i:0>10}");
        v["requestParameters"] = json!({"roleArn": "arn:aws:iam::111111111111:role/deploy", "roleSessionName": "GitHubActions"});
        v["responseElements"] = json!({
            "credentials": {"accessKeyId": key, "sessionToken": "<redacted>", "expiration": iso(t + HOUR)},
            "assumedRoleUser": {"assumedRoleId": "AROADEPLOY:GitHubActions", "arn": "arn:aws:sts::111111111111:assumed-role/deploy/GitHubActions"},
            "subjectFromWebIdentityToken": "repo:acme/app:ref:refs/heads/main",
            "provider": "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com",
            "audience": "sts.amazonaws.com"
        });
        (v, key)
    };
    let mut records = Vec::new();
    // Eight working days of deploys at office hours, then one at 03:00 on a Sunday.
    let mut times: Vec<i64> = (0..8)
        .flat_map(|d| (9..17).map(move |h| T0 + d * DAY + h * HOUR))
        .collect();
    times.push(T0 + 13 * DAY + 3 * HOUR);
    for (i, t) in times.iter().enumerate() {
        let (v, key) = web(&format!("w{i}"), i, *t);
        records.push(v);
        let s = role_session(&key, "111111111111", "deploy", "GitHubActions", None);
        for j in 0..8 {
            records.push(call(
                &format!("w{i}-{j}"),
                t + (j + 1) * MINUTE,
                "cloudformation.amazonaws.com",
                "DescribeStacks",
                AZURE_NL,
                &s,
            ));
        }
    }
    let findings = hunt_records(&records, &[]);
    assert!(
        of_kind(&findings, "unusual_hour").is_empty(),
        "{findings:#?}"
    );

    // The same pattern by a person is reported.
    let who = user("priya");
    let mut records = Vec::new();
    for (i, t) in times.iter().enumerate() {
        for j in 0..8 {
            records.push(call(
                &format!("p{i}-{j}"),
                t + (j + 1) * MINUTE,
                "cloudformation.amazonaws.com",
                "DescribeStacks",
                HOME_DE,
                &who,
            ));
        }
    }
    let findings = hunt_records(&records, &[]);
    assert_eq!(kinds(&findings), ["unusual_hour"], "{findings:#?}");
}

// ---- posture: once per principal per run --------------------------------------------------

#[test]
fn repeated_sign_ins_without_mfa_are_one_finding_with_a_count() {
    let mut ok = user("tester");
    ok["accessKeyId"] = json!("");
    let records: Vec<Value> = (0..5)
        .map(|d| {
            console_login(
                &format!("s{d}"),
                T0 + d * DAY + 9 * HOUR,
                if d % 2 == 0 { HOME_DE } else { MOBILE_DE },
                ok.clone(),
                true,
                "No",
            )
        })
        .collect();
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "console_login_without_mfa");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["events"], 5);
    assert_eq!(f[0]["time"], iso(T0 + 9 * HOUR));
    assert_eq!(f[0]["last_time"], iso(T0 + 4 * DAY + 9 * HOUR));
    let summary = f[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("5 times") && summary.contains(HOME_DE) && summary.contains(MOBILE_DE),
        "{summary}"
    );
    assert_eq!(f[0]["evidence_event_ids"].as_array().unwrap().len(), 5);
}

#[test]
fn root_use_is_one_finding_per_run_with_every_address() {
    let d = datasets().join("panther-analysis");
    let findings = hunt_paths(
        &[
            &d.join("compromised-root-creds__victim_cloudtrail.json"),
            &d.join("compromised-root-creds__attacker_cloudtrail.json"),
        ],
        &[],
    );
    let root = of_kind(&findings, "root_account_use");
    assert_eq!(root.len(), 1, "{findings:#?}");
    let summary = root[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("92.55.146.245") && summary.contains("71.253.251.71"),
        "{summary}"
    );
    assert!(root[0]["events"].as_u64().unwrap() > 1);
}

// ---- detections only a session graph can make ---------------------------------------------

/// alice -> RoleA -> RoleB -> RoleA -> RoleB ..., each hop 50 minutes after the last.
fn juggling(hops: usize) -> Vec<Value> {
    let alice = user("alice");
    let mut records = Vec::new();
    let mut caller = alice.clone();
    let t = T0 + 9 * HOUR;
    for h in 0..hops {
        let role = if h % 2 == 0 { "RoleA" } else { "RoleB" };
        let key = format!("ASIAJUGGLE{:0>10}", h);
        let at = t + h as i64 * 50 * MINUTE;
        records.push(assume_role(
            &format!("j{h}"),
            at,
            HOME_DE,
            &caller,
            &key,
            "111111111111",
            role,
            "alice",
            None,
        ));
        caller = role_session(&key, "111111111111", role, "alice", None);
        records.push(call(
            &format!("j{h}-use"),
            at + MINUTE,
            "s3.amazonaws.com",
            "ListBuckets",
            HOME_DE,
            &caller,
        ));
    }
    records
}

#[test]
fn a_session_renewing_itself_through_a_cycle_of_roles() {
    let findings = hunt_records(&juggling(5), &[]);
    let f = of_kind(&findings, "role_chain_juggling");
    assert_eq!(
        f.len(),
        1,
        "one finding at the end of the juggling: {findings:#?}"
    );
    assert_eq!(f[0]["principal"], "arn:aws:iam::111111111111:user/alice");
    assert_eq!(f[0]["access_key_id"], "ASIAJUGGLE0000000004");
    // Going back to a role within the hour is not juggling.
    let findings = hunt_records(&juggling(2), &[]);
    assert!(
        of_kind(&findings, "role_chain_juggling").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn credentials_chained_from_an_instance_and_used_outside_aws() {
    // The instance's own key (issued to ec2.amazonaws.com) assumes a role; that role's
    // credentials are then used from a VPS.
    let ec2 = json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com"});
    let t = T0 + 10 * HOUR;
    let mut issue = assume_role(
        "i0",
        t,
        "ec2.amazonaws.com",
        &ec2,
        "ASIAINSTANCE00000001",
        "111111111111",
        "app-server",
        "i-0abc123def4567890",
        None,
    );
    issue["userIdentity"] = ec2.clone();
    let instance = role_session(
        "ASIAINSTANCE00000001",
        "111111111111",
        "app-server",
        "i-0abc123def4567890",
        None,
    );
    let mut records = vec![
        issue,
        call(
            "i1",
            t + MINUTE,
            "s3.amazonaws.com",
            "ListBuckets",
            EC2_US,
            &instance,
        ),
        assume_role(
            "i2",
            t + 2 * MINUTE,
            EC2_US,
            &instance,
            "ASIACHILD00000000001",
            "111111111111",
            "data-reader",
            "job",
            None,
        ),
    ];
    let child = role_session(
        "ASIACHILD00000000001",
        "111111111111",
        "data-reader",
        "job",
        None,
    );
    records.push(call(
        "i3",
        t + 30 * MINUTE,
        "s3.amazonaws.com",
        "GetObject",
        DIGITALOCEAN_SG,
        &child,
    ));
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "workload_chain_outside");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["access_key_id"], "ASIACHILD00000000001");
    assert_eq!(f[0]["severity"], "critical");

    // Used inside AWS: quiet.
    records.pop();
    records.push(call(
        "i3",
        t + 30 * MINUTE,
        "s3.amazonaws.com",
        "GetObject",
        EC2_US,
        &child,
    ));
    let findings = hunt_records(&records, &[]);
    assert!(
        of_kind(&findings, "workload_chain_outside").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn a_child_session_used_from_a_network_its_parent_never_used() {
    let alice = user("alice");
    let t = T0 + 10 * HOUR;
    let parent = role_session("ASIAPARENT0000000001", "111111111111", "Dev", "alice", None);
    let child = role_session(
        "ASIACHILD00000000002",
        "222222222222",
        "Prod",
        "alice",
        None,
    );
    let base = vec![
        assume_role(
            "c0",
            t,
            HOME_DE,
            &alice,
            "ASIAPARENT0000000001",
            "111111111111",
            "Dev",
            "alice",
            None,
        ),
        call(
            "c1",
            t + MINUTE,
            "s3.amazonaws.com",
            "ListBuckets",
            HOME_DE,
            &parent,
        ),
        assume_role(
            "c2",
            t + 2 * MINUTE,
            HOME_DE,
            &parent,
            "ASIACHILD00000000002",
            "222222222222",
            "Prod",
            "alice",
            None,
        ),
    ];
    let mut stolen = base.clone();
    stolen.push(call(
        "c3",
        t + 20 * MINUTE,
        "s3.amazonaws.com",
        "GetObject",
        RO_ISP,
        &child,
    ));
    let findings = hunt_records(&stolen, &[]);
    let f = of_kind(&findings, "child_session_new_network");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["source_ip"], HOME_DE, "at the child's issuing call");
    assert!(f[0]["summary"].as_str().unwrap().contains(RO_ISP));

    let mut same = base;
    same.push(call(
        "c3",
        t + 20 * MINUTE,
        "s3.amazonaws.com",
        "GetObject",
        HOME_DE,
        &child,
    ));
    let findings = hunt_records(&same, &[]);
    assert!(
        of_kind(&findings, "child_session_new_network").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn a_source_identity_that_changes_down_a_chain() {
    // The awsdocs example: JohnDoe sets sourceIdentity at the first hop; AWS carries it down.
    let john = user("JohnDoe");
    let t = T0 + 10 * HOUR;
    let first = role_session(
        "ASIAFIRST00000000001",
        "111111111111",
        "EC2-dev",
        "JohnDoe-EC2-dev",
        Some("JohnDoe"),
    );
    let records = |child_si: Option<&str>| {
        let second = role_session(
            "ASIASECOND0000000001",
            "111111111111",
            "Admin",
            "x",
            child_si,
        );
        vec![
            assume_role(
                "s0",
                t,
                HOME_DE,
                &john,
                "ASIAFIRST00000000001",
                "111111111111",
                "EC2-dev",
                "JohnDoe-EC2-dev",
                Some("JohnDoe"),
            ),
            call(
                "s1",
                t + MINUTE,
                "s3.amazonaws.com",
                "ListBuckets",
                HOME_DE,
                &first,
            ),
            assume_role(
                "s2",
                t + 2 * MINUTE,
                HOME_DE,
                &first,
                "ASIASECOND0000000001",
                "111111111111",
                "Admin",
                "x",
                None,
            ),
            call(
                "s3",
                t + 3 * MINUTE,
                "iam.amazonaws.com",
                "ListUsers",
                HOME_DE,
                &second,
            ),
        ]
    };
    let findings = hunt_records(&records(Some("mallory")), &[]);
    let f = of_kind(&findings, "source_identity_changed");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert!(f[0]["reason"].as_str().unwrap().contains("mallory"));
    let findings = hunt_records(&records(None), &[]);
    assert_eq!(
        of_kind(&findings, "source_identity_changed").len(),
        1,
        "disappeared: {findings:#?}"
    );
    let findings = hunt_records(&records(Some("JohnDoe")), &[]);
    assert!(
        of_kind(&findings, "source_identity_changed").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn one_key_opening_sessions_in_many_accounts_within_minutes() {
    let alice = user("alice");
    let t = T0 + 10 * HOUR;
    let records: Vec<Value> = (0..5)
        .map(|i| {
            assume_role(
                &format!("f{i}"),
                t + i * 30_000,
                HOME_DE,
                &alice,
                &format!("ASIAFAN{:0>13}", i),
                &format!("{}", 333333333330_i64 + i),
                "OrganizationAccountAccessRole",
                "alice",
                None,
            )
        })
        .collect();
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "session_fan_out");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert_eq!(f[0]["principal"], "arn:aws:iam::111111111111:user/alice");
    // Three accounts is below the threshold.
    let findings = hunt_records(&records[..3], &[]);
    assert!(
        of_kind(&findings, "session_fan_out").is_empty(),
        "{findings:#?}"
    );
}

#[test]
fn a_first_seen_multi_hop_path_once_the_history_is_learned() {
    let alice = user("alice");
    let mut records = routine("r", &alice, 5, &[HOME_DE]);
    let hop = |records: &mut Vec<Value>, n: &str, t: i64, second: &str| {
        let k1 = format!("ASIAH{n:0>15}");
        let k2 = format!("ASIAR{n:0>15}");
        records.push(assume_role(
            &format!("{n}a"),
            t,
            HOME_DE,
            &alice,
            &k1,
            "111111111111",
            "Hub",
            "alice",
            None,
        ));
        let s1 = role_session(&k1, "111111111111", "Hub", "alice", None);
        records.push(assume_role(
            &format!("{n}b"),
            t + MINUTE,
            HOME_DE,
            &s1,
            &k2,
            "222222222222",
            second,
            "alice",
            None,
        ));
    };
    // The usual path, every day; then once a path to another role.
    for d in 0..6 {
        hop(
            &mut records,
            &format!("d{d}"),
            T0 + d * DAY + 9 * HOUR,
            "ReadOnly",
        );
    }
    hop(
        &mut records,
        "new",
        T0 + 6 * DAY + 11 * HOUR,
        "BreakGlassAdmin",
    );
    let findings = hunt_records(&records, &[]);
    let f = of_kind(&findings, "new_role_path");
    assert_eq!(f.len(), 1, "{findings:#?}");
    assert!(f[0]["reason"].as_str().unwrap().contains("BreakGlassAdmin"));
}
