//! `trailhound securityhub send FILE`: ASFF findings (from `hunt --format asff`) -> AWS Security
//! Hub, with BatchImportFindings.
//!
//! Takes ASFF as JSON lines, a JSON array or `{"Findings": [...]}`; sends them in batches of 100
//! (the API's limit). Findings a batch reports as failed with a transient code, and whole batches
//! that fail with a transient error (throttling, a 5xx, a dropped connection), are sent again with
//! exponential backoff and jitter; those that still fail, and those refused as invalid, are named
//! with their Id and reason, and the command exits 2. Security Hub imports into the account and
//! region of the credentials used: each finding's `ProductArn` becomes that account's default
//! custom-integration product unless `--product-arn` is given.

use crate::aws::{sdk_error, CallError, Connection};
use crate::error::{Error, Exit, Result};
use crate::playbook::exec::Backoff;
use aws_sdk_securityhub::types as t;
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;

/// BatchImportFindings takes at most this many findings a call.
pub const BATCH: usize = 100;

/// What `trailhound securityhub send` was asked to do.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// ASFF findings: JSON lines, a JSON array, or {"Findings": [...]}; `-` reads stdin.
    pub file: PathBuf,
    /// The product to import as (default: the account's default custom integration).
    pub product_arn: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Attempts per finding.
    pub attempts: u32,
}

/// A finding Security Hub did not import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub id: String,
    pub code: String,
    pub message: String,
}

impl Failure {
    /// Worth sending again: throttling or a service-side hiccup, not an invalid finding.
    pub fn retryable(&self) -> bool {
        CallError {
            code: self.code.clone(),
            message: String::new(),
        }
        .retryable()
            || matches!(
                self.code.as_str(),
                "InternalException" | "LimitExceededException" | "TooManyRequestsException"
            )
    }
}

/// What a send did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub imported: usize,
    pub failed: Vec<Failure>,
    /// BatchImportFindings calls made, retries included.
    pub calls: usize,
}

/// Sends `findings` (Id, finding) in batches of [`BATCH`] through `import`, which returns the
/// findings the service reported failed (or an error for the whole call). Transient failures are
/// sent again, in new batches, up to `backoff.max_attempts` times per finding.
pub async fn send_all<T, F, Fut>(
    findings: Vec<(String, T)>,
    backoff: &Backoff,
    mut import: F,
) -> Outcome
where
    T: Clone,
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<Failure>, CallError>>,
{
    let mut out = Outcome::default();
    let mut pending = findings;
    let mut attempt = 0;
    while !pending.is_empty() {
        attempt += 1;
        let last = attempt >= backoff.max_attempts;
        let mut again: Vec<(String, T)> = Vec::new();
        for batch in pending.chunks(BATCH) {
            out.calls += 1;
            let items: Vec<T> = batch.iter().map(|(_, f)| f.clone()).collect();
            match import(items).await {
                Ok(failed) => {
                    let mut failed_here = 0;
                    for (id, f) in batch {
                        match failed.iter().find(|x| &x.id == id) {
                            None => {}
                            Some(x) => {
                                failed_here += 1;
                                if x.retryable() && !last {
                                    again.push((id.clone(), f.clone()));
                                } else {
                                    out.failed.push(x.clone());
                                }
                            }
                        }
                    }
                    out.imported += batch.len() - failed_here;
                }
                Err(e) if e.retryable() && !last => again.extend(batch.iter().cloned()),
                Err(e) => out.failed.extend(batch.iter().map(|(id, _)| Failure {
                    id: id.clone(),
                    code: e.code.clone(),
                    message: e.message.clone(),
                })),
            }
        }
        if !again.is_empty() {
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::from(d.subsec_nanos()));
            tokio::time::sleep(backoff.delay(attempt, seed)).await;
        }
        pending = again;
    }
    out
}

/// Reads ASFF findings: JSON lines, a JSON array, or `{"Findings": [...]}`.
pub fn parse_findings(text: &str) -> std::result::Result<Vec<Value>, String> {
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(a)) => a,
        Ok(Value::Object(o)) => match o.get("Findings") {
            Some(Value::Array(a)) => a.clone(),
            _ => vec![Value::Object(o)],
        },
        Ok(_) => return Err("not ASFF findings".into()),
        // More than one value: JSON lines.
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect::<std::result::Result<_, _>>()?,
    };
    for (i, v) in items.iter().enumerate() {
        if !v.is_object() {
            return Err(format!("finding {}: not a JSON object", i + 1));
        }
    }
    Ok(items)
}

/// The ASFF attributes `send` carries (those `hunt --format asff` writes).
const SUPPORTED: [&str; 25] = [
    "SchemaVersion",
    "Id",
    "ProductArn",
    "ProductName",
    "CompanyName",
    "GeneratorId",
    "AwsAccountId",
    "Region",
    "Types",
    "FirstObservedAt",
    "LastObservedAt",
    "CreatedAt",
    "UpdatedAt",
    "Severity",
    "Confidence",
    "Title",
    "Description",
    "Resources",
    "ProductFields",
    "RecordState",
    "Workflow",
    "FindingProviderFields",
    "Action",
    "Remediation",
    "SourceUrl",
];

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn severity(v: &Value) -> t::Severity {
    let mut b = t::Severity::builder();
    if let Some(l) = s(v, "Label") {
        b = b.label(t::SeverityLabel::from(l));
    }
    if let Some(o) = s(v, "Original") {
        b = b.original(o);
    }
    if let Some(n) = v.get("Normalized").and_then(Value::as_i64) {
        b = b.normalized(n as i32);
    }
    b.build()
}

fn action(v: &Value) -> t::Action {
    let mut b = t::Action::builder();
    if let Some(a) = s(v, "ActionType") {
        b = b.action_type(a);
    }
    if let Some(c) = v.get("AwsApiCallAction") {
        let mut cb = t::AwsApiCallAction::builder();
        if let Some(x) = s(c, "Api") {
            cb = cb.api(x);
        }
        if let Some(x) = s(c, "ServiceName") {
            cb = cb.service_name(x);
        }
        if let Some(x) = s(c, "CallerType") {
            cb = cb.caller_type(x);
        }
        if let Some(x) = s(c, "FirstSeen") {
            cb = cb.first_seen(x);
        }
        if let Some(x) = s(c, "LastSeen") {
            cb = cb.last_seen(x);
        }
        if let Some(d) = c.get("DomainDetails").and_then(|d| s(d, "Domain")) {
            cb = cb.domain_details(
                t::AwsApiCallActionDomainDetails::builder()
                    .domain(d)
                    .build(),
            );
        }
        if let Some(r) = c.get("RemoteIpDetails") {
            let mut rb = t::ActionRemoteIpDetails::builder();
            if let Some(ip) = s(r, "IpAddressV4") {
                rb = rb.ip_address_v4(ip);
            }
            if let Some(cc) = r.get("Country").and_then(|c| s(c, "CountryCode")) {
                rb = rb.country(t::Country::builder().country_code(cc).build());
            }
            if let Some(o) = r.get("Organization") {
                let mut ob = t::IpOrganizationDetails::builder();
                if let Some(n) = o.get("Asn").and_then(Value::as_i64) {
                    ob = ob.asn(n as i32);
                }
                if let Some(x) = s(o, "AsnOrg") {
                    ob = ob.asn_org(x);
                }
                rb = rb.organization(ob.build());
            }
            cb = cb.remote_ip_details(rb.build());
        }
        b = b.aws_api_call_action(cb.build());
    }
    b.build()
}

/// One ASFF finding as the SDK's type; unsupported attributes are named, never dropped.
pub fn to_sdk(
    v: &Value,
    product_arn: Option<&str>,
) -> std::result::Result<t::AwsSecurityFinding, String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let unsupported: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !SUPPORTED.contains(k))
        .collect();
    if !unsupported.is_empty() {
        return Err(format!(
            "attributes trailhound does not send: {}",
            unsupported.join(", ")
        ));
    }
    let mut b = t::AwsSecurityFinding::builder();
    for k in [
        "SchemaVersion",
        "Id",
        "ProductName",
        "CompanyName",
        "GeneratorId",
        "AwsAccountId",
        "Region",
        "FirstObservedAt",
        "LastObservedAt",
        "CreatedAt",
        "UpdatedAt",
        "Title",
        "Description",
        "SourceUrl",
    ] {
        let Some(x) = s(v, k) else { continue };
        b = match k {
            "SchemaVersion" => b.schema_version(x),
            "Id" => b.id(x),
            "ProductName" => b.product_name(x),
            "CompanyName" => b.company_name(x),
            "GeneratorId" => b.generator_id(x),
            "AwsAccountId" => b.aws_account_id(x),
            "Region" => b.region(x),
            "FirstObservedAt" => b.first_observed_at(x),
            "LastObservedAt" => b.last_observed_at(x),
            "CreatedAt" => b.created_at(x),
            "UpdatedAt" => b.updated_at(x),
            "Title" => b.title(x),
            "Description" => b.description(x),
            _ => b.source_url(x),
        };
    }
    match product_arn.or_else(|| s(v, "ProductArn")) {
        Some(p) => b = b.product_arn(p),
        None => return Err("no ProductArn".into()),
    }
    for ty in v
        .get("Types")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(x) = ty.as_str() {
            b = b.types(x);
        }
    }
    if let Some(sv) = v.get("Severity") {
        b = b.severity(severity(sv));
    }
    if let Some(c) = v.get("Confidence").and_then(Value::as_i64) {
        b = b.confidence(c as i32);
    }
    for r in v
        .get("Resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut rb = t::Resource::builder();
        if let Some(x) = s(r, "Type") {
            rb = rb.r#type(x);
        }
        if let Some(x) = s(r, "Id") {
            rb = rb.id(x);
        }
        if let Some(x) = s(r, "Partition") {
            rb = rb.partition(t::Partition::from(x));
        }
        if let Some(x) = s(r, "Region") {
            rb = rb.region(x);
        }
        b = b.resources(rb.build());
    }
    if let Some(m) = v.get("ProductFields").and_then(Value::as_object) {
        for (k, x) in m {
            if let Some(x) = x.as_str() {
                b = b.product_fields(k, x);
            }
        }
    }
    if let Some(x) = s(v, "RecordState") {
        b = b.record_state(t::RecordState::from(x));
    }
    if let Some(x) = v.get("Workflow").and_then(|w| s(w, "Status")) {
        b = b.workflow(
            t::Workflow::builder()
                .status(t::WorkflowStatus::from(x))
                .build(),
        );
    }
    if let Some(p) = v.get("FindingProviderFields") {
        let mut pb = t::FindingProviderFields::builder();
        if let Some(sv) = p.get("Severity") {
            let mut sb = t::FindingProviderSeverity::builder();
            if let Some(l) = s(sv, "Label") {
                sb = sb.label(t::SeverityLabel::from(l));
            }
            if let Some(o) = s(sv, "Original") {
                sb = sb.original(o);
            }
            pb = pb.severity(sb.build());
        }
        for ty in p
            .get("Types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(x) = ty.as_str() {
                pb = pb.types(x);
            }
        }
        if let Some(c) = p.get("Confidence").and_then(Value::as_i64) {
            pb = pb.confidence(c as i32);
        }
        b = b.finding_provider_fields(pb.build());
    }
    if let Some(a) = v.get("Action") {
        b = b.action(action(a));
    }
    if let Some(text) = v
        .get("Remediation")
        .and_then(|r| r.get("Recommendation"))
        .and_then(|r| s(r, "Text"))
    {
        b = b.remediation(
            t::Remediation::builder()
                .recommendation(t::Recommendation::builder().text(text).build())
                .build(),
        );
    }
    Ok(b.build())
}

/// Runs `securityhub send`.
pub fn run(a: SendOptions, quiet: bool) -> Result<Exit> {
    let text = if a.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Error::Usage(format!("cannot read stdin: {e}")))?
    } else {
        std::fs::read_to_string(&a.file)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", a.file.display())))?
    };
    let name = a.file.display().to_string();
    let values = parse_findings(&text).map_err(|e| Error::Usage(format!("{name}: {e}")))?;
    let conn = Connection {
        endpoint_url: a.endpoint_url.clone(),
        region: a.region.clone(),
        profile: a.profile.clone(),
        ..Default::default()
    };
    let rt = crate::aws::runtime().map_err(|e| Error::Other(e.to_string()))?;
    let backoff = Backoff {
        max_attempts: a.attempts.max(1),
        ..Backoff::default()
    };
    let outcome = rt.block_on(async {
        // The SDK's own retries are off: send_all retries and counts.
        let cfg = crate::aws::load(&conn, 1).await;
        let product = match &a.product_arn {
            Some(p) => p.clone(),
            None => {
                let sts = aws_sdk_sts::Client::new(&cfg);
                let who = sts.get_caller_identity().send().await.map_err(|e| {
                    Error::Other(format!("sts:GetCallerIdentity: {}", sdk_error(e)))
                })?;
                let account = who.account().unwrap_or_default().to_string();
                let region = cfg
                    .region()
                    .map_or("us-east-1".to_string(), |r| r.to_string());
                format!("arn:aws:securityhub:{region}:{account}:product/{account}/default")
            }
        };
        let mut findings = Vec::with_capacity(values.len());
        let mut invalid = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let id = s(v, "Id").unwrap_or("").to_string();
            match to_sdk(v, Some(&product)) {
                Ok(f) => findings.push((id, f)),
                Err(e) => invalid.push(Failure {
                    id: if id.is_empty() {
                        format!("#{}", i + 1)
                    } else {
                        id
                    },
                    code: "NotSent".into(),
                    message: e,
                }),
            }
        }
        let client = aws_sdk_securityhub::Client::new(&cfg);
        let mut out = send_all(findings, &backoff, |batch| {
            let req = client.batch_import_findings().set_findings(Some(batch));
            async move {
                let r = req.send().await.map_err(sdk_error)?;
                Ok(r.failed_findings()
                    .iter()
                    .map(|f| Failure {
                        id: f.id().unwrap_or_default().to_string(),
                        code: f.error_code().unwrap_or_default().to_string(),
                        message: f.error_message().unwrap_or_default().to_string(),
                    })
                    .collect())
            }
        })
        .await;
        out.failed.extend(invalid);
        Ok::<Outcome, Error>(out)
    })?;
    for f in &outcome.failed {
        eprintln!(
            "trailhound: {name}: finding {} not imported: {}: {}",
            f.id, f.code, f.message
        );
    }
    if !quiet {
        eprintln!(
            "trailhound: {} findings imported, {} failed, in {} BatchImportFindings calls",
            outcome.imported,
            outcome.failed.len(),
            outcome.calls
        );
    }
    Ok(if outcome.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("f{i}"), format!("f{i}"))).collect()
    }

    fn fast(attempts: u32) -> Backoff {
        Backoff {
            max_attempts: attempts,
            base: std::time::Duration::ZERO,
            cap: std::time::Duration::ZERO,
        }
    }

    fn block<F: Future>(f: F) -> F::Output {
        crate::aws::runtime().unwrap().block_on(f)
    }

    #[test]
    fn batches_of_one_hundred() {
        let mut sizes = Vec::new();
        let out = block(send_all(ids(250), &fast(3), |b: Vec<String>| {
            sizes.push(b.len());
            async { Ok(Vec::new()) }
        }));
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!((out.imported, out.failed.len(), out.calls), (250, 0, 3));
    }

    #[test]
    fn throttled_findings_are_sent_again_invalid_ones_are_named() {
        let mut seen: Vec<Vec<String>> = Vec::new();
        let out = block(send_all(ids(5), &fast(3), |b: Vec<String>| {
            let first = seen.is_empty();
            seen.push(b.clone());
            async move {
                let fail = |id: &str, code: &str| Failure {
                    id: id.into(),
                    code: code.into(),
                    message: "m".into(),
                };
                Ok(if first {
                    vec![
                        fail("f1", "ThrottlingException"),
                        fail("f3", "InvalidInput"),
                    ]
                } else {
                    Vec::new()
                })
            }
        }));
        assert_eq!(seen[1], ["f1"]);
        assert_eq!(out.imported, 4);
        assert_eq!(out.failed.len(), 1);
        assert_eq!(out.failed[0].id, "f3");
        assert_eq!(out.calls, 2);
    }

    #[test]
    fn a_throttled_call_is_retried_until_attempts_run_out() {
        let mut calls = 0;
        let out = block(send_all(ids(2), &fast(3), |_b: Vec<String>| {
            calls += 1;
            async {
                Err(CallError {
                    code: "TooManyRequestsException".into(),
                    message: "slow down".into(),
                })
            }
        }));
        assert_eq!(calls, 3);
        assert_eq!(out.imported, 0);
        assert_eq!(out.failed.len(), 2);
        assert!(out
            .failed
            .iter()
            .all(|f| f.code == "TooManyRequestsException"));
    }

    #[test]
    fn input_shapes() {
        let one = r#"{"Id":"a"}"#;
        assert_eq!(parse_findings(one).unwrap().len(), 1);
        assert_eq!(
            parse_findings("{\"Id\":\"a\"}\n{\"Id\":\"b\"}\n")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_findings(r#"[{"Id":"a"},{"Id":"b"}]"#).unwrap().len(),
            2
        );
        assert_eq!(
            parse_findings("{\n \"Findings\": [{\"Id\":\"a\"}]\n}")
                .unwrap()
                .len(),
            1
        );
        assert!(parse_findings("{\"Id\":\"a\"}\nnot json")
            .unwrap_err()
            .contains("line 2"));
        assert!(
            to_sdk(&serde_json::json!({"Id": "a", "Oops": 1}), Some("p"))
                .unwrap_err()
                .contains("Oops")
        );
    }
}
