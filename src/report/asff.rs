//! Findings -> AWS Security Finding Format (ASFF, schema 2018-10-08): `hunt --format asff`.
//!
//! Takes a [`Finding`] and the events it cites; returns one ASFF finding as JSON, ready for
//! Security Hub's BatchImportFindings (`trailhound securityhub send`). The product is Security
//! Hub's default custom-integration product of the finding's account and region
//! (`arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`); `securityhub send` puts the
//! product of the account it sends to in its place. Ids and times come from the finding only, so
//! the same finding is the same document in every run and a re-import updates it in place.

use crate::detect::{Finding, Kind, Severity};
use crate::event::format_iso;
use crate::report::findings::{confidence, finding_uid, title_of, Cited};
use crate::report::ocsf;
use serde_json::{json, Map, Value};

/// The ASFF schema version written.
pub const SCHEMA_VERSION: &str = "2018-10-08";

/// ASFF limits trailhound's text is cut to (characters).
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const FIELD_MAX: usize = 2048;
const RECOMMENDATION_MAX: usize = 512;
const RESOURCES_MAX: usize = 32;

/// The ASFF finding type (`namespace/category/classifier`) of a kind.
pub fn finding_type(kind: Kind) -> &'static str {
    match kind {
        Kind::FailedThenSuccess => "TTPs/Credential Access/Denied calls then success",
        Kind::OddIp => "Unusual Behaviors/User/Call from a new network",
        Kind::UnusualHour => "Unusual Behaviors/User/Activity at an unusual hour",
        Kind::DeepRoleChain => "TTPs/Lateral Movement/Deep role chain",
        Kind::CredentialExfiltration => {
            "TTPs/Credential Access/Instance credentials used outside the instance"
        }
        Kind::ImpossibleTravel => "Unusual Behaviors/User/Impossible travel",
        Kind::RoleEnumeration => "TTPs/Discovery/Role enumeration",
        Kind::FederationTokenAdmin => "TTPs/Persistence/Federation token with broad permissions",
        Kind::ConsoleLoginWithoutMfa => "TTPs/Initial Access/Console sign-in without MFA",
        Kind::RootAccountUse => "Unusual Behaviors/User/Root account used",
        Kind::ApiEnumeration => "TTPs/Discovery/API enumeration",
        Kind::AssumeRootDenied => "TTPs/Privilege Escalation/Denied AssumeRoot",
        Kind::RoleChainJuggling => "TTPs/Persistence/Role chain juggling",
        Kind::WorkloadChainOutside => {
            "TTPs/Credential Access/Workload credentials chained and used outside AWS"
        }
        Kind::ChildSessionNewNetwork => {
            "TTPs/Lateral Movement/Chained session used from a new network"
        }
        Kind::SourceIdentityChanged => "TTPs/Defense Evasion/Source identity changed in a chain",
        Kind::SessionFanOut => "TTPs/Discovery/Session fan-out across roles or accounts",
        Kind::NewRolePath => "Unusual Behaviors/User/First-seen role path",
        Kind::Sigma => "TTPs/Sigma rule/Rule matched",
    }
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// `s` cut to at most `max` characters (never inside a character).
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => {
            let keep = s[..i].char_indices().nth(max - 1).map_or(0, |(j, _)| j);
            format!("{}…", &s[..keep])
        }
    }
}

/// ASFF resource type of a typed resource (see [`ocsf::resources`]).
fn resource_type(cfn: &str) -> &'static str {
    match cfn {
        "AWS::IAM::Role" => "AwsIamRole",
        "AWS::IAM::User" => "AwsIamUser",
        "AWS::IAM::AccessKey" => "AwsIamAccessKey",
        _ => "Other",
    }
}

fn iso_seconds(ms: i64) -> String {
    // ASFF wants RFC 3339 with a zone; trailhound's times already are.
    format_iso(ms)
}

/// One ASFF finding for `f`.
pub fn finding(f: &Finding, cited: &Cited) -> Value {
    let events = cited.of(f);
    let first = events.iter().map(|e| e.event_time).fold(f.time, i64::min);
    let last = events.iter().map(|e| e.event_time).fold(f.time, i64::max);
    let region = events
        .iter()
        .find_map(|e| e.aws_region.as_deref())
        .unwrap_or("us-east-1")
        .to_string();
    let account = f
        .account
        .clone()
        .or_else(|| {
            events
                .iter()
                .find_map(|e| e.recipient_account_id.as_deref().map(str::to_string))
        })
        .unwrap_or_else(|| "000000000000".to_string());
    let mut resources: Vec<Value> = ocsf::resources(f)
        .into_iter()
        .take(RESOURCES_MAX)
        .map(|(uid, t, partition)| {
            json!({
                "Type": resource_type(t),
                "Id": uid,
                "Partition": partition.unwrap_or_else(|| "aws".into()),
                "Region": region,
            })
        })
        .collect();
    if resources.is_empty() {
        resources.push(
            json!({"Type": "Other", "Id": f.principal, "Partition": "aws", "Region": region}),
        );
    }
    let severity = json!({"Label": label(f.severity), "Original": f.severity.as_str()});
    let conf = i64::from(confidence(f.kind)) * 30;
    let types = [finding_type(f.kind)];
    let mut product_fields = Map::new();
    let mut field = |k: &str, v: &str| {
        if !v.is_empty() {
            product_fields.insert(format!("trailhound/{k}"), cut(v, FIELD_MAX).into());
        }
    };
    field("kind", f.kind.as_str());
    field("principal", &f.principal);
    field("access_key_id", f.access_key_id.as_deref().unwrap_or(""));
    field("evidence_event_ids", &f.evidence_event_ids.join(" "));
    if let Some(rule) = &f.sigma {
        field("sigma_rule_id", &rule.rule_id);
        field("sigma_level", &rule.level);
        field("sigma_tags", &rule.tags.join(" "));
        field("sigma_events", &f.events.unwrap_or_default().to_string());
    }
    let chain: Vec<String> = f
        .chain
        .iter()
        .map(|h| {
            format!(
                "{} {} {}",
                h.access_key_id,
                h.issued_by_api.as_deref().unwrap_or("?"),
                h.role_arn.as_deref().unwrap_or("")
            )
            .trim_end()
            .to_string()
        })
        .collect();
    field("chain", &chain.join(" > "));
    let mut v = json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("trailhound/{}", finding_uid(f)),
        "ProductArn": format!("arn:aws:securityhub:{region}:{account}:product/{account}/default"),
        "ProductName": "trailhound",
        "CompanyName": "trailhound",
        "GeneratorId": format!("trailhound/{}", f.kind),
        "AwsAccountId": account,
        "Region": region,
        "Types": types,
        "FirstObservedAt": iso_seconds(first),
        "LastObservedAt": iso_seconds(last),
        "CreatedAt": iso_seconds(f.time),
        "UpdatedAt": iso_seconds(f.time),
        "Severity": severity,
        "Confidence": conf,
        "Title": cut(title_of(f), TITLE_MAX),
        "Description": cut(&format!("{} {}", f.summary, f.reason), DESCRIPTION_MAX),
        "Resources": resources,
        "ProductFields": product_fields,
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
        "FindingProviderFields": {"Severity": severity, "Types": types, "Confidence": conf},
    });
    if let Some(e) = events.first() {
        let mut call = Map::new();
        if let Some(n) = e.event_name.as_deref() {
            call.insert("Api".into(), n.into());
        }
        if let Some(s) = e.event_source.as_deref() {
            call.insert("ServiceName".into(), s.into());
        }
        match e.source_ip.as_deref() {
            Some(ip) if ip.parse::<std::net::IpAddr>().is_ok() => {
                call.insert("CallerType".into(), "remoteip".into());
                let mut remote = Map::new();
                if ip.contains('.') {
                    remote.insert("IpAddressV4".into(), ip.into());
                }
                if f.place.source_ip.as_deref() == Some(ip) {
                    if let Some(c) = &f.place.country {
                        remote.insert("Country".into(), json!({"CountryCode": c}));
                    }
                    if let Some(n) = f.place.asn {
                        let mut org = Map::new();
                        org.insert("Asn".into(), n.into());
                        if let Some(o) = &f.place.as_org {
                            org.insert("AsnOrg".into(), o.as_str().into());
                        }
                        remote.insert("Organization".into(), org.into());
                    }
                }
                if !remote.is_empty() {
                    call.insert("RemoteIpDetails".into(), remote.into());
                }
            }
            Some(domain) => {
                call.insert("CallerType".into(), "domain".into());
                call.insert("DomainDetails".into(), json!({"Domain": domain}));
            }
            None => {}
        }
        call.insert("FirstSeen".into(), iso_seconds(first).into());
        call.insert("LastSeen".into(), iso_seconds(last).into());
        v["Action"] = json!({"ActionType": "AWS_API_CALL", "AwsApiCallAction": call});
    }
    if let Some(r) = &f.respond {
        v["Remediation"] = json!({"Recommendation": {
            "Text": cut(&format!("Contain with playbook {}: {}", r.playbook, r.command), RECOMMENDATION_MAX),
        }});
    }
    v
}

/// Findings as ASFF JSON lines.
pub fn render(findings: &[Finding], cited: &Cited) -> String {
    let mut s = String::new();
    for f in findings {
        s.push_str(&finding(f, cited).to_string());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("ééééé", 3), "éé…");
        assert_eq!(cut("é", 1), "é");
    }
}
