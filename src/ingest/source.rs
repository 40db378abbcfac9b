//! Command-line paths -> the list of files to read, in a stable order.
//!
//! Folders are walked recursively in name order. Inside folders, CloudTrail digest and Insight
//! files and files that are plainly not logs (README, LICENSE, *.md, *.sql...) are listed as
//! skipped, with the reason; a file named on the command line is always read (digests aside).

use crate::error::Error;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    Digest,
    Insight,
    NotLog,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Digest => "CloudTrail digest",
            SkipReason::Insight => "CloudTrail Insight",
            SkipReason::NotLog => "not a log file",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub size: u64,
    pub skip: Option<SkipReason>,
    /// Set when the walk could not look at this path (permissions, a broken link): it is
    /// reported as a failed file and the run goes on.
    pub error: Option<String>,
    /// The name in a state manifest (set when tracking).
    pub name: Option<String>,
}

const NOT_LOG_EXTENSIONS: [&str; 16] = [
    "md", "txt", "rst", "html", "htm", "pdf", "sql", "toml", "yml", "yaml", "py", "sh", "rs",
    "csv", "parquet", "png",
];

/// Digest and Insight files are recognised by their S3 folder or file name.
pub fn skip_by_key(key: &str) -> Option<SkipReason> {
    if key.contains("CloudTrail-Digest") {
        Some(SkipReason::Digest)
    } else if key.contains("CloudTrail-Insight") {
        Some(SkipReason::Insight)
    } else {
        None
    }
}

fn not_a_log(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.starts_with('.')
        || name.starts_with("license")
        || name.starts_with("readme")
        || name.starts_with("notice")
        || name.starts_with("copying")
    {
        return true;
    }
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| NOT_LOG_EXTENSIONS.contains(&e.as_str()))
}

/// An error naming every path given that does not exist.
pub(crate) fn all_exist(paths: &[PathBuf]) -> Result<(), Error> {
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::PathNotFound(missing))
    }
}

/// A place under `root` the walk could not look at: a failed input with the reason.
pub(crate) fn unreadable(e: &walkdir::Error, root: &Path) -> Input {
    Input {
        path: e
            .path()
            .map_or_else(|| root.to_path_buf(), Path::to_path_buf),
        size: 0,
        skip: None,
        error: Some(format!("cannot read: {e}")),
        name: None,
    }
}

/// Why a file found inside a folder is not read, if it is not: a digest or Insight file, or
/// plainly not a log.
pub(crate) fn skip_in_folder(path: &Path) -> Option<SkipReason> {
    skip_by_key(&path.to_string_lossy()).or_else(|| not_a_log(path).then_some(SkipReason::NotLog))
}

/// Expands paths into files. A path that does not exist is an error; nothing is read then.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Input>, Error> {
    all_exist(paths)?;
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let walker = walkdir::WalkDir::new(p)
                .follow_links(true)
                .sort_by_file_name();
            for entry in walker {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        out.push(unreadable(&e, p));
                        continue;
                    }
                };
                if !entry.file_type().is_file() {
                    continue;
                }
                let path = entry.path().to_path_buf();
                let skip = skip_in_folder(&path);
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(Input {
                    path,
                    size,
                    skip,
                    error: None,
                    name: None,
                });
            }
        } else {
            let size = p.metadata().map(|m| m.len()).unwrap_or(0);
            let skip = skip_by_key(&p.to_string_lossy());
            out.push(Input {
                path: p.clone(),
                size,
                skip,
                error: None,
                name: None,
            });
        }
    }
    Ok(out)
}
