//! The request counters: requests, retries, 429s, rate-limit waits.
//!
//! [`RequestCounts`] is the one type that holds them, from the client that
//! counts to the snapshot that records them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a client's requests amounted to: requests sent, retries, 429s,
/// rate-limit waits, requests per endpoint.
///
/// One type everywhere the counters go:
/// [`HttpClient::stats`](crate::HttpClient::stats) returns it,
/// [`Summary::stats`](crate::Summary#structfield.stats) holds it (the
/// engine copies it there in one assignment, see [`RequestCounts::since`]),
/// the summary line writes its keys, the CLI's SQLite sink stores each
/// serialised key as a `meta` row of the same name and reads the rows back
/// through [`Deserialize`], and a summary built by hand (the testkit's,
/// [`Summary::new`](crate::Summary::new)) starts from its `Default`.
///
/// # Serialised form
///
/// The field names are the summary line's keys (`roster-snapshot/1`), in
/// field order. The contract's `requests`, `retries` and `rate_limited` are
/// required and come before the summary's `warnings`; every other counter
/// is one of roster's optional extensions and comes after it, before
/// `elapsed_ms`. Values are JSON numbers or objects.
///
/// # Adding a counter
///
/// A new counter touches this file only: a field here (last, with
/// `#[serde(default)]` so that older snapshots still load), its line in
/// [`RequestCounts::since`], and the method of the client's counters that
/// records it. The summary line, the engine, the SQLite sink (a `meta` row
/// named after the field, its value the field's JSON) and the testkit
/// follow without a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestCounts {
    /// HTTP requests sent.
    pub requests: u64,
    /// Requests that repeated an earlier one.
    pub retries: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Requests per endpoint bucket (extension; omitted when empty).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests_by_endpoint: BTreeMap<String, u64>,
    /// Total time spent waiting for rate limits (client quota or server
    /// headers), in milliseconds, summed over calls waiting at the same
    /// time (extension).
    #[serde(default)]
    pub rate_limit_wait_ms: u64,
    /// Calls that waited for a rate limit (extension).
    #[serde(default)]
    pub rate_limit_waits: u64,
}

impl RequestCounts {
    /// The keys of the `roster-snapshot/1` contract, which the summary line
    /// writes before `warnings`; every other key is an extension, written
    /// after it. A new counter is always an extension.
    pub(crate) const CONTRACT_KEYS: [&'static str; 3] = ["requests", "retries", "rate_limited"];

    /// The counts since `earlier` (for a client shared across syncs).
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let mut by = self.requests_by_endpoint.clone();
        for (k, v) in by.iter_mut() {
            *v = v.saturating_sub(earlier.requests_by_endpoint.get(k).copied().unwrap_or(0));
        }
        by.retain(|_, v| *v > 0);
        RequestCounts {
            requests: self.requests.saturating_sub(earlier.requests),
            retries: self.retries.saturating_sub(earlier.retries),
            rate_limited: self.rate_limited.saturating_sub(earlier.rate_limited),
            requests_by_endpoint: by,
            rate_limit_wait_ms: self
                .rate_limit_wait_ms
                .saturating_sub(earlier.rate_limit_wait_ms),
            rate_limit_waits: self
                .rate_limit_waits
                .saturating_sub(earlier.rate_limit_waits),
        }
    }

    /// [`RequestCounts::rate_limit_wait_ms`] as a duration.
    pub fn rate_limit_wait(&self) -> Duration {
        Duration::from_millis(self.rate_limit_wait_ms)
    }
}

/// The counters of one client, shared by every request it sends.
#[derive(Debug, Default)]
pub(crate) struct Stats(Mutex<RequestCounts>);

impl Stats {
    fn update(&self, f: impl FnOnce(&mut RequestCounts)) {
        f(&mut self.0.lock().expect("stats lock"));
    }
    pub(crate) fn request(&self, bucket: &str) {
        self.update(|c| {
            c.requests += 1;
            *c.requests_by_endpoint.entry(bucket.to_owned()).or_default() += 1;
        });
    }
    pub(crate) fn retry(&self) {
        self.update(|c| c.retries += 1);
    }
    pub(crate) fn rate_limited(&self) {
        self.update(|c| c.rate_limited += 1);
    }
    pub(crate) fn waited(&self, d: Duration) {
        if !d.is_zero() {
            let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
            self.update(|c| {
                c.rate_limit_waits += 1;
                c.rate_limit_wait_ms = c.rate_limit_wait_ms.saturating_add(ms);
            });
        }
    }
    /// The counters now.
    pub(crate) fn snapshot(&self) -> RequestCounts {
        self.0.lock().expect("stats lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_every_counter() {
        let stats = Stats::default();
        stats.request("GET /a");
        stats.waited(Duration::from_millis(5));
        let before = stats.snapshot();
        stats.request("GET /a");
        stats.request("GET /b");
        stats.retry();
        stats.rate_limited();
        stats.waited(Duration::ZERO);
        stats.waited(Duration::from_millis(7));
        let want = RequestCounts {
            requests: 2,
            retries: 1,
            rate_limited: 1,
            requests_by_endpoint: [("GET /a".to_owned(), 1), ("GET /b".to_owned(), 1)].into(),
            rate_limit_wait_ms: 7,
            rate_limit_waits: 1,
        };
        assert_eq!(stats.snapshot().since(&before), want);
        assert_eq!(want.rate_limit_wait(), Duration::from_millis(7));
        // Nothing new: every counter zero, no endpoint listed.
        assert_eq!(before.since(&before), RequestCounts::default());
    }
}
