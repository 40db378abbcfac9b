//! Bytes of a log object -> its JSON text. The one place that decompresses.
//!
//! Gzip is recognised by its magic bytes (`1f 8b`), never by the file name: CloudTrail objects
//! downloaded by tools lose their `.gz`, and S3 may serve them with `Content-Encoding: gzip`.
//! Concatenated gzip members are read as one stream. A truncated or corrupt stream keeps every
//! byte decompressed before the damage, so the complete records in it are not lost.

use flate2::read::MultiGzDecoder;
use std::io::Read;

/// Decompressed bytes, and the reason decompression stopped early, if it did.
pub struct Decoded {
    pub bytes: Vec<u8>,
    pub gzip: bool,
    pub damage: Option<String>,
}

pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// Decompresses `data` when it is gzip; returns it unchanged otherwise.
pub fn decode(data: Vec<u8>) -> Decoded {
    if !is_gzip(&data) {
        return Decoded {
            bytes: data,
            gzip: false,
            damage: None,
        };
    }
    let mut out = Vec::with_capacity(data.len().saturating_mul(8));
    let mut dec = MultiGzDecoder::new(&data[..]);
    let damage = match dec.read_to_end(&mut out) {
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
    Decoded {
        bytes: out,
        gzip: true,
        damage,
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
