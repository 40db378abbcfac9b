//! Incidents: findings of one key lineage become one incident with its chain, a timeline of
//! what the chain did by intent, the resources it changed and the commands that contain it.

use crate::common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use trailhound_generate::{write_sample, SampleSpec};

/// Runs `incidents` quietly; returns the exit code and stdout.
fn incidents(paths: &[PathBuf], extra: &[&str]) -> (i32, String) {
    let mut args: Vec<String> = vec!["incidents".into(), "-q".into()];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{args:?}: {}", stderr(&o));
    (code(&o), stdout(&o))
}

fn ndjson(paths: &[PathBuf], extra: &[&str]) -> Vec<Value> {
    let mut a = vec!["--format", "ndjson"];
    a.extend_from_slice(extra);
    incidents(paths, &a)
        .1
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hunt(paths: &[PathBuf]) -> Vec<Value> {
    let mut args: Vec<String> = vec![
        "hunt".into(),
        "-q".into(),
        "--format".into(),
        "ndjson".into(),
    ];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let o = run(&args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn strs(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

fn group<'a>(inc: &'a Value, intent: &str) -> Option<&'a Value> {
    inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["intent"] == intent)
}

/// The calls of an intent group, by name.
fn calls(inc: &Value, intent: &str) -> BTreeSet<String> {
    group(inc, intent).map_or_else(BTreeSet::new, |g| {
        g["calls_by_name"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    })
}

const BREAK_IN_USER: &str = "arn:aws:iam::310915732205:user/svc-reporting";

#[test]
fn the_samples_planted_break_in_is_one_incident() {
    let (code, _) = incidents(&[sample_logs()], &[]);
    assert_eq!(code, 1, "a critical incident reaches --fail-on high");
    let all = ndjson(&[sample_logs()], &[]);
    // Six findings today: the break-in's two (odd_ip on the stolen key, failed_then_success on
    // the session it got) and four unrelated ones (the planted deep chain is also a
    // new_role_path).
    let findings: usize = all
        .iter()
        .map(|i| i["findings"].as_array().unwrap().len())
        .sum();
    assert_eq!(findings, 6);
    let break_in: Vec<&Value> = all
        .iter()
        .filter(|i| {
            i["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["principal"] == BREAK_IN_USER)
        })
        .collect();
    assert_eq!(break_in.len(), 1, "{all:#?}");
    let inc = break_in[0];
    let kinds: BTreeSet<String> = inc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["failed_then_success", "odd_ip"].map(String::from).into()
    );
    assert_eq!(inc["root_principal"], BREAK_IN_USER);
    // New place + denied probing: two kinds of signal raise high to critical.
    assert_eq!(inc["severity"], "critical");
    assert_eq!(
        strs(&inc["signals"]),
        ["denied_probing", "unusual_access"]
            .map(String::from)
            .into()
    );
    let keys = strs(&inc["access_key_ids"]);
    assert!(keys.contains("AKIATAFSYMSF3IPRN3WL"), "{keys:?}");
    assert!(keys.contains("ASIAGVYVIYZGN3F7ZL5V"), "{keys:?}");
    assert!(inc["incident_id"]
        .as_str()
        .unwrap()
        .strip_prefix("INC-")
        .is_some_and(|h| h.len() == 8 && h.chars().all(|c| c.is_ascii_hexdigit())));
    // What the attacker did with the new session: reconnaissance.
    let recon = group(inc, "reconnaissance").expect("reconnaissance group");
    assert!(recon["calls"].as_u64().unwrap() > 0);
    // The stolen key and the role session are each contained.
    let commands: Vec<String> = inc["containment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap().to_string())
        .collect();
    assert!(
        commands
            .iter()
            .any(|c| c.contains("deactivate-access-key --key AKIATAFSYMSF3IPRN3WL")),
        "{commands:#?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.contains("revoke --key ASIAGVYVIYZGN3F7ZL5V")),
        "{commands:#?}"
    );
}

#[test]
fn unrelated_principals_stay_separate_incidents() {
    let all = ndjson(&[sample_logs()], &[]);
    // The break-in, the three-hop role chain, the unusual hour and the stolen instance
    // credentials: four principals, four incidents.
    assert_eq!(all.len(), 4, "{all:#?}");
    let roots: BTreeSet<String> = all
        .iter()
        .map(|i| i["root_principal"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roots.len(), 4);
    for (n, a) in all.iter().enumerate() {
        for b in &all[n + 1..] {
            assert!(
                strs(&a["access_key_ids"]).is_disjoint(&strs(&b["access_key_ids"])),
                "{} and {} share keys",
                a["incident_id"],
                b["incident_id"]
            );
        }
    }
    // One finding alone, one kind of signal: its own severity.
    let jonas = all
        .iter()
        .find(|i| i["root_principal"] == "arn:aws:iam::310915732205:user/jonas.weber")
        .unwrap();
    assert_eq!(jonas["severity"], "medium");
    // Incidents at or above --min-severity only.
    let high = ndjson(&[sample_logs()], &["--min-severity", "high"]);
    assert!(high
        .iter()
        .all(|i| i["severity"] == "high" || i["severity"] == "critical"));
    assert!(high.len() < all.len());
}

#[test]
fn ndjson_incidents_carry_every_field() {
    let all = ndjson(&[sample_logs()], &[]);
    for inc in &all {
        for k in [
            "incident_id",
            "severity",
            "root_principal",
            "first_time",
            "last_time",
            "accounts",
            "access_key_ids",
            "findings",
            "chain",
            "timeline",
            "resources",
            "containment",
        ] {
            assert!(inc.get(k).is_some(), "{k} missing in {inc}");
        }
        assert!(!inc["accounts"].as_array().unwrap().is_empty());
        assert!(inc["first_time"].as_str().unwrap() <= inc["last_time"].as_str().unwrap());
        for f in inc["findings"].as_array().unwrap() {
            for k in ["kind", "principal", "access_key_id", "time"] {
                assert!(f.get(k).is_some(), "finding {k} missing in {f}");
            }
            // Every key of a finding is a key of its incident.
            if let Some(k) = f["access_key_id"].as_str() {
                assert!(strs(&inc["access_key_ids"]).contains(k));
            }
        }
        for g in inc["timeline"].as_array().unwrap() {
            assert!(g["calls"].as_u64().unwrap() >= g["errors"].as_u64().unwrap());
            let by_name: u64 = g["calls_by_name"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["calls"].as_u64().unwrap())
                .sum();
            assert_eq!(by_name, g["calls"].as_u64().unwrap(), "counts are exact");
            assert!(g["examples"].as_array().unwrap().len() <= 10);
        }
    }
    // Ordered by first finding.
    let firsts: Vec<&str> = all
        .iter()
        .map(|i| i["first_time"].as_str().unwrap())
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort();
    assert_eq!(firsts, sorted);
}

#[test]
fn markdown_is_an_incident_report_with_every_section() {
    let (_, md) = incidents(&[sample_logs()], &["--format", "markdown"]);
    assert!(md.starts_with("# trailhound incidents\n"));
    assert_eq!(md.matches("\n## INC-").count(), 4, "{md}");
    for section in [
        "**Summary.**",
        "### How access was gained",
        "### Timeline",
        "### Impact",
        "### Actions",
        "```sh\n",
        "Session chain:",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("trailhound revoke --key ASIAGVYVIYZGN3F7ZL5V"));
    let (_, table) = incidents(&[sample_logs()], &[]);
    assert_eq!(table.lines().count(), 2 + 4, "{table}");
}

/// Every file under `dir`, in a fixed shuffled order.
fn shuffled_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files.sort();
    files.reverse();
    let (a, b) = files.split_at(files.len() / 3);
    b.iter().chain(a).cloned().collect()
}

#[test]
fn incidents_are_the_same_bytes_whatever_the_threads_slices_or_file_order() {
    for format in ["ndjson", "markdown"] {
        let want = incidents(&[sample_logs()], &["--format", format]).1;
        for extra in [
            vec!["--threads", "1"],
            vec!["--threads", "2", "--slice-minutes", "7"],
        ] {
            let mut a = vec!["--format", format];
            a.extend(extra.iter().copied());
            assert!(
                incidents(&[sample_logs()], &a).1 == want,
                "{format} {extra:?} differs"
            );
        }
        // The containment commands name the inputs (sorted): the same files in another order
        // give the same bytes.
        let got = incidents(&shuffled_files(&sample_logs()), &["--format", format]).1;
        let mut files = shuffled_files(&sample_logs());
        files.sort();
        let in_order = incidents(&files, &["--format", format]).1;
        assert!(got == in_order, "{format}: shuffled file order differs");
        assert_eq!(got.matches("INC-").count(), want.matches("INC-").count());
    }
}

#[test]
fn a_generated_corpus_gives_incidents_whose_keys_cover_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SampleSpec {
        seed: 23,
        days: 9,
        ..SampleSpec::default()
    };
    let truth = write_sample(&spec, dir.path()).unwrap();
    let input = vec![dir.path().to_path_buf()];
    let findings = hunt(&input);
    let all = ndjson(&input, &[]);
    assert!(!all.is_empty());
    // Every finding is in exactly one incident, and its key and chain are the incident's.
    let id = |f: &Value| {
        format!(
            "{}|{}|{}|{}",
            f["kind"], f["time"], f["principal"], f["access_key_id"]
        )
    };
    let mut placed: Vec<String> = Vec::new();
    for inc in &all {
        let keys = strs(&inc["access_key_ids"]);
        for f in inc["findings"].as_array().unwrap() {
            placed.push(id(f));
            if let Some(k) = f["access_key_id"].as_str() {
                assert!(keys.contains(k), "{} lacks {k}", inc["incident_id"]);
            }
        }
        for n in inc["chain"].as_array().unwrap() {
            assert!(keys.contains(n["access_key_id"].as_str().unwrap()));
        }
    }
    let mut want: Vec<String> = findings.iter().map(id).collect();
    want.sort();
    placed.sort();
    assert_eq!(placed, want, "each finding in exactly one incident");
    for f in &findings {
        for h in f["chain"].as_array().unwrap() {
            let k = h["access_key_id"].as_str().unwrap();
            let holder = all.iter().find(|i| {
                i["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| id(g) == id(f))
            });
            assert!(strs(&holder.unwrap()["access_key_ids"]).contains(k));
        }
    }
    // The planted break-in (odd_ip and failed_then_success of one user) is one incident.
    let planted: BTreeSet<&str> = truth
        .incidents
        .iter()
        .filter(|i| i.kind == "odd_ip" || i.kind == "failed_then_success")
        .map(|i| i.principal.as_str())
        .collect();
    assert_eq!(planted.len(), 1);
    let user = planted.into_iter().next().unwrap();
    let holding: Vec<&Value> = all
        .iter()
        .filter(|i| {
            i["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["principal"] == user && f["kind"] == "failed_then_success")
        })
        .collect();
    assert_eq!(holding.len(), 1);
    assert!(holding[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "odd_ip"));
    // Incidents of different root principals never share a finding's key.
    let finding_keys = |i: &Value| -> BTreeSet<String> {
        i["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["access_key_id"].as_str().map(str::to_string))
            .collect()
    };
    for (n, a) in all.iter().enumerate() {
        for b in &all[n + 1..] {
            if a["root_principal"] != b["root_principal"] {
                assert!(
                    finding_keys(a).is_disjoint(&finding_keys(b)),
                    "{} and {}",
                    a["incident_id"],
                    b["incident_id"]
                );
            }
        }
    }
}

fn stratus(name: &str) -> Vec<Value> {
    let p = datasets().join("datadog_stratus-red-team").join(name);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// A hand-made chain from Stratus Red Team detonations (Apache-2.0, DataDog/stratus-red-team):
/// christophe's key is denied AssumeRole twice, then gets the role (a `failed_then_success`
/// finding); the session it got then stops the trail, creates an admin user with a key,
/// reads secrets and parameters and shares a snapshot (each from its own detonation's real
/// events, signed again with that session and moved just after).
fn stratus_chain(dir: &Path) -> PathBuf {
    let base = stratus("aws.credential-access.ec2-get-password-data.json");
    let session = base
        .iter()
        .find(|e| e["eventName"] == "GetPasswordData")
        .unwrap()["userIdentity"]
        .clone();
    let mut records = base.clone();
    let acts = [
        "aws.defense-evasion.cloudtrail-stop.json",
        "aws.persistence.iam-create-admin-user.json",
        "aws.credential-access.secretsmanager-retrieve-secrets.json",
        "aws.credential-access.ssm-retrieve-securestring-parameters.json",
        "aws.exfiltration.ec2-share-ebs-snapshot.json",
    ];
    let mut second = 0;
    for file in acts {
        let mut evs = stratus(file);
        evs.sort_by(|a, b| a["eventTime"].as_str().cmp(&b["eventTime"].as_str()));
        for mut e in evs {
            second += 1;
            e["userIdentity"] = session.clone();
            e["eventTime"] = json!(format!(
                "2024-07-30T21:{:02}:{:02}Z",
                35 + second / 60,
                second % 60
            ));
            e["recipientAccountId"] = json!("457448411975");
            e["sourceIPAddress"] = json!("200.249.253.51");
            records.push(e);
        }
    }
    write(
        dir,
        "chain.json",
        serde_json::to_string(&json!({ "Records": records }))
            .unwrap()
            .as_bytes(),
    )
}

#[test]
fn a_stratus_chain_is_grouped_by_intent() {
    let dir = tempfile::tempdir().unwrap();
    let file = stratus_chain(dir.path());
    let all = ndjson(&[file], &[]);
    assert_eq!(all.len(), 1, "{all:#?}");
    let inc = &all[0];
    assert_eq!(
        inc["root_principal"],
        "arn:aws:iam::457448411975:user/christophe"
    );
    assert_eq!(inc["findings"][0]["kind"], "failed_then_success");
    // failed_then_success (high) + admin user created + trail stopped: raised to critical.
    assert_eq!(inc["severity"], "critical");
    assert!(strs(&inc["signals"]).contains("defence_evasion"));
    assert!(strs(&inc["signals"]).contains("privilege_change"));
    assert!(strs(&inc["access_key_ids"]).contains("ASIANQQHHS551LWULIWD"));
    assert!(strs(&inc["access_key_ids"]).contains("AKIAWOGXN38MFN92ING5"));

    assert_eq!(
        calls(inc, "defence_evasion"),
        ["cloudtrail:StopLogging"].map(String::from).into()
    );
    assert!(strs(&group(inc, "defence_evasion").unwrap()["targets"])
        .iter()
        .any(|t| t.starts_with("trail:stratus-red-team-ct-stop-trail")));
    assert_eq!(
        calls(inc, "persistence"),
        ["iam:CreateAccessKey", "iam:CreateUser"]
            .map(String::from)
            .into()
    );
    // The key is for another user, and admin rights are attached to it.
    assert_eq!(
        calls(inc, "privilege_escalation"),
        ["iam:AttachUserPolicy", "iam:CreateAccessKey"]
            .map(String::from)
            .into()
    );
    let data = calls(inc, "data_access");
    for c in [
        "secretsmanager:GetSecretValue",
        "ssm:GetParameters",
        "ec2:GetPasswordData",
    ] {
        assert!(data.contains(c), "{c} not in {data:?}");
    }
    let secrets = strs(&group(inc, "data_access").unwrap()["targets"]);
    assert!(secrets
        .iter()
        .any(|t| t.starts_with("secret:arn:aws:secretsmanager:")));
    assert!(secrets
        .iter()
        .any(|t| t.starts_with("parameter:/credentials/stratus-red-team/")));
    let data_group = group(inc, "data_access").unwrap();
    // 30 GetPasswordData, 20 GetSecretValue, and the GetParameters calls: counted exactly,
    // 10 examples kept.
    assert!(data_group["calls"].as_u64().unwrap() > 50);
    assert_eq!(data_group["examples"].as_array().unwrap().len(), 10);
    assert_eq!(
        calls(inc, "impact"),
        ["ec2:ModifySnapshotAttribute"].map(String::from).into()
    );
    let recon = calls(inc, "reconnaissance");
    assert!(recon.contains("secretsmanager:ListSecrets"), "{recon:?}");
    assert!(recon.contains("ssm:DescribeParameters"), "{recon:?}");

    let resources: BTreeSet<String> = inc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect();
    for r in [
        "user:malicious-iam-user",
        "access_key:AKIAXAFZN8JEPF6L682H",
        "policy:arn:aws:iam::aws:policy/AdministratorAccess",
        "snapshot:snap-041993b54a9b3af6f",
    ] {
        assert!(resources.contains(r), "{r} not in {resources:?}");
    }
    let user = inc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "malicious-iam-user")
        .unwrap();
    assert_eq!(
        strs(&user["calls"]),
        ["AttachUserPolicy", "CreateAccessKey", "CreateUser"]
            .map(String::from)
            .into()
    );
    // --examples caps the examples, never the counts.
    let few = ndjson(&[dir.path().join("chain.json")], &["--examples", "2"]);
    let g = group(&few[0], "data_access").unwrap();
    assert_eq!(g["examples"].as_array().unwrap().len(), 2);
    assert_eq!(g["calls"], data_group["calls"]);
}

#[test]
fn a_bad_window_is_a_usage_error() {
    let o = run(["incidents", "-q", "--window", "soon"]
        .iter()
        .map(|s| s.to_string())
        .chain([sample_logs().display().to_string()]));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("soon"));
}

#[test]
fn the_window_splits_a_lineage() {
    // A one-minute window: the odd_ip call and the AssumeRole finding three minutes later are
    // two incidents of the same user.
    let all = ndjson(&[sample_logs()], &["--window", "1m"]);
    let of_user = all
        .iter()
        .filter(|i| i["root_principal"] == BREAK_IN_USER)
        .count();
    assert_eq!(of_user, 2, "{all:#?}");
}

#[test]
fn incidents_lead_the_nightly_reports() {
    let ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|i| i["incident_id"].as_str().unwrap().to_string())
            .collect()
    };
    let want = ids(&ndjson(&[sample_logs()], &[]));
    for (format, incidents_at, findings_at) in [
        ("markdown", "\n## Incidents\n", "\n## Findings\n"),
        (
            "html",
            "id=\"incidents-section\"",
            "id=\"findings-section\"",
        ),
        ("json", "\"incidents\"", "\"findings\""),
    ] {
        let state = tempfile::tempdir().unwrap();
        let o = run([
            "report",
            &sample_logs().display().to_string(),
            "--state",
            &state.path().display().to_string(),
            "--format",
            format,
            "-q",
        ]);
        assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
        let text = stdout(&o);
        let i = text.find(incidents_at).expect(incidents_at);
        let f = text.find(findings_at).expect(findings_at);
        assert!(i < f, "{format}: incidents come before the findings");
        // The first run's findings are all new: the same incidents as the command's.
        let got: BTreeSet<String> = want
            .iter()
            .filter(|id| text.contains(id.as_str()))
            .cloned()
            .collect();
        assert_eq!(got, want, "{format}");
        if format == "json" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(ids(v["incidents"].as_array().unwrap()), want);
        }
    }
}

#[test]
fn sigma_findings_join_the_incident_of_the_principal_they_name() {
    // Stratus Red Team's console sign-in without MFA: trailhound's own finding and the SigmaHQ
    // rule's are one incident of that user.
    let log = datasets()
        .join("datadog_stratus-red-team")
        .join("aws.initial-access.console-login-without-mfa.json");
    let rules = root().join("rules/sigma/aws-cloudtrail");
    let args: [&std::ffi::OsStr; 7] = [
        "incidents".as_ref(),
        log.as_os_str(),
        "-q".as_ref(),
        "--format".as_ref(),
        "ndjson".as_ref(),
        "--sigma".as_ref(),
        rules.as_os_str(),
    ];
    let o = run(args);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let incidents: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let kinds: Vec<&str> = incidents[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"sigma"), "{kinds:?}");
    assert!(kinds.contains(&"console_login_without_mfa"), "{kinds:?}");
}
