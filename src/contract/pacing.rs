//! How fast the requests to one target go, and what a `429 Too Many
//! Requests` teaches. A 429 is a wait, never a finding: every client of a
//! target shares one [`Pacer`], which spaces requests out at the rate it
//! was given (`--max-rate N/s`) or learned (`--max-rate auto`, from the first
//! 429), holds every request back until a 429's `Retry-After` has passed,
//! and gives up only when the waits outlast the run's rate-limit budget.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Requests sent at most at 90% of a learned limit: a limiter whose window
/// starts a little earlier than the harness thinks still lets them through.
const LEARNED_MARGIN: f64 = 0.9;
/// The wait after a 429 that names none, doubled for each such 429 in a row.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// No target is paced slower than this (one request a minute).
const SLOWEST: f64 = 1.0 / 60.0;

/// A request rate: `count` requests per `per`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub count: f64,
    pub per: Duration,
}

impl Rate {
    pub fn per_second(self) -> f64 {
        self.count / self.per.as_secs_f64()
    }

    /// "60/min", "2.5/s".
    pub fn describe(per_second: f64) -> String {
        if per_second >= 1.0 {
            format!("{}/s", round(per_second))
        } else {
            format!("{}/min", round(per_second * 60.0))
        }
    }
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || format!("`{text}` is not a rate: expected N/s, N/min or N/h (e.g. 60/min)");
        let (count, unit) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: f64 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "m" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if !count.is_finite() || count <= 0.0 {
            return Err(format!("`{text}`: the count must be more than zero"));
        }
        if count / per.as_secs_f64() < SLOWEST {
            return Err(format!("`{text}` is slower than one request a minute"));
        }
        Ok(Rate { count, per })
    }
}

/// `--max-rate`: a fixed pace, or none until the service says 429.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum MaxRate {
    /// Start unpaced; on the first 429, learn the limit and keep under it.
    #[default]
    Auto,
    Fixed(Rate),
}

impl std::str::FromStr for MaxRate {
    type Err = String;

    fn from_str(text: &str) -> Result<MaxRate, String> {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(MaxRate::Auto);
        }
        text.parse().map(MaxRate::Fixed).map_err(|e| format!("{e}, or auto"))
    }
}

impl std::fmt::Display for MaxRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxRate::Auto => f.write_str("auto"),
            MaxRate::Fixed(rate) => f.write_str(&Rate::describe(rate.per_second())),
        }
    }
}

/// `--max-rate` and `--rate-limit-budget`: what a target's [`Pacer`] is made from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pacing {
    pub max_rate: MaxRate,
    pub budget: Duration,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing { max_rate: MaxRate::Auto, budget: DEFAULT_BUDGET }
    }
}

impl Pacing {
    /// A pace for one target: every client of it shares the one returned.
    pub fn pacer(self) -> std::sync::Arc<Pacer> {
        std::sync::Arc::new(Pacer::new(self))
    }
}

/// What a 429 said about the limit, from its headers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LimitHints {
    /// `Retry-After` (seconds, or an HTTP date).
    pub retry_after: Option<Duration>,
    /// `RateLimit-Reset` / `X-RateLimit-Reset`: when the window ends.
    pub reset: Option<Duration>,
    /// `RateLimit-Policy: 60;w=60`: the limit and its window.
    pub policy: Option<Rate>,
}

impl LimitHints {
    /// Reads the standard and the common `X-` headers; unknown forms are ignored.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> LimitHints {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let retry_after = crate::http::retry_after(headers);
        let reset = text("ratelimit-reset")
            .or_else(|| text("x-ratelimit-reset"))
            .and_then(crate::http::delay_seconds);
        let policy = text("ratelimit-policy").and_then(|v| {
            let mut parts = v.split(',').next()?.split(';');
            let count: f64 = parts.next()?.trim().parse().ok()?;
            let window = parts.find_map(|p| p.trim().strip_prefix("w="))?.trim().parse::<f64>().ok()?;
            (count > 0.0 && window > 0.0).then(|| Rate { count, per: Duration::from_secs_f64(window) })
        });
        LimitHints { retry_after, reset, policy }
    }
}

/// The pacing of a target, as `analysis.json` and the console report it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RateReport {
    /// `--max-rate` as given: `auto`, `60/min`.
    pub max_rate: String,
    /// The pace the run ended at (requests per second); absent when it never needed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settled_per_second: Option<f64>,
    /// Where that pace came from: `--max-rate`, `RateLimit-Policy`, `Retry-After`,
    /// `RateLimit-Reset` (or its `X-` form), `halved`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub learned_from: String,
    /// `429` answers, each waited out and the request sent again.
    pub answers_429: u64,
    /// Time the target was held back by 429s.
    pub waited_ms: f64,
    /// Why the run stopped sending, when the waits outlasted the budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_ran_out: Option<String>,
}

impl RateReport {
    /// Whether the target ever limited the run (nothing to say otherwise).
    pub fn limited(&self) -> bool {
        self.answers_429 > 0 || self.settled_per_second.is_some()
    }

    /// "rate limit (--max-rate auto): 12 × 429, held back 58.2 s in all, settled at 54/min (from Retry-After)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.answers_429 > 0 {
            parts.push(format!(
                "{} × 429, held back {} in all",
                self.answers_429,
                crate::clock::human(Duration::from_secs_f64(self.waited_ms / 1000.0))
            ));
        }
        if let Some(rate) = self.settled_per_second {
            parts.push(format!("settled at {} (from {})", Rate::describe(rate), self.learned_from));
        }
        if let Some(why) = &self.budget_ran_out {
            parts.push(format!("stopped: {why}"));
        }
        format!("rate limit (--max-rate {}): {}", self.max_rate, parts.join(", "))
    }
}

/// The rate-limit budget ran out: nothing more is sent to this target.
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetRanOut(pub String);

/// One target's pace, shared by every client of it.
#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    state: Mutex<PaceState>,
    /// Sendings let through, 429'd ones included.
    sent: AtomicU64,
}

#[derive(Debug)]
struct PaceState {
    /// Requests per second; `None`: as fast as they come.
    rate: Option<f64>,
    learned_from: &'static str,
    next_slot: Option<Instant>,
    /// After a 429, nothing is sent before this.
    resume_at: Option<Instant>,
    /// Answers other than 429 since `mark`: what the limit let through.
    accepted: u64,
    mark: Instant,
    backoff: Duration,
    answers_429: u64,
    waited: Duration,
    ran_out: Option<String>,
}

impl Pacer {
    pub fn new(pacing: Pacing) -> Pacer {
        let rate = match pacing.max_rate {
            MaxRate::Auto => None,
            MaxRate::Fixed(rate) => Some(rate.per_second()),
        };
        Pacer {
            pacing,
            state: Mutex::new(PaceState {
                rate,
                learned_from: if rate.is_some() { "--max-rate" } else { "" },
                next_slot: None,
                resume_at: None,
                accepted: 0,
                mark: Instant::now(),
                backoff: FIRST_BACKOFF,
                answers_429: 0,
                waited: Duration::ZERO,
                ran_out: None,
            }),
            sent: AtomicU64::new(0),
        }
    }

    /// Sendings let through so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The pace requests now go at (requests per second), when there is one.
    pub fn rate(&self) -> Option<f64> {
        self.state().rate
    }

    /// What this pace was made from.
    pub fn pacing(&self) -> Pacing {
        self.pacing
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this request's turn: after any 429's wait, one interval after the last.
    pub async fn admit(&self) -> Result<(), BudgetRanOut> {
        let (turn, now) = {
            let mut s = self.state();
            if let Some(why) = &s.ran_out {
                return Err(BudgetRanOut(why.clone()));
            }
            let now = Instant::now();
            let mut turn = s.resume_at.map_or(now, |r| r.max(now));
            if let Some(rate) = s.rate {
                turn = s.next_slot.map_or(turn, |slot| slot.max(turn));
                s.next_slot = Some(turn + Duration::from_secs_f64(1.0 / rate));
            }
            (turn, now)
        };
        // Even an elapsed timer waits for the timer's next tick (a millisecond): only a real wait sleeps.
        if turn > now {
            tokio::time::sleep_until(turn).await;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// An answer other than 429: the limit let it through.
    pub fn accepted(&self) {
        let mut s = self.state();
        s.accepted += 1;
        s.backoff = FIRST_BACKOFF;
    }

    /// A 429: how long to wait before sending again (every client of the
    /// target waits as long), or that the budget ran out.
    pub fn limited(&self, hints: LimitHints) -> Result<Duration, BudgetRanOut> {
        let mut s = self.state();
        s.answers_429 += 1;
        if let Some(why) = &s.ran_out {
            return Err(BudgetRanOut(why.clone()));
        }
        let now = Instant::now();
        if let Some(resume) = s.resume_at.filter(|r| *r > now) {
            // A request that was already in flight when the first 429 came: same wait, nothing new learnt.
            return Ok(resume - now);
        }
        // A zero wait is no wait: a service answering 429 with `Retry-After: 0` is backed off too.
        let named = hints.retry_after.or(hints.reset).filter(|w| !w.is_zero());
        let wait = named.unwrap_or(s.backoff);
        if named.is_none() {
            s.backoff = (s.backoff * 2).min(MAX_BACKOFF);
        }
        let (learned, source) = if let Some(policy) = hints.policy {
            (policy.per_second(), "RateLimit-Policy")
        } else if named.is_some() && s.accepted > 0 {
            // What got through since the last wait, over the time until the limit lets more in.
            let span = (now - s.mark + wait).as_secs_f64().max(1e-3);
            let header = if hints.retry_after.is_some() { "Retry-After" } else { "RateLimit-Reset" };
            (s.accepted as f64 / span, header)
        } else {
            let observed = s.accepted as f64 / (now - s.mark).as_secs_f64().max(1e-3);
            (s.rate.unwrap_or(observed).min(observed.max(SLOWEST)) / 2.0, "halved")
        };
        let learned = (learned * LEARNED_MARGIN).max(SLOWEST);
        if s.rate.is_none_or(|r| learned < r) {
            s.rate = Some(learned);
            s.learned_from = source;
        }
        if s.waited + wait > self.pacing.budget {
            let why = format!(
                "the service answered 429 and asked for {} more, past the rate-limit budget of {} ({} spent)",
                crate::clock::human(wait),
                crate::clock::human(self.pacing.budget),
                crate::clock::human(s.waited)
            );
            s.ran_out = Some(why.clone());
            return Err(BudgetRanOut(why));
        }
        s.waited += wait;
        s.resume_at = Some(now + wait);
        s.next_slot = None;
        s.mark = now + wait;
        s.accepted = 0;
        Ok(wait)
    }

    pub fn ran_out(&self) -> bool {
        self.state().ran_out.is_some()
    }

    pub fn report(&self) -> RateReport {
        let s = self.state();
        RateReport {
            max_rate: self.pacing.max_rate.to_string(),
            settled_per_second: s.rate.filter(|_| s.answers_429 > 0 || self.pacing.max_rate != MaxRate::Auto),
            learned_from: s.learned_from.to_string(),
            answers_429: s.answers_429,
            waited_ms: s.waited.as_secs_f64() * 1000.0,
            budget_ran_out: s.ran_out.clone(),
        }
    }
}

impl Default for Pacer {
    /// Unpaced, 429s waited out for up to the default budget.
    fn default() -> Pacer {
        Pacer::new(Pacing::default())
    }
}

/// How long a run may spend held back by 429s, in all (`--rate-limit-budget`).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(600);

#[cfg(test)]
mod tests {
    use super::*;

    fn after(seconds: u64) -> LimitHints {
        LimitHints { retry_after: Some(Duration::from_secs(seconds)), ..LimitHints::default() }
    }

    #[test]
    fn rates_parse_in_the_units_a_limit_is_written_in() {
        assert_eq!("60/min".parse::<Rate>().unwrap().per_second(), 1.0);
        assert_eq!("5/s".parse::<Rate>().unwrap().per_second(), 5.0);
        assert_eq!("3600/h".parse::<Rate>().unwrap().per_second(), 1.0);
        assert_eq!("auto".parse::<MaxRate>().unwrap(), MaxRate::Auto);
        for bad in ["60", "0/s", "-1/s", "x/s", "60/day", "1/h"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(Rate::describe(1.0), "1/s");
        assert_eq!(Rate::describe(0.9), "54/min");
    }

    #[test]
    fn policy_headers_and_retry_after_are_read() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "12".parse().unwrap());
        headers.insert("ratelimit-policy", "60;w=60".parse().unwrap());
        let hints = LimitHints::from_headers(&headers);
        assert_eq!(hints.retry_after, Some(Duration::from_secs(12)));
        assert_eq!(hints.policy.unwrap().per_second(), 1.0);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ratelimit-reset", "7".parse().unwrap());
        assert_eq!(LimitHints::from_headers(&headers).reset, Some(Duration::from_secs(7)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_rate_spaces_requests_evenly() {
        let pacer =
            Pacer::new(Pacing { max_rate: MaxRate::Fixed("10/s".parse().unwrap()), budget: DEFAULT_BUDGET });
        let started = Instant::now();
        for _ in 0..5 {
            pacer.admit().await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn auto_learns_the_limit_from_what_got_through_before_retry_after() {
        let pacer = Pacer::default();
        // 60 answers in 2 s, then a 429 that says "come back in 58 s": 60 a minute.
        for _ in 0..60 {
            pacer.admit().await.unwrap();
            pacer.accepted();
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(pacer.limited(after(58)).unwrap(), Duration::from_secs(58));
        // A second 429 of the same burst learns nothing new and waits as long.
        assert_eq!(pacer.limited(after(58)).unwrap(), Duration::from_secs(58));
        let report = pacer.report();
        assert_eq!((report.answers_429, report.learned_from.as_str()), (2, "Retry-After"));
        assert!((report.settled_per_second.unwrap() - 0.9).abs() < 1e-9, "{report:?}");
        let started = Instant::now();
        pacer.admit().await.unwrap();
        pacer.admit().await.unwrap();
        assert_eq!(started.elapsed().as_secs_f64().round(), 59.0, "the wait, then one interval");
    }

    #[tokio::test(start_paused = true)]
    async fn without_hints_the_rate_halves_and_the_wait_doubles() {
        let pacer =
            Pacer::new(Pacing { max_rate: MaxRate::Fixed("10/s".parse().unwrap()), budget: DEFAULT_BUDGET });
        for _ in 0..10 {
            pacer.admit().await.unwrap();
            pacer.accepted();
        }
        assert_eq!(pacer.limited(LimitHints::default()).unwrap(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(pacer.limited(LimitHints::default()).unwrap(), Duration::from_secs(2));
        let report = pacer.report();
        assert_eq!(report.learned_from, "halved");
        assert!(report.settled_per_second.unwrap() < 5.0, "{report:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_of_zero_is_backed_off_not_obeyed() {
        let pacer = Pacer::default();
        assert_eq!(pacer.limited(after(0)).unwrap(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_bounds_the_waits_and_then_nothing_is_sent() {
        let pacer = Pacer::new(Pacing { max_rate: MaxRate::Auto, budget: Duration::from_secs(30) });
        pacer.accepted();
        assert!(pacer.limited(after(20)).is_ok());
        tokio::time::advance(Duration::from_secs(20)).await;
        let ran_out = pacer.limited(after(20)).unwrap_err();
        assert!(
            ran_out.0.contains("asked for 20 s more, past the rate-limit budget of 30 s (20 s spent)"),
            "{}",
            ran_out.0
        );
        assert_eq!(pacer.admit().await.unwrap_err(), ran_out);
        assert!(pacer.report().budget_ran_out.is_some());
    }
}
