//! One CloudTrail record -> one typed [`Event`].
//!
//! Takes the borrowed [`raw::RawRecord`] view of a record and returns an owned `Event` whose field
//! names are the `events` table's column names ([`COLUMNS`]); queries and `--format ndjson` depend
//! on them, so they only ever grow. Session tokens and other secrets never reach an `Event`: the
//! raw `requestParameters`/`responseElements` text is kept with such values replaced.

pub mod columns;
pub mod raw;
pub mod redact;
pub mod scan;
mod stored;
pub mod time;

pub use columns::Columns;
use raw::{RawRecord, RawStsRequest, RawStsResponse, Str};
use serde::{Serialize, Serializer};
use std::collections::HashSet;
use std::sync::Arc;
pub use time::{format_iso, parse_expiration, parse_iso, Millis};

/// Shared, immutable text. Repeated values (ARNs, regions, user agents) share one allocation.
pub type Text = Arc<str>;

/// The STS calls that issue temporary credentials. `AssumeRoot` (centralized root access for
/// member accounts, since November 2024) issues short-term root credentials for a member account.
pub const ISSUING_CALLS: [&str; 6] = [
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "AssumeRoot",
];

/// The `events` table, column by column, in order. Every `Event` field is one column.
pub const COLUMNS: [&str; 48] = [
    "event_time",
    "event_id",
    "event_name",
    "event_source",
    "aws_region",
    "source_ip",
    "user_agent",
    "error_code",
    "error_message",
    "read_only",
    "management_event",
    "event_type",
    "event_category",
    "recipient_account_id",
    "shared_event_id",
    "shared_copy",
    "request_id",
    "vpc_endpoint_id",
    "identity_type",
    "principal_arn",
    "principal_id",
    "account_id",
    "user_name",
    "access_key_id",
    "invoked_by",
    "identity_provider",
    "session_issuer_type",
    "session_issuer_arn",
    "session_issuer_account_id",
    "session_issuer_user_name",
    "session_created_at",
    "mfa_authenticated",
    "source_identity",
    "requested_role_arn",
    "role_session_name",
    "requested_duration_seconds",
    "requested_source_identity",
    "issued_access_key_id",
    "issued_expiration",
    "assumed_role_arn",
    "federated_subject",
    "federated_provider",
    "request_parameters",
    "response_elements",
    "additional_event_data",
    "is_issuing_call",
    "is_error",
    "event_day",
];

/// A normalized CloudTrail event. Field order is the column order of [`COLUMNS`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "ser_time")]
    pub event_time: Millis,
    pub event_id: Option<Text>,
    pub event_name: Option<Text>,
    pub event_source: Option<Text>,
    pub aws_region: Option<Text>,
    pub source_ip: Option<Text>,
    pub user_agent: Option<Text>,
    pub error_code: Option<Text>,
    pub error_message: Option<Text>,
    pub read_only: Option<bool>,
    pub management_event: Option<bool>,
    pub event_type: Option<Text>,
    pub event_category: Option<Text>,
    pub recipient_account_id: Option<Text>,
    pub shared_event_id: Option<Text>,
    /// True on every copy of a cross-account call except one (the caller's account copy when it
    /// is in the input): count actions with `NOT shared_copy`.
    pub shared_copy: bool,
    pub request_id: Option<Text>,
    pub vpc_endpoint_id: Option<Text>,
    // The caller.
    pub identity_type: Option<Text>,
    pub principal_arn: Option<Text>,
    pub principal_id: Option<Text>,
    pub account_id: Option<Text>,
    pub user_name: Option<Text>,
    /// The access key that signed the call (`userIdentity.accessKeyId`).
    pub access_key_id: Option<Text>,
    pub invoked_by: Option<Text>,
    pub identity_provider: Option<Text>,
    pub session_issuer_type: Option<Text>,
    pub session_issuer_arn: Option<Text>,
    pub session_issuer_account_id: Option<Text>,
    pub session_issuer_user_name: Option<Text>,
    #[serde(serialize_with = "ser_opt_time")]
    pub session_created_at: Option<Millis>,
    pub mfa_authenticated: Option<bool>,
    pub source_identity: Option<Text>,
    /// STS calls that issue credentials: the `requested_role_arn` ... `federated_provider`
    /// columns (boxed, since most events are not such calls; always serialized, null when absent).
    #[serde(flatten)]
    pub sts: Sts,
    // Raw JSON text, secrets redacted.
    pub request_parameters: Option<Text>,
    pub response_elements: Option<Text>,
    pub additional_event_data: Option<Text>,
    // Derived.
    pub is_issuing_call: bool,
    pub is_error: bool,
    /// `YYYY-MM-DD` of `event_time` (UTC): handy for GROUP BY in queries.
    pub event_day: Text,
    /// Where the record was read: (file number in input order, record number in the file). Not a
    /// column; breaks ties so that output never depends on which thread finished first.
    #[serde(skip)]
    pub origin: (u32, u32),
    /// What the record says of the identity beyond the columns (Identity Center's
    /// `onBehalfOf`, `sessionContext.assumedRoot`). Not a column; `None` on almost every event.
    #[serde(skip)]
    pub notes: Option<Box<IdentityNotes>>,
    /// Indices of the [`RecordRules`] that matched this record's own JSON when it was read
    /// (`None` when none did or none were given). Not a column.
    #[serde(skip)]
    pub rule_hits: Option<Box<[u32]>>,
}

/// What a record says of its identity beyond the `events` columns. Not columns, so that the
/// `events` table (and every output built on it) stays as it is; the session graph keeps them
/// per key (see `graph::Usage`), so they survive saved state and merges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IdentityNotes {
    /// `userIdentity.onBehalfOf.userId`: the IAM Identity Center user a session acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Text>,
    /// `userIdentity.onBehalfOf.identityStoreArn`
    /// (`arn:aws:identitystore::123456789012:identitystore/d-1234567890`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_store_arn: Option<Text>,
    /// `userIdentity.sessionContext.assumedRoot = "true"`: a `Root` identity that is a session
    /// made by `sts:AssumeRoot`, not the root user signing in.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assumed_root: bool,
    /// `sessionCredentialFromConsole = "true"`: the call came from a console session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_console: bool,
}

impl IdentityNotes {
    /// The identity store's id (`d-1234567890`), the last part of its ARN.
    pub fn identity_store_id(&self) -> Option<&str> {
        self.identity_store_arn
            .as_deref()
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .filter(|s| !s.is_empty())
    }
}

static NO_NOTES: IdentityNotes = IdentityNotes {
    user_id: None,
    identity_store_arn: None,
    assumed_root: false,
    from_console: false,
};

/// An `sts:AssumeRoot` call's request: the member account and the task policy that scopes the
/// root session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssumeRootRequest {
    /// `requestParameters.targetPrincipal`: a member account id or a principal ARN in it.
    pub target_principal: Option<String>,
    /// The member account (the target principal's account).
    pub target_account: Option<String>,
    /// `requestParameters.taskPolicyArn.arn`
    /// (`arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy`).
    pub task_policy_arn: Option<String>,
}

/// Rules judged on each record's own JSON while the input is parsed, for what needs fields an
/// [`Event`] does not keep (Sigma rules name CloudTrail's own fields). The record is the whole
/// text as read, secrets included: an implementation keeps only rule indices.
pub trait RecordRules: Send + Sync + std::fmt::Debug {
    /// The indices of the rules that match the record, in increasing order; `None` for none.
    /// `event` is the record as normalized (for what is cheap to look at first).
    fn matching(&self, record: &str, event: &Event) -> Option<Box<[u32]>>;
}

/// The fields of an STS call that issues credentials.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StsCall {
    /// The role asked for: from `requestParameters`, or from `errorMessage` when a denied call
    /// has `requestParameters: null`.
    pub requested_role_arn: Option<Text>,
    /// The role session name (AssumeRole*) or the federated user name (GetFederationToken).
    pub role_session_name: Option<Text>,
    pub requested_duration_seconds: Option<i64>,
    /// Asked for in the call, or reported for the new session.
    pub requested_source_identity: Option<Text>,
    pub issued_access_key_id: Option<Text>,
    #[serde(serialize_with = "ser_opt_time")]
    pub issued_expiration: Option<Millis>,
    /// The identity of the issued session: `assumedRoleUser.arn` or `federatedUser.arn`.
    pub assumed_role_arn: Option<Text>,
    pub federated_subject: Option<Text>,
    pub federated_provider: Option<Text>,
}

static NO_STS: StsCall = StsCall {
    requested_role_arn: None,
    role_session_name: None,
    requested_duration_seconds: None,
    requested_source_identity: None,
    issued_access_key_id: None,
    issued_expiration: None,
    assumed_role_arn: None,
    federated_subject: None,
    federated_provider: None,
};

/// [`StsCall`] fields when present; serializes as all nulls when not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sts(pub Option<Box<StsCall>>);

impl Serialize for Sts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_deref().unwrap_or(&NO_STS).serialize(s)
    }
}

fn ser_time<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_iso(*ms))
}

fn ser_opt_time<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&format_iso(*ms)),
        None => s.serialize_none(),
    }
}

impl Event {
    /// The STS fields (all `None` unless the event is a call that issues credentials).
    pub fn sts(&self) -> &StsCall {
        self.sts.0.as_deref().unwrap_or(&NO_STS)
    }

    /// What the record says of the identity beyond the columns (all empty for most events).
    pub fn notes(&self) -> &IdentityNotes {
        self.notes.as_deref().unwrap_or(&NO_NOTES)
    }

    /// An `sts:AssumeRoot` call's target account and task policy (successful or denied);
    /// `None` for any other event. Read from `requestParameters`, or for a denied call without
    /// them, from the resource named in `errorMessage`.
    pub fn assume_root(&self) -> Option<AssumeRootRequest> {
        if self.event_source.as_deref() != Some("sts.amazonaws.com")
            || self.event_name.as_deref() != Some("AssumeRoot")
        {
            return None;
        }
        let req: serde_json::Value = self
            .request_parameters
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_default();
        let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
        let target_principal = text(&req["targetPrincipal"]).or_else(|| {
            self.error_message
                .as_deref()
                .and_then(resource_from_error)
                .map(String::from)
        });
        let target_account = target_principal.as_deref().and_then(|t| {
            if t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit()) {
                Some(t.to_string())
            } else {
                t.split(':')
                    .nth(4)
                    .filter(|a| !a.is_empty())
                    .map(String::from)
            }
        });
        let task_policy_arn =
            text(&req["taskPolicyArn"]["arn"]).or_else(|| text(&req["taskPolicyArn"]));
        Some(AssumeRootRequest {
            target_principal,
            target_account,
            task_policy_arn,
        })
    }

    /// True for STS calls that issue temporary credentials (successful or not).
    pub fn is_sts_issuing_name(event_source: Option<&str>, event_name: Option<&str>) -> bool {
        event_source == Some("sts.amazonaws.com")
            && event_name.is_some_and(|n| ISSUING_CALLS.contains(&n))
    }

    /// The key that orders and deduplicates events: two records with the same key are the same
    /// event read twice (overlapping trails); the order is total, so output never depends on the
    /// order files were read in.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            self.event_time,
            self.event_id.as_deref(),
            self.recipient_account_id.as_deref(),
            self.event_source.as_deref(),
            self.event_name.as_deref(),
            self.principal_arn.as_deref(),
            self.access_key_id.as_deref(),
            self.source_ip.as_deref(),
            self.request_id.as_deref(),
            self.error_code.as_deref(),
            self.sts().issued_access_key_id.as_deref(),
        )
    }
}

/// Why one record could not become an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record has no eventTime")]
    MissingEventTime,
    #[error("eventTime `{0}` is not an ISO 8601 time")]
    BadEventTime(String),
    /// Only from [`normalize`] given a view that [`raw::read_record`] did not check: a record
    /// read on its own fails there with serde's message.
    #[error("userIdentity cannot be read")]
    UnreadableIdentity,
}

/// Deduplicates repeated text: equal strings share one allocation.
///
/// Short values (names, ARNs, regions, user agents) go into a set that keeps every one. Raw JSON
/// documents (`requestParameters`...) are mostly unique, long, and would grow that set without
/// end; they go through a small cache instead, which shares a document repeated close together
/// (a polling job's parameters) at the cost of one hash and, on a hit, one comparison.
#[derive(Default)]
pub struct Interner {
    set: HashSet<Text, foldhash::fast::FixedState>,
    /// Recent values of each often-repeated field ([`Field`]), [`RECENT`] slots per field
    /// picked by a fingerprint of the value's ends and length: most events repeat values of
    /// the events just before them (region, account, source, caller, address, agent...), and
    /// comparing with a value just used is much cheaper than hashing and probing the set, whose
    /// entries are mostly out of cache.
    recent: Vec<Option<Text>>,
    docs: Vec<Option<Text>>,
    /// The day (days since the epoch) of the last event and its `YYYY-MM-DD` text.
    day: Option<(i64, Text)>,
    /// Where a document is written again without its secrets, reused from event to event.
    scratch: String,
    /// Callers by the text of their `userIdentity` ([`CALLER_SLOTS`] slots, picked by its
    /// hash): a session's calls repeat it, and reading it and interning its dozen values once
    /// per session instead of once per call is a large part of reading a record.
    callers: Vec<Option<(Box<str>, Caller)>>,
}

/// Slots of the caller cache (a power of two).
const CALLER_SLOTS: usize = 8192;

/// What a record's `userIdentity` gives its event.
#[derive(Debug, Clone)]
struct Caller {
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
    session_created_at: Option<Millis>,
    mfa_authenticated: Option<bool>,
    source_identity: Option<Text>,
    user_id: Option<Text>,
    identity_store_arn: Option<Text>,
    assumed_root: bool,
    /// The columns this was read for: the others are `None` (not read).
    columns: Columns,
}

/// The columns of `cols` a caller is read for: those that come from `userIdentity`, and the
/// caller's name and identity provider when the STS columns are read (a federated call's
/// subject and provider fall back to them).
fn caller_columns(cols: Columns) -> Columns {
    const FROM_IDENTITY: Columns = Columns::named(&[
        "identity_type",
        "principal_arn",
        "principal_id",
        "account_id",
        "user_name",
        "access_key_id",
        "invoked_by",
        "identity_provider",
        "session_issuer_type",
        "session_issuer_arn",
        "session_issuer_account_id",
        "session_issuer_user_name",
        "session_created_at",
        "mfa_authenticated",
        "source_identity",
    ]);
    let mut c = cols.intersection(FROM_IDENTITY);
    if cols.any(columns::STS) {
        c = c.union(Columns::named(&["user_name", "identity_provider"]));
    }
    c
}

impl Caller {
    const NOBODY: Caller = Caller {
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
        user_id: None,
        identity_store_arn: None,
        assumed_root: false,
        columns: Columns::ALL,
    };
}

/// Slots of the document cache (a power of two).
const DOC_SLOTS: usize = 4096;

/// Slots of recent values per field (a power of two).
const RECENT: usize = 64;

/// Which of a field's [`RECENT`] slots a value goes in: values of one field mostly differ at
/// their ends (the name at the end of an ARN, the last digits of an address, the command at the
/// end of a user agent) or in length.
fn recent_slot(v: &[u8]) -> usize {
    let word = |s: &[u8]| {
        let mut w = [0u8; 8];
        let k = s.len().min(8);
        w[..k].copy_from_slice(&s[..k]);
        u64::from_le_bytes(w)
    };
    let head = word(v);
    let tail = word(&v[v.len().saturating_sub(8)..]);
    let mixed = (head ^ tail.rotate_left(29) ^ v.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> (64 - RECENT.trailing_zeros())) as usize
}

/// The fields whose recent values the [`Interner`] remembers.
#[derive(Debug, Clone, Copy)]
enum Field {
    EventSource,
    EventName,
    ErrorCode,
    Region,
    SourceIp,
    UserAgent,
    EventType,
    EventCategory,
    Recipient,
    VpcEndpoint,
    IdentityType,
    PrincipalArn,
    PrincipalId,
    AccountId,
    UserName,
    AccessKey,
    InvokedBy,
    IssuerType,
    IssuerArn,
    IssuerAccount,
    IssuerUserName,
}

impl Field {
    const COUNT: usize = Field::IssuerUserName as usize + 1;
}

impl Interner {
    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn intern(&mut self, s: &str) -> Text {
        if let Some(t) = self.set.get(s) {
            return t.clone();
        }
        let t: Text = Arc::from(s);
        self.set.insert(t.clone());
        t
    }

    fn opt(&mut self, s: &Str) -> Option<Text> {
        s.get().map(|v| self.intern(v))
    }

    /// Like [`Interner::opt`] for one of the fields whose recent values are remembered.
    fn field(&mut self, field: Field, s: &Str) -> Option<Text> {
        let v = s.get()?;
        if self.recent.is_empty() {
            self.recent = vec![None; Field::COUNT * RECENT];
        }
        let at = field as usize * RECENT + recent_slot(v.as_bytes());
        if let Some(t) = &self.recent[at] {
            if **t == *v {
                return Some(t.clone());
            }
        }
        let t = self.intern(v);
        self.recent[at] = Some(t.clone());
        Some(t)
    }

    /// The slot of the caller cache that holds what a record's `userIdentity` text names
    /// (`None` when the record has none); an error when serde cannot read it as an identity (a
    /// repeated key). The caller is read and its values interned once per distinct text.
    fn caller(
        &mut self,
        raw: raw::Json,
        cols: Columns,
    ) -> Result<Option<usize>, serde_json::Error> {
        use std::hash::BuildHasher;
        let Some(text) = raw.get() else {
            return Ok(None);
        };
        if self.callers.is_empty() {
            self.callers = vec![None; CALLER_SLOTS];
        }
        let slot = self.set.hasher().hash_one(text) as usize & (CALLER_SLOTS - 1);
        if let Some((t, c)) = &self.callers[slot] {
            // Read for these columns before (a caller read for fewer is read again).
            if c.columns.contains(cols) && **t == *text {
                return Ok(Some(slot));
            }
        }
        let id = raw::read_identity(text)?;
        let c = self.read_caller(id.0.as_ref(), cols);
        self.callers[slot] = Some((Box::from(text), c));
        Ok(Some(slot))
    }

    /// The caller in a slot [`Interner::caller`] gave.
    fn caller_at(&self, slot: Option<usize>) -> &Caller {
        static NOBODY: Caller = Caller::NOBODY;
        slot.and_then(|s| self.callers[s].as_ref())
            .map_or(&NOBODY, |(_, c)| c)
    }

    /// What an identity gives its events, the columns in `cols` only (and what is not a
    /// column: the identity notes).
    fn read_caller(&mut self, id: Option<&raw::RawIdentity>, cols: Columns) -> Caller {
        let Some(id) = id else {
            return Caller {
                columns: cols,
                ..Caller::NOBODY
            };
        };
        macro_rules! want {
            ($name:literal, $value:expr) => {
                if cols.any(const { Columns::named(&[$name]) }) {
                    $value
                } else {
                    None
                }
            };
        }
        let ctx = id.session_context.0.as_ref();
        let issuer = ctx.and_then(|c| c.session_issuer.0.as_ref());
        let attrs = ctx.and_then(|c| c.attributes.0.as_ref());
        let on_behalf_of = id.on_behalf_of.0.as_ref();
        Caller {
            identity_type: want!("identity_type", self.field(Field::IdentityType, &id.kind)),
            principal_arn: want!("principal_arn", self.field(Field::PrincipalArn, &id.arn)),
            principal_id: want!(
                "principal_id",
                self.field(Field::PrincipalId, &id.principal_id)
            ),
            account_id: want!("account_id", self.field(Field::AccountId, &id.account_id)),
            user_name: want!("user_name", self.field(Field::UserName, &id.user_name)),
            access_key_id: want!(
                "access_key_id",
                self.field(Field::AccessKey, &id.access_key_id)
            ),
            invoked_by: want!("invoked_by", self.field(Field::InvokedBy, &id.invoked_by)),
            identity_provider: want!(
                "identity_provider",
                self.opt(&id.identity_provider).or_else(|| {
                    ctx.and_then(|c| c.web_id_federation_data.0.as_ref())
                        .and_then(|w| w.federated_provider.get().map(|p| self.intern(p)))
                })
            ),
            session_issuer_type: want!(
                "session_issuer_type",
                issuer.and_then(|i| self.field(Field::IssuerType, &i.kind))
            ),
            session_issuer_arn: want!(
                "session_issuer_arn",
                issuer.and_then(|i| self.field(Field::IssuerArn, &i.arn))
            ),
            session_issuer_account_id: want!(
                "session_issuer_account_id",
                issuer.and_then(|i| self.field(Field::IssuerAccount, &i.account_id))
            ),
            session_issuer_user_name: want!(
                "session_issuer_user_name",
                issuer.and_then(|i| self.field(Field::IssuerUserName, &i.user_name))
            ),
            session_created_at: want!(
                "session_created_at",
                attrs
                    .and_then(|a| a.creation_date.get())
                    .and_then(parse_iso)
            ),
            mfa_authenticated: want!(
                "mfa_authenticated",
                attrs.and_then(|a| a.mfa_authenticated.0)
            ),
            source_identity: want!(
                "source_identity",
                ctx.and_then(|c| self.opt(&c.source_identity))
            ),
            user_id: on_behalf_of.and_then(|o| self.opt(&o.user_id)),
            identity_store_arn: on_behalf_of.and_then(|o| self.opt(&o.identity_store_arn)),
            assumed_root: ctx.and_then(|c| c.assumed_root.0) == Some(true),
            columns: cols,
        }
    }

    /// A raw document: shared with an equal one seen recently, else a new allocation.
    pub fn intern_doc(&mut self, s: &str) -> Text {
        use std::hash::BuildHasher;
        if self.docs.is_empty() {
            self.docs = vec![None; DOC_SLOTS];
        }
        let slot = self.set.hasher().hash_one(s) as usize & (DOC_SLOTS - 1);
        if let Some(t) = &self.docs[slot] {
            if **t == *s {
                return t.clone();
            }
        }
        let t: Text = Arc::from(s);
        self.docs[slot] = Some(t.clone());
        t
    }

    /// `YYYY-MM-DD` of a time, shared by every event of that day.
    fn day_of(&mut self, ms: Millis) -> Text {
        let day = ms.div_euclid(86_400_000);
        if let Some((d, t)) = &self.day {
            if *d == day {
                return t.clone();
            }
        }
        let s = format_iso(ms);
        let t = self.intern(&s[..10.min(s.len())]);
        self.day = Some((day, t.clone()));
        t
    }
}

fn unique(s: &Str) -> Option<Text> {
    s.get().map(Arc::from)
}

/// Keys whose values are secrets; compared case-insensitively.
const SECRET_KEYS: [&str; 6] = [
    "sessiontoken",
    "secretaccesskey",
    "webidentitytoken",
    "samlassertion",
    "password",
    "newpassword",
];

/// Marker written in place of a secret value.
pub const REDACTED: &str = "<redacted>";

/// A cheap test that lets through every text in which a secret key may be written: a key is
/// found by the quote that closes it, compared without case; a key written with a `\u` escape
/// (the only way a letter can be escaped in JSON) is found by the escape. Never wrong the other
/// way: a text it lets through is parsed and redacted key by key.
fn might_hold_secret(raw: &str) -> bool {
    let b = raw.as_bytes();
    if memchr::memmem::find(b, b"\\u").is_some() {
        return true;
    }
    memchr::memchr_iter(b'"', b).any(|q| {
        // Every secret key ends in n, y or d.
        q > 0
            && matches!(b[q - 1] | 0x20, b'n' | b'y' | b'd')
            && SECRET_KEYS
                .iter()
                .any(|k| q >= k.len() && b[q - k.len()..q].eq_ignore_ascii_case(k.as_bytes()))
    })
}

/// The raw JSON text of a field, with secret values replaced by [`REDACTED`]; `null` is `None`.
/// Repeated documents (the same parameters of a polling job) share one allocation. A document
/// that may hold a secret is written again compact in one pass ([`redact::streaming`]), or
/// through a parsed `Value` when that pass cannot promise serde_json's bytes.
pub fn redacted_json(raw: raw::Json, interner: &mut Interner) -> Option<Text> {
    let text = raw.get()?;
    if text == "null" {
        return None;
    }
    if !might_hold_secret(text) {
        return Some(interner.intern_doc(text));
    }
    let mut buf = std::mem::take(&mut interner.scratch);
    let doc = if redact::streaming(text, &mut buf) {
        Some(interner.intern_doc(&buf))
    } else {
        match redact::by_value(text) {
            Some(v) => Some(interner.intern_doc(&v)),
            // Unparsable text that might hold a secret is not kept.
            None => Some(interner.intern(REDACTED)),
        }
    };
    interner.scratch = buf;
    doc
}

/// The role ARN in a denial message: "... not authorized to perform: sts:AssumeRole on resource:
/// arn:aws:iam::123456789012:role/X".
pub fn role_arn_from_error(message: &str) -> Option<&str> {
    resource_from_error(message).filter(|arn| arn.contains(":role/"))
}

/// The resource ARN a denial message names ("... on resource: arn:...").
fn resource_from_error(message: &str) -> Option<&str> {
    let at = message.find("on resource: ")? + "on resource: ".len();
    let rest = &message[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .unwrap_or(rest.len());
    let arn = rest[..end].trim_end_matches('.');
    arn.starts_with("arn:").then_some(arn)
}

/// Normalizes one record. `interner` shares repeated text between the events of one batch.
pub fn normalize(rec: &RawRecord, interner: &mut Interner) -> Result<Event, RecordError> {
    normalize_columns(rec, interner, Columns::ALL)
}

/// Normalizes one record, filling only the columns in `cols` (the others are `None` or
/// `false`): the result is [`Columns::project`] of what [`normalize`] gives, and a record fails
/// exactly as it does there.
pub fn normalize_columns(
    rec: &RawRecord,
    interner: &mut Interner,
    cols: Columns,
) -> Result<Event, RecordError> {
    macro_rules! want {
        ($($name:literal),+) => {
            cols.any(const { Columns::named(&[$($name),+]) })
        };
    }
    let time_text = rec.time().ok_or(RecordError::MissingEventTime)?;
    let event_time =
        parse_iso(time_text).ok_or_else(|| RecordError::BadEventTime(time_text.to_string()))?;

    // The name and source decide whether the STS columns are read, wanted or not.
    let event_source = interner.field(Field::EventSource, &rec.event_source);
    let event_name = interner.field(Field::EventName, &rec.event_name);
    let is_issuing_call =
        Event::is_sts_issuing_name(event_source.as_deref(), event_name.as_deref());
    let caller = interner
        .caller(rec.user_identity, caller_columns(cols))
        .map_err(|_| RecordError::UnreadableIdentity)?;

    let text = |interner: &mut Interner, want: bool, field: Field, s: &Str| {
        if want {
            interner.field(field, s)
        } else {
            None
        }
    };
    let doc = |interner: &mut Interner, want: bool, raw| {
        if want {
            redacted_json(raw, interner)
        } else {
            None
        }
    };
    let mut ev = Event {
        event_time,
        event_id: unique(&rec.event_id).filter(|_| want!("event_id")),
        event_name: event_name.filter(|_| want!("event_name")),
        event_source: event_source.filter(|_| want!("event_source")),
        aws_region: text(
            interner,
            want!("aws_region"),
            Field::Region,
            &rec.aws_region,
        ),
        source_ip: text(
            interner,
            want!("source_ip"),
            Field::SourceIp,
            &rec.source_ip,
        ),
        user_agent: text(
            interner,
            want!("user_agent"),
            Field::UserAgent,
            &rec.user_agent,
        ),
        error_code: text(
            interner,
            want!("error_code"),
            Field::ErrorCode,
            &rec.error_code,
        ),
        error_message: rec
            .error_message
            .get()
            .filter(|_| want!("error_message"))
            .map(Arc::from),
        read_only: rec.read_only.0.filter(|_| want!("read_only")),
        management_event: rec.management_event.0.filter(|_| want!("management_event")),
        event_type: text(
            interner,
            want!("event_type"),
            Field::EventType,
            &rec.event_type,
        ),
        event_category: text(
            interner,
            want!("event_category"),
            Field::EventCategory,
            &rec.event_category,
        ),
        recipient_account_id: text(
            interner,
            want!("recipient_account_id"),
            Field::Recipient,
            &rec.recipient_account_id,
        ),
        shared_event_id: unique(&rec.shared_event_id).filter(|_| want!("shared_event_id")),
        shared_copy: false,
        request_id: unique(&rec.request_id).filter(|_| want!("request_id")),
        vpc_endpoint_id: text(
            interner,
            want!("vpc_endpoint_id"),
            Field::VpcEndpoint,
            &rec.vpc_endpoint_id,
        ),
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
        request_parameters: doc(
            interner,
            want!("request_parameters"),
            rec.request_parameters,
        ),
        response_elements: doc(interner, want!("response_elements"), rec.response_elements),
        additional_event_data: doc(
            interner,
            want!("additional_event_data"),
            rec.additional_event_data,
        ),
        // Derived, and cheap: always filled.
        is_issuing_call,
        is_error: rec.error_code.get().is_some(),
        event_day: interner.day_of(event_time),
        origin: (0, 0),
        notes: None,
        rule_hits: None,
    };
    if is_issuing_call && cols.any(columns::STS) {
        let c = sts_call(rec, interner, caller);
        ev.sts = if cols.contains(columns::STS) {
            Sts(Some(Box::new(c)))
        } else {
            cols.project_sts(Some(&c))
        };
    }
    let c = interner.caller_at(caller);
    macro_rules! from_caller {
        ($($field:ident: $name:literal),* $(,)?) => {
            $(
                if want!($name) {
                    ev.$field = c.$field.clone();
                }
            )*
        };
    }
    from_caller!(
        identity_type: "identity_type",
        principal_arn: "principal_arn",
        principal_id: "principal_id",
        account_id: "account_id",
        user_name: "user_name",
        access_key_id: "access_key_id",
        invoked_by: "invoked_by",
        identity_provider: "identity_provider",
        session_issuer_type: "session_issuer_type",
        session_issuer_arn: "session_issuer_arn",
        session_issuer_account_id: "session_issuer_account_id",
        session_issuer_user_name: "session_issuer_user_name",
        session_created_at: "session_created_at",
        mfa_authenticated: "mfa_authenticated",
        source_identity: "source_identity",
    );
    let from_console = rec.session_credential_from_console.0 == Some(true);
    if c.user_id.is_some() || c.identity_store_arn.is_some() || c.assumed_root || from_console {
        ev.notes = Some(Box::new(IdentityNotes {
            user_id: c.user_id.clone(),
            identity_store_arn: c.identity_store_arn.clone(),
            assumed_root: c.assumed_root,
            from_console,
        }));
    }
    Ok(ev)
}

/// The STS fields of a call that issues credentials, from its request and response (and its
/// error message and caller where those say what they do not).
fn sts_call(rec: &RawRecord, interner: &mut Interner, caller: Option<usize>) -> StsCall {
    let mut c = StsCall::default();
    let req: RawStsRequest = rec
        .request_parameters
        .get()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let resp: RawStsResponse = rec
        .response_elements
        .get()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let name = rec.event_name.get().unwrap_or_default();

    c.requested_role_arn = interner.opt(&req.role_arn).or_else(|| {
        rec.error_message
            .get()
            .and_then(role_arn_from_error)
            .map(|a| interner.intern(a))
    });
    c.role_session_name = interner
        .opt(&req.role_session_name)
        .or_else(|| interner.opt(&req.name));
    c.requested_duration_seconds = req.duration_seconds.0;
    c.requested_source_identity = interner.opt(&req.source_identity);
    if let Some(cred) = resp.credentials.0.as_ref() {
        c.issued_access_key_id = interner.opt(&cred.access_key_id);
        c.issued_expiration = cred.expiration.get().and_then(parse_expiration);
    }
    c.assumed_role_arn = resp
        .assumed_role_user
        .0
        .as_ref()
        .and_then(|u| interner.opt(&u.arn))
        .or_else(|| {
            resp.federated_user
                .0
                .as_ref()
                .and_then(|u| interner.opt(&u.arn))
        });
    if c.requested_source_identity.is_none() {
        // Not asked for in this call, but reported for the new session (set at issue).
        c.requested_source_identity = interner.opt(&resp.source_identity);
    }
    match name {
        "AssumeRoleWithSAML" => {
            c.federated_subject = interner
                .opt(&resp.subject)
                .or_else(|| interner.caller_at(caller).user_name.clone());
            c.federated_provider = interner
                .opt(&req.principal_arn)
                .or_else(|| interner.opt(&resp.issuer))
                .or_else(|| interner.caller_at(caller).identity_provider.clone());
        }
        "AssumeRoleWithWebIdentity" => {
            c.federated_subject = interner
                .opt(&resp.subject_from_web_identity_token)
                .or_else(|| interner.caller_at(caller).user_name.clone());
            c.federated_provider = interner
                .opt(&resp.provider)
                .or_else(|| interner.caller_at(caller).identity_provider.clone());
        }
        _ => {}
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Event {
        let raw: RawRecord = serde_json::from_str(json).unwrap();
        normalize(&raw, &mut Interner::default()).unwrap()
    }

    #[test]
    fn denied_assume_role_takes_the_role_from_the_message() {
        let e = event(
            r#"{"eventTime":"2024-07-30T21:31:04Z","eventSource":"sts.amazonaws.com",
            "eventName":"AssumeRole","errorCode":"AccessDenied","requestParameters":null,
            "errorMessage":"User: arn:aws:iam::111111111111:user/christophe is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Admin"}"#,
        );
        assert!(e.is_issuing_call && e.is_error);
        assert_eq!(
            e.sts().requested_role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/Admin")
        );
        assert_eq!(e.request_parameters, None);
    }

    #[test]
    fn session_tokens_never_survive() {
        let e = event(
            r#"{"eventTime":"2024-11-30T08:43:17Z","eventSource":"sts.amazonaws.com",
            "eventName":"GetFederationToken","requestParameters":{"name":"x"},
            "responseElements":{"credentials":{"accessKeyId":"ASIAXXXX","sessionToken":"SECRETTOKEN",
              "expiration":"Nov 30, 2024, 8:43:17 PM"},"federatedUser":{"arn":"arn:aws:sts::1:federated-user/x"}}}"#,
        );
        let out = serde_json::to_string(&e).unwrap();
        assert!(!out.contains("SECRETTOKEN"), "{out}");
        assert!(out.contains(REDACTED));
        assert_eq!(e.sts().issued_access_key_id.as_deref(), Some("ASIAXXXX"));
        assert_eq!(e.sts().issued_expiration, parse_iso("2024-11-30T20:43:17Z"));
        assert_eq!(e.sts().role_session_name.as_deref(), Some("x"));
        assert_eq!(
            e.sts().assumed_role_arn.as_deref(),
            Some("arn:aws:sts::1:federated-user/x")
        );
    }

    #[test]
    fn secret_keys_in_any_case_or_escaped_are_redacted() {
        // Found by `trailhound fuzz` (seed 1, input 17455): `secretAcces\u0073Key` passed the
        // quick test that decides whether a document is parsed for redaction.
        for key in [
            r"secretAcces\u0073Key",
            r"\u0073essionToken",
            "SESSIONTOKEN",
            "PASSWORD",
            "SAMLASSERTION",
        ] {
            let e = event(&format!(
                r#"{{"eventTime":"2024-11-30T08:43:17Z","requestParameters":{{"a":[{{"{key}":"SECRETVALUE"}}]}},
                "responseElements":{{"{key}":"SECRETVALUE"}},"additionalEventData":{{"{key}":{{"x":"SECRETVALUE"}}}}}}"#
            ));
            let out = serde_json::to_string(&e).unwrap();
            assert!(!out.contains("SECRETVALUE"), "{key}: {out}");
            assert_eq!(out.matches(REDACTED).count(), 3, "{key}: {out}");
        }
        // Text without a secret key is kept as it is, not parsed and written again.
        let e = event(
            r#"{"eventTime":"2024-11-30T08:43:17Z","requestParameters":{"tokenName" : "x", "b":"passwords"}}"#,
        );
        assert_eq!(
            e.request_parameters.as_deref(),
            Some(r#"{"tokenName" : "x", "b":"passwords"}"#)
        );
    }

    #[test]
    fn assume_root_and_identity_notes() {
        let e = event(
            r#"{"eventTime":"2024-10-25T20:52:11Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoot",
            "requestParameters":{"targetPrincipal":"arn:aws:iam::222222222222:root","taskPolicyArn":{"arn":"arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"}},
            "responseElements":{"credentials":{"accessKeyId":"ASIAROOT","sessionToken":"SECRET","expiration":"Oct 25, 2024, 9:07:11 PM"}}}"#,
        );
        assert!(e.is_issuing_call);
        assert_eq!(e.sts().issued_access_key_id.as_deref(), Some("ASIAROOT"));
        let r = e.assume_root().unwrap();
        assert_eq!(r.target_account.as_deref(), Some("222222222222"));
        assert_eq!(
            r.task_policy_arn.as_deref(),
            Some("arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials")
        );
        assert!(!serde_json::to_string(&e).unwrap().contains("SECRET"));
        let e = event(
            r#"{"eventTime":"2024-10-25T20:52:11Z","eventName":"DeleteBucketPolicy",
            "userIdentity":{"type":"Root","accessKeyId":"ASIAROOT","sessionContext":{"assumedRoot":"true"},
              "onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-123"}}}"#,
        );
        assert!(e.assume_root().is_none());
        assert!(e.notes().assumed_root);
        assert_eq!(e.notes().user_id.as_deref(), Some("u-1"));
        assert_eq!(e.notes().identity_store_id(), Some("d-123"));
        // Not columns: the events table is unchanged.
        assert!(!serde_json::to_string(&e).unwrap().contains("u-1"));
        assert!(event(r#"{"eventTime":"2024-10-25T20:52:11Z"}"#)
            .notes
            .is_none());
    }

    #[test]
    fn a_caller_read_once_gives_every_record_what_it_says() {
        let a = r#""userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","accessKeyId":"ASIA1",
            "sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/R"},"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"true"}},
            "onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::1:identitystore/d-1"}}"#;
        let b = r#""userIdentity":{"type":"IAMUser","userName":"bob","accessKeyId":"AKIA2"}"#;
        let records: Vec<String> = [a, b, a, r#""userIdentity":"oops""#, a, b]
            .iter()
            .enumerate()
            .map(|(n, id)| format!(r#"{{"eventTime":"2024-01-01T00:00:0{n}Z",{id}}}"#))
            .collect();
        let mut shared = Interner::default();
        for r in &records {
            let raw: RawRecord = serde_json::from_str(r).unwrap();
            let alone = normalize(&raw, &mut Interner::default()).unwrap();
            assert_eq!(normalize(&raw, &mut shared).unwrap(), alone, "{r}");
        }
        let raw: RawRecord = serde_json::from_str(&records[0]).unwrap();
        let e = normalize(&raw, &mut shared).unwrap();
        assert_eq!(
            e.session_issuer_arn.as_deref(),
            Some("arn:aws:iam::1:role/R")
        );
        assert_eq!(e.mfa_authenticated, Some(true));
        assert_eq!(e.notes().user_id.as_deref(), Some("u-1"));
        // An identity serde cannot read fails the record (its reader names the error).
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventTime":"2024-01-01T00:00:00Z","userIdentity":{"arn":"a","arn":"b"}}"#,
        )
        .unwrap();
        assert_eq!(
            normalize(&raw, &mut shared),
            Err(RecordError::UnreadableIdentity)
        );
    }

    #[test]
    fn repeated_values_share_one_allocation_whatever_came_between() {
        let mut interner = Interner::default();
        let values: Vec<String> = (0..100)
            .map(|n| format!("arn:aws:iam::111111111111:role/r{n}"))
            .chain([
                "x".to_string(),
                "arn:aws:iam::111111111111:role/r1x".to_string(),
            ])
            .collect();
        let mut get = |v: &str| {
            interner
                .field(
                    Field::PrincipalArn,
                    &Str(Some(std::borrow::Cow::Borrowed(v))),
                )
                .unwrap()
        };
        let first: Vec<Text> = values.iter().map(|v| get(v)).collect();
        for (v, t) in values.iter().zip(&first).rev() {
            let again = get(v);
            assert_eq!(&*again, v.as_str());
            assert!(Arc::ptr_eq(&again, t), "{v}");
        }
        assert!(get_none(&mut interner));
    }

    fn get_none(interner: &mut Interner) -> bool {
        interner.field(Field::Region, &Str(None)).is_none()
            && interner
                .field(Field::Region, &Str(Some("".into())))
                .is_none()
    }

    #[test]
    fn missing_or_bad_time_is_an_error() {
        let raw: RawRecord = serde_json::from_str(r#"{"eventName":"X"}"#).unwrap();
        assert_eq!(
            normalize(&raw, &mut Interner::default()),
            Err(RecordError::MissingEventTime)
        );
        let raw: RawRecord = serde_json::from_str(r#"{"eventTime":"noon"}"#).unwrap();
        assert!(matches!(
            normalize(&raw, &mut Interner::default()),
            Err(RecordError::BadEventTime(_))
        ));
    }

    #[test]
    fn ndjson_keys_are_the_columns_in_order() {
        let e = event(r#"{"eventTime":"2024-11-30T08:43:17Z"}"#);
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = COLUMNS.to_vec();
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want);
        let line = serde_json::to_string(&e).unwrap();
        let mut last = 0;
        for c in COLUMNS {
            let at = line.find(&format!("\"{c}\":")).unwrap();
            assert!(at >= last, "{c} out of order");
            last = at;
        }
    }
}
