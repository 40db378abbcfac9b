//! A run's rows of a lake table on their way to Parquet: gathered per (account, date)
//! partition as they stream, each partition's whole row groups encoded as soon as their rows
//! are there (on a thread of their own, while the stream goes on), the rest held, or written
//! aside past a budget, until the run writes its parts. A part's bytes depend only on its
//! rows: not on the slices they came in, the rows written aside, or what was encoded ahead.

use super::{io_err, lake_compression, read_frame, safe, write_atomic, State};
use crate::error::{Error, Result};
use crate::event::Event;
use polars::prelude::*;
use polars_parquet::write::FileWriter;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

/// Rows a night holds for the lake before it writes them out to be read back at the end: about
/// 1.5 KB each in memory, so at most about 450 MB (a night of 150 k events never spills; a
/// first run over a month's backlog does, instead of holding every event).
pub const LAKE_ROWS_HELD: usize = 300_000;

/// Rows of an events part's row groups (the last one of a part holds the rest): a partition is
/// framed and encoded a row group at a time, never whole, as soon as the group's rows are
/// there. Measured on the benchmark night (7 days stored, five runs each): 65,536 rows, 1.49 s,
/// 2.58 s of CPU and 460 MB; 32,768 rows, 1.45 s, 2.42 s and 374 MB, for a lake 1% larger;
/// 16,384 rows, 1.39 s, 2.43 s and 344 MB, but 4% larger. A group of 32,768 rows is about 2.5 MB
/// of Parquet, still a size DuckDB, Athena and Spark read well, and its statistics narrow a
/// lookup by time or key.
pub const LAKE_ROW_GROUP: usize = 32_768;

/// A partition: (account, date), as folder names.
type Partition = (String, String);

/// How a table frames a partition's rows, given in the batches they came in.
pub type Framer<T> = fn(&[Vec<T>]) -> Result<DataFrame>;

/// How a table's rows become a part's row groups ([`LakeParts::encoding_ahead`],
/// [`LakeParts::write`]).
pub struct Encoder<T> {
    /// The table's frame of rows: rows written aside are kept as such frames.
    pub frame: Framer<T>,
    /// Rows back from a frame written aside.
    pub unframe: fn(&DataFrame) -> Result<Vec<T>>,
    /// One row group of rows, into a part.
    pub group: fn(&[Vec<T>], &mut FileWriter<Shared>) -> PolarsResult<()>,
}

impl<T> Clone for Encoder<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Encoder<T> {}

impl<T> Encoder<T> {
    /// The table's schema (of a frame of no rows).
    fn schema(&self) -> Result<SchemaRef> {
        Ok((self.frame)(&[])?.schema().clone())
    }
}

impl Encoder<Event> {
    /// The events table: row groups encoded straight from the events ([`super::encode`]).
    pub fn events() -> Encoder<Event> {
        Encoder {
            frame: crate::frame::events_frame_of,
            unframe: |df| crate::frame::events_from_frame(df).map_err(Error::Other),
            group: super::encode::write_events_group,
        }
    }
}

/// A run's rows of one lake table, taken as they stream and gathered per (account, date)
/// partition in the order they came; [`LakeParts::write`] then writes one Parquet part per
/// partition, in row groups of [`LAKE_ROW_GROUP`] rows (the last one holds the rest).
/// (Keeping each slice's rows as Arrow frames instead, to drop the rows with their slice, saved
/// no memory a night could measure and cost more time: joining frames into a row group copies
/// every text again.)
pub struct LakeParts<T> {
    table: &'static str,
    /// Each partition's rows not yet encoded nor written aside, in the order they came, one
    /// vector per batch taken (never grown into one: a night's events would be copied as the
    /// vector doubled, and their memory touched twice).
    parts: BTreeMap<Partition, Vec<Vec<T>>>,
    rows: u64,
    /// Rows held in `parts` now.
    held: usize,
    /// Where held rows go when there are more than a budget of them.
    spill: Option<SpillDir>,
    /// Each partition's rows written out so far, in order: read back when its part is written.
    spilled: BTreeMap<Partition, Vec<PathBuf>>,
    /// Rows of a part's row groups ([`LAKE_ROW_GROUP`]).
    row_group: usize,
    /// Where whole row groups go to be encoded while the rows stream
    /// ([`LakeParts::encoding_ahead`]).
    ahead: Option<Ahead<T>>,
}

/// A run's folder of spilled lake rows (Parquet, LZ4) and of parts encoded ahead, removed with
/// it.
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

/// The thread that encodes whole row groups while the rows stream, and the way to it (a
/// group or two in flight at most: the stream waits rather than piling rows up).
struct Ahead<T> {
    to: mpsc::SyncSender<(Partition, Vec<Vec<T>>)>,
    thread: std::thread::JoinHandle<Result<BTreeMap<Partition, PartWriter<T>>>>,
}

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
            ahead: None,
        }
    }

    /// Parts in row groups of `rows` rows (the last one of a part holds the rest).
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
        if self.spill.as_ref().is_none_or(|sp| self.held <= sp.budget) {
            return Ok(());
        }
        for (key, rows) in std::mem::take(&mut self.parts) {
            self.write_aside(key, rows, &frame)?;
        }
        self.held = 0;
        Ok(())
    }

    /// With [`LakeParts::spilling`], writes out the rows held for partitions of days before
    /// `day` (`YYYY-MM-DD`) that hold at least `min` rows: a day the stream has left behind
    /// gets only calls delivered late, so a run over a backlog holds the days it is reading,
    /// not every day short of a row group. The parts are the same files.
    pub fn spill_days_before(
        &mut self,
        day: &str,
        min: usize,
        frame: impl Fn(&[Vec<T>]) -> Result<DataFrame>,
    ) -> Result<()> {
        if self.spill.is_none() {
            return Ok(());
        }
        let rows = |b: &Vec<Vec<T>>| b.iter().map(Vec::len).sum::<usize>();
        let closed: Vec<Partition> = self
            .parts
            .iter()
            .filter(|((_, d), b)| d.as_str() < day && rows(b) >= min.max(1))
            .map(|(k, _)| k.clone())
            .collect();
        for key in closed {
            if let Some(batches) = self.parts.remove(&key) {
                self.held -= rows(&batches);
                self.write_aside(key, batches, &frame)?;
            }
        }
        Ok(())
    }

    /// Writes a partition's held rows out (LZ4 Parquet in the spill folder), to be read back
    /// first when its part is written.
    fn write_aside(
        &mut self,
        key: Partition,
        rows: Vec<Vec<T>>,
        frame: &impl Fn(&[Vec<T>]) -> Result<DataFrame>,
    ) -> Result<()> {
        let Some(sp) = self.spill.as_mut() else {
            return Ok(());
        };
        std::fs::create_dir_all(&sp.dir).map_err(|e| io_err(&sp.dir, e))?;
        let mut df = frame(&rows)?;
        drop(rows);
        let path = sp.dir.join(format!("{:06}.parquet", sp.files));
        sp.files += 1;
        let f = std::fs::File::create(&path).map_err(|e| io_err(&path, e))?;
        ParquetWriter::new(std::io::BufWriter::new(f))
            .with_compression(ParquetCompression::Lz4Raw)
            .set_parallel(false)
            .finish(&mut df)
            .map_err(|e| io_err(&path, e))?;
        self.spilled.entry(key).or_default().push(path);
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
        let mut keys: Vec<Partition> = Vec::new();
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
            let key = keys.remove(0);
            self.parts.entry(key.clone()).or_default().push(rows);
            self.send_ahead(&key);
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
        for (k, group) in keys.iter().zip(groups) {
            self.parts.entry(k.clone()).or_default().push(group);
        }
        for k in &keys {
            self.send_ahead(k);
        }
    }

    /// With [`LakeParts::encoding_ahead`], sends a partition's whole row groups held to be
    /// encoded, unless rows of it were written aside (they come first: its part goes on from
    /// them at the end).
    fn send_ahead(&mut self, key: &Partition) {
        let Some(ahead) = &self.ahead else { return };
        if self.spilled.contains_key(key) {
            return;
        }
        let Some(batches) = self.parts.get_mut(key) else {
            return;
        };
        let held: usize = batches.iter().map(Vec::len).sum();
        let whole = held - held % self.row_group;
        if whole == 0 {
            return;
        }
        let mut rest = std::mem::take(batches).into_iter();
        let mut take = Vec::new();
        let mut n = 0;
        while n < whole {
            let Some(mut b) = rest.next() else { break };
            if n + b.len() > whole {
                let tail = b.split_off(whole - n);
                batches.push(tail);
            }
            n += b.len();
            take.push(b);
        }
        batches.extend(rest);
        if batches.is_empty() {
            self.parts.remove(key);
        }
        self.held -= whole;
        // A closed way means the thread stopped on an error, which writing the parts reports.
        let _ = ahead.to.send((key.clone(), take));
    }

    /// Rows taken so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The most rows held for one partition now.
    #[cfg(test)]
    pub fn most_held_in_a_partition(&self) -> usize {
        let held = self.parts.values();
        held.map(|b| b.iter().map(Vec::len).sum())
            .max()
            .unwrap_or(0)
    }

    /// Every row held, partition by partition, in the batches they came in (not those written
    /// out or encoded ahead).
    #[cfg(test)]
    pub fn parts(&self) -> impl Iterator<Item = &[T]> {
        self.parts.values().flatten().map(Vec::as_slice)
    }
}

impl<T: Send + 'static> LakeParts<T> {
    /// Encodes each partition's row groups for `run` as soon as their rows are there, on a
    /// thread of their own, while the stream goes on: the rows are not held until the end.
    /// The encoded bytes wait in the folder of [`LakeParts::spilling`], else in memory (that
    /// and [`LakeParts::row_groups_of`] are given first).
    pub fn encoding_ahead(mut self, state: State, run: &str, enc: Encoder<T>) -> Result<Self> {
        let aside = match &self.spill {
            Some(sp) => {
                std::fs::create_dir_all(&sp.dir).map_err(|e| io_err(&sp.dir, e))?;
                Some(sp.dir.clone())
            }
            None => None,
        };
        let (to, from) = mpsc::sync_channel::<(Partition, Vec<Vec<T>>)>(1);
        let (table, run, rows) = (self.table, run.to_string(), self.row_group);
        let schema = enc.schema()?;
        let thread = std::thread::spawn(move || {
            let mut writers: BTreeMap<Partition, PartWriter<T>> = BTreeMap::new();
            for (n, (key, batches)) in from.into_iter().enumerate() {
                let writer = match writers.entry(key) {
                    Entry::Occupied(w) => w.into_mut(),
                    Entry::Vacant(v) => {
                        let (account, date) = v.key();
                        let path = state.part_path(table, &run, (account, date));
                        let waits = aside
                            .as_ref()
                            .map(|d| d.join(format!("ahead-{n:06}.parquet")));
                        v.insert(PartWriter::new(path, enc, &schema, waits)?)
                    }
                };
                writer.push(batches, rows)?;
            }
            Ok(writers)
        });
        self.ahead = Some(Ahead { to, thread });
        Ok(self)
    }
}

impl<T> LakeParts<T> {
    /// Writes one part per partition for `run` (`enc` encodes a partition's rows), freeing each
    /// partition's rows once written; returns the parts' paths, in partition order.
    pub fn write(self, state: &State, run: &str, enc: Encoder<T>) -> Result<Vec<PathBuf>> {
        let LakeParts {
            table,
            parts: mut held,
            mut spilled,
            spill,
            row_group,
            ahead,
            ..
        } = self;
        // The row groups encoded ahead first: each of those parts goes on from them.
        let mut ahead = match ahead {
            Some(Ahead { to, thread }) => {
                drop(to);
                thread
                    .join()
                    .map_err(|_| Error::Other(format!("encoding the {table} lake failed")))??
            }
            None => BTreeMap::new(),
        };
        let keys: BTreeSet<Partition> = spilled
            .keys()
            .chain(held.keys())
            .chain(ahead.keys())
            .cloned()
            .collect();
        let schema = enc.schema()?;
        let mut files = Vec::new();
        for key in keys {
            // The partition's rows in the order they came: those written out first (read back
            // a row group at a time), then those still held; cut into row groups of
            // `row_group` rows, so the bytes do not depend on how the rows came (slices, rows
            // written aside or encoded ahead).
            let mut writer = match ahead.remove(&key) {
                Some(w) => w,
                None => {
                    let path = state.part_path(table, run, (&key.0, &key.1));
                    PartWriter::new(path, enc, &schema, None)?
                }
            };
            for p in spilled.remove(&key).unwrap_or_default() {
                let df = read_frame(&p)?;
                let _ = std::fs::remove_file(&p);
                for at in (0..df.height()).step_by(row_group) {
                    let rows = (enc.unframe)(&df.slice(at as i64, row_group))
                        .map_err(|e| io_err(&p, e))?;
                    writer.push(vec![rows], row_group)?;
                }
            }
            writer.push(held.remove(&key).unwrap_or_default(), row_group)?;
            files.push(writer.finish()?);
        }
        drop(spill);
        Ok(files)
    }
}

impl<T> LakeParts<T> {
    /// Calls `each` with every partition's rows as one frame (those written aside first, then
    /// those held; `frame` gives the frame of held rows), in partition order, freeing each
    /// partition's rows once framed: for a table whose parts are written whole, after a step
    /// of their own (sorting). Not with [`LakeParts::encoding_ahead`].
    pub fn each_partition(
        self,
        frame: impl Fn(&[Vec<T>]) -> Result<DataFrame>,
        mut each: impl FnMut((&str, &str), DataFrame) -> Result<()>,
    ) -> Result<()> {
        let LakeParts {
            parts: mut held,
            mut spilled,
            spill,
            ..
        } = self;
        let keys: BTreeSet<Partition> = spilled.keys().chain(held.keys()).cloned().collect();
        for key in keys {
            let mut frames = Vec::new();
            for p in spilled.remove(&key).unwrap_or_default() {
                frames.push(read_frame(&p)?);
                let _ = std::fs::remove_file(&p);
            }
            if let Some(rows) = held.remove(&key) {
                frames.push(frame(&rows)?);
            }
            let mut frames = frames.into_iter();
            let Some(mut df) = frames.next() else {
                continue;
            };
            for more in frames {
                df.vstack_mut_owned(more)?;
            }
            each((&key.0, &key.1), df)?;
        }
        drop(spill);
        Ok(())
    }
}

/// Bytes a Parquet writer writes, taken from it as they come.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One partition's part being written: whole row groups are encoded as soon as their rows are
/// there, the rest waits for more rows or the end.
struct PartWriter<T> {
    /// Where the part goes.
    path: PathBuf,
    writer: polars::io::parquet::write::BatchedWriter<Shared>,
    bytes: Shared,
    /// How its rows are encoded.
    enc: Encoder<T>,
    /// Rows short of a row group, in the batches they came in.
    pending: Vec<Vec<T>>,
    /// Where the bytes encoded so far wait, instead of memory (a part encoded ahead, in the
    /// run's spill folder).
    waits: Option<PathBuf>,
}

impl<T> PartWriter<T> {
    /// A part of the table `enc` encodes, of `schema` (zstd).
    fn new(
        path: PathBuf,
        enc: Encoder<T>,
        schema: &Schema,
        waits: Option<PathBuf>,
    ) -> Result<PartWriter<T>> {
        let bytes = Shared::default();
        // Columns encoded on this thread, one after another: handing them to polars' own
        // thread pool cost a 2-core night 7% more CPU (its idle workers spin while the
        // engine, the counting thread and the reading threads want the cores), for the same
        // bytes.
        let writer = ParquetWriter::new(bytes.clone())
            .with_compression(lake_compression())
            .set_parallel(false)
            .batched(schema)
            .map_err(|e| io_err(&path, e))?;
        Ok(PartWriter {
            path,
            writer,
            bytes,
            enc,
            pending: Vec::new(),
            waits,
        })
    }

    /// Takes the next rows of the part; encodes every whole group of `rows` rows there is.
    fn push(&mut self, batches: Vec<Vec<T>>, rows: usize) -> Result<()> {
        self.pending
            .extend(batches.into_iter().filter(|b| !b.is_empty()));
        while self.pending.iter().map(Vec::len).sum::<usize>() >= rows {
            let mut take = Vec::new();
            let mut n = 0;
            let mut rest = std::mem::take(&mut self.pending).into_iter();
            while n < rows {
                let Some(mut b) = rest.next() else { break };
                if n + b.len() > rows {
                    self.pending.push(b.split_off(rows - n));
                }
                n += b.len();
                take.push(b);
            }
            self.pending.extend(rest);
            self.group(&take)?;
        }
        self.move_on(false)
    }

    /// Encodes one row group.
    fn group(&mut self, rows: &[Vec<T>]) -> Result<()> {
        let mut writer = self
            .writer
            .get_writer()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        (self.enc.group)(rows, &mut writer).map_err(|e| io_err(&self.path, e))
    }

    /// Appends the bytes encoded since last time to the file where they wait, if any (synced
    /// to disk when `last`).
    fn move_on(&mut self, last: bool) -> Result<()> {
        let Some(waits) = &self.waits else {
            return Ok(());
        };
        let bytes = self.bytes.take();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(waits)
            .map_err(|e| io_err(waits, e))?;
        f.write_all(&bytes).map_err(|e| io_err(waits, e))?;
        if last {
            f.sync_all().map_err(|e| io_err(waits, e))?;
        }
        Ok(())
    }

    /// Encodes the rows left, writes the footer and puts the part in place; returns its path.
    fn finish(mut self) -> Result<PathBuf> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.group(&rest)?;
        }
        self.writer.finish().map_err(|e| io_err(&self.path, e))?;
        match self.waits.clone() {
            None => write_atomic(&self.path, &self.bytes.take())?,
            Some(waits) => {
                self.move_on(true)?;
                put_in_place(&waits, &self.path)?;
            }
        }
        Ok(self.path)
    }
}

/// Moves a finished file into place (renamed: the spill folder is in the state directory; else
/// copied).
fn put_in_place(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let bytes = std::fs::read(from).map_err(|e| io_err(from, e))?;
    write_atomic(to, &bytes)?;
    let _ = std::fs::remove_file(from);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::state::tests::{event_partition, files, sample_events};

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
                Encoder::events(),
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
                Encoder::events(),
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
        // Batches of `batch` rows, at most `held` rows held (the rest written aside), whole
        // row groups encoded `ahead` as they stream or not, and with `left`, the rows of the
        // days before the batch's last one written aside (5 or more).
        let write = |batch: usize, held: Option<usize>, ahead: bool, left: bool| {
            let dir = tempfile::tempdir().unwrap();
            let state = State::open(dir.path()).unwrap();
            let mut lake = LakeParts::new("events").row_groups_of(group);
            if let Some(budget) = held {
                lake = lake.spilling(dir.path().join(".spill-run-a"), budget);
            }
            if ahead {
                lake = lake
                    .encoding_ahead(state.handle(), "run-a", Encoder::events())
                    .unwrap();
            }
            let mut most_held = 0;
            for slice in events.chunks(batch) {
                lake.push(slice.to_vec(), event_partition);
                if let (true, Some(e)) = (left, slice.last()) {
                    lake.spill_days_before(&e.event_day, 5, crate::frame::events_frame_of)
                        .unwrap();
                }
                lake.spill_over(crate::frame::events_frame_of).unwrap();
                most_held = most_held.max(lake.most_held_in_a_partition());
            }
            if left {
                assert!(!lake.spilled.is_empty(), "days left are written aside");
            }
            lake.write(&state, "run-a", Encoder::events()).unwrap();
            (dir, most_held)
        };
        let (reference, _) = write(1000, None, false, false);
        let want = files(reference.path());
        for (batch, held, ahead, left) in [
            (7, None, false, false),
            (7, Some(50), false, false),
            (333, Some(100), false, false),
            (1, Some(17), false, false),
            (7, None, true, false),
            (1, None, true, false),
            (333, None, true, false),
            (7, Some(50), true, false),
            (13, Some(100), true, false),
            (1, Some(17), true, false),
            (7, Some(100_000), false, true),
            (13, Some(100_000), true, true),
            (1, Some(17), true, true),
        ] {
            let (other, most_held) = write(batch, held, ahead, left);
            let got = files(other.path());
            assert_eq!(
                want.keys().collect::<Vec<_>>(),
                got.keys().collect::<Vec<_>>(),
                "nothing else is left (batches of {batch}, {held:?} held, ahead: {ahead})"
            );
            for (name, bytes) in &want {
                assert!(
                    got[name] == *bytes,
                    "{name} differs (batches of {batch}, {held:?} held, ahead: {ahead})"
                );
            }
            if ahead && held.is_none() {
                // Rows wait for a row group to fill, no longer: the rest is already encoded.
                assert!(
                    most_held < group + batch,
                    "{most_held} rows of a partition held (batches of {batch})"
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
}
