//! The router, the per-instance state, and the middleware every request
//! passes: the access log, then faults and authentication.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::errors::ApiError;
use super::handlers;
use super::{AccessLog, ReferenceConfig};
use crate::hashing::{self, HashCost};
use crate::reference::cache::{LagCache, StaleMemory};
use crate::reference::faults::{Faults, Misbehaviour};
use crate::store::TokenStore;

const BODY_LIMIT: usize = 64 * 1024;
const MAX_LOGGED_PATH: usize = 200;

/// Standard base64 with or without padding, as HTTP clients send Basic credentials.
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Per-instance state handed to every handler and middleware.
pub struct Shared {
    pub name: String,
    pub store: Arc<dyn TokenStore>,
    /// SHA-256 of "user:pass", so comparison time does not depend on how
    /// many leading bytes of a guess are right.
    expected_credentials: [u8; 32],
    /// SHA-256 of "user:", for the any-password fault.
    expected_user: [u8; 32],
    pub hash_cost: HashCost,
    pub faults: Faults,
    rng: Mutex<SmallRng>,
    pub lag: LagCache,
    pub stale: Option<StaleMemory>,
    log: AccessLog,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(store: Arc<dyn TokenStore>, config: ReferenceConfig, log: AccessLog) -> AppState {
        let credentials = format!("{}:{}", config.credentials.user, config.credentials.pass);
        let rng = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Arc::new(Shared {
            name: config.name,
            store,
            expected_credentials: Sha256::digest(credentials.as_bytes()).into(),
            expected_user: Sha256::digest(format!("{}:", config.credentials.user).as_bytes()).into(),
            hash_cost: config.hash_cost,
            lag: LagCache::new(config.faults.revocation_lag),
            stale: StaleMemory::new(&config.faults, config.seed),
            faults: config.faults,
            rng: Mutex::new(rng),
            log,
        })
    }

    /// One draw per /internal/api request, whatever the rate, so a seeded
    /// run is reproducible request by request.
    fn draw_error(&self) -> bool {
        let draw: f64 = self.rng.lock().unwrap_or_else(|p| p.into_inner()).random();
        draw < self.faults.error_rate
    }

    /// The decoded `user:pass` of a Basic Authorization header.
    fn basic_credentials(headers: &HeaderMap) -> Option<Vec<u8>> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        BASIC_BASE64.decode(encoded.trim()).ok()
    }

    /// Whether the request may pass, and the fault that let it pass when
    /// the contract would not have.
    fn admits(&self, headers: &HeaderMap) -> Result<Option<&'static str>, ()> {
        match Self::basic_credentials(headers) {
            Some(decoded) if <[u8; 32]>::from(Sha256::digest(&decoded)) == self.expected_credentials => {
                return Ok(None)
            }
            Some(decoded) if self.faults.has(Misbehaviour::AnyPassword) => {
                let user_part = decoded.iter().position(|&b| b == b':').map(|i| &decoded[..=i]);
                if user_part.is_some_and(|u| <[u8; 32]>::from(Sha256::digest(u)) == self.expected_user) {
                    return Ok(Some("any-password"));
                }
            }
            _ => {}
        }
        if self.faults.has(Misbehaviour::OpenAccess) && !headers.contains_key(header::AUTHORIZATION) {
            return Ok(Some("open-access"));
        }
        let origin = headers.get("x-service-origin").is_some_and(|v| !v.is_empty());
        if origin && self.faults.has(Misbehaviour::AuthBypass) {
            return Ok(Some("auth-bypass"));
        }
        Err(())
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/internal/api/users/{user_id}/git-tokens",
            post(handlers::create_token).get(handlers::list_tokens),
        )
        .route("/internal/api/users/{user_id}/git-tokens/{token_id}", delete(handlers::revoke_token))
        .route("/internal/api/tokens/introspect", post(handlers::introspect))
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

fn is_api_path(path: &str) -> bool {
    path == "/internal/api" || path.starts_with("/internal/api/")
}

/// Faults, then authentication, for /internal/api paths only (never for
/// `GET /`, which readiness probes use).
async fn guard_api(State(s): State<AppState>, request: Request, next: Next) -> Response {
    if !is_api_path(request.uri().path()) {
        return next.run(request).await;
    }
    let mut applied = Vec::new();
    if let Some(latency) = s.faults.latency {
        tokio::time::sleep(latency).await;
        applied.push("latency");
    }
    if s.draw_error() {
        applied.push("error-rate");
        return mark_faults(ApiError::Unavailable.into_response(), applied);
    }
    match s.admits(request.headers()) {
        Ok(fault) => applied.extend(fault),
        Err(()) => return mark_faults(ApiError::Unauthorized.into_response(), applied),
    }
    mark_faults(next.run(request).await, applied)
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

#[cfg(test)]
pub fn decode_basic(encoded: &str) -> Option<Vec<u8>> {
    BASIC_BASE64.decode(encoded).ok()
}
