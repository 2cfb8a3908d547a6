//! Sources of permits for the client quota: the [`Limiter`] trait,
//! [`Unlimited`], and [`GovernorLimiter`] (GCRA per endpoint bucket) on
//! [`TokioClock`], so waits follow tokio's (pausable) clock.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use governor::RateLimiter;
use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use tokio::time::Instant;

use super::quota::RateLimit;

/// A source of permits, keyed by endpoint bucket. Behind a trait so a shared
/// backend (e.g. Redis, for a fleet behind one IP) can replace the in-process
/// one.
#[async_trait]
pub trait Limiter: Send + Sync + fmt::Debug {
    /// Waits until a call in `bucket` is allowed; returns how long it waited.
    /// `on_wait` is told each wait before it starts (for progress displays).
    async fn acquire(&self, bucket: &str, on_wait: &(dyn Fn(Duration) + Send + Sync)) -> Duration;
}

/// An `on_wait` callback that ignores waits.
#[cfg(test)]
pub(crate) fn ignore_wait(_: Duration) {}

/// No client-side limit (the server's headers still pace via the gate).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

#[async_trait]
impl Limiter for Unlimited {
    async fn acquire(
        &self,
        _bucket: &str,
        _on_wait: &(dyn Fn(Duration) + Send + Sync),
    ) -> Duration {
        Duration::ZERO
    }
}

/// A governor clock that follows tokio's clock, so waits work under
/// `tokio::time::pause()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = std::time::Instant;
    fn now(&self) -> Self::Instant {
        Instant::now().into_std()
    }
}

/// A `governor` keyed limiter: one GCRA bucket per endpoint, shared by every
/// task of a sync and shareable across syncs (`Arc`).
pub struct GovernorLimiter<C: Clock = TokioClock> {
    limiter: RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    quota: RateLimit,
}

impl<C: Clock> fmt::Debug for GovernorLimiter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GovernorLimiter")
            .field("quota", &self.quota)
            .finish()
    }
}

impl GovernorLimiter<TokioClock> {
    /// A limiter with `quota` per bucket on tokio's clock.
    pub fn new(quota: RateLimit) -> Self {
        Self::with_clock(quota, TokioClock)
    }
}

impl<C: Clock + Clone> GovernorLimiter<C> {
    /// A limiter on a custom clock (e.g. `governor::clock::FakeRelativeClock` in tests).
    pub fn with_clock(quota: RateLimit, clock: C) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota.quota(), clock.clone()),
            clock,
            quota,
        }
    }

    /// Takes a permit now, or says how long until one is available.
    pub fn try_acquire(&self, bucket: &str) -> Result<(), Duration> {
        let key = bucket.to_owned();
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// The configured quota.
    pub fn quota(&self) -> RateLimit {
        self.quota
    }
}

#[async_trait]
impl<C> Limiter for GovernorLimiter<C>
where
    C: Clock + Clone + Send + Sync,
    C::Instant: Reference,
{
    async fn acquire(&self, bucket: &str, on_wait: &(dyn Fn(Duration) + Send + Sync)) -> Duration {
        // governor's own async wait sleeps on real time; owning the loop lets
        // tokio's (pausable) clock drive it.
        let start = Instant::now();
        let mut slept = false;
        while let Err(wait) = self.try_acquire(bucket) {
            slept = true;
            let wait = wait.max(Duration::from_millis(1));
            on_wait(wait);
            tokio::time::sleep(wait).await;
        }
        // Zero unless it waited: callers count non-zero waits.
        if slept {
            start.elapsed()
        } else {
            Duration::ZERO
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn governor_quota_is_a_burst_then_a_trickle() {
        let clock = FakeRelativeClock::default();
        let lim = GovernorLimiter::with_clock(
            RateLimit::per_endpoint(10, Duration::from_secs(60)),
            clock.clone(),
        );
        for _ in 0..10 {
            assert!(lim.try_acquire("GET /users.list").is_ok());
        }
        let wait = lim.try_acquire("GET /users.list").unwrap_err();
        assert_eq!(wait, Duration::from_secs(6));
        // Other buckets are independent.
        assert!(lim.try_acquire("GET /teams.members").is_ok());
        clock.advance(Duration::from_secs(6));
        assert!(lim.try_acquire("GET /users.list").is_ok());
        assert!(lim.try_acquire("GET /users.list").is_err());
    }

    #[tokio::test]
    async fn calls_that_do_not_wait_report_zero_on_real_time() {
        // Regression: `start.elapsed()` is never zero on a running clock, so
        // every call used to count as a rate-limit wait.
        let lim = GovernorLimiter::new(RateLimit::per_endpoint(5, Duration::from_secs(1)));
        assert_eq!(lim.acquire("a", &ignore_wait).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn governor_acquire_sleeps_on_tokio_time() {
        let lim = GovernorLimiter::new(RateLimit::per_endpoint(2, Duration::from_secs(10)));
        assert_eq!(lim.acquire("a", &ignore_wait).await, Duration::ZERO);
        assert_eq!(lim.acquire("a", &ignore_wait).await, Duration::ZERO);
        let waited = lim.acquire("a", &ignore_wait).await;
        assert!(waited >= Duration::from_secs(5), "{waited:?}");
    }
}
