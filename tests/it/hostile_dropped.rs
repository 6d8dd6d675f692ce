//! Nothing a user relies on is silently dropped or overridden: results of
//! any size the harness writes are collected, a merge never passes what a
//! shard failed, no rule accepts a revoked token read active, conflicting
//! flags are refused and every relaxation in force is on the record.

use crate::common::*;
use std::fmt::Write as _;

/// 200,000 iterations in the harness's own record shape (about 80 MB, over
/// the 64 MiB cap the collector once had), the last one a stale read.
fn large_results(iterations: u32) -> String {
    let mut out = String::with_capacity(iterations as usize * 440);
    out.push('[');
    for n in 1..=iterations {
        let failed = n == iterations;
        let (success, reason, class, active) = if failed {
            ("false", r#""token still active after revoke""#, r#""stale-read""#, "true")
        } else {
            ("true", "null", "null", "false")
        };
        let _ = write!(
            out,
            r#"{}{{"iteration": {n}, "success": {success}, "reason": {reason}, "revoke_status": 204, "last": {{"active": {active}}}, "class": {class}, "latency_ms": 0.685, "stale_ms": 0.0, "visible_by_ms": 0.668, "creator": "instance1", "revoker": "instance2", "observer": "instance1", "stale_reads": 0, "polls": 1, "user_id": "9f51ead823d392fac1053bfc", "token_id": "6b167663246117c12d018e5b", "started_at": "2026-12-07T09:03:31.000Z", "duration_ms": 4.02}}"#,
            if n == 1 { "" } else { ",\n  " }
        );
    }
    out.push(']');
    out
}

#[test]
fn results_of_any_size_the_run_writes_are_collected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ci");
    let current = out.join("webprofile-parity/cross-instance-results.json");
    std::fs::create_dir_all(current.parent().unwrap()).unwrap();
    let results = large_results(200_000);
    assert!(results.len() > 64 << 20, "over the old cap: {} bytes", results.len());
    std::fs::write(&current, results).unwrap();
    drop(current);

    let output =
        parity().args(["collect", "--copy", "--out"]).arg(&out).timeout(HANG_GUARD).output().unwrap();
    let said = output_text(&output);
    let summary = read_json(&out.join("flakiness/cross/summary.json"));
    assert_eq!((&summary["run_total"], &summary["iter_total"]), (&1.into(), &200_000.into()), "{said}");
    assert_eq!(summary["iter_failures"], 1, "{said}");
    assert_eq!(summary["skipped_files"].as_array().map(Vec::len), Some(0), "{said}");
    let status = read_json(&out.join("flakiness/cross/status.json"));
    assert_eq!(status["verdict"], "exceeded", "the failing run is judged: {said}");
    assert_eq!(output.status.code(), Some(2), "{said}");
}
