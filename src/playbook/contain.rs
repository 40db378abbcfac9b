//! `trailhound contain --key K --logs PATH`: one plan, one run and one audit record for a whole
//! session chain, across accounts.
//!
//! Takes the session graph and a key anywhere in a chain; returns a [`ContainPlan`]: at the root
//! the long-term key (deactivated, or quarantined) and the user's temporary credentials, then
//! every role the chain passed through (sessions issued before the cutoff revoked; instance
//! credentials at the root contained on their own), then roles that sessions chained out of a
//! revoked role reached. Each step is an ordinary playbook plan ([`super::plan::build`]) naming
//! its account. Applying runs the steps in order with credentials per account
//! (`--assume-role 'arn:aws:iam::{account}:role/NAME'`), stops at the first step that fails, and
//! writes one audit record holding one record per step; `playbook rollback RUN_ID` undoes the
//! applied steps in reverse order.

use super::audit::{self, CallStatus, Outcome, Record, RunKind};
use super::exec::{self, Aws, Connection};
use super::now;
use super::plan::{self, Plan, Request, Target};
use super::text::{call_line, calls_text};
use crate::error::{Error, Result};
use crate::event::{format_iso, Millis};
use crate::graph::{Graph, Session};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One step of a containment: a playbook plan in one account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub account: Option<String>,
    /// The playbook.
    pub action: String,
    /// The ARN (or key id) acted on.
    pub target: String,
    /// Why the step is in the plan.
    pub why: String,
    pub plan: Plan,
}

/// The plan for a whole chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainPlan {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_key: Option<String>,
    pub cutoff: String,
    /// The accounts the steps act in, in order of first appearance.
    pub accounts: Vec<String>,
    /// The sessions of the chain, root first: (key, role or user, account).
    pub chain: Vec<ChainHop>,
    pub steps: Vec<Step>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainHop {
    pub access_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    pub chain_depth: u32,
}

fn hop(s: &Session) -> ChainHop {
    ChainHop {
        access_key_id: s.access_key_id.to_string(),
        role_arn: s.role_arn.as_deref().map(str::to_string),
        account: s.account.as_deref().map(str::to_string),
        issued_at: s.issued_at.map(format_iso),
        chain_depth: s.chain_depth,
    }
}

/// Builds the plan for the chain of `key`. Pure.
pub fn build(
    graph: &Graph,
    key: &str,
    cutoff: Millis,
    quarantine: bool,
    region: Option<String>,
    now: Millis,
) -> Result<ContainPlan> {
    let key = key.trim();
    if !plan::valid_key_id(key) {
        return Err(Error::Usage(format!(
            "`{key}` is not an access key id (AKIA... or ASIA...)"
        )));
    }
    // The chain: the key's ancestors and descendants (or, for a long-term key, every session it
    // started and theirs), and the whole tree from the root for chained-out sessions.
    let mut path: Vec<&Session> = Vec::new();
    let mut tree: Vec<&Session> = Vec::new();
    let mut seen = BTreeSet::new();
    if key.starts_with("AKIA") {
        let roots: Vec<&Session> = graph
            .sessions
            .iter()
            .filter(|s| {
                s.caller_access_key_id.as_deref() == Some(key) && s.parent_access_key_id.is_none()
            })
            .collect();
        if roots.is_empty() {
            return Err(Error::Usage(format!(
                "{key} issued no session in the logs: nothing to follow. Contain the key alone with \
`trailhound playbook run deactivate-access-key --key {key}` (or quarantine-key)"
            )));
        }
        for r in roots {
            for d in graph.descendants(&r.access_key_id) {
                if seen.insert(d.access_key_id.to_string()) {
                    path.push(d);
                }
            }
        }
        tree = path.clone();
    } else {
        if graph.get(key).is_none() {
            return Err(Error::Usage(format!(
                "key {key} is not in the logs (neither issued nor used there): give logs that hold its session"
            )));
        }
        for s in graph
            .ancestors(key)
            .into_iter()
            .chain(graph.descendants(key))
        {
            if seen.insert(s.access_key_id.to_string()) {
                path.push(s);
            }
        }
        if let Some(top) = path.first() {
            let mut tseen = BTreeSet::new();
            for d in graph.descendants(&top.access_key_id) {
                if tseen.insert(d.access_key_id.to_string()) {
                    tree.push(d);
                }
            }
        }
    }
    let top = *path
        .first()
        .ok_or_else(|| Error::Usage(format!("no session of {key} in the logs")))?;
    // A cutoff before a session of the chain was issued would not deny it.
    if let Some(s) = path
        .iter()
        .filter(|s| s.issued_at.is_some_and(|t| cutoff <= t))
        .max_by_key(|s| s.issued_at)
    {
        return Err(Error::Usage(format!(
            "--cutoff {} is not after {} of the chain was issued ({}): it would not deny it; give a later cutoff or leave it out (now)",
            format_iso(cutoff),
            s.access_key_id,
            s.issued_at.map(format_iso).unwrap_or_default()
        )));
    }
    let root_key = top
        .caller_access_key_id
        .as_deref()
        .filter(|k| k.starts_with("AKIA"))
        .map(str::to_string);
    let root_user = top
        .caller_arn
        .as_deref()
        .filter(|a| a.contains(":user/"))
        .map(str::to_string)
        .or_else(|| super::respond::session_user(top));
    let mut notes = Vec::new();
    if !top.chain_complete {
        notes.push(format!(
            "the chain is not complete in the logs: the call that issued {} is missing, so its root is not known; give logs that reach further back",
            top.access_key_id
        ));
    }

    let base = Request {
        cutoff: None,
        highlight_key: Some(key.to_string()),
        now,
        ..Request::default()
    };
    let mut steps: Vec<Step> = Vec::new();
    let add = |steps: &mut Vec<Step>,
               name: &str,
               req: Request,
               target: String,
               why: String|
     -> Result<()> {
        if steps.iter().any(|s| s.action == name && s.target == target) {
            return Ok(());
        }
        let pb = super::find(name, None)?;
        let p = plan::build(&pb, &req, Some(graph))?;
        steps.push(Step {
            account: p.account.clone(),
            action: name.to_string(),
            target,
            why,
            plan: p,
        });
        Ok(())
    };

    // 1. The root: the long-term key, then the user's temporary credentials.
    if let Some(k) = &root_key {
        let name = if quarantine {
            "quarantine-key"
        } else {
            "deactivate-access-key"
        };
        add(
            &mut steps,
            name,
            Request {
                key: Some(k.clone()),
                user: root_user.clone(),
                ..base.clone()
            },
            k.clone(),
            format!(
                "the long-term key that started the chain{}",
                root_user
                    .as_deref()
                    .map_or(String::new(), |u| format!(" ({u})"))
            ),
        )?;
    }
    if let Some(u) = &root_user {
        add(
            &mut steps,
            "revoke-user-sessions",
            Request {
                user: Some(u.clone()),
                cutoff: Some(cutoff),
                ..base.clone()
            },
            u.clone(),
            "the root user's temporary credentials (GetSessionToken, GetFederationToken, console)"
                .into(),
        )?;
    }
    // 2. Every role the chain passed through, root first.
    for s in &path {
        if let Some(role) = s.role_arn.as_deref() {
            if s.parent_access_key_id.is_none() && s.is_instance_profile() {
                let instance = s.session_name.as_deref().unwrap_or_default().to_string();
                add(
                    &mut steps,
                    "contain-instance-credentials",
                    Request {
                        role: Some(role.to_string()),
                        instance: Some(instance.clone()),
                        region: region.clone(),
                        ..base.clone()
                    },
                    format!("{role} on {instance}"),
                    format!(
                        "instance credentials at the root of the chain ({instance}): denied on this instance only, the role's other instances keep working"
                    ),
                )?;
                continue;
            }
            add(
                &mut steps,
                "revoke-role-sessions",
                Request {
                    role: Some(role.to_string()),
                    cutoff: Some(cutoff),
                    ..base.clone()
                },
                role.to_string(),
                format!(
                    "the chain passed through it (session {}, depth {})",
                    s.access_key_id, s.chain_depth
                ),
            )?;
        } else if let Some(u) = super::respond::session_user(s) {
            add(
                &mut steps,
                "revoke-user-sessions",
                Request {
                    user: Some(u.clone()),
                    cutoff: Some(cutoff),
                    ..base.clone()
                },
                u.clone(),
                format!(
                    "temporary credentials {} of the user in the chain",
                    s.access_key_id
                ),
            )?;
        }
    }
    // 3. Sessions chained out of a revoked role into roles outside the chain: included while
    // they are part of this chain's tree, or still valid at the cutoff.
    let in_tree: BTreeSet<&str> = tree.iter().map(|s| &*s.access_key_id).collect();
    let mut i = 0;
    while i < steps.len() && steps.len() < 200 {
        let rows: Vec<(String, String, String)> = steps[i]
            .plan
            .sessions
            .as_ref()
            .map(|imp| {
                imp.not_stopped
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.access_key_id.clone(),
                            r.role_arn.clone()?,
                            steps[i].target.clone(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        i += 1;
        for (k, role, from) in rows {
            let live = graph
                .get(&k)
                .is_some_and(|s| s.expires_at.is_none_or(|e| e > cutoff));
            if !(in_tree.contains(k.as_str()) || live) {
                continue;
            }
            if steps.iter().any(|s| s.target == role) {
                continue;
            }
            let (name, path, _, _) = plan::parse_role(&role)?;
            if let Some(why) = plan::role_refusal(&name, path.as_deref()) {
                notes.push(format!(
                    "{k} chained out into {role}, which IAM cannot revoke: {why}"
                ));
                continue;
            }
            add(
                &mut steps,
                "revoke-role-sessions",
                Request {
                    role: Some(role.clone()),
                    cutoff: Some(cutoff),
                    ..base.clone()
                },
                role.clone(),
                format!("session {k} chained out of {from} into this role, outside the chain"),
            )?;
        }
    }
    let mut accounts: Vec<String> = Vec::new();
    for s in &steps {
        if let Some(a) = &s.account {
            if !accounts.contains(a) {
                accounts.push(a.clone());
            }
        }
    }
    if root_key.is_none() && top.role_arn.is_some() && !top.is_instance_profile() {
        notes.push(format!(
            "the root of the chain is {} ({}): not a long-term key trailhound can deactivate; contain it where it lives (identity provider, Identity Center, the AWS service)",
            top.root_principal.as_deref().or(top.caller_arn.as_deref()).unwrap_or("unknown"),
            top.issued_by_api.as_deref().unwrap_or("?")
        ));
    }
    Ok(ContainPlan {
        key: key.to_string(),
        root_principal: top
            .root_principal
            .as_deref()
            .map(str::to_string)
            .or(root_user),
        root_key,
        cutoff: format_iso(cutoff),
        accounts,
        chain: path.iter().map(|s| hop(s)).collect(),
        steps,
        notes,
    })
}

/// The assume-role ARN for an account from a template (`{account}` replaced).
pub fn role_for(template: Option<&str>, account: Option<&str>) -> Result<Option<String>> {
    match (template, account) {
        (None, _) => Ok(None),
        (Some(t), _) if !t.contains("{account}") => Ok(Some(t.to_string())),
        (Some(t), Some(a)) => Ok(Some(t.replace("{account}", a))),
        (Some(t), None) => Err(Error::Usage(format!(
            "--assume-role {t}: a step's account is not known, so {{account}} cannot be filled"
        ))),
    }
}

fn step_line(i: usize, s: &Step) -> String {
    format!(
        "{}. [account {}] {} {}",
        i + 1,
        s.account.as_deref().unwrap_or("?"),
        s.action,
        s.target
    )
}

/// The plan for people.
pub fn plan_text(p: &ContainPlan, template: Option<&str>) -> String {
    let mut t = format!("Contain the chain of {}\n", p.key);
    if let Some(r) = &p.root_principal {
        t.push_str(&format!("  root principal  {r}\n"));
    }
    if let Some(k) = &p.root_key {
        t.push_str(&format!("  root key        {k}\n"));
    }
    t.push_str(&format!(
        "  cutoff          {} (role and user tokens issued before it are denied)\n",
        p.cutoff
    ));
    t.push_str(&format!("  accounts        {}\n", p.accounts.join(", ")));
    t.push_str("Chain (root first):\n");
    for h in &p.chain {
        t.push_str(&format!(
            "  depth {} {} {} (account {}, issued {})\n",
            h.chain_depth,
            h.access_key_id,
            h.role_arn.as_deref().unwrap_or("(user credentials)"),
            h.account.as_deref().unwrap_or("?"),
            h.issued_at.as_deref().unwrap_or("?")
        ));
    }
    t.push_str(&format!(
        "\nSteps ({}), run in this order; a failing step stops the run; `playbook rollback RUN_ID` undoes the applied ones in reverse:\n",
        p.steps.len()
    ));
    for (i, s) in p.steps.iter().enumerate() {
        t.push_str(&format!("\n{}\n   why: {}\n", step_line(i, s), s.why));
        match role_for(template, s.account.as_deref()) {
            Ok(Some(r)) => t.push_str(&format!("   as:  {r}\n")),
            Ok(None) => t.push_str("   as:  the current credentials\n"),
            Err(e) => t.push_str(&format!("   as:  ({e})\n")),
        }
        t.push_str(&calls_text(&s.plan.calls));
        for n in &s.plan.notes {
            t.push_str(&format!("   note: {n}\n"));
        }
    }
    if !p.notes.is_empty() {
        t.push_str("\nNotes:\n");
        for n in &p.notes {
            t.push_str(&format!("  - {n}\n"));
        }
    }
    t
}

/// Applies every step in order; returns the run's record (also appended to the audit log).
pub fn apply(p: &ContainPlan, aws: &Connection, audit_log: &Path, run_id: &str) -> Result<Record> {
    let started = now();
    let mut rec = Record::new(
        run_id,
        RunKind::Apply,
        "contain",
        Target::Key {
            access_key_id: p.key.clone(),
            user: None,
        },
    );
    rec.started = format_iso(started);
    rec.cutoff = Some(p.cutoff.clone());
    rec.root_principal = p.root_principal.clone();
    rec.assumed_role = aws.assume_role.clone();
    let base = aws.clone();
    rec.endpoint_url = base.endpoint_url.clone();
    let mut clients: BTreeMap<Option<String>, Aws> = BTreeMap::new();
    let mut failed: Option<(usize, String)> = None;
    for (i, s) in p.steps.iter().enumerate() {
        let role = match role_for(aws.assume_role.as_deref(), s.account.as_deref()) {
            Ok(r) => r,
            Err(e) => {
                failed = Some((i, e.to_string()));
                break;
            }
        };
        if !clients.contains_key(&role) {
            let mut c = base.clone();
            c.assume_role = role.clone();
            // A failure here must not lose the record of the steps already applied.
            match Aws::connect(&c, &format!("trailhound-{run_id}")) {
                Ok(client) => {
                    clients.insert(role.clone(), client);
                }
                Err(e) => {
                    failed = Some((i, e.to_string()));
                    break;
                }
            }
        }
        let client = &clients[&role];
        let r = exec::apply_step(client, &s.plan, &format!("{run_id}/{}", i + 1))?;
        let outcome = r.outcome;
        let err = r.error.clone().unwrap_or_default();
        rec.steps.push(r);
        if outcome != Outcome::Applied {
            failed = Some((i, err));
            break;
        }
    }
    let applied: Vec<String> = rec
        .steps
        .iter()
        .enumerate()
        .filter(|(_, r)| r.calls.iter().any(|c| c.status == CallStatus::Ok))
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    match failed {
        None => rec.outcome = Outcome::Applied,
        Some((i, e)) => {
            let s = &p.steps[i];
            let not: Vec<String> = ((i + 1)..=p.steps.len()).map(|n| n.to_string()).collect();
            rec.outcome = if applied.is_empty() {
                rec.steps
                    .last()
                    .map_or(Outcome::Failed, |r| match r.outcome {
                        Outcome::Refused => Outcome::Refused,
                        _ => Outcome::Failed,
                    })
            } else {
                Outcome::Partial
            };
            rec.error = Some(format!(
                "step {} of {} ({} {} in account {}) failed: {e}; applied: {}; not applied: steps {}{}",
                i + 1,
                p.steps.len(),
                s.action,
                s.target,
                s.account.as_deref().unwrap_or("?"),
                if applied.is_empty() {
                    "nothing".to_string()
                } else {
                    format!("steps {}", applied.join(", "))
                },
                not.join(", "),
                if applied.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; `trailhound playbook rollback {run_id} --apply` undoes what was applied"
                    )
                }
            ));
        }
    }
    rec.finished = format_iso(now());
    audit::append(audit_log, &rec)?;
    Ok(rec)
}

/// A contain run (or its rollback) for people.
pub fn run_text(r: &Record, audit_log: &Path, words: &str) -> String {
    let what = match r.kind {
        RunKind::Apply => format!("Run {} (contain {})", r.run_id, target_key(r)),
        RunKind::Rollback => format!(
            "Rollback {} of run {} (contain {})",
            r.run_id,
            r.rolls_back.as_deref().unwrap_or("?"),
            target_key(r)
        ),
    };
    let mut t = format!("{what}: {}\n", outcome_word(r.outcome));
    t.push_str(&format!("  audit log  {}\n", audit_log.display()));
    for (i, s) in r.steps.iter().enumerate() {
        t.push_str(&format!(
            "Step {}: {} {} in account {} as {}: {}\n",
            i + 1,
            s.playbook,
            s.target.describe(),
            s.caller
                .as_ref()
                .and_then(|c| c.account.as_deref())
                .or(s.account.as_deref())
                .unwrap_or("?"),
            s.caller
                .as_ref()
                .and_then(|c| c.arn.as_deref())
                .unwrap_or("?"),
            outcome_word(s.outcome)
        ));
        for c in &s.calls {
            let st = match c.status {
                CallStatus::Ok => "ok".to_string(),
                CallStatus::Failed => format!("FAILED: {}", c.error.as_deref().unwrap_or("")),
                CallStatus::NotRun => "not run".into(),
                CallStatus::Skipped => "skipped (already in the state before)".into(),
            };
            t.push_str(&format!("    {}: {st}\n", call_line(&c.call)));
        }
        if let Some(e) = &s.error {
            t.push_str(&format!("    error: {e}\n"));
        }
    }
    if let Some(e) = &r.error {
        t.push_str(&format!("Error: {e}\n"));
    }
    if r.kind == RunKind::Apply
        && r.steps
            .iter()
            .any(|s| s.calls.iter().any(|c| c.status == CallStatus::Ok))
    {
        t.push_str(&format!(
            "Check it held: trailhound verify {} --logs PATH (logs delivered after the cutoff)\nUndo: trailhound playbook rollback {}{words} --apply\n",
            r.run_id, r.run_id
        ));
    }
    t
}

pub(crate) fn target_key(r: &Record) -> String {
    match &r.target {
        Target::Key { access_key_id, .. } => access_key_id.clone(),
        t => t.describe(),
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Applied => "applied",
        Outcome::Partial => "PARTLY APPLIED",
        Outcome::Failed => "FAILED",
        Outcome::Refused => "REFUSED",
    }
}
