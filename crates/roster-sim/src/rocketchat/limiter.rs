//! Rocket.Chat's fixed-window rate limiter.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::FixedWindow;

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    /// `X-RateLimit-Limit`.
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// When the window ends, on tokio's clock. `X-RateLimit-Reset` sends it
    /// as epoch milliseconds on the system clock, computed as the answer
    /// goes out ([`crate::common::system_millis_at`]).
    pub reset_at: Instant,
}

/// (method, path, client).
type BucketKey = (String, String, String);

/// Fixed windows per (method, path, client). As on the server, a window
/// that has expired is renewed lazily by the next call on that route: the
/// new window starts at that call, so its phase depends on everyone's
/// traffic. Windows are kept on tokio's clock. (Rocket.Chat's `apps/meteor/app/api/server/api.ts` feeds
/// Meteor's `ddp-rate-limiter`, whose `RateLimiter` resets a key's counter
/// when `now - _lastResetTime >= intervalTime` and sets `_lastResetTime =
/// now`.) Every bucket's first window is taken to have opened at the
/// anchor (server start minus the configured phase), standing for traffic
/// before the client arrived.
#[derive(Debug)]
pub(crate) struct Limiter {
    config: FixedWindow,
    anchor: Instant,
    /// key → (window start, calls seen in that window).
    buckets: Mutex<HashMap<BucketKey, (Instant, u32)>>,
}

impl Limiter {
    pub fn new(config: FixedWindow, anchor: Instant) -> Self {
        Self {
            config,
            anchor,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn window(&self) -> Duration {
        self.config.window.max(Duration::from_millis(1))
    }

    /// Counts one request at `now`; returns the headers and whether it is
    /// over the limit.
    pub fn hit(&self, method: &str, path: &str, client: &str, now: Instant) -> (RateInfo, bool) {
        let w = self.window();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let entry = buckets
            .entry((method.to_owned(), path.to_owned(), client.to_owned()))
            .or_insert((self.anchor.min(now), 0));
        if now.saturating_duration_since(entry.0) >= w {
            // Lazy renewal: the expired window is replaced by one starting now.
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let used = entry.1;
        let info = RateInfo {
            limit: self.config.calls,
            remaining: self.config.calls.saturating_sub(used),
            reset_at: entry.0 + w,
        };
        (info, used > self.config.calls)
    }

    /// The headers of a forced 429 (fault injection) on a route at `now`:
    /// nothing left until its current window ends (or one window from now).
    pub fn exhausted(&self, method: &str, path: &str, client: &str, now: Instant) -> RateInfo {
        let w = self.window();
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let start = buckets
            .get(&(method.to_owned(), path.to_owned(), client.to_owned()))
            .map(|e| e.0)
            .filter(|&start| now.saturating_duration_since(start) < w)
            .unwrap_or(now);
        RateInfo {
            limit: self.config.calls,
            remaining: 0,
            reset_at: start + w,
        }
    }
}
