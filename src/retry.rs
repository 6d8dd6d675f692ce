//! One way to wait and try again, for everything that does: readiness
//! (a deadline, tight polls), the outbound integrations (GitHub, Slack, S3:
//! a few tries, backing off, a server's `Retry-After` honoured) and a
//! server waiting for its database. What is worth another try is the
//! caller's to say ([`Failed`]); for HTTP answers it is `http::retryable`.
//! The contract client's 429 handling is not this: it paces a whole target
//! under a budget (`contract::pacing`).

use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// When to stop trying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// This many tries in all, the first included.
    Tries(u32),
    /// Until this long after the first try began.
    Within(Duration),
}

/// Pauses between tries: `first`, doubled after each failed try up to
/// `max` (a server's hint is capped by `max` too), until `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub limit: Limit,
}

/// A failed try: worth another (with the server's hint of when, if it gave
/// one), or final.
#[derive(Debug)]
pub enum Failed<E> {
    Retry(E, Option<Duration>),
    Final(E),
}

/// What a try may know of its place: its number (1-based) and, under a
/// deadline, the time left (a probe must not outlive the deadline).
#[derive(Clone, Copy, Debug)]
pub struct Try {
    pub number: u32,
    pub left: Option<Duration>,
}

impl Backoff {
    /// Readiness: polls from 5 ms, doubling to 50 ms, for `within`.
    pub const fn polling(within: Duration) -> Backoff {
        Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(50),
            limit: Limit::Within(within),
        }
    }

    /// A few tries of an outbound request, from `first` doubling to `max`.
    pub const fn tries(tries: u32, first: Duration, max: Duration) -> Backoff {
        Backoff { first, max, limit: Limit::Tries(tries) }
    }

    /// Tries `delay` apart, `tries` in all (at least one): `parity rerun`
    /// and the smoke's `--attempts` / `--retry-delay`.
    pub const fn constant(tries: u32, delay: Duration) -> Backoff {
        Backoff::tries(tries, delay, delay)
    }

    /// The most tries this allows (under a deadline, no count is set).
    pub fn most_tries(&self) -> u32 {
        match self.limit {
            Limit::Tries(tries) => tries.max(1),
            Limit::Within(_) => u32::MAX,
        }
    }

    /// The pause after failed try `number` (1-based): the server's hint or
    /// the doubled pause, at most `max`.
    pub fn pause(&self, number: u32, hint: Option<Duration>) -> Duration {
        let doubled = self.first.saturating_mul(2u32.saturating_pow(number.saturating_sub(1)));
        hint.unwrap_or(doubled).min(self.max)
    }

    /// Runs `attempt` until it succeeds, fails finally, or the limit is
    /// reached; the error is the last try's. Under a deadline the last try is
    /// begun with `max` still left (the pause before it shortened to fit), so
    /// that it has time to fail for its own reason.
    pub async fn run<T, E, F, Fut>(&self, mut attempt: F) -> Result<T, E>
    where
        F: FnMut(Try) -> Fut,
        Fut: Future<Output = Result<T, Failed<E>>>,
    {
        let started = Instant::now();
        let mut number = 1;
        loop {
            let left = match self.limit {
                Limit::Within(deadline) => Some(deadline.saturating_sub(started.elapsed())),
                Limit::Tries(_) => None,
            };
            let (error, hint) = match attempt(Try { number, left }).await {
                Ok(value) => return Ok(value),
                Err(Failed::Final(error)) => return Err(error),
                Err(Failed::Retry(error, hint)) => (error, hint),
            };
            let pause = self.pause(number, hint);
            let pause = match self.limit {
                Limit::Tries(tries) if number >= tries.max(1) => return Err(error),
                Limit::Tries(_) => pause,
                Limit::Within(deadline) => {
                    // A try begun with less than `max` left could only time out, and its
                    // "timed out after 1 ms" would hide why the tries before it failed.
                    let left = deadline.saturating_sub(started.elapsed());
                    if left <= self.max {
                        return Err(error);
                    }
                    pause.min(left - self.max)
                }
            };
            tracing::debug!(number, ?pause, "trying again");
            tokio::time::sleep(pause).await;
            number += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn pauses_double_to_the_cap_and_a_hint_is_capped_too() {
        let b = Backoff::tries(4, Duration::from_millis(500), Duration::from_secs(3));
        let pauses: Vec<_> = (1..=4).map(|n| b.pause(n, None).as_millis()).collect();
        assert_eq!(pauses, [500, 1000, 2000, 3000]);
        assert_eq!(b.pause(1, Some(Duration::from_secs(60))), Duration::from_secs(3));
        assert_eq!(b.pause(1, Some(Duration::from_millis(10))), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn tries_are_counted_and_a_final_failure_ends_at_once() {
        let tried = AtomicU32::new(0);
        let b = Backoff::tries(3, Duration::from_millis(10), Duration::from_millis(40));
        let out: Result<(), u32> = b
            .run(|t| {
                tried.fetch_add(1, Ordering::SeqCst);
                async move { Err(Failed::Retry(t.number, None)) }
            })
            .await;
        assert_eq!((out, tried.load(Ordering::SeqCst)), (Err(3), 3));

        let out: Result<(), &str> = b.run(|_| async { Err(Failed::Final("no")) }).await;
        assert_eq!(out, Err("no"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_ends_the_polls_with_a_last_try_that_has_time_to_fail() {
        let started = Instant::now();
        let b = Backoff::polling(Duration::from_millis(200));
        let mut lefts = Vec::new();
        let out: Result<(), Duration> = b
            .run(|t| {
                lefts.push(t.left.unwrap());
                async move { Err(Failed::Retry(started.elapsed(), None)) }
            })
            .await;
        // 5, 10, 20, 40, then 50 ms apart, the last pause shortened so that 50 ms are left.
        assert_eq!(out, Err(Duration::from_millis(150)));
        assert_eq!(lefts.first(), Some(&Duration::from_millis(200)));
        assert_eq!(lefts.last(), Some(&Duration::from_millis(50)));
        assert!(lefts.len() < 10, "{lefts:?}");

        // A try that takes the time it is given ends the polls at the deadline.
        let out: Result<(), Duration> = b
            .run(|t| async move {
                tokio::time::sleep(t.left.unwrap()).await;
                Err(Failed::Retry(started.elapsed(), None))
            })
            .await;
        assert_eq!(out, Err(Duration::from_millis(350)));

        let out = b.run(|t| async move {
            if t.number == 3 {
                Ok(t.number)
            } else {
                Err(Failed::Retry((), None))
            }
        });
        assert_eq!(out.await, Ok(3));
    }
}
