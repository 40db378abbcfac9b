//! Plan -> IAM: the only part of trailhound that changes an AWS account.
//!
//! [`apply`] checks the caller's account and the target, reads the state before, runs the calls in
//! order (stopping at the first failure), reads the state after, and appends an audit
//! [`Record`]. [`rollback`] does the same with the calls that restore a record's state before.
//! Throttling and transient errors are retried with exponential backoff and jitter; the SDK's own
//! retries are off, so the audit record counts every attempt.

use super::audit::{self, CallRecord, CallStatus, Caller, Outcome, Record, RunKind, Snapshot};
use super::plan::{role_refusal, Call, Plan, Resource, Target};
use crate::error::{Error, Result};
use crate::event::{format_iso, Millis};
use serde_json::Value;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

pub use crate::aws::Connection;

pub use crate::aws::{sdk_error, CallError};

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_attempts: 6,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait before attempt `n + 1` (n >= 1): half of `base * 2^(n-1)` (capped) plus jitter up to the other half.
    pub fn delay(&self, n: u32, jitter_seed: u64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (n.saturating_sub(1)).min(16));
        let full = exp.min(self.cap).as_millis() as u64;
        let half = full / 2;
        Duration::from_millis(
            half + if half == 0 {
                0
            } else {
                jitter_seed % (half + 1)
            },
        )
    }
}

/// Runs `f` until it succeeds, fails with an error that is not worth retrying, or runs out of
/// attempts. Returns the result and the number of attempts.
pub async fn with_retry<T, F, Fut>(
    policy: &Backoff,
    mut f: F,
) -> (std::result::Result<T, CallError>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, CallError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return (Ok(v), attempt),
            Err(e) if e.retryable() && attempt < policy.max_attempts => {
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos()));
                tokio::time::sleep(policy.delay(attempt, seed)).await;
            }
            Err(e) => return (Err(e), attempt),
        }
    }
}

/// Policy documents come back URL-encoded from IAM (GetRolePolicy, GetRole...).
pub fn decode_document(s: &str) -> std::result::Result<Value, String> {
    let t = s.trim();
    let text = if t.starts_with('{') {
        t.to_string()
    } else {
        percent_encoding::percent_decode_str(t)
            .decode_utf8()
            .map_err(|e| format!("policy document is not UTF-8 after URL-decoding: {e}"))?
            .into_owned()
    };
    serde_json::from_str(&text).map_err(|e| format!("policy document is not JSON: {e}"))
}

/// A role as GetRole returns it.
#[derive(Debug, Clone)]
pub struct RoleInfo {
    pub arn: String,
    pub path: String,
    pub trust: Option<Value>,
}

/// IAM and STS clients on one small runtime.
pub struct Aws {
    rt: tokio::runtime::Runtime,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    backoff: Backoff,
    pub conn: Connection,
}

impl Aws {
    /// Loads credentials and region the way the AWS CLI does (environment, profile, SSO cache is
    /// not supported, container and instance roles), then assumes `--assume-role` if given.
    pub fn connect(conn: &Connection, session_name: &str) -> Result<Aws> {
        let rt = crate::aws::runtime()
            .map_err(|e| Error::Other(format!("cannot start the AWS client runtime: {e}")))?;
        let (iam, sts) = rt.block_on(async {
            let base = crate::aws::load(conn, 1).await;
            match &conn.assume_role {
                None => (
                    aws_sdk_iam::Client::new(&base),
                    aws_sdk_sts::Client::new(&base),
                ),
                Some(role) => {
                    let mut b = aws_config::sts::AssumeRoleProvider::builder(role)
                        .session_name(session_name);
                    if let Some(x) = &conn.external_id {
                        b = b.external_id(x);
                    }
                    let provider = aws_sdk_iam::config::SharedCredentialsProvider::new(
                        b.configure(&base).build().await,
                    );
                    let iam = aws_sdk_iam::config::Builder::from(&base)
                        .credentials_provider(provider.clone())
                        .build();
                    let sts = aws_sdk_sts::config::Builder::from(&base)
                        .credentials_provider(provider)
                        .build();
                    (
                        aws_sdk_iam::Client::from_conf(iam),
                        aws_sdk_sts::Client::from_conf(sts),
                    )
                }
            }
        });
        Ok(Aws {
            rt,
            iam,
            sts,
            backoff: Backoff::default(),
            conn: conn.clone(),
        })
    }

    fn retry<T, F, Fut>(&self, f: F) -> (std::result::Result<T, CallError>, u32)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, CallError>>,
    {
        self.rt.block_on(with_retry(&self.backoff, f))
    }

    pub fn caller(&self) -> std::result::Result<Caller, CallError> {
        self.retry(|| async {
            let o = self
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(sdk_error)?;
            Ok(Caller {
                account: o.account().map(str::to_string),
                arn: o.arn().map(str::to_string),
                user_id: o.user_id().map(str::to_string),
            })
        })
        .0
    }

    /// GetRole; None when the role does not exist.
    pub fn get_role(&self, name: &str) -> std::result::Result<Option<RoleInfo>, CallError> {
        let r = self
            .retry(|| async {
                let o = self
                    .iam
                    .get_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                let role = o.role().ok_or_else(|| CallError {
                    code: "BadResponse".into(),
                    message: "GetRole returned no role".into(),
                })?;
                let trust = match role.assume_role_policy_document() {
                    Some(d) => Some(decode_document(d).map_err(|m| CallError {
                        code: "BadResponse".into(),
                        message: m,
                    })?),
                    None => None,
                };
                Ok(RoleInfo {
                    arn: role.arn().to_string(),
                    path: role.path().to_string(),
                    trust,
                })
            })
            .0;
        not_found_is_none(r)
    }

    /// GetUser; the user's ARN, None when the user does not exist.
    pub fn get_user(&self, name: &str) -> std::result::Result<Option<String>, CallError> {
        let r = self
            .retry(|| async {
                let o = self
                    .iam
                    .get_user()
                    .user_name(name)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.user().map(|u| u.arn().to_string()).unwrap_or_default())
            })
            .0;
        not_found_is_none(r)
    }

    /// GetAccessKeyLastUsed: the key's user, None when the key does not exist.
    pub fn key_user(&self, key: &str) -> std::result::Result<Option<String>, CallError> {
        let r = self
            .retry(|| async {
                let o = self
                    .iam
                    .get_access_key_last_used()
                    .access_key_id(key)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.user_name().map(str::to_string))
            })
            .0;
        not_found_is_none(r).map(Option::flatten)
    }

    /// The state of a resource: the policy document, the key status, or None when absent.
    pub fn read(&self, r: &Resource) -> std::result::Result<Option<Value>, CallError> {
        let decode = |d: &str| {
            decode_document(d).map_err(|m| CallError {
                code: "BadResponse".into(),
                message: m,
            })
        };
        match r {
            Resource::RoleInlinePolicy {
                role_name,
                policy_name,
            } => not_found_is_none(
                self.retry(|| async {
                    let o = self
                        .iam
                        .get_role_policy()
                        .role_name(role_name)
                        .policy_name(policy_name)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    decode(o.policy_document())
                })
                .0,
            ),
            Resource::UserInlinePolicy {
                user_name,
                policy_name,
            } => not_found_is_none(
                self.retry(|| async {
                    let o = self
                        .iam
                        .get_user_policy()
                        .user_name(user_name)
                        .policy_name(policy_name)
                        .send()
                        .await
                        .map_err(sdk_error)?;
                    decode(o.policy_document())
                })
                .0,
            ),
            Resource::RoleTrustPolicy { role_name } => {
                Ok(self.get_role(role_name)?.and_then(|r| r.trust))
            }
            Resource::AccessKey {
                user_name,
                access_key_id,
            } => {
                let Some(user) = user_name else {
                    return Err(CallError {
                        code: "UnknownUser".into(),
                        message: format!("the user of {access_key_id} is not known"),
                    });
                };
                let r = self
                    .retry(|| async {
                        let o = self
                            .iam
                            .list_access_keys()
                            .user_name(user)
                            .send()
                            .await
                            .map_err(sdk_error)?;
                        Ok(o.access_key_metadata()
                            .iter()
                            .find(|k| k.access_key_id() == Some(access_key_id.as_str()))
                            .and_then(|k| k.status())
                            .map(|s| Value::String(s.as_str().to_string())))
                    })
                    .0;
                not_found_is_none(r).map(Option::flatten)
            }
            Resource::UserAttachedPolicy {
                user_name,
                policy_arn,
            } => {
                let Some(user) = user_name else {
                    return Err(CallError {
                        code: "UnknownUser".into(),
                        message: "the user is not known".into(),
                    });
                };
                let r = self
                    .retry(|| async {
                        let o = self
                            .iam
                            .list_attached_user_policies()
                            .user_name(user)
                            .max_items(1000)
                            .send()
                            .await
                            .map_err(sdk_error)?;
                        Ok(o.attached_policies()
                            .iter()
                            .any(|p| p.policy_arn() == Some(policy_arn.as_str()))
                            .then_some(Value::Bool(true)))
                    })
                    .0;
                not_found_is_none(r).map(Option::flatten)
            }
            Resource::RoleBackup { role_name } => self
                .role_backup(role_name)
                .map(|b| b.and_then(|b| serde_json::to_value(b).ok())),
        }
    }

    /// Reads everything recreate-role restores; None when the role does not exist.
    pub fn role_backup(
        &self,
        name: &str,
    ) -> std::result::Result<Option<super::derive::RoleBackup>, CallError> {
        let bad = |m: String| CallError {
            code: "BadResponse".into(),
            message: m,
        };
        let role = not_found_is_none(
            self.retry(|| async {
                let o = self
                    .iam
                    .get_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                o.role()
                    .cloned()
                    .ok_or_else(|| bad("GetRole returned no role".into()))
            })
            .0,
        )?;
        let Some(role) = role else { return Ok(None) };
        let trust = match role.assume_role_policy_document() {
            Some(d) => decode_document(d).map_err(bad)?,
            None => Value::Null,
        };
        let names = self
            .retry(|| async {
                let o = self
                    .iam
                    .list_role_policies()
                    .role_name(name)
                    .max_items(1000)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.policy_names().to_vec())
            })
            .0?;
        let mut inline = Vec::new();
        for n in names {
            let doc = self
                .read(&Resource::RoleInlinePolicy {
                    role_name: name.to_string(),
                    policy_name: n.clone(),
                })?
                .unwrap_or(Value::Null);
            inline.push((n, doc));
        }
        inline.sort_by(|a, b| a.0.cmp(&b.0));
        let mut attached = self
            .retry(|| async {
                let o = self
                    .iam
                    .list_attached_role_policies()
                    .role_name(name)
                    .max_items(1000)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.attached_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(str::to_string))
                    .collect::<Vec<_>>())
            })
            .0?;
        attached.sort();
        // Tags keep IAM's order (the order they were given in), so a recreated role lists them alike.
        let tags = self
            .retry(|| async {
                let o = self
                    .iam
                    .list_role_tags()
                    .role_name(name)
                    .max_items(1000)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect::<Vec<_>>())
            })
            .0?;
        let mut profiles = self
            .retry(|| async {
                let o = self
                    .iam
                    .list_instance_profiles_for_role()
                    .role_name(name)
                    .max_items(1000)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                Ok(o.instance_profiles()
                    .iter()
                    .map(|p| p.instance_profile_name().to_string())
                    .collect::<Vec<_>>())
            })
            .0?;
        profiles.sort();
        Ok(Some(super::derive::RoleBackup {
            role_name: role.role_name().to_string(),
            arn: role.arn().to_string(),
            role_id: role.role_id().to_string(),
            path: role.path().to_string(),
            assume_role_policy_document: trust,
            description: role
                .description()
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            max_session_duration: role.max_session_duration(),
            permissions_boundary: role
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
            tags,
            inline_policies: inline,
            attached_policies: attached,
            instance_profiles: profiles,
        }))
    }

    /// Runs one write call; returns the result and the attempts it took.
    pub fn write(&self, c: &Call) -> (std::result::Result<(), CallError>, u32) {
        let iam = &self.iam;
        match c {
            Call::PutRolePolicy {
                role_name,
                policy_name,
                policy_document,
            } => self.retry(|| async {
                iam.put_role_policy()
                    .role_name(role_name)
                    .policy_name(policy_name)
                    .policy_document(policy_document.to_string())
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::PutUserPolicy {
                user_name,
                policy_name,
                policy_document,
            } => self.retry(|| async {
                iam.put_user_policy()
                    .user_name(user_name)
                    .policy_name(policy_name)
                    .policy_document(policy_document.to_string())
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::DeleteRolePolicy {
                role_name,
                policy_name,
            } => self.retry(|| async {
                iam.delete_role_policy()
                    .role_name(role_name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::DeleteUserPolicy {
                user_name,
                policy_name,
            } => self.retry(|| async {
                iam.delete_user_policy()
                    .user_name(user_name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::UpdateAccessKey {
                user_name,
                access_key_id,
                status,
            } => {
                let Some(user) = user_name else {
                    // Without UserName IAM would act on the caller's own key: never send that.
                    return (
                        Err(CallError {
                            code: "UnknownUser".into(),
                            message: format!("the user of {access_key_id} is not known"),
                        }),
                        0,
                    );
                };
                self.retry(|| async {
                    iam.update_access_key()
                        .user_name(user)
                        .access_key_id(access_key_id)
                        .status(aws_sdk_iam::types::StatusType::from(status.as_str()))
                        .send()
                        .await
                        .map(drop)
                        .map_err(sdk_error)
                })
            }
            Call::UpdateAssumeRolePolicy {
                role_name,
                policy_document,
            } => self.retry(|| async {
                iam.update_assume_role_policy()
                    .role_name(role_name)
                    .policy_document(policy_document.to_string())
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::AttachUserPolicy {
                user_name,
                policy_arn,
            }
            | Call::DetachUserPolicy {
                user_name,
                policy_arn,
            } => {
                let Some(user) = user_name else {
                    return (
                        Err(CallError {
                            code: "UnknownUser".into(),
                            message: "the user is not known".into(),
                        }),
                        0,
                    );
                };
                let attach = matches!(c, Call::AttachUserPolicy { .. });
                self.retry(|| async {
                    if attach {
                        iam.attach_user_policy()
                            .user_name(user)
                            .policy_arn(policy_arn)
                            .send()
                            .await
                            .map(drop)
                            .map_err(sdk_error)
                    } else {
                        iam.detach_user_policy()
                            .user_name(user)
                            .policy_arn(policy_arn)
                            .send()
                            .await
                            .map(drop)
                            .map_err(sdk_error)
                    }
                })
            }
            Call::AttachRolePolicy {
                role_name,
                policy_arn,
            } => self.retry(|| async {
                iam.attach_role_policy()
                    .role_name(role_name)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::DetachRolePolicy {
                role_name,
                policy_arn,
            } => self.retry(|| async {
                iam.detach_role_policy()
                    .role_name(role_name)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::RemoveRoleFromInstanceProfile {
                instance_profile_name,
                role_name,
            } => self.retry(|| async {
                iam.remove_role_from_instance_profile()
                    .instance_profile_name(instance_profile_name)
                    .role_name(role_name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::AddRoleToInstanceProfile {
                instance_profile_name,
                role_name,
            } => self.retry(|| async {
                iam.add_role_to_instance_profile()
                    .instance_profile_name(instance_profile_name)
                    .role_name(role_name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::DeleteRole { role_name } => self.retry(|| async {
                iam.delete_role()
                    .role_name(role_name)
                    .send()
                    .await
                    .map(drop)
                    .map_err(sdk_error)
            }),
            Call::CreateRole {
                role_name,
                path,
                assume_role_policy_document,
                description,
                max_session_duration,
                permissions_boundary,
                tags,
            } => self.retry(|| async {
                let mut b = iam
                    .create_role()
                    .role_name(role_name)
                    .path(path)
                    .assume_role_policy_document(assume_role_policy_document.to_string())
                    .set_description(description.clone())
                    .set_max_session_duration(*max_session_duration)
                    .set_permissions_boundary(permissions_boundary.clone());
                for (k, v) in tags {
                    let t = aws_sdk_iam::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| CallError {
                            code: "BadRequest".into(),
                            message: e.to_string(),
                        })?;
                    b = b.tags(t);
                }
                b.send().await.map(drop).map_err(sdk_error)
            }),
        }
    }
}

fn not_found_is_none<T>(
    r: std::result::Result<T, CallError>,
) -> std::result::Result<Option<T>, CallError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn now_ms() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// What a run starts from.
struct Run<'a> {
    record: Record,
    /// None: a step of a larger run (`contain`), whose record is written by the caller.
    audit_log: Option<&'a Path>,
}

impl Run<'_> {
    /// Ends the run: sets the outcome, appends the record. Fails only when the log cannot be written
    /// (then the record goes to stderr so that it is not lost).
    fn finish(mut self, outcome: Outcome, error: Option<String>) -> Result<Record> {
        self.record.outcome = outcome;
        self.record.error = error;
        self.record.finished = format_iso(now_ms());
        let Some(log) = self.audit_log else {
            return Ok(self.record);
        };
        if let Err(e) = audit::append(log, &self.record) {
            eprintln!(
                "trailhound: the audit record of run {} could not be written; here it is:\n{}",
                self.record.run_id,
                serde_json::to_string(&self.record).unwrap_or_default()
            );
            return Err(e);
        }
        Ok(self.record)
    }
}

fn fail(what: &str, e: &CallError) -> String {
    let hint = match e.code.as_str() {
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            " (the credentials lack this permission: act as an incident-response role with --assume-role)"
        }
        c if c.starts_with("Throttl") || c == "RequestLimitExceeded" => " (still throttled after retries with backoff)",
        "ConnectionError" | "Timeout" | "DispatchFailure" => " (is the endpoint reachable? check --endpoint-url / AWS_ENDPOINT_URL)",
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "ExpiredToken" | "UnrecognizedClientException" => {
            " (the credentials are not valid: check AWS_PROFILE / AWS_ACCESS_KEY_ID)"
        }
        _ => "",
    };
    format!("{what}: {e}{hint}")
}

/// Checks the caller and the target, then runs the plan; appends the audit record under `run_id`
/// (from [`audit::new_run_id`]; also the assumed-role session name, so CloudTrail shows it).
pub fn apply(aws: &Aws, plan: &Plan, audit_log: &Path, run_id: &str) -> Result<Record> {
    apply_to(aws, plan, Some(audit_log), run_id)
}

/// [`apply`] without writing the record: one step of a larger run.
pub fn apply_step(aws: &Aws, plan: &Plan, run_id: &str) -> Result<Record> {
    apply_to(aws, plan, None, run_id)
}

fn apply_to(aws: &Aws, plan: &Plan, audit_log: Option<&Path>, run_id: &str) -> Result<Record> {
    let started = now_ms();
    let mut plan = plan.clone();
    let mut run = Run {
        record: Record {
            run_id: run_id.to_string(),
            kind: RunKind::Apply,
            rolls_back: None,
            started: format_iso(started),
            finished: String::new(),
            trailhound_version: env!("CARGO_PKG_VERSION").into(),
            playbook: plan.playbook.clone(),
            caller: None,
            assumed_role: aws.conn.assume_role.clone(),
            endpoint_url: aws.conn.endpoint_url.clone(),
            target: plan.target.clone(),
            account: plan.account.clone(),
            cutoff: plan.cutoff.clone(),
            calls: not_run(&plan.calls),
            before: Vec::new(),
            after: Vec::new(),
            outcome: Outcome::Failed,
            error: None,
            no_rollback: None,
            new_external_id_sha256: None,
            root_principal: None,
            steps: Vec::new(),
        },
        audit_log,
    };
    run.record.no_rollback = plan.no_rollback.clone();
    let nothing = "nothing was changed";

    let caller = match aws.caller() {
        Ok(c) => c,
        Err(e) => {
            let m = format!(
                "{}; {nothing}",
                fail(
                    "cannot tell who the credentials are (sts:GetCallerIdentity)",
                    &e
                )
            );
            return run.finish(Outcome::Failed, Some(m));
        }
    };
    run.record.caller = Some(caller.clone());
    if let (Some(want), Some(have)) = (&plan.account, &caller.account) {
        if want != have {
            let m = format!(
                "the target is in account {want} but the credentials are for account {have}: act there with \
--assume-role arn:aws:iam::{want}:role/ROLE; {nothing}"
            );
            return run.finish(Outcome::Refused, Some(m));
        }
    }
    let where_ = caller
        .account
        .as_deref()
        .map_or(String::new(), |a| format!(" in account {a}"));

    // The target must exist, and be one IAM lets us change.
    match &plan.target {
        Target::Role { name, .. } => match aws.get_role(name) {
            Ok(None) => {
                let m = format!(
                    "role {name} does not exist{where_} (iam:GetRole: NoSuchEntity); {nothing}"
                );
                return run.finish(Outcome::Failed, Some(m));
            }
            Ok(Some(info)) => {
                if let Some(why) = role_refusal(name, Some(&info.path)) {
                    return run.finish(Outcome::Refused, Some(format!("{why}; {nothing}")));
                }
            }
            Err(e) => {
                let m = format!(
                    "{}; {nothing}",
                    fail(&format!("cannot read role {name} (iam:GetRole)"), &e)
                );
                return run.finish(Outcome::Failed, Some(m));
            }
        },
        Target::User { name, .. } => match aws.get_user(name) {
            Ok(None) => {
                let m = format!(
                    "user {name} does not exist{where_} (iam:GetUser: NoSuchEntity); {nothing}"
                );
                return run.finish(Outcome::Failed, Some(m));
            }
            Ok(Some(_)) => {}
            Err(e) => {
                let m = format!(
                    "{}; {nothing}",
                    fail(&format!("cannot read user {name} (iam:GetUser)"), &e)
                );
                return run.finish(Outcome::Failed, Some(m));
            }
        },
        Target::Key {
            access_key_id,
            user,
        } => {
            if user.is_none() {
                match aws.key_user(access_key_id) {
                    Ok(Some(u)) => fill_key_user(&mut plan, &u),
                    Ok(None) => {
                        let m = format!(
                            "access key {access_key_id} does not exist{where_} (iam:GetAccessKeyLastUsed); {nothing}"
                        );
                        return run.finish(Outcome::Failed, Some(m));
                    }
                    Err(e) => {
                        let m = format!(
                            "{}; {nothing}",
                            fail(&format!("cannot find the user of {access_key_id} (iam:GetAccessKeyLastUsed)"), &e)
                        );
                        return run.finish(Outcome::Failed, Some(m));
                    }
                }
                run.record.target = plan.target.clone();
                run.record.calls = not_run(&plan.calls);
            }
        }
    }

    // State before.
    for r in &plan.resources {
        match aws.read(r) {
            Ok(state) => run.record.before.push(Snapshot {
                resource: r.clone(),
                state,
                error: None,
            }),
            Err(e) => {
                let m = format!(
                    "{}; {nothing}",
                    fail(&format!("cannot read the {}", r.describe()), &e)
                );
                return run.finish(Outcome::Failed, Some(m));
            }
        }
    }
    if let Some(Snapshot {
        resource: Resource::AccessKey {
            user_name,
            access_key_id,
        },
        state: None,
        ..
    }) = run.record.before.first()
    {
        let m = format!(
            "access key {access_key_id} is not a key of user {}{where_} (iam:ListAccessKeys); {nothing}",
            user_name.as_deref().unwrap_or("?")
        );
        return run.finish(Outcome::Failed, Some(m));
    }

    // Documents and calls computed from the state just read.
    if let Some(d) = &plan.derive {
        if let Err(e) = derive_calls(d, &mut run.record) {
            let m = format!("{e}; {nothing}");
            return run.finish(Outcome::Failed, Some(m));
        }
        if let super::derive::Derive::RotateExternalId { new_id: Some(id) } = d {
            run.record.new_external_id_sha256 = Some(super::derive::hash_secret(id));
        }
    }

    let (mut outcome, mut error) =
        if matches!(plan.derive, Some(super::derive::Derive::RecreateRole)) {
            run_calls_with(&mut run.record.calls, |c| write_settling(aws, c))
        } else {
            run_calls(aws, &mut run.record.calls)
        };
    run.record.after = read_after(aws, &plan.resources);
    match &plan.derive {
        Some(super::derive::Derive::RotateExternalId { .. }) => redact_record(&mut run.record),
        Some(super::derive::Derive::RecreateRole) if outcome == Outcome::Applied => {
            if let Some(diff) = recreate_differences(&run.record) {
                outcome = Outcome::Partial;
                error = Some(format!(
                    "every call succeeded but the role read back differs from the backup: {diff}; \
the backup is in the audit record: restore what differs by hand"
                ));
            }
        }
        _ => {}
    }
    run.finish(outcome, error)
}

/// recreate-role: IAM is eventually consistent. A role name just deleted may still be taken for
/// CreateRole, and a role just created may not yet be found by the calls that restore it: those
/// two answers are tried again, after 1, 2, 4 and 8 seconds.
fn write_settling(aws: &Aws, c: &Call) -> (std::result::Result<(), CallError>, u32) {
    let mut attempts = 0;
    let mut waits = [1u64, 2, 4, 8].into_iter();
    loop {
        let (r, n) = aws.write(c);
        attempts += n;
        let settling = match (&r, c) {
            (Err(e), Call::CreateRole { .. }) => e.code == "EntityAlreadyExists",
            (
                Err(e),
                Call::PutRolePolicy { .. }
                | Call::AttachRolePolicy { .. }
                | Call::AddRoleToInstanceProfile { .. },
            ) => e.not_found(),
            _ => false,
        };
        match waits.next() {
            Some(w) if settling => std::thread::sleep(Duration::from_secs(w)),
            _ => return (r, attempts),
        }
    }
}

/// Fills in the calls of a derived plan from the state before.
fn derive_calls(d: &super::derive::Derive, record: &mut Record) -> Result<()> {
    use super::derive::{Derive, RoleBackup};
    match d {
        Derive::RecreateRole => {
            let backup = record
                .before
                .iter()
                .find(|s| matches!(s.resource, Resource::RoleBackup { .. }))
                .and_then(|s| s.state.clone())
                .ok_or_else(|| Error::Other("the role could not be backed up".into()))?;
            let backup: RoleBackup = serde_json::from_value(backup)
                .map_err(|e| Error::Other(format!("the role backup is unreadable: {e}")))?;
            record.calls = not_run(&backup.calls());
        }
        Derive::RestrictTrust { .. } | Derive::RotateExternalId { .. } => {
            let current = record
                .before
                .iter()
                .find(|s| matches!(s.resource, Resource::RoleTrustPolicy { .. }))
                .and_then(|s| s.state.clone())
                .ok_or_else(|| Error::Other("the role has no trust policy to change".into()))?;
            let doc = d.trust_document(&current)?;
            for c in &mut record.calls {
                if let Call::UpdateAssumeRolePolicy {
                    policy_document, ..
                } = &mut c.call
                {
                    *policy_document = doc.clone();
                }
            }
        }
    }
    Ok(())
}

/// Replaces every external id in a record with its hash.
fn redact_record(r: &mut Record) {
    use super::derive::redact_external_ids;
    for c in &mut r.calls {
        if let Call::UpdateAssumeRolePolicy {
            policy_document, ..
        } = &mut c.call
        {
            redact_external_ids(policy_document);
        }
    }
    for s in r.before.iter_mut().chain(r.after.iter_mut()) {
        if let Some(v) = &mut s.state {
            redact_external_ids(v);
        }
    }
}

/// recreate-role: what differs between the backup and the role read back, if anything.
fn recreate_differences(r: &Record) -> Option<String> {
    use super::derive::RoleBackup;
    let get = |list: &[Snapshot]| -> Option<RoleBackup> {
        list.iter()
            .find(|s| matches!(s.resource, Resource::RoleBackup { .. }))
            .and_then(|s| s.state.clone())
            .and_then(|v| serde_json::from_value(v).ok())
    };
    let before = get(&r.before)?;
    let Some(after) = get(&r.after) else {
        return Some("the role could not be read back".into());
    };
    let d = before.differences(&after);
    (!d.is_empty()).then(|| d.join("; "))
}

fn not_run(calls: &[Call]) -> Vec<CallRecord> {
    calls
        .iter()
        .map(|c| CallRecord {
            call: c.clone(),
            status: CallStatus::NotRun,
            attempts: 0,
            error: None,
        })
        .collect()
}

fn fill_key_user(plan: &mut Plan, user: &str) {
    if let Target::Key { user: u, .. } = &mut plan.target {
        *u = Some(user.to_string());
    }
    for r in &mut plan.resources {
        if let Resource::AccessKey { user_name, .. } = r {
            *user_name = Some(user.to_string());
        }
    }
    for r in &mut plan.resources {
        if let Resource::UserAttachedPolicy { user_name, .. } = r {
            *user_name = Some(user.to_string());
        }
    }
    for c in &mut plan.calls {
        match c {
            Call::UpdateAccessKey { user_name, .. }
            | Call::AttachUserPolicy { user_name, .. }
            | Call::DetachUserPolicy { user_name, .. } => *user_name = Some(user.to_string()),
            _ => {}
        }
    }
}

/// Runs the calls in order, stopping at the first failure.
fn run_calls(aws: &Aws, calls: &mut [CallRecord]) -> (Outcome, Option<String>) {
    run_calls_with(calls, |c| aws.write(c))
}

/// The call loop, apart from IAM (unit-tested with a fake writer).
pub fn run_calls_with(
    calls: &mut [CallRecord],
    mut write: impl FnMut(&Call) -> (std::result::Result<(), CallError>, u32),
) -> (Outcome, Option<String>) {
    let total = calls.len();
    for i in 0..total {
        if calls[i].status == CallStatus::Skipped {
            continue;
        }
        let (r, attempts) = write(&calls[i].call);
        calls[i].attempts = attempts;
        match r {
            Ok(()) => calls[i].status = CallStatus::Ok,
            Err(e) => {
                calls[i].status = CallStatus::Failed;
                calls[i].error = Some(e.to_string());
                let done: Vec<String> = calls[..i]
                    .iter()
                    .filter(|c| c.status == CallStatus::Ok)
                    .map(|c| c.call.api().to_string())
                    .collect();
                let what = fail(
                    &format!("call {} of {total} ({}) failed", i + 1, calls[i].call.api()),
                    &e,
                );
                return if done.is_empty() {
                    (
                        Outcome::Failed,
                        Some(format!("{what}; nothing was changed")),
                    )
                } else {
                    (
                        Outcome::Partial,
                        Some(format!(
                            "{what}; PARTIAL: calls that ran: {}; calls not run: {}",
                            done.join(", "),
                            total - i - 1
                        )),
                    )
                };
            }
        }
    }
    (Outcome::Applied, None)
}

fn read_after(aws: &Aws, resources: &[Resource]) -> Vec<Snapshot> {
    resources
        .iter()
        .map(|r| match aws.read(r) {
            Ok(state) => Snapshot {
                resource: r.clone(),
                state,
                error: None,
            },
            Err(e) => Snapshot {
                resource: r.clone(),
                state: None,
                error: Some(e.to_string()),
            },
        })
        .collect()
}

/// The calls that restore a record's state before, and why a rollback is refused.
pub fn rollback_calls(record: &Record) -> Result<Vec<Call>> {
    if let Some(why) = &record.no_rollback {
        if record.calls.iter().any(|c| c.status == CallStatus::Ok) {
            return Err(Error::Usage(format!(
                "run {} ({}) cannot be rolled back: {why}",
                record.run_id, record.playbook
            )));
        }
    }
    if record.calls.iter().all(|c| c.status != CallStatus::Ok) {
        return Err(Error::Usage(format!(
            "run {} changed nothing ({}): there is nothing to roll back",
            record.run_id,
            match record.outcome {
                Outcome::Refused => "it was refused",
                _ => "no call succeeded",
            }
        )));
    }
    let mut calls = Vec::new();
    for s in &record.before {
        if let Some(e) = &s.error {
            return Err(Error::Usage(format!(
                "run {}: the state before of the {} is unknown ({e}): restore it by hand",
                record.run_id,
                s.resource.describe()
            )));
        }
        let after = record.after.iter().find(|a| a.resource == s.resource);
        if after.is_some_and(|a| a.error.is_none() && a.state == s.state) {
            continue; // unchanged by the run
        }
        match s.resource.restore(s.state.as_ref()) {
            Some(c) => calls.push(c),
            None => {
                return Err(Error::Usage(format!(
                    "run {}: the {} had no state IAM can restore; restore it by hand",
                    record.run_id,
                    s.resource.describe()
                )))
            }
        }
    }
    Ok(calls)
}

fn call_resource(c: &Call) -> Option<Resource> {
    Some(match c {
        Call::AttachUserPolicy {
            user_name,
            policy_arn,
        }
        | Call::DetachUserPolicy {
            user_name,
            policy_arn,
        } => Resource::UserAttachedPolicy {
            user_name: user_name.clone(),
            policy_arn: policy_arn.clone(),
        },
        Call::AttachRolePolicy { .. }
        | Call::DetachRolePolicy { .. }
        | Call::RemoveRoleFromInstanceProfile { .. }
        | Call::AddRoleToInstanceProfile { .. }
        | Call::DeleteRole { .. }
        | Call::CreateRole { .. } => return None,
        Call::PutRolePolicy {
            role_name,
            policy_name,
            ..
        }
        | Call::DeleteRolePolicy {
            role_name,
            policy_name,
        } => Resource::RoleInlinePolicy {
            role_name: role_name.clone(),
            policy_name: policy_name.clone(),
        },
        Call::PutUserPolicy {
            user_name,
            policy_name,
            ..
        }
        | Call::DeleteUserPolicy {
            user_name,
            policy_name,
        } => Resource::UserInlinePolicy {
            user_name: user_name.clone(),
            policy_name: policy_name.clone(),
        },
        Call::UpdateAssumeRolePolicy { role_name, .. } => Resource::RoleTrustPolicy {
            role_name: role_name.clone(),
        },
        Call::UpdateAccessKey {
            user_name,
            access_key_id,
            ..
        } => Resource::AccessKey {
            user_name: user_name.clone(),
            access_key_id: access_key_id.clone(),
        },
    })
}

/// Restores the state before of `record`; appends a rollback record. Refuses when the state was
/// changed since the run (unless `force`), or when the credentials are for another account.
pub fn rollback(
    aws: &Aws,
    record: &Record,
    force: bool,
    audit_log: &Path,
    run_id: &str,
) -> Result<Record> {
    rollback_to(aws, record, force, Some(audit_log), run_id)
}

/// [`rollback`] without writing the record: one step of a larger rollback.
pub fn rollback_step(aws: &Aws, record: &Record, force: bool, run_id: &str) -> Result<Record> {
    rollback_to(aws, record, force, None, run_id)
}

fn rollback_to(
    aws: &Aws,
    record: &Record,
    force: bool,
    audit_log: Option<&Path>,
    run_id: &str,
) -> Result<Record> {
    let calls = rollback_calls(record)?;
    let resources: Vec<Resource> = calls.iter().filter_map(call_resource).collect();
    let started = now_ms();
    let mut run = Run {
        record: Record {
            run_id: run_id.to_string(),
            kind: RunKind::Rollback,
            rolls_back: Some(record.run_id.clone()),
            started: format_iso(started),
            finished: String::new(),
            trailhound_version: env!("CARGO_PKG_VERSION").into(),
            playbook: record.playbook.clone(),
            caller: None,
            assumed_role: aws.conn.assume_role.clone(),
            endpoint_url: aws.conn.endpoint_url.clone(),
            target: record.target.clone(),
            account: record.caller.as_ref().and_then(|c| c.account.clone()),
            cutoff: None,
            calls: not_run(&calls),
            before: Vec::new(),
            after: Vec::new(),
            outcome: Outcome::Failed,
            error: None,
            no_rollback: None,
            new_external_id_sha256: None,
            root_principal: None,
            steps: Vec::new(),
        },
        audit_log,
    };
    let nothing = "nothing was changed";
    let caller = match aws.caller() {
        Ok(c) => c,
        Err(e) => {
            let m = format!(
                "{}; {nothing}",
                fail(
                    "cannot tell who the credentials are (sts:GetCallerIdentity)",
                    &e
                )
            );
            return run.finish(Outcome::Failed, Some(m));
        }
    };
    run.record.caller = Some(caller.clone());
    let run_account = record.caller.as_ref().and_then(|c| c.account.clone());
    if let (Some(want), Some(have)) = (&run_account, &caller.account) {
        if want != have {
            let hint = record
                .assumed_role
                .as_deref()
                .map_or(format!("arn:aws:iam::{want}:role/ROLE"), str::to_string);
            let m = format!(
                "run {} was made in account {want} but the credentials are for account {have}: add --assume-role {hint}; {nothing}",
                record.run_id
            );
            return run.finish(Outcome::Refused, Some(m));
        }
    }
    let mut changed = Vec::new();
    for r in &resources {
        let now = match aws.read(r) {
            Ok(s) => s,
            Err(e) => {
                let m = format!(
                    "{}; {nothing}",
                    fail(&format!("cannot read the {}", r.describe()), &e)
                );
                return run.finish(Outcome::Failed, Some(m));
            }
        };
        let was_after = record
            .after
            .iter()
            .find(|a| &a.resource == r)
            .map(|a| &a.state);
        let was_before = record
            .before
            .iter()
            .find(|a| &a.resource == r)
            .map(|a| &a.state);
        if was_before == Some(&now) {
            if let Some(c) = run
                .record
                .calls
                .iter_mut()
                .find(|c| call_resource(&c.call).as_ref() == Some(r))
            {
                c.status = CallStatus::Skipped;
            }
        } else if was_after != Some(&now) {
            changed.push(r.describe());
        }
        run.record.before.push(Snapshot {
            resource: r.clone(),
            state: now,
            error: None,
        });
    }
    if !changed.is_empty() && !force {
        let m = format!(
            "the {} changed since run {} (another run, or someone else): rolling back would undo that too. \
Look at the current state, then add --force to restore the state before run {} anyway; {nothing}",
            changed.join(", "),
            record.run_id,
            record.run_id
        );
        return run.finish(Outcome::Refused, Some(m));
    }
    let (outcome, error) = run_calls(aws, &mut run.record.calls);
    run.record.after = read_after(aws, &resources);
    run.finish(outcome, error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::plan::revoke_document;

    fn err(code: &str) -> CallError {
        CallError {
            code: code.into(),
            message: "m".into(),
        }
    }

    fn fast() -> Backoff {
        Backoff {
            max_attempts: 4,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        }
    }

    fn block<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn throttling_is_retried_then_succeeds() {
        let mut n = 0;
        let (r, attempts) = block(with_retry(&fast(), || {
            n += 1;
            let fail = n < 3;
            async move {
                if fail {
                    Err(err("Throttling"))
                } else {
                    Ok(7)
                }
            }
        }));
        assert_eq!(r, Ok(7));
        assert_eq!(attempts, 3);
    }

    #[test]
    fn access_denied_is_not_retried_and_throttling_gives_up() {
        let (r, attempts) = block(with_retry(&fast(), || async {
            Err::<(), _>(err("AccessDenied"))
        }));
        assert_eq!(r.unwrap_err().code, "AccessDenied");
        assert_eq!(attempts, 1);
        let (r, attempts) = block(with_retry(&fast(), || async {
            Err::<(), _>(err("Throttling"))
        }));
        assert_eq!(r.unwrap_err().code, "Throttling");
        assert_eq!(attempts, 4);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0), Duration::from_millis(125));
        assert_eq!(b.delay(2, 0), Duration::from_millis(250));
        assert_eq!(b.delay(3, 0), Duration::from_millis(500));
        assert_eq!(b.delay(30, 0), Duration::from_secs(5));
        assert!(b.delay(3, 1_000_003) <= Duration::from_millis(1000));
    }

    fn put(n: &str) -> Call {
        Call::PutRolePolicy {
            role_name: n.into(),
            policy_name: "P".into(),
            policy_document: revoke_document(0),
        }
    }

    #[test]
    fn partial_failure_says_which_calls_ran() {
        let mut calls = not_run(&[put("a"), put("b"), put("c")]);
        let (outcome, msg) = run_calls_with(&mut calls, |c| match c {
            Call::PutRolePolicy { role_name, .. } if role_name == "b" => {
                (Err(err("AccessDenied")), 1)
            }
            _ => (Ok(()), 1),
        });
        assert_eq!(outcome, Outcome::Partial);
        let msg = msg.unwrap();
        assert!(
            msg.contains("call 2 of 3 (iam:PutRolePolicy) failed: AccessDenied: m"),
            "{msg}"
        );
        assert!(
            msg.contains("PARTIAL: calls that ran: iam:PutRolePolicy; calls not run: 1"),
            "{msg}"
        );
        assert!(msg.contains("--assume-role"), "{msg}");
        let st: Vec<CallStatus> = calls.iter().map(|c| c.status).collect();
        assert_eq!(st, [CallStatus::Ok, CallStatus::Failed, CallStatus::NotRun]);
        assert_eq!(calls[1].error.as_deref(), Some("AccessDenied: m"));

        let mut calls = not_run(&[put("b")]);
        let (outcome, msg) = run_calls_with(&mut calls, |_| (Err(err("Throttling")), 6));
        assert_eq!(outcome, Outcome::Failed);
        assert!(msg.unwrap().contains("still throttled after retries"));
        assert_eq!(calls[0].attempts, 6);
    }

    #[test]
    fn documents_are_url_decoded() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            decode_document(enc).unwrap(),
            serde_json::json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(
            decode_document("{\"a\":\"50%\"}").unwrap(),
            serde_json::json!({"a": "50%"})
        );
        assert!(decode_document("%7Bnot").is_err());
    }
}
