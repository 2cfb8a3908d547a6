//! Sharing one server's rate-limit state: [`SharedLimiter`] (public, for
//! several clients of one server) and the `Pacer` one client paces with.

use std::sync::Arc;

use super::gate::DEFAULT_RESET_MARGIN;
use super::gate::HeaderGate;
use super::headers::RateLimitDialect;
use super::limiter::{GovernorLimiter, Limiter};
use super::quota::RateLimit;

/// count every call against the same windows, so together they stay
/// within the server's limit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SharedLimiter {
    limiter: Arc<dyn Limiter>,
    gate: Arc<HeaderGate>,
}

impl SharedLimiter {
    /// A limiter whose client quota (used by clients in `Fixed` or `Auto`
    /// mode) is `quota` per endpoint bucket, e.g. Rocket.Chat's stock
    /// 10 per 60 s.
    pub fn new(quota: RateLimit) -> Self {
        Self {
            limiter: Arc::new(GovernorLimiter::new(quota)),
            gate: Arc::new(HeaderGate::new(DEFAULT_RESET_MARGIN)),
        }
    }
}

/// A shared, cloneable handle to the limiter pieces one client uses.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    /// The client-side quota (or [`Unlimited`]).
    pub(crate) limiter: Arc<dyn Limiter>,
    /// The header gate.
    pub(crate) gate: Arc<HeaderGate>,
    /// How to read the headers.
    pub(crate) dialect: RateLimitDialect,
}

impl Pacer {
    /// The pieces of `shared` under `dialect`.
    pub(crate) fn shared(shared: &SharedLimiter, dialect: RateLimitDialect) -> Self {
        Self {
            limiter: shared.limiter.clone(),
            gate: shared.gate.clone(),
            dialect,
        }
    }
}
