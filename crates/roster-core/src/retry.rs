//! Retry policy: exponential backoff with jitter, bounded in attempts and
//! total delay, built on `backon` (not `backoff`, which is unmaintained —
//! RUSTSEC-2025-0012; see `docs/adr/0001-backon-not-backoff.md`).

use std::time::Duration;

use backon::ExponentialBuilder;

/// How failed requests are repeated.
///
/// Only errors for which [`Error::is_retryable`](crate::Error::is_retryable)
/// holds are retried (429, 5xx except 501, resets, timeouts, garbled bodies);
/// a 429 waits at least what the server asked.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// First delay.
    pub min_delay: Duration,
    /// Longest single backoff delay (a server-requested wait may be longer).
    pub max_delay: Duration,
    /// Upper bound on the sum of backoff delays for one request. The
    /// request's whole time budget, server-requested waits included, is
    /// [`ClientOptions::request_budget`](crate::ClientOptions::request_budget).
    pub max_total_delay: Duration,
    /// Seed for the jitter (tests); `None` seeds from the OS.
    pub jitter_seed: Option<u64>,
}

/// Builder-style setters: `RetryPolicy::default()` and change what differs.
impl RetryPolicy {
    /// Sets the `max_retries` field.
    #[must_use]
    pub fn max_retries(mut self, max_retries: usize) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the `min_delay` field.
    #[must_use]
    pub fn min_delay(mut self, min_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self
    }

    /// Sets the `max_delay` field.
    #[must_use]
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// Sets the `max_total_delay` field.
    #[must_use]
    pub fn max_total_delay(mut self, max_total_delay: Duration) -> Self {
        self.max_total_delay = max_total_delay;
        self
    }

    /// Sets the `jitter_seed` field.
    #[must_use]
    pub fn jitter_seed(mut self, jitter_seed: Option<u64>) -> Self {
        self.jitter_seed = jitter_seed;
        self
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_delay: Duration::from_secs(15 * 60),
            jitter_seed: None,
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backon builder for one request (a fresh backoff each time).
    pub fn backoff(&self) -> ExponentialBuilder {
        let builder = ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.max_total_delay))
            .with_factor(2.0);
        match self.jitter_seed {
            Some(seed) => builder.with_jitter().with_jitter_seed(seed),
            None => builder.with_jitter(),
        }
    }

    /// The delay to use after an error: the planned backoff, lengthened to at
    /// least what the server asked. Never turns an exhausted backoff (`None`)
    /// into another attempt, so a server that keeps asking cannot keep the
    /// client retrying forever.
    pub(crate) fn adjust(
        server_wait: Option<Duration>,
        planned: Option<Duration>,
    ) -> Option<Duration> {
        match (planned, server_wait) {
            (Some(p), Some(w)) => Some(p.max(w)),
            (p, _) => p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjust_only_lengthens() {
        let s = Duration::from_secs;
        assert_eq!(RetryPolicy::adjust(Some(s(10)), Some(s(1))), Some(s(10)));
        assert_eq!(RetryPolicy::adjust(Some(s(1)), Some(s(4))), Some(s(4)));
        assert_eq!(RetryPolicy::adjust(None, Some(s(4))), Some(s(4)));
        assert_eq!(RetryPolicy::adjust(Some(s(10)), None), None);
    }
}
