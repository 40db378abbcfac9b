//! `cloudtrail://REGION` -> CloudTrail's LookupEvents API -> the same parser as local files.
//!
//! LookupEvents covers only the last 90 days of management events of one account and region
//! (data events and Insight events are not there), 50 events a page, and allows 2 requests per
//! second per account and region: requests are spaced [`INTERVAL`] apart, and throttling is
//! retried by the SDK with backoff. `--since/--until` become the API's StartTime/EndTime. Each
//! result's `CloudTrailEvent` is the same JSON record as in the S3 files; a page is read as one
//! input named `cloudtrail://REGION page N`.

use super::{failed, parse_bytes, Collector, FileResult, IngestOptions};
use crate::aws::sdk_error;
use aws_sdk_cloudtrail::primitives::DateTime;
use std::time::{Duration, Instant};

/// At most 2 requests per second per account and region.
pub const INTERVAL: Duration = Duration::from_millis(500);
/// Results per page (the API's maximum).
const PAGE: i32 = 50;
const MAX_ATTEMPTS: u32 = 6;

pub(super) fn read(
    region: &str,
    opts: &IngestOptions,
    base: u32,
    collector: &Collector,
) -> Vec<FileResult> {
    let url = format!("cloudtrail://{region}");
    let rt = match crate::aws::runtime() {
        Ok(rt) => rt,
        Err(e) => return vec![failed(&url, format!("cannot start the AWS client: {e}"))],
    };
    let conn = crate::aws::Connection {
        region: Some(region.to_string()),
        ..opts.remote.conn.clone()
    };
    let bar = crate::progress::bar(opts.progress, 0, &url);
    let mut results = Vec::new();
    let mut requests = 0u64;
    let problem = rt.block_on(async {
        let config = crate::aws::load(&conn, MAX_ATTEMPTS).await;
        let client = aws_sdk_cloudtrail::Client::new(&config);
        let mut token: Option<String> = None;
        let mut last: Option<Instant> = None;
        loop {
            if let Some(t) = last {
                let wait = opts.remote.lookup_interval.saturating_sub(t.elapsed());
                tokio::time::sleep(wait).await;
            }
            last = Some(Instant::now());
            let mut req = client
                .lookup_events()
                .max_results(PAGE)
                .set_next_token(token.take());
            if let Some(s) = opts.scope.since {
                req = req.start_time(DateTime::from_millis(s));
            }
            if let Some(u) = opts.scope.until {
                req = req.end_time(DateTime::from_millis(u));
            }
            requests += 1;
            let page = match req.send().await {
                Ok(p) => p,
                Err(e) => {
                    let e = sdk_error(e);
                    return Some(format!(
                        "LookupEvents failed after {requests} requests ({e}){}",
                        if e.code == "AccessDeniedException" || e.code == "AccessDenied" {
                            "; it needs cloudtrail:LookupEvents"
                        } else {
                            ""
                        }
                    ));
                }
            };
            // The page as a JSON array of the records, read like any log file.
            let mut doc = Vec::with_capacity(16 * 1024);
            doc.push(b'[');
            for raw in page.events().iter().filter_map(|e| e.cloud_trail_event()) {
                if doc.len() > 1 {
                    doc.push(b',');
                }
                {
                    doc.extend_from_slice(raw.as_bytes());
                }
            }
            doc.push(b']');
            if !page.events().is_empty() {
                let n = results.len() as u32;
                let name = format!("{url} page {}", n + 1);
                let size = doc.len() as u64;
                bar.inc(size);
                bar.set_message(format!("{url}: {} pages", n + 1));
                results.push(collector.take(base + n, parse_bytes(&name, doc, size, opts)));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return None,
            }
        }
    });
    bar.finish_and_clear();
    // Nothing read at all: the source itself failed.
    let listing = match problem {
        Some(why) if results.is_empty() => {
            let mut r = failed(&url, why);
            r.list_requests = requests;
            r
        }
        Some(why) => super::listing(failed(&url, why).problems, requests),
        None => super::listing(Vec::new(), requests),
    };
    results.insert(0, listing);
    results
}
