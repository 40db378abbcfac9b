//! Events read back from their JSON form (`events --format ndjson`, and the engine's saved
//! state): every column, times at millisecond precision. `origin` is not kept.

use super::{parse_iso, Event, Millis, Sts, StsCall, Text};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
struct Row {
    event_time: String,
    event_id: Option<Text>,
    event_name: Option<Text>,
    event_source: Option<Text>,
    aws_region: Option<Text>,
    source_ip: Option<Text>,
    user_agent: Option<Text>,
    error_code: Option<Text>,
    error_message: Option<Text>,
    read_only: Option<bool>,
    management_event: Option<bool>,
    event_type: Option<Text>,
    event_category: Option<Text>,
    recipient_account_id: Option<Text>,
    shared_event_id: Option<Text>,
    shared_copy: bool,
    request_id: Option<Text>,
    vpc_endpoint_id: Option<Text>,
    identity_type: Option<Text>,
    principal_arn: Option<Text>,
    principal_id: Option<Text>,
    account_id: Option<Text>,
    user_name: Option<Text>,
    access_key_id: Option<Text>,
    invoked_by: Option<Text>,
    identity_provider: Option<Text>,
    session_issuer_type: Option<Text>,
    session_issuer_arn: Option<Text>,
    session_issuer_account_id: Option<Text>,
    session_issuer_user_name: Option<Text>,
    session_created_at: Option<String>,
    mfa_authenticated: Option<bool>,
    source_identity: Option<Text>,
    request_parameters: Option<Text>,
    response_elements: Option<Text>,
    additional_event_data: Option<Text>,
    is_issuing_call: bool,
    is_error: bool,
    event_day: Text,
    #[serde(flatten)]
    sts: StsRow,
}

#[derive(Deserialize, Default, PartialEq)]
struct StsRow {
    requested_role_arn: Option<Text>,
    role_session_name: Option<Text>,
    requested_duration_seconds: Option<i64>,
    requested_source_identity: Option<Text>,
    issued_access_key_id: Option<Text>,
    issued_expiration: Option<String>,
    assumed_role_arn: Option<Text>,
    federated_subject: Option<Text>,
    federated_provider: Option<Text>,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        let r = Row::deserialize(d)?;
        let time = |s: &str| -> Result<Millis, D::Error> {
            parse_iso(s)
                .or_else(|| s.parse().ok())
                .ok_or_else(|| D::Error::custom(format!("bad time `{s}`")))
        };
        let sts = {
            let r = r.sts;
            let call = StsCall {
                requested_role_arn: r.requested_role_arn,
                role_session_name: r.role_session_name,
                requested_duration_seconds: r.requested_duration_seconds,
                requested_source_identity: r.requested_source_identity,
                issued_access_key_id: r.issued_access_key_id,
                issued_expiration: r.issued_expiration.as_deref().map(time).transpose()?,
                assumed_role_arn: r.assumed_role_arn,
                federated_subject: r.federated_subject,
                federated_provider: r.federated_provider,
            };
            Sts((call != StsCall::default()).then(|| Box::new(call)))
        };
        Ok(Event {
            event_time: time(&r.event_time)?,
            event_id: r.event_id,
            event_name: r.event_name,
            event_source: r.event_source,
            aws_region: r.aws_region,
            source_ip: r.source_ip,
            user_agent: r.user_agent,
            error_code: r.error_code,
            error_message: r.error_message,
            read_only: r.read_only,
            management_event: r.management_event,
            event_type: r.event_type,
            event_category: r.event_category,
            recipient_account_id: r.recipient_account_id,
            shared_event_id: r.shared_event_id,
            shared_copy: r.shared_copy,
            request_id: r.request_id,
            vpc_endpoint_id: r.vpc_endpoint_id,
            identity_type: r.identity_type,
            principal_arn: r.principal_arn,
            principal_id: r.principal_id,
            account_id: r.account_id,
            user_name: r.user_name,
            access_key_id: r.access_key_id,
            invoked_by: r.invoked_by,
            identity_provider: r.identity_provider,
            session_issuer_type: r.session_issuer_type,
            session_issuer_arn: r.session_issuer_arn,
            session_issuer_account_id: r.session_issuer_account_id,
            session_issuer_user_name: r.session_issuer_user_name,
            session_created_at: r.session_created_at.as_deref().map(time).transpose()?,
            mfa_authenticated: r.mfa_authenticated,
            source_identity: r.source_identity,
            request_parameters: r.request_parameters,
            response_elements: r.response_elements,
            additional_event_data: r.additional_event_data,
            is_issuing_call: r.is_issuing_call,
            is_error: r.is_error,
            event_day: r.event_day,
            sts,
            origin: (0, 0),
            notes: None,
            rule_hits: None,
        })
    }
}
