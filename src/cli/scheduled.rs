//! `trailhound report` and `trailhound baseline` (scheduled reports): arguments, turned into
//! the values that [`crate::state::report`] takes.

use super::args::InputArgs;
use crate::detect::Severity;
use crate::error::{Exit, Result};
use crate::state::report::{BaselineAction, ReportFormat, ReportOptions};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `trailhound report PATH... --state DIR`
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The state directory (default: $XDG_DATA_HOME/trailhound/state or
    /// ~/.local/share/trailhound/state).
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    pub format: ReportFormat,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit 1 when a new finding at or above this severity is found.
    #[arg(long, value_enum, default_value_t = Severity::High)]
    pub fail_on: Severity,
    /// Days of stored history the new events are judged against.
    #[arg(long, value_name = "DAYS", default_value_t = 90)]
    pub history_days: u32,
    /// Days an address block stays in a principal's baseline after its last call from it (at
    /// most --history-days; 0 keeps none). A principal back to a block after longer away is
    /// counted afresh. `baseline show` shows the blocks; no detection reads them, and a
    /// principal calling from clouds or mobile networks adds new ones every day: kept for the
    /// history window, they would be most of what the saved state and `baselines.json` hold.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub block_days: u32,
    /// Hours an expired session is kept in the saved state after it could last sign a call
    /// (for calls delivered late, and for shards of one night to be merged with their chains
    /// whole; raise it to the range a shard reads when shards split by day); later it is
    /// dropped, so that the state holds the living sessions, not every session ever seen. The
    /// lake's sessions table keeps every session.
    #[arg(long, value_name = "HOURS", default_value_t = 12)]
    pub keep_expired_hours: u32,
    /// Lake rows a run holds before writing them aside to read back at the end (memory of a
    /// first run over a backlog). For tests.
    #[arg(long, value_name = "ROWS", default_value_t = crate::state::LAKE_ROWS_HELD, hide = true)]
    pub lake_rows_held: usize,
    /// Rows of the events parts' row groups, each encoded as soon as its rows are there. For
    /// tests.
    #[arg(long, value_name = "ROWS", default_value_t = crate::state::LAKE_ROW_GROUP, hide = true)]
    pub lake_row_group: usize,
    /// Keys the graph holds before it takes out, as the events stream, the chains that expired
    /// --keep-expired-hours before the latest call (0: as soon as they expire). For tests,
    /// with --hold-sessions (never: the reference they compare with).
    #[arg(long, value_name = "KEYS", default_value_t = crate::state::report::GRAPH_KEYS_HELD, hide = true)]
    pub graph_keys_held: usize,
    /// Hold every session to the end (see --graph-keys-held). For tests.
    #[arg(long, hide = true)]
    pub hold_sessions: bool,
    /// Detection thresholds and allowlists (TOML), as for hunt.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Your own MaxMind/DB-IP .mmdb files, as for hunt.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub geoip: Vec<PathBuf>,
}

/// `trailhound baseline ...`
#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Explain what is normal for a principal: countries, networks, agents, hours, roles.
    Show {
        /// The principal (ARN, or subject for SAML/web identity), as findings name it.
        principal: String,
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Print the stored profile as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the principals with a baseline: calls, first and last seen.
    List {
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
    },
    /// Reset a principal's baseline after a legitimate change (a move, a new role): its history
    /// before now is no longer used, so it is learned again from the next runs.
    Forget {
        principal: String,
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
    },
}

/// Runs `trailhound report`: `--since` goes to the state as given (it may be `last-run`), the
/// rest of the input options become the ingest options.
pub fn run(args: ReportArgs, quiet: bool) -> Result<Exit> {
    let mut input = args.input;
    let since = input.scope.since.take();
    let ingest = super::ingest_options(&input, quiet)?;
    crate::state::report::run(
        ReportOptions {
            slicing: input.stream.slicing(),
            paths: input.paths,
            ingest,
            since,
            state: args.state,
            format: args.format,
            out: args.out,
            fail_on: args.fail_on,
            history_days: args.history_days,
            block_days: args.block_days,
            keep_expired_hours: args.keep_expired_hours,
            lake_rows_held: args.lake_rows_held,
            lake_row_group: args.lake_row_group,
            graph_keys_held: if args.hold_sessions {
                usize::MAX
            } else {
                args.graph_keys_held
            },
            config: args.config,
            geoip: args.geoip,
        },
        quiet,
    )
}

/// Runs `trailhound baseline ...`.
pub fn run_baseline(cmd: BaselineCommand) -> Result<Exit> {
    crate::state::report::run_baseline(match cmd {
        BaselineCommand::Show {
            principal,
            state,
            json,
        } => BaselineAction::Show {
            principal,
            state,
            json,
        },
        BaselineCommand::List { state } => BaselineAction::List { state },
        BaselineCommand::Forget { principal, state } => BaselineAction::Forget { principal, state },
    })
}
