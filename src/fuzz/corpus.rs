//! Seeds: real files, records and settings the mutations start from.
//!
//! Takes files and folders (the bundled `sample-logs/`, `tests/fixtures/datasets/`,
//! `playbooks/`) and returns their bytes, their decompressed text, the records in them, the
//! time and address strings they hold, and TOML texts. A few records are built in, so the
//! harness works anywhere, with no files at all.

use crate::ingest::decode::decode;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Files larger than this are not used whole (they would slow every input drawn from them).
const MAX_FILE: usize = 256 * 1024;
/// Records kept from one file, and in all.
const RECORDS_PER_FILE: usize = 4;
const MAX_RECORDS: usize = 8000;

#[derive(Default)]
pub struct Corpus {
    /// Files as stored (gzip or not).
    pub files: Vec<Vec<u8>>,
    /// Their text after decompression.
    pub texts: Vec<Vec<u8>>,
    /// Records (JSON objects with an eventTime), as found.
    pub records: Vec<Value>,
    /// Time and address strings found in records, and the built-in lists.
    pub strings: Vec<String>,
    /// Playbook files and detection settings (TOML).
    pub tomls: Vec<String>,
}

/// Built-in records: one of each kind the session graph and the detections care about.
const BUILT_IN: &[&str] = &[
    r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"AKIAFUZZKEY000000001","userName":"alice"},"eventTime":"2021-02-21T23:46:28Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"70.112.44.9","userAgent":"aws-cli/2.15.10","requestParameters":{"roleArn":"arn:aws:iam::222222222222:role/Admin","roleSessionName":"alice","durationSeconds":3600,"sourceIdentity":"alice"},"responseElements":{"credentials":{"accessKeyId":"ASIAFUZZKEY000000001","sessionToken":"FUZZCANARYSECRET0123456789","expiration":"Feb 22, 2021, 12:46:28 AM"},"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::222222222222:assumed-role/Admin/alice"},"sourceIdentity":"alice"},"requestID":"r1","eventID":"e1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","sharedEventID":"s1","eventCategory":"Management"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::222222222222:assumed-role/Admin/alice","accountId":"222222222222","accessKeyId":"ASIAFUZZKEY000000001","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::222222222222:role/Admin","accountId":"222222222222","userName":"Admin"},"webIdFederationData":{},"attributes":{"creationDate":"2021-02-21T23:46:28Z","mfaAuthenticated":"true"},"sourceIdentity":"alice"}},"eventTime":"2021-02-21T23:50:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"185.220.101.4","userAgent":"Boto3/1.0","requestParameters":{"roleArn":"arn:aws:iam::333333333333:role/Audit","roleSessionName":"alice","durationSeconds":43200},"responseElements":{"credentials":{"accessKeyId":"ASIAFUZZKEY000000002","expiration":"20210222T004628Z"}},"requestID":"r2","eventID":"e2","eventType":"AwsApiCall","recipientAccountId":"222222222222"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAINST:i-0123456789abcdef0","arn":"arn:aws:sts::222222222222:assumed-role/Web/i-0123456789abcdef0","accountId":"222222222222","accessKeyId":"ASIAFUZZKEY000000003","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::222222222222:role/Web","accountId":"222222222222","userName":"Web"},"attributes":{"creationDate":"20210221T234628Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}},"eventTime":"2021-02-22T01:00:00.123Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"eu-west-1","sourceIPAddress":"::ffff:185.220.101.4","userAgent":"curl/8.0","requestParameters":null,"responseElements":null,"eventID":"e3","eventType":"AwsApiCall","recipientAccountId":"222222222222"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111"},"eventTime":"2021-02-22T02:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"035.249.253.232","userAgent":"Mozilla/5.0","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com","MobileVersion":"No","MFAUsed":"No"},"errorMessage":"Failed authentication","eventID":"e4","eventType":"AwsConsoleSignIn","recipientAccountId":"111111111111"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/bob","accountId":"111111111111","accessKeyId":"AKIAFUZZKEY000000002","userName":"bob"},"eventTime":"2021-02-22T03:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetFederationToken","awsRegion":"us-east-1","sourceIPAddress":"2001:db8::1","requestParameters":{"name":"bob","policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"},"responseElements":{"credentials":{"accessKeyId":"ASIAFUZZKEY000000004","sessionToken":"FUZZCANARYSECRET0123456789","secretAccessKey":"FUZZCANARYSECRET0123456789","expiration":"Nov 30, 2024, 8:43:17 PM"},"federatedUser":{"arn":"arn:aws:sts::111111111111:federated-user/bob"}},"eventID":"e5","eventType":"AwsApiCall","recipientAccountId":"111111111111"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"AKIAFUZZKEY000000001","userName":"alice"},"eventTime":"2021-02-21T23:40:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"70.112.44.9","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111111111111:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/Admin","requestParameters":null,"responseElements":null,"eventID":"e6","eventType":"AwsApiCall","recipientAccountId":"111111111111"}"#,
    r#"{"eventVersion":"1.08","userIdentity":{"type":"SAMLUser","principalId":"x:carol","userName":"carol","identityProvider":"arn:aws:iam::111111111111:saml-provider/Okta"},"eventTime":"2021-02-21T22:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML","awsRegion":"us-east-1","sourceIPAddress":"70.112.44.9","requestParameters":{"roleArn":"arn:aws:iam::111111111111:role/SSO","principalArn":"arn:aws:iam::111111111111:saml-provider/Okta","SAMLAssertion":"FUZZCANARYSECRET0123456789"},"responseElements":{"credentials":{"accessKeyId":"ASIAFUZZKEY000000005","expiration":"2021-02-22T00:00:00Z"},"subject":"carol","issuer":"https://okta"},"eventID":"e7","recipientAccountId":"111111111111"}"#,
];

impl Corpus {
    /// The built-in records and strings only.
    pub fn built_in() -> Corpus {
        let mut c = Corpus::default();
        for r in BUILT_IN {
            if let Ok(v) = serde_json::from_str::<Value>(r) {
                c.records.push(v);
            }
        }
        let doc = format!("{{\"Records\":[{}]}}", BUILT_IN.join(","));
        c.texts.push(doc.clone().into_bytes());
        c.files.push(doc.into_bytes());
        c.tomls.push(crate::detect::DetectConfig::default_toml());
        c.strings.extend(
            super::mutate::TIMES
                .iter()
                .chain(super::mutate::IPS)
                .chain(super::mutate::STRINGS)
                .map(|s| s.to_string()),
        );
        c
    }

    /// The built-in seeds plus every file under `roots` (missing roots are passed over).
    pub fn load(roots: &[PathBuf]) -> Corpus {
        let mut c = Corpus::built_in();
        let mut files: Vec<PathBuf> = Vec::new();
        for root in roots {
            if root.is_file() {
                files.push(root.clone());
            } else if root.is_dir() {
                files.extend(
                    walkdir::WalkDir::new(root)
                        .sort_by_file_name()
                        .into_iter()
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_file())
                        .map(|e| e.into_path()),
                );
            }
        }
        let mut seen_strings = std::collections::HashSet::new();
        for path in files {
            c.add_file(&path, &mut seen_strings);
        }
        c
    }

    fn add_file(&mut self, path: &Path, seen: &mut std::collections::HashSet<String>) {
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        if path.extension().is_some_and(|e| e == "toml") {
            self.tomls.push(String::from_utf8_lossy(&data).into_owned());
            return;
        }
        let text = decode(data.clone()).bytes;
        for rec in records_of(&text).into_iter().take(RECORDS_PER_FILE) {
            if self.records.len() < MAX_RECORDS {
                harvest(&rec, &mut self.strings, seen);
                self.records.push(rec);
            }
        }
        if data.len() <= MAX_FILE && text.len() <= 4 * MAX_FILE {
            self.files.push(data);
            self.texts.push(text);
        }
    }
}

/// The records of a text: a Records document, an array, NDJSON, LookupEvents lines.
fn records_of(text: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    let take = |v: Value, out: &mut Vec<Value>| match v {
        Value::Object(mut m) => {
            if let Some(Value::Array(rs)) = m.remove("Records") {
                out.extend(rs.into_iter().filter(Value::is_object));
            } else if let Some(Value::String(inner)) = m.get("CloudTrailEvent") {
                if let Ok(v) = serde_json::from_str::<Value>(inner) {
                    out.push(v);
                }
            } else if m.contains_key("eventTime") {
                out.push(Value::Object(m));
            }
        }
        Value::Array(rs) => out.extend(rs.into_iter().filter(Value::is_object)),
        _ => {}
    };
    match serde_json::from_slice::<Value>(text) {
        Ok(v) => take(v, &mut out),
        Err(_) => {
            for line in text.split(|&b| b == b'\n') {
                if let Ok(v) = serde_json::from_slice::<Value>(line) {
                    take(v, &mut out);
                }
            }
        }
    }
    out
}

/// Collects the time and address strings of a record.
fn harvest(v: &Value, out: &mut Vec<String>, seen: &mut std::collections::HashSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                if let Value::String(s) = val {
                    let wanted = matches!(
                        k.as_str(),
                        "eventTime"
                            | "creationDate"
                            | "expiration"
                            | "sourceIPAddress"
                            | "errorMessage"
                            | "userAgent"
                            | "arn"
                    );
                    if wanted && s.len() < 512 && out.len() < 20_000 && seen.insert(s.clone()) {
                        out.push(s.clone());
                    }
                } else {
                    harvest(val, out, seen);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| harvest(x, out, seen)),
        _ => {}
    }
}
