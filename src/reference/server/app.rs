//! The router, the per-instance state, and the access log every request
//! passes before faults and authentication (`auth`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, post};
use axum::Router;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::auth::{guard_api, Admin};
use super::handlers;
use super::{AccessLog, ReferenceConfig};
use crate::hashing::{self, HashCost};
use crate::reference::cache::{LagCache, StaleMemory};
use crate::reference::faults::Faults;
use crate::reference::flavor::Flavor;
use crate::reference::rate_limit::RateWindow;
use crate::store::TokenStore;

const BODY_LIMIT: usize = 64 * 1024;
const MAX_LOGGED_PATH: usize = 200;

/// Per-instance state handed to every handler and middleware.
pub struct Shared {
    pub name: String,
    pub store: Arc<dyn TokenStore>,
    pub auth: Admin,
    pub hash_cost: HashCost,
    pub faults: Faults,
    pub flavor: Flavor,
    rng: Mutex<SmallRng>,
    pub lag: LagCache,
    pub stale: Option<StaleMemory>,
    /// The `rate-limit` fault's bucket (shared across a stack's instances).
    pub rate: Option<Arc<RateWindow>>,
    log: AccessLog,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(store: Arc<dyn TokenStore>, config: ReferenceConfig, log: AccessLog) -> AppState {
        let rng = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Arc::new(Shared {
            name: config.name,
            store,
            auth: Admin::new(&config.credentials),
            hash_cost: config.hash_cost,
            lag: LagCache::new(config.faults.revocation_lag),
            stale: StaleMemory::new(&config.faults, config.seed),
            rate: config
                .rate_window
                .or_else(|| config.faults.rate_limit.map(|r| Arc::new(RateWindow::new(r)))),
            faults: config.faults,
            flavor: config.flavor,
            rng: Mutex::new(rng),
            log,
        })
    }

    /// A handler's result in this instance's dialect.
    pub fn answer(&self, result: Result<Response, super::errors::ApiError>) -> Response {
        result.unwrap_or_else(|e| e.respond(self.flavor))
    }

    /// One draw per /internal/api request, whatever the rate, so a seeded
    /// run is reproducible request by request.
    pub fn draw_error(&self) -> bool {
        let draw: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).random();
        draw < self.faults.error_rate
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/internal/api/users/{user_id}/git-tokens",
            post(handlers::create_token).get(handlers::list_tokens).fallback(handlers::wrong_method),
        )
        .route(
            "/internal/api/users/{user_id}/git-tokens/{token_id}",
            delete(handlers::revoke_token).fallback(handlers::wrong_method),
        )
        .route("/internal/api/tokens/introspect", post(handlers::introspect).fallback(handlers::wrong_method))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), guard_api))
        .layer(middleware::from_fn_with_state(state.clone(), log_access))
        .with_state(state)
}

/// Names of the faults that shaped a response, for the access log.
#[derive(Clone, Default)]
struct AppliedFaults(Vec<&'static str>);

pub fn mark_faults(mut response: Response, mut faults: Vec<&'static str>) -> Response {
    if faults.is_empty() {
        return response;
    }
    if let Some(AppliedFaults(later)) = response.extensions_mut().remove::<AppliedFaults>() {
        faults.extend(later);
    }
    response.extensions_mut().insert(AppliedFaults(faults));
    response
}

async fn log_access(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = crate::clock::rfc3339(&chrono::Utc::now());
    let method = request.method().clone();
    let path = loggable_path(request.uri().path());
    let response = next.run(request).await;
    let faults = match response.extensions().get::<AppliedFaults>() {
        Some(AppliedFaults(f)) if !f.is_empty() => format!(" fault={}", f.join(",")),
        _ => String::new(),
    };
    s.log.push(format!(
        "{at} {} {method} {path} {} {:.1}ms{faults}",
        s.name,
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1000.0,
    ));
    response
}

/// The path, capped in length, with any long hex segment (a token sent where
/// it does not belong) replaced, so that the log never holds a token.
fn loggable_path(path: &str) -> String {
    let redacted: Vec<&str> = path
        .split('/')
        .map(|seg| if seg.len() >= 32 && hashing::is_token_hex(seg) { "<redacted>" } else { seg })
        .collect();
    let joined = redacted.join("/");
    if joined.len() <= MAX_LOGGED_PATH {
        joined
    } else {
        let cut: String = joined.chars().take(MAX_LOGGED_PATH).collect();
        format!("{cut}...")
    }
}
