//! Reading a response's rate-limit headers: what a platform's
//! `X-RateLimit-*` mean ([`RateLimitDialect`]), `Retry-After`, and the
//! [`RateLimitInfo`] they amount to.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::clock;

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

    /// Reads the rate-limit headers of a response through `header`, which
    /// returns the value of the header it is asked for (by lowercase name),
    /// e.g. `|name| response.header(name)` for a [`Response`](crate::http::Response).
    pub fn parse<'a>(&self, header: impl Fn(&str) -> Option<&'a str>) -> RateLimitInfo {
        self.parse_answer(header, None)
    }

    /// [`parse`](Self::parse) for the answer to a request sent at `sent`.
    pub(crate) fn parse_answer<'a>(
        &self,
        header: impl Fn(&str) -> Option<&'a str>,
        sent: Option<Sent>,
    ) -> RateLimitInfo {
        let num = |name: &str| -> Option<u64> {
            header(name)?
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
                // Epoch ms (Rocket.Chat: the server's `Date.now()` plus the
                // limiter's time to reset): read on the system clock,
                // scheduled on tokio's.
                let at = UNIX_EPOCH + Duration::from_millis(raw);
                let on_arrival = now + cap(clock::until_system_time(at));
                // The server stamped it after the request left. Read against
                // the clocks of that moment (to the end of the header's
                // millisecond, which the server cut off), it names the same
                // instant whenever the system clock and tokio's advance
                // together: always, in production. Where they did not
                // (tokio's clock paused in tests while real time passed in
                // the exchange), the arrival reading falls short by that
                // real time and the departure one bounds it: with the
                // gate's margin, added to every reset, the wait never ends
                // before it.
                let on_departure = sent.map(|s| {
                    let wait = (at + Duration::from_millis(1))
                        .duration_since(s.system)
                        .unwrap_or_default();
                    (s.tokio + cap(wait))
                        .checked_sub(s.margin)
                        .unwrap_or(s.tokio)
                });
                on_departure.map_or(on_arrival, |d| d.max(on_arrival))
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
        let retry_after = header("retry-after").and_then(parse_retry_after).map(cap);
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

/// When a request left, on tokio's clock and on the system clock, and the
/// margin the gate will add to the reset its answer reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    tokio: Instant,
    system: SystemTime,
    margin: Duration,
}

impl Sent {
    /// Now, on both clocks, for a gate waking `margin` past each reset.
    pub(crate) fn now(margin: Duration) -> Self {
        Self {
            tokio: Instant::now(),
            system: SystemTime::now(),
            margin,
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
    // An HTTP-date is a wall-clock time: read it on the system clock.
    let at = httpdate::parse_http_date(value).ok()?;
    Some(clock::until_system_time(at))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A header lookup over `pairs` (names lowercase, as the client asks).
    fn headers<'a>(pairs: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rocketchat_reset_is_epoch_millis() {
        let real = std::time::Instant::now();
        let system = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let reset = system.unwrap().as_millis() as u64 + 42_000;
        let info = RateLimitDialect::ROCKETCHAT.parse(headers(&[
            ("x-ratelimit-limit", "10".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ]));
        assert_eq!(info.remaining, Some(0));
        // 42 s less the real time since the system clock was read, up to the
        // millisecond cut off.
        let wait = info.reset_at.unwrap() - Instant::now();
        let slack = real.elapsed() + Duration::from_millis(1);
        assert!(
            wait <= Duration::from_secs(42) && wait + slack >= Duration::from_secs(42),
            "{wait:?}"
        );
    }

    /// Regression: an absolute reset is read on the system clock, not on a
    /// clock that follows tokio's. After an hour of (paused) tokio time a
    /// clock anchored at process start plus tokio's elapsed time ran an hour
    /// ahead of the system clock and took a reset 42 s away for one long
    /// past: no wait at all, and a 429 from a real server.
    #[tokio::test(start_paused = true)]
    async fn epoch_reset_is_read_on_the_system_clock_not_tokios() {
        tokio::time::advance(Duration::from_secs(3600)).await;
        let real = std::time::Instant::now();
        let system_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let reset = system_ms + 42_000;
        let info = RateLimitDialect::ROCKETCHAT.parse(headers(&[
            ("x-ratelimit-limit", "10".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.to_string()),
        ]));
        let wait = info.reset_at.unwrap() - Instant::now();
        // 42 s less the real time that passed since the system clock was
        // read (tokio's clock stands still), up to the millisecond cut off.
        let slack = real.elapsed() + Duration::from_millis(1);
        assert!(
            wait <= Duration::from_secs(42) && wait + slack >= Duration::from_secs(42),
            "{wait:?}"
        );
        // The same for an HTTP-date `Retry-After`, whole seconds.
        let at = std::time::SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(at)).unwrap();
        assert!(
            d > Duration::from_secs(118) && d <= Duration::from_secs(120),
            "{d:?}"
        );
    }

    /// Real time that passes in the exchange while tokio's clock stands
    /// still (paused in tests) is not taken off the wait: read against the
    /// system clock at departure, the reset is 42 s after the departure's
    /// tokio instant (to the end of the header's millisecond), not 42 s less
    /// 30 ms; less the gate's margin, which the gate adds back.
    #[tokio::test(start_paused = true)]
    async fn an_epoch_reset_counts_from_departure_when_tokio_stood_still() {
        let system = SystemTime::now() - Duration::from_millis(30);
        let sent = |margin| Sent {
            tokio: Instant::now(),
            system,
            margin,
        };
        let reset = system.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(42);
        let pairs = [("x-ratelimit-reset", reset.as_millis().to_string())];
        let lookup = headers(&pairs);
        let ms = Duration::from_millis(1);
        let dialect = RateLimitDialect::ROCKETCHAT;
        for margin in [Duration::ZERO, Duration::from_millis(20)] {
            let departed = dialect.parse_answer(&lookup, Some(sent(margin)));
            let wait = departed.reset_at.unwrap() + margin - Instant::now();
            assert!(
                wait >= Duration::from_secs(42) && wait <= Duration::from_secs(42) + ms,
                "{margin:?}: {wait:?}"
            );
        }
        // Read on arrival alone, the 30 ms (and more) would be lost.
        let arrived = dialect.parse(&lookup);
        let lost = Duration::from_secs(42) - (arrived.reset_at.unwrap() - Instant::now());
        assert!(lost >= Duration::from_millis(29), "{lost:?}");
        // Never before the reading on arrival, and still capped.
        let far = (SystemTime::now() + Duration::from_secs(7200))
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let pairs = [("x-ratelimit-reset", far)];
        let capped = dialect.parse_answer(headers(&pairs), Some(sent(Duration::ZERO)));
        assert_eq!(capped.reset_at, Some(Instant::now() + MAX_HEADER_WAIT));
    }

    #[tokio::test(start_paused = true)]
    async fn garbage_headers_are_ignored_or_capped() {
        let info = RateLimitDialect::ROCKETCHAT.parse(headers(&[
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
}
