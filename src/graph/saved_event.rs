//! The events a saved graph keeps (each key's issuing call, a key's first call) in a compact
//! form: only the fields that are set, each under its number (one byte; the column names took a
//! fifth of the state before zstd), times as milliseconds, `event_day` only where it is not the
//! day of `event_time`. The saved engine state is mostly these events; with every column named
//! and every null written they made it several times larger, and loading and saving it was most
//! of a night's work.
//!
//! Reading accepts this form and those older states were written in (the same under the column
//! names; before that every column, times as ISO 8601 text, nulls written), so a state saved by
//! an older trailhound is read as it is and saved in this form by the next run. `Event`'s own
//! `Serialize` (the `events` columns, `events --format ndjson`) is not used here and is
//! unchanged.

use crate::event::{format_iso, parse_iso, Event, Millis, Sts, StsCall, Text};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An event written in the compact form.
pub struct Compact<'a>(pub &'a Event);

/// An event read from either form.
pub struct Stored(pub Event);

/// The day (`YYYY-MM-DD`) of a time, as the parser sets `event_day`.
fn day_of(t: Millis) -> String {
    let mut s = format_iso(t);
    s.truncate(10);
    s
}

/// Each field by its column name and by its number (its place in this list, which never
/// changes: new fields go at the end).
macro_rules! fields {
    ($( $var:ident $name:literal ),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq)]
        enum Field { $($var,)* Other }

        impl Field {
            /// Every field, in the order of their numbers.
            const ALL: &[Field] = &[$(Field::$var,)*];

            fn of(name: &str) -> Field {
                match name {
                    $($name => Field::$var,)*
                    _ => Field::Other,
                }
            }

            #[cfg(test)]
            fn name(self) -> &'static str {
                match self {
                    $(Field::$var => $name,)*
                    Field::Other => "",
                }
            }

            /// The field numbered `n` (an unknown number is a field of a later version).
            fn numbered(n: u64) -> Field {
                usize::try_from(n)
                    .ok()
                    .and_then(|n| Field::ALL.get(n))
                    .copied()
                    .unwrap_or(Field::Other)
            }

            /// Its number, the key it is written under.
            fn number(self) -> u8 {
                self as u8
            }
        }
    };
}

fields! {
    EventTime "event_time",
    EventId "event_id",
    EventName "event_name",
    EventSource "event_source",
    AwsRegion "aws_region",
    SourceIp "source_ip",
    UserAgent "user_agent",
    ErrorCode "error_code",
    ErrorMessage "error_message",
    ReadOnly "read_only",
    ManagementEvent "management_event",
    EventType "event_type",
    EventCategory "event_category",
    RecipientAccountId "recipient_account_id",
    SharedEventId "shared_event_id",
    SharedCopy "shared_copy",
    RequestId "request_id",
    VpcEndpointId "vpc_endpoint_id",
    IdentityType "identity_type",
    PrincipalArn "principal_arn",
    PrincipalId "principal_id",
    AccountId "account_id",
    UserName "user_name",
    AccessKeyId "access_key_id",
    InvokedBy "invoked_by",
    IdentityProvider "identity_provider",
    SessionIssuerType "session_issuer_type",
    SessionIssuerArn "session_issuer_arn",
    SessionIssuerAccountId "session_issuer_account_id",
    SessionIssuerUserName "session_issuer_user_name",
    SessionCreatedAt "session_created_at",
    MfaAuthenticated "mfa_authenticated",
    SourceIdentity "source_identity",
    RequestedRoleArn "requested_role_arn",
    RoleSessionName "role_session_name",
    RequestedDurationSeconds "requested_duration_seconds",
    RequestedSourceIdentity "requested_source_identity",
    IssuedAccessKeyId "issued_access_key_id",
    IssuedExpiration "issued_expiration",
    AssumedRoleArn "assumed_role_arn",
    FederatedSubject "federated_subject",
    FederatedProvider "federated_provider",
    RequestParameters "request_parameters",
    ResponseElements "response_elements",
    AdditionalEventData "additional_event_data",
    IsIssuingCall "is_issuing_call",
    IsError "is_error",
    EventDay "event_day",
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event field number or name")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
                Ok(Field::numbered(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                // A number written as text (JSON's map keys), else a name (older states).
                Ok(match v.parse::<u64>() {
                    Ok(n) => Field::numbered(n),
                    Err(_) => Field::of(v),
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl Serialize for Compact<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use Field::*;
        let e = self.0;
        let sts = e.sts();
        // The fields written are counted first: a map of known length is written as it goes
        // (one of unknown length is put together aside, then copied).
        let other_day = *e.event_day != *day_of(e.event_time);
        let mut n = 1 + usize::from(other_day);
        macro_rules! count {
            ($($field:ident $v:expr),* $(,)?) => { $( n += usize::from($v.is_some()); )* };
        }
        macro_rules! count_yes {
            ($($field:ident $v:expr),* $(,)?) => { $( n += usize::from($v); )* };
        }
        macro_rules! each_field {
            ($some:ident, $yes:ident) => {
                $some! {
            EventId e.event_id, EventName e.event_name, EventSource e.event_source, AwsRegion e.aws_region,
            SourceIp e.source_ip, UserAgent e.user_agent, ErrorCode e.error_code, ErrorMessage e.error_message,
            ReadOnly e.read_only, ManagementEvent e.management_event, EventType e.event_type,
            EventCategory e.event_category, RecipientAccountId e.recipient_account_id, SharedEventId e.shared_event_id,
            RequestId e.request_id, VpcEndpointId e.vpc_endpoint_id, IdentityType e.identity_type,
            PrincipalArn e.principal_arn, PrincipalId e.principal_id, AccountId e.account_id, UserName e.user_name,
            AccessKeyId e.access_key_id, InvokedBy e.invoked_by, IdentityProvider e.identity_provider,
            SessionIssuerType e.session_issuer_type, SessionIssuerArn e.session_issuer_arn,
            SessionIssuerAccountId e.session_issuer_account_id, SessionIssuerUserName e.session_issuer_user_name,
            SessionCreatedAt e.session_created_at, MfaAuthenticated e.mfa_authenticated, SourceIdentity e.source_identity,
            RequestedRoleArn sts.requested_role_arn, RoleSessionName sts.role_session_name,
            RequestedDurationSeconds sts.requested_duration_seconds, RequestedSourceIdentity sts.requested_source_identity,
            IssuedAccessKeyId sts.issued_access_key_id, IssuedExpiration sts.issued_expiration,
            AssumedRoleArn sts.assumed_role_arn, FederatedSubject sts.federated_subject,
            FederatedProvider sts.federated_provider, RequestParameters e.request_parameters,
            ResponseElements e.response_elements, AdditionalEventData e.additional_event_data,
                }
                $yes! { SharedCopy e.shared_copy, IsIssuingCall e.is_issuing_call, IsError e.is_error }
            };
        }
        each_field!(count, count_yes);
        let mut m = s.serialize_map(Some(n))?;
        m.serialize_entry(&EventTime.number(), &e.event_time)?;
        macro_rules! some {
            ($($field:ident $v:expr),* $(,)?) => {
                $( if let Some(v) = &$v { m.serialize_entry(&$field.number(), v)?; } )*
            };
        }
        macro_rules! yes {
            ($($field:ident $v:expr),* $(,)?) => {
                $( if $v { m.serialize_entry(&$field.number(), &true)?; } )*
            };
        }
        each_field!(some, yes);
        if other_day {
            m.serialize_entry(&EventDay.number(), &e.event_day)?;
        }
        m.end()
    }
}

/// A time written as milliseconds (this form) or as ISO 8601 text (the old form).
struct Time(Millis);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a time (milliseconds or ISO 8601)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                Ok(Time(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                Millis::try_from(v)
                    .map(Time)
                    .map_err(|_| E::custom(format!("time {v} out of range")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Time, E> {
                parse_iso(s)
                    .or_else(|| s.parse().ok())
                    .map(Time)
                    .ok_or_else(|| E::custom(format!("bad time `{s}`")))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Stored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Stored, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Stored;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a saved event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Stored, A::Error> {
        let mut time: Option<Millis> = None;
        let mut day: Option<Text> = None;
        let mut sts = StsCall::default();
        let mut e = Event {
            event_time: 0,
            event_id: None,
            event_name: None,
            event_source: None,
            aws_region: None,
            source_ip: None,
            user_agent: None,
            error_code: None,
            error_message: None,
            read_only: None,
            management_event: None,
            event_type: None,
            event_category: None,
            recipient_account_id: None,
            shared_event_id: None,
            shared_copy: false,
            request_id: None,
            vpc_endpoint_id: None,
            identity_type: None,
            principal_arn: None,
            principal_id: None,
            account_id: None,
            user_name: None,
            access_key_id: None,
            invoked_by: None,
            identity_provider: None,
            session_issuer_type: None,
            session_issuer_arn: None,
            session_issuer_account_id: None,
            session_issuer_user_name: None,
            session_created_at: None,
            mfa_authenticated: None,
            source_identity: None,
            sts: Sts(None),
            request_parameters: None,
            response_elements: None,
            additional_event_data: None,
            is_issuing_call: false,
            is_error: false,
            event_day: Text::from(""),
            origin: (0, 0),
            notes: None,
            rule_hits: None,
        };
        let t = |v: Option<Time>| v.map(|t| t.0);
        while let Some(f) = map.next_key::<Field>()? {
            use Field::*;
            match f {
                EventTime => time = Some(map.next_value::<Time>()?.0),
                EventId => e.event_id = map.next_value()?,
                EventName => e.event_name = map.next_value()?,
                EventSource => e.event_source = map.next_value()?,
                AwsRegion => e.aws_region = map.next_value()?,
                SourceIp => e.source_ip = map.next_value()?,
                UserAgent => e.user_agent = map.next_value()?,
                ErrorCode => e.error_code = map.next_value()?,
                ErrorMessage => e.error_message = map.next_value()?,
                ReadOnly => e.read_only = map.next_value()?,
                ManagementEvent => e.management_event = map.next_value()?,
                EventType => e.event_type = map.next_value()?,
                EventCategory => e.event_category = map.next_value()?,
                RecipientAccountId => e.recipient_account_id = map.next_value()?,
                SharedEventId => e.shared_event_id = map.next_value()?,
                SharedCopy => e.shared_copy = map.next_value()?,
                RequestId => e.request_id = map.next_value()?,
                VpcEndpointId => e.vpc_endpoint_id = map.next_value()?,
                IdentityType => e.identity_type = map.next_value()?,
                PrincipalArn => e.principal_arn = map.next_value()?,
                PrincipalId => e.principal_id = map.next_value()?,
                AccountId => e.account_id = map.next_value()?,
                UserName => e.user_name = map.next_value()?,
                AccessKeyId => e.access_key_id = map.next_value()?,
                InvokedBy => e.invoked_by = map.next_value()?,
                IdentityProvider => e.identity_provider = map.next_value()?,
                SessionIssuerType => e.session_issuer_type = map.next_value()?,
                SessionIssuerArn => e.session_issuer_arn = map.next_value()?,
                SessionIssuerAccountId => e.session_issuer_account_id = map.next_value()?,
                SessionIssuerUserName => e.session_issuer_user_name = map.next_value()?,
                SessionCreatedAt => e.session_created_at = t(map.next_value()?),
                MfaAuthenticated => e.mfa_authenticated = map.next_value()?,
                SourceIdentity => e.source_identity = map.next_value()?,
                RequestedRoleArn => sts.requested_role_arn = map.next_value()?,
                RoleSessionName => sts.role_session_name = map.next_value()?,
                RequestedDurationSeconds => sts.requested_duration_seconds = map.next_value()?,
                RequestedSourceIdentity => sts.requested_source_identity = map.next_value()?,
                IssuedAccessKeyId => sts.issued_access_key_id = map.next_value()?,
                IssuedExpiration => sts.issued_expiration = t(map.next_value()?),
                AssumedRoleArn => sts.assumed_role_arn = map.next_value()?,
                FederatedSubject => sts.federated_subject = map.next_value()?,
                FederatedProvider => sts.federated_provider = map.next_value()?,
                RequestParameters => e.request_parameters = map.next_value()?,
                ResponseElements => e.response_elements = map.next_value()?,
                AdditionalEventData => e.additional_event_data = map.next_value()?,
                IsIssuingCall => e.is_issuing_call = map.next_value()?,
                IsError => e.is_error = map.next_value()?,
                EventDay => day = Some(map.next_value()?),
                Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        e.event_time = time.ok_or_else(|| de::Error::missing_field("event_time"))?;
        e.event_day = day.unwrap_or_else(|| Text::from(day_of(e.event_time)));
        // As an event read from its columns: the STS part only when one of its fields is set.
        e.sts = Sts((sts != StsCall::default()).then(|| Box::new(sts)));
        Ok(Stored(e))
    }
}

/// `#[serde(with)]` for a key's optional first call.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(e: &Option<Box<Event>>, s: S) -> Result<S::Ok, S::Error> {
        match e {
            Some(e) => s.serialize_some(&Compact(e)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<Event>>, D::Error> {
        Ok(Option::<Stored>::deserialize(d)?.map(|s| Box::new(s.0)))
    }
}

/// Writes borrowed (key, issuing call) pairs as [`pairs`] does.
pub fn pairs_ref<S: Serializer>(v: &[(&Text, &Event)], s: S) -> Result<S::Ok, S::Error> {
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for (k, e) in v {
        seq.serialize_element(&(k, Compact(e)))?;
    }
    seq.end()
}

/// `#[serde(with)]` for (key, issuing call) pairs.
pub mod pairs {
    use super::*;

    pub fn serialize<S: Serializer>(v: &[(Text, Box<Event>)], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for (k, e) in v {
            seq.serialize_element(&(k, Compact(e)))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(Text, Box<Event>)>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(Text, Box<Event>)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of [key, event] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some((k, e)) = seq.next_element::<(Text, Stored)>()? {
                    out.push((k, Box::new(e.0)));
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_events() -> Vec<Event> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        crate::ingest::ingest(&[root], &crate::ingest::IngestOptions::default())
            .unwrap()
            .events
    }

    fn compact_json(e: &Event) -> String {
        serde_json::to_string(&Compact(e)).unwrap()
    }

    fn read(json: &str) -> Event {
        serde_json::from_str::<Stored>(json).unwrap().0
    }

    /// What a saved event must give back: every column (`origin`, the notes and rule hits are
    /// not saved, as before).
    fn columns(e: &Event) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn every_sample_event_reads_back_with_every_column_as_it_was() {
        let events = sample_events();
        assert!(events.len() > 1000);
        for e in &events {
            assert_eq!(columns(&read(&compact_json(e))), columns(e));
        }
    }

    #[test]
    fn an_event_saved_in_the_old_form_reads_back_the_same() {
        // Older states wrote each event as its columns: every name, nulls, ISO times.
        for e in sample_events()
            .iter()
            .filter(|e| e.is_issuing_call)
            .take(200)
        {
            assert_eq!(columns(&read(&columns(e))), columns(e));
        }
    }

    #[test]
    fn the_compact_form_skips_nulls_and_is_much_smaller_than_the_columns() {
        let events = sample_events();
        let e = events
            .iter()
            .find(|e| e.is_issuing_call && e.sts().issued_access_key_id.is_some())
            .unwrap();
        let json = compact_json(e);
        assert!(!json.contains("null"), "{json}");
        assert!(!json.contains("event_day"), "{json}");
        let (full, small): (usize, usize) = events
            .iter()
            .map(|e| (columns(e).len(), compact_json(e).len()))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert!(small * 10 < full * 8, "{small} of {full} bytes");
    }

    /// The compact form as the previous version wrote it: the same, under the column names.
    fn compact_json_named(e: &Event) -> String {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&compact_json(e)).unwrap();
        let named: serde_json::Map<String, serde_json::Value> = v
            .into_iter()
            .map(|(k, v)| (Field::numbered(k.parse().unwrap()).name().to_string(), v))
            .collect();
        serde_json::to_string(&named).unwrap()
    }

    #[test]
    fn an_event_saved_with_its_field_names_reads_back_the_same() {
        let events = sample_events();
        let named = compact_json_named(&events[0]);
        assert!(named.contains("\"event_time\""), "{named}");
        for e in &events {
            assert_eq!(columns(&read(&compact_json_named(e))), columns(e));
        }
    }

    #[test]
    fn fields_are_written_under_their_numbers_which_never_change() {
        // A saved state is read by later versions: a field keeps its number for good.
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        assert_eq!(
            names[..4],
            ["event_time", "event_id", "event_name", "event_source"]
        );
        assert_eq!(names[45..], ["is_issuing_call", "is_error", "event_day"]);
        assert_eq!(names.len(), 48);
        for e in &sample_events() {
            let mut packed = Vec::new();
            rmp_serde::encode::write_named(&mut packed, &Compact(e)).unwrap();
            // The map's first key is the number 0 (event_time), one byte.
            assert_eq!(packed[1], 0, "{packed:?}");
            // Its length was counted right: it reads back whole, with nothing left over.
            let mut rest = packed.as_slice();
            let back: Stored = rmp_serde::from_read(&mut rest).unwrap();
            assert!(rest.is_empty());
            assert_eq!(columns(&back.0), columns(e));
        }
        // A number a later version added is skipped, as an unknown name was.
        assert_eq!(Field::numbered(200), Field::Other);
    }

    #[test]
    fn an_event_day_that_is_not_the_day_of_its_time_is_kept() {
        let mut e = sample_events().swap_remove(0);
        e.event_day = Text::from("1999-01-01");
        assert_eq!(&*read(&compact_json(&e)).event_day, "1999-01-01");
    }

    #[test]
    fn a_saved_event_without_a_time_is_refused() {
        let err = serde_json::from_str::<Stored>(r#"{"n":"AssumeRole"}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("event_time"), "{err}");
    }
}
