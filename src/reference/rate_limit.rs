//! The `rate-limit` fault: introspection and list share one bucket of N
//! requests a window, counted across the instances of one stack, as the
//! Node service's limiter counts them; past it they answer `429 Too Many
//! Requests`. What the 429 says of the limit is chosen, so that a client
//! can be tried against each form: every header, `Retry-After` alone, or
//! nothing (the spec gives the Node service's body, not its headers).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a 429 tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hints {
    /// `Retry-After`, `RateLimit-Limit`, `-Remaining`, `-Reset` and `RateLimit-Policy`.
    All,
    /// `Retry-After` only.
    RetryAfter,
    /// No header at all.
    Bare,
}

/// `rate-limit=60/min`, `rate-limit=5/s+retry-after`, `rate-limit=60/min+bare`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
    pub hints: Hints,
}

impl RateLimit {
    pub fn parse(value: &str) -> Result<RateLimit, String> {
        let bad = || {
            format!("fault \"rate-limit\": {value:?} is not N/s or N/min (optionally +retry-after or +bare), e.g. rate-limit=60/min")
        };
        let (rate, hints) = match value.split_once('+') {
            None => (value, Hints::All),
            Some((rate, "retry-after")) => (rate, Hints::RetryAfter),
            Some((rate, "bare")) => (rate, Hints::Bare),
            Some(_) => return Err(bad()),
        };
        let (limit, unit) = rate.split_once('/').ok_or_else(bad)?;
        let limit: u32 = limit.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
        let window = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            _ => return Err(bad()),
        };
        Ok(RateLimit { limit, window, hints })
    }

    pub fn describe(&self) -> String {
        let unit = if self.window == Duration::from_secs(1) { "s" } else { "min" };
        let hints = match self.hints {
            Hints::All => "",
            Hints::RetryAfter => "+retry-after",
            Hints::Bare => "+bare",
        };
        format!("{}/{unit}{hints}", self.limit)
    }
}

/// One fixed window, shared by every instance handed it.
#[derive(Debug)]
pub struct RateWindow {
    limit: RateLimit,
    /// The current window's start and the requests it has let through.
    state: Mutex<(Instant, u32)>,
}

impl RateWindow {
    pub fn new(limit: RateLimit) -> RateWindow {
        RateWindow { limit, state: Mutex::new((Instant::now(), 0)) }
    }

    /// Lets a request through, or says how long until the window lets more in.
    pub fn take(&self) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(state.0) >= self.limit.window {
            *state = (now, 0);
        }
        if state.1 < self.limit.limit {
            state.1 += 1;
            return Ok(());
        }
        Err(self.limit.window.saturating_sub(now.duration_since(state.0)))
    }

    /// The 429: the Node service's body, no content type, and the chosen headers.
    pub fn refusal(&self, retry_after: Duration) -> Response {
        let mut response = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").into_response();
        response.headers_mut().remove(header::CONTENT_TYPE);
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        };
        if self.limit.hints != Hints::Bare {
            set("retry-after", seconds.to_string());
        }
        if self.limit.hints == Hints::All {
            set("ratelimit-limit", self.limit.limit.to_string());
            set("ratelimit-remaining", "0".into());
            set("ratelimit-reset", seconds.to_string());
            set("ratelimit-policy", format!("{};w={}", self.limit.limit, self.limit.window.as_secs()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_reads_back() {
        for spec in ["60/min", "5/s+retry-after", "60/min+bare"] {
            assert_eq!(RateLimit::parse(spec).unwrap().describe(), spec);
        }
        for bad in ["60", "0/min", "60/day", "60/min+loud"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_lets_its_limit_through_then_says_when_it_resets() {
        let window = RateWindow::new(RateLimit::parse("3/min").unwrap());
        assert!((0..3).all(|_| window.take().is_ok()));
        let wait = window.take().unwrap_err();
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60), "{wait:?}");
        let refusal = window.refusal(wait);
        assert_eq!(refusal.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refusal.headers()["retry-after"], "60");
        assert_eq!(refusal.headers()["ratelimit-policy"], "3;w=60");
        assert!(refusal.headers().get(header::CONTENT_TYPE).is_none());
    }
}
