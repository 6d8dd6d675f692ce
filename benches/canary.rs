//! `parity canary` timed (not asserted): every fault against embedded
//! reference instances, five rounds, figures to `target/bench/canary.json`
//! and stdout. The aim is under 10 s for the whole canary.

use serde::Serialize;
use webprofile_parity::canary::{self, CanaryOptions};
use webprofile_parity::progress::Reporter;

const ROUNDS: usize = 5;

#[derive(Serialize)]
struct Figures {
    cases: usize,
    rounds: usize,
    seconds: Vec<f64>,
    median_seconds: f64,
    max_seconds: f64,
    slowest_case: String,
    slowest_case_seconds: f64,
    all_passed: bool,
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let options = CanaryOptions::default();
    let mut seconds = Vec::new();
    let mut all_passed = true;
    let mut slowest = (String::new(), 0.0f64);
    let mut cases = 0;
    for _ in 0..ROUNDS {
        let report = runtime.block_on(canary::run(&options, Reporter::plain()));
        all_passed &= report.passed();
        cases = report.cases.len();
        seconds.push(report.duration_ms / 1000.0);
        for case in &report.cases {
            if case.duration_ms / 1000.0 > slowest.1 {
                slowest = (case.fault.clone(), case.duration_ms / 1000.0);
            }
        }
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let figures = Figures {
        cases,
        rounds: ROUNDS,
        median_seconds: sorted[ROUNDS / 2],
        max_seconds: sorted[ROUNDS - 1],
        seconds,
        slowest_case: slowest.0,
        slowest_case_seconds: slowest.1,
        all_passed,
    };
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/canary.json", &json).expect("write the figures");
    println!("{json}");
}
