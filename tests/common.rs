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

/// The python of a virtual environment under `~/.cache/trailhound/NAME` with `packages`
/// installed from PyPI, made on first use; `check` is Python code that succeeds once they are
/// importable. A lock folder keeps two test runs from installing at once.
pub fn python_venv(name: &str, packages: &[&str], check: &str) -> Result<PathBuf, String> {
    use std::process::Stdio;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let v = home.join(".cache/trailhound").join(name);
    let python = v.join("bin/python");
    let ready = || {
        Command::new(&python)
            .args(["-c", check])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if ready() {
        return Ok(python);
    }
    let lock = v.with_extension("lock");
    std::fs::create_dir_all(v.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
    let mut waited = 0;
    while std::fs::create_dir(&lock).is_err() {
        std::thread::sleep(std::time::Duration::from_secs(1));
        waited += 1;
        if waited > 600 {
            let _ = std::fs::remove_dir(&lock); // a stale lock from a killed run
        }
    }
    let result = (|| {
        if ready() {
            return Ok(());
        }
        let sh = |cmd: &mut Command| -> Result<(), String> {
            let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd:?} failed:\n{}",
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
        };
        sh(Command::new("python3").arg("-m").arg("venv").arg(&v))?;
        sh(Command::new(v.join("bin/pip"))
            .args(["install", "--quiet"])
            .args(packages))
    })();
    let _ = std::fs::remove_dir(&lock);
    result?;
    if ready() {
        Ok(python)
    } else {
        Err(format!(
            "{} is not importable from {}",
            packages.join(" "),
            python.display()
        ))
    }
}
