//! The state directory of scheduled runs: what was read, what was found, what is normal.
//!
//! ```text
//! STATE/
//!   state.json                      committed runs and forgotten baselines (the commit point)
//!   manifest/<run>.tsv              log objects a run processed: name <TAB> size
//!   settled/<run>.tsv               local CloudTrail day folders not listed again while
//!                                   unchanged (`ingest::settle`): folder, mtime, files
//!   baselines.json                  each principal's profile (derived; `baseline show`)
//!   engine/<run>.msgpack.zst        the engine's state after the last committed run: sessions
//!                                   (issuing call and usage of each key), detection state
//!                                   (baselines, open windows), profiles; the next run goes on
//!                                   from it and reads only new objects (MessagePack in zstd;
//!                                   `<run>.json.gz`, gzipped JSON, from earlier versions, is
//!                                   read too)
//!   lake/events/account=A/date=D/<run>.parquet     normalized events, one part per run
//!   lake/sessions/account=A/date=D/<run>.parquet   sessions first used or issued in a run
//!   lake/findings/account=A/date=D/<run>.parquet   findings reported by a run
//! ```
//!
//! The lake is Hive-partitioned Parquet (zstd): polars, DuckDB, Athena or Spark read
//! `lake/events/**/*.parquet` as is. Every file is written to a temporary name and renamed into
//! place; a run becomes visible only when `state.json` naming it is renamed into place, last.
//! Parts and manifests of a run that never committed (a crash, a kill) are ignored and removed
//! by the next run, which then reads the same objects again.

pub mod baseline;
pub mod merge;
pub mod report;

use crate::error::{Error, Result};
use crate::event::{Event, Millis};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;

/// The engine state's file name after the run id: MessagePack (fields by name, so that
/// optional fields may be left out and added), compressed with zstd.
const ENGINE_EXT: &str = ".msgpack.zst";
/// zstd's fastest level but one: the state compresses about 8 to 1 in a fraction of the time
/// gzip took for 5 to 1.
const ENGINE_ZSTD_LEVEL: i32 = 1;

/// An engine state file: this version's, or the gzipped JSON of earlier ones.
fn is_engine_file(name: &str) -> bool {
    name.ends_with(ENGINE_EXT) || name.ends_with(".json.gz")
}

/// One committed run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub inputs: Vec<String>,
    pub objects: u64,
    pub events: u64,
    pub findings: u64,
    /// Latest event time read by this run (ms), if any.
    pub last_event: Option<Millis>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    version: u32,
    runs: Vec<RunRecord>,
    /// Principal -> time of `baseline forget`: history before it is not used for them.
    #[serde(default)]
    forgotten: BTreeMap<String, Millis>,
}

/// What a run leaves for the next one to go on from (`engine/<run>.msgpack.zst`).
#[derive(Serialize, Deserialize)]
pub struct SavedEngine {
    /// When the run that saved it started.
    pub saved_at: Millis,
    pub graph: crate::graph::SavedGraph,
    pub detector: crate::detect::SavedDetector,
    pub profiles: baseline::Profiles,
}

/// A [`SavedEngine`] as written, borrowing the graph (written the same, read back as a
/// [`SavedEngine`]).
#[derive(Serialize)]
pub struct SavingEngine<'a> {
    pub saved_at: Millis,
    pub graph: crate::graph::SavedGraphRef<'a>,
    pub detector: crate::detect::SavedDetector,
    pub profiles: &'a baseline::Profiles,
}

/// An open state directory.
pub struct State {
    dir: PathBuf,
    meta: Meta,
}

/// The default state directory: `$XDG_DATA_HOME/trailhound/state` or
/// `~/.local/share/trailhound/state`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("trailhound/state")
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("state {}: {e}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader sees the old file or the new one, never half of one.
/// A writer into pieces of a fixed size, each compressed as one zstd frame of the engine state:
/// the pieces are never reallocated, so a state of tens of megabytes is not copied over and over
/// as one vector doubles.
struct Pieces {
    size: usize,
    done: Vec<Vec<u8>>,
    current: Vec<u8>,
}

impl Pieces {
    fn new(size: usize) -> Pieces {
        Pieces {
            size,
            done: Vec::new(),
            current: Vec::with_capacity(size),
        }
    }

    /// The pieces, each `size` bytes but the last (as `chunks(size)` of everything written).
    fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

impl std::io::Write for Pieces {
    fn write(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.current.len() == self.size {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(self.size));
                self.done.push(full);
            }
            let take = (self.size - self.current.len()).min(buf.len());
            self.current.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A saved engine state inflated: its zstd frames each into their place in one buffer sized
/// from the frames' headers, on all cores. A state whose frames do not tell their sizes (or
/// tell sizes out of all proportion to the file, as a damaged one may) is inflated as a stream.
fn inflate_state(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use rayon::prelude::*;
    use zstd::zstd_safe;
    let mut frames: Vec<(&[u8], usize)> = Vec::new();
    let mut rest = bytes;
    let mut total: usize = 0;
    while !rest.is_empty() {
        let (Ok(len), Ok(Some(size))) = (
            zstd_safe::find_frame_compressed_size(rest),
            zstd_safe::get_frame_content_size(rest),
        ) else {
            return zstd::stream::decode_all(bytes);
        };
        let Ok(size) = usize::try_from(size) else {
            return zstd::stream::decode_all(bytes);
        };
        let len = len.min(rest.len());
        total = total.saturating_add(size);
        frames.push((&rest[..len], size));
        rest = &rest[len..];
    }
    // zstd at level 1 shrinks a state about 6 times; a frame claiming far more is not trusted.
    if total > bytes.len().saturating_mul(64).max(1 << 20) {
        return zstd::stream::decode_all(bytes);
    }
    let mut out = vec![0u8; total];
    let mut places: Vec<(&[u8], &mut [u8])> = Vec::with_capacity(frames.len());
    let mut free = out.as_mut_slice();
    for (frame, size) in frames {
        let (place, after) = free.split_at_mut(size);
        places.push((frame, place));
        free = after;
    }
    places.into_par_iter().try_for_each(|(frame, place)| {
        let n = zstd::bulk::decompress_to_buffer(frame, place)?;
        if n == place.len() {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "a frame inflated to {n} bytes where its header says {}",
                    place.len()
                ),
            ))
        }
    })?;
    Ok(out)
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    // Something that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is
    // written to, never renamed over: renaming would replace the device with a file.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        return f.write_all(bytes).map_err(|e| io_err(path, e));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// Dies here when `TRAILHOUND_FAIL_AT` names this point: how the tests kill a run at a known
/// step to check that the state left behind is usable.
pub fn fail_point(name: &str) {
    if std::env::var("TRAILHOUND_FAIL_AT").is_ok_and(|v| v == name) {
        eprintln!("trailhound: TRAILHOUND_FAIL_AT={name}: stopping here");
        std::process::abort();
    }
}

impl State {
    /// Opens (creating if needed) a state directory and removes what uncommitted runs left.
    pub fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let path = dir.join("state.json");
        let meta = match std::fs::read(&path) {
            Ok(b) => {
                let m: Meta = serde_json::from_slice(&b)
                    .map_err(|e| io_err(&path, format!("not a trailhound state file: {e}")))?;
                if m.version != VERSION {
                    return Err(io_err(
                        &path,
                        format!(
                            "state version {} (this trailhound reads {VERSION})",
                            m.version
                        ),
                    ));
                }
                m
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Meta {
                version: VERSION,
                ..Meta::default()
            },
            Err(e) => return Err(io_err(&path, e)),
        };
        let s = State {
            dir: dir.to_path_buf(),
            meta,
        };
        s.remove_uncommitted();
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The same directory, for writing a run's lake parts from another thread
    /// ([`State::write_parts`]); it knows no runs, so it neither reads nor commits.
    pub fn handle(&self) -> State {
        State {
            dir: self.dir.clone(),
            meta: Meta::default(),
        }
    }

    pub fn runs(&self) -> &[RunRecord] {
        &self.meta.runs
    }

    fn committed(&self) -> HashSet<&str> {
        self.meta.runs.iter().map(|r| r.id.as_str()).collect()
    }

    /// Files of runs that never committed, and temporary files, are deleted: only in the
    /// state's own folders, never elsewhere in a directory given as `--state`.
    fn remove_uncommitted(&self) {
        let runs: HashSet<String> = self.committed().into_iter().map(String::from).collect();
        let is_temp = |name: &str| name.starts_with('.') && name.contains(".tmp-");
        let root_files = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file());
        for f in root_files {
            if is_temp(&f.file_name().unwrap_or_default().to_string_lossy()) {
                let _ = std::fs::remove_file(&f);
            }
        }
        for f in walk(&self.dir.join("manifest"))
            .into_iter()
            .chain(walk(&self.dir.join("lake")))
            .chain(walk(&self.dir.join("engine")))
            .chain(walk(&self.dir.join("settled")))
        {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let stem = name.split('.').next().unwrap_or("");
            let part =
                (name.ends_with(".parquet") || name.ends_with(".tsv") || is_engine_file(&name))
                    && !runs.contains(stem);
            if is_temp(&name) || part {
                let _ = std::fs::remove_file(&f);
            }
        }
    }

    /// The names (paths, s3:// URLs) of every log object committed runs processed.
    pub fn manifest(&self) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for r in &self.meta.runs {
            let p = self.dir.join("manifest").join(format!("{}.tsv", r.id));
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p, e)),
            };
            out.extend(
                text.lines()
                    .filter_map(|l| l.split('\t').next())
                    .filter(|n| !n.is_empty())
                    .map(String::from),
            );
        }
        Ok(out)
    }

    pub fn write_manifest(&self, run: &str, objects: &[(String, u64)]) -> Result<()> {
        let mut text = String::new();
        for (name, size) in objects {
            text.push_str(&format!("{name}\t{size}\n"));
        }
        write_atomic(
            &self.dir.join("manifest").join(format!("{run}.tsv")),
            text.as_bytes(),
        )
    }

    /// The settled day folders the latest committed run that recorded them left (none when
    /// no run did).
    pub fn settled(&self) -> Result<crate::ingest::settle::Settled> {
        for r in self.meta.runs.iter().rev() {
            let p = self.dir.join("settled").join(format!("{}.tsv", r.id));
            match std::fs::read_to_string(&p) {
                Ok(t) => return Ok(crate::ingest::settle::Settled::parse(&t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p, e)),
            }
        }
        Ok(Default::default())
    }

    /// Records a run's settled day folders (counted once the run commits).
    pub fn write_settled(&self, run: &str, settled: &crate::ingest::settle::Settled) -> Result<()> {
        write_atomic(
            &self.dir.join("settled").join(format!("{run}.tsv")),
            settled.to_tsv().as_bytes(),
        )
    }

    /// Removes the settled-folder lists of runs before `run` (committed) when `run` wrote one:
    /// only the latest is read.
    pub fn prune_settled(&self, run: &str) {
        let dir = self.dir.join("settled");
        if !dir.join(format!("{run}.tsv")).exists() {
            return;
        }
        for f in walk(&dir) {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if name.ends_with(".tsv") && name.split('.').next() != Some(run) {
                let _ = std::fs::remove_file(&f);
            }
        }
    }

    fn engine_path(&self, run: &str) -> PathBuf {
        self.dir.join("engine").join(format!("{run}{ENGINE_EXT}"))
    }

    /// Saves what the next run goes on from (MessagePack, zstd, written atomically; it counts
    /// only once the run commits). The state is encoded to memory in one go, then compressed
    /// in pieces on all cores, one zstd frame each, one after the other in the file (a zstd
    /// reader reads them as one stream).
    pub fn save_engine(&self, run: &str, saved: &impl Serialize) -> Result<()> {
        use rayon::prelude::*;
        const PIECE: usize = 4 << 20;
        let mut packed = Pieces::new(PIECE);
        rmp_serde::encode::write_named(&mut packed, saved)
            .map_err(|e| Error::Other(format!("engine state: {e}")))?;
        let frames: Vec<std::io::Result<Vec<u8>>> = packed
            .finish()
            .into_par_iter()
            .map(|piece| zstd::bulk::compress(&piece, ENGINE_ZSTD_LEVEL))
            .collect();
        let frames = frames
            .into_iter()
            .collect::<std::io::Result<Vec<Vec<u8>>>>()
            .map_err(|e| Error::Other(format!("engine state: {e}")))?;
        write_atomic(&self.engine_path(run), &frames.concat())
    }

    /// The engine state of the latest committed run that saved one: MessagePack in zstd, or
    /// the gzipped JSON earlier versions of trailhound saved (read as it is; the next run
    /// saves it in the new form).
    pub fn load_engine(&self) -> Result<Option<SavedEngine>> {
        let bad = |p: &Path, e: &dyn std::fmt::Display| {
            io_err(p, format!("not a trailhound engine state: {e}"))
        };
        for r in self.meta.runs.iter().rev() {
            let p = self.engine_path(&r.id);
            match std::fs::read(&p) {
                Ok(bytes) => {
                    // Inflated whole, then decoded from memory: several times faster than
                    // decoding from a reader.
                    let packed = inflate_state(&bytes).map_err(|e| bad(&p, &e))?;
                    drop(bytes);
                    let saved: SavedEngine =
                        rmp_serde::from_slice(&packed).map_err(|e| bad(&p, &e))?;
                    return Ok(Some(saved));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p, e)),
            }
            let p = self.dir.join("engine").join(format!("{}.json.gz", r.id));
            let f = match std::fs::File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p, e)),
            };
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(f), &mut text)
                .map_err(|e| bad(&p, &e))?;
            let saved: SavedEngine = serde_json::from_slice(&text).map_err(|e| bad(&p, &e))?;
            return Ok(Some(saved));
        }
        Ok(None)
    }

    /// Removes the engine states of runs before `run` (committed): only the latest is read.
    pub fn prune_engine(&self, run: &str) {
        for f in walk(&self.dir.join("engine")) {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            if is_engine_file(&name) && name.split('.').next() != Some(run) {
                let _ = std::fs::remove_file(&f);
            }
        }
    }

    /// Principal -> time of its last `baseline forget`.
    pub fn forgotten(&self) -> &BTreeMap<String, Millis> {
        &self.meta.forgotten
    }

    /// Records that `principal`'s history before `at` no longer counts.
    pub fn forget(&mut self, principal: &str, at: Millis) -> Result<()> {
        self.meta.forgotten.insert(principal.to_string(), at);
        self.save()
    }

    /// Commits runs at once (a merge): one write of the commit point.
    pub fn commit_all(&mut self, runs: Vec<RunRecord>) -> Result<()> {
        self.meta.runs.extend(runs);
        self.save()
    }

    /// Commits a run: from now on its parts and manifest are part of the state.
    pub fn commit(&mut self, run: RunRecord) -> Result<()> {
        self.meta.runs.push(run);
        self.save()
    }

    fn save(&self) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(&self.meta).map_err(|e| Error::Other(e.to_string()))?;
        write_atomic(&self.dir.join("state.json"), &bytes)
    }

    fn table_dir(&self, table: &str) -> PathBuf {
        self.dir.join("lake").join(table)
    }

    /// Writes one Parquet part per (account, date) partition for a run. `partition` gives a
    /// row's account and `YYYY-MM-DD` date; rows keep their order inside a partition.
    pub fn write_parts<T>(
        &self,
        table: &str,
        run: &str,
        mut rows: Vec<T>,
        partition: impl Fn(&T) -> (String, String),
        frame: impl Fn(&[T]) -> Result<DataFrame>,
    ) -> Result<u64> {
        // Grouped by folder name: two values named alike (`a/b` and `a_b`) share one part
        // instead of the second overwriting the first.
        let folder = |r: &T| {
            let (account, date) = partition(r);
            (safe(&account), safe(&date))
        };
        rows.sort_by_cached_key(folder);
        let mut files = 0;
        for group in rows.chunk_by(|a, b| folder(a) == folder(b)) {
            let (account, date) = folder(&group[0]);
            let mut df = frame(group)?;
            self.write_part(table, run, (&account, &date), &mut df)?;
            files += 1;
        }
        Ok(files)
    }

    /// Where a partition's part of a run goes (folder names already safe).
    fn part_path(&self, table: &str, run: &str, (account, date): (&str, &str)) -> PathBuf {
        self.table_dir(table)
            .join(format!("account={account}"))
            .join(format!("date={date}"))
            .join(format!("{run}.parquet"))
    }

    /// Writes one partition's part of a run (folder names already safe).
    fn write_part(
        &self,
        table: &str,
        run: &str,
        (account, date): (&str, &str),
        df: &mut DataFrame,
    ) -> Result<()> {
        let path = self.part_path(table, run, (account, date));
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(df)
            .map_err(|e| io_err(&path, e))?;
        write_atomic(&path, &buf)
    }

    /// Writes one partition's part of a run from its rows' frames in order, in row groups of
    /// `rows` rows (the last one holds the rest); returns its path (none without a frame).
    fn write_grouped(
        &self,
        table: &str,
        run: &str,
        (account, date): (&str, &str),
        rows: usize,
        mut frames: impl Iterator<Item = Result<DataFrame>>,
    ) -> Result<Option<PathBuf>> {
        let path = self.part_path(table, run, (account, date));
        let pq = |e: PolarsError| io_err(&path, e);
        let Some(first) = frames.next().transpose()? else {
            return Ok(None);
        };
        let mut buf = Vec::new();
        let mut writer = ParquetWriter::new(&mut buf)
            .with_compression(ParquetCompression::Zstd(None))
            .batched(first.schema())
            .map_err(pq)?;
        let mut group = |mut df: DataFrame| -> Result<()> {
            df.rechunk_mut();
            writer.write_batch(&df).map_err(pq)
        };
        // Whole row groups go as soon as they are there; the rest waits for more rows.
        let mut pending = first;
        let mut more = true;
        while more {
            match frames.next().transpose()? {
                Some(next) => {
                    pending.vstack_mut_owned(next).map_err(pq)?;
                }
                None => more = false,
            }
            while pending.height() >= rows {
                let rest = pending.slice(rows as i64, usize::MAX);
                group(pending.slice(0, rows))?;
                pending = rest;
            }
        }
        if pending.height() > 0 {
            group(pending)?;
        }
        writer.finish().map_err(pq)?;
        write_atomic(&path, &buf)?;
        Ok(Some(path))
    }

    /// The committed Parquet parts of a table whose date partition is `>= from` (a
    /// `YYYY-MM-DD`), in a stable order.
    pub fn parts(&self, table: &str, from: Option<&str>) -> Vec<PathBuf> {
        let runs = self.committed();
        let mut out: Vec<PathBuf> = walk(&self.table_dir(table))
            .into_iter()
            .filter(|p| {
                let stem = p.file_stem().unwrap_or_default().to_string_lossy();
                p.extension().is_some_and(|e| e == "parquet") && runs.contains(stem.as_ref())
            })
            .filter(|p| {
                let date = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy().trim_start_matches("date=").to_string())
                    .unwrap_or_default();
                from.is_none_or(|f| date.as_str() >= f)
            })
            .collect();
        out.sort();
        out
    }

    /// Reads back the stored events from `from` (a date) on, as events, in parallel.
    pub fn load_events(&self, from: Option<&str>) -> Result<Vec<Event>> {
        use rayon::prelude::*;
        let parts = self.parts("events", from);
        let loaded: Vec<Result<Vec<Event>>> = parts
            .par_iter()
            .map(|p| {
                let f = std::fs::File::open(p).map_err(|e| io_err(p, e))?;
                let df = ParquetReader::new(f).finish().map_err(|e| io_err(p, e))?;
                crate::frame::events_from_frame(&df).map_err(|e| io_err(p, e))
            })
            .collect();
        let mut out = Vec::new();
        for r in loaded {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Reads a stored table (events, sessions, findings) into one frame: every column, or
    /// only those named.
    pub fn load_table(
        &self,
        table: &str,
        columns: Option<&[&str]>,
        from: Option<&str>,
    ) -> Result<Option<DataFrame>> {
        let columns: Option<Vec<String>> =
            columns.map(|c| c.iter().map(|s| s.to_string()).collect());
        let mut frames = Vec::new();
        for p in self.parts(table, from) {
            let f = std::fs::File::open(&p).map_err(|e| io_err(&p, e))?;
            frames.push(
                ParquetReader::new(f)
                    .with_columns(columns.clone())
                    .finish()
                    .map_err(|e| io_err(&p, e))?,
            );
        }
        let mut it = frames.into_iter();
        let Some(mut first) = it.next() else {
            return Ok(None);
        };
        for f in it {
            first
                .vstack_mut(&f)
                .map_err(|e| Error::Other(e.to_string()))?;
        }
        Ok(Some(first))
    }

    /// The stored keys of findings already reported: (kind, principal, key, time).
    pub fn reported(&self) -> Result<BTreeSet<String>> {
        self.reported_since(None)
    }

    /// [`State::reported`], of the findings dated `from` (a `YYYY-MM-DD`) or later: what a run
    /// whose new findings all fall on or after that day needs, whatever the days stored.
    pub fn reported_since(&self, from: Option<&str>) -> Result<BTreeSet<String>> {
        let Some(df) = self.load_table("findings", Some(&["finding_key"]), from)? else {
            return Ok(BTreeSet::new());
        };
        let col = df
            .column("finding_key")
            .map_err(|e| Error::Other(e.to_string()))?
            .str()
            .map_err(|e| Error::Other(e.to_string()))?
            .clone();
        Ok(col.iter().flatten().map(String::from).collect())
    }
}

/// A run's rows of one lake table, taken as they stream and gathered per (account, date)
/// partition in the order they came; [`LakeParts::write`] then writes one Parquet part per
/// partition, the same file, byte for byte, as [`State::write_parts`] writes for the same rows.
/// (Keeping each slice's rows as Arrow frames instead, to drop the rows with their slice, saved
/// no memory a night could measure and cost more time: joining a partition's frames into one
/// before encoding, which its single row group needs, copies every text again.)
pub struct LakeParts<T> {
    table: &'static str,
    /// (account, date), as folder names -> the partition's rows in the order they came, one
    /// vector per batch taken (never grown into one: a night's events would be copied as the
    /// vector doubled, and their memory touched twice).
    parts: BTreeMap<(String, String), Vec<Vec<T>>>,
    rows: u64,
    /// Rows held in `parts` now.
    held: usize,
    /// Where held rows go when there are more than a budget of them.
    spill: Option<SpillDir>,
    /// Each partition's rows written out so far, in order: read back when its part is written.
    spilled: BTreeMap<(String, String), Vec<PathBuf>>,
    /// Rows of a part's row groups ([`LAKE_ROW_GROUP`]).
    row_group: usize,
}

/// A run's folder of spilled lake rows (Parquet, LZ4), removed with it.
struct SpillDir {
    dir: PathBuf,
    budget: usize,
    files: usize,
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Rows a night holds for the lake before it writes them out to be read back at the end: about
/// 1.5 KB each in memory, so at most about 450 MB (a night of 150 k events never spills; a
/// first run over a month's backlog does, instead of holding every event).
pub const LAKE_ROWS_HELD: usize = 300_000;

/// Rows of an events part's row groups (the last one of a part holds the rest): a partition is
/// framed and encoded a row group at a time, never whole.
pub const LAKE_ROW_GROUP: usize = 65_536;

impl<T> LakeParts<T> {
    pub fn new(table: &'static str) -> LakeParts<T> {
        LakeParts {
            table,
            parts: BTreeMap::new(),
            rows: 0,
            held: 0,
            spill: None,
            spilled: BTreeMap::new(),
            row_group: LAKE_ROW_GROUP,
        }
    }

    /// Parts in row groups of `rows` rows (the last one of a part holds the rest).
    #[cfg(test)]
    pub fn row_groups_of(mut self, rows: usize) -> LakeParts<T> {
        self.row_group = rows.max(1);
        self
    }

    /// Writes the held rows out to `dir` (made when first needed, removed when the parts are
    /// written or dropped) whenever more than `budget` are held ([`LakeParts::spill_over`]).
    pub fn spilling(mut self, dir: PathBuf, budget: usize) -> LakeParts<T> {
        self.spill = Some(SpillDir {
            dir,
            budget,
            files: 0,
        });
        self
    }

    /// When more rows are held than the budget of [`LakeParts::spilling`], writes every held
    /// partition's rows out (`frame` gives their frame) and lets them go; the parts written at
    /// the end are the same files, byte for byte, as if they had been held.
    pub fn spill_over(&mut self, frame: impl Fn(&[Vec<T>]) -> Result<DataFrame>) -> Result<()> {
        let Some(sp) = self.spill.as_mut() else {
            return Ok(());
        };
        if self.held <= sp.budget {
            return Ok(());
        }
        std::fs::create_dir_all(&sp.dir).map_err(|e| io_err(&sp.dir, e))?;
        for (key, rows) in std::mem::take(&mut self.parts) {
            let mut df = frame(&rows)?;
            drop(rows);
            let path = sp.dir.join(format!("{:06}.parquet", sp.files));
            sp.files += 1;
            let f = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
            ParquetWriter::new(std::io::BufWriter::new(f))
                .with_compression(ParquetCompression::Lz4Raw)
                .finish(&mut df)
                .map_err(|e| io_err(&path, e))?;
            self.spilled.entry(key).or_default().push(path);
        }
        self.held = 0;
        Ok(())
    }

    /// The rows written out so far, as frames (in no particular order).
    #[cfg(test)]
    pub fn spilled_frames(&self) -> impl Iterator<Item = Result<DataFrame>> + '_ {
        self.spilled.values().flatten().map(|p| read_frame(p))
    }

    /// Takes a batch of rows: `partition` gives a row's account and `YYYY-MM-DD` date.
    pub fn push(&mut self, rows: Vec<T>, partition: impl Fn(&T) -> (&str, &str)) {
        self.rows += rows.len() as u64;
        self.held += rows.len();
        // Each row's partition, named once per distinct partition of the batch.
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        let mut keys: Vec<(String, String)> = Vec::new();
        let of: Vec<usize> = rows
            .iter()
            .map(|r| {
                let k = partition(r);
                *index.entry(k).or_insert_with(|| {
                    keys.push((safe(k.0), safe(k.1)));
                    keys.len() - 1
                })
            })
            .collect();
        drop(index);
        if keys.len() == 1 {
            // The whole batch in one partition (one account, one day): taken as it is.
            self.parts.entry(keys.remove(0)).or_default().push(rows);
            return;
        }
        let mut sizes = vec![0; keys.len()];
        for &i in &of {
            sizes[i] += 1;
        }
        let mut groups: Vec<Vec<T>> = sizes.into_iter().map(Vec::with_capacity).collect();
        for (r, i) in rows.into_iter().zip(of) {
            groups[i].push(r);
        }
        for (k, group) in keys.into_iter().zip(groups) {
            self.parts.entry(k).or_default().push(group);
        }
    }

    /// Rows taken so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Every row held, partition by partition, in the batches they came in (not those written
    /// out).
    #[cfg(test)]
    pub fn parts(&self) -> impl Iterator<Item = &[T]> {
        self.parts.values().flatten().map(Vec::as_slice)
    }

    /// Writes one part per partition for `run` (`frame` gives the table's frame of a
    /// partition's rows), freeing each partition's rows once written; returns the parts'
    /// paths, in partition order.
    pub fn write(
        self,
        state: &State,
        run: &str,
        frame: impl Fn(&[Vec<T>]) -> Result<DataFrame>,
    ) -> Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        let mut spilled = self.spilled;
        let mut held = self.parts;
        let keys: BTreeSet<(String, String)> = spilled.keys().chain(held.keys()).cloned().collect();
        for key in keys {
            // The partition's rows in the order they came: those written out first, then those
            // still held, a few batches at a time (each freed once framed); cut into row
            // groups of [`LAKE_ROW_GROUP`] rows, so the bytes do not depend on how the rows
            // came (slices, rows written aside).
            let aside = spilled.remove(&key).unwrap_or_default();
            let mut batches = held.remove(&key).unwrap_or_default().into_iter();
            let from_aside = aside.into_iter().map(|p| {
                let df = read_frame(&p);
                let _ = std::fs::remove_file(&p);
                df
            });
            let from_held = std::iter::from_fn(|| {
                let mut take = Vec::new();
                let mut n = 0;
                while n < self.row_group {
                    let Some(b) = batches.next() else { break };
                    n += b.len();
                    take.push(b);
                }
                (!take.is_empty()).then(|| frame(&take))
            });
            let (account, date) = &key;
            let frames = from_aside.chain(from_held);
            if let Some(path) =
                state.write_grouped(self.table, run, (account, date), self.row_group, frames)?
            {
                files.push(path);
            }
        }
        drop(self.spill);
        Ok(files)
    }
}

/// A Parquet file read whole.
pub(crate) fn read_frame(path: &Path) -> Result<DataFrame> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    ParquetReader::new(f).finish().map_err(|e| io_err(path, e))
}

/// A partition value safe as a folder name.
fn safe(v: &str) -> String {
    let v: String = v
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() {
        "unknown".into()
    } else {
        v
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn writing_to_a_fifo_writes_through_it_and_leaves_it_a_fifo() {
        // `report --out /dev/null` run as root once replaced /dev/null with a regular file:
        // something that is not a regular file is written to, never renamed over.
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("out");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("skipped: mkfifo is not available");
            return;
        }
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"report").unwrap();
        assert_eq!(reader.join().unwrap(), b"report");
        let m = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(m.file_type().is_fifo());
    }

    fn sample_events() -> Vec<Event> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        crate::ingest::ingest_paths(&[dir]).unwrap().events
    }

    fn event_partition(e: &Event) -> (&str, &str) {
        (
            e.recipient_account_id.as_deref().unwrap_or("unknown"),
            &e.event_day,
        )
    }

    /// Every file under `dir`, by its path below it, with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        walk(dir)
            .into_iter()
            .map(|p| {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                (name, std::fs::read(&p).unwrap())
            })
            .collect()
    }

    #[test]
    fn rows_of_two_accounts_named_alike_as_folders_share_one_part_and_none_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let rows = vec![
            ("acct/1", "a"),
            ("acct_1", "b"),
            ("acct/1", "c"),
            ("other", "d"),
        ];
        let parts = state
            .write_parts(
                "findings",
                "run-a",
                rows,
                |r| (r.0.to_string(), "2026-03-01".to_string()),
                |rows| {
                    let names: Vec<&str> = rows.iter().map(|r| r.1).collect();
                    Ok(DataFrame::new_infer_height(vec![Column::new(
                        "n".into(),
                        names,
                    )])?)
                },
            )
            .unwrap();
        assert_eq!(parts, 2);
        let part = dir
            .path()
            .join("lake/findings/account=acct_1/date=2026-03-01/run-a.parquet");
        let df = ParquetReader::new(std::fs::File::open(&part).unwrap())
            .finish()
            .unwrap();
        let names: Vec<Option<&str>> = df.column("n").unwrap().str().unwrap().iter().collect();
        assert_eq!(
            names,
            [Some("a"), Some("b"), Some("c")],
            "in the order they came"
        );
    }

    #[test]
    fn reported_findings_are_read_from_the_days_asked_for_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::open(dir.path()).unwrap();
        let rows = vec![("2026-03-01", "old"), ("2026-03-02", "new")];
        state
            .write_parts(
                "findings",
                "run-a",
                rows,
                |r| ("111122223333".to_string(), r.0.to_string()),
                |rows| {
                    let keys: Vec<&str> = rows.iter().map(|r| r.1).collect();
                    Ok(DataFrame::new_infer_height(vec![Column::new(
                        "finding_key".into(),
                        keys,
                    )])?)
                },
            )
            .unwrap();
        state
            .commit(RunRecord {
                id: "run-a".into(),
                started_at: "2026-03-03T00:00:00Z".into(),
                finished_at: "2026-03-03T00:00:01Z".into(),
                inputs: Vec::new(),
                objects: 0,
                events: 0,
                findings: 2,
                last_event: None,
            })
            .unwrap();
        let all: Vec<String> = state.reported().unwrap().into_iter().collect();
        assert_eq!(all, ["new", "old"]);
        let since: Vec<String> = state
            .reported_since(Some("2026-03-02"))
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(since, ["new"]);
    }

    #[test]
    fn the_state_is_packed_in_pieces_as_chunks_of_the_whole_and_inflated_back_frame_by_frame() {
        use std::io::Write;
        let whole: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut pieces = Pieces::new(65_536);
        // Writes of every size, some across a piece's end.
        for part in whole.chunks(7_000).flat_map(|c| c.chunks(3)) {
            pieces.write_all(part).unwrap();
        }
        let pieces = pieces.finish();
        let chunks: Vec<&[u8]> = whole.chunks(65_536).collect();
        assert_eq!(pieces.len(), chunks.len());
        assert!(pieces.iter().zip(&chunks).all(|(p, c)| p == c));
        let frames: Vec<u8> = pieces
            .iter()
            .flat_map(|p| zstd::bulk::compress(p, ENGINE_ZSTD_LEVEL).unwrap())
            .collect();
        assert_eq!(inflate_state(&frames).unwrap(), whole);
        // A streamed frame (no size in its header) is inflated as a stream.
        let mut streamed = zstd::stream::encode_all(&whole[..1000], 1).unwrap();
        streamed.extend(zstd::bulk::compress(&whole[1000..], 1).unwrap());
        assert_eq!(inflate_state(&streamed).unwrap(), whole);
        // A cut frame is an error, not a panic.
        assert!(inflate_state(&frames[..frames.len() - 10]).is_err());
    }

    /// The events' parts written from all rows at once, one frame per partition, and how many.
    fn written_at_once(events: &[Event]) -> (tempfile::TempDir, u64) {
        let dir = tempfile::tempdir().unwrap();
        let written = State::open(dir.path())
            .unwrap()
            .write_parts(
                "events",
                "run-a",
                events.to_vec(),
                |e| {
                    let (a, d) = event_partition(e);
                    (a.to_string(), d.to_string())
                },
                crate::frame::events_frame,
            )
            .unwrap();
        (dir, written)
    }

    #[test]
    fn lake_parts_taken_slice_by_slice_are_the_files_written_from_all_rows_at_once() {
        let events = sample_events();
        let (at_once, written) = written_at_once(&events);
        // Slices of a few rows, each spread over several partitions.
        let sliced = tempfile::tempdir().unwrap();
        let mut lake = LakeParts::new("events");
        for slice in events.chunks(7) {
            lake.push(slice.to_vec(), event_partition);
        }
        assert_eq!(lake.rows(), events.len() as u64);
        assert_eq!(
            lake.parts().map(<[Event]>::len).sum::<usize>(),
            events.len()
        );
        let parts = lake
            .write(
                &State::open(sliced.path()).unwrap(),
                "run-a",
                crate::frame::events_frame_of,
            )
            .unwrap();
        assert_eq!(parts.len() as u64, written);
        assert!(written > 1, "the sample spans several days");
        // Slices again, holding at most 50 rows: the rest written aside and read back.
        let spilled = tempfile::tempdir().unwrap();
        let aside = spilled.path().join(".spill-run-a");
        let mut lake = LakeParts::new("events").spilling(aside.clone(), 50);
        let mut most_held = 0;
        for slice in events.chunks(7) {
            lake.push(slice.to_vec(), event_partition);
            lake.spill_over(crate::frame::events_frame_of).unwrap();
            most_held = most_held.max(lake.parts().map(<[Event]>::len).sum::<usize>());
        }
        assert!(most_held <= 50 + 7, "held {most_held} rows");
        let aside_rows: usize = lake.spilled_frames().map(|f| f.unwrap().height()).sum();
        assert!(
            aside_rows > events.len() / 2,
            "{aside_rows} rows written aside"
        );
        let parts = lake
            .write(
                &State::open(spilled.path()).unwrap(),
                "run-a",
                crate::frame::events_frame_of,
            )
            .unwrap();
        assert_eq!(parts.len() as u64, written);
        assert!(!aside.exists(), "the rows written aside are removed");
        for other in [sliced.path(), spilled.path()] {
            let (a, b) = (files(at_once.path()), files(other));
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "the same parts"
            );
            for (name, bytes) in &a {
                assert!(b[name] == *bytes, "{name} differs");
            }
        }
    }

    #[test]
    fn a_part_is_cut_into_row_groups_of_a_fixed_size_whatever_the_batches() {
        let events = sample_events();
        let group = 40;
        let write = |batch: usize, held: Option<usize>| {
            let dir = tempfile::tempdir().unwrap();
            let mut lake = LakeParts::new("events").row_groups_of(group);
            if let Some(budget) = held {
                lake = lake.spilling(dir.path().join(".spill-run-a"), budget);
            }
            for slice in events.chunks(batch) {
                lake.push(slice.to_vec(), event_partition);
                lake.spill_over(crate::frame::events_frame_of).unwrap();
            }
            lake.write(
                &State::open(dir.path()).unwrap(),
                "run-a",
                crate::frame::events_frame_of,
            )
            .unwrap();
            dir
        };
        let reference = write(1000, None);
        let want = files(reference.path());
        for (batch, held) in [(7, None), (7, Some(50)), (333, Some(100)), (1, Some(17))] {
            let other = write(batch, held);
            let got = files(other.path());
            assert_eq!(
                want.keys().collect::<Vec<_>>(),
                got.keys().collect::<Vec<_>>()
            );
            for (name, bytes) in &want {
                assert!(
                    got[name] == *bytes,
                    "{name} differs (batches of {batch}, {held:?} held)"
                );
            }
        }
        // Every part: groups of 40 rows and the rest, the rows of one frame in order.
        let (at_once, _) = written_at_once(&events);
        let mut cut = 0;
        for name in want.keys() {
            let path = reference.path().join(name);
            let mut reader = ParquetReader::new(std::fs::File::open(&path).unwrap());
            let sizes: Vec<usize> = reader
                .get_metadata()
                .unwrap()
                .row_groups
                .iter()
                .map(|g| g.num_rows())
                .collect();
            let rows: usize = sizes.iter().sum();
            let mut expected = vec![group; rows / group];
            if !rows.is_multiple_of(group) {
                expected.push(rows % group);
            }
            assert_eq!(sizes, expected, "{name}");
            cut += usize::from(sizes.len() > 1);
            let one_frame = read_frame(&at_once.path().join(name)).unwrap();
            assert!(
                read_frame(&path).unwrap().equals_missing(&one_frame),
                "{name}"
            );
        }
        assert!(cut > 0, "some part holds more than one row group");
    }

    /// An engine state as JSON (written in key order throughout: the same for the same state).
    fn saved_json(saved: &impl Serialize) -> String {
        serde_json::to_string(saved).unwrap()
    }

    /// Fails showing where two long texts part.
    fn same(got: &str, want: &str) {
        let at = got
            .bytes()
            .zip(want.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let around = |s: &str| {
            s.get(at.saturating_sub(200)..(at + 200).min(s.len()))
                .unwrap_or(s)
                .to_string()
        };
        assert!(
            got == want,
            "they part at byte {at}:\n{}\n{}",
            around(got),
            around(want)
        );
    }

    fn commit(s: &mut State, run: &str) {
        s.commit(RunRecord {
            id: run.into(),
            started_at: String::new(),
            finished_at: String::new(),
            inputs: vec![],
            objects: 0,
            events: 0,
            findings: 0,
            last_event: None,
        })
        .unwrap();
    }

    #[test]
    fn the_engine_state_reads_back_as_saved_and_a_state_of_an_earlier_version_still_reads() {
        let geo = crate::geoip::GeoIp::bundled().unwrap();
        let cfg = crate::detect::DetectConfig::default();
        let events = sample_events();
        let mut hunt = crate::engine::Hunt::new(&geo, &cfg);
        let mut profiles = baseline::Profiles::default();
        hunt.observe(&events);
        profiles.observe(&events, &hunt.graph, &geo);
        let saving = SavingEngine {
            saved_at: 1_772_000_000_000,
            graph: hunt.graph.saved_ref(),
            detector: hunt.detector.saved(),
            profiles: &profiles,
        };
        let want = saved_json(&saving);
        assert!(want.len() > 100_000, "a state worth the name");

        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        // An earlier version's state: gzipped JSON.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, want.as_bytes()).unwrap();
        write_atomic(
            &dir.path().join("engine/run-a.json.gz"),
            &gz.finish().unwrap(),
        )
        .unwrap();
        commit(&mut s, "run-a");
        let old = s.load_engine().unwrap().expect("the old state");
        let got = saved_json(&old);
        same(&got, &want);

        // This version's: smaller, and read back the same.
        s.save_engine("run-b", &saving).unwrap();
        commit(&mut s, "run-b");
        s.prune_engine("run-b");
        let names: Vec<String> = std::fs::read_dir(dir.path().join("engine"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["run-b.msgpack.zst"]);
        let size = std::fs::metadata(dir.path().join("engine/run-b.msgpack.zst"))
            .unwrap()
            .len();
        assert!(
            size * 4 < want.len() as u64,
            "{size} bytes for {}",
            want.len()
        );
        let new = s.load_engine().unwrap().expect("the new state");
        let got = saved_json(&new);
        same(&got, &want);
    }

    #[test]
    fn a_damaged_engine_state_is_named_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        write_atomic(
            &dir.path().join("engine/run-a.msgpack.zst"),
            b"not zstd at all",
        )
        .unwrap();
        commit(&mut s, "run-a");
        let err = s.load_engine().err().expect("an error").to_string();
        assert!(
            err.contains("engine/run-a.msgpack.zst")
                && err.contains("not a trailhound engine state"),
            "{err}"
        );
    }

    #[test]
    fn an_uncommitted_run_leaves_nothing_behind_and_the_old_state_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        s.write_manifest("run-a", &[("a.json.gz".into(), 10)])
            .unwrap();
        s.commit(RunRecord {
            id: "run-a".into(),
            started_at: String::new(),
            finished_at: String::new(),
            inputs: vec![],
            objects: 1,
            events: 0,
            findings: 0,
            last_event: None,
        })
        .unwrap();
        // A run that dies before its commit.
        s.write_manifest("run-b", &[("b.json.gz".into(), 10)])
            .unwrap();
        std::fs::write(dir.path().join("manifest/.x.tmp-1"), b"half").unwrap();
        let s = State::open(dir.path()).unwrap();
        let m = s.manifest().unwrap();
        assert!(m.contains("a.json.gz"));
        assert!(!m.contains("b.json.gz"));
        assert!(!dir.path().join("manifest/run-b.tsv").exists());
        assert!(!dir.path().join("manifest/.x.tmp-1").exists());
    }
}
