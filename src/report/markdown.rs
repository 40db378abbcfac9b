//! The nightly report as GitHub-flavoured Markdown that renders on a code-review site: the same
//! sections as the HTML report, with the charts as compact per-day tables and one unicode
//! sparkline per series. Deterministic: the same [`Digest`] gives the same bytes.

use super::digest::{Digest, ReadSummary, ReportedFinding};
use super::html::{
    account_series, day_of, read_warning, severity_counts, thousands, verdict, when, Axis, HOUR,
};
use crate::detect::{Finding, Severity};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Rows of long lists before "N more".
const LIST_CAP: usize = 100;
/// Account columns of the per-day table before the rest are summed as "other".
const MAX_ACCOUNT_COLUMNS: usize = 6;
/// Days shown in per-day tables (the most recent ones).
const MAX_DAYS: usize = 31;
/// Characters of a sparkline.
const SPARK_WIDTH: i64 = 48;
const DAY: i64 = 24 * HOUR;

/// Escapes text for a Markdown paragraph or table cell: no HTML, no emphasis/links/code, pipes
/// escaped, one line.
pub(crate) fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' | '\t' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// An inline code span holding `s` verbatim (for use outside tables).
pub(crate) fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let n = longest_run(&s, '`') + 1;
    let ticks = "`".repeat(n);
    if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        format!("{ticks} {s} {ticks}")
    } else {
        format!("{ticks}{s}{ticks}")
    }
}

/// An inline code span inside a table cell (pipes must still be escaped there).
#[cfg(test)]
fn code_cell(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// A day of AssumeRole calls: successes, denials, and the hour with the most denials (count,
/// hour start).
type DayDenials = (u64, u64, Option<(u64, i64)>);

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for x in s.chars() {
        if x == c {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// A fenced code block holding the lines verbatim, its fence longer than any backtick run.
pub(crate) fn fenced(lang: &str, lines: &[String]) -> String {
    let body = lines.join("\n");
    let fence = "`".repeat(3.max(longest_run(&body, '`') + 1));
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

fn sev_icon(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\u{1f534}",
        Severity::High => "\u{1f7e0}",
        Severity::Medium => "\u{1f7e1}",
        Severity::Low => "\u{1f535}",
        Severity::Info => "\u{26aa}",
    }
}

fn opt(s: &Option<String>) -> String {
    match s {
        Some(x) if !x.is_empty() => md(x),
        _ => "\u{2014}".to_string(),
    }
}

fn place(f: &Finding) -> String {
    let p = &f.place;
    let mut parts = Vec::new();
    if let Some(ip) = &p.source_ip {
        parts.push(md(ip));
    }
    if let Some(c) = &p.country {
        parts.push(md(c));
    }
    match (p.asn, &p.as_org) {
        (Some(a), Some(o)) => parts.push(format!("AS{a} {}", md(o))),
        (Some(a), None) => parts.push(format!("AS{a}")),
        (None, Some(o)) => parts.push(md(o)),
        (None, None) => {}
    }
    if parts.is_empty() {
        "\u{2014}".to_string()
    } else {
        parts.join(" \u{b7} ")
    }
}

/// Renders the digest as GitHub-flavoured Markdown.
pub fn render(d: &Digest) -> String {
    let mut m = String::with_capacity(16 * 1024);
    let title = if d.title.is_empty() {
        "trailhound report"
    } else {
        &d.title
    };
    let _ = writeln!(m, "# {}\n", md(title));
    let window = match &d.window {
        Some((a, b)) => format!("events {} \u{2192} {}", md(a), md(b)),
        None => "no new events".to_string(),
    };
    let _ = writeln!(
        m,
        "Generated {} \u{b7} run {} \u{b7} {window}\n",
        md(&d.generated_at),
        code(&d.run_id)
    );
    let icon = severity_counts(d)
        .first()
        .map_or("\u{2705}", |(s, _)| sev_icon(*s));
    let _ = writeln!(m, "**{icon} {}**\n", md(&verdict(d)));
    if let Some(w) = read_warning(&d.read) {
        let _ = writeln!(m, "> \u{26a0}\u{fe0f} {}: see *What was read*.\n", md(&w));
    }

    super::incidents::markdown_section(&mut m, &d.incidents);
    findings(&mut m, d);
    charts(&mut m, d);
    newcomers(&mut m, d);
    tops(&mut m, d);
    read(&mut m, &d.read);
    m.push_str(
        "---\n\n*All times UTC. Containment commands are dry runs until run with `--apply`.*\n",
    );
    m
}

fn findings(m: &mut String, d: &Digest) {
    m.push_str("## Findings\n\n");
    if d.findings.is_empty() {
        m.push_str("No new findings in this run.\n\n");
        return;
    }
    m.push_str("| Severity | Time (UTC) | Kind | Principal | Key | Account | Source | Summary |\n");
    m.push_str("|---|---|---|---|---|---|---|---|\n");
    for rf in &d.findings {
        let f = &rf.finding;
        let _ = writeln!(
            m,
            "| {} **{}** | {} | {} | {} | {} | {} | {} | {} |",
            sev_icon(f.severity),
            f.severity.as_str(),
            md(&when(f.time)),
            md(f.kind.as_str()),
            md(&f.principal),
            opt(&f.access_key_id),
            opt(&f.account),
            place(f),
            md(&f.summary)
        );
    }
    m.push('\n');
    for (i, rf) in d.findings.iter().enumerate() {
        finding_block(m, i + 1, rf);
    }
}

fn finding_block(m: &mut String, n: usize, rf: &ReportedFinding) {
    let f = &rf.finding;
    let _ = writeln!(
        m,
        "### {n}. {} {} \u{b7} {} \u{2014} {}\n",
        sev_icon(f.severity),
        f.severity.as_str(),
        md(f.kind.as_str()),
        md(&f.principal)
    );
    let _ = writeln!(m, "**{}**\n", md(&f.summary));
    if !f.reason.is_empty() {
        let _ = writeln!(m, "{}\n", md(&f.reason));
    }
    let _ = writeln!(m, "- Time: {} UTC", md(&when(f.time)));
    let _ = writeln!(
        m,
        "- Key: {}",
        f.access_key_id.as_deref().map_or("\u{2014}".into(), code)
    );
    let _ = writeln!(
        m,
        "- Account: {}",
        f.account.as_deref().map_or("\u{2014}".into(), code)
    );
    let _ = writeln!(m, "- Source: {}", place(f));
    if !f.evidence_event_ids.is_empty() {
        let ids = &f.evidence_event_ids;
        let shown: Vec<String> = ids.iter().take(20).map(|e| code(e)).collect();
        let more = ids.len() - shown.len();
        let _ = writeln!(
            m,
            "- Evidence: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    m.push('\n');
    m.push_str("**Session chain**\n\n");
    if rf.chain_tree.is_empty() {
        m.push_str("*No session chain recorded.*\n\n");
    } else {
        m.push_str(&fenced("text", &rf.chain_tree));
        m.push('\n');
    }
    m.push_str("**Contain (dry run)**\n\n");
    if rf.contain.is_empty() {
        m.push_str("*Nothing IAM can do applies; investigate by hand.*\n\n");
    } else {
        m.push_str(&fenced("sh", &rf.contain));
        m.push('\n');
    }
}

// --- charts as tables ------------------------------------------------------------------------

const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per bucket, scaled to the series' own maximum; '·' for zero.
fn sparkline(values: &[u64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                '·'
            } else {
                let i = ((v as f64 / max as f64) * 7.0).round() as usize;
                SPARKS[i.clamp(0, 7)]
            }
        })
        .collect()
}

/// Sparkline lines in a code block (so they align): "name  ▁▂█▅  peak N at TIME".
fn spark_block(axis: &Axis, series: &[(String, Vec<u64>)]) -> String {
    let w = series
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let lines: Vec<String> = series
        .iter()
        .map(|(name, v)| {
            let max = v.iter().copied().max().unwrap_or(0);
            let peak = match v.iter().position(|&x| x == max) {
                Some(i) if max > 0 => format!(
                    "peak {} at {}",
                    thousands(max),
                    when(axis.time(i)).get(..16).unwrap_or_default()
                ),
                _ => "none".to_string(),
            };
            let pad = w - name.chars().count();
            format!(
                "{}{}  {}  {peak}",
                name.replace(['\n', '\r'], " "),
                " ".repeat(pad),
                sparkline(v)
            )
        })
        .collect();
    let mut s = format!(
        "Shape per {} from {} to {} UTC:\n\n",
        axis.bucket_name(),
        when(axis.time(0)).get(..16).unwrap_or_default(),
        when(axis.time(axis.n - 1) + axis.hours * HOUR)
            .get(..16)
            .unwrap_or_default()
    );
    s.push_str(&fenced("text", &lines));
    s.push('\n');
    s
}

/// The days (UTC midnights, ms) covering `times`, the last `MAX_DAYS` of them, and how many
/// earlier days were left out.
fn days(times: impl IntoIterator<Item = i64>) -> (Vec<i64>, usize) {
    let mut all: Vec<i64> = times
        .into_iter()
        .map(|t| t.div_euclid(DAY) * DAY)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let cut = all.len().saturating_sub(MAX_DAYS);
    let kept = all.split_off(cut);
    (kept, cut)
}

fn charts(m: &mut String, d: &Digest) {
    let c = &d.charts;
    m.push_str("## Activity\n\n");

    // Calls per day per account.
    m.push_str("### Calls per account\n\n");
    let times: Vec<i64> = c
        .calls_per_hour
        .values()
        .flat_map(|v| v.iter().map(|p| p.0))
        .collect();
    let (day_list, left_out) = days(times.iter().copied());
    match (day_list.first(), times.iter().min()) {
        (None, _) | (_, None) => m.push_str("No events in this run.\n\n"),
        (Some(_), Some(&first)) => {
            // Per-day table: one column per account (busiest first), the rest as "other".
            // The axis starts at the very first day so left-out days do not fold into a row.
            let start = first.div_euclid(DAY) * DAY;
            let last = *day_list.last().unwrap_or(&start);
            let day_axis = Axis {
                start,
                hours: 24,
                n: ((last - start) / DAY + 1) as usize,
            };
            let series = account_series(&c.calls_per_hour, &day_axis, MAX_ACCOUNT_COLUMNS - 1);
            m.push_str("| Day (UTC) |");
            for (name, _) in &series {
                let _ = write!(m, " {} |", md(name));
            }
            m.push_str(" Total |\n|---|");
            for _ in &series {
                m.push_str("--:|");
            }
            m.push_str("--:|\n");
            let mut col_totals = vec![0u64; series.len()];
            for &day in &day_list {
                let i = day_axis.index(day);
                let _ = write!(m, "| {} |", day_of(day));
                let mut row = 0u64;
                for (k, (_, v)) in series.iter().enumerate() {
                    let x = v[i];
                    row += x;
                    col_totals[k] += x;
                    let _ = write!(m, " {} |", thousands(x));
                }
                let _ = writeln!(m, " **{}** |", thousands(row));
            }
            if day_list.len() > 1 {
                m.push_str("| **Total** |");
                for t in &col_totals {
                    let _ = write!(m, " **{}** |", thousands(*t));
                }
                let _ = writeln!(m, " **{}** |", thousands(col_totals.iter().sum()));
            }
            m.push('\n');
            if left_out > 0 {
                let _ = writeln!(
                    m,
                    "*{left_out} earlier day{} with calls not shown.*\n",
                    if left_out == 1 { "" } else { "s" }
                );
            }
            if let Some(spark_axis) = Axis::over(times.iter().copied(), SPARK_WIDTH) {
                let sp = account_series(&c.calls_per_hour, &spark_axis, MAX_ACCOUNT_COLUMNS - 1);
                m.push_str(&spark_block(&spark_axis, &sp));
            }
        }
    }

    // AssumeRole per day.
    m.push_str("### AssumeRole successes and denials\n\n");
    if c.assume_role.is_empty() {
        m.push_str("No AssumeRole calls in this run.\n\n");
    } else {
        let (day_list, left_out) = days(c.assume_role.iter().map(|p| p.0));
        // Per day: successes, denials, and the hour with the most denials.
        let mut per_day: BTreeMap<i64, DayDenials> = BTreeMap::new();
        for &(t, ok, denied) in &c.assume_role {
            let e = per_day.entry(t.div_euclid(DAY) * DAY).or_default();
            e.0 += ok;
            e.1 += denied;
            if denied > 0 && e.2.is_none_or(|(best, _)| denied > best) {
                e.2 = Some((denied, t));
            }
        }
        m.push_str(
            "| Day (UTC) | Successes | Denials | Most denials in one hour |\n|---|--:|--:|---|\n",
        );
        let (mut tok, mut tden) = (0u64, 0u64);
        for day in &day_list {
            let (ok, den, peak) = per_day.get(day).copied().unwrap_or_default();
            tok += ok;
            tden += den;
            let peak = match peak {
                Some((n, t)) => format!("{} at {}", thousands(n), super::html::hour_of(t)),
                None => "\u{2014}".to_string(),
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {peak} |",
                day_of(*day),
                thousands(ok),
                thousands(den)
            );
        }
        if day_list.len() > 1 {
            let _ = writeln!(
                m,
                "| **Total** | **{}** | **{}** | |",
                thousands(tok),
                thousands(tden)
            );
        }
        m.push('\n');
        if left_out > 0 {
            let _ = writeln!(
                m,
                "*{left_out} earlier day{} with AssumeRole calls not shown.*\n",
                if left_out == 1 { "" } else { "s" }
            );
        }
        if let Some(axis) = Axis::over(c.assume_role.iter().map(|p| p.0), SPARK_WIDTH) {
            let ok = axis.bucket(c.assume_role.iter().map(|p| (p.0, p.1)));
            let den = axis.bucket(c.assume_role.iter().map(|p| (p.0, p.2)));
            m.push_str(&spark_block(
                &axis,
                &[("successes".to_string(), ok), ("denials".to_string(), den)],
            ));
        }
    }
}

fn more(m: &mut String, total: usize) {
    if total > LIST_CAP {
        let _ = writeln!(
            m,
            "\n*and {} more (all of them are in the JSON digest)*",
            thousands((total - LIST_CAP) as u64)
        );
    }
}

fn newcomers(m: &mut String, d: &Digest) {
    let c = &d.charts;
    m.push_str("## New in this run\n\n");
    let _ = writeln!(
        m,
        "### New principals ({})\n",
        thousands(c.new_principals.len() as u64)
    );
    if c.new_principals.is_empty() {
        m.push_str("None.\n\n");
    } else {
        m.push_str("| Principal | First seen (UTC) |\n|---|---|\n");
        for (p, t) in c.new_principals.iter().take(LIST_CAP) {
            let _ = writeln!(m, "| {} | {} |", md(p), md(t));
        }
        more(m, c.new_principals.len());
        m.push('\n');
    }
    let _ = writeln!(
        m,
        "### New countries ({})\n",
        thousands(c.new_countries.len() as u64)
    );
    if c.new_countries.is_empty() {
        m.push_str("None.\n\n");
    } else {
        m.push_str("| Principal | Country | First seen (UTC) |\n|---|---|---|\n");
        for (p, country, t) in c.new_countries.iter().take(LIST_CAP) {
            let _ = writeln!(m, "| {} | {} | {} |", md(p), md(country), md(t));
        }
        more(m, c.new_countries.len());
        m.push('\n');
    }
}

fn tops(m: &mut String, d: &Digest) {
    m.push_str("## Most active\n\n### Top principals\n\n");
    if d.top_principals.is_empty() {
        m.push_str("No events in this run.\n\n");
    } else {
        m.push_str("| Principal | Calls | Errors | Error % |\n|---|--:|--:|--:|\n");
        for (p, calls, errors) in &d.top_principals {
            let pct = if *calls > 0 {
                format!("{:.1}", *errors as f64 * 100.0 / *calls as f64)
            } else {
                "\u{2014}".to_string()
            };
            let _ = writeln!(
                m,
                "| {} | {} | {} | {pct} |",
                md(p),
                thousands(*calls),
                thousands(*errors)
            );
        }
        m.push('\n');
    }
    m.push_str("### Top roles\n\n");
    if d.top_roles.is_empty() {
        m.push_str("No roles assumed in this run.\n\n");
    } else {
        m.push_str("| Role | Assumed | Denied |\n|---|--:|--:|\n");
        for (r, ok, denied) in &d.top_roles {
            let _ = writeln!(
                m,
                "| {} | {} | {} |",
                md(r),
                thousands(*ok),
                thousands(*denied)
            );
        }
        m.push('\n');
    }
}

fn read(m: &mut String, r: &ReadSummary) {
    m.push_str("## What was read\n\n| Read | Count |\n|---|--:|\n");
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
        let _ = writeln!(m, "| {k} | {} |", thousands(v));
    }
    for (reason, n) in &r.files_skipped {
        let _ = writeln!(m, "| Files skipped: {} | {} |", md(reason), thousands(*n));
    }
    m.push_str("\n**Inputs**\n\n");
    if r.inputs.is_empty() {
        m.push_str("None given.\n");
    }
    for i in &r.inputs {
        let _ = writeln!(m, "- {}", code(i));
    }
    m.push_str("\n**Problems**\n\n");
    if r.problems.is_empty() {
        m.push_str("None.\n");
    }
    for p in &r.problems {
        let _ = writeln!(m, "- {}", md(p));
    }
    m.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::tests::{sample, EVIL, T0};

    /// The document with fenced code blocks removed (their content is shown verbatim).
    fn outside_fences(md: &str) -> String {
        let mut out = String::new();
        let mut fence: Option<String> = None;
        for line in md.lines() {
            let ticks: String = line.chars().take_while(|&c| c == '`').collect();
            match &fence {
                None if ticks.len() >= 3 => fence = Some(ticks),
                Some(f) if line.trim_end() == f.as_str() => fence = None,
                Some(_) => {}
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        assert!(fence.is_none(), "unclosed code fence");
        out
    }

    /// Table rows of the section starting at `heading`: cells split on unescaped pipes.
    fn table_rows(md: &str, heading: &str) -> Vec<Vec<String>> {
        let start = md.find(heading).expect(heading);
        md[start..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let mut cells = vec![String::new()];
                let mut chars = l.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        cells.last_mut().unwrap().push(c);
                        if let Some(n) = chars.next() {
                            cells.last_mut().unwrap().push(n);
                        }
                    } else if c == '|' {
                        cells.push(String::new());
                    } else {
                        cells.last_mut().unwrap().push(c);
                    }
                }
                cells
            })
            .collect()
    }

    #[test]
    fn escapes_and_keeps_tables_intact() {
        let out = render(&sample());
        let prose = outside_fences(&out);
        assert!(
            !prose.contains("<script"),
            "raw <script outside code blocks"
        );
        assert!(!prose.contains("<b>"));
        assert!(!prose.contains(EVIL));
        assert!(prose.contains("&lt;script&gt;"));
        // Findings table: header, separator, 3 rows, each with 8 cells (+2 empty edges).
        let rows = table_rows(&out, "## Findings");
        assert_eq!(rows.len(), 5);
        for r in &rows {
            assert_eq!(r.len(), 10, "row {r:?}");
        }
        assert!(rows[2][8].contains("did something \\| odd"));
        assert!(rows[2][1].contains("critical"));
    }

    #[test]
    fn chains_and_commands_fenced() {
        let out = render(&sample());
        // The chain has a ``` line, so its fence is four backticks.
        assert!(out.contains("````text\narn:aws:iam::1:user/<script>"));
        assert!(out.contains("```sh\ntrailhound revoke --role"));
        assert!(out.contains("echo \"<done>\""));
        outside_fences(&out);
        assert!(out.contains("**\u{1f534} 3 new findings: 1 critical, 2 high**"));
    }

    #[test]
    fn chart_tables() {
        let out = render(&sample());
        let rows = table_rows(&out, "### Calls per account");
        // header, separator, 2 days, total.
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert!(rows[0].iter().any(|c| c.contains("acct&lt;&amp;&gt;")));
        let total = rows.last().unwrap();
        assert!(total[1].contains("Total"));
        // Day rows add up to the total column.
        let n = |s: &str| -> u64 { s.replace(['*', ',', ' '], "").parse().unwrap() };
        let day_sum: u64 = rows[2..4].iter().map(|r| n(&r[r.len() - 2])).sum();
        assert_eq!(day_sum, n(&total[total.len() - 2]));
        let all: u64 = sample()
            .charts
            .calls_per_hour
            .values()
            .flatten()
            .map(|p| p.1)
            .sum();
        assert_eq!(day_sum, all);
        let ar = table_rows(&out, "### AssumeRole");
        assert_eq!(ar.len(), 5);
        assert!(ar[2][4].contains("14 at 09:00"), "{ar:?}");
        assert!(out.contains("successes  "));
        assert!(out.contains('█'));
    }

    #[test]
    fn empty_digest_renders() {
        let out = render(&Digest::default());
        assert!(out.contains("Nothing new to look at"));
        assert!(out.contains("No new findings in this run."));
        assert!(out.contains("No events in this run."));
        assert!(out.contains("No AssumeRole calls in this run."));
        outside_fences(&out);
    }

    #[test]
    fn one_hour_and_zero() {
        let mut d = Digest::default();
        d.charts.calls_per_hour.insert("1".into(), vec![(T0, 0)]);
        d.charts.assume_role = vec![(T0, 0, 0)];
        let out = render(&d);
        assert!(out.contains("| 2025-05-20 | 0 | **0** |"), "{out}");
        assert!(out.contains("none"));
        assert!(!out.contains("NaN"));
    }

    #[test]
    fn deterministic() {
        let d = sample();
        assert_eq!(render(&d), render(&d.clone()));
    }

    #[test]
    fn helpers() {
        assert_eq!(md("a|b<c>&d_e*"), "a\\|b&lt;c&gt;&amp;d\\_e\\*");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(sparkline(&[0, 1, 8]), "·▂█");
        assert_eq!(sparkline(&[0, 0]), "··");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
    }
}
