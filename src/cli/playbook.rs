//! `trailhound playbook list|show|lint|run|rollback` and `trailhound revoke`: arguments, text and
//! JSON output. Plans are printed (dry run) unless `--apply` is given; applied runs print each
//! call's result and the run id that `playbook rollback` takes.

use crate::cli::args::InputArgs;
use crate::error::{Error, Exit, Result};
use crate::event::{format_iso, time::parse_user_time, Event, Millis};
use crate::graph::{Graph, Session};
use crate::playbook::audit::{self, CallStatus, Outcome, Record};
use crate::playbook::exec::{self, Aws, Connection};
use crate::playbook::now;
use crate::playbook::plan::{self, shell_quote, Impact, Plan, Request, SessionRow, Target};
use crate::playbook::respond::session_user;
use crate::playbook::spec::{Playbook, Problem};
use crate::playbook::text::{call_line, calls_text, indent, state_text};
use crate::report::{table, Sink};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Text for people, JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// Where user playbooks are.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// Also load the playbooks (*.toml) in DIR; one named like a shipped playbook replaces it.
    #[arg(long, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
}

/// Where and as whom to act, and where the audit log is.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Send AWS calls to URL (an emulator, a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Region for the AWS clients, and the instance's region for contain-instance-credentials.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files (default: AWS_PROFILE, or the environment's keys).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Act in another account: assume this role first (e.g. your incident-response role there).
    #[arg(long, value_name = "ARN")]
    pub assume_role: Option<String>,
    /// External id the role's trust policy asks for.
    #[arg(long, value_name = "X", requires = "assume_role")]
    pub external_id: Option<String>,
    /// The audit log (default: $XDG_DATA_HOME/trailhound/audit.jsonl or ~/.local/share/trailhound/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

impl AwsArgs {
    /// The connection, with the endpoint resolved (so the audit record names it).
    pub(crate) fn connection(&self) -> Connection {
        let mut c = Connection {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
            assume_role: self.assume_role.clone(),
            external_id: self.external_id.clone(),
        };
        c.endpoint_url = c.endpoint();
        c
    }

    /// The same options as command-line words (for the "undo" hint).
    pub(crate) fn words(&self) -> String {
        let mut w = String::new();
        if let Some(u) = &self.endpoint_url {
            w.push_str(&format!(" --endpoint-url {}", shell_quote(u)));
        }
        if let Some(p) = &self.profile {
            w.push_str(&format!(" --profile {}", shell_quote(p)));
        }
        if let Some(r) = &self.assume_role {
            w.push_str(&format!(" --assume-role {}", shell_quote(r)));
        }
        if self.external_id.is_some() {
            w.push_str(" --external-id ...");
        }
        if let Some(a) = &self.audit_log {
            w.push_str(&format!(
                " --audit-log {}",
                shell_quote(&a.display().to_string())
            ));
        }
        w
    }
}

/// `trailhound playbook ...`
#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// List the playbooks: the shipped ones and those in --playbooks DIR.
    List {
        #[command(flatten)]
        src: SourceArgs,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// What a playbook does, what it stops and what it does not stop.
    Show {
        /// A playbook name, or the path of a playbook file.
        name: String,
        #[command(flatten)]
        src: SourceArgs,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Check playbook files (default: the shipped ones and --playbooks DIR); lists every problem
    /// with file, line and key. Exit code 2 when any file has a problem.
    Lint {
        /// Playbook files, or folders of them.
        files: Vec<PathBuf>,
        #[command(flatten)]
        src: SourceArgs,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Plan a playbook on a target (dry run: prints the exact calls and policy documents), or run
    /// it with --apply.
    Run(Box<RunArgs>),
    /// Restore the state before an applied run (dry run unless --apply).
    Rollback(RollbackArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).multiple(true).args(["role", "user", "key", "instance"]))]
pub struct RunArgs {
    /// The playbook: a name from `trailhound playbook list`, or a file.
    pub name: String,
    /// Role ARN (or name) to act on.
    #[arg(long, value_name = "ARN")]
    pub role: Option<String>,
    /// IAM user name (or ARN).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Access key id (AKIA...).
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
    /// EC2 instance id (i-...).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,
    /// The source identity to deny (deny-source-identity).
    #[arg(long, value_name = "S")]
    pub source_identity: Option<String>,
    /// Deny tokens issued before TIME (ISO 8601; default: now).
    #[arg(long, value_name = "TIME")]
    pub cutoff: Option<String>,
    /// CloudTrail logs (paths, s3://BUCKET[/PREFIX], cloudtrail://REGION): fill in what the
    /// target leaves out and list the sessions cut off and spared.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub logs: Vec<PathBuf>,
    /// restrict-role-trust: a network (CIDR) that may assume the role; repeat or list several.
    #[arg(long, value_name = "CIDR", num_args = 1..)]
    pub allow_network: Vec<String>,
    /// restrict-role-trust: a VPC (vpc-...) that may assume the role (through a VPC endpoint).
    #[arg(long, value_name = "VPC", num_args = 1..)]
    pub allow_vpc: Vec<String>,
    /// recreate-role: the role gets a new role id, which cannot be undone; --apply needs this.
    #[arg(long)]
    pub confirm_new_role_id: bool,
    /// Make the calls. Without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub src: SourceArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run id an applied run printed (also in the audit log).
    pub run_id: String,
    /// Make the calls. Without it the restoring calls are printed and nothing is changed.
    #[arg(long)]
    pub apply: bool,
    /// Restore even if the state changed since the run (that change is undone too).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `trailhound revoke --key ASIA... --logs PATH...`
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The key to cut off: a temporary key (ASIA...: its role's sessions are revoked) or a
    /// long-term key (AKIA...: it is deactivated).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// CloudTrail logs holding the key's session (its issuing call or its calls): paths,
    /// s3://BUCKET[/PREFIX] or cloudtrail://REGION.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub logs: Vec<PathBuf>,
    /// Deny tokens issued before TIME (default: now); must be after the key was issued.
    #[arg(long, value_name = "TIME")]
    pub cutoff: Option<String>,
    /// Make the calls. Without it nothing is changed.
    #[arg(long)]
    pub apply: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

pub(crate) fn out(text: &str) -> Result<()> {
    Sink::new(None).write_text(text)
}

pub(crate) fn out_json(v: &serde_json::Value) -> Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::Other(e.to_string()))?;
    out(&(s + "\n"))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Runs `trailhound playbook ...`.
pub fn run_playbook(cmd: PlaybookCommand, quiet: bool) -> Result<Exit> {
    match cmd {
        PlaybookCommand::List { src, format } => {
            let (all, problems) = crate::playbook::load_all(src.playbooks.as_deref());
            for p in &problems {
                eprintln!("trailhound: warning: {p}");
            }
            match format {
                OutputFormat::Json => out_json(&json!({ "playbooks": all, "problems": problems }))?,
                OutputFormat::Text => {
                    let rows: Vec<Vec<String>> = all
                        .iter()
                        .map(|p| {
                            vec![
                                p.name.clone(),
                                format!("{} {}", p.target.flag(), target_value(p)),
                                p.summary.clone(),
                            ]
                        })
                        .collect();
                    out(&table::render(
                        &["playbook", "target", "what it does"],
                        &rows,
                        110,
                    ))?;
                }
            }
            Ok(Exit::Ok)
        }
        PlaybookCommand::Show { name, src, format } => {
            let p = crate::playbook::find(&name, src.playbooks.as_deref())?;
            match format {
                OutputFormat::Json => out_json(&to_json(&p))?,
                OutputFormat::Text => out(&show_text(&p))?,
            }
            Ok(Exit::Ok)
        }
        PlaybookCommand::Lint { files, src, format } => {
            lint(&files, src.playbooks.as_deref(), format)
        }
        PlaybookCommand::Run(a) => run(*a, quiet),
        PlaybookCommand::Rollback(a) => rollback(a),
    }
}

fn target_value(p: &Playbook) -> &'static str {
    match p.target {
        crate::playbook::spec::TargetKind::Role => "ARN",
        crate::playbook::spec::TargetKind::User => "NAME",
        crate::playbook::spec::TargetKind::Key => "AKIA...",
        crate::playbook::spec::TargetKind::Instance => "i-...",
    }
}

fn show_text(p: &Playbook) -> String {
    let mut t = format!("{}  ({})\n  {}\n", p.name, p.source, p.summary);
    t.push_str(&format!(
        "  target: {} ({} {})   action: {}",
        p.target,
        p.target.flag(),
        target_value(p),
        p.action.name()
    ));
    if let Some(n) = &p.policy_name {
        t.push_str(&format!("   inline policy: {n}"));
    }
    t.push_str("\n\n");
    t.push_str(p.description.trim());
    t.push_str("\n\nStops:\n");
    for s in &p.stops {
        t.push_str(&format!("  - {s}\n"));
    }
    t.push_str("Does not stop:\n");
    for s in &p.does_not_stop {
        t.push_str(&format!("  - {s}\n"));
    }
    let example = match p.action {
        crate::playbook::spec::ActionKind::DenyInstance => {
            "--instance i-0123456789abcdef0 --logs PATH".to_string()
        }
        crate::playbook::spec::ActionKind::DenySourceIdentity => {
            "--role arn:aws:iam::123456789012:role/NAME --source-identity alice@example.com"
                .to_string()
        }
        crate::playbook::spec::ActionKind::RestrictTrust => {
            "--role arn:aws:iam::123456789012:role/NAME --allow-network 203.0.113.0/24 [--allow-vpc vpc-0123abcd]"
                .to_string()
        }
        crate::playbook::spec::ActionKind::RecreateRole => {
            "--role arn:aws:iam::123456789012:role/NAME (then --apply --confirm-new-role-id)"
                .to_string()
        }
        _ => format!(
            "{} {}",
            p.target.flag(),
            match p.target {
                crate::playbook::spec::TargetKind::Role => "arn:aws:iam::123456789012:role/NAME",
                crate::playbook::spec::TargetKind::User => "NAME",
                _ => "AKIAIOSFODNN7EXAMPLE",
            }
        ),
    };
    t.push_str(&format!(
        "\nDry run: trailhound playbook run {} {example}\nThen add --apply; undo with trailhound playbook rollback RUN_ID --apply\n",
        p.name
    ));
    t
}

fn lint(files: &[PathBuf], dir: Option<&Path>, format: OutputFormat) -> Result<Exit> {
    let mut checked: Vec<(String, std::result::Result<String, Vec<Problem>>)> = Vec::new();
    if files.is_empty() {
        for (name, text) in crate::playbook::BUILTIN {
            let file = format!("builtin:{name}");
            checked.push((
                file.clone(),
                crate::playbook::spec::parse(text, &file, Some(name)).map(|p| p.name),
            ));
        }
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for f in files.iter().map(PathBuf::as_path).chain(dir) {
        match crate::playbook::files_in(f) {
            Ok(v) => paths.extend(v),
            Err(e) => checked.push((
                f.display().to_string(),
                Err(vec![Problem {
                    file: f.display().to_string(),
                    line: None,
                    key: None,
                    message: format!("cannot read: {e}"),
                }]),
            )),
        }
    }
    for p in paths {
        checked.push((
            p.display().to_string(),
            crate::playbook::load_file(&p).map(|p| p.name),
        ));
    }
    let problems: Vec<&Problem> = checked
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .flatten()
        .collect();
    let bad_files = checked.iter().filter(|(_, r)| r.is_err()).count();
    match format {
        OutputFormat::Json => out_json(&json!({
            "files": checked.iter().map(|(f, r)| json!({"file": f, "ok": r.is_ok(), "name": r.as_ref().ok()})).collect::<Vec<_>>(),
            "problems": problems,
        }))?,
        OutputFormat::Text => {
            let mut t = String::new();
            for (f, r) in &checked {
                match r {
                    Ok(name) => t.push_str(&format!("ok       {f} ({name})\n")),
                    Err(probs) => {
                        for p in probs {
                            t.push_str(&format!("problem  {p}\n"));
                        }
                    }
                }
            }
            t.push_str(&format!(
                "{} file(s), {} with problems, {} problem(s)\n",
                checked.len(),
                bad_files,
                problems.len()
            ));
            out(&t)?;
        }
    }
    if problems.is_empty() {
        Ok(Exit::Ok)
    } else {
        Err(Error::Usage(format!(
            "{} problem(s) in {bad_files} playbook file(s)",
            problems.len()
        )))
    }
}

pub(crate) fn parse_cutoff(s: &Option<String>) -> Result<Option<Millis>> {
    s.as_deref()
        .map(parse_user_time)
        .transpose()
        .map_err(|e| Error::Usage(format!("--cutoff: {e}")))
}

/// Reads `--logs` (local paths, s3://, cloudtrail://), reaching AWS with the command's own
/// `--endpoint-url` and `--profile`.
pub(crate) fn read_logs(
    logs: &[PathBuf],
    aws: &AwsArgs,
    quiet: bool,
) -> Result<Option<(Vec<Event>, Graph)>> {
    if logs.is_empty() {
        return Ok(None);
    }
    let mut input = InputArgs {
        paths: logs.to_vec(),
        ..Default::default()
    };
    input.remote.endpoint_url = aws.endpoint_url.clone();
    input.remote.profile = aws.profile.clone();
    input.remote.concurrency = 32;
    let data = crate::cli::read(&input, quiet)?;
    let graph = Graph::build(&data.events);
    Ok(Some((data.events, graph)))
}

/// The region an instance's credentials were issued or used in, from the logs.
pub(crate) fn instance_region(events: &[Event], graph: &Graph, instance: &str) -> Option<String> {
    let keys: Vec<&str> = graph
        .sessions
        .iter()
        .filter(|s| s.session_name.as_deref() == Some(instance))
        .map(|s| &*s.access_key_id)
        .collect();
    let issuing = events.iter().find(|e| {
        e.sts()
            .issued_access_key_id
            .as_deref()
            .is_some_and(|k| keys.contains(&k))
            && e.aws_region.is_some()
    });
    issuing
        .or_else(|| {
            events.iter().find(|e| {
                e.access_key_id
                    .as_deref()
                    .is_some_and(|k| keys.contains(&k))
                    && e.aws_region.is_some()
            })
        })
        .and_then(|e| e.aws_region.as_deref().map(str::to_string))
}

fn run(a: RunArgs, quiet: bool) -> Result<Exit> {
    let pb = crate::playbook::find(&a.name, a.src.playbooks.as_deref())?;
    let logs = read_logs(&a.logs, &a.aws, quiet)?;
    let mut region = a.aws.region.clone();
    if region.is_none() {
        if let (Some(i), Some((events, g))) = (&a.instance, &logs) {
            region = instance_region(events, g, i);
        }
    }
    let req = Request {
        role: a.role.clone(),
        user: a.user.clone(),
        key: a.key.clone(),
        instance: a.instance.clone(),
        source_identity: a.source_identity.clone(),
        cutoff: parse_cutoff(&a.cutoff)?,
        region,
        highlight_key: None,
        now: now(),
        allow_networks: a.allow_network.clone(),
        allow_vpcs: a.allow_vpc.clone(),
    };
    let mut plan = plan::build(&pb, &req, logs.as_ref().map(|(_, g)| g))?;
    if a.apply {
        match &mut plan.derive {
            Some(crate::playbook::derive::Derive::RecreateRole) if !a.confirm_new_role_id => {
                return Err(Error::Usage(format!(
                    "{}: the role gets a new role id and the old one can never come back (rollback is \
refused): run the dry run, read the plan, then add --confirm-new-role-id to --apply",
                    pb.name
                )))
            }
            Some(crate::playbook::derive::Derive::RotateExternalId { new_id }) => {
                *new_id = Some(crate::playbook::derive::random_external_id()?);
            }
            _ => {}
        }
    }
    execute(&plan, a.apply, &a.aws, a.format, None)
}

/// Prints the plan (dry run) or applies it and prints the run.
fn execute(
    plan: &Plan,
    apply: bool,
    aws: &AwsArgs,
    format: OutputFormat,
    preface: Option<(String, serde_json::Value)>,
) -> Result<Exit> {
    let (pre_text, pre_json) = preface.unwrap_or_default();
    if !apply {
        match format {
            OutputFormat::Json => {
                let mut v = json!({"dry_run": true, "plan": plan});
                if !pre_json.is_null() {
                    v["key"] = pre_json;
                }
                out_json(&v)?
            }
            OutputFormat::Text => out(&format!(
                "{pre_text}{}\nDRY RUN: nothing was changed. Add --apply to make these calls.\n",
                plan_text(plan)
            ))?,
        }
        return Ok(Exit::Ok);
    }
    let audit_log = audit::resolve(aws.audit_log.as_deref())?;
    let conn = aws.connection();
    let run_id = audit::new_run_id(now());
    // The run id is the assumed-role session name: CloudTrail then ties each call to its record.
    let client = Aws::connect(&conn, &format!("trailhound-{run_id}"))?;
    let record = exec::apply(&client, plan, &audit_log, &run_id)?;
    // rotate-external-id: the new id, shown once here and nowhere else.
    let new_id = match &plan.derive {
        Some(crate::playbook::derive::Derive::RotateExternalId { new_id: Some(id) })
            if record.calls.iter().any(|c| c.status == CallStatus::Ok) =>
        {
            Some(id.clone())
        }
        _ => None,
    };
    match format {
        OutputFormat::Json => {
            let mut v =
                json!({"dry_run": false, "plan": plan, "run": record, "audit_log": audit_log});
            if !pre_json.is_null() {
                v["key"] = pre_json;
            }
            if let Some(id) = &new_id {
                v["new_external_id"] = json!(id);
            }
            out_json(&v)?
        }
        OutputFormat::Text => {
            let mut t = format!("{pre_text}{}", run_text(&record, &audit_log, &aws.words()));
            if let Some(id) = &new_id {
                t.push_str(&format!(
                    "\nNEW EXTERNAL ID (shown this once, stored nowhere; give it to the third party over a trusted channel):\n  {id}\n"
                ));
            }
            out(&t)?
        }
    }
    finish(&record)
}

pub(crate) fn finish(record: &Record) -> Result<Exit> {
    match record.outcome {
        Outcome::Applied => Ok(Exit::Ok),
        Outcome::Refused => Err(Error::Usage(format!(
            "run {} refused: {}",
            record.run_id,
            record.error.as_deref().unwrap_or("")
        ))),
        _ => Err(Error::Other(format!(
            "run {} {}: {}",
            record.run_id,
            if record.outcome == Outcome::Partial {
                "partly applied"
            } else {
                "failed"
            },
            record.error.as_deref().unwrap_or("")
        ))),
    }
}

fn rollback(a: RollbackArgs) -> Result<Exit> {
    let audit_log = audit::resolve(a.aws.audit_log.as_deref())?;
    let record = audit::find(&audit_log, &a.run_id)?;
    if !record.steps.is_empty() {
        return super::contain::rollback(&a, &record, &audit_log);
    }
    let calls = exec::rollback_calls(&record)?;
    if !a.apply {
        match a.format {
            OutputFormat::Json => {
                out_json(&json!({"dry_run": true, "rolls_back": record.run_id, "calls": calls}))?
            }
            OutputFormat::Text => {
                let mut t = format!(
                    "Rollback of run {} ({} on {}, {}):\n",
                    record.run_id,
                    record.playbook,
                    record.target.describe(),
                    record.started
                );
                if calls.is_empty() {
                    t.push_str("  the run changed nothing that needs restoring\n");
                }
                t.push_str(&calls_text(&calls));
                t.push_str("\nDRY RUN: nothing was changed. Add --apply to make these calls.\n");
                out(&t)?;
            }
        }
        return Ok(Exit::Ok);
    }
    if calls.is_empty() {
        out(&format!(
            "Run {} changed nothing that needs restoring: nothing to do.\n",
            record.run_id
        ))?;
        return Ok(Exit::Ok);
    }
    let run_id = audit::new_run_id(now());
    let client = Aws::connect(&a.aws.connection(), &format!("trailhound-{run_id}"))?;
    let rec = exec::rollback(&client, &record, a.force, &audit_log, &run_id)?;
    match a.format {
        OutputFormat::Json => {
            out_json(&json!({"dry_run": false, "run": rec, "audit_log": audit_log}))?
        }
        OutputFormat::Text => out(&run_text(&rec, &audit_log, &a.aws.words()))?,
    }
    finish(&rec)
}

/// Runs `trailhound revoke --key KEY --logs PATH...`.
pub fn run_revoke(a: RevokeArgs, quiet: bool) -> Result<Exit> {
    let key = a.key.trim().to_string();
    if !plan::valid_key_id(&key) {
        return Err(Error::Usage(format!(
            "`{key}` is not an access key id (AKIA... or ASIA...)"
        )));
    }
    let Some((events, graph)) = read_logs(&a.logs, &a.aws, quiet)? else {
        return Err(Error::Usage("give --logs PATH...".into()));
    };
    let cutoff = parse_cutoff(&a.cutoff)?;
    let (pb, req, text, meta) = if key.starts_with("AKIA") {
        if cutoff.is_some() {
            return Err(Error::Usage(format!(
                "{key} is a long-term key: it is deactivated, there is no cutoff"
            )));
        }
        let user = events
            .iter()
            .find(|e| {
                e.access_key_id.as_deref() == Some(key.as_str())
                    && e.identity_type.as_deref() == Some("IAMUser")
            })
            .and_then(|e| e.principal_arn.as_deref().map(str::to_string));
        let text = match &user {
            Some(u) => format!("Key {key} is a long-term access key of {u}.\n\n"),
            None => format!("Key {key} is a long-term access key; its user is not in the logs (looked up at apply time).\n\n"),
        };
        let req = Request {
            key: Some(key.clone()),
            user: user.clone(),
            highlight_key: Some(key.clone()),
            now: now(),
            ..Request::default()
        };
        (
            crate::playbook::find("deactivate-access-key", None)?,
            req,
            text,
            json!({"access_key_id": key, "user": user}),
        )
    } else {
        let s = graph.get(&key).ok_or_else(|| {
            Error::Usage(format!(
                "key {key} is not in the logs (neither issued nor used there): give its role with \
`trailhound playbook run revoke-role-sessions --role ARN`"
            ))
        })?;
        let cut = cutoff.unwrap_or_else(|| plan::ceil_second(now()));
        if let Some(t) = s.issued_at {
            if cut <= t {
                return Err(Error::Usage(format!(
                    "--cutoff {} is not after {key} was issued ({}): it would not deny this key; give a later cutoff or leave it out (now)",
                    format_iso(cut),
                    format_iso(t)
                )));
            }
        }
        let mut text = describe_session(s);
        let mut meta = to_json(s);
        let upstream = upstream(&graph, &key, &a.logs);
        if !upstream.is_empty() {
            text.push_str("The chain above it (not touched by this plan):\n");
            for u in &upstream {
                text.push_str(&format!(
                    "  {}: {}\n    {}\n",
                    u["access_key_id"].as_str().unwrap_or(""),
                    u["what"].as_str().unwrap_or(""),
                    u["command"].as_str().unwrap_or("")
                ));
            }
            text.push('\n');
        }
        meta["upstream"] = json!(upstream);
        let base = Request {
            cutoff: Some(cut),
            highlight_key: Some(key.clone()),
            now: now(),
            ..Request::default()
        };
        if let Some(role) = s.role_arn.as_deref() {
            let req = Request {
                role: Some(role.to_string()),
                ..base
            };
            (
                crate::playbook::find("revoke-role-sessions", None)?,
                req,
                text,
                meta,
            )
        } else if let Some(user) = session_user(s) {
            let req = Request {
                user: Some(user),
                ..base
            };
            (
                crate::playbook::find("revoke-user-sessions", None)?,
                req,
                text,
                meta,
            )
        } else {
            return Err(Error::Usage(format!(
                "{key} belongs to no role or IAM user in the logs ({}): nothing IAM can revoke it with",
                s.root_principal.as_deref().or(s.caller_arn.as_deref()).unwrap_or("origin unknown")
            )));
        }
    };
    let plan = plan::build(&pb, &req, Some(&graph))?;
    execute(&plan, a.apply, &a.aws, a.format, Some((text, meta)))
}

/// The keys above `key` in its chain (nearest first), each with what it is and the command that
/// cuts it off: a session's own revoke, and at the top the long-term key that started the chain.
fn upstream(graph: &Graph, key: &str, logs: &[PathBuf]) -> Vec<serde_json::Value> {
    let logs: Vec<String> = logs
        .iter()
        .map(|p| shell_quote(&p.display().to_string()))
        .collect();
    let cmd = |k: &str| format!("trailhound revoke --key {k} --logs {}", logs.join(" "));
    let chain = graph.ancestors(key);
    let mut out = Vec::new();
    for s in chain.iter().rev().skip(1) {
        let what = match (&s.role_arn, session_user(s)) {
            (Some(r), _) => format!(
                "session {} of role {r}",
                s.session_name.as_deref().unwrap_or("?")
            ),
            (None, Some(u)) => format!(
                "{} credentials of {u}",
                s.issued_by_api.as_deref().unwrap_or("temporary")
            ),
            (None, None) => "temporary credentials".to_string(),
        };
        out.push(json!({"access_key_id": &*s.access_key_id, "what": what, "command": cmd(&s.access_key_id)}));
    }
    if let Some(top) = chain.first() {
        if let Some(k) = top
            .caller_access_key_id
            .as_deref()
            .filter(|k| k.starts_with("AKIA"))
        {
            let who = top.caller_arn.as_deref().unwrap_or("an IAM user");
            out.push(json!({"access_key_id": k, "what": format!("long-term key of {who}, which started the chain"), "command": cmd(k)}));
        }
    }
    out
}

fn describe_session(s: &Session) -> String {
    let o = |v: &Option<crate::event::Text>| v.as_deref().unwrap_or("?").to_string();
    let mut t = format!("Key {} is a session of ", s.access_key_id);
    match &s.role_arn {
        Some(r) => t.push_str(&format!("role {r}")),
        None => t.push_str(&format!(
            "user {}",
            session_user(s).unwrap_or_else(|| "?".into())
        )),
    }
    if let Some(a) = &s.account {
        t.push_str(&format!(" in account {a}"));
    }
    t.push_str(".\n");
    t.push_str(&format!(
        "  issued {} by {} to {}, session {}, chain depth {}, root principal {}{}\n",
        s.issued_at.map_or("(not in the logs)".into(), format_iso),
        o(&s.issued_by_api),
        o(&s.caller_arn),
        o(&s.session_name),
        s.chain_depth,
        s.root_principal.as_deref().unwrap_or("(unknown)"),
        s.source_identity
            .as_deref()
            .map_or(String::new(), |x| format!(", source identity {x}"))
    ));
    t.push_str(&format!(
        "  {} calls, last used {}, from {}\n\n",
        s.calls,
        s.last_used.map_or("-".into(), format_iso),
        if s.source_ips.is_empty() {
            "-".to_string()
        } else {
            s.source_ips
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    t
}

/// The plan for people.
pub fn plan_text(p: &Plan) -> String {
    let mut t = format!("Plan: {}\n  {}\n", p.playbook, p.summary);
    t.push_str(&format!("  target   {}\n", p.target.describe()));
    if let Some(a) = &p.account {
        t.push_str(&format!("  account  {a}\n"));
    }
    if let Some(c) = &p.cutoff {
        t.push_str(&format!(
            "  cutoff   {c} (tokens issued before it are denied)\n"
        ));
    }
    if let Some(i) = &p.instance_arn {
        t.push_str(&format!("  instance {i}\n"));
    }
    if let Some(s) = &p.source_identity {
        t.push_str(&format!("  source identity {s}\n"));
    }
    t.push_str("\nChecks before any change:\n");
    for c in &p.checks {
        t.push_str(&format!("  {c}\n"));
    }
    t.push_str("State read before and after, kept in the audit record for rollback:\n");
    for r in &p.resources {
        t.push_str(&format!("  {}\n", r.read_call()));
    }
    t.push_str("\nCalls:\n");
    t.push_str(&calls_text(&p.calls));
    t.push_str("\nStops:\n");
    for s in &p.stops {
        t.push_str(&format!("  - {s}\n"));
    }
    t.push_str("Does not stop:\n");
    for s in &p.does_not_stop {
        t.push_str(&format!("  - {s}\n"));
    }
    if !p.notes.is_empty() {
        t.push_str("Notes:\n");
        for s in &p.notes {
            t.push_str(&format!("  - {s}\n"));
        }
    }
    if let Some(n) = &p.no_rollback {
        t.push_str(&format!("NO ROLLBACK: {n}\n"));
    }
    if let Some(imp) = &p.sessions {
        t.push_str(&impact_text(imp, matches!(p.target, Target::User { .. })));
    }
    t
}

fn session_rows(rows: &[SessionRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            vec![
                format!("{}{}", r.access_key_id, if r.target { " *" } else { "" }),
                o(&r.issued_at),
                o(&r.expires_at),
                o(&r.last_used),
                r.role_arn
                    .as_deref()
                    .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
                    .unwrap_or_default(),
                o(&r.session_name),
                o(&r.source_identity),
                r.calls.to_string(),
                r.why.clone(),
            ]
        })
        .collect();
    let mut t = indent(
        &table::render(
            &[
                "key",
                "issued_at",
                "expires_at",
                "last_used",
                "role",
                "session",
                "source_identity",
                "calls",
                "why",
            ],
            &cells,
            90,
        ),
        4,
    );
    for r in rows {
        if let Some(n) = &r.next {
            t.push_str(&format!("    {}: {n}\n", r.access_key_id));
        }
    }
    t
}

fn impact_text(imp: &Impact, user: bool) -> String {
    let mut t = format!(
        "\nSessions in the logs ({}judged at {}{}):\n",
        if user {
            "the user's temporary credentials, "
        } else {
            ""
        },
        imp.at,
        imp.logs_end
            .as_deref()
            .map_or(String::new(), |e| format!("; the logs end at {e}"))
    );
    let section = |t: &mut String, title: &str, count: String, rows: &[SessionRow]| {
        t.push_str(&format!("  {title} ({count}):\n"));
        if !rows.is_empty() {
            t.push_str(&session_rows(rows));
        }
    };
    section(
        &mut t,
        "CUT OFF",
        imp.cut_off.len().to_string(),
        &imp.cut_off,
    );
    section(&mut t, "spared", imp.spared.len().to_string(), &imp.spared);
    if !imp.expired.is_empty() {
        // The newest few (and the key asked about); --format json lists all.
        const SHOWN: usize = 5;
        let n = imp.expired.len();
        let shown: Vec<SessionRow> = imp
            .expired
            .iter()
            .enumerate()
            .filter(|(i, r)| r.target || *i + SHOWN >= n)
            .map(|(_, r)| r.clone())
            .collect();
        let count = if shown.len() < n {
            format!("{n}, the newest shown; --format json lists all")
        } else {
            n.to_string()
        };
        section(&mut t, "already expired", count, &shown);
    }
    if !imp.not_stopped.is_empty() {
        t.push_str("  NOT STOPPED by this plan, and what would stop them:\n");
        t.push_str(&session_rows(&imp.not_stopped));
    }
    if imp
        .cut_off
        .iter()
        .chain(&imp.spared)
        .chain(&imp.expired)
        .chain(&imp.not_stopped)
        .any(|r| r.target)
    {
        t.push_str("  (* = the key asked about)\n");
    }
    t
}

/// An applied run (or rollback) for people.
pub fn run_text(r: &Record, audit_log: &Path, words: &str) -> String {
    let what = match r.kind {
        audit::RunKind::Apply => format!("Run {} ({})", r.run_id, r.playbook),
        audit::RunKind::Rollback => format!(
            "Rollback {} of run {} ({})",
            r.run_id,
            r.rolls_back.as_deref().unwrap_or("?"),
            r.playbook
        ),
    };
    let outcome = match r.outcome {
        Outcome::Applied => "applied",
        Outcome::Partial => "PARTLY APPLIED",
        Outcome::Failed => "FAILED",
        Outcome::Refused => "REFUSED",
    };
    let mut t = format!("{what}: {outcome}\n");
    if let Some(c) = &r.caller {
        t.push_str(&format!(
            "  caller     {} (account {})\n",
            c.arn.as_deref().unwrap_or("?"),
            c.account.as_deref().unwrap_or("?")
        ));
    }
    t.push_str(&format!("  target     {}\n", r.target.describe()));
    t.push_str(&format!("  audit log  {}\n", audit_log.display()));
    t.push_str("Calls:\n");
    for (i, c) in r.calls.iter().enumerate() {
        let status = match c.status {
            CallStatus::Ok => format!(
                "ok ({} attempt{})",
                c.attempts,
                if c.attempts == 1 { "" } else { "s" }
            ),
            CallStatus::Failed => format!(
                "FAILED after {} attempt{}: {}",
                c.attempts,
                if c.attempts == 1 { "" } else { "s" },
                c.error.as_deref().unwrap_or("")
            ),
            CallStatus::NotRun => "not run".into(),
            CallStatus::Skipped => "skipped (already in the state before)".into(),
        };
        t.push_str(&format!("  {}. {}: {status}\n", i + 1, call_line(&c.call)));
    }
    if !r.before.is_empty() {
        t.push_str("State before:\n");
        for s in &r.before {
            t.push_str(&format!(
                "  {}: {}\n",
                s.resource.describe(),
                state_text(&s.state)
            ));
        }
    }
    if !r.after.is_empty() {
        t.push_str("State after (read back):\n");
        for s in &r.after {
            match &s.error {
                Some(e) => t.push_str(&format!("  {}: unknown ({e})\n", s.resource.describe())),
                None => t.push_str(&format!(
                    "  {}: {}\n",
                    s.resource.describe(),
                    state_text(&s.state)
                )),
            }
        }
    }
    if let Some(e) = &r.error {
        t.push_str(&format!("Error: {e}\n"));
    }
    if r.calls.iter().any(|c| c.status == CallStatus::Ok) {
        t.push_str(&format!(
            "Undo: trailhound playbook rollback {}{words} --apply\n",
            r.run_id
        ));
    }
    t
}
