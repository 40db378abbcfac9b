//! `hunt --respond` and the report's "contain it" lines: the playbook and the exact command (a
//! dry run; add `--apply` to act) that contains a finding's session. Pure: findings and the
//! session graph in, command text out. `detect` finds; this module, downstream of it, answers.

use super::plan::{self, shell_quote};
use crate::detect::{finding, Finding, Kind};
use crate::graph::{Graph, Session};

/// `hunt --respond`: names the containment playbook and the exact command for each finding.
/// The playbook for a session comes from [`respond_command`] (which also refuses
/// roles IAM cannot revoke); hunt adds what only the finding knows: its kind and the logs.
pub fn respond(findings: &mut [Finding], graph: &Graph, logs: &[std::path::PathBuf]) {
    let logs_arg: String = logs
        .iter()
        .map(|p| shell_quote(&p.display().to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    for f in findings.iter_mut() {
        f.respond = response_for(f, graph, &logs_arg);
    }
}

fn response_for(f: &Finding, graph: &Graph, logs: &str) -> Option<finding::Response> {
    let user_of = |arn: &str| {
        arn.rsplit_once(":user/")
            .map(|(_, u)| u.rsplit('/').next().unwrap_or(u).to_string())
    };
    let session = f.access_key_id.as_deref().and_then(|k| graph.get(k));
    let (playbook, command) = match (f.kind, session) {
        // The federation token outlives the user's key: revoke the user's temporary credentials.
        (Kind::FederationTokenAdmin, _) => (
            "revoke-user-sessions".to_string(),
            format!(
                "trailhound playbook run revoke-user-sessions --user {}",
                crate::playbook::plan::shell_quote(&user_of(&f.principal)?)
            ),
        ),
        (_, Some(s)) => {
            let (playbook, command) = respond_command(s)?;
            if playbook == "revoke-role-sessions" {
                // The one-click form: the role and account come from the session graph.
                let c = format!("trailhound revoke --key {} --logs {logs}", s.access_key_id);
                return Some(finding::Response {
                    playbook,
                    command: c,
                });
            }
            (playbook, command)
        }
        // A long-term key signed the calls.
        (_, None) => {
            let key = f
                .access_key_id
                .as_deref()
                .filter(|k| k.starts_with("AKIA"))?;
            (
                "deactivate-access-key".to_string(),
                format!("trailhound playbook run deactivate-access-key --key {key}"),
            )
        }
    };
    Some(finding::Response {
        playbook,
        command: format!("{command} --logs {logs}"),
    })
}

/// The IAM user whose temporary credentials a session is (GetSessionToken, GetFederationToken, console).
pub(crate) fn session_user(s: &Session) -> Option<String> {
    let api = s.issued_by_api.as_deref()?;
    let arn = match api {
        "GetSessionToken" | "GetFederationToken" => s.caller_arn.as_deref(),
        "ConsoleLogin" => s.root_principal.as_deref(),
        _ => None,
    }?;
    arn.contains(":user/").then(|| arn.to_string())
}

/// For `hunt --respond`: the playbook and the exact command (a dry run; add `--apply` to act)
/// that contains a finding on this session. None when IAM cannot contain it (service-linked and
/// Identity Center roles, root, unknown origin).
pub fn respond_command(session: &Session) -> Option<(String, String)> {
    if let Some(role) = session.role_arn.as_deref() {
        let (name, path, _, _) = plan::parse_role(role).ok()?;
        if plan::role_refusal(&name, path.as_deref()).is_some() {
            return None;
        }
        if session.is_instance_profile() {
            let instance = session.session_name.as_deref()?;
            return Some((
                "contain-instance-credentials".into(),
                format!(
                    "trailhound playbook run contain-instance-credentials --instance {} --role {}",
                    shell_quote(instance),
                    shell_quote(role)
                ),
            ));
        }
        return Some((
            "revoke-role-sessions".into(),
            format!(
                "trailhound playbook run revoke-role-sessions --role {}",
                shell_quote(role)
            ),
        ));
    }
    let user = session_user(session)?;
    Some((
        "revoke-user-sessions".into(),
        format!(
            "trailhound playbook run revoke-user-sessions --user {}",
            shell_quote(&user)
        ),
    ))
}
