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

/// Inflates gzip `data` into `out` (cleared first; its capacity is reused, so a worker that
/// reads many objects allocates its buffer once), stopping once more than `cap` bytes come out;
/// `out` is then left empty. The input is read in place, not copied into a reader's buffer.
pub fn inflate_into(data: &[u8], cap: u64, out: &mut Vec<u8>) -> Inflated {
    out.clear();
    let guess = (data.len() as u64)
        .saturating_mul(8)
        .min(cap.saturating_add(1));
    out.reserve(usize::try_from(guess).unwrap_or(0));
    let mut dec = MultiGzDecoder::new(data).take(cap.saturating_add(1));
    let damage = match dec.read_to_end(out) {
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Some(format!(
            "truncated gzip: the stream ends early after {} decompressed bytes",
            out.len()
        )),
        Err(e) => Some(format!(
            "corrupt gzip after {} decompressed bytes: {e}",
            out.len()
        )),
    };
    if out.len() as u64 > cap {
        out.clear();
        return Inflated {
            damage: None,
            too_big: Some(format!(
                "inflates past {cap} bytes (cap {}, --max-object-size): not read",
                human_bytes(cap)
            )),
        };
    }
    Inflated {
        damage,
        too_big: None,
    }
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
