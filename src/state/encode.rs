//! The events lake's row groups encoded straight from the events, not through a polars frame.
//!
//! polars, given the frame of a row group, copies every text into Arrow, estimates each text
//! column's distinct values, and hashes every text again to build the dictionaries of the
//! columns worth one: about half of what the lake cost a night. Here each text column is built
//! as a dictionary from the start, its values in the order they first appear, each row's value
//! found by the address of the text the events share before its bytes are hashed; a column
//! whose values mostly differ (more than three in four, as polars decides) is written plain,
//! and the event and request ids, which always differ, never go through a dictionary. The other
//! columns are made as the frame makes them. The pages are polars' own encoders' (dictionary
//! page, keys, statistics, zstd), so a part reads back exactly as the frame would have.

use crate::event::Event;
use crate::frame::{event_columns, filled, Fill, Kinds, Rows};
use polars::prelude::*;
use polars_arrow::array::{Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::ArrowDataType;
use polars_parquet::parquet::compression::CompressionOptions;
use polars_parquet::parquet::page::{CompressedDictPage, DataPageHeader};
use polars_parquet::parquet::CowBuffer;
use polars_parquet::write::{
    array_to_columns, compress, get_dtype_encoding, CompressedDataPage, CompressedPage, DynIter,
    DynStreamingIterator, Encoding, FallibleStreamingIterator, FileWriter, Page, ParquetType,
};
use std::collections::HashMap;
use std::io::Write;

/// The columns whose values always differ (one per call): written plain.
const UNIQUE: [&str; 2] = ["event_id", "request_id"];

/// A row group up to this many rows has every text column in a dictionary, as polars does.
const SMALL_GROUP: usize = 128;

type Fast = foldhash::fast::FixedState;

/// Slots of a dictionary column's recent values ([`DictFill`]): 2^5.
const RECENT_BITS: u32 = 5;

/// Encodes `rows` as one row group of `writer`'s part (the events table's schema).
pub fn write_events_group<W: Write, R: Rows<Event> + ?Sized>(
    rows: &R,
    writer: &mut FileWriter<W>,
) -> PolarsResult<()> {
    let n = rows.count();
    if n == 0 {
        return Ok(());
    }
    let arrays = filled(rows, event_columns(&LakeKinds(n)));
    let options = writer.options();
    let fields: Vec<ParquetType> = writer.parquet_schema().fields().to_vec();
    let mut zstd = Zstd::new(options.compression)?;
    let mut columns = Vec::with_capacity(arrays.len());
    for (array, field) in arrays.into_iter().zip(fields) {
        // A text column left plain is plain; the rest as polars encodes their type.
        let encoding = match array.dtype() {
            ArrowDataType::Utf8View => vec![Encoding::Plain],
            dtype => get_dtype_encoding(dtype),
        };
        for pages in array_to_columns(&array, field, options, &encoding)? {
            let pages = pages
                .map(|p| zstd.compress(p?))
                .collect::<PolarsResult<Vec<_>>>()?;
            columns.push(Ok(DynStreamingIterator::new(Pages {
                pages: pages.into_iter(),
                current: None,
            })));
        }
    }
    writer.write(n as u64, DynIter::new(columns.into_iter()))
}

/// A row group's pages compressed with one zstd context, into the bytes polars writes (it
/// makes a context for every page, and zeroes each page's room first).
struct Zstd {
    /// The context, when the part is compressed with zstd (else polars compresses each page).
    context: Option<zstd::bulk::Compressor<'static>>,
    compression: CompressionOptions,
}

impl Zstd {
    fn new(compression: CompressionOptions) -> PolarsResult<Zstd> {
        let context = match compression {
            CompressionOptions::Zstd(level) => {
                let level = level.map(|v| v.compression_level()).unwrap_or_default();
                Some(zstd::bulk::Compressor::new(level).map_err(zstd_err)?)
            }
            _ => None,
        };
        Ok(Zstd {
            context,
            compression,
        })
    }

    fn compress(&mut self, page: Page) -> PolarsResult<CompressedPage> {
        let compression = self.compression;
        let Some(z) = self.context.as_mut() else {
            return Ok(compress(page, vec![], compression)?);
        };
        let mut squeeze = |bytes: &[u8]| -> PolarsResult<Vec<u8>> {
            let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(bytes.len()));
            z.compress_to_buffer(bytes, &mut out).map_err(zstd_err)?;
            Ok(out)
        };
        Ok(match page {
            Page::Data(p) if matches!(p.header(), DataPageHeader::V1(_)) => {
                let out = squeeze(p.buffer())?;
                let rows = p.num_rows().unwrap_or_default();
                CompressedPage::Data(CompressedDataPage::new(
                    p.header().clone(),
                    CowBuffer::Owned(out),
                    compression.into(),
                    p.buffer().len(),
                    p.descriptor.clone(),
                    rows,
                ))
            }
            Page::Dict(d) => CompressedPage::Dict(CompressedDictPage::new(
                CowBuffer::Owned(squeeze(&d.buffer)?),
                compression.into(),
                d.buffer.len(),
                d.num_values,
                d.is_sorted,
            )),
            other => compress(other, vec![], compression)?,
        })
    }
}

fn zstd_err(e: std::io::Error) -> PolarsError {
    PolarsError::ComputeError(format!("zstd: {e}").into())
}

/// A column's compressed pages, handed to the writer one after another.
struct Pages {
    pages: std::vec::IntoIter<CompressedPage>,
    current: Option<CompressedPage>,
}

impl FallibleStreamingIterator for Pages {
    type Item = CompressedPage;
    type Error = PolarsError;

    fn advance(&mut self) -> PolarsResult<()> {
        self.current = self.pages.next();
        Ok(())
    }

    fn get(&self) -> Option<&CompressedPage> {
        self.current.as_ref()
    }
}

/// The events table's columns as Arrow arrays for Parquet.
struct LakeKinds(usize);

impl<'a> Kinds<'a> for LakeKinds {
    type Out = Box<dyn Array>;

    fn rows(&self) -> usize {
        self.0
    }

    fn text(
        &self,
        name: &'static str,
        f: impl Fn(&'a Event) -> Option<&'a str> + 'a,
    ) -> Box<dyn Fill<'a, Event, Box<dyn Array>> + 'a> {
        if self.0 > SMALL_GROUP && UNIQUE.contains(&name) {
            return Box::new(PlainFill {
                values: MutableBinaryViewArray::with_capacity(self.0),
                f,
            });
        }
        Box::new(DictFill {
            f,
            keys: Vec::with_capacity(self.0),
            valid: MutableBitmap::with_capacity(self.0),
            nulls: 0,
            recent: [None; 1 << RECENT_BITS],
            by_address: HashMap::default(),
            by_text: HashMap::default(),
            values: Vec::new(),
        })
    }

    fn series(s: Series) -> Box<dyn Array> {
        s.to_arrow(0, CompatLevel::newest())
    }
}

/// A text column written plain.
struct PlainFill<F> {
    values: MutableBinaryViewArray<str>,
    f: F,
}

impl<'a, F: Fn(&'a Event) -> Option<&'a str>> Fill<'a, Event, Box<dyn Array>> for PlainFill<F> {
    fn fill(&mut self, rows: &'a [Event]) {
        for r in rows {
            self.values.push((self.f)(r));
        }
    }
    fn done(self: Box<Self>) -> Box<dyn Array> {
        self.values.freeze().boxed()
    }
}

/// A text column as a dictionary: each row's key, and the distinct values in the order they
/// first appear.
struct DictFill<'a, F> {
    f: F,
    keys: Vec<u32>,
    valid: MutableBitmap,
    nulls: usize,
    /// Recent values' addresses and lengths, and their keys, in slots picked by the address:
    /// most of a column's rows repeat a few shared texts, found here without hashing.
    recent: [Option<((usize, usize), u32)>; 1 << RECENT_BITS],
    /// Keys by the address and length of the text (the events share their repeated texts).
    by_address: HashMap<(usize, usize), u32, Fast>,
    /// Keys by the text, for the same text at another address.
    by_text: HashMap<&'a str, u32, Fast>,
    values: Vec<&'a str>,
}

impl<'a, F: Fn(&'a Event) -> Option<&'a str>> DictFill<'a, F> {
    fn key(&mut self, v: &'a str) -> u32 {
        let at = (v.as_ptr() as usize, v.len());
        let slot = (at.0 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - RECENT_BITS);
        if let Some((a, k)) = self.recent[slot] {
            if a == at {
                return k;
            }
        }
        let (by_text, values) = (&mut self.by_text, &mut self.values);
        let k = *self.by_address.entry(at).or_insert_with(|| {
            *by_text.entry(v).or_insert_with(|| {
                values.push(v);
                (values.len() - 1) as u32
            })
        });
        self.recent[slot] = Some((at, k));
        k
    }
}

impl<'a, F: Fn(&'a Event) -> Option<&'a str>> Fill<'a, Event, Box<dyn Array>> for DictFill<'a, F> {
    fn fill(&mut self, rows: &'a [Event]) {
        for r in rows {
            match (self.f)(r) {
                Some(v) => {
                    let k = self.key(v);
                    self.keys.push(k);
                    self.valid.push(true);
                }
                None => {
                    self.keys.push(0);
                    self.valid.push(false);
                    self.nulls += 1;
                }
            }
        }
    }

    fn done(self: Box<Self>) -> Box<dyn Array> {
        let DictFill {
            keys,
            valid,
            nulls,
            values,
            ..
        } = *self;
        let n = keys.len();
        let distinct = values.len() + usize::from(nulls > 0);
        if n > SMALL_GROUP && distinct * 4 > n * 3 {
            // Mostly distinct: plain, as polars writes such a column.
            let mut plain = MutableBinaryViewArray::<str>::with_capacity(n);
            for (i, k) in keys.iter().enumerate() {
                if valid.get(i) {
                    plain.push_value(values[*k as usize]);
                } else {
                    plain.push_null();
                }
            }
            return plain.freeze().boxed();
        }
        let mut dictionary = MutableBinaryViewArray::<str>::with_capacity(values.len());
        for v in &values {
            dictionary.push_value(*v);
        }
        let validity = (nulls > 0).then(|| valid.into());
        let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity);
        DictionaryArray::try_from_keys(keys, dictionary.freeze().boxed(), false)
            .expect("every key is the index of a value")
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{events_frame, events_from_frame};
    use crate::state::tests::sample_events;

    /// A part of one row group encoded from `rows` here, with the lake's options.
    fn encoded(rows: &[Vec<Event>]) -> Vec<u8> {
        let schema = events_frame(&[]).unwrap().schema().clone();
        let mut buf = Vec::new();
        let w = ParquetWriter::new(&mut buf)
            .with_compression(super::super::lake_compression())
            .set_parallel(false)
            .batched(&schema)
            .unwrap();
        write_events_group(rows, &mut w.get_writer().lock().unwrap()).unwrap();
        w.finish().unwrap();
        drop(w);
        buf
    }

    /// The same rows' frame written by polars, with the lake's options.
    fn by_polars(events: &[Event]) -> Vec<u8> {
        let mut df = events_frame(events).unwrap();
        let mut buf = Vec::new();
        ParquetWriter::new(&mut buf)
            .with_compression(super::super::lake_compression())
            .set_parallel(false)
            .with_row_group_size(Some(events.len()))
            .finish(&mut df)
            .unwrap();
        buf
    }

    fn read(bytes: &[u8]) -> DataFrame {
        ParquetReader::new(std::io::Cursor::new(bytes.to_vec()))
            .finish()
            .unwrap()
    }

    /// Whether each column chunk of the first row group starts with a dictionary page.
    fn dictionaries(bytes: &[u8]) -> Vec<(String, bool)> {
        let mut reader = ParquetReader::new(std::io::Cursor::new(bytes.to_vec()));
        let meta = reader.get_metadata().unwrap().clone();
        meta.row_groups[0]
            .parquet_columns()
            .iter()
            .map(|c| {
                let name = c.descriptor().path_in_schema[0].to_string();
                (name, c.dictionary_page_offset().is_some())
            })
            .collect()
    }

    #[test]
    fn a_row_group_encoded_from_the_events_is_the_parquet_polars_writes_for_their_frame() {
        let events = sample_events();
        assert!(events.len() > 1_000);
        let whole = encoded(std::slice::from_ref(&events));
        assert!(read(&whole).equals_missing(&events_frame(&events).unwrap()));
        assert!(whole == by_polars(&events), "the bytes polars writes");
        // However the rows are cut into batches.
        let mut batches = Vec::new();
        let mut rest = events.as_slice();
        for n in [1, 255, 256, 3, 600] {
            let (a, b) = rest.split_at(n);
            batches.push(a.to_vec());
            rest = b;
        }
        batches.push(rest.to_vec());
        assert!(encoded(&batches) == whole);
        // And whatever texts the events share: the same rows read back from their frame hold
        // their own copies of every text.
        let copies = events_from_frame(&events_frame(&events).unwrap()).unwrap();
        assert!(
            !std::ptr::eq(
                events[0].event_name.as_deref().unwrap(),
                copies[0].event_name.as_deref().unwrap()
            ),
            "other copies of the texts"
        );
        assert!(encoded(&[copies]) == whole);
    }

    #[test]
    fn text_columns_are_dictionaries_unless_their_values_mostly_differ() {
        let events = sample_events();
        let big = dictionaries(&encoded(std::slice::from_ref(&events)));
        let has =
            |cols: &[(String, bool)], name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1;
        for name in ["event_name", "event_source", "principal_arn", "event_day"] {
            assert!(has(&big, name), "{name} in a dictionary");
        }
        for name in ["event_id", "request_id"] {
            assert!(!has(&big, name), "{name} plain");
        }
        // A small row group has every text column in a dictionary, as polars does.
        let small = &events[..100];
        let bytes = encoded(&[small.to_vec()]);
        assert!(has(&dictionaries(&bytes), "event_id"));
        assert!(bytes == by_polars(small));
        assert!(read(&bytes).equals_missing(&events_frame(small).unwrap()));
    }

    #[test]
    fn a_text_column_whose_values_mostly_differ_is_written_plain_with_its_nulls() {
        let mut events = sample_events()[..1_000].to_vec();
        for (i, e) in events.iter_mut().enumerate() {
            e.request_parameters = Some(format!("{{\"n\":{i}}}").into());
            // Four rows in five differ, the fifth is null.
            e.error_message = (i % 5 != 0).then(|| format!("error {i}").into());
            // Half differ, half are null: still a dictionary.
            e.vpc_endpoint_id = (i % 2 == 0).then(|| format!("vpce-{i}").into());
        }
        let bytes = encoded(std::slice::from_ref(&events));
        let cols = dictionaries(&bytes);
        let has = |name: &str| cols.iter().find(|(n, _)| n == name).unwrap().1;
        assert!(!has("request_parameters"));
        assert!(!has("error_message"));
        assert!(has("vpc_endpoint_id"));
        assert!(bytes == by_polars(&events), "the bytes polars writes");
        assert!(read(&bytes).equals_missing(&events_frame(&events).unwrap()));
    }
}
