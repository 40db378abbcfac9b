//! What a detection reports: a [`Finding`] with its reason, evidence and session chain.

use crate::event::{format_iso, Millis};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How urgent a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// OCSF severity_id.
    pub fn ocsf_id(self) -> u8 {
        match self {
            Severity::Info => 1,
            Severity::Low => 2,
            Severity::Medium => 3,
            Severity::High => 4,
            Severity::Critical => 5,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of finding, with their stable identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    FailedThenSuccess,
    OddIp,
    UnusualHour,
    DeepRoleChain,
    CredentialExfiltration,
    ImpossibleTravel,
    RoleEnumeration,
    FederationTokenAdmin,
    ConsoleLoginWithoutMfa,
    RootAccountUse,
    ApiEnumeration,
    AssumeRootDenied,
    RoleChainJuggling,
    WorkloadChainOutside,
    ChildSessionNewNetwork,
    SourceIdentityChanged,
    SessionFanOut,
    NewRolePath,
    /// A Sigma rule (`hunt --sigma`) matched; [`Finding::sigma`] names it.
    Sigma,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::FailedThenSuccess,
        Kind::OddIp,
        Kind::UnusualHour,
        Kind::DeepRoleChain,
        Kind::CredentialExfiltration,
        Kind::ImpossibleTravel,
        Kind::RoleEnumeration,
        Kind::FederationTokenAdmin,
        Kind::ConsoleLoginWithoutMfa,
        Kind::RootAccountUse,
        Kind::ApiEnumeration,
        Kind::AssumeRootDenied,
        Kind::RoleChainJuggling,
        Kind::WorkloadChainOutside,
        Kind::ChildSessionNewNetwork,
        Kind::SourceIdentityChanged,
        Kind::SessionFanOut,
        Kind::NewRolePath,
        Kind::Sigma,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::FailedThenSuccess => "failed_then_success",
            Kind::OddIp => "odd_ip",
            Kind::UnusualHour => "unusual_hour",
            Kind::DeepRoleChain => "deep_role_chain",
            Kind::CredentialExfiltration => "credential_exfiltration",
            Kind::ImpossibleTravel => "impossible_travel",
            Kind::RoleEnumeration => "role_enumeration",
            Kind::FederationTokenAdmin => "federation_token_admin",
            Kind::ConsoleLoginWithoutMfa => "console_login_without_mfa",
            Kind::RootAccountUse => "root_account_use",
            Kind::ApiEnumeration => "api_enumeration",
            Kind::AssumeRootDenied => "assume_root_denied",
            Kind::RoleChainJuggling => "role_chain_juggling",
            Kind::WorkloadChainOutside => "workload_chain_outside",
            Kind::ChildSessionNewNetwork => "child_session_new_network",
            Kind::SourceIdentityChanged => "source_identity_changed",
            Kind::SessionFanOut => "session_fan_out",
            Kind::NewRolePath => "new_role_path",
            Kind::Sigma => "sigma",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hop of the session chain behind a finding, from the root principal down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    pub access_key_id: String,
    pub issued_by_api: Option<String>,
    pub role_arn: Option<String>,
    pub session_name: Option<String>,
    pub chain_depth: u32,
    pub source_identity: Option<String>,
}

/// Where a finding's source address is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub source_ip: Option<String>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

fn ser_time<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_iso(*ms))
}

fn de_time<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
    let s = String::deserialize(d)?;
    crate::event::parse_iso(&s).ok_or_else(|| serde::de::Error::custom(format!("bad time `{s}`")))
}

fn ser_opt_time<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&format_iso(*ms)),
        None => s.serialize_none(),
    }
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => crate::event::parse_iso(&s)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("bad time `{s}`"))),
    }
}

/// A finding. Field order is the order of keys in `--format ndjson`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    #[serde(serialize_with = "ser_time", deserialize_with = "de_time")]
    pub time: Millis,
    /// The root principal of the session, or the role ARN for AWS-service sessions.
    pub principal: String,
    pub access_key_id: Option<String>,
    pub account: Option<String>,
    #[serde(flatten)]
    pub place: Place,
    /// One sentence a responder understands.
    pub summary: String,
    /// Why it fired, and the baseline it was compared with.
    pub reason: String,
    pub evidence_event_ids: Vec<String>,
    /// Findings that stand for many events (posture findings, one per principal per run; Sigma
    /// findings, one per rule and principal): how many events, all counted
    /// (`evidence_event_ids` lists only the first), and the last one's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_time",
        deserialize_with = "de_opt_time"
    )]
    pub last_time: Option<Millis>,
    pub chain: Vec<Hop>,
    /// `sigma` findings: the rule and how many events matched (absent from every other kind's
    /// output).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub sigma: Option<SigmaHit>,
    /// With `--respond`: the playbook and exact command that contain it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub respond: Option<Response>,
}

/// The rule behind a `sigma` finding, and how much of the input it matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigmaHit {
    /// The rule's `id` (or its file name when it has none).
    pub rule_id: String,
    pub rule_title: String,
    /// The rule's `level`: informational, low, medium, high or critical.
    pub level: String,
    /// The rule's MITRE ATT&CK tags (`attack.*`).
    pub tags: Vec<String>,
}

/// A containment suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub playbook: String,
    pub command: String,
}

impl Finding {
    /// Total order used for output.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.time,
            self.kind,
            &self.principal,
            &self.access_key_id,
            &self.evidence_event_ids,
            self.sigma.as_ref().map(|s| &s.rule_id),
        )
    }
}
