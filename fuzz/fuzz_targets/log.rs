//! Bytes of a log object (gzip or not, any shape) -> decode, parse, normalize, session graph,
//! detections, serialization. Seed the corpus with `sample-logs/` and `tests/fixtures/datasets/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use trailhound::fuzz::{run_log, Env};

static ENV: OnceLock<Env> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let env = ENV.get_or_init(|| Env::new().expect("bundled GeoIP data"));
    run_log(env, data, false);
});
