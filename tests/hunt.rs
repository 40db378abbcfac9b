//! Detections: every planted incident is found and nothing else; the real attacks in the shared
//! datasets are found as their authors describe them.

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use trailhound_generate::{write_sample, SampleSpec};

fn hunt(paths: &[&Path], extra: &[&str]) -> (i32, Vec<Value>) {
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
    let findings = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (code(&o), findings)
}

fn kinds(findings: &[Value]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["principal"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn stratus(name: &str) -> std::path::PathBuf {
    datasets().join("datadog_stratus-red-team").join(name)
}

#[test]
fn sample_logs_raise_exactly_the_planted_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let truth = write_sample(&SampleSpec::default(), dir.path()).unwrap();
    let (code, findings) = hunt(&[&sample_logs()], &[]);
    let got: BTreeSet<(String, String)> = kinds(&findings).into_iter().collect();
    let mut want: BTreeSet<(String, String)> = truth
        .incidents
        .iter()
        .map(|i| (i.kind.clone(), i.principal.clone()))
        .collect();
    // The planted three-hop chain is also a path its principal never took before.
    let chain = truth
        .incidents
        .iter()
        .find(|i| i.kind == "deep_role_chain")
        .unwrap();
    want.insert(("new_role_path".into(), chain.principal.clone()));
    assert_eq!(
        got,
        want,
        "findings:\n{}",
        serde_json::to_string_pretty(&findings).unwrap()
    );
    // Each planted incident's evidence is in the finding of its kind.
    for inc in &truth.incidents {
        let f = findings
            .iter()
            .find(|f| f["kind"] == inc.kind.as_str() && f["principal"] == inc.principal.as_str())
            .unwrap();
        let ids: BTreeSet<&str> = f["evidence_event_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            inc.event_ids.iter().any(|id| ids.contains(id.as_str())),
            "{} for {}: none of the planted events {:?} in the evidence {:?}",
            inc.kind,
            inc.principal,
            inc.event_ids,
            ids
        );
    }
    assert_eq!(code, 1, "high findings make the nightly run fail");
}

#[test]
fn stratus_denied_assume_role_then_success() {
    for file in [
        "aws.credential-access.ec2-get-password-data.json",
        "aws.discovery.ec2-download-user-data.json",
    ] {
        let (_, findings) = hunt(&[&stratus(file)], &[]);
        let f = findings
            .iter()
            .find(|f| f["kind"] == "failed_then_success")
            .unwrap_or_else(|| panic!("{file}: {findings:?}"));
        assert!(
            f["principal"]
                .as_str()
                .unwrap()
                .ends_with(":user/christophe"),
            "{f}"
        );
        assert_eq!(
            f["evidence_event_ids"].as_array().unwrap().len(),
            3,
            "2 denials and the success"
        );
        assert!(f["access_key_id"].as_str().unwrap().starts_with("ASIA"));
    }
}

#[test]
fn stratus_stolen_instance_credentials() {
    let (_, findings) = hunt(
        &[&stratus(
            "aws.credential-access.ec2-steal-instance-credentials.json",
        )],
        &[],
    );
    let f = findings
        .iter()
        .find(|f| f["kind"] == "credential_exfiltration")
        .expect("found");
    assert_eq!(f["access_key_id"], "ASIAP5CT9NN8EYVU1FXV");
    assert_eq!(
        f["principal"],
        "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role"
    );
    assert_eq!(f["source_ip"], "18.236.253.47");
    assert!(
        f["reason"].as_str().unwrap().contains("user/christophe"),
        "{f}"
    );
}

#[test]
fn stratus_federation_token_with_allow_all() {
    let (code, findings) = hunt(
        &[&stratus("aws.persistence.sts-federation-token.json")],
        &[],
    );
    assert_eq!(
        kinds(&findings),
        [(
            "federation_token_admin".to_string(),
            "arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user".to_string()
        )]
    );
    assert_eq!(findings[0]["access_key_id"], "ASIASTJKC5GCM7ZE6LUP");
    assert_eq!(code, 1);
}

#[test]
fn stratus_console_login_without_mfa() {
    let (_, findings) = hunt(
        &[&stratus(
            "aws.initial-access.console-login-without-mfa.json",
        )],
        &[],
    );
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["kind"], "console_login_without_mfa");
}

#[test]
fn panther_compromised_root_credentials() {
    let d = datasets().join("panther-analysis");
    let (code, findings) = hunt(
        &[
            &d.join("compromised-root-creds__victim_cloudtrail.json"),
            &d.join("compromised-root-creds__attacker_cloudtrail.json"),
        ],
        &[],
    );
    let fts = findings
        .iter()
        .find(|f| f["kind"] == "failed_then_success")
        .expect("console failures then success");
    assert_eq!(fts["source_ip"], "92.55.146.245");
    assert_eq!(fts["severity"], "critical");
    assert_eq!(
        fts["evidence_event_ids"].as_array().unwrap().len(),
        4,
        "3 failures and the success"
    );
    let odd = findings
        .iter()
        .find(|f| f["kind"] == "odd_ip")
        .expect("new address");
    assert_eq!(odd["source_ip"], "92.55.146.245");
    assert_eq!(odd["country"], "RO");
    assert!(
        odd["reason"].as_str().unwrap().contains("US"),
        "compared with the victim's history: {odd}"
    );
    assert!(findings.iter().any(|f| f["kind"] == "root_account_use"
        && f["summary"].as_str().unwrap().contains("92.55.146.245")));
    assert_eq!(code, 1);
}

#[test]
fn ocsf_findings_have_the_required_fields() {
    let o = run([
        "hunt",
        "-q",
        "--format",
        "ocsf",
        &stratus("aws.persistence.sts-federation-token.json")
            .display()
            .to_string(),
    ]);
    let v: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(v["class_uid"], 2004);
    assert_eq!(v["category_uid"], 2);
    assert_eq!(v["type_uid"], 200401);
    assert_eq!(v["activity_id"], 1);
    assert!(v["time"].is_i64());
    assert_eq!(v["severity_id"], 4);
    assert_eq!(v["metadata"]["product"]["name"], "trailhound");
    assert!(v["metadata"]["version"].is_string());
    assert!(v["finding_info"]["uid"].is_string());
}

#[test]
fn fail_on_and_min_severity_decide_exit_and_output() {
    let f = stratus("aws.initial-access.console-login-without-mfa.json");
    let (code, findings) = hunt(&[&f], &[]);
    assert_eq!(
        (code, findings.len()),
        (0, 1),
        "medium does not reach the default --fail-on high"
    );
    let (code, _) = hunt(&[&f], &["--fail-on", "medium"]);
    assert_eq!(code, 1);
    let (_, findings) = hunt(&[&f], &["--min-severity", "high"]);
    assert!(findings.is_empty());
}

#[test]
fn config_errors_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "hunt.toml", b"[odd_ip]\ncountrys = true\n");
    let o = run([
        "hunt",
        "-q",
        "--config",
        &cfg.display().to_string(),
        &sample_logs().display().to_string(),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("hunt.toml") && stderr(&o).contains("countrys"),
        "{}",
        stderr(&o)
    );
    let o = run(["hunt-config"]);
    assert!(stdout(&o).contains("[unusual_hour]"));
}

#[test]
fn allowlisted_principals_are_not_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "hunt.toml",
        b"[allowlist]\nprincipals = [\"arn:aws:iam::742491224508:user/stratus-red-team-user-federation-user\"]\n",
    );
    let (code, findings) = hunt(
        &[&stratus("aws.persistence.sts-federation-token.json")],
        &["--config", &cfg.display().to_string()],
    );
    assert!(findings.is_empty());
    assert_eq!(code, 0);
}

#[test]
fn respond_names_the_playbook_and_command_for_each_finding() {
    let (_, findings) = hunt(&[&sample_logs()], &["--respond"]);
    let by_kind = |k: &str| findings.iter().find(|f| f["kind"] == k).unwrap()["respond"].clone();
    let r = by_kind("failed_then_success");
    assert_eq!(r["playbook"], "revoke-role-sessions");
    let key = findings
        .iter()
        .find(|f| f["kind"] == "failed_then_success")
        .unwrap()["access_key_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        r["command"],
        format!(
            "trailhound revoke --key {key} --logs {}",
            sample_logs().display()
        )
    );
    let r = by_kind("credential_exfiltration");
    assert_eq!(r["playbook"], "contain-instance-credentials");
    assert!(
        r["command"].as_str().unwrap().contains("--instance i-"),
        "{r}"
    );
    let (_, findings) = hunt(
        &[&stratus("aws.persistence.sts-federation-token.json")],
        &["--respond"],
    );
    assert_eq!(findings[0]["respond"]["playbook"], "revoke-user-sessions");
}
