//! The per-instance introspection caches behind the staleness faults. They
//! model how the Node service goes stale: each process caches answers, a
//! revoke clears the revoking process's own entry at once, and the other
//! processes learn of it only through an invalidation that can be lost.

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
// Tokio's clock, so that tests can pause and advance it.
use tokio::time::Instant;

use super::faults::{Faults, Misbehaviour};

const PRUNE_THRESHOLD: usize = 4_096;

/// The SHA-256 of a plaintext token: the caches' key (never the token itself).
pub type TokenKey = [u8; 32];

/// What introspection knows about an active token.
#[derive(Clone, Debug)]
pub struct ActiveToken {
    pub id: ObjectId,
    pub user_id: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// `revocation-lag`: every answer is cached for the lag. A revoke on this
/// instance evicts its entries and bumps `epoch`, so a lookup that raced the
/// revoke cannot cache a stale "active": only revokes through other
/// instances are seen late.
pub struct LagCache {
    lag: Option<Duration>,
    inner: Mutex<LagInner>,
}

#[derive(Default)]
struct LagInner {
    epoch: u64,
    entries: HashMap<TokenKey, (Instant, Option<ActiveToken>)>,
}

impl LagCache {
    pub fn new(lag: Option<Duration>) -> Self {
        Self { lag, inner: Mutex::new(LagInner::default()) }
    }

    /// `Some(answer)` when a fresh answer is cached.
    pub fn get(&self, key: &TokenKey) -> Option<Option<ActiveToken>> {
        let lag = self.lag?;
        let inner = locked(&self.inner);
        let (stored, answer) = inner.entries.get(key)?;
        (stored.elapsed() < lag).then(|| answer.clone())
    }

    pub fn epoch(&self) -> u64 {
        locked(&self.inner).epoch
    }

    pub fn put(&self, key: TokenKey, answer: Option<ActiveToken>, epoch: u64) {
        let Some(lag) = self.lag else { return };
        let mut inner = locked(&self.inner);
        if inner.epoch != epoch {
            return;
        }
        if inner.entries.len() >= PRUNE_THRESHOLD {
            inner.entries.retain(|_, (stored, _)| stored.elapsed() < lag);
        }
        inner.entries.insert(key, (Instant::now(), answer));
    }

    pub fn evict_token(&self, id: ObjectId) {
        if self.lag.is_none() {
            return;
        }
        let mut inner = locked(&self.inner);
        inner.epoch += 1;
        inner.entries.retain(|_, (_, answer)| answer.as_ref().is_none_or(|t| t.id != id));
    }
}

/// `stale-rate` / `stale-for` and `stale-once`: the instance remembers the
/// tokens it answered active. When the store later says a remembered token
/// is inactive, the instance may answer from memory instead:
/// - `stale-rate=R`: with probability R (drawn once per token) the
///   invalidation was lost, and the token stays active here for `stale-for`
///   after this instance last saw it active. A revoke through this instance
///   forgets the token at once, so only the other instances go stale.
/// - `stale-once`: the first such token answers active exactly once more,
///   whichever instance revoked it.
pub struct StaleMemory {
    rate: f64,
    window: Duration,
    once: bool,
    inner: Mutex<StaleInner>,
}

struct StaleInner {
    remembered: HashMap<TokenKey, Remembered>,
    once_fired: bool,
    draws: Draws,
}

/// Whether a token's invalidation is lost.
enum Draws {
    /// Seeded: decided by the seed and the token's user, so the same users
    /// (a seeded run's) lose the same invalidations in whatever order they come.
    Seeded(u64),
    Random(SmallRng),
}

impl Draws {
    fn lost(&mut self, token: &ActiveToken, rate: f64) -> bool {
        let unit = match self {
            Draws::Seeded(seed) => {
                let user = token
                    .user_id
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                (crate::hashing::splitmix(*seed ^ user) >> 11) as f64 / (1u64 << 53) as f64
            }
            Draws::Random(rng) => rng.random::<f64>(),
        };
        unit < rate
    }
}

struct Remembered {
    token: ActiveToken,
    seen_active: Instant,
    /// Whether this token's invalidation was lost; drawn when first needed.
    lost: Option<bool>,
}

impl StaleMemory {
    /// `None` when no staleness fault is on.
    pub fn new(faults: &Faults, seed: Option<u64>) -> Option<Self> {
        if !faults.remembers_active_tokens() {
            return None;
        }
        // Not the error-rate stream, so those draws stay reproducible request by request.
        let draws = match seed {
            Some(seed) => Draws::Seeded(seed ^ 0x5354_414c_455f_4d45),
            None => Draws::Random(SmallRng::from_os_rng()),
        };
        Some(StaleMemory {
            rate: faults.stale_rate,
            window: faults.stale_window(),
            once: faults.has(Misbehaviour::StaleOnce),
            inner: Mutex::new(StaleInner { remembered: HashMap::new(), once_fired: false, draws }),
        })
    }

    /// The store says `token` is active: remember it.
    pub fn seen_active(&self, key: TokenKey, token: &ActiveToken) {
        let mut inner = locked(&self.inner);
        if self.once && inner.once_fired && self.rate == 0.0 {
            return;
        }
        if inner.remembered.len() >= PRUNE_THRESHOLD {
            let keep_for = if self.once { Duration::from_secs(600) } else { self.window };
            inner.remembered.retain(|_, r| r.seen_active.elapsed() < keep_for);
        }
        let lost = inner.remembered.get(&key).and_then(|r| r.lost);
        inner.remembered.insert(key, Remembered { token: token.clone(), seen_active: Instant::now(), lost });
    }

    /// This instance revoked the token: under `stale-rate` it forgets it at
    /// once (unless `stale-once` has yet to fire, which spares no instance).
    pub fn revoked_here(&self, id: ObjectId) {
        let mut inner = locked(&self.inner);
        let once_pending = self.once && !inner.once_fired;
        if self.rate > 0.0 && !once_pending {
            inner.remembered.retain(|_, r| r.token.id != id);
        }
    }

    /// The store says `key` is not active. `Some` is the stale answer this
    /// instance gives instead, with the fault's name.
    pub fn stale_answer(&self, key: &TokenKey) -> Option<(ActiveToken, &'static str)> {
        let mut inner = locked(&self.inner);
        let inner = &mut *inner;
        let remembered = inner.remembered.get_mut(key)?;
        if self.once && !inner.once_fired {
            inner.once_fired = true;
            let token = remembered.token.clone();
            inner.remembered.remove(key);
            return Some((token, "stale-once"));
        }
        if self.rate > 0.0 {
            let rate = self.rate;
            let draws = &mut inner.draws;
            let token = &remembered.token;
            let lost = *remembered.lost.get_or_insert_with(|| draws.lost(token, rate));
            if lost && remembered.seen_active.elapsed() < self.window {
                return Some((remembered.token.clone(), "stale-rate"));
            }
        }
        inner.remembered.remove(key);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> ActiveToken {
        ActiveToken { id: ObjectId::new(), user_id: "u".into(), scopes: None, expires_at: None }
    }

    fn memory(spec: &str) -> StaleMemory {
        StaleMemory::new(&Faults::parse_all(&[spec]).unwrap(), Some(1)).unwrap()
    }

    #[test]
    fn no_staleness_fault_needs_no_memory() {
        assert!(StaleMemory::new(&Faults::default(), None).is_none());
        assert!(StaleMemory::new(&Faults::parse_all(&["revocation-lag=1s"]).unwrap(), None).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn the_lag_cache_answers_until_the_lag_has_passed_and_a_local_revoke_evicts() {
        let cache = LagCache::new(Some(Duration::from_secs(2)));
        let (key, t) = ([5; 32], token());
        cache.put(key, Some(t.clone()), cache.epoch());
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(cache.get(&key).is_some_and(|answer| answer.is_some()), "still within the lag");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(cache.get(&key).is_none(), "the lag has passed");

        cache.put(key, Some(t.clone()), cache.epoch());
        let before = cache.epoch();
        cache.evict_token(t.id);
        assert!(cache.get(&key).is_none());
        cache.put(key, Some(t), before);
        assert!(cache.get(&key).is_none(), "an answer looked up before the revoke is not cached");
        assert!(LagCache::new(None).get(&key).is_none(), "no lag, no cache");
    }

    #[test]
    fn stale_once_answers_the_first_revoked_token_once_and_never_again() {
        let m = memory("stale-once");
        let (a, b) = ([1; 32], [2; 32]);
        assert!(m.stale_answer(&a).is_none(), "never seen active: nothing to remember");
        m.seen_active(a, &token());
        m.revoked_here(token().id);
        assert_eq!(m.stale_answer(&a).map(|(_, fault)| fault), Some("stale-once"));
        assert!(m.stale_answer(&a).is_none(), "exactly once");
        m.seen_active(b, &token());
        assert!(m.stale_answer(&b).is_none(), "only the first revoked token");
    }

    #[test]
    fn stale_rate_one_keeps_other_instances_stale_for_the_window_only() {
        let m = memory("stale-rate=1,stale-for=1h");
        let key = [3; 32];
        let t = token();
        m.seen_active(key, &t);
        for _ in 0..3 {
            assert_eq!(m.stale_answer(&key).map(|(_, fault)| fault), Some("stale-rate"));
        }
        m.revoked_here(t.id);
        assert!(m.stale_answer(&key).is_none(), "the revoking instance forgets at once");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_rate_ends_when_the_window_has_passed() {
        let m = memory("stale-rate=1,stale-for=500ms");
        let (key, t) = ([6; 32], token());
        m.seen_active(key, &t);
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(m.stale_answer(&key).is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(m.stale_answer(&key).is_none(), "the window has passed");
    }

    #[test]
    fn stale_once_fires_on_the_revoking_instance_even_with_stale_rate() {
        let m = memory("stale-rate=1,stale-for=1h,stale-once");
        let (key, t) = ([4; 32], token());
        m.seen_active(key, &t);
        m.revoked_here(t.id);
        assert_eq!(m.stale_answer(&key).map(|(_, fault)| fault), Some("stale-once"));
        assert!(m.stale_answer(&key).is_none());
    }

    #[test]
    fn seeded_stale_rate_loses_the_same_users_in_any_order() {
        let lost = |order: Vec<u8>| {
            let m = memory("stale-rate=0.5,stale-for=1h");
            let mut lost: Vec<u8> = order
                .into_iter()
                .filter(|&n| {
                    let t = ActiveToken { user_id: format!("user{n}"), ..token() };
                    m.seen_active([n; 32], &t);
                    m.stale_answer(&[n; 32]).is_some()
                })
                .collect();
            lost.sort_unstable();
            lost
        };
        let forward = lost((0..50).collect());
        assert!(!forward.is_empty() && forward.len() < 50, "{forward:?}");
        assert_eq!(lost((0..50).rev().collect()), forward);
    }

    #[test]
    fn stale_rate_draws_once_per_token() {
        let m = memory("stale-rate=0.5,stale-for=1h");
        let mut stale = 0;
        for n in 0..200u8 {
            let key = [n; 32];
            // Seeded draws go by user: each token its own.
            let t = ActiveToken { user_id: format!("user{n}"), ..token() };
            m.seen_active(key, &t);
            let first = m.stale_answer(&key).is_some();
            if first {
                stale += 1;
                assert!(m.stale_answer(&key).is_some(), "a lost invalidation stays lost");
            }
        }
        assert!((60..140).contains(&stale), "{stale} of 200 at rate 0.5");
    }
}
