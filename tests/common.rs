//! Shared helpers: run the binary, build fixture trees, count records independently.

use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sample_logs() -> PathBuf {
    root().join("sample-logs")
}

pub fn datasets() -> PathBuf {
    root().join("tests/fixtures/datasets")
}

/// Runs the binary with `args`; returns its output.
pub fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run trailhound")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    p
}

/// A CloudTrail record with the given id and time, as JSON text.
pub fn record(id: &str, time: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"{time}","eventID":"{id}","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","sourceIPAddress":"73.162.10.20","userAgent":"aws-cli/2","recipientAccountId":"111111111111","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","accessKeyId":"AKIAEXAMPLE"}}}}"#
    )
}

/// Parses `summary --format json` output.
pub fn summary_json(paths: &[&Path]) -> serde_json::Value {
    let mut args: Vec<std::ffi::OsString> = vec![
        "summary".into(),
        "--format".into(),
        "json".into(),
        "-q".into(),
    ];
    args.extend(paths.iter().map(|p| p.as_os_str().to_owned()));
    let o = run(&args);
    assert_eq!(code(&o), 0, "summary failed: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}
