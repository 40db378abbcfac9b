//! What a run tells on stderr: the progress bar (drawn only when asked and stderr is a
//! terminal) and the warnings about what could not be read.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A byte-counting bar; hidden unless `show` and stderr is a terminal.
pub fn bar(show: bool, total_bytes: u64, what: &str) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Prints a warning for each bad file or record, and one for events judged out of order.
pub fn warn(data: &crate::ingest::Ingested) {
    for p in &data.problems {
        eprintln!("trailhound: warning: {p}");
    }
    if data.stats.late_events > 0 {
        eprintln!(
            "trailhound: warning: {} events were delivered more than --max-delay-minutes after they happened and were judged out of order",
            data.stats.late_events
        );
    }
}
