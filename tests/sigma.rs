//! Sigma rules (`hunt --sigma`, `sigma lint`): the SigmaHQ CloudTrail rules fire on the real
//! attacks that depict them and count exactly what a reference engine (pySigma's SQLite backend)
//! counts; one finding per rule and principal; bad rule files are named and the rest run.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn rules() -> PathBuf {
    root().join("rules/sigma/aws-cloudtrail")
}

fn stratus(name: &str) -> PathBuf {
    datasets().join("datadog_stratus-red-team").join(name)
}

/// Every real event the datasets hold, in a fixed order.
fn all_logs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (dir, suffix) in [
        ("datadog_stratus-red-team", ".json"),
        ("awsdocs", ".events.ndjson"),
        ("panther-analysis", ".events.ndjson"),
        ("panther-analysis", "_cloudtrail.json"),
        ("trailscraper", ".json"),
    ] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(datasets().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// `hunt --format ndjson` with the rules; (exit code, findings, stderr).
fn hunt_with(logs: &[PathBuf], rules: &[&Path], extra: &[&str]) -> (i32, Vec<Value>, String) {
    let mut args: Vec<String> = vec!["hunt".into(), "--format".into(), "ndjson".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(logs.iter().map(|p| p.display().to_string()));
    args.push("--sigma".into());
    args.extend(rules.iter().map(|p| p.display().to_string()));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let findings = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code(&o), findings, stderr(&o))
}

fn sigma_findings(findings: &[Value]) -> Vec<(String, String, u64)> {
    findings
        .iter()
        .filter(|f| f["kind"] == "sigma")
        .map(|f| {
            (
                f["rule_title"].as_str().unwrap().to_string(),
                f["principal"].as_str().unwrap().to_string(),
                f["events"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn counts(findings: &[Value]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in findings.iter().filter(|f| f["kind"] == "sigma") {
        *out.entry(f["rule_id"].as_str().unwrap().to_string())
            .or_default() += f["events"].as_u64().unwrap();
    }
    out
}

#[test]
fn real_attacks_raise_the_rules_that_describe_them() {
    let cases = [
        (
            "aws.initial-access.console-login-without-mfa.json",
            "AWS Successful Console Login Without MFA",
            "arn:aws:iam::562283505220:user/stratus-red-team-nmfalu-jfzdtsvchl",
        ),
        (
            "aws.persistence.iam-backdoor-user.json",
            "AWS IAM Backdoor Users Keys",
            "arn:aws:iam::946986569305:user/christophe",
        ),
        // `errorCode: null`: the successful call has no errorCode at all.
        (
            "aws.defense-evasion.vpc-remove-flow-logs.json",
            "AWS VPC Flow Logs Deleted",
            "arn:aws:iam::498376118699:user/christophe",
        ),
        (
            "aws.execution.ssm-send-command.json",
            "Potential Malicious Usage of CloudTrail System Manager",
            "arn:aws:iam::056392974792:user/christophe",
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot.json",
            "AWS Snapshot Backup Exfiltration",
            "arn:aws:iam::756680937392:user/christophe",
        ),
        (
            "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
            "Ingress/Egress Security Group Modification",
            "arn:aws:iam::032092706103:user/christophe",
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile.json",
            "AWS User Login Profile Was Modified",
            "arn:aws:iam::763751499319:user/christophe",
        ),
        // `requestParameters.layers|contains`: a list, matched as its text.
        (
            "aws.persistence.lambda-layer-extension.json",
            "AWS New Lambda Layer Attached",
            "arn:aws:iam::712967571683:user/christophe",
        ),
    ];
    for (file, title, principal) in cases {
        let (_, findings, _) = hunt_with(&[stratus(file)], &[&rules()], &["-q"]);
        assert_eq!(
            sigma_findings(&findings),
            [(title.to_string(), principal.to_string(), 1)],
            "{file}"
        );
        let f = findings.iter().find(|f| f["kind"] == "sigma").unwrap();
        assert!(f["tags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.as_str().unwrap().starts_with("attack.")));
        assert_eq!(f["evidence_event_ids"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn benign_activity_stays_quiet() {
    for file in [
        "aws.credential-access.secretsmanager-retrieve-secrets.json",
        "aws.impact.bedrock-invoke-model.json",
        "aws.discovery.ec2-download-user-data.json",
        "aws.lateral-movement.ec2-instance-connect.json",
    ] {
        let (_, findings, _) = hunt_with(&[stratus(file)], &[&rules()], &["-q"]);
        assert_eq!(sigma_findings(&findings), [], "{file}");
    }
}

#[test]
fn without_sigma_no_finding_has_rule_fields() {
    let o = run([
        "hunt",
        "-q",
        "--format",
        "ndjson",
        &stratus("aws.initial-access.console-login-without-mfa.json")
            .display()
            .to_string(),
    ]);
    let out = stdout(&o);
    assert!(!out.is_empty());
    assert!(
        !out.contains("\"sigma\"") && !out.contains("rule_id"),
        "{out}"
    );
}

/// Panther's compromised-root story: the root user's every call, from the victim's own logins
/// and from the attacker, is one `AWS Root Credentials` finding with all its events counted.
#[test]
fn one_finding_per_rule_and_principal_counts_every_event() {
    let dir = datasets().join("panther-analysis");
    let logs = [
        dir.join("compromised-root-creds__attacker_cloudtrail.json"),
        dir.join("compromised-root-creds__victim_cloudtrail.json"),
    ];
    let (_, findings, _) = hunt_with(&logs, &[&rules()], &["-q"]);
    let root = "arn:aws:iam::493859302102:root";
    let got = sigma_findings(&findings);
    for (title, n) in [
        ("AWS Root Credentials", 15),
        ("AWS Successful Console Login Without MFA", 4),
        ("AWS IAM Backdoor Users Keys", 2),
    ] {
        assert!(
            got.contains(&(title.to_string(), root.to_string(), n)),
            "{title}: {got:?}"
        );
    }
    let mut keys: Vec<(&str, &str)> = findings
        .iter()
        .filter(|f| f["kind"] == "sigma")
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap(),
                f["principal"].as_str().unwrap(),
            )
        })
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "one finding per rule and principal");
    let rootcreds = findings
        .iter()
        .find(|f| f["rule_title"] == "AWS Root Credentials")
        .unwrap();
    assert_eq!(rootcreds["severity"], "medium");
    assert_eq!(rootcreds["level"], "medium");
    assert_eq!(
        rootcreds["evidence_event_ids"].as_array().unwrap().len(),
        15
    );
}

/// Sessions are traced to the principal behind them: two roles' sessions issued to one user
/// make one finding of that user; its evidence is capped, its count is not.
#[test]
fn hits_of_sessions_belong_to_the_principal_behind_them() {
    let dir = tempfile::tempdir().unwrap();
    let user = "arn:aws:iam::111111111111:user/alice";
    let assume = |n: u32, key: &str| {
        format!(
            r#"{{"eventTime":"2024-05-01T10:0{n}:00Z","eventID":"assume-{n}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","recipientAccountId":"111111111111","sourceIPAddress":"198.51.100.7","userIdentity":{{"type":"IAMUser","arn":"{user}","accountId":"111111111111","accessKeyId":"AKIAALICE"}},"requestParameters":{{"roleArn":"arn:aws:iam::111111111111:role/r{n}","roleSessionName":"s{n}"}},"responseElements":{{"credentials":{{"accessKeyId":"{key}","expiration":"May 1, 2024, 11:00:00 AM"}},"assumedRoleUser":{{"arn":"arn:aws:sts::111111111111:assumed-role/r{n}/s{n}"}}}}}}"#
        )
    };
    let delete = |n: u32, key: &str, role: u32| {
        format!(
            r#"{{"eventTime":"2024-05-01T11:00:{n:02}Z","eventID":"del-{n}","eventSource":"ec2.amazonaws.com","eventName":"DeleteFlowLogs","recipientAccountId":"111111111111","sourceIPAddress":"198.51.100.7","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::111111111111:assumed-role/r{role}/s{role}","accountId":"111111111111","accessKeyId":"{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","arn":"arn:aws:iam::111111111111:role/r{role}"}}}}}}}}"#
        )
    };
    let mut lines = vec![
        assume(1, "ASIAONE"),
        assume(2, "ASIATWO"),
        delete(1, "ASIAONE", 1),
        delete(2, "ASIATWO", 2),
        delete(3, "ASIATWO", 2),
        // A session no AssumeRole in the input issued: its role is the principal.
        delete(4, "ASIAUNSEEN", 9),
    ];
    lines.extend((5..=26).map(|n| delete(n, "ASIAONE", 1)));
    let log = write(dir.path(), "trail.ndjson", lines.join("\n").as_bytes());
    let (_, findings, _) = hunt_with(&[log], &[&rules()], &["-q"]);
    assert_eq!(
        sigma_findings(&findings),
        [
            (
                "AWS VPC Flow Logs Deleted".to_string(),
                user.to_string(),
                25
            ),
            (
                "AWS VPC Flow Logs Deleted".to_string(),
                "arn:aws:iam::111111111111:role/r9".to_string(),
                1
            ),
        ]
    );
    let f = &findings.iter().find(|f| f["kind"] == "sigma").unwrap();
    let want: Vec<String> = [1, 2, 3]
        .into_iter()
        .chain(5..=21)
        .map(|n| format!("del-{n}"))
        .collect();
    assert_eq!(f["evidence_event_ids"], serde_json::json!(want));
    assert_eq!(want.len(), trailhound::detect::sigma::EVIDENCE_CAP);
    assert_eq!(f["access_key_id"], "ASIAONE");
    assert_eq!(f["chain"][0]["access_key_id"], "ASIAONE");
}

#[test]
fn output_is_the_same_whatever_the_threads_slices_or_file_order() {
    let logs = all_logs();
    let (_, first, _) = hunt_with(&logs, &[&rules()], &["-q"]);
    assert!(counts(&first).len() > 20, "{:?}", counts(&first));
    let want = serde_json::to_string(&first).unwrap();
    let mut reversed = logs.clone();
    reversed.reverse();
    for (files, extra) in [
        (&logs, vec!["-q", "--threads", "1"]),
        (&logs, vec!["-q", "--threads", "2", "--slice-minutes", "1"]),
        (&reversed, vec!["-q", "--slice-minutes", "100000"]),
    ] {
        let (_, got, _) = hunt_with(files, &[&rules()], &extra);
        assert_eq!(serde_json::to_string(&got).unwrap(), want, "{extra:?}");
    }
}

const GOOD: &str = "title: Flow logs gone\nid: good-1\nlevel: high\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: DeleteFlowLogs\n  condition: sel\n";

fn bad_rules(dir: &Path) {
    write(dir, "a_good.yml", GOOD.as_bytes());
    write(
        dir,
        "b_broken.yml",
        b"title: broken\ndetection: [unclosed\n",
    );
    write(
        dir,
        "c_correlation.yml",
        b"title: many\ncorrelation:\n  type: event_count\n  rules: [good-1]\n  timespan: 1h\n  condition:\n    gte: 3\n",
    );
    write(
        dir,
        "d_windows.yml",
        b"title: win\nlogsource:\n  product: windows\ndetection:\n  s:\n    EventID: 4624\n  condition: s\n",
    );
    write(
        dir,
        "e_condition.yml",
        b"title: cond\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  s:\n    eventName: x\n  condition: s and missing\n",
    );
}

#[test]
fn bad_rule_files_are_named_and_the_rest_run() {
    let dir = tempfile::tempdir().unwrap();
    bad_rules(dir.path());
    let (code, findings, err) = hunt_with(
        &[stratus("aws.defense-evasion.vpc-remove-flow-logs.json")],
        &[dir.path()],
        &[],
    );
    assert_eq!(code, 1, "a high finding reaches --fail-on high: {err}");
    assert_eq!(
        sigma_findings(&findings),
        [(
            "Flow logs gone".to_string(),
            "arn:aws:iam::498376118699:user/christophe".to_string(),
            1
        )]
    );
    for (file, why) in [
        ("b_broken.yml", "YAML"),
        ("c_correlation.yml", "correlation"),
        ("e_condition.yml", "missing"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not named: {err}"));
        assert!(
            line.starts_with("trailhound: warning: sigma rule "),
            "{line}"
        );
        assert!(line.contains(why), "{line}");
    }
    assert!(!err.contains("d_windows.yml"), "{err}");
    assert!(
        err.contains("sigma: 1 rules run, 3 failed, 1 not for CloudTrail"),
        "{err}"
    );
}

#[test]
fn lint_lists_every_rule_file_and_fails_on_rules_that_cannot_run() {
    let o = run([
        "sigma",
        "lint",
        "--format",
        "ndjson",
        &rules().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 53);
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{rows:?}");

    let dir = tempfile::tempdir().unwrap();
    bad_rules(dir.path());
    let o = run(["sigma", "lint", &dir.path().display().to_string()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let table = stdout(&o);
    let status: Vec<&str> = table
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        status,
        [
            "ok",
            "invalid",
            "unsupported",
            "not_for_cloudtrail",
            "invalid"
        ],
        "{table}"
    );
    assert!(
        table.contains("logsource product windows, service (none)"),
        "{table}"
    );

    let o = run(["sigma", "lint", "/nonexistent/rules"]);
    assert_eq!(code(&o), 3);
}

#[test]
fn sigma_findings_appear_in_every_hunt_format() {
    let log = stratus("aws.initial-access.console-login-without-mfa.json");
    let title = "AWS Successful Console Login Without MFA";
    for format in ["table", "ndjson", "markdown", "ocsf", "asff", "timesketch"] {
        let o = run([
            "hunt",
            "-q",
            "--format",
            format,
            &log.display().to_string(),
            "--sigma",
            &rules().display().to_string(),
        ]);
        assert!(matches!(code(&o), 0 | 1), "{format}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(title), "{format}: {out}");
        match format {
            "ocsf" | "ndjson" | "timesketch" => {
                for l in out.lines() {
                    serde_json::from_str::<Value>(l).unwrap();
                }
            }
            "asff" => {
                let f: Value = out
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    .find(|f| f["Title"] == title)
                    .unwrap();
                assert_eq!(
                    f["ProductFields"]["trailhound/sigma_rule_id"],
                    "77caf516-34e5-4df9-b4db-20744fea0a60"
                );
            }
            _ => {}
        }
        if format == "ocsf" {
            let f: Value = out
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .find(|f| f["finding_info"]["title"] == title)
                .unwrap();
            assert_eq!(
                f["finding_info"]["analytic"]["uid"],
                "77caf516-34e5-4df9-b4db-20744fea0a60"
            );
            assert_eq!(f["unmapped"]["trailhound"]["sigma"]["events"], 1);
        }
    }
}

/// The reference engine: pySigma with its SQLite backend, installed by
/// tools/sigma-reference/install.sh; `None` (and a message) when PyPI cannot be reached.
fn reference_python() -> Option<PathBuf> {
    let o = Command::new("bash")
        .arg(root().join("tools/sigma-reference/install.sh"))
        .output()
        .expect("run bash");
    if o.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    }
    let reachable = Command::new("python3")
        .args(["-m", "pip", "index", "versions", "pySigma"])
        .output()
        .is_ok_and(|p| p.status.success());
    assert!(
        !reachable,
        "installing the reference engine failed although PyPI answers: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!("skipped: PyPI is unreachable, the reference Sigma engine cannot be installed");
    None
}

/// Per rule, the events trailhound counts are the records pySigma's SQLite backend counts, on
/// every real event of the datasets and all 53 rules (zeros included).
#[test]
fn counts_match_the_reference_engine() {
    let Some(python) = reference_python() else {
        return;
    };
    let logs = all_logs();
    let mut cmd = Command::new(python);
    cmd.arg(root().join("tools/sigma-reference/reference.py"))
        .arg("--rules")
        .arg(rules())
        .arg("--logs")
        .args(&logs);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reference["skipped"], serde_json::json!({}));
    let want: BTreeMap<String, u64> = reference["counts"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(reference["counts"].as_object().unwrap().len(), 53);

    let (_, findings, err) = hunt_with(&logs, &[&rules()], &[]);
    let events: u64 = err
        .lines()
        .find_map(|l| l.split(" events,").next()?.rsplit(' ').next()?.parse().ok())
        .unwrap();
    assert_eq!(reference["records"].as_u64(), Some(events), "{err}");
    assert_eq!(counts(&findings), want);
    assert!(want.len() > 20);
}
