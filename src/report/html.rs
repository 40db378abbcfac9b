//! The nightly report as one self-contained HTML5 file: inline CSS, hand-drawn inline SVG
//! charts, no scripts, nothing fetched. Deterministic: the same [`Digest`] gives the same bytes.
//!
//! Layout, in reading order: header with a one-line verdict; incidents (see
//! [`super::incidents`]); findings (table, then one block per
//! finding with its reason, session chain and containment commands); activity charts; new
//! principals and countries; top principals and roles; what the run read.
//!
//! The small helpers shared with [`super::markdown`] (verdict, time axis, number and time
//! formatting) live here as `pub(crate)`.

use super::digest::{Digest, ReadSummary, ReportedFinding};
use crate::detect::Severity;
use crate::event::format_iso;
use std::fmt::Write;

pub(crate) const HOUR: i64 = 3_600_000;

/// Rows shown in the long lists (new principals, new countries, evidence ids) before "N more".
const LIST_CAP: usize = 100;
/// Accounts drawn as their own line; the rest are summed into one "other" line.
const MAX_ACCOUNT_LINES: usize = 9;
/// Most points one chart line has; longer spans are drawn with wider buckets.
const MAX_POINTS: i64 = 24 * 62;

/// Escapes text for HTML element content and (double- or single-quoted) attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// 1234567 -> "1,234,567".
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut o = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            o.push(',');
        }
        o.push(c);
    }
    o
}

/// "2025-05-20 14:03:07" (UTC), for people; falls back to the ISO text for odd times.
pub(crate) fn when(ms: i64) -> String {
    let iso = format_iso(ms);
    if iso.len() >= 19 && iso.as_bytes()[10] == b'T' {
        format!("{} {}", &iso[..10], &iso[11..19])
    } else {
        iso
    }
}

/// "2025-05-20" (UTC day of a time).
pub(crate) fn day_of(ms: i64) -> String {
    let iso = format_iso(ms);
    if iso.len() >= 10 {
        iso[..10].to_string()
    } else {
        iso
    }
}

/// "14:00" (UTC hour of a time).
pub(crate) fn hour_of(ms: i64) -> String {
    format!("{:02}:00", ms.div_euclid(HOUR).rem_euclid(24))
}

/// Findings per severity, most severe first, only severities present.
pub(crate) fn severity_counts(d: &Digest) -> Vec<(Severity, usize)> {
    let all = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
    all.iter()
        .map(|&s| {
            (
                s,
                d.findings
                    .iter()
                    .filter(|f| f.finding.severity == s)
                    .count(),
            )
        })
        .filter(|&(_, n)| n > 0)
        .collect()
}

/// One line: "3 new findings: 1 critical, 2 high", or "Nothing new to look at".
pub(crate) fn verdict(d: &Digest) -> String {
    let n = d.findings.len();
    if n == 0 {
        return "Nothing new to look at".to_string();
    }
    let parts: Vec<String> = severity_counts(d)
        .iter()
        .map(|(s, k)| format!("{k} {}", s.as_str()))
        .collect();
    format!(
        "{n} new finding{}: {}",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// The run's read problems in a few words, or None when it read everything cleanly.
pub(crate) fn read_warning(r: &ReadSummary) -> Option<String> {
    let mut parts = Vec::new();
    if r.files_failed > 0 {
        parts.push(format!(
            "{} file{} could not be read",
            thousands(r.files_failed),
            if r.files_failed == 1 { "" } else { "s" }
        ));
    }
    if r.bad_records > 0 {
        parts.push(format!(
            "{} bad record{}",
            thousands(r.bad_records),
            if r.bad_records == 1 { "" } else { "s" }
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// A time axis of equal buckets (a whole number of hours each, aligned to UTC hours/days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Axis {
    /// Start of the first bucket, epoch ms.
    pub start: i64,
    /// Bucket width in hours.
    pub hours: i64,
    /// Number of buckets (at least 1).
    pub n: usize,
}

impl Axis {
    /// The axis covering all given times, with at most `max_points` buckets; None when empty.
    pub(crate) fn over(times: impl IntoIterator<Item = i64>, max_points: i64) -> Option<Axis> {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for t in times {
            let h = t.div_euclid(HOUR);
            lo = lo.min(h);
            hi = hi.max(h);
        }
        if lo > hi {
            return None;
        }
        let span = hi - lo + 1;
        let need = (span + max_points - 1) / max_points.max(1);
        let hours = [1i64, 2, 3, 4, 6, 12, 24]
            .into_iter()
            .find(|&k| k >= need)
            .unwrap_or_else(|| (need + 23) / 24 * 24);
        let first = lo - lo.rem_euclid(hours);
        let n = ((hi - first) / hours + 1) as usize;
        Some(Axis {
            start: first * HOUR,
            hours,
            n,
        })
    }

    pub(crate) fn index(&self, t: i64) -> usize {
        let i = (t.div_euclid(HOUR) - self.start / HOUR).div_euclid(self.hours);
        i.clamp(0, self.n as i64 - 1) as usize
    }

    pub(crate) fn time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.hours * HOUR
    }

    /// Sums (time, value) points into the buckets.
    pub(crate) fn bucket(&self, points: impl IntoIterator<Item = (i64, u64)>) -> Vec<u64> {
        let mut v = vec![0u64; self.n];
        for (t, x) in points {
            let i = self.index(t);
            v[i] = v[i].saturating_add(x);
        }
        v
    }

    /// "hour" or "3 hours" or "day".
    pub(crate) fn bucket_name(&self) -> String {
        match self.hours {
            1 => "hour".to_string(),
            24 => "day".to_string(),
            h if h % 24 == 0 => format!("{} days", h / 24),
            h => format!("{h} hours"),
        }
    }
}

/// Accounts by total calls (descending, then name), the first `keep` as themselves and the rest
/// summed as one "other (N accounts)" series. Values are per bucket of `axis`.
pub(crate) fn account_series(
    calls: &std::collections::BTreeMap<String, Vec<(i64, u64)>>,
    axis: &Axis,
    keep: usize,
) -> Vec<(String, Vec<u64>)> {
    let mut all: Vec<(String, Vec<u64>, u64)> = calls
        .iter()
        .map(|(acct, pts)| {
            let v = axis.bucket(pts.iter().copied());
            let total = v.iter().sum();
            (acct.clone(), v, total)
        })
        .collect();
    all.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<(String, Vec<u64>)> = Vec::new();
    if all.len() <= keep + 1 {
        out.extend(all.into_iter().map(|(a, v, _)| (a, v)));
    } else {
        let rest = all.split_off(keep);
        out.extend(all.into_iter().map(|(a, v, _)| (a, v)));
        let mut sum = vec![0u64; axis.n];
        for (_, v, _) in &rest {
            for (s, x) in sum.iter_mut().zip(v) {
                *s = s.saturating_add(*x);
            }
        }
        out.push((format!("other ({} accounts)", rest.len()), sum));
    }
    out
}

/// A step of 1, 2 or 5 times a power of ten, at least `raw` (and at least 1).
fn nice_step(raw: f64) -> u64 {
    let mut p = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            let s = m.saturating_mul(p);
            if s as f64 >= raw || s == u64::MAX {
                return s.max(1);
            }
        }
        p = p.saturating_mul(10);
    }
}

// ---------------------------------------------------------------------------------------------

const CSS: &str = r#"
:root{--fg:#1b1f24;--muted:#5d6570;--line:#d8dce2;--panel:#f5f6f8;--accent:#24527a}
*{box-sizing:border-box}
html{background:#fff}
body{margin:0 auto;max-width:1240px;padding:24px 28px 40px;color:var(--fg);background:#fff;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans","DejaVu Sans",sans-serif;
 -webkit-print-color-adjust:exact;print-color-adjust:exact}
h1{font-size:23px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:17px;margin:30px 0 12px;padding-bottom:5px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:0 0 6px}
h4{font-size:12px;margin:12px 0 3px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
p{margin:4px 0}
a{color:var(--accent);text-decoration:none}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;font-size:12px}
.meta{color:var(--muted);margin:0}
.meta span+span::before{content:" \00b7  "}
.verdict{margin:14px 0 0;padding:10px 14px;border-left:6px solid #2b7a3d;background:#edf6ee;border-radius:4px;font-size:17px;font-weight:650}
.verdict.v-critical{border-color:#b3261e;background:#fcebea}
.verdict.v-high{border-color:#d9480f;background:#fdf0e8}
.verdict.v-medium{border-color:#d49b00;background:#fdf7e3}
.verdict.v-low,.verdict.v-info{border-color:#2f6fb0;background:#ebf2fa}
.warn{margin:6px 0 0;color:#8a3b00}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.nw{white-space:nowrap}
td.arn{overflow-wrap:anywhere;min-width:12em}
td.sum{overflow-wrap:anywhere;min-width:14em}
td.src{min-width:11em}
td.key{white-space:nowrap}
tbody tr:nth-child(even) td{background:#fafbfc}
.badge{display:inline-block;min-width:66px;padding:1px 8px;border-radius:10px;text-align:center;
 font-size:11px;font-weight:700;letter-spacing:.04em;text-transform:uppercase;color:#fff;white-space:nowrap}
.sev-critical{background:#b3261e}.sev-high{background:#d9480f}.sev-medium{background:#e9ad00;color:#1b1f24}
.sev-low{background:#2f6fb0}.sev-info{background:#6b7280}
.finding{margin:14px 0;padding:12px 16px;border:1px solid var(--line);border-left:6px solid #6b7280;border-radius:6px;break-inside:avoid}
.finding.f-critical{border-left-color:#b3261e}.finding.f-high{border-left-color:#d9480f}
.finding.f-medium{border-left-color:#e9ad00}.finding.f-low{border-left-color:#2f6fb0}
.finding h3 .badge{margin-right:8px;vertical-align:1px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0;font-size:13px}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
pre{margin:3px 0 6px;padding:8px 10px;background:var(--panel);border:1px solid var(--line);border-radius:4px;
 white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.4}
.empty{color:var(--muted);font-style:italic}
.muted{color:var(--muted)}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:10px 28px}
.grid2>div{min-width:0}
figure{margin:0 0 22px}
figcaption{font-weight:600;margin:0 0 2px}
figcaption .muted{font-weight:400}
svg.chart{display:block;width:100%;height:auto}
svg.chart text{font-family:inherit;font-size:11px;fill:#5d6570}
svg.chart text.day{fill:#1b1f24;font-weight:600}
svg.chart text.peak{fill:#1b1f24;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:2px 18px;margin:2px 0 0 60px;font-size:12px}
.legend .sw{display:inline-block;width:16px;height:4px;margin-right:6px;vertical-align:middle;border-radius:1px}
.legend .sw.dash{background-image:linear-gradient(90deg,transparent 50%,#fff 50%);background-size:6px 4px}
ul.plain{margin:4px 0;padding-left:18px;overflow-wrap:anywhere}
.grid2 h3+*{margin-top:4px}
.grid2 h3:not(:first-child){margin-top:14px}
#read-counts th{font-weight:500;background:none;white-space:normal}
footer{margin-top:34px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{body{max-width:none;padding:0}h2{break-after:avoid}figure,.finding{break-inside:avoid}
 tbody tr:nth-child(even) td{background:none}}
"#;

/// Series colours (colour-blind-friendly order); "other" and single series get their own.
const PALETTE: [&str; 9] = [
    "#1f6fb4", "#e07b10", "#2a9d3c", "#8e44ad", "#c0392b", "#16a2b8", "#b5892a", "#d65aa0",
    "#4b5563",
];
const OTHER: &str = "#9aa1ab";
const OK_GREEN: &str = "#2a8a3e";
const DENY_RED: &str = "#c62828";

/// Renders the digest as one self-contained HTML file.
pub fn render(d: &Digest) -> String {
    let mut h = String::with_capacity(32 * 1024);
    let title = if d.title.is_empty() {
        "trailhound report"
    } else {
        &d.title
    };
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str("<meta name=\"generator\" content=\"trailhound\">\n");
    let _ = writeln!(
        h,
        "<title>{} \u{2014} {}</title>",
        esc(title),
        esc(&verdict(d))
    );
    let _ = writeln!(h, "<style>{CSS}</style>\n</head>\n<body>");

    header(&mut h, d, title);
    super::incidents::html_section(&mut h, &d.incidents);
    findings(&mut h, d);
    charts(&mut h, d);
    newcomers(&mut h, d);
    tops(&mut h, d);
    read(&mut h, &d.read);

    h.push_str("<footer>trailhound");
    if !d.run_id.is_empty() {
        let _ = write!(
            h,
            " \u{b7} run <span class=\"mono\">{}</span>",
            esc(&d.run_id)
        );
    }
    if !d.generated_at.is_empty() {
        let _ = write!(h, " \u{b7} generated {}", esc(&d.generated_at));
    }
    h.push_str(
        ". All times UTC. Containment commands are dry runs until run with \
<span class=\"mono\">--apply</span>.</footer>\n",
    );
    h.push_str("</body>\n</html>\n");
    h
}

fn header(h: &mut String, d: &Digest, title: &str) {
    h.push_str("<header>\n");
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    h.push_str("<p class=\"meta\">");
    let _ = write!(h, "<span>Generated {}</span>", esc(&d.generated_at));
    let _ = write!(
        h,
        "<span>run <span class=\"mono\">{}</span></span>",
        esc(&d.run_id)
    );
    match &d.window {
        Some((a, b)) => {
            let _ = write!(h, "<span>events {} \u{2192} {}</span>", esc(a), esc(b));
        }
        None => h.push_str("<span>no new events</span>"),
    }
    h.push_str("</p>\n");
    let class = severity_counts(d)
        .first()
        .map_or("v-none".to_string(), |(s, _)| format!("v-{}", s.as_str()));
    let _ = writeln!(
        h,
        "<p class=\"verdict {class}\" id=\"verdict\">{}</p>",
        esc(&verdict(d))
    );
    if let Some(w) = read_warning(&d.read) {
        let _ = writeln!(
            h,
            "<p class=\"warn\">\u{26a0} {}: see <a href=\"#read\">what was read</a>.</p>",
            esc(&w)
        );
    }
    h.push_str("</header>\n");
}

fn badge(s: Severity) -> String {
    format!("<span class=\"badge sev-{0}\">{0}</span>", s.as_str())
}

fn opt(s: &Option<String>) -> String {
    match s {
        Some(x) if !x.is_empty() => esc(x),
        _ => "<span class=\"muted\">\u{2014}</span>".to_string(),
    }
}

/// "203.0.113.9 · RU · AS64500 Example" (escaped), or a dash; `br` puts the address on a
/// line of its own (for the narrow table column).
fn place_html(f: &crate::detect::Finding, br: bool) -> String {
    let p = &f.place;
    let mut parts = Vec::new();
    let mut ip_html = None;
    if let Some(ip) = &p.source_ip {
        let x = format!("<span class=\"mono\">{}</span>", esc(ip));
        if br {
            ip_html = Some(x);
        } else {
            parts.push(x);
        }
    }
    if let Some(c) = &p.country {
        parts.push(esc(c));
    }
    match (p.asn, &p.as_org) {
        (Some(a), Some(o)) => parts.push(format!("AS{a} {}", esc(o))),
        (Some(a), None) => parts.push(format!("AS{a}")),
        (None, Some(o)) => parts.push(esc(o)),
        (None, None) => {}
    }
    match (ip_html, parts.is_empty()) {
        (None, true) => "<span class=\"muted\">\u{2014}</span>".to_string(),
        (None, false) => parts.join(" \u{b7} "),
        (Some(ip), true) => ip,
        (Some(ip), false) => format!("{ip}<br>{}", parts.join(" \u{b7} ")),
    }
}

fn findings(h: &mut String, d: &Digest) {
    h.push_str("<section id=\"findings-section\">\n<h2>Findings</h2>\n");
    h.push_str("<table id=\"findings\">\n<thead><tr><th>Severity</th><th>Time (UTC)</th><th>Kind</th>\
<th>Principal</th><th>Key</th><th>Account</th><th>Source</th><th>Summary</th></tr></thead>\n<tbody>\n");
    if d.findings.is_empty() {
        h.push_str(
            "<tr><td colspan=\"8\" class=\"empty\">No new findings in this run.</td></tr>\n",
        );
    }
    for (i, rf) in d.findings.iter().enumerate() {
        let f = &rf.finding;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"nw\">{}</td><td><a href=\"#finding-{}\">{}</a></td>\
<td class=\"arn\">{}</td><td class=\"mono key\">{}</td><td class=\"mono key\">{}</td><td class=\"src\">{}</td><td class=\"sum\">{}</td></tr>",
            badge(f.severity),
            esc(&when(f.time)),
            i + 1,
            esc(f.kind.as_str()),
            esc(&f.principal),
            opt(&f.access_key_id),
            opt(&f.account),
            place_html(f, true),
            esc(&f.summary)
        );
    }
    h.push_str("</tbody>\n</table>\n");
    for (i, rf) in d.findings.iter().enumerate() {
        finding_block(h, i + 1, rf);
    }
    h.push_str("</section>\n");
}

fn finding_block(h: &mut String, n: usize, rf: &ReportedFinding) {
    let f = &rf.finding;
    let _ = writeln!(
        h,
        "<article class=\"finding f-{}\" id=\"finding-{n}\">",
        f.severity.as_str()
    );
    let _ = writeln!(
        h,
        "<h3>{}{n}. {} <span class=\"muted\">\u{2014} {}</span></h3>",
        badge(f.severity),
        esc(f.kind.as_str()),
        esc(&f.principal)
    );
    let _ = writeln!(h, "<p><strong>{}</strong></p>", esc(&f.summary));
    if !f.reason.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(&f.reason));
    }
    h.push_str("<dl class=\"facts\">");
    let _ = write!(h, "<dt>Time</dt><dd>{} UTC</dd>", esc(&when(f.time)));
    let _ = write!(
        h,
        "<dt>Key</dt><dd class=\"mono\">{}</dd>",
        opt(&f.access_key_id)
    );
    let _ = write!(
        h,
        "<dt>Account</dt><dd class=\"mono\">{}</dd>",
        opt(&f.account)
    );
    let _ = write!(h, "<dt>Source</dt><dd>{}</dd>", place_html(f, false));
    if !f.evidence_event_ids.is_empty() {
        let ids = &f.evidence_event_ids;
        let shown: Vec<String> = ids.iter().take(LIST_CAP.min(20)).map(|e| esc(e)).collect();
        let more = ids.len().saturating_sub(shown.len());
        let _ = write!(
            h,
            "<dt>Evidence</dt><dd class=\"mono\">{}{}</dd>",
            shown.join(", "),
            if more > 0 {
                format!(" <span class=\"muted\">and {more} more</span>")
            } else {
                String::new()
            }
        );
    }
    h.push_str("</dl>\n");
    h.push_str("<h4>Session chain</h4>\n");
    if rf.chain_tree.is_empty() {
        h.push_str("<p class=\"empty\">No session chain recorded.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<pre class=\"chain\">{}</pre>",
            esc(&rf.chain_tree.join("\n"))
        );
    }
    h.push_str("<h4>Contain (dry run)</h4>\n");
    if rf.contain.is_empty() {
        h.push_str("<p class=\"empty\">Nothing IAM can do applies; investigate by hand.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<pre class=\"contain\"><code>{}</code></pre>",
            esc(&rf.contain.join("\n"))
        );
    }
    h.push_str("</article>\n");
}

// --- charts ----------------------------------------------------------------------------------

struct Line<'a> {
    name: String,
    color: &'a str,
    dashed: bool,
    values: Vec<u64>,
}

const W: f64 = 1180.0;
const H: f64 = 250.0;
const ML: f64 = 60.0;
const MR: f64 = 18.0;
const MT: f64 = 22.0;
const MB: f64 = 42.0;

fn f1(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A line chart over `axis`, drawn as inline SVG; `unit` names what is counted ("calls").
fn line_chart(id: &str, caption: &str, axis: &Axis, lines: &[Line], unit: &str) -> String {
    let mut s = String::new();
    let pw = W - ML - MR;
    let ph = H - MT - MB;
    let n = axis.n;
    let x = |i: usize| -> f64 {
        if n <= 1 {
            ML + pw / 2.0
        } else {
            ML + pw * i as f64 / (n - 1) as f64
        }
    };
    let max = lines
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .max()
        .unwrap_or(0);
    let step = nice_step(max as f64 / 4.0);
    let top = (max.div_ceil(step).max(1)) * step;
    let y = |v: u64| -> f64 { MT + ph - ph * (v as f64 / top as f64) };

    let total: u64 = lines.iter().map(|l| l.values.iter().sum::<u64>()).sum();
    let _ = writeln!(
        s,
        "<figure id=\"{id}\">\n<figcaption>{} <span class=\"muted\">\u{2014} per {}, UTC; {} {} in all; peak {}</span></figcaption>",
        esc(caption),
        esc(&axis.bucket_name()),
        thousands(total),
        esc(unit),
        thousands(max),
    );
    let _ = writeln!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">",
        esc(caption)
    );
    let _ = writeln!(s, "<title>{}</title>", esc(caption));
    // Horizontal grid and y labels.
    let mut v = 0u64;
    while v <= top {
        let yy = f1(y(v));
        let _ = writeln!(
            s,
            "<line x1=\"{}\" y1=\"{yy}\" x2=\"{}\" y2=\"{yy}\" stroke=\"{}\" stroke-width=\"1\"/>\
<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            f1(ML),
            f1(ML + pw),
            if v == 0 { "#9aa1ab" } else { "#e4e7eb" },
            f1(ML - 6.0),
            f1(y(v) + 4.0),
            thousands(v)
        );
        v += step;
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"start\">{}</text>",
        f1(4.0),
        f1(MT - 9.0),
        esc(&format!("{unit} / {}", axis.bucket_name()))
    );
    // X ticks: hours (or days) at a step giving at most ~14 labels; dates on a second row.
    let span_h = axis.n as i64 * axis.hours;
    let tick_h = [1i64, 2, 3, 6, 12, 24, 48, 96, 168, 336, 672, 1344]
        .into_iter()
        .find(|&t| t >= axis.hours && span_h / t <= 14)
        .unwrap_or(24 * ((span_h / 14 / 24) + 1));
    let daily = tick_h >= 24;
    let mut last_day_x = f64::NEG_INFINITY;
    if !daily {
        // The first bucket's date, left of everything, so the reader always knows the day.
        let _ = writeln!(
            s,
            "<text class=\"day\" x=\"{}\" y=\"{}\" text-anchor=\"start\">{}</text>",
            f1(x(0) - if n <= 1 { 30.0 } else { 0.0 }),
            f1(H - 6.0),
            esc(&day_of(axis.time(0)))
        );
        last_day_x = x(0) - if n <= 1 { 30.0 } else { 0.0 };
    }
    for i in 0..n {
        let t = axis.time(i);
        let hour_abs = t.div_euclid(HOUR);
        if hour_abs.rem_euclid(tick_h) != 0 && n != 1 {
            continue;
        }
        let xx = f1(x(i));
        let _ = writeln!(
            s,
            "<line x1=\"{xx}\" y1=\"{}\" x2=\"{xx}\" y2=\"{}\" stroke=\"#9aa1ab\" stroke-width=\"1\"/>",
            f1(MT + ph),
            f1(MT + ph + 4.0)
        );
        let label = if daily {
            let d = day_of(t);
            d.get(5..).unwrap_or(&d).to_string()
        } else {
            hour_of(t)
        };
        let anchor = if n > 1 && i == n - 1 { "end" } else { "middle" };
        let _ = writeln!(
            s,
            "<text x=\"{xx}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
            f1(MT + ph + 16.0),
            esc(&label)
        );
        if !daily && hour_abs.rem_euclid(24) == 0 && x(i) - last_day_x > 80.0 {
            let _ = writeln!(
                s,
                "<line x1=\"{xx}\" y1=\"{}\" x2=\"{xx}\" y2=\"{}\" stroke=\"#d0d4da\" stroke-dasharray=\"3 3\"/>\
<text class=\"day\" x=\"{xx}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                f1(MT),
                f1(MT + ph),
                f1(H - 6.0),
                esc(&day_of(t))
            );
            last_day_x = x(i);
        }
    }
    // Series.
    let markers = n <= 72;
    for l in lines {
        let pts: Vec<String> = l
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{},{}", f1(x(i)), f1(y(v))))
            .collect();
        let dash = if l.dashed {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        if n > 1 {
            let _ = writeln!(
                s,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"{dash} points=\"{}\"><title>{}</title></polyline>",
                l.color,
                pts.join(" "),
                esc(&l.name)
            );
        }
        if markers || n == 1 {
            for (i, &v) in l.values.iter().enumerate() {
                if v > 0 || n == 1 {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"><title>{}: {} at {} UTC</title></circle>",
                        f1(x(i)),
                        f1(y(v)),
                        if n == 1 { "4" } else { "2.5" },
                        l.color,
                        esc(&l.name),
                        thousands(v),
                        esc(&when(axis.time(i)))
                    );
                }
            }
        }
    }
    // Peak label: the first line and bucket reaching the maximum.
    if max > 0 {
        if let Some((l, i)) = lines
            .iter()
            .find_map(|l| l.values.iter().position(|&v| v == max).map(|i| (l, i)))
        {
            let xx = x(i);
            let anchor = if xx > W - 200.0 {
                "end"
            } else if xx < ML + 120.0 {
                "start"
            } else {
                "middle"
            };
            let _ = writeln!(
                s,
                "<text class=\"peak\" x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\">max {} ({}, {} UTC)</text>",
                f1(xx),
                f1(y(max) - 7.0),
                thousands(max),
                esc(&l.name),
                esc(when(axis.time(i)).get(..16).unwrap_or_default())
            );
        }
    } else {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no {} in this window</text>",
            f1(ML + pw / 2.0),
            f1(MT + ph / 2.0),
            esc(unit)
        );
    }
    s.push_str("</svg>\n<div class=\"legend\">");
    for l in lines {
        let sum: u64 = l.values.iter().sum();
        let _ = write!(
            s,
            "<span><span class=\"sw{}\" style=\"background-color:{}\"></span>{} <span class=\"muted\">{}</span></span>",
            if l.dashed { " dash" } else { "" },
            l.color,
            esc(&l.name),
            thousands(sum)
        );
    }
    s.push_str("</div>\n</figure>\n");
    s
}

fn empty_figure(id: &str, caption: &str, what: &str) -> String {
    format!(
        "<figure id=\"{id}\">\n<figcaption>{}</figcaption>\n<p class=\"empty\">{}</p>\n</figure>\n",
        esc(caption),
        esc(what)
    )
}

fn charts(h: &mut String, d: &Digest) {
    let c = &d.charts;
    h.push_str("<section id=\"activity\">\n<h2>Activity</h2>\n");
    // One axis for both charts, so their hours line up.
    let times = c
        .calls_per_hour
        .values()
        .flat_map(|v| v.iter().map(|p| p.0))
        .chain(c.assume_role.iter().map(|p| p.0));
    let axis = Axis::over(times, MAX_POINTS);

    let calls_caption = "Calls per account";
    match axis.filter(|_| c.calls_per_hour.values().any(|v| !v.is_empty())) {
        Some(axis) => {
            let series = account_series(&c.calls_per_hour, &axis, MAX_ACCOUNT_LINES - 1);
            let lines: Vec<Line> = series
                .into_iter()
                .enumerate()
                .map(|(i, (name, values))| {
                    let other = name.starts_with("other (");
                    Line {
                        name,
                        color: if other {
                            OTHER
                        } else {
                            PALETTE[i % PALETTE.len()]
                        },
                        dashed: other,
                        values,
                    }
                })
                .collect();
            h.push_str(&line_chart(
                "chart-calls",
                calls_caption,
                &axis,
                &lines,
                "calls",
            ));
        }
        None => h.push_str(&empty_figure(
            "chart-calls",
            calls_caption,
            "No events in this run.",
        )),
    }

    let ar_caption = "AssumeRole successes and denials";
    match axis.filter(|_| !c.assume_role.is_empty()) {
        Some(axis) => {
            let ok = axis.bucket(c.assume_role.iter().map(|p| (p.0, p.1)));
            let denied = axis.bucket(c.assume_role.iter().map(|p| (p.0, p.2)));
            let lines = [
                Line {
                    name: "successes".into(),
                    color: OK_GREEN,
                    dashed: false,
                    values: ok,
                },
                Line {
                    name: "denials".into(),
                    color: DENY_RED,
                    dashed: false,
                    values: denied,
                },
            ];
            h.push_str(&line_chart(
                "chart-assume-role",
                ar_caption,
                &axis,
                &lines,
                "AssumeRole calls",
            ));
        }
        None => h.push_str(&empty_figure(
            "chart-assume-role",
            ar_caption,
            "No AssumeRole calls in this run.",
        )),
    }
    h.push_str("</section>\n");
}

fn more_row(h: &mut String, cols: usize, total: usize) {
    if total > LIST_CAP {
        let _ = writeln!(
            h,
            "<tr><td colspan=\"{cols}\" class=\"muted\">and {} more (all of them are in the JSON digest)</td></tr>",
            thousands((total - LIST_CAP) as u64)
        );
    }
}

fn newcomers(h: &mut String, d: &Digest) {
    let c = &d.charts;
    h.push_str("<section id=\"new\">\n<h2>New in this run</h2>\n<div class=\"grid2\">\n");
    let _ = writeln!(
        h,
        "<div><h3>New principals <span class=\"muted\">({})</span></h3>",
        thousands(c.new_principals.len() as u64)
    );
    h.push_str("<table id=\"new-principals\">\n<thead><tr><th>Principal</th><th>First seen (UTC)</th></tr></thead>\n<tbody>\n");
    if c.new_principals.is_empty() {
        h.push_str("<tr><td colspan=\"2\" class=\"empty\">None.</td></tr>\n");
    }
    for (p, t) in c.new_principals.iter().take(LIST_CAP) {
        let _ = writeln!(
            h,
            "<tr><td class=\"arn\">{}</td><td class=\"nw\">{}</td></tr>",
            esc(p),
            esc(t)
        );
    }
    more_row(h, 2, c.new_principals.len());
    h.push_str("</tbody>\n</table></div>\n");

    let _ = writeln!(
        h,
        "<div><h3>New countries <span class=\"muted\">({})</span></h3>",
        thousands(c.new_countries.len() as u64)
    );
    h.push_str("<table id=\"new-countries\">\n<thead><tr><th>Principal</th><th>Country</th><th>First seen (UTC)</th></tr></thead>\n<tbody>\n");
    if c.new_countries.is_empty() {
        h.push_str("<tr><td colspan=\"3\" class=\"empty\">None.</td></tr>\n");
    }
    for (p, country, t) in c.new_countries.iter().take(LIST_CAP) {
        let _ = writeln!(
            h,
            "<tr><td class=\"arn\">{}</td><td>{}</td><td class=\"nw\">{}</td></tr>",
            esc(p),
            esc(country),
            esc(t)
        );
    }
    more_row(h, 3, c.new_countries.len());
    h.push_str("</tbody>\n</table></div>\n</div>\n</section>\n");
}

fn tops(h: &mut String, d: &Digest) {
    h.push_str("<section id=\"top\">\n<h2>Most active</h2>\n<div class=\"grid2\">\n");
    h.push_str("<div><h3>Top principals</h3>\n<table id=\"top-principals\">\n<thead><tr><th>Principal</th><th class=\"num\">Calls</th><th class=\"num\">Errors</th><th class=\"num\">Error %</th></tr></thead>\n<tbody>\n");
    if d.top_principals.is_empty() {
        h.push_str("<tr><td colspan=\"4\" class=\"empty\">No events in this run.</td></tr>\n");
    }
    for (p, calls, errors) in &d.top_principals {
        let pct = if *calls > 0 {
            format!("{:.1}", *errors as f64 * 100.0 / *calls as f64)
        } else {
            "\u{2014}".to_string()
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"arn\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{pct}</td></tr>",
            esc(p),
            thousands(*calls),
            thousands(*errors)
        );
    }
    h.push_str("</tbody>\n</table></div>\n");
    h.push_str("<div><h3>Top roles</h3>\n<table id=\"top-roles\">\n<thead><tr><th>Role</th><th class=\"num\">Assumed</th><th class=\"num\">Denied</th></tr></thead>\n<tbody>\n");
    if d.top_roles.is_empty() {
        h.push_str(
            "<tr><td colspan=\"3\" class=\"empty\">No roles assumed in this run.</td></tr>\n",
        );
    }
    for (r, ok, denied) in &d.top_roles {
        let _ = writeln!(
            h,
            "<tr><td class=\"arn\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(r),
            thousands(*ok),
            thousands(*denied)
        );
    }
    h.push_str("</tbody>\n</table></div>\n</div>\n</section>\n");
}

fn read(h: &mut String, r: &ReadSummary) {
    h.push_str("<section id=\"read\">\n<h2>What was read</h2>\n<div class=\"grid2\">\n<div>\n");
    h.push_str("<table id=\"read-counts\">\n<tbody>\n");
    let rows: [(&str, u64); 6] = [
        ("Objects read (new)", r.objects_new),
        (
            "Objects already processed (skipped)",
            r.objects_already_processed,
        ),
        ("Events new in this run", r.events_new),
        ("Events of earlier runs (history)", r.events_history),
        ("Files that failed", r.files_failed),
        ("Bad records", r.bad_records),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            esc(k),
            thousands(v)
        );
    }
    for (reason, n) in &r.files_skipped {
        let _ = writeln!(
            h,
            "<tr><th>Files skipped: {}</th><td class=\"num\">{}</td></tr>",
            esc(reason),
            thousands(*n)
        );
    }
    h.push_str("</tbody>\n</table>\n</div>\n<div>\n<h3>Inputs</h3>\n");
    if r.inputs.is_empty() {
        h.push_str("<p class=\"empty\">None given.</p>\n");
    } else {
        h.push_str("<ul class=\"plain mono\">\n");
        for i in &r.inputs {
            let _ = writeln!(h, "<li>{}</li>", esc(i));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h3>Problems</h3>\n");
    if r.problems.is_empty() {
        h.push_str("<p class=\"empty\">None.</p>\n");
    } else {
        h.push_str("<ul class=\"plain mono\" id=\"problems\">\n");
        for p in &r.problems {
            let _ = writeln!(h, "<li>{}</li>", esc(p));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</div>\n</div>\n</section>\n");
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::{Finding, Hop, Kind, Place};
    use crate::report::digest::{Charts, ReportedFinding};
    use std::collections::BTreeMap;

    pub(crate) const EVIL: &str = "arn:aws:iam::1:user/<script>alert('x\"y')</script>&co";
    /// 2025-05-20T00:00:00Z
    pub(crate) const T0: i64 = 1_747_699_200_000;

    pub(crate) fn finding(
        kind: Kind,
        sev: Severity,
        principal: &str,
        minutes: i64,
    ) -> ReportedFinding {
        ReportedFinding {
            finding: Finding {
                kind,
                severity: sev,
                time: T0 + minutes * 60_000,
                principal: principal.to_string(),
                access_key_id: Some("ASIAEXAMPLE0000001".into()),
                account: Some("111122223333".into()),
                place: Place {
                    source_ip: Some("203.0.113.9".into()),
                    country: Some("RU".into()),
                    asn: Some(64500),
                    as_org: Some("Example <Hosting> & Co".into()),
                },
                summary: format!("{principal} did something | odd"),
                reason: "3 failures then success; baseline: 0 failures in 30 days <b>".into(),
                evidence_event_ids: vec!["e-1".into(), "e-2".into()],
                events: None,
                last_time: None,
                chain: vec![Hop {
                    access_key_id: "ASIAEXAMPLE0000001".into(),
                    issued_by_api: Some("AssumeRole".into()),
                    role_arn: Some("arn:aws:iam::111122223333:role/admin".into()),
                    session_name: Some("s".into()),
                    chain_depth: 1,
                    source_identity: None,
                }],
                sigma: None,
                respond: None,
            },
            chain_tree: vec![
                principal.to_string(),
                "└─ ASIAEXAMPLE0000001 AssumeRole role/admin <depth 1>".into(),
                "```".into(),
            ],
            contain: vec![
                "trailhound revoke --role 'arn:aws:iam::111122223333:role/admin' --before 2025-05-20T03:00:00Z".into(),
                "trailhound playbook run disable-key --key ASIAEXAMPLE0000001 && echo \"<done>\"".into(),
            ],
        }
    }

    /// A small but complete digest: two accounts over 30 hours, AssumeRole series, findings
    /// whose principal contains markup.
    pub(crate) fn sample() -> Digest {
        let mut calls = BTreeMap::new();
        calls.insert(
            "111122223333".to_string(),
            (0..30)
                .filter(|h| h % 7 != 3)
                .map(|h| (T0 + h * HOUR, (10 + (h * 37) % 50) as u64))
                .collect::<Vec<_>>(),
        );
        calls.insert(
            "444455556666".to_string(),
            (4..20).map(|h| (T0 + h * HOUR, (h * 3) as u64)).collect(),
        );
        calls.insert("acct<&>".to_string(), vec![(T0 + 10 * HOUR, 5)]);
        Digest {
            title: "trailhound report".into(),
            generated_at: "2025-05-21T06:00:00Z".into(),
            run_id: "20250521T060000Z-abc".into(),
            window: Some(("2025-05-20T00:00:05Z".into(), "2025-05-21T05:59:01Z".into())),
            incidents: Vec::new(),
            findings: vec![
                finding(Kind::CredentialExfiltration, Severity::Critical, EVIL, 125),
                finding(
                    Kind::FailedThenSuccess,
                    Severity::High,
                    "arn:aws:iam::111122223333:user/alice",
                    300,
                ),
                finding(
                    Kind::OddIp,
                    Severity::High,
                    "arn:aws:iam::111122223333:user/bob",
                    1500,
                ),
            ],
            charts: Charts {
                calls_per_hour: calls,
                assume_role: (0..30)
                    .map(|h| {
                        (
                            T0 + h * HOUR,
                            (h % 5) as u64 + 2,
                            if h == 9 { 14 } else { (h % 3) as u64 },
                        )
                    })
                    .collect(),
                new_principals: vec![
                    (EVIL.to_string(), "2025-05-20T02:05:00Z".into()),
                    (
                        "arn:aws:iam::444455556666:role/ci".into(),
                        "2025-05-20T04:00:00Z".into(),
                    ),
                ],
                new_countries: vec![(EVIL.to_string(), "RU".into(), "2025-05-20T02:05:00Z".into())],
            },
            top_principals: vec![
                (EVIL.to_string(), 1200, 33),
                ("arn:aws:iam::111122223333:user/alice".into(), 800, 0),
            ],
            top_roles: vec![("arn:aws:iam::111122223333:role/admin".into(), 42, 14)],
            read: ReadSummary {
                inputs: vec![
                    "s3://bucket/AWSLogs/?a=1&b=<2>".into(),
                    "/var/log/ct".into(),
                ],
                objects_new: 1234,
                objects_already_processed: 56789,
                events_new: 98765,
                events_history: 1_234_567,
                files_skipped: BTreeMap::from([
                    ("digest file".to_string(), 12u64),
                    ("not json <gz>".to_string(), 1u64),
                ]),
                files_failed: 1,
                bad_records: 3,
                problems: vec!["s3://bucket/x.json.gz: gzip: invalid header <eof>".into()],
            },
        }
    }

    /// Asserts the document fetches nothing and runs nothing.
    pub(crate) fn assert_inert(html: &str) {
        let lower = html.to_ascii_lowercase();
        for bad in [
            "<script",
            "src=\"http",
            "href=\"http",
            "src='http",
            "href='http",
            "@import",
            "url(",
            "<link",
            "<iframe",
            "<img",
            "<object",
            "<embed",
            " on",
            "javascript:",
        ] {
            if bad == " on" {
                // No event-handler attributes (onload=, onclick=...).
                assert!(
                    !lower.contains(" onload=")
                        && !lower.contains(" onclick=")
                        && !lower.contains(" onerror="),
                    "event handler attribute in output"
                );
                continue;
            }
            assert!(!lower.contains(bad), "output contains {bad:?}");
        }
        // No URL at all (inline SVG in HTML5 needs no xmlns).
        assert!(!lower.contains("http://"), "http:// reference");
        assert!(!lower.contains("https://"), "https:// reference");
    }

    fn assert_finite(html: &str) {
        for bad in [
            "NaN",
            "\"inf\"",
            "\"-inf\"",
            ",inf",
            ",-inf",
            "inf,",
            "9223372036854775807",
            "9223372036854775808",
        ] {
            assert!(!html.contains(bad), "non-finite number in output: {bad}");
        }
    }

    #[test]
    fn escapes_everything_user_controlled() {
        let html = render(&sample());
        assert!(!html.contains("<script"), "unescaped <script");
        assert!(!html.contains(EVIL));
        assert!(html.contains(
            "arn:aws:iam::1:user/&lt;script&gt;alert(&#39;x&quot;y&#39;)&lt;/script&gt;&amp;co"
        ));
        assert!(html.contains("Example &lt;Hosting&gt; &amp; Co"));
        assert!(html.contains("&lt;depth 1&gt;"));
        assert!(html.contains("echo &quot;&lt;done&gt;&quot;"));
        assert!(html.contains("acct&lt;&amp;&gt;"));
        assert!(!html.contains("<b>"));
        assert!(!html.contains("<done>"));
        assert!(!html.contains("<Hosting>"));
        assert_inert(&html);
    }

    #[test]
    fn has_sections_table_and_charts() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<table id=\"findings\">"));
        assert!(html.contains("id=\"chart-calls\""));
        assert!(html.contains("id=\"chart-assume-role\""));
        assert_eq!(html.matches("<svg ").count(), 2);
        assert_eq!(html.matches("class=\"finding f-").count(), 3);
        assert!(html.contains("3 new findings: 1 critical, 2 high"));
        assert!(html.contains("badge sev-critical"));
        // The chains and commands are in <pre>.
        assert!(html.contains("<pre class=\"chain\">"));
        assert!(html.contains("<pre class=\"contain\"><code>trailhound revoke"));
        // Three accounts: three lines (sample spans 30 hours).
        assert_eq!(html.matches("<polyline").count(), 3 + 2);
        // The AssumeRole peak (14 denials at 09:00) is labelled.
        assert!(
            html.contains("max 14 (denials, 2025-05-20 09:00 UTC)"),
            "{html}"
        );
        // Read summary numbers are formatted.
        assert!(html.contains("1,234,567"));
        assert!(html.contains("Files skipped: not json &lt;gz&gt;"));
        // Day boundary on the x axis.
        assert!(html.contains(">2025-05-21</text>"));
        // Every opened tag of the kinds we nest is closed.
        for t in [
            "table", "section", "figure", "svg", "article", "pre", "tbody", "div", "ul",
        ] {
            let open =
                html.matches(&format!("<{t} ")).count() + html.matches(&format!("<{t}>")).count();
            let close = html.matches(&format!("</{t}>")).count();
            assert_eq!(open, close, "unbalanced <{t}>");
        }
    }

    #[test]
    fn findings_are_in_order_with_links() {
        let html = render(&sample());
        let a = html.find("credential_exfiltration").unwrap();
        let b = html.find("failed_then_success").unwrap();
        assert!(a < b);
        for i in 1..=3 {
            assert!(html.contains(&format!("href=\"#finding-{i}\"")));
            assert!(html.contains(&format!("id=\"finding-{i}\"")));
        }
    }

    #[test]
    fn empty_digest_renders() {
        let html = render(&Digest::default());
        assert!(html.contains("Nothing new to look at"));
        assert!(html.contains("<table id=\"findings\">"));
        assert!(html.contains("No new findings in this run."));
        assert!(html.contains("id=\"chart-calls\""));
        assert!(html.contains("id=\"chart-assume-role\""));
        assert!(html.contains("No events in this run."));
        assert!(!html.contains("<svg "));
        assert_finite(&html);
        assert_inert(&html);
    }

    #[test]
    fn one_hour_and_zero_max() {
        let mut d = Digest::default();
        d.charts
            .calls_per_hour
            .insert("1".into(), vec![(T0 + 5 * HOUR, 0)]);
        d.charts.assume_role = vec![(T0 + 5 * HOUR, 0, 0)];
        let html = render(&d);
        assert_finite(&html);
        assert_eq!(html.matches("<svg ").count(), 2);
        assert!(html.contains("no calls in this window"));
        // One point: no polyline, a dot instead.
        assert!(!html.contains("<polyline"));
        assert!(html.contains("<circle"));

        d.charts
            .calls_per_hour
            .insert("1".into(), vec![(T0 + 5 * HOUR, 7)]);
        let html = render(&d);
        assert!(html.contains("max 7 (1, 2025-05-20 05:00 UTC)"));
        assert!(html.contains(">05:00</text>"));
    }

    #[test]
    fn deterministic() {
        let d = sample();
        assert_eq!(render(&d), render(&d.clone()));
        assert_eq!(render(&Digest::default()), render(&Digest::default()));
    }

    #[test]
    fn many_accounts_fold_into_other() {
        let mut d = Digest::default();
        for a in 0..15u64 {
            d.charts
                .calls_per_hour
                .insert(format!("{a:012}"), vec![(T0, a + 1), (T0 + HOUR, a)]);
        }
        let html = render(&d);
        assert_eq!(html.matches("<polyline").count(), MAX_ACCOUNT_LINES);
        assert!(html.contains("other (7 accounts)"));
        // The busiest account comes first in the legend.
        let first = html.find("000000000014").unwrap();
        let second = html.find("000000000013").unwrap();
        assert!(first < second);
    }

    #[test]
    fn long_spans_are_bucketed() {
        let mut d = Digest::default();
        // A stray event a year earlier must not make a 9000-point line.
        d.charts.calls_per_hour.insert(
            "1".into(),
            vec![(T0 - 365 * 24 * HOUR, 1), (T0, 5), (T0 + HOUR, 6)],
        );
        let html = render(&d);
        let poly = html
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(poly.split(' ').count() as i64 <= MAX_POINTS);
        assert!(
            html.contains("per 6 hours")
                || html.contains("per day")
                || html.contains("per 12 hours")
        );
    }

    #[test]
    fn axis_and_helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        let ax = Axis::over([T0 + 3 * HOUR + 5, T0 + 5 * HOUR], 100).unwrap();
        assert_eq!(
            ax,
            Axis {
                start: T0 + 3 * HOUR,
                hours: 1,
                n: 3
            }
        );
        assert_eq!(
            ax.bucket([
                (T0 + 3 * HOUR, 2),
                (T0 + 5 * HOUR, 3),
                (T0 + 5 * HOUR + 1, 1)
            ]),
            vec![2, 0, 4]
        );
        assert!(Axis::over(std::iter::empty(), 10).is_none());
        let wide = Axis::over([T0, T0 + 100 * HOUR], 10).unwrap();
        assert_eq!(wide.hours, 12);
        assert!(wide.n <= 10);
        assert_eq!(nice_step(0.0), 1);
        assert_eq!(nice_step(308.5), 500);
        assert_eq!(nice_step(1.75), 2);
        assert_eq!(verdict(&Digest::default()), "Nothing new to look at");
    }

    /// Writes the sample report to /tmp/report-demo.html (and an empty one) for a look in a
    /// browser: `cargo test --release --lib report::html::tests::write_demo -- --ignored`.
    #[test]
    #[ignore]
    fn write_demo() {
        std::fs::write("/tmp/report-demo.html", render(&sample())).unwrap();
        std::fs::write("/tmp/report-demo-empty.html", render(&Digest::default())).unwrap();
        let mut many = sample();
        for a in 0..14u64 {
            many.charts.calls_per_hour.insert(
                format!("9{a:011}"),
                (0..30)
                    .map(|h| (T0 + h * HOUR, (a * 7 + h as u64 * 3) % 40))
                    .collect(),
            );
        }
        std::fs::write("/tmp/report-demo-many.html", render(&many)).unwrap();
        std::fs::write(
            "/tmp/report-demo.md",
            crate::report::markdown::render(&sample()),
        )
        .unwrap();
    }
}
