//! Bytes of a log object -> its JSON text. The one place that decompresses.
//!
//! Gzip is recognised by its magic bytes (`1f 8b`), never by the file name: CloudTrail objects
//! downloaded by tools lose their `.gz`, and S3 may serve them with `Content-Encoding: gzip`.
//! Concatenated gzip members are read as one stream. A truncated or corrupt stream keeps every
//! byte decompressed before the damage, so the complete records in it are not lost. An object
//! that inflates past a cap (a gzip bomb, a runaway export) is not kept at all: reading stops
//! at the cap and the object is told as too big.

use flate2::bufread::MultiGzDecoder;
use std::io::Read;

/// Bytes one object may inflate to unless told otherwise: 1 GiB (a CloudTrail delivery file is
/// a few MB; the largest seen are tens of MB).
pub const DEFAULT_MAX_INFLATED: u64 = 1 << 30;

/// Decompressed bytes, and the reason decompression stopped early, if it did.
pub struct Decoded {
    pub bytes: Vec<u8>,
    pub gzip: bool,
    pub damage: Option<String>,
    /// Set when the object inflates past the cap; `bytes` is then empty.
    pub too_big: Option<String>,
}

pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// Decompresses `data` when it is gzip, up to [`DEFAULT_MAX_INFLATED`]; returns it unchanged
/// otherwise.
pub fn decode(data: Vec<u8>) -> Decoded {
    decode_capped(data, DEFAULT_MAX_INFLATED)
}

/// `1073741824` -> `1 GiB`, `1536` -> `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Decompresses `data` when it is gzip, stopping once more than `cap` bytes come out.
pub fn decode_capped(data: Vec<u8>, cap: u64) -> Decoded {
    if !is_gzip(&data) {
        return Decoded {
            bytes: data,
            gzip: false,
            damage: None,
            too_big: None,
        };
    }
    let mut out = Vec::new();
    let i = inflate_into(&data, cap, &mut out);
    Decoded {
        bytes: out,
        gzip: true,
        damage: i.damage,
        too_big: i.too_big,
    }
}

/// How inflating into a caller's buffer went: as [`Decoded`], less the bytes.
#[derive(Debug, Default)]
pub struct Inflated {
    pub damage: Option<String>,
    pub too_big: Option<String>,
}

/// Inflates gzip `data` into `out` (cleared first), stopping once more than `cap` bytes come
/// out; `out` is then left empty. The input is read in place, not copied into a reader's
/// buffer. A worker that reads many objects uses [`inflate_reusing`] instead.
pub fn inflate_into(data: &[u8], cap: u64, out: &mut Vec<u8>) -> Inflated {
    out.clear();
    let (i, n) = inflate_reusing(data, cap, out);
    out.truncate(n);
    i
}

/// Inflates gzip `data` into `buf` and returns how it went and how many bytes came out, at
/// the start of `buf` (none when the object inflates past `cap`). `buf` is a worker's buffer
/// reused from object to object: its length is the bytes it holds ready to be written over, so
/// that memory is initialized once when the buffer grows, not again for every object (as
/// `read_to_end` into a cleared vector does).
pub fn inflate_reusing(data: &[u8], cap: u64, buf: &mut Vec<u8>) -> (Inflated, usize) {
    // One byte past the cap tells an object that inflates past it.
    let limit = usize::try_from(cap.saturating_add(1)).unwrap_or(usize::MAX);
    let guess = data.len().saturating_mul(8).min(limit);
    if buf.len() < guess {
        buf.resize(guess, 0);
    }
    let mut dec = MultiGzDecoder::new(data);
    let mut n = 0;
    let mut error = None;
    while n < limit {
        if n == buf.len() {
            let grow = buf.len().saturating_mul(2).max(64 << 10).min(limit);
            buf.resize(grow, 0);
        }
        match dec.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let damage = error.map(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            format!("truncated gzip: the stream ends early after {n} decompressed bytes")
        } else {
            format!("corrupt gzip after {n} decompressed bytes: {e}")
        }
    });
    if n as u64 > cap {
        let why = format!(
            "inflates past {cap} bytes (cap {}, --max-object-size): not read",
            human_bytes(cap)
        );
        return (
            Inflated {
                damage: None,
                too_big: Some(why),
            },
            0,
        );
    }
    (
        Inflated {
            damage,
            too_big: None,
        },
        n,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_text_passes_through() {
        let d = decode(b"{}".to_vec());
        assert!(!d.gzip && d.damage.is_none());
        assert_eq!(d.bytes, b"{}");
    }

    #[test]
    fn concatenated_members_are_one_stream() {
        let mut data = gz(b"abc");
        data.extend(gz(b"def"));
        let d = decode(data);
        assert_eq!(d.bytes, b"abcdef");
        assert!(d.damage.is_none());
    }

    #[test]
    fn an_object_past_the_cap_is_not_kept() {
        let bomb = gz(&vec![0u8; 20 << 20]);
        assert!(bomb.len() < 100 << 10);
        let d = decode_capped(bomb.clone(), 1 << 20);
        assert!(d.bytes.is_empty());
        let why = d.too_big.unwrap();
        assert!(
            why.starts_with("inflates past 1048576 bytes (cap 1 MiB"),
            "{why}"
        );
        // At the cap exactly, the object is read.
        let d = decode_capped(bomb, 20 << 20);
        assert!(d.too_big.is_none() && d.bytes.len() == 20 << 20);
        // Plain text is its own size: never capped.
        assert!(decode_capped(vec![b' '; 100], 10).too_big.is_none());
        assert_eq!(human_bytes(DEFAULT_MAX_INFLATED), "1 GiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 bytes");
    }

    #[test]
    fn a_reused_buffer_holds_only_the_latest_object() {
        let mut buf = Vec::new();
        let i = inflate_into(&gz(&vec![b'a'; 100_000]), DEFAULT_MAX_INFLATED, &mut buf);
        assert!(i.damage.is_none() && i.too_big.is_none());
        assert_eq!(buf.len(), 100_000);
        let i = inflate_into(&gz(b"short"), DEFAULT_MAX_INFLATED, &mut buf);
        assert!(i.damage.is_none());
        assert_eq!(buf, b"short");
        let i = inflate_into(&gz(&vec![0u8; 4096]), 1000, &mut buf);
        assert!(i.too_big.is_some() && buf.is_empty());
        // A worker's buffer keeps its bytes for the next object; only the count says what is
        // this object's.
        let mut buf = Vec::new();
        let (i, n) = inflate_reusing(&gz(&vec![b'a'; 100_000]), DEFAULT_MAX_INFLATED, &mut buf);
        assert!(i.damage.is_none() && n == 100_000 && buf.len() >= n);
        let (i, n) = inflate_reusing(&gz(b"short"), DEFAULT_MAX_INFLATED, &mut buf);
        assert!(i.damage.is_none());
        assert_eq!(&buf[..n], b"short");
        let (i, n) = inflate_reusing(&gz(&vec![0u8; 4096]), 1000, &mut buf);
        assert!(i.too_big.is_some() && n == 0);
        // At the cap exactly, the object is read.
        let (i, n) = inflate_reusing(&gz(&vec![7u8; 1000]), 1000, &mut buf);
        assert!(i.too_big.is_none() && n == 1000 && buf[..n].iter().all(|&b| b == 7));
    }

    #[test]
    fn truncation_keeps_what_came_before() {
        let text: Vec<u8> = (0..20000u32)
            .flat_map(|i| i.to_string().into_bytes())
            .collect();
        let data = gz(&text);
        let d = decode(data[..data.len() / 2].to_vec());
        assert!(d.damage.as_deref().unwrap().contains("truncated"));
        assert!(!d.bytes.is_empty() && text.starts_with(&d.bytes));
    }
}
