//! `parity merge`: shard artifact sets (`parity run --shard K/N` on N CI
//! machines) joined into the one set an unsharded run with the same seed
//! would have written. Every set is read and checked before anything is
//! written: sets of different runs are refused (64), a missing shard is
//! named (3), and nothing is merged half-way.

use crate::analysis::{Analysis, EvidenceIndex, MergedShard, Results, RunFacts, ShardRecord};
use crate::artifacts::{self, names, ArtifactDir};
use crate::clock::rfc3339;
use crate::exit::Exit;
use crate::redact::Redactor;
use crate::run::sinks::{self, Junit};
use crate::scenario::cross::{self, CrossTotals, IterationResult, Shard};
use crate::scenario::suite::{CheckRecord, CheckStatus};
use crate::verdict::{self, Coverage, SignatureCount, SignatureTally};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// What to merge and where the merged set goes.
#[derive(Clone, Debug)]
pub struct MergeOptions {
    /// Each a shard's `--out` folder (or its `webprofile-parity/` folder).
    pub dirs: Vec<PathBuf>,
    pub out: PathBuf,
    pub redact: bool,
    pub junit: Option<PathBuf>,
    pub step_summary: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The sets are not shares of one run, or one is not a shard's: exit 64.
    #[error("{0}")]
    Mismatch(String),
    /// A shard (or a file of one) is not there: exit 3.
    #[error("{0}")]
    Missing(String),
    /// A shard's files disagree with its own analysis (edited after the
    /// run): exit 1, since the shard's recorded failure cannot be trusted
    /// away — a merge never passes what a shard failed.
    #[error("{0}")]
    Altered(String),
}

/// What was merged, for the console and the exit code.
pub struct Merged {
    pub analysis: Analysis,
    pub exit: Exit,
    pub tarball: Result<PathBuf, String>,
    /// Files that could not be written, each one sentence.
    pub errors: Vec<String>,
}

/// One shard's artifact set, read.
struct ShardSet {
    /// Its `webprofile-parity/` folder.
    dir: PathBuf,
    /// As the user named it.
    given: PathBuf,
    analysis: Analysis,
    record: ShardRecord,
    /// The iteration numbers its shard was dealt, ascending.
    share: Vec<u32>,
    results: Vec<IterationResult>,
}

impl ShardSet {
    fn shard(&self) -> Shard {
        Shard { index: self.record.index, count: self.record.count }
    }
}

/// Reads and checks every set, then writes the merged one under `out`.
pub fn merge(options: &MergeOptions) -> Result<Merged, MergeError> {
    if options.dirs.is_empty() {
        return Err(MergeError::Mismatch("give the shards' artifact folders: parity merge DIR…".into()));
    }
    let mut sets = options.dirs.iter().map(|dir| read_set(dir)).collect::<Result<Vec<_>, _>>()?;
    check_sets(&mut sets)?;
    let out_parity = options.out.join(artifacts::PARITY_DIR);
    for set in &sets {
        if overlap(&set.dir, &out_parity) {
            return Err(MergeError::Mismatch(format!(
                "{} is the merged set's own folder ({}): merge into another --out",
                set.given.display(),
                out_parity.display()
            )));
        }
    }
    Ok(write(options, &sets))
}

/// `DIR/webprofile-parity/` when there is one, else `DIR` itself.
fn parity_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(artifacts::PARITY_DIR);
    if nested.join(names::ANALYSIS_JSON).is_file() {
        nested
    } else {
        dir.to_path_buf()
    }
}

fn read_set(given: &Path) -> Result<ShardSet, MergeError> {
    let dir = parity_dir(given);
    let analysis_path = dir.join(names::ANALYSIS_JSON);
    if !analysis_path.is_file() {
        return Err(MergeError::Missing(format!(
            "{}: no {} (nor {}/{}): this shard's artifact set is missing; nothing merged",
            given.display(),
            names::ANALYSIS_JSON,
            artifacts::PARITY_DIR,
            names::ANALYSIS_JSON
        )));
    }
    let analysis = crate::artifacts::read_analysis(&analysis_path).map_err(MergeError::Mismatch)?;
    let record = analysis.shard.clone().ok_or_else(|| {
        MergeError::Mismatch(format!(
            "{}: not a shard's set (its run had no --shard K/N); merge only shards of one run",
            given.display()
        ))
    })?;
    let results_path = dir.join(names::CROSS_RESULTS_JSON);
    let results = match crate::files::open_artifact(&results_path) {
        Ok(file) => serde_json::from_reader::<_, Vec<IterationResult>>(std::io::BufReader::new(file))
            .map_err(|e| {
                MergeError::Missing(format!(
                    "{} is not a whole list of iteration results ({e}): the shard's set is cut short \
                 (was the shard killed, or its upload incomplete?); nothing merged",
                    results_path.display()
                ))
            })?,
        // A shard whose iterations never ran has none; its analysis says why.
        Err(crate::files::Refused::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(MergeError::Missing(format!("cannot read {}: it {e}", results_path.display()))),
    };
    let recorded = analysis.coverage.iterations as usize;
    if results.len() < recorded {
        return Err(MergeError::Missing(format!(
            "{}: {} holds {} iteration(s) but the shard's analysis counts {recorded}: the set is \
             incomplete; nothing merged",
            given.display(),
            names::CROSS_RESULTS_JSON,
            results.len()
        )));
    }
    if let Some(recorded) = &analysis.cross {
        let read = CrossTotals::of(&results);
        if (read.failures, read.stale_reads) != (recorded.failures, recorded.stale_reads) {
            return Err(MergeError::Altered(format!(
                "{}: {} holds {} failed iteration(s) and {} stale read(s) but the shard's analysis \
                 recorded {} and {}: the set was altered after the run; nothing merged",
                given.display(),
                names::CROSS_RESULTS_JSON,
                read.failures,
                read.stale_reads,
                recorded.failures,
                recorded.stale_reads
            )));
        }
    }
    let shard = format!("{}/{}", record.index, record.count).parse::<Shard>().map_err(|e| {
        MergeError::Mismatch(format!("{}: its analysis.json records no valid shard ({e})", given.display()))
    })?;
    let share = shard.share(record.iterations, record.seed);
    Ok(ShardSet { dir, given: given.to_path_buf(), analysis, record, share, results })
}

/// The sets must be every share of one run, each once; sorted by shard.
fn check_sets(sets: &mut [ShardSet]) -> Result<(), MergeError> {
    let first = &sets[0];
    for set in sets.iter().skip(1) {
        let differs = |what: &str, a: String, b: String| {
            MergeError::Mismatch(format!(
                "the sets are not shares of one run: {} has {what} {a}, {} has {what} {b}",
                first.given.display(),
                set.given.display()
            ))
        };
        let (a, b) = (&first.record, &set.record);
        if a.count != b.count {
            return Err(differs("shard count", a.count.to_string(), b.count.to_string()));
        }
        if a.seed != b.seed {
            return Err(differs("seed", a.seed.to_string(), b.seed.to_string()));
        }
        if a.contract != b.contract {
            return Err(differs(
                "contract version",
                format!("{} (parity {})", a.contract, a.tool_version),
                format!("{} (parity {})", b.contract, b.tool_version),
            ));
        }
        if a.iterations != b.iterations {
            return Err(differs("iterations", a.iterations.to_string(), b.iterations.to_string()));
        }
        if a.instances != b.instances {
            return Err(differs("instances", a.instances.to_string(), b.instances.to_string()));
        }
        if a.faults != b.faults {
            return Err(differs("faults", a.faults.clone(), b.faults.clone()));
        }
        if a.judgement != b.judgement {
            return Err(differs("judgement", a.judgement.clone(), b.judgement.clone()));
        }
    }
    sets.sort_by_key(|s| s.record.index);
    for pair in sets.windows(2) {
        if pair[0].record.index == pair[1].record.index {
            return Err(MergeError::Mismatch(format!(
                "shard {} given twice: {} and {}",
                pair[0].shard(),
                pair[0].given.display(),
                pair[1].given.display()
            )));
        }
    }
    let count = sets[0].record.count;
    let have: Vec<u32> = sets.iter().map(|s| s.record.index).collect();
    let missing: Vec<String> =
        (1..=count).filter(|k| !have.contains(k)).map(|k| Shard { index: k, count }.to_string()).collect();
    if !missing.is_empty() {
        let given: Vec<String> = sets.iter().map(|s| s.shard().to_string()).collect();
        return Err(MergeError::Missing(format!(
            "shard {} missing (given: {}); nothing merged",
            missing.join(", "),
            given.join(", ")
        )));
    }
    for set in sets.iter() {
        if let Some(stray) = set.results.iter().find(|r| set.share.binary_search(&r.iteration).is_err()) {
            return Err(MergeError::Mismatch(format!(
                "{}: iteration {} is not shard {}'s (seed {}): the set was not written by that shard",
                set.given.display(),
                stray.iteration,
                set.shard(),
                set.record.seed
            )));
        }
    }
    Ok(())
}

/// Whether one folder is, holds or is inside the other (clearing or filling
/// the merged folder would then reach an input, or copy the output into itself).
fn overlap(a: &Path, b: &Path) -> bool {
    let (a, b) = (resolved(a), resolved(b));
    a.starts_with(&b) || b.starts_with(&a)
}

/// `path` made absolute through its deepest existing ancestor (the merged
/// folder may not exist yet), symbolic links resolved.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = existing.canonicalize().unwrap_or_else(|_| existing.to_path_buf());
    resolved.extend(rest.iter().rev());
    resolved
}

/// Writes the merged set; what could not be written is in `errors`.
fn write(options: &MergeOptions, sets: &[ShardSet]) -> Merged {
    let redactor = if options.redact { Redactor::enabled() } else { Redactor::disabled() };
    let mut errors = Vec::new();
    let mut results: Vec<IterationResult> = sets.iter().flat_map(|s| s.results.iter().cloned()).collect();
    results.sort_by_key(|r| r.iteration);
    let totals = CrossTotals::of(&results);
    let (mut analysis, exit) = merged_analysis(sets, &results, &totals);
    let parity = match prepare(&options.out, &redactor) {
        Ok(parity) => parity,
        Err(e) => {
            return Merged { exit: Exit::Infrastructure, analysis, tarball: Err(e.clone()), errors: vec![e] };
        }
    };
    let mut note = |result: Result<(), String>| errors.extend(result.err());
    note(write_artifact(parity.write_json_array(names::CROSS_RESULTS_JSON, &results)));
    note(write_artifact(parity.write_text(names::CROSS_OUT, &cross::render_summary(&results, &totals))));
    note(merge_traces(&parity, sets));
    for set in sets {
        note(copy_iteration_files(set, &parity));
        note(copy_shard_files(set, &parity));
    }
    analysis.evidence = merge_evidence(sets, &parity, &mut note);
    note(copy_first_shard_runbook_files(&sets[0], &parity, &options.out));
    let finished = chrono::Utc::now();
    let tarball_path = artifacts::tarball_path(&options.out, finished);
    analysis.finished_at = rfc3339(&finished);
    analysis.tarball = Some(tarball_path.display().to_string());
    analysis.errors.extend(errors.iter().cloned());
    let mut note = |result: Result<(), String>| errors.extend(result.err());
    note(write_artifact(parity.write_json(names::ANALYSIS_JSON, &analysis)));
    if let Some(path) = &options.junit {
        let report = Junit { smoke_attempts: &[], checks: &analysis.checks, cross: &results };
        note(sinks::write_junit(path, &redactor, &analysis, &report));
    }
    if let Some(path) = &options.step_summary {
        note(sinks::append_step_summary(path, &redactor, &analysis));
    }
    let tarball = artifacts::bundle_into(&options.out, &tarball_path).map_err(|e| e.to_string());
    Merged { analysis, exit, tarball, errors }
}

fn prepare(out: &Path, redactor: &Redactor) -> Result<ArtifactDir, String> {
    let parity =
        ArtifactDir::create(&out.join(artifacts::PARITY_DIR), redactor.clone()).map_err(|e| e.to_string())?;
    parity.clear().map_err(|e| e.to_string())?;
    Ok(parity)
}

fn write_artifact(result: Result<PathBuf, artifacts::ArtifactError>) -> Result<(), String> {
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Every shard's trace, one after the other, into one compressed trace.
fn merge_traces(parity: &ArtifactDir, sets: &[ShardSet]) -> Result<(), String> {
    let mut merged = parity.json_lines(names::CROSS_TRACE).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    for set in sets {
        let path = set.dir.join(names::CROSS_TRACE);
        let file = match crate::files::open_artifact(&path) {
            Ok(file) => file,
            Err(crate::files::Refused::Io(e))
                if e.kind() == std::io::ErrorKind::NotFound && set.results.is_empty() =>
            {
                continue
            }
            Err(e) => {
                errors.push(format!("shard {}: cannot read {}: {e}", set.shard(), path.display()));
                continue;
            }
        };
        let lines = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines();
        for line in lines {
            match line {
                Ok(line) if line.trim().is_empty() => {}
                Ok(line) => merged.write_line(&line).map_err(|e| e.to_string())?,
                Err(e) => {
                    errors.push(format!("shard {}: {} is cut short: {e}", set.shard(), path.display()));
                    break;
                }
            }
        }
    }
    merged.finish().map_err(|e| e.to_string())?;
    artifacts::joined(errors)
}

/// The per-iteration files each shard kept, beside the merged results.
fn copy_iteration_files(set: &ShardSet, parity: &ArtifactDir) -> Result<(), String> {
    let mut errors = Vec::new();
    for r in &set.results {
        let n = r.iteration;
        for name in [
            names::cross_create(n),
            names::cross_revoke(n),
            names::cross_introspect_raw(n),
            names::cross_iteration_out(n),
        ] {
            let from = set.dir.join(&name);
            if from.is_file() {
                if let Err(e) = copy_tree(&from, &parity.path(&name), parity.redactor()) {
                    errors.push(e);
                }
            }
        }
    }
    artifacts::joined(errors)
}

/// Whether `name` (a file of a shard's folder) is merged rather than kept per shard.
fn merged_elsewhere(name: &str) -> bool {
    name == names::CROSS_RESULTS_JSON
        || name == names::CROSS_TRACE
        || name == names::CROSS_OUT
        || name == crate::evidence::DIR
        || (name.starts_with("cross-instance-") && name.contains("-iter-"))
}

/// Everything else of a shard (its analysis, smoke, suite, logs, diff) under `shards/K/`.
fn copy_shard_files(set: &ShardSet, parity: &ArtifactDir) -> Result<(), String> {
    let into = parity.path(&format!("shards/{}", set.record.index));
    let entries =
        std::fs::read_dir(&set.dir).map_err(|e| format!("cannot list {}: {e}", set.dir.display()))?;
    let mut errors = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if merged_elsewhere(&name) {
            continue;
        }
        if let Err(e) = copy_tree(&entry.path(), &into.join(&name), parity.redactor()) {
            errors.push(e);
        }
    }
    artifacts::joined(errors)
}

/// Copies a file or a folder; text passes the merged set's redactor again
/// (a shard may have run with --no-redact), anything else is copied as it is.
fn copy_tree(from: &Path, to: &Path, redactor: &Redactor) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot copy {} to {}: {e}", from.display(), to.display());
    if std::fs::symlink_metadata(from).map_err(fail)?.file_type().is_symlink() {
        return Err(format!(
            "{} is a symbolic link: not copied (it could point out of the set)",
            from.display()
        ));
    }
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(fail)?;
        for entry in std::fs::read_dir(from).map_err(fail)?.flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()), redactor)?;
        }
        return Ok(());
    }
    let refused = |e: crate::files::Refused| format!("{} {e}: not copied", from.display());
    let bytes = crate::files::read_capped(from, COPY_CAP).map_err(refused)?;
    let gzipped = from.extension().is_some_and(|e| e == "gz");
    let bytes = if gzipped { gunzipped(&bytes).map_err(fail)? } else { bytes };
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => redactor.redact(&text).into_owned().into_bytes(),
        // Not text: no secret can be told in it; written as it is.
        Err(binary) => binary.into_bytes(),
    };
    let bytes = if gzipped { gzipped_bytes(&bytes).map_err(fail)? } else { bytes };
    crate::files::write_file(to, &bytes).map_err(fail)
}

/// The most of one shard file merge copies (or of a gzipped one, opened).
const COPY_CAP: u64 = 512 << 20;

/// A shard may have run with --no-redact: its gzipped files are opened,
/// redacted and compressed again like its text.
fn gunzipped(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(flate2::read::MultiGzDecoder::new(bytes), COPY_CAP),
        &mut out,
    )?;
    Ok(out)
}

fn gzipped_bytes(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut encoder, bytes)?;
    encoder.finish()
}

/// Every shard's packets under the merged `evidence/`: an iteration's keeps
/// its name (iterations are unique across shards); the rest get `shardK-`.
fn merge_evidence(
    sets: &[ShardSet],
    parity: &ArtifactDir,
    note: &mut impl FnMut(Result<(), String>),
) -> EvidenceIndex {
    let mut index = EvidenceIndex::default();
    for set in sets {
        for packet in &set.analysis.evidence.packets {
            let name = if packet.starts_with("iteration-") {
                packet.clone()
            } else {
                format!("shard{}-{packet}", set.record.index)
            };
            let from = set.dir.join(crate::evidence::DIR).join(packet);
            note(copy_tree(&from, &parity.path(crate::evidence::DIR).join(&name), parity.redactor()));
            index.packets.push(name);
        }
        index.not_written += set.analysis.evidence.not_written;
    }
    index
}

/// The runbook's smoke and suite files at the top, from the first shard
/// (every shard ran both; each has its own under `shards/K/`), and its flakiness report.
fn copy_first_shard_runbook_files(first: &ShardSet, parity: &ArtifactDir, out: &Path) -> Result<(), String> {
    let mut errors = Vec::new();
    for name in [names::NODE_PARITY_JSON, names::NODE_PARITY_OUT, names::TEST_PARITY_OUT] {
        let from = first.dir.join(name);
        if from.is_file() {
            if let Err(e) = copy_tree(&from, &parity.path(name), parity.redactor()) {
                errors.push(e);
            }
        }
    }
    let flakiness = first.dir.parent().map(|p| p.join(artifacts::FLAKINESS_DIR));
    if let Some(from) = flakiness.filter(|f| f.join(names::FLAKINESS_JSON).is_file()) {
        if let Err(e) = copy_tree(&from, &out.join(artifacts::FLAKINESS_DIR), parity.redactor()) {
            errors.push(e);
        }
    }
    artifacts::joined(errors)
}

/// The failures' signatures: those of the smoke, the suite and the diff
/// once (every shard ran them), the iterations' counted over every shard.
fn merged_signatures(sets: &[ShardSet], iterations: &[IterationResult]) -> Vec<SignatureCount> {
    let mut tally = SignatureTally::default();
    let mut seen = std::collections::BTreeSet::new();
    for set in sets {
        let once = set.analysis.signatures.iter().filter(|s| {
            !s.first.as_deref().is_some_and(|f| f.starts_with("iteration "))
                && seen.insert(s.signature.id.clone())
        });
        tally.merge(&once.map(|s| SignatureCount { packet: None, ..s.clone() }).collect::<Vec<_>>());
    }
    iterations.iter().for_each(|r| r.count_signature(&mut tally));
    tally.into_counts()
}

/// One `analysis.json` for the whole run: the shards' failures added up, the
/// iterations' totals and matrix recomputed over every result, and the
/// verdict decided again over all of it.
fn merged_analysis(
    sets: &[ShardSet],
    results_of_iterations: &[IterationResult],
    totals: &CrossTotals,
) -> (Analysis, Exit) {
    let first = &sets[0].analysis;
    let record = &sets[0].record;
    let checks = merged_checks(sets);
    let smoke = sets
        .iter()
        .filter_map(|s| s.analysis.smoke.clone())
        .find(|s| !s.success)
        .or_else(|| first.smoke.clone());
    // Every shard ran the smoke, the suite and any diff: each failure counts
    // once, as in the unsharded run; the iterations are each shard's own.
    let diff = sets.iter().find_map(|s| s.analysis.diff.clone());
    let cross = (!results_of_iterations.is_empty()).then(|| totals.clone());
    let results = Results {
        smoke,
        checks: (!checks.is_empty()).then_some(checks),
        dialect: first.dialect,
        security: first.security.clone(),
        cross,
        diff,
        signatures: merged_signatures(sets, results_of_iterations),
    };
    let interrupted_shard = sets.iter().find(|s| s.analysis.exit_code == Exit::Interrupted.code());
    let facts = RunFacts {
        run_id: sets.iter().map(|s| s.analysis.run_id.as_str()).collect::<Vec<_>>().join("+"),
        backend: first.backend.clone(),
        instances: unique(sets.iter().flat_map(|s| s.analysis.instances.iter().cloned())),
        store: first.store.clone(),
        faults: first.faults.clone(),
        strict: sets.iter().all(|s| s.analysis.strict),
        started_at: sets.iter().map(|s| s.analysis.started_at.clone()).min().unwrap_or_default(),
        finished_at: String::new(),
        duration_ms: sets.iter().map(|s| s.analysis.duration_ms).fold(0.0, f64::max),
        interrupted_in: sets
            .iter()
            .find_map(|s| s.analysis.interrupted_in.clone())
            .or_else(|| interrupted_shard.map(|s| format!("shard {}", s.shard()))),
        stack_failed: sets.iter().any(|s| {
            s.analysis.status == verdict::RunStatus::Error
                && s.analysis.exit_code == Exit::Infrastructure.code()
        }),
        coverage: merged_coverage(sets, results_of_iterations),
        flaky: sets.iter().any(|s| s.analysis.flaky),
        phases: sets
            .iter()
            .map(|s| crate::clock::Phase {
                name: format!("shard {}", s.shard()),
                duration_ms: s.analysis.duration_ms,
                requests: None,
            })
            .collect(),
        containers: sets.iter().flat_map(|s| s.analysis.containers.iter().cloned()).collect(),
        chaos: sets.iter().flat_map(|s| s.analysis.chaos.iter().cloned()).collect(),
        errors: sets
            .iter()
            .flat_map(|s| s.analysis.errors.iter().map(move |e| format!("shard {}: {e}", s.shard())))
            .collect(),
        evidence: EvidenceIndex::default(),
        tarball: None,
        shard: None,
        merged_from: sets
            .iter()
            .map(|s| MergedShard {
                shard: s.shard().to_string(),
                dir: s.given.display().to_string(),
                run_id: s.analysis.run_id.clone(),
                status: serde_json::to_value(s.analysis.status)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                exit_code: s.analysis.exit_code,
                iterations: s.results.len() as u32,
            })
            .collect(),
        rate_limit: None,
    };
    let (mut analysis, mut exit) = Analysis::judge(results, facts);
    // A shard's own failure stands even where its files no longer show it.
    let failed_shards: Vec<String> = sets
        .iter()
        .filter(|s| s.analysis.exit_code == Exit::ParityFailure.code())
        .map(|s| s.shard().to_string())
        .collect();
    if !failed_shards.is_empty() && exit != Exit::ParityFailure && exit != Exit::Interrupted {
        exit = Exit::ParityFailure;
        analysis.status = verdict::RunStatus::Fail;
        analysis.exit_code = exit.code();
        analysis.verdict = format!(
            "parity FAILED: shard(s) {} recorded a failure (exit 1) that their files no longer show",
            failed_shards.join(", ")
        );
    }
    analysis.verdict =
        format!("{} (merged from {} shards, seed {})", analysis.verdict, record.count, record.seed);
    (analysis, exit)
}

/// Each item once, in the order first seen.
fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for item in items {
        if !all.contains(&item) {
            all.push(item);
        }
    }
    all
}

/// Each check once: failed when it failed on any shard, else as the first shard ran it.
fn merged_checks(sets: &[ShardSet]) -> Vec<CheckRecord> {
    let mut by_name: BTreeMap<String, CheckRecord> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for set in sets {
        for check in &set.analysis.checks {
            match by_name.get_mut(&check.name) {
                Some(kept) if kept.status != CheckStatus::Fail && check.status == CheckStatus::Fail => {
                    *kept = check.clone();
                    if let Some(detail) = &mut kept.detail {
                        *detail = format!("shard {}: {detail}", set.shard());
                    }
                }
                Some(_) => {}
                None => {
                    order.push(check.name.clone());
                    by_name.insert(check.name.clone(), check.clone());
                }
            }
        }
    }
    order.into_iter().filter_map(|name| by_name.remove(&name)).collect()
}

fn merged_coverage(sets: &[ShardSet], results: &[IterationResult]) -> Coverage {
    let first = &sets[0].analysis.coverage;
    let mut targets: Vec<String> = Vec::new();
    let mut images: Vec<String> = Vec::new();
    for c in sets.iter().map(|s| &s.analysis.coverage) {
        targets.extend(c.targets.iter().filter(|t| !targets.contains(t)).cloned().collect::<Vec<_>>());
        images.extend(c.images.iter().filter(|i| !images.contains(i)).cloned().collect::<Vec<_>>());
    }
    Coverage {
        backend: first.backend.clone(),
        targets,
        images,
        smoke_attempts: sets.iter().map(|s| s.analysis.coverage.smoke_attempts).sum(),
        checks: first.checks,
        checks_skipped: first.checks_skipped,
        iterations: results.len() as u32,
        exchanges: sets.iter().map(|s| s.analysis.coverage.exchanges).sum(),
        diff_pairs: sets.iter().map(|s| s.analysis.coverage.diff_pairs).sum(),
        not_run: sets
            .iter()
            .flat_map(|s| {
                let own =
                    s.analysis.coverage.not_run.iter().map(move |n| format!("shard {}: {n}", s.shard()));
                own.chain(missing_iterations(s))
            })
            .collect(),
        relaxations: unique(sets.iter().flat_map(|s| s.analysis.coverage.relaxations.iter().cloned())),
    }
}

/// A shard whose set holds fewer iterations than its share, when the shard
/// itself did not say so (an upload that lost some).
fn missing_iterations(set: &ShardSet) -> Option<String> {
    let share = set.share.len();
    let said = set.analysis.coverage.not_run.iter().any(|n| n.starts_with("cross-instance"));
    (set.results.len() < share && !said).then(|| {
        format!(
            "shard {}: cross-instance: {} of its {share} iterations are not in its set",
            set.shard(),
            share - set.results.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_merged_files_are_left_out_of_a_shards_folder() {
        for name in [
            "cross-instance-results.json",
            "cross-instance-trace.jsonl.gz",
            "cross-instance.out",
            "cross-instance-iter-4.out",
            "cross-instance-introspect-iter-4.raw",
            "evidence",
        ] {
            assert!(merged_elsewhere(name), "{name}");
        }
        for name in ["analysis.json", "node.parity.json", "test.parity.out", "webprofile.log", "diff"] {
            assert!(!merged_elsewhere(name), "{name}");
        }
    }
}
