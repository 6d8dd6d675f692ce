//! The HTTP client: straight from the process, one pooled connection set per
//! instance, no redirects followed (a 302 to the login page is an answer).

use super::exchange::RateLimitWait;
use super::exchange::{AuthMode, BodyDigest, Exchange, Trace};
use super::pacing::{BudgetRanOut, LimitHints, Pacer};
use super::parse::{self, Body, CreatedToken, Introspection};
use crate::clock::{millis, Clock};
use crate::contract::Credentials;
use crate::verdict::FailureClass;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bodies longer than this are cut in the trace (the service never sends that much).
const MAX_RECORDED_BODY: usize = 64 * 1024;
/// A body is hashed up to this many bytes, then no longer read.
const MAX_HASHED_BODY: u64 = 8 * 1024 * 1024;

/// What all clients of one run share: the clock and the exchange counter.
#[derive(Clone, Debug)]
pub struct TraceContext {
    pub clock: Clock,
    seq: Arc<AtomicU64>,
}

impl TraceContext {
    pub fn new(clock: Clock) -> Self {
        TraceContext { clock, seq: Arc::new(AtomicU64::new(0)) }
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub credentials: Credentials,
    pub request_timeout: Duration,
    /// The target's pace, shared by every client made from these options
    /// (clones share it): one per service under test.
    pub pacer: Arc<Pacer>,
}

/// A failed call: which call, exactly what went wrong, and what kind of failure it is.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{call} on {instance}: {detail}")]
pub struct CallError {
    pub call: &'static str,
    pub instance: String,
    pub detail: String,
    /// No answer, a cut-off body, a 5xx: infrastructure; a 429 not waited out: rate-limited;
    /// any other wrong answer: contract.
    pub class: FailureClass,
}

/// Body of a create call.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CreateRequest {
    pub label: String,
    pub scopes: Vec<String>,
    #[serde(rename = "expiresAt", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// One request as a scenario asks for it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub auth: AuthMode,
    /// Sent after the auth mode's own header, in this order (a name may repeat).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Send the path byte for byte: an HTTP client resolves `..` segments
    /// before sending, which would hide what the service does with them.
    /// Plain `http://` only.
    pub verbatim_path: bool,
}

impl Request {
    pub fn new(method: &str, path: &str, auth: AuthMode) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            auth,
            headers: Vec::new(),
            body: None,
            verbatim_path: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Request {
        self.body = Some(body.into());
        self
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    name: String,
    base: String,
    options: ClientOptions,
    ctx: TraceContext,
}

impl Client {
    pub fn new(name: &str, base_url: &str, options: ClientOptions, ctx: TraceContext) -> Self {
        let http = crate::http::builder(options.request_timeout, options.request_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(64)
            .build()
            .expect("reqwest client with static options");
        Client {
            http,
            name: name.to_string(),
            base: base_url.trim_end_matches('/').to_string(),
            options,
            ctx,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether the target's rate-limit budget ran out: nothing more is sent to it.
    pub fn rate_limit_ran_out(&self) -> bool {
        self.options.pacer.ran_out()
    }

    /// The admin credentials this client sends (the security variants build wrong ones from them).
    pub fn credentials(&self) -> &Credentials {
        &self.options.credentials
    }

    /// Sends one request and records it, whatever the outcome.
    pub async fn send(&self, method: &str, path: &str, auth: AuthMode, body: Option<String>) -> Exchange {
        self.send_within(method, path, auth, body, None).await
    }

    /// [`Client::send`], the request given no more than `budget` (the rest of
    /// a phase's deadline) when that is shorter than `--request-timeout`.
    pub async fn send_within(
        &self,
        method: &str,
        path: &str,
        auth: AuthMode,
        body: Option<String>,
        budget: Option<Duration>,
    ) -> Exchange {
        let request = Request { body, ..Request::new(method, path, auth) };
        self.send_request(&request, budget).await
    }

    /// Sends any request (extra headers, a path sent byte for byte) and
    /// records it, whatever the outcome. A `429` is waited out (as the
    /// target's [`Pacer`] says) and the request sent again, within `budget`;
    /// the exchange is the last answer, and says how long it was held back.
    pub async fn send_request(&self, spec: &Request, budget: Option<Duration>) -> Exchange {
        let deadline = budget.map(|b| Instant::now() + b);
        let seq = self.ctx.next_seq();
        let pacer = &self.options.pacer;
        let mut held = RateLimitWait::default();
        let mut first_429: Option<Instant> = None;
        loop {
            if let Err(BudgetRanOut(why)) = pacer.admit().await {
                held.budget_ran_out = true;
                let mut exchange = Exchange::of_request(seq, &self.name, self.ctx.clock.now(), spec);
                exchange.error = Some(format!("not sent: {why}"));
                exchange.rate_limited = Some(held);
                return exchange;
            }
            let started = Instant::now();
            let left = deadline.map(|d| d.saturating_duration_since(started));
            let (mut exchange, hints) = self.send_once(seq, spec, left, started).await;
            if let Some(since) = first_429 {
                held.waited_ms = millis(started - since);
            }
            if exchange.status != Some(429) {
                if exchange.status.is_some() {
                    pacer.accepted();
                }
                exchange.rate_limited = first_429.map(|_| held);
                return exchange;
            }
            held.answers_429 += 1;
            first_429.get_or_insert(started);
            match pacer.limited(hints) {
                Ok(wait) if deadline.is_none_or(|d| Instant::now() + wait < d) => {}
                // The wait would outlast the phase's own deadline: the 429 is the answer.
                Ok(_) => {
                    exchange.rate_limited = Some(held);
                    return exchange;
                }
                Err(BudgetRanOut(why)) => {
                    held.budget_ran_out = true;
                    exchange.error = Some(format!("rate limited: {why}"));
                    exchange.rate_limited = Some(held);
                    return exchange;
                }
            }
        }
    }

    /// One sending of a request, within `budget`; a 429's hints about the limit.
    async fn send_once(
        &self,
        seq: u64,
        spec: &Request,
        budget: Option<Duration>,
        started: Instant,
    ) -> (Exchange, LimitHints) {
        let timeout = budget.map_or(self.options.request_timeout, |b| b.min(self.options.request_timeout));
        let mut exchange = Exchange::of_request(seq, &self.name, self.ctx.clock.stamp_at(started), spec);
        let mut hints = LimitHints::default();
        if spec.verbatim_path {
            let headers = self.headers_for(spec);
            let answer = super::raw::send(&self.base, spec, &headers, timeout).await;
            super::raw::record(answer, &mut exchange);
            exchange.latency_ms = millis(started.elapsed());
            return (exchange, hints);
        }
        let method_value =
            reqwest::Method::from_bytes(spec.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut request = self.http.request(method_value, format!("{}{}", self.base, spec.path));
        for (name, value) in self.headers_for(spec) {
            // `header` appends: two Authorization headers stay two.
            request = request.header(name, value);
        }
        if let Some(body) = &spec.body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        request = request.timeout(timeout);
        match request.send().await {
            Ok(mut response) => {
                exchange.status = Some(response.status().as_u16());
                if exchange.status == Some(429) {
                    hints = LimitHints::from_headers(response.headers());
                }
                let header =
                    |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                exchange.content_type = header(reqwest::header::CONTENT_TYPE);
                exchange.location = header(reqwest::header::LOCATION);
                let mut body = BodyRecorder::default();
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            if !body.take(&chunk) {
                                break;
                            }
                        }
                        Ok(None) => {
                            body.complete();
                            break;
                        }
                        Err(e) => {
                            exchange.error = Some(format!(
                                "body cut off: {}",
                                describe_transport(&e, &self.base, timeout)
                            ));
                            break;
                        }
                    }
                }
                body.into_exchange(&mut exchange);
            }
            Err(e) => exchange.error = Some(describe_transport(&e, &self.base, timeout)),
        }
        exchange.latency_ms = millis(started.elapsed());
        (exchange, hints)
    }

    /// Every header a request carries beyond the transport's: its
    /// credentials as its auth mode says, then its own.
    fn headers_for(&self, spec: &Request) -> Vec<(String, String)> {
        use base64::Engine as _;
        let basic = |pass: &str| {
            let pair = format!("{}:{pass}", self.options.credentials.user);
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
        };
        let mut headers = match spec.auth {
            AuthMode::Basic => vec![("Authorization".to_string(), basic(&self.options.credentials.pass))],
            AuthMode::WrongPassword => {
                vec![("Authorization".to_string(), basic(&wrong_password(&self.options.credentials.pass)))]
            }
            AuthMode::ServiceOrigin => vec![("X-Service-Origin".to_string(), "parity-harness".to_string())],
            AuthMode::None | AuthMode::AsHeaders => Vec::new(),
        };
        headers.extend(spec.headers.iter().cloned());
        headers
    }

    /// `GET /` within `budget`: any HTTP status means the server is up.
    pub async fn probe(&self, budget: Duration) -> Result<u16, String> {
        let ex = self.send_within("GET", "/", AuthMode::None, None, Some(budget)).await;
        ex.status.ok_or_else(|| ex.error.unwrap_or_else(|| "no response".into()))
    }

    pub async fn create_token(
        &self,
        trace: &mut Trace,
        user_id: &str,
        req: &CreateRequest,
    ) -> Result<CreatedToken, CallError> {
        let body = serde_json::to_string(req).expect("create request serializes");
        let ex = self.send("POST", &tokens_path(user_id), AuthMode::Basic, Some(body)).await;
        // 200 from the Go service, 201 from the Node service: both honour the contract.
        let result = self.expect_status(&ex, "create token", &[200, 201]).and_then(|body| {
            parse::created_token(&body)
                .map_err(|detail| self.error("create token", FailureClass::Contract, detail))
        });
        trace.push(ex);
        result
    }

    /// Lists the user's tokens as the service returned them (JSON array).
    pub async fn list_tokens(&self, trace: &mut Trace, user_id: &str) -> Result<Vec<Value>, CallError> {
        let ex = self.send("GET", &tokens_path(user_id), AuthMode::Basic, None).await;
        let result = self.expect_status(&ex, "list tokens", &[200]).and_then(|body| match body {
            Body::Json(Value::Array(items)) => Ok(items),
            other => Err(self.error(
                "list tokens",
                FailureClass::Contract,
                format!("expected a JSON array, got {}", other.describe()),
            )),
        });
        trace.push(ex);
        result
    }

    /// Revokes; returns the HTTP status, whatever it is (the caller judges it).
    pub async fn revoke(&self, trace: &mut Trace, user_id: &str, token_id: &str) -> Result<u16, CallError> {
        let path = format!("{}/{}", tokens_path(user_id), token_id);
        let ex = self.send("DELETE", &path, AuthMode::Basic, None).await;
        let result = self.answered(&ex, "revoke");
        trace.push(ex);
        result
    }

    pub async fn introspect(&self, trace: &mut Trace, token: &str) -> Result<Introspection, CallError> {
        self.introspect_within(trace, token, None).await
    }

    /// [`Client::introspect`] given no more than `budget` (what is left of `--deadline`).
    pub async fn introspect_within(
        &self,
        trace: &mut Trace,
        token: &str,
        budget: Option<Duration>,
    ) -> Result<Introspection, CallError> {
        let body = serde_json::json!({ "token": token }).to_string();
        let ex = self.send_within("POST", INTROSPECT_PATH, AuthMode::Basic, Some(body), budget).await;
        let result = self.expect_status(&ex, "introspect", &[200]).and_then(|body| {
            parse::introspection(&body)
                .map_err(|detail| self.error("introspect", FailureClass::Contract, detail))
        });
        trace.push(ex);
        result
    }

    /// The HTTP status the service answered, or why there is none: a 429
    /// not waited out (the rate limit, never a finding) or no answer at all.
    fn answered(&self, ex: &Exchange, call: &'static str) -> Result<u16, CallError> {
        if ex.rate_limited_out() {
            let detail = ex.error.clone().unwrap_or_else(|| "HTTP 429 not waited out".into());
            return Err(self.error(call, FailureClass::RateLimited, detail));
        }
        ex.status.ok_or_else(|| {
            let detail = ex.error.clone().unwrap_or_else(|| "no response".into());
            self.error(call, FailureClass::Infrastructure, detail)
        })
    }

    /// Checks the status and classifies the body; the error names both.
    fn expect_status(&self, ex: &Exchange, call: &'static str, expected: &[u16]) -> Result<Body, CallError> {
        let status = self.answered(ex, call)?;
        let body = Body::classify(&ex.response_body, ex.content_type.as_deref());
        if let Some(error) = &ex.error {
            return Err(self.error(
                call,
                FailureClass::Infrastructure,
                format!("HTTP {status}, then {error}"),
            ));
        }
        if expected.contains(&status) {
            return Ok(body);
        }
        let expected = expected.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ");
        let detail = if (300..400).contains(&status) {
            format!(
                "HTTP {status} redirect to `{}` (credentials rejected?), body {}",
                ex.location.as_deref().unwrap_or("?"),
                body.describe()
            )
        } else {
            format!("HTTP {status} (expected {expected}), body {}", body.describe())
        };
        Err(self.error(call, FailureClass::of_unexpected_status(status), detail))
    }

    fn error(&self, call: &'static str, class: FailureClass, detail: String) -> CallError {
        CallError { call, instance: self.name.clone(), detail, class }
    }
}

/// A response body as it streams in: kept up to [`MAX_RECORDED_BODY`],
/// hashed up to [`MAX_HASHED_BODY`], then no longer read.
#[derive(Default)]
pub(super) struct BodyRecorder {
    kept: Vec<u8>,
    hasher: Sha256,
    read: u64,
    truncated: bool,
    complete: bool,
}

impl BodyRecorder {
    /// Takes the next chunk; false once enough has been read.
    pub(super) fn take(&mut self, chunk: &[u8]) -> bool {
        self.hasher.update(chunk);
        self.read += chunk.len() as u64;
        let room = MAX_RECORDED_BODY.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        self.truncated |= chunk.len() > room;
        self.read < MAX_HASHED_BODY
    }

    /// The body was read to its end.
    pub(super) fn complete(&mut self) {
        self.complete = true;
    }

    pub(super) fn into_exchange(self, exchange: &mut Exchange) {
        exchange.truncated = self.truncated;
        exchange.digest = BodyDigest {
            bytes: self.read,
            sha256: hex::encode(self.hasher.finalize()),
            complete: self.complete,
            // An invalid sequence, not one merely cut at the end of what was kept.
            binary: std::str::from_utf8(&self.kept).is_err_and(|e| e.error_len().is_some()),
        };
        exchange.response_body = String::from_utf8_lossy(&self.kept).into_owned();
    }
}

/// A password that is not `pass` and does not start with it (a password
/// with the right prefix is a door of its own: the `password-suffix` variant).
pub fn wrong_password(pass: &str) -> String {
    let wrong = "parity-wrong-password";
    if pass.starts_with(wrong) || wrong.starts_with(pass) {
        format!("x{pass}-not")
    } else {
        wrong.to_string()
    }
}

pub const INTROSPECT_PATH: &str = "/internal/api/tokens/introspect";

pub fn tokens_path(user_id: &str) -> String {
    format!("/internal/api/users/{user_id}/git-tokens")
}

fn describe_transport(e: &reqwest::Error, base: &str, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} waiting for {base}", crate::clock::human(timeout));
    }
    if e.is_connect() {
        return format!("could not connect to {base}: {}", root_cause(e));
    }
    format!("{e}: {}", root_cause(e))
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
