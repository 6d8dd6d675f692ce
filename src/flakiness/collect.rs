//! Collected runs on disk: which files are which, copying the current
//! results in, and reading everything into a [`Collection`] in time order.
//!
//! In a collected directory, `*_cross.json` are cross-instance results and
//! the other `run_*.json` are rerun reports (`flakiness.json`); anything else
//! is not ours and is ignored. A file that cannot be used is a
//! [`SkippedFile`], never an error.

use super::parse::{self, SkipReason};
use crate::clock::UTC_STAMP;
use crate::rerun::FlakinessReport;
use crate::scenario::cross::IterationResult;
use crate::verdict::{SignatureCount, SignatureTally};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot list {}: {source}", path.display())]
    List { path: PathBuf, source: std::io::Error },
    #[error("{} does not exist; --src takes a collected directory or a results file", path.display())]
    SourceMissing { path: PathBuf },
    #[error("cannot copy {} to {}: {source}", from.display(), to.display())]
    Copy { from: PathBuf, to: PathBuf, source: std::io::Error },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// Cross-instance results (`*_cross.json`).
    Cross,
    /// A rerun report (`run_<id>.json`, the `flakiness.json` format).
    Rerun,
}

/// A file to read, and what it should hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// The name the run is known by (the file name, or the name it is aggregated under).
    pub file: String,
    pub path: PathBuf,
    pub kind: FileKind,
    /// The run's `analysis.json`, when the collection holds it (`raw/<id>/analysis.json`).
    pub analysis: Option<PathBuf>,
    /// What triggered the run, when the collection recorded it (`raw/<id>/event.txt`).
    pub event: Option<String>,
}

/// A file that could not be used, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub file: String,
    pub kind: FileKind,
    /// Stable code: empty, not_utf8, truncated, malformed, wrong_shape, zero_iterations, bad_entry, …
    pub code: String,
    /// One sentence, starting from the file name.
    pub reason: String,
}

/// One run's cross-instance results.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossRun {
    pub file: String,
    /// From the file name: `run_<id>_cross.json` → `<id>`.
    pub id: String,
    /// When the run happened: the UTC stamp in the file name, else the first
    /// iteration's `started_at`.
    pub timestamp: Option<DateTime<Utc>>,
    pub iterations: Vec<IterationResult>,
    /// Its failures' signatures: its `analysis.json`'s, else its failed iterations'.
    pub signatures: Vec<SignatureCount>,
    /// What triggered it (`schedule`, `push`, …), when recorded.
    pub event: Option<String>,
    /// `raw/<id>` under the collected directory, when it exists.
    pub raw: Option<String>,
    order: Order,
}

#[cfg(test)]
impl CrossRun {
    /// A run with nothing in it, for other modules' tests to fill.
    pub(crate) fn for_tests() -> CrossRun {
        CrossRun {
            file: String::new(),
            id: String::new(),
            timestamp: None,
            iterations: Vec::new(),
            signatures: Vec::new(),
            event: None,
            raw: None,
            order: Order::default(),
        }
    }
}

/// One rerun report.
#[derive(Clone, Debug, PartialEq)]
pub struct RerunRun {
    pub file: String,
    pub id: String,
    pub record: FlakinessReport,
    order: Order,
}

/// Everything read from a collected directory; runs in time order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Collection {
    pub cross: Vec<CrossRun>,
    pub reruns: Vec<RerunRun>,
    /// Sorted by file name.
    pub skipped: Vec<SkippedFile>,
}

/// Sort key: the run's time (its own timestamp, else the file's modification
/// time), then a numeric id (GitHub run ids grow with time), then the name.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Order {
    time: Option<DateTime<Utc>>,
    numeric_id: Option<u64>,
    file: String,
}

/// What a file name says the file holds; `None` for files that are not ours.
pub fn classify(name: &str) -> Option<FileKind> {
    if name.ends_with("_cross.json") {
        Some(FileKind::Cross)
    } else if name.starts_with("run_") && name.ends_with(".json") {
        Some(FileKind::Rerun)
    } else {
        None
    }
}

/// `run_<id>_cross.json` / `run_<id>.json` → `<id>`; other names lose only the suffix.
pub fn run_id(name: &str) -> &str {
    let stem = name.strip_suffix("_cross.json").or_else(|| name.strip_suffix(".json")).unwrap_or(name);
    stem.strip_prefix("run_").filter(|id| !id.is_empty()).unwrap_or(stem)
}

/// The first `YYYYmmddTHHMMSSZ` stamp in a name, as UTC.
pub fn stamp_in_name(name: &str) -> Option<DateTime<Utc>> {
    let bytes = name.as_bytes();
    (0..bytes.len().saturating_sub(15)).find_map(|at| {
        let window = bytes.get(at..at + 16)?;
        let shaped = window.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
        if !shaped {
            return None;
        }
        let text = std::str::from_utf8(window).ok()?;
        NaiveDateTime::parse_from_str(text, UTC_STAMP).ok().map(|t| t.and_utc())
    })
}

/// The name `--copy` stores the current results under.
pub fn copy_name(now: DateTime<Utc>) -> String {
    format!("run_local_{}_cross.json", now.format(UTC_STAMP))
}

/// Copies `current` into `collected` as `run_local_<UTC stamp>_cross.json`
/// (never overwriting: a second copy in the same second gets `-2`, `-3`, …).
/// `Ok(None)` when there is no current file.
pub fn copy_current(
    current: &Path,
    collected: &Path,
    now: DateTime<Utc>,
    event: Option<&str>,
) -> Result<Option<PathBuf>, CollectError> {
    if !current.is_file() {
        return Ok(None);
    }
    let fail = |to: &Path| {
        let (from, to) = (current.to_path_buf(), to.to_path_buf());
        move |source| CollectError::Copy { from, to, source }
    };
    std::fs::create_dir_all(collected).map_err(fail(collected))?;
    let mut target = collected.join(copy_name(now));
    let mut n = 2;
    while target.exists() {
        target = collected.join(format!("run_local_{}-{n}_cross.json", now.format(UTC_STAMP)));
        n += 1;
    }
    std::fs::copy(current, &target).map_err(fail(&target))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // The run's analysis.json (its failure signatures) goes under raw/<id>/.
    let analysis = current.with_file_name(super::names::RUN_ANALYSIS);
    if analysis.is_file() {
        let raw = collected.join(super::names::RAW_DIR).join(run_id(&name));
        std::fs::create_dir_all(&raw).map_err(fail(&raw))?;
        let to = raw.join(super::names::RUN_ANALYSIS);
        std::fs::copy(&analysis, &to).map_err(fail(&to))?;
    }
    if let Some(event) = event {
        record_event(collected, run_id(&name), event);
    }
    Ok(Some(target))
}

/// The collector's files in `dir` (none when it does not exist), by name.
pub fn list_dir(dir: &Path) -> Result<Vec<Input>, CollectError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CollectError::List { path: dir.to_path_buf(), source }),
    };
    let mut inputs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CollectError::List { path: dir.to_path_buf(), source })?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(kind) = classify(&file) else { continue };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let raw = dir.join(super::names::RAW_DIR).join(run_id(&file));
        let analysis = raw.join(super::names::RUN_ANALYSIS);
        inputs.push(Input {
            path: entry.path(),
            file,
            kind,
            analysis: analysis.is_file().then_some(analysis),
            event: read_event(&raw),
        });
    }
    inputs.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(inputs)
}

/// `--src`: a collected directory, or one file (a rerun report when named
/// `run_<id>.json`, cross-instance results otherwise).
pub fn list_source(src: &Path) -> Result<Vec<Input>, CollectError> {
    if src.is_dir() {
        return list_dir(src);
    }
    if !src.exists() {
        return Err(CollectError::SourceMissing { path: src.to_path_buf() });
    }
    let file =
        src.file_name().map_or_else(|| src.display().to_string(), |n| n.to_string_lossy().into_owned());
    let kind = classify(&file).unwrap_or(FileKind::Cross);
    Ok(vec![Input { file, path: src.to_path_buf(), kind, analysis: None, event: None }])
}

/// Adds `current` as `run_local_latest_cross.json`, replacing a collected
/// file of that name (and saying so).
pub fn with_latest(mut inputs: Vec<Input>, current: &Path, warnings: &mut Vec<String>) -> Vec<Input> {
    if current.is_file() {
        if inputs.iter().any(|i| i.file == super::names::LATEST_CROSS) {
            warnings.push(format!(
                "the collected {} is set aside: the current results ({}) take its name",
                super::names::LATEST_CROSS,
                current.display()
            ));
        }
        inputs.retain(|i| i.file != super::names::LATEST_CROSS);
        let analysis = current.with_file_name(super::names::RUN_ANALYSIS);
        inputs.push(Input {
            file: super::names::LATEST_CROSS.to_string(),
            path: current.to_path_buf(),
            kind: FileKind::Cross,
            analysis: analysis.is_file().then_some(analysis),
            event: None,
        });
    }
    inputs
}

/// Reads and parses every input (in parallel), then orders the runs in time.
/// `raw_root` is the collected directory whose `raw/<id>/` folders hold a
/// run's raw outputs.
pub fn load(inputs: &[Input], raw_root: Option<&Path>) -> Collection {
    let raw_dirs = raw_root.map(|root| raw_dir_names(&root.join(super::names::RAW_DIR))).unwrap_or_default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let chunk = inputs.len().div_ceil(threads).max(1);
    let loaded: Vec<Loaded> = std::thread::scope(|scope| {
        let workers: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(|| part.iter().map(|input| load_one(input, &raw_dirs)).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
    });
    let mut collection = Collection::default();
    for item in loaded {
        match item {
            Loaded::Cross(run) => collection.cross.push(run),
            Loaded::Rerun(run) => collection.reruns.push(run),
            Loaded::Skipped(skipped) => collection.skipped.push(skipped),
        }
    }
    collection.cross.sort_by(|a, b| a.order.cmp(&b.order));
    collection.reruns.sort_by(|a, b| a.order.cmp(&b.order));
    collection.skipped.sort_by(|a, b| a.file.cmp(&b.file));
    collection
}

enum Loaded {
    Cross(CrossRun),
    Rerun(RerunRun),
    Skipped(SkippedFile),
}

fn load_one(input: &Input, raw_dirs: &HashSet<String>) -> Loaded {
    let skipped = |reason: SkipReason| {
        Loaded::Skipped(SkippedFile {
            file: input.file.clone(),
            kind: input.kind,
            code: reason.code().to_string(),
            reason: format!("{} {reason}", input.file),
        })
    };
    let id = run_id(&input.file).to_string();
    let named_time = stamp_in_name(&input.file);
    let refused = |refused: crate::files::Refused| SkipReason::Refused { why: refused.to_string() };
    let loaded = match input.kind {
        // Streamed: the harness writes these at any size (78 MB at 200,000 iterations).
        FileKind::Cross => crate::files::open_regular(&input.path)
            .map_err(refused)
            .and_then(parse::parse_cross_from)
            .map(|iterations| {
                let timestamp =
                    named_time.or_else(|| iterations.iter().filter_map(IterationResult::started).min());
                Loaded::Cross(CrossRun {
                    signatures: signatures_of(input.analysis.as_deref(), &iterations),
                    event: input.event.clone(),
                    order: order(input, timestamp, &id),
                    raw: raw_dirs.contains(&id).then(|| format!("{}/{id}", super::names::RAW_DIR)),
                    file: input.file.clone(),
                    id: id.clone(),
                    timestamp,
                    iterations,
                })
            }),
        FileKind::Rerun => crate::files::read_input(&input.path)
            .map_err(refused)
            .and_then(|bytes| parse::parse_rerun(&bytes))
            .map(|record| {
                let timestamp = named_time.or_else(|| record.started());
                Loaded::Rerun(RerunRun {
                    order: order(input, timestamp, &id),
                    file: input.file.clone(),
                    id: id.clone(),
                    record,
                })
            }),
    };
    loaded.unwrap_or_else(skipped)
}

/// Records what triggered a collected run, beside its raw outputs. Best
/// effort: without it the run counts as scheduled.
pub fn record_event(collected: &Path, id: &str, event: &str) {
    let path = collected.join(super::names::RAW_DIR).join(id).join(super::names::RUN_EVENT);
    let name: String = event.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
    if !name.is_empty() {
        let _ = crate::files::write_file(&path, format!("{name}\n").as_bytes());
    }
}

fn read_event(raw: &Path) -> Option<String> {
    let bytes = crate::files::read_input(&raw.join(super::names::RUN_EVENT)).ok()?;
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    (!text.is_empty() && text.len() <= 64).then_some(text)
}

/// A run's failure signatures: those its `analysis.json` counted (every
/// phase's), else those of its failed iterations (a collection without the
/// analysis, or one written before signatures existed).
fn signatures_of(analysis: Option<&Path>, iterations: &[IterationResult]) -> Vec<SignatureCount> {
    #[derive(serde::Deserialize)]
    struct Counted {
        #[serde(default, deserialize_with = "crate::lenient::list")]
        signatures: Vec<SignatureCount>,
    }
    let counted = analysis
        .and_then(|path| crate::files::read_input(path).ok())
        .and_then(|bytes| serde_json::from_slice::<Counted>(&bytes).ok())
        .map(|c| c.signatures)
        .filter(|s| !s.is_empty());
    counted.unwrap_or_else(|| {
        let mut tally = SignatureTally::default();
        iterations.iter().for_each(|r| r.count_signature(&mut tally));
        tally.into_counts()
    })
}

fn order(input: &Input, timestamp: Option<DateTime<Utc>>, id: &str) -> Order {
    let time = timestamp.or_else(|| {
        std::fs::metadata(&input.path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from)
    });
    Order { time, numeric_id: id.parse().ok(), file: input.file.clone() }
}

fn raw_dir_names(dir: &Path) -> HashSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn names_classify_and_give_ids_and_stamps() {
        assert_eq!(classify("run_42_cross.json"), Some(FileKind::Cross));
        assert_eq!(classify("nightly_cross.json"), Some(FileKind::Cross));
        assert_eq!(classify("run_42.json"), Some(FileKind::Rerun));
        assert_eq!(classify("README.md"), None);
        assert_eq!(classify("summary.json"), None);
        assert_eq!(run_id("run_42_cross.json"), "42");
        assert_eq!(run_id("run_local_20240101T100000Z_cross.json"), "local_20240101T100000Z");
        assert_eq!(run_id("run_42.json"), "42");
        assert_eq!(run_id("nightly_cross.json"), "nightly");
        assert_eq!(
            stamp_in_name("run_local_20240102T030405Z-2_cross.json"),
            Some(Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap())
        );
        assert_eq!(stamp_in_name("run_local_20241302T030405Z_cross.json"), None, "month 13");
        assert_eq!(stamp_in_name("run_42_cross.json"), None);
        assert_eq!(stamp_in_name("é"), None);
    }

    #[test]
    fn runs_are_ordered_by_time_and_bad_files_skipped_with_reasons() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &[u8]| std::fs::write(tmp.path().join(name), text).unwrap();
        write("run_local_20240103T000000Z_cross.json", br#"[{"success": false}]"#);
        write("run_local_20240101T000000Z_cross.json", br#"[{"success": true}]"#);
        write("run_7_cross.json", br#"[{"success": true, "started_at": "2024-01-02T00:00:00Z"}]"#);
        write("run_bad_cross.json", b"{}");
        write("run_1.json", br#"{"success": true}"#);
        write("notes.txt", b"ignored");
        std::fs::create_dir_all(tmp.path().join("raw/7")).unwrap();
        let inputs = list_dir(tmp.path()).unwrap();
        assert_eq!(inputs.len(), 5);
        let c = load(&inputs, Some(tmp.path()));
        let ids: Vec<&str> = c.cross.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["local_20240101T000000Z", "7", "local_20240103T000000Z"]);
        assert_eq!(c.cross[1].raw.as_deref(), Some("raw/7"));
        assert_eq!(c.reruns.len(), 1);
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.skipped[0].code, "wrong_shape");
        assert!(c.skipped[0].reason.starts_with("run_bad_cross.json holds an object"));
    }

    #[test]
    fn copies_never_overwrite_and_latest_replaces_its_namesake() {
        let tmp = tempfile::tempdir().unwrap();
        let current = tmp.path().join("results.json");
        let collected = tmp.path().join("collected");
        let now = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap();
        assert_eq!(copy_current(&current, &collected, now, None).unwrap(), None);
        std::fs::write(&current, "[]").unwrap();
        let first = copy_current(&current, &collected, now, None).unwrap().unwrap();
        let second = copy_current(&current, &collected, now, None).unwrap().unwrap();
        assert!(first.ends_with("run_local_20240506T070809Z_cross.json"));
        assert!(second.ends_with("run_local_20240506T070809Z-2_cross.json"));
        let inputs = vec![Input {
            file: "run_local_latest_cross.json".into(),
            path: tmp.path().join("old"),
            kind: FileKind::Cross,
            analysis: None,
            event: None,
        }];
        let mut warnings = Vec::new();
        let inputs = with_latest(inputs, &current, &mut warnings);
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].path, current);
        assert!(warnings[0].contains("run_local_latest_cross.json is set aside"), "{warnings:?}");
    }

    #[test]
    fn a_missing_source_is_an_error_and_a_missing_dir_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(list_source(&tmp.path().join("nope")), Err(CollectError::SourceMissing { .. })));
        assert_eq!(list_dir(&tmp.path().join("nope")).unwrap(), vec![]);
        let file = tmp.path().join("cross-instance-results.json");
        std::fs::write(&file, "[]").unwrap();
        assert_eq!(list_source(&file).unwrap()[0].kind, FileKind::Cross);
    }
}
