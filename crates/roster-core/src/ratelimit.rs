//! Client-side pacing: a `governor` keyed limiter (one bucket per endpoint)
//! and a gate driven by the server's `X-RateLimit-*` / `Retry-After` headers.
//!
//! The quota is GCRA, not a fixed window: `10 per 60 s` is a burst of 10
//! and then one call every 6 s, which a fixed-window server (Rocket.Chat)
//! rejects — the 11th call at t = 6 s lands in the same window. So the quota
//! is only a floor; the header gate decides from what the server says:
//! once a bucket's `remaining` reaches 0, further calls wait for the reset
//! instead of collecting 429s. Until a bucket has been heard from, the gate
//! lets one call through at a time to learn the server's state.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock;

/// A client-side quota: at most `calls` per `period`, per endpoint bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    calls: u32,
    period: Duration,
}

impl RateLimit {
    /// `calls` requests per `period` for each endpoint bucket, e.g.
    /// `RateLimit::per_endpoint(10, Duration::from_secs(60))` (Rocket.Chat's default).
    /// `calls == 0` or a zero period is treated as 1 call / 1 ms.
    pub fn per_endpoint(calls: u32, period: Duration) -> Self {
        Self {
            calls: calls.max(1),
            period: period.max(Duration::from_millis(1)),
        }
    }
    /// Calls allowed per period.
    pub fn calls(&self) -> u32 {
        self.calls
    }
    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
    fn quota(&self) -> Quota {
        let burst = NonZeroU32::new(self.calls).unwrap_or(NonZeroU32::MIN);
        let per_cell = (self.period / self.calls).max(Duration::from_nanos(1));
        Quota::with_period(per_cell)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:?}", self.calls, self.period)
    }
}

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

/// What a platform's `X-RateLimit-Reset` header means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetHeader {
    /// Epoch milliseconds when the window ends (Rocket.Chat).
    EpochMillis,
    /// Seconds until a token bucket is full again (Mattermost). The next
    /// token comes after about `reset / (limit − remaining)`, not after the
    /// full reset.
    SecondsUntilFull,
}

/// Where a platform applies its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketScope {
    /// One window per endpoint and method (Rocket.Chat).
    PerEndpoint,
    /// One bucket for the whole client (Mattermost: per client IP).
    Global,
}

/// How a platform reports rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDialect {
    /// Meaning of `X-RateLimit-Reset`.
    pub reset: ResetHeader,
    /// Where the server's limit applies.
    pub scope: BucketScope,
}

impl RateLimitDialect {
    /// Rocket.Chat: fixed window per endpoint, reset in epoch ms, no `Retry-After`.
    pub const ROCKETCHAT: Self = Self {
        reset: ResetHeader::EpochMillis,
        scope: BucketScope::PerEndpoint,
    };
    /// Mattermost: token bucket per client, reset in seconds until full.
    pub const MATTERMOST: Self = Self {
        reset: ResetHeader::SecondsUntilFull,
        scope: BucketScope::Global,
    };

    /// The gate key for an endpoint bucket under this dialect.
    pub(crate) fn gate_key<'a>(&self, bucket: &'a str) -> &'a str {
        match self.scope {
            BucketScope::PerEndpoint => bucket,
            BucketScope::Global => "*",
        }
    }

    /// Reads the rate-limit headers of a response.
    pub fn parse(&self, headers: &HeaderMap) -> RateLimitInfo {
        let num = |name: &str| -> Option<u64> {
            headers
                .get(name)?
                .to_str()
                .ok()?
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.min(u64::MAX as f64) as u64)
        };
        let limit = num("x-ratelimit-limit");
        let remaining = num("x-ratelimit-remaining");
        let reset_raw = num("x-ratelimit-reset");
        let now = Instant::now();
        // Never trust a reset further away than an hour: a garbage or skewed
        // header must not park the sync.
        let cap = |d: Duration| d.min(MAX_HEADER_WAIT);
        // Calls allowed once `reset_at` passes.
        let mut refill = limit;
        let mut current = false;
        let reset_at = match self.reset {
            ResetHeader::EpochMillis => reset_raw.map(|raw| {
                let wait = Duration::from_millis(raw.saturating_sub(clock::unix_millis()));
                now + cap(wait)
            }),
            ResetHeader::SecondsUntilFull => {
                // A token bucket: each answer describes the bucket as it is
                // now. Mattermost's limit is the burst, not the rate, and
                // the reset says when all `limit` tokens are back, so one
                // token takes about reset / (limit − remaining). The gate lets the
                // remaining calls go, then one call per token: never a
                // burst into an empty bucket.
                refill = Some(1);
                current = true;
                // The reset is rounded up to whole seconds, so reset over
                // the missing tokens is (almost) never shorter than a token.
                let missing = limit.map(|l| l.saturating_sub(remaining.unwrap_or(0)));
                let per_token = match (reset_raw, missing, limit) {
                    (Some(r), Some(m), _) if r > 0 && m > 0 => r as f64 / m as f64,
                    (_, _, Some(l)) if l > 0 => 1.0 / l as f64,
                    _ => 1.0,
                };
                (remaining.is_some() || reset_raw.is_some()).then(|| {
                    now + cap(Duration::from_secs_f64(
                        per_token.min(MAX_HEADER_WAIT.as_secs_f64()),
                    ))
                })
            }
        };
        let retry_after = headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .map(cap);
        RateLimitInfo {
            limit,
            remaining,
            reset_at,
            retry_after,
            refill,
            current,
        }
    }
}

/// The longest wait any header can impose.
pub const MAX_HEADER_WAIT: Duration = Duration::from_secs(3600);

/// Parses `Retry-After`: delta-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_HEADER_WAIT.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis()
        .min(u128::from(u64::MAX)) as u64;
    Some(Duration::from_millis(
        at_ms.saturating_sub(clock::unix_millis()),
    ))
}

/// What a response said about rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitInfo {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// When calls are allowed again (from `X-RateLimit-Reset`).
    pub reset_at: Option<Instant>,
    /// `Retry-After`.
    pub retry_after: Option<Duration>,
    /// Calls allowed once `reset_at` passes: the whole limit for a fixed
    /// window, one for a token bucket. `None`: the limit.
    pub refill: Option<u64>,
    /// The answer describes the limit as it is now (a token bucket), so its
    /// `remaining` replaces the gate's own count rather than capping it.
    pub current: bool,
}

impl RateLimitInfo {
    /// How long a rejected (429) call should wait before the next attempt.
    pub fn wait_after_rejection(&self) -> Option<Duration> {
        let now = Instant::now();
        let from_reset = self.reset_at.map(|t| t.saturating_duration_since(now));
        match (self.retry_after, from_reset) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum BucketState {
    /// Nothing heard yet: one probe at a time.
    Unknown { probing: bool },
    /// Responses carry no headers (e.g. a token that bypasses the limit).
    NoHeaders,
    /// A window the server described.
    Window {
        remaining: u64,
        reset_at: Option<Instant>,
        /// Calls allowed once `reset_at` passes.
        limit: Option<u64>,
    },
}

#[derive(Debug)]
struct Bucket {
    state: BucketState,
    in_flight: u64,
    /// The last `X-RateLimit-Limit` seen.
    reported_limit: Option<u64>,
    /// The longest time to a reset any answer announced: the window length
    /// or a little less (exactly it when the answer opened the window).
    longest_reset: Option<Duration>,
}

/// Paces calls by what the server's rate-limit headers say.
#[derive(Debug, Default)]
pub(crate) struct HeaderGate {
    buckets: Mutex<HashMap<String, Bucket>>,
    notify: Notify,
    margin: Duration,
}

/// Extra time added after a reset, for clock skew between client and server.
pub const DEFAULT_RESET_MARGIN: Duration = Duration::from_millis(50);

impl HeaderGate {
    /// A gate waking `margin` after each reported reset.
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            buckets: Mutex::default(),
            notify: Notify::new(),
            margin,
        }
    }

    /// Waits until the server's last word allows a call in `key`, then
    /// counts the call as in flight. Returns the time waited. Every `wait`
    /// must be followed by [`observe`](Self::observe) or [`release`](Self::release).
    #[cfg(test)]
    pub(crate) async fn wait(
        &self,
        key: &str,
        on_wait: &(dyn Fn(Duration) + Send + Sync),
    ) -> Duration {
        self.wait_assuming(key, false, on_wait).await
    }

    /// [`wait`](Self::wait), but with `unknown_is_free` a bucket nothing
    /// was heard from yet lets every call through at once instead of one
    /// probe (for a token known to bypass the server's limit). The first
    /// answer with headers turns the bucket into a paced window at once.
    pub(crate) async fn wait_assuming(
        &self,
        key: &str,
        unknown_is_free: bool,
        on_wait: &(dyn Fn(Duration) + Send + Sync),
    ) -> Duration {
        let start = Instant::now();
        let mut slept = false;
        let waited = move |slept: bool| {
            // Zero unless it waited: callers count non-zero waits.
            if slept {
                start.elapsed()
            } else {
                Duration::ZERO
            }
        };
        loop {
            let notified = self.notify.notified();
            let sleep_until = {
                let mut buckets = self.buckets.lock().expect("gate lock");
                let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
                    state: BucketState::Unknown { probing: false },
                    in_flight: 0,
                    reported_limit: None,
                    longest_reset: None,
                });
                let now = Instant::now();
                match &mut bucket.state {
                    BucketState::Unknown { .. } if unknown_is_free => {
                        bucket.in_flight += 1;
                        return waited(slept);
                    }
                    BucketState::Unknown { probing } => {
                        if *probing {
                            None
                        } else {
                            *probing = true;
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                    }
                    BucketState::NoHeaders => {
                        bucket.in_flight += 1;
                        return waited(slept);
                    }
                    BucketState::Window {
                        remaining,
                        reset_at,
                        limit,
                    } => {
                        if reset_at.is_some_and(|t| now >= t + self.margin) {
                            // The window ended: a new one allows `limit` calls
                            // (or one probe when the limit is unknown).
                            *remaining = limit.unwrap_or(1);
                            *reset_at = None;
                        }
                        if *remaining > 0 {
                            *remaining -= 1;
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                        if reset_at.is_none() && bucket.in_flight == 0 {
                            // Nothing in flight will tell us about the new
                            // window: let one call through to ask.
                            bucket.in_flight += 1;
                            return waited(slept);
                        }
                        reset_at.map(|t| t + self.margin)
                    }
                }
            };
            slept = true;
            match sleep_until {
                Some(t) => {
                    on_wait(t.saturating_duration_since(Instant::now()));
                    // A response may shorten the wait (a token bucket
                    // refilling, a count corrected): look again then.
                    tokio::select! {
                        () = tokio::time::sleep_until(t) => {}
                        () = notified => {}
                    }
                }
                // Wait for a response to tell us more (bounded, in case the
                // call in flight never reports).
                None => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), notified).await;
                }
            }
        }
    }

    /// Records what a response in `key` said and ends its in-flight count.
    /// `rejected` is true for a 429.
    pub(crate) fn observe(&self, key: &str, info: &RateLimitInfo, rejected: bool) {
        {
            let mut buckets = self.buckets.lock().expect("gate lock");
            let Some(bucket) = buckets.get_mut(key) else {
                return;
            };
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
            bucket.reported_limit = info.limit.or(bucket.reported_limit);
            let others = bucket.in_flight;
            let now = Instant::now();
            if let Some(reset_at) = info.reset_at.filter(|_| !info.current) {
                let d = reset_at.saturating_duration_since(now);
                bucket.longest_reset = Some(bucket.longest_reset.map_or(d, |l| l.max(d)));
            }
            if rejected {
                let reset_at = info
                    .wait_after_rejection()
                    .map(|w| now + w)
                    .or(Some(now + Duration::from_secs(1)));
                let limit = info.refill.or(info.limit).or(match bucket.state {
                    BucketState::Window { limit, .. } => limit,
                    _ => None,
                });
                bucket.state = BucketState::Window {
                    remaining: 0,
                    reset_at,
                    limit,
                };
            } else if let (Some(server_remaining), true) = (info.remaining, info.current) {
                let fresh = server_remaining.saturating_sub(others);
                let remaining = match bucket.state {
                    // No token can have come back since the last answer:
                    // answers overtaking each other must not raise the
                    // count.
                    BucketState::Window {
                        remaining,
                        reset_at: Some(next_token),
                        ..
                    } if now < next_token => remaining.min(fresh),
                    _ => fresh,
                };
                bucket.state = BucketState::Window {
                    remaining,
                    reset_at: info.reset_at,
                    limit: info.refill.or(info.limit),
                };
            } else if let Some(server_remaining) = info.remaining {
                // Our own count of a window already includes the calls in
                // flight; the server's does not (yet), so it is compared as
                // is. Only a count we do not have is derived from the
                // server's, minus the calls in flight.
                bucket.state = match bucket.state {
                    BucketState::Window {
                        remaining,
                        reset_at: Some(old),
                        limit,
                    } if info
                        .reset_at
                        .is_none_or(|new| new <= old + Duration::from_millis(500)) =>
                    {
                        // Same window: trust whichever count is lower.
                        BucketState::Window {
                            remaining: remaining.min(server_remaining),
                            reset_at: Some(old),
                            limit: info.refill.or(info.limit).or(limit),
                        }
                    }
                    BucketState::Window { reset_at: None, .. }
                        if info.reset_at.is_some_and(|r| r <= now) =>
                    {
                        // An answer from the window that already ended: our
                        // count of the new one stands.
                        bucket.state
                    }
                    BucketState::Window {
                        remaining,
                        reset_at: None,
                        limit,
                    } => {
                        // The first answer of a window we opened after the
                        // last reset, counting every call since.
                        BucketState::Window {
                            remaining: remaining.min(server_remaining),
                            reset_at: info.reset_at,
                            limit: info.refill.or(info.limit).or(limit),
                        }
                    }
                    _ => BucketState::Window {
                        remaining: server_remaining.saturating_sub(others),
                        reset_at: info.reset_at,
                        limit: info.refill.or(info.limit),
                    },
                };
            } else if let BucketState::Unknown { .. } = bucket.state {
                bucket.state = BucketState::NoHeaders;
            }
        }
        self.notify.notify_waiters();
    }

    /// Ends the in-flight count of a call that got no response.
    pub(crate) fn release(&self, key: &str) {
        {
            let mut buckets = self.buckets.lock().expect("gate lock");
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.in_flight = bucket.in_flight.saturating_sub(1);
                if let BucketState::Unknown { probing } = &mut bucket.state {
                    *probing = false;
                }
            }
        }
        self.notify.notify_waiters();
    }

    /// Whether the server has sent rate-limit headers for `key`
    /// (`None` when nothing was heard yet).
    pub(crate) fn is_limited(&self, key: &str) -> Option<bool> {
        let buckets = self.buckets.lock().expect("gate lock");
        match buckets.get(key).map(|b| b.state) {
            None | Some(BucketState::Unknown { .. }) => None,
            Some(BucketState::NoHeaders) => Some(false),
            Some(BucketState::Window { .. }) => Some(true),
        }
    }

    /// The last limit the server reported for `key`.
    pub(crate) fn reported_limit(&self, key: &str) -> Option<u64> {
        let buckets = self.buckets.lock().expect("gate lock");
        buckets.get(key).and_then(|b| b.reported_limit)
    }

    /// The longest time to a window's end the server announced for `key`
    /// (fixed windows only): the window length, or a little less when the
    /// window was opened by someone else's call.
    pub(crate) fn reported_window(&self, key: &str) -> Option<Duration> {
        let buckets = self.buckets.lock().expect("gate lock");
        buckets.get(key).and_then(|b| b.longest_reset)
    }
}

/// The fastest a fixed-window server lets `requests` calls through at
/// `limit` per `window`: `(ceil(requests / limit) − 1) × window` (the first
/// window's calls go at once, then one full window per further batch).
pub fn fixed_window_lower_bound(requests: u64, limit: u64, window: Duration) -> Duration {
    if requests == 0 || limit == 0 {
        return Duration::ZERO;
    }
    let windows = requests.div_ceil(limit) - 1;
    window.saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX))
}

/// How a client paces its calls (besides the server's headers, which
/// always pace, and 429s, which are always waited out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitMode {
    /// Learn from the server, per endpoint bucket:
    ///
    /// * nothing known yet (first call, no headers seen, bypass not known):
    ///   the platform's stock quota (the `safe` one, e.g. Rocket.Chat's 10
    ///   per 60 s);
    /// * answers carry `X-RateLimit-*`: the server's own numbers pace (the
    ///   header gate), no client quota;
    /// * answers carry no headers and the token is known to bypass the
    ///   limit ([`HttpClient::set_bypasses_rate_limit`](crate::HttpClient::set_bypasses_rate_limit)):
    ///   no client quota.
    ///
    /// A change mid-sync (headers or a 429 on a bypassing token) switches at
    /// once.
    Auto {
        /// The quota used while nothing better is known.
        safe: RateLimit,
    },
    /// No client quota.
    Off,
    /// A hard floor: never more than this per endpoint bucket, whatever
    /// the server says.
    Fixed(RateLimit),
}

impl RateLimitMode {
    /// The governor quota this mode needs: the floor, the safe fallback, or
    /// none.
    pub fn quota(&self) -> Option<RateLimit> {
        match *self {
            Self::Auto { safe } => Some(safe),
            Self::Off => None,
            Self::Fixed(q) => Some(q),
        }
    }
    /// `Fixed(q)` for `Some(q)`, `Off` for `None`.
    pub fn from_quota(quota: Option<RateLimit>) -> Self {
        quota.map_or(Self::Off, Self::Fixed)
    }
}

impl fmt::Display for RateLimitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto { safe } => write!(f, "auto (until the server tells: {safe})"),
            Self::Off => f.write_str("off"),
            Self::Fixed(q) => write!(f, "{q}"),
        }
    }
}

/// One server's rate-limit state, shareable by several clients (several
/// connectors or syncs of the same server in one process): a `governor`
/// keyed limiter for the client quota and the header gate's view of the
/// server's windows, both keyed by host and endpoint. Clients built with
/// it ([`HttpClient::with_shared_limiter`](crate::HttpClient::with_shared_limiter))
/// count every call against the same windows, so together they stay
/// within the server's limit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedLimiter {
    limiter: Arc<dyn Limiter>,
    gate: Arc<HeaderGate>,
}

impl SharedLimiter {
    /// A limiter whose client quota (used by clients in `Fixed` or `Auto`
    /// mode) is `quota` per endpoint bucket, e.g. Rocket.Chat's stock
    /// 10 per 60 s.
    pub fn new(quota: RateLimit) -> Self {
        Self {
            limiter: Arc::new(GovernorLimiter::new(quota)),
            gate: Arc::new(HeaderGate::new(DEFAULT_RESET_MARGIN)),
        }
    }
}

/// A shared, cloneable handle to the limiter pieces one client uses.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    /// The client-side quota (or [`Unlimited`]).
    pub(crate) limiter: Arc<dyn Limiter>,
    /// The header gate.
    pub(crate) gate: Arc<HeaderGate>,
    /// How to read the headers.
    pub(crate) dialect: RateLimitDialect,
}

impl Pacer {
    /// The pieces of `shared` under `dialect`.
    pub(crate) fn shared(shared: &SharedLimiter, dialect: RateLimitDialect) -> Self {
        Self {
            limiter: shared.limiter.clone(),
            gate: shared.gate.clone(),
            dialect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use reqwest::header::HeaderValue;

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
        let gate = HeaderGate::new(Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        gate.observe("b", &RateLimitInfo::default(), false);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn governor_acquire_sleeps_on_tokio_time() {
        let lim = GovernorLimiter::new(RateLimit::per_endpoint(2, Duration::from_secs(10)));
        assert_eq!(lim.acquire("a", &ignore_wait).await, Duration::ZERO);
        assert_eq!(lim.acquire("a", &ignore_wait).await, Duration::ZERO);
        let waited = lim.acquire("a", &ignore_wait).await;
        assert!(waited >= Duration::from_secs(5), "{waited:?}");
    }

    fn headers(pairs: &[(&str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn rocketchat_reset_is_epoch_millis() {
        let reset = clock::unix_millis() + 42_000;
        let info = RateLimitDialect::ROCKETCHAT.parse(&headers(&[
            ("x-ratelimit-limit", "10".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ]));
        assert_eq!(info.remaining, Some(0));
        assert_eq!(
            info.reset_at.unwrap() - Instant::now(),
            Duration::from_secs(42)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn garbage_headers_are_ignored_or_capped() {
        let info = RateLimitDialect::ROCKETCHAT.parse(&headers(&[
            ("x-ratelimit-remaining", "-3".into()),
            ("x-ratelimit-reset", "99999999999999999999999".into()),
            ("retry-after", "soon".into()),
        ]));
        assert_eq!(info.remaining, None);
        assert!(info.reset_at.unwrap() - Instant::now() <= MAX_HEADER_WAIT);
        assert_eq!(info.retry_after, None);
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let future = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(future)).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(121),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("garbage"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn gate_waits_for_reset_when_remaining_is_zero() {
        let gate = HeaderGate::new(Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let reset_at = Instant::now() + Duration::from_secs(30);
        let info = RateLimitInfo {
            limit: Some(2),
            remaining: Some(1),
            reset_at: Some(reset_at),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, false);
        // One call left in this window, then a wait until the reset.
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        gate.release("b");
        let waited = gate.wait("b", &ignore_wait).await;
        assert_eq!(waited, Duration::from_secs(30));
        // After the reset the new window allows `limit` calls.
        gate.release("b");
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let g = Arc::new(gate);
        let g2 = g.clone();
        let third = tokio::spawn(async move { g2.wait("b", &ignore_wait).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!third.is_finished(), "the new window's 2 calls are used up");
        // A call ending without a response leaves nothing in flight: one
        // more call may go and ask.
        g.release("b");
        third.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn gate_probes_one_call_until_heard_from() {
        let gate = Arc::new(HeaderGate::new(Duration::ZERO));
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        let g = gate.clone();
        let second = tokio::spawn(async move { g.wait("b", &ignore_wait).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !second.is_finished(),
            "a second call must wait for the probe"
        );
        gate.observe("b", &RateLimitInfo::default(), false);
        second.await.unwrap();
        assert_eq!(gate.is_limited("b"), Some(false));
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_are_not_counted_twice() {
        // A fixed window of 10: after the reset, 8 calls go at once; the
        // first answer read was the server's 5th (remaining 5). Our own
        // count (2 left) already includes the 7 still in flight.
        let gate = HeaderGate::new(Duration::ZERO);
        gate.wait("b", &ignore_wait).await;
        let reset_at = Instant::now() + Duration::from_secs(1);
        let exhausted = RateLimitInfo {
            limit: Some(10),
            remaining: Some(0),
            reset_at: Some(reset_at),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &exhausted, false);
        tokio::time::sleep_until(reset_at).await;
        for _ in 0..8 {
            assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        }
        let info = RateLimitInfo {
            limit: Some(10),
            remaining: Some(5),
            reset_at: Some(reset_at + Duration::from_secs(1)),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, false);
        // Two more calls fit this window, the third waits for its end.
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::ZERO);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn rejection_waits_for_reset() {
        let gate = HeaderGate::new(Duration::ZERO);
        gate.wait("b", &ignore_wait).await;
        let info = RateLimitInfo {
            limit: Some(10),
            remaining: Some(0),
            reset_at: Some(Instant::now() + Duration::from_secs(12)),
            retry_after: None,
            refill: None,
            current: false,
        };
        gate.observe("b", &info, true);
        assert_eq!(gate.wait("b", &ignore_wait).await, Duration::from_secs(12));
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_buckets_are_free_for_a_bypassing_token_until_headers_come() {
        let gate = Arc::new(HeaderGate::new(Duration::ZERO));
        // Eight calls at once, no probe: nothing is known and the token
        // bypasses the limit.
        for _ in 0..8 {
            assert_eq!(
                gate.wait_assuming("b", true, &ignore_wait).await,
                Duration::ZERO
            );
        }
        // The first answer carries headers: the bucket is a window now,
        // counted down from the server's remaining minus the calls in
        // flight (7 more answers to come).
        let reset_at = Instant::now() + Duration::from_secs(10);
        gate.observe(
            "b",
            &RateLimitInfo {
                limit: Some(10),
                remaining: Some(9),
                reset_at: Some(reset_at),
                ..RateLimitInfo::default()
            },
            false,
        );
        assert_eq!(gate.is_limited("b"), Some(true));
        assert_eq!(gate.reported_window("b"), Some(Duration::from_secs(10)));
        for _ in 0..2 {
            assert_eq!(
                gate.wait_assuming("b", true, &ignore_wait).await,
                Duration::ZERO
            );
        }
        assert_eq!(
            gate.wait_assuming("b", true, &ignore_wait).await,
            Duration::from_secs(10),
            "the window is spent: wait for its reset"
        );
    }

    #[test]
    fn modes_name_their_quota() {
        let q = RateLimit::per_endpoint(10, Duration::from_secs(60));
        assert_eq!(RateLimitMode::Auto { safe: q }.quota(), Some(q));
        assert_eq!(RateLimitMode::Off.quota(), None);
        assert_eq!(RateLimitMode::from_quota(Some(q)), RateLimitMode::Fixed(q));
        assert_eq!(RateLimitMode::from_quota(None), RateLimitMode::Off);
        assert!(
            RateLimitMode::Auto { safe: q }
                .to_string()
                .starts_with("auto")
        );
    }

    #[test]
    fn lower_bound_arithmetic() {
        let w = Duration::from_secs(60);
        assert_eq!(fixed_window_lower_bound(0, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(10, 10, w), Duration::ZERO);
        assert_eq!(fixed_window_lower_bound(11, 10, w), w);
        assert_eq!(fixed_window_lower_bound(5000, 10, w), w * 499);
    }
}
