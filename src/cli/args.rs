//! Command-line definitions (clap). Plain values only; `cli::run` turns them into work.

use crate::detect::Severity;
use crate::report::findings::FindingFormat;
use crate::report::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  input was read (warnings about bad files or records go to stderr) and no finding reached --fail-on
  1  hunt/report: a finding reached --fail-on
  2  usage error, or an error while running (bad query, unwritable output)
  3  an input path does not exist
  4  nothing could be read (every file skipped or failed)
  5  --strict and some file or record was bad";

const HUNT_HELP: &str = "\
Kinds: failed_then_success, odd_ip, unusual_hour, deep_role_chain, credential_exfiltration,
impossible_travel, role_enumeration, federation_token_admin, console_login_without_mfa,
root_account_use. Baselines are learned from the input itself, before each event.

Exit codes: 0 no finding reached --fail-on; 1 one did; 2 error; 3 path missing; 4 nothing read.";

const INCIDENTS_HELP: &str = "\
Severity: the worst finding's, raised one level (capped at critical) when signals of different
kinds combine: unusual access (odd_ip, impossible_travel, unusual_hour, console sign-in without
MFA, root use), denied probing (failed_then_success, role_enumeration), credential theft,
privilege change (deep_role_chain, federation_token_admin, or successful privilege escalation or
persistence calls in the timeline), defence evasion (successful calls in the timeline); any
other finding kind is a signal of its own.

Exit codes: 0 no incident reached --fail-on; 1 one did; 2 error; 3 path missing; 4 nothing read.";

const REPORT_HELP: &str = "\
--since for report also takes `last-run` (the previous run's start, less an hour for delivery
delay: what a nightly S3 job wants, so only recent day folders are listed) and `24h` / `7d`.
Re-running over the same input adds nothing and reports nothing twice.

Exit codes: 0 no new finding reached --fail-on; 1 one did; 2 error; 3 path missing.";

#[derive(Debug, Parser)]
#[command(
    name = "trailhound",
    version,
    about = "CloudTrail forensics: read trails fast, trace STS sessions to the person behind them, hunt anomalies",
    long_about = "trailhound reads CloudTrail logs (S3 delivery trees of .json.gz files, JSON arrays, \
NDJSON, LookupEvents output; gzip is detected by content) on all cores and normalizes every record \
into one typed event table.\n\nStart with `trailhound summary DIR` to see what a tree holds and `trailhound hunt DIR` \
for what looks like an intrusion. For a suspicious key: `trailhound sessions DIR --key ASIA... --tree` \
(where it came from, who is behind it), `trailhound timeline DIR --key ASIA... --with-descendants` \
(what that chain did), `trailhound revoke --key ASIA... --logs DIR` (contain it: a dry run until \
--apply). Saved hunts: `trailhound query DIR --file queries/NAME.sql`.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// No progress bar and no closing summary line on stderr (warnings are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Worker threads for reading (default: all cores). Output is the same whatever the count.
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What the logs hold: files, events, time span, accounts, regions, top calls and errors.
    #[command(after_help = EXIT_CODES)]
    Summary {
        #[command(flatten)]
        input: InputArgs,
        /// How many of the most frequent values to list per section (0 = all).
        #[arg(long, default_value_t = 15)]
        top: usize,
        /// text for people, json for machines.
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
    },
    /// List normalized events, filtered; every column of the `events` table with --format ndjson.
    #[command(after_help = EXIT_CODES)]
    Events {
        #[command(flatten)]
        input: InputArgs,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Run polars SQL over the `events` table (and `sessions`), e.g. a saved hunt from queries/.
    #[command(after_help = EXIT_CODES)]
    Query {
        #[command(flatten)]
        input: InputArgs,
        /// The SQL text, e.g. "SELECT event_name, count(*) AS n FROM events GROUP BY 1 ORDER BY 2 DESC".
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        sql: Option<String>,
        /// A file holding the SQL, e.g. queries/assume-role-denials.sql.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The session graph: every temporary key, the call and principal that issued it, its chain.
    #[command(
        after_help = "Columns (ndjson keys): access_key_id issued_by_api issued_at expires_at account role_arn \
session_name caller_arn caller_type caller_access_key_id parent_access_key_id chain_depth root_principal \
chain_complete source_identity mfa_authenticated cross_account issued_in_window source_ips first_used \
last_used calls errors.\n\nchain_depth 1 = issued directly to an IAM user, root, AWS service, SAML or web \
identity subject; +1 per hop. chain_complete false = an ancestor's issuing call is not in the logs \
(root_principal is then null and chain_depth a lower bound).\n\n"
    )]
    Sessions {
        #[command(flatten)]
        input: InputArgs,
        /// Only this key (with --tree: its whole chain, up and down).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Only sessions whose root principal, role or caller is this ARN (or subject).
        #[arg(long, value_name = "ARN")]
        principal: Option<String>,
        /// Only sessions carrying this source identity.
        #[arg(long, value_name = "S")]
        source_identity: Option<String>,
        /// Only sessions at least this deep in a chain.
        #[arg(long, value_name = "N")]
        min_depth: Option<u32>,
        /// Draw each chain from its root principal down through its sessions.
        #[arg(long)]
        tree: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Every call made with a key (and, with --with-descendants, with every key issued from it
    /// down the chain), in time order, each showing which hop made it.
    Timeline {
        #[command(flatten)]
        input: InputArgs,
        /// The access key id, e.g. ASIA...
        #[arg(long, value_name = "KEY")]
        key: String,
        /// Follow the chain down: include calls of sessions issued with this key, and theirs.
        #[arg(long)]
        with_descendants: bool,
        /// table or ndjson.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Hunt for intrusions: findings judged against each principal's own history, with reason,
    /// evidence and session chain. Exits 1 when a finding reaches --fail-on.
    #[command(after_help = HUNT_HELP)]
    Hunt {
        #[command(flatten)]
        input: InputArgs,
        #[arg(long, value_enum, default_value_t = FindingFormat::Table)]
        format: FindingFormat,
        /// Only show findings at or above this severity.
        #[arg(long, value_enum, default_value_t = Severity::Info)]
        min_severity: Severity,
        /// Exit 1 when a finding at or above this severity is found.
        #[arg(long, value_enum, default_value_t = Severity::High)]
        fail_on: Severity,
        /// Thresholds and allowlists (TOML); `trailhound hunt-config` prints the defaults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Your own MaxMind GeoLite2/GeoIP2 (City, Country or ASN) or DB-IP .mmdb files; they
        /// replace the bundled databases for the questions they answer.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        geoip: Vec<PathBuf>,
        /// Name the containment playbook and exact command for each finding.
        #[arg(long)]
        respond: bool,
        /// Also run Sigma rules (files or folders of .yml; only `logsource: product: aws,
        /// service: cloudtrail` rules apply): one `sigma` finding per rule and principal. The
        /// SigmaHQ CloudTrail set ships in rules/sigma/aws-cloudtrail. Put log paths first.
        #[arg(long, value_name = "RULES", num_args = 1..)]
        sigma: Vec<PathBuf>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Group findings into incidents: one per key lineage (same root principal or same key,
    /// findings at most --window apart), with the chain, a timeline of what it did by intent,
    /// the resources it changed and the containment commands. Exits 1 when an incident reaches
    /// --fail-on.
    #[command(after_help = INCIDENTS_HELP)]
    Incidents {
        #[command(flatten)]
        input: InputArgs,
        /// table for people, ndjson (one incident per line), markdown (an incident report to
        /// paste into a ticket).
        #[arg(long, value_enum, default_value_t = IncidentFormat::Table)]
        format: IncidentFormat,
        /// Only show incidents at or above this severity.
        #[arg(long, value_enum, default_value_t = Severity::Info)]
        min_severity: Severity,
        /// Exit 1 when an incident at or above this severity is found.
        #[arg(long, value_enum, default_value_t = Severity::High)]
        fail_on: Severity,
        /// Longest gap between two findings of one incident, e.g. 30m, 6h, 24h, 2d. The timeline
        /// covers the chain's calls from an hour before the first finding to this long after
        /// the last.
        #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_window)]
        window: i64,
        /// Example calls kept per intent group (counts are always exact).
        #[arg(long, value_name = "N", default_value_t = 10)]
        examples: usize,
        /// Thresholds and allowlists (TOML), as for hunt.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Your own .mmdb files, as for hunt.
        #[arg(long, value_name = "FILE", num_args = 1..)]
        geoip: Vec<PathBuf>,
        /// Also run Sigma rules, as for hunt: their findings join the incidents of the
        /// principals they name. Put log paths first.
        #[arg(long, value_name = "RULES", num_args = 1..)]
        sigma: Vec<PathBuf>,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sigma rules: check which ones `hunt --sigma` can run.
    Sigma {
        #[command(subcommand)]
        cmd: SigmaCommand,
    },
    /// AWS Security Hub: send ASFF findings (`hunt --format asff`) with BatchImportFindings.
    Securityhub {
        #[command(subcommand)]
        cmd: super::securityhub::SecurityhubCommand,
    },
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(after_help = "Install:\n  \
bash:       trailhound completions bash > ~/.local/share/bash-completion/completions/trailhound\n  \
zsh:        trailhound completions zsh > \"${fpath[1]}/_trailhound\"\n  \
fish:       trailhound completions fish > ~/.config/fish/completions/trailhound.fish\n  \
PowerShell: trailhound completions powershell >> $PROFILE")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into DIR.
    #[command(after_help = "Install: trailhound man > ~/.local/share/man/man1/trailhound.1")]
    Man {
        /// Write trailhound.1, trailhound-hunt.1, ... into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Print the default hunt configuration (TOML) and exit.
    #[command(name = "hunt-config")]
    HuntConfig,
    /// Containment playbooks: list, show, lint, run (dry run unless --apply), roll back.
    Playbook {
        #[command(subcommand)]
        cmd: crate::cli::playbook::PlaybookCommand,
    },
    /// The nightly job: read only log objects not yet processed (state manifest), judge them
    /// against each principal's stored history, store events/sessions/findings as Parquet, and
    /// write an HTML, Markdown or JSON report. Exits 1 when a new finding reaches --fail-on.
    #[command(after_help = REPORT_HELP)]
    Report(super::scheduled::ReportArgs),
    /// Per-principal baselines in the state directory: show, list, forget.
    Baseline {
        #[command(subcommand)]
        cmd: super::scheduled::BaselineCommand,
    },
    /// Scheduled runs' state directories: merge shards, list what a state knows.
    State {
        #[command(subcommand)]
        cmd: StateCommand,
    },
    /// One click: find an access key's role (and account) in the logs and plan revoking its
    /// sessions (ASIA...) or deactivating it (AKIA...). Dry run unless --apply.
    Revoke(crate::cli::playbook::RevokeArgs),
    /// Contain a whole session chain across accounts in one plan: the root key, the user's
    /// temporary credentials, every role the chain passed through, sessions chained out of them.
    /// Dry run unless --apply; one run id; `playbook rollback RUN_ID` undoes every step.
    Contain(super::contain::ContainArgs),
    /// Did a containment hold? From logs delivered after the cutoff: calls denied, calls that
    /// still succeeded after cutoff + grace, new sessions of the same root principal. Exit 0
    /// held, 1 not held, 2 error.
    Verify(super::verify::VerifyArgs),
    /// Keep the evidence of a chain: its raw records (secrets redacted), sessions, findings,
    /// source addresses and what it created, with a SHA-256 manifest and a .tar.gz.
    Collect(super::collect::CollectArgs),
    /// Write synthetic CloudTrail trees: the bundled sample-logs, or a large benchmark corpus.
    Generate {
        /// Folder to write the tree into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write a benchmark corpus of at least N events instead of the sample.
        #[arg(long, value_name = "N")]
        events: Option<u64>,
        /// Random seed (the sample uses 7).
        #[arg(long)]
        seed: Option<u64>,
        /// Days the sample covers (default 7; at least 7, where its incidents are), e.g. 30
        /// for a month-long tree to measure nightly reports and S3 listing on.
        #[arg(long, value_name = "N", conflicts_with = "events")]
        days: Option<u32>,
    },
    /// Measure ingest speed: generate a corpus (or use --dir), read it, print events/s, MB/s,
    /// peak memory, and the time of `gzip -dc` over the same files as a floor.
    Bench {
        /// Corpus size in events when generating.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Use (or create, if missing) the corpus in DIR instead of a temporary folder.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Fuzz the readers on the stable toolchain: mutate real logs and settings (seeded, so a run
    /// is the same everywhere), run each through decode, parse, normalize, the session graph,
    /// the detections, the time and address parsers and the playbook and settings loaders.
    /// Every input that panics is written to --out; exits 2 when one did.
    Fuzz(FuzzArgs),
}

/// `trailhound fuzz`.
#[derive(Debug, Args, Clone)]
pub struct FuzzArgs {
    /// Inputs to run.
    #[arg(long, default_value_t = 100_000)]
    pub count: u64,
    /// Random seed: the same seed and index always make the same input.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Index of the first input (to resume a run, or make one input again with --count 1).
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    /// Folder for failing inputs (named TARGET-seedS-INDEX.bin).
    #[arg(long, value_name = "DIR", default_value = "fuzz-failures")]
    pub out: PathBuf,
    /// Files and folders to draw seeds from (default: sample-logs, tests/fixtures/datasets,
    /// tests/fixtures/playbook and playbooks, where they exist; built-in records always).
    #[arg(long, value_name = "PATH")]
    pub corpus: Vec<PathBuf>,
    /// Only these targets: records, file, text, playbook, config (repeatable).
    #[arg(long, value_name = "NAME")]
    pub target: Vec<String>,
    /// Run saved inputs (files named TARGET-...) instead of making new ones.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["count", "start"])]
    pub replay: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
}

/// `trailhound sigma ...`
#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// List each rule file: ok, unsupported (why), invalid (why) or not_for_cloudtrail.
    #[command(
        after_help = "Exit codes: 0 every rule runs or is for another log source; 1 a rule is invalid or unsupported; 2 error; 3 path missing."
    )]
    Lint {
        /// Rule files or folders (walked for .yml and .yaml).
        #[arg(required = true, value_name = "RULES")]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = LintFormat::Table)]
        format: LintFormat,
    },
}

/// Output of `sigma lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Aligned columns for people.
    Table,
    /// One JSON object per rule file: file, status, id, title, reason.
    Ndjson,
}

/// `trailhound state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Combine the state directories of shards (report runs over different account groups or
    /// day ranges, on any scheduler) into a new one: their runs, manifests and lake parts, and
    /// one engine state whose session index resolves chains that cross shards. The next
    /// `report --state INTO` goes on from it.
    Merge {
        /// The shards' state directories.
        #[arg(required = true, value_name = "SHARD")]
        shards: Vec<PathBuf>,
        /// The merged state directory (new, or without runs).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
    },
    /// The sessions a state's engine knows (after a merge: the merged session index).
    Sessions {
        #[arg(value_name = "DIR")]
        state: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Log locations, what part of them to read, and how strictly.
#[derive(Debug, Args, Default, Clone)]
pub struct InputArgs {
    /// Log files or folders (walked recursively; .json.gz, .json, NDJSON, gzip detected by
    /// content), s3://BUCKET[/PREFIX] (a trail bucket: only the accounts, regions and days asked
    /// for are listed), or cloudtrail://REGION (the LookupEvents API: last 90 days of management
    /// events only, 2 requests/s).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat any bad file or record as fatal (exit 5) instead of warning and going on.
    #[arg(long)]
    pub strict: bool,
    /// Largest size one log object may decompress to, e.g. 512MiB or 2GB (default 1GiB). An
    /// object that inflates past it (a gzip bomb, a runaway export) is a failed file, named with
    /// the reason, and the run goes on.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_object_size: Option<u64>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub stream: StreamArgs,
}

const STREAMING: &str = "Streaming";

/// How events stream through the commands that judge them slice by slice (hunt, sessions,
/// timeline, summary, events): memory holds the files in flight, not the whole input.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = STREAMING)]
pub struct StreamArgs {
    /// Read delivery trees this many minutes of delivery time at a time. Output is the same
    /// whatever the slice; shorter slices hold fewer events at once.
    #[arg(long, value_name = "MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub slice_minutes: u32,
    /// How long after an event its log file may be delivered and the event still be judged in
    /// order (CloudTrail usually delivers within 15 minutes). Events delivered later are judged
    /// out of order and counted as late, never dropped.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub max_delay_minutes: u32,
}

impl Default for StreamArgs {
    fn default() -> Self {
        StreamArgs {
            slice_minutes: 60,
            max_delay_minutes: 60,
        }
    }
}

impl StreamArgs {
    pub fn slicing(&self) -> crate::ingest::Slicing {
        let min = 60 * 1000;
        crate::ingest::Slicing {
            slice: i64::from(self.slice_minutes.max(1)) * min,
            lateness: i64::from(self.max_delay_minutes) * min,
        }
    }
}

/// The part of the logs asked about: read only these files, keep only these events.
#[derive(Debug, Args, Default, Clone)]
pub struct ScopeArgs {
    /// Events at or after this time (ISO 8601, or a date meaning midnight UTC). In S3 and in
    /// local trees only the files delivered in the window (padded for delivery delay) are read.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events before this time.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this account (the caller's or the one the event was delivered to); repeatable.
    #[arg(long, value_name = "ID")]
    pub account: Vec<String>,
    /// Only this AWS region's events (and trail folders); repeatable.
    #[arg(long, value_name = "REGION")]
    pub region: Vec<String>,
}

const REMOTE: &str = "S3 and CloudTrail API";

/// How to reach s3:// and cloudtrail:// sources. Credentials come from the usual AWS chain
/// (environment, profile, SSO cache, container or instance role).
#[derive(Debug, Args, Default, Clone)]
pub struct RemoteArgs {
    /// Named profile from the AWS config files.
    #[arg(long, value_name = "NAME", help_heading = REMOTE)]
    pub profile: Option<String>,
    /// Send S3 and CloudTrail calls to URL (an S3-compatible store, an emulator); AWS_ENDPOINT_URL
    /// works too. Implies path-style S3 addressing.
    #[arg(long, value_name = "URL", help_heading = REMOTE)]
    pub endpoint_url: Option<String>,
    /// Region for the S3 client when the bucket's own region cannot be asked (GetBucketLocation
    /// denied); default: the AWS chain.
    #[arg(long, value_name = "REGION", help_heading = REMOTE)]
    pub aws_region: Option<String>,
    /// Virtual-hosted-style S3 addressing even with --endpoint-url.
    #[arg(long, help_heading = REMOTE)]
    pub no_path_style: bool,
    /// Objects fetched and prefixes listed at once.
    #[arg(long, value_name = "N", default_value_t = 32, help_heading = REMOTE)]
    pub concurrency: usize,
}

/// Event filters (beside --since/--until/--account/--region); all given filters must match.
#[derive(Debug, Args, Default, Clone)]
pub struct FilterArgs {
    /// Access key id: calls signed with it, or the call that issued it.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Principal: caller ARN, session issuer (role/user) ARN, or user name.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// Event name, e.g. AssumeRole (repeat for several).
    #[arg(long, value_name = "NAME")]
    pub event_name: Vec<String>,
}

/// A size in bytes: a number with an optional unit, `K`/`KB`/`KiB`, `M`..., `G`... (all powers of
/// 1024), e.g. `512MiB`, `2G`, `1048576`.
/// Output formats of `incidents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IncidentFormat {
    /// One line per incident for people.
    Table,
    /// One incident per line with its findings, chain, timeline, resources and containment.
    Ndjson,
    /// An incident report to paste into a ticket: summary, how access was gained, timeline,
    /// impact, actions.
    Markdown,
}

/// Parses 90m, 6h, 24h, 2d (a bare number is hours) into milliseconds.
pub fn parse_window(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c),
        _ => (t, 'h'),
    };
    let mult: i64 = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(format!("`{s}`: the unit must be s, m, h or d (e.g. 24h)")),
    };
    num.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && *n <= 3650 * 86_400_000 / mult)
        .map(|n| n * mult)
        .ok_or_else(|| format!("`{s}` is not a duration (e.g. 30m, 24h, 2d)"))
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size: use a number of bytes, or e.g. 512MiB, 2GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{}` (valid: K, KiB, M, MiB, G, GiB, T, TiB)",
                unit.trim()
            ))
        }
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if bytes == 0 {
        return Err("the size must be more than 0".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1 KB"), Ok(1024));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12XB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_size("").is_err());
    }
}
