//! HTTP as every part of the harness speaks it: the one client builder
//! (the contract client, the Docker readiness probe, Slack, GitHub, S3),
//! the one rule of which answers are worth sending again, and bounded body
//! reads.
//!
//! No redirect is followed unless the caller allows one, and never a
//! `Referer`: a webhook URL is the secret, and a redirect to another host must
//! neither receive it nor a re-posted summary; a service under test that
//! redirects is answering, and that answer is what is judged.

use crate::retry::{Backoff, Failed};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::time::Duration;

/// A hinted wait longer than this (a typo, a Unix time misread) counts as this.
pub const LONGEST_HINT: Duration = Duration::from_secs(24 * 3600);

/// A client builder with redirects off, no `Referer`, and the timeouts given.
pub fn builder(connect: Duration, total: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(connect)
        .timeout(total)
}

/// Whether an answer is worth sending again: a server error, 429, or a 403
/// that is a rate limit — with `Retry-After` (GitHub's secondary limit) or
/// `x-ratelimit-remaining: 0` (its primary one).
pub fn retryable(status: StatusCode, headers: &HeaderMap) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && (headers.contains_key(RETRY_AFTER) || out_of_quota(headers)))
}

/// `x-ratelimit-remaining: 0`: the quota is spent until `x-ratelimit-reset`.
fn out_of_quota(headers: &HeaderMap) -> bool {
    headers.get("x-ratelimit-remaining").and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "0")
}

/// The end of a spent quota (`x-ratelimit-remaining: 0` and `x-ratelimit-reset`,
/// a Unix time), as a delay; at most [`LONGEST_HINT`].
pub fn quota_reset(headers: &HeaderMap) -> Option<Duration> {
    if !out_of_quota(headers) {
        return None;
    }
    delay_seconds(headers.get("x-ratelimit-reset")?.to_str().ok()?)
}

/// `Retry-After` as a delay in seconds or an HTTP date, at most [`LONGEST_HINT`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    delay_seconds(value).or_else(|| {
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let delay = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or_default();
        Some(delay.min(LONGEST_HINT))
    })
}

/// A header's delay in seconds (fractions allowed), at most [`LONGEST_HINT`];
/// a value past 10⁹ is read as the Unix time it ends at, as some services
/// send a reset.
pub fn delay_seconds(value: &str) -> Option<Duration> {
    let n: f64 = value.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let now = chrono::Utc::now().timestamp() as f64;
    let delay = if n > 1_000_000_000.0 { (n - now).max(0.0) } else { n };
    Some(Duration::from_secs_f64(delay.min(LONGEST_HINT.as_secs_f64())))
}

/// Sends what `request` builds until the answer is final, trying again
/// after a retryable answer or a failed connection, timeout or send, as
/// `policy` allows. The last answer (of any status) or error is returned.
pub async fn send(
    policy: &Backoff,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    let last = policy
        .run(|_| {
            let sent = request().send();
            async move {
                match sent.await {
                    Ok(answer) if retryable(answer.status(), answer.headers()) => {
                        let hint = retry_after(answer.headers()).or_else(|| quota_reset(answer.headers()));
                        Err(Failed::Retry(Ok(answer), hint))
                    }
                    Ok(answer) => Ok(answer),
                    Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                        Err(Failed::Retry(Err(e), None))
                    }
                    Err(e) => Err(Failed::Final(Err(e))),
                }
            }
        })
        .await;
    last.or_else(|last| last)
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the answer is larger than the {cap}-byte cap for {what}; not read further")]
    TooLarge { what: &'static str, cap: u64 },
    #[error("the answer was cut off: {0}")]
    Transport(String),
}

/// The most of a body each kind of answer may hold.
pub mod caps {
    /// One page of a GitHub API listing or one API answer (runs, artifacts, issues).
    pub const API_ANSWER: u64 = 16 << 20;
    /// An error text (Slack, S3, GitHub): only an excerpt is ever shown.
    pub const ERROR_TEXT: u64 = 64 << 10;
}

/// A whole body of at most `cap` bytes (an endless answer is stopped at the
/// cap, never buffered whole).
pub async fn body(
    mut response: reqwest::Response,
    what: &'static str,
    cap: u64,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(BodyError::TooLarge { what, cap });
    }
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|e| BodyError::Transport(e.without_url().to_string()))?
    {
        if body.len() as u64 + chunk.len() as u64 > cap {
            return Err(BodyError::TooLarge { what, cap });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `cap` bytes of a body as text (an error answer's excerpt);
/// the rest is not read.
pub async fn text_prefix(mut response: reqwest::Response, cap: u64) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = (cap as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= cap {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A server answering the statuses given, in order (the last one from then on).
    async fn answering(statuses: &'static [(u16, Option<&'static str>)]) -> (String, Arc<AtomicU32>) {
        let asked = Arc::new(AtomicU32::new(0));
        let counter = asked.clone();
        let app = axum::Router::new().fallback(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) as usize;
            let (status, retry_after) = statuses[n.min(statuses.len() - 1)];
            async move {
                let mut response = axum::response::Response::new(axum::body::Body::from("said"));
                *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
                if let Some(after) = retry_after {
                    response.headers_mut().insert("retry-after", after.parse().unwrap());
                }
                response
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, asked)
    }

    #[tokio::test]
    async fn retryable_answers_are_sent_again_and_the_final_answer_returned() {
        let policy = Backoff::tries(4, Duration::from_millis(1), Duration::from_millis(5));
        let client = builder(Duration::from_secs(2), Duration::from_secs(2)).build().unwrap();

        let (url, asked) = answering(&[(503, None), (429, Some("0")), (403, Some("0")), (404, None)]).await;
        let answer = send(&policy, || client.get(&url)).await.unwrap();
        assert_eq!((answer.status().as_u16(), asked.load(Ordering::SeqCst)), (404, 4));

        // A 403 without Retry-After is a refusal, not a limit: final at once.
        let (url, asked) = answering(&[(403, None), (200, None)]).await;
        let answer = send(&policy, || client.get(&url)).await.unwrap();
        assert_eq!((answer.status().as_u16(), asked.load(Ordering::SeqCst)), (403, 1));

        // Out of tries: the last answer, whatever it was.
        let (url, asked) = answering(&[(500, None)]).await;
        let answer = send(&policy, || client.get(&url)).await.unwrap();
        assert_eq!((answer.status().as_u16(), asked.load(Ordering::SeqCst)), (500, 4));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        let headers = |v: &str| HeaderMap::from_iter([(RETRY_AFTER, v.parse().unwrap())]);
        assert_eq!(retry_after(&headers("12")), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(&headers("1e12")), Some(LONGEST_HINT));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&headers("-3")), None);

        // GitHub's spent primary quota: a 403 worth retrying at the reset time.
        let reset = (chrono::Utc::now().timestamp() + 20).to_string();
        let spent = HeaderMap::from_iter([
            ("x-ratelimit-remaining".parse().unwrap(), "0".parse().unwrap()),
            ("x-ratelimit-reset".parse().unwrap(), reset.parse().unwrap()),
        ]);
        assert!(retryable(StatusCode::FORBIDDEN, &spent));
        assert_eq!(retry_after(&spent), None, "no Retry-After was sent");
        let wait = quota_reset(&spent).unwrap();
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        assert!(!retryable(StatusCode::FORBIDDEN, &HeaderMap::new()), "a plain 403 is a refusal");
    }
}
