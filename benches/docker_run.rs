//! A default `parity run --backend docker` with the fixture images present,
//! measured (not asserted): wall time per phase, and how far each
//! cross-instance iteration's time is from the service's own request time.
//! Figures go to `target/bench/docker-run.json` and stdout. Needs a Docker
//! engine; builds the fixture images when missing (fixtures/images).
//!
//! Per cross-instance iteration, its wall time as the harness measured it is
//! split three ways:
//! - service: what the two instances' access logs say they spent on its requests;
//! - transport: each exchange's latency seen by the client minus the service's
//!   own time (loopback, Docker's port forwarding, the service's HTTP framing);
//! - harness: the wall time minus every exchange's latency and the poll
//!   pauses (the harness's own work between and around requests).

#[path = "support/docker_images.rs"]
mod docker_images;

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 3;
const POLL_INTERVAL_MS: f64 = 10.0;

#[derive(Serialize)]
struct Figures {
    runs: usize,
    whole_run_s: Vec<f64>,
    /// Median over the runs, per phase, in run order.
    phases_median_ms: Vec<(String, f64)>,
    iterations: usize,
    iteration_ms_mean: f64,
    service_ms_per_iteration_mean: f64,
    /// Wall time − service time − poll pauses: transport and harness together.
    beyond_service_ms_per_iteration: Stats,
    transport_ms_per_iteration: Stats,
    harness_ms_per_iteration: Stats,
    requests_per_iteration_mean: f64,
}

#[derive(Serialize, Default)]
struct Stats {
    mean: f64,
    median: f64,
    max: f64,
}

fn main() {
    let Some((reference, mongo)) = docker_images::fixture_images("docker_run", "nothing measured") else {
        return;
    };
    let parity = env!("CARGO_BIN_EXE_parity");

    let tmp = tempfile::tempdir().expect("tempdir");
    let mut whole = Vec::new();
    let mut phases: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
    let mut overheads = Vec::new();
    let mut transport = Vec::new();
    let mut harness = Vec::new();
    let mut iteration_ms = Vec::new();
    let mut service_ms = Vec::new();
    let mut requests = Vec::new();
    for run in 0..RUNS {
        let out = tmp.path().join(format!("run{run}"));
        let timings = tmp.path().join(format!("timings{run}.json"));
        let started = Instant::now();
        let status = Command::new(parity)
            .args(["run", "--backend", "docker", "--webprofile-image", &reference, "--mongo-image", &mongo])
            .args(["--network", "parity-bench-net", "--mongo-container", "parity-bench-mongo"])
            .args(["--image-tag", "parity-bench-wp", "--out"])
            .arg(&out)
            .arg("--timings")
            .arg(&timings)
            .env("CI", "true")
            .status()
            .expect("run parity");
        whole.push(started.elapsed().as_secs_f64());
        assert!(status.success(), "run {run} failed: {status}");

        let recorded: Vec<serde_json::Value> = read_json(&timings);
        for (order, phase) in recorded.iter().enumerate() {
            let entry =
                phases.entry(phase["name"].as_str().unwrap().to_string()).or_insert((order, Vec::new()));
            entry.1.push(phase["duration_ms"].as_f64().unwrap());
        }
        let dir = out.join("webprofile-parity");
        let results: Vec<serde_json::Value> = read_json(&dir.join("cross-instance-results.json"));
        let first = access_log(&dir.join("webprofile.log"));
        let second = access_log(&dir.join("webprofile-node2.log"));
        for r in &results {
            let user = r["user_id"].as_str().unwrap();
            // Roles rotate: with two instances the creator is also the one polled.
            let (created_on, revoked_on) =
                if r["creator"] == "instance2" { (&second, &first) } else { (&first, &second) };
            let (service, count) = service_time(created_on, revoked_on, user);
            let polls = r["polls"].as_f64().unwrap_or(1.0);
            let total = r["duration_ms"].as_f64().unwrap();
            let pauses = (polls - 1.0).max(0.0) * POLL_INTERVAL_MS;
            let trace = std::fs::read_to_string(
                dir.join(format!("cross-instance-introspect-iter-{}.raw", r["iteration"])),
            )
            .expect("trace");
            let client = client_latencies(&trace);
            iteration_ms.push(total);
            service_ms.push(service);
            requests.push(count as f64);
            overheads.push(total - service - pauses);
            transport.push(client - service);
            harness.push(total - client - pauses);
        }
    }

    let mut ordered: Vec<(usize, String, f64)> =
        phases.into_iter().map(|(name, (order, values))| (order, name, median(&values))).collect();
    ordered.sort_by_key(|(order, _, _)| *order);
    let figures = Figures {
        runs: RUNS,
        whole_run_s: whole,
        phases_median_ms: ordered.into_iter().map(|(_, name, ms)| (name, ms)).collect(),
        iterations: overheads.len(),
        iteration_ms_mean: mean(&iteration_ms),
        service_ms_per_iteration_mean: mean(&service_ms),
        beyond_service_ms_per_iteration: Stats::of(&overheads),
        transport_ms_per_iteration: Stats::of(&transport),
        harness_ms_per_iteration: Stats::of(&harness),
        requests_per_iteration_mean: mean(&requests),
    };
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("docker-run.json");
    std::fs::write(&path, &json).expect("write figures");
    println!("{json}\nwritten to {}", path.display());
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// An access-log line: method, path, and the milliseconds the service spent.
struct Request {
    method: String,
    path: String,
    ms: f64,
}

/// `<timestamp> <name> <METHOD> <path> <status> <ms>ms` lines of the reference server.
fn access_log(path: &Path) -> Vec<Request> {
    std::fs::read_to_string(path)
        .expect("log")
        .lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let ms = parts.get(5)?.strip_suffix("ms")?.parse().ok()?;
            Some(Request { method: parts[2].to_string(), path: parts[3].to_string(), ms })
        })
        .collect()
}

/// The service's time on one iteration's requests: on the creating (and
/// polled) instance, its create and every request up to the next create (the
/// introspections); on the revoking one, the revoke for that user.
fn service_time(first: &[Request], second: &[Request], user: &str) -> (f64, usize) {
    let creates = |r: &Request| r.method == "POST" && r.path.contains("/git-tokens");
    let start = first.iter().position(|r| creates(r) && r.path.contains(user)).expect("create in log");
    // The next iteration's revoke may come first on this instance: it is not this one's.
    let after = first[start + 1..].iter().take_while(|r| !creates(r)).filter(|r| r.method != "DELETE");
    let mine: Vec<&Request> = std::iter::once(&first[start]).chain(after).collect();
    let revoke: Vec<&Request> =
        second.iter().filter(|r| r.method == "DELETE" && r.path.contains(user)).collect();
    let all: Vec<&Request> = mine.into_iter().chain(revoke).collect();
    (all.iter().map(|r| r.ms).sum(), all.len())
}

impl Stats {
    fn of(values: &[f64]) -> Stats {
        Stats {
            mean: mean(values),
            median: median(values),
            max: values.iter().cloned().fold(f64::MIN, f64::max),
        }
    }
}

/// The sum of the client-side latencies in a `.raw` trace (`<<< 200 … (1.234 ms)` lines).
fn client_latencies(trace: &str) -> f64 {
    trace
        .lines()
        .filter(|l| l.starts_with("<<< "))
        .filter_map(|l| l.rsplit_once('(')?.1.strip_suffix(" ms)")?.parse::<f64>().ok())
        .sum()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}
