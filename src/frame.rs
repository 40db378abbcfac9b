//! Typed rows -> polars DataFrames, and polars SQL over them. The only module that builds frames.
//!
//! polars' Rust API changes between minor versions; it is pinned in Cargo.toml and touched here and
//! in `report::frame_out` only.

use crate::error::{Error, Result};
use crate::event::{Event, COLUMNS};
use crate::graph::{Session, SESSION_COLUMNS};
use polars::prelude::*;
use polars::sql::SQLContext;

/// Rows a frame is built from: one slice, or the slices a lake partition gathered as the events
/// streamed (held as they came, never copied into one vector).
pub trait Rows<T> {
    fn count(&self) -> usize;
    /// The rows, slice by slice.
    fn slices<'a>(&'a self) -> impl Iterator<Item = &'a [T]>
    where
        T: 'a;
}

impl<T> Rows<T> for [T] {
    fn count(&self) -> usize {
        self.len()
    }
    fn slices<'a>(&'a self) -> impl Iterator<Item = &'a [T]>
    where
        T: 'a,
    {
        std::iter::once(self)
    }
}

impl<T> Rows<T> for [Vec<T>] {
    fn count(&self) -> usize {
        self.iter().map(Vec::len).sum()
    }
    fn slices<'a>(&'a self) -> impl Iterator<Item = &'a [T]>
    where
        T: 'a,
    {
        self.iter().map(Vec::as_slice)
    }
}

/// A column's values, one per row (sized up front, each slice copied at once).
fn values<'a, T: 'a, R: Rows<T> + ?Sized, V>(rows: &'a R, f: impl Fn(&'a T) -> V) -> Vec<V> {
    let mut out = Vec::with_capacity(rows.count());
    for slice in rows.slices() {
        out.extend(slice.iter().map(&f));
    }
    out
}

/// The rows' values one after another, slice by slice, the count known up front (the column is
/// sized once).
struct Counted<I> {
    values: I,
    left: usize,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let v = self.values.next()?;
        self.left -= 1;
        Some(v)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// A text column, built straight from the rows (no list of the values in between: a night's
/// lake frames every event once).
pub(crate) fn text<'a, T: 'a, R: Rows<T> + ?Sized>(
    name: &str,
    rows: &'a R,
    f: impl Fn(&'a T) -> Option<&'a str>,
) -> Column {
    let values = Counted {
        values: rows.slices().flat_map(|s| s.iter().map(&f)),
        left: rows.count(),
    };
    StringChunked::from_iter_options(name.into(), values)
        .into_series()
        .into_column()
}

pub(crate) fn flag<T, R: Rows<T> + ?Sized>(
    name: &str,
    rows: &R,
    f: impl Fn(&T) -> Option<bool>,
) -> Column {
    Series::new(name.into(), values(rows, f)).into_column()
}

pub(crate) fn int<T, R: Rows<T> + ?Sized>(
    name: &str,
    rows: &R,
    f: impl Fn(&T) -> Option<i64>,
) -> Column {
    Series::new(name.into(), values(rows, f)).into_column()
}

/// Milliseconds since the epoch -> Datetime(ms, UTC).
pub(crate) fn time<T, R: Rows<T> + ?Sized>(
    name: &str,
    rows: &R,
    f: impl Fn(&T) -> Option<i64>,
) -> Column {
    Series::new(name.into(), values(rows, f))
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

/// The `events` table. Column names and order are [`COLUMNS`].
pub fn events_frame(events: &[Event]) -> Result<DataFrame> {
    events_frame_of(events)
}

/// A column being filled block by block ([`filled`]): a polars column for the frame, or an
/// Arrow array for the lake's own Parquet encoding (`state::encode`).
pub(crate) trait Fill<'a, T, O = Column> {
    fn fill(&mut self, rows: &'a [T]);
    fn done(self: Box<Self>) -> O;
}

/// The columns of `rows`, filled a block of rows at a time, every column from each block while
/// its rows are in the cache (a row is hundreds of bytes: filling a column over all the rows,
/// then the next, read every row once per column). The same columns as one at a time.
pub(crate) fn filled<'a, T: 'a, R: Rows<T> + ?Sized, O>(
    rows: &'a R,
    mut columns: Vec<Box<dyn Fill<'a, T, O> + 'a>>,
) -> Vec<O> {
    const BLOCK: usize = 256;
    for slice in rows.slices() {
        for block in slice.chunks(BLOCK) {
            for c in columns.iter_mut() {
                c.fill(block);
            }
        }
    }
    columns.into_iter().map(|c| c.done()).collect()
}

struct TextFill<F> {
    values: StringChunkedBuilder,
    f: F,
}

impl<'a, T: 'a, F: Fn(&'a T) -> Option<&'a str>> Fill<'a, T> for TextFill<F> {
    fn fill(&mut self, rows: &'a [T]) {
        for r in rows {
            self.values.append_option((self.f)(r));
        }
    }
    fn done(self: Box<Self>) -> Column {
        self.values.finish().into_series().into_column()
    }
}

/// A column of values gathered as they are, made into a column or an array at the end
/// (`make`).
struct ValueFill<V, F, O> {
    name: &'static str,
    values: Vec<V>,
    f: F,
    make: fn(&'static str, Vec<V>) -> O,
}

impl<'a, T: 'a, V, F: Fn(&'a T) -> V, O> Fill<'a, T, O> for ValueFill<V, F, O> {
    fn fill(&mut self, rows: &'a [T]) {
        self.values.extend(rows.iter().map(&self.f));
    }
    fn done(self: Box<Self>) -> O {
        (self.make)(self.name, self.values)
    }
}

/// How each kind of the events table's columns is filled ([`event_columns`]): text columns
/// each kind its own way; flag, integer and time columns as polars makes them, then turned
/// into the kind's column ([`Kinds::series`]).
pub(crate) trait Kinds<'a> {
    /// What a filled column is.
    type Out: 'a;
    /// Rows to be filled.
    fn rows(&self) -> usize;
    fn text(
        &self,
        name: &'static str,
        f: impl Fn(&'a Event) -> Option<&'a str> + 'a,
    ) -> Box<dyn Fill<'a, Event, Self::Out> + 'a>;
    /// A series made by polars, as a filled column.
    fn series(s: Series) -> Self::Out;
    /// A flag or integer column.
    fn value<V: 'a>(
        &self,
        name: &'static str,
        f: impl Fn(&'a Event) -> V + 'a,
    ) -> Box<dyn Fill<'a, Event, Self::Out> + 'a>
    where
        Series: NamedFrom<Vec<V>, [V]>,
    {
        Box::new(ValueFill {
            name,
            values: Vec::with_capacity(self.rows()),
            f,
            make: |name, v| Self::series(Series::new(name.into(), v)),
        })
    }
    /// Milliseconds since the epoch -> Datetime(ms, UTC).
    fn time(
        &self,
        name: &'static str,
        f: impl Fn(&'a Event) -> Option<i64> + 'a,
    ) -> Box<dyn Fill<'a, Event, Self::Out> + 'a> {
        Box::new(ValueFill {
            name,
            values: Vec::with_capacity(self.rows()),
            f,
            make: |name, v| Self::series(datetime_ms(name, v)),
        })
    }
}

/// The events table's columns as polars columns.
struct FrameKinds(usize);

impl<'a> Kinds<'a> for FrameKinds {
    type Out = Column;
    fn rows(&self) -> usize {
        self.0
    }
    fn text(
        &self,
        name: &'static str,
        f: impl Fn(&'a Event) -> Option<&'a str> + 'a,
    ) -> Box<dyn Fill<'a, Event> + 'a> {
        Box::new(TextFill {
            values: StringChunkedBuilder::new(name.into(), self.0),
            f,
        })
    }
    fn series(s: Series) -> Column {
        s.into_column()
    }
}

/// Milliseconds since the epoch -> a Datetime(ms, UTC) series.
fn datetime_ms(name: &'static str, v: Vec<Option<i64>>) -> Series {
    Series::new(name.into(), v).into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

/// The events table's columns, in the order of [`COLUMNS`], each filled the way `k` fills its
/// kind.
pub(crate) fn event_columns<'a, K: Kinds<'a>>(k: &K) -> Vec<Box<dyn Fill<'a, Event, K::Out> + 'a>> {
    let columns = vec![
        k.time("event_time", |e| Some(e.event_time)),
        k.text("event_id", |e| e.event_id.as_deref()),
        k.text("event_name", |e| e.event_name.as_deref()),
        k.text("event_source", |e| e.event_source.as_deref()),
        k.text("aws_region", |e| e.aws_region.as_deref()),
        k.text("source_ip", |e| e.source_ip.as_deref()),
        k.text("user_agent", |e| e.user_agent.as_deref()),
        k.text("error_code", |e| e.error_code.as_deref()),
        k.text("error_message", |e| e.error_message.as_deref()),
        k.value("read_only", |e| e.read_only),
        k.value("management_event", |e| e.management_event),
        k.text("event_type", |e| e.event_type.as_deref()),
        k.text("event_category", |e| e.event_category.as_deref()),
        k.text("recipient_account_id", |e| {
            e.recipient_account_id.as_deref()
        }),
        k.text("shared_event_id", |e| e.shared_event_id.as_deref()),
        k.value("shared_copy", |e| Some(e.shared_copy)),
        k.text("request_id", |e| e.request_id.as_deref()),
        k.text("vpc_endpoint_id", |e| e.vpc_endpoint_id.as_deref()),
        k.text("identity_type", |e| e.identity_type.as_deref()),
        k.text("principal_arn", |e| e.principal_arn.as_deref()),
        k.text("principal_id", |e| e.principal_id.as_deref()),
        k.text("account_id", |e| e.account_id.as_deref()),
        k.text("user_name", |e| e.user_name.as_deref()),
        k.text("access_key_id", |e| e.access_key_id.as_deref()),
        k.text("invoked_by", |e| e.invoked_by.as_deref()),
        k.text("identity_provider", |e| e.identity_provider.as_deref()),
        k.text("session_issuer_type", |e| e.session_issuer_type.as_deref()),
        k.text("session_issuer_arn", |e| e.session_issuer_arn.as_deref()),
        k.text("session_issuer_account_id", |e| {
            e.session_issuer_account_id.as_deref()
        }),
        k.text("session_issuer_user_name", |e| {
            e.session_issuer_user_name.as_deref()
        }),
        k.time("session_created_at", |e| e.session_created_at),
        k.value("mfa_authenticated", |e| e.mfa_authenticated),
        k.text("source_identity", |e| e.source_identity.as_deref()),
        k.text("requested_role_arn", |e| {
            e.sts().requested_role_arn.as_deref()
        }),
        k.text("role_session_name", |e| {
            e.sts().role_session_name.as_deref()
        }),
        k.value("requested_duration_seconds", |e| {
            e.sts().requested_duration_seconds
        }),
        k.text("requested_source_identity", |e| {
            e.sts().requested_source_identity.as_deref()
        }),
        k.text("issued_access_key_id", |e| {
            e.sts().issued_access_key_id.as_deref()
        }),
        k.time("issued_expiration", |e| e.sts().issued_expiration),
        k.text("assumed_role_arn", |e| e.sts().assumed_role_arn.as_deref()),
        k.text("federated_subject", |e| {
            e.sts().federated_subject.as_deref()
        }),
        k.text("federated_provider", |e| {
            e.sts().federated_provider.as_deref()
        }),
        k.text("request_parameters", |e| e.request_parameters.as_deref()),
        k.text("response_elements", |e| e.response_elements.as_deref()),
        k.text("additional_event_data", |e| {
            e.additional_event_data.as_deref()
        }),
        k.value("is_issuing_call", |e| Some(e.is_issuing_call)),
        k.value("is_error", |e| Some(e.is_error)),
        k.text("event_day", |e| Some(&*e.event_day)),
    ];
    debug_assert_eq!(columns.len(), COLUMNS.len());
    columns
}

/// [`events_frame`] of rows held in one slice or in several.
pub fn events_frame_of<R: Rows<Event> + ?Sized>(events: &R) -> Result<DataFrame> {
    let n = events.count();
    Ok(DataFrame::new(
        n,
        filled(events, event_columns(&FrameKinds(n))),
    )?)
}

/// The `sessions` table. Column names and order are [`SESSION_COLUMNS`]. From sessions or
/// references to them (a table written from sessions held elsewhere need not copy them).
pub fn sessions_frame<S: std::borrow::Borrow<Session>>(sessions: &[S]) -> Result<DataFrame> {
    let s = sessions;
    // One builder for every session's addresses (a series per session costs a buffer each).
    let mut ips = ListStringChunkedBuilder::new(
        "source_ips".into(),
        s.len(),
        s.iter().map(|x| x.borrow().source_ips.len()).sum(),
    );
    for x in s {
        ips.append_values_iter(x.borrow().source_ips.iter().map(|i| &**i));
    }
    let columns = vec![
        text("access_key_id", s, |x| Some(&*x.borrow().access_key_id)),
        text("issued_by_api", s, |x| x.borrow().issued_by_api.as_deref()),
        time("issued_at", s, |x| x.borrow().issued_at),
        time("expires_at", s, |x| x.borrow().expires_at),
        text("account", s, |x| x.borrow().account.as_deref()),
        text("role_arn", s, |x| x.borrow().role_arn.as_deref()),
        text("session_name", s, |x| x.borrow().session_name.as_deref()),
        text("caller_arn", s, |x| x.borrow().caller_arn.as_deref()),
        text("caller_type", s, |x| x.borrow().caller_type.as_deref()),
        text("caller_access_key_id", s, |x| {
            x.borrow().caller_access_key_id.as_deref()
        }),
        text("parent_access_key_id", s, |x| {
            x.borrow().parent_access_key_id.as_deref()
        }),
        int("chain_depth", s, |x| {
            Some(i64::from(x.borrow().chain_depth))
        }),
        text("root_principal", s, |x| {
            x.borrow().root_principal.as_deref()
        }),
        flag("chain_complete", s, |x| Some(x.borrow().chain_complete)),
        text("source_identity", s, |x| {
            x.borrow().source_identity.as_deref()
        }),
        flag("mfa_authenticated", s, |x| x.borrow().mfa_authenticated),
        flag("cross_account", s, |x| Some(x.borrow().cross_account)),
        flag("issued_in_window", s, |x| Some(x.borrow().issued_in_window)),
        ips.finish().into_series().into_column(),
        time("first_used", s, |x| x.borrow().first_used),
        time("last_used", s, |x| x.borrow().last_used),
        int("calls", s, |x| Some(x.borrow().calls as i64)),
        int("errors", s, |x| Some(x.borrow().errors as i64)),
    ];
    debug_assert_eq!(columns.len(), SESSION_COLUMNS.len());
    Ok(DataFrame::new(sessions.len(), columns)?)
}

/// Runs polars SQL over named tables.
pub fn sql(tables: Vec<(&str, DataFrame)>, query: &str) -> Result<DataFrame> {
    sql_lazy(
        tables.into_iter().map(|(n, df)| (n, df.lazy())).collect(),
        query,
    )
}

/// Runs polars SQL over named lazy tables (Parquet scans are read as the query needs them).
pub fn sql_lazy(tables: Vec<(&str, LazyFrame)>, query: &str) -> Result<DataFrame> {
    let mut ctx = SQLContext::new();
    for (name, lf) in tables {
        ctx.register(name, lf);
    }
    ctx.execute(query)
        .and_then(|lf| lf.collect())
        .map_err(|e| Error::Query(e.to_string()))
}

/// Events written to Parquet parts in a folder of their own as they stream (one part a slice),
/// then scanned lazily: a query over more events than memory holds. The folder is removed when
/// the spill is dropped.
pub struct Spill {
    dir: std::path::PathBuf,
    parts: Vec<std::path::PathBuf>,
}

impl Spill {
    /// A new spill folder under `base` (the system's temporary folder by default).
    pub fn new(base: Option<&std::path::Path>) -> Result<Spill> {
        let base = base.map_or_else(std::env::temp_dir, std::path::Path::to_path_buf);
        let dir = base.join(format!(
            "trailhound-spill-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| Error::Output {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Spill {
            dir,
            parts: Vec::new(),
        })
    }

    /// Writes a slice of events as the next part.
    pub fn write(&mut self, events: &[Event]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let path = self
            .dir
            .join(format!("part-{:06}.parquet", self.parts.len()));
        let mut df = events_frame(events)?;
        let f = std::fs::File::create(&path).map_err(|e| Error::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        ParquetWriter::new(std::io::BufWriter::new(f))
            .with_compression(ParquetCompression::Lz4Raw)
            .finish(&mut df)
            .map_err(|e| Error::Output {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        self.parts.push(path);
        Ok(())
    }

    /// The events written, as one lazy table in the order written.
    pub fn lazy(&self) -> Result<LazyFrame> {
        if self.parts.is_empty() {
            return Ok(events_frame(&[])?.lazy());
        }
        // The parts are numbered in the order written; the glob lists them in name order.
        let glob = self.dir.join("part-*.parquet");
        LazyFrame::scan_parquet(
            PlRefPath::new(glob.to_string_lossy().as_ref()),
            ScanArgsParquet::default(),
        )
        .map_err(|e| Error::Query(e.to_string()))
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Events back from a frame of the `events` table (as written by [`events_frame`], e.g. read
/// from the Parquet lake), column by column. Text values repeat a lot (accounts, names, ARNs):
/// each column shares one allocation per distinct value.
pub fn events_from_frame(df: &DataFrame) -> std::result::Result<Vec<Event>, String> {
    events_of(df, false)
}

/// The events of a frame that holds some of the events table's columns (`event_time` at
/// least): the fields of the columns it lacks are empty.
pub fn events_from_columns(df: &DataFrame) -> std::result::Result<Vec<Event>, String> {
    events_of(df, true)
}

fn events_of(df: &DataFrame, some_columns: bool) -> std::result::Result<Vec<Event>, String> {
    use crate::event::{Sts, StsCall, Text};
    use std::collections::HashMap;
    use std::sync::Arc;
    let col = |name: &str| -> std::result::Result<Option<&Column>, String> {
        match df.column(name) {
            Ok(c) => Ok(Some(c)),
            Err(_) if some_columns && name != "event_time" => Ok(None),
            Err(e) => Err(format!("column {name}: {e}")),
        }
    };
    let height = df.height();
    let text = |name: &str| -> std::result::Result<std::vec::IntoIter<Option<Text>>, String> {
        let Some(c) = col(name)? else {
            return Ok(vec![None; height].into_iter());
        };
        let ca = c.str().map_err(|e| format!("column {name}: {e}"))?;
        let mut seen: HashMap<&str, Text> = HashMap::new();
        let v: Vec<Option<Text>> = ca
            .iter()
            .map(|v| v.map(|v| seen.entry(v).or_insert_with(|| Arc::from(v)).clone()))
            .collect();
        Ok(v.into_iter())
    };
    let flag = |name: &str| -> std::result::Result<std::vec::IntoIter<Option<bool>>, String> {
        let Some(c) = col(name)? else {
            return Ok(vec![None; height].into_iter());
        };
        let v: Vec<Option<bool>> = c
            .bool()
            .map_err(|e| format!("column {name}: {e}"))?
            .iter()
            .collect();
        Ok(v.into_iter())
    };
    // Datetime(ms) and integer columns alike, as i64.
    let int = |name: &str| -> std::result::Result<std::vec::IntoIter<Option<i64>>, String> {
        let Some(c) = col(name)? else {
            return Ok(vec![None; height].into_iter());
        };
        let c = c
            .cast(&DataType::Int64)
            .map_err(|e| format!("column {name}: {e}"))?;
        let v: Vec<Option<i64>> = c
            .i64()
            .map_err(|e| format!("column {name}: {e}"))?
            .iter()
            .collect();
        Ok(v.into_iter())
    };
    let mut event_time = int("event_time")?;
    let mut event_id = text("event_id")?;
    let mut event_name = text("event_name")?;
    let mut event_source = text("event_source")?;
    let mut aws_region = text("aws_region")?;
    let mut source_ip = text("source_ip")?;
    let mut user_agent = text("user_agent")?;
    let mut error_code = text("error_code")?;
    let mut error_message = text("error_message")?;
    let mut read_only = flag("read_only")?;
    let mut management_event = flag("management_event")?;
    let mut event_type = text("event_type")?;
    let mut event_category = text("event_category")?;
    let mut recipient_account_id = text("recipient_account_id")?;
    let mut shared_event_id = text("shared_event_id")?;
    let mut shared_copy = flag("shared_copy")?;
    let mut request_id = text("request_id")?;
    let mut vpc_endpoint_id = text("vpc_endpoint_id")?;
    let mut identity_type = text("identity_type")?;
    let mut principal_arn = text("principal_arn")?;
    let mut principal_id = text("principal_id")?;
    let mut account_id = text("account_id")?;
    let mut user_name = text("user_name")?;
    let mut access_key_id = text("access_key_id")?;
    let mut invoked_by = text("invoked_by")?;
    let mut identity_provider = text("identity_provider")?;
    let mut session_issuer_type = text("session_issuer_type")?;
    let mut session_issuer_arn = text("session_issuer_arn")?;
    let mut session_issuer_account_id = text("session_issuer_account_id")?;
    let mut session_issuer_user_name = text("session_issuer_user_name")?;
    let mut session_created_at = int("session_created_at")?;
    let mut mfa_authenticated = flag("mfa_authenticated")?;
    let mut source_identity = text("source_identity")?;
    let mut requested_role_arn = text("requested_role_arn")?;
    let mut role_session_name = text("role_session_name")?;
    let mut requested_duration_seconds = int("requested_duration_seconds")?;
    let mut requested_source_identity = text("requested_source_identity")?;
    let mut issued_access_key_id = text("issued_access_key_id")?;
    let mut issued_expiration = int("issued_expiration")?;
    let mut assumed_role_arn = text("assumed_role_arn")?;
    let mut federated_subject = text("federated_subject")?;
    let mut federated_provider = text("federated_provider")?;
    let mut request_parameters = text("request_parameters")?;
    let mut response_elements = text("response_elements")?;
    let mut additional_event_data = text("additional_event_data")?;
    let mut is_issuing_call = flag("is_issuing_call")?;
    let mut is_error = flag("is_error")?;
    let mut event_day = text("event_day")?;
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let sts = StsCall {
            requested_role_arn: requested_role_arn.next().flatten(),
            role_session_name: role_session_name.next().flatten(),
            requested_duration_seconds: requested_duration_seconds.next().flatten(),
            requested_source_identity: requested_source_identity.next().flatten(),
            issued_access_key_id: issued_access_key_id.next().flatten(),
            issued_expiration: issued_expiration.next().flatten(),
            assumed_role_arn: assumed_role_arn.next().flatten(),
            federated_subject: federated_subject.next().flatten(),
            federated_provider: federated_provider.next().flatten(),
        };
        out.push(Event {
            event_time: event_time
                .next()
                .flatten()
                .ok_or_else(|| format!("row {row}: no event_time"))?,
            event_id: event_id.next().flatten(),
            event_name: event_name.next().flatten(),
            event_source: event_source.next().flatten(),
            aws_region: aws_region.next().flatten(),
            source_ip: source_ip.next().flatten(),
            user_agent: user_agent.next().flatten(),
            error_code: error_code.next().flatten(),
            error_message: error_message.next().flatten(),
            read_only: read_only.next().flatten(),
            management_event: management_event.next().flatten(),
            event_type: event_type.next().flatten(),
            event_category: event_category.next().flatten(),
            recipient_account_id: recipient_account_id.next().flatten(),
            shared_event_id: shared_event_id.next().flatten(),
            shared_copy: shared_copy.next().flatten().unwrap_or(false),
            request_id: request_id.next().flatten(),
            vpc_endpoint_id: vpc_endpoint_id.next().flatten(),
            identity_type: identity_type.next().flatten(),
            principal_arn: principal_arn.next().flatten(),
            principal_id: principal_id.next().flatten(),
            account_id: account_id.next().flatten(),
            user_name: user_name.next().flatten(),
            access_key_id: access_key_id.next().flatten(),
            invoked_by: invoked_by.next().flatten(),
            identity_provider: identity_provider.next().flatten(),
            session_issuer_type: session_issuer_type.next().flatten(),
            session_issuer_arn: session_issuer_arn.next().flatten(),
            session_issuer_account_id: session_issuer_account_id.next().flatten(),
            session_issuer_user_name: session_issuer_user_name.next().flatten(),
            session_created_at: session_created_at.next().flatten(),
            mfa_authenticated: mfa_authenticated.next().flatten(),
            source_identity: source_identity.next().flatten(),
            sts: Sts((sts != StsCall::default()).then(|| Box::new(sts))),
            request_parameters: request_parameters.next().flatten(),
            response_elements: response_elements.next().flatten(),
            additional_event_data: additional_event_data.next().flatten(),
            is_issuing_call: is_issuing_call.next().flatten().unwrap_or(false),
            is_error: is_error.next().flatten().unwrap_or(false),
            event_day: event_day.next().flatten().unwrap_or_else(|| Arc::from("")),
            origin: (0, row as u32),
            notes: None,
            rule_hits: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_read_back_from_their_frame_and_parquet_unchanged() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let events = crate::ingest::ingest_paths(&[dir]).unwrap().events;
        let mut df = super::events_frame(&events).unwrap();
        let mut buf = Vec::new();
        polars::prelude::ParquetWriter::new(&mut buf)
            .finish(&mut df)
            .unwrap();
        let df = polars::prelude::ParquetReader::new(std::io::Cursor::new(buf))
            .finish()
            .unwrap();
        let back = super::events_from_frame(&df).unwrap();
        assert_eq!(back.len(), events.len());
        for (a, b) in events.iter().zip(&back) {
            let mut b = b.clone();
            // Not columns: where it was read, and the identity notes the session graph keeps.
            b.origin = a.origin;
            b.notes = a.notes.clone();
            assert_eq!(*a, b);
        }
        assert!(back.iter().any(|e| e.sts().issued_access_key_id.is_some()));
    }

    use super::*;
    use crate::event::{normalize, raw::RawRecord, Interner};

    #[test]
    fn the_events_frame_is_the_same_however_the_rows_are_cut_into_slices_and_blocks() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        let events = crate::ingest::ingest_paths(&[dir]).unwrap().events;
        assert!(events.len() > 1_000, "enough rows for several blocks");
        let whole = events_frame(&events).unwrap();
        // Slices that end inside, on and just past a block of rows.
        let mut slices: Vec<Vec<Event>> = Vec::new();
        let mut rest = events.as_slice();
        for n in [1, 255, 256, 257, 3, 600] {
            let (a, b) = rest.split_at(n.min(rest.len()));
            slices.push(a.to_vec());
            rest = b;
        }
        slices.push(rest.to_vec());
        let cut = events_frame_of(slices.as_slice()).unwrap();
        assert!(whole.equals_missing(&cut));
        // Each text column as built one column at a time over all the rows.
        for (name, f) in [
            (
                "event_id",
                (|e: &Event| e.event_id.as_deref()) as fn(&Event) -> Option<&str>,
            ),
            ("principal_arn", |e: &Event| e.principal_arn.as_deref()),
            ("request_parameters", |e: &Event| {
                e.request_parameters.as_deref()
            }),
            ("event_day", |e: &Event| Some(&*e.event_day)),
        ] {
            let one = text(name, events.as_slice(), f);
            assert!(whole.column(name).unwrap().equals_missing(&one), "{name}");
        }
    }

    #[test]
    fn events_frame_has_the_documented_columns() {
        let raw: RawRecord = serde_json::from_str(
            r#"{"eventTime":"2020-01-01T00:00:00Z","eventName":"ListBuckets","readOnly":true}"#,
        )
        .unwrap();
        let ev = normalize(&raw, &mut Interner::default()).unwrap();
        let df = events_frame(&[ev.clone(), ev]).unwrap();
        let names: Vec<&str> = df
            .get_column_names()
            .into_iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(names, COLUMNS);
        let out = sql(
            vec![("events", df)],
            "SELECT event_name, count(*) AS n FROM events GROUP BY event_name",
        )
        .unwrap();
        assert_eq!(out.height(), 1);
    }
}
