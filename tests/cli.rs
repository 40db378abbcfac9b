//! The one integration test binary: runs the real `trailhound` binary (and the library) on
//! fixture trees and compares what comes out. Each module is one stage of the pipeline.

mod common;
mod contain;
mod docs;
mod emulator;
mod engine;
mod fuzz;
mod hunt;
mod ingest;
mod ocsf;
mod playbook;
mod properties;
mod remote;
mod report;
mod securityhub;
mod sessions;
mod siem;
mod sigma;
mod timesketch;
