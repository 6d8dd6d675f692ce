//! The reference webprofile server: the token endpoints of the Go service,
//! with optional injected faults.

mod app;
mod auth;
mod errors;
mod handlers;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::faults::Faults;
use super::flavor::Flavor;
use crate::contract::Credentials;
use crate::hashing::HashCost;
use crate::store::TokenStore;
use app::{router, Shared};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const MAX_LOG_LINES: usize = 100_000;

#[derive(Clone, Debug)]
pub struct ReferenceConfig {
    /// Instance name used in log lines, e.g. "webprofile" or "webprofile-node2".
    pub name: String,
    pub credentials: Credentials,
    pub hash_cost: HashCost,
    pub faults: Faults,
    /// Which service's dialect the answers follow.
    pub flavor: Flavor,
    /// Seeds the error-rate RNG, for reproducible runs.
    pub seed: Option<u64>,
    /// The `rate-limit` bucket, when instances share one; else each has its own.
    pub rate_window: Option<std::sync::Arc<crate::reference::rate_limit::RateWindow>>,
}

impl Default for ReferenceConfig {
    fn default() -> Self {
        Self {
            name: "webprofile".to_string(),
            credentials: Credentials::default(),
            hash_cost: HashCost::default(),
            faults: Faults::default(),
            flavor: Flavor::Go,
            seed: None,
            rate_window: None,
        }
    }
}

/// Shared, append-only access log of an instance: one line per request
/// (time, method, path, status, latency, fault applied). Never holds a token
/// or credentials. Clones share the lines.
#[derive(Clone, Default)]
pub struct AccessLog {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Lines dropped from the front to keep the bound.
    dropped: Arc<std::sync::atomic::AtomicU64>,
    echo_stdout: bool,
}

impl AccessLog {
    pub fn lines(&self) -> Vec<String> {
        self.locked().iter().cloned().collect()
    }

    /// The last `n` lines, and how many came before them (kept or not).
    pub fn tail(&self, n: usize) -> (Vec<String>, u64) {
        let lines = self.locked();
        let skip = lines.len().saturating_sub(n);
        let earlier = self.dropped.load(std::sync::atomic::Ordering::Relaxed) + skip as u64;
        (lines.iter().skip(skip).cloned().collect(), earlier)
    }

    /// Appends one line (and echoes it, for `reference serve`).
    pub fn push(&self, line: String) {
        if self.echo_stdout {
            // A closed stdout must not take the server down.
            crate::progress::print_stdout(&format!("{line}\n"));
        }
        let mut lines = self.locked();
        // Bounded so that a long-running `serve` cannot grow without limit.
        if lines.len() >= MAX_LOG_LINES {
            lines.pop_front();
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        lines.push_back(line);
    }

    fn locked(&self) -> MutexGuard<'_, VecDeque<String>> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub struct RunningInstance {
    pub addr: SocketAddr,
    pub log: AccessLog,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningInstance {
    /// "http://127.0.0.1:PORT" (a wildcard bind address is reached via loopback).
    pub fn base_url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// Stops accepting, lets in-flight requests finish for a few seconds,
    /// then aborts. Dropping the instance also starts a graceful shutdown.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Binds nothing itself: serves on the given listener in a spawned task and
/// returns at once. Must be called within a Tokio runtime.
pub fn spawn(
    listener: tokio::net::TcpListener,
    store: Arc<dyn TokenStore>,
    config: ReferenceConfig,
) -> RunningInstance {
    let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
    let log = AccessLog::default();
    let name = config.name.clone();
    announce(&config, store.as_ref(), addr);
    let app = router(Shared::new(store, config, log.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!("{name}: server stopped with an error: {e}");
        }
    });
    RunningInstance { addr, log, stop, task }
}

/// For `parity reference serve`: serves until Ctrl-C / SIGTERM, printing each
/// access-log line to stdout as it happens.
pub async fn serve_forever(
    listener: tokio::net::TcpListener,
    store: Arc<dyn TokenStore>,
    config: ReferenceConfig,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    announce(&config, store.as_ref(), addr);
    let log = AccessLog { echo_stdout: true, ..AccessLog::default() };
    let app = router(Shared::new(store, config, log));
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            crate::signals::termination().await;
        })
        .await
}

fn announce(config: &ReferenceConfig, store: &dyn TokenStore, addr: SocketAddr) {
    tracing::info!(
        "{} listening on {addr} ({} dialect, store: {}, hash cost: {}, faults: {})",
        config.name,
        config.flavor,
        store.describe(),
        config.hash_cost,
        config.faults.describe()
    );
}
