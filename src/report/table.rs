//! Aligned text tables for people. Long cells are shortened on a character boundary.

use polars::prelude::{AnyValue, DataFrame};

/// Shortens `s` to at most `max` characters, ending with `…` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Renders rows under a header, columns separated by two spaces; cells are cut to `max` chars.
pub fn render(headers: &[&str], rows: &[Vec<String>], max: usize) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| shorten(&c.replace(['\n', '\r', '\t'], " "), max))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cols: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (i, c) in cols.enumerate() {
            let pad = widths
                .get(i)
                .copied()
                .unwrap_or(0)
                .saturating_sub(c.chars().count());
            parts.push(format!("{c}{}", " ".repeat(pad)));
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, &mut headers.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for r in &cells {
        line(&mut out, &mut r.iter().map(String::as_str));
    }
    out
}

/// A whole DataFrame as a table.
pub fn frame_table(df: &DataFrame, max: usize) -> String {
    let cols = df.columns();
    let headers: Vec<String> = cols.iter().map(|c| c.name().to_string()).collect();
    let rows: Vec<Vec<String>> = (0..df.height())
        .map(|i| {
            cols.iter()
                .map(|c| super::any_to_text(&c.get(i).unwrap_or(AnyValue::Null)))
                .collect()
        })
        .collect();
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    render(&h, &rows, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_respects_char_boundaries() {
        assert_eq!(shorten("héllo wörld", 5), "héll…");
        assert_eq!(shorten("abc", 5), "abc");
    }

    #[test]
    fn columns_align() {
        let t = render(&["a", "bb"], &[vec!["xxx".into(), "y".into()]], 10);
        assert_eq!(t, "a    bb\n---  --\nxxx  y\n");
    }
}
