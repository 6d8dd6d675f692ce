//! The cost of evidence packets, measured (not asserted): `parity run` with
//! 100 failing cross-instance iterations (`--fault revocation-lag=50ms`:
//! each one a stale read), with packets (`--evidence-limit 100`) and without
//! (`--evidence-limit 0`), alternating, on the embedded stack and — when an
//! engine answers — on Docker with the fixture images. Wall time per run and
//! the `evidence` phase (waiting for the last window to close and writing)
//! go to `target/bench/evidence.json` and stdout.

#[path = "support/docker_images.rs"]
mod docker_images;

use serde::Serialize;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const ITERATIONS: &str = "100";

#[derive(Serialize, Default)]
struct Side {
    wall_s: Vec<f64>,
    wall_s_median: f64,
    evidence_phase_ms: Vec<f64>,
    packets: u64,
}

#[derive(Serialize)]
struct Backend {
    backend: String,
    rounds: usize,
    with_packets: Side,
    without_packets: Side,
    /// Median with − median without (mostly the wait for the last window to close).
    cost_s: f64,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// One run; its wall time, evidence phase and packet count.
fn run_once(args: &[String], limit: &str, scratch: &Path) -> (f64, f64, u64) {
    let out = scratch.join("ci");
    let timings = scratch.join("timings.json");
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(["run", "--iterations", ITERATIONS, "--concurrency", "4", "--hash-cost", "minimal"])
        .args(["--fault", "revocation-lag=50ms", "--evidence-limit", limit, "--timings"])
        .arg(&timings)
        .arg("--out")
        .arg(&out)
        .args(args)
        .env("CI", "1")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("parity runs");
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(1), "the iterations must fail: {args:?}");
    let phases: serde_json::Value = serde_json::from_slice(&std::fs::read(&timings).unwrap()).unwrap();
    let evidence_ms = phases
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "evidence")
        .and_then(|p| p["duration_ms"].as_f64())
        .unwrap_or(0.0);
    let analysis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("webprofile-parity/analysis.json")).unwrap()).unwrap();
    let packets = analysis["evidence"]["packets"].as_array().map_or(0, |p| p.len() as u64);
    (wall, evidence_ms, packets)
}

fn measure(backend: &str, args: &[String], rounds: usize) -> Backend {
    let scratch = tempfile::tempdir().unwrap();
    let (mut with, mut without) = (Side::default(), Side::default());
    for _ in 0..rounds {
        for (side, limit) in [(&mut with, "100"), (&mut without, "0")] {
            let (wall, evidence_ms, packets) = run_once(args, limit, scratch.path());
            side.wall_s.push(wall);
            side.evidence_phase_ms.push(evidence_ms);
            side.packets = packets;
        }
    }
    with.wall_s_median = median(&with.wall_s);
    without.wall_s_median = median(&without.wall_s);
    let cost_s = with.wall_s_median - without.wall_s_median;
    Backend { backend: backend.into(), rounds, with_packets: with, without_packets: without, cost_s }
}

fn docker_args() -> Option<Vec<String>> {
    let (reference, mongo) = docker_images::fixture_images("evidence", "the Docker side is not measured")?;
    let args = ["--backend", "docker", "--webprofile-image", &reference, "--mongo-image", &mongo]
        .map(str::to_string)
        .to_vec();
    Some(args)
}

fn main() {
    let mut figures = vec![measure("local", &["--backend".into(), "local".into()], 3)];
    if let Some(args) = docker_args() {
        figures.push(measure("docker", &args, 2));
    }
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/evidence.json", &json).expect("write the figures");
    println!("{json}");
}
