//! Idle waiting, measured (not asserted). Figures to `target/bench/idle.json`
//! and stdout:
//!
//! - a run whose only failure is one contract check (`--fault bad-id-404`,
//!   one evidence packet) against the same run passing: on an external
//!   stack (a reference server started by hand, given twice) and — when an
//!   engine answers — on Docker with the fixture images; the median wall
//!   times and their difference (the aim: within 0.3 s);
//! - ten cross-instance iterations against a service stale for 60 s
//!   (`--fault revocation-lag=60s`, the default 15 s window): wall time,
//!   requests per observer per iteration, and `stale_ms`.

#[path = "support/docker_images.rs"]
mod docker_images;

use serde::Serialize;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[derive(Serialize)]
struct FailingVsPassing {
    backend: String,
    rounds: usize,
    passing_s: Vec<f64>,
    failing_s: Vec<f64>,
    passing_median_s: f64,
    failing_median_s: f64,
    /// Failing median − passing median.
    cost_s: f64,
    evidence_phase_ms: Vec<f64>,
}

#[derive(Serialize)]
struct Stale {
    iterations: usize,
    wall_s: f64,
    requests: u64,
    /// Introspections per observer per iteration.
    reads_per_iteration: Vec<u64>,
    stale_ms: Vec<f64>,
    classes: Vec<String>,
}

#[derive(Serialize)]
struct Figures {
    failing_vs_passing: Vec<FailingVsPassing>,
    stale_60s: Stale,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// A `parity reference serve` on a free port, and its URL.
fn serve(fault: Option<&str>) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_parity"));
    command.args(["reference", "serve", "--port", "0", "--hash-cost", "minimal"]);
    if let Some(fault) = fault {
        command.args(["--fault", fault]);
    }
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("a reference server");
    let stderr = child.stderr.take().unwrap();
    let url = std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string))
        .expect("the server says where it listens");
    (child, url)
}

/// One run's wall time and its `evidence` phase.
fn timed_run(args: &[String], expect: i32, scratch: &Path) -> (f64, f64) {
    let timings = scratch.join("timings.json");
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(["run", "--iterations", "5", "--timings"])
        .arg(&timings)
        .arg("--out")
        .arg(scratch.join("ci"))
        .args(args)
        .env("CI", "1")
        .stderr(Stdio::null())
        .status()
        .expect("parity runs");
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(expect), "{args:?}");
    let phases: serde_json::Value = serde_json::from_slice(&std::fs::read(&timings).unwrap()).unwrap();
    let evidence = phases
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "evidence")
        .and_then(|p| p["duration_ms"].as_f64())
        .unwrap_or(0.0);
    (wall, evidence)
}

fn failing_vs_passing(
    backend: &str,
    passing: &[String],
    failing: &[String],
    rounds: usize,
) -> FailingVsPassing {
    let scratch = tempfile::tempdir().unwrap();
    let (mut passing_s, mut failing_s, mut evidence_phase_ms) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        passing_s.push(timed_run(passing, 0, scratch.path()).0);
        let (wall, evidence) = timed_run(failing, 1, scratch.path());
        failing_s.push(wall);
        evidence_phase_ms.push(evidence);
    }
    let (passing_median_s, failing_median_s) = (median(&passing_s), median(&failing_s));
    FailingVsPassing {
        backend: backend.into(),
        rounds,
        passing_s,
        failing_s,
        passing_median_s,
        failing_median_s,
        cost_s: failing_median_s - passing_median_s,
        evidence_phase_ms,
    }
}

fn external() -> FailingVsPassing {
    let (mut clean, clean_url) = serve(None);
    let (mut faulty, faulty_url) = serve(Some("bad-id-404"));
    let args = |url: &str| ["--instance", url, "--instance", url].map(str::to_string).to_vec();
    let figures = failing_vs_passing("external", &args(&clean_url), &args(&faulty_url), 5);
    let _ = clean.kill();
    let _ = faulty.kill();
    figures
}

fn docker() -> Option<FailingVsPassing> {
    let (reference, mongo) = docker_images::fixture_images("idle", "the Docker side is not measured")?;
    let passing: Vec<String> = [
        "--backend",
        "docker",
        "--webprofile-image",
        &reference,
        "--mongo-image",
        &mongo,
        "--hash-cost",
        "minimal",
    ]
    .map(str::to_string)
    .to_vec();
    let mut failing = passing.clone();
    failing.extend(["--fault".to_string(), "bad-id-404".to_string()]);
    Some(failing_vs_passing("docker", &passing, &failing, 3))
}

fn stale_60s() -> Stale {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("ci");
    let started = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--iterations", "10"])
        .args(["--fault", "revocation-lag=60s", "--evidence-limit", "0", "--out"])
        .arg(&out)
        .stderr(Stdio::null())
        .status()
        .expect("parity runs");
    let wall_s = started.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(1));
    let dir = out.join("webprofile-parity");
    let trace =
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join("cross-instance-trace.jsonl.gz")).unwrap());
    let requests = std::io::BufReader::new(trace).lines().count() as u64;
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cross-instance-results.json")).unwrap()).unwrap();
    let results = results.as_array().unwrap();
    Stale {
        iterations: results.len(),
        wall_s,
        requests,
        reads_per_iteration: results.iter().map(|r| r["polls"].as_u64().unwrap_or(0)).collect(),
        stale_ms: results.iter().map(|r| r["stale_ms"].as_f64().unwrap_or(f64::NAN)).collect(),
        classes: results.iter().map(|r| r["class"].as_str().unwrap_or("").to_string()).collect(),
    }
}

fn main() {
    let mut failing_vs_passing = vec![external()];
    failing_vs_passing.extend(docker());
    let figures = Figures { failing_vs_passing, stale_60s: stale_60s() };
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/idle.json", &json).expect("write the figures");
    println!("{json}");
}
