//! The nightly report: a state directory fed day by day finds what one run over everything
//! finds, re-runs are idempotent, a killed run leaves usable state, the Parquet lake reads back,
//! and baselines can be shown and forgotten.

use crate::common::{code, run, sample_logs, stderr, stdout};
use polars::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

/// The nights of the sample: each run reads what was delivered before midnight (plus the hour
/// of delivery delay the window allows).
const NIGHTS: [&str; 7] = [
    "2026-03-03",
    "2026-03-04",
    "2026-03-05",
    "2026-03-06",
    "2026-03-07",
    "2026-03-08",
    "2026-03-09",
];

fn report(state: &Path, extra: &[&str]) -> (Output, Value) {
    report_logs(&sample_logs(), state, extra)
}

/// `report` over `logs` into `state` (JSON, quiet), whatever its exit.
fn report_run(logs: &Path, state: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec![
        "report".into(),
        logs.display().to_string(),
        "--state".into(),
        state.display().to_string(),
        "--format".into(),
        "json".into(),
        "-q".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(&args)
}

/// `report` over `logs` into `state`: its output and its JSON (exit 0 or 1 required).
fn report_logs(logs: &Path, state: &Path, extra: &[&str]) -> (Output, Value) {
    let o = report_run(logs, state, extra);
    assert!(
        code(&o) == 0 || code(&o) == 1,
        "report {extra:?} failed ({}):\n{}",
        code(&o),
        stderr(&o)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("report JSON");
    (o, v)
}

/// What identifies a finding across runs: kind, principal, key and time.
fn finding_id(f: &Value) -> String {
    format!(
        "{} {} {} {}",
        f["kind"].as_str().unwrap(),
        f["principal"].as_str().unwrap(),
        f["access_key_id"].as_str().unwrap_or(""),
        f["time"].as_str().unwrap()
    )
}

fn keys(v: &Value) -> BTreeSet<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(finding_id)
        .collect()
}

fn hunt_keys() -> BTreeSet<String> {
    let o = run(["hunt", "--format", "ndjson", "-q"]
        .map(String::from)
        .into_iter()
        .chain([sample_logs().display().to_string()]));
    stdout(&o)
        .lines()
        .map(|l| finding_id(&serde_json::from_str(l).unwrap()))
        .collect()
}

fn lake_rows(state: &Path, table: &str) -> usize {
    let mut n = 0;
    for entry in walkdir::WalkDir::new(state.join("lake").join(table)) {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "parquet") {
            let f = std::fs::File::open(entry.path()).unwrap();
            n += ParquetReader::new(f).finish().unwrap().height();
        }
    }
    n
}

#[test]
fn day_by_day_reports_find_what_one_run_over_everything_finds() {
    let daily = tempfile::tempdir().unwrap();
    let mut found = BTreeSet::new();
    let mut objects = 0;
    let mut events = 0;
    for night in NIGHTS {
        let (o, v) = report(daily.path(), &["--until", night]);
        let new = keys(&v);
        assert!(
            found.is_disjoint(&new),
            "{night} reported again: {:?}",
            found.intersection(&new).collect::<Vec<_>>()
        );
        // Exit 1 exactly when a new finding reaches --fail-on (high).
        let high = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "high" || f["severity"] == "critical");
        assert_eq!(code(&o), i32::from(high), "{night}: {v}");
        found.extend(new);
        objects += v["read"]["objects_new"].as_u64().unwrap();
        events += v["read"]["events_new"].as_u64().unwrap();
    }
    let once = tempfile::tempdir().unwrap();
    let (_, all) = report(once.path(), &[]);
    assert_eq!(found, keys(&all));
    assert_eq!(found, hunt_keys(), "the report finds what hunt finds");
    assert_eq!(found.len(), 6, "{found:#?}");
    assert_eq!(objects, 1468);
    assert_eq!(events, 4102);
    assert_eq!(lake_rows(daily.path(), "events"), 4102);
    assert_eq!(lake_rows(daily.path(), "findings"), 6);
    // Each night went on from the engine state the night before saved; only the last is kept.
    let engine: Vec<_> = std::fs::read_dir(daily.path().join("engine"))
        .unwrap()
        .collect();
    assert_eq!(engine.len(), 1);
}

#[test]
fn sessions_whose_chain_began_in_an_earlier_run_keep_their_root_and_depth() {
    let daily = tempfile::tempdir().unwrap();
    for night in NIGHTS {
        report(daily.path(), &["--until", night]);
    }
    // The latest stored row of each session, against one `sessions` run over everything.
    let mut stored: BTreeMap<String, (String, i64, String)> = BTreeMap::new();
    let mut parts: Vec<_> = walkdir::WalkDir::new(daily.path().join("lake/sessions"))
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    parts.sort_by_key(|p| p.file_name().unwrap().to_owned()); // run ids sort by time
    for p in parts {
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        let keys = df.column("access_key_id").unwrap().str().unwrap().clone();
        let roots = df.column("root_principal").unwrap().str().unwrap().clone();
        let depth = df
            .column("chain_depth")
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap();
        let depth = depth.i64().unwrap().clone();
        for i in 0..df.height() {
            stored.insert(
                keys.get(i).unwrap().to_string(),
                (
                    roots.get(i).unwrap_or("").to_string(),
                    depth.get(i).unwrap(),
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                ),
            );
        }
    }
    let o = run([
        "sessions".to_string(),
        sample_logs().display().to_string(),
        "--format".into(),
        "ndjson".into(),
        "-q".into(),
    ]);
    let mut deep_across_runs = 0;
    let first_run = stored.values().map(|v| v.2.clone()).min().unwrap();
    for line in stdout(&o).lines() {
        let s: Value = serde_json::from_str(line).unwrap();
        let key = s["access_key_id"].as_str().unwrap();
        let (root, depth, run) = stored
            .get(key)
            .unwrap_or_else(|| panic!("{key} not stored"));
        assert_eq!(root, s["root_principal"].as_str().unwrap_or(""), "{key}");
        assert_eq!(*depth, s["chain_depth"].as_i64().unwrap(), "{key}");
        if *depth >= 2 && *run != first_run {
            deep_across_runs += 1;
        }
    }
    assert!(
        deep_across_runs > 0,
        "some chains must span runs for this test to mean anything"
    );
}

#[test]
fn a_second_run_over_the_same_input_reports_nothing_and_stores_nothing() {
    let state = tempfile::tempdir().unwrap();
    let (first, v1) = report(state.path(), &[]);
    assert_eq!(code(&first), 1);
    assert_eq!(keys(&v1).len(), 6);
    let events = lake_rows(state.path(), "events");
    let baselines = std::fs::read(state.path().join("baselines.json")).unwrap();
    let (again, v2) = report(state.path(), &[]);
    assert_eq!(code(&again), 0, "nothing new: exit 0");
    // The history window ends at the latest call seen, not at the clock: the sample's days,
    // long past, are still the history a night with nothing new keeps.
    assert!(
        std::fs::read(state.path().join("baselines.json")).unwrap() == baselines,
        "the same baselines"
    );
    assert!(keys(&v2).is_empty(), "{v2}");
    assert_eq!(v2["read"]["objects_new"], 0);
    assert_eq!(v2["read"]["objects_already_processed"], 1468);
    assert_eq!(lake_rows(state.path(), "events"), events);
    assert_eq!(lake_rows(state.path(), "findings"), 6);
}

#[test]
fn a_run_killed_before_its_commit_leaves_the_previous_state_usable() {
    for point in ["after-lake", "before-commit"] {
        let state = tempfile::tempdir().unwrap();
        let (_, first) = report(state.path(), &["--until", "2026-03-05"]);
        let read_first = first["read"]["objects_new"].as_u64().unwrap();
        assert!(state.path().join(".closed").exists());
        let before = std::fs::read(state.path().join("state.json")).unwrap();
        let events_before = lake_rows(state.path(), "events");
        let killed = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
            .args(["report", "-q", "--format", "json", "--state"])
            .arg(state.path())
            .arg(sample_logs())
            .env("TRAILHOUND_FAIL_AT", point)
            .output()
            .unwrap();
        assert!(
            !killed.status.success(),
            "{point}: the run should have died"
        );
        // The first run left its note that nothing of it is uncommitted; the killed run took
        // it away before writing, so the next run looks for what it left.
        assert!(
            !state.path().join(".closed").exists(),
            "{point}: a killed run leaves no note"
        );
        assert_eq!(
            std::fs::read(state.path().join("state.json")).unwrap(),
            before,
            "{point}: the commit point is untouched"
        );
        // The next run cleans up, reads the rest, and ends where one run would.
        let (_, v) = report(state.path(), &[]);
        assert_eq!(
            v["read"]["objects_already_processed"].as_u64().unwrap(),
            read_first,
            "{point}: the killed run's objects are read again"
        );
        assert_eq!(
            lake_rows(state.path(), "events"),
            4102,
            "{point}: events of the killed run are not stored twice ({events_before} before)"
        );
        let fresh = tempfile::tempdir().unwrap();
        report(fresh.path(), &["--until", "2026-03-05"]);
        let (_, rest) = report(fresh.path(), &[]);
        assert_eq!(
            keys(&v),
            keys(&rest),
            "{point}: the same findings as a run never killed"
        );
        assert!(!keys(&v).is_empty());
    }
}

#[test]
fn a_night_started_while_another_writes_the_state_is_refused_and_readers_go_on() {
    let state = tempfile::tempdir().unwrap();
    report(state.path(), &["--until", "2026-03-05"]);
    // Another run holds the state's lock (as a running `report` does, naming its process).
    let mut held = std::fs::OpenOptions::new()
        .write(true)
        .open(state.path().join(".lock"))
        .unwrap();
    held.lock().unwrap();
    // Named as a holder names it: the last holder's number goes first.
    held.set_len(0).unwrap();
    std::io::Write::write_all(&mut held, b"4242").unwrap();
    let before = std::fs::read(state.path().join("state.json")).unwrap();
    let (dir, logs) = (
        state.path().display().to_string(),
        sample_logs().display().to_string(),
    );
    let refused = run(["report", &logs, "--state", &dir, "-q"]);
    assert_eq!(code(&refused), 2, "{}", stderr(&refused));
    let said = stderr(&refused);
    assert!(
        said.contains("in use by another trailhound run (process 4242)") && said.contains(&dir),
        "{said}"
    );
    assert_eq!(
        std::fs::read(state.path().join("state.json")).unwrap(),
        before
    );
    // Reading the state needs no lock.
    let listed = run(["baseline", "list", "--state", &dir]);
    assert_eq!(code(&listed), 0, "{}", stderr(&listed));
    assert!(!stdout(&listed).is_empty());
    let sessions = run(["state", "sessions", &dir]);
    assert_eq!(code(&sessions), 0, "{}", stderr(&sessions));
    // Once the other run ends, the night goes on from where the state was.
    drop(held);
    let (_, rest) = report(state.path(), &[]);
    assert_eq!(lake_rows(state.path(), "events"), 4102, "{rest}");
}

#[test]
fn the_lake_is_partitioned_parquet_that_polars_reads_back() {
    let state = tempfile::tempdir().unwrap();
    report(state.path(), &[]);
    let events = lake_rows(state.path(), "events");
    assert_eq!(events, 4102);
    // Partitions name the account and the day.
    let dirs: BTreeSet<String> = walkdir::WalkDir::new(state.path().join("lake/events"))
        .min_depth(2)
        .max_depth(2)
        .into_iter()
        .map(|e| {
            let p = e.unwrap().path().to_path_buf();
            p.strip_prefix(state.path().join("lake/events"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert!(
        dirs.contains("account=482719305561/date=2026-03-07"),
        "{dirs:?}"
    );
    // Every stored column reads back with the documented names and the same counts as `summary`.
    let f = walkdir::WalkDir::new(state.path().join("lake/events"))
        .into_iter()
        .map(|e| e.unwrap().path().to_path_buf())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let df = ParquetReader::new(std::fs::File::open(f).unwrap())
        .finish()
        .unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, trailhound::event::COLUMNS.map(String::from).to_vec());
    assert!(lake_rows(state.path(), "sessions") > 0);
    assert_eq!(lake_rows(state.path(), "findings"), 6);
}

/// The address blocks of every baseline in a state's `baselines.json`.
fn blocks_kept(state: &Path) -> usize {
    let b: Value =
        serde_json::from_slice(&std::fs::read(state.join("baselines.json")).unwrap()).unwrap();
    let profiles = b.as_object().unwrap().values();
    profiles
        .map(|p| p["networks"].as_object().unwrap().len())
        .sum()
}

/// `--block-days` bounds the address blocks a baseline keeps after their last call (a week by
/// default: the sample's week keeps them all), and no finding changes: no detection reads them.
#[test]
fn address_blocks_are_kept_for_block_days_and_the_findings_stay_the_same() {
    let all = tempfile::tempdir().unwrap();
    let (_, v_all) = report(all.path(), &["--block-days", "90"]);
    let week = tempfile::tempdir().unwrap();
    let (_, v_week) = report(week.path(), &[]);
    let day = tempfile::tempdir().unwrap();
    let (_, v_day) = report(day.path(), &["--block-days", "1"]);
    let none = tempfile::tempdir().unwrap();
    let (_, v_none) = report(none.path(), &["--block-days", "0"]);
    let (every, recent) = (blocks_kept(all.path()), blocks_kept(day.path()));
    assert!(recent > 0 && recent < every, "{recent} of {every} blocks");
    assert_eq!(blocks_kept(week.path()), every);
    assert_eq!(blocks_kept(none.path()), 0);
    for v in [&v_week, &v_day, &v_none] {
        assert_eq!(keys(v), keys(&v_all));
    }
    assert_eq!(keys(&v_all).len(), 6);
}

/// A principal back to an address block after more than `--block-days` away is counted afresh
/// from its return, so nightly runs keep what one run over the same days keeps, byte for byte,
/// even where a block expired between two nights.
#[test]
fn nightly_runs_keep_the_baselines_one_run_over_the_same_days_keeps() {
    for extra in [&[][..], &["--block-days", "1"]] {
        let daily = tempfile::tempdir().unwrap();
        for night in NIGHTS {
            report(daily.path(), &[&["--until", night][..], extra].concat());
        }
        let once = tempfile::tempdir().unwrap();
        report(once.path(), extra);
        let baselines = |d: &Path| std::fs::read(d.join("baselines.json")).unwrap();
        assert!(
            baselines(daily.path()) == baselines(once.path()),
            "{extra:?}: the nights' baselines differ from one run's"
        );
    }
}

#[test]
fn baselines_are_shown_and_forgotten() {
    let state = tempfile::tempdir().unwrap();
    report(state.path(), &[]);
    let who = "arn:aws:iam::310915732205:user/priya.raman";
    let show = |json: bool| {
        let mut a = vec![
            "baseline".to_string(),
            "show".into(),
            who.into(),
            "--state".into(),
        ];
        a.push(state.path().display().to_string());
        if json {
            a.push("--json".into());
        }
        run(a)
    };
    let o = show(false);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    for part in [
        "countries:",
        "networks (ASN):",
        "user agents:",
        "active (UTC):",
        "roles assumed:",
    ] {
        assert!(text.contains(part), "{part} in\n{text}");
    }
    let p: Value = serde_json::from_slice(&show(true).stdout).unwrap();
    assert!(p["events"].as_u64().unwrap() > 0);
    assert_eq!(p["hour_of_week"].as_array().unwrap().len(), 168);
    assert!(
        p["countries"].as_object().unwrap().contains_key("US"),
        "{p}"
    );
    let o = run([
        "baseline".to_string(),
        "forget".into(),
        who.into(),
        "--state".into(),
        state.path().display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = show(false);
    assert_ne!(code(&o), 0, "forgotten: no baseline until learned again");
    assert!(stderr(&o).contains("no baseline for"), "{}", stderr(&o));
}

/// The HTML report opened in headless Chromium (Debian's package, installed by
/// tests/chromium/ensure.sh into ~/.cache/trailhound/chromium on first use): the browser's DOM
/// holds the findings table and both charts, and the screenshot, kept in the target folder for
/// people to look at, is a full page of content.
#[test]
fn the_html_report_renders_in_headless_chromium_with_findings_and_charts() {
    let state = tempfile::tempdir().unwrap();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let html = out_dir.join("trailhound-report.html");
    let png = out_dir.join("trailhound-report.png");
    let _ = std::fs::remove_file(&png);
    let o = run([
        "report".to_string(),
        sample_logs().display().to_string(),
        "--state".into(),
        state.path().display().to_string(),
        "--format".into(),
        "html".into(),
        "--out".into(),
        html.display().to_string(),
        "-q".into(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    for forbidden in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(
            !page.contains(forbidden),
            "self-contained: found {forbidden}"
        );
    }
    let ensure = crate::common::root().join("tests/chromium/ensure.sh");
    let e = std::process::Command::new("bash")
        .arg(&ensure)
        .output()
        .unwrap();
    assert!(e.status.success(), "installing chromium: {}", stderr(&e));
    let chromium = stdout(&e).trim().to_string();
    let browser = |extra: &[&str]| {
        std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg(format!(
                "--user-data-dir={}",
                state.path().join("chromium-profile").display()
            ))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .unwrap()
    };
    let dom = browser(&["--dump-dom"]);
    let dom = stdout(&dom);
    assert!(
        dom.contains("id=\"findings\""),
        "the browser's DOM has the findings table"
    );
    assert!(
        dom.contains("credential_exfiltration"),
        "and the findings in it"
    );
    for chart in ["chart-calls", "chart-assume-role"] {
        assert!(
            dom.contains(&format!("id=\"{chart}\"")),
            "{chart} in the DOM"
        );
    }
    assert!(
        dom.matches("<svg").count() >= 2,
        "the charts are drawn as SVG"
    );
    let shot = browser(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1280,5600", // the whole page: findings, then the charts
    ]);
    let bytes = std::fs::read(&png).unwrap_or_else(|_| panic!("no screenshot: {}", stderr(&shot)));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 5600));
    // A blank page of this size compresses to a few kilobytes; text, tables and charts do not.
    assert!(
        bytes.len() > 60_000,
        "screenshot is {} bytes: blank?",
        bytes.len()
    );
    eprintln!("screenshot of the HTML report: {}", png.display());
}

/// Any self-describing value (here MessagePack) as JSON; map keys that are numbers become text.
struct AsJson(Value);

impl<'de> serde::Deserialize<'de> for AsJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<AsJson, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
                Ok(String::from_utf8_lossy(v).into())
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
                d.deserialize_any(V)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut out = Vec::new();
                while let Some(AsJson(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some((AsJson(k), AsJson(v))) = map.next_entry()? {
                    let k = match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    out.insert(k, v);
                }
                Ok(Value::Object(out))
            }
        }
        d.deserialize_any(V).map(AsJson)
    }
}

#[test]
fn the_saved_engine_state_keeps_issuing_calls_without_their_raw_json() {
    let dir = tempfile::tempdir().unwrap();
    report(dir.path(), &["--until", "2026-03-06"]);
    let engine = std::fs::read_dir(dir.path().join("engine"))
        .unwrap()
        .next()
        .expect("an engine state")
        .unwrap()
        .path();
    // MessagePack in zstd (`STATE/engine/<run>.msgpack.zst`).
    assert!(
        engine.display().to_string().ends_with(".msgpack.zst"),
        "{}",
        engine.display()
    );
    let packed = zstd::stream::decode_all(std::fs::File::open(&engine).unwrap()).unwrap();
    let state: Value = rmp_serde::from_slice::<AsJson>(&packed).unwrap().0;
    let issuing = state["graph"]["issuing"].as_array().unwrap();
    assert!(!issuing.is_empty(), "no living session saved");
    // Each field under its number (`src/graph/saved_event.rs`): 1 event_id, 2 event_name,
    // 43 response_elements, 44 additional_event_data.
    for pair in issuing {
        let e = &pair[1];
        // What sessions are built from is there; the responses (credentials, redacted) are not.
        assert!(e["1"].is_string() && e["2"].is_string(), "{e}");
        assert!(e["43"].is_null(), "{e}");
        assert!(e["44"].is_null(), "{e}");
    }
}

#[test]
fn a_nights_incidents_are_those_the_incidents_command_builds_from_the_same_events() {
    // The first night reads the whole sample, so every finding is new: its incidents, their
    // timelines read back from the night's events as the lake holds them, are the command's.
    let state = tempfile::tempdir().unwrap();
    let (_, night) = report(state.path(), &[]);
    let o = run([
        "incidents",
        "-q",
        "--format",
        "ndjson",
        &sample_logs().display().to_string(),
    ]);
    assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    let want: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got = night["incidents"].as_array().unwrap();
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(
            !w["timeline"].as_array().unwrap().is_empty(),
            "an incident with calls: {w}"
        );
        assert_eq!(g, w);
    }
}

/// A copy of the sample's tree whose folders were last changed two days ago.
fn aged_copy(to: &Path) {
    for entry in walkdir::WalkDir::new(sample_logs()) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(sample_logs()).unwrap();
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(to.join(rel)).unwrap();
        } else {
            std::fs::copy(entry.path(), to.join(rel)).unwrap();
        }
    }
    age_folders(to);
}

fn age_folders(root: &Path) {
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86400);
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        if entry.file_type().is_dir() {
            std::fs::File::open(entry.path())
                .unwrap()
                .set_modified(then)
                .unwrap();
        }
    }
}

fn report_on(logs: &Path, state: &Path, extra: &[&str]) -> Value {
    report_logs(logs, state, extra).1
}

/// The settled day folders the state holds (`settled/<run>.tsv`, one left).
fn settled_folders(state: &Path) -> Vec<String> {
    let files: Vec<_> = std::fs::read_dir(state.join("settled"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// An aged copy of the sample's tree whose mirror missed the first file of one day folder
/// (`day`, under the tree), kept aside to be copied in late.
struct MissedFile {
    logs: tempfile::TempDir,
    day: std::path::PathBuf,
    missed: std::path::PathBuf,
    kept: std::path::PathBuf,
    _aside: tempfile::TempDir,
}

impl MissedFile {
    fn of(day: &str) -> MissedFile {
        let logs = tempfile::tempdir().unwrap();
        aged_copy(logs.path());
        let day = logs.path().join(day);
        let missed = std::fs::read_dir(&day)
            .unwrap()
            .map(|e| e.unwrap().path())
            .min()
            .unwrap();
        let aside = tempfile::tempdir().unwrap();
        let kept = aside.path().join(missed.file_name().unwrap());
        std::fs::rename(&missed, &kept).unwrap();
        age_folders(logs.path());
        MissedFile {
            logs,
            day,
            missed,
            kept,
            _aside: aside,
        }
    }

    /// The missed file copied into its folder at last.
    fn copied_late(&self) {
        std::fs::rename(&self.kept, &self.missed).unwrap();
    }
}

/// Nightly reports over `logs` into `state`, one per night: the objects they read.
fn nights_read(logs: &Path, state: &Path, nights: &[&str]) -> u64 {
    nights
        .iter()
        .map(|night| {
            let v = report_on(logs, state, &["--until", night]);
            v["read"]["objects_new"].as_u64().unwrap()
        })
        .sum()
}

/// A report's counts of objects: new, and already processed.
fn assert_read(v: &Value, new: u64, processed: u64) {
    assert_eq!(v["read"]["objects_new"], new, "{}", v["read"]);
    assert_eq!(
        v["read"]["objects_already_processed"].as_u64().unwrap(),
        processed
    );
}

/// The first committed run's manifest, and where each folder's lines are in it (its index:
/// folder, offset, length).
fn first_manifest(state: &Path) -> (std::path::PathBuf, BTreeMap<String, (u64, u64)>) {
    let meta: Value =
        serde_json::from_slice(&std::fs::read(state.join("state.json")).unwrap()).unwrap();
    let id = meta["runs"][0]["id"].as_str().unwrap().to_string();
    let index = std::fs::read_to_string(state.join(format!("manifest/{id}.folders.tsv"))).unwrap();
    let folders = index
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                (f[1].parse().unwrap(), f[2].parse().unwrap()),
            )
        })
        .collect();
    (state.join(format!("manifest/{id}.tsv")), folders)
}

#[test]
fn a_night_reads_the_manifest_only_of_the_folders_it_lists() {
    let tree = MissedFile::of("AWSLogs/739204618823/CloudTrail/us-west-2/2026/03/02");
    let (logs, day) = (&tree.logs, &tree.day);
    let state = tempfile::tempdir().unwrap();
    let objects = nights_read(logs.path(), state.path(), &NIGHTS[..4]);
    // The first night read the day's folder, which has settled since, as have the folders
    // whose lines come after its own in that night's manifest.
    let (manifest, folders) = first_manifest(state.path());
    let canon_day = std::fs::canonicalize(day).unwrap().display().to_string();
    let (at, _) = folders[&canon_day];
    let settled = settled_folders(state.path());
    let after: Vec<&String> = folders
        .iter()
        .filter(|(_, r)| r.0 >= at)
        .map(|(f, _)| f)
        .collect();
    assert!(after.contains(&&canon_day));
    assert!(after.iter().all(|f| settled.contains(f)), "{after:#?}");
    let lines = std::fs::read(&manifest).unwrap();

    // Their lines lost: a night that lists none of these folders does not read them.
    std::fs::write(&manifest, &lines[..at as usize]).unwrap();
    let v = report_on(logs.path(), state.path(), &["--until", NIGHTS[3]]);
    assert_read(&v, 0, objects);

    // A file copied late into it: its lines are needed, and the run stops naming the
    // manifest, before reading the folder's old files as new or committing anything.
    tree.copied_late();
    let o = report_run(logs.path(), state.path(), &["--until", NIGHTS[3]]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let said = stderr(&o);
    assert!(said.contains(&manifest.display().to_string()), "{said}");
    assert!(said.contains("shorter than its index says"), "{said}");

    // The lines back: only the late file is new.
    std::fs::write(&manifest, lines).unwrap();
    let v = report_on(logs.path(), state.path(), &["--until", NIGHTS[3]]);
    assert_read(&v, 1, objects);
}

#[test]
fn settled_day_folders_are_not_listed_again_but_a_file_copied_late_into_one_is_read() {
    // The mirror missed one file of the first day; it is copied in after that day settled.
    let tree = MissedFile::of("AWSLogs/739204618823/CloudTrail/us-west-2/2026/03/03");
    let (logs, day) = (&tree.logs, &tree.day);
    let state = tempfile::tempdir().unwrap();
    let mut objects = nights_read(logs.path(), state.path(), &NIGHTS[..4]);
    // Days whose deliveries ended over an hour before the latest one read are settled; the
    // last days are not.
    let settled = settled_folders(state.path());
    let canon_day = std::fs::canonicalize(day).unwrap().display().to_string();
    assert!(settled.contains(&canon_day), "{settled:#?}");
    assert!(
        settled.iter().all(|f| !f.ends_with("2026/03/06")),
        "{settled:#?}"
    );

    // Nothing new: the settled folders' files count as processed, as when they were listed.
    let v = report_on(logs.path(), state.path(), &["--until", NIGHTS[3]]);
    assert_read(&v, 0, objects);

    // The late copy changes the folder: it is listed again and the file is read.
    tree.copied_late();
    let v = report_on(logs.path(), state.path(), &["--until", NIGHTS[3]]);
    assert_read(&v, 1, objects);
    objects += 1;

    // The other nights, then one run over all: every file read once, and counted as
    // processed afterwards, listed or not.
    objects += nights_read(logs.path(), state.path(), &NIGHTS[4..]);
    let v = report_on(logs.path(), state.path(), &[]);
    objects += v["read"]["objects_new"].as_u64().unwrap();
    assert_eq!(objects, 1468);
    let v = report_on(logs.path(), state.path(), &[]);
    assert_eq!(v["read"]["objects_new"], 0);
    assert_eq!(v["read"]["objects_already_processed"], 1468);
    assert!(settled_folders(state.path()).len() > 10);
}
