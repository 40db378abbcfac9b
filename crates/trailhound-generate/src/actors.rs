//! Background traffic: people, service users, EC2 instances, Lambda functions, CI. Each actor is
//! one unit with its own random stream.

use super::api::Api::{self, *};
use super::clock::{weekday, Tz};
use super::ips;
use super::plan::{
    user_ident, Assume, Ident, Out, Plan, RoleCtx, Src, F_CONSOLE, F_THROTTLED, F_TLS, F_TLS12,
    F_VPCE,
};
use super::rng::Draw;
use super::world::{ua, HumanMode, InstKind, LambdaKind, World, USE1};
use super::PlantedIncident;
use rand_core::Rng;
use std::sync::Arc;

/// What engineers look at in a workload account.
const WORK: &[(u32, Api)] = &[
    (10, DescribeInstances),
    (6, ListBuckets),
    (4, GetBucketPolicy),
    (4, GetBucketLocation),
    (6, DescribeLogGroups),
    (6, DescribeLogStreams),
    (5, DescribeStacks),
    (3, ListStacks),
    (3, DescribeStackEvents),
    (4, ListFunctions),
    (4, GetFunction),
    (4, GetParameter),
    (3, GetParametersByPath),
    (3, DescribeTable),
    (2, ListTables),
    (3, DescribeSecurityGroups),
    (2, DescribeVpcs),
    (2, DescribeSubnets),
    (3, DescribeServices),
    (2, ListClusters),
    (2, DescribeDBInstances),
    (2, DescribeSecret),
    (2, ListSecrets),
    (1, PutParameter),
    (2, DescribeAlarms),
    (1, GetMetricData),
    (2, GetRole),
    (1, ListRoles),
    (1, DescribeKey),
    (2, DescribeImages),
    (1, DescribeVolumes),
    (1, GetBucketAcl),
    (1, GetBucketVersioning),
    (1, DescribeRegions),
    (1, ListAttachedRolePolicies),
    (1, ListKeys),
    (1, ListAliases),
    (1, DescribeParameters),
];

/// What an administrator looks at in the identity account's console.
const CONSOLE_IDENTITY: &[(u32, Api)] = &[
    (6, ListUsers),
    (4, GetAccountSummary),
    (3, ListMFADevices),
    (3, ListAccessKeys),
    (3, ListRoles),
    (3, GetRole),
    (3, ListPolicies),
    (4, LookupEvents),
    (2, DescribeTrails),
    (2, GetTrailStatus),
    (2, GetCostAndUsage),
    (3, DescribeEventAggregates),
    (3, ListBuckets),
];

/// What a data analyst does in the console.
const ANALYST: &[(u32, Api)] = &[
    (6, StartQueryExecution),
    (10, GetQueryExecution),
    (3, ListWorkGroups),
    (3, GetDatabases),
    (5, GetTable),
    (3, ListBuckets),
    (3, GetBucketLocation),
    (3, DescribeAlarms),
    (3, GetMetricData),
];

/// Start times (UTC) of short bursts of work through a local work day: one in each hour-long
/// slot between a start near `start_h` and an end near `end_h` (one slot skipped for lunch on
/// most days), so that every working hour is covered over a few days.
fn local_work_bursts(p: &mut Plan, tz: Tz, day: i64, start_h: f64, end_h: f64) -> Vec<i64> {
    let s = (p
        .rng
        .normal(start_h, 0.3)
        .clamp(start_h - 0.5, start_h + 0.5)
        * 3600.0) as i64;
    let e = (p.rng.normal(end_h, 0.3).clamp(end_h - 0.5, end_h + 0.5) * 3600.0) as i64;
    let slots = ((e - s) / 3600).max(1);
    let lunch = if p.rng.chance(0.7) {
        slots / 2 + p.rng.between(-1, 0)
    } else {
        -1
    };
    let mut v = Vec::new();
    for k in 0..slots {
        if k == lunch {
            continue;
        }
        let from = s + k * (e - s) / slots;
        let to = s + (k + 1) * (e - s) / slots - 600;
        v.push(tz.to_utc(day, p.rng.between(from, to.max(from))));
    }
    v
}

/// A run of calls signed by `who`, starting at `t`; returns the time after the last call.
#[allow(clippy::too_many_arguments)]
fn run_calls(
    p: &mut Plan,
    who: &Ident,
    mut t: i64,
    n: i64,
    menu: &[(u32, Api)],
    regions: &[(u32, u8)],
    src: Src,
    ua: &Arc<str>,
    flags: u8,
) -> i64 {
    let region = *p.rng.weighted(regions);
    for _ in 0..n {
        let api = *p.rng.weighted(menu);
        let pr = p.rng.next_u32();
        p.call(who, t, region, api, pr, src, ua, flags);
        t += if p.rng.chance(0.1) {
            p.rng.between(60, 240)
        } else {
            p.rng.between(2, 40)
        };
    }
    t
}

fn tls(tls12: bool) -> u8 {
    if tls12 {
        F_TLS | F_TLS12
    } else {
        F_TLS
    }
}

/// A person working their hours, from their office or home.
pub(crate) fn human(w: &World, hi: usize) -> Out {
    let h = &w.humans[hi];
    let user = &w.users[h.user];
    let mut p = Plan::new(w, &format!("human:{}", user.name));
    let me = user_ident(w, h.user);
    let flags = tls(h.tls12);
    let mut primary: Option<Ident> = None;
    let mut chained: Option<Ident> = None;
    let mut base: Vec<Ident> = Vec::new();
    let first = w.start.div_euclid(86_400) - 1;
    let last = w.end.div_euclid(86_400) + 1;
    for day in first..=last {
        let wd = weekday(day);
        if wd >= 5 {
            continue;
        }
        let mut bursts = local_work_bursts(&mut p, h.tz, day, h.start_h, h.end_h);
        if h.evening > 0.0 && p.rng.chance(h.evening) {
            for _ in 0..p.rng.between(2, 4) {
                let secs = p.rng.between(20 * 3600 + 1800, 23 * 3600 + 2700);
                bursts.push(h.tz.to_utc(day, secs));
            }
        }
        bursts.sort_unstable();
        let office_day = h.office.is_some() && (h.office_days >> wd) & 1 == 1;
        let mut logged_in_today = false;
        for (bi, &t0) in bursts.iter().enumerate() {
            let (_, local) = h.tz.local(t0);
            let at_office = office_day && bi > 0 && local < 18 * 3600;
            let ip = if at_office {
                h.office.unwrap_or(h.home)
            } else {
                h.home
            };
            let src = Src::V4(ip);
            let ua = if p.rng.chance(0.8) {
                h.uas[0].clone()
            } else {
                p.rng.pick(&h.uas).clone()
            };
            let mut t = t0;
            let calls = p.rng.between(2, 6);
            match &h.mode {
                HumanMode::Mfa {
                    role,
                    chain,
                    chain_prob,
                } => {
                    if !primary.as_ref().is_some_and(|s| s.valid_at(t)) {
                        let a = Assume {
                            session_name: user.name.clone(),
                            duration: Some(3600 * p.rng.between(1, 4)),
                            serial: Some(w.mfa_serial(h.user)),
                            source_identity: Some(user.name.clone()),
                            region: USE1,
                            global: true,
                            src,
                            ua: &ua,
                            flags,
                        };
                        primary = Some(p.assume_role(&me, *role, t, &a, &RoleCtx::default()).0);
                        chained = None;
                        t += p.rng.between(1, 4);
                    }
                    let Some(sess) = primary.clone() else {
                        continue;
                    };
                    if p.rng.chance(0.15) {
                        p.call(&sess, t, USE1, GetCallerIdentity, 0, src, &ua, flags);
                        t += p.rng.between(1, 5);
                    }
                    t = run_calls(&mut p, &sess, t, calls, WORK, &h.regions, src, &ua, flags);
                    if let Some(chain) = chain {
                        if p.rng.chance(*chain_prob) {
                            if !chained.as_ref().is_some_and(|s| s.valid_at(t)) {
                                let a = Assume {
                                    session_name: user.name.clone(),
                                    duration: Some(3600),
                                    serial: None,
                                    source_identity: Some(user.name.clone()),
                                    region: USE1,
                                    global: true,
                                    src,
                                    ua: &ua,
                                    flags,
                                };
                                chained = Some(
                                    p.assume_role(&sess, *chain, t, &a, &RoleCtx::default()).0,
                                );
                                t += p.rng.between(1, 4);
                            }
                            if let Some(c) = chained.clone() {
                                let n = p.rng.between(3, 8);
                                run_calls(&mut p, &c, t, n, WORK, &h.regions, src, &ua, flags);
                            }
                        }
                    }
                }
                HumanMode::Gst { role } => {
                    if !base.first().is_some_and(|s| s.valid_at(t + 3600)) {
                        base = vec![p.get_session_token(h.user, t, 43_200, src, &ua)];
                        primary = None;
                        t += p.rng.between(2, 6);
                    }
                    if !primary.as_ref().is_some_and(|s| s.valid_at(t)) {
                        let a = Assume {
                            session_name: user.name.clone(),
                            duration: Some(3600),
                            serial: None,
                            source_identity: Some(user.name.clone()),
                            region: USE1,
                            global: true,
                            src,
                            ua: &ua,
                            flags,
                        };
                        primary =
                            Some(p.assume_role(&base[0], *role, t, &a, &RoleCtx::default()).0);
                        t += p.rng.between(1, 4);
                    }
                    if let Some(sess) = primary.clone() {
                        run_calls(&mut p, &sess, t, calls, WORK, &h.regions, src, &ua, flags);
                    }
                }
                HumanMode::Console { switch } => {
                    if !logged_in_today || !base.first().is_some_and(|s| s.valid_at(t)) {
                        let keys = p.rng.between(2, 3) as usize;
                        base = p.console_login(h.user, t, keys, src, &ua).0;
                        logged_in_today = true;
                        t += p.rng.between(5, 20);
                    }
                    let internal: Arc<str> = Arc::from("AWS Internal");
                    for _ in 0..calls {
                        let k = p.rng.below(base.len() as u64) as usize;
                        let who = base[k].clone();
                        let api = *p.rng.weighted(CONSOLE_IDENTITY);
                        let pr = p.rng.next_u32();
                        if p.rng.chance(0.25) {
                            p.call(
                                &who,
                                t,
                                USE1,
                                api,
                                pr,
                                Src::Name("AWS Internal"),
                                &internal,
                                F_CONSOLE,
                            );
                        } else {
                            p.call(&who, t, USE1, api, pr, src, &ua, F_CONSOLE | F_TLS);
                        }
                        t += p.rng.between(3, 50);
                    }
                    if let Some(role) = switch {
                        if p.rng.chance(0.35) {
                            if !primary.as_ref().is_some_and(|s| s.valid_at(t)) {
                                let a = Assume {
                                    session_name: user.name.clone(),
                                    duration: Some(3600),
                                    serial: None,
                                    source_identity: None,
                                    region: USE1,
                                    global: true,
                                    src,
                                    ua: &ua,
                                    flags: F_CONSOLE | F_TLS,
                                };
                                let caller = base[0].clone();
                                primary = Some(
                                    p.assume_role(&caller, *role, t, &a, &RoleCtx::default()).0,
                                );
                                t += p.rng.between(2, 8);
                            }
                            if let Some(s) = primary.clone() {
                                let n = p.rng.between(3, 9);
                                run_calls(
                                    &mut p,
                                    &s,
                                    t,
                                    n,
                                    WORK,
                                    &h.regions,
                                    src,
                                    &ua,
                                    F_CONSOLE | F_TLS,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    p.out
}

/// The SAML (Okta) analyst: one federated console session per work day.
pub(crate) fn saml(w: &World, si: usize) -> Out {
    let s = &w.samls[si];
    let mut p = Plan::new(w, &format!("saml:{}", s.subject));
    let browser: Arc<str> =
        ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:123.0) Gecko/20100101 Firefox/123.0");
    let internal: Arc<str> = ua("AWS Internal");
    let first = w.start.div_euclid(86_400) - 1;
    let last = w.end.div_euclid(86_400) + 1;
    for day in first..=last {
        let wd = weekday(day);
        if wd >= 5 {
            continue;
        }
        let bursts = local_work_bursts(&mut p, s.tz, day, 9.0, 17.0);
        let ip = if (1..=3).contains(&wd) {
            s.office
        } else {
            s.home
        };
        let src = Src::V4(ip);
        let mut sess: Option<Ident> = None;
        for t0 in bursts {
            let mut t = t0;
            if !sess.as_ref().is_some_and(|x| x.valid_at(t)) {
                sess = Some(p.saml(s, t, 28_800, src, &browser, F_TLS));
                t += p.rng.between(3, 12);
            }
            let Some(who) = sess.clone() else { continue };
            for _ in 0..p.rng.between(2, 6) {
                let api = *p.rng.weighted(ANALYST);
                let pr = p.rng.below(30) as u32;
                if p.rng.chance(0.2) {
                    p.call(
                        &who,
                        t,
                        USE1,
                        api,
                        pr,
                        Src::Name("AWS Internal"),
                        &internal,
                        F_CONSOLE,
                    );
                } else {
                    p.call(&who, t, USE1, api, pr, src, &browser, F_CONSOLE | F_TLS);
                }
                t += p.rng.between(4, 90);
            }
        }
    }
    p.out
}

/// svc-reporting: a nightly job (02:00 New York) reading prod through a role.
pub(crate) fn svc_reporting(w: &World) -> Out {
    let c = &w.cast;
    let mut p = Plan::new(w, "svc:reporting");
    let me = user_ident(w, c.svc_reporting);
    let ua = ua("Boto3/1.28.85 md/Botocore#1.31.85 ua/2.0 os/linux#5.15.0-91-generic md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.31.85");
    let src = Src::V4(ips::NY_DATACENTER.nth(0));
    let first = w.start.div_euclid(86_400);
    let last = w.end.div_euclid(86_400);
    for day in first..=last {
        let mut t = Tz::NewYork.to_utc(day, 2 * 3600 + p.rng.between(0, 180));
        let a = Assume {
            session_name: format!("reporting-{}", &super::clock::compact(t, false)[..8]),
            duration: Some(3600),
            serial: None,
            source_identity: None,
            region: USE1,
            global: true,
            src,
            ua: &ua,
            flags: F_TLS | F_TLS12,
        };
        let (sess, _) = p.assume_role(&me, c.reporting_read, t, &a, &RoleCtx::default());
        t += 2;
        for q in 0..p.rng.between(2, 3) {
            let pr = (day as u32).wrapping_mul(7) + q as u32;
            p.call(
                &sess,
                t,
                USE1,
                GetTable,
                q as u32,
                src,
                &ua,
                F_TLS | F_TLS12,
            );
            t += 1;
            p.call(
                &sess,
                t,
                USE1,
                StartQueryExecution,
                pr,
                src,
                &ua,
                F_TLS | F_TLS12,
            );
            for _ in 0..p.rng.between(2, 6) {
                t += p.rng.between(3, 15);
                p.call(
                    &sess,
                    t,
                    USE1,
                    GetQueryExecution,
                    pr,
                    src,
                    &ua,
                    F_TLS | F_TLS12,
                );
            }
            t += p.rng.between(5, 40);
        }
    }
    p.out
}

/// svc-portal: vends scoped federation tokens for uploads during New York business hours.
pub(crate) fn svc_portal(w: &World) -> Out {
    let c = &w.cast;
    let mut p = Plan::new(w, "svc:portal");
    let ua = ua("aws-sdk-java/1.12.661 Linux/5.10.205-195.804.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS java/17.0.10 vendor/Amazon.com_Inc. cfg/retry-mode/standard");
    let src = Src::V4(ips::NY_DATACENTER.nth(0));
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetBucketLocation","s3:ListBucket"],"Resource":["arn:aws:s3:::acme-identity-static-assets","arn:aws:s3:::acme-identity-static-assets/uploads/*"]}]}"#;
    let first = w.start.div_euclid(86_400);
    let last = w.end.div_euclid(86_400);
    for day in first..=last {
        if weekday(day) >= 5 {
            continue;
        }
        let mut t = Tz::NewYork.to_utc(day, 8 * 3600 + p.rng.between(0, 1800));
        let end = Tz::NewYork.to_utc(day, 18 * 3600);
        while t < end {
            let fed =
                p.get_federation_token(c.svc_portal, "portal-uploads", policy, t, 14_400, src, &ua);
            let mut u = t + 2;
            for _ in 0..p.rng.between(1, 3) {
                p.call(
                    &fed,
                    u,
                    USE1,
                    GetBucketLocation,
                    2,
                    src,
                    &ua,
                    F_TLS | F_TLS12,
                );
                u += p.rng.between(60, 2400);
            }
            t += 4 * 3600 - p.rng.between(60, 600);
        }
    }
    p.out
}

/// An EC2 instance: instance-profile credentials every ~6 h, periodic calls from its own
/// addresses; the victim instance's key is also used from outside (credential_exfiltration).
pub(crate) fn instance(w: &World, ii: usize) -> Out {
    let inst = &w.instances[ii];
    let mut p = Plan::new(w, &format!("instance:{}", inst.id));
    let eip = Src::V4(inst.eip);
    let mut t = w.start + p.rng.between(20, 600);
    let mut refreshes: Vec<(i64, Ident)> = Vec::new();
    let svc = "ec2.amazonaws.com";
    while t < w.end {
        let sess = p.service_assume(svc, inst.role, &inst.id, t, inst.region, 21_600, true);
        refreshes.push((t, sess));
        t += 21_600 - p.rng.between(300, 1500);
    }
    // Steady calls: a cron every 15 minutes plus sporadic application calls.
    let period = if inst.kind == InstKind::App {
        1800
    } else {
        3 * 3600
    };
    let mut k = 0usize;
    let mut c = w.start + 60 + p.rng.between(0, 120);
    while c < w.end {
        while k + 1 < refreshes.len() && refreshes[k + 1].0 <= c {
            k += 1;
        }
        let Some((issued, sess)) = refreshes.get(k).cloned() else {
            break;
        };
        if c <= issued {
            c += period;
            continue;
        }
        let mut t = c + p.rng.between(0, 8);
        match inst.kind {
            // The second app server reloads its configuration hourly.
            InstKind::App if inst.vpce.is_none() && (c - w.start) / period % 2 == 1 => {}
            InstKind::App => {
                let (src, fl) = match inst.vpce {
                    Some(ip) => (Src::V4(ip), F_TLS | F_VPCE),
                    None => (eip, F_TLS),
                };
                p.call(&sess, t, inst.region, GetParameters, 1, src, &inst.ua, fl);
                if p.rng.chance(0.12) {
                    t += p.rng.between(1, 3);
                    p.call(&sess, t, inst.region, GetSecretValue, 0, src, &inst.ua, fl);
                }
                if p.rng.chance(0.04) {
                    t += p.rng.between(1, 20);
                    let api =
                        *p.rng
                            .pick(&[DescribeTags, DescribeTable, GetBucketLocation, Decrypt]);
                    let pr = p.rng.below(4) as u32;
                    p.call(&sess, t, inst.region, api, pr, src, &inst.ua, fl);
                }
            }
            InstKind::Batch => {
                let nightly = c.rem_euclid(86_400) / (3 * 3600) == 3;
                // The SSM agent reporting in.
                let agent =
                    ua("aws-sdk-go/1.44.260 (go1.20.13; linux; amd64) amazon-ssm-agent/3.3.131.0");
                p.call(
                    &sess,
                    t,
                    inst.region,
                    UpdateInstanceInformation,
                    2,
                    eip,
                    &agent,
                    F_TLS,
                );
                if p.rng.chance(0.5) {
                    p.call(
                        &sess,
                        t,
                        inst.region,
                        ListInstanceAssociations,
                        2,
                        eip,
                        &agent,
                        F_TLS,
                    );
                }
                t += p.rng.between(5, 60);
                let n = if nightly { p.rng.between(12, 25) } else { 1 };
                for i in 0..n {
                    let api = if i == 0 {
                        DescribeTable
                    } else {
                        *p.rng.pick(&[
                            GetBucketLocation,
                            StartQueryExecution,
                            GetQueryExecution,
                            GetQueryExecution,
                            CreateLogStream,
                            GetTable,
                        ])
                    };
                    let pr = p.rng.below(8) as u32;
                    p.call(&sess, t, inst.region, api, pr, eip, &inst.ua, F_TLS);
                    t += p.rng.between(1, 25);
                }
            }
        }
        c += period;
    }
    if inst.victim {
        exfiltration(&mut p, inst, &refreshes);
    }
    p.out
}

/// The planted `credential_exfiltration`: the victim instance's current key used from a VPS.
fn exfiltration(p: &mut Plan, inst: &super::world::Instance, refreshes: &[(i64, Ident)]) {
    let w = p.w;
    let target = w.start + 5 * 86_400 + 13 * 3600 + 40 * 60;
    if target + 3600 >= w.end {
        return;
    }
    let Some((issued, sess)) = refreshes
        .iter()
        .rev()
        .find(|(t, _)| *t <= target - 1800)
        .cloned()
    else {
        return;
    };
    let start = (issued + 40 * 60).max(target - 4 * 3600);
    let src = Src::V4(ips::EXFIL_VPS.nth(0));
    let kali =
        ua("aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off");
    let steps: &[(Api, u32, u8)] = &[
        (GetCallerIdentity, 0, inst.region),
        (ListBuckets, 0, USE1),
        (GetBucketPolicy, 0, inst.region),
        (GetBucketPolicy, 3, inst.region),
        (ListSecrets, 1, inst.region),
        (GetSecretValue, 0, inst.region),
        (GetSecretValue, 1, inst.region),
        (GetSecretValue, 2, inst.region),
        (DescribeInstances, 1, inst.region),
        (ListRoles, 0, USE1),
        (GetParametersByPath, 0, inst.region),
        (DescribeDBInstances, 1, inst.region),
    ];
    let mut ids = Vec::new();
    let mut t = start;
    for &(api, pr, region) in steps {
        let id = p.call(&sess, t, region, api, pr, src, &kali, F_TLS | F_TLS12);
        ids.push(super::rng::uuid_string(id));
        t += p.rng.between(4, 70);
    }
    p.out.incidents.push(PlantedIncident {
        kind: "credential_exfiltration".into(),
        principal: w.role_arn(inst.role),
        access_key_id: sess.key.clone(),
        event_ids: ids,
        description: format!(
            "Instance-profile credentials of {} (role {}) used from {} ({}, {}) with user agent \"{}\" while the instance keeps using the same key from {}.",
            inst.id,
            w.roles[inst.role].name,
            ip_text(ips::EXFIL_VPS.nth(0)),
            ips::EXFIL_VPS.country,
            ips::EXFIL_VPS.asn,
            kali,
            match inst.vpce {
                Some(v) => format!("its private address {} (through VPC endpoints)", ip_text(v)),
                None => ip_text(inst.eip),
            }
        ),
    });
}

/// A Lambda function on a schedule: new execution environment (AssumeRole by
/// lambda.amazonaws.com, new egress address) about every hour.
pub(crate) fn lambda(w: &World, li: usize) -> Out {
    let l = &w.lambdas[li];
    let mut p = Plan::new(w, &format!("lambda:{}:{}", w.accounts[l.acct].id, l.name));
    let ua = ua(&format!(
        "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209-219.812.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42 function/{}",
        l.name
    ));
    let step = l.every_min * 60;
    let mut t = w.start + l.offset_s;
    let mut env: Option<(i64, Ident, Src)> = None;
    let mut n = 0u32;
    while t < w.end {
        let tt = t + p.rng.between(0, 2);
        let fresh = env
            .as_ref()
            .is_none_or(|(born, _, _)| tt - born > 3000 + p.rng.between(0, 900));
        if fresh {
            let sess = p.service_assume(
                "lambda.amazonaws.com",
                l.role,
                &l.name,
                tt - 1,
                l.region,
                43_200,
                false,
            );
            let ip = Src::V4(l.pool.draw(&mut p.rng));
            env = Some((tt, sess, ip));
        }
        let Some((_, sess, ip)) = env.clone() else {
            break;
        };
        let mut u = tt + p.rng.between(1, 2);
        match l.kind {
            LambdaKind::OrderSync => {
                let fl = if p.rng.chance(0.003) {
                    F_TLS | F_THROTTLED
                } else {
                    F_TLS
                };
                p.call(&sess, u, l.region, GetParameter, 0, ip, &ua, fl);
                if n.is_multiple_of(8) {
                    u += 1;
                    p.call(&sess, u, l.region, GetSecretValue, 0, ip, &ua, F_TLS);
                    p.call(&sess, u, l.region, Decrypt, 0, ip, &ua, F_TLS);
                }
            }
            LambdaKind::CostReporter => {
                p.call(&sess, u, USE1, GetCostAndUsage, 0, ip, &ua, F_TLS);
                u += p.rng.between(1, 3);
                p.call(&sess, u, l.region, GetMetricData, n, ip, &ua, F_TLS);
            }
        }
        n += 1;
        t += step;
    }
    p.out
}

/// GitHub Actions via OIDC at all hours from many Azure addresses; `main` runs chain on to the
/// deploy role in another account and deploy through CloudFormation.
pub(crate) fn ci(w: &World, ci: usize) -> Out {
    let c = &w.cis[ci];
    let mut p = Plan::new(w, &format!("ci:{}", c.repo));
    let sts_ua = ua("configure-aws-credentials-for-github-actions");
    let cli = ua("aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0-1016-azure md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/GitHubActions cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#cloudformation.deploy");
    let cfn = "cloudformation.amazonaws.com";
    let cfn_ua = ua(cfn);
    // An hourly scheduled workflow (drift check) plus pushes that deploy (1) or only validate
    // (2), busier in (US) working hours: CI is active at every hour of every day.
    let mut runs: Vec<(i64, u8)> = Vec::new();
    let mut t = w.start + 13 * 60;
    while t < w.end {
        runs.push((t + p.rng.between(0, 240), 0));
        t += 3600;
    }
    let mut t = w.start + p.rng.between(0, 1200);
    loop {
        let h = (t.rem_euclid(86_400) / 3600) as i32;
        let busy = (13..=23).contains(&h);
        let rate = c.runs_per_hour * if busy { 1.6 } else { 0.3 };
        let gap = (-(1.0 - p.rng.unit()).ln() / rate * 3600.0) as i64;
        t += gap.clamp(120, 8 * 3600);
        if t >= w.end {
            break;
        }
        runs.push((t, if p.rng.chance(0.55) { 1 } else { 2 }));
    }
    runs.sort_unstable();
    let mut run = 4_100_000_000u64 + p.rng.below(100_000_000);
    for (t, kind) in runs {
        run += 1 + p.rng.below(40);
        let src = Src::V4(ips::GITHUB_RUNNERS.draw(&mut p.rng));
        // Workflows run on the default branch (pull requests from forks get no AWS access).
        let sub = format!("repo:{}:ref:refs/heads/main", c.repo);
        let web = p.web_identity(c.role, &sub, "GitHubActions", t, 3600, src, &sts_ua);
        let mut u = t + p.rng.between(2, 6);
        if kind != 0 {
            p.call(&web, u, USE1, GetCallerIdentity, 0, src, &cli, F_TLS);
            u += p.rng.between(5, 30);
        }
        if kind != 1 {
            let api = if kind == 2 {
                ValidateTemplate
            } else {
                DescribeStacks
            };
            p.call(&web, u, USE1, api, run as u32, src, &cli, F_TLS);
            continue;
        }
        let deployer = match c.deploy {
            Some(role) => {
                let a = Assume {
                    session_name: format!("gha-deploy-{run}"),
                    duration: Some(*p.rng.pick(&[900, 1800, 3600])),
                    serial: None,
                    source_identity: None,
                    region: USE1,
                    global: false,
                    src,
                    ua: &sts_ua,
                    flags: F_TLS,
                };
                let (d, _) = p.assume_role(&web, role, u, &a, &RoleCtx::default());
                u += p.rng.between(2, 5);
                p.call(&d, u, USE1, GetCallerIdentity, 0, src, &cli, F_TLS);
                d
            }
            None => web.clone(),
        };
        let stack = p.rng.below(3) as u32;
        let steps: &[Api] = &[
            GetAuthorizationToken,
            PutImage,
            CreateChangeSet,
            DescribeChangeSet,
            ExecuteChangeSet,
            DescribeStackEvents,
            DescribeStacks,
        ];
        for &api in steps {
            u += p.rng.between(2, 25);
            let pr = if matches!(api, GetAuthorizationToken | PutImage) {
                0
            } else {
                stack
            };
            p.call(&deployer, u, USE1, api, pr, src, &cli, F_TLS);
            if api == ExecuteChangeSet && p.rng.chance(0.7) {
                // CloudFormation acting with the caller's credentials.
                let invoked = deployer_invoked(w, &deployer, cfn);
                let v = u + p.rng.between(8, 40);
                p.call(
                    &invoked,
                    v,
                    USE1,
                    UpdateFunctionCode,
                    0,
                    Src::Name(cfn),
                    &cfn_ua,
                    0,
                );
            }
        }
    }
    p.out
}

fn ip_text(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// The same session as seen when a service calls on its behalf (`invokedBy`).
fn deployer_invoked(_w: &World, who: &Ident, service: &str) -> Ident {
    let mut v = who.clone();
    let json = who.json.strip_suffix('}').unwrap_or(&who.json);
    v.json = Arc::from(format!("{json},\"invokedBy\":\"{service}\"}}"));
    v
}

/// AWS Config reading resources through its service-linked role: AssumeRole by
/// config.amazonaws.com, then calls with `invokedBy` and the service name as source address.
pub(crate) fn services(w: &World) -> Out {
    let mut p = Plan::new(w, "services");
    let svc = "config.amazonaws.com";
    let sua = ua(svc);
    let first = w.start.div_euclid(86_400);
    let last = w.end.div_euclid(86_400);
    for day in first..last {
        let mut t = day * 86_400 + 4 * 3600 + p.rng.between(0, 900);
        let sess = p.service_assume(
            svc,
            w.cast.config_role,
            "AWSConfig-Describe",
            t,
            USE1,
            3600,
            false,
        );
        let who = deployer_invoked(w, &sess, svc);
        for api in [
            DescribeSecurityGroups,
            DescribeVpcs,
            DescribeSubnets,
            DescribeVolumes,
        ] {
            t += p.rng.between(1, 5);
            p.call(&who, t, USE1, api, 0, Src::Name(svc), &sua, 0);
        }
    }
    p.out
}
