//! The one integration test binary: runs the real `trailhound` binary (and the library) on
//! fixture trees and compares what comes out. Each module is one stage of the pipeline.

mod common;
mod contain;
mod detections;
mod docs;
mod emulator;
mod engine;
mod fuzz;
mod hunt;
mod identity;
mod incidents;
mod ingest;
mod ocsf;
mod parsing;
mod playbook;
mod properties;
mod queries;
mod remote;
mod report;
mod securityhub;
mod sessions;
mod siem;
mod sigma;
mod timesketch;
