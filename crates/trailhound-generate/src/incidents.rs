//! The planted incidents (credential_exfiltration lives with its instance in `actors`).

use super::api::Api::{self, *};
use super::clock::{weekday, Tz};
use super::ips;
use super::plan::{user_ident, Assume, Out, Plan, RoleCtx, Src, F_PIN, F_TLS};
use super::rng::{uuid_string, Draw};
use super::world::{ua, World, EUC1, USE1};
use super::PlantedIncident;

fn ip_text(ip: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
}

/// `failed_then_success` and `odd_ip`: svc-reporting's long-term key used from a hosting
/// provider in a new country; AssumeRole denied on three roles, then allowed on the one the key
/// may assume (some in the same second, interleaved); recon with the new session.
pub(crate) fn failed_then_success(w: &World) -> Out {
    let mut p = Plan::new(w, "incident:failed_then_success");
    let c = &w.cast;
    let day = 3;
    if day >= w.days {
        return p.out;
    }
    let ip = ips::ATTACKER_HOSTING.nth(0);
    let src = Src::V4(ip);
    let ua = ua("Boto3/1.34.44 md/Botocore#1.34.44 ua/2.0 os/linux#5.15.0-94-generic md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.44 Resource");
    let me = user_ident(w, c.svc_reporting);
    // 19:10 UTC: half a day away from the job's own runs (07:00 UTC) on either side, so that
    // the change of country alone is odd, not the speed of travel.
    let t0 = w.start + i64::from(day) * 86_400 + 19 * 3600 + 10 * 60 + 20;
    let mut odd = Vec::new();
    let mut story = Vec::new();

    let id = p.call(&me, t0 - 31, USE1, GetCallerIdentity, 0, src, &ua, F_TLS);
    odd.push(id);
    let d1 = p.deny_assume(&me, c.org_access, t0, src, &ua, 0);
    let t1 = t0 + 148;
    let d2 = p.deny_assume(&me, c.staging_admin, t1, src, &ua, F_PIN);
    let a = Assume {
        session_name: "session1".into(),
        duration: None,
        serial: None,
        source_identity: None,
        region: USE1,
        global: true,
        src,
        ua: &ua,
        flags: F_TLS | F_PIN,
    };
    let (sess, ok) = p.assume_role(&me, c.reporting_read, t1, &a, &RoleCtx::default());
    let d3 = p.deny_assume(&me, c.security_audit, t1, src, &ua, F_PIN);
    story.extend([d1, d2, ok, d3]);
    odd.extend([d1, d2, ok, d3]);
    // The role owner's copy of the successful AssumeRole carries the same address.
    if let Some(copy) = p
        .out
        .evs
        .iter()
        .find(|e| e.t == t1 && e.acct as usize == c.prod)
        .map(|e| e.id)
    {
        odd.push(copy);
    }
    let recon: [(Api, u32); 6] = [
        (GetCallerIdentity, 0),
        (ListBuckets, 0),
        (ListUsers, 0),
        (GetAccountAuthorizationDetails, 0),
        (ListRoles, 0),
        (GetBucketPolicy, 1),
    ];
    let mut t = t1 + 12;
    for (api, pr) in recon {
        let id = p.call(&sess, t, USE1, api, pr, src, &ua, F_TLS);
        story.push(id);
        odd.push(id);
        t += p.rng.between(3, 25);
    }
    let principal = w.user_arn(c.svc_reporting);
    let key = w.users[c.svc_reporting].key.clone();
    p.out.incidents.push(PlantedIncident {
        kind: "failed_then_success".into(),
        principal: principal.clone(),
        access_key_id: Some(key.clone()),
        event_ids: story.into_iter().map(uuid_string).collect(),
        description: format!(
            "Long-term key of svc-reporting used from {} ({}, {}): AssumeRole denied on {}, then, in one second and interleaved in file order, denied on {}, allowed on {} and denied on {}; the new session {} ran GetCallerIdentity, ListBuckets, ListUsers, GetAccountAuthorizationDetails, ListRoles, GetBucketPolicy.",
            ip_text(ip),
            ips::ATTACKER_HOSTING.country,
            ips::ATTACKER_HOSTING.asn,
            w.role_arn(c.org_access),
            w.role_arn(c.staging_admin),
            w.role_arn(c.reporting_read),
            w.role_arn(c.security_audit),
            sess.key.clone().unwrap_or_default(),
        ),
    });
    p.out.incidents.push(PlantedIncident {
        kind: "odd_ip".into(),
        principal,
        access_key_id: Some(key),
        event_ids: odd.into_iter().map(uuid_string).collect(),
        description: format!(
            "{} ({}, {}) is an address in a country none of this organisation's principals use; every call from it (both copies of the cross-account AssumeRole included).",
            ip_text(ip),
            ips::ATTACKER_HOSTING.country,
            ips::ATTACKER_HOSTING.asn
        ),
    });
    p.out
}

/// `deep_role_chain`: priya.raman -> staging Engineer -> prod ReadOnly -> security SecurityAudit,
/// source identity carried all the way; the third hop first asks for 7200 s.
pub(crate) fn deep_role_chain(w: &World) -> Out {
    let mut p = Plan::new(w, "incident:deep_role_chain");
    let c = &w.cast;
    let day = 4;
    if day >= w.days {
        return p.out;
    }
    let d = w.start.div_euclid(86_400) + i64::from(day);
    let mut t = Tz::Chicago.to_utc(d, 15 * 3600 + 20 * 60 + p.rng.between(0, 120));
    let src = Src::V4(ips::AUSTIN_HOME.nth(0));
    let ua = w.humans.iter().find(|h| h.user == c.priya).map_or_else(
        || ua("aws-cli/2.15.10 Python/3.11.6 Windows/10 exe/AMD64 prompt/off"),
        |h| h.uas[0].clone(),
    );
    let me = user_ident(w, c.priya);
    let name = w.users[c.priya].name.clone();
    let mut ids = Vec::new();
    let hop = |session_name: &str, serial: Option<String>, duration: i64| Assume {
        session_name: session_name.to_string(),
        duration: Some(duration),
        serial,
        source_identity: Some(name.clone()),
        region: USE1,
        global: true,
        src,
        ua: &ua,
        flags: F_TLS,
    };
    let (s1, id1) = p.assume_role(
        &me,
        c.engineer,
        t,
        &hop(&name, Some(w.mfa_serial(c.priya)), 3600),
        &RoleCtx::default(),
    );
    ids.push(id1);
    t += 4;
    for api in [DescribeInstances, DescribeStacks] {
        p.call(&s1, t, USE1, api, 1, src, &ua, F_TLS);
        t += p.rng.between(5, 30);
    }
    let (s2, id2) = p.assume_role(
        &s1,
        c.readonly,
        t,
        &hop(&name, None, 3600),
        &RoleCtx::default(),
    );
    ids.push(id2);
    t += 3;
    p.call(&s2, t, USE1, DescribeInstances, 2, src, &ua, F_TLS);
    t += p.rng.between(20, 60);
    let too_long = p.assume_too_long(&s2, c.security_audit, t, &name, 7200, src, &ua);
    ids.push(too_long);
    t += p.rng.between(15, 40);
    let (s3, id3) = p.assume_role(
        &s2,
        c.security_audit,
        t,
        &hop(&name, None, 3600),
        &RoleCtx::default(),
    );
    ids.push(id3);
    t += 3;
    for api in [
        GetCallerIdentity,
        DescribeTrails,
        GetTrailStatus,
        GetEventSelectors,
        ListBuckets,
        LookupEvents,
    ] {
        ids.push(p.call(&s3, t, USE1, api, 0, src, &ua, F_TLS));
        t += p.rng.between(4, 40);
    }
    let accounts = [c.staging, c.prod, c.security].map(|a| w.accounts[a].id.clone());
    p.out.incidents.push(PlantedIncident {
        kind: "deep_role_chain".into(),
        principal: w.user_arn(c.priya),
        access_key_id: s3.key.clone(),
        event_ids: ids.into_iter().map(uuid_string).collect(),
        description: format!(
            "Three-hop role chain {} -> {} -> {} -> {} across accounts {}, {} and {} (depth 3, sourceIdentity {} inherited at every hop). The third hop first requested DurationSeconds 7200 on a chained AssumeRole (ValidationError: chained sessions last at most 3600 s) and was retried with 3600.",
            w.user_arn(c.priya),
            w.role_arn(c.engineer),
            w.role_arn(c.readonly),
            w.role_arn(c.security_audit),
            accounts[0],
            accounts[1],
            accounts[2],
            name,
        ),
    });
    p.out
}

/// `unusual_hour`: jonas.weber, who works Berlin office hours on weekdays, active at 03:00 on a
/// Sunday (Berlin time), from his usual home address with his usual tools.
pub(crate) fn unusual_hour(w: &World) -> Out {
    let mut p = Plan::new(w, "incident:unusual_hour");
    let c = &w.cast;
    let first = w.start.div_euclid(86_400);
    let Some(d) = (first + 5..first + i64::from(w.days)).find(|&d| weekday(d) == 6) else {
        return p.out;
    };
    let mut t = Tz::Berlin.to_utc(d, 3 * 3600 + p.rng.between(60, 420));
    let human = w.humans.iter().find(|h| h.user == c.jonas);
    let (home, ua) = match human {
        Some(h) => (h.home, h.uas[0].clone()),
        None => (ips::BERLIN_HOME.nth(0), ua("aws-cli/2.13.25")),
    };
    let src = Src::V4(home);
    let me = user_ident(w, c.jonas);
    let name = w.users[c.jonas].name.clone();
    let a = Assume {
        session_name: name.clone(),
        duration: Some(3600),
        serial: Some(w.mfa_serial(c.jonas)),
        source_identity: Some(name.clone()),
        region: USE1,
        global: true,
        src,
        ua: &ua,
        flags: F_TLS,
    };
    let (sess, id) = p.assume_role(&me, c.engineer, t, &a, &RoleCtx::default());
    let mut ids = vec![id];
    t += 5;
    let burst: [(Api, u32); 12] = [
        (GetCallerIdentity, 0),
        (DescribeInstances, 0),
        (ListSecrets, 0),
        (GetSecretValue, 0),
        (GetSecretValue, 1),
        (GetSecretValue, 2),
        (ListBuckets, 0),
        (GetBucketPolicy, 1),
        (GetBucketPolicy, 3),
        (DescribeLogStreams, 1),
        (GetParametersByPath, 0),
        (DescribeDBInstances, 0),
    ];
    for (api, pr) in burst {
        ids.push(p.call(&sess, t, EUC1, api, pr, src, &ua, F_TLS));
        t += p.rng.between(10, 150);
    }
    p.out.incidents.push(PlantedIncident {
        kind: "unusual_hour".into(),
        principal: w.user_arn(c.jonas),
        access_key_id: sess.key.clone(),
        event_ids: ids.into_iter().map(uuid_string).collect(),
        description: format!(
            "{name} (Berlin, weekday office hours) active around 03:00 on Sunday Berlin time, from his usual home address {} with his usual user agent: only the hour is unusual.",
            ip_text(home)
        ),
    });
    p.out
}
