//! Borrowed serde views of a CloudTrail record: only the fields trailhound keeps, parsed leniently.
//!
//! Real logs are not always typed as the documentation says (booleans written as strings, numbers
//! where strings are expected, objects where a string was expected in hand-made fixtures). A field
//! of the wrong type becomes `None` instead of costing the whole record.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A string field that tolerates numbers and booleans (kept as text) and ignores objects/arrays.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

struct StrVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
    type Value = Str<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Str(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Str(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Str(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
        while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Str(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Str(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrVisitor(std::marker::PhantomData))
    }
}

/// A boolean written as `true`, `"true"`, `"false"`, `"yes"`... Anything else is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Flag(pub Option<bool>);

impl Flag {
    /// The flag a text field says.
    pub fn of(s: &Str) -> Flag {
        Flag(match s.get().map(str::to_ascii_lowercase).as_deref() {
            Some("true") | Some("yes") => Some(true),
            Some("false") | Some("no") => Some(false),
            _ => None,
        })
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flag::of(&Str::deserialize(d)?))
    }
}

/// A field kept as its JSON text, as serde_json's `RawValue` reads it (no white space around
/// it); `null` is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Json<'a>(pub Option<&'a str>);

impl<'a> Json<'a> {
    pub fn get(&self) -> Option<&'a str> {
        self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Json(
            Option::<&'de RawValue>::deserialize(d)?.map(RawValue::get),
        ))
    }
}

/// A number written as a number or a numeric string.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Num(pub Option<i64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Str::deserialize(d)?;
        Ok(Num(s.get().and_then(|v| {
            v.parse::<i64>()
                .ok()
                .or_else(|| v.parse::<f64>().ok().map(|f| f as i64))
        })))
    }
}

/// An object field that is ignored when it has another type.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

struct ObjVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(m)).map(|v| Obj(Some(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
        while s.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Obj(None))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawRecord<'a> {
    #[serde(rename = "eventTime", borrow)]
    pub event_time: Str<'a>,
    /// Logstash and Elastic exports: the event's time when `eventTime` is absent.
    #[serde(rename = "@timestamp", borrow)]
    pub at_timestamp: Str<'a>,
    #[serde(rename = "eventID", borrow)]
    pub event_id: Str<'a>,
    #[serde(rename = "eventName", borrow)]
    pub event_name: Str<'a>,
    #[serde(rename = "eventSource", borrow)]
    pub event_source: Str<'a>,
    #[serde(rename = "awsRegion", borrow)]
    pub aws_region: Str<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    pub source_ip: Str<'a>,
    #[serde(rename = "userAgent", borrow)]
    pub user_agent: Str<'a>,
    #[serde(rename = "errorCode", borrow)]
    pub error_code: Str<'a>,
    #[serde(rename = "errorMessage", borrow)]
    pub error_message: Str<'a>,
    #[serde(rename = "readOnly")]
    pub read_only: Flag,
    #[serde(rename = "managementEvent")]
    pub management_event: Flag,
    #[serde(rename = "eventType", borrow)]
    pub event_type: Str<'a>,
    #[serde(rename = "eventCategory", borrow)]
    pub event_category: Str<'a>,
    #[serde(rename = "recipientAccountId", borrow)]
    pub recipient_account_id: Str<'a>,
    #[serde(rename = "sharedEventID", borrow)]
    pub shared_event_id: Str<'a>,
    #[serde(rename = "requestID", borrow)]
    pub request_id: Str<'a>,
    #[serde(rename = "vpcEndpointId", borrow)]
    pub vpc_endpoint_id: Str<'a>,
    /// The caller, as its JSON text: read into [`RawIdentity`] when the event is made, once
    /// per distinct text (a session's calls repeat it); see [`read_record`] for a record read on
    /// its own.
    #[serde(rename = "userIdentity", borrow)]
    pub user_identity: Json<'a>,
    #[serde(rename = "requestParameters", borrow)]
    pub request_parameters: Json<'a>,
    #[serde(rename = "responseElements", borrow)]
    pub response_elements: Json<'a>,
    #[serde(rename = "additionalEventData", borrow)]
    pub additional_event_data: Json<'a>,
    /// `true` on calls made from the AWS Management Console with a console session.
    #[serde(rename = "sessionCredentialFromConsole")]
    pub session_credential_from_console: Flag,
}

impl RawRecord<'_> {
    /// The event's time as written: `eventTime`, else `@timestamp`.
    pub fn time(&self) -> Option<&str> {
        self.event_time.get().or_else(|| self.at_timestamp.get())
    }
}

/// `userIdentity` read as a [`RawIdentity`] (`None` when it is not an object).
pub fn read_identity(text: &str) -> Result<Obj<RawIdentity<'_>>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The record's `userIdentity` read as a field of the record: for serde's own message and
/// place when the identity cannot be read.
#[derive(Deserialize)]
struct IdentityOfRecord<'a> {
    #[serde(rename = "userIdentity", borrow, default)]
    _identity: Obj<RawIdentity<'a>>,
}

/// One record's text -> its [`RawRecord`] view, failing as reading the identity with the record
/// fails: an identity serde cannot read (a repeated key) makes the record unreadable, with the
/// message and place of the error in the record's text.
pub fn read_record(text: &str) -> Result<RawRecord<'_>, serde_json::Error> {
    let raw: RawRecord = serde_json::from_str(text)?;
    if let Some(id) = raw.user_identity.get() {
        if read_identity(id).is_err() {
            serde_json::from_str::<IdentityOfRecord>(text)?;
        }
    }
    Ok(raw)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(rename = "principalId", borrow)]
    pub principal_id: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
    #[serde(rename = "accountId", borrow)]
    pub account_id: Str<'a>,
    #[serde(rename = "accessKeyId", borrow)]
    pub access_key_id: Str<'a>,
    #[serde(rename = "userName", borrow)]
    pub user_name: Str<'a>,
    #[serde(rename = "invokedBy", borrow)]
    pub invoked_by: Str<'a>,
    #[serde(rename = "identityProvider", borrow)]
    pub identity_provider: Str<'a>,
    #[serde(rename = "sessionContext", borrow)]
    pub session_context: Obj<RawSessionContext<'a>>,
    /// The Identity Center user a session acts for (identity-enhanced sessions).
    #[serde(rename = "onBehalfOf", borrow)]
    pub on_behalf_of: Obj<RawOnBehalfOf<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawOnBehalfOf<'a> {
    #[serde(rename = "userId", borrow)]
    pub user_id: Str<'a>,
    #[serde(rename = "identityStoreArn", borrow)]
    pub identity_store_arn: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawSessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    pub session_issuer: Obj<RawIssuer<'a>>,
    #[serde(borrow)]
    pub attributes: Obj<RawAttributes<'a>>,
    #[serde(rename = "sourceIdentity", borrow)]
    pub source_identity: Str<'a>,
    #[serde(rename = "webIdFederationData", borrow)]
    pub web_id_federation_data: Obj<RawWebIdData<'a>>,
    /// `"true"` on the calls of a session made by `sts:AssumeRoot` (type `Root`).
    #[serde(rename = "assumedRoot")]
    pub assumed_root: Flag,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawIssuer<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow)]
    pub arn: Str<'a>,
    #[serde(rename = "accountId", borrow)]
    pub account_id: Str<'a>,
    #[serde(rename = "userName", borrow)]
    pub user_name: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawAttributes<'a> {
    #[serde(rename = "creationDate", borrow)]
    pub creation_date: Str<'a>,
    #[serde(rename = "mfaAuthenticated")]
    pub mfa_authenticated: Flag,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawWebIdData<'a> {
    #[serde(rename = "federatedProvider", borrow)]
    pub federated_provider: Str<'a>,
}

/// `requestParameters` of the STS calls that issue credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawStsRequest<'a> {
    #[serde(rename = "roleArn", borrow)]
    pub role_arn: Str<'a>,
    #[serde(rename = "roleSessionName", borrow)]
    pub role_session_name: Str<'a>,
    #[serde(rename = "durationSeconds")]
    pub duration_seconds: Num,
    #[serde(rename = "sourceIdentity", borrow)]
    pub source_identity: Str<'a>,
    #[serde(rename = "principalArn", borrow)]
    pub principal_arn: Str<'a>,
    /// GetFederationToken: the federated user's name.
    #[serde(borrow)]
    pub name: Str<'a>,
}

/// `responseElements` of the STS calls that issue credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawStsResponse<'a> {
    #[serde(borrow)]
    pub credentials: Obj<RawCredentials<'a>>,
    #[serde(rename = "assumedRoleUser", borrow)]
    pub assumed_role_user: Obj<RawArnHolder<'a>>,
    #[serde(rename = "federatedUser", borrow)]
    pub federated_user: Obj<RawArnHolder<'a>>,
    #[serde(rename = "sourceIdentity", borrow)]
    pub source_identity: Str<'a>,
    #[serde(borrow)]
    pub subject: Str<'a>,
    #[serde(rename = "subjectFromWebIdentityToken", borrow)]
    pub subject_from_web_identity_token: Str<'a>,
    #[serde(borrow)]
    pub issuer: Str<'a>,
    #[serde(borrow)]
    pub provider: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawCredentials<'a> {
    #[serde(rename = "accessKeyId", borrow)]
    pub access_key_id: Str<'a>,
    #[serde(borrow)]
    pub expiration: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawArnHolder<'a> {
    #[serde(borrow)]
    pub arn: Str<'a>,
}

/// What a record may be wrapped in: the LookupEvents form (`CloudTrailEvent` as a JSON string),
/// EventBridge (`detail`) and exports that put the record under `event`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RawWrapper<'a> {
    #[serde(rename = "eventTime", borrow)]
    pub event_time: Option<&'a RawValue>,
    #[serde(rename = "CloudTrailEvent", borrow)]
    pub cloudtrail_event: Str<'a>,
    #[serde(borrow)]
    pub detail: Option<&'a RawValue>,
    #[serde(borrow)]
    pub event: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime", borrow)]
    pub digest_start_time: Option<&'a RawValue>,
    #[serde(rename = "insightDetails", borrow)]
    pub insight_details: Option<&'a RawValue>,
}

/// The end (exclusive) of the JSON value that starts at `i`, or `None` when the text ends (or a
/// bracket closes nothing) first. Works on bytes: strings are skipped with their escapes,
/// brackets are counted. `in_container`: the value sits in an object or array (a secret's value
/// being redacted), so a closing bracket ends a bare scalar (`1}`); otherwise (a record being
/// split out of a file) that bracket is an error and the value must not be empty.
pub(crate) fn value_end(b: &[u8], i: usize, in_container: bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                j += 1;
                loop {
                    // A backslash as the last byte leaves `j` past the end: the text ends inside
                    // the string.
                    let k = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
                    if b[k] == b'\\' {
                        j = k + 2;
                    } else {
                        j = k + 1;
                        break;
                    }
                }
                if depth == 0 {
                    return Some(j);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    return in_container.then_some(j);
                }
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            b',' | b' ' | b'\n' | b'\r' | b'\t' if depth == 0 => return Some(j),
            _ => {}
        }
        j += 1;
    }
    // A bare scalar may end at the end of the text; a container may not.
    (depth == 0 && (in_container || j > i)).then_some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields_survive_wrong_types() {
        let r: RawRecord = serde_json::from_str(
            r#"{"eventTime":"2020-01-01T00:00:00Z","readOnly":"true","eventName":42,
                "userIdentity":"oops","awsRegion":{"a":1},"managementEvent":true}"#,
        )
        .unwrap();
        assert_eq!(r.read_only, Flag(Some(true)));
        assert_eq!(r.management_event, Flag(Some(true)));
        assert_eq!(r.event_name.get(), Some("42"));
        assert!(read_identity(r.user_identity.get().unwrap())
            .unwrap()
            .0
            .is_none());
        assert_eq!(r.aws_region.get(), None);
    }

    #[test]
    fn an_identity_with_a_repeated_key_makes_its_record_unreadable_as_before() {
        let text = r#"{"eventTime":"2020-01-01T00:00:00Z","userIdentity":{"arn":"a","arn":"b"}}"#;
        let e = read_record(text).unwrap_err().to_string();
        assert_eq!(e, "duplicate field `arn` at line 1 column 67");
        // A repeated key elsewhere is the record's own error, as it always was.
        let text = r#"{"eventTime":"2020-01-01T00:00:00Z","eventTime":"x","userIdentity":{}}"#;
        assert!(read_record(text)
            .unwrap_err()
            .to_string()
            .starts_with("duplicate field `eventTime`"));
        assert!(read_record(r#"{"userIdentity":null}"#)
            .unwrap()
            .user_identity
            .get()
            .is_none());
    }

    #[test]
    fn numbers_from_strings() {
        let q: RawStsRequest = serde_json::from_str(r#"{"durationSeconds":"3600"}"#).unwrap();
        assert_eq!(q.duration_seconds, Num(Some(3600)));
        let q: RawStsRequest = serde_json::from_str(r#"{"durationSeconds":900}"#).unwrap();
        assert_eq!(q.duration_seconds, Num(Some(900)));
    }
}
