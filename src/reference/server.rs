//! The reference webprofile server: the token endpoints of the Go service,
//! with optional injected faults.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::bson::oid::ObjectId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::faults::Faults;
use super::hashing::{self, HashCost};
use super::store::{StoreError, TokenDoc, TokenStore};

const BODY_LIMIT: usize = 64 * 1024;
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const MAX_LOG_LINES: usize = 100_000;
const MAX_LOGGED_PATH: usize = 200;
const CACHE_PRUNE_THRESHOLD: usize = 4_096;

#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub pass: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Self { user: "overleaf".to_string(), pass: "overleaf".to_string() }
    }
}

#[derive(Clone, Debug)]
pub struct ReferenceConfig {
    /// Instance name used in log lines, e.g. "webprofile" or "webprofile-node2".
    pub name: String,
    pub credentials: Credentials,
    pub hash_cost: HashCost,
    pub faults: Faults,
    /// Seeds the error-rate RNG, for reproducible runs.
    pub seed: Option<u64>,
}

impl Default for ReferenceConfig {
    fn default() -> Self {
        Self {
            name: "webprofile".to_string(),
            credentials: Credentials::default(),
            hash_cost: HashCost::default(),
            faults: Faults::default(),
            seed: None,
        }
    }
}

/// Shared, append-only access log of an instance: one line per request
/// (time, method, path, status, latency, fault applied). Never holds a token
/// or credentials. Clones share the lines.
#[derive(Clone, Default)]
pub struct AccessLog {
    lines: Arc<Mutex<VecDeque<String>>>,
    echo_stdout: bool,
}

impl AccessLog {
    pub fn lines(&self) -> Vec<String> {
        self.locked().iter().cloned().collect()
    }

    fn push(&self, line: String) {
        if self.echo_stdout {
            // A closed stdout must not take the server down.
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        let mut lines = self.locked();
        // Bounded so that a long-running `serve` cannot grow without limit.
        if lines.len() >= MAX_LOG_LINES {
            lines.pop_front();
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
        "{} listening on {addr} (store: {}, hash cost: {}, faults: {})",
        config.name,
        store.describe(),
        config.hash_cost,
        config.faults.describe()
    );
}

/// Per-instance state handed to every handler and middleware.
struct Shared {
    name: String,
    store: Arc<dyn TokenStore>,
    /// SHA-256 of "user:pass", so comparison time does not depend on how
    /// many leading bytes of a guess are right.
    expected_credentials: [u8; 32],
    hash_cost: HashCost,
    faults: Faults,
    rng: Mutex<SmallRng>,
    cache: IntrospectCache,
    log: AccessLog,
}

type AppState = Arc<Shared>;

impl Shared {
    fn new(store: Arc<dyn TokenStore>, config: ReferenceConfig, log: AccessLog) -> AppState {
        let credentials = format!("{}:{}", config.credentials.user, config.credentials.pass);
        let rng = match config.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        Arc::new(Shared {
            name: config.name,
            store,
            expected_credentials: Sha256::digest(credentials.as_bytes()).into(),
            hash_cost: config.hash_cost,
            cache: IntrospectCache::new(config.faults.revocation_lag),
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

    fn has_valid_credentials(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        match decode_base64(encoded.trim()) {
            Some(decoded) => <[u8; 32]>::from(Sha256::digest(&decoded)) == self.expected_credentials,
            None => false,
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/internal/api/users/{user_id}/git-tokens", post(create_token).get(list_tokens))
        .route("/internal/api/users/{user_id}/git-tokens/{token_id}", delete(revoke_token))
        .route("/internal/api/tokens/introspect", post(introspect))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), guard_api))
        .layer(middleware::from_fn_with_state(state.clone(), log_access))
        .with_state(state)
}

// ---------------------------------------------------------------- middleware

/// Names of the faults that shaped a response, for the access log.
#[derive(Clone, Default)]
struct AppliedFaults(Vec<&'static str>);

fn mark_faults(mut response: Response, mut faults: Vec<&'static str>) -> Response {
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
    if !s.has_valid_credentials(request.headers()) {
        let bypass =
            s.faults.auth_bypass && request.headers().get("x-service-origin").is_some_and(|v| !v.is_empty());
        if !bypass {
            return mark_faults(ApiError::Unauthorized.into_response(), applied);
        }
        applied.push("auth-bypass");
    }
    mark_faults(next.run(request).await, applied)
}

async fn log_access(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
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

// ------------------------------------------------------------------ handlers

#[derive(Deserialize, Default)]
struct CreateBody {
    label: Option<String>,
    scopes: Option<Vec<String>>,
    #[serde(rename = "expiresAt")]
    expires_at: Option<String>,
}

#[derive(Serialize)]
struct Created {
    id: String,
    token: String,
    #[serde(rename = "accessTokenPartial")]
    access_token_partial: String,
}

async fn create_token(
    State(s): State<AppState>,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = serde_json::from_slice::<Option<CreateBody>>(&body)
        .map_err(|_| ApiError::BadRequest("invalid body"))?
        .unwrap_or_default();
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map(|d| millis(d.with_timezone(&Utc)))
                .map_err(|_| ApiError::BadRequest("invalid body"))?,
        ),
    };
    let token = hashing::new_plaintext_token();
    let cost = s.hash_cost;
    let plaintext = token.clone();
    let hash = tokio::task::spawn_blocking(move || hashing::hash_argon2id(&plaintext, cost))
        .await
        .map_err(|_| ApiError::Internal("hashing failed"))?;
    let doc = TokenDoc {
        id: ObjectId::new(),
        user_id,
        label: body.label.unwrap_or_default(),
        hash,
        hash_prefix: hashing::hash_prefix(&token),
        algorithm: "argon2id".to_string(),
        scopes: body.scopes,
        active: true,
        created_at: millis(Utc::now()),
        expires_at,
    };
    let id = doc.id;
    s.store.insert(doc).await?;
    Ok(json_text(&Created {
        id: format!("ObjectID(\"{}\")", id.to_hex()),
        access_token_partial: token[..8].to_string(),
        token,
    }))
}

/// MongoDB keeps milliseconds; truncating here keeps both stores identical.
fn millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: &'a str,
    label: &'a str,
    hash: Option<&'a str>,
    hash_prefix: &'a str,
    algorithm: &'a str,
    scopes: &'a Option<Vec<String>>,
    active: bool,
    created_at: String,
    expires_at: Option<String>,
}

async fn list_tokens(State(s): State<AppState>, Path(user_id): Path<String>) -> Result<Response, ApiError> {
    let docs = s.store.list(&user_id).await?;
    let listed: Vec<Listed<'_>> = docs
        .iter()
        .map(|d| Listed {
            id: d.id.to_hex(),
            user_id: &d.user_id,
            label: &d.label,
            hash: None,
            hash_prefix: &d.hash_prefix,
            algorithm: &d.algorithm,
            scopes: &d.scopes,
            active: d.active,
            created_at: rfc3339(d.created_at),
            expires_at: d.expires_at.map(rfc3339),
        })
        .collect();
    Ok(json_text(&listed))
}

async fn revoke_token(
    State(s): State<AppState>,
    Path((user_id, token_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = ObjectId::parse_str(&token_id).map_err(|_| ApiError::BadRequest("invalid token id"))?;
    if !s.store.revoke(&user_id, id).await? {
        return Err(ApiError::NotFound);
    }
    s.cache.evict_token(id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What introspection knows about an active token.
#[derive(Clone, Debug)]
struct ActiveToken {
    id: ObjectId,
    user_id: String,
    scopes: Option<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Introspection<'a> {
    Active {
        active: bool,
        #[serde(rename = "userId")]
        user_id: &'a str,
        scopes: &'a Option<Vec<String>>,
        #[serde(rename = "expiresAt")]
        expires_at: Option<String>,
    },
    Inactive {
        active: bool,
    },
}

fn introspection_response(answer: Option<&ActiveToken>) -> Response {
    let body = match answer {
        // Expiry is re-checked here too, since a cached answer can outlive it.
        Some(t) if t.expires_at.is_none_or(|at| at > Utc::now()) => Introspection::Active {
            active: true,
            user_id: &t.user_id,
            scopes: &t.scopes,
            expires_at: t.expires_at.map(rfc3339),
        },
        _ => Introspection::Inactive { active: false },
    };
    json_text(&body)
}

fn requested_token(body: &[u8]) -> Result<String, ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::BadRequest("token required"))?;
    let token = match value.get("token").and_then(|t| t.as_str()) {
        Some(t) if !t.is_empty() => t,
        _ => return Err(ApiError::BadRequest("token required")),
    };
    if !hashing::is_token_hex(token) {
        return Err(ApiError::InvalidTokenFormat);
    }
    Ok(token.to_string())
}

async fn introspect(State(s): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let token = requested_token(&body)?;
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some(cached) = s.cache.get(&key) {
        return Ok(mark_faults(introspection_response(cached.as_ref()), vec!["revocation-lag"]));
    }
    let epoch = s.cache.epoch();
    let answer = look_up(s.store.as_ref(), token).await?;
    s.cache.put(key, answer.clone(), epoch);
    Ok(introspection_response(answer.as_ref()))
}

async fn look_up(store: &dyn TokenStore, token: String) -> Result<Option<ActiveToken>, ApiError> {
    let candidates = store.active_candidates(&hashing::hash_prefix(&token)).await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let found = tokio::task::spawn_blocking(move || {
        candidates.into_iter().find(|c| c.active && hashing::verify(&token, &c.hash))
    })
    .await
    .map_err(|_| ApiError::Internal("hash verification failed"))?;
    Ok(found.map(|d| ActiveToken {
        id: d.id,
        user_id: d.user_id,
        scopes: d.scopes,
        expires_at: d.expires_at,
    }))
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "404 page not found")
}

// ------------------------------------------------------- revocation-lag cache

/// Introspection answers cached per instance when the revocation-lag fault
/// is on (disabled otherwise). A revoke on this instance evicts its entries
/// and bumps `epoch`, so a lookup that raced the revoke cannot cache a stale
/// "active": only revokes through other instances are seen late.
struct IntrospectCache {
    lag: Option<Duration>,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    epoch: u64,
    entries: HashMap<[u8; 32], (Instant, Option<ActiveToken>)>,
}

impl IntrospectCache {
    fn new(lag: Option<Duration>) -> Self {
        Self { lag, inner: Mutex::new(CacheInner::default()) }
    }

    fn locked(&self) -> MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Some(answer)` when a fresh answer is cached.
    fn get(&self, key: &[u8; 32]) -> Option<Option<ActiveToken>> {
        let lag = self.lag?;
        let inner = self.locked();
        let (stored, answer) = inner.entries.get(key)?;
        (stored.elapsed() < lag).then(|| answer.clone())
    }

    fn epoch(&self) -> u64 {
        self.locked().epoch
    }

    fn put(&self, key: [u8; 32], answer: Option<ActiveToken>, epoch: u64) {
        let Some(lag) = self.lag else { return };
        let mut inner = self.locked();
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() >= CACHE_PRUNE_THRESHOLD {
            inner.entries.retain(|_, (stored, _)| stored.elapsed() < lag);
        }
        inner.entries.insert(key, (Instant::now(), answer));
    }

    fn evict_token(&self, id: ObjectId) {
        if self.lag.is_none() {
            return;
        }
        let mut inner = self.locked();
        inner.epoch += 1;
        inner.entries.retain(|_, (_, answer)| answer.as_ref().is_none_or(|t| t.id != id));
    }
}

// -------------------------------------------------------------- responses

enum ApiError {
    BadRequest(&'static str),
    InvalidTokenFormat,
    NotFound,
    Unauthorized,
    Unavailable,
    Store(StoreError),
    Internal(&'static str),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(message) => text(StatusCode::BAD_REQUEST, message),
            ApiError::InvalidTokenFormat => {
                let mut response = json_text(&serde_json::json!({"message": "invalid token format"}));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response
            }
            ApiError::NotFound => text(StatusCode::NOT_FOUND, "not found"),
            ApiError::Unauthorized => {
                let mut response = text(StatusCode::FOUND, "redirect");
                response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/auth/login"));
                response
            }
            ApiError::Unavailable => {
                text(StatusCode::SERVICE_UNAVAILABLE, "service unavailable (fault injected)")
            }
            ApiError::Store(e) => {
                tracing::error!("token store: {e}");
                text(StatusCode::INTERNAL_SERVER_ERROR, &format!("store error: {e}"))
            }
            ApiError::Internal(message) => text(StatusCode::INTERNAL_SERVER_ERROR, message),
        }
    }
}

/// Plain text ending in a newline, as Go's http.Error writes it.
fn text(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT_PLAIN)], format!("{message}\n")).into_response()
}

/// JSON sent the way the Go service sends it: text/plain, trailing newline.
fn json_text<T: Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(mut body) => {
            body.push('\n');
            (StatusCode::OK, [(header::CONTENT_TYPE, TEXT_PLAIN)], body).into_response()
        }
        Err(_) => ApiError::Internal("could not encode response").into_response(),
    }
}

/// Standard base64 (RFC 4648), padding optional; None on any invalid input.
fn decode_base64(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let trimmed = input.trim_end_matches('=');
    if input.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    for chunk in trimmed.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::memory_store::MemoryStore;
    use serde_json::{json, Value};

    struct Api {
        instance: RunningInstance,
        http: reqwest::Client,
    }

    impl Api {
        async fn start(store: &MemoryStore, faults: Faults) -> Api {
            Self::start_with(
                store,
                ReferenceConfig { hash_cost: HashCost::Minimal, faults, ..ReferenceConfig::default() },
            )
            .await
        }

        async fn start_with(store: &MemoryStore, config: ReferenceConfig) -> Api {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let store: Arc<dyn TokenStore> = Arc::new(store.clone());
            Api {
                instance: spawn(listener, store, config),
                http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            }
        }

        fn url(&self, path: &str) -> String {
            format!("{}{path}", self.instance.base_url())
        }

        fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
            self.http.request(method, self.url(path)).basic_auth("overleaf", Some("overleaf"))
        }

        async fn send(&self, rb: reqwest::RequestBuilder) -> (u16, String) {
            let response = rb.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }

        async fn create(&self, user: &str, body: Value) -> (String, String) {
            let path = format!("/internal/api/users/{user}/git-tokens");
            let (status, text) = self.send(self.request(reqwest::Method::POST, &path).json(&body)).await;
            assert_eq!(status, 200, "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            let wrapped = v["id"].as_str().unwrap();
            let id = wrapped
                .strip_prefix("ObjectID(\"")
                .and_then(|r| r.strip_suffix("\")"))
                .unwrap_or_else(|| panic!("id not wrapped: {wrapped}"));
            (id.to_string(), v["token"].as_str().unwrap().to_string())
        }

        async fn introspect(&self, token: &str) -> Value {
            let (status, text) = self
                .send(
                    self.request(reqwest::Method::POST, "/internal/api/tokens/introspect")
                        .json(&json!({ "token": token })),
                )
                .await;
            assert_eq!(status, 200, "{text}");
            serde_json::from_str(&text).unwrap()
        }

        async fn revoke(&self, user: &str, id: &str) -> (u16, String) {
            let path = format!("/internal/api/users/{user}/git-tokens/{id}");
            self.send(self.request(reqwest::Method::DELETE, &path)).await
        }
    }

    fn seeded(user: &str, token: &str, hash: String, algorithm: &str) -> TokenDoc {
        TokenDoc {
            id: ObjectId::new(),
            user_id: user.to_string(),
            label: "seeded".to_string(),
            hash,
            hash_prefix: hashing::hash_prefix(token),
            algorithm: algorithm.to_string(),
            scopes: Some(vec!["git".to_string()]),
            active: true,
            created_at: millis(Utc::now()),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn missing_or_wrong_credentials_redirect_to_login() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let path = "/internal/api/users/u1/git-tokens";
        for rb in [
            api.http.post(api.url(path)).body("{}"),
            api.http.get(api.url(path)).basic_auth("overleaf", Some("wrong")),
            api.http.get(api.url(path)).header("Authorization", "Basic !!!"),
            api.http.get(api.url(path)).header("Authorization", "Bearer abc"),
            api.http.post(api.url("/internal/api/tokens/introspect")),
        ] {
            let response = rb.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 302);
            assert_eq!(response.headers()["location"], "/auth/login");
            assert_eq!(response.text().await.unwrap().trim(), "redirect");
        }
    }

    #[tokio::test]
    async fn create_answers_wrapped_id_token_and_partial_as_text_plain() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let response = api
            .request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers()["content-type"], TEXT_PLAIN);
        let text = response.text().await.unwrap();
        assert!(text.ends_with("}\n"), "{text:?}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let id = v["id"].as_str().unwrap();
        assert!(id.starts_with("ObjectID(\"") && id.ends_with("\")") && id.len() == 36, "{id}");
        let token = v["token"].as_str().unwrap();
        assert_eq!(token.len(), 64);
        assert!(hashing::is_token_hex(token));
        assert_eq!(v["accessTokenPartial"], token[..8]);
    }

    #[tokio::test]
    async fn introspect_revoke_and_idempotent_revoke() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let (id, token) = api.create("u1", json!({"label": "ci", "scopes": ["git"]})).await;
        assert_eq!(
            api.introspect(&token).await,
            json!({"active": true, "userId": "u1", "scopes": ["git"], "expiresAt": null})
        );
        assert_eq!(api.revoke("u2", &id).await, (404, "not found\n".to_string()));
        assert_eq!(api.introspect(&token).await["active"], true);
        assert_eq!(api.revoke("u1", &id).await, (204, String::new()));
        assert_eq!(api.introspect(&token).await, json!({"active": false}));
        assert_eq!(api.revoke("u1", &id).await, (204, String::new()));
        let wrapped = format!("ObjectID(\"{id}\")");
        assert_eq!(api.revoke("u1", &wrapped).await.0, 400);
        assert_eq!(api.revoke("u1", "nothex").await.1.trim(), "invalid token id");
        let unknown = ObjectId::new().to_hex();
        assert_eq!(api.revoke("u1", &unknown).await.0, 404);
    }

    #[tokio::test]
    async fn bad_requests_get_the_documented_400s() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let create = |body: &'static str| {
            api.request(reqwest::Method::POST, "/internal/api/users/u1/git-tokens").body(body)
        };
        for body in ["", "nope", "[]", "{\"label\": 5}", "{\"expiresAt\": \"tomorrow\"}"] {
            let (status, text) = api.send(create(body)).await;
            assert_eq!((status, text.trim()), (400, "invalid body"), "{body:?}");
        }
        assert_eq!(api.send(create("null")).await.0, 200);

        let introspect = |body: &'static str| {
            api.request(reqwest::Method::POST, "/internal/api/tokens/introspect").body(body)
        };
        for body in ["", "x", "{}", "[]", "{\"token\": 123}", "{\"token\": \"\"}", "{\"token\": null}"] {
            let (status, text) = api.send(introspect(body)).await;
            assert_eq!((status, text.trim()), (400, "token required"), "{body:?}");
        }
        let (status, text) = api.send(introspect("{\"token\": \"not-hex!\"}")).await;
        assert_eq!(status, 400);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v, json!({"message": "invalid token format"}));
        let unknown = hashing::new_plaintext_token();
        assert_eq!(api.introspect(&unknown).await, json!({"active": false}));

        let huge = format!("{{\"token\": \"{}\"}}", "a".repeat(200_000));
        let (status, _) =
            api.send(api.request(reqwest::Method::POST, "/internal/api/tokens/introspect").body(huge)).await;
        assert_eq!(status, 413);
    }

    #[tokio::test]
    async fn list_shows_the_users_documents_without_hashes() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let (id, token) = api
            .create("u1", json!({"label": "laptop", "scopes": ["read"], "expiresAt": "2099-01-02T03:04:05Z"}))
            .await;
        api.create("u1", json!({})).await;
        api.create("u2", json!({})).await;
        let (status, text) =
            api.send(api.request(reqwest::Method::GET, "/internal/api/users/u1/git-tokens")).await;
        assert_eq!(status, 200);
        assert!(!text.contains("$argon2id$") && !text.contains(&token));
        let list: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(list.len(), 2);
        let first = &list[0];
        assert_eq!(first["_id"], id.as_str());
        assert_eq!(first["userId"], "u1");
        assert_eq!(first["label"], "laptop");
        assert_eq!(first["hash"], Value::Null);
        assert_eq!(first["hashPrefix"], hashing::hash_prefix(&token));
        assert_eq!(first["algorithm"], "argon2id");
        assert_eq!(first["scopes"], json!(["read"]));
        assert_eq!(first["active"], true);
        assert_eq!(first["expiresAt"], "2099-01-02T03:04:05.000Z");
        assert!(DateTime::parse_from_rfc3339(first["createdAt"].as_str().unwrap()).is_ok());
        assert_eq!(list[1]["label"], "");
        assert_eq!(list[1]["scopes"], Value::Null);
        assert_eq!(list[1]["expiresAt"], Value::Null);
        let (_, empty) =
            api.send(api.request(reqwest::Method::GET, "/internal/api/users/nobody/git-tokens")).await;
        assert_eq!(empty, "[]\n");
    }

    #[tokio::test]
    async fn wrong_method_is_405_and_unknown_paths_404() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        for (method, path) in [
            (reqwest::Method::GET, "/internal/api/tokens/introspect"),
            (reqwest::Method::PUT, "/internal/api/users/u1/git-tokens"),
            (reqwest::Method::GET, "/internal/api/users/u1/git-tokens/0123456789abcdef01234567"),
        ] {
            assert_eq!(api.send(api.request(method, path)).await.0, 405, "{path}");
        }
        for path in ["/", "/nope", "/internal/api/nope"] {
            let (status, text) = api.send(api.request(reqwest::Method::GET, path)).await;
            assert_eq!((status, text.as_str()), (404, "404 page not found\n"), "{path}");
        }
        let (status, _) = api.send(api.http.get(api.url("/"))).await;
        assert_eq!(status, 404, "GET / needs no credentials");
    }

    #[tokio::test]
    async fn expired_and_seeded_tokens() {
        let store = MemoryStore::new();
        let api = Api::start(&store, Faults::default()).await;
        let (_, expired) = api.create("u1", json!({"expiresAt": "2001-01-01T00:00:00Z"})).await;
        assert_eq!(api.introspect(&expired).await, json!({"active": false}));

        let bcrypt_token = hashing::new_plaintext_token();
        let pbkdf2_token = hashing::new_plaintext_token();
        let bcrypt_hash = hashing::hash_bcrypt(&bcrypt_token, 4);
        let pbkdf2_hash = hashing::hash_pbkdf2(&pbkdf2_token);
        store.insert(seeded("s1", &bcrypt_token, bcrypt_hash, "bcrypt")).await.unwrap();
        store.insert(seeded("s2", &pbkdf2_token, pbkdf2_hash, "pbkdf2")).await.unwrap();
        let v = api.introspect(&bcrypt_token).await;
        assert_eq!((v["active"].clone(), v["userId"].clone()), (json!(true), json!("s1")));
        let v = api.introspect(&pbkdf2_token).await;
        assert_eq!((v["active"].clone(), v["scopes"].clone()), (json!(true), json!(["git"])));
    }

    #[tokio::test]
    async fn auth_bypass_only_when_the_fault_is_on() {
        let store = MemoryStore::new();
        let path = "/internal/api/users/u1/git-tokens";
        let off = Api::start(&store, Faults::default()).await;
        let (status, _) = off.send(off.http.get(off.url(path)).header("X-Service-Origin", "web")).await;
        assert_eq!(status, 302);

        let faults = Faults { auth_bypass: true, ..Faults::default() };
        let on = Api::start(&store, faults).await;
        let (status, _) = on.send(on.http.get(on.url(path)).header("X-Service-Origin", "web")).await;
        assert_eq!(status, 200);
        let (status, _) = on.send(on.http.get(on.url(path)).header("X-Service-Origin", "")).await;
        assert_eq!(status, 302);
        let (status, _) = on.send(on.request(reqwest::Method::GET, path)).await;
        assert_eq!(status, 200);
        let lines = on.instance.log.lines();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].ends_with("fault=auth-bypass"), "{}", lines[0]);
        assert!(!lines[2].contains("fault="), "{}", lines[2]);
    }

    #[tokio::test]
    async fn error_rate_one_fails_every_api_request_but_not_readiness() {
        let faults = Faults { error_rate: 1.0, ..Faults::default() };
        let api = Api::start(&MemoryStore::new(), faults).await;
        for _ in 0..3 {
            let (status, text) =
                api.send(api.request(reqwest::Method::GET, "/internal/api/users/u1/git-tokens")).await;
            assert_eq!((status, text.trim()), (503, "service unavailable (fault injected)"));
        }
        assert_eq!(api.send(api.http.get(api.url("/"))).await.0, 404);
        assert!(api.instance.log.lines()[0].contains(" 503 "));
        assert!(api.instance.log.lines()[0].ends_with("fault=error-rate"));
    }

    #[tokio::test]
    async fn seeded_error_rate_is_reproducible() {
        async fn pattern(seed: u64) -> Vec<u16> {
            let config = ReferenceConfig {
                hash_cost: HashCost::Minimal,
                faults: Faults { error_rate: 0.5, ..Faults::default() },
                seed: Some(seed),
                ..ReferenceConfig::default()
            };
            let api = Api::start_with(&MemoryStore::new(), config).await;
            let mut statuses = Vec::new();
            for _ in 0..20 {
                let rb = api.request(reqwest::Method::GET, "/internal/api/users/u/git-tokens");
                statuses.push(api.send(rb).await.0);
            }
            statuses
        }
        let a = pattern(7).await;
        assert_eq!(a, pattern(7).await);
        assert!(a.contains(&503) && a.contains(&200), "{a:?}");
    }

    #[tokio::test]
    async fn latency_fault_delays_api_requests() {
        let faults = Faults { latency: Some(Duration::from_millis(60)), ..Faults::default() };
        let api = Api::start(&MemoryStore::new(), faults).await;
        let started = Instant::now();
        let rb = api.request(reqwest::Method::GET, "/internal/api/users/u/git-tokens");
        assert_eq!(api.send(rb).await.0, 200);
        assert!(started.elapsed() >= Duration::from_millis(60));
        assert!(api.instance.log.lines()[0].ends_with("fault=latency"));
    }

    #[tokio::test]
    async fn revocation_lag_hides_cross_instance_revokes_only() {
        let lag = Duration::from_millis(1_500);
        let faults = Faults { revocation_lag: Some(lag), ..Faults::default() };
        let store = MemoryStore::new();
        let a = Api::start(&store, faults.clone()).await;
        let b = Api::start(&store, faults).await;

        let (id, token) = a.create("u1", json!({})).await;
        assert_eq!(a.introspect(&token).await["active"], true);
        let revoked_at = Instant::now();
        assert_eq!(b.revoke("u1", &id).await.0, 204);
        assert_eq!(b.introspect(&token).await["active"], false);
        assert_eq!(a.introspect(&token).await["active"], true, "A should answer from its cache");
        assert!(a.instance.log.lines().last().unwrap().ends_with("fault=revocation-lag"));
        assert!(revoked_at.elapsed() < lag, "test too slow to observe the lag");
        tokio::time::sleep(lag).await;
        assert_eq!(a.introspect(&token).await["active"], false);

        // A revoke through A itself evicts A's cached answer at once.
        let (id, token) = a.create("u1", json!({})).await;
        assert_eq!(a.introspect(&token).await["active"], true);
        assert_eq!(a.revoke("u1", &id).await.0, 204);
        assert_eq!(a.introspect(&token).await["active"], false);
    }

    #[tokio::test]
    async fn access_log_records_requests_but_never_tokens_or_credentials() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let (id, token) = api.create("u1", json!({})).await;
        api.introspect(&token).await;
        api.revoke("u1", &id).await;
        let stray = format!("/internal/api/users/u1/git-tokens/{token}");
        api.send(api.request(reqwest::Method::DELETE, &stray)).await;
        let lines = api.instance.log.lines();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].contains(" webprofile POST /internal/api/users/u1/git-tokens 200 "));
        assert!(lines[1].contains("POST /internal/api/tokens/introspect 200 "));
        assert!(lines[2].contains(&format!("DELETE /internal/api/users/u1/git-tokens/{id} 204 ")));
        assert!(lines[3].contains("<redacted>"));
        for line in &lines {
            assert!(DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).is_ok());
            assert!(line.contains("ms"));
            assert!(!line.contains(&token) && !line.contains("Basic") && !line.contains("b3ZlcmxlYWY6"));
        }
    }

    #[tokio::test]
    async fn shutdown_stops_serving() {
        let api = Api::start(&MemoryStore::new(), Faults::default()).await;
        let url = api.url("/");
        assert_eq!(api.send(api.http.get(&url)).await.0, 404);
        let Api { instance, http } = api;
        let started = Instant::now();
        instance.shutdown().await;
        assert!(started.elapsed() < SHUTDOWN_GRACE + Duration::from_secs(1));
        assert!(reqwest::Client::new().get(&url).send().await.is_err());
        drop(http);
    }

    #[tokio::test]
    async fn serve_forever_serves_until_stopped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let task = tokio::spawn(serve_forever(listener, store, ReferenceConfig::default()));
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status().as_u16(), 404);
        assert!(!task.is_finished());
        task.abort();
    }

    #[test]
    fn base64_decoding() {
        assert_eq!(decode_base64("b3ZlcmxlYWY6b3ZlcmxlYWY="), Some(b"overleaf:overleaf".to_vec()));
        assert_eq!(decode_base64("YQ=="), Some(b"a".to_vec()));
        assert_eq!(decode_base64("YWI"), Some(b"ab".to_vec()));
        assert_eq!(decode_base64(""), Some(Vec::new()));
        for bad in ["Y", "Y===", "YW=I", "!!!!", "é"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    #[test]
    fn base_url_uses_loopback_for_wildcard_binds() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let instance = spawn(listener, Arc::new(MemoryStore::new()), ReferenceConfig::default());
            assert_eq!(instance.base_url(), format!("http://127.0.0.1:{port}"));
            instance.shutdown().await;
        });
    }
}
