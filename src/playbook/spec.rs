//! Playbook files (TOML) -> validated [`Playbook`]s.
//!
//! A file is read into a TOML table first, so that every problem is found in one pass: unknown
//! keys, missing keys, values of the wrong type or out of range, and rules between keys (an
//! action works on one kind of target). Each [`Problem`] names the file, the key and, where the
//! key is on a line of its own, the line. Only a file without problems becomes a [`Playbook`],
//! through the typed [`PlaybookSpec`] (`deny_unknown_fields`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a playbook acts on; chosen on the command line with `--role`, `--user`, `--key`,
/// `--instance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Role,
    User,
    Key,
    Instance,
}

impl TargetKind {
    pub fn flag(self) -> &'static str {
        match self {
            TargetKind::Role => "--role",
            TargetKind::User => "--user",
            TargetKind::Key => "--key",
            TargetKind::Instance => "--instance",
        }
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Role => "role",
            TargetKind::User => "user",
            TargetKind::Key => "key",
            TargetKind::Instance => "instance",
        })
    }
}

/// The IAM change a playbook makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// Inline policy on a role or user: deny everything to tokens issued before the cutoff.
    RevokeOlderSessions,
    /// UpdateAccessKey to Inactive.
    DeactivateAccessKey,
    /// Inline role policy: deny everything to requests from one EC2 instance's credentials.
    DenyInstance,
    /// Inline role policy: deny everything to sessions carrying one source identity.
    DenySourceIdentity,
    /// Replace the role's trust policy with a deny-all.
    LockTrust,
    /// Attach the AWS managed policy AWSCompromisedKeyQuarantineV3 to the key's user.
    QuarantineKey,
    /// Keep the trust policy's principals; allow assuming only from given networks / VPCs.
    RestrictTrust,
    /// A new random `sts:ExternalId` in the trust policy (printed once, never stored).
    RotateExternalId,
    /// Back up, delete and recreate a role (a new role id), restoring everything.
    RecreateRole,
}

impl ActionKind {
    pub const ALL: [ActionKind; 9] = [
        ActionKind::RevokeOlderSessions,
        ActionKind::DeactivateAccessKey,
        ActionKind::DenyInstance,
        ActionKind::DenySourceIdentity,
        ActionKind::LockTrust,
        ActionKind::QuarantineKey,
        ActionKind::RestrictTrust,
        ActionKind::RotateExternalId,
        ActionKind::RecreateRole,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ActionKind::RevokeOlderSessions => "revoke-older-sessions",
            ActionKind::DeactivateAccessKey => "deactivate-access-key",
            ActionKind::DenyInstance => "deny-instance",
            ActionKind::DenySourceIdentity => "deny-source-identity",
            ActionKind::LockTrust => "lock-trust",
            ActionKind::QuarantineKey => "quarantine-key",
            ActionKind::RestrictTrust => "restrict-trust",
            ActionKind::RotateExternalId => "rotate-external-id",
            ActionKind::RecreateRole => "recreate-role",
        }
    }

    /// The targets this action works on.
    pub fn targets(self) -> &'static [TargetKind] {
        match self {
            ActionKind::RevokeOlderSessions => &[TargetKind::Role, TargetKind::User],
            ActionKind::DeactivateAccessKey | ActionKind::QuarantineKey => &[TargetKind::Key],
            ActionKind::DenyInstance => &[TargetKind::Instance],
            ActionKind::DenySourceIdentity
            | ActionKind::LockTrust
            | ActionKind::RestrictTrust
            | ActionKind::RotateExternalId
            | ActionKind::RecreateRole => &[TargetKind::Role],
        }
    }

    /// Whether the action writes an inline policy (and so needs `policy_name`).
    pub fn writes_inline_policy(self) -> bool {
        matches!(
            self,
            ActionKind::RevokeOlderSessions
                | ActionKind::DenyInstance
                | ActionKind::DenySourceIdentity
        )
    }

    /// The placeholder the policy name may (and, to keep one policy per value, should) contain.
    pub fn placeholder(self) -> Option<&'static str> {
        match self {
            ActionKind::DenyInstance => Some("{instance}"),
            ActionKind::DenySourceIdentity => Some("{source_identity}"),
            _ => None,
        }
    }
}

/// A playbook file as written. Field names are the file's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookSpec {
    /// Lowercase letters, digits and dashes; the file is `<name>.toml`.
    pub name: String,
    /// One line: what the playbook does.
    pub summary: String,
    /// What it does, how, and what to do next.
    pub description: String,
    pub target: TargetKind,
    pub action: ActionKind,
    /// Inline policy name (actions that write one). `{instance}` / `{source_identity}` are
    /// replaced with the value given on the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// What running it stops.
    pub stops: Vec<String>,
    /// What keeps working after it ran.
    pub does_not_stop: Vec<String>,
}

/// A validated playbook, ready to plan with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Playbook {
    pub name: String,
    pub summary: String,
    pub description: String,
    pub target: TargetKind,
    pub action: ActionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    pub stops: Vec<String>,
    pub does_not_stop: Vec<String>,
    /// `builtin:<name>` or the file it was read from.
    pub source: String,
}

/// One thing wrong with a playbook file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

const KEYS: [&str; 8] = [
    "name",
    "summary",
    "description",
    "target",
    "action",
    "policy_name",
    "stops",
    "does_not_stop",
];
const REQUIRED: [&str; 7] = [
    "name",
    "summary",
    "description",
    "target",
    "action",
    "stops",
    "does_not_stop",
];

/// IAM policy names: 1 to 128 of `[A-Za-z0-9+=,.@_-]`.
pub fn valid_iam_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// The 1-based line on which `key` is assigned at the top level, if it is.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_table = true;
        }
        if in_table {
            continue;
        }
        let rest = t
            .strip_prefix(key)
            .or_else(|| t.strip_prefix(&format!("\"{key}\"")));
        if let Some(rest) = rest {
            if rest.trim_start().starts_with('=') {
                return Some(i + 1);
            }
        }
    }
    None
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |s| s.bytes().filter(|&b| b == b'\n').count() + 1)
}

/// Parses and validates one playbook file. `file` names it in problems; `stem` is the file name
/// without extension (None for text without a file, e.g. tests).
pub fn parse(text: &str, file: &str, stem: Option<&str>) -> Result<Playbook, Vec<Problem>> {
    let mut problems = Vec::new();
    let problem = |key: Option<&str>, message: String| Problem {
        file: file.to_string(),
        line: key.and_then(|k| line_of(text, k)),
        key: key.map(str::to_string),
        message,
    };
    let table: toml::Table = match text.parse::<toml::Table>() {
        Ok(t) => t,
        Err(e) => {
            let msg = e.message().to_string();
            return Err(vec![Problem {
                file: file.to_string(),
                line: e.span().map(|s| line_of_offset(text, s.start)),
                key: None,
                message: format!("not valid TOML: {msg}"),
            }]);
        }
    };

    for k in table.keys() {
        if !KEYS.contains(&k.as_str()) {
            problems.push(problem(
                Some(k),
                format!("unknown key (valid keys: {})", KEYS.join(", ")),
            ));
        }
    }
    for k in REQUIRED {
        if !table.contains_key(k) {
            problems.push(Problem {
                file: file.to_string(),
                line: None,
                key: Some(k.to_string()),
                message: "missing".into(),
            });
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(v: &toml::Value) -> Result<T, String> {
        T::deserialize(v.clone()).map_err(|e| e.message().trim().to_string())
    }
    let get_str = |key: &str, problems: &mut Vec<Problem>| -> Option<String> {
        let v = table.get(key)?;
        match typed::<String>(v) {
            Ok(s) if s.trim().is_empty() => {
                problems.push(problem(Some(key), "must not be empty".into()));
                None
            }
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(problem(Some(key), format!("must be a string ({e})")));
                None
            }
        }
    };
    let name = get_str("name", &mut problems);
    get_str("summary", &mut problems);
    get_str("description", &mut problems);
    let policy_name = get_str("policy_name", &mut problems);

    let get_list = |key: &str, problems: &mut Vec<Problem>| -> Option<Vec<String>> {
        let v = table.get(key)?;
        match typed::<Vec<String>>(v) {
            Ok(l) if l.is_empty() || l.iter().any(|s| s.trim().is_empty()) => {
                problems.push(problem(
                    Some(key),
                    "must list at least one thing, none of them empty".into(),
                ));
                None
            }
            Ok(l) => Some(l),
            Err(e) => {
                problems.push(problem(
                    Some(key),
                    format!("must be a list of strings ({e})"),
                ));
                None
            }
        }
    };
    get_list("stops", &mut problems);
    get_list("does_not_stop", &mut problems);

    let target = table.get("target").and_then(|v| {
        typed::<TargetKind>(v)
            .map_err(|e| problems.push(problem(Some("target"), e)))
            .ok()
    });
    let action = table.get("action").and_then(|v| {
        typed::<ActionKind>(v)
            .map_err(|e| problems.push(problem(Some("action"), e)))
            .ok()
    });

    if let Some(n) = &name {
        if !n
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems.push(problem(
                Some("name"),
                format!("`{n}` must be lowercase letters, digits and dashes"),
            ));
        }
        if let Some(stem) = stem {
            if stem != n {
                problems.push(problem(
                    Some("name"),
                    format!("`{n}` differs from the file name `{stem}`: name the file `{n}.toml`"),
                ));
            }
        }
    }
    if let (Some(t), Some(a)) = (target, action) {
        if !a.targets().contains(&t) {
            let valid: Vec<String> = a.targets().iter().map(|t| t.to_string()).collect();
            problems.push(problem(
                Some("target"),
                format!(
                    "action `{}` works on target {}, not `{t}`",
                    a.name(),
                    valid.join(" or ")
                ),
            ));
        }
    }
    if let Some(a) = action {
        match (&policy_name, a.writes_inline_policy()) {
            (None, true) if table.get("policy_name").is_none() => problems.push(problem(
                Some("policy_name"),
                format!("missing: action `{}` writes an inline policy", a.name()),
            )),
            (Some(_), false) => problems.push(problem(
                Some("policy_name"),
                format!(
                    "action `{}` writes no inline policy: remove this key",
                    a.name()
                ),
            )),
            (Some(p), true) => {
                let fixed = a.placeholder().map_or(p.clone(), |ph| p.replace(ph, ""));
                if fixed.contains('{') || fixed.contains('}') {
                    problems.push(problem(
                        Some("policy_name"),
                        format!(
                            "`{p}`: the only placeholder action `{}` fills is {}",
                            a.name(),
                            a.placeholder().unwrap_or("(none)")
                        ),
                    ));
                } else if !fixed.is_empty() && !valid_iam_name(&fixed) {
                    problems.push(problem(
                        Some("policy_name"),
                        format!(
                            "`{p}`: IAM policy names are 1 to 128 of A-Z a-z 0-9 + = , . @ _ -"
                        ),
                    ));
                } else if fixed.is_empty() && a.placeholder().is_none() {
                    problems.push(problem(Some("policy_name"), "must not be empty".into()));
                }
            }
            _ => {}
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    // Every key was checked above; the typed spec is the final word (and rejects unknown keys).
    let spec: PlaybookSpec = PlaybookSpec::deserialize(toml::Value::Table(table)).map_err(|e| {
        vec![Problem {
            file: file.to_string(),
            line: None,
            key: None,
            message: e.message().to_string(),
        }]
    })?;
    Ok(Playbook {
        name: spec.name,
        summary: spec.summary,
        description: spec.description,
        target: spec.target,
        action: spec.action,
        policy_name: spec.policy_name,
        stops: spec.stops,
        does_not_stop: spec.does_not_stop,
        source: file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "x"
summary = "s"
description = "d"
target = "role"
action = "revoke-older-sessions"
policy_name = "AWSRevokeOlderSessions"
stops = ["a"]
does_not_stop = ["b"]
"#;

    #[test]
    fn good_file_parses() {
        let p = parse(GOOD, "x.toml", Some("x")).unwrap();
        assert_eq!(p.action, ActionKind::RevokeOlderSessions);
        assert_eq!(p.target, TargetKind::Role);
        assert_eq!(p.policy_name.as_deref(), Some("AWSRevokeOlderSessions"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"name = "Bad_Name"
summary = 3
target = "bucket"
action = "deactivate-access-key"
policy_name = "P"
stops = []
colour = "red"
"#;
        let probs = parse(text, "bad.toml", Some("bad")).unwrap_err();
        let lines: Vec<String> = probs.iter().map(|p| p.to_string()).collect();
        let all = lines.join("\n");
        for want in [
            "bad.toml:7: key `colour`: unknown key",
            "bad.toml: key `description`: missing",
            "bad.toml: key `does_not_stop`: missing",
            "bad.toml:2: key `summary`: must be a string",
            "bad.toml:3: key `target`: unknown variant `bucket`, expected one of `role`, `user`, `key`, `instance`",
            "bad.toml:1: key `name`: `Bad_Name` must be lowercase",
            "bad.toml:1: key `name`: `Bad_Name` differs from the file name `bad`",
            "bad.toml:5: key `policy_name`: action `deactivate-access-key` writes no inline policy",
            "bad.toml:6: key `stops`: must list at least one thing",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        assert_eq!(probs.len(), 9, "{all}");
    }

    #[test]
    fn target_must_suit_the_action() {
        let text = GOOD.replace("\"role\"", "\"key\"");
        let probs = parse(&text, "x.toml", Some("x")).unwrap_err();
        assert_eq!(probs.len(), 1);
        assert!(probs[0]
            .message
            .contains("action `revoke-older-sessions` works on target role or user, not `key`"));
    }

    #[test]
    fn placeholders_are_checked() {
        let text = GOOD.replace("AWSRevokeOlderSessions", "Deny-{instance}");
        let probs = parse(&text, "x.toml", Some("x")).unwrap_err();
        assert!(probs[0].message.contains("placeholder"), "{probs:?}");
        let text = GOOD
            .replace("revoke-older-sessions", "deny-instance")
            .replace("\"role\"", "\"instance\"")
            .replace("AWSRevokeOlderSessions", "Contain-{instance}");
        assert!(parse(&text, "x.toml", Some("x")).is_ok());
        let text = GOOD.replace("AWSRevokeOlderSessions", "has space");
        assert!(parse(&text, "x.toml", Some("x")).unwrap_err()[0]
            .message
            .contains("IAM policy names"));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let probs = parse("name = \"x\"\nsummary = \n", "y.toml", None).unwrap_err();
        assert_eq!(probs.len(), 1);
        assert_eq!(probs[0].line, Some(2), "{probs:?}");
        assert!(probs[0].message.starts_with("not valid TOML"));
    }
}
