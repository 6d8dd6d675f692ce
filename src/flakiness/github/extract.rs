//! Taking a parity artifact zip apart into the collected directory.
//!
//! Entries are matched by file name wherever they sit in the zip, and only
//! ever written under a name this module builds, inside the target
//! directories: an entry's own path is never joined onto the disk, so a
//! `../../evil` entry (zip-slip) cannot escape. Unsafe entry paths are
//! refused outright and every size is capped.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

/// Caps against zip bombs and runaway artifacts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// One extracted file.
    pub entry_bytes: u64,
    /// Everything extracted from one zip.
    pub total_bytes: u64,
    /// Raw `cross-instance-iter-*.out` files from one zip.
    pub raw_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { entry_bytes: 64 << 20, total_bytes: 256 << 20, raw_files: 10_000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("the artifact is not a readable zip: {0}")]
    NotZip(String),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// What one entry is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `flakiness.json` → `run_<id>.json`.
    Rerun,
    /// `cross-instance-results.json` → `run_<id>_cross.json`.
    Cross,
    /// `cross-instance-iter-*.out` and `analysis.json` → `raw/<id>/<name>`.
    Raw(String),
}

/// What came out of one zip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extracted {
    /// Written files, relative to the collected directory.
    pub written: Vec<PathBuf>,
    /// One sentence per entry that was refused.
    pub refused: Vec<String>,
}

impl Extracted {
    /// Whether the run's results (either JSON) came out.
    pub fn has_results(&self) -> bool {
        self.written.iter().any(|p| p.parent().is_some_and(|d| d.as_os_str().is_empty()))
    }
}

/// The entry's file name when its path is safe: relative, no `..`, no
/// drive or NUL; `None` otherwise (the entry must then be refused).
pub fn safe_file_name(entry: &str) -> Option<&str> {
    if entry.is_empty() || entry.starts_with('/') || entry.starts_with('\\') || entry.contains('\0') {
        return None;
    }
    let components: Vec<&str> = entry.split(['/', '\\']).collect();
    if components.iter().any(|c| *c == ".." || c.contains(':')) {
        return None;
    }
    components.last().copied().filter(|name| !name.is_empty() && *name != ".")
}

/// What an entry named `file_name` is for; `None` for files we do not keep.
pub fn classify(file_name: &str) -> Option<Target> {
    match file_name {
        "flakiness.json" => Some(Target::Rerun),
        "cross-instance-results.json" => Some(Target::Cross),
        // Its failure signatures, for the collector to follow across runs.
        "analysis.json" => Some(Target::Raw(file_name.to_string())),
        _ => {
            let middle = file_name.strip_prefix("cross-instance-iter-")?.strip_suffix(".out")?;
            let plain = !middle.is_empty()
                && middle.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            plain.then(|| Target::Raw(file_name.to_string()))
        }
    }
}

/// Where a target goes, relative to the collected directory.
pub fn destination(target: &Target, run_id: u64) -> PathBuf {
    match target {
        Target::Rerun => PathBuf::from(format!("run_{run_id}.json")),
        Target::Cross => PathBuf::from(format!("run_{run_id}_cross.json")),
        Target::Raw(name) => Path::new(super::super::names::RAW_DIR).join(run_id.to_string()).join(name),
    }
}

/// Extracts the zip's parity files for `run_id` into `collected`. The raw
/// outputs are written first and the run's JSON files last, each through a
/// temporary file, so a JSON file on disk means a complete download.
pub fn extract(zip: &[u8], run_id: u64, collected: &Path, limits: Limits) -> Result<Extracted, ExtractError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| ExtractError::NotZip(e.to_string()))?;
    let mut extracted = Extracted::default();
    let mut chosen: Vec<(Target, Vec<u8>)> = Vec::new();
    let mut total = 0u64;
    let mut raw_files = 0usize;
    for index in 0..archive.len() {
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                extracted.refused.push(format!("entry #{index} cannot be read: {e}"));
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let Some(file_name) = safe_file_name(&name) else {
            extracted.refused.push(format!("entry {name:?} has an unsafe path; not written"));
            continue;
        };
        let Some(target) = classify(file_name) else { continue };
        if chosen.iter().any(|(t, _)| *t == target) {
            extracted.refused.push(format!("entry {name:?} repeats a file already taken; not written"));
            continue;
        }
        if let Target::Raw(_) = target {
            if raw_files >= limits.raw_files {
                extracted
                    .refused
                    .push(format!("entry {name:?} exceeds {} raw files; not written", limits.raw_files));
                continue;
            }
        }
        let cap = limits.entry_bytes.min(limits.total_bytes.saturating_sub(total));
        let mut bytes = Vec::new();
        // The declared size can lie, so the cap is enforced on what is read.
        if let Err(e) = (&mut entry).take(cap + 1).read_to_end(&mut bytes) {
            extracted.refused.push(format!("entry {name:?} cannot be decompressed: {e}"));
            continue;
        }
        if bytes.len() as u64 > cap {
            extracted
                .refused
                .push(format!("entry {name:?} is too large: more than the {cap} byte cap; not written"));
            continue;
        }
        total += bytes.len() as u64;
        raw_files += usize::from(matches!(target, Target::Raw(_)));
        chosen.push((target, bytes));
    }
    // Raw outputs first, the rerun report last: the JSON files mark the run as downloaded.
    chosen.sort_by_key(|(target, _)| match target {
        Target::Raw(_) => 0,
        Target::Cross => 1,
        Target::Rerun => 2,
    });
    for (target, bytes) in chosen {
        let relative = destination(&target, run_id);
        let path = collected.join(&relative);
        crate::files::write_atomically(&path, &bytes)
            .map_err(|source| ExtractError::Write { path, source })?;
        extracted.written.push(relative);
    }
    Ok(extracted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            writer.start_file(*name, SimpleFileOptions::default()).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn unsafe_entry_paths_are_refused() {
        for bad in [
            "../../evil",
            "a/../../b",
            "/etc/passwd",
            "\\x",
            "..\\..\\evil",
            "C:/x",
            "a/..",
            "",
            "dir/",
            "a\0b",
        ] {
            assert_eq!(safe_file_name(bad), None, "{bad:?}");
        }
        assert_eq!(safe_file_name("ci/flakiness/flakiness.json"), Some("flakiness.json"));
        assert_eq!(safe_file_name("cross-instance-results.json"), Some("cross-instance-results.json"));
        assert_eq!(safe_file_name("./a/b.out"), Some("b.out"));
    }

    #[test]
    fn only_parity_files_are_kept() {
        assert_eq!(classify("flakiness.json"), Some(Target::Rerun));
        assert_eq!(classify("cross-instance-results.json"), Some(Target::Cross));
        assert_eq!(
            classify("cross-instance-iter-12.out"),
            Some(Target::Raw("cross-instance-iter-12.out".into()))
        );
        for other in [
            "cross-instance-iter-.out",
            "cross-instance-iter-1.raw",
            "evil",
            "node.parity.json",
            "cross-instance-iter-1 x.out",
        ] {
            assert_eq!(classify(other), None, "{other}");
        }
    }

    #[test]
    fn extraction_writes_only_inside_the_collected_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let collected = tmp.path().join("a/b/collected");
        let zip = zip_of(&[
            ("ci/webprofile-parity/cross-instance-results.json", b"[]"),
            ("ci/flakiness/flakiness.json", b"{}"),
            ("ci/webprofile-parity/cross-instance-iter-1.out", b"PASS"),
            ("ci/webprofile-parity/node.parity.json", b"{}"),
            ("../../evil", b"pwned"),
            ("../../cross-instance-iter-2.out", b"pwned"),
            ("other/flakiness.json", b"second"),
        ]);
        let out = extract(&zip, 7, &collected, Limits::default()).unwrap();
        assert_eq!(
            out.written,
            [
                PathBuf::from("raw/7/cross-instance-iter-1.out"),
                "run_7_cross.json".into(),
                "run_7.json".into()
            ]
        );
        assert!(out.has_results());
        assert_eq!(out.refused.len(), 3, "{:?}", out.refused);
        assert_eq!(std::fs::read(collected.join("run_7.json")).unwrap(), b"{}");
        let everything: Vec<_> = walk(tmp.path());
        assert_eq!(everything.len(), 3, "{everything:?}");
        assert!(everything.iter().all(|p| p.starts_with(&collected)));
    }

    #[test]
    fn oversized_entries_and_garbage_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let zip = zip_of(&[("cross-instance-results.json", &[b' '; 2000]), ("flakiness.json", b"{}")]);
        let limits = Limits { entry_bytes: 1000, ..Limits::default() };
        let out = extract(&zip, 1, tmp.path(), limits).unwrap();
        assert_eq!(out.written, [PathBuf::from("run_1.json")]);
        assert!(out.refused[0].contains("is too large: more than the 1000 byte cap"), "{:?}", out.refused);
        assert!(matches!(extract(b"not a zip", 1, tmp.path(), limits), Err(ExtractError::NotZip(_))));
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            if entry.path().is_dir() {
                out.extend(walk(&entry.path()));
            } else {
                out.push(entry.path());
            }
        }
        out
    }
}
