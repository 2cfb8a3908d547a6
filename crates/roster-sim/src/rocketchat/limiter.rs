//! Rocket.Chat's fixed-window rate limiter.

use std::collections::HashMap;
use std::sync::Mutex;

use super::FixedWindow;

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: epoch milliseconds of the window end.
    pub reset_ms: u64,
}

/// (method, path, client).
type BucketKey = (String, String, String);

/// Fixed windows per (method, path, client), aligned to one epoch-ms anchor
/// (server start minus the configured phase), never to a client's first call.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: FixedWindow,
    anchor_ms: u64,
    /// key → (window index, calls seen in that window).
    buckets: Mutex<HashMap<BucketKey, (u64, u32)>>,
}

impl Limiter {
    pub fn new(config: FixedWindow, anchor_ms: u64) -> Self {
        Self {
            config,
            anchor_ms,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn window_ms(&self) -> u64 {
        u64::try_from(self.config.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// The index of the window `now_ms` falls into and that window's end.
    fn window_at(&self, now_ms: u64) -> (u64, u64) {
        let w = self.window_ms();
        let idx = now_ms.saturating_sub(self.anchor_ms) / w;
        let reset = self
            .anchor_ms
            .saturating_add(idx.saturating_add(1).saturating_mul(w));
        (idx, reset)
    }

    /// Counts one request; returns the headers and whether it is over the limit.
    pub fn hit(&self, method: &str, path: &str, client: &str, now_ms: u64) -> (RateInfo, bool) {
        let (idx, reset_ms) = self.window_at(now_ms);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let entry = buckets
            .entry((method.to_owned(), path.to_owned(), client.to_owned()))
            .or_insert((idx, 0));
        if entry.0 != idx {
            *entry = (idx, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let used = entry.1;
        let info = RateInfo {
            limit: self.config.calls,
            remaining: self.config.calls.saturating_sub(used),
            reset_ms,
        };
        (info, used > self.config.calls)
    }

    /// The headers of a forced 429 (fault injection): nothing left until the
    /// current window ends.
    pub fn exhausted(&self, now_ms: u64) -> RateInfo {
        RateInfo {
            limit: self.config.calls,
            remaining: 0,
            reset_ms: self.window_at(now_ms).1,
        }
    }
}
