//! Mattermost-style rate limiting: a token bucket per client IP.
//!
//! Works on tokio's clock so tests can run under paused time. Token amounts
//! are kept in nano-tokens (integers) so refills are exact.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::RateLimitSpec;

const NANO: u128 = 1_000_000_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens × 10⁹.
    tokens: u128,
    last: Instant,
}

/// The header values of one rate-limited answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RateHeaders {
    /// `X-RateLimit-Limit`.
    pub(super) limit: u32,
    /// `X-RateLimit-Remaining`.
    pub(super) remaining: u64,
    /// `X-RateLimit-Reset`: whole seconds (ceil) until the bucket is full.
    pub(super) reset: u64,
    /// `Retry-After` (429 only): whole seconds (ceil, ≥ 1) until a token.
    pub(super) retry_after: Option<u64>,
}

impl RateHeaders {
    /// Adds the headers to `resp`.
    pub(super) fn apply(&self, resp: &mut Response) {
        let h = resp.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        h.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        h.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
        if let Some(r) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(r));
        }
    }

    /// The 429 answer Mattermost's limiter (throttled) sends.
    pub(super) fn rejection(&self) -> Response {
        let mut resp = (StatusCode::TOO_MANY_REQUESTS, "limit exceeded").into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        self.apply(&mut resp);
        resp
    }
}

/// Whether a request may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Go ahead; put these headers on the answer.
    Allowed(RateHeaders),
    /// Answer 429 with these headers.
    Rejected(RateHeaders),
}

/// Token buckets keyed by client IP.
#[derive(Debug)]
pub(super) struct Limiter {
    per_sec: u128,
    limit_header: u32,
    capacity: u128,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

fn ceil_div(a: u128, b: u128) -> u128 {
    a.div_ceil(b)
}

impl Limiter {
    /// A limiter refilling `per_sec` tokens a second (at least 1) up to
    /// `max_burst + 1`: Mattermost's limiter (the `throttled` library's
    /// GCRA) admits `MaxBurst + 1` calls at once and reports that number,
    /// not the rate, as `X-RateLimit-Limit`.
    pub(super) fn new(spec: RateLimitSpec) -> Self {
        Self {
            per_sec: u128::from(spec.per_sec.max(1)),
            limit_header: spec.max_burst.saturating_add(1),
            capacity: (u128::from(spec.max_burst) + 1) * NANO,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn secs_to_full(&self, tokens: u128) -> u64 {
        // nano-tokens missing / (per_sec nano-tokens per second)
        let missing = self.capacity.saturating_sub(tokens);
        u64::try_from(ceil_div(missing, self.per_sec * NANO)).unwrap_or(u64::MAX)
    }

    /// Takes one token for `ip`, or says when to retry.
    pub(super) fn check(&self, ip: IpAddr) -> Decision {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: self.capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_nanos();
        // elapsed ns × per_sec tokens/s = nano-tokens gained.
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.capacity);
        b.last = now;
        if b.tokens >= NANO {
            b.tokens -= NANO;
            Decision::Allowed(RateHeaders {
                limit: self.limit_header,
                remaining: u64::try_from(b.tokens / NANO).unwrap_or(u64::MAX),
                reset: self.secs_to_full(b.tokens),
                retry_after: None,
            })
        } else {
            let wait = ceil_div(NANO - b.tokens, self.per_sec * NANO).max(1);
            Decision::Rejected(RateHeaders {
                limit: self.limit_header,
                remaining: 0,
                reset: self.secs_to_full(b.tokens),
                retry_after: Some(u64::try_from(wait).unwrap_or(u64::MAX)),
            })
        }
    }

    /// Headers for a 429 forced by a fault (`Retry-After: 1`).
    pub(super) fn fault_headers(spec: Option<RateLimitSpec>) -> RateHeaders {
        let spec = spec.unwrap_or_default();
        let per_sec = u64::from(spec.per_sec.max(1));
        RateHeaders {
            limit: spec.max_burst.saturating_add(1),
            remaining: 0,
            reset: (u64::from(spec.max_burst) + 1).div_ceil(per_sec),
            retry_after: Some(1),
        }
    }
}
