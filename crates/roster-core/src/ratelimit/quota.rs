//! [`RateLimit`]: a client-side quota, `calls` per `period` per endpoint
//! bucket, and the `governor` quota it stands for.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;

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
    pub(super) fn quota(&self) -> Quota {
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
