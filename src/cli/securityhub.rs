//! `trailhound securityhub send FILE`: arguments; the sending is [`crate::report::securityhub`].

use crate::error::{Exit, Result};
use crate::report::securityhub::SendOptions;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SecurityhubCommand {
    /// Send ASFF findings (`hunt --format asff`) to Security Hub with BatchImportFindings, in
    /// batches of 100, retrying throttled and failed findings. Exits 2 when some could not be
    /// imported (each is named on stderr).
    Send(SendArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// ASFF findings: JSON lines, a JSON array, or {"Findings": [...]}; `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The product to import as (default: the account's own
    /// arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default).
    #[arg(long, value_name = "ARN")]
    pub product_arn: Option<String>,
    /// Region of the Security Hub to send to (default: the AWS chain, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Send the calls to URL (an emulator, a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Attempts per finding (throttled or transiently failed findings are sent again).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub attempts: u32,
}

/// Runs `trailhound securityhub ...`.
pub fn run(cmd: SecurityhubCommand, quiet: bool) -> Result<Exit> {
    let SecurityhubCommand::Send(a) = cmd;
    crate::report::securityhub::run(
        SendOptions {
            file: a.file,
            product_arn: a.product_arn,
            region: a.region,
            profile: a.profile,
            endpoint_url: a.endpoint_url,
            attempts: a.attempts,
        },
        quiet,
    )
}
