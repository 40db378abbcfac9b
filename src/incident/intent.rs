//! What a call was for: the intent table. One place to extend: add a [`Rule`] to [`RULES`]
//! (exact calls, judged first) or [`FALLBACK`] (name prefixes, judged only when no exact rule
//! matched).
//!
//! Takes an [`Event`]; returns its intents (a call can serve two: `CreateAccessKey` for another
//! user is both privilege escalation and persistence). A call that matches nothing has no
//! intent and is not shown in an incident's timeline (it still counts in the chain's calls).

use crate::event::Event;
use serde::Serialize;

/// The intent groups of an incident's timeline, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Reconnaissance,
    PrivilegeEscalation,
    Persistence,
    DefenceEvasion,
    DataAccess,
    Impact,
}

impl Intent {
    pub const ALL: [Intent; 6] = [
        Intent::Reconnaissance,
        Intent::PrivilegeEscalation,
        Intent::Persistence,
        Intent::DefenceEvasion,
        Intent::DataAccess,
        Intent::Impact,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Reconnaissance => "reconnaissance",
            Intent::PrivilegeEscalation => "privilege_escalation",
            Intent::Persistence => "persistence",
            Intent::DefenceEvasion => "defence_evasion",
            Intent::DataAccess => "data_access",
            Intent::Impact => "impact",
        }
    }

    /// A heading for people.
    pub fn title(self) -> &'static str {
        match self {
            Intent::Reconnaissance => "Reconnaissance",
            Intent::PrivilegeEscalation => "Privilege escalation",
            Intent::Persistence => "Persistence",
            Intent::DefenceEvasion => "Defence evasion",
            Intent::DataAccess => "Data access",
            Intent::Impact => "Impact",
        }
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a rule names the calls it matches.
#[derive(Debug, Clone, Copy)]
pub enum Name {
    Exact(&'static str),
    Prefix(&'static str),
}

/// A condition on the call's parameters.
#[derive(Debug, Clone, Copy)]
pub enum When {
    Always,
    /// `requestParameters.userName` names a user other than the caller (a session calling for
    /// any user counts: a role has no keys or password of its own).
    OtherUser,
    /// The bucket policy lets anyone in (`"Principal":"*"` or `{"AWS":"*"}`).
    PublicPolicy,
    /// The call adds a permission (snapshot or image sharing, `add` in the parameters).
    Adds,
}

/// One line of the intent table: calls of `source` (the service's host prefix, e.g. `iam`;
/// empty = any service) named `name`, when `when` holds, serve `intent`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub source: &'static str,
    pub name: Name,
    pub when: When,
    pub intent: Intent,
}

const fn exact(source: &'static str, name: &'static str, intent: Intent) -> Rule {
    Rule {
        source,
        name: Name::Exact(name),
        when: When::Always,
        intent,
    }
}

const fn exact_if(source: &'static str, name: &'static str, when: When, intent: Intent) -> Rule {
    Rule {
        source,
        name: Name::Exact(name),
        when,
        intent,
    }
}

const fn prefix(name: &'static str, intent: Intent) -> Rule {
    Rule {
        source: "",
        name: Name::Prefix(name),
        when: When::Always,
        intent,
    }
}

use Intent::*;

/// Exact calls. Every matching rule adds its intent.
pub const RULES: &[Rule] = &[
    // Privilege escalation: policy and trust changes, passing roles, credentials for others.
    exact("iam", "PutUserPolicy", PrivilegeEscalation),
    exact("iam", "PutRolePolicy", PrivilegeEscalation),
    exact("iam", "PutGroupPolicy", PrivilegeEscalation),
    exact("iam", "AttachUserPolicy", PrivilegeEscalation),
    exact("iam", "AttachRolePolicy", PrivilegeEscalation),
    exact("iam", "AttachGroupPolicy", PrivilegeEscalation),
    exact("iam", "CreatePolicyVersion", PrivilegeEscalation),
    exact("iam", "SetDefaultPolicyVersion", PrivilegeEscalation),
    exact("iam", "UpdateAssumeRolePolicy", PrivilegeEscalation),
    exact("iam", "AddUserToGroup", PrivilegeEscalation),
    exact("iam", "PutUserPermissionsBoundary", PrivilegeEscalation),
    exact("iam", "DeleteUserPermissionsBoundary", PrivilegeEscalation),
    exact("iam", "DeleteRolePermissionsBoundary", PrivilegeEscalation),
    exact("iam", "PassRole", PrivilegeEscalation),
    exact_if(
        "iam",
        "CreateAccessKey",
        When::OtherUser,
        PrivilegeEscalation,
    ),
    exact_if(
        "iam",
        "CreateLoginProfile",
        When::OtherUser,
        PrivilegeEscalation,
    ),
    exact_if(
        "iam",
        "UpdateLoginProfile",
        When::OtherUser,
        PrivilegeEscalation,
    ),
    exact("sts", "GetFederationToken", PrivilegeEscalation),
    // Persistence: new identities, keys, passwords, trust.
    exact("iam", "CreateUser", Persistence),
    exact("iam", "CreateAccessKey", Persistence),
    exact("iam", "CreateLoginProfile", Persistence),
    exact("iam", "CreateRole", Persistence),
    exact("iam", "UpdateAssumeRolePolicy", Persistence),
    exact("iam", "CreateVirtualMFADevice", Persistence),
    exact("iam", "CreateSAMLProvider", Persistence),
    exact("iam", "CreateOpenIDConnectProvider", Persistence),
    exact("iam", "UploadSSHPublicKey", Persistence),
    exact("rolesanywhere", "CreateTrustAnchor", Persistence),
    exact("lambda", "AddPermission20150331v2", Persistence),
    exact("lambda", "AddLayerVersionPermission20181031", Persistence),
    exact("lambda", "UpdateFunctionCode20150331v2", Persistence),
    exact("ec2", "ImportKeyPair", Persistence),
    exact("ec2", "CreateKeyPair", Persistence),
    exact("ec2-instance-connect", "SendSSHPublicKey", Persistence),
    exact(
        "ec2-instance-connect",
        "SendSerialConsoleSSHPublicKey",
        Persistence,
    ),
    // Defence evasion: logging, detection and audit turned off.
    exact("cloudtrail", "StopLogging", DefenceEvasion),
    exact("cloudtrail", "DeleteTrail", DefenceEvasion),
    exact("cloudtrail", "UpdateTrail", DefenceEvasion),
    exact("cloudtrail", "PutEventSelectors", DefenceEvasion),
    exact("cloudtrail", "PutInsightSelectors", DefenceEvasion),
    exact("cloudtrail", "DeleteEventDataStore", DefenceEvasion),
    exact("guardduty", "DeleteDetector", DefenceEvasion),
    exact("guardduty", "UpdateDetector", DefenceEvasion),
    exact("guardduty", "DisassociateFromMasterAccount", DefenceEvasion),
    exact(
        "guardduty",
        "DisassociateFromAdministratorAccount",
        DefenceEvasion,
    ),
    exact("guardduty", "DeleteMembers", DefenceEvasion),
    exact("guardduty", "StopMonitoringMembers", DefenceEvasion),
    exact("guardduty", "CreateIPSet", DefenceEvasion),
    exact("guardduty", "UpdateIPSet", DefenceEvasion),
    exact("securityhub", "DisableSecurityHub", DefenceEvasion),
    exact("securityhub", "BatchDisableStandards", DefenceEvasion),
    exact(
        "securityhub",
        "DisableImportFindingsForProduct",
        DefenceEvasion,
    ),
    exact("config", "StopConfigurationRecorder", DefenceEvasion),
    exact("config", "DeleteConfigurationRecorder", DefenceEvasion),
    exact("config", "DeleteDeliveryChannel", DefenceEvasion),
    exact("ec2", "DeleteFlowLogs", DefenceEvasion),
    exact(
        "route53resolver",
        "DeleteResolverQueryLogConfig",
        DefenceEvasion,
    ),
    exact(
        "route53resolver",
        "DisassociateResolverQueryLogConfig",
        DefenceEvasion,
    ),
    exact("logs", "DeleteLogGroup", DefenceEvasion),
    exact("logs", "DeleteLogStream", DefenceEvasion),
    exact("organizations", "LeaveOrganization", DefenceEvasion),
    // Data access: reading what is stored.
    exact("s3", "GetObject", DataAccess),
    exact("secretsmanager", "GetSecretValue", DataAccess),
    exact("secretsmanager", "BatchGetSecretValue", DataAccess),
    exact("ssm", "GetParameter", DataAccess),
    exact("ssm", "GetParameters", DataAccess),
    exact("ssm", "GetParametersByPath", DataAccess),
    exact("kms", "Decrypt", DataAccess),
    exact("ec2", "GetPasswordData", DataAccess),
    exact("dynamodb", "Scan", DataAccess),
    exact("rds", "DownloadDBLogFilePortion", DataAccess),
    // Impact: destruction, public exposure, sharing outside the account.
    exact_if("s3", "PutBucketPolicy", When::PublicPolicy, Impact),
    exact_if("s3", "PutBucketAcl", When::PublicPolicy, Impact),
    exact("s3", "DeleteBucketPolicy", Impact),
    exact("s3", "DeletePublicAccessBlock", Impact),
    exact_if("ec2", "ModifySnapshotAttribute", When::Adds, Impact),
    exact_if("ec2", "ModifyImageAttribute", When::Adds, Impact),
    exact("rds", "ModifyDBSnapshotAttribute", Impact),
    exact("rds", "ModifyDBClusterSnapshotAttribute", Impact),
    exact("ec2", "AuthorizeSecurityGroupIngress", Impact),
    exact("kms", "ScheduleKeyDeletion", Impact),
    exact("kms", "DisableKey", Impact),
    exact("ec2", "StopInstances", Impact),
    exact("ec2", "RunInstances", Impact),
];

/// Name prefixes, judged when no exact rule matched (so `DeleteTrail` stays defence evasion
/// and `GetObject` data access).
pub const FALLBACK: &[Rule] = &[
    prefix("Delete", Impact),
    prefix("Terminate", Impact),
    prefix("List", Reconnaissance),
    prefix("Describe", Reconnaissance),
    prefix("Get", Reconnaissance),
    prefix("Search", Reconnaissance),
    prefix("Lookup", Reconnaissance),
    prefix("BatchGet", Reconnaissance),
    prefix("Head", Reconnaissance),
];

/// The service of a call: `iam` for `iam.amazonaws.com`.
pub fn service(e: &Event) -> &str {
    let s = e.event_source.as_deref().unwrap_or("");
    s.strip_suffix(".amazonaws.com").unwrap_or(s)
}

fn params(e: &Event) -> Option<serde_json::Value> {
    serde_json::from_str(e.request_parameters.as_deref()?).ok()
}

fn holds(e: &Event, when: When) -> bool {
    match when {
        When::Always => true,
        When::OtherUser => {
            let Some(p) = params(e) else { return false };
            let Some(target) = p.get("userName").and_then(|v| v.as_str()) else {
                return false;
            };
            match e.identity_type.as_deref() {
                Some("IAMUser") => e.user_name.as_deref() != Some(target),
                _ => true,
            }
        }
        When::PublicPolicy => e.request_parameters.as_deref().is_some_and(|t| {
            let t: String = t.chars().filter(|c| !c.is_whitespace()).collect();
            t.contains(r#""Principal":"*""#)
                || t.contains(r#""AWS":"*""#)
                || t.contains(r#""AWS":["*"]"#)
                || t.contains("AllUsers")
                || t.contains("AuthenticatedUsers")
        }),
        When::Adds => e.request_parameters.as_deref().is_some_and(|t| {
            t.contains("\"add\"") || t.contains("\"Add\"") || t.contains("valuesToAdd")
        }),
    }
}

fn matches(r: &Rule, service: &str, name: &str, e: &Event) -> bool {
    (r.source.is_empty() || r.source == service)
        && match r.name {
            Name::Exact(n) => n == name,
            Name::Prefix(p) => name.starts_with(p),
        }
        && holds(e, r.when)
}

/// The intents of a call, in [`Intent`] order, without repeats.
pub fn intents(e: &Event) -> Vec<Intent> {
    let Some(name) = e.event_name.as_deref() else {
        return Vec::new();
    };
    let svc = service(e);
    let mut out: Vec<Intent> = RULES
        .iter()
        .filter(|r| matches(r, svc, name, e))
        .map(|r| r.intent)
        .collect();
    let exact_named = RULES
        .iter()
        .any(|r| matches!(r.name, Name::Exact(n) if n == name) && (r.source == svc));
    if out.is_empty() && !exact_named {
        out.extend(
            FALLBACK
                .iter()
                .find(|r| matches(r, svc, name, e))
                .map(|r| r.intent),
        );
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(source: &str, name: &str, params: Option<&str>) -> Event {
        let rec = serde_json::json!({
            "eventTime": "2024-07-30T21:31:04Z",
            "eventSource": format!("{source}.amazonaws.com"),
            "eventName": name,
            "requestParameters": params.map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap()),
            "userIdentity": {"type": "IAMUser", "userName": "alice",
                "arn": "arn:aws:iam::111111111111:user/alice"},
        });
        let text = rec.to_string();
        let raw: crate::event::raw::RawRecord = serde_json::from_str(&text).unwrap();
        crate::event::normalize(&raw, &mut crate::event::Interner::default()).unwrap()
    }

    #[test]
    fn exact_calls_win_over_prefixes() {
        assert_eq!(
            intents(&call("cloudtrail", "DeleteTrail", None)),
            [DefenceEvasion]
        );
        assert_eq!(intents(&call("s3", "GetObject", None)), [DataAccess]);
        assert_eq!(intents(&call("s3", "DeleteBucket", None)), [Impact]);
        assert_eq!(intents(&call("iam", "ListRoles", None)), [Reconnaissance]);
        assert!(intents(&call("s3", "PutObject", None)).is_empty());
    }

    #[test]
    fn keys_for_another_user_are_escalation_and_persistence() {
        let own = call("iam", "CreateAccessKey", None);
        assert_eq!(intents(&own), [Persistence]);
        let other = call("iam", "CreateAccessKey", Some(r#"{"userName":"bob"}"#));
        assert_eq!(intents(&other), [PrivilegeEscalation, Persistence]);
        let same = call("iam", "CreateAccessKey", Some(r#"{"userName":"alice"}"#));
        assert_eq!(intents(&same), [Persistence]);
    }

    #[test]
    fn only_public_bucket_policies_are_impact() {
        let public = call(
            "s3",
            "PutBucketPolicy",
            Some(r#"{"bucketPolicy":{"Statement":[{"Effect":"Allow","Principal": "*"}]}}"#),
        );
        assert_eq!(intents(&public), [Impact]);
        let private = call(
            "s3",
            "PutBucketPolicy",
            Some(r#"{"bucketPolicy":{"Statement":[{"Principal":{"AWS":"arn:aws:iam::1:root"}}]}}"#),
        );
        assert!(intents(&private).is_empty());
    }
}
