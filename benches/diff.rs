//! `parity diff` timed (not asserted): the built-in script, every step, against
//! embedded reference instances with minimal hash cost (a Go reference and a
//! Node candidate, two instances each, one shared store), twenty rounds. What the harness adds per compared exchange pair is the wall time
//! less the services' own time (each step's slowest lane, as the client saw
//! it), divided by the pairs compared. Figures to `target/bench/diff.json`
//! and stdout; the aim is under 1 ms per pair.

use serde::Serialize;
use std::sync::Arc;
use webprofile_parity::clock::Clock;
use webprofile_parity::contract::Credentials;
use webprofile_parity::diff::{self, rules::Rules, script, DiffConfig, SideSpec};
use webprofile_parity::hashing::HashCost;
use webprofile_parity::progress::Reporter;
use webprofile_parity::reference::server::{self, ReferenceConfig};
use webprofile_parity::reference::Flavor;
use webprofile_parity::store::{MemoryStore, TokenStore};

const ROUNDS: usize = 20;

#[derive(Serialize)]
struct Figures {
    rounds: usize,
    pairs_per_round: usize,
    /// Each round's harness time per pair, ms.
    harness_ms_per_pair: Vec<f64>,
    median_harness_ms_per_pair: f64,
    max_harness_ms_per_pair: f64,
    median_wall_ms: f64,
    median_services_ms: f64,
    rules: String,
    different: usize,
}

async fn instance(flavor: Flavor, store: Arc<dyn TokenStore>) -> server::RunningInstance {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = ReferenceConfig { hash_cost: HashCost::Minimal, flavor, ..ReferenceConfig::default() };
    server::spawn(listener, store, config)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let rules_path = concat!(env!("CARGO_MANIFEST_DIR"), "/ci/parity-diff.toml");
    let rules =
        Rules::parse(rules_path, &std::fs::read_to_string(rules_path).expect("rules")).expect("rules parse");
    let (per_pair, walls, services, pairs, different) = runtime.block_on(async {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let go = [instance(Flavor::Go, store.clone()).await, instance(Flavor::Go, store.clone()).await];
        let node = [instance(Flavor::Node, store.clone()).await, instance(Flavor::Node, store.clone()).await];
        let (mut per_pair, mut walls, mut services) = (Vec::new(), Vec::new(), Vec::new());
        let (mut pairs, mut different) = (0, 0);
        for _ in 0..ROUNDS {
            let side = |instances: &[server::RunningInstance; 2]| SideSpec {
                urls: instances.iter().map(|i| i.base_url()).collect(),
                credentials: Credentials::default(),
                pacer: None,
            };
            let config = DiffConfig {
                reference: side(&go),
                candidate: side(&node),
                request_timeout: std::time::Duration::from_secs(5),
                pacing: Default::default(),
                steps: script::builtin(),
                rules: rules.clone(),
                scenario_file: None,
                store: Some(store.clone()),
                shared_store: true,
                redact: true,
            };
            let report =
                diff::run(config, Clock::start(), Reporter::plain()).await.expect("both sides answer");
            per_pair.push(report.timing.harness_ms_per_pair);
            walls.push(report.timing.wall_ms);
            services.push(report.timing.services_ms);
            pairs = report.counts.exchange_pairs;
            different += report.counts.different;
        }
        (per_pair, walls, services, pairs, different)
    });
    let figures = Figures {
        rounds: ROUNDS,
        pairs_per_round: pairs,
        median_harness_ms_per_pair: median(&per_pair),
        max_harness_ms_per_pair: per_pair.iter().copied().fold(0.0, f64::max),
        harness_ms_per_pair: per_pair,
        median_wall_ms: median(&walls),
        median_services_ms: median(&services),
        rules: "ci/parity-diff.toml (go reference vs node candidate)".into(),
        different,
    };
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    std::fs::create_dir_all("target/bench").expect("target/bench");
    std::fs::write("target/bench/diff.json", &json).expect("write the figures");
    println!("{json}");
}
