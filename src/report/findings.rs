//! Findings as a table, JSON lines, OCSF Detection Findings, or Markdown.

use crate::detect::{Finding, Severity};
use crate::event::format_iso;
use crate::report::table;
use serde_json::json;

/// Output formats of `hunt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingFormat {
    /// Aligned columns for people.
    Table,
    /// One finding per line, the finding's own keys.
    Ndjson,
    /// One OCSF Detection Finding (class_uid 2004) JSON object per line.
    Ocsf,
    /// A Markdown report that renders on a code-review site.
    Markdown,
}

pub fn render(findings: &[Finding], format: FindingFormat) -> String {
    match format {
        FindingFormat::Table => to_table(findings),
        FindingFormat::Ndjson => lines(
            findings
                .iter()
                .map(|f| serde_json::to_string(f).unwrap_or_default()),
        ),
        FindingFormat::Ocsf => lines(findings.iter().map(|f| to_ocsf(f).to_string())),
        FindingFormat::Markdown => to_markdown(findings),
    }
}

fn lines(it: impl Iterator<Item = String>) -> String {
    let mut s = String::new();
    for l in it {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

fn place(f: &Finding) -> String {
    let p = &f.place;
    match &p.source_ip {
        None => String::new(),
        Some(ip) => {
            let mut s = ip.clone();
            let mut extra = Vec::new();
            if let Some(c) = &p.country {
                extra.push(c.clone());
            }
            if let Some(a) = p.asn {
                extra.push(format!("AS{a}"));
            }
            if !extra.is_empty() {
                s.push_str(&format!(" ({})", extra.join(" ")));
            }
            s
        }
    }
}

fn to_table(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no findings\n".into();
    }
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            vec![
                f.severity.to_string(),
                f.kind.to_string(),
                format_iso(f.time),
                f.principal.clone(),
                f.access_key_id.clone().unwrap_or_default(),
                place(f),
                f.summary.clone(),
            ]
        })
        .collect();
    let mut s = table::render(
        &[
            "severity",
            "kind",
            "time",
            "principal",
            "key",
            "source",
            "summary",
        ],
        &rows,
        90,
    );
    for f in findings {
        if let Some(r) = &f.respond {
            s.push_str(&format!(
                "\n{} {} -> playbook {}:\n  {}\n",
                f.kind,
                f.access_key_id.as_deref().unwrap_or(&f.principal),
                r.playbook,
                r.command
            ));
        }
    }
    s
}

fn to_markdown(findings: &[Finding]) -> String {
    let mut s = String::from("# trailhound findings\n\n");
    if findings.is_empty() {
        s.push_str("No findings.\n");
        return s;
    }
    s.push_str(
        "| severity | kind | time | principal | source | summary |\n|---|---|---|---|---|---|\n",
    );
    let esc = |x: &str| x.replace('|', "\\|");
    for f in findings {
        s.push_str(&format!(
            "| {} | `{}` | {} | `{}` | {} | {} |\n",
            f.severity,
            f.kind,
            format_iso(f.time),
            esc(&f.principal),
            esc(&place(f)),
            esc(&f.summary)
        ));
    }
    for (i, f) in findings.iter().enumerate() {
        s.push_str(&format!(
            "\n## {}. {} ({})\n\n{}\n\n",
            i + 1,
            f.kind,
            f.severity,
            f.summary
        ));
        s.push_str(&format!("- **why:** {}\n", esc(&f.reason)));
        if let Some(k) = &f.access_key_id {
            s.push_str(&format!("- **key:** `{k}`\n"));
        }
        s.push_str(&format!(
            "- **evidence:** {}\n",
            f.evidence_event_ids
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if !f.chain.is_empty() {
            s.push_str("- **session chain:**\n\n```\n");
            s.push_str(&format!("{}\n", f.principal));
            for (d, h) in f.chain.iter().enumerate() {
                s.push_str(&format!(
                    "{}└─ {} {} {}{}\n",
                    "   ".repeat(d),
                    h.access_key_id,
                    h.issued_by_api.as_deref().unwrap_or("?"),
                    h.role_arn.as_deref().unwrap_or(""),
                    h.source_identity
                        .as_deref()
                        .map(|s| format!(" source_identity={s}"))
                        .unwrap_or_default()
                ));
            }
            s.push_str("```\n");
        }
        if let Some(r) = &f.respond {
            s.push_str(&format!(
                "- **contain ({}):** `{}`\n",
                r.playbook, r.command
            ));
        }
    }
    s
}

/// One OCSF 1.x Detection Finding (class 2004).
pub fn to_ocsf(f: &Finding) -> serde_json::Value {
    let uid = format!(
        "{}:{}:{}",
        f.kind,
        f.time,
        f.evidence_event_ids
            .first()
            .map(String::as_str)
            .unwrap_or(&f.principal)
    );
    json!({
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "activity_id": 1,
        "activity_name": "Create",
        "time": f.time,
        "severity_id": f.severity.ocsf_id(),
        "severity": capitalize(f.severity),
        "status_id": 1,
        "status": "New",
        "message": f.summary,
        "metadata": {
            "version": "1.3.0",
            "product": {"name": "trailhound", "vendor_name": "trailhound", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": uid,
            "title": f.kind.as_str(),
            "desc": f.reason,
            "types": [f.kind.as_str()],
            "first_seen_time": f.time,
            "related_events": f.evidence_event_ids.iter().map(|id| json!({"uid": id})).collect::<Vec<_>>(),
        },
        "actor": {
            "user": {"uid": f.principal, "name": f.principal},
            "session": f.access_key_id.as_ref().map(|k| json!({"uid": k, "issuer": f.chain.first().and_then(|h| h.role_arn.clone())})),
        },
        "src_endpoint": f.place.source_ip.as_ref().map(|ip| json!({
            "ip": ip,
            "location": f.place.country.as_ref().map(|c| json!({"country": c})),
            "autonomous_system": f.place.asn.map(|a| json!({"number": a, "name": f.place.as_org})),
        })),
        "cloud": {"provider": "AWS", "account": f.account.as_ref().map(|a| json!({"uid": a}))},
        "unmapped": {"trailhound": {"kind": f.kind.as_str(), "chain": f.chain, "respond": f.respond}},
    })
}

fn capitalize(s: Severity) -> String {
    let t = s.as_str();
    let mut c = t.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}
