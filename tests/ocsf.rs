//! OCSF 1.8.0: every Detection Finding `hunt --format ocsf` writes is checked against the
//! schema's attributes, requirements, types, enums and constraints, as extracted from the
//! official schema into tests/fixtures/ocsf/detection_finding-1.8.0.json by
//! tools/ocsf_fixture.py (see the fixture's `source`).

use crate::common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use trailhound::detect::{Finding, Hop, Kind, Place, Severity};
use trailhound::report::findings::Cited;

fn schema() -> Value {
    let p = root().join("tests/fixtures/ocsf/detection_finding-1.8.0.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

struct Checker<'a> {
    schema: &'a Value,
    profiles: Vec<String>,
    errors: Vec<String>,
}

impl Checker<'_> {
    fn object(&mut self, ty: &str, v: &Value, path: &str) {
        let attrs = if ty == "class" {
            &self.schema["class"]["attributes"]
        } else {
            &self.schema["objects"][ty]["attributes"]
        };
        let Some(attrs) = attrs.as_object() else {
            self.errors.push(format!(
                "{path}: object type {ty} is not in the fixture (add it to tools/ocsf_fixture.py)"
            ));
            return;
        };
        let Some(obj) = v.as_object() else {
            self.errors.push(format!("{path}: {ty} must be an object"));
            return;
        };
        for (k, val) in obj {
            let at = format!("{path}.{k}");
            let Some(a) = attrs.get(k) else {
                self.errors
                    .push(format!("{at}: not an attribute of {ty} in OCSF 1.8.0"));
                continue;
            };
            if let Some(p) = a["profile"].as_str() {
                if !self.profiles.iter().any(|x| x == p) {
                    self.errors
                        .push(format!("{at}: belongs to profile {p}, not declared"));
                }
            }
            if val.is_null() {
                self.errors.push(format!("{at}: null (omit it instead)"));
                continue;
            }
            let t = a["type"].as_str().unwrap();
            if a["array"] == true {
                match val.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.value(t, a, item, &format!("{at}[{i}]"));
                        }
                    }
                    None => self.errors.push(format!("{at}: must be an array")),
                }
            } else {
                self.value(t, a, val, &at);
            }
            if let (Some(sib), Some(en)) = (a["sibling"].as_str(), a["enum"].as_object()) {
                let caption = val
                    .as_i64()
                    .filter(|id| *id != 99)
                    .and_then(|id| en.get(&id.to_string()))
                    .and_then(Value::as_str);
                if let (Some(c), Some(given)) = (caption, obj.get(sib)) {
                    if given != c {
                        self.errors
                            .push(format!("{path}.{sib}: {given} is not the caption {c:?}"));
                    }
                }
            }
        }
        for (k, a) in attrs {
            let in_profile = a["profile"]
                .as_str()
                .is_none_or(|p| self.profiles.iter().any(|x| x == p));
            if a["requirement"] == "required" && in_profile && !obj.contains_key(k) {
                self.errors
                    .push(format!("{path}: required attribute {k} of {ty} is missing"));
            }
        }
        let cons = &self.schema["objects"][ty]["constraints"];
        if let Some(names) = cons["at_least_one"].as_array() {
            if !names.iter().any(|n| obj.contains_key(n.as_str().unwrap())) {
                self.errors
                    .push(format!("{path}: {ty} needs at least one of {names:?}"));
            }
        }
        if let Some(names) = cons["just_one"].as_array() {
            let n = names
                .iter()
                .filter(|n| obj.contains_key(n.as_str().unwrap()))
                .count();
            if n != 1 {
                self.errors
                    .push(format!("{path}: {ty} needs exactly one of {names:?}"));
            }
        }
    }

    fn value(&mut self, t: &str, a: &Value, v: &Value, at: &str) {
        if self.schema["objects"].get(t).is_some() {
            return self.object(t, v, at);
        }
        let base = match t {
            "object" | "json_t" => return,
            other => self.schema["types"][other]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: unknown type {other}")),
        };
        let ok = match base {
            "string_t" => v.is_string(),
            "integer_t" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "long_t" => v.is_i64() || v.is_u64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            _ => {
                self.errors.push(format!("{at}: type {t} ({base})?"));
                true
            }
        };
        if !ok {
            self.errors.push(format!("{at}: {v} is not a {t}"));
        }
        if t == "ip_t"
            && v.as_str()
                .is_some_and(|s| s.parse::<std::net::IpAddr>().is_err())
        {
            self.errors.push(format!("{at}: {v} is not an IP address"));
        }
        if let Some(en) = a["enum"].as_object() {
            let key = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !en.contains_key(&key) {
                self.errors.push(format!(
                    "{at}: {v} is not one of {:?}",
                    en.keys().collect::<Vec<_>>()
                ));
            }
        }
    }
}

/// Every problem of one finding, one line each.
fn check(schema: &Value, finding: &Value) -> Vec<String> {
    let profiles: Vec<String> = finding["metadata"]["profiles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut c = Checker {
        schema,
        profiles,
        errors: Vec::new(),
    };
    c.object("class", finding, "$");
    if finding["metadata"]["version"] != schema["version"] {
        c.errors.push(format!(
            "$.metadata.version: {} is not {}",
            finding["metadata"]["version"], schema["version"]
        ));
    }
    let want = finding["class_uid"].as_i64().unwrap_or(0) * 100
        + finding["activity_id"].as_i64().unwrap_or(0);
    if finding["type_uid"].as_i64() != Some(want) {
        c.errors.push(format!(
            "$.type_uid is not class_uid * 100 + activity_id ({want})"
        ));
    }
    c.errors
}

fn ocsf_lines(paths: &[PathBuf]) -> Vec<Value> {
    let mut args = vec![
        "hunt".to_string(),
        "-q".into(),
        "--format".into(),
        "ocsf".into(),
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
fn every_finding_is_a_valid_ocsf_1_8_detection_finding() {
    let schema = schema();
    let stratus = datasets().join("datadog_stratus-red-team");
    let mut inputs = vec![vec![sample_logs()]];
    for entry in std::fs::read_dir(&stratus).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "json") {
            inputs.push(vec![p]);
        }
    }
    inputs.push(vec![datasets().join("panther-analysis")]);
    let mut findings = Vec::new();
    for paths in &inputs {
        findings.extend(ocsf_lines(paths));
    }
    assert!(findings.len() >= 8, "only {} findings", findings.len());
    let mut kinds = std::collections::BTreeSet::new();
    for f in &findings {
        let errors = check(&schema, f);
        assert!(
            errors.is_empty(),
            "{}\n{}",
            errors.join("\n"),
            serde_json::to_string_pretty(f).unwrap()
        );
        assert_eq!(f["metadata"]["profiles"], json!(["cloud"]));
        assert_eq!(f["cloud"]["provider"], "AWS");
        assert!(!f["resources"].as_array().unwrap().is_empty());
        assert!(!f["observables"].as_array().unwrap().is_empty());
        kinds.insert(
            f["unmapped"]["trailhound"]["kind"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // The cited events are at hand in `hunt`: each names its API call (records without an
    // eventID, as in some of Panther's test events, cannot be cited).
    let cited: Vec<&Value> = findings
        .iter()
        .filter(|f| f["finding_info"]["related_events_count"] != 0)
        .collect();
    assert!(cited.len() >= 8);
    assert!(cited.iter().all(|f| f["evidences"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["api"]["operation"].is_string())));
    assert!(kinds.len() >= 5, "kinds covered: {kinds:?}");
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schema = schema();
    let good = ocsf_lines(&[sample_logs()]).remove(0);
    assert_eq!(check(&schema, &good), Vec::<String>::new());
    let bad = |edit: &dyn Fn(&mut Value), want: &str| {
        let mut v = good.clone();
        edit(&mut v);
        let errors = check(&schema, &v);
        assert!(
            errors.iter().any(|e| e.contains(want)),
            "{want:?} not in {errors:?}"
        );
    };
    // What the 1.3 output did wrong.
    bad(
        &|v| v["src_endpoint"] = json!({"ip": "192.0.2.1"}),
        "$.src_endpoint: not an attribute",
    );
    bad(
        &|v| v["actor"] = json!({"user": {"uid": "x"}}),
        "profile host",
    );
    bad(
        &|v| {
            v["finding_info"]
                .as_object_mut()
                .unwrap()
                .remove("uid")
                .map(drop)
                .unwrap()
        },
        "required attribute uid of finding_info",
    );
    bad(
        &|v| v["severity_id"] = json!(7),
        "$.severity_id: 7 is not one of",
    );
    bad(&|v| v["severity"] = json!("Info"), "is not the caption");
    bad(&|v| v["type_uid"] = json!(200409), "$.type_uid: 200409");
    bad(
        &|v| v["metadata"]["profiles"] = json!([]),
        "$.cloud: belongs to profile cloud",
    );
    bad(
        &|v| v["evidences"][0] = json!({"uid": "x"}),
        "evidences needs at least one of",
    );
    bad(
        &|v| v["evidences"][0]["src_endpoint"]["ip"] = json!("not-an-ip"),
        "is not an IP address",
    );
    bad(
        &|v| v["resources"][0]["role_id"] = json!("3"),
        "is not a integer_t",
    );
    bad(
        &|v| v["metadata"]["version"] = json!("1.3.0"),
        "is not \"1.8.0\"",
    );
}

/// Without the events at hand (a caller that only has findings), the finding's own principal,
/// key and place make the evidence, and the output is still valid.
#[test]
fn findings_without_their_events_are_still_valid() {
    let f = Finding {
        kind: Kind::DeepRoleChain,
        severity: Severity::Medium,
        time: 1_772_737_789_000,
        principal: "arn:aws:iam::111111111111:user/alice".into(),
        access_key_id: Some("ASIAEXAMPLEEXAMPLE01".into()),
        account: Some("111111111111".into()),
        place: Place {
            source_ip: Some("198.51.100.7".into()),
            country: Some("DE".into()),
            asn: Some(64500),
            as_org: None,
        },
        summary: "s".into(),
        reason: "r".into(),
        evidence_event_ids: vec!["e1".into()],
        events: None,
        last_time: None,
        chain: vec![Hop {
            access_key_id: "ASIAEXAMPLEEXAMPLE01".into(),
            issued_by_api: Some("AssumeRole".into()),
            role_arn: Some("arn:aws:iam::111111111111:role/admin".into()),
            session_name: Some("x".into()),
            chain_depth: 1,
            source_identity: None,
        }],
        sigma: None,
        respond: None,
    };
    let v = trailhound::report::ocsf::detection_finding(&f, &Cited::default());
    assert_eq!(check(&schema(), &v), Vec::<String>::new(), "{v:#}");
    let types: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::IAM::Role"]
    );
    assert_eq!(
        v["evidences"][0]["src_endpoint"]["location"]["country"],
        "DE"
    );
}
