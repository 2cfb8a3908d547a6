//! Client-side pacing: a `governor` keyed limiter (one bucket per endpoint)
//! and a gate driven by the server's `X-RateLimit-*` / `Retry-After` headers.
//!
//! The quota is GCRA, not a fixed window: `10 per 60 s` is a burst of 10
//! and then one call every 6 s, which a fixed-window server (Rocket.Chat)
//! rejects — the 11th call at t = 6 s lands in the same window. So the quota
//! is only a floor; the header gate decides from what the server says:
//! once a bucket's `remaining` reaches 0, further calls wait for the reset
//! instead of collecting 429s. Until a bucket has been heard from, the gate
//! lets one call through at a time to learn the server's state.

//!
//! One concept per module:
//!
//! * `quota`: [`RateLimit`], a client quota per endpoint bucket;
//! * `limiter`: the [`Limiter`] trait, [`Unlimited`], [`GovernorLimiter`]
//!   on [`TokioClock`];
//! * `headers`: [`RateLimitDialect`] (what a platform's headers mean),
//!   [`parse_retry_after`], [`RateLimitInfo`];
//! * `gate`: the header gate's state machine (internal), read through
//!   [`ServerLimit`] (`server_limit`);
//! * `mode`: [`RateLimitMode`];
//! * `shared`: [`SharedLimiter`], one server's state for several clients.
//!
//! What the limits mean for a whole sync is [`crate::plan`]'s.

mod gate;
mod headers;
mod limiter;
mod mode;
mod quota;
mod server_limit;
mod shared;

pub use gate::DEFAULT_RESET_MARGIN;
pub(crate) use gate::HeaderGate;
pub(crate) use headers::Sent;
pub use headers::{
    BucketScope, MAX_HEADER_WAIT, RateLimitDialect, RateLimitInfo, ResetHeader, parse_retry_after,
};
pub use limiter::{GovernorLimiter, Limiter, TokioClock, Unlimited};
pub use mode::RateLimitMode;
pub use quota::RateLimit;
pub use server_limit::ServerLimit;
pub(crate) use shared::Pacer;
pub use shared::SharedLimiter;
