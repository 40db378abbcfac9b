//! A fuzz harness that runs on the stable toolchain: seeded mutants of real logs and settings ->
//! every parser and stage they reach, with any panic caught and kept as a failing input.
//!
//! Input `i` under seed `s` is made from its own random stream ([`mutate::Dice`]), so a run is
//! the same on every machine, inputs run in parallel in any order, and one input is made again
//! with `--start i --count 1`. Targets ([`Target`]):
//!
//! - `records`: records mutated as JSON (type swaps, huge numbers and strings, deep nesting,
//!   linked and cyclic keys, shared event ids, planted secrets), laid out in every input shape
//!   (Records document, array, NDJSON, LookupEvents `CloudTrailEvent` strings, `event`/`detail`
//!   wrappers, concatenated), then damaged as bytes and wrapped in gzip some of the time;
//! - `file`: whole files from the corpus, damaged before or after decompression;
//! - `text`: the time parsers, the address classifier and the other string helpers;
//! - `playbook`, `config`: the playbook loader and the detection settings loader, and a hunt
//!   with every settings file that validates.
//!
//! `records` and `file` inputs are read three ways that must agree: the one-pass path (the
//! hand-written scanner, serde where it gives up), record by record, and projected to the
//! columns `summary` reads (its events the full read's, projected; its problems the same). They
//! go through decode, split, parse, normalize, deduplication, the
//! session graph (with ancestors, descendants and the tree), the detections and serialization
//! of every event, session and finding. Beyond "no panic", an input whose text is intact must
//! not let a planted secret ([`mutate::CANARY`]) reach any output.

pub mod corpus;
pub mod mutate;

use crate::detect::{self, DetectConfig};
use crate::event::{self, Event};
use crate::geoip::GeoIp;
use crate::graph::Graph;
use crate::ingest::{decode, parse};
use corpus::Corpus;
use mutate::{Dice, Gen, CANARY};
use rayon::prelude::*;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What an input is fed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    Records,
    File,
    Text,
    Playbook,
    Config,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::Records,
        Target::File,
        Target::Text,
        Target::Playbook,
        Target::Config,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Records => "records",
            Target::File => "file",
            Target::Text => "text",
            Target::Playbook => "playbook",
            Target::Config => "config",
        }
    }

    pub fn parse(s: &str) -> Result<Target, String> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
                format!("unknown fuzz target `{s}` (valid: {})", names.join(", "))
            })
    }

    /// Share of inputs, out of 100.
    fn weight(self) -> usize {
        match self {
            Target::Records => 55,
            Target::File => 15,
            Target::Text => 14,
            Target::Playbook => 8,
            Target::Config => 8,
        }
    }
}

/// What the targets share: the bundled GeoIP data, the default settings, a few events to hunt
/// over with mutated settings.
pub struct Env {
    geo: GeoIp,
    cfg: DetectConfig,
    small: Vec<Event>,
}

impl Env {
    pub fn new() -> Result<Env, String> {
        let geo = GeoIp::bundled().map_err(|e| e.to_string())?;
        let built_in = Corpus::built_in();
        let parsed = parse::parse_text(&built_in.texts[0]);
        let (small, _) = crate::ingest::finish_events(parsed.events);
        Ok(Env {
            geo,
            cfg: DetectConfig::default(),
            small,
        })
    }
}

/// One input: its target and bytes, and whether its text is intact (no byte-level damage), in
/// which case planted secrets must not survive.
pub struct Input {
    pub target: Target,
    pub bytes: Vec<u8>,
    pub intact: bool,
}

/// Makes input `index` of the run seeded with `seed`, for one of `targets`.
pub fn make(corpus: &Corpus, targets: &[Target], seed: u64, index: u64) -> Input {
    let mut g = Gen::new(Dice::new(seed, index), &corpus.texts);
    let total: usize = targets.iter().map(|t| t.weight()).sum();
    let mut roll = g.dice.below(total.max(1));
    let mut target = targets.first().copied().unwrap_or(Target::Records);
    for t in targets {
        if roll < t.weight() {
            target = *t;
            break;
        }
        roll -= t.weight();
    }
    match target {
        Target::Records => make_records(corpus, &mut g),
        Target::File => make_file(corpus, &mut g),
        Target::Text => make_text(corpus, &mut g),
        Target::Playbook | Target::Config => make_toml(corpus, &mut g, target),
    }
}

fn make_records(corpus: &Corpus, g: &mut Gen) -> Input {
    let n = if g.dice.chance(1, 8) {
        g.dice.range(5, 24)
    } else {
        g.dice.range(1, 4)
    };
    let mut recs: Vec<serde_json::Value> = (0..n)
        .filter(|_| !corpus.records.is_empty())
        .map(|_| corpus.records[g.dice.below(corpus.records.len())].clone())
        .collect();
    let donors: Vec<serde_json::Value> = (0..2)
        .filter(|_| !corpus.records.is_empty())
        .map(|_| corpus.records[g.dice.below(corpus.records.len())].clone())
        .collect();
    if g.dice.chance(1, 2) {
        g.relate(&mut recs);
    }
    for r in recs.iter_mut() {
        for _ in 0..g.dice.below(5) {
            g.mutate_record(r, &donors);
        }
    }
    if g.dice.chance(1, 4) && !recs.is_empty() {
        let i = g.dice.below(recs.len());
        g.plant_secret(&mut recs[i]);
    }
    let mut bytes = g.shape(&recs);
    let mut intact = true;
    if g.dice.chance(2, 5) {
        g.mutate_bytes(&mut bytes, 3);
        intact = false;
    }
    if g.dice.chance(1, 3) {
        let (gz, ok) = g.gzip(&bytes);
        bytes = gz;
        intact &= ok;
    }
    Input {
        target: Target::Records,
        bytes,
        intact,
    }
}

fn make_file(corpus: &Corpus, g: &mut Gen) -> Input {
    let i = g.dice.below(corpus.files.len());
    let mut bytes = if g.dice.chance(2, 5) {
        let mut b = corpus.files[i].clone();
        g.mutate_bytes(&mut b, 3);
        b
    } else {
        let mut b = corpus.texts[i].clone();
        g.mutate_bytes(&mut b, 4);
        b
    };
    if g.dice.chance(1, 3) {
        bytes = g.gzip(&bytes).0;
    }
    Input {
        target: Target::File,
        bytes,
        intact: false,
    }
}

fn make_text(corpus: &Corpus, g: &mut Gen) -> Input {
    let mut b = g.dice.pick(&corpus.strings).clone().into_bytes();
    if g.dice.chance(1, 4) {
        let other = g.dice.pick(&corpus.strings).as_bytes();
        let at = g.dice.below(b.len() + 1);
        b.splice(at..at, other.iter().copied());
    }
    if g.dice.chance(3, 4) {
        g.mutate_bytes(&mut b, 2);
    }
    Input {
        target: Target::Text,
        bytes: b,
        intact: false,
    }
}

/// Values a TOML loader must cope with.
const TOML_VALUES: &[&str] = &[
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1e400",
    "inf",
    "-inf",
    "nan",
    "0x7fffffffffffffff",
    "1979-05-27T07:32:00Z",
    "1979-05-27",
    "\"\"",
    "\" \"",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"arn:aws:iam::*:role/*\"",
    "\"0.0.0.0/0\"",
    "\"::/0\"",
    "\"1.2.3.4/33\"",
    "[]",
    "[\"\"]",
    "[1, \"a\"]",
    "{}",
    "{ a = 1 }",
    "true",
    "-1",
    "0",
    "1.5",
];

fn make_toml(corpus: &Corpus, g: &mut Gen, target: Target) -> Input {
    let seeds: Vec<&String> = corpus
        .tomls
        .iter()
        .filter(|t| (target == Target::Config) != t.contains("action"))
        .collect();
    let seed = if seeds.is_empty() {
        g.dice.pick(&corpus.tomls).clone()
    } else {
        (*g.dice.pick(&seeds)).clone()
    };
    let mut lines: Vec<String> = seed.lines().map(str::to_string).collect();
    for _ in 0..g.dice.below(4) {
        let at = g.dice.below(lines.len() + 1);
        let value = if g.dice.chance(1, 6) {
            let depth = *g.dice.pick(&[8usize, 64, 200, 2000, 20_000]);
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else if g.dice.chance(1, 8) {
            let depth = *g.dice.pick(&[8usize, 64, 200, 2000, 20_000]);
            format!("{}1{}", "{a=".repeat(depth), "}".repeat(depth))
        } else {
            g.dice.pick(TOML_VALUES).to_string()
        };
        // Replace a value, or add a key (known or not) at this place.
        let line = match lines.get(at).and_then(|l| l.split_once('=')) {
            Some((k, _)) if g.dice.chance(2, 3) => format!("{}= {value}", k),
            _ => {
                let key = *g.dice.pick(&[
                    "name",
                    "summary",
                    "target",
                    "action",
                    "stops",
                    "does_not_stop",
                    "policy_name",
                    "min_failures",
                    "window_minutes",
                    "max_share",
                    "min_depth",
                    "min_roles",
                    "cidrs",
                    "asns",
                    "principals",
                    "x",
                ]);
                format!("{key} = {value}")
            }
        };
        if at < lines.len() && g.dice.chance(1, 2) {
            lines[at] = line;
        } else {
            lines.insert(at, line);
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    if g.dice.chance(1, 2) {
        g.mutate_bytes(&mut bytes, 3);
    }
    Input {
        target,
        bytes,
        intact: false,
    }
}

/// Runs one input through its target. Panics on failure: a panic anywhere inside, or a
/// planted secret that reached an output of an intact input.
pub fn run(env: &Env, input: &Input) {
    match input.target {
        Target::Records | Target::File => run_log(env, &input.bytes, input.intact),
        Target::Text => run_text(env, &input.bytes),
        Target::Playbook => run_playbook(&input.bytes),
        Target::Config => run_config(env, &input.bytes),
    }
}

/// Bytes of a log object -> everything that reads events.
pub fn run_log(env: &Env, bytes: &[u8], check_secrets: bool) {
    let decoded = decode::decode(bytes.to_vec());
    let parsed = parse::parse_text(&decoded.bytes);
    // The one-pass fast path must give exactly what reading record by record gives.
    let slow = parse::parse_text_record_by_record(&decoded.bytes);
    assert!(
        parsed.events == slow.events
            && parsed.bad_records == slow.bad_records
            && (
                parsed.records,
                parsed.objects,
                parsed.truncated,
                parsed.content
            ) == (slow.records, slow.objects, slow.truncated, slow.content),
        "the one-pass parser and the record-by-record parser disagree"
    );
    drop(slow);
    // A projected read (what `summary` asks for) must give the full read's values on its
    // columns, and the same records, problems and counts.
    let columns = crate::summary::COLUMNS.union(crate::event::columns::INGEST);
    let projected = parse::parse_text_columns(&decoded.bytes, columns, true);
    assert!(
        projected.bad_records == parsed.bad_records
            && (
                projected.records,
                projected.objects,
                projected.truncated,
                projected.content
            ) == (
                parsed.records,
                parsed.objects,
                parsed.truncated,
                parsed.content
            )
            && projected.events.len() == parsed.events.len()
            && projected
                .events
                .iter()
                .zip(&parsed.events)
                .all(|(p, f)| *p == columns.project(f)),
        "the projected read and the full read disagree"
    );
    drop(projected);
    // On JSON text (what it is given: serde_json has read it), the one-pass redactor must
    // write what the parse-and-write-again reference writes.
    if let Ok(text) = std::str::from_utf8(&decoded.bytes) {
        let mut once = String::new();
        if event::redact::streaming(text, &mut once) {
            assert!(
                event::redact::by_value(text).is_none_or(|v| v == once),
                "the one-pass redactor and the reference disagree"
            );
        }
    }
    let (events, _) = crate::ingest::finish_events(parsed.events);
    let graph = Graph::build(&events);
    let mut out: Vec<u8> = Vec::new();
    for s in &graph.sessions {
        let up = graph.ancestors(&s.access_key_id);
        let down = graph.descendants(&s.access_key_id);
        out.extend_from_slice(format!("{} {}\n", up.len(), down.len()).as_bytes());
        let _ = serde_json::to_writer(&mut out, s);
    }
    out.extend_from_slice(crate::report::tree::render(&graph, None).as_bytes());
    let findings = detect::hunt(&events, &graph, &env.geo, &env.cfg);
    for e in &events {
        let _ = serde_json::to_writer(&mut out, e);
        let _ = detect::principal_of(&graph, e);
    }
    for f in &findings {
        let _ = serde_json::to_writer(&mut out, f);
    }
    if check_secrets {
        assert!(
            memchr::memmem::find(&out, CANARY.as_bytes()).is_none(),
            "a secret survived redaction"
        );
    }
}

/// A string -> the time parsers, the address classifier and the other string helpers.
pub fn run_text(env: &Env, bytes: &[u8]) {
    let s = String::from_utf8_lossy(bytes);
    for t in [event::parse_iso(&s), event::parse_expiration(&s)]
        .into_iter()
        .flatten()
    {
        let text = event::format_iso(t);
        let _ = event::parse_iso(&text);
    }
    let _ = event::time::parse_user_time(&s);
    if bytes.len() >= 8 {
        let mut ms = [0u8; 8];
        ms.copy_from_slice(&bytes[..8]);
        let _ = event::format_iso(i64::from_le_bytes(ms));
    }
    let (_, ip) = crate::geoip::classify(&s);
    let _ = crate::geoip::parse_ip(&s);
    let info = env.geo.lookup(&s);
    let _ = (info.is_address(), info.is_aws());
    if let Ok(c) = detect::config::Cidr::parse(&s) {
        if let Some(ip) = ip {
            let _ = c.contains(ip);
        }
    }
    let _ = event::role_arn_from_error(&s);
    let _ = crate::graph::arn_account(&s);
    let _ = crate::graph::assumed_role_parts(&s);
    let _ = detect::agent_family(&s);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
        let _ = detect::allows_everything(&v);
    }
}

/// A playbook file's text -> the loader.
pub fn run_playbook(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = crate::playbook::spec::parse(&text, "fuzz.toml", Some("fuzz"));
    let _ = crate::playbook::spec::parse(&text, "fuzz.toml", None);
}

/// A settings file's text -> the loader, and a hunt with the settings when they validate.
pub fn run_config(env: &Env, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let Ok(cfg) = toml::from_str::<DetectConfig>(&text) else {
        return;
    };
    if !cfg.validate().is_empty() {
        return;
    }
    let _ = cfg.cidrs();
    let graph = Graph::build(&env.small);
    let _ = detect::hunt(&env.small, &graph, &env.geo, &cfg);
}

/// A failing input.
#[derive(Debug, Clone)]
pub struct Failure {
    pub target: Target,
    pub index: u64,
    pub message: String,
    /// Where the input was written, when an output folder was given.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub inputs: u64,
    pub per_target: [u64; 5],
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
    /// The slowest input: (time, target, index).
    pub slowest: Option<(Duration, Target, u64)>,
    pub bytes: u64,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub start: u64,
    pub count: u64,
    pub targets: Vec<Target>,
    /// Failing inputs are written here.
    pub out: Option<PathBuf>,
}

thread_local! {
    /// Set while this thread runs a fuzz input: the panic hook records instead of printing.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that keeps fuzz panics off stderr, with their location, and
/// leaves every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) {
                let at = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(at));
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".into()
    }
}

/// Runs `f`, catching a panic; returns its message and location.
pub fn catch<F: FnOnce()>(f: F) -> Result<(), String> {
    install_hook();
    let was = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    r.map_err(|p| {
        let at = LAST_PANIC
            .with(|l| l.borrow_mut().take())
            .unwrap_or_default();
        format!("{}{at}", payload_text(&*p))
    })
}

/// File name of a saved input: the target first, so `--replay` knows where to send it.
pub fn file_name(target: Target, seed: u64, index: u64) -> String {
    format!("{}-seed{seed}-{index}.bin", target.name())
}

/// The target a saved input's file name starts with.
pub fn target_of(path: &std::path::Path) -> Option<Target> {
    let name = path.file_name()?.to_string_lossy();
    Target::ALL
        .into_iter()
        .find(|t| name.starts_with(&format!("{}-", t.name())))
}

/// Runs inputs `start..start + count`, in parallel, `progress` called between chunks.
pub fn fuzz(
    env: &Env,
    corpus: &Corpus,
    opts: &Options,
    mut progress: impl FnMut(&Report),
) -> Report {
    let started = Instant::now();
    let mut report = Report::default();
    let targets: Vec<Target> = if opts.targets.is_empty() {
        Target::ALL.to_vec()
    } else {
        opts.targets.clone()
    };
    let chunk = 20_000u64;
    let end = opts.start.saturating_add(opts.count);
    let mut at = opts.start;
    while at < end {
        let upto = (at + chunk).min(end);
        let counts: [AtomicU64; 5] = Default::default();
        let bytes = AtomicU64::new(0);
        let slowest = Mutex::new(None::<(Duration, Target, u64)>);
        let mut fails: Vec<Failure> = (0..(upto - at) as usize)
            .into_par_iter()
            .with_min_len(8)
            .filter_map(|k| {
                let index = at + k as u64;
                let t0 = Instant::now();
                let mut target = None;
                let mut input_bytes = Vec::new();
                let result = catch(|| {
                    let input = make(corpus, &targets, opts.seed, index);
                    target = Some(input.target);
                    input_bytes = input.bytes.clone();
                    run(env, &input);
                });
                let took = t0.elapsed();
                let t = target.unwrap_or(Target::Records);
                counts[t as usize].fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(input_bytes.len() as u64, Ordering::Relaxed);
                if let Ok(mut s) = slowest.lock() {
                    if s.is_none_or(|(d, _, _)| took > d) {
                        *s = Some((took, t, index));
                    }
                }
                let message = result.err()?;
                let saved = opts.out.as_ref().and_then(|dir| {
                    std::fs::create_dir_all(dir).ok()?;
                    let p = dir.join(file_name(t, opts.seed, index));
                    std::fs::write(&p, &input_bytes).ok()?;
                    Some(p)
                });
                Some(Failure {
                    target: t,
                    index,
                    message,
                    saved,
                })
            })
            .collect();
        fails.sort_by_key(|f| f.index);
        report.failures.extend(fails);
        for (i, c) in counts.iter().enumerate() {
            report.per_target[i] += c.load(Ordering::Relaxed);
        }
        report.inputs += upto - at;
        report.bytes += bytes.load(Ordering::Relaxed);
        if let Some(s) = slowest.into_inner().ok().flatten() {
            if report.slowest.is_none_or(|(d, _, _)| s.0 > d) {
                report.slowest = Some(s);
            }
        }
        report.elapsed = started.elapsed();
        progress(&report);
        at = upto;
    }
    report.elapsed = started.elapsed();
    report
}
