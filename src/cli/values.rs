//! How the command line spells the stages' choices (`--format`, `--min-severity`, `--fail-on`):
//! clap's `ValueEnum` for types that `detect`, `report` and `state` own, so that those stages
//! do not depend on clap. Each value's help is what `--help` shows beside it.

use crate::detect::Severity;
use crate::report::findings::FindingFormat;
use crate::report::Format;
use crate::state::report::ReportFormat;
use clap::builder::PossibleValue;
use clap::ValueEnum;

impl ValueEnum for Severity {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Format::Table,
            Format::Ndjson,
            Format::Csv,
            Format::Parquet,
            Format::Timesketch,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Format::Table => PossibleValue::new("table")
                .help("Aligned columns for people (long values are shortened)"),
            Format::Ndjson => PossibleValue::new("ndjson")
                .help("One JSON object per line; keys are the column names"),
            Format::Csv => {
                PossibleValue::new("csv").help("Comma-separated values with a header row")
            }
            Format::Parquet => PossibleValue::new("parquet")
                .help("Apache Parquet (needs --out, or stdout that is not a terminal)"),
            Format::Timesketch => PossibleValue::new("timesketch").help(
                "Timesketch JSON lines (`message`, `datetime`, `timestamp_desc` and the columns): \
events and timeline only",
            ),
        })
    }
}

impl ValueEnum for FindingFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            FindingFormat::Table,
            FindingFormat::Ndjson,
            FindingFormat::Ocsf,
            FindingFormat::Markdown,
            FindingFormat::Timesketch,
            FindingFormat::Asff,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            FindingFormat::Table => PossibleValue::new("table").help("Aligned columns for people"),
            FindingFormat::Ndjson => {
                PossibleValue::new("ndjson").help("One finding per line, the finding's own keys")
            }
            FindingFormat::Ocsf => PossibleValue::new("ocsf").help(
                "One OCSF 1.8.0 Detection Finding (class_uid 2004) JSON object per line",
            ),
            FindingFormat::Markdown => PossibleValue::new("markdown")
                .help("A Markdown report that renders on a code-review site"),
            FindingFormat::Timesketch => PossibleValue::new("timesketch").help(
                "Timesketch JSON lines: `message`, `datetime`, `timestamp_desc` and the finding's keys",
            ),
            FindingFormat::Asff => PossibleValue::new("asff").help(
                "AWS Security Finding Format, one per line (`trailhound securityhub send` imports them)",
            ),
        })
    }
}

impl ValueEnum for ReportFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            ReportFormat::Html,
            ReportFormat::Markdown,
            ReportFormat::Json,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            ReportFormat::Html => {
                PossibleValue::new("html").help("One self-contained HTML file (inline CSS and SVG)")
            }
            ReportFormat::Markdown => {
                PossibleValue::new("markdown").help("GitHub-flavoured Markdown")
            }
            ReportFormat::Json => {
                PossibleValue::new("json").help("The report's content as one JSON document")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value the command line accepts reads back as itself, by the name the stage gives it.
    #[test]
    fn names_round_trip() {
        for s in Severity::value_variants() {
            assert_eq!(Severity::from_str(s.as_str(), false), Ok(*s));
        }
        for f in Format::value_variants() {
            let name = f.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(Format::from_str(&name, false), Ok(*f));
        }
        let names: Vec<String> = FindingFormat::value_variants()
            .iter()
            .map(|f| f.to_possible_value().unwrap().get_name().to_string())
            .collect();
        assert_eq!(
            names,
            ["table", "ndjson", "ocsf", "markdown", "timesketch", "asff"]
        );
        assert_eq!(
            ReportFormat::from_str("markdown", false),
            Ok(ReportFormat::Markdown)
        );
    }
}
