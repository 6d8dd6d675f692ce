//! The security families timed (not asserted) on the embedded stack, as a
//! run meets them: users A and B with their tokens, the four families and
//! their sentinels, at the service's hash cost (argon2id m=64 MiB) and at
//! the minimal one (the harness alone). Five rounds each; figures to
//! `target/bench/security.json` and stdout. The aims: under 1 s
//! added to an embedded run, at most 400 requests.

use serde::Serialize;
use std::time::{Duration, Instant};
use webprofile_parity::clock::Clock;
use webprofile_parity::contract::{ClientOptions, Credentials, Trace, TraceContext};
use webprofile_parity::hashing::HashCost;
use webprofile_parity::scenario::security::{Families, FAMILIES};
use webprofile_parity::stack::{LocalOptions, LocalStack};

const ROUNDS: usize = 5;

#[derive(Serialize)]
struct Family {
    family: String,
    variants: usize,
    attempts: usize,
    median_ms: f64,
}

#[derive(Serialize)]
struct Cost {
    hash_cost: String,
    rounds: usize,
    /// The whole security phase (setup, four families, sentinels) per round.
    seconds: Vec<f64>,
    median_seconds: f64,
    max_seconds: f64,
    requests: u64,
    open_doors: usize,
    families: Vec<Family>,
}

#[derive(Serialize)]
struct Figures {
    costs: Vec<Cost>,
}

async fn round(hash_cost: HashCost) -> (f64, u64, usize, Vec<(String, usize, usize, f64)>) {
    let stack = LocalStack::start(LocalOptions {
        credentials: Credentials::default(),
        faults: Default::default(),
        seed: None,
        hash_cost,
        flavor: Default::default(),
        mongo_uri: None,
        instances: 2,
    })
    .await
    .expect("an embedded stack");
    let ctx = TraceContext::new(Clock::start());
    let options = ClientOptions {
        credentials: Credentials::default(),
        request_timeout: Duration::from_secs(10),
        pacer: Default::default(),
    };
    let clients = stack.endpoints.clients(&options, &ctx);
    let trace = &mut Trace::new();
    let started = Instant::now();
    let mut families = Families::prepare(&clients[0], trace).await.unwrap_or_else(|e| panic!("{e:?}"));
    let mut per_family = Vec::new();
    for family in FAMILIES {
        let t = Instant::now();
        families.run(family, trace).await;
        per_family.push((family.name().to_string(), family.variants(), t.elapsed().as_secs_f64() * 1000.0));
    }
    let seconds = started.elapsed().as_secs_f64();
    let report = families.into_report(Default::default());
    let attempts = |name: &str| report.rows.iter().filter(|r| r.family == name).count();
    let per_family = per_family.into_iter().map(|(f, v, ms)| (f.clone(), v, attempts(&f), ms)).collect();
    let open = report.open().count();
    stack.shutdown().await;
    (seconds, report.requests, open, per_family)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut costs = Vec::new();
    for hash_cost in [HashCost::default(), HashCost::Minimal] {
        let rounds: Vec<_> = (0..ROUNDS).map(|_| runtime.block_on(round(hash_cost))).collect();
        let seconds: Vec<f64> = rounds.iter().map(|r| r.0).collect();
        let families = (0..FAMILIES.len())
            .map(|i| {
                let (name, variants, attempts, _) = rounds[0].3[i].clone();
                let times: Vec<f64> = rounds.iter().map(|r| r.3[i].3).collect();
                Family { family: name, variants, attempts, median_ms: median(&times) }
            })
            .collect();
        costs.push(Cost {
            hash_cost: hash_cost.to_string(),
            rounds: ROUNDS,
            median_seconds: median(&seconds),
            max_seconds: seconds.iter().copied().fold(0.0, f64::max),
            seconds,
            requests: rounds.iter().map(|r| r.1).max().unwrap_or(0),
            open_doors: rounds.iter().map(|r| r.2).sum(),
            families,
        });
    }
    let json = serde_json::to_string_pretty(&Figures { costs }).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/security.json", &json).expect("write the figures");
    println!("{json}");
}
