//! Seeded randomness: one ChaCha stream per unit of work, derived from `(seed, key)`, so that
//! units can run in any order (or in parallel) and still give the same bytes.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The generator every unit draws from.
pub(crate) type Gen = ChaCha8Rng;

/// SplitMix64's finaliser: a fast, well-mixing bijection on `u64`.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for the unit named `key` under `seed`. The same pair always gives the same
/// stream, on every platform.
pub(crate) fn derive(seed: u64, key: &str) -> Gen {
    let mut fnv: u64 = 0xCBF2_9CE4_8422_2325;
    for b in key.bytes() {
        fnv ^= u64::from(b);
        fnv = fnv.wrapping_mul(0x0000_0100_0000_01B3);
    }
    let mut state = mix64(seed) ^ fnv;
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        state = mix64(state ^ fnv.rotate_left(17));
        chunk.copy_from_slice(&state.to_le_bytes());
    }
    ChaCha8Rng::from_seed(bytes)
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Convenience draws on top of [`Rng`].
pub(crate) trait Draw: Rng {
    /// Uniform in `0..n` (`n > 0`), by multiply-shift (bias far below anything visible here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Approximately normal (sum of uniforms), mean `mu`, standard deviation `sd`.
    fn normal(&mut self, mu: f64, sd: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum::<f64>() - 2.0;
        mu + sd * s * 1.732_050_8
    }
    /// One element of a non-empty slice.
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    /// One element of a weighted list `(weight, item)`.
    fn weighted<'a, T>(&mut self, xs: &'a [(u32, T)]) -> &'a T {
        let total: u64 = xs.iter().map(|(w, _)| u64::from(*w)).sum();
        let mut r = self.below(total);
        for (w, x) in xs {
            if r < u64::from(*w) {
                return x;
            }
            r -= u64::from(*w);
        }
        &xs[xs.len() - 1].1
    }
    fn u128(&mut self) -> u128 {
        (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64())
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize] as char)
            .collect()
    }
    /// An access key id such as `AKIA...` or `ASIA...` (20 characters, base32 alphabet).
    fn key_id(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.chars(BASE32, 16))
    }
    /// A unique id such as `AIDA...` or `AROA...` (21 characters).
    fn unique_id(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.chars(BASE32, 17))
    }
    fn alnum(&mut self, n: usize) -> String {
        self.chars(ALNUM, n)
    }
    fn hex(&mut self, n: usize) -> String {
        self.chars(HEX, n)
    }
    fn b64(&mut self, n: usize) -> String {
        self.chars(BASE64, n)
    }
    /// An EC2 instance id `i-0` + 16 hex digits.
    fn instance_id(&mut self) -> String {
        format!("i-0{}", self.hex(16))
    }
}

impl<R: Rng + ?Sized> Draw for R {}

/// A UUID (version 4 layout) written from 128 bits.
pub(crate) fn uuid(bits: u128, out: &mut String) {
    let b = (bits & !(0xF000u128 << 64) & !(0xC000u128 << 48))
        | (0x4000u128 << 64)
        | (0x8000u128 << 48);
    let mut hexed = [0u8; 32];
    for (i, h) in hexed.iter_mut().enumerate() {
        *h = HEX[((b >> (124 - 4 * i)) & 0xF) as usize];
    }
    for (i, h) in hexed.iter().enumerate() {
        if i == 8 || i == 12 || i == 16 || i == 20 {
            out.push('-');
        }
        out.push(*h as char);
    }
}

pub(crate) fn uuid_string(bits: u128) -> String {
    let mut s = String::with_capacity(36);
    uuid(bits, &mut s);
    s
}

/// A second, independent-looking 128-bit value derived from `bits` (for requestID and the like).
pub(crate) fn derive128(bits: u128, salt: u64) -> u128 {
    let hi = mix64((bits >> 64) as u64 ^ salt);
    let lo = mix64(bits as u64 ^ hi ^ salt.rotate_left(32));
    (u128::from(hi) << 64) | u128::from(lo)
}

/// `n` upper-case hex digits from `bits` (S3 style request ids).
pub(crate) fn upper_hex(bits: u128, n: usize, out: &mut String) {
    for i in 0..n {
        let d = ((bits >> (4 * (i % 32))) & 0xF) as usize;
        out.push(HEX[d].to_ascii_uppercase() as char);
    }
}

/// Base64-looking text of `n` characters from `bits`, stretched with [`mix64`].
pub(crate) fn b64_from(bits: u128, n: usize, out: &mut String) {
    let mut state = bits as u64 ^ (bits >> 64) as u64;
    let mut word = 0u64;
    for i in 0..n {
        if i % 10 == 0 {
            state = mix64(state);
            word = state;
        }
        out.push(BASE64[(word & 63) as usize] as char);
        word >>= 6;
    }
}
