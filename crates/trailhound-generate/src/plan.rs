//! Planned events (compact, rendered to JSON only when their file is written) and the STS
//! machinery that issues credentials and records every session in the ground truth.

use super::api::Api;
use super::clock::{iso_string, sts_expiration};
use super::json::{array, Obj};
use super::rng::{uuid_string, Draw, Gen};
use super::world::{World, REGIONS, USE1};
use super::{ExpectedSession, PlantedIncident};
use std::sync::Arc;

/// Include `tlsDetails` (TLS 1.3 unless [`F_TLS12`]).
pub(crate) const F_TLS: u8 = 1;
pub(crate) const F_TLS12: u8 = 2;
/// `sessionCredentialFromConsole: "true"`.
pub(crate) const F_CONSOLE: u8 = 4;
/// Called through the account's interface VPC endpoint (`vpcEndpointId`).
pub(crate) const F_VPCE: u8 = 8;
/// Keep this record's place in its file (no shuffling around it).
pub(crate) const F_PIN: u8 = 16;
/// The call was throttled (`ThrottlingException`).
pub(crate) const F_THROTTLED: u8 = 32;

/// Where a call came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    V4([u8; 4]),
    Name(&'static str),
}

/// What was called.
#[derive(Clone)]
pub(crate) enum Body {
    /// A call from the catalog; `p` selects resources and parameters.
    Api { api: Api, p: u32 },
    /// A fully described record (STS, sign-in, errors, copies in another account).
    Full(Arc<Full>),
}

/// A record whose parts are already JSON text.
pub(crate) struct Full {
    pub version: &'static str,
    pub source: &'static str,
    pub name: &'static str,
    pub read_only: bool,
    pub event_type: &'static str,
    pub error: Option<(String, String)>,
    pub request: Option<String>,
    pub response: Option<String>,
    pub additional: Option<String>,
    pub resources: Option<String>,
    pub shared: Option<u128>,
    pub request_id: bool,
    pub tls_host: Option<String>,
    /// Seed and length of the session token that replaces [`TOKEN_MARK`] in `response`.
    pub token: Option<(u128, u32)>,
}

/// One planned record.
#[derive(Clone)]
pub(crate) struct Ev {
    pub t: i64,
    pub acct: u16,
    pub region: u8,
    pub flags: u8,
    pub seq: u32,
    pub id: u128,
    pub ident: Arc<str>,
    pub src: Src,
    pub ua: Arc<str>,
    pub body: Body,
}

/// Temporary-credential facts of a signer.
#[derive(Clone, Debug)]
pub(crate) struct Sess {
    pub depth: u32,
    pub si: Option<String>,
    pub expires: i64,
}

/// Something that signs calls: an IAM user's long-term key, a session, or an AWS service.
#[derive(Clone)]
pub(crate) struct Ident {
    pub json: Arc<str>,
    pub acct: usize,
    /// The ARN named in error messages.
    pub arn: String,
    /// principalId as the role owner's account sees it (`AWSAccount` copies).
    pub principal_id: String,
    pub key: Option<String>,
    pub sess: Option<Sess>,
    /// IAM user / root ARN, service name, or federated subject at the top of the chain.
    pub root: Option<String>,
    /// An IAM user's own temporary key (console, GetSessionToken), MFA-authenticated.
    pub user_session: bool,
}

impl Ident {
    pub(crate) fn valid_at(&self, t: i64) -> bool {
        self.sess.as_ref().is_some_and(|s| t + 300 < s.expires)
    }
}

/// Parameters of an AssumeRole call.
pub(crate) struct Assume<'a> {
    pub session_name: String,
    pub duration: Option<i64>,
    pub serial: Option<String>,
    pub source_identity: Option<String>,
    pub region: u8,
    pub global: bool,
    pub src: Src,
    pub ua: &'a Arc<str>,
    pub flags: u8,
}

/// One unit's output.
#[derive(Default)]
pub(crate) struct Out {
    pub evs: Vec<Ev>,
    pub sessions: Vec<ExpectedSession>,
    pub incidents: Vec<PlantedIncident>,
}

pub(crate) struct Plan<'w> {
    pub w: &'w World,
    pub rng: Gen,
    pub out: Out,
}

/// The userIdentity of an IAM user signing with a long-term key.
pub(crate) fn user_ident(w: &World, u: usize) -> Ident {
    let user = &w.users[u];
    let acct = &w.accounts[user.acct].id;
    let arn = w.user_arn(u);
    let json = Obj::new()
        .s("type", "IAMUser")
        .s("principalId", &user.id)
        .s("arn", &arn)
        .s("accountId", acct)
        .s("accessKeyId", &user.key)
        .s("userName", &user.name)
        .end();
    Ident {
        json: Arc::from(json),
        acct: user.acct,
        arn: arn.clone(),
        principal_id: user.id.clone(),
        key: Some(user.key.clone()),
        sess: None,
        root: Some(arn),
        user_session: false,
    }
}

/// `{"type":"AWSService","invokedBy":...}`.
pub(crate) fn service_ident(service: &str) -> Arc<str> {
    Arc::from(
        Obj::new()
            .s("type", "AWSService")
            .s("invokedBy", service)
            .end(),
    )
}

fn attributes(created: i64, mfa: bool) -> String {
    Obj::new()
        .s("creationDate", &iso_string(created))
        .s("mfaAuthenticated", if mfa { "true" } else { "false" })
        .end()
}

/// Extra parts of an assumed-role identity.
#[derive(Default)]
pub(crate) struct RoleCtx<'a> {
    pub ec2: bool,
    pub web_provider: Option<&'a str>,
    pub invoked_by: Option<&'a str>,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn role_session_json(
    w: &World,
    role: usize,
    session_name: &str,
    key: &str,
    created: i64,
    mfa: bool,
    si: Option<&str>,
    ctx: &RoleCtx,
) -> String {
    let r = &w.roles[role];
    let acct = &w.accounts[r.acct].id;
    let issuer = Obj::new()
        .s("type", "Role")
        .s("principalId", &r.id)
        .s("arn", &w.role_arn(role))
        .s("accountId", acct)
        .s("userName", &r.name)
        .end();
    let web = match ctx.web_provider {
        Some(p) => Obj::new()
            .s("federatedProvider", p)
            .raw("attributes", "{}")
            .end(),
        None => "{}".to_string(),
    };
    let mut sc = Obj::new()
        .raw("sessionIssuer", &issuer)
        .raw("webIdFederationData", &web)
        .raw("attributes", &attributes(created, mfa));
    if ctx.ec2 {
        sc = sc.s("ec2RoleDelivery", "2.0");
    }
    let sc = sc.os("sourceIdentity", si).end();
    Obj::new()
        .s("type", "AssumedRole")
        .s("principalId", &format!("{}:{session_name}", r.id))
        .s(
            "arn",
            &format!("arn:aws:sts::{acct}:assumed-role/{}/{session_name}", r.name),
        )
        .s("accountId", acct)
        .s("accessKeyId", key)
        .raw("sessionContext", &sc)
        .os("invokedBy", ctx.invoked_by)
        .end()
}

/// An IAM user's temporary key (console session or GetSessionToken): type stays `IAMUser`.
fn user_session_json(w: &World, u: usize, key: &str, created: i64, mfa: bool) -> String {
    let user = &w.users[u];
    let sc = Obj::new()
        .raw("sessionIssuer", "{}")
        .raw("webIdFederationData", "{}")
        .raw("attributes", &attributes(created, mfa))
        .end();
    Obj::new()
        .s("type", "IAMUser")
        .s("principalId", &user.id)
        .s("arn", &w.user_arn(u))
        .s("accountId", &w.accounts[user.acct].id)
        .s("accessKeyId", key)
        .s("userName", &user.name)
        .raw("sessionContext", &sc)
        .end()
}

/// Stands for the session token in a planned response; [`Full::token`] fills it in when the
/// record is rendered (tokens are the bulkiest part of a record; no need to hold them).
pub(crate) const TOKEN_MARK: &str = "@SESSION-TOKEN@";

fn credentials(key: &str, expires: i64) -> String {
    Obj::new()
        .s("accessKeyId", key)
        .s("sessionToken", TOKEN_MARK)
        .s("expiration", &sts_expiration(expires))
        .end()
}

fn role_resource(w: &World, role: usize) -> String {
    array(&[Obj::new()
        .s("accountId", &w.accounts[w.roles[role].acct].id)
        .s("type", "AWS::IAM::Role")
        .s("ARN", &w.role_arn(role))
        .end()])
}

fn sts_host(region: u8, global: bool) -> String {
    if global {
        "sts.amazonaws.com".to_string()
    } else {
        format!("sts.{}.amazonaws.com", REGIONS[region as usize])
    }
}

impl<'w> Plan<'w> {
    pub(crate) fn new(w: &'w World, key: &str) -> Plan<'w> {
        Plan {
            w,
            rng: super::rng::derive(w.seed, key),
            out: Out::default(),
        }
    }

    pub(crate) fn in_range(&self, t: i64) -> bool {
        t >= self.w.start && t < self.w.end
    }

    /// Records one event and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
        &mut self,
        t: i64,
        acct: usize,
        region: u8,
        ident: &Arc<str>,
        src: Src,
        ua: &Arc<str>,
        body: Body,
        flags: u8,
    ) -> u128 {
        let id = self.rng.u128();
        if t < self.w.start || t >= self.w.end {
            return id;
        }
        self.out.evs.push(Ev {
            t,
            acct: acct as u16,
            region,
            flags,
            seq: 0,
            id,
            ident: ident.clone(),
            src,
            ua: ua.clone(),
            body,
        });
        id
    }

    /// A catalog call signed by `who`, recorded in `who`'s account.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &mut self,
        who: &Ident,
        t: i64,
        region: u8,
        api: Api,
        p: u32,
        src: Src,
        ua: &Arc<str>,
        flags: u8,
    ) -> u128 {
        let region = if api.global() { USE1 } else { region };
        self.push(
            t,
            who.acct,
            region,
            &who.json,
            src,
            ua,
            Body::Api { api, p },
            flags,
        )
    }

    /// A full record signed by `who` in `who`'s account.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn full(
        &mut self,
        who: &Ident,
        t: i64,
        region: u8,
        src: Src,
        ua: &Arc<str>,
        full: Full,
        flags: u8,
    ) -> u128 {
        self.push(
            t,
            who.acct,
            region,
            &who.json,
            src,
            ua,
            Body::Full(Arc::new(full)),
            flags,
        )
    }

    fn token(&mut self) -> Option<(u128, u32)> {
        let n = self.w.token_len + self.rng.below(48) as usize;
        Some((self.rng.u128(), n as u32))
    }

    /// Records the session in the ground truth.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        t: i64,
        key: &str,
        api: &str,
        account: usize,
        role: Option<usize>,
        session_name: Option<&str>,
        parent: Option<&Ident>,
        root: Option<String>,
        si: Option<String>,
        event: Option<u128>,
    ) {
        if !self.in_range(t) {
            return;
        }
        let (parent_key, depth) = match parent.and_then(|p| p.sess.as_ref().map(|s| (p, s))) {
            Some((p, s)) => (p.key.clone(), s.depth + 1),
            None => (None, 1),
        };
        self.out.sessions.push(ExpectedSession {
            access_key_id: key.to_string(),
            issued_by_api: api.to_string(),
            account: self.w.accounts[account].id.clone(),
            role_arn: role.map(|r| self.w.role_arn(r)),
            session_name: session_name.map(str::to_string),
            parent_access_key_id: parent_key,
            chain_depth: depth,
            root_principal: root,
            source_identity: si,
            issuing_event_id: event.map(uuid_string),
        });
    }

    /// AssumeRole by a user or a session. Writes the caller's copy and, across accounts, the
    /// role owner's copy (same sharedEventID). Returns the new session and the caller-side id.
    pub(crate) fn assume_role(
        &mut self,
        caller: &Ident,
        role: usize,
        t: i64,
        a: &Assume,
        ctx: &RoleCtx,
    ) -> (Ident, u128) {
        let w = self.w;
        let key = self.rng.key_id("ASIA");
        let token = self.token();
        let duration = a.duration.unwrap_or(3600);
        let expires = t + duration;
        let inherited = caller.sess.as_ref().and_then(|s| s.si.clone());
        let si = inherited.clone().or_else(|| a.source_identity.clone());
        let r = &w.roles[role];
        let racct = &w.accounts[r.acct].id;
        let role_arn = w.role_arn(role);
        // MFA at issue, or an MFA-authenticated user session (GetSessionToken, console) calling.
        let mfa = a.serial.is_some() || caller.user_session;
        let request = Obj::new()
            .s("roleArn", &role_arn)
            .s("roleSessionName", &a.session_name)
            .oraw(
                "durationSeconds",
                a.duration.map(|d| d.to_string()).as_deref(),
            )
            .os("serialNumber", a.serial.as_deref())
            .os("sourceIdentity", a.source_identity.as_deref())
            .end();
        let response = Obj::new()
            .raw("credentials", &credentials(&key, expires))
            .raw(
                "assumedRoleUser",
                &Obj::new()
                    .s("assumedRoleId", &format!("{}:{}", r.id, a.session_name))
                    .s(
                        "arn",
                        &format!(
                            "arn:aws:sts::{racct}:assumed-role/{}/{}",
                            r.name, a.session_name
                        ),
                    )
                    .end(),
            )
            .os("sourceIdentity", si.as_deref())
            .end();
        let cross = caller.acct != r.acct;
        let shared = (cross || caller.key.is_none()).then(|| self.rng.u128());
        let region = if a.global { USE1 } else { a.region };
        let full = Arc::new(Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "AssumeRole",
            read_only: true,
            event_type: "AwsApiCall",
            error: None,
            request: Some(request),
            response: Some(response),
            additional: None,
            resources: Some(role_resource(w, role)),
            shared,
            request_id: true,
            tls_host: (a.flags & F_TLS != 0).then(|| sts_host(region, a.global)),
            token,
        });
        let caller_acct = if caller.key.is_none() {
            r.acct
        } else {
            caller.acct
        };
        let id = self.push(
            t,
            caller_acct,
            region,
            &caller.json,
            a.src,
            a.ua,
            Body::Full(full.clone()),
            a.flags,
        );
        if cross && caller.key.is_some() {
            let owner_view: Arc<str> = Arc::from(
                Obj::new()
                    .s("type", "AWSAccount")
                    .s("principalId", &caller.principal_id)
                    .s("accountId", &w.accounts[caller.acct].id)
                    .end(),
            );
            self.push(
                t,
                r.acct,
                region,
                &owner_view,
                a.src,
                a.ua,
                Body::Full(full),
                a.flags,
            );
        }
        let json = role_session_json(w, role, &a.session_name, &key, t, mfa, si.as_deref(), ctx);
        let root = caller.root.clone();
        self.record(
            t,
            &key,
            "AssumeRole",
            r.acct,
            Some(role),
            Some(&a.session_name),
            Some(caller),
            root.clone(),
            si.clone(),
            Some(id),
        );
        let depth = caller.sess.as_ref().map_or(1, |s| s.depth + 1);
        let session = Ident {
            json: Arc::from(json),
            acct: r.acct,
            arn: format!(
                "arn:aws:sts::{racct}:assumed-role/{}/{}",
                r.name, a.session_name
            ),
            principal_id: format!("{}:{}", r.id, a.session_name),
            key: Some(key),
            sess: Some(Sess { depth, si, expires }),
            root,
            user_session: false,
        };
        (session, id)
    }

    /// AssumeRole by an AWS service (EC2 instance profile, Lambda): one copy, in the role's
    /// account, with a sharedEventID.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn service_assume(
        &mut self,
        service: &'static str,
        role: usize,
        session_name: &str,
        t: i64,
        region: u8,
        duration: i64,
        ec2: bool,
    ) -> Ident {
        let caller = Ident {
            json: service_ident(service),
            acct: self.w.roles[role].acct,
            arn: service.to_string(),
            principal_id: service.to_string(),
            key: None,
            sess: None,
            root: Some(service.to_string()),
            user_session: false,
        };
        let ua: Arc<str> = Arc::from(service);
        let a = Assume {
            session_name: session_name.to_string(),
            duration: Some(duration),
            serial: None,
            source_identity: None,
            region,
            global: false,
            src: Src::Name(service),
            ua: &ua,
            flags: 0,
        };
        let ctx = RoleCtx {
            ec2,
            ..RoleCtx::default()
        };
        self.assume_role(&caller, role, t, &a, &ctx).0
    }

    /// A denied AssumeRole (`AccessDenied`, no parameters; the role only in the message).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn deny_assume(
        &mut self,
        caller: &Ident,
        role: usize,
        t: i64,
        src: Src,
        ua: &Arc<str>,
        flags: u8,
    ) -> u128 {
        let msg = format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
            caller.arn,
            self.w.role_arn(role)
        );
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "AssumeRole",
            read_only: true,
            event_type: "AwsApiCall",
            error: Some(("AccessDenied".to_string(), msg)),
            request: None,
            response: None,
            additional: None,
            resources: None,
            shared: None,
            request_id: true,
            tls_host: Some(sts_host(USE1, true)),
            token: None,
        };
        self.full(caller, t, USE1, src, ua, full, flags | F_TLS)
    }

    /// A chained AssumeRole asking for more than the one hour role chaining allows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assume_too_long(
        &mut self,
        caller: &Ident,
        role: usize,
        t: i64,
        session_name: &str,
        duration: i64,
        src: Src,
        ua: &Arc<str>,
    ) -> u128 {
        let request = Obj::new()
            .s("roleArn", &self.w.role_arn(role))
            .s("roleSessionName", session_name)
            .n("durationSeconds", duration)
            .end();
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "AssumeRole",
            read_only: true,
            event_type: "AwsApiCall",
            error: Some((
                "ValidationError".to_string(),
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".to_string(),
            )),
            request: Some(request),
            response: None,
            additional: None,
            resources: None,
            shared: None,
            request_id: true,
            tls_host: Some(sts_host(USE1, true)),
            token: None,
        };
        self.full(caller, t, USE1, src, ua, full, F_TLS)
    }

    /// GetSessionToken with MFA: the new key still signs as `IAMUser`.
    pub(crate) fn get_session_token(
        &mut self,
        u: usize,
        t: i64,
        duration: i64,
        src: Src,
        ua: &Arc<str>,
    ) -> Ident {
        let w = self.w;
        let user = user_ident(w, u);
        let key = self.rng.key_id("ASIA");
        let token = self.token();
        let request = Obj::new()
            .n("durationSeconds", duration)
            .s("serialNumber", &w.mfa_serial(u))
            .end();
        let response = Obj::new()
            .raw("credentials", &credentials(&key, t + duration))
            .end();
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "GetSessionToken",
            read_only: true,
            event_type: "AwsApiCall",
            error: None,
            request: Some(request),
            response: Some(response),
            additional: None,
            resources: None,
            shared: None,
            request_id: true,
            tls_host: Some(sts_host(USE1, true)),
            token,
        };
        let id = self.full(&user, t, USE1, src, ua, full, F_TLS);
        self.record(
            t,
            &key,
            "GetSessionToken",
            user.acct,
            None,
            None,
            None,
            user.root.clone(),
            None,
            Some(id),
        );
        let json: Arc<str> = Arc::from(user_session_json(w, u, &key, t, true));
        Ident {
            json,
            acct: user.acct,
            arn: user.arn.clone(),
            principal_id: user.principal_id.clone(),
            key: Some(key),
            sess: Some(Sess {
                depth: 1,
                si: None,
                expires: t + duration,
            }),
            root: user.root,
            user_session: true,
        }
    }

    /// GetFederationToken by an IAM user; the federated session lives in the user's account.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn get_federation_token(
        &mut self,
        u: usize,
        name: &str,
        policy: &str,
        t: i64,
        duration: i64,
        src: Src,
        ua: &Arc<str>,
    ) -> Ident {
        let w = self.w;
        let user = user_ident(w, u);
        let acct = w.accounts[user.acct].id.clone();
        let key = self.rng.key_id("ASIA");
        let token = self.token();
        let request = Obj::new()
            .s("name", name)
            .s("policy", policy)
            .n("durationSeconds", duration)
            .end();
        let fed_arn = format!("arn:aws:sts::{acct}:federated-user/{name}");
        let response = Obj::new()
            .raw("credentials", &credentials(&key, t + duration))
            .raw(
                "federatedUser",
                &Obj::new()
                    .s("arn", &fed_arn)
                    .s("federatedUserId", &format!("{acct}:{name}"))
                    .end(),
            )
            .n("packedPolicySize", 7)
            .end();
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "GetFederationToken",
            read_only: true,
            event_type: "AwsApiCall",
            error: None,
            request: Some(request),
            response: Some(response),
            additional: None,
            resources: None,
            shared: None,
            request_id: true,
            tls_host: Some(sts_host(USE1, true)),
            token,
        };
        let id = self.full(&user, t, USE1, src, ua, full, F_TLS);
        self.record(
            t,
            &key,
            "GetFederationToken",
            user.acct,
            None,
            Some(name),
            None,
            user.root.clone(),
            None,
            Some(id),
        );
        let usr = &w.users[u];
        let issuer = Obj::new()
            .s("type", "IAMUser")
            .s("principalId", &usr.id)
            .s("arn", &user.arn)
            .s("accountId", &acct)
            .s("userName", &usr.name)
            .end();
        let sc = Obj::new()
            .raw("sessionIssuer", &issuer)
            .raw("webIdFederationData", "{}")
            .raw("attributes", &attributes(t, false))
            .end();
        let json = Obj::new()
            .s("type", "FederatedUser")
            .s("principalId", &format!("{acct}:{name}"))
            .s("arn", &fed_arn)
            .s("accountId", &acct)
            .s("accessKeyId", &key)
            .raw("sessionContext", &sc)
            .end();
        Ident {
            json: Arc::from(json),
            acct: user.acct,
            arn: fed_arn,
            principal_id: format!("{acct}:{name}"),
            key: Some(key),
            sess: Some(Sess {
                depth: 1,
                si: None,
                expires: t + duration,
            }),
            root: user.root,
            user_session: false,
        }
    }

    /// AssumeRoleWithSAML (Okta). The session's root principal is the SAML subject.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn saml(
        &mut self,
        s: &super::world::Saml,
        t: i64,
        duration: i64,
        src: Src,
        ua: &Arc<str>,
        flags: u8,
    ) -> Ident {
        let w = self.w;
        let role = s.role;
        let r = &w.roles[role];
        let racct = w.accounts[r.acct].id.clone();
        let provider = format!("arn:aws:iam::{racct}:saml-provider/Okta");
        let ident: Arc<str> = Arc::from(
            Obj::new()
                .s("type", "SAMLUser")
                .s("principalId", &format!("{}:{}", s.provider_hash, s.subject))
                .s("userName", &s.subject)
                .s("identityProvider", &provider)
                .end(),
        );
        let key = self.rng.key_id("ASIA");
        let token = self.token();
        let assertion = format!("_{}", self.rng.hex(32));
        let si = s.subject.split('@').next().map(str::to_string);
        let request = Obj::new()
            .s("sAMLAssertionID", &assertion)
            .s("roleSessionName", &s.subject)
            .os("sourceIdentity", si.as_deref())
            .n("durationSeconds", duration)
            .s("roleArn", &w.role_arn(role))
            .s("principalArn", &provider)
            .end();
        let assumed_arn = format!("arn:aws:sts::{racct}:assumed-role/{}/{}", r.name, s.subject);
        let response = Obj::new()
            .s("subjectType", "persistent")
            .s("issuer", &format!("http://www.okta.com/{}", s.idp_id))
            .os("sourceIdentity", si.as_deref())
            .raw("credentials", &credentials(&key, t + duration))
            .s("nameQualifier", &s.provider_hash)
            .raw(
                "assumedRoleUser",
                &Obj::new()
                    .s("assumedRoleId", &format!("{}:{}", r.id, s.subject))
                    .s("arn", &assumed_arn)
                    .end(),
            )
            .s("subject", &s.subject)
            .s("audience", "https://signin.aws.amazon.com/saml")
            .end();
        let resources = array(&[
            Obj::new()
                .s("accountId", &racct)
                .s("type", "AWS::IAM::Role")
                .s("ARN", &w.role_arn(role))
                .end(),
            Obj::new()
                .s("accountId", &racct)
                .s("type", "AWS::IAM::SAMLProvider")
                .s("ARN", &provider)
                .end(),
        ]);
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "AssumeRoleWithSAML",
            read_only: true,
            event_type: "AwsApiCall",
            error: None,
            request: Some(request),
            response: Some(response),
            additional: None,
            resources: Some(resources),
            shared: None,
            request_id: true,
            tls_host: (flags & F_TLS != 0).then(|| sts_host(USE1, true)),
            token,
        };
        let id = self.push(
            t,
            r.acct,
            USE1,
            &ident,
            src,
            ua,
            Body::Full(Arc::new(full)),
            flags,
        );
        self.record(
            t,
            &key,
            "AssumeRoleWithSAML",
            r.acct,
            Some(role),
            Some(&s.subject),
            None,
            Some(s.subject.clone()),
            si.clone(),
            Some(id),
        );
        let json = role_session_json(
            w,
            role,
            &s.subject,
            &key,
            t,
            true,
            si.as_deref(),
            &RoleCtx::default(),
        );
        Ident {
            json: Arc::from(json),
            acct: r.acct,
            arn: assumed_arn,
            principal_id: format!("{}:{}", r.id, s.subject),
            key: Some(key),
            sess: Some(Sess {
                depth: 1,
                si,
                expires: t + duration,
            }),
            root: Some(s.subject.clone()),
            user_session: false,
        }
    }

    /// AssumeRoleWithWebIdentity from GitHub Actions (OIDC). Root principal: the token's `sub`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn web_identity(
        &mut self,
        role: usize,
        sub: &str,
        session_name: &str,
        t: i64,
        duration: i64,
        src: Src,
        ua: &Arc<str>,
    ) -> Ident {
        let w = self.w;
        let r = &w.roles[role];
        let racct = w.accounts[r.acct].id.clone();
        let provider =
            format!("arn:aws:iam::{racct}:oidc-provider/token.actions.githubusercontent.com");
        let ident: Arc<str> = Arc::from(
            Obj::new()
                .s("type", "WebIdentityUser")
                .s(
                    "principalId",
                    &format!("{provider}:sts.amazonaws.com:{sub}"),
                )
                .s("userName", sub)
                .s("identityProvider", &provider)
                .end(),
        );
        let key = self.rng.key_id("ASIA");
        let token = self.token();
        let request = Obj::new()
            .s("roleArn", &w.role_arn(role))
            .s("roleSessionName", session_name)
            .n("durationSeconds", duration)
            .end();
        let assumed_arn = format!(
            "arn:aws:sts::{racct}:assumed-role/{}/{session_name}",
            r.name
        );
        let response = Obj::new()
            .raw("credentials", &credentials(&key, t + duration))
            .s("subjectFromWebIdentityToken", sub)
            .raw(
                "assumedRoleUser",
                &Obj::new()
                    .s("assumedRoleId", &format!("{}:{session_name}", r.id))
                    .s("arn", &assumed_arn)
                    .end(),
            )
            .s("provider", &provider)
            .s("audience", "sts.amazonaws.com")
            .end();
        let full = Full {
            version: "1.08",
            source: "sts.amazonaws.com",
            name: "AssumeRoleWithWebIdentity",
            read_only: true,
            event_type: "AwsApiCall",
            error: None,
            request: Some(request),
            response: Some(response),
            additional: None,
            resources: Some(role_resource(w, role)),
            shared: None,
            request_id: true,
            tls_host: Some(sts_host(USE1, false)),
            token,
        };
        let id = self.push(
            t,
            r.acct,
            USE1,
            &ident,
            src,
            ua,
            Body::Full(Arc::new(full)),
            F_TLS,
        );
        self.record(
            t,
            &key,
            "AssumeRoleWithWebIdentity",
            r.acct,
            Some(role),
            Some(session_name),
            None,
            Some(sub.to_string()),
            None,
            Some(id),
        );
        let ctx = RoleCtx {
            web_provider: Some(&provider),
            ..RoleCtx::default()
        };
        let json = role_session_json(w, role, session_name, &key, t, false, None, &ctx);
        Ident {
            json: Arc::from(json),
            acct: r.acct,
            arn: assumed_arn,
            principal_id: format!("{}:{session_name}", r.id),
            key: Some(key),
            sess: Some(Sess {
                depth: 1,
                si: None,
                expires: t + duration,
            }),
            root: Some(sub.to_string()),
            user_session: false,
        }
    }

    /// ConsoleLogin with MFA, and the console's own temporary keys (one per console area).
    pub(crate) fn console_login(
        &mut self,
        u: usize,
        t: i64,
        keys: usize,
        src: Src,
        ua: &Arc<str>,
    ) -> (Vec<Ident>, u128) {
        let w = self.w;
        let user = user_ident(w, u);
        let usr = &w.users[u];
        let acct = w.accounts[usr.acct].id.clone();
        let signin_ident: Arc<str> = Arc::from(
            Obj::new()
                .s("type", "IAMUser")
                .s("principalId", &usr.id)
                .s("arn", &user.arn)
                .s("accountId", &acct)
                .s("userName", &usr.name)
                .end(),
        );
        let additional = Obj::new()
            .s(
                "LoginTo",
                "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_c63b4c6ee3b7c3c5",
            )
            .s("MobileVersion", "No")
            .s("MFAIdentifier", &w.mfa_serial(u))
            .s("MFAUsed", "Yes")
            .end();
        let full = Full {
            version: "1.09",
            source: "signin.amazonaws.com",
            name: "ConsoleLogin",
            read_only: false,
            event_type: "AwsConsoleSignIn",
            error: None,
            request: None,
            response: Some(r#"{"ConsoleLogin":"Success"}"#.to_string()),
            additional: Some(additional),
            resources: None,
            shared: None,
            request_id: false,
            tls_host: Some("signin.aws.amazon.com".to_string()),
            token: None,
        };
        let id = self.push(
            t,
            usr.acct,
            USE1,
            &signin_ident,
            src,
            ua,
            Body::Full(Arc::new(full)),
            F_TLS,
        );
        let mut out = Vec::new();
        for k in 0..keys {
            let created = t + 2 + 7 * k as i64;
            let key = self.rng.key_id("ASIA");
            self.record(
                created,
                &key,
                "ConsoleLogin",
                usr.acct,
                None,
                None,
                None,
                user.root.clone(),
                None,
                None,
            );
            let json: Arc<str> = Arc::from(user_session_json(w, u, &key, created, true));
            out.push(Ident {
                json,
                acct: usr.acct,
                arn: user.arn.clone(),
                principal_id: usr.id.clone(),
                key: Some(key),
                sess: Some(Sess {
                    depth: 1,
                    si: None,
                    expires: t + 12 * 3600,
                }),
                root: user.root.clone(),
                user_session: true,
            });
        }
        (out, id)
    }
}
