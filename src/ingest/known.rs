//! What a state's manifest says earlier runs read ([`Known`]), looked up by object name.
//!
//! A run's manifest lists its objects folder by folder, and an index beside it gives where each
//! folder's lines are. Only the lines of the folders a run lists are read (a night lists the
//! folders of the days still being delivered, not the settled ones), so what a night reads and
//! holds of the manifest does not grow with the days stored. A manifest without an index (an
//! earlier version's) is read whole.

use super::Names;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};

/// The folder a manifest name is in: the name up to its last `/` (none: the empty folder). The
/// index and the lookups use the same cut, so it need not be the file system's parent.
pub fn folder_of(name: &str) -> &str {
    name.rsplit_once('/').map_or("", |(folder, _)| folder)
}

/// One run's manifest read by folder: where each folder's lines are (offset, length in bytes).
#[derive(Debug, Clone)]
pub struct Indexed {
    pub path: PathBuf,
    pub folders: HashMap<String, (u64, u64)>,
}

/// The objects earlier runs read: the names of manifests read whole, and the indexed manifests,
/// whose names are read a folder at a time when a name in that folder is first looked up.
#[derive(Debug, Default)]
pub struct Known {
    indexed: Vec<Indexed>,
    loaded: RwLock<Loaded>,
    /// The first manifest that could not be read when its folder was looked up.
    failed: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
struct Loaded {
    names: Names,
    /// Folders whose names the indexed manifests gave.
    folders: std::collections::HashSet<String, foldhash::fast::FixedState>,
}

impl Known {
    /// `names` from manifests read whole; `indexed`, read by folder when looked up.
    pub fn new(names: Names, indexed: Vec<Indexed>) -> Known {
        Known {
            indexed,
            loaded: RwLock::new(Loaded {
                names,
                folders: Default::default(),
            }),
            failed: Mutex::new(None),
        }
    }

    /// Whether an earlier run read the object `name`.
    pub fn contains(&self, name: &str) -> bool {
        let folder = folder_of(name);
        {
            let loaded = self.loaded.read().unwrap_or_else(PoisonError::into_inner);
            if self.indexed.is_empty() || loaded.folders.contains(folder) {
                return loaded.names.contains(name);
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(PoisonError::into_inner);
        if !loaded.folders.contains(folder) {
            for run in &self.indexed {
                let Some(&(at, len)) = run.folders.get(folder) else {
                    continue;
                };
                match read_range(&run.path, at, len) {
                    Ok(text) => loaded.names.extend(names_in(&text)),
                    Err(e) => {
                        let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                        failed.get_or_insert_with(|| format!("{}: {e}", run.path.display()));
                    }
                }
            }
            loaded.folders.insert(folder.to_string());
        }
        loaded.names.contains(name)
    }

    /// Names held now (those of manifests read whole and of the folders looked up).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.loaded
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .names
            .len()
    }

    /// The manifest that could not be read when looked up, if any: a run that went on without
    /// it would read its objects again, so it must not commit.
    pub fn failed(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl From<Names> for Known {
    fn from(names: Names) -> Known {
        Known::new(names, Vec::new())
    }
}

/// The names of a manifest's lines (`name <TAB> size`).
pub fn names_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|n| !n.is_empty())
        .map(String::from)
}

fn read_range(path: &std::path::Path, at: u64, len: u64) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(at))?;
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(len).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "shorter than its index says",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// A manifest's text and its index: the lines of `objects` (name, size) grouped by folder, in
/// the order of the folders and then of the names; the index is one line per folder: folder
/// <TAB> offset <TAB> length.
pub fn manifest_with_index(objects: &[(String, u64)]) -> (String, String) {
    let mut sorted: Vec<&(String, u64)> = objects.iter().collect();
    sorted.sort_by(|a, b| (folder_of(&a.0), &a.0).cmp(&(folder_of(&b.0), &b.0)));
    let mut text = String::new();
    let mut index = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let folder = folder_of(&sorted[i].0);
        let start = text.len();
        while i < sorted.len() && folder_of(&sorted[i].0) == folder {
            let (name, size) = sorted[i];
            text.push_str(name);
            text.push('\t');
            text.push_str(&size.to_string());
            text.push('\n');
            i += 1;
        }
        index.push_str(&format!("{folder}\t{start}\t{}\n", text.len() - start));
    }
    (text, index)
}

/// A manifest's index as [`manifest_with_index`] writes it; `None` when a line is not one.
pub fn parse_index(path: PathBuf, text: &str) -> Option<Indexed> {
    let mut folders = HashMap::new();
    for line in text.lines() {
        let mut cut = line.rsplitn(3, '\t');
        let len: u64 = cut.next()?.parse().ok()?;
        let at: u64 = cut.next()?.parse().ok()?;
        let folder = cut.next()?;
        folders.insert(folder.to_string(), (at, len));
    }
    Some(Indexed { path, folders })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(names: &[&str]) -> Vec<(String, u64)> {
        names
            .iter()
            .map(|n| (n.to_string(), n.len() as u64))
            .collect()
    }

    /// A manifest written with its index into `dir`, as a state keeps it.
    fn written(dir: &std::path::Path, names: &[&str]) -> Indexed {
        let (text, index) = manifest_with_index(&objects(names));
        let path = dir.join("run.tsv");
        std::fs::write(&path, &text).unwrap();
        parse_index(path, &index).unwrap()
    }

    const NAMES: [&str; 7] = [
        "/logs/a/2026/03/02/f1.json.gz",
        "/logs/a/2026/03/01/f2.json.gz",
        "/logs/a/2026/03/02/f0.json.gz",
        "/logs/a/2026/03/02/deeper/f3.json.gz",
        "s3://bucket/AWSLogs/1/CloudTrail/us-east-1/2026/03/02/f4.json.gz",
        "top-level.json",
        "/logs/a/2026/03/02-x/f5.json.gz",
    ];

    #[test]
    fn a_manifest_read_by_folder_knows_what_the_whole_manifest_knows() {
        let dir = tempfile::tempdir().unwrap();
        let known = Known::new(Names::default(), vec![written(dir.path(), &NAMES)]);
        let whole: Names = NAMES.iter().map(|n| n.to_string()).collect();
        for n in NAMES {
            assert!(known.contains(n), "{n}");
        }
        for n in [
            "/logs/a/2026/03/02/other.json.gz",
            "/logs/a/2026/03/03/f1.json.gz",
            "/logs/a/2026/03/02",
            "top",
            "",
        ] {
            assert!(!known.contains(n) && !whole.contains(n), "{n}");
        }
        assert!(known.failed().is_none());
    }

    #[test]
    fn only_the_folders_looked_up_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let known = Known::new(Names::default(), vec![written(dir.path(), &NAMES)]);
        assert_eq!(known.held(), 0);
        assert!(known.contains("/logs/a/2026/03/02/f1.json.gz"));
        // The folder's two files, not the other folders' (a deeper folder is a folder).
        assert_eq!(known.held(), 2);
        assert!(!known.contains("/logs/a/2026/03/04/f9.json.gz"));
        assert_eq!(known.held(), 2);
    }

    #[test]
    fn the_lines_are_grouped_by_folder_and_the_index_says_where() {
        let (text, index) = manifest_with_index(&objects(&NAMES));
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert_eq!(lines.len(), NAMES.len());
        let idx = parse_index(PathBuf::from("x"), &index).unwrap();
        assert_eq!(idx.folders.len(), 6);
        for (folder, (at, len)) in &idx.folders {
            let part = &text[*at as usize..(*at + *len) as usize];
            assert!(part.ends_with('\n'));
            assert!(part
                .lines()
                .all(|l| folder_of(l.split('\t').next().unwrap()) == folder));
            let wanted = NAMES.iter().filter(|n| folder_of(n) == folder).count();
            assert_eq!(part.lines().count(), wanted, "{folder}");
        }
    }

    #[test]
    fn a_manifest_shorter_than_its_index_is_named_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let run = written(dir.path(), &NAMES);
        std::fs::write(&run.path, "cut").unwrap();
        let path = run.path.display().to_string();
        let known = Known::new(Names::default(), vec![run]);
        assert!(!known.contains("/logs/a/2026/03/02/f1.json.gz"));
        let failed = known.failed().expect("named");
        assert!(failed.contains(&path), "{failed}");
        assert!(parse_index(PathBuf::from("x"), "no numbers here\n").is_none());
    }
}
