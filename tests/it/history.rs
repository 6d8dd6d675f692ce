//! `history.jsonl` checked by code that knows nothing of the harness: it
//! reads only the history (as plain JSON) and finds the stale reads a
//! linearizability checker would, then compares them with what the run
//! itself reported.

use crate::common::{local_run, output_text, parity_dir, read_json};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Per register: the reads invoked after the completion of its `false`
/// write that still returned `true` — a register written `true` then
/// `false` must never be read `true` once the second write completed.
/// Indeterminate writes (`ok: false`) prove nothing and are not ordered.
fn stale_reads_by_key(history: &str) -> BTreeMap<String, u64> {
    let ops: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let mut revoked_at: BTreeMap<&str, u64> = BTreeMap::new();
    for op in &ops {
        if op["f"] == "write" && op["value"] == false && op["ok"] == true {
            let completed = op["complete_ns"].as_u64().unwrap();
            let key = op["key"].as_str().unwrap();
            let earliest = revoked_at.entry(key).or_insert(completed);
            *earliest = (*earliest).min(completed);
        }
    }
    let mut stale = BTreeMap::new();
    for op in &ops {
        let key = op["key"].as_str().unwrap();
        let count = stale.entry(key.to_string()).or_insert(0);
        let Some(&revoked) = revoked_at.get(key) else { continue };
        if op["f"] == "read" && op["value"] == true && op["invoke_ns"].as_u64().unwrap() >= revoked {
            *count += 1;
        }
    }
    stale
}

/// The run's own count of stale reads per iteration, by register name.
fn reported(out: &Path) -> BTreeMap<String, u64> {
    let results = read_json(&parity_dir(out).join("cross-instance-results.json"));
    results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (format!("iteration-{}", r["iteration"]), r["stale_reads"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_failing_runs_history_checked_independently_finds_the_stale_reads_the_run_found() {
    let tmp = tempfile::tempdir().unwrap();
    let output = local_run(
        tmp.path(),
        &["--instances", "3", "--iterations", "9", "--concurrency", "3", "--fault", "revocation-lag=150ms@2"],
    );
    let said = output_text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    let history = std::fs::read_to_string(parity_dir(tmp.path()).join("history.jsonl")).unwrap();
    let found = stale_reads_by_key(&history);
    let reported = reported(tmp.path());
    assert_eq!(found, reported, "{said}");
    assert!(found.values().sum::<u64>() > 0, "the lag should show as stale reads: {said}");
    let analysis = read_json(&parity_dir(tmp.path()).join("analysis.json"));
    assert_eq!(analysis["cross"]["stale_reads"].as_u64(), Some(found.values().sum::<u64>()));

    // Every register is created once and revoked once, by instances named as processes.
    let ops: Vec<Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for key in reported.keys() {
        let writes: Vec<&Value> = ops.iter().filter(|o| o["key"] == *key && o["f"] == "write").collect();
        let values: Vec<&Value> = writes.iter().map(|o| &o["value"]).collect();
        assert_eq!(values, [&Value::Bool(true), &Value::Bool(false)], "{key}");
        assert!(writes.iter().all(|o| o["process"].as_str().unwrap().starts_with("instance")));
    }
    assert!(ops.iter().all(|o| o["invoke_ns"].as_u64() <= o["complete_ns"].as_u64()));
}

#[test]
fn a_passing_runs_history_has_no_stale_read() {
    let tmp = tempfile::tempdir().unwrap();
    let output = local_run(tmp.path(), &["--iterations", "4"]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    let history = std::fs::read_to_string(parity_dir(tmp.path()).join("history.jsonl")).unwrap();
    let found = stale_reads_by_key(&history);
    assert_eq!(found.len(), 4);
    assert!(found.values().all(|n| *n == 0), "{found:?}");
    // The checker is not blind: a history whose last read is made `true` shows one.
    let mut lines: Vec<String> = history.lines().map(String::from).collect();
    let last_read = lines.iter().rposition(|l| l.contains(r#""f":"read""#)).unwrap();
    lines[last_read] = lines[last_read].replace(r#""value":false"#, r#""value":true"#);
    assert_eq!(stale_reads_by_key(&lines.join("\n")).values().sum::<u64>(), 1);
}
