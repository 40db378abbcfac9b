//! Mutations: real records and files -> hostile variants, drawn from a seeded stream.
//!
//! Two levels. Structured mutations edit parsed records (type swaps, huge numbers and strings,
//! deep nesting, keys from the CloudTrail vocabulary, linked and cyclic access keys, shared event
//! ids, planted secrets) and lay them out in every input shape trailhound reads. Byte mutations
//! then damage the text (bit flips, inserted tokens, cut ranges, truncation, splicing, invalid
//! UTF-8) and optionally wrap it in gzip, sometimes in several members, sometimes corrupt.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use serde_json::{Map, Value};
use std::io::Write;

/// Planted as the value of secret keys; it must never reach any output.
pub const CANARY: &str = "FUZZCANARYSECRET0123456789";

/// SplitMix64's finaliser.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The random stream of input `index` under `seed`: every input can be made again on its own.
pub struct Dice(ChaCha8Rng);

impl Dice {
    pub fn new(seed: u64, index: u64) -> Dice {
        let mut bytes = [0u8; 32];
        let mut state = mix64(seed) ^ mix64(index.wrapping_add(0x5EED));
        for chunk in bytes.chunks_mut(8) {
            state = mix64(state);
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        Dice(ChaCha8Rng::from_seed(bytes))
    }

    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True `num` times in `den`.
    pub fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    /// A size that is mostly small, sometimes large: 1, 2, 4... up to `2^max_log2`.
    pub fn size(&mut self, max_log2: u32) -> usize {
        let bits = self.below(max_log2 as usize + 1) as u32;
        self.range(1usize << bits.saturating_sub(1), 1usize << bits)
    }
}

/// Numbers at the edges of every integer and float type, and some that are not JSON at all.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "900",
    "3600",
    "3601",
    "43200",
    "-3600",
    "2147483648",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890123456789012345678901234567890",
    "1e308",
    "1e309",
    "-1e309",
    "1e-400",
    "1.7976931348623157e308",
    "4.9e-324",
    "0.5",
    "3.6e3",
    "1E+2",
    "-0.0e-0",
    "01",
    "1.",
    ".5",
    "+1",
    "NaN",
    "Infinity",
    "-",
    "1e",
    "0x10",
];

/// Time texts: every form CloudTrail writes, and their broken neighbours.
pub const TIMES: &[&str] = &[
    "2021-02-21T23:46:28Z",
    "2021-02-21T23:46:28.123Z",
    "2021-02-21T23:46:28.123456789012345678901234567890Z",
    "2021-02-21T23:46:28+01:00",
    "2021-02-21T23:46:28-23:59",
    "2021-02-21T23:46:28+24:00",
    "2021-02-21T23:46:28+99:99",
    "2021-02-21 23:46:28",
    "2021-02-21 23:46:28.000000000",
    "2021-02-21T23:46:28",
    "2021-02-21T23:46:28.",
    "2021-02-21T23:46:28.Z",
    "2021-02-21T23:46:28ZZ",
    "2021-02-21T23:46:60Z",
    "2021-02-21T24:00:00Z",
    "2020-02-29T00:00:00Z",
    "2021-02-29T00:00:00Z",
    "2021-00-00T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59.999Z",
    "+275760-09-13T00:00:00Z",
    "-271821-04-20T00:00:00Z",
    "20131102T010628Z",
    "20131302T010628Z",
    "2013110XT010628Z",
    "2021-02-21T23:46:28\u{017b}",
    "2021-02-21T23:46:2\u{00e9}",
    "\u{ff12}\u{ff10}\u{ff12}\u{ff11}-02-21T23:46:28Z",
    "Sep 14, 2020, 7:10:27 AM",
    "Sep 14, 2020 7:10:27 AM",
    "Nov 01, 2020 8:37:03 PM",
    "Feb 30, 2020, 13:61:00 PM",
    "Sep 14, 262143, 7:10:27 AM",
    "Sep 14, -1, 7:10:27 AM",
    "2026-03-02",
    "2026-03-02T10:00",
    "last tuesday",
    "",
    " ",
    "T",
    "Z",
];

/// Source address texts: what CloudTrail writes, and what a parser could trip on.
pub const IPS: &[&str] = &[
    "70.112.44.9",
    "10.0.0.1",
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "035.249.253.232",
    "999.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1..2.3",
    "::",
    "::1",
    "::ffff:1.2.3.4",
    "::ffff:10.0.0.1",
    "2001:db8::1",
    "2600:1f18::1",
    "fe80::1%eth0",
    "fe80::1%",
    "[2001:db8::1]",
    "[",
    "]",
    "[]",
    "%",
    "[%]",
    "[::1%lo]",
    "AWS Internal",
    "aws internal",
    "ec2.amazonaws.com",
    "sts.amazonaws.com",
    "a..b",
    ".",
    "3.5.140.2",
    "52.94.0.1",
    "185.220.101.4",
    "1.2.3.4, 5.6.7.8",
    "2001:db8::1/64",
    "\u{0661}.\u{0662}.\u{0663}.\u{0664}",
];

/// Keys of the CloudTrail vocabulary, so that mutations land where the parser looks.
pub const KEYS: &[&str] = &[
    "eventTime",
    "eventID",
    "eventName",
    "eventSource",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "readOnly",
    "managementEvent",
    "eventType",
    "eventCategory",
    "recipientAccountId",
    "sharedEventID",
    "requestID",
    "vpcEndpointId",
    "userIdentity",
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "invokedBy",
    "identityProvider",
    "sessionContext",
    "sessionIssuer",
    "attributes",
    "creationDate",
    "mfaAuthenticated",
    "sourceIdentity",
    "webIdFederationData",
    "federatedProvider",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "roleArn",
    "roleSessionName",
    "durationSeconds",
    "principalArn",
    "name",
    "policy",
    "credentials",
    "expiration",
    "assumedRoleUser",
    "federatedUser",
    "subject",
    "subjectFromWebIdentityToken",
    "issuer",
    "provider",
    "MFAUsed",
    "LoginTo",
    "ConsoleLogin",
    "CloudTrailEvent",
    "detail",
    "event",
    "Records",
    "digestStartTime",
    "insightDetails",
];

/// Secret keys as written, in other cases, and escaped: none of their values may survive.
const SECRET_KEYS: &[&str] = &[
    "sessionToken",
    "SessionToken",
    "SESSIONTOKEN",
    "secretAccessKey",
    "SecretAccessKey",
    "password",
    "Password",
    "PASSWORD",
    "newPassword",
    "SAMLAssertion",
    "samlAssertion",
    "webIdentityToken",
    "WebIdentityToken",
];

/// Strings the parser and detections compare with.
pub const STRINGS: &[&str] = &[
    "",
    " ",
    "null",
    "true",
    "false",
    "True",
    "yes",
    "No",
    "Yes",
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "ConsoleLogin",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "ec2.amazonaws.com",
    "AccessDenied",
    "Failed authentication",
    "Success",
    "Failure",
    "Root",
    "IAMUser",
    "AssumedRole",
    "Role",
    "FederatedUser",
    "AWSAccount",
    "AWSService",
    "SAMLUser",
    "WebIdentityUser",
    "IdentityCenterUser",
    "Unknown",
    "i-0123456789abcdef0",
    "i-",
    "arn:aws:iam::123456789012:root",
    "arn:aws:iam::123456789012:user/alice",
    "arn:aws:iam::123456789012:role/Admin",
    "arn:aws:iam::123456789012:role/aws-service-role/x/AWSServiceRole",
    "arn:aws:sts::123456789012:assumed-role/Admin/alice",
    "arn:aws:sts::123456789012:assumed-role/Admin/i-0123456789abcdef0",
    "arn:aws:sts::123456789012:assumed-role/",
    "arn:aws:sts::123456789012:assumed-role",
    "arn:aws:sts::123456789012:federated-user/bob",
    "arn:",
    "arn:aws:iam::",
    "arn:aws:iam:::role/",
    ":role/",
    "assumed-role/",
    "AROAEXAMPLE:alice",
    "AROAEXAMPLE:",
    ":",
    "123456789012",
    "ASIAFUZZKEY000000001",
    "ASIAFUZZKEY000000002",
    "ASIAFUZZKEY000000003",
    "AKIAFUZZKEY000000001",
    "ASIA",
    "AKIA",
    "User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::2:role/Y",
    "on resource: ",
    "on resource: arn:aws:iam::2:role/",
    "on resource: arn:aws:iam::2:role/\u{00e9}.",
    "aws-cli/2.15.10 Python/3.11.6",
    "Mozilla/5.0",
    "Boto3/1.0",
    "[S3Console/0.4]",
    "AWS Internal",
    "AdministratorAccess",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
    "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":[\"*\"],\"Resource\":[\"*\"]}}",
    "{\"Statement\":",
    "\u{0}",
    "\u{7f}",
    "\u{e9}",
    "\u{1d11e}",
    "\u{202e}",
    "\u{feff}",
    "\u{10ffff}",
    "\\",
    "\"",
    "\n",
];

/// Bytes and tokens that mean something to a JSON scanner, a UTF-8 decoder or a line splitter.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"\0",
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc3\x28",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xf0\x9f\x98",
    b"\xef\xbb\xbf",
    b"null",
    b"true",
    b"1e999",
    b"-",
    b"\x1f\x8b",
    b"\"eventTime\":\"2021-02-21T23:46:28Z\",",
    b"\"eventTime\":",
    b"{\"Records\":[",
    b"\"CloudTrailEvent\":\"",
    b"\"sessionToken\":",
];

/// Builds one input. Raw text that JSON values cannot carry (numbers out of range, invalid
/// tokens, escaped keys, deep nesting) is planted as a sentinel string and put in after
/// serializing.
pub struct Gen<'a> {
    pub dice: Dice,
    raws: Vec<String>,
    /// Texts of the corpus to splice from.
    pub others: &'a [Vec<u8>],
    /// Set when the input is still well-formed enough that a planted secret must not survive.
    pub secrets_planted: bool,
}

const SENTINEL: &str = "\u{1}fuzzraw";

impl<'a> Gen<'a> {
    pub fn new(dice: Dice, others: &'a [Vec<u8>]) -> Gen<'a> {
        Gen {
            dice,
            raws: Vec::new(),
            others,
            secrets_planted: false,
        }
    }

    fn raw(&mut self, text: String) -> String {
        let n = self.raws.len();
        self.raws.push(text);
        format!("{SENTINEL}{n}\u{1}")
    }

    fn raw_value(&mut self, text: String) -> Value {
        Value::String(self.raw(text))
    }

    /// Serializes with the raw texts put in place of their sentinels.
    pub fn to_text(&self, v: &Value, pretty: bool) -> String {
        let mut s = if pretty {
            serde_json::to_string_pretty(v).unwrap_or_default()
        } else {
            serde_json::to_string(v).unwrap_or_default()
        };
        if s.contains("\\u0001fuzzraw") {
            for (n, r) in self.raws.iter().enumerate().rev() {
                s = s.replace(&format!("\"\\u0001fuzzraw{n}\\u0001\""), r);
            }
        }
        s
    }

    fn nested(&mut self) -> String {
        let depth = *self
            .dice
            .pick(&[2, 64, 127, 128, 129, 200, 1000, 5000, 50_000]);
        let (open, close, inner): (&str, &str, &str) = match self.dice.below(4) {
            0 => ("[", "]", "1"),
            1 => ("{\"a\":", "}", "1"),
            2 => ("{\"sessionToken\":[", "]}", "\"x\""),
            _ => ("[{\"policy\":", "}]", "null"),
        };
        let mut s = String::with_capacity(depth * (open.len() + close.len()) + inner.len());
        for _ in 0..depth {
            s.push_str(open);
        }
        s.push_str(inner);
        // Sometimes never closed: the scanner must not read past the end.
        if self.dice.chance(7, 8) {
            for _ in 0..depth {
                s.push_str(close);
            }
        }
        s
    }

    fn huge_string(&mut self) -> String {
        let units = [
            "A",
            "\u{e9}",
            "\u{1d11e}",
            "\\\"",
            "\\u0041",
            "\\n",
            " ",
            "arn:aws:iam::1:role/",
        ];
        let unit = *self.dice.pick(&units);
        // Mostly up to 4 KiB; one time in 16 up to about 2 MB.
        let n = if self.dice.chance(1, 16) {
            self.dice.size(21) / unit.len()
        } else {
            self.dice.size(12)
        };
        let mut s = String::with_capacity(n * unit.len() + 2);
        s.push('"');
        for _ in 0..n {
            s.push_str(unit);
        }
        s.push('"');
        s
    }

    /// A value of any type, mostly from the vocabulary.
    pub fn value(&mut self, depth: usize) -> Value {
        match self.dice.below(if depth > 3 { 8 } else { 11 }) {
            0 => Value::Null,
            1 => Value::Bool(self.dice.chance(1, 2)),
            2 => {
                let n = self.dice.pick(NUMBERS).to_string();
                self.raw_value(n)
            }
            3 | 4 => Value::String(self.dice.pick(STRINGS).to_string()),
            5 => Value::String(self.dice.pick(TIMES).to_string()),
            6 => Value::String(self.dice.pick(IPS).to_string()),
            7 => Value::from(self.dice.u64() as i64 >> self.dice.below(64)),
            8 => Value::Object(Map::new()),
            9 => {
                let mut m = Map::new();
                for _ in 0..self.dice.range(1, 3) {
                    let k = self.dice.pick(KEYS).to_string();
                    let v = self.value(depth + 1);
                    m.insert(k, v);
                }
                Value::Object(m)
            }
            _ => {
                let n = self.dice.below(4);
                Value::Array((0..n).map(|_| self.value(depth + 1)).collect())
            }
        }
    }

    /// The value a key of the vocabulary usually holds, or a wrong one.
    fn value_for(&mut self, key: &str) -> Value {
        if self.dice.chance(1, 3) {
            return self.value(0);
        }
        match key {
            "eventTime" | "creationDate" | "expiration" | "digestStartTime" => {
                Value::String(self.dice.pick(TIMES).to_string())
            }
            "sourceIPAddress" => Value::String(self.dice.pick(IPS).to_string()),
            "durationSeconds" => {
                let n = self.dice.pick(NUMBERS).to_string();
                if self.dice.chance(1, 2) {
                    self.raw_value(n)
                } else {
                    Value::String(n)
                }
            }
            "accessKeyId" => Value::String(
                self.dice
                    .pick(&[
                        "ASIAFUZZKEY000000001",
                        "ASIAFUZZKEY000000002",
                        "ASIAFUZZKEY000000003",
                        "AKIAFUZZKEY000000001",
                        "",
                        "ASIA",
                    ])
                    .to_string(),
            ),
            "readOnly" | "managementEvent" | "mfaAuthenticated" => Value::String(
                self.dice
                    .pick(&["true", "false", "TRUE", "yes", "no", "1"])
                    .to_string(),
            ),
            _ => Value::String(self.dice.pick(STRINGS).to_string()),
        }
    }

    /// A subtree of `v` chosen by random descent.
    fn random_node<'v>(&mut self, v: &'v mut Value) -> &'v mut Value {
        let mut cur = v;
        loop {
            let n = match &*cur {
                Value::Object(m) => m.len(),
                Value::Array(a) => a.len(),
                _ => 0,
            };
            if n == 0 || !self.dice.chance(2, 3) {
                return cur;
            }
            let i = self.dice.below(n);
            cur = match cur {
                Value::Object(m) => m.values_mut().nth(i).expect("an index below the length"),
                Value::Array(a) => &mut a[i],
                other => return other,
            };
        }
    }

    /// One structured mutation somewhere inside `rec`. `donors` are other records to copy from.
    pub fn mutate_record(&mut self, rec: &mut Value, donors: &[Value]) {
        let op = self.dice.below(12);
        let node = self.random_node(rec);
        match op {
            0 | 1 => *node = self.value(0),
            2 | 3 => {
                if let Value::Object(m) = node {
                    let k = self.dice.pick(KEYS).to_string();
                    let v = self.value_for(&k);
                    m.insert(k, v);
                } else {
                    *node = self.value(0);
                }
            }
            4 => match node {
                Value::Object(m) if !m.is_empty() => {
                    let i = self.dice.below(m.len());
                    if let Some(k) = m.keys().nth(i).cloned() {
                        m.remove(&k);
                    }
                }
                Value::Array(a) if !a.is_empty() => {
                    let i = self.dice.below(a.len());
                    a.remove(i);
                }
                _ => *node = Value::Null,
            },
            5 => {
                let s = self.huge_string();
                *node = self.raw_value(s);
            }
            6 => {
                let n = self.dice.pick(NUMBERS).to_string();
                *node = self.raw_value(n);
            }
            7 => {
                let s = self.nested();
                *node = self.raw_value(s);
            }
            8 => {
                if !donors.is_empty() {
                    let mut d = self.dice.pick(donors).clone();
                    let part = self.random_node(&mut d).clone();
                    // A secret moved out from under its key is no longer a secret to redact.
                    if !part.to_string().contains(CANARY) {
                        *node = part;
                    }
                }
            }
            9 => {
                let inner = std::mem::take(node);
                *node = if self.dice.chance(1, 2) {
                    Value::Array(vec![inner.clone(), inner])
                } else {
                    let mut m = Map::new();
                    m.insert(self.dice.pick(KEYS).to_string(), inner);
                    Value::Object(m)
                };
            }
            10 => {
                if let Value::String(s) = node {
                    let mut b = std::mem::take(s).into_bytes();
                    self.mutate_bytes_once(&mut b);
                    // Text spliced in from elsewhere may hold a planted secret outside its key.
                    *s = String::from_utf8_lossy(&b).replace(CANARY, "spliced");
                } else {
                    *node = Value::String(self.dice.pick(STRINGS).to_string());
                }
            }
            _ => {
                // A key escaped with \u, or two copies of one key.
                if let Value::Object(m) = node {
                    if !m.is_empty() {
                        let i = self.dice.below(m.len());
                        let k = m.keys().nth(i).cloned().unwrap_or_default();
                        if let Some(v) = m.remove(&k) {
                            let key = if self.dice.chance(1, 2) {
                                escape_one(&k, &mut self.dice)
                            } else {
                                format!(
                                    "\"{}\":{},\"{}\"",
                                    json_escape(&k),
                                    self.to_text(&v, false),
                                    json_escape(&k)
                                )
                            };
                            let raw = self.raw(key);
                            // The sentinel is a key here: it is written with its quotes, which
                            // `to_text` replaces with the raw text above.
                            m.insert(raw, v);
                        }
                    }
                }
            }
        }
    }

    /// Plants a secret under a secret key somewhere in the raw documents of `rec`.
    pub fn plant_secret(&mut self, rec: &mut Value) {
        let Value::Object(top) = rec else { return };
        let field = *self.dice.pick(&[
            "requestParameters",
            "responseElements",
            "additionalEventData",
        ]);
        let slot = top
            .entry(field.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() && !slot.is_array() {
            *slot = Value::Object(Map::new());
        }
        // Down into an object (or an array's object) at some depth.
        let mut node = slot;
        for _ in 0..self.dice.below(3) {
            node = match node {
                Value::Object(m) => {
                    let k = self
                        .dice
                        .pick(&["credentials", "policy", "x", "items"])
                        .to_string();
                    let child = m.entry(k).or_insert_with(|| Value::Object(Map::new()));
                    if !child.is_object() && !child.is_array() {
                        *child = Value::Object(Map::new());
                    }
                    child
                }
                Value::Array(a) => {
                    a.push(Value::Object(Map::new()));
                    let n = a.len() - 1;
                    &mut a[n]
                }
                other => other,
            };
        }
        let secret_key = self.dice.pick(SECRET_KEYS).to_string();
        let key = if self.dice.chance(1, 3) {
            let escaped = escape_one(&secret_key, &mut self.dice);
            self.raw(escaped)
        } else {
            secret_key
        };
        let value = match self.dice.below(4) {
            0 => Value::Array(vec![Value::String(CANARY.into())]),
            1 => {
                let mut m = Map::new();
                m.insert("v".into(), Value::String(CANARY.into()));
                Value::Object(m)
            }
            _ => Value::String(CANARY.into()),
        };
        match node {
            Value::Object(m) => {
                m.insert(key, value);
            }
            Value::Array(a) => {
                let mut m = Map::new();
                m.insert(key, value);
                a.push(Value::Object(m));
            }
            _ => return,
        }
        self.secrets_planted = true;
    }

    /// Batch-level mutations that make records refer to each other: keys issued and used
    /// (chains, cycles, self-issue), one sharedEventID across accounts, times close together,
    /// duplicates.
    pub fn relate(&mut self, recs: &mut Vec<Value>) {
        if recs.is_empty() {
            return;
        }
        match self.dice.below(5) {
            0 => {
                let keys = [
                    "ASIAFUZZKEY000000001",
                    "ASIAFUZZKEY000000002",
                    "ASIAFUZZKEY000000003",
                    "AKIAFUZZKEY000000001",
                ];
                for r in recs.iter_mut() {
                    let used = *self.dice.pick(&keys);
                    set_path(
                        r,
                        &["userIdentity", "accessKeyId"],
                        Value::String(used.into()),
                    );
                    if self.dice.chance(2, 3) {
                        let issued = *self.dice.pick(&keys);
                        set_path(
                            r,
                            &["eventSource"],
                            Value::String("sts.amazonaws.com".into()),
                        );
                        let name = *self.dice.pick(&crate::event::ISSUING_CALLS);
                        set_path(r, &["eventName"], Value::String(name.into()));
                        set_path(
                            r,
                            &["responseElements", "credentials", "accessKeyId"],
                            Value::String(issued.into()),
                        );
                        if self.dice.chance(1, 2) {
                            let d = self.dice.pick(NUMBERS).to_string();
                            let d = self.raw_value(d);
                            set_path(r, &["requestParameters", "durationSeconds"], d);
                        }
                    }
                    if self.dice.chance(1, 3) {
                        let kind = *self.dice.pick(&[
                            "IAMUser",
                            "Root",
                            "AssumedRole",
                            "AWSService",
                            "FederatedUser",
                        ]);
                        set_path(r, &["userIdentity", "type"], Value::String(kind.into()));
                    }
                }
            }
            1 => {
                let shared = Value::String("fuzz-shared-0001".into());
                for r in recs.iter_mut() {
                    set_path(r, &["sharedEventID"], shared.clone());
                    let acct = *self.dice.pick(&["111111111111", "222222222222", ""]);
                    set_path(r, &["recipientAccountId"], Value::String(acct.into()));
                    if self.dice.chance(1, 2) {
                        set_path(
                            r,
                            &["userIdentity", "type"],
                            Value::String("AWSAccount".into()),
                        );
                    }
                }
            }
            2 => {
                let base = crate::event::parse_iso("2021-02-21T23:46:28Z").unwrap_or(0);
                let step = *self.dice.pick(&[0i64, 1, 1000, 60_000, 3_600_000]);
                for (i, r) in recs.iter_mut().enumerate() {
                    let t = crate::event::format_iso(base + step * i as i64);
                    set_path(r, &["eventTime"], Value::String(t));
                    if self.dice.chance(1, 2) {
                        let ip = *self.dice.pick(IPS);
                        set_path(r, &["sourceIPAddress"], Value::String(ip.into()));
                    }
                    if self.dice.chance(1, 3) {
                        set_path(r, &["errorCode"], Value::String("AccessDenied".into()));
                    }
                }
            }
            3 => {
                let i = self.dice.below(recs.len());
                let copy = recs[i].clone();
                recs.push(copy);
            }
            _ => {
                let n = self.dice.range(2, 60).min(400 / recs.len().max(1));
                let i = self.dice.below(recs.len());
                for _ in 0..n {
                    let mut copy = recs[i].clone();
                    let op = self.dice.below(3);
                    if op == 0 {
                        set_path(&mut copy, &["eventID"], Value::from(self.dice.u64()));
                    }
                    recs.push(copy);
                }
            }
        }
    }

    /// Lays records out in one of the shapes trailhound reads.
    pub fn shape(&mut self, recs: &[Value]) -> Vec<u8> {
        let pretty = self.dice.chance(1, 10);
        let texts: Vec<String> = recs.iter().map(|r| self.to_text(r, pretty)).collect();
        let mut out = String::new();
        if self.dice.chance(1, 20) {
            out.push('\u{feff}');
        }
        if self.dice.chance(1, 10) {
            let space = *self.dice.pick(&[" ", "\n", "\r\n", "\t \n"]);
            out.push_str(space);
        }
        match self.dice.below(10) {
            0..=2 => {
                if self.dice.chance(1, 8) {
                    out.push_str("{\"digestStartTime\":1,");
                } else if self.dice.chance(1, 8) {
                    out.push_str("{\"other\":[1,{}],");
                } else {
                    out.push('{');
                }
                out.push_str("\"Records\":");
                let space = *self.dice.pick(&["", " ", "\n"]);
                out.push_str(space);
                out.push('[');
                out.push_str(&texts.join(*self.dice.pick(&[",", ", ", ",\n"])));
                out.push_str("]}");
            }
            3 => {
                out.push('[');
                out.push_str(&texts.join(","));
                out.push(']');
            }
            4 | 5 => {
                let sep = *self.dice.pick(&["\n", "\r\n", "\n\n", "\n \n"]);
                out.push_str(&texts.join(sep));
                if self.dice.chance(3, 4) {
                    out.push('\n');
                }
            }
            6 => {
                let lines: Vec<String> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let inner = serde_json::to_string(t).unwrap_or_default();
                        format!("{{\"EventId\":\"{i}\",\"EventName\":\"X\",\"CloudTrailEvent\":{inner}}}")
                    })
                    .collect();
                if self.dice.chance(1, 3) {
                    out.push('[');
                    out.push_str(&lines.join(","));
                    out.push(']');
                } else {
                    out.push_str(&lines.join("\n"));
                    out.push('\n');
                }
            }
            7 => {
                for t in &texts {
                    if self.dice.chance(1, 2) {
                        out.push_str(&format!("{{\"event\":{t}}}\n"));
                    } else {
                        out.push_str(&format!(
                            "{{\"version\":\"0\",\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":{t}}}\n"
                        ));
                    }
                }
            }
            8 => {
                let sep = *self.dice.pick(&["", " ", ",", "\n,"]);
                out.push_str(&texts.join(sep));
            }
            _ => {
                // A document of documents: Records inside a wrapper line, or inside an array.
                let doc = format!("{{\"Records\":[{}]}}", texts.join(","));
                if self.dice.chance(1, 2) {
                    out.push_str(&format!("[{doc},{doc}]"));
                } else {
                    out.push_str(&format!("{doc}\n{doc}\n"));
                }
            }
        }
        out.into_bytes()
    }

    /// One byte-level mutation.
    pub fn mutate_bytes_once(&mut self, b: &mut Vec<u8>) {
        let len = b.len();
        match self.dice.below(9) {
            0 if len > 0 => {
                let i = self.dice.below(len);
                b[i] ^= 1 << self.dice.below(8);
            }
            1 if len > 0 => {
                let i = self.dice.below(len);
                b[i] = *self.dice.pick(&[
                    0u8, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n', 0x80, 0xff, 0xc3,
                    b'0', b'-', b'e',
                ]);
            }
            2 => {
                let i = self.dice.below(len + 1);
                let t = *self.dice.pick(TOKENS);
                b.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => {
                let i = self.dice.below(len);
                let n = self.dice.size(6).min(len - i);
                b.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = self.dice.below(len);
                let n = self.dice.size(8).min(len - i);
                let part: Vec<u8> = b[i..i + n].to_vec();
                let at = self.dice.below(len + 1);
                b.splice(at..at, part);
            }
            5 if len > 0 => {
                let i = self.dice.below(len);
                b.truncate(i);
            }
            6 if !self.others.is_empty() => {
                // Splice: this text's head, another's tail.
                let other = &self.others[self.dice.below(self.others.len())];
                let i = self.dice.below(len + 1);
                let j = self.dice.below(other.len() + 1);
                b.truncate(i);
                b.extend_from_slice(&other[j..other.len().min(j + 64 * 1024)]);
            }
            7 => {
                let i = self.dice.below(len + 1);
                let n = self.dice.size(5);
                let junk: Vec<u8> = (0..n).map(|_| self.dice.u64() as u8).collect();
                b.splice(i..i, junk);
            }
            _ => {
                // Swap a digit run for a number at an edge.
                if let Some(i) = (0..8)
                    .map(|_| self.dice.below(len.max(1)))
                    .find(|&i| b.get(i).is_some_and(u8::is_ascii_digit))
                {
                    let mut j = i;
                    while j < len && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    let n = self.dice.pick(NUMBERS).as_bytes();
                    b.splice(i..j, n.iter().copied());
                } else if len > 0 {
                    let i = self.dice.below(len);
                    b[i] = b[i].wrapping_add(1);
                }
            }
        }
    }

    pub fn mutate_bytes(&mut self, b: &mut Vec<u8>, max_log2: u32) {
        for _ in 0..self.dice.size(max_log2) {
            self.mutate_bytes_once(b);
        }
    }

    /// Wraps `data` in gzip: one member or several, sometimes with junk after, a damaged
    /// header, a corrupt body or a cut-off tail. Returns the bytes and whether they are intact.
    pub fn gzip(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let members = if self.dice.chance(1, 4) {
            self.dice.range(2, 4)
        } else {
            1
        };
        let mut out = Vec::new();
        let mut rest = data;
        for m in 0..members {
            let cut = if m + 1 == members {
                rest.len()
            } else {
                self.dice.below(rest.len() + 1)
            };
            let level = flate2::Compression::new(*self.dice.pick(&[0u32, 1, 1, 6, 9]));
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            let _ = e.write_all(&rest[..cut]);
            out.extend(e.finish().unwrap_or_default());
            rest = &rest[cut..];
        }
        let mut intact = true;
        match self.dice.below(8) {
            // Damage inside the stream (past the 10-byte header).
            0 if out.len() > 12 => {
                for _ in 0..self.dice.size(3) {
                    let i = self.dice.range(10, out.len() - 1);
                    out[i] ^= 1 << self.dice.below(8);
                }
                intact = false;
            }
            1 => {
                let i = self.dice.below(out.len() + 1);
                out.truncate(i);
                intact = false;
            }
            2 => {
                // The header: flags, method, extra fields.
                let i = self.dice.range(2, 9.min(out.len().saturating_sub(1)));
                if i < out.len() {
                    out[i] = self.dice.u64() as u8;
                    intact = false;
                }
            }
            3 => {
                let junk = *self.dice.pick(&[
                    &b"\0\0\0\0"[..],
                    b"\x1f\x8b",
                    b"\x1f\x8b\x08\0\0\0\0\0\0\xff",
                    b"garbage",
                    b"\n",
                ]);
                out.extend_from_slice(junk);
                intact = false;
            }
            _ => {}
        }
        (out, intact)
    }
}

/// Creates objects along `path` (replacing what is not an object) and sets the last key.
pub fn set_path(v: &mut Value, path: &[&str], value: Value) {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(m) = cur else { return };
        if i + 1 == path.len() {
            m.insert((*key).to_string(), value);
            return;
        }
        cur = m
            .entry((*key).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn json_escape(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q[1..q.len().saturating_sub(1).max(1)].to_string()
}

/// A JSON key (with quotes) with one of its ASCII characters written as a `\u` escape.
fn escape_one(key: &str, dice: &mut Dice) -> String {
    let ascii: Vec<usize> = key
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphanumeric())
        .map(|(i, _)| i)
        .collect();
    if ascii.is_empty() {
        return format!("\"{}\"", json_escape(key));
    }
    let at = *dice.pick(&ascii);
    let c = key.as_bytes()[at];
    format!(
        "\"{}\\u{:04x}{}\"",
        json_escape(&key[..at]),
        c,
        json_escape(&key[at + 1..])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_index_gives_the_same_stream() {
        let a: Vec<u64> = (0..4).map(|_| Dice::new(7, 42).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Dice::new(7, 42).u64(), Dice::new(7, 43).u64());
        assert_ne!(Dice::new(7, 42).u64(), Dice::new(8, 42).u64());
    }

    #[test]
    fn raw_text_replaces_sentinels() {
        let mut g = Gen::new(Dice::new(1, 1), &[]);
        let mut m = Map::new();
        m.insert("n".into(), g.raw_value("1e999".into()));
        let k = g.raw("\"ev\\u0065ntTime\"".into());
        m.insert(k, Value::String("x".into()));
        assert_eq!(
            g.to_text(&Value::Object(m), false),
            r#"{"n":1e999,"ev\u0065ntTime":"x"}"#
        );
    }

    #[test]
    fn escaped_keys_mean_the_same_key() {
        let mut d = Dice::new(3, 3);
        for _ in 0..20 {
            let k = escape_one("sessionToken", &mut d);
            assert!(k.contains("\\u00"), "{k}");
            let back: String = serde_json::from_str(&k).unwrap();
            assert_eq!(back, "sessionToken");
        }
    }
}
