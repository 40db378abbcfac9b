//! Playbook + target + cutoff (+ the session graph) -> [`Plan`]: the exact IAM calls with their
//! policy documents, the state to read before and after (for the audit record and rollback), and,
//! when logs are given, which sessions the plan cuts off and which it spares.
//!
//! Pure: no clock (the caller passes `now`), no network, no files. Everything here is what a dry
//! run prints and what `exec` runs.

use super::spec::{ActionKind, Playbook, TargetKind};
use crate::error::{Error, Result};
use crate::event::{format_iso, Millis};
use crate::graph::{arn_account, assumed_role_parts, Graph, Session};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The name the IAM console gives its "Revoke active sessions" policy.
pub const CONSOLE_REVOKE_POLICY: &str = "AWSRevokeOlderSessions";

/// The managed policy AWS attaches to users whose key it finds exposed.
pub const QUARANTINE_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3";

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Role ARN (also accepted: an assumed-role ARN, or a bare role name).
    pub role: Option<String>,
    /// User name or ARN.
    pub user: Option<String>,
    pub key: Option<String>,
    pub instance: Option<String>,
    pub source_identity: Option<String>,
    pub cutoff: Option<Millis>,
    /// The instance's region (for its ARN).
    pub region: Option<String>,
    /// Mark this key's row in the session lists (`revoke --key`).
    pub highlight_key: Option<String>,
    pub now: Millis,
    /// restrict-role-trust: the networks (CIDR) and VPCs that may assume the role.
    pub allow_networks: Vec<String>,
    pub allow_vpcs: Vec<String>,
}

/// What a plan changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    Role {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arn: Option<String>,
        /// The role's path, when the ARN gave it (`/` for none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
    },
    User {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arn: Option<String>,
    },
    Key {
        access_key_id: String,
        /// The key's user; None: asked from IAM (GetAccessKeyLastUsed) at apply time.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
}

impl Target {
    pub fn describe(&self) -> String {
        match self {
            Target::Role { name, arn, .. } => match arn {
                Some(a) => format!("role {name} ({a})"),
                None => format!("role {name}"),
            },
            Target::User { name, arn } => match arn {
                Some(a) => format!("user {name} ({a})"),
                None => format!("user {name}"),
            },
            Target::Key {
                access_key_id,
                user,
            } => match user {
                Some(u) => format!("access key {access_key_id} of user {u}"),
                None => format!("access key {access_key_id} (user looked up at apply time)"),
            },
        }
    }
}

/// One IAM write call, with its parameters under their API names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "api")]
pub enum Call {
    #[serde(rename = "iam:PutRolePolicy", rename_all = "PascalCase")]
    PutRolePolicy {
        role_name: String,
        policy_name: String,
        policy_document: Value,
    },
    #[serde(rename = "iam:PutUserPolicy", rename_all = "PascalCase")]
    PutUserPolicy {
        user_name: String,
        policy_name: String,
        policy_document: Value,
    },
    #[serde(rename = "iam:DeleteRolePolicy", rename_all = "PascalCase")]
    DeleteRolePolicy {
        role_name: String,
        policy_name: String,
    },
    #[serde(rename = "iam:DeleteUserPolicy", rename_all = "PascalCase")]
    DeleteUserPolicy {
        user_name: String,
        policy_name: String,
    },
    #[serde(rename = "iam:UpdateAccessKey", rename_all = "PascalCase")]
    UpdateAccessKey {
        /// None until the user is known (looked up at apply time).
        user_name: Option<String>,
        access_key_id: String,
        status: String,
    },
    #[serde(rename = "iam:UpdateAssumeRolePolicy", rename_all = "PascalCase")]
    UpdateAssumeRolePolicy {
        role_name: String,
        policy_document: Value,
    },
    #[serde(rename = "iam:AttachUserPolicy", rename_all = "PascalCase")]
    AttachUserPolicy {
        /// None until the user is known (looked up at apply time).
        user_name: Option<String>,
        policy_arn: String,
    },
    #[serde(rename = "iam:DetachUserPolicy", rename_all = "PascalCase")]
    DetachUserPolicy {
        user_name: Option<String>,
        policy_arn: String,
    },
    #[serde(rename = "iam:AttachRolePolicy", rename_all = "PascalCase")]
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    #[serde(rename = "iam:DetachRolePolicy", rename_all = "PascalCase")]
    DetachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    #[serde(
        rename = "iam:RemoveRoleFromInstanceProfile",
        rename_all = "PascalCase"
    )]
    RemoveRoleFromInstanceProfile {
        instance_profile_name: String,
        role_name: String,
    },
    #[serde(rename = "iam:AddRoleToInstanceProfile", rename_all = "PascalCase")]
    AddRoleToInstanceProfile {
        instance_profile_name: String,
        role_name: String,
    },
    #[serde(rename = "iam:DeleteRole", rename_all = "PascalCase")]
    DeleteRole { role_name: String },
    #[serde(rename = "iam:CreateRole", rename_all = "PascalCase")]
    CreateRole {
        role_name: String,
        path: String,
        assume_role_policy_document: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_session_duration: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        permissions_boundary: Option<String>,
        /// (Key, Value) pairs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tags: Vec<(String, String)>,
    },
}

/// Shell-quotes one word for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl Call {
    pub fn api(&self) -> &'static str {
        match self {
            Call::PutRolePolicy { .. } => "iam:PutRolePolicy",
            Call::PutUserPolicy { .. } => "iam:PutUserPolicy",
            Call::DeleteRolePolicy { .. } => "iam:DeleteRolePolicy",
            Call::DeleteUserPolicy { .. } => "iam:DeleteUserPolicy",
            Call::UpdateAccessKey { .. } => "iam:UpdateAccessKey",
            Call::UpdateAssumeRolePolicy { .. } => "iam:UpdateAssumeRolePolicy",
            Call::AttachUserPolicy { .. } => "iam:AttachUserPolicy",
            Call::DetachUserPolicy { .. } => "iam:DetachUserPolicy",
            Call::AttachRolePolicy { .. } => "iam:AttachRolePolicy",
            Call::DetachRolePolicy { .. } => "iam:DetachRolePolicy",
            Call::RemoveRoleFromInstanceProfile { .. } => "iam:RemoveRoleFromInstanceProfile",
            Call::AddRoleToInstanceProfile { .. } => "iam:AddRoleToInstanceProfile",
            Call::DeleteRole { .. } => "iam:DeleteRole",
            Call::CreateRole { .. } => "iam:CreateRole",
        }
    }

    /// The same call as an AWS CLI command line (policy documents compact, as sent).
    pub fn aws_cli(&self) -> String {
        let doc = |d: &Value| shell_quote(&d.to_string());
        let q = |s: &str| shell_quote(s);
        match self {
            Call::PutRolePolicy {
                role_name,
                policy_name,
                policy_document,
            } => format!(
                "aws iam put-role-policy --role-name {} --policy-name {} --policy-document {}",
                q(role_name),
                q(policy_name),
                doc(policy_document)
            ),
            Call::PutUserPolicy {
                user_name,
                policy_name,
                policy_document,
            } => format!(
                "aws iam put-user-policy --user-name {} --policy-name {} --policy-document {}",
                q(user_name),
                q(policy_name),
                doc(policy_document)
            ),
            Call::DeleteRolePolicy {
                role_name,
                policy_name,
            } => format!(
                "aws iam delete-role-policy --role-name {} --policy-name {}",
                q(role_name),
                q(policy_name)
            ),
            Call::DeleteUserPolicy {
                user_name,
                policy_name,
            } => format!(
                "aws iam delete-user-policy --user-name {} --policy-name {}",
                q(user_name),
                q(policy_name)
            ),
            Call::UpdateAccessKey {
                user_name,
                access_key_id,
                status,
            } => format!(
                "aws iam update-access-key --user-name {} --access-key-id {} --status {}",
                user_name.as_deref().map_or("USER".to_string(), q),
                q(access_key_id),
                q(status)
            ),
            Call::UpdateAssumeRolePolicy {
                role_name,
                policy_document,
            } => format!(
                "aws iam update-assume-role-policy --role-name {} --policy-document {}",
                q(role_name),
                doc(policy_document)
            ),
            Call::AttachUserPolicy {
                user_name,
                policy_arn,
            } => format!(
                "aws iam attach-user-policy --user-name {} --policy-arn {}",
                user_name.as_deref().map_or("USER".to_string(), q),
                q(policy_arn)
            ),
            Call::DetachUserPolicy {
                user_name,
                policy_arn,
            } => format!(
                "aws iam detach-user-policy --user-name {} --policy-arn {}",
                user_name.as_deref().map_or("USER".to_string(), q),
                q(policy_arn)
            ),
            Call::AttachRolePolicy {
                role_name,
                policy_arn,
            } => format!(
                "aws iam attach-role-policy --role-name {} --policy-arn {}",
                q(role_name),
                q(policy_arn)
            ),
            Call::DetachRolePolicy {
                role_name,
                policy_arn,
            } => format!(
                "aws iam detach-role-policy --role-name {} --policy-arn {}",
                q(role_name),
                q(policy_arn)
            ),
            Call::RemoveRoleFromInstanceProfile {
                instance_profile_name,
                role_name,
            } => format!(
                "aws iam remove-role-from-instance-profile --instance-profile-name {} --role-name {}",
                q(instance_profile_name),
                q(role_name)
            ),
            Call::AddRoleToInstanceProfile {
                instance_profile_name,
                role_name,
            } => format!(
                "aws iam add-role-to-instance-profile --instance-profile-name {} --role-name {}",
                q(instance_profile_name),
                q(role_name)
            ),
            Call::DeleteRole { role_name } => {
                format!("aws iam delete-role --role-name {}", q(role_name))
            }
            Call::CreateRole {
                role_name,
                path,
                assume_role_policy_document,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            } => {
                let mut t = format!(
                    "aws iam create-role --role-name {} --path {} --assume-role-policy-document {}",
                    q(role_name),
                    q(path),
                    doc(assume_role_policy_document)
                );
                if let Some(d) = description {
                    t.push_str(&format!(" --description {}", q(d)));
                }
                if let Some(m) = max_session_duration {
                    t.push_str(&format!(" --max-session-duration {m}"));
                }
                if let Some(b) = permissions_boundary {
                    t.push_str(&format!(" --permissions-boundary {}", q(b)));
                }
                if !tags.is_empty() {
                    t.push_str(" --tags");
                    for (k, v) in tags {
                        t.push_str(&format!(" {}", q(&format!("Key={k},Value={v}"))));
                    }
                }
                t
            }
        }
    }

    /// Parameters for people: (name, value); documents pretty-printed.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let pretty = |d: &Value| serde_json::to_string_pretty(d).unwrap_or_else(|_| d.to_string());
        match self {
            Call::PutRolePolicy {
                role_name,
                policy_name,
                policy_document,
            } => vec![
                ("RoleName", role_name.clone()),
                ("PolicyName", policy_name.clone()),
                ("PolicyDocument", pretty(policy_document)),
            ],
            Call::PutUserPolicy {
                user_name,
                policy_name,
                policy_document,
            } => vec![
                ("UserName", user_name.clone()),
                ("PolicyName", policy_name.clone()),
                ("PolicyDocument", pretty(policy_document)),
            ],
            Call::DeleteRolePolicy {
                role_name,
                policy_name,
            } => vec![
                ("RoleName", role_name.clone()),
                ("PolicyName", policy_name.clone()),
            ],
            Call::DeleteUserPolicy {
                user_name,
                policy_name,
            } => vec![
                ("UserName", user_name.clone()),
                ("PolicyName", policy_name.clone()),
            ],
            Call::UpdateAccessKey {
                user_name,
                access_key_id,
                status,
            } => vec![
                (
                    "UserName",
                    user_name
                        .clone()
                        .unwrap_or_else(|| "(from iam:GetAccessKeyLastUsed at apply time)".into()),
                ),
                ("AccessKeyId", access_key_id.clone()),
                ("Status", status.clone()),
            ],
            Call::UpdateAssumeRolePolicy {
                role_name,
                policy_document,
            } => vec![
                ("RoleName", role_name.clone()),
                ("PolicyDocument", pretty(policy_document)),
            ],
            Call::AttachUserPolicy {
                user_name,
                policy_arn,
            }
            | Call::DetachUserPolicy {
                user_name,
                policy_arn,
            } => vec![
                (
                    "UserName",
                    user_name
                        .clone()
                        .unwrap_or_else(|| "(from iam:GetAccessKeyLastUsed at apply time)".into()),
                ),
                ("PolicyArn", policy_arn.clone()),
            ],
            Call::AttachRolePolicy {
                role_name,
                policy_arn,
            }
            | Call::DetachRolePolicy {
                role_name,
                policy_arn,
            } => vec![
                ("RoleName", role_name.clone()),
                ("PolicyArn", policy_arn.clone()),
            ],
            Call::RemoveRoleFromInstanceProfile {
                instance_profile_name,
                role_name,
            }
            | Call::AddRoleToInstanceProfile {
                instance_profile_name,
                role_name,
            } => vec![
                ("InstanceProfileName", instance_profile_name.clone()),
                ("RoleName", role_name.clone()),
            ],
            Call::DeleteRole { role_name } => vec![("RoleName", role_name.clone())],
            Call::CreateRole {
                role_name,
                path,
                assume_role_policy_document,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            } => {
                let mut v = vec![
                    ("RoleName", role_name.clone()),
                    ("Path", path.clone()),
                    (
                        "AssumeRolePolicyDocument",
                        pretty(assume_role_policy_document),
                    ),
                ];
                if let Some(d) = description {
                    v.push(("Description", d.clone()));
                }
                if let Some(m) = max_session_duration {
                    v.push(("MaxSessionDuration", m.to_string()));
                }
                if let Some(b) = permissions_boundary {
                    v.push(("PermissionsBoundary", b.clone()));
                }
                if !tags.is_empty() {
                    v.push((
                        "Tags",
                        tags.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ));
                }
                v
            }
        }
    }
}

/// A piece of IAM state a plan changes; read before and after every run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Resource {
    RoleInlinePolicy {
        role_name: String,
        policy_name: String,
    },
    UserInlinePolicy {
        user_name: String,
        policy_name: String,
    },
    RoleTrustPolicy {
        role_name: String,
    },
    AccessKey {
        user_name: Option<String>,
        access_key_id: String,
    },
    /// A managed policy attached to a user: state `true` when attached, absent otherwise.
    UserAttachedPolicy {
        user_name: Option<String>,
        policy_arn: String,
    },
    /// Everything about a role that recreate-role restores (see `derive::RoleBackup`).
    RoleBackup {
        role_name: String,
    },
}

impl Resource {
    /// The read call that captures this state.
    pub fn read_call(&self) -> String {
        match self {
            Resource::RoleInlinePolicy {
                role_name,
                policy_name,
            } => format!("iam:GetRolePolicy RoleName={role_name} PolicyName={policy_name}"),
            Resource::UserInlinePolicy {
                user_name,
                policy_name,
            } => format!("iam:GetUserPolicy UserName={user_name} PolicyName={policy_name}"),
            Resource::RoleTrustPolicy { role_name } => format!("iam:GetRole RoleName={role_name}"),
            Resource::AccessKey {
                user_name,
                access_key_id,
            } => format!(
                "iam:ListAccessKeys UserName={} (status of {access_key_id})",
                user_name.as_deref().unwrap_or("(looked up)")
            ),
            Resource::UserAttachedPolicy {
                user_name,
                policy_arn,
            } => format!(
                "iam:ListAttachedUserPolicies UserName={} (is {policy_arn} attached)",
                user_name.as_deref().unwrap_or("(looked up)")
            ),
            Resource::RoleBackup { role_name } => format!(
                "iam:GetRole, ListRolePolicies, GetRolePolicy, ListAttachedRolePolicies, ListRoleTags, \
ListInstanceProfilesForRole RoleName={role_name} (the whole role)"
            ),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Resource::RoleInlinePolicy {
                role_name,
                policy_name,
            } => format!("inline policy {policy_name} of role {role_name}"),
            Resource::UserInlinePolicy {
                user_name,
                policy_name,
            } => format!("inline policy {policy_name} of user {user_name}"),
            Resource::RoleTrustPolicy { role_name } => format!("trust policy of role {role_name}"),
            Resource::AccessKey { access_key_id, .. } => {
                format!("status of access key {access_key_id}")
            }
            Resource::UserAttachedPolicy {
                user_name,
                policy_arn,
            } => format!(
                "attachment of {policy_arn} to user {}",
                user_name.as_deref().unwrap_or("?")
            ),
            Resource::RoleBackup { role_name } => format!("role {role_name} (whole)"),
        }
    }

    /// The calls that put this resource back to `state` (None: absent).
    pub fn restore(&self, state: Option<&Value>) -> Option<Call> {
        match (self, state) {
            (
                Resource::RoleInlinePolicy {
                    role_name,
                    policy_name,
                },
                Some(doc),
            ) => Some(Call::PutRolePolicy {
                role_name: role_name.clone(),
                policy_name: policy_name.clone(),
                policy_document: doc.clone(),
            }),
            (
                Resource::RoleInlinePolicy {
                    role_name,
                    policy_name,
                },
                None,
            ) => Some(Call::DeleteRolePolicy {
                role_name: role_name.clone(),
                policy_name: policy_name.clone(),
            }),
            (
                Resource::UserInlinePolicy {
                    user_name,
                    policy_name,
                },
                Some(doc),
            ) => Some(Call::PutUserPolicy {
                user_name: user_name.clone(),
                policy_name: policy_name.clone(),
                policy_document: doc.clone(),
            }),
            (
                Resource::UserInlinePolicy {
                    user_name,
                    policy_name,
                },
                None,
            ) => Some(Call::DeleteUserPolicy {
                user_name: user_name.clone(),
                policy_name: policy_name.clone(),
            }),
            (Resource::RoleTrustPolicy { role_name }, Some(doc)) => {
                Some(Call::UpdateAssumeRolePolicy {
                    role_name: role_name.clone(),
                    policy_document: doc.clone(),
                })
            }
            (
                Resource::AccessKey {
                    user_name,
                    access_key_id,
                },
                Some(Value::String(status)),
            ) => Some(Call::UpdateAccessKey {
                user_name: user_name.clone(),
                access_key_id: access_key_id.clone(),
                status: status.clone(),
            }),
            (
                Resource::UserAttachedPolicy {
                    user_name,
                    policy_arn,
                },
                state,
            ) => Some(if state.is_some() {
                Call::AttachUserPolicy {
                    user_name: user_name.clone(),
                    policy_arn: policy_arn.clone(),
                }
            } else {
                Call::DetachUserPolicy {
                    user_name: user_name.clone(),
                    policy_arn: policy_arn.clone(),
                }
            }),
            // A role without a trust policy, a key that did not exist, a recreated role (its old
            // id cannot come back): nothing IAM can restore.
            _ => None,
        }
    }
}

/// One session as a plan sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub access_key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_by_api: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_principal: Option<String>,
    pub calls: u64,
    /// Why it is in this list.
    pub why: String,
    /// The command that would stop it (sessions this plan does not stop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The key `revoke --key` was asked about.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target: bool,
}

/// Which sessions in the logs the plan cuts off, spares, or leaves running elsewhere.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// The time the lists are judged at (the cutoff, or now).
    pub at: String,
    /// The last activity in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_end: Option<String>,
    /// Denied from `at` on: issued before the cutoff and not expired by then (or expiry unknown).
    pub cut_off: Vec<SessionRow>,
    /// Issued before the cutoff but already expired by then: nothing left to cut.
    pub expired: Vec<SessionRow>,
    /// Sessions of the same target that keep working (issued after the cutoff, another instance...).
    pub spared: Vec<SessionRow>,
    /// Sessions tied to the target that this plan does not stop (chained into other roles...).
    pub not_stopped: Vec<SessionRow>,
}

/// Everything a run does, computed before it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub playbook: String,
    pub summary: String,
    pub action: ActionKind,
    pub target: Target,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cutoff: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Reads made before any change: the target must exist (and be one IAM lets us change).
    pub checks: Vec<String>,
    /// State read before and after the calls, kept in the audit record for rollback.
    pub resources: Vec<Resource>,
    pub calls: Vec<Call>,
    pub stops: Vec<String>,
    pub does_not_stop: Vec<String>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Impact>,
    /// Calls whose documents are computed at apply time from the state read before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derive: Option<super::derive::Derive>,
    /// Why the run cannot be rolled back (said before applying).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_rollback: Option<String>,
}

/// The deny-all-before-cutoff policy, exactly as the IAM console writes it.
pub fn revoke_document(cutoff: Millis) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": format_iso(cutoff)}}
        }]
    })
}

/// Deny everything to requests made with one instance's role credentials. An ARN with `*` for
/// the region (region unknown) is matched with `ArnLike`; instance ids are unique.
pub fn instance_document(instance_arn: &str) -> Value {
    let op = if instance_arn.contains('*') {
        "ArnLike"
    } else {
        "ArnEquals"
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {op: {"ec2:SourceInstanceARN": instance_arn}}
        }]
    })
}

/// Deny everything to sessions carrying one source identity.
pub fn source_identity_document(source_identity: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"aws:SourceIdentity": source_identity}}
        }]
    })
}

/// A trust policy that lets nobody assume the role.
pub fn locked_trust_document() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrailhoundLockedTrust",
            "Effect": "Deny",
            "Principal": "*",
            "Action": [
                "sts:AssumeRole",
                "sts:AssumeRoleWithSAML",
                "sts:AssumeRoleWithWebIdentity",
                "sts:TagSession",
                "sts:SetSourceIdentity"
            ]
        }]
    })
}

/// A role as given: (name, path, ARN, account); path, ARN and account only when an ARN was given.
pub type RoleParts = (String, Option<String>, Option<String>, Option<String>);

/// Role ARN, assumed-role ARN or bare name -> (name, path, arn, account).
pub fn parse_role(s: &str) -> Result<RoleParts> {
    let s = s.trim();
    let bad = || {
        Error::Usage(format!(
            "`{s}` is not a role: give its ARN (arn:aws:iam::123456789012:role/NAME) or its name"
        ))
    };
    let arn = if s.contains(":assumed-role/") {
        assumed_role_parts(s).map(|(r, _)| r).ok_or_else(bad)?
    } else {
        s.to_string()
    };
    if let Some(rest) = arn.split_once(":role/").map(|(_, r)| r) {
        if !arn.starts_with("arn:") {
            return Err(bad());
        }
        let (path, name) = match rest.rsplit_once('/') {
            Some((p, n)) => (format!("/{p}/"), n),
            None => ("/".to_string(), rest),
        };
        if !valid_principal_name(name, 64) {
            return Err(bad());
        }
        return Ok((
            name.to_string(),
            Some(path),
            Some(arn.clone()),
            arn_account(&arn).map(str::to_string),
        ));
    }
    if valid_principal_name(&arn, 64) {
        return Ok((arn, None, None, None));
    }
    Err(bad())
}

/// User ARN or name -> (name, arn, account).
pub fn parse_user(s: &str) -> Result<(String, Option<String>, Option<String>)> {
    let s = s.trim();
    if let Some((_, rest)) = s.split_once(":user/") {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        if s.starts_with("arn:") && valid_principal_name(name, 64) {
            return Ok((
                name.to_string(),
                Some(s.to_string()),
                arn_account(s).map(str::to_string),
            ));
        }
    } else if valid_principal_name(s, 64) {
        return Ok((s.to_string(), None, None));
    }
    Err(Error::Usage(format!(
        "`{s}` is not a user: give its name or ARN (arn:aws:iam::123456789012:user/NAME)"
    )))
}

fn valid_principal_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// Access key ids: 16 to 128 upper-case letters and digits, starting with a known prefix.
pub fn valid_key_id(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.starts_with('A')
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn valid_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| {
        (8..=17).contains(&h.len())
            && h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    })
}

/// Why IAM changes to this role are refused, if they are.
pub fn role_refusal(name: &str, path: Option<&str>) -> Option<String> {
    if path.is_some_and(|p| p.starts_with("/aws-service-role/"))
        || name.starts_with("AWSServiceRoleFor")
    {
        return Some(format!(
            "refused: {name} is a service-linked role (path /aws-service-role/): IAM does not let anyone change \
its policies; its sessions belong to the AWS service that uses it. Contain what the service acts for \
instead (the resource, or the role that configured the service)"
        ));
    }
    if name.starts_with("AWSReservedSSO_")
        || path.is_some_and(|p| p.starts_with("/aws-reserved/sso.amazonaws.com/"))
    {
        return Some(format!(
            "refused: {name} is an IAM Identity Center role (AWSReservedSSO_...): its sessions must be revoked in IAM \
Identity Center, not IAM (Identity Center owns the role and IAM refuses changes to it). There: remove the \
user's permission set assignment (or disable the user) and delete their active sessions"
        ));
    }
    None
}

/// Rounds up to the next whole second (a cutoff of "now" then denies every key issued so far).
pub fn ceil_second(ms: Millis) -> Millis {
    ms.div_euclid(1000) * 1000 + if ms.rem_euclid(1000) == 0 { 0 } else { 1000 }
}

fn row(s: &Session, why: impl Into<String>, highlight: Option<&str>) -> SessionRow {
    let o = |v: &Option<crate::event::Text>| v.as_deref().map(str::to_string);
    SessionRow {
        access_key_id: s.access_key_id.to_string(),
        issued_by_api: o(&s.issued_by_api),
        issued_at: s.issued_at.map(format_iso),
        expires_at: s.expires_at.map(format_iso),
        last_used: s.last_used.map(format_iso),
        role_arn: o(&s.role_arn),
        session_name: o(&s.session_name),
        source_identity: o(&s.source_identity),
        root_principal: o(&s.root_principal),
        calls: s.calls,
        why: why.into(),
        next: None,
        target: highlight == Some(&*s.access_key_id),
    }
}

/// The role name in a role ARN.
fn role_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn same_role(s: &Session, name: &str, account: Option<&str>) -> bool {
    s.role_arn.as_deref().is_some_and(|r| {
        role_name_of(r) == name && account.is_none_or(|a| arn_account(r).is_none_or(|ra| ra == a))
    })
}

fn sessions_of_role<'g>(g: &'g Graph, name: &str, account: Option<&str>) -> Vec<&'g Session> {
    g.sessions
        .iter()
        .filter(|s| same_role(s, name, account))
        .collect()
}

fn is_user(arn: Option<&str>, name: &str, account: Option<&str>) -> bool {
    arn.is_some_and(|a| {
        a.contains(":user/")
            && a.rsplit('/').next() == Some(name)
            && account.is_none_or(|acct| arn_account(a).is_none_or(|x| x == acct))
    })
}

fn next_for(s: &Session) -> Option<String> {
    if let Some(r) = s.role_arn.as_deref() {
        return Some(format!(
            "trailhound playbook run revoke-role-sessions --role {}",
            shell_quote(r)
        ));
    }
    let user = s.caller_arn.as_deref().or(s.root_principal.as_deref())?;
    user.contains(":user/").then(|| {
        format!(
            "trailhound playbook run revoke-user-sessions --user {}",
            shell_quote(user)
        )
    })
}

/// Sessions issued down the chain from `keys` that are not in `covered`.
fn chained_elsewhere(
    g: &Graph,
    keys: &[String],
    covered: &BTreeSet<String>,
    highlight: Option<&str>,
) -> Vec<SessionRow> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for k in keys {
        for d in g.descendants(k).into_iter().skip(1) {
            let key = d.access_key_id.to_string();
            if covered.contains(&key) || !seen.insert(key) {
                continue;
            }
            let mut r = row(
                d,
                format!(
                    "issued from {} before the change: its own credentials are not covered",
                    d.parent_access_key_id
                        .as_deref()
                        .unwrap_or("a covered session")
                ),
                highlight,
            );
            r.next = next_for(d);
            out.push(r);
        }
    }
    out
}

/// Splits sessions by a cutoff: cut off, expired, spared.
fn by_cutoff(
    sessions: Vec<&Session>,
    cutoff: Millis,
    highlight: Option<&str>,
    imp: &mut Impact,
) -> Vec<String> {
    let mut hit = Vec::new();
    for s in sessions {
        match (s.issued_at, s.first_used) {
            (Some(t), _) if t >= cutoff => imp.spared.push(row(
                s,
                "issued at or after the cutoff: its token issue time is not before it",
                highlight,
            )),
            (None, Some(f)) if f >= cutoff => imp.spared.push(row(
                s,
                "issuing call not in the logs and first used after the cutoff: denied only if issued before it",
                highlight,
            )),
            (None, None) => imp.spared.push(row(s, "issue time unknown", highlight)),
            _ => {
                if s.expires_at.is_some_and(|e| e <= cutoff) {
                    imp.expired
                        .push(row(s, "issued before the cutoff, expired by then", highlight));
                } else {
                    let why = if s.issued_at.is_some() {
                        if s.expires_at.is_some() {
                            "issued before the cutoff, valid past it"
                        } else {
                            "issued before the cutoff, expiry not in the logs"
                        }
                    } else {
                        "in use before the cutoff (issuing call not in the logs)"
                    };
                    imp.cut_off.push(row(s, why, highlight));
                }
                hit.push(s.access_key_id.to_string());
            }
        }
    }
    hit
}

fn path_of(t: &Target) -> Option<&str> {
    match t {
        Target::Role { path, .. } => path.as_deref(),
        _ => None,
    }
}

/// Sessions of a role whose trust policy changes: new sessions are affected, issued ones are not.
fn role_trust_impact(
    sessions: Option<Vec<&Session>>,
    imp: Option<&mut Impact>,
    now: Millis,
    highlight: Option<&str>,
) {
    let (Some(sessions), Some(imp)) = (sessions, imp) else {
        return;
    };
    imp.at = format_iso(now);
    for s in sessions {
        if s.expires_at.is_some_and(|e| e <= now) {
            imp.expired.push(row(s, "already expired", highlight));
        } else {
            let mut r = row(s, "already issued: works until it expires", highlight);
            r.next = next_for(s);
            imp.not_stopped.push(r);
        }
    }
}

fn logs_end(g: &Graph) -> Option<Millis> {
    g.sessions
        .iter()
        .filter_map(|s| s.last_used.max(s.issued_at))
        .max()
}

/// Builds the plan. `graph` (from `--logs`) fills in what the command line left out (a role's
/// ARN, an instance's role, a key's user) and gives the session lists.
pub fn build(pb: &Playbook, req: &Request, graph: Option<&Graph>) -> Result<Plan> {
    let given: Vec<(TargetKind, bool)> = vec![
        (TargetKind::Role, req.role.is_some()),
        (TargetKind::User, req.user.is_some()),
        (TargetKind::Key, req.key.is_some()),
        (TargetKind::Instance, req.instance.is_some()),
    ];
    let wanted = pb.target;
    let present = |k: TargetKind| given.iter().any(|(t, g)| *t == k && *g);
    if !present(wanted) {
        return Err(Error::Usage(format!(
            "playbook {} acts on a {wanted}: give {}",
            pb.name,
            wanted.flag()
        )));
    }
    // Extra targets are accepted only where they mean something.
    for (k, g) in &given {
        let allowed = *k == wanted
            || (wanted == TargetKind::Instance && *k == TargetKind::Role)
            || (wanted == TargetKind::Key && *k == TargetKind::User);
        if *g && !allowed {
            return Err(Error::Usage(format!(
                "playbook {} acts on a {wanted} ({}); {} does not apply",
                pb.name,
                wanted.flag(),
                k.flag()
            )));
        }
    }
    if req.source_identity.is_some() && pb.action != ActionKind::DenySourceIdentity {
        return Err(Error::Usage(format!(
            "--source-identity applies to deny-source-identity playbooks, not {}",
            pb.name
        )));
    }
    if (!req.allow_networks.is_empty() || !req.allow_vpcs.is_empty())
        && pb.action != ActionKind::RestrictTrust
    {
        return Err(Error::Usage(format!(
            "--allow-network and --allow-vpc apply to restrict-role-trust playbooks, not {}",
            pb.name
        )));
    }
    if req.cutoff.is_some() && pb.action != ActionKind::RevokeOlderSessions {
        return Err(Error::Usage(format!(
            "--cutoff applies to revoke playbooks, not {} (it has no cutoff)",
            pb.name
        )));
    }
    let highlight = req.highlight_key.as_deref();
    // "Now", to the whole second up: a default cutoff then denies every key issued so far.
    let now = ceil_second(req.now);
    let mut notes = Vec::new();
    let mut imp = graph.map(|g| Impact {
        logs_end: logs_end(g).map(format_iso),
        ..Impact::default()
    });

    // Resolve the role (for role and instance targets).
    let role = |notes: &mut Vec<String>| -> Result<Option<RoleParts>> {
        let Some(r) = &req.role else { return Ok(None) };
        let (name, path, arn, account) = parse_role(r)?;
        if arn.is_some() {
            return Ok(Some((name, path, arn, account)));
        }
        // A bare name: take the ARN from the logs when exactly one account has the role.
        let found: BTreeSet<&str> = graph
            .map(|g| {
                g.sessions
                    .iter()
                    .filter(|s| same_role(s, &name, None))
                    .filter_map(|s| s.role_arn.as_deref())
                    .collect()
            })
            .unwrap_or_default();
        if found.len() == 1 {
            let a = found
                .iter()
                .next()
                .map(|s| s.to_string())
                .unwrap_or_default();
            notes.push(format!("role ARN {a} taken from the logs"));
            let (n, p, arn, acct) = parse_role(&a)?;
            return Ok(Some((n, p, arn, acct)));
        }
        if found.len() > 1 {
            notes.push(format!(
                "several roles named {name} in the logs ({}): give the ARN to pick the account",
                found.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(Some((name, None, None, None)))
    };

    let mut plan = Plan {
        playbook: pb.name.clone(),
        summary: pb.summary.clone(),
        action: pb.action,
        target: Target::Role {
            name: String::new(),
            arn: None,
            path: None,
        },
        account: None,
        cutoff: None,
        instance_arn: None,
        source_identity: None,
        checks: Vec::new(),
        resources: Vec::new(),
        calls: Vec::new(),
        stops: pb.stops.clone(),
        does_not_stop: pb.does_not_stop.clone(),
        notes: Vec::new(),
        sessions: None,
        derive: None,
        no_rollback: None,
    };
    let policy_name = |value: Option<&str>| -> Result<String> {
        let template = pb
            .policy_name
            .clone()
            .unwrap_or_else(|| CONSOLE_REVOKE_POLICY.into());
        let name = match (pb.action.placeholder(), value) {
            (Some(ph), Some(v)) => template.replace(ph, v),
            _ => template,
        };
        if !super::spec::valid_iam_name(&name) {
            return Err(Error::Usage(format!(
                "policy name `{name}` is not a valid IAM policy name (1 to 128 of A-Z a-z 0-9 + = , . @ _ -)"
            )));
        }
        Ok(name)
    };

    match pb.action {
        ActionKind::RevokeOlderSessions
        | ActionKind::DenySourceIdentity
        | ActionKind::LockTrust
        | ActionKind::RestrictTrust
        | ActionKind::RotateExternalId
        | ActionKind::RecreateRole
            if wanted == TargetKind::Role =>
        {
            let Some((name, path, arn, account)) = role(&mut notes)? else {
                return Err(Error::Usage(format!("playbook {} needs --role", pb.name)));
            };
            if let Some(why) = role_refusal(&name, path.as_deref()) {
                return Err(Error::Usage(why));
            }
            plan.checks.push(format!(
                "iam:GetRole RoleName={name} (the role exists; not service-linked or Identity Center)"
            ));
            plan.account = account.clone();
            plan.target = Target::Role {
                name: name.clone(),
                arn: arn.clone(),
                path,
            };
            let role_sessions = |g| sessions_of_role(g, &name, account.as_deref());
            match pb.action {
                ActionKind::RevokeOlderSessions => {
                    let cutoff = req.cutoff.unwrap_or(now);
                    let policy_name = policy_name(None)?;
                    plan.cutoff = Some(format_iso(cutoff));
                    plan.resources.push(Resource::RoleInlinePolicy {
                        role_name: name.clone(),
                        policy_name: policy_name.clone(),
                    });
                    plan.calls.push(Call::PutRolePolicy {
                        role_name: name.clone(),
                        policy_name: policy_name.clone(),
                        policy_document: revoke_document(cutoff),
                    });
                    notes.push(format!(
                        "if the role already has the inline policy {policy_name}, this replaces it: the cutoff moves, no second policy is added"
                    ));
                    if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                        imp.at = format_iso(cutoff);
                        let hit = by_cutoff(role_sessions(g), cutoff, highlight, imp);
                        let covered: BTreeSet<String> = role_sessions(g)
                            .iter()
                            .map(|s| s.access_key_id.to_string())
                            .collect();
                        imp.not_stopped = chained_elsewhere(g, &hit, &covered, highlight);
                    }
                }
                ActionKind::DenySourceIdentity => {
                    let si = req.source_identity.as_deref().ok_or_else(|| {
                        Error::Usage(format!("playbook {} needs --source-identity", pb.name))
                    })?;
                    if si.is_empty() || si.len() > 64 || !valid_principal_name(si, 64) {
                        return Err(Error::Usage(format!(
                            "`{si}` is not a source identity (2 to 64 of A-Z a-z 0-9 + = , . @ -)"
                        )));
                    }
                    let policy_name = policy_name(Some(si))?;
                    plan.source_identity = Some(si.to_string());
                    plan.resources.push(Resource::RoleInlinePolicy {
                        role_name: name.clone(),
                        policy_name: policy_name.clone(),
                    });
                    plan.calls.push(Call::PutRolePolicy {
                        role_name: name.clone(),
                        policy_name,
                        policy_document: source_identity_document(si),
                    });
                    if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                        imp.at = format_iso(now);
                        let mut hit = Vec::new();
                        for s in role_sessions(g) {
                            if s.source_identity.as_deref() == Some(si) {
                                if s.expires_at.is_some_and(|e| e <= now) {
                                    imp.expired.push(row(
                                        s,
                                        "carries the source identity; already expired",
                                        highlight,
                                    ));
                                } else {
                                    imp.cut_off.push(row(
                                        s,
                                        "carries the source identity",
                                        highlight,
                                    ));
                                }
                                hit.push(s.access_key_id.to_string());
                            } else {
                                imp.spared.push(row(
                                    s,
                                    match s.source_identity.as_deref() {
                                        Some(_) => "another source identity",
                                        None => "no source identity",
                                    },
                                    highlight,
                                ));
                            }
                        }
                        let covered: BTreeSet<String> = role_sessions(g)
                            .iter()
                            .map(|s| s.access_key_id.to_string())
                            .collect();
                        for s in &g.sessions {
                            let key = s.access_key_id.to_string();
                            if s.source_identity.as_deref() == Some(si) && !covered.contains(&key) {
                                let mut r = row(
                                    s,
                                    "same source identity, another role or no role",
                                    highlight,
                                );
                                r.next = s.role_arn.as_deref().map(|r| {
                                    format!(
                                        "trailhound playbook run {} --role {} --source-identity {}",
                                        pb.name,
                                        shell_quote(r),
                                        shell_quote(si)
                                    )
                                });
                                imp.not_stopped.push(r);
                            }
                        }
                        let mut more = chained_elsewhere(g, &hit, &covered, highlight);
                        more.retain(|r| {
                            !imp.not_stopped
                                .iter()
                                .any(|x| x.access_key_id == r.access_key_id)
                        });
                        imp.not_stopped.extend(more);
                    }
                }
                ActionKind::RestrictTrust => {
                    let d = super::derive::Derive::restrict(&req.allow_networks, &req.allow_vpcs)?;
                    plan.resources.push(Resource::RoleTrustPolicy {
                        role_name: name.clone(),
                    });
                    plan.calls.push(Call::UpdateAssumeRolePolicy {
                        role_name: name.clone(),
                        policy_document: d.preview(),
                    });
                    notes.push("the document above shows the condition added: at apply time the current trust policy is read and every Allow statement with an AWS or federated principal keeps its principals, actions and conditions and gains it (statements for AWS service principals are left alone); the document sent is in the audit record".into());
                    notes.push("the current trust policy is kept in the audit record; `trailhound playbook rollback RUN_ID` puts it back".into());
                    plan.derive = Some(d);
                    role_trust_impact(graph.map(role_sessions), imp.as_mut(), now, highlight);
                }
                ActionKind::RotateExternalId => {
                    let d = super::derive::Derive::RotateExternalId { new_id: None };
                    plan.resources.push(Resource::RoleTrustPolicy {
                        role_name: name.clone(),
                    });
                    plan.calls.push(Call::UpdateAssumeRolePolicy {
                        role_name: name.clone(),
                        policy_document: d.preview(),
                    });
                    notes.push("at apply time the current trust policy is read and the value of every sts:ExternalId condition is replaced with one new random id (with none, every Allow statement with an AWS principal gets the condition); the new id is printed once and never stored: the audit record keeps its SHA-256".into());
                    plan.no_rollback = Some("the old external id is not kept (a secret, and a leaked one): rollback is refused; run rotate-external-id again for another id".into());
                    plan.derive = Some(d);
                    role_trust_impact(graph.map(role_sessions), imp.as_mut(), now, highlight);
                }
                ActionKind::RecreateRole => {
                    plan.resources.push(Resource::RoleBackup {
                        role_name: name.clone(),
                    });
                    plan.calls = super::derive::recreate_preview(&name, path_of(&plan.target));
                    notes.push("the calls above are the sequence: one RemoveRoleFromInstanceProfile, DetachRolePolicy, DeleteRolePolicy per instance profile and policy the backup finds, then DeleteRole, CreateRole with the backed-up path, trust policy, description, maximum session duration, permissions boundary and tags, and one PutRolePolicy, AttachRolePolicy, AddRoleToInstanceProfile per item; the backup and the exact calls are in the audit record".into());
                    notes.push("after the calls the role is read again and compared with the backup (everything but the role id must match)".into());
                    plan.no_rollback = Some(format!("the role id of {name} cannot come back: every session of the old role dies for good, and rollback is refused; applying needs --confirm-new-role-id"));
                    plan.derive = Some(super::derive::Derive::RecreateRole);
                    if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                        imp.at = format_iso(now);
                        for s in role_sessions(g) {
                            if s.expires_at.is_some_and(|e| e <= now) {
                                imp.expired.push(row(s, "already expired", highlight));
                            } else {
                                imp.cut_off.push(row(
                                    s,
                                    "carries the old role id: rejected once the role is recreated",
                                    highlight,
                                ));
                            }
                        }
                        let hit: Vec<String> = role_sessions(g)
                            .iter()
                            .map(|s| s.access_key_id.to_string())
                            .collect();
                        let covered: BTreeSet<String> = hit.iter().cloned().collect();
                        imp.not_stopped = chained_elsewhere(g, &hit, &covered, highlight);
                    }
                }
                _ => {
                    plan.resources.push(Resource::RoleTrustPolicy {
                        role_name: name.clone(),
                    });
                    plan.calls.push(Call::UpdateAssumeRolePolicy {
                        role_name: name.clone(),
                        policy_document: locked_trust_document(),
                    });
                    notes.push("the current trust policy is read first and kept in the audit record; `trailhound playbook rollback RUN_ID` puts it back".into());
                    if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                        imp.at = format_iso(now);
                        for s in role_sessions(g) {
                            if s.expires_at.is_some_and(|e| e <= now) {
                                imp.expired.push(row(s, "already expired", highlight));
                            } else {
                                let mut r =
                                    row(s, "already issued: works until it expires", highlight);
                                r.next = next_for(s);
                                imp.not_stopped.push(r);
                            }
                        }
                    }
                }
            }
        }
        ActionKind::RevokeOlderSessions => {
            let (name, arn, account) = parse_user(req.user.as_deref().unwrap_or_default())?;
            let cutoff = req.cutoff.unwrap_or(now);
            let policy_name = policy_name(None)?;
            plan.checks
                .push(format!("iam:GetUser UserName={name} (the user exists)"));
            plan.account = account.clone();
            plan.cutoff = Some(format_iso(cutoff));
            plan.target = Target::User {
                name: name.clone(),
                arn,
            };
            plan.resources.push(Resource::UserInlinePolicy {
                user_name: name.clone(),
                policy_name: policy_name.clone(),
            });
            plan.calls.push(Call::PutUserPolicy {
                user_name: name.clone(),
                policy_name: policy_name.clone(),
                policy_document: revoke_document(cutoff),
            });
            notes.push(format!(
                "if the user already has the inline policy {policy_name}, this replaces it: the cutoff moves"
            ));
            notes.push(format!(
                "the user's long-term access keys keep working: run deactivate-access-key --key AKIA... --user {name}"
            ));
            if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                imp.at = format_iso(cutoff);
                let acct = account.as_deref();
                let mine: Vec<&Session> = g
                    .sessions
                    .iter()
                    .filter(|s| {
                        let api = s.issued_by_api.as_deref().unwrap_or("");
                        (matches!(api, "GetSessionToken" | "GetFederationToken")
                            && is_user(s.caller_arn.as_deref(), &name, acct))
                            || (api == "ConsoleLogin"
                                && is_user(s.root_principal.as_deref(), &name, acct))
                    })
                    .collect();
                let covered: BTreeSet<String> =
                    mine.iter().map(|s| s.access_key_id.to_string()).collect();
                let hit = by_cutoff(mine, cutoff, highlight, imp);
                imp.not_stopped = chained_elsewhere(g, &hit, &covered, highlight);
                for s in &g.sessions {
                    let key = s.access_key_id.to_string();
                    if s.parent_access_key_id.is_none()
                        && s.role_arn.is_some()
                        && is_user(s.caller_arn.as_deref(), &name, acct)
                        && !covered.contains(&key)
                        && !imp.not_stopped.iter().any(|r| r.access_key_id == key)
                        && s.expires_at.is_none_or(|e| e > cutoff)
                    {
                        let mut r = row(
                            s,
                            "role session assumed with the user's long-term key",
                            highlight,
                        );
                        r.next = next_for(s);
                        imp.not_stopped.push(r);
                    }
                }
            }
        }
        ActionKind::DeactivateAccessKey | ActionKind::QuarantineKey => {
            let key = req.key.clone().unwrap_or_default();
            if !valid_key_id(&key) {
                return Err(Error::Usage(format!("`{key}` is not an access key id")));
            }
            if key.starts_with("ASIA") {
                return Err(Error::Usage(format!(
                    "{key} is a temporary key (ASIA...): temporary keys cannot be deactivated. Deny its \
session instead: `trailhound revoke --key {key} --logs PATH...` (or playbook revoke-role-sessions)"
                )));
            }
            if !key.starts_with("AKIA") {
                return Err(Error::Usage(format!(
                    "{key} is not an IAM user access key (AKIA...): only those can be deactivated"
                )));
            }
            let mut user = match &req.user {
                Some(u) => Some(parse_user(u)?),
                None => None,
            };
            if user.is_none() {
                if let Some(g) = graph {
                    // The user whose long-term key issued sessions in the logs.
                    let users: BTreeSet<&str> = g
                        .sessions
                        .iter()
                        .filter(|s| s.caller_access_key_id.as_deref() == Some(key.as_str()))
                        .filter_map(|s| s.caller_arn.as_deref())
                        .filter(|a| a.contains(":user/"))
                        .collect();
                    if users.len() == 1 {
                        let a = users.iter().next().copied().unwrap_or_default();
                        notes.push(format!("user {a} taken from the logs"));
                        user = Some(parse_user(a)?);
                    }
                }
            }
            let user_name = user.as_ref().map(|u| u.0.clone());
            plan.account = user.as_ref().and_then(|u| u.2.clone());
            if user_name.is_none() {
                plan.checks.push(format!(
                    "iam:GetAccessKeyLastUsed AccessKeyId={key} (to find the key's user; give --user to skip)"
                ));
            }
            plan.checks.push(format!(
                "iam:ListAccessKeys UserName={} (the key exists and belongs to the user)",
                user_name.as_deref().unwrap_or("(the user)")
            ));
            plan.target = Target::Key {
                access_key_id: key.clone(),
                user: user_name.clone(),
            };
            plan.resources.push(Resource::AccessKey {
                user_name: user_name.clone(),
                access_key_id: key.clone(),
            });
            if pb.action == ActionKind::QuarantineKey {
                plan.resources.push(Resource::UserAttachedPolicy {
                    user_name: user_name.clone(),
                    policy_arn: QUARANTINE_POLICY_ARN.into(),
                });
                plan.calls.push(Call::AttachUserPolicy {
                    user_name: user_name.clone(),
                    policy_arn: QUARANTINE_POLICY_ARN.into(),
                });
                notes.push(format!("{QUARANTINE_POLICY_ARN} applies to the whole user (all its keys and tokens), not to one key; the key still authenticates: deactivate-access-key stops it"));
            } else {
                plan.calls.push(Call::UpdateAccessKey {
                    user_name: user_name.clone(),
                    access_key_id: key.clone(),
                    status: "Inactive".into(),
                });
            }
            if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                imp.at = format_iso(now);
                for s in g
                    .sessions
                    .iter()
                    .filter(|s| s.caller_access_key_id.as_deref() == Some(key.as_str()))
                {
                    let why = match s.issued_by_api.as_deref() {
                        Some("GetFederationToken") => {
                            "federation token made from the key: survives deactivation"
                        }
                        Some("GetSessionToken") => {
                            "session token made from the key: may keep working until it expires"
                        }
                        _ => "role session assumed with the key: keeps working until it expires",
                    };
                    if s.expires_at.is_some_and(|e| e <= now) {
                        imp.expired
                            .push(row(s, "made from the key; already expired", highlight));
                        continue;
                    }
                    let mut r = row(s, why, highlight);
                    r.next = next_for(s);
                    imp.not_stopped.push(r);
                }
            }
        }
        ActionKind::DenyInstance => {
            let instance = req.instance.clone().unwrap_or_default();
            if !valid_instance_id(&instance) {
                return Err(Error::Usage(format!(
                    "`{instance}` is not an EC2 instance id (i- and 8 or 17 hex digits)"
                )));
            }
            let from_logs: Vec<&Session> = graph
                .map(|g| {
                    g.sessions
                        .iter()
                        .filter(|s| {
                            s.session_name.as_deref() == Some(instance.as_str())
                                && s.role_arn.is_some()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let (name, path, arn, account) = match role(&mut notes)? {
                Some(r) => r,
                None => {
                    let roles: BTreeSet<&str> = from_logs
                        .iter()
                        .filter_map(|s| s.role_arn.as_deref())
                        .collect();
                    match roles.len() {
                        1 => {
                            let a = roles.iter().next().copied().unwrap_or_default();
                            notes.push(format!("role {a} taken from the logs (the instance-profile session {instance})"));
                            parse_role(a)?
                        }
                        0 => {
                            return Err(Error::Usage(format!(
                                "no instance-profile session of {instance} in the logs: give its role with --role ARN{}",
                                if graph.is_none() { " (or --logs PATH...)" } else { "" }
                            )))
                        }
                        _ => {
                            return Err(Error::Usage(format!(
                                "{instance} used several roles in the logs ({}): pick one with --role",
                                roles.iter().copied().collect::<Vec<_>>().join(", ")
                            )))
                        }
                    }
                }
            };
            if let Some(why) = role_refusal(&name, path.as_deref()) {
                return Err(Error::Usage(why));
            }
            let account = account
                .or_else(|| from_logs.iter().find_map(|s| s.account.as_deref().map(str::to_string)))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "the instance ARN needs the account: give --role as an ARN (arn:aws:iam::ACCOUNT:role/{name})"
                    ))
                })?;
            let region = match &req.region {
                Some(r) => r.clone(),
                None => {
                    notes.push(format!(
                        "the instance's region is not known (give --region, or --logs with its calls): the policy \
matches {instance} in any region with ArnLike"
                    ));
                    "*".to_string()
                }
            };
            let partition = arn
                .as_deref()
                .and_then(|a| a.split(':').nth(1))
                .unwrap_or("aws")
                .to_string();
            let instance_arn =
                format!("arn:{partition}:ec2:{region}:{account}:instance/{instance}");
            let policy_name = policy_name(Some(&instance))?;
            plan.checks.push(format!(
                "iam:GetRole RoleName={name} (the role exists; not service-linked or Identity Center)"
            ));
            plan.account = Some(account.clone());
            plan.instance_arn = Some(instance_arn.clone());
            plan.target = Target::Role {
                name: name.clone(),
                arn,
                path,
            };
            plan.resources.push(Resource::RoleInlinePolicy {
                role_name: name.clone(),
                policy_name: policy_name.clone(),
            });
            plan.calls.push(Call::PutRolePolicy {
                role_name: name.clone(),
                policy_name,
                policy_document: instance_document(&instance_arn),
            });
            if let (Some(g), Some(imp)) = (graph, imp.as_mut()) {
                imp.at = format_iso(now);
                let mut hit = Vec::new();
                let mut covered = BTreeSet::new();
                for s in g
                    .sessions
                    .iter()
                    .filter(|s| same_role(s, &name, Some(&account)))
                {
                    covered.insert(s.access_key_id.to_string());
                    if s.session_name.as_deref() == Some(instance.as_str()) {
                        hit.push(s.access_key_id.to_string());
                        if s.expires_at.is_some_and(|e| e <= now) {
                            imp.expired.push(row(
                                s,
                                "this instance's credentials; already expired",
                                highlight,
                            ));
                        } else {
                            imp.cut_off
                                .push(row(s, "this instance's credentials", highlight));
                        }
                    } else {
                        imp.spared
                            .push(row(s, "another session of the role", highlight));
                    }
                }
                imp.not_stopped = chained_elsewhere(g, &hit, &covered, highlight);
            }
        }
        _ => {
            return Err(Error::Usage(format!(
                "playbook {}: action {} does not work on a {wanted}",
                pb.name,
                pb.action.name()
            )))
        }
    }
    if let Some(imp) = &imp {
        if imp.cut_off.is_empty() && !imp.expired.is_empty() {
            notes.push(format!(
                "every matching session in the logs had expired by {} (the logs end at {}): they show what \
happened, not what is live; sessions issued after the logs are covered the same way",
                imp.at,
                imp.logs_end.as_deref().unwrap_or("?")
            ));
        }
    }
    plan.notes = notes;
    plan.sessions = imp;
    Ok(plan)
}

#[cfg(test)]
mod tests;
