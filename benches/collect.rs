//! Collector throughput, measured (not asserted): 10,000 collected runs of
//! 5 iterations each, aggregated with every output written. Figures go to
//! `target/bench/collect.json` and stdout; the target is < 1 s.
//!
//! Timed twice: in-process (`collector::collect`, best and median of
//! several rounds) and end to end through the `parity collect` binary.

use chrono::{Duration, TimeZone, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use webprofile_parity::collector::{self, CollectOptions};
use webprofile_parity::flakiness::thresholds::Thresholds;
use webprofile_parity::report::BadgeStyle;
use webprofile_parity::scenario::cross::IterationResult;

const RUNS: usize = 10_000;
const ITERATIONS: u32 = 5;
const ROUNDS: usize = 7;

#[derive(Serialize)]
struct Figures {
    runs: usize,
    iterations_per_run: u32,
    input_bytes: u64,
    output_bytes: u64,
    in_process_rounds: usize,
    in_process_best_ms: f64,
    in_process_median_ms: f64,
    binary_ms: f64,
    target_ms: f64,
    verdict: String,
}

fn main() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let collected = tmp.path().join("collected");
    let input_bytes = generate(&collected);
    let out = tmp.path().join("ci");
    let options = CollectOptions {
        out: out.clone(),
        src: None,
        copy: false,
        collected_dir: Some(collected.clone()),
        thresholds: Thresholds::default(),
        dashboard_url: None,
        step_summary: None,
        badge: BadgeStyle::default(),
        now: Utc::now(),
        download_errors: Vec::new(),
        event: None,
    };

    let mut times = Vec::with_capacity(ROUNDS);
    let mut verdict = String::new();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let outcome = collector::collect(&options).expect("collect");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(outcome.summary.run_total, RUNS as u64, "every generated run is used");
        verdict = outcome.judgement.to_string();
    }
    times.sort_by(f64::total_cmp);

    let started = Instant::now();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(["collect", "--out"])
        .arg(&out)
        .arg("--collected-dir")
        .arg(&collected)
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run parity collect");
    let binary_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(matches!(status.code(), Some(0 | 2)), "parity collect failed: {status}");

    let figures = Figures {
        runs: RUNS,
        iterations_per_run: ITERATIONS,
        input_bytes,
        output_bytes: dir_bytes(&out.join("flakiness")),
        in_process_rounds: ROUNDS,
        in_process_best_ms: round(times[0]),
        in_process_median_ms: round(times[ROUNDS / 2]),
        binary_ms: round(binary_ms),
        target_ms: 1000.0,
        verdict,
    };
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("collect.json");
    std::fs::write(&path, &json).expect("write figures");
    println!("{json}\nwritten to {}", path.display());
}

/// 10,000 `run_local_<stamp>_cross.json` files an hour apart, in the current
/// format; about 3% of iterations fail and some see stale reads.
fn generate(dir: &Path) -> u64 {
    std::fs::create_dir_all(dir).expect("collected dir");
    let mut rng = SmallRng::seed_from_u64(10_000);
    let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
    let mut bytes = 0;
    for run in 0..RUNS {
        let at = start + Duration::hours(run as i64);
        let iterations: Vec<IterationResult> = (1..=ITERATIONS)
            .map(|iteration| {
                let success = rng.random_bool(0.97);
                let stale_reads = if rng.random_bool(0.02) { rng.random_range(1..20) } else { 0 };
                IterationResult {
                    iteration,
                    success,
                    reason: (!success)
                        .then(|| "token still active on instance1 after the revoke returned".into()),
                    revoke_status: Some(204),
                    last: Some(serde_json::json!({ "active": !success })),
                    class: (!success).then_some(webprofile_parity::verdict::FailureClass::StaleRead),
                    latency_ms: success.then(|| rng.random_range(0.5..30.0)),
                    stale_reads: Some(stale_reads),
                    polls: stale_reads + 1,
                    user_id: format!("parity-cross-{run}-{iteration}"),
                    token_id: Some(format!("{:024x}", rng.random::<u64>())),
                    started_at: (at + Duration::milliseconds(i64::from(iteration) * 40)).to_rfc3339(),
                    duration_ms: rng.random_range(5.0..60.0),
                    ..IterationResult::default()
                }
            })
            .collect();
        let text = serde_json::to_vec_pretty(&iterations).expect("iterations serialize");
        bytes += text.len() as u64;
        let name = format!("run_local_{}_cross.json", at.format("%Y%m%dT%H%M%SZ"));
        std::fs::write(dir.join(name), text).expect("write run");
    }
    bytes
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
