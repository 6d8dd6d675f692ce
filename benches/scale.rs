//! `parity run` at scale, timed (not asserted): 100,000 cross-instance
//! iterations on the embedded stack with minimal hash cost, at concurrency
//! 8, 16 and 32, the release binary under GNU time. Figures — wall time,
//! peak resident memory, bytes under --out and per artifact kind — per
//! concurrency to `target/bench/scale.json` and stdout.
//! PARITY_SCALE_ITERATIONS overrides the count, PARITY_SCALE_CONCURRENCY the
//! concurrencies (comma-separated). The aims: < 2 min, < 50 MB under --out,
//! < 200 MB peak whatever the concurrency.

use serde::Serialize;
use std::path::Path;
use std::process::Command;

#[derive(Serialize)]
struct Figures {
    iterations: u32,
    concurrency: u32,
    exit_code: Option<i32>,
    wall_seconds: f64,
    peak_rss_mb: f64,
    out_mb: f64,
    largest_files_mb: Vec<(String, f64)>,
}

fn size_of(dir: &Path, files: &mut Vec<(String, u64)>) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            total += size_of(&path, files);
        } else if let Ok(meta) = entry.metadata() {
            total += meta.len();
            files.push((path.display().to_string(), meta.len()));
        }
    }
    total
}

fn main() {
    let iterations: u32 =
        std::env::var("PARITY_SCALE_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let concurrencies: Vec<u32> = std::env::var("PARITY_SCALE_CONCURRENCY")
        .unwrap_or_else(|_| "8,16,32".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let runs: Vec<Figures> = concurrencies.into_iter().map(|c| run(iterations, c)).collect();
    let json = serde_json::to_string_pretty(&runs).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/scale.json", &json).expect("write the figures");
    println!("{json}");
}

fn run(iterations: u32, concurrency: u32) -> Figures {
    let out = tempfile::tempdir().expect("a temporary directory");
    let report = out.path().join("time.txt");
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_parity"))
        .args(["run", "--backend", "local", "--hash-cost", "minimal", "--evidence-limit", "10"])
        .args(["--iterations", &iterations.to_string(), "--concurrency", &concurrency.to_string()])
        .arg("--out")
        .arg(out.path().join("ci"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run /usr/bin/time parity run");
    let timed = std::fs::read_to_string(&report).expect("GNU time's report");
    let mut fields = timed.split_whitespace();
    let wall_seconds: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let peak_kb: f64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    let mut files = Vec::new();
    let total = size_of(&out.path().join("ci"), &mut files);
    files.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let mb = |bytes: u64| (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0;
    Figures {
        iterations,
        concurrency,
        exit_code: status.code(),
        wall_seconds,
        peak_rss_mb: (peak_kb / 1024.0 * 10.0).round() / 10.0,
        out_mb: mb(total),
        largest_files_mb: files
            .into_iter()
            .take(6)
            .map(|(path, size)| (path.rsplit('/').next().unwrap_or(&path).to_string(), mb(size)))
            .collect(),
    }
}
