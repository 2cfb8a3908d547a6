//! [`ServerLimit`]: what the server's rate-limit headers said about one
//! gate key, as a read-only value.

use std::time::Duration;

/// What the header gate knows about the server's limit for one endpoint
/// (or, under [`BucketScope::Global`](super::BucketScope::Global), for the
/// whole client), read with
/// [`HttpClient::server_limit`](crate::HttpClient::server_limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimit {
    /// The answers carried `X-RateLimit-*` headers (or a 429): the server
    /// limits these calls. `false`: answers came without them.
    pub limited: bool,
    /// The last `X-RateLimit-Limit` reported.
    pub calls: Option<u64>,
    /// The longest time to a window's end any answer announced: the window
    /// length, or a little less when someone else's call opened the window.
    /// `None` for a token bucket (Mattermost), whose reset is not a window.
    pub window: Option<Duration>,
}
