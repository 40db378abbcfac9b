//! Command-line paths -> the list of files to read, in a stable order.
//!
//! Folders are walked recursively in name order. Inside folders, CloudTrail digest and Insight
//! files and files that are plainly not logs (README, LICENSE, *.md, *.sql...) are listed as
//! skipped, with the reason; a file named on the command line is always read (digests aside).

use crate::error::Error;
use crate::event::Millis;
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
                if entry.file_type().is_file() {
                    out.push(file_input(&entry));
                }
            }
        } else {
            out.push(named_file(p));
        }
    }
    Ok(out)
}

/// A folder that holds only files, whose dated CloudTrail log files are listed only when a
/// streaming read reaches their delivery time: a tree of millions of files is not held as one
/// list. The walk numbers every input in the order [`expand`] lists them, so a deferred file
/// gets the number it would have had.
#[derive(Debug, Clone)]
pub struct Deferred {
    pub path: PathBuf,
    /// The number of the folder's first wanted entry in the walk.
    pub first: usize,
    /// Its dated log files: how many, the earliest delivery time in their names, their bytes.
    pub files: usize,
    pub earliest: Millis,
    pub bytes: u64,
}

/// Local paths listed with the dated files of file-only folders deferred.
#[derive(Debug, Default)]
pub struct Listing {
    /// Inputs listed now, with their numbers in the walk.
    pub inputs: Vec<(usize, Input)>,
    /// Folders whose dated files are listed later, earliest delivery first.
    pub deferred: Vec<Deferred>,
    /// Inputs in all, listed and deferred.
    pub count: usize,
}

/// What the deferring walk needs to know: which folders it need not enter at all, whether a
/// filter keeps an input, and the delivery time that lets an input's listing wait (None:
/// listed now).
pub struct Defer<'a> {
    pub prune: &'a (dyn Fn(&Path) -> bool + Sync),
    pub wants: &'a (dyn Fn(&Input) -> bool + Sync),
    pub dated: &'a (dyn Fn(&Input) -> Option<Millis> + Sync),
}

/// A file named on the command line: read whatever its name, digests aside.
fn named_file(p: &Path) -> Input {
    Input {
        path: p.to_path_buf(),
        size: p.metadata().map(|m| m.len()).unwrap_or(0),
        skip: skip_by_key(&p.to_string_lossy()),
        error: None,
        name: None,
    }
}

/// A file found inside a folder.
fn file_input(entry: &walkdir::DirEntry) -> Input {
    let path = entry.path().to_path_buf();
    Input {
        skip: skip_in_folder(&path),
        size: entry.metadata().map(|m| m.len()).unwrap_or(0),
        path,
        error: None,
        name: None,
    }
}

/// A folder the walk is inside: its depth, whether it holds a folder, and (while it holds
/// none) its entries so far.
struct Open {
    path: PathBuf,
    depth: usize,
    leaf: bool,
    pending: Vec<Input>,
}

/// Lists like [`expand`] followed by a filter (`defer.wants`), numbering what is kept, without
/// entering the folders `defer.prune` names, and keeps back the dated files of every folder
/// that holds no folder: those are counted, and listed by [`Deferred::list`] when their turn
/// comes.
pub fn expand_deferring(paths: &[PathBuf], defer: &Defer) -> Result<Listing, Error> {
    all_exist(paths)?;
    let mut out = Listing::default();
    let emit = |out: &mut Listing, input: Input| {
        if (defer.wants)(&input) {
            out.inputs.push((out.count, input));
            out.count += 1;
        }
    };
    for p in paths {
        if !p.is_dir() {
            emit(&mut out, named_file(p));
            continue;
        }
        let mut open: Vec<Open> = Vec::new();
        // Closes the folders at `depth` or deeper: a folder that held no folder numbers its
        // entries now, deferring the dated ones.
        let close = |out: &mut Listing, open: &mut Vec<Open>, depth: usize| {
            while open.last().is_some_and(|o| o.depth >= depth) {
                let Some(o) = open.pop() else { break };
                let mut folder = Deferred {
                    path: o.path,
                    first: out.count,
                    files: 0,
                    earliest: Millis::MAX,
                    bytes: 0,
                };
                for input in o.pending {
                    if !(defer.wants)(&input) {
                        continue;
                    }
                    match (defer.dated)(&input) {
                        Some(t) => {
                            folder.files += 1;
                            folder.earliest = folder.earliest.min(t);
                            folder.bytes += input.size;
                            out.count += 1;
                        }
                        None => {
                            out.inputs.push((out.count, input));
                            out.count += 1;
                        }
                    }
                }
                if folder.files > 0 {
                    out.deferred.push(folder);
                }
            }
        };
        // An entry of the innermost open folder: held while that folder may still be a leaf.
        let add = |out: &mut Listing, open: &mut Vec<Open>, input: Input| match open.last_mut() {
            Some(o) if o.leaf => o.pending.push(input),
            _ => emit(out, input),
        };
        let walker = walkdir::WalkDir::new(p)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !(e.file_type().is_dir() && (defer.prune)(e.path())));
        for entry in walker {
            match entry {
                Err(e) => {
                    close(&mut out, &mut open, e.depth().max(1));
                    add(&mut out, &mut open, unreadable(&e, p));
                }
                Ok(entry) if entry.file_type().is_dir() => {
                    let depth = entry.depth();
                    close(&mut out, &mut open, depth);
                    // The folder holding this one is not a leaf: its entries so far are listed.
                    if let Some(parent) = open.last_mut() {
                        if parent.leaf {
                            parent.leaf = false;
                            for input in std::mem::take(&mut parent.pending) {
                                emit(&mut out, input);
                            }
                        }
                    }
                    open.push(Open {
                        path: entry.path().to_path_buf(),
                        depth,
                        leaf: true,
                        pending: Vec::new(),
                    });
                }
                Ok(entry) => {
                    close(&mut out, &mut open, entry.depth().max(1));
                    if entry.file_type().is_file() {
                        add(&mut out, &mut open, file_input(&entry));
                    }
                }
            }
        }
        close(&mut out, &mut open, 0);
    }
    out.deferred.sort_by_key(|f| (f.earliest, f.first));
    Ok(out)
}

impl Deferred {
    /// The folder's dated files with their numbers in the walk: the files [`expand_deferring`]
    /// counted, if the folder did not change meanwhile.
    pub fn list(&self, defer: &Defer) -> Vec<(usize, Input)> {
        let mut n = self.first;
        let mut out = Vec::with_capacity(self.files);
        let walker = walkdir::WalkDir::new(&self.path)
            .follow_links(true)
            .sort_by_file_name()
            .min_depth(1)
            .max_depth(1);
        for entry in walker {
            let input = match entry {
                Err(e) => unreadable(&e, &self.path),
                Ok(e) if e.file_type().is_file() => file_input(&e),
                Ok(_) => continue,
            };
            if !(defer.wants)(&input) {
                continue;
            }
            if (defer.dated)(&input).is_some() {
                out.push((n, input));
            }
            n += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, b"{}").unwrap();
    }

    // What a streaming read defers: a file's delivery time, from its CloudTrail name.
    use super::super::delivered as delivery;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let trail = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03";
        for (day, times) in [
            ("01", ["20260301T0005Z", "20260301T2355Z"]),
            ("02", ["20260302T0010Z", "20260302T1200Z"]),
        ] {
            for t in times {
                touch(
                    dir.path(),
                    &format!("{trail}/{day}/111122223333_CloudTrail_us-east-1_{t}_a.json.gz"),
                );
            }
        }
        // Undated files in a day folder, beside dated ones: listed at once, in walk order.
        touch(dir.path(), &format!("{trail}/02/README.md"));
        touch(dir.path(), &format!("{trail}/02/export.json"));
        // A folder that holds files and a folder: listed at once, whole.
        touch(
            dir.path(),
            "mixed/111122223333_CloudTrail_us-east-1_20260301T0100Z_b.json.gz",
        );
        touch(
            dir.path(),
            "mixed/sub/111122223333_CloudTrail_us-east-1_20260301T0200Z_c.json.gz",
        );
        touch(dir.path(), "mixed/z.json");
        touch(
            dir.path(),
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/03/01/d.json.gz",
        );
        touch(dir.path(), "top.json");
        dir
    }

    /// The inputs of a deferring walk, deferred folders listed, in number order.
    fn all_of(listing: Listing, defer: &Defer) -> Vec<(usize, PathBuf)> {
        let mut all: Vec<(usize, PathBuf)> = listing
            .inputs
            .into_iter()
            .chain(listing.deferred.iter().flat_map(|f| f.list(defer)))
            .map(|(n, i)| (n, i.path))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn a_deferring_walk_numbers_every_file_as_the_whole_walk_does() {
        let dir = tree();
        let root = vec![dir.path().to_path_buf()];
        let whole: Vec<(usize, PathBuf)> = expand(&root)
            .unwrap()
            .into_iter()
            .map(|i| i.path)
            .enumerate()
            .collect();
        let everything = |_: &Input| true;
        let defer = Defer {
            prune: &|_| false,
            wants: &everything,
            dated: &delivery,
        };
        let listing = expand_deferring(&root, &defer).unwrap();
        assert_eq!(listing.count, whole.len());
        // The two day folders and `mixed/sub` wait; the dated file of `mixed` (which holds a
        // folder) and every undated file do not.
        assert_eq!(listing.deferred.len(), 3);
        assert_eq!(listing.deferred[0].files, 2);
        assert_eq!(
            listing.deferred[0].earliest,
            crate::event::parse_iso("2026-03-01T00:05:00Z").unwrap()
        );
        assert_eq!(listing.inputs.len(), whole.len() - 5);
        assert_eq!(all_of(listing, &defer), whole);
    }

    #[test]
    fn a_filter_drops_files_before_they_are_numbered() {
        let dir = tree();
        let root = vec![dir.path().to_path_buf()];
        let not_first_day = |i: &Input| !i.path.to_string_lossy().contains("20260301T00");
        let whole: Vec<(usize, PathBuf)> = expand(&root)
            .unwrap()
            .into_iter()
            .filter(not_first_day)
            .map(|i| i.path)
            .enumerate()
            .collect();
        let defer = Defer {
            prune: &|_| false,
            wants: &not_first_day,
            dated: &delivery,
        };
        let listing = expand_deferring(&root, &defer).unwrap();
        assert_eq!(listing.count, whole.len());
        assert_eq!(all_of(listing, &defer), whole);
    }

    #[test]
    fn pruned_folders_are_not_entered() {
        let dir = tree();
        let root = vec![dir.path().to_path_buf()];
        let everything = |_: &Input| true;
        let defer = Defer {
            prune: &|p: &Path| p.ends_with("2026/03/02") || p.ends_with("mixed"),
            wants: &everything,
            dated: &delivery,
        };
        let all = all_of(expand_deferring(&root, &defer).unwrap(), &defer);
        let names: Vec<String> = all
            .iter()
            .map(|(_, p)| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| !n.contains("/02/") && !n.starts_with("mixed")),
            "{names:?}"
        );
        assert_eq!(names.len(), 4, "{names:?}");
        // Numbered as the whole walk numbers what is left.
        assert_eq!(
            all.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }
}
