//! Counters of one client: requests, retries, 429s, rate-limit waits.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters shared by every request of a client.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    waits: AtomicU64,
    wait_ms: AtomicU64,
    by_bucket: Mutex<BTreeMap<String, u64>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// HTTP requests sent.
    pub requests: u64,
    /// Requests that repeated an earlier one.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Times a call waited for a rate limit (client quota or server headers).
    pub rate_limit_waits: u64,
    /// Total time spent waiting for rate limits.
    pub rate_limit_wait: Duration,
    /// Requests per endpoint bucket.
    pub requests_by_endpoint: BTreeMap<String, u64>,
}

impl StatsSnapshot {
    /// The counts since `earlier` (for a client shared across syncs).
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let mut by = self.requests_by_endpoint.clone();
        for (k, v) in by.iter_mut() {
            *v -= earlier.requests_by_endpoint.get(k).copied().unwrap_or(0);
        }
        by.retain(|_, v| *v > 0);
        StatsSnapshot {
            requests: self.requests - earlier.requests,
            retries: self.retries - earlier.retries,
            rate_limited: self.rate_limited - earlier.rate_limited,
            rate_limit_waits: self.rate_limit_waits - earlier.rate_limit_waits,
            rate_limit_wait: self.rate_limit_wait.saturating_sub(earlier.rate_limit_wait),
            requests_by_endpoint: by,
        }
    }
}

impl Stats {
    pub(crate) fn request(&self, bucket: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .by_bucket
            .lock()
            .expect("stats lock")
            .entry(bucket.to_owned())
            .or_default() += 1;
    }
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn waited(&self, d: Duration) {
        if !d.is_zero() {
            self.waits.fetch_add(1, Ordering::Relaxed);
            self.wait_ms
                .fetch_add(d.as_millis() as u64, Ordering::Relaxed);
        }
    }
    /// The counters now.
    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            rate_limit_waits: self.waits.load(Ordering::Relaxed),
            rate_limit_wait: Duration::from_millis(self.wait_ms.load(Ordering::Relaxed)),
            requests_by_endpoint: self.by_bucket.lock().expect("stats lock").clone(),
        }
    }
}
