//! Events -> the session graph: every temporary credential linked to the call that issued it.
//!
//! Takes the deduplicated events from `ingest` and returns a [`Graph`]: one [`Session`] per
//! temporary access key that was issued in the input (AssumeRole, AssumeRoleWithSAML,
//! AssumeRoleWithWebIdentity, GetSessionToken, GetFederationToken) or seen signing calls without
//! its issuing call, with its parent session, chain depth, root principal and source identity.
//!
//! Rules, as AWS defines them:
//! - a call's `userIdentity.accessKeyId` equals an earlier `responseElements.credentials.accessKeyId`;
//! - depth 1 = issued to a non-session principal (IAM user or root with a long-term key, an AWS
//!   service such as ec2.amazonaws.com, a SAML or web-identity subject); each hop adds one;
//! - `sourceIdentity` is set at issue and inherited down a chain; it is never guessed;
//! - one issuing call delivered to two accounts (same sharedEventID) is one session;
//! - an ASIA key signing calls as `IAMUser`/`Root` without an issuing call is a console session;
//! - a session whose issuing call is missing has `chain_complete: false` and no invented root; its
//!   `chain_depth` is then a lower bound.
//!
//! Who is behind a session, beyond the chain of keys:
//! - IAM Identity Center: a session of an `AWSReservedSSO_<permission set>_<suffix>` role belongs
//!   to the Identity Center user whose user name is its session name (`principalId` is
//!   `AROA...:<user name>`); its root principal is `identitycenter:<user name>` (or, when a
//!   record names only the `onBehalfOf` user id, `identitycenter:<identity store id>/<user id>`),
//!   whether or not the `AssumeRoleWithSAML` that issued it is in the input ([`IdentityCenter`]).
//! - `sts:AssumeRoot`: the short-term root session for a member account is a child of the
//!   caller's session (or rooted at the calling IAM user), so its calls as `Root` in the member
//!   account resolve to the caller ([`AssumedRoot`]). Without the issuing call, a `Root` key
//!   whose records say `assumedRoot: true` is an `AssumeRoot` session of unknown origin, never a
//!   console sign-in of the root user.
//! - `GetSigninToken` (console federation): CloudTrail logs the federating session's key, not
//!   the console session's; a console session (a key seen signing calls with no issuing call,
//!   marked `sessionCredentialFromConsole`) whose principal ARN is the federating session's and whose first call is within
//!   [`SIGNIN_LINK_WINDOW`] after the `GetSigninToken` call is linked to that session as its
//!   parent ([`SigninLink`]): a link by principal and time, as the logs allow.

use crate::event::{format_iso, Event, Millis, Text};
use rayon::prelude::*;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeSet;

mod saved_event;

/// A hash map with a fast (non-DoS-resistant) hasher: keys come from logs we read, not from a network peer.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
use std::sync::Arc;

/// AWS caps sessions issued by a session (role chaining) at one hour.
pub const CHAINED_SESSION_CAP_SECONDS: i64 = 3600;

/// One temporary credential. Serializes to exactly the `sessions` columns ([`SESSION_COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub access_key_id: Text,
    pub issued_by_api: Option<Text>,
    #[serde(serialize_with = "ser_opt_time")]
    pub issued_at: Option<Millis>,
    #[serde(serialize_with = "ser_opt_time")]
    pub expires_at: Option<Millis>,
    pub account: Option<Text>,
    pub role_arn: Option<Text>,
    pub session_name: Option<Text>,
    pub caller_arn: Option<Text>,
    pub caller_type: Option<Text>,
    pub caller_access_key_id: Option<Text>,
    pub parent_access_key_id: Option<Text>,
    pub chain_depth: u32,
    pub root_principal: Option<Text>,
    pub chain_complete: bool,
    pub source_identity: Option<Text>,
    pub mfa_authenticated: Option<bool>,
    pub cross_account: bool,
    pub issued_in_window: bool,
    pub source_ips: Vec<Text>,
    #[serde(serialize_with = "ser_opt_time")]
    pub first_used: Option<Millis>,
    #[serde(serialize_with = "ser_opt_time")]
    pub last_used: Option<Millis>,
    pub calls: u64,
    pub errors: u64,
    /// The issuing call's eventID (not a column; used by timelines and findings).
    #[serde(skip)]
    pub issuing_event_id: Option<Text>,
    /// DurationSeconds asked for by the issuing call (not a column).
    #[serde(skip)]
    pub requested_duration_seconds: Option<i64>,
    /// The issuing call's source address (not a column).
    #[serde(skip)]
    pub issuing_source_ip: Option<Text>,
    /// User agents of the calls made with the key, in order of first use (not a column).
    #[serde(skip)]
    pub user_agents: Vec<Text>,
    /// The source identity the key's own calls carried first (not a column; `source_identity`
    /// is the chain's, inherited).
    #[serde(skip)]
    pub used_source_identity: Option<Text>,
    /// Calls made with the key that carried no source identity (not a column).
    #[serde(skip)]
    pub calls_without_source_identity: u64,
    /// The IAM Identity Center user and permission set behind the session (not a column).
    #[serde(skip)]
    pub identity_center: Option<IdentityCenter>,
    /// A short-term root session from `sts:AssumeRoot`: its member account and task policy (not
    /// a column).
    #[serde(skip)]
    pub assumed_root: Option<AssumedRoot>,
    /// A console session linked to the session that federated it through `GetSigninToken` (not
    /// a column; the parent is `parent_access_key_id`).
    #[serde(skip)]
    pub signin_link: Option<SigninLink>,
}

/// The IAM Identity Center user behind a session of an `AWSReservedSSO_*` role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCenter {
    /// The permission set: the role name after `AWSReservedSSO_`, without the random suffix.
    pub permission_set: Text,
    /// The user name (the role session name), when the records give it.
    pub user_name: Option<Text>,
    /// `onBehalfOf.userId`, when the records give it.
    pub user_id: Option<Text>,
    /// The identity store (`d-1234567890`) of `onBehalfOf.identityStoreArn`, when given.
    pub identity_store_id: Option<Text>,
}

impl IdentityCenter {
    /// How the person is named as a root principal: `identitycenter:<user name>`, else
    /// `identitycenter:<identity store id>/<user id>`; `None` when the records name neither.
    pub fn person(&self) -> Option<Text> {
        if let Some(u) = &self.user_name {
            return Some(Arc::from(format!("identitycenter:{u}")));
        }
        match (&self.identity_store_id, &self.user_id) {
            (Some(store), Some(id)) => Some(Arc::from(format!("identitycenter:{store}/{id}"))),
            (None, Some(id)) => Some(Arc::from(format!("identitycenter:{id}"))),
            _ => None,
        }
    }
}

/// A short-term root session issued by `sts:AssumeRoot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedRoot {
    /// The member account whose root the session acts as.
    pub target_account: Option<Text>,
    /// The AWS managed root-task policy that scopes it (`.../root-task/S3UnlockBucketPolicy`).
    pub task_policy_arn: Option<Text>,
}

/// How a console session was linked to the session that federated it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninLink {
    /// When the `GetSigninToken` call was made.
    pub at: Millis,
    /// Its eventID.
    pub event_id: Option<Text>,
}

/// How long after a `GetSigninToken` call a console session of the same principal is taken as
/// its: the sign-in token is valid for 15 minutes, and the console session's first call may come
/// later than the sign-in; 12 hours is the longest console session federation gives.
pub const SIGNIN_LINK_WINDOW: Millis = 12 * 3600 * 1000;

/// The permission set of an Identity Center role: `AWSReservedSSO_<set>_<suffix>` (a role name,
/// role ARN or assumed-role ARN) -> `<set>`.
pub fn permission_set(role: &str) -> Option<&str> {
    let name = role
        .split('/')
        .find(|part| part.starts_with("AWSReservedSSO_"))?;
    let rest = name.strip_prefix("AWSReservedSSO_")?;
    let set = rest.rsplit_once('_').map_or(rest, |(set, _suffix)| set);
    (!set.is_empty()).then_some(set)
}

/// The `sessions` table's columns, in order.
pub const SESSION_COLUMNS: [&str; 23] = [
    "access_key_id",
    "issued_by_api",
    "issued_at",
    "expires_at",
    "account",
    "role_arn",
    "session_name",
    "caller_arn",
    "caller_type",
    "caller_access_key_id",
    "parent_access_key_id",
    "chain_depth",
    "root_principal",
    "chain_complete",
    "source_identity",
    "mfa_authenticated",
    "cross_account",
    "issued_in_window",
    "source_ips",
    "first_used",
    "last_used",
    "calls",
    "errors",
];

fn ser_opt_time<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&format_iso(*ms)),
        None => s.serialize_none(),
    }
}

impl Session {
    /// The Identity Center user and permission set behind the session, when it is one.
    pub fn identity_center(&self) -> Option<&IdentityCenter> {
        self.identity_center.as_ref()
    }

    /// A chained session (issued by a session) that asked for more than AWS's one-hour cap.
    pub fn over_chain_cap(&self) -> bool {
        self.parent_access_key_id.is_some()
            && self
                .requested_duration_seconds
                .is_some_and(|d| d > CHAINED_SESSION_CAP_SECONDS)
    }

    /// An EC2 instance-profile session: issued to ec2.amazonaws.com, session name `i-...`.
    pub fn is_instance_profile(&self) -> bool {
        self.session_name
            .as_deref()
            .is_some_and(|n| n.starts_with("i-"))
            && (self.root_principal.as_deref() == Some("ec2.amazonaws.com")
                || (self.caller_type.as_deref() == Some("AWSService")
                    && self.caller_arn.as_deref() == Some("ec2.amazonaws.com"))
                || (!self.issued_in_window && self.role_arn.is_some()))
    }
}

/// The session graph.
#[derive(Debug, Default)]
pub struct Graph {
    /// Sessions ordered by (issued_at, access_key_id).
    pub sessions: Vec<Session>,
    index: HashMap<Text, usize>,
    children: HashMap<Text, Vec<usize>>,
    /// Each issued key's issuing call.
    issuing: HashMap<Text, Box<Event>>,
}

/// Per-key usage gathered in one pass over the events.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct Usage {
    calls: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    errors: u64,
    first: Option<Millis>,
    last: Option<Millis>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    ips: BTreeSet<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    agents: Vec<Text>,
    /// The first call's identity, for keys whose issuing call is not in the input (saved in
    /// the compact form of [`saved_event`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "saved_event::option"
    )]
    first_event: Option<Box<Event>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mfa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_identity: Option<Text>,
    /// Calls that carried no source identity.
    #[serde(default, skip_serializing_if = "is_zero")]
    no_source_identity: u64,
    /// What the key's records say beyond the columns (first seen; kept here since the events'
    /// notes are not columns and do not survive saved state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notes: Option<Box<crate::event::IdentityNotes>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A successful `GetSigninToken` call: console federation by the session that signed it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SigninCall {
    at: Millis,
    /// The federating session's key.
    key: Text,
    event_id: Option<Text>,
}

/// Usage per key, the call that issued each key, and `GetSigninToken` calls per principal ARN,
/// for a chunk of events.
type Gathered<'a> = (
    HashMap<&'a str, Usage>,
    HashMap<&'a str, &'a Event>,
    Vec<(Text, SigninCall)>,
);

/// A successful console-federation call (`signin.amazonaws.com` `GetSigninToken`) signed by a
/// temporary key: (the signing principal's ARN, the call).
fn signin_call(e: &Event) -> Option<(Text, SigninCall)> {
    if e.event_name.as_deref() != Some("GetSigninToken")
        || e.event_source.as_deref() != Some("signin.amazonaws.com")
        || e.is_error
        || e.shared_copy
    {
        return None;
    }
    let key = e.access_key_id.clone().filter(|k| is_temporary_key(k))?;
    let arn = e.principal_arn.clone()?;
    Some((
        arn,
        SigninCall {
            at: e.event_time,
            key,
            event_id: e.event_id.clone(),
        },
    ))
}

/// One pass over a chunk of events, in time order.
fn gather(events: &[Event]) -> Gathered<'_> {
    let mut usage: HashMap<&str, Usage> = HashMap::default();
    let mut issuing: HashMap<&str, &Event> = HashMap::default();
    let mut signins: Vec<(Text, SigninCall)> = Vec::new();
    for e in events {
        if e.is_issuing_call && !e.is_error && !e.shared_copy {
            if let Some(k) = e.sts().issued_access_key_id.as_deref() {
                issuing.entry(k).or_insert(e);
            }
        }
        signins.extend(signin_call(e));
        if e.shared_copy {
            continue;
        }
        let Some(k) = e.access_key_id.as_deref().filter(|k| !k.is_empty()) else {
            continue;
        };
        let u = usage.entry(k).or_default();
        u.calls += 1;
        u.errors += u64::from(e.is_error);
        u.first = Some(u.first.map_or(e.event_time, |t| t.min(e.event_time)));
        u.last = Some(u.last.map_or(e.event_time, |t| t.max(e.event_time)));
        if let Some(ip) = &e.source_ip {
            if !u.ips.contains(ip) {
                u.ips.insert(ip.clone());
            }
        }
        if let Some(a) = &e.user_agent {
            if u.agents.len() < MAX_AGENTS && !u.agents.iter().any(|x| Arc::ptr_eq(x, a) || x == a)
            {
                u.agents.push(a.clone());
            }
        }
        if u.first_event.is_none() {
            u.first_event = Some(Box::new(compact(e)));
        }
        if u.mfa.is_none() {
            u.mfa = e.mfa_authenticated;
        }
        if u.source_identity.is_none() {
            u.source_identity = e.source_identity.clone();
        }
        u.no_source_identity += u64::from(e.source_identity.is_none());
        if u.notes.is_none() {
            u.notes = e.notes.clone();
        }
    }
    (usage, issuing, signins)
}

/// User agents kept per key.
const MAX_AGENTS: usize = 16;

impl Usage {
    /// Adds the usage of a later chunk.
    fn absorb(&mut self, later: Usage) {
        self.calls += later.calls;
        self.errors += later.errors;
        self.first = self.first.min(later.first).or(self.first).or(later.first);
        self.last = self.last.max(later.last);
        self.ips.extend(later.ips);
        for a in later.agents {
            if self.agents.len() < MAX_AGENTS && !self.agents.contains(&a) {
                self.agents.push(a);
            }
        }
        if self.first_event.is_none() {
            self.first_event = later.first_event;
        }
        self.mfa = self.mfa.or(later.mfa);
        self.source_identity = self.source_identity.take().or(later.source_identity);
        self.no_source_identity += later.no_source_identity;
        if self.notes.is_none() {
            self.notes = later.notes;
        }
    }
}

fn is_temporary_key(k: &str) -> bool {
    k.starts_with("ASIA")
}

/// The account in an ARN (`arn:aws:iam::123456789012:role/X`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let acct = arn.split(':').nth(4)?;
    (!acct.is_empty()).then_some(acct)
}

/// The role ARN behind an assumed-role ARN, and the session name:
/// `arn:aws:sts::1:assumed-role/Role/session` -> (`arn:aws:iam::1:role/Role`, `session`).
pub fn assumed_role_parts(arn: &str) -> Option<(String, &str)> {
    let (head, rest) = arn.split_once(":assumed-role/")?;
    let account = head.rsplit(':').next()?;
    let partition = head.split(':').nth(1).unwrap_or("aws");
    let (role, session) = rest.rsplit_once('/')?;
    Some((
        format!("arn:{partition}:iam::{account}:role/{role}"),
        session,
    ))
}

fn caller_is_session(e: &Event) -> bool {
    match e.identity_type.as_deref() {
        Some("AssumedRole") | Some("FederatedUser") => true,
        Some("IAMUser") | Some("Root") => e.access_key_id.as_deref().is_some_and(is_temporary_key),
        Some("AWSAccount") => e.principal_id.as_deref().is_some_and(|p| p.contains(':')),
        _ => false,
    }
}

/// The non-session identity that called an issuing API directly, as the root of its chain.
fn direct_root(e: &Event) -> Option<Text> {
    match e.identity_type.as_deref() {
        Some("IAMUser") | Some("Root") => e.principal_arn.clone(),
        Some("AWSService") => e.invoked_by.clone().or_else(|| {
            e.source_ip
                .clone()
                .filter(|s| s.ends_with(".amazonaws.com"))
        }),
        Some("SAMLUser") | Some("WebIdentityUser") => e
            .sts()
            .federated_subject
            .clone()
            .or_else(|| e.user_name.clone()),
        _ => None,
    }
}

/// What the graph keeps of a call (an issuing call, a key's first call): every field but the
/// long raw JSON texts, which no session field is read from (the request's parameters are
/// kept only when they tell MFA was used, see [`requested_mfa`]). A session costs a few
/// hundred bytes instead of a few kilobytes, in memory and in a saved state.
fn compact(e: &Event) -> Event {
    let mut c = e.clone();
    c.response_elements = None;
    c.additional_event_data = None;
    c.error_message = None;
    // Kept where the graph reads it later: MFA asked for, AssumeRoot's target and task policy.
    if requested_mfa(e).is_none() && e.event_name.as_deref() != Some("AssumeRoot") {
        c.request_parameters = None;
    }
    c
}

fn requested_mfa(e: &Event) -> Option<bool> {
    e.request_parameters
        .as_deref()
        .is_some_and(|p| p.contains("\"serialNumber\"") || p.contains("\"tokenCode\""))
        .then_some(true)
}

/// The session graph as it is built, slice by slice, from events in time order: each key's
/// issuing call and usage so far. It holds one issuing call (and one first call) per key and
/// aggregates, never the events themselves, so it grows with the number of sessions, not of
/// events. [`GraphState::finish`] gives the same [`Graph`] as [`Graph::build`] over all the
/// events at once.
///
/// With `live` on, it also keeps every session resolved as far as the events so far tell
/// (chain, root principal, role, caller): what the detections ask while the events stream.
#[derive(Default)]
pub struct GraphState {
    usage: HashMap<Text, Usage>,
    /// Boxed: a table sized for the busiest hour then costs a pointer per free slot, not an event.
    issuing: HashMap<Text, Box<Event>>,
    /// `GetSigninToken` calls per signing principal ARN, in time order.
    signins: Signins,
    live: Option<HashMap<Text, Session>>,
    /// A restored state's live view is built at its first slice, for the sessions still usable
    /// then (and their chains), not for every saved one.
    live_pending: bool,
}

/// What [`GraphState::retire`] took out of the state.
#[must_use = "what was taken out is freed when dropped, or left to the end of the process"]
pub struct Retired {
    usage: Vec<(Text, Usage)>,
    issuing: Vec<(Text, Box<Event>)>,
    /// The resolved sessions of the keys taken out (held only to be freed with the rest).
    _live: Vec<(Text, Session)>,
}

impl Retired {
    /// How many keys were taken out (a key with both its usage and its issuing call counts
    /// twice, as the state holds them).
    pub fn len(&self) -> usize {
        self.usage.len() + self.issuing.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `GetSigninToken` calls per signing principal ARN, each list sorted.
type Signins = HashMap<Text, Vec<SigninCall>>;

fn add_signin(signins: &mut Signins, arn: Text, call: SigninCall) {
    let list = signins.entry(arn).or_default();
    if let Err(at) = list.binary_search(&call) {
        list.insert(at, call);
    }
}

/// Who signed a call: the session behind an access key, as far as is known.
pub trait Lookup {
    fn session(&self, key: &str) -> Option<&Session>;
}

impl Lookup for Graph {
    fn session(&self, key: &str) -> Option<&Session> {
        self.get(key)
    }
}

impl Lookup for GraphState {
    fn session(&self, key: &str) -> Option<&Session> {
        self.live.as_ref().and_then(|l| l.get(key))
    }
}

/// A [`GraphState`] as saved between runs (keys in order, so the file is the same for the
/// same state).
#[derive(Serialize, Deserialize, Default)]
pub struct SavedGraph {
    usage: Vec<(Text, Usage)>,
    /// Each issuing call in the compact form of [`saved_event`] (older states, every column
    /// named, are read too).
    #[serde(with = "saved_event::pairs")]
    issuing: Vec<(Text, Box<Event>)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    signins: Vec<(Text, Vec<SigninCall>)>,
}

impl SavedGraph {
    /// Whether one of these keys, or a key that issued one of them (or made its first call),
    /// is one `wanted` asks for: a cheap look before the sessions are resolved.
    pub fn mentions(&self, wanted: impl Fn(&str) -> bool) -> bool {
        let caller = |e: &Event| e.access_key_id.as_deref().is_some_and(&wanted);
        self.usage
            .iter()
            .any(|(k, u)| wanted(k) || u.first_event.as_deref().is_some_and(caller))
            || self.issuing.iter().any(|(k, e)| wanted(k) || caller(e))
    }
}

/// [`SavedGraph`] borrowed from a [`GraphState`]: written the same, without copying the state
/// first ([`GraphState::saved_ref`]).
#[derive(Serialize)]
pub struct SavedGraphRef<'a> {
    usage: Vec<(&'a Text, &'a Usage)>,
    #[serde(serialize_with = "saved_event::pairs_ref")]
    issuing: Vec<(&'a Text, &'a Event)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    signins: Vec<(&'a Text, &'a Vec<SigninCall>)>,
}

impl GraphState {
    /// What [`GraphState::saved`] gives, borrowed: for writing the state out.
    pub fn saved_ref(&self) -> SavedGraphRef<'_> {
        let mut usage: Vec<(&Text, &Usage)> = self.usage.iter().collect();
        usage.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut issuing: Vec<(&Text, &Event)> =
            self.issuing.iter().map(|(k, e)| (k, &**e)).collect();
        issuing.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut signins: Vec<(&Text, &Vec<SigninCall>)> = self.signins.iter().collect();
        signins.sort_unstable_by(|a, b| a.0.cmp(b.0));
        SavedGraphRef {
            usage,
            issuing,
            signins,
        }
    }

    /// What to save: each key's issuing call and usage.
    pub fn saved(&self) -> SavedGraph {
        let mut usage: Vec<(Text, Usage)> = self
            .usage
            .iter()
            .map(|(k, u)| (k.clone(), u.clone()))
            .collect();
        usage.sort_by(|a, b| a.0.cmp(&b.0));
        let mut issuing: Vec<(Text, Box<Event>)> = self
            .issuing
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        issuing.sort_by(|a, b| a.0.cmp(&b.0));
        let mut signins: Vec<(Text, Vec<SigninCall>)> = self
            .signins
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        signins.sort_by(|a, b| a.0.cmp(&b.0));
        SavedGraph {
            usage,
            issuing,
            signins,
        }
    }

    /// Combines states of shards that read different logs (other accounts, other days): each
    /// key's earliest issuing call; the usage of a key seen in both, added in order of first use.
    pub fn merge(mut self, other: GraphState) -> GraphState {
        // A cross-account issuing call reaches both accounts: keep the copy one run over both
        // shards keeps (the one naming the caller in full, the caller's own account's first).
        let rank = |e: &Event| {
            (
                e.identity_type.as_deref() == Some("AWSAccount"),
                !(e.account_id.is_some() && e.account_id == e.recipient_account_id),
                e.event_time,
            )
        };
        for (k, e) in other.issuing {
            match self.issuing.get(&k) {
                Some(have) if (rank(have), have.sort_key()) <= (rank(&e), e.sort_key()) => {}
                _ => {
                    self.issuing.insert(k, e);
                }
            }
        }
        for (arn, calls) in other.signins {
            for c in calls {
                add_signin(&mut self.signins, arn.clone(), c);
            }
        }
        for (k, u) in other.usage {
            match self.usage.remove(&k) {
                None => {
                    self.usage.insert(k, u);
                }
                Some(have) => {
                    let (mut first, later) = if have.first <= u.first || u.first.is_none() {
                        (have, u)
                    } else {
                        (u, have)
                    };
                    first.absorb(later);
                    self.usage.insert(k, first);
                }
            }
        }
        self.live = None;
        self.live_pending = false;
        self
    }

    /// A live state from what [`GraphState::saved`] gave. Its sessions are resolved for lookups
    /// when the first slice comes, those still usable at its first call: the live view that
    /// resolving every saved session would leave once that slice dropped the others.
    pub fn restore(saved: SavedGraph) -> GraphState {
        GraphState {
            live: Some(HashMap::default()),
            live_pending: true,
            ..GraphState::from_saved(saved)
        }
    }

    /// The state [`GraphState::saved`] gave, without lookups (to merge or finish).
    pub fn from_saved(saved: SavedGraph) -> GraphState {
        GraphState {
            usage: saved.usage.into_iter().collect(),
            issuing: saved.issuing.into_iter().collect(),
            signins: saved.signins.into_iter().collect(),
            live: None,
            live_pending: false,
        }
    }

    /// Resolves every session for lookups: what [`GraphState::restore`] did before it resolved
    /// only the sessions its first slice can use (the tests' reference).
    #[cfg(test)]
    fn with_live(mut self) -> GraphState {
        self.live_pending = false;
        let graph = self.resolve(None);
        self.live = Some(
            graph
                .sessions
                .into_iter()
                .map(|s| (s.access_key_id.clone(), s))
                .collect(),
        );
        self
    }

    /// Drops what no later call can change or need: keys that can no longer sign calls at
    /// `now` (expired, see [`usable_until`]) unless a key still usable descends from them (its
    /// chain is resolved through them). What a scheduled run saves for the next, so that the
    /// state holds the sessions still alive, not every session ever seen. Hands back what it
    /// took out ([`Retired`]: its `len` is the number of keys dropped), for the caller to free
    /// or, at the end of a process, to leave to the operating system.
    pub fn retire(&mut self, now: Millis) -> Retired {
        let parent = |k: &Text| -> Option<Text> {
            self.issuing
                .get(k)
                .filter(|e| caller_is_session(e))
                .and_then(|e| e.access_key_id.clone())
                .filter(|p| !p.is_empty())
        };
        let mut keep: HashSet<Text> = HashSet::default();
        // A console session linked later to a `GetSigninToken` call needs the federating
        // session's chain: keep the calls a console session may still follow, and their keys.
        self.signins.retain(|_, calls| {
            calls.retain(|c| c.at + SIGNIN_LINK_WINDOW + EXPIRY_GRACE >= now);
            !calls.is_empty()
        });
        let signin_keys: HashSet<Text> = self
            .signins
            .values()
            .flatten()
            .map(|c| c.key.clone())
            .collect();
        for k in self
            .usage
            .keys()
            .chain(self.issuing.keys())
            .chain(signin_keys.iter())
        {
            if self.key_until(k).is_none_or(|t| t + EXPIRY_GRACE >= now) || signin_keys.contains(k)
            {
                let mut cur = Some(k.clone());
                while let Some(c) = cur {
                    if !keep.insert(c.clone()) {
                        break;
                    }
                    cur = parent(&c);
                }
            }
        }
        Retired {
            usage: self.usage.extract_if(|k, _| !keep.contains(k)).collect(),
            issuing: self.issuing.extract_if(|k, _| !keep.contains(k)).collect(),
            _live: self
                .live
                .as_mut()
                .map(|live| live.extract_if(|k, _| !keep.contains(k)).collect())
                .unwrap_or_default(),
        }
    }

    /// Whether the state knows this key.
    pub fn contains(&self, key: &str) -> bool {
        self.issuing.contains_key(key) || self.usage.contains_key(key)
    }

    /// Forgets sessions last used (or issued) before `before`, so that the state does not grow
    /// without end; their chains' later sessions keep what was resolved for them.
    pub fn expire(&mut self, before: Millis) {
        let last = |k: &Text, usage: &HashMap<Text, Usage>, issuing: &HashMap<Text, Box<Event>>| {
            let used = usage.get(k).and_then(|u| u.last);
            let issued = issuing.get(k).map(|e| e.event_time);
            used.max(issued)
        };
        let old: Vec<Text> = self
            .usage
            .keys()
            .chain(self.issuing.keys())
            .filter(|k| last(k, &self.usage, &self.issuing).is_some_and(|t| t < before))
            .cloned()
            .collect();
        for k in old {
            self.usage.remove(&k);
            self.issuing.remove(&k);
        }
        self.signins.retain(|_, calls| {
            calls.retain(|c| c.at >= before);
            !calls.is_empty()
        });
    }

    /// A state that keeps resolved sessions for lookups while events stream ([`Lookup`]).
    pub fn live() -> GraphState {
        GraphState {
            live: Some(HashMap::default()),
            ..GraphState::default()
        }
    }

    /// Keys known so far (issued, or seen signing calls; long-term keys too).
    pub fn len(&self) -> usize {
        let seen_only = self
            .usage
            .keys()
            .filter(|k| !self.issuing.contains_key(*k))
            .count();
        self.issuing.len() + seen_only
    }

    pub fn is_empty(&self) -> bool {
        self.usage.is_empty() && self.issuing.is_empty()
    }

    /// Takes the next time-ordered slice of events (deduplicated, cross-account copies marked).
    pub fn observe(&mut self, events: &[Event]) {
        // Usage per key, gathered in parallel over chunks and merged in chunk order, so the
        // result is the same as one pass in time order.
        let chunk = (events.len() / (4 * rayon::current_num_threads().max(1))).max(4096);
        let parts: Vec<Gathered> = events.par_chunks(chunk).map(gather).collect();
        if let (true, Some(first)) = (self.live_pending, events.first()) {
            self.live_pending = false;
            self.live = Some(self.resolved_usable_at(first.event_time));
        }
        if let (Some(live), Some(first)) = (self.live.as_mut(), events.first()) {
            // No call in this slice or later can use a key that expired before it: the live
            // view keeps only sessions still usable (the graph itself keeps every one).
            let usage = &self.usage;
            live.retain(|k, s| {
                usable_until(s, usage.get(k)).is_none_or(|t| t + EXPIRY_GRACE >= first.event_time)
            });
        }
        // Keys issued in this slice, and keys first seen signing calls in it.
        let mut fresh: Vec<(Text, bool)> = Vec::new();
        for (u_part, i_part, s_part) in parts {
            for (arn, call) in s_part {
                add_signin(&mut self.signins, arn, call);
            }
            for (k, e) in i_part {
                if !self.issuing.contains_key(k) {
                    let key: Text = e
                        .sts()
                        .issued_access_key_id
                        .clone()
                        .unwrap_or_else(|| Arc::from(k));
                    // An issued key's first call is not needed: its issuing call tells more.
                    if let Some(u) = self.usage.get_mut(&key) {
                        u.first_event = None;
                    }
                    self.issuing.insert(key.clone(), Box::new(compact(e)));
                    fresh.push((key, true));
                }
            }
            for (k, mut u) in u_part {
                if self.issuing.contains_key(k) {
                    u.first_event = None;
                }
                match self.usage.get_mut(k) {
                    Some(have) => have.absorb(u),
                    None => {
                        let key = u
                            .first_event
                            .as_ref()
                            .and_then(|e| e.access_key_id.clone())
                            .unwrap_or_else(|| Arc::from(k));
                        self.usage.insert(key.clone(), u);
                        fresh.push((key, false));
                    }
                }
            }
        }
        if self.live.is_some() {
            self.update_live(fresh);
        }
    }

    /// Adds the sessions first seen in the last slice to the live view, resolved against the
    /// sessions before them.
    fn update_live(&mut self, fresh: Vec<(Text, bool)>) {
        let mut new: Vec<Session> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::default();
        let known = |k: &str| self.live.as_ref().is_some_and(|l| l.contains_key(k));
        for (key, issued) in &fresh {
            if !seen.insert(key) || (!issued && known(key)) {
                continue;
            }
            if let Some(e) = self.issuing.get(key) {
                new.push(issued_session(key, e, None));
            } else if let Some(u) = self.usage.get(key) {
                if let Some(s) = seen_only_session(key, u, &self.signins) {
                    new.push(s);
                }
            }
        }
        sort_sessions(&mut new);
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let keys: Vec<Text> = new.iter().map(|s| s.access_key_id.clone()).collect();
        let mut pending: HashSet<Text> = keys.iter().cloned().collect();
        for s in new {
            live.insert(s.access_key_id.clone(), s);
        }
        for key in keys {
            resolve_live(live, &mut pending, key);
        }
    }

    /// The graph of everything observed: the same as [`Graph::build`] over all the events.
    pub fn finish(&self) -> Graph {
        Graph {
            issuing: self.issuing.clone(),
            ..self.resolve(None)
        }
    }

    /// [`GraphState::finish`]'s graph with the state's issuing calls moved into it, not copied:
    /// the state holds none until [`GraphState::give_back`] returns them, and must not observe,
    /// retire or be saved before.
    pub fn lend(&mut self) -> Graph {
        let mut graph = self.resolve(None);
        graph.issuing = std::mem::take(&mut self.issuing);
        graph
    }

    /// Takes back the issuing calls [`GraphState::lend`] moved into `graph`.
    pub fn give_back(&mut self, graph: &mut Graph) {
        self.issuing = std::mem::take(&mut graph.issuing);
    }

    /// The sessions a restored state's lookups need at `at` (its first slice's first call),
    /// resolved: those still usable then and their chains (a session's chain is resolved from
    /// its ancestors alone). Every session when a chain loops (which way round a loop is
    /// resolved depends on which of its sessions comes first in the whole graph).
    fn resolved_usable_at(&self, at: Millis) -> HashMap<Text, Session> {
        let usable = |k: &str| -> bool { self.key_until(k).is_none_or(|t| t + EXPIRY_GRACE >= at) };
        let parent = |k: &str| -> Option<&str> {
            match self.issuing.get(k) {
                Some(e) => e
                    .access_key_id
                    .as_deref()
                    .filter(|p| caller_is_session(e) && !p.is_empty()),
                None => self
                    .usage
                    .get(k)
                    .and_then(|u| signin_link(k, u, &self.signins))
                    .map(|c| &*c.key),
            }
        };
        let mut wanted: HashSet<&str> = HashSet::default();
        let mut path: HashSet<&str> = HashSet::default();
        let keys = self
            .issuing
            .keys()
            .chain(self.usage.keys().filter(|k| !self.issuing.contains_key(*k)));
        let mut looped = false;
        'keys: for k in keys {
            if !usable(k) {
                continue;
            }
            path.clear();
            let mut cur = Some(&**k);
            while let Some(c) = cur {
                if !path.insert(c) {
                    looped = true;
                    break 'keys;
                }
                if !wanted.insert(c) {
                    break;
                }
                cur = parent(c);
            }
        }
        let graph = self.resolve((!looped).then_some(&wanted));
        graph
            .sessions
            .into_iter()
            .map(|s| (s.access_key_id.clone(), s))
            .collect()
    }

    /// The sessions resolved, as [`GraphState::finish`] gives them, without a copy of the
    /// issuing calls (which only the graph handed on needs); with `only`, just those keys (a
    /// set that holds every ancestor of its keys resolves them as the whole graph would).
    fn resolve(&self, only: Option<&HashSet<&str>>) -> Graph {
        let wanted = |k: &Text| only.is_none_or(|o| o.contains(&**k));
        let issued: Vec<(&Text, &Event)> = self
            .issuing
            .iter()
            .filter(|(k, _)| wanted(k))
            .map(|(k, e)| (k, &**e))
            .collect();
        let mut sessions: Vec<Session> = issued
            .par_iter()
            .map(|&(key, e)| issued_session(key, e, self.usage.get(key)))
            .collect();
        let seen_only: Vec<(&Text, &Usage)> = self
            .usage
            .iter()
            .filter(|(k, _)| !self.issuing.contains_key(*k) && wanted(k))
            .collect();
        sessions.par_extend(
            seen_only
                .par_iter()
                .filter_map(|&(key, u)| seen_only_session(key, u, &self.signins)),
        );
        sort_sessions(&mut sessions);
        let mut g = Graph {
            index: sessions
                .iter()
                .enumerate()
                .map(|(i, s)| (s.access_key_id.clone(), i))
                .collect(),
            sessions,
            children: HashMap::default(),
            issuing: HashMap::default(),
        };
        g.resolve_chains();
        for (i, s) in g.sessions.iter().enumerate() {
            if let Some(p) = &s.parent_access_key_id {
                g.children.entry(p.clone()).or_default().push(i);
            }
        }
        g
    }
}

/// The longest STS credentials live (GetSessionToken, GetFederationToken): 36 hours.
pub const LONGEST_SESSION: Millis = 36 * 3600 * 1000;
/// Clock differences between services: a call a little after a key's expiry still counts.
pub const EXPIRY_GRACE: Millis = 3600 * 1000;

/// Until when a key can sign calls: its expiration when its issuing call tells it, else 36
/// hours (the longest STS credentials live) after it was issued or, for a key seen only
/// signing calls, after its last call (it was issued before its first). None when unknown.
fn usable_until(s: &Session, u: Option<&Usage>) -> Option<Millis> {
    if s.issued_in_window {
        return s
            .expires_at
            .or_else(|| s.issued_at.map(|t| t + LONGEST_SESSION));
    }
    u.and_then(|u| u.last).map(|t| t + LONGEST_SESSION)
}

/// Sessions in graph order: by (issue time, or first use), then key.
fn sort_sessions(sessions: &mut [Session]) {
    sessions.par_sort_by(|a, b| {
        (a.issued_at.or(a.first_used), &a.access_key_id)
            .cmp(&(b.issued_at.or(b.first_used), &b.access_key_id))
    });
}

/// A key seen signing calls whose issuing call is not in the input, when it is a session: a
/// temporary key (ASIA...) or one that signs as a session identity. A session of a principal
/// that federated into the console just before its first call is linked to the federating
/// session ([`SIGNIN_LINK_WINDOW`]).
fn seen_only_session(key: &str, u: &Usage, signins: &Signins) -> Option<Session> {
    let fe = u
        .first_event
        .as_ref()
        .filter(|_| seen_only_is_session(key, u))?;
    let mut s = unissued_session(key, fe, u);
    if let Some(c) = signin_link(key, u, signins) {
        s.parent_access_key_id = Some(c.key.clone());
        s.signin_link = Some(SigninLink {
            at: c.at,
            event_id: c.event_id.clone(),
        });
        s.chain_depth = 2;
    }
    Some(s)
}

/// Whether a key seen only in use is a session: a temporary key (ASIA...) or one that signs as a
/// session identity.
fn seen_only_is_session(key: &str, u: &Usage) -> bool {
    u.first_event
        .as_ref()
        .is_some_and(|fe| is_temporary_key(key) || signs_as_session(fe))
}

/// Whether a call's identity is a session's (an assumed role or a federated user).
fn signs_as_session(e: &Event) -> bool {
    matches!(
        e.identity_type.as_deref(),
        Some("AssumedRole") | Some("FederatedUser")
    )
}

/// The `GetSigninToken` call a key seen only in use follows: only a console session (its calls
/// say `sessionCredentialFromConsole`) of a session identity follows a sign-in, the latest one
/// by the same principal within [`SIGNIN_LINK_WINDOW`] before its first call.
fn signin_link<'s>(key: &str, u: &Usage, signins: &'s Signins) -> Option<&'s SigninCall> {
    let fe = u.first_event.as_ref()?;
    if !(signs_as_session(fe) && u.notes.as_ref().is_some_and(|n| n.from_console)) {
        return None;
    }
    let first = u.first.unwrap_or(fe.event_time);
    fe.principal_arn
        .as_ref()
        .and_then(|arn| signins.get(arn))
        .and_then(|calls| {
            calls
                .iter()
                .rev()
                .find(|c| c.at <= first && first - c.at <= SIGNIN_LINK_WINDOW && *c.key != *key)
        })
}

/// Resolves a live session's chain from its parent (walking up to resolved sessions first), as
/// [`Graph::resolve_chains`] does for the whole graph.
fn resolve_live(live: &mut HashMap<Text, Session>, pending: &mut HashSet<Text>, start: Text) {
    if !pending.contains(&start) {
        return;
    }
    let mut path = vec![start.clone()];
    let mut on_path: HashSet<Text> = [start].into_iter().collect();
    loop {
        let cur = path.last().cloned();
        let parent = cur
            .and_then(|c| live.get(&c))
            .and_then(|s| s.parent_access_key_id.clone())
            .filter(|p| live.contains_key(p));
        match parent {
            Some(p) if pending.contains(&p) && !on_path.contains(&p) => {
                on_path.insert(p.clone());
                path.push(p);
            }
            _ => break,
        }
    }
    for key in path.iter().rev() {
        let parent = live
            .get(key)
            .and_then(|s| s.parent_access_key_id.clone())
            .filter(|p| live.contains_key(p) && !pending.contains(p));
        let inherited = parent.and_then(|p| live.get(&p)).map(|ps| {
            (
                ps.chain_depth + 1,
                ps.root_principal.clone(),
                ps.chain_complete,
                ps.source_identity.clone(),
                ps.mfa_authenticated,
            )
        });
        if let Some(s) = live.get_mut(key) {
            apply_parent(s, inherited);
        }
        pending.remove(key);
    }
}

/// What a session takes from its resolved parent (depth, root, completeness, source identity,
/// MFA), or, when it has a parent key that is no known session, an unknown top.
type Inherited = (u32, Option<Text>, bool, Option<Text>, Option<bool>);

fn apply_parent(s: &mut Session, inherited: Option<Inherited>) {
    if let Some((depth, root, complete, si, mfa)) = inherited {
        s.chain_depth = depth;
        s.root_principal = root;
        s.chain_complete = complete && s.issued_in_window;
        if s.source_identity.is_none() {
            s.source_identity = si;
        }
        if s.mfa_authenticated.is_none() {
            s.mfa_authenticated = mfa;
        }
    } else if s.parent_access_key_id.is_some() {
        // The parent key is not a session we know (or a cycle): the top is unknown.
        s.chain_depth = s.chain_depth.max(2);
        s.root_principal = None;
        s.chain_complete = false;
    }
}

impl Graph {
    /// Builds the graph from time-ordered, deduplicated events.
    pub fn build(events: &[Event]) -> Graph {
        let mut state = GraphState::default();
        state.observe(events);
        state.finish()
    }

    /// The call that issued a session (its first successful issuing call in the input).
    pub fn issuing_event(&self, key: &str) -> Option<&Event> {
        self.issuing.get(key).map(|e| &**e)
    }

    /// Fills depth, root, completeness, source identity and MFA down each chain.
    fn resolve_chains(&mut self) {
        let n = self.sessions.len();
        let mut done = vec![false; n];
        for start in 0..n {
            if done[start] {
                continue;
            }
            // Walk up to a resolved ancestor, a session with no parent in the graph, or a cycle.
            let mut path = vec![start];
            let mut on_path: HashSet<usize> = [start].into_iter().collect();
            loop {
                let cur = *path.last().unwrap_or(&start);
                let parent = self.sessions[cur]
                    .parent_access_key_id
                    .as_ref()
                    .and_then(|p| self.index.get(p).copied());
                match parent {
                    Some(p) if !done[p] && !on_path.contains(&p) => {
                        path.push(p);
                        on_path.insert(p);
                    }
                    _ => break,
                }
            }
            // Resolve from the top down.
            for &i in path.iter().rev() {
                let parent = self.sessions[i]
                    .parent_access_key_id
                    .as_ref()
                    .and_then(|p| self.index.get(p).copied())
                    .filter(|&p| done[p]);
                let inherited = parent.map(|p| {
                    let ps = &self.sessions[p];
                    (
                        ps.chain_depth + 1,
                        ps.root_principal.clone(),
                        ps.chain_complete,
                        ps.source_identity.clone(),
                        ps.mfa_authenticated,
                    )
                });
                apply_parent(&mut self.sessions[i], inherited);
                done[i] = true;
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Session> {
        self.index.get(key).map(|&i| &self.sessions[i])
    }

    /// The chain from the top known session down to `key` (inclusive).
    pub fn ancestors(&self, key: &str) -> Vec<&Session> {
        let mut out = Vec::new();
        let mut cur = self.get(key);
        while let Some(s) = cur {
            if out
                .iter()
                .any(|x: &&Session| x.access_key_id == s.access_key_id)
            {
                break;
            }
            out.push(s);
            cur = s.parent_access_key_id.as_deref().and_then(|p| self.get(p));
        }
        out.reverse();
        out
    }

    /// Sessions issued with `key`, directly.
    pub fn children(&self, key: &str) -> impl Iterator<Item = &Session> {
        self.children
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| &self.sessions[i])
    }

    /// `key` and every session issued down the chain from it, in order (depth first).
    pub fn descendants(&self, key: &str) -> Vec<&Session> {
        let mut out = Vec::new();
        let mut stack: Vec<&Session> = self.get(key).into_iter().collect();
        while let Some(s) = stack.pop() {
            if out
                .iter()
                .any(|x: &&Session| x.access_key_id == s.access_key_id)
            {
                continue;
            }
            out.push(s);
            let mut kids: Vec<&Session> = self.children(&s.access_key_id).collect();
            kids.reverse();
            stack.extend(kids);
        }
        out
    }
}

fn issued_session(key: &str, e: &Event, u: Option<&Usage>) -> Session {
    let api = e.event_name.clone();
    let is_role = api.as_deref().is_some_and(|n| n.starts_with("AssumeRole"));
    let root_request = e.assume_root();
    let role_arn = if is_role {
        e.sts().requested_role_arn.clone().or_else(|| {
            e.sts()
                .assumed_role_arn
                .as_deref()
                .and_then(assumed_role_parts)
                .map(|(r, _)| Arc::from(r))
        })
    } else {
        None
    };
    let account = if is_role {
        role_arn
            .as_deref()
            .or(e.sts().assumed_role_arn.as_deref())
            .and_then(arn_account)
            .map(Arc::from)
    } else if let Some(target) = root_request
        .as_ref()
        .and_then(|r| r.target_account.as_deref())
    {
        Some(Arc::from(target))
    } else {
        e.account_id
            .clone()
            .or_else(|| e.recipient_account_id.clone())
    };
    let session_name = e.sts().role_session_name.clone().or_else(|| {
        e.sts()
            .assumed_role_arn
            .as_deref()
            .and_then(assumed_role_parts)
            .map(|(_, s)| Arc::from(s))
    });
    let caller_account = e.account_id.clone().or_else(|| {
        e.principal_arn
            .as_deref()
            .and_then(arn_account)
            .map(Arc::from)
    });
    let is_session = caller_is_session(e);
    let parent = if is_session {
        e.access_key_id.clone().filter(|k| !k.is_empty())
    } else {
        None
    };
    let root = if is_session { None } else { direct_root(e) };
    let identity_center = role_arn.as_deref().and_then(|r| {
        identity_center(
            r,
            session_name.as_deref(),
            u.and_then(|u| u.notes.as_deref()),
        )
    });
    // An Identity Center session belongs to the person, whatever names the SAML subject.
    let root = identity_center
        .as_ref()
        .and_then(IdentityCenter::person)
        .filter(|_| !is_session)
        .or(root);
    let mut ips: BTreeSet<Text> = u.map(|u| u.ips.clone()).unwrap_or_default();
    if let Some(ip) = &e.source_ip {
        ips.insert(ip.clone());
    }
    Session {
        access_key_id: Arc::from(key),
        issued_by_api: api,
        issued_at: Some(e.event_time),
        expires_at: e.sts().issued_expiration,
        cross_account: matches!((&account, &caller_account), (Some(a), Some(c)) if a != c),
        account,
        role_arn,
        session_name,
        caller_arn: e.principal_arn.clone().or_else(|| {
            direct_root(e).filter(|_| e.identity_type.as_deref() == Some("AWSService"))
        }),
        caller_type: e.identity_type.clone(),
        caller_access_key_id: e.access_key_id.clone().filter(|k| !k.is_empty()),
        chain_complete: root.is_some() || is_session,
        parent_access_key_id: parent,
        chain_depth: 1,
        root_principal: root,
        source_identity: e
            .sts()
            .requested_source_identity
            .clone()
            .or_else(|| e.source_identity.clone())
            .or_else(|| u.and_then(|u| u.source_identity.clone())),
        mfa_authenticated: u
            .and_then(|u| u.mfa)
            .or_else(|| requested_mfa(e))
            .or_else(|| (!is_session).then_some(e.mfa_authenticated).flatten()),
        issued_in_window: true,
        source_ips: ips.into_iter().collect(),
        first_used: u.and_then(|u| u.first),
        last_used: u.and_then(|u| u.last),
        calls: u.map_or(0, |u| u.calls),
        errors: u.map_or(0, |u| u.errors),
        issuing_event_id: e.event_id.clone(),
        requested_duration_seconds: e.sts().requested_duration_seconds,
        issuing_source_ip: e.source_ip.clone(),
        user_agents: u.map(|u| u.agents.clone()).unwrap_or_default(),
        used_source_identity: u.and_then(|u| u.source_identity.clone()),
        calls_without_source_identity: u.map_or(0, |u| u.no_source_identity),
        identity_center,
        assumed_root: root_request.map(|r| AssumedRoot {
            target_account: r.target_account.map(Arc::from),
            task_policy_arn: r.task_policy_arn.map(Arc::from),
        }),
        signin_link: None,
    }
}

/// The Identity Center user behind a session of `role_arn`, when it is an `AWSReservedSSO_*`
/// role: the user name is the session name; `onBehalfOf` adds the user id and identity store.
fn identity_center(
    role_arn: &str,
    session_name: Option<&str>,
    notes: Option<&crate::event::IdentityNotes>,
) -> Option<IdentityCenter> {
    let set = permission_set(role_arn)?;
    Some(IdentityCenter {
        permission_set: Arc::from(set),
        user_name: session_name.filter(|n| !n.is_empty()).map(Arc::from),
        user_id: notes.and_then(|n| n.user_id.clone()),
        identity_store_id: notes.and_then(|n| n.identity_store_id().map(Arc::from)),
    })
}

/// A key seen signing calls whose issuing call is not in the input.
fn unissued_session(key: &str, e: &Event, u: &Usage) -> Session {
    let kind = e.identity_type.as_deref();
    let notes = u.notes.as_deref();
    // `sessionContext.assumedRoot`: a root session from sts:AssumeRoot, not a console sign-in.
    let assumed_root = kind == Some("Root") && notes.is_some_and(|n| n.assumed_root);
    let console = matches!(kind, Some("IAMUser") | Some("Root")) && !assumed_root;
    let federated = kind == Some("FederatedUser");
    let (role_arn, session_name) = match kind {
        Some("AssumedRole") => {
            let parts = e.principal_arn.as_deref().and_then(assumed_role_parts);
            (
                e.session_issuer_arn
                    .clone()
                    .or_else(|| parts.as_ref().map(|(r, _)| Arc::from(r.as_str()))),
                parts.map(|(_, s)| Arc::from(s)),
            )
        }
        Some("FederatedUser") => (
            None,
            e.principal_arn
                .as_deref()
                .and_then(|a| a.rsplit('/').next())
                .map(Arc::from),
        ),
        _ => (None, None),
    };
    let account = e
        .account_id
        .clone()
        .or_else(|| role_arn.as_deref().and_then(arn_account).map(Arc::from));
    // Console sessions belong to the user (or root) itself; a federated user's session belongs to
    // the IAM user named as its issuer. Anything else has an unknown origin.
    // The Identity Center user name is the session name: `principalId` is
    // `AROA...:<user name>` (kept even where an exporter mangled the ARN).
    let identity_center = role_arn.as_deref().and_then(|r| {
        let user = e
            .principal_id
            .as_deref()
            .and_then(|p| p.split_once(':'))
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty())
            .or(session_name.as_deref());
        identity_center(r, user, notes)
    });
    let person = identity_center.as_ref().and_then(IdentityCenter::person);
    let root = if console {
        e.principal_arn.clone()
    } else if federated {
        e.session_issuer_arn.clone()
    } else {
        person.clone()
    };
    // Who issued it, when the logs tell: the user itself (console), or the federated user's issuer.
    let (caller_arn, caller_type) = if federated {
        (e.session_issuer_arn.clone(), e.session_issuer_type.clone())
    } else if console {
        (e.principal_arn.clone(), e.identity_type.clone())
    } else {
        (None, None)
    };
    Session {
        access_key_id: Arc::from(key),
        issued_by_api: if console {
            Some(Arc::from("ConsoleLogin"))
        } else if federated {
            Some(Arc::from("GetFederationToken"))
        } else if assumed_root {
            Some(Arc::from("AssumeRoot"))
        } else {
            None
        },
        issued_at: e.session_created_at,
        expires_at: None,
        account,
        role_arn,
        session_name,
        caller_arn,
        caller_type,
        caller_access_key_id: None,
        parent_access_key_id: None,
        chain_depth: 1,
        // Identity Center issues its role sessions to the person directly (depth 1).
        chain_complete: console || person.is_some(),
        root_principal: root,
        source_identity: u.source_identity.clone(),
        mfa_authenticated: u.mfa,
        cross_account: false,
        issued_in_window: false,
        source_ips: u.ips.iter().cloned().collect(),
        first_used: u.first,
        last_used: u.last,
        calls: u.calls,
        errors: u.errors,
        issuing_event_id: None,
        requested_duration_seconds: None,
        issuing_source_ip: None,
        user_agents: u.agents.clone(),
        used_source_identity: u.source_identity.clone(),
        calls_without_source_identity: u.no_source_identity,
        identity_center,
        assumed_root: assumed_root.then(|| AssumedRoot {
            target_account: e.account_id.clone(),
            task_policy_arn: None,
        }),
        signin_link: None,
    }
}

// ---- Retiring sessions while streaming (bounded memory for `hunt`; see engine::Hunt) ----

/// How long after a key could last sign a call (its expiry plus [`EXPIRY_GRACE`]) the streaming
/// engine still keeps it: calls delivered late (judged out of order) are still counted on it.
pub const RETIRE_MARGIN: Millis = 12 * 3600 * 1000;

impl GraphState {
    /// Until when a key of the state can sign calls: its issuing call's expiration (or 36 hours
    /// after it), else 36 hours after its last call. The same as [`GraphState::retire`] uses.
    fn key_until(&self, k: &str) -> Option<Millis> {
        match self.issuing.get(k) {
            Some(e) => Some(
                e.sts()
                    .issued_expiration
                    .unwrap_or(e.event_time + LONGEST_SESSION),
            ),
            None => self
                .usage
                .get(k)
                .and_then(|u| u.last)
                .map(|t| t + LONGEST_SESSION),
        }
    }

    /// The key that signed a key's issuing call, when a session did, or the session a console
    /// session was federated from (its parent in the graph).
    fn key_parent(&self, k: &str) -> Option<&Text> {
        match self.issuing.get(k) {
            Some(e) => Some(e)
                .filter(|e| caller_is_session(e))
                .and_then(|e| e.access_key_id.as_ref()),
            None => self
                .usage
                .get(k)
                .and_then(|u| signin_link(k, u, &self.signins))
                .map(|c| &c.key),
        }
        .filter(|p| !p.is_empty() && self.contains(p))
    }

    /// The earliest time a session of this state sorts at in a graph (its issue; when its
    /// issuing call is not known, the creation its calls state, or its first call); None for an
    /// empty state.
    pub fn earliest(&self) -> Option<Millis> {
        let issued = self.issuing.values().map(|e| e.event_time);
        let seen = self
            .usage
            .iter()
            .filter(|(k, u)| !self.issuing.contains_key(*k) && seen_only_is_session(k, u))
            .filter_map(|(_, u)| {
                u.first_event
                    .as_ref()
                    .and_then(|e| e.session_created_at)
                    .or(u.first)
            });
        issued.chain(seen).min()
    }

    /// Takes out of the state every chain that no call at or after `now` can use or change: whole
    /// trees of sessions (a top session and every session issued down from it) none of which could
    /// sign a call (or federate a console sign-in) within [`EXPIRY_GRACE`] + [`RETIRE_MARGIN`]
    /// before `now`. Returns them as a graph holding their issuing calls, moved out of the state
    /// returned beside it ([`GraphState::give_back`] returns them), resolved exactly as
    /// [`GraphState::finish`] resolves them at the end (a tree holds every ancestor of its
    /// sessions, and no later call adds to their usage), so what is judged on it now is what would
    /// be judged at the end, and as the state they were taken from. Long-term keys unseen as long
    /// are dropped too.
    pub fn take_retired(&mut self, now: Millis) -> (Graph, GraphState) {
        // A key's last console sign-in counts as a use: [`GraphState::retire`] keeps the keys
        // of sign-ins a console session may still follow.
        let mut signed: HashMap<&Text, Millis> = HashMap::default();
        for c in self.signins.values().flatten() {
            let at = signed.entry(&c.key).or_insert(c.at);
            *at = (*at).max(c.at);
        }
        let expired = |s: &GraphState, k: &Text| {
            s.key_until(k)
                .map(|t| signed.get(k).map_or(t, |&at| t.max(at)))
                .is_some_and(|t| t + EXPIRY_GRACE + RETIRE_MARGIN < now)
        };
        let keys: Vec<Text> = self
            .usage
            .keys()
            .chain(self.issuing.keys().filter(|k| !self.usage.contains_key(*k)))
            .cloned()
            .collect();
        // The top of each key's tree (a cycle, which time order rules out, stops the walk).
        let top = |s: &GraphState, k: &Text| -> Text {
            let mut path: Vec<&Text> = vec![k];
            let mut cur = k;
            while let Some(p) = s.key_parent(cur) {
                if path.contains(&p) || path.len() > 64 {
                    // A cycle or an absurd chain: keep every key of it alive.
                    return Text::from("");
                }
                path.push(p);
                cur = p;
            }
            cur.clone()
        };
        let tops: Vec<Text> = keys.iter().map(|k| top(self, k)).collect();
        let alive: HashSet<&Text> = keys
            .iter()
            .zip(&tops)
            .filter(|(k, t)| t.is_empty() || !expired(self, k))
            .map(|(_, t)| t)
            .collect();
        let gone: Vec<Text> = keys
            .iter()
            .zip(&tops)
            .filter(|(_, t)| !alive.contains(t))
            .map(|(k, _)| k.clone())
            .collect();
        drop(alive);
        drop(signed);
        if gone.is_empty() {
            return (Graph::default(), GraphState::default());
        }
        let mut sub = GraphState::default();
        for k in gone {
            if let Some(u) = self.usage.remove(&k) {
                // A console session resolves through its principal's sign-ins.
                let signed = u
                    .first_event
                    .as_ref()
                    .and_then(|e| e.principal_arn.as_ref());
                if let Some((arn, calls)) = signed.and_then(|a| self.signins.get_key_value(a)) {
                    sub.signins
                        .entry(arn.clone())
                        .or_insert_with(|| calls.clone());
                }
                sub.usage.insert(k.clone(), u);
            }
            if let Some(e) = self.issuing.remove(&k) {
                sub.issuing.insert(k.clone(), e);
            }
            if let Some(live) = self.live.as_mut() {
                live.remove(&k);
            }
        }
        // The issuing calls move into the graph (the detections read them there), not copied.
        let graph = sub.lend();
        (graph, sub)
    }

    /// What [`GraphState::saved`] gives for these keys alone (a session and its chain, say):
    /// [`GraphState::from_saved`] and [`GraphState::finish`] give back their sessions.
    pub fn saved_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) -> SavedGraph {
        let mut saved = SavedGraph::default();
        for k in keys {
            if let Some((k, u)) = self.usage.get_key_value(k) {
                saved.usage.push((k.clone(), u.clone()));
            }
            if let Some((k, e)) = self.issuing.get_key_value(k) {
                saved.issuing.push((k.clone(), e.clone()));
            }
        }
        saved.usage.sort_by(|a, b| a.0.cmp(&b.0));
        saved.issuing.sort_by(|a, b| a.0.cmp(&b.0));
        saved
    }
}

impl Graph {
    /// This graph with sessions taken out earlier ([`GraphState::take_retired`]) added back:
    /// each already resolved with its whole chain, so nothing is resolved again. Their issuing
    /// calls are not kept.
    pub fn join(mut self, retired: Vec<Session>) -> Graph {
        if retired.is_empty() {
            return self;
        }
        self.sessions.extend(retired);
        sort_sessions(&mut self.sessions);
        self.index = self
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| (s.access_key_id.clone(), i))
            .collect();
        self.children = HashMap::default();
        for (i, s) in self.sessions.iter().enumerate() {
            if let Some(p) = &s.parent_access_key_id {
                self.children.entry(p.clone()).or_default().push(i);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arn_helpers() {
        assert_eq!(
            arn_account("arn:aws:iam::123456789012:role/X"),
            Some("123456789012")
        );
        assert_eq!(
            assumed_role_parts("arn:aws:sts::123456789012:assumed-role/Admin/alice"),
            Some(("arn:aws:iam::123456789012:role/Admin".to_string(), "alice"))
        );
        assert_eq!(
            assumed_role_parts("arn:aws:sts::1:assumed-role/path/Role/s").map(|p| p.0),
            Some("arn:aws:iam::1:role/path/Role".to_string())
        );
    }

    use crate::engine::tests::sample_slices;

    #[test]
    fn retiring_hands_back_every_key_it_takes_out_and_keeps_the_living_ones() {
        let mut state = GraphState::live();
        for s in &sample_slices() {
            state.observe(s);
        }
        let keys = |g: &GraphState| -> BTreeSet<Text> {
            g.usage.keys().chain(g.issuing.keys()).cloned().collect()
        };
        let before = keys(&state);
        let held = state.usage.len() + state.issuing.len();
        // Long after the last call: every key has expired.
        let last = sample_slices()
            .iter()
            .flatten()
            .map(|e| e.event_time)
            .max()
            .unwrap();
        let mut all_gone = GraphState::restore(state.saved());
        let taken = all_gone.retire(last + 1000 * 86_400_000);
        assert_eq!(taken.len(), held);
        assert!(keys(&all_gone).is_empty());
        let handed: BTreeSet<Text> = taken
            .usage
            .iter()
            .map(|(k, _)| k.clone())
            .chain(taken.issuing.iter().map(|(k, _)| k.clone()))
            .collect();
        assert_eq!(handed, before);
        // At the last call: what is taken out and what is kept are the keys held, each once.
        let taken = state.retire(last);
        assert!(!taken.is_empty(), "keys expired before the last call");
        assert!(
            !keys(&state).is_empty(),
            "keys still usable at the last call"
        );
        assert_eq!(taken.len() + state.usage.len() + state.issuing.len(), held);
        assert!(taken
            .usage
            .iter()
            .all(|(k, _)| !state.usage.contains_key(k)));
        assert!(taken
            .issuing
            .iter()
            .all(|(k, _)| !state.issuing.contains_key(k)));
    }

    #[test]
    fn a_restored_state_looks_up_the_same_sessions_as_one_resolving_every_saved_session() {
        let slices = sample_slices();
        let mut skipped = 0;
        for cut in [slices.len() / 4, slices.len() / 2, 3 * slices.len() / 4] {
            let mut before = GraphState::live();
            for s in &slices[..cut] {
                before.observe(s);
            }
            let mut lazy = GraphState::restore(before.saved());
            let mut eager = GraphState::from_saved(before.saved()).with_live();
            let at = slices[cut][0].event_time;
            skipped += eager.resolve(None).sessions.len() - lazy.resolved_usable_at(at).len();
            for s in &slices[cut..] {
                lazy.observe(s);
                eager.observe(s);
                let (l, e) = (lazy.live.as_ref().unwrap(), eager.live.as_ref().unwrap());
                assert_eq!(l.len(), e.len(), "cut at slice {cut}");
                for (k, session) in e {
                    assert!(
                        l.get(k) == Some(session),
                        "{k} differs (cut at slice {cut})"
                    );
                }
            }
            assert!(lazy.finish().sessions == eager.finish().sessions);
        }
        assert!(skipped > 0, "expired saved sessions are not resolved again");
    }

    #[test]
    fn permission_sets_of_identity_center_roles() {
        for (role, set) in [
            (
                "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                Some("AdministratorAccess"),
            ),
            (
                "arn:aws:sts::1:assumed-role/AWSReservedSSO_developer_admin_asdf/foo@bar.com",
                Some("developer_admin"),
            ),
            ("AWSReservedSSO_ReadOnly_fedcba9876543210", Some("ReadOnly")),
            ("arn:aws:iam::1:role/Admin", None),
            ("arn:aws:iam::1:role/AWSReservedSSO_", None),
        ] {
            assert_eq!(permission_set(role), set, "{role}");
        }
    }
}
