//! The nightly report as Markdown (placeholder until written).
use super::digest::Digest;

pub fn render(d: &Digest) -> String {
    format!("# {}\n", d.title)
}
