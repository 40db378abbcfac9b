//! Typed rows -> polars DataFrames, and polars SQL over them. The only module that builds frames.
//!
//! polars' Rust API changes between minor versions; it is pinned in Cargo.toml and touched here and
//! in `report::frame_out` only.

use crate::error::{Error, Result};
use crate::event::{Event, COLUMNS};
use crate::graph::{Session, SESSION_COLUMNS};
use polars::prelude::*;
use polars::sql::SQLContext;

pub(crate) fn text<'a, T: 'a>(
    name: &str,
    rows: &'a [T],
    f: impl Fn(&'a T) -> Option<&'a str>,
) -> Column {
    Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into_column()
}

pub(crate) fn flag<T>(name: &str, rows: &[T], f: impl Fn(&T) -> Option<bool>) -> Column {
    Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into_column()
}

pub(crate) fn int<T>(name: &str, rows: &[T], f: impl Fn(&T) -> Option<i64>) -> Column {
    Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>()).into_column()
}

/// Milliseconds since the epoch -> Datetime(ms, UTC).
pub(crate) fn time<T>(name: &str, rows: &[T], f: impl Fn(&T) -> Option<i64>) -> Column {
    Series::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

/// The `events` table. Column names and order are [`COLUMNS`].
pub fn events_frame(events: &[Event]) -> Result<DataFrame> {
    let e = events;
    let columns = vec![
        time("event_time", e, |e| Some(e.event_time)),
        text("event_id", e, |e| e.event_id.as_deref()),
        text("event_name", e, |e| e.event_name.as_deref()),
        text("event_source", e, |e| e.event_source.as_deref()),
        text("aws_region", e, |e| e.aws_region.as_deref()),
        text("source_ip", e, |e| e.source_ip.as_deref()),
        text("user_agent", e, |e| e.user_agent.as_deref()),
        text("error_code", e, |e| e.error_code.as_deref()),
        text("error_message", e, |e| e.error_message.as_deref()),
        flag("read_only", e, |e| e.read_only),
        flag("management_event", e, |e| e.management_event),
        text("event_type", e, |e| e.event_type.as_deref()),
        text("event_category", e, |e| e.event_category.as_deref()),
        text("recipient_account_id", e, |e| {
            e.recipient_account_id.as_deref()
        }),
        text("shared_event_id", e, |e| e.shared_event_id.as_deref()),
        flag("shared_copy", e, |e| Some(e.shared_copy)),
        text("request_id", e, |e| e.request_id.as_deref()),
        text("vpc_endpoint_id", e, |e| e.vpc_endpoint_id.as_deref()),
        text("identity_type", e, |e| e.identity_type.as_deref()),
        text("principal_arn", e, |e| e.principal_arn.as_deref()),
        text("principal_id", e, |e| e.principal_id.as_deref()),
        text("account_id", e, |e| e.account_id.as_deref()),
        text("user_name", e, |e| e.user_name.as_deref()),
        text("access_key_id", e, |e| e.access_key_id.as_deref()),
        text("invoked_by", e, |e| e.invoked_by.as_deref()),
        text("identity_provider", e, |e| e.identity_provider.as_deref()),
        text("session_issuer_type", e, |e| {
            e.session_issuer_type.as_deref()
        }),
        text("session_issuer_arn", e, |e| e.session_issuer_arn.as_deref()),
        text("session_issuer_account_id", e, |e| {
            e.session_issuer_account_id.as_deref()
        }),
        text("session_issuer_user_name", e, |e| {
            e.session_issuer_user_name.as_deref()
        }),
        time("session_created_at", e, |e| e.session_created_at),
        flag("mfa_authenticated", e, |e| e.mfa_authenticated),
        text("source_identity", e, |e| e.source_identity.as_deref()),
        text("requested_role_arn", e, |e| {
            e.sts().requested_role_arn.as_deref()
        }),
        text("role_session_name", e, |e| {
            e.sts().role_session_name.as_deref()
        }),
        int("requested_duration_seconds", e, |e| {
            e.sts().requested_duration_seconds
        }),
        text("requested_source_identity", e, |e| {
            e.sts().requested_source_identity.as_deref()
        }),
        text("issued_access_key_id", e, |e| {
            e.sts().issued_access_key_id.as_deref()
        }),
        time("issued_expiration", e, |e| e.sts().issued_expiration),
        text("assumed_role_arn", e, |e| {
            e.sts().assumed_role_arn.as_deref()
        }),
        text("federated_subject", e, |e| {
            e.sts().federated_subject.as_deref()
        }),
        text("federated_provider", e, |e| {
            e.sts().federated_provider.as_deref()
        }),
        text("request_parameters", e, |e| e.request_parameters.as_deref()),
        text("response_elements", e, |e| e.response_elements.as_deref()),
        text("additional_event_data", e, |e| {
            e.additional_event_data.as_deref()
        }),
        flag("is_issuing_call", e, |e| Some(e.is_issuing_call)),
        flag("is_error", e, |e| Some(e.is_error)),
        text("event_day", e, |e| Some(&*e.event_day)),
    ];
    debug_assert_eq!(columns.len(), COLUMNS.len());
    Ok(DataFrame::new(events.len(), columns)?)
}

/// The `sessions` table. Column names and order are [`SESSION_COLUMNS`].
pub fn sessions_frame(sessions: &[Session]) -> Result<DataFrame> {
    let s = sessions;
    let ips: Vec<Series> = s
        .iter()
        .map(|x| {
            Series::new(
                "".into(),
                x.source_ips.iter().map(|i| &**i).collect::<Vec<&str>>(),
            )
        })
        .collect();
    let columns = vec![
        text("access_key_id", s, |x| Some(&*x.access_key_id)),
        text("issued_by_api", s, |x| x.issued_by_api.as_deref()),
        time("issued_at", s, |x| x.issued_at),
        time("expires_at", s, |x| x.expires_at),
        text("account", s, |x| x.account.as_deref()),
        text("role_arn", s, |x| x.role_arn.as_deref()),
        text("session_name", s, |x| x.session_name.as_deref()),
        text("caller_arn", s, |x| x.caller_arn.as_deref()),
        text("caller_type", s, |x| x.caller_type.as_deref()),
        text("caller_access_key_id", s, |x| {
            x.caller_access_key_id.as_deref()
        }),
        text("parent_access_key_id", s, |x| {
            x.parent_access_key_id.as_deref()
        }),
        int("chain_depth", s, |x| Some(i64::from(x.chain_depth))),
        text("root_principal", s, |x| x.root_principal.as_deref()),
        flag("chain_complete", s, |x| Some(x.chain_complete)),
        text("source_identity", s, |x| x.source_identity.as_deref()),
        flag("mfa_authenticated", s, |x| x.mfa_authenticated),
        flag("cross_account", s, |x| Some(x.cross_account)),
        flag("issued_in_window", s, |x| Some(x.issued_in_window)),
        Series::new("source_ips".into(), ips).into_column(),
        time("first_used", s, |x| x.first_used),
        time("last_used", s, |x| x.last_used),
        int("calls", s, |x| Some(x.calls as i64)),
        int("errors", s, |x| Some(x.errors as i64)),
    ];
    debug_assert_eq!(columns.len(), SESSION_COLUMNS.len());
    Ok(DataFrame::new(sessions.len(), columns)?)
}

/// Runs polars SQL over named tables.
pub fn sql(tables: Vec<(&str, DataFrame)>, query: &str) -> Result<DataFrame> {
    let mut ctx = SQLContext::new();
    for (name, df) in tables {
        ctx.register(name, df.lazy());
    }
    ctx.execute(query)
        .and_then(|lf| lf.collect())
        .map_err(|e| Error::Query(e.to_string()))
}

/// Events back from a frame of the `events` table (as written by [`events_frame`], e.g. read
/// from the Parquet lake): polars writes the rows as JSON lines, which read back as events.
pub fn events_from_frame(df: &DataFrame) -> std::result::Result<Vec<Event>, String> {
    use rayon::prelude::*;
    let mut df = df.clone();
    let mut buf = Vec::with_capacity(df.height() * 1024);
    JsonWriter::new(&mut buf)
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut df)
        .map_err(|e| e.to_string())?;
    let lines: Vec<&[u8]> = buf
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .par_iter()
        .enumerate()
        .map(|(i, l)| {
            let mut e: Event = serde_json::from_slice(l).map_err(|e| format!("row {i}: {e}"))?;
            e.origin = (0, i as u32);
            Ok(e)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{normalize, raw::RawRecord, Interner};

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
