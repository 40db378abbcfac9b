//! `trailhound collect --key K --logs PATH --out DIR`: arguments, and the runner that hands
//! [`crate::playbook::collect::collect`] the command's reader and prints what was written.

use super::playbook::{out, out_json, OutputFormat};
use crate::error::{Exit, Result};
use crate::playbook::collect::collect;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;

/// `trailhound collect --key KEY --logs PATH... --out DIR`
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// A key anywhere in the chain (ASIA...), or the long-term key that started it (AKIA...).
    #[arg(long, value_name = "KEY")]
    pub key: String,
    /// Local CloudTrail files or folders (sync a bucket first: the raw records are re-read from
    /// the files).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub logs: Vec<PathBuf>,
    /// The evidence folder to write (created; must be empty if it exists). DIR.tar.gz is written
    /// beside it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Runs `trailhound collect`.
pub fn run(a: CollectArgs, quiet: bool) -> Result<Exit> {
    let read = |logs: &[PathBuf]| {
        let input = super::args::InputArgs {
            paths: logs.to_vec(),
            ..Default::default()
        };
        super::read(&input, quiet).map(|data| data.events)
    };
    let c = collect(a.key.trim(), &a.logs, &a.out, read)?;
    match a.format {
        OutputFormat::Json => out_json(&serde_json::to_value(&c).unwrap_or(Value::Null))?,
        OutputFormat::Text => {
            let mut t = format!(
                "Evidence of the chain of {} in {}: {} raw records, {} sessions, {} findings\n",
                a.key, c.dir, c.records, c.sessions, c.findings
            );
            for f in &c.files {
                t.push_str(&format!("  {}  {:>9}  {}\n", f.sha256, f.size, f.path));
            }
            t.push_str(&format!(
                "Archive: {}\n  sha256 {}\n",
                c.archive, c.archive_sha256
            ));
            out(&t)?;
        }
    }
    Ok(Exit::Ok)
}
