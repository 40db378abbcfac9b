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

/// A failed input at `path` (the root when the error names none).
fn failed_at(path: Option<&Path>, root: &Path, e: &dyn std::fmt::Display) -> Input {
    Input {
        path: path.map_or_else(|| root.to_path_buf(), Path::to_path_buf),
        size: 0,
        skip: None,
        error: Some(format!("cannot read: {e}")),
        name: None,
    }
}

/// A place under `root` this module's walk could not look at.
pub(crate) fn unlisted(e: &WalkError, root: &Path) -> Input {
    failed_at(e.path(), root, e)
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
            for entry in Walk::new(p, true, &|_| false) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        out.push(unlisted(&e, p));
                        continue;
                    }
                };
                if entry.kind == Kind::File {
                    out.push(file_input(entry));
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
    /// Whether inputs need their sizes (a progress bar is drawn): otherwise a file's length is
    /// not asked of the file system while listing, and its size is left 0.
    pub sizes: bool,
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
fn file_input(entry: WalkEntry) -> Input {
    Input {
        skip: skip_in_folder(&entry.path),
        size: entry.size,
        path: entry.path,
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
        for entry in Walk::new(p, defer.sizes, defer.prune) {
            match entry {
                Err(e) => {
                    close(&mut out, &mut open, e.depth().max(1));
                    add(&mut out, &mut open, unlisted(&e, p));
                }
                Ok(entry) if entry.kind == Kind::Folder => {
                    let depth = entry.depth;
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
                        path: entry.path,
                        depth,
                        leaf: true,
                        pending: Vec::new(),
                    });
                }
                Ok(entry) => {
                    close(&mut out, &mut open, entry.depth.max(1));
                    if entry.kind == Kind::File {
                        add(&mut out, &mut open, file_input(entry));
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
        for entry in Walk::new(&self.path, defer.sizes, &|_| false).entries_only() {
            let input = match entry {
                Err(e) => unlisted(&e, &self.path),
                Ok(e) if e.kind == Kind::File => file_input(e),
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

/// Why the walk could not look at a path. Told as `walkdir` tells it (the walk used to be
/// `walkdir`'s; the messages, depths and order are kept).
#[derive(Debug)]
pub(crate) struct WalkError {
    depth: usize,
    path: Option<PathBuf>,
    /// Set for a link that points to a folder above it.
    ancestor: Option<PathBuf>,
    err: Option<std::io::Error>,
}

impl WalkError {
    fn io(depth: usize, path: Option<PathBuf>, err: std::io::Error) -> WalkError {
        WalkError {
            depth,
            path,
            ancestor: None,
            err: Some(err),
        }
    }

    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl std::fmt::Display for WalkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.ancestor, &self.path, &self.err) {
            (Some(ancestor), Some(child), _) => write!(
                f,
                "File system loop found: {} points to an ancestor {}",
                child.display(),
                ancestor.display()
            ),
            (_, Some(path), Some(err)) => {
                write!(f, "IO error for operation on {}: {err}", path.display())
            }
            (_, _, Some(err)) => err.fmt(f),
            _ => f.write_str("unknown error"),
        }
    }
}

/// What an entry of the walk is (links followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Folder,
    File,
    Other,
}

/// One entry of the walk.
#[derive(Debug)]
pub(crate) struct WalkEntry {
    pub path: PathBuf,
    pub depth: usize,
    pub kind: Kind,
    /// The file's length when the walk was asked for sizes (0 otherwise, or when it could not
    /// be had).
    pub size: u64,
    /// Whether the entry itself is a link (followed).
    pub link: bool,
}

/// An entry of a folder not looked at yet: its name (read once, compared as it is) and what
/// the folder listing says it is.
enum Slot {
    Entry {
        name: std::ffi::OsString,
        kind: std::fs::FileType,
        entry: std::fs::DirEntry,
    },
    Error(WalkError),
}

/// A folder the walk is inside: its path and its entries left, in name order.
struct Level {
    dir: PathBuf,
    left: std::vec::IntoIter<Slot>,
}

/// A depth-first walk of a folder in name order, links followed: each folder is listed once,
/// its entries sorted by their names as listed (not by re-reading the name from the path at
/// each comparison), and nothing is asked of the file system beyond the listing unless it is
/// needed: a link is followed (one stat), a file's length is read only when `sizes` (one stat
/// relative to the open folder, not a walk of the whole path). Yields what `walkdir`
/// (`follow_links(true)`, `sort_by_file_name()`, with `filter_entry` as `prune` on folders)
/// yields, in the same order, with the same errors: the folder itself before its entries, a
/// folder that cannot be listed as an error right after it, a link to a folder above it as a
/// loop.
pub(crate) struct Walk<'p> {
    root: Option<PathBuf>,
    stack: Vec<Level>,
    /// Entries this deep are yielded (0: the root too).
    min_depth: usize,
    /// Folders this deep are not entered.
    max_depth: usize,
    prune: &'p (dyn Fn(&Path) -> bool + Sync),
    sizes: bool,
}

impl<'p> Walk<'p> {
    pub(crate) fn new(root: &Path, sizes: bool, prune: &'p (dyn Fn(&Path) -> bool + Sync)) -> Self {
        Walk {
            root: Some(root.to_path_buf()),
            stack: Vec::new(),
            min_depth: 0,
            max_depth: usize::MAX,
            prune,
            sizes,
        }
    }

    /// Only the entries of the root itself.
    pub(crate) fn entries_only(mut self) -> Self {
        self.min_depth = 1;
        self.max_depth = 1;
        self
    }

    /// Lists a folder into a level: its entries sorted by name, the ones the listing could
    /// not tell first (as `walkdir` sorts them); a folder that cannot be listed is a level
    /// holding only that error.
    fn enter(&mut self, dir: PathBuf, depth: usize) {
        let mut slots = Vec::new();
        match std::fs::read_dir(&dir) {
            Err(e) => slots.push(Slot::Error(WalkError::io(depth, Some(dir.clone()), e))),
            Ok(rd) => {
                let mut entries = Vec::new();
                for r in rd {
                    match r {
                        Err(e) => slots.push(Slot::Error(WalkError::io(depth + 1, None, e))),
                        Ok(entry) => match entry.file_type() {
                            Err(e) => slots.push(Slot::Error(WalkError::io(
                                depth + 1,
                                Some(entry.path()),
                                e,
                            ))),
                            Ok(kind) => entries.push(Slot::Entry {
                                name: entry.file_name(),
                                kind,
                                entry,
                            }),
                        },
                    }
                }
                entries.sort_unstable_by(|a, b| match (a, b) {
                    (Slot::Entry { name: x, .. }, Slot::Entry { name: y, .. }) => x.cmp(y),
                    _ => std::cmp::Ordering::Equal,
                });
                slots.extend(entries);
            }
        }
        self.stack.push(Level {
            dir,
            left: slots.into_iter(),
        });
    }

    /// Follows a link: what it points to, or why it cannot be followed (a broken link, a
    /// link to a folder above it).
    fn follow(&self, path: &Path, depth: usize) -> Result<std::fs::Metadata, WalkError> {
        let md = std::fs::metadata(path)
            .map_err(|e| WalkError::io(depth, Some(path.to_path_buf()), e))?;
        if md.is_dir() {
            self.check_loop(path, depth)?;
        }
        Ok(md)
    }

    /// A link to a folder that is one of the folders the walk is inside is a loop.
    #[cfg(unix)]
    fn check_loop(&self, child: &Path, depth: usize) -> Result<(), WalkError> {
        use std::os::unix::fs::MetadataExt;
        // As `same_file` tells files apart: by device and inode of the opened file.
        let id = |p: &Path| {
            std::fs::File::open(p)
                .and_then(|f| f.metadata())
                .map(|m| (m.dev(), m.ino()))
                .map_err(|e| WalkError::io(depth, None, e))
        };
        let me = id(child)?;
        for level in self.stack.iter().rev() {
            if id(&level.dir)? == me {
                return Err(WalkError {
                    depth,
                    path: Some(child.to_path_buf()),
                    ancestor: Some(level.dir.clone()),
                    err: None,
                });
            }
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_loop(&self, _child: &Path, _depth: usize) -> Result<(), WalkError> {
        Ok(())
    }

    /// An entry found: entered when it is a folder (unless pruned), yielded when deep enough.
    fn found(
        &mut self,
        path: PathBuf,
        depth: usize,
        kind: Kind,
        size: u64,
        link: bool,
    ) -> Option<WalkEntry> {
        if kind == Kind::Folder {
            if (self.prune)(&path) {
                return None;
            }
            if depth < self.max_depth {
                self.enter(path.clone(), depth);
            }
        }
        (depth >= self.min_depth).then_some(WalkEntry {
            path,
            depth,
            kind,
            size,
            link,
        })
    }
}

fn kind_of(t: std::fs::FileType) -> Kind {
    if t.is_dir() {
        Kind::Folder
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<WalkEntry, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(root) = self.root.take() {
            let mut link = false;
            let md = match std::fs::symlink_metadata(&root) {
                Ok(md) if md.file_type().is_symlink() => {
                    link = true;
                    self.follow(&root, 0)
                }
                Ok(md) => Ok(md),
                Err(e) => Err(WalkError::io(0, Some(root.clone()), e)),
            };
            let md = match md {
                Ok(md) => md,
                Err(e) => return Some(Err(e)),
            };
            let kind = kind_of(md.file_type());
            let size = if kind == Kind::File { md.len() } else { 0 };
            if let Some(e) = self.found(root, 0, kind, size, link) {
                return Some(Ok(e));
            }
        }
        loop {
            let depth = self.stack.len();
            let level = self.stack.last_mut()?;
            let (name, kind, entry) = match level.left.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(Slot::Error(e)) => return Some(Err(e)),
                Some(Slot::Entry { name, kind, entry }) => (name, kind, entry),
            };
            let path = level.dir.join(&name);
            let link = kind.is_symlink();
            let (kind, size) = if link {
                match self.follow(&path, depth) {
                    Ok(md) if md.is_file() => (Kind::File, md.len()),
                    Ok(md) => (kind_of(md.file_type()), 0),
                    Err(e) => return Some(Err(e)),
                }
            } else {
                let kind = kind_of(kind);
                let size = if kind == Kind::File && self.sizes {
                    entry.metadata().map(|m| m.len()).unwrap_or(0)
                } else {
                    0
                };
                (kind, size)
            };
            drop(entry);
            if let Some(e) = self.found(path, depth, kind, size, link) {
                return Some(Ok(e));
            }
        }
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
            sizes: true,
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
            sizes: true,
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
            sizes: true,
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

    /// What a walk yields, as text: each entry's depth, kind and path, each error's depth,
    /// path and message.
    fn walked(w: Walk) -> Vec<String> {
        w.map(|r| match r {
            Ok(e) => format!("{} {:?} {} {}", e.depth, e.kind, e.path.display(), e.size),
            Err(e) => format!("{} error {:?} {e}", e.depth(), e.path()),
        })
        .collect()
    }

    /// What `walkdir` yields for the same walk (the walk this module's replaces).
    fn walkdir_walked(
        root: &Path,
        entries_only: bool,
        prune: &dyn Fn(&Path) -> bool,
    ) -> Vec<String> {
        let mut w = walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name();
        if entries_only {
            w = w.min_depth(1).max_depth(1);
        }
        w.into_iter()
            .filter_entry(|e| !(e.file_type().is_dir() && prune(e.path())))
            .map(|r| match r {
                Ok(e) => {
                    let kind = if e.file_type().is_dir() {
                        Kind::Folder
                    } else if e.file_type().is_file() {
                        Kind::File
                    } else {
                        Kind::Other
                    };
                    let size = if kind == Kind::File {
                        e.metadata().map(|m| m.len()).unwrap_or(0)
                    } else {
                        0
                    };
                    format!("{} {kind:?} {} {size}", e.depth(), e.path().display())
                }
                Err(e) => format!("{} error {:?} {e}", e.depth(), e.path()),
            })
            .collect()
    }

    #[cfg(unix)]
    #[test]
    fn the_walk_yields_what_walkdir_yields_links_loops_and_errors_included() {
        use std::os::unix::fs::symlink;
        let dir = tree();
        let root = dir.path();
        // A link to a file, a link to a folder, a broken link, a link to a folder above it,
        // a folder with many names (sorted by their bytes), an empty folder, a fifo-less tree.
        symlink(root.join("top.json"), root.join("mixed/link.json")).unwrap();
        symlink(root.join("mixed/sub"), root.join("linked-sub")).unwrap();
        symlink(root.join("gone.json"), root.join("mixed/broken.json")).unwrap();
        symlink(root.join("mixed"), root.join("mixed/sub/up")).unwrap();
        for name in ["b", "B", "a.json", "a", "_", "Z.json", "\u{e9}t\u{e9}"] {
            touch(root, &format!("names/{name}"));
        }
        fs::create_dir_all(root.join("names/empty")).unwrap();
        let none = |_: &Path| false;
        let ours = walked(Walk::new(root, true, &none));
        assert_eq!(ours, walkdir_walked(root, false, &none));
        assert!(
            ours.iter().any(|l| l.contains("File system loop found")),
            "{ours:#?}"
        );
        assert!(ours.iter().any(|l| l.contains("broken.json")), "{ours:#?}");
        // Pruned folders are neither yielded nor entered.
        let prune = |p: &Path| p.ends_with("mixed") || p.ends_with("03/01");
        assert_eq!(
            walked(Walk::new(root, true, &prune)),
            walkdir_walked(root, false, &prune)
        );
        // One folder's entries.
        let mixed = root.join("mixed");
        assert_eq!(
            walked(Walk::new(&mixed, true, &none).entries_only()),
            walkdir_walked(&mixed, true, &none)
        );
        // Without sizes, a file found in a listing is not looked at: its size is 0.
        let plain: Vec<u64> = Walk::new(root, false, &none)
            .filter_map(Result::ok)
            .filter(|e| e.kind == Kind::File && !e.path.ends_with("link.json"))
            .map(|e| e.size)
            .collect();
        assert!(!plain.is_empty() && plain.iter().all(|&n| n == 0));
        // A root that does not exist is one error.
        let gone = root.join("no-such-folder");
        assert_eq!(
            walked(Walk::new(&gone, true, &none)),
            walkdir_walked(&gone, false, &none)
        );
    }
}
