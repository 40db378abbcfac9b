//! Incidents for people and machines: a table (one line per incident), a Markdown incident
//! report to paste into a ticket, and the incidents sections that lead the nightly HTML and
//! Markdown reports. Takes [`Incident`]s; returns text. Deterministic bytes.

use super::html::{esc, when};
use super::markdown::{code, fenced, md};
use super::table;
use crate::incident::{ChainNode, Incident, Intent, IntentGroup};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Examples listed per intent group in the reports (the ndjson has all that were kept).
const SHOWN_EXAMPLES: usize = 5;

/// "1 finding", "2 findings".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "reconnaissance 12 · persistence 2": calls per intent.
fn intents_line(inc: &Incident) -> String {
    inc.timeline
        .iter()
        .map(|g| format!("{} {}", g.intent, g.calls))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kinds(inc: &Incident) -> String {
    let mut m: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &inc.findings {
        *m.entry(f.kind.as_str()).or_insert(0) += 1;
    }
    m.iter()
        .map(|(k, n)| {
            if *n > 1 {
                format!("{k}×{n}")
            } else {
                k.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per incident.
pub fn render_table(incidents: &[Incident]) -> String {
    let rows: Vec<Vec<String>> = incidents
        .iter()
        .map(|i| {
            vec![
                i.incident_id.clone(),
                i.severity.to_string(),
                when(i.first_time),
                when(i.last_time),
                i.root_principal.clone(),
                format!("{} ({})", i.findings.len(), kinds(i)),
                i.access_key_ids.len().to_string(),
                i.accounts.join(","),
                intents_line(i),
            ]
        })
        .collect();
    table::render(
        &[
            "incident",
            "severity",
            "first (UTC)",
            "last (UTC)",
            "root_principal",
            "findings",
            "keys",
            "accounts",
            "timeline (calls per intent)",
        ],
        &rows,
        60,
    )
}

/// The chain as indented lines, from the root principal down.
pub fn chain_lines(inc: &Incident) -> Vec<String> {
    if inc.chain.is_empty() {
        return Vec::new();
    }
    let mut level: HashMap<&str, usize> = HashMap::new();
    let mut lines = vec![inc.root_principal.clone()];
    for n in &inc.chain {
        let l = n
            .parent_access_key_id
            .as_deref()
            .and_then(|p| level.get(p))
            .map_or(0, |l| l + 1);
        level.insert(n.access_key_id.as_str(), l);
        lines.push(format!("{}└─ {}", "   ".repeat(l), describe(n)));
    }
    lines
}

fn describe(n: &ChainNode) -> String {
    let mut parts = vec![
        n.access_key_id.clone(),
        n.issued_by_api.clone().unwrap_or_else(|| "?".into()),
    ];
    if let Some(r) = &n.role_arn {
        parts.push(r.clone());
    } else if let Some(a) = &n.account {
        parts.push(format!("account {a}"));
    }
    if let Some(s) = &n.session_name {
        parts.push(format!("session={s}"));
    }
    if let Some(t) = n.issued_at {
        parts.push(format!("issued {}", crate::event::format_iso(t)));
    }
    if let Some(s) = &n.source_identity {
        parts.push(format!("source_identity={s}"));
    }
    parts.push(format!("depth {}", n.chain_depth));
    parts.push(format!("{} calls, {} errors", n.calls, n.errors));
    parts.join("  ")
}

fn services(g: &IntentGroup) -> String {
    g.services
        .iter()
        .map(|s| format!("{} {}", s.name, s.calls))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Names shown per kind of target in the reports.
const SHOWN_NAMES: usize = 3;

/// "secret 2: a, b; parameter 20+: /x, /y, /z, …": what a group named, by kind.
fn targets(g: &IntentGroup) -> String {
    let mut by_kind: Vec<(&str, Vec<&str>)> = Vec::new();
    for t in &g.targets {
        let (kind, name) = t.split_once(':').unwrap_or(("", t));
        match by_kind.last_mut() {
            Some((k, names)) if *k == kind => names.push(name),
            _ => by_kind.push((kind, vec![name])),
        }
    }
    by_kind
        .iter()
        .map(|(kind, names)| {
            let full = g.targets_truncated && names.len() >= crate::incident::TARGETS;
            let shown: Vec<&str> = names.iter().take(SHOWN_NAMES).copied().collect();
            format!(
                "{kind} {}{}: {}{}",
                names.len(),
                if full { "+" } else { "" },
                shown.join(", "),
                if names.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn group(inc: &Incident, i: Intent) -> Option<&IntentGroup> {
    inc.timeline.iter().find(|g| g.intent == i)
}

/// `--format markdown`: the incident reports, one after the other.
pub fn render_markdown(incidents: &[Incident]) -> String {
    let mut m = String::new();
    m.push_str("# trailhound incidents\n\n");
    if incidents.is_empty() {
        m.push_str("No incidents: no finding in the input.\n");
        return m;
    }
    summary_table(&mut m, incidents);
    for inc in incidents {
        incident_markdown(&mut m, inc, 2);
    }
    m.push_str(
        "---\n\n*All times UTC. Containment commands are dry runs until run with `--apply`.*\n",
    );
    m
}

/// The nightly Markdown report's incidents section.
pub fn markdown_section(m: &mut String, incidents: &[Incident]) {
    m.push_str("## Incidents\n\n");
    if incidents.is_empty() {
        m.push_str("No incidents in this run.\n\n");
        return;
    }
    summary_table(m, incidents);
    for inc in incidents {
        incident_markdown(m, inc, 3);
    }
}

fn summary_table(m: &mut String, incidents: &[Incident]) {
    m.push_str("| Incident | Severity | First (UTC) | Last (UTC) | Root principal | Findings | Keys | Accounts |\n");
    m.push_str("|---|---|---|---|---|---|---|---|\n");
    for i in incidents {
        let _ = writeln!(
            m,
            "| {} | **{}** | {} | {} | {} | {} | {} | {} |",
            md(&i.incident_id),
            i.severity,
            md(&when(i.first_time)),
            md(&when(i.last_time)),
            md(&i.root_principal),
            md(&format!("{} ({})", i.findings.len(), kinds(i))),
            i.access_key_ids.len(),
            md(&i.accounts.join(", "))
        );
    }
    m.push('\n');
}

fn incident_markdown(m: &mut String, inc: &Incident, level: usize) {
    let h = "#".repeat(level);
    let _ = writeln!(
        m,
        "{h} {} \u{b7} {} \u{b7} {}\n",
        md(&inc.incident_id),
        inc.severity,
        md(&inc.root_principal)
    );
    let _ = writeln!(
        m,
        "**Summary.** {} ({}) from {} to {} UTC; {} in {} ({}); {} by the chain from {} to {} UTC. Severity {}: {}.\n",
        count(inc.findings.len(), "finding", "findings"),
        md(&kinds(inc)),
        md(&when(inc.first_time)),
        md(&when(inc.last_time)),
        count(inc.access_key_ids.len(), "key", "keys"),
        count(inc.accounts.len(), "account", "accounts"),
        md(&inc.accounts.join(", ")),
        count(inc.calls as usize, "call", "calls"),
        md(&when(inc.timeline_from)),
        md(&when(inc.timeline_to)),
        inc.severity,
        md(&inc.severity_reason)
    );
    let _ = writeln!(m, "{h}# How access was gained\n");
    m.push_str(
        "| Time (UTC) | Severity | Kind | Key | Source | Summary |\n|---|---|---|---|---|---|\n",
    );
    for f in &inc.findings {
        let src = [f.source_ip.as_deref(), f.country.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            m,
            "| {} | {} | {} | {} | {} | {} |",
            md(&when(f.time)),
            f.severity,
            md(f.kind.as_str()),
            md(f.access_key_id.as_deref().unwrap_or("\u{2014}")),
            md(if src.is_empty() { "\u{2014}" } else { &src }),
            md(&f.summary)
        );
    }
    m.push('\n');
    let lines = chain_lines(inc);
    if lines.is_empty() {
        m.push_str("*No session chain: the calls were signed with long-term keys.*\n\n");
    } else {
        m.push_str("Session chain:\n\n");
        m.push_str(&fenced("text", &lines));
        m.push('\n');
    }
    let _ = writeln!(m, "{h}# Timeline\n");
    if inc.timeline.is_empty() {
        m.push_str("*No calls of the chain's keys with a known intent in the span.*\n\n");
    } else {
        m.push_str("| Intent | Calls | Errors | First (UTC) | Last (UTC) | Services | Named |\n|---|---|---|---|---|---|---|\n");
        for g in &inc.timeline {
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {} | {} | {} |",
                g.intent.title(),
                g.calls,
                g.errors,
                md(&when(g.first_time)),
                md(&when(g.last_time)),
                md(&services(g)),
                md(&targets(g))
            );
        }
        m.push('\n');
        for g in inc
            .timeline
            .iter()
            .filter(|g| g.intent != Intent::Reconnaissance)
        {
            let _ = writeln!(m, "{}:\n", g.intent.title());
            for x in g.examples.iter().take(SHOWN_EXAMPLES) {
                let _ = writeln!(
                    m,
                    "- {} {} {}{}{}",
                    md(&when(x.time)),
                    code(&x.call),
                    md(x.access_key_id.as_deref().unwrap_or("")),
                    if x.targets.is_empty() {
                        String::new()
                    } else {
                        format!(" \u{2192} {}", md(&x.targets.join(", ")))
                    },
                    x.error_code
                        .as_deref()
                        .map_or(String::new(), |c| format!(" (**{}**)", md(c)))
                );
            }
            if g.calls as usize > SHOWN_EXAMPLES.min(g.examples.len()) {
                let _ = writeln!(
                    m,
                    "- … {} more",
                    g.calls as usize - SHOWN_EXAMPLES.min(g.examples.len())
                );
            }
            m.push('\n');
        }
    }
    let _ = writeln!(m, "{h}# Impact\n");
    let data = group(inc, Intent::DataAccess);
    let impact = group(inc, Intent::Impact);
    if inc.resources.is_empty() && data.is_none() && impact.is_none() {
        m.push_str("No resource created or changed, no data read, no destructive call seen.\n\n");
    } else {
        if let Some(g) = data {
            let _ = writeln!(
                m,
                "- Data read: {} calls ({} failed): {}",
                g.calls,
                g.errors,
                md(&targets(g))
            );
        }
        if let Some(g) = impact {
            let names: Vec<String> = g
                .calls_by_name
                .iter()
                .map(|t| format!("{} {}", t.name, t.calls))
                .collect();
            let _ = writeln!(
                m,
                "- Destructive or exposing calls: {} ({} failed): {}",
                g.calls,
                g.errors,
                md(&names.join(", "))
            );
        }
        if !inc.resources.is_empty() {
            m.push_str("\nResources created or changed:\n\n| Kind | Name | Calls | First (UTC) |\n|---|---|---|---|\n");
            for r in &inc.resources {
                let _ = writeln!(
                    m,
                    "| {} | {} | {} | {} |",
                    md(&r.kind),
                    md(&r.name),
                    md(&r.calls.join(", ")),
                    md(&when(r.first_time))
                );
            }
            if inc.resources_truncated {
                m.push_str(
                    "\n*More resources were touched; the alphabetically first are listed.*\n",
                );
            }
        }
        m.push('\n');
    }
    let _ = writeln!(m, "{h}# Actions\n");
    if inc.containment.is_empty() {
        m.push_str("*Nothing IAM can do applies; investigate by hand.*\n\n");
    } else {
        m.push_str("Contain each key and role of the chain (dry runs until `--apply`):\n\n");
        let cmds: Vec<String> = inc.containment.iter().map(|c| c.command.clone()).collect();
        m.push_str(&fenced("sh", &cmds));
        m.push('\n');
    }
}

/// The nightly HTML report's incidents section.
pub fn html_section(h: &mut String, incidents: &[Incident]) {
    h.push_str("<section id=\"incidents-section\">\n<h2>Incidents</h2>\n");
    h.push_str("<table id=\"incidents\">\n<thead><tr><th>Incident</th><th>Severity</th><th>First (UTC)</th>\
<th>Last (UTC)</th><th>Root principal</th><th>Findings</th><th>Keys</th><th>Accounts</th></tr></thead>\n<tbody>\n");
    if incidents.is_empty() {
        h.push_str("<tr><td colspan=\"8\" class=\"empty\">No incidents in this run.</td></tr>\n");
    }
    for i in incidents {
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\"><a href=\"#{0}\">{0}</a></td><td><span class=\"badge sev-{1}\">{1}</span></td>\
<td class=\"nw\">{2}</td><td class=\"nw\">{3}</td><td class=\"arn\">{4}</td><td>{5}</td><td>{6}</td><td class=\"mono\">{7}</td></tr>",
            esc(&i.incident_id),
            i.severity.as_str(),
            esc(&when(i.first_time)),
            esc(&when(i.last_time)),
            esc(&i.root_principal),
            esc(&format!("{} ({})", i.findings.len(), kinds(i))),
            i.access_key_ids.len(),
            esc(&i.accounts.join(", "))
        );
    }
    h.push_str("</tbody>\n</table>\n");
    for i in incidents {
        let _ = writeln!(
            h,
            "<article class=\"finding f-{}\" id=\"{}\">",
            i.severity.as_str(),
            esc(&i.incident_id)
        );
        let _ = writeln!(
            h,
            "<h3><span class=\"badge sev-{0}\">{0}</span>{1} <span class=\"muted\">\u{2014} {2}</span></h3>",
            i.severity.as_str(),
            esc(&i.incident_id),
            esc(&i.root_principal)
        );
        let _ = writeln!(
            h,
            "<p><strong>{} ({}) from {} to {} UTC; {}; {} by the chain.</strong> {}.</p>",
            count(i.findings.len(), "finding", "findings"),
            esc(&kinds(i)),
            esc(&when(i.first_time)),
            esc(&when(i.last_time)),
            count(i.access_key_ids.len(), "key", "keys"),
            count(i.calls as usize, "call", "calls"),
            esc(&i.severity_reason)
        );
        let lines = chain_lines(i);
        if !lines.is_empty() {
            h.push_str("<h4>Session chain</h4>\n");
            let _ = writeln!(h, "<pre class=\"chain\">{}</pre>", esc(&lines.join("\n")));
        }
        h.push_str("<h4>Timeline</h4>\n");
        if i.timeline.is_empty() {
            h.push_str("<p class=\"empty\">No calls with a known intent in the span.</p>\n");
        } else {
            h.push_str("<table><thead><tr><th>Intent</th><th>Calls</th><th>Errors</th><th>First (UTC)</th>\
<th>Last (UTC)</th><th>Services</th><th>Named</th></tr></thead>\n<tbody>\n");
            for g in &i.timeline {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                    g.intent.title(),
                    g.calls,
                    g.errors,
                    esc(&when(g.first_time)),
                    esc(&when(g.last_time)),
                    esc(&services(g)),
                    esc(&targets(g))
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if !i.resources.is_empty() {
            h.push_str("<h4>Resources created or changed</h4>\n<ul>\n");
            for r in &i.resources {
                let _ = writeln!(
                    h,
                    "<li>{} <span class=\"mono\">{}</span> <span class=\"muted\">({})</span></li>",
                    esc(&r.kind),
                    esc(&r.name),
                    esc(&r.calls.join(", "))
                );
            }
            h.push_str("</ul>\n");
        }
        h.push_str("<h4>Contain (dry run)</h4>\n");
        if i.containment.is_empty() {
            h.push_str("<p class=\"empty\">Nothing IAM can do applies; investigate by hand.</p>\n");
        } else {
            let cmds: Vec<&str> = i.containment.iter().map(|c| c.command.as_str()).collect();
            let _ = writeln!(
                h,
                "<pre class=\"contain\"><code>{}</code></pre>",
                esc(&cmds.join("\n"))
            );
        }
        h.push_str("</article>\n");
    }
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Finding, Kind, Place, Severity};

    fn hostile() -> Vec<Incident> {
        let f = Finding {
            kind: Kind::OddIp,
            severity: Severity::High,
            time: 1_772_000_000_000,
            principal: "arn:aws:iam::1:user/<script>alert(1)</script>|*_x_*".into(),
            access_key_id: Some("AKIA<b>|".into()),
            account: Some("1".into()),
            place: Place::default(),
            summary: "`code` <img src=x onerror=alert(1)> | row".into(),
            reason: String::new(),
            evidence_event_ids: vec!["e".into()],
            events: None,
            last_time: None,
            sigma: None,
            chain: Vec::new(),
            respond: None,
        };
        crate::incident::build(
            &[f],
            &crate::graph::Graph::default(),
            &[],
            &crate::incident::Options::default(),
        )
    }

    #[test]
    fn html_escapes_what_the_logs_say() {
        let mut h = String::new();
        html_section(&mut h, &hostile());
        assert!(!h.contains("<script>") && !h.contains("<img") && !h.contains("<b>"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn markdown_cells_stay_in_their_columns() {
        let m = render_markdown(&hostile());
        assert!(!m.contains("<script>") && !m.contains("<img"));
        for line in m.lines().filter(|l| l.starts_with("| INC-")) {
            // 8 columns: 9 unescaped pipes.
            let pipes = line.matches('|').count() - line.matches("\\|").count();
            assert_eq!(pipes, 9, "{line}");
        }
    }
}
