//! The state directory of scheduled runs: what was read, what was found, what is normal.
//!
//! ```text
//! STATE/
//!   state.json                      committed runs and forgotten baselines (the commit point)
//!   manifest/<run>.tsv              log objects a run processed: name <TAB> size, grouped
//!                                   by folder
//!   manifest/<run>.folders.tsv      where each folder's lines are in it: folder <TAB> offset
//!                                   <TAB> length (a run reads only the folders it lists)
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
//!   .lock                           held by the run writing the state ([`State::open`])
//!   .spill-<run>/                   a running night's lake rows and parts on their way
//!                                   (`lake`), removed when it ends
//! ```
//!
//! The lake is Hive-partitioned Parquet (zstd): polars, DuckDB, Athena or Spark read
//! `lake/events/**/*.parquet` as is. Every file is written to a temporary name and renamed into
//! place; a run becomes visible only when `state.json` naming it is renamed into place, last.
//! Parts and manifests of a run that never committed (a crash, a kill) are ignored and removed
//! by the next run, which then reads the same objects again.

pub mod baseline;
mod encode;
mod lake;
pub mod merge;
pub mod report;
mod retired;

pub use lake::{Encoder, LakeParts, LAKE_ROWS_HELD, LAKE_ROW_GROUP};

use crate::error::{Error, Result};
use crate::event::{Event, Millis};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

const VERSION: u32 = 1;

/// The engine state's file name after the run id: MessagePack (fields by name, so that
/// optional fields may be left out and added), compressed with zstd.
const ENGINE_EXT: &str = ".msgpack.zst";

/// A run's manifest index, beside its manifest (`manifest/<run>.folders.tsv`).
const INDEX_EXT: &str = ".folders.tsv";
/// zstd's fastest level but one: the state compresses about 8 to 1 in a fraction of the time
/// gzip took for 5 to 1.
const ENGINE_ZSTD_LEVEL: i32 = 1;

/// Bytes [`write_atomic_with`] gathers before each write to its file.
const WRITE_BUFFER: usize = 1 << 18;

/// The note a writing run leaves when it ends committed ([`State::close`]): the id of the last
/// committed run. While it names the last committed run, no killed run left files behind, and
/// the next run need not look through the lake (which grows with the days stored) for them.
const CLOSED: &str = ".closed";

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
    /// The directory's lock, held by a state opened to write ([`State::open`]) until dropped.
    _lock: Option<std::fs::File>,
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
    /// Where full pieces go as they fill, numbered, instead of `done` (to be compressed while
    /// the rest is encoded).
    to: Option<std::sync::mpsc::Sender<(usize, Vec<u8>)>>,
    sent: usize,
}

impl Pieces {
    fn new(size: usize) -> Pieces {
        Pieces {
            size,
            done: Vec::new(),
            current: Vec::with_capacity(size),
            to: None,
            sent: 0,
        }
    }

    /// Full pieces sent to `to` as they fill, numbered from 0; the last one is kept.
    fn sending(mut self, to: std::sync::mpsc::Sender<(usize, Vec<u8>)>) -> Pieces {
        self.to = Some(to);
        self
    }

    /// Bytes that do not fill the current piece: most of what MessagePack writes (a marker, a
    /// number, a short text at a time), kept small enough to be inlined into the encoder.
    #[inline]
    fn fits(&mut self, buf: &[u8]) -> bool {
        if buf.len() < self.size - self.current.len() {
            self.current.extend_from_slice(buf);
            return true;
        }
        false
    }

    /// Bytes that fill the current piece: the full pieces go, the rest starts the next.
    #[inline(never)]
    fn write_pieces(&mut self, mut buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.current.len() == self.size {
                let full = std::mem::replace(&mut self.current, Vec::with_capacity(self.size));
                match &self.to {
                    Some(to) => {
                        // A closed way: the compressing side stopped on an error, told later.
                        let _ = to.send((self.sent, full));
                        self.sent += 1;
                    }
                    None => self.done.push(full),
                }
            }
            let take = (self.size - self.current.len()).min(buf.len());
            self.current.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(n)
    }

    /// The pieces not sent, each `size` bytes but the last (as `chunks(size)` of everything
    /// written, after those sent).
    fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

impl std::io::Write for Pieces {
    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if !self.fits(buf) {
            self.write_pieces(buf)?;
        }
        Ok(())
    }

    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.fits(buf) {
            return Ok(buf.len());
        }
        self.write_pieces(buf)
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
    atomically(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] of the bytes `write` writes as it makes them, never held whole (they go
/// through a buffer of [`WRITE_BUFFER`] bytes).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    atomically(path, |f| {
        let mut w = std::io::BufWriter::with_capacity(WRITE_BUFFER, f);
        write(&mut w)?;
        w.flush()
    })
}

/// Writes a file with `write`: to a temporary file beside it, synced, then renamed over it (a
/// temporary file written in part is removed).
fn atomically(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    // Something that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is
    // written to, never renamed over: renaming would replace the device with a file.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        return write(&mut f).map_err(|e| io_err(path, e));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    if let Err(e) = write(&mut f).and_then(|()| f.sync_all()) {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp, e));
    }
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
}

/// The committed runs of a state directory (`state.json`; none before the first commit).
fn read_meta(dir: &Path) -> Result<Meta> {
    let path = dir.join("state.json");
    match std::fs::read(&path) {
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
            Ok(m)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Meta {
            version: VERSION,
            ..Meta::default()
        }),
        Err(e) => Err(io_err(&path, e)),
    }
}

/// Takes a state directory's lock (`.lock`, which names the holder's process), or says who
/// holds it. The operating system lets it go when the holder ends, however it ends.
fn take_lock(dir: &Path) -> Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let path = dir.join(".lock");
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = f.read_to_string(&mut holder);
            return Err(Error::Usage(format!(
                "{}: in use by another trailhound run ({}); one run writes a state at a time, try again when it ends",
                dir.display(),
                match holder.trim() {
                    "" => "process unknown".to_string(),
                    h => format!("process {h}"),
                }
            )));
        }
        // A file system that cannot lock: the run goes on, said once, rather than a night lost.
        Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            eprintln!(
                "trailhound: warning: {}: cannot be locked ({e}); going on without: another run writing this state meanwhile would not be stopped",
                path.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    let pid = std::process::id().to_string();
    let named = f
        .set_len(0)
        .and_then(|()| f.rewind())
        .and_then(|()| f.write_all(pid.as_bytes()));
    named.map_err(|e| io_err(&path, e))?;
    Ok(f)
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
    /// Opens (creating if needed) a state directory to write: takes its lock (one writing run
    /// at a time: another `report`, `state merge` into it or `baseline forget` is refused while
    /// it is held) and removes what uncommitted runs left.
    pub fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let lock = take_lock(dir)?;
        let s = State {
            dir: dir.to_path_buf(),
            meta: read_meta(dir)?,
            _lock: Some(lock),
        };
        s.remove_uncommitted()?;
        Ok(s)
    }

    /// Ends a writing run that committed, or wrote nothing a run owns (its last write done):
    /// notes that nothing uncommitted is left, so the next run opens without looking through the
    /// state's folders. A run that ends otherwise (an error, killed) leaves no note, and the
    /// next run looks.
    pub fn close(self) {
        if let Some(last) = self.meta.runs.last() {
            let _ = std::fs::write(self.dir.join(CLOSED), &last.id);
        }
    }

    /// Opens a state directory to read its committed runs: no lock, nothing removed (a run
    /// writing beside it adds nothing a reader sees until it commits, and its files are left
    /// alone). A directory that does not exist reads as empty.
    pub fn read(dir: &Path) -> Result<State> {
        Ok(State {
            dir: dir.to_path_buf(),
            meta: read_meta(dir)?,
            _lock: None,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The same state for another thread, without the lock: it reads the committed runs (the
    /// engine state, say) and writes a run's lake parts ([`State::write_parts`]); the run
    /// commits through the state that holds the lock.
    pub fn handle(&self) -> State {
        State {
            dir: self.dir.clone(),
            meta: self.meta.clone(),
            _lock: None,
        }
    }

    pub fn runs(&self) -> &[RunRecord] {
        &self.meta.runs
    }

    fn committed(&self) -> HashSet<&str> {
        self.meta.runs.iter().map(|r| r.id.as_str()).collect()
    }

    /// Files of runs that never committed, and temporary files, are deleted: only in the
    /// state's own folders, never elsewhere in a directory given as `--state`. The folders are
    /// looked through unless the last run closed the state ([`State::close`]); the note is then
    /// taken away, for good, before this run writes anything: if it is killed, the next run
    /// looks.
    fn remove_uncommitted(&self) -> Result<()> {
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
        let closed = self.dir.join(CLOSED);
        let last = self.meta.runs.last().map(|r| r.id.as_str());
        let was_closed = std::fs::read_to_string(&closed).is_ok_and(|id| Some(id.as_str()) == last);
        match std::fs::remove_file(&closed) {
            // The removal made durable (the folder synced) before anything else is written,
            // where a folder can be synced.
            #[cfg(unix)]
            Ok(()) => std::fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(&self.dir, e))?,
            #[cfg(not(unix))]
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&closed, e)),
        }
        if was_closed {
            return Ok(());
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
        Ok(())
    }

    /// The names (paths, s3:// URLs) of every log object committed runs processed: a run's
    /// manifest with an index is read a folder at a time when a name in it is looked up, one
    /// without (an earlier version's, or an index that does not read) whole, now.
    pub fn manifest(&self) -> Result<crate::ingest::Known> {
        use crate::ingest::known;
        let mut whole = crate::ingest::Names::default();
        let mut indexed = Vec::new();
        for r in &self.meta.runs {
            let p = self.dir.join("manifest").join(format!("{}.tsv", r.id));
            if !p.exists() {
                continue;
            }
            let index = self
                .dir
                .join("manifest")
                .join(format!("{}{INDEX_EXT}", r.id));
            let read = std::fs::read_to_string(&index)
                .ok()
                .and_then(|text| known::parse_index(p.clone(), &text));
            if let Some(i) = read {
                indexed.push(i);
                continue;
            }
            let text = match std::fs::read_to_string(&p) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&p, e)),
            };
            whole.extend(known::names_in(&text));
        }
        Ok(crate::ingest::Known::new(whole, indexed))
    }

    /// Records the objects a run processed (counted once the run commits), grouped by folder,
    /// and the index of where each folder's lines are.
    pub fn write_manifest(&self, run: &str, objects: &[(String, u64)]) -> Result<()> {
        let (text, index) = crate::ingest::known::manifest_with_index(objects);
        let dir = self.dir.join("manifest");
        write_atomic(&dir.join(format!("{run}.tsv")), text.as_bytes())?;
        write_atomic(&dir.join(format!("{run}{INDEX_EXT}")), index.as_bytes())
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
    /// only once the run commits). The state is encoded to memory in pieces, each compressed
    /// on all cores as soon as it is full, while the rest is encoded (at the end of a night
    /// the other strands are done: a core is free), one zstd frame each, one after the other
    /// in the file (a zstd reader reads them as one stream).
    pub fn save_engine(&self, run: &str, saved: &impl Serialize) -> Result<()> {
        use rayon::prelude::*;
        const PIECE: usize = 4 << 20;
        let squeeze = |piece: &[u8]| zstd::bulk::compress(piece, ENGINE_ZSTD_LEVEL);
        let (to, from) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
        let (encoded, mut frames, last) = std::thread::scope(|s| {
            let full = s.spawn(move || {
                from.into_iter()
                    .par_bridge()
                    .map(|(i, piece)| (i, squeeze(&piece)))
                    .collect::<Vec<_>>()
            });
            let mut packed = Pieces::new(PIECE).sending(to);
            let encoded = rmp_serde::encode::write_named(&mut packed, saved);
            // The way closes with the pieces: the compressing side ends with the last full one.
            let rest = packed.finish();
            let last: Vec<std::io::Result<Vec<u8>>> = rest.iter().map(|p| squeeze(p)).collect();
            (encoded, full.join(), last)
        });
        encoded.map_err(|e| Error::Other(format!("engine state: {e}")))?;
        let frames = frames
            .as_mut()
            .map_err(|_| Error::Other("engine state: compressing failed".into()))?;
        frames.sort_by_key(|(i, _)| *i);
        let frames = std::mem::take(frames)
            .into_iter()
            .map(|(_, f)| f)
            .chain(last)
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
        rows: Vec<T>,
        partition: impl Fn(&T) -> (String, String),
        frame: impl Fn(&[T]) -> Result<DataFrame>,
    ) -> Result<u64> {
        // Grouped by folder name: two values named alike (`a/b` and `a_b`) share one part
        // instead of the second overwriting the first.
        let folder = |r: &T| {
            let (account, date) = partition(r);
            (safe(&account), safe(&date))
        };
        // Each row's folder found once; the sort keeps the rows' order within a folder.
        let mut keyed: Vec<((String, String), T)> =
            rows.into_iter().map(|r| (folder(&r), r)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let (folders, rows): (Vec<(String, String)>, Vec<T>) = keyed.into_iter().unzip();
        let mut files = 0;
        let mut start = 0;
        for group in folders.chunk_by(|a, b| a == b) {
            let (account, date) = &group[0];
            let mut df = frame(&rows[start..start + group.len()])?;
            self.write_part(table, run, (account, date), &mut df)?;
            start += group.len();
            files += 1;
        }
        Ok(files)
    }

    /// Where a partition's part of a run goes (folder names already safe).
    pub(super) fn part_path(
        &self,
        table: &str,
        run: &str,
        (account, date): (&str, &str),
    ) -> PathBuf {
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
            .with_compression(lake_compression())
            .set_parallel(false)
            .finish(df)
            .map_err(|e| io_err(&path, e))?;
        write_atomic(&path, &buf)
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

/// The lake's compression: zstd at its fastest level, which on CloudTrail's columns compresses
/// as well as polars' default level (3) in less time (a night's parts: 13.2 MB against 13.4 MB).
fn lake_compression() -> ParquetCompression {
    let fastest = polars_parquet::write::ZstdLevel::try_new(1).ok();
    ParquetCompression::Zstd(fastest)
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
pub(crate) mod tests {
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

    pub(crate) fn sample_events() -> Vec<Event> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
        crate::ingest::ingest_paths(&[dir]).unwrap().events
    }

    pub(crate) fn event_partition(e: &Event) -> (&str, &str) {
        (
            e.recipient_account_id.as_deref().unwrap_or("unknown"),
            &e.event_day,
        )
    }

    /// Every file under `dir` but the lock, by its path below it, with its bytes.
    pub(crate) fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        walk(dir)
            .into_iter()
            .filter(|p| !p.ends_with(".lock"))
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
        // Full pieces sent as they fill, numbered, the last one kept: the same pieces.
        let (to, from) = std::sync::mpsc::channel();
        let mut sending = Pieces::new(65_536).sending(to);
        for part in whole.chunks(5_000) {
            sending.write_all(part).unwrap();
        }
        let kept = sending.finish();
        let sent: Vec<(usize, Vec<u8>)> = from.into_iter().collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(sent.len() + 1, chunks.len());
        assert!(sent
            .iter()
            .enumerate()
            .all(|(i, (n, p))| *n == i && p == chunks[i]));
        assert_eq!(kept[0], chunks[chunks.len() - 1]);
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
        drop(s);
        let s = State::open(dir.path()).unwrap();
        let m = s.manifest().unwrap();
        assert!(m.contains("a.json.gz"));
        assert!(!m.contains("b.json.gz"));
        assert!(!dir.path().join("manifest/run-b.tsv").exists());
        assert!(!dir.path().join("manifest/run-b.folders.tsv").exists());
        assert!(!dir.path().join("manifest/.x.tmp-1").exists());
    }

    #[test]
    fn a_state_its_last_run_closed_is_not_looked_through_and_one_left_open_is() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State::open(dir.path()).unwrap();
        s.write_manifest("run-a", &[("a.json.gz".into(), 10)])
            .unwrap();
        commit(&mut s, "run-a");
        s.close();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(CLOSED)).unwrap(),
            "run-a"
        );
        // The next run opens without looking (a file no run of a closed state can have left is
        // not found), and takes the note away before it writes: killed, it leaves none.
        let stray = dir
            .path()
            .join("lake/events/account=1/date=2026-03-02/run-x.parquet");
        std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
        std::fs::write(&stray, b"PAR1").unwrap();
        let s = State::open(dir.path()).unwrap();
        assert!(stray.exists());
        assert!(!dir.path().join(CLOSED).exists());
        s.write_manifest("run-b", &[("b.json.gz".into(), 10)])
            .unwrap();
        drop(s);
        // So the run after the killed one looks, and removes what no committed run wrote.
        let s = State::open(dir.path()).unwrap();
        assert!(!dir.path().join("manifest/run-b.tsv").exists());
        assert!(!stray.exists());
        assert!(s.manifest().unwrap().contains("a.json.gz"));
        // A note naming another run than the last committed (a trailhound that knows no note
        // committed since) is not trusted either.
        let mut s = s;
        commit(&mut s, "run-c");
        drop(s);
        std::fs::write(dir.path().join(CLOSED), "run-a").unwrap();
        std::fs::write(&stray, b"PAR1").unwrap();
        State::open(dir.path()).unwrap();
        assert!(!stray.exists());
    }

    #[test]
    fn one_run_writes_a_state_at_a_time_and_readers_leave_its_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let writing = State::open(dir.path()).unwrap();
        writing
            .write_manifest("run-a", &[("a.json.gz".into(), 10)])
            .unwrap();
        // A second writer is refused, naming the directory and the process that holds it.
        let refused = State::open(dir.path())
            .err()
            .expect("a second writer is refused");
        let said = refused.to_string();
        assert!(said.contains(&dir.path().display().to_string()), "{said}");
        assert!(
            said.contains(&format!(
                "in use by another trailhound run (process {})",
                std::process::id()
            )),
            "{said}"
        );
        assert_eq!(refused.exit(), crate::error::Exit::Error);
        // A reader sees the committed runs (none) and removes nothing of the run in progress.
        let reader = State::read(dir.path()).unwrap();
        assert!(reader.runs().is_empty());
        assert!(!reader.manifest().unwrap().contains("a.json.gz"));
        assert!(dir.path().join("manifest/run-a.tsv").exists());
        // Once the writer is done (or dies), the next one goes on, and cleans up after it.
        drop(writing);
        State::open(dir.path()).unwrap();
        assert!(!dir.path().join("manifest/run-a.tsv").exists());
    }

    #[test]
    fn a_state_that_does_not_exist_reads_as_empty_and_is_not_made() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing-here");
        let s = State::read(&missing).unwrap();
        assert!(s.runs().is_empty());
        assert!(s.load_engine().unwrap().is_none());
        assert!(!missing.exists());
    }
}
