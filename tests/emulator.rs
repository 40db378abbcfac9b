//! The AWS emulator shared by the tests that call AWS: moto 5.2.5's IAM/STS/S3 server on
//! 127.0.0.1, driven through tests/moto/serve.py.
//!
//! moto is installed on first use into ~/.cache/trailhound/moto-venv (PyPI, about 20 s), started
//! once per test binary, and exits when this process's end closes its stdin. Besides boto3 calls,
//! serve.py uploads fixture trees into buckets, records every HTTP request it receives (so tests
//! count ListObjectsV2 requests independently of trailhound's own counters) and injects faults by
//! bucket name (`denied-*`, `noget-*`, `flaky-*`; see serve.py). Tests use their own role, user and
//! bucket names, so they run in parallel on one server. Nothing here talks to any address but
//! 127.0.0.1.

use crate::common::root;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub(crate) struct Moto {
    pub(crate) port: u16,
    channel: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    _child: Child,
}

static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

/// Installs moto into its virtual environment (`~/.cache/trailhound/moto-venv`) unless it is
/// there already.
pub(crate) fn ensure_moto() -> Result<PathBuf, String> {
    crate::common::python_venv(
        "moto-venv",
        &["moto[s3,iam,sts]==5.2.5", "flask", "flask-cors"],
        "import moto, boto3, flask, flask_cors; assert moto.__version__ == '5.2.5'",
    )
}

pub(crate) fn start() -> Result<Moto, String> {
    let python = ensure_moto()?;
    let mut child = Command::new(&python)
        .arg(root().join("tests/moto/serve.py"))
        .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        // AWS managed policies (AWSCompromisedKeyQuarantineV3...) exist in every account.
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start moto: {e}"))?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    let port: u16 = line
        .trim()
        .parse()
        .map_err(|_| format!("moto did not print its port: {line:?}"))?;
    // Ready when its API answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let mut buf = [0u8; 12];
            if std::io::Read::read(&mut s, &mut buf).is_ok_and(|n| n >= 12)
                && buf.starts_with(b"HTTP/1.")
            {
                break;
            }
        }
        if std::time::Instant::now() > deadline {
            return Err("moto did not answer GET /moto-api/ within 30 s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(Moto {
        port,
        channel: Mutex::new((stdin, out)),
        _child: child,
    })
}

/// The one emulator of this test binary, started on first use.
pub(crate) fn moto() -> &'static Moto {
    match MOTO.get_or_init(start) {
        Ok(m) => m,
        Err(e) => panic!("the AWS emulator is needed for this test: {e}"),
    }
}

/// One HTTP request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub method: String,
    /// The path, percent-decoded: `/bucket` or `/bucket/key`.
    pub path: String,
    /// The raw query string.
    pub query: String,
    pub status: u16,
}

impl Request {
    /// The value of a query parameter, percent-decoded.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| percent_decode(v))
        })
    }

    /// A ListObjectsV2 request (`GET /bucket?list-type=2...`).
    pub(crate) fn is_list_v2(&self) -> bool {
        self.method == "GET" && self.param("list-type").as_deref() == Some("2")
    }

    /// A GetObject request (`GET /bucket/key`).
    pub(crate) fn is_get_object(&self) -> bool {
        self.method == "GET"
            && self
                .path
                .trim_start_matches('/')
                .split_once('/')
                .is_some_and(|(_, key)| !key.is_empty())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Moto {
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One boto3 call in moto's default account (or `account`); Ok(response) or Err(error code).
    pub(crate) fn call_in(
        &self,
        account: Option<&str>,
        service: &str,
        call: &str,
        params: Value,
    ) -> Result<Value, String> {
        let mut req = json!({"service": service, "call": call, "params": params});
        if let Some(a) = account {
            req["account"] = json!(a);
        }
        let mut ch = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        writeln!(ch.0, "{req}").expect("write to moto");
        ch.0.flush().expect("flush");
        let mut line = String::new();
        ch.1.read_line(&mut line).expect("read from moto");
        let v: Value = serde_json::from_str(&line).expect("moto reply");
        match v.get("ok") {
            Some(ok) => Ok(ok.clone()),
            None => Err(v["error"]["code"].as_str().unwrap_or("?").to_string()),
        }
    }

    /// Creates `bucket` (in `region`, default us-east-1) and uploads every file under `dir` with
    /// the key `prefix` + its relative path; returns how many.
    pub(crate) fn upload_tree(
        &self,
        bucket: &str,
        dir: &Path,
        prefix: &str,
        region: Option<&str>,
    ) -> u64 {
        let mut p = json!({"Bucket": bucket, "Dir": dir, "Prefix": prefix});
        if let Some(r) = region {
            p["Region"] = json!(r);
        }
        let v = self
            .call_in(None, "s3", "upload_tree", p)
            .unwrap_or_else(|e| panic!("upload_tree {bucket}: {e}"));
        v["Uploaded"].as_u64().expect("Uploaded")
    }

    /// Every request received for `bucket` (path-style), in arrival order.
    pub(crate) fn requests(&self, bucket: &str) -> Vec<Request> {
        let v = self
            .call_in(None, "fixture", "requests", json!({"Bucket": bucket}))
            .expect("requests");
        v.as_array()
            .expect("a list")
            .iter()
            .map(|r| Request {
                method: r["method"].as_str().unwrap_or("").to_string(),
                path: r["path"].as_str().unwrap_or("").to_string(),
                query: r["query"].as_str().unwrap_or("").to_string(),
                status: r["status"].as_u64().unwrap_or(0) as u16,
            })
            .collect()
    }

    /// Forgets the requests recorded for `bucket`.
    pub(crate) fn requests_reset(&self, bucket: &str) {
        self.call_in(None, "fixture", "requests_reset", json!({"Bucket": bucket}))
            .expect("requests_reset");
    }
}

/// Static test credentials for a trailhound child process, and nothing from the user's AWS
/// config or environment (profile, session token, endpoint, instance metadata).
pub(crate) fn test_credentials(c: &mut std::process::Command) -> &mut std::process::Command {
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/trailhound-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/trailhound-test",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
}
