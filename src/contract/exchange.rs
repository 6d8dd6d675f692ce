//! One request/response pair as recorded, and the trace that collects them.

use crate::clock::Stamp;
use serde::Serialize;
use std::fmt::Write as _;

/// How a request authenticated itself. The credential itself is never recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// HTTP Basic with the configured admin credentials.
    Basic,
    /// No Authorization header.
    None,
    /// HTTP Basic with a deliberately wrong password.
    WrongPassword,
    /// No credentials, but an `X-Service-Origin` header (the known bypass).
    ServiceOrigin,
    /// Only what the request's own `headers` carry (the security variants:
    /// an identity header, a malformed Authorization, two of them, …).
    AsHeaders,
}

#[derive(Clone, Debug, Serialize)]
pub struct Exchange {
    /// Order of the request across the whole run.
    pub seq: u64,
    /// Which instance answered ("instance1", "instance2").
    pub instance: String,
    pub sent: Stamp,
    pub method: String,
    pub path: String,
    pub auth: AuthMode,
    /// Headers sent beyond the standard ones (an identity header, a variant's
    /// Authorization): written redacted, like every artifact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    /// `None` when no HTTP answer arrived (see `error`).
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub response_body: String,
    /// True when the body was longer than what is kept.
    pub truncated: bool,
    pub latency_ms: f64,
    /// Transport failure: timeout, refused connection, reset.
    pub error: Option<String>,
    /// `429 Too Many Requests` answers this request got before this answer,
    /// each waited out: the request was sent again, and `sent` is when the
    /// last one went. A 429 is a wait, never a read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limited: Option<RateLimitWait>,
    /// Size and SHA-256 of the whole body (read further than what is kept,
    /// up to a bound): how `parity diff` compares bodies too big or too binary to show.
    #[serde(skip)]
    pub digest: BodyDigest,
}

/// How a request was held back by the service's rate limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RateLimitWait {
    pub answers_429: u32,
    /// From the first 429 to the last sending.
    pub waited_ms: f64,
    /// The run's rate-limit budget ran out: this call was not carried out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub budget_ran_out: bool,
}

/// What identifies a response body without keeping it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BodyDigest {
    /// Bytes read (all of them when `complete`).
    pub bytes: u64,
    pub sha256: String,
    /// False when the body went on past the bound and was not read to its end.
    pub complete: bool,
    /// The body is not valid UTF-8 (shown lossily, compared by hash).
    pub binary: bool,
}

impl Exchange {
    /// A request as sent, before any answer (the client fills that in).
    pub fn of_request(seq: u64, instance: &str, sent: Stamp, request: &super::Request) -> Exchange {
        Exchange {
            seq,
            instance: instance.to_string(),
            sent,
            method: request.method.clone(),
            path: request.path.clone(),
            auth: request.auth,
            headers: request.headers.clone(),
            request_body: request.body.clone(),
            status: None,
            content_type: None,
            location: None,
            response_body: String::new(),
            truncated: false,
            latency_ms: 0.0,
            error: None,
            rate_limited: None,
            digest: BodyDigest::default(),
        }
    }

    /// The call was not carried out because of the rate limit: its last
    /// answer was a 429 that could not be waited out, or it was never sent.
    pub fn rate_limited_out(&self) -> bool {
        self.status == Some(429) || self.rate_limited.as_ref().is_some_and(|r| r.budget_ran_out)
    }

    /// The request and its answer in the `.raw` trace format: readable, greppable,
    /// one block per exchange.
    pub fn render_raw(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            ">>> #{} {} {} (+{:.3} ms) {} {}  auth={}",
            self.seq,
            self.instance,
            crate::clock::rfc3339(&self.sent.wall),
            self.sent.mono_ms,
            self.method,
            self.path,
            serde_json::to_value(self.auth)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
        if let Some(wait) = &self.rate_limited {
            let _ =
                writeln!(out, "(sent after {} × 429, {:.0} ms of waiting)", wait.answers_429, wait.waited_ms);
        }
        for (name, value) in &self.headers {
            let _ = writeln!(out, "{name}: {}", crate::escape::excerpt(value, 200));
        }
        if let Some(body) = &self.request_body {
            let _ = writeln!(out, "{body}");
        }
        match (self.status, &self.error) {
            (Some(status), _) => {
                let _ = write!(out, "<<< {status}");
                if let Some(ct) = &self.content_type {
                    let _ = write!(out, " [{ct}]");
                }
                if let Some(loc) = &self.location {
                    let _ = write!(out, " Location: {loc}");
                }
                let _ = writeln!(out, " ({:.3} ms)", self.latency_ms);
                let body = self.response_body.trim_end_matches('\n');
                if !body.is_empty() {
                    let _ = writeln!(out, "{body}");
                }
                if self.truncated {
                    let _ = writeln!(out, "[body truncated]");
                }
            }
            (None, error) => {
                let _ = writeln!(
                    out,
                    "<<< no response ({:.3} ms): {}",
                    self.latency_ms,
                    error.as_deref().unwrap_or("unknown error")
                );
            }
        }
        out
    }

    /// "HTTP 503 `service unavailable`" or the transport error: what a reason quotes.
    pub fn summary(&self) -> String {
        match (self.status, &self.error) {
            (Some(status), _) => {
                let body = crate::contract::parse::snippet(&self.response_body, 120);
                if body.is_empty() {
                    format!("HTTP {status} with an empty body")
                } else {
                    format!("HTTP {status} `{body}`")
                }
            }
            (None, Some(error)) => error.clone(),
            (None, None) => "no response".into(),
        }
    }
}

/// The exchanges of one scenario (or one iteration), in order.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(transparent)]
pub struct Trace(Vec<Exchange>);

impl Trace {
    pub fn new() -> Self {
        Trace::default()
    }

    pub fn push(&mut self, exchange: Exchange) {
        self.0.push(exchange);
    }

    pub fn exchanges(&self) -> &[Exchange] {
        &self.0
    }

    pub fn last(&self) -> Option<&Exchange> {
        self.0.last()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn render_raw(&self) -> String {
        self.0.iter().map(|e| e.render_raw() + "\n").collect()
    }

    pub fn extend(&mut self, other: Trace) {
        self.0.extend(other.0);
    }
}
