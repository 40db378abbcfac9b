//! Sinks: where rows go. Tables for people, JSON lines / CSV / Parquet for machines.
//!
//! Takes typed rows (events, sessions...) or a polars DataFrame and writes them to stdout or a
//! file. Every listing in trailhound goes through here, so formats behave the same everywhere.

pub mod asff;
pub mod digest;
pub mod findings;
pub mod html;
pub mod incidents;
pub mod markdown;
pub mod ocsf;
pub mod securityhub;
pub mod table;
pub mod timesketch;
pub mod tree;

use crate::error::{Error, Result};
use crate::event::format_iso;
use polars::prelude::*;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Output formats of listings (the command line names them in `src/cli/values.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people (long values are shortened).
    Table,
    /// One JSON object per line; keys are the column names.
    Ndjson,
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet (needs --out, or stdout that is not a terminal).
    Parquet,
    /// Timesketch JSON lines (`message`, `datetime`, `timestamp_desc` and the columns): events
    /// and timeline only.
    Timesketch,
}

/// Where output goes: a file, or stdout.
pub struct Sink {
    path: Option<PathBuf>,
}

impl Sink {
    pub fn new(out: Option<&Path>) -> Sink {
        Sink {
            path: out.map(Path::to_path_buf),
        }
    }

    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string())
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::Output {
            path: self.name(),
            reason: e.to_string(),
        }
    }

    /// Opens the destination; `binary` refuses a terminal.
    pub fn open(&self, binary: bool) -> Result<Box<dyn Write>> {
        match &self.path {
            Some(p) => {
                let f = File::create(p).map_err(|e| self.err(e))?;
                Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
            }
            None => {
                if binary && io::stdout().is_terminal() {
                    return Err(Error::Usage(
                        "Parquet is binary: give --out FILE or redirect stdout".into(),
                    ));
                }
                Ok(Box::new(BufWriter::with_capacity(
                    1 << 16,
                    io::stdout().lock(),
                )))
            }
        }
    }

    /// Writes text, treating a closed pipe (`| head`) as success.
    pub fn write_text(&self, text: &str) -> Result<()> {
        let mut w = self.open(false)?;
        finish(w.write_all(text.as_bytes()).and_then(|_| w.flush()), self)
    }
}

fn finish(r: io::Result<()>, sink: &Sink) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(sink.err(e)),
    }
}

/// JSON lines written as rows come (a streaming listing): a closed pipe (`| head`) ends the
/// writing quietly; the run goes on to its end.
pub struct LineWriter {
    w: Box<dyn Write>,
    name: Sink,
    closed: bool,
}

impl LineWriter {
    pub fn open(sink: &Sink) -> Result<LineWriter> {
        Ok(LineWriter {
            w: sink.open(false)?,
            name: Sink {
                path: sink.path.clone(),
            },
            closed: false,
        })
    }

    pub fn write<T: Serialize>(&mut self, rows: &[T]) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut r = Ok(());
        for row in rows {
            r = serde_json::to_writer(&mut self.w, row)
                .map_err(io::Error::from)
                .and_then(|_| self.w.write_all(b"\n"));
            if r.is_err() {
                break;
            }
        }
        self.check(r)
    }

    pub fn finish(mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.w.flush();
        self.check(r)
    }

    fn check(&mut self, r: io::Result<()>) -> Result<()> {
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(self.name.err(e)),
        }
    }
}

/// Writes serializable rows as JSON lines.
pub fn write_ndjson<T: Serialize>(rows: &[T], sink: &Sink) -> Result<()> {
    let mut w = sink.open(false)?;
    let r = (|| -> io::Result<()> {
        for row in rows {
            serde_json::to_writer(&mut w, row)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    })();
    finish(r, sink)
}

/// Writes a DataFrame in a machine format, or as a table.
pub fn write_frame(df: &mut DataFrame, format: Format, sink: &Sink) -> Result<()> {
    match format {
        Format::Table => sink.write_text(&table::frame_table(df, 60)),
        Format::Ndjson => {
            let mut w = sink.open(false)?;
            let r = (|| -> io::Result<()> {
                for line in frame_json_lines(df) {
                    w.write_all(line.as_bytes())?;
                    w.write_all(b"\n")?;
                }
                w.flush()
            })();
            finish(r, sink)
        }
        Format::Csv => {
            flatten_lists(df)?;
            let mut w = sink.open(false)?;
            let r = CsvWriter::new(&mut w)
                .include_header(true)
                .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S%.3fZ".into()))
                .finish(df);
            match r {
                Ok(()) => finish(w.flush(), sink),
                Err(e) if e.to_string().contains("Broken pipe") => Ok(()),
                Err(e) => Err(sink.err(e)),
            }
        }
        Format::Timesketch => Err(Error::Usage(
            "--format timesketch is for events, timeline and hunt".into(),
        )),
        Format::Parquet => {
            let mut w = sink.open(true)?;
            ParquetWriter::new(&mut w)
                .with_compression(ParquetCompression::Zstd(None))
                .finish(df)
                .map_err(|e| sink.err(e))?;
            finish(w.flush(), sink)
        }
    }
}

/// A cell as JSON: times as ISO 8601 strings, numbers and booleans as themselves.
pub fn any_to_json(v: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        AnyValue::Null => J::Null,
        AnyValue::Boolean(b) => J::Bool(*b),
        AnyValue::String(s) => J::String(s.to_string()),
        AnyValue::StringOwned(s) => J::String(s.to_string()),
        AnyValue::Int8(x) => J::from(*x),
        AnyValue::Int16(x) => J::from(*x),
        AnyValue::Int32(x) => J::from(*x),
        AnyValue::Int64(x) => J::from(*x),
        AnyValue::UInt8(x) => J::from(*x),
        AnyValue::UInt16(x) => J::from(*x),
        AnyValue::UInt32(x) => J::from(*x),
        AnyValue::UInt64(x) => J::from(*x),
        AnyValue::Float32(x) => J::from(*x),
        AnyValue::Float64(x) => J::from(*x),
        AnyValue::Datetime(t, unit, _) | AnyValue::DatetimeOwned(t, unit, _) => {
            J::String(format_iso(to_millis(*t, *unit)))
        }
        AnyValue::List(s) => J::Array(s.iter().map(|x| any_to_json(&x)).collect()),
        other => J::String(other.to_string()),
    }
}

/// A cell as text for tables: no quotes around strings, times as ISO 8601.
pub fn any_to_text(v: &AnyValue) -> String {
    match any_to_json(v) {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

fn to_millis(t: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Nanoseconds => t.div_euclid(1_000_000),
        TimeUnit::Microseconds => t.div_euclid(1_000),
        TimeUnit::Milliseconds => t,
    }
}

/// Rows of a frame as JSON objects, keys in column order.
pub fn frame_json_lines(df: &DataFrame) -> Vec<String> {
    let cols = df.columns();
    let names: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    (0..df.height())
        .map(|i| {
            let mut obj = serde_json::Map::new();
            for (c, name) in cols.iter().zip(&names) {
                let v = c.get(i).unwrap_or(AnyValue::Null);
                obj.insert(name.clone(), any_to_json(&v));
            }
            serde_json::Value::Object(obj).to_string()
        })
        .collect()
}

/// CSV has no nested values: list columns (such as `source_ips`) become space-separated text.
fn flatten_lists(df: &mut DataFrame) -> Result<()> {
    let lists: Vec<String> = df
        .columns()
        .iter()
        .filter(|c| matches!(c.dtype(), DataType::List(_)))
        .map(|c| c.name().to_string())
        .collect();
    for name in lists {
        let col = df.column(&name)?.clone();
        let text: Vec<Option<String>> = (0..col.len())
            .map(
                |i| match any_to_json(&col.get(i).unwrap_or(AnyValue::Null)) {
                    serde_json::Value::Array(items) => Some(
                        items
                            .iter()
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => None,
                },
            )
            .collect();
        df.with_column(Series::new(name.as_str().into(), text).into_column())?;
    }
    Ok(())
}
