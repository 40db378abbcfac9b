//! Session chains drawn as trees: root principal -> session (key) -> session issued with it...

use crate::event::format_iso;
use crate::graph::{Graph, Session};
use std::collections::{BTreeMap, HashSet};

/// The principal a tree hangs from; sessions whose origin is not in the input share one heading.
fn heading(s: &Session) -> String {
    match (&s.root_principal, s.chain_complete) {
        (Some(r), true) => r.to_string(),
        (Some(r), false) => format!("{r} (issuing call not in the logs)"),
        (None, _) => "(origin not in the logs)".to_string(),
    }
}

/// One line describing a session hop.
pub fn describe(s: &Session) -> String {
    let mut parts = vec![s.access_key_id.to_string()];
    parts.push(s.issued_by_api.as_deref().unwrap_or("?").to_string());
    if let Some(r) = &s.role_arn {
        parts.push(r.to_string());
    } else if let Some(a) = &s.account {
        parts.push(format!("account {a}"));
    }
    if let Some(n) = &s.session_name {
        parts.push(format!("session={n}"));
    }
    if let Some(t) = s.issued_at {
        parts.push(format!("issued {}", format_iso(t)));
    }
    if let Some(ic) = s.identity_center() {
        parts.push(format!(
            "identity-center permission_set={}",
            ic.permission_set
        ));
        if let Some(id) = &ic.user_id {
            parts.push(format!("user_id={id}"));
        }
    }
    if let Some(r) = &s.assumed_root {
        parts.push(format!(
            "root of account {}",
            r.target_account.as_deref().unwrap_or("?")
        ));
        if let Some(p) = &r.task_policy_arn {
            parts.push(format!("task_policy={p}"));
        }
    }
    if let Some(l) = &s.signin_link {
        parts.push(format!(
            "console via GetSigninToken at {}",
            format_iso(l.at)
        ));
    }
    if let Some(si) = &s.source_identity {
        parts.push(format!("source_identity={si}"));
    }
    if s.mfa_authenticated == Some(true) {
        parts.push("mfa".into());
    }
    if s.cross_account {
        parts.push("cross-account".into());
    }
    parts.push(format!("depth {}", s.chain_depth));
    parts.push(format!("{} calls, {} errors", s.calls, s.errors));
    if s.over_chain_cap() {
        parts.push(format!(
            "asked {}s > 3600s cap for chained sessions",
            s.requested_duration_seconds.unwrap_or_default()
        ));
    }
    if !s.issued_in_window {
        parts.push("issuing call not in the logs".into());
    }
    parts.join("  ")
}

/// Draws the chains that contain the `selected` sessions (all sessions when `None`).
pub fn render(graph: &Graph, selected: Option<&[&Session]>) -> String {
    let shown: HashSet<&str> = match selected {
        None => graph.sessions.iter().map(|s| &*s.access_key_id).collect(),
        Some(sel) => sel
            .iter()
            .flat_map(|s| {
                let mut v = graph.ancestors(&s.access_key_id);
                v.extend(graph.descendants(&s.access_key_id));
                v
            })
            .map(|s| &*s.access_key_id)
            .collect(),
    };
    // Tops: shown sessions whose parent is not shown.
    let mut forests: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
    for s in &graph.sessions {
        if !shown.contains(&*s.access_key_id) {
            continue;
        }
        let parent_shown = s
            .parent_access_key_id
            .as_deref()
            .is_some_and(|p| shown.contains(p) && graph.get(p).is_some());
        if !parent_shown {
            forests.entry(heading(s)).or_default().push(s);
        }
    }
    let mut out = String::new();
    for (head, tops) in forests {
        out.push_str(&head);
        out.push('\n');
        let n = tops.len();
        for (i, s) in tops.into_iter().enumerate() {
            draw(
                graph,
                s,
                "",
                i + 1 == n,
                &shown,
                &mut out,
                &mut HashSet::new(),
            );
        }
        out.push('\n');
    }
    out
}

fn draw<'a>(
    graph: &'a Graph,
    s: &'a Session,
    prefix: &str,
    last: bool,
    shown: &HashSet<&str>,
    out: &mut String,
    seen: &mut HashSet<&'a str>,
) {
    if !seen.insert(&s.access_key_id) {
        return;
    }
    out.push_str(prefix);
    out.push_str(if last { "└─ " } else { "├─ " });
    out.push_str(&describe(s));
    out.push('\n');
    let kids: Vec<&Session> = graph
        .children(&s.access_key_id)
        .filter(|k| shown.contains(&*k.access_key_id))
        .collect();
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    let n = kids.len();
    for (i, k) in kids.into_iter().enumerate() {
        draw(graph, k, &child_prefix, i + 1 == n, shown, out, seen);
    }
}
