//! `trailhound completions SHELL` and `trailhound man`: shell completion scripts and roff man
//! pages, generated from the clap definitions in [`super::args`], so they never disagree with
//! `--help`.

use super::args::Cli;
use crate::error::{Error, Exit, Result};
use crate::report::Sink;
use clap::CommandFactory;
use std::path::Path;

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "trailhound", &mut out);
    out
}

/// The man page of trailhound (section 1), with its subcommands listed.
pub fn man_page() -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Error::Other(e.to_string()))?;
    Ok(out)
}

/// Writes the completion script to stdout.
pub fn run_completions(shell: clap_complete::Shell) -> Result<Exit> {
    Sink::new(None).write_text(&String::from_utf8_lossy(&completions(shell)))?;
    Ok(Exit::Ok)
}

/// Writes the man page to stdout, or with `dir` one page per command
/// (`trailhound.1`, `trailhound-hunt.1`, `trailhound-playbook-run.1`, ...) into it.
pub fn run_man(dir: Option<&Path>) -> Result<Exit> {
    match dir {
        None => Sink::new(None).write_text(&String::from_utf8_lossy(&man_page()?))?,
        Some(d) => {
            let err = |e: std::io::Error| Error::Output {
                path: d.display().to_string(),
                reason: e.to_string(),
            };
            std::fs::create_dir_all(d).map_err(err)?;
            clap_mangen::generate_to(Cli::command(), d).map_err(err)?;
        }
    }
    Ok(Exit::Ok)
}
