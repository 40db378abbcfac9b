//! `trailhound contain --key K --logs PATH`: arguments, and the runner that reads the logs,
//! builds the chain's plan ([`crate::playbook::contain`]) and prints or applies it; and the
//! rollback of a contain run.

use super::playbook::{
    finish, out, out_json, parse_cutoff, read_logs, AwsArgs, OutputFormat, RollbackArgs,
};
use crate::error::{Error, Exit, Result};
use crate::event::format_iso;
use crate::playbook::audit::{self, CallStatus, Outcome, Record, RunKind};
use crate::playbook::contain::{build, plan_text, role_for, run_text, target_key};
use crate::playbook::exec::{self, Aws};
use crate::playbook::now;
use crate::playbook::plan::ceil_second;
use crate::playbook::text::calls_text;
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `trailhound contain --key KEY --logs PATH...`
#[derive(Debug, Args)]
#[command(
    after_help = "--assume-role takes a template: `{account}` is replaced with each step's \
account, e.g. --assume-role 'arn:aws:iam::{account}:role/IncidentResponse' (a role ARN without it is \
used for every step). Undo every applied step, newest first: trailhound playbook rollback RUN_ID \
[--assume-role TEMPLATE] --apply. Check it held: trailhound verify RUN_ID --logs PATH.\n\n\
Exit codes: 0 planned or applied; 2 usage error, a refused or failed step (the run says which steps \
were applied)."
)]
pub struct ContainArgs {
    /// A key anywhere in the chain: a session key (ASIA...) or the long-term key (AKIA...) that
    /// started it. (`--incident ID` comes with stored incidents.)
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// CloudTrail logs holding the chain: paths, s3://BUCKET[/PREFIX] or cloudtrail://REGION.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub logs: Vec<PathBuf>,
    /// Deny role and user tokens issued before TIME (default: now).
    #[arg(long, value_name = "TIME")]
    pub cutoff: Option<String>,
    /// Quarantine the root long-term key (AWSCompromisedKeyQuarantineV3 on its user) instead of
    /// deactivating it.
    #[arg(long)]
    pub quarantine: bool,
    /// Make the calls. Without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Runs `trailhound contain`.
pub fn run(a: ContainArgs, quiet: bool) -> Result<Exit> {
    let Some((events, graph)) = read_logs(&a.logs, &a.aws, quiet)? else {
        return Err(Error::Usage("give --logs PATH...".into()));
    };
    let cutoff = parse_cutoff(&a.cutoff)?.unwrap_or_else(|| ceil_second(now()));
    // Instance credentials at the root: the instance's region from the logs, for its ARN.
    let region = a.aws.region.clone().or_else(|| {
        let top = graph.ancestors(a.key.trim()).into_iter().next()?;
        let instance = top
            .session_name
            .as_deref()
            .filter(|_| top.is_instance_profile())?;
        crate::cli::playbook::instance_region(&events, &graph, instance)
    });
    let p = build(&graph, &a.key, cutoff, a.quarantine, region, now())?;
    let template = a.aws.assume_role.as_deref();
    if !a.apply {
        match a.format {
            OutputFormat::Json => out_json(&json!({"dry_run": true, "plan": p}))?,
            OutputFormat::Text => out(&format!(
                "{}\nDRY RUN: nothing was changed. Add --apply to make these calls.\n",
                plan_text(&p, template)
            ))?,
        }
        return Ok(Exit::Ok);
    }
    if p.steps.is_empty() {
        return Err(Error::Usage(format!(
            "nothing in the chain of {} can be contained with IAM",
            p.key
        )));
    }
    let audit_log = audit::resolve(a.aws.audit_log.as_deref())?;
    let run_id = audit::new_run_id(now());
    let rec = crate::playbook::contain::apply(&p, &a.aws.connection(), &audit_log, &run_id)?;
    match a.format {
        OutputFormat::Json => {
            out_json(&json!({"dry_run": false, "plan": p, "run": rec, "audit_log": audit_log}))?
        }
        OutputFormat::Text => out(&run_text(&rec, &audit_log, &a.aws.words()))?,
    }
    finish(&rec)
}

/// `playbook rollback RUN_ID` of a contain run: every applied step, newest first.
pub fn rollback(a: &RollbackArgs, record: &Record, audit_log: &Path) -> Result<Exit> {
    let todo: Vec<(usize, &Record)> = record
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.calls.iter().any(|c| c.status == CallStatus::Ok))
        .rev()
        .collect();
    if todo.is_empty() {
        return Err(Error::Usage(format!(
            "run {} changed nothing: there is nothing to roll back",
            record.run_id
        )));
    }
    let account_of = |s: &Record| {
        s.caller
            .as_ref()
            .and_then(|c| c.account.clone())
            .or(s.account.clone())
    };
    let role_of = |s: &Record| -> Result<Option<String>> {
        match &a.aws.assume_role {
            Some(t) => role_for(Some(t), account_of(s).as_deref()),
            None => Ok(s.assumed_role.clone()),
        }
    };
    if !a.apply {
        match a.format {
            OutputFormat::Json => {
                let mut steps = Vec::new();
                for (i, s) in &todo {
                    steps.push(json!({"step": i + 1, "account": account_of(s), "assume_role": role_of(s)?, "calls": exec::rollback_calls(s)?}));
                }
                out_json(&json!({"dry_run": true, "rolls_back": record.run_id, "steps": steps}))?
            }
            OutputFormat::Text => {
                let mut t = format!(
                    "Rollback of run {} (contain {}, {}), newest step first:\n",
                    record.run_id,
                    target_key(record),
                    record.started
                );
                for (i, s) in &todo {
                    t.push_str(&format!(
                        "\nStep {} ({} {}) in account {} as {}:\n",
                        i + 1,
                        s.playbook,
                        s.target.describe(),
                        account_of(s).as_deref().unwrap_or("?"),
                        role_of(s)?.as_deref().unwrap_or("the current credentials")
                    ));
                    t.push_str(&calls_text(&exec::rollback_calls(s)?));
                }
                t.push_str("\nDRY RUN: nothing was changed. Add --apply to make these calls.\n");
                out(&t)?;
            }
        }
        return Ok(Exit::Ok);
    }
    let run_id = audit::new_run_id(now());
    let mut rec = Record::new(&run_id, RunKind::Rollback, "contain", record.target.clone());
    rec.rolls_back = Some(record.run_id.clone());
    rec.started = format_iso(now());
    rec.root_principal = record.root_principal.clone();
    rec.assumed_role = a.aws.assume_role.clone();
    let base = a.aws.connection();
    rec.endpoint_url = base.endpoint_url.clone();
    // Every step's role first: an unfillable template stops the rollback before any change.
    let roles = todo
        .iter()
        .map(|(_, s)| role_of(s))
        .collect::<Result<Vec<_>>>()?;
    let mut clients: BTreeMap<Option<String>, Aws> = BTreeMap::new();
    let mut failed = None;
    for ((i, s), role) in todo.iter().zip(roles) {
        if !clients.contains_key(&role) {
            let mut c = base.clone();
            c.assume_role = role.clone();
            match Aws::connect(&c, &format!("trailhound-{run_id}")) {
                Ok(client) => {
                    clients.insert(role.clone(), client);
                }
                Err(e) => {
                    failed = Some(format!("step {}: {e}", i + 1));
                    break;
                }
            }
        }
        let r = match exec::rollback_step(
            &clients[&role],
            s,
            a.force,
            &format!("{run_id}/{}", i + 1),
        ) {
            Ok(r) => r,
            Err(e) => {
                failed = Some(format!("step {}: {e}", i + 1));
                break;
            }
        };
        let ok = r.outcome == Outcome::Applied;
        let e = r.error.clone().unwrap_or_default();
        rec.steps.push(r);
        if !ok {
            failed = Some(format!("step {}: {e}", i + 1));
            break;
        }
    }
    let done = rec
        .steps
        .iter()
        .filter(|r| r.outcome == Outcome::Applied)
        .count();
    rec.outcome = match (&failed, done) {
        (None, _) => Outcome::Applied,
        (Some(_), 0) => Outcome::Failed,
        _ => Outcome::Partial,
    };
    if let Some(f) = failed {
        rec.error = Some(format!(
            "{f}; steps restored: {done} of {}; the rest were not touched",
            todo.len()
        ));
    }
    rec.finished = format_iso(now());
    audit::append(audit_log, &rec)?;
    match a.format {
        OutputFormat::Json => {
            out_json(&json!({"dry_run": false, "run": rec, "audit_log": audit_log}))?
        }
        OutputFormat::Text => out(&run_text(&rec, audit_log, &a.aws.words()))?,
    }
    finish(&rec)
}
