//! What a publish ships: the collector's four public files, read once into a
//! [`Snapshot`] under one UTC timestamp, the layout every target shares
//! (`<base>/<file>` and `<base>/archives/<ts>/<file>`), the local archive copy
//! and which archive folders pruning removes.

use crate::artifacts::FLAKINESS_DIR;
use crate::clock::UTC_STAMP;
use crate::flakiness::names;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::path::{Path, PathBuf};

/// The folder, beside the published files, that holds one folder per snapshot.
pub const ARCHIVES_DIR: &str = "archives";

/// One file that is published, and the Content-Type it is served with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishedFile {
    pub name: &'static str,
    pub content_type: &'static str,
}

/// The published files, in upload order.
pub const FILES: [PublishedFile; 4] = [
    PublishedFile { name: "trend.json", content_type: "application/json" },
    PublishedFile { name: "status.json", content_type: "application/json" },
    PublishedFile { name: "status.svg", content_type: "image/svg+xml" },
    PublishedFile { name: "dashboard.html", content_type: "text/html; charset=utf-8" },
];

/// The Content-Type of a published file name, `None` for any other name.
pub fn content_type(name: &str) -> Option<&'static str> {
    FILES.iter().find(|f| f.name == name).map(|f| f.content_type)
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "{} missing in {}: run `parity collect` first",
        missing.join(", "),
        dir.display()
    )]
    Missing { dir: PathBuf, missing: Vec<&'static str> },
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the local archive {}: {source}", path.display())]
    Archive { path: PathBuf, source: std::io::Error },
}

/// One file's bytes, as read from the collector's output.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    pub file: PublishedFile,
    pub bytes: Vec<u8>,
}

/// The files of one publish, read once so every target ships the same bytes.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// `YYYYmmddTHHMMSSZ`, UTC: names the archive folder everywhere.
    pub stamp: String,
    pub files: Vec<SnapshotFile>,
}

/// `<out>/flakiness/cross`, where the collector writes the published files.
pub fn cross_dir(out: &Path) -> PathBuf {
    out.join(FLAKINESS_DIR).join(names::CROSS_DIR)
}

/// `<out>/flakiness/cross/archives`, the local archive copies.
pub fn local_archives_dir(out: &Path) -> PathBuf {
    cross_dir(out).join(ARCHIVES_DIR)
}

pub fn stamp(now: DateTime<Utc>) -> String {
    now.format(UTC_STAMP).to_string()
}

/// Whether a folder name is a snapshot stamp (only those are ever pruned).
pub fn is_stamp(name: &str) -> bool {
    name.len() == 16 && NaiveDateTime::parse_from_str(name, UTC_STAMP).is_ok()
}

impl Snapshot {
    /// Reads the four files from `dir`; names every missing one at once.
    pub fn read(dir: &Path, now: DateTime<Utc>) -> Result<Snapshot, SnapshotError> {
        let missing: Vec<&'static str> =
            FILES.iter().filter(|f| !dir.join(f.name).is_file()).map(|f| f.name).collect();
        if !missing.is_empty() {
            return Err(SnapshotError::Missing { dir: dir.to_path_buf(), missing });
        }
        let files = FILES
            .iter()
            .map(|file| {
                let path = dir.join(file.name);
                // Only the set's own regular files are published: never a link out of it.
                crate::files::read_artifact(&path, crate::files::MAX_INPUT_BYTES)
                    .map(|bytes| SnapshotFile { file: *file, bytes })
                    .map_err(|refused| SnapshotError::Read { path, source: refused.into() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Snapshot { stamp: stamp(now), files })
    }

    /// Relative paths of every copy under `base` (a key prefix or a folder),
    /// archive copies first: `<base>/archives/<ts>/<file>`, then `<base>/<file>`.
    pub fn layout(&self, base: &str) -> Vec<(String, &SnapshotFile)> {
        let join =
            |parts: &[&str]| parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("/");
        let archived = self.files.iter().map(|f| (join(&[base, ARCHIVES_DIR, &self.stamp, f.file.name]), f));
        let top = self.files.iter().map(|f| (join(&[base, f.file.name]), f));
        archived.chain(top).collect()
    }

    /// `<archives>/<ts>/`, holding a copy of every file.
    pub fn archive_dir(&self, archives: &Path) -> PathBuf {
        archives.join(&self.stamp)
    }

    /// Writes the archive copy into `<archives>/<ts>/`; returns that folder.
    pub fn write_archive(&self, archives: &Path) -> Result<PathBuf, SnapshotError> {
        let dir = self.archive_dir(archives);
        for f in &self.files {
            let path = dir.join(f.file.name);
            crate::files::write_file(&path, &f.bytes)
                .map_err(|source| SnapshotError::Archive { path, source })?;
        }
        Ok(dir)
    }

    pub fn total_bytes(&self) -> usize {
        self.files.iter().map(|f| f.bytes.len()).sum()
    }
}

/// The archive folders to remove so that `keep` remain, the current one among
/// them whatever its name sorts as (a clock set back must not prune the
/// snapshot just published). Names that are not stamps are never chosen.
/// `keep: None` keeps everything.
pub fn prune_choice(existing: &[String], current: &str, keep: Option<usize>) -> Vec<String> {
    let Some(keep) = keep else { return Vec::new() };
    let mut others: Vec<&String> = existing.iter().filter(|n| is_stamp(n) && *n != current).collect();
    others.sort();
    let keep_others = keep.saturating_sub(1);
    let remove = others.len().saturating_sub(keep_others);
    others.into_iter().take(remove).cloned().collect()
}

/// Folder names directly under `dir` (none when it does not exist).
pub fn folder_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            stamp: "20240105T093000Z".into(),
            files: FILES
                .iter()
                .map(|f| SnapshotFile { file: *f, bytes: f.name.as_bytes().to_vec() })
                .collect(),
        }
    }

    #[test]
    fn stamps_are_utc_seconds() {
        let now = Utc.with_ymd_and_hms(2024, 1, 5, 9, 30, 7).unwrap();
        assert_eq!(stamp(now), "20240105T093007Z");
        assert!(is_stamp("20240105T093007Z"));
        assert!(!is_stamp("20240105T093007"));
        assert!(!is_stamp("2024-01-05T09:30:07Z"));
        assert!(!is_stamp("README"));
    }

    #[test]
    fn content_types_are_the_served_ones() {
        assert_eq!(content_type("dashboard.html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type("trend.json"), Some("application/json"));
        assert_eq!(content_type("status.json"), Some("application/json"));
        assert_eq!(content_type("status.svg"), Some("image/svg+xml"));
        assert_eq!(content_type("summary.json"), None);
    }

    #[test]
    fn layout_puts_the_archive_copy_first() {
        let snap = snapshot();
        let keys: Vec<String> = snap.layout("parity-cross").into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "parity-cross/archives/20240105T093000Z/trend.json",
                "parity-cross/archives/20240105T093000Z/status.json",
                "parity-cross/archives/20240105T093000Z/status.svg",
                "parity-cross/archives/20240105T093000Z/dashboard.html",
                "parity-cross/trend.json",
                "parity-cross/status.json",
                "parity-cross/status.svg",
                "parity-cross/dashboard.html",
            ]
        );
    }

    #[test]
    fn an_empty_base_puts_the_files_at_the_root() {
        let snap = snapshot();
        let keys: Vec<String> = snap.layout("").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys[0], "archives/20240105T093000Z/trend.json");
        assert_eq!(keys[7], "dashboard.html");
    }

    #[test]
    fn missing_files_are_all_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("trend.json"), "{}").unwrap();
        let err = Snapshot::read(dir.path(), Utc::now()).unwrap_err().to_string();
        assert!(err.contains("status.json, status.svg, dashboard.html missing"), "{err}");
        assert!(err.contains("run `parity collect` first"), "{err}");
    }

    #[test]
    fn a_link_out_of_the_set_is_never_published() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("elsewhere.txt");
        std::fs::write(&secret, "not for publishing").unwrap();
        for f in FILES {
            std::fs::write(dir.path().join(f.name), f.name).unwrap();
        }
        std::fs::remove_file(dir.path().join("dashboard.html")).unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("dashboard.html")).unwrap();
        let err = Snapshot::read(dir.path(), Utc::now()).unwrap_err().to_string();
        assert!(err.contains("dashboard.html: is a symbolic link"), "{err}");
    }

    #[test]
    fn the_archive_copy_holds_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let written = snapshot().write_archive(dir.path()).unwrap();
        assert_eq!(written, dir.path().join("20240105T093000Z"));
        for f in FILES {
            assert_eq!(std::fs::read(written.join(f.name)).unwrap(), f.name.as_bytes());
        }
    }

    #[test]
    fn pruning_keeps_the_newest_and_the_current() {
        let existing =
            names(&["20240101T000000Z", "20240103T000000Z", "20240102T000000Z", "20240104T000000Z"]);
        assert_eq!(prune_choice(&existing, "20240104T000000Z", None), Vec::<String>::new());
        assert_eq!(
            prune_choice(&existing, "20240104T000000Z", Some(2)),
            names(&["20240101T000000Z", "20240102T000000Z"])
        );
        assert_eq!(
            prune_choice(&existing, "20240104T000000Z", Some(1)),
            names(&["20240101T000000Z", "20240102T000000Z", "20240103T000000Z"])
        );
        assert_eq!(prune_choice(&existing, "20240104T000000Z", Some(10)), Vec::<String>::new());
    }

    #[test]
    fn pruning_never_takes_the_current_snapshot_or_foreign_folders() {
        // The clock went back: the current stamp sorts first.
        let existing = names(&["20240101T000000Z", "20240102T000000Z", "19990101T000000Z", "keep-me"]);
        assert_eq!(
            prune_choice(&existing, "19990101T000000Z", Some(1)),
            names(&["20240101T000000Z", "20240102T000000Z"])
        );
    }
}
