//! A string -> the time parsers, the address classifier, CIDR and ARN helpers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use trailhound::fuzz::{run_text, Env};

static ENV: OnceLock<Env> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let env = ENV.get_or_init(|| Env::new().expect("bundled GeoIP data"));
    run_text(env, data);
});
