//! `trailhound verify RUN_ID --logs PATH`: did a containment hold? Judged from logs delivered
//! after the run's cutoff.
//!
//! Takes an audit record (a playbook run or a `contain` run and its steps) and the events; for
//! each role, user, key or instance it cut off, lists the calls made after the cutoff with
//! credentials it covered: denied (it held), succeeded within the propagation grace (policy
//! changes take minutes to reach every endpoint), succeeded later (it did NOT hold); and the
//! sessions the same root principal got after the cutoff (the attacker came back). Pure apart
//! from reading the logs and the audit log: [`judge`] is unit-tested.

use super::audit::{CallStatus, Record};
use super::plan::Call;
use crate::error::{Error, Result};
use crate::event::{format_iso, time::parse_user_time, Event, Millis};
use crate::graph::{arn_account, Graph, Session};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// What a run cut off.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Subject {
    /// Sessions of a role issued before the cutoff (revoked, or a recreated role).
    Role {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// The user's temporary credentials issued before the cutoff.
    User {
        name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A long-term key (deactivated or quarantined).
    Key { access_key_id: String },
    /// One instance's role credentials.
    Instance { instance_id: String },
}

impl Subject {
    pub fn describe(&self) -> String {
        match self {
            Subject::Role { name, account } => format!(
                "role {name}{}",
                account
                    .as_deref()
                    .map_or(String::new(), |a| format!(" in account {a}"))
            ),
            Subject::User { name, account } => format!(
                "temporary credentials of user {name}{}",
                account
                    .as_deref()
                    .map_or(String::new(), |a| format!(" in account {a}"))
            ),
            Subject::Key { access_key_id } => format!("access key {access_key_id}"),
            Subject::Instance { instance_id } => format!("credentials of instance {instance_id}"),
        }
    }
}

/// One thing a run cut off, and from when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cut {
    pub subject: Subject,
    #[serde(serialize_with = "ser_time")]
    pub cutoff: Millis,
    /// The step (playbook) that made it.
    pub by: String,
}

fn ser_time<S: serde::Serializer>(t: &Millis, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format_iso(*t))
}

/// One call in the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRow {
    pub time: String,
    pub access_key_id: String,
    pub event_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// The verdict on one cut.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub cut: Cut,
    /// The covered credentials (issued before the cutoff).
    pub keys: Vec<String>,
    /// Calls with them after the cutoff that were denied.
    pub denied: Vec<CallRow>,
    /// Calls that succeeded after the cutoff but within the grace.
    pub within_grace: Vec<CallRow>,
    /// Calls that succeeded after cutoff + grace: the containment did not hold.
    pub still_working: Vec<CallRow>,
    /// Other failed calls after the cutoff (throttling, validation...).
    pub other_errors: u64,
    pub held: bool,
}

/// The whole verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub run_id: String,
    pub held: bool,
    pub grace_seconds: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_end: Option<String>,
    pub cuts: Vec<Judged>,
    /// Root principals whose new sessions after the cutoff are looked for.
    pub root_principals: Vec<String>,
    /// Sessions those principals got after the earliest cutoff: the attacker came back.
    pub new_sessions: Vec<Value>,
    /// What this verdict cannot judge (trust policy changes...).
    pub notes: Vec<String>,
}

/// Parses 300, 300s, 5m, 1h.
pub fn parse_duration(s: &str) -> Result<i64> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1),
        Some('m') => (&t[..t.len() - 1], 60),
        Some('h') => (&t[..t.len() - 1], 3600),
        _ => (t, 1),
    };
    num.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .map(|n| n * mult * 1000)
        .ok_or_else(|| Error::Usage(format!("`{s}` is not a duration (e.g. 300s, 5m, 1h)")))
}

fn revoke_cutoff(doc: &Value) -> Option<Millis> {
    let st = doc.get("Statement")?;
    let list: Vec<&Value> = match st {
        Value::Array(a) => a.iter().collect(),
        o => vec![o],
    };
    list.iter().find_map(|s| {
        s.get("Condition")?
            .get("DateLessThan")?
            .get("aws:TokenIssueTime")?
            .as_str()
            .and_then(|t| parse_user_time(t).ok())
    })
}

fn instance_of(doc: &Value) -> Option<String> {
    let text = doc.to_string();
    let at = text.find(":instance/")? + ":instance/".len();
    let id: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// What a record (and its steps) cut off.
pub fn cuts(r: &Record, out: &mut Vec<Cut>, notes: &mut Vec<String>) {
    for s in &r.steps {
        cuts(s, out, notes);
    }
    let account = r.caller.as_ref().and_then(|c| c.account.clone());
    let finished = parse_user_time(&r.finished).unwrap_or(0);
    let ok = |c: &&super::audit::CallRecord| c.status == CallStatus::Ok;
    let mut push = |subject: Subject, cutoff: Millis| {
        if !out.iter().any(|c| c.subject == subject) {
            out.push(Cut {
                subject,
                cutoff,
                by: r.playbook.clone(),
            });
        }
    };
    for c in r.calls.iter().filter(ok) {
        match &c.call {
            Call::PutRolePolicy {
                role_name,
                policy_document,
                ..
            } => {
                if let Some(t) = revoke_cutoff(policy_document) {
                    push(
                        Subject::Role {
                            name: role_name.clone(),
                            account: account.clone(),
                        },
                        t,
                    );
                } else if let Some(i) = instance_of(policy_document) {
                    push(Subject::Instance { instance_id: i }, finished);
                } else if !r.calls.iter().any(|c| matches!(c.call, Call::CreateRole { .. })) {
                    notes.push(format!(
                        "run {}: inline policy on role {role_name} (not a revoke or instance policy): not judged",
                        r.run_id
                    ));
                }
            }
            Call::PutUserPolicy {
                user_name,
                policy_document,
                ..
            } => {
                if let Some(t) = revoke_cutoff(policy_document) {
                    push(
                        Subject::User {
                            name: user_name.clone(),
                            account: account.clone(),
                        },
                        t,
                    );
                }
            }
            Call::UpdateAccessKey {
                access_key_id,
                status,
                ..
            } if status == "Inactive" => push(
                Subject::Key {
                    access_key_id: access_key_id.clone(),
                },
                finished,
            ),
            Call::AttachUserPolicy { .. } => {
                if let super::plan::Target::Key { access_key_id, .. } = &r.target {
                    push(
                        Subject::Key {
                            access_key_id: access_key_id.clone(),
                        },
                        finished,
                    );
                    notes.push(format!(
                        "run {}: {access_key_id} was quarantined, not deactivated: calls the quarantine policy allows may succeed and are listed as still working",
                        r.run_id
                    ));
                }
            }
            Call::CreateRole { role_name, .. } => push(
                Subject::Role {
                    name: role_name.clone(),
                    account: account.clone(),
                },
                finished,
            ),
            Call::UpdateAssumeRolePolicy { role_name, .. } => notes.push(format!(
                "run {}: the trust policy of role {role_name} changed: new sessions of it are listed under new sessions only when their root principal is the chain's",
                r.run_id
            )),
            _ => {}
        }
    }
}

fn denied(code: &str) -> bool {
    code.contains("AccessDenied")
        || code.contains("Unauthorized")
        || code == "InvalidClientTokenId"
        || code == "ExpiredToken"
        || code == "InvalidAccessKeyId"
}

fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn covered<'g>(g: &'g Graph, cut: &Cut) -> Vec<&'g Session> {
    let before = |s: &Session| match (s.issued_at, s.first_used) {
        (Some(t), _) => t < cut.cutoff,
        (None, Some(f)) => f < cut.cutoff,
        _ => false,
    };
    let acct_ok = |arn: Option<&str>, account: &Option<String>| {
        account
            .as_deref()
            .is_none_or(|a| arn.and_then(arn_account).is_none_or(|x| x == a))
    };
    g.sessions
        .iter()
        .filter(|s| match &cut.subject {
            Subject::Role { name, account } => s
                .role_arn
                .as_deref()
                .is_some_and(|r| role_name(r) == name && acct_ok(Some(r), account) && before(s)),
            Subject::User { name, account } => {
                let api = s.issued_by_api.as_deref().unwrap_or("");
                let user = match api {
                    "GetSessionToken" | "GetFederationToken" => s.caller_arn.as_deref(),
                    "ConsoleLogin" => s.root_principal.as_deref(),
                    _ => None,
                };
                user.is_some_and(|u| {
                    u.contains(":user/") && role_name(u) == name && acct_ok(Some(u), account)
                }) && before(s)
            }
            Subject::Instance { instance_id } => {
                s.role_arn.is_some()
                    && s.session_name.as_deref() == Some(instance_id.as_str())
                    && before(s)
            }
            Subject::Key { .. } => false,
        })
        .collect()
}

fn call_row(e: &Event) -> CallRow {
    let o = |v: &Option<crate::event::Text>| v.as_deref().map(str::to_string);
    CallRow {
        time: format_iso(e.event_time),
        access_key_id: e.access_key_id.as_deref().unwrap_or("").to_string(),
        event_name: e.event_name.as_deref().unwrap_or("?").to_string(),
        event_id: o(&e.event_id),
        source_ip: o(&e.source_ip),
        error_code: o(&e.error_code),
    }
}

/// Judges a record against the events of the logs.
pub fn judge(record: &Record, events: &[Event], graph: &Graph, grace: Millis) -> Verdict {
    let mut list = Vec::new();
    let mut notes = Vec::new();
    cuts(record, &mut list, &mut notes);
    let mut roots: BTreeSet<String> = BTreeSet::new();
    if let Some(r) = &record.root_principal {
        roots.insert(r.clone());
    }
    let mut judged = Vec::new();
    for cut in list {
        let sessions = covered(graph, &cut);
        let mut keys: BTreeSet<String> = sessions
            .iter()
            .map(|s| s.access_key_id.to_string())
            .collect();
        for s in &sessions {
            if let Some(r) = s.root_principal.as_deref() {
                roots.insert(r.to_string());
            }
        }
        if let Subject::Key { access_key_id } = &cut.subject {
            keys.insert(access_key_id.clone());
            for e in events
                .iter()
                .filter(|e| e.access_key_id.as_deref() == Some(access_key_id.as_str()))
            {
                if let Some(p) = e.principal_arn.as_deref().filter(|p| p.contains(":user/")) {
                    roots.insert(p.to_string());
                }
            }
        }
        if let Subject::User {
            name,
            account: Some(a),
        } = &cut.subject
        {
            roots.insert(format!("arn:aws:iam::{a}:user/{name}"));
        }
        let mut j = Judged {
            cut: cut.clone(),
            keys: keys.iter().cloned().collect(),
            denied: Vec::new(),
            within_grace: Vec::new(),
            still_working: Vec::new(),
            other_errors: 0,
            held: true,
        };
        for e in events.iter().filter(|e| {
            e.event_time >= cut.cutoff
                && !e.shared_copy
                && e.access_key_id.as_deref().is_some_and(|k| keys.contains(k))
        }) {
            match e.error_code.as_deref() {
                Some(c) if denied(c) => j.denied.push(call_row(e)),
                Some(_) => j.other_errors += 1,
                None if e.event_time < cut.cutoff + grace => j.within_grace.push(call_row(e)),
                None => j.still_working.push(call_row(e)),
            }
        }
        j.held = j.still_working.is_empty();
        judged.push(j);
    }
    let earliest = judged.iter().map(|j| j.cut.cutoff).min();
    let mut new_sessions = Vec::new();
    if let Some(c) = earliest {
        for s in &graph.sessions {
            let after = s.issued_at.is_some_and(|t| t >= c);
            if after
                && s.root_principal
                    .as_deref()
                    .is_some_and(|r| roots.contains(r))
            {
                new_sessions.push(json!({
                    "access_key_id": &*s.access_key_id,
                    "issued_at": s.issued_at.map(format_iso),
                    "issued_by_api": s.issued_by_api.as_deref(),
                    "role_arn": s.role_arn.as_deref(),
                    "root_principal": s.root_principal.as_deref(),
                    "caller_access_key_id": s.caller_access_key_id.as_deref(),
                    "source_ips": s.source_ips.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                }));
            }
        }
    }
    let logs_end = events.iter().map(|e| e.event_time).max();
    let held = judged.iter().all(|j| j.held) && new_sessions.is_empty();
    Verdict {
        run_id: record.run_id.clone(),
        held,
        grace_seconds: grace / 1000,
        logs_end: logs_end.map(format_iso),
        cuts: judged,
        root_principals: roots.into_iter().collect(),
        new_sessions,
        notes,
    }
}

fn rows_text(t: &mut String, title: &str, rows: &[CallRow]) {
    const SHOWN: usize = 10;
    t.push_str(&format!("    {title}: {}\n", rows.len()));
    for r in rows.iter().take(SHOWN) {
        t.push_str(&format!(
            "      {} {} {} from {}{}\n",
            r.time,
            r.access_key_id,
            r.event_name,
            r.source_ip.as_deref().unwrap_or("?"),
            r.error_code
                .as_deref()
                .map_or(String::new(), |c| format!(" ({c})"))
        ));
    }
    if rows.len() > SHOWN {
        t.push_str(&format!(
            "      ... {} more (--format json lists all)\n",
            rows.len() - SHOWN
        ));
    }
}

/// The verdict for people.
pub fn verdict_text(v: &Verdict) -> String {
    let mut t = format!(
        "Verify run {}: {}\n  grace {} s; logs end {}\n",
        v.run_id,
        if v.held { "HELD" } else { "NOT HELD" },
        v.grace_seconds,
        v.logs_end.as_deref().unwrap_or("?")
    );
    for j in &v.cuts {
        t.push_str(&format!(
            "\n  {} (cut off {} by {}): {}\n    credentials covered in the logs: {}\n",
            j.cut.subject.describe(),
            format_iso(j.cut.cutoff),
            j.cut.by,
            if j.held { "held" } else { "NOT HELD" },
            j.keys.len()
        ));
        rows_text(&mut t, "denied after the cutoff", &j.denied);
        rows_text(&mut t, "succeeded within the grace", &j.within_grace);
        rows_text(
            &mut t,
            "STILL WORKING after the cutoff and the grace",
            &j.still_working,
        );
        if j.other_errors > 0 {
            t.push_str(&format!(
                "    other failed calls: {} (neither denied nor allowed)\n",
                j.other_errors
            ));
        }
    }
    t.push_str(&format!(
        "\n  new sessions after the cutoff from {}: {}\n",
        if v.root_principals.is_empty() {
            "(no root principal known)".to_string()
        } else {
            v.root_principals.join(", ")
        },
        v.new_sessions.len()
    ));
    for s in &v.new_sessions {
        t.push_str(&format!(
            "    {} issued {} by {} {}\n",
            s["access_key_id"].as_str().unwrap_or("?"),
            s["issued_at"].as_str().unwrap_or("?"),
            s["issued_by_api"].as_str().unwrap_or("?"),
            s["role_arn"].as_str().unwrap_or("")
        ));
    }
    for n in &v.notes {
        t.push_str(&format!("  note: {n}\n"));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5m").unwrap(), 300_000);
        assert_eq!(parse_duration("300").unwrap(), 300_000);
        assert_eq!(parse_duration("2h").unwrap(), 7_200_000);
        assert_eq!(parse_duration("0s").unwrap(), 0);
        assert!(parse_duration("five").is_err());
        assert!(parse_duration("-1m").is_err());
    }

    #[test]
    fn cutoffs_and_instances_are_read_from_documents() {
        let d = crate::playbook::plan::revoke_document(1_772_445_600_000);
        assert_eq!(revoke_cutoff(&d), Some(1_772_445_600_000));
        let d = crate::playbook::plan::instance_document(
            "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0",
        );
        assert_eq!(instance_of(&d).as_deref(), Some("i-0123456789abcdef0"));
        assert_eq!(revoke_cutoff(&d), None);
    }
}
