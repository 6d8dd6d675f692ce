//! Failure signatures across collected runs: when each was first and last
//! seen, in how many runs, how often, how many runs in a row up to the
//! newest, and how many clean runs since — what a signature's GitHub issue
//! is opened, labelled and closed by.

use super::collect::{Collection, CrossRun};
use crate::verdict::Signature;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Runs a row's trend covers, newest last.
pub const TREND_RUNS: usize = 20;

/// A collected run, as a signature row names it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunRef {
    pub id: String,
    pub timestamp: Option<DateTime<Utc>>,
    /// `raw/<id>` under the collected directory, when it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

/// One signature across the collected runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignatureRow {
    #[serde(flatten)]
    pub signature: Signature,
    pub first_seen: RunRef,
    pub last_seen: RunRef,
    /// Runs it was seen in.
    pub runs: u64,
    /// Failures it stands for, over every run.
    pub occurrences: u64,
    /// Runs in a row, up to and including the newest, that saw it (0 when the newest did not).
    pub consecutive: u64,
    /// Runs since the last one that saw it (0 when the newest did).
    pub clean_since: u64,
    /// Occurrences in each of the last [`TREND_RUNS`] runs, oldest first.
    pub trend: Vec<u64>,
    /// The newest occurrence's reason, as its run gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// The newest occurrence's evidence packet (`webprofile-parity/evidence/<packet>` in that run's artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
}

impl SignatureRow {
    /// Seen in the newest collected run.
    pub fn live(&self) -> bool {
        self.clean_since == 0
    }
}

/// One (revoker, observer) cell over every collected run: how often a read
/// on the observer was stale after a revoke on the revoker.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PairRate {
    pub revoker: String,
    pub observer: String,
    /// Iterations that polled this observer after a revoke on this revoker.
    pub iterations: u64,
    /// Of them, those with a stale read.
    pub stale_iterations: u64,
    pub rate: f64,
}

/// `flakiness/cross/signatures.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignatureSummary {
    /// Runs collected.
    pub runs: u64,
    pub newest_run: Option<RunRef>,
    /// Newest first: by the run they were last seen in, then by runs seen.
    pub signatures: Vec<SignatureRow>,
    /// The stale-read rate of every (revoker, observer) pair over the runs, by revoker then observer.
    pub pairs: Vec<PairRate>,
}

/// Every (revoker, observer) cell's stale-read rate over the collection.
fn pair_rates(runs: &[&CrossRun]) -> Vec<PairRate> {
    let mut cells: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for r in runs.iter().flat_map(|run| &run.iterations).filter(|r| !r.revoker.is_empty()) {
        for cell in r.cells().into_iter().filter(|c| !c.observer.is_empty()) {
            let stale = cell.stale_reads > 0 || cell.class == Some(crate::verdict::FailureClass::StaleRead);
            let counts = cells.entry((r.revoker.clone(), cell.observer)).or_default();
            counts.0 += 1;
            counts.1 += u64::from(stale);
        }
    }
    cells
        .into_iter()
        .map(|((revoker, observer), (iterations, stale_iterations))| PairRate {
            revoker,
            observer,
            iterations,
            stale_iterations,
            rate: stale_iterations as f64 / iterations.max(1) as f64,
        })
        .collect()
}

/// Counts every signature over the collection's runs (in time order).
pub fn summarize(collection: &Collection) -> SignatureSummary {
    summarize_runs(&collection.cross.iter().collect::<Vec<_>>())
}

/// The same over the scheduled runs only — those the GitHub issues follow: a
/// run that recorded another trigger (a push, a pull request) is left out;
/// one that recorded none counts as scheduled.
pub fn summarize_scheduled(collection: &Collection) -> SignatureSummary {
    let scheduled = |run: &&CrossRun| run.event.as_deref().is_none_or(|event| event == "schedule");
    summarize_runs(&collection.cross.iter().filter(scheduled).collect::<Vec<_>>())
}

fn summarize_runs(runs: &[&CrossRun]) -> SignatureSummary {
    let mut rows: BTreeMap<String, SignatureRow> = BTreeMap::new();
    let mut last_index: BTreeMap<String, usize> = BTreeMap::new();
    let trend_from = runs.len().saturating_sub(TREND_RUNS);
    for (index, run) in runs.iter().enumerate() {
        let here = RunRef { id: run.id.clone(), timestamp: run.timestamp, raw: run.raw.clone() };
        for count in &run.signatures {
            let row = rows.entry(count.signature.id.clone()).or_insert_with(|| SignatureRow {
                signature: count.signature.clone(),
                first_seen: here.clone(),
                last_seen: here.clone(),
                runs: 0,
                occurrences: 0,
                consecutive: 0,
                clean_since: 0,
                trend: vec![0; runs.len() - trend_from],
                example: None,
                packet: None,
            });
            let seen_last = last_index.insert(count.signature.id.clone(), index);
            if seen_last != Some(index) {
                row.runs += 1;
                row.consecutive = match seen_last {
                    Some(previous) if previous + 1 == index => row.consecutive + 1,
                    _ => 1,
                };
            }
            row.occurrences += count.occurrences;
            row.last_seen = here.clone();
            row.example = count.example.clone().or(row.example.take());
            row.packet = count.packet.clone();
            if index >= trend_from {
                row.trend[index - trend_from] += count.occurrences;
            }
        }
    }
    let newest = runs.len();
    let mut signatures: Vec<SignatureRow> = rows
        .into_values()
        .map(|mut row| {
            let last = last_index[&row.signature.id];
            row.clean_since = (newest - 1 - last) as u64;
            if row.clean_since > 0 {
                row.consecutive = 0;
            }
            row
        })
        .collect();
    signatures.sort_by(|a, b| {
        (a.clean_since, std::cmp::Reverse(a.runs), &a.signature.id).cmp(&(
            b.clean_since,
            std::cmp::Reverse(b.runs),
            &b.signature.id,
        ))
    });
    SignatureSummary {
        runs: runs.len() as u64,
        newest_run: runs.last().map(|r| RunRef {
            id: r.id.clone(),
            timestamp: r.timestamp,
            raw: r.raw.clone(),
        }),
        signatures,
        pairs: pair_rates(runs),
    }
}

/// `parity signatures`: one line per signature, newest first.
pub fn render_text(summary: &SignatureSummary) -> String {
    if summary.signatures.is_empty() {
        return format!("no failure signature in {} collected run(s)\n", summary.runs);
    }
    let mut out = format!(
        "{} signature(s) in {} collected run(s), newest first:\n",
        summary.signatures.len(),
        summary.runs
    );
    for row in &summary.signatures {
        let state = if row.live() {
            format!("live, {} run(s) in a row", row.consecutive)
        } else {
            format!("clean for {} run(s)", row.clean_since)
        };
        out.push_str(&format!(
            "{}  {:<14} {}\n    {} run(s) · {} occurrence(s) · {state} · first {} · last {}{}\n",
            row.signature.id,
            row.signature.class.as_str(),
            crate::escape::one_line(&row.signature.what),
            row.runs,
            row.occurrences,
            run_label(&row.first_seen),
            run_label(&row.last_seen),
            row.packet.as_deref().map(|p| format!(" · packet {p}")).unwrap_or_default(),
        ));
    }
    out
}

fn run_label(run: &RunRef) -> String {
    match run.timestamp {
        Some(at) => format!("{} ({})", run.id, at.format("%Y-%m-%d %H:%M")),
        None => run.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{FailureClass, SignatureCount};

    fn run(id: &str, signatures: &[(&Signature, u64)]) -> CrossRun {
        let mut run = CrossRun::for_tests();
        run.id = id.into();
        run.signatures = signatures
            .iter()
            .map(|(s, n)| SignatureCount {
                signature: (*s).clone(),
                occurrences: *n,
                first: None,
                example: Some(format!("in {id}")),
                packet: None,
            })
            .collect();
        run
    }

    #[test]
    fn rows_count_runs_streaks_and_clean_runs_newest_first() {
        let stale = Signature::cross(FailureClass::StaleRead, "instance1", "instance2", "");
        let check = Signature::check(FailureClass::Contract, "create_shape");
        let collection = Collection {
            cross: vec![
                run("1", &[(&stale, 2)]),
                run("2", &[(&stale, 1), (&check, 1)]),
                run("3", &[]),
                run("4", &[(&stale, 3)]),
                run("5", &[(&stale, 1)]),
            ],
            ..Collection::default()
        };
        let summary = summarize(&collection);
        assert_eq!(summary.runs, 5);
        let [first, second] = &summary.signatures[..] else { panic!("{summary:?}") };
        assert_eq!(first.signature, stale, "live first");
        assert_eq!((first.runs, first.occurrences, first.consecutive, first.clean_since), (4, 7, 2, 0));
        assert_eq!((first.first_seen.id.as_str(), first.last_seen.id.as_str()), ("1", "5"));
        assert_eq!(first.trend, [2, 1, 0, 3, 1]);
        assert_eq!(first.example.as_deref(), Some("in 5"));
        assert_eq!(second.signature, check);
        assert_eq!((second.runs, second.consecutive, second.clean_since), (1, 0, 3));
        // Only scheduled runs (or runs that recorded no trigger) drive the issues.
        let mut pushed = collection.clone();
        pushed.cross[4].event = Some("push".into());
        pushed.cross[3].event = Some("schedule".into());
        let scheduled = summarize_scheduled(&pushed);
        assert_eq!(scheduled.runs, 4);
        assert_eq!((scheduled.signatures[0].runs, scheduled.signatures[0].occurrences), (3, 6));
        let text = render_text(&summary);
        assert!(text.contains("live, 2 run(s) in a row") && text.contains("clean for 3 run(s)"), "{text}");
        assert!(render_text(&SignatureSummary::default()).contains("no failure signature"));
    }
}
