//! `hunt --format asff` and `securityhub send`: findings reach moto's Security Hub in batches of
//! 100, a throttled call is sent again, an invalid finding is named, and what GetFindings reads
//! back is what trailhound wrote.

use crate::common::*;
use crate::emulator::moto;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;

fn asff(paths: &[std::path::PathBuf]) -> Vec<Value> {
    let mut args = vec![
        "hunt".to_string(),
        "-q".into(),
        "--format".into(),
        "asff".into(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn asff_has_what_batch_import_findings_requires() {
    let stratus = datasets().join("datadog_stratus-red-team");
    let findings = asff(&[sample_logs(), stratus]);
    assert!(findings.len() >= 5);
    for f in &findings {
        for k in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "CreatedAt",
            "UpdatedAt",
            "Title",
            "Description",
        ] {
            assert!(f[k].as_str().is_some_and(|s| !s.is_empty()), "{k}: {f}");
        }
        assert_eq!(f["SchemaVersion"], "2018-10-08");
        let account = f["AwsAccountId"].as_str().unwrap();
        assert!(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
        assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
            .contains(&f["Severity"]["Label"].as_str().unwrap()));
        let types = f["Types"].as_array().unwrap();
        assert!(!types.is_empty());
        for t in types {
            let parts: Vec<&str> = t.as_str().unwrap().split('/').collect();
            assert_eq!(parts.len(), 3, "{t}");
            assert!([
                "Software and Configuration Checks",
                "TTPs",
                "Effects",
                "Unusual Behaviors",
                "Sensitive Data Identifications"
            ]
            .contains(&parts[0]));
        }
        let resources = f["Resources"].as_array().unwrap();
        assert!(!resources.is_empty() && resources.len() <= 32);
        for r in resources {
            assert!(["AwsIamRole", "AwsIamUser", "AwsIamAccessKey", "Other"]
                .contains(&r["Type"].as_str().unwrap()));
        }
        assert!(f["Title"].as_str().unwrap().chars().count() <= 256);
        assert!(f["Description"].as_str().unwrap().chars().count() <= 1024);
        for v in f["ProductFields"].as_object().unwrap().values() {
            assert!(v.is_string());
        }
        assert_eq!(f["Action"]["ActionType"], "AWS_API_CALL");
    }
}

#[test]
fn send_imports_in_batches_retries_throttling_and_reads_back() {
    let m = moto();
    let real = asff(&[sample_logs()]);
    assert!(!real.is_empty());
    // 230 findings: the real ones and copies with their own ids; one without resources, which
    // Security Hub refuses.
    let mut all: Vec<Value> = Vec::new();
    for i in 0..230 {
        let mut f = real[i % real.len()].clone();
        if i >= real.len() {
            f["Id"] = json!(format!("{}/copy-{i}", f["Id"].as_str().unwrap()));
        }
        all.push(f);
    }
    let mut bad = real[0].clone();
    bad["Id"] = json!("trailhound/no-resources");
    bad["Resources"] = json!([]);
    all.insert(150, bad);
    let dir = tempfile::tempdir().unwrap();
    let text: String = all.iter().map(|f| f.to_string() + "\n").collect();
    let file = write(dir.path(), "findings.asff.jsonl", text.as_bytes());

    m.requests_reset("findings");
    m.call_in(
        None,
        "fixture",
        "fault",
        json!({"Path": "/findings/import", "Count": 1, "Status": 429}),
    )
    .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    crate::emulator::test_credentials(&mut c).env("AWS_REGION", "us-east-1");
    let o = c
        .args(["securityhub", "send", "--endpoint-url", &m.url()])
        .arg(&file)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(code(&o), 2, "{err}");
    assert!(
        err.contains("finding trailhound/no-resources not imported: InvalidInput"),
        "{err}"
    );
    assert!(
        err.contains("230 findings imported, 1 failed, in 4 BatchImportFindings calls"),
        "{err}"
    );
    // Independently of trailhound's count: 3 batches (100, 100, 31), the first throttled once.
    let imports = m
        .requests("findings")
        .into_iter()
        .filter(|r| r.path == "/findings/import" && r.method == "POST")
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(imports, [429, 200, 200, 200]);

    let mut got: Vec<Value> = Vec::new();
    let mut params = json!({"MaxResults": 100});
    loop {
        let page = m
            .call_in(None, "securityhub", "get_findings", params.clone())
            .unwrap();
        got.extend(page["Findings"].as_array().unwrap().iter().cloned());
        match page["NextToken"].as_str() {
            Some(t) if !t.is_empty() => params["NextToken"] = json!(t),
            _ => break,
        }
    }
    let ids: BTreeSet<&str> = got.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    let want: BTreeSet<&str> = all
        .iter()
        .map(|f| f["Id"].as_str().unwrap())
        .filter(|id| *id != "trailhound/no-resources")
        .collect();
    assert_eq!(ids, want);
    let first = got.iter().find(|f| f["Id"] == real[0]["Id"]).unwrap();
    assert_eq!(
        first["ProductArn"],
        "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
    );
    for k in [
        "Title",
        "Description",
        "GeneratorId",
        "AwsAccountId",
        "Types",
        "Severity",
    ] {
        assert_eq!(first[k], real[0][k], "{k}");
    }
    assert_eq!(first["Resources"], real[0]["Resources"]);
    assert_eq!(first["ProductFields"], real[0]["ProductFields"]);
    assert_eq!(
        first["Action"]["AwsApiCallAction"]["Api"],
        real[0]["Action"]["AwsApiCallAction"]["Api"]
    );
}
