//! Harness overhead, measured (not asserted): figures go to
//! `target/bench/harness-overhead.json` and stdout.
//!
//! Against the embedded reference stack with minimal hash cost, so the
//! service itself costs as little as possible:
//! - per exchange: the traced contract client (`Client::introspect`, which
//!   records and parses every exchange) versus a bare reqwest loop sending
//!   the same request, interleaved in blocks to share the machine's noise;
//! - the cost of turning one exchange into its redacted `.raw` text;
//! - cross-instance iterations per second at concurrency 1, 4 and 16.

use serde::Serialize;
use std::time::{Duration, Instant};
use webprofile_parity::clock::Clock;
use webprofile_parity::contract::Credentials;
use webprofile_parity::contract::{Client, ClientOptions, Trace, TraceContext, INTROSPECT_PATH};
use webprofile_parity::hashing::{self, HashCost};
use webprofile_parity::redact::Redactor;
use webprofile_parity::scenario::{cross, Judgement};
use webprofile_parity::stack::{LocalOptions, LocalStack};

const BLOCKS: usize = 20;
const PER_BLOCK: usize = 500;
const ITERATIONS_PER_LEVEL: u32 = 300;

#[derive(Serialize)]
struct Figures {
    exchanges_measured: usize,
    bare_reqwest_us_per_request: f64,
    traced_client_us_per_exchange: f64,
    overhead_us_per_exchange: f64,
    render_and_redact_us_per_exchange: f64,
    iterations: Vec<IterationRate>,
}

#[derive(Serialize)]
struct IterationRate {
    concurrency: usize,
    iterations: u32,
    seconds: f64,
    iterations_per_second: f64,
    mean_iteration_ms: f64,
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let figures = runtime.block_on(measure());
    let json = serde_json::to_string_pretty(&figures).expect("figures serialize");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("harness-overhead.json");
    std::fs::write(&path, &json).expect("write figures");
    println!("{json}\nwritten to {}", path.display());
}

async fn measure() -> Figures {
    let credentials = Credentials::default();
    let stack = LocalStack::start(LocalOptions {
        credentials: credentials.clone(),
        hash_cost: HashCost::Minimal,
        ..LocalOptions::default()
    })
    .await
    .expect("embedded stack");
    let url = stack.endpoints.instances[0].url.clone();
    let options = ClientOptions {
        credentials: credentials.clone(),
        request_timeout: Duration::from_secs(5),
        pacer: Default::default(),
    };
    let ctx = TraceContext::new(Clock::start());
    let traced = Client::new("instance1", &url, options.clone(), ctx.clone());
    let bare = reqwest::Client::builder().tcp_nodelay(true).build().expect("reqwest");
    // An unknown, well-formed token: the service answers from its index, no hashing.
    let token = hashing::new_plaintext_token();
    let body = serde_json::json!({ "token": token }).to_string();
    let endpoint = format!("{url}{INTROSPECT_PATH}");

    let bare_once = || async {
        let response = bare
            .post(&endpoint)
            .basic_auth(&credentials.user, Some(&credentials.pass))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("bare request");
        let bytes = response.bytes().await.expect("bare body");
        assert!(bytes.starts_with(b"{\"active\":false"));
    };
    // Warm both connection pools.
    for _ in 0..200 {
        bare_once().await;
        traced.introspect(&mut Trace::new(), &token).await.expect("introspect");
    }

    let (mut bare_total, mut traced_total) = (Duration::ZERO, Duration::ZERO);
    let mut last_trace = Trace::new();
    for _ in 0..BLOCKS {
        let started = Instant::now();
        for _ in 0..PER_BLOCK {
            bare_once().await;
        }
        bare_total += started.elapsed();

        let mut trace = Trace::new();
        let started = Instant::now();
        for _ in 0..PER_BLOCK {
            let answer = traced.introspect(&mut trace, &token).await.expect("introspect");
            assert!(!answer.active);
        }
        traced_total += started.elapsed();
        last_trace = trace;
    }
    let n = (BLOCKS * PER_BLOCK) as f64;
    let bare_us = bare_total.as_secs_f64() * 1e6 / n;
    let traced_us = traced_total.as_secs_f64() * 1e6 / n;

    webprofile_parity::redact::register(&credentials.pass);
    let redactor = Redactor::enabled();
    let started = Instant::now();
    let mut bytes = 0;
    for ex in last_trace.exchanges() {
        bytes += redactor.redact(&ex.render_raw()).len();
    }
    let render_us = started.elapsed().as_secs_f64() * 1e6 / last_trace.len() as f64;
    assert!(bytes > 0);

    let second = Client::new("instance2", &stack.endpoints.instances[1].url, options, ctx);
    let clients = [traced.clone(), second];
    let judgement = Judgement::default();
    let clock = Clock::start();
    let mut iterations = Vec::new();
    for concurrency in [1usize, 4, 16] {
        let started = Instant::now();
        let mut done = Vec::new();
        cross::run_iterations(
            &clients,
            &judgement,
            &clock,
            &cross::Schedule::new(ITERATIONS_PER_LEVEL, None, concurrency, None),
            |_| async {},
            |it| done.push(it.result),
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        assert!(done.iter().all(|r| r.success), "an iteration failed");
        let mean_ms = done.iter().map(|r| r.duration_ms).sum::<f64>() / done.len() as f64;
        iterations.push(IterationRate {
            concurrency,
            iterations: ITERATIONS_PER_LEVEL,
            seconds: round3(seconds),
            iterations_per_second: round3(f64::from(ITERATIONS_PER_LEVEL) / seconds),
            mean_iteration_ms: round3(mean_ms),
        });
    }
    stack.shutdown().await;
    Figures {
        exchanges_measured: BLOCKS * PER_BLOCK,
        bare_reqwest_us_per_request: round3(bare_us),
        traced_client_us_per_exchange: round3(traced_us),
        overhead_us_per_exchange: round3(traced_us - bare_us),
        render_and_redact_us_per_exchange: round3(render_us),
        iterations,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
