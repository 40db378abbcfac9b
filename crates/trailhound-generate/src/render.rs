//! One planned event -> one CloudTrail record, keys in CloudTrail's order.

use super::clock::iso;
use super::json::esc;
use super::plan::{Body, Ev, Src, F_CONSOLE, F_THROTTLED, F_TLS, F_TLS12, F_VPCE, TOKEN_MARK};
use super::rng::{b64_from, derive128, upper_hex, uuid};
use super::world::{World, REGIONS};

fn src_text(src: Src, out: &mut String) {
    match src {
        Src::V4(o) => {
            out.push('"');
            for (i, b) in o.iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(&b.to_string());
            }
            out.push('"');
        }
        Src::Name(n) => esc(out, n),
    }
}

fn key(out: &mut String, k: &str) {
    out.push_str(",\"");
    out.push_str(k);
    out.push_str("\":");
}

fn opt_raw(out: &mut String, k: &str, v: Option<&str>) {
    key(out, k);
    out.push_str(v.unwrap_or("null"));
}

/// Appends the JSON record of `ev` to `out`.
pub(crate) fn render(ev: &Ev, w: &World, out: &mut String) {
    let acct = &w.accounts[ev.acct as usize];
    let region = REGIONS[ev.region as usize];
    let (version, source, name, read_only, event_type) = match &ev.body {
        Body::Api { api, .. } => {
            let (s, n, ro) = api.def();
            (api.version(), s, n, ro, "AwsApiCall")
        }
        Body::Full(f) => (f.version, f.source, f.name, f.read_only, f.event_type),
    };
    out.push_str("{\"eventVersion\":\"");
    out.push_str(version);
    out.push('"');
    key(out, "userIdentity");
    out.push_str(&ev.ident);
    key(out, "eventTime");
    out.push('"');
    iso(ev.t, out);
    out.push('"');
    key(out, "eventSource");
    esc(out, source);
    key(out, "eventName");
    esc(out, name);
    key(out, "awsRegion");
    esc(out, region);
    key(out, "sourceIPAddress");
    src_text(ev.src, out);
    key(out, "userAgent");
    esc(out, &ev.ua);

    let mut shared = None;
    let mut tls_host = None;
    match &ev.body {
        Body::Api { api, p } => {
            if ev.flags & F_THROTTLED != 0 {
                key(out, "errorCode");
                out.push_str("\"ThrottlingException\"");
                key(out, "errorMessage");
                out.push_str("\"Rate exceeded\"");
            }
            let parts = api.parts(*p, ev.id, acct, region, ev.t);
            opt_raw(out, "requestParameters", parts.request.as_deref());
            let resp = if ev.flags & F_THROTTLED != 0 {
                None
            } else {
                parts.response.as_deref()
            };
            opt_raw(out, "responseElements", resp);
            if let Some(a) = &parts.additional {
                key(out, "additionalEventData");
                out.push_str(a);
            }
            write_ids(out, ev, source, true);
            key(out, "readOnly");
            out.push_str(if read_only { "true" } else { "false" });
            if let Some(r) = &parts.resources {
                key(out, "resources");
                out.push_str(r);
            }
            if ev.flags & F_TLS != 0 {
                tls_host = Some(api.host(region, acct, *p));
            }
        }
        Body::Full(f) => {
            if let Some((code, msg)) = &f.error {
                key(out, "errorCode");
                esc(out, code);
                key(out, "errorMessage");
                esc(out, msg);
            }
            opt_raw(out, "requestParameters", f.request.as_deref());
            match (&f.response, f.token) {
                (Some(resp), Some((seed, len))) => match resp.split_once(TOKEN_MARK) {
                    Some((a, b)) => {
                        key(out, "responseElements");
                        out.push_str(a);
                        out.push_str("IQoJb3JpZ2luX2VjE");
                        b64_from(seed, len as usize, out);
                        out.push_str(b);
                    }
                    None => opt_raw(out, "responseElements", Some(resp)),
                },
                (resp, _) => opt_raw(out, "responseElements", resp.as_deref()),
            }
            if let Some(a) = &f.additional {
                key(out, "additionalEventData");
                out.push_str(a);
            }
            write_ids(out, ev, source, f.request_id);
            key(out, "readOnly");
            out.push_str(if read_only { "true" } else { "false" });
            if let Some(r) = &f.resources {
                key(out, "resources");
                out.push_str(r);
            }
            shared = f.shared;
            if ev.flags & F_TLS != 0 {
                tls_host = f.tls_host.clone();
            }
        }
    }
    key(out, "eventType");
    esc(out, event_type);
    key(out, "managementEvent");
    out.push_str("true");
    key(out, "recipientAccountId");
    esc(out, &acct.id);
    if let Some(s) = shared {
        key(out, "sharedEventID");
        out.push('"');
        uuid(s, out);
        out.push('"');
    }
    if ev.flags & F_VPCE != 0 {
        key(out, "vpcEndpointId");
        esc(out, &acct.vpce);
        key(out, "vpcEndpointAccountId");
        esc(out, &acct.id);
    }
    key(out, "eventCategory");
    out.push_str("\"Management\"");
    if let Some(host) = tls_host {
        key(out, "tlsDetails");
        if ev.flags & F_TLS12 != 0 {
            out.push_str(
                "{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\",\"clientProvidedHostHeader\":",
            );
        } else {
            out.push_str(
                "{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":",
            );
        }
        esc(out, &host);
        out.push('}');
    }
    if ev.flags & F_CONSOLE != 0 {
        key(out, "sessionCredentialFromConsole");
        out.push_str("\"true\"");
    }
    out.push('}');
}

fn write_ids(out: &mut String, ev: &Ev, source: &str, request_id: bool) {
    if request_id {
        key(out, "requestID");
        out.push('"');
        let r = derive128(ev.id, 0x4E51);
        if source == "s3.amazonaws.com" {
            upper_hex(r, 16, out);
        } else {
            uuid(r, out);
        }
        out.push('"');
    }
    key(out, "eventID");
    out.push('"');
    uuid(ev.id, out);
    out.push('"');
}
