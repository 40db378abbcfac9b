//! The one integration test binary: runs the real `trailhound` binary (and the library) on
//! fixture trees and compares what comes out. Each module is one stage of the pipeline.

mod common;
mod emulator;
mod fuzz;
mod hunt;
mod ingest;
mod playbook;
mod properties;
mod remote;
mod report;
mod sessions;
