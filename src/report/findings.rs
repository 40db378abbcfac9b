//! Findings as a table, JSON lines, OCSF Detection Findings, or Markdown.
//!
//! Takes the findings of `hunt` and, through [`Cited`], the events they cite (so that machine
//! formats can name the API calls behind a finding); returns the text to print.

use crate::detect::{Finding, Kind};
use crate::event::{format_iso, Event};
use crate::report::table;
use std::collections::HashMap;

/// Output formats of `hunt` (the command line names them in `src/cli/values.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingFormat {
    /// Aligned columns for people.
    Table,
    /// One finding per line, the finding's own keys.
    Ndjson,
    /// One OCSF 1.8.0 Detection Finding (class_uid 2004) JSON object per line.
    Ocsf,
    /// A Markdown report that renders on a code-review site.
    Markdown,
    /// Timesketch JSON lines: `message`, `datetime`, `timestamp_desc` and the finding's keys.
    Timesketch,
    /// AWS Security Finding Format, one per line (`trailhound securityhub send` imports them).
    Asff,
}

/// The events that findings cite, by event id: what OCSF evidences, ASFF and Timesketch lines
/// say about the API calls behind a finding. Empty when the events are not at hand; the formats
/// then describe a finding from its own fields only.
#[derive(Default)]
pub struct Cited<'a> {
    by_id: HashMap<&'a str, &'a Event>,
}

impl<'a> Cited<'a> {
    /// Indexes the events the findings cite. Of the copies of a cross-account call, the one that
    /// is not a `shared_copy` is kept.
    pub fn new(findings: &[Finding], events: &'a [Event]) -> Cited<'a> {
        let wanted: std::collections::HashSet<&str> = findings
            .iter()
            .flat_map(|f| f.evidence_event_ids.iter().map(String::as_str))
            .collect();
        let mut by_id: HashMap<&'a str, &'a Event> = HashMap::new();
        for e in events {
            let Some(id) = e.event_id.as_deref() else {
                continue;
            };
            if !wanted.contains(id) {
                continue;
            }
            by_id
                .entry(id)
                .and_modify(|old| {
                    if old.shared_copy && !e.shared_copy {
                        *old = e;
                    }
                })
                .or_insert(e);
        }
        Cited { by_id }
    }

    /// The index a format needs: the cited events for OCSF and ASFF, nothing for the others
    /// (which saves a pass over the events).
    pub fn for_format(
        format: FindingFormat,
        findings: &[Finding],
        events: &'a [Event],
    ) -> Cited<'a> {
        match format {
            FindingFormat::Ocsf | FindingFormat::Asff => Cited::new(findings, events),
            _ => Cited::default(),
        }
    }

    /// The cited events of a finding that are at hand, in the finding's evidence order.
    pub fn of(&self, f: &Finding) -> Vec<&'a Event> {
        f.evidence_event_ids
            .iter()
            .filter_map(|id| self.by_id.get(id.as_str()).copied())
            .collect()
    }
}

/// A finding's stable identifier: the same finding gets the same id in every run and format.
pub fn finding_uid(f: &Finding) -> String {
    let kind = match &f.sigma {
        Some(rule) => format!("{}/{}", f.kind, rule.rule_id),
        None => f.kind.to_string(),
    };
    format!(
        "{}:{}:{}",
        kind,
        f.time,
        f.evidence_event_ids
            .first()
            .map(String::as_str)
            .unwrap_or(&f.principal)
    )
}

/// A short title for a kind of finding (OCSF `finding_info.title`, ASFF `Title`).
pub fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::FailedThenSuccess => "Denied calls, then success",
        Kind::OddIp => "Call from a network the principal has not used",
        Kind::UnusualHour => "Activity at an unusual hour",
        Kind::DeepRoleChain => "Deep role chain",
        Kind::CredentialExfiltration => "Instance credentials used outside the instance",
        Kind::ImpossibleTravel => "Impossible travel",
        Kind::RoleEnumeration => "Role enumeration",
        Kind::FederationTokenAdmin => "Federation token with broad permissions",
        Kind::ConsoleLoginWithoutMfa => "Console sign-in without MFA",
        Kind::RootAccountUse => "Root account used",
        Kind::ApiEnumeration => "API enumeration",
        Kind::AssumeRootDenied => "Denied AssumeRoot",
        Kind::RoleChainJuggling => "Role chain juggling",
        Kind::WorkloadChainOutside => "Workload credentials chained and used outside AWS",
        Kind::ChildSessionNewNetwork => "Chained session used from a new network",
        Kind::SourceIdentityChanged => "Source identity changed in a chain",
        Kind::SessionFanOut => "Sessions opened in many roles or accounts",
        Kind::NewRolePath => "First-seen role path",
        Kind::Sigma => "Sigma rule matched",
    }
}

/// The title of one finding: the rule's own title for `sigma` findings, else [`title`].
pub fn title_of(f: &Finding) -> &str {
    match &f.sigma {
        Some(rule) => &rule.rule_title,
        None => title(f.kind),
    }
}

/// How sure a kind of finding is, 1 (low) to 3 (high): an observed fact (root was used, a
/// console sign-in had no MFA, a chain is this deep) is high; a judgement against a learned
/// baseline (an unusual network, hour or place) is medium, an unusual hour alone low.
pub fn confidence(kind: Kind) -> u8 {
    match kind {
        Kind::DeepRoleChain
        | Kind::FederationTokenAdmin
        | Kind::ConsoleLoginWithoutMfa
        | Kind::RootAccountUse
        | Kind::CredentialExfiltration
        | Kind::AssumeRootDenied
        | Kind::RoleChainJuggling
        | Kind::SourceIdentityChanged
        | Kind::WorkloadChainOutside => 3,
        Kind::FailedThenSuccess
        | Kind::OddIp
        | Kind::ImpossibleTravel
        | Kind::RoleEnumeration
        | Kind::ApiEnumeration
        | Kind::SessionFanOut
        | Kind::ChildSessionNewNetwork
        | Kind::Sigma => 2,
        Kind::NewRolePath => 1,
        Kind::UnusualHour => 1,
    }
}

/// Whether a kind is judged against a principal's learned baseline rather than a fixed rule.
pub fn is_behavioral(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::OddIp
            | Kind::UnusualHour
            | Kind::ImpossibleTravel
            | Kind::NewRolePath
            | Kind::ChildSessionNewNetwork
    )
}

pub fn render(findings: &[Finding], format: FindingFormat, cited: &Cited) -> String {
    match format {
        FindingFormat::Table => to_table(findings),
        FindingFormat::Ndjson => lines(
            findings
                .iter()
                .map(|f| serde_json::to_string(f).unwrap_or_default()),
        ),
        FindingFormat::Ocsf => lines(
            findings
                .iter()
                .map(|f| crate::report::ocsf::detection_finding(f, cited).to_string()),
        ),
        FindingFormat::Markdown => to_markdown(findings),
        FindingFormat::Timesketch => crate::report::timesketch::findings(findings),
        FindingFormat::Asff => crate::report::asff::render(findings, cited),
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
