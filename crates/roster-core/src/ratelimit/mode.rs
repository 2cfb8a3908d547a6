//! [`RateLimitMode`]: how a client paces its calls besides the server's
//! headers: learn from the server, no client quota, or a fixed floor.

use std::fmt;

use super::quota::RateLimit;

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
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

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
}
