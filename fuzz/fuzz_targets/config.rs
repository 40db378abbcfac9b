//! A detection settings file's text -> the loader, and a hunt when the settings validate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use trailhound::fuzz::{run_config, Env};

static ENV: OnceLock<Env> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let env = ENV.get_or_init(|| Env::new().expect("bundled GeoIP data"));
    run_config(env, data);
});
