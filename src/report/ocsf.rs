//! Findings -> OCSF 1.8.0 Detection Findings (class_uid 2004, category Findings).
//!
//! Takes a [`Finding`] and the events it cites ([`Cited`]); returns one JSON object that uses
//! only attributes of the class, its objects and the `cloud` profile it declares; what OCSF has
//! no place for (the session chain, the containment command) is under `unmapped.trailhound`.
//! Each cited event at hand becomes one `evidences` item (actor, api, src_endpoint); the
//! principal, access keys and roles of the session chain are the `resources`; IP addresses,
//! countries, ARNs and keys are `observables`. The test in tests/ocsf.rs checks every finding
//! against the 1.8.0 schema's required attributes, types and enums.

use crate::detect::{Finding, Severity};
use crate::event::Event;
use crate::report::findings::{confidence, finding_uid, is_behavioral, title_of, Cited};
use serde_json::{json, Map, Value};

/// The OCSF schema version the output declares.
pub const VERSION: &str = "1.8.0";

/// At most this many cited events become `evidences` items (all are in `related_events`).
const MAX_EVIDENCES: usize = 20;

/// OCSF severity caption (severity_id 1 is "Informational").
pub fn severity_caption(s: Severity) -> &'static str {
    match s {
        Severity::Info => "Informational",
        Severity::Low => "Low",
        Severity::Medium => "Medium",
        Severity::High => "High",
        Severity::Critical => "Critical",
    }
}

/// Inserts `v` under `k` unless it is null.
fn put(m: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    let v = v.into();
    if !v.is_null() {
        m.insert(k.to_string(), v);
    }
}

fn account(uid: &str) -> Value {
    json!({"uid": uid, "type_id": 10, "type": "AWS Account"})
}

/// The AWS type of an ARN or key, in CloudFormation's spelling, and its partition.
fn aws_type(uid: &str) -> Option<(&'static str, Option<&str>)> {
    if let Some(rest) = uid.strip_prefix("arn:") {
        let partition = rest.split(':').next();
        let resource = rest.splitn(5, ':').nth(4).unwrap_or("");
        let t = if resource.starts_with("role/") {
            "AWS::IAM::Role"
        } else if resource.starts_with("user/") {
            "AWS::IAM::User"
        } else if resource == "root" {
            "AWS::IAM::Root"
        } else if resource.starts_with("assumed-role/") {
            "AWS::STS::AssumedRole"
        } else if resource.starts_with("federated-user/") {
            "AWS::STS::FederatedUser"
        } else if resource.starts_with("saml-provider/") || resource.starts_with("oidc-provider/") {
            "AWS::IAM::IdentityProvider"
        } else {
            return None;
        };
        return Some((t, partition));
    }
    let key = uid.len() >= 16
        && ["AKIA", "ASIA"].iter().any(|p| uid.starts_with(p))
        && uid.bytes().all(|b| b.is_ascii_alphanumeric());
    key.then_some(("AWS::IAM::AccessKey", None))
}

/// The roles, users and keys a finding concerns: its principal, its key, and each hop of its
/// session chain (role and key), each once.
pub fn resources(f: &Finding) -> Vec<(String, &'static str, Option<String>)> {
    let mut out: Vec<(String, &'static str, Option<String>)> = Vec::new();
    let mut add = |uid: &str| {
        if out.iter().any(|(u, _, _)| u == uid) {
            return;
        }
        if let Some((t, partition)) = aws_type(uid) {
            out.push((uid.to_string(), t, partition.map(str::to_string)));
        }
    };
    add(&f.principal);
    if let Some(k) = &f.access_key_id {
        add(k);
    }
    for h in &f.chain {
        if let Some(r) = &h.role_arn {
            add(r);
        }
        add(&h.access_key_id);
    }
    out
}

fn user_type(identity_type: Option<&str>) -> Option<(u8, &str)> {
    Some(match identity_type? {
        "IAMUser" => (1, "User"),
        "Root" => (2, "Admin"),
        "AWSService" => (4, "Service"),
        other => (99, other),
    })
}

fn endpoint(ip: &str, f: &Finding) -> Value {
    let mut m = Map::new();
    if ip.parse::<std::net::IpAddr>().is_ok() {
        put(&mut m, "ip", ip);
        if f.place.source_ip.as_deref() == Some(ip) {
            if let Some(c) = &f.place.country {
                put(&mut m, "location", json!({"country": c}));
            }
            if let Some(n) = f.place.asn {
                let mut a = Map::new();
                put(&mut a, "number", n);
                put(&mut a, "name", f.place.as_org.clone());
                put(&mut m, "autonomous_system", a);
            }
        }
    } else {
        // CloudTrail names the AWS service for calls a service made on a principal's behalf.
        put(&mut m, "svc_name", ip);
    }
    Value::Object(m)
}

/// One `evidences` item for a cited event: who called (actor), what (api), from where.
fn evidence(e: &Event, f: &Finding) -> Value {
    let s = |v: &Option<crate::event::Text>| v.as_deref().map(str::to_string);
    let mut user = Map::new();
    put(
        &mut user,
        "uid",
        s(&e.principal_arn).or_else(|| s(&e.principal_id)),
    );
    put(&mut user, "name", s(&e.user_name));
    if let Some((id, caption)) = user_type(e.identity_type.as_deref()) {
        put(&mut user, "type_id", id);
        put(&mut user, "type", caption);
    }
    if let Some(a) = e.account_id.as_deref() {
        put(&mut user, "account", account(a));
    }
    let mut session = Map::new();
    put(&mut session, "uid", s(&e.access_key_id));
    put(&mut session, "credential_uid", s(&e.access_key_id));
    put(&mut session, "issuer", s(&e.session_issuer_arn));
    put(&mut session, "created_time", e.session_created_at);
    put(&mut session, "is_mfa", e.mfa_authenticated);
    let mut actor = Map::new();
    if !user.is_empty() {
        put(&mut actor, "user", user);
    }
    if session.contains_key("uid") {
        put(&mut actor, "session", session);
    }
    // The AWS service that called on the principal's behalf (`invoked_by` is deprecated).
    put(&mut actor, "app_name", s(&e.invoked_by));
    if let Some(p) = e.identity_provider.as_deref() {
        put(&mut actor, "idp", json!({"name": p}));
    }
    let mut ev = Map::new();
    put(&mut ev, "uid", s(&e.event_id));
    if !actor.is_empty() {
        put(&mut ev, "actor", actor);
    }
    if let Some(op) = e.event_name.as_deref() {
        let mut api = Map::new();
        put(&mut api, "operation", op);
        if let Some(src) = e.event_source.as_deref() {
            put(&mut api, "service", json!({"name": src}));
        }
        if let Some(r) = e.request_id.as_deref() {
            put(&mut api, "request", json!({"uid": r}));
        }
        if e.error_code.is_some() || e.error_message.is_some() {
            let mut resp = Map::new();
            put(&mut resp, "error", s(&e.error_code));
            put(&mut resp, "error_message", s(&e.error_message));
            put(&mut api, "response", resp);
        }
        put(&mut ev, "api", api);
    }
    if let Some(ip) = e.source_ip.as_deref() {
        put(&mut ev, "src_endpoint", endpoint(ip, f));
    }
    Value::Object(ev)
}

/// The evidence when the cited events are not at hand: the finding's principal, key and place.
fn evidence_of_finding(f: &Finding) -> Value {
    let mut user = Map::new();
    put(&mut user, "uid", f.principal.as_str());
    let mut actor = Map::new();
    put(&mut actor, "user", user);
    if let Some(k) = &f.access_key_id {
        let mut session = Map::new();
        put(&mut session, "uid", k.as_str());
        put(&mut session, "credential_uid", k.as_str());
        put(
            &mut session,
            "issuer",
            f.chain.last().and_then(|h| h.role_arn.clone()),
        );
        put(&mut actor, "session", session);
    }
    let mut ev = Map::new();
    put(&mut ev, "actor", actor);
    if let Some(ip) = f.place.source_ip.as_deref() {
        put(&mut ev, "src_endpoint", endpoint(ip, f));
    }
    Value::Object(ev)
}

/// One OCSF 1.8.0 Detection Finding for `f`.
pub fn detection_finding(f: &Finding, cited: &Cited) -> Value {
    let events = cited.of(f);
    let first = events.iter().map(|e| e.event_time).fold(f.time, i64::min);
    let last = events.iter().map(|e| e.event_time).fold(f.time, i64::max);
    let mut evidences: Vec<Value> = events
        .iter()
        .take(MAX_EVIDENCES)
        .map(|e| evidence(e, f))
        .collect();
    if evidences.is_empty() {
        evidences.push(evidence_of_finding(f));
    }
    let resources = resources(f);
    let mut observables: Vec<Value> = Vec::new();
    let mut observe = |name: &str, type_id: u8, caption: &str, value: &str| {
        let o = json!({"name": name, "type_id": type_id, "type": caption, "value": value});
        if !observables.contains(&o) {
            observables.push(o);
        }
    };
    for e in evidences.iter() {
        let ep = &e["src_endpoint"];
        if let Some(ip) = ep["ip"].as_str() {
            observe("evidences[].src_endpoint.ip", 2, "IP Address", ip);
        }
        if let Some(c) = ep["location"]["country"].as_str() {
            observe(
                "evidences[].src_endpoint.location.country",
                14,
                "Country",
                c,
            );
        }
    }
    for (uid, t, _) in &resources {
        if *t == "AWS::IAM::AccessKey" {
            observe("resources[].uid", 19, "User Credential ID", uid);
        } else {
            observe("resources[].uid", 10, "Resource UID", uid);
        }
    }
    let resources: Vec<Value> = resources
        .into_iter()
        .map(|(uid, t, partition)| {
            let mut m = Map::new();
            put(&mut m, "uid", uid.as_str());
            put(&mut m, "name", uid.rsplit('/').next().unwrap_or(&uid));
            put(&mut m, "type", t);
            put(&mut m, "role_id", 3);
            put(&mut m, "role", "Affected");
            put(&mut m, "provider", "AWS");
            put(&mut m, "cloud_partition", partition);
            Value::Object(m)
        })
        .collect();
    let region = events.iter().find_map(|e| e.aws_region.as_deref());
    let mut cloud = Map::new();
    put(&mut cloud, "provider", "AWS");
    put(&mut cloud, "region", region);
    if let Some(a) = &f.account {
        put(&mut cloud, "account", account(a));
    }
    let conf = confidence(f.kind);
    let conf_caption = ["Unknown", "Low", "Medium", "High"][conf as usize];
    let (analytic_type_id, analytic_type) = if is_behavioral(f.kind) {
        (2, "Behavioral")
    } else {
        (1, "Rule")
    };
    let uid = finding_uid(f);
    let mut v = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": f.time,
        "start_time": first,
        "end_time": last,
        "severity_id": f.severity.ocsf_id(),
        "severity": severity_caption(f.severity),
        "confidence_id": conf,
        "confidence": conf_caption,
        "status_id": 1,
        "status": "New",
        "is_alert": true,
        "message": f.summary,
        "metadata": {
            "version": VERSION,
            "profiles": ["cloud"],
            "uid": uid,
            "product": {
                "name": "trailhound",
                "vendor_name": "trailhound",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": uid,
            "title": title_of(f),
            "desc": f.reason,
            "types": [f.kind.as_str()],
            "first_seen_time": first,
            "last_seen_time": last,
            "analytic": {
                "uid": f.sigma.as_ref().map_or(f.kind.as_str(), |r| r.rule_id.as_str()),
                "name": f.sigma.as_ref().map_or(f.kind.as_str(), |r| r.rule_title.as_str()),
                "type_id": analytic_type_id,
                "type": analytic_type,
            },
            "related_events": f.evidence_event_ids.iter().map(|id| json!({"uid": id})).collect::<Vec<_>>(),
            "related_events_count": f.evidence_event_ids.len(),
        },
        "cloud": cloud,
        "evidences": evidences,
        "resources": resources,
        "observables": observables,
        "unmapped": {"trailhound": {
            "kind": f.kind.as_str(),
            "principal": f.principal,
            "access_key_id": f.access_key_id,
            "chain": f.chain,
            "respond": f.respond,
        }},
    });
    if let Some(rule) = &f.sigma {
        v["unmapped"]["trailhound"]["sigma"] = json!(rule);
        v["unmapped"]["trailhound"]["sigma"]["events"] = json!(f.events);
    }
    v
}
