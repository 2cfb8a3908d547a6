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

/// Fixed windows per (method, path, client). As on the server, a window
/// that has expired is renewed lazily by the next call on that route: the
/// new window starts at that call, so its phase depends on everyone's
/// traffic. (Rocket.Chat's `apps/meteor/app/api/server/api.ts` feeds
/// Meteor's `ddp-rate-limiter`, whose `RateLimiter` resets a key's counter
/// when `now - _lastResetTime >= intervalTime` and sets `_lastResetTime =
/// now`.) Every bucket's first window is taken to have opened at the
/// anchor (server start minus the configured phase), standing for traffic
/// before the client arrived.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: FixedWindow,
    anchor_ms: u64,
    /// key → (window start in epoch ms, calls seen in that window).
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

    /// Counts one request; returns the headers and whether it is over the limit.
    pub fn hit(&self, method: &str, path: &str, client: &str, now_ms: u64) -> (RateInfo, bool) {
        let w = self.window_ms();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let entry = buckets
            .entry((method.to_owned(), path.to_owned(), client.to_owned()))
            .or_insert((self.anchor_ms.min(now_ms), 0));
        if now_ms.saturating_sub(entry.0) >= w {
            // Lazy renewal: the expired window is replaced by one starting now.
            *entry = (now_ms, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let used = entry.1;
        let info = RateInfo {
            limit: self.config.calls,
            remaining: self.config.calls.saturating_sub(used),
            reset_ms: entry.0.saturating_add(w),
        };
        (info, used > self.config.calls)
    }

    /// The headers of a forced 429 (fault injection) on a route: nothing
    /// left until its current window ends (or one window from now).
    pub fn exhausted(&self, method: &str, path: &str, client: &str, now_ms: u64) -> RateInfo {
        let w = self.window_ms();
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let start = buckets
            .get(&(method.to_owned(), path.to_owned(), client.to_owned()))
            .map(|e| e.0)
            .filter(|&start| now_ms.saturating_sub(start) < w)
            .unwrap_or(now_ms);
        RateInfo {
            limit: self.config.calls,
            remaining: 0,
            reset_ms: start.saturating_add(w),
        }
    }
}
