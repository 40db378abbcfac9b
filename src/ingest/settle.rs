//! Day folders of local CloudTrail trees that a scheduled run need not list again.
//!
//! A nightly `report` reads only files its state's manifest does not have, but finding them
//! meant listing (and naming) every file of the tree every night: a cost that grows with the
//! days stored. A day folder (`.../CloudTrail/<region>/YYYY/MM/DD`) is **settled** when a run
//! finds, for it:
//!
//! 1. every file in it (every file the walk lists, whatever the window or scope) in the
//!    manifest once the run commits;
//! 2. its modification time older than the run's start by more than [`MTIME_MARGIN`] (so that
//!    a file added after it was listed changes the time to one that differs);
//! 3. the manifest holding a file of the same trail folder (account and region) delivered at
//!    least [`super::scope::LATE`] (the allowed delivery delay) after the day ended:
//!    CloudTrail puts a file in the folder of its delivery day, so nothing is delivered there
//!    any more.
//!
//! The next run does not list a settled folder whose modification time is still the one
//! recorded: adding, removing or renaming a file in a folder changes its modification time
//! (POSIX), so a late-copied file (a mirror that synced late, a file put back by hand) makes
//! the folder listed again; rule 3 keeps a filesystem that does not keep folder times
//! (some network and FUSE mounts) safe for what CloudTrail itself delivers. The files of a
//! skipped folder count as already processed. The state keeps the settled folders of the last
//! run (`settled/<run>.tsv`: folder, modification time, files).

use super::scope;
use super::source::{self, Input};
use crate::error::Error;
use crate::event::Millis;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// How much older than the run's start a folder's modification time must be to be recorded.
pub const MTIME_MARGIN: Millis = 2_000;

/// A day folder: its absolute (canonical) path, modification time (nanoseconds since the
/// epoch) and number of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub path: String,
    pub mtime: i128,
    pub files: u64,
}

/// The settled folders a run starts from, by path.
#[derive(Debug, Default, Clone)]
pub struct Settled {
    folders: HashMap<String, Folder>,
}

impl Settled {
    pub fn new(folders: impl IntoIterator<Item = Folder>) -> Settled {
        Settled {
            folders: folders.into_iter().map(|f| (f.path.clone(), f)).collect(),
        }
    }

    /// Reads `folder TAB mtime TAB files` lines; a line that does not parse is left out (its
    /// folder is listed again).
    pub fn parse(text: &str) -> Settled {
        Settled::new(text.lines().filter_map(|l| {
            let mut it = l.rsplitn(3, '\t');
            let files = it.next()?.parse().ok()?;
            let mtime = it.next()?.parse().ok()?;
            let path = it.next()?.to_string();
            Some(Folder { path, mtime, files })
        }))
    }

    /// The folders, one line each, sorted.
    pub fn to_tsv(&self) -> String {
        let mut v: Vec<&Folder> = self.folders.values().collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v.iter()
            .map(|f| format!("{}\t{}\t{}\n", f.path, f.mtime, f.files))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.folders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.folders.is_empty()
    }

    fn get(&self, path: &str, mtime: i128) -> Option<&Folder> {
        self.folders.get(path).filter(|f| f.mtime == mtime)
    }
}

/// A day folder the walk listed: the folder and the manifest names of its files.
#[derive(Debug, Clone)]
pub struct Listed {
    pub folder: Folder,
    pub names: Vec<String>,
}

/// What the walk of local paths found.
#[derive(Debug, Default)]
pub struct Walk {
    pub inputs: Vec<Input>,
    /// Day folders listed, with their files' names.
    pub listed: Vec<Listed>,
    /// Settled folders not listed (unchanged since recorded).
    pub skipped: Vec<Folder>,
}

fn mtime_ns(m: &std::fs::Metadata) -> Option<i128> {
    let t = m.modified().ok()?;
    Some(match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    })
}

/// The UTC day of a day folder's path (`.../YYYY/MM/DD`).
fn day_of_folder(p: &Path) -> Option<chrono::NaiveDate> {
    let mut it = p.components().rev().map(|c| c.as_os_str().to_str());
    let (d, m, y) = (it.next()??, it.next()??, it.next()??);
    chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Whether a day folder can hold files the window wants: files delivered that day
/// (`[day, day + 1)`), against the delivery window [`scope::Scope::wants_file`] uses. A folder
/// whose path is not a date is listed.
pub fn in_window(p: &Path, window: &scope::Scope) -> bool {
    let Some(start) = day_of_folder(p)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
    else {
        return true;
    };
    let end = start + 24 * 3600 * 1000;
    window.since.is_none_or(|s| end > s - scope::EARLY)
        && window.until.is_none_or(|u| start < u + scope::LATE)
}

/// Whether a path ends in `CloudTrail/<region>/YYYY/MM/DD`.
pub fn is_day_folder(p: &Path) -> bool {
    let parts: Vec<String> = p
        .components()
        .rev()
        .take(5)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 5
        && digits(&parts[0], 2)
        && digits(&parts[1], 2)
        && digits(&parts[2], 4)
        && !parts[3].is_empty()
        && parts[4] == "CloudTrail"
}

/// Lists local paths like [`source::expand`] (same inputs, same order), except the settled
/// day folders whose modification time is unchanged and the day folders outside the scope's
/// window (by the day in their path: CloudTrail delivers a file into the folder of its
/// delivery day, which is what [`scope::Scope::wants_file`] reads in its name); gives each file
/// under a day folder its manifest name (the folder's canonical path and the file's name), and
/// the day folders listed. Files `known` has are not looked at further (their size is left 0:
/// the plan drops them).
pub fn expand(
    paths: &[PathBuf],
    settled: &Settled,
    window: &scope::Scope,
    known: &super::Known,
) -> Result<Walk, Error> {
    source::all_exist(paths)?;
    let mut walk = Walk::default();
    for p in paths {
        if !p.is_dir() {
            walk.inputs.extend(source::expand(std::slice::from_ref(p))?);
            continue;
        }
        // The day folder being listed: its walk path and canonical path, and its files.
        let mut current: Option<(PathBuf, String, Listed)> = None;
        let skipped = std::sync::Mutex::new(Vec::new());
        let entered = std::sync::Mutex::new(Vec::new());
        let parents = std::sync::Mutex::new(HashMap::new());
        // Whether a folder is not to be listed: a day folder outside the window, or settled.
        let prune = |path: &Path| -> bool {
            if !is_day_folder(path) {
                return false;
            }
            if !in_window(path, window) {
                return true;
            }
            // Its time is taken before it is listed: a file added afterwards changes it.
            let Some((canon, mtime)) = day_folder_identity(path, &parents) else {
                return false;
            };
            if let Some(f) = settled.get(&canon, mtime) {
                lock(&skipped).push(f.clone());
                return true;
            }
            lock(&entered).push((path.to_path_buf(), canon, mtime));
            false
        };
        // Sizes only of the files not known (a stat each), below.
        for entry in source::Walk::new(p, false, &prune) {
            // A day folder entered since the last entry: the one now listed.
            for (path, canon, mtime) in lock(&entered).drain(..) {
                walk.listed.extend(current.take().map(|c| c.2));
                current = Some((
                    path,
                    canon.clone(),
                    Listed {
                        folder: Folder {
                            path: canon,
                            mtime,
                            files: 0,
                        },
                        names: Vec::new(),
                    },
                ));
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    walk.inputs.push(source::unlisted(&e, p));
                    continue;
                }
            };
            if entry.kind != source::Kind::File {
                continue;
            }
            let link = entry.link;
            let path = entry.path;
            let skip = source::skip_in_folder(&path);
            let mut name = None;
            if let Some((dir, canon, listed)) = current.as_mut() {
                if path.starts_with(&*dir) {
                    // Named as the manifest names files (their canonical path): the folder's
                    // and the file's name, unless the file is a link or deeper down.
                    let n = match path.file_name() {
                        Some(f) if !link && path.parent() == Some(&**dir) => {
                            Some(Path::new(canon.as_str()).join(f).display().to_string())
                        }
                        _ => std::fs::canonicalize(&path)
                            .map(|c| c.display().to_string())
                            .ok(),
                    };
                    listed.folder.files += 1;
                    // A file that cannot be named keeps the folder from settling.
                    listed.names.push(n.clone().unwrap_or_default());
                    name = n;
                }
            }
            let size = if name.as_ref().is_some_and(|n| known.contains(n)) {
                0
            } else {
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            };
            walk.inputs.push(Input {
                path,
                size,
                skip,
                error: None,
                name,
            });
        }
        walk.listed.extend(current.take().map(|c| c.2));
        walk.skipped
            .extend(skipped.into_inner().unwrap_or_else(|e| e.into_inner()));
    }
    Ok(walk)
}

/// A day folder's canonical path and the time it last changed, `None` when it cannot be read.
/// The canonical path is its parent's (a month folder's, found once for all its days) and its
/// name, unless the day folder is itself a link, which is followed: a night looks at every day
/// folder of the tree, settled or not, and finding each one's canonical path afresh cost a
/// lookup of every component of its path.
fn day_folder_identity(
    path: &Path,
    parents: &std::sync::Mutex<HashMap<PathBuf, Option<PathBuf>>>,
) -> Option<(String, i128)> {
    let own = std::fs::symlink_metadata(path).ok()?;
    let by_parent = || -> Option<PathBuf> {
        if own.file_type().is_symlink() {
            return None;
        }
        let (parent, name) = (path.parent()?, path.file_name()?);
        let canon_parent = lock(parents)
            .entry(parent.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(parent).ok())
            .clone()?;
        Some(canon_parent.join(name))
    };
    match by_parent() {
        Some(canon) => Some((canon.display().to_string(), mtime_ns(&own)?)),
        None => {
            let mtime = std::fs::metadata(path).ok().as_ref().and_then(mtime_ns)?;
            let canon = std::fs::canonicalize(path).ok()?;
            Some((canon.display().to_string(), mtime))
        }
    }
}

/// A lock held by this thread only (the walk asks `prune` from the thread that walks).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The folders settled after a run: those carried over unchanged, and those listed that
/// now meet the rules of this module. `processed` holds every manifest name after the run
/// (the earlier runs' and this run's).
pub fn settle(
    walk_listed: &[Listed],
    skipped: &[Folder],
    processed: &dyn Fn(&str) -> bool,
    latest: &HashMap<String, Millis>,
    started: Millis,
) -> Settled {
    let margin_ns = i128::from(started - MTIME_MARGIN) * 1_000_000;
    let mut out: Vec<Folder> = skipped.to_vec();
    for l in walk_listed {
        let f = &l.folder;
        let settled = f.mtime < margin_ns
            && l.names.iter().all(|n| !n.is_empty() && processed(n))
            && day_over(&f.path, latest);
        if settled {
            out.push(f.clone());
        }
    }
    Settled::new(out)
}

/// The trail folder (`.../CloudTrail/<region>`) and the day of a day folder's path.
fn trail_and_day(folder: &str) -> Option<(&str, chrono::NaiveDate)> {
    let mut it = folder.rsplitn(4, ['/', '\\']);
    let d = it.next()?;
    let m = it.next()?;
    let y = it.next()?;
    let trail = it.next()?;
    let day = chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    Some((trail, day))
}

/// Rule 3: a file of the same trail folder was delivered at least the allowed delay after the
/// folder's day ended.
fn day_over(folder: &str, latest: &HashMap<String, Millis>) -> bool {
    let Some((trail, day)) = trail_and_day(folder) else {
        return false;
    };
    let Some(end) = day
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
    else {
        return false;
    };
    latest.get(trail).is_some_and(|&t| t >= end + scope::LATE)
}

/// The latest delivery time (from the file names) of the manifest's files, per trail folder
/// (the path above `YYYY/MM/DD/<file>`).
pub fn latest_delivery<'a>(names: impl Iterator<Item = &'a str>) -> HashMap<String, Millis> {
    let mut out: HashMap<String, Millis> = HashMap::new();
    for n in names {
        let Some(t) = scope::parse_name(n).map(|l| l.delivered) else {
            continue;
        };
        let mut it = n.rsplitn(5, ['/', '\\']);
        let (Some(_), Some(_), Some(_), Some(_), Some(trail)) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        match out.get_mut(trail) {
            Some(have) => *have = (*have).max(t),
            None => {
                out.insert(trail.to_string(), t);
            }
        }
    }
    out
}

/// Names in a set, for [`settle`].
pub fn in_sets<'a>(a: &'a super::Known, b: &'a HashSet<&'a str>) -> impl Fn(&str) -> bool + 'a {
    move |n| a.contains(n) || b.contains(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 24 * 3600 * 1000;

    #[test]
    fn a_day_folder_is_named_by_its_canonical_path_whether_or_not_it_is_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let month = dir
            .path()
            .join("logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03");
        std::fs::create_dir_all(month.join("01")).unwrap();
        // A day folder that is a link to a folder elsewhere, and a month reached by a link.
        let elsewhere = dir.path().join("elsewhere/02");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, month.join("02")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("logs"), dir.path().join("linked")).unwrap();
        let via_link = dir
            .path()
            .join("linked/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03");
        let parents = std::sync::Mutex::new(HashMap::new());
        for day in [
            month.join("01"),
            month.join("02"),
            via_link.join("01"),
            via_link.join("02"),
        ] {
            let (canon, mtime) = day_folder_identity(&day, &parents).unwrap();
            assert_eq!(
                canon,
                std::fs::canonicalize(&day).unwrap().display().to_string()
            );
            assert_eq!(Some(mtime), mtime_ns(&std::fs::metadata(&day).unwrap()));
        }
        assert!(day_folder_identity(&month.join("03"), &parents).is_none());
    }

    fn t(iso: &str) -> Millis {
        crate::event::parse_iso(iso).unwrap()
    }

    fn listed(path: &str, mtime_ms: Millis, names: &[&str]) -> Listed {
        Listed {
            folder: Folder {
                path: path.into(),
                mtime: i128::from(mtime_ms) * 1_000_000,
                files: names.len() as u64,
            },
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    const TRAIL: &str = "/logs/AWSLogs/111122223333/CloudTrail/us-east-1";

    fn file(day: &str, time: &str) -> String {
        format!("{TRAIL}/{day}/111122223333_CloudTrail_us-east-1_{time}_abc.json.gz")
    }

    #[test]
    fn day_folders_are_recognised_by_the_cloudtrail_layout() {
        assert!(is_day_folder(Path::new(
            "/x/AWSLogs/1/CloudTrail/us-east-1/2026/03/02"
        )));
        assert!(!is_day_folder(Path::new(
            "/x/AWSLogs/1/CloudTrail/us-east-1/2026/03"
        )));
        assert!(!is_day_folder(Path::new(
            "/x/AWSLogs/1/CloudTrail-Digest/us-east-1/2026/03/02"
        )));
        assert!(!is_day_folder(Path::new("/x/logs/us-east-1/2026/03/02")));
    }

    #[test]
    fn a_folder_settles_only_when_every_rule_holds() {
        let a = file("2026/03/02", "20260302T2355Z");
        let late = file("2026/03/03", "20260303T0105Z");
        let started = t("2026-03-04T02:00:00Z");
        let old = started - DAY;
        let all: super::super::Names = [a.clone(), late.clone()].into_iter().collect();
        let none: HashSet<&str> = HashSet::new();
        let latest = latest_delivery(all.iter().map(String::as_str));
        let all = super::super::Known::from(all);
        let processed = in_sets(&all, &none);
        let folder = format!("{TRAIL}/2026/03/02");
        let settles = |l: Listed, latest: &HashMap<String, Millis>| {
            !settle(&[l], &[], &processed, latest, started).is_empty()
        };
        // Every file processed, unchanged for a day, and a file delivered over an hour after
        // the day ended.
        assert!(settles(listed(&folder, old, &[&a]), &latest));
        // A file not in the manifest (failed, or outside the window) keeps it listed.
        let other = file("2026/03/02", "20260302T2356Z");
        assert!(!settles(listed(&folder, old, &[&a, &other]), &latest));
        // Changed moments before the run started: a file may have been added as it was listed.
        assert!(!settles(listed(&folder, started - 1000, &[&a]), &latest));
        // Nothing delivered an hour after the day's end yet: CloudTrail may still deliver there.
        let early: HashMap<String, Millis> =
            [(TRAIL.to_string(), t("2026-03-03T00:59:00Z"))].into();
        assert!(!settles(listed(&folder, old, &[&a]), &early));
        // Another trail's deliveries say nothing of this one.
        let elsewhere: HashMap<String, Millis> = [(
            "/logs/AWSLogs/111122223333/CloudTrail/eu-west-1".to_string(),
            t("2026-03-09T00:00:00Z"),
        )]
        .into();
        assert!(!settles(listed(&folder, old, &[&a]), &elsewhere));
    }

    #[test]
    fn day_folders_outside_the_window_are_not_listed() {
        let day = Path::new("/x/AWSLogs/1/CloudTrail/us-east-1/2026/03/05");
        let window = |since: Option<&str>, until: Option<&str>| scope::Scope {
            since: since.map(t),
            until: until.map(t),
            ..Default::default()
        };
        assert!(in_window(day, &window(None, None)));
        // Files delivered up to an hour after `until` are read: the day after it is listed.
        assert!(in_window(day, &window(None, Some("2026-03-05T00:00:00Z"))));
        assert!(in_window(day, &window(None, Some("2026-03-04T23:30:00Z"))));
        assert!(!in_window(day, &window(None, Some("2026-03-04T22:59:00Z"))));
        // And from 15 minutes before `since`.
        assert!(in_window(day, &window(Some("2026-03-06T00:10:00Z"), None)));
        assert!(!in_window(day, &window(Some("2026-03-06T00:15:00Z"), None)));
        assert!(in_window(
            Path::new("/x/2026/13/05"),
            &window(None, Some("2020-01-01T00:00:00Z"))
        ));
    }

    #[test]
    fn settled_folders_read_back_from_their_lines() {
        let s = Settled::new([
            Folder {
                path: "/a b/CloudTrail/x/2026/03/02".into(),
                mtime: -5,
                files: 3,
            },
            Folder {
                path: "/a/CloudTrail/x/2026/03/01".into(),
                mtime: 1_772_000_000_123_456_789,
                files: 0,
            },
        ]);
        let back = Settled::parse(&(s.to_tsv() + "not a line\n"));
        assert_eq!(back.to_tsv(), s.to_tsv());
        assert_eq!(back.len(), 2);
        assert!(back
            .get("/a/CloudTrail/x/2026/03/01", 1_772_000_000_123_456_789)
            .is_some());
        assert!(back.get("/a/CloudTrail/x/2026/03/01", 1).is_none());
    }
}
