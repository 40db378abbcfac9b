//! The fuzz harness (`trailhound fuzz`): a short fixed-seed run, and every input it (or a longer
//! run) ever found to panic, pinned by name.

use crate::common::root;
use trailhound::fuzz::{self, corpus::Corpus, Env, Input, Options, Target};

fn corpus() -> Corpus {
    let r = root();
    Corpus::load(&[
        r.join("sample-logs"),
        r.join("tests/fixtures/datasets"),
        r.join("tests/fixtures/playbook"),
        r.join("playbooks"),
    ])
}

fn run(target: Target, bytes: &[u8], intact: bool) -> Result<(), String> {
    let env = Env::new().unwrap();
    let input = Input {
        target,
        bytes: bytes.to_vec(),
        intact,
    };
    fuzz::catch(|| fuzz::run(&env, &input))
}

#[test]
fn fixed_seed_run_finds_no_panic() {
    let env = Env::new().unwrap();
    let corpus = corpus();
    assert!(corpus.records.len() > 1000 && corpus.tomls.len() > 5);
    let opts = Options {
        seed: 16,
        start: 0,
        count: 4000,
        targets: Vec::new(),
        out: None,
    };
    let report = fuzz::fuzz(&env, &corpus, &opts, |_| {});
    assert_eq!(report.inputs, 4000);
    assert!(
        report.per_target.iter().all(|&n| n > 100),
        "every target is drawn: {:?}",
        report.per_target
    );
    let failures: Vec<String> = report
        .failures
        .iter()
        .map(|f| format!("{} #{}: {}", f.target.name(), f.index, f.message))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_same_seed_makes_the_same_inputs() {
    let corpus = corpus();
    for i in [0u64, 1, 77, 4093] {
        let a = fuzz::make(&corpus, &Target::ALL, 5, i);
        let b = fuzz::make(&corpus, &Target::ALL, 5, i);
        assert_eq!(
            (a.target, &a.bytes, a.intact),
            (b.target, &b.bytes, b.intact)
        );
    }
    let differ = (0..20u64)
        .filter(|&i| {
            fuzz::make(&corpus, &Target::ALL, 5, i).bytes
                != fuzz::make(&corpus, &Target::ALL, 6, i).bytes
        })
        .count();
    assert!(differ > 15, "{differ}");
}

#[test]
fn a_panic_is_caught_and_named() {
    let err = fuzz::catch(|| panic!("boom {}", 42)).unwrap_err();
    assert!(err.starts_with("boom 42 at "), "{err}");
    assert!(err.contains("fuzz.rs"), "{err}");
}

#[test]
fn a_planted_secret_that_survives_is_a_failure() {
    // The harness's own check: a secret outside the raw documents is kept (eventName), which
    // must be reported, or the redaction check could never fail.
    let rec = format!(
        r#"{{"eventTime":"2021-02-21T23:46:28Z","eventName":"{}"}}"#,
        fuzz::mutate::CANARY
    );
    let err = run(Target::Records, rec.as_bytes(), true).unwrap_err();
    assert!(err.contains("secret survived"), "{err}");
    assert!(run(Target::Records, rec.as_bytes(), false).is_ok());
}

// Inputs the harness found to panic or leak, pinned (seed 1 of the first runs).

#[test]
fn scanner_stops_at_a_backslash_that_ends_the_text() {
    // records #17675: `range start index 99131 out of range for slice of length 99130`.
    for t in [
        &b"[{\"a\":\"x\\"[..],
        b"{\"Records\":[{\"eventTime\":\"\\",
        b"\"\\",
    ] {
        run(Target::Records, t, false).unwrap();
    }
}

#[test]
fn a_secret_key_written_with_an_escape_is_redacted() {
    // records #17455: `"secretAcces\u0073Key": "..."` in responseElements was kept as written.
    for key in [
        r"secretAcces\u0073Key",
        r"\u0073essionToken",
        "SESSIONTOKEN",
        "Password",
    ] {
        let rec = format!(
            r#"{{"eventTime":"2021-02-21T23:46:28Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
            "responseElements":{{"credentials":{{"accessKeyId":"ASIAX","{key}":"{}"}}}}}}"#,
            fuzz::mutate::CANARY
        );
        run(Target::Records, rec.as_bytes(), true).unwrap();
    }
}

#[test]
fn role_enumeration_window_that_overflows_does_not_panic() {
    // config #7291: `window_minutes = 9223372036854775807` became a negative window in
    // milliseconds and role_enumeration indexed past its list. Such settings are now refused,
    // and the detection no longer trusts the window to keep its index in range.
    let toml = "[role_enumeration]\nwindow_minutes = 9223372036854775807\n";
    run(Target::Config, toml.as_bytes(), false).unwrap();
    let cfg: trailhound::detect::DetectConfig = toml::from_str(toml).unwrap();
    assert!(!cfg.validate().is_empty());
    let denials: Vec<String> = (0..3)
        .map(|i| {
            format!(
                r#"{{"eventTime":"2021-02-21T23:4{i}:28Z","eventID":"d{i}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
                "errorCode":"AccessDenied","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/x"}},
                "requestParameters":{{"roleArn":"arn:aws:iam::2:role/R{i}","roleSessionName":"s"}}}}"#
            )
        })
        .collect();
    let parsed = trailhound::ingest::parse::parse_text(denials.join("\n").as_bytes());
    let (events, _) = trailhound::ingest::finish_events(parsed.events);
    assert_eq!(events.len(), 3);
    let graph = trailhound::graph::Graph::build(&events);
    let geo = trailhound::geoip::GeoIp::bundled().unwrap();
    for window in [i64::MAX, -1, 0] {
        let mut cfg = trailhound::detect::DetectConfig::default();
        cfg.role_enumeration.window_minutes = window;
        cfg.role_enumeration.min_roles = 2;
        let _ = trailhound::detect::hunt(&events, &graph, &geo, &cfg);
    }
}

#[test]
fn a_gzip_bomb_past_the_cap_is_a_failed_file_and_the_run_goes_on() {
    use crate::common::{code, gz, record, run, stderr, stdout, write};
    let dir = tempfile::tempdir().unwrap();
    // 20 MB of zeros: about 20 KB gzipped.
    write(dir.path(), "bomb.json.gz", &gz(&vec![0u8; 20 << 20]));
    let good = format!(
        "{{\"Records\":[{},{}]}}",
        record("a", "2026-03-02T10:00:00Z"),
        record("b", "2026-03-02T10:00:01Z")
    );
    write(dir.path(), "good.json.gz", &gz(good.as_bytes()));
    let o = run([
        "summary".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "-q".as_ref(),
        "--max-object-size".as_ref(),
        "1MiB".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("bomb.json.gz: inflates past 1048576 bytes (cap 1 MiB, --max-object-size)"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["files"]["failed"], 1, "{v}");
    assert_eq!(v["events"], 2, "{v}");
    // Under the default cap (1 GiB) the same object is read, and found not to be JSON.
    let o = run(["summary".as_ref(), "-q".as_ref(), dir.path().as_os_str()]);
    assert!(!stderr(&o).contains("inflates past"), "{}", stderr(&o));
    // A size that is not one is refused.
    let o = run([
        "summary".as_ref(),
        "--max-object-size".as_ref(),
        "12XB".as_ref(),
        dir.path().as_os_str(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown unit"), "{}", stderr(&o));
}

#[test]
fn the_harness_state_can_be_shared_by_libfuzzer_targets() {
    // fuzz/fuzz_targets keep one Env in a static OnceLock.
    fn shared<T: Send + Sync>() {}
    shared::<Env>();
    shared::<Corpus>();
}
