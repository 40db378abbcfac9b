//! The `trailhound` binary: parse arguments, run, map the result to an exit code.

use clap::Parser;
use std::process::ExitCode;
use trailhound::cli::{self, Cli};

/// jemalloc rather than the C library's allocator: events are built on the reading threads and
/// dropped on the judging thread, which glibc's per-thread arenas leave fragmented; jemalloc
/// hands the memory back (README, "Memory").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let args = Cli::parse();
    if let Some(n) = args.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
        {
            eprintln!("trailhound: cannot start {n} threads: {e}");
            return ExitCode::from(trailhound::Exit::Error as u8);
        }
    }
    match cli::run(args) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("trailhound: error: {e}");
            ExitCode::from(e.exit() as u8)
        }
    }
}
