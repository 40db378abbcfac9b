//! `trailhound verify RUN_ID --logs PATH`: arguments, and the runner that reads the audit record
//! and the logs, asks [`crate::playbook::verify::judge`] and prints the verdict.

use super::playbook::{out, out_json, OutputFormat};
use crate::error::{Error, Exit, Result};
use crate::event::format_iso;
use crate::graph::Graph;
use crate::playbook::audit;
use crate::playbook::verify::{judge, parse_duration, verdict_text};
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;

/// `trailhound verify RUN_ID --logs PATH...`
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 held (no call with cut-off credentials succeeded after the \
cutoff plus the grace, and the root principal got no new session after the cutoff); 1 NOT held; \
2 usage error, the run cut nothing off, or the logs end before the cutoff."
)]
pub struct VerifyArgs {
    /// The run id of an applied playbook run or `contain` run.
    pub run_id: String,
    /// CloudTrail logs delivered after the cutoff: paths, s3://BUCKET[/PREFIX], cloudtrail://REGION.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub logs: Vec<PathBuf>,
    /// Propagation grace: calls that still succeed this long after the cutoff are listed but do
    /// not count against the containment (IAM changes take a few minutes to reach every endpoint).
    /// E.g. 300s, 5m, 1h.
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub grace: String,
    /// The audit log (default: $XDG_DATA_HOME/trailhound/audit.jsonl or ~/.local/share/trailhound/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Runs `trailhound verify`.
pub fn run(a: VerifyArgs, quiet: bool) -> Result<Exit> {
    let grace = parse_duration(&a.grace)?;
    let audit_log = audit::resolve(a.audit_log.as_deref())?;
    let record = audit::find(&audit_log, &a.run_id)?;
    if record.kind != audit::RunKind::Apply {
        return Err(Error::Usage(format!(
            "run {} is a rollback: verify the run that applied the containment",
            record.run_id
        )));
    }
    let input = crate::cli::args::InputArgs {
        paths: a.logs.clone(),
        ..Default::default()
    };
    let data = crate::cli::read(&input, quiet)?;
    let graph = Graph::build(&data.events);
    let v = judge(&record, &data.events, &graph, grace);
    if v.cuts.is_empty() {
        return Err(Error::Usage(format!(
            "run {} cut nothing off that the logs can show (no revoke, deactivation or instance policy applied){}",
            record.run_id,
            if v.notes.is_empty() {
                String::new()
            } else {
                format!(": {}", v.notes.join("; "))
            }
        )));
    }
    let earliest = v.cuts.iter().map(|j| j.cut.cutoff).min().unwrap_or(0);
    let end = data.events.iter().map(|e| e.event_time).max().unwrap_or(0);
    if end < earliest {
        return Err(Error::Usage(format!(
            "the logs end at {}, before the cutoff {}: give logs delivered after it",
            format_iso(end),
            format_iso(earliest)
        )));
    }
    match a.format {
        OutputFormat::Json => out_json(&serde_json::to_value(&v).unwrap_or(Value::Null))?,
        OutputFormat::Text => out(&verdict_text(&v))?,
    }
    Ok(if v.held { Exit::Ok } else { Exit::Findings })
}
