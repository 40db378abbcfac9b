//! `s3://bucket[/prefix]` -> the log objects the question needs -> the same parser as local files.
//!
//! The listing is planned from CloudTrail's key layout,
//! `[prefix/]AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`: accounts and
//! regions are discovered with delimiter listings (one level at a time), then only the day
//! folders inside the padded window (see [`super::scope`]) are listed, never the whole bucket.
//! `CloudTrail-Digest/` and `CloudTrail-Insight/` folders are never listed. A prefix that does
//! not follow the layout is listed in full.
//!
//! Objects are fetched by a small tokio runtime on its own thread, at most
//! [`super::Remote::concurrency`] at once, and handed to rayon workers to decompress and parse as
//! they arrive. The SDK retries throttling and transient errors with exponential backoff; a
//! body cut off mid-transfer is fetched again. A missing bucket, AccessDenied or an object that
//! fails is a problem naming the bucket and key; the rest is read.

use super::{failed, parse_bytes, Collector, FileResult, IngestOptions, Outcome, Problem};
use crate::aws::{sdk_error, CallError};
use aws_sdk_s3::Client;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Attempts per request, the SDK's backoff between them.
const MAX_ATTEMPTS: u32 = 5;
/// Extra attempts when a body is cut off after the response started.
const BODY_ATTEMPTS: u32 = 3;

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Object>,
    pub problems: Vec<Problem>,
    /// ListObjectsV2 requests made (one per page).
    pub requests: u64,
    /// The prefixes listed, in order (for `--verbose` style reporting and tests).
    pub prefixes: Vec<String>,
}

/// Reads a bucket (or a prefix of it) within the run's scope.
pub(super) fn read(
    bucket: &str,
    prefix: &str,
    opts: &IngestOptions,
    base: u32,
    collector: &Collector,
) -> Vec<FileResult> {
    let opened = match Bucket::open(bucket, prefix, opts) {
        Ok(o) => o,
        Err(failed) => return vec![*failed],
    };
    let Bucket { objects, .. } = &opened;
    let all: Vec<(u32, &Object)> = (0..).zip(objects).map(|(i, o)| (base + i, o)).collect();
    let mut results = opened.read(&all, opts, collector);
    results.insert(0, opened.listing_result());
    results
}

/// A bucket listed for reading: its client, the objects to read (in key order) and what the
/// listing cost. A streaming read fetches its objects a delivery window at a time.
pub(super) struct Bucket {
    rt: tokio::runtime::Runtime,
    client: Client,
    name: String,
    pub objects: Vec<Object>,
    problems: Vec<Problem>,
    requests: u64,
    known: u64,
    bar: indicatif::ProgressBar,
}

impl Bucket {
    /// Connects and lists; the bucket that cannot be listed at all is one failed input.
    pub(super) fn open(
        bucket: &str,
        prefix: &str,
        opts: &IngestOptions,
    ) -> Result<Bucket, Box<FileResult>> {
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let rt = crate::aws::runtime()
            .map_err(|e| Box::new(failed(&url, format!("cannot start the AWS client: {e}"))))?;
        let client = rt
            .block_on(connect(bucket, opts))
            .map_err(|e| Box::new(failed(&url, describe(bucket, &e))))?;
        let bar = crate::progress::bar(opts.progress, 0, &format!("listing s3://{bucket}"));
        let listing = rt.block_on(plan(&client, bucket, prefix, opts, &bar));
        // The bucket itself could not be listed: one failed input.
        if listing.objects.is_empty() && listing.problems.iter().any(|p| p.file_failed) {
            bar.finish_and_clear();
            let mut r = super::listing(listing.problems, listing.requests);
            r.outcome = Outcome::Failed;
            return Err(Box::new(r));
        }
        let mut objects = listing.objects;
        let mut known = 0;
        if let Some(have) = &opts.track {
            let before = objects.len();
            objects.retain(|o| !have.contains(&format!("s3://{bucket}/{}", o.key)));
            known = (before - objects.len()) as u64;
            // Without the manifest of a prefix listed, its old objects would be read as new:
            // none is read (and `report` stops before its commit, naming the manifest).
            if let Some(e) = have.failed() {
                bar.finish_and_clear();
                return Err(Box::new(failed(
                    &url,
                    format!("reading the state's manifest: {e}"),
                )));
            }
        }
        let total: u64 = objects.iter().map(|o| o.size).sum();
        bar.set_length(total);
        bar.set_message(format!(
            "s3://{bucket}: {} prefixes listed, {} objects",
            listing.prefixes.len(),
            objects.len()
        ));
        Ok(Bucket {
            rt,
            client,
            name: bucket.to_string(),
            objects,
            problems: listing.problems,
            requests: listing.requests,
            known,
            bar,
        })
    }

    /// The listing's own result: its requests, problems and the objects the manifest had.
    pub(super) fn listing_result(&self) -> FileResult {
        let mut r = super::listing(self.problems.clone(), self.requests);
        r.known = self.known;
        r
    }

    /// Fetches and parses these objects (numbered for the event order), at most
    /// [`super::Remote::concurrency`] at once, into the collector.
    pub(super) fn read(
        &self,
        objects: &[(u32, &Object)],
        opts: &IngestOptions,
        collector: &Collector,
    ) -> Vec<FileResult> {
        let bucket = self.name.as_str();
        let concurrency = opts.remote.concurrency.max(1);
        // Fetched bodies wait in a bounded queue, so a slow parser slows the fetching down
        // instead of holding the bucket in memory.
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<(usize, Result<Vec<u8>, String>)>(concurrency);
        let keys: Vec<&str> = objects.iter().map(|(_, o)| o.key.as_str()).collect();
        let fetched = std::thread::scope(|s| {
            let (keys, client, rt) = (&keys, &self.client, &self.rt);
            s.spawn(move || {
                rt.block_on(fetch_all(client, bucket, keys, concurrency, tx));
            });
            rx.into_iter()
                .par_bridge()
                .map(|(i, body)| {
                    let (n, o) = objects[i];
                    let name = format!("s3://{bucket}/{}", o.key);
                    let mut r = match body {
                        Ok(data) => {
                            let len = data.len() as u64;
                            parse_bytes(&name, data, len, opts)
                        }
                        Err(why) => failed(&name, why),
                    };
                    self.bar.inc(o.size);
                    if opts.track.is_some() {
                        r.mark_processed(&name, o.size);
                    }
                    collector.take(n, r)
                })
                .collect::<Vec<_>>()
        });
        fetched
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// An S3 client for the bucket's own region (asked with GetBucketLocation; the configured
/// region when that is not allowed), path-style with an endpoint override unless told otherwise.
async fn connect(bucket: &str, opts: &IngestOptions) -> Result<Client, CallError> {
    let conn = &opts.remote.conn;
    let base = crate::aws::load(conn, MAX_ATTEMPTS).await;
    let path_style = opts.remote.path_style.unwrap_or(conn.endpoint().is_some());
    let config = |region: Option<String>| {
        let mut b = aws_sdk_s3::config::Builder::from(&base).force_path_style(path_style);
        if let Some(r) = region {
            b = b.region(aws_sdk_s3::config::Region::new(r));
        }
        b.build()
    };
    let probe = Client::from_conf(config(None));
    match probe.get_bucket_location().bucket(bucket).send().await {
        Ok(out) => {
            let region = match out.location_constraint().map(|c| c.as_str()) {
                None | Some("") => "us-east-1".to_string(),
                Some("EU") => "eu-west-1".to_string(),
                Some(r) => r.to_string(),
            };
            let same = base.region().map(|r| r.as_ref()) == Some(region.as_str());
            Ok(if same {
                probe
            } else {
                Client::from_conf(config(Some(region)))
            })
        }
        Err(e) => {
            let e = sdk_error(e);
            match e.code.as_str() {
                // Reading logs needs only List and Get: go on in the configured region.
                "AccessDenied" | "AllAccessDisabled" => Ok(probe),
                _ => Err(e),
            }
        }
    }
}

/// A clear reason for a failed S3 call (the bucket or key is named by the problem itself).
fn describe(bucket: &str, e: &CallError) -> String {
    match e.code.as_str() {
        "NoSuchBucket" => "the bucket does not exist (NoSuchBucket)".to_string(),
        "AccessDenied" | "AllAccessDisabled" | "Forbidden" => format!(
            "access denied ({}); reading logs needs s3:ListBucket on arn:aws:s3:::{bucket} and s3:GetObject on its objects{}",
            e.code,
            if e.message.is_empty() { String::new() } else { format!(" ({})", e.message) }
        ),
        "NoSuchKey" => "the object is gone (NoSuchKey)".to_string(),
        "PermanentRedirect" | "AuthorizationHeaderMalformed" => format!(
            "the bucket {bucket} is in another region ({e}); give --aws-region"
        ),
        _ => e.to_string(),
    }
}

/// Lists what to read, level by level down the key layout.
pub async fn plan(
    client: &Client,
    bucket: &str,
    prefix: &str,
    opts: &IngestOptions,
    bar: &indicatif::ProgressBar,
) -> Listing {
    let lister = Lister {
        bar,
        client,
        bucket,
        requests: AtomicU64::new(0),
        gate: Arc::new(Semaphore::new(opts.remote.concurrency.max(1))),
    };
    let scope = &opts.scope;
    let mut out = Listing::default();
    // A single object named in full.
    if prefix.ends_with(".gz") || prefix.ends_with(".json") {
        out.objects.push(Object {
            key: prefix.to_string(),
            size: 0,
        });
        return out;
    }
    let mut prefix = prefix.to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    // Where the layout starts: at or under the prefix.
    let segs: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    let at = segs.iter().rposition(|s| *s == "AWSLogs");
    // Prefixes listed in full (with the file filter), and the key to start after, if any.
    let mut flat: Vec<(String, Option<String>)> = Vec::new();
    let mut region_roots: Vec<(String, Vec<String>)> = Vec::new(); // ".../CloudTrail/<region>/", date parts given
    let first_error = |out: &mut Listing, p: &str, e: CallError| {
        out.problems.push(Problem {
            file: format!("s3://{bucket}/{p}")
                .trim_end_matches('/')
                .to_string(),
            location: None,
            reason: describe(bucket, &e),
            file_failed: true,
        });
    };
    let logs_root = match at {
        Some(i) => Some((segs[..=i].join("/") + "/", segs[i + 1..].to_vec())),
        None => match lister.list(&prefix, true).await {
            Err(e) => {
                first_error(&mut out, &prefix, e);
                out.requests = lister.requests.load(Ordering::Relaxed);
                return out;
            }
            Ok((dirs, _)) => {
                out.prefixes.push(prefix.clone());
                let root = format!("{prefix}AWSLogs/");
                if dirs.contains(&root) {
                    Some((root, Vec::new()))
                } else {
                    flat.push((prefix.clone(), None));
                    None
                }
            }
        },
    };
    if let Some((root, rest)) = logs_root {
        // Accounts (and organization folders).
        let mut accounts: Vec<(String, Vec<&str>)> = Vec::new(); // (".../<account>/", rest after it)
        match rest.first() {
            Some(org) if org.starts_with("o-") && rest.len() == 1 => {
                let p = format!("{root}{org}/");
                match lister.list(&p, true).await {
                    Ok((dirs, _)) => {
                        out.prefixes.push(p.clone());
                        accounts.extend(dirs.into_iter().map(|d| (d, Vec::new())));
                    }
                    Err(e) => first_error(&mut out, &p, e),
                }
            }
            Some(org) if org.starts_with("o-") => {
                accounts.push((format!("{root}{org}/{}/", rest[1]), rest[2..].to_vec()))
            }
            Some(acct) => accounts.push((format!("{root}{acct}/"), rest[1..].to_vec())),
            None => match lister.list(&root, true).await {
                Ok((dirs, _)) => {
                    out.prefixes.push(root.clone());
                    for d in dirs {
                        let name = last_segment(&d);
                        if name.starts_with("o-") {
                            match lister.list(&d, true).await {
                                Ok((more, _)) => {
                                    out.prefixes.push(d.clone());
                                    accounts.extend(more.into_iter().map(|a| (a, Vec::new())));
                                }
                                Err(e) => first_error(&mut out, &d, e),
                            }
                        } else {
                            accounts.push((d, Vec::new()));
                        }
                    }
                }
                Err(e) => first_error(&mut out, &root, e),
            },
        }
        accounts.retain(|(a, _)| scope.wants_account(last_segment(a)));
        // Regions of each account, listed at once.
        let mut to_list = Vec::new();
        for (acct, rest) in &accounts {
            match rest.first() {
                None => to_list.push(format!("{acct}CloudTrail/")),
                Some(&"CloudTrail") => match rest.get(1) {
                    None => to_list.push(format!("{acct}CloudTrail/")),
                    Some(region) => region_roots.push((
                        format!("{acct}CloudTrail/{region}/"),
                        rest[2..].iter().map(|s| s.to_string()).collect(),
                    )),
                },
                // CloudTrail-Digest, CloudTrail-Insight, other services: not trail logs.
                Some(_) => {}
            }
        }
        let to_list: Vec<(String, Option<String>)> =
            to_list.into_iter().map(|p| (p, None)).collect();
        for (p, r) in lister.list_many(&to_list, true).await {
            match r {
                Ok((dirs, _)) => {
                    out.prefixes.push(p);
                    region_roots.extend(dirs.into_iter().map(|d| (d, Vec::new())));
                }
                Err(e) => first_error(&mut out, &p, e),
            }
        }
        region_roots.retain(|(r, _)| scope.wants_region(last_segment(r)));
        // Day folders inside the window, else each region in full.
        let days = scope.days(chrono::Utc::now().timestamp_millis());
        for (region, date) in &region_roots {
            if !date.is_empty() {
                flat.push((format!("{region}{}/", date.join("/")), None));
                continue;
            }
            match &days {
                Some(days) => {
                    // Keys in a day folder sort by delivery time: the first day is listed from
                    // the first file that can be in the window.
                    let first = scope
                        .since
                        .and_then(|s| first_key(region, s - super::scope::EARLY));
                    flat.extend(days.iter().enumerate().map(|(i, d)| {
                        let p = format!("{region}{}", super::scope::day_prefix(*d));
                        let after = (i == 0)
                            .then(|| first.as_ref().map(|k| format!("{p}{k}")))
                            .flatten();
                        (p, after)
                    }))
                }
                None => flat.push((region.clone(), None)),
            }
        }
    }
    for (p, r) in lister.list_many(&flat, false).await {
        match r {
            Ok((_, objects)) => {
                out.prefixes.push(p);
                out.objects.extend(objects.into_iter().filter(|o| {
                    super::source::skip_by_key(&o.key).is_none() && scope.wants_file(&o.key)
                }));
            }
            Err(e) => first_error(&mut out, &p, e),
        }
    }
    out.objects.sort();
    out.objects.dedup();
    out.requests = lister.requests.load(Ordering::Relaxed);
    out
}

/// The name prefix of files delivered at `t` under a region folder
/// (`.../AWSLogs/[o-x/]<account>/CloudTrail/<region>/`): `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>`.
fn first_key(region_root: &str, t: crate::event::Millis) -> Option<String> {
    let segs: Vec<&str> = region_root
        .trim_end_matches('/')
        .rsplit('/')
        .take(3)
        .collect();
    let [region, trail, account] = segs[..] else {
        return None;
    };
    if trail != "CloudTrail" {
        return None;
    }
    let when = chrono::DateTime::from_timestamp_millis(t)?;
    Some(format!(
        "{account}_CloudTrail_{region}_{}",
        when.format("%Y%m%dT%H%MZ")
    ))
}

fn last_segment(prefix: &str) -> &str {
    prefix
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(prefix)
}

struct Lister<'a> {
    client: &'a Client,
    bucket: &'a str,
    requests: AtomicU64,
    gate: Arc<Semaphore>,
    /// Shows the requests made and keys found while listing.
    bar: &'a indicatif::ProgressBar,
}

type Page = (Vec<String>, Vec<Object>);

impl Lister<'_> {
    /// Every page under `prefix`: the sub-folders (with `delimited`) and the objects.
    async fn list(&self, prefix: &str, delimited: bool) -> Result<Page, CallError> {
        self.list_after(prefix, delimited, None).await
    }

    /// Every page under `prefix`, starting after the key `after` when given.
    async fn list_after(
        &self,
        prefix: &str,
        delimited: bool,
        after: Option<&str>,
    ) -> Result<Page, CallError> {
        let _permit = self.gate.acquire().await.ok();
        let (mut dirs, mut objects) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .client
                .list_objects_v2()
                .bucket(self.bucket)
                .prefix(prefix)
                .set_start_after(after.map(str::to_string))
                .set_continuation_token(token.take());
            if delimited {
                req = req.delimiter("/");
            }
            let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!(
                "listing s3://{}: {n} list requests, at {prefix}",
                self.bucket
            ));
            let page = req.send().await.map_err(sdk_error)?;
            dirs.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|c| c.prefix().map(str::to_string)),
            );
            objects.extend(page.contents().iter().filter_map(|o| {
                Some(Object {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                })
            }));
            match page.next_continuation_token() {
                Some(t) if page.is_truncated().unwrap_or(false) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok((dirs, objects))
    }

    /// Lists several prefixes at once (bounded by the gate); results in the order given.
    async fn list_many(
        &self,
        prefixes: &[(String, Option<String>)],
        delimited: bool,
    ) -> Vec<(String, Result<Page, CallError>)> {
        let futures = prefixes.iter().map(|(p, after)| async move {
            let r = self.list_after(p, delimited, after.as_deref()).await;
            (p.clone(), r)
        });
        futures_util::future::join_all(futures).await
    }
}

/// Fetches every object, at most `concurrency` at once, sending each body (or the reason it
/// could not be had) as it arrives.
async fn fetch_all(
    client: &Client,
    bucket: &str,
    keys: &[&str],
    concurrency: usize,
    tx: std::sync::mpsc::SyncSender<(usize, Result<Vec<u8>, String>)>,
) {
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, key) in keys.iter().enumerate() {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let bucket = bucket.to_string();
        let key = key.to_string();
        let tx = tx.clone();
        tasks.spawn(async move {
            let body = fetch(&client, &bucket, &key).await;
            // The queue is bounded: wait for a parser without blocking the runtime. The permit
            // is held until then, so at most `concurrency` bodies wait outside the queue.
            let _ = tokio::task::spawn_blocking(move || tx.send((i, body))).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

async fn fetch(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| describe(bucket, &sdk_error(e)))?;
        match out.body.collect().await {
            Ok(b) => return Ok(b.into_bytes().to_vec()),
            Err(e) if attempt < BODY_ATTEMPTS => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            Err(e) => return Err(format!("the transfer broke off {attempt} times ({e})")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_day_is_listed_from_the_first_file_that_can_be_in_the_window() {
        let t = crate::event::parse_iso("2026-03-19T23:45:00Z").unwrap();
        assert_eq!(
            super::first_key("AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/", t).as_deref(),
            Some("111122223333_CloudTrail_eu-west-1_20260319T2345Z")
        );
        // A file of that minute sorts after it, an earlier one before.
        let after = "111122223333_CloudTrail_eu-west-1_20260319T2345Z";
        assert!("111122223333_CloudTrail_eu-west-1_20260319T2345Z_Ab.json.gz" > after);
        assert!("111122223333_CloudTrail_eu-west-1_20260319T2340Z_Ab.json.gz" < after);
        assert_eq!(super::first_key("logs/2026/", t), None);
    }
}
