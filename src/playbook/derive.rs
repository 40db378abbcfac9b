//! Documents and calls computed at apply time from the state read before a run: a trust policy
//! restricted to networks, a trust policy with a new external id, the calls that recreate a role
//! from its backup. Pure functions of (state, parameters), unit-tested here; `exec` reads the
//! state and calls them. Also the redaction of external ids and the SHA-256 used for it.

use super::plan::Call;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// What a plan computes at apply time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Derive {
    /// Add aws:SourceIp / aws:SourceVpc conditions to the trust policy's Allow statements.
    RestrictTrust {
        networks: Vec<String>,
        vpcs: Vec<String>,
    },
    /// Replace the sts:ExternalId values with a new random id. The id is set at apply time and
    /// never serialized.
    RotateExternalId {
        #[serde(skip)]
        new_id: Option<String>,
    },
    /// Recreate the role from its backup.
    RecreateRole,
}

/// `sha256:<hex>` of a secret: what the audit record keeps instead of it.
pub fn hash_secret(s: &str) -> String {
    format!("sha256:{}", sha256_hex(s.as_bytes()))
}

pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new external id: 32 characters from the OS's random source.
pub fn random_external_id() -> Result<String> {
    let mut buf = [0u8; 24];
    let got = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf));
    if got.is_err() {
        // No /dev/urandom: std's hasher keys come from the OS's random source too.
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x7472_6169_6c68_6f75);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(32);
    // 24 bytes -> 32 characters of 6 bits each, mapped into 62 letters (a slight bias, fine for
    // an external id, which is not a password).
    let mut bits: u32 = 0;
    let mut n = 0;
    for b in buf {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            let v = ((bits >> n) & 0x3f) as usize;
            out.push(ALPHABET[v % ALPHABET.len()] as char);
        }
    }
    if out.len() != 32 {
        return Err(Error::Other("cannot make an external id".into()));
    }
    Ok(out)
}

fn valid_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

fn valid_vpc(s: &str) -> bool {
    s.strip_prefix("vpc-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.chars().all(|c| c.is_ascii_hexdigit())
    })
}

impl Derive {
    /// Validated networks and VPCs for restrict-role-trust.
    pub fn restrict(networks: &[String], vpcs: &[String]) -> Result<Derive> {
        if networks.is_empty() && vpcs.is_empty() {
            return Err(Error::Usage(
                "restrict-role-trust needs --allow-network CIDR... and/or --allow-vpc vpc-..."
                    .into(),
            ));
        }
        let bad: Vec<&String> = networks.iter().filter(|n| !valid_cidr(n)).collect();
        if !bad.is_empty() {
            return Err(Error::Usage(format!(
                "not a network in CIDR form (e.g. 203.0.113.0/24, 2001:db8::/32): {}",
                bad.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let bad: Vec<&String> = vpcs.iter().filter(|n| !valid_vpc(n)).collect();
        if !bad.is_empty() {
            return Err(Error::Usage(format!(
                "not a VPC id (vpc- and 8 or 17 hex digits): {}",
                bad.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Derive::RestrictTrust {
            networks: networks.to_vec(),
            vpcs: vpcs.to_vec(),
        })
    }

    /// The document a dry run shows: the statements' shape with what is added.
    pub fn preview(&self) -> Value {
        let kept = "(kept from the current trust policy)";
        match self {
            Derive::RestrictTrust { networks, vpcs } => {
                let stmt = |cond: Value| {
                    json!({"Effect": "Allow", "Principal": kept, "Action": kept,
                        "Condition": cond})
                };
                let mut st = Vec::new();
                if !networks.is_empty() {
                    st.push(stmt(json!({"IpAddress": {"aws:SourceIp": networks}})));
                }
                if !vpcs.is_empty() {
                    st.push(stmt(json!({"StringEquals": {"aws:SourceVpc": vpcs}})));
                }
                json!({"Version": "2012-10-17", "Statement": st})
            }
            Derive::RotateExternalId { .. } => json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": kept, "Action": kept,
                    "Condition": {"StringEquals": {"sts:ExternalId": "(new random id, printed once at --apply)"}}}]
            }),
            Derive::RecreateRole => Value::Null,
        }
    }

    /// The new trust policy from the current one.
    pub fn trust_document(&self, current: &Value) -> Result<Value> {
        match self {
            Derive::RestrictTrust { networks, vpcs } => restrict_trust(current, networks, vpcs),
            Derive::RotateExternalId { new_id } => {
                let id = new_id.as_deref().ok_or_else(|| {
                    Error::Other("no new external id was made for this run".into())
                })?;
                rotate_external_id(current, id)
            }
            Derive::RecreateRole => Err(Error::Other("recreate-role has no trust document".into())),
        }
    }
}

fn statements(doc: &Value) -> Result<Vec<Value>> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(o @ Value::Object(_)) => Ok(vec![o.clone()]),
        _ => Err(Error::Other(
            "the trust policy has no Statement: nothing to change".into(),
        )),
    }
}

fn with_statements(doc: &Value, st: Vec<Value>) -> Value {
    let mut out = doc.clone();
    if let Value::Object(m) = &mut out {
        m.insert("Statement".into(), Value::Array(st));
    }
    out
}

/// Only AWS service principals (ec2.amazonaws.com...): left alone by network restrictions.
fn service_only(stmt: &Value) -> bool {
    match stmt.get("Principal") {
        Some(Value::Object(p)) => p.keys().all(|k| k == "Service"),
        _ => false,
    }
}

fn has_principal(stmt: &Value, kinds: &[&str]) -> bool {
    match stmt.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(p)) => p.keys().any(|k| kinds.contains(&k.as_str())),
        _ => false,
    }
}

fn add_condition(stmt: &mut Value, op: &str, key: &str, values: Value) {
    let Value::Object(m) = stmt else { return };
    let cond = m
        .entry("Condition")
        .or_insert_with(|| Value::Object(Map::new()));
    if !cond.is_object() {
        *cond = Value::Object(Map::new());
    }
    let Value::Object(c) = cond else { return };
    let ops = c
        .entry(op.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !ops.is_object() {
        *ops = Value::Object(Map::new());
    }
    if let Value::Object(o) = ops {
        o.insert(key.to_string(), values);
    }
}

/// Every Allow statement with an AWS or federated principal gains `IpAddress aws:SourceIp` (and,
/// as a second copy, `StringEquals aws:SourceVpc`); Deny and service-only statements are kept.
pub fn restrict_trust(current: &Value, networks: &[String], vpcs: &[String]) -> Result<Value> {
    let mut out = Vec::new();
    let mut changed = 0;
    for stmt in statements(current)? {
        let allow = stmt.get("Effect").and_then(Value::as_str) == Some("Allow");
        if !allow || service_only(&stmt) || !has_principal(&stmt, &["AWS", "Federated"]) {
            out.push(stmt);
            continue;
        }
        changed += 1;
        let sid = stmt.get("Sid").and_then(Value::as_str).map(str::to_string);
        if !networks.is_empty() {
            let mut s = stmt.clone();
            add_condition(&mut s, "IpAddress", "aws:SourceIp", json!(networks));
            out.push(s);
        }
        if !vpcs.is_empty() {
            let mut s = stmt.clone();
            add_condition(&mut s, "StringEquals", "aws:SourceVpc", json!(vpcs));
            if !networks.is_empty() {
                if let (Some(sid), Value::Object(m)) = (&sid, &mut s) {
                    m.insert("Sid".into(), json!(format!("{sid}Vpc")));
                }
            }
            out.push(s);
        }
    }
    if changed == 0 {
        return Err(Error::Other(
            "the trust policy has no Allow statement with an AWS or federated principal: nothing to restrict".into(),
        ));
    }
    Ok(with_statements(current, out))
}

/// Sets every `sts:ExternalId` condition value to `id`; with none, adds `StringEquals
/// sts:ExternalId` to every Allow statement with an AWS principal.
pub fn rotate_external_id(current: &Value, id: &str) -> Result<Value> {
    let mut st = statements(current)?;
    let mut found = 0;
    for s in &mut st {
        if let Some(Value::Object(c)) = s.get_mut("Condition") {
            for (_, ops) in c.iter_mut() {
                if let Value::Object(o) = ops {
                    for (k, v) in o.iter_mut() {
                        if k.eq_ignore_ascii_case("sts:ExternalId") {
                            *v = json!(id);
                            found += 1;
                        }
                    }
                }
            }
        }
    }
    if found == 0 {
        for s in &mut st {
            if s.get("Effect").and_then(Value::as_str) == Some("Allow")
                && has_principal(s, &["AWS"])
            {
                add_condition(s, "StringEquals", "sts:ExternalId", json!(id));
                found += 1;
            }
        }
    }
    if found == 0 {
        return Err(Error::Other(
            "the trust policy has no sts:ExternalId condition and no Allow statement with an AWS principal to add one to".into(),
        ));
    }
    Ok(with_statements(current, st))
}

/// Replaces every `sts:ExternalId` value in a document with its hash.
pub fn redact_external_ids(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if k.eq_ignore_ascii_case("sts:ExternalId") {
                    match val {
                        Value::String(s) if !s.starts_with("sha256:") => *s = hash_secret(s),
                        Value::Array(a) => {
                            for x in a {
                                if let Value::String(s) = x {
                                    if !s.starts_with("sha256:") {
                                        *s = hash_secret(s);
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                } else {
                    redact_external_ids(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact_external_ids),
        _ => {}
    }
}

/// Everything recreate-role restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleBackup {
    pub role_name: String,
    pub arn: String,
    pub role_id: String,
    pub path: String,
    pub assume_role_policy_document: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<String>,
    /// (Key, Value), in IAM's order.
    pub tags: Vec<(String, String)>,
    /// Inline policies by name (sorted by name).
    pub inline_policies: Vec<(String, Value)>,
    /// Attached managed policy ARNs, sorted.
    pub attached_policies: Vec<String>,
    /// Instance profile names, sorted.
    pub instance_profiles: Vec<String>,
}

impl RoleBackup {
    /// What must be equal after recreating: everything but the role id.
    pub fn differences(&self, after: &RoleBackup) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |what: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{what}: was {a}, is {b}"));
            }
        };
        cmp("ARN", self.arn.clone(), after.arn.clone());
        cmp("path", self.path.clone(), after.path.clone());
        cmp(
            "trust policy",
            self.assume_role_policy_document.to_string(),
            after.assume_role_policy_document.to_string(),
        );
        cmp(
            "description",
            format!("{:?}", self.description),
            format!("{:?}", after.description),
        );
        cmp(
            "max session duration",
            format!("{:?}", self.max_session_duration),
            format!("{:?}", after.max_session_duration),
        );
        cmp(
            "permissions boundary",
            format!("{:?}", self.permissions_boundary),
            format!("{:?}", after.permissions_boundary),
        );
        cmp(
            "tags",
            format!("{:?}", self.tags),
            format!("{:?}", after.tags),
        );
        cmp(
            "inline policies",
            json!(self.inline_policies).to_string(),
            json!(after.inline_policies).to_string(),
        );
        cmp(
            "attached policies",
            format!("{:?}", self.attached_policies),
            format!("{:?}", after.attached_policies),
        );
        cmp(
            "instance profiles",
            format!("{:?}", self.instance_profiles),
            format!("{:?}", after.instance_profiles),
        );
        if self.role_id == after.role_id {
            d.push(format!(
                "role id: still {} (the role was not recreated)",
                self.role_id
            ));
        }
        d
    }

    /// The calls that delete the role and create it again from this backup, in order.
    pub fn calls(&self) -> Vec<Call> {
        let role = || self.role_name.clone();
        let mut c = Vec::new();
        for p in &self.instance_profiles {
            c.push(Call::RemoveRoleFromInstanceProfile {
                instance_profile_name: p.clone(),
                role_name: role(),
            });
        }
        for a in &self.attached_policies {
            c.push(Call::DetachRolePolicy {
                role_name: role(),
                policy_arn: a.clone(),
            });
        }
        for (n, _) in &self.inline_policies {
            c.push(Call::DeleteRolePolicy {
                role_name: role(),
                policy_name: n.clone(),
            });
        }
        c.push(Call::DeleteRole { role_name: role() });
        c.push(Call::CreateRole {
            role_name: role(),
            path: self.path.clone(),
            assume_role_policy_document: self.assume_role_policy_document.clone(),
            description: self.description.clone(),
            max_session_duration: self.max_session_duration,
            permissions_boundary: self.permissions_boundary.clone(),
            tags: self.tags.clone(),
        });
        for (n, d) in &self.inline_policies {
            c.push(Call::PutRolePolicy {
                role_name: role(),
                policy_name: n.clone(),
                policy_document: d.clone(),
            });
        }
        for a in &self.attached_policies {
            c.push(Call::AttachRolePolicy {
                role_name: role(),
                policy_arn: a.clone(),
            });
        }
        for p in &self.instance_profiles {
            c.push(Call::AddRoleToInstanceProfile {
                instance_profile_name: p.clone(),
                role_name: role(),
            });
        }
        c
    }
}

/// The sequence a dry run of recreate-role shows (one of each kind; the backup fills them in).
pub fn recreate_preview(role: &str, path: Option<&str>) -> Vec<Call> {
    let from = |what: &str| format!("(each {what} from the backup)");
    let r = || role.to_string();
    vec![
        Call::RemoveRoleFromInstanceProfile {
            instance_profile_name: from("instance profile"),
            role_name: r(),
        },
        Call::DetachRolePolicy {
            role_name: r(),
            policy_arn: from("attached policy"),
        },
        Call::DeleteRolePolicy {
            role_name: r(),
            policy_name: from("inline policy"),
        },
        Call::DeleteRole { role_name: r() },
        Call::CreateRole {
            role_name: r(),
            path: path.unwrap_or("(from the backup)").to_string(),
            assume_role_policy_document: json!("(the backed-up trust policy)"),
            description: Some("(from the backup)".into()),
            max_session_duration: None,
            permissions_boundary: Some("(from the backup)".into()),
            tags: vec![("(from the backup)".into(), String::new())],
        },
        Call::PutRolePolicy {
            role_name: r(),
            policy_name: from("inline policy"),
            policy_document: json!("(its backed-up document)"),
        },
        Call::AttachRolePolicy {
            role_name: r(),
            policy_arn: from("attached policy"),
        },
        Call::AddRoleToInstanceProfile {
            instance_profile_name: from("instance profile"),
            role_name: r(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "People", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
             "Action": "sts:AssumeRole", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}
        ]})
    }

    #[test]
    fn restrict_keeps_principals_and_other_conditions() {
        let d = restrict_trust(&trust(), &["203.0.113.0/24".into()], &[]).unwrap();
        let st = d["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st[0]["Principal"], trust()["Statement"][0]["Principal"]);
        assert_eq!(
            st[0]["Condition"],
            json!({"Bool": {"aws:MultiFactorAuthPresent": "true"},
                "IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}})
        );
        assert_eq!(
            st[1],
            trust()["Statement"][1],
            "service statement untouched"
        );
        assert_eq!(st[2], trust()["Statement"][2], "deny untouched");
        // Both: the statement is written twice, either place may assume.
        let d = restrict_trust(&trust(), &["10.0.0.0/8".into()], &["vpc-0123abcd".into()]).unwrap();
        let st = d["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(st[1]["Sid"], "PeopleVpc");
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["aws:SourceVpc"],
            json!(["vpc-0123abcd"])
        );
        assert!(st[1]["Condition"].get("IpAddress").is_none());
        let only_service = json!({"Statement": [trust()["Statement"][1]]});
        assert!(restrict_trust(&only_service, &["10.0.0.0/8".into()], &[]).is_err());
    }

    #[test]
    fn networks_and_vpcs_are_validated() {
        assert!(Derive::restrict(&["10.0.0.0/8".into(), "2001:db8::/32".into()], &[]).is_ok());
        let e = Derive::restrict(&["10.0.0.0".into()], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CIDR"), "{e}");
        assert!(Derive::restrict(&[], &["vpc-xyz".into()]).is_err());
        assert!(Derive::restrict(&[], &[]).is_err());
    }

    #[test]
    fn rotation_replaces_or_adds_the_external_id_and_redaction_hides_it() {
        let mut t = trust();
        t["Statement"][0]["Condition"] = json!({"StringEquals": {"sts:ExternalId": "old-id"}});
        let d = rotate_external_id(&t, "NEW").unwrap();
        assert_eq!(
            d["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "NEW"
        );
        let d = rotate_external_id(&trust(), "NEW").unwrap();
        assert_eq!(
            d["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "NEW"
        );
        assert!(d["Statement"][1].get("Condition").is_none(), "service");
        assert!(d["Statement"][2].get("Condition").is_none(), "deny");
    }

    #[test]
    fn redaction_and_random_ids() {
        let mut d =
            json!({"Statement": [{"Condition": {"StringEquals": {"sts:ExternalId": ["a", "b"]}}}]});
        redact_external_ids(&mut d);
        let s = d.to_string();
        assert!(!s.contains("\"a\"") && s.contains(&hash_secret("a")), "{s}");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let a = random_external_id().unwrap();
        let b = random_external_id().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
