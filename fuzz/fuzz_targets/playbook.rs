//! A playbook file's text -> the playbook loader. Seed the corpus with `playbooks/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trailhound::fuzz::run_playbook(data);
});
